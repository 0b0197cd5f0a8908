//! Draining several nodes: all are cordoned first (so evicted pods do not
//! land on the next victim), then drained `max_unavailable` at a time,
//! optionally waiting for the evicted pods' controllers to have as many
//! Ready pods elsewhere as before.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    time::Duration,
};

use futures::future::join_all;
use k8s_openapi::api::core::v1::Pod;
use k8sops_core::{object_status::pod_is_ready, paging, Cluster, Failure, ProgressSink};
use kube::{api::ListParams, Api};
use serde::Serialize;

use crate::{
    cordon::{change_schedulability, CordonChange},
    drain_with_progress, DrainEvent, DrainParams, DrainReport, DrainStatus, DryRun, Error, NodeSelection, Result,
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
///     ..Default::default()
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
    /// Start the next batch even after a node's drain did not complete (or
    /// could not run). Default `false`: after a failure, timeout or cancel no
    /// new batch starts, and the nodes not reached are listed in
    /// [`DrainManyReport::not_started`]. A cancel always stops new batches.
    pub continue_on_failure: bool,
}

impl Default for DrainManyParams {
    fn default() -> Self {
        DrainManyParams {
            drain: DrainParams::default(),
            max_unavailable: 1,
            wait_for_replacements: None,
            continue_on_failure: false,
        }
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
    /// The cordon of each selected node, before any drain (a failure does not
    /// stop the others, as in kubectl).
    pub cordons: Vec<(String, CordonChange)>,
    /// Each node's drain report (also for refused, timed-out, cancelled and
    /// failed drains: see each report's status).
    pub nodes: Vec<DrainReport>,
    /// Nodes whose drain could not run at all, with the typed error.
    pub errors: BTreeMap<String, Failure<Error>>,
    /// Nodes never drained because an earlier batch failed or the caller cancelled.
    pub not_started: Vec<String>,
    /// Controllers whose replacements were not Ready in time.
    pub replacements_not_ready: Vec<String>,
}

impl fmt::Display for DrainManyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (node, change) in &self.cordons {
            if let CordonChange::Failed(e) = change {
                writeln!(f, "error: unable to cordon node {node:?}: {e}")?;
            }
        }
        for r in &self.nodes {
            writeln!(f, "node/{}: drain {}", r.node, r.status)?;
            let refused = r.refused();
            if !refused.is_empty() {
                let pods: Vec<String> = refused.iter().map(|(p, why)| format!("{p} ({why})")).collect();
                writeln!(f, "  refused: {}", pods.join(", "))?;
            }
        }
        for (node, e) in &self.errors {
            writeln!(f, "node/{node}: error: {e}")?;
        }
        if !self.not_started.is_empty() {
            writeln!(f, "not started: {}", self.not_started.join(", "))?;
        }
        if !self.replacements_not_ready.is_empty() {
            writeln!(f, "replacements not Ready: {}", self.replacements_not_ready.join(", "))?;
        }
        Ok(())
    }
}

impl DrainManyReport {
    /// Whether every node drained and every replacement became Ready.
    ///
    /// ```
    /// let report = k8sops_nodes::DrainManyReport {
    ///     cordons: vec![],
    ///     nodes: vec![],
    ///     errors: Default::default(),
    ///     not_started: vec![],
    ///     replacements_not_ready: vec!["ReplicaSet shop/api-68b80c716c".into()],
    /// };
    /// assert!(!report.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        self.errors.is_empty()
            && self.not_started.is_empty()
            && self.cordons.iter().all(|(_, c)| !matches!(c, CordonChange::Failed(_)))
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

/// Drains the selected nodes, `max_unavailable` at a time: all are
/// cordoned first (a failed cordon is reported and the others go on), then
/// drained in name order. After a batch in which a drain did not complete,
/// or could not run, no new batch starts unless
/// [`DrainManyParams::continue_on_failure`] is set; the nodes not reached
/// are in [`DrainManyReport::not_started`].
///
/// `Err` means nothing could start (a named node is missing, nodes cannot
/// be listed, invalid options).
///
/// # Cancel safety
/// With the drain's [`cancel`](DrainParams::cancel) token: the running
/// drains stop as [`drain`](crate::drain) describes, no new batch starts,
/// and the wait for replacements ends. Cordoned nodes stay cordoned.
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
    let mut nodes = selection.resolve(cluster).await?;
    nodes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    nodes.dedup_by(|a, b| a.metadata.name == b.metadata.name);
    let names: Vec<String> = nodes.iter().filter_map(|n| n.metadata.name.clone()).collect();
    let cancel = params.drain.cancel.clone().unwrap_or_default();
    let drain_params = DrainParams { cancel: Some(cancel.clone()), ..params.drain.clone() };
    let mut report = DrainManyReport {
        cordons: Vec::new(),
        nodes: Vec::new(),
        errors: BTreeMap::new(),
        not_started: Vec::new(),
        replacements_not_ready: Vec::new(),
    };
    for node in &nodes {
        let name = node.metadata.name.clone().unwrap_or_default();
        if cancel.is_cancelled() {
            break;
        }
        let cordoned = node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
        let change = if cordoned {
            CordonChange::AlreadyInState
        } else {
            change_schedulability(cluster, &name, true, params.drain.dry_run).await
        };
        report.cordons.push((name, change));
    }
    progress.emit(DrainManyEvent::CordonedAll { nodes: names.clone() });
    let all: BTreeSet<String> = names.iter().cloned().collect();
    let mut batches = names.chunks(params.max_unavailable);
    for batch in batches.by_ref() {
        if cancel.is_cancelled() {
            report.not_started.extend(batch.iter().cloned());
            break;
        }
        // Baseline of Ready pods per controller owning pods in this batch.
        let baseline = match params.wait_for_replacements {
            Some(_) if params.drain.dry_run == DryRun::None => Some(baseline(cluster, batch).await?),
            _ => None,
        };
        let runs = batch.iter().map(|n| {
            let drain_params = &drain_params;
            async move {
                let sink = Tagged { node: n.clone(), inner: progress };
                (n.clone(), drain_with_progress(cluster, n, drain_params, &sink).await)
            }
        });
        let mut batch_ok = true;
        for (node, res) in join_all(runs).await {
            match res {
                Ok(r) => {
                    batch_ok &= r.status == DrainStatus::Completed;
                    progress.emit(DrainManyEvent::NodeFinished { node, status: r.status });
                    report.nodes.push(r);
                }
                Err(e) => {
                    batch_ok = false;
                    progress.emit(DrainManyEvent::NodeFinished { node: node.clone(), status: DrainStatus::Failed });
                    report.errors.insert(node, Failure::new(e));
                }
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
                if tokio::time::Instant::now() >= deadline || cancel.is_cancelled() {
                    report.replacements_not_ready.extend(short);
                    break;
                }
                progress.emit(DrainManyEvent::WaitingForReplacements { controllers: short });
                let pause = Duration::from_millis(500).min(deadline - tokio::time::Instant::now());
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = cancel.cancelled() => {}
                }
            }
        }
        if cancel.is_cancelled() || (!batch_ok && !params.continue_on_failure) {
            break;
        }
    }
    report.not_started.extend(batches.flatten().cloned());
    Ok(report)
}

/// The namespaces and Ready-pod counts of the controllers owning pods on `batch`.
async fn baseline(cluster: &Cluster, batch: &[String]) -> Result<(BTreeSet<String>, BTreeMap<ControllerKey, usize>)> {
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
    let want = owners
        .into_iter()
        .map(|k| {
            let c = counts.get(&k).copied().unwrap_or(0);
            (k, c)
        })
        .collect();
    Ok((namespaces, want))
}
