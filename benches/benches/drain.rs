//! Drain of one node with 110 pods: k8sops versus `kubectl drain`, against
//! the same in-process API server (its kubelet stand-in deletes evicted pods
//! as a kubelet would), in one run.
//!
//! ```text
//! cargo bench -p k8sops-benches --bench drain
//! K8SOPS_BENCH_PODS=110 K8SOPS_BENCH_RUNS=3 cargo bench -p k8sops-benches --bench drain
//! ```
//!
//! Then the same drain on the real API server (`../shared/k8s`, the one of
//! `K8SOPS_E2E_KUBECONFIG` or one this bench starts), filled by the bench:
//! it has no kubelet, so both tools drain with `--force --grace-period=0`
//! (unowned pods, deleted at once by the server) — the API server's own pace,
//! without a kubelet's. `K8SOPS_BENCH_REAL_ONLY=1` runs only that part;
//! `K8SOPS_BENCH_CONCURRENCY` sets k8sops' evictions in flight (default 16).
//!
//! With `K8SOPS_NODE_KUBECONFIG` (the real node of `../shared/k8s/node/`),
//! also a drain of 10 pods that exit on SIGTERM, on a real kubelet:
//! `K8SOPS_BENCH_NODE_ONLY=1` runs only that part.

use std::time::{Duration, Instant};

use k8sops::nodes::{drain, DrainParams, DrainStatus};
use k8sops_benches::{env_usize, print, real_server::RealServer, Comparison};
use k8sops_testkit::{KubeletOptions, TestServer};
use serde_json::{json, Value};

fn node(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "250"}}})
}

/// Puts `pods` Ready pods of one ReplicaSet on `bench-node`, uncordoned.
fn populate(server: &TestServer, rs: &Value, pods: usize, round: usize) {
    let objs = (0..pods).map(|i| {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("web-{round}-{i}"), "namespace": "bench", "labels": {"app": "web"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs["metadata"]["uid"], "controller": true}]},
            "spec": {"nodeName": "bench-node", "terminationGracePeriodSeconds": 30, "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    });
    server.insert_all(objs).expect("insert pods");
}

async fn uncordon(server: &TestServer) {
    let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(server.client());
    let patch = kube::api::Patch::Merge(json!({"spec": {"unschedulable": null}}));
    nodes.patch("bench-node", &kube::api::PatchParams::default(), &patch).await.expect("uncordon");
}

#[tokio::main]
async fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let pods = env_usize("K8SOPS_BENCH_PODS", if quick { 20 } else { 110 });
    let runs = env_usize("K8SOPS_BENCH_RUNS", if quick { 1 } else { 3 });
    if std::env::var_os("K8SOPS_BENCH_NODE_ONLY").is_some() {
        return drain_real_node(runs).await;
    }
    if std::env::var_os("K8SOPS_BENCH_REAL_ONLY").is_some() {
        drain_real(pods, runs).await;
        return drain_real_node(runs).await;
    }
    let kubelet = KubeletOptions { recreate_controller_pods: false, ..Default::default() };
    let server = TestServer::builder().kubelet(kubelet).start().await.expect("start testkit");
    server.insert(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})).expect("namespace");
    for n in ["bench-node", "spare-1", "spare-2"] {
        server.insert(&node(n)).expect("node");
    }
    let rs = server
        .insert(&json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": "bench"},
            "spec": {"replicas": pods, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}))
        .expect("replicaset");
    let cache = tempfile::tempdir().expect("temp dir");
    let cluster = server.cluster();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut max_in_flight = 0;
    for round in 0..runs {
        populate(&server, &rs, pods, round * 2);
        server.clear_requests();
        let start = Instant::now();
        let report = drain(&cluster, "bench-node", &DrainParams::default()).await.expect("k8sops drain");
        ours.push(start.elapsed());
        assert_eq!(report.status, DrainStatus::Completed);
        assert_eq!(report.pods.len(), pods);
        max_in_flight = max_in_flight.max(DrainParams::default().concurrency);
        uncordon(&server).await;

        populate(&server, &rs, pods, round * 2 + 1);
        let args = ["drain", "bench-node", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=600s"];
        let elapsed = kubectl_drain(server.kubeconfig_path(), cache.path(), args.map(String::from).to_vec()).await;
        theirs.push(elapsed);
        uncordon(&server).await;
    }
    ours.sort();
    theirs.sort();
    let median = |v: &[Duration]| v[v.len() / 2];
    println!("drain of a node with {pods} pods, {runs} run(s) each; k8sops eviction concurrency {max_in_flight}");
    print(&[Comparison {
        name: format!("drain {pods} pods"),
        kubectl: "kubectl drain bench-node --ignore-daemonsets --delete-emptydir-data".into(),
        k8sops: median(&ours),
        kubectl_time: median(&theirs),
    }]);
    drain_real(pods, runs).await;
}

/// The drain on the real API server: k8sops and kubectl, alternating, each
/// on a freshly filled node.
async fn drain_real(pods: usize, runs: usize) {
    let Some(real) = RealServer::connect_or_start() else {
        println!("real API server: skipped (no K8SOPS_E2E_KUBECONFIG and no ../shared/k8s)");
        return;
    };
    let ns = "drain-bench";
    let node = format!("{ns}-node-0");
    let cluster = k8sops::Cluster::from_kubeconfig(&real.kubeconfig, None).await.expect("connect");
    let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(cluster.client().clone());
    let uncordon = || async {
        let patch = kube::api::Patch::Merge(json!({"spec": {"unschedulable": null}}));
        nodes.patch(&node, &kube::api::PatchParams::default(), &patch).await.expect("uncordon");
    };
    let cache = tempfile::tempdir().expect("temp dir");
    let concurrency = env_usize("K8SOPS_BENCH_CONCURRENCY", DrainParams::default().concurrency);
    let params = DrainParams::default()
        .ignore_daemonsets(true)
        .delete_emptydir_data(true)
        .force(true)
        .grace_period(0)
        .concurrency(concurrency);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        real.fill(ns, 1, pods).await;
        let start = Instant::now();
        let report = drain(&cluster, &node, &params).await.expect("k8sops drain");
        ours.push(start.elapsed());
        assert_eq!(report.status, DrainStatus::Completed, "{report}");
        assert_eq!(report.pods.len(), pods);
        uncordon().await;

        real.fill(ns, 1, pods).await;
        let args = [
            "drain",
            &node,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--force",
            "--grace-period=0",
            "--timeout=600s",
        ]
        .map(String::from);
        let elapsed = kubectl_drain(&real.kubeconfig, cache.path(), args.to_vec()).await;
        theirs.push(elapsed);
        uncordon().await;
    }
    ours.sort();
    theirs.sort();
    let median = |v: &[Duration]| v[v.len() / 2];
    println!(
        "real kube-apiserver (../shared/k8s, no kubelet): drain of a node with {pods} unowned pods, {runs} run(s) each"
    );
    print(&[Comparison {
        name: format!("drain {pods} pods (real API server)"),
        kubectl: "kubectl drain NODE --ignore-daemonsets --delete-emptydir-data --force --grace-period=0".into(),
        k8sops: median(&ours),
        kubectl_time: median(&theirs),
    }]);
}

/// The drain on a real node: 10 pods whose container exits on SIGTERM, by
/// k8sops and by `kubectl drain`, alternating, each on freshly started pods.
/// Here the kubelet sets the pace (stopping containers, then deleting pods).
async fn drain_real_node(runs: usize) {
    let Some(kubeconfig) = std::env::var_os("K8SOPS_NODE_KUBECONFIG").map(std::path::PathBuf::from) else {
        println!("real node: skipped (no K8SOPS_NODE_KUBECONFIG; start ../shared/k8s/node/start-node.sh)");
        return;
    };
    const NODE: &str = "node-1";
    const PODS: usize = 10;
    let cluster = k8sops::Cluster::from_kubeconfig(&kubeconfig, None).await.expect("connect to the real node");
    let client = cluster.client().clone();
    let ns = "drain-node-bench";
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    let _ = namespaces
        .create(&Default::default(), &serde_json::from_value(json!({"metadata": {"name": ns}})).expect("ns"))
        .await;
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(client.clone(), ns);
    let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client);
    let uncordon = || async {
        let patch = kube::api::Patch::Merge(json!({"spec": {"unschedulable": null}}));
        nodes.patch(NODE, &kube::api::PatchParams::default(), &patch).await.expect("uncordon");
    };
    let start_pods = |round: usize| {
        let pods = pods.clone();
        async move {
            for i in 0..PODS {
                let pod = serde_json::from_value(json!({"metadata": {"name": format!("p{round}-{i}"), "labels": {"bench": "drain"}},
                    "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": "localhost/busybox:1.35",
                        "imagePullPolicy": "Never", "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]}]}}))
                .expect("pod");
                pods.create(&Default::default(), &pod).await.expect("create pod");
            }
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                let list = pods.list(&kube::api::ListParams::default().labels("bench=drain")).await.expect("list");
                let running =
                    list.items.iter().filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"));
                if running.count() == PODS {
                    break;
                }
                assert!(Instant::now() < deadline, "{PODS} pods running on the real node within 120 s");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let selector = "bench=drain";
    let params = DrainParams::default().force(true).pod_selector(selector.parse().expect("selector"));
    let cache = tempfile::tempdir().expect("temp dir");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..runs {
        start_pods(2 * round).await;
        let start = Instant::now();
        let report = drain(&cluster, NODE, &params).await.expect("k8sops drain");
        ours.push(start.elapsed());
        assert_eq!(report.status, DrainStatus::Completed, "{report}");
        uncordon().await;

        start_pods(2 * round + 1).await;
        let args = ["drain", NODE, "--force", "--pod-selector=bench=drain", "--timeout=600s"].map(String::from);
        let elapsed = kubectl_drain(&kubeconfig, cache.path(), args.to_vec()).await;
        theirs.push(elapsed);
        uncordon().await;
    }
    ours.sort();
    theirs.sort();
    let median = |v: &[Duration]| v[v.len() / 2];
    println!("real node (../shared/k8s/node, kubelet + containerd): drain of {PODS} pods that exit on SIGTERM, {runs} run(s) each");
    print(&[Comparison {
        name: format!("drain {PODS} pods (real node)"),
        kubectl: "kubectl drain node-1 --force --pod-selector=bench=drain".into(),
        k8sops: median(&ours),
        kubectl_time: median(&theirs),
    }]);
}

/// Times one `kubectl drain ...` run (it must succeed: a comparison against a
/// failing command means nothing).
async fn kubectl_drain(kubeconfig: &std::path::Path, cache_dir: &std::path::Path, args: Vec<String>) -> Duration {
    let (kc, cache_dir) = (kubeconfig.to_path_buf(), cache_dir.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let out = std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kc)
            .arg("--cache-dir")
            .arg(&cache_dir)
            .args(&args)
            .output()
            .expect("kubectl must be installed");
        assert!(out.status.success(), "kubectl drain failed: {}", String::from_utf8_lossy(&out.stderr));
        start.elapsed()
    })
    .await
    .expect("kubectl run")
}
