//! # k8sops-audit
//!
//! Security audit: RBAC review (`kubectl get roles,rolebindings -A`,
//! `kubectl auth can-i --list --as`), Pod Security Standards labels and
//! violations, risky workloads — what kube-bench and kubent users expect.
//!
//! Status: skeleton. The typed API arrives with the audit issue.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod can_i;
pub mod inventory;
pub mod pod_security;
pub mod psp;
pub mod psp_report;
pub mod pss;
pub mod rbac;
pub mod risk;

/// Errors of this crate.
///
/// ```
/// fn describe(e: &k8sops_audit::Error) -> String {
///     match e {
///         k8sops_audit::Error::Core(core) if core.is_transient() => format!("try again: {core}"),
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

    /// A client-side dry run was asked of an operation whose answer only the
    /// server can give (the Pod Security warnings of a label change).
    #[error("a client-side dry run cannot show what the API server would answer: use a server-side dry run (--dry-run=server)")]
    ClientDryRun,
}

/// Result alias of this crate.
///
/// ```
/// fn checked() -> k8sops_audit::Result<()> {
///     Ok(())
/// }
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
