//! Runs `eks_upgrade` as a user would: arguments that do not parse are a
//! usage error naming the flag before AWS is called; against moto
//! (`K8SOPS_MOTO_ENDPOINT`, which serves describe-cluster and node groups
//! but not insights, add-ons or updates) a dry run prints the cluster, the
//! plan and what it could not read, and a target that skips a minor is
//! refused before anything is sent.
//!
//! Every run gets an empty HOME (no AWS profile) and test credentials.
#![cfg(feature = "aws")]

mod support;

use std::ffi::OsStr;

use k8sops::upgrade::aws::{config as aws_config, eks};
use support::Run;

/// Runs the example with test credentials, region us-east-1 and, when
/// given, `AWS_ENDPOINT_URL` (the harness gives it an empty HOME: no AWS profile).
fn run(args: &[&str], endpoint: Option<&str>) -> Run {
    let mut env: Vec<(&str, &dyn AsRef<OsStr>)> =
        vec![("AWS_ACCESS_KEY_ID", &"testing"), ("AWS_SECRET_ACCESS_KEY", &"testing"), ("AWS_REGION", &"us-east-1")];
    if let Some(e) = &endpoint {
        env.push(("AWS_ENDPOINT_URL", e));
    }
    support::run("eks_upgrade", args, &env)
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

#[tokio::test]
async fn a_dry_run_against_moto_prints_the_cluster_and_the_plan_and_changes_nothing() {
    let Some(endpoint) = k8sops_testkit::e2e::moto_endpoint() else { return };
    let name = moto_cluster(&endpoint).await;
    let r = run(&["--cluster", &name, "--target-version", "1.30", "--nodegroups", "--dry-run"], Some(&endpoint));
    assert_eq!(r.code, Some(0), "{r}");
    let first = r.stderr.lines().next().unwrap_or("");
    assert_eq!(first, format!("Using EKS cluster {name} in AWS region us-east-1, endpoint {endpoint}"), "{r}");
    assert!(r.stdout.contains(&format!("EKS cluster {name}: Kubernetes 1.29, platform version eks.")), "{r}");
    assert!(r.stdout.contains("node group workers: Kubernetes 1.29 -> 1.30"), "{r}");
    assert!(
        r.stdout
            .contains("dry run (client): control plane 1.29 -> 1.30, 1 node group(s) to update; nothing was changed"),
        "{r}"
    );
    // moto serves neither insights nor add-on versions: said, not fatal.
    assert!(r.stderr.contains("warning: cannot read EKS upgrade insights"), "{r}");
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
