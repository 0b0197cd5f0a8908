//! The monitor stream against the testkit.

use std::{pin::pin, time::Duration};

use futures::StreamExt;
use k8sops_metrics::{monitor, Alert, MonitorParams};
use k8sops_testkit::{DemoCluster, TestServer};

#[tokio::test]
async fn snapshots_carry_threshold_alerts_and_follow_changes() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    server.set_node_metrics("ip-10-0-0-9.ec2.internal", "7800m", "1Gi").unwrap();
    let params = MonitorParams { interval: Duration::from_millis(20), ..Default::default() };
    let cluster = server.cluster();
    let mut samples = pin!(monitor(&cluster, params));
    let first = samples.next().await.unwrap().unwrap();
    assert!(
        first.alerts.contains(&Alert::NodeCpu { node: "ip-10-0-0-9.ec2.internal".into(), percent: 98 }),
        "{:?}",
        first.alerts
    );
    assert!(first.alerts.iter().any(|a| matches!(a, Alert::QuotaNearFull { quota, resource, percent: 90 } if quota == "legacy/legacy-quota" && resource == "requests.cpu")));
    assert!(!first.alerts.iter().any(|a| matches!(a, Alert::PodNearMemoryLimit { .. })));

    // A container at 95% of its 2Gi limit shows up in the next sample.
    server.set_pod_metrics("shop", "redis-0", &[("redis", "50m", "1946Mi")]).unwrap();
    let second = samples.next().await.unwrap().unwrap();
    assert!(
        second.alerts.contains(&Alert::PodNearMemoryLimit { container: "shop/redis-0/redis".into(), percent: 95 }),
        "{:?}",
        second.alerts
    );
    assert!(second.at >= first.at);
}

#[tokio::test]
async fn a_crash_looping_container_is_an_alert() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let snapshot = k8sops_metrics::sample(&server.cluster(), &MonitorParams::default()).await.unwrap();
    let crashing: Vec<&Alert> = snapshot.alerts.iter().filter(|a| matches!(a, Alert::CrashLooping { .. })).collect();
    assert_eq!(crashing.len(), 1, "{:?}", snapshot.alerts);
    let Alert::CrashLooping { container, restarts, reason, exit_code } = crashing[0] else { unreachable!() };
    assert!(container.starts_with("legacy/report-worker-"), "{container}");
    assert!(container.ends_with("/report-worker"), "{container}");
    assert_eq!((*restarts, reason.as_deref(), *exit_code), (14, Some("OOMKilled"), Some(137)));
    assert!(crashing[0].to_string().contains("crash-looping (14 restarts, last run OOMKilled, exit code 137)"));
}

#[tokio::test]
async fn without_metrics_server_a_snapshot_says_why_and_still_alerts_on_crash_loops_and_quotas() {
    let server = TestServer::builder().metrics_api(false).start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let snapshot = k8sops_metrics::sample(&server.cluster(), &MonitorParams::default()).await.unwrap();
    assert!(snapshot.nodes.is_none() && snapshot.pods.is_none());
    let why = snapshot.usage_unavailable.as_deref().unwrap();
    assert!(why.contains("metrics.k8s.io is not available"), "{why}");
    assert!(snapshot.alerts.iter().any(|a| matches!(a, Alert::CrashLooping { .. })), "{:?}", snapshot.alerts);
    assert!(snapshot.alerts.iter().any(|a| matches!(a, Alert::QuotaNearFull { .. })), "{:?}", snapshot.alerts);
    assert!(!snapshot.alerts.iter().any(|a| matches!(a, Alert::NodeCpu { .. } | Alert::PodNearMemoryLimit { .. })));
}
