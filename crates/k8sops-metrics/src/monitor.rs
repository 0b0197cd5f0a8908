//! A monitoring stream: the ops guide runs `kubectl top nodes`, `kubectl top
//! pods -A --sort-by=cpu` and `kubectl get pv` from a CronJob every five
//! minutes; [`monitor`] samples usage and quotas at an interval and yields
//! snapshots with threshold alerts, and it alerts on containers that start
//! crash-looping (which needs no metrics API: without metrics-server the
//! snapshots still carry quotas and crash loops, and say why usage is missing).

use std::{collections::BTreeMap, fmt, time::Duration};

use futures::{stream, Stream};
use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};
use k8sops_core::{
    object_status::{crash_loop, namespaced_name},
    paging, Cluster, Quantity,
};
use kube::{api::ListParams, Api};
use serde::Serialize;

use crate::{quotas, top_nodes, top_pods, Error, QuotaReport, Result, SortBy, TopNodes, TopPods, TopPodsParams};

/// Thresholds and interval for [`monitor`].
///
/// ```
/// use std::time::Duration;
/// let params = k8sops_metrics::MonitorParams { interval: Duration::from_secs(60), node_cpu_percent: 70, ..Default::default() };
/// assert_eq!(params.quota_percent, 80);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorParams {
    /// Time between samples (the guide's CronJob uses 5 minutes).
    pub interval: Duration,
    /// Alert when a node's CPU use reaches this percentage of allocatable (default 80).
    pub node_cpu_percent: i64,
    /// Alert when a node's memory use reaches this percentage of allocatable (default 80).
    pub node_memory_percent: i64,
    /// Alert when a container's memory use reaches this percentage of its limit (default 90).
    pub pod_memory_of_limit_percent: i64,
    /// Alert when a quota resource reaches this percentage (default 80).
    pub quota_percent: i64,
}

impl Default for MonitorParams {
    fn default() -> Self {
        MonitorParams {
            interval: Duration::from_secs(300),
            node_cpu_percent: 80,
            node_memory_percent: 80,
            pod_memory_of_limit_percent: 90,
            quota_percent: 80,
        }
    }
}

/// A threshold crossed in a snapshot.
///
/// ```
/// let alert = k8sops_metrics::Alert::NodeCpu { node: "ip-10-0-0-5".into(), percent: 93 };
/// println!("{alert}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum Alert {
    /// Node CPU use at or above the threshold.
    NodeCpu {
        /// Node.
        node: String,
        /// Percent of allocatable.
        percent: i64,
    },
    /// Node memory use at or above the threshold.
    NodeMemory {
        /// Node.
        node: String,
        /// Percent of allocatable.
        percent: i64,
    },
    /// A container close to its memory limit (it will be OOMKilled at 100%).
    PodNearMemoryLimit {
        /// `namespace/pod/container`.
        container: String,
        /// Percent of the limit.
        percent: i64,
    },
    /// A quota close to full.
    QuotaNearFull {
        /// `namespace/quota`.
        quota: String,
        /// Resource.
        resource: String,
        /// Percent used.
        percent: i64,
    },
    /// A container is crash-looping: waiting in `CrashLoopBackOff`, or
    /// restarted after a recent failed run (see
    /// [`k8sops_core::object_status::crash_loop`]). Needs no metrics API.
    CrashLooping {
        /// `namespace/pod/container`.
        container: String,
        /// The container's restart count.
        restarts: i32,
        /// The last failed run's reason (`Error`, `OOMKilled`), when known.
        reason: Option<String>,
        /// The last failed run's exit code, when known.
        exit_code: Option<i32>,
    },
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Alert::NodeCpu { node, percent } => write!(f, "node {node} CPU at {percent}%"),
            Alert::NodeMemory { node, percent } => write!(f, "node {node} memory at {percent}%"),
            Alert::PodNearMemoryLimit { container, percent } => {
                write!(f, "{container} memory at {percent}% of its limit")
            }
            Alert::QuotaNearFull { quota, resource, percent } => write!(f, "quota {quota} {resource} at {percent}%"),
            Alert::CrashLooping { container, restarts, reason, exit_code } => {
                write!(f, "{container} is crash-looping ({restarts} restarts")?;
                if let Some(r) = reason {
                    write!(f, ", last run {r}")?;
                }
                if let Some(c) = exit_code {
                    write!(f, ", exit code {c}")?;
                }
                write!(f, ")")
            }
        }
    }
}

/// One sample.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let snapshot = k8sops_metrics::sample(&cluster, &Default::default()).await?;
/// let nodes = snapshot.nodes.as_ref().map_or(0, |n| n.nodes.len());
/// println!("{nodes} nodes, {} alerts at {}", snapshot.alerts.len(), snapshot.at);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// When it was taken.
    pub at: Timestamp,
    /// Node usage; `None` when metrics.k8s.io is not served (the reason is in
    /// [`Snapshot::usage_unavailable`]).
    pub nodes: Option<TopNodes>,
    /// Pod usage, highest CPU first; `None` when metrics.k8s.io is not served.
    pub pods: Option<TopPods>,
    /// Why usage is missing: the [`Error::MetricsUnavailable`] message. Usage
    /// alerts are then not evaluated; quota and crash-loop alerts still are.
    pub usage_unavailable: Option<String>,
    /// Quota usage.
    pub quotas: QuotaReport,
    /// Thresholds crossed.
    pub alerts: Vec<Alert>,
}

/// One pass over every pod: memory limits of running containers (for the
/// usage alerts) and the containers that are crash-looping.
async fn scan_pods(cluster: &Cluster) -> Result<(BTreeMap<String, Quantity>, Vec<Alert>)> {
    let api: Api<Pod> = cluster.api_all();
    let mut limits = BTreeMap::new();
    let mut crashing = Vec::new();
    paging::for_each(cluster, &api, ListParams::default(), |p: Pod| {
        let key = namespaced_name(&p.metadata);
        let status = p.status.as_ref();
        if status.and_then(|s| s.phase.as_deref()) == Some("Running") {
            for c in p.spec.iter().flat_map(|s| s.containers.iter()) {
                if let Some(l) = c.resources.as_ref().and_then(|r| r.limits.as_ref()).and_then(|l| l.get("memory")) {
                    let q = Quantity::try_from(l).map_err(k8sops_core::Error::from)?;
                    limits.insert(format!("{key}/{}", c.name), q);
                }
            }
        }
        let init = status.and_then(|s| s.init_container_statuses.as_ref()).into_iter().flatten().map(|c| (c, true));
        let app = status.and_then(|s| s.container_statuses.as_ref()).into_iter().flatten().map(|c| (c, false));
        for (cs, is_init) in init.chain(app) {
            if let Some(crash) = crash_loop(cs, is_init) {
                crashing.push(Alert::CrashLooping {
                    container: format!("{key}/{}", cs.name),
                    restarts: cs.restart_count,
                    reason: crash.reason,
                    exit_code: crash.exit_code,
                });
            }
        }
        Ok::<_, crate::Error>(())
    })
    .await?;
    Ok((limits, crashing))
}

/// Takes one snapshot: node and pod usage, quotas, crash-looping containers,
/// and the alerts they raise. When metrics.k8s.io is not served the snapshot
/// has no usage and says why ([`Snapshot::usage_unavailable`]); any other
/// failure is an error.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let snapshot = k8sops_metrics::sample(&server.cluster(), &Default::default()).await?;
/// for alert in &snapshot.alerts {
///     println!("{alert}");
/// }
/// # assert_eq!(snapshot.nodes.map(|n| n.nodes.len()), Some(7));
/// # Ok(()) }
/// ```
pub async fn sample(cluster: &Cluster, params: &MonitorParams) -> Result<Snapshot> {
    let usage = async {
        let nodes = top_nodes(cluster, None, SortBy::Cpu).await?;
        let pods = top_pods(cluster, &TopPodsParams { sort: SortBy::Cpu, ..Default::default() }).await?;
        Ok::<_, Error>((nodes, pods))
    };
    let (nodes, pods, usage_unavailable) = match usage.await {
        Ok((nodes, pods)) => (Some(nodes), Some(pods), None),
        Err(e @ Error::MetricsUnavailable { .. }) => (None, None, Some(e.to_string())),
        Err(e) => return Err(e),
    };
    let quotas = quotas(cluster, None, params.quota_percent).await?;
    let (limits, crashing) = scan_pods(cluster).await?;
    let mut alerts = Vec::new();
    for n in nodes.iter().flat_map(|n| &n.nodes) {
        if let Some(p) = n.cpu_percent().filter(|p| *p >= params.node_cpu_percent) {
            alerts.push(Alert::NodeCpu { node: n.name.clone(), percent: p });
        }
        if let Some(p) = n.memory_percent().filter(|p| *p >= params.node_memory_percent) {
            alerts.push(Alert::NodeMemory { node: n.name.clone(), percent: p });
        }
    }
    for p in pods.iter().flat_map(|p| &p.pods) {
        for c in &p.containers {
            let key = format!("{}/{}/{}", p.namespace, p.name, c.name);
            if let Some(limit) = limits.get(&key) {
                let percent = c.memory.percent_of(*limit);
                if percent >= params.pod_memory_of_limit_percent {
                    alerts.push(Alert::PodNearMemoryLimit { container: key, percent });
                }
            }
        }
    }
    for l in quotas.near_full() {
        alerts.push(Alert::QuotaNearFull {
            quota: format!("{}/{}", l.namespace, l.quota),
            resource: l.resource.clone(),
            percent: l.percent(),
        });
    }
    alerts.extend(crashing);
    Ok(Snapshot { at: Timestamp::now(), nodes, pods, usage_unavailable, quotas, alerts })
}

/// Samples every `params.interval`, the first sample at once. The stream
/// never ends by itself; drop it to stop. A failed sample is yielded as an
/// error and sampling goes on.
///
/// # Cancel safety
/// Read-only: dropping the stream at any point (or wrapping it in a
/// `tokio::time::timeout`) stops sampling and leaves nothing behind; a sample
/// in progress is discarded. Each request has the cluster's read timeout.
///
/// ```
/// use futures::StreamExt;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let params = k8sops_metrics::MonitorParams { interval: std::time::Duration::from_millis(10), ..Default::default() };
/// let cluster = server.cluster();
/// let mut samples = std::pin::pin!(k8sops_metrics::monitor(&cluster, params));
/// let first = samples.next().await.unwrap()?;
/// assert_eq!(first.nodes.map(|n| n.nodes.len()), Some(7));
/// # Ok(()) }
/// ```
pub fn monitor(cluster: &Cluster, params: MonitorParams) -> impl Stream<Item = Result<Snapshot>> + '_ {
    stream::unfold((params, true), move |(params, first)| async move {
        if !first {
            tokio::time::sleep(params.interval).await;
        }
        let snap = sample(cluster, &params).await;
        Some((snap, (params, false)))
    })
}
