//! Live keys per Kubernetes resource prefix.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::walk::Latest;

/// The `key` field (1) of an `mvccpb.KeyValue`, read without decoding the rest.
pub(crate) fn key_of_key_value(mut b: &[u8]) -> Option<&[u8]> {
    while !b.is_empty() {
        let (tag, n) = varint(b)?;
        b = &b[n..];
        match (tag >> 3, tag & 7) {
            (1, 2) => {
                let (len, n) = varint(b)?;
                let len = usize::try_from(len).ok()?;
                return b.get(n..n.checked_add(len)?);
            }
            (_, 0) => b = &b[varint(b)?.1..],
            (_, 1) => b = b.get(8..)?,
            (_, 2) => {
                let (len, n) = varint(b)?;
                b = b.get(n.checked_add(usize::try_from(len).ok()?)?..)?;
            }
            (_, 5) => b = b.get(4..)?,
            _ => return None,
        }
    }
    None
}

fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Live keys per prefix at the snapshot's revision ([`prefix_counts`](super::prefix_counts)).
///
/// A key's prefix follows the API server's storage layout:
///
/// | key | prefix | group | resource |
/// |---|---|---|---|
/// | `/registry/pods/default/web-0` | `/registry/pods/` | — | `pods` |
/// | `/registry/apiextensions.k8s.io/customresourcedefinitions/x.example.com` | `/registry/apiextensions.k8s.io/customresourcedefinitions/` | `apiextensions.k8s.io` | `customresourcedefinitions` |
/// | `/registry/example.com/widgets/default/w1` | `/registry/example.com/widgets/` | `example.com` | `widgets` |
/// | `/registry/services/specs/default/web` | `/registry/services/specs/` | — | `services` |
/// | `/registry/services/endpoints/default/web` | `/registry/services/endpoints/` | — | `endpoints` |
/// | `/other/x` | `/other/` | — | — |
/// | `plain-key` | (empty) | — | — |
///
/// The segment after `/registry/` is an API group when it contains a dot
/// (group names are DNS subdomains; resource names have no dots), and the
/// next segment is then the resource. Services and Endpoints share
/// `/registry/services/` and are told apart by the next segment. The
/// resource is the storage segment, which is the API resource name except
/// where Kubernetes kept an old one (nodes are stored as `minions`). Keys
/// outside that layout are counted under their first path segment (`/x/`),
/// or under the empty prefix when they have none.
///
/// ```
/// use k8sops_backup::snapshot::{PrefixCount, PrefixCounts};
/// let counts = PrefixCounts {
///     revision: 42,
///     revisions: 50,
///     live_keys: 3,
///     prefixes: vec![PrefixCount { prefix: "/registry/pods/".into(), group: None, resource: Some("pods".into()), keys: 3 }],
/// };
/// assert_eq!(counts.get("/registry/pods/"), 3);
/// assert_eq!(counts.get("/registry/secrets/"), 0);
/// assert!(counts.to_string().contains("/registry/pods/"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrefixCounts {
    /// The snapshot's revision (as [`SnapshotStatus::revision`](super::SnapshotStatus::revision)).
    pub revision: i64,
    /// Entries in the `key` bucket: every stored revision, tombstones included.
    pub revisions: u64,
    /// Keys that exist at the snapshot's revision (the sum of all prefixes).
    pub live_keys: u64,
    /// Prefixes with at least one live key, sorted by prefix.
    pub prefixes: Vec<PrefixCount>,
}

impl PrefixCounts {
    /// Live keys under `prefix` (0 when none).
    ///
    /// ```
    /// # use k8sops_backup::snapshot::PrefixCounts;
    /// let counts = PrefixCounts { revision: 1, revisions: 0, live_keys: 0, prefixes: vec![] };
    /// assert_eq!(counts.get("/registry/pods/"), 0);
    /// ```
    pub fn get(&self, prefix: &str) -> u64 {
        self.prefixes.iter().find(|p| p.prefix == prefix).map_or(0, |p| p.keys)
    }
}

/// A table: PREFIX, GROUP, RESOURCE, KEYS, then the total.
impl std::fmt::Display for PrefixCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut t = k8sops_core::Table::new(["PREFIX", "GROUP", "RESOURCE", "KEYS"]);
        for p in &self.prefixes {
            t.row([
                p.prefix.clone(),
                p.group.clone().unwrap_or_default(),
                p.resource.clone().unwrap_or_default(),
                p.keys.to_string(),
            ]);
        }
        t.row(["(total)".to_string(), String::new(), String::new(), self.live_keys.to_string()]);
        write!(f, "{t}")
    }
}

/// Live keys under one prefix.
///
/// ```
/// use k8sops_backup::snapshot::PrefixCount;
/// let p = PrefixCount { prefix: "/registry/pods/".into(), group: None, resource: Some("pods".into()), keys: 12 };
/// assert_eq!(p.keys, 12);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixCount {
    /// The key prefix, with its final `/` (keys that are not UTF-8 are shown lossily).
    pub prefix: String,
    /// The API group, for `/registry/<group>/<resource>/` prefixes.
    pub group: Option<String>,
    /// The resource, for `/registry/` prefixes.
    pub resource: Option<String>,
    /// Keys under it at the snapshot's revision.
    pub keys: u64,
}

/// Where a key is counted: its prefix length and the group and resource segments.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Classified<'a> {
    prefix: &'a [u8],
    group: Option<&'a [u8]>,
    resource: Option<&'a [u8]>,
}

const REGISTRY: &[u8] = b"/registry/";

/// The segment of `b` before the next `/`, when there is one.
fn segment(b: &[u8]) -> Option<&[u8]> {
    let end = b.iter().position(|&c| c == b'/')?;
    (end > 0).then(|| &b[..end])
}

fn classify(key: &[u8]) -> Classified<'_> {
    if let Some(rest) = key.strip_prefix(REGISTRY) {
        if let Some(first) = segment(rest) {
            let after = &rest[first.len() + 1..];
            let second = segment(after);
            if first.contains(&b'.') {
                if let Some(second) = second {
                    let len = REGISTRY.len() + first.len() + 1 + second.len() + 1;
                    return Classified { prefix: &key[..len], group: Some(first), resource: Some(second) };
                }
            } else if first == b"services" && matches!(second, Some(b"specs" | b"endpoints")) {
                let second = second.unwrap_or_default();
                let len = REGISTRY.len() + first.len() + 1 + second.len() + 1;
                let resource: &[u8] = if second == b"specs" { b"services" } else { b"endpoints" };
                return Classified { prefix: &key[..len], group: None, resource: Some(resource) };
            } else {
                let len = REGISTRY.len() + first.len() + 1;
                return Classified { prefix: &key[..len], group: None, resource: Some(first) };
            }
        }
    }
    let prefix = match key.strip_prefix(b"/").and_then(segment) {
        Some(first) => &key[..first.len() + 2],
        None => &key[..0],
    };
    Classified { prefix, group: None, resource: None }
}

/// Counts the live keys of a pass per prefix.
pub(super) fn count(revision: i64, revisions: u64, live: HashMap<Vec<u8>, Latest>) -> PrefixCounts {
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut by_prefix: BTreeMap<Vec<u8>, (u64, Option<String>, Option<String>)> = BTreeMap::new();
    let mut live_keys = 0;
    for (key, latest) in &live {
        if latest.tombstone {
            continue;
        }
        live_keys += 1;
        let c = classify(key);
        let entry =
            by_prefix.entry(c.prefix.to_vec()).or_insert_with(|| (0, c.group.map(lossy), c.resource.map(lossy)));
        entry.0 += 1;
    }
    let prefixes = by_prefix
        .into_iter()
        .map(|(prefix, (keys, group, resource))| PrefixCount { prefix: lossy(&prefix), group, resource, keys })
        .collect();
    PrefixCounts { revision, revisions, live_keys, prefixes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(key: &str) -> (String, Option<String>, Option<String>) {
        let c = classify(key.as_bytes());
        let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        (s(c.prefix), c.group.map(s), c.resource.map(s))
    }

    #[test]
    fn keys_are_counted_under_their_storage_prefix() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(prefix("/registry/pods/default/web-0"), ("/registry/pods/".into(), None, some("pods")));
        assert_eq!(prefix("/registry/minions/node-1"), ("/registry/minions/".into(), None, some("minions")));
        assert_eq!(
            prefix("/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com"),
            (
                "/registry/apiextensions.k8s.io/customresourcedefinitions/".into(),
                some("apiextensions.k8s.io"),
                some("customresourcedefinitions")
            )
        );
        assert_eq!(
            prefix("/registry/services/specs/default/web"),
            ("/registry/services/specs/".into(), None, some("services"))
        );
        assert_eq!(
            prefix("/registry/services/endpoints/default/web"),
            ("/registry/services/endpoints/".into(), None, some("endpoints"))
        );
        assert_eq!(prefix("/registry/health"), ("/registry/".into(), None, None));
        assert_eq!(prefix("/registry/example.com/oddkey"), ("/registry/".into(), None, None));
        assert_eq!(prefix("/other/a/b"), ("/other/".into(), None, None));
        assert_eq!(prefix("plain"), (String::new(), None, None));
        assert_eq!(prefix("/plain"), (String::new(), None, None));
        assert_eq!(prefix("//x"), (String::new(), None, None));
    }

    #[test]
    fn the_key_field_is_read_from_a_key_value_protobuf() {
        // KeyValue{key: "/a", create_revision: 2, mod_revision: 2, version: 1, value: "v"}
        let kv = [0x0a, 0x02, b'/', b'a', 0x10, 0x02, 0x18, 0x02, 0x20, 0x01, 0x2a, 0x01, b'v'];
        assert_eq!(key_of_key_value(&kv), Some(&b"/a"[..]));
        // Field 1 after others, and a truncated length.
        assert_eq!(key_of_key_value(&[0x10, 0x05, 0x0a, 0x01, b'k']), Some(&b"k"[..]));
        assert_eq!(key_of_key_value(&[0x0a, 0x05, b'k']), None);
        assert_eq!(key_of_key_value(&[0xff; 11]), None);
        assert_eq!(key_of_key_value(&[]), None);
    }
}
