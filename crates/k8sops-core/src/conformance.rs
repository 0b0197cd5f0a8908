//! The conformance suites every backend implementation must pass (feature
//! `conformance`). The in-memory backends run them in this crate's tests; the
//! AWS and etcd backends run the same functions against moto and a real etcd,
//! so fakes and real implementations cannot drift apart.
//!
//! Each function panics with a message naming the broken rule, like the
//! assertions of a test.
//!
//! ```
//! use k8sops_core::backend::InMemoryBackupStore;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! k8sops_core::conformance::backup_store(&InMemoryBackupStore::new()).await;
//! # }
//! ```

use bytes::Bytes;
use futures::TryStreamExt;

use crate::{
    backend::{BackupStore, ControlPlane, EtcdSnapshots, NodeGroups, ScalingUpdate, UpdateStatus},
    error::Error,
};

/// Node groups: `group` must exist with `max > min` and at least one instance
/// is not required. The group's scaling is restored at the end.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use k8sops_core::backend::{InMemoryNodeGroups, NodeGroup, ScalingConfig};
/// let groups = InMemoryNodeGroups::new().with_group(NodeGroup::new("workers", ScalingConfig { min: 1, max: 5, desired: 2 }));
/// k8sops_core::conformance::node_groups(&groups, "workers").await;
/// # Ok(()) }
/// ```
pub async fn node_groups(backend: &dyn NodeGroups, group: &str) {
    let names = backend.list().await.expect("list node groups");
    assert!(names.iter().any(|n| n == group), "list() must include {group}, got {names:?}");

    let before = backend.describe(group).await.expect("describe existing group");
    assert_eq!(before.name, group, "describe() returns the group asked for");
    before.scaling.validate().expect("a described group has a valid scaling config");

    // Move desired within bounds, and read it back.
    let target = if before.scaling.desired < before.scaling.max {
        before.scaling.desired + 1
    } else {
        before.scaling.desired - 1
    };
    let update = backend.update_scaling(group, &ScalingUpdate::desired(target)).await.expect("scale within bounds");
    assert!(!update.id.is_empty(), "an update has an id");
    let after = backend.describe(group).await.expect("describe after scaling");
    assert_eq!(after.scaling.desired, target, "desired size is applied");

    // Invalid configurations are refused before anything changes.
    let too_big = ScalingUpdate::desired(after.scaling.max + 1);
    let err = backend.update_scaling(group, &too_big).await.expect_err("desired above max must be refused");
    assert!(matches!(err, Error::InvalidInput { .. }), "desired > max is InvalidInput, got {err:?}");
    let inverted =
        ScalingUpdate { min: Some(after.scaling.max), max: Some(after.scaling.max - 1), ..Default::default() };
    let err = backend.update_scaling(group, &inverted).await.expect_err("min > max must be refused");
    assert!(matches!(err, Error::InvalidInput { .. }), "min > max is InvalidInput, got {err:?}");
    assert_eq!(
        backend.describe(group).await.expect("describe").scaling.desired,
        target,
        "refused updates change nothing"
    );

    // Unknown names are NotFound.
    let missing = "k8sops-conformance-no-such-group";
    let err = backend.describe(missing).await.expect_err("unknown group");
    assert!(err.is_not_found(), "describe(unknown) is NotFound, got {err:?}");
    let err = backend.update_scaling(missing, &ScalingUpdate::desired(1)).await.expect_err("unknown group");
    assert!(err.is_not_found(), "update_scaling(unknown) is NotFound, got {err:?}");
    let err = backend.terminate_instance(group, "i-00000000000000000", true).await.expect_err("unknown instance");
    assert!(err.is_not_found(), "terminate_instance(unknown) is NotFound, got {err:?}");

    backend
        .update_scaling(group, &ScalingUpdate { desired: Some(before.scaling.desired), ..Default::default() })
        .await
        .expect("restore desired size");
}

/// Control planes: the version parses, skipping a minor version is refused,
/// and an upgrade to the next minor can be started and polled to completion
/// within `max_polls` describes.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use k8sops_core::backend::InMemoryControlPlane;
/// k8sops_core::conformance::control_plane(&InMemoryControlPlane::new("1.29.3".parse()?), 5).await;
/// # Ok(()) }
/// ```
pub async fn control_plane(backend: &dyn ControlPlane, max_polls: usize) {
    let current = backend.version().await.expect("version");
    let skip = crate::KubeVersion::new(current.major, current.minor + 2, 0);
    let err = backend.start_upgrade(&skip).await.expect_err("skipping a minor must be refused");
    assert!(matches!(err, Error::InvalidInput { .. }), "skip-minor upgrade is InvalidInput, got {err:?}");

    let next = current.next_minor();
    let update = backend.start_upgrade(&next).await.expect("upgrade to next minor");
    let mut last = update.status;
    for _ in 0..max_polls {
        last = backend.describe_update(&update.id).await.expect("describe update").status;
        if last.is_terminal() {
            break;
        }
    }
    assert_eq!(last, UpdateStatus::Successful, "upgrade completes");
    assert_eq!(backend.version().await.expect("version").minor, next.minor, "version moved to the next minor");
    let err = backend.describe_update("no-such-update").await.expect_err("unknown update");
    assert!(err.is_not_found(), "describe_update(unknown) is NotFound, got {err:?}");
}

/// etcd: a snapshot is non-empty, members and status are reported.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use k8sops_core::backend::InMemoryEtcd;
/// k8sops_core::conformance::etcd_snapshots(&InMemoryEtcd::new(&b"snapshot"[..])).await;
/// # Ok(()) }
/// ```
pub async fn etcd_snapshots(backend: &dyn EtcdSnapshots) {
    let chunks: Vec<Bytes> = backend.snapshot().await.expect("snapshot").try_collect().await.expect("snapshot stream");
    let total: usize = chunks.iter().map(Bytes::len).sum();
    assert!(total > 0, "a snapshot has content");
    let members = backend.members().await.expect("members");
    assert!(!members.is_empty(), "at least one member");
    assert!(members.iter().all(|m| !m.client_urls.is_empty() || m.is_learner), "members list client URLs");
    let status = backend.status().await.expect("status");
    assert!(!status.is_empty(), "at least one endpoint status");
    assert!(status.iter().all(|s| s.db_size > 0 && !s.version.is_empty()), "status has db size and version");
}

/// Backup stores: round trips, overwrite, prefix listing, idempotent delete,
/// NotFound, key validation, and atomicity under concurrent writers.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// let dir = std::env::temp_dir().join(format!("k8sops-conformance-doc-{}", std::process::id()));
/// k8sops_core::conformance::backup_store(&k8sops_core::backend::LocalDirStore::new(&dir)).await;
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok(()) }
/// ```
pub async fn backup_store(store: &dyn BackupStore) {
    let base = "k8sops-conformance";
    store.put(&format!("{base}/a/one"), Bytes::from_static(b"1")).await.expect("put");
    store.put(&format!("{base}/a/two"), Bytes::from_static(b"22")).await.expect("put");
    store.put(&format!("{base}/b/three"), Bytes::from_static(b"333")).await.expect("put");
    assert_eq!(store.get(&format!("{base}/a/two")).await.expect("get"), Bytes::from_static(b"22"));

    store.put(&format!("{base}/a/one"), Bytes::from_static(b"one!")).await.expect("overwrite");
    assert_eq!(
        store.get(&format!("{base}/a/one")).await.expect("get"),
        Bytes::from_static(b"one!"),
        "overwrite replaces"
    );

    let listed = store.list(&format!("{base}/a/")).await.expect("list");
    let keys: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, [format!("{base}/a/one"), format!("{base}/a/two")], "list is prefix-filtered and sorted");
    assert_eq!(listed[0].size, 4, "list reports sizes");

    let err = store.get(&format!("{base}/missing")).await.expect_err("missing key");
    assert!(err.is_not_found(), "get(missing) is NotFound, got {err:?}");
    store.delete(&format!("{base}/a/two")).await.expect("delete");
    store.delete(&format!("{base}/a/two")).await.expect("delete of a missing key succeeds");
    assert!(store.get(&format!("{base}/a/two")).await.expect_err("deleted").is_not_found());

    for bad in ["", "/abs", "a/../b", "a//b"] {
        let err = store.put(bad, Bytes::new()).await.expect_err("invalid key");
        assert!(matches!(err, Error::InvalidInput { .. }), "key {bad:?} is InvalidInput, got {err:?}");
    }

    // Concurrent writers of one key: the reader sees one complete value.
    let key = format!("{base}/race");
    let big_a = Bytes::from(vec![b'a'; 256 * 1024]);
    let big_b = Bytes::from(vec![b'b'; 256 * 1024]);
    let (ra, rb) = futures::join!(store.put(&key, big_a.clone()), store.put(&key, big_b.clone()));
    ra.expect("put a");
    rb.expect("put b");
    let got = store.get(&key).await.expect("get race");
    assert!(got == big_a || got == big_b, "a concurrent put is never torn");

    for o in store.list(base).await.expect("list all") {
        store.delete(&o.key).await.expect("cleanup");
    }
    assert!(store.list(base).await.expect("list").is_empty(), "cleanup leaves nothing");
}
