//! PodSecurityPolicy on clusters that still serve it (`policy/v1beta1`,
//! removed in 1.25): each policy, the pods it would admit as they are, and
//! the Pod Security Standards level to label namespaces with when migrating
//! off it ([`crate::psp`] holds the rules).

use std::fmt;

use k8s_openapi::api::core::v1::Pod;
use k8sops_core::{Cluster, Table};
use serde::Serialize;

use crate::{
    inventory::{list_or_note, Unreadable},
    psp::{admits, pss_level, PodSecurityPolicy},
    pss::Level,
    Result,
};

/// One policy: the pods it admits, and its Pod Security Standards level.
///
/// ```
/// use k8sops_audit::{psp_report::PolicyLine, pss::Level};
/// let line = PolicyLine { name: "restricted".into(), pss_level: Level::Restricted, reasons: vec![],
///     admitted_pods: vec!["shop/web-0".into()], refused_pods: 3 };
/// assert_eq!(line.admitted_pods.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyLine {
    /// The policy.
    pub name: String,
    /// The strictest Pod Security level that admits what the policy admits.
    pub pss_level: Level,
    /// Why not stricter: the policy fields that force the level.
    pub reasons: Vec<String>,
    /// Pods (`namespace/name`) the policy admits as they are.
    pub admitted_pods: Vec<String>,
    /// How many pods it would refuse.
    pub refused_pods: usize,
}

/// The PodSecurityPolicy report.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let report = k8sops_audit::psp_report::psp_report(&server.cluster()).await?;
/// assert!(!report.served); // the testkit serves Kubernetes 1.25+ APIs only
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PspReport {
    /// Whether the server serves `policy/v1beta1` PodSecurityPolicy at all.
    pub served: bool,
    /// The policies, in name order.
    pub policies: Vec<PolicyLine>,
    /// Pods no policy admits (`namespace/name`): with the PSP admission plugin
    /// on, their replacements would be refused.
    pub unadmitted_pods: Vec<String>,
    /// What could not be read.
    pub unreadable: Vec<Unreadable>,
}

impl fmt::Display for PspReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.served {
            return writeln!(
                f,
                "PodSecurityPolicy is not served (removed in Kubernetes 1.25): use Pod Security Standards labels"
            );
        }
        let mut t = Table::new(["policy", "pss level", "admits pods", "refuses pods", "why not stricter"]);
        for p in &self.policies {
            t.row([
                p.name.clone(),
                p.pss_level.to_string(),
                p.admitted_pods.len().to_string(),
                p.refused_pods.to_string(),
                p.reasons.join("; "),
            ]);
        }
        write!(f, "{t}")?;
        for p in &self.unadmitted_pods {
            writeln!(f, "admitted by no policy: {p}")?;
        }
        for u in &self.unreadable {
            writeln!(f, "not read: {u}")?;
        }
        Ok(())
    }
}

/// Lists PodSecurityPolicies (when `policy/v1beta1` serves them) and
/// evaluates every pod against each.
///
/// # RBAC
/// list on podsecuritypolicies (`policy`) and pods; `/apis/policy/v1beta1`
/// discovery.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// print!("{}", k8sops_audit::psp_report::psp_report(&server.cluster()).await?);
/// # Ok(()) }
/// ```
pub async fn psp_report(cluster: &Cluster) -> Result<PspReport> {
    let client = cluster.client();
    let served = match client.list_api_group_resources("policy/v1beta1").await {
        Ok(list) => list.resources.iter().any(|r| r.name == "podsecuritypolicies"),
        Err(kube::Error::Api(s)) if s.code == 404 => false,
        Err(e) => return Err(cluster.map_err(e, "/apis/policy/v1beta1").into()),
    };
    let mut report = PspReport { served, policies: Vec::new(), unadmitted_pods: Vec::new(), unreadable: Vec::new() };
    if !served {
        return Ok(report);
    }
    let mut policies: Vec<PodSecurityPolicy> = Vec::new();
    let mut cont: Option<String> = None;
    loop {
        let mut uri = "/apis/policy/v1beta1/podsecuritypolicies?limit=500".to_string();
        if let Some(c) = &cont {
            uri.push_str("&continue=");
            uri.push_str(&form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>());
        }
        let req = http::Request::get(uri.as_str())
            .body(Vec::new())
            .map_err(|e| k8sops_core::Error::InvalidInput { message: e.to_string(), source: None })?;
        let page: serde_json::Value = match cluster
            .retry_policy()
            .run(|_| async { client.request(req.clone()).await.map_err(|e| cluster.map_err(e, "podsecuritypolicies")) })
            .await
        {
            Ok(p) => p,
            Err(e @ k8sops_core::Error::Forbidden { .. }) => {
                report
                    .unreadable
                    .push(Unreadable { resource: "podsecuritypolicies.policy".into(), reason: e.to_string() });
                return Ok(report);
            }
            Err(e) => return Err(e.into()),
        };
        for item in page["items"].as_array().into_iter().flatten() {
            let psp: PodSecurityPolicy = serde_json::from_value(item.clone())
                .map_err(|source| k8sops_core::Error::Decode { what: "a PodSecurityPolicy".into(), source })?;
            policies.push(psp);
        }
        cont = page["metadata"]["continue"].as_str().filter(|c| !c.is_empty()).map(str::to_string);
        if cont.is_none() {
            break;
        }
    }
    let pods: Vec<Pod> = list_or_note(cluster, &cluster.api_all(), "pods", &mut report.unreadable).await?;
    policies.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut admitted_by_any = vec![false; pods.len()];
    for psp in &policies {
        let mapping = pss_level(psp);
        let mut admitted = Vec::new();
        let mut refused = 0;
        for (i, p) in pods.iter().enumerate() {
            let Some(spec) = &p.spec else { continue };
            if admits(psp, &p.metadata, spec).allowed {
                admitted_by_any[i] = true;
                admitted.push(k8sops_core::object_status::namespaced_name(&p.metadata));
            } else {
                refused += 1;
            }
        }
        report.policies.push(PolicyLine {
            name: psp.metadata.name.clone().unwrap_or_default(),
            pss_level: mapping.level,
            reasons: mapping.reasons,
            admitted_pods: admitted,
            refused_pods: refused,
        });
    }
    if !policies.is_empty() {
        report.unadmitted_pods = pods
            .iter()
            .zip(admitted_by_any)
            .filter(|(p, ok)| !ok && p.spec.is_some())
            .map(|(p, _)| k8sops_core::object_status::namespaced_name(&p.metadata))
            .collect();
    }
    Ok(report)
}

/// The most permissive level among the policies, as a starting point for a
/// namespace's `enforce` label (the level of the most permissive policy its
/// pods use is the safe choice).
///
/// ```
/// use k8sops_audit::{psp_report::{most_permissive_level, PolicyLine}, pss::Level};
/// let line = |l| PolicyLine { name: "p".into(), pss_level: l, reasons: vec![], admitted_pods: vec![], refused_pods: 0 };
/// assert_eq!(most_permissive_level(&[line(Level::Restricted), line(Level::Baseline)]), Some(Level::Baseline));
/// ```
pub fn most_permissive_level(policies: &[PolicyLine]) -> Option<Level> {
    policies.iter().map(|p| p.pss_level).min()
}
