//! The manifest as the export builds it: the files of each resource type
//! kept without repeating the type on every entry (a 50,000-object export
//! holds them all until the end), and encoded in one pass into a buffer of
//! the exact size, in the JSON a [`Manifest`] reads back.

use std::collections::BTreeMap;

use serde::{ser::SerializeSeq, Serialize, Serializer};

use crate::layout::{FailedResource, Manifest, SourceCluster};

/// One written file; its type is its [`TypeFiles`]'.
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) path: String,
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
    pub(crate) size: u64,
    pub(crate) sha256: [u8; 32],
}

/// A SHA-256 written as lower-case hex.
struct Hex<'a>(&'a [u8; 32]);

impl std::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl Serialize for Hex<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The files written for one resource type.
#[derive(Debug, Default)]
pub(crate) struct TypeFiles {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) resource: String,
    pub(crate) files: Vec<Written>,
}

/// A [`ManifestEntry`](crate::layout::ManifestEntry), borrowed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryOut<'a> {
    path: &'a str,
    api_version: &'a str,
    kind: &'a str,
    resource: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    name: &'a str,
    size: u64,
    sha256: Hex<'a>,
}

/// Every file of every type, sorted by path.
struct Files<'a> {
    types: &'a [&'a TypeFiles],
    order: Vec<(u32, u32)>,
}

impl Serialize for Files<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.order.len()))?;
        for &(t, i) in &self.order {
            let ty = self.types[t as usize];
            let f = &ty.files[i as usize];
            seq.serialize_element(&EntryOut {
                path: &f.path,
                api_version: &ty.api_version,
                kind: &ty.kind,
                resource: &ty.resource,
                namespace: f.namespace.as_deref(),
                name: &f.name,
                size: f.size,
                sha256: Hex(&f.sha256),
            })?;
        }
        seq.end()
    }
}

/// A [`Manifest`], its files borrowed from the types that wrote them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ManifestOut<'a> {
    format: &'a str,
    format_version: u32,
    created_at: &'a str,
    finished_at: &'a str,
    cluster: &'a SourceCluster,
    with_status: bool,
    includes_secrets: bool,
    includes_managed: bool,
    complete: bool,
    failed_resources: &'a [FailedResource],
    counts: &'a BTreeMap<String, usize>,
    total: usize,
    files: Files<'a>,
}

/// Counts bytes instead of keeping them.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The manifest `head` (its `files` ignored) with the files of `types`,
/// sorted by path, as compact JSON.
pub(crate) fn encode(head: &Manifest, types: &[&TypeFiles]) -> serde_json::Result<Vec<u8>> {
    let mut order: Vec<(u32, u32)> =
        types.iter().enumerate().flat_map(|(t, ty)| (0..ty.files.len()).map(move |i| (t as u32, i as u32))).collect();
    let path = |&(t, i): &(u32, u32)| types[t as usize].files[i as usize].path.as_str();
    order.sort_unstable_by(|a, b| path(a).cmp(path(b)));
    let out = ManifestOut {
        format: &head.format,
        format_version: head.format_version,
        created_at: &head.created_at,
        finished_at: &head.finished_at,
        cluster: &head.cluster,
        with_status: head.with_status,
        includes_secrets: head.includes_secrets,
        includes_managed: head.includes_managed,
        complete: head.complete,
        failed_resources: &head.failed_resources,
        counts: &head.counts,
        total: order.len(),
        files: Files { types, order },
    };
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, &out)?;
    let mut buf = Vec::with_capacity(counter.0);
    serde_json::to_writer(&mut buf, &out)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::ManifestEntry;

    #[test]
    fn the_encoded_manifest_reads_back_as_a_manifest_with_its_files_sorted() {
        let written = |path: &str, ns: Option<&str>, name: &str| Written {
            path: path.into(),
            namespace: ns.map(str::to_string),
            name: name.into(),
            size: 3,
            sha256: [0xab; 32],
        };
        let cms = TypeFiles {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            resource: "configmaps".into(),
            files: vec![
                written("shop/core/ConfigMap/b.yaml", Some("shop"), "b"),
                written("db/core/ConfigMap/a.yaml", Some("db"), "a"),
            ],
        };
        let roles = TypeFiles {
            api_version: "rbac.authorization.k8s.io/v1".into(),
            kind: "ClusterRole".into(),
            resource: "clusterroles".into(),
            files: vec![written("_cluster/rbac.authorization.k8s.io/ClusterRole/view.yaml", None, "view")],
        };
        let mut head = Manifest::new(SourceCluster { server: "https://k8s".into(), version: "v1.30.1".into() });
        head.counts = [("configmaps".to_string(), 2), ("clusterroles.rbac.authorization.k8s.io".to_string(), 1)].into();
        let bytes = encode(&head, &[&cms, &roles]).unwrap();
        let back = Manifest::parse(&bytes, "test").unwrap();
        let paths: Vec<&str> = back.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "_cluster/rbac.authorization.k8s.io/ClusterRole/view.yaml",
                "db/core/ConfigMap/a.yaml",
                "shop/core/ConfigMap/b.yaml"
            ]
        );
        assert_eq!(
            back.files[1],
            ManifestEntry {
                path: "db/core/ConfigMap/a.yaml".into(),
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                resource: "configmaps".into(),
                namespace: Some("db".into()),
                name: "a".into(),
                size: 3,
                sha256: "ab".repeat(32),
            }
        );
        let expected = Manifest { files: back.files.clone(), total: 3, ..head };
        assert_eq!(back, expected);
        assert_eq!(bytes.len(), bytes.capacity(), "encoded into a buffer of the exact size");
    }
}
