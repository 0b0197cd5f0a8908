//! The pods check on the real node (`../shared/k8s/node/`): a pod the
//! kubelet keeps restarting fails the check, with the restarts kubectl shows.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8sops::checklist::{daily::PodHealthCheck, Checklist, Finding, Status};
use k8sops_testkit::e2e;
use kube::{api::PostParams, Api};
use serde_json::json;

/// The restart count in a finding's evidence (`..., RESTARTS 3, ...`).
fn restarts(f: &Finding) -> Option<i64> {
    f.evidence.iter().find_map(|e| e.split("RESTARTS ").nth(1)?.split(',').next()?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pods_check_fails_a_crash_looping_pod_on_a_real_node() {
    let Some(node) = e2e::real_node().await else { return };
    let ns = e2e::fresh_namespace(&node.cluster, "daily").await;
    let api: Api<Pod> = Api::namespaced(node.cluster.client().clone(), &ns);
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "flaky"}, "spec": {"containers": [
        {"name": "c", "image": "localhost/busybox:1.35", "imagePullPolicy": "Never", "command": ["sh", "-c", "sleep 1; exit 2"]}]}}))
    .unwrap();
    api.create(&PostParams::default(), &pod).await.unwrap();
    let subject = format!("pod/{ns}/flaky");
    let checklist = Checklist::new("x").with(PodHealthCheck::default().namespace(ns.clone()));
    let deadline = Instant::now() + Duration::from_secs(120);
    let (finding, restarted) = loop {
        let report = checklist.run(&node.cluster).await;
        let result = report.result("pods").unwrap();
        assert!(result.outcome.ran(), "{:?}", result.outcome);
        if let Some(f) = result.findings.iter().find(|f| f.subject == subject) {
            // Running and ready again right after a failed run is a warning; once the
            // kubelet backs off (CrashLoopBackOff) or the pod is not ready after a failure, a failure.
            assert!(f.status != Status::Pass, "{f:?}");
            if let Some(n) = restarts(f).filter(|n| *n >= 1 && f.status == Status::Fail) {
                break (f.clone(), n);
            }
        }
        assert!(Instant::now() < deadline, "{subject} listed with a restart within 120 s: {:?}", result.findings);
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert!(finding.summary.starts_with("crash-looping: container c restarted"), "{finding:?}");
    let out = node.kubectl_ok(&["get", "pod", "-n", &ns, "flaky", "--no-headers"]).await;
    let cells: Vec<&str> = out.split_whitespace().collect();
    assert!(cells[3].parse::<i64>().unwrap() >= restarted, "kubectl: {out}; k8sops: {finding:?}");
}
