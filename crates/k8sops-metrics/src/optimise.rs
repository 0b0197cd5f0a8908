//! Optimisation hints from the ops guide's "performance optimisation"
//! section: pods without requests or limits, workloads that ignore tainted
//! node groups, and pods sorted by age, CPU or memory
//! (`kubectl get pods -A --sort-by=.metadata.creationTimestamp`,
//! `kubectl top pods -A --sort-by=cpu|memory`).

use std::fmt;

use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    core::v1::{Node, Pod, PodSpec},
};
use k8sops_core::{object_status::SpecField, paging, Cluster, Table};
use kube::{api::ListParams, Api};
use serde::Serialize;

use crate::Result;

/// The result of [`optimisation_hints`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let hints = k8sops_metrics::optimisation_hints(&cluster, None).await?;
/// assert!(!hints.node_taints.is_empty(), "the demo's system group is tainted");
/// print!("{hints}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptimisationReport {
    /// Containers without CPU or memory requests (`namespace/pod/container`).
    pub missing_requests: Vec<String>,
    /// Containers without a memory limit (`namespace/pod/container`).
    pub missing_limits: Vec<String>,
    /// Deployments and StatefulSets with no nodeSelector, affinity or
    /// tolerations although some node groups are tainted (`Kind namespace/name`).
    pub untargeted_workloads: Vec<String>,
    /// The taints seen on nodes, `key=value:Effect`.
    pub node_taints: Vec<String>,
}

impl fmt::Display for OptimisationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = Table::new(["hint", "object"]);
        for c in &self.missing_requests {
            t.row(["no cpu/memory requests: the scheduler cannot place it well", c.as_str()]);
        }
        for c in &self.missing_limits {
            t.row(["no memory limit: it can starve its node", c.as_str()]);
        }
        for w in &self.untargeted_workloads {
            t.row(["no nodeSelector/affinity/tolerations while node groups are tainted", w.as_str()]);
        }
        write!(f, "{t}")
    }
}

fn targets_nodes(spec: Option<&PodSpec>) -> bool {
    spec.is_some_and(|s| {
        s.node_selector.as_ref().is_some_and(|m| !m.is_empty())
            || s.affinity.as_ref().is_some_and(|a| a.node_affinity.is_some())
            || s.tolerations.as_ref().is_some_and(|t| !t.is_empty())
    })
}

/// Requests/limits hygiene and node targeting across the cluster (or one namespace).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let hints = k8sops_metrics::optimisation_hints(&server.cluster(), None).await?;
/// assert!(hints.missing_requests.iter().any(|c| c.starts_with("legacy/debug-shell/")));
/// # Ok(()) }
/// ```
pub async fn optimisation_hints(cluster: &Cluster, namespace: Option<&str>) -> Result<OptimisationReport> {
    let nodes: Api<Node> = cluster.api_all();
    let mut taints = std::collections::BTreeSet::new();
    paging::for_each(cluster, &nodes, ListParams::default(), |n: Node| {
        for t in n.spec.iter().flat_map(|s| s.taints.iter().flatten()) {
            if t.effect == "NoSchedule" && !t.key.starts_with("node.kubernetes.io/") {
                taints.insert(format!("{}={}:{}", t.key, t.value.clone().unwrap_or_default(), t.effect));
            }
        }
        Ok::<_, crate::Error>(())
    })
    .await?;
    let node_taints: Vec<String> = taints.into_iter().collect();

    let pods: Api<Pod> = cluster.api_in(namespace);
    let mut missing_requests = Vec::new();
    let mut missing_limits = Vec::new();
    let fields = "status.phase!=Succeeded,status.phase!=Failed";
    paging::for_each(cluster, &pods, ListParams::default().fields(fields), |p: Pod| {
        let prefix = k8sops_core::object_status::namespaced_name(&p.metadata);
        for c in p.spec.iter().flat_map(|s| s.containers.iter()) {
            let res = c.resources.as_ref();
            let req = res.and_then(|r| r.requests.as_ref());
            let lim = res.and_then(|r| r.limits.as_ref());
            if !req.is_some_and(|r| r.contains_key("cpu") && r.contains_key("memory")) {
                missing_requests.push(format!("{prefix}/{}", c.name));
            }
            if !lim.is_some_and(|l| l.contains_key("memory")) {
                missing_limits.push(format!("{prefix}/{}", c.name));
            }
        }
        Ok::<_, crate::Error>(())
    })
    .await?;
    let mut untargeted_workloads = Vec::new();
    if !node_taints.is_empty() {
        let deploys: Api<Deployment> = cluster.api_in(namespace);
        for d in paging::list_all(cluster, &deploys, ListParams::default()).await? {
            if !targets_nodes(d.spec.spec().and_then(|s| s.template.spec.as_ref())) {
                untargeted_workloads.push(format!(
                    "Deployment {}/{}",
                    d.metadata.namespace.unwrap_or_default(),
                    d.metadata.name.unwrap_or_default()
                ));
            }
        }
        let sts: Api<StatefulSet> = cluster.api_in(namespace);
        for s in paging::list_all(cluster, &sts, ListParams::default()).await? {
            if !targets_nodes(s.spec.spec().and_then(|s| s.template.spec.as_ref())) {
                untargeted_workloads.push(format!(
                    "StatefulSet {}/{}",
                    s.metadata.namespace.unwrap_or_default(),
                    s.metadata.name.unwrap_or_default()
                ));
            }
        }
    }
    missing_requests.sort();
    missing_limits.sort();
    untargeted_workloads.sort();
    Ok(OptimisationReport { missing_requests, missing_limits, untargeted_workloads, node_taints })
}
