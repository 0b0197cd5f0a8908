//! Cordon and uncordon (`kubectl cordon` / `kubectl uncordon`): one node, a
//! list, or a label selector; idempotent, reporting per node whether it
//! changed; dry-run.

use std::fmt;

use k8s_openapi::api::core::v1::Node;
use k8sops_core::{paging, Cluster, DryRun, Failure, LabelSelector, Table};
use kube::{
    api::{ListParams, Patch, PatchParams},
    Api,
};
use serde::Serialize;
use serde_json::json;

use crate::{Error, Result};

/// Which nodes an operation targets.
///
/// ```
/// use k8sops_nodes::NodeSelection;
/// let one = NodeSelection::name("ip-10-0-0-5.ec2.internal");
/// let spot = NodeSelection::Selector("eks.amazonaws.com/capacityType=SPOT".parse().unwrap());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeSelection {
    /// Nodes by name.
    Names(Vec<String>),
    /// Nodes matching a label selector.
    Selector(LabelSelector),
}

impl NodeSelection {
    /// One node.
    ///
    /// ```
    /// let s = k8sops_nodes::NodeSelection::name("ip-10-0-1-5.ec2.internal");
    /// ```
    pub fn name(name: impl Into<String>) -> Self {
        NodeSelection::Names(vec![name.into()])
    }

    /// Resolves the selection to node objects; unknown names are
    /// [`Error::NodeNotFound`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// use k8sops_core::LabelSelector;
    /// let spot = k8sops_nodes::NodeSelection::Selector(LabelSelector::new().eq("eks.amazonaws.com/nodegroup", "spot"));
    /// assert_eq!(spot.resolve(&server.cluster()).await?.len(), 1);
    /// let missing = k8sops_nodes::NodeSelection::name("no-such-node").resolve(&server.cluster()).await;
    /// assert!(matches!(missing, Err(k8sops_nodes::Error::NodeNotFound { .. })));
    /// # Ok(()) }
    /// ```
    pub async fn resolve(&self, cluster: &Cluster) -> Result<Vec<Node>> {
        let api: Api<Node> = cluster.api_all();
        match self {
            NodeSelection::Names(names) => {
                let mut out = Vec::new();
                for name in names {
                    let node = cluster
                        .retry_policy()
                        .run(|_| async {
                            api.get_opt(name).await.map_err(|e| cluster.map_err(e, &format!("node {name}")))
                        })
                        .await?
                        .ok_or_else(|| Error::NodeNotFound { name: name.clone() })?;
                    out.push(node);
                }
                Ok(out)
            }
            NodeSelection::Selector(sel) => {
                Ok(paging::list_all(cluster, &api, ListParams::default().labels(&sel.to_string())).await?)
            }
        }
    }
}

/// Options for [`cordon`] and [`uncordon`].
///
/// ```
/// // kubectl cordon NODE --dry-run=client
/// let params = k8sops_nodes::CordonParams { dry_run: k8sops_nodes::DryRun::Client };
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CordonParams {
    /// `--dry-run`: `Client` reports what would change and sends nothing;
    /// `Server` sends the patches with `dryRun=All`.
    pub dry_run: DryRun,
}

/// What happened to one node.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// use k8sops_nodes::{cordon, CordonChange, CordonParams, NodeSelection};
/// let report = cordon(&cluster, &NodeSelection::name("ip-10-0-0-7.ec2.internal"), CordonParams::default()).await?;
/// assert_eq!(report.nodes[0].1, CordonChange::AlreadyInState);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum CordonChange {
    /// The node's schedulability changed (or would, in a dry run).
    Changed,
    /// The node was already in the requested state.
    AlreadyInState,
    /// The patch failed; the other nodes were still handled, as in kubectl.
    Failed(Failure<k8sops_core::Error>),
}

/// The result of [`cordon`] / [`uncordon`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// use k8sops_nodes::{cordon, CordonParams, NodeSelection};
/// let params = CordonParams { dry_run: k8sops_nodes::DryRun::Client };
/// let report = cordon(&cluster, &NodeSelection::name("ip-10-0-0-5.ec2.internal"), params).await?;
/// assert_eq!(report.to_string(), "node/ip-10-0-0-5.ec2.internal cordoned (dry run)\n");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CordonReport {
    /// `true` for cordon, `false` for uncordon.
    pub cordon: bool,
    /// Whether this was a dry run.
    pub dry_run: DryRun,
    /// Per node, in name order.
    pub nodes: Vec<(String, CordonChange)>,
}

impl CordonReport {
    /// Names of the nodes that changed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// use k8sops_nodes::{cordon, CordonParams, NodeSelection};
    /// let both = NodeSelection::Names(vec!["ip-10-0-0-5.ec2.internal".into(), "ip-10-0-0-7.ec2.internal".into()]);
    /// let report = cordon(&server.cluster(), &both, CordonParams::default()).await?;
    /// // ip-10-0-0-7 was already cordoned in the demo cluster.
    /// assert_eq!(report.changed().collect::<Vec<_>>(), ["ip-10-0-0-5.ec2.internal"]);
    /// # Ok(()) }
    /// ```
    pub fn changed(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().filter(|(_, c)| *c == CordonChange::Changed).map(|(n, _)| n.as_str())
    }

    /// The nodes whose patch failed, and why.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// use k8sops_nodes::{cordon, CordonParams, NodeSelection};
    /// let report = cordon(&server.cluster(), &NodeSelection::name("ip-10-0-0-5.ec2.internal"), CordonParams::default()).await?;
    /// assert_eq!(report.failed().count(), 0);
    /// # Ok(()) }
    /// ```
    pub fn failed(&self) -> impl Iterator<Item = (&str, &k8sops_core::Error)> {
        self.nodes.iter().filter_map(|(n, c)| match c {
            CordonChange::Failed(e) => Some((n.as_str(), &**e)),
            _ => None,
        })
    }
}

impl fmt::Display for CordonReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // kubectl prints "node/NAME cordoned" or "node/NAME already cordoned".
        let verb = if self.cordon { "cordoned" } else { "uncordoned" };
        let suffix = match self.dry_run {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        };
        for (name, change) in &self.nodes {
            match change {
                CordonChange::Changed => writeln!(f, "node/{name} {verb}{suffix}")?,
                CordonChange::AlreadyInState => writeln!(f, "node/{name} already {verb}{suffix}")?,
                CordonChange::Failed(e) => {
                    let op = if self.cordon { "cordon" } else { "uncordon" };
                    writeln!(f, "error: unable to {op} node {name:?}: {e}")?
                }
            }
        }
        Ok(())
    }
}

impl CordonReport {
    /// The report as a table.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// use k8sops_nodes::{cordon, CordonParams, NodeSelection};
    /// let report = cordon(&server.cluster(), &NodeSelection::name("ip-10-0-0-5.ec2.internal"), CordonParams::default()).await?;
    /// print!("{}", report.table());
    /// # Ok(()) }
    /// ```
    pub fn table(&self) -> Table {
        let mut t = Table::new(["node", "change"]);
        for (n, c) in &self.nodes {
            let change = match c {
                CordonChange::Changed => "Changed".to_string(),
                CordonChange::AlreadyInState => "AlreadyInState".to_string(),
                CordonChange::Failed(e) => format!("Failed ({e})"),
            };
            t.row([n.clone(), change]);
        }
        t
    }
}

/// Marks nodes unschedulable (`kubectl cordon`).
///
/// ```
/// use k8sops_nodes::{cordon, CordonParams, NodeSelection};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = cordon(&cluster, &NodeSelection::name("ip-10-0-0-5.ec2.internal"), CordonParams::default()).await?;
/// assert_eq!(report.to_string(), "node/ip-10-0-0-5.ec2.internal cordoned\n");
/// let again = cordon(&cluster, &NodeSelection::name("ip-10-0-0-5.ec2.internal"), CordonParams::default()).await?;
/// assert_eq!(again.to_string(), "node/ip-10-0-0-5.ec2.internal already cordoned\n");
/// # Ok(()) }
/// ```
pub async fn cordon(cluster: &Cluster, nodes: &NodeSelection, params: CordonParams) -> Result<CordonReport> {
    set_schedulable(cluster, nodes, true, params).await
}

/// Marks nodes schedulable again (`kubectl uncordon`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// use k8sops_nodes::{uncordon, CordonParams, NodeSelection};
/// let report = uncordon(&server.cluster(), &NodeSelection::name("ip-10-0-0-7.ec2.internal"), CordonParams::default()).await?;
/// assert_eq!(report.to_string(), "node/ip-10-0-0-7.ec2.internal uncordoned\n");
/// # Ok(()) }
/// ```
pub async fn uncordon(cluster: &Cluster, nodes: &NodeSelection, params: CordonParams) -> Result<CordonReport> {
    set_schedulable(cluster, nodes, false, params).await
}

async fn set_schedulable(
    cluster: &Cluster,
    nodes: &NodeSelection,
    cordon: bool,
    params: CordonParams,
) -> Result<CordonReport> {
    let resolved = nodes.resolve(cluster).await?;
    let mut out = Vec::new();
    for node in resolved {
        let name = node.metadata.name.clone().unwrap_or_default();
        let current = node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
        if current == cordon {
            out.push((name, CordonChange::AlreadyInState));
            continue;
        }
        // One failed node does not stop the others (kubectl prints the error and goes on).
        let change = change_schedulability(cluster, &name, cordon, params.dry_run).await;
        out.push((name, change));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(CordonReport { cordon, dry_run: params.dry_run, nodes: out })
}

/// Cordons (or uncordons) one node as part of a larger operation: a failure
/// is the node's outcome, not an error, so the caller goes on with the others.
/// A client dry run sends nothing.
pub(crate) async fn change_schedulability(
    cluster: &Cluster,
    name: &str,
    cordon: bool,
    dry_run: DryRun,
) -> CordonChange {
    if !dry_run.sends_requests() {
        return CordonChange::Changed;
    }
    match set_unschedulable(cluster, name, cordon, dry_run.server_side()).await {
        Ok(()) => CordonChange::Changed,
        Err(Error::Core(e)) => CordonChange::Failed(Failure::new(e)),
        // set_unschedulable's only other error: the node is gone.
        Err(_) => CordonChange::Failed(Failure::new(k8sops_core::Error::NotFound {
            what: format!("node {name}"),
            source: None,
        })),
    }
}

/// Patches `spec.unschedulable` like kubectl does (a strategic merge patch;
/// `null` to uncordon), retrying transient failures.
pub(crate) async fn set_unschedulable(cluster: &Cluster, name: &str, cordon: bool, server_dry_run: bool) -> Result<()> {
    let api: Api<Node> = cluster.api_all();
    let value = if cordon { json!(true) } else { json!(null) };
    let patch = Patch::Strategic(json!({"spec": {"unschedulable": value}}));
    let pp = PatchParams { dry_run: server_dry_run, ..Default::default() };
    cluster
        .retry_policy()
        .run(|_| async { api.patch(name, &pp, &patch).await.map_err(|e| cluster.map_err(e, &format!("node {name}"))) })
        .await
        .map_err(|e| match e {
            k8sops_core::Error::NotFound { .. } => Error::NodeNotFound { name: name.to_string() },
            other => Error::Core(other),
        })?;
    Ok(())
}
