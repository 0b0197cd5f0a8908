//! The offline RBAC evaluator against the API server's own authorizer: the
//! same subject/verb/resource/namespace questions answered from fetched RBAC
//! objects and by a SubjectAccessReview, on the real kube-apiserver (RBAC
//! authorizer, aggregation controller) and on the testkit. Every case must
//! agree; `who_can` must name a grant for exactly the subjects allowed.

use std::time::{Duration, Instant};

mod common;

use k8s_openapi::api::{authorization::v1::SubjectAccessReview, rbac::v1::ClusterRole};
use k8sops_audit::{
    inventory::fetch_rbac,
    rbac::{Attributes, UserInfo},
};
use k8sops_core::Cluster;
use k8sops_testkit::{e2e, TestServer};
use kube::{api::PostParams, Api};
use serde_json::{json, Value};

/// The fixture: roles and bindings of every shape the evaluator must get
/// right, named after the test namespace so runs do not collide.
fn fixture(ns: &str, ns2: &str) -> Vec<Value> {
    let rbac = "rbac.authorization.k8s.io/v1";
    let cr = |name: &str, rules: Value| json!({"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": format!("{ns}-{name}")}, "rules": rules});
    let crb = |name: &str, role: &str, subjects: Value| {
        json!({"apiVersion": rbac, "kind": "ClusterRoleBinding",
        "metadata": {"name": format!("{ns}-{name}")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("{ns}-{role}")}, "subjects": subjects})
    };
    let rb = |namespace: &str, name: &str, kind: &str, role: &str, subjects: Value| {
        json!({"apiVersion": rbac, "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role}, "subjects": subjects})
    };
    let user = |n: &str| json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": n});
    let group = |n: &str| json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": n});
    let agg_label = format!("k8sops.test/agg-{ns}");
    let part_rules =
        json!([{"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["get", "list", "create"]}]);
    vec![
        cr(
            "pod-reader",
            json!([{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]}]),
        ),
        cr("apps-getter", json!([{"apiGroups": ["apps"], "resources": ["*"], "verbs": ["get"]}])),
        cr(
            "named",
            json!([{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["app-config"], "verbs": ["get", "update"]}]),
        ),
        cr("nonres", json!([{"nonResourceURLs": ["/healthz", "/metrics/*"], "verbs": ["get"]}])),
        cr("scaler", json!([{"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["update", "patch"]}])),
        cr("everything", json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])),
        json!({"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": format!("{ns}-agg-part"), "labels": {&agg_label: "true"}}, "rules": part_rules}),
        // The aggregated role is written with the rules the controller computes, so
        // the testkit (no controller) and the real server hold the same objects.
        json!({"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": format!("{ns}-agg")},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {&agg_label: "true"}}]}, "rules": part_rules}),
        json!({"apiVersion": rbac, "kind": "Role", "metadata": {"name": "deployer", "namespace": ns},
            "rules": [{"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale"], "verbs": ["create", "update", "patch"]},
                      {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}),
        rb(ns, "alice-reads-pods", "ClusterRole", &format!("{ns}-pod-reader"), json!([user("alice")])),
        crb("devs-get-apps", "apps-getter", json!([group(&format!("{ns}-devs"))])),
        rb(ns, "ci-deploys", "Role", "deployer", json!([{"kind": "ServiceAccount", "name": "ci"}])),
        rb(
            ns,
            "sas-read-config",
            "ClusterRole",
            &format!("{ns}-named"),
            json!([group(&format!("system:serviceaccounts:{ns}"))]),
        ),
        crb("bob-nonres", "nonres", json!([user("bob")])),
        crb("carol-scales", "scaler", json!([user("carol")])),
        crb("dave-agg", "agg", json!([user("dave")])),
        rb(ns, "erin-missing", "Role", "does-not-exist", json!([user("erin")])),
        rb(ns2, "devs-read-pods", "ClusterRole", &format!("{ns}-pod-reader"), json!([group(&format!("{ns}-devs"))])),
        rb(ns2, "admin-in-ns2", "ClusterRole", &format!("{ns}-everything"), json!([user("frank")])),
    ]
}

/// The subjects asked about, as `kubectl --as/--as-group` would make them.
fn subjects(ns: &str, ns2: &str) -> Vec<UserInfo> {
    let devs = format!("{ns}-devs");
    vec![
        UserInfo::impersonated("alice", &[] as &[&str]),
        UserInfo::impersonated("bob", &[] as &[&str]),
        UserInfo::impersonated("carol", &[] as &[&str]),
        UserInfo::impersonated("dave", &[] as &[&str]),
        UserInfo::impersonated("erin", &[] as &[&str]),
        UserInfo::impersonated("frank", &[] as &[&str]),
        UserInfo::impersonated("gina", &[devs.as_str()]),
        UserInfo::impersonated(&format!("system:serviceaccount:{ns}:ci"), &[] as &[&str]),
        UserInfo::impersonated(&format!("system:serviceaccount:{ns}:other"), &[] as &[&str]),
        UserInfo::impersonated(&format!("system:serviceaccount:{ns2}:ci"), &[] as &[&str]),
        UserInfo::impersonated("system:anonymous", &[] as &[&str]),
        UserInfo::impersonated("root", &["system:masters"]),
    ]
}

/// The questions: resources with and without names and subresources, in
/// both namespaces and cluster-wide, and non-resource URLs.
fn requests(ns: &str, ns2: &str) -> Vec<Attributes> {
    let mut out = Vec::new();
    for namespace in [ns, ns2, ""] {
        out.push(Attributes::resource("get", "", "pods", namespace));
        out.push(Attributes::resource("list", "", "pods", namespace));
        out.push(Attributes::resource("delete", "", "pods", namespace));
        out.push(Attributes::resource("get", "", "pods", namespace).subresource("log").name("web-0"));
        out.push(Attributes::resource("create", "", "pods", namespace).subresource("exec").name("web-0"));
        out.push(Attributes::resource("get", "apps", "deployments", namespace));
        out.push(Attributes::resource("update", "apps", "deployments", namespace).subresource("scale").name("web"));
        out.push(Attributes::resource("patch", "apps", "statefulsets", namespace).subresource("scale").name("db"));
        out.push(Attributes::resource("create", "apps", "deployments", namespace));
        out.push(Attributes::resource("get", "", "configmaps", namespace).name("app-config"));
        out.push(Attributes::resource("get", "", "configmaps", namespace).name("other"));
        out.push(Attributes::resource("list", "", "configmaps", namespace));
        out.push(Attributes::resource("get", "", "secrets", namespace).name("db"));
        out.push(Attributes::resource("create", "batch", "jobs", namespace));
        out.push(Attributes::resource("delete", "batch", "cronjobs", namespace));
        out.push(Attributes::resource("escalate", "rbac.authorization.k8s.io", "roles", namespace));
    }
    out.push(Attributes::resource("list", "", "nodes", ""));
    out.push(Attributes::resource("get", "", "namespaces", "").name(ns));
    for path in ["/healthz", "/metrics/cadvisor", "/metrics", "/version", "/apis", "/logs"] {
        out.push(Attributes::non_resource("get", path));
    }
    out
}

async fn create_all(cluster: &Cluster, objects: &[Value]) {
    for o in objects {
        let (kind, ns) = (o["kind"].as_str().unwrap(), o["metadata"]["namespace"].as_str());
        let pp = PostParams::default();
        let client = cluster.client().clone();
        match kind {
            "ClusterRole" => drop(
                Api::all(client).create(&pp, &serde_json::from_value::<ClusterRole>(o.clone()).unwrap()).await.unwrap(),
            ),
            "ClusterRoleBinding" => drop(
                Api::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>::all(client)
                    .create(&pp, &serde_json::from_value(o.clone()).unwrap())
                    .await
                    .unwrap(),
            ),
            "Role" => drop(
                Api::<k8s_openapi::api::rbac::v1::Role>::namespaced(client, ns.unwrap())
                    .create(&pp, &serde_json::from_value(o.clone()).unwrap())
                    .await
                    .unwrap(),
            ),
            "RoleBinding" => drop(
                Api::<k8s_openapi::api::rbac::v1::RoleBinding>::namespaced(client, ns.unwrap())
                    .create(&pp, &serde_json::from_value(o.clone()).unwrap())
                    .await
                    .unwrap(),
            ),
            other => panic!("unexpected kind {other}"),
        }
    }
}

/// Runs every case against `cluster`, returns how many were compared.
async fn conformance(cluster: &Cluster, ns: &str, ns2: &str) -> usize {
    create_all(cluster, &fixture(ns, ns2)).await;
    let inventory = fetch_rbac(cluster).await.unwrap();
    assert!(inventory.unreadable.is_empty(), "{:?}", inventory.unreadable);
    let snapshot = &inventory.snapshot;
    let reviews: Api<SubjectAccessReview> = Api::all(cluster.client().clone());
    let mut cases = 0;
    let mut disagreements = Vec::new();
    for user in subjects(ns, ns2) {
        for a in requests(ns, ns2) {
            let ours = snapshot.authorize_as_apiserver(&user, &a);
            let theirs =
                reviews.create(&PostParams::default(), &common::subject_access_review(&user, &a)).await.unwrap();
            let status = theirs.status.unwrap_or_default();
            cases += 1;
            if ours.allowed != status.allowed {
                disagreements.push(format!(
                    "{} {a:?}: k8sops {} ({}), server {} ({})",
                    user.name,
                    ours.allowed,
                    ours.reason,
                    status.allowed,
                    status.reason.unwrap_or_default()
                ));
                continue;
            }
            // who_can names a grant for this user exactly when RBAC allows it
            // (system:masters is allowed before RBAC is asked).
            if !user.in_group("system:masters") {
                let granted = snapshot.who_can(&a).iter().any(|g| g.subject.applies_to(&user));
                assert_eq!(granted, ours.allowed, "who_can for {} {a:?}", user.name);
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {cases} cases disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_answers_match_the_real_api_servers_authorizer() {
    let Some(cluster) = e2e::real_cluster().await else { return };
    let ns = e2e::fresh_namespace(&cluster, "rbac").await;
    let ns2 = e2e::fresh_namespace(&cluster, "rbac2").await;
    // The aggregation controller rewrites the aggregated role; wait until it
    // has seen it so the fetched object is the controller's.
    let cases = conformance(&cluster, &ns, &ns2).await;
    let roles: Api<ClusterRole> = Api::all(cluster.client().clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let agg = roles.get(&format!("{ns}-agg")).await.unwrap();
        if agg.rules.as_ref().is_some_and(|r| r.len() == 1) {
            break;
        }
        assert!(Instant::now() < deadline, "aggregation within 30 s: {agg:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(cases >= 200, "{cases} cases");
    println!("{cases} RBAC cases agree with the real API server");
}

#[tokio::test]
async fn offline_answers_match_the_testkits_authorizer() {
    let server = TestServer::start().await.unwrap();
    let cluster = server.cluster();
    for ns in ["rbac-a", "rbac-b"] {
        server.insert(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})).unwrap();
    }
    let cases = conformance(&cluster, "rbac-a", "rbac-b").await;
    assert!(cases >= 200, "{cases} cases");
}
