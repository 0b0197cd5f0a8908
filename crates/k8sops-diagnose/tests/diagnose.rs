//! Health, events and pod diagnosis against the testkit (kubectl as the
//! oracle for event order) and a real API server.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Pod};
use k8sops_core::Cluster;
use k8sops_diagnose::{cluster_health, diagnose_pods, events, DiagnoseParams, EventParams, Problem};
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

#[tokio::test]
async fn health_reports_probes_nodes_and_component_statuses() {
    let server = demo().await;
    let h = cluster_health(&server.cluster()).await.unwrap();
    assert!(h.readyz.len() >= 3 && h.readyz.iter().all(|c| c.ok), "{h:?}");
    assert!(h.livez.iter().all(|c| c.ok));
    assert_eq!((h.nodes_ready, h.nodes_total), (6, 7));
    assert!(!h.is_healthy(), "a NotReady node makes the cluster unhealthy");
    assert!(h.to_string().contains("Kubernetes control plane is running at http://127.0.0.1:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_sorted_like_kubectl_and_filtered() {
    let server = demo().await;
    let all = events(&server.cluster(), &EventParams::default()).await.unwrap();
    let (_, out, _) = server.kubectl(&["get", "events", "-A", "--sort-by=.lastTimestamp", "-o", "name"]).await;
    let kubectl: Vec<String> = out.lines().map(|l| l.trim_start_matches("event/").to_string()).collect();
    let ours: Vec<String> = all.iter().map(|e| e.name.clone()).collect();
    assert_eq!(ours, kubectl);
    let warnings = events(&server.cluster(), &EventParams { warnings_only: true, ..Default::default() }).await.unwrap();
    assert!(!warnings.is_empty() && warnings.iter().all(|e| e.type_ == "Warning"));
    let recent = events(&server.cluster(), &EventParams { since: Some(Duration::from_secs(90)), ..Default::default() })
        .await
        .unwrap();
    let reasons: Vec<&str> = recent.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(reasons, ["BackOff", "FailedScheduling"]);
    let sched = events(
        &server.cluster(),
        &EventParams {
            reason: Some("FailedScheduling".into()),
            namespace: Some("legacy".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(sched.len(), 1);
}

#[tokio::test]
async fn pod_problems_get_causes_and_next_steps() {
    let server = demo().await;
    let found =
        diagnose_pods(&server.cluster(), &DiagnoseParams { namespace: Some("legacy".into()), ..Default::default() })
            .await
            .unwrap()
            .pods;
    let by = |prefix: &str| {
        found.iter().find(|d| d.pod.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix} not diagnosed: {found:#?}"))
    };
    let crash = by("legacy/report-worker");
    assert!(
        matches!(&crash.problem, Problem::CrashLoop { last_reason: Some(r), exit_code: Some(137), restarts: 14, .. } if r == "OOMKilled")
    );
    assert!(crash.cause.contains("more memory than its limit") && crash.next_step.contains("memory limit"));
    let pull = by("legacy/frontend-canary");
    assert!(matches!(pull.problem, Problem::ImagePull { .. }));
    assert!(pull.cause.contains("does-not-exist"), "{}", pull.cause);
    let pending = by("legacy/batch-analytics");
    assert!(matches!(pending.problem, Problem::Unschedulable { .. }));
    assert!(pending.cause.contains("enough free CPU or memory"), "{}", pending.cause);
    assert!(!found.iter().any(|d| d.pod == "legacy/debug-shell"), "healthy pods are not reported");
    let on_node = diagnose_pods(
        &server.cluster(),
        &DiagnoseParams { node: Some("ip-10-0-0-9.ec2.internal".into()), ..Default::default() },
    )
    .await
    .unwrap()
    .pods;
    assert!(on_node.iter().all(|d| d.node.as_deref() == Some("ip-10-0-0-9.ec2.internal")));
}

#[tokio::test]
async fn on_a_real_server() {
    let Some(cluster) = k8sops_testkit::e2e::real_cluster().await else { return };
    let h = cluster_health(&cluster).await.unwrap();
    assert!(h.readyz.iter().any(|c| c.name == "etcd" && c.ok), "{h:?}");
    assert!(h.component_statuses.is_some(), "v1.24 still serves componentstatuses");

    let ns = k8sops_testkit::e2e::fresh_namespace(&cluster, "diag").await;
    let pods: Api<Pod> = Api::namespaced(cluster.client().clone(), &ns);
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "crashy"}, "spec": {"nodeName": "e2e-diag-node", "containers": [{"name": "app", "image": "busybox"}]}})).unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let status = json!({"status": {"phase": "Running", "containerStatuses": [{"name": "app", "image": "busybox", "imageID": "", "ready": false, "restartCount": 7,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}});
    pods.patch_status("crashy", &PatchParams::default(), &Patch::Merge(status)).await.unwrap();
    let found = diagnose_pods(&cluster, &DiagnoseParams { namespace: Some(ns.clone()), ..Default::default() })
        .await
        .unwrap()
        .pods;
    assert!(matches!(&found[0].problem, Problem::CrashLoop { exit_code: Some(1), restarts: 7, .. }), "{found:?}");

    let evs: Api<Event> = Api::namespaced(cluster.client().clone(), &ns);
    for (name, secs_ago) in [("older", 120), ("newer", 10)] {
        let ts = k8s_openapi::jiff::Timestamp::from_second(k8s_openapi::jiff::Timestamp::now().as_second() - secs_ago)
            .unwrap()
            .to_string();
        let ev: Event = serde_json::from_value(json!({"metadata": {"name": name}, "involvedObject": {"kind": "Pod", "name": "crashy", "namespace": ns},
            "reason": "BackOff", "message": "Back-off restarting failed container", "type": "Warning", "firstTimestamp": ts, "lastTimestamp": ts, "count": 1})).unwrap();
        evs.create(&PostParams::default(), &ev).await.unwrap();
    }
    let seen = events(&cluster, &EventParams { namespace: Some(ns), warnings_only: true, ..Default::default() })
        .await
        .unwrap();
    let names: Vec<&str> = seen.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["older", "newer"]);
}

#[tokio::test]
async fn forbidden_namespaces_are_reported_and_the_rest_still_diagnosed() {
    let server = demo().await;
    // A user who may list namespaces, and pods only in `legacy`.
    let rbac = [
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "ns-reader"},
            "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "get"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "oncall-ns"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "ns-reader"},
            "subjects": [{"kind": "User", "name": "oncall"}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "oncall-view", "namespace": "legacy"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "oncall"}]}),
    ];
    server.insert_all(rbac).unwrap();
    let kubeconfig = server.add_user("oncall", &[]).unwrap();
    let oncall = Cluster::from_kubeconfig(&kubeconfig, None).await.unwrap();
    let result = diagnose_pods(&oncall, &DiagnoseParams::default()).await.unwrap();
    assert!(result.pods.iter().any(|d| d.pod.starts_with("legacy/report-worker")), "{result}");
    assert!(result.pods.iter().all(|d| d.pod.starts_with("legacy/")));
    assert!(
        result.forbidden_namespaces.contains(&"shop".to_string())
            && !result.forbidden_namespaces.contains(&"legacy".to_string())
    );
    assert!(result.to_string().contains("not checked (forbidden):"));
}
