//! # k8sops-backup
//!
//! Backup and recovery, the ops guide's backup section as a typed library:
//!
//! | Command | Here |
//! |---|---|
//! | `etcdctl snapshot save` | [`etcd_save::save`] (feature `etcd`) |
//! | `etcdctl snapshot status` | [`snapshot::status`], without a server |
//! | `kubectl get all,configmap,secret,pv,pvc -A -o yaml` | [`export::export`] |
//! | `kubectl apply -f backup/` | [`restore::restore`] |
//! | `velero backup create` / `restore create` | [`velero`] |
//! | `aws eks describe-cluster > cluster.json` | [`eks`] (feature `aws`) |
//!
//! Backups go to any [`object_store::ObjectStore`] ([`store`]): a local
//! directory readable by its owner only, memory, or S3 (feature `s3`).
//!
//! Like every k8sops crate, an `Err` means the operation could not run; what
//! happened to each object is in the returned report.
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::path::PathBuf;

pub mod snapshot;

#[cfg(feature = "etcd")]
#[cfg_attr(docsrs, doc(cfg(feature = "etcd")))]
pub mod etcd_save;

pub mod export;
pub mod layout;
pub mod restore;
pub mod store;
pub mod velero;

#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub mod eks;

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
    /// A cluster or backend operation failed (also: I/O, timeouts,
    /// cancellation and invalid parameters, as [`k8sops_core::Error`] variants).
    #[error(transparent)]
    Core(#[from] k8sops_core::Error),

    /// A file is not a usable etcd snapshot: not a bbolt database, truncated,
    /// or with a damaged page.
    #[error("{path}: not a usable etcd snapshot: {reason}")]
    CorruptSnapshot {
        /// The snapshot file.
        path: PathBuf,
        /// What is wrong, with the page or offset where it was found.
        reason: String,
    },

    /// A checksum did not match the data it covers.
    #[error("{what}: checksum mismatch: expected {expected}, computed {actual}")]
    ChecksumMismatch {
        /// What was checked (a file, a snapshot stream).
        what: String,
        /// The checksum that was recorded.
        expected: String,
        /// The checksum of the data.
        actual: String,
    },

    /// etcd could not be reached or answered with an error.
    #[cfg(feature = "etcd")]
    #[cfg_attr(docsrs, doc(cfg(feature = "etcd")))]
    #[error("etcd at {endpoints}: {message}")]
    Etcd {
        /// The endpoints that were used, comma-separated.
        endpoints: String,
        /// What went wrong, in words.
        message: String,
        /// The client's error.
        #[source]
        source: etcd_client::Error,
    },

    /// A backup store operation failed.
    #[error("backup store: {source}")]
    Store {
        /// The object store's error.
        #[source]
        source: object_store::Error,
    },

    /// A directory, archive or object is not a k8sops backup, or is damaged.
    #[error("{location}: not a usable k8sops backup: {reason}")]
    InvalidBackup {
        /// Where the backup was read from.
        location: String,
        /// What is wrong.
        reason: String,
    },

    /// A restore ran, but some objects could not be restored (from
    /// [`restore::RestoreReport::ensure_completed`]; the report names them).
    #[error("restore from {location}: {failed} object(s) could not be restored; see the report")]
    RestoreIncomplete {
        /// Where the backup was read from.
        location: String,
        /// Objects that failed.
        failed: usize,
        /// The whole report.
        report: Box<restore::RestoreReport>,
    },

    /// The cluster does not serve the `velero.io/v1` API.
    #[error("Velero is not installed in this cluster: the API server does not serve velero.io/v1 (install Velero, e.g. `velero install`)")]
    VeleroNotInstalled,

    /// A Velero backup or restore finished in a phase other than
    /// `Completed` (from `ensure_completed` on [`velero::Backup`] or
    /// [`velero::Restore`]).
    #[error("Velero {kind} {namespace}/{name} finished {phase}{detail}; see `velero {kind} describe {name} --details` and `velero {kind} logs {name}`")]
    VeleroNotCompleted {
        /// `backup` or `restore`.
        kind: &'static str,
        /// Velero's namespace.
        namespace: String,
        /// The object's name.
        name: String,
        /// The phase it ended in, e.g. `PartiallyFailed`.
        phase: String,
        /// Counts and reasons from its status, starting with `: ` (empty when there are none).
        detail: String,
    },

    /// An AWS API call failed.
    #[cfg(feature = "aws")]
    #[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
    #[error("AWS {operation}: {message}")]
    Aws {
        /// The API operation, e.g. `DescribeCluster`.
        operation: &'static str,
        /// What AWS said.
        message: String,
        /// The SDK's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl From<object_store::Error> for Error {
    fn from(source: object_store::Error) -> Self {
        Error::Store { source }
    }
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

/// The object store crate backups are written through, re-exported so that
/// callers use the same version.
pub use object_store;
