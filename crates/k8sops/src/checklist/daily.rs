//! The daily checks: node status, pod health, service endpoints, resource
//! usage against thresholds, recent warning events.
//!
//! | id | check | needs (RBAC `list` on) |
//! |---|---|---|
//! | `nodes` | [`NodeStatusCheck`] | nodes |
//! | `pods` | [`PodHealthCheck`] | pods |
//! | `services` | [`ServiceEndpointsCheck`] (feature `diagnose`) | services, endpoints, endpointslices, networkpolicies, pods |
//! | `usage` | [`UsageCheck`] (feature `metrics`) | nodes, pods, `nodes.metrics.k8s.io` (optional: without it requests are compared) |
//! | `events` | [`WarningEventsCheck`] (feature `diagnose`) | events |
//!
//! Every daily check only reads. A namespace filter (`namespace` field)
//! narrows the rights needed to that namespace.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use futures::{future::BoxFuture, TryStreamExt};
use k8s_openapi::{
    api::core::v1::{ContainerStatus, Node, NodeCondition, Pod},
    jiff::Timestamp,
};
use k8sops_core::{
    age::age_since,
    object_status::{
        crash_loop, node_is_ready, node_is_unschedulable, node_status, pod_columns, PodDisplay, ReadyCount,
    },
    paging, Cluster,
};

#[cfg(feature = "metrics")]
use super::{percent, Status, GIB};
use super::{plural, Check, CheckOutput, Finding};

/// The daily checks, in order.
pub(crate) fn checks() -> Vec<Arc<dyn Check>> {
    #[cfg_attr(not(any(feature = "diagnose", feature = "metrics")), allow(unused_mut))]
    let mut checks: Vec<Arc<dyn Check>> =
        vec![Arc::new(NodeStatusCheck::default()), Arc::new(PodHealthCheck::default())];
    #[cfg(feature = "diagnose")]
    checks.push(Arc::new(ServiceEndpointsCheck::default()));
    #[cfg(feature = "metrics")]
    checks.push(Arc::new(UsageCheck::default()));
    #[cfg(feature = "diagnose")]
    checks.push(Arc::new(WarningEventsCheck::default()));
    checks
}

/// The age of `ts` at `now`, kubectl style (`12m`), or `?` without one.
fn ago(ts: Option<Timestamp>, now: Timestamp) -> String {
    if ts.is_some() {
        age_since(ts, now)
    } else {
        "?".into()
    }
}

/// Whole seconds from `ts` to `now` (0 for a time in the future).
fn seconds_since(ts: Timestamp, now: Timestamp) -> u64 {
    u64::try_from(now.duration_since(ts).as_secs()).unwrap_or(0)
}

// ---------------------------------------------------------------------------
// nodes

/// `nodes`: node status, as `kubectl get nodes` shows it.
///
/// - **Fail**, one per node whose `Ready` condition is `False` or `Unknown`
///   (or missing): the condition's reason, message and how long it has been so.
/// - **Warn**, one per cordoned node (`spec.unschedulable`), one per node
///   and condition of [`pressure_conditions`](Self::pressure_conditions) that is `True`,
///   and one per node not Ready yet that was created less than
///   [`not_ready_grace`](Self::not_ready_grace) ago (`joining`).
/// - **Pass**: `N nodes, all Ready`. A pass finding with the count of nodes
///   per STATUS word is always added.
///
/// Needs `list` on nodes.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// use k8sops::checklist::{daily::NodeStatusCheck, Checklist, Status};
///
/// let report = Checklist::new("nodes").with(NodeStatusCheck::default()).run(&server.cluster()).await;
/// let nodes = report.result("nodes").unwrap();
/// for f in nodes.findings.iter().filter(|f| f.status == Status::Fail) {
///     println!("{}: {} ({})", f.subject, f.summary, f.evidence.join("; "));
/// }
/// # assert_eq!(nodes.status, Status::Fail, "the demo has a NotReady node");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct NodeStatusCheck {
    /// Node conditions that warn when `True` (default `MemoryPressure`,
    /// `DiskPressure`, `PIDPressure`, `NetworkUnavailable`).
    pub pressure_conditions: Vec<String>,
    /// A node created less than this long ago that is not Ready yet is
    /// joining (kubelet bootstrap, CNI start-up): it warns instead of
    /// failing (default 5 minutes).
    pub not_ready_grace: Duration,
}

impl Default for NodeStatusCheck {
    fn default() -> Self {
        NodeStatusCheck {
            pressure_conditions: ["MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"]
                .map(String::from)
                .to_vec(),
            not_ready_grace: Duration::from_secs(300),
        }
    }
}

impl Check for NodeStatusCheck {
    fn id(&self) -> &str {
        "nodes"
    }
    fn title(&self) -> &str {
        "Node status"
    }
    fn run<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, crate::Result<CheckOutput>> {
        Box::pin(async move {
            let now = Timestamp::now();
            let mut findings = Vec::new();
            let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
            let (mut total, mut ready) = (0usize, 0usize);
            paging::for_each(cluster, &cluster.api_all::<Node>(), Default::default(), |node: Node| {
                total += 1;
                if node_is_ready(&node) {
                    ready += 1;
                }
                *by_status.entry(node_status(&node)).or_default() += 1;
                findings.extend(self.node_findings(&node, now));
                Ok::<_, k8sops_core::Error>(())
            })
            .await?;
            let summary = if total == 0 {
                Finding::warn("", "no nodes are registered")
                    .action("kubectl get nodes; check the node groups and the kubelets' bootstrap")
            } else if findings.is_empty() {
                Finding::pass("", format!("{total} nodes, all Ready"))
            } else {
                Finding::pass("", format!("{total} nodes, {ready} Ready"))
            };
            let summary = by_status.iter().fold(summary, |f, (s, n)| f.evidence(format!("{s}: {n}")));
            findings.push(summary);
            Ok(findings.into())
        })
    }
}

impl NodeStatusCheck {
    fn node_findings(&self, node: &Node, now: Timestamp) -> Vec<Finding> {
        let name = node.metadata.name.clone().unwrap_or_default();
        let subject = format!("node/{name}");
        let conditions: &[NodeCondition] =
            node.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default();
        let kubelet = node.status.as_ref().and_then(|s| s.node_info.as_ref()).map(|i| i.kubelet_version.as_str());
        let mut out = Vec::new();
        let created = node.metadata.creation_timestamp.as_ref().map(|t| t.0);
        let joining = created.is_some_and(|t| seconds_since(t, now) < self.not_ready_grace.as_secs());
        if !node_is_ready(node) && joining {
            let mut f = Finding::warn(&subject, format!("joining: created {} ago, not Ready yet", ago(created, now)))
                .evidence(format!(
                    "created {} ago, less than the {}s grace for a new node",
                    ago(created, now),
                    self.not_ready_grace.as_secs()
                ));
            if let Some(c) = conditions.iter().find(|c| c.type_ == "Ready") {
                f = f.evidence(format!("Ready={} ({})", c.status, c.reason.as_deref().unwrap_or("no reason given")));
            }
            out.push(f.evidence(format!("STATUS {}", node_status(node))).action(format!(
                "wait for it to become Ready (kubectl get node {name} -w); if it stays NotReady, \
                 kubectl describe node {name} and check its kubelet and CNI"
            )));
        } else if !node_is_ready(node) {
            let f = match conditions.iter().find(|c| c.type_ == "Ready") {
                Some(c) => {
                    let since = c.last_transition_time.as_ref().map(|t| t.0);
                    let reason = c.reason.as_deref().unwrap_or("no reason given");
                    let mut f = Finding::fail(&subject, format!("NotReady for {}: {reason}", ago(since, now)))
                        .evidence(format!("Ready={} ({reason}) for {}", c.status, ago(since, now)));
                    if let Some(m) = c.message.as_deref().filter(|m| !m.is_empty()) {
                        f = f.evidence(format!("message: {m}"));
                    }
                    if let Some(hb) = c.last_heartbeat_time.as_ref() {
                        f = f.evidence(format!("last heartbeat {} ago", age_since(Some(hb.0), now)));
                    }
                    f
                }
                None => Finding::fail(&subject, "NotReady: the node reports no Ready condition")
                    .evidence("no Ready condition: the kubelet has never posted status"),
            };
            let f = f.evidence(format!("STATUS {}", node_status(node)));
            let f = match kubelet {
                Some(v) => f.evidence(format!("kubelet {v}")),
                None => f,
            };
            out.push(f.action(format!(
                "kubectl describe node {name}; check the kubelet and container runtime on it (journalctl -u kubelet) \
                 and its network; if it does not recover, drain and replace it"
            )));
        }
        if node_is_unschedulable(node) {
            let since = node
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .and_then(|t| t.iter().find(|t| t.key == "node.kubernetes.io/unschedulable"))
                .and_then(|t| t.time_added.as_ref())
                .map(|t| t.0);
            let summary = match since {
                Some(_) => format!("cordoned (SchedulingDisabled) for {}", ago(since, now)),
                None => "cordoned (SchedulingDisabled)".to_string(),
            };
            out.push(
                Finding::warn(&subject, summary)
                    .evidence("spec.unschedulable=true: no new pods are scheduled on it")
                    .evidence(format!("STATUS {}", node_status(node)))
                    .action(format!("kubectl uncordon {name} once its maintenance is over, or drain and remove it")),
            );
        }
        for c in conditions.iter().filter(|c| c.status == "True" && self.pressure_conditions.contains(&c.type_)) {
            let since = c.last_transition_time.as_ref().map(|t| t.0);
            let reason = c.reason.as_deref().unwrap_or("no reason given");
            let mut f = Finding::warn(&subject, format!("{} for {}", c.type_, ago(since, now))).evidence(format!(
                "{}=True ({reason}) for {}",
                c.type_,
                ago(since, now)
            ));
            if let Some(m) = c.message.as_deref().filter(|m| !m.is_empty()) {
                f = f.evidence(format!("message: {m}"));
            }
            let action = match c.type_.as_str() {
                "MemoryPressure" => format!(
                    "the kubelet evicts pods while it lasts: kubectl describe node {name}; \
                     kubectl get pods -A -o wide --field-selector spec.nodeName={name}; lower memory use or add nodes"
                ),
                "DiskPressure" => format!(
                    "free disk on {name} (unused images, container logs) or grow its volume; kubectl describe node {name}"
                ),
                "PIDPressure" => {
                    format!("find the pod leaking processes: kubectl get pods -A -o wide --field-selector spec.nodeName={name}")
                }
                "NetworkUnavailable" => format!(
                    "check the CNI plugin on it: kubectl -n kube-system get pods -o wide --field-selector spec.nodeName={name}"
                ),
                _ => format!("kubectl describe node {name}"),
            };
            out.push(f.action(action));
        }
        out
    }
}

// ---------------------------------------------------------------------------
// pods

/// `pods`: pods that are neither Running with every container ready nor
/// Succeeded, decided from their phase and container statuses (kubectl's
/// STATUS word, READY and RESTARTS columns are the evidence).
///
/// - **Fail**, one per pod with a container waiting in `CrashLoopBackOff`,
///   a pod not ready with a recent failed run
///   ([`object_status::crash_loop`](k8sops_core::object_status::crash_loop):
///   a failed run in the last 10 minutes and a restart), a container that
///   cannot start (`ErrImagePull`, `ImagePullBackOff`, `InvalidImageName`,
///   `CreateContainerConfigError`, ...), phase `Unknown`, and phase
///   `Failed` without a controller owner (nothing replaces it).
/// - **Warn**, one per pod `Pending`, Running-but-not-ready or stuck
///   `Terminating` for longer than [`pending_after`](Self::pending_after),
///   per Running pod restarted more than [`max_restarts`](Self::max_restarts)
///   times, per pod Running and ready now whose container failed and
///   restarted in the last 10 minutes (not backing off: it recovered, for
///   now), and for a `Failed` pod with a controller owner (a Job retries
///   it; a ReplicaSet, StatefulSet or DaemonSet replaced it after an
///   eviction, a node shutdown, `OutOfcpu`, ...).
/// - A pass finding always gives the number of pods per STATUS word.
///
/// Pods are listed 500 per page; only counts and findings are kept. Needs
/// `list` on pods (in [`namespace`](Self::namespace), or cluster-wide).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// use std::time::Duration;
/// use k8sops::checklist::{daily::PodHealthCheck, Checklist, Status};
///
/// let check = PodHealthCheck { pending_after: Duration::from_secs(600), max_restarts: 10, ..Default::default() };
/// let report = Checklist::new("pods").with(check).run(&server.cluster()).await;
/// for f in &report.result("pods").unwrap().findings {
///     println!("{} {} {}", f.status, f.subject, f.summary);
/// }
/// # assert_eq!(report.status(), Status::Fail, "the demo has a crash-looping pod");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PodHealthCheck {
    /// Only this namespace (default: all).
    pub namespace: Option<String>,
    /// A pod Pending, not ready or Terminating for longer than this warns
    /// (default 5 minutes); a younger one is still starting or stopping.
    pub pending_after: Duration,
    /// A Running pod restarted more than this many times warns (default 5).
    pub max_restarts: i64,
}

impl Default for PodHealthCheck {
    fn default() -> Self {
        PodHealthCheck { namespace: None, pending_after: Duration::from_secs(300), max_restarts: 5 }
    }
}

impl PodHealthCheck {
    /// Only pods of this namespace.
    ///
    /// ```
    /// let check = k8sops::checklist::daily::PodHealthCheck::default().namespace("shop");
    /// assert_eq!(check.namespace.as_deref(), Some("shop"));
    /// ```
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }
}

impl Check for PodHealthCheck {
    fn id(&self) -> &str {
        "pods"
    }
    fn title(&self) -> &str {
        "Pod health"
    }
    fn run<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, crate::Result<CheckOutput>> {
        Box::pin(async move {
            let now = Timestamp::now();
            let api = cluster.api_in::<Pod>(self.namespace.as_deref());
            let mut pages = std::pin::pin!(paging::pages(cluster, &api, Default::default(), paging::DEFAULT_PAGE_SIZE));
            let mut findings = Vec::new();
            let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
            let (mut total, mut fine) = (0usize, 0usize);
            while let Some(page) = pages.try_next().await? {
                for pod in page {
                    total += 1;
                    // kubectl's columns, once per pod: every finding quotes them.
                    let (shown, count) = pod_columns(&pod);
                    *by_status.entry(shown.status.clone()).or_default() += 1;
                    let is_fine = pod_is_fine(&pod, count);
                    if is_fine {
                        fine += 1;
                    }
                    if let Some(f) = self.pod_finding(&pod, &shown, count, is_fine, now) {
                        findings.push(f);
                    }
                }
            }
            let scope = match &self.namespace {
                Some(ns) => format!(" in namespace {ns}"),
                None => String::new(),
            };
            let summary = if fine == total {
                Finding::pass("", format!("{total} pods{scope}, all Running and ready or Succeeded"))
            } else {
                Finding::pass("", format!("{total} pods{scope}, {fine} Running and ready or Succeeded"))
            };
            findings.push(by_status.iter().fold(summary, |f, (s, n)| f.evidence(format!("{s}: {n}"))));
            Ok(findings.into())
        })
    }
}

/// Waiting reasons of a container that cannot start without a fix.
const CANNOT_START: [&str; 8] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "PreStartHookError",
];

/// Succeeded, or Running (not being deleted) with every container ready:
/// from the pod's phase and container statuses, not its printed STATUS and
/// READY columns.
fn pod_is_fine(pod: &Pod, count: ReadyCount) -> bool {
    let status = pod.status.as_ref();
    match status.and_then(|s| s.phase.as_deref()) {
        Some("Succeeded") => true,
        Some("Running") => {
            pod.metadata.deletion_timestamp.is_none()
                && status.and_then(|s| s.reason.as_deref()).is_none_or(str::is_empty)
                && count.all_ready()
        }
        _ => false,
    }
}

/// What is wrong with one container.
struct ContainerProblem {
    /// One line for the finding's summary.
    summary: String,
    /// One line of evidence.
    evidence: String,
    /// It ran and failed, so its previous log says why.
    crashed: bool,
    /// It is waiting in `CrashLoopBackOff` now.
    backing_off: bool,
    /// When its last failed run ended, if known.
    failed_at: Option<Timestamp>,
    /// The container's name.
    container: String,
}

/// What is wrong with one container, if anything.
fn container_problem(cs: &ContainerStatus, is_init: bool) -> Option<ContainerProblem> {
    let kind = if is_init { "init container" } else { "container" };
    let waiting = cs.state.as_ref().and_then(|s| s.waiting.as_ref());
    if let Some(reason) = waiting.and_then(|w| w.reason.as_deref()).filter(|r| CANNOT_START.contains(r)) {
        let message = waiting.and_then(|w| w.message.as_deref()).unwrap_or("");
        return Some(ContainerProblem {
            summary: format!("{kind} {} cannot start: {reason}", cs.name),
            evidence: format!("{kind} {} waiting: {reason} {message}", cs.name).trim_end().to_string(),
            crashed: false,
            backing_off: false,
            failed_at: None,
            container: cs.name.clone(),
        });
    }
    let crash = crash_loop(cs, is_init)?;
    let last = match (&crash.reason, crash.exit_code) {
        (Some(r), Some(c)) => format!(" (last run: {r}, exit code {c})"),
        (None, Some(c)) => format!(" (last run: exit code {c})"),
        (Some(r), None) => format!(" (last run: {r})"),
        (None, None) => String::new(),
    };
    Some(ContainerProblem {
        summary: format!(
            "crash-looping: {kind} {} restarted {}{last}",
            cs.name,
            plural(cs.restart_count, "time", "times")
        ),
        evidence: format!(
            "{kind} {}: {} restarts{last}{}",
            cs.name,
            cs.restart_count,
            if crash.is_oom_killed() { "; killed for exceeding its memory limit" } else { "" }
        ),
        crashed: true,
        backing_off: waiting.and_then(|w| w.reason.as_deref()) == Some("CrashLoopBackOff"),
        failed_at: cs
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.finished_at.as_ref())
            .map(|t| t.0),
        container: cs.name.clone(),
    })
}

impl PodHealthCheck {
    /// `shown` and `count`: the pod's kubectl columns; `fine`: [`pod_is_fine`].
    fn pod_finding(
        &self,
        pod: &Pod,
        shown: &PodDisplay,
        count: ReadyCount,
        fine: bool,
        now: Timestamp,
    ) -> Option<Finding> {
        let columns = || columns(pod, shown);
        let (ns, name) = pod_names(pod);
        let subject = format!("pod/{ns}/{name}");
        let status = pod.status.as_ref();
        let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("");
        let threshold = self.pending_after.as_secs();
        let describe = format!("kubectl describe pod -n {ns} {name}");

        if let Some(deleted) = pod.metadata.deletion_timestamp.as_ref().map(|t| t.0) {
            if phase == "Succeeded" || phase == "Failed" {
                return None;
            }
            // deletionTimestamp is when the grace period ends.
            if seconds_since(deleted, now) <= threshold {
                return None;
            }
            let finalizers = pod.metadata.finalizers.as_ref().filter(|f| !f.is_empty());
            let mut f = Finding::warn(&subject, format!("stuck Terminating for {}", age_since(Some(deleted), now)))
                .evidence(columns())
                .evidence(format!("grace period ended {} ago", age_since(Some(deleted), now)));
            if let Some(fin) = finalizers {
                f = f.evidence(format!("finalizers: {}", fin.join(", ")));
            }
            return Some(f.action(format!(
                "{describe}; check its node's kubelet and its finalizers; as a last resort \
                 kubectl delete pod -n {ns} {name} --grace-period=0 --force"
            )));
        }

        // Containers that cannot start or crash-loop fail the pod whatever its phase.
        let init = status.and_then(|s| s.init_container_statuses.as_deref()).unwrap_or_default();
        let app = status.and_then(|s| s.container_statuses.as_deref()).unwrap_or_default();
        let problems: Vec<ContainerProblem> = init
            .iter()
            .map(|cs| (cs, true))
            .chain(app.iter().map(|cs| (cs, false)))
            .filter_map(|(cs, is_init)| container_problem(cs, is_init))
            .collect();
        // Running and ready again after a recent failed run, not backing off:
        // it recovered (for now), which warns.
        let recovered = fine && problems.iter().all(|p| p.crashed && !p.backing_off);
        if phase == "Running" && recovered {
            if let Some(first) = problems.first() {
                let when = match first.failed_at {
                    Some(t) => format!(" {} ago", age_since(Some(t), now)),
                    None => String::new(),
                };
                let mut f = Finding::warn(
                    &subject,
                    format!(
                        "failed and restarted{when}, Running and ready now: {}",
                        first.summary.trim_start_matches("crash-looping: ")
                    ),
                )
                .evidence(columns());
                for p in &problems {
                    f = f.evidence(p.evidence.clone());
                }
                return Some(f.action(format!(
                    "kubectl logs -n {ns} {name} -c {} --previous; if it fails again it is crash-looping",
                    first.container
                )));
            }
        }
        if phase != "Succeeded" && phase != "Failed" {
            if let Some(first) = problems.first() {
                let mut f = Finding::fail(&subject, first.summary.clone()).evidence(columns());
                for p in &problems {
                    f = f.evidence(p.evidence.clone());
                }
                let action = if first.crashed {
                    format!("kubectl logs -n {ns} {name} -c {} --previous; {describe}", first.container)
                } else {
                    format!("{describe} (events say why: image name and tag, pull secret, config maps and secrets)")
                };
                return Some(f.action(action));
            }
        }
        // Running with every container ready and no crash loop: only its restarts can warn.
        if fine {
            if phase != "Running" || shown.restarts <= self.max_restarts {
                return None;
            }
            return Some(
                Finding::warn(&subject, format!("restarted {}", plural(shown.restarts, "time", "times")))
                    .evidence(columns())
                    .evidence(format!("last restart {} ago", ago(shown.last_restart, now)))
                    .action(format!(
                        "kubectl logs -n {ns} {name} --previous; kubectl describe pod -n {ns} {name} (probes, limits)"
                    )),
            );
        }

        match phase {
            "Failed" => {
                let reason = status.and_then(|s| s.reason.as_deref()).filter(|r| !r.is_empty());
                let owner = pod.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true));
                let by_job = owner.is_some_and(|o| o.kind == "Job");
                let evicted = reason == Some("Evicted");
                let summary = match reason {
                    Some(r) => format!("Failed: {r}"),
                    None => "Failed".to_string(),
                };
                let mut f =
                    if owner.is_some() { Finding::warn(&subject, summary) } else { Finding::fail(&subject, summary) }
                        .evidence(columns());
                if let Some(m) = status.and_then(|s| s.message.as_deref()).filter(|m| !m.is_empty()) {
                    f = f.evidence(format!("message: {m}"));
                }
                for cs in init.iter().chain(app) {
                    if let Some(t) = cs.state.as_ref().and_then(|s| s.terminated.as_ref()) {
                        f = f.evidence(format!(
                            "container {}: {} (exit code {})",
                            cs.name,
                            t.reason.as_deref().unwrap_or("terminated"),
                            t.exit_code
                        ));
                    }
                }
                if by_job {
                    f = f.evidence("owned by a Job, which retries up to its backoffLimit");
                } else if let Some(o) = owner {
                    f = f.evidence(format!("owned by {} {}, which replaces it", o.kind, o.name));
                } else {
                    f = f.evidence("no controller owner: nothing replaces it");
                }
                let action = if owner.is_some() && !by_job {
                    let why = if evicted {
                        "its node evicted it"
                    } else {
                        "it failed (node shutdown, admission such as OutOfcpu)"
                    };
                    format!("its controller replaced it; look at why {why}, then kubectl delete pod -n {ns} {name}")
                } else if evicted {
                    format!("nothing replaces it: recreate what it ran, look at why its node evicted it, then kubectl delete pod -n {ns} {name}")
                } else {
                    format!("kubectl logs -n {ns} {name}; {describe}")
                };
                Some(f.action(action))
            }
            "Unknown" => Some(
                Finding::fail(&subject, "phase Unknown: its node stopped reporting")
                    .evidence(columns())
                    .action(format!("{describe}; check its node with the nodes check")),
            ),
            "Running" => {
                // Not ready: from the Ready condition's last transition (or creation).
                let ready_cond =
                    status.and_then(|s| s.conditions.as_ref()).and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
                let since = ready_cond
                    .and_then(|c| c.last_transition_time.as_ref())
                    .or(pod.metadata.creation_timestamp.as_ref())
                    .map(|t| t.0);
                if since.is_some_and(|t| seconds_since(t, now) <= threshold) {
                    return None;
                }
                let mut f = Finding::warn(
                    &subject,
                    format!("Running but not ready for {} ({count} containers ready)", ago(since, now)),
                )
                .evidence(columns());
                for cs in app.iter().filter(|cs| !cs.ready) {
                    f = f.evidence(format!("container {} is not ready", cs.name));
                }
                if let Some(m) = ready_cond.and_then(|c| c.message.as_deref()).filter(|m| !m.is_empty()) {
                    f = f.evidence(format!("Ready condition: {m}"));
                }
                Some(f.action(format!("{describe} (readiness probe failures are in its events)")))
            }
            _ => {
                // Pending (or no status yet): warn once it has waited too long.
                let created = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
                if created.is_some_and(|t| seconds_since(t, now) <= threshold) {
                    return None;
                }
                let scheduled = status
                    .and_then(|s| s.conditions.as_ref())
                    .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
                let unscheduled = scheduled.is_some_and(|c| c.status != "True")
                    || pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_none_or(str::is_empty);
                let mut f = Finding::warn(
                    &subject,
                    if unscheduled {
                        format!("Pending for {}: not scheduled", ago(created, now))
                    } else {
                        format!("Pending for {}", ago(created, now))
                    },
                )
                .evidence(columns());
                if let Some(c) = scheduled.filter(|c| c.status != "True") {
                    f = f.evidence(format!(
                        "PodScheduled={} ({}): {}",
                        c.status,
                        c.reason.as_deref().unwrap_or(""),
                        c.message.as_deref().unwrap_or("")
                    ));
                }
                for cs in init.iter().chain(app) {
                    if let Some(w) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) {
                        f = f.evidence(format!(
                            "container {} waiting: {}",
                            cs.name,
                            w.reason.as_deref().unwrap_or("no reason given")
                        ));
                    }
                }
                let action = if unscheduled {
                    format!("{describe} (events say why it fits no node); add capacity or fix its requests, affinity or tolerations")
                } else {
                    format!("{describe} (volumes, image pulls and sandbox creation are in its events)")
                };
                Some(f.action(action))
            }
        }
    }
}

fn pod_names(pod: &Pod) -> (String, String) {
    (pod.metadata.namespace.clone().unwrap_or_default(), pod.metadata.name.clone().unwrap_or_default())
}

/// kubectl's columns for the pod, as one evidence line.
fn columns(pod: &Pod, shown: &PodDisplay) -> String {
    let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty()).unwrap_or("<none>");
    format!("STATUS {}, READY {}, RESTARTS {}, node {node}", shown.status, shown.ready, shown.restarts)
}

// ---------------------------------------------------------------------------
// services

/// `services`: Services whose selector finds no ready endpoint
/// ([`diagnose::check_services`](crate::diagnose::check_services)).
///
/// - **Fail**, one per Service with a selector that has no ready endpoint,
///   or whose selector matches no pod.
/// - **Warn**, one per Service whose `targetPort` no selected container
///   declares (and that still has ready endpoints).
/// - **Pass**: every Service with a selector has ready endpoints. Services
///   without a selector (endpoints managed by hand, `ExternalName`) are
///   counted, not judged.
///
/// Needs `list` on services, endpoints, endpointslices
/// (`discovery.k8s.io`), networkpolicies (`networking.k8s.io`) and pods.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// use k8sops::checklist::{daily::ServiceEndpointsCheck, Checklist, Status};
///
/// let check = ServiceEndpointsCheck { namespace: Some("legacy".into()) };
/// let report = Checklist::new("svc").with(check).run(&server.cluster()).await;
/// let result = report.result("services").unwrap();
/// # assert!(result.findings.iter().any(|f| f.subject == "service/legacy/old-frontend" && f.status == Status::Fail));
/// # Ok(()) }
/// ```
#[cfg(feature = "diagnose")]
#[cfg_attr(docsrs, doc(cfg(feature = "diagnose")))]
#[derive(Debug, Clone, Default)]
pub struct ServiceEndpointsCheck {
    /// Only this namespace (default: all).
    pub namespace: Option<String>,
}

#[cfg(feature = "diagnose")]
impl Check for ServiceEndpointsCheck {
    fn id(&self) -> &str {
        "services"
    }
    fn title(&self) -> &str {
        "Service endpoints"
    }
    fn run<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, crate::Result<CheckOutput>> {
        use crate::diagnose::ServiceFinding;

        Box::pin(async move {
            let report = crate::diagnose::check_services(cluster, self.namespace.as_deref()).await?;
            // One finding per service, with everything found about it.
            let mut by_service: BTreeMap<String, Vec<&ServiceFinding>> = BTreeMap::new();
            let mut others = Vec::new();
            for f in &report.findings {
                match f {
                    ServiceFinding::NoReadyEndpoints { service }
                    | ServiceFinding::SelectorMatchesNoPod { service, .. }
                    | ServiceFinding::PortMismatch { service, .. } => {
                        by_service.entry(service.clone()).or_default().push(f)
                    }
                    other => others.push(Finding::warn("", other.to_string())),
                }
            }
            let lines: std::collections::HashMap<(&str, &str), &crate::diagnose::ServiceLine> =
                report.services.iter().map(|s| ((s.namespace.as_str(), s.name.as_str()), s)).collect();
            let mut findings = Vec::new();
            for (key, found) in &by_service {
                let (ns, name) = key.split_once('/').unwrap_or(("", key));
                let line = lines.get(&(ns, name)).copied();
                let no_pod = found.iter().find_map(|f| match f {
                    ServiceFinding::SelectorMatchesNoPod { selector, .. } => Some(selector.as_str()),
                    _ => None,
                });
                let no_endpoints = found.iter().any(|f| matches!(f, ServiceFinding::NoReadyEndpoints { .. }));
                let ports: Vec<&str> = found
                    .iter()
                    .filter_map(|f| match f {
                        ServiceFinding::PortMismatch { target_port, .. } => Some(target_port.as_str()),
                        _ => None,
                    })
                    .collect();
                let subject = format!("service/{key}");
                let mut f = if let Some(selector) = no_pod {
                    Finding::fail(&subject, format!("selector {selector} matches no pod: no endpoints")).action(
                        format!(
                            "kubectl get pods -n {ns} -l {selector}; fix the Service's selector or the pods' labels"
                        ),
                    )
                } else if no_endpoints {
                    let selected = line.and_then(|l| l.selected_pods).unwrap_or(0);
                    Finding::fail(&subject, format!("no ready endpoints ({selected} pods selected, none ready)"))
                        .action(format!(
                            "kubectl get endpointslices -n {ns} -l kubernetes.io/service-name={name}; \
                             see why its pods are not ready (the pods check, kubectl describe pod)"
                        ))
                } else {
                    Finding::warn(
                        &subject,
                        format!("targetPort {} not declared by any selected container", ports.join(", ")),
                    )
                    .action(format!(
                        "kubectl get service -n {ns} {name} -o yaml; match each targetPort with a containerPort (number or name)"
                    ))
                };
                if let Some(l) = line {
                    f = f.evidence(format!(
                        "type {}, ports {}, {} ready endpoints, {} pods selected",
                        l.type_,
                        if l.ports.is_empty() { "none".into() } else { l.ports.join(",") },
                        l.ready_endpoints,
                        l.selected_pods.map(|n| n.to_string()).unwrap_or_else(|| "-".into())
                    ));
                }
                for x in found {
                    f = f.evidence(x.to_string());
                }
                findings.push(f);
            }
            findings.extend(others);
            let with_selector = report.services.iter().filter(|s| s.selected_pods.is_some()).count();
            let without = report.services.len() - with_selector;
            let healthy = with_selector - by_service.len().min(with_selector);
            let summary = if by_service.is_empty() {
                Finding::pass("", format!("{with_selector} Services with a selector, all with ready endpoints"))
            } else {
                Finding::pass("", format!("{healthy} of {with_selector} Services with a selector look healthy"))
            };
            findings.push(summary.evidence(format!(
                "{without} Services without a selector (endpoints managed by hand, ExternalName) are not judged"
            )));
            Ok(findings.into())
        })
    }
}

// ---------------------------------------------------------------------------
// usage

/// `usage`: CPU and memory use of every node as a percentage of its
/// allocatable (`kubectl top nodes`), against two thresholds.
///
/// - **Fail**, one per node whose CPU or memory use is at or above
///   [`fail_percent`](Self::fail_percent) (default 90).
/// - **Warn**, one per node at or above [`warn_percent`](Self::warn_percent)
///   (default 80); one for the nodes metrics.k8s.io has no sample for.
/// - **Pass**: every node below `warn_percent`.
///
/// When metrics.k8s.io is not served (no metrics-server) or not readable,
/// a **Warn** finding says so (action: install metrics-server) and the
/// nodes' *requests* are compared with the same thresholds instead. Requests
/// are what the scheduler reserved, not what runs: a node full by requests
/// takes no more pods but is not overloaded, so that fallback warns and
/// never fails.
///
/// The result carries two charts, `CPU per node group` (cores) and
/// `Memory per node group` (GiB): one bar per node group, used (requested,
/// without metrics) against allocatable.
///
/// Needs `list` on nodes and pods, and on `nodes.metrics.k8s.io`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// use k8sops::checklist::{daily::UsageCheck, Checklist};
///
/// let check = UsageCheck { warn_percent: 70.0, fail_percent: 85.0 };
/// let report = Checklist::new("usage").with(check).run(&server.cluster()).await;
/// let usage = report.result("usage").unwrap();
/// for bar in &usage.charts[0].bars {
///     println!("{}: {:.1} of {:.1} cores ({:.0}%)", bar.label, bar.used, bar.capacity, bar.percent());
/// }
/// # assert_eq!(usage.charts.len(), 2);
/// # Ok(()) }
/// ```
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
#[derive(Debug, Clone)]
pub struct UsageCheck {
    /// Warn at this percentage of allocatable (default 80).
    pub warn_percent: f64,
    /// Fail at this percentage of allocatable (default 90).
    pub fail_percent: f64,
}

#[cfg(feature = "metrics")]
impl Default for UsageCheck {
    fn default() -> Self {
        UsageCheck { warn_percent: 80.0, fail_percent: 90.0 }
    }
}

#[cfg(feature = "metrics")]
#[cfg(feature = "metrics")]
impl Check for UsageCheck {
    fn id(&self) -> &str {
        "usage"
    }
    fn title(&self) -> &str {
        "Resource usage against thresholds"
    }
    fn run<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, crate::Result<CheckOutput>> {
        use crate::metrics::{self, CapacityParams, SortBy};

        Box::pin(async move {
            let params = CapacityParams { usage: false, ..Default::default() };
            let (capacity, top) = futures::join!(
                metrics::capacity_report(cluster, &params),
                metrics::top_nodes(cluster, None, SortBy::Name)
            );
            let capacity = capacity?;
            let top = match top {
                Ok(top) => Ok(top),
                Err(metrics::Error::MetricsUnavailable { reason }) => Err(reason),
                Err(metrics::Error::Core(e)) if e.is_permission_denied() => {
                    Err(format!("reading metrics.k8s.io is forbidden: {e}"))
                }
                Err(e) => return Err(e.into()),
            };
            let node_of: std::collections::HashMap<&str, &metrics::NodeCapacity> =
                capacity.nodes.iter().map(|n| (n.name.as_str(), n)).collect();
            let group_of: BTreeMap<&str, &str> =
                capacity.nodes.iter().map(|n| (n.name.as_str(), n.group.as_deref().unwrap_or("<none>"))).collect();
            let mut findings = Vec::new();
            // Used CPU (cores) and memory (bytes) per group.
            let mut used: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
            let by_usage = top.is_ok();
            match &top {
                Ok(top) => {
                    let (mut busiest_cpu, mut busiest_mem) = (None::<(f64, &str)>, None::<(f64, &str)>);
                    for n in &top.nodes {
                        if let Some(g) = group_of.get(n.name.as_str()) {
                            let e = used.entry(g).or_default();
                            e.0 += n.cpu.as_f64();
                            e.1 += n.memory.as_f64();
                        }
                        let cpu = n.allocatable_cpu.map(|a| percent(n.cpu.as_f64(), a.as_f64()));
                        let mem = n.allocatable_memory.map(|a| percent(n.memory.as_f64(), a.as_f64()));
                        if let Some(c) = cpu.filter(|c| busiest_cpu.is_none_or(|(b, _)| *c > b)) {
                            busiest_cpu = Some((c, n.name.as_str()));
                        }
                        if let Some(m) = mem.filter(|m| busiest_mem.is_none_or(|(b, _)| *m > b)) {
                            busiest_mem = Some((m, n.name.as_str()));
                        }
                        let requests = node_of.get(n.name.as_str()).copied();
                        let mut line = vec![
                            resource_line("cpu", n.cpu.as_f64(), n.allocatable_cpu.map(|a| a.as_f64()), "cores", 1.0),
                            resource_line(
                                "memory",
                                n.memory.as_f64(),
                                n.allocatable_memory.map(|a| a.as_f64()),
                                "GiB",
                                GIB,
                            ),
                        ];
                        if let Some(r) = requests {
                            line.push(format!(
                                "requests: cpu {}%, memory {}% of allocatable",
                                r.requests_percent("cpu"),
                                r.requests_percent("memory")
                            ));
                        }
                        if let Some(f) = self.node_finding(&n.name, cpu, mem, "use", Status::Fail) {
                            findings.push(line.into_iter().fold(f, Finding::evidence).action(format!(
                                "kubectl top pods -A --sort-by=cpu (or memory) to find the heaviest pods on {}; \
                                 add nodes to its group or move workloads; set requests and limits",
                                n.name
                            )));
                        }
                    }
                    if !top.missing.is_empty() {
                        findings.push(
                            Finding::warn("", format!("no metrics for {} node(s)", top.missing.len()))
                                .evidence(format!("nodes without a sample: {}", top.missing.join(", ")))
                                .action("kubectl get nodes (NotReady nodes have no metrics); kubectl -n kube-system logs deploy/metrics-server"),
                        );
                    }
                    let pct = |b: Option<(f64, &str)>| match b {
                        Some((p, n)) => format!("{p:.0}% on {n}"),
                        None => "unknown".into(),
                    };
                    findings.push(
                        Finding::pass(
                            "",
                            format!(
                                "{} nodes measured; busiest CPU {}, busiest memory {}",
                                top.nodes.len(),
                                pct(busiest_cpu),
                                pct(busiest_mem)
                            ),
                        )
                        .evidence(format!(
                            "thresholds: warn at {}%, fail at {}% of allocatable",
                            self.warn_percent, self.fail_percent
                        )),
                    );
                }
                Err(reason) => {
                    findings.push(
                        Finding::warn("", "metrics.k8s.io is not available: comparing requests, not usage")
                            .evidence(reason.clone())
                            .action(
                                "install metrics-server (kubectl apply -f https://github.com/kubernetes-sigs/metrics-server/releases/latest/download/components.yaml) \
                                 and check kubectl get apiservice v1beta1.metrics.k8s.io",
                            ),
                    );
                    for n in &capacity.nodes {
                        let pct = |r: &str| {
                            n.allocatable
                                .contains(r)
                                .then(|| percent(n.requests.get(r).as_f64(), n.allocatable.get(r).as_f64()))
                        };
                        if let Some(f) = self.node_finding(&n.name, pct("cpu"), pct("memory"), "requests", Status::Warn)
                        {
                            findings.push(
                                f.evidence(resource_line(
                                    "cpu requests",
                                    n.requests.get("cpu").as_f64(),
                                    Some(n.allocatable.get("cpu").as_f64()),
                                    "cores",
                                    1.0,
                                ))
                                .evidence(resource_line(
                                    "memory requests",
                                    n.requests.get("memory").as_f64(),
                                    Some(n.allocatable.get("memory").as_f64()),
                                    "GiB",
                                    GIB,
                                ))
                                .evidence(format!("{} pods on it", n.pods))
                                .action(format!(
                                    "kubectl describe node {} (Allocated resources); add nodes to its group or lower over-sized requests",
                                    n.name
                                )),
                            );
                        }
                    }
                    findings.push(
                        Finding::pass("", format!("{} nodes compared by requests", capacity.nodes.len())).evidence(
                            format!("thresholds: warn at {}% of allocatable (requests never fail)", self.warn_percent),
                        ),
                    );
                }
            }
            let suffix = if by_usage { "" } else { " (requests, no metrics)" };
            let mut cpu = super::Chart::new(format!("CPU per node group{suffix}"), "cores");
            let mut memory = super::Chart::new(format!("Memory per node group{suffix}"), "GiB");
            for g in &capacity.groups {
                let (cpu_used, mem_used) = if by_usage {
                    used.get(g.name.as_str()).copied().unwrap_or_default()
                } else {
                    (g.requests.get("cpu").as_f64(), g.requests.get("memory").as_f64())
                };
                cpu = cpu.bar(&g.name, round2(cpu_used), round2(g.allocatable.get("cpu").as_f64()));
                memory =
                    memory.bar(&g.name, round2(mem_used / GIB), round2(g.allocatable.get("memory").as_f64() / GIB));
            }
            Ok(CheckOutput { findings, charts: vec![cpu, memory], artifacts: Vec::new() })
        })
    }
}

#[cfg(feature = "metrics")]
impl UsageCheck {
    /// A finding for a node whose CPU or memory percentage reaches a
    /// threshold; `worst` caps the status (requests never fail).
    fn node_finding(
        &self,
        node: &str,
        cpu: Option<f64>,
        memory: Option<f64>,
        what: &str,
        worst: Status,
    ) -> Option<Finding> {
        let status_of = |p: Option<f64>| match p {
            Some(p) if p >= self.fail_percent => Status::Fail.min(worst),
            Some(p) if p >= self.warn_percent => Status::Warn,
            _ => Status::Pass,
        };
        let status = status_of(cpu).max(status_of(memory));
        if status == Status::Pass {
            return None;
        }
        let mut parts = Vec::new();
        for (name, p) in [("CPU", cpu), ("memory", memory)] {
            if let Some(p) = p.filter(|p| *p >= self.warn_percent) {
                parts.push(format!("{name} {what} at {p:.0}%"));
            }
        }
        Some(Finding::new(status, format!("node/{node}"), format!("{} of allocatable", parts.join(", "))))
    }
}

#[cfg(feature = "metrics")]
#[cfg(feature = "metrics")]
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(feature = "metrics")]
fn resource_line(what: &str, used: f64, allocatable: Option<f64>, unit: &str, scale: f64) -> String {
    match allocatable {
        Some(a) => {
            format!("{what}: {:.2} of {:.2} {unit} allocatable ({:.0}%)", used / scale, a / scale, percent(used, a))
        }
        None => format!("{what}: {:.2} {unit} (allocatable unknown)", used / scale),
    }
}

// ---------------------------------------------------------------------------
// events

/// `events`: Warning events of the last hour, grouped by reason and object
/// (`kubectl events -A --types=Warning`).
///
/// - **Pass**: no Warning event seen within [`since`](Self::since).
/// - **Warn**, one per (reason, object), with the summed count and the last message.
/// - **Fail** for a group whose occurrences inside the window reach
///   [`fail_count`](Self::fail_count) (default 10) or whose reason is in [`fail_reasons`](Self::fail_reasons)
///   (default `OOMKilling`, `SystemOOM`, `FailedMount`, `FailedAttachVolume`,
///   `Evicted`, `NodeNotReady`, `FailedCreatePodSandBox`: each means
///   workloads are down or about to be). `FailedScheduling` and `BackOff`
///   are not in the list: a pending pod waiting for a new node is normal,
///   and crash loops are the pods check's.
///
/// Counting: an event's `count` (`series.count`) includes its repeats
/// before the window. When the event's first occurrence (`firstTimestamp`,
/// else `eventTime`, the start of an events.k8s.io series) is inside the
/// window, all of its count is: the summary reads `x12 in the last 1h`.
/// Otherwise only its last occurrence is known to be (the API keeps no
/// history of the count), so it counts 1 there and the summary reads
/// `x500 since 3d ago (1 in the last 1h)`. `fail_count` is compared with
/// the occurrences inside the window.
///
/// Events are listed a page at a time (`type=Warning` field selector); only
/// one group per (namespace, reason, object) is kept. Needs `list` on events.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// use std::time::Duration;
/// use k8sops::checklist::{daily::WarningEventsCheck, Checklist};
///
/// let check = WarningEventsCheck { since: Duration::from_secs(6 * 3600), fail_count: 50, ..Default::default() };
/// let report = Checklist::new("events").with(check).run(&server.cluster()).await;
/// for f in &report.result("events").unwrap().findings {
///     println!("{} {}: {}", f.status, f.subject, f.summary);
/// }
/// # Ok(()) }
/// ```
#[cfg(feature = "diagnose")]
#[cfg_attr(docsrs, doc(cfg(feature = "diagnose")))]
#[derive(Debug, Clone)]
pub struct WarningEventsCheck {
    /// Only this namespace (default: all).
    pub namespace: Option<String>,
    /// Only events seen within this long (default one hour).
    pub since: Duration,
    /// A (reason, object) group with at least this many occurrences inside
    /// the window fails (default 10).
    pub fail_count: i64,
    /// Reasons that fail at the first event.
    pub fail_reasons: Vec<String>,
}

#[cfg(feature = "diagnose")]
impl Default for WarningEventsCheck {
    fn default() -> Self {
        WarningEventsCheck {
            namespace: None,
            since: Duration::from_secs(3600),
            fail_count: 10,
            fail_reasons: [
                "OOMKilling",
                "SystemOOM",
                "FailedMount",
                "FailedAttachVolume",
                "Evicted",
                "NodeNotReady",
                "FailedCreatePodSandBox",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

#[cfg(feature = "diagnose")]
impl Check for WarningEventsCheck {
    fn id(&self) -> &str {
        "events"
    }
    fn title(&self) -> &str {
        "Recent warning events"
    }
    fn run<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, crate::Result<CheckOutput>> {
        Box::pin(async move {
            use k8s_openapi::api::core::v1::Event;
            use k8sops_core::object_status::{event_count, event_last_seen};

            let now = Timestamp::now();
            let window = window(self.since);
            let since = i64::try_from(self.since.as_secs()).unwrap_or(i64::MAX);
            let inside = |t: Timestamp| now.as_second().saturating_sub(t.as_second()) <= since;
            // (namespace, reason, object) -> group; only the groups are kept, a page of events at a time.
            let mut groups: BTreeMap<(String, String, String), EventGroup> = BTreeMap::new();
            let mut seen = 0usize;
            let api = cluster.api_in::<Event>(self.namespace.as_deref());
            let params = kube::api::ListParams::default().fields("type=Warning");
            paging::for_each(cluster, &api, params, |e: Event| {
                let Some(last) = event_last_seen(&e).filter(|t| inside(*t)) else { return Ok(()) };
                if e.type_.as_deref() != Some("Warning") {
                    return Ok(());
                }
                seen += 1;
                let count = i64::from(event_count(&e).max(1));
                // A series' first occurrence: firstTimestamp (core/v1 writers), else
                // eventTime (events.k8s.io writers set it once, at the series' start).
                let first = e.first_timestamp.as_ref().map(|t| t.0).or_else(|| e.event_time.as_ref().map(|t| t.0));
                let started_inside = first.is_some_and(inside);
                let object = format!(
                    "{}/{}",
                    e.involved_object.kind.as_deref().unwrap_or_default().to_lowercase(),
                    e.involved_object.name.as_deref().unwrap_or_default()
                );
                let key =
                    (e.metadata.namespace.clone().unwrap_or_default(), e.reason.clone().unwrap_or_default(), object);
                let g = groups.entry(key).or_default();
                g.count += count;
                // All of a series that started inside the window is inside it; of
                // one that started before, only the last occurrence is known to be.
                g.in_window += if started_inside { count } else { 1 };
                g.started_before |= !started_inside;
                g.events += 1;
                if let Some(f) = first {
                    g.first_seen = Some(g.first_seen.map_or(f, |g| g.min(f)));
                }
                if g.last_seen.is_none_or(|l| last >= l) {
                    g.last_seen = Some(last);
                    g.message = e.message.as_deref().unwrap_or_default().trim().to_string();
                }
                Ok::<_, k8sops_core::Error>(())
            })
            .await?;
            if groups.is_empty() {
                return Ok(vec![Finding::pass("", format!("no Warning events in the last {window}"))].into());
            }
            let mut findings = Vec::new();
            for ((ns, reason, object), g) in &groups {
                let (kind, name) = object.split_once('/').unwrap_or(("", object));
                let subject = if ns.is_empty() || kind == "node" || kind == "namespace" {
                    object.clone()
                } else {
                    format!("{kind}/{ns}/{name}")
                };
                let fails = g.in_window >= self.fail_count || self.fail_reasons.iter().any(|r| r == reason);
                let counted = if g.started_before {
                    let first = match g.first_seen {
                        Some(t) => format!("{} ago", age_since(Some(t), now)),
                        None => "an unknown time".to_string(),
                    };
                    format!("x{} since {first} ({} in the last {window})", g.count, g.in_window)
                } else {
                    format!("x{} in the last {window}", g.count)
                };
                let summary = format!("{reason} {counted}: {}", first_line(&g.message));
                let f = if fails { Finding::fail(&subject, summary) } else { Finding::warn(&subject, summary) };
                let action = match kind {
                    "pod" => format!("kubectl describe pod -n {ns} {name}"),
                    "node" => format!("kubectl describe node {name}"),
                    _ if ns.is_empty() => format!("kubectl events --for {kind}/{name} --types=Warning"),
                    _ => format!("kubectl events -n {ns} --for {kind}/{name} --types=Warning"),
                };
                let mut f = f
                    .evidence(format!("{reason}: {} time(s) in {} event object(s)", g.count, g.events))
                    .evidence(format!("last seen {} ago", ago(g.last_seen, now)));
                if g.first_seen.is_some() {
                    f = f.evidence(format!("first seen {} ago", ago(g.first_seen, now)));
                }
                if g.started_before {
                    f = f.evidence(format!(
                        "{} occurrence(s) known to be in the last {window} (judged against fail_count {}): \
                         a series that started before the window counts 1",
                        g.in_window, self.fail_count
                    ));
                }
                findings.push(f.evidence(format!("last message: {}", g.message)).action(action));
            }
            findings.push(Finding::pass(
                "",
                format!("{seen} Warning events in the last {window}, about {} (reason, object) pairs", groups.len()),
            ));
            Ok(findings.into())
        })
    }
}

/// Events of one (namespace, reason, object) within the window.
#[cfg(feature = "diagnose")]
#[derive(Default)]
struct EventGroup {
    /// The events' own counts, summed (repeats before the window included).
    count: i64,
    /// Occurrences known to be inside the window.
    in_window: i64,
    /// Some series of the group started before the window (or when is unknown).
    started_before: bool,
    /// Event objects.
    events: usize,
    first_seen: Option<Timestamp>,
    last_seen: Option<Timestamp>,
    /// The message of the latest event.
    message: String,
}

/// A time window for people: `1h`, `30m`, `6h`, else kubectl's style.
#[cfg(feature = "diagnose")]
fn window(d: Duration) -> String {
    match d.as_secs() {
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        _ => k8sops_core::human_duration(d),
    }
}

#[cfg(feature = "diagnose")]
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("")
}
