//! Service checks (`kubectl get services,endpoints -A`): services with no
//! ready endpoints (EndpointSlices, falling back to Endpoints), selectors
//! that match no pod, targetPorts no selected container exposes — and the
//! NetworkPolicy inventory with the pods each policy selects.

use std::{collections::BTreeMap, fmt};

use k8s_openapi::{
    api::{
        core::v1::{Endpoints, Pod, Service},
        discovery::v1::EndpointSlice,
        networking::v1::NetworkPolicy,
    },
    apimachinery::pkg::util::intstr::IntOrString,
};
use k8sops_core::{object_status::ListField, paging, Cluster, LabelSelector, Table};
use kube::api::ListParams;
use serde::Serialize;

use crate::Result;

/// A problem with a service.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = k8sops_diagnose::check_services(&cluster, None).await?;
/// for f in &report.findings {
///     println!("{f}");
/// }
/// # assert!(report.findings.iter().any(|f| matches!(f, k8sops_diagnose::ServiceFinding::NoReadyEndpoints { .. })));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum ServiceFinding {
    /// No ready endpoint: traffic to the service fails.
    NoReadyEndpoints {
        /// `namespace/name`.
        service: String,
    },
    /// The selector matches no pod in the namespace.
    SelectorMatchesNoPod {
        /// `namespace/name`.
        service: String,
        /// The selector.
        selector: String,
    },
    /// A targetPort that no selected pod's containers declare.
    PortMismatch {
        /// `namespace/name`.
        service: String,
        /// The targetPort (number or name).
        target_port: String,
    },
}

impl fmt::Display for ServiceFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceFinding::NoReadyEndpoints { service } => write!(f, "service {service} has no ready endpoints"),
            ServiceFinding::SelectorMatchesNoPod { service, selector } => {
                write!(f, "service {service} selects no pod ({selector}): check the labels")
            }
            ServiceFinding::PortMismatch { service, target_port } => {
                write!(f, "service {service} targets port {target_port}, which no selected container exposes")
            }
        }
    }
}

/// One service.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = k8sops_diagnose::check_services(&cluster, Some("shop")).await?;
/// for s in &report.services {
///     println!("{}/{} {} ready endpoints", s.namespace, s.name, s.ready_endpoints);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceLine {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `ClusterIP`, `NodePort`, `LoadBalancer`, `ExternalName`.
    pub type_: String,
    /// Cluster IP.
    pub cluster_ip: String,
    /// Ports as `port/protocol->targetPort`.
    pub ports: Vec<String>,
    /// Ready endpoint addresses.
    pub ready_endpoints: usize,
    /// Pods its selector matches (`None` for services without a selector).
    pub selected_pods: Option<usize>,
}

/// A NetworkPolicy and the pods it selects.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = k8sops_diagnose::check_services(&cluster, None).await?;
/// for p in &report.policies {
///     println!("{}/{} ({}) selects {} pod(s)", p.namespace, p.name, p.policy_types.join(","), p.pods.len());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyLine {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `Ingress`, `Egress`.
    pub policy_types: Vec<String>,
    /// Pods the podSelector matches.
    pub pods: Vec<String>,
}

/// The result of [`check_services`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = k8sops_diagnose::check_services(&cluster, None).await?;
/// print!("{report}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceReport {
    /// Services.
    pub services: Vec<ServiceLine>,
    /// NetworkPolicies.
    pub policies: Vec<PolicyLine>,
    /// Findings.
    pub findings: Vec<ServiceFinding>,
}

impl fmt::Display for ServiceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = Table::new(["namespace", "name", "type", "cluster-ip", "ports", "ready endpoints", "pods"]);
        for s in &self.services {
            t.row([
                s.namespace.clone(),
                s.name.clone(),
                s.type_.clone(),
                s.cluster_ip.clone(),
                s.ports.join(","),
                s.ready_endpoints.to_string(),
                s.selected_pods.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
            ]);
        }
        writeln!(f, "{t}")?;
        let mut t = Table::new(["namespace", "networkpolicy", "types", "selects"]);
        for p in &self.policies {
            t.row([p.namespace.clone(), p.name.clone(), p.policy_types.join(","), p.pods.join(",")]);
        }
        write!(f, "{t}")?;
        if !self.findings.is_empty() {
            writeln!(f, "\nFindings:")?;
            for x in &self.findings {
                writeln!(f, "  - {x}")?;
            }
        }
        Ok(())
    }
}

/// Services, their endpoints and selectors, and NetworkPolicies, in one
/// namespace or all.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops_diagnose::check_services(&server.cluster(), Some("legacy")).await?;
/// assert!(!report.findings.is_empty()); // legacy/old-frontend selects nothing
/// # Ok(()) }
/// ```
pub async fn check_services(cluster: &Cluster, namespace: Option<&str>) -> Result<ServiceReport> {
    let lp = ListParams::default();
    let services = paging::list_all(cluster, &cluster.api_in::<Service>(namespace), lp.clone()).await?;
    let slices = paging::list_all(cluster, &cluster.api_in::<EndpointSlice>(namespace), lp.clone()).await?;
    let endpoints = paging::list_all(cluster, &cluster.api_in::<Endpoints>(namespace), lp.clone()).await?;
    let policies = paging::list_all(cluster, &cluster.api_in::<NetworkPolicy>(namespace), lp.clone()).await?;

    let mut ready_by_service: BTreeMap<(String, String), usize> = BTreeMap::new();
    for s in &slices {
        let Some(svc) = s.metadata.labels.as_ref().and_then(|l| l.get("kubernetes.io/service-name")) else { continue };
        let ready = s
            .endpoints
            .items()
            .iter()
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true))
            .map(|e| e.addresses.len())
            .sum::<usize>();
        *ready_by_service.entry((s.metadata.namespace.clone().unwrap_or_default(), svc.clone())).or_default() += ready;
    }
    for e in &endpoints {
        let key = (e.metadata.namespace.clone().unwrap_or_default(), e.metadata.name.clone().unwrap_or_default());
        // Endpoints are the fallback for servers or controllers without EndpointSlices.
        ready_by_service.entry(key).or_insert_with(|| {
            e.subsets.iter().flatten().map(|s| s.addresses.as_ref().map(Vec::len).unwrap_or(0)).sum()
        });
    }

    // Pods are matched against every selector as their pages arrive; only what
    // each service and policy selected is kept, not the pods.
    // One entry per service, `None` for services without a selector.
    let mut service_selectors: Vec<Option<(String, LabelSelector, Selected)>> = services
        .iter()
        .map(|s| {
            let sel = s.spec.as_ref().and_then(|sp| sp.selector.as_ref()).filter(|m| !m.is_empty())?;
            Some((s.metadata.namespace.clone().unwrap_or_default(), LabelSelector::from_map(sel), Selected::default()))
        })
        .collect();
    let mut policy_selectors: Vec<(String, LabelSelector, Vec<String>)> = Vec::new();
    for np in &policies {
        let spec = np.spec.as_ref();
        let sel = LabelSelector::from_k8s(spec.and_then(|s| s.pod_selector.as_ref()).or(Some(&Default::default())))
            .map_err(k8sops_core::Error::from)?;
        policy_selectors.push((np.metadata.namespace.clone().unwrap_or_default(), sel, Vec::new()));
    }
    paging::for_each(cluster, &cluster.api_in::<Pod>(namespace), lp, |pod: Pod| {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        for (_, _, selected) in
            service_selectors.iter_mut().flatten().filter(|(n, sel, _)| n == ns && sel.matches(&labels))
        {
            selected.pods += 1;
            for cp in pod.spec.iter().flat_map(|s| s.containers.iter()).flat_map(|c| c.ports.iter().flatten()) {
                selected.ports.insert((cp.container_port, cp.name.clone()));
            }
        }
        for (_, _, names) in policy_selectors.iter_mut().filter(|(n, sel, _)| n == ns && sel.matches(&labels)) {
            names.push(pod.metadata.name.clone().unwrap_or_default());
        }
        Ok::<_, crate::Error>(())
    })
    .await?;

    let mut findings = Vec::new();
    let mut lines = Vec::new();
    for (s, selection) in services.iter().zip(service_selectors) {
        let ns = s.metadata.namespace.clone().unwrap_or_default();
        let name = s.metadata.name.clone().unwrap_or_default();
        let key = format!("{ns}/{name}");
        let spec = s.spec.as_ref();
        let type_ = spec.and_then(|sp| sp.type_.clone()).unwrap_or_else(|| "ClusterIP".into());
        let ports: Vec<_> = spec.and_then(|sp| sp.ports.clone()).unwrap_or_default();
        let ready = ready_by_service.get(&(ns.clone(), name.clone())).copied().unwrap_or(0);
        if type_ != "ExternalName" {
            if let Some((_, sel, matched)) = &selection {
                if matched.pods == 0 {
                    findings
                        .push(ServiceFinding::SelectorMatchesNoPod { service: key.clone(), selector: sel.to_string() });
                } else if !matched.ports.is_empty() {
                    // Ports are optional on containers; without any there is nothing to compare.
                    for p in &ports {
                        let target = p.target_port.clone().unwrap_or(IntOrString::Int(p.port));
                        let found = matched.ports.iter().any(|(number, port_name)| match &target {
                            IntOrString::Int(n) => number == n,
                            IntOrString::String(n) => port_name.as_deref() == Some(n.as_str()),
                        });
                        if !found {
                            let shown = match &target {
                                IntOrString::Int(n) => n.to_string(),
                                IntOrString::String(n) => n.clone(),
                            };
                            findings.push(ServiceFinding::PortMismatch { service: key.clone(), target_port: shown });
                        }
                    }
                }
            }
            if selection.is_some() && ready == 0 {
                findings.push(ServiceFinding::NoReadyEndpoints { service: key.clone() });
            }
        }
        lines.push(ServiceLine {
            namespace: ns,
            name,
            type_,
            cluster_ip: spec.and_then(|sp| sp.cluster_ip.clone()).unwrap_or_default(),
            ports: ports
                .iter()
                .map(|p| {
                    let target = match &p.target_port {
                        Some(IntOrString::Int(n)) => n.to_string(),
                        Some(IntOrString::String(s)) => s.clone(),
                        None => p.port.to_string(),
                    };
                    format!("{}/{}->{target}", p.port, p.protocol.clone().unwrap_or_else(|| "TCP".into()))
                })
                .collect(),
            ready_endpoints: ready,
            selected_pods: selection.map(|(_, _, m)| m.pods),
        });
    }
    let policy_lines = policies
        .iter()
        .zip(policy_selectors)
        .map(|(np, (namespace, _, mut pods))| {
            pods.sort();
            PolicyLine {
                namespace,
                name: np.metadata.name.clone().unwrap_or_default(),
                policy_types: np
                    .spec
                    .as_ref()
                    .and_then(|s| s.policy_types.clone())
                    .unwrap_or_else(|| vec!["Ingress".into()]),
                pods,
            }
        })
        .collect();
    Ok(ServiceReport { services: lines, policies: policy_lines, findings })
}

/// What a service's selector picked: how many pods, and the container ports
/// (number, name) they declare.
#[derive(Default)]
struct Selected {
    pods: usize,
    ports: std::collections::BTreeSet<(i32, Option<String>)>,
}
