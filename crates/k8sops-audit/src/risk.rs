//! RBAC risk findings: grants that let a subject take over the cluster or
//! read what it should not, each with a severity and a remediation — the
//! checks rbac-tool, kubescape and polaris make. Every finding names the
//! subject and the binding and role that grant it.
//!
//! Bootstrap objects (the API server's own `system:` roles and bindings,
//! marked `rbac.authorization.kubernetes.io/autoupdate`) and the control
//! plane's own subjects (`system:` users and groups, service accounts in
//! `kube-system`) are what a cluster needs to work and are left out.

use std::{collections::BTreeMap, fmt};

use k8s_openapi::api::{
    core::v1::{Pod, ServiceAccount},
    rbac::v1::PolicyRule,
};
use k8sops_core::Table;
use serde::Serialize;

use crate::{
    inventory::{serialize_subject, BindingRef, RbacInventory},
    rbac::{rules_allow, Attributes, RbacSnapshot, Subject, SubjectKind},
};

/// How bad a finding is.
///
/// ```
/// use k8sops_audit::risk::Severity;
/// assert!(Severity::Critical > Severity::Low);
/// assert_eq!(Severity::High.to_string(), "high");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Tighten when convenient.
    Low,
    /// A privilege that should be justified.
    Medium,
    /// A path to other subjects' privileges or data.
    High,
    /// Cluster takeover or unauthenticated access.
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        })
    }
}

/// One risky grant.
///
/// ```
/// use k8sops_audit::{inventory::BindingRef, rbac::Subject, risk::{RiskFinding, Severity}};
/// let f = RiskFinding {
///     id: "secrets-read", severity: Severity::High, subject: Subject::user("alice"),
///     binding: Some(BindingRef { namespace: None, name: "readers".into() }), role: Some("ClusterRole/secret-reader".into()),
///     namespace: None, message: "can read secrets in all namespaces".into(), remediation: "grant get on named secrets only".into(),
/// };
/// assert!(f.to_string().starts_with("[high] secrets-read: User \"alice\" can read secrets"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskFinding {
    /// Stable ID of the check (see [`RISK_CHECKS`]).
    pub id: &'static str,
    /// Severity.
    pub severity: Severity,
    /// Who holds the grant.
    #[serde(serialize_with = "serialize_subject")]
    pub subject: Subject,
    /// The binding that grants it (none for a pod-level finding).
    pub binding: Option<BindingRef>,
    /// The role bound (`ClusterRole/name` or `Role/ns/name`).
    pub role: Option<String>,
    /// The namespace the finding is about; `None` for cluster-wide.
    pub namespace: Option<String>,
    /// What the subject can do.
    pub message: String,
    /// What to do about it.
    pub remediation: String,
}

impl fmt::Display for RiskFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {} {}", self.severity, self.id, self.subject, self.message)?;
        if let (Some(b), Some(r)) = (&self.binding, &self.role) {
            write!(f, " (via {b} -> {r})")?;
        }
        Ok(())
    }
}

/// A risk check: ID, severity, what it finds and the remediation.
///
/// ```
/// let ids: Vec<&str> = k8sops_audit::risk::RISK_CHECKS.iter().map(|c| c.id).collect();
/// assert!(ids.contains(&"cluster-admin"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RiskCheck {
    /// Stable ID.
    pub id: &'static str,
    /// Severity of its findings.
    pub severity: Severity,
    /// What it looks for.
    pub title: &'static str,
    /// What to do about a finding.
    pub remediation: &'static str,
}

macro_rules! checks {
    ($($name:ident = $id:literal, $sev:ident, $title:literal, $fix:literal;)*) => {
        $(const $name: RiskCheck = RiskCheck { id: $id, severity: Severity::$sev, title: $title, remediation: $fix };)*
        /// Every risk check, most severe first.
        ///
        /// ```
        /// assert!(k8sops_audit::risk::RISK_CHECKS.windows(2).all(|w| w[0].severity >= w[1].severity));
        /// ```
        pub const RISK_CHECKS: &[RiskCheck] = &[$($name),*];
    };
}

checks! {
    CLUSTER_ADMIN = "cluster-admin", Critical, "a non-system subject bound to cluster-admin",
        "bind a role with only the verbs and resources the subject needs; keep cluster-admin for break-glass accounts";
    ANONYMOUS = "anonymous-access", Critical, "a binding to system:anonymous or system:unauthenticated",
        "remove the subject from the binding: anyone who can reach the API server gets the grant";
    WILDCARD = "wildcard", High, "a role granting `*` verbs or `*` resources",
        "list the verbs and resources explicitly: a wildcard also grants what later versions and CRDs add";
    ESCALATE = "escalate-bind", High, "`escalate` or `bind` on roles or clusterroles",
        "remove escalate/bind: they let the subject grant itself any permission";
    IMPERSONATE = "impersonate", High, "`impersonate` on users, groups or service accounts",
        "remove impersonate, or restrict it with resourceNames to the identities needed";
    NODES_PROXY = "nodes-proxy", High, "access to `nodes/proxy`",
        "remove nodes/proxy: it reaches the kubelet API (exec into any pod on the node) and bypasses audit";
    TOKEN_CREATE = "serviceaccount-token", High, "`create` on `serviceaccounts/token`",
        "remove it: the subject can mint tokens for every service account in scope";
    EXEC = "pods-exec", High, "`create` on `pods/exec` or `pods/attach`",
        "grant exec only to operators who need it, in the namespaces they need";
    AUTHENTICATED = "all-authenticated", High, "a binding to system:authenticated",
        "bind named users or groups: every authenticated identity, including every service account, gets the grant";
    SECRETS = "secrets-read", High, "`get`, `list` or `watch` on secrets",
        "grant `get` on named secrets (resourceNames) instead of reading them all";
    WORKLOADS = "create-workloads", Medium, "`create` on pods or workload controllers",
        "a subject that creates pods can run them as any service account of the namespace and mount its secrets; enforce Pod Security and limit the grant";
    DEFAULT_SA = "default-serviceaccount", Medium, "a binding to a namespace's `default` service account",
        "create a dedicated service account: every pod that names none runs as `default` and gets the grant";
    AUTOMOUNT = "automount-token", Low, "a pod that mounts a service account token it has no use for",
        "set automountServiceAccountToken: false on the pod or its service account (it has no RBAC grants)";
}

/// Whether a role or binding is one the API server bootstraps: named
/// `system:*` (or one of the default user-facing roles) AND marked for
/// reconciliation (`rbac.authorization.kubernetes.io/autoupdate: "true"`),
/// as the API server writes them. A name alone is not enough: anyone may
/// create a `system:x` binding.
fn bootstrap(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> bool {
    let name = meta.name.as_deref().unwrap_or("");
    let default_name = name.starts_with("system:") || matches!(name, "cluster-admin" | "admin" | "edit" | "view");
    default_name
        && meta
            .annotations
            .as_ref()
            .and_then(|a| a.get("rbac.authorization.kubernetes.io/autoupdate"))
            .is_some_and(|v| v == "true")
}

/// Default bindings (upstream bootstrap policy and kubeadm) that grant broad
/// groups or anonymous users something harmless: `(namespace, binding,
/// role)`. They are what a stock cluster has and are not reported.
const DEFAULT_BROAD_BINDINGS: &[(&str, &str, &str)] = &[
    ("", "system:basic-user", "system:basic-user"),
    ("", "system:discovery", "system:discovery"),
    ("", "system:public-info-viewer", "system:public-info-viewer"),
    ("", "system:service-account-issuer-discovery", "system:service-account-issuer-discovery"),
    ("kube-public", "kubeadm:bootstrap-signer-clusterinfo", "kubeadm:bootstrap-signer-clusterinfo"),
    ("kube-public", "system:controller:bootstrap-signer", "system:controller:bootstrap-signer"),
];

/// Whether a subject is the control plane's own: `system:` users and groups
/// other than the broad groups (`system:authenticated`,
/// `system:unauthenticated`, `system:serviceaccounts[:ns]`) and anonymous,
/// and the controllers' service accounts in `kube-system`.
fn system_subject(s: &Subject) -> bool {
    match s.kind {
        SubjectKind::ServiceAccount => s.namespace.as_deref() == Some("kube-system"),
        _ => {
            s.name.starts_with("system:")
                && !matches!(s.name.as_str(), "system:anonymous" | "system:unauthenticated" | "system:authenticated")
                && !s.name.starts_with("system:serviceaccounts")
        }
    }
}

/// A dangerous permission: attributes to test each rule against.
struct Probe {
    check: RiskCheck,
    what: &'static str,
    /// `(verb, group, resource, subresource, cluster-scoped)`: a RoleBinding
    /// cannot grant a cluster-scoped request, so those are only asked of
    /// ClusterRoleBindings.
    requests: &'static [(&'static str, &'static str, &'static str, &'static str, bool)],
}

const PROBES: &[Probe] = &[
    Probe {
        check: ESCALATE,
        what: "escalate or bind roles",
        requests: &[
            ("escalate", "rbac.authorization.k8s.io", "roles", "", false),
            ("escalate", "rbac.authorization.k8s.io", "clusterroles", "", true),
            ("bind", "rbac.authorization.k8s.io", "roles", "", false),
            ("bind", "rbac.authorization.k8s.io", "clusterroles", "", false),
        ],
    },
    Probe {
        check: IMPERSONATE,
        what: "impersonate other identities",
        requests: &[
            ("impersonate", "", "users", "", true),
            ("impersonate", "", "groups", "", true),
            ("impersonate", "", "serviceaccounts", "", false),
        ],
    },
    Probe {
        check: NODES_PROXY,
        what: "reach the kubelet API through nodes/proxy",
        requests: &[("get", "", "nodes", "proxy", true), ("create", "", "nodes", "proxy", true)],
    },
    Probe {
        check: TOKEN_CREATE,
        what: "create service account tokens",
        requests: &[("create", "", "serviceaccounts", "token", false)],
    },
    Probe {
        check: EXEC,
        what: "exec or attach into pods",
        requests: &[("create", "", "pods", "exec", false), ("create", "", "pods", "attach", false)],
    },
    Probe {
        check: SECRETS,
        what: "read secrets",
        requests: &[
            ("get", "", "secrets", "", false),
            ("list", "", "secrets", "", false),
            ("watch", "", "secrets", "", false),
        ],
    },
    Probe {
        check: WORKLOADS,
        what: "create pods or workloads",
        requests: &[
            ("create", "", "pods", "", false),
            ("create", "apps", "deployments", "", false),
            ("create", "apps", "daemonsets", "", false),
            ("create", "apps", "statefulsets", "", false),
            ("create", "apps", "replicasets", "", false),
            ("create", "batch", "jobs", "", false),
            ("create", "batch", "cronjobs", "", false),
            ("create", "", "replicationcontrollers", "", false),
        ],
    },
];

fn wildcard(rules: &[PolicyRule]) -> bool {
    rules.iter().any(|r| r.verbs.iter().any(|v| v == "*") || r.resources.iter().flatten().any(|x| x == "*"))
}

/// One binding resolved: its subjects, role name and rules.
struct Resolved<'a> {
    binding: BindingRef,
    role: String,
    role_name: &'a str,
    role_is_bootstrap: bool,
    binding_is_bootstrap: bool,
    rules: &'a [PolicyRule],
    subjects: Vec<Subject>,
}

fn resolved(snap: &RbacSnapshot) -> Vec<Resolved<'_>> {
    let mut out = Vec::new();
    for b in snap.cluster_role_bindings() {
        let Some(role) = snap.cluster_role(&b.role_ref.name).filter(|_| b.role_ref.kind == "ClusterRole") else {
            continue;
        };
        out.push(Resolved {
            binding: BindingRef { namespace: None, name: b.metadata.name.clone().unwrap_or_default() },
            role: format!("ClusterRole/{}", b.role_ref.name),
            role_name: role.metadata.name.as_deref().unwrap_or(""),
            role_is_bootstrap: bootstrap(&role.metadata),
            binding_is_bootstrap: bootstrap(&b.metadata),
            rules: role.rules.as_deref().unwrap_or(&[]),
            subjects: b.subjects.iter().flatten().map(|s| Subject::from_binding(s, None)).collect(),
        });
    }
    for b in snap.role_bindings() {
        let ns = b.metadata.namespace.clone().unwrap_or_default();
        let (meta, rules, role) = match b.role_ref.kind.as_str() {
            "ClusterRole" => match snap.cluster_role(&b.role_ref.name) {
                Some(r) => (&r.metadata, r.rules.as_deref().unwrap_or(&[]), format!("ClusterRole/{}", b.role_ref.name)),
                None => continue,
            },
            "Role" => match snap.role(&ns, &b.role_ref.name) {
                Some(r) => (&r.metadata, r.rules.as_deref().unwrap_or(&[]), format!("Role/{ns}/{}", b.role_ref.name)),
                None => continue,
            },
            _ => continue,
        };
        out.push(Resolved {
            binding: BindingRef { namespace: Some(ns.clone()), name: b.metadata.name.clone().unwrap_or_default() },
            role,
            role_name: meta.name.as_deref().unwrap_or(""),
            role_is_bootstrap: bootstrap(meta),
            binding_is_bootstrap: bootstrap(&b.metadata),
            rules,
            subjects: b.subjects.iter().flatten().map(|s| Subject::from_binding(s, Some(&ns))).collect(),
        });
    }
    out
}

/// The risk findings of an inventory, most severe first. `pods` and
/// `service_accounts` (optional: pass empty slices to skip) feed the
/// automount check.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let inventory = k8sops_audit::inventory::fetch_rbac(&server.cluster()).await?;
/// for f in k8sops_audit::risk::risk_findings(&inventory, &[], &[]) {
///     println!("{f}");
/// }
/// # Ok(()) }
/// ```
pub fn risk_findings(inv: &RbacInventory, pods: &[Pod], service_accounts: &[ServiceAccount]) -> Vec<RiskFinding> {
    let mut out = Vec::new();
    let finding = |check: RiskCheck, subject: &Subject, r: &Resolved<'_>, message: String| RiskFinding {
        id: check.id,
        severity: check.severity,
        subject: subject.clone(),
        binding: Some(r.binding.clone()),
        role: Some(r.role.clone()),
        namespace: r.binding.namespace.clone(),
        message,
        remediation: check.remediation.to_string(),
    };
    let scope = |r: &Resolved<'_>| match &r.binding.namespace {
        Some(ns) => format!("in namespace {ns}"),
        None => "in all namespaces".to_string(),
    };
    for r in resolved(&inv.snapshot) {
        let default_broad = DEFAULT_BROAD_BINDINGS.iter().any(|(ns, binding, role)| {
            r.binding.namespace.as_deref().unwrap_or("") == *ns && r.binding.name == *binding && r.role_name == *role
        });
        for s in &r.subjects {
            if matches!(s.name.as_str(), "system:anonymous" | "system:unauthenticated")
                && matches!(s.kind, SubjectKind::User | SubjectKind::Group)
                && !default_broad
            {
                out.push(finding(
                    ANONYMOUS,
                    s,
                    &r,
                    format!("(unauthenticated callers) are granted {} {}", r.role, scope(&r)),
                ));
            }
            if s.kind == SubjectKind::Group && s.name == "system:authenticated" && !default_broad {
                out.push(finding(
                    AUTHENTICATED,
                    s,
                    &r,
                    format!("(every authenticated identity) is granted {} {}", r.role, scope(&r)),
                ));
            }
            if s.kind == SubjectKind::ServiceAccount && s.name == "default" && !system_subject(s) {
                out.push(finding(DEFAULT_SA, s, &r, format!("is granted {} {}", r.role, scope(&r))));
            }
            if system_subject(s) || default_broad || (r.binding_is_bootstrap && s.name.starts_with("system:")) {
                continue;
            }
            if r.role_name == "cluster-admin" {
                let mut f = finding(CLUSTER_ADMIN, s, &r, format!("is cluster-admin {}", scope(&r)));
                if r.binding.namespace.is_some() {
                    // A RoleBinding makes it admin of one namespace, not of the cluster.
                    f.severity = Severity::High;
                }
                out.push(f);
                // Everything below is implied.
                continue;
            }
            if wildcard(r.rules) && !r.role_is_bootstrap {
                out.push(finding(WILDCARD, s, &r, format!("is granted wildcard verbs or resources {}", scope(&r))));
            }
            for p in PROBES {
                let namespaced_binding = r.binding.namespace.is_some();
                let hit = p.requests.iter().filter(|q| !(namespaced_binding && q.4)).any(
                    |(verb, group, resource, sub, _)| {
                        let ns = r.binding.namespace.clone().unwrap_or_default();
                        let attrs = Attributes::resource(*verb, *group, *resource, ns);
                        let attrs = if sub.is_empty() { attrs } else { attrs.subresource(*sub) };
                        rules_allow(&attrs, r.rules)
                    },
                );
                if hit {
                    out.push(finding(p.check, s, &r, format!("can {} {}", p.what, scope(&r))));
                }
            }
        }
    }
    // Without every binding, a service account may have grants we cannot see: no guessing.
    let bindings_read =
        !inv.unreadable.iter().any(|u| u.resource.contains("bindings.") || u.resource == "serviceaccounts");
    if bindings_read {
        out.extend(automount(inv, pods, service_accounts));
    }
    out.sort_by(|a, b| {
        b.severity.cmp(&a.severity).then_with(|| a.id.cmp(b.id)).then_with(|| a.subject.cmp(&b.subject))
    });
    out
}

/// Pods that mount a token of a service account with no RBAC grant at all.
fn automount(inv: &RbacInventory, pods: &[Pod], service_accounts: &[ServiceAccount]) -> Vec<RiskFinding> {
    let bound: std::collections::HashSet<Subject> = inv.snapshot.subjects().into_iter().collect();
    let sa_automount: BTreeMap<(String, String), Option<bool>> = service_accounts
        .iter()
        .map(|s| {
            let key = (s.metadata.namespace.clone().unwrap_or_default(), s.metadata.name.clone().unwrap_or_default());
            (key, s.automount_service_account_token)
        })
        .collect();
    // Bindings to every service account, or to those of one namespace.
    let all_sas_bound = bound.iter().any(|b| b.kind == SubjectKind::Group && b.name == "system:serviceaccounts");
    let ns_groups_bound: std::collections::HashSet<&str> = bound
        .iter()
        .filter(|b| b.kind == SubjectKind::Group)
        .filter_map(|b| b.name.strip_prefix("system:serviceaccounts:"))
        .collect();
    let mut out = Vec::new();
    for p in pods {
        let Some(spec) = &p.spec else { continue };
        let ns = p.metadata.namespace.clone().unwrap_or_default();
        if ns == "kube-system" {
            continue;
        }
        let sa = spec.service_account_name.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "default".into());
        // The pod's own setting wins over the service account's; both unset means mounted.
        let mounted = spec
            .automount_service_account_token
            .or_else(|| sa_automount.get(&(ns.clone(), sa.clone())).copied().flatten())
            .unwrap_or(true);
        let subject = Subject::service_account(ns.clone(), sa.clone());
        let group_bound = all_sas_bound || ns_groups_bound.contains(ns.as_str());
        if mounted && !bound.contains(&subject) && !group_bound {
            out.push(RiskFinding {
                id: AUTOMOUNT.id,
                severity: AUTOMOUNT.severity,
                subject,
                binding: None,
                role: None,
                namespace: Some(ns.clone()),
                message: format!(
                    "is mounted into pod {ns}/{} but has no RBAC grants",
                    p.metadata.name.as_deref().unwrap_or("")
                ),
                remediation: AUTOMOUNT.remediation.to_string(),
            });
        }
    }
    out
}

/// Findings as a table (severity, check, subject, via, what).
///
/// ```
/// print!("{}", k8sops_audit::risk::findings_table(&[]));
/// ```
pub fn findings_table(findings: &[RiskFinding]) -> Table {
    let mut t = Table::new(["severity", "check", "subject", "via", "finding"]);
    for f in findings {
        let via = match (&f.binding, &f.role) {
            (Some(b), Some(r)) => format!("{b} -> {r}"),
            _ => String::new(),
        };
        t.row([f.severity.to_string(), f.id.to_string(), f.subject.to_string(), via, f.message.clone()]);
    }
    t
}
