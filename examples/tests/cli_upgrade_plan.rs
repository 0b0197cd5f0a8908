//! Runs the `versions` and `upgrade_plan` examples as a user would: bad
//! flags are usage errors before any cluster is touched, a target older
//! than the cluster is an error, the demo cluster gives a preflight and a
//! plan hop by hop, and against the real API server (`K8SOPS_E2E_KUBECONFIG`)
//! the server version printed is the one `kubectl version` prints.
//!
//! Every run gets an empty HOME and no KUBECONFIG unless the test sets one.

mod support;

use std::process::Command;

use serde_json::Value;
use support::{run, Run};

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{r}"))
}

#[test]
fn bad_versions_and_missing_targets_are_usage_errors_naming_the_flag() {
    for (name, args, flag) in [
        ("upgrade_plan", &["--demo", "--target-version", "latest"][..], "--target-version"),
        ("upgrade_plan", &["--demo"][..], "--target-version"),
        (
            "upgrade_plan",
            &["--demo", "--target-version", "v1.31", "--node-upgrades", "sometimes"][..],
            "--node-upgrades",
        ),
        ("upgrade_plan", &["--demo", "--target-version", "v1.31", "--kubectl-version", "1"][..], "--kubectl-version"),
        ("versions", &["--demo", "--kubectl-version", "one.two"][..], "--kubectl-version"),
        ("versions", &["--demo", "-l", "a in (b"][..], "--selector"),
    ] {
        let r = run(name, args, &[]);
        assert_eq!(r.code, Some(2), "{name} {args:?}: {r}");
        assert!(r.stderr.contains(flag), "{name} {args:?}: {r}");
        assert!(!r.stderr.contains("demo cluster"), "{name} {args:?} fails before connecting: {r}");
    }
}

#[test]
fn the_demo_cluster_gets_a_preflight_and_a_plan_hop_by_hop() {
    let r = run("upgrade_plan", &["--demo", "--target-version", "v1.32", "--json", "--cluster-name", "demo"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    let out = json(&r);
    let checks = out["preflight"]["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 9, "{r}");
    let status = |id: &str| checks.iter().find(|c| c["id"] == id).map(|c| c["status"].as_str().unwrap().to_string());
    // The demo has a NotReady node and unreplicated pods.
    assert_eq!(status("nodes-ready").as_deref(), Some("fail"));
    assert_eq!(status("unreplicated-pods").as_deref(), Some("fail"));
    let hops: Vec<&str> = out["plan"]["hops"].as_array().unwrap().iter().map(|h| h["to"].as_str().unwrap()).collect();
    assert_eq!(hops, ["v1.31", "v1.32"]);
    assert_eq!(out["plan"]["flavor"], "eks", "the demo's nodes are in EKS node groups");
    let commands: Vec<&str> = out["plan"]["hops"][0]["steps"][0]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(commands[0], "aws eks update-cluster-version --name demo --kubernetes-version 1.31");

    let text = run("upgrade_plan", &["--demo", "--target-version", "v1.31", "--skip-removed-apis"], &[]);
    assert_eq!(text.code, Some(0), "{text}");
    assert!(text.stdout.contains("Upgrade preflight: v1.30.4 -> v1.31"), "{text}");
    assert!(text.stdout.contains("COMPONENT") && text.stdout.contains("Hop v1.30 -> v1.31"), "{text}");
    assert!(text.stderr.contains("preflight check(s) failed"), "{text}");
}

#[test]
fn a_target_older_than_the_cluster_is_an_error() {
    let r = run("upgrade_plan", &["--demo", "--target-version", "v1.29", "--skip-removed-apis"], &[]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(r.stderr.contains("cannot be downgraded"), "{r}");
    assert!(r.stdout.contains("[FAIL] target-version"), "{r}");
}

#[test]
fn versions_prints_the_server_the_nodes_and_the_skew() {
    let r = run("versions", &["--demo", "--kubectl-version", "v1.33.0"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.contains("Server Version: v1.30.4"), "{r}");
    assert!(r.stdout.contains("kubectl Version: v1.33.0"), "{r}");
    assert!(r.stdout.contains("Control plane: not visible"), "{r}");
    assert!(r.stdout.contains("Version skew now: 1 violation(s):"), "{r}");
    let row =
        r.stdout.lines().find(|l| l.starts_with("kubectl  ") && l.contains("v1.33.0")).unwrap_or_else(|| panic!("{r}"));
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["kubectl", "kubectl", "v1.33.0", "v1.29", "to", "v1.31", "kube-apiserver", "v1.30"]
    );

    let r = run(
        "versions",
        &["--demo", "--json", "--kubectl-version", "v1.30.1", "-l", "eks.amazonaws.com/nodegroup=system"],
        &[],
    );
    assert_eq!(r.code, Some(0), "{r}");
    let out = json(&r);
    assert_eq!(out["server"]["gitVersion"], "v1.30.4");
    assert_eq!(out["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(out["skew"]["now"].as_array().unwrap().len(), 0, "{r}");
}

#[test]
fn against_the_real_server_the_server_version_is_kubectls() {
    let Some(kubeconfig) = k8sops_testkit::e2e::kubeconfig() else { return };
    if !k8sops_testkit::e2e::require_kubectl() {
        return;
    }
    let out =
        Command::new("kubectl").arg("--kubeconfig").arg(&kubeconfig).args(["version", "-o", "json"]).output().unwrap();
    let kubectl: Value = serde_json::from_slice(&out.stdout).unwrap();
    let server = kubectl["serverVersion"]["gitVersion"].as_str().unwrap();

    let r = run("versions", &["--json", "-l", "k8sops-e2e-run=none"], &[("KUBECONFIG", &kubeconfig)]);
    assert_eq!(r.code, Some(0), "{r}");
    assert_eq!(json(&r)["server"]["gitVersion"], server, "{r}");

    let minor: u32 = kubectl["serverVersion"]["minor"].as_str().unwrap().trim_end_matches('+').parse().unwrap();
    let target = format!("v1.{}", minor + 1);
    let r = run(
        "upgrade_plan",
        &["--target-version", &target, "--json", "--skip-removed-apis", "-l", "k8sops-e2e-run=none"],
        &[("KUBECONFIG", &kubeconfig)],
    );
    assert_eq!(r.code, Some(0), "{r}");
    let out = json(&r);
    assert_eq!(out["preflight"]["current"], server, "{r}");
    let hops: Vec<&str> = out["plan"]["hops"].as_array().unwrap().iter().map(|h| h["to"].as_str().unwrap()).collect();
    assert_eq!(hops, [target.as_str()]);
}
