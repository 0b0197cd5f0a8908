//! Runs `find_removed_apis` as a user would: on a manifest directory, on
//! the demo cluster, on the real API server when one is configured, and
//! with input that does not parse. `--json` is an interface: an array of
//! objects with exactly the keys `kind, namespace, name, apiVersion, source,
//! removedIn, replacement`, all strings.
//!
//! Every run gets an empty HOME and no KUBECONFIG (unless the test sets
//! one), so no developer's real cluster is used.

mod support;

use std::{collections::BTreeSet, path::Path};

use serde_json::Value;
use support::{run, Run};

fn manifests() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/k8sops-upgrade/tests/data/manifests").display().to_string()
}

/// The findings of a `--json` run, each checked to have exactly the
/// interface's keys with string values.
fn findings(r: &Run) -> Vec<Value> {
    assert_eq!(r.code, Some(0), "{r}");
    let parsed: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {r}"));
    let items = parsed.as_array().unwrap_or_else(|| panic!("not an array: {r}")).clone();
    let keys = BTreeSet::from(["kind", "namespace", "name", "apiVersion", "source", "removedIn", "replacement"]);
    for item in &items {
        let obj = item.as_object().unwrap();
        assert_eq!(obj.keys().map(String::as_str).collect::<BTreeSet<_>>(), keys, "{item}");
        assert!(obj.values().all(Value::is_string), "{item}");
        let source = obj["source"].as_str().unwrap();
        assert!(["annotation", "managedFields", "helm", "file", "metrics"].contains(&source), "{item}");
        let removed = obj["removedIn"].as_str().unwrap();
        assert!(removed.is_empty() || (removed.starts_with("v1.") && removed[3..].parse::<u32>().is_ok()), "{item}");
    }
    items
}

fn short(f: &Value) -> String {
    format!("{} {}/{} {} {} {}", f["kind"], f["namespace"], f["name"], f["apiVersion"], f["source"], f["removedIn"])
        .replace('"', "")
}

#[test]
fn a_manifest_directory_as_json_uses_the_interface_shape() {
    let r = run("find_removed_apis", &["--dir", &manifests(), "--json"], &[]);
    let found: Vec<String> = findings(&r).iter().map(short).collect();
    assert_eq!(
        found,
        [
            "Ingress shop/web extensions/v1beta1 file v1.22",
            "ClusterRole /legacy-reader rbac.authorization.k8s.io/v1beta1 file v1.22",
            "CronJob ops/nightly batch/v1beta1 file v1.25",
            "PodDisruptionBudget /nightly policy/v1beta1 file v1.25",
            "PodSecurityPolicy /restricted policy/v1beta1 file v1.25",
            "FlowSchema /batch-jobs flowcontrol.apiserver.k8s.io/v1beta3 file v1.32",
        ],
        "{r}"
    );
    let items = findings(&r);
    let psp = items.iter().find(|f| f["kind"] == "PodSecurityPolicy").unwrap();
    assert_eq!(psp["replacement"], "", "nothing replaces PodSecurityPolicy");
    let fs = items.iter().find(|f| f["kind"] == "FlowSchema").unwrap();
    assert_eq!(fs["replacement"], "flowcontrol.apiserver.k8s.io/v1");
}

#[test]
fn a_manifest_directory_as_text_marks_deprecations_and_names_files_it_could_not_read() {
    let r = run("find_removed_apis", &["--dir", &manifests(), "--target-version", "1.21"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.starts_with("STATUS"), "{r}");
    assert_eq!(r.stdout.lines().filter(|l| l.starts_with("deprecated ")).count(), 5, "{r}");
    assert!(r.stdout.contains("0 removed and 5 deprecated API uses for v1.21 in 5 files."), "{r}");
    assert!(
        r.stdout.contains("not checked: ") && r.stdout.contains("charts/web/templates/pdb.yaml:1: not valid YAML"),
        "{r}"
    );
}

#[test]
fn the_demo_cluster_shows_every_kind_of_evidence() {
    let r = run("find_removed_apis", &["--demo", "--json"], &[]);
    let items = findings(&r);
    let found: Vec<String> = items.iter().map(short).collect();
    for expected in [
        "CronJob default/cleanup batch/v1beta1 managedFields v1.25",
        "PodDisruptionBudget default/shop policy/v1beta1 helm v1.25",
    ] {
        assert!(found.contains(&expected.to_string()), "{expected} missing: {r}");
    }
    let sources: BTreeSet<&str> = items.iter().filter_map(|f| f["source"].as_str()).collect();
    assert_eq!(sources, BTreeSet::from(["annotation", "managedFields", "helm"]), "{r}");
    assert!(r.stderr.contains("demo cluster"), "{r}");
}

#[test]
fn a_target_version_that_does_not_parse_is_a_usage_error_naming_the_flag() {
    let r = run("find_removed_apis", &["--dir", &manifests(), "--target-version", "banana"], &[]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("--target-version"), "{r}");
    assert!(r.stdout.is_empty(), "{r}");
}

#[test]
fn a_directory_that_does_not_exist_is_an_error_naming_it() {
    let r = run("find_removed_apis", &["--dir", "/nonexistent/manifests", "--json"], &[]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(r.stderr.contains("/nonexistent/manifests"), "{r}");
}

#[test]
fn the_real_api_server_answers_with_the_same_shape() {
    let Some(kubeconfig) = k8sops_testkit::e2e::kubeconfig() else { return };
    let r = run("find_removed_apis", &["--json", "--target-version", "1.25"], &[("KUBECONFIG", &kubeconfig)]);
    let items = findings(&r);
    // The shared server has been asked for deprecated APIs since it started (at least by
    // the removed-API tests); its metric is readable for the admin.
    assert!(!r.stderr.contains("not checked: /metrics"), "{r}");
    assert!(items.iter().all(|f| f["source"] != "file"), "{r}");
}
