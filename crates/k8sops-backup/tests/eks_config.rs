//! EKS configuration backup against moto's server mode, with the AWS CLI
//! (`aws eks describe-cluster` / `describe-nodegroup`) against the same moto as
//! the oracle for the document's fields. moto does not serve the add-on APIs:
//! their absence must be a note, not a failure. The add-ons themselves
//! (ListAddons, DescribeAddon) and a DescribeCluster answer without a cluster
//! run on aws-smithy-mocks.
#![cfg(feature = "aws")]

use std::{process::Command, sync::Arc};

use aws_sdk_eks::{
    error::ErrorMetadata,
    operation::{
        describe_addon::{DescribeAddonError, DescribeAddonOutput},
        describe_cluster::DescribeClusterOutput,
        list_addons::{ListAddonsError, ListAddonsOutput},
        list_nodegroups::ListNodegroupsOutput,
    },
    primitives::DateTime,
    types::{
        Addon, AddonHealth, AddonIssue, AddonIssueCode, AddonNamespaceConfigResponse, AddonStatus, Cluster,
        ClusterStatus, MarketplaceInformation, NodegroupScalingConfig, VpcConfigRequest,
    },
    Client as EksClient,
};
use aws_smithy_mocks::{mock, mock_client, MockResponse, RuleMode};
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
        false => {
            let note = config.notes.iter().find(|n| n.operation == "ListAddons").expect("a ListAddons note");
            assert!(note.to_string().starts_with("add-ons not listed: AWS ListAddons: "), "{note}");
            let source = std::error::Error::source(note).expect("the SDK error is kept");
            assert!(matches!(source.downcast_ref::<Error>(), Some(Error::Aws { operation: "ListAddons", .. })));
        }
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

fn code(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

fn no_sdk_retry(c: aws_sdk_eks::config::Builder) -> aws_sdk_eks::config::Builder {
    c.retry_config(aws_sdk_eks::config::retry::RetryConfig::disabled())
}

fn at(seconds: i64) -> DateTime {
    DateTime::from_secs(seconds)
}

/// ListAddons in two pages (vpc-cni and coredns, then kube-proxy);
/// DescribeAddon answers for the first two and ResourceNotFoundException for
/// kube-proxy (deleted between the list and the describe).
#[tokio::test]
async fn addons_are_saved_in_the_describe_addon_shape_and_a_failed_one_is_a_typed_note() {
    let cluster = mock!(EksClient::describe_cluster).match_requests(|r| r.name() == Some("prod")).then_output(|| {
        DescribeClusterOutput::builder()
            .cluster(Cluster::builder().name("prod").version("1.30").status(ClusterStatus::Active).build())
            .build()
    });
    let groups = mock!(EksClient::list_nodegroups).then_output(|| ListNodegroupsOutput::builder().build());
    let page1 = mock!(EksClient::list_addons)
        .match_requests(|r| r.cluster_name() == Some("prod") && r.next_token().is_none())
        .then_output(|| ListAddonsOutput::builder().addons("vpc-cni").addons("coredns").next_token("p2").build());
    let page2 = mock!(EksClient::list_addons)
        .match_requests(|r| r.cluster_name() == Some("prod") && r.next_token() == Some("p2"))
        .then_output(|| ListAddonsOutput::builder().addons("kube-proxy").build());
    let describe = mock!(EksClient::describe_addon)
        .match_requests(|r| r.cluster_name() == Some("prod"))
        .then_compute_response(|r| {
            let addon = match r.addon_name() {
                Some("vpc-cni") => Addon::builder()
                    .addon_name("vpc-cni")
                    .cluster_name("prod")
                    .status(AddonStatus::Active)
                    .addon_version("v1.18.3-eksbuild.1")
                    .health(AddonHealth::builder().build())
                    .addon_arn("arn:aws:eks:us-east-1:123456789012:addon/prod/vpc-cni/abc")
                    .created_at(at(1_714_557_600))
                    .modified_at(at(1_714_644_000))
                    .service_account_role_arn("arn:aws:iam::123456789012:role/vpc-cni")
                    .tags("team", "network")
                    .tags("env", "prod")
                    .publisher("eks")
                    .owner("aws")
                    .configuration_values(r#"{"env":{"WARM_IP_TARGET":"5"}}"#)
                    .pod_identity_associations("arn:aws:eks:us-east-1:123456789012:podidentityassociation/prod/a-1")
                    .namespace_config(AddonNamespaceConfigResponse::builder().namespace("kube-system").build())
                    .marketplace_information(
                        MarketplaceInformation::builder()
                            .product_id("prod-1")
                            .product_url("https://example.com/p")
                            .build(),
                    )
                    .build(),
                Some("coredns") => Addon::builder()
                    .addon_name("coredns")
                    .cluster_name("prod")
                    .status(AddonStatus::Degraded)
                    .addon_version("v1.11.1-eksbuild.9")
                    .health(
                        AddonHealth::builder()
                            .issues(
                                AddonIssue::builder()
                                    .code(AddonIssueCode::InsufficientNumberOfReplicas)
                                    .message("1 of 2 replicas ready")
                                    .resource_ids("coredns")
                                    .build(),
                            )
                            .build(),
                    )
                    .created_at(at(1_714_557_600))
                    .build(),
                _ => {
                    return MockResponse::Error(DescribeAddonError::generic(code(
                        "ResourceNotFoundException",
                        "No addon: kube-proxy found in cluster: prod",
                    )))
                }
            };
            MockResponse::Output(DescribeAddonOutput::builder().addon(addon).build())
        });
    let client =
        mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&cluster, &groups, &page1, &page2, &describe], no_sdk_retry);

    let config = eks::describe(&client, "prod").await.unwrap();
    assert_eq!((page1.num_calls(), page2.num_calls(), describe.num_calls()), (1, 1, 3), "both pages, each add-on");
    assert_eq!(config.cluster["name"], "prod");

    // The failed DescribeAddon is a typed note that prints as before.
    assert_eq!(config.notes.len(), 1, "{:?}", config.notes);
    let note = &config.notes[0];
    assert_eq!((note.operation.as_str(), note.resource.as_deref()), ("DescribeAddon", Some("kube-proxy")));
    assert_eq!(
        note.to_string(),
        "add-on kube-proxy not described: AWS DescribeAddon: ResourceNotFoundException: No addon: kube-proxy found in cluster: prod"
    );
    let source = std::error::Error::source(note).expect("the SDK error is kept");
    let Some(Error::Aws { operation, .. }) = source.downcast_ref::<Error>() else { panic!("{source:?}") };
    assert_eq!(*operation, "DescribeAddon");
    let sdk = std::error::Error::source(source).expect("the SDK's own error");
    let sdk = sdk.downcast_ref::<aws_sdk_eks::error::SdkError<DescribeAddonError>>().expect("an SdkError");
    assert_eq!(aws_sdk_eks::error::ProvideErrorMetadata::code(sdk), Some("ResourceNotFoundException"));

    // The saved document: add-ons as `aws eks describe-addon` prints `addon`
    // (absent and empty fields left out), and the note as its fields.
    let dir = tempfile::tempdir().unwrap();
    let store: BackupStore = Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    eks::save(&store, "b", &config).await.unwrap();
    let bytes = std::fs::read(dir.path().join("b/eks-cluster.json")).unwrap();
    let saved: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        saved["addons"],
        serde_json::json!([
            {
                "addonName": "vpc-cni",
                "clusterName": "prod",
                "status": "ACTIVE",
                "addonVersion": "v1.18.3-eksbuild.1",
                "addonArn": "arn:aws:eks:us-east-1:123456789012:addon/prod/vpc-cni/abc",
                "createdAt": "2024-05-01T10:00:00Z",
                "modifiedAt": "2024-05-02T10:00:00Z",
                "serviceAccountRoleArn": "arn:aws:iam::123456789012:role/vpc-cni",
                "tags": { "env": "prod", "team": "network" },
                "publisher": "eks",
                "owner": "aws",
                "marketplaceInformation": { "productId": "prod-1", "productUrl": "https://example.com/p" },
                "configurationValues": "{\"env\":{\"WARM_IP_TARGET\":\"5\"}}",
                "podIdentityAssociations": ["arn:aws:eks:us-east-1:123456789012:podidentityassociation/prod/a-1"],
                "namespaceConfig": { "namespace": "kube-system" }
            },
            {
                "addonName": "coredns",
                "clusterName": "prod",
                "status": "DEGRADED",
                "addonVersion": "v1.11.1-eksbuild.9",
                "health": { "issues": [{
                    "code": "InsufficientNumberOfReplicas",
                    "message": "1 of 2 replicas ready",
                    "resourceIds": ["coredns"]
                }] },
                "createdAt": "2024-05-01T10:00:00Z"
            }
        ])
    );
    assert_eq!(
        saved["notes"],
        serde_json::json!([{
            "operation": "DescribeAddon",
            "resource": "kube-proxy",
            "message": "ResourceNotFoundException: No addon: kube-proxy found in cluster: prod"
        }])
    );
    // Read back, the document is equal (a note's source is not saved).
    let back: eks::EksClusterConfig = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(back, config);
    assert_eq!(back.notes[0].to_string(), note.to_string());
    assert!(std::error::Error::source(&back.notes[0]).is_none());
}

#[tokio::test]
async fn a_failed_addon_list_is_a_note_and_old_string_notes_still_read() {
    let cluster = mock!(EksClient::describe_cluster)
        .then_output(|| DescribeClusterOutput::builder().cluster(Cluster::builder().name("prod").build()).build());
    let groups = mock!(EksClient::list_nodegroups).then_output(|| ListNodegroupsOutput::builder().build());
    let list = mock!(EksClient::list_addons)
        .then_error(|| ListAddonsError::generic(code("AccessDeniedException", "not allowed: eks:ListAddons")));
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&cluster, &groups, &list], no_sdk_retry);
    let config = eks::describe(&client, "prod").await.unwrap();
    assert_eq!(config.notes.len(), 1, "{:?}", config.notes);
    assert_eq!(
        config.notes[0].to_string(),
        "add-ons not listed: AWS ListAddons: AccessDeniedException: not allowed: eks:ListAddons"
    );
    assert!(config.notes[0].resource.is_none());
    assert!(config.addons.is_empty());

    // A document written when notes were strings.
    let old = r#"{"cluster":{"name":"prod"},"nodegroups":[],"addons":[],"notes":["add-ons not listed: AWS ListAddons: HTTP 404"],"takenAt":"2026-01-01T00:00:00Z"}"#;
    let read: eks::EksClusterConfig = serde_json::from_str(old).unwrap();
    assert_eq!(read.notes[0].to_string(), "add-ons not listed: AWS ListAddons: HTTP 404");
    assert_eq!(read.notes[0].operation, "");
}

#[tokio::test]
async fn a_describe_cluster_answer_without_a_cluster_is_a_typed_error() {
    let empty = mock!(EksClient::describe_cluster).then_output(|| DescribeClusterOutput::builder().build());
    let groups = mock!(EksClient::list_nodegroups).then_output(|| ListNodegroupsOutput::builder().build());
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&empty, &groups], no_sdk_retry);
    let err = eks::describe(&client, "prod").await.unwrap_err();
    match &err {
        Error::Core(k8sops_core::Error::Backend { backend, message, transient, .. }) => {
            assert_eq!(backend, "EKS");
            assert!(message.contains("without a cluster"), "{message}");
            assert!(!transient);
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
    assert_eq!(groups.num_calls(), 0, "nothing else is asked once the cluster is missing");
}
