//! Drain with real termination on the real node (`../shared/k8s/node/`):
//! containers that exit on SIGTERM and containers that ignore it (killed at
//! their grace period), drained by k8sops and by `kubectl drain` on the same
//! state. The kubelet sets the pace here, not the client. Also a
//! PodDisruptionBudget that lets one pod of a Deployment go at a time while
//! the Deployment recreates them, and `--skip-wait-for-delete-timeout` with a
//! pod a finalizer holds in Terminating.
//!
//! The tests share one node and each cordons it, so they take turns
//! ([`NODE_LOCK`]).

use std::time::{Duration, Instant};

use k8s_openapi::api::{apps::v1::Deployment, core::v1::Pod, policy::v1::PodDisruptionBudget};
use k8sops_core::Recorder;
use k8sops_nodes::{
    describe_node, drain, drain_with_progress, DrainEvent, DrainParams, DrainStatus, PodOutcome, SkipReason,
};
use k8sops_testkit::e2e;
use kube::{
    api::{ListParams, Patch, PatchParams, PostParams},
    Api,
};
use serde_json::json;

const NODE: &str = "node-1";

/// One drain at a time on the shared node.
static NODE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
    let _turn = NODE_LOCK.lock().await;
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

/// Waits until `check` holds, polling the server every 300 ms for up to 90 s.
async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    while !check().await {
        assert!(Instant::now() < deadline, "{what} within 90 s");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Pods of `app` that are Running and Ready, not being deleted.
async fn ready_pods(api: &Api<Pod>, app: &str) -> Vec<String> {
    let pods = api.list(&ListParams::default().labels(&format!("app={app}"))).await.unwrap().items;
    pods.into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && k8sops_core::object_status::pod_is_ready(p))
        .filter_map(|p| p.metadata.name)
        .collect()
}

/// A Deployment of two pods that tolerate the cordon (so the replacements
/// of evicted pods start on this same node, the only one), and a budget that
/// keeps one available: the drain may take one pod at a time and must wait
/// for each replacement to become Ready.
async fn deployment_with_budget(node: &e2e::RealServer, ns: &str, app: &str) -> Vec<String> {
    let deployments: Api<Deployment> = Api::namespaced(node.cluster.client().clone(), ns);
    let d: Deployment = serde_json::from_value(json!({"metadata": {"name": app}, "spec": {"replicas": 2,
        "selector": {"matchLabels": {"app": app}},
        "template": {"metadata": {"labels": {"app": app}}, "spec": {
            "terminationGracePeriodSeconds": 5,
            "tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [{"name": "c", "image": "localhost/busybox:1.35", "imagePullPolicy": "Never",
                "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]}]}}}}))
    .unwrap();
    deployments.create(&PostParams::default(), &d).await.unwrap();
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(node.cluster.client().clone(), ns);
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({"metadata": {"name": format!("{app}-pdb")},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": app}}}}))
    .unwrap();
    budgets.create(&PostParams::default(), &pdb).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(node.cluster.client().clone(), ns);
    wait_until("both pods Ready", || async { ready_pods(&pods, app).await.len() == 2 }).await;
    // The disruption controller has seen them: one may go.
    let name = format!("{app}-pdb");
    wait_until("the budget allowing one disruption", || async {
        let pdb = budgets.get(&name).await.unwrap();
        pdb.status.is_some_and(|s| s.disruptions_allowed == Some(1) && s.current_healthy == Some(2))
    })
    .await;
    let mut names = ready_pods(&pods, app).await;
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_lets_the_drain_take_one_pod_at_a_time_as_the_deployment_replaces_them() {
    let Some(node) = e2e::real_node().await else { return };
    let _turn = NODE_LOCK.lock().await;
    let _uncordon = Uncordon(node.kubeconfig.clone());
    let ns = e2e::fresh_namespace(&node.cluster, "pdb").await;
    let pods: Api<Pod> = Api::namespaced(node.cluster.client().clone(), &ns);

    let ours = deployment_with_budget(&node, &ns, "ours").await;
    let params = DrainParams::default().pod_selector("app=ours".parse().unwrap()).timeout(Duration::from_secs(120));
    let events = Recorder::default();
    let start = Instant::now();
    let report = drain_with_progress(&node.cluster, NODE, &params, &events).await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(report.status, DrainStatus::Completed, "{report}");
    let mut evicted: Vec<String> = report
        .pods
        .iter()
        .filter(|p| p.outcome == PodOutcome::Evicted)
        .map(|p| p.pod.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    evicted.sort();
    assert_eq!(evicted, ours, "{report}");
    // Both evictions were sent at once; the budget refused one of them until
    // the first pod's replacement was Ready, and said so by name.
    let blocked: Vec<DrainEvent> =
        events.events().into_iter().filter(|e| matches!(e, DrainEvent::BlockedByBudget { .. })).collect();
    assert!(!blocked.is_empty(), "{:?}", events.events());
    assert!(
        blocked.iter().all(|e| matches!(e, DrainEvent::BlockedByBudget { budget: Some(b), .. } if b == "ours-pdb")),
        "{blocked:?}"
    );
    // The Deployment has its two pods again, both new.
    wait_until("two replacements Ready", || async { ready_pods(&pods, "ours").await.len() == 2 }).await;
    assert!(ready_pods(&pods, "ours").await.iter().all(|p| !ours.contains(p)));
    drop(node.kubectl_ok(&["uncordon", NODE]).await);

    // kubectl drain on the same state: it too is refused by the budget and
    // retries until the replacement is Ready.
    let theirs = deployment_with_budget(&node, &ns, "theirs").await;
    let start = Instant::now();
    let (ok, out, err) = node.kubectl(&["drain", NODE, "--pod-selector=app=theirs", "--timeout=120s"]).await;
    let kubectl_elapsed = start.elapsed();
    assert!(ok, "{err}");
    for pod in &theirs {
        assert!(out.contains(&format!("pod/{pod} evicted")), "{out}");
    }
    assert!(err.contains("Cannot evict pod as it would violate the pod's disruption budget"), "{err}");
    println!(
        "real node drain of 2 Deployment pods under a budget of one: k8sops {elapsed:?}, kubectl {kubectl_elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_wait_for_delete_timeout_stops_waiting_for_a_pod_held_in_terminating() {
    let Some(node) = e2e::real_node().await else { return };
    let _turn = NODE_LOCK.lock().await;
    let _uncordon = Uncordon(node.kubeconfig.clone());
    let ns = e2e::fresh_namespace(&node.cluster, "skipwait").await;
    let api: Api<Pod> = Api::namespaced(node.cluster.client().clone(), &ns);
    // A finalizer keeps the pod object after the kubelet has stopped it: the
    // state of a pod on a node that went away.
    let held = |name: &str| -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name, "labels": {"run": &ns, "held": name},
            "finalizers": ["k8sops.test/hold"]},
            "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1, "containers": [
                {"name": "c", "image": "localhost/busybox:1.35", "imagePullPolicy": "Never", "command": ["sleep", "3600"]}]}}))
        .unwrap()
    };
    let release = |name: String| {
        let api = api.clone();
        async move {
            let patch = json!({"metadata": {"finalizers": null}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
        }
    };
    for name in ["ours", "theirs"] {
        api.create(&PostParams::default(), &held(name)).await.unwrap();
    }
    wait_until("both pods running", || async {
        let pods = api.list(&ListParams::default()).await.unwrap().items;
        pods.iter().filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")).count() == 2
    })
    .await;

    // Without the skip, the drain waits for the pod until its timeout.
    let base = DrainParams::default().force(true).pod_selector(format!("run={ns},held=ours").parse().unwrap());
    let report = drain(&node.cluster, NODE, &base.clone().timeout(Duration::from_secs(6))).await.unwrap();
    assert_eq!(report.status, DrainStatus::TimedOut, "{report}");
    drop(node.kubectl_ok(&["uncordon", NODE]).await);

    // Its deletionTimestamp (eviction time + 1 s grace) is now more than 2 s
    // old: a drain with the skip does not wait for it, as kubectl's filter
    // skips it.
    let report = drain(
        &node.cluster,
        NODE,
        &base.clone().skip_wait_for_delete_timeout(Duration::from_secs(2)).timeout(Duration::from_secs(60)),
    )
    .await
    .unwrap();
    assert_eq!(report.status, DrainStatus::Completed, "{report}");
    assert_eq!(report.pods.len(), 1, "{report}");
    assert_eq!(report.pods[0].outcome, PodOutcome::Skipped(SkipReason::DeletionTimedOut), "{report}");
    drop(node.kubectl_ok(&["uncordon", NODE]).await);

    // kubectl on the other pod: without the skip it times out; with it, the
    // drain finishes once the deletionTimestamp is 2 s old.
    let (ok, _, err) = node
        .kubectl(&["drain", NODE, "--force", &format!("--pod-selector=run={ns},held=theirs"), "--timeout=6s"])
        .await;
    assert!(!ok && err.contains("context deadline exceeded"), "{err}");
    drop(node.kubectl_ok(&["uncordon", NODE]).await);
    let (ok, out, err) = node
        .kubectl(&[
            "drain",
            NODE,
            "--force",
            &format!("--pod-selector=run={ns},held=theirs"),
            "--skip-wait-for-delete-timeout=2",
            "--timeout=60s",
        ])
        .await;
    assert!(ok, "{out}{err}");
    assert!(out.contains(&format!("node/{NODE} drained")), "{out}");

    // A fresh eviction with the skip: the drain waits out the grace period
    // and the skip, then reports the pod evicted but not awaited.
    release("ours".into()).await;
    release("theirs".into()).await;
    drop(node.kubectl_ok(&["uncordon", NODE]).await);
    api.create(&PostParams::default(), &held("again")).await.unwrap();
    wait_until("the new pod running", || async {
        api.get("again").await.ok().and_then(|p| p.status).and_then(|s| s.phase).as_deref() == Some("Running")
    })
    .await;
    let params = DrainParams::default()
        .force(true)
        .pod_selector(format!("run={ns},held=again").parse().unwrap())
        .skip_wait_for_delete_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(60));
    let start = Instant::now();
    let report = drain(&node.cluster, NODE, &params).await.unwrap();
    assert_eq!(report.status, DrainStatus::Completed, "{report}");
    assert_eq!(report.pods[0].outcome, PodOutcome::EvictedNotAwaited, "{report}");
    // Not before the 1 s grace period and the 2 s skip have passed.
    assert!(start.elapsed() >= Duration::from_secs(3), "{:?}", start.elapsed());
    release("again".into()).await;
}

/// The node's own events (the kubelet's Starting, NodeReady, ...) in the
/// `Events:` section of `describe_node`, as `kubectl describe node` shows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_events_match_kubectl_describe_node() {
    let Some(node) = e2e::real_node().await else { return };
    let ours = describe_node(&node.cluster, "node-1").await.unwrap();
    // The kubelet's own events about the node (Starting, NodeReady, ...).
    assert!(ours.events.iter().any(|e| e.source == "kubelet"), "{:?}", ours.events);
    let out = node.kubectl_ok(&["describe", "node", "node-1"]).await;
    let text = ours.to_string();
    let ours_cells = e2e::describe_section(&text, "Events:");
    let theirs = e2e::describe_section(&out, "Events:");
    e2e::assert_same_cells(&ours_cells, &theirs, &format!("k8sops:\n{text}\nkubectl:\n{out}"));
}
