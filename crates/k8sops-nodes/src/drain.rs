//! `kubectl drain`, option for option, plus what operators wish it did:
//! concurrent evictions with a limit, PodDisruptionBudget blocks reported
//! by name and retried with backoff until the timeout (server dry-run too),
//! a watch instead of a poll per pod, typed progress, cancellation, and a
//! report of every pod's outcome.

use std::{collections::HashMap, fmt, sync::Mutex, time::Duration};

use futures::future::join_all;
use k8s_openapi::api::core::v1::{Node, Pod};
pub use k8sops_core::DryRun;
use k8sops_core::{CancellationToken, Cluster, Failure, LabelSelector, NoProgress, ProgressSink, Table};
use kube::{api::ListParams, Api};
use serde::Serialize;
use tokio::{sync::Semaphore, time::Instant};

use crate::{
    cordon::{change_schedulability, CordonChange},
    deletion_watch::{DeletionTracker, Waited},
    eviction::{self, Attempt, EvictionApi},
    pod_filter::{Classifier, PodAction, RefusalReason, Rules, SkipReason},
    Error, Result,
};

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
    /// `--grace-period`: seconds each pod gets to terminate; `None` or a
    /// negative value uses the pod's own (kubectl's default -1), on the
    /// eviction and the delete path alike.
    pub grace_period: Option<i64>,
    /// `--timeout`: give up after this long; `None` or zero waits forever
    /// (kubectl's `--timeout=0s`).
    pub timeout: Option<Duration>,
    /// `--pod-selector`: only pods matching this label selector.
    pub pod_selector: Option<LabelSelector>,
    /// `--disable-eviction`: delete pods directly, bypassing PodDisruptionBudgets.
    pub disable_eviction: bool,
    /// `--skip-wait-for-delete-timeout`: pods deleted longer ago than this are not waited for.
    pub skip_wait_for_delete_timeout: Option<Duration>,
    /// `--dry-run`. A composite operation (scale-in, delete node) sets this
    /// from its own dry-run switch.
    pub dry_run: DryRun,
    /// k8sops: how many eviction requests may be in flight at once (default 16).
    pub concurrency: usize,
    /// k8sops: first wait after a budget refuses an eviction (default 500 ms, doubling).
    pub budget_backoff: Duration,
    /// k8sops: longest wait between budget retries (default 5 s, kubectl's fixed interval).
    pub budget_backoff_max: Duration,
    /// k8sops: cancel the drain. No eviction, delete or cordon is sent once
    /// the token fires; requests already in flight finish, and the report
    /// says for every pod whether it was evicted (and gone or terminating),
    /// still blocked, or never attempted. The node stays cordoned. Dropping
    /// the future instead also stops the drain, but then only the progress
    /// events tell what happened.
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

    /// The grace period to send: a negative one means the pod's own, as in kubectl.
    fn grace(&self) -> Option<i64> {
        self.grace_period.filter(|g| *g >= 0)
    }

    /// The time limit: zero means none, as in kubectl.
    fn limit(&self) -> Option<Duration> {
        self.timeout.filter(|t| !t.is_zero())
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
/// use k8sops_nodes::{drain_with_progress, DrainEvent, DrainParams};
/// let events = k8sops_core::Recorder::default();
/// let params = DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true);
/// drain_with_progress(&cluster, "ip-10-0-0-5.ec2.internal", &params, &events).await?;
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
        /// Whether it changed (or would, in a dry run), or why it failed;
        /// a failed cordon does not stop the drain, as in kubectl.
        change: CordonChange,
        /// Whether this was a dry run.
        dry_run: DryRun,
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
/// let report = k8sops_nodes::drain(&cluster, "ip-10-0-0-5.ec2.internal", &params).await?;
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
    Failed(Failure<k8sops_core::Error>),
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
/// let report = k8sops_nodes::drain(&cluster, "ip-10-0-0-5.ec2.internal", &params).await?;
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
/// let report = k8sops_nodes::drain(&cluster, "ip-10-0-0-5.ec2.internal", &params).await?;
/// assert_eq!(report.status, k8sops_nodes::DrainStatus::Completed);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DrainStatus {
    /// Every pod is gone (or, in a dry run, would be). The only status after
    /// which a node may be terminated, deleted or replaced.
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

impl fmt::Display for DrainStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DrainStatus::Completed => "completed",
            DrainStatus::Refused => "refused",
            DrainStatus::TimedOut => "timed out",
            DrainStatus::Cancelled => "cancelled",
            DrainStatus::Failed => "failed",
        })
    }
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
/// let report = k8sops_nodes::drain(&cluster, "ip-10-0-0-5.ec2.internal", &params).await?;
/// println!("{} drained in {:?}", report.node, report.elapsed);
/// print!("{report}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrainReport {
    /// Node.
    pub node: String,
    /// Whether cordoning changed the node, or why it failed.
    pub cordon: CordonChange,
    /// Dry run mode.
    pub dry_run: DryRun,
    /// How it ended.
    pub status: DrainStatus,
    /// Every pod on the node that the drain considered, sorted.
    pub pods: Vec<PodReport>,
    /// The time limit the drain had, if any.
    pub timeout: Option<Duration>,
    /// Wall time.
    pub elapsed: Duration,
}

impl DrainReport {
    /// The report if every pod is gone (status [`DrainStatus::Completed`]),
    /// otherwise the matching error — [`Error::Refused`] naming the refused
    /// pods, [`Error::DrainTimedOut`], [`Error::DrainCancelled`] or
    /// [`Error::DrainFailed`] — each carrying the report. For callers who want
    /// `?`; [`drain`] itself returns `Ok` whatever happened to the pods.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
    /// use k8sops_nodes::{drain, DrainParams, Error};
    /// let cluster = server.cluster();
    /// // kubectl's defaults refuse DaemonSet pods: the report says so, `ensure_completed` turns it into an error.
    /// let report = drain(&cluster, "ip-10-0-0-5.ec2.internal", &DrainParams::default()).await?;
    /// assert!(matches!(report.ensure_completed(), Err(Error::Refused { .. })));
    /// # Ok(()) }
    /// ```
    pub fn ensure_completed(self) -> Result<Self> {
        let node = self.node.clone();
        match self.status {
            DrainStatus::Completed => Ok(self),
            DrainStatus::Refused => Err(Error::Refused {
                node,
                pods: self.refused().into_iter().map(|(p, r)| (p.to_string(), r.clone())).collect(),
                report: Box::new(self),
            }),
            DrainStatus::TimedOut => {
                Err(Error::DrainTimedOut { node, after: self.timeout.unwrap_or_default(), report: Box::new(self) })
            }
            DrainStatus::Cancelled => Err(Error::DrainCancelled { node, report: Box::new(self) }),
            DrainStatus::Failed => Err(Error::DrainFailed { node, report: Box::new(self) }),
        }
    }

    /// Whether the drain completed and was real (not a dry run): the test a
    /// composite makes before it terminates, deletes or replaces the node.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
    /// use k8sops_nodes::{drain, DrainParams, DryRun};
    /// let params = DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true).dry_run(DryRun::Client);
    /// let report = drain(&server.cluster(), "ip-10-0-0-5.ec2.internal", &params).await?;
    /// assert!(!report.node_is_empty(), "a dry run empties nothing");
    /// # Ok(()) }
    /// ```
    pub fn node_is_empty(&self) -> bool {
        self.status == DrainStatus::Completed && self.dry_run == DryRun::None
    }

    /// The refused pods and why.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let report = k8sops_nodes::drain(&server.cluster(), "ip-10-0-0-5.ec2.internal", &Default::default()).await?;
    /// for (pod, why) in report.refused() {
    ///     println!("{pod}: {why}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn refused(&self) -> Vec<(&str, &RefusalReason)> {
        self.pods
            .iter()
            .filter_map(|p| match &p.outcome {
                PodOutcome::Refused(r) => Some((p.pod.as_str(), r)),
                _ => None,
            })
            .collect()
    }

    /// Pods whose outcome matches `f`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
    /// use k8sops_nodes::{drain, DrainParams, PodOutcome};
    /// let params = DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true);
    /// let report = drain(&server.cluster(), "ip-10-0-0-5.ec2.internal", &params).await?;
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
    /// let report = drain(&server.cluster(), "ip-10-0-0-5.ec2.internal", &params).await?;
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
    /// let report = drain(&server.cluster(), "ip-10-0-0-5.ec2.internal", &params).await?;
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
                PodOutcome::Evicted => "Evicted".into(),
                PodOutcome::Deleted => "Deleted".into(),
                PodOutcome::EvictedNotAwaited => "Evicted (not awaited: skip-wait timeout)".into(),
                PodOutcome::WouldEvict => "Would evict".into(),
                PodOutcome::WouldDelete => "Would delete".into(),
                PodOutcome::Terminating => "Evicted, still terminating".into(),
                PodOutcome::NotAttempted => "Not attempted".into(),
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
        match &self.cordon {
            CordonChange::Changed => writeln!(f, "node/{} cordoned{dry}", self.node)?,
            CordonChange::AlreadyInState => writeln!(f, "node/{} already cordoned{dry}", self.node)?,
            CordonChange::Failed(e) => writeln!(f, "error: unable to cordon node {:?}: {e}", self.node)?,
        }
        writeln!(f, "node/{} drain {} in {:.1}s{dry}", self.node, self.status, self.elapsed.as_secs_f64())?;
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
/// (or delete) them concurrently, and wait until they are gone. The same as
/// [`drain_with_progress`] without progress events.
///
/// `Err` means the drain could not run (node missing, API unreachable, pods
/// not listable); what happened to each pod is in the [`DrainReport`], whose
/// [`status`](DrainReport::status) is the one truth: refused, timed out,
/// cancelled and failed drains return `Ok` with that status. Call
/// [`DrainReport::ensure_completed`] to turn anything but a completed drain
/// into an error.
///
/// # Cancel safety
/// With [`DrainParams::cancel`], no cordon, eviction or delete is sent after
/// the token fires; requests already sent finish (each bounded by the
/// cluster's read timeout) and the report says which pods were evicted
/// (gone or still terminating), which are blocked and which were never
/// attempted. The node stays cordoned. The timeout behaves the same way.
/// Dropping the future stops at once and leaves the same state, but untold.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
/// let cluster = server.cluster();
/// use k8sops_nodes::{drain, DrainParams};
/// let params = DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true);
/// let report = drain(&cluster, "ip-10-0-0-5.ec2.internal", &params).await?.ensure_completed()?;
/// println!("{report}");
/// # Ok(()) }
/// ```
pub async fn drain(cluster: &Cluster, node: &str, params: &DrainParams) -> Result<DrainReport> {
    drain_with_progress(cluster, node, params, &NoProgress).await
}

/// [`drain`], reporting each step as a [`DrainEvent`].
///
/// A 429 from a PodDisruptionBudget is retried with backoff until the
/// timeout and reported as [`DrainEvent::BlockedByBudget`] naming the
/// budget; any other 429 is retried too, after the server's `Retry-After`
/// (capped by the cluster's [`RetryPolicy`](k8sops_core::RetryPolicy)), as
/// kubectl does. A 500 because a pod has more than one budget fails that pod
/// at once. The cluster's client must not retry 429s itself (clients made by
/// [`Cluster::try_default`] / [`Cluster::from_kubeconfig`] do not).
///
/// # Cancel safety
/// As for [`drain`].
///
/// ```
/// use k8sops_core::Recorder;
/// use k8sops_nodes::{drain_with_progress, DrainEvent, DrainParams};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
/// let events = Recorder::<DrainEvent>::default();
/// let params = DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true);
/// let report = drain_with_progress(&server.cluster(), "ip-10-0-0-5.ec2.internal", &params, &events).await?;
/// assert_eq!(report.status, k8sops_nodes::DrainStatus::Completed);
/// println!("{report}");
/// # Ok(()) }
/// ```
pub async fn drain_with_progress(
    cluster: &Cluster,
    node: &str,
    params: &DrainParams,
    progress: &dyn ProgressSink<DrainEvent>,
) -> Result<DrainReport> {
    let start = Instant::now();
    let stop = Stop { cancel: params.cancel.clone().unwrap_or_default(), deadline: params.limit().map(|t| start + t) };
    let nodes: Api<Node> = cluster.api_all();
    let node_obj = cluster
        .retry_policy()
        .run(|_| async { nodes.get_opt(node).await.map_err(|e| cluster.map_err(e, &format!("node {node}"))) })
        .await?
        .ok_or_else(|| Error::NodeNotFound { name: node.to_string() })?;

    // 1. Cordon. A failure is reported and the drain goes on, as in kubectl.
    let was = node_obj.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
    let change = if was {
        CordonChange::AlreadyInState
    } else if stop.now().is_some() {
        CordonChange::Failed(Failure::new(k8sops_core::Error::Cancelled { during: format!("cordoning node {node}") }))
    } else {
        match change_schedulability(cluster, node, true, params.dry_run).await {
            // The node vanished since it was read: the drain cannot run.
            CordonChange::Failed(e) if e.is_not_found() => return Err(Error::NodeNotFound { name: node.to_string() }),
            other => other,
        }
    };
    progress.emit(DrainEvent::Cordoned { node: node.to_string(), change: change.clone(), dry_run: params.dry_run });

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
        };
        states.push(PodState {
            pod,
            name: name.clone(),
            action,
            report: PodReport { pod: name, outcome, attempts: 0, warning },
        });
    }
    states.sort_by(|a, b| a.name.cmp(&b.name));
    let to_remove = states.iter().filter(|s| matches!(s.action, PodAction::Evict { .. })).count();
    progress.emit(DrainEvent::PodsFound { node: node.to_string(), to_remove, skipped: states.len() - to_remove });
    for s in &states {
        if let PodAction::Skip(reason) = &s.action {
            progress.emit(DrainEvent::Skipped { pod: s.name.clone(), reason: reason.clone() });
        }
    }
    let report = |pods: Vec<PodReport>, status: DrainStatus| DrainReport {
        node: node.to_string(),
        cordon: change.clone(),
        dry_run: params.dry_run,
        status,
        pods,
        timeout: params.limit(),
        elapsed: start.elapsed(),
    };
    if states.iter().any(|s| matches!(s.action, PodAction::Refuse(_))) {
        // kubectl evicts nothing when any pod is refused; the node stays cordoned.
        return Ok(report(states.into_iter().map(|s| s.report).collect(), DrainStatus::Refused));
    }

    // 3. Client dry run: decided locally.
    if params.dry_run == DryRun::Client {
        let pods = states
            .into_iter()
            .map(|mut s| {
                if let PodAction::Evict { .. } = s.action {
                    s.report.outcome =
                        if params.disable_eviction { PodOutcome::WouldDelete } else { PodOutcome::WouldEvict };
                }
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
        .filter(|s| matches!(s.action, PodAction::Evict { .. }))
        .map(|s| (s.name.clone(), s.pod.metadata.uid.clone().unwrap_or_default()))
        .collect();
    let tracker = (params.dry_run == DryRun::None).then(|| DeletionTracker::start(cluster, node, list_rv, waited));
    let shared: Mutex<Vec<PodReport>> = Mutex::new(states.iter().map(|s| s.report.clone()).collect());
    let limiter = Semaphore::new(params.concurrency.max(1));
    let work = states.iter().enumerate().filter(|(_, s)| matches!(s.action, PodAction::Evict { .. })).map(|(i, s)| {
        let ctx = PodCtx {
            cluster,
            params,
            api: api_kind,
            limiter: &limiter,
            tracker: tracker.as_ref(),
            progress,
            shared: &shared,
            index: i,
            stop: &stop,
        };
        remove_pod(ctx, s)
    });
    join_all(work).await;
    let pods = shared.into_inner().unwrap_or_else(|p| p.into_inner());
    let unfinished = pods
        .iter()
        .any(|p| matches!(p.outcome, PodOutcome::NotAttempted | PodOutcome::Blocked { .. } | PodOutcome::Terminating));
    // Cancelled before the cordon was sent: not a completed drain, even with no pods to move.
    let cordon_skipped =
        matches!(&change, CordonChange::Failed(e) if matches!(**e, k8sops_core::Error::Cancelled { .. }));
    let status = if stop.cancel.is_cancelled() && (unfinished || cordon_skipped) {
        DrainStatus::Cancelled
    } else if unfinished {
        DrainStatus::TimedOut
    } else if pods.iter().any(|p| matches!(p.outcome, PodOutcome::Failed(_))) {
        DrainStatus::Failed
    } else {
        DrainStatus::Completed
    };
    Ok(report(pods, status))
}

/// Why the drain stops early: the caller's token or the deadline.
struct Stop {
    cancel: CancellationToken,
    deadline: Option<Instant>,
}

impl Stop {
    /// Whether the drain must stop now, and why.
    fn now(&self) -> Option<DrainStatus> {
        if self.cancel.is_cancelled() {
            Some(DrainStatus::Cancelled)
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(DrainStatus::TimedOut)
        } else {
            None
        }
    }

    /// Resolves when the drain must stop.
    async fn wait(&self) {
        let deadline = async {
            match self.deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.cancel.cancelled() => {}
            _ = deadline => {}
        }
    }

    /// Runs `f` unless the drain must stop first; `None` when it stopped.
    async fn or_stop<T>(&self, f: impl std::future::Future<Output = T>) -> Option<T> {
        if self.now().is_some() {
            return None;
        }
        tokio::select! {
            v = f => Some(v),
            _ = self.wait() => None,
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
    stop: &'a Stop,
}

impl PodCtx<'_> {
    fn update(&self, f: impl FnOnce(&mut PodReport)) {
        let mut all = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut all[self.index]);
    }

    fn fail(&self, pod: &str, error: k8sops_core::Error) {
        let msg = error.to_string();
        self.update(|r| r.outcome = PodOutcome::Failed(Failure::new(error)));
        self.progress.emit(DrainEvent::Failed { pod: pod.to_string(), error: msg });
    }
}

async fn remove_pod(ctx: PodCtx<'_>, s: &PodState) {
    let delete = ctx.api == EvictionApi::Unsupported;
    let dry = ctx.params.dry_run == DryRun::Server;
    let grace = ctx.params.grace();
    let uid = s.pod.metadata.uid.clone().unwrap_or_default();
    let being_deleted = s.pod.metadata.deletion_timestamp.is_some();
    let mut budget_wait = ctx.params.budget_backoff;
    let mut transient_attempts = 0u32;
    loop {
        // Nothing that changes the cluster is sent once the drain must stop.
        let Some(permit) = ctx.stop.or_stop(ctx.limiter.acquire()).await else { return };
        ctx.progress.emit(DrainEvent::Evicting { pod: s.name.clone() });
        // Checked after the event, so a sink that cancels on it stops this request too.
        if ctx.stop.now().is_some() {
            return;
        }
        ctx.update(|r| r.attempts += 1);
        let attempt = if delete {
            eviction::delete(ctx.cluster, &s.pod, grace, dry).await
        } else {
            eviction::evict(ctx.cluster, ctx.api, &s.pod, grace, dry).await
        };
        drop(permit);
        let wait = match attempt {
            Attempt::Accepted => break,
            Attempt::Gone => {
                ctx.update(|r| r.outcome = if delete { PodOutcome::Deleted } else { PodOutcome::Evicted });
                ctx.progress.emit(DrainEvent::Gone { pod: s.name.clone() });
                return;
            }
            // An eviction in a terminating namespace is forbidden; a pod already being deleted is waited for.
            Attempt::NamespaceTerminating { .. } if being_deleted => break,
            Attempt::NamespaceTerminating { message } => {
                let wait = ctx.params.budget_backoff_max;
                ctx.update(|r| r.outcome = PodOutcome::Blocked { budget: None, message: message.clone() });
                ctx.progress.emit(DrainEvent::Retrying { pod: s.name.clone(), error: message, retry_in: wait });
                wait
            }
            Attempt::Blocked { budget, message } => {
                let wait = budget_wait;
                ctx.update(|r| r.outcome = PodOutcome::Blocked { budget: budget.clone(), message: message.clone() });
                ctx.progress.emit(DrainEvent::BlockedByBudget { pod: s.name.clone(), budget, message, retry_in: wait });
                budget_wait = (budget_wait * 2).min(ctx.params.budget_backoff_max);
                wait
            }
            Attempt::TooManyRequests { error, retry_after } => {
                // kubectl retries every 429 until its timeout; honour the server's delay, capped.
                let policy = ctx.cluster.retry_policy();
                let wait = retry_after.map_or(budget_wait, |ra| ra.min(policy.max_retry_after));
                ctx.progress.emit(DrainEvent::Retrying {
                    pod: s.name.clone(),
                    error: error.to_string(),
                    retry_in: wait,
                });
                wait
            }
            Attempt::Transient { error, retry_after } => {
                transient_attempts += 1;
                let policy = ctx.cluster.retry_policy();
                // Without a timeout, give up after the policy's attempts; with one, keep trying until it.
                if ctx.stop.deadline.is_none() && transient_attempts >= policy.max_attempts {
                    ctx.fail(&s.name, error);
                    return;
                }
                let wait =
                    retry_after.map_or_else(|| policy.backoff(transient_attempts), |ra| ra.min(policy.max_retry_after));
                ctx.progress.emit(DrainEvent::Retrying {
                    pod: s.name.clone(),
                    error: error.to_string(),
                    retry_in: wait,
                });
                wait
            }
            Attempt::Failed(error) => {
                ctx.fail(&s.name, error);
                return;
            }
        };
        if ctx.stop.or_stop(tokio::time::sleep(wait)).await.is_none() {
            return;
        }
    }
    if dry {
        ctx.update(|r| r.outcome = if delete { PodOutcome::WouldDelete } else { PodOutcome::WouldEvict });
        return;
    }
    ctx.update(|r| r.outcome = PodOutcome::Terminating);
    ctx.progress.emit(DrainEvent::Evicted { pod: s.name.clone() });
    let Some(tracker) = ctx.tracker else { return };
    let skip = ctx.params.skip_wait_for_delete_timeout.filter(|d| !d.is_zero());
    let Some(waited) = ctx.stop.or_stop(tracker.wait(&uid, skip)).await else { return };
    let outcome = match waited {
        Waited::Gone => {
            if delete {
                PodOutcome::Deleted
            } else {
                PodOutcome::Evicted
            }
        }
        Waited::DeletedLongAgo => PodOutcome::EvictedNotAwaited,
        Waited::WatchFailed(error) => {
            ctx.fail(&s.name, error);
            return;
        }
    };
    ctx.update(|r| r.outcome = outcome);
    ctx.progress.emit(DrainEvent::Gone { pod: s.name.clone() });
}
