//! The EKS control plane (feature `aws`): `aws eks describe-cluster`,
//! `update-cluster-version`, `describe-update`, `update-nodegroup-version`
//! (to the cluster's version or an AMI release version, with `--force`),
//! `describe-addon-versions` for the add-ons a cluster runs, and EKS upgrade
//! insights (`list-insights`, `describe-insight`) for a preflight.
//!
//! [`EksControlPlane`] implements the core
//! [`ControlPlane`] trait; the node
//! groups of the same cluster are reached through the core `NodeGroups`
//! trait with `k8sops_nodes::aws::EksNodeGroups` (list, describe, a plain
//! version update). SDK errors become typed errors
//! (`ResourceNotFoundException` → `NotFound`, throttling → `Throttled`,
//! `ResourceInUseException` → `Conflict`, invalid parameters →
//! `InvalidInput`), and every call is retried with the core
//! [`RetryPolicy`] (throttling, 5xx, dropped connections); a throttle that
//! outlasts the policy is [`Error::Throttled`](k8sops_core::Error::Throttled).
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use k8sops_core::backend::ControlPlane;
//! use k8sops_upgrade::eks::{EksControlPlane, WaitParams};
//! let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
//! let eks = EksControlPlane::new(&sdk, "prod");
//! let target = eks.version().await?.next_minor();
//! for insight in eks.insights(&target).await? {
//!     println!("{}: {} ({})", insight.status, insight.name, insight.reason);
//! }
//! let update = eks.start_upgrade(&target).await?;
//! let done = eks.wait_for_update(&update.id, &WaitParams::default(), &k8sops_core::NoProgress).await?;
//! println!("{} {:?}", done.id, done.status);
//! # Ok(()) }
//! ```

use std::{collections::BTreeMap, fmt, time::Duration};

use async_trait::async_trait;
use aws_sdk_eks::{
    config::{http::HttpResponse, retry::RetryConfig},
    error::{ProvideErrorMetadata, SdkError},
    types::{Category, InsightsFilter, Update as EksUpdate},
};
use k8sops_core::{
    backend::{ControlPlane, Update, UpdateStatus},
    progress::until_cancelled,
    CancellationToken, KubeVersion, ProgressSink, RetryPolicy,
};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::{Error, Result};

/// The control plane of one EKS cluster.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
/// let eks = k8sops_upgrade::eks::EksControlPlane::new(&sdk, "prod");
/// let cluster = k8sops_core::Cluster::try_default().await?.to_builder().control_plane(Arc::new(eks)).build();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct EksControlPlane {
    eks: aws_sdk_eks::Client,
    cluster: String,
    retry: RetryPolicy,
}

/// What `aws eks describe-cluster` says about the control plane.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
/// let info = k8sops_upgrade::eks::EksControlPlane::new(&sdk, "prod").describe().await?;
/// println!("{} {} {} ({})", info.name, info.version.minor_string(), info.platform_version, info.status);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EksClusterInfo {
    /// The cluster's name.
    pub name: String,
    /// Its ARN, if reported.
    pub arn: Option<String>,
    /// The Kubernetes version, e.g. `1.29`.
    pub version: KubeVersion,
    /// The EKS platform version, e.g. `eks.7`.
    pub platform_version: String,
    /// `ACTIVE`, `UPDATING`, `CREATING`, ...
    pub status: String,
    /// The API server endpoint, if reported.
    pub endpoint: Option<String>,
}

/// Options of [`EksControlPlane::start_upgrade_with`].
///
/// ```
/// // aws eks update-cluster-version --force: go on despite upgrade insights in ERROR.
/// let p = k8sops_upgrade::eks::ClusterUpgradeParams::default().force(true);
/// assert!(p.force);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterUpgradeParams {
    /// `--force`: override EKS's upgrade-blocking readiness checks (insights
    /// in `ERROR`). Default `false`.
    pub force: bool,
}

impl ClusterUpgradeParams {
    /// Sets [`force`](Self::force).
    ///
    /// ```
    /// assert!(k8sops_upgrade::eks::ClusterUpgradeParams::default().force(true).force);
    /// ```
    #[must_use]
    pub fn force(mut self, on: bool) -> Self {
        self.force = on;
        self
    }
}

/// Options of [`EksControlPlane::update_nodegroup_version`]
/// (`aws eks update-nodegroup-version`).
///
/// ```
/// // --kubernetes-version 1.30 --force
/// let p = k8sops_upgrade::eks::NodegroupVersionParams::default()
///     .version("1.30".parse().unwrap())
///     .force(true);
/// // --release-version 1.30.4-20240917 (an AMI release of the group's version)
/// let ami = k8sops_upgrade::eks::NodegroupVersionParams::default().release_version("1.30.4-20240917");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodegroupVersionParams {
    /// `--kubernetes-version`: `None` moves the group to the cluster's
    /// version. It may not be newer than the control plane; that is refused
    /// before anything is sent.
    pub version: Option<KubeVersion>,
    /// `--release-version`: an AMI release version; `None` takes the latest
    /// release for the version.
    pub release_version: Option<String>,
    /// `--force`: replace nodes even when a PodDisruptionBudget stops a pod
    /// from being drained (EKS then deletes such pods). Default `false`: the
    /// update fails on a blocked drain.
    pub force: bool,
}

impl NodegroupVersionParams {
    /// Sets [`version`](Self::version).
    ///
    /// ```
    /// let p = k8sops_upgrade::eks::NodegroupVersionParams::default().version("1.30".parse().unwrap());
    /// assert_eq!(p.version.unwrap().minor, 30);
    /// ```
    #[must_use]
    pub fn version(mut self, v: KubeVersion) -> Self {
        self.version = Some(v);
        self
    }

    /// Sets [`release_version`](Self::release_version).
    ///
    /// ```
    /// let p = k8sops_upgrade::eks::NodegroupVersionParams::default().release_version("1.30.4-20240917");
    /// assert_eq!(p.release_version.as_deref(), Some("1.30.4-20240917"));
    /// ```
    #[must_use]
    pub fn release_version(mut self, v: impl Into<String>) -> Self {
        self.release_version = Some(v.into());
        self
    }

    /// Sets [`force`](Self::force).
    ///
    /// ```
    /// assert!(k8sops_upgrade::eks::NodegroupVersionParams::default().force(true).force);
    /// ```
    #[must_use]
    pub fn force(mut self, on: bool) -> Self {
        self.force = on;
        self
    }
}

/// How [`EksControlPlane::wait_for_update`] polls.
///
/// ```
/// use std::time::Duration;
/// let p = k8sops_upgrade::eks::WaitParams::default().interval(Duration::from_secs(15)).timeout(Duration::from_secs(3600));
/// assert_eq!(p.timeout, Some(Duration::from_secs(3600)));
/// ```
#[derive(Debug, Clone)]
pub struct WaitParams {
    /// Time between two `describe-update` calls (default 30 s, as `aws eks wait`).
    pub interval: Duration,
    /// Give up waiting after this long (default 90 minutes; `None` waits as
    /// long as the update runs). The update itself goes on in AWS.
    pub timeout: Option<Duration>,
    /// Stop waiting when fired. The update itself goes on in AWS.
    pub cancel: Option<CancellationToken>,
}

impl Default for WaitParams {
    fn default() -> Self {
        WaitParams { interval: Duration::from_secs(30), timeout: Some(Duration::from_secs(90 * 60)), cancel: None }
    }
}

impl WaitParams {
    /// Sets [`interval`](Self::interval).
    ///
    /// ```
    /// let p = k8sops_upgrade::eks::WaitParams::default().interval(std::time::Duration::from_secs(5));
    /// assert_eq!(p.interval.as_secs(), 5);
    /// ```
    #[must_use]
    pub fn interval(mut self, d: Duration) -> Self {
        self.interval = d;
        self
    }

    /// Sets [`timeout`](Self::timeout).
    ///
    /// ```
    /// let p = k8sops_upgrade::eks::WaitParams::default().timeout(std::time::Duration::from_secs(600));
    /// assert_eq!(p.timeout.unwrap().as_secs(), 600);
    /// ```
    #[must_use]
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Sets [`cancel`](Self::cancel).
    ///
    /// ```
    /// let token = k8sops_core::CancellationToken::new();
    /// let p = k8sops_upgrade::eks::WaitParams::default().cancel(token.clone());
    /// assert!(p.cancel.is_some());
    /// ```
    #[must_use]
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }
}

/// One poll of [`EksControlPlane::wait_for_update`].
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
/// # let eks = k8sops_upgrade::eks::EksControlPlane::new(&sdk, "prod");
/// let show = |p: k8sops_upgrade::eks::UpdateProgress| println!("{}: {:?} after {}s", p.target, p.update.status, p.elapsed.as_secs());
/// eks.wait_for_update("b7f1...", &Default::default(), &show).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateProgress {
    /// What is being updated, e.g. `EKS cluster prod`.
    pub target: String,
    /// The update as last described.
    pub update: Update,
    /// Time since waiting began.
    pub elapsed: Duration,
}

/// An installed add-on and the versions of it that run on a target
/// Kubernetes version (`aws eks describe-addon-versions --kubernetes-version`).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
/// # let eks = k8sops_upgrade::eks::EksControlPlane::new(&sdk, "prod");
/// for a in eks.compatible_addon_versions(&"1.30".parse()?).await? {
///     if !a.installed_is_compatible() {
///         println!("{} {} does not run on 1.30; update it to {}", a.addon,
///             a.installed_version.as_deref().unwrap_or("?"), a.recommended().unwrap_or("(none)"));
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddonCompatibility {
    /// The add-on, e.g. `vpc-cni`.
    pub addon: String,
    /// The version installed now, if EKS reports it.
    pub installed_version: Option<String>,
    /// The Kubernetes version checked, e.g. `1.30`.
    pub kubernetes_version: String,
    /// Every version compatible with it, in EKS's order (newest first).
    pub compatible_versions: Vec<String>,
    /// The version EKS installs by default on it.
    pub default_version: Option<String>,
}

impl AddonCompatibility {
    /// Whether the installed version is among the compatible ones.
    ///
    /// ```
    /// let a = k8sops_upgrade::eks::AddonCompatibility {
    ///     addon: "coredns".into(), installed_version: Some("v1.10.1-eksbuild.1".into()),
    ///     kubernetes_version: "1.30".into(), compatible_versions: vec!["v1.11.1-eksbuild.9".into()],
    ///     default_version: Some("v1.11.1-eksbuild.9".into()),
    /// };
    /// assert!(!a.installed_is_compatible());
    /// ```
    pub fn installed_is_compatible(&self) -> bool {
        self.installed_version.as_ref().is_some_and(|v| self.compatible_versions.contains(v))
    }

    /// The version to move to: EKS's default for the target, else the newest compatible one.
    ///
    /// ```
    /// let a = k8sops_upgrade::eks::AddonCompatibility {
    ///     addon: "kube-proxy".into(), installed_version: None, kubernetes_version: "1.30".into(),
    ///     compatible_versions: vec!["v1.30.3-eksbuild.5".into(), "v1.30.0-eksbuild.3".into()], default_version: None,
    /// };
    /// assert_eq!(a.recommended(), Some("v1.30.3-eksbuild.5"));
    /// ```
    pub fn recommended(&self) -> Option<&str> {
        self.default_version.as_deref().or_else(|| self.compatible_versions.first().map(String::as_str))
    }
}

/// The status of an EKS insight or of one resource it names. Orders from
/// best to worst, so the worst of several is their `max()`.
///
/// ```
/// use k8sops_upgrade::eks::InsightStatus;
/// let worst = [InsightStatus::Passing, InsightStatus::Error, InsightStatus::Warning].into_iter().max();
/// assert_eq!(worst, Some(InsightStatus::Error));
/// assert_eq!(InsightStatus::Warning.to_string(), "WARNING");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InsightStatus {
    /// No problem found.
    Passing,
    /// EKS could not tell (`UNKNOWN`, or a status this crate does not know).
    Unknown,
    /// A problem that does not block the upgrade yet.
    Warning,
    /// A problem that breaks workloads after the upgrade; EKS refuses the
    /// upgrade without `--force`.
    Error,
}

impl fmt::Display for InsightStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InsightStatus::Passing => "PASSING",
            InsightStatus::Unknown => "UNKNOWN",
            InsightStatus::Warning => "WARNING",
            InsightStatus::Error => "ERROR",
        })
    }
}

/// A resource an insight names, e.g. a workload that uses a removed API.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
/// # let eks = k8sops_upgrade::eks::EksControlPlane::new(&sdk, "prod");
/// for i in eks.insights(&"1.30".parse()?).await? {
///     for r in &i.resources {
///         println!("{} {}", r.status, r.kubernetes_resource_uri.as_deref().or(r.arn.as_deref()).unwrap_or("?"));
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsightResource {
    /// The Kubernetes object, e.g. `/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas/probes`.
    pub kubernetes_resource_uri: Option<String>,
    /// The AWS resource, for insights about AWS resources.
    pub arn: Option<String>,
    /// This resource's status.
    pub status: InsightStatus,
    /// Why.
    pub reason: String,
}

/// A client that still calls a deprecated API.
///
/// ```
/// let c = k8sops_upgrade::eks::InsightClient { user_agent: "kubectl/v1.24.0".into(), requests_last_30_days: 12, last_request_time: None };
/// assert!(c.requests_last_30_days > 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsightClient {
    /// Its user agent.
    pub user_agent: String,
    /// Requests in the last 30 days.
    pub requests_last_30_days: i32,
    /// Its last request (RFC 3339), if reported.
    pub last_request_time: Option<String>,
}

/// A deprecated API an insight found in use.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
/// # let eks = k8sops_upgrade::eks::EksControlPlane::new(&sdk, "prod");
/// for i in eks.insights(&"1.32".parse()?).await? {
///     for d in &i.deprecations {
///         println!("{} -> {} (removed in {})", d.usage, d.replaced_with.as_deref().unwrap_or("-"),
///             d.stop_serving_version.as_deref().unwrap_or("?"));
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsightDeprecation {
    /// The deprecated API, e.g. `/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas`.
    pub usage: String,
    /// What to use instead.
    pub replaced_with: Option<String>,
    /// The release that stops serving it.
    pub stop_serving_version: Option<String>,
    /// The release that started serving the replacement.
    pub start_serving_replacement_version: Option<String>,
    /// The clients that still call it.
    pub clients: Vec<InsightClient>,
}

/// An EKS upgrade insight (`aws eks describe-insight`): a readiness check
/// EKS runs for the next Kubernetes version, typed for a preflight.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
/// # let eks = k8sops_upgrade::eks::EksControlPlane::new(&sdk, "prod");
/// let insights = eks.insights(&"1.30".parse()?).await?;
/// if let Some(blocker) = insights.iter().find(|i| i.blocks_upgrade()) {
///     println!("{}: {} — {}", blocker.name, blocker.reason, blocker.recommendation.as_deref().unwrap_or(""));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Insight {
    /// The insight's id.
    pub id: String,
    /// Its name, e.g. `Deprecated APIs removed in Kubernetes v1.32`.
    pub name: String,
    /// Its category, e.g. `UPGRADE_READINESS`.
    pub category: String,
    /// The Kubernetes version it checks readiness for, e.g. `1.32`.
    pub kubernetes_version: Option<String>,
    /// Its status.
    pub status: InsightStatus,
    /// Why it has that status.
    pub reason: String,
    /// What it checks.
    pub description: String,
    /// What to do about it.
    pub recommendation: Option<String>,
    /// Links and other details EKS gives.
    pub additional_info: BTreeMap<String, String>,
    /// The resources it names.
    pub resources: Vec<InsightResource>,
    /// Deprecated APIs in use (deprecation insights).
    pub deprecations: Vec<InsightDeprecation>,
    /// Add-ons and the versions of them compatible with the target
    /// (add-on compatibility insights).
    pub addons: BTreeMap<String, Vec<String>>,
    /// When EKS last refreshed it (RFC 3339).
    pub last_refresh_time: Option<String>,
}

impl Insight {
    /// Whether EKS blocks the upgrade over this insight (status `ERROR`)
    /// unless it is forced.
    ///
    /// ```
    /// use k8sops_upgrade::eks::{Insight, InsightStatus};
    /// let i = Insight { id: "1".into(), name: "Kubelet version skew".into(), category: "UPGRADE_READINESS".into(),
    ///     kubernetes_version: Some("1.30".into()), status: InsightStatus::Error, reason: "".into(), description: "".into(),
    ///     recommendation: None, additional_info: Default::default(), resources: vec![], deprecations: vec![],
    ///     addons: Default::default(), last_refresh_time: None };
    /// assert!(i.blocks_upgrade());
    /// ```
    pub fn blocks_upgrade(&self) -> bool {
        self.status == InsightStatus::Error
    }
}

impl fmt::Display for Insight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.name)?;
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}

fn status_of(s: Option<&aws_sdk_eks::types::InsightStatus>) -> (InsightStatus, String) {
    use aws_sdk_eks::types::InsightStatusValue as V;
    let status = match s.and_then(|s| s.status()) {
        Some(V::Passing) => InsightStatus::Passing,
        Some(V::Warning) => InsightStatus::Warning,
        Some(V::Error) => InsightStatus::Error,
        _ => InsightStatus::Unknown,
    };
    (status, s.and_then(|s| s.reason()).unwrap_or_default().to_string())
}

fn convert_insight(i: &aws_sdk_eks::types::Insight) -> Insight {
    let (status, reason) = status_of(i.insight_status());
    let summary = i.category_specific_summary();
    Insight {
        id: i.id().unwrap_or_default().to_string(),
        name: i.name().unwrap_or_default().to_string(),
        category: i.category().map(|c| c.as_str().to_string()).unwrap_or_default(),
        kubernetes_version: i.kubernetes_version().map(str::to_string),
        status,
        reason,
        description: i.description().unwrap_or_default().to_string(),
        recommendation: i.recommendation().map(str::to_string),
        additional_info: i
            .additional_info()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        resources: i
            .resources()
            .iter()
            .map(|r| {
                let (status, reason) = status_of(r.insight_status());
                InsightResource {
                    kubernetes_resource_uri: r.kubernetes_resource_uri().map(str::to_string),
                    arn: r.arn().map(str::to_string),
                    status,
                    reason,
                }
            })
            .collect(),
        deprecations: summary
            .map(|s| {
                s.deprecation_details()
                    .iter()
                    .map(|d| InsightDeprecation {
                        usage: d.usage().unwrap_or_default().to_string(),
                        replaced_with: d.replaced_with().map(str::to_string),
                        stop_serving_version: d.stop_serving_version().map(str::to_string),
                        start_serving_replacement_version: d.start_serving_replacement_version().map(str::to_string),
                        clients: d
                            .client_stats()
                            .iter()
                            .map(|c| InsightClient {
                                user_agent: c.user_agent().unwrap_or_default().to_string(),
                                requests_last_30_days: c.number_of_requests_last30_days(),
                                last_request_time: c.last_request_time().map(|t| t.to_string()),
                            })
                            .collect(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        addons: summary
            .map(|s| {
                s.addon_compatibility_details()
                    .iter()
                    .map(|a| (a.name().unwrap_or_default().to_string(), a.compatible_versions().to_vec()))
                    .collect()
            })
            .unwrap_or_default(),
        last_refresh_time: i.last_refresh_time().map(|t| t.to_string()),
    }
}

/// Converts an EKS update to the core [`Update`].
fn convert_update(u: Option<&EksUpdate>) -> Update {
    let Some(u) = u else {
        return Update { id: String::new(), kind: String::new(), status: UpdateStatus::InProgress, errors: vec![] };
    };
    use aws_sdk_eks::types::UpdateStatus as S;
    let status = match u.status() {
        Some(S::Successful) => UpdateStatus::Successful,
        Some(S::Failed) => UpdateStatus::Failed,
        Some(S::Cancelled) => UpdateStatus::Cancelled,
        _ => UpdateStatus::InProgress,
    };
    Update {
        id: u.id().unwrap_or_default().to_string(),
        kind: u.r#type().map(|t| t.as_str().to_string()).unwrap_or_default(),
        status,
        errors: u
            .errors()
            .iter()
            .map(|e| {
                let code = e.error_code().map(|c| c.as_str()).unwrap_or("");
                let message = e.error_message().unwrap_or("");
                let ids = e.resource_ids();
                if ids.is_empty() {
                    format!("{code}: {message}")
                } else {
                    format!("{code}: {message} ({})", ids.join(", "))
                }
            })
            .collect(),
    }
}

/// Maps an SDK error of operation `op` to a typed error, keeping it as the
/// source; `what` names the object for `NotFound`.
fn map_sdk<E>(op: &str, backend: &str, what: &str, err: SdkError<E, HttpResponse>) -> k8sops_core::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    k8sops_core::aws::map_sdk_error(op, backend, what, err)
}

/// An idempotency token for one logical request, reused by every retry of it
/// so that EKS does not start a second update when a retried call had in
/// fact gone through.
fn request_token() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("k8sops-{}-{nanos:x}", std::process::id())
}

impl EksControlPlane {
    /// The control plane of EKS cluster `cluster`, with a client from `sdk`.
    /// Calls are retried by the default [`RetryPolicy`] alone (the SDK's own
    /// retries are turned off for this client).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
    /// let eks = k8sops_upgrade::eks::EksControlPlane::new(&sdk, "prod");
    /// assert_eq!(eks.cluster(), "prod");
    /// # Ok(()) }
    /// ```
    pub fn new(sdk: &aws_config::SdkConfig, cluster: impl Into<String>) -> Self {
        // One retry layer, the core policy's: the SDK's own would multiply the attempts.
        let config = aws_sdk_eks::config::Builder::from(sdk).retry_config(RetryConfig::disabled()).build();
        Self::from_client(aws_sdk_eks::Client::from_conf(config), cluster)
    }

    /// From an existing client (custom endpoints, test interceptors). The
    /// client's own retry configuration stays in force beneath the
    /// [`RetryPolicy`]; pass [`RetryPolicy::none`] to [`retry`](Self::retry)
    /// to rely on the client's alone.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
    /// let eks = k8sops_upgrade::eks::EksControlPlane::from_client(k8sops_upgrade::aws::eks::Client::new(&sdk), "prod");
    /// # Ok(()) }
    /// ```
    pub fn from_client(client: aws_sdk_eks::Client, cluster: impl Into<String>) -> Self {
        EksControlPlane { eks: client, cluster: cluster.into(), retry: RetryPolicy::default() }
    }

    /// Uses `policy` for every call (default [`RetryPolicy::default`]).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
    /// let eks = k8sops_upgrade::eks::EksControlPlane::new(&sdk, "prod").retry(k8sops_core::RetryPolicy::default().max_attempts(8));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The cluster's name.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
    /// assert_eq!(k8sops_upgrade::eks::EksControlPlane::new(&sdk, "prod").cluster(), "prod");
    /// # Ok(()) }
    /// ```
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    fn backend(&self) -> String {
        format!("EKS cluster {}", self.cluster)
    }

    fn nodegroup_target(&self, nodegroup: &str) -> String {
        format!("node group {nodegroup} of EKS cluster {}", self.cluster)
    }

    /// `aws eks describe-cluster`: version, platform version, status.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
    /// let info = k8sops_upgrade::eks::EksControlPlane::new(&sdk, "prod").describe().await?;
    /// println!("{} runs {} on {}", info.name, info.version.minor_string(), info.platform_version);
    /// # Ok(()) }
    /// ```
    pub async fn describe(&self) -> Result<EksClusterInfo> {
        let backend = self.backend();
        let resp = self
            .retry
            .run(|_| async {
                self.eks
                    .describe_cluster()
                    .name(&self.cluster)
                    .send()
                    .await
                    .map_err(|e| map_sdk("DescribeCluster", &backend, &backend, e))
            })
            .await?;
        let c = resp.cluster().ok_or_else(|| k8sops_core::Error::NotFound { what: backend.clone(), source: None })?;
        let raw = c.version().unwrap_or_default();
        let version = raw.parse::<KubeVersion>().map_err(|e| k8sops_core::Error::Backend {
            backend: backend.clone(),
            message: format!("describe-cluster reported version {raw:?}"),
            transient: false,
            source: Some(Box::new(e)),
        })?;
        Ok(EksClusterInfo {
            name: c.name().unwrap_or(&self.cluster).to_string(),
            arn: c.arn().map(str::to_string),
            version,
            platform_version: c.platform_version().unwrap_or_default().to_string(),
            status: c.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            endpoint: c.endpoint().map(str::to_string),
        })
    }

    /// The EKS platform version, e.g. `eks.7` (`describe-cluster`'s `platformVersion`).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
    /// println!("{}", k8sops_upgrade::eks::EksControlPlane::new(&sdk, "prod").platform_version().await?);
    /// # Ok(()) }
    /// ```
    pub async fn platform_version(&self) -> Result<String> {
        Ok(self.describe().await?.platform_version)
    }

    /// `aws eks update-cluster-version --kubernetes-version TARGET [--force]`.
    /// The target must be the next minor version and the cluster `ACTIVE`;
    /// anything else is refused before the update is sent
    /// ([`InvalidInput`](k8sops_core::Error::InvalidInput),
    /// [`Conflict`](k8sops_core::Error::Conflict)). Retries reuse one
    /// idempotency token, so a retried call never starts a second update.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
    /// use k8sops_upgrade::eks::{ClusterUpgradeParams, EksControlPlane};
    /// let eks = EksControlPlane::new(&sdk, "prod");
    /// let update = eks.start_upgrade_with(&"1.30".parse()?, &ClusterUpgradeParams::default().force(true)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn start_upgrade_with(&self, target: &KubeVersion, params: &ClusterUpgradeParams) -> Result<Update> {
        let info = self.describe().await?;
        let current = &info.version;
        if target.major != current.major || Some(target.minor) != current.minor.checked_add(1) {
            return Err(k8sops_core::Error::InvalidInput {
                message: format!(
                    "EKS cluster {} runs {}: its control plane can only move to the next minor version ({}), not {}",
                    self.cluster,
                    current.minor_string(),
                    current.next_minor().minor_string(),
                    target.minor_string()
                ),
                source: None,
            }
            .into());
        }
        if info.status != "ACTIVE" {
            return Err(k8sops_core::Error::Conflict {
                message: format!(
                    "EKS cluster {} is {}, not ACTIVE; wait for the running change to finish",
                    self.cluster, info.status
                ),
                source: None,
            }
            .into());
        }
        let backend = self.backend();
        let token = request_token();
        let resp = self
            .retry
            .run(|_| async {
                self.eks
                    .update_cluster_version()
                    .name(&self.cluster)
                    .version(target.minor_string())
                    .force(params.force)
                    .client_request_token(&token)
                    .send()
                    .await
                    .map_err(|e| map_sdk("UpdateClusterVersion", &backend, &backend, e))
            })
            .await?;
        Ok(convert_update(resp.update()))
    }

    async fn describe_update_of(&self, nodegroup: Option<&str>, update_id: &str) -> k8sops_core::Result<Update> {
        let backend = self.backend();
        let what = match nodegroup {
            Some(ng) => format!("update {update_id} of {}", self.nodegroup_target(ng)),
            None => format!("update {update_id} of {backend}"),
        };
        let resp = self
            .retry
            .run(|_| async {
                self.eks
                    .describe_update()
                    .name(&self.cluster)
                    .set_nodegroup_name(nodegroup.map(str::to_string))
                    .update_id(update_id)
                    .send()
                    .await
                    .map_err(|e| map_sdk("DescribeUpdate", &backend, &what, e))
            })
            .await?;
        Ok(convert_update(resp.update()))
    }

    /// `aws eks describe-update --name CLUSTER --nodegroup-name NODEGROUP`.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
    /// let u = k8sops_upgrade::eks::EksControlPlane::new(&sdk, "prod").describe_nodegroup_update("workers", "b7f1...").await?;
    /// println!("{:?} {:?}", u.status, u.errors);
    /// # Ok(()) }
    /// ```
    pub async fn describe_nodegroup_update(&self, nodegroup: &str, update_id: &str) -> Result<Update> {
        Ok(self.describe_update_of(Some(nodegroup), update_id).await?)
    }

    /// `aws eks update-nodegroup-version`: moves a managed node group to the
    /// cluster's version, another version, or an AMI release version. A
    /// version newer than the control plane is refused before anything is
    /// sent. EKS then replaces the group's nodes itself (surge, drain, terminate).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
    /// use k8sops_upgrade::eks::{EksControlPlane, NodegroupVersionParams, WaitParams};
    /// let eks = EksControlPlane::new(&sdk, "prod");
    /// let update = eks.update_nodegroup_version("workers", &NodegroupVersionParams::default()).await?;
    /// eks.wait_for_nodegroup_update("workers", &update.id, &WaitParams::default(), &k8sops_core::NoProgress).await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_nodegroup_version(&self, nodegroup: &str, params: &NodegroupVersionParams) -> Result<Update> {
        if let Some(v) = &params.version {
            let cluster = self.describe().await?.version;
            if v.major != cluster.major || v.minor > cluster.minor {
                return Err(k8sops_core::Error::InvalidInput {
                    message: format!(
                        "node group {nodegroup} cannot run {}: the control plane of EKS cluster {} runs {}; upgrade the control plane first",
                        v.minor_string(),
                        self.cluster,
                        cluster.minor_string()
                    ),
                    source: None,
                }
                .into());
            }
        }
        let backend = self.backend();
        let what = self.nodegroup_target(nodegroup);
        let token = request_token();
        let resp = self
            .retry
            .run(|_| async {
                self.eks
                    .update_nodegroup_version()
                    .cluster_name(&self.cluster)
                    .nodegroup_name(nodegroup)
                    .set_version(params.version.as_ref().map(KubeVersion::minor_string))
                    .set_release_version(params.release_version.clone())
                    .force(params.force)
                    .client_request_token(&token)
                    .send()
                    .await
                    .map_err(|e| map_sdk("UpdateNodegroupVersion", &backend, &what, e))
            })
            .await?;
        Ok(convert_update(resp.update()))
    }

    /// Polls `describe-update` for a control-plane update until it ends.
    /// `Successful` returns the update; `Failed` or `Cancelled` is
    /// [`Error::UpdateFailed`] carrying the update's own errors. Transient
    /// errors (throttling) are retried per the retry policy.
    ///
    /// # Cancel safety
    /// Only polls. A timeout ([`Timeout`](k8sops_core::Error::Timeout)), a
    /// cancel ([`Cancelled`](k8sops_core::Error::Cancelled)) or dropping the
    /// future stops the waiting; the update itself goes on in AWS, where
    /// `describe-update` (or this method, again) follows it. Nothing is left
    /// half-done by this side.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
    /// use k8sops_upgrade::{eks::{EksControlPlane, WaitParams}, Error};
    /// let eks = EksControlPlane::new(&sdk, "prod");
    /// match eks.wait_for_update("b7f1...", &WaitParams::default(), &k8sops_core::NoProgress).await {
    ///     Ok(done) => println!("{} done", done.id),
    ///     Err(Error::UpdateFailed { errors, .. }) => eprintln!("failed: {}", errors.join("; ")),
    ///     Err(e) => return Err(e.into()),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_update(
        &self,
        update_id: &str,
        params: &WaitParams,
        progress: &dyn ProgressSink<UpdateProgress>,
    ) -> Result<Update> {
        self.wait(None, update_id, params, progress).await
    }

    /// [`wait_for_update`](Self::wait_for_update) for an update of a node group.
    ///
    /// # Cancel safety
    /// As for [`wait_for_update`](Self::wait_for_update): the node group's
    /// update goes on in AWS.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
    /// let eks = k8sops_upgrade::eks::EksControlPlane::new(&sdk, "prod");
    /// eks.wait_for_nodegroup_update("workers", "b7f1...", &Default::default(), &k8sops_core::NoProgress).await?;
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_nodegroup_update(
        &self,
        nodegroup: &str,
        update_id: &str,
        params: &WaitParams,
        progress: &dyn ProgressSink<UpdateProgress>,
    ) -> Result<Update> {
        self.wait(Some(nodegroup), update_id, params, progress).await
    }

    async fn wait(
        &self,
        nodegroup: Option<&str>,
        update_id: &str,
        params: &WaitParams,
        progress: &dyn ProgressSink<UpdateProgress>,
    ) -> Result<Update> {
        let target = match nodegroup {
            Some(ng) => self.nodegroup_target(ng),
            None => self.backend(),
        };
        let start = Instant::now();
        let cancel = params.cancel.clone().unwrap_or_default();
        let during = |what: &str| {
            let ng = nodegroup.map(|n| format!(" --nodegroup-name {n}")).unwrap_or_default();
            format!(
                "{what} update {update_id} of {target}; the update goes on in AWS (aws eks describe-update --name {}{ng} --update-id {update_id})",
                self.cluster
            )
        };
        loop {
            let update =
                until_cancelled(&cancel, &during("waiting for"), self.describe_update_of(nodegroup, update_id)).await?;
            progress.emit(UpdateProgress { target: target.clone(), update: update.clone(), elapsed: start.elapsed() });
            match update.status {
                UpdateStatus::InProgress => {}
                UpdateStatus::Successful => return Ok(update),
                status => {
                    return Err(Error::UpdateFailed {
                        target,
                        id: update.id,
                        kind: update.kind,
                        status,
                        errors: update.errors,
                    })
                }
            }
            if let Some(limit) = params.timeout {
                if start.elapsed() + params.interval > limit {
                    return Err(k8sops_core::Error::Timeout { during: during("waiting for"), after: limit }.into());
                }
            }
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(k8sops_core::Error::Cancelled { during: during("waiting for") }.into()),
                _ = tokio::time::sleep(params.interval) => {}
            }
        }
    }

    /// The cluster's installed add-ons (`aws eks list-addons`,
    /// `describe-addon`) and, for each, the versions compatible with
    /// `target` (`aws eks describe-addon-versions --addon-name A
    /// --kubernetes-version TARGET`), sorted by add-on name.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
    /// let eks = k8sops_upgrade::eks::EksControlPlane::new(&sdk, "prod");
    /// for a in eks.compatible_addon_versions(&"1.30".parse()?).await? {
    ///     println!("{} {} ok={}", a.addon, a.installed_version.as_deref().unwrap_or("?"), a.installed_is_compatible());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn compatible_addon_versions(&self, target: &KubeVersion) -> Result<Vec<AddonCompatibility>> {
        let backend = self.backend();
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = k8sops_core::aws::NextTokens::new("ListAddons");
        loop {
            let resp = self
                .retry
                .run(|_| async {
                    self.eks
                        .list_addons()
                        .cluster_name(&self.cluster)
                        .set_next_token(token.clone())
                        .send()
                        .await
                        .map_err(|e| map_sdk("ListAddons", &backend, &backend, e))
                })
                .await?;
            names.extend(resp.addons().iter().cloned());
            token = pages.next(&backend, resp.next_token())?;
            if token.is_none() {
                break;
            }
        }
        names.sort();
        names.dedup();
        let k8s = target.minor_string();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let what = format!("add-on {name} of {backend}");
            let installed = self
                .retry
                .run(|_| async {
                    self.eks
                        .describe_addon()
                        .cluster_name(&self.cluster)
                        .addon_name(&name)
                        .send()
                        .await
                        .map_err(|e| map_sdk("DescribeAddon", &backend, &what, e))
                })
                .await?
                .addon()
                .and_then(|a| a.addon_version())
                .map(str::to_string);
            let mut compatible = Vec::new();
            let mut default_version = None;
            let mut token: Option<String> = None;
            let mut pages = k8sops_core::aws::NextTokens::new(format!("DescribeAddonVersions for add-on {name}"));
            loop {
                let resp = self
                    .retry
                    .run(|_| async {
                        self.eks
                            .describe_addon_versions()
                            .addon_name(&name)
                            .kubernetes_version(&k8s)
                            .set_next_token(token.clone())
                            .send()
                            .await
                            .map_err(|e| map_sdk("DescribeAddonVersions", &backend, &what, e))
                    })
                    .await?;
                for info in resp.addons().iter().filter(|a| a.addon_name() == Some(name.as_str())) {
                    for v in info.addon_versions() {
                        let Some(version) = v.addon_version() else { continue };
                        let compat: Vec<_> =
                            v.compatibilities().iter().filter(|c| c.cluster_version() == Some(k8s.as_str())).collect();
                        // An entry without compatibilities for the target was returned by the filter anyway: keep it.
                        if !compatible.iter().any(|c| c == version) {
                            compatible.push(version.to_string());
                        }
                        if compat.iter().any(|c| c.default_version()) && default_version.is_none() {
                            default_version = Some(version.to_string());
                        }
                    }
                }
                token = pages.next(&backend, resp.next_token())?;
                if token.is_none() {
                    break;
                }
            }
            out.push(AddonCompatibility {
                addon: name,
                installed_version: installed,
                kubernetes_version: k8s.clone(),
                compatible_versions: compatible,
                default_version,
            });
        }
        Ok(out)
    }

    /// EKS upgrade insights for `target` (`aws eks list-insights --filter
    /// categories=UPGRADE_READINESS,kubernetesVersions=TARGET`, then
    /// `describe-insight` for each), worst first. An insight in
    /// [`InsightStatus::Error`] makes EKS refuse the upgrade unless forced.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sdk = k8sops_upgrade::aws::config::load_defaults(k8sops_upgrade::aws::config::BehaviorVersion::latest()).await;
    /// let eks = k8sops_upgrade::eks::EksControlPlane::new(&sdk, "prod");
    /// let insights = eks.insights(&"1.30".parse()?).await?;
    /// let worst = insights.iter().map(|i| i.status).max();
    /// println!("{} insight(s), worst {worst:?}", insights.len());
    /// # Ok(()) }
    /// ```
    pub async fn insights(&self, target: &KubeVersion) -> Result<Vec<Insight>> {
        let backend = self.backend();
        let filter = InsightsFilter::builder()
            .categories(Category::UpgradeReadiness)
            .kubernetes_versions(target.minor_string())
            .build();
        let mut ids = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = k8sops_core::aws::NextTokens::new("ListInsights");
        loop {
            let resp = self
                .retry
                .run(|_| async {
                    self.eks
                        .list_insights()
                        .cluster_name(&self.cluster)
                        .filter(filter.clone())
                        .set_next_token(token.clone())
                        .send()
                        .await
                        .map_err(|e| map_sdk("ListInsights", &backend, &backend, e))
                })
                .await?;
            ids.extend(resp.insights().iter().filter_map(|i| i.id().map(str::to_string)));
            token = pages.next(&backend, resp.next_token())?;
            if token.is_none() {
                break;
            }
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let what = format!("insight {id} of {backend}");
            let resp = self
                .retry
                .run(|_| async {
                    self.eks
                        .describe_insight()
                        .cluster_name(&self.cluster)
                        .id(&id)
                        .send()
                        .await
                        .map_err(|e| map_sdk("DescribeInsight", &backend, &what, e))
                })
                .await?;
            if let Some(i) = resp.insight() {
                out.push(convert_insight(i));
            }
        }
        out.sort_by(|a, b| b.status.cmp(&a.status).then_with(|| a.name.cmp(&b.name)));
        Ok(out)
    }
}

#[async_trait]
impl ControlPlane for EksControlPlane {
    fn backend_name(&self) -> String {
        self.backend()
    }

    async fn version(&self) -> k8sops_core::Result<KubeVersion> {
        Ok(self.describe().await.map_err(into_core)?.version)
    }

    async fn start_upgrade(&self, target: &KubeVersion) -> k8sops_core::Result<Update> {
        self.start_upgrade_with(target, &ClusterUpgradeParams::default()).await.map_err(into_core)
    }

    async fn describe_update(&self, update_id: &str) -> k8sops_core::Result<Update> {
        self.describe_update_of(None, update_id).await
    }
}

/// The inherent methods only fail with core errors; the trait needs them back.
fn into_core(e: Error) -> k8sops_core::Error {
    match e {
        Error::Core(c) => c,
        other => k8sops_core::Error::Backend {
            backend: "EKS".into(),
            message: other.to_string(),
            transient: false,
            source: Some(Box::new(other)),
        },
    }
}

/// An EKS upgrade insight as a preflight finding
/// ([`PreflightParams::insights`](crate::preflight::PreflightParams::insights)):
/// `ERROR` fails the preflight, `WARNING` and `UNKNOWN` warn, `PASSING` passes.
///
/// ```no_run
/// # async fn main_(eks: k8sops_upgrade::eks::EksControlPlane, cluster: k8sops_core::Cluster) -> k8sops_upgrade::Result<()> {
/// use k8sops_upgrade::preflight::{preflight, PreflightParams};
/// let target: k8sops_core::KubeVersion = "v1.30".parse().map_err(k8sops_core::Error::from)?;
/// let insights = eks.insights(&target).await?;
/// let params = PreflightParams::new(target).insights(insights.iter().map(Into::into).collect());
/// println!("{}", preflight(&cluster, &params).await?);
/// # Ok(()) }
/// ```
impl From<&Insight> for crate::preflight::UpgradeInsight {
    fn from(i: &Insight) -> Self {
        use crate::preflight::CheckStatus;
        let status = match i.status {
            InsightStatus::Passing => CheckStatus::Pass,
            InsightStatus::Warning | InsightStatus::Unknown => CheckStatus::Warn,
            InsightStatus::Error => CheckStatus::Fail,
        };
        let mut explanation = i.reason.clone();
        if let Some(r) = &i.recommendation {
            if !r.is_empty() {
                explanation = format!("{explanation} ({r})");
            }
        }
        let objects = i
            .resources
            .iter()
            .filter(|r| r.status != InsightStatus::Passing)
            .filter_map(|r| r.kubernetes_resource_uri.clone().or_else(|| r.arn.clone()))
            .collect();
        crate::preflight::UpgradeInsight { name: format!("EKS: {}", i.name), status, explanation, objects }
    }
}

/// An installed EKS add-on as a preflight input
/// ([`PreflightParams::platform_addons`](crate::preflight::PreflightParams::platform_addons)):
/// the `addons` check passes it when the installed version runs on the
/// target, warns naming [`AddonCompatibility::recommended`] when it does
/// not, and fails when no version of it runs on the target.
///
/// ```
/// use k8sops_upgrade::{eks::AddonCompatibility, preflight::PlatformAddon};
/// let a = AddonCompatibility {
///     addon: "coredns".into(), installed_version: Some("v1.10.1-eksbuild.1".into()), kubernetes_version: "1.30".into(),
///     compatible_versions: vec!["v1.11.3-eksbuild.1".into(), "v1.11.1-eksbuild.9".into()],
///     default_version: Some("v1.11.1-eksbuild.9".into()),
/// };
/// let p = PlatformAddon::from(&a);
/// assert_eq!((p.name.as_str(), p.recommended_version.as_deref()), ("coredns", Some("v1.11.1-eksbuild.9")));
/// assert!(!p.installed_is_compatible());
/// ```
///
/// With the preflight:
///
/// ```no_run
/// # async fn main_(eks: k8sops_upgrade::eks::EksControlPlane, cluster: k8sops_core::Cluster) -> k8sops_upgrade::Result<()> {
/// use k8sops_upgrade::preflight::{preflight, PreflightParams};
/// let target: k8sops_core::KubeVersion = "v1.30".parse().map_err(k8sops_core::Error::from)?;
/// let addons = eks.compatible_addon_versions(&target).await?;
/// let params = PreflightParams::new(target).platform_addons(addons.iter().map(Into::into).collect());
/// println!("{}", preflight(&cluster, &params).await?);
/// # Ok(()) }
/// ```
impl From<&AddonCompatibility> for crate::preflight::PlatformAddon {
    fn from(a: &AddonCompatibility) -> Self {
        crate::preflight::PlatformAddon {
            name: a.addon.clone(),
            installed_version: a.installed_version.clone(),
            kubernetes_version: a.kubernetes_version.clone(),
            compatible_versions: a.compatible_versions.clone(),
            recommended_version: a.recommended().map(str::to_string),
        }
    }
}
