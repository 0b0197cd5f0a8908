//! Capacity: allocated requests and limits per node (the numbers of `kubectl
//! describe node`'s "Allocated resources"), totals per node group, headroom
//! ("how many more pods of 500m / 512Mi fit, and where"), over-committed
//! nodes, and pods requesting far more than they use. Pods are streamed page
//! by page; memory grows with the number of nodes, not pods.

use std::{collections::BTreeMap, fmt};

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8sops_core::{object_status, paging, Cluster, FieldSelector, PodResources, Quantity, ResourceList, Table};
use kube::{api::ListParams, Api};
use serde::Serialize;

use crate::{top::for_each_pod_usage, Result};

/// Options for [`capacity_report`].
///
/// ```
/// use k8sops_metrics::CapacityParams;
/// // Headroom for pods of 1 CPU / 2Gi, without asking metrics.k8s.io for usage.
/// let params = CapacityParams {
///     headroom_pod: ("1".parse().unwrap(), "2Gi".parse().unwrap()),
///     usage: false,
///     ..Default::default()
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityParams {
    /// The pod shape for headroom (default 500m CPU, 512Mi memory).
    pub headroom_pod: (Quantity, Quantity),
    /// Compare requests with usage from metrics.k8s.io when it is served (default true).
    pub usage: bool,
    /// A pod is reported as over-requesting when its CPU or memory request is
    /// at least this many times its usage (default 4) ...
    pub waste_factor: i64,
    /// ... and the difference is at least this much CPU (default 200m) or memory (default 256Mi).
    pub waste_floor: (Quantity, Quantity),
}

impl Default for CapacityParams {
    fn default() -> Self {
        CapacityParams {
            headroom_pod: (Quantity::from_millis(500), Quantity::from_bytes(512 << 20)),
            usage: true,
            waste_factor: 4,
            waste_floor: (Quantity::from_millis(200), Quantity::from_bytes(256 << 20)),
        }
    }
}

/// One node's allocation.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = k8sops_metrics::capacity_report(&cluster, &Default::default()).await?;
/// for n in &report.nodes {
///     println!("{}: cpu requests {}%, memory limits {}%", n.name, n.requests_percent("cpu"), n.limits_percent("memory"));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeCapacity {
    /// Node name.
    pub name: String,
    /// Node group, from its labels.
    pub group: Option<String>,
    /// `status.allocatable`, or `status.capacity` when the node reports no
    /// allocatable at all (as `kubectl describe node` does).
    pub allocatable: ResourceList,
    /// Sum of the requests of its non-terminated pods.
    pub requests: ResourceList,
    /// Sum of their limits.
    pub limits: ResourceList,
    /// Non-terminated pods on it.
    pub pods: i64,
    /// Ready, not cordoned and without NoSchedule/NoExecute taints.
    pub schedulable: bool,
}

impl NodeCapacity {
    /// Requests as a percentage of allocatable (kubectl's truncation).
    ///
    /// ```
    /// use k8sops_core::{Quantity, ResourceList};
    /// let q = |s: &str| s.parse::<Quantity>().unwrap();
    /// let node = k8sops_metrics::NodeCapacity {
    ///     name: "ip-10-0-0-5".into(),
    ///     group: Some("general".into()),
    ///     allocatable: ResourceList::new().with("cpu", q("2")).with("memory", q("4Gi")).with("pods", q("110")),
    ///     requests: ResourceList::new().with("cpu", q("950m")).with("memory", q("1Gi")),
    ///     limits: ResourceList::new().with("cpu", q("3")).with("memory", q("2Gi")),
    ///     pods: 6,
    ///     schedulable: true,
    /// };
    /// assert_eq!(node.requests_percent("cpu"), 47);
    /// ```
    pub fn requests_percent(&self, resource: &str) -> i64 {
        self.requests.percent_of(resource, &self.allocatable)
    }

    /// Limits as a percentage of allocatable.
    ///
    /// ```
    /// use k8sops_core::{Quantity, ResourceList};
    /// let q = |s: &str| s.parse::<Quantity>().unwrap();
    /// let node = k8sops_metrics::NodeCapacity {
    ///     name: "ip-10-0-0-5".into(),
    ///     group: Some("general".into()),
    ///     allocatable: ResourceList::new().with("cpu", q("2")).with("memory", q("4Gi")).with("pods", q("110")),
    ///     requests: ResourceList::new().with("cpu", q("950m")).with("memory", q("1Gi")),
    ///     limits: ResourceList::new().with("cpu", q("3")).with("memory", q("2Gi")),
    ///     pods: 6,
    ///     schedulable: true,
    /// };
    /// assert_eq!(node.limits_percent("cpu"), 150);
    /// assert_eq!(node.limits_percent("memory"), 50);
    /// ```
    pub fn limits_percent(&self, resource: &str) -> i64 {
        self.limits.percent_of(resource, &self.allocatable)
    }

    /// Resources whose limits exceed allocatable.
    ///
    /// ```
    /// use k8sops_core::{Quantity, ResourceList};
    /// let q = |s: &str| s.parse::<Quantity>().unwrap();
    /// let node = k8sops_metrics::NodeCapacity {
    ///     name: "ip-10-0-0-5".into(),
    ///     group: Some("general".into()),
    ///     allocatable: ResourceList::new().with("cpu", q("2")).with("memory", q("4Gi")).with("pods", q("110")),
    ///     requests: ResourceList::new().with("cpu", q("950m")).with("memory", q("1Gi")),
    ///     limits: ResourceList::new().with("cpu", q("3")).with("memory", q("2Gi")),
    ///     pods: 6,
    ///     schedulable: true,
    /// };
    /// assert_eq!(node.overcommitted(), ["cpu"]);
    /// ```
    pub fn overcommitted(&self) -> Vec<String> {
        ["cpu", "memory"]
            .iter()
            .filter(|r| self.limits.get(r) > self.allocatable.get(r))
            .map(|r| r.to_string())
            .collect()
    }

    /// How many more pods of `cpu`/`memory` fit by requests, within the
    /// node's pod slots (0 when not schedulable).
    ///
    /// ```
    /// use k8sops_core::{Quantity, ResourceList};
    /// let q = |s: &str| s.parse::<Quantity>().unwrap();
    /// let node = k8sops_metrics::NodeCapacity {
    ///     name: "ip-10-0-0-5".into(),
    ///     group: Some("general".into()),
    ///     allocatable: ResourceList::new().with("cpu", q("2")).with("memory", q("4Gi")).with("pods", q("110")),
    ///     requests: ResourceList::new().with("cpu", q("950m")).with("memory", q("1Gi")),
    ///     limits: ResourceList::new().with("cpu", q("3")).with("memory", q("2Gi")),
    ///     pods: 6,
    ///     schedulable: true,
    /// };
    /// // 1050m CPU and 3Gi memory are free: two pods of 500m / 512Mi fit by CPU.
    /// assert_eq!(node.fits(q("500m"), q("512Mi")), 2);
    /// assert_eq!(node.fits(q("100m"), q("1Gi")), 3);
    /// ```
    pub fn fits(&self, cpu: Quantity, memory: Quantity) -> i64 {
        if !self.schedulable {
            return 0;
        }
        let free = |r: &str| self.allocatable.get(r) - self.requests.get(r);
        let by_cpu = free("cpu").fits(cpu).unwrap_or(i64::MAX);
        let by_mem = free("memory").fits(memory).unwrap_or(i64::MAX);
        let slots = (self.allocatable.get("pods").value() - self.pods).max(0);
        by_cpu.min(by_mem).min(slots).max(0)
    }
}

/// Totals of a node group.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = k8sops_metrics::capacity_report(&cluster, &Default::default()).await?;
/// let system = report.groups.iter().find(|g| g.name == "system").unwrap();
/// assert_eq!(system.nodes, 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupCapacity {
    /// Group name (`<none>` for nodes without a group label).
    pub name: String,
    /// Nodes in it.
    pub nodes: usize,
    /// Summed allocatable.
    pub allocatable: ResourceList,
    /// Summed requests.
    pub requests: ResourceList,
    /// Summed limits.
    pub limits: ResourceList,
}

/// A pod whose requests are far above its usage.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = k8sops_metrics::capacity_report(&cluster, &Default::default()).await?;
/// for o in &report.over_requesting {
///     println!("{} requests {} CPU and uses {}", o.pod, o.cpu.0, o.cpu.1);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverRequest {
    /// `namespace/name`.
    pub pod: String,
    /// CPU requested / used.
    pub cpu: (Quantity, Quantity),
    /// Memory requested / used.
    pub memory: (Quantity, Quantity),
}

/// The result of [`capacity_report`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = k8sops_metrics::capacity_report(&cluster, &Default::default()).await?;
/// assert_eq!(report.nodes.len(), 7);
/// println!("{}", serde_json::to_string(&report)?); // or print the tables: println!("{report}")
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapacityReport {
    /// Every node, by name.
    pub nodes: Vec<NodeCapacity>,
    /// Totals per node group.
    pub groups: Vec<GroupCapacity>,
    /// The pod shape headroom was computed for.
    pub headroom_pod: (Quantity, Quantity),
    /// How many such pods fit on each node that has room, most first.
    pub headroom: Vec<(String, i64)>,
    /// Pods requesting far more than they use (empty when usage is unknown).
    pub over_requesting: Vec<OverRequest>,
    /// Whether requests were compared with usage from metrics.k8s.io.
    pub usage: UsageComparison,
}

/// Whether [`capacity_report`] compared requests with usage, and if not, why.
///
/// ```
/// use k8sops_metrics::UsageComparison;
/// let missing = UsageComparison::Unavailable { reason: "metrics.k8s.io is not available".into() };
/// assert_ne!(missing, UsageComparison::Compared);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum UsageComparison {
    /// Usage was read and compared.
    Compared,
    /// [`CapacityParams::usage`] was off.
    NotRequested,
    /// The metrics API is missing or kept failing; the report has no usage.
    Unavailable {
        /// The metrics API's error.
        reason: String,
    },
}

impl CapacityReport {
    /// Whether usage from metrics.k8s.io was compared with requests.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::builder().metrics_api(false).start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let report = k8sops_metrics::capacity_report(&server.cluster(), &Default::default()).await?;
    /// assert!(!report.usage_known());
    /// # Ok(()) }
    /// ```
    pub fn usage_known(&self) -> bool {
        self.usage == UsageComparison::Compared
    }

    /// Total pods of the headroom shape that fit.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let report = k8sops_metrics::capacity_report(&server.cluster(), &Default::default()).await?;
    /// assert_eq!(report.headroom_total(), report.headroom.iter().map(|(_, n)| n).sum::<i64>());
    /// # Ok(()) }
    /// ```
    pub fn headroom_total(&self) -> i64 {
        self.headroom.iter().map(|(_, n)| n).sum()
    }

    /// Nodes whose limits exceed allocatable, with the resources.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let report = k8sops_metrics::capacity_report(&server.cluster(), &Default::default()).await?;
    /// for (node, resources) in report.overcommitted() {
    ///     println!("{node}: limits above allocatable for {}", resources.join(", "));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn overcommitted(&self) -> Vec<(&str, Vec<String>)> {
        self.nodes.iter().map(|n| (n.name.as_str(), n.overcommitted())).filter(|(_, r)| !r.is_empty()).collect()
    }
}

impl fmt::Display for CapacityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |a: &ResourceList, b: &ResourceList, r: &str| format!("{} ({}%)", a.get(r), a.percent_of(r, b));
        let mut t = Table::new([
            "node group",
            "nodes",
            "cpu allocatable",
            "cpu requests",
            "cpu limits",
            "memory allocatable",
            "memory requests",
            "memory limits",
        ]);
        for g in &self.groups {
            t.row([
                g.name.clone(),
                g.nodes.to_string(),
                g.allocatable.get("cpu").to_string(),
                pct(&g.requests, &g.allocatable, "cpu"),
                pct(&g.limits, &g.allocatable, "cpu"),
                g.allocatable.get("memory").to_string(),
                pct(&g.requests, &g.allocatable, "memory"),
                pct(&g.limits, &g.allocatable, "memory"),
            ]);
        }
        write!(f, "{t}")?;
        writeln!(
            f,
            "\nHeadroom: {} more pods of {} CPU / {} memory fit on {} node(s)",
            self.headroom_total(),
            self.headroom_pod.0,
            self.headroom_pod.1,
            self.headroom.len()
        )?;
        let over = self.overcommitted();
        if !over.is_empty() {
            writeln!(f, "Over-committed (limits above allocatable):")?;
            for (n, r) in over {
                writeln!(f, "  {n}: {}", r.join(", "))?;
            }
        }
        if let UsageComparison::Unavailable { reason } = &self.usage {
            writeln!(f, "Usage vs requests: unknown, {reason}")?;
        }
        if self.usage_known() && !self.over_requesting.is_empty() {
            writeln!(f, "Pods requesting far more than they use:")?;
            let mut t = Table::new(["pod", "cpu requested", "cpu used", "memory requested", "memory used"]);
            for o in &self.over_requesting {
                t.row([
                    o.pod.clone(),
                    o.cpu.0.to_string(),
                    o.cpu.1.to_string(),
                    o.memory.0.to_string(),
                    o.memory.1.to_string(),
                ]);
            }
            write!(f, "{t}")?;
        }
        Ok(())
    }
}

/// Ready, not cordoned, and without NoSchedule/NoExecute taints, from the
/// node's typed fields (not from the STATUS word printed for it).
fn schedulable(node: &Node) -> bool {
    let ready = object_status::node_is_ready(node) && !object_status::node_is_unschedulable(node);
    let tainted = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| t.iter().any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute"));
    ready && !tainted
}

/// What percentages and headroom are taken of: `status.allocatable`, or the
/// capacity when the node reports no allocatable (kubectl's describe node).
fn allocatable_or_capacity(
    node: &Node,
) -> std::result::Result<ResourceList, k8sops_core::quantity::ParseQuantityError> {
    let status = node.status.as_ref();
    match status.and_then(|s| s.allocatable.as_ref()).filter(|a| !a.is_empty()) {
        Some(a) => ResourceList::from_k8s(a),
        None => status
            .and_then(|s| s.capacity.as_ref())
            .map(ResourceList::from_k8s)
            .transpose()
            .map(Option::unwrap_or_default),
    }
}

/// Builds the capacity report: allocated resources of every node (as
/// `kubectl describe node` computes them), group totals, headroom,
/// over-commitment, and — when metrics.k8s.io is served and
/// `params.usage` — pods requesting far more than they use.
///
/// Pods and pod metrics are listed 500 per page and folded in as each page
/// arrives, so memory grows with the number of nodes (under 50 MiB peak at
/// 5,000 nodes and 165,000 pods, see `docs/benchmarks.md`). Transient
/// failures are retried with the cluster's [`RetryPolicy`](k8sops_core::RetryPolicy).
/// When the metrics API is missing or keeps failing the report is still
/// built, without usage: [`CapacityReport::usage`] says why.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops_metrics::capacity_report(&server.cluster(), &Default::default()).await?;
/// assert!(report.headroom_total() > 0);
/// println!("{report}");
/// # Ok(()) }
/// ```
pub async fn capacity_report(cluster: &Cluster, params: &CapacityParams) -> Result<CapacityReport> {
    let nodes_api: Api<Node> = cluster.api_all();
    let mut nodes: BTreeMap<String, NodeCapacity> = BTreeMap::new();
    paging::for_each(cluster, &nodes_api, ListParams::default(), |n: Node| {
        let alloc = allocatable_or_capacity(&n).map_err(k8sops_core::Error::from)?;
        let name = n.metadata.name.clone().unwrap_or_default();
        let node = NodeCapacity {
            name: name.clone(),
            group: object_status::node_group(&n),
            allocatable: alloc,
            requests: ResourceList::new(),
            limits: ResourceList::new(),
            pods: 0,
            schedulable: schedulable(&n),
        };
        nodes.insert(name, node);
        Ok::<_, crate::Error>(())
    })
    .await?;
    // Requests per pod, kept only when usage will be compared.
    let mut pod_requests: BTreeMap<String, (Quantity, Quantity)> = BTreeMap::new();
    let pods_api: Api<Pod> = cluster.api_all();
    let fields = FieldSelector::new().ne("status.phase", "Succeeded").ne("status.phase", "Failed");
    let mut pages = std::pin::pin!(paging::pages(
        cluster,
        &pods_api,
        ListParams::default().fields(&fields.to_string()),
        paging::DEFAULT_PAGE_SIZE
    ));
    while let Some(page) = pages.try_next().await? {
        for p in page {
            let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.as_ref()).and_then(|n| nodes.get_mut(n)) else {
                continue;
            };
            let r = PodResources::of(&p).map_err(k8sops_core::Error::from)?;
            node.requests += &r.requests;
            node.limits += &r.limits;
            node.pods += 1;
            // Only a pod whose request is at least the floor can be reported as
            // over-requesting; only those are kept (a few dozen bytes each).
            let (cpu_req, mem_req) = (r.requests.get("cpu"), r.requests.get("memory"));
            if params.usage && (cpu_req >= params.waste_floor.0 || mem_req >= params.waste_floor.1) {
                pod_requests.insert(object_status::namespaced_name(&p.metadata), (cpu_req, mem_req));
            }
        }
    }
    let mut over_requesting = Vec::new();
    let mut usage = UsageComparison::NotRequested;
    if params.usage {
        let found = for_each_pod_usage(cluster, |pod, cpu_used, mem_used| {
            let Some((cpu_req, mem_req)) = pod_requests.get(&pod) else { return };
            let wasteful = |req: Quantity, used: Quantity, floor: Quantity| {
                req.checked_sub(used).is_some_and(|d| d >= floor)
                    && used.checked_mul(params.waste_factor).is_some_and(|u| req >= u)
            };
            if wasteful(*cpu_req, cpu_used, params.waste_floor.0) || wasteful(*mem_req, mem_used, params.waste_floor.1)
            {
                over_requesting.push(OverRequest { pod, cpu: (*cpu_req, cpu_used), memory: (*mem_req, mem_used) });
            }
        })
        .await;
        usage = match found {
            Ok(()) => UsageComparison::Compared,
            // The allocation part stands on its own: report it, and say why usage is missing.
            Err(e @ crate::Error::MetricsUnavailable { .. }) => {
                over_requesting.clear();
                UsageComparison::Unavailable { reason: e.to_string() }
            }
            Err(e) => return Err(e),
        };
    }
    let mut groups: BTreeMap<String, GroupCapacity> = BTreeMap::new();
    for n in nodes.values() {
        let name = n.group.clone().unwrap_or_else(|| "<none>".into());
        let g = groups.entry(name.clone()).or_insert_with(|| GroupCapacity {
            name,
            nodes: 0,
            allocatable: ResourceList::new(),
            requests: ResourceList::new(),
            limits: ResourceList::new(),
        });
        g.nodes += 1;
        g.allocatable += &n.allocatable;
        g.requests += &n.requests;
        g.limits += &n.limits;
    }
    let (cpu, mem) = params.headroom_pod;
    let mut headroom: Vec<(String, i64)> =
        nodes.values().map(|n| (n.name.clone(), n.fits(cpu, mem))).filter(|(_, k)| *k > 0).collect();
    headroom.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(CapacityReport {
        nodes: nodes.into_values().collect(),
        groups: groups.into_values().collect(),
        headroom_pod: params.headroom_pod,
        headroom,
        over_requesting,
        usage,
    })
}
