//! Every in-memory backend passes the shared conformance suite.

use k8sops_core::{
    backend::{
        object_store::{
            self, memory::InMemory, path::Path, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta,
            ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult,
        },
        parse_key, InMemoryControlPlane, InMemoryEtcd, InMemoryNodeGroups, Instance, NodeGroup, NodeGroups,
        ScalingConfig,
    },
    conformance, Error, KubeVersion,
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
    conformance::backup_store(&InMemory::new()).await;
}

// The local directory and S3 stores run the same suite in k8sops-backup's tests.

#[tokio::test]
async fn backup_store_conformance_catches_a_store_that_truncates_writes() {
    let broken = Truncating(InMemory::new());
    let run = tokio::spawn(async move { conformance::backup_store(&broken).await });
    let err = run.await.expect_err("the suite must fail on a store that loses data");
    assert!(err.is_panic(), "{err}");
}

#[test]
fn backup_keys_are_plain_relative_paths() {
    assert_eq!(parse_key("etcd/2026-11-26.db").unwrap().as_ref(), "etcd/2026-11-26.db");
    for bad in ["", "/abs", "a/../b", "a//b", "./a", "a/", "a/\u{0}b"] {
        let err = parse_key(bad).expect_err(bad);
        assert!(matches!(err, Error::InvalidInput { .. }), "key {bad:?}: {err:?}");
    }
}

/// A store that keeps only the first byte of every put: the conformance
/// suite must notice.
#[derive(Debug)]
struct Truncating(InMemory);

impl std::fmt::Display for Truncating {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Truncating({})", self.0)
    }
}

#[async_trait::async_trait]
impl ObjectStore for Truncating {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let first: Vec<u8> = payload.iter().flat_map(|b| b.iter().copied()).take(1).collect();
        self.0.put_opts(location, first.into(), opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.0.put_multipart_opts(location, opts).await
    }
    async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        self.0.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<'static, object_store::Result<Path>>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<Path>> {
        self.0.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&Path>) -> futures::stream::BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.0.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.0.list_with_delimiter(prefix).await
    }
    async fn copy_opts(&self, from: &Path, to: &Path, options: object_store::CopyOptions) -> object_store::Result<()> {
        self.0.copy_opts(from, to, options).await
    }
}
