//! One checklist over many clusters at once: every context of a kubeconfig
//! (or the ones named), a bounded number at a time, each within a time
//! budget, in one report with a row per cluster and its worst findings.
//!
//! A cluster that does not answer, whose context cannot be used, that
//! forbids a check or runs out of time is a row that says so; it never
//! stops the others.
//!
//! A context whose user runs an exec credential plugin (`aws eks
//! get-token`, kubelogin) runs it when its turn comes, on a blocking thread
//! (twice: [`Cluster`] builds a request client and a streaming client). A
//! plugin that waits for input is cut off by its cluster's budget but keeps
//! its thread until it exits, and a tokio runtime waits for such threads
//! when it shuts down: a program should exit once it has its report (the
//! `fleet_check` example calls `std::process::exit`).
//!
//! ```no_run
//! use std::time::Duration;
//! use k8sops::{checklist::Checklist, fleet::Fleet};
//!
//! # async fn run() -> k8sops::Result<()> {
//! // Every context of $KUBECONFIG / ~/.kube/config, four clusters at a time, 2 minutes each.
//! let fleet = Fleet::from_default_kubeconfig(&[])?.concurrency(4).budget_per_cluster(Duration::from_secs(120));
//! let report = fleet.run(&Checklist::daily()).await;
//! print!("{report}");
//! # Ok(()) }
//! ```
//!
//! # Cancel safety
//!
//! [`Fleet::run_with`] takes a [`CancellationToken`]: clusters not started
//! are rows with [`ClusterOutcome::Cancelled`], and clusters being checked
//! cancel their checklist (see the checklist's own `# Cancel safety`).

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures::StreamExt;
use k8sops_core::{CancellationToken, Cluster, NoProgress, ProgressSink, Table};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::{Deserialize, Serialize};

use crate::checklist::{md_cell, millis, term_line, Checklist, ChecklistEvent, ChecklistReport, Status};

/// How a cluster of the fleet is reached.
#[derive(Clone)]
enum Source {
    /// The kubeconfig, shared by every context of it.
    Context(Arc<Kubeconfig>),
    Cluster(Cluster),
}

/// One cluster of a [`Fleet`].
#[derive(Clone)]
struct Member {
    name: String,
    server: String,
    source: Source,
}

/// Many clusters to run a checklist on.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use k8sops::{checklist::Checklist, fleet::Fleet};
/// let a = k8sops_testkit::TestServer::start().await?;
/// let b = k8sops_testkit::TestServer::start().await?;
/// let fleet = Fleet::new().cluster("a", a.cluster()).cluster("b", b.cluster());
/// let report = fleet.run(&Checklist::daily()).await;
/// assert_eq!(report.rows.len(), 2);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Fleet {
    members: Vec<Member>,
    concurrency: usize,
    budget: Duration,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("clusters", &self.names().collect::<Vec<_>>())
            .field("concurrency", &self.concurrency)
            .field("budget", &self.budget)
            .finish()
    }
}

impl Default for Fleet {
    fn default() -> Self {
        Fleet::new()
    }
}

/// Why a fleet could not be assembled.
///
/// ```
/// let err = k8sops::fleet::Fleet::from_kubeconfig(&Default::default(), &["prod".into()]).unwrap_err();
/// assert!(err.to_string().contains("prod"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// The kubeconfig could not be read.
    #[error("cannot read the kubeconfig: {source}")]
    Kubeconfig {
        /// kube's error.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// A context was asked for that the kubeconfig does not have.
    #[error("context {context:?} is not in the kubeconfig; contexts: {available}")]
    UnknownContext {
        /// The context asked for.
        context: String,
        /// The contexts there are, comma-separated.
        available: String,
    },
    /// The kubeconfig has no context at all.
    #[error("the kubeconfig has no contexts")]
    NoContexts,
}

impl Fleet {
    /// Budget per cluster unless set: five minutes.
    pub const DEFAULT_BUDGET: Duration = Duration::from_secs(300);
    /// Clusters checked at once unless set.
    pub const DEFAULT_CONCURRENCY: usize = 4;

    /// An empty fleet.
    ///
    /// ```
    /// assert_eq!(k8sops::fleet::Fleet::new().names().count(), 0);
    /// ```
    pub fn new() -> Self {
        Fleet { members: Vec::new(), concurrency: Self::DEFAULT_CONCURRENCY, budget: Self::DEFAULT_BUDGET }
    }

    /// The contexts of a kubeconfig: all of them when `contexts` is empty,
    /// else those named, in that order. A name the kubeconfig lacks is an
    /// error before anything is contacted.
    ///
    /// ```
    /// let kubeconfig = kube::config::Kubeconfig::from_yaml(r#"
    /// apiVersion: v1
    /// kind: Config
    /// clusters:
    /// - {name: a, cluster: {server: "https://10.0.0.1:6443"}}
    /// contexts:
    /// - {name: prod, context: {cluster: a, user: u}}
    /// - {name: staging, context: {cluster: a, user: u}}
    /// users:
    /// - {name: u, user: {token: t}}
    /// "#)?;
    /// let all = k8sops::fleet::Fleet::from_kubeconfig(&kubeconfig, &[])?;
    /// assert_eq!(all.names().collect::<Vec<_>>(), ["prod", "staging"]);
    /// let one = k8sops::fleet::Fleet::from_kubeconfig(&kubeconfig, &["staging".into()])?;
    /// assert_eq!(one.names().collect::<Vec<_>>(), ["staging"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_kubeconfig(kubeconfig: &Kubeconfig, contexts: &[String]) -> Result<Self, FleetError> {
        let available: Vec<&str> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
        for c in contexts {
            if !available.contains(&c.as_str()) {
                let available = if available.is_empty() { "none".to_string() } else { available.join(", ") };
                return Err(FleetError::UnknownContext { context: c.clone(), available });
            }
        }
        if available.is_empty() {
            return Err(FleetError::NoContexts);
        }
        let mut chosen: Vec<String> = Vec::new();
        // A context named twice is checked once, where it was first named.
        for c in if contexts.is_empty() { available.iter().map(|s| s.to_string()).collect() } else { contexts.to_vec() }
        {
            if !chosen.contains(&c) {
                chosen.push(c);
            }
        }
        let mut fleet = Fleet::new();
        let shared = Arc::new(kubeconfig.clone());
        for name in chosen {
            fleet.members.push(Member {
                server: server_of(kubeconfig, &name).unwrap_or_else(|| "(no server set)".into()),
                name,
                source: Source::Context(Arc::clone(&shared)),
            });
        }
        Ok(fleet)
    }

    /// [`from_kubeconfig`](Self::from_kubeconfig) on the kubeconfig kubectl
    /// would read (`KUBECONFIG`, merged, or `~/.kube/config`).
    ///
    /// ```no_run
    /// let fleet = k8sops::fleet::Fleet::from_default_kubeconfig(&["prod".into(), "staging".into()])?;
    /// # Ok::<(), k8sops::fleet::FleetError>(())
    /// ```
    pub fn from_default_kubeconfig(contexts: &[String]) -> Result<Self, FleetError> {
        let kubeconfig = Kubeconfig::read().map_err(|source| FleetError::Kubeconfig { source })?;
        Self::from_kubeconfig(&kubeconfig, contexts)
    }

    /// Adds a cluster you already have a handle for, under a name.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// let fleet = k8sops::fleet::Fleet::new().cluster("demo", server.cluster());
    /// assert_eq!(fleet.names().collect::<Vec<_>>(), ["demo"]);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn cluster(mut self, name: impl Into<String>, cluster: Cluster) -> Self {
        self.members.push(Member {
            name: name.into(),
            server: cluster.url().to_string(),
            source: Source::Cluster(cluster),
        });
        self
    }

    /// How many clusters are checked at once (default 4, at least 1).
    ///
    /// ```
    /// let fleet = k8sops::fleet::Fleet::new().concurrency(8);
    /// # let _ = fleet;
    /// ```
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Time allowed per cluster, connection included (default five
    /// minutes). The checklist's budget per check is cut to it too.
    ///
    /// ```
    /// let fleet = k8sops::fleet::Fleet::new().budget_per_cluster(std::time::Duration::from_secs(30));
    /// # let _ = fleet;
    /// ```
    #[must_use]
    pub fn budget_per_cluster(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The clusters' names, in order.
    ///
    /// ```
    /// assert!(k8sops::fleet::Fleet::new().names().next().is_none());
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|m| m.name.as_str())
    }

    /// Runs the checklist on every cluster. Never fails: a cluster that
    /// cannot be checked is a row that says why.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// # server.load(&k8sops_testkit::DemoCluster::small())?;
    /// use k8sops::{checklist::Checklist, fleet::Fleet};
    /// let report = Fleet::new().cluster("demo", server.cluster()).run(&Checklist::daily()).await;
    /// println!("{report}");
    /// assert_eq!(report.rows[0].status, k8sops::checklist::Status::Fail);
    /// # Ok(()) }
    /// ```
    pub async fn run(&self, checklist: &Checklist) -> FleetReport {
        self.run_with(checklist, &NoProgress, &CancellationToken::new()).await
    }

    /// [`run`](Self::run) with progress and cancellation.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// use k8sops::fleet::{Fleet, FleetEvent};
    /// let events = std::sync::Arc::new(k8sops::Recorder::<FleetEvent>::default());
    /// let fleet = Fleet::new().cluster("demo", server.cluster());
    /// fleet.run_with(&k8sops::checklist::Checklist::daily(), &events, &Default::default()).await;
    /// assert!(events.events().iter().any(|e| matches!(e, FleetEvent::Finished { .. })));
    /// # Ok(()) }
    /// ```
    pub async fn run_with(
        &self,
        checklist: &Checklist,
        progress: &dyn ProgressSink<FleetEvent>,
        cancel: &CancellationToken,
    ) -> FleetReport {
        let started = Instant::now();
        let total = self.members.len();
        let done = AtomicUsize::new(0);
        let checklist = checklist.clone().budget(checklist.budget_per_check().min(self.budget));
        let rows = futures::stream::iter(self.members.iter())
            .map(|m| {
                let (checklist, done) = (&checklist, &done);
                async move {
                    progress.emit(FleetEvent::Started { cluster: m.name.clone() });
                    let row = self.check_one(m, checklist, progress, cancel).await;
                    let done = done.fetch_add(1, Ordering::Relaxed) + 1;
                    progress.emit(FleetEvent::Finished { cluster: m.name.clone(), status: row.status, done, total });
                    row
                }
            })
            .buffered(self.concurrency)
            .collect::<Vec<_>>()
            .await;
        FleetReport {
            checklist: checklist.name().to_string(),
            budget_per_cluster_ms: millis(self.budget),
            elapsed_ms: millis(started.elapsed()),
            rows,
        }
    }

    async fn check_one(
        &self,
        m: &Member,
        checklist: &Checklist,
        progress: &dyn ProgressSink<FleetEvent>,
        cancel: &CancellationToken,
    ) -> FleetRow {
        let started = Instant::now();
        let row = |outcome: ClusterOutcome, report: Option<ChecklistReport>| FleetRow::new(m, outcome, report, started);
        if cancel.is_cancelled() {
            return row(ClusterOutcome::Cancelled, None);
        }
        // The row for what the work gave: a report (with how the run ended) or why there is none.
        let finish = |r: Result<ChecklistReport, ClusterOutcome>, cut_short: Option<ClusterOutcome>| match r {
            Ok(report) => row(cut_short.unwrap_or(ClusterOutcome::Checked), Some(report)),
            Err(outcome) => row(outcome, None),
        };
        // The checklist runs under a child token: at the deadline (or on the
        // caller's cancel) it is cancelled, so the checks already finished are kept.
        let stop = cancel.child_token();
        let work = async {
            let cluster = match &m.source {
                Source::Cluster(c) => c.clone(),
                Source::Context(kubeconfig) => {
                    let options = KubeConfigOptions { context: Some(m.name.clone()), ..Default::default() };
                    let config =
                        match kube::Config::from_custom_kubeconfig(Kubeconfig::clone(kubeconfig), &options).await {
                            Ok(c) => c,
                            Err(e) => return Err(ClusterOutcome::Unusable { message: e.to_string() }),
                        };
                    // Building the clients runs an exec credential plugin
                    // (`aws eks get-token`, kubelogin) synchronously: on a
                    // blocking thread, so a plugin that waits (for a login, a
                    // prompt) holds neither the other clusters nor the budget.
                    match tokio::task::spawn_blocking(move || Cluster::from_config(config)).await {
                        Ok(Ok(c)) => c,
                        Ok(Err(e)) => return Err(ClusterOutcome::Unusable { message: e.to_string() }),
                        Err(e) => {
                            return Err(ClusterOutcome::Unusable {
                                message: format!("setting up the client stopped: {e}"),
                            })
                        }
                    }
                }
            };
            // One answer first, so a dead cluster is one clear row, not one row per check.
            let probe = PROBE_TIMEOUT.min(self.budget / 2);
            match tokio::time::timeout(probe, cluster.server_version()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) if e.is_permission_denied() => {
                    return Err(ClusterOutcome::Forbidden { message: e.to_string() })
                }
                Ok(Err(e)) => return Err(ClusterOutcome::Unreachable { message: e.to_string() }),
                Err(_) => {
                    let message =
                        format!("no answer to GET /version within {}", crate::checklist::seconds(millis(probe)));
                    return Err(ClusterOutcome::Unreachable { message });
                }
            }
            let forward = |e: ChecklistEvent| {
                progress.emit(FleetEvent::Check { cluster: m.name.clone(), event: e });
            };
            Ok(checklist.run_with(&cluster, &forward, &stop).await)
        };
        let mut work = std::pin::pin!(work);
        let cut_short = tokio::select! {
            r = &mut work => return finish(r, None),
            _ = tokio::time::sleep(self.budget) => ClusterOutcome::TimedOut { budget_ms: millis(self.budget) },
            _ = cancel.cancelled() => ClusterOutcome::Cancelled,
        };
        // Cut short: running checks stop at once and report what finished;
        // a connection still being set up gets a moment, no more (an exec
        // credential plugin still running is left to finish on its thread).
        stop.cancel();
        match tokio::time::timeout(GRACE, work).await {
            Ok(r) => finish(r, Some(cut_short)),
            Err(_) => row(cut_short, None),
        }
    }
}

/// How long a cluster may take to answer `GET /version` (or half its budget, if less).
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a cluster cut short by its budget or a cancel may take to hand over what finished.
const GRACE: Duration = Duration::from_secs(5);

/// The API server URL of a kubeconfig context (its cluster's `server`), or
/// `None` when the context, its cluster or the server is missing: what to
/// show a person before connecting.
///
/// ```
/// let kubeconfig = kube::config::Kubeconfig::from_yaml(r#"
/// apiVersion: v1
/// kind: Config
/// clusters: [{name: prod, cluster: {server: "https://prod.example:6443"}}]
/// contexts: [{name: prod-admin, context: {cluster: prod, user: admin}}]
/// users: [{name: admin, user: {}}]
/// "#)?;
/// assert_eq!(k8sops::fleet::server_of(&kubeconfig, "prod-admin").as_deref(), Some("https://prod.example:6443"));
/// assert_eq!(k8sops::fleet::server_of(&kubeconfig, "dev"), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn server_of(kubeconfig: &Kubeconfig, context: &str) -> Option<String> {
    let ctx = kubeconfig.contexts.iter().find(|c| c.name == context)?.context.as_ref()?;
    let cluster = kubeconfig.clusters.iter().find(|c| c.name == ctx.cluster)?;
    cluster.cluster.as_ref()?.server.clone()
}

/// Progress of a fleet run.
///
/// ```
/// use k8sops::fleet::FleetEvent;
/// let e = FleetEvent::Started { cluster: "prod".into() };
/// assert!(matches!(e, FleetEvent::Started { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub enum FleetEvent {
    /// A cluster is being checked.
    Started {
        /// Its name (context).
        cluster: String,
    },
    /// A check of a cluster started or finished.
    Check {
        /// The cluster's name.
        cluster: String,
        /// The checklist's event.
        event: ChecklistEvent,
    },
    /// A cluster is done.
    Finished {
        /// Its name.
        cluster: String,
        /// Its worst status.
        status: Status,
        /// Clusters done so far, this one included.
        done: usize,
        /// Clusters in the run.
        total: usize,
    },
}

/// Whether a cluster was checked, and if not, why.
///
/// ```
/// use k8sops::fleet::ClusterOutcome;
/// let dead = ClusterOutcome::Unreachable { message: "connection refused".into() };
/// assert_eq!(dead.reason().unwrap(), "did not answer: connection refused");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
#[non_exhaustive]
pub enum ClusterOutcome {
    /// The checklist ran (its checks may still have been forbidden or timed out).
    Checked,
    /// The API server did not answer.
    Unreachable {
        /// The error.
        message: String,
    },
    /// The API server refused our credentials (401/403).
    Forbidden {
        /// The server's message.
        message: String,
    },
    /// The context could not be turned into a client (missing cluster, bad
    /// credentials file).
    Unusable {
        /// The error.
        message: String,
    },
    /// The cluster took longer than its budget.
    TimedOut {
        /// The budget, in milliseconds.
        budget_ms: u64,
    },
    /// The run was cancelled first.
    Cancelled,
}

impl ClusterOutcome {
    /// Why the cluster was not checked; `None` when it was.
    ///
    /// ```
    /// assert!(k8sops::fleet::ClusterOutcome::Checked.reason().is_none());
    /// ```
    pub fn reason(&self) -> Option<String> {
        match self {
            ClusterOutcome::Checked => None,
            ClusterOutcome::Unreachable { message } => Some(format!("did not answer: {message}")),
            ClusterOutcome::Forbidden { message } => Some(format!("refused our credentials: {message}")),
            ClusterOutcome::Unusable { message } => Some(format!("context cannot be used: {message}")),
            ClusterOutcome::TimedOut { budget_ms } => {
                Some(format!("not done within its budget of {}s", budget_ms.div_ceil(1000)))
            }
            ClusterOutcome::Cancelled => Some("cancelled".into()),
        }
    }
}

/// One of a cluster's worst findings, for the fleet table.
///
/// ```
/// let w = k8sops::fleet::WorstFinding {
///     check: "nodes".into(), status: k8sops::checklist::Status::Fail,
///     subject: "node/n1".into(), summary: "NotReady".into(),
/// };
/// assert_eq!(w.to_string(), "FAIL [nodes] node/n1: NotReady");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorstFinding {
    /// The check's id.
    pub check: String,
    /// Its status.
    pub status: Status,
    /// The object.
    pub subject: String,
    /// What was found.
    pub summary: String,
}

impl std::fmt::Display for WorstFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.subject.is_empty() {
            write!(f, "{} [{}] {}", self.status, self.check, self.summary)
        } else {
            write!(f, "{} [{}] {}: {}", self.status, self.check, self.subject, self.summary)
        }
    }
}

/// One cluster's row.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops::fleet::Fleet::new().cluster("demo", server.cluster()).run(&k8sops::checklist::Checklist::daily()).await;
/// let row = &report.rows[0];
/// println!("{}: {} ({} fail, {} warn)", row.cluster, row.status, row.fail, row.warn);
/// for w in &row.worst { println!("  {w}"); }
/// # assert!(row.report.is_some());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetRow {
    /// The cluster's name (kubeconfig context).
    pub cluster: String,
    /// Its API server.
    pub server: String,
    /// The worst status; [`Status::Fail`] when the cluster could not be
    /// checked (nobody knows what state it is in).
    pub status: Status,
    /// Whether it was checked.
    #[serde(flatten)]
    pub outcome: ClusterOutcome,
    /// Checks that passed.
    pub pass: usize,
    /// Checks that warned.
    pub warn: usize,
    /// Checks that failed.
    pub fail: usize,
    /// Its worst findings (up to [`FleetRow::WORST`]), or why it was not checked.
    pub worst: Vec<WorstFinding>,
    /// The full checklist report, when it was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ChecklistReport>,
    /// How long the cluster took.
    pub elapsed_ms: u64,
}

impl FleetRow {
    /// Worst findings kept per row.
    pub const WORST: usize = 3;

    fn new(m: &Member, outcome: ClusterOutcome, report: Option<ChecklistReport>, started: Instant) -> Self {
        let (pass, warn, fail) = report.as_ref().map(|r| r.counts()).unwrap_or_default();
        let reason = outcome.reason();
        let status = match (&report, &reason) {
            (Some(r), None) => r.status(),
            // Cut short: what finished counts, and the cluster was not fully checked.
            (Some(r), Some(_)) => r.status().max(Status::Warn),
            (None, _) => Status::Fail,
        };
        let mut worst: Vec<WorstFinding> = reason
            .map(|why| WorstFinding {
                check: "cluster".into(),
                status: if report.is_some() { Status::Warn } else { Status::Fail },
                subject: String::new(),
                summary: why,
            })
            .into_iter()
            .collect();
        if let Some(r) = &report {
            worst.extend(
                r.findings()
                    .filter(|(_, f)| f.status != Status::Pass)
                    .take(Self::WORST.saturating_sub(worst.len()))
                    .map(|(c, f)| WorstFinding {
                        check: c.id.clone(),
                        status: f.status,
                        subject: f.subject.clone(),
                        summary: f.summary.clone(),
                    }),
            );
        }
        FleetRow {
            cluster: m.name.clone(),
            server: m.server.clone(),
            status,
            outcome,
            pass,
            warn,
            fail,
            worst,
            report,
            elapsed_ms: millis(started.elapsed()),
        }
    }
}

/// The result of a fleet run: a row per cluster, in the fleet's order.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// let report = k8sops::fleet::Fleet::new().cluster("demo", server.cluster()).run(&k8sops::checklist::Checklist::daily()).await;
/// let json = report.to_json();
/// assert!(json.contains("\"cluster\": \"demo\""));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetReport {
    /// The checklist's name.
    pub checklist: String,
    /// The budget each cluster had.
    pub budget_per_cluster_ms: u64,
    /// How long the whole run took.
    pub elapsed_ms: u64,
    /// One row per cluster.
    pub rows: Vec<FleetRow>,
}

impl FleetReport {
    /// The worst status of any cluster.
    ///
    /// ```
    /// let empty = k8sops::fleet::FleetReport { checklist: "daily".into(), budget_per_cluster_ms: 0, elapsed_ms: 0, rows: vec![] };
    /// assert_eq!(empty.status(), k8sops::checklist::Status::Pass);
    /// ```
    pub fn status(&self) -> Status {
        self.rows.iter().map(|r| r.status).max().unwrap_or(Status::Pass)
    }

    /// The report as pretty JSON (each row with its full checklist report).
    ///
    /// ```
    /// let empty = k8sops::fleet::FleetReport { checklist: "daily".into(), budget_per_cluster_ms: 0, elapsed_ms: 0, rows: vec![] };
    /// assert!(empty.to_json().contains("\"rows\": []"));
    /// ```
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The fleet table as Markdown.
    ///
    /// ```
    /// let empty = k8sops::fleet::FleetReport { checklist: "daily".into(), budget_per_cluster_ms: 0, elapsed_ms: 0, rows: vec![] };
    /// assert!(empty.to_markdown().starts_with("# Fleet: daily checklist"));
    /// ```
    pub fn to_markdown(&self) -> String {
        let mut out = format!("# Fleet: {} checklist on {} clusters\n\n", self.checklist, self.rows.len());
        out.push_str(
            "| cluster | server | status | pass | warn | fail | worst findings |\n|---|---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            let worst: Vec<String> = r.worst.iter().map(|w| md_cell(&w.to_string())).collect();
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                md_cell(&r.cluster),
                md_cell(&r.server),
                r.status,
                r.pass,
                r.warn,
                r.fail,
                worst.join("<br>")
            ));
        }
        out
    }
}

impl std::fmt::Display for FleetReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Fleet: {} checklist on {} clusters: {} ({} ms)",
            self.checklist,
            self.rows.len(),
            self.status(),
            self.elapsed_ms
        )?;
        let mut t = Table::new(["cluster", "server", "status", "pass", "warn", "fail", "worst finding"]);
        for r in &self.rows {
            let worst = r.worst.first().map(|w| w.to_string()).unwrap_or_else(|| "-".into());
            t.row([
                term_line(&r.cluster).into_owned(),
                term_line(&r.server).into_owned(),
                r.status.to_string(),
                r.pass.to_string(),
                r.warn.to_string(),
                r.fail.to_string(),
                term_line(&worst).into_owned(),
            ]);
        }
        write!(f, "{t}")
    }
}
