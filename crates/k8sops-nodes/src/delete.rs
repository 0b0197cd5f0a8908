//! `kubectl delete node`, optionally after a drain.

use k8s_openapi::api::core::v1::Node;
use k8sops_core::{Cluster, ProgressSink};
use kube::{api::DeleteParams, Api};
use serde::Serialize;

use crate::{drain, DrainEvent, DrainParams, DrainReport, Error, Result};

/// Options for [`delete_node`].
///
/// ```
/// // Drain like `kubectl drain --ignore-daemonsets`, then delete the Node object.
/// let params = k8sops_nodes::DeleteNodeParams {
///     drain: Some(k8sops_nodes::DrainParams::default().ignore_daemonsets(true)),
///     dry_run: false,
/// };
/// ```
#[derive(Debug, Clone, Default)]
pub struct DeleteNodeParams {
    /// Drain first with these options; `None` deletes at once (the node's
    /// pods are then removed by the garbage collector without eviction).
    pub drain: Option<DrainParams>,
    /// Check and report only (`--dry-run=server` for the delete).
    pub dry_run: bool,
}

/// The result of [`delete_node`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let params = k8sops_nodes::DeleteNodeParams { drain: None, dry_run: true };
/// let report = k8sops_nodes::delete_node(&cluster, "ip-10-0-0-8.ec2.internal", &params, &k8sops_core::NoProgress).await?;
/// assert!(!report.deleted && report.drain.is_none());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeleteNodeReport {
    /// The node.
    pub node: String,
    /// The drain, if one ran.
    pub drain: Option<DrainReport>,
    /// Whether the node object was deleted (false in a dry run).
    pub deleted: bool,
}

/// Deletes a node object, after draining it when asked. A failed drain
/// leaves the node in place (cordoned) and returns the drain's error.
///
/// ```
/// use k8sops_nodes::{delete_node, DeleteNodeParams};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = delete_node(&server.cluster(), "ip-10-0-0-9.ec2.internal", &DeleteNodeParams::default(), &k8sops_core::NoProgress).await?;
/// assert!(report.deleted);
/// # Ok(()) }
/// ```
pub async fn delete_node(
    cluster: &Cluster,
    name: &str,
    params: &DeleteNodeParams,
    progress: &dyn ProgressSink<DrainEvent>,
) -> Result<DeleteNodeReport> {
    let drained = match &params.drain {
        Some(p) => Some(drain(cluster, name, p, progress).await?),
        None => None,
    };
    let api: Api<Node> = cluster.api_all();
    let dp = DeleteParams { dry_run: params.dry_run, ..Default::default() };
    cluster
        .retry_policy()
        .run(|_| async { api.delete(name, &dp).await.map_err(|e| cluster.map_err(e, &format!("node {name}"))) })
        .await
        .map_err(|e| match e {
            k8sops_core::Error::NotFound { .. } => Error::NodeNotFound { name: name.to_string() },
            other => Error::Core(other),
        })?;
    Ok(DeleteNodeReport { node: name.to_string(), drain: drained, deleted: !params.dry_run })
}
