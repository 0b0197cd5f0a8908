//! # k8sops-upgrade
//!
//! Cluster upgrades: version and skew checks (`kubectl version`,
//! `kubeadm upgrade plan`), deprecated API detection, and EKS control-plane
//! and node-group upgrades (`aws eks update-cluster-version`,
//! `describe-update`, `update-nodegroup-version`) through the
//! [`k8sops_core::backend::ControlPlane`] and `NodeGroups` backends.
//!
//! Removed and deprecated APIs are found the way kubent and pluto find them
//! ([`rules`], [`removed_apis`]). The `aws` feature brings the EKS SDK ([`aws`]).
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod removed_apis;
pub mod rules;

/// Errors of this crate.
///
/// ```
/// fn describe(e: &k8sops_upgrade::Error) -> String {
///     match e {
///         k8sops_upgrade::Error::Core(core) if core.is_transient() => format!("try again: {core}"),
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

    /// A manifest file or directory could not be read or parsed.
    #[error("{path}: {reason}")]
    Manifest {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Result alias of this crate.
///
/// ```
/// fn checked() -> k8sops_upgrade::Result<()> {
///     Ok(())
/// }
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The AWS SDK crates this crate builds on (feature `aws`), re-exported so
/// that callers use the same versions.
#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub mod aws {
    pub use aws_config as config;
    pub use aws_sdk_eks as eks;
}
