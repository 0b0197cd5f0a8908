//! Where backups are kept: any [`object_store::ObjectStore`], shared as a
//! [`BackupStore`].
//!
//! | Store | Here |
//! |---|---|
//! | a local directory, readable by its owner only (`0700`/`0600`) | [`local_dir`], [`LocalDir`] |
//! | memory, for tests and dry runs | [`memory`] |
//! | S3 or an S3-compatible service, with multipart uploads and retries | [`s3()`], [`S3Params`] (feature `s3`) |
//!
//! Large files (etcd snapshots of several GB) go up with [`upload_file`] as
//! multipart uploads with bounded memory and come down with
//! [`download_file`]. A backup is the set of objects under
//! `<root>/<name>/`; it is complete once `<root>/<name>/manifest.json`
//! exists (the writer puts it last). [`prune`] applies a
//! [`RetentionPolicy`] (keep the last N, delete older than D) and never
//! deletes the newest complete backup.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> k8sops_backup::Result<()> {
//! use k8sops_backup::{object_store::{path::Path, ObjectStoreExt}, store};
//! let dir = tempfile::tempdir().unwrap();
//! let backups = store::local_dir(dir.path().join("backups"))?;
//! backups.put(&Path::from("prod/2026-11-26/manifest.json"), "{}".into()).await?;
//! let report = store::prune(&backups, &Path::from("prod"), &store::RetentionPolicy::default().keep_last(7), false).await?;
//! assert_eq!(report.kept(), ["2026-11-26"]);
//! # Ok(()) }
//! ```

mod local;
mod retention;
#[cfg(feature = "s3")]
mod s3;
mod transfer;

use std::sync::Arc;

pub use k8sops_core::backend::BackupStore;
pub use local::{local_dir, DeferSync, LocalDir, DIR_MODE, FILE_MODE};
pub use retention::{
    list_backups, prune, Backup, Decision, DeleteReason, KeepReason, PruneOutcome, PruneReport, PrunedBackup,
    RetentionPolicy, MANIFEST,
};
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use s3::{s3, S3Params};
pub use transfer::{download_file, upload_file, Downloaded, TransferEvent, TransferParams, Uploaded};

/// An empty in-memory store ([`object_store::memory::InMemory`]), for tests,
/// examples and dry runs.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_backup::Result<()> {
/// use k8sops_backup::object_store::{path::Path, ObjectStoreExt};
/// let store = k8sops_backup::store::memory();
/// store.put(&Path::from("a"), "x".into()).await?;
/// assert_eq!(store.get(&Path::from("a")).await?.bytes().await?, "x");
/// # Ok(()) }
/// ```
pub fn memory() -> BackupStore {
    Arc::new(object_store::memory::InMemory::new())
}
