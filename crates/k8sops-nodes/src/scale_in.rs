//! Safe scale-in: choose nodes of a group (least loaded first, or given),
//! cordon and drain them, then terminate exactly those instances with a
//! desired-capacity decrement — so the cloud never removes a node that was
//! not drained. A dry run returns the plan.

use std::fmt;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8sops_core::{paging, Cluster, FieldSelector, PodResources, ProgressSink, Quantity, Table};
use kube::{api::ListParams, Api};
use serde::Serialize;

use crate::{
    cordon::set_unschedulable,
    drain,
    node_group::{instance_id, nodes_in_group},
    DrainEvent, DrainParams, DrainReport, Error, Result,
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
/// assert!(!params.dry_run);
/// ```
#[derive(Debug, Clone)]
pub struct ScaleInParams {
    /// Which nodes.
    pub victims: VictimChoice,
    /// How each node is drained (default: ignore DaemonSets, delete emptyDir data).
    pub drain: DrainParams,
    /// Plan only.
    pub dry_run: bool,
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
            dry_run: false,
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
/// let params = k8sops_nodes::ScaleInParams { dry_run: true, ..k8sops_nodes::ScaleInParams::least_loaded(1) };
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
/// let params = k8sops_nodes::ScaleInParams { dry_run: true, ..k8sops_nodes::ScaleInParams::least_loaded(1) };
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
    /// An instance was terminated and the desired size lowered.
    Terminated {
        /// Node.
        node: String,
        /// Instance.
        instance_id: String,
    },
}

/// The result of [`safe_scale_in`].
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
/// let params = k8sops_nodes::ScaleInParams { dry_run: true, ..k8sops_nodes::ScaleInParams::least_loaded(1) };
/// let report = k8sops_nodes::safe_scale_in(&cluster, "general", &params, &k8sops_core::NoProgress).await?;
/// assert!(report.terminated.is_empty(), "a dry run terminates nothing");
/// assert!(report.drains.is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScaleInReport {
    /// The plan.
    pub plan: ScaleInPlan,
    /// Drain reports, one per victim drained.
    pub drains: Vec<DrainReport>,
    /// Instances terminated.
    pub terminated: Vec<String>,
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

/// Plans (and unless `dry_run`, performs) a safe scale-in of `group`
/// through the cluster's [`NodeGroups`](k8sops_core::backend::NodeGroups)
/// backend. If a drain fails, nothing more is terminated: drained victims
/// are terminated, the failed one stays cordoned, and the error says so.
///
/// ```
/// use std::sync::Arc;
/// use k8sops_core::backend::{InMemoryNodeGroups, Instance, NodeGroup, ScalingConfig};
/// use k8sops_nodes::{safe_scale_in, ScaleInParams};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let nodes = k8sops_nodes::node_group::nodes_in_group(&server.cluster(), "general").await?;
/// let mut group = NodeGroup::new("general", ScalingConfig { min: 1, max: 10, desired: nodes.len() as i32 });
/// group.instances = nodes.iter().map(|n| Instance { id: k8sops_nodes::node_group::instance_id(n).unwrap(),
///     lifecycle_state: "InService".into(), health_status: "Healthy".into(), availability_zone: None }).collect();
/// let cluster = server.cluster().to_builder().node_groups(Arc::new(InMemoryNodeGroups::new().with_group(group))).build();
/// let plan = safe_scale_in(&cluster, "general", &ScaleInParams { dry_run: true, ..ScaleInParams::least_loaded(1) }, &k8sops_core::NoProgress).await?.plan;
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
    let nodes = nodes_in_group(cluster, group).await?;
    let mut candidates = Vec::new();
    for n in &nodes {
        let name = n.metadata.name.clone().unwrap_or_default();
        let Some(id) = instance_id(n) else { continue };
        let (cpu, pods) = load_of(cluster, &name).await?;
        candidates.push(Victim { node: name, instance_id: id, cpu_requests: cpu, pods });
    }
    let victims: Vec<Victim> = match &params.victims {
        VictimChoice::LeastLoaded(n) => {
            candidates.sort_by(|a, b| a.cpu_requests.cmp(&b.cpu_requests).then(a.node.cmp(&b.node)));
            if *n > candidates.len() {
                return Err(Error::Invalid(format!(
                    "node group {group} has {} nodes with an instance id; cannot remove {n}",
                    candidates.len()
                )));
            }
            candidates.into_iter().take(*n).collect()
        }
        VictimChoice::Nodes(names) => {
            let mut out = Vec::new();
            for name in names {
                let v = candidates.iter().find(|c| &c.node == name).cloned().ok_or_else(|| {
                    Error::Invalid(format!("node {name} is not in node group {group} (or has no instance id)"))
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
    let mut report = ScaleInReport { plan: plan.clone(), drains: Vec::new(), terminated: Vec::new() };
    if params.dry_run {
        return Ok(report);
    }
    // Cordon every victim first so pods evicted from one do not land on the next.
    for v in &plan.victims {
        set_unschedulable(cluster, &v.node, true, false).await?;
    }
    for v in &plan.victims {
        let sink = Tagged { node: v.node.clone(), inner: progress };
        let drained = drain(cluster, &v.node, &params.drain, &sink).await?;
        report.drains.push(drained);
        backend.terminate_instance(group, &v.instance_id, true).await?;
        progress.emit(ScaleInEvent::Terminated { node: v.node.clone(), instance_id: v.instance_id.clone() });
        report.terminated.push(v.instance_id.clone());
    }
    Ok(report)
}
