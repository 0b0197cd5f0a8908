//! Cluster health: `/readyz` and `/livez` check lists, `componentstatuses`
//! where still served (deprecated since 1.19), `kubectl cluster-info`, and
//! node readiness.

use std::fmt;

use k8s_openapi::api::core::v1::{ComponentStatus, Node, Service};
use k8sops_core::{object_status, paging, Cluster, Table};
use kube::{api::ListParams, Api};
use serde::Serialize;

use crate::Result;

/// One check of `/readyz?verbose` or `/livez?verbose`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let health = k8sops_diagnose::cluster_health(&cluster).await?;
/// for c in health.readyz.iter().filter(|c| !c.ok) {
///     println!("readyz {} failed: {}", c.name, c.reason.as_deref().unwrap_or(""));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthCheck {
    /// Check name, e.g. `etcd`.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// The reason given for a failure.
    pub reason: Option<String>,
}

/// One `kubectl get componentstatuses` row.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let health = k8sops_diagnose::cluster_health(&cluster).await?;
/// // None when the server no longer serves componentstatuses (deprecated since 1.19).
/// for c in health.component_statuses.iter().flatten() {
///     println!("{} healthy={} {}", c.name, c.healthy, c.message);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentStatusLine {
    /// Component, e.g. `etcd-0`, `scheduler`.
    pub name: String,
    /// Healthy condition.
    pub healthy: bool,
    /// Message or error.
    pub message: String,
}

/// A service labelled `kubernetes.io/cluster-service=true`, as `kubectl cluster-info` prints it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let health = k8sops_diagnose::cluster_health(&cluster).await?;
/// for s in &health.cluster_services {
///     println!("{} is running at {}", s.name, s.url);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterService {
    /// Display name (`kubernetes.io/name` label, or the service name).
    pub name: String,
    /// Proxy URL through the API server.
    pub url: String,
}

/// The result of [`cluster_health`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let health = k8sops_diagnose::cluster_health(&cluster).await?;
/// assert_eq!(health.control_plane, server.url());
/// print!("{health}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterHealth {
    /// The control plane URL.
    pub control_plane: String,
    /// `/readyz?verbose`.
    pub readyz: Vec<HealthCheck>,
    /// `/livez?verbose`.
    pub livez: Vec<HealthCheck>,
    /// `componentstatuses`, `None` when the server no longer serves it.
    pub component_statuses: Option<Vec<ComponentStatusLine>>,
    /// `kubectl cluster-info` services.
    pub cluster_services: Vec<ClusterService>,
    /// Nodes whose `Ready` condition is `True` (cordoned or not).
    pub nodes_ready: usize,
    /// All nodes.
    pub nodes_total: usize,
}

impl ClusterHealth {
    /// Whether readyz and livez pass and every node is Ready.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let health = k8sops_diagnose::cluster_health(&server.cluster()).await?;
    /// // The demo cluster has a NotReady node.
    /// assert!(!health.is_healthy());
    /// # Ok(()) }
    /// ```
    pub fn is_healthy(&self) -> bool {
        self.readyz.iter().all(|c| c.ok) && self.livez.iter().all(|c| c.ok) && self.nodes_ready == self.nodes_total
    }
}

impl fmt::Display for ClusterHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Kubernetes control plane is running at {}", self.control_plane)?;
        for s in &self.cluster_services {
            writeln!(f, "{} is running at {}", s.name, s.url)?;
        }
        let failed = |v: &[HealthCheck]| v.iter().filter(|c| !c.ok).map(|c| c.name.clone()).collect::<Vec<_>>();
        for (probe, checks) in [("readyz", &self.readyz), ("livez", &self.livez)] {
            let bad = failed(checks);
            if bad.is_empty() {
                writeln!(f, "/{probe}: {} checks passed", checks.len())?;
            } else {
                writeln!(f, "/{probe}: FAILED {}", bad.join(", "))?;
            }
        }
        writeln!(f, "Nodes: {}/{} Ready", self.nodes_ready, self.nodes_total)?;
        match &self.component_statuses {
            None => writeln!(f, "componentstatuses: not served by this server")?,
            Some(cs) if cs.is_empty() => writeln!(f, "componentstatuses: none reported (deprecated since v1.19)")?,
            Some(cs) => {
                writeln!(f, "componentstatuses (deprecated since v1.19; use /readyz and /livez):")?;
                let mut t = Table::new(["name", "status", "message"]);
                for c in cs {
                    t.row([c.name.as_str(), if c.healthy { "Healthy" } else { "Unhealthy" }, c.message.as_str()]);
                }
                write!(f, "{t}")?;
            }
        }
        Ok(())
    }
}

fn parse_checks(text: &str) -> Vec<HealthCheck> {
    text.lines()
        .filter_map(|l| {
            if let Some(rest) = l.strip_prefix("[+]") {
                Some(HealthCheck { name: rest.split_whitespace().next()?.to_string(), ok: true, reason: None })
            } else if let Some(rest) = l.strip_prefix("[-]") {
                let (name, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                Some(HealthCheck { name: name.to_string(), ok: false, reason: Some(reason.trim().to_string()) })
            } else {
                None
            }
        })
        .collect()
}

/// `GET {path}?verbose`. A failing probe answers 500 with its check list:
/// that is the answer. Other failures (503 while the server starts or shuts
/// down, 429, a dropped connection) are retried; a server that keeps
/// answering 5xx is reported as one failed check, since that is what a
/// load balancer's probe would see.
async fn probe(cluster: &Cluster, path: &str) -> Result<Vec<HealthCheck>> {
    let uri = format!("{path}?verbose");
    let answer = cluster
        .retry_policy()
        .run(|_| async {
            let req = http::Request::get(uri.as_str())
                .body(Vec::new())
                .map_err(|e| k8sops_core::Error::InvalidInput { message: e.to_string(), source: None })?;
            match cluster.client().request_text(req).await {
                Ok(text) => Ok(text),
                Err(kube::Error::Api(s)) if s.code == 500 && !parse_checks(&s.message).is_empty() => Ok(s.message),
                Err(e) => Err(cluster.map_err(e, path)),
            }
        })
        .await;
    match answer {
        Ok(text) => Ok(parse_checks(&text)),
        Err(k8sops_core::Error::Api { code, message, .. }) if code >= 500 => Ok(vec![HealthCheck {
            name: path.trim_start_matches('/').into(),
            ok: false,
            reason: Some(format!("HTTP {code}: {message}")),
        }]),
        Err(e) => Err(e.into()),
    }
}

/// `/readyz` and `/livez` check lists, `componentstatuses`, `cluster-info`
/// services and node readiness.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let health = k8sops_diagnose::cluster_health(&server.cluster()).await?;
/// assert!(health.readyz.iter().any(|c| c.name == "etcd" && c.ok));
/// assert_eq!((health.nodes_ready, health.nodes_total), (6, 7));
/// println!("{health}");
/// # Ok(()) }
/// ```
pub async fn cluster_health(cluster: &Cluster) -> Result<ClusterHealth> {
    let readyz = probe(cluster, "/readyz").await?;
    let livez = probe(cluster, "/livez").await?;
    let cs_api: Api<ComponentStatus> = cluster.api_all();
    let listed = cluster
        .retry_policy()
        .run(|_| async {
            cs_api.list(&ListParams::default()).await.map_err(|e| cluster.map_err(e, "componentstatuses"))
        })
        .await;
    let component_statuses = match listed {
        Ok(list) => Some(
            list.items
                .iter()
                .map(|c| {
                    let cond = c.conditions.as_ref().and_then(|cs| cs.iter().find(|x| x.type_ == "Healthy"));
                    ComponentStatusLine {
                        name: c.metadata.name.clone().unwrap_or_default(),
                        healthy: cond.is_some_and(|x| x.status == "True"),
                        message: cond.and_then(|x| x.message.clone().or(x.error.clone())).unwrap_or_default(),
                    }
                })
                .collect(),
        ),
        Err(k8sops_core::Error::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let svc_api: Api<Service> = cluster.api_all();
    let services =
        paging::list_all(cluster, &svc_api, ListParams::default().labels("kubernetes.io/cluster-service=true")).await?;
    let url = cluster.url().trim_end_matches('/').to_string();
    let cluster_services = services
        .iter()
        .map(|s| {
            let ns = s.metadata.namespace.clone().unwrap_or_default();
            let name = s.metadata.name.clone().unwrap_or_default();
            let display = s
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/name").cloned())
                .unwrap_or_else(|| name.clone());
            let port = s
                .spec
                .as_ref()
                .and_then(|sp| sp.ports.as_ref())
                .and_then(|p| p.first())
                .map(|p| p.name.clone().unwrap_or_else(|| p.port.to_string()));
            let target = match port {
                Some(p) => format!("{name}:{p}"),
                None => name,
            };
            ClusterService { name: display, url: format!("{url}/api/v1/namespaces/{ns}/services/{target}/proxy") }
        })
        .collect();
    let nodes_api: Api<Node> = cluster.api_all();
    let (mut nodes_total, mut nodes_ready) = (0, 0);
    paging::for_each(cluster, &nodes_api, ListParams::default(), |n: Node| {
        nodes_total += 1;
        // The Ready condition, not the STATUS word printed for it.
        nodes_ready += usize::from(object_status::node_is_ready(&n));
        Ok::<_, crate::Error>(())
    })
    .await?;
    Ok(ClusterHealth {
        control_plane: url,
        readyz,
        livez,
        component_statuses,
        cluster_services,
        nodes_ready,
        nodes_total,
    })
}
