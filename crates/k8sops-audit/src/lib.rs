//! # k8sops-audit
//!
//! The ops guide's security audit as typed calls: the RBAC inventory
//! (`kubectl get roles,rolebindings,clusterroles,clusterrolebindings -A`), an
//! offline RBAC evaluator that answers what the API server's authorizer
//! answers (`kubectl auth can-i`, `can-i --list --as`, who-can, an access
//! matrix), risk findings with remediation, the Pod Security Standards
//! checks and labels, and PodSecurityPolicy on clusters that still serve it.
//!
//! | module | what |
//! |---|---|
//! | [`inventory`] | one paginated fetch of the RBAC objects; subjects, bindings to missing roles or service accounts |
//! | [`rbac`] | the evaluator: [`rbac::RbacSnapshot::authorize`], `rules_for`, `who_can`, `access_matrix`, kubectl's `--list` table |
//! | [`can_i`] | `kubectl auth can-i` itself (arguments, discovery, warnings, output, exit codes), offline or by the server |
//! | [`risk`] | risk findings: cluster-admin, wildcards, escalate/bind/impersonate, secrets, exec, nodes/proxy, tokens, anonymous access, ... |
//! | [`pss`] | the Pod Security admission checks, by policy version |
//! | [`pod_security`] | namespace labels, pods and templates against them, what would break, applying labels with a server dry run |
//! | [`psp`], [`psp_report`] | PodSecurityPolicy admission and its mapping to Pod Security levels |
//! | [`report`] | everything in one report, a score per namespace, JSON and SARIF |
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use k8sops_audit::{inventory::fetch_rbac, rbac::{Attributes, UserInfo}};
//! let cluster = k8sops_core::Cluster::try_default().await?;
//! let rbac = fetch_rbac(&cluster).await?;
//! let ci = UserInfo::impersonated("system:serviceaccount:ci:deployer", &[] as &[&str]);
//! let d = rbac.snapshot.authorize(&ci, &Attributes::resource("create", "", "pods", "prod"));
//! println!("{}", if d.allowed { "yes" } else { "no" });
//! # Ok(()) }
//! ```
//!
//! A list the caller may not read (403) makes a partial report that says
//! what it lacks; `Err` means the audit could not run.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod can_i;
mod go_fmt;
pub mod inventory;
pub mod pod_security;
pub mod psp;
pub mod psp_report;
pub mod pss;
pub mod rbac;
pub mod report;
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
