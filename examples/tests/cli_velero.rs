//! Runs the `velero_backup` example as a user would: on the demo cluster,
//! which has no Velero, every command says that Velero is not installed
//! and exits 1; a flag value that does not parse is a usage error (exit 2)
//! naming the flag, before any cluster is touched.
//!
//! `cargo test` builds the examples of the package before it runs this.
//! Every run gets an empty HOME and no KUBECONFIG, so no developer's real
//! cluster is ever used.

mod support;

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
