use std::{
    collections::BTreeMap,
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a [`BackupStore::list`] returns for each object.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use k8sops_core::backend::{BackupStore, InMemoryBackupStore};
/// let store = InMemoryBackupStore::new();
/// store.put("etcd/2026-11-26.db", vec![0u8; 42].into()).await?;
/// let info = &store.list("etcd/").await?[0];
/// assert_eq!((info.key.as_str(), info.size), ("etcd/2026-11-26.db", 42));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// The object's key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, if the store knows.
    pub last_modified: Option<k8s_openapi::jiff::Timestamp>,
}

/// A place to keep backups: a key/value object store with atomic puts.
/// Keys are `/`-separated relative paths (`backups/2026-11-26/etcd.db`).
/// Implemented by [`InMemoryBackupStore`] and [`LocalDirStore`]; cloud stores
/// come with the backup crate.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use k8sops_core::backend::{BackupStore, InMemoryBackupStore};
/// async fn keep_latest(store: &dyn BackupStore, prefix: &str, keep: usize) -> k8sops_core::Result<()> {
///     let mut objects = store.list(prefix).await?;
///     objects.sort_by(|a, b| b.key.cmp(&a.key));
///     for old in objects.iter().skip(keep) {
///         store.delete(&old.key).await?;
///     }
///     Ok(())
/// }
/// let store = InMemoryBackupStore::new();
/// for day in 20..27 {
///     store.put(&format!("etcd/2026-11-{day}.db"), "snapshot".into()).await?;
/// }
/// keep_latest(&store, "etcd/", 3).await?;
/// assert_eq!(store.list("etcd/").await?.len(), 3);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait BackupStore: Send + Sync + fmt::Debug {
    /// A short name for messages.
    fn backend_name(&self) -> String;

    /// Writes an object. Atomic: a reader sees the old object or the new one,
    /// never a partial write, even if the process dies mid-way.
    async fn put(&self, key: &str, data: Bytes) -> Result<()>;

    /// Reads an object; [`Error::NotFound`] if absent.
    async fn get(&self, key: &str) -> Result<Bytes>;

    /// Objects whose key starts with `prefix`, sorted by key.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>>;

    /// Deletes an object. Deleting a missing object succeeds, as on S3.
    async fn delete(&self, key: &str) -> Result<()>;
}

/// A shared backup store.
///
/// ```
/// let store: k8sops_core::backend::DynBackupStore = std::sync::Arc::new(k8sops_core::backend::InMemoryBackupStore::new());
/// ```
pub type DynBackupStore = Arc<dyn BackupStore>;

/// Checks a key: non-empty, relative, no `.`/`..` or empty segments, no NUL.
///
/// ```
/// use k8sops_core::backend::validate_key;
/// assert!(validate_key("daily/etcd.db").is_ok());
/// assert!(validate_key("../etc/passwd").is_err());
/// assert!(validate_key("/abs").is_err());
/// ```
pub fn validate_key(key: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::InvalidInput { message: format!("invalid backup key {key:?}: {why}") });
    if key.is_empty() {
        return bad("empty");
    }
    if key.starts_with('/') {
        return bad("must be relative");
    }
    if key.contains('\0') {
        return bad("contains NUL");
    }
    if key.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return bad("empty, '.' or '..' path segment");
    }
    Ok(())
}

/// An in-memory backup store.
///
/// ```
/// use k8sops_core::backend::{BackupStore, InMemoryBackupStore};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// let store = InMemoryBackupStore::new();
/// store.put("a/b", "hello".into()).await?;
/// assert_eq!(store.get("a/b").await?, "hello");
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct InMemoryBackupStore {
    objects: Mutex<BTreeMap<String, (Bytes, k8s_openapi::jiff::Timestamp)>>,
}

impl InMemoryBackupStore {
    /// An empty store.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// use k8sops_core::backend::{BackupStore, InMemoryBackupStore};
    /// let store = InMemoryBackupStore::new();
    /// assert!(store.list("").await?.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (Bytes, k8s_openapi::jiff::Timestamp)>> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl BackupStore for InMemoryBackupStore {
    fn backend_name(&self) -> String {
        "in-memory backup store".into()
    }

    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        validate_key(key)?;
        self.lock().insert(key.to_string(), (data, k8s_openapi::jiff::Timestamp::now()));
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        validate_key(key)?;
        self.lock()
            .get(key)
            .map(|(b, _)| b.clone())
            .ok_or_else(|| Error::NotFound { what: format!("backup object {key}") })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        Ok(self
            .lock()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, (b, t))| ObjectInfo { key: k.clone(), size: b.len() as u64, last_modified: Some(*t) })
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        self.lock().remove(key);
        Ok(())
    }
}

/// A backup store in a local directory. Puts write a temporary file in the
/// same directory, fsync it, rename it over the target and fsync the
/// directory, so a crash never leaves a torn object.
///
/// ```
/// use k8sops_core::backend::{BackupStore, LocalDirStore};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// let dir = std::env::temp_dir().join(format!("k8sops-doc-{}", std::process::id()));
/// let store = LocalDirStore::new(&dir);
/// store.put("etcd/snap.db", vec![1, 2, 3].into()).await?;
/// assert_eq!(store.list("etcd/").await?[0].size, 3);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LocalDirStore {
    root: PathBuf,
}

impl LocalDirStore {
    /// A store rooted at `root` (created on first write).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// use k8sops_core::backend::{BackupStore, LocalDirStore};
    /// let dir = std::env::temp_dir().join(format!("k8sops-doc-{}", std::process::id()));
    /// let store = LocalDirStore::new(&dir);
    /// store.put("etcd/snapshot.db", "data".into()).await?;
    /// assert!(dir.join("etcd/snapshot.db").exists());
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok(()) }
    /// ```
    pub fn new(root: impl AsRef<Path>) -> Self {
        LocalDirStore { root: root.as_ref().to_path_buf() }
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io { path: path.display().to_string(), source }
    }
}

/// Temporary files carry this marker so listings skip them.
const TMP_MARKER: &str = ".k8sops-tmp-";

#[async_trait]
impl BackupStore for LocalDirStore {
    fn backend_name(&self) -> String {
        format!("local directory {}", self.root.display())
    }

    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        let path = self.path(key)?;
        let parent = path.parent().unwrap_or(&self.root).to_path_buf();
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        tokio::task::spawn_blocking(move || -> Result<()> {
            use std::io::Write;
            std::fs::create_dir_all(&parent).map_err(Self::io(&parent))?;
            let tmp = parent.join(format!("{file_name}{TMP_MARKER}{}-{}", std::process::id(), unique()));
            let write = || -> std::io::Result<()> {
                let mut f = std::fs::File::create(&tmp)?;
                f.write_all(&data)?;
                f.sync_all()?;
                std::fs::rename(&tmp, &path)?;
                std::fs::File::open(&parent)?.sync_all()
            };
            write().map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                Error::Io { path: path.display().to_string(), source: e }
            })
        })
        .await
        .map_err(|e| Error::Backend {
            backend: self.backend_name(),
            message: e.to_string(),
            transient: false,
            source: None,
        })?
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(b.into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::NotFound { what: format!("backup object {key} in {}", self.root.display()) })
            }
            Err(e) => Err(Self::io(&path)(e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        let out = tokio::task::spawn_blocking(move || -> Result<Vec<ObjectInfo>> {
            let mut out = Vec::new();
            let mut stack = vec![root.clone()];
            while let Some(dir) = stack.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(Self::io(&dir)(e)),
                };
                for entry in entries {
                    let entry = entry.map_err(Self::io(&dir))?;
                    let path = entry.path();
                    let meta = entry.metadata().map_err(Self::io(&path))?;
                    if meta.is_dir() {
                        stack.push(path);
                        continue;
                    }
                    let Ok(rel) = path.strip_prefix(&root) else {
                        continue;
                    };
                    let key = rel.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
                    if key.contains(TMP_MARKER) || !key.starts_with(&prefix) {
                        continue;
                    }
                    let last_modified =
                        meta.modified().ok().and_then(|t| k8s_openapi::jiff::Timestamp::try_from(t).ok());
                    out.push(ObjectInfo { key, size: meta.len(), last_modified });
                }
            }
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(out)
        })
        .await
        .map_err(|e| Error::Backend {
            backend: self.backend_name(),
            message: e.to_string(),
            transient: false,
            source: None,
        })??;
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Self::io(&path)(e)),
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
