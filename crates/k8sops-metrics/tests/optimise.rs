//! Optimisation hints against the testkit.

use k8sops_metrics::optimisation_hints;
use k8sops_testkit::{DemoCluster, TestServer};
use serde_json::json;

#[tokio::test]
async fn hints_name_unbounded_containers_and_workloads_ignoring_tainted_groups() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let hints = optimisation_hints(&server.cluster(), None).await.unwrap();
    assert!(hints.missing_requests.contains(&"legacy/debug-shell/shell".to_string()));
    assert!(!hints.missing_requests.iter().any(|c| c.starts_with("shop/web-")), "web sets requests");
    assert!(
        hints.missing_limits.iter().any(|c| c.starts_with("kube-system/aws-node-")),
        "DaemonSet pods set no memory limit"
    );
    assert!(!hints.missing_limits.iter().any(|c| c.starts_with("shop/web-")));
    assert_eq!(hints.node_taints, ["CriticalAddonsOnly=true:NoSchedule"]);
    assert!(hints.untargeted_workloads.contains(&"Deployment shop/web".to_string()));

    // A workload with a toleration is not flagged; without tainted groups nothing is.
    server
        .insert(&json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pinned", "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": "pinned"}}, "template": {"metadata": {"labels": {"app": "pinned"}},
                "spec": {"tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}], "containers": [{"name": "c", "image": "x"}]}}}}))
        .unwrap();
    let hints = optimisation_hints(&server.cluster(), Some("shop")).await.unwrap();
    assert!(!hints.untargeted_workloads.contains(&"Deployment shop/pinned".to_string()));
    let mut no_taints = DemoCluster::small();
    no_taints.node_groups.iter_mut().for_each(|g| g.taints.clear());
    let bare = TestServer::start().await.unwrap();
    bare.load(&no_taints.problems(false)).unwrap();
    assert!(optimisation_hints(&bare.cluster(), None).await.unwrap().untargeted_workloads.is_empty());
}
