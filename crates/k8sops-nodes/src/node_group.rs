//! Mapping between nodes, node groups and cloud instances: the node-group
//! labels EKS, eksctl and Karpenter set, and `spec.providerID`
//! (`aws:///us-east-1a/i-0abc...`) to instance id and back.

use k8s_openapi::api::core::v1::Node;
use k8sops_core::{paging, Cluster, LabelSelector};
use kube::{api::ListParams, Api};

use crate::Result;

/// Labels that name a node's group, most specific first.
pub use k8sops_core::object_status::NODE_GROUP_LABELS as GROUP_LABELS;

/// The node group a node belongs to, from its labels.
///
/// ```
/// let node: k8s_openapi::api::core::v1::Node = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "n", "labels": {"eks.amazonaws.com/nodegroup": "workers"}}})).unwrap();
/// assert_eq!(k8sops_nodes::node_group::group_of(&node).as_deref(), Some("workers"));
/// ```
pub fn group_of(node: &Node) -> Option<String> {
    k8sops_core::object_status::node_group(node)
}

/// The cloud instance id of a node, from `spec.providerID`
/// (`aws:///us-east-1a/i-0abc` → `i-0abc`).
///
/// ```
/// let node: k8s_openapi::api::core::v1::Node = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "n"}, "spec": {"providerID": "aws:///us-east-1a/i-0123456789abcdef0"}})).unwrap();
/// assert_eq!(k8sops_nodes::node_group::instance_id(&node).as_deref(), Some("i-0123456789abcdef0"));
/// ```
pub fn instance_id(node: &Node) -> Option<String> {
    let pid = node.spec.as_ref()?.provider_id.as_deref()?;
    let id = pid.rsplit('/').next()?;
    (!id.is_empty()).then(|| id.to_string())
}

/// The label selector for a group's nodes, using the first group label.
///
/// ```
/// assert_eq!(k8sops_nodes::node_group::selector_for("workers").to_string(), "eks.amazonaws.com/nodegroup=workers");
/// ```
pub fn selector_for(group: &str) -> LabelSelector {
    LabelSelector::new().eq(GROUP_LABELS[0], group)
}

/// The nodes of a group: those labelled with it under any of [`GROUP_LABELS`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let system = k8sops_nodes::node_group::nodes_in_group(&server.cluster(), "system").await?;
/// assert_eq!(system.len(), 2);
/// # Ok(()) }
/// ```
pub async fn nodes_in_group(cluster: &Cluster, group: &str) -> Result<Vec<Node>> {
    let api: Api<Node> = cluster.api_all();
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for label in GROUP_LABELS {
        let sel = LabelSelector::new().eq(label, group);
        for n in paging::list_all(cluster, &api, ListParams::default().labels(&sel.to_string())).await? {
            if seen.insert(n.metadata.name.clone().unwrap_or_default()) {
                out.push(n);
            }
        }
    }
    out.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(out)
}

/// The node running instance `id` (from its `spec.providerID`), if any.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let node = k8sops_nodes::node_group::nodes_in_group(&cluster, "spot").await?.remove(0);
/// let id = k8sops_nodes::node_group::instance_id(&node).expect("EKS nodes carry an aws:/// provider ID");
/// let found = k8sops_nodes::node_group::node_for_instance(&cluster, &id).await?;
/// assert_eq!(found.and_then(|n| n.metadata.name), node.metadata.name);
/// # Ok(()) }
/// ```
pub async fn node_for_instance(cluster: &Cluster, id: &str) -> Result<Option<Node>> {
    let api: Api<Node> = cluster.api_all();
    let nodes = paging::list_all(cluster, &api, ListParams::default()).await?;
    Ok(nodes.into_iter().find(|n| instance_id(n).as_deref() == Some(id)))
}

/// Progress of [`wait_for_update`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use k8sops_core::backend::{InMemoryNodeGroups, NodeGroup, NodeGroups, ScalingConfig, ScalingUpdate};
/// let groups = InMemoryNodeGroups::new().with_group(NodeGroup::new("g", ScalingConfig { min: 1, max: 3, desired: 1 }));
/// let started = groups.update_scaling("g", &ScalingUpdate::desired(2)).await?;
/// let polls = k8sops_core::Recorder::<k8sops_nodes::node_group::UpdateProgress>::default();
/// let second = std::time::Duration::from_secs(1);
/// k8sops_nodes::node_group::wait_for_update(&groups, "g", &started.id, second, second * 5, &polls).await?;
/// assert!(polls.events().iter().all(|p| p.group == "g"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UpdateProgress {
    /// The node group.
    pub group: String,
    /// The update as last described.
    pub update: k8sops_core::backend::Update,
    /// How long it has been running.
    pub elapsed: std::time::Duration,
}

/// Polls a node-group update (`aws eks describe-update`) every `interval`
/// until it finishes or `timeout` passes, reporting each poll. Transient
/// errors (throttling) are retried per the cluster's retry policy.
///
/// # Cancel safety
/// Only polls: dropping the future stops the polling and leaves the update
/// running in the cloud, where `describe_update` can still follow it. The
/// timeout behaves the same (the error names it); it does not cancel the update.
///
/// ```
/// use k8sops_core::backend::{InMemoryNodeGroups, NodeGroup, NodeGroups, ScalingConfig, ScalingUpdate, UpdateStatus};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let groups = InMemoryNodeGroups::new().with_group(NodeGroup::new("g", ScalingConfig { min: 1, max: 3, desired: 1 }));
/// let started = groups.update_scaling("g", &ScalingUpdate::desired(2)).await?;
/// let done = k8sops_nodes::node_group::wait_for_update(&groups, "g", &started.id, std::time::Duration::from_millis(10),
///     std::time::Duration::from_secs(5), &k8sops_core::NoProgress).await?;
/// assert_eq!(done.status, UpdateStatus::Successful);
/// # Ok(()) }
/// ```
pub async fn wait_for_update(
    backend: &dyn k8sops_core::backend::NodeGroups,
    group: &str,
    update_id: &str,
    interval: std::time::Duration,
    timeout: std::time::Duration,
    progress: &dyn k8sops_core::ProgressSink<UpdateProgress>,
) -> Result<k8sops_core::backend::Update> {
    let start = tokio::time::Instant::now();
    let retry = k8sops_core::RetryPolicy::default();
    loop {
        let update = retry.run(|_| backend.describe_update(group, update_id)).await?;
        progress.emit(UpdateProgress { group: group.to_string(), update: update.clone(), elapsed: start.elapsed() });
        if update.status.is_terminal() {
            return Ok(update);
        }
        if start.elapsed() + interval > timeout {
            return Err(k8sops_core::Error::Timeout {
                during: format!("waiting for update {update_id} of node group {group}"),
                after: timeout,
            }
            .into());
        }
        tokio::time::sleep(interval).await;
    }
}
