//! EKS configuration backup against moto's server mode, with the AWS CLI
//! (`aws eks describe-cluster` / `describe-nodegroup`) against the same moto as
//! the oracle for the document's fields. moto does not serve the add-on APIs:
//! their absence must be a note, not a failure.
#![cfg(feature = "aws")]

use std::{process::Command, sync::Arc};

use aws_sdk_eks::types::{NodegroupScalingConfig, VpcConfigRequest};
use k8sops_backup::{eks, Error};
use k8sops_core::backend::BackupStore;
use serde_json::Value;

async fn moto() -> Option<(String, aws_sdk_eks::Client)> {
    let endpoint = k8sops_testkit::e2e::moto_endpoint()?;
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    Some((endpoint, aws_sdk_eks::Client::new(&sdk)))
}

fn aws_cli(endpoint: &str, args: &[&str]) -> Value {
    let out = Command::new("aws")
        .args(args)
        .args(["--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .expect("the AWS CLI runs (scripts/install-deps.sh installs it)");
    assert!(out.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every field k8sops wrote equals the CLI's, timestamps compared as instants.
fn assert_same_fields(ours: &Value, cli: &Value, path: &str) {
    match (ours, cli) {
        (Value::Object(o), Value::Object(c)) => {
            for (k, v) in o {
                // The SDK reads an absent boolean as false (moto omits endpointPrivateAccess;
                // EKS always sends it).
                if v == &Value::Bool(false) && !c.contains_key(k) {
                    continue;
                }
                let there = c.get(k).unwrap_or_else(|| panic!("{path}.{k} is not in the CLI's output: {cli}"));
                assert_same_fields(v, there, &format!("{path}.{k}"));
            }
        }
        (Value::Array(o), Value::Array(c)) => {
            assert_eq!(o.len(), c.len(), "{path}");
            for (i, (a, b)) in o.iter().zip(c).enumerate() {
                assert_same_fields(a, b, &format!("{path}[{i}]"));
            }
        }
        // AWS CLI v1 prints the wire's epoch seconds, v2 an ISO 8601 string.
        (Value::String(a), b) if path.ends_with("At") => {
            let a: jiff::Timestamp = a.parse().unwrap();
            let b = match b {
                Value::Number(n) => n.as_f64().unwrap() as i64,
                Value::String(s) => s.parse::<jiff::Timestamp>().unwrap().as_second(),
                other => panic!("{path}: {other}"),
            };
            assert_eq!(a.as_second(), b, "{path}");
        }
        (a, b) => assert_eq!(a, b, "{path}"),
    }
}

#[tokio::test]
async fn the_document_matches_the_aws_cli_and_lands_in_the_store() {
    let Some((endpoint, eks)) = moto().await else { return };
    let name = format!("k8sops-backup-{}", std::process::id());
    eks.create_cluster()
        .name(&name)
        .version("1.29")
        .role_arn("arn:aws:iam::123456789012:role/eks")
        .resources_vpc_config(VpcConfigRequest::builder().subnet_ids("subnet-1").subnet_ids("subnet-2").build())
        .tags("team", "platform")
        .send()
        .await
        .unwrap();
    for g in ["general", "spot"] {
        eks.create_nodegroup()
            .cluster_name(&name)
            .nodegroup_name(g)
            .node_role("arn:aws:iam::123456789012:role/node")
            .subnets("subnet-1")
            .scaling_config(NodegroupScalingConfig::builder().min_size(1).max_size(5).desired_size(2).build())
            .labels("pool", g)
            .send()
            .await
            .unwrap();
    }

    let config = eks::describe(&eks, &name).await.unwrap();
    let cli = aws_cli(&endpoint, &["eks", "describe-cluster", "--name", &name]);
    assert_same_fields(&config.cluster, &cli["cluster"], "cluster");
    assert_eq!(config.cluster["name"], name.as_str());
    assert_eq!(config.cluster["tags"]["team"], "platform");
    assert_eq!(config.nodegroups.len(), 2);
    for g in &config.nodegroups {
        let group = g["nodegroupName"].as_str().unwrap();
        let cli =
            aws_cli(&endpoint, &["eks", "describe-nodegroup", "--cluster-name", &name, "--nodegroup-name", group]);
        assert_same_fields(g, &cli["nodegroup"], group);
        assert_eq!(g["scalingConfig"]["desiredSize"], 2);
    }

    // Add-ons: whatever moto answers, the rest is saved and a failure is a note.
    match aws_cli_status(&endpoint, &["eks", "list-addons", "--cluster-name", &name]) {
        true => assert!(config.notes.is_empty(), "{:?}", config.notes),
        false => assert!(config.notes.iter().any(|n| n.contains("add-ons not listed")), "{:?}", config.notes),
    }

    let dir = tempfile::tempdir().unwrap();
    let store: BackupStore = Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let key = eks::save(&store, "nightly/", &config).await.unwrap();
    assert_eq!(key, "nightly/eks-cluster.json");
    let saved: eks::EksClusterConfig =
        serde_json::from_slice(&std::fs::read(dir.path().join("nightly/eks-cluster.json")).unwrap()).unwrap();
    assert_eq!(saved, config);
}

fn aws_cli_status(endpoint: &str, args: &[&str]) -> bool {
    Command::new("aws")
        .args(args)
        .args(["--endpoint-url", endpoint, "--region", "us-east-1"])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[tokio::test]
async fn a_cluster_that_does_not_exist_is_a_typed_error() {
    let Some((_, eks)) = moto().await else { return };
    let err = eks::describe(&eks, "no-such-cluster").await.unwrap_err();
    match &err {
        Error::Aws { operation, message, .. } => {
            assert_eq!(*operation, "DescribeCluster");
            assert!(message.contains("ResourceNotFoundException"), "{message}");
        }
        other => panic!("expected an AWS error, got {other:?}"),
    }
    let err = eks::describe(&eks, "").await.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::InvalidInput { .. })), "{err:?}");
}
