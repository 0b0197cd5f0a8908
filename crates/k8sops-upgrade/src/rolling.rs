//! Rolling node upgrade for any node-group backend: the nodes of a group
//! below the target version are handled `max_unavailable` at a time —
//! cordon and drain (as `kubectl drain`, through `k8sops-nodes`), replace or
//! upgrade through a [`NodeReplacer`], wait for the node (or its
//! replacement) to be Ready at the target version, uncordon a node upgraded
//! in place — and the upgrade stops once `max_failures` nodes failed. It can
//! be cancelled, and resumed from the report of an earlier run.
//!
//! The safety rule, as in `k8sops_nodes::safe_scale_in`: a node is handed to
//! the backend only after a real drain of it
//! [`Completed`](k8sops_nodes::DrainStatus::Completed); never after a
//! refused, timed-out, failed or cancelled drain, and never in a dry run.
//!
//! What is left cordoned (see [`RollingReport::left_cordoned`]):
//! - a node whose drain did not complete (refused, timed out, failed) is
//!   uncordoned again: nothing was asked of the backend, and it keeps
//!   serving at its old version;
//! - a node the backend refused to replace stays cordoned: the request may
//!   have gone through, and pods must not land on a node about to go away;
//! - a node upgraded in place (same name) is uncordoned once it is Ready at
//!   the target version; one that does not come back Ready in time stays
//!   cordoned (it is the backend's now: its outcome says so);
//! - after a cancel nothing more is sent: a node being drained stays
//!   cordoned, a node handed to the backend goes on being replaced there,
//!   and the report says which.
//!
//! Nodes come back under another name when the backend replaces them (an
//! Auto Scaling group launching a new instance): a new node of the group
//! that is Ready at the target version is matched to the node replaced,
//! in the order the new nodes become Ready.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use k8sops_upgrade::rolling::{rolling_upgrade, NodeReplacer, ReplaceRequest, RollingParams};
//! #[derive(Debug)]
//! struct Nothing;
//! #[async_trait::async_trait]
//! impl NodeReplacer for Nothing {
//!     fn backend_name(&self) -> String { "nothing".into() }
//!     async fn replace(&self, _: &ReplaceRequest) -> k8sops_core::Result<()> { Ok(()) }
//! }
//! let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
//! server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
//! // A client dry run: drains are planned, nothing is cordoned, evicted or replaced.
//! let params = RollingParams::new("1.30".parse()?).dry_run(k8sops_core::DryRun::Client);
//! let report = rolling_upgrade(&server.cluster(), "general", &Nothing, &params, &k8sops_core::NoProgress).await?;
//! print!("{report}");
//! assert_eq!(report.would_replace().len(), 4);
//! # Ok(()) }
//! ```

use std::{collections::BTreeSet, fmt, sync::Mutex, time::Duration};

use async_trait::async_trait;
use futures::future::join_all;
use k8s_openapi::api::core::v1::Node;
use k8sops_core::{
    backend::DynNodeGroups,
    object_status::{node_is_ready, node_is_unschedulable},
    CancellationToken, Cluster, DryRun, KubeVersion, ProgressSink, Table,
};
use k8sops_nodes::{
    drain_with_progress, node_group, uncordon, CordonChange, CordonParams, DrainEvent, DrainParams, DrainStatus,
    NodeSelection,
};
use serde::{Deserialize, Deserializer, Serialize};
use tokio::time::Instant;

use crate::{Error, Result};

/// What the backend is asked to replace: a node that is cordoned and
/// drained (every pod the drain handles is gone).
///
/// ```
/// let r = k8sops_upgrade::rolling::ReplaceRequest {
///     node: "ip-10-0-0-5.ec2.internal".into(), group: "general".into(),
///     instance_id: Some("i-0abc".into()), target: "1.30".parse().unwrap(),
/// };
/// assert_eq!(r.instance_id.as_deref(), Some("i-0abc"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplaceRequest {
    /// The node.
    pub node: String,
    /// Its node group.
    pub group: String,
    /// Its cloud instance, from `spec.providerID`.
    pub instance_id: Option<String>,
    /// The version it should come back at.
    pub target: KubeVersion,
}

/// Replaces or upgrades one drained node. The rolling upgrade then waits for
/// the node — or a new node of the same group — to be Ready at the target.
///
/// ```
/// use k8sops_upgrade::rolling::{NodeReplacer, ReplaceRequest};
/// #[derive(Debug)]
/// struct Logger;
/// #[async_trait::async_trait]
/// impl NodeReplacer for Logger {
///     fn backend_name(&self) -> String { "logger".into() }
///     async fn replace(&self, r: &ReplaceRequest) -> k8sops_core::Result<()> {
///         println!("would replace {} ({:?}) with a {} node", r.node, r.instance_id, r.target);
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait NodeReplacer: Send + Sync + fmt::Debug {
    /// A short name for messages.
    fn backend_name(&self) -> String;

    /// Starts replacing (or upgrading in place) the node; returns once the
    /// backend accepted the request. An error leaves the node cordoned.
    async fn replace(&self, request: &ReplaceRequest) -> k8sops_core::Result<()>;
}

/// A [`NodeReplacer`] over a [`NodeGroups`](k8sops_core::backend::NodeGroups)
/// backend: it terminates the node's instance without lowering the desired
/// size, so the group launches a replacement from its current launch
/// template. Point the group's launch template (or AMI) at the target
/// version first. (EKS managed node groups replace their nodes themselves
/// with `update-nodegroup-version`.)
///
/// ```
/// use std::sync::Arc;
/// let replacer = k8sops_upgrade::rolling::NodeGroupReplacer::new(Arc::new(k8sops_core::backend::InMemoryNodeGroups::new()));
/// ```
#[derive(Debug, Clone)]
pub struct NodeGroupReplacer {
    backend: DynNodeGroups,
}

impl NodeGroupReplacer {
    /// Replaces nodes through `backend`.
    ///
    /// ```
    /// # fn f(cluster: &k8sops_core::Cluster) -> k8sops_core::Result<()> {
    /// let replacer = k8sops_upgrade::rolling::NodeGroupReplacer::new(cluster.node_groups()?.clone());
    /// # Ok(()) }
    /// ```
    pub fn new(backend: DynNodeGroups) -> Self {
        NodeGroupReplacer { backend }
    }
}

#[async_trait]
impl NodeReplacer for NodeGroupReplacer {
    fn backend_name(&self) -> String {
        self.backend.backend_name()
    }

    async fn replace(&self, request: &ReplaceRequest) -> k8sops_core::Result<()> {
        let Some(id) = &request.instance_id else {
            return Err(k8sops_core::Error::InvalidInput {
                message: format!(
                    "node {} has no cloud instance id in spec.providerID; {} cannot replace it",
                    request.node,
                    self.backend.backend_name()
                ),
                source: None,
            });
        };
        self.backend.terminate_instance(&request.group, id, false).await
    }
}

/// Options for [`rolling_upgrade`].
///
/// ```
/// use std::time::Duration;
/// use k8sops_upgrade::rolling::RollingParams;
/// // Two nodes at a time, go on past up to 3 failed nodes, 20 minutes for each node to come back.
/// let params = RollingParams::new("1.30".parse().unwrap())
///     .max_unavailable(2)
///     .max_failures(3)
///     .ready_timeout(Duration::from_secs(1200));
/// assert!(params.drain.ignore_daemonsets);
/// ```
#[derive(Debug, Clone)]
pub struct RollingParams {
    /// The version every node must reach; nodes at or above it are left alone.
    pub target: KubeVersion,
    /// How many nodes may be out of service at once (default 1).
    pub max_unavailable: usize,
    /// Start no new node once this many nodes failed in this run (default 1:
    /// the first failure stops the upgrade). A failed node is one whose drain
    /// did not complete, whose replacement was refused, or that did not come
    /// back Ready in time.
    pub max_failures: usize,
    /// How each node is drained (default: ignore DaemonSets, delete emptyDir
    /// data, 15-minute timeout, as EKS drains managed nodes). Its `dry_run`
    /// and `cancel` are replaced by this operation's.
    pub drain: DrainParams,
    /// How long a node may take to be Ready at the target once the backend
    /// accepted its replacement (default 15 minutes).
    pub ready_timeout: Duration,
    /// Time between two checks for the Ready node (default 10 s).
    pub poll_interval: Duration,
    /// `--dry-run`: `Client` plans and shows each drain, sending nothing;
    /// `Server` sends cordons and evictions with `dryRun=All`. Either way
    /// nothing is replaced.
    pub dry_run: DryRun,
    /// The report of an earlier run of the same group and target, to go on
    /// where it stopped (see [`rolling_upgrade`]).
    pub resume_from: Option<RollingReport>,
    /// Stop: no cordon, eviction, replacement or uncordon is sent after it
    /// fires. A replacement request already sent is awaited, not abandoned:
    /// cut off mid-flight, nobody would know whether the backend started
    /// replacing the node.
    pub cancel: Option<CancellationToken>,
}

impl RollingParams {
    /// Defaults for an upgrade to `target`.
    ///
    /// ```
    /// let p = k8sops_upgrade::rolling::RollingParams::new("1.30".parse().unwrap());
    /// assert_eq!((p.max_unavailable, p.max_failures), (1, 1));
    /// ```
    pub fn new(target: KubeVersion) -> Self {
        RollingParams {
            target,
            max_unavailable: 1,
            max_failures: 1,
            drain: DrainParams::default()
                .ignore_daemonsets(true)
                .delete_emptydir_data(true)
                .timeout(Duration::from_secs(15 * 60)),
            ready_timeout: Duration::from_secs(15 * 60),
            poll_interval: Duration::from_secs(10),
            dry_run: DryRun::None,
            resume_from: None,
            cancel: None,
        }
    }

    /// Sets [`max_unavailable`](Self::max_unavailable).
    ///
    /// ```
    /// assert_eq!(k8sops_upgrade::rolling::RollingParams::new("1.30".parse().unwrap()).max_unavailable(3).max_unavailable, 3);
    /// ```
    #[must_use]
    pub fn max_unavailable(mut self, n: usize) -> Self {
        self.max_unavailable = n;
        self
    }

    /// Sets [`max_failures`](Self::max_failures).
    ///
    /// ```
    /// assert_eq!(k8sops_upgrade::rolling::RollingParams::new("1.30".parse().unwrap()).max_failures(2).max_failures, 2);
    /// ```
    #[must_use]
    pub fn max_failures(mut self, n: usize) -> Self {
        self.max_failures = n;
        self
    }

    /// Sets [`drain`](Self::drain). A drain without a timeout keeps the
    /// current one (15 minutes by default): a drain that a budget blocks
    /// must end, so that the upgrade reports it and goes on or stops.
    ///
    /// ```
    /// use std::time::Duration;
    /// let drain = k8sops_nodes::DrainParams::default().ignore_daemonsets(true).timeout(Duration::from_secs(60));
    /// let p = k8sops_upgrade::rolling::RollingParams::new("1.30".parse().unwrap()).drain(drain);
    /// assert_eq!(p.drain.timeout, Some(Duration::from_secs(60)));
    /// // kubectl's default (no timeout) keeps the upgrade's.
    /// let p = p.drain(k8sops_nodes::DrainParams::default());
    /// assert_eq!(p.drain.timeout, Some(Duration::from_secs(60)));
    /// ```
    #[must_use]
    pub fn drain(mut self, params: DrainParams) -> Self {
        let timeout = params.timeout.or(self.drain.timeout);
        self.drain = DrainParams { timeout, ..params };
        self
    }

    /// Sets [`ready_timeout`](Self::ready_timeout).
    ///
    /// ```
    /// let p = k8sops_upgrade::rolling::RollingParams::new("1.30".parse().unwrap()).ready_timeout(std::time::Duration::from_secs(60));
    /// assert_eq!(p.ready_timeout.as_secs(), 60);
    /// ```
    #[must_use]
    pub fn ready_timeout(mut self, d: Duration) -> Self {
        self.ready_timeout = d;
        self
    }

    /// Sets [`poll_interval`](Self::poll_interval).
    ///
    /// ```
    /// let p = k8sops_upgrade::rolling::RollingParams::new("1.30".parse().unwrap()).poll_interval(std::time::Duration::from_secs(2));
    /// assert_eq!(p.poll_interval.as_secs(), 2);
    /// ```
    #[must_use]
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }

    /// Sets [`dry_run`](Self::dry_run).
    ///
    /// ```
    /// let p = k8sops_upgrade::rolling::RollingParams::new("1.30".parse().unwrap()).dry_run(k8sops_core::DryRun::Server);
    /// assert!(p.dry_run.is_dry_run());
    /// ```
    #[must_use]
    pub fn dry_run(mut self, mode: DryRun) -> Self {
        self.dry_run = mode;
        self
    }

    /// Sets [`resume_from`](Self::resume_from).
    ///
    /// ```
    /// fn again(previous: k8sops_upgrade::rolling::RollingReport) -> k8sops_upgrade::rolling::RollingParams {
    ///     k8sops_upgrade::rolling::RollingParams::new(previous.target.clone()).resume_from(previous)
    /// }
    /// ```
    #[must_use]
    pub fn resume_from(mut self, report: RollingReport) -> Self {
        self.resume_from = Some(report);
        self
    }

    /// Sets [`cancel`](Self::cancel).
    ///
    /// ```
    /// let p = k8sops_upgrade::rolling::RollingParams::new("1.30".parse().unwrap()).cancel(k8sops_core::CancellationToken::new());
    /// assert!(p.cancel.is_some());
    /// ```
    #[must_use]
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }
}

/// A step of one node's upgrade, for outcomes that stopped in it.
///
/// ```
/// assert_eq!(k8sops_upgrade::rolling::Stage::WaitingForReady.to_string(), "waiting for the node to be Ready");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// Cordoning and draining.
    Draining,
    /// Asking the backend to replace the node.
    Replacing,
    /// Waiting for the node or its replacement to be Ready at the target.
    WaitingForReady,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Draining => "draining",
            Stage::Replacing => "replacing",
            Stage::WaitingForReady => "waiting for the node to be Ready",
        })
    }
}

fn de_drain_status<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<DrainStatus, D::Error> {
    // DrainStatus serializes as its variant name.
    let s = String::deserialize(d)?;
    Ok(match s.as_str() {
        "Completed" => DrainStatus::Completed,
        "Refused" => DrainStatus::Refused,
        "TimedOut" => DrainStatus::TimedOut,
        "Cancelled" => DrainStatus::Cancelled,
        "Failed" => DrainStatus::Failed,
        other => {
            return Err(serde::de::Error::unknown_variant(
                other,
                &["Completed", "Refused", "TimedOut", "Cancelled", "Failed"],
            ))
        }
    })
}

/// What happened to one node.
///
/// ```
/// # fn show(report: &k8sops_upgrade::rolling::RollingReport) {
/// use k8sops_upgrade::rolling::NodeOutcome;
/// for n in &report.nodes {
///     match &n.outcome {
///         NodeOutcome::Upgraded { node, version } => println!("{} -> {node} at {version}", n.node),
///         NodeOutcome::DrainFailed { summary, .. } => println!("{}: {summary}", n.node),
///         other => println!("{}: {other}", n.node),
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeOutcome {
    /// Not reached (the upgrade stopped or was cancelled first).
    NotStarted,
    /// Already at (or above) the target version; left alone.
    AlreadyAtTarget {
        /// Its kubelet version.
        version: KubeVersion,
    },
    /// Ready at the target version: the same node (upgraded in place) or
    /// the new node that replaced it.
    Upgraded {
        /// The node now serving, at the target.
        node: String,
        /// Its kubelet version.
        version: KubeVersion,
    },
    /// Dry run: the drain would complete, so the node would be replaced.
    WouldReplace,
    /// The drain did not complete (refused, timed out, failed): the node was
    /// not replaced and was uncordoned again.
    DrainFailed {
        /// How the drain ended.
        #[serde(deserialize_with = "de_drain_status")]
        status: DrainStatus,
        /// What stopped it, naming pods and budgets.
        summary: String,
    },
    /// The backend did not accept the replacement; the node, drained, stays cordoned.
    ReplaceFailed {
        /// The backend's error.
        reason: String,
    },
    /// Neither the node nor a replacement was Ready at the target in time.
    NotReadyInTime {
        /// How long it was waited for.
        waited: Duration,
    },
    /// A step could not run at all (the node vanished, the API server did not answer).
    Error {
        /// Which step.
        stage: Stage,
        /// The error.
        reason: String,
    },
    /// The upgrade was cancelled during this node's `stage`.
    Cancelled {
        /// Where it stopped.
        stage: Stage,
    },
}

impl NodeOutcome {
    /// Whether this counts as a failed node (against
    /// [`RollingParams::max_failures`]).
    ///
    /// ```
    /// use k8sops_upgrade::rolling::NodeOutcome;
    /// assert!(NodeOutcome::ReplaceFailed { reason: "quota".into() }.is_failure());
    /// assert!(!NodeOutcome::NotStarted.is_failure());
    /// ```
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            NodeOutcome::DrainFailed { .. }
                | NodeOutcome::ReplaceFailed { .. }
                | NodeOutcome::NotReadyInTime { .. }
                | NodeOutcome::Error { .. }
        )
    }

    /// Whether the node is done: upgraded or already at the target.
    ///
    /// ```
    /// use k8sops_upgrade::rolling::NodeOutcome;
    /// assert!(NodeOutcome::AlreadyAtTarget { version: "1.30.2".parse().unwrap() }.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        matches!(self, NodeOutcome::Upgraded { .. } | NodeOutcome::AlreadyAtTarget { .. })
    }
}

impl fmt::Display for NodeOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeOutcome::NotStarted => f.write_str("not started"),
            NodeOutcome::AlreadyAtTarget { version } => write!(f, "already at {version}"),
            NodeOutcome::Upgraded { node, version } => write!(f, "upgraded: {node} at {version}"),
            NodeOutcome::WouldReplace => f.write_str("would be drained and replaced (dry run)"),
            NodeOutcome::DrainFailed { status, summary } => write!(f, "drain {status}, not replaced: {summary}"),
            NodeOutcome::ReplaceFailed { reason } => write!(f, "replacement refused: {reason}"),
            NodeOutcome::NotReadyInTime { waited } => {
                write!(f, "not Ready at the target after {}s", waited.as_secs())
            }
            NodeOutcome::Error { stage, reason } => write!(f, "error while {stage}: {reason}"),
            NodeOutcome::Cancelled { stage } => write!(f, "cancelled while {stage}"),
        }
    }
}

/// One node's line in the report.
///
/// ```
/// # fn show(report: &k8sops_upgrade::rolling::RollingReport) {
/// for n in &report.nodes {
///     println!("{} from {:?}: {} (cordoned by the upgrade: {})", n.node, n.from_version, n.outcome, n.cordoned);
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The node.
    pub node: String,
    /// Its cloud instance, from `spec.providerID`.
    pub instance_id: Option<String>,
    /// Its kubelet version before the upgrade.
    pub from_version: Option<KubeVersion>,
    /// What happened.
    pub outcome: NodeOutcome,
    /// Whether this upgrade cordoned it (it was schedulable before).
    pub cordoned: bool,
    /// Whether the backend was asked to replace it.
    pub replace_requested: bool,
    /// Whether this upgrade made it schedulable again.
    pub uncordoned: bool,
    /// Why uncordoning it failed, if it did.
    pub uncordon_error: Option<String>,
}

impl NodeRecord {
    fn new(node: &Node, outcome: NodeOutcome) -> Self {
        NodeRecord {
            node: node.metadata.name.clone().unwrap_or_default(),
            instance_id: node_group::instance_id(node),
            from_version: kubelet_version(node),
            outcome,
            cordoned: false,
            replace_requested: false,
            uncordoned: false,
            uncordon_error: None,
        }
    }
}

/// How the rolling upgrade ended.
///
/// ```
/// assert_eq!(k8sops_upgrade::rolling::RollingStatus::Stopped.to_string(), "stopped");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RollingStatus {
    /// Every node is at the target (or, in a dry run, would be replaced).
    Completed,
    /// Every node was attempted, and some failed (fewer than `max_failures`).
    Failed,
    /// `max_failures` nodes failed; the rest were not started.
    Stopped,
    /// Cancelled; the rest were not started.
    Cancelled,
}

impl fmt::Display for RollingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RollingStatus::Completed => "completed",
            RollingStatus::Failed => "failed",
            RollingStatus::Stopped => "stopped",
            RollingStatus::Cancelled => "cancelled",
        })
    }
}

/// The result of [`rolling_upgrade`]: one record per node of the group,
/// how it ended and why it stopped. Serializes to JSON (or YAML) and back,
/// so a later run can resume from it ([`RollingParams::resume_from`]).
///
/// ```
/// # fn save(report: &k8sops_upgrade::rolling::RollingReport) -> Result<(), Box<dyn std::error::Error>> {
/// let json = serde_json::to_string(report)?;
/// let back: k8sops_upgrade::rolling::RollingReport = serde_json::from_str(&json)?;
/// assert_eq!(&back, report);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollingReport {
    /// The node group.
    pub group: String,
    /// The target version.
    pub target: KubeVersion,
    /// The dry-run mode of this run.
    pub dry_run: DryRun,
    /// How it ended.
    pub status: RollingStatus,
    /// Why it stopped early, naming the node: failures past the limit or a cancel.
    pub stop_reason: Option<String>,
    /// Every node of the group (and those of the resumed report), in the
    /// order they were handled.
    pub nodes: Vec<NodeRecord>,
    /// Wall time of this run.
    pub elapsed: Duration,
}

impl RollingReport {
    fn names(&self, f: impl Fn(&NodeRecord) -> bool) -> Vec<&str> {
        self.nodes.iter().filter(|n| f(n)).map(|n| n.node.as_str()).collect()
    }

    /// Nodes upgraded (in this run or the resumed one).
    ///
    /// ```
    /// fn count(r: &k8sops_upgrade::rolling::RollingReport) -> usize { r.upgraded().len() }
    /// ```
    pub fn upgraded(&self) -> Vec<&str> {
        self.names(|n| matches!(n.outcome, NodeOutcome::Upgraded { .. }))
    }

    /// Nodes that failed.
    ///
    /// ```
    /// fn failed(r: &k8sops_upgrade::rolling::RollingReport) -> Vec<&str> { r.failed() }
    /// ```
    pub fn failed(&self) -> Vec<&str> {
        self.names(|n| n.outcome.is_failure())
    }

    /// Nodes not reached.
    ///
    /// ```
    /// fn left(r: &k8sops_upgrade::rolling::RollingReport) -> Vec<&str> { r.not_started() }
    /// ```
    pub fn not_started(&self) -> Vec<&str> {
        self.names(|n| n.outcome == NodeOutcome::NotStarted)
    }

    /// Dry run: nodes whose drain would complete, so they would be replaced.
    ///
    /// ```
    /// fn planned(r: &k8sops_upgrade::rolling::RollingReport) -> Vec<&str> { r.would_replace() }
    /// ```
    pub fn would_replace(&self) -> Vec<&str> {
        self.names(|n| n.outcome == NodeOutcome::WouldReplace)
    }

    /// Nodes this upgrade cordoned, did not uncordon and did not hand to the
    /// backend: they are cordoned now and need an operator's decision (or a
    /// resumed run) — after a cancel during their drain, or a refused
    /// replacement. Nodes handed to the backend are the backend's: see
    /// their outcome ([`NodeOutcome::NotReadyInTime`], or a cancel while
    /// waiting for them).
    ///
    /// ```
    /// fn check(r: &k8sops_upgrade::rolling::RollingReport) {
    ///     for n in r.left_cordoned() { eprintln!("node {n} is still cordoned"); }
    /// }
    /// ```
    pub fn left_cordoned(&self) -> Vec<&str> {
        self.names(|n| n.cordoned && !n.uncordoned && !n.replace_requested)
    }

    /// One line: how many nodes are upgraded, failed, not started, left cordoned.
    ///
    /// ```
    /// fn line(r: &k8sops_upgrade::rolling::RollingReport) -> String { r.summary() }
    /// ```
    pub fn summary(&self) -> String {
        let done = self.nodes.iter().filter(|n| n.outcome.is_done()).count();
        let mut parts = vec![format!("{done} of {} node(s) at {}", self.nodes.len(), self.target)];
        if self.dry_run.is_dry_run() {
            parts.push(format!("{} would be replaced (dry run: {})", self.would_replace().len(), self.dry_run));
        }
        for n in self.nodes.iter().filter(|n| n.outcome.is_failure()) {
            parts.push(format!("node {}: {}", n.node, n.outcome));
        }
        if let Some(why) = &self.stop_reason {
            parts.push(why.clone());
        }
        let not_started = self.not_started();
        if !not_started.is_empty() {
            parts.push(format!("not started: {}", not_started.join(", ")));
        }
        let left = self.left_cordoned();
        if !left.is_empty() {
            parts.push(format!("left cordoned: {}", left.join(", ")));
        }
        parts.join("; ")
    }

    /// The report if every node is at the target, else
    /// [`Error::RollingIncomplete`] carrying it. A completed dry run passes.
    ///
    /// ```
    /// fn check(r: k8sops_upgrade::rolling::RollingReport) -> k8sops_upgrade::Result<()> {
    ///     r.ensure_completed()?;
    ///     Ok(())
    /// }
    /// ```
    pub fn ensure_completed(self) -> Result<Self> {
        match self.status {
            RollingStatus::Completed => Ok(self),
            status => Err(Error::RollingIncomplete { group: self.group.clone(), status, report: Box::new(self) }),
        }
    }

    /// The report as a table: node, from, outcome, cordon.
    ///
    /// ```
    /// fn show(r: &k8sops_upgrade::rolling::RollingReport) { print!("{}", r.table()); }
    /// ```
    pub fn table(&self) -> Table {
        let mut t = Table::new(["node", "from", "outcome", "cordon"]);
        for n in &self.nodes {
            let cordon = match (n.cordoned, n.uncordoned, &n.uncordon_error) {
                (_, _, Some(e)) => format!("uncordon failed: {e}"),
                (true, true, _) => "uncordoned".to_string(),
                (true, false, _) if self.left_cordoned().contains(&n.node.as_str()) => "left cordoned".to_string(),
                _ => String::new(),
            };
            let from = n.from_version.as_ref().map(ToString::to_string).unwrap_or_default();
            t.row([n.node.clone(), from, n.outcome.to_string(), cordon]);
        }
        t
    }
}

impl fmt::Display for RollingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.table())?;
        let dry = if self.dry_run.is_dry_run() { format!(" (dry run: {})", self.dry_run) } else { String::new() };
        writeln!(
            f,
            "rolling upgrade of node group {} to {} {}{dry} in {:.1}s: {}",
            self.group,
            self.target,
            self.status,
            self.elapsed.as_secs_f64(),
            self.summary()
        )
    }
}

/// Progress of [`rolling_upgrade`].
///
/// ```
/// use k8sops_upgrade::rolling::RollingEvent;
/// let show = |e: RollingEvent| match e {
///     RollingEvent::Upgraded { node, new_node, .. } => println!("{node} -> {new_node}"),
///     RollingEvent::NodeFailed { node, outcome } => println!("{node}: {outcome}"),
///     _ => {}
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum RollingEvent {
    /// The plan: nodes to upgrade (in order) and nodes already at the target.
    Planned {
        /// Nodes to upgrade.
        upgrade: Vec<String>,
        /// Nodes left alone.
        already_at_target: Vec<String>,
    },
    /// An event of one node's drain.
    Drain {
        /// The node.
        node: String,
        /// The event.
        event: DrainEvent,
    },
    /// A node's drain ended.
    Drained {
        /// The node.
        node: String,
        /// How.
        status: DrainStatus,
    },
    /// The backend is asked to replace the node.
    Replacing {
        /// The node.
        node: String,
    },
    /// Waiting for the node or its replacement to be Ready at the target.
    WaitingForReady {
        /// The node.
        node: String,
    },
    /// The node (or its replacement) is Ready at the target.
    Upgraded {
        /// The node replaced or upgraded.
        node: String,
        /// The node now serving.
        new_node: String,
        /// Its kubelet version.
        version: KubeVersion,
    },
    /// A node this upgrade cordoned is schedulable again.
    Uncordoned {
        /// The node.
        node: String,
    },
    /// A node failed or was cancelled.
    NodeFailed {
        /// The node.
        node: String,
        /// How.
        outcome: NodeOutcome,
    },
    /// No new node is started: failures past the limit, or a cancel.
    Stopped {
        /// Why.
        reason: String,
    },
}

fn kubelet_version(node: &Node) -> Option<KubeVersion> {
    node.status.as_ref()?.node_info.as_ref()?.kubelet_version.parse().ok()
}

fn at_target(node: &Node, target: &KubeVersion) -> bool {
    kubelet_version(node).is_some_and(|v| v >= *target)
}

struct Tagged<'a> {
    node: String,
    inner: &'a dyn ProgressSink<RollingEvent>,
}

impl ProgressSink<DrainEvent> for Tagged<'_> {
    fn emit(&self, event: DrainEvent) {
        self.inner.emit(RollingEvent::Drain { node: self.node.clone(), event });
    }
}

/// What the nodes of one batch share.
struct Run<'a> {
    cluster: &'a Cluster,
    group: &'a str,
    replacer: &'a dyn NodeReplacer,
    params: &'a RollingParams,
    progress: &'a dyn ProgressSink<RollingEvent>,
    cancel: CancellationToken,
    /// Nodes that cannot be a replacement: present at the start, or already matched.
    accounted: Mutex<BTreeSet<String>>,
}

impl Run<'_> {
    fn accounted(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.accounted.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn uncordon(&self, rec: &mut NodeRecord) {
        // Nothing is sent after a cancel; a dry run only asks (client) or sends dryRun=All (server).
        if self.cancel.is_cancelled() {
            return;
        }
        let dry_run = self.params.dry_run;
        match uncordon(self.cluster, &NodeSelection::name(rec.node.clone()), CordonParams { dry_run }).await {
            Ok(report) => match report.failed().next() {
                Some((_, e)) => rec.uncordon_error = Some(e.to_string()),
                None if dry_run.is_dry_run() => {}
                None => {
                    rec.uncordoned = true;
                    self.progress.emit(RollingEvent::Uncordoned { node: rec.node.clone() });
                }
            },
            Err(e) => rec.uncordon_error = Some(e.to_string()),
        }
    }

    fn finish(&self, rec: &mut NodeRecord, outcome: NodeOutcome) {
        if outcome.is_failure() || matches!(outcome, NodeOutcome::Cancelled { .. }) {
            self.progress.emit(RollingEvent::NodeFailed { node: rec.node.clone(), outcome: outcome.clone() });
        }
        rec.outcome = outcome;
    }

    /// Cordon, drain, replace, wait; or only wait when the replacement was
    /// requested by an earlier run.
    async fn upgrade(&self, rec: &mut NodeRecord) {
        if self.cancel.is_cancelled() {
            return;
        }
        if !rec.replace_requested {
            let node = rec.node.clone();
            let drain_params = DrainParams {
                dry_run: self.params.dry_run,
                cancel: Some(self.cancel.clone()),
                ..self.params.drain.clone()
            };
            let sink = Tagged { node: node.clone(), inner: self.progress };
            let report = match drain_with_progress(self.cluster, &node, &drain_params, &sink).await {
                Ok(r) => r,
                Err(e) => {
                    return self.finish(rec, NodeOutcome::Error { stage: Stage::Draining, reason: e.to_string() })
                }
            };
            if report.cordon == CordonChange::Changed && !self.params.dry_run.is_dry_run() {
                rec.cordoned = true;
            }
            self.progress.emit(RollingEvent::Drained { node: node.clone(), status: report.status });
            match report.status {
                DrainStatus::Completed if report.node_is_empty() => {}
                // A dry-run drain "completed": nothing is replaced.
                DrainStatus::Completed => return self.finish(rec, NodeOutcome::WouldReplace),
                DrainStatus::Cancelled => return self.finish(rec, NodeOutcome::Cancelled { stage: Stage::Draining }),
                status => {
                    let summary = report.ensure_completed().err().map(|e| e.to_string()).unwrap_or_default();
                    // Nothing was asked of the backend: the node keeps serving at its old version.
                    if rec.cordoned {
                        self.uncordon(rec).await;
                    }
                    return self.finish(rec, NodeOutcome::DrainFailed { status, summary });
                }
            }
            if self.cancel.is_cancelled() {
                return self.finish(rec, NodeOutcome::Cancelled { stage: Stage::Replacing });
            }
            self.progress.emit(RollingEvent::Replacing { node: node.clone() });
            let request = ReplaceRequest {
                node: node.clone(),
                group: self.group.to_string(),
                instance_id: rec.instance_id.clone(),
                target: self.params.target.clone(),
            };
            if let Err(e) = self.replacer.replace(&request).await {
                // The request may have gone through: the drained node stays cordoned.
                return self.finish(rec, NodeOutcome::ReplaceFailed { reason: e.to_string() });
            }
            rec.replace_requested = true;
        }
        self.wait_until_ready(rec).await;
    }

    async fn wait_until_ready(&self, rec: &mut NodeRecord) {
        self.progress.emit(RollingEvent::WaitingForReady { node: rec.node.clone() });
        let start = Instant::now();
        loop {
            match self.find_ready(&rec.node).await {
                Ok(Some((node, version))) => {
                    if node == rec.node && rec.cordoned && !rec.uncordoned {
                        // Upgraded in place: give the node back.
                        self.uncordon(rec).await;
                    }
                    self.progress.emit(RollingEvent::Upgraded {
                        node: rec.node.clone(),
                        new_node: node.clone(),
                        version: version.clone(),
                    });
                    rec.outcome = NodeOutcome::Upgraded { node, version };
                    return;
                }
                Ok(None) => {}
                Err(e) => {
                    return self
                        .finish(rec, NodeOutcome::Error { stage: Stage::WaitingForReady, reason: e.to_string() })
                }
            }
            if start.elapsed() + self.params.poll_interval > self.params.ready_timeout {
                return self.finish(rec, NodeOutcome::NotReadyInTime { waited: start.elapsed() });
            }
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => {
                    return self.finish(rec, NodeOutcome::Cancelled { stage: Stage::WaitingForReady })
                }
                _ = tokio::time::sleep(self.params.poll_interval) => {}
            }
        }
    }

    /// The node itself Ready at the target, or a new node of the group
    /// Ready at the target that no other node claimed (which it then claims).
    async fn find_ready(&self, name: &str) -> Result<Option<(String, KubeVersion)>> {
        let nodes = node_group::nodes_in_group(self.cluster, self.group).await?;
        let ready = |n: &Node| node_is_ready(n) && at_target(n, &self.params.target);
        if let Some(n) = nodes.iter().find(|n| n.metadata.name.as_deref() == Some(name)) {
            if ready(n) {
                return Ok(kubelet_version(n).map(|v| (name.to_string(), v)));
            }
        }
        let mut accounted = self.accounted();
        let mut fresh: Vec<&Node> = nodes
            .iter()
            .filter(|n| ready(n))
            .filter(|n| n.metadata.name.as_ref().is_some_and(|m| !accounted.contains(m)))
            .collect();
        // Oldest first: the first node to join replaces the first node to leave.
        fresh.sort_by(|a, b| {
            a.metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0)
                .cmp(&b.metadata.creation_timestamp.as_ref().map(|t| t.0))
        });
        Ok(fresh.first().and_then(|n| {
            let new = n.metadata.name.clone()?;
            accounted.insert(new.clone());
            Some((new, kubelet_version(n)?))
        }))
    }
}

/// Upgrades the nodes of `group` to [`RollingParams::target`] through
/// `replacer`, `max_unavailable` at a time: each node below the target is
/// cordoned and drained; only after a real drain
/// [`Completed`](DrainStatus::Completed) is it handed to the backend; then
/// the node (upgraded in place) or a new node of the group must be Ready at
/// the target within `ready_timeout`. Nodes at or above the target are left
/// alone. Once `max_failures` nodes failed, no new node is started.
///
/// `Err` means the upgrade could not start, and nothing was changed: the
/// group has no nodes, the target is newer than the API server (kubelets
/// may not be newer than the control plane), `max_unavailable` or
/// `max_failures` is zero, or `resume_from` is for another group or target.
/// Once started, what happened to each node is in the [`RollingReport`],
/// whose [`status`](RollingReport::status) is the one truth.
///
/// # Resuming
/// With [`RollingParams::resume_from`], the nodes upgraded or already at the
/// target in that report are kept as they are; a node whose replacement was
/// requested but not yet Ready is waited for again (never drained or
/// replaced twice); every other node of the group still below the target
/// is handled anew. Failures are counted for this run only.
///
/// # Cancel safety
/// With [`RollingParams::cancel`], no cordon, eviction, replacement or
/// uncordon is sent after the token fires. A drain in progress stops as
/// [`k8sops_nodes::drain`] describes (the node stays cordoned); a node
/// already handed to the backend goes on being replaced there. The report
/// says for every node where it stopped, and
/// [`left_cordoned`](RollingReport::left_cordoned) names the cordoned ones;
/// resuming from it finishes the job. Dropping the future stops at once and
/// leaves the same state, but untold.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use k8sops_core::backend::{InMemoryNodeGroups, Instance, NodeGroup, ScalingConfig};
/// use k8sops_upgrade::rolling::{rolling_upgrade, NodeGroupReplacer, RollingParams};
/// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
/// let cluster = server.cluster();
/// let nodes = k8sops_nodes::node_group::nodes_in_group(&cluster, "spot").await?;
/// let mut group = NodeGroup::new("spot", ScalingConfig { min: 0, max: 3, desired: 1 });
/// group.instances = nodes.iter().filter_map(k8sops_nodes::node_group::instance_id).map(|id| Instance {
///     id, lifecycle_state: "InService".into(), health_status: "Healthy".into(), availability_zone: None }).collect();
/// let groups = Arc::new(InMemoryNodeGroups::new().with_group(group));
/// let replacer = NodeGroupReplacer::new(groups.clone());
/// // The in-memory group terminates the drained node's instance, but no new node joins
/// // the demo cluster: the node is reported as not Ready in time.
/// let params = RollingParams::new("1.30".parse()?).ready_timeout(std::time::Duration::from_millis(200))
///     .poll_interval(std::time::Duration::from_millis(50));
/// let report = rolling_upgrade(&cluster, "spot", &replacer, &params, &k8sops_core::NoProgress).await?;
/// println!("{report}");
/// assert_eq!(report.failed().len(), 1);
/// use k8sops_core::backend::NodeGroups;
/// assert!(groups.describe("spot").await?.instances.is_empty(), "the instance was terminated");
/// # Ok(()) }
/// ```
pub async fn rolling_upgrade(
    cluster: &Cluster,
    group: &str,
    replacer: &dyn NodeReplacer,
    params: &RollingParams,
    progress: &dyn ProgressSink<RollingEvent>,
) -> Result<RollingReport> {
    let start = Instant::now();
    let target = &params.target;
    let invalid = |message: String| -> Error { k8sops_core::Error::InvalidInput { message, source: None }.into() };
    if params.max_unavailable == 0 {
        return Err(invalid("max_unavailable must be at least 1".into()));
    }
    if params.max_failures == 0 {
        return Err(invalid("max_failures must be at least 1 (1 stops at the first failed node)".into()));
    }
    if let Some(prev) = &params.resume_from {
        if prev.group != group || prev.target != *target {
            return Err(invalid(format!(
                "the report to resume from is for node group {} to {}, not node group {group} to {target}",
                prev.group, prev.target
            )));
        }
    }
    let server = cluster.server_version().await?;
    if target.major != server.major || target.minor > server.minor {
        return Err(invalid(format!(
            "kubelets may not be newer than the API server ({server}); upgrade the control plane to {} first",
            target.minor_string()
        )));
    }
    let nodes = node_group::nodes_in_group(cluster, group).await?;
    if nodes.is_empty() {
        return Err(invalid(format!(
            "no node carries node group {group} in its labels ({}); nothing was changed",
            node_group::GROUP_LABELS.join(", ")
        )));
    }

    // Plan: carry over what an earlier run finished, wait again for what it had replaced,
    // then every node still below the target.
    let mut records: Vec<NodeRecord> = Vec::new();
    let mut named: BTreeSet<String> = BTreeSet::new();
    let mut pending: Vec<NodeRecord> = Vec::new();
    if let Some(prev) = &params.resume_from {
        for r in &prev.nodes {
            named.insert(r.node.clone());
            if let NodeOutcome::Upgraded { node, .. } = &r.outcome {
                named.insert(node.clone());
            }
            if r.outcome.is_done() {
                records.push(r.clone());
            } else if r.replace_requested {
                pending.push(NodeRecord { outcome: NodeOutcome::NotStarted, ..r.clone() });
            }
        }
    }
    let mut fresh_at_target: Vec<&Node> = Vec::new();
    let mut to_upgrade: Vec<NodeRecord> = Vec::new();
    for n in &nodes {
        let name = n.metadata.name.clone().unwrap_or_default();
        if pending.iter().any(|p| p.node == name) {
            continue;
        }
        if at_target(n, target) {
            if !named.contains(&name) {
                fresh_at_target.push(n);
            }
            continue;
        }
        let mut rec = NodeRecord::new(n, NodeOutcome::NotStarted);
        // A node an earlier run cordoned is still this upgrade's to give back.
        if let Some(prev) = params.resume_from.as_ref().and_then(|p| p.nodes.iter().find(|r| r.node == name)) {
            rec.cordoned = prev.cordoned && !prev.uncordoned && node_is_unschedulable(n);
            rec.from_version = prev.from_version.clone().or(rec.from_version);
        }
        records.retain(|r| r.node != name);
        to_upgrade.push(rec);
    }
    // A replacement that joined while no run was watching belongs to a pending node.
    let mut fresh = fresh_at_target;
    for p in &mut pending {
        if let Some(pos) = fresh.iter().position(|n| node_is_ready(n)) {
            let n = fresh.remove(pos);
            let node = n.metadata.name.clone().unwrap_or_default();
            named.insert(node.clone());
            p.outcome = NodeOutcome::Upgraded { node, version: kubelet_version(n).unwrap_or_else(|| target.clone()) };
        }
    }
    // A replacement that has joined but is not Ready yet may still be claimed
    // by a pending node while the run waits; it is neither reported as
    // already at the target nor counted as present at the start.
    let waiting = pending.iter().any(|p| !p.outcome.is_done());
    let mut claimable: BTreeSet<String> = BTreeSet::new();
    for n in fresh {
        if waiting && !node_is_ready(n) {
            claimable.extend(n.metadata.name.clone());
            continue;
        }
        let version = kubelet_version(n).unwrap_or_else(|| target.clone());
        records.push(NodeRecord::new(n, NodeOutcome::AlreadyAtTarget { version }));
    }
    progress.emit(RollingEvent::Planned {
        upgrade: pending.iter().filter(|p| !p.outcome.is_done()).chain(&to_upgrade).map(|r| r.node.clone()).collect(),
        already_at_target: records
            .iter()
            .filter(|r| matches!(r.outcome, NodeOutcome::AlreadyAtTarget { .. }))
            .map(|r| r.node.clone())
            .collect(),
    });

    let first = records.len();
    records.extend(pending);
    records.extend(to_upgrade);
    let run = Run {
        cluster,
        group,
        replacer,
        params,
        progress,
        cancel: params.cancel.clone().unwrap_or_default(),
        accounted: Mutex::new(
            nodes
                .iter()
                .filter_map(|n| n.metadata.name.clone())
                .filter(|n| !claimable.contains(n))
                .chain(named.iter().cloned())
                .collect(),
        ),
    };
    let mut stop_reason = None;
    let mut stopped = false;
    let mut i = first;
    while i < records.len() {
        let batch: Vec<usize> = (i..records.len())
            .filter(|&j| records[j].outcome == NodeOutcome::NotStarted)
            .take(params.max_unavailable)
            .collect();
        let Some(&last) = batch.last() else { break };
        i = last + 1;
        if run.cancel.is_cancelled() {
            break;
        }
        let failures = records.iter().skip(first).filter(|r| r.outcome.is_failure()).count();
        if failures >= params.max_failures {
            let failed: Vec<&str> =
                records.iter().skip(first).filter(|r| r.outcome.is_failure()).map(|r| r.node.as_str()).collect();
            let reason = format!(
                "stopped after {failures} failed node(s) ({}), the limit (max_failures) being {}",
                failed.join(", "),
                params.max_failures
            );
            progress.emit(RollingEvent::Stopped { reason: reason.clone() });
            stop_reason = Some(reason);
            stopped = true;
            break;
        }
        let mut slots: Vec<&mut NodeRecord> =
            records.iter_mut().enumerate().filter(|(j, _)| batch.contains(j)).map(|(_, r)| r).collect();
        join_all(slots.iter_mut().map(|r| run.upgrade(r))).await;
    }
    let cancelled = run.cancel.is_cancelled()
        && records
            .iter()
            .skip(first)
            .any(|r| matches!(r.outcome, NodeOutcome::NotStarted | NodeOutcome::Cancelled { .. }));
    if cancelled {
        let at = records.iter().skip(first).find(|r| matches!(r.outcome, NodeOutcome::Cancelled { .. }));
        let reason = match at {
            Some(r) => format!("cancelled at node {} ({})", r.node, r.outcome),
            None => "cancelled before the next node was started".to_string(),
        };
        progress.emit(RollingEvent::Stopped { reason: reason.clone() });
        stop_reason = Some(reason);
    }
    let status = if cancelled {
        RollingStatus::Cancelled
    } else if stopped {
        RollingStatus::Stopped
    } else if records.iter().any(|r| r.outcome.is_failure()) {
        RollingStatus::Failed
    } else {
        RollingStatus::Completed
    };
    Ok(RollingReport {
        group: group.to_string(),
        target: target.clone(),
        dry_run: params.dry_run,
        status,
        stop_reason,
        nodes: records,
        elapsed: start.elapsed(),
    })
}
