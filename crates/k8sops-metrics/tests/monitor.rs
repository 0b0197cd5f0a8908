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
