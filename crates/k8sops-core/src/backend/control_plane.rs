use std::{
    collections::BTreeMap,
    fmt,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;

use super::{Update, UpdateStatus};
use crate::{
    error::{Error, Result},
    version::KubeVersion,
};

/// A managed control plane: read its version, start an upgrade, poll it.
/// Implemented for EKS in `k8sops-upgrade` (feature `aws`) and by
/// [`InMemoryControlPlane`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use k8sops_core::backend::{ControlPlane, InMemoryControlPlane};
/// let cp = InMemoryControlPlane::new("1.29.3".parse()?);
/// let next = cp.version().await?.next_minor();
/// let update = cp.start_upgrade(&next).await?;
/// println!("upgrade {} to {next}: {:?}", update.id, cp.describe_update(&update.id).await?.status);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait ControlPlane: Send + Sync + fmt::Debug {
    /// A short name for messages.
    fn backend_name(&self) -> String;

    /// The control plane's current version.
    async fn version(&self) -> Result<KubeVersion>;

    /// Starts an upgrade to `target`. Control planes move one minor version at
    /// a time: anything else is [`Error::InvalidInput`].
    async fn start_upgrade(&self, target: &KubeVersion) -> Result<Update>;

    /// Polls an upgrade.
    async fn describe_update(&self, update_id: &str) -> Result<Update>;
}

/// A shared control-plane backend.
///
/// ```
/// let cp: k8sops_core::backend::DynControlPlane =
///     std::sync::Arc::new(k8sops_core::backend::InMemoryControlPlane::new("1.30.4".parse().unwrap()));
/// ```
pub type DynControlPlane = Arc<dyn ControlPlane>;

/// An in-memory control plane. An upgrade reports `InProgress` on its first
/// poll and `Successful` on the next, when the version changes — enough to
/// exercise polling loops without sleeping.
///
/// ```
/// use k8sops_core::{backend::{ControlPlane, InMemoryControlPlane, UpdateStatus}, KubeVersion};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// let cp = InMemoryControlPlane::new(KubeVersion::new(1, 29, 3));
/// let u = cp.start_upgrade(&KubeVersion::new(1, 30, 0)).await?;
/// assert_eq!(cp.describe_update(&u.id).await?.status, UpdateStatus::InProgress);
/// assert_eq!(cp.describe_update(&u.id).await?.status, UpdateStatus::Successful);
/// assert_eq!(cp.version().await?.minor, 30);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct InMemoryControlPlane {
    state: Mutex<CpState>,
}

#[derive(Debug)]
struct CpState {
    version: KubeVersion,
    updates: BTreeMap<String, (Update, KubeVersion, u32)>,
}

impl InMemoryControlPlane {
    /// A control plane at `version`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// use k8sops_core::backend::{ControlPlane, InMemoryControlPlane};
    /// let cp = InMemoryControlPlane::new("1.29.3".parse()?);
    /// assert_eq!(cp.version().await?.minor, 29);
    /// # Ok(()) }
    /// ```
    pub fn new(version: KubeVersion) -> Self {
        InMemoryControlPlane { state: Mutex::new(CpState { version, updates: BTreeMap::new() }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CpState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl ControlPlane for InMemoryControlPlane {
    fn backend_name(&self) -> String {
        "in-memory control plane".into()
    }

    async fn version(&self) -> Result<KubeVersion> {
        Ok(self.lock().version.clone())
    }

    async fn start_upgrade(&self, target: &KubeVersion) -> Result<Update> {
        let mut st = self.lock();
        if st.updates.values().any(|(u, _, _)| u.status == UpdateStatus::InProgress) {
            return Err(Error::Conflict { message: "an upgrade is already in progress".into(), source: None });
        }
        if target.major != st.version.major || target.minor != st.version.minor + 1 {
            return Err(Error::InvalidInput {
                message: format!(
                    "control plane at {} can only be upgraded to the next minor version ({}), not {target}",
                    st.version.minor_string(),
                    st.version.next_minor().minor_string()
                ),
                source: None,
            });
        }
        let id = format!("upgrade-{}", st.updates.len() + 1);
        let update =
            Update { id: id.clone(), kind: "VersionUpdate".into(), status: UpdateStatus::InProgress, errors: vec![] };
        st.updates.insert(id, (update.clone(), target.clone(), 0));
        Ok(update)
    }

    async fn describe_update(&self, update_id: &str) -> Result<Update> {
        let mut st = self.lock();
        let (update, target, polls) = st
            .updates
            .get_mut(update_id)
            .ok_or_else(|| Error::NotFound { what: format!("update {update_id}"), source: None })?;
        *polls += 1;
        if *polls > 1 && update.status == UpdateStatus::InProgress {
            update.status = UpdateStatus::Successful;
            let target = target.clone();
            let out = update.clone();
            st.version = target;
            return Ok(out);
        }
        Ok(update.clone())
    }
}
