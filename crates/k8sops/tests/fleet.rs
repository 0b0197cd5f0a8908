//! The fleet: one checklist over the contexts of one kubeconfig — three
//! testkit API servers (one healthy, the demo with its problems, one whose
//! user may read nothing) and one address that accepts connections and
//! never answers. Four rows come back, in kubeconfig order, each saying what
//! it is, within the per-cluster budget.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use k8sops::{
    checklist::{Checklist, Outcome, Status},
    fleet::{ClusterOutcome, Fleet},
};
use k8sops_testkit::{DemoCluster, TestServer};
use kube::config::Kubeconfig;
use serde_json::json;

/// The (server, user token) of a testkit kubeconfig.
fn server_and_token(path: &Path) -> (String, String) {
    // The testkit writes its kubeconfigs as JSON.
    let k: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let server = k["clusters"][0]["cluster"]["server"].as_str().unwrap().to_string();
    (server, k["users"][0]["user"]["token"].as_str().unwrap().to_string())
}

/// One kubeconfig holding a context per (name, server, token).
fn kubeconfig(members: &[(&str, String, String)]) -> Kubeconfig {
    let clusters: Vec<_> = members.iter().map(|(n, s, _)| json!({"name": n, "cluster": {"server": s}})).collect();
    let users: Vec<_> = members.iter().map(|(n, _, t)| json!({"name": n, "user": {"token": t}})).collect();
    let contexts: Vec<_> =
        members.iter().map(|(n, _, _)| json!({"name": n, "context": {"cluster": n, "user": n}})).collect();
    let doc = json!({"apiVersion": "v1", "kind": "Config", "clusters": clusters, "users": users, "contexts": contexts,
        "current-context": members[0].0});
    Kubeconfig::from_yaml(&serde_json::to_string(&doc).unwrap()).unwrap()
}

/// An address that accepts TCP connections and never sends a byte.
async fn silent_listener() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_contexts_give_four_rows_and_the_dead_one_says_why_within_the_budget() {
    let healthy = TestServer::start().await.unwrap();
    let demo = TestServer::start().await.unwrap();
    demo.load(&DemoCluster::small()).unwrap();
    let locked = TestServer::start().await.unwrap();
    let (dead_url, _dead) = silent_listener().await;

    let (healthy_url, healthy_token) = server_and_token(healthy.kubeconfig_path());
    let (demo_url, demo_token) = server_and_token(demo.kubeconfig_path());
    let (locked_url, locked_token) = server_and_token(&locked.add_user("nobody", &[]).unwrap());
    let config = kubeconfig(&[
        ("healthy", healthy_url, healthy_token),
        ("dead", dead_url.clone(), "t".into()),
        ("demo", demo_url, demo_token),
        ("locked", locked_url, locked_token),
    ]);

    let budget = Duration::from_secs(6);
    let fleet = Fleet::from_kubeconfig(&config, &[]).unwrap().concurrency(4).budget_per_cluster(budget);
    let started = Instant::now();
    let report = fleet.run(&Checklist::daily()).await;
    let took = started.elapsed();

    let names: Vec<&str> = report.rows.iter().map(|r| r.cluster.as_str()).collect();
    assert_eq!(names, ["healthy", "dead", "demo", "locked"]);
    // All four at once: the whole run is bounded by one cluster's budget (plus scheduling slack).
    assert!(took < budget + Duration::from_secs(3), "the fleet took {took:?} with a budget of {budget:?} per cluster");

    let dead = &report.rows[1];
    assert_eq!(dead.server, dead_url);
    assert_eq!(dead.status, Status::Fail);
    assert!(
        matches!(&dead.outcome, ClusterOutcome::Unreachable { message } if message.contains("GET /version")),
        "{dead:?}"
    );
    assert!(dead.worst[0].summary.starts_with("did not answer"), "{:?}", dead.worst);
    assert!(dead.report.is_none());

    let healthy = &report.rows[0];
    assert_eq!(healthy.outcome, ClusterOutcome::Checked);
    assert_eq!(healthy.fail, 0, "{:#?}", healthy.report);

    let demo = &report.rows[2];
    assert_eq!(demo.status, Status::Fail);
    assert!(demo.worst.iter().any(|w| w.check == "nodes" && w.status == Status::Fail), "{:?}", demo.worst);
    assert!(demo.worst.len() <= 3);

    // A user who may read nothing: the cluster answered, each check says it was forbidden.
    let locked = &report.rows[3];
    assert_eq!(locked.outcome, ClusterOutcome::Checked);
    let checks = &locked.report.as_ref().unwrap().results;
    assert!(checks.iter().any(|c| matches!(c.outcome, Outcome::Forbidden { .. })), "{checks:#?}");
    assert!(checks.iter().all(|c| c.status != Status::Pass || c.outcome.ran()));

    // Markdown: one row per cluster, whatever the findings' text holds.
    let md = report.to_markdown();
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| cluster ")).collect();
    assert_eq!(rows.len(), 4, "{md}");
    for row in rows {
        assert_eq!(row.split(" | ").count(), 7, "a cell leaked a pipe: {row}");
    }

    let table = report.to_string();
    assert!(table.contains("did not answer"), "{table}");
    for name in ["healthy", "dead", "demo", "locked"] {
        assert!(table.contains(name), "{table}");
    }
    let back: k8sops::fleet::FleetReport = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(back, report);
}

#[tokio::test]
async fn contexts_are_checked_in_the_order_asked_and_an_unknown_one_is_refused_before_any_call() {
    let server = TestServer::start().await.unwrap();
    let (url, token) = server_and_token(server.kubeconfig_path());
    let config = kubeconfig(&[("a", url.clone(), token.clone()), ("b", url, token)]);
    let fleet = Fleet::from_kubeconfig(&config, &["b".into(), "a".into()]).unwrap();
    assert_eq!(fleet.names().collect::<Vec<_>>(), ["b", "a"]);
    server.clear_requests();
    let err = Fleet::from_kubeconfig(&config, &["a".into(), "prod".into()]).unwrap_err();
    assert!(err.to_string().contains("\"prod\"") && err.to_string().contains("a, b"), "{err}");
    assert!(server.requests().is_empty(), "nothing is contacted for bad input");
}

#[tokio::test]
async fn a_cancelled_fleet_run_reports_every_cluster_as_cancelled() {
    let server = TestServer::start().await.unwrap();
    let cancel = k8sops::CancellationToken::new();
    cancel.cancel();
    let fleet = Fleet::new().cluster("a", server.cluster()).cluster("b", server.cluster());
    let report = fleet.run_with(&Checklist::daily(), &k8sops::NoProgress, &cancel).await;
    assert!(report.rows.iter().all(|r| r.outcome == ClusterOutcome::Cancelled && r.status == Status::Fail));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_cut_short_by_its_budget_keeps_the_checks_that_finished() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    // Event lists hang far past the budget; everything else answers.
    server.add_fault(k8sops_testkit::Fault::on("GET", "events").delay(Duration::from_secs(60)));
    let budget = Duration::from_secs(3);
    let started = Instant::now();
    let report =
        Fleet::new().cluster("slow", server.cluster()).budget_per_cluster(budget).run(&Checklist::daily()).await;
    assert!(started.elapsed() < budget + Duration::from_secs(3), "took {:?}", started.elapsed());
    let row = &report.rows[0];
    assert_eq!(row.outcome, ClusterOutcome::TimedOut { budget_ms: 3000 });
    assert_eq!(row.worst[0].check, "cluster");
    let partial = row.report.as_ref().expect("the checks that finished are kept");
    assert!(partial.result("nodes").unwrap().outcome.ran(), "{partial:#?}");
    let events = partial.result("events").unwrap();
    assert!(!events.outcome.ran(), "{events:#?}");
    assert_eq!(row.status, Status::Fail, "the demo's NotReady node still fails the row");
}

/// A context whose credential plugin does not return (a login prompt
/// nobody answers) costs its own budget, not the other clusters' nor the
/// run's: the plugin runs on a blocking thread. Its context name holds a
/// `|`, which the Markdown table must escape.
#[test]
fn a_credential_plugin_that_hangs_holds_neither_the_other_clusters_nor_the_budget() {
    // Its own runtime, shut down without waiting for the plugin's thread
    // (a runtime dropped normally waits for blocking threads).
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let healthy = TestServer::start().await.unwrap();
        let (healthy_url, healthy_token) = server_and_token(healthy.kubeconfig_path());
        let doc = json!({"apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "healthy", "cluster": {"server": healthy_url}},
                         {"name": "login", "cluster": {"server": "https://127.0.0.1:1"}}],
            "users": [{"name": "healthy", "user": {"token": healthy_token}},
                      {"name": "login", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                          "command": "sleep", "args": ["30"]}}}],
            "contexts": [{"name": "login|sso", "context": {"cluster": "login", "user": "login"}},
                         {"name": "healthy", "context": {"cluster": "healthy", "user": "healthy"}}],
            "current-context": "healthy"});
        let config = Kubeconfig::from_yaml(&serde_json::to_string(&doc).unwrap()).unwrap();
        let budget = Duration::from_secs(6);
        let fleet = Fleet::from_kubeconfig(&config, &[]).unwrap().concurrency(2).budget_per_cluster(budget);
        let started = Instant::now();
        let report = fleet.run(&Checklist::daily()).await;
        let took = started.elapsed();
        // The budget, the 5 s a cut-short cluster gets to hand over, and slack; the plugin alone takes 30 s.
        assert!(took < budget + Duration::from_secs(8), "the fleet waited for the plugin: {took:?}");
        let login = report.rows.iter().find(|r| r.cluster == "login|sso").unwrap();
        assert!(matches!(login.outcome, ClusterOutcome::TimedOut { .. }), "{report}");
        let healthy_row = report.rows.iter().find(|r| r.cluster == "healthy").unwrap();
        assert!(matches!(healthy_row.outcome, ClusterOutcome::Checked), "{report}");
        let md = report.to_markdown();
        assert!(md.contains("| login\\|sso | "), "{md}");
        for row in md.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| cluster ")) {
            assert_eq!(row.split(" | ").count(), 7, "{row}");
        }
    });
    runtime.shutdown_background();
}
