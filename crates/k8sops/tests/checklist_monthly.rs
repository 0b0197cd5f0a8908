//! The monthly checklist on testkit clusters: each check passing, warning
//! and failing; the disaster-recovery drill's round trip and its cleanup;
//! and the drill on the real API server with kubectl as the oracle.
#![cfg(all(feature = "upgrade", feature = "backup", feature = "metrics"))]

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8sops::{
    checklist::{
        monthly::{CapacityPlanningCheck, DrDrillCheck, RunbookCheck, UpgradePreflightCheck, DR_DRILL_PREFIX},
        CheckResult, Checklist, ChecklistReport, Finding, Outcome, Status,
    },
    upgrade::{preflight::RemovedApiCheck, removed_apis::RemovedApiParams},
    Cluster,
};
use k8sops_testkit::{DemoCluster, Fault, TestServer};
use serde_json::{json, Value};

async fn run_one(cluster: &Cluster, check: impl k8sops::checklist::Check + 'static) -> ChecklistReport {
    Checklist::new("monthly-test").with(check).budget(Duration::from_secs(60)).run(cluster).await
}

fn result<'a>(report: &'a ChecklistReport, id: &str) -> &'a CheckResult {
    let r = report.result(id).unwrap_or_else(|| panic!("no {id} result"));
    assert!(r.outcome.ran(), "{id} did not run: {report}");
    r
}

fn finding<'a>(r: &'a CheckResult, subject: &str) -> &'a Finding {
    r.findings.iter().find(|f| f.subject == subject).unwrap_or_else(|| panic!("no finding about {subject}: {r:#?}"))
}

fn node(name: &str, group: &str, kubelet: &str, cpu: &str, memory: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"eks.amazonaws.com/nodegroup": group, "node.kubernetes.io/instance-type": "m5.xlarge"}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
            "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
            "nodeInfo": {"kubeletVersion": kubelet, "kubeProxyVersion": kubelet, "osImage": "Ubuntu", "kernelVersion": "6.1",
                "containerRuntimeVersion": "containerd://1.7.13", "operatingSystem": "linux", "architecture": "amd64",
                "machineID": "m", "systemUUID": "s", "bootID": "b"}}})
}

fn pod(ns: &str, name: &str, node: &str, cpu: &str, memory: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u", "controller": true}]},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9",
            "resources": {"requests": {"cpu": cpu, "memory": memory}}}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

// ---------------------------------------------------------------------------
// preflight
// ---------------------------------------------------------------------------

fn scan_without_metrics() -> RemovedApiCheck {
    RemovedApiCheck::Scan(RemovedApiParams::default().metrics(false))
}

#[tokio::test]
async fn preflight_passes_on_a_healthy_cluster_at_the_next_minor() {
    let server = TestServer::builder().server_version("v1.29.4").start().await.unwrap();
    server.insert(&node("n1", "general", "v1.29.4", "4", "8Gi")).unwrap();
    let check = UpgradePreflightCheck { removed_apis: scan_without_metrics(), ..Default::default() };
    let report = run_one(&server.cluster(), check).await;
    let r = result(&report, "preflight");
    assert_eq!(r.status, Status::Pass, "{report}");
    let summary = finding(r, "");
    assert!(summary.summary.starts_with("upgrade v1.29.4 -> v1.30.0"), "{}", summary.summary);
    assert!(summary.action.contains("upgrade_plan -- --target-version v1.30.0"), "{}", summary.action);
    assert_eq!(finding(r, "preflight/removed-apis").status, Status::Pass);
}

#[tokio::test]
async fn preflight_warns_for_a_target_two_minors_ahead() {
    let server = TestServer::builder().server_version("v1.29.4").start().await.unwrap();
    server.insert(&node("n1", "general", "v1.29.4", "4", "8Gi")).unwrap();
    let check = UpgradePreflightCheck { removed_apis: scan_without_metrics(), ..Default::default() }
        .target("v1.31".parse().unwrap());
    let report = run_one(&server.cluster(), check).await;
    let r = result(&report, "preflight");
    assert_eq!(r.status, Status::Warn, "{report}");
    let target = finding(r, "preflight/target-version");
    assert_eq!(target.status, Status::Warn);
    assert!(!target.action.is_empty());
    assert!(finding(r, "").evidence.iter().any(|e| e.contains("1.30") && e.contains("1.31")), "{r:#?}");
}

#[tokio::test]
async fn preflight_fails_on_an_api_the_next_minor_removes() {
    let server = TestServer::builder().server_version("v1.24.0").start().await.unwrap();
    server.insert(&node("n1", "general", "v1.24.0", "4", "8Gi")).unwrap();
    let applied = json!({"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "default"}});
    server
        .insert(&json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "nightly", "namespace": "default",
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied.to_string()}},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}}))
        .unwrap();
    let check = UpgradePreflightCheck { removed_apis: scan_without_metrics(), ..Default::default() };
    let report = run_one(&server.cluster(), check).await;
    let r = result(&report, "preflight");
    assert_eq!(r.status, Status::Fail, "{report}");
    assert!(finding(r, "").summary.starts_with("upgrade v1.24.0 -> v1.25.0"), "{r:#?}");
    let removed = finding(r, "preflight/removed-apis");
    assert_eq!(removed.status, Status::Fail);
    assert!(removed.evidence.iter().any(|e| e.contains("CronJob default/nightly uses batch/v1beta1")), "{removed:#?}");
    assert!(removed.action.contains("find_removed_apis -- --target-version v1.25.0"), "{}", removed.action);
}

// ---------------------------------------------------------------------------
// dr-drill
// ---------------------------------------------------------------------------

/// A namespace with a Deployment, a Service, a ConfigMap, a ServiceAccount
/// and a Secret (not exported by default), and a pod of the Deployment's
/// ReplicaSet (recreated by the cluster: not exported).
fn shop(server: &TestServer) {
    server
        .insert_all([
            namespace("shop"),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"serviceAccountName": "web", "containers": [{"name": "web", "image": "nginx:1.25",
                            "envFrom": [{"configMapRef": {"name": "settings"}}]}]}}}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"clusterIP": "10.96.0.15", "clusterIPs": ["10.96.0.15"], "selector": {"app": "web"},
                    "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "shop", "labels": {"team": "shop"}},
                "data": {"MODE": "production", "WORKERS": "4"}}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web", "namespace": "shop"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
                "type": "Opaque", "data": {"password": "c2VjcmV0"}}),
            pod("shop", "web-7d9c-abcde", "n1", "100m", "128Mi"),
        ])
        .unwrap();
}

fn scratch_of(r: &CheckResult) -> String {
    r.findings
        .iter()
        .filter(|f| !f.summary.contains("of an earlier drill"))
        .find_map(|f| f.subject.strip_prefix("namespace/").filter(|n| n.starts_with(DR_DRILL_PREFIX)))
        .unwrap_or_else(|| panic!("no finding names the scratch namespace: {r:#?}"))
        .to_string()
}

async fn gone_or_terminating(cluster: &Cluster, name: &str) -> bool {
    let api: kube::Api<Namespace> = kube::Api::all(cluster.client().clone());
    match api.get_opt(name).await.unwrap() {
        None => true,
        Some(ns) => {
            ns.metadata.deletion_timestamp.is_some()
                || ns.status.and_then(|s| s.phase).as_deref() == Some("Terminating")
        }
    }
}

#[tokio::test]
async fn dr_drill_restores_every_exported_object_into_a_scratch_namespace_and_deletes_it() {
    let server = TestServer::start().await.unwrap();
    shop(&server);
    let cluster = server.cluster();
    let report = run_one(&cluster, DrDrillCheck::new("shop")).await;
    let r = result(&report, "dr-drill");
    assert_eq!(r.status, Status::Pass, "{report}");
    let drilled = finding(r, "namespace/shop");
    // Deployment, ConfigMap, ServiceAccount: the three objects created; the
    // Service is validated by server dry run (the Secret is not exported by
    // default, the pod is recreated by its ReplicaSet).
    assert!(
        drilled.summary.contains("3 of 3 object(s) created")
            && drilled.summary.contains("1 of 1 validated by server dry run"),
        "{}",
        drilled.summary
    );
    assert!(drilled.evidence.contains(&"matched: 3".to_string()), "{:?}", drilled.evidence);
    assert!(drilled.evidence.contains(&"validated by server dry run: 1".to_string()), "{:?}", drilled.evidence);
    for kind in ["Deployment: 1", "Service: 1 (server dry run)", "ConfigMap: 1", "ServiceAccount: 1"] {
        assert!(drilled.evidence.iter().any(|e| e == kind), "{kind} missing from {:?}", drilled.evidence);
    }
    assert!(!drilled.evidence.iter().any(|e| e.starts_with("Secret")), "{:?}", drilled.evidence);
    let scratch = scratch_of(r);
    assert!(finding(r, &format!("namespace/{scratch}")).summary.contains("deleted"), "{r:#?}");
    assert!(gone_or_terminating(&cluster, &scratch).await, "{scratch} is still there");
    // The source namespace is untouched.
    assert_eq!(server.count("", "configmaps"), 1, "only shop/settings exists");
}

#[tokio::test]
async fn dr_drill_with_secrets_drills_them_too() {
    let server = TestServer::start().await.unwrap();
    shop(&server);
    let drill = DrDrillCheck { include_secrets: true, ..DrDrillCheck::new("shop") };
    let report = run_one(&server.cluster(), drill).await;
    let r = result(&report, "dr-drill");
    assert_eq!(r.status, Status::Pass, "{report}");
    let drilled = finding(r, "namespace/shop");
    assert!(drilled.evidence.contains(&"Secret: 1".to_string()), "{:?}", drilled.evidence);
    assert!(drilled.evidence.contains(&"matched: 4".to_string()), "{:?}", drilled.evidence);
}

#[tokio::test]
async fn dr_drill_warns_when_there_is_nothing_to_drill() {
    let server = TestServer::start().await.unwrap();
    server.insert(&namespace("empty")).unwrap();
    let report = run_one(&server.cluster(), DrDrillCheck::new("empty")).await;
    let r = result(&report, "dr-drill");
    assert_eq!(r.status, Status::Warn, "{report}");
    assert!(finding(r, "namespace/empty").summary.starts_with("nothing to drill"), "{r:#?}");
    // No scratch namespace was made for nothing.
    assert!(!r.findings.iter().any(|f| f.subject.contains(DR_DRILL_PREFIX)), "{r:#?}");

    let report = run_one(&server.cluster(), DrDrillCheck::new("missing")).await;
    let r = result(&report, "dr-drill");
    assert_eq!(r.status, Status::Warn, "{report}");
    assert!(finding(r, "namespace/missing").summary.contains("does not exist"), "{r:#?}");
}

#[tokio::test]
async fn dr_drill_warns_with_the_kubectl_command_when_the_scratch_namespace_cannot_be_deleted() {
    let server = TestServer::start().await.unwrap();
    shop(&server);
    server.add_fault(Fault::on("DELETE", &format!("/namespaces/{DR_DRILL_PREFIX}")).status(500));
    let cluster = server.cluster_with_quick_retries(1);
    let report = run_one(&cluster, DrDrillCheck::new("shop")).await;
    let r = result(&report, "dr-drill");
    assert_eq!(r.status, Status::Warn, "{report}");
    let scratch = scratch_of(r);
    let cleanup = finding(r, &format!("namespace/{scratch}"));
    assert_eq!(cleanup.status, Status::Warn);
    assert!(cleanup.summary.contains("could not be deleted"), "{}", cleanup.summary);
    assert_eq!(cleanup.action, format!("kubectl delete namespace {scratch}"));
    assert_eq!(finding(r, "namespace/shop").status, Status::Pass, "the drill itself succeeded");

    // The next drill names the leftover.
    server.clear_faults();
    let report = run_one(&cluster, DrDrillCheck::new("shop")).await;
    let r = result(&report, "dr-drill");
    assert_eq!(r.status, Status::Warn, "{report}");
    let leftover = finding(r, &format!("namespace/{scratch}"));
    assert!(leftover.summary.contains("of an earlier drill"), "{}", leftover.summary);
}

#[tokio::test]
async fn dr_drill_fails_naming_the_object_whose_restore_failed() {
    let server = TestServer::start().await.unwrap();
    shop(&server);
    server.add_fault(Fault::on("POST", "/configmaps").status(500));
    let cluster = server.cluster_with_quick_retries(1);
    let report = run_one(&cluster, DrDrillCheck::new("shop")).await;
    let r = result(&report, "dr-drill");
    assert_eq!(r.status, Status::Fail, "{report}");
    let failed = finding(r, "configmap/shop/settings");
    assert_eq!(failed.status, Status::Fail);
    assert!(failed.summary.starts_with("restore failed"), "{}", failed.summary);
    let overall = finding(r, "namespace/shop");
    assert_eq!(overall.status, Status::Fail);
    assert!(overall.summary.contains("1 of 4"), "{}", overall.summary);
    // The other created objects matched, the Service passed its dry run, and
    // the scratch namespace was still deleted.
    assert!(overall.evidence.contains(&"matched: 2".to_string()), "{:?}", overall.evidence);
    assert!(overall.evidence.contains(&"validated by server dry run: 1".to_string()), "{:?}", overall.evidence);
    assert!(gone_or_terminating(&cluster, &scratch_of(r)).await);
}

#[tokio::test]
async fn dr_drill_is_forbidden_without_the_right_to_list_namespaces() {
    let server = TestServer::start().await.unwrap();
    shop(&server);
    server.add_fault(Fault::on("GET", "/api/v1/namespaces").status(403));
    let report = run_one(&server.cluster_with_quick_retries(1), DrDrillCheck::new("shop")).await;
    let r = report.result("dr-drill").unwrap();
    assert!(matches!(r.outcome, Outcome::Forbidden { .. }), "{report}");
    assert_eq!(r.status, Status::Warn);
}

/// A LoadBalancer Service with a node port and a claim of no storage class
/// (it would bind any static volume that fits), beside [`shop`].
fn shop_with_load_balancer_and_claim(server: &TestServer) {
    shop(server);
    server
        .insert_all([
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "public", "namespace": "shop"},
                "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.16", "clusterIPs": ["10.96.0.16"], "selector": {"app": "web"},
                    "ports": [{"port": 443, "targetPort": 8443, "protocol": "TCP", "nodePort": 31443}]}}),
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "shop"},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "resources": {"requests": {"storage": "1Gi"}}}}),
        ])
        .unwrap();
}

#[tokio::test]
async fn dr_drill_validates_services_and_claims_by_server_dry_run_and_creates_neither() {
    let server = TestServer::start().await.unwrap();
    shop_with_load_balancer_and_claim(&server);
    let before = (server.count("", "services"), server.count("", "persistentvolumeclaims"));
    let cluster = server.cluster();
    let keep = DrDrillCheck { keep_scratch: true, ..DrDrillCheck::new("shop") };
    let report = run_one(&cluster, keep).await;
    let r = result(&report, "dr-drill");
    assert_eq!(r.status, Status::Pass, "{report}");
    let drilled = finding(r, "namespace/shop");
    assert!(drilled.evidence.contains(&"validated by server dry run: 3".to_string()), "{:?}", drilled.evidence);
    assert!(drilled.evidence.contains(&"matched: 3".to_string()), "{:?}", drilled.evidence);
    for kind in ["Service: 2 (server dry run)", "PersistentVolumeClaim: 1 (server dry run)"] {
        assert!(drilled.evidence.iter().any(|e| e == kind), "{kind} missing from {:?}", drilled.evidence);
    }
    let scratch = scratch_of(r);

    // The request log: every create of a Service or a claim in the scratch namespace was a dry run.
    let posts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|q| q.method == "POST" && q.path.contains(&format!("/namespaces/{scratch}/")))
        .filter(|q| q.path.ends_with("/services") || q.path.ends_with("/persistentvolumeclaims"))
        .collect();
    assert_eq!(posts.len(), 3, "{posts:#?}");
    assert!(posts.iter().all(|q| q.query.contains("dryRun=All")), "{posts:#?}");
    // The ConfigMap was created for real (no dry run).
    let cm_posts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|q| q.method == "POST" && q.path.ends_with(&format!("/namespaces/{scratch}/configmaps")))
        .collect();
    assert!(cm_posts.iter().any(|q| !q.query.contains("dryRun")), "{cm_posts:#?}");

    // The kept scratch namespace, as the server lists it: the created kinds, no Service, no claim.
    let list = |plural: &'static str| {
        let cluster = cluster.clone();
        let scratch = scratch.clone();
        async move {
            let ar = kube::api::ApiResource {
                group: String::new(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: String::new(),
                plural: plural.into(),
            };
            let api: kube::Api<kube::api::DynamicObject> =
                kube::Api::namespaced_with(cluster.client().clone(), &scratch, &ar);
            api.list(&Default::default()).await.unwrap().items.len()
        }
    };
    assert_eq!(list("services").await, 0, "no Service in {scratch}");
    assert_eq!(list("persistentvolumeclaims").await, 0, "no claim in {scratch}");
    assert!(list("configmaps").await >= 1, "the ConfigMap is in {scratch}");
    // The quota: nothing provisions even if something slipped through.
    let quotas: kube::Api<k8s_openapi::api::core::v1::ResourceQuota> =
        kube::Api::namespaced(cluster.client().clone(), &scratch);
    let hard = quotas.get("k8sops-dr-drill").await.unwrap().spec.unwrap().hard.unwrap();
    for key in ["pods", "persistentvolumeclaims", "services.loadbalancers", "services.nodeports"] {
        assert_eq!(hard.get(key).map(|q| q.0.as_str()), Some("0"), "{key}: {hard:?}");
    }
    // In the whole cluster: no Service or claim more than before the drill.
    assert_eq!((server.count("", "services"), server.count("", "persistentvolumeclaims")), before);
}

#[tokio::test]
async fn dr_drill_warns_when_the_server_dry_run_refuses_an_object() {
    let server = TestServer::start().await.unwrap();
    shop(&server);
    server.add_fault(Fault::on("POST", "/services").status(422));
    let cluster = server.cluster_with_quick_retries(1);
    let report = run_one(&cluster, DrDrillCheck::new("shop")).await;
    let r = result(&report, "dr-drill");
    assert_eq!(r.status, Status::Warn, "{report}");
    let refused = finding(r, "service/shop/web");
    assert_eq!(refused.status, Status::Warn);
    assert!(refused.summary.starts_with("the server dry run refused it"), "{}", refused.summary);
    let overall = finding(r, "namespace/shop");
    assert_eq!(overall.status, Status::Warn, "{overall:#?}");
    assert!(overall.summary.contains("would refuse 1 of 4"), "{}", overall.summary);
    // The created kinds still matched; no Fail anywhere; the scratch namespace was deleted.
    assert!(overall.evidence.contains(&"matched: 3".to_string()), "{:?}", overall.evidence);
    assert!(r.findings.iter().all(|f| f.status != Status::Fail), "{r:#?}");
    assert!(gone_or_terminating(&cluster, &scratch_of(r)).await);
}

/// A user `drill` allowed `verbs` on everything, and to create what the
/// drill makes but ConfigMaps.
async fn drill_user(server: &TestServer, verbs: &[&str]) -> Cluster {
    server
        .insert_all([
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "drill"},
                "rules": [
                    {"apiGroups": ["*"], "resources": ["*"], "verbs": verbs},
                    {"apiGroups": [""], "resources": ["namespaces", "resourcequotas", "services", "serviceaccounts"], "verbs": ["create"]},
                    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create"]}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "drill"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "drill"},
                "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "drill"}]}),
        ])
        .unwrap();
    let path = server.add_user("drill", &[]).unwrap();
    Cluster::from_kubeconfig(&path, None).await.unwrap()
}

#[tokio::test]
async fn dr_drill_is_forbidden_when_a_kind_may_not_be_created_and_deletes_its_scratch_namespace() {
    let server = TestServer::start().await.unwrap();
    shop(&server);
    let drill = drill_user(&server, &["get", "list", "watch", "patch", "update", "delete"]).await;
    let report = run_one(&drill, DrDrillCheck::new("shop")).await;
    let r = report.result("dr-drill").unwrap();
    assert!(matches!(r.outcome, Outcome::Forbidden { .. }), "{report}");
    // The scratch namespace it made was deleted before the error was returned.
    let scratch: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|q| q.method == "DELETE" && q.path.contains(DR_DRILL_PREFIX))
        .map(|q| q.path)
        .collect();
    assert_eq!(scratch.len(), 1, "{scratch:?}");
    let name = scratch[0].rsplit('/').next().unwrap().to_string();
    assert!(gone_or_terminating(&server.cluster(), &name).await, "{name} is still there");
}

#[tokio::test]
async fn dr_drill_that_can_neither_go_on_nor_delete_its_scratch_namespace_fails_naming_it() {
    let server = TestServer::start().await.unwrap();
    shop(&server);
    let drill = drill_user(&server, &["get", "list", "watch", "patch", "update"]).await;
    let report = run_one(&drill, DrDrillCheck::new("shop")).await;
    let r = report.result("dr-drill").unwrap();
    // Not "not checked": the namespace it leaves must be in the result.
    assert_eq!(r.outcome, Outcome::Ran, "{report}");
    assert_eq!(r.status, Status::Fail, "{report}");
    let stopped = finding(r, "namespace/shop");
    assert!(stopped.summary.starts_with("the drill could not run: "), "{}", stopped.summary);
    let scratch = scratch_of(r);
    let kept = finding(r, &format!("namespace/{scratch}"));
    assert_eq!(kept.status, Status::Warn, "{kept:?}");
    assert_eq!(kept.action, format!("kubectl delete namespace {scratch}"));
    assert!(server.cluster().api_all::<Namespace>().get_opt(&scratch).await.unwrap().is_some());
}

// ---------------------------------------------------------------------------
// capacity
// ---------------------------------------------------------------------------

/// Two nodes of 4 CPU / 8Gi in group `general`, with pods requesting `cpu` each.
fn capacity_cluster(server: &TestServer, cpu_per_node: &str) {
    server.insert(&namespace("shop")).unwrap();
    for n in ["n1", "n2"] {
        server.insert(&node(n, "general", "v1.29.4", "4", "8Gi")).unwrap();
        server.insert(&pod("shop", &format!("app-{n}"), n, cpu_per_node, "1Gi")).unwrap();
    }
}

#[tokio::test]
async fn capacity_passes_with_room_and_charts_requests_per_group() {
    let server = TestServer::start().await.unwrap();
    capacity_cluster(&server, "1");
    let report = run_one(&server.cluster(), CapacityPlanningCheck::default()).await;
    let r = result(&report, "capacity");
    assert_eq!(r.status, Status::Pass, "{report}");
    let g = finding(r, "nodegroup/general");
    // 3 free CPU and 7Gi per node: 6 pods of 500m / 512Mi per node.
    assert!(g.summary.starts_with("node group general: 12 more 500m/512Mi pod(s) fit"), "{}", g.summary);
    assert!(g.evidence.contains(&"CPU requested 2.00 of 8.00 cores (25%)".to_string()), "{:?}", g.evidence);
    let titles: Vec<&str> = r.charts.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(titles, ["CPU requested per node group", "Memory requested per node group"]);
    assert_eq!((r.charts[0].bars[0].used, r.charts[0].bars[0].capacity), (2.0, 8.0));
    assert_eq!((r.charts[1].bars[0].used, r.charts[1].bars[0].capacity), (2.0, 16.0));
    assert_eq!(r.charts[1].unit, "GiB");
}

#[tokio::test]
async fn capacity_warns_at_75_percent_and_fails_at_90() {
    let server = TestServer::start().await.unwrap();
    capacity_cluster(&server, "3200m");
    let report = run_one(&server.cluster(), CapacityPlanningCheck::default()).await;
    assert_eq!(result(&report, "capacity").status, Status::Warn, "{report}");
    let g = finding(result(&report, "capacity"), "nodegroup/general");
    assert_eq!(g.status, Status::Warn, "{report}");
    assert!(g.action.contains("scale_nodegroup"), "{}", g.action);

    let server = TestServer::start().await.unwrap();
    capacity_cluster(&server, "3700m");
    let report = run_one(&server.cluster(), CapacityPlanningCheck::default()).await;
    assert_eq!(result(&report, "capacity").status, Status::Fail, "{report}");
    let g = finding(result(&report, "capacity"), "nodegroup/general");
    assert_eq!(g.status, Status::Fail, "{report}");
    assert!(g.summary.contains("0 more 500m/512Mi pod(s) fit"), "{}", g.summary);

    // Each trigger alone: 92.5 % requested with room left for a smaller pod
    // fails on the percentage; the same room for a larger pod than fits
    // fails below the percentage.
    let small_pod = CapacityPlanningCheck { headroom_cpu: "100m".parse().unwrap(), ..Default::default() };
    let report = run_one(&server.cluster(), small_pod).await;
    let g = finding(result(&report, "capacity"), "nodegroup/general");
    assert_eq!(g.status, Status::Fail, "{report}");
    assert!(g.summary.contains("6 more 100m/512Mi pod(s) fit"), "{}", g.summary);
    let high_bar = CapacityPlanningCheck { fail_percent: 99.0, ..Default::default() };
    let report = run_one(&server.cluster(), high_bar).await;
    let g = finding(result(&report, "capacity"), "nodegroup/general");
    assert_eq!(g.status, Status::Fail, "{report}");
}

#[tokio::test]
async fn capacity_warns_for_a_cluster_without_nodes() {
    let server = TestServer::start().await.unwrap();
    let report = run_one(&server.cluster(), CapacityPlanningCheck::default()).await;
    let r = result(&report, "capacity");
    assert_eq!(r.status, Status::Warn, "{report}");
    assert!(r.findings.iter().any(|f| f.summary == "the cluster has no nodes: no capacity to plan"), "{report}");
}

#[tokio::test]
async fn capacity_is_forbidden_without_the_right_to_list_nodes() {
    let server = TestServer::start().await.unwrap();
    capacity_cluster(&server, "1");
    server.add_fault(Fault::on("GET", "/api/v1/nodes").status(403));
    let report = run_one(&server.cluster_with_quick_retries(1), CapacityPlanningCheck::default()).await;
    assert!(matches!(report.result("capacity").unwrap().outcome, Outcome::Forbidden { .. }), "{report}");
}

#[tokio::test]
async fn capacity_projects_growth_from_the_history_and_saves_a_snapshot() {
    let server = TestServer::start().await.unwrap();
    capacity_cluster(&server, "2"); // 4 of 8 cores requested now
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capacity.json");
    let month_ago = k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_hours(30 * 24);
    // 30 days ago 2 cores were requested: +2 cores in 30 days, 4 free: full in 60 days.
    let history = json!({"version": 1, "snapshots": [{"time": month_ago.to_string(),
        "groups": {"general": {"cpuRequested": 2.0, "cpuAllocatable": 8.0, "memoryRequestedGib": 2.0, "memoryAllocatableGib": 16.0}}}]});
    std::fs::write(&path, history.to_string()).unwrap();
    let report = run_one(&server.cluster(), CapacityPlanningCheck::default().history(&path)).await;
    let g = finding(result(&report, "capacity"), "nodegroup/general");
    assert_eq!(g.status, Status::Warn, "{report}");
    assert!(g.summary.contains("full in about 60 days"), "{}", g.summary);
    assert!(g.evidence.iter().any(|e| e.contains("CPU requests +2.00 cores")), "{:?}", g.evidence);

    let saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let snapshots = saved["snapshots"].as_array().unwrap();
    assert_eq!(snapshots.len(), 2);
    assert_eq!(snapshots[1]["groups"]["general"]["cpuRequested"], 4.0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().filter_map(|e| e.ok()).collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left");

    // A second run right after compares with the month-old snapshot, not the new one.
    let report = run_one(&server.cluster(), CapacityPlanningCheck::default().history(&path)).await;
    let g = finding(result(&report, "capacity"), "nodegroup/general");
    assert!(g.summary.contains("full in about 60 days"), "{}", g.summary);
}

#[tokio::test]
async fn capacity_warns_on_a_corrupt_history_and_leaves_it_alone() {
    let server = TestServer::start().await.unwrap();
    capacity_cluster(&server, "1");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capacity.json");
    std::fs::write(&path, "{not json").unwrap();
    let report = run_one(&server.cluster(), CapacityPlanningCheck::default().history(&path)).await;
    let r = result(&report, "capacity");
    assert_eq!(r.status, Status::Warn, "{report}");
    let f = finding(r, &format!("file/{}", path.display()));
    assert!(f.summary.contains("cannot be read"), "{}", f.summary);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json");
    assert_eq!(finding(r, "nodegroup/general").status, Status::Pass);
}

// ---------------------------------------------------------------------------
// runbook
// ---------------------------------------------------------------------------

#[tokio::test]
async fn runbook_describes_this_cluster_with_its_own_names() {
    let server = TestServer::builder().server_version("v1.29.3").start().await.unwrap();
    let demo = server.load(&DemoCluster::small()).unwrap();
    let _ = demo;
    server
        .insert(&json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "etcd-cp-1", "namespace": "kube-system", "labels": {"component": "etcd", "tier": "control-plane"}},
            "spec": {"containers": [{"name": "etcd", "image": "registry.k8s.io/etcd:3.5.10-0",
                "command": ["etcd", "--advertise-client-urls=https://10.0.0.10:2379", "--cert-file=/pki/etcd/server.crt",
                    "--key-file=/pki/etcd/server.key", "--trusted-ca-file=/pki/etcd/ca.crt"]}]}}))
        .unwrap();
    let report = run_one(&server.cluster(), RunbookCheck { cluster_name: Some("prod".into()) }).await;
    let r = result(&report, "runbook");
    assert_eq!(r.status, Status::Pass, "{report}");
    let md = &r.artifacts[0];
    assert_eq!((md.name.as_str(), md.media_type.as_str()), ("runbook.md", "text/markdown"));
    let text = &md.content;
    assert!(text.starts_with("# Runbook: prod\n"), "{text}");
    assert!(text.contains("- Kubernetes version: v1.29.3"), "{text}");
    // The demo's node groups, each with a drain procedure naming one of its nodes.
    for group in ["general", "system"] {
        assert!(text.contains(&format!("Node group **{group}**")), "{group}: {text}");
        assert!(text.contains(&format!("eks prod {group} --desired N")), "{group}: {text}");
    }
    assert!(text.contains("cargo run --example drain_node -- "), "{text}");
    assert!(text.contains("| shop |"), "{text}");
    assert!(text.contains("--endpoints https://10.0.0.10:2379 --cacert /pki/etcd/ca.crt --cert /pki/etcd/server.crt --key /pki/etcd/server.key"), "{text}");
    assert!(text.contains("upgrade_plan -- --target-version 1.30"), "{text}");
    assert!(text.contains("diagnose_pods -- -n "), "{text}");
}

#[tokio::test]
async fn runbook_warns_about_the_parts_it_may_not_read() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    server.add_fault(Fault::on("GET", "/apis/apps/v1/deployments").status(403));
    let report = run_one(&server.cluster_with_quick_retries(1), RunbookCheck::default()).await;
    let r = result(&report, "runbook");
    assert_eq!(r.status, Status::Warn, "{report}");
    let warn = r.findings.iter().find(|f| f.status == Status::Warn).unwrap();
    assert!(warn.summary.starts_with("runbook without deployments: forbidden"), "{}", warn.summary);
    assert!(
        r.artifacts[0].content.contains("Not in this runbook: deployments (forbidden"),
        "{}",
        r.artifacts[0].content
    );
}

#[tokio::test]
async fn runbook_does_not_run_when_the_server_does_not_answer() {
    let server = TestServer::start().await.unwrap();
    server.add_fault(Fault::on("GET", "/version").status(500));
    let report = run_one(&server.cluster_with_quick_retries(1), RunbookCheck::default()).await;
    let r = report.result("runbook").unwrap();
    assert!(matches!(r.outcome, Outcome::Failed { .. }), "{report}");
    assert!(r.artifacts.is_empty());
}

#[tokio::test]
async fn the_monthly_checklist_runs_its_four_checks_on_the_demo() {
    let server = TestServer::builder().server_version("v1.29.3").start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let list = Checklist::monthly().with(DrDrillCheck::new("shop"));
    let report = list.run(&server.cluster()).await;
    let ids: Vec<&str> = report.results.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["preflight", "dr-drill", "capacity", "runbook"]);
    assert!(report.results.iter().all(|r| r.outcome.ran()), "{report}");
    // The demo has a NotReady node and an unreplicated pod: the preflight fails.
    assert_eq!(report.result("preflight").unwrap().status, Status::Fail);
}

// ---------------------------------------------------------------------------
// the drill on the real API server
// ---------------------------------------------------------------------------

/// Every finding passes, but for scratch namespaces other runs against the
/// same server left behind.
fn passed_on_a_shared_server(r: &CheckResult) {
    for f in &r.findings {
        assert!(
            f.status == Status::Pass || (f.status == Status::Warn && f.summary.contains("of an earlier drill")),
            "{r:#?}"
        );
    }
}

#[tokio::test]
async fn dr_drill_on_the_real_api_server_matches_what_kubectl_lists() {
    let Some(real) = k8sops_testkit::e2e::real_oracle().await else { return };
    let ns = k8sops_testkit::e2e::fresh_namespace(&real.cluster, "drill").await;
    // A node port the Service asks for explicitly (the export keeps it): its
    // dry run in the scratch namespace is refused unless the drill drops it.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let node_port = 30000 + (nanos + std::process::id()) % 2700;
    let manifest = format!(
        r#"
apiVersion: v1
kind: ServiceAccount
metadata: {{name: web, namespace: {ns}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {ns}, labels: {{team: shop}}}}
data: {{MODE: production}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {ns}}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}, labels: {{app: web}}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      serviceAccountName: web
      containers: [{{name: web, image: nginx:1.25}}]
---
apiVersion: v1
kind: Service
metadata: {{name: pinned, namespace: {ns}}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080, nodePort: {node_port}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: public, namespace: {ns}}}
spec:
  type: LoadBalancer
  selector: {{app: web}}
  ports: [{{port: 443, targetPort: 8443}}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data, namespace: {ns}}}
spec:
  storageClassName: ""
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: web, namespace: {ns}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
  minReplicas: 2
  maxReplicas: 4
  metrics: [{{type: Resource, resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 80}}}}}}]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {{name: leader, namespace: {ns}}}
spec: {{holderIdentity: web-0}}
"#
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), manifest).unwrap();
    real.kubectl_ok(&["apply", "-f", &file.path().display().to_string()]).await;

    // First with the scratch namespace kept: kubectl compares each restored object with its original.
    let keep = DrDrillCheck { keep_scratch: true, ..DrDrillCheck::new(ns.clone()) };
    let report = Checklist::new("drill").with(keep).budget(Duration::from_secs(180)).run(&real.cluster).await;
    let r = result(&report, "dr-drill");
    passed_on_a_shared_server(r);
    let kept = scratch_of(r);
    let get = |ns: String, what: &'static str| {
        let real = real.clone();
        async move {
            let out = real.kubectl_ok(&["get", what, "-n", &ns, "-o", "json"]).await;
            serde_json::from_str::<Value>(&out).unwrap()
        }
    };
    let ns_json = real.kubectl_ok(&["get", "namespace", &kept, "-o", "json"]).await;
    let ns_json: Value = serde_json::from_str(&ns_json).unwrap();
    assert_eq!(ns_json["metadata"]["labels"]["k8sops.io/dr-drill"], "true", "{ns_json}");
    let (a, b) = (get(ns.clone(), "deployment/web").await, get(kept.clone(), "deployment/web").await);
    assert_eq!(a["spec"], b["spec"], "the Deployment's spec");
    let (a, b) = (get(ns.clone(), "configmap/settings").await, get(kept.clone(), "configmap/settings").await);
    assert_eq!((&a["data"], &a["metadata"]["labels"]), (&b["data"], &b["metadata"]["labels"]));
    get(kept.clone(), "serviceaccount/web").await;
    // Services, the claim and the Lease were not created: kubectl lists none in the scratch namespace.
    let listed = real.kubectl_ok(&["get", "services,persistentvolumeclaims,leases", "-n", &kept, "-o", "name"]).await;
    assert_eq!(listed.trim(), "", "{kept} holds {listed}");
    // The quota keeps the restored Deployment from starting pods, and anything from provisioning.
    let quota = get(kept.clone(), "resourcequota/k8sops-dr-drill").await;
    for key in ["pods", "persistentvolumeclaims", "services.loadbalancers", "services.nodeports"] {
        assert_eq!(quota["spec"]["hard"][key], "0", "{key}: {quota}");
    }
    real.kubectl_ok(&["delete", "namespace", &kept, "--wait=false"]).await;

    // Then as the monthly checklist runs it: the scratch namespace is deleted.
    let report = Checklist::new("drill")
        .with(DrDrillCheck::new(ns.clone()))
        .budget(Duration::from_secs(180))
        .run(&real.cluster)
        .await;
    let r = result(&report, "dr-drill");
    passed_on_a_shared_server(r);

    // The oracle: what kubectl lists of the exported kinds in the source namespace
    // (the cluster's own default ServiceAccount and kube-root-ca.crt included).
    let listed = real
        .kubectl_ok(&[
            "get",
            "deployments,configmaps,serviceaccounts,horizontalpodautoscalers",
            "-n",
            &ns,
            "-o",
            "name",
        ])
        .await;
    let expected = listed.lines().filter(|l| !l.trim().is_empty()).count();
    let drilled = finding(r, &format!("namespace/{ns}"));
    assert!(
        drilled.evidence.contains(&format!("matched: {expected}")),
        "kubectl lists {expected}:\n{listed}\n{drilled:#?}"
    );
    // What the server dry run validated: the Services and the claim, as kubectl lists them.
    let listed = real.kubectl_ok(&["get", "services,persistentvolumeclaims", "-n", &ns, "-o", "name"]).await;
    let expected = listed.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(
        drilled.evidence.contains(&format!("validated by server dry run: {expected}")),
        "kubectl lists {expected}:\n{listed}\n{drilled:#?}"
    );
    for kind in [
        "Deployment: 1",
        "HorizontalPodAutoscaler: 1",
        "Service: 3 (server dry run)",
        "PersistentVolumeClaim: 1 (server dry run)",
    ] {
        assert!(drilled.evidence.iter().any(|e| e == kind), "{kind}: {:?}", drilled.evidence);
    }
    assert!(!drilled.evidence.iter().any(|e| e.starts_with("Lease")), "leases are not drilled: {:?}", drilled.evidence);

    // The scratch namespace is gone or Terminating, as kubectl sees it.
    let scratch = scratch_of(r);
    let (found, out, err) = real.kubectl(&["get", "namespace", &scratch, "-o", "jsonpath={.status.phase}"]).await;
    assert!((!found && err.contains("NotFound")) || out == "Terminating", "{scratch}: {out} {err}");
    real.kubectl(&["delete", "namespace", &ns, "--wait=false"]).await;
}
