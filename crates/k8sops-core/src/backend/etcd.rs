use std::{fmt, sync::Arc};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// A snapshot as a stream of chunks, in order.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use futures::TryStreamExt;
/// use k8sops_core::backend::{EtcdSnapshots, InMemoryEtcd};
/// let mut stream = InMemoryEtcd::new(vec![1u8; 100]).snapshot().await?;
/// let mut size = 0;
/// while let Some(chunk) = stream.try_next().await? {
///     size += chunk.len(); // write each chunk to a file as it arrives
/// }
/// assert_eq!(size, 100);
/// # Ok(()) }
/// ```
pub type SnapshotStream = BoxStream<'static, Result<Bytes>>;

/// An etcd cluster member, as `etcdctl member list` shows it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use k8sops_core::backend::{EtcdSnapshots, InMemoryEtcd};
/// for m in InMemoryEtcd::new(&b"x"[..]).members().await? {
///     println!("{:x}, started, {}, {}, {}, {}", m.id, m.name, m.peer_urls.join(","), m.client_urls.join(","), m.is_learner);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcdMember {
    /// Member id.
    pub id: u64,
    /// Member name.
    pub name: String,
    /// Peer URLs.
    pub peer_urls: Vec<String>,
    /// Client URLs.
    pub client_urls: Vec<String>,
    /// Whether the member is a non-voting learner.
    pub is_learner: bool,
}

/// One endpoint's status, as `etcdctl endpoint status` shows it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use k8sops_core::backend::{EtcdSnapshots, InMemoryEtcd};
/// for s in InMemoryEtcd::new(&b"x"[..]).status().await? {
///     println!("{}: version {}, db {} bytes, leader {:x}", s.endpoint, s.version, s.db_size, s.leader);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcdEndpointStatus {
    /// The endpoint asked.
    pub endpoint: String,
    /// Member id of the endpoint.
    pub member_id: u64,
    /// Server version.
    pub version: String,
    /// Database size in bytes.
    pub db_size: i64,
    /// Member id of the leader.
    pub leader: u64,
    /// Raft index.
    pub raft_index: u64,
    /// Raft term.
    pub raft_term: u64,
    /// Alarms and errors the endpoint reports.
    pub errors: Vec<String>,
}

/// etcd access for backups: stream a snapshot, list members, read status.
/// Implemented over gRPC in `k8sops-backup` (feature `etcd`) and by
/// [`InMemoryEtcd`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use k8sops_core::backend::{EtcdSnapshots, InMemoryEtcd};
/// let etcd: &dyn EtcdSnapshots = &InMemoryEtcd::new(&b"snapshot"[..]);
/// assert!(!etcd.members().await?.is_empty());
/// # Ok(()) }
/// ```
#[async_trait]
pub trait EtcdSnapshots: Send + Sync + fmt::Debug {
    /// A short name for messages.
    fn backend_name(&self) -> String;

    /// Streams a consistent snapshot of the keyspace (`etcdctl snapshot save`).
    async fn snapshot(&self) -> Result<SnapshotStream>;

    /// The cluster's members.
    async fn members(&self) -> Result<Vec<EtcdMember>>;

    /// The status of each configured endpoint.
    async fn status(&self) -> Result<Vec<EtcdEndpointStatus>>;
}

/// A shared etcd backend.
///
/// ```
/// let etcd: k8sops_core::backend::DynEtcdSnapshots = std::sync::Arc::new(k8sops_core::backend::InMemoryEtcd::new(&b"x"[..]));
/// ```
pub type DynEtcdSnapshots = Arc<dyn EtcdSnapshots>;

/// An in-memory etcd whose snapshot is a fixed byte string, streamed in chunks.
///
/// ```
/// use futures::TryStreamExt;
/// use k8sops_core::backend::{EtcdSnapshots, InMemoryEtcd};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// let etcd = InMemoryEtcd::new(vec![7u8; 10_000]);
/// let chunks: Vec<_> = etcd.snapshot().await?.try_collect().await?;
/// assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), 10_000);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct InMemoryEtcd {
    data: Bytes,
}

impl InMemoryEtcd {
    /// An etcd whose snapshot is `data`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// use k8sops_core::backend::{EtcdSnapshots, InMemoryEtcd};
    /// let etcd = InMemoryEtcd::new(&b"snapshot bytes"[..]);
    /// assert_eq!(etcd.members().await?.len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn new(data: impl Into<Bytes>) -> Self {
        InMemoryEtcd { data: data.into() }
    }
}

#[async_trait]
impl EtcdSnapshots for InMemoryEtcd {
    fn backend_name(&self) -> String {
        "in-memory etcd".into()
    }

    async fn snapshot(&self) -> Result<SnapshotStream> {
        let data = self.data.clone();
        let chunks: Vec<Result<Bytes>> =
            (0..data.len()).step_by(4096).map(|i| Ok(data.slice(i..(i + 4096).min(data.len())))).collect();
        Ok(Box::pin(futures::stream::iter(chunks)))
    }

    async fn members(&self) -> Result<Vec<EtcdMember>> {
        Ok(vec![EtcdMember {
            id: 1,
            name: "memory".into(),
            peer_urls: vec!["memory://peer".into()],
            client_urls: vec!["memory://client".into()],
            is_learner: false,
        }])
    }

    async fn status(&self) -> Result<Vec<EtcdEndpointStatus>> {
        Ok(vec![EtcdEndpointStatus {
            endpoint: "memory://client".into(),
            member_id: 1,
            version: "3.5.0".into(),
            db_size: self.data.len() as i64,
            leader: 1,
            raft_index: 1,
            raft_term: 1,
            errors: vec![],
        }])
    }
}
