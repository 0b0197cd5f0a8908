//! # k8sops-diagnose
//!
//! Troubleshooting: cluster health (`/readyz`, `/livez`, `cluster-info`),
//! events sorted by time, pod diagnosis (CrashLoopBackOff, ImagePullBackOff,
//! Pending with the scheduler's reason), logs, and service/endpoint checks.
//!
//! Status: skeleton. The typed API arrives with the troubleshooting issue;
//! [`k8sops_core::object_status`] already computes the STATUS word kubectl
//! prints for a pod.
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A cluster or backend operation failed.
    #[error(transparent)]
    Core(#[from] k8sops_core::Error),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
