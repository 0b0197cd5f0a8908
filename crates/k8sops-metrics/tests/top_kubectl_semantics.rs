//! `kubectl top` as kubectl 1.32+ prints it: headers, the order of
//! `--containers` rows, and usage that metrics-server did not report
//! (unknown, never zero).

use k8sops_metrics::{capacity_report, top_nodes, top_pods, Error, SortBy, TopPodsParams};
use k8sops_testkit::{DemoCluster, TestServer};
use serde_json::json;

async fn demo() -> TestServer {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    server
}

fn rows(s: &str) -> Vec<Vec<String>> {
    s.lines().map(|l| l.split_whitespace().map(str::to_string).collect()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_nodes_headers_are_those_of_kubectl_1_32() {
    let server = demo().await;
    let top = top_nodes(&server.cluster(), None, SortBy::Name).await.unwrap();
    let out = top.to_string();
    assert_eq!(rows(&out)[0], ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"], "{out}");
    // kubectl 1.32 itself (a version-dispatching kubectl picks the client
    // matching the server's version).
    let server = TestServer::builder().server_version("v1.32.4").start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let (ok, theirs, err) = server.kubectl(&["top", "nodes"]).await;
    assert!(ok, "{err}");
    assert_eq!(rows(&theirs)[0], rows(&out)[0], "kubectl:\n{theirs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_rows_are_sorted_like_kubectl_top_pods_containers() {
    let server = demo().await;
    // metrics-server lists containers in its own order; kubectl sorts them.
    server
        .set_pod_metrics(
            "sorting",
            "multi",
            &[("zeta", "10m", "300Mi"), ("alpha", "30m", "100Mi"), ("mid", "20m", "200Mi")],
        )
        .unwrap();
    let params =
        |sort| TopPodsParams { namespace: Some("sorting".into()), containers: true, sort, ..Default::default() };
    let names = |top: &k8sops_metrics::TopPods| -> Vec<String> {
        top.pods[0].containers.iter().map(|c| c.name.clone()).collect()
    };
    let by_name = top_pods(&server.cluster(), &params(SortBy::Name)).await.unwrap();
    assert_eq!(names(&by_name), ["alpha", "mid", "zeta"]);
    let by_cpu = top_pods(&server.cluster(), &params(SortBy::Cpu)).await.unwrap();
    assert_eq!(names(&by_cpu), ["alpha", "mid", "zeta"]);
    let by_memory = top_pods(&server.cluster(), &params(SortBy::Memory)).await.unwrap();
    assert_eq!(names(&by_memory), ["zeta", "mid", "alpha"]);

    // kubectl itself, rows in printed order.
    for (sort, flag) in [(SortBy::Name, None), (SortBy::Memory, Some("--sort-by=memory"))] {
        let ours = top_pods(&server.cluster(), &params(sort)).await.unwrap().to_string();
        let mut args = vec!["top", "pods", "-n", "sorting", "--containers"];
        args.extend(flag);
        let (ok, theirs, err) = server.kubectl(&args).await;
        assert!(ok, "kubectl {args:?}: {err}");
        assert_eq!(rows(&ours), rows(&theirs), "k8sops:\n{ours}\nkubectl:\n{theirs}");
    }
}

#[tokio::test]
async fn missing_usage_is_unknown_or_an_error_never_zero() {
    let server = demo().await;
    // A node whose metrics lack memory: <unknown>, like a node without metrics.
    server
        .insert(&json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "ip-10-0-9-9.ec2.internal"},
            "status": {"capacity": {"cpu": "2", "memory": "8Gi", "pods": "110"},
                "allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True"}]}}))
        .unwrap();
    server
        .insert(&json!({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "NodeMetrics",
            "metadata": {"name": "ip-10-0-9-9.ec2.internal", "labels": {}}, "timestamp": "2026-01-01T00:00:00Z",
            "window": "10s", "usage": {"cpu": "250m"}}))
        .unwrap();
    let top = top_nodes(&server.cluster(), None, SortBy::Name).await.unwrap();
    assert!(top.nodes.iter().all(|n| n.name != "ip-10-0-9-9.ec2.internal"), "{top}");
    assert!(top.missing.contains(&"ip-10-0-9-9.ec2.internal".to_string()));
    let out = top.to_string();
    let row = rows(&out).into_iter().find(|r| r[0] == "ip-10-0-9-9.ec2.internal").unwrap();
    assert_eq!(row[1..], ["<unknown>", "<unknown>", "<unknown>", "<unknown>"], "{out}");

    // A pod requesting a lot whose metrics lack CPU usage: a typed error
    // naming it from top, not 0m ...
    server
        .insert(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "greedy", "namespace": "partial"},
            "spec": {"nodeName": "ip-10-0-9-9.ec2.internal", "containers": [{"name": "app", "image": "x",
                "resources": {"requests": {"cpu": "1", "memory": "64Mi"}}}]},
            "status": {"phase": "Running"}}))
        .unwrap();
    server
        .insert(&json!({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
            "metadata": {"name": "greedy", "namespace": "partial", "labels": {}}, "timestamp": "2026-01-01T00:00:00Z",
            "window": "10s", "containers": [{"name": "app", "usage": {"memory": "60Mi"}}]}))
        .unwrap();
    let err = top_pods(&server.cluster(), &TopPodsParams { namespace: Some("partial".into()), ..Default::default() })
        .await
        .unwrap_err();
    match &err {
        Error::IncompleteMetrics { object, resource } => {
            assert_eq!((object.as_str(), resource.as_str()), ("partial/greedy container app", "cpu"));
        }
        e => panic!("expected IncompleteMetrics, got {e:?}"),
    }
    // ... and, in the capacity report, usage that is unknown: the pod is not
    // reported as using none of its 1 CPU request.
    let report = capacity_report(&server.cluster(), &Default::default()).await.unwrap();
    assert!(report.usage_known());
    assert!(report.over_requesting.iter().all(|o| o.pod != "partial/greedy"), "{report}");
}
