//! The daily check on the real node (`../shared/k8s/node/`): a pod the
//! kubelet keeps restarting is listed among the unhealthy pods, as kubectl
//! shows it.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8sops_testkit::e2e;
use kube::{api::PostParams, Api};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_check_lists_a_crash_looping_pod_on_a_real_node() {
    let Some(node) = e2e::real_node().await else { return };
    let ns = e2e::fresh_namespace(&node.cluster, "daily").await;
    let api: Api<Pod> = Api::namespaced(node.cluster.client().clone(), &ns);
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "flaky"}, "spec": {"containers": [
        {"name": "c", "image": "localhost/busybox:1.35", "imagePullPolicy": "Never", "command": ["sh", "-c", "sleep 1; exit 2"]}]}}))
    .unwrap();
    api.create(&PostParams::default(), &pod).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let line = loop {
        let report = k8sops::checklist::daily(&node.cluster).await.unwrap();
        if let Some(l) =
            report.unhealthy_pods.iter().find(|p| p.namespace == ns && p.name == "flaky" && p.restarts >= 1)
        {
            break l.clone();
        }
        assert!(Instant::now() < deadline, "flaky listed with a restart within 120 s: {:?}", report.unhealthy_pods);
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let out = node.kubectl_ok(&["get", "pod", "-n", &ns, "flaky", "--no-headers"]).await;
    let cells: Vec<&str> = out.split_whitespace().collect();
    assert!(cells[3].parse::<i64>().unwrap() >= line.restarts, "kubectl: {out}; k8sops: {line:?}");
}
