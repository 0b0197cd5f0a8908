//! The combined audit: RBAC inventory and risk findings, Pod Security per
//! namespace and PodSecurityPolicy, in one report with a score per
//! namespace — as JSON, as tables, and as SARIF 2.1.0 for code-scanning
//! tools.

use std::{collections::BTreeMap, fmt};

use k8s_openapi::{
    api::core::v1::{Pod, PodSpec, ServiceAccount},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use k8sops_core::{Cluster, Table};
use serde::Serialize;
use serde_json::json;

use crate::{
    inventory::{fetch_rbac, for_each_or_note, list_or_note, InventoryReport},
    pod_security::{pss_report, PssParams, PssReport},
    psp_report::{psp_report, PspReport},
    risk::{findings_table, risk_findings, RiskFinding, Severity, RISK_CHECKS},
    Result,
};

/// A namespace's score: 100 minus points per finding scoped to it (critical
/// 25, high 10, medium 5, low 1), 5 per pod or template that violates its
/// enforced Pod Security level and 1 per pod or template that fails the
/// target level (a pod can cost both), never below 0. Cluster-wide findings are in [`AuditReport::cluster_score`].
///
/// ```
/// let s = k8sops_audit::report::NamespaceScore { namespace: "shop".into(), score: 90, critical: 0, high: 1,
///     medium: 0, low: 0, pods_violating_enforce: 0, pods_failing_target: 0 };
/// assert_eq!(s.score, 90);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceScore {
    /// Namespace.
    pub namespace: String,
    /// 0 to 100, higher is better.
    pub score: u32,
    /// Critical findings.
    pub critical: usize,
    /// High findings.
    pub high: usize,
    /// Medium findings.
    pub medium: usize,
    /// Low findings.
    pub low: usize,
    /// Pods and templates that violate the namespace's enforced level.
    pub pods_violating_enforce: usize,
    /// Pods and templates that fail the target level.
    pub pods_failing_target: usize,
}

fn penalty(s: Severity) -> u32 {
    match s {
        Severity::Critical => 25,
        Severity::High => 10,
        Severity::Medium => 5,
        Severity::Low => 1,
        Severity::Info => 0,
    }
}

/// The whole audit.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops_audit::report::audit(&server.cluster(), &Default::default()).await?;
/// print!("{report}");
/// let sarif = report.sarif();
/// assert_eq!(sarif["version"], "2.1.0");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// RBAC inventory.
    pub inventory: InventoryReport,
    /// Risk findings, most severe first.
    pub findings: Vec<RiskFinding>,
    /// Pod Security per namespace.
    pub pod_security: PssReport,
    /// PodSecurityPolicy (before 1.25).
    pub psp: PspReport,
    /// Score of the cluster-wide findings (ClusterRoleBindings), 0 to 100.
    pub cluster_score: u32,
    /// Score per namespace, lowest first.
    pub namespaces: Vec<NamespaceScore>,
}

/// Runs the whole audit: [`fetch_rbac`], [`risk_findings`] (with pods and
/// service accounts), [`pss_report`] with `params`, [`psp_report`]. A
/// forbidden list makes its part partial (each part's `unreadable`), not an
/// error.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let report = k8sops_audit::report::audit(&server.cluster(), &Default::default()).await?;
/// assert!(report.cluster_score <= 100);
/// # Ok(()) }
/// ```
pub async fn audit(cluster: &Cluster, params: &PssParams) -> Result<AuditReport> {
    let mut inventory = fetch_rbac(cluster).await?;
    // Only what the automount check reads is kept of each pod, page by page.
    let mut pods: Vec<Pod> = Vec::new();
    for_each_or_note(cluster, &cluster.api_all(), "pods", &mut inventory.unreadable, |p: Pod| {
        let spec = p.spec.map(|s| PodSpec {
            service_account_name: s.service_account_name,
            automount_service_account_token: s.automount_service_account_token,
            ..Default::default()
        });
        let metadata = ObjectMeta { name: p.metadata.name, namespace: p.metadata.namespace, ..Default::default() };
        pods.push(Pod { metadata, spec, status: None });
        Ok(())
    })
    .await?;
    let sas: Vec<ServiceAccount> =
        list_or_note(cluster, &cluster.api_all(), "serviceaccounts", &mut inventory.unreadable).await?;
    let findings = risk_findings(&inventory, &pods, &sas);
    let pod_security = pss_report(cluster, params).await?;
    let psp = psp_report(cluster).await?;
    let mut by_ns: BTreeMap<String, NamespaceScore> = BTreeMap::new();
    let blank = |ns: &str| NamespaceScore {
        namespace: ns.to_string(),
        score: 100,
        critical: 0,
        high: 0,
        medium: 0,
        low: 0,
        pods_violating_enforce: 0,
        pods_failing_target: 0,
    };
    let mut cluster_penalty = 0u32;
    for f in &findings {
        match &f.namespace {
            None => cluster_penalty += penalty(f.severity),
            Some(ns) => {
                let s = by_ns.entry(ns.clone()).or_insert_with(|| blank(ns));
                match f.severity {
                    Severity::Critical => s.critical += 1,
                    Severity::High => s.high += 1,
                    Severity::Medium => s.medium += 1,
                    Severity::Low => s.low += 1,
                    Severity::Info => {}
                }
            }
        }
    }
    for ns in &pod_security.namespaces {
        let s = by_ns.entry(ns.namespace.clone()).or_insert_with(|| blank(&ns.namespace));
        s.pods_violating_enforce = ns.pods.iter().filter(|p| !p.admitted()).count();
        s.pods_failing_target = ns.would_break().len();
    }
    let mut namespaces: Vec<NamespaceScore> = by_ns
        .into_values()
        .map(|mut s| {
            let lost = s.critical as u32 * 25
                + s.high as u32 * 10
                + s.medium as u32 * 5
                + s.low as u32
                + s.pods_violating_enforce as u32 * 5
                + s.pods_failing_target as u32;
            s.score = 100u32.saturating_sub(lost);
            s
        })
        .collect();
    namespaces.sort_by(|a, b| a.score.cmp(&b.score).then_with(|| a.namespace.cmp(&b.namespace)));
    Ok(AuditReport {
        inventory: InventoryReport::of(&inventory),
        findings,
        pod_security,
        psp,
        cluster_score: 100u32.saturating_sub(cluster_penalty),
        namespaces,
    })
}

impl AuditReport {
    /// The findings as a SARIF 2.1.0 log (one rule per risk check and one
    /// for Pod Security; results located by logical location `kind/namespace/name`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// let sarif = k8sops_audit::report::audit(&server.cluster(), &Default::default()).await?.sarif();
    /// assert_eq!(sarif["runs"][0]["tool"]["driver"]["name"], "k8sops-audit");
    /// # Ok(()) }
    /// ```
    pub fn sarif(&self) -> serde_json::Value {
        let level = |s: Severity| match s {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low | Severity::Info => "note",
        };
        let mut rules: Vec<serde_json::Value> = RISK_CHECKS
            .iter()
            .map(|c| {
                json!({"id": c.id, "shortDescription": {"text": c.title}, "help": {"text": c.remediation},
                    "defaultConfiguration": {"level": level(c.severity)}})
            })
            .collect();
        rules.push(json!({"id": "pod-security", "shortDescription": {"text": "a pod or pod template violates its namespace's enforced Pod Security level"},
            "help": {"text": "change the pod's securityContext to meet the level, or set the namespace's level deliberately"},
            "defaultConfiguration": {"level": "error"}}));
        let mut results: Vec<serde_json::Value> = self
            .findings
            .iter()
            .map(|f| {
                let name = match (&f.binding, &f.role) {
                    (Some(b), Some(r)) => format!("{b} -> {r}"),
                    _ => f.subject.to_string(),
                };
                json!({"ruleId": f.id, "level": level(f.severity),
                    "message": {"text": format!("{} {}", f.subject, f.message)},
                    "locations": [{"logicalLocations": [{"fullyQualifiedName": name, "kind": "resource"}]}]})
            })
            .collect();
        for ns in &self.pod_security.namespaces {
            for p in ns.pods.iter().filter(|p| !p.admitted()) {
                let reasons: Vec<String> = p.enforced_violations.iter().map(ToString::to_string).collect();
                results.push(json!({"ruleId": "pod-security", "level": "error",
                    "message": {"text": format!("violates PodSecurity \"{}\": {}", ns.policy.enforce, reasons.join(", "))},
                    "locations": [{"logicalLocations": [{"fullyQualifiedName": format!("{}/{}/{}", p.kind, ns.namespace, p.name), "kind": "resource"}]}]}));
            }
        }
        json!({"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "runs": [{"tool": {"driver": {"name": "k8sops-audit", "informationUri": "https://docs.rs/k8sops-audit", "rules": rules}},
                "results": results}]})
    }
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Cluster-wide RBAC score: {}/100", self.cluster_score)?;
        let mut t =
            Table::new(["namespace", "score", "critical", "high", "medium", "low", "violate enforce", "fail target"]);
        for s in &self.namespaces {
            t.row([
                s.namespace.clone(),
                s.score.to_string(),
                s.critical.to_string(),
                s.high.to_string(),
                s.medium.to_string(),
                s.low.to_string(),
                s.pods_violating_enforce.to_string(),
                s.pods_failing_target.to_string(),
            ]);
        }
        write!(f, "{t}")?;
        writeln!(f, "\nRisk findings ({}):", self.findings.len())?;
        write!(f, "{}", findings_table(&self.findings))?;
        writeln!(f, "\nPod Security (target {}):", self.pod_security.target)?;
        write!(f, "{}", self.pod_security)?;
        if self.psp.served {
            writeln!(f, "\nPodSecurityPolicy:")?;
            write!(f, "{}", self.psp)?;
        }
        writeln!(f, "\nRBAC inventory:")?;
        write!(f, "{}", self.inventory)
    }
}
