//! The ops guide's daily, weekly and monthly checklists as composable
//! checks.
//!
//! A [`Check`] looks at one thing (node status, unused resources, a
//! disaster-recovery drill...) and returns [`Finding`]s, each
//! [`Status::Pass`], [`Status::Warn`] or [`Status::Fail`] with its evidence
//! and the suggested action. A [`Checklist`] runs its checks concurrently,
//! each within a time budget, and always returns a [`ChecklistReport`]: a
//! check that fails, is forbidden, panics or runs out of time becomes a
//! result that says so, never an abort of the others.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = k8sops_testkit::TestServer::start().await?;
//! # server.load(&k8sops_testkit::DemoCluster::small())?;
//! # let cluster = server.cluster();
//! use k8sops::checklist::{Checklist, Status};
//!
//! let report = Checklist::daily().run(&cluster).await;
//! print!("{report}"); // a terminal table; also to_json(), to_markdown(), to_html()
//! for (check, finding) in report.findings().filter(|(_, f)| f.status == Status::Fail) {
//!     println!("{}: {} -> {}", check.id, finding.summary, finding.action);
//! }
//! # assert_eq!(report.status(), Status::Fail, "the demo cluster has a NotReady node");
//! # Ok(()) }
//! ```
//!
//! # Which checks
//!
//! | checklist | checks (id) |
//! |---|---|
//! | [`Checklist::daily`] | `nodes`, `pods`, `services`, `usage`, `events` |
//! | [`Checklist::weekly`] | `backup`, `unused`, `audit`, `top` |
//! | [`Checklist::monthly`] | `preflight`, `dr-drill`, `capacity`, `runbook` |
//!
//! Checks whose area crate is not compiled (facade features `metrics`,
//! `diagnose`, `backup`, `upgrade`, `audit`) are left out of the lists.
//!
//! # Cancel safety
//!
//! [`Checklist::run_with`] takes a [`CancellationToken`]: checks not started
//! yet and checks still running are reported as
//! [`Outcome::Cancelled`]. Every daily and weekly check only reads, except
//! `backup`, which writes an export to the backup store (an interrupted
//! export leaves no `manifest.json`, so it is never taken for a complete
//! backup). The monthly `dr-drill` creates a scratch namespace and deletes
//! it at its end; cancelled or timed out in between, it starts that delete
//! in the background (best effort; the run waits up to 3 s for it) and its result
//! says so ([`Check::cut_short_note`]). A scratch namespace left anyway
//! (labelled `k8sops.io/dr-drill=true`) is removed by
//! `kubectl delete namespace -l k8sops.io/dr-drill=true`; the next drill
//! warns about any it finds.

use std::{
    panic::AssertUnwindSafe,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{future::BoxFuture, FutureExt, StreamExt};
use k8sops_core::{CancellationToken, Cluster, NoProgress, ProgressSink};
use serde::{Deserialize, Serialize};

mod render;

pub(crate) use render::{code_span, md_cell, md_line, seconds, term_line};

/// Cleanups that checks cut short (dropped by a budget or a cancel) start
/// in the background; [`Checklist::run_with`] waits for them, up to
/// [`CLEANUP_WAIT`], before it returns, so a program that exits after its
/// report does not cut them off.
#[derive(Clone, Default)]
struct Cleanups(Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>);

tokio::task_local! {
    static CLEANUPS: Cleanups;
}

/// How long a checklist run waits for the cleanups of checks cut short.
const CLEANUP_WAIT: Duration = Duration::from_secs(3);

/// Starts `cleanup` on the current tokio runtime (nothing without one): a
/// check cut short (its future dropped by the budget or a cancel) undoing
/// what it changed, typically from a drop guard. Started while a
/// [`Checklist::run_with`] runs the check, the run waits for it, up to 3 s
/// in all, before it returns; elsewhere it runs detached. Say what may stay
/// in [`Check::cut_short_note`].
///
/// ```
/// /// Held by a check's future while a scratch object exists.
/// struct Scratch(Option<String>);
///
/// impl Drop for Scratch {
///     fn drop(&mut self) {
///         if let Some(name) = self.0.take() {
///             k8sops::checklist::spawn_cleanup(async move {
///                 // delete `name` here, with a timeout
///                 let _ = name;
///             });
///         }
///     }
/// }
/// # drop(Scratch(None));
/// ```
pub fn spawn_cleanup(cleanup: impl std::future::Future<Output = ()> + Send + 'static) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    let handle = runtime.spawn(cleanup);
    let _ = CLEANUPS.try_with(|c| c.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(handle));
}

impl Cleanups {
    /// Waits for every cleanup started so far, up to `wait` in all.
    async fn finish(&self, wait: Duration) {
        let handles = std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if handles.is_empty() {
            return;
        }
        let _ = tokio::time::timeout(wait, futures::future::join_all(handles)).await;
    }
}

pub mod daily;
pub mod monthly;
pub mod weekly;

/// How a finding, a check or a whole report came out. Ordered from best to
/// worst, so `max()` is the worst.
///
/// ```
/// use k8sops::checklist::Status;
/// assert!(Status::Fail > Status::Warn && Status::Warn > Status::Pass);
/// assert_eq!(serde_json::to_string(&Status::Warn)?, "\"warn\"");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing to do.
    Pass,
    /// Needs a look soon.
    Warn,
    /// Needs action now.
    Fail,
}

impl Status {
    /// `PASS`, `WARN` or `FAIL`.
    ///
    /// ```
    /// assert_eq!(k8sops::checklist::Status::Fail.as_str(), "FAIL");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing a check found: what, about which object, the facts behind it
/// and what to do.
///
/// ```
/// use k8sops::checklist::{Finding, Status};
/// let f = Finding::fail("node/ip-10-0-1-5", "node is NotReady")
///     .evidence("Ready=Unknown (NodeStatusUnknown) for 12m")
///     .action("kubectl describe node ip-10-0-1-5; check the kubelet");
/// assert_eq!(f.status, Status::Fail);
/// assert_eq!(f.evidence, ["Ready=Unknown (NodeStatusUnknown) for 12m"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Pass, warn or fail.
    pub status: Status,
    /// The object it is about (`node/NAME`, `pod/NS/NAME`, `namespace/NS`),
    /// or empty for the cluster as a whole.
    pub subject: String,
    /// What was found, in one line.
    pub summary: String,
    /// The facts it rests on (conditions, counts, messages), one per line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// The suggested action; empty when there is nothing to do.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
}

impl Finding {
    /// A finding with this status.
    ///
    /// ```
    /// use k8sops::checklist::{Finding, Status};
    /// assert_eq!(Finding::new(Status::Warn, "", "3 warnings").status, Status::Warn);
    /// ```
    pub fn new(status: Status, subject: impl Into<String>, summary: impl Into<String>) -> Self {
        Finding {
            status,
            subject: subject.into(),
            summary: summary.into(),
            evidence: Vec::new(),
            action: String::new(),
        }
    }

    /// A passing finding.
    ///
    /// ```
    /// let f = k8sops::checklist::Finding::pass("", "7 nodes, all Ready");
    /// assert_eq!(f.status, k8sops::checklist::Status::Pass);
    /// ```
    pub fn pass(subject: impl Into<String>, summary: impl Into<String>) -> Self {
        Finding::new(Status::Pass, subject, summary)
    }

    /// A warning.
    ///
    /// ```
    /// let f = k8sops::checklist::Finding::warn("node/n1", "cordoned");
    /// assert_eq!(f.status, k8sops::checklist::Status::Warn);
    /// ```
    pub fn warn(subject: impl Into<String>, summary: impl Into<String>) -> Self {
        Finding::new(Status::Warn, subject, summary)
    }

    /// A failure.
    ///
    /// ```
    /// let f = k8sops::checklist::Finding::fail("pod/default/web-1", "CrashLoopBackOff");
    /// assert_eq!(f.status, k8sops::checklist::Status::Fail);
    /// ```
    pub fn fail(subject: impl Into<String>, summary: impl Into<String>) -> Self {
        Finding::new(Status::Fail, subject, summary)
    }

    /// Adds one line of evidence.
    ///
    /// ```
    /// let f = k8sops::checklist::Finding::warn("", "x").evidence("a").evidence("b");
    /// assert_eq!(f.evidence, ["a", "b"]);
    /// ```
    #[must_use]
    pub fn evidence(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }

    /// Sets the suggested action.
    ///
    /// ```
    /// let f = k8sops::checklist::Finding::warn("node/n1", "cordoned").action("kubectl uncordon n1");
    /// assert_eq!(f.action, "kubectl uncordon n1");
    /// ```
    #[must_use]
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = action.into();
        self
    }
}

/// One bar of a [`Chart`]: how much of a capacity is used.
///
/// ```
/// let bar = k8sops::checklist::Bar { label: "general".into(), used: 12.5, capacity: 16.0 };
/// assert_eq!(bar.percent(), 78.125);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// What the bar is (a node group, a node).
    pub label: String,
    /// Amount used (or requested), in the chart's unit.
    pub used: f64,
    /// The capacity (allocatable), in the chart's unit.
    pub capacity: f64,
}

impl Bar {
    /// `used` as a percentage of `capacity` (0 when the capacity is 0).
    ///
    /// ```
    /// let bar = k8sops::checklist::Bar { label: "x".into(), used: 1.0, capacity: 0.0 };
    /// assert_eq!(bar.percent(), 0.0);
    /// ```
    pub fn percent(&self) -> f64 {
        percent(self.used, self.capacity)
    }
}

/// A bar chart a check attaches to its result (usage and headroom per node
/// group); the HTML report draws it as inline SVG.
///
/// ```
/// use k8sops::checklist::{Bar, Chart};
/// let chart = Chart::new("CPU requested per node group", "cores")
///     .bar("general", 12.5, 16.0)
///     .bar("system", 1.0, 4.0);
/// assert_eq!(chart.bars.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    /// Title.
    pub title: String,
    /// Unit of `used` and `capacity` (`cores`, `GiB`, `pods`).
    pub unit: String,
    /// The bars.
    pub bars: Vec<Bar>,
}

impl Chart {
    /// An empty chart.
    ///
    /// ```
    /// assert!(k8sops::checklist::Chart::new("t", "cores").bars.is_empty());
    /// ```
    pub fn new(title: impl Into<String>, unit: impl Into<String>) -> Self {
        Chart { title: title.into(), unit: unit.into(), bars: Vec::new() }
    }

    /// Adds a bar.
    ///
    /// ```
    /// let c = k8sops::checklist::Chart::new("t", "GiB").bar("general", 30.0, 64.0);
    /// assert_eq!(c.bars[0].label, "general");
    /// ```
    #[must_use]
    pub fn bar(mut self, label: impl Into<String>, used: f64, capacity: f64) -> Self {
        self.bars.push(Bar { label: label.into(), used, capacity });
        self
    }
}

/// A document a check produces (the monthly runbook).
///
/// ```
/// let a = k8sops::checklist::Artifact::markdown("runbook.md", "# Runbook\n");
/// assert_eq!(a.media_type, "text/markdown");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// File name to save it under.
    pub name: String,
    /// Media type (`text/markdown`, `application/json`).
    pub media_type: String,
    /// The content.
    pub content: String,
}

impl Artifact {
    /// A Markdown document.
    ///
    /// ```
    /// let a = k8sops::checklist::Artifact::markdown("x.md", "# X");
    /// assert_eq!(a.content, "# X");
    /// ```
    pub fn markdown(name: impl Into<String>, content: impl Into<String>) -> Self {
        Artifact { name: name.into(), media_type: "text/markdown".into(), content: content.into() }
    }
}

/// What a check returns: its findings, and charts and documents for the
/// report.
///
/// ```
/// use k8sops::checklist::{CheckOutput, Finding};
/// let out: CheckOutput = vec![Finding::pass("", "all good")].into();
/// assert_eq!(out.findings.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckOutput {
    /// The findings. No findings counts as a pass.
    pub findings: Vec<Finding>,
    /// Charts for the report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charts: Vec<Chart>,
    /// Documents for the report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
}

impl From<Vec<Finding>> for CheckOutput {
    fn from(findings: Vec<Finding>) -> Self {
        CheckOutput { findings, ..Default::default() }
    }
}

/// One check of a checklist. Implement it to add your own:
///
/// ```
/// use futures::future::BoxFuture;
/// use k8sops::checklist::{Check, CheckOutput, Checklist, Finding};
/// use k8sops::Cluster;
///
/// /// Fails when the cluster runs an API server older than 1.30.
/// struct MinimumVersion;
///
/// impl Check for MinimumVersion {
///     fn id(&self) -> &str { "min-version" }
///     fn title(&self) -> &str { "API server is 1.30 or newer" }
///     fn run<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, k8sops::Result<CheckOutput>> {
///         Box::pin(async move {
///             let v = cluster.server_version().await?;
///             let finding = if (v.major, v.minor) >= (1, 30) {
///                 Finding::pass("", format!("API server {v}"))
///             } else {
///                 Finding::fail("", format!("API server {v} is older than 1.30")).action("plan an upgrade")
///             };
///             Ok(vec![finding].into())
///         })
///     }
/// }
///
/// let checklist = Checklist::daily().with(MinimumVersion);
/// assert!(checklist.ids().any(|id| id == "min-version"));
/// ```
pub trait Check: Send + Sync {
    /// Short stable identifier (`nodes`, `dr-drill`), unique within a checklist.
    fn id(&self) -> &str;
    /// What the check looks at, for people.
    fn title(&self) -> &str;
    /// Runs the check. `Err` means the check could not run (the checklist
    /// reports it as such, telling a forbidden request apart); what it
    /// found goes into the findings.
    fn run<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, crate::Result<CheckOutput>>;

    /// What a run cut short (its budget spent, the checklist cancelled) may
    /// leave in the cluster, and how to remove it; the not-run result's
    /// action says it. `None` (the default) for a check that only reads.
    ///
    /// ```
    /// use k8sops::checklist::Checklist;
    /// let monthly = Checklist::monthly();
    /// // (dr-drill needs the `backup` feature, on by default)
    /// if let Some(drill) = monthly.checks().find(|c| c.id() == "dr-drill") {
    ///     assert!(drill.cut_short_note().unwrap().contains("k8sops.io/dr-drill=true"));
    /// }
    /// let daily = Checklist::daily();
    /// assert!(daily.checks().all(|c| c.cut_short_note().is_none()), "the daily checks only read");
    /// ```
    fn cut_short_note(&self) -> Option<String> {
        None
    }
}

/// Whether a check ran, and if not, why.
///
/// ```
/// use k8sops::checklist::Outcome;
/// assert!(Outcome::Ran.ran());
/// assert!(!Outcome::TimedOut { budget_ms: 1000 }.ran());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Outcome {
    /// It ran to its end; the findings say what it found.
    Ran,
    /// The cluster refused a request it needs (401/403).
    Forbidden {
        /// The server's message.
        message: String,
    },
    /// It did not finish within the checklist's budget per check.
    TimedOut {
        /// The budget, in milliseconds.
        budget_ms: u64,
    },
    /// It could not run (unreachable server, an error, a panic).
    Failed {
        /// The error, with its sources.
        message: String,
    },
    /// The run was cancelled before it finished.
    Cancelled,
}

impl Outcome {
    /// Whether the check ran to its end.
    ///
    /// ```
    /// assert!(!k8sops::checklist::Outcome::Cancelled.ran());
    /// ```
    pub fn ran(&self) -> bool {
        matches!(self, Outcome::Ran)
    }

    /// Why it did not run, in a sentence; `None` when it ran.
    ///
    /// ```
    /// use k8sops::checklist::Outcome;
    /// assert_eq!(Outcome::TimedOut { budget_ms: 1500 }.reason().unwrap(), "did not finish within 1.5s");
    /// ```
    pub fn reason(&self) -> Option<String> {
        match self {
            Outcome::Ran => None,
            Outcome::Forbidden { message } => Some(format!("forbidden: {message}")),
            Outcome::TimedOut { budget_ms } => Some(format!("did not finish within {}", seconds(*budget_ms))),
            Outcome::Failed { message } => Some(format!("could not run: {message}")),
            Outcome::Cancelled => Some("cancelled".into()),
        }
    }
}

/// What one check gave.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops::checklist::Checklist::daily().run(&server.cluster()).await;
/// let nodes = report.result("nodes").expect("the daily checklist checks nodes");
/// println!("{} {} ({} findings, {} ms)", nodes.status, nodes.title, nodes.findings.len(), nodes.elapsed_ms);
/// # assert!(nodes.outcome.ran());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    /// The check's id.
    pub id: String,
    /// The check's title.
    pub title: String,
    /// The worst finding's status; [`Status::Warn`] when the check did not
    /// run (the cluster was not checked, which needs a look).
    pub status: Status,
    /// Whether it ran.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The findings, worst first (at most [`Checklist::max_findings`]).
    pub findings: Vec<Finding>,
    /// Findings left out beyond [`Checklist::max_findings`] (the least severe).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted: usize,
    /// Charts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charts: Vec<Chart>,
    /// Documents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
    /// How long it took.
    pub elapsed_ms: u64,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl CheckResult {
    fn not_run(check: &dyn Check, outcome: Outcome, elapsed: Duration) -> Self {
        let reason = outcome.reason().unwrap_or_default();
        let action = match &outcome {
            Outcome::Forbidden { .. } => "run the checklist as a user allowed to read what this check reads (see the check's docs)",
            Outcome::TimedOut { .. } => "give the checklist a larger budget per check (Checklist::budget), or look at why the API server is slow",
            Outcome::Cancelled => "",
            _ => "look at the error and run the check again",
        };
        let action = match (&outcome, check.cut_short_note()) {
            (Outcome::TimedOut { .. } | Outcome::Cancelled, Some(note)) if action.is_empty() => note,
            (Outcome::TimedOut { .. } | Outcome::Cancelled, Some(note)) => format!("{note}; {action}"),
            _ => action.to_string(),
        };
        CheckResult {
            id: check.id().to_string(),
            title: check.title().to_string(),
            status: Status::Warn,
            findings: vec![Finding::warn("", format!("not checked: {reason}")).action(action)],
            outcome,
            omitted: 0,
            charts: Vec::new(),
            artifacts: Vec::new(),
            elapsed_ms: millis(elapsed),
        }
    }

    fn ran(check: &dyn Check, out: CheckOutput, max_findings: usize, elapsed: Duration) -> Self {
        let mut findings = out.findings;
        // Worst first; a stable sort keeps the check's own order within a status.
        // The status comes from every finding, before the least severe are cut.
        let status = findings.iter().map(|f| f.status).max().unwrap_or(Status::Pass);
        findings.sort_by_key(|f| std::cmp::Reverse(f.status));
        let omitted = findings.len().saturating_sub(max_findings);
        findings.truncate(max_findings);
        CheckResult {
            id: check.id().to_string(),
            title: check.title().to_string(),
            status,
            outcome: Outcome::Ran,
            findings,
            omitted,
            charts: out.charts,
            artifacts: out.artifacts,
            elapsed_ms: millis(elapsed),
        }
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `used` as a percentage of `of`; 0 when `of` is not positive.
pub(crate) fn percent(used: f64, of: f64) -> f64 {
    if of > 0.0 {
        used / of * 100.0
    } else {
        0.0
    }
}

/// Bytes in a GiB, for charts and evidence in GiB.
#[cfg(feature = "metrics")]
pub(crate) const GIB: f64 = (1u64 << 30) as f64;

/// `1 pod`, `3 pods`.
pub(crate) fn plural<N: std::fmt::Display + PartialEq + From<u8>>(n: N, one: &str, many: &str) -> String {
    if n == N::from(1) {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Runs `make()`'s future to its end on a blocking thread, driven by the
/// current runtime. The backup crate's export and restore futures are not
/// provably `Send` (rustc cannot show it for their higher-ranked
/// closures), which a check's boxed future must be; this keeps them off the
/// check's future. They stop through their params' cancel token when the
/// check is dropped. `task` names the work in the error of a thread that
/// stopped before the end.
#[cfg(feature = "backup")]
pub(crate) async fn on_blocking_thread<T, F>(
    task: &str,
    make: impl FnOnce() -> F + Send + 'static,
) -> crate::backup::Result<T>
where
    F: std::future::Future<Output = crate::backup::Result<T>>,
    T: Send + 'static,
{
    let handle = tokio::runtime::Handle::current();
    match tokio::task::spawn_blocking(move || handle.block_on(make())).await {
        Ok(r) => r,
        Err(e) => Err(k8sops_core::Error::Backend {
            backend: task.into(),
            message: "it stopped before it finished".into(),
            transient: false,
            source: Some(Box::new(e)),
        }
        .into()),
    }
}

/// Progress of a checklist run.
///
/// ```
/// use k8sops::checklist::{ChecklistEvent, Checklist};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// let events = std::sync::Arc::new(k8sops::Recorder::default());
/// Checklist::daily().run_with(&server.cluster(), &events, &Default::default()).await;
/// let finished = events.events().iter().filter(|e| matches!(e, ChecklistEvent::Finished { .. })).count();
/// assert_eq!(finished, Checklist::daily().ids().count());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub enum ChecklistEvent {
    /// A check started.
    Started {
        /// Its id.
        id: String,
        /// Its title.
        title: String,
    },
    /// A check finished (or timed out, was forbidden, failed).
    Finished {
        /// Its id.
        id: String,
        /// Its status.
        status: Status,
        /// How long it took.
        elapsed_ms: u64,
        /// Checks finished so far, this one included.
        done: usize,
        /// Checks in the run.
        total: usize,
    },
}

/// A named list of checks and how to run them.
///
/// ```
/// use std::time::Duration;
/// use k8sops::checklist::Checklist;
/// let weekly = Checklist::weekly().without("audit").budget(Duration::from_secs(120)).concurrency(2);
/// assert!(!weekly.ids().any(|id| id == "audit"));
/// assert_eq!(weekly.name(), "weekly");
/// ```
#[derive(Clone)]
pub struct Checklist {
    name: String,
    checks: Vec<Arc<dyn Check>>,
    budget: Duration,
    concurrency: usize,
    max_findings: usize,
}

impl std::fmt::Debug for Checklist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checklist")
            .field("name", &self.name)
            .field("checks", &self.ids().collect::<Vec<_>>())
            .field("budget", &self.budget)
            .field("concurrency", &self.concurrency)
            .field("max_findings", &self.max_findings)
            .finish()
    }
}

impl Checklist {
    /// Budget per check unless set: one minute.
    pub const DEFAULT_BUDGET: Duration = Duration::from_secs(60);
    /// Checks run at once unless set.
    pub const DEFAULT_CONCURRENCY: usize = 4;
    /// Findings kept per check unless set.
    pub const DEFAULT_MAX_FINDINGS: usize = 50;

    /// An empty checklist.
    ///
    /// ```
    /// let mine = k8sops::checklist::Checklist::new("release-gate");
    /// assert_eq!(mine.ids().count(), 0);
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        Checklist {
            name: name.into(),
            checks: Vec::new(),
            budget: Self::DEFAULT_BUDGET,
            concurrency: Self::DEFAULT_CONCURRENCY,
            max_findings: Self::DEFAULT_MAX_FINDINGS,
        }
    }

    /// The ops guide's daily checklist: node status, pod health, service
    /// endpoints, resource usage against thresholds, recent warning events
    /// (see [`daily`]).
    ///
    /// ```
    /// let list = k8sops::checklist::Checklist::daily();
    /// let ids: Vec<&str> = list.ids().collect();
    /// assert_eq!(ids, ["nodes", "pods", "services", "usage", "events"]);
    /// ```
    pub fn daily() -> Self {
        Checklist { checks: daily::checks(), ..Checklist::new("daily") }
    }

    /// The weekly checklist: a backup and its verification, unused
    /// resources, a security audit summary, top consumers (see [`weekly`]).
    ///
    /// ```
    /// let list = k8sops::checklist::Checklist::weekly();
    /// let ids: Vec<&str> = list.ids().collect();
    /// assert_eq!(ids, ["backup", "unused", "audit", "top"]);
    /// ```
    pub fn weekly() -> Self {
        Checklist { checks: weekly::checks(), ..Checklist::new("weekly") }
    }

    /// The monthly checklist: upgrade preflight to the next minor, a
    /// disaster-recovery drill, capacity planning, a runbook for this
    /// cluster (see [`monthly`]).
    ///
    /// ```
    /// let list = k8sops::checklist::Checklist::monthly();
    /// let ids: Vec<&str> = list.ids().collect();
    /// assert_eq!(ids, ["preflight", "dr-drill", "capacity", "runbook"]);
    /// ```
    pub fn monthly() -> Self {
        Checklist { checks: monthly::checks(), ..Checklist::new("monthly") }
    }

    /// The checklist of this name: `daily`, `weekly` or `monthly`.
    ///
    /// ```
    /// assert!(k8sops::checklist::Checklist::named("weekly").is_some());
    /// assert!(k8sops::checklist::Checklist::named("hourly").is_none());
    /// ```
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "daily" => Some(Self::daily()),
            "weekly" => Some(Self::weekly()),
            "monthly" => Some(Self::monthly()),
            _ => None,
        }
    }

    /// Adds a check; one with the same id is replaced in place (so a check
    /// can be swapped for one with other thresholds).
    ///
    /// ```
    /// use k8sops::checklist::{daily::UsageCheck, Checklist};
    /// let list = Checklist::daily().with(UsageCheck { warn_percent: 70.0, fail_percent: 85.0 });
    /// assert_eq!(list.ids().filter(|id| *id == "usage").count(), 1);
    /// ```
    #[must_use]
    pub fn with(mut self, check: impl Check + 'static) -> Self {
        self.push(Arc::new(check));
        self
    }

    /// [`with`](Self::with) for a shared check.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use k8sops::checklist::{daily::NodeStatusCheck, Checklist};
    /// let list = Checklist::new("mine").with_arc(Arc::new(NodeStatusCheck::default()));
    /// assert_eq!(list.ids().collect::<Vec<_>>(), ["nodes"]);
    /// ```
    #[must_use]
    pub fn with_arc(mut self, check: Arc<dyn Check>) -> Self {
        self.push(check);
        self
    }

    fn push(&mut self, check: Arc<dyn Check>) {
        match self.checks.iter_mut().find(|c| c.id() == check.id()) {
            Some(slot) => *slot = check,
            None => self.checks.push(check),
        }
    }

    /// Removes the check with this id.
    ///
    /// ```
    /// let list = k8sops::checklist::Checklist::monthly().without("dr-drill");
    /// assert_eq!(list.ids().count(), 3);
    /// ```
    #[must_use]
    pub fn without(mut self, id: &str) -> Self {
        self.checks.retain(|c| c.id() != id);
        self
    }

    /// Time allowed per check (default one minute); a check still running
    /// then is stopped and reported as [`Outcome::TimedOut`].
    ///
    /// ```
    /// let list = k8sops::checklist::Checklist::daily().budget(std::time::Duration::from_secs(10));
    /// assert_eq!(list.budget_per_check(), std::time::Duration::from_secs(10));
    /// ```
    #[must_use]
    pub fn budget(mut self, per_check: Duration) -> Self {
        self.budget = per_check;
        self
    }

    /// The time allowed per check.
    ///
    /// ```
    /// assert_eq!(k8sops::checklist::Checklist::daily().budget_per_check(), k8sops::checklist::Checklist::DEFAULT_BUDGET);
    /// ```
    pub fn budget_per_check(&self) -> Duration {
        self.budget
    }

    /// How many checks run at once (default 4, at least 1).
    ///
    /// ```
    /// let list = k8sops::checklist::Checklist::daily().concurrency(1);
    /// # let _ = list;
    /// ```
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// How many findings each check keeps (default 50), worst first; the
    /// rest are counted in [`CheckResult::omitted`]. Keeps a report of a
    /// 150,000-pod cluster readable and its memory bounded.
    ///
    /// ```
    /// let list = k8sops::checklist::Checklist::daily().max_findings(10);
    /// # let _ = list;
    /// ```
    #[must_use]
    pub fn max_findings(mut self, n: usize) -> Self {
        self.max_findings = n;
        self
    }

    /// The checklist's name.
    ///
    /// ```
    /// assert_eq!(k8sops::checklist::Checklist::monthly().name(), "monthly");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ids of its checks, in order.
    ///
    /// ```
    /// assert_eq!(k8sops::checklist::Checklist::daily().ids().next(), Some("nodes"));
    /// ```
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.checks.iter().map(|c| c.id())
    }

    /// The checks, in order.
    ///
    /// ```
    /// for check in k8sops::checklist::Checklist::weekly().checks() {
    ///     println!("{:10} {}", check.id(), check.title());
    /// }
    /// ```
    pub fn checks(&self) -> impl Iterator<Item = &Arc<dyn Check>> {
        self.checks.iter()
    }

    /// Runs every check and returns the report. Never fails: a check that
    /// cannot run is a result that says why.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// # server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let report = k8sops::checklist::Checklist::daily().run(&server.cluster()).await;
    /// std::fs::write(std::env::temp_dir().join("daily.html"), report.to_html())?;
    /// # Ok(()) }
    /// ```
    pub async fn run(&self, cluster: &Cluster) -> ChecklistReport {
        self.run_with(cluster, &NoProgress, &CancellationToken::new()).await
    }

    /// [`run`](Self::run) with progress events and cancellation (see the
    /// module's `# Cancel safety`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// use k8sops::checklist::{Checklist, Outcome};
    /// let cancel = k8sops::CancellationToken::new();
    /// cancel.cancel();
    /// let report = Checklist::daily().run_with(&server.cluster(), &k8sops::NoProgress, &cancel).await;
    /// assert!(report.results.iter().all(|r| r.outcome == Outcome::Cancelled));
    /// # Ok(()) }
    /// ```
    pub async fn run_with(
        &self,
        cluster: &Cluster,
        progress: &dyn ProgressSink<ChecklistEvent>,
        cancel: &CancellationToken,
    ) -> ChecklistReport {
        let started = Instant::now();
        let generated_at = k8s_openapi::jiff::Timestamp::now().to_string();
        let total = self.checks.len();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let version = async {
            tokio::select! {
                r = tokio::time::timeout(self.budget, cluster.server_version()) => r.ok().and_then(Result::ok).map(|v| v.to_string()),
                _ = cancel.cancelled() => None,
            }
        };
        let results = futures::stream::iter(self.checks.iter().cloned())
            .map(|check| {
                let done = &done;
                async move {
                    let result = self.run_one(check.as_ref(), cluster, progress, cancel).await;
                    let done = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    progress.emit(ChecklistEvent::Finished {
                        id: result.id.clone(),
                        status: result.status,
                        elapsed_ms: result.elapsed_ms,
                        done,
                        total,
                    });
                    result
                }
            })
            .buffered(self.concurrency)
            .collect::<Vec<_>>();
        let cleanups = Cleanups::default();
        let (server_version, results) =
            CLEANUPS.scope(cleanups.clone(), async { futures::join!(version, results) }).await;
        cleanups.finish(CLEANUP_WAIT).await;
        ChecklistReport {
            checklist: self.name.clone(),
            cluster: cluster.url().to_string(),
            server_version,
            generated_at,
            elapsed_ms: millis(started.elapsed()),
            results,
        }
    }

    async fn run_one(
        &self,
        check: &dyn Check,
        cluster: &Cluster,
        progress: &dyn ProgressSink<ChecklistEvent>,
        cancel: &CancellationToken,
    ) -> CheckResult {
        let started = Instant::now();
        if cancel.is_cancelled() {
            return CheckResult::not_run(check, Outcome::Cancelled, Duration::ZERO);
        }
        progress.emit(ChecklistEvent::Started { id: check.id().to_string(), title: check.title().to_string() });
        // A panicking check (an embedder's, say) is one failed result, not a crashed run.
        let run = AssertUnwindSafe(async move { check.run(cluster).await }).catch_unwind();
        let outcome = tokio::select! {
            _ = cancel.cancelled() => None,
            r = tokio::time::timeout(self.budget, run) => Some(r),
        };
        let elapsed = started.elapsed();
        match outcome {
            None => CheckResult::not_run(check, Outcome::Cancelled, elapsed),
            Some(Err(_)) => CheckResult::not_run(check, Outcome::TimedOut { budget_ms: millis(self.budget) }, elapsed),
            Some(Ok(Err(panic))) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                CheckResult::not_run(
                    check,
                    Outcome::Failed { message: format!("the check panicked: {message}") },
                    elapsed,
                )
            }
            Some(Ok(Ok(Err(e)))) => {
                let outcome = if e.core().is_some_and(|c| c.is_permission_denied()) {
                    Outcome::Forbidden { message: e.to_string() }
                } else {
                    Outcome::Failed { message: error_chain(&e) }
                };
                CheckResult::not_run(check, outcome, elapsed)
            }
            Some(Ok(Ok(Ok(out)))) => CheckResult::ran(check, out, self.max_findings, elapsed),
        }
    }
}

/// The error and its sources, `: `-separated, without repeating a source
/// the message already quotes.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = s.source();
    }
    message
}

/// The result of a checklist run: one [`CheckResult`] per check, in the
/// checklist's order. `Display` is the terminal table; see also
/// [`to_json`](Self::to_json), [`to_markdown`](Self::to_markdown) and
/// [`to_html`](Self::to_html).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops::checklist::Checklist::daily().run(&server.cluster()).await;
/// let (pass, warn, fail) = report.counts();
/// println!("{pass} passed, {warn} warned, {fail} failed in {} ms", report.elapsed_ms);
/// # assert_eq!(pass + warn + fail, report.results.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChecklistReport {
    /// The checklist's name.
    pub checklist: String,
    /// The API server's URL.
    pub cluster: String,
    /// The API server's version, when it answered.
    pub server_version: Option<String>,
    /// When the run started (RFC 3339, UTC).
    pub generated_at: String,
    /// How long the run took.
    pub elapsed_ms: u64,
    /// One result per check, in the checklist's order.
    pub results: Vec<CheckResult>,
}

impl ChecklistReport {
    /// The worst status of any check.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// let report = k8sops::checklist::Checklist::new("empty").run(&server.cluster()).await;
    /// assert_eq!(report.status(), k8sops::checklist::Status::Pass);
    /// # Ok(()) }
    /// ```
    pub fn status(&self) -> Status {
        self.results.iter().map(|r| r.status).max().unwrap_or(Status::Pass)
    }

    /// Checks that passed, warned and failed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// let report = k8sops::checklist::Checklist::new("empty").run(&server.cluster()).await;
    /// assert_eq!(report.counts(), (0, 0, 0));
    /// # Ok(()) }
    /// ```
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |s| self.results.iter().filter(|r| r.status == s).count();
        (count(Status::Pass), count(Status::Warn), count(Status::Fail))
    }

    /// The result of the check with this id.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// let report = k8sops::checklist::Checklist::daily().run(&server.cluster()).await;
    /// assert!(report.result("pods").is_some());
    /// # Ok(()) }
    /// ```
    pub fn result(&self, id: &str) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.id == id)
    }

    /// Every finding with its check, worst first (fail, then warn, then
    /// pass; in checklist order within a status).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// # server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let report = k8sops::checklist::Checklist::daily().run(&server.cluster()).await;
    /// if let Some((check, worst)) = report.findings().next() {
    ///     println!("worst: [{}] {} {}", check.id, worst.status, worst.summary);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn findings(&self) -> impl Iterator<Item = (&CheckResult, &Finding)> {
        let mut all: Vec<(&CheckResult, &Finding)> =
            self.results.iter().flat_map(|r| r.findings.iter().map(move |f| (r, f))).collect();
        all.sort_by_key(|(_, f)| std::cmp::Reverse(f.status));
        all.into_iter()
    }

    /// The report as pretty JSON.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// let report = k8sops::checklist::Checklist::daily().run(&server.cluster()).await;
    /// let back: k8sops::checklist::ChecklistReport = serde_json::from_str(&report.to_json())?;
    /// assert_eq!(back, report);
    /// # Ok(()) }
    /// ```
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// Starts a cleanup when dropped, as the DR drill's scratch guard does.
    struct UndoOnDrop(Arc<AtomicBool>);

    impl Drop for UndoOnDrop {
        fn drop(&mut self) {
            let done = self.0.clone();
            spawn_cleanup(async move {
                // A cleanup that takes a moment, as a DELETE does.
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                done.store(true, Ordering::SeqCst);
            });
        }
    }

    struct ChangesThenHangs(Arc<AtomicBool>);

    impl Check for ChangesThenHangs {
        fn id(&self) -> &str {
            "changes"
        }
        fn title(&self) -> &str {
            "Changes something, then never finishes"
        }
        fn run<'a>(&'a self, _: &'a Cluster) -> BoxFuture<'a, crate::Result<CheckOutput>> {
            let undo = UndoOnDrop(self.0.clone());
            Box::pin(async move {
                let _undo = undo;
                futures::future::pending().await
            })
        }
    }

    #[tokio::test]
    async fn a_run_returns_after_the_cleanups_of_checks_it_cut_short() {
        let server = k8sops_testkit::TestServer::start().await.unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let report = Checklist::new("custom")
            .with(ChangesThenHangs(done.clone()))
            .budget(Duration::from_millis(50))
            .run(&server.cluster())
            .await;
        assert!(matches!(report.results[0].outcome, Outcome::TimedOut { .. }), "{report}");
        assert!(done.load(Ordering::SeqCst), "the run returned before the cleanup finished");
    }
}
