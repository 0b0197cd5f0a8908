//! The on-disk format of a resource export, shared by [`export`](crate::export)
//! and [`restore`](crate::restore).
//!
//! A backup is a tree of YAML files, one object per file, and a manifest:
//!
//! ```text
//! <prefix>/<namespace>/<group>/<Kind>/<name>.yaml
//! <prefix>/_cluster/<group>/<Kind>/<name>.yaml      cluster-scoped objects
//! <prefix>/shop/core/ConfigMap/settings.yaml          the core ("") group is spelled `core`
//! <prefix>/manifest.json                              written last
//! ```
//!
//! - Namespaced objects live under their namespace; cluster-scoped ones under
//!   [`CLUSTER_SCOPED_DIR`] (`_cluster`), which no namespace can be called
//!   (namespace names are DNS labels: no `_`).
//! - The core API group (`""`, `apiVersion: v1`) is spelled [`CORE_GROUP_DIR`]
//!   (`core`, as kubectl's `core/v1`); every other group by its name
//!   (`apps`, `rbac.authorization.k8s.io`, `stable.example.com`).
//! - The kind keeps its case (`Deployment`), the file is the object's name
//!   plus `.yaml`. Characters object stores reserve (`%`, `#`, `[`...) are
//!   percent-encoded, as [`object_store::path::PathPart`] does; names never
//!   contain `/`.
//! - [`MANIFEST_FILE`] (`manifest.json`) at the root lists every file with
//!   its object, size and SHA-256, the counts per resource type, the
//!   cluster's version and the time. It is written after every object file,
//!   so a backup without it is incomplete (an export that failed or was
//!   cancelled half-way); retention and [`restore`](crate::restore) both rely
//!   on that.
//!
//! The same tree can be one gzip-compressed tar archive instead (`.tar.gz`),
//! the paths relative to the archive root, `manifest.json` its last entry,
//! every entry and the archive file itself mode 0600.
//!
//! Restore reads the object's type from the manifest and the file, never
//! from the path: the path is for people and for keeping objects apart.

use std::{fmt, path::PathBuf, sync::Arc};

use object_store::{path::Path as StorePath, ObjectStore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The name of the manifest at the root of a backup.
///
/// ```
/// assert_eq!(k8sops_backup::layout::MANIFEST_FILE, "manifest.json");
/// ```
pub const MANIFEST_FILE: &str = "manifest.json";

/// The directory of cluster-scoped objects, in place of a namespace.
///
/// ```
/// use k8sops_backup::layout::{object_path, CLUSTER_SCOPED_DIR};
/// assert!(object_path(None, "rbac.authorization.k8s.io", "ClusterRole", "view").starts_with(CLUSTER_SCOPED_DIR));
/// ```
pub const CLUSTER_SCOPED_DIR: &str = "_cluster";

/// How the core API group (`""`) is spelled in paths.
///
/// ```
/// use k8sops_backup::layout::{object_path, CORE_GROUP_DIR};
/// assert_eq!(object_path(Some("shop"), "", "ConfigMap", "settings"), format!("shop/{CORE_GROUP_DIR}/ConfigMap/settings.yaml"));
/// ```
pub const CORE_GROUP_DIR: &str = "core";

/// The `format` a manifest names.
///
/// ```
/// assert_eq!(k8sops_backup::layout::FORMAT, "k8sops.io/resource-export");
/// ```
pub const FORMAT: &str = "k8sops.io/resource-export";

/// The newest manifest `formatVersion` this crate writes and reads.
///
/// ```
/// assert_eq!(k8sops_backup::layout::FORMAT_VERSION, 1);
/// ```
pub const FORMAT_VERSION: u32 = 1;

/// Where a backup is written to or read from.
///
/// ```
/// use std::sync::Arc;
/// use k8sops_backup::{layout::Location, object_store::memory::InMemory};
/// let in_memory = Location::store(Arc::new(InMemory::new()), "backups/nightly");
/// let archive = Location::archive("/var/backups/cluster.tar.gz");
/// assert!(archive.to_string().ends_with("cluster.tar.gz"));
/// assert!(in_memory.to_string().ends_with("backups/nightly"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum Location {
    /// A tree of objects under `prefix` in an object store (a local
    /// directory, memory, S3): `<prefix>/<namespace>/<group>/<Kind>/<name>.yaml`
    /// and `<prefix>/manifest.json`.
    Store {
        /// The store.
        store: Arc<dyn ObjectStore>,
        /// The backup's root inside the store (may be empty).
        prefix: StorePath,
    },
    /// One gzip-compressed tar file.
    Archive(PathBuf),
}

impl Location {
    /// A tree under `prefix` in `store`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use k8sops_backup::{layout::Location, object_store::memory::InMemory};
    /// let to = Location::store(Arc::new(InMemory::new()), "cluster-a/2026-01-01");
    /// ```
    pub fn store(store: Arc<dyn ObjectStore>, prefix: impl Into<StorePath>) -> Self {
        Location::Store { store, prefix: prefix.into() }
    }

    /// A `.tar.gz` file.
    ///
    /// ```
    /// let to = k8sops_backup::layout::Location::archive("backup.tar.gz");
    /// ```
    pub fn archive(path: impl Into<PathBuf>) -> Self {
        Location::Archive(path.into())
    }

    /// The store key of a file of the backup (`relative` as a manifest
    /// names it), or `None` for an archive or a path that is not a
    /// relative store path (`..`, empty segments).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use k8sops_backup::{layout::Location, object_store::memory::InMemory};
    /// let at = Location::store(Arc::new(InMemory::new()), "nightly");
    /// assert_eq!(at.key("shop/core/ConfigMap/a.yaml").unwrap().as_ref(), "nightly/shop/core/ConfigMap/a.yaml");
    /// assert!(at.key("../etc/passwd").is_none());
    /// ```
    pub fn key(&self, relative: &str) -> Option<StorePath> {
        let Location::Store { prefix, .. } = self else { return None };
        let rel = StorePath::parse(relative).ok()?;
        if rel.as_ref().is_empty() || relative.split('/').any(|s| s == "." || s == "..") {
            return None;
        }
        Some(prefix.parts().chain(rel.parts()).collect())
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Store { store, prefix } if prefix.as_ref().is_empty() => write!(f, "{store}"),
            Location::Store { store, prefix } => write!(f, "{store}/{prefix}"),
            Location::Archive(path) => write!(f, "{}", path.display()),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

/// The path of an object's file, relative to the backup root:
/// `<namespace or _cluster>/<group or core>/<Kind>/<name>.yaml`, each part
/// encoded as an object store path segment.
///
/// ```
/// use k8sops_backup::layout::object_path;
/// assert_eq!(object_path(Some("shop"), "apps", "Deployment", "web"), "shop/apps/Deployment/web.yaml");
/// assert_eq!(object_path(None, "rbac.authorization.k8s.io", "ClusterRole", "system:node"),
///            "_cluster/rbac.authorization.k8s.io/ClusterRole/system:node.yaml");
/// assert_eq!(object_path(None, "", "Namespace", "shop"), "_cluster/core/Namespace/shop.yaml");
/// ```
pub fn object_path(namespace: Option<&str>, group: &str, kind: &str, name: &str) -> String {
    let scope = namespace.filter(|n| !n.is_empty()).unwrap_or(CLUSTER_SCOPED_DIR);
    let group = if group.is_empty() { CORE_GROUP_DIR } else { group };
    let file = format!("{name}.yaml");
    let parts = [scope, group, kind, file.as_str()].map(object_store::path::PathPart::from);
    StorePath::from_iter(parts).to_string()
}

/// Lower-case hex SHA-256 of `bytes`, as the manifest records it.
///
/// ```
/// assert_eq!(
///     k8sops_backup::layout::sha256_hex(b"abc"),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// The cluster a backup was taken from.
///
/// ```
/// let c = k8sops_backup::layout::SourceCluster { server: "https://10.0.0.1:6443".into(), version: "v1.29.3".into() };
/// assert_eq!(c.version, "v1.29.3");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCluster {
    /// The API server's URL.
    pub server: String,
    /// Its version (`gitVersion`), e.g. `v1.29.3-eks-4f4795d`.
    pub version: String,
}

/// One file of a backup: which object it holds, its size and checksum.
///
/// ```
/// let e = k8sops_backup::layout::ManifestEntry {
///     path: "shop/core/ConfigMap/settings.yaml".into(),
///     api_version: "v1".into(),
///     kind: "ConfigMap".into(),
///     resource: "configmaps".into(),
///     namespace: Some("shop".into()),
///     name: "settings".into(),
///     size: 120,
///     sha256: "0".repeat(64),
/// };
/// assert_eq!(e.group(), "");
/// assert_eq!(e.resource_name(), "configmaps");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestEntry {
    /// The file, relative to the backup root (see [`object_path`]).
    pub path: String,
    /// `apiVersion` of the object, e.g. `apps/v1`.
    pub api_version: String,
    /// `kind` of the object.
    pub kind: String,
    /// The resource (plural) it was listed as, e.g. `deployments`.
    pub resource: String,
    /// Its namespace; `None` for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// Bytes in the file.
    pub size: u64,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
}

impl ManifestEntry {
    /// The API group (`""` for the core group).
    ///
    /// ```
    /// # let mut e = k8sops_backup::layout::ManifestEntry { path: String::new(), api_version: "apps/v1".into(), kind: "Deployment".into(),
    /// #     resource: "deployments".into(), namespace: None, name: "web".into(), size: 0, sha256: String::new() };
    /// assert_eq!(e.group(), "apps");
    /// ```
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// The version (`v1` of `apps/v1`).
    ///
    /// ```
    /// # let e = k8sops_backup::layout::ManifestEntry { path: String::new(), api_version: "apps/v1".into(), kind: "Deployment".into(),
    /// #     resource: "deployments".into(), namespace: None, name: "web".into(), size: 0, sha256: String::new() };
    /// assert_eq!(e.version(), "v1");
    /// ```
    pub fn version(&self) -> &str {
        self.api_version.rsplit_once('/').map_or(self.api_version.as_str(), |(_, v)| v)
    }

    /// The resource as kubectl names it: `deployments.apps`, `configmaps`.
    ///
    /// ```
    /// # let e = k8sops_backup::layout::ManifestEntry { path: String::new(), api_version: "apps/v1".into(), kind: "Deployment".into(),
    /// #     resource: "deployments".into(), namespace: None, name: "web".into(), size: 0, sha256: String::new() };
    /// assert_eq!(e.resource_name(), "deployments.apps");
    /// ```
    pub fn resource_name(&self) -> String {
        resource_name(&self.resource, self.group())
    }
}

/// `plural.group`, or `plural` for the core group, as kubectl and Velero
/// name resource types.
///
/// ```
/// assert_eq!(k8sops_backup::layout::resource_name("deployments", "apps"), "deployments.apps");
/// assert_eq!(k8sops_backup::layout::resource_name("secrets", ""), "secrets");
/// ```
pub fn resource_name(plural: &str, group: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

/// The manifest of a backup (`manifest.json`).
///
/// ```
/// let m = k8sops_backup::layout::Manifest::new(Default::default());
/// assert_eq!(m.format, k8sops_backup::layout::FORMAT);
/// assert!(m.files.is_empty() && m.complete);
/// let json = serde_json::to_string(&m).unwrap();
/// assert!(json.contains("\"formatVersion\":1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written by this crate.
    pub format_version: u32,
    /// When the export started (RFC 3339, UTC).
    pub created_at: String,
    /// When the last object was written (RFC 3339, UTC).
    pub finished_at: String,
    /// The cluster it was taken from.
    pub cluster: SourceCluster,
    /// Whether `status` was kept.
    pub with_status: bool,
    /// Whether Secrets were exported.
    pub includes_secrets: bool,
    /// Whether objects that controllers recreate (pods of ReplicaSets,
    /// events, ...) were exported too.
    pub includes_managed: bool,
    /// `false` when some resource types could not be listed (see
    /// [`failed_resources`](Self::failed_resources)): the objects that are
    /// here are whole, but some types are missing.
    pub complete: bool,
    /// Resource types (`plural.group`) that could not be listed, with why.
    #[serde(default)]
    pub failed_resources: Vec<FailedResource>,
    /// Objects per resource type (`deployments.apps`).
    pub counts: std::collections::BTreeMap<String, usize>,
    /// Objects in the backup.
    pub total: usize,
    /// Every file, sorted by path.
    pub files: Vec<ManifestEntry>,
}

/// A resource type an export could not list.
///
/// ```
/// let f = k8sops_backup::layout::FailedResource { resource: "widgets.example.com".into(), reason: "forbidden".into() };
/// assert_eq!(f.resource, "widgets.example.com");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedResource {
    /// `plural.group`.
    pub resource: String,
    /// The error.
    pub reason: String,
}

impl Manifest {
    /// An empty, complete manifest of this format, created now.
    ///
    /// ```
    /// let m = k8sops_backup::layout::Manifest::new(k8sops_backup::layout::SourceCluster::default());
    /// assert_eq!(m.total, 0);
    /// ```
    pub fn new(cluster: SourceCluster) -> Self {
        let now = jiff::Timestamp::now().to_string();
        Manifest {
            format: FORMAT.to_string(),
            format_version: FORMAT_VERSION,
            created_at: now.clone(),
            finished_at: now,
            cluster,
            with_status: false,
            includes_secrets: false,
            includes_managed: false,
            complete: true,
            failed_resources: Vec::new(),
            counts: Default::default(),
            total: 0,
            files: Vec::new(),
        }
    }

    /// Parses and checks a manifest: the format, a version this crate
    /// reads, and entries whose paths are relative and unique and whose
    /// checksums are SHA-256 hex. `location` names the backup in the error.
    ///
    /// ```
    /// use k8sops_backup::{layout::Manifest, Error};
    /// let m = Manifest::new(Default::default());
    /// let bytes = serde_json::to_vec(&m).unwrap();
    /// assert_eq!(Manifest::parse(&bytes, "test").unwrap(), m);
    /// assert!(matches!(Manifest::parse(b"{}", "test"), Err(Error::InvalidBackup { .. })));
    /// ```
    pub fn parse(bytes: &[u8], location: &str) -> crate::Result<Manifest> {
        let invalid = |reason: String| crate::Error::InvalidBackup { location: location.to_string(), reason };
        let manifest: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| invalid(format!("{MANIFEST_FILE} is not a k8sops export manifest: {e}")))?;
        if manifest.format != FORMAT {
            return Err(invalid(format!("{MANIFEST_FILE} names format {:?}, not {FORMAT:?}", manifest.format)));
        }
        if manifest.format_version == 0 || manifest.format_version > FORMAT_VERSION {
            return Err(invalid(format!(
                "{MANIFEST_FILE} has format version {}; this version of k8sops reads 1 to {FORMAT_VERSION}",
                manifest.format_version
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for e in &manifest.files {
            let relative = !e.path.is_empty()
                && !e.path.starts_with('/')
                && e.path.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
            if !relative || e.path == MANIFEST_FILE {
                return Err(invalid(format!("{MANIFEST_FILE} lists a file outside the backup: {:?}", e.path)));
            }
            if !seen.insert(e.path.as_str()) {
                return Err(invalid(format!("{MANIFEST_FILE} lists {:?} twice", e.path)));
            }
            if e.sha256.len() != 64 || !e.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid(format!("{MANIFEST_FILE}: {:?} has no SHA-256 checksum", e.path)));
            }
        }
        Ok(manifest)
    }
}
