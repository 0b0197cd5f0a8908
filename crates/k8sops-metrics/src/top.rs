//! `kubectl top nodes` and `kubectl top pods` from `metrics.k8s.io`, with the
//! percentages of allocatable kubectl prints, and a check of metrics-server.

use std::{collections::BTreeMap, fmt};

use futures::TryStreamExt;
use k8s_openapi::{
    api::{apps::v1::Deployment, core::v1::Node},
    apimachinery::pkg::{
        api::resource::Quantity as K8sQuantity,
        apis::meta::v1::{ObjectMeta, Time},
    },
    jiff::Timestamp,
    kube_aggregator::pkg::apis::apiregistration::v1::APIService,
};
use k8sops_core::{object_status::SpecField, paging, Cluster, LabelSelector, Quantity, ResourceList, Table};
use kube::{api::ListParams, Api};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// `metrics.k8s.io/v1beta1` NodeMetrics: the fields `kubectl top nodes` reads.
#[derive(Clone, Debug, Deserialize)]
struct NodeMetrics {
    metadata: ObjectMeta,
    #[serde(default)]
    timestamp: Option<Time>,
    #[serde(default)]
    usage: BTreeMap<String, K8sQuantity>,
}

/// `metrics.k8s.io/v1beta1` PodMetrics: the fields `kubectl top pods` reads.
#[derive(Clone, Debug, Deserialize)]
struct PodMetrics {
    metadata: ObjectMeta,
    #[serde(default)]
    containers: Vec<ContainerMetrics>,
}

/// One container of a [`PodMetrics`].
#[derive(Clone, Debug, Deserialize)]
struct ContainerMetrics {
    name: String,
    #[serde(default)]
    usage: BTreeMap<String, K8sQuantity>,
}

impl k8s_openapi::Resource for NodeMetrics {
    const API_VERSION: &'static str = "metrics.k8s.io/v1beta1";
    const GROUP: &'static str = "metrics.k8s.io";
    const KIND: &'static str = "NodeMetrics";
    const VERSION: &'static str = "v1beta1";
    const URL_PATH_SEGMENT: &'static str = "nodes";
    type Scope = k8s_openapi::ClusterResourceScope;
}

impl k8s_openapi::Metadata for NodeMetrics {
    type Ty = ObjectMeta;
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl k8s_openapi::Resource for PodMetrics {
    const API_VERSION: &'static str = "metrics.k8s.io/v1beta1";
    const GROUP: &'static str = "metrics.k8s.io";
    const KIND: &'static str = "PodMetrics";
    const VERSION: &'static str = "v1beta1";
    const URL_PATH_SEGMENT: &'static str = "pods";
    type Scope = k8s_openapi::NamespaceResourceScope;
}

impl k8s_openapi::Metadata for PodMetrics {
    type Ty = ObjectMeta;
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// A usage value, `None` when the metrics object does not report it.
fn usage(usage: &BTreeMap<String, K8sQuantity>, resource: &str) -> Result<Option<Quantity>> {
    usage.get(resource).map(|q| Quantity::try_from(q).map_err(|e| Error::Core(e.into()))).transpose()
}

/// The CPU and memory use of one container; an error naming what is missing
/// when metrics-server did not report one (never a made-up zero).
fn container_usage(pod: &ObjectMeta, c: &ContainerMetrics) -> Result<(Quantity, Quantity)> {
    let need = |resource: &str| {
        usage(&c.usage, resource)?.ok_or_else(|| Error::IncompleteMetrics {
            object: format!(
                "{}/{} container {}",
                pod.namespace.as_deref().unwrap_or(""),
                pod.name.as_deref().unwrap_or(""),
                c.name
            ),
            resource: resource.to_string(),
        })
    };
    Ok((need("cpu")?, need("memory")?))
}

/// How to order rows (`--sort-by`); both sort descending, like kubectl.
///
/// ```
/// let params = k8sops_metrics::TopPodsParams { sort: k8sops_metrics::SortBy::Memory, ..Default::default() };
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum SortBy {
    /// By name (the metrics API's order).
    #[default]
    Name,
    /// By CPU usage, highest first.
    Cpu,
    /// By memory usage, highest first.
    Memory,
}

/// One node's usage.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let top = k8sops_metrics::top_nodes(&cluster, None, k8sops_metrics::SortBy::Cpu).await?;
/// let busiest = &top.nodes[0];
/// println!("{} uses {} CPU ({:?}%)", busiest.name, busiest.cpu, busiest.cpu_percent());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeUsage {
    /// Node name.
    pub name: String,
    /// CPU in use.
    pub cpu: Quantity,
    /// Memory in use.
    pub memory: Quantity,
    /// Allocatable CPU (`None` when the node object is gone).
    pub allocatable_cpu: Option<Quantity>,
    /// Allocatable memory.
    pub allocatable_memory: Option<Quantity>,
    /// When the sample was taken.
    pub timestamp: Option<Timestamp>,
}

impl NodeUsage {
    /// CPU% as kubectl computes it (milli-values, truncated).
    ///
    /// ```
    /// let q = |s: &str| s.parse::<k8sops_core::Quantity>().unwrap();
    /// let usage = k8sops_metrics::NodeUsage {
    ///     name: "ip-10-0-0-5".into(),
    ///     cpu: q("250m"),
    ///     memory: q("1Gi"),
    ///     allocatable_cpu: Some(q("1930m")),
    ///     allocatable_memory: Some(q("7220Mi")),
    ///     timestamp: None,
    /// };
    /// assert_eq!(usage.cpu_percent(), Some(12));
    /// ```
    pub fn cpu_percent(&self) -> Option<i64> {
        self.allocatable_cpu.map(|a| self.cpu.percent_of(a))
    }

    /// MEMORY% as kubectl computes it.
    ///
    /// ```
    /// let q = |s: &str| s.parse::<k8sops_core::Quantity>().unwrap();
    /// let usage = k8sops_metrics::NodeUsage {
    ///     name: "ip-10-0-0-5".into(),
    ///     cpu: q("250m"),
    ///     memory: q("1Gi"),
    ///     allocatable_cpu: Some(q("1930m")),
    ///     allocatable_memory: Some(q("7220Mi")),
    ///     timestamp: None,
    /// };
    /// assert_eq!(usage.memory_percent(), Some(14));
    /// ```
    pub fn memory_percent(&self) -> Option<i64> {
        self.allocatable_memory.map(|a| self.memory.percent_of(a))
    }
}

fn cpu_column(q: Quantity) -> String {
    format!("{}m", q.millis())
}

fn memory_column(q: Quantity) -> String {
    format!("{}Mi", q.value() / (1024 * 1024))
}

/// The result of [`top_nodes`]; prints like `kubectl top nodes`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let top = k8sops_metrics::top_nodes(&cluster, None, k8sops_metrics::SortBy::Name).await?;
/// assert!(top.missing.is_empty());
/// print!("{top}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopNodes {
    /// Nodes with metrics, in the requested order.
    pub nodes: Vec<NodeUsage>,
    /// Nodes that exist but have no metrics yet, or whose metrics lack CPU or
    /// memory usage (kubectl prints `<unknown>`).
    pub missing: Vec<String>,
}

impl fmt::Display for TopNodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The headers of kubectl 1.32 and later.
        let mut t = Table::verbatim(["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]);
        let pct = |p: Option<i64>| p.map(|p| format!("{p}%")).unwrap_or_else(|| "<unknown>".into());
        for n in &self.nodes {
            t.row([
                n.name.clone(),
                cpu_column(n.cpu),
                pct(n.cpu_percent()),
                memory_column(n.memory),
                pct(n.memory_percent()),
            ]);
        }
        for m in &self.missing {
            t.row([m.as_str(), "<unknown>", "<unknown>", "<unknown>", "<unknown>"]);
        }
        write!(f, "{t}")
    }
}

/// Whether the metrics API is served; a typed error that says how to fix it when not.
async fn ensure_metrics_api(cluster: &Cluster) -> Result<()> {
    let groups = cluster
        .retry_policy()
        .run(|_| async { cluster.client().list_api_groups().await.map_err(|e| cluster.map_err(e, "/apis")) })
        .await?;
    if groups.groups.iter().any(|g| g.name == "metrics.k8s.io") {
        Ok(())
    } else {
        Err(Error::MetricsUnavailable { reason: "the API group is not registered".into() })
    }
}

/// A failure of a metrics.k8s.io request, after retries. A 404, or a 503
/// that outlasted the retries (the aggregator's answer when metrics-server
/// is down), means the API is not available; anything else stays a cluster
/// error.
fn metrics_err(e: k8sops_core::Error) -> Error {
    match e {
        k8sops_core::Error::NotFound { what, .. } => Error::MetricsUnavailable { reason: format!("404 for {what}") },
        k8sops_core::Error::Api { code: 503, message, .. } => {
            Error::MetricsUnavailable { reason: format!("503 from the API server: {message}") }
        }
        e => Error::Core(e),
    }
}

/// `kubectl top nodes`: usage per node with percentages of allocatable.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let top = k8sops_metrics::top_nodes(&server.cluster(), None, k8sops_metrics::SortBy::Cpu).await?;
/// assert_eq!(top.nodes.len(), 7);
/// println!("{top}");
/// # Ok(()) }
/// ```
pub async fn top_nodes(cluster: &Cluster, selector: Option<&LabelSelector>, sort: SortBy) -> Result<TopNodes> {
    ensure_metrics_api(cluster).await?;
    let mut lp = ListParams::default();
    if let Some(s) = selector {
        lp = lp.labels(&s.to_string());
    }
    let api: Api<NodeMetrics> = cluster.api_all();
    // metrics-server serves the whole list at once (kubectl top does not paginate either).
    let metrics = cluster
        .retry_policy()
        .run(|_| async { api.list(&lp).await.map_err(|e| cluster.map_err(e, "metrics.k8s.io nodes")) })
        .await
        .map_err(metrics_err)?;
    let nodes_api: Api<Node> = cluster.api_all();
    let mut alloc: BTreeMap<String, ResourceList> = BTreeMap::new();
    paging::for_each(cluster, &nodes_api, lp.clone(), |n: Node| {
        let a = n.status.as_ref().and_then(|s| s.allocatable.as_ref()).map(ResourceList::from_k8s).transpose();
        alloc.insert(n.metadata.name.unwrap_or_default(), a.map_err(k8sops_core::Error::from)?.unwrap_or_default());
        Ok::<_, Error>(())
    })
    .await?;
    let mut out = Vec::new();
    let mut incomplete = std::collections::BTreeSet::new();
    for m in metrics.items {
        let name = m.metadata.name.clone().unwrap_or_default();
        let (Some(cpu), Some(memory)) = (usage(&m.usage, "cpu")?, usage(&m.usage, "memory")?) else {
            // Usage not reported: unknown, not zero.
            incomplete.insert(name);
            continue;
        };
        let a = alloc.get(&name);
        out.push(NodeUsage {
            cpu,
            memory,
            allocatable_cpu: a.filter(|a| a.contains("cpu")).map(|a| a.get("cpu")),
            allocatable_memory: a.filter(|a| a.contains("memory")).map(|a| a.get("memory")),
            timestamp: m.timestamp.map(|t| t.0),
            name,
        });
    }
    let with: std::collections::BTreeSet<&str> = out.iter().map(|n| n.name.as_str()).collect();
    let mut missing: Vec<String> = alloc.keys().filter(|n| !with.contains(n.as_str())).cloned().collect();
    for n in incomplete {
        if !missing.contains(&n) {
            missing.push(n);
        }
    }
    missing.sort();
    match sort {
        SortBy::Name => out.sort_by(|a, b| a.name.cmp(&b.name)),
        SortBy::Cpu => out.sort_by(|a, b| b.cpu.cmp(&a.cpu).then(a.name.cmp(&b.name))),
        SortBy::Memory => out.sort_by(|a, b| b.memory.cmp(&a.memory).then(a.name.cmp(&b.name))),
    }
    Ok(TopNodes { nodes: out, missing })
}

/// One container's usage.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let params = k8sops_metrics::TopPodsParams { containers: true, ..Default::default() };
/// let top = k8sops_metrics::top_pods(&cluster, &params).await?;
/// for c in &top.pods[0].containers {
///     println!("{}: {} CPU, {} memory", c.name, c.cpu, c.memory);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerUsage {
    /// Container name.
    pub name: String,
    /// CPU in use.
    pub cpu: Quantity,
    /// Memory in use.
    pub memory: Quantity,
}

/// One pod's usage (the sum of its containers).
///
/// With `--containers`, its containers are listed as kubectl lists them: by
/// name, or by the usage [`TopPodsParams::sort`] names, highest first.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let top = k8sops_metrics::top_pods(&cluster, &Default::default()).await?;
/// let p = &top.pods[0];
/// assert_eq!(p.cpu, p.containers.iter().map(|c| c.cpu).sum());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodUsage {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// CPU in use.
    pub cpu: Quantity,
    /// Memory in use.
    pub memory: Quantity,
    /// Per container, in the requested order.
    pub containers: Vec<ContainerUsage>,
}

/// Options for [`top_pods`].
///
/// ```
/// // kubectl top pods -n shop -l app=web --containers --sort-by=cpu
/// let params = k8sops_metrics::TopPodsParams {
///     namespace: Some("shop".into()),
///     selector: Some("app=web".parse().unwrap()),
///     sort: k8sops_metrics::SortBy::Cpu,
///     containers: true,
/// };
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopPodsParams {
    /// One namespace, or all (`-A`) when `None`.
    pub namespace: Option<String>,
    /// `-l`.
    pub selector: Option<LabelSelector>,
    /// `--sort-by`.
    pub sort: SortBy,
    /// `--containers`: print one row per container.
    pub containers: bool,
}

/// The result of [`top_pods`]; prints like `kubectl top pods`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let top = k8sops_metrics::top_pods(&cluster, &Default::default()).await?;
/// assert!(top.all_namespaces);
/// print!("{top}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopPods {
    /// Pods in the requested order.
    pub pods: Vec<PodUsage>,
    /// Whether all namespaces were listed (adds the NAMESPACE column).
    pub all_namespaces: bool,
    /// Whether rows are per container.
    pub per_container: bool,
}

impl fmt::Display for TopPods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut headers: Vec<&str> = Vec::new();
        if self.all_namespaces {
            headers.push("NAMESPACE");
        }
        if self.per_container {
            headers.extend(["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]);
        } else {
            headers.extend(["NAME", "CPU(cores)", "MEMORY(bytes)"]);
        }
        let mut t = Table::verbatim(headers);
        for p in &self.pods {
            let ns = self.all_namespaces.then(|| p.namespace.clone());
            if self.per_container {
                for c in &p.containers {
                    t.row(ns.clone().into_iter().chain([
                        p.name.clone(),
                        c.name.clone(),
                        cpu_column(c.cpu),
                        memory_column(c.memory),
                    ]));
                }
            } else {
                t.row(ns.into_iter().chain([p.name.clone(), cpu_column(p.cpu), memory_column(p.memory)]));
            }
        }
        write!(f, "{t}")
    }
}

/// `kubectl top pods`: usage per pod, optionally per container. A container
/// whose metrics lack CPU or memory usage is an
/// [`Error::IncompleteMetrics`], not a zero.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let params = k8sops_metrics::TopPodsParams { namespace: Some("shop".into()), ..Default::default() };
/// let top = k8sops_metrics::top_pods(&server.cluster(), &params).await?;
/// assert!(top.pods.iter().all(|p| p.namespace == "shop"));
/// # Ok(()) }
/// ```
pub async fn top_pods(cluster: &Cluster, params: &TopPodsParams) -> Result<TopPods> {
    ensure_metrics_api(cluster).await?;
    let mut lp = ListParams::default();
    if let Some(s) = &params.selector {
        lp = lp.labels(&s.to_string());
    }
    let api: Api<PodMetrics> = cluster.api_in(params.namespace.as_deref());
    let mut pods = Vec::new();
    let mut pages = std::pin::pin!(paging::pages(cluster, &api, lp, paging::DEFAULT_PAGE_SIZE));
    loop {
        let Some(page) = pages.try_next().await.map_err(metrics_err)? else { break };
        for m in page {
            let mut containers = Vec::new();
            for c in &m.containers {
                let (cpu, memory) = container_usage(&m.metadata, c)?;
                containers.push(ContainerUsage { name: c.name.clone(), cpu, memory });
            }
            // kubectl's ContainerMetricsSorter.
            match params.sort {
                SortBy::Name => containers.sort_by(|a, b| a.name.cmp(&b.name)),
                SortBy::Cpu => containers.sort_by(|a, b| b.cpu.cmp(&a.cpu).then(a.name.cmp(&b.name))),
                SortBy::Memory => containers.sort_by(|a, b| b.memory.cmp(&a.memory).then(a.name.cmp(&b.name))),
            }
            pods.push(PodUsage {
                namespace: m.metadata.namespace.clone().unwrap_or_default(),
                name: m.metadata.name.clone().unwrap_or_default(),
                cpu: containers.iter().map(|c| c.cpu).sum(),
                memory: containers.iter().map(|c| c.memory).sum(),
                containers,
            });
        }
    }
    match params.sort {
        SortBy::Name => pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name))),
        SortBy::Cpu => {
            pods.sort_by(|a, b| b.cpu.cmp(&a.cpu).then((&a.namespace, &a.name).cmp(&(&b.namespace, &b.name))))
        }
        SortBy::Memory => {
            pods.sort_by(|a, b| b.memory.cmp(&a.memory).then((&a.namespace, &a.name).cmp(&(&b.namespace, &b.name))))
        }
    }
    Ok(TopPods { pods, all_namespaces: params.namespace.is_none(), per_container: params.containers })
}

/// What [`metrics_server_status`] found.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let status = k8sops_metrics::metrics_server_status(&cluster).await?;
/// assert_eq!(status.deployment, Some((1, 1)));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricsServerStatus {
    /// Whether the APIService `v1beta1.metrics.k8s.io` exists.
    pub api_service_exists: bool,
    /// Its `Available` condition (`True`, `False`, `Unknown`) and message.
    pub available: Option<(String, String)>,
    /// Ready / desired replicas of the `metrics-server` Deployment in kube-system, if found.
    pub deployment: Option<(i32, i32)>,
}

impl MetricsServerStatus {
    /// Whether `kubectl top` would work: the APIService is Available.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let status = k8sops_metrics::metrics_server_status(&server.cluster()).await?;
    /// assert!(status.is_healthy());
    /// # Ok(()) }
    /// ```
    pub fn is_healthy(&self) -> bool {
        self.available.as_ref().is_some_and(|(s, _)| s == "True")
    }

    /// What to do about it, if anything.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let status = k8sops_metrics::metrics_server_status(&server.cluster()).await?;
    /// if let Some(advice) = status.advice() {
    ///     eprintln!("metrics-server: {advice}");
    /// }
    /// # assert!(status.advice().is_none());
    /// # Ok(()) }
    /// ```
    pub fn advice(&self) -> Option<String> {
        if !self.api_service_exists {
            return Some("metrics-server is not installed: apply its components.yaml".into());
        }
        match &self.available {
            Some((s, _)) if s == "True" => None,
            Some((_, m)) => {
                Some(format!("the metrics APIService is not Available ({m}): check the metrics-server pods and logs"))
            }
            None => Some("the metrics APIService has no Available condition yet".into()),
        }
    }
}

impl fmt::Display for MetricsServerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.available {
            Some((s, m)) => writeln!(f, "APIService v1beta1.metrics.k8s.io: Available={s} {m}")?,
            None if self.api_service_exists => {
                writeln!(f, "APIService v1beta1.metrics.k8s.io: no Available condition")?
            }
            None => writeln!(f, "APIService v1beta1.metrics.k8s.io: not found")?,
        }
        match self.deployment {
            Some((ready, desired)) => writeln!(f, "Deployment kube-system/metrics-server: {ready}/{desired} ready")?,
            None => writeln!(f, "Deployment kube-system/metrics-server: not found")?,
        }
        if let Some(a) = self.advice() {
            writeln!(f, "{a}")?;
        }
        Ok(())
    }
}

/// Checks the metrics APIService and the metrics-server Deployment
/// (`kubectl get apiservice v1beta1.metrics.k8s.io`, `kubectl get pods -n kube-system -l k8s-app=metrics-server`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let status = k8sops_metrics::metrics_server_status(&server.cluster()).await?;
/// assert!(status.api_service_exists);
/// println!("{status}");
/// # Ok(()) }
/// ```
pub async fn metrics_server_status(cluster: &Cluster) -> Result<MetricsServerStatus> {
    let api: Api<APIService> = cluster.api_all();
    let svc = cluster
        .retry_policy()
        .run(|_| async {
            api.get_opt("v1beta1.metrics.k8s.io")
                .await
                .map_err(|e| cluster.map_err(e, "apiservice v1beta1.metrics.k8s.io"))
        })
        .await?;
    let available = svc.as_ref().and_then(|s| {
        let c = s.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Available")?;
        Some((c.status.clone(), c.message.clone().unwrap_or_default()))
    });
    let deploys: Api<Deployment> = cluster.api_namespaced("kube-system");
    let found = cluster
        .retry_policy()
        .run(|_| async {
            deploys
                .get_opt("metrics-server")
                .await
                .map_err(|e| cluster.map_err(e, "deployment kube-system/metrics-server"))
        })
        .await?;
    let deployment = found.as_ref().map(|d| {
        let desired = d.spec.spec().and_then(|s| s.replicas).unwrap_or(1);
        let ready = d.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
        (ready, desired)
    });
    Ok(MetricsServerStatus { api_service_exists: svc.is_some(), available, deployment })
}

/// Calls `each(namespace/name, cpu, memory)` with the usage of every pod,
/// page by page as the metrics list streams in. A pod whose metrics lack a
/// container's CPU or memory usage is skipped: its usage is unknown, not
/// zero. Fails with [`Error::MetricsUnavailable`] when the metrics API is not
/// served (possibly after some pages were seen).
pub(crate) async fn for_each_pod_usage(
    cluster: &Cluster,
    mut each: impl FnMut(String, Quantity, Quantity),
) -> Result<()> {
    ensure_metrics_api(cluster).await?;
    let api: Api<PodMetrics> = cluster.api_all();
    let mut pages = std::pin::pin!(paging::pages(cluster, &api, ListParams::default(), paging::DEFAULT_PAGE_SIZE));
    while let Some(page) = pages.try_next().await.map_err(metrics_err)? {
        'pod: for m in page {
            let mut cpu = Quantity::ZERO;
            let mut mem = Quantity::ZERO;
            for c in &m.containers {
                match container_usage(&m.metadata, c) {
                    Ok((c, m)) => {
                        cpu += c;
                        mem += m;
                    }
                    Err(Error::IncompleteMetrics { .. }) => continue 'pod,
                    Err(e) => return Err(e),
                }
            }
            each(k8sops_core::object_status::namespaced_name(&m.metadata), cpu, mem);
        }
    }
    Ok(())
}
