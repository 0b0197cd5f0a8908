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
//!
//! Before an upgrade: every version in the cluster ([`versions`]: `kubectl
//! version`, the nodes' kubelet, kube-proxy and runtime versions, kubeadm's
//! static pods), the version skew policy as data and its violations now and
//! after the upgrade ([`skew`]), the preflight checks ([`preflight`]: nodes
//! not Ready, blocking PodDisruptionBudgets, unreplicated pods, removed APIs,
//! PodSecurityPolicies, add-ons) and a `kubeadm upgrade plan`-style plan,
//! hop by hop, with the commands and API calls of each step ([`plan`]).
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub mod eks;
pub mod plan;
pub mod preflight;
pub mod removed_apis;
pub mod rolling;
pub mod rules;
pub mod skew;
pub mod versions;

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
        /// The I/O error, when reading failed.
        #[source]
        source: Option<std::io::Error>,
    },

    /// An upgrade preflight found checks that must be fixed first. Made by
    /// [`preflight::PreflightReport::ensure_passed`].
    #[error("upgrade preflight for {target} failed: {}", failed.join("; "))]
    PreflightFailed {
        /// The target version.
        target: String,
        /// Each failed check: `id: explanation`.
        failed: Vec<String>,
    },

    /// A node operation (drain, cordon, listing a group's nodes) failed.
    #[error(transparent)]
    Nodes(#[from] k8sops_nodes::Error),

    /// A cloud update (an EKS cluster or node-group version update) ended
    /// `Failed` or `Cancelled`; `errors` are the update's own errors.
    #[error("update {id} ({kind}) of {target} ended {status:?}: {}; see `aws eks describe-update`", if errors.is_empty() { "no errors reported".to_string() } else { errors.join("; ") })]
    UpdateFailed {
        /// What was updated, e.g. `EKS cluster prod`.
        target: String,
        /// The update's id.
        id: String,
        /// Its type, e.g. `VersionUpdate`.
        kind: String,
        /// How it ended.
        status: k8sops_core::backend::UpdateStatus,
        /// The errors the update reported (`code: message`).
        errors: Vec<String>,
    },

    /// A rolling node upgrade stopped before every node was upgraded; the
    /// report says which nodes were, where it stopped and which nodes are
    /// left cordoned. Made by [`rolling::RollingReport::ensure_completed`].
    #[error("rolling upgrade of node group {group} {status}: {}", report.summary())]
    RollingIncomplete {
        /// The node group.
        group: String,
        /// How it ended.
        status: rolling::RollingStatus,
        /// What was done.
        report: Box<rolling::RollingReport>,
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
