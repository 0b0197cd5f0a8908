//! The Velero client against the testkit, which serves Velero's own CRDs
//! (tests/data/velero-crds.yaml). The test plays the Velero server
//! ([`k8sops_testkit::velero::FakeVelero`], shared with the example's
//! tests): a task
//! watches Backup and Restore objects and moves their status through
//! `InProgress` with `status.progress` to the outcome a label asks for,
//! writing the status through the main resource as Velero does (its CRDs
//! have no status subresource). The fake only starts on an object once the
//! client has reported its first event, so every step it writes is one
//! the client must see.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use k8s_openapi::{
    api::core::v1::Namespace, apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use k8sops_backup::{
    velero::{
        BackupParams, BackupPhase, GetParams, RestoreParams, RestorePhase, ScheduleParams, Velero, VeleroEvent,
        WaitParams,
    },
    Error,
};
use k8sops_core::{CancellationToken, ProgressSink, RetryPolicy};
use k8sops_testkit::{
    velero::{self, OUTCOME_LABEL as OUTCOME},
    Fault, TestServer,
};
use kube::{
    api::{DynamicObject, PostParams},
    Api,
};
use serde::Deserialize;
use serde_json::json;

const NS: &str = "velero";

async fn install_velero_crds(server: &TestServer) {
    let crds: Api<CustomResourceDefinition> = Api::all(server.client());
    for doc in serde_norway::Deserializer::from_str(include_str!("data/velero-crds.yaml")) {
        let crd = CustomResourceDefinition::deserialize(doc).expect("a CRD");
        crds.create(&PostParams::default(), &crd).await.expect("create the CRD");
    }
}

async fn create_namespace(server: &TestServer, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(server.client()).create(&PostParams::default(), &ns).await.unwrap();
}

/// A testkit with Velero's CRDs and its namespace.
async fn cluster_with_velero() -> (TestServer, Velero) {
    let server = TestServer::start().await.unwrap();
    install_velero_crds(&server).await;
    create_namespace(&server, NS).await;
    let velero = Velero::new(&server.cluster());
    (server, velero)
}

fn raw_api(server: &TestServer, plural: &str, kind: &str) -> Api<DynamicObject> {
    velero::api(server, NS, plural, kind)
}

/// Plays Velero's backup and restore controllers in [`NS`].
struct FakeVelero(velero::FakeVelero);

impl FakeVelero {
    /// Starts the controllers; objects wait for the gate to open unless `open`.
    fn start(server: &TestServer, open: bool) -> Self {
        FakeVelero(velero::FakeVelero::start(server, NS, open))
    }

    /// Holds objects created from now on until the gate opens again.
    fn close(&self) {
        self.0.close();
    }

    /// A progress sink that records the client's events and opens the gate at the first one.
    fn opening_sink(&self, events: Arc<Mutex<Vec<VeleroEvent>>>) -> Arc<dyn ProgressSink<VeleroEvent>> {
        let gate = self.0.gate();
        Arc::new(move |e: VeleroEvent| {
            events.lock().unwrap().push(e);
            gate.send_replace(true);
        })
    }
}

/// The cells of line `n` of a table (columns are three or more spaces apart).
fn cells(table: &str, n: usize) -> Vec<String> {
    let line = table.lines().nth(n).unwrap_or_default();
    line.split("   ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect()
}

fn recorder() -> Arc<Mutex<Vec<VeleroEvent>>> {
    Arc::new(Mutex::new(Vec::new()))
}

fn backup_phase(name: &str, phase: BackupPhase) -> VeleroEvent {
    VeleroEvent::BackupPhase { name: name.into(), phase }
}

fn backup_progress(name: &str, done: i64, total: i64) -> VeleroEvent {
    VeleroEvent::BackupProgress { name: name.into(), items_backed_up: done, total_items: total }
}

#[tokio::test]
async fn waiting_for_a_backup_reports_every_phase_and_progress_step_until_completed() {
    let (server, velero) = cluster_with_velero().await;
    let fake = FakeVelero::start(&server, false);
    let params = BackupParams::default()
        .include_namespaces(["shop", "payments"])
        .ttl(Duration::from_secs(720 * 3600))
        .label(OUTCOME, "Completed");
    let created = velero.create_backup("nightly", &params).await.unwrap();
    assert_eq!(created.phase(), BackupPhase::New);

    let events = recorder();
    let wait = WaitParams::default().progress(fake.opening_sink(events.clone()));
    let done = velero.wait_for_backup("nightly", &wait).await.unwrap();

    assert_eq!(done.phase(), BackupPhase::Completed);
    assert!(done.ensure_completed().is_ok());
    assert_eq!(done.progress().map(|p| (p.items_backed_up, p.total_items)), Some((3, 3)));
    assert_eq!(
        *events.lock().unwrap(),
        [
            backup_phase("nightly", BackupPhase::New),
            backup_phase("nightly", BackupPhase::InProgress),
            backup_progress("nightly", 0, 3),
            backup_progress("nightly", 1, 3),
            backup_progress("nightly", 2, 3),
            backup_progress("nightly", 3, 3),
            backup_phase("nightly", BackupPhase::Completed),
        ]
    );
}

#[tokio::test]
async fn partially_failed_failed_and_invalid_backups_are_results_with_their_reasons() {
    let (server, velero) = cluster_with_velero().await;
    let fake = FakeVelero::start(&server, false);
    for (name, outcome, phase, says) in [
        ("partial", "PartiallyFailed", BackupPhase::PartiallyFailed, "2 errors, 1 warning"),
        ("broken", "Failed", BackupPhase::Failed, "failure reason: unable to reach the backup storage location"),
        ("invalid", "FailedValidation", BackupPhase::FailedValidation, "Invalid included/excluded namespace lists"),
    ] {
        fake.close();
        velero.create_backup(name, &BackupParams::default().label(OUTCOME, outcome)).await.unwrap();
        let events = recorder();
        let wait = WaitParams::default().progress(fake.opening_sink(events.clone()));
        let backup = velero.wait_for_backup(name, &wait).await.expect("an outcome, not an error");
        assert_eq!(backup.phase(), phase, "{name}");
        assert_eq!(events.lock().unwrap().last(), Some(&backup_phase(name, phase.clone())), "{name}");
        let err = backup.ensure_completed().unwrap_err();
        assert!(matches!(err, Error::VeleroNotCompleted { kind: "backup", .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains(&format!("velero/{name} finished {phase}")) && text.contains(says), "{text}");
        assert!(text.contains(&format!("velero backup logs {name}")), "{text}");
    }
}

#[tokio::test]
async fn a_timeout_stops_waiting_and_leaves_the_backup_running() {
    let (server, velero) = cluster_with_velero().await;
    let _fake = FakeVelero::start(&server, true);
    velero.create_backup("slow", &BackupParams::default().label(OUTCOME, "Stall")).await.unwrap();
    let events = recorder();
    let sink = events.clone();
    let wait = WaitParams::default()
        .timeout(Duration::from_millis(800))
        .progress(Arc::new(move |e: VeleroEvent| sink.lock().unwrap().push(e)));
    let err = velero.wait_for_backup("slow", &wait).await.unwrap_err();
    let Error::Core(k8sops_core::Error::Timeout { during, after }) = &err else { panic!("{err}") };
    assert_eq!(*after, Duration::from_millis(800));
    assert!(during.contains("velero/slow") && during.contains("left running in the cluster"), "{during}");
    assert!(!events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, VeleroEvent::BackupPhase { phase, .. } if phase.is_finished())));
    let still = velero.get_backup("slow").await.expect("the backup is still there");
    assert!(!still.phase().is_finished());
}

#[tokio::test]
async fn a_cancel_stops_waiting_without_deleting_the_backup() {
    let (server, velero) = cluster_with_velero().await;
    let fake = FakeVelero::start(&server, false);
    velero.create_backup("weekly", &BackupParams::default().label(OUTCOME, "Stall")).await.unwrap();
    let cancel = CancellationToken::new();
    let (gate, on_progress) = (fake.0.gate(), cancel.clone());
    // Opens the fake server at the first event and cancels once 1 of 3 items is reported.
    let sink = Arc::new(move |e: VeleroEvent| {
        gate.send_replace(true);
        if e == backup_progress("weekly", 1, 3) {
            on_progress.cancel();
        }
    });
    let wait = WaitParams::default().progress(sink).cancel(cancel);
    let err = velero.wait_for_backup("weekly", &wait).await.unwrap_err();
    let Error::Core(k8sops_core::Error::Cancelled { during }) = &err else { panic!("{err}") };
    assert!(during.contains("1/3 items backed up") && during.contains("left in the cluster"), "{during}");
    let still = velero.get_backup("weekly").await.expect("not deleted");
    assert_eq!(still.phase(), BackupPhase::InProgress);
}

#[tokio::test]
async fn waiting_for_a_backup_that_does_not_exist_is_not_found() {
    let (_server, velero) = cluster_with_velero().await;
    let err = velero.wait_for_backup("ghost", &WaitParams::default()).await.unwrap_err();
    assert!(matches!(&err, Error::Core(e) if e.is_not_found()), "{err}");
    assert!(err.to_string().contains("backup velero/ghost"), "{err}");
}

#[tokio::test]
async fn a_backup_deleted_while_waiting_ends_the_wait_with_not_found() {
    let (server, velero) = cluster_with_velero().await;
    velero.create_backup("doomed", &BackupParams::default()).await.unwrap();
    let api = raw_api(&server, "backups", "Backup");
    let sink = Arc::new(move |_: VeleroEvent| {
        let api = api.clone();
        tokio::spawn(async move { api.delete("doomed", &Default::default()).await.expect("delete") });
    });
    let err = velero.wait_for_backup("doomed", &WaitParams::default().progress(sink)).await.unwrap_err();
    assert!(err.to_string().contains("deleted while waiting"), "{err}");
}

#[tokio::test]
async fn backups_are_listed_in_velero_order_and_filtered_by_label() {
    let (server, velero) = cluster_with_velero().await;
    let _fake = FakeVelero::start(&server, true);
    for (name, team) in [("daily-20260102070000", "web"), ("adhoc", "db"), ("daily-20260103070000", "web")] {
        velero.create_backup(name, &BackupParams::default().label("team", team)).await.unwrap();
    }
    let all = velero.list_backups(&GetParams::default()).await.unwrap();
    let names: Vec<&str> = all.items.iter().map(|b| b.name()).collect();
    assert_eq!(names, ["adhoc", "daily-20260103070000", "daily-20260102070000"]);
    let table = all.to_string();
    assert!(
        table.starts_with("NAME ")
            && table.lines().next().unwrap().contains("STORAGE LOCATION   QUEUE POSITION   SELECTOR"),
        "{table}"
    );
    let web = velero.list_backups(&GetParams::default().selector("team=web".parse().unwrap())).await.unwrap();
    assert_eq!(web.items.len(), 2);
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_created() {
    let (server, velero) = cluster_with_velero().await;
    let bad = [
        velero.create_backup("Nightly", &BackupParams::default()).await,
        velero.create_backup("nightly", &BackupParams::default().include_namespaces(["*", "shop"])).await,
        velero.create_backup("nightly", &BackupParams::default().exclude_namespaces(["*"])).await,
        velero.create_backup("nightly", &BackupParams::default().label("a b", "c")).await,
        velero.create_backup("nightly", &BackupParams::default().storage_location("secondary")).await,
    ];
    for result in bad {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Core(k8sops_core::Error::InvalidInput { .. })), "{err}");
    }
    let bad_cron = velero.create_schedule("daily", &ScheduleParams::new("0 7 * *")).await.unwrap_err();
    assert!(bad_cron.to_string().contains("5 fields"), "{bad_cron}");
    assert_eq!(server.count("velero.io", "backups"), 0);
    assert_eq!(server.count("velero.io", "schedules"), 0);
}

#[tokio::test]
async fn a_named_storage_location_must_exist() {
    let (server, velero) = cluster_with_velero().await;
    let params = BackupParams::default().storage_location("secondary");
    let err = velero.create_backup("offsite", &params).await.unwrap_err();
    assert!(err.to_string().contains("\"secondary\" does not exist"), "{err}");
    let bsl = json!({"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
        "metadata": {"name": "secondary", "namespace": NS},
        "spec": {"provider": "aws", "objectStorage": {"bucket": "backups"}}});
    server.insert(&bsl).unwrap();
    let created = velero.create_backup("offsite", &params).await.unwrap();
    assert_eq!(created.spec.storage_location.as_deref(), Some("secondary"));
}

#[tokio::test]
async fn velero_installed_in_another_namespace_is_named_when_its_namespace_is_missing() {
    let (_server, velero) = cluster_with_velero().await;
    let elsewhere = velero.clone().in_namespace("backup-system");
    let err = elsewhere.create_backup("nightly", &BackupParams::default()).await.unwrap_err();
    assert!(matches!(&err, Error::Core(e) if e.is_not_found()), "{err}");
    assert!(err.to_string().contains("namespace \"backup-system\""), "{err}");
}

#[tokio::test]
async fn a_restore_maps_namespaces_and_is_followed_to_completion() {
    let (server, velero) = cluster_with_velero().await;
    let fake = FakeVelero::start(&server, true);
    velero.create_backup("nightly", &BackupParams::default().include_namespaces(["shop"])).await.unwrap();
    velero.wait_for_backup("nightly", &WaitParams::default()).await.unwrap().ensure_completed().unwrap();

    fake.close();
    let params = RestoreParams::from_backup("nightly").map_namespace("shop", "shop-copy").label(OUTCOME, "Completed");
    velero.create_restore("shop-copy", &params).await.unwrap();
    // What the server stores, read without the client's types.
    let stored = raw_api(&server, "restores", "Restore").get("shop-copy").await.unwrap();
    assert_eq!(stored.data["spec"]["backupName"], "nightly");
    assert_eq!(stored.data["spec"]["namespaceMapping"], json!({"shop": "shop-copy"}));
    assert_eq!(stored.data["spec"]["includedNamespaces"], json!(["*"]));

    let events = recorder();
    let wait = WaitParams::default().progress(fake.opening_sink(events.clone()));
    let restore = velero.wait_for_restore("shop-copy", &wait).await.unwrap();
    assert_eq!(restore.phase(), RestorePhase::Completed);
    let events = events.lock().unwrap().clone();
    assert!(events.contains(&VeleroEvent::RestoreProgress {
        name: "shop-copy".into(),
        items_restored: 3,
        total_items: 3
    }));
    assert_eq!(
        events.last(),
        Some(&VeleroEvent::RestorePhase { name: "shop-copy".into(), phase: RestorePhase::Completed })
    );

    let listed = velero.list_restores(&GetParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let row = cells(&listed.to_string(), 1);
    assert_eq!(row[..3], ["shop-copy", "nightly", "Completed"], "{listed}");
}

#[tokio::test]
async fn a_restore_from_a_missing_backup_is_refused_and_nothing_is_created() {
    let (server, velero) = cluster_with_velero().await;
    let err = velero.create_restore("r1", &RestoreParams::from_backup("ghost")).await.unwrap_err();
    assert!(matches!(&err, Error::Core(e) if e.is_not_found()), "{err}");
    assert!(err.to_string().contains("backup velero/ghost (the restore's source)"), "{err}");
    let from_schedule = velero.create_restore("r2", &RestoreParams::from_schedule("daily")).await.unwrap_err();
    assert!(from_schedule.to_string().contains("no backups found for schedule \"daily\""), "{from_schedule}");
    assert_eq!(server.count("velero.io", "restores"), 0);
}

#[tokio::test]
async fn schedules_are_created_with_their_backup_template_and_listed() {
    let (server, velero) = cluster_with_velero().await;
    let template =
        BackupParams::default().include_namespaces(["shop"]).ttl(Duration::from_secs(168 * 3600)).label("team", "web");
    velero.create_schedule("shop-daily", &ScheduleParams::new("0 7 * * *").template(template)).await.unwrap();
    let stored = raw_api(&server, "schedules", "Schedule").get("shop-daily").await.unwrap();
    assert_eq!(stored.data["spec"]["schedule"], "0 7 * * *");
    assert_eq!(stored.data["spec"]["template"]["ttl"], "168h0m0s");
    assert_eq!(stored.data["spec"]["template"]["includedNamespaces"], json!(["shop"]));
    assert_eq!(stored.metadata.labels, Some(BTreeMap::from([("team".to_string(), "web".to_string())])));

    let listed = velero.list_schedules(&GetParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let row = cells(&listed.to_string(), 1);
    assert_eq!(row[..2], ["shop-daily", "New"], "{listed}");
    assert_eq!(row[3..], ["0 7 * * *", "168h0m0s", "n/a", "<none>", "false"], "{listed}");
    let again = velero.create_schedule("shop-daily", &ScheduleParams::new("@daily")).await.unwrap_err();
    assert!(matches!(again, Error::Core(k8sops_core::Error::AlreadyExists { .. })), "{again}");
}

#[tokio::test]
async fn a_cluster_without_velero_says_so_for_every_call_and_nothing_is_created() {
    let server = TestServer::start().await.unwrap();
    create_namespace(&server, NS).await;
    let velero = Velero::new(&server.cluster());
    let results = [
        velero.check_installed().await.err(),
        velero.list_backups(&GetParams::default()).await.err(),
        velero.create_backup("nightly", &BackupParams::default()).await.err(),
        velero.wait_for_backup("nightly", &WaitParams::default()).await.err(),
        velero.get_backup("nightly").await.err(),
        velero.create_restore("r1", &RestoreParams::from_backup("nightly")).await.err(),
        velero.list_restores(&GetParams::default()).await.err(),
        velero.create_schedule("daily", &ScheduleParams::new("@daily")).await.err(),
        velero.list_schedules(&GetParams::default()).await.err(),
    ];
    for err in results {
        let err = err.expect("an error");
        assert!(matches!(err, Error::VeleroNotInstalled), "{err}");
        assert!(err.to_string().contains("Velero is not installed"), "{err}");
    }
}

#[tokio::test]
async fn a_user_without_rights_gets_forbidden_not_velero_missing() {
    let (server, _velero) = cluster_with_velero().await;
    let kubeconfig = server.add_user("intern", &[]).unwrap();
    let cluster = k8sops_core::Cluster::from_kubeconfig(&kubeconfig, None).await.unwrap();
    let err = Velero::new(&cluster).list_backups(&GetParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::Forbidden { .. })), "{err}");
}

#[tokio::test]
async fn a_broken_watch_is_reported_and_followed_again_until_the_backup_completes() {
    let (server, _) = cluster_with_velero().await;
    let server = Arc::new(server);
    let velero = Velero::new(&server.cluster_with_quick_retries(3));
    let fake = FakeVelero::start(&server, false);
    velero.create_backup("nightly", &BackupParams::default()).await.unwrap();
    let events = recorder();
    let (record, gate, faults) = (events.clone(), fake.0.gate(), Mutex::new(Some(server.clone())));
    // After the client's first read, its next request (the watch) fails once with 503.
    let sink = Arc::new(move |e: VeleroEvent| {
        if let Some(server) = faults.lock().unwrap().take() {
            server.add_fault(Fault::on("GET", "/apis/velero.io/v1/namespaces/velero/backups").status(503).times(1));
        }
        record.lock().unwrap().push(e);
        gate.send_replace(true);
    });
    let done = velero.wait_for_backup("nightly", &WaitParams::default().progress(sink)).await.unwrap();
    assert_eq!(done.phase(), BackupPhase::Completed);
    let events = events.lock().unwrap().clone();
    let reconnects: Vec<&VeleroEvent> =
        events.iter().filter(|e| matches!(e, VeleroEvent::Reconnecting { .. })).collect();
    assert_eq!(reconnects.len(), 1, "{events:?}");
    assert!(reconnects[0].to_string().contains("503"), "{}", reconnects[0]);
    assert_eq!(events.last(), Some(&backup_phase("nightly", BackupPhase::Completed)));
}

#[tokio::test]
async fn an_unreachable_server_is_unreachable_not_velero_missing() {
    let config = kube::Config::new("http://127.0.0.1:1".parse().unwrap());
    let cluster = k8sops_core::Cluster::from_config(config).unwrap().to_builder().retry(RetryPolicy::none()).build();
    let err = Velero::new(&cluster).check_installed().await.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::Unreachable { .. })), "{err}");
}
