//! Helm 3 releases stored in Secrets (Helm's default storage driver):
//! `sh.helm.release.v1.NAME.vREVISION`, type `helm.sh/release.v1`, labels
//! `name`, `owner=helm`, `status`, `version`. The Secret's `data.release`
//! is base64 (the Secret's own encoding) of base64 of gzip of the release
//! as JSON, whose `manifest` holds the rendered objects as multi-document
//! YAML (and `hooks[].manifest` the hooks').
//!
//! Only the latest deployed revision of a release counts: older revisions
//! stay in history after an upgrade fixed them. A release with no deployed
//! revision (a failed first install) is read at its highest revision.

use std::{collections::HashMap, io::Read};

use base64::Engine;
use serde::Deserialize;

use super::{manifests::documents, Finding, Note, ObjectRef, RemovedApiParams, Source};
use crate::rules::MinorVersion;

/// The Secret type Helm 3 stores releases as.
pub const RELEASE_SECRET_TYPE: &str = "helm.sh/release.v1";

/// The largest decompressed release accepted (Helm's own limit on a
/// Secret is 1 MiB compressed; this bounds a hostile gzip stream).
const MAX_RELEASE_BYTES: u64 = 64 << 20;

/// A decoded Helm 3 release: the parts a scan reads.
///
/// ```
/// let r = k8sops_upgrade::removed_apis::helm::HelmRelease::default();
/// assert!(r.manifest.is_empty() && r.hooks.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct HelmRelease {
    /// Release name.
    #[serde(default)]
    pub name: String,
    /// Release namespace.
    #[serde(default)]
    pub namespace: String,
    /// Revision.
    #[serde(default)]
    pub version: u64,
    /// `info.status`: `deployed`, `superseded`, `failed`, ...
    #[serde(default)]
    pub info: ReleaseInfo,
    /// `chart.metadata`: chart name and version.
    #[serde(default)]
    pub chart: Chart,
    /// The rendered manifest (multi-document YAML).
    #[serde(default)]
    pub manifest: String,
    /// The rendered hooks.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub hooks: Vec<Hook>,
}

/// `info` of a release.
///
/// ```
/// assert!(k8sops_upgrade::removed_apis::helm::ReleaseInfo::default().status.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ReleaseInfo {
    /// `deployed`, `superseded`, `failed`, `uninstalling`, `pending-install`, ...
    #[serde(default)]
    pub status: String,
}

/// `chart` of a release (only its metadata).
///
/// ```
/// assert!(k8sops_upgrade::removed_apis::helm::Chart::default().metadata.name.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Chart {
    /// `Chart.yaml`.
    #[serde(default)]
    pub metadata: ChartMetadata,
}

/// The chart's name and version.
///
/// ```
/// let m = k8sops_upgrade::removed_apis::helm::ChartMetadata { name: "web".into(), version: "1.2.0".into() };
/// assert_eq!(m.version, "1.2.0");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ChartMetadata {
    /// Chart name.
    #[serde(default)]
    pub name: String,
    /// Chart version.
    #[serde(default)]
    pub version: String,
}

/// A rendered hook.
///
/// ```
/// let h = k8sops_upgrade::removed_apis::helm::Hook { name: "migrate".into(), path: "web/templates/job.yaml".into(), manifest: String::new() };
/// assert_eq!(h.name, "migrate");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Hook {
    /// Hook name.
    #[serde(default)]
    pub name: String,
    /// Template path.
    #[serde(default)]
    pub path: String,
    /// The rendered hook (YAML).
    #[serde(default)]
    pub manifest: String,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Why a release could not be decoded.
///
/// ```
/// let err = k8sops_upgrade::removed_apis::helm::decode_release("not base64!").unwrap_err();
/// assert!(err.to_string().starts_with("not base64"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A layer was not valid base64.
    #[error("not base64: {0}")]
    Base64(#[source] base64::DecodeError),
    /// The gzip stream was corrupt.
    #[error("not a valid gzip stream: {0}")]
    Gzip(#[source] std::io::Error),
    /// The release was larger than the limit once decompressed.
    #[error("larger than {} MiB once decompressed", MAX_RELEASE_BYTES >> 20)]
    TooLarge,
    /// The release was not the JSON Helm writes.
    #[error("not a Helm release: {0}")]
    Json(#[source] serde_json::Error),
}

/// Decodes Helm's encoding of a release (`base64(gzip(json))`), as stored
/// in the Secret *after* the Secret's own base64 is removed. Like Helm, a
/// payload without the gzip magic bytes is read as plain JSON.
///
/// ```
/// use base64::Engine;
/// let json = r#"{"name":"web","namespace":"shop","version":2,"info":{"status":"deployed"},"manifest":"---\nkind: Service\n"}"#;
/// let helm_encoded = base64::engine::general_purpose::STANDARD.encode(json);
/// let release = k8sops_upgrade::removed_apis::helm::decode_release(&helm_encoded)?;
/// assert_eq!((release.name.as_str(), release.version, release.info.status.as_str()), ("web", 2, "deployed"));
/// # Ok::<(), k8sops_upgrade::removed_apis::helm::DecodeError>(())
/// ```
pub fn decode_release(helm_encoded: &str) -> Result<HelmRelease, DecodeError> {
    let engine = base64::engine::general_purpose::STANDARD;
    let bytes = engine.decode(helm_encoded.trim()).map_err(DecodeError::Base64)?;
    let json = if bytes.starts_with(&[0x1f, 0x8b, 0x08]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .take(MAX_RELEASE_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(DecodeError::Gzip)?;
        if out.len() as u64 > MAX_RELEASE_BYTES {
            return Err(DecodeError::TooLarge);
        }
        out
    } else {
        bytes
    };
    serde_json::from_slice(&json).map_err(DecodeError::Json)
}

/// Decodes a release Secret's `data.release` exactly as the API server
/// returns it (base64 over Helm's own encoding).
///
/// ```
/// use base64::Engine;
/// let b64 = base64::engine::general_purpose::STANDARD;
/// let secret_data = b64.encode(b64.encode(r#"{"name":"web","version":1}"#));
/// assert_eq!(k8sops_upgrade::removed_apis::helm::decode_secret_data(&secret_data)?.name, "web");
/// # Ok::<(), k8sops_upgrade::removed_apis::helm::DecodeError>(())
/// ```
pub fn decode_secret_data(secret_data: &str) -> Result<HelmRelease, DecodeError> {
    let inner = base64::engine::general_purpose::STANDARD.decode(secret_data.trim()).map_err(DecodeError::Base64)?;
    decode_release(&String::from_utf8_lossy(&inner))
}

/// Helm 3's encoding of a release (`encodeRelease`): the JSON, gzipped at
/// best compression, base64-encoded. The inverse of [`decode_release`],
/// for fixtures and demo clusters.
///
/// ```
/// use k8sops_upgrade::removed_apis::helm::{decode_release, encode_release};
/// let encoded = encode_release(&serde_json::json!({"name": "web", "version": 4}));
/// assert!(encoded.starts_with("H4sI")); // gzip's magic bytes, in base64
/// assert_eq!(decode_release(&encoded)?.version, 4);
/// # Ok::<(), k8sops_upgrade::removed_apis::helm::DecodeError>(())
/// ```
pub fn encode_release(release: &serde_json::Value) -> String {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(release.to_string().as_bytes());
    let compressed = gz.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(compressed)
}

/// The Secret Helm 3 stores a release in (`newSecretsObject`), as JSON for
/// the API server: named `sh.helm.release.v1.NAME.vREVISION`, type
/// [`RELEASE_SECRET_TYPE`], labelled `name`, `owner=helm`, `status` and
/// `version`, with [`encode_release`]'s text as `data.release` (base64
/// once more, as Secret data is). `release` needs `name`, `namespace`,
/// `version` and `info.status`.
///
/// ```
/// use serde_json::json;
/// let secret = k8sops_upgrade::removed_apis::helm::release_secret(&json!({
///     "name": "web", "namespace": "shop", "version": 2, "info": {"status": "deployed"}, "manifest": ""}));
/// assert_eq!(secret["metadata"]["name"], "sh.helm.release.v1.web.v2");
/// let release = k8sops_upgrade::removed_apis::helm::decode_secret_data(secret["data"]["release"].as_str().unwrap())?;
/// assert_eq!(release.info.status, "deployed");
/// # Ok::<(), k8sops_upgrade::removed_apis::helm::DecodeError>(())
/// ```
pub fn release_secret(release: &serde_json::Value) -> serde_json::Value {
    let name = release["name"].as_str().unwrap_or_default();
    let version = release["version"].as_u64().unwrap_or(1);
    let status = release["info"]["status"].as_str().unwrap_or("deployed");
    let data = base64::engine::general_purpose::STANDARD.encode(encode_release(release));
    serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "type": RELEASE_SECRET_TYPE,
        "metadata": {
            "name": format!("sh.helm.release.v1.{name}.v{version}"),
            "namespace": release["namespace"],
            "labels": {"name": name, "owner": "helm", "status": status, "version": version.to_string()},
        },
        "data": {"release": data},
    })
}

/// Checks a decoded release's manifest and hooks. Objects without a
/// namespace are placed in the release's namespace unless the rule says the
/// kind is cluster-scoped.
///
/// ```
/// use k8sops_upgrade::removed_apis::{helm::{check_release, HelmRelease, ReleaseInfo}, RemovedApiParams};
/// use k8sops_upgrade::rules::MinorVersion;
/// let release = HelmRelease {
///     name: "web".into(), namespace: "shop".into(), version: 3,
///     info: ReleaseInfo { status: "deployed".into() },
///     manifest: "---\n# Source: web/templates/pdb.yaml\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\n".into(),
///     ..Default::default()
/// };
/// let findings = check_release(&release, &RemovedApiParams::default(), MinorVersion::new(1, 25));
/// assert_eq!(findings[0].object(), "PodDisruptionBudget shop/web");
/// assert_eq!(findings[0].location, "release shop/web revision 3 (deployed), web/templates/pdb.yaml");
/// ```
pub fn check_release(release: &HelmRelease, params: &RemovedApiParams, target: MinorVersion) -> Vec<Finding> {
    let mut out = Vec::new();
    let what = format!(
        "release {}/{} revision {} ({})",
        release.namespace, release.name, release.version, release.info.status
    );
    let mut check = |text: &str, hook: Option<&Hook>| {
        for doc in documents(text) {
            let Ok(objects) = doc.objects() else { continue };
            for o in objects {
                let Some((rule, status)) = params.flagged(&o.api_version, &o.kind, target) else { continue };
                let namespace = match (&o.namespace, rule.namespaced) {
                    (Some(ns), _) => ns.clone(),
                    (None, true) => release.namespace.clone(),
                    (None, false) => String::new(),
                };
                let template = match (doc.source.as_deref(), hook) {
                    (Some(src), None) => format!(", {src}"),
                    (_, Some(h)) => format!(", hook {} ({})", h.name, h.path),
                    (None, None) => String::new(),
                };
                let object = ObjectRef { kind: o.kind.clone(), namespace, name: o.name.clone() };
                out.push(Finding::from_rule(
                    &params.rules,
                    rule,
                    status,
                    target,
                    object,
                    Source::Helm,
                    format!("{what}{template}"),
                ));
            }
        }
    };
    check(&release.manifest, None);
    for h in &release.hooks {
        check(&h.manifest, Some(h));
    }
    out
}

/// The labels and payload of a release Secret, as listed.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ReleaseSecret {
    #[serde(default)]
    metadata: SecretMeta,
    #[serde(default)]
    data: SecretData,
}

#[derive(Debug, Default, Deserialize)]
struct SecretMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    labels: HashMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct SecretData {
    #[serde(default)]
    release: Option<String>,
}

/// The latest deployed revision of each release seen so far, kept as its
/// still-encoded payload: one per release, not one per revision.
#[derive(Debug, Default)]
pub(crate) struct LatestRevisions {
    releases: HashMap<(String, String), Candidate>,
}

#[derive(Debug)]
struct Candidate {
    deployed: bool,
    version: u64,
    secret: String,
    data: Option<String>,
}

impl LatestRevisions {
    /// Offers one release Secret.
    pub(crate) fn offer(&mut self, s: ReleaseSecret) {
        let labels = &s.metadata.labels;
        let name = labels.get("name").cloned().unwrap_or_else(|| release_name_of(&s.metadata.name));
        let deployed = labels.get("status").is_some_and(|st| st == "deployed");
        let version = labels.get("version").and_then(|v| v.parse().ok()).unwrap_or(0);
        let candidate = Candidate { deployed, version, secret: s.metadata.name, data: s.data.release };
        let key = (s.metadata.namespace, name);
        match self.releases.get(&key) {
            Some(cur) if (cur.deployed, cur.version) >= (candidate.deployed, candidate.version) => {}
            _ => {
                self.releases.insert(key, candidate);
            }
        }
    }

    /// How many releases were seen.
    pub(crate) fn len(&self) -> usize {
        self.releases.len()
    }

    /// Decodes and checks each release's chosen revision.
    pub(crate) fn check(self, params: &RemovedApiParams, target: MinorVersion) -> (Vec<Finding>, Vec<Note>) {
        let mut findings = Vec::new();
        let mut notes = Vec::new();
        for ((namespace, _), c) in self.releases {
            let what = format!("Helm release secret {namespace}/{}", c.secret);
            let Some(data) = c.data else {
                notes.push(Note { what, reason: "it has no data.release".into() });
                continue;
            };
            match decode_secret_data(&data) {
                Ok(mut release) => {
                    if release.namespace.is_empty() {
                        release.namespace = namespace;
                    }
                    findings.extend(check_release(&release, params, target));
                }
                Err(e) => notes.push(Note { what, reason: format!("cannot decode the release: {e}") }),
            }
        }
        (findings, notes)
    }
}

/// `web` from `sh.helm.release.v1.web.v3`.
fn release_name_of(secret: &str) -> String {
    let rest = secret.strip_prefix("sh.helm.release.v1.").unwrap_or(secret);
    rest.rsplit_once(".v").map_or(rest, |(name, _)| name).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_name_comes_from_the_secret_name_when_the_label_is_missing() {
        assert_eq!(release_name_of("sh.helm.release.v1.my.app.v12"), "my.app");
    }

    #[test]
    fn a_gzip_bomb_is_refused() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..65 {
            gz.write_all(&zeros).unwrap();
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        assert!(matches!(decode_release(&encoded), Err(DecodeError::TooLarge)));
    }
}
