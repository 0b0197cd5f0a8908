//! Injected failures (503, 429 with Retry-After, dropped connections) on the
//! requests the diagnose crate makes: transient ones are retried and give
//! the same answer as a clean run; lasting ones give typed errors, or for
//! health probes a failed check. Never a panic.

use futures::StreamExt;
use k8sops_core::Cluster;
use k8sops_diagnose::{
    check_services, cluster_health, diagnose_pods, events, follow_logs, logs, EventParams, LogOptions,
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
async fn cluster_health_retries_probes_and_lists() {
    let (server, cluster) = demo().await;
    let clean = cluster_health(&cluster).await.unwrap();
    server.add_fault(Fault::on("GET", "/readyz").status(503).times(2));
    server.add_fault(Fault::on("GET", "/livez").drop_connection().times(1));
    server.add_fault(Fault::on("GET", "/componentstatuses").too_many_requests(0).times(1));
    server.add_fault(Fault::on("GET", "/api/v1/nodes").status(502).times(1));
    assert_eq!(cluster_health(&cluster).await.unwrap(), clean);
    assert_eq!(server.answered("/readyz", 503), 2);
    assert_eq!(server.answered("/livez", 0), 1);
    assert_eq!(server.answered("/componentstatuses", 429), 1);
    assert_eq!(server.answered("/api/v1/nodes", 502), 1);
}

#[tokio::test]
async fn a_readyz_that_keeps_failing_is_a_failed_check_not_an_error() {
    let (server, cluster) = demo().await;
    server.add_fault(Fault::on("GET", "/readyz").status(503));
    let health = cluster_health(&cluster).await.unwrap();
    assert_eq!(health.readyz.len(), 1);
    let check = &health.readyz[0];
    assert_eq!((check.name.as_str(), check.ok), ("readyz", false));
    assert!(check.reason.as_deref().is_some_and(|r| r.starts_with("HTTP 503")), "{check:?}");
    assert!(health.livez.iter().all(|c| c.ok), "livez unaffected");
    assert_eq!(server.answered("/readyz", 503), ATTEMPTS as usize, "retried before giving up");
}

#[tokio::test]
async fn an_unreachable_server_is_a_typed_error() {
    let (server, cluster) = demo().await;
    server.add_fault(Fault::on("*", "/").drop_connection());
    let err = cluster_health(&cluster).await.unwrap_err();
    let k8sops_diagnose::Error::Core(core) = &err else { panic!("{err:?}") };
    assert!(matches!(core, k8sops_core::Error::Unreachable { .. }), "{core:?}");
    let err = diagnose_pods(&cluster, &Default::default()).await.unwrap_err();
    assert!(matches!(err, k8sops_diagnose::Error::Core(k8sops_core::Error::Unreachable { .. })), "{err:?}");
}

#[tokio::test]
async fn events_and_pod_diagnosis_retry_failed_pages() {
    let (server, cluster) = demo().await;
    let clean_events = events(&cluster, &EventParams::default()).await.unwrap();
    let clean_pods = diagnose_pods(&cluster, &Default::default()).await.unwrap();
    assert!(!clean_events.is_empty() && !clean_pods.pods.is_empty());
    server.add_fault(Fault::on("GET", "/events").too_many_requests(0).times(2));
    server.add_fault(Fault::on("GET", "/api/v1/pods").status(503).times(1));
    server.add_fault(Fault::on("GET", "/api/v1/pods").drop_connection().times(1));
    assert_eq!(events(&cluster, &EventParams::default()).await.unwrap(), clean_events);
    assert_eq!(diagnose_pods(&cluster, &Default::default()).await.unwrap(), clean_pods);
    assert_eq!(server.answered("/events", 429), 2);
    assert_eq!(server.answered("/api/v1/pods", 503) + server.answered("/api/v1/pods", 0), 2);
}

#[tokio::test]
async fn a_lasting_failure_on_events_fails_pod_diagnosis_with_the_status() {
    let (server, cluster) = demo().await;
    server.add_fault(Fault::on("GET", "/events").status(500));
    let err = diagnose_pods(&cluster, &Default::default()).await.unwrap_err();
    assert!(matches!(err, k8sops_diagnose::Error::Core(k8sops_core::Error::Api { code: 500, .. })), "{err:?}");
}

#[tokio::test]
async fn service_checks_retry_every_list() {
    let (server, cluster) = demo().await;
    let clean = check_services(&cluster, None).await.unwrap();
    for path in ["/api/v1/services", "/endpointslices", "/api/v1/endpoints", "/networkpolicies"] {
        server.add_fault(Fault::on("GET", path).status(503).times(1));
    }
    assert_eq!(check_services(&cluster, None).await.unwrap(), clean);
    let failed = server.requests().iter().filter(|r| r.status == 503).count();
    assert_eq!(failed, 4);
}

#[tokio::test]
async fn logs_and_follow_retry_the_request() {
    let (server, cluster) = demo().await;
    server.append_log("legacy", "debug-shell", "shell", false, "a\nb");
    server.add_fault(Fault::on("GET", "/log").status(503).times(1));
    assert_eq!(logs(&cluster, "legacy", "debug-shell", &LogOptions::default()).await.unwrap(), "a\nb\n");
    server.add_fault(Fault::on("GET", "/log").drop_connection().times(1));
    let mut lines = follow_logs(&cluster, "legacy", "debug-shell", &LogOptions::default()).await.unwrap();
    assert_eq!(lines.next().await.unwrap().unwrap(), "a");
    assert_eq!((server.answered("/log", 503), server.answered("/log", 0)), (1, 1));
    server.add_fault(Fault::on("GET", "/log").status(503));
    let err = logs(&cluster, "legacy", "debug-shell", &LogOptions::default()).await.unwrap_err();
    assert!(matches!(err, k8sops_diagnose::Error::Core(k8sops_core::Error::Api { code: 503, .. })), "{err:?}");
}
