//! Runs `eks_upgrade` as a user would: arguments that do not parse are a
//! usage error naming the flag before AWS is called; against moto
//! (`K8SOPS_MOTO_ENDPOINT`, which serves describe-cluster and node groups
//! but not insights, add-ons or updates) with a testkit API server as the
//! cluster's Kubernetes side, a dry run prints the cluster, the preflight,
//! the plan and what it could not read; a failed preflight check stops it
//! unless `--force`; no kubeconfig is an error rather than a preflight of
//! the demo cluster; and a target that skips a minor is refused before
//! anything is sent.
//!
//! Every run gets an empty HOME (no AWS profile, no kubeconfig) and test
//! credentials.
#![cfg(feature = "aws")]

mod support;

use std::{ffi::OsStr, path::PathBuf};

use k8sops::upgrade::aws::{config as aws_config, eks};
use k8sops_testkit::TestServer;
use serde_json::json;
use support::Run;

/// Runs the example with test credentials, region us-east-1 and, when
/// given, `AWS_ENDPOINT_URL` (the harness gives it an empty HOME: no AWS profile).
fn run(args: &[&str], endpoint: Option<&str>) -> Run {
    run_with_kubeconfig(args, endpoint, None)
}

/// [`run`] with `KUBECONFIG` set to `kubeconfig`, when given.
fn run_with_kubeconfig(args: &[&str], endpoint: Option<&str>, kubeconfig: Option<&PathBuf>) -> Run {
    let mut env: Vec<(&str, &dyn AsRef<OsStr>)> =
        vec![("AWS_ACCESS_KEY_ID", &"testing"), ("AWS_SECRET_ACCESS_KEY", &"testing"), ("AWS_REGION", &"us-east-1")];
    if let Some(e) = &endpoint {
        env.push(("AWS_ENDPOINT_URL", e));
    }
    if let Some(k) = &kubeconfig {
        env.push(("KUBECONFIG", k));
    }
    support::run("eks_upgrade", args, &env)
}

/// Runs the example off the runtime's threads, so the testkit API server it reads keeps answering.
async fn run_against(server: &TestServer, args: &[&str], endpoint: &str) -> Run {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let (endpoint, kubeconfig) = (endpoint.to_string(), server.kubeconfig_path().to_path_buf());
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_with_kubeconfig(&args, Some(&endpoint), Some(&kubeconfig))
    })
    .await
    .unwrap()
}

/// A testkit API server at 1.29, as the EKS cluster's Kubernetes side.
async fn kubernetes_at_1_29() -> TestServer {
    TestServer::builder().server_version("v1.29.3-eks-2f008fe").start().await.unwrap()
}

fn node(name: &str, ready: bool) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
            "nodeInfo": {"kubeletVersion": "v1.29.3-eks-2f008fe", "kubeProxyVersion": "v1.29.3", "osImage": "Amazon Linux 2023",
                "kernelVersion": "6.1", "containerRuntimeVersion": "containerd://1.7.13", "operatingSystem": "linux",
                "architecture": "amd64", "machineID": "m", "systemUUID": "s", "bootID": "b"}}})
}

#[test]
fn a_target_version_that_does_not_parse_is_a_usage_error_naming_the_flag() {
    let r = run(&["--cluster", "prod", "--target-version", "latest"], None);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("--target-version"), "{r}");
    assert!(!r.stderr.contains("Using EKS cluster"), "fails before AWS is called: {r}");
    assert!(r.stdout.is_empty(), "{r}");
}

#[test]
fn a_release_version_that_does_not_parse_or_lacks_nodegroups_is_a_usage_error_naming_the_flag() {
    for bad in ["latest", "1.30", "1.30.4", "1.30.x-20240917", "1.30.4-", "1.30.4-2024/09/17"] {
        let r = run(&["--cluster", "prod", "--target-version", "1.30", "--nodegroups", "--release-version", bad], None);
        assert_eq!(r.code, Some(2), "{bad}: {r}");
        assert!(r.stderr.contains("--release-version"), "{bad}: {r}");
        assert!(!r.stderr.contains("Using EKS cluster"), "fails before AWS is called: {r}");
    }
    // Without --nodegroups there is no node group to give it to.
    for flag in [&["--release-version", "1.30.4-20240917"][..], &["--nodegroup-force"][..]] {
        let mut args = vec!["--cluster", "prod", "--target-version", "1.30"];
        args.extend_from_slice(flag);
        let r = run(&args, None);
        assert_eq!(r.code, Some(2), "{flag:?}: {r}");
        assert!(r.stderr.contains(flag[0]) && r.stderr.contains("--nodegroups"), "{flag:?}: {r}");
    }
}

#[test]
fn a_timeout_that_does_not_parse_is_a_usage_error_naming_the_flag() {
    let r = run(&["--cluster", "prod", "--target-version", "1.30", "--timeout", "soon"], None);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("--timeout"), "{r}");
    let r = run(&["--target-version", "1.30"], None);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("--cluster"), "{r}");
}

/// A cluster at 1.29 with node group `workers` at 1.29, in moto.
async fn moto_cluster(endpoint: &str) -> String {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(eks::config::Credentials::new("testing", "testing", None, None, "static"))
        .load()
        .await;
    let client = eks::Client::new(&sdk);
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let name = format!("upgrade-{n:x}");
    client
        .create_cluster()
        .name(&name)
        .version("1.29")
        .role_arn("arn:aws:iam::123456789012:role/eks")
        .resources_vpc_config(eks::types::VpcConfigRequest::builder().subnet_ids("subnet-1").build())
        .send()
        .await
        .unwrap();
    client
        .create_nodegroup()
        .cluster_name(&name)
        .nodegroup_name("workers")
        .version("1.29")
        .node_role("arn:aws:iam::123456789012:role/node")
        .subnets("subnet-1")
        .send()
        .await
        .unwrap();
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_against_moto_prints_the_cluster_the_preflight_and_the_plan_and_changes_nothing() {
    let Some(endpoint) = k8sops_testkit::e2e::moto_endpoint() else { return };
    let name = moto_cluster(&endpoint).await;
    let server = kubernetes_at_1_29().await;
    server.insert(&node("ip-10-0-1-1", true)).unwrap();
    let args = [
        "--cluster",
        &name,
        "--target-version",
        "1.30",
        "--nodegroups",
        "--release-version",
        "1.30.4-20240917",
        "--dry-run",
    ];
    let r = run_against(&server, &args, &endpoint).await;
    assert_eq!(r.code, Some(0), "{r}");
    let first = r.stderr.lines().next().unwrap_or("");
    assert_eq!(first, format!("Using EKS cluster {name} in AWS region us-east-1, endpoint {endpoint}"), "{r}");
    assert!(r.stdout.contains(&format!("EKS cluster {name}: Kubernetes 1.29, platform version eks.")), "{r}");
    // The preflight of the cluster's API server, to the target.
    assert!(r.stdout.contains("Upgrade preflight: v1.29.3-eks-2f008fe -> 1.30 (via v1.30)"), "{r}");
    assert!(r.stdout.contains("nodes-ready") && r.stdout.contains("0 failed"), "{r}");
    // moto's cluster endpoint is not the testkit server's: said, not fatal.
    assert!(r.stderr.contains("warning: the preflight reads context"), "{r}");
    // The group's current AMI release (moto's) and the one asked for.
    let group = r.stdout.lines().find(|l| l.starts_with("node group workers:")).unwrap_or_default();
    assert!(group.starts_with("node group workers: Kubernetes 1.29 (release "), "{r}");
    assert!(group.ends_with(") -> 1.30 (release 1.30.4-20240917)"), "{r}");
    assert!(
        r.stdout
            .contains("dry run (client): control plane 1.29 -> 1.30, 1 node group(s) to update; nothing was changed"),
        "{r}"
    );
    // moto serves neither insights nor add-on versions: said, not fatal; the preflight has no EKS findings then.
    assert!(r.stderr.contains("warning: cannot read EKS upgrade insights"), "{r}");
    assert!(r.stderr.contains("warning: cannot compare EKS add-on versions"), "{r}");
    assert!(!r.stdout.contains("upgrade-insights"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_preflight_check_stops_the_upgrade_unless_forced() {
    let Some(endpoint) = k8sops_testkit::e2e::moto_endpoint() else { return };
    let name = moto_cluster(&endpoint).await;
    let server = kubernetes_at_1_29().await;
    server.insert(&node("ip-10-0-1-2", false)).unwrap();
    let r = run_against(&server, &["--cluster", &name, "--target-version", "1.30", "--dry-run"], &endpoint).await;
    assert_eq!(r.code, Some(1), "{r}");
    assert!(r.stdout.contains("[FAIL] nodes-ready") && r.stdout.contains("ip-10-0-1-2"), "{r}");
    assert!(r.stderr.contains("error: preflight check(s) failed: nodes-ready; fix them, or pass --force"), "{r}");
    assert!(!r.stdout.contains("dry run"), "{r}");

    let r = run_against(&server, &["--cluster", &name, "--target-version", "1.30", "--dry-run", "--force"], &endpoint)
        .await;
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stderr.contains("warning: preflight check(s) failed: nodes-ready; going on because of --force"), "{r}");
    assert!(r.stdout.contains("dry run (client): control plane 1.29 -> 1.30"), "{r}");
}

#[tokio::test]
async fn without_a_kubeconfig_there_is_no_preflight_and_nothing_changes() {
    let Some(endpoint) = k8sops_testkit::e2e::moto_endpoint() else { return };
    let name = moto_cluster(&endpoint).await;
    let r = run(&["--cluster", &name, "--target-version", "1.30"], Some(&endpoint));
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("error: no kubeconfig found"), "{r}");
    assert!(r.stderr.contains(&format!("aws eks update-kubeconfig --name {name}")), "{r}");
    assert!(!r.stderr.contains("demo cluster"), "never the demo cluster unless asked: {r}");
}

#[tokio::test]
async fn a_target_that_skips_a_minor_is_refused_against_moto() {
    let Some(endpoint) = k8sops_testkit::e2e::moto_endpoint() else { return };
    let name = moto_cluster(&endpoint).await;
    let r = run(&["--cluster", &name, "--target-version", "1.31"], Some(&endpoint));
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("--target-version must be 1.30; nothing was changed"), "{r}");
    let r = run(&["--cluster", "no-such-cluster", "--target-version", "1.30"], Some(&endpoint));
    assert_eq!(r.code, Some(1), "{r}");
    assert!(r.stderr.contains("EKS cluster no-such-cluster not found"), "{r}");
}
