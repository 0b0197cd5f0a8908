//! Safe scale-in: choose nodes of a group (least loaded first, or given),
//! cordon and drain them, then terminate exactly those instances with a
//! desired-capacity decrement — so the cloud never removes a node that was
//! not drained. A dry run returns the plan and what each drain would do.

use std::{collections::BTreeSet, fmt};

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8sops_core::{
    paging, CancellationToken, Cluster, DryRun, Failure, FieldSelector, PodResources, ProgressSink, Quantity, Table,
};
use kube::{api::ListParams, Api};
use serde::Serialize;

use crate::{
    cordon::{change_schedulability, CordonChange},
    drain_with_progress,
    node_group::{instance_id, nodes_in_group},
    DrainEvent, DrainParams, DrainReport, DrainStatus, Error, Result,
};

/// How to choose the nodes to remove.
///
/// ```
/// use k8sops_nodes::{ScaleInParams, VictimChoice};
/// let named = ScaleInParams { victims: VictimChoice::Nodes(vec!["ip-10-0-0-6.ec2.internal".into()]), ..Default::default() };
/// let auto = ScaleInParams { victims: VictimChoice::LeastLoaded(2), ..Default::default() };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VictimChoice {
    /// The `n` nodes with the fewest CPU requests.
    LeastLoaded(usize),
    /// These nodes, by name.
    Nodes(Vec<String>),
}

/// Options for [`safe_scale_in`].
///
/// ```
/// // Remove the least-loaded node, draining it like `kubectl drain --ignore-daemonsets`.
/// let params = k8sops_nodes::ScaleInParams::default();
/// assert_eq!(params.victims, k8sops_nodes::VictimChoice::LeastLoaded(1));
/// assert!(!params.dry_run.is_dry_run());
/// ```
#[derive(Debug, Clone)]
pub struct ScaleInParams {
    /// Which nodes.
    pub victims: VictimChoice,
    /// How each node is drained (default: ignore DaemonSets, delete emptyDir
    /// data). Its `dry_run` and `cancel` are replaced by this operation's.
    pub drain: DrainParams,
    /// `--dry-run` for the whole scale-in, passed down to the cordons and
    /// drains: `Client` plans and shows what each drain would do, sending
    /// nothing; `Server` sends cordons and evictions with `dryRun=All`.
    /// Either way no instance is terminated.
    pub dry_run: DryRun,
    /// Stop: no cordon, eviction or termination is sent after it fires.
    pub cancel: Option<CancellationToken>,
}

impl Default for ScaleInParams {
    /// One least-loaded node, drained ignoring DaemonSets and deleting emptyDir data.
    fn default() -> Self {
        Self::least_loaded(1)
    }
}

impl ScaleInParams {
    /// Remove the `n` least-loaded nodes.
    ///
    /// ```
    /// let p = k8sops_nodes::ScaleInParams::least_loaded(2);
    /// assert!(p.drain.ignore_daemonsets);
    /// ```
    pub fn least_loaded(n: usize) -> Self {
        ScaleInParams {
            victims: VictimChoice::LeastLoaded(n),
            drain: DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true),
            dry_run: DryRun::None,
            cancel: None,
        }
    }
}

/// One node to remove.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use std::sync::Arc;
/// # use k8sops_core::backend::{InMemoryNodeGroups, Instance, NodeGroup, ScalingConfig};
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// # let nodes = k8sops_nodes::node_group::nodes_in_group(&server.cluster(), "general").await?;
/// # let mut group = NodeGroup::new("general", ScalingConfig { min: 1, max: 10, desired: nodes.len() as i32 });
/// # group.instances = nodes.iter().map(|n| Instance { id: k8sops_nodes::node_group::instance_id(n).unwrap(),
/// #     lifecycle_state: "InService".into(), health_status: "Healthy".into(), availability_zone: None }).collect();
/// # let cluster = server.cluster().to_builder().node_groups(Arc::new(InMemoryNodeGroups::new().with_group(group))).build();
/// let params = k8sops_nodes::ScaleInParams { dry_run: k8sops_nodes::DryRun::Client, ..k8sops_nodes::ScaleInParams::least_loaded(1) };
/// let report = k8sops_nodes::safe_scale_in(&cluster, "general", &params, &k8sops_core::NoProgress).await?;
/// for v in &report.plan.victims {
///     println!("{} ({}): {} pods, {} CPU requested", v.node, v.instance_id, v.pods, v.cpu_requests);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Victim {
    /// Node name.
    pub node: String,
    /// Cloud instance id.
    pub instance_id: String,
    /// CPU requests of its pods.
    pub cpu_requests: Quantity,
    /// Pods on it (not finished).
    pub pods: usize,
}

/// What [`safe_scale_in`] will do.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use std::sync::Arc;
/// # use k8sops_core::backend::{InMemoryNodeGroups, Instance, NodeGroup, ScalingConfig};
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// # let nodes = k8sops_nodes::node_group::nodes_in_group(&server.cluster(), "general").await?;
/// # let mut group = NodeGroup::new("general", ScalingConfig { min: 1, max: 10, desired: nodes.len() as i32 });
/// # group.instances = nodes.iter().map(|n| Instance { id: k8sops_nodes::node_group::instance_id(n).unwrap(),
/// #     lifecycle_state: "InService".into(), health_status: "Healthy".into(), availability_zone: None }).collect();
/// # let cluster = server.cluster().to_builder().node_groups(Arc::new(InMemoryNodeGroups::new().with_group(group))).build();
/// let params = k8sops_nodes::ScaleInParams { dry_run: k8sops_nodes::DryRun::Client, ..k8sops_nodes::ScaleInParams::least_loaded(1) };
/// let report = k8sops_nodes::safe_scale_in(&cluster, "general", &params, &k8sops_core::NoProgress).await?;
/// assert_eq!(report.plan.victims.len(), 1);
/// assert!(report.plan.desired_after >= report.plan.min);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScaleInPlan {
    /// The node group.
    pub group: String,
    /// Desired size now.
    pub desired_before: i32,
    /// Desired size afterwards.
    pub desired_after: i32,
    /// Minimum size of the group.
    pub min: i32,
    /// The nodes to drain and terminate, in order.
    pub victims: Vec<Victim>,
}

impl fmt::Display for ScaleInPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "node group {}: desired {} -> {} (min {})",
            self.group, self.desired_before, self.desired_after, self.min
        )?;
        let mut t = Table::new(["node", "instance", "cpu requests", "pods"]);
        for v in &self.victims {
            t.row([v.node.clone(), v.instance_id.clone(), v.cpu_requests.to_string(), v.pods.to_string()]);
        }
        write!(f, "{t}")
    }
}

/// Progress of [`safe_scale_in`].
///
/// ```
/// use k8sops_nodes::ScaleInEvent;
/// fn render(e: &ScaleInEvent) {
///     match e {
///         ScaleInEvent::Planned(plan) => println!("{plan}"),
///         ScaleInEvent::Terminated { .. } => println!("terminated"),
///         _ => {}
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum ScaleInEvent {
    /// The plan is made.
    Planned(ScaleInPlan),
    /// An event of one node's drain.
    Drain {
        /// Node.
        node: String,
        /// Event.
        event: DrainEvent,
    },
    /// A node was cordoned before the drains (or would be, in a dry run).
    Cordoned {
        /// Node.
        node: String,
        /// What happened.
        change: CordonChange,
    },
    /// An instance was terminated and the desired size lowered.
    Terminated {
        /// Node.
        node: String,
        /// Instance.
        instance_id: String,
    },
}

/// How a scale-in ended.
///
/// ```
/// assert_eq!(k8sops_nodes::ScaleInStatus::Completed.to_string(), "completed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ScaleInStatus {
    /// Every victim was drained and terminated (in a dry run: would be).
    Completed,
    /// A cordon, drain or termination did not succeed; nothing after it was
    /// terminated. The victims say which nodes are cordoned, drained, terminated.
    Failed,
    /// The caller cancelled; nothing was sent after that.
    Cancelled,
}

impl fmt::Display for ScaleInStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScaleInStatus::Completed => "completed",
            ScaleInStatus::Failed => "failed",
            ScaleInStatus::Cancelled => "cancelled",
        })
    }
}

/// What happened to one victim's instance.
///
/// ```
/// use k8sops_nodes::Termination;
/// assert_ne!(Termination::NotAttempted, Termination::Terminated);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Termination {
    /// Not attempted (the drain did not complete, an earlier victim failed,
    /// or the scale-in was cancelled).
    NotAttempted,
    /// Dry run: the drain completed as a dry run; the instance would be terminated.
    WouldTerminate,
    /// Terminated, with the desired size lowered.
    Terminated,
    /// The backend refused or failed.
    Failed(Failure<k8sops_core::Error>),
}

/// One victim's cordon, drain and termination.
///
/// ```
/// fn drained(v: &k8sops_nodes::VictimOutcome) -> bool {
///     v.drain.as_ref().is_some_and(|d| d.status == k8sops_nodes::DrainStatus::Completed)
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VictimOutcome {
    /// Node.
    pub node: String,
    /// Its instance.
    pub instance_id: String,
    /// The cordon before the drains; `None` when not reached.
    pub cordon: Option<CordonChange>,
    /// The drain; `None` when not reached.
    pub drain: Option<DrainReport>,
    /// The instance.
    pub termination: Termination,
    /// Why this victim's drain could not run at all (node gone, API
    /// unreachable), when that stopped the scale-in.
    pub error: Option<Failure<Error>>,
}

/// The result of [`safe_scale_in`]: the plan, one outcome per victim and
/// the status, which is the one truth about how it ended.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use std::sync::Arc;
/// # use k8sops_core::backend::{InMemoryNodeGroups, Instance, NodeGroup, ScalingConfig};
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// # let nodes = k8sops_nodes::node_group::nodes_in_group(&server.cluster(), "general").await?;
/// # let mut group = NodeGroup::new("general", ScalingConfig { min: 1, max: 10, desired: nodes.len() as i32 });
/// # group.instances = nodes.iter().map(|n| Instance { id: k8sops_nodes::node_group::instance_id(n).unwrap(),
/// #     lifecycle_state: "InService".into(), health_status: "Healthy".into(), availability_zone: None }).collect();
/// # let cluster = server.cluster().to_builder().node_groups(Arc::new(InMemoryNodeGroups::new().with_group(group))).build();
/// let params = k8sops_nodes::ScaleInParams { dry_run: k8sops_nodes::DryRun::Client, ..k8sops_nodes::ScaleInParams::least_loaded(1) };
/// let report = k8sops_nodes::safe_scale_in(&cluster, "general", &params, &k8sops_core::NoProgress).await?;
/// assert!(report.terminated().is_empty(), "a dry run terminates nothing");
/// assert!(report.cordoned().is_empty(), "a client dry run cordons nothing");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScaleInReport {
    /// What was planned.
    pub plan: ScaleInPlan,
    /// Whether this was a dry run.
    pub dry_run: DryRun,
    /// How it ended.
    pub status: ScaleInStatus,
    /// One entry per planned victim, in plan order.
    pub victims: Vec<VictimOutcome>,
}

impl ScaleInReport {
    /// Instances terminated.
    ///
    /// ```
    /// fn count(r: &k8sops_nodes::ScaleInReport) -> usize { r.terminated().len() }
    /// ```
    pub fn terminated(&self) -> Vec<&str> {
        self.victims
            .iter()
            .filter(|v| v.termination == Termination::Terminated)
            .map(|v| v.instance_id.as_str())
            .collect()
    }

    /// Nodes this scale-in cordoned and that still exist (not terminated):
    /// after a failure or cancel, these are left cordoned for the operator.
    ///
    /// ```
    /// fn left(r: &k8sops_nodes::ScaleInReport) -> Vec<&str> { r.cordoned() }
    /// ```
    pub fn cordoned(&self) -> Vec<&str> {
        if self.dry_run.is_dry_run() {
            return Vec::new();
        }
        self.victims
            .iter()
            .filter(|v| v.cordon == Some(CordonChange::Changed) && v.termination != Termination::Terminated)
            .map(|v| v.node.as_str())
            .collect()
    }

    /// One line: how many victims were terminated and what is left.
    ///
    /// ```
    /// fn line(r: &k8sops_nodes::ScaleInReport) -> String { r.summary() }
    /// ```
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} of {} instance(s) terminated", self.terminated().len(), self.victims.len())];
        for v in &self.victims {
            match (&v.cordon, &v.drain, &v.termination) {
                (Some(CordonChange::Failed(e)), _, _) => {
                    parts.push(format!("node {} could not be cordoned: {e}", v.node))
                }
                (_, Some(d), Termination::NotAttempted) if d.status != DrainStatus::Completed => {
                    parts.push(format!("node {} drain {}, not terminated", v.node, d.status))
                }
                (_, _, Termination::Failed(e)) => parts.push(format!("instance {} not terminated: {e}", v.instance_id)),
                _ => {}
            }
            if let Some(e) = &v.error {
                parts.push(format!("node {}: {e}", v.node));
            }
        }
        let left = self.cordoned();
        if !left.is_empty() {
            parts.push(format!("left cordoned: {}", left.join(", ")));
        }
        parts.join("; ")
    }

    /// The report if the scale-in completed, else [`Error::ScaleInIncomplete`] carrying it.
    ///
    /// ```
    /// fn check(r: k8sops_nodes::ScaleInReport) -> k8sops_nodes::Result<()> {
    ///     r.ensure_completed()?;
    ///     Ok(())
    /// }
    /// ```
    pub fn ensure_completed(self) -> Result<Self> {
        match self.status {
            ScaleInStatus::Completed => Ok(self),
            status => Err(Error::ScaleInIncomplete { group: self.plan.group.clone(), status, report: Box::new(self) }),
        }
    }
}

impl fmt::Display for ScaleInReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.plan)?;
        let dry = if self.dry_run.is_dry_run() { format!(" (dry run: {})", self.dry_run) } else { String::new() };
        writeln!(f, "scale-in {}{dry}: {}", self.status, self.summary())
    }
}

struct Tagged<'a> {
    node: String,
    inner: &'a dyn ProgressSink<ScaleInEvent>,
}

impl ProgressSink<DrainEvent> for Tagged<'_> {
    fn emit(&self, event: DrainEvent) {
        self.inner.emit(ScaleInEvent::Drain { node: self.node.clone(), event });
    }
}

async fn load_of(cluster: &Cluster, node: &str) -> Result<(Quantity, usize)> {
    let api: Api<Pod> = cluster.api_all();
    let fields =
        FieldSelector::new().eq("spec.nodeName", node).ne("status.phase", "Succeeded").ne("status.phase", "Failed");
    let mut cpu = Quantity::ZERO;
    let mut n = 0;
    let mut pages = std::pin::pin!(paging::pages(
        cluster,
        &api,
        ListParams::default().fields(&fields.to_string()),
        paging::DEFAULT_PAGE_SIZE
    ));
    while let Some(page) = pages.try_next().await? {
        for p in page {
            cpu += PodResources::of(&p).map_err(k8sops_core::Error::from)?.requests.get("cpu");
            n += 1;
        }
    }
    Ok((cpu, n))
}

/// Plans and performs a safe scale-in of `group` through the cluster's
/// [`NodeGroups`](k8sops_core::backend::NodeGroups) backend: every victim
/// must be one of the group's own instances (by the backend's instance list,
/// not only by labels), all victims are cordoned first, then each is drained
/// and its instance terminated with a desired-capacity decrement — only
/// after a real, [`Completed`](DrainStatus::Completed) drain of that node.
/// The first failure stops the scale-in: nothing after it is terminated.
///
/// `Err` means the scale-in could not start (no backend, group unknown, a
/// victim not in the group, minimum size); nothing was changed then. Once
/// it has started, what happened is in the [`ScaleInReport`] — which nodes
/// are cordoned, how each drain ended, which instances were terminated —
/// and its [`status`](ScaleInReport::status).
///
/// # Cancel safety
/// With [`ScaleInParams::cancel`], no cordon, eviction or termination is sent
/// after the token fires; the drain in progress stops as [`drain`](crate::drain)
/// describes, and the report says which victims are cordoned (they stay so),
/// drained and terminated.
///
/// ```
/// use std::sync::Arc;
/// use k8sops_core::backend::{InMemoryNodeGroups, Instance, NodeGroup, ScalingConfig};
/// use k8sops_nodes::{safe_scale_in, DryRun, ScaleInParams};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let nodes = k8sops_nodes::node_group::nodes_in_group(&server.cluster(), "general").await?;
/// let mut group = NodeGroup::new("general", ScalingConfig { min: 1, max: 10, desired: nodes.len() as i32 });
/// group.instances = nodes.iter().map(|n| Instance { id: k8sops_nodes::node_group::instance_id(n).unwrap(),
///     lifecycle_state: "InService".into(), health_status: "Healthy".into(), availability_zone: None }).collect();
/// let cluster = server.cluster().to_builder().node_groups(Arc::new(InMemoryNodeGroups::new().with_group(group))).build();
/// let params = ScaleInParams { dry_run: DryRun::Client, ..ScaleInParams::least_loaded(1) };
/// let plan = safe_scale_in(&cluster, "general", &params, &k8sops_core::NoProgress).await?.plan;
/// assert_eq!(plan.desired_after, plan.desired_before - 1);
/// println!("{plan}");
/// # Ok(()) }
/// ```
pub async fn safe_scale_in(
    cluster: &Cluster,
    group: &str,
    params: &ScaleInParams,
    progress: &dyn ProgressSink<ScaleInEvent>,
) -> Result<ScaleInReport> {
    let backend = cluster.node_groups()?.clone();
    let described = backend.describe(group).await?;
    // Only the group's own instances may be removed: labels and providerIDs can lie.
    let members: BTreeSet<&str> = described.instances.iter().map(|i| i.id.as_str()).collect();
    let nodes = nodes_in_group(cluster, group).await?;
    let mut candidates = Vec::new();
    for n in &nodes {
        let name = n.metadata.name.clone().unwrap_or_default();
        let Some(id) = instance_id(n) else { continue };
        if !members.contains(id.as_str()) {
            continue;
        }
        let (cpu, pods) = load_of(cluster, &name).await?;
        candidates.push(Victim { node: name, instance_id: id, cpu_requests: cpu, pods });
    }
    let victims: Vec<Victim> = match &params.victims {
        VictimChoice::LeastLoaded(n) => {
            candidates.sort_by(|a, b| a.cpu_requests.cmp(&b.cpu_requests).then(a.node.cmp(&b.node)));
            if *n > candidates.len() {
                return Err(Error::Invalid(format!(
                    "node group {group} has {} nodes that are its own instances; cannot remove {n}",
                    candidates.len()
                )));
            }
            candidates.into_iter().take(*n).collect()
        }
        VictimChoice::Nodes(names) => {
            let mut out: Vec<Victim> = Vec::new();
            for name in names {
                if out.iter().any(|v| &v.node == name) {
                    return Err(Error::Invalid(format!("node {name} is named twice")));
                }
                let v = candidates.iter().find(|c| &c.node == name).cloned().ok_or_else(|| {
                    Error::Invalid(format!(
                        "node {name} is not an instance of node group {group} (by the group's instance list, labels and providerID); nothing was changed"
                    ))
                })?;
                out.push(v);
            }
            out
        }
    };
    let remove = victims.len() as i32;
    let after = described.scaling.desired - remove;
    if after < described.scaling.min {
        return Err(Error::Invalid(format!(
            "removing {remove} node(s) would take node group {group} to {after}, below its minimum of {}; lower the minimum first",
            described.scaling.min
        )));
    }
    let plan = ScaleInPlan {
        group: group.to_string(),
        desired_before: described.scaling.desired,
        desired_after: after,
        min: described.scaling.min,
        victims,
    };
    progress.emit(ScaleInEvent::Planned(plan.clone()));
    let cancel = params.cancel.clone().unwrap_or_default();
    let mut report = ScaleInReport {
        plan: plan.clone(),
        dry_run: params.dry_run,
        status: ScaleInStatus::Completed,
        victims: plan
            .victims
            .iter()
            .map(|v| VictimOutcome {
                node: v.node.clone(),
                instance_id: v.instance_id.clone(),
                cordon: None,
                drain: None,
                termination: Termination::NotAttempted,
                error: None,
            })
            .collect(),
    };
    // Cordon every victim first so pods evicted from one do not land on the next.
    for v in &mut report.victims {
        if cancel.is_cancelled() {
            break;
        }
        let change = change_schedulability(cluster, &v.node, true, params.dry_run).await;
        progress.emit(ScaleInEvent::Cordoned { node: v.node.clone(), change: change.clone() });
        v.cordon = Some(change);
    }
    if cancel.is_cancelled() {
        report.status = ScaleInStatus::Cancelled;
        return Ok(report);
    }
    if report.victims.iter().any(|v| matches!(v.cordon, Some(CordonChange::Failed(_)))) {
        report.status = ScaleInStatus::Failed;
        return Ok(report);
    }
    let drain_params = DrainParams { dry_run: params.dry_run, cancel: Some(cancel.clone()), ..params.drain.clone() };
    for i in 0..report.victims.len() {
        let (node, id) = (report.victims[i].node.clone(), report.victims[i].instance_id.clone());
        if cancel.is_cancelled() {
            report.status = ScaleInStatus::Cancelled;
            return Ok(report);
        }
        let sink = Tagged { node: node.clone(), inner: progress };
        let drained = match drain_with_progress(cluster, &node, &drain_params, &sink).await {
            Ok(d) => d,
            Err(e) => {
                // The drain could not run; the scale-in has started, so the report says where it stopped.
                report.victims[i].error = Some(Failure::new(e));
                report.status = ScaleInStatus::Failed;
                return Ok(report);
            }
        };
        let status = drained.status;
        let empty = drained.node_is_empty();
        report.victims[i].drain = Some(drained);
        if status != DrainStatus::Completed {
            // A failed, refused, timed-out or cancelled drain never leads to a termination.
            let s = if status == DrainStatus::Cancelled { ScaleInStatus::Cancelled } else { ScaleInStatus::Failed };
            report.status = s;
            return Ok(report);
        }
        if !empty {
            // A dry-run drain completed: the instance would be terminated.
            report.victims[i].termination = Termination::WouldTerminate;
            continue;
        }
        if cancel.is_cancelled() {
            report.status = ScaleInStatus::Cancelled;
            return Ok(report);
        }
        match backend.terminate_instance(group, &id, true).await {
            Ok(()) => {
                report.victims[i].termination = Termination::Terminated;
                progress.emit(ScaleInEvent::Terminated { node: node.clone(), instance_id: id });
            }
            Err(e) => {
                report.victims[i].termination = Termination::Failed(Failure::new(e));
                report.status = ScaleInStatus::Failed;
                return Ok(report);
            }
        }
    }
    Ok(report)
}
