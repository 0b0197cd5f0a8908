//! Capacity, cleanup and optimisation hints against a real kube-apiserver
//! (`K8SOPS_E2E_KUBECONFIG`). That server has no metrics-server, so the
//! capacity report comes without usage; `top` is covered in tests/top.rs.
//! `kubectl describe node` on the same server is the oracle for the
//! allocated resources. Without the server (or kubectl) the tests report
//! themselves skipped, and fail when `K8SOPS_REQUIRE_E2E=1`.

use k8s_openapi::api::core::v1::{Node, Pod};
use k8sops_metrics::{capacity_report, cleanup, optimisation_hints, CleanupParams};
use kube::{
    api::{Patch, PatchParams, PostParams},
    Api,
};
use serde_json::json;

#[tokio::test]
async fn capacity_cleanup_and_hints_on_a_real_server() {
    let Some(cluster) = k8sops_testkit::e2e::real_cluster().await else { return };
    let ns = k8sops_testkit::e2e::fresh_namespace(&cluster, "metrics").await;
    let node_name = format!("{ns}-node");
    let nodes: Api<Node> = Api::all(cluster.client().clone());
    nodes
        .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": node_name}})).unwrap())
        .await
        .unwrap();
    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok",
        "lastHeartbeatTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
        "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}, "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"}}});
    nodes.patch_status(&node_name, &PatchParams::default(), &Patch::Merge(status)).await.unwrap();
    // Admission taints new nodes not-ready; the node lifecycle controller (off here) would lift it.
    nodes.patch(&node_name, &PatchParams::default(), &Patch::Merge(json!({"spec": {"taints": null}}))).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(cluster.client().clone(), &ns);
    for (name, resources) in [
        ("sized", json!({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}})),
        ("bare", json!({})),
    ] {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": name},
            "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "pause", "resources": resources}]}}))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
    }

    let report = capacity_report(&cluster, &Default::default()).await.unwrap();
    assert!(!report.usage_known(), "no metrics-server on this server");
    let node = report.nodes.iter().find(|n| n.name == node_name).unwrap();
    assert_eq!(
        (node.requests.get("cpu").to_string(), node.requests.get("memory").to_string(), node.pods),
        ("500m".into(), "1Gi".into(), 2)
    );
    assert_eq!(node.requests_percent("cpu"), 25);
    // 1500m and 3Gi free, 512Mi pods: three fit by CPU, six by memory.
    assert_eq!(node.fits("500m".parse().unwrap(), "512Mi".parse().unwrap()), 3);

    let hints = optimisation_hints(&cluster, Some(&ns)).await.unwrap();
    assert_eq!(hints.missing_requests, [format!("{ns}/bare/c")]);

    pods.patch_status("bare", &PatchParams::default(), &Patch::Merge(json!({"status": {"phase": "Succeeded"}})))
        .await
        .unwrap();
    let dry = cleanup(&cluster, &CleanupParams { namespace: Some(ns.clone()), dry_run: true, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(dry.pods, [format!("{ns}/bare (Succeeded)")]);
    assert!(pods.get_opt("bare").await.unwrap().is_some(), "a dry run deletes nothing");
    cleanup(&cluster, &CleanupParams { namespace: Some(ns.clone()), ..Default::default() }).await.unwrap();
    assert!(pods.get_opt("bare").await.unwrap().is_none());
    assert!(pods.get_opt("sized").await.unwrap().is_some());
}

/// The capacity report's per-node allocation against `kubectl describe node`
/// on the real server, for the allocation fixture's node (init containers,
/// defaulted requests, Pending and Terminating pods counted, finished ones
/// not, truncated percentages).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_report_matches_kubectl_describe_node_on_a_real_server() {
    let Some(real) = k8sops_testkit::e2e::real_oracle().await else { return };
    let f = k8sops_testkit::e2e::allocation_fixture(&real.cluster, "capacity", &[]).await;
    let report = capacity_report(&real.cluster, &Default::default()).await.unwrap();
    let node = report.nodes.iter().find(|n| n.name == f.nodes[0]).unwrap();
    let kubectl = real.kubectl_ok(&["describe", "node", &node.name]).await;
    let mut ours = k8sops_core::Table::new(["resource", "requests", "limits"]);
    for r in ["cpu", "memory", "ephemeral-storage"] {
        ours.row([
            r.to_string(),
            format!("{} ({}%)", node.requests.get(r), node.requests_percent(r)),
            format!("{} ({}%)", node.limits.get(r), node.limits_percent(r)),
        ]);
    }
    k8sops_testkit::e2e::assert_same_cells(
        &k8sops_testkit::e2e::table_cells(&ours.to_string()),
        &k8sops_testkit::e2e::describe_section(&kubectl, "Allocated resources:"),
        &format!("k8sops:\n{ours}\nkubectl:\n{kubectl}"),
    );
    assert!(kubectl.contains(&format!("({} in total)", node.pods)), "{} pods:\n{kubectl}", node.pods);
}
