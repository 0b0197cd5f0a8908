//! Node status, describe, cordon and the drain rules against a real
//! kube-apiserver (`K8SOPS_E2E_KUBECONFIG`; scripts/test.sh starts one from
//! ../shared/k8s), with kubectl as the oracle for what k8sops prints: there
//! `kubectl get` shows the server's own Table, not one built by k8sops code
//! as against the testkit. Without the server (or kubectl) the tests report
//! themselves skipped, and fail when `K8SOPS_REQUIRE_E2E=1`.
//! That server has no kubelet and no scheduler: the tests create Node
//! objects, mark pods Running through `pods/status`, and play the kubelet by
//! finishing pods that an eviction left Terminating.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::{
    apps::v1::DaemonSet,
    core::v1::{Namespace, Node, Pod},
    policy::v1::PodDisruptionBudget,
};
use k8sops_core::Cluster;
use k8sops_nodes::{
    cordon, describe_node, drain, list_nodes, uncordon, CordonParams, DrainParams, DrainStatus, DryRun, Error,
    NodeListParams, NodeSelection, PodOutcome, RefusalReason, SkipReason,
};
use kube::{
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams},
    Api,
};
use serde_json::json;

struct Env {
    cluster: Cluster,
    ns: String,
    node: String,
}

async fn env(test: &str) -> Option<Env> {
    let kubeconfig = k8sops_testkit::e2e::kubeconfig()?;
    let cluster = Cluster::from_kubeconfig(&kubeconfig, None).await.unwrap();
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() % 0xfffff;
    let ns = format!("e2e-{test}-{n:x}");
    let node = format!("e2e-{test}-{n:x}-node");
    let nss: Api<Namespace> = Api::all(cluster.client().clone());
    nss.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap())
        .await
        .unwrap();
    let nodes: Api<Node> = Api::all(cluster.client().clone());
    let obj: Node = serde_json::from_value(
        json!({"metadata": {"name": node, "labels": {"e2e-node": node, "eks.amazonaws.com/nodegroup": "e2e"}},
        "spec": {"providerID": "aws:///us-east-1a/i-0e2e"}}),
    )
    .unwrap();
    nodes.create(&PostParams::default(), &obj).await.unwrap();
    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
            "lastHeartbeatTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
        "addresses": [{"type": "InternalIP", "address": "10.9.0.1"}],
        "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}, "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
        "nodeInfo": {"kubeletVersion": "v1.24.0", "osImage": "Test Linux", "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7.0",
            "machineID": "m", "systemUUID": "s", "bootID": "b", "kubeProxyVersion": "v1.24.0", "operatingSystem": "linux", "architecture": "amd64"}}});
    nodes.patch_status(&node, &PatchParams::default(), &Patch::Merge(status)).await.unwrap();
    Some(Env { cluster, ns, node })
}

impl Env {
    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.cluster.client().clone(), &self.ns)
    }

    async fn pod(&self, name: &str, owner: Option<(&str, &str, &str)>, extra: serde_json::Value) -> Pod {
        let mut p = json!({"metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"nodeName": self.node, "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]}});
        if let Some((kind, oname, uid)) = owner {
            p["metadata"]["ownerReferences"] = json!([{"apiVersion": if kind == "DaemonSet" { "apps/v1" } else { "v1" }, "kind": kind, "name": oname, "uid": uid, "controller": true}]);
        }
        json_patch::merge(&mut p, &extra);
        let created = self.pods().create(&PostParams::default(), &serde_json::from_value(p).unwrap()).await.unwrap();
        let status = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "image": "registry.k8s.io/pause:3.9", "imageID": "", "state": {"running": {}}}]}});
        self.pods().patch_status(name, &PatchParams::default(), &Patch::Merge(status)).await.unwrap();
        created
    }

    /// A ConfigMap to act as a pod's controller (kubectl only asks that there is one).
    async fn owner(&self) -> (String, String) {
        let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(self.cluster.client().clone(), &self.ns);
        let cm = cms
            .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "owner"}})).unwrap())
            .await
            .unwrap();
        ("owner".into(), cm.metadata.uid.unwrap())
    }

    /// Plays the kubelet: pods on the node that get a deletionTimestamp are finished at once.
    fn kubelet(&self) -> tokio::task::JoinHandle<()> {
        let pods: Api<Pod> = Api::all(self.cluster.client().clone());
        let node = self.node.clone();
        tokio::spawn(async move {
            let mut stream = pods
                .watch(&WatchParams::default().fields(&format!("spec.nodeName={node}")), "0")
                .await
                .unwrap()
                .boxed();
            while let Ok(Some(ev)) = stream.try_next().await {
                if let WatchEvent::Modified(p) | WatchEvent::Added(p) = ev {
                    if p.metadata.deletion_timestamp.is_some() {
                        let api: Api<Pod> =
                            Api::namespaced(kube::Client::from(pods.clone()), p.metadata.namespace.as_deref().unwrap());
                        let _ = api
                            .delete(p.metadata.name.as_deref().unwrap(), &DeleteParams::default().grace_period(0))
                            .await;
                    }
                }
            }
        })
    }
}

/// `list_nodes(..).wide_table()` against `kubectl get nodes -o wide` on the
/// real server, for the display fixture's nodes (cordoned, NotReady,
/// Ready=Unknown, no conditions, no node info, several roles and addresses).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_nodes_prints_what_kubectl_get_nodes_wide_prints_on_a_real_server() {
    let Some(real) = k8sops_testkit::e2e::real_oracle().await else { return };
    let f = k8sops_testkit::e2e::display_fixture(&real.cluster, "nodes-wide").await;
    let sel = NodeListParams::default().labels(f.selector().parse().unwrap());
    let ours = list_nodes(&real.cluster, &sel).await.unwrap();
    assert_eq!(ours.nodes.len(), f.nodes.len());
    let kubectl = real.kubectl_ok(&["get", "nodes", "-o", "wide", "-l", &f.selector()]).await;
    let table = ours.wide_table(k8s_openapi::jiff::Timestamp::now()).to_string();
    k8sops_testkit::e2e::assert_same_table(&table, &kubectl);
    // Without -o wide, kubectl prints the first five columns of the same table.
    let kubectl = real.kubectl_ok(&["get", "nodes", "-l", &f.selector()]).await;
    let narrow: Vec<Vec<String>> =
        k8sops_testkit::e2e::table_cells(&table).into_iter().map(|r| r.into_iter().take(5).collect()).collect();
    k8sops_testkit::e2e::assert_same_cells(&narrow, &k8sops_testkit::e2e::table_cells(&kubectl), &kubectl);
}

/// The "Non-terminated Pods" table of k8sops' `describe_node` output, split into cells.
fn non_terminated_pods(ours: &str) -> Vec<Vec<String>> {
    let text: String = ours
        .lines()
        .skip_while(|l| !l.starts_with("Non-terminated Pods:"))
        .skip(1)
        .take_while(|l| !l.starts_with("Allocated resources:"))
        .map(|l| format!("{l}\n"))
        .collect();
    k8sops_testkit::e2e::table_cells(&text)
}

/// `describe_node` against `kubectl describe node` on the real server: the
/// "Allocated resources" table and the "Non-terminated Pods" rows (without
/// kubectl's AGE column), for the allocation fixture's node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_node_matches_kubectl_describe_node_on_a_real_server() {
    let Some(real) = k8sops_testkit::e2e::real_oracle().await else { return };
    let f = k8sops_testkit::e2e::allocation_fixture(&real.cluster, "nodes-describe", &[]).await;
    let node = &f.nodes[0];
    let d = describe_node(&real.cluster, node).await.unwrap();
    let kubectl = real.kubectl_ok(&["describe", "node", node]).await;
    let ours = d.to_string();

    let allocated = k8sops_testkit::e2e::describe_section(&kubectl, "Allocated resources:");
    k8sops_testkit::e2e::assert_same_cells(
        &k8sops_testkit::e2e::table_cells(&d.allocated_table().to_string()),
        &allocated,
        &format!("k8sops:\n{}\nkubectl:\n{kubectl}", d.allocated_table()),
    );

    assert!(kubectl.contains(&format!("({} in total)", d.pods.len())), "{} pods:\n{kubectl}", d.pods.len());
    let theirs: Vec<Vec<String>> = k8sops_testkit::e2e::describe_section(&kubectl, "Non-terminated Pods:")
        .into_iter()
        .map(|mut r| {
            r.truncate(6);
            r
        })
        .collect();
    k8sops_testkit::e2e::assert_same_cells(
        &non_terminated_pods(&ours),
        &theirs,
        &format!("k8sops:\n{ours}\nkubectl:\n{kubectl}"),
    );
}

/// `describe_node` on a node with an extended resource and huge pages:
/// kubectl lists huge pages (with percentages) after ephemeral-storage, then
/// extended resources, sorted, *without* percentages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_node_extended_resources_match_kubectl_on_a_real_server() {
    let Some(real) = k8sops_testkit::e2e::real_oracle().await else { return };
    let f = k8sops_testkit::e2e::allocation_fixture(
        &real.cluster,
        "nodes-extended",
        &[("example.com/gpu", "4", "1"), ("hugepages-2Mi", "1Gi", "256Mi")],
    )
    .await;
    let node = &f.nodes[0];
    let d = describe_node(&real.cluster, node).await.unwrap();
    let kubectl = real.kubectl_ok(&["describe", "node", node]).await;
    let allocated = k8sops_testkit::e2e::describe_section(&kubectl, "Allocated resources:");
    let rows: Vec<&[String]> = allocated.iter().skip(4).map(Vec::as_slice).collect();
    assert_eq!(
        rows,
        [&["hugepages-2Mi", "512Mi (50%)", "512Mi (50%)"][..], &["example.com/gpu", "2", "2"][..]],
        "{kubectl}"
    );
    k8sops_testkit::e2e::assert_same_cells(
        &k8sops_testkit::e2e::table_cells(&d.allocated_table().to_string()),
        &allocated,
        &format!("k8sops:\n{}\nkubectl:\n{kubectl}", d.allocated_table()),
    );
}

#[tokio::test]
async fn cordon_and_uncordon_on_a_real_server() {
    let Some(e) = env("cordon").await else { return };
    let sel = NodeSelection::name(e.node.clone());
    assert_eq!(cordon(&e.cluster, &sel, CordonParams::default()).await.unwrap().changed().count(), 1);
    assert_eq!(cordon(&e.cluster, &sel, CordonParams::default()).await.unwrap().changed().count(), 0);
    let nodes: Api<Node> = Api::all(e.cluster.client().clone());
    assert_eq!(nodes.get(&e.node).await.unwrap().spec.unwrap().unschedulable, Some(true));
    assert_eq!(uncordon(&e.cluster, &sel, CordonParams::default()).await.unwrap().changed().count(), 1);
    assert_ne!(nodes.get(&e.node).await.unwrap().spec.unwrap().unschedulable, Some(true));
}

#[tokio::test]
async fn drain_rules_refuse_on_a_real_server() {
    let Some(e) = env("refuse").await else { return };
    e.pod("lonely", None, json!({})).await;
    let (owner, uid) = e.owner().await;
    e.pod("scratch", Some(("ConfigMap", &owner, &uid)), json!({"spec": {"volumes": [{"name": "s", "emptyDir": {}}]}}))
        .await;
    e.pod("orphan-ds", Some(("DaemonSet", "gone", "00000000-0000-0000-0000-000000000000")), json!({})).await;
    let err = drain(&e.cluster, &e.node, &DrainParams::default()).await.unwrap().ensure_completed().unwrap_err();
    let Error::Refused { mut pods, .. } = err else { panic!("expected a refusal, got {err:?}") };
    pods.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(pods[0], (format!("{}/lonely", e.ns), RefusalReason::Unreplicated));
    assert!(
        matches!(&pods[1], (p, RefusalReason::DaemonSetLookup(m)) if p.ends_with("/orphan-ds") && m.contains("not found")),
        "{pods:?}"
    );
    assert_eq!(pods[2], (format!("{}/scratch", e.ns), RefusalReason::LocalStorage));
}

#[tokio::test]
async fn drain_skips_daemonset_pods_and_honours_budgets_on_a_real_server() {
    let Some(e) = env("drain").await else { return };
    let dss: Api<DaemonSet> = Api::namespaced(e.cluster.client().clone(), &e.ns);
    let ds: DaemonSet = serde_json::from_value(json!({"metadata": {"name": "agent"}, "spec": {"selector": {"matchLabels": {"ds": "agent"}},
        "updateStrategy": {"type": "OnDelete"},
        "template": {"metadata": {"labels": {"ds": "agent"}}, "spec": {"nodeSelector": {"e2e-node": e.node}, "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]}}}})).unwrap();
    let ds = dss.create(&PostParams::default(), &ds).await.unwrap();
    e.pod(
        "agent-x",
        Some(("DaemonSet", "agent", ds.metadata.uid.as_deref().unwrap())),
        json!({"metadata": {"labels": {"ds": "agent", "app": "agent"}}}),
    )
    .await;
    let (owner, uid) = e.owner().await;
    e.pod("web-1", Some(("ConfigMap", &owner, &uid)), json!({})).await;
    e.pod("web-2", Some(("ConfigMap", &owner, &uid)), json!({})).await;
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(e.cluster.client().clone(), &e.ns);
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({"metadata": {"name": "web-pdb"}, "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}})).unwrap();
    pdbs.create(&PostParams::default(), &pdb).await.unwrap();
    // Wait for the disruption controller to see both pods.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while pdbs.get("web-pdb").await.unwrap().status.and_then(|s| s.current_healthy) != Some(2) {
        assert!(tokio::time::Instant::now() < deadline, "the disruption controller never counted the pods");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Without --ignore-daemonsets the DaemonSet pod refuses the drain.
    let err = drain(&e.cluster, &e.node, &DrainParams::default()).await.unwrap().ensure_completed().unwrap_err();
    assert!(
        matches!(&err, Error::Refused { pods, .. } if pods.iter().any(|(p, r)| p.ends_with("/agent-x") && *r == RefusalReason::DaemonSet)),
        "{err}"
    );

    // The budget blocks; a server dry run times out naming it (kubectl's would loop forever).
    let params = DrainParams::default().ignore_daemonsets(true).dry_run(DryRun::Server).timeout(Duration::from_secs(2));
    let err = drain(&e.cluster, &e.node, &params).await.unwrap().ensure_completed().unwrap_err();
    assert!(err.to_string().contains("web-pdb"), "{err}");

    // Relax the budget: the drain evicts both pods, the (played) kubelet finishes them.
    pdbs.patch("web-pdb", &PatchParams::default(), &Patch::Merge(json!({"spec": {"minAvailable": 0}}))).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while pdbs.get("web-pdb").await.unwrap().status.and_then(|s| s.disruptions_allowed) != Some(2) {
        assert!(tokio::time::Instant::now() < deadline, "the budget never allowed disruptions");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kubelet = e.kubelet();
    let params = DrainParams::default().ignore_daemonsets(true).timeout(Duration::from_secs(60));
    let report = drain(&e.cluster, &e.node, &params).await.unwrap();
    kubelet.abort();
    assert_eq!(report.status, DrainStatus::Completed);
    let outcome = |n: &str| report.pods.iter().find(|p| p.pod.ends_with(n)).unwrap().outcome.clone();
    assert_eq!(outcome("/web-1"), PodOutcome::Evicted);
    assert_eq!(outcome("/web-2"), PodOutcome::Evicted);
    assert_eq!(outcome("/agent-x"), PodOutcome::Skipped(SkipReason::DaemonSet));
    let left: Vec<String> = e
        .pods()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    assert!(!left.contains(&"web-1".to_string()) && !left.contains(&"web-2".to_string()), "{left:?}");
}
