//! # k8sops-metrics
//!
//! Resource monitoring, capacity and optimisation: the ops guide's
//! `kubectl top nodes` / `top pods`, "Allocated resources" of
//! `kubectl describe node`, `kubectl get resourcequota`, PV/PVC inventory,
//! optimisation hints and cleanup of finished pods and jobs.
//!
//! Status: skeleton. The typed API arrives with the monitoring issue; until
//! then use [`k8sops_core::PodResources`] and [`k8sops_core::ResourceList`]
//! for request/limit arithmetic.
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
