//! The Kubernetes [version skew policy](https://kubernetes.io/releases/version-skew-policy/)
//! as data, and the violations of it in a cluster — now, and after a planned
//! control-plane upgrade.
//!
//! The policy, with `S` the kube-apiserver minor version:
//!
//! | component | supported |
//! |---|---|
//! | kube-apiserver (HA) | the newest and oldest instances within one minor |
//! | kubelet | not newer than `S`; up to 3 minors older from 1.28 (2 before) |
//! | kube-proxy | as kubelet; and within 3 minors of the kubelet beside it (2 for kube-proxy < 1.25) |
//! | kube-controller-manager, kube-scheduler, cloud-controller-manager | `S` or `S-1` |
//! | kubectl | `S-1` to `S+1` |
//!
//! The policy words the kubelet rule as "kubelet < 1.25 may only be up to
//! two minor versions older": for a kubelet within the window that is the
//! same as three minors from API server 1.28 on, two before — the form
//! [`SkewPolicy::kubelet_max_lag`] uses. In an HA cluster with API servers
//! at different versions every rule holds against each of them, which
//! narrows the ranges ([`SkewPolicy::for_apiservers`]).
//!
//! API servers move one minor version at a time ([`upgrade_hops`]).
//!
//! ```
//! use k8sops_upgrade::skew::{Component, SkewPolicy};
//! let policy = SkewPolicy::for_apiserver(&"v1.28.4".parse().unwrap());
//! let kubelet = policy.range(Component::Kubelet);
//! assert_eq!((kubelet.oldest.to_string(), kubelet.newest.to_string()), ("v1.25".into(), "v1.28".into()));
//! let kubectl = policy.range(Component::Kubectl);
//! assert_eq!(kubectl.newest.to_string(), "v1.29");
//! ```

use std::fmt;

use k8sops_core::{KubeVersion, Table};
use serde::Serialize;

use crate::{rules::MinorVersion, versions::VersionReport, Result};

/// A component the skew policy constrains.
///
/// ```
/// use k8sops_upgrade::skew::Component;
/// assert_eq!(Component::KubeControllerManager.to_string(), "kube-controller-manager");
/// assert_eq!(serde_json::to_string(&Component::KubeProxy).unwrap(), "\"kube-proxy\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    /// kube-apiserver (the other instances, in an HA cluster).
    KubeApiserver,
    /// kube-controller-manager.
    KubeControllerManager,
    /// kube-scheduler.
    KubeScheduler,
    /// cloud-controller-manager.
    CloudControllerManager,
    /// The kubelet of a node.
    Kubelet,
    /// kube-proxy on a node.
    KubeProxy,
    /// kubectl.
    Kubectl,
}

impl Component {
    /// Every component, in the policy's order.
    ///
    /// ```
    /// assert_eq!(k8sops_upgrade::skew::Component::ALL.len(), 7);
    /// ```
    pub const ALL: [Component; 7] = [
        Component::KubeApiserver,
        Component::KubeControllerManager,
        Component::KubeScheduler,
        Component::CloudControllerManager,
        Component::Kubelet,
        Component::KubeProxy,
        Component::Kubectl,
    ];

    /// The component's binary name.
    ///
    /// ```
    /// assert_eq!(k8sops_upgrade::skew::Component::Kubelet.name(), "kubelet");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Component::KubeApiserver => "kube-apiserver",
            Component::KubeControllerManager => "kube-controller-manager",
            Component::KubeScheduler => "kube-scheduler",
            Component::CloudControllerManager => "cloud-controller-manager",
            Component::Kubelet => "kubelet",
            Component::KubeProxy => "kube-proxy",
            Component::Kubectl => "kubectl",
        }
    }

    /// The component named `name` (a pod's `component` label).
    ///
    /// ```
    /// use k8sops_upgrade::skew::Component;
    /// assert_eq!(Component::from_name("kube-scheduler"), Some(Component::KubeScheduler));
    /// assert_eq!(Component::from_name("etcd"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Component> {
        Component::ALL.into_iter().find(|c| c.name() == name)
    }

    /// What the policy says about this component.
    ///
    /// ```
    /// assert!(k8sops_upgrade::skew::Component::Kubectl.rule().contains("one minor version"));
    /// ```
    pub fn rule(self) -> &'static str {
        match self {
            Component::KubeApiserver => {
                "the newest and oldest kube-apiserver instances must be within one minor version"
            }
            Component::KubeControllerManager | Component::KubeScheduler | Component::CloudControllerManager => {
                "must not be newer than the kube-apiserver instances; may be up to one minor version older"
            }
            Component::Kubelet => {
                "must not be newer than kube-apiserver; may be up to three minor versions older (two before kube-apiserver 1.28, i.e. for kubelet < 1.25)"
            }
            Component::KubeProxy => {
                "must not be newer than kube-apiserver; may be up to three minor versions older (two for kube-proxy < 1.25), and within three minor versions of the kubelet beside it (two for kube-proxy < 1.25)"
            }
            Component::Kubectl => "supported within one minor version (older or newer) of kube-apiserver",
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The minor versions of one component that the policy supports.
///
/// ```
/// use k8sops_upgrade::{rules::MinorVersion, skew::{Component, SkewPolicy}};
/// let r = SkewPolicy::for_apiserver(&"v1.27.3".parse().unwrap()).range(Component::Kubelet).clone();
/// assert!(r.contains(MinorVersion::new(1, 25)) && !r.contains(MinorVersion::new(1, 24)));
/// assert_eq!(r.to_string(), "v1.25 to v1.27");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SupportedRange {
    /// The component.
    pub component: Component,
    /// The oldest supported minor version.
    pub oldest: MinorVersion,
    /// The newest supported minor version.
    pub newest: MinorVersion,
}

impl SupportedRange {
    /// Whether `version` is within the range.
    ///
    /// ```
    /// use k8sops_upgrade::{rules::MinorVersion, skew::{Component, SkewPolicy}};
    /// let p = SkewPolicy::for_apiserver(&"v1.30.0".parse().unwrap());
    /// assert!(p.range(Component::Kubectl).contains(MinorVersion::new(1, 31)));
    /// ```
    pub fn contains(&self, version: MinorVersion) -> bool {
        self.oldest <= version && version <= self.newest
    }

    /// Whether the range is empty (API servers more than the policy allows
    /// apart leave no version supported).
    ///
    /// ```
    /// use k8sops_upgrade::skew::{Component, SkewPolicy};
    /// let apart = SkewPolicy::for_apiservers(&["v1.26.0".parse().unwrap(), "v1.29.0".parse().unwrap()]);
    /// assert!(apart.range(Component::Kubectl).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.oldest > self.newest
    }
}

impl fmt::Display for SupportedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            f.write_str("none")
        } else if self.oldest == self.newest {
            write!(f, "{}", self.oldest)
        } else {
            write!(f, "{} to {}", self.oldest, self.newest)
        }
    }
}

/// The skew policy at one set of API server versions: the supported range
/// of every component. `Display` prints it as a table.
///
/// ```
/// use k8sops_upgrade::skew::{Component, SkewPolicy};
/// // Before 1.28 kubelets may lag two minor versions, from 1.28 on three.
/// assert_eq!(SkewPolicy::for_apiserver(&"v1.27.0".parse().unwrap()).range(Component::Kubelet).to_string(), "v1.25 to v1.27");
/// assert_eq!(SkewPolicy::for_apiserver(&"v1.28.0".parse().unwrap()).range(Component::Kubelet).to_string(), "v1.25 to v1.28");
/// // HA API servers at 1.23 and 1.22 narrow the kubelet range (the policy's own example).
/// let ha = SkewPolicy::for_apiservers(&["v1.23.1".parse().unwrap(), "v1.22.5".parse().unwrap()]);
/// assert_eq!(ha.range(Component::Kubelet).to_string(), "v1.21 to v1.22");
/// assert_eq!(ha.range(Component::Kubectl).to_string(), "v1.22 to v1.23");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkewPolicy {
    /// The API server minor versions the policy was computed for, oldest first.
    pub apiservers: Vec<MinorVersion>,
    /// One range per [`Component`], in [`Component::ALL`]'s order.
    pub ranges: Vec<SupportedRange>,
}

fn shift(v: MinorVersion, by: i64) -> MinorVersion {
    MinorVersion::new(v.major, (i64::from(v.minor) + by).max(0) as u32)
}

impl SkewPolicy {
    /// How many minor versions a kubelet (or kube-proxy) may lag behind an
    /// API server at `apiserver`: 3 from 1.28, 2 before.
    ///
    /// ```
    /// use k8sops_upgrade::{rules::MinorVersion, skew::SkewPolicy};
    /// assert_eq!(SkewPolicy::kubelet_max_lag(MinorVersion::new(1, 27)), 2);
    /// assert_eq!(SkewPolicy::kubelet_max_lag(MinorVersion::new(1, 28)), 3);
    /// ```
    pub fn kubelet_max_lag(apiserver: MinorVersion) -> u32 {
        if apiserver >= MinorVersion::new(1, 28) {
            3
        } else {
            2
        }
    }

    /// How far (older or newer) kube-proxy may be from the kubelet on its
    /// node: 3 minor versions, 2 for kube-proxy < 1.25.
    ///
    /// ```
    /// use k8sops_upgrade::{rules::MinorVersion, skew::SkewPolicy};
    /// assert_eq!(SkewPolicy::kube_proxy_kubelet_max_skew(MinorVersion::new(1, 24)), 2);
    /// assert_eq!(SkewPolicy::kube_proxy_kubelet_max_skew(MinorVersion::new(1, 25)), 3);
    /// ```
    pub fn kube_proxy_kubelet_max_skew(kube_proxy: MinorVersion) -> u32 {
        if kube_proxy >= MinorVersion::new(1, 25) {
            3
        } else {
            2
        }
    }

    /// The policy for a single API server version (or several at the same minor).
    ///
    /// ```
    /// use k8sops_upgrade::skew::{Component, SkewPolicy};
    /// let p = SkewPolicy::for_apiserver(&"v1.30.2".parse().unwrap());
    /// assert_eq!(p.range(Component::KubeScheduler).to_string(), "v1.29 to v1.30");
    /// ```
    pub fn for_apiserver(apiserver: &KubeVersion) -> Self {
        Self::for_apiservers(std::slice::from_ref(apiserver))
    }

    /// The policy for HA API servers at `apiservers`: each rule must hold
    /// against every instance, so each range is the intersection of the
    /// ranges for each version. An empty slice is treated as no constraint
    /// at all and gives empty ranges.
    ///
    /// ```
    /// use k8sops_upgrade::skew::{Component, SkewPolicy};
    /// let p = SkewPolicy::for_apiservers(&["v1.29.0".parse().unwrap(), "v1.28.7".parse().unwrap()]);
    /// assert_eq!(p.range(Component::KubeControllerManager).to_string(), "v1.28");
    /// assert_eq!(p.range(Component::KubeApiserver).to_string(), "v1.28 to v1.29");
    /// ```
    pub fn for_apiservers(apiservers: &[KubeVersion]) -> Self {
        let mut minors: Vec<MinorVersion> = apiservers.iter().map(MinorVersion::from).collect();
        minors.sort();
        minors.dedup();
        let ranges = Component::ALL
            .into_iter()
            .map(|component| {
                let mut oldest = MinorVersion::new(0, 0);
                let mut newest = MinorVersion::new(u32::MAX, u32::MAX);
                if minors.is_empty() {
                    std::mem::swap(&mut oldest, &mut newest);
                }
                for &s in &minors {
                    let (lo, hi) = match component {
                        Component::KubeApiserver => (shift(s, -1), shift(s, 1)),
                        Component::KubeControllerManager
                        | Component::KubeScheduler
                        | Component::CloudControllerManager => (shift(s, -1), s),
                        Component::Kubelet | Component::KubeProxy => {
                            (shift(s, -i64::from(Self::kubelet_max_lag(s))), s)
                        }
                        Component::Kubectl => (shift(s, -1), shift(s, 1)),
                    };
                    oldest = oldest.max(lo);
                    newest = newest.min(hi);
                }
                SupportedRange { component, oldest, newest }
            })
            .collect();
        SkewPolicy { apiservers: minors, ranges }
    }

    /// The range of one component.
    ///
    /// ```
    /// use k8sops_upgrade::skew::{Component, SkewPolicy};
    /// let p = SkewPolicy::for_apiserver(&"v1.30.2".parse().unwrap());
    /// assert_eq!(p.range(Component::KubeProxy).oldest.to_string(), "v1.27");
    /// ```
    pub fn range(&self, component: Component) -> &SupportedRange {
        // `ranges` holds every component, in ALL's order.
        &self.ranges[Component::ALL.iter().position(|c| *c == component).unwrap_or(0)]
    }
}

impl fmt::Display for SkewPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servers: Vec<String> = self.apiservers.iter().map(ToString::to_string).collect();
        writeln!(f, "Supported versions with kube-apiserver {}:", servers.join(" and "))?;
        let mut t = Table::new(["component", "supported", "policy"]);
        for r in &self.ranges {
            t.row([r.component.name().to_string(), r.to_string(), r.component.rule().to_string()]);
        }
        write!(f, "{t}")
    }
}

/// One component instance outside the policy.
///
/// ```
/// use k8sops_upgrade::{skew::{check, Component}, versions::VersionReport};
/// let mut report = VersionReport::for_server("v1.30.0".parse().unwrap());
/// report.kubectl = Some("v1.32.1".parse().unwrap());
/// let v = &check(&report)[0];
/// assert_eq!((v.component, v.instance.as_str(), v.supported.as_str()), (Component::Kubectl, "kubectl", "v1.29 to v1.31"));
/// assert!(v.message.contains("2 minor versions newer"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkewViolation {
    /// The component.
    pub component: Component,
    /// Which one: a node name, a pod name, or `kubectl`.
    pub instance: String,
    /// Its version, as reported.
    pub version: String,
    /// What it is measured against: `kube-apiserver v1.30`, or the kubelet
    /// beside a kube-proxy.
    pub relative_to: String,
    /// The supported range (`v1.27 to v1.30`).
    pub supported: String,
    /// The whole finding in a sentence.
    pub message: String,
}

fn lag_words(diff: i64) -> String {
    match diff {
        0 => "the same minor version as".into(),
        d if d > 0 => format!("{d} minor version{} newer than", if d == 1 { "" } else { "s" }),
        d => format!("{} minor version{} older than", -d, if d == -1 { "" } else { "s" }),
    }
}

fn violation(
    component: Component,
    instance: &str,
    version: &KubeVersion,
    policy: &SkewPolicy,
) -> Option<SkewViolation> {
    let range = policy.range(component);
    let minor = MinorVersion::from(version);
    if range.contains(minor) {
        return None;
    }
    // The API server the component is furthest from names the problem.
    let worst = if minor > range.newest { policy.apiservers.first() } else { policy.apiservers.last() }?;
    let diff =
        i64::from(minor.minor) - i64::from(worst.minor) + (i64::from(minor.major) - i64::from(worst.major)) * 1000;
    let relative_to = format!("kube-apiserver {worst}");
    Some(SkewViolation {
        component,
        instance: instance.to_string(),
        version: version.as_str().to_string(),
        supported: range.to_string(),
        message: format!(
            "{component} {}{} is {} {relative_to}; supported: {range} ({})",
            version.as_str(),
            if instance == component.name() { String::new() } else { format!(" on {instance}") },
            lag_words(diff),
            component.rule()
        ),
        relative_to,
    })
}

/// What is checked against which API servers.
struct Subjects<'a> {
    report: &'a VersionReport,
    control_plane: bool,
    apiservers_among_themselves: bool,
}

fn violations(s: &Subjects<'_>, policy: &SkewPolicy) -> Vec<SkewViolation> {
    let mut out = Vec::new();
    if s.apiservers_among_themselves {
        let apiservers = s.report.apiserver_versions();
        if let (Some(oldest), Some(newest)) = (apiservers.first(), apiservers.last()) {
            let diff = newest.minor_skew(oldest);
            if diff > 1 {
                out.push(SkewViolation {
                    component: Component::KubeApiserver,
                    instance: "kube-apiserver instances".into(),
                    version: format!("{} and {}", oldest.as_str(), newest.as_str()),
                    relative_to: "each other".into(),
                    supported: "one minor version apart".into(),
                    message: format!(
                        "kube-apiserver instances run {} and {}, {diff} minor versions apart; {}",
                        oldest.as_str(),
                        newest.as_str(),
                        Component::KubeApiserver.rule()
                    ),
                });
            }
        }
    }
    if s.control_plane {
        for c in &s.report.control_plane.components {
            let (Some(component), Some(version)) = (Component::from_name(&c.component), c.kube_version()) else {
                continue;
            };
            if component == Component::KubeApiserver {
                continue;
            }
            out.extend(violation(component, &c.pod, &version, policy));
        }
    } else {
        // After a control-plane upgrade only the components it does not
        // upgrade keep their versions.
        for c in s.report.control_plane.of("cloud-controller-manager") {
            if let Some(version) = c.kube_version() {
                out.extend(violation(Component::CloudControllerManager, &c.pod, &version, policy));
            }
        }
    }
    for n in &s.report.nodes {
        let kubelet = n.kubelet_version();
        if let Some(k) = &kubelet {
            out.extend(violation(Component::Kubelet, &n.name, k, policy));
        }
        if let Some(p) = n.kube_proxy_version() {
            out.extend(violation(Component::KubeProxy, &n.name, &p, policy));
            if let Some(k) = &kubelet {
                let proxy = MinorVersion::from(&p);
                let max = SkewPolicy::kube_proxy_kubelet_max_skew(proxy);
                let diff = p.minor_skew(k);
                if diff.unsigned_abs() > u64::from(max) {
                    let low = shift(MinorVersion::from(k), -i64::from(max));
                    let high = shift(MinorVersion::from(k), i64::from(max));
                    out.push(SkewViolation {
                        component: Component::KubeProxy,
                        instance: n.name.clone(),
                        version: p.as_str().to_string(),
                        relative_to: format!("kubelet {} on the same node", k.as_str()),
                        supported: format!("{low} to {high}"),
                        message: format!(
                            "kube-proxy {} on {} is {} the kubelet beside it ({}); kube-proxy may be up to {max} minor versions older or newer than its kubelet",
                            p.as_str(),
                            n.name,
                            lag_words(diff),
                            k.as_str()
                        ),
                    });
                }
            }
        }
    }
    if let Some(k) = &s.report.kubectl {
        out.extend(violation(Component::Kubectl, "kubectl", k, policy));
    }
    out
}

/// The skew violations in the cluster now: every component against every
/// API server version seen ([`VersionReport::apiserver_versions`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().server_version("v1.33.1").start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?; // kubelets at v1.29
/// let report = k8sops_upgrade::versions::version_report(&server.cluster(), &Default::default()).await?;
/// let found = k8sops_upgrade::skew::check(&report);
/// assert!(found.iter().any(|v| v.message.contains("4 minor versions older than kube-apiserver v1.33")));
/// # Ok(()) }
/// ```
pub fn check(report: &VersionReport) -> Vec<SkewViolation> {
    let policy = SkewPolicy::for_apiservers(&report.apiserver_versions());
    violations(&Subjects { report, control_plane: true, apiservers_among_themselves: true }, &policy)
}

/// The violations there would be once the control plane (kube-apiserver,
/// kube-controller-manager, kube-scheduler: `kubeadm upgrade apply` and
/// managed upgrades move them together) is at `control_plane` and nothing
/// else has changed: kubelets, kube-proxy, kubectl and
/// cloud-controller-manager keep their versions.
///
/// ```
/// use k8sops_upgrade::{skew::check_after_control_plane_upgrade, versions::{NodeVersions, VersionReport}};
/// let mut report = VersionReport::for_server("v1.27.3".parse().unwrap());
/// report.kubectl = Some("v1.27.1".parse().unwrap());
/// let after = check_after_control_plane_upgrade(&report, &"v1.29.0".parse().unwrap());
/// assert_eq!(after[0].supported, "v1.28 to v1.30");
/// ```
pub fn check_after_control_plane_upgrade(report: &VersionReport, control_plane: &KubeVersion) -> Vec<SkewViolation> {
    let policy = SkewPolicy::for_apiserver(control_plane);
    violations(&Subjects { report, control_plane: false, apiservers_among_themselves: false }, &policy)
}

/// The skew now, and what an upgrade of the control plane to a target
/// would add. `Display` prints the policy and both lists.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().server_version("v1.30.4").start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?; // kubelets at v1.29
/// let versions = k8sops_upgrade::versions::version_report(&server.cluster(), &Default::default()).await?;
/// let skew = k8sops_upgrade::skew::skew_report(&versions, Some(&"v1.33".parse()?));
/// assert!(skew.now.is_empty());
/// assert_eq!(skew.after_upgrade.iter().filter(|v| v.component == k8sops_upgrade::skew::Component::Kubelet).count(), 7);
/// print!("{skew}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkewReport {
    /// The policy at the current API server versions.
    pub policy: SkewPolicy,
    /// Violations now.
    pub now: Vec<SkewViolation>,
    /// The control-plane version [`after_upgrade`](Self::after_upgrade) assumes.
    pub target: Option<KubeVersion>,
    /// Violations the control-plane upgrade to [`target`](Self::target) would
    /// add (those already in [`now`](Self::now) are not repeated).
    pub after_upgrade: Vec<SkewViolation>,
}

impl SkewReport {
    /// Whether there is nothing to report, now or after the upgrade.
    ///
    /// ```
    /// use k8sops_upgrade::{skew::skew_report, versions::VersionReport};
    /// assert!(skew_report(&VersionReport::for_server("v1.30.0".parse().unwrap()), None).is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.now.is_empty() && self.after_upgrade.is_empty()
    }
}

/// [`check`] and, with a target, [`check_after_control_plane_upgrade`].
///
/// ```
/// use k8sops_upgrade::{skew::skew_report, versions::VersionReport};
/// let mut r = VersionReport::for_server("v1.28.0".parse().unwrap());
/// r.kubectl = Some("v1.28.2".parse().unwrap());
/// let s = skew_report(&r, Some(&"v1.30.0".parse().unwrap()));
/// assert!(s.now.is_empty() && s.after_upgrade.len() == 1);
/// ```
pub fn skew_report(report: &VersionReport, target: Option<&KubeVersion>) -> SkewReport {
    let now = check(report);
    let after_upgrade = target
        .map(|t| {
            check_after_control_plane_upgrade(report, t)
                .into_iter()
                .filter(|a| !now.iter().any(|n| n.component == a.component && n.instance == a.instance))
                .collect()
        })
        .unwrap_or_default();
    SkewReport {
        policy: SkewPolicy::for_apiservers(&report.apiserver_versions()),
        now,
        target: target.cloned(),
        after_upgrade,
    }
}

/// The violations as a table: COMPONENT, INSTANCE, VERSION, SUPPORTED, RELATIVE TO.
///
/// ```
/// use k8sops_upgrade::{skew::{check, violations_table}, versions::VersionReport};
/// let mut r = VersionReport::for_server("v1.30.0".parse().unwrap());
/// r.kubectl = Some("v1.27.0".parse().unwrap());
/// assert_eq!(violations_table(&check(&r)).rows()[0][0], "kubectl");
/// ```
pub fn violations_table(violations: &[SkewViolation]) -> Table {
    let mut t = Table::new(["component", "instance", "version", "supported", "relative to"]);
    for v in violations {
        t.row([
            v.component.name().to_string(),
            v.instance.clone(),
            v.version.clone(),
            v.supported.clone(),
            v.relative_to.clone(),
        ]);
    }
    t
}

impl fmt::Display for SkewReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.policy)?;
        writeln!(f)?;
        if self.now.is_empty() {
            writeln!(f, "Version skew now: within the policy.")?;
        } else {
            writeln!(f, "Version skew now: {} violation(s):", self.now.len())?;
            write!(f, "{}", violations_table(&self.now))?;
        }
        if let Some(t) = &self.target {
            if self.after_upgrade.is_empty() {
                writeln!(f, "With the control plane at {t}: no new violations.")?;
            } else {
                writeln!(
                    f,
                    "With the control plane at {t} and everything else as now: {} new violation(s):",
                    self.after_upgrade.len()
                )?;
                write!(f, "{}", violations_table(&self.after_upgrade))?;
            }
        }
        Ok(())
    }
}

/// The minor versions an API server passes through from `from` to `to`:
/// it must not skip one, so v1.26 → v1.29 is `[v1.27, v1.28, v1.29]`. The
/// same minor gives no hops (a patch upgrade). `to` older than `from`,
/// another major version, or a minor upgrade to more than one minor past
/// [`NEWEST_RELEASE`](crate::rules::NEWEST_RELEASE) (whose rules are
/// unknown; kubeadm refuses such targets too; a patch upgrade is always
/// planned) is
/// [`k8sops_core::Error::InvalidInput`].
///
/// ```
/// use k8sops_upgrade::skew::upgrade_hops;
/// let hops = upgrade_hops(&"v1.26.9".parse().unwrap(), &"v1.29".parse().unwrap())?;
/// assert_eq!(hops.iter().map(|h| h.to_string()).collect::<Vec<_>>(), ["v1.27", "v1.28", "v1.29"]);
/// assert!(upgrade_hops(&"v1.30.1".parse().unwrap(), &"v1.30.4".parse().unwrap())?.is_empty());
/// assert!(upgrade_hops(&"v1.30.1".parse().unwrap(), &"v1.29".parse().unwrap()).is_err());
/// assert!(upgrade_hops(&"v1.30.1".parse().unwrap(), &"v1.100000000".parse().unwrap()).is_err());
/// // A cluster newer than the library still gets its patch upgrades planned.
/// assert!(upgrade_hops(&"v1.60.1".parse().unwrap(), &"v1.60.3".parse().unwrap())?.is_empty());
/// # Ok::<(), k8sops_upgrade::Error>(())
/// ```
pub fn upgrade_hops(from: &KubeVersion, to: &KubeVersion) -> Result<Vec<MinorVersion>> {
    if from.major != to.major {
        return Err(k8sops_core::Error::InvalidInput {
            message: format!(
                "cannot plan an upgrade from {} to {}: a change of major version is not a Kubernetes upgrade",
                from.as_str(),
                to.as_str()
            ),
            source: None,
        }
        .into());
    }
    if to.minor < from.minor || (to.minor == from.minor && to < from) {
        return Err(k8sops_core::Error::InvalidInput {
            message: format!(
                "target {} is older than the current version {}: Kubernetes control planes cannot be downgraded",
                to.as_str(),
                from.as_str()
            ),
            source: None,
        }
        .into());
    }
    let newest = crate::rules::NEWEST_RELEASE;
    if to.minor > from.minor && to.minor > newest.minor.saturating_add(1) {
        // kubeadm likewise refuses a target more than one minor past itself.
        return Err(k8sops_core::Error::InvalidInput {
            message: format!(
                "target {} is more than one minor version past the newest release this library knows ({newest}): \
                 its removed APIs and skew rules are unknown",
                to.as_str()
            ),
            source: None,
        }
        .into());
    }
    // `m < to.minor`, so `m + 1` cannot overflow.
    Ok((from.minor..to.minor).map(|m| MinorVersion::new(from.major, m + 1)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::{KubeProxySource, NodeVersions};

    fn v(s: &str) -> KubeVersion {
        s.parse().unwrap()
    }

    fn node(name: &str, kubelet: &str, proxy: &str) -> NodeVersions {
        NodeVersions {
            name: name.into(),
            status: "Ready".into(),
            ready: true,
            roles: "<none>".into(),
            group: None,
            group_label: None,
            kubelet: kubelet.into(),
            kube_proxy: proxy.into(),
            kube_proxy_source: KubeProxySource::NodeInfo,
            container_runtime: String::new(),
            os_image: String::new(),
            kernel_version: String::new(),
            operating_system: String::new(),
            architecture: String::new(),
        }
    }

    #[test]
    fn the_policy_tables_match_the_published_examples() {
        // Rows of the policy for kube-apiserver 1.25, 1.24, 1.23 (two-minor kubelet window).
        for (s, kubelet, cp, kubectl) in [
            ("v1.25.0", "v1.23 to v1.25", "v1.24 to v1.25", "v1.24 to v1.26"),
            ("v1.24.3", "v1.22 to v1.24", "v1.23 to v1.24", "v1.23 to v1.25"),
            ("v1.23.0", "v1.21 to v1.23", "v1.22 to v1.23", "v1.22 to v1.24"),
            ("v1.31.2", "v1.28 to v1.31", "v1.30 to v1.31", "v1.30 to v1.32"),
        ] {
            let p = SkewPolicy::for_apiserver(&v(s));
            assert_eq!(p.range(Component::Kubelet).to_string(), kubelet, "{s}");
            assert_eq!(p.range(Component::KubeProxy).to_string(), kubelet, "{s}");
            assert_eq!(p.range(Component::KubeScheduler).to_string(), cp, "{s}");
            assert_eq!(p.range(Component::Kubectl).to_string(), kubectl, "{s}");
        }
    }

    #[test]
    fn the_server_keyed_kubelet_window_equals_the_kubelet_keyed_wording() {
        // "kubelet may be up to three minor versions older (kubelet < 1.25: two)"
        for server in 20..40u32 {
            for kubelet in 15..=server {
                let lag = server - kubelet;
                let official = lag <= if kubelet >= 25 { 3 } else { 2 };
                let ours = SkewPolicy::for_apiserver(&KubeVersion::new(1, server, 0))
                    .range(Component::Kubelet)
                    .contains(MinorVersion::new(1, kubelet));
                assert_eq!(ours, official, "server 1.{server}, kubelet 1.{kubelet}");
            }
        }
    }

    #[test]
    fn newer_kubelets_and_kube_proxies_far_from_their_kubelet_are_violations() {
        let mut r = VersionReport::for_server(v("v1.29.1"));
        r.nodes = vec![
            node("ahead", "v1.30.0", "v1.30.0"),
            node("ok", "v1.26.0", "v1.26.0"),
            node("old", "v1.25.9", ""),
            node("proxy-apart", "v1.29.0", "v1.26.0"),
        ];
        let found = check(&r);
        let ids: Vec<(Component, &str, &str)> =
            found.iter().map(|v| (v.component, v.instance.as_str(), v.relative_to.as_str())).collect();
        assert_eq!(
            ids,
            [
                (Component::Kubelet, "ahead", "kube-apiserver v1.29"),
                (Component::KubeProxy, "ahead", "kube-apiserver v1.29"),
                (Component::Kubelet, "old", "kube-apiserver v1.29"),
            ]
        );
        // Three apart is allowed for kube-proxy >= 1.25; two for older ones.
        r.nodes = vec![node("n", "v1.24.0", "v1.22.0")];
        r.server = crate::versions::ServerInfo::from_version(v("v1.24.0"));
        assert!(check(&r).is_empty());
        r.nodes = vec![node("n", "v1.24.0", "v1.21.0")];
        let found = check(&r);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[1].relative_to.starts_with("kubelet v1.24.0"), "{found:?}");
    }

    #[test]
    fn ha_apiservers_too_far_apart_are_a_violation() {
        let mut r = VersionReport::for_server(v("v1.29.0"));
        for (pod, tag) in [("kube-apiserver-a", "v1.29.0"), ("kube-apiserver-b", "v1.27.4")] {
            r.control_plane.components.push(crate::versions::ComponentVersion {
                component: "kube-apiserver".into(),
                pod: pod.into(),
                node: None,
                image: format!("registry.k8s.io/kube-apiserver:{tag}"),
                version: tag.into(),
            });
        }
        r.control_plane.visible = true;
        let found = check(&r);
        assert_eq!(found[0].component, Component::KubeApiserver);
        assert!(found[0].message.contains("2 minor versions apart"), "{}", found[0].message);
    }

    #[test]
    fn hops_go_one_minor_at_a_time() {
        let hops = upgrade_hops(&v("v1.26.3"), &v("v1.26.9")).unwrap();
        assert!(hops.is_empty());
        let hops = upgrade_hops(&v("v1.29.3-eks-1"), &v("1.30")).unwrap();
        assert_eq!(hops, [MinorVersion::new(1, 30)]);
        assert!(upgrade_hops(&v("v1.30.3"), &v("v1.30.2")).is_err());
        assert!(upgrade_hops(&v("v1.30.3"), &v("v2.0.0")).is_err());
    }
}
