//! The EKS control-plane backend: against moto's server mode
//! (`K8SOPS_MOTO_ENDPOINT`) for what moto serves (DescribeCluster), and
//! through aws-smithy-mocks for what it does not (UpdateClusterVersion,
//! DescribeUpdate, UpdateNodegroupVersion, ListAddons, DescribeAddonVersions,
//! ListInsights, DescribeInsight): failed and cancelled updates, throttling,
//! listings whose next token repeats, and insights and add-on compatibility
//! carried into the preflight (against a testkit API server).
#![cfg(feature = "aws")]

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use aws_sdk_eks::{
    config::{Credentials, Region},
    error::ErrorMetadata,
    operation::{
        describe_addon::{DescribeAddonError, DescribeAddonOutput},
        describe_addon_versions::DescribeAddonVersionsOutput,
        describe_cluster::{DescribeClusterError, DescribeClusterOutput},
        describe_insight::DescribeInsightOutput,
        describe_update::{DescribeUpdateError, DescribeUpdateOutput},
        list_addons::ListAddonsOutput,
        list_insights::ListInsightsOutput,
        update_cluster_version::{UpdateClusterVersionError, UpdateClusterVersionOutput},
        update_nodegroup_version::UpdateNodegroupVersionOutput,
    },
    types::{
        Addon, AddonInfo, AddonVersionInfo, Category, ClientStat, Cluster as EksCluster, ClusterStatus, Compatibility,
        DeprecationDetail, ErrorCode, ErrorDetail, Insight as EksInsight, InsightCategorySpecificSummary,
        InsightResourceDetail, InsightStatus as EksInsightStatus, InsightStatusValue, InsightSummary, Update,
        UpdateStatus as EksStatus, UpdateType, VpcConfigRequest,
    },
    Client as EksClient,
};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use k8sops_core::{
    backend::{ControlPlane, UpdateStatus},
    conformance, CancellationToken, Error as CoreError, KubeVersion, Recorder, RetryPolicy,
};
use k8sops_testkit::TestServer;
use k8sops_upgrade::{
    eks::{
        ClusterUpgradeParams, EksControlPlane, Insight, InsightResource, InsightStatus, NodegroupVersionParams,
        UpdateProgress, WaitParams,
    },
    preflight::{preflight, CheckId, CheckStatus, PlatformAddon, PreflightParams, RemovedApiCheck, UpgradeInsight},
    Error,
};

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

async fn create_cluster(sdk: &aws_config::SdkConfig, version: &str) -> String {
    let name = unique("prod");
    EksClient::new(sdk)
        .create_cluster()
        .name(&name)
        .version(version)
        .role_arn("arn:aws:iam::123456789012:role/eks")
        .resources_vpc_config(VpcConfigRequest::builder().subnet_ids("subnet-1").build())
        .send()
        .await
        .unwrap();
    name
}

/// Mocked clients retry nothing themselves, as [`EksControlPlane::new`] sets
/// its client up: the retry policy is the only retry layer.
fn no_sdk_retry(c: aws_sdk_eks::config::Builder) -> aws_sdk_eks::config::Builder {
    c.retry_config(aws_sdk_eks::config::retry::RetryConfig::disabled())
}

/// A quick policy so throttling tests run in (paused) virtual time.
fn quick() -> RetryPolicy {
    RetryPolicy::default().initial_backoff(Duration::from_millis(10)).jitter(false)
}

fn cluster_output(version: &str, status: ClusterStatus) -> DescribeClusterOutput {
    DescribeClusterOutput::builder()
        .cluster(EksCluster::builder().name("prod").version(version).platform_version("eks.7").status(status).build())
        .build()
}

fn update(id: &str, status: EksStatus) -> Update {
    Update::builder().id(id).status(status).r#type(UpdateType::VersionUpdate).build()
}

fn code(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

#[tokio::test]
async fn describe_reads_version_and_platform_version_from_moto() {
    let Some(sdk) = moto().await else { return };
    let name = create_cluster(&sdk, "1.29").await;
    let eks = EksControlPlane::new(&sdk, &name);
    let info = eks.describe().await.unwrap();
    assert_eq!((info.name.as_str(), info.version.minor_string().as_str()), (name.as_str(), "1.29"));
    assert!(info.platform_version.starts_with("eks."), "{info:?}");
    assert_eq!(info.status, "ACTIVE");
    assert_eq!(eks.platform_version().await.unwrap(), info.platform_version);
    assert_eq!(ControlPlane::version(&eks).await.unwrap(), "1.29".parse::<KubeVersion>().unwrap());
}

#[tokio::test]
async fn skipping_a_minor_is_refused_before_anything_is_sent_to_moto() {
    let Some(sdk) = moto().await else { return };
    let name = create_cluster(&sdk, "1.29").await;
    let eks = EksControlPlane::new(&sdk, &name);
    // moto does not serve UpdateClusterVersion: had it been sent, the error would be moto's 404.
    let err = eks.start_upgrade(&"1.31".parse().unwrap()).await.unwrap_err();
    assert!(matches!(err, CoreError::InvalidInput { .. }), "{err:?}");
    assert!(err.to_string().contains("next minor version (1.30), not 1.31"), "{err}");
}

#[tokio::test]
async fn an_unknown_cluster_is_not_found_on_moto() {
    let Some(sdk) = moto().await else { return };
    let eks = EksControlPlane::new(&sdk, unique("nope"));
    let err = eks.describe().await.unwrap_err();
    assert!(matches!(&err, Error::Core(e) if e.is_not_found()), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn the_eks_control_plane_passes_the_core_conformance_suite() {
    let describe = mock!(EksClient::describe_cluster)
        .sequence()
        .output(|| cluster_output("1.29", ClusterStatus::Active))
        .times(3)
        .output(|| cluster_output("1.30", ClusterStatus::Active))
        .repeatedly()
        .build();
    let start = mock!(EksClient::update_cluster_version)
        .match_requests(|r| r.name() == Some("prod") && r.version() == Some("1.30"))
        .then_output(|| UpdateClusterVersionOutput::builder().update(update("u-1", EksStatus::InProgress)).build());
    let poll = mock!(EksClient::describe_update)
        .match_requests(|r| r.update_id() == Some("u-1") && r.nodegroup_name().is_none())
        .sequence()
        .output(|| DescribeUpdateOutput::builder().update(update("u-1", EksStatus::InProgress)).build())
        .output(|| DescribeUpdateOutput::builder().update(update("u-1", EksStatus::Successful)).build())
        .repeatedly()
        .build();
    let unknown = mock!(EksClient::describe_update)
        .match_requests(|r| r.update_id() == Some("no-such-update"))
        .then_error(|| {
            DescribeUpdateError::generic(code("ResourceNotFoundException", "No update found for ID: no-such-update"))
        });
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&describe, &start, &poll, &unknown], no_sdk_retry);
    let eks = EksControlPlane::from_client(client, "prod");
    conformance::control_plane(&eks, 5).await;
    assert_eq!(start.num_calls(), 1, "one update was started");
}

#[tokio::test(start_paused = true)]
async fn waiting_reports_each_poll_until_the_update_succeeds() {
    let poll = mock!(EksClient::describe_update)
        .match_requests(|r| r.name() == Some("prod") && r.update_id() == Some("u-2"))
        .sequence()
        .output(|| DescribeUpdateOutput::builder().update(update("u-2", EksStatus::InProgress)).build())
        .times(2)
        .output(|| DescribeUpdateOutput::builder().update(update("u-2", EksStatus::Successful)).build())
        .build();
    let eks =
        EksControlPlane::from_client(mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&poll], no_sdk_retry), "prod");
    let seen = Recorder::<UpdateProgress>::default();
    let params = WaitParams::default().interval(Duration::from_secs(30));
    let done = eks.wait_for_update("u-2", &params, &seen).await.unwrap();
    assert_eq!((done.id.as_str(), done.status), ("u-2", UpdateStatus::Successful));
    let polls = seen.events();
    let statuses: Vec<UpdateStatus> = polls.iter().map(|p| p.update.status).collect();
    assert_eq!(statuses, [UpdateStatus::InProgress, UpdateStatus::InProgress, UpdateStatus::Successful]);
    assert_eq!(polls[2].elapsed, Duration::from_secs(60), "two intervals of virtual time");
    assert!(polls.iter().all(|p| p.target == "EKS cluster prod"));
}

#[tokio::test(start_paused = true)]
async fn a_failed_update_is_a_typed_error_carrying_the_updates_errors() {
    let failed = mock!(EksClient::describe_update).then_output(|| {
        DescribeUpdateOutput::builder()
            .update(
                Update::builder()
                    .id("u-3")
                    .status(EksStatus::Failed)
                    .r#type(UpdateType::VersionUpdate)
                    .errors(
                        ErrorDetail::builder()
                            .error_code(ErrorCode::SubnetNotFound)
                            .error_message("subnet-1 was deleted")
                            .resource_ids("subnet-1")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let eks =
        EksControlPlane::from_client(mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&failed], no_sdk_retry), "prod");
    let err = eks.wait_for_update("u-3", &WaitParams::default(), &k8sops_core::NoProgress).await.unwrap_err();
    let Error::UpdateFailed { id, kind, status, errors, target } = &err else { panic!("{err:?}") };
    assert_eq!((id.as_str(), kind.as_str(), *status), ("u-3", "VersionUpdate", UpdateStatus::Failed));
    assert_eq!(target, "EKS cluster prod");
    assert_eq!(errors, &["SubnetNotFound: subnet-1 was deleted (subnet-1)"]);
    assert!(err.to_string().contains("subnet-1 was deleted"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_nodegroup_update_is_a_typed_error() {
    let cancelled = mock!(EksClient::describe_update)
        .match_requests(|r| r.nodegroup_name() == Some("workers") && r.update_id() == Some("u-4"))
        .then_output(|| DescribeUpdateOutput::builder().update(update("u-4", EksStatus::Cancelled)).build());
    let eks =
        EksControlPlane::from_client(mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&cancelled], no_sdk_retry), "prod");
    let err = eks
        .wait_for_nodegroup_update("workers", "u-4", &WaitParams::default(), &k8sops_core::NoProgress)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::UpdateFailed { status: UpdateStatus::Cancelled, target, .. } if target == "node group workers of EKS cluster prod"),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_says_the_update_goes_on_in_aws() {
    let running = mock!(EksClient::describe_update)
        .then_output(|| DescribeUpdateOutput::builder().update(update("u-5", EksStatus::InProgress)).build());
    let eks =
        EksControlPlane::from_client(mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&running], no_sdk_retry), "prod");
    let params = WaitParams::default().interval(Duration::from_secs(30)).timeout(Duration::from_secs(100));
    let err = eks.wait_for_update("u-5", &params, &k8sops_core::NoProgress).await.unwrap_err();
    assert!(
        matches!(&err, Error::Core(CoreError::Timeout { after, .. }) if *after == Duration::from_secs(100)),
        "{err:?}"
    );
    assert!(err.to_string().contains("goes on in AWS"), "{err}");
    assert!(err.to_string().contains("--update-id u-5"), "{err}");
    assert_eq!(running.num_calls(), 4, "polled at 0, 30, 60 and 90 s; another 30 s would pass the limit");
}

#[tokio::test(start_paused = true)]
async fn cancelling_stops_the_waiting_only() {
    let running = mock!(EksClient::describe_update)
        .then_output(|| DescribeUpdateOutput::builder().update(update("u-6", EksStatus::InProgress)).build());
    let eks =
        EksControlPlane::from_client(mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&running], no_sdk_retry), "prod");
    let token = CancellationToken::new();
    let cancel_on_second_poll = {
        let token = token.clone();
        move |p: UpdateProgress| {
            if p.elapsed >= Duration::from_secs(30) {
                token.cancel();
            }
        }
    };
    let params = WaitParams::default().cancel(token.clone());
    let err = eks.wait_for_update("u-6", &params, &cancel_on_second_poll).await.unwrap_err();
    assert!(matches!(&err, Error::Core(CoreError::Cancelled { .. })), "{err:?}");
    assert!(err.to_string().contains("goes on in AWS"), "{err}");
    assert_eq!(running.num_calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn throttling_is_retried_until_the_call_succeeds() {
    let poll = mock!(EksClient::describe_update)
        .sequence()
        .error(|| DescribeUpdateError::generic(code("ThrottlingException", "Rate exceeded")))
        .times(2)
        .output(|| DescribeUpdateOutput::builder().update(update("u-7", EksStatus::Successful)).build())
        .build();
    let eks =
        EksControlPlane::from_client(mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&poll], no_sdk_retry), "prod")
            .retry(quick());
    let done = eks.wait_for_update("u-7", &WaitParams::default(), &k8sops_core::NoProgress).await.unwrap();
    assert_eq!(done.status, UpdateStatus::Successful);
    assert_eq!(poll.num_calls(), 3, "two throttled calls, then the answer");
}

#[tokio::test(start_paused = true)]
async fn persistent_throttling_is_a_typed_transient_error() {
    // A bare HTTP 429 without an error code is throttling too.
    let throttled = mock!(EksClient::describe_cluster)
        .sequence()
        .http_status(429, Some(r#"{"message":"Too Many Requests"}"#.into()))
        .repeatedly()
        .build();
    let coded = mock!(EksClient::describe_update)
        .then_error(|| DescribeUpdateError::generic(code("ThrottlingException", "Rate exceeded")));
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&throttled, &coded], no_sdk_retry);
    let eks = EksControlPlane::from_client(client, "prod").retry(quick().max_attempts(3));
    let err = eks.describe().await.unwrap_err();
    assert!(matches!(&err, Error::Core(CoreError::Throttled { .. })), "{err:?}");
    assert_eq!(throttled.num_calls(), 3, "the retry policy's three attempts");
    let err = ControlPlane::describe_update(&eks, "u-8").await.unwrap_err();
    assert!(matches!(&err, CoreError::Throttled { .. }) && err.is_transient(), "{err:?}");
    assert_eq!(coded.num_calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn starting_an_upgrade_sends_the_next_minor_and_retries_with_one_token() {
    let describe = mock!(EksClient::describe_cluster).then_output(|| cluster_output("1.29", ClusterStatus::Active));
    let tokens = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = tokens.clone();
    let start = mock!(EksClient::update_cluster_version)
        .match_requests(move |r| {
            seen.lock().unwrap().push(r.client_request_token().unwrap_or_default().to_string());
            r.name() == Some("prod") && r.version() == Some("1.30") && r.force() == Some(true)
        })
        .sequence()
        .error(|| UpdateClusterVersionError::generic(code("ThrottlingException", "Rate exceeded")))
        .output(|| UpdateClusterVersionOutput::builder().update(update("u-9", EksStatus::InProgress)).build())
        .build();
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&describe, &start], no_sdk_retry);
    let eks = EksControlPlane::from_client(client, "prod").retry(quick());
    let u =
        eks.start_upgrade_with(&"1.30".parse().unwrap(), &ClusterUpgradeParams::default().force(true)).await.unwrap();
    assert_eq!((u.id.as_str(), u.status, u.kind.as_str()), ("u-9", UpdateStatus::InProgress, "VersionUpdate"));
    let tokens = tokens.lock().unwrap().clone();
    assert_eq!(tokens.len(), 2, "throttled once, then accepted");
    assert!(!tokens[0].is_empty() && tokens[0] == tokens[1], "the retry reuses the idempotency token: {tokens:?}");
}

#[tokio::test]
async fn an_upgrade_of_a_cluster_that_is_not_active_is_refused_before_it_is_sent() {
    let describe = mock!(EksClient::describe_cluster).then_output(|| cluster_output("1.29", ClusterStatus::Updating));
    let start = mock!(EksClient::update_cluster_version)
        .then_output(|| UpdateClusterVersionOutput::builder().update(update("u-x", EksStatus::InProgress)).build());
    let eks = EksControlPlane::from_client(
        mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&describe, &start], no_sdk_retry),
        "prod",
    );
    let err = eks.start_upgrade(&"1.30".parse().unwrap()).await.unwrap_err();
    assert!(matches!(err, CoreError::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("UPDATING"), "{err}");
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn access_denied_names_the_missing_permission() {
    let denied = mock!(EksClient::describe_cluster).then_error(|| {
        DescribeClusterError::generic(code(
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: eks:DescribeCluster",
        ))
    });
    let eks =
        EksControlPlane::from_client(mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&denied], no_sdk_retry), "prod");
    let err = eks.describe().await.unwrap_err();
    assert!(matches!(&err, Error::Core(CoreError::AccessDenied { .. })), "{err:?}");
    assert!(err.to_string().contains("eks:DescribeCluster"), "{err}");
}

#[tokio::test]
async fn nodegroup_version_updates_send_version_release_and_force() {
    let describe = mock!(EksClient::describe_cluster).then_output(|| cluster_output("1.30", ClusterStatus::Active));
    let to_version = mock!(EksClient::update_nodegroup_version)
        .match_requests(|r| {
            r.cluster_name() == Some("prod")
                && r.nodegroup_name() == Some("workers")
                && r.version() == Some("1.30")
                && r.release_version().is_none()
                && r.force() == Some(true)
        })
        .then_output(|| UpdateNodegroupVersionOutput::builder().update(update("ng-1", EksStatus::InProgress)).build());
    let to_release = mock!(EksClient::update_nodegroup_version)
        .match_requests(|r| {
            r.nodegroup_name() == Some("spot")
                && r.version().is_none()
                && r.release_version() == Some("1.30.4-20240917")
                && r.force() == Some(false)
        })
        .then_output(|| UpdateNodegroupVersionOutput::builder().update(update("ng-2", EksStatus::InProgress)).build());
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&describe, &to_version, &to_release], no_sdk_retry);
    let eks = EksControlPlane::from_client(client, "prod");
    let u = eks
        .update_nodegroup_version(
            "workers",
            &NodegroupVersionParams::default().version("1.30".parse().unwrap()).force(true),
        )
        .await
        .unwrap();
    assert_eq!(u.id, "ng-1");
    let u = eks
        .update_nodegroup_version("spot", &NodegroupVersionParams::default().release_version("1.30.4-20240917"))
        .await
        .unwrap();
    assert_eq!(u.id, "ng-2");
    // Newer than the control plane: refused, nothing sent.
    let err = eks
        .update_nodegroup_version("workers", &NodegroupVersionParams::default().version("1.31".parse().unwrap()))
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Core(CoreError::InvalidInput { .. })), "{err:?}");
    assert!(err.to_string().contains("upgrade the control plane first"), "{err}");
    assert_eq!((to_version.num_calls(), to_release.num_calls()), (1, 1));
}

fn addon_versions(name: &'static str, versions: &[(&'static str, bool)]) -> AddonInfo {
    let mut info = AddonInfo::builder().addon_name(name);
    for (v, default) in versions {
        info = info.addon_versions(
            AddonVersionInfo::builder()
                .addon_version(*v)
                .compatibilities(Compatibility::builder().cluster_version("1.30").default_version(*default).build())
                .build(),
        );
    }
    info.build()
}

#[tokio::test]
async fn addon_versions_compatible_with_the_target_are_compared_with_the_installed_ones() {
    let list = mock!(EksClient::list_addons)
        .match_requests(|r| r.cluster_name() == Some("prod"))
        .then_output(|| ListAddonsOutput::builder().addons("vpc-cni").addons("coredns").build());
    let installed = mock!(EksClient::describe_addon).then_compute_response(|r| {
        let version = match r.addon_name() {
            Some("coredns") => "v1.10.1-eksbuild.1",
            Some("vpc-cni") => "v1.18.3-eksbuild.1",
            _ => {
                return aws_smithy_mocks::MockResponse::Error(DescribeAddonError::generic(code(
                    "ResourceNotFoundException",
                    "no",
                )))
            }
        };
        aws_smithy_mocks::MockResponse::Output(
            DescribeAddonOutput::builder()
                .addon(Addon::builder().addon_name(r.addon_name().unwrap()).addon_version(version).build())
                .build(),
        )
    });
    let coredns = mock!(EksClient::describe_addon_versions)
        .match_requests(|r| r.addon_name() == Some("coredns") && r.kubernetes_version() == Some("1.30"))
        .then_output(|| {
            DescribeAddonVersionsOutput::builder()
                .addons(addon_versions("coredns", &[("v1.11.3-eksbuild.1", false), ("v1.11.1-eksbuild.9", true)]))
                .build()
        });
    // vpc-cni's versions come in two pages.
    let cni_page1 = mock!(EksClient::describe_addon_versions)
        .match_requests(|r| {
            r.addon_name() == Some("vpc-cni") && r.kubernetes_version() == Some("1.30") && r.next_token().is_none()
        })
        .then_output(|| {
            DescribeAddonVersionsOutput::builder()
                .addons(addon_versions("vpc-cni", &[("v1.19.0-eksbuild.1", false)]))
                .next_token("page2")
                .build()
        });
    let cni_page2 = mock!(EksClient::describe_addon_versions)
        .match_requests(|r| r.addon_name() == Some("vpc-cni") && r.next_token() == Some("page2"))
        .then_output(|| {
            DescribeAddonVersionsOutput::builder()
                .addons(addon_versions("vpc-cni", &[("v1.18.3-eksbuild.1", true)]))
                .build()
        });
    let client = mock_client!(
        aws_sdk_eks,
        RuleMode::MatchAny,
        [&list, &installed, &coredns, &cni_page1, &cni_page2],
        no_sdk_retry
    );
    let eks = EksControlPlane::from_client(client, "prod");
    let addons = eks.compatible_addon_versions(&"1.30".parse().unwrap()).await.unwrap();
    assert_eq!(addons.iter().map(|a| a.addon.as_str()).collect::<Vec<_>>(), ["coredns", "vpc-cni"]);
    let (coredns, cni) = (&addons[0], &addons[1]);
    assert!(!coredns.installed_is_compatible(), "{coredns:?}");
    assert_eq!(coredns.recommended(), Some("v1.11.1-eksbuild.9"), "EKS's default for 1.30");
    assert!(cni.installed_is_compatible(), "{cni:?}");
    assert_eq!(cni.compatible_versions, ["v1.19.0-eksbuild.1", "v1.18.3-eksbuild.1"]);
    assert_eq!(cni.kubernetes_version, "1.30");
}

#[tokio::test]
async fn upgrade_insights_are_typed_worst_first() {
    let filter_ok = |r: &aws_sdk_eks::operation::list_insights::ListInsightsInput| {
        r.cluster_name() == Some("prod")
            && r.filter().is_some_and(|f| {
                f.categories() == [Category::UpgradeReadiness] && f.kubernetes_versions() == ["1.30".to_string()]
            })
    };
    let summary = |id: &str| InsightSummary::builder().id(id).build();
    let page1 = mock!(EksClient::list_insights)
        .match_requests(move |r| filter_ok(r) && r.next_token().is_none())
        .then_output(move || ListInsightsOutput::builder().insights(summary("kubelet-skew")).next_token("t2").build());
    let page2 = mock!(EksClient::list_insights)
        .match_requests(|r| r.next_token() == Some("t2"))
        .then_output(move || ListInsightsOutput::builder().insights(summary("deprecated-1-30")).build());
    let status = |s: InsightStatusValue, reason: &str| EksInsightStatus::builder().status(s).reason(reason).build();
    let describe = mock!(EksClient::describe_insight).then_compute_output(move |r| {
        let insight = match r.id() {
            Some("kubelet-skew") => EksInsight::builder()
                .id("kubelet-skew")
                .name("Kubelet version skew")
                .category(Category::UpgradeReadiness)
                .kubernetes_version("1.30")
                .insight_status(status(InsightStatusValue::Passing, "Node kubelet versions match the control plane."))
                .build(),
            _ => EksInsight::builder()
                .id("deprecated-1-30")
                .name("Deprecated APIs removed in Kubernetes v1.30")
                .category(Category::UpgradeReadiness)
                .kubernetes_version("1.30")
                .insight_status(status(InsightStatusValue::Error, "Deprecated API usage detected within last 30 days."))
                .recommendation("Update manifests and API clients to use newer Kubernetes APIs.")
                .additional_info("EKS update cluster documentation", "https://docs.aws.amazon.com/eks/")
                .resources(
                    InsightResourceDetail::builder()
                        .kubernetes_resource_uri("/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas/probes")
                        .insight_status(status(InsightStatusValue::Error, "used by kubectl"))
                        .build(),
                )
                .category_specific_summary(
                    InsightCategorySpecificSummary::builder()
                        .deprecation_details(
                            DeprecationDetail::builder()
                                .usage("/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas")
                                .replaced_with("/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas")
                                .stop_serving_version("1.29")
                                .start_serving_replacement_version("1.26")
                                .client_stats(
                                    ClientStat::builder()
                                        .user_agent("kubectl/v1.24.0")
                                        .number_of_requests_last30_days(12)
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build(),
        };
        DescribeInsightOutput::builder().insight(insight).build()
    });
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&page1, &page2, &describe], no_sdk_retry);
    let eks = EksControlPlane::from_client(client, "prod");
    let insights = eks.insights(&"1.30.2".parse().unwrap()).await.unwrap();
    assert_eq!(insights.iter().map(|i| i.status).collect::<Vec<_>>(), [InsightStatus::Error, InsightStatus::Passing]);
    let blocker = &insights[0];
    assert!(blocker.blocks_upgrade() && !insights[1].blocks_upgrade());
    assert_eq!(blocker.category, "UPGRADE_READINESS");
    assert_eq!(blocker.resources[0].status, InsightStatus::Error);
    let d = &blocker.deprecations[0];
    assert_eq!(d.replaced_with.as_deref(), Some("/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas"));
    assert_eq!((d.clients[0].user_agent.as_str(), d.clients[0].requests_last_30_days), ("kubectl/v1.24.0", 12));
    assert_eq!(blocker.additional_info.len(), 1);
    assert_eq!(describe.num_calls(), 2, "one describe-insight per listed insight");
    assert_eq!(
        blocker.to_string(),
        "ERROR Deprecated APIs removed in Kubernetes v1.30: Deprecated API usage detected within last 30 days."
    );
}

#[tokio::test]
async fn an_operation_the_endpoint_does_not_serve_is_named_in_the_error() {
    let Some(sdk) = moto().await else { return };
    let name = create_cluster(&sdk, "1.29").await;
    let eks = EksControlPlane::new(&sdk, &name);
    // moto answers ListInsights with an HTML 404 and no AWS error code.
    let err = eks.insights(&"1.30".parse().unwrap()).await.unwrap_err();
    assert!(matches!(&err, Error::Core(CoreError::Backend { transient: false, .. })), "{err:?}");
    assert!(err.to_string().contains("ListInsights answered HTTP 404 without an AWS error code"), "{err}");
}

fn insight(name: &str, status: InsightStatus, resources: Vec<InsightResource>) -> Insight {
    Insight {
        id: name.to_lowercase().replace(' ', "-"),
        name: name.into(),
        category: "UPGRADE_READINESS".into(),
        kubernetes_version: Some("1.30".into()),
        status,
        reason: format!("{status} reason"),
        description: String::new(),
        recommendation: None,
        additional_info: Default::default(),
        resources,
        deprecations: vec![],
        addons: Default::default(),
        last_refresh_time: None,
    }
}

fn resource(uri: Option<&str>, arn: Option<&str>, status: InsightStatus) -> InsightResource {
    InsightResource {
        kubernetes_resource_uri: uri.map(str::to_string),
        arn: arn.map(str::to_string),
        status,
        reason: String::new(),
    }
}

#[test]
fn insight_statuses_map_to_preflight_statuses() {
    for (eks, preflight) in [
        (InsightStatus::Passing, CheckStatus::Pass),
        (InsightStatus::Warning, CheckStatus::Warn),
        (InsightStatus::Unknown, CheckStatus::Warn),
        (InsightStatus::Error, CheckStatus::Fail),
    ] {
        let i = UpgradeInsight::from(&insight("Kubelet version skew", eks, vec![]));
        assert_eq!(i.status, preflight, "{eks}");
        assert_eq!(i.name, "EKS: Kubelet version skew");
        assert_eq!(i.explanation, format!("{eks} reason"));
    }
    // The recommendation follows the reason; only resources that do not pass are named, by URI, else by ARN.
    let mut i = insight(
        "Deprecated APIs removed in Kubernetes v1.30",
        InsightStatus::Error,
        vec![
            resource(Some("/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas/probes"), None, InsightStatus::Error),
            resource(Some("/apis/apps/v1/deployments/ok"), None, InsightStatus::Passing),
            resource(None, Some("arn:aws:eks:us-east-1:123456789012:addon/prod/vpc-cni"), InsightStatus::Warning),
            resource(None, None, InsightStatus::Error),
        ],
    );
    i.recommendation = Some("Update manifests.".into());
    let u = UpgradeInsight::from(&i);
    assert_eq!(u.explanation, "ERROR reason (Update manifests.)");
    assert_eq!(
        u.objects,
        [
            "/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas/probes",
            "arn:aws:eks:us-east-1:123456789012:addon/prod/vpc-cni"
        ]
    );
    // An empty recommendation adds nothing.
    i.recommendation = Some(String::new());
    assert_eq!(UpgradeInsight::from(&i).explanation, "ERROR reason");
}

/// `list-addons` names `installed` (add-on, version); `describe-addon-versions`
/// gives each the versions in `compatible` for 1.30 (the first is EKS's default).
fn addon_mocks(
    installed: &'static [(&'static str, &'static str)],
    compatible: &'static [(&'static str, &'static [&'static str])],
) -> [aws_smithy_mocks::Rule; 3] {
    let list = mock!(EksClient::list_addons).then_output(move || {
        let mut out = ListAddonsOutput::builder();
        for (name, _) in installed {
            out = out.addons(*name);
        }
        out.build()
    });
    let describe = mock!(EksClient::describe_addon).then_compute_output(move |r| {
        let (name, version) = installed.iter().find(|(n, _)| Some(*n) == r.addon_name()).copied().unwrap_or(("?", "?"));
        DescribeAddonOutput::builder().addon(Addon::builder().addon_name(name).addon_version(version).build()).build()
    });
    let versions = mock!(EksClient::describe_addon_versions)
        .match_requests(|r| r.kubernetes_version() == Some("1.30"))
        .then_compute_output(move |r| {
            let name = r.addon_name().unwrap_or_default().to_string();
            let versions = compatible.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).unwrap_or_default();
            let with_default: Vec<(&str, bool)> = versions.iter().enumerate().map(|(i, v)| (*v, i == 0)).collect();
            let mut info = AddonInfo::builder().addon_name(name.as_str());
            for (v, default) in with_default {
                info = info.addon_versions(
                    AddonVersionInfo::builder()
                        .addon_version(v)
                        .compatibilities(
                            Compatibility::builder().cluster_version("1.30").default_version(default).build(),
                        )
                        .build(),
                );
            }
            DescribeAddonVersionsOutput::builder().addons(info.build()).build()
        });
    [list, describe, versions]
}

/// A testkit API server at 1.29, as an EKS cluster's.
async fn kubernetes_at_1_29() -> TestServer {
    TestServer::builder().server_version("v1.29.3-eks-2f008fe").start().await.unwrap()
}

#[tokio::test]
async fn eks_insights_and_addons_surface_in_the_preflight() {
    let list = mock!(EksClient::list_insights).then_output(|| {
        ListInsightsOutput::builder()
            .insights(InsightSummary::builder().id("skew").build())
            .insights(InsightSummary::builder().id("deprecated").build())
            .build()
    });
    let status = |s: InsightStatusValue, reason: &str| EksInsightStatus::builder().status(s).reason(reason).build();
    let describe = mock!(EksClient::describe_insight).then_compute_output(move |r| {
        let insight = match r.id() {
            Some("skew") => EksInsight::builder()
                .id("skew")
                .name("Kubelet version skew")
                .insight_status(status(InsightStatusValue::Passing, "Node kubelet versions match."))
                .build(),
            _ => EksInsight::builder()
                .id("deprecated")
                .name("Deprecated APIs removed in Kubernetes v1.30")
                .insight_status(status(InsightStatusValue::Error, "Deprecated API usage detected."))
                .recommendation("Update manifests and API clients.")
                .resources(
                    InsightResourceDetail::builder()
                        .kubernetes_resource_uri("/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas/probes")
                        .insight_status(status(InsightStatusValue::Error, "used by kubectl"))
                        .build(),
                )
                .build(),
        };
        DescribeInsightOutput::builder().insight(insight).build()
    });
    let [addons, addon, versions] = addon_mocks(
        &[("coredns", "v1.10.1-eksbuild.1"), ("vpc-cni", "v1.18.3-eksbuild.1")],
        &[
            ("coredns", &["v1.11.1-eksbuild.9", "v1.11.3-eksbuild.1"]),
            ("vpc-cni", &["v1.19.0-eksbuild.1", "v1.18.3-eksbuild.1"]),
        ],
    );
    let client =
        mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&list, &describe, &addons, &addon, &versions], no_sdk_retry);
    let eks = EksControlPlane::from_client(client, "prod");
    let target: KubeVersion = "1.30".parse().unwrap();
    let insights = eks.insights(&target).await.unwrap();
    let compat = eks.compatible_addon_versions(&target).await.unwrap();

    let server = kubernetes_at_1_29().await;
    let params = PreflightParams::new(target)
        .removed_apis(RemovedApiCheck::Skip)
        .insights(insights.iter().map(Into::into).collect())
        .platform_addons(compat.iter().map(Into::into).collect());
    let report = preflight(&server.cluster(), &params).await.unwrap();

    let i = report.check(CheckId::UpgradeInsights).expect("an upgrade-insights check");
    assert_eq!(i.status, CheckStatus::Fail, "{i:?}");
    assert!(
        i.explanation.contains(
            "FAIL EKS: Deprecated APIs removed in Kubernetes v1.30: Deprecated API usage detected. (Update manifests and API clients.)"
        ),
        "{i:?}"
    );
    assert!(!i.explanation.contains("Kubelet version skew"), "a passing insight is not explained: {i:?}");
    assert_eq!(i.objects, ["/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas/probes"]);

    let a = report.check(CheckId::Addons).unwrap();
    assert_eq!(a.status, CheckStatus::Warn, "{a:?}");
    assert!(a.explanation.starts_with("1 of 2 platform add-on(s) need attention for v1.30."), "{a:?}");
    assert!(
        a.explanation.contains("coredns v1.10.1-eksbuild.1 does not run on v1.30; update it to v1.11.1-eksbuild.9"),
        "{a:?}"
    );
    assert!(
        a.explanation.contains("aws eks update-addon --addon-name coredns --addon-version v1.11.1-eksbuild.9"),
        "{a:?}"
    );
    assert!(!a.explanation.contains("vpc-cni"), "a compatible add-on is not explained: {a:?}");
    assert_eq!(a.objects, ["coredns v1.10.1-eksbuild.1 (runs on v1.30: v1.11.1-eksbuild.9, v1.11.3-eksbuild.1)"]);
    assert_eq!(report.status(), CheckStatus::Fail);
    let err = report.ensure_passed().unwrap_err();
    assert!(err.to_string().contains("upgrade-insights"), "{err}");
    let printed = report.to_string();
    assert!(printed.contains("[WARN] addons: 1 of 2 platform add-on(s)"), "{printed}");
}

#[tokio::test]
async fn eks_addons_pass_when_compatible_and_fail_when_nothing_runs_on_the_target() {
    let server = kubernetes_at_1_29().await;
    let run = |installed, compatible| async move {
        let client =
            mock_client!(aws_sdk_eks, RuleMode::MatchAny, addon_mocks(installed, compatible).iter(), no_sdk_retry);
        let compat = EksControlPlane::from_client(client, "prod")
            .compatible_addon_versions(&"1.30".parse().unwrap())
            .await
            .unwrap();
        compat.iter().map(Into::into).collect::<Vec<PlatformAddon>>()
    };
    let check = |addons: Vec<PlatformAddon>| {
        let params =
            PreflightParams::new("1.30".parse().unwrap()).removed_apis(RemovedApiCheck::Skip).platform_addons(addons);
        let cluster = server.cluster();
        async move { preflight(&cluster, &params).await.unwrap().check(CheckId::Addons).unwrap().clone() }
    };

    let ok = check(
        run(&[("kube-proxy", "v1.30.0-eksbuild.3")], &[("kube-proxy", &["v1.30.3-eksbuild.5", "v1.30.0-eksbuild.3"])])
            .await,
    )
    .await;
    assert_eq!(ok.status, CheckStatus::Pass, "{ok:?}");
    assert_eq!(ok.explanation, "All 1 platform add-on(s) run on v1.30: kube-proxy v1.30.0-eksbuild.3.");
    assert!(ok.objects.is_empty());

    let none = check(run(&[("legacy-addon", "v0.1.0")], &[]).await).await;
    assert_eq!(none.status, CheckStatus::Fail, "{none:?}");
    assert!(none.explanation.contains("legacy-addon v0.1.0: no version of it runs on v1.30"), "{none:?}");
    assert_eq!(none.objects, ["legacy-addon v0.1.0 (runs on v1.30: none)"]);

    // Compatibility read for another version than the target only warns that it is stale.
    let mut stale: Vec<PlatformAddon> =
        run(&[("kube-proxy", "v1.30.0-eksbuild.3")], &[("kube-proxy", &["v1.30.0-eksbuild.3"])]).await;
    stale[0].kubernetes_version = "1.29".into();
    let c = check(stale).await;
    assert_eq!(c.status, CheckStatus::Warn, "{c:?}");
    assert!(c.explanation.contains("read for Kubernetes 1.29, not v1.30"), "{c:?}");
}

#[tokio::test]
async fn a_repeated_next_token_is_a_typed_error_not_an_endless_loop() {
    // The same token again: the second page would be the first one again.
    let addons = mock!(EksClient::list_addons)
        .then_output(|| ListAddonsOutput::builder().addons("vpc-cni").next_token("same").build());
    let eks =
        EksControlPlane::from_client(mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&addons], no_sdk_retry), "prod");
    let err = eks.compatible_addon_versions(&"1.30".parse().unwrap()).await.unwrap_err();
    assert!(matches!(&err, Error::Core(CoreError::Backend { transient: false, .. })), "{err:?}");
    assert!(err.to_string().contains("ListAddons returned next token \"same\" again"), "{err}");
    assert_eq!(addons.num_calls(), 2);

    // A cycle of two tokens.
    let insights = mock!(EksClient::list_insights).then_compute_output(|r| {
        let next = if r.next_token() == Some("t1") { "t2" } else { "t1" };
        ListInsightsOutput::builder().next_token(next).build()
    });
    let eks =
        EksControlPlane::from_client(mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&insights], no_sdk_retry), "prod");
    let err = eks.insights(&"1.30".parse().unwrap()).await.unwrap_err();
    assert!(matches!(&err, Error::Core(CoreError::Backend { transient: false, .. })), "{err:?}");
    assert!(err.to_string().contains("ListInsights returned next token \"t1\" again after 3 page(s)"), "{err}");
    assert_eq!(insights.num_calls(), 3, "None -> t1, t1 -> t2, t2 -> t1 again");

    // The versions of one add-on.
    let list = mock!(EksClient::list_addons).then_output(|| ListAddonsOutput::builder().addons("coredns").build());
    let installed = mock!(EksClient::describe_addon).then_output(|| {
        DescribeAddonOutput::builder()
            .addon(Addon::builder().addon_name("coredns").addon_version("v1.11.1-eksbuild.9").build())
            .build()
    });
    let versions = mock!(EksClient::describe_addon_versions).then_output(|| {
        DescribeAddonVersionsOutput::builder()
            .addons(addon_versions("coredns", &[("v1.11.1-eksbuild.9", true)]))
            .next_token("again")
            .build()
    });
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&list, &installed, &versions], no_sdk_retry);
    let err = EksControlPlane::from_client(client, "prod")
        .compatible_addon_versions(&"1.30".parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("DescribeAddonVersions for add-on coredns returned next token \"again\" again"),
        "{err}"
    );
    assert_eq!(versions.num_calls(), 2);

    // An empty token ends a listing, as a missing one does.
    let empty = mock!(EksClient::list_insights).then_output(|| ListInsightsOutput::builder().next_token("").build());
    let eks =
        EksControlPlane::from_client(mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&empty], no_sdk_retry), "prod");
    assert!(eks.insights(&"1.30".parse().unwrap()).await.unwrap().is_empty());
    assert_eq!(empty.num_calls(), 1);
}
