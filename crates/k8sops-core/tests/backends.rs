//! Every in-memory backend passes the shared conformance suite.

use k8sops_core::{
    backend::{
        InMemoryBackupStore, InMemoryControlPlane, InMemoryEtcd, InMemoryNodeGroups, Instance, LocalDirStore,
        NodeGroup, NodeGroups, ScalingConfig,
    },
    conformance, KubeVersion,
};

fn workers() -> NodeGroup {
    let mut g = NodeGroup::new("workers", ScalingConfig { min: 1, max: 5, desired: 2 });
    g.instances = vec![
        Instance {
            id: "i-1".into(),
            lifecycle_state: "InService".into(),
            health_status: "Healthy".into(),
            availability_zone: None,
        },
        Instance {
            id: "i-2".into(),
            lifecycle_state: "InService".into(),
            health_status: "Healthy".into(),
            availability_zone: None,
        },
    ];
    g
}

#[tokio::test]
async fn in_memory_node_groups_conform() {
    conformance::node_groups(&InMemoryNodeGroups::new().with_group(workers()), "workers").await;
}

#[tokio::test]
async fn terminating_with_decrement_lowers_desired_and_respects_min() {
    let groups = InMemoryNodeGroups::new().with_group(workers());
    groups.terminate_instance("workers", "i-1", true).await.unwrap();
    let g = groups.describe("workers").await.unwrap();
    assert_eq!((g.scaling.desired, g.instances.len()), (1, 1));
    let err = groups.terminate_instance("workers", "i-2", true).await.unwrap_err();
    assert!(err.to_string().contains("below min"), "{err}");
}

#[tokio::test]
async fn in_memory_control_plane_conforms() {
    conformance::control_plane(&InMemoryControlPlane::new(KubeVersion::new(1, 29, 3)), 3).await;
}

#[tokio::test]
async fn in_memory_etcd_conforms() {
    conformance::etcd_snapshots(&InMemoryEtcd::new(vec![1u8; 9000])).await;
}

#[tokio::test]
async fn in_memory_backup_store_conforms() {
    conformance::backup_store(&InMemoryBackupStore::new()).await;
}

#[tokio::test]
async fn local_dir_backup_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance::backup_store(&LocalDirStore::new(dir.path())).await;
    // No temporary files are left behind.
    let leftovers: Vec<_> = walk(dir.path()).into_iter().filter(|p| p.contains("k8sops-tmp")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(p: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path().display().to_string());
        }
    }
    out
}
