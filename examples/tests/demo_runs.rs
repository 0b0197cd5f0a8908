//! Every example binary, run on the embedded demo cluster as its header
//! shows it: with `--demo` and the arguments it needs (read-only, or a dry
//! run where it would change something), its exit code as documented, the
//! first line of stderr naming the demo cluster, and a few key lines of its
//! output (headers, names from `DemoCluster::small()`). So no example rots
//! unnoticed: a change to a library that breaks one fails here.
//!
//! [`every_example_is_run_here_or_has_a_reason`] reads the `[[example]]`
//! entries of `examples/Cargo.toml`: an example is in [`RUN_HERE`] (and has a
//! test below) or in [`RUN_ELSEWHERE`], which names the test that runs it and
//! why it cannot run on the demo cluster:
//! - `etcd_snapshot` (feature `etcd`): saves from a real etcd over gRPC and
//!   reads real bbolt snapshot files; there is no etcd behind the demo
//!   cluster. `tests/cli_etcd_snapshot.rs` runs it against the test script's
//!   etcd with `etcdctl` as the oracle.
//! - `eks_config_backup` and `eks_upgrade` (feature `aws`): EKS APIs
//!   (describe-cluster, insights, add-on versions, updates) that nothing
//!   in-memory serves. `tests/cli_eks_config_backup.rs` and
//!   `tests/cli_eks_upgrade.rs` run them against moto.
//!
//! `scale_nodegroup` (feature `aws`) runs here: with `--demo` its node group
//! is an in-memory one built from the demo cluster's node-group labels.
//! Runs that are not dry runs (`scale_nodegroup` without `--dry-run`, the
//! weekly backup and monthly DR drill of `checklist`) change only that
//! in-memory group or the run's own demo cluster, which ends with the run.

mod support;

use support::{run, Run};

/// The first line of stderr of every `--demo` run.
const DEMO_LINE: &str = "--demo: starting the embedded demo cluster";

/// A node of the demo cluster's `general` group.
const NODE: &str = "ip-10-0-0-5.ec2.internal";

/// The examples run by a test of this file.
const RUN_HERE: &[&str] = &[
    "daily_check",
    "checklist",
    "fleet_check",
    "nodes_status",
    "node_maintenance",
    "drain_node",
    "scale_nodegroup",
    "safe_scale_in",
    "top",
    "capacity_report",
    "storage_report",
    "cleanup",
    "diagnose_pods",
    "events",
    "logs",
    "monitor",
    "rbac_audit",
    "pss_report",
    "apply_pss_labels",
    "can_i",
    "who_can",
    "export_resources",
    "restore_resources",
    "velero_backup",
    "find_removed_apis",
    "versions",
    "upgrade_plan",
    "optimise",
];

/// The examples that cannot run on the demo cluster, with the test that runs them.
const RUN_ELSEWHERE: &[(&str, &str)] = &[
    ("etcd_snapshot", "tests/cli_etcd_snapshot.rs, against a real etcd"),
    ("eks_config_backup", "tests/cli_eks_config_backup.rs, against moto"),
    ("eks_upgrade", "tests/cli_eks_upgrade.rs, against moto"),
];

/// Runs `name --demo ARGS`; checks the exit code, that the first line of
/// stderr names the demo cluster, and that stdout holds each of `stdout_has`.
fn demo(name: &str, args: &[&str], code: i32, stdout_has: &[&str]) -> Run {
    let args: Vec<&str> = std::iter::once("--demo").chain(args.iter().copied()).collect();
    let r = run(name, &args, &[]);
    assert_eq!(r.code, Some(code), "{name} {args:?}: {r}");
    assert!(r.first_line().starts_with(DEMO_LINE), "{name} {args:?}: {r}");
    for key in stdout_has {
        assert!(r.stdout.contains(key), "{name} {args:?}: stdout lacks {key:?}: {r}");
    }
    r
}

/// The names of the `[[example]]` entries of `examples/Cargo.toml`.
fn examples_in_manifest() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let manifest = std::fs::read_to_string(path).expect("examples/Cargo.toml");
    let mut section = "";
    let mut names = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
        } else if section == "[[example]]" {
            if let Some(value) = line.strip_prefix("name").map(str::trim_start).and_then(|l| l.strip_prefix('=')) {
                names.push(value.trim().trim_matches('"').to_string());
            }
        }
    }
    names
}

#[test]
fn every_example_is_run_here_or_has_a_reason() {
    let examples = examples_in_manifest();
    assert!(examples.len() > 20, "{examples:?}");
    for name in &examples {
        let here = RUN_HERE.contains(&name.as_str());
        let elsewhere = RUN_ELSEWHERE.iter().any(|(n, _)| n == name);
        assert!(here != elsewhere, "{name}: run it in a test of this file (RUN_HERE) or say where (RUN_ELSEWHERE)");
    }
    for name in RUN_HERE.iter().chain(RUN_ELSEWHERE.iter().map(|(n, _)| n)) {
        assert!(examples.iter().any(|e| e == name), "{name} is not an [[example]] of examples/Cargo.toml");
    }
}

#[test]
fn nodes_status_lists_the_demo_nodes_and_the_not_ready_one() {
    demo("nodes_status", &[], 0, &["NAME", NODE, "Conditions needing attention:"]);
}

#[test]
fn node_maintenance_server_dry_runs_cordon_uncordon_and_refuse_an_undrainable_delete() {
    demo(
        "node_maintenance",
        &["cordon", NODE, "--dry-run=server"],
        0,
        &[&format!("node/{NODE} cordoned (server dry run)")],
    );
    let cordoned = "ip-10-0-0-7.ec2.internal";
    demo(
        "node_maintenance",
        &["uncordon", cordoned, "--dry-run=server"],
        0,
        &[&format!("node/{cordoned} uncordoned (server dry run)")],
    );
    // A node with an emptyDir pod: the drain is refused, so the node is not deleted.
    let node = "ip-10-0-0-9.ec2.internal";
    let args = ["delete", node, "--drain", "--ignore-daemonsets", "--dry-run=server"];
    demo("node_maintenance", &args, 1, &["legacy/debug-shell", &format!("node/{node} not deleted")]);
}

#[test]
fn drain_node_server_dry_run_completes() {
    let args = [NODE, "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--dry-run=server"];
    let r = demo("drain_node", &args, 0, &[&format!("node/{NODE} drain completed"), "(server dry run)"]);
    assert!(r.stdout.contains("Would evict"), "{r}");
}

#[cfg(feature = "aws")]
#[test]
fn scale_nodegroup_scales_the_demo_general_group_in_memory() {
    let r = demo(
        "scale_nodegroup",
        &["eks", "demo", "general", "--desired", "5", "--dry-run"],
        0,
        &["node group general: min/max/desired 1/20/4 -> 1/20/5"],
    );
    assert!(r.stderr.contains("Dry run (client) on in-memory node groups built from the embedded demo cluster"), "{r}");
    // The in-memory update ends on its first poll.
    demo("scale_nodegroup", &["eks", "demo", "general", "--desired", "5"], 0, &["update update-1: Successful"]);
}

#[test]
fn safe_scale_in_dry_run_picks_a_node_of_the_general_group() {
    demo(
        "safe_scale_in",
        &["general", "1", "--dry-run"],
        0,
        &["node group general: desired 4 -> 3 (min 1)", "scale-in completed (dry run: client)"],
    );
}

#[test]
fn top_shows_node_usage_and_quotas() {
    demo("top", &["nodes"], 0, &["CPU(cores)", "MEMORY(%)", NODE]);
    demo("top", &["pods", "-n", "shop"], 0, &["CPU(cores)", "redis-0"]);
    demo("top", &["quotas"], 0, &["legacy-quota", "NEAR LIMIT"]);
}

#[test]
fn capacity_report_shows_node_groups_and_headroom() {
    demo("capacity_report", &[], 0, &["NODE GROUP", "Headroom: ", "Pods requesting far more than they use:"]);
}

#[test]
fn storage_report_finds_the_pending_claim_and_exits_1() {
    demo("storage_report", &[], 1, &["STORAGECLASS", "reports-archive", "gp2 (default)"]);
}

#[test]
fn cleanup_without_yes_is_a_dry_run() {
    let r = demo("cleanup", &[], 0, &["would delete", "batch/nightly-report-"]);
    assert!(r.stderr.contains("nothing was deleted"), "{r}");
}

#[test]
fn diagnose_pods_reports_cluster_health_and_problem_pods_and_exits_1() {
    demo(
        "diagnose_pods",
        &[],
        1,
        &["Kubernetes control plane is running at http", "Nodes: 6/7 Ready", "ImagePullBackOff"],
    );
}

#[test]
fn events_lists_the_demo_warnings() {
    demo("events", &[], 0, &["LAST SEEN", "FailedScheduling", "node/ip-10-0-0-7.ec2.internal"]);
}

#[test]
fn logs_prints_the_debug_shell_log() {
    demo("logs", &[], 0, &["starting shell", "waiting for input"]);
}

#[test]
fn monitor_prints_one_snapshot_with_alerts() {
    demo("monitor", &["--count", "1"], 0, &["CPU(cores)", "Top pods by CPU:", "Alerts:"]);
}

#[test]
fn rbac_audit_summarises_bindings_and_risks() {
    demo("rbac_audit", &[], 0, &["ClusterRoleBindings", "ClusterRoleBinding/cluster-admin", "Risk findings ("]);
}

#[test]
fn pss_report_shows_each_namespace() {
    demo("pss_report", &[], 0, &["STRICTEST POSSIBLE", "kube-system", "shop/Deployment web: fails restricted"]);
}

#[test]
fn apply_pss_labels_server_dry_run_labels_nothing() {
    demo(
        "apply_pss_labels",
        &["shop", "--enforce", "restricted", "--dry-run=server"],
        0,
        &["namespace/shop labeled (server dry run): pod-security.kubernetes.io/enforce=restricted"],
    );
}

#[test]
fn can_i_answers_from_the_demo_rbac() {
    let r = demo("can_i", &["list", "pods", "-n", "shop", "--as", "jane"], 0, &[]);
    assert_eq!(r.stdout, "yes\n", "{r}");
}

#[test]
fn who_can_names_the_bindings_that_grant_secrets() {
    demo(
        "who_can",
        &["get", "secrets", "-n", "shop"],
        0,
        &["SUBJECT", "ClusterRoleBinding/developers-read-secrets", "3 grant(s)"],
    );
}

#[test]
fn export_resources_then_restore_resources_server_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("shop.tar.gz").display().to_string();
    demo(
        "export_resources",
        &["--archive", &archive, "--include-namespaces", "shop"],
        0,
        &["RESOURCE", "deployments.apps", "from Kubernetes v1.30.4"],
    );
    demo(
        "restore_resources",
        &["--archive", &archive, "--dry-run=server"],
        0,
        &["KIND", "skipped: already exists", "Dry run (server): restore of"],
    );
}

#[test]
fn velero_backup_says_velero_is_not_installed_and_exits_1() {
    let r = demo("velero_backup", &["get"], 1, &[]);
    assert!(r.stderr.contains("error: Velero is not installed in this cluster"), "{r}");
    assert!(r.stdout.is_empty(), "{r}");
}

#[test]
fn find_removed_apis_finds_the_demo_old_api_versions() {
    demo(
        "find_removed_apis",
        &[],
        0,
        &["REMOVED IN", "extensions/v1beta1", "5 removed and 0 deprecated API uses for v1.30"],
    );
}

#[test]
fn versions_prints_server_and_node_versions() {
    demo("versions", &["--kubectl-version", "v1.30.1"], 0, &["Server Version: v1.30.4", "KUBE-PROXY", NODE]);
}

#[test]
fn upgrade_plan_prints_the_preflight_and_the_hop() {
    let r = demo(
        "upgrade_plan",
        &["--target-version", "v1.31", "--skip-removed-apis"],
        0,
        &["Upgrade preflight: v1.30.4 -> v1.31", "nodes-ready", "Hop v1.30 -> v1.31"],
    );
    assert!(r.stderr.contains("preflight check(s) failed"), "{r}");
}

#[test]
fn optimise_lists_containers_without_requests_and_untargeted_workloads() {
    demo("optimise", &[], 0, &["HINT", "legacy/debug-shell/", "NoSchedule taints: CriticalAddonsOnly=true:NoSchedule"]);
}

#[test]
fn daily_check_fails_on_the_demo_not_ready_node_and_exits_1() {
    let r = demo("daily_check", &[], 1, &["CHECK", "FAIL [nodes] node/ip-10-0-0-8.ec2.internal"]);
    assert!(r.stdout.starts_with("Daily checklist: FAIL"), "{r}");
}

#[test]
fn checklist_runs_the_weekly_and_monthly_lists_and_saves_the_runbook() {
    let r = demo("checklist", &["weekly"], 1, &["backup", "unused", "FAIL [audit]"]);
    assert!(r.stdout.starts_with("Weekly checklist: FAIL"), "{r}");
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().display().to_string();
    let r = demo("checklist", &["monthly", "--documents", &docs], 1, &["dr-drill", "runbook", "FAIL [preflight]"]);
    assert!(r.stdout.starts_with("Monthly checklist: FAIL"), "{r}");
    assert!(dir.path().join("runbook.md").is_file(), "{r}");
}

#[test]
fn fleet_check_checks_two_demo_clusters_and_exits_1() {
    let r = demo("fleet_check", &[], 1, &["CLUSTER", "demo-a", "demo-b"]);
    assert!(r.stdout.starts_with("Fleet: daily checklist on 2 clusters: FAIL"), "{r}");
}
