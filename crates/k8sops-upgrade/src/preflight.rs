//! Upgrade preflight: what would stop or hurt an upgrade to a target
//! version, checked before anything changes. Every check ends
//! [`Pass`](CheckStatus::Pass), [`Warn`](CheckStatus::Warn) or
//! [`Fail`](CheckStatus::Fail) with an explanation and the objects involved:
//!
//! | check | fails when |
//! |---|---|
//! | [`TargetVersion`](CheckId::TargetVersion) | the target is older than the cluster (warns when it is more than one minor ahead: each hop is an upgrade) |
//! | [`NodesReady`](CheckId::NodesReady) | a node is not Ready |
//! | [`VersionSkew`](CheckId::VersionSkew) | a component is outside the skew policy now, or a node would be once the control plane takes its first hop (warns for later hops) |
//! | [`PodDisruptionBudgets`](CheckId::PodDisruptionBudgets) | a budget allows no disruption while it has pods: drains will block |
//! | [`UnreplicatedPods`](CheckId::UnreplicatedPods) | a pod on a node declares no controller: `kubectl drain` refuses it (and nothing recreates it) |
//! | [`LocalStoragePods`](CheckId::LocalStoragePods) | warns for pods with emptyDir volumes: drains need `--delete-emptydir-data` and the data is lost |
//! | [`RemovedApis`](CheckId::RemovedApis) | objects, Helm releases or clients use an API the target no longer serves ([`removed_apis`](crate::removed_apis)) |
//! | [`PodSecurityPolicies`](CheckId::PodSecurityPolicies) | PodSecurityPolicy objects exist and the target is 1.25 or later |
//! | [`Addons`](CheckId::Addons) | a platform add-on ([`PreflightParams::platform_addons`], e.g. EKS add-ons) has no version that runs on the target (warns when the installed version does not run on it but one does, naming it; and when CoreDNS is older than what kubeadm installs with the target) |
//!
//! A check that cannot read what it needs (403, a list that fails) is a
//! `Warn` saying so; the preflight goes on. Only a cluster that does not
//! answer `/version` is an `Err`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use k8sops_upgrade::preflight::{preflight, CheckId, CheckStatus, PreflightParams};
//! let server = k8sops_testkit::TestServer::builder().server_version("v1.29.3-eks-1").start().await?;
//! server.load(&k8sops_testkit::DemoCluster::small())?;
//! let report = preflight(&server.cluster(), &PreflightParams::new("v1.30".parse()?)).await?;
//! // The demo has an unreplicated pod (legacy/debug-shell) and a NotReady node.
//! assert_eq!(report.check(CheckId::UnreplicatedPods).unwrap().status, CheckStatus::Fail);
//! assert_eq!(report.check(CheckId::NodesReady).unwrap().status, CheckStatus::Fail);
//! print!("{report}");
//! # Ok(()) }
//! ```

use std::fmt;

use k8s_openapi::api::{core::v1::Pod, policy::v1::PodDisruptionBudget};
use k8sops_core::{object_status::namespaced_name, paging, Cluster, KubeVersion, Table};
use kube::{
    api::{ApiResource, DynamicObject, ListParams},
    Api,
};
use serde::Serialize;

use crate::{
    removed_apis::{find_removed_apis, RemovedApiParams, RemovedApiReport},
    rules::{ApiStatus, MinorVersion},
    skew::{self, upgrade_hops, SkewReport},
    versions::{kubeadm_coredns_version, version_report, Unread, VersionParams, VersionReport},
    Error, Result,
};

/// How a check ended. Ordered: `Pass < Warn < Fail`.
///
/// ```
/// use k8sops_upgrade::preflight::CheckStatus;
/// assert!(CheckStatus::Pass < CheckStatus::Warn && CheckStatus::Warn < CheckStatus::Fail);
/// assert_eq!(CheckStatus::Fail.to_string(), "FAIL");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Nothing in the way.
    Pass,
    /// Worth a look, or could not be checked; does not block.
    Warn,
    /// Fix this before upgrading.
    Fail,
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckStatus::Pass => "PASS",
            CheckStatus::Warn => "WARN",
            CheckStatus::Fail => "FAIL",
        })
    }
}

/// Which check; see the [module docs](self).
///
/// ```
/// use k8sops_upgrade::preflight::CheckId;
/// assert_eq!(CheckId::PodDisruptionBudgets.to_string(), "pod-disruption-budgets");
/// assert_eq!(serde_json::to_string(&CheckId::RemovedApis).unwrap(), "\"removed-apis\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CheckId {
    /// The target is a valid upgrade of the current version.
    TargetVersion,
    /// Every node is Ready.
    NodesReady,
    /// The version skew policy, now and after the control-plane hops.
    VersionSkew,
    /// Budgets that allow no disruption.
    PodDisruptionBudgets,
    /// Pods without a controller.
    UnreplicatedPods,
    /// Pods with emptyDir volumes.
    LocalStoragePods,
    /// Removed APIs in use.
    RemovedApis,
    /// PodSecurityPolicy objects before 1.25.
    PodSecurityPolicies,
    /// Add-on versions.
    Addons,
    /// Readiness findings from the platform, e.g. EKS upgrade insights.
    UpgradeInsights,
}

impl CheckId {
    /// The id as printed.
    ///
    /// ```
    /// assert_eq!(k8sops_upgrade::preflight::CheckId::NodesReady.name(), "nodes-ready");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            CheckId::TargetVersion => "target-version",
            CheckId::NodesReady => "nodes-ready",
            CheckId::VersionSkew => "version-skew",
            CheckId::PodDisruptionBudgets => "pod-disruption-budgets",
            CheckId::UnreplicatedPods => "unreplicated-pods",
            CheckId::LocalStoragePods => "local-storage-pods",
            CheckId::RemovedApis => "removed-apis",
            CheckId::PodSecurityPolicies => "pod-security-policies",
            CheckId::Addons => "addons",
            CheckId::UpgradeInsights => "upgrade-insights",
        }
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One check's outcome.
///
/// ```
/// use k8sops_upgrade::preflight::{CheckId, CheckStatus, PreflightCheck};
/// let c = PreflightCheck::new(CheckId::NodesReady, CheckStatus::Pass, "all 3 nodes are Ready");
/// assert_eq!(c.title, "Nodes are Ready");
/// assert!(c.objects.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreflightCheck {
    /// Which check.
    pub id: CheckId,
    /// What it checks, in a few words.
    pub title: String,
    /// How it ended.
    pub status: CheckStatus,
    /// Why, and what to do.
    pub explanation: String,
    /// The objects involved (`namespace/name`, node names, findings).
    pub objects: Vec<String>,
}

impl PreflightCheck {
    /// A check outcome without objects.
    ///
    /// ```
    /// use k8sops_upgrade::preflight::{CheckId, CheckStatus, PreflightCheck};
    /// let c = PreflightCheck::new(CheckId::Addons, CheckStatus::Warn, "CoreDNS is old");
    /// assert_eq!(c.status, CheckStatus::Warn);
    /// ```
    pub fn new(id: CheckId, status: CheckStatus, explanation: impl Into<String>) -> Self {
        let title = match id {
            CheckId::TargetVersion => "Target is a valid upgrade",
            CheckId::NodesReady => "Nodes are Ready",
            CheckId::VersionSkew => "Version skew policy",
            CheckId::PodDisruptionBudgets => "PodDisruptionBudgets allow disruptions",
            CheckId::UnreplicatedPods => "Pods on nodes have a controller",
            CheckId::LocalStoragePods => "Pods without local storage",
            CheckId::RemovedApis => "No removed APIs in use",
            CheckId::PodSecurityPolicies => "No PodSecurityPolicies (removed in 1.25)",
            CheckId::Addons => "Add-on versions",
            CheckId::UpgradeInsights => "Platform upgrade insights",
        };
        PreflightCheck { id, title: title.into(), status, explanation: explanation.into(), objects: Vec::new() }
    }

    /// The same with `objects`.
    ///
    /// ```
    /// use k8sops_upgrade::preflight::{CheckId, CheckStatus, PreflightCheck};
    /// let c = PreflightCheck::new(CheckId::NodesReady, CheckStatus::Fail, "1 node is not Ready").with_objects(vec!["n1".into()]);
    /// assert_eq!(c.objects, ["n1"]);
    /// ```
    #[must_use]
    pub fn with_objects(mut self, objects: Vec<String>) -> Self {
        self.objects = objects;
        self
    }
}

/// Where the removed-API check gets its findings.
///
/// ```
/// use k8sops_upgrade::{preflight::RemovedApiCheck, removed_apis::RemovedApiParams};
/// // Scan live objects and Helm releases, but not the API server's metric.
/// let check = RemovedApiCheck::Scan(RemovedApiParams::default().metrics(false));
/// assert!(matches!(check, RemovedApiCheck::Scan(_)));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RemovedApiCheck {
    /// Scan the cluster with [`find_removed_apis`] and these options; the
    /// target is always the preflight's.
    Scan(RemovedApiParams),
    /// Use a report made before (a cluster scan, or
    /// [`scan_manifests`](crate::removed_apis::scan_manifests) of the
    /// manifests about to be deployed).
    Report(Box<RemovedApiReport>),
    /// Do not check (the check is a `Warn` saying so).
    Skip,
}

impl Default for RemovedApiCheck {
    fn default() -> Self {
        RemovedApiCheck::Scan(RemovedApiParams::default())
    }
}

/// What the preflight checks against.
///
/// ```
/// use k8sops_upgrade::preflight::{PreflightParams, RemovedApiCheck};
/// let p = PreflightParams::new("v1.30".parse().unwrap())
///     .versions(k8sops_upgrade::versions::VersionParams::default().kubectl("v1.29.2".parse().unwrap()))
///     .removed_apis(RemovedApiCheck::Skip);
/// assert_eq!(p.target.minor, 30);
/// ```
#[derive(Debug, Clone)]
pub struct PreflightParams {
    /// The version to upgrade to (`v1.30`, or with a patch `v1.30.4`).
    pub target: KubeVersion,
    /// Which nodes, where the system pods are, the kubectl version.
    pub versions: VersionParams,
    /// The removed-API check (default: scan the cluster).
    pub removed_apis: RemovedApiCheck,
    /// Readiness findings the platform reports for the target, e.g. EKS
    /// upgrade insights (`EksControlPlane::insights`, converted with `.into()`
    /// under feature `aws`). Surfaced as the `upgrade-insights` check when
    /// not empty.
    pub insights: Vec<UpgradeInsight>,
    /// The add-ons the platform manages and the versions of them that run
    /// on the target, e.g. EKS add-ons
    /// (`EksControlPlane::compatible_addon_versions`, converted with
    /// `.into()` under feature `aws`). Judged in the `addons` check.
    pub platform_addons: Vec<PlatformAddon>,
}

/// An add-on the platform manages (an EKS add-on such as `vpc-cni`), its
/// installed version and the versions of it that run on a Kubernetes
/// version, for the preflight's `addons` check:
///
/// | installed version | status |
/// |---|---|
/// | among the compatible ones | Pass |
/// | not among them, but some version runs on the target | Warn, naming the version to move to |
/// | unknown (not reported) | Warn |
/// | any, and no version runs on the target | Fail |
/// | compatibility read for another version than the target | Warn |
///
/// An incompatible version that can be updated warns rather than fails: on
/// a managed control plane the add-on is updated around the control-plane
/// upgrade (some, like kube-proxy, only after it), and the platform's own
/// verdict comes through [`UpgradeInsight`]s.
///
/// ```
/// use k8sops_upgrade::preflight::PlatformAddon;
/// let a = PlatformAddon {
///     name: "coredns".into(),
///     installed_version: Some("v1.10.1-eksbuild.1".into()),
///     kubernetes_version: "1.30".into(),
///     compatible_versions: vec!["v1.11.3-eksbuild.1".into(), "v1.11.1-eksbuild.9".into()],
///     recommended_version: Some("v1.11.1-eksbuild.9".into()),
/// };
/// assert!(!a.installed_is_compatible());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformAddon {
    /// The add-on, e.g. `vpc-cni`.
    pub name: String,
    /// The version installed now, if the platform reports it.
    pub installed_version: Option<String>,
    /// The Kubernetes version the compatible versions were read for, e.g. `1.30`.
    pub kubernetes_version: String,
    /// Every version that runs on it.
    pub compatible_versions: Vec<String>,
    /// The version to move to (the platform's default for it, else the newest).
    pub recommended_version: Option<String>,
}

impl PlatformAddon {
    /// Whether the installed version is among the compatible ones.
    ///
    /// ```
    /// let a = k8sops_upgrade::preflight::PlatformAddon {
    ///     name: "vpc-cni".into(), installed_version: Some("v1.18.3-eksbuild.1".into()), kubernetes_version: "1.30".into(),
    ///     compatible_versions: vec!["v1.18.3-eksbuild.1".into()], recommended_version: None,
    /// };
    /// assert!(a.installed_is_compatible());
    /// ```
    pub fn installed_is_compatible(&self) -> bool {
        self.installed_version.as_ref().is_some_and(|v| self.compatible_versions.contains(v))
    }
}

/// A readiness finding from the platform that runs the control plane (EKS
/// upgrade insights), surfaced in the preflight.
///
/// ```
/// use k8sops_upgrade::preflight::{CheckStatus, UpgradeInsight};
/// let i = UpgradeInsight {
///     name: "Deprecated APIs removed in Kubernetes v1.32".into(),
///     status: CheckStatus::Fail,
///     explanation: "flowcontrol.apiserver.k8s.io/v1beta3 is still called".into(),
///     objects: vec!["flowschemas.v1beta3.flowcontrol.apiserver.k8s.io".into()],
/// };
/// assert_eq!(i.status, CheckStatus::Fail);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpgradeInsight {
    /// The insight's name.
    pub name: String,
    /// Its status as a preflight status (EKS `ERROR` is Fail; `WARNING` and
    /// `UNKNOWN` are Warn; `PASSING` is Pass).
    pub status: CheckStatus,
    /// Why, and what to do.
    pub explanation: String,
    /// What it names.
    pub objects: Vec<String>,
}

impl PreflightParams {
    /// A preflight for `target` with the defaults.
    ///
    /// ```
    /// let p = k8sops_upgrade::preflight::PreflightParams::new("v1.31.2".parse().unwrap());
    /// assert_eq!(p.versions.system_namespace, "kube-system");
    /// ```
    pub fn new(target: KubeVersion) -> Self {
        PreflightParams {
            target,
            versions: VersionParams::default(),
            removed_apis: RemovedApiCheck::default(),
            insights: Vec::new(),
            platform_addons: Vec::new(),
        }
    }

    /// Sets [`platform_addons`](Self::platform_addons).
    ///
    /// ```
    /// use k8sops_upgrade::preflight::{PlatformAddon, PreflightParams};
    /// let cni = PlatformAddon {
    ///     name: "vpc-cni".into(), installed_version: Some("v1.18.3-eksbuild.1".into()), kubernetes_version: "1.30".into(),
    ///     compatible_versions: vec!["v1.18.3-eksbuild.1".into()], recommended_version: None,
    /// };
    /// let p = PreflightParams::new("v1.30".parse().unwrap()).platform_addons(vec![cni]);
    /// assert_eq!(p.platform_addons.len(), 1);
    /// ```
    #[must_use]
    pub fn platform_addons(mut self, addons: Vec<PlatformAddon>) -> Self {
        self.platform_addons = addons;
        self
    }

    /// Sets [`insights`](Self::insights).
    ///
    /// ```
    /// use k8sops_upgrade::preflight::{CheckStatus, PreflightParams, UpgradeInsight};
    /// let insight = UpgradeInsight { name: "Kubelet version skew".into(), status: CheckStatus::Pass, explanation: String::new(), objects: vec![] };
    /// let p = PreflightParams::new("v1.30".parse().unwrap()).insights(vec![insight]);
    /// assert_eq!(p.insights.len(), 1);
    /// ```
    #[must_use]
    pub fn insights(mut self, insights: Vec<UpgradeInsight>) -> Self {
        self.insights = insights;
        self
    }

    /// Sets [`versions`](Self::versions).
    ///
    /// ```
    /// use k8sops_upgrade::{preflight::PreflightParams, versions::VersionParams};
    /// let p = PreflightParams::new("v1.30".parse().unwrap()).versions(VersionParams::default().system_namespace("cp"));
    /// assert_eq!(p.versions.system_namespace, "cp");
    /// ```
    #[must_use]
    pub fn versions(mut self, versions: VersionParams) -> Self {
        self.versions = versions;
        self
    }

    /// Sets [`removed_apis`](Self::removed_apis).
    ///
    /// ```
    /// use k8sops_upgrade::preflight::{PreflightParams, RemovedApiCheck};
    /// let p = PreflightParams::new("v1.30".parse().unwrap()).removed_apis(RemovedApiCheck::Skip);
    /// assert!(matches!(p.removed_apis, RemovedApiCheck::Skip));
    /// ```
    #[must_use]
    pub fn removed_apis(mut self, check: RemovedApiCheck) -> Self {
        self.removed_apis = check;
        self
    }
}

/// The outcome of every check, with the versions and skew they were made
/// from (so a [plan](crate::plan) can be built without reading the cluster
/// again). `Display` prints a summary table, then the details of each
/// check that did not pass.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use k8sops_upgrade::preflight::{preflight, CheckStatus, PreflightParams, RemovedApiCheck};
/// let server = k8sops_testkit::TestServer::builder().server_version("v1.29.3").start().await?;
/// let params = PreflightParams::new("v1.30".parse()?).removed_apis(RemovedApiCheck::Skip);
/// let report = preflight(&server.cluster(), &params).await?;
/// assert_eq!(report.status(), CheckStatus::Warn); // only because the removed-API check was skipped
/// assert!(report.ensure_passed().is_ok());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreflightReport {
    /// The oldest API server version: where the upgrade starts.
    pub current: KubeVersion,
    /// The target.
    pub target: KubeVersion,
    /// The minor versions the control plane passes through (empty when
    /// the target is not a valid upgrade, or a patch upgrade).
    pub hops: Vec<MinorVersion>,
    /// The checks, in the order of [`CheckId`].
    pub checks: Vec<PreflightCheck>,
    /// The versions read.
    pub versions: VersionReport,
    /// The skew now and with the control plane at the target.
    pub skew: SkewReport,
}

impl PreflightReport {
    /// The worst status of any check.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use k8sops_upgrade::preflight::{preflight, CheckStatus, PreflightParams, RemovedApiCheck};
    /// let server = k8sops_testkit::TestServer::builder().server_version("v1.29.3").start().await?;
    /// let report = preflight(&server.cluster(), &PreflightParams::new("v1.28".parse()?)).await?;
    /// assert_eq!(report.status(), CheckStatus::Fail); // a downgrade
    /// # Ok(()) }
    /// ```
    pub fn status(&self) -> CheckStatus {
        self.checks.iter().map(|c| c.status).max().unwrap_or(CheckStatus::Pass)
    }

    /// One check's outcome.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use k8sops_upgrade::preflight::{preflight, CheckId, CheckStatus, PreflightParams};
    /// let server = k8sops_testkit::TestServer::builder().server_version("v1.29.3").start().await?;
    /// let report = preflight(&server.cluster(), &PreflightParams::new("v1.30".parse()?)).await?;
    /// assert_eq!(report.check(CheckId::TargetVersion).unwrap().status, CheckStatus::Pass);
    /// # Ok(()) }
    /// ```
    pub fn check(&self, id: CheckId) -> Option<&PreflightCheck> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The checks that failed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use k8sops_upgrade::preflight::{preflight, CheckId, PreflightParams};
    /// let server = k8sops_testkit::TestServer::builder().server_version("v1.29.3").start().await?;
    /// let report = preflight(&server.cluster(), &PreflightParams::new("v1.30".parse()?)).await?;
    /// assert_eq!(report.failed().count(), 0);
    /// # Ok(()) }
    /// ```
    pub fn failed(&self) -> impl Iterator<Item = &PreflightCheck> + '_ {
        self.checks.iter().filter(|c| c.status == CheckStatus::Fail)
    }

    /// `Ok` unless a check failed; then [`Error::PreflightFailed`] naming them.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use k8sops_upgrade::preflight::{preflight, PreflightParams};
    /// let server = k8sops_testkit::TestServer::builder().server_version("v1.29.3").start().await?;
    /// let report = preflight(&server.cluster(), &PreflightParams::new("v1.27".parse()?)).await?;
    /// let err = report.ensure_passed().unwrap_err();
    /// assert!(err.to_string().contains("target-version"));
    /// # Ok(()) }
    /// ```
    pub fn ensure_passed(&self) -> Result<()> {
        let failed: Vec<String> = self.failed().map(|c| format!("{}: {}", c.id, c.explanation)).collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::PreflightFailed { target: self.target.as_str().to_string(), failed })
        }
    }

    /// The summary table: CHECK, STATUS, SUMMARY (the explanation's first sentence).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use k8sops_upgrade::preflight::{preflight, PreflightParams};
    /// let server = k8sops_testkit::TestServer::builder().server_version("v1.29.3").start().await?;
    /// let report = preflight(&server.cluster(), &PreflightParams::new("v1.30".parse()?)).await?;
    /// assert_eq!(report.table().rows()[0][0], "target-version");
    /// # Ok(()) }
    /// ```
    pub fn table(&self) -> Table {
        let mut t = Table::new(["check", "status", "summary"]);
        for c in &self.checks {
            let first = c.explanation.split(". ").next().unwrap_or_default().trim_end_matches('.');
            t.row([c.id.name().to_string(), c.status.to_string(), first.to_string()]);
        }
        t
    }
}

impl fmt::Display for PreflightReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hops: Vec<String> = self.hops.iter().map(ToString::to_string).collect();
        writeln!(
            f,
            "Upgrade preflight: {} -> {}{}",
            self.current.as_str(),
            self.target.as_str(),
            if hops.is_empty() { String::new() } else { format!(" (via {})", hops.join(", ")) }
        )?;
        write!(f, "{}", self.table())?;
        for c in self.checks.iter().filter(|c| c.status != CheckStatus::Pass) {
            writeln!(f)?;
            writeln!(f, "[{}] {}: {}", c.status, c.id, c.explanation)?;
            for o in &c.objects {
                writeln!(f, "  - {o}")?;
            }
        }
        writeln!(f)?;
        let (fails, warns) = (
            self.checks.iter().filter(|c| c.status == CheckStatus::Fail).count(),
            self.checks.iter().filter(|c| c.status == CheckStatus::Warn).count(),
        );
        writeln!(f, "{} check(s): {fails} failed, {warns} warned.", self.checks.len())
    }
}

/// One check from the platform's insights: the worst status, each insight
/// that is not passing explained.
fn insights_check(insights: &[UpgradeInsight]) -> PreflightCheck {
    let worst = insights.iter().map(|i| i.status).max().unwrap_or(CheckStatus::Pass);
    let open: Vec<&UpgradeInsight> = insights.iter().filter(|i| i.status != CheckStatus::Pass).collect();
    let explanation = if open.is_empty() {
        format!("All {} insights pass.", insights.len())
    } else {
        open.iter().map(|i| format!("{} {}: {}", i.status, i.name, i.explanation)).collect::<Vec<_>>().join("; ")
    };
    let mut check = PreflightCheck::new(CheckId::UpgradeInsights, worst, explanation);
    check.objects = open.iter().flat_map(|i| i.objects.iter().cloned()).collect();
    check
}

/// Runs every check for an upgrade to [`PreflightParams::target`]; see the
/// [module docs](self).
///
/// `Err` only when the cluster cannot be reached (`/version` fails); every
/// other failure is a check's `Warn` with the reason.
///
/// # RBAC
/// `list` on nodes, pods (all namespaces, or namespace by namespace: the
/// ones refused are named), poddisruptionbudgets and, before 1.25,
/// podsecuritypolicies; what [`find_removed_apis`] needs for the
/// removed-API scan.
///
/// # Cancel safety
/// Read-only: dropping the future stops it and changes nothing. A
/// [`RemovedApiParams::cancel`] token in [`RemovedApiCheck::Scan`] stops
/// the removed-API scan early; that check then warns that it is incomplete.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use k8sops_upgrade::preflight::{preflight, CheckId, CheckStatus, PreflightParams};
/// let server = k8sops_testkit::TestServer::builder().server_version("v1.26.15").start().await?;
/// let report = preflight(&server.cluster(), &PreflightParams::new("v1.29".parse()?)).await?;
/// let target = report.check(CheckId::TargetVersion).unwrap();
/// assert_eq!(target.status, CheckStatus::Warn); // three hops: 1.27, 1.28, 1.29
/// assert_eq!(report.hops.len(), 3);
/// # Ok(()) }
/// ```
pub async fn preflight(cluster: &Cluster, params: &PreflightParams) -> Result<PreflightReport> {
    let versions = version_report(cluster, &params.versions).await?;
    let current = versions.apiserver_versions().first().cloned().unwrap_or_else(|| versions.server.version().clone());
    let target = params.target.clone();
    let mut checks = Vec::new();

    let hops = match upgrade_hops(&current, &target) {
        Ok(h) => {
            checks.push(target_check(&current, &target, &h));
            h
        }
        Err(e) => {
            checks.push(PreflightCheck::new(CheckId::TargetVersion, CheckStatus::Fail, e.to_string()));
            Vec::new()
        }
    };
    checks.push(nodes_ready(&versions));
    let skew = skew::skew_report(&versions, Some(&target));
    checks.push(skew_check(&versions, &skew, &hops));
    let node_names: Option<Vec<String>> =
        params.versions.node_selector.as_ref().map(|_| versions.nodes.iter().map(|n| n.name.clone()).collect());
    checks.push(budgets(cluster).await);
    checks.extend(pods(cluster, node_names.as_deref()).await);
    checks.push(removed_apis(cluster, &params.removed_apis, &target).await);
    checks.push(pod_security_policies(cluster, &current, &target).await);
    checks.push(addons(&versions, &target, &params.platform_addons));
    if !params.insights.is_empty() {
        checks.push(insights_check(&params.insights));
    }

    Ok(PreflightReport { current, target, hops, checks, versions, skew })
}

fn target_check(current: &KubeVersion, target: &KubeVersion, hops: &[MinorVersion]) -> PreflightCheck {
    let (status, text) = match hops.len() {
        0 if target.minor == current.minor && target > current => {
            (CheckStatus::Pass, format!("A patch upgrade within {}.", MinorVersion::from(current)))
        }
        0 => (CheckStatus::Pass, format!("The cluster is already at {}.", current.as_str())),
        1 => (CheckStatus::Pass, format!("One minor version, {} to {}.", MinorVersion::from(current), hops[0])),
        n => {
            let list: Vec<String> = hops.iter().map(ToString::to_string).collect();
            (
                CheckStatus::Warn,
                format!(
                    "{n} minor versions: the control plane cannot skip one, so this is {n} upgrades in a row ({}), each with its own control-plane and node steps.",
                    list.join(", ")
                ),
            )
        }
    };
    PreflightCheck::new(CheckId::TargetVersion, status, text)
}

fn nodes_ready(versions: &VersionReport) -> PreflightCheck {
    if let Some(note) = versions.notes.iter().find(|n| n.unread == Unread::Nodes) {
        return PreflightCheck::new(CheckId::NodesReady, CheckStatus::Warn, format!("Not checked: {note}."));
    }
    let not_ready: Vec<String> =
        versions.nodes.iter().filter(|n| !n.ready).map(|n| format!("{} ({})", n.name, n.status)).collect();
    if versions.nodes.is_empty() {
        PreflightCheck::new(CheckId::NodesReady, CheckStatus::Pass, "No nodes to check.")
    } else if not_ready.is_empty() {
        PreflightCheck::new(
            CheckId::NodesReady,
            CheckStatus::Pass,
            format!("All {} node(s) are Ready.", versions.nodes.len()),
        )
    } else {
        PreflightCheck::new(
            CheckId::NodesReady,
            CheckStatus::Fail,
            format!(
                "{} of {} node(s) are not Ready. Their pods cannot be drained cleanly and a NotReady control-plane node blocks the control-plane upgrade: repair or remove them first.",
                not_ready.len(),
                versions.nodes.len()
            ),
        )
        .with_objects(not_ready)
    }
}

fn skew_check(versions: &VersionReport, skew: &SkewReport, hops: &[MinorVersion]) -> PreflightCheck {
    if !skew.now.is_empty() {
        return PreflightCheck::new(
            CheckId::VersionSkew,
            CheckStatus::Fail,
            format!(
                "{} component(s) are outside the version skew policy now. Bring them within it before upgrading: the upgrade only widens the gap.",
                skew.now.len()
            ),
        )
        .with_objects(skew.now.iter().map(|v| v.message.clone()).collect());
    }
    if let Some(first) = hops.first() {
        let at_first = KubeVersion::new(first.major, first.minor, 0);
        let blocking = skew::check_after_control_plane_upgrade(versions, &at_first);
        if !blocking.is_empty() {
            return PreflightCheck::new(
                CheckId::VersionSkew,
                CheckStatus::Fail,
                format!(
                    "{} component(s) would fall outside the version skew policy as soon as the control plane reaches {first}. Upgrade them to the current version first (the plan lists them).",
                    blocking.len()
                ),
            )
            .with_objects(blocking.iter().map(|v| v.message.clone()).collect());
        }
    }
    if !skew.after_upgrade.is_empty() {
        let target = skew.target.as_ref().map(|t| t.as_str().to_string()).unwrap_or_default();
        return PreflightCheck::new(
            CheckId::VersionSkew,
            CheckStatus::Warn,
            format!(
                "{} component(s) would be outside the version skew policy with the control plane at {target} if they were not upgraded on the way. The plan upgrades nodes between hops.",
                skew.after_upgrade.len()
            ),
        )
        .with_objects(skew.after_upgrade.iter().map(|v| v.message.clone()).collect());
    }
    let servers: Vec<String> = skew.policy.apiservers.iter().map(ToString::to_string).collect();
    PreflightCheck::new(
        CheckId::VersionSkew,
        CheckStatus::Pass,
        format!(
            "Every component is within the version skew policy of kube-apiserver {}, and stays within it with the control plane at the target.",
            servers.join(" and ")
        ),
    )
}

async fn budgets(cluster: &Cluster) -> PreflightCheck {
    let mut blocking = Vec::new();
    let mut unknown = Vec::new();
    let mut total = 0usize;
    let listed = paging::for_each_readable(cluster, ListParams::default(), |pdb: PodDisruptionBudget| {
        total += 1;
        let name = namespaced_name(&pdb.metadata);
        let generation = pdb.metadata.generation;
        // Several status fields are optional in newer API versions: read them loosely.
        let status = pdb
            .status
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok())
            .and_then(|v| serde_json::from_value::<BudgetStatus>(v).ok());
        match &status {
            Some(s) if generation.is_none() || s.observed_generation >= generation => {
                if s.disruptions_allowed <= 0 && s.expected_pods > 0 {
                    let spec = pdb.spec.as_ref();
                    let rule = spec
                        .and_then(|s| s.min_available.as_ref().map(|v| format!("minAvailable {}", int_or_string(v))))
                        .or_else(|| {
                            spec.and_then(|s| s.max_unavailable.as_ref())
                                .map(|v| format!("maxUnavailable {}", int_or_string(v)))
                        })
                        .unwrap_or_else(|| "no minAvailable or maxUnavailable".into());
                    blocking.push(format!(
                        "{name}: {rule}, {} of {} expected pods healthy ({} desired), {} disruptions allowed",
                        s.current_healthy, s.expected_pods, s.desired_healthy, s.disruptions_allowed
                    ));
                }
            }
            _ => unknown.push(name),
        }
        Ok::<_, k8sops_core::Error>(())
    })
    .await;
    let forbidden = match listed {
        Ok(f) => f,
        Err(e) => {
            return PreflightCheck::new(
                CheckId::PodDisruptionBudgets,
                CheckStatus::Warn,
                format!("Not checked: PodDisruptionBudgets could not be listed: {e}."),
            )
        }
    };
    let mut caveats = Vec::new();
    if !forbidden.is_empty() {
        caveats.push(format!("budgets in {} could not be read (forbidden)", forbidden.join(", ")));
    }
    if !unknown.is_empty() {
        caveats.push(format!(
            "{} budget(s) have no up-to-date status (is kube-controller-manager's disruption controller running?): {}",
            unknown.len(),
            unknown.join(", ")
        ));
    }
    let caveats = if caveats.is_empty() { String::new() } else { format!(" Also: {}.", caveats.join("; ")) };
    if !blocking.is_empty() {
        PreflightCheck::new(
            CheckId::PodDisruptionBudgets,
            CheckStatus::Fail,
            format!(
                "{} PodDisruptionBudget(s) allow no disruption while they have pods. Draining a node that runs one of their pods blocks until the budget allows an eviction (or the drain times out): scale the workloads up, or relax the budgets, for the node upgrades.{caveats}",
                blocking.len()
            ),
        )
        .with_objects(blocking)
    } else if !caveats.is_empty() {
        PreflightCheck::new(
            CheckId::PodDisruptionBudgets,
            CheckStatus::Warn,
            format!("No budget blocks disruptions among those read.{caveats}"),
        )
    } else if total == 0 {
        PreflightCheck::new(CheckId::PodDisruptionBudgets, CheckStatus::Pass, "No PodDisruptionBudgets.")
    } else {
        PreflightCheck::new(
            CheckId::PodDisruptionBudgets,
            CheckStatus::Pass,
            format!("All {total} PodDisruptionBudget(s) allow at least one disruption, or have no pods."),
        )
    }
}

/// The `status` of a PodDisruptionBudget, as the disruption controller writes it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct BudgetStatus {
    observed_generation: Option<i64>,
    disruptions_allowed: i64,
    current_healthy: i64,
    desired_healthy: i64,
    expected_pods: i64,
}

fn int_or_string(v: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString) -> String {
    match v {
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i.to_string(),
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
    }
}

/// The two pod checks, from one pass over the pods: unreplicated pods and
/// pods with local storage, as `kubectl drain` decides them. Mirror pods
/// (static pods) are never drained, DaemonSet pods are left with
/// `--ignore-daemonsets`, and finished pods (Succeeded, Failed) can go.
async fn pods(cluster: &Cluster, nodes: Option<&[String]>) -> Vec<PreflightCheck> {
    let mut unreplicated = Vec::new();
    let mut local = Vec::new();
    let listed = paging::for_each_readable(cluster, ListParams::default(), |pod: Pod| {
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty()) else {
            return Ok(());
        };
        if nodes.is_some_and(|ns| !ns.contains(&node)) {
            return Ok(());
        }
        let finished = matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"));
        let mirror = pod.metadata.annotations.as_ref().is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
        if finished || mirror {
            return Ok(());
        }
        let controller = pod.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true));
        let daemonset = controller.is_some_and(|o| o.kind == "DaemonSet" && o.api_version == "apps/v1");
        let name = format!("{} (on {node})", namespaced_name(&pod.metadata));
        if controller.is_none() {
            unreplicated.push(name.clone());
        }
        let empty_dir =
            pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).is_some_and(|v| v.iter().any(|v| v.empty_dir.is_some()));
        if empty_dir && !daemonset {
            local.push(name);
        }
        Ok::<_, k8sops_core::Error>(())
    })
    .await;
    let forbidden = match listed {
        Ok(f) => f,
        Err(e) => {
            let why = format!("Not checked: pods could not be listed: {e}.");
            return vec![
                PreflightCheck::new(CheckId::UnreplicatedPods, CheckStatus::Warn, why.clone()),
                PreflightCheck::new(CheckId::LocalStoragePods, CheckStatus::Warn, why),
            ];
        }
    };
    let caveat = if forbidden.is_empty() {
        String::new()
    } else {
        format!(" Pods in {} could not be read (forbidden).", forbidden.join(", "))
    };
    let unreplicated_check = if !unreplicated.is_empty() {
        PreflightCheck::new(
            CheckId::UnreplicatedPods,
            CheckStatus::Fail,
            format!(
                "{} pod(s) on nodes declare no controller. `kubectl drain` refuses them (\"cannot delete Pods that declare no controller\") unless --force, and nothing recreates them once deleted: give them a controller (a Deployment), or plan to recreate them.{caveat}",
                unreplicated.len()
            ),
        )
        .with_objects(unreplicated)
    } else {
        let status = if caveat.is_empty() { CheckStatus::Pass } else { CheckStatus::Warn };
        PreflightCheck::new(
            CheckId::UnreplicatedPods,
            status,
            format!("Every running pod on a node has a controller (mirror pods and finished pods aside).{caveat}"),
        )
    };
    let local_check = if !local.is_empty() {
        PreflightCheck::new(
            CheckId::LocalStoragePods,
            CheckStatus::Warn,
            format!(
                "{} pod(s) use emptyDir volumes. `kubectl drain` refuses them without --delete-emptydir-data, and their emptyDir data is lost when they are evicted.{caveat}",
                local.len()
            ),
        )
        .with_objects(local)
    } else {
        let status = if caveat.is_empty() { CheckStatus::Pass } else { CheckStatus::Warn };
        PreflightCheck::new(
            CheckId::LocalStoragePods,
            status,
            format!("No pod to be drained uses emptyDir volumes (DaemonSet pods aside).{caveat}"),
        )
    };
    vec![unreplicated_check, local_check]
}

async fn removed_apis(cluster: &Cluster, check: &RemovedApiCheck, target: &KubeVersion) -> PreflightCheck {
    let target_minor = MinorVersion::from(target);
    let report = match check {
        RemovedApiCheck::Skip => {
            return PreflightCheck::new(
                CheckId::RemovedApis,
                CheckStatus::Warn,
                "Not checked (skipped). Run the removed-API scan (find_removed_apis) before upgrading.",
            )
        }
        RemovedApiCheck::Report(r) => (**r).clone(),
        RemovedApiCheck::Scan(p) => match find_removed_apis(cluster, &p.clone().target(target_minor)).await {
            Ok(r) => r,
            Err(e) => {
                return PreflightCheck::new(
                    CheckId::RemovedApis,
                    CheckStatus::Warn,
                    format!("Not checked: the removed-API scan failed: {e}."),
                )
            }
        },
    };
    // A report made for an older target may miss what the target removes.
    let stale = report.target < target_minor;
    let removed_at_target = |f: &&crate::removed_apis::Finding| {
        f.status == ApiStatus::Removed || f.removed_in.is_some_and(|r| r <= target_minor)
    };
    let removed: Vec<String> = report.findings.iter().filter(removed_at_target).map(finding_line).collect();
    let deprecated: Vec<String> = report.findings.iter().filter(|f| !removed_at_target(f)).map(finding_line).collect();
    let mut caveats: Vec<String> = report.notes.iter().map(|n| format!("not checked: {n}")).collect();
    if report.cancelled {
        caveats.push("the scan was cancelled before it finished".into());
    }
    if stale {
        caveats.push(format!("the report was made for {}, not {target_minor}", report.target));
    }
    let caveats = if caveats.is_empty() { String::new() } else { format!(" Also: {}.", caveats.join("; ")) };
    if !removed.is_empty() {
        PreflightCheck::new(
            CheckId::RemovedApis,
            CheckStatus::Fail,
            format!(
                "{} use(s) of APIs that {target_minor} no longer serves. Objects and manifests in these versions are refused after the upgrade: re-apply them in the replacement apiVersion first.{caveats}",
                removed.len()
            ),
        )
        .with_objects(removed)
    } else if !deprecated.is_empty() {
        PreflightCheck::new(
            CheckId::RemovedApis,
            CheckStatus::Warn,
            format!(
                "No removed API is in use, but {} use(s) of APIs deprecated at {target_minor}, which a later release removes.{caveats}",
                deprecated.len()
            ),
        )
        .with_objects(deprecated)
    } else if !caveats.is_empty() {
        PreflightCheck::new(CheckId::RemovedApis, CheckStatus::Warn, format!("No removed API use found.{caveats}"))
    } else {
        PreflightCheck::new(
            CheckId::RemovedApis,
            CheckStatus::Pass,
            format!("No use of an API removed by {target_minor} was found."),
        )
    }
}

fn finding_line(f: &crate::removed_apis::Finding) -> String {
    let replacement = f.replacement.as_ref().map(|r| format!(", use {r}")).unwrap_or_default();
    let removed = f.removed_in.map(|r| format!(" (removed in {r})")).unwrap_or_default();
    format!("{} uses {}{removed}{replacement}; seen in {} {}", f.object(), f.api_version, f.source, f.location)
}

/// `policy/v1beta1` PodSecurityPolicy, served up to 1.24.
fn psp_resource() -> ApiResource {
    ApiResource {
        group: "policy".into(),
        version: "v1beta1".into(),
        api_version: "policy/v1beta1".into(),
        kind: "PodSecurityPolicy".into(),
        plural: "podsecuritypolicies".into(),
    }
}

async fn pod_security_policies(cluster: &Cluster, current: &KubeVersion, target: &KubeVersion) -> PreflightCheck {
    let removal = MinorVersion::new(1, 25);
    if MinorVersion::from(target) < removal {
        return PreflightCheck::new(
            CheckId::PodSecurityPolicies,
            CheckStatus::Pass,
            format!("Not affected: {} still serves PodSecurityPolicy (removed in v1.25).", target.as_str()),
        );
    }
    if MinorVersion::from(current) >= removal {
        return PreflightCheck::new(
            CheckId::PodSecurityPolicies,
            CheckStatus::Pass,
            "PodSecurityPolicy was removed in v1.25; this cluster is past it.",
        );
    }
    let ar = psp_resource();
    let api: Api<DynamicObject> = Api::all_with(cluster.client().clone(), &ar);
    match paging::list_all(cluster, &api, ListParams::default()).await {
        Ok(list) if list.is_empty() => PreflightCheck::new(
            CheckId::PodSecurityPolicies,
            CheckStatus::Pass,
            "No PodSecurityPolicy objects. Make sure Pod Security Admission (namespace labels) enforces what they did.",
        ),
        Ok(list) => {
            let mut names: Vec<String> = list.into_iter().filter_map(|o| o.metadata.name).collect();
            names.sort();
            PreflightCheck::new(
                CheckId::PodSecurityPolicies,
                CheckStatus::Fail,
                format!(
                    "{} PodSecurityPolicy object(s) exist, and v1.25 removed the API and its admission plugin: once upgraded, nothing enforces them. Migrate to Pod Security Admission (pod-security.kubernetes.io namespace labels), disable the PodSecurityPolicy admission plugin, then delete them.",
                    names.len()
                ),
            )
            .with_objects(names)
        }
        Err(e) if e.is_not_found() => PreflightCheck::new(
            CheckId::PodSecurityPolicies,
            CheckStatus::Pass,
            "The server does not serve policy/v1beta1 podsecuritypolicies: there are none.",
        ),
        Err(e) => PreflightCheck::new(
            CheckId::PodSecurityPolicies,
            CheckStatus::Warn,
            format!("Not checked: PodSecurityPolicies could not be listed: {e}."),
        ),
    }
}

/// The `addons` check: the platform's add-ons against the versions that run
/// on the target, and CoreDNS against the version kubeadm installs with it
/// (unless CoreDNS is itself a platform add-on: the platform's data wins).
fn addons(versions: &VersionReport, target: &KubeVersion, platform: &[PlatformAddon]) -> PreflightCheck {
    if platform.is_empty() {
        return coredns_check(versions, target);
    }
    let mut check = platform_addons_check(platform, target);
    if !platform.iter().any(|a| a.name == "coredns") {
        let coredns = coredns_check(versions, target);
        if coredns.status != CheckStatus::Pass {
            check.status = check.status.max(coredns.status);
            check.explanation = format!("{} {}", check.explanation, coredns.explanation);
            check.objects.extend(coredns.objects);
        }
    }
    check
}

/// The platform's add-ons; see [`PlatformAddon`] for the statuses.
fn platform_addons_check(platform: &[PlatformAddon], target: &KubeVersion) -> PreflightCheck {
    let target_minor = MinorVersion::from(target);
    let mut worst = CheckStatus::Pass;
    let mut problems = Vec::new();
    let mut objects = Vec::new();
    for a in platform {
        let installed = a.installed_version.as_deref().unwrap_or("(version not reported)");
        let read_for = a.kubernetes_version.parse::<KubeVersion>().ok().map(|v| MinorVersion::from(&v));
        let compatible =
            if a.compatible_versions.is_empty() { "none".to_string() } else { a.compatible_versions.join(", ") };
        let update = |to: &str| format!("(EKS: aws eks update-addon --addon-name {} --addon-version {to})", a.name);
        let (status, why) = if read_for != Some(target_minor) {
            (
                CheckStatus::Warn,
                format!(
                    "{} {installed}: its compatible versions were read for Kubernetes {}, not {target_minor}; read them again for the target",
                    a.name, a.kubernetes_version
                ),
            )
        } else if a.compatible_versions.is_empty() {
            (
                CheckStatus::Fail,
                format!(
                    "{} {installed}: no version of it runs on {target_minor}; remove the add-on or replace it before upgrading",
                    a.name
                ),
            )
        } else if a.installed_is_compatible() {
            (CheckStatus::Pass, String::new())
        } else {
            let to = a
                .recommended_version
                .as_deref()
                .or(a.compatible_versions.first().map(String::as_str))
                .unwrap_or_default();
            let what = if a.installed_version.is_some() {
                format!("{} {installed} does not run on {target_minor}", a.name)
            } else {
                format!("{}'s installed version is not reported, so it may not run on {target_minor}", a.name)
            };
            (CheckStatus::Warn, format!("{what}; update it to {to}, a compatible version {}", update(to)))
        };
        worst = worst.max(status);
        if status != CheckStatus::Pass {
            problems.push(why);
            objects.push(format!("{} {installed} (runs on {target_minor}: {compatible})", a.name));
        }
    }
    let explanation = if problems.is_empty() {
        let names: Vec<String> = platform
            .iter()
            .map(|a| format!("{} {}", a.name, a.installed_version.as_deref().unwrap_or_default()))
            .collect();
        format!("All {} platform add-on(s) run on {target_minor}: {}.", platform.len(), names.join(", "))
    } else {
        format!(
            "{} of {} platform add-on(s) need attention for {target_minor}. {}.",
            problems.len(),
            platform.len(),
            problems.join(". ")
        )
    };
    PreflightCheck::new(CheckId::Addons, worst, explanation).with_objects(objects)
}

/// CoreDNS against the version kubeadm installs with the target.
fn coredns_check(versions: &VersionReport, target: &KubeVersion) -> PreflightCheck {
    let Some(reference) = kubeadm_coredns_version(target) else {
        return PreflightCheck::new(
            CheckId::Addons,
            CheckStatus::Pass,
            format!("No add-on compatibility data for {}.", MinorVersion::from(target)),
        );
    };
    let reference_v: Option<KubeVersion> = reference.parse().ok();
    let coredns: Vec<_> = versions.addons.iter().filter(|a| a.name == "coredns").collect();
    if coredns.is_empty() {
        return PreflightCheck::new(
            CheckId::Addons,
            CheckStatus::Pass,
            "No CoreDNS pods found in the system namespace; no other add-on has compatibility data.",
        );
    }
    let old: Vec<String> = coredns
        .iter()
        .filter(|a| {
            let v: Option<KubeVersion> = a.version.parse().ok();
            matches!((&v, &reference_v), (Some(v), Some(r)) if (v.major, v.minor, v.patch) < (r.major, r.minor, r.patch))
        })
        .map(|a| format!("coredns {} ({} pod(s), {})", a.version, a.pods, a.image))
        .collect();
    let target_minor = MinorVersion::from(target);
    if old.is_empty() {
        PreflightCheck::new(
            CheckId::Addons,
            CheckStatus::Pass,
            format!("CoreDNS is at least {reference}, the version kubeadm installs with {target_minor}."),
        )
    } else if versions.control_plane.visible {
        PreflightCheck::new(
            CheckId::Addons,
            CheckStatus::Pass,
            format!(
                "CoreDNS is older than {reference}, the version kubeadm installs with {target_minor}; `kubeadm upgrade apply` upgrades it."
            ),
        )
        .with_objects(old)
    } else {
        PreflightCheck::new(
            CheckId::Addons,
            CheckStatus::Warn,
            format!(
                "CoreDNS is older than {reference}, the version kubeadm installs with {target_minor}. A managed control-plane upgrade does not update it: update the add-on after the control plane (EKS: aws eks update-addon --addon-name coredns)."
            ),
        )
        .with_objects(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_check_names_every_hop() {
        let c = target_check(
            &"v1.26.3".parse().unwrap(),
            &"v1.29".parse().unwrap(),
            &[MinorVersion::new(1, 27), MinorVersion::new(1, 28), MinorVersion::new(1, 29)],
        );
        assert_eq!(c.status, CheckStatus::Warn);
        assert!(c.explanation.contains("v1.27, v1.28, v1.29"), "{}", c.explanation);
        let c = target_check(&"v1.26.3".parse().unwrap(), &"v1.26.9".parse().unwrap(), &[]);
        assert!(c.explanation.starts_with("A patch upgrade"), "{}", c.explanation);
    }
}
