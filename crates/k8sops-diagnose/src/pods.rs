//! Pod diagnosis: for each pod that is not healthy, the problem, its cause
//! in plain language, and the next step — CrashLoopBackOff (with the last
//! termination reason, exit code, OOMKilled), image pull failures, Pending
//! with the scheduler's reason, many restarts, failing readiness.

use std::fmt;

use k8s_openapi::api::core::v1::{Event, Pod};
use k8sops_core::{
    object_status::{self, crash_loop, pod_display, CrashLoop},
    paging, Cluster, FieldSelector, LabelSelector, Table,
};
use kube::{api::ListParams, Api};
use serde::Serialize;

use crate::Result;

/// What is wrong with a pod.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// use k8sops_diagnose::Problem;
/// let found = k8sops_diagnose::diagnose_pods(&cluster, &Default::default()).await?;
/// for d in &found.pods {
///     if let Problem::CrashLoop { last_reason: Some(reason), restarts, .. } = &d.problem {
///         println!("{} crashed {restarts} times, last: {reason}", d.pod);
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum Problem {
    /// A container keeps crashing.
    CrashLoop {
        /// Container.
        container: String,
        /// Last termination reason (`OOMKilled`, `Error`, ...).
        last_reason: Option<String>,
        /// Last exit code.
        exit_code: Option<i32>,
        /// Restarts.
        restarts: i32,
    },
    /// The image cannot be pulled.
    ImagePull {
        /// Container.
        container: String,
        /// `ImagePullBackOff` or `ErrImagePull`.
        reason: String,
        /// The kubelet's message.
        message: String,
    },
    /// The pod cannot be scheduled.
    Unschedulable {
        /// The scheduler's message.
        message: String,
    },
    /// Pending for another reason (e.g. waiting for a volume or the kubelet).
    Pending {
        /// What is known.
        message: String,
    },
    /// Running but a container is not ready (readiness probe failing).
    NotReady {
        /// Containers not ready.
        containers: Vec<String>,
        /// The latest probe failure, from events.
        probe_message: Option<String>,
    },
    /// Restarted often although running now.
    Restarts {
        /// Restarts.
        count: i64,
    },
    /// The pod failed.
    Failed {
        /// Reason.
        reason: String,
    },
}

/// One pod's diagnosis.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let found = k8sops_diagnose::diagnose_pods(&cluster, &Default::default()).await?;
/// for d in &found.pods {
///     println!("{} ({}): {}. Next: {}", d.pod, d.status, d.cause, d.next_step);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodDiagnosis {
    /// `namespace/name`.
    pub pod: String,
    /// Node, if scheduled.
    pub node: Option<String>,
    /// kubectl's STATUS word.
    pub status: String,
    /// What is wrong.
    pub problem: Problem,
    /// Why, in plain language.
    pub cause: String,
    /// What to do next.
    pub next_step: String,
    /// For a crashing container: the last lines its previous run printed
    /// (`kubectl logs --previous --tail 10`), when they can be read.
    pub previous_logs: Option<String>,
}

impl fmt::Display for PodDiagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({}): {}", self.pod, self.status, self.cause)?;
        writeln!(f, "  next: {}", self.next_step)?;
        if let Some(logs) = self.previous_logs.as_deref().filter(|l| !l.trim().is_empty()) {
            writeln!(f, "  last output before the crash:")?;
            for line in logs.lines() {
                writeln!(f, "    {line}")?;
            }
        }
        Ok(())
    }
}

/// How many lines of a crashed container's previous run a diagnosis quotes.
const PREVIOUS_LOG_LINES: i64 = 10;

/// The tail of a container's previous run, or `None` when it cannot be read
/// (no previous run kept, or `pods/log` forbidden): the diagnosis stands without it.
async fn previous_logs(cluster: &Cluster, namespace: &str, pod: &str, container: &str) -> Option<String> {
    let options = crate::LogOptions {
        container: Some(container.to_string()),
        previous: true,
        tail_lines: Some(PREVIOUS_LOG_LINES),
        ..Default::default()
    };
    crate::logs(cluster, namespace, pod, &options).await.ok()
}

/// A table of diagnoses: pod, status, cause and next step.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let found = k8sops_diagnose::diagnose_pods(&server.cluster(), &Default::default()).await?;
/// print!("{}", k8sops_diagnose::diagnosis_table(&found.pods));
/// # Ok(()) }
/// ```
pub fn diagnosis_table(d: &[PodDiagnosis]) -> Table {
    let mut t = Table::new(["pod", "status", "cause", "next step"]);
    for x in d {
        t.row([x.pod.as_str(), &x.status, &x.cause, &x.next_step]);
    }
    t
}

/// Options for [`diagnose_pods`].
///
/// ```
/// // Pods of the web app on one node, reported from 3 restarts.
/// let params = k8sops_diagnose::DiagnoseParams {
///     namespace: Some("shop".into()),
///     selector: Some("app=web".parse().unwrap()),
///     node: Some("ip-10-0-0-5.ec2.internal".into()),
///     restart_threshold: 3,
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagnoseParams {
    /// One namespace, or all.
    pub namespace: Option<String>,
    /// Only pods matching these labels.
    pub selector: Option<LabelSelector>,
    /// Only pods on this node (`--field-selector spec.nodeName=`).
    pub node: Option<String>,
    /// Running pods with at least this many restarts are reported (default 5).
    pub restart_threshold: i64,
}

impl Default for DiagnoseParams {
    fn default() -> Self {
        DiagnoseParams { namespace: None, selector: None, node: None, restart_threshold: 5 }
    }
}

fn scheduler_cause(message: &str) -> (String, String) {
    let m = message.to_lowercase();
    if m.contains("insufficient cpu") || m.contains("insufficient memory") {
        (
            format!("no node has enough free CPU or memory for its requests ({message})"),
            "lower the pod's requests, free capacity, or add nodes (scale the node group)".into(),
        )
    } else if m.contains("untolerated taint") || m.contains("had taint") {
        (
            format!("the nodes with room carry taints the pod does not tolerate ({message})"),
            "add a toleration or schedule onto untainted nodes".into(),
        )
    } else if m.contains("affinity") || m.contains("selector") {
        (
            format!("no node matches its nodeSelector or affinity ({message})"),
            "fix the selector/affinity or label a node to match".into(),
        )
    } else if m.contains("persistentvolumeclaim") || m.contains("unbound") {
        (
            format!("a PersistentVolumeClaim it uses is not bound ({message})"),
            "check the claim with the storage report (StorageClass, provisioner)".into(),
        )
    } else {
        (
            format!("the scheduler cannot place it: {message}"),
            "read the FailedScheduling events and the node list".into(),
        )
    }
}

/// The message of the most recent event with this reason about this pod
/// object: matched by the pod's UID, as `kubectl describe pod` matches them,
/// so a pod that reuses a name (a StatefulSet's, say) does not inherit its
/// predecessor's events; most recent by kubectl's LAST SEEN.
async fn latest_event(cluster: &Cluster, pod: &Pod, reason: &str) -> Result<Option<String>> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let api: Api<Event> = cluster.api_namespaced(ns);
    let fields =
        FieldSelector::new().eq("involvedObject.kind", "Pod").eq("involvedObject.name", name).eq("reason", reason);
    let mut evs = paging::list_all(cluster, &api, ListParams::default().fields(&fields.to_string())).await?;
    if !uid.is_empty() {
        evs.retain(|e| object_status::event_is_about(e, uid));
    }
    Ok(evs
        .iter()
        .max_by(|a, b| {
            object_status::event_last_seen(a)
                .cmp(&object_status::event_last_seen(b))
                .then_with(|| object_status::event_order(a, b))
        })
        .and_then(|e| e.message.clone()))
}

/// Pods [`diagnose`] has nothing to say about, told without any request:
/// Succeeded, or Running with every container ready and fewer restarts than
/// the threshold.
fn surely_healthy(pod: &Pod, restart_threshold: i64) -> bool {
    let status = pod.status.as_ref();
    match status.and_then(|s| s.phase.as_deref()) {
        Some("Succeeded") => true,
        Some("Running") => {
            let containers = status.and_then(|s| s.container_statuses.as_ref()).into_iter().flatten();
            let inits = status.and_then(|s| s.init_container_statuses.as_ref()).into_iter().flatten();
            containers.clone().all(|c| c.ready)
                && containers
                    .map(|c| (c, false))
                    .chain(inits.map(|c| (c, true)))
                    .all(|(c, init)| crash_loop(c, init).is_none())
                && pod_display(pod).restarts < restart_threshold
        }
        _ => false,
    }
}

async fn diagnose(cluster: &Cluster, pod: &Pod, restart_threshold: i64) -> Result<Option<PodDiagnosis>> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let display = pod_display(pod);
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("");
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    let make = |problem: Problem, cause: String, next: String| PodDiagnosis {
        pod: format!("{ns}/{name}"),
        node: node.clone(),
        status: display.status.clone(),
        problem,
        cause,
        next_step: next,
        previous_logs: None,
    };
    if phase == "Succeeded" {
        return Ok(None);
    }
    // Init containers first (kubectl shows `Init:Error`, `Init:CrashLoopBackOff`), then the app's.
    let init = status.and_then(|s| s.init_container_statuses.as_ref()).into_iter().flatten().map(|c| (c, true));
    let app = status.and_then(|s| s.container_statuses.as_ref()).into_iter().flatten().map(|c| (c, false));
    for (cs, is_init) in init.chain(app) {
        let waiting = cs.state.as_ref().and_then(|s| s.waiting.as_ref());
        let reason = waiting.and_then(|w| w.reason.clone()).unwrap_or_default();
        let kind = if is_init { "init container" } else { "container" };
        // A crash loop is seen in the restarts and the last termination, not only in
        // the waiting reason: between restarts the container is Running or Error.
        if let Some(CrashLoop { reason: last_reason, exit_code }) = crash_loop(cs, is_init) {
            // A container the kubelet kills for a failing liveness probe ends with
            // SIGKILL (137) or, if it exits on SIGTERM, 143, reason Error.
            let liveness = !is_init
                && matches!(exit_code, Some(137 | 143))
                && last_reason.as_deref() != Some("OOMKilled")
                && pod.spec.iter().flat_map(|s| &s.containers).any(|c| c.name == cs.name && c.liveness_probe.is_some());
            let (cause, next) = if liveness {
                (
                    format!(
                        "{kind} {} is killed by the kubelet when its liveness probe fails (exit code {}) and has restarted {} times",
                        cs.name,
                        exit_code.unwrap_or(137),
                        cs.restart_count
                    ),
                    format!(
                        "check the liveness probe (command or path, port, initialDelaySeconds, failureThreshold) and the app's health; `kubectl describe pod {name}` shows the probe's failures"
                    ),
                )
            } else if last_reason.as_deref() == Some("OOMKilled") {
                (
                    format!("{kind} {} is killed for using more memory than its limit (OOMKilled, exit {}) and restarted {} times", cs.name, exit_code.unwrap_or(137), cs.restart_count),
                    "raise the container's memory limit or reduce its memory use; check `kubectl logs --previous`".to_string(),
                )
            } else {
                (
                    format!(
                        "{kind} {} exits ({}, exit code {}) and has restarted {} times",
                        cs.name,
                        last_reason.clone().unwrap_or_else(|| "no reason".into()),
                        exit_code.map(|c| c.to_string()).unwrap_or_else(|| "?".into()),
                        cs.restart_count
                    ),
                    format!(
                        "read the previous container's logs (`kubectl logs --previous {name} -c {}`) for the error",
                        cs.name
                    ),
                )
            };
            let mut d = make(
                Problem::CrashLoop { container: cs.name.clone(), last_reason, exit_code, restarts: cs.restart_count },
                cause,
                next,
            );
            d.previous_logs = previous_logs(cluster, &ns, &name, &cs.name).await;
            return Ok(Some(d));
        }
        if reason == "ErrImageNeverPull" {
            let message = waiting.and_then(|w| w.message.clone()).unwrap_or_default();
            return Ok(Some(make(
                Problem::ImagePull { container: cs.name.clone(), reason: reason.clone(), message: message.clone() },
                format!(
                    "image {} of {kind} {} is not on the node and imagePullPolicy is Never: {message}",
                    cs.image, cs.name
                ),
                "load the image onto the node, or set imagePullPolicy to IfNotPresent so it can be pulled".into(),
            )));
        }
        if reason == "ImagePullBackOff" || reason == "ErrImagePull" || reason == "InvalidImageName" {
            let message = waiting.and_then(|w| w.message.clone()).unwrap_or_default();
            let pulled = latest_event(cluster, pod, "Failed").await?.unwrap_or_else(|| message.clone());
            let image = &cs.image;
            return Ok(Some(make(
                Problem::ImagePull { container: cs.name.clone(), reason: reason.clone(), message: pulled.clone() },
                format!("image {image} of {kind} {} cannot be pulled: {pulled}", cs.name),
                "check the image name and tag, and that the registry is reachable and imagePullSecrets grant access"
                    .into(),
            )));
        }
        // Any other reason the kubelet gives for not starting a container
        // (CreateContainerConfigError, RunContainerError, ...) is the cause itself.
        if !reason.is_empty() && !matches!(reason.as_str(), "ContainerCreating" | "PodInitializing") {
            let message = waiting.and_then(|w| w.message.clone()).unwrap_or_default();
            let text = if message.is_empty() { reason.clone() } else { format!("{reason}: {message}") };
            return Ok(Some(make(
                Problem::Pending { message: format!("{kind} {} waiting: {text}", cs.name) },
                format!("{kind} {} cannot start: {text}", cs.name),
                "check the pod's events (`kubectl describe pod`) and the referenced ConfigMaps, Secrets and volumes"
                    .into(),
            )));
        }
    }
    if phase == "Pending" {
        let sched = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled" && c.status == "False"));
        if let Some(c) = sched {
            let message = match latest_event(cluster, pod, "FailedScheduling").await? {
                Some(m) => m,
                None => c.message.clone().unwrap_or_default(),
            };
            let (cause, next) = scheduler_cause(&message);
            return Ok(Some(make(Problem::Unschedulable { message }, cause, next)));
        }
        let message = if node.is_some() {
            "scheduled; waiting for the kubelet to start it (volumes, image)".to_string()
        } else {
            "not scheduled yet".to_string()
        };
        return Ok(Some(make(
            Problem::Pending { message: message.clone() },
            format!("the pod is Pending: {message}"),
            "check the pod's events".into(),
        )));
    }
    if phase == "Failed" {
        let reason = status.and_then(|s| s.reason.clone()).unwrap_or_else(|| display.status.clone());
        return Ok(Some(make(
            Problem::Failed { reason: reason.clone() },
            format!("the pod failed ({reason})"),
            "read its logs; delete it once understood (see cleanup)".into(),
        )));
    }
    let not_ready: Vec<String> = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| !c.ready && c.state.as_ref().and_then(|s| s.running.as_ref()).is_some())
        .map(|c| c.name.clone())
        .collect();
    if phase == "Running" && !not_ready.is_empty() {
        let probe_message = latest_event(cluster, pod, "Unhealthy").await?;
        let cause = format!(
            "container(s) {} run but are not ready{}",
            not_ready.join(", "),
            probe_message.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
        );
        return Ok(Some(make(
            Problem::NotReady { containers: not_ready, probe_message },
            cause,
            "check the readiness probe (path, port, timing) and the app's health".into(),
        )));
    }
    if display.restarts >= restart_threshold {
        return Ok(Some(make(
            Problem::Restarts { count: display.restarts },
            format!("running, but restarted {} times", display.restarts),
            "look at `kubectl logs --previous` and memory limits before it turns into a crash loop".into(),
        )));
    }
    Ok(None)
}

/// Diagnoses every pod in scope that is not healthy.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let found = k8sops_diagnose::diagnose_pods(&server.cluster(), &Default::default()).await?.pods;
/// assert!(found.iter().any(|d| matches!(d.problem, k8sops_diagnose::Problem::CrashLoop { .. })));
/// for d in &found { print!("{d}"); }
/// # Ok(()) }
/// ```
pub async fn diagnose_pods(cluster: &Cluster, params: &DiagnoseParams) -> Result<PodDiagnoses> {
    let mut lp = ListParams::default();
    if let Some(s) = &params.selector {
        lp = lp.labels(&s.to_string());
    }
    if let Some(n) = &params.node {
        lp = lp.fields(&FieldSelector::new().eq("spec.nodeName", n).to_string());
    }
    // Pods are screened as their pages arrive; only those that may have a
    // problem are kept for diagnosis (which can look up their events).
    let mut troubled = Vec::new();
    let mut keep = |pod: Pod| {
        if !surely_healthy(&pod, params.restart_threshold) {
            troubled.push(pod);
        }
        Ok::<_, crate::Error>(())
    };
    // Across namespaces, a user who may read only some of them still gets those.
    let forbidden_namespaces = match &params.namespace {
        Some(ns) => {
            paging::for_each(cluster, &cluster.api_namespaced::<Pod>(ns), lp, &mut keep).await?;
            Vec::new()
        }
        None => paging::for_each_readable(cluster, lp, &mut keep).await?,
    };
    let mut out = Vec::new();
    for pod in troubled {
        if let Some(d) = diagnose(cluster, &pod, params.restart_threshold).await? {
            out.push(d);
        }
    }
    out.sort_by(|a, b| a.pod.cmp(&b.pod));
    Ok(PodDiagnoses { pods: out, forbidden_namespaces })
}

/// The result of [`diagnose_pods`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let found = k8sops_diagnose::diagnose_pods(&cluster, &Default::default()).await?;
/// assert!(found.forbidden_namespaces.is_empty(), "the admin reads every namespace");
/// print!("{found}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodDiagnoses {
    /// Pods with a problem, by name.
    pub pods: Vec<PodDiagnosis>,
    /// Namespaces whose pods could not be read (403); their pods are not covered.
    pub forbidden_namespaces: Vec<String>,
}

impl fmt::Display for PodDiagnoses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.pods {
            write!(f, "{d}")?;
        }
        if !self.forbidden_namespaces.is_empty() {
            writeln!(f, "not checked (forbidden): {}", self.forbidden_namespaces.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_screen_drops_only_pods_diagnosis_would_pass() {
        let server = k8sops_testkit::TestServer::start().await.unwrap();
        server.load(&k8sops_testkit::DemoCluster::small()).unwrap();
        let cluster = server.cluster();
        let pods = paging::list_all(&cluster, &cluster.api_all::<Pod>(), ListParams::default()).await.unwrap();
        let mut dropped = 0;
        for pod in &pods {
            if surely_healthy(pod, 5) {
                dropped += 1;
                let found = diagnose(&cluster, pod, 5).await.unwrap();
                assert!(found.is_none(), "screened out but diagnosed: {found:?}");
            }
        }
        assert!(dropped > pods.len() / 2, "most demo pods are healthy ({dropped} of {})", pods.len());
    }
}
