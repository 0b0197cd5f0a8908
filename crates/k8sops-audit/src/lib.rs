//! # k8sops-audit
//!
//! Security audit: RBAC review (`kubectl get roles,rolebindings -A`,
//! `kubectl auth can-i --list --as`), Pod Security Standards labels and
//! violations, risky workloads — what kube-bench and kubent users expect.
//!
//! Status: skeleton. The typed API arrives with the audit issue.
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
