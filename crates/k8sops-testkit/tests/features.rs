//! Testkit features beyond the conformance suite: logs, metrics, watch
//! history and bookmarks, fault injection and the typed errors they produce,
//! the kubelet stand-in, and demo clusters.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use k8sops_core::{Error, RetryPolicy};
use k8sops_testkit::{DemoCluster, Fault, KubeletOptions, TestServer};
use kube::{
    api::{Api, DeleteParams, ListParams, LogParams, PostParams, WatchEvent, WatchParams},
    core::{DynamicObject, GroupVersionKind},
    discovery::ApiResource,
};
use serde_json::json;

#[tokio::test]
async fn pod_logs_support_container_previous_and_tail() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let pods: Api<Pod> = Api::namespaced(server.client(), "legacy");
    server.append_log("legacy", "debug-shell", "shell", false, "one\ntwo\nthree");
    server.append_log("legacy", "debug-shell", "shell", true, "crashed: out of memory");
    assert_eq!(pods.logs("debug-shell", &LogParams::default()).await.unwrap(), "one\ntwo\nthree\n");
    assert_eq!(
        pods.logs("debug-shell", &LogParams { tail_lines: Some(1), ..Default::default() }).await.unwrap(),
        "three\n"
    );
    let prev = LogParams { previous: true, ..Default::default() };
    assert_eq!(pods.logs("debug-shell", &prev).await.unwrap(), "crashed: out of memory\n");
    let err = pods.logs("host-agent", &prev).await.unwrap_err();
    assert!(err.to_string().contains("previous terminated container"), "{err}");
    assert!(pods.logs("missing", &LogParams::default()).await.is_err());
}

#[tokio::test]
async fn metrics_api_serves_node_and_pod_usage_and_can_be_absent() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    server.set_node_metrics("ip-10-0-0-5.ec2.internal", "1250m", "3Gi").unwrap();
    let gvk = GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", "NodeMetrics");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "nodes");
    let api: Api<DynamicObject> = Api::all_with(server.client(), &ar);
    let m = api.get("ip-10-0-0-5.ec2.internal").await.unwrap();
    assert_eq!(m.data["usage"]["cpu"], "1250m");
    assert_eq!(api.list(&ListParams::default()).await.unwrap().items.len(), 7);

    let bare = TestServer::builder().metrics_api(false).start().await.unwrap();
    let api: Api<DynamicObject> = Api::all_with(bare.client(), &ar);
    let err = api.list(&ListParams::default()).await.unwrap_err();
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 404), "{err:?}");
    assert!(bare.set_node_metrics("n", "1", "1Gi").is_err());
}

#[tokio::test]
async fn watch_from_a_compacted_version_is_410_and_bookmarks_arrive() {
    let server =
        TestServer::builder().watch_history(3).bookmark_interval(Duration::from_millis(50)).start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let first = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    for i in 0..10 {
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": format!("c{i}")}})).unwrap();
        api.create(&PostParams::default(), &cm).await.unwrap();
    }
    let mut old = api.watch(&WatchParams::default(), &first).await.unwrap().boxed();
    match old.try_next().await.unwrap() {
        Some(WatchEvent::Error(e)) => assert_eq!(e.code, 410),
        other => panic!("expected 410 Gone, got {other:?}"),
    }
    let rv = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let mut stream = api.watch(&WatchParams::default(), &rv).await.unwrap().boxed();
    let ev = tokio::time::timeout(Duration::from_secs(10), stream.try_next()).await.unwrap().unwrap();
    assert!(matches!(ev, Some(WatchEvent::Bookmark(_))), "{ev:?}");
}

#[tokio::test]
async fn injected_faults_become_typed_errors_and_are_retried() {
    let server = TestServer::start().await.unwrap();
    let cluster = server.cluster().to_builder().retry(RetryPolicy::none()).build();
    server.add_fault(Fault::on("GET", "/version").too_many_requests(2).times(1));
    let err = cluster.server_version().await.unwrap_err();
    assert!(matches!(err, Error::Throttled { retry_after: Some(d), .. } if d == Duration::from_secs(2)), "{err:?}");
    server.add_fault(Fault::on("GET", "/version").status(503).times(1));
    let err = cluster.server_version().await.unwrap_err();
    assert!(matches!(err, Error::Api { code: 503, .. }) && err.is_transient(), "{err:?}");
    server.add_fault(Fault::on("GET", "/version").drop_connection().times(1));
    let err = cluster.server_version().await.unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }) && err.is_transient(), "{err:?}");
    server.add_fault(Fault::on("GET", "/version").status(500).times(2));
    let retrying =
        server.cluster().to_builder().retry(RetryPolicy::default().initial_backoff(Duration::from_millis(1))).build();
    assert_eq!(retrying.server_version().await.unwrap().to_string(), "v1.30.4");
    let failed = server.requests().iter().filter(|r| r.path == "/version" && r.status >= 500).count();
    assert_eq!(failed, 3, "503 once, then 500 twice before the success");
}

#[tokio::test]
async fn probability_faults_are_repeatable_with_a_seed() {
    let run = || async {
        let server = TestServer::builder()
            .seed(7)
            .fault(Fault::on("GET", "/version").status(503).probability(0.5))
            .start()
            .await
            .unwrap();
        let cluster = server.cluster().to_builder().retry(RetryPolicy::none()).build();
        let mut outcomes = Vec::new();
        for _ in 0..16 {
            outcomes.push(cluster.server_version().await.is_ok());
        }
        outcomes
    };
    let a = run().await;
    assert_eq!(a, run().await, "same seed, same faults");
    assert!(a.iter().any(|ok| *ok) && a.iter().any(|ok| !*ok), "{a:?}");
}

#[tokio::test]
async fn unknown_tokens_are_401_and_missing_rights_403() {
    let server = TestServer::builder().anonymous_is_admin(false).start().await.unwrap();
    let path = server.add_user("bob", &[]).unwrap();
    let text = std::fs::read_to_string(&path).unwrap().replace("token-bob", "forged-bob");
    let forged = path.with_file_name("forged.kubeconfig");
    std::fs::write(&forged, text).unwrap();
    let cluster = k8sops_core::Cluster::from_kubeconfig(&forged, None).await.unwrap();
    let err = cluster.server_version().await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    let bob = k8sops_core::Cluster::from_kubeconfig(&path, None).await.unwrap();
    let nodes: Api<Node> = Api::all(bob.client().clone());
    let err = bob.map_err(nodes.list(&ListParams::default()).await.unwrap_err(), "nodes");
    assert!(
        matches!(&err, Error::Forbidden { message } if message.contains("User \"bob\" cannot list resource \"nodes\"")),
        "{err:?}"
    );
}

#[tokio::test]
async fn kubelet_stand_in_finishes_deletions_and_recreates_controller_pods() {
    let server = TestServer::builder().kubelet(KubeletOptions::default()).start().await.unwrap();
    server.load(&DemoCluster::small().problems(false)).unwrap();
    let pods: Api<Pod> = Api::namespaced(server.client(), "shop");
    let web = pods.list(&ListParams::default().labels("app=web")).await.unwrap().items;
    let victim = web[0].metadata.name.clone().unwrap();
    pods.delete(&victim, &DeleteParams::default()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = pods.list(&ListParams::default().labels("app=web")).await.unwrap().items;
        if now.iter().all(|p| p.metadata.name.as_deref() != Some(victim.as_str())) && now.len() == web.len() {
            assert!(now.iter().all(k8sops_core::object_status::pod_is_ready));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the pod was not replaced");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Without the stand-in a bound pod stays Terminating, as on a real server without kubelets.
    let bare = TestServer::start().await.unwrap();
    bare.load(&DemoCluster::small().problems(false)).unwrap();
    let pods: Api<Pod> = Api::namespaced(bare.client(), "shop");
    pods.delete(&victim, &DeleteParams::default()).await.unwrap();
    assert!(pods.get(&victim).await.unwrap().metadata.deletion_timestamp.is_some());
}

#[tokio::test]
async fn demo_clusters_are_deterministic_and_scale() {
    let a = TestServer::start().await.unwrap();
    let b = TestServer::start().await.unwrap();
    let sa = a.load(&DemoCluster::small()).unwrap();
    let sb = b.load(&DemoCluster::small()).unwrap();
    assert_eq!(sa, sb);
    let names = |s: &TestServer| {
        let client = s.client();
        async move {
            let pods: Api<Pod> = Api::all(client);
            pods.list(&ListParams::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .filter_map(|p| p.metadata.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names(&a).await, names(&b).await, "same seed, same pods");
    let big = TestServer::start().await.unwrap();
    let s = big.load(&DemoCluster::scaled(300, 6_000)).unwrap();
    assert_eq!(s.nodes, 300);
    assert!(s.pods >= 6_000, "{s:?}");
    assert_eq!(big.count("", "pods"), s.pods);
}

#[tokio::test]
async fn the_demo_cluster_loads_5000_nodes_with_unique_generated_names() {
    // One pod per node per DaemonSet: with the default seed a random 5-letter
    // suffix repeats well before 5,000 pods, so names must be drawn again on a collision.
    let server = TestServer::start().await.unwrap();
    let summary = server.load(&DemoCluster::scaled(5_000, 0)).unwrap();
    assert_eq!(summary.nodes, 5_000);
    assert_eq!(server.count("", "pods"), summary.pods);
    assert!(summary.pods >= 2 * 5_000, "{summary:?}");
}
