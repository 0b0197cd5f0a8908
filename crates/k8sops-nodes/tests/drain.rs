//! Every drain rule against the testkit server.

mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8sops_core::{CancellationToken, ProgressSink, Recorder};
use k8sops_nodes::{
    drain, drain_with_progress, DrainEvent, DrainParams, DrainStatus, DryRun, Error, PodOutcome, RefusalReason,
    SkipReason,
};
use k8sops_testkit::{Fault, KubeletOptions, TestServer};
use kube::Api;
use serde_json::{json, Value};

struct Cluster {
    server: TestServer,
    web: Value,
}

/// Three nodes; ReplicaSet `web` with one Ready pod per node; a DaemonSet pod on n1.
async fn cluster(kubelet: Option<KubeletOptions>) -> Cluster {
    let mut b = TestServer::builder();
    if let Some(k) = kubelet {
        b = b.kubelet(k);
    }
    let server = b.start().await.unwrap();
    server.insert(&namespace("app")).unwrap();
    for n in ["n1", "n2", "n3"] {
        server.insert(&node(n)).unwrap();
    }
    let web = server.insert(&replicaset("app", "web", 3, json!({"app": "web"}))).unwrap();
    for (i, n) in ["n1", "n2", "n3"].iter().enumerate() {
        server
            .insert(&running(owned(
                pod("app", &format!("web-{}", i + 1), n, json!({"app": "web"})),
                "ReplicaSet",
                &web,
            )))
            .unwrap();
    }
    let ds = server.insert(&daemonset("app", "logs")).unwrap();
    server.insert(&running(owned(pod("app", "logs-n1", "n1", json!({"ds": "logs"})), "DaemonSet", &ds))).unwrap();
    Cluster { server, web }
}

fn kubelet() -> Option<KubeletOptions> {
    Some(KubeletOptions { recreate_controller_pods: false, ..Default::default() })
}

async fn pods_on(server: &TestServer, node: &str) -> Vec<String> {
    let api: Api<Pod> = Api::all(server.client());
    let lp = kube::api::ListParams::default().fields(&format!("spec.nodeName={node}"));
    let mut names: Vec<String> =
        api.list(&lp).await.unwrap().items.into_iter().filter_map(|p| p.metadata.name).collect();
    names.sort();
    names
}

async fn cordoned(server: &TestServer, node: &str) -> bool {
    let api: Api<Node> = Api::all(server.client());
    api.get(node).await.unwrap().spec.and_then(|s| s.unschedulable).unwrap_or(false)
}

fn evictions(server: &TestServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/eviction"))
        .map(|r| r.path)
        .collect()
}

#[tokio::test]
async fn drain_refuses_daemonset_pods_without_ignore_daemonsets() {
    let c = cluster(kubelet()).await;
    let err = drain(&c.server.cluster(), "n1", &DrainParams::default()).await.unwrap().ensure_completed().unwrap_err();
    match &err {
        Error::Refused { pods, .. } => assert_eq!(pods, &[("app/logs-n1".to_string(), RefusalReason::DaemonSet)]),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): app/logs-n1"),
        "{err}"
    );
    assert!(evictions(&c.server).is_empty(), "nothing is evicted when a rule refuses");
    assert!(cordoned(&c.server, "n1").await, "the node stays cordoned, as with kubectl");
}

#[tokio::test]
async fn drain_refuses_emptydir_and_unreplicated_pods_naming_each() {
    let c = cluster(kubelet()).await;
    c.server
        .insert(&running(with_empty_dir(owned(
            pod("app", "cache", "n2", json!({"app": "cache"})),
            "ReplicaSet",
            &c.web,
        ))))
        .unwrap();
    c.server.insert(&running(pod("app", "lonely", "n2", json!({})))).unwrap();
    let err = drain(&c.server.cluster(), "n2", &DrainParams::default()).await.unwrap().ensure_completed().unwrap_err();
    let Error::Refused { pods, .. } = &err else { panic!("expected a refusal, got {err:?}") };
    assert_eq!(
        pods,
        &[
            ("app/cache".to_string(), RefusalReason::LocalStorage),
            ("app/lonely".to_string(), RefusalReason::Unreplicated)
        ]
    );
    let msg = err.to_string();
    assert!(
        msg.contains(
            "cannot delete cannot delete Pods that declare no controller (use --force to override): app/lonely"
        ),
        "{msg}"
    );
    assert!(
        msg.contains(
            "cannot delete cannot delete Pods with local storage (use --delete-emptydir-data to override): app/cache"
        ),
        "{msg}"
    );
    assert!(evictions(&c.server).is_empty());
}

#[tokio::test]
async fn drain_with_flags_removes_all_but_daemonset_and_mirror_pods() {
    let c = cluster(kubelet()).await;
    c.server
        .insert(&running(with_empty_dir(owned(pod("app", "cache", "n1", json!({})), "ReplicaSet", &c.web))))
        .unwrap();
    c.server.insert(&running(pod("app", "lonely", "n1", json!({})))).unwrap();
    let mut mirror = running(pod("app", "static-etcd", "n1", json!({})));
    mirror["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "abc"});
    c.server.insert(&mirror).unwrap();
    let mut done = pod("app", "finished", "n1", json!({}));
    done["status"] = json!({"phase": "Succeeded"});
    c.server.insert(&done).unwrap();

    let params = DrainParams::default().ignore_daemonsets(true).delete_emptydir_data(true).force(true);
    let report = drain(&c.server.cluster(), "n1", &params).await.unwrap();
    assert_eq!(report.status, DrainStatus::Completed);
    let outcome = |name: &str| report.pods.iter().find(|p| p.pod == name).map(|p| p.outcome.clone()).unwrap();
    assert_eq!(outcome("app/web-1"), PodOutcome::Evicted);
    assert_eq!(outcome("app/cache"), PodOutcome::Evicted);
    assert_eq!(outcome("app/lonely"), PodOutcome::Evicted);
    // kubectl evicts finished pods too (only --disable-eviction deletes).
    assert_eq!(outcome("app/finished"), PodOutcome::Evicted);
    assert_eq!(outcome("app/logs-n1"), PodOutcome::Skipped(SkipReason::DaemonSet));
    assert_eq!(outcome("app/static-etcd"), PodOutcome::Skipped(SkipReason::MirrorPod));
    assert_eq!(pods_on(&c.server, "n1").await, ["logs-n1", "static-etcd"]);
    let mut evicted: Vec<String> = evictions(&c.server);
    evicted.sort();
    assert_eq!(
        evicted,
        [
            "/api/v1/namespaces/app/pods/cache/eviction",
            "/api/v1/namespaces/app/pods/finished/eviction",
            "/api/v1/namespaces/app/pods/lonely/eviction",
            "/api/v1/namespaces/app/pods/web-1/eviction"
        ]
    );
    assert!(
        !c.server.requests().iter().any(|r| r.method == "DELETE" && r.path.starts_with("/api/v1/namespaces/app/pods/")),
        "no pod is deleted directly"
    );
}

#[tokio::test]
async fn budget_block_is_retried_until_a_replica_becomes_available() {
    let c = cluster(kubelet()).await;
    c.server.insert(&pdb("app", "web-pdb", 3, json!({"app": "web"}))).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<DrainEvent>();
    let params = DrainParams::default().ignore_daemonsets(true);
    let cluster = c.server.cluster();
    let run = tokio::spawn(async move { drain_with_progress(&cluster, "n1", &params, &tx).await });
    // Wait for the budget to refuse, then make a fourth replica Ready elsewhere.
    loop {
        match rx.recv().await.expect("events until the drain ends") {
            DrainEvent::BlockedByBudget { budget, pod, .. } => {
                assert_eq!((budget.as_deref(), pod.as_str()), (Some("web-pdb"), "app/web-1"));
                break;
            }
            _ => continue,
        }
    }
    c.server.insert(&running(owned(pod("app", "web-4", "n2", json!({"app": "web"})), "ReplicaSet", &c.web))).unwrap();
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.status, DrainStatus::Completed);
    let web1 = report.pods.iter().find(|p| p.pod == "app/web-1").unwrap();
    assert_eq!(web1.outcome, PodOutcome::Evicted);
    assert!(web1.attempts >= 2, "blocked at least once, then allowed");
}

#[tokio::test]
async fn timeout_with_a_budget_that_never_allows_names_the_budget() {
    let c = cluster(kubelet()).await;
    c.server.insert(&pdb("app", "web-pdb", 3, json!({"app": "web"}))).unwrap();
    let params = DrainParams::default().ignore_daemonsets(true).timeout(Duration::from_millis(1500));
    let err = drain(&c.server.cluster(), "n1", &params).await.unwrap().ensure_completed().unwrap_err();
    let Error::DrainTimedOut { report, .. } = &err else { panic!("expected a timeout, got {err:?}") };
    assert!(err.to_string().contains("blocked by PodDisruptionBudget web-pdb"), "{err}");
    let web1 = report.pods.iter().find(|p| p.pod == "app/web-1").unwrap();
    assert!(
        matches!(&web1.outcome, PodOutcome::Blocked { budget: Some(b), message } if b == "web-pdb" && message.contains("needs 3 healthy pods and has 3 currently")),
        "{:?}",
        web1.outcome
    );
    assert_eq!(pods_on(&c.server, "n1").await, ["logs-n1", "web-1"], "nothing was evicted");
}

#[tokio::test]
async fn server_dry_run_respects_the_timeout_and_changes_nothing() {
    let c = cluster(kubelet()).await;
    c.server.insert(&pdb("app", "web-pdb", 3, json!({"app": "web"}))).unwrap();
    let params = DrainParams::default().ignore_daemonsets(true).dry_run(DryRun::Server).timeout(Duration::from_secs(1));
    let err = drain(&c.server.cluster(), "n1", &params).await.unwrap().ensure_completed().unwrap_err();
    assert!(matches!(err, Error::DrainTimedOut { .. }), "{err:?}");
    assert!(!cordoned(&c.server, "n1").await, "a server dry run does not cordon");
    assert_eq!(pods_on(&c.server, "n1").await, ["logs-n1", "web-1"]);

    // Without a budget in the way, a server dry run completes and still changes nothing.
    let pdbs: Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> = Api::namespaced(c.server.client(), "app");
    pdbs.delete("web-pdb", &Default::default()).await.unwrap();
    let params = DrainParams::default().ignore_daemonsets(true).dry_run(DryRun::Server);
    let report = drain(&c.server.cluster(), "n2", &params).await.unwrap();
    assert_eq!(report.pods.iter().find(|p| p.pod == "app/web-2").unwrap().outcome, PodOutcome::WouldEvict);
    assert_eq!(report.status, DrainStatus::Completed);
    assert_eq!(pods_on(&c.server, "n2").await, ["web-2"]);
}

#[tokio::test]
async fn client_dry_run_sends_no_writes() {
    let c = cluster(kubelet()).await;
    c.server.clear_requests();
    let params = DrainParams::default().ignore_daemonsets(true).dry_run(DryRun::Client);
    let report = drain(&c.server.cluster(), "n1", &params).await.unwrap();
    assert_eq!(report.pods.iter().find(|p| p.pod == "app/web-1").unwrap().outcome, PodOutcome::WouldEvict);
    let writes: Vec<_> = c.server.requests().into_iter().filter(|r| r.method != "GET").collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert!(!cordoned(&c.server, "n1").await);
}

#[tokio::test]
async fn cancelling_mid_drain_reports_what_was_evicted_and_keeps_the_node_cordoned() {
    let c = cluster(kubelet()).await;
    c.server.insert(&pdb("app", "web-pdb", 3, json!({"app": "web"}))).unwrap();
    c.server.insert(&running(owned(pod("app", "api-1", "n1", json!({"app": "api"})), "ReplicaSet", &c.web))).unwrap();
    let token = CancellationToken::new();
    struct CancelOnGone(CancellationToken, Recorder<DrainEvent>);
    impl ProgressSink<DrainEvent> for CancelOnGone {
        fn emit(&self, e: DrainEvent) {
            if matches!(e, DrainEvent::Gone { .. }) {
                self.0.cancel();
            }
            self.1.emit(e);
        }
    }
    let sink = CancelOnGone(token.clone(), Recorder::default());
    let params = DrainParams::default().ignore_daemonsets(true).cancel(token);
    let report = drain_with_progress(&c.server.cluster(), "n1", &params, &sink).await.unwrap();
    assert_eq!(report.status, DrainStatus::Cancelled);
    let err = report.clone().ensure_completed().unwrap_err();
    let Error::DrainCancelled { report, .. } = &err else { panic!("expected cancellation, got {err:?}") };
    assert_eq!(report.removed(), ["app/api-1"]);
    assert!(matches!(report.pods.iter().find(|p| p.pod == "app/web-1").unwrap().outcome, PodOutcome::Blocked { .. }));
    assert!(cordoned(&c.server, "n1").await);
    assert!(err.to_string().contains("evicting 1 pod(s)"), "{err}");
}

#[tokio::test]
async fn injected_failures_are_retried_and_no_pod_is_lost() {
    let c = cluster(kubelet()).await;
    for i in 0..6 {
        c.server
            .insert(&running(owned(
                pod("app", &format!("batch-{i}"), "n3", json!({"app": "batch"})),
                "ReplicaSet",
                &c.web,
            )))
            .unwrap();
    }
    c.server.add_fault(Fault::on("POST", "/eviction").status(500).times(3));
    c.server.add_fault(Fault::on("POST", "/eviction").too_many_requests(1).times(2));
    c.server.add_fault(Fault::on("POST", "/eviction").drop_connection().times(2));
    c.server.add_fault(Fault::on("GET", "/api/v1/pods").status(503).times(1));
    let events = Recorder::default();
    let params = DrainParams::default().ignore_daemonsets(true).timeout(Duration::from_secs(60));
    let report = drain_with_progress(&c.server.cluster(), "n3", &params, &events).await.unwrap();
    assert_eq!(report.status, DrainStatus::Completed);
    assert!(report.pods.iter().all(|p| p.outcome == PodOutcome::Evicted), "{}", report);
    assert_eq!(report.pods.len(), 7);
    assert!(pods_on(&c.server, "n3").await.is_empty());
    let retries = events.events().iter().filter(|e| matches!(e, DrainEvent::Retrying { .. })).count();
    assert!(retries >= 5, "every injected failure shows up as a retry ({retries})");
}

#[tokio::test]
async fn waiting_for_deletion_uses_a_watch_not_a_poll() {
    let k = KubeletOptions {
        termination: k8sops_testkit::TerminationDelay::Fixed(Duration::from_millis(300)),
        recreate_controller_pods: false,
        replacements_ready: true,
    };
    let c = cluster(Some(k)).await;
    c.server.clear_requests();
    let report = drain(&c.server.cluster(), "n2", &DrainParams::default()).await.unwrap();
    assert_eq!(report.pods.iter().find(|p| p.pod == "app/web-2").unwrap().outcome, PodOutcome::Evicted);
    let reqs = c.server.requests();
    assert!(reqs.iter().any(|r| r.query.contains("watch=true")), "a watch is opened");
    let polls = reqs.iter().filter(|r| r.method == "GET" && r.path == "/api/v1/namespaces/app/pods/web-2").count();
    assert_eq!(polls, 0, "no per-pod polling");
}

#[tokio::test]
async fn disable_eviction_deletes_pods_past_budgets() {
    let c = cluster(kubelet()).await;
    c.server.insert(&pdb("app", "web-pdb", 3, json!({"app": "web"}))).unwrap();
    let params = DrainParams::default().ignore_daemonsets(true).disable_eviction(true);
    let report = drain(&c.server.cluster(), "n1", &params).await.unwrap();
    assert_eq!(report.pods.iter().find(|p| p.pod == "app/web-1").unwrap().outcome, PodOutcome::Deleted);
    assert!(evictions(&c.server).is_empty());
}

#[tokio::test]
async fn pod_selector_limits_the_drain() {
    let c = cluster(kubelet()).await;
    c.server.insert(&running(owned(pod("app", "api-1", "n1", json!({"app": "api"})), "ReplicaSet", &c.web))).unwrap();
    let params = DrainParams::default().pod_selector("app=api".parse().unwrap());
    let report = drain(&c.server.cluster(), "n1", &params).await.unwrap();
    assert_eq!(report.pods.iter().map(|p| p.pod.as_str()).collect::<Vec<_>>(), ["app/api-1"]);
    assert_eq!(pods_on(&c.server, "n1").await, ["logs-n1", "web-1"]);
}

#[tokio::test]
async fn unknown_node_is_a_typed_error() {
    let c = cluster(None).await;
    let err = drain(&c.server.cluster(), "nope", &DrainParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::NodeNotFound { ref name } if name == "nope"), "{err:?}");
}

#[tokio::test]
async fn evictions_fall_back_to_policy_v1beta1_where_only_that_is_served() {
    let server = TestServer::builder()
        .eviction_version("policy/v1beta1")
        .kubelet(KubeletOptions::default())
        .start()
        .await
        .unwrap();
    server.insert(&namespace("app")).unwrap();
    server.insert(&node("old")).unwrap();
    let rs = server.insert(&replicaset("app", "web", 1, json!({"app": "web"}))).unwrap();
    server.insert(&running(owned(pod("app", "web-1", "old", json!({"app": "web"})), "ReplicaSet", &rs))).unwrap();
    // A policy/v1 eviction is refused by this server...
    let body =
        json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-1", "namespace": "app"}});
    let req = http::Request::post("/api/v1/namespaces/app/pods/web-1/eviction")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    let err = server.client().request::<Value>(req).await.unwrap_err();
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 400), "{err:?}");
    // ...so the drain must discover and use policy/v1beta1.
    let report = drain(&server.cluster(), "old", &DrainParams::default()).await.unwrap();
    assert_eq!(report.pods[0].outcome, PodOutcome::Evicted);
    let statuses: Vec<u16> =
        server.requests().into_iter().filter(|r| r.path.ends_with("/eviction")).map(|r| r.status).collect();
    assert_eq!(statuses, [400, 201], "the refused v1 request, then the drain's v1beta1 eviction");
}
