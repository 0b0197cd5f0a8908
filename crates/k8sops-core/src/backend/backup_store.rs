use std::sync::Arc;

use object_store::{path::Path, ObjectStore};

use crate::error::{Error, Result};

/// A place to keep backups: any [`object_store::ObjectStore`], shared.
///
/// k8sops writes backups through the `object_store` crate rather than a trait
/// of its own, so every backend it offers works here: in memory
/// ([`object_store::memory::InMemory`], always compiled), and in
/// `k8sops-backup`'s `store` module a local directory readable by its owner
/// only and S3 (feature `s3`), with multipart uploads, retries and
/// retention. Keys are `/`-separated [`object_store::path::Path`]s
/// (`backups/2026-11-26/etcd.db`); [`parse_key`] turns user input into one
/// and refuses what is not a plain relative key.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use k8sops_core::backend::{object_store::{memory::InMemory, ObjectStoreExt}, parse_key, BackupStore};
/// let store: BackupStore = Arc::new(InMemory::new());
/// let key = parse_key("etcd/2026-11-26.db")?;
/// store.put(&key, vec![0u8; 42].into()).await?;
/// assert_eq!(store.head(&key).await?.size, 42);
/// # Ok(()) }
/// ```
pub type BackupStore = Arc<dyn ObjectStore>;

/// Parses a backup key: non-empty, relative (no leading `/`), no empty,
/// `.` or `..` segment, no trailing `/`, no control characters. Stricter
/// than [`Path::parse`], which quietly drops a leading or trailing `/`: a
/// key given by a user is refused rather than reinterpreted.
///
/// ```
/// use k8sops_core::backend::parse_key;
/// assert_eq!(parse_key("daily/etcd.db").unwrap().as_ref(), "daily/etcd.db");
/// assert!(parse_key("../etc/passwd").is_err());
/// assert!(parse_key("/abs").is_err());
/// assert!(parse_key("a//b").is_err());
/// ```
pub fn parse_key(key: &str) -> Result<Path> {
    let bad =
        |why: &str| Err(Error::InvalidInput { message: format!("invalid backup key {key:?}: {why}"), source: None });
    if key.is_empty() {
        return bad("empty");
    }
    if key.starts_with('/') {
        return bad("must be relative (no leading '/')");
    }
    if key.ends_with('/') {
        return bad("must name an object, not a directory (no trailing '/')");
    }
    if key.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return bad("empty, '.' or '..' path segment");
    }
    Path::parse(key).or_else(|e| bad(&e.to_string()))
}
