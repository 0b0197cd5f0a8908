//! The audit against the testkit: every risk finding pinned by a binding
//! made for it, inventory issues, the Pod Security report with pods made to
//! fail each level, and partial reports when lists are forbidden.

use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8sops_audit::{
    inventory::{fetch_rbac, InventoryIssue, InventoryReport},
    pod_security::{pss_report, PssParams},
    pss::Level,
    rbac::{Subject, SubjectKind},
    risk::{risk_findings, RiskFinding, Severity},
};
use k8sops_testkit::TestServer;
use serde_json::{json, Value};

const RBAC: &str = "rbac.authorization.k8s.io/v1";

fn cluster_role(name: &str, rules: Value) -> Value {
    json!({"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules})
}

fn crb(name: &str, role: &str, subjects: Value) -> Value {
    json!({"apiVersion": RBAC, "kind": "ClusterRoleBinding", "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, "subjects": subjects})
}

fn rb(ns: &str, name: &str, kind: &str, role: &str, subjects: Value) -> Value {
    json!({"apiVersion": RBAC, "kind": "RoleBinding", "metadata": {"name": name, "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role}, "subjects": subjects})
}

fn user(name: &str) -> Value {
    json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name})
}

fn group(name: &str) -> Value {
    json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name})
}

fn sa(ns: &str, name: &str) -> Value {
    json!({"kind": "ServiceAccount", "name": name, "namespace": ns})
}

async fn server_with(objects: &[Value]) -> TestServer {
    let server = TestServer::start().await.unwrap();
    for ns in ["team", "other"] {
        server.insert(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})).unwrap();
    }
    for o in objects {
        server.insert(o).unwrap();
    }
    server
}

fn find<'a>(findings: &'a [RiskFinding], id: &str, subject: &Subject) -> Option<&'a RiskFinding> {
    findings.iter().find(|f| f.id == id && &f.subject == subject)
}

#[tokio::test]
async fn every_risk_check_is_raised_by_the_grant_made_for_it_and_not_by_bootstrap_objects() {
    let objects = vec![
        crb("ops-admin", "cluster-admin", json!([user("ops-alice")])),
        // A system-looking name does not make a binding harmless.
        crb("system:sneaky", "cluster-admin", json!([user("system:anonymous"), group("system:serviceaccounts:other")])),
        rb("team", "team-admin", "ClusterRole", "cluster-admin", json!([user("team-lead")])),
        cluster_role("wild", json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}])),
        crb("wild", "wild", json!([user("wild-will")])),
        cluster_role(
            "escalator",
            json!([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"]}]),
        ),
        crb("escalator", "escalator", json!([user("esc-eve")])),
        cluster_role("impersonator", json!([{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}])),
        crb("impersonator", "impersonator", json!([user("imp-ivan")])),
        cluster_role("secret-reader", json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}])),
        rb("team", "secret-reader", "ClusterRole", "secret-reader", json!([user("sec-sam")])),
        cluster_role("exec", json!([{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}])),
        rb("team", "exec", "ClusterRole", "exec", json!([user("exec-ed")])),
        cluster_role("pod-maker", json!([{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create"]}])),
        rb("team", "pod-maker", "ClusterRole", "pod-maker", json!([user("dev-dora")])),
        cluster_role("proxy", json!([{"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}])),
        crb("proxy", "proxy", json!([user("proxy-pat")])),
        cluster_role(
            "tokens",
            json!([{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}]),
        ),
        rb("team", "tokens", "ClusterRole", "tokens", json!([user("tok-tom")])),
        crb("anon", "view", json!([user("system:anonymous")])),
        crb("everyone", "view", json!([group("system:authenticated")])),
        rb("team", "default-sa", "ClusterRole", "view", json!([sa("team", "default")])),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "team"}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "idle", "namespace": "team"}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "quiet", "namespace": "team"}, "automountServiceAccountToken": false}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "idle-pod", "namespace": "team"},
            "spec": {"serviceAccountName": "idle", "containers": [{"name": "c", "image": "x"}]}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "quiet-pod", "namespace": "team"},
            "spec": {"serviceAccountName": "quiet", "containers": [{"name": "c", "image": "x"}]}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "default-pod", "namespace": "team"},
            "spec": {"containers": [{"name": "c", "image": "x"}]}}),
    ];
    let server = server_with(&objects).await;
    let cluster = server.cluster();
    let inventory = fetch_rbac(&cluster).await.unwrap();
    let pods: Vec<Pod> = k8sops_core::paging::list_all(&cluster, &cluster.api_all(), Default::default()).await.unwrap();
    let sas: Vec<ServiceAccount> =
        k8sops_core::paging::list_all(&cluster, &cluster.api_all(), Default::default()).await.unwrap();
    let findings = risk_findings(&inventory, &pods, &sas);
    let u = Subject::user;
    for (id, subject, severity) in [
        ("cluster-admin", u("ops-alice"), Severity::Critical),
        ("wildcard", u("wild-will"), Severity::High),
        ("escalate-bind", u("esc-eve"), Severity::High),
        ("impersonate", u("imp-ivan"), Severity::High),
        ("secrets-read", u("sec-sam"), Severity::High),
        ("pods-exec", u("exec-ed"), Severity::High),
        ("create-workloads", u("dev-dora"), Severity::Medium),
        ("nodes-proxy", u("proxy-pat"), Severity::High),
        ("serviceaccount-token", u("tok-tom"), Severity::High),
        ("anonymous-access", u("system:anonymous"), Severity::Critical),
        ("all-authenticated", Subject::group("system:authenticated"), Severity::High),
        ("default-serviceaccount", Subject::service_account("team", "default"), Severity::Medium),
        ("automount-token", Subject::service_account("team", "idle"), Severity::Low),
    ] {
        let f = find(&findings, id, &subject).unwrap_or_else(|| panic!("{id} for {subject}: {findings:#?}"));
        assert_eq!(f.severity, severity, "{f}");
    }
    let sneaky: Vec<&RiskFinding> =
        findings.iter().filter(|f| f.binding.as_ref().is_some_and(|b| b.name == "system:sneaky")).collect();
    assert!(sneaky.iter().any(|f| f.id == "anonymous-access"), "{sneaky:#?}");
    assert!(
        sneaky.iter().any(|f| f.id == "cluster-admin" && f.subject == Subject::group("system:serviceaccounts:other")),
        "{sneaky:#?}"
    );
    // cluster-admin through a RoleBinding is admin of one namespace: high, not critical.
    assert_eq!(find(&findings, "cluster-admin", &u("team-lead")).unwrap().severity, Severity::High);
    // Scope is the binding's: a RoleBinding's finding is about its namespace.
    assert_eq!(find(&findings, "secrets-read", &u("sec-sam")).unwrap().namespace.as_deref(), Some("team"));
    assert!(find(&findings, "cluster-admin", &u("ops-alice"))
        .unwrap()
        .to_string()
        .contains("ClusterRoleBinding/ops-admin"));
    // A pod whose service account opts out, and one whose account has grants, raise nothing.
    assert!(find(&findings, "automount-token", &Subject::service_account("team", "quiet")).is_none());
    assert!(find(&findings, "automount-token", &Subject::service_account("team", "default")).is_none());
    // The bootstrap objects (system:masters is cluster-admin, system:basic-user
    // for system:authenticated, controllers' roles) raise nothing.
    assert!(findings.iter().all(|f| f.subject.name != "system:masters"), "{findings:#?}");
    assert!(
        findings.iter().filter(|f| f.id == "all-authenticated").all(|f| f.binding.as_ref().unwrap().name == "everyone"),
        "{findings:#?}"
    );
    assert!(findings.windows(2).all(|w| w[0].severity >= w[1].severity));
    // And they serialize as the report's JSON.
    let json = serde_json::to_value(&findings[0]).unwrap();
    assert_eq!(json["severity"], "critical");
    assert!(json["subject"]["kind"].is_string());
}

#[tokio::test]
async fn the_inventory_flags_bindings_to_missing_roles_and_service_accounts() {
    let objects = vec![
        rb("team", "ghost-role", "Role", "not-there", json!([user("alice")])),
        crb("ghost-cluster-role", "not-there-either", json!([group("devs")])),
        rb("team", "ghost-sa", "ClusterRole", "view", json!([{"kind": "ServiceAccount", "name": "builder"}])),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "present", "namespace": "team"}}),
        rb("team", "real-sa", "ClusterRole", "view", json!([sa("team", "present")])),
    ];
    let server = server_with(&objects).await;
    let inventory = fetch_rbac(&server.cluster()).await.unwrap();
    let report = InventoryReport::of(&inventory);
    let text: Vec<String> = report.issues.iter().map(ToString::to_string).collect();
    assert!(
        report
            .issues
            .iter()
            .any(|i| matches!(i, InventoryIssue::MissingRole { role, .. } if role == "Role/team/not-there")),
        "{text:?}"
    );
    assert!(
        report
            .issues
            .iter()
            .any(|i| matches!(i, InventoryIssue::MissingRole { role, .. } if role == "ClusterRole/not-there-either")),
        "{text:?}"
    );
    assert!(
        report.issues.iter().any(|i| matches!(i, InventoryIssue::MissingServiceAccount { service_account, .. } if service_account == "team/builder")),
        "{text:?}"
    );
    assert!(!text.iter().any(|t| t.contains("team/present")), "{text:?}");
    let alice = report.subjects.iter().find(|s| s.subject == Subject::user("alice")).unwrap();
    assert_eq!(alice.bindings[0].to_string(), "RoleBinding/team/ghost-role");
    assert!(report.subjects.iter().any(|s| s.subject.kind == SubjectKind::Group && s.subject.name == "devs"));
    assert!(report.to_string().contains("refers to Role/team/not-there, which does not exist"));
}

#[tokio::test]
async fn forbidden_lists_make_a_partial_report_that_says_what_was_not_read() {
    let objects = vec![
        cluster_role(
            "rbac-reader",
            json!([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["*"], "verbs": ["list", "get"]}]),
        ),
        crb("auditor", "rbac-reader", json!([user("auditor")])),
    ];
    let server = server_with(&objects).await;
    let path = server.add_user("auditor", &[]).unwrap();
    let auditor = k8sops_core::Cluster::from_kubeconfig(&path, None).await.unwrap();
    let inventory = fetch_rbac(&auditor).await.unwrap();
    let unreadable: Vec<&str> = inventory.unreadable.iter().map(|u| u.resource.as_str()).collect();
    assert_eq!(unreadable, ["serviceaccounts", "namespaces"]);
    assert!(inventory.snapshot.cluster_role("rbac-reader").is_some());
    let report = InventoryReport::of(&inventory);
    // Service accounts were not read: none is reported missing.
    assert!(!report.issues.iter().any(|i| matches!(i, InventoryIssue::MissingServiceAccount { .. })));
    assert!(report.to_string().contains("not read: serviceaccounts"));
    let pss = pss_report(&auditor, &PssParams::default()).await.unwrap();
    assert!(pss.unreadable.iter().any(|u| u.resource == "pods"), "{:?}", pss.unreadable);
}

#[tokio::test]
async fn the_pss_report_evaluates_pods_and_templates_against_each_namespaces_labels() {
    let restricted_ok = json!({"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "c", "image": "x", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]});
    let baseline_only = json!({"containers": [{"name": "c", "image": "x"}]});
    let privileged = json!({"hostNetwork": true, "containers": [{"name": "c", "image": "x", "securityContext": {"privileged": true}}]});
    let pod = |ns: &str, name: &str, spec: &Value| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec});
    let objects = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "locked",
            "labels": {"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/enforce-version": "v1.24"}}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "typo", "labels": {"pod-security.kubernetes.io/enforce": "strict"}}}),
        pod("team", "good", &restricted_ok),
        pod("team", "plain", &baseline_only),
        pod("locked", "root", &privileged),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "locked"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": privileged}}}),
    ];
    let server = server_with(&objects).await;
    let report = pss_report(&server.cluster(), &PssParams::default()).await.unwrap();
    let ns = |name: &str| report.namespaces.iter().find(|n| n.namespace == name).unwrap();

    let team = ns("team");
    assert_eq!(team.policy.enforce.level, Level::Privileged);
    let verdict = |n: &str| team.pods.iter().find(|p| p.name == n).unwrap();
    assert_eq!(verdict("good").highest_level, Level::Restricted);
    assert_eq!(verdict("plain").highest_level, Level::Baseline);
    let broken: Vec<&str> = team.would_break().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(broken, ["plain"]);
    assert!(verdict("plain").target_violations.iter().any(|v| v.check == "allowPrivilegeEscalation"));

    let locked = ns("locked");
    assert_eq!(locked.policy.enforce.to_string(), "baseline:v1.24");
    let web = locked.pods.iter().find(|p| p.kind == "Deployment" && p.name == "web").unwrap();
    assert!(!web.admitted());
    let checks: Vec<&str> = web.enforced_violations.iter().map(|v| v.check).collect();
    assert_eq!(checks, ["hostNamespaces", "privileged"]);
    assert_eq!(locked.strictest_level_possible(), Level::Privileged);

    // An invalid enforce level is evaluated as restricted, as the admission plugin does, and reported.
    let typo = ns("typo");
    assert_eq!(typo.policy.enforce.level, Level::Restricted);
    assert_eq!(typo.invalid_labels.len(), 1, "{:?}", typo.invalid_labels);
    assert!(report.to_string().contains("typo: invalid label"));
}

#[tokio::test]
async fn a_namespace_name_that_is_not_one_is_refused_before_any_request() {
    let server = server_with(&[]).await;
    let labels = k8sops_audit::pss::NamespaceLabels { enforce: Some(Level::Baseline), ..Default::default() };
    for bad in ["team/status", "team?dryRun=All", "Team", ""] {
        let err =
            k8sops_audit::pod_security::apply_pss_labels(&server.cluster(), bad, &labels, k8sops_core::DryRun::Server)
                .await
                .unwrap_err();
        assert!(err.to_string().contains("is not a namespace name"), "{bad}: {err}");
    }
    assert!(server.requests().iter().all(|r| r.method != "PATCH"));
}
