//! # k8sops-diagnose
//!
//! Troubleshooting, as the ops guide does it with kubectl:
//!
//! | command | API |
//! |---|---|
//! | `kubectl get componentstatuses`, `kubectl cluster-info`, `/readyz?verbose`, `/livez?verbose` | [`cluster_health`] → [`ClusterHealth`] |
//! | `kubectl get events -A --sort-by=.lastTimestamp` (both event APIs' timestamps) | [`events()`] with [`EventParams`] |
//! | `kubectl describe pod`, `kubectl get pods -o wide`: why is it not running? | [`diagnose_pods`] → [`PodDiagnosis`] |
//! | `kubectl logs [-c] [--previous] [--tail] [--since] [--timestamps] [-f]` | [`logs`], [`follow_logs`] |
//! | `kubectl get services,endpoints,networkpolicies -A` | [`check_services`] → [`ServiceReport`] |
//!

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod events;
mod health;
mod logs;
mod pods;
mod services;

pub use events::{events, EventLine, EventParams};
pub use health::{cluster_health, ClusterHealth, ClusterService, ComponentStatusLine, HealthCheck};
pub use logs::{follow_logs, logs, LogOptions};
pub use pods::{diagnose_pods, diagnosis_table, DiagnoseParams, PodDiagnoses, PodDiagnosis, Problem};
pub use services::{check_services, PolicyLine, ServiceFinding, ServiceLine, ServiceReport};

/// Errors of this crate.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// match k8sops_diagnose::logs(&cluster, "shop", "no-such-pod", &Default::default()).await {
///     Err(k8sops_diagnose::Error::Core(e)) if e.is_not_found() => println!("no such pod"),
///     Err(e) => return Err(e.into()),
///     Ok(text) => print!("{text}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A cluster operation failed.
    #[error(transparent)]
    Core(#[from] k8sops_core::Error),
}

/// Result alias of this crate.
///
/// ```
/// fn ready(h: &k8sops_diagnose::ClusterHealth) -> k8sops_diagnose::Result<bool> {
///     Ok(h.is_healthy())
/// }
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
