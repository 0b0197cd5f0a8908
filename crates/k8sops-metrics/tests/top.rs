//! `top`, quotas and limit ranges against the testkit (kubectl as the oracle)
//! and a real API server (which has no metrics-server: the typed error).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, ResourceQuota};
use k8sops_metrics::{limit_ranges, metrics_server_status, quotas, top_nodes, top_pods, Error, SortBy, TopPodsParams};
use k8sops_testkit::{DemoCluster, TestServer};
use kube::{
    api::{Patch, PatchParams, PostParams},
    Api,
};
use serde_json::json;

async fn demo() -> TestServer {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    server
}

async fn kubectl(server: &TestServer, args: &[&str]) -> String {
    let (ok, out, err) = server.kubectl(args).await;
    assert!(ok, "kubectl {args:?}: {err}");
    out
}

fn cells(s: &str) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = s.lines().map(|l| l.split_whitespace().map(str::to_string).collect()).collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_nodes_prints_what_kubectl_top_nodes_prints() {
    // kubectl 1.32 and later print `CPU(%)`/`MEMORY(%)` (older ones `CPU%`);
    // a version-dispatching kubectl picks the client matching the server.
    let server = TestServer::builder().server_version("v1.32.4").start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let ours = top_nodes(&server.cluster(), None, SortBy::Name).await.unwrap();
    let theirs = kubectl(&server, &["top", "nodes"]).await;
    assert_eq!(cells(&ours.to_string()), cells(&theirs), "k8sops:\n{ours}\nkubectl:\n{theirs}");
    let by_cpu = top_nodes(&server.cluster(), None, SortBy::Cpu).await.unwrap();
    assert!(by_cpu.nodes.windows(2).all(|w| w[0].cpu >= w[1].cpu));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_pods_prints_what_kubectl_top_pods_prints() {
    let server = demo().await;
    let all = top_pods(&server.cluster(), &TopPodsParams::default()).await.unwrap();
    let theirs = kubectl(&server, &["top", "pods", "-A"]).await;
    assert_eq!(cells(&all.to_string()), cells(&theirs));
    let params = TopPodsParams { namespace: Some("shop".into()), containers: true, ..Default::default() };
    let shop = top_pods(&server.cluster(), &params).await.unwrap();
    let theirs = kubectl(&server, &["top", "pods", "-n", "shop", "--containers"]).await;
    assert_eq!(cells(&shop.to_string()), cells(&theirs));
    let params =
        TopPodsParams { selector: Some("app=web".parse().unwrap()), sort: SortBy::Memory, ..Default::default() };
    let web = top_pods(&server.cluster(), &params).await.unwrap();
    assert_eq!(web.pods.len(), 3);
    assert!(web.pods.windows(2).all(|w| w[0].memory >= w[1].memory));
}

#[tokio::test]
async fn missing_metrics_api_is_a_typed_error_with_the_fix() {
    let server = TestServer::builder().metrics_api(false).start().await.unwrap();
    let err = top_nodes(&server.cluster(), None, SortBy::Name).await.unwrap_err();
    assert!(matches!(err, Error::MetricsUnavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("install metrics-server"), "{err}");
    let err = top_pods(&server.cluster(), &TopPodsParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::MetricsUnavailable { .. }), "{err:?}");
    let status = metrics_server_status(&server.cluster()).await.unwrap();
    assert!(!status.is_healthy() && !status.api_service_exists);
    assert!(status.advice().unwrap().contains("not installed"));
    let demo = demo().await;
    let status = metrics_server_status(&demo.cluster()).await.unwrap();
    assert!(status.is_healthy(), "{status}");
    assert_eq!(status.deployment, Some((1, 1)));
}

#[tokio::test]
async fn quotas_flag_resources_at_eighty_percent_and_limit_ranges_list_defaults() {
    let server = demo().await;
    let report = quotas(&server.cluster(), None, 80).await.unwrap();
    let near: Vec<(String, String, i64)> =
        report.near_full().map(|l| (l.namespace.clone(), l.resource.clone(), l.percent())).collect();
    assert_eq!(near, [("legacy".to_string(), "requests.cpu".to_string(), 90)]);
    assert!(report.to_string().contains("NEAR LIMIT"));
    let shop = quotas(&server.cluster(), Some("shop"), 80).await.unwrap();
    assert!(shop.lines.iter().all(|l| l.namespace == "shop") && !shop.lines.is_empty());
    let lr = limit_ranges(&server.cluster(), Some("shop")).await.unwrap();
    let cpu = lr.items.iter().find(|i| i.resource == "cpu").unwrap();
    assert_eq!(
        (cpu.default_request.unwrap().to_string(), cpu.default_limit.unwrap().to_string()),
        ("100m".into(), "500m".into())
    );
}

#[tokio::test]
async fn on_a_real_server_top_says_metrics_are_missing_and_quotas_track_usage() {
    let Some(cluster) = k8sops_testkit::e2e::real_cluster().await else { return };
    // The real server in ../shared/k8s runs no metrics-server: metrics.k8s.io is simply absent.
    let err = top_nodes(&cluster, None, SortBy::Name).await.unwrap_err();
    assert!(matches!(err, Error::MetricsUnavailable { .. }), "{err:?}");
    assert!(!metrics_server_status(&cluster).await.unwrap().api_service_exists);

    let ns = k8sops_testkit::e2e::fresh_namespace(&cluster, "quota").await;
    let rq: Api<ResourceQuota> = Api::namespaced(cluster.client().clone(), &ns);
    rq.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "q"}, "spec": {"hard": {"pods": "2"}}})).unwrap(),
    )
    .await
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(cluster.client().clone(), &ns);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    // The quota controller must have computed status before pods are admitted against it.
    while rq.get("q").await.unwrap().status.and_then(|s| s.used).is_none() {
        assert!(tokio::time::Instant::now() < deadline, "quota status never computed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "pause"}]}}),
    )
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let report = quotas(&cluster, Some(&ns), 50).await.unwrap();
    let line = report.lines.iter().find(|l| l.resource == "pods").unwrap();
    assert_eq!((line.used.value(), line.hard.value(), line.percent()), (1, 2, 50));
    assert_eq!(report.near_full().count(), 1);
    let _ = rq.patch("q", &PatchParams::default(), &Patch::Merge(json!({"spec": {"hard": {"pods": "10"}}}))).await;
}

#[tokio::test]
async fn quotas_skip_forbidden_namespaces_and_say_so() {
    let server = demo().await;
    let rbac = [
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "ns-and-quota-reader"},
            "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "team-ns"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "ns-and-quota-reader"},
            "subjects": [{"kind": "Group", "name": "team"}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "quota-reader", "namespace": "shop"},
            "rules": [{"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["list"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "team-quotas", "namespace": "shop"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "quota-reader"},
            "subjects": [{"kind": "Group", "name": "team"}]}),
    ];
    server.insert_all(rbac).unwrap();
    let kubeconfig = server.add_user("dev", &["team"]).unwrap();
    let dev = k8sops_core::Cluster::from_kubeconfig(&kubeconfig, None).await.unwrap();
    let report = quotas(&dev, None, 80).await.unwrap();
    assert!(!report.lines.is_empty() && report.lines.iter().all(|l| l.namespace == "shop"));
    assert!(report.forbidden_namespaces.contains(&"legacy".to_string()));
    assert!(report.to_string().contains("not checked (forbidden): "));
}
