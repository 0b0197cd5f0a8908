//! Runs the `velero_backup` example as a user would: on the demo cluster,
//! which has no Velero, every command says that Velero is not installed
//! and exits 1; a flag value that does not parse is a usage error (exit 2)
//! naming the flag, before any cluster is touched. On a testkit with
//! Velero's CRDs and a stand-in for Velero's server
//! ([`k8sops_testkit::velero::FakeVelero`]), every command runs to its end,
//! and kubectl reads back the objects it created.
//!
//! `cargo test` builds the examples of the package before it runs this.
//! Every run gets an empty HOME and no KUBECONFIG, so no developer's real
//! cluster is ever used.

mod support;

use std::path::Path;

use k8sops_testkit::{
    velero::{FakeVelero, OUTCOME_LABEL},
    TestServer,
};
use serde_json::{json, Value};
use support::run;

const NOT_INSTALLED: &str =
    "error: Velero is not installed in this cluster: the API server does not serve velero.io/v1";

#[test]
fn on_the_demo_cluster_every_command_says_velero_is_not_installed_and_exits_1() {
    for args in [
        &[
            "--demo",
            "create",
            "nightly",
            "--include-namespaces",
            "shop,payments",
            "--ttl",
            "720h",
            "--labels",
            "team=web",
            "--wait",
        ][..],
        &["--demo", "get"][..],
        &["--demo", "restore", "shop-copy", "--from-backup", "nightly", "--namespace-mappings", "shop:shop-copy"][..],
        &["--demo", "schedule", "shop-daily", "--schedule", "0 7 * * *"][..],
    ] {
        let r = run("velero_backup", args, &[]);
        assert_eq!(r.code, Some(1), "{args:?}: {r}");
        assert!(r.stderr.starts_with("--demo: starting the embedded demo cluster"), "{args:?}: {r}");
        assert!(r.stderr.lines().any(|l| l.starts_with(NOT_INSTALLED)), "{args:?}: {r}");
        assert!(!r.stdout.contains("submitted successfully"), "{args:?}: {r}");
    }
}

#[test]
fn flag_values_that_do_not_parse_are_usage_errors_naming_the_flag() {
    for (args, flag) in [
        (&["--demo", "create", "nightly", "--ttl", "30d"][..], "--ttl"),
        (&["--demo", "create", "nightly", "--ttl", "720"][..], "--ttl"),
        (&["--demo", "create", "nightly", "--labels", "team"][..], "--labels"),
        (&["--demo", "create", "nightly", "-l", "app in (x"][..], "--selector"),
        (&["--demo", "create", "nightly", "--wait", "--timeout", "soon"][..], "--timeout"),
        (
            &["--demo", "restore", "r1", "--from-backup", "b", "--namespace-mappings", "shop"][..],
            "--namespace-mappings",
        ),
        (
            &["--demo", "restore", "r1", "--from-backup", "b", "--existing-resource-policy", "merge"][..],
            "--existing-resource-policy",
        ),
        (&["--demo", "schedule", "daily", "--schedule", "0 7 * * *", "--ttl", "1w"][..], "--ttl"),
    ] {
        let r = run("velero_backup", args, &[]);
        assert_eq!(r.code, Some(2), "{args:?}: {r}");
        assert!(r.stderr.contains(flag), "{args:?}: {r}");
        assert!(!r.stderr.contains("demo cluster"), "{args:?} fails before connecting: {r}");
    }
}

#[test]
fn objects_velero_would_refuse_are_usage_errors_before_connecting() {
    for (args, says) in [
        (&["--demo", "create", "Nightly"][..], "RFC 1123"),
        (&["--demo", "create", "nightly", "--include-namespaces", "*,shop"][..], "'*' alone"),
        (&["--demo", "schedule", "daily", "--schedule", "0 7 * *"][..], "5 fields"),
        (
            &["--demo", "restore", "r1", "--from-backup", "b", "--namespace-mappings", "shop:Shop_2"][..],
            "namespace mapping",
        ),
    ] {
        let r = run("velero_backup", args, &[]);
        assert_eq!(r.code, Some(2), "{args:?}: {r}");
        assert!(r.stderr.contains(says), "{args:?}: {r}");
        assert!(!r.stderr.contains("demo cluster"), "{args:?} fails before connecting: {r}");
    }
}

/// Velero's own CRDs, as the backup crate's tests install them.
const CRDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/k8sops-backup/tests/data/velero-crds.yaml");

/// Runs the example against the testkit at `kubeconfig`, off the runtime
/// that drives the stand-in Velero server.
async fn velero(kubeconfig: &Path, args: &[&str]) -> support::Run {
    let kubeconfig = kubeconfig.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run("velero_backup", &args, &[("KUBECONFIG", &kubeconfig)])
    })
    .await
    .unwrap()
}

async fn kubectl_json(server: &TestServer, args: &[&str]) -> Value {
    let (ok, out, err) = server.kubectl(args).await;
    assert!(ok, "kubectl {args:?}: {err}");
    serde_json::from_str(&out).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn with_velero_installed_backups_restores_and_schedules_are_created_followed_and_listed() {
    let server = TestServer::start().await.unwrap();
    let (ok, _, err) = server.kubectl(&["create", "--validate=false", "-f", CRDS]).await;
    assert!(ok, "{err}");
    let (ok, _, err) = server.kubectl(&["create", "namespace", "velero"]).await;
    assert!(ok, "{err}");
    let _velero_server = FakeVelero::start(&server, "velero", true);
    let kc = server.kubeconfig_path().to_path_buf();

    // velero backup create --wait: followed to Completed, exit 0; kubectl
    // sees the object the velero CLI would have written.
    let args = [
        "create",
        "nightly",
        "--include-namespaces",
        "shop,payments",
        "--ttl",
        "720h",
        "--labels",
        "team=web",
        "--wait",
    ];
    let r = velero(&kc, &args).await;
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.starts_with("Backup request \"nightly\" submitted successfully.\n"), "{r}");
    assert!(r.stdout.contains("Completed"), "{r}");
    let b = kubectl_json(&server, &["get", "backups.velero.io", "nightly", "-n", "velero", "-o", "json"]).await;
    assert_eq!(b["spec"]["includedNamespaces"], json!(["shop", "payments"]));
    assert_eq!(b["spec"]["ttl"], "720h0m0s");
    assert_eq!(b["metadata"]["labels"]["team"], "web");
    assert_eq!(b["status"]["phase"], "Completed");
    assert_eq!(b["status"]["progress"]["itemsBackedUp"], 3);

    // A backup that ends PartiallyFailed: printed, exit 1.
    let r = velero(&kc, &["create", "weekly", "--labels", &format!("{OUTCOME_LABEL}=PartiallyFailed"), "--wait"]).await;
    assert_eq!(r.code, Some(1), "{r}");
    assert!(r.stdout.contains("PartiallyFailed"), "{r}");

    // A backup that never finishes: --timeout stops the waiting (exit 1),
    // the backup stays in the cluster.
    let r =
        velero(&kc, &["create", "slow", "--labels", &format!("{OUTCOME_LABEL}=Stall"), "--wait", "--timeout", "1s"])
            .await;
    assert_eq!(r.code, Some(1), "{r}");
    k8sops_testkit::e2e::eventually("the stalled backup in progress", || async {
        let b = kubectl_json(&server, &["get", "backups.velero.io", "slow", "-n", "velero", "-o", "json"]).await;
        (b["status"]["phase"] == "InProgress").then_some(())
    })
    .await;

    // velero backup get: all three, with their phases.
    let r = velero(&kc, &["get"]).await;
    assert_eq!(r.code, Some(0), "{r}");
    let row =
        |name: &str| r.stdout.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_default().to_string();
    assert!(row("nightly").contains("Completed"), "{r}");
    assert!(row("weekly").contains("PartiallyFailed"), "{r}");
    assert!(row("slow").contains("InProgress"), "{r}");

    // velero restore create --from-backup --namespace-mappings --wait.
    let args = ["restore", "shop-copy", "--from-backup", "nightly", "--namespace-mappings", "shop:shop-copy", "--wait"];
    let r = velero(&kc, &args).await;
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.starts_with("Restore request \"shop-copy\" submitted successfully.\n"), "{r}");
    let restore =
        kubectl_json(&server, &["get", "restores.velero.io", "shop-copy", "-n", "velero", "-o", "json"]).await;
    assert_eq!(restore["spec"]["backupName"], "nightly");
    assert_eq!(restore["spec"]["namespaceMapping"]["shop"], "shop-copy");
    assert_eq!(restore["status"]["phase"], "Completed");

    // A restore from a backup that does not exist is refused: nothing created.
    let r = velero(&kc, &["restore", "nope", "--from-backup", "missing"]).await;
    assert_eq!(r.code, Some(1), "{r}");
    let (found, _, _) = server.kubectl(&["get", "restores.velero.io", "nope", "-n", "velero"]).await;
    assert!(!found, "{r}");

    // velero schedule create.
    let args = ["schedule", "shop-daily", "--schedule", "0 7 * * *", "--include-namespaces", "shop", "--ttl", "168h"];
    let r = velero(&kc, &args).await;
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.starts_with("Schedule \"shop-daily\" created successfully.\n"), "{r}");
    let s = kubectl_json(&server, &["get", "schedules.velero.io", "shop-daily", "-n", "velero", "-o", "json"]).await;
    assert_eq!(s["spec"]["schedule"], "0 7 * * *");
    assert_eq!(s["spec"]["template"]["includedNamespaces"], json!(["shop"]));
    assert_eq!(s["spec"]["template"]["ttl"], "168h0m0s");
}
