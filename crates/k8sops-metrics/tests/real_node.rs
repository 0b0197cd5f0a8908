//! The monitor stream on the real node (`../shared/k8s/node/`): a pod that
//! starts crash-looping while the monitor runs raises an alert. The node
//! serves no metrics.k8s.io (no metrics-server), so the snapshots carry no
//! usage and say why — kubectl is the oracle for both.

use std::{
    pin::pin,
    time::{Duration, Instant},
};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8sops_metrics::{monitor, Alert, MonitorParams};
use k8sops_testkit::e2e;
use kube::{api::PostParams, Api};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_that_starts_crash_looping_while_the_monitor_runs_raises_an_alert() {
    let Some(node) = e2e::real_node().await else { return };
    let ns = e2e::fresh_namespace(&node.cluster, "monitor").await;
    let params = MonitorParams { interval: Duration::from_secs(1), ..Default::default() };
    let mut samples = pin!(monitor(&node.cluster, params));

    let first = samples.next().await.unwrap().unwrap();
    // No metrics-server on the node: kubectl top fails the same way.
    assert!(first.nodes.is_none(), "{:?}", first.nodes);
    assert!(first.usage_unavailable.as_deref().unwrap().contains("metrics.k8s.io is not available"));
    let (ok, _, err) = node.kubectl(&["top", "nodes"]).await;
    assert!(!ok && err.contains("Metrics API not available"), "{err}");
    let ours =
        |a: &Alert| matches!(a, Alert::CrashLooping { container, .. } if container.starts_with(&format!("{ns}/")));
    assert!(!first.alerts.iter().any(ours), "{:?}", first.alerts);

    let api: Api<Pod> = Api::namespaced(node.cluster.client().clone(), &ns);
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "flaky"}, "spec": {"containers": [
        {"name": "worker", "image": "localhost/busybox:1.35", "imagePullPolicy": "Never",
         "command": ["sh", "-c", "echo starting; sleep 1; exit 3"]}]}}))
    .unwrap();
    api.create(&PostParams::default(), &pod).await.unwrap();

    // The monitor's own 1 s interval paces this loop; the kubelet's first
    // restart comes about 2 s after the container starts.
    let deadline = Instant::now() + Duration::from_secs(120);
    let alert = loop {
        let snapshot = samples.next().await.unwrap().unwrap();
        if let Some(a) = snapshot.alerts.into_iter().find(ours) {
            break a;
        }
        assert!(Instant::now() < deadline, "no crash-loop alert for {ns}/flaky within 120 s");
    };
    let Alert::CrashLooping { container, restarts, exit_code, .. } = &alert else { unreachable!() };
    assert_eq!(container, &format!("{ns}/flaky/worker"));
    assert_eq!(*exit_code, Some(3), "{alert}");
    // kubectl's RESTARTS column and describe's Last State, read after the sample.
    let out = node.kubectl_ok(&["get", "pod", "-n", &ns, "flaky", "--no-headers"]).await;
    let cells: Vec<&str> = out.split_whitespace().collect();
    assert!(cells[3].parse::<i32>().unwrap() >= *restarts, "kubectl: {out}; k8sops: {alert}");
    let describe = node.kubectl_ok(&["describe", "pod", "-n", &ns, "flaky"]).await;
    assert!(describe.contains("Exit Code:    3"), "{describe}");
}
