//! `eks_config_backup` against moto's server mode, the cluster made with the
//! AWS CLI: the document is saved owner-only, a cluster that does not exist
//! exits 1, and missing arguments exit 2.
#![cfg(feature = "aws")]

mod support;

use std::{ffi::OsStr, os::unix::fs::PermissionsExt, process::Command};

use support::Run;

/// Test credentials and region, for the example and the AWS CLI alike.
const AWS_TEST_ENV: [(&str, &str); 4] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
];

fn with_aws_env(cmd: &mut Command, endpoint: &str) {
    cmd.envs(AWS_TEST_ENV).env("AWS_ENDPOINT_URL", endpoint);
}

fn run(endpoint: &str, args: &[&str]) -> Run {
    let mut env: Vec<(&str, &dyn AsRef<OsStr>)> =
        AWS_TEST_ENV.iter().map(|(k, v)| (*k, v as &dyn AsRef<OsStr>)).collect();
    env.push(("AWS_ENDPOINT_URL", &endpoint));
    support::run("eks_config_backup", args, &env)
}

#[test]
fn saves_the_cluster_document_owner_only_and_fails_cleanly_for_a_missing_cluster() {
    let Some(endpoint) = k8sops_testkit::e2e::moto_endpoint() else { return };
    let name = format!("k8sops-example-{}", std::process::id());
    let mut create = Command::new("aws");
    create.args([
        "eks",
        "create-cluster",
        "--name",
        &name,
        "--role-arn",
        "arn:aws:iam::123456789012:role/eks",
        "--resources-vpc-config",
        "subnetIds=subnet-1",
        "--endpoint-url",
        &endpoint,
    ]);
    with_aws_env(&mut create, &endpoint);
    let out = create.output().expect("the AWS CLI runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("backup");
    let r = run(&endpoint, &["--cluster", &name, "--output", target.to_str().unwrap()]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.starts_with(&format!("Saved {}", target.join("eks-cluster.json").display())), "{r}");
    let file = target.join("eks-cluster.json");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o700);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(doc["cluster"]["name"], name.as_str());

    let r = run(&endpoint, &["--cluster", "no-such-cluster", "--stdout"]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(r.stderr.contains("ResourceNotFoundException"), "{r}");

    let r = run(&endpoint, &["--cluster", &name]);
    assert_eq!(r.code, Some(2), "--output or --stdout is required: {r}");
    assert!(r.stderr.contains("--output"), "{r}");
}
