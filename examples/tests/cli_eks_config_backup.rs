//! `eks_config_backup` against moto's server mode, the cluster made with the
//! AWS CLI: the document is saved owner-only, a cluster that does not exist
//! exits 1, and missing arguments exit 2.
#![cfg(feature = "aws")]

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Output},
};

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let dir = exe.parent().and_then(Path::parent).expect("target/debug");
    dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

fn with_aws_env(cmd: &mut Command, endpoint: &str) {
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint);
}

fn run(endpoint: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(example("eks_config_backup"));
    cmd.args(args);
    with_aws_env(&mut cmd, endpoint);
    cmd.output().expect("run eks_config_backup")
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
    let out = run(&endpoint, &["--cluster", &name, "--output", target.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with(&format!("Saved {}", target.join("eks-cluster.json").display())), "{stdout}");
    let file = target.join("eks-cluster.json");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o700);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(doc["cluster"]["name"], name.as_str());

    let out = run(&endpoint, &["--cluster", "no-such-cluster", "--stdout"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ResourceNotFoundException"));

    let out = run(&endpoint, &["--cluster", &name]);
    assert_eq!(out.status.code(), Some(2), "--output or --stdout is required");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--output"));
}
