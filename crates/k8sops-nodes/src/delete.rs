//! `kubectl delete node`, optionally after a drain.

use k8s_openapi::api::core::v1::Node;
use k8sops_core::{CancellationToken, Cluster, DryRun, ProgressSink};
use kube::{api::DeleteParams, Api};
use serde::Serialize;

use crate::{drain_with_progress, DrainEvent, DrainParams, DrainReport, DrainStatus, Error, Result};

/// Options for [`delete_node`].
///
/// ```
/// // Drain like `kubectl drain --ignore-daemonsets`, then delete the Node object.
/// let params = k8sops_nodes::DeleteNodeParams {
///     drain: Some(k8sops_nodes::DrainParams::default().ignore_daemonsets(true)),
///     ..Default::default()
/// };
/// ```
#[derive(Debug, Clone, Default)]
pub struct DeleteNodeParams {
    /// Drain first with these options; `None` deletes at once (the node's
    /// pods are then removed by the garbage collector without eviction).
    /// The drain's own `dry_run` is replaced by [`dry_run`](Self::dry_run).
    pub drain: Option<DrainParams>,
    /// `--dry-run` for the whole operation, passed down to the drain:
    /// `Client` sends nothing that changes the cluster, `Server` sends the
    /// cordon, evictions and delete with `dryRun=All`.
    pub dry_run: DryRun,
    /// Stop before the delete (and inside the drain) when this fires.
    pub cancel: Option<CancellationToken>,
}

/// The result of [`delete_node`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let params = k8sops_nodes::DeleteNodeParams { dry_run: k8sops_nodes::DryRun::Server, ..Default::default() };
/// let report = k8sops_nodes::delete_node(&cluster, "ip-10-0-0-8.ec2.internal", &params, &k8sops_core::NoProgress).await?;
/// assert!(!report.deleted && report.drain.is_none());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeleteNodeReport {
    /// The node.
    pub node: String,
    /// Whether this was a dry run.
    pub dry_run: DryRun,
    /// The drain, if one ran. The node is deleted only after a completed drain.
    pub drain: Option<DrainReport>,
    /// Whether the node object was deleted (false in a dry run, and when the
    /// drain did not complete or the operation was cancelled first).
    pub deleted: bool,
}

impl DeleteNodeReport {
    /// The report if the node was deleted (or, in a dry run, would be);
    /// otherwise the drain's error ([`DrainReport::ensure_completed`]) or
    /// [`Error::Core`] with [`Cancelled`](k8sops_core::Error::Cancelled).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// use k8sops_nodes::{delete_node, DeleteNodeParams, DrainParams};
    /// // kubectl's drain defaults refuse the DaemonSet pods: the node is not deleted.
    /// let params = DeleteNodeParams { drain: Some(DrainParams::default()), ..Default::default() };
    /// let report = delete_node(&server.cluster(), "ip-10-0-0-5.ec2.internal", &params, &k8sops_core::NoProgress).await?;
    /// assert!(!report.deleted);
    /// assert!(report.ensure_completed().is_err());
    /// # Ok(()) }
    /// ```
    pub fn ensure_completed(self) -> Result<Self> {
        if let Some(d) = &self.drain {
            if d.status != DrainStatus::Completed {
                return Err(d
                    .clone()
                    .ensure_completed()
                    .err()
                    .unwrap_or(Error::Invalid(format!("node {} was not deleted", self.node))));
            }
        }
        if !self.deleted && self.dry_run == DryRun::None {
            return Err(Error::Core(k8sops_core::Error::Cancelled { during: format!("deleting node {}", self.node) }));
        }
        Ok(self)
    }
}

/// Deletes a node object (`kubectl delete node`), after draining it when
/// asked. The node is deleted only after a [`DrainStatus::Completed`] drain:
/// a refused, failed, timed-out or cancelled drain leaves it in place
/// (cordoned) and the report carries the drain's report.
///
/// `Err` means the operation could not run (node missing, API unreachable).
///
/// # Cancel safety
/// With [`DeleteNodeParams::cancel`]: the drain stops as described at
/// [`drain`](crate::drain), and the delete is not sent once the token fired.
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
    let cancel = params.cancel.clone().unwrap_or_default();
    let mut report = DeleteNodeReport { node: name.to_string(), dry_run: params.dry_run, drain: None, deleted: false };
    if let Some(p) = &params.drain {
        let p = DrainParams { dry_run: params.dry_run, cancel: Some(cancel.clone()), ..p.clone() };
        let drained = drain_with_progress(cluster, name, &p, progress).await?;
        let completed = drained.status == DrainStatus::Completed;
        report.drain = Some(drained);
        if !completed {
            return Ok(report);
        }
    }
    if cancel.is_cancelled() || params.dry_run == DryRun::Client {
        return Ok(report);
    }
    let api: Api<Node> = cluster.api_all();
    let dp = DeleteParams { dry_run: params.dry_run.server_side(), ..Default::default() };
    cluster
        .retry_policy()
        .run(|_| async { api.delete(name, &dp).await.map_err(|e| cluster.map_err(e, &format!("node {name}"))) })
        .await
        .map_err(|e| match e {
            k8sops_core::Error::NotFound { .. } => Error::NodeNotFound { name: name.to_string() },
            other => Error::Core(other),
        })?;
    report.deleted = params.dry_run == DryRun::None;
    Ok(report)
}
