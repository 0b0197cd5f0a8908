//! Cleanup of finished pods and Jobs against the testkit.

use std::time::Duration;

use k8s_openapi::api::{batch::v1::Job, core::v1::Pod};
use k8sops_metrics::{cleanup, CleanupParams};
use k8sops_testkit::{DemoCluster, TestServer};
use kube::{api::ListParams, Api};

#[tokio::test]
async fn cleanup_deletes_finished_pods_and_old_jobs_and_dry_run_deletes_nothing() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let cluster = server.cluster();
    let pods: Api<Pod> = Api::all(server.client());
    let count = || async { pods.list(&ListParams::default()).await.unwrap().items.len() };
    let before = count().await;

    let dry = cleanup(
        &cluster,
        &CleanupParams {
            dry_run: true,
            finished_jobs_older_than: Some(Duration::from_secs(36 * 3600)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(dry.pods.len(), 3);
    assert!(dry.pods.iter().any(|p| p.ends_with("(Failed)")));
    assert_eq!(dry.jobs.len(), 2, "jobs finished more than 36 hours ago: {:?}", dry.jobs);
    assert_eq!(count().await, before, "a dry run deletes nothing");
    assert!(dry.to_string().contains("would delete"));

    // Age filter: only pods created at least two days ago.
    let old = cleanup(
        &cluster,
        &CleanupParams { older_than: Some(Duration::from_secs(2 * 86_400)), failed_pods: false, ..Default::default() },
    )
    .await
    .unwrap();
    assert_eq!(old.pods.len(), 2, "{old}");
    assert_eq!(count().await, before - 2);

    let rest = cleanup(
        &cluster,
        &CleanupParams {
            namespace: Some("batch".into()),
            finished_jobs_older_than: Some(Duration::ZERO),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(rest.pods.len(), 1);
    assert_eq!(rest.jobs.len(), 3);
    let jobs: Api<Job> = Api::namespaced(server.client(), "batch");
    assert!(jobs.list(&ListParams::default()).await.unwrap().items.is_empty());
    let running: Vec<_> = pods.list(&ListParams::default().fields("status.phase=Running")).await.unwrap().items;
    assert!(!running.is_empty(), "running pods are untouched");
}
