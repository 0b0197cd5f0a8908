//! Node status: every `kubectl get nodes -o wide` column, conditions, labels
//! and taints ([`list_nodes`]), and the `kubectl describe node` detail with
//! allocated requests and limits ([`describe_node`]).

use std::{collections::BTreeMap, fmt};

use futures::TryStreamExt;
use k8s_openapi::{
    api::core::v1::{Event, Node, Pod},
    jiff::Timestamp,
};
use k8sops_core::{
    age::age_since,
    describe::{events_section, DescribedEvent},
    object_status, paging, Cluster, FieldSelector, LabelSelector, PodResources, ResourceList, Table,
};
use kube::{api::ListParams, Api};
use serde::Serialize;

use crate::{Error, Result};

/// One node condition (`Ready`, `MemoryPressure`, `DiskPressure`, `PIDPressure`, `NetworkUnavailable`, ...).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let d = k8sops_nodes::describe_node(&cluster, "ip-10-0-0-8.ec2.internal").await?;
/// for c in d.status.conditions.iter().filter(|c| c.is_problem()) {
///     println!("{} is {}: {}", c.type_, c.status, c.message);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeCondition {
    /// Condition type.
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Machine-readable reason.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
    /// When the status last changed.
    pub last_transition: Option<Timestamp>,
}

impl NodeCondition {
    /// Whether this condition signals a problem: Ready not True, or a
    /// pressure/unavailable condition that is True.
    ///
    /// ```
    /// let c = k8sops_nodes::status::NodeCondition { type_: "DiskPressure".into(), status: "True".into(), reason: "".into(), message: "".into(), last_transition: None };
    /// assert!(c.is_problem());
    /// ```
    pub fn is_problem(&self) -> bool {
        if self.type_ == "Ready" {
            self.status != "True"
        } else {
            self.status == "True"
        }
    }
}

/// A taint as `kubectl describe node` prints it: `key=value:Effect`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let d = k8sops_nodes::describe_node(&cluster, "ip-10-0-0-3.ec2.internal").await?;
/// assert_eq!(d.status.taints[0].to_string(), "CriticalAddonsOnly=true:NoSchedule");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Value (may be empty).
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

impl fmt::Display for Taint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}:{}", self.key, self.effect)
        } else {
            write!(f, "{}={}:{}", self.key, self.value, self.effect)
        }
    }
}

/// Everything `kubectl get nodes -o wide` prints about a node, plus
/// conditions, labels, taints and the cloud identity.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let nodes = k8sops_nodes::list_nodes(&cluster, &Default::default()).await?;
/// let not_ready: Vec<_> = nodes.nodes.iter().filter(|n| !n.is_ready()).map(|n| n.name.as_str()).collect();
/// assert_eq!(not_ready, ["ip-10-0-0-8.ec2.internal"]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// Node name.
    pub name: String,
    /// STATUS: `Ready`, `NotReady`, `Unknown`, with `,SchedulingDisabled` when cordoned.
    pub status: String,
    /// ROLES (`<none>` when there are none).
    pub roles: String,
    /// When the node object was created.
    pub created: Option<Timestamp>,
    /// VERSION (kubelet).
    pub version: String,
    /// INTERNAL-IP (`<none>` when absent).
    pub internal_ip: String,
    /// EXTERNAL-IP (`<none>` when absent).
    pub external_ip: String,
    /// OS-IMAGE.
    pub os_image: String,
    /// KERNEL-VERSION.
    pub kernel_version: String,
    /// CONTAINER-RUNTIME.
    pub container_runtime: String,
    /// Whether the node is cordoned (`spec.unschedulable`).
    pub unschedulable: bool,
    /// All conditions.
    pub conditions: Vec<NodeCondition>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Taints.
    pub taints: Vec<Taint>,
    /// `spec.providerID`, e.g. `aws:///us-east-1a/i-0abc`.
    pub provider_id: Option<String>,
}

impl NodeStatus {
    /// Reads the columns from a Node object.
    ///
    /// ```
    /// let node: k8s_openapi::api::core::v1::Node = serde_json::from_value(serde_json::json!({
    ///     "metadata": {"name": "n1"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})).unwrap();
    /// let s = k8sops_nodes::NodeStatus::from_node(&node);
    /// assert_eq!((s.name.as_str(), s.status.as_str(), s.os_image.as_str()), ("n1", "Ready", "<unknown>"));
    /// ```
    pub fn from_node(node: &Node) -> Self {
        let status = node.status.as_ref();
        let info = status.and_then(|s| s.node_info.as_ref());
        let known = |v: Option<&String>| v.filter(|s| !s.is_empty()).cloned().unwrap_or_else(|| "<unknown>".into());
        NodeStatus {
            name: node.metadata.name.clone().unwrap_or_default(),
            status: object_status::node_status(node),
            roles: object_status::node_roles(node),
            created: node.metadata.creation_timestamp.as_ref().map(|t| t.0),
            version: info.map(|i| i.kubelet_version.clone()).unwrap_or_default(),
            internal_ip: object_status::node_address(node, "InternalIP"),
            external_ip: object_status::node_address(node, "ExternalIP"),
            os_image: known(info.map(|i| &i.os_image)),
            kernel_version: known(info.map(|i| &i.kernel_version)),
            container_runtime: known(info.map(|i| &i.container_runtime_version)),
            unschedulable: node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false),
            conditions: status
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .map(|c| NodeCondition {
                    type_: c.type_.clone(),
                    status: c.status.clone(),
                    reason: c.reason.clone().unwrap_or_default(),
                    message: c.message.clone().unwrap_or_default(),
                    last_transition: c.last_transition_time.as_ref().map(|t| t.0),
                })
                .collect(),
            labels: node.metadata.labels.clone().unwrap_or_default(),
            taints: node
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .into_iter()
                .flatten()
                .map(|t| Taint {
                    key: t.key.clone(),
                    value: t.value.clone().unwrap_or_default(),
                    effect: t.effect.clone(),
                })
                .collect(),
            provider_id: node.spec.as_ref().and_then(|s| s.provider_id.clone()),
        }
    }

    /// Whether the Ready condition is True.
    ///
    /// ```
    /// let node: k8s_openapi::api::core::v1::Node = serde_json::from_value(serde_json::json!({
    ///     "metadata": {"name": "n1", "creationTimestamp": "2026-11-01T00:00:00Z"},
    ///     "status": {"conditions": [
    ///         {"type": "Ready", "status": "True"},
    ///         {"type": "MemoryPressure", "status": "True", "reason": "KubeletHasInsufficientMemory"}]}})).unwrap();
    /// let s = k8sops_nodes::NodeStatus::from_node(&node);
    /// assert!(s.is_ready());
    /// ```
    pub fn is_ready(&self) -> bool {
        self.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")
    }

    /// Conditions that signal a problem.
    ///
    /// ```
    /// let node: k8s_openapi::api::core::v1::Node = serde_json::from_value(serde_json::json!({
    ///     "metadata": {"name": "n1", "creationTimestamp": "2026-11-01T00:00:00Z"},
    ///     "status": {"conditions": [
    ///         {"type": "Ready", "status": "True"},
    ///         {"type": "MemoryPressure", "status": "True", "reason": "KubeletHasInsufficientMemory"}]}})).unwrap();
    /// let s = k8sops_nodes::NodeStatus::from_node(&node);
    /// assert_eq!(s.problems().map(|c| c.type_.as_str()).collect::<Vec<_>>(), ["MemoryPressure"]);
    /// ```
    pub fn problems(&self) -> impl Iterator<Item = &NodeCondition> {
        self.conditions.iter().filter(|c| c.is_problem())
    }

    /// AGE as kubectl prints it, relative to `now`.
    ///
    /// ```
    /// let node: k8s_openapi::api::core::v1::Node = serde_json::from_value(serde_json::json!({
    ///     "metadata": {"name": "n1", "creationTimestamp": "2026-11-01T00:00:00Z"},
    ///     "status": {"conditions": [
    ///         {"type": "Ready", "status": "True"},
    ///         {"type": "MemoryPressure", "status": "True", "reason": "KubeletHasInsufficientMemory"}]}})).unwrap();
    /// let s = k8sops_nodes::NodeStatus::from_node(&node);
    /// assert_eq!(s.age("2026-11-26T12:00:00Z".parse().unwrap()), "25d");
    /// ```
    pub fn age(&self, now: Timestamp) -> String {
        age_since(self.created, now)
    }
}

/// Options for [`list_nodes`].
///
/// ```
/// use k8sops_core::LabelSelector;
/// // kubectl get nodes -l eks.amazonaws.com/nodegroup=general --chunk-size=100
/// let params = k8sops_nodes::NodeListParams {
///     page_size: Some(100),
///     ..Default::default()
/// }
/// .labels(LabelSelector::new().eq("eks.amazonaws.com/nodegroup", "general"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeListParams {
    /// Only nodes matching this label selector (`kubectl get nodes -l`).
    pub labels: Option<LabelSelector>,
    /// Only nodes matching this field selector (`metadata.name`, `spec.unschedulable`).
    pub fields: Option<FieldSelector>,
    /// Page size for the paginated list (default 500).
    pub page_size: Option<u32>,
}

impl NodeListParams {
    /// Filter by labels (`kubectl get nodes -l`).
    ///
    /// ```
    /// let spot = k8sops_core::LabelSelector::new().eq("eks.amazonaws.com/capacityType", "SPOT");
    /// let params = k8sops_nodes::NodeListParams::default().labels(spot);
    /// ```
    #[must_use]
    pub fn labels(mut self, selector: LabelSelector) -> Self {
        self.labels = Some(selector);
        self
    }

    /// Filter by fields (`kubectl get nodes --field-selector`).
    ///
    /// ```
    /// let one = k8sops_core::FieldSelector::new().eq("metadata.name", "ip-10-0-0-5.ec2.internal");
    /// let params = k8sops_nodes::NodeListParams::default().fields(one);
    /// ```
    #[must_use]
    pub fn fields(mut self, selector: FieldSelector) -> Self {
        self.fields = Some(selector);
        self
    }

    pub(crate) fn list_params(&self) -> ListParams {
        let mut lp = ListParams::default();
        if let Some(l) = &self.labels {
            lp = lp.labels(&l.to_string());
        }
        if let Some(f) = &self.fields {
            lp = lp.fields(&f.to_string());
        }
        lp
    }
}

/// The result of [`list_nodes`]; prints like `kubectl get nodes -o wide`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let nodes = k8sops_nodes::list_nodes(&cluster, &Default::default()).await?;
/// print!("{nodes}"); // the `kubectl get nodes` columns
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeList {
    /// The nodes, in name order.
    pub nodes: Vec<NodeStatus>,
}

impl NodeList {
    /// The `kubectl get nodes -o wide` table.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let nodes = k8sops_nodes::list_nodes(&server.cluster(), &Default::default()).await?;
    /// print!("{}", nodes.wide_table(k8s_openapi::jiff::Timestamp::now()));
    /// # Ok(()) }
    /// ```
    pub fn wide_table(&self, now: Timestamp) -> Table {
        let mut t = Table::new([
            "name",
            "status",
            "roles",
            "age",
            "version",
            "internal-ip",
            "external-ip",
            "os-image",
            "kernel-version",
            "container-runtime",
        ]);
        for n in &self.nodes {
            t.row([
                n.name.clone(),
                n.status.clone(),
                n.roles.clone(),
                n.age(now),
                n.version.clone(),
                n.internal_ip.clone(),
                n.external_ip.clone(),
                n.os_image.clone(),
                n.kernel_version.clone(),
                n.container_runtime.clone(),
            ]);
        }
        t
    }

    /// A table of every condition that signals a problem, one row per node and condition.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let nodes = k8sops_nodes::list_nodes(&server.cluster(), &Default::default()).await?;
    /// let problems = nodes.problems_table();
    /// assert!(!problems.is_empty(), "the demo cluster has a NotReady node");
    /// print!("{problems}");
    /// # Ok(()) }
    /// ```
    pub fn problems_table(&self) -> Table {
        let mut t = Table::new(["node", "condition", "status", "reason", "message"]);
        for n in &self.nodes {
            for c in n.problems() {
                t.row([n.name.as_str(), &c.type_, &c.status, &c.reason, &c.message]);
            }
        }
        t
    }
}

impl fmt::Display for NodeList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.wide_table(Timestamp::now()))
    }
}

/// Lists nodes page by page (`kubectl get nodes -o wide`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let spot = k8sops_core::LabelSelector::new().eq("eks.amazonaws.com/capacityType", "SPOT");
/// let nodes = k8sops_nodes::list_nodes(&server.cluster(), &k8sops_nodes::NodeListParams::default().labels(spot)).await?;
/// assert_eq!(nodes.nodes.len(), 1);
/// println!("{nodes}");
/// # Ok(()) }
/// ```
pub async fn list_nodes(cluster: &Cluster, params: &NodeListParams) -> Result<NodeList> {
    let api: Api<Node> = cluster.api_all();
    let mut nodes = Vec::new();
    let mut pages = std::pin::pin!(paging::pages(
        cluster,
        &api,
        params.list_params(),
        params.page_size.unwrap_or(paging::DEFAULT_PAGE_SIZE)
    ));
    while let Some(page) = pages.try_next().await? {
        nodes.extend(page.iter().map(NodeStatus::from_node));
    }
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(NodeList { nodes })
}

/// One pod in `kubectl describe node`'s "Non-terminated Pods".
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let d = k8sops_nodes::describe_node(&cluster, "ip-10-0-0-5.ec2.internal").await?;
/// for p in &d.pods {
///     println!("{}/{} requests {} CPU", p.namespace, p.name, p.resources.requests.get("cpu"));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodePod {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Effective requests and limits.
    pub resources: PodResources,
    /// When the pod was created.
    pub created: Option<Timestamp>,
}

/// A recent event about the node, as `kubectl describe node` shows it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let d = k8sops_nodes::describe_node(&cluster, "ip-10-0-0-8.ec2.internal").await?;
/// for e in &d.events {
///     println!("{} {} {}", e.type_, e.reason, e.message);
/// }
/// # Ok(()) }
/// ```
pub type NodeEvent = DescribedEvent;

/// `kubectl describe node`: status, capacity vs allocatable, the
/// non-terminated pods and the "Allocated resources" totals, and events.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let d = k8sops_nodes::describe_node(&cluster, "ip-10-0-0-5.ec2.internal").await?;
/// assert_eq!(d.status.name, "ip-10-0-0-5.ec2.internal");
/// print!("{d}"); // like `kubectl describe node`
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeDescription {
    /// The node's status columns, conditions, labels and taints.
    pub status: NodeStatus,
    /// `status.capacity`.
    pub capacity: ResourceList,
    /// `status.allocatable` (empty when the node reports none; percentages
    /// then use [`NodeDescription::effective_allocatable`]).
    pub allocatable: ResourceList,
    /// Pods on the node that are not Succeeded or Failed.
    pub pods: Vec<NodePod>,
    /// Sum of the pods' requests.
    pub allocated_requests: ResourceList,
    /// Sum of the pods' limits.
    pub allocated_limits: ResourceList,
    /// Events about this node (matched by its UID, or its name, which kubelets
    /// use as the UID), in kubectl's order: those without a `lastTimestamp`
    /// first, then oldest first.
    pub events: Vec<NodeEvent>,
}

impl NodeDescription {
    /// What percentages are taken of: `status.allocatable`, or the node's
    /// capacity when it reports no allocatable at all, as kubectl does.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let d = k8sops_nodes::describe_node(&server.cluster(), "ip-10-0-0-5.ec2.internal").await?;
    /// assert_eq!(d.effective_allocatable(), &d.allocatable);
    /// # Ok(()) }
    /// ```
    pub fn effective_allocatable(&self) -> &ResourceList {
        if self.allocatable.is_empty() {
            &self.capacity
        } else {
            &self.allocatable
        }
    }

    /// Requests of `resource` as a percentage of allocatable, truncated like kubectl.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let d = k8sops_nodes::describe_node(&server.cluster(), "ip-10-0-0-5.ec2.internal").await?;
    /// println!("cpu requests: {}%", d.requests_percent("cpu"));
    /// # Ok(()) }
    /// ```
    pub fn requests_percent(&self, resource: &str) -> i64 {
        self.allocated_requests.percent_of(resource, self.effective_allocatable())
    }

    /// Limits of `resource` as a percentage of allocatable (may exceed 100: overcommitted).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let d = k8sops_nodes::describe_node(&server.cluster(), "ip-10-0-0-5.ec2.internal").await?;
    /// if d.limits_percent("memory") > 100 {
    ///     println!("memory is overcommitted");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn limits_percent(&self, resource: &str) -> i64 {
        self.allocated_limits.percent_of(resource, self.effective_allocatable())
    }

    /// The "Allocated resources" table in kubectl's order: cpu, memory,
    /// ephemeral-storage, then huge pages (`hugepages-*`, sorted), all with
    /// percentages of allocatable; then the other extended resources the node
    /// offers (sorted), with requests and limits only, as kubectl prints them.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let d = k8sops_nodes::describe_node(&server.cluster(), "ip-10-0-0-5.ec2.internal").await?;
    /// print!("{}", d.allocated_table());
    /// # Ok(()) }
    /// ```
    pub fn allocated_table(&self) -> Table {
        let mut t = Table::new(["resource", "requests", "limits"]);
        let allocatable = self.effective_allocatable();
        let mut huge_pages = Vec::new();
        let mut extended = Vec::new();
        for (k, _) in allocatable.iter() {
            if k.starts_with("hugepages-") {
                huge_pages.push(k.to_string());
            } else if !matches!(k, "cpu" | "memory" | "ephemeral-storage" | "pods") {
                extended.push(k.to_string());
            }
        }
        // ResourceList iterates in name order: both lists are sorted.
        let with_percent = ["cpu", "memory", "ephemeral-storage"].into_iter().map(str::to_string).chain(huge_pages);
        for name in with_percent {
            let req = self.allocated_requests.get(&name);
            let lim = self.allocated_limits.get(&name);
            t.row([
                name.clone(),
                format!("{req} ({}%)", self.requests_percent(&name)),
                format!("{lim} ({}%)", self.limits_percent(&name)),
            ]);
        }
        for name in extended {
            let req = self.allocated_requests.get(&name);
            let lim = self.allocated_limits.get(&name);
            t.row([name, req.to_string(), lim.to_string()]);
        }
        t
    }
}

impl fmt::Display for NodeDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.status;
        writeln!(f, "Name:      {}", s.name)?;
        writeln!(f, "Status:    {}", s.status)?;
        writeln!(f, "Roles:     {}", s.roles)?;
        writeln!(f, "Version:   {}", s.version)?;
        let taints: Vec<String> = s.taints.iter().map(ToString::to_string).collect();
        writeln!(f, "Taints:    {}", if taints.is_empty() { "<none>".into() } else { taints.join(", ") })?;
        writeln!(f, "Conditions:")?;
        let mut t = Table::new(["type", "status", "reason", "message"]);
        for c in &s.conditions {
            t.row([c.type_.as_str(), &c.status, &c.reason, &c.message]);
        }
        write!(f, "{t}")?;
        writeln!(f, "Capacity:    {}", self.capacity)?;
        writeln!(f, "Allocatable: {}", self.allocatable)?;
        writeln!(f, "Non-terminated Pods: ({} in total)", self.pods.len())?;
        let mut t = Table::new(["namespace", "name", "cpu requests", "cpu limits", "memory requests", "memory limits"]);
        let allocatable = self.effective_allocatable();
        for p in &self.pods {
            // Each quantity as the server stored it (kubectl prints the pod's
            // own quantity when it is one container's), percent of allocatable.
            let pct =
                |l: &ResourceList, r: &str| format!("{} ({}%)", l.printed(r), l.get(r).percent_of(allocatable.get(r)));
            t.row([
                p.namespace.clone(),
                p.name.clone(),
                pct(&p.resources.requests, "cpu"),
                pct(&p.resources.limits, "cpu"),
                pct(&p.resources.requests, "memory"),
                pct(&p.resources.limits, "memory"),
            ]);
        }
        write!(f, "{t}")?;
        writeln!(f, "Allocated resources:")?;
        write!(f, "{}", self.allocated_table())?;
        write!(f, "{}", events_section(&self.events, Timestamp::now()))
    }
}

/// `kubectl describe node NAME`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let d = k8sops_nodes::describe_node(&server.cluster(), "ip-10-0-0-5.ec2.internal").await?;
/// assert!(d.requests_percent("cpu") > 0);
/// println!("{}", d.allocated_table());
/// # Ok(()) }
/// ```
pub async fn describe_node(cluster: &Cluster, name: &str) -> Result<NodeDescription> {
    let nodes: Api<Node> = cluster.api_all();
    let node = cluster
        .retry_policy()
        .run(|_| async { nodes.get_opt(name).await.map_err(|e| cluster.map_err(e, &format!("node {name}"))) })
        .await?
        .ok_or_else(|| Error::NodeNotFound { name: name.to_string() })?;
    let parse = |m: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>| {
        m.map(ResourceList::from_k8s).transpose().map(Option::unwrap_or_default)
    };
    let st = node.status.as_ref();
    let capacity = parse(st.and_then(|s| s.capacity.as_ref())).map_err(k8sops_core::Error::from)?;
    let allocatable = parse(st.and_then(|s| s.allocatable.as_ref())).map_err(k8sops_core::Error::from)?;

    let pods_api: Api<Pod> = cluster.api_all();
    let fields =
        FieldSelector::new().eq("spec.nodeName", name).ne("status.phase", "Succeeded").ne("status.phase", "Failed");
    let mut pods = Vec::new();
    let mut requests = ResourceList::new();
    let mut limits = ResourceList::new();
    let mut pages = std::pin::pin!(paging::pages(
        cluster,
        &pods_api,
        ListParams::default().fields(&fields.to_string()),
        paging::DEFAULT_PAGE_SIZE
    ));
    while let Some(page) = pages.try_next().await? {
        for p in page {
            let resources = PodResources::of(&p).map_err(k8sops_core::Error::from)?;
            requests += &resources.requests;
            limits += &resources.limits;
            pods.push(NodePod {
                namespace: p.metadata.namespace.clone().unwrap_or_default(),
                name: p.metadata.name.clone().unwrap_or_default(),
                resources,
                created: p.metadata.creation_timestamp.as_ref().map(|t| t.0),
            });
        }
    }
    pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));

    let events_api: Api<Event> = cluster.api_all();
    let ev_fields = FieldSelector::new().eq("involvedObject.kind", "Node").eq("involvedObject.name", name);
    let mut found =
        paging::list_all(cluster, &events_api, ListParams::default().fields(&ev_fields.to_string())).await?;
    // Like kubectl, events about this node object: controllers report them
    // with the node's UID, kubelets with its name as the UID. A node that
    // reuses the name of a deleted one does not inherit the old one's events.
    let uid = node.metadata.uid.as_deref().unwrap_or("");
    found.retain(|e| {
        e.involved_object.namespace.as_deref().unwrap_or("").is_empty()
            && (uid.is_empty() || object_status::event_is_about(e, uid) || object_status::event_is_about(e, name))
    });
    found.sort_by(object_status::event_order);
    let events: Vec<NodeEvent> = found.iter().map(DescribedEvent::from_event).collect();
    Ok(NodeDescription {
        status: NodeStatus::from_node(&node),
        capacity,
        allocatable,
        pods,
        allocated_requests: requests,
        allocated_limits: limits,
        events,
    })
}

#[cfg(test)]
mod tests {
    use k8sops_testkit::TestServer;
    use serde_json::json;

    use super::*;

    fn q(s: &str) -> k8sops_core::Quantity {
        s.parse().unwrap()
    }

    fn node(name: &str, allocatable: serde_json::Value) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"}, "allocatable": allocatable,
                "conditions": [{"type": "Ready", "status": "True"}]}})
    }

    fn description(allocatable: ResourceList, capacity: ResourceList) -> NodeDescription {
        let n: Node = serde_json::from_value(json!({"metadata": {"name": "n"}})).unwrap();
        NodeDescription {
            status: NodeStatus::from_node(&n),
            capacity,
            allocatable,
            pods: Vec::new(),
            allocated_requests: ResourceList::new()
                .with("cpu", q("500m"))
                .with("example.com/gpu", q("2"))
                .with("hugepages-2Mi", q("512Mi"))
                .with("a.example/fpga", q("1")),
            allocated_limits: ResourceList::new()
                .with("example.com/gpu", q("2"))
                .with("hugepages-2Mi", q("512Mi"))
                .with("a.example/fpga", q("1")),
            events: Vec::new(),
        }
    }

    #[test]
    fn allocated_resources_list_hugepages_before_extended_resources_without_percentages() {
        let alloc = ResourceList::new()
            .with("cpu", q("2"))
            .with("memory", q("8Gi"))
            .with("ephemeral-storage", q("100Gi"))
            .with("pods", q("110"))
            .with("a.example/fpga", q("2"))
            .with("example.com/gpu", q("4"))
            .with("hugepages-1Gi", q("0"))
            .with("hugepages-2Mi", q("1Gi"));
        let d = description(alloc, ResourceList::new());
        let t = d.allocated_table().to_string();
        let rows: Vec<Vec<&str>> = t.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
        let expected: Vec<Vec<&str>> = vec![
            vec!["cpu", "500m", "(25%)", "0", "(0%)"],
            vec!["memory", "0", "(0%)", "0", "(0%)"],
            vec!["ephemeral-storage", "0", "(0%)", "0", "(0%)"],
            vec!["hugepages-1Gi", "0", "(0%)", "0", "(0%)"],
            vec!["hugepages-2Mi", "512Mi", "(50%)", "512Mi", "(50%)"],
            vec!["a.example/fpga", "1", "1"],
            vec!["example.com/gpu", "2", "2"],
        ];
        assert_eq!(rows, expected, "{t}");
    }

    #[test]
    fn node_capacity_stands_in_for_a_missing_allocatable() {
        let cap = ResourceList::new().with("cpu", q("4")).with("memory", q("16Gi")).with("example.com/gpu", q("8"));
        let d = description(ResourceList::new(), cap);
        assert_eq!(d.requests_percent("cpu"), 12);
        let t = d.allocated_table().to_string();
        assert!(t.contains("500m (12%)"), "{t}");
        assert!(t.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["example.com/gpu", "2", "2"]), "{t}");
    }

    #[tokio::test]
    async fn non_terminated_pod_rows_print_quantities_as_the_server_stored_them() {
        let server = TestServer::start().await.unwrap();
        server.insert(&node("n1", json!({"cpu": "2", "memory": "8Gi", "pods": "110"}))).unwrap();
        server
            .insert(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
                "spec": {"nodeName": "n1", "containers": [{"name": "web", "image": "nginx",
                    "resources": {"requests": {"cpu": "0.5", "memory": "128974848"}, "limits": {"memory": "1.5Gi"}}}]},
                "status": {"phase": "Running"}}))
            .unwrap();
        let d = describe_node(&server.cluster(), "n1").await.unwrap();
        let out = d.to_string();
        let row: Vec<&str> = out
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some("web"))
            .unwrap_or_else(|| panic!("no row for the pod:\n{out}"))
            .split_whitespace()
            .collect();
        assert_eq!(
            row,
            ["default", "web", "0.5", "(25%)", "0", "(0%)", "128974848", "(1%)", "1.5Gi", "(18%)"],
            "{out}"
        );
    }

    #[tokio::test]
    async fn node_events_are_matched_by_uid_and_ordered_like_kubectl() {
        let server = TestServer::start().await.unwrap();
        let stored = server.insert(&node("n1", json!({"cpu": "2", "memory": "8Gi", "pods": "110"}))).unwrap();
        let uid = stored["metadata"]["uid"].as_str().unwrap().to_string();
        let event = |name: &str, uid: &str, extra: serde_json::Value| {
            let mut e = json!({"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z"},
                "involvedObject": {"kind": "Node", "name": "n1", "uid": uid, "apiVersion": "v1"},
                "reason": name, "message": name, "type": "Normal", "source": {"component": "kubelet"}});
            for (k, v) in extra.as_object().unwrap() {
                e[k] = v.clone();
            }
            server.insert(&e).unwrap();
        };
        // The node this name belonged to before: not this node's event.
        event("Predecessor", "uid-of-a-deleted-node", json!({"lastTimestamp": "2026-01-01T00:00:30Z"}));
        event("Controller", &uid, json!({"lastTimestamp": "2026-01-01T00:02:00Z"}));
        event("Kubelet", "n1", json!({"lastTimestamp": "2026-01-01T00:01:00Z"}));
        // events.k8s.io writers set no lastTimestamp: kubectl sorts these first.
        event(
            "Series",
            &uid,
            json!({"eventTime": "2026-01-01T00:00:10.000000Z", "reportingComponent": "node-controller",
                "source": {}, "series": {"count": 5, "lastObservedTime": "2026-01-01T00:03:00.000000Z"}}),
        );
        event("Timeless", "n1", json!({}));
        let d = describe_node(&server.cluster(), "n1").await.unwrap();
        let reasons: Vec<&str> = d.events.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(reasons, ["Timeless", "Series", "Kubelet", "Controller"]);
        assert_eq!(d.events[0].last_seen, None, "no time of its own: not its creation time");
        assert_eq!(d.events[1].last_seen, Some("2026-01-01T00:03:00Z".parse().unwrap()));
        assert_eq!(d.events[1].source, "node-controller");
        let out = d.to_string();
        assert!(out.lines().any(|l| l.contains("Timeless") && l.contains("<unknown>")), "{out}");
    }
}
