//! The status words kubectl prints for nodes and pods (`Ready,SchedulingDisabled`,
//! `CrashLoopBackOff`, `Init:0/1`, `Terminating`), computed exactly as kubectl does
//! so that reports and `kubectl get` agree.

use std::{cmp::Ordering, collections::BTreeSet, fmt};

use k8s_openapi::{
    api::core::v1::{ContainerStateTerminated, ContainerStatus, Event, Node, Pod},
    jiff::Timestamp,
};

/// `namespace/name` of an object, the key k8sops uses for pods in reports
/// and to join pods with their metrics (a cluster-scoped object gives `/name`).
///
/// ```
/// let pod: k8s_openapi::api::core::v1::Pod =
///     serde_json::from_value(serde_json::json!({"metadata": {"namespace": "shop", "name": "web-0"}})).unwrap();
/// assert_eq!(k8sops_core::object_status::namespaced_name(&pod.metadata), "shop/web-0");
/// ```
pub fn namespaced_name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    format!("{}/{}", meta.namespace.as_deref().unwrap_or(""), meta.name.as_deref().unwrap_or(""))
}

/// The STATUS column of `kubectl get nodes`: `Ready`, `NotReady` or `Unknown`,
/// plus `,SchedulingDisabled` for cordoned nodes. This is output: decide with
/// [`node_is_ready`] and [`node_is_unschedulable`], not by reading it back.
///
/// ```
/// use k8s_openapi::api::core::v1::Node;
/// let node: Node = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "n"}, "spec": {"unschedulable": true},
///     "status": {"conditions": [{"type": "Ready", "status": "True"}]}
/// })).unwrap();
/// assert_eq!(k8sops_core::object_status::node_status(&node), "Ready,SchedulingDisabled");
/// ```
pub fn node_status(node: &Node) -> String {
    let ready =
        node.status.as_ref().and_then(|s| s.conditions.as_ref()).and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
    let mut out = match ready {
        Some(c) if c.status == "True" => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if node_is_unschedulable(node) {
        out.push_str(",SchedulingDisabled");
    }
    out
}

/// Whether the node's `Ready` condition is `True`, cordoned or not.
///
/// ```
/// use k8s_openapi::api::core::v1::Node;
/// let node: Node = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "n"}, "spec": {"unschedulable": true},
///     "status": {"conditions": [{"type": "Ready", "status": "True"}]}
/// })).unwrap();
/// assert!(k8sops_core::object_status::node_is_ready(&node));
/// ```
pub fn node_is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

/// Whether the node is cordoned (`spec.unschedulable`).
///
/// ```
/// use k8s_openapi::api::core::v1::Node;
/// let node: Node = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "n"}, "spec": {"unschedulable": true}})).unwrap();
/// assert!(k8sops_core::object_status::node_is_unschedulable(&node));
/// ```
pub fn node_is_unschedulable(node: &Node) -> bool {
    node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false)
}

/// The ROLES column of `kubectl get nodes`: from `node-role.kubernetes.io/<role>`
/// labels and the legacy `kubernetes.io/role` label, sorted; `<none>` if there are none.
///
/// ```
/// use k8s_openapi::api::core::v1::Node;
/// let node: Node = serde_json::from_value(serde_json::json!({"metadata": {"name": "n",
///     "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "master"}}})).unwrap();
/// assert_eq!(k8sops_core::object_status::node_roles(&node), "control-plane,master");
/// ```
pub fn node_roles(node: &Node) -> String {
    let mut roles = BTreeSet::new();
    for (k, v) in node.metadata.labels.iter().flatten() {
        if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        } else if k == "kubernetes.io/role" && !v.is_empty() {
            roles.insert(v.clone());
        }
    }
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    }
}

/// The first node address of a type (`InternalIP`, `ExternalIP`), or `<none>`.
///
/// ```
/// use k8s_openapi::api::core::v1::Node;
/// let node: Node = serde_json::from_value(serde_json::json!({"metadata": {"name": "n"},
///     "status": {"addresses": [{"type": "InternalIP", "address": "10.0.1.5"}]}})).unwrap();
/// assert_eq!(k8sops_core::object_status::node_address(&node, "InternalIP"), "10.0.1.5");
/// assert_eq!(k8sops_core::object_status::node_address(&node, "ExternalIP"), "<none>");
/// ```
pub fn node_address(node: &Node, kind: &str) -> String {
    node.status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .and_then(|a| a.iter().find(|a| a.type_ == kind))
        .map(|a| a.address.clone())
        .unwrap_or_else(|| "<none>".into())
}

/// What kubectl prints in a pod's READY, STATUS and RESTARTS columns.
///
/// ```
/// let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
///     "spec": {"containers": [{"name": "app", "image": "nginx"}]},
///     "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
///         "image": "nginx", "imageID": "", "state": {"running": {}}}]}})).unwrap();
/// let d = k8sops_core::object_status::pod_display(&pod);
/// assert_eq!((d.ready.as_str(), d.status.as_str(), d.restarts), ("1/1", "Running", 0));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PodDisplay {
    /// `ready/total` containers, e.g. `1/2`.
    pub ready: String,
    /// The STATUS word: phase, container reason, `Init:…`, `Terminating`, ...
    pub status: String,
    /// Total restarts.
    pub restarts: i64,
    /// When the most recent restart's container last terminated.
    pub last_restart: Option<Timestamp>,
}

impl PodDisplay {
    /// RESTARTS as kubectl prints it: `3 (5m ago)` or `0`.
    ///
    /// ```
    /// use k8sops_core::object_status::PodDisplay;
    /// let d = PodDisplay { ready: "1/1".into(), status: "Running".into(), restarts: 0, last_restart: None };
    /// assert_eq!(d.restarts_column(k8s_openapi::jiff::Timestamp::now()), "0");
    /// ```
    pub fn restarts_column(&self, now: Timestamp) -> String {
        match self.last_restart {
            Some(ts) if self.restarts != 0 => {
                format!("{} ({} ago)", self.restarts, crate::age::age_since(Some(ts), now))
            }
            _ => self.restarts.to_string(),
        }
    }
}

/// Ready containers of a pod, of how many ([`pod_ready_count`]); prints as
/// kubectl's READY column (`1/2`).
///
/// ```
/// let n = k8sops_core::object_status::ReadyCount { ready: 2, total: 2 };
/// assert!(n.all_ready());
/// assert_eq!(n.to_string(), "2/2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ReadyCount {
    /// Ready containers.
    pub ready: usize,
    /// Containers counted (app containers and sidecars).
    pub total: usize,
}

impl ReadyCount {
    /// Whether every counted container is ready.
    ///
    /// ```
    /// assert!(!k8sops_core::object_status::ReadyCount { ready: 1, total: 2 }.all_ready());
    /// ```
    pub fn all_ready(&self) -> bool {
        self.ready == self.total
    }
}

impl fmt::Display for ReadyCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.ready, self.total)
    }
}

/// Computes READY, STATUS and RESTARTS for a pod with kubectl's rules.
///
/// ```
/// use k8s_openapi::api::core::v1::Pod;
/// let pod: Pod = serde_json::from_value(serde_json::json!({
///   "metadata": {"name": "p"},
///   "spec": {"containers": [{"name": "app"}]},
///   "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": false, "restartCount": 4,
///     "image": "x", "imageID": "", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
/// })).unwrap();
/// let d = k8sops_core::object_status::pod_display(&pod);
/// assert_eq!((d.ready.as_str(), d.status.as_str(), d.restarts), ("0/1", "CrashLoopBackOff", 4));
/// ```
pub fn pod_display(pod: &Pod) -> PodDisplay {
    pod_columns(pod).0
}

/// The READY column's numbers, typed: how many of the pod's containers
/// (app containers and started sidecars) are ready, of how many, counted as
/// kubectl counts them for `1/2`.
///
/// ```
/// use k8s_openapi::api::core::v1::Pod;
/// let pod: Pod = serde_json::from_value(serde_json::json!({
///   "metadata": {"name": "p"},
///   "spec": {"containers": [{"name": "app"}, {"name": "log"}]},
///   "status": {"phase": "Running", "containerStatuses": [
///     {"name": "app", "ready": true, "restartCount": 0, "image": "x", "imageID": "", "state": {"running": {}}},
///     {"name": "log", "ready": false, "restartCount": 0, "image": "x", "imageID": "", "state": {"running": {}}}]}
/// })).unwrap();
/// let n = k8sops_core::object_status::pod_ready_count(&pod);
/// assert_eq!((n.ready, n.total, n.all_ready()), (1, 2, false));
/// assert_eq!(n.to_string(), "1/2");
/// ```
pub fn pod_ready_count(pod: &Pod) -> ReadyCount {
    pod_columns(pod).1
}

/// [`pod_display`] and [`pod_ready_count`] from one pass over the pod, for
/// code that needs both for many pods.
///
/// ```
/// use k8s_openapi::api::core::v1::Pod;
/// let pod: Pod = serde_json::from_value(serde_json::json!({
///   "metadata": {"name": "p"},
///   "spec": {"containers": [{"name": "app"}]},
///   "status": {"phase": "Running", "containerStatuses": [
///     {"name": "app", "ready": true, "restartCount": 1, "image": "x", "imageID": "", "state": {"running": {}}}]}
/// })).unwrap();
/// let (shown, count) = k8sops_core::object_status::pod_columns(&pod);
/// assert_eq!((shown.status.as_str(), shown.ready.as_str(), shown.restarts), ("Running", "1/1", 1));
/// assert!(count.all_ready());
/// ```
pub fn pod_columns(pod: &Pod) -> (PodDisplay, ReadyCount) {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let mut total = spec.map(|s| s.containers.len()).unwrap_or(0);
    let mut ready_count = 0;
    let mut restarts: i64 = 0;
    let mut last_restart: Option<Timestamp> = None;
    let mut reason = status.and_then(|s| s.phase.clone()).unwrap_or_default();
    if let Some(r) = status.and_then(|s| s.reason.clone()).filter(|r| !r.is_empty()) {
        reason = r;
    }
    if status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated")))
    {
        reason = "SchedulingGated".into();
    }
    let init_specs = spec.and_then(|s| s.init_containers.as_ref());
    let sidecars: BTreeSet<&str> = init_specs
        .into_iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.as_str())
        .collect();
    total += sidecars.len();
    let init_count = init_specs.map(Vec::len).unwrap_or(0);
    let mut sidecar_restarts = 0;
    let mut sidecar_last: Option<Timestamp> = None;
    let mut initializing = false;
    let bump = |last: &mut Option<Timestamp>, cs: &k8s_openapi::api::core::v1::ContainerStatus| {
        if let Some(t) = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()).and_then(|t| t.finished_at.as_ref())
        {
            if last.is_none_or(|l| t.0 > l) {
                *last = Some(t.0);
            }
        }
    };
    for (i, cs) in status.and_then(|s| s.init_container_statuses.as_ref()).into_iter().flatten().enumerate() {
        restarts += i64::from(cs.restart_count);
        bump(&mut last_restart, cs);
        let is_sidecar = sidecars.contains(cs.name.as_str());
        if is_sidecar {
            sidecar_restarts += i64::from(cs.restart_count);
            bump(&mut sidecar_last, cs);
        }
        let state = cs.state.as_ref();
        let terminated = state.and_then(|s| s.terminated.as_ref());
        let waiting = state.and_then(|s| s.waiting.as_ref());
        if terminated.is_some_and(|t| t.exit_code == 0) {
            continue;
        }
        if is_sidecar && cs.started == Some(true) {
            if cs.ready {
                ready_count += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            reason = match t.reason.as_deref().filter(|r| !r.is_empty()) {
                Some(r) => format!("Init:{r}"),
                None if t.signal.unwrap_or(0) != 0 => {
                    format!("Init:Signal:{}", t.signal.unwrap_or(0))
                }
                None => format!("Init:ExitCode:{}", t.exit_code),
            };
        } else if let Some(r) =
            waiting.and_then(|w| w.reason.as_deref()).filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            reason = format!("Init:{r}");
        } else {
            reason = format!("Init:{i}/{init_count}");
        }
        initializing = true;
        break;
    }
    let initialized = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Initialized" && c.status == "True"));
    if !initializing || initialized {
        restarts = sidecar_restarts;
        last_restart = sidecar_last;
        let mut has_running = false;
        for cs in status.and_then(|s| s.container_statuses.as_ref()).into_iter().flatten().rev() {
            restarts += i64::from(cs.restart_count);
            bump(&mut last_restart, cs);
            let state = cs.state.as_ref();
            let waiting =
                state.and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.clone()).filter(|r| !r.is_empty());
            let terminated = state.and_then(|s| s.terminated.as_ref());
            if let Some(r) = waiting {
                reason = r;
            } else if let Some(t) = terminated {
                reason = match t.reason.clone().filter(|r| !r.is_empty()) {
                    Some(r) => r,
                    None if t.signal.unwrap_or(0) != 0 => {
                        format!("Signal:{}", t.signal.unwrap_or(0))
                    }
                    None => format!("ExitCode:{}", t.exit_code),
                };
            } else if cs.ready && state.and_then(|s| s.running.as_ref()).is_some() {
                has_running = true;
                ready_count += 1;
            }
        }
        if reason == "Completed" && has_running {
            let has_ready = status
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            reason = if has_ready { "Running".into() } else { "NotReady".into() };
        }
    }
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("");
    if pod.metadata.deletion_timestamp.is_some() {
        if status.and_then(|s| s.reason.as_deref()) == Some("NodeLost") {
            reason = "Unknown".into();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".into();
        }
    }
    let count = ReadyCount { ready: ready_count, total };
    (PodDisplay { ready: count.to_string(), status: reason, restarts, last_restart }, count)
}

/// Whether a pod has a `Ready=True` condition.
///
/// ```
/// use k8s_openapi::api::core::v1::Pod;
/// let pod: Pod = serde_json::from_value(serde_json::json!({"metadata": {"name": "p"},
///     "status": {"conditions": [{"type": "Ready", "status": "True"}]}})).unwrap();
/// assert!(k8sops_core::object_status::pod_is_ready(&pod));
/// ```
pub fn pod_is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The failed run behind a crash loop: its reason (`Error`, `OOMKilled`, or
/// none when the kubelet did not say) and exit code.
///
/// ```
/// let failure = k8sops_core::object_status::CrashLoop { reason: Some("OOMKilled".into()), exit_code: Some(137) };
/// assert!(failure.is_oom_killed());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CrashLoop {
    /// The last termination's reason.
    pub reason: Option<String>,
    /// The last termination's exit code.
    pub exit_code: Option<i32>,
}

impl CrashLoop {
    /// Whether the last run was killed for exceeding its memory limit.
    ///
    /// ```
    /// assert!(!k8sops_core::object_status::CrashLoop::default().is_oom_killed());
    /// ```
    pub fn is_oom_killed(&self) -> bool {
        self.reason.as_deref() == Some("OOMKilled")
    }
}

/// How long after a failed run a restarted container still counts as
/// crash-looping. The kubelet's back-off tops out at 5 minutes, so a container
/// that keeps crashing has ended a run within the last 10; an older failure is
/// history.
///
/// ```
/// assert_eq!(k8sops_core::object_status::RECENT_CRASH_SECS, 600);
/// ```
pub const RECENT_CRASH_SECS: i64 = 600;

/// Whether a container is crash-looping, whatever its state at this instant:
/// waiting in `CrashLoopBackOff`, terminated with an error and about to be
/// restarted, or running again after a recent failed run (OOMKilled, non-zero
/// exit). kubectl shows the first as the pod's status; the other two only in
/// the RESTARTS column and `describe`'s "Last State", and a check that reads
/// the waiting reason alone misses them between restarts.
///
/// `is_init` says the status belongs to an init container (a failed init
/// container is retried without a restart count of its own showing yet).
///
/// ```
/// use k8s_openapi::api::core::v1::ContainerStatus;
/// let cs: ContainerStatus = serde_json::from_value(serde_json::json!({
///     "name": "app", "image": "busybox", "imageID": "", "ready": false, "restartCount": 4,
///     "state": {"waiting": {"reason": "CrashLoopBackOff"}},
///     "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}})).unwrap();
/// let crash = k8sops_core::object_status::crash_loop(&cs, false).unwrap();
/// assert_eq!(crash.exit_code, Some(1));
/// ```
pub fn crash_loop(cs: &ContainerStatus, is_init: bool) -> Option<CrashLoop> {
    let state = cs.state.as_ref();
    let waiting_reason = state.and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref());
    let now_terminated = state.and_then(|s| s.terminated.as_ref());
    let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    let failed = |t: &ContainerStateTerminated| t.exit_code != 0 || t.reason.as_deref() == Some("OOMKilled");
    let info = |t: &ContainerStateTerminated| CrashLoop { reason: t.reason.clone(), exit_code: Some(t.exit_code) };
    if waiting_reason == Some("CrashLoopBackOff") {
        return Some(last.map(info).unwrap_or_default());
    }
    // An init container that failed is retried (Init:Error); the same for an app
    // container that already restarted after a failure.
    if let Some(t) = now_terminated.filter(|t| failed(t) && (is_init || cs.restart_count > 0)) {
        return Some(info(t));
    }
    let recent = |t: &ContainerStateTerminated| {
        t.finished_at.as_ref().is_none_or(|f| Timestamp::now().duration_since(f.0).as_secs() < RECENT_CRASH_SECS)
    };
    last.filter(|t| failed(t) && recent(t) && cs.restart_count > 0).map(info)
}

/// Labels that name a node's group, most specific first: EKS managed node
/// groups, eksctl, Karpenter.
///
/// ```
/// use k8sops_core::object_status::NODE_GROUP_LABELS;
/// // A Karpenter node pool counts as a group too.
/// assert!(NODE_GROUP_LABELS.contains(&"karpenter.sh/nodepool"));
/// ```
pub const NODE_GROUP_LABELS: [&str; 3] =
    ["eks.amazonaws.com/nodegroup", "alpha.eksctl.io/nodegroup-name", "karpenter.sh/nodepool"];

/// The node group a node belongs to, from [`NODE_GROUP_LABELS`].
///
/// ```
/// use k8s_openapi::api::core::v1::Node;
/// let node: Node = serde_json::from_value(serde_json::json!({"metadata": {"name": "n",
///     "labels": {"karpenter.sh/nodepool": "default"}}})).unwrap();
/// assert_eq!(k8sops_core::object_status::node_group(&node).as_deref(), Some("default"));
/// ```
pub fn node_group(node: &Node) -> Option<String> {
    let labels = node.metadata.labels.as_ref()?;
    NODE_GROUP_LABELS.iter().find_map(|l| labels.get(*l).cloned())
}

/// When an event last happened, as kubectl's LAST SEEN column takes it:
/// `series.lastObservedTime` for a series, else `lastTimestamp`, else
/// `firstTimestamp`, else `eventTime` (events.k8s.io writers set only the
/// latter two). `None` when it has none of them: its age is unknown (kubectl
/// prints `<unknown>`); the object's creationTimestamp is not a time of the
/// event.
///
/// ```
/// use k8s_openapi::api::core::v1::Event;
/// let e: Event = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "e", "creationTimestamp": "2026-01-01T00:00:00Z"},
///     "involvedObject": {"kind": "Pod", "name": "p"},
///     "lastTimestamp": "2026-01-01T00:05:00Z",
///     "series": {"count": 7, "lastObservedTime": "2026-01-01T00:09:00.000000Z"}})).unwrap();
/// let seen = k8sops_core::object_status::event_last_seen(&e).unwrap();
/// assert_eq!(seen.to_string(), "2026-01-01T00:09:00Z");
/// let bare: Event = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "e", "creationTimestamp": "2026-01-01T00:00:00Z"},
///     "involvedObject": {"kind": "Pod", "name": "p"}})).unwrap();
/// assert_eq!(k8sops_core::object_status::event_last_seen(&bare), None);
/// ```
pub fn event_last_seen(e: &Event) -> Option<Timestamp> {
    e.series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref())
        .map(|t| t.0)
        .or_else(|| e.last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
}

/// How many times an event happened, as kubectl counts it: `series.count`
/// for a series, else `count`, and 1 for a singleton (events.k8s.io writers
/// leave `count` unset).
///
/// ```
/// use k8s_openapi::api::core::v1::Event;
/// let e: Event = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"},
///     "count": 0, "series": {"count": 12, "lastObservedTime": "2026-01-01T00:09:00.000000Z"}})).unwrap();
/// assert_eq!(k8sops_core::object_status::event_count(&e), 12);
/// ```
pub fn event_count(e: &Event) -> i32 {
    match (&e.series, e.count) {
        (Some(s), _) => s.count.unwrap_or(1),
        (None, Some(c)) if c > 0 => c,
        _ => 1,
    }
}

/// The order of `kubectl get events --sort-by=.lastTimestamp` (and of the
/// events in `kubectl describe`): events without a `lastTimestamp` first,
/// then by `lastTimestamp`; ties by [`event_last_seen`], then namespace and name.
///
/// ```
/// use k8s_openapi::api::core::v1::Event;
/// let ev = |name: &str, last: Option<&str>| -> Event {
///     let mut v = serde_json::json!({"metadata": {"name": name}, "involvedObject": {"kind": "Pod", "name": "p"}});
///     if let Some(t) = last { v["lastTimestamp"] = t.into(); }
///     serde_json::from_value(v).unwrap()
/// };
/// let mut events = vec![ev("b", Some("2026-01-01T00:05:00Z")), ev("a", Some("2026-01-01T00:01:00Z")), ev("new-api", None)];
/// events.sort_by(k8sops_core::object_status::event_order);
/// let names: Vec<_> = events.iter().map(|e| e.metadata.name.as_deref().unwrap()).collect();
/// assert_eq!(names, ["new-api", "a", "b"]);
/// ```
pub fn event_order(a: &Event, b: &Event) -> Ordering {
    let last = |e: &Event| e.last_timestamp.as_ref().map(|t| t.0);
    last(a)
        .cmp(&last(b))
        .then_with(|| event_last_seen(a).cmp(&event_last_seen(b)))
        .then_with(|| a.metadata.namespace.cmp(&b.metadata.namespace))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// Whether an event is about the object with this UID (its `involvedObject.uid`;
/// events.k8s.io's `regarding` reads back as `involvedObject`). kubectl
/// describe matches events by UID, so a new object that reuses a name does
/// not inherit its predecessor's events. Kubelets report node events with the
/// node's name as the UID: for a node, ask for its UID and for its name.
///
/// ```
/// use k8s_openapi::api::core::v1::Event;
/// let e: Event = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "web-0", "uid": "uid-2"}})).unwrap();
/// assert!(k8sops_core::object_status::event_is_about(&e, "uid-2"));
/// assert!(!k8sops_core::object_status::event_is_about(&e, "uid-1"));
/// ```
pub fn event_is_about(e: &Event, uid: &str) -> bool {
    !uid.is_empty() && e.involved_object.uid.as_deref() == Some(uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(v: serde_json::Value) -> Event {
        let mut base = serde_json::json!({"metadata": {"name": "e", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "involvedObject": {"kind": "Pod", "name": "p"}});
        for (k, x) in v.as_object().unwrap() {
            base[k] = x.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn events_without_last_timestamp_sort_first() {
        let old = ev(serde_json::json!({"metadata": {"name": "old"}, "lastTimestamp": "2026-01-01T00:01:00Z"}));
        let new_api = ev(serde_json::json!({"metadata": {"name": "series"},
            "eventTime": "2026-01-01T00:00:30.000000Z",
            "series": {"count": 3, "lastObservedTime": "2026-01-01T00:30:00.000000Z"}}));
        let recent = ev(serde_json::json!({"metadata": {"name": "recent"}, "lastTimestamp": "2026-01-01T00:10:00Z"}));
        let mut events = [recent, old, new_api];
        events.sort_by(event_order);
        let names: Vec<_> = events.iter().map(|e| e.metadata.name.clone().unwrap()).collect();
        assert_eq!(names, ["series", "old", "recent"]);
    }

    #[test]
    fn series_count_and_last_observed_time_count() {
        let e = ev(serde_json::json!({"count": 2, "lastTimestamp": "2026-01-01T00:05:00Z",
            "series": {"count": 40, "lastObservedTime": "2026-01-01T00:20:00.000000Z"}}));
        assert_eq!(event_count(&e), 40);
        assert_eq!(event_last_seen(&e), Some("2026-01-01T00:20:00Z".parse().unwrap()));
        let singleton = ev(serde_json::json!({"eventTime": "2026-01-01T00:03:00.000000Z"}));
        assert_eq!(event_count(&singleton), 1);
        assert_eq!(event_last_seen(&singleton), Some("2026-01-01T00:03:00Z".parse().unwrap()));
    }

    #[test]
    fn an_event_with_no_timestamp_has_no_last_seen() {
        // Created at some time, but no time of the event itself: unknown age, not the creation's.
        let e = ev(serde_json::json!({}));
        assert_eq!(event_last_seen(&e), None);
        assert_eq!(crate::age::age_since(event_last_seen(&e), Timestamp::now()), "<unknown>");
    }

    #[test]
    fn readiness_and_schedulability_come_from_typed_fields() {
        let node = |v: serde_json::Value| -> Node { serde_json::from_value(v).unwrap() };
        let cordoned_ready = node(serde_json::json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}));
        assert!(node_is_ready(&cordoned_ready) && node_is_unschedulable(&cordoned_ready));
        let unknown = node(
            serde_json::json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}),
        );
        assert!(!node_is_ready(&unknown) && !node_is_unschedulable(&unknown));
    }
}

/// A list field read the same way whichever Kubernetes version `k8s-openapi`
/// was built for: some fields are `Vec<T>` in one version and
/// `Option<Vec<T>>` in another (e.g. `EndpointSlice::endpoints`), and library
/// code must compile with every version a binary may pick.
///
/// ```
/// use k8sops_core::object_status::ListField;
/// let some: Option<Vec<u8>> = Some(vec![1, 2]);
/// let none: Option<Vec<u8>> = None;
/// assert_eq!(some.items(), [1, 2]);
/// assert!(none.items().is_empty());
/// assert_eq!(vec![3u8].items(), [3]);
/// ```
pub trait ListField<T> {
    /// The items, empty when the field is absent.
    fn items(&self) -> &[T];
}

impl<T> ListField<T> for Vec<T> {
    fn items(&self) -> &[T] {
        self
    }
}

impl<T> ListField<T> for Option<Vec<T>> {
    fn items(&self) -> &[T] {
        self.as_deref().unwrap_or(&[])
    }
}

/// A workload's `spec` read the same way whichever Kubernetes version
/// `k8s-openapi` was built for: `spec` is `Option<DeploymentSpec>` up to
/// 1.35 and a required `DeploymentSpec` from 1.36 (likewise for
/// StatefulSets, DaemonSets, ReplicaSets and CronJobs).
///
/// ```
/// use k8s_openapi::api::apps::v1::Deployment;
/// use k8sops_core::object_status::SpecField;
/// let d: Deployment = serde_json::from_value(serde_json::json!({"metadata": {"name": "web"},
///     "spec": {"replicas": 3, "selector": {}, "template": {}}})).unwrap();
/// assert_eq!(d.spec.spec().and_then(|s| s.replicas), Some(3));
/// ```
pub trait SpecField<T> {
    /// The spec, `None` when the field is optional and absent.
    fn spec(&self) -> Option<&T>;
}

impl<T> SpecField<T> for Option<T> {
    fn spec(&self) -> Option<&T> {
        self.as_ref()
    }
}

macro_rules! required_specs {
    ($($t:ty),*) => {$(
        impl SpecField<$t> for $t {
            fn spec(&self) -> Option<&$t> {
                Some(self)
            }
        }
    )*};
}

required_specs!(
    k8s_openapi::api::apps::v1::DeploymentSpec,
    k8s_openapi::api::apps::v1::StatefulSetSpec,
    k8s_openapi::api::apps::v1::DaemonSetSpec,
    k8s_openapi::api::apps::v1::ReplicaSetSpec,
    k8s_openapi::api::batch::v1::CronJobSpec
);
