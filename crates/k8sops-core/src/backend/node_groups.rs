use std::{
    collections::BTreeMap,
    fmt,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::Update;
use crate::{
    error::{Error, Result},
    version::KubeVersion,
};

/// Which cloud construct backs a node group.
///
/// ```
/// use k8sops_core::backend::{NodeGroup, NodeGroupKind, ScalingConfig};
/// let g = NodeGroup::new("workers", ScalingConfig { min: 1, max: 3, desired: 2 });
/// assert_eq!(g.kind, NodeGroupKind::InMemory);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum NodeGroupKind {
    /// An EKS managed node group.
    EksManaged,
    /// A plain EC2 Auto Scaling group.
    AutoScalingGroup,
    /// An in-memory group used by tests and the demo cluster.
    InMemory,
}

/// Minimum, maximum and desired size of a node group.
///
/// ```
/// let s = k8sops_core::backend::ScalingConfig { min: 2, max: 10, desired: 4 };
/// assert!(s.min <= s.desired && s.desired <= s.max);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScalingConfig {
    /// Minimum number of nodes.
    pub min: i32,
    /// Maximum number of nodes.
    pub max: i32,
    /// Desired number of nodes.
    pub desired: i32,
}

impl ScalingConfig {
    /// Checks `0 <= min <= desired <= max` (and `max >= 1`, as EKS requires).
    ///
    /// ```
    /// use k8sops_core::backend::ScalingConfig;
    /// assert!(ScalingConfig { min: 1, max: 10, desired: 3 }.validate().is_ok());
    /// let err = ScalingConfig { min: 4, max: 10, desired: 3 }.validate().unwrap_err();
    /// assert!(err.to_string().contains("min (4) <= desired (3)"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |message: String| Err(Error::InvalidInput { message, source: None });
        if self.min < 0 {
            return bad(format!("min ({}) must not be negative", self.min));
        }
        if self.max < 1 {
            return bad(format!("max ({}) must be at least 1", self.max));
        }
        if self.min > self.desired || self.desired > self.max {
            return bad(format!(
                "scaling config must satisfy min ({}) <= desired ({}) <= max ({})",
                self.min, self.desired, self.max
            ));
        }
        Ok(())
    }
}

/// A change to a node group's scaling; unset fields keep their value.
///
/// ```
/// use k8sops_core::backend::{ScalingConfig, ScalingUpdate};
/// let cur = ScalingConfig { min: 1, max: 5, desired: 2 };
/// let next = ScalingUpdate::desired(4).apply_to(cur);
/// assert_eq!(next, ScalingConfig { min: 1, max: 5, desired: 4 });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalingUpdate {
    /// New minimum.
    pub min: Option<i32>,
    /// New maximum.
    pub max: Option<i32>,
    /// New desired size.
    pub desired: Option<i32>,
    /// For Auto Scaling groups: refuse while the group is in its cooldown
    /// (`--honor-cooldown`). Ignored by EKS.
    pub honor_cooldown: bool,
}

impl ScalingUpdate {
    /// Only change the desired size.
    ///
    /// ```
    /// use k8sops_core::backend::ScalingUpdate;
    /// let u = ScalingUpdate::desired(5);
    /// assert_eq!((u.min, u.max, u.desired), (None, None, Some(5)));
    /// ```
    pub fn desired(n: i32) -> Self {
        ScalingUpdate { desired: Some(n), ..Self::default() }
    }

    /// The configuration after applying this update to `current`.
    ///
    /// ```
    /// use k8sops_core::backend::{ScalingConfig, ScalingUpdate};
    /// let now = ScalingConfig { min: 1, max: 5, desired: 2 };
    /// assert_eq!(ScalingUpdate::desired(4).apply_to(now), ScalingConfig { min: 1, max: 5, desired: 4 });
    /// ```
    pub fn apply_to(&self, current: ScalingConfig) -> ScalingConfig {
        ScalingConfig {
            min: self.min.unwrap_or(current.min),
            max: self.max.unwrap_or(current.max),
            desired: self.desired.unwrap_or(current.desired),
        }
    }
}

/// A problem the cloud reports with a node group.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use k8sops_core::backend::{InMemoryNodeGroups, NodeGroups};
/// # let groups = InMemoryNodeGroups::new().with_group(k8sops_core::backend::NodeGroup::new("g", k8sops_core::backend::ScalingConfig { min: 1, max: 3, desired: 1 }));
/// for issue in groups.describe("g").await?.health_issues {
///     println!("{}: {} ({})", issue.code, issue.message, issue.resource_ids.join(", "));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthIssue {
    /// The backend's code, e.g. `AsgInstanceLaunchFailures`.
    pub code: String,
    /// Its message.
    pub message: String,
    /// Affected resources (instance ids, ASG names).
    pub resource_ids: Vec<String>,
}

/// A cloud instance in a node group.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use k8sops_core::backend::{InMemoryNodeGroups, NodeGroups};
/// # let groups = InMemoryNodeGroups::new().with_group(k8sops_core::backend::NodeGroup::new("g", k8sops_core::backend::ScalingConfig { min: 1, max: 3, desired: 1 }));
/// let in_service = groups.describe("g").await?.instances.iter().filter(|i| i.lifecycle_state == "InService").count();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// Instance id, e.g. `i-0abc...`; matches the tail of a node's `spec.providerID`.
    pub id: String,
    /// Lifecycle state, e.g. `InService`.
    pub lifecycle_state: String,
    /// Health, e.g. `Healthy`.
    pub health_status: String,
    /// Availability zone, if known.
    pub availability_zone: Option<String>,
}

/// Everything `describe-nodegroup` / `describe-auto-scaling-groups` tells about a group.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use k8sops_core::backend::{InMemoryNodeGroups, NodeGroups};
/// # let groups = InMemoryNodeGroups::new().with_group(k8sops_core::backend::NodeGroup::new("general", k8sops_core::backend::ScalingConfig { min: 1, max: 3, desired: 2 }));
/// let g = groups.describe("general").await?;
/// println!("{} {} {}/{}/{}", g.name, g.status, g.scaling.min, g.scaling.desired, g.scaling.max);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeGroup {
    /// The group's name.
    pub name: String,
    /// What backs it.
    pub kind: NodeGroupKind,
    /// Status, e.g. `ACTIVE`, `UPDATING`, `DEGRADED`.
    pub status: String,
    /// Current scaling configuration.
    pub scaling: ScalingConfig,
    /// Instance types.
    pub instance_types: Vec<String>,
    /// AMI type (EKS), e.g. `AL2023_x86_64_STANDARD`.
    pub ami_type: Option<String>,
    /// AMI release version (EKS).
    pub release_version: Option<String>,
    /// Kubernetes version of the group's kubelets.
    pub kubernetes_version: Option<KubeVersion>,
    /// Kubernetes labels applied to the group's nodes.
    pub labels: BTreeMap<String, String>,
    /// Problems reported by the cloud.
    pub health_issues: Vec<HealthIssue>,
    /// The Auto Scaling groups behind an EKS managed group.
    pub auto_scaling_groups: Vec<String>,
    /// Instances currently in the group (when the backend knows them).
    pub instances: Vec<Instance>,
}

impl NodeGroup {
    /// A minimal in-memory group.
    ///
    /// ```
    /// use k8sops_core::backend::{NodeGroup, ScalingConfig};
    /// let g = NodeGroup::new("workers", ScalingConfig { min: 1, max: 5, desired: 2 });
    /// assert_eq!(g.status, "ACTIVE");
    /// ```
    pub fn new(name: impl Into<String>, scaling: ScalingConfig) -> Self {
        NodeGroup {
            name: name.into(),
            kind: NodeGroupKind::InMemory,
            status: "ACTIVE".into(),
            scaling,
            instance_types: Vec::new(),
            ami_type: None,
            release_version: None,
            kubernetes_version: None,
            labels: BTreeMap::new(),
            health_issues: Vec::new(),
            auto_scaling_groups: Vec::new(),
            instances: Vec::new(),
        }
    }
}

/// Cloud node groups: list, describe, scale, terminate an instance, update the
/// Kubernetes version. Implemented for EKS managed node groups and Auto
/// Scaling groups in `k8sops-nodes` (feature `aws`), and by
/// [`InMemoryNodeGroups`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use k8sops_core::backend::{InMemoryNodeGroups, NodeGroup, NodeGroups, ScalingConfig, ScalingUpdate};
/// let groups = InMemoryNodeGroups::new().with_group(NodeGroup::new("spot", ScalingConfig { min: 0, max: 5, desired: 2 }));
/// // Bounds are checked before anything is sent.
/// assert!(groups.update_scaling("spot", &ScalingUpdate::desired(9)).await.is_err());
/// groups.update_scaling("spot", &ScalingUpdate::desired(4)).await?;
/// assert_eq!(groups.describe("spot").await?.scaling.desired, 4);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait NodeGroups: Send + Sync + fmt::Debug {
    /// A short name for messages, e.g. `EKS cluster prod`.
    fn backend_name(&self) -> String;

    /// Names of all groups.
    async fn list(&self) -> Result<Vec<String>>;

    /// One group; [`Error::NotFound`] if it does not exist.
    async fn describe(&self, name: &str) -> Result<NodeGroup>;

    /// Changes min/max/desired. The resulting configuration is validated
    /// before anything is sent ([`Error::InvalidInput`] names the bounds).
    async fn update_scaling(&self, name: &str, update: &ScalingUpdate) -> Result<Update>;

    /// Terminates one instance of the group, optionally lowering the desired
    /// size so it is not replaced.
    async fn terminate_instance(&self, name: &str, instance_id: &str, decrement_desired: bool) -> Result<()>;

    /// Starts moving the group to another Kubernetes version.
    async fn update_version(&self, name: &str, version: &KubeVersion) -> Result<Update>;

    /// Polls an update started by this backend.
    async fn describe_update(&self, name: &str, update_id: &str) -> Result<Update>;
}

/// A shared node-group backend.
///
/// ```
/// let groups: k8sops_core::backend::DynNodeGroups = std::sync::Arc::new(k8sops_core::backend::InMemoryNodeGroups::new());
/// ```
pub type DynNodeGroups = Arc<dyn NodeGroups>;

/// In-memory node groups. Changes apply at once; updates report `Successful`.
///
/// ```
/// use k8sops_core::backend::{InMemoryNodeGroups, NodeGroup, NodeGroups, ScalingConfig, ScalingUpdate};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// let groups = InMemoryNodeGroups::new().with_group(NodeGroup::new("workers", ScalingConfig { min: 1, max: 5, desired: 2 }));
/// groups.update_scaling("workers", &ScalingUpdate::desired(3)).await?;
/// assert_eq!(groups.describe("workers").await?.scaling.desired, 3);
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct InMemoryNodeGroups {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    groups: BTreeMap<String, NodeGroup>,
    updates: BTreeMap<String, Update>,
    next_update: u64,
}

impl InMemoryNodeGroups {
    /// No groups.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// use k8sops_core::backend::{InMemoryNodeGroups, NodeGroups};
    /// assert!(InMemoryNodeGroups::new().list().await?.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a group.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// use k8sops_core::backend::{InMemoryNodeGroups, NodeGroup, NodeGroups, ScalingConfig};
    /// let groups = InMemoryNodeGroups::new().with_group(NodeGroup::new("spot", ScalingConfig { min: 0, max: 10, desired: 3 }));
    /// assert_eq!(groups.list().await?, ["spot"]);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_group(self, group: NodeGroup) -> Self {
        self.insert(group);
        self
    }

    /// Adds or replaces a group.
    ///
    /// ```
    /// use k8sops_core::backend::{InMemoryNodeGroups, NodeGroup, ScalingConfig};
    /// InMemoryNodeGroups::new().insert(NodeGroup::new("g", ScalingConfig { min: 0, max: 1, desired: 0 }));
    /// ```
    pub fn insert(&self, group: NodeGroup) {
        self.lock().groups.insert(group.name.clone(), group);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn not_found(name: &str) -> Error {
        Error::NotFound { what: format!("node group {name}"), source: None }
    }
}

impl MemoryState {
    fn record(&mut self, kind: &str) -> Update {
        self.next_update += 1;
        let u = Update::completed(format!("update-{}", self.next_update), kind);
        self.updates.insert(u.id.clone(), u.clone());
        u
    }
}

#[async_trait]
impl NodeGroups for InMemoryNodeGroups {
    fn backend_name(&self) -> String {
        "in-memory node groups".into()
    }

    async fn list(&self) -> Result<Vec<String>> {
        Ok(self.lock().groups.keys().cloned().collect())
    }

    async fn describe(&self, name: &str) -> Result<NodeGroup> {
        self.lock().groups.get(name).cloned().ok_or_else(|| Self::not_found(name))
    }

    async fn update_scaling(&self, name: &str, update: &ScalingUpdate) -> Result<Update> {
        let mut st = self.lock();
        let group = st.groups.get_mut(name).ok_or_else(|| Self::not_found(name))?;
        let next = update.apply_to(group.scaling);
        next.validate()?;
        group.scaling = next;
        Ok(st.record("ConfigUpdate"))
    }

    async fn terminate_instance(&self, name: &str, instance_id: &str, decrement_desired: bool) -> Result<()> {
        let mut st = self.lock();
        let group = st.groups.get_mut(name).ok_or_else(|| Self::not_found(name))?;
        let idx = group.instances.iter().position(|i| i.id == instance_id).ok_or_else(|| Error::NotFound {
            what: format!("instance {instance_id} in node group {name}"),
            source: None,
        })?;
        if decrement_desired {
            if group.scaling.desired - 1 < group.scaling.min {
                return Err(Error::InvalidInput {
                    message: format!(
                        "terminating {instance_id} with decrement would put desired ({}) below min ({})",
                        group.scaling.desired - 1,
                        group.scaling.min
                    ),
                    source: None,
                });
            }
            group.scaling.desired -= 1;
        }
        group.instances.remove(idx);
        Ok(())
    }

    async fn update_version(&self, name: &str, version: &KubeVersion) -> Result<Update> {
        let mut st = self.lock();
        let group = st.groups.get_mut(name).ok_or_else(|| Self::not_found(name))?;
        if let Some(cur) = &group.kubernetes_version {
            if version < cur {
                return Err(Error::InvalidInput {
                    message: format!("node group {name} runs {cur}; cannot downgrade to {version}"),
                    source: None,
                });
            }
        }
        group.kubernetes_version = Some(version.clone());
        Ok(st.record("VersionUpdate"))
    }

    async fn describe_update(&self, name: &str, update_id: &str) -> Result<Update> {
        let st = self.lock();
        if !st.groups.contains_key(name) {
            return Err(Self::not_found(name));
        }
        st.updates
            .get(update_id)
            .cloned()
            .ok_or_else(|| Error::NotFound { what: format!("update {update_id}"), source: None })
    }
}
