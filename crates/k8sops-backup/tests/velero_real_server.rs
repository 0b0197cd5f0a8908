//! The Velero client against the real API server (`K8SOPS_E2E_KUBECONFIG`,
//! v1.24) with Velero's own CRDs installed (tests/data/velero-crds.yaml,
//! applied idempotently with kubectl). Their structural schemas make the
//! server prune every field Velero does not define and check the types of
//! the others, so what `kubectl get ... -o json` shows is what Velero's
//! server would read.
//!
//! The oracle for the objects is the `velero` CLI: each test states the
//! object `velero backup create` / `restore create` / `schedule create`
//! writes for the same flags (Velero's `pkg/cmd/cli/*/create.go` at the
//! commit the CRDs come from: `BuildBackup`, the restore and schedule
//! `Run`), and the stored object must carry the same fields with the same
//! values. The only fields the CLI writes that k8sops leaves out are Go
//! zero values Velero's server treats as unset (`hooks: {}`, `metadata:
//! {}`, `csiSnapshotTimeout: 0s`, ...). Phases are driven with `kubectl
//! patch`, as Velero's server writes them (through the main resource).
//!
//! Each test uses a fresh namespace as Velero's namespace.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use k8sops_backup::{
    velero::{BackupParams, BackupPhase, GetParams, RestoreParams, ScheduleParams, Velero, VeleroEvent, WaitParams},
    Error,
};
use k8sops_testkit::e2e::{self, RealServer};
use serde_json::{json, Value};
use tokio::sync::{mpsc, OnceCell};

const CRDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/velero-crds.yaml");

/// Applies Velero's CRDs once per test run and waits until they are served.
async fn install_crds(real: &RealServer) {
    static INSTALLED: OnceCell<()> = OnceCell::const_new();
    INSTALLED
        .get_or_init(|| async {
            real.kubectl_ok(&["apply", "-f", CRDS]).await;
            real.kubectl_ok(&[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                "crd/backups.velero.io",
                "crd/restores.velero.io",
                "crd/schedules.velero.io",
                "crd/backupstoragelocations.velero.io",
            ])
            .await;
        })
        .await;
}

/// The real server with Velero's CRDs, and a Velero handle on a fresh namespace.
async fn real_velero(prefix: &str) -> Option<(RealServer, Velero, String)> {
    let real = e2e::real_oracle().await?;
    install_crds(&real).await;
    let ns = e2e::fresh_namespace(&real.cluster, prefix).await;
    let velero = Velero::new(&real.cluster).in_namespace(&ns);
    Some((real, velero, ns))
}

async fn stored(real: &RealServer, resource: &str, ns: &str, name: &str) -> Value {
    let out = real.kubectl_ok(&["get", resource, "-n", ns, name, "-o", "json"]).await;
    serde_json::from_str(&out).expect("kubectl -o json")
}

/// A Go zero value the velero CLI writes and its server reads as unset.
fn go_zero(v: &Value) -> bool {
    matches!(v, Value::Object(m) if m.is_empty()) || v == "0s"
}

/// `ours` (what the server stored) carries every field of `cli` (what the
/// velero CLI writes) with the same value, except Go zero values, and no
/// field the CLI does not write.
fn assert_as_cli_writes(ours: &Value, cli: &Value, path: &str) {
    match (ours, cli) {
        (Value::Object(o), Value::Object(c)) => {
            for (k, cv) in c {
                match o.get(k) {
                    Some(ov) => assert_as_cli_writes(ov, cv, &format!("{path}.{k}")),
                    None => assert!(go_zero(cv), "{path}.{k}: the velero CLI writes {cv}, k8sops wrote nothing"),
                }
            }
            if let Some(k) = o.keys().find(|k| !c.contains_key(*k)) {
                panic!("{path}.{k}: k8sops wrote {}, the velero CLI writes nothing", o[k]);
            }
        }
        _ => assert_eq!(ours, cli, "{path}"),
    }
}

async fn patch_status(real: &RealServer, ns: &str, resource: &str, name: &str, status: Value) {
    let patch = json!({ "status": status }).to_string();
    real.kubectl_ok(&["patch", resource, name, "-n", ns, "--type", "merge", "-p", &patch]).await;
}

#[tokio::test]
async fn a_backup_is_stored_as_velero_backup_create_writes_it() {
    let Some((real, velero, ns)) = real_velero("velero-create").await else { return };
    // velero backup create nightly --include-namespaces shop,payments --ttl 720h --labels team=web,tier=gold -n NS
    let params = BackupParams::default()
        .include_namespaces(["shop", "payments"])
        .ttl(e2e_duration("720h"))
        .label("team", "web")
        .label("tier", "gold");
    velero.create_backup("nightly", &params).await.unwrap();
    let got = stored(&real, "backups.velero.io", &ns, "nightly").await;
    assert_eq!(got["apiVersion"], "velero.io/v1");
    assert_eq!(got["metadata"]["labels"], json!({"team": "web", "tier": "gold"}));
    assert_as_cli_writes(
        &got["spec"],
        &json!({
            "metadata": {},
            "includedNamespaces": ["shop", "payments"],
            "ttl": "720h0m0s",
            "hooks": {},
            "csiSnapshotTimeout": "0s",
            "itemOperationTimeout": "0s"
        }),
        "spec",
    );
    assert!(got.get("status").is_none_or(go_zero), "no status until Velero writes one: {got}");

    // velero backup create everything --selector 'app=shop,tier notin (cache)' --snapshot-volumes=false --include-cluster-resources=true -n NS
    let params = BackupParams::default()
        .selector("app=shop,tier notin (cache)".parse().unwrap())
        .snapshot_volumes(false)
        .include_cluster_resources(true);
    velero.create_backup("everything", &params).await.unwrap();
    let got = stored(&real, "backups.velero.io", &ns, "everything").await;
    assert_as_cli_writes(
        &got["spec"],
        &json!({
            "metadata": {},
            "includedNamespaces": ["*"],
            "labelSelector": {
                "matchLabels": {"app": "shop"},
                "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["cache"]}]
            },
            "snapshotVolumes": false,
            "ttl": "0s",
            "includeClusterResources": true,
            "hooks": {},
            "csiSnapshotTimeout": "0s",
            "itemOperationTimeout": "0s"
        }),
        "spec",
    );
}

/// A duration as `--ttl` takes it (Go syntax).
fn e2e_duration(s: &str) -> Duration {
    k8sops_backup::velero::go_duration::parse(s).unwrap()
}

#[tokio::test]
async fn waiting_follows_the_phases_velero_writes_until_completed() {
    let Some((real, velero, ns)) = real_velero("velero-wait").await else { return };
    velero.create_backup("nightly", &BackupParams::default().include_namespaces(["shop"])).await.unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let sink = {
        let events = events.clone();
        Arc::new(move |e: VeleroEvent| {
            events.lock().unwrap().push(e.clone());
            let _ = seen_tx.send(e);
        })
    };
    let waiter = {
        let velero = velero.clone();
        tokio::spawn(async move { velero.wait_for_backup("nightly", &WaitParams::default().progress(sink)).await })
    };
    // The client has read the backup once it reports its phase; every change from now on reaches it.
    let first = seen.recv().await.unwrap();
    assert_eq!(first, VeleroEvent::BackupPhase { name: "nightly".into(), phase: BackupPhase::New });
    let backups = "backups.velero.io";
    let start = json!({"phase": "InProgress", "startTimestamp": "2026-01-01T00:00:00Z", "progress": {"totalItems": 5, "itemsBackedUp": 2}});
    patch_status(&real, &ns, backups, "nightly", start).await;
    let done = json!({"phase": "Completed", "progress": {"totalItems": 5, "itemsBackedUp": 5},
        "completionTimestamp": "2026-01-01T00:02:00Z", "expiration": "2026-01-31T00:00:00Z"});
    patch_status(&real, &ns, backups, "nightly", done).await;

    let backup = waiter.await.unwrap().unwrap();
    assert_eq!(backup.phase(), BackupPhase::Completed);
    assert_eq!(backup.expires().map(|t| t.to_string()).as_deref(), Some("2026-01-31T00:00:00Z"));
    let phase = |phase| VeleroEvent::BackupPhase { name: "nightly".into(), phase };
    let progress =
        |done, total| VeleroEvent::BackupProgress { name: "nightly".into(), items_backed_up: done, total_items: total };
    assert_eq!(
        *events.lock().unwrap(),
        [
            phase(BackupPhase::New),
            phase(BackupPhase::InProgress),
            progress(2, 5),
            phase(BackupPhase::Completed),
            progress(5, 5)
        ]
    );

    // A partially failed backup is a result: the report is the truth.
    velero.create_backup("partial", &BackupParams::default()).await.unwrap();
    let failed = json!({"phase": "PartiallyFailed", "errors": 3, "warnings": 2, "progress": {"totalItems": 5, "itemsBackedUp": 4}});
    patch_status(&real, &ns, backups, "partial", failed).await;
    let backup = velero.wait_for_backup("partial", &WaitParams::default()).await.unwrap();
    assert_eq!(backup.phase(), BackupPhase::PartiallyFailed);
    let err = backup.ensure_completed().unwrap_err().to_string();
    assert!(err.contains("finished PartiallyFailed: 3 errors, 2 warnings"), "{err}");

    let listed = velero.list_backups(&GetParams::default()).await.unwrap();
    let ours: Vec<String> = listed.items.iter().map(|b| format!("backup.velero.io/{}", b.name())).collect();
    let kubectl = real.kubectl_ok(&["get", backups, "-n", &ns, "-o", "name"]).await;
    let mut theirs: Vec<&str> = kubectl.lines().collect();
    theirs.sort();
    assert_eq!(ours, theirs);
    let table = listed.to_string();
    let row = table.lines().find(|l| l.starts_with("partial ")).unwrap_or_default();
    assert_eq!(row.split_whitespace().take(4).collect::<Vec<_>>(), ["partial", "PartiallyFailed", "3", "2"], "{table}");
}

#[tokio::test]
async fn a_timeout_leaves_the_backup_running_in_the_cluster() {
    let Some((real, velero, ns)) = real_velero("velero-timeout").await else { return };
    velero.create_backup("slow", &BackupParams::default()).await.unwrap();
    let running = json!({"phase": "InProgress", "progress": {"totalItems": 10, "itemsBackedUp": 1}});
    patch_status(&real, &ns, "backups.velero.io", "slow", running).await;
    let params = WaitParams::default().timeout(Duration::from_secs(1));
    let err = velero.wait_for_backup("slow", &params).await.unwrap_err();
    let Error::Core(k8sops_core::Error::Timeout { during, .. }) = &err else { panic!("{err}") };
    assert!(during.contains("phase InProgress, 1/10 items backed up") && during.contains("left running"), "{during}");
    let still = stored(&real, "backups.velero.io", &ns, "slow").await;
    assert_eq!(still["status"]["phase"], "InProgress");
}

#[tokio::test]
async fn a_restore_is_stored_as_velero_restore_create_writes_it() {
    let Some((real, velero, ns)) = real_velero("velero-restore").await else { return };
    velero.create_backup("nightly", &BackupParams::default()).await.unwrap();
    patch_status(&real, &ns, "backups.velero.io", "nightly", json!({"phase": "Completed"})).await;
    // velero restore create shop-copy --from-backup nightly --namespace-mappings shop:shop-copy,web:web-copy -n NS
    let params =
        RestoreParams::from_backup("nightly").map_namespace("shop", "shop-copy").map_namespace("web", "web-copy");
    velero.create_restore("shop-copy", &params).await.unwrap();
    let got = stored(&real, "restores.velero.io", &ns, "shop-copy").await;
    assert_as_cli_writes(
        &got["spec"],
        &json!({
            "backupName": "nightly",
            "includedNamespaces": ["*"],
            "namespaceMapping": {"shop": "shop-copy", "web": "web-copy"},
            "hooks": {},
            "itemOperationTimeout": "0s",
            "uploaderConfig": {}
        }),
        "spec",
    );
    // The CLI refuses a restore from a backup that does not exist; so does k8sops, creating nothing.
    let err = velero.create_restore("other", &RestoreParams::from_backup("ghost")).await.unwrap_err();
    assert!(matches!(&err, Error::Core(e) if e.is_not_found()), "{err}");
    let names = real.kubectl_ok(&["get", "restores.velero.io", "-n", &ns, "-o", "name"]).await;
    assert_eq!(names.trim(), "restore.velero.io/shop-copy");
}

#[tokio::test]
async fn a_schedule_is_stored_as_velero_schedule_create_writes_it() {
    let Some((real, velero, ns)) = real_velero("velero-schedule").await else { return };
    // velero schedule create shop-daily --schedule "0 7 * * *" --include-namespaces shop --ttl 168h --labels team=web -n NS
    let template = BackupParams::default().include_namespaces(["shop"]).ttl(e2e_duration("168h")).label("team", "web");
    velero.create_schedule("shop-daily", &ScheduleParams::new("0 7 * * *").template(template)).await.unwrap();
    let got = stored(&real, "schedules.velero.io", &ns, "shop-daily").await;
    assert_eq!(got["metadata"]["labels"], json!({"team": "web"}));
    assert_as_cli_writes(
        &got["spec"],
        &json!({
            "template": {
                "metadata": {},
                "includedNamespaces": ["shop"],
                "ttl": "168h0m0s",
                "hooks": {},
                "csiSnapshotTimeout": "0s",
                "itemOperationTimeout": "0s"
            },
            "schedule": "0 7 * * *",
            "useOwnerReferencesInBackup": false
        }),
        "spec",
    );
    let listed = velero.list_schedules(&GetParams::default()).await.unwrap();
    assert_eq!(listed.items.iter().map(|s| s.name()).collect::<Vec<_>>(), ["shop-daily"]);
}

#[tokio::test]
async fn a_user_without_rights_is_forbidden_which_is_not_velero_missing() {
    let Some((real, velero, _ns)) = real_velero("velero-rbac").await else { return };
    // The admin sees Velero; a user with no RBAC grants may discover it but not list backups.
    velero.check_installed().await.unwrap();
    let user_kubeconfig = std::env::var_os("K8SOPS_E2E_USER_KUBECONFIG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| real.kubeconfig.with_file_name("user.kubeconfig"));
    if !user_kubeconfig.exists() {
        e2e::skip_or_fail(&format!("{} does not exist (../shared/k8s/start.sh writes it)", user_kubeconfig.display()));
        return;
    }
    let user = k8sops_core::Cluster::from_kubeconfig(&user_kubeconfig, None).await.unwrap();
    let as_user = Velero::new(&user).in_namespace(velero.namespace());
    let err = as_user.list_backups(&GetParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::Forbidden { .. })), "{err}");
}
