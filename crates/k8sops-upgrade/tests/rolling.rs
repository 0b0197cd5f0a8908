//! The rolling node upgrade on the testkit server, with an in-memory node
//! group backend that replaces a node by deleting it and creating a new one
//! at the target version (Ready, or never Ready when told so). The testkit
//! enforces PodDisruptionBudgets on eviction and, with its kubelet stand-in,
//! recreates evicted ReplicaSet pods on other schedulable nodes.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8sops_core::{
    backend::{InMemoryNodeGroups, Instance, NodeGroup, NodeGroups, ScalingConfig, ScalingUpdate, Update},
    CancellationToken, DryRun, ProgressSink, Recorder,
};
use k8sops_nodes::{DrainParams, DrainStatus};
use k8sops_testkit::{KubeletOptions, TestServer};
use k8sops_upgrade::{
    rolling::{
        rolling_upgrade, NodeGroupReplacer, NodeOutcome, NodeReplacer, ReplaceRequest, RollingEvent, RollingParams,
        RollingReport, RollingStatus, Stage,
    },
    Error,
};
use kube::{
    api::{DeleteParams, ListParams, Patch, PatchParams},
    Api,
};
use serde_json::{json, Value};

const GROUP: &str = "workers";
const OLD: &str = "v1.29.3-eks-ae9a62a";
const NEW: &str = "v1.30.4-eks-a737599";

fn node(name: &str, kubelet: &str, ready: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "eks.amazonaws.com/nodegroup": GROUP}},
        "spec": {"providerID": format!("aws:///us-east-1a/i-{}", name.replace('-', ""))},
        "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" },
                                   "reason": if ready { "KubeletReady" } else { "KubeletNotReady" }}],
                   "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}, "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                   "nodeInfo": {"kubeletVersion": kubelet, "kubeProxyVersion": kubelet, "osImage": "Amazon Linux 2023", "kernelVersion": "6.1",
                                "containerRuntimeVersion": "containerd://1.7", "machineID": "", "systemUUID": "", "bootID": "",
                                "operatingSystem": "linux", "architecture": "amd64"}}})
}

fn pod(name: &str, node: &str, labels: Value, owner_kind: &str, owner: &Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "app", "labels": labels,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner_kind, "name": owner["metadata"]["name"],
                                 "uid": owner["metadata"]["uid"], "controller": true}]},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 30,
                 "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "image": "pause", "imageID": "",
                                          "state": {"running": {}}}]}})
}

/// Nodes `n1..=count` of group `workers` at 1.29; ReplicaSet `web` with one
/// Ready pod per node; DaemonSet `logs` with a pod per node.
async fn cluster(count: usize) -> Arc<TestServer> {
    let server = TestServer::builder().kubelet(KubeletOptions::default()).start().await.unwrap();
    server.insert(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}})).unwrap();
    let web = server
        .insert(&json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": "app"},
            "spec": {"replicas": count, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "pause"}]}}}}))
        .unwrap();
    let logs = server
        .insert(&json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "logs", "namespace": "app"},
            "spec": {"selector": {"matchLabels": {"ds": "logs"}},
                     "template": {"metadata": {"labels": {"ds": "logs"}}, "spec": {"containers": [{"name": "c", "image": "pause"}]}}}}))
        .unwrap();
    for i in 1..=count {
        let n = format!("n{i}");
        server.insert(&node(&n, OLD, true)).unwrap();
        server.insert(&pod(&format!("web-{i}"), &n, json!({"app": "web"}), "ReplicaSet", &web)).unwrap();
        server.insert(&pod(&format!("logs-{n}"), &n, json!({"ds": "logs"}), "DaemonSet", &logs)).unwrap();
    }
    Arc::new(server)
}

/// What the backend saw when it was asked to replace a node.
#[derive(Debug, Clone)]
struct Call {
    node: String,
    /// Pods other than DaemonSet pods still on the node: must be none.
    undrained: Vec<String>,
    cordoned: bool,
    /// How many nodes of the group were cordoned at that moment.
    cordoned_in_group: usize,
}

/// An in-memory node group: replacing a node deletes it (and, like the pod
/// garbage collector, its pods) and creates `<node>-new` at the target
/// version, Ready unless the node is in `never_ready`.
#[derive(Debug)]
struct Replacer {
    server: Arc<TestServer>,
    never_ready: BTreeSet<String>,
    calls: Mutex<Vec<Call>>,
}

impl Replacer {
    fn new(server: &Arc<TestServer>) -> Self {
        Replacer { server: server.clone(), never_ready: BTreeSet::new(), calls: Mutex::default() }
    }

    fn never_ready(mut self, node: &str) -> Self {
        self.never_ready.insert(node.to_string());
        self
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn replaced(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.node).collect()
    }
}

#[async_trait]
impl NodeReplacer for Replacer {
    fn backend_name(&self) -> String {
        "in-memory node group".into()
    }

    async fn replace(&self, request: &ReplaceRequest) -> k8sops_core::Result<()> {
        let client = self.server.client();
        let nodes: Api<Node> = Api::all(client.clone());
        let pods: Api<Pod> = Api::all(client.clone());
        let on_node =
            pods.list(&ListParams::default().fields(&format!("spec.nodeName={}", request.node))).await.unwrap();
        let undrained = on_node
            .items
            .iter()
            .filter(|p| {
                !p.metadata.owner_references.iter().flatten().any(|o| o.kind == "DaemonSet")
                    && p.metadata.deletion_timestamp.is_none()
            })
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        let all = nodes.list(&ListParams::default()).await.unwrap().items;
        let cordoned = |n: &Node| n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
        let me = all.iter().find(|n| n.metadata.name.as_deref() == Some(&request.node)).unwrap();
        self.calls.lock().unwrap().push(Call {
            node: request.node.clone(),
            undrained,
            cordoned: cordoned(me),
            cordoned_in_group: all.iter().filter(|n| cordoned(n)).count(),
        });
        assert_eq!(request.group, GROUP);
        assert_eq!(request.instance_id.as_deref(), Some(format!("i-{}", request.node).as_str()));
        nodes.delete(&request.node, &DeleteParams::default()).await.unwrap();
        for p in on_node.items {
            let api: Api<Pod> = Api::namespaced(client.clone(), p.metadata.namespace.as_deref().unwrap());
            let _ = api.delete(p.metadata.name.as_deref().unwrap(), &DeleteParams::default()).await;
        }
        let ready = !self.never_ready.contains(&request.node);
        self.server.insert(&node(&format!("{}-new", request.node), NEW, ready)).unwrap();
        Ok(())
    }
}

fn params() -> RollingParams {
    RollingParams::new("1.30".parse().unwrap())
        .drain(DrainParams::default().ignore_daemonsets(true).timeout(Duration::from_secs(5)))
        .ready_timeout(Duration::from_secs(10))
        .poll_interval(Duration::from_millis(50))
}

async fn group_nodes(server: &TestServer) -> Vec<(String, String, bool, bool)> {
    let nodes: Api<Node> = Api::all(server.client());
    let mut out: Vec<_> = nodes
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| {
            let status = n.status.unwrap_or_default();
            let ready = status.conditions.unwrap_or_default().iter().any(|c| c.type_ == "Ready" && c.status == "True");
            (
                n.metadata.name.unwrap_or_default(),
                status.node_info.map(|i| i.kubelet_version).unwrap_or_default(),
                ready,
                n.spec.and_then(|s| s.unschedulable).unwrap_or(false),
            )
        })
        .collect();
    out.sort();
    out
}

fn outcomes(report: &RollingReport) -> Vec<(&str, &NodeOutcome)> {
    report.nodes.iter().map(|n| (n.node.as_str(), &n.outcome)).collect()
}

#[tokio::test]
async fn every_node_is_drained_replaced_and_back_ready_one_at_a_time() {
    let server = cluster(3).await;
    let replacer = Replacer::new(&server);
    let events = Recorder::<RollingEvent>::default();
    let report = rolling_upgrade(&server.cluster(), GROUP, &replacer, &params(), &events).await.unwrap();
    assert_eq!(report.status, RollingStatus::Completed, "{report}");
    let version: k8sops_core::KubeVersion = NEW.parse().unwrap();
    for (i, n) in report.nodes.iter().enumerate() {
        let old = format!("n{}", i + 1);
        assert_eq!(n.node, old);
        assert_eq!(n.outcome, NodeOutcome::Upgraded { node: format!("{old}-new"), version: version.clone() });
        assert!(n.cordoned && n.replace_requested, "{n:?}");
        assert_eq!(n.from_version, Some(OLD.parse().unwrap()));
    }
    // The backend only ever saw drained, cordoned nodes, one at a time.
    let calls = replacer.calls();
    assert_eq!(replacer.replaced(), ["n1", "n2", "n3"]);
    for c in &calls {
        assert!(c.undrained.is_empty() && c.cordoned, "{c:?}");
        assert_eq!(c.cordoned_in_group, 1, "max_unavailable 1: {c:?}");
    }
    // The group now runs 1.30 on Ready, schedulable nodes, and web still has its three pods.
    let now = group_nodes(&server).await;
    assert_eq!(now, ["n1-new", "n2-new", "n3-new"].map(|n| (n.to_string(), NEW.to_string(), true, false)).to_vec());
    let pods: Api<Pod> = Api::namespaced(server.client(), "app");
    let web = pods.list(&ListParams::default().labels("app=web")).await.unwrap().items;
    assert_eq!(web.len(), 3);
    // Each node: drained (completed) before the backend was asked, Ready before the next began.
    let order: Vec<String> = events
        .events()
        .into_iter()
        .filter_map(|e| match e {
            RollingEvent::Drained { node, status } => Some(format!("drained {node} {status}")),
            RollingEvent::Replacing { node } => Some(format!("replacing {node}")),
            RollingEvent::Upgraded { node, new_node, .. } => Some(format!("upgraded {node} {new_node}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        [
            "drained n1 completed",
            "replacing n1",
            "upgraded n1 n1-new",
            "drained n2 completed",
            "replacing n2",
            "upgraded n2 n2-new",
            "drained n3 completed",
            "replacing n3",
            "upgraded n3 n3-new"
        ]
    );
    assert!(report.left_cordoned().is_empty());
    report.ensure_completed().unwrap();
}

#[tokio::test]
async fn a_budget_that_blocks_the_drain_stops_the_upgrade_and_the_node_is_not_replaced() {
    let server = cluster(3).await;
    server
        .insert(&json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web-pdb", "namespace": "app"},
            "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "web"}}}}))
        .unwrap();
    let replacer = Replacer::new(&server);
    let p = params().drain(DrainParams::default().ignore_daemonsets(true).timeout(Duration::from_millis(1500)));
    let report = rolling_upgrade(&server.cluster(), GROUP, &replacer, &p, &k8sops_core::NoProgress).await.unwrap();
    assert_eq!(report.status, RollingStatus::Stopped, "{report}");
    assert!(replacer.calls().is_empty(), "a node whose drain did not complete is never replaced");
    let n1 = &report.nodes[0];
    let NodeOutcome::DrainFailed { status, summary } = &n1.outcome else { panic!("{n1:?}") };
    assert_eq!(*status, DrainStatus::TimedOut);
    assert!(summary.contains("PodDisruptionBudget web-pdb"), "{summary}");
    // It keeps serving at its old version: uncordoned again.
    assert!(n1.cordoned && n1.uncordoned, "{n1:?}");
    assert_eq!(report.not_started(), ["n2", "n3"]);
    assert!(report.stop_reason.as_deref().unwrap().contains("n1"), "{report}");
    assert!(report.left_cordoned().is_empty());
    let now = group_nodes(&server).await;
    assert!(now.iter().all(|(_, v, _, cordoned)| v == OLD && !cordoned), "{now:?}");
    let err = report.clone().ensure_completed().unwrap_err();
    assert!(matches!(&err, Error::RollingIncomplete { status: RollingStatus::Stopped, .. }), "{err:?}");
    assert!(err.to_string().contains("web-pdb"), "{err}");

    // With the budget relaxed, resuming from the saved report finishes the job.
    let pdbs: Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> = Api::namespaced(server.client(), "app");
    pdbs.delete("web-pdb", &DeleteParams::default()).await.unwrap();
    let saved: RollingReport = serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
    assert_eq!(saved, report);
    let resumed =
        rolling_upgrade(&server.cluster(), GROUP, &replacer, &params().resume_from(saved), &k8sops_core::NoProgress)
            .await
            .unwrap();
    assert_eq!(resumed.status, RollingStatus::Completed, "{resumed}");
    assert_eq!(resumed.upgraded(), ["n1", "n2", "n3"]);
    assert_eq!(replacer.replaced(), ["n1", "n2", "n3"]);
}

#[tokio::test]
async fn a_node_that_never_comes_back_ready_is_reported_and_stops_the_upgrade() {
    let server = cluster(3).await;
    let replacer = Replacer::new(&server).never_ready("n1");
    let p = params().ready_timeout(Duration::from_millis(800));
    let events = Recorder::<RollingEvent>::default();
    let report = rolling_upgrade(&server.cluster(), GROUP, &replacer, &p, &events).await.unwrap();
    assert_eq!(report.status, RollingStatus::Stopped, "{report}");
    let n1 = &report.nodes[0];
    assert!(
        matches!(n1.outcome, NodeOutcome::NotReadyInTime { waited } if waited >= Duration::from_millis(700)),
        "{n1:?}"
    );
    assert!(n1.replace_requested);
    assert_eq!(report.failed(), ["n1"]);
    assert_eq!(report.not_started(), ["n2", "n3"]);
    assert_eq!(replacer.replaced(), ["n1"]);
    assert!(events
        .events()
        .iter()
        .any(|e| matches!(e, RollingEvent::Stopped { reason } if reason.contains("max_failures"))));
    // n2 and n3 were never touched.
    let now = group_nodes(&server).await;
    assert!(now.iter().any(|(n, _, ready, _)| n == "n1-new" && !ready), "{now:?}");
    assert!(now.iter().filter(|(n, ..)| n == "n2" || n == "n3").all(|(_, v, _, cordoned)| v == OLD && !cordoned));
}

#[tokio::test]
async fn with_room_for_failures_the_other_nodes_go_on() {
    let server = cluster(3).await;
    let replacer = Replacer::new(&server).never_ready("n1");
    let p = params().ready_timeout(Duration::from_millis(800)).max_failures(2);
    let report = rolling_upgrade(&server.cluster(), GROUP, &replacer, &p, &k8sops_core::NoProgress).await.unwrap();
    assert_eq!(report.status, RollingStatus::Failed, "{report}");
    assert_eq!(report.failed(), ["n1"]);
    assert_eq!(report.upgraded(), ["n2", "n3"]);
    // The never-Ready node is not taken for another node's replacement.
    let replacements: Vec<_> = report
        .nodes
        .iter()
        .filter_map(|n| match &n.outcome {
            NodeOutcome::Upgraded { node, .. } => Some(node.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(replacements, ["n2-new", "n3-new"]);
}

#[tokio::test]
async fn two_at_a_time_never_more() {
    let server = cluster(4).await;
    let replacer = Replacer::new(&server);
    let events = Recorder::<RollingEvent>::default();
    let report =
        rolling_upgrade(&server.cluster(), GROUP, &replacer, &params().max_unavailable(2), &events).await.unwrap();
    assert_eq!(report.status, RollingStatus::Completed, "{report}");
    assert_eq!(report.upgraded(), ["n1", "n2", "n3", "n4"]);
    let calls = replacer.calls();
    assert!(calls.iter().all(|c| c.undrained.is_empty() && c.cordoned_in_group <= 2), "{calls:?}");
    // n2's drain began before n1 was back: the two ran together; n3 only after both.
    let order: Vec<String> = events
        .events()
        .into_iter()
        .filter_map(|e| match e {
            RollingEvent::Drain { node, event: k8sops_nodes::DrainEvent::Cordoned { .. } } => {
                Some(format!("cordon {node}"))
            }
            RollingEvent::Upgraded { node, .. } => Some(format!("upgraded {node}")),
            _ => None,
        })
        .collect();
    let at = |s: &str| order.iter().position(|e| e == s).unwrap_or_else(|| panic!("{s} in {order:?}"));
    assert!(at("cordon n2") < at("upgraded n1"), "{order:?}");
    assert!(at("cordon n3") > at("upgraded n1") && at("cordon n3") > at("upgraded n2"), "{order:?}");
}

#[tokio::test]
async fn a_client_dry_run_changes_nothing_and_replaces_nothing() {
    let server = cluster(3).await;
    let replacer = Replacer::new(&server);
    server.clear_requests();
    let report = rolling_upgrade(
        &server.cluster(),
        GROUP,
        &replacer,
        &params().dry_run(DryRun::Client),
        &k8sops_core::NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(report.status, RollingStatus::Completed, "{report}");
    assert_eq!(report.would_replace(), ["n1", "n2", "n3"]);
    assert!(replacer.calls().is_empty());
    let writes: Vec<_> = server.requests().into_iter().filter(|r| r.method != "GET").collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert!(report.nodes.iter().all(|n| !n.cordoned));
}

#[tokio::test]
async fn nodes_already_at_the_target_are_left_alone() {
    let server = cluster(2).await;
    server.insert(&node("n0", "v1.30.1-eks-1", true)).unwrap();
    let replacer = Replacer::new(&server);
    let report =
        rolling_upgrade(&server.cluster(), GROUP, &replacer, &params(), &k8sops_core::NoProgress).await.unwrap();
    assert_eq!(report.status, RollingStatus::Completed, "{report}");
    assert_eq!(report.nodes[0].node, "n0");
    assert!(matches!(&report.nodes[0].outcome, NodeOutcome::AlreadyAtTarget { version } if version.patch == 1));
    assert_eq!(replacer.replaced(), ["n1", "n2"]);
    // The node that was there at the target is no one's replacement.
    assert_eq!(report.upgraded().len(), 2);
    assert!(report.nodes.iter().all(|n| !matches!(&n.outcome, NodeOutcome::Upgraded { node, .. } if node == "n0")));
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_changes() {
    let server = cluster(2).await;
    let replacer = Replacer::new(&server);
    server.clear_requests();
    let newer = RollingParams { target: "1.31".parse().unwrap(), ..params() };
    let err = rolling_upgrade(&server.cluster(), GROUP, &replacer, &newer, &k8sops_core::NoProgress).await.unwrap_err();
    assert!(err.to_string().contains("kubelets may not be newer than the API server"), "{err}");
    let err =
        rolling_upgrade(&server.cluster(), "nope", &replacer, &params(), &k8sops_core::NoProgress).await.unwrap_err();
    assert!(err.to_string().contains("no node carries node group nope"), "{err}");
    let err =
        rolling_upgrade(&server.cluster(), GROUP, &replacer, &params().max_unavailable(0), &k8sops_core::NoProgress)
            .await
            .unwrap_err();
    assert!(err.to_string().contains("max_unavailable"), "{err}");
    let other = RollingReport {
        group: "spot".into(),
        target: "1.30".parse().unwrap(),
        dry_run: DryRun::None,
        status: RollingStatus::Stopped,
        stop_reason: None,
        nodes: vec![],
        elapsed: Duration::ZERO,
    };
    let err =
        rolling_upgrade(&server.cluster(), GROUP, &replacer, &params().resume_from(other), &k8sops_core::NoProgress)
            .await
            .unwrap_err();
    assert!(err.to_string().contains("node group spot"), "{err}");
    let writes: Vec<_> = server.requests().into_iter().filter(|r| r.method != "GET").collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert!(replacer.calls().is_empty());
}

#[tokio::test]
async fn cancelling_after_a_node_stops_before_the_next_and_says_where() {
    let server = cluster(3).await;
    let replacer = Replacer::new(&server);
    let token = CancellationToken::new();
    struct CancelAfterFirst(CancellationToken);
    impl ProgressSink<RollingEvent> for CancelAfterFirst {
        fn emit(&self, e: RollingEvent) {
            if matches!(e, RollingEvent::Upgraded { .. }) {
                self.0.cancel();
            }
        }
    }
    let p = params().cancel(token.clone());
    let report = rolling_upgrade(&server.cluster(), GROUP, &replacer, &p, &CancelAfterFirst(token)).await.unwrap();
    assert_eq!(report.status, RollingStatus::Cancelled, "{report}");
    assert_eq!(report.upgraded(), ["n1"]);
    assert_eq!(report.not_started(), ["n2", "n3"]);
    assert!(report.stop_reason.as_deref().unwrap().contains("cancelled"), "{report}");
    assert_eq!(replacer.replaced(), ["n1"]);
    let now = group_nodes(&server).await;
    assert!(now.iter().all(|(_, _, _, cordoned)| !cordoned), "nothing was cordoned after the cancel: {now:?}");
}

#[tokio::test]
async fn a_cancel_while_waiting_resumes_by_waiting_never_by_replacing_again() {
    let server = cluster(2).await;
    let replacer = Replacer::new(&server).never_ready("n1");
    let token = CancellationToken::new();
    let cancel = token.clone();
    let on_wait = move |e: RollingEvent| {
        if matches!(e, RollingEvent::WaitingForReady { .. }) {
            cancel.cancel();
        }
    };
    let report = rolling_upgrade(&server.cluster(), GROUP, &replacer, &params().cancel(token), &on_wait).await.unwrap();
    assert_eq!(report.status, RollingStatus::Cancelled, "{report}");
    assert_eq!(
        outcomes(&report),
        [("n1", &NodeOutcome::Cancelled { stage: Stage::WaitingForReady }), ("n2", &NodeOutcome::NotStarted)]
    );
    assert!(report.nodes[0].replace_requested);
    assert!(report.left_cordoned().is_empty(), "n1 is the backend's now");

    // The replacement comes up while nobody watches; the resumed run takes it for n1 and goes on.
    let nodes: Api<Node> = Api::all(server.client());
    let ready = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}});
    nodes.patch_status("n1-new", &PatchParams::default(), &Patch::Merge(&ready)).await.unwrap();
    let resumed =
        rolling_upgrade(&server.cluster(), GROUP, &replacer, &params().resume_from(report), &k8sops_core::NoProgress)
            .await
            .unwrap();
    assert_eq!(resumed.status, RollingStatus::Completed, "{resumed}");
    assert_eq!(replacer.replaced(), ["n1", "n2"], "n1 was not drained or replaced a second time");
    let n1 = resumed.nodes.iter().find(|n| n.node == "n1").unwrap();
    assert!(matches!(&n1.outcome, NodeOutcome::Upgraded { node, .. } if node == "n1-new"), "{n1:?}");
}

#[tokio::test]
async fn a_replacement_that_joined_but_is_not_ready_at_resume_is_waited_for_and_claimed() {
    let server = cluster(2).await;
    let replacer = Replacer::new(&server).never_ready("n1");
    let token = CancellationToken::new();
    let cancel = token.clone();
    let on_wait = move |e: RollingEvent| {
        if matches!(e, RollingEvent::WaitingForReady { .. }) {
            cancel.cancel();
        }
    };
    let report = rolling_upgrade(&server.cluster(), GROUP, &replacer, &params().cancel(token), &on_wait).await.unwrap();
    assert_eq!(report.status, RollingStatus::Cancelled, "{report}");

    // n1-new has joined but is not Ready when the run resumes; it becomes Ready while the run waits.
    let client = server.client();
    let once = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let on_resumed_wait = move |e: RollingEvent| {
        if matches!(e, RollingEvent::WaitingForReady { .. }) && !once.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let nodes: Api<Node> = Api::all(client.clone());
            tokio::spawn(async move {
                let ready =
                    json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}});
                nodes.patch_status("n1-new", &PatchParams::default(), &Patch::Merge(&ready)).await.unwrap();
            });
        }
    };
    let resumed = rolling_upgrade(&server.cluster(), GROUP, &replacer, &params().resume_from(report), &on_resumed_wait)
        .await
        .unwrap();
    assert_eq!(resumed.status, RollingStatus::Completed, "{resumed}");
    assert_eq!(replacer.replaced(), ["n1", "n2"], "n1 was not replaced a second time");
    let n1 = resumed.nodes.iter().find(|n| n.node == "n1").unwrap();
    assert!(matches!(&n1.outcome, NodeOutcome::Upgraded { node, .. } if node == "n1-new"), "{n1:?}");
    assert!(
        !resumed.nodes.iter().any(|n| n.node == "n1-new" && matches!(n.outcome, NodeOutcome::AlreadyAtTarget { .. })),
        "the replacement is n1's, not a node already at the target: {resumed}"
    );
}

/// The cloud behind an [`InMemoryNodeGroups`] group: when an instance is
/// terminated without lowering the desired size, the group launches a new
/// instance, whose kubelet registers a Node at the target version (as an
/// Auto Scaling group with an updated launch template does). Every other
/// call is the in-memory backend's own.
#[derive(Debug)]
struct Cloud {
    groups: InMemoryNodeGroups,
    server: Arc<TestServer>,
    terminated: Mutex<Vec<(String, bool)>>,
}

#[async_trait]
impl NodeGroups for Cloud {
    fn backend_name(&self) -> String {
        self.groups.backend_name()
    }
    async fn list(&self) -> k8sops_core::Result<Vec<String>> {
        self.groups.list().await
    }
    async fn describe(&self, name: &str) -> k8sops_core::Result<NodeGroup> {
        self.groups.describe(name).await
    }
    async fn update_scaling(&self, name: &str, update: &ScalingUpdate) -> k8sops_core::Result<Update> {
        self.groups.update_scaling(name, update).await
    }
    async fn terminate_instance(&self, name: &str, instance_id: &str, decrement: bool) -> k8sops_core::Result<()> {
        self.groups.terminate_instance(name, instance_id, decrement).await?;
        self.terminated.lock().unwrap().push((instance_id.to_string(), decrement));
        let nodes: Api<Node> = Api::all(self.server.client());
        let all = nodes.list(&ListParams::default()).await.unwrap().items;
        let gone = all
            .iter()
            .find(|n| n.spec.as_ref().and_then(|s| s.provider_id.as_deref()).is_some_and(|p| p.ends_with(instance_id)))
            .and_then(|n| n.metadata.name.clone())
            .unwrap();
        nodes.delete(&gone, &DeleteParams::default()).await.unwrap();
        if !decrement {
            let new = format!("{gone}-new");
            let mut group = self.groups.describe(name).await?;
            group.instances.push(Instance {
                id: format!("i-{}", new.replace('-', "")),
                lifecycle_state: "InService".into(),
                health_status: "Healthy".into(),
                availability_zone: None,
            });
            self.groups.insert(group);
            self.server.insert(&node(&new, NEW, true)).unwrap();
        }
        Ok(())
    }
    async fn update_version(&self, name: &str, version: &k8sops_core::KubeVersion) -> k8sops_core::Result<Update> {
        self.groups.update_version(name, version).await
    }
    async fn describe_update(&self, name: &str, update_id: &str) -> k8sops_core::Result<Update> {
        self.groups.describe_update(name, update_id).await
    }
}

#[tokio::test]
async fn any_node_group_backend_replaces_drained_nodes_through_node_group_replacer() {
    let server = cluster(2).await;
    let mut group = NodeGroup::new(GROUP, ScalingConfig { min: 1, max: 3, desired: 2 });
    for n in ["n1", "n2"] {
        group.instances.push(Instance {
            id: format!("i-{n}"),
            lifecycle_state: "InService".into(),
            health_status: "Healthy".into(),
            availability_zone: None,
        });
    }
    let cloud = Arc::new(Cloud {
        groups: InMemoryNodeGroups::new().with_group(group),
        server: server.clone(),
        terminated: Mutex::default(),
    });
    let replacer = NodeGroupReplacer::new(cloud.clone());
    assert_eq!(replacer.backend_name(), cloud.backend_name());
    let report = rolling_upgrade(&server.cluster(), GROUP, &replacer, &params(), &Recorder::<RollingEvent>::default())
        .await
        .unwrap();
    assert_eq!(report.status, RollingStatus::Completed, "{report}");
    // Each instance named by its node's providerID, terminated without
    // lowering the desired size, so the group replaced it.
    assert_eq!(*cloud.terminated.lock().unwrap(), [("i-n1".to_string(), false), ("i-n2".to_string(), false)]);
    let after = cloud.describe(GROUP).await.unwrap();
    assert_eq!(after.scaling.desired, 2);
    assert_eq!(after.instances.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["i-n1new", "i-n2new"]);
    let now = group_nodes(&server).await;
    assert_eq!(now, ["n1-new", "n2-new"].map(|n| (n.to_string(), NEW.to_string(), true, false)).to_vec());

    // A node without a cloud instance id cannot be replaced by a node group:
    // refused after its drain, and it stays cordoned (nothing was terminated).
    let server = cluster(1).await;
    let nodes: Api<Node> = Api::all(server.client());
    nodes.patch("n1", &PatchParams::default(), &Patch::Merge(json!({"spec": {"providerID": null}}))).await.unwrap();
    let cloud = Arc::new(Cloud {
        groups: InMemoryNodeGroups::new()
            .with_group(NodeGroup::new(GROUP, ScalingConfig { min: 1, max: 3, desired: 1 })),
        server: server.clone(),
        terminated: Mutex::default(),
    });
    let report = rolling_upgrade(
        &server.cluster(),
        GROUP,
        &NodeGroupReplacer::new(cloud.clone()),
        &params(),
        &Recorder::<RollingEvent>::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.status, RollingStatus::Failed, "{report}");
    let NodeOutcome::ReplaceFailed { reason } = &report.nodes[0].outcome else { panic!("{report}") };
    assert!(reason.contains("no cloud instance id in spec.providerID"), "{reason}");
    assert!(cloud.terminated.lock().unwrap().is_empty());
    assert_eq!(report.left_cordoned(), ["n1"]);
}
