//! `kubectl drain`, option for option, plus what operators wish it did:
//! concurrent evictions with a limit, PodDisruptionBudget blocks reported
//! by name and retried with backoff until the timeout (server dry-run too),
//! a watch instead of a poll per pod, typed progress, cancellation, and a
//! report of every pod's outcome.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::future::join_all;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8sops_core::{CancellationToken, Cluster, LabelSelector, ProgressSink, Table};
use kube::{api::ListParams, Api};
use serde::Serialize;
use tokio::{sync::Semaphore, time::Instant};

use crate::{
    cordon::{set_unschedulable, CordonChange},
    deletion_watch::DeletionTracker,
    eviction::{self, Attempt, EvictionApi},
    pod_filter::{Classifier, PodAction, RefusalReason, Rules, SkipReason},
    Error, Result,
};

/// `--dry-run`.
///
/// ```
/// use k8sops_nodes::{DrainParams, DryRun};
/// // kubectl drain --dry-run=server: the server checks every eviction, nothing changes.
/// let params = DrainParams { dry_run: DryRun::Server, ..Default::default() };
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum DryRun {
    /// Do it.
    #[default]
    None,
    /// Decide locally, send nothing that changes the cluster (`--dry-run=client`).
    Client,
    /// Send every request with `dryRun=All` (`--dry-run=server`): the server
    /// checks budgets and permissions but changes nothing.
    Server,
}

/// Drain options. `Default` is `kubectl drain`'s defaults; k8sops-only
/// options (concurrency, budget backoff, cancellation) are marked.
///
/// ```
/// use std::time::Duration;
/// use k8sops_nodes::DrainParams;
/// let p = DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true).timeout(Duration::from_secs(300));
/// assert!(!p.force && p.grace_period.is_none());
/// ```
#[derive(Debug, Clone)]
pub struct DrainParams {
    /// `--force`: also delete pods that declare no controller.
    pub force: bool,
    /// `--ignore-daemonsets`: skip DaemonSet pods instead of refusing.
    pub ignore_daemonsets: bool,
    /// `--delete-emptydir-data`: evict pods with emptyDir volumes (their data is lost).
    pub delete_emptydir_data: bool,
    /// `--grace-period`: seconds each pod gets to terminate; `None` uses the pod's own (kubectl's -1).
    pub grace_period: Option<i64>,
    /// `--timeout`: give up after this long; `None` waits forever (kubectl's 0).
    pub timeout: Option<Duration>,
    /// `--pod-selector`: only pods matching this label selector.
    pub pod_selector: Option<LabelSelector>,
    /// `--disable-eviction`: delete pods directly, bypassing PodDisruptionBudgets.
    pub disable_eviction: bool,
    /// `--skip-wait-for-delete-timeout`: pods deleted longer ago than this are not waited for.
    pub skip_wait_for_delete_timeout: Option<Duration>,
    /// `--dry-run`.
    pub dry_run: DryRun,
    /// k8sops: how many eviction requests may be in flight at once (default 16).
    pub concurrency: usize,
    /// k8sops: first wait after a budget refuses an eviction (default 500 ms, doubling).
    pub budget_backoff: Duration,
    /// k8sops: longest wait between budget retries (default 5 s, kubectl's fixed interval).
    pub budget_backoff_max: Duration,
    /// k8sops: cancel the drain; the report says which pods were already evicted
    /// and the node stays cordoned. Dropping the future also stops the drain
    /// (then only the progress events tell what happened).
    pub cancel: Option<CancellationToken>,
}

impl Default for DrainParams {
    fn default() -> Self {
        DrainParams {
            force: false,
            ignore_daemonsets: false,
            delete_emptydir_data: false,
            grace_period: None,
            timeout: None,
            pod_selector: None,
            disable_eviction: false,
            skip_wait_for_delete_timeout: None,
            dry_run: DryRun::None,
            concurrency: 16,
            budget_backoff: Duration::from_millis(500),
            budget_backoff_max: Duration::from_secs(5),
            cancel: None,
        }
    }
}

macro_rules! setter {
    ($(#[$m:meta])* $name:ident: $ty:ty) => {
        $(#[$m])*
        #[must_use]
        pub fn $name(mut self, v: $ty) -> Self {
            self.$name = v.into();
            self
        }
    };
}

impl DrainParams {
    setter!(/// Sets [`force`](Self::force).
        force: bool);
    setter!(/// Sets [`ignore_daemonsets`](Self::ignore_daemonsets).
        ignore_daemonsets: bool);
    setter!(/// Sets [`delete_emptydir_data`](Self::delete_emptydir_data).
        delete_emptydir_data: bool);
    setter!(/// Sets [`grace_period`](Self::grace_period).
        grace_period: i64);
    setter!(/// Sets [`timeout`](Self::timeout).
        timeout: Duration);
    setter!(/// Sets [`pod_selector`](Self::pod_selector).
        pod_selector: LabelSelector);
    setter!(/// Sets [`disable_eviction`](Self::disable_eviction).
        disable_eviction: bool);
    setter!(/// Sets [`skip_wait_for_delete_timeout`](Self::skip_wait_for_delete_timeout).
        skip_wait_for_delete_timeout: Duration);
    setter!(/// Sets [`dry_run`](Self::dry_run).
        dry_run: DryRun);
    setter!(/// Sets [`concurrency`](Self::concurrency).
        concurrency: usize);
    setter!(/// Sets [`cancel`](Self::cancel).
        cancel: CancellationToken);

    fn rules(&self) -> Rules {
        Rules {
            force: self.force,
            ignore_daemonsets: self.ignore_daemonsets,
            delete_emptydir_data: self.delete_emptydir_data,
            skip_wait_for_delete_timeout: self.skip_wait_for_delete_timeout,
        }
    }
}

/// A pod, as `namespace/name`.
///
/// ```
/// let pod: k8sops_nodes::PodName = "shop/web-0".into();
/// ```
pub type PodName = String;

/// Progress of a drain, one event at a time.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
/// let cluster = server.cluster();
/// use k8sops_nodes::{drain, DrainEvent, DrainParams};
/// let events = k8sops_core::Recorder::default();
/// let params = DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true);
/// drain(&cluster, "ip-10-0-0-5.ec2.internal", &params, &events).await?;
/// let gone = events.events().iter().filter(|e| matches!(e, DrainEvent::Gone { .. })).count();
/// assert!(gone > 0);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum DrainEvent {
    /// The node was cordoned (or already was).
    Cordoned {
        /// Node.
        node: String,
        /// Whether it changed.
        change: CordonChange,
    },
    /// The node's pods were listed and classified.
    PodsFound {
        /// Node.
        node: String,
        /// Pods to evict or delete.
        to_remove: usize,
        /// Pods left alone.
        skipped: usize,
    },
    /// A pod is left alone.
    Skipped {
        /// Pod.
        pod: PodName,
        /// Why.
        reason: SkipReason,
    },
    /// An eviction (or delete) request is being sent.
    Evicting {
        /// Pod.
        pod: PodName,
    },
    /// A PodDisruptionBudget refused the eviction; it is retried after `retry_in`.
    BlockedByBudget {
        /// Pod.
        pod: PodName,
        /// The budget, when the server named it.
        budget: Option<String>,
        /// The server's message.
        message: String,
        /// Wait before the next attempt.
        retry_in: Duration,
    },
    /// A transient error; the request is retried after `retry_in`.
    Retrying {
        /// Pod.
        pod: PodName,
        /// The error.
        error: String,
        /// Wait before the next attempt.
        retry_in: Duration,
    },
    /// The server accepted the eviction; waiting for the pod to go.
    Evicted {
        /// Pod.
        pod: PodName,
    },
    /// The pod is gone.
    Gone {
        /// Pod.
        pod: PodName,
    },
    /// The pod could not be evicted.
    Failed {
        /// Pod.
        pod: PodName,
        /// The error.
        error: String,
    },
}

/// What happened to one pod.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
/// let cluster = server.cluster();
/// let params = k8sops_nodes::DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true);
/// let report = k8sops_nodes::drain(&cluster, "ip-10-0-0-5.ec2.internal", &params, &k8sops_core::NoProgress).await?;
/// use k8sops_nodes::PodOutcome;
/// for p in &report.pods {
///     match &p.outcome {
///         PodOutcome::Evicted => println!("{} evicted", p.pod),
///         PodOutcome::Skipped(why) => println!("{} left alone: {why}", p.pod),
///         other => println!("{}: {other:?}", p.pod),
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PodOutcome {
    /// Evicted and gone.
    Evicted,
    /// Deleted (finished pod, or `disable_eviction`) and gone.
    Deleted,
    /// Evicted; gone not awaited because the skip-wait timeout passed.
    EvictedNotAwaited,
    /// Dry run: would be evicted (server dry-run: the server accepted it).
    WouldEvict,
    /// Dry run: would be deleted.
    WouldDelete,
    /// Left alone.
    Skipped(SkipReason),
    /// The reason the drain was refused.
    Refused(RefusalReason),
    /// Eviction accepted but the pod was not gone yet when the drain stopped.
    Terminating,
    /// Still blocked by a budget when the drain stopped.
    Blocked {
        /// The budget, when named.
        budget: Option<String>,
        /// The server's last message.
        message: String,
    },
    /// Not attempted before the drain stopped.
    NotAttempted,
    /// The eviction failed.
    Failed(String),
}

/// One pod's line in the report.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
/// let cluster = server.cluster();
/// let params = k8sops_nodes::DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true);
/// let report = k8sops_nodes::drain(&cluster, "ip-10-0-0-5.ec2.internal", &params, &k8sops_core::NoProgress).await?;
/// for p in &report.pods {
///     println!("{} after {} attempt(s)", p.pod, p.attempts);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodReport {
    /// `namespace/name`.
    pub pod: PodName,
    /// What happened.
    pub outcome: PodOutcome,
    /// Eviction attempts made.
    pub attempts: u32,
    /// kubectl's warning for this pod, if any.
    pub warning: Option<String>,
}

/// How the drain ended.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
/// let cluster = server.cluster();
/// let params = k8sops_nodes::DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true);
/// let report = k8sops_nodes::drain(&cluster, "ip-10-0-0-5.ec2.internal", &params, &k8sops_core::NoProgress).await?;
/// assert_eq!(report.status, k8sops_nodes::DrainStatus::Completed);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DrainStatus {
    /// Every pod is gone (or, in a dry run, would be).
    Completed,
    /// Refused before evicting anything (see the refused pods).
    Refused,
    /// The timeout passed first.
    TimedOut,
    /// The caller cancelled.
    Cancelled,
    /// Some pods failed.
    Failed,
}

/// The result of a drain: every pod's outcome.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
/// let cluster = server.cluster();
/// let params = k8sops_nodes::DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true);
/// let report = k8sops_nodes::drain(&cluster, "ip-10-0-0-5.ec2.internal", &params, &k8sops_core::NoProgress).await?;
/// println!("{} drained in {:?}", report.node, report.elapsed);
/// print!("{report}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrainReport {
    /// Node.
    pub node: String,
    /// Whether cordoning changed the node.
    pub cordon: CordonChange,
    /// Dry run mode.
    pub dry_run: DryRun,
    /// How it ended.
    pub status: DrainStatus,
    /// Every pod on the node that the drain considered, sorted.
    pub pods: Vec<PodReport>,
    /// Wall time.
    pub elapsed: Duration,
}

impl DrainReport {
    /// Pods whose outcome matches `f`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
    /// use k8sops_nodes::{drain, DrainParams, PodOutcome};
    /// let params = DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true);
    /// let report = drain(&server.cluster(), "ip-10-0-0-5.ec2.internal", &params, &k8sops_core::NoProgress).await?;
    /// let skipped = report.pods_where(|o| matches!(o, PodOutcome::Skipped(_)));
    /// assert!(!skipped.is_empty(), "DaemonSet pods are skipped");
    /// # Ok(()) }
    /// ```
    pub fn pods_where(&self, f: impl Fn(&PodOutcome) -> bool) -> Vec<&str> {
        self.pods.iter().filter(|p| f(&p.outcome)).map(|p| p.pod.as_str()).collect()
    }

    /// Pods already evicted or deleted (gone or terminating).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
    /// use k8sops_nodes::{drain, DrainParams, PodOutcome};
    /// let params = DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true);
    /// let report = drain(&server.cluster(), "ip-10-0-0-5.ec2.internal", &params, &k8sops_core::NoProgress).await?;
    /// assert!(!report.removed().is_empty());
    /// # Ok(()) }
    /// ```
    pub fn removed(&self) -> Vec<&str> {
        self.pods_where(|o| {
            matches!(
                o,
                PodOutcome::Evicted | PodOutcome::Deleted | PodOutcome::EvictedNotAwaited | PodOutcome::Terminating
            )
        })
    }

    /// The report as a table: pod, outcome, attempts.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
    /// use k8sops_nodes::{drain, DrainParams, PodOutcome};
    /// let params = DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true);
    /// let report = drain(&server.cluster(), "ip-10-0-0-5.ec2.internal", &params, &k8sops_core::NoProgress).await?;
    /// print!("{}", report.table());
    /// # Ok(()) }
    /// ```
    pub fn table(&self) -> Table {
        let mut t = Table::new(["pod", "outcome", "attempts"]);
        for p in &self.pods {
            let outcome = match &p.outcome {
                PodOutcome::Skipped(r) => format!("Skipped ({r})"),
                PodOutcome::Refused(r) => format!("Refused ({r})"),
                PodOutcome::Blocked { budget: Some(b), .. } => format!("Blocked by budget {b}"),
                PodOutcome::Blocked { message, .. } => format!("Blocked ({message})"),
                PodOutcome::Failed(e) => format!("Failed ({e})"),
                other => format!("{other:?}"),
            };
            t.row([p.pod.clone(), outcome, p.attempts.to_string()]);
        }
        t
    }
}

impl fmt::Display for DrainReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dry = match self.dry_run {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        };
        writeln!(f, "node/{} drain {:?} in {:.1}s{dry}", self.node, self.status, self.elapsed.as_secs_f64())?;
        write!(f, "{}", self.table())
    }
}

struct PodState {
    pod: Pod,
    name: PodName,
    action: PodAction,
    report: PodReport,
}

/// Drains one node: cordon, classify its pods with kubectl's rules, evict
/// (or delete) them concurrently, and wait until they are gone.
///
/// Errors: [`Error::NodeNotFound`]; [`Error::Refused`] when a rule refuses
/// pods (nothing was evicted; the node stays cordoned, as with kubectl);
/// [`Error::DrainTimedOut`] and [`Error::DrainCancelled`] carry the report of
/// what was done. A 429 from a PodDisruptionBudget is retried with backoff
/// until the timeout and reported as [`DrainEvent::BlockedByBudget`] naming the
/// budget. The cluster's client must not retry 429s itself (clients made by
/// [`Cluster::try_default`] / [`Cluster::from_kubeconfig`] do not).
///
/// ```
/// use k8sops_core::Recorder;
/// use k8sops_nodes::{drain, DrainEvent, DrainParams};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
/// let events = Recorder::<DrainEvent>::default();
/// let params = DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true);
/// let report = drain(&server.cluster(), "ip-10-0-0-5.ec2.internal", &params, &events).await?;
/// assert_eq!(report.status, k8sops_nodes::DrainStatus::Completed);
/// println!("{report}");
/// # Ok(()) }
/// ```
pub async fn drain(
    cluster: &Cluster,
    node: &str,
    params: &DrainParams,
    progress: &dyn ProgressSink<DrainEvent>,
) -> Result<DrainReport> {
    let start = Instant::now();
    let deadline = params.timeout.map(|t| start + t);
    let nodes: Api<Node> = cluster.api_all();
    let node_obj = cluster
        .retry_policy()
        .run(|_| async { nodes.get_opt(node).await.map_err(|e| cluster.map_err(e, &format!("node {node}"))) })
        .await?
        .ok_or_else(|| Error::NodeNotFound { name: node.to_string() })?;

    // 1. Cordon.
    let was = node_obj.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
    let change = if was { CordonChange::AlreadyInState } else { CordonChange::Changed };
    if !was && params.dry_run != DryRun::Client {
        set_unschedulable(cluster, node, true, params.dry_run == DryRun::Server).await?;
    }
    progress.emit(DrainEvent::Cordoned { node: node.to_string(), change });

    // 2. List and classify the node's pods.
    let (pods, list_rv) = list_node_pods(cluster, node, params.pod_selector.as_ref()).await?;
    let mut classifier = Classifier::new(cluster, params.rules());
    let mut states = Vec::new();
    for pod in pods {
        let name = k8sops_core::object_status::namespaced_name(&pod.metadata);
        let action = classifier.classify(&pod).await?;
        let (outcome, warning) = match &action {
            PodAction::Skip(r) => (PodOutcome::Skipped(r.clone()), None),
            PodAction::Refuse(r) => (PodOutcome::Refused(r.clone()), None),
            PodAction::Evict { warning } => (PodOutcome::NotAttempted, warning.clone()),
            PodAction::DeleteFinished => (PodOutcome::NotAttempted, None),
        };
        states.push(PodState {
            pod,
            name: name.clone(),
            action,
            report: PodReport { pod: name, outcome, attempts: 0, warning },
        });
    }
    states.sort_by(|a, b| a.name.cmp(&b.name));
    let to_remove =
        states.iter().filter(|s| matches!(s.action, PodAction::Evict { .. } | PodAction::DeleteFinished)).count();
    progress.emit(DrainEvent::PodsFound { node: node.to_string(), to_remove, skipped: states.len() - to_remove });
    for s in &states {
        if let PodAction::Skip(reason) = &s.action {
            progress.emit(DrainEvent::Skipped { pod: s.name.clone(), reason: reason.clone() });
        }
    }
    let report = |states: Vec<PodReport>, status: DrainStatus| DrainReport {
        node: node.to_string(),
        cordon: change,
        dry_run: params.dry_run,
        status,
        pods: states,
        elapsed: start.elapsed(),
    };
    let refused: Vec<(PodName, RefusalReason)> = states
        .iter()
        .filter_map(|s| match &s.action {
            PodAction::Refuse(r) => Some((s.name.clone(), r.clone())),
            _ => None,
        })
        .collect();
    if !refused.is_empty() {
        let rep = report(states.into_iter().map(|s| s.report).collect(), DrainStatus::Refused);
        return Err(Error::Refused { node: node.to_string(), pods: refused, report: Box::new(rep) });
    }

    // 3. Client dry run: decided locally.
    if params.dry_run == DryRun::Client {
        let pods = states
            .into_iter()
            .map(|mut s| {
                s.report.outcome = match s.action {
                    PodAction::Evict { .. } if !params.disable_eviction => PodOutcome::WouldEvict,
                    PodAction::Evict { .. } | PodAction::DeleteFinished => PodOutcome::WouldDelete,
                    _ => s.report.outcome,
                };
                s.report
            })
            .collect();
        return Ok(report(pods, DrainStatus::Completed));
    }

    // 4. Evict concurrently, then wait for each pod to go.
    let api_kind =
        if params.disable_eviction { EvictionApi::Unsupported } else { EvictionApi::discover(cluster).await? };
    let waited: HashMap<String, String> = states
        .iter()
        .filter(|s| matches!(s.action, PodAction::Evict { .. } | PodAction::DeleteFinished))
        .map(|s| (s.name.clone(), s.pod.metadata.uid.clone().unwrap_or_default()))
        .collect();
    let tracker = (params.dry_run == DryRun::None).then(|| DeletionTracker::start(cluster, node, list_rv, waited));
    let shared: Arc<Mutex<Vec<PodReport>>> = Arc::new(Mutex::new(states.iter().map(|s| s.report.clone()).collect()));
    let limiter = Semaphore::new(params.concurrency.max(1));
    let work = states
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.action, PodAction::Evict { .. } | PodAction::DeleteFinished))
        .map(|(i, s)| {
            let ctx = PodCtx {
                cluster,
                params,
                api: api_kind,
                limiter: &limiter,
                tracker: tracker.as_ref(),
                progress,
                shared: &shared,
                index: i,
                deadline,
            };
            remove_pod(ctx, s)
        });
    let cancel = params.cancel.clone().unwrap_or_default();
    let sleep_deadline = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    let stopped = tokio::select! {
        _ = join_all(work) => None,
        _ = sleep_deadline => Some(DrainStatus::TimedOut),
        _ = cancel.cancelled() => Some(DrainStatus::Cancelled),
    };
    let pods = shared.lock().unwrap_or_else(|p| p.into_inner()).clone();
    match stopped {
        Some(DrainStatus::TimedOut) => {
            let after = params.timeout.unwrap_or_default();
            Err(Error::DrainTimedOut {
                node: node.to_string(),
                after,
                report: Box::new(report(pods, DrainStatus::TimedOut)),
            })
        }
        Some(_) => Err(Error::DrainCancelled {
            node: node.to_string(),
            report: Box::new(report(pods, DrainStatus::Cancelled)),
        }),
        None => {
            let failed = pods.iter().any(|p| matches!(p.outcome, PodOutcome::Failed(_)));
            Ok(report(pods, if failed { DrainStatus::Failed } else { DrainStatus::Completed }))
        }
    }
}

/// The node's pods (paginated) and the resourceVersion to watch from.
async fn list_node_pods(cluster: &Cluster, node: &str, selector: Option<&LabelSelector>) -> Result<(Vec<Pod>, String)> {
    let api: Api<Pod> = cluster.api_all();
    let mut lp =
        ListParams::default().fields(&format!("spec.nodeName={node}")).limit(k8sops_core::paging::DEFAULT_PAGE_SIZE);
    if let Some(s) = selector {
        lp = lp.labels(&s.to_string());
    }
    let mut pods = Vec::new();
    let mut rv = None;
    let mut token: Option<String> = None;
    loop {
        let mut page_lp = lp.clone();
        if let Some(t) = &token {
            page_lp = page_lp.continue_token(t);
        }
        let page = cluster
            .retry_policy()
            .run(|_| async {
                api.list(&page_lp).await.map_err(|e| cluster.map_err(e, &format!("pods on node {node}")))
            })
            .await?;
        if rv.is_none() {
            rv = page.metadata.resource_version.clone();
        }
        pods.extend(page.items);
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => token = Some(c),
            _ => break,
        }
    }
    Ok((pods, rv.unwrap_or_default()))
}

struct PodCtx<'a> {
    cluster: &'a Cluster,
    params: &'a DrainParams,
    api: EvictionApi,
    limiter: &'a Semaphore,
    tracker: Option<&'a DeletionTracker>,
    progress: &'a dyn ProgressSink<DrainEvent>,
    shared: &'a Mutex<Vec<PodReport>>,
    index: usize,
    deadline: Option<Instant>,
}

impl PodCtx<'_> {
    fn update(&self, f: impl FnOnce(&mut PodReport)) {
        let mut all = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut all[self.index]);
    }

    /// Waits `d`, or less if the deadline comes first.
    async fn pause(&self, d: Duration) {
        let until = Instant::now() + d;
        let until = self.deadline.map_or(until, |dl| until.min(dl));
        tokio::time::sleep_until(until).await;
    }
}

async fn remove_pod(ctx: PodCtx<'_>, s: &PodState) {
    let delete = ctx.api == EvictionApi::Unsupported || matches!(s.action, PodAction::DeleteFinished);
    let dry = ctx.params.dry_run == DryRun::Server;
    let uid = s.pod.metadata.uid.clone().unwrap_or_default();
    let mut budget_wait = ctx.params.budget_backoff;
    let mut transient_attempts = 0u32;
    loop {
        let attempt = {
            let _permit = ctx.limiter.acquire().await;
            ctx.progress.emit(DrainEvent::Evicting { pod: s.name.clone() });
            ctx.update(|r| r.attempts += 1);
            if delete {
                eviction::delete(ctx.cluster, &s.pod, ctx.params.grace_period, dry).await
            } else {
                eviction::evict(ctx.cluster, ctx.api, &s.pod, ctx.params.grace_period, dry).await
            }
        };
        match attempt {
            Attempt::Accepted => break,
            Attempt::Gone => {
                ctx.update(|r| r.outcome = if delete { PodOutcome::Deleted } else { PodOutcome::Evicted });
                ctx.progress.emit(DrainEvent::Gone { pod: s.name.clone() });
                return;
            }
            Attempt::Blocked { budget, message } => {
                ctx.update(|r| r.outcome = PodOutcome::Blocked { budget: budget.clone(), message: message.clone() });
                ctx.progress.emit(DrainEvent::BlockedByBudget {
                    pod: s.name.clone(),
                    budget,
                    message,
                    retry_in: budget_wait,
                });
                ctx.pause(budget_wait).await;
                budget_wait = (budget_wait * 2).min(ctx.params.budget_backoff_max);
            }
            Attempt::Transient { error, retry_after } => {
                transient_attempts += 1;
                let policy = ctx.cluster.retry_policy();
                // Without a timeout, give up after the policy's attempts; with one, keep trying until it.
                if ctx.deadline.is_none() && transient_attempts >= policy.max_attempts {
                    let msg = error.to_string();
                    ctx.update(|r| r.outcome = PodOutcome::Failed(msg.clone()));
                    ctx.progress.emit(DrainEvent::Failed { pod: s.name.clone(), error: msg });
                    return;
                }
                let wait = retry_after.unwrap_or_else(|| policy.backoff(transient_attempts));
                ctx.progress.emit(DrainEvent::Retrying {
                    pod: s.name.clone(),
                    error: error.to_string(),
                    retry_in: wait,
                });
                ctx.pause(wait).await;
            }
            Attempt::Failed(error) => {
                let msg = error.to_string();
                ctx.update(|r| r.outcome = PodOutcome::Failed(msg.clone()));
                ctx.progress.emit(DrainEvent::Failed { pod: s.name.clone(), error: msg });
                return;
            }
        }
    }
    if dry {
        ctx.update(|r| r.outcome = if delete { PodOutcome::WouldDelete } else { PodOutcome::WouldEvict });
        return;
    }
    ctx.update(|r| r.outcome = PodOutcome::Terminating);
    ctx.progress.emit(DrainEvent::Evicted { pod: s.name.clone() });
    let Some(tracker) = ctx.tracker else { return };
    let outcome = match ctx.params.skip_wait_for_delete_timeout.filter(|d| !d.is_zero()) {
        Some(skip) => match tokio::time::timeout(skip, tracker.wait(&uid)).await {
            Ok(()) => None,
            Err(_) => Some(PodOutcome::EvictedNotAwaited),
        },
        None => {
            tracker.wait(&uid).await;
            None
        }
    };
    let outcome = outcome.unwrap_or(if delete { PodOutcome::Deleted } else { PodOutcome::Evicted });
    ctx.update(|r| r.outcome = outcome);
    ctx.progress.emit(DrainEvent::Gone { pod: s.name.clone() });
}
