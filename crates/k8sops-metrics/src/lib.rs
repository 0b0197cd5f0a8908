//! # k8sops-metrics
//!
//! Resource monitoring and capacity, as the ops guide does it with
//! `kubectl top` and `kubectl get resourcequota`:
//!
//! | command | API |
//! |---|---|
//! | `kubectl top nodes [--sort-by cpu\|memory]` | [`top_nodes`] → [`TopNodes`] |
//! | `kubectl top pods [-A] [-l SEL] [--containers] [--sort-by]` | [`top_pods`] → [`TopPods`] |
//! | `kubectl get pods -n kube-system -l k8s-app=metrics-server`, APIService check | [`metrics_server_status`] |
//! | `kubectl get resourcequota -A`, `describe resourcequota` | [`quotas`] → [`QuotaReport`] |
//! | `kubectl get limitrange -A` | [`limit_ranges`] |
//! | `kubectl delete pods --field-selector=status.phase=Succeeded\|Failed -A`, finished Jobs | [`cleanup`] |
//! | pods without requests/limits, workloads ignoring tainted groups, `--sort-by` | [`optimisation_hints`], [`TopPods`] sorting |
//! | the guide's `kubectl top` CronJob every 5 minutes | [`monitor`] → stream of [`Snapshot`] with [`Alert`]s |
//! | `kubectl get pv`, `get pvc -A`, `get storageclass`, `describe pvc` | [`storage_report`] → [`StorageReport`] |
//! | `kubectl describe node \| grep -A 10 "Allocated resources"` for every node, per group, headroom | [`capacity_report`] → [`CapacityReport`] |
//!
#![cfg_attr(docsrs, feature(doc_cfg))]

mod capacity;
mod cleanup;
mod monitor;
mod optimise;
mod quota;
mod storage;
mod top;

pub use capacity::{
    capacity_report, CapacityParams, CapacityReport, GroupCapacity, NodeCapacity, OverRequest, UsageComparison,
};
pub use cleanup::{cleanup, CleanupParams, CleanupReport};
pub use monitor::{monitor, sample, Alert, MonitorParams, Snapshot};
pub use optimise::{optimisation_hints, OptimisationReport};
pub use quota::{limit_ranges, quotas, LimitRangeItem, LimitRangeReport, QuotaLine, QuotaReport};
pub use storage::{storage_report, ClaimLine, ClassLine, StorageFinding, StorageReport, VolumeLine};
pub use top::{
    metrics_server_status, top_nodes, top_pods, ContainerUsage, MetricsServerStatus, NodeUsage, PodUsage, SortBy,
    TopNodes, TopPods, TopPodsParams,
};

/// Errors of this crate.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // A server without metrics-server: a typed error that says how to fix it.
/// let server = k8sops_testkit::TestServer::builder().metrics_api(false).start().await?;
/// match k8sops_metrics::top_nodes(&server.cluster(), None, k8sops_metrics::SortBy::Cpu).await {
///     Err(k8sops_metrics::Error::MetricsUnavailable { reason }) => eprintln!("no metrics: {reason}"),
///     Err(e) => return Err(e.into()),
///     Ok(top) => print!("{top}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A cluster operation failed.
    #[error(transparent)]
    Core(#[from] k8sops_core::Error),

    /// The metrics API is not served or not available.
    #[error("metrics.k8s.io is not available ({reason}): install metrics-server (the ops guide's `kubectl apply -f .../metrics-server/.../components.yaml`) and check `kubectl get apiservice v1beta1.metrics.k8s.io`")]
    MetricsUnavailable {
        /// What was found instead.
        reason: String,
    },

    /// A metrics object lacks a usage value (metrics-server has not scraped
    /// it fully yet): its usage is unknown, and k8sops does not print a zero.
    #[error("metrics.k8s.io reports no {resource} usage for {object}: metrics-server has not scraped it yet; try again after its next scrape (`--metric-resolution`, 15s by default)")]
    IncompleteMetrics {
        /// The pod and container (`namespace/pod container name`).
        object: String,
        /// The missing resource (`cpu`, `memory`).
        resource: String,
    },
}

/// Result alias of this crate.
///
/// ```
/// fn busiest(top: &k8sops_metrics::TopNodes) -> k8sops_metrics::Result<Option<&str>> {
///     Ok(top.nodes.first().map(|n| n.name.as_str()))
/// }
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
