//! Draining several nodes: all are cordoned first (so evicted pods do not
//! land on the next victim), then drained `max_unavailable` at a time,
//! optionally waiting for the evicted pods' controllers to have as many
//! Ready pods elsewhere as before.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use futures::future::join_all;
use k8s_openapi::api::core::v1::Pod;
use k8sops_core::{object_status::pod_is_ready, paging, Cluster, ProgressSink};
use kube::{api::ListParams, Api};
use serde::Serialize;

use crate::{
    cordon::set_unschedulable, drain, DrainEvent, DrainParams, DrainReport, DrainStatus, DryRun, Error, NodeSelection,
    Result,
};

/// Options for [`drain_nodes`].
///
/// ```
/// use std::time::Duration;
/// // Two nodes at a time; wait up to 5 minutes for evicted pods' replacements before the next batch.
/// let params = k8sops_nodes::DrainManyParams {
///     drain: k8sops_nodes::DrainParams::default().ignore_daemonsets(true),
///     max_unavailable: 2,
///     wait_for_replacements: Some(Duration::from_secs(300)),
/// };
/// ```
#[derive(Debug, Clone)]
pub struct DrainManyParams {
    /// How each node is drained.
    pub drain: DrainParams,
    /// How many nodes may be draining at once (default 1, as kubectl).
    pub max_unavailable: usize,
    /// After each batch, wait up to this long for the evicted pods'
    /// controllers to be back to their Ready count elsewhere (`None`: do not wait).
    pub wait_for_replacements: Option<Duration>,
}

impl Default for DrainManyParams {
    fn default() -> Self {
        DrainManyParams { drain: DrainParams::default(), max_unavailable: 1, wait_for_replacements: None }
    }
}

/// Progress of [`drain_nodes`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
/// let cluster = server.cluster();
/// use k8sops_nodes::{drain_nodes, DrainManyEvent, DrainManyParams, DrainParams, NodeSelection};
/// let events = k8sops_core::Recorder::default();
/// let params = DrainManyParams { drain: DrainParams::default().ignore_daemonsets(true), ..Default::default() };
/// let spot = NodeSelection::Selector("eks.amazonaws.com/nodegroup=spot".parse()?);
/// drain_nodes(&cluster, &spot, &params, &events).await?;
/// assert!(matches!(events.events()[0], DrainManyEvent::CordonedAll { .. }));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum DrainManyEvent {
    /// Every target was cordoned.
    CordonedAll {
        /// Nodes in drain order.
        nodes: Vec<String>,
    },
    /// An event of one node's drain.
    Node {
        /// The node.
        node: String,
        /// The event.
        event: DrainEvent,
    },
    /// A node's drain ended.
    NodeFinished {
        /// The node.
        node: String,
        /// How.
        status: DrainStatus,
    },
    /// Waiting for replacements of the pods evicted from a batch.
    WaitingForReplacements {
        /// Controllers (`Kind namespace/name`) still short of Ready pods.
        controllers: Vec<String>,
    },
    /// Replacements are Ready.
    ReplacementsReady,
}

/// The result of [`drain_nodes`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
/// let cluster = server.cluster();
/// use k8sops_nodes::{drain_nodes, DrainManyParams, DrainParams, NodeSelection};
/// let params = DrainManyParams { drain: DrainParams::default().ignore_daemonsets(true), ..Default::default() };
/// let spot = NodeSelection::Selector("eks.amazonaws.com/nodegroup=spot".parse()?);
/// let report = drain_nodes(&cluster, &spot, &params, &k8sops_core::NoProgress).await?;
/// assert_eq!(report.nodes.len(), 1);
/// assert!(report.errors.is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrainManyReport {
    /// Each node's drain report (also for refused, timed-out or cancelled drains).
    pub nodes: Vec<DrainReport>,
    /// Errors by node, for nodes whose drain failed.
    pub errors: BTreeMap<String, String>,
    /// Controllers whose replacements were not Ready in time.
    pub replacements_not_ready: Vec<String>,
}

impl DrainManyReport {
    /// Whether every node drained and every replacement became Ready.
    ///
    /// ```
    /// let report = k8sops_nodes::DrainManyReport {
    ///     nodes: vec![],
    ///     errors: Default::default(),
    ///     replacements_not_ready: vec!["ReplicaSet shop/api-68b80c716c".into()],
    /// };
    /// assert!(!report.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        self.errors.is_empty()
            && self.replacements_not_ready.is_empty()
            && self.nodes.iter().all(|n| n.status == DrainStatus::Completed)
    }
}

struct Tagged<'a> {
    node: String,
    inner: &'a dyn ProgressSink<DrainManyEvent>,
}

impl ProgressSink<DrainEvent> for Tagged<'_> {
    fn emit(&self, event: DrainEvent) {
        self.inner.emit(DrainManyEvent::Node { node: self.node.clone(), event });
    }
}

type ControllerKey = (String, String, String);

fn controller_of(p: &Pod) -> Option<ControllerKey> {
    let o = p.metadata.owner_references.as_ref()?.iter().find(|o| o.controller == Some(true))?;
    matches!(o.kind.as_str(), "ReplicaSet" | "StatefulSet" | "ReplicationController")
        .then(|| (o.kind.clone(), p.metadata.namespace.clone().unwrap_or_default(), o.name.clone()))
}

/// Ready pods per controller, not counting pods on `exclude` nodes or being deleted.
async fn ready_counts(
    cluster: &Cluster,
    namespaces: &BTreeSet<String>,
    exclude: &BTreeSet<String>,
) -> Result<BTreeMap<ControllerKey, usize>> {
    let mut out = BTreeMap::new();
    for ns in namespaces {
        let api: Api<Pod> = Api::namespaced(cluster.client().clone(), ns);
        for p in paging::list_all(cluster, &api, ListParams::default()).await? {
            let on_excluded = p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some_and(|n| exclude.contains(n));
            if on_excluded || p.metadata.deletion_timestamp.is_some() || !pod_is_ready(&p) {
                continue;
            }
            if let Some(k) = controller_of(&p) {
                *out.entry(k).or_insert(0) += 1;
            }
        }
    }
    Ok(out)
}

/// Drains the selected nodes, `max_unavailable` at a time. Nodes whose drain
/// fails stay cordoned and are listed in [`DrainManyReport::errors`]; the
/// others are still drained.
///
/// ```
/// use k8sops_core::{LabelSelector, NoProgress};
/// use k8sops_nodes::{drain_nodes, DrainManyParams, DrainParams, NodeSelection};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
/// let params = DrainManyParams { drain: DrainParams::default().ignore_daemonsets(true), max_unavailable: 1, ..Default::default() };
/// let spot = NodeSelection::Selector(LabelSelector::new().eq("eks.amazonaws.com/nodegroup", "spot"));
/// let report = drain_nodes(&server.cluster(), &spot, &params, &NoProgress).await?;
/// assert!(report.is_success());
/// # Ok(()) }
/// ```
pub async fn drain_nodes(
    cluster: &Cluster,
    selection: &NodeSelection,
    params: &DrainManyParams,
    progress: &dyn ProgressSink<DrainManyEvent>,
) -> Result<DrainManyReport> {
    if params.max_unavailable == 0 {
        return Err(Error::Invalid("max_unavailable must be at least 1".into()));
    }
    let nodes = selection.resolve(cluster).await?;
    let mut names: Vec<String> = nodes.iter().filter_map(|n| n.metadata.name.clone()).collect();
    names.sort();
    if params.drain.dry_run != DryRun::Client {
        for (node, name) in nodes.iter().zip(&names) {
            let cordoned = node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
            if !cordoned {
                set_unschedulable(cluster, name, true, params.drain.dry_run == DryRun::Server).await?;
            }
        }
    }
    progress.emit(DrainManyEvent::CordonedAll { nodes: names.clone() });
    let mut report = DrainManyReport { nodes: Vec::new(), errors: BTreeMap::new(), replacements_not_ready: Vec::new() };
    let all: BTreeSet<String> = names.iter().cloned().collect();
    for batch in names.chunks(params.max_unavailable) {
        // Baseline of Ready pods per controller owning pods in this batch.
        let baseline = match params.wait_for_replacements {
            Some(_) if params.drain.dry_run == DryRun::None => {
                let pods: Api<Pod> = cluster.api_all();
                let mut namespaces = BTreeSet::new();
                let mut owners = BTreeSet::new();
                for n in batch {
                    let lp = ListParams::default().fields(&format!("spec.nodeName={n}"));
                    for p in paging::list_all(cluster, &pods, lp).await? {
                        if let Some(k) = controller_of(&p) {
                            namespaces.insert(k.1.clone());
                            owners.insert(k);
                        }
                    }
                }
                let counts = ready_counts(cluster, &namespaces, &BTreeSet::new()).await?;
                Some((
                    namespaces,
                    owners
                        .into_iter()
                        .map(|k| {
                            let c = counts.get(&k).copied().unwrap_or(0);
                            (k, c)
                        })
                        .collect::<BTreeMap<_, _>>(),
                ))
            }
            _ => None,
        };
        let runs = batch.iter().map(|n| async move {
            let sink = Tagged { node: n.clone(), inner: progress };
            (n.clone(), drain(cluster, n, &params.drain, &sink).await)
        });
        for (node, res) in join_all(runs).await {
            let (rep, err) = match res {
                Ok(r) => (Some(r), None),
                Err(Error::Refused { report, .. }) => {
                    (Some(*report.clone()), Some(Error::Refused { node: node.clone(), pods: vec![], report }))
                }
                Err(Error::DrainTimedOut { report, after, .. }) => {
                    (Some(*report.clone()), Some(Error::DrainTimedOut { node: node.clone(), after, report }))
                }
                Err(Error::DrainCancelled { report, .. }) => {
                    (Some(*report.clone()), Some(Error::DrainCancelled { node: node.clone(), report }))
                }
                Err(e) => (None, Some(e)),
            };
            let status = rep.as_ref().map(|r| r.status).unwrap_or(DrainStatus::Failed);
            progress.emit(DrainManyEvent::NodeFinished { node: node.clone(), status });
            if let Some(r) = rep {
                report.nodes.push(r);
            }
            if let Some(e) = err {
                report.errors.insert(node, e.to_string());
            }
        }
        if let (Some(limit), Some((namespaces, want))) = (params.wait_for_replacements, baseline) {
            let deadline = tokio::time::Instant::now() + limit;
            loop {
                let now = ready_counts(cluster, &namespaces, &all).await?;
                let short: Vec<String> = want
                    .iter()
                    .filter(|(k, n)| now.get(*k).copied().unwrap_or(0) < **n)
                    .map(|((kind, ns, name), _)| format!("{kind} {ns}/{name}"))
                    .collect();
                if short.is_empty() {
                    progress.emit(DrainManyEvent::ReplacementsReady);
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    report.replacements_not_ready.extend(short);
                    break;
                }
                progress.emit(DrainManyEvent::WaitingForReplacements { controllers: short });
                tokio::time::sleep(Duration::from_millis(500).min(deadline - tokio::time::Instant::now())).await;
            }
        }
    }
    Ok(report)
}
