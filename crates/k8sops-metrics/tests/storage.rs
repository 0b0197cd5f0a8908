//! Storage inventory and findings against the testkit and a real API server.

use std::time::Duration;

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8sops_metrics::{storage_report, StorageFinding};
use k8sops_testkit::{DemoCluster, TestServer};
use kube::{api::PostParams, Api};
use serde_json::json;

#[tokio::test]
async fn demo_cluster_storage_findings() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    server
        .insert(&json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "old-data"},
            "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "gp3"},
            "status": {"phase": "Released"}}))
        .unwrap();
    server
        .insert(&json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "orphan", "namespace": "shop"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp2", "volumeName": "pv-orphan", "resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}}))
        .unwrap();
    let report = storage_report(&server.cluster()).await.unwrap();
    let has = |f: &StorageFinding| report.findings.contains(f);
    let pending = report.findings.iter().find_map(|f| match f {
        StorageFinding::PendingClaim { claim, reason } if claim == "legacy/reports-archive" => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(pending, Some(Some("ProvisioningFailed: storageclass.storage.k8s.io \"efs\" not found".to_string())));
    assert!(has(&StorageFinding::MissingStorageClass { claim: "legacy/reports-archive".into(), class: "efs".into() }));
    assert!(has(&StorageFinding::ReleasedVolume { volume: "old-data".into() }));
    assert!(has(&StorageFinding::UnusedClaim { claim: "shop/orphan".into() }));
    assert!(
        !report
            .findings
            .iter()
            .any(|f| matches!(f, StorageFinding::UnusedClaim { claim } if claim == "shop/data-redis-0")),
        "redis uses its claim"
    );
    assert!(!report.findings.iter().any(|f| matches!(
        f,
        StorageFinding::NoDefaultStorageClass | StorageFinding::MultipleDefaultStorageClasses { .. }
    )));
    let redis = report.claims.iter().find(|c| c.name == "data-redis-0").unwrap();
    assert_eq!(
        (redis.used_by.as_slice(), redis.access_modes.as_slice(), redis.capacity.as_str()),
        (&["redis-0".to_string()][..], &["RWO".to_string()][..], "10Gi")
    );

    server
        .insert(&json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "io2",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "ebs.csi.aws.com"}))
        .unwrap();
    let report = storage_report(&server.cluster()).await.unwrap();
    assert!(report
        .findings
        .contains(&StorageFinding::MultipleDefaultStorageClasses { classes: vec!["gp2".into(), "io2".into()] }));
}

#[tokio::test]
async fn real_server_pending_claim_without_default_class() {
    let Some(cluster) = k8sops_testkit::e2e::real_cluster().await else { return };
    let ns = k8sops_testkit::e2e::fresh_namespace(&cluster, "storage").await;
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(cluster.client().clone(), &ns);
    let pvc: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
    .unwrap();
    pvcs.create(&PostParams::default(), &pvc).await.unwrap();
    // The persistent-volume controller sets the phase and may record why it cannot bind.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let key = format!("{ns}/data");
    loop {
        let report = storage_report(&cluster).await.unwrap();
        assert!(report.findings.contains(&StorageFinding::NoDefaultStorageClass), "the e2e server has no StorageClass");
        if report.findings.iter().any(|f| matches!(f, StorageFinding::PendingClaim { claim, .. } if *claim == key)) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "claim never reported Pending");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
