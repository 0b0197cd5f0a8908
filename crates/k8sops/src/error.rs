//! The facade's error: every area crate's error converts into it with `?`,
//! keeping the original (and its source chain) inside.

/// Any k8sops error. Each variant holds one crate's error unchanged, so
/// `?` works across areas and nothing is turned into a string:
///
/// ```
/// use k8sops::{nodes::DrainParams, Cluster};
///
/// async fn drain_and_report(cluster: &Cluster) -> Result<(), k8sops::Error> {
///     let drained = k8sops::nodes::drain(cluster, "ip-10-0-0-5.ec2.internal", &DrainParams::default()).await?;
///     drained.ensure_completed()?;                                   // k8sops_nodes::Error
///     let capacity = k8sops::metrics::capacity_report(cluster, &Default::default()).await?; // k8sops_metrics::Error
///     let health = k8sops::diagnose::cluster_health(cluster).await?; // k8sops_diagnose::Error
///     println!("{capacity}\n{health}");
///     Ok(())
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::builder().kubelet(Default::default()).start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small().problems(false))?;
/// // kubectl's drain defaults refuse the DaemonSet pods: the error is the typed refusal.
/// let err = drain_and_report(&server.cluster()).await.unwrap_err();
/// assert!(matches!(err, k8sops::Error::Nodes(k8sops::nodes::Error::Refused { .. })), "{err}");
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Talking to the cluster or a backend failed (`k8sops-core`).
    #[error(transparent)]
    Core(#[from] k8sops_core::Error),
    /// Node management (`k8sops-nodes`).
    #[error(transparent)]
    #[cfg(feature = "nodes")]
    #[cfg_attr(docsrs, doc(cfg(feature = "nodes")))]
    Nodes(#[from] k8sops_nodes::Error),
    /// Metrics, capacity and cleanup (`k8sops-metrics`).
    #[error(transparent)]
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    Metrics(#[from] k8sops_metrics::Error),
    /// Diagnosis (`k8sops-diagnose`).
    #[error(transparent)]
    #[cfg(feature = "diagnose")]
    #[cfg_attr(docsrs, doc(cfg(feature = "diagnose")))]
    Diagnose(#[from] k8sops_diagnose::Error),
    /// Backup and restore (`k8sops-backup`).
    #[error(transparent)]
    #[cfg(feature = "backup")]
    #[cfg_attr(docsrs, doc(cfg(feature = "backup")))]
    Backup(#[from] k8sops_backup::Error),
    /// Upgrades (`k8sops-upgrade`).
    #[error(transparent)]
    #[cfg(feature = "upgrade")]
    #[cfg_attr(docsrs, doc(cfg(feature = "upgrade")))]
    Upgrade(#[from] k8sops_upgrade::Error),
    /// Security audit (`k8sops-audit`).
    #[error(transparent)]
    #[cfg(feature = "audit")]
    #[cfg_attr(docsrs, doc(cfg(feature = "audit")))]
    Audit(#[from] k8sops_audit::Error),
    /// A fleet could not be assembled from the kubeconfig ([`crate::fleet`]).
    #[error(transparent)]
    Fleet(#[from] crate::fleet::FleetError),
}

impl Error {
    /// The cluster-level error inside, whichever area it came through: the
    /// place to ask [`is_transient`](k8sops_core::Error::is_transient),
    /// [`is_not_found`](k8sops_core::Error::is_not_found) or
    /// [`is_permission_denied`](k8sops_core::Error::is_permission_denied).
    ///
    /// ```
    /// let err: k8sops::Error = k8sops::nodes::Error::Core(k8sops::CoreError::Forbidden { message: "no".into() }).into();
    /// assert!(err.core().is_some_and(|e| e.is_permission_denied()));
    /// // Also through an area error that wraps another area's.
    /// let err: k8sops::Error = k8sops::upgrade::Error::Nodes(k8sops::nodes::Error::Core(k8sops::CoreError::Forbidden {
    ///     message: "no".into(),
    /// }))
    /// .into();
    /// assert!(err.core().is_some_and(|e| e.is_permission_denied()));
    /// ```
    pub fn core(&self) -> Option<&k8sops_core::Error> {
        match self {
            Error::Core(e) => Some(e),
            #[cfg(feature = "nodes")]
            Error::Nodes(k8sops_nodes::Error::Core(e)) => Some(e),
            #[cfg(feature = "metrics")]
            Error::Metrics(k8sops_metrics::Error::Core(e)) => Some(e),
            #[cfg(feature = "diagnose")]
            Error::Diagnose(k8sops_diagnose::Error::Core(e)) => Some(e),
            #[cfg(feature = "backup")]
            Error::Backup(k8sops_backup::Error::Core(e)) => Some(e),
            #[cfg(feature = "upgrade")]
            Error::Upgrade(k8sops_upgrade::Error::Core(e)) => Some(e),
            // A rolling upgrade's drain error, e.g. a Forbidden eviction.
            #[cfg(feature = "upgrade")]
            Error::Upgrade(k8sops_upgrade::Error::Nodes(k8sops_nodes::Error::Core(e))) => Some(e),
            #[cfg(feature = "audit")]
            Error::Audit(k8sops_audit::Error::Core(e)) => Some(e),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }
}

/// Result alias of the facade.
///
/// ```
/// async fn version(cluster: &k8sops::Cluster) -> k8sops::Result<String> {
///     Ok(cluster.server_version().await?.to_string())
/// }
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
