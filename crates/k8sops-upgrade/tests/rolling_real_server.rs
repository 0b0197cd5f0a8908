//! The rolling node upgrade against a real kube-apiserver and
//! kube-controller-manager (`K8SOPS_E2E_KUBECONFIG`; scripts/test.sh starts
//! them from ../shared/k8s), with kubectl as the oracle.
//!
//! That server has no kubelet and no scheduler, so the nodes are Node
//! objects whose status is set through the status subresource, pods of a
//! real ReplicaSet are bound to them through `pods/binding` (as the
//! scheduler does) and marked Ready through `pods/status`, and the "node
//! group" replaces a node by deleting its Node and registering a new one
//! at the target version. Evictions, PodDisruptionBudgets (the disruption
//! controller computes their status) and the ReplicaSet controller are the
//! real ones. A pod's grace period is 0, since no kubelet would ever finish
//! a graceful deletion. Without the server (or kubectl) the tests report
//! themselves skipped, and fail when `K8SOPS_REQUIRE_E2E=1`.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use k8sops_core::{KubeVersion, Recorder};
use k8sops_nodes::{DrainParams, DrainStatus};
use k8sops_testkit::e2e::{self, RealServer, RUN_LABEL};
use k8sops_upgrade::rolling::{
    rolling_upgrade, NodeOutcome, NodeReplacer, ReplaceRequest, RollingEvent, RollingParams, RollingStatus,
};
use kube::{
    api::{ListParams, Patch, PatchParams, PostParams},
    Api,
};
use serde_json::{json, Value};

const GROUP_LABEL: &str = "eks.amazonaws.com/nodegroup";

/// Deletes the run's nodes and namespace, also when the test fails.
struct Cleanup {
    kubeconfig: PathBuf,
    run: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let kubectl = |args: &[&str]| {
            let _ = std::process::Command::new("kubectl").arg("--kubeconfig").arg(&self.kubeconfig).args(args).output();
        };
        kubectl(&["delete", "nodes", "-l", &format!("{RUN_LABEL}={}", self.run), "--wait=false"]);
        kubectl(&["delete", "namespace", &self.run, "--wait=false"]);
    }
}

fn node_json(name: &str, run: &str, kubelet: &str) -> Value {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    json!({"metadata": {"name": name, "labels": {RUN_LABEL: run, GROUP_LABEL: run, "kubernetes.io/hostname": name}},
        "spec": {"providerID": format!("aws:///us-east-1a/i-{}", name.replace('-', ""))},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "set by the test",
                "lastHeartbeatTime": now, "lastTransitionTime": now}],
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}, "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "nodeInfo": {"kubeletVersion": kubelet, "kubeProxyVersion": kubelet, "osImage": "Debian GNU/Linux 12 (bookworm)",
                "kernelVersion": "6.1.0-18-amd64", "containerRuntimeVersion": "containerd://1.6.24",
                "operatingSystem": "linux", "architecture": "amd64", "machineID": "m", "systemUUID": "s", "bootID": "b"}}})
}

/// Namespace `run`, nodes `{run}-{suffix}` of group `run` at `kubelet`, and
/// ReplicaSet `web` with one Ready pod bound to each node.
async fn fixture(real: &RealServer, run: &str, suffixes: &[&str], kubelet: &str) {
    real.kubectl_ok(&["create", "namespace", run]).await;
    for s in suffixes {
        e2e::create_node(&real.cluster, node_json(&format!("{run}-{s}"), run, kubelet)).await;
    }
    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": run},
        "spec": {"replicas": suffixes.len(), "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]}}}});
    let path = std::env::temp_dir().join(format!("{run}-rs.json"));
    std::fs::write(&path, rs.to_string()).unwrap();
    real.kubectl_ok(&["apply", "-f", path.to_str().unwrap()]).await;
    let _ = std::fs::remove_file(&path);
    let pods: Api<Pod> = Api::namespaced(real.cluster.client().clone(), run);
    let names: Vec<String> = e2e::eventually("the ReplicaSet's pods", || {
        let pods = pods.clone();
        let want = suffixes.len();
        async move {
            let list = pods.list(&ListParams::default().labels("app=web")).await.ok()?;
            let names: Vec<String> = list.items.into_iter().filter_map(|p| p.metadata.name).collect();
            (names.len() == want).then_some(names)
        }
    })
    .await;
    for (pod, s) in names.iter().zip(suffixes) {
        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod},
            "target": {"apiVersion": "v1", "kind": "Node", "name": format!("{run}-{s}")}});
        pods.create_subresource::<Value, Value>("binding", pod, &PostParams::default(), &binding).await.unwrap();
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let status = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
            "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "image": "registry.k8s.io/pause:3.9",
                "imageID": "", "started": true, "state": {"running": {"startedAt": now}}}]}});
        pods.patch_status(pod, &PatchParams::default(), &Patch::Merge(status)).await.unwrap();
    }
}

/// The node group: asked to replace a node, it checks with kubectl that the
/// node is cordoned and holds no pod, deletes its Node, and registers
/// `{node}-new` at `kubelet`.
struct RealGroup {
    real: Arc<RealServer>,
    run: String,
    kubelet: String,
    seen: Mutex<Vec<(String, String, String)>>,
}

impl std::fmt::Debug for RealGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealGroup").field("run", &self.run).finish_non_exhaustive()
    }
}

#[async_trait]
impl NodeReplacer for RealGroup {
    fn backend_name(&self) -> String {
        "node group of the test".into()
    }

    async fn replace(&self, request: &ReplaceRequest) -> k8sops_core::Result<()> {
        let selector = format!("spec.nodeName={}", request.node);
        let on_node = self.real.kubectl_ok(&["get", "pods", "-A", "--field-selector", &selector, "-o", "name"]).await;
        let unschedulable =
            self.real.kubectl_ok(&["get", "node", &request.node, "-o", "jsonpath={.spec.unschedulable}"]).await;
        self.seen.lock().unwrap().push((request.node.clone(), on_node.trim().to_string(), unschedulable));
        self.real.kubectl_ok(&["delete", "node", &request.node, "--wait=false"]).await;
        let new = format!("{}-new", request.node);
        e2e::create_node(&self.real.cluster, node_json(&new, &self.run, &self.kubelet)).await;
        Ok(())
    }
}

fn params(target: &KubeVersion) -> RollingParams {
    RollingParams::new(target.clone())
        .drain(DrainParams::default().ignore_daemonsets(true).timeout(Duration::from_secs(5)))
        .ready_timeout(Duration::from_secs(20))
        .poll_interval(Duration::from_millis(200))
}

/// The server's own version, and a kubelet one minor older.
async fn versions(real: &RealServer) -> (KubeVersion, String, String) {
    let server = real.cluster.server_version().await.unwrap();
    let target: KubeVersion = format!("v{}.{}.0", server.major, server.minor).parse().unwrap();
    (target, format!("v{}.{}.9", server.major, server.minor - 1), format!("v{}.{}.3", server.major, server.minor))
}

#[tokio::test]
async fn every_node_is_drained_by_real_evictions_then_replaced_and_kubectl_sees_the_new_nodes() {
    let Some(real) = e2e::real_oracle().await else { return };
    let real = Arc::new(real);
    let run = e2e::unique_name("upg-roll");
    let _cleanup = Cleanup { kubeconfig: real.kubeconfig.clone(), run: run.clone() };
    let (target, old, new) = versions(&real).await;
    fixture(&real, &run, &["a", "b"], &old).await;

    let group = RealGroup { real: real.clone(), run: run.clone(), kubelet: new.clone(), seen: Mutex::default() };
    let events = Recorder::<RollingEvent>::default();
    let report = rolling_upgrade(&real.cluster, &run, &group, &params(&target), &events).await.unwrap();
    assert_eq!(report.status, RollingStatus::Completed, "{report}");
    let new_version: KubeVersion = new.parse().unwrap();
    for (n, s) in report.nodes.iter().zip(["a", "b"]) {
        assert_eq!(n.node, format!("{run}-{s}"));
        assert_eq!(n.outcome, NodeOutcome::Upgraded { node: format!("{run}-{s}-new"), version: new_version.clone() });
    }
    // kubectl, asked when each replacement was requested: the node was
    // cordoned and held no pod any more.
    let seen = group.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for (node, pods, unschedulable) in &seen {
        assert_eq!(pods, "", "{node} still held pods when it was replaced");
        assert_eq!(unschedulable, "true", "{node} was not cordoned");
    }
    // kubectl: the group is the two new nodes, at the new version, Ready and schedulable.
    let out = real
        .kubectl_ok(&[
            "get",
            "nodes",
            "-l",
            &format!("{GROUP_LABEL}={run}"),
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.status.nodeInfo.kubeletVersion} {.spec.unschedulable}{\"\\n\"}{end}",
        ])
        .await;
    let nodes: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(nodes, [format!("{run}-a-new {new} "), format!("{run}-b-new {new} ")], "{out}");
    // Both pods were evicted: the ReplicaSet made new ones, bound to no node of the group.
    let drained: Vec<DrainStatus> = events
        .events()
        .into_iter()
        .filter_map(|e| match e {
            RollingEvent::Drained { status, .. } => Some(status),
            _ => None,
        })
        .collect();
    assert_eq!(drained, [DrainStatus::Completed, DrainStatus::Completed]);
    let bound = real
        .kubectl_ok(&["get", "pods", "-n", &run, "-o", "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}"])
        .await;
    assert!(bound.lines().all(|l| l.is_empty()), "pods still bound: {bound}");
}

#[tokio::test]
async fn a_budget_the_server_enforces_fails_the_drain_and_the_node_is_given_back_not_replaced() {
    let Some(real) = e2e::real_oracle().await else { return };
    let real = Arc::new(real);
    let run = e2e::unique_name("upg-pdb");
    let _cleanup = Cleanup { kubeconfig: real.kubeconfig.clone(), run: run.clone() };
    let (target, old, new) = versions(&real).await;
    fixture(&real, &run, &["a"], &old).await;
    let pdb = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web", "namespace": run},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}});
    let path = std::env::temp_dir().join(format!("{run}-pdb.json"));
    std::fs::write(&path, pdb.to_string()).unwrap();
    real.kubectl_ok(&["apply", "-f", path.to_str().unwrap()]).await;
    let _ = std::fs::remove_file(&path);
    // The disruption controller has seen the Ready pod: no disruption allowed.
    e2e::eventually("the budget's status", || {
        let real = real.clone();
        let run = run.clone();
        async move {
            let out = real
                .kubectl_ok(&[
                    "get",
                    "pdb",
                    "web",
                    "-n",
                    &run,
                    "-o",
                    "jsonpath={.status.currentHealthy}/{.status.disruptionsAllowed}",
                ])
                .await;
            (out == "1/0").then_some(())
        }
    })
    .await;

    let group = RealGroup { real: real.clone(), run: run.clone(), kubelet: new, seen: Mutex::default() };
    let report = rolling_upgrade(&real.cluster, &run, &group, &params(&target), &Recorder::<RollingEvent>::default())
        .await
        .unwrap();
    assert_eq!(report.status, RollingStatus::Failed, "{report}");
    let NodeOutcome::DrainFailed { status, summary } = &report.nodes[0].outcome else { panic!("{report}") };
    assert_eq!(*status, DrainStatus::TimedOut, "{summary}");
    assert!(group.seen.lock().unwrap().is_empty(), "the backend was asked to replace a node whose drain failed");
    // kubectl: the node is still there, schedulable again, and the pod still on it.
    let node = format!("{run}-a");
    let unschedulable = real.kubectl_ok(&["get", "node", &node, "-o", "jsonpath={.spec.unschedulable}"]).await;
    assert_eq!(unschedulable, "", "the node was left cordoned");
    let on_node = real
        .kubectl_ok(&["get", "pods", "-n", &run, "--field-selector", &format!("spec.nodeName={node}"), "-o", "name"])
        .await;
    assert_eq!(on_node.lines().count(), 1, "{on_node}");
    assert!(report.left_cordoned().is_empty());
}
