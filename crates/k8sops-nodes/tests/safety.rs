//! Regression tests for the safety defects: a drain's status is the one
//! truth, composites act on a node only after a completed drain, one dry-run
//! switch flows down, cancellation sends nothing more, and drain answers
//! kubectl's answers. Each test is named after the defect it pins.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use common::*;
use k8s_openapi::api::core::v1::Pod;
use k8sops_core::{
    backend::{InMemoryNodeGroups, Instance, NodeGroup, NodeGroups, ScalingConfig},
    CancellationToken, ProgressSink,
};
use k8sops_nodes::{
    delete_node, drain, drain_nodes, drain_with_progress, safe_scale_in, CordonChange, DeleteNodeParams, DrainEvent,
    DrainManyParams, DrainParams, DrainStatus, DryRun, Error, NodeSelection, PodOutcome, RefusalReason, ScaleInEvent,
    ScaleInParams, ScaleInStatus, Termination, VictimChoice,
};
use k8sops_testkit::{Fault, KubeletOptions, TestServer};
use kube::Api;
use serde_json::{json, Value};

/// Nodes n1..n3 in group "workers"; ReplicaSet `web` with one Ready pod per node
/// and a budget that allows no disruption when `blocking`.
async fn workers(kubelet: bool, blocking: bool) -> (TestServer, Value) {
    let mut b = TestServer::builder();
    if kubelet {
        b = b.kubelet(KubeletOptions { recreate_controller_pods: false, ..Default::default() });
    }
    let server = b.start().await.unwrap();
    server.insert(&namespace("app")).unwrap();
    for n in ["n1", "n2", "n3"] {
        server.insert(&node(n)).unwrap();
    }
    let web = server.insert(&replicaset("app", "web", 3, json!({"app": "web"}))).unwrap();
    for n in ["n1", "n2", "n3"] {
        let p = owned(pod("app", &format!("web-{n}"), n, json!({"app": "web"})), "ReplicaSet", &web);
        server.insert(&running(p)).unwrap();
    }
    if blocking {
        server.insert(&pdb("app", "web-pdb", 3, json!({"app": "web"}))).unwrap();
    }
    (server, web)
}

/// The workers group as an in-memory backend that knows `instances` of it.
fn group_with(server: &TestServer, instances: &[&str]) -> (k8sops_core::Cluster, Arc<InMemoryNodeGroups>) {
    let mut g = NodeGroup::new("workers", ScalingConfig { min: 0, max: 10, desired: 3 });
    g.instances = instances
        .iter()
        .map(|n| Instance {
            id: format!("i-{}", n.replace('-', "")),
            lifecycle_state: "InService".into(),
            health_status: "Healthy".into(),
            availability_zone: None,
        })
        .collect();
    let groups = Arc::new(InMemoryNodeGroups::new().with_group(g));
    (server.cluster().to_builder().node_groups(groups.clone()).build(), groups)
}

fn writes(server: &TestServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter(|r| matches!(r.method.as_str(), "POST" | "PATCH" | "PUT" | "DELETE"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

async fn pod_state(server: &TestServer, ns: &str, name: &str) -> Option<bool> {
    let api: Api<Pod> = Api::namespaced(server.client(), ns);
    api.get_opt(name).await.unwrap().map(|p| p.metadata.deletion_timestamp.is_some())
}

fn quick(params: DrainParams) -> DrainParams {
    DrainParams { budget_backoff: Duration::from_millis(10), budget_backoff_max: Duration::from_millis(20), ..params }
}

#[tokio::test]
async fn safe_scale_in_never_terminates_a_node_whose_drain_failed() {
    let (server, _) = workers(true, true).await;
    let (cluster, groups) = group_with(&server, &["n1", "n2", "n3"]);
    let params = ScaleInParams {
        victims: VictimChoice::Nodes(vec!["n1".into()]),
        drain: quick(DrainParams::default().timeout(Duration::from_millis(300))),
        ..Default::default()
    };
    let report = safe_scale_in(&cluster, "workers", &params, &k8sops_core::NoProgress).await.unwrap();
    assert_eq!(report.status, ScaleInStatus::Failed);
    assert_eq!(report.victims[0].drain.as_ref().unwrap().status, DrainStatus::TimedOut);
    assert_eq!(report.victims[0].termination, Termination::NotAttempted);
    assert!(report.terminated().is_empty());
    assert_eq!(report.cordoned(), ["n1"]);
    let g = groups.describe("workers").await.unwrap();
    assert_eq!(g.instances.len(), 3, "no instance was terminated");
    assert_eq!(g.scaling.desired, 3);
    assert_eq!(pod_state(&server, "app", "web-n1").await, Some(false), "the budgeted pod still runs");
    let err = report.ensure_completed().unwrap_err();
    assert!(matches!(err, Error::ScaleInIncomplete { .. }), "{err}");
    assert!(err.to_string().contains("left cordoned: n1"), "{err}");
}

#[tokio::test]
async fn a_dry_run_drain_nested_in_a_real_scale_in_never_leads_to_a_termination() {
    // The scale-in's own switch flows down: a nested client dry run is replaced by a real drain.
    let (server, _) = workers(true, false).await;
    let (cluster, groups) = group_with(&server, &["n1", "n2", "n3"]);
    let params = ScaleInParams {
        victims: VictimChoice::Nodes(vec!["n1".into()]),
        drain: DrainParams::default().dry_run(DryRun::Client),
        ..Default::default()
    };
    let report = safe_scale_in(&cluster, "workers", &params, &k8sops_core::NoProgress).await.unwrap();
    let drained = report.victims[0].drain.as_ref().unwrap();
    assert_eq!(drained.dry_run, DryRun::None);
    assert_eq!(drained.status, DrainStatus::Completed);
    assert_eq!(pod_state(&server, "app", "web-n1").await, None, "the pod was really evicted before the termination");
    assert_eq!(report.terminated(), ["i-n1"]);
    assert_eq!(groups.describe("workers").await.unwrap().instances.len(), 2);

    // And a dry-run scale-in sends nothing and terminates nothing.
    let before = writes(&server).len();
    let params = ScaleInParams {
        victims: VictimChoice::Nodes(vec!["n2".into()]),
        dry_run: DryRun::Client,
        ..Default::default()
    };
    let report = safe_scale_in(&cluster, "workers", &params, &k8sops_core::NoProgress).await.unwrap();
    assert_eq!(report.status, ScaleInStatus::Completed);
    assert_eq!(report.victims[0].termination, Termination::WouldTerminate);
    assert_eq!(writes(&server).len(), before, "{:?}", &writes(&server)[before..]);
    assert_eq!(groups.describe("workers").await.unwrap().instances.len(), 2);
}

#[tokio::test]
async fn safe_scale_in_refuses_a_victim_that_is_not_one_of_the_groups_instances() {
    let (server, _) = workers(false, false).await;
    // n3 carries the group's label and an AWS providerID, but the group does not own its instance.
    let (cluster, groups) = group_with(&server, &["n1", "n2"]);
    let params = ScaleInParams { victims: VictimChoice::Nodes(vec!["n3".into()]), ..Default::default() };
    let err = safe_scale_in(&cluster, "workers", &params, &k8sops_core::NoProgress).await.unwrap_err();
    assert!(err.to_string().contains("n3 is not an instance of node group workers"), "{err}");
    assert!(writes(&server).is_empty(), "nothing was cordoned: {:?}", writes(&server));
    assert_eq!(groups.describe("workers").await.unwrap().instances.len(), 2);
}

#[tokio::test]
async fn delete_node_never_deletes_a_node_whose_drain_timed_out() {
    let (server, _) = workers(true, true).await;
    let params = DeleteNodeParams {
        drain: Some(quick(DrainParams::default().timeout(Duration::from_millis(300)))),
        ..Default::default()
    };
    let report = delete_node(&server.cluster(), "n1", &params, &k8sops_core::NoProgress).await.unwrap();
    assert!(!report.deleted);
    assert_eq!(report.drain.as_ref().unwrap().status, DrainStatus::TimedOut);
    assert!(!writes(&server).iter().any(|w| w == "DELETE /api/v1/nodes/n1"));
    assert!(matches!(report.ensure_completed(), Err(Error::DrainTimedOut { .. })));
}

#[tokio::test]
async fn drain_nodes_pairs_each_node_with_its_own_cordon_state() {
    let (server, _) = workers(true, false).await;
    let cluster = server.cluster();
    k8sops_nodes::cordon(&cluster, &NodeSelection::name("n2"), Default::default()).await.unwrap();
    let before = writes(&server).len();
    // Unsorted: n2 (cordoned) first, n1 (schedulable) second.
    let selection = NodeSelection::Names(vec!["n2".into(), "n1".into()]);
    let report =
        drain_nodes(&cluster, &selection, &DrainManyParams::default(), &k8sops_core::NoProgress).await.unwrap();
    assert_eq!(
        report.cordons,
        [("n1".to_string(), CordonChange::Changed), ("n2".to_string(), CordonChange::AlreadyInState)]
    );
    let cordon_patches: Vec<String> =
        writes(&server)[before..].iter().filter(|w| w.starts_with("PATCH /api/v1/nodes/")).cloned().collect();
    assert_eq!(cordon_patches, ["PATCH /api/v1/nodes/n1"], "only the schedulable node is patched");
    assert!(report.is_success(), "{report}");
}

#[tokio::test]
async fn drain_nodes_stops_after_a_failed_batch_and_names_the_refused_pods() {
    let (server, _) = workers(true, false).await;
    server.insert(&running(pod("app", "lonely", "n1", json!({})))).unwrap();
    let cluster = server.cluster();
    let selection = NodeSelection::Names(vec!["n1".into(), "n2".into()]);
    let report =
        drain_nodes(&cluster, &selection, &DrainManyParams::default(), &k8sops_core::NoProgress).await.unwrap();
    assert_eq!(report.nodes.len(), 1);
    assert_eq!(report.nodes[0].status, DrainStatus::Refused);
    assert_eq!(report.not_started, ["n2"]);
    let text = report.to_string();
    assert!(text.contains("app/lonely") && text.contains("declare no controller"), "{text}");
    assert!(!report.is_success());
    assert_eq!(pod_state(&server, "app", "web-n2").await, Some(false), "n2 was not drained");

    let params = DrainManyParams { continue_on_failure: true, ..Default::default() };
    let report = drain_nodes(&cluster, &selection, &params, &k8sops_core::NoProgress).await.unwrap();
    assert_eq!(report.nodes.len(), 2);
    assert_eq!(report.nodes[1].status, DrainStatus::Completed);
    assert!(report.not_started.is_empty());
}

/// Cancels the token when the `n`-th event is emitted and records how many
/// requests the server had seen at that moment.
struct CancelAt<'a, E> {
    n: usize,
    seen: Mutex<usize>,
    token: CancellationToken,
    server_requests: Mutex<Option<usize>>,
    server: &'a TestServer,
    _e: std::marker::PhantomData<fn(E)>,
}

impl<'a, E> CancelAt<'a, E> {
    fn new(n: usize, token: CancellationToken, server: &'a TestServer) -> Self {
        CancelAt { n, seen: Mutex::new(0), token, server_requests: Mutex::new(None), server, _e: Default::default() }
    }
    fn tick(&self) {
        let mut seen = self.seen.lock().unwrap();
        *seen += 1;
        if *seen == self.n {
            *self.server_requests.lock().unwrap() = Some(self.server.requests().len());
            self.token.cancel();
        }
    }
    /// Writes the server saw after the cancel.
    fn writes_after_cancel(&self) -> Vec<String> {
        let Some(at) = *self.server_requests.lock().unwrap() else { return Vec::new() };
        self.server.requests()[at..]
            .iter()
            .filter(|r| matches!(r.method.as_str(), "POST" | "PATCH" | "PUT" | "DELETE"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

impl ProgressSink<DrainEvent> for CancelAt<'_, DrainEvent> {
    fn emit(&self, _: DrainEvent) {
        self.tick();
    }
}

impl ProgressSink<ScaleInEvent> for CancelAt<'_, ScaleInEvent> {
    fn emit(&self, _: ScaleInEvent) {
        self.tick();
    }
}

/// Drain with six pods (one blocked by a budget) cancelled at every event in
/// turn: no write after the cancel, and each pod's reported outcome matches
/// what the cluster holds.
#[tokio::test]
async fn cancelling_a_drain_at_any_point_sends_nothing_more_and_the_report_matches_the_cluster() {
    // Seeded: the pods' count and the budget are fixed; every cancel point is visited.
    for n in 1..=16 {
        let (server, web) = workers(false, false).await;
        for i in 0..5 {
            let p = owned(pod("app", &format!("api-{i}"), "n1", json!({"app": "api"})), "ReplicaSet", &web);
            server.insert(&running(p)).unwrap();
        }
        server.insert(&pdb("app", "web-pdb", 3, json!({"app": "web"}))).unwrap();
        let token = CancellationToken::new();
        let sink = CancelAt::<DrainEvent>::new(n, token.clone(), &server);
        // One request in flight at a time, so "after the cancel" is well defined.
        let params = quick(DrainParams::default().concurrency(1).cancel(token.clone()));
        let report = drain_with_progress(&server.cluster(), "n1", &params, &sink).await.unwrap();
        assert!(sink.writes_after_cancel().is_empty(), "cancel at event {n}: {:?}", sink.writes_after_cancel());
        if token.is_cancelled() {
            assert_eq!(report.status, DrainStatus::Cancelled, "cancel at event {n}");
        }
        for p in &report.pods {
            let (ns, name) = p.pod.split_once('/').unwrap();
            let state = pod_state(&server, ns, name).await;
            match &p.outcome {
                // Without a kubelet, an accepted eviction leaves the pod terminating.
                PodOutcome::Terminating | PodOutcome::Evicted => {
                    assert_ne!(state, Some(false), "{} reported evicted at event {n}", p.pod)
                }
                PodOutcome::NotAttempted | PodOutcome::Blocked { .. } => {
                    assert_eq!(state, Some(false), "{} reported untouched at event {n}", p.pod)
                }
                other => panic!("unexpected outcome {other:?} at event {n}"),
            }
        }
    }
}

#[tokio::test]
async fn cancelling_a_scale_in_at_any_point_terminates_nothing_after_the_cancel() {
    for n in 1..=12 {
        let (server, _) = workers(true, false).await;
        let (cluster, groups) = group_with(&server, &["n1", "n2", "n3"]);
        let token = CancellationToken::new();
        let sink = CancelAt::<ScaleInEvent>::new(n, token.clone(), &server);
        let params = ScaleInParams {
            victims: VictimChoice::Nodes(vec!["n1".into(), "n2".into()]),
            cancel: Some(token.clone()),
            ..Default::default()
        };
        let report = safe_scale_in(&cluster, "workers", &params, &sink).await.unwrap();
        assert!(sink.writes_after_cancel().is_empty(), "cancel at event {n}: {:?}", sink.writes_after_cancel());
        let left: Vec<String> = groups.describe("workers").await.unwrap().instances.into_iter().map(|i| i.id).collect();
        for v in &report.victims {
            let terminated = !left.contains(&v.instance_id);
            assert_eq!(terminated, v.termination == Termination::Terminated, "{} at event {n}", v.node);
            if terminated {
                assert!(v.drain.as_ref().is_some_and(|d| d.node_is_empty()), "terminated only after a completed drain");
            }
        }
        if token.is_cancelled() && report.terminated().len() < 2 {
            assert_eq!(report.status, ScaleInStatus::Cancelled, "cancel at event {n}");
        }
    }
}

#[tokio::test]
async fn orphaned_daemonset_pod_with_force_still_obeys_the_emptydir_rule() {
    let (server, _) = workers(false, false).await;
    let ghost = json!({"metadata": {"name": "gone", "uid": "ghost-uid"}});
    server.insert(&running(with_empty_dir(owned(pod("app", "orphan", "n1", json!({})), "DaemonSet", &ghost)))).unwrap();
    let params = DrainParams::default().force(true).ignore_daemonsets(true);
    let report = drain(&server.cluster(), "n1", &params).await.unwrap();
    assert_eq!(report.status, DrainStatus::Refused);
    assert_eq!(report.refused(), [("app/orphan", &RefusalReason::LocalStorage)]);
}

#[tokio::test]
async fn a_daemonset_owner_counts_only_as_an_apps_v1_controller_reference() {
    let (server, _) = workers(true, false).await;
    let mut p = running(pod("app", "kruise-ds-pod", "n1", json!({})));
    p["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps.kruise.io/v1alpha1", "kind": "DaemonSet", "name": "agent", "uid": "u1", "controller": true}]);
    server.insert(&p).unwrap();
    // Not an apps/v1 DaemonSet: a controlled pod like any other, evicted without --ignore-daemonsets.
    let report = drain(&server.cluster(), "n1", &DrainParams::default()).await.unwrap();
    assert_eq!(report.status, DrainStatus::Completed, "{report}");
    assert_eq!(pod_state(&server, "app", "kruise-ds-pod").await, None);
}

#[tokio::test]
async fn a_negative_grace_period_means_the_pods_own_on_the_delete_path() {
    let (server, _) = workers(false, false).await;
    let params = DrainParams::default().disable_eviction(true).grace_period(-1).timeout(Duration::from_millis(200));
    let report = drain(&server.cluster(), "n1", &params).await.unwrap();
    // With its own 30 s grace the pod is still terminating (no kubelet): it was not killed at once.
    assert_eq!(report.pods[0].outcome, PodOutcome::Terminating);
    assert_eq!(pod_state(&server, "app", "web-n1").await, Some(true));
    assert!(server.requests().iter().any(|r| r.method == "DELETE" && !r.query.contains("gracePeriodSeconds")));
}

#[tokio::test]
async fn a_zero_timeout_means_no_limit() {
    let (server, _) = workers(true, false).await;
    let report = drain(&server.cluster(), "n1", &DrainParams::default().timeout(Duration::ZERO)).await.unwrap();
    assert_eq!(report.status, DrainStatus::Completed, "{report}");
}

#[tokio::test]
async fn a_pod_with_two_budgets_fails_at_once() {
    let (server, _) = workers(true, false).await;
    server.insert(&pdb("app", "one", 1, json!({"app": "web"}))).unwrap();
    server.insert(&pdb("app", "two", 1, json!({"app": "web"}))).unwrap();
    let report = drain(&server.cluster(), "n1", &DrainParams::default()).await.unwrap();
    assert_eq!(report.status, DrainStatus::Failed);
    assert_eq!(report.pods[0].attempts, 1, "not retried");
    assert!(matches!(report.ensure_completed(), Err(Error::DrainFailed { .. })));
}

#[tokio::test]
async fn a_429_not_caused_by_a_budget_is_retried_as_kubectl_does() {
    let (server, _) = workers(true, false).await;
    // More 429s than the retry policy's attempts: kubectl keeps retrying them.
    server.add_fault(Fault::on("POST", "/eviction").too_many_requests(0).times(8));
    let report = drain(&server.cluster(), "n1", &quick(DrainParams::default())).await.unwrap();
    assert_eq!(report.status, DrainStatus::Completed, "{report}");
    assert_eq!(report.pods[0].attempts, 9);
}

#[tokio::test]
async fn a_failing_cordon_does_not_abort_the_drain() {
    let (server, _) = workers(true, false).await;
    server.add_fault(Fault::on("PATCH", "/api/v1/nodes/n1").status(403).times(1));
    let report = drain(&server.cluster(), "n1", &DrainParams::default()).await.unwrap();
    assert!(matches!(report.cordon, CordonChange::Failed(_)), "{report}");
    assert_eq!(report.status, DrainStatus::Completed);
    assert!(report.to_string().contains("error: unable to cordon node \"n1\""), "{report}");
}

#[tokio::test]
async fn a_timed_out_drain_reports_terminating_pods_as_terminating_not_blocked() {
    let (server, _) = workers(false, false).await;
    let report =
        drain(&server.cluster(), "n1", &DrainParams::default().timeout(Duration::from_millis(300))).await.unwrap();
    assert_eq!(report.status, DrainStatus::TimedOut);
    assert_eq!(report.pods[0].outcome, PodOutcome::Terminating);
    let err = report.ensure_completed().unwrap_err().to_string();
    assert!(err.contains("1 pod(s) evicted and still terminating"), "{err}");
    assert!(!err.contains("PodDisruptionBudget"), "{err}");
}

#[tokio::test]
async fn a_dry_run_cordon_is_reported_as_a_dry_run() {
    let (server, _) = workers(false, false).await;
    let report = drain(&server.cluster(), "n1", &DrainParams::default().dry_run(DryRun::Client)).await.unwrap();
    let text = report.to_string();
    assert!(text.starts_with("node/n1 cordoned (dry run)\n"), "{text}");
    assert!(writes(&server).is_empty());
}

#[tokio::test]
async fn the_skip_wait_timeout_counts_from_the_pods_deletion_timestamp() {
    let (server, _) = workers(false, false).await;
    // No kubelet: the evicted pod stays terminating with deletionTimestamp = now + 30 s grace.
    let params =
        DrainParams::default().skip_wait_for_delete_timeout(Duration::from_secs(1)).timeout(Duration::from_secs(3));
    let report = drain(&server.cluster(), "n1", &params).await.unwrap();
    // kubectl waits until deletionTimestamp + 1 s, which is 30 s away: still waiting at the 3 s timeout.
    assert_eq!(report.status, DrainStatus::TimedOut, "{report}");
    assert_eq!(report.pods[0].outcome, PodOutcome::Terminating);
}

#[tokio::test]
async fn a_drain_cancelled_before_its_cordon_is_not_completed_even_with_nothing_to_evict() {
    let (server, _) = workers(false, false).await;
    server.insert(&node("empty")).unwrap();
    let token = CancellationToken::new();
    token.cancel();
    let report = drain(&server.cluster(), "empty", &DrainParams::default().cancel(token)).await.unwrap();
    assert!(report.pods.is_empty());
    assert_eq!(report.status, DrainStatus::Cancelled, "{report}");
    assert!(!report.node_is_empty());
    assert!(writes(&server).iter().all(|w| !w.starts_with("PATCH")), "no cordon after the cancel");
}
