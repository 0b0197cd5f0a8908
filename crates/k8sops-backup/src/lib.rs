//! # k8sops-backup
//!
//! Backup and recovery: etcd snapshots (`etcdctl snapshot save` / `status`)
//! streamed into a [`k8sops_core::backend::BackupStore`], and resource exports
//! (`kubectl get all -A -o yaml`), Velero-style.
//!
//! Status: skeleton. The typed API arrives with the backup issue. The
//! `etcd` feature brings the gRPC client ([`etcd`]).
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Errors of this crate.
///
/// ```
/// fn describe(e: &k8sops_backup::Error) -> String {
///     match e {
///         k8sops_backup::Error::Core(core) if core.is_transient() => format!("try again: {core}"),
///         other => other.to_string(),
///     }
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A cluster or backend operation failed.
    #[error(transparent)]
    Core(#[from] k8sops_core::Error),
}

/// Result alias of this crate.
///
/// ```
/// fn checked() -> k8sops_backup::Result<()> {
///     Ok(())
/// }
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The etcd gRPC client this crate builds on (feature `etcd`), re-exported
/// so that callers use the same version.
#[cfg(feature = "etcd")]
#[cfg_attr(docsrs, doc(cfg(feature = "etcd")))]
pub mod etcd {
    pub use etcd_client::*;
}
