//! The EKS and Auto Scaling backends against moto's server mode
//! (`K8SOPS_MOTO_ENDPOINT`, started by scripts/test.sh), and aws-smithy-mocks
//! for what moto does not serve (DescribeUpdate, UpdateNodegroupVersion,
//! throttling).
#![cfg(feature = "aws")]

use aws_sdk_autoscaling::Client as AsgClient;
use aws_sdk_eks::{
    config::{Credentials, Region},
    types::{NodegroupScalingConfig, VpcConfigRequest},
    Client as EksClient,
};
use aws_smithy_mocks::{mock, mock_client};
use k8sops_core::{
    backend::{NodeGroups, ScalingUpdate, UpdateStatus},
    conformance, Error, KubeVersion,
};
use k8sops_nodes::aws::{AutoScalingNodeGroups, EksNodeGroups};

async fn moto() -> Option<aws_config::SdkConfig> {
    // Skips, or fails under K8SOPS_REQUIRE_E2E=1, when moto is not running.
    let endpoint = k8sops_testkit::e2e::moto_endpoint()?;
    Some(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "static"))
            .load()
            .await,
    )
}

fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}-{n:x}")
}

/// An Auto Scaling group with `desired` instances (moto launches them).
async fn create_asg(sdk: &aws_config::SdkConfig, name: &str, min: i32, max: i32, desired: i32) {
    let asg = AsgClient::new(sdk);
    let lc = format!("{name}-lc");
    asg.create_launch_configuration()
        .launch_configuration_name(&lc)
        .image_id("ami-12c6146b")
        .instance_type("m5.large")
        .send()
        .await
        .unwrap();
    asg.create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_configuration_name(&lc)
        .min_size(min)
        .max_size(max)
        .desired_capacity(desired)
        .availability_zones("us-east-1a")
        .send()
        .await
        .unwrap();
}

/// An EKS cluster with node group `workers` (min 1, max 5, desired 2), and the
/// Auto Scaling group moto names for it (moto does not create it itself).
async fn create_eks(sdk: &aws_config::SdkConfig) -> String {
    let eks = EksClient::new(sdk);
    let cluster = unique("prod");
    eks.create_cluster()
        .name(&cluster)
        .role_arn("arn:aws:iam::123456789012:role/eks")
        .resources_vpc_config(VpcConfigRequest::builder().subnet_ids("subnet-1").build())
        .send()
        .await
        .unwrap();
    let ng = eks
        .create_nodegroup()
        .cluster_name(&cluster)
        .nodegroup_name("workers")
        .node_role("arn:aws:iam::123456789012:role/node")
        .subnets("subnet-1")
        .scaling_config(NodegroupScalingConfig::builder().min_size(1).max_size(5).desired_size(2).build())
        .instance_types("m5.large")
        .send()
        .await
        .unwrap();
    let asg_name = ng
        .nodegroup()
        .and_then(|n| n.resources())
        .and_then(|r| r.auto_scaling_groups().first())
        .and_then(|a| a.name())
        .unwrap()
        .to_string();
    create_asg(sdk, &asg_name, 1, 5, 2).await;
    cluster
}

#[tokio::test]
async fn eks_node_groups_conform() {
    let Some(sdk) = moto().await else { return };
    let cluster = create_eks(&sdk).await;
    let eks = EksNodeGroups::new(&sdk, &cluster);
    conformance::node_groups(&eks, "workers").await;
}

#[tokio::test]
async fn eks_describe_maps_scaling_instances_and_asg() {
    let Some(sdk) = moto().await else { return };
    let cluster = create_eks(&sdk).await;
    let eks = EksNodeGroups::new(&sdk, &cluster);
    let g = eks.describe("workers").await.unwrap();
    assert_eq!((g.scaling.min, g.scaling.max, g.scaling.desired), (1, 5, 2));
    assert_eq!(g.instance_types, ["m5.large"]);
    assert_eq!(g.auto_scaling_groups.len(), 1);
    assert_eq!(g.instances.len(), 2, "instances come from the node group's Auto Scaling group");
    assert_eq!(eks.list().await.unwrap(), ["workers"]);

    // Terminating through the node group removes that exact instance and lowers desired.
    let victim = g.instances[0].id.clone();
    eks.terminate_instance("workers", &victim, true).await.unwrap();
    let asg = AutoScalingNodeGroups::new(&sdk).describe(&g.auto_scaling_groups[0]).await.unwrap();
    assert_eq!(asg.scaling.desired, 1);
    assert!(asg.instances.iter().all(|i| i.id != victim));
}

#[tokio::test]
async fn eks_invalid_scaling_and_unknown_group_are_typed() {
    let Some(sdk) = moto().await else { return };
    let cluster = create_eks(&sdk).await;
    let eks = EksNodeGroups::new(&sdk, &cluster);
    let err = eks
        .update_scaling("workers", &ScalingUpdate { min: Some(4), desired: Some(3), ..Default::default() })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(err.to_string().contains("min (4) <= desired (3) <= max (5)"), "{err}");
    let err = eks.describe("nope").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn auto_scaling_groups_conform() {
    let Some(sdk) = moto().await else { return };
    let name = unique("asg");
    create_asg(&sdk, &name, 1, 6, 3).await;
    conformance::node_groups(&AutoScalingNodeGroups::new(&sdk), &name).await;
}

#[tokio::test]
async fn auto_scaling_sets_desired_and_terminates_with_decrement() {
    let Some(sdk) = moto().await else { return };
    let name = unique("asg");
    create_asg(&sdk, &name, 1, 6, 3).await;
    let asg = AutoScalingNodeGroups::new(&sdk);
    let update = asg
        .update_scaling(&name, &ScalingUpdate { desired: Some(5), honor_cooldown: false, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(asg.describe_update(&name, &update.id).await.unwrap().status, UpdateStatus::Successful);
    let g = asg.describe(&name).await.unwrap();
    assert_eq!(g.scaling.desired, 5);
    let victim = g.instances[0].id.clone();
    asg.terminate_instance(&name, &victim, true).await.unwrap();
    let g = asg.describe(&name).await.unwrap();
    assert_eq!(g.scaling.desired, 4);
    assert!(g.instances.iter().all(|i| i.id != victim));
    assert!(asg.update_version(&name, &KubeVersion::new(1, 30, 0)).await.is_err());
}

#[tokio::test]
async fn describe_update_and_version_update_through_mocks() {
    use aws_sdk_eks::{
        operation::{describe_update::DescribeUpdateOutput, update_nodegroup_version::UpdateNodegroupVersionOutput},
        types::{Update, UpdateStatus as EksStatus, UpdateType},
    };
    let start = mock!(EksClient::update_nodegroup_version)
        .match_requests(|r| r.version() == Some("1.30") && r.nodegroup_name() == Some("workers"))
        .then_output(|| {
            UpdateNodegroupVersionOutput::builder()
                .update(
                    Update::builder().id("u-1").status(EksStatus::InProgress).r#type(UpdateType::VersionUpdate).build(),
                )
                .build()
        });
    let poll = mock!(EksClient::describe_update)
        .match_requests(|r| r.update_id() == Some("u-1") && r.name() == Some("prod"))
        .then_output(|| {
            DescribeUpdateOutput::builder()
                .update(
                    Update::builder().id("u-1").status(EksStatus::Successful).r#type(UpdateType::VersionUpdate).build(),
                )
                .build()
        });
    let eks = mock_client!(aws_sdk_eks, [&start, &poll]);
    let asg = mock_client!(aws_sdk_autoscaling, []);
    let groups = EksNodeGroups::from_clients(eks, asg, "prod");
    let u = groups.update_version("workers", &"v1.30.2".parse().unwrap()).await.unwrap();
    assert_eq!((u.id.as_str(), u.status, u.kind.as_str()), ("u-1", UpdateStatus::InProgress, "VersionUpdate"));
    assert_eq!(groups.describe_update("workers", "u-1").await.unwrap().status, UpdateStatus::Successful);
}

#[tokio::test]
async fn throttling_is_a_typed_transient_error() {
    use aws_sdk_eks::{error::ErrorMetadata, operation::describe_nodegroup::DescribeNodegroupError};
    let throttled = mock!(EksClient::describe_nodegroup).then_error(|| {
        DescribeNodegroupError::generic(
            ErrorMetadata::builder().code("ThrottlingException").message("Rate exceeded").build(),
        )
    });
    let eks = mock_client!(aws_sdk_eks, [&throttled]);
    let groups = EksNodeGroups::from_clients(eks, mock_client!(aws_sdk_autoscaling, []), "prod");
    let err = groups.describe("workers").await.unwrap_err();
    assert!(matches!(err, Error::Throttled { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test(start_paused = true)]
async fn waiting_for_an_update_polls_until_it_finishes() {
    use aws_sdk_eks::{
        operation::describe_update::DescribeUpdateOutput,
        types::{Update, UpdateStatus as EksStatus},
    };
    use aws_smithy_mocks::RuleMode;
    let in_progress = || {
        mock!(EksClient::describe_update).then_output(|| {
            DescribeUpdateOutput::builder()
                .update(Update::builder().id("u-9").status(EksStatus::InProgress).build())
                .build()
        })
    };
    let (first, second) = (in_progress(), in_progress());
    let done = mock!(EksClient::describe_update).then_output(|| {
        DescribeUpdateOutput::builder()
            .update(Update::builder().id("u-9").status(EksStatus::Successful).build())
            .build()
    });
    let eks = mock_client!(aws_sdk_eks, RuleMode::Sequential, [&first, &second, &done]);
    let groups = EksNodeGroups::from_clients(eks, mock_client!(aws_sdk_autoscaling, []), "prod");
    let seen = k8sops_core::Recorder::default();
    let interval = std::time::Duration::from_secs(15);
    let update = k8sops_nodes::node_group::wait_for_update(&groups, "workers", "u-9", interval, interval * 10, &seen)
        .await
        .unwrap();
    assert_eq!(update.status, UpdateStatus::Successful);
    let statuses: Vec<UpdateStatus> =
        seen.events().into_iter().map(|p: k8sops_nodes::node_group::UpdateProgress| p.update.status).collect();
    assert_eq!(statuses, [UpdateStatus::InProgress, UpdateStatus::InProgress, UpdateStatus::Successful]);
}
