//! Runs the example binaries as a user would: input that does not parse is
//! a usage error (exit code 2) naming the flag, before any cluster is
//! touched; a configured cluster that does not answer is an error naming
//! the context and the server, never a silent switch to the demo cluster;
//! `--demo`, and no kubeconfig at all, use the demo cluster and say so on
//! the first line of stderr.
//!
//! `cargo test` builds the examples of the package before it runs this.
//! Every run gets an empty HOME and no KUBECONFIG (unless the test sets
//! one), so no developer's real cluster is ever used.

mod support;

use support::run;

const NODE: &str = "ip-10-0-0-5.ec2.internal";

#[test]
fn a_selector_that_does_not_parse_is_a_usage_error_naming_the_flag_and_nothing_is_done() {
    let r = run("drain_node", &["--demo", NODE, "--pod-selector", "app in (x"], &[]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("--pod-selector"), "{r}");
    assert!(!r.stderr.contains("demo cluster"), "fails before connecting: {r}");
    assert!(r.stdout.is_empty(), "{r}");
}

#[test]
fn durations_and_counts_that_do_not_parse_are_usage_errors_naming_the_flag() {
    for (name, args, flag) in [
        ("drain_node", &["--demo", NODE, "--timeout", "abc"][..], "--timeout"),
        ("drain_node", &["--demo", NODE, "--timeout", "5x"][..], "--timeout"),
        ("drain_node", &["--demo", NODE, "--dry-run=sometimes"][..], "--dry-run"),
        ("cleanup", &["--demo", "--older-than-hours", "x"][..], "--older-than-hours"),
        ("events", &["--demo", "--since-minutes", "3x"][..], "--since-minutes"),
        ("nodes_status", &["--demo", "-l", "a=b,("][..], "--selector"),
        ("monitor", &["--demo", "--interval", "0"][..], "--interval"),
        ("daily_check", &["--demo", "--budget", "0"][..], "--budget"),
        ("fleet_check", &["--demo", "--cluster-budget", "0s"][..], "--cluster-budget"),
    ] {
        let r = run(name, args, &[]);
        assert_eq!(r.code, Some(2), "{name} {args:?}: {r}");
        assert!(r.stderr.contains(flag), "{name} {args:?}: {r}");
        assert!(!r.stderr.contains("demo cluster"), "{name} {args:?} fails before connecting: {r}");
    }
}

#[test]
fn a_configured_cluster_that_does_not_answer_is_an_error_naming_the_context_and_server() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("dead.kubeconfig");
    std::fs::write(
        &kubeconfig,
        r#"apiVersion: v1
kind: Config
clusters:
- name: dead
  cluster:
    server: https://127.0.0.1:1
    insecure-skip-tls-verify: true
users:
- name: someone
  user:
    token: expired-token
contexts:
- name: kind-dead
  context:
    cluster: dead
    user: someone
current-context: kind-dead
"#,
    )
    .unwrap();
    for (name, args) in [
        ("daily_check", &[][..]),
        ("checklist", &["weekly"][..]),
        ("nodes_status", &[][..]),
        ("drain_node", &[NODE, "--ignore-daemonsets"][..]),
    ] {
        let r = run(name, args, &[("KUBECONFIG", &kubeconfig)]);
        assert_eq!(r.code, Some(2), "{name}: {r}");
        assert_eq!(r.first_line(), r#"Using context "kind-dead" at https://127.0.0.1:1"#, "{name}: {r}");
        let error = r.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
        assert!(error.contains("kind-dead") && error.contains("https://127.0.0.1:1"), "{name}: {r}");
        assert!(!r.stderr.contains("demo cluster at"), "{name} starts no demo: {r}");
        assert!(!r.stderr.contains("Draining"), "{name} does nothing: {r}");
        assert!(r.stdout.is_empty(), "{name}: {r}");
    }
}

#[test]
fn with_no_kubeconfig_at_all_the_demo_cluster_is_used_and_named() {
    let r = run("nodes_status", &[], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.first_line().starts_with("No kubeconfig found: starting the embedded demo cluster"), "{r}");
    assert!(r.stdout.contains(NODE), "{r}");
}

#[test]
fn demo_runs_of_nodes_status_and_drain_node_print_their_key_lines() {
    let r = run("nodes_status", &["--demo"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.first_line().starts_with("--demo: starting the embedded demo cluster"), "{r}");
    assert!(r.stdout.contains("NAME") && r.stdout.contains(NODE), "{r}");

    let r = run("nodes_status", &["describe", NODE, "--demo"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.contains(NODE), "{r}");

    // A bare --dry-run is a client dry run, and the node after it is the node.
    let args = ["--demo", "--dry-run", NODE, "--ignore-daemonsets", "--delete-emptydir-data", "--force"];
    let r = run("drain_node", &args, &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.first_line().starts_with("--demo: starting the embedded demo cluster"), "{r}");
    assert!(r.stderr.contains(&format!("Draining node/{NODE} (dry run: client")), "{r}");
    assert!(r.stderr.contains("on the embedded demo cluster at http"), "{r}");
    assert!(r.stdout.contains(&format!("node/{NODE} drain completed")), "{r}");
    assert!(r.stdout.contains("(dry run)"), "{r}");
}

#[test]
fn a_drain_that_does_not_complete_exits_1_and_prints_the_report() {
    // kubectl's defaults refuse DaemonSet pods.
    let r = run("drain_node", &["--demo", NODE, "--dry-run=client"], &[]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(r.stdout.contains(&format!("node/{NODE} drain refused")), "{r}");
    assert!(r.stderr.contains("error: cannot drain node"), "{r}");
}

#[test]
fn cleanup_is_a_dry_run_unless_yes_is_given() {
    let r = run("cleanup", &["--demo"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.contains("would delete"), "{r}");
    assert!(!r.stdout.contains("deleted"), "{r}");
    assert!(r.stderr.contains("nothing was deleted"), "{r}");
    assert!(r.stderr.contains("--yes"), "{r}");

    let r = run("cleanup", &["--demo", "--yes"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stderr.contains("Deleting 3 pod(s) and 0 job(s) on the embedded demo cluster"), "{r}");
    assert!(r.stdout.contains("deleted") && !r.stdout.contains("would delete"), "{r}");
}

#[test]
fn demo_runs_of_the_audit_examples_print_their_key_lines() {
    let r = run("rbac_audit", &["--demo"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.contains("ClusterRoleBindings") && r.stdout.contains("Risk findings ("), "{r}");
    let r = run("rbac_audit", &["--demo", "--full", "--sarif"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    let sarif: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let r = run("rbac_audit", &["--demo", "--access", "root", "--as-group", "system:masters", "-n", "shop"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(
        r.stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["pods", "yes", "yes", "yes", "yes", "yes", "yes", "yes"]),
        "{r}"
    );

    // can_i: kubectl's lines and exit codes (0 yes, 1 no).
    let r = run(
        "can_i",
        &["--demo", "delete", "nodes", "--as", "system:masters-member", "--as-group", "system:masters"],
        &[],
    );
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "yes\n"), "{r}");
    assert!(r.stderr.contains("Warning: resource 'nodes' is not namespace scoped"), "{r}");
    let r = run("can_i", &["--demo", "create", "pods", "--as", "nobody", "-n", "shop"], &[]);
    assert_eq!((r.code, r.stdout.as_str()), (Some(1), "no\n"), "{r}");
    let r = run("can_i", &["--demo", "--list", "--as", "nobody"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.starts_with("Resources"), "{r}");
    let r = run("can_i", &["--demo", "--list", "pods", "--as", "nobody"], &[]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(r.stderr.contains("error: list option must be specified with no arguments"), "{r}");

    let r = run("who_can", &["--demo", "get", "secrets", "-n", "shop"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.contains("SUBJECT") && r.stdout.contains("grant(s)"), "{r}");

    let r = run("pss_report", &["--demo"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.contains("NAMESPACE") && r.stdout.contains("STRICTEST POSSIBLE"), "{r}");
    let r = run("pss_report", &["--demo", "--level", "strict"], &[]);
    assert_eq!(r.code, Some(2), "a level that does not parse is a usage error: {r}");

    let r = run("apply_pss_labels", &["--demo", "shop", "--enforce", "restricted", "--dry-run=server"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(
        r.stdout.contains("namespace/shop labeled (server dry run): pod-security.kubernetes.io/enforce=restricted"),
        "{r}"
    );
    let r = run("apply_pss_labels", &["--demo", "shop", "--enforce", "restricted", "--dry-run=client"], &[]);
    assert_eq!(r.code, Some(2), "{r}");
}
