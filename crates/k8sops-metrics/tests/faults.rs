//! Injected failures (503, 429 with Retry-After, dropped connections) on the
//! requests the metrics crate makes: transient ones are retried and give the
//! same answer as a clean run; lasting ones give typed errors or a report
//! that says what is missing. Never a panic.

use std::time::Duration;

use futures::StreamExt;
use k8sops_core::Cluster;
use k8sops_metrics::{
    capacity_report, metrics_server_status, monitor, quotas, storage_report, top_nodes, top_pods, Error, MonitorParams,
    SortBy, TopPodsParams, UsageComparison,
};
use k8sops_testkit::{DemoCluster, Fault, TestServer};

const ATTEMPTS: u32 = 3;

async fn demo() -> (TestServer, Cluster) {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let cluster = server.cluster_with_quick_retries(ATTEMPTS);
    (server, cluster)
}

#[tokio::test]
async fn top_nodes_retries_a_503_a_429_and_a_dropped_connection() {
    let (server, cluster) = demo().await;
    let clean = top_nodes(&cluster, None, SortBy::Name).await.unwrap();
    server.add_fault(Fault::on("GET", "/apis/metrics.k8s.io/v1beta1/nodes").status(503).times(1));
    server.add_fault(Fault::on("GET", "/apis/metrics.k8s.io/v1beta1/nodes").too_many_requests(0).times(1));
    server.add_fault(Fault::on("GET", "/apis/metrics.k8s.io/v1beta1/nodes").drop_connection().times(1));
    // The rules are used up in order, one attempt each; the fourth attempt goes through.
    let cluster = server.cluster_with_quick_retries(4);
    let again = top_nodes(&cluster, None, SortBy::Name).await.unwrap();
    assert_eq!(again.to_string(), clean.to_string());
    let path = "/apis/metrics.k8s.io/v1beta1/nodes";
    assert_eq!((server.answered(path, 503), server.answered(path, 429), server.answered(path, 0)), (1, 1, 1));
}

#[tokio::test]
async fn a_lasting_503_from_the_metrics_api_is_metrics_unavailable() {
    let (server, cluster) = demo().await;
    server.add_fault(Fault::on("GET", "/apis/metrics.k8s.io/v1beta1/").status(503));
    let err = top_nodes(&cluster, None, SortBy::Name).await.unwrap_err();
    assert!(matches!(err, Error::MetricsUnavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("metrics-server"), "says how to fix it: {err}");
    assert_eq!(server.answered("/apis/metrics.k8s.io/v1beta1/nodes", 503), ATTEMPTS as usize, "retried first");
    let err = top_pods(&cluster, &TopPodsParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::MetricsUnavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn top_pods_survives_dropped_connections_between_pages() {
    let (server, cluster) = demo().await;
    let clean = top_pods(&cluster, &TopPodsParams { containers: true, ..Default::default() }).await.unwrap();
    server.add_fault(Fault::on("GET", "/apis/metrics.k8s.io/v1beta1/pods").drop_connection().times(2));
    let again = top_pods(&cluster, &TopPodsParams { containers: true, ..Default::default() }).await.unwrap();
    assert_eq!(again, clean);
    assert_eq!(server.answered("/apis/metrics.k8s.io/v1beta1/pods", 0), 2);
}

#[tokio::test]
async fn a_lasting_throttle_is_a_typed_error_with_the_servers_delay() {
    let (server, cluster) = demo().await;
    server.add_fault(Fault::on("GET", "/apis/metrics.k8s.io/v1beta1/nodes").too_many_requests(0));
    let err = top_nodes(&cluster, None, SortBy::Name).await.unwrap_err();
    let Error::Core(core) = &err else { panic!("expected a cluster error, got {err:?}") };
    assert!(matches!(core, k8sops_core::Error::Throttled { .. }), "{core:?}");
    assert!(core.is_transient());
}

#[tokio::test]
async fn capacity_report_without_usage_when_pod_metrics_keep_failing() {
    let (server, cluster) = demo().await;
    let clean = capacity_report(&cluster, &Default::default()).await.unwrap();
    assert!(clean.usage_known() && clean.usage == UsageComparison::Compared);
    server.add_fault(Fault::on("GET", "/apis/metrics.k8s.io/v1beta1/pods").status(503));
    let report = capacity_report(&cluster, &Default::default()).await.unwrap();
    assert!(!report.usage_known());
    assert!(report.over_requesting.is_empty());
    let UsageComparison::Unavailable { reason: why } = &report.usage else { panic!("{:?}", report.usage) };
    assert!(why.contains("503"), "{why}");
    assert!(report.to_string().contains("Usage vs requests: unknown"), "{report}");
    assert_eq!(report.nodes, clean.nodes, "allocation does not depend on metrics");
    assert_eq!(report.groups, clean.groups);
}

#[tokio::test]
async fn capacity_report_retries_failed_pod_pages() {
    let (server, cluster) = demo().await;
    let clean = capacity_report(&cluster, &Default::default()).await.unwrap();
    server.add_fault(Fault::on("GET", "/api/v1/pods").status(503).times(1));
    server.add_fault(Fault::on("GET", "/api/v1/nodes").drop_connection().times(1));
    let again = capacity_report(&cluster, &Default::default()).await.unwrap();
    assert_eq!(again, clean);
    assert_eq!(server.answered("/api/v1/pods", 503), 1);
    assert_eq!(server.answered("/api/v1/nodes", 0), 1);
}

#[tokio::test]
async fn a_lasting_500_on_pods_fails_the_capacity_report_with_the_status() {
    let (server, cluster) = demo().await;
    server.add_fault(Fault::on("GET", "/api/v1/pods").status(500));
    let err = capacity_report(&cluster, &Default::default()).await.unwrap_err();
    let Error::Core(k8sops_core::Error::Api { code, .. }) = &err else {
        panic!("expected the API status, got {err:?}")
    };
    assert_eq!(*code, 500);
    assert_eq!(server.answered("/api/v1/pods", 500), ATTEMPTS as usize);
}

#[tokio::test]
async fn metrics_server_status_quotas_and_storage_retry_transient_failures() {
    let (server, cluster) = demo().await;
    let status = metrics_server_status(&cluster).await.unwrap();
    let quota = quotas(&cluster, None, 80).await.unwrap();
    let storage = storage_report(&cluster).await.unwrap();
    server.add_fault(Fault::on("GET", "/apiservices/").too_many_requests(0).times(1));
    server.add_fault(Fault::on("GET", "/deployments/metrics-server").drop_connection().times(1));
    server.add_fault(Fault::on("GET", "/resourcequotas").status(503).times(2));
    server.add_fault(Fault::on("GET", "/persistentvolumeclaims").status(502).times(1));
    server.add_fault(Fault::on("GET", "/persistentvolumes").drop_connection().times(1));
    assert_eq!(metrics_server_status(&cluster).await.unwrap(), status);
    assert_eq!(quotas(&cluster, None, 80).await.unwrap(), quota);
    assert_eq!(storage_report(&cluster).await.unwrap(), storage);
    let failed = server.requests().iter().filter(|r| matches!(r.status, 0 | 429 | 502 | 503)).count();
    assert_eq!(failed, 6, "every injected fault was hit once and retried");
}

#[tokio::test]
async fn monitor_yields_a_failed_sample_as_an_error_and_goes_on() {
    let (server, cluster) = demo().await;
    let params = MonitorParams { interval: Duration::from_millis(1), ..Default::default() };
    let mut samples = std::pin::pin!(monitor(&cluster, params));
    let first = samples.next().await.unwrap().unwrap();
    // Exactly enough failures to exhaust one sample's retries.
    server.add_fault(Fault::on("GET", "/apis/metrics.k8s.io/v1beta1/nodes").status(500).times(ATTEMPTS));
    let second = samples.next().await.unwrap();
    let err = second.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::Api { code: 500, .. })), "{err:?}");
    let third = samples.next().await.unwrap().unwrap();
    assert_eq!(third.nodes.map(|n| n.nodes.len()), first.nodes.map(|n| n.nodes.len()));
}
