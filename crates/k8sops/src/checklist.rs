//! The operational checklists of the ops guide. The daily check covers node
//! state and pod health; the weekly and monthly ones grow with the backup,
//! audit and upgrade crates.

use std::{collections::BTreeMap, fmt};

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8sops_core::{
    object_status::{node_is_ready, node_is_unschedulable, node_roles, node_status, pod_display, pod_ready_count},
    paging, Cluster, KubeVersion, Result, Table,
};
use kube::Api;
use serde::Serialize;

/// One node line of the daily report (the columns of `kubectl get nodes`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops::checklist::daily(&server.cluster()).await?;
/// for n in report.nodes.iter().filter(|n| !n.problems.is_empty()) {
///     println!("{} {}: {}", n.name, n.status, n.problems.join("; "));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeLine {
    /// Node name.
    pub name: String,
    /// `Ready`, `NotReady,SchedulingDisabled`, ... (output: decide with
    /// [`NodeLine::ready`] and [`NodeLine::unschedulable`]).
    pub status: String,
    /// Whether its `Ready` condition is `True`.
    pub ready: bool,
    /// Whether it is cordoned (`spec.unschedulable`).
    pub unschedulable: bool,
    /// Roles.
    pub roles: String,
    /// Kubelet version.
    pub version: String,
    /// Conditions other than Ready that are True (pressure), and a NotReady reason.
    pub problems: Vec<String>,
}

/// A pod that needs attention.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops::checklist::daily(&server.cluster()).await?;
/// for p in &report.unhealthy_pods {
///     println!("{}/{} {} {} restarts on {}", p.namespace, p.name, p.status, p.restarts, p.node);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodLine {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// READY column.
    pub ready: String,
    /// STATUS column.
    pub status: String,
    /// Restarts.
    pub restarts: i64,
    /// Node, if scheduled.
    pub node: String,
}

/// The result of [`daily`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops::checklist::daily(&server.cluster()).await?;
/// println!("{} pods, by status: {:?}", report.total_pods, report.pods_by_status);
/// print!("{report}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyReport {
    /// API server version.
    pub server_version: String,
    /// Every node.
    pub nodes: Vec<NodeLine>,
    /// Pods counted by STATUS word.
    pub pods_by_status: BTreeMap<String, usize>,
    /// Pods that are not Running-and-ready nor Completed.
    pub unhealthy_pods: Vec<PodLine>,
    /// Total pods.
    pub total_pods: usize,
}

impl DailyReport {
    /// Nodes that are not Ready.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let report = k8sops::checklist::daily(&server.cluster()).await?;
    /// for node in report.not_ready() {
    ///     println!("{} is {}", node.name, node.status);
    /// }
    /// # assert_eq!(report.not_ready().count(), 1);
    /// # Ok(()) }
    /// ```
    pub fn not_ready(&self) -> impl Iterator<Item = &NodeLine> {
        self.nodes.iter().filter(|n| !n.ready)
    }

    /// Whether everything looks healthy: every node Ready and no unhealthy pod.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let report = k8sops::checklist::daily(&server.cluster()).await?;
    /// assert!(!report.is_healthy(), "the demo cluster has problems to find");
    /// # Ok(()) }
    /// ```
    pub fn is_healthy(&self) -> bool {
        self.not_ready().next().is_none() && self.unhealthy_pods.is_empty()
    }
}

impl fmt::Display for DailyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Daily check — API server {}", self.server_version)?;
        writeln!(f)?;
        let ready = self.nodes.len() - self.not_ready().count();
        writeln!(f, "Nodes: {} ({} Ready)", self.nodes.len(), ready)?;
        let mut t = Table::new(["name", "status", "roles", "version", "problems"]);
        for n in &self.nodes {
            let problems = if n.problems.is_empty() { "-".to_string() } else { n.problems.join("; ") };
            t.row([n.name.as_str(), &n.status, &n.roles, &n.version, &problems]);
        }
        write!(f, "{t}")?;
        writeln!(f)?;
        let summary: Vec<String> = self.pods_by_status.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        writeln!(f, "Pods: {} ({})", self.total_pods, summary.join(", "))?;
        if self.unhealthy_pods.is_empty() {
            writeln!(f, "All pods are healthy.")?;
        } else {
            writeln!(f, "Pods needing attention: {}", self.unhealthy_pods.len())?;
            let mut t = Table::new(["namespace", "name", "ready", "status", "restarts", "node"]);
            for p in &self.unhealthy_pods {
                t.row([p.namespace.as_str(), &p.name, &p.ready, &p.status, &p.restarts.to_string(), &p.node]);
            }
            write!(f, "{t}")?;
        }
        Ok(())
    }
}

fn node_problems(node: &Node) -> Vec<String> {
    let mut out = Vec::new();
    for c in node.status.as_ref().and_then(|s| s.conditions.as_ref()).into_iter().flatten() {
        let bad = if c.type_ == "Ready" { c.status != "True" } else { c.status == "True" };
        if bad {
            let reason = c.reason.clone().unwrap_or_default();
            out.push(if c.type_ == "Ready" { format!("NotReady: {reason}") } else { format!("{}: {reason}", c.type_) });
        }
    }
    out
}

/// Succeeded, or Running (not being deleted) with every container ready:
/// from the pod's phase and container statuses, not its printed STATUS and
/// READY columns.
fn pod_is_fine(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    match status.and_then(|s| s.phase.as_deref()) {
        Some("Succeeded") => true,
        Some("Running") => {
            pod.metadata.deletion_timestamp.is_none()
                && status.and_then(|s| s.reason.as_deref()).is_none_or(str::is_empty)
                && pod_ready_count(pod).all_ready()
        }
        _ => false,
    }
}

/// Runs the daily check: node state and pod health, with lists paginated.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops::checklist::daily(&server.cluster()).await?;
/// assert_eq!(report.nodes.len(), 7);
/// assert!(report.unhealthy_pods.iter().any(|p| p.status == "CrashLoopBackOff"));
/// println!("{report}");
/// # Ok(()) }
/// ```
pub async fn daily(cluster: &Cluster) -> Result<DailyReport> {
    let version: KubeVersion = cluster.server_version().await?;
    let nodes_api: Api<Node> = cluster.api_all();
    let mut node_lines = Vec::new();
    paging::for_each(cluster, &nodes_api, Default::default(), |n: Node| {
        node_lines.push(NodeLine {
            name: n.metadata.name.clone().unwrap_or_default(),
            status: node_status(&n),
            ready: node_is_ready(&n),
            unschedulable: node_is_unschedulable(&n),
            roles: node_roles(&n),
            version: n
                .status
                .as_ref()
                .and_then(|s| s.node_info.as_ref())
                .map(|i| i.kubelet_version.clone())
                .unwrap_or_default(),
            problems: node_problems(&n),
        });
        Ok::<_, k8sops_core::Error>(())
    })
    .await?;
    let pods_api: Api<Pod> = cluster.api_all();
    let mut by_status = BTreeMap::new();
    let mut unhealthy = Vec::new();
    let mut total = 0;
    let mut pages = std::pin::pin!(paging::pages(cluster, &pods_api, Default::default(), paging::DEFAULT_PAGE_SIZE));
    while let Some(page) = pages.try_next().await? {
        for pod in page {
            total += 1;
            let d = pod_display(&pod);
            *by_status.entry(d.status.clone()).or_insert(0) += 1;
            if !pod_is_fine(&pod) {
                unhealthy.push(PodLine {
                    namespace: pod.metadata.namespace.clone().unwrap_or_default(),
                    name: pod.metadata.name.clone().unwrap_or_default(),
                    ready: d.ready,
                    status: d.status,
                    restarts: d.restarts,
                    node: pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_else(|| "<none>".into()),
                });
            }
        }
    }
    Ok(DailyReport {
        server_version: version.to_string(),
        nodes: node_lines,
        pods_by_status: by_status,
        unhealthy_pods: unhealthy,
        total_pods: total,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn health_is_decided_from_typed_fields_not_printed_words() {
        let server = k8sops_testkit::TestServer::start().await.unwrap();
        let node = |name: &str, ready: &str, cordoned: bool| {
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {"unschedulable": cordoned},
                "status": {"conditions": [{"type": "Ready", "status": ready}], "nodeInfo": {"kubeletVersion": "v1.32.1",
                    "machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "", "osImage": "",
                    "containerRuntimeVersion": "", "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"}}})
        };
        server.insert(&node("cordoned", "True", true)).unwrap();
        server.insert(&node("down", "Unknown", false)).unwrap();
        let terminated = |reason: &str, code: i32| json!({"terminated": {"reason": reason, "exitCode": code}});
        let status = |name: &str, state: serde_json::Value| json!({"name": name, "ready": false, "restartCount": 0, "image": "x", "imageID": "", "state": state});
        // Its second container failed, so the pod Failed; kubectl's STATUS
        // still reads "Completed", from the first container.
        server
            .insert(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "half-done", "namespace": "default"},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]},
                "status": {"phase": "Failed", "containerStatuses": [
                    status("a", terminated("Completed", 0)), status("b", terminated("Error", 1))]}}))
            .unwrap();
        let report = daily(&server.cluster()).await.unwrap();
        let not_ready: Vec<&str> = report.not_ready().map(|n| n.name.as_str()).collect();
        assert_eq!(not_ready, ["down"], "a cordoned Ready node is Ready");
        let cordoned = report.nodes.iter().find(|n| n.name == "cordoned").unwrap();
        assert!(cordoned.ready && cordoned.unschedulable);
        assert_eq!(cordoned.status, "Ready,SchedulingDisabled");
        let unhealthy: Vec<(&str, &str)> =
            report.unhealthy_pods.iter().map(|p| (p.name.as_str(), p.status.as_str())).collect();
        assert_eq!(unhealthy, [("half-done", "Completed")]);
    }
}
