//! The upgrade preflight against testkit clusters: budgets whose status
//! allows no disruption, pods `kubectl drain` would refuse, nodes not
//! Ready, skew that the first hop would break, removed APIs, and checks
//! that cannot read what they need (a warning, never an error). The
//! kubectl-drain and disruption-controller oracles run against the real
//! API server in `upgrade_real_server.rs`.

use k8sops_core::{Cluster, KubeVersion, RetryPolicy};
use k8sops_testkit::TestServer;
use k8sops_upgrade::{
    preflight::{preflight, CheckId, CheckStatus, PreflightParams, PreflightReport, RemovedApiCheck},
    removed_apis::{scan_manifests, RemovedApiParams},
    rules::MinorVersion,
};
use serde_json::{json, Value};

fn v(s: &str) -> KubeVersion {
    s.parse().unwrap()
}

fn node(name: &str, kubelet: &str, ready: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
            "nodeInfo": {"kubeletVersion": kubelet, "kubeProxyVersion": kubelet, "osImage": "Ubuntu", "kernelVersion": "6.1",
                "containerRuntimeVersion": "containerd://1.7.13", "operatingSystem": "linux", "architecture": "amd64",
                "machineID": "m", "systemUUID": "s", "bootID": "b"}}})
}

fn pod(ns: &str, name: &str, node: Option<&str>, labels: Value, extra: Value) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
    if let Some(n) = node {
        p["spec"]["nodeName"] = json!(n);
    }
    merge(&mut p, &extra);
    p
}

fn merge(a: &mut Value, b: &Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b.clone(),
    }
}

fn owner(kind: &str, api_version: &str) -> Value {
    json!({"metadata": {"ownerReferences": [{"apiVersion": api_version, "kind": kind, "name": "owner", "uid": "u", "controller": true}]}})
}

fn pdb(ns: &str, name: &str, app: &str, rule: Value) -> Value {
    let mut spec = json!({"selector": {"matchLabels": {"app": app}}});
    merge(&mut spec, &rule);
    json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

fn params(target: &str) -> PreflightParams {
    PreflightParams::new(v(target)).removed_apis(RemovedApiCheck::Skip)
}

fn status(report: &PreflightReport, id: CheckId) -> CheckStatus {
    report.check(id).unwrap_or_else(|| panic!("no {id} check")).status
}

fn objects(report: &PreflightReport, id: CheckId) -> Vec<String> {
    report.check(id).unwrap().objects.clone()
}

#[tokio::test]
async fn a_healthy_cluster_passes_every_check_but_the_skipped_one() {
    let server = TestServer::builder().server_version("v1.29.4").start().await.unwrap();
    server
        .insert_all([
            node("n1", "v1.29.4", true),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
            pod("shop", "web-1", Some("n1"), json!({"app": "web"}), owner("ReplicaSet", "apps/v1")),
            pod("shop", "web-2", Some("n1"), json!({"app": "web"}), owner("ReplicaSet", "apps/v1")),
            pdb("shop", "web", "web", json!({"minAvailable": 1})),
        ])
        .unwrap();
    let report = preflight(&server.cluster(), &params("v1.30")).await.unwrap();
    for c in &report.checks {
        let expected = if c.id == CheckId::RemovedApis { CheckStatus::Warn } else { CheckStatus::Pass };
        assert_eq!(c.status, expected, "{c:?}");
    }
    assert_eq!(report.hops, [MinorVersion::new(1, 30)]);
    report.ensure_passed().unwrap();
    assert!(report.to_string().contains("9 check(s): 0 failed, 1 warned."), "{report}");
}

#[tokio::test]
async fn budgets_that_allow_no_disruption_while_they_have_pods_fail() {
    let server = TestServer::builder().server_version("v1.29.4").start().await.unwrap();
    let rs = owner("ReplicaSet", "apps/v1");
    let unready = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}});
    let mut unready_rs = rs.clone();
    merge(&mut unready_rs, &unready);
    server
        .insert_all([
            node("n1", "v1.29.4", true),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
            // 2 ready of 2, minAvailable 2: nothing may go.
            pod("shop", "db-1", Some("n1"), json!({"app": "db"}), rs.clone()),
            pod("shop", "db-2", Some("n1"), json!({"app": "db"}), rs.clone()),
            pdb("shop", "db", "db", json!({"minAvailable": 2})),
            // 1 ready of 2, minAvailable 1: the unready pod leaves nothing to spare.
            pod("shop", "api-1", Some("n1"), json!({"app": "api"}), rs.clone()),
            pod("shop", "api-2", Some("n1"), json!({"app": "api"}), unready_rs),
            pdb("shop", "api", "api", json!({"minAvailable": 1})),
            // 3 ready, minAvailable 2: one may go.
            pod("shop", "web-1", Some("n1"), json!({"app": "web"}), rs.clone()),
            pod("shop", "web-2", Some("n1"), json!({"app": "web"}), rs.clone()),
            pod("shop", "web-3", Some("n1"), json!({"app": "web"}), rs.clone()),
            pdb("shop", "web", "web", json!({"minAvailable": 2})),
            // No pods at all: allows nothing, blocks nothing.
            pdb("shop", "ghost", "ghost", json!({"minAvailable": 1})),
        ])
        .unwrap();
    let report = preflight(&server.cluster(), &params("v1.30")).await.unwrap();
    assert_eq!(status(&report, CheckId::PodDisruptionBudgets), CheckStatus::Fail);
    let names: Vec<String> = objects(&report, CheckId::PodDisruptionBudgets)
        .iter()
        .map(|o| o.split(':').next().unwrap().to_string())
        .collect();
    assert_eq!(names, ["shop/api", "shop/db"]);
    let db = &objects(&report, CheckId::PodDisruptionBudgets)[1];
    assert!(db.contains("minAvailable 2, 2 of 2 expected pods healthy (2 desired), 0 disruptions allowed"), "{db}");
    let err = report.ensure_passed().unwrap_err();
    assert!(matches!(err, k8sops_upgrade::Error::PreflightFailed { .. }), "{err}");
    assert!(err.to_string().contains("pod-disruption-budgets"), "{err}");
}

#[tokio::test]
async fn pods_kubectl_drain_would_refuse_fail_and_the_ones_it_skips_do_not() {
    let server = TestServer::builder().server_version("v1.29.4").start().await.unwrap();
    let mirror = json!({"metadata": {"annotations": {"kubernetes.io/config.mirror": "abc"}}});
    let done = json!({"status": {"phase": "Succeeded"}});
    let scratch = json!({"spec": {"volumes": [{"name": "s", "emptyDir": {}}]}});
    let mut ds_scratch = owner("DaemonSet", "apps/v1");
    merge(&mut ds_scratch, &scratch);
    let mut rs_scratch = owner("ReplicaSet", "apps/v1");
    merge(&mut rs_scratch, &scratch);
    server
        .insert_all([
            node("n1", "v1.29.4", true),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ops"}}),
            pod("ops", "bare", Some("n1"), json!({}), json!({})),
            pod("ops", "bare-scratch", Some("n1"), json!({}), scratch.clone()),
            pod("ops", "static-web", Some("n1"), json!({}), mirror),
            pod("ops", "finished", Some("n1"), json!({}), done),
            pod("ops", "unscheduled", None, json!({}), json!({})),
            pod("ops", "agent", Some("n1"), json!({}), ds_scratch),
            pod("ops", "cache", Some("n1"), json!({}), rs_scratch),
            pod("ops", "job", Some("n1"), json!({}), owner("Job", "batch/v1")),
        ])
        .unwrap();
    let report = preflight(&server.cluster(), &params("v1.30")).await.unwrap();
    assert_eq!(status(&report, CheckId::UnreplicatedPods), CheckStatus::Fail);
    assert_eq!(objects(&report, CheckId::UnreplicatedPods), ["ops/bare (on n1)", "ops/bare-scratch (on n1)"]);
    assert_eq!(status(&report, CheckId::LocalStoragePods), CheckStatus::Warn);
    assert_eq!(objects(&report, CheckId::LocalStoragePods), ["ops/bare-scratch (on n1)", "ops/cache (on n1)"]);
}

#[tokio::test]
async fn nodes_that_are_not_ready_fail() {
    let server = TestServer::builder().server_version("v1.29.4").start().await.unwrap();
    server.insert_all([node("good", "v1.29.4", true), node("bad", "v1.29.4", false)]).unwrap();
    let report = preflight(&server.cluster(), &params("v1.30")).await.unwrap();
    assert_eq!(status(&report, CheckId::NodesReady), CheckStatus::Fail);
    assert_eq!(objects(&report, CheckId::NodesReady), ["bad (NotReady)"]);
}

#[tokio::test]
async fn skew_fails_now_or_at_the_first_hop_and_warns_for_later_hops() {
    // A kubelet two minors behind 1.26 is fine now, but three behind 1.27 is not.
    let server = TestServer::builder().server_version("v1.26.15").start().await.unwrap();
    server.insert_all([node("old", "v1.24.17", true)]).unwrap();
    let report = preflight(&server.cluster(), &params("v1.28")).await.unwrap();
    let skew = report.check(CheckId::VersionSkew).unwrap();
    assert_eq!(skew.status, CheckStatus::Fail);
    assert!(skew.explanation.contains("as soon as the control plane reaches v1.27"), "{}", skew.explanation);
    assert!(skew.objects[0].contains("kubelet v1.24.17 on old is 3 minor versions older than kube-apiserver v1.27"));
    assert_eq!(status(&report, CheckId::TargetVersion), CheckStatus::Warn);

    // Two behind 1.28 is fine for the first hop (1.29: three behind) but not at 1.30.
    let server = TestServer::builder().server_version("v1.28.7").start().await.unwrap();
    server.insert_all([node("lagging", "v1.26.1", true)]).unwrap();
    let report = preflight(&server.cluster(), &params("v1.30")).await.unwrap();
    assert_eq!(status(&report, CheckId::VersionSkew), CheckStatus::Warn);

    // Already outside now.
    let server = TestServer::builder().server_version("v1.28.7").start().await.unwrap();
    server.insert_all([node("ahead", "v1.29.0", true)]).unwrap();
    let report = preflight(&server.cluster(), &params("v1.29")).await.unwrap();
    let skew = report.check(CheckId::VersionSkew).unwrap();
    assert_eq!(skew.status, CheckStatus::Fail);
    assert!(skew.explanation.contains("outside the version skew policy now"), "{}", skew.explanation);
}

#[tokio::test]
async fn a_target_older_than_the_cluster_fails_the_target_check() {
    let server = TestServer::builder().server_version("v1.29.4").start().await.unwrap();
    let report = preflight(&server.cluster(), &params("v1.28")).await.unwrap();
    let target = report.check(CheckId::TargetVersion).unwrap();
    assert_eq!(target.status, CheckStatus::Fail);
    assert!(target.explanation.contains("cannot be downgraded"), "{}", target.explanation);
    assert!(report.hops.is_empty());
}

#[tokio::test]
async fn removed_apis_found_by_the_scan_or_given_as_a_report_fail() {
    let server = TestServer::builder().server_version("v1.24.3").start().await.unwrap();
    let applied = json!({"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "default"}});
    server
        .insert(&json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "nightly", "namespace": "default",
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied.to_string()}},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}}))
        .unwrap();
    let scan = RemovedApiCheck::Scan(RemovedApiParams::default().metrics(false));
    let report =
        preflight(&server.cluster(), &PreflightParams::new(v("v1.25")).removed_apis(scan.clone())).await.unwrap();
    assert_eq!(status(&report, CheckId::RemovedApis), CheckStatus::Fail);
    let found = objects(&report, CheckId::RemovedApis);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("CronJob default/nightly uses batch/v1beta1 (removed in v1.25), use batch/v1"),
        "{found:?}"
    );

    // The same cluster checked for 1.24 (a patch upgrade): deprecated only.
    let report = preflight(&server.cluster(), &PreflightParams::new(v("v1.24.9")).removed_apis(scan)).await.unwrap();
    assert_eq!(status(&report, CheckId::RemovedApis), CheckStatus::Warn);

    // Findings from manifests about to be deployed.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ingress.yaml"),
        "apiVersion: networking.k8s.io/v1beta1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\n",
    )
    .unwrap();
    let manifests = scan_manifests(dir.path(), &RemovedApiParams::default().target(MinorVersion::new(1, 25))).unwrap();
    let given = RemovedApiCheck::Report(Box::new(manifests));
    let report = preflight(&server.cluster(), &PreflightParams::new(v("v1.25")).removed_apis(given)).await.unwrap();
    assert_eq!(status(&report, CheckId::RemovedApis), CheckStatus::Fail);
    assert!(objects(&report, CheckId::RemovedApis)[0].contains("Ingress shop/web uses networking.k8s.io/v1beta1"));
}

#[tokio::test]
async fn pod_security_policies_only_matter_when_crossing_1_25() {
    // The testkit does not serve policy/v1beta1: a 1.24 cluster without them.
    let server = TestServer::builder().server_version("v1.24.3").start().await.unwrap();
    let report = preflight(&server.cluster(), &params("v1.25")).await.unwrap();
    let psp = report.check(CheckId::PodSecurityPolicies).unwrap();
    assert_eq!(psp.status, CheckStatus::Pass);
    assert!(psp.explanation.contains("does not serve"), "{}", psp.explanation);
    let report = preflight(&server.cluster(), &params("v1.24.9")).await.unwrap();
    assert!(report.check(CheckId::PodSecurityPolicies).unwrap().explanation.starts_with("Not affected"));
}

#[tokio::test]
async fn coredns_older_than_kubeadm_installs_warns_on_managed_clusters_only() {
    let coredns = |image: &str| {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "coredns-1", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "coredns", "uid": "u", "controller": true}]},
            "spec": {"containers": [{"name": "coredns", "image": image}]}})
    };
    let server = TestServer::builder().server_version("v1.29.4-eks-1").start().await.unwrap();
    server.insert(&coredns("602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/coredns:v1.10.1-eksbuild.7")).unwrap();
    let report = preflight(&server.cluster(), &params("v1.30")).await.unwrap();
    let addons = report.check(CheckId::Addons).unwrap();
    assert_eq!(addons.status, CheckStatus::Warn);
    assert!(addons.explanation.contains("older than v1.11.1"), "{}", addons.explanation);

    let server = TestServer::builder().server_version("v1.29.4-eks-1").start().await.unwrap();
    server.insert(&coredns("602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/coredns:v1.11.1-eksbuild.9")).unwrap();
    let report = preflight(&server.cluster(), &params("v1.30")).await.unwrap();
    assert_eq!(status(&report, CheckId::Addons), CheckStatus::Pass);
}

#[tokio::test]
async fn checks_that_cannot_read_warn_and_only_an_unreachable_cluster_is_an_error() {
    let server = TestServer::builder().server_version("v1.29.4").anonymous_is_admin(false).start().await.unwrap();
    server
        .insert_all([
            node("n1", "v1.29.4", true),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "node-reader"},
                "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "get"]}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "node-reader"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "node-reader"},
                "subjects": [{"kind": "User", "name": "viewer"}]}),
        ])
        .unwrap();
    let viewer = Cluster::from_kubeconfig(server.add_user("viewer", &[]).unwrap(), None).await.unwrap();
    let report = preflight(&viewer, &params("v1.30")).await.unwrap();
    assert_eq!(status(&report, CheckId::NodesReady), CheckStatus::Pass);
    for id in [CheckId::PodDisruptionBudgets, CheckId::UnreplicatedPods, CheckId::LocalStoragePods] {
        let c = report.check(id).unwrap();
        assert_eq!(c.status, CheckStatus::Warn, "{c:?}");
        assert!(c.explanation.starts_with("Not checked"), "{c:?}");
    }

    let dead = Cluster::from_config(kube::Config::new("http://127.0.0.1:1".parse().unwrap()))
        .unwrap()
        .to_builder()
        .retry(RetryPolicy::none())
        .build();
    assert!(preflight(&dead, &params("v1.30")).await.is_err());
}

#[tokio::test]
async fn the_report_serializes_every_check_with_its_id_and_status() {
    let server = TestServer::builder().server_version("v1.29.4").start().await.unwrap();
    server.insert_all([node("bad", "v1.29.4", false)]).unwrap();
    let report = preflight(&server.cluster(), &params("v1.30")).await.unwrap();
    let json = serde_json::to_value(&report).unwrap();
    let checks = json["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 9);
    let nodes = checks.iter().find(|c| c["id"] == "nodes-ready").unwrap();
    assert_eq!((nodes["status"].as_str(), nodes["objects"][0].as_str()), (Some("fail"), Some("bad (NotReady)")));
    assert_eq!(json["versions"]["server"]["gitVersion"], "v1.29.4");
}

#[tokio::test]
async fn platform_insights_surface_as_one_check_with_the_worst_status() {
    use k8sops_upgrade::preflight::UpgradeInsight;
    let server = TestServer::builder().server_version("v1.29.4").start().await.unwrap();
    server.insert_all([node("n1", "v1.29.4", true)]).unwrap();
    let none = preflight(&server.cluster(), &params("v1.30")).await.unwrap();
    assert!(none.check(CheckId::UpgradeInsights).is_none(), "no insights, no check");

    let insight = |name: &str, status, objects: &[&str]| UpgradeInsight {
        name: name.into(),
        status,
        explanation: format!("{name} explained"),
        objects: objects.iter().map(|s| s.to_string()).collect(),
    };
    let with = params("v1.30").insights(vec![
        insight("Kubelet version skew", CheckStatus::Pass, &[]),
        insight("Deprecated APIs removed in v1.30", CheckStatus::Fail, &["/apis/x/v1beta1/things/a"]),
        insight("Add-on compatibility", CheckStatus::Warn, &["vpc-cni"]),
    ]);
    let report = preflight(&server.cluster(), &with).await.unwrap();
    let check = report.check(CheckId::UpgradeInsights).expect("an upgrade-insights check");
    assert_eq!(check.status, CheckStatus::Fail);
    assert_eq!(check.objects, ["/apis/x/v1beta1/things/a", "vpc-cni"]);
    assert!(check.explanation.contains("FAIL Deprecated APIs removed in v1.30"), "{}", check.explanation);
    assert!(!check.explanation.contains("Kubelet version skew"), "passing insights are not listed");
    assert!(report.ensure_passed().is_err());
}
