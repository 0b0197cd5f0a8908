//! Drain with real termination on the real node (`../shared/k8s/node/`):
//! containers that exit on SIGTERM and containers that ignore it (killed at
//! their grace period), drained by k8sops and by `kubectl drain` on the same
//! state. The kubelet sets the pace here, not the client.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8sops_nodes::{drain, DrainParams, DrainStatus, PodOutcome};
use k8sops_testkit::e2e;
use kube::{
    api::{ListParams, PostParams},
    Api,
};
use serde_json::json;

const NODE: &str = "node-1";

/// Uncordons the node when the test ends, even on a panic: the node is
/// shared by every real-node test.
struct Uncordon(std::path::PathBuf);

impl Drop for Uncordon {
    fn drop(&mut self) {
        let _ =
            std::process::Command::new("kubectl").arg("--kubeconfig").arg(&self.0).args(["uncordon", NODE]).output();
    }
}

async fn create_pods(api: &Api<Pod>, set: &str) {
    for (name, command, grace) in
        [("polite", "trap 'exit 0' TERM; while true; do sleep 1; done", 30), ("stubborn", "sleep 3600", 3)]
    {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": format!("{set}-{name}"), "labels": {"set": set}},
            "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": grace, "containers": [
                {"name": "c", "image": "localhost/busybox:1.35", "imagePullPolicy": "Never", "command": ["sh", "-c", command]}]}}))
        .unwrap();
        api.create(&PostParams::default(), &pod).await.unwrap();
    }
    // Both running before the drain.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pods = api.list(&ListParams::default().labels(&format!("set={set}"))).await.unwrap().items;
        if pods.len() == 2 && pods.iter().all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        {
            return;
        }
        assert!(Instant::now() < deadline, "pods of {set} running within 60 s");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_waits_for_real_termination_like_kubectl_drain() {
    let Some(node) = e2e::real_node().await else { return };
    let _uncordon = Uncordon(node.kubeconfig.clone());
    let ns = e2e::fresh_namespace(&node.cluster, "drain").await;
    let api: Api<Pod> = Api::namespaced(node.cluster.client().clone(), &ns);

    create_pods(&api, "ours").await;
    let params = DrainParams::default().force(true).pod_selector("set=ours".parse().unwrap());
    let start = Instant::now();
    let report = drain(&node.cluster, NODE, &params).await.unwrap();
    let ours = start.elapsed();
    assert_eq!(report.status, DrainStatus::Completed, "{report}");
    assert!(report.pods.iter().all(|p| p.outcome == PodOutcome::Evicted), "{report}");
    assert!(api.list(&ListParams::default().labels("set=ours")).await.unwrap().items.is_empty(), "both pods are gone");
    // The stubborn pod is killed at its 3 s grace period: the drain cannot be faster.
    assert!(ours >= Duration::from_secs(3), "{ours:?}");
    drop(node.kubectl_ok(&["uncordon", NODE]).await);

    create_pods(&api, "theirs").await;
    let start = Instant::now();
    let (ok, out, err) = node.kubectl(&["drain", NODE, "--force", "--pod-selector=set=theirs", "--timeout=120s"]).await;
    let theirs = start.elapsed();
    assert!(ok, "{err}");
    assert!(out.contains("pod/theirs-polite evicted") && out.contains("pod/theirs-stubborn evicted"), "{out}");
    println!("real node drain of a SIGTERM-exiting and a SIGTERM-ignoring pod (grace 3 s): k8sops {ours:?}, kubectl {theirs:?}");
}
