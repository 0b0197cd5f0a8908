//! Backend traits: the small interfaces through which k8sops reaches things
//! that are not the Kubernetes API — cloud node groups, a managed control
//! plane, etcd, and a place to keep backups.
//!
//! Each trait is minimal, like `object_store::ObjectStore`: only what a
//! backend must provide. Every trait has an in-memory implementation in this
//! crate (always compiled, used by tests and the demo cluster); real
//! implementations (EKS, Auto Scaling, etcd) live in the area crates behind
//! the `aws` and `etcd` features. All implementations pass the same
//! [`conformance`](crate::conformance) suite (feature `conformance`).
//!
//! Backups are kept in an [`object_store::ObjectStore`] ([`BackupStore`]),
//! re-exported here as [`object_store`] so that callers use the same version.

mod backup_store;
mod control_plane;
mod etcd;
mod node_groups;

pub use backup_store::{parse_key, BackupStore};
pub use control_plane::{ControlPlane, DynControlPlane, InMemoryControlPlane};
pub use etcd::{DynEtcdSnapshots, EtcdEndpointStatus, EtcdMember, EtcdSnapshots, InMemoryEtcd, SnapshotStream};
pub use node_groups::{
    DynNodeGroups, HealthIssue, InMemoryNodeGroups, Instance, NodeGroup, NodeGroupKind, NodeGroups, ScalingConfig,
    ScalingUpdate,
};

/// The object store crate backups are kept in, re-exported so that callers
/// use the same version.
pub use object_store;
use serde::{Deserialize, Serialize};

/// The state of an asynchronous change made through a backend (an EKS update,
/// a control-plane upgrade).
///
/// ```
/// use k8sops_core::backend::UpdateStatus;
/// let finished = |s: UpdateStatus| s != UpdateStatus::InProgress;
/// assert!(finished(UpdateStatus::Failed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum UpdateStatus {
    /// Still running; poll again.
    InProgress,
    /// Finished successfully.
    Successful,
    /// Finished with errors (see [`Update::errors`]).
    Failed,
    /// Cancelled before it finished.
    Cancelled,
}

impl UpdateStatus {
    /// Whether the update has finished, one way or another.
    ///
    /// ```
    /// assert!(!k8sops_core::backend::UpdateStatus::InProgress.is_terminal());
    /// ```
    pub fn is_terminal(self) -> bool {
        !matches!(self, UpdateStatus::InProgress)
    }
}

/// An asynchronous change and its progress, as `aws eks describe-update` reports it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use k8sops_core::backend::{InMemoryNodeGroups, NodeGroup, NodeGroups, ScalingConfig, ScalingUpdate, UpdateStatus};
/// let groups = InMemoryNodeGroups::new().with_group(NodeGroup::new("g", ScalingConfig { min: 1, max: 3, desired: 1 }));
/// let update = groups.update_scaling("g", &ScalingUpdate::desired(2)).await?;
/// assert_eq!(groups.describe_update("g", &update.id).await?.status, UpdateStatus::Successful);
/// assert!(update.errors.is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// The backend's identifier for the update.
    pub id: String,
    /// What kind of change, e.g. `ConfigUpdate`, `VersionUpdate`.
    pub kind: String,
    /// Where it stands.
    pub status: UpdateStatus,
    /// Errors reported by the backend, if any.
    pub errors: Vec<String>,
}

impl Update {
    /// An update that completed at once.
    ///
    /// ```
    /// use k8sops_core::backend::{Update, UpdateStatus};
    /// assert_eq!(Update::completed("u-1", "ConfigUpdate").status, UpdateStatus::Successful);
    /// ```
    pub fn completed(id: impl Into<String>, kind: impl Into<String>) -> Self {
        Update { id: id.into(), kind: kind.into(), status: UpdateStatus::Successful, errors: Vec::new() }
    }
}
