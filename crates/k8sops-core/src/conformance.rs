//! The conformance suites every backend implementation must pass (feature
//! `conformance`). The in-memory backends run them in this crate's tests; the
//! AWS and etcd backends run the same functions against moto and a real etcd,
//! so fakes and real implementations cannot drift apart.
//!
//! Each function panics with a message naming the broken rule, like the
//! assertions of a test.
//!
//! ```
//! use k8sops_core::backend::object_store::memory::InMemory;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! k8sops_core::conformance::backup_store(&InMemory::new()).await;
//! # }
//! ```

use bytes::Bytes;
use futures::TryStreamExt;

use object_store::{path::Path, ObjectStore, ObjectStoreExt, PutPayload};

use crate::{
    backend::{ControlPlane, EtcdSnapshots, NodeGroups, ScalingUpdate, UpdateStatus},
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

/// Backup stores (any [`ObjectStore`], see
/// [`BackupStore`](crate::backend::BackupStore)): round trips, overwrite,
/// metadata, ranged reads, prefix listing by path segment, listing with a
/// delimiter, NotFound, delete, multipart uploads (several 5 MiB parts, as
/// S3 requires) invisible until completed, aborted uploads leaving nothing,
/// and atomicity under concurrent writers. Everything is written under a
/// fresh `k8sops-conformance-*` prefix and deleted at the end.
///
/// Deleting a missing object may succeed (S3, memory) or be NotFound (a
/// plain local filesystem); both are accepted, and nothing else.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = k8sops_core::backend::object_store::memory::InMemory::new();
/// k8sops_core::conformance::backup_store(&store).await;
/// # }
/// ```
pub async fn backup_store(store: &dyn ObjectStore) {
    let base = unique_base();
    let key = |k: &str| Path::from(format!("{base}/{k}"));
    let bytes_of = |k: Path| async move {
        store.get(&k).await.unwrap_or_else(|e| panic!("get {k}: {e}")).bytes().await.expect("read body")
    };

    store.put(&key("a/one"), PutPayload::from_static(b"1")).await.expect("put");
    store.put(&key("a/two"), PutPayload::from_static(b"22")).await.expect("put");
    store.put(&key("ab/three"), PutPayload::from_static(b"333")).await.expect("put");
    store.put(&key("b/c/four"), PutPayload::from_static(b"4444")).await.expect("put");
    assert_eq!(bytes_of(key("a/two")).await, Bytes::from_static(b"22"), "get returns what put wrote");

    store.put(&key("a/one"), PutPayload::from_static(b"one!")).await.expect("overwrite");
    assert_eq!(bytes_of(key("a/one")).await, Bytes::from_static(b"one!"), "overwrite replaces");
    let meta = store.head(&key("a/one")).await.expect("head");
    assert_eq!((meta.location.clone(), meta.size), (key("a/one"), 4), "head reports location and size");
    let range = store.get_range(&key("b/c/four"), 1..3).await.expect("ranged get");
    assert_eq!(range, Bytes::from_static(b"44"), "a ranged get returns those bytes");

    let listed = sorted_list(store, &key("a")).await;
    assert_eq!(listed, [(key("a/one"), 4), (key("a/two"), 2)], "list is by path segment: a/ but not ab/");
    let all = sorted_list(store, &Path::from(base.as_str())).await;
    assert_eq!(all.len(), 4, "list is recursive, got {all:?}");
    let tree = store.list_with_delimiter(Some(&Path::from(base.as_str()))).await.expect("list with delimiter");
    let mut dirs = tree.common_prefixes.clone();
    dirs.sort();
    assert_eq!(dirs, [key("a"), key("ab"), key("b")], "common prefixes are the first-level directories");
    assert!(tree.objects.is_empty(), "no object sits directly under the base, got {:?}", tree.objects);

    let missing = key("missing");
    let err = store.get(&missing).await.expect_err("get of a missing key");
    assert!(matches!(err, object_store::Error::NotFound { .. }), "get(missing) is NotFound, got {err:?}");
    let err = store.head(&missing).await.expect_err("head of a missing key");
    assert!(matches!(err, object_store::Error::NotFound { .. }), "head(missing) is NotFound, got {err:?}");

    store.delete(&key("a/two")).await.expect("delete");
    let err = store.get(&key("a/two")).await.expect_err("deleted");
    assert!(matches!(err, object_store::Error::NotFound { .. }), "a deleted object is gone, got {err:?}");
    match store.delete(&key("a/two")).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => panic!("deleting a missing object succeeds or is NotFound, got {e:?}"),
    }

    // Multipart: parts of 5 MiB (S3's minimum but for the last), nothing
    // visible until complete, then exactly the concatenation.
    const PART: usize = 5 * 1024 * 1024;
    let big = key("multipart/object");
    let mut upload = store.put_multipart(&big).await.expect("start multipart upload");
    let parts = [vec![b'x'; PART], vec![b'y'; PART], b"tail".to_vec()];
    for part in &parts {
        upload.put_part(PutPayload::from(part.clone())).await.expect("put part");
    }
    assert!(
        sorted_list(store, &key("multipart")).await.is_empty(),
        "an uncompleted multipart upload is not listed as an object"
    );
    upload.complete().await.expect("complete multipart upload");
    let got = bytes_of(big.clone()).await;
    assert_eq!(got.len(), 2 * PART + 4, "a completed multipart object has every part");
    assert!(got[..PART].iter().all(|b| *b == b'x') && got[PART..2 * PART].iter().all(|b| *b == b'y'));
    assert_eq!(&got[2 * PART..], b"tail", "parts are in order");

    let aborted = key("multipart/aborted");
    let mut upload = store.put_multipart(&aborted).await.expect("start multipart upload");
    upload.put_part(PutPayload::from(vec![b'z'; PART])).await.expect("put part");
    upload.abort().await.expect("abort multipart upload");
    let err = store.head(&aborted).await.expect_err("an aborted upload leaves no object");
    assert!(matches!(err, object_store::Error::NotFound { .. }), "aborted upload is NotFound, got {err:?}");
    assert_eq!(
        sorted_list(store, &key("multipart")).await,
        [(big.clone(), 2 * PART as u64 + 4)],
        "an aborted upload is not listed"
    );

    // Concurrent writers of one key: the reader sees one complete value.
    let race = key("race");
    let big_a = Bytes::from(vec![b'a'; 256 * 1024]);
    let big_b = Bytes::from(vec![b'b'; 256 * 1024]);
    let (ra, rb) = futures::join!(store.put(&race, big_a.clone().into()), store.put(&race, big_b.clone().into()));
    ra.expect("put a");
    rb.expect("put b");
    let got = bytes_of(race).await;
    assert!(got == big_a || got == big_b, "a concurrent put is never torn");

    let everything: Vec<Path> =
        sorted_list(store, &Path::from(base.as_str())).await.into_iter().map(|(p, _)| p).collect();
    for p in &everything {
        store.delete(p).await.unwrap_or_else(|e| panic!("cleanup {p}: {e}"));
    }
    assert!(sorted_list(store, &Path::from(base.as_str())).await.is_empty(), "cleanup leaves nothing");
}

/// Every object under `prefix` as (location, size), sorted: stores list in
/// any order.
async fn sorted_list(store: &dyn ObjectStore, prefix: &Path) -> Vec<(Path, u64)> {
    let mut out: Vec<(Path, u64)> = store
        .list(Some(prefix))
        .map_ok(|m| (m.location, m.size))
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("list {prefix}: {e}"));
    out.sort();
    out
}

/// A prefix no other run uses, so runs against a shared bucket do not meet.
fn unique_base() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("k8sops-conformance-{}-{nanos}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}
