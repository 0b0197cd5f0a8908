//! The versioned table of deprecated and removed Kubernetes APIs: for each
//! group/version/kind, the release that deprecated it, the release that
//! stopped serving it, and the apiVersion to use instead.
//!
//! [`RuleSet::builtin`] covers every API version the
//! [deprecation guide](https://kubernetes.io/docs/reference/using-api/deprecation-guide/)
//! lists as removed (1.16, 1.22, 1.25, 1.26, 1.27, 1.29, 1.32), the review
//! APIs and workload versions removed with them, and the beta versions
//! removed since (1.33: `authentication.k8s.io/v1beta1` SelfSubjectReview;
//! 1.34: `admissionregistration.k8s.io/v1beta1` ValidatingAdmissionPolicy and
//! its binding; 1.37: `networking.k8s.io/v1beta1` IPAddress and ServiceCIDR,
//! `storage.k8s.io/v1beta1` VolumeAttributesClass), up to
//! [`NEWEST_RELEASE`]. Deprecation releases are the ones the API server
//! itself names in its `Warning: ... is deprecated in v1.X+` headers.
//! Alpha versions, which go without a deprecation period, are not listed.
//!
//! Embedders add their own rules (custom resources, other vendors' APIs)
//! with [`RuleSet::with`]; rules deserialize from YAML or JSON with the
//! field names of [`ApiRule`].
//!
//! ```
//! use k8sops_upgrade::rules::{ApiRule, ApiStatus, MinorVersion, RuleSet};
//! let rules = RuleSet::builtin().with(
//!     ApiRule::new("cert-manager.io/v1alpha2", "Certificate", "certificates")
//!         .deprecated_in(MinorVersion::new(1, 4))
//!         .removed_in(MinorVersion::new(1, 6))
//!         .replacement("cert-manager.io/v1"),
//! );
//! let cronjob = rules.get("batch/v1beta1", "CronJob").unwrap();
//! assert_eq!(cronjob.status_at(MinorVersion::new(1, 24)), Some(ApiStatus::Deprecated));
//! assert_eq!(cronjob.status_at(MinorVersion::new(1, 25)), Some(ApiStatus::Removed));
//! assert_eq!(cronjob.status_at(MinorVersion::new(1, 20)), None);
//! ```

use std::{collections::HashMap, fmt, str::FromStr};

use k8sops_core::KubeVersion;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Kubernetes minor release, `v1.25`: the granularity at which APIs are
/// deprecated and removed. Patch levels, pre-releases and distribution
/// suffixes of a server's version do not matter here: a `v1.25.0-rc.1`
/// server no longer serves what 1.25 removed.
///
/// ```
/// use k8sops_upgrade::rules::MinorVersion;
/// let v: MinorVersion = "v1.29.3-eks-4f4795d".parse()?;
/// assert_eq!(v, MinorVersion::new(1, 29));
/// assert_eq!(v.to_string(), "v1.29");
/// assert!(MinorVersion::new(1, 9) < MinorVersion::new(1, 16));
/// # Ok::<(), k8sops_core::version::ParseVersionError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MinorVersion {
    /// Major version (1).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl MinorVersion {
    /// `major.minor`.
    ///
    /// ```
    /// assert_eq!(k8sops_upgrade::rules::MinorVersion::new(1, 25).to_string(), "v1.25");
    /// ```
    pub const fn new(major: u32, minor: u32) -> Self {
        MinorVersion { major, minor }
    }
}

impl fmt::Display for MinorVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}", self.major, self.minor)
    }
}

impl FromStr for MinorVersion {
    type Err = k8sops_core::version::ParseVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<KubeVersion>().map(|v| MinorVersion::from(&v))
    }
}

impl From<&KubeVersion> for MinorVersion {
    fn from(v: &KubeVersion) -> Self {
        MinorVersion::new(v.major, v.minor)
    }
}

impl Serialize for MinorVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MinorVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// The newest Kubernetes release the built-in table knows (the default
/// target when only manifest files are checked).
///
/// ```
/// assert!(k8sops_upgrade::rules::NEWEST_RELEASE >= k8sops_upgrade::rules::MinorVersion::new(1, 32));
/// ```
pub const NEWEST_RELEASE: MinorVersion = MinorVersion::new(1, 37);

/// What an API version is at a target release.
///
/// ```
/// use k8sops_upgrade::rules::ApiStatus;
/// assert!(ApiStatus::Removed < ApiStatus::Deprecated); // removals sort first
/// assert_eq!(serde_json::to_string(&ApiStatus::Removed).unwrap(), "\"removed\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiStatus {
    /// No longer served: objects sent in this version are refused.
    Removed,
    /// Still served, but deprecated: a later release removes it.
    Deprecated,
}

impl fmt::Display for ApiStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApiStatus::Removed => "removed",
            ApiStatus::Deprecated => "deprecated",
        })
    }
}

fn yes() -> bool {
    true
}

/// One deprecated API: a group/version/kind, its resource, when it was
/// deprecated and removed, and what replaces it.
///
/// ```
/// use k8sops_upgrade::rules::{ApiRule, MinorVersion};
/// let rule: ApiRule = serde_json::from_value(serde_json::json!({
///     "apiVersion": "example.com/v1beta1", "kind": "Widget", "resource": "widgets",
///     "deprecatedIn": "v1.30", "removedIn": "v1.33", "replacement": "example.com/v1"}))?;
/// assert_eq!((rule.group(), rule.version()), ("example.com", "v1beta1"));
/// assert_eq!(rule.removed_in, Some(MinorVersion::new(1, 33)));
/// assert!(rule.namespaced);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiRule {
    /// `group/version` (`v1` style for the core group).
    pub api_version: String,
    /// The kind.
    pub kind: String,
    /// The resource (plural), as the API server's
    /// `apiserver_requested_deprecated_apis` metric names it.
    pub resource: String,
    /// Whether objects of this kind live in a namespace.
    #[serde(default = "yes")]
    pub namespaced: bool,
    /// The release that deprecated it, if known.
    #[serde(default)]
    pub deprecated_in: Option<MinorVersion>,
    /// The release that stopped serving it, if one does yet.
    #[serde(default)]
    pub removed_in: Option<MinorVersion>,
    /// The apiVersion to migrate to (same kind), if there is one.
    #[serde(default)]
    pub replacement: Option<String>,
}

impl ApiRule {
    /// A rule for a namespaced kind, neither deprecated nor removed yet:
    /// set those with the builder methods.
    ///
    /// ```
    /// use k8sops_upgrade::rules::{ApiRule, MinorVersion};
    /// let psp = ApiRule::new("policy/v1beta1", "PodSecurityPolicy", "podsecuritypolicies")
    ///     .cluster_scoped()
    ///     .deprecated_in(MinorVersion::new(1, 21))
    ///     .removed_in(MinorVersion::new(1, 25));
    /// assert!(!psp.namespaced && psp.replacement.is_none());
    /// ```
    pub fn new(api_version: &str, kind: &str, resource: &str) -> Self {
        ApiRule {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            resource: resource.to_string(),
            namespaced: true,
            deprecated_in: None,
            removed_in: None,
            replacement: None,
        }
    }

    /// Marks the kind as cluster-scoped.
    ///
    /// ```
    /// let r = k8sops_upgrade::rules::ApiRule::new("scheduling.k8s.io/v1beta1", "PriorityClass", "priorityclasses").cluster_scoped();
    /// assert!(!r.namespaced);
    /// ```
    #[must_use]
    pub fn cluster_scoped(mut self) -> Self {
        self.namespaced = false;
        self
    }

    /// Sets [`deprecated_in`](Self::deprecated_in).
    ///
    /// ```
    /// use k8sops_upgrade::rules::{ApiRule, MinorVersion};
    /// let r = ApiRule::new("batch/v1beta1", "CronJob", "cronjobs").deprecated_in(MinorVersion::new(1, 21));
    /// assert_eq!(r.deprecated_in, Some(MinorVersion::new(1, 21)));
    /// ```
    #[must_use]
    pub fn deprecated_in(mut self, release: MinorVersion) -> Self {
        self.deprecated_in = Some(release);
        self
    }

    /// Sets [`removed_in`](Self::removed_in).
    ///
    /// ```
    /// use k8sops_upgrade::rules::{ApiRule, MinorVersion};
    /// let r = ApiRule::new("batch/v1beta1", "CronJob", "cronjobs").removed_in(MinorVersion::new(1, 25));
    /// assert_eq!(r.removed_in, Some(MinorVersion::new(1, 25)));
    /// ```
    #[must_use]
    pub fn removed_in(mut self, release: MinorVersion) -> Self {
        self.removed_in = Some(release);
        self
    }

    /// Sets [`replacement`](Self::replacement).
    ///
    /// ```
    /// let r = k8sops_upgrade::rules::ApiRule::new("batch/v1beta1", "CronJob", "cronjobs").replacement("batch/v1");
    /// assert_eq!(r.replacement.as_deref(), Some("batch/v1"));
    /// ```
    #[must_use]
    pub fn replacement(mut self, api_version: &str) -> Self {
        self.replacement = Some(api_version.to_string());
        self
    }

    /// The API group (`""` for the core group).
    ///
    /// ```
    /// let r = k8sops_upgrade::rules::ApiRule::new("extensions/v1beta1", "Ingress", "ingresses");
    /// assert_eq!(r.group(), "extensions");
    /// ```
    pub fn group(&self) -> &str {
        split_api_version(&self.api_version).0
    }

    /// The version within the group.
    ///
    /// ```
    /// let r = k8sops_upgrade::rules::ApiRule::new("extensions/v1beta1", "Ingress", "ingresses");
    /// assert_eq!(r.version(), "v1beta1");
    /// ```
    pub fn version(&self) -> &str {
        split_api_version(&self.api_version).1
    }

    /// Whether the API is removed or deprecated at `target`: removed when
    /// `removed_in <= target`, otherwise deprecated when
    /// `deprecated_in <= target`, otherwise `None` (fine to use).
    ///
    /// ```
    /// use k8sops_upgrade::rules::{ApiStatus, MinorVersion, RuleSet};
    /// let rules = RuleSet::builtin();
    /// let hpa = rules.get("autoscaling/v2beta2", "HorizontalPodAutoscaler").unwrap();
    /// assert_eq!(hpa.status_at(MinorVersion::new(1, 23)), Some(ApiStatus::Deprecated));
    /// assert_eq!(hpa.status_at(MinorVersion::new(1, 26)), Some(ApiStatus::Removed));
    /// ```
    pub fn status_at(&self, target: MinorVersion) -> Option<ApiStatus> {
        if self.removed_in.is_some_and(|r| r <= target) {
            Some(ApiStatus::Removed)
        } else if self.deprecated_in.is_some_and(|d| d <= target) {
            Some(ApiStatus::Deprecated)
        } else {
            None
        }
    }
}

/// `("apps", "v1")` from `apps/v1`, `("", "v1")` from `v1`.
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

/// The rule table a scan uses: the built-in one, possibly extended.
/// Lookups are by `(apiVersion, kind)` and, for the API server's metric, by
/// `(group, version, resource)`.
///
/// ```
/// use k8sops_upgrade::rules::{ApiStatus, MinorVersion, RuleSet};
/// let rules = RuleSet::builtin();
/// let (rule, status) = rules.status("extensions/v1beta1", "Ingress", MinorVersion::new(1, 22)).unwrap();
/// assert_eq!(status, ApiStatus::Removed);
/// assert_eq!(rule.replacement.as_deref(), Some("networking.k8s.io/v1"));
/// assert!(rules.status("apps/v1", "Deployment", MinorVersion::new(1, 30)).is_none());
/// ```
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<ApiRule>,
    by_kind: HashMap<(String, String), usize>,
    by_resource: HashMap<(String, String, String), usize>,
}

impl Default for RuleSet {
    fn default() -> Self {
        RuleSet::builtin()
    }
}

type Row = (&'static str, &'static str, &'static str, bool, u32, u32, &'static str);

const NS: bool = true;
const CLUSTER: bool = false;

// (apiVersion, kind, resource, namespaced, deprecated in 1.x, removed in 1.x, replacement or "")
#[rustfmt::skip]
const BUILTIN: &[Row] = &[
    // 1.16: extensions/v1beta1, apps/v1beta1 and apps/v1beta2 workloads.
    ("extensions/v1beta1", "DaemonSet", "daemonsets", NS, 9, 16, "apps/v1"),
    ("extensions/v1beta1", "Deployment", "deployments", NS, 9, 16, "apps/v1"),
    ("extensions/v1beta1", "ReplicaSet", "replicasets", NS, 9, 16, "apps/v1"),
    ("extensions/v1beta1", "NetworkPolicy", "networkpolicies", NS, 9, 16, "networking.k8s.io/v1"),
    ("extensions/v1beta1", "PodSecurityPolicy", "podsecuritypolicies", CLUSTER, 10, 16, "policy/v1beta1"),
    ("apps/v1beta1", "Deployment", "deployments", NS, 9, 16, "apps/v1"),
    ("apps/v1beta1", "StatefulSet", "statefulsets", NS, 9, 16, "apps/v1"),
    ("apps/v1beta1", "ReplicaSet", "replicasets", NS, 9, 16, "apps/v1"),
    ("apps/v1beta1", "ControllerRevision", "controllerrevisions", NS, 9, 16, "apps/v1"),
    ("apps/v1beta2", "DaemonSet", "daemonsets", NS, 9, 16, "apps/v1"),
    ("apps/v1beta2", "Deployment", "deployments", NS, 9, 16, "apps/v1"),
    ("apps/v1beta2", "StatefulSet", "statefulsets", NS, 9, 16, "apps/v1"),
    ("apps/v1beta2", "ReplicaSet", "replicasets", NS, 9, 16, "apps/v1"),
    ("apps/v1beta2", "ControllerRevision", "controllerrevisions", NS, 9, 16, "apps/v1"),
    // 1.22
    ("admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", CLUSTER, 16, 22, "admissionregistration.k8s.io/v1"),
    ("admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", CLUSTER, 16, 22, "admissionregistration.k8s.io/v1"),
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", "customresourcedefinitions", CLUSTER, 16, 22, "apiextensions.k8s.io/v1"),
    ("apiregistration.k8s.io/v1beta1", "APIService", "apiservices", CLUSTER, 19, 22, "apiregistration.k8s.io/v1"),
    ("authentication.k8s.io/v1beta1", "TokenReview", "tokenreviews", CLUSTER, 19, 22, "authentication.k8s.io/v1"),
    ("authorization.k8s.io/v1beta1", "LocalSubjectAccessReview", "localsubjectaccessreviews", NS, 19, 22, "authorization.k8s.io/v1"),
    ("authorization.k8s.io/v1beta1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", CLUSTER, 19, 22, "authorization.k8s.io/v1"),
    ("authorization.k8s.io/v1beta1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", CLUSTER, 19, 22, "authorization.k8s.io/v1"),
    ("authorization.k8s.io/v1beta1", "SubjectAccessReview", "subjectaccessreviews", CLUSTER, 19, 22, "authorization.k8s.io/v1"),
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest", "certificatesigningrequests", CLUSTER, 19, 22, "certificates.k8s.io/v1"),
    ("coordination.k8s.io/v1beta1", "Lease", "leases", NS, 19, 22, "coordination.k8s.io/v1"),
    ("extensions/v1beta1", "Ingress", "ingresses", NS, 14, 22, "networking.k8s.io/v1"),
    ("networking.k8s.io/v1beta1", "Ingress", "ingresses", NS, 19, 22, "networking.k8s.io/v1"),
    ("networking.k8s.io/v1beta1", "IngressClass", "ingressclasses", CLUSTER, 19, 22, "networking.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRole", "clusterroles", CLUSTER, 17, 22, "rbac.authorization.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding", "clusterrolebindings", CLUSTER, 17, 22, "rbac.authorization.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "Role", "roles", NS, 17, 22, "rbac.authorization.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "RoleBinding", "rolebindings", NS, 17, 22, "rbac.authorization.k8s.io/v1"),
    ("scheduling.k8s.io/v1beta1", "PriorityClass", "priorityclasses", CLUSTER, 14, 22, "scheduling.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", "CSIDriver", "csidrivers", CLUSTER, 19, 22, "storage.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", "CSINode", "csinodes", CLUSTER, 17, 22, "storage.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", "StorageClass", "storageclasses", CLUSTER, 19, 22, "storage.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", "VolumeAttachment", "volumeattachments", CLUSTER, 19, 22, "storage.k8s.io/v1"),
    // 1.25
    ("batch/v1beta1", "CronJob", "cronjobs", NS, 21, 25, "batch/v1"),
    ("discovery.k8s.io/v1beta1", "EndpointSlice", "endpointslices", NS, 21, 25, "discovery.k8s.io/v1"),
    ("events.k8s.io/v1beta1", "Event", "events", NS, 22, 25, "events.k8s.io/v1"),
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", NS, 22, 25, "autoscaling/v2"),
    ("policy/v1beta1", "PodDisruptionBudget", "poddisruptionbudgets", NS, 21, 25, "policy/v1"),
    ("policy/v1beta1", "PodSecurityPolicy", "podsecuritypolicies", CLUSTER, 21, 25, ""),
    ("node.k8s.io/v1beta1", "RuntimeClass", "runtimeclasses", CLUSTER, 22, 25, "node.k8s.io/v1"),
    // 1.26
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", "flowschemas", CLUSTER, 23, 26, "flowcontrol.apiserver.k8s.io/v1beta3"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration", "prioritylevelconfigurations", CLUSTER, 23, 26, "flowcontrol.apiserver.k8s.io/v1beta3"),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", NS, 23, 26, "autoscaling/v2"),
    // 1.27
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity", "csistoragecapacities", NS, 24, 27, "storage.k8s.io/v1"),
    // 1.29
    ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", "flowschemas", CLUSTER, 26, 29, "flowcontrol.apiserver.k8s.io/v1beta3"),
    ("flowcontrol.apiserver.k8s.io/v1beta2", "PriorityLevelConfiguration", "prioritylevelconfigurations", CLUSTER, 26, 29, "flowcontrol.apiserver.k8s.io/v1beta3"),
    // 1.32
    ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "flowschemas", CLUSTER, 29, 32, "flowcontrol.apiserver.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta3", "PriorityLevelConfiguration", "prioritylevelconfigurations", CLUSTER, 29, 32, "flowcontrol.apiserver.k8s.io/v1"),
    // 1.33
    ("authentication.k8s.io/v1beta1", "SelfSubjectReview", "selfsubjectreviews", CLUSTER, 30, 33, "authentication.k8s.io/v1"),
    // 1.34
    ("admissionregistration.k8s.io/v1beta1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", CLUSTER, 31, 34, "admissionregistration.k8s.io/v1"),
    ("admissionregistration.k8s.io/v1beta1", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings", CLUSTER, 31, 34, "admissionregistration.k8s.io/v1"),
    // 1.37
    ("networking.k8s.io/v1beta1", "IPAddress", "ipaddresses", CLUSTER, 34, 37, "networking.k8s.io/v1"),
    ("networking.k8s.io/v1beta1", "ServiceCIDR", "servicecidrs", CLUSTER, 34, 37, "networking.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", "VolumeAttributesClass", "volumeattributesclasses", CLUSTER, 34, 37, "storage.k8s.io/v1"),
];

impl RuleSet {
    /// The built-in table (see the [module docs](self)).
    ///
    /// ```
    /// use k8sops_upgrade::rules::{MinorVersion, RuleSet};
    /// let removed_in_125: Vec<String> = RuleSet::builtin()
    ///     .removed_in(MinorVersion::new(1, 25))
    ///     .map(|r| format!("{} {}", r.api_version, r.kind))
    ///     .collect();
    /// assert!(removed_in_125.contains(&"batch/v1beta1 CronJob".to_string()));
    /// ```
    pub fn builtin() -> Self {
        let mut set = RuleSet::empty();
        for &(api_version, kind, resource, namespaced, deprecated, removed, replacement) in BUILTIN {
            let mut rule = ApiRule::new(api_version, kind, resource)
                .deprecated_in(MinorVersion::new(1, deprecated))
                .removed_in(MinorVersion::new(1, removed));
            rule.namespaced = namespaced;
            if !replacement.is_empty() {
                rule = rule.replacement(replacement);
            }
            set.insert(rule);
        }
        set
    }

    /// A table with no rules.
    ///
    /// ```
    /// assert!(k8sops_upgrade::rules::RuleSet::empty().rules().is_empty());
    /// ```
    pub fn empty() -> Self {
        RuleSet { rules: Vec::new(), by_kind: HashMap::new(), by_resource: HashMap::new() }
    }

    /// Adds a rule, replacing any rule for the same apiVersion and kind.
    ///
    /// ```
    /// use k8sops_upgrade::rules::{ApiRule, MinorVersion, RuleSet};
    /// // This cluster's distribution stops serving CronJob batch/v1beta1 one release early.
    /// let rules = RuleSet::builtin().with(
    ///     ApiRule::new("batch/v1beta1", "CronJob", "cronjobs").removed_in(MinorVersion::new(1, 24)).replacement("batch/v1"),
    /// );
    /// assert_eq!(rules.get("batch/v1beta1", "CronJob").unwrap().removed_in, Some(MinorVersion::new(1, 24)));
    /// ```
    #[must_use]
    pub fn with(mut self, rule: ApiRule) -> Self {
        self.insert(rule);
        self
    }

    /// Adds a rule in place; returns the one it replaced.
    ///
    /// ```
    /// use k8sops_upgrade::rules::{ApiRule, RuleSet};
    /// let mut rules = RuleSet::empty();
    /// assert!(rules.insert(ApiRule::new("example.com/v1alpha1", "Widget", "widgets")).is_none());
    /// assert!(rules.insert(ApiRule::new("example.com/v1alpha1", "Widget", "widgets")).is_some());
    /// ```
    pub fn insert(&mut self, rule: ApiRule) -> Option<ApiRule> {
        let key = (rule.api_version.clone(), rule.kind.clone());
        let resource_key = (rule.group().to_string(), rule.version().to_string(), rule.resource.clone());
        match self.by_kind.get(&key) {
            Some(&i) => {
                let old = std::mem::replace(&mut self.rules[i], rule);
                let old_resource = (old.group().to_string(), old.version().to_string(), old.resource.clone());
                if self.by_resource.get(&old_resource) == Some(&i) {
                    self.by_resource.remove(&old_resource);
                }
                self.by_resource.insert(resource_key, i);
                Some(old)
            }
            None => {
                let i = self.rules.len();
                self.rules.push(rule);
                self.by_kind.insert(key, i);
                self.by_resource.insert(resource_key, i);
                None
            }
        }
    }

    /// Every rule, in the order they were added.
    ///
    /// ```
    /// assert!(k8sops_upgrade::rules::RuleSet::builtin().rules().len() > 50);
    /// ```
    pub fn rules(&self) -> &[ApiRule] {
        &self.rules
    }

    /// The rule for an apiVersion and kind.
    ///
    /// ```
    /// let rules = k8sops_upgrade::rules::RuleSet::builtin();
    /// assert!(rules.get("policy/v1beta1", "PodDisruptionBudget").is_some());
    /// assert!(rules.get("policy/v1", "PodDisruptionBudget").is_none());
    /// ```
    pub fn get(&self, api_version: &str, kind: &str) -> Option<&ApiRule> {
        // Borrowed lookups without allocating would need a custom key type;
        // the table is small and this is not on the per-object path.
        self.by_kind.get(&(api_version.to_string(), kind.to_string())).map(|&i| &self.rules[i])
    }

    /// The rule for a group, version and resource (plural), as the API
    /// server's `apiserver_requested_deprecated_apis` metric names them.
    ///
    /// ```
    /// let rules = k8sops_upgrade::rules::RuleSet::builtin();
    /// assert_eq!(rules.by_resource("batch", "v1beta1", "cronjobs").unwrap().kind, "CronJob");
    /// ```
    pub fn by_resource(&self, group: &str, version: &str, resource: &str) -> Option<&ApiRule> {
        self.by_resource.get(&(group.to_string(), version.to_string(), resource.to_string())).map(|&i| &self.rules[i])
    }

    /// The rule and its status at `target`, when the apiVersion and kind
    /// are deprecated or removed there.
    ///
    /// ```
    /// use k8sops_upgrade::rules::{ApiStatus, MinorVersion, RuleSet};
    /// let rules = RuleSet::builtin();
    /// assert_eq!(rules.status("batch/v1beta1", "CronJob", MinorVersion::new(1, 24)).map(|(_, s)| s), Some(ApiStatus::Deprecated));
    /// ```
    pub fn status(&self, api_version: &str, kind: &str, target: MinorVersion) -> Option<(&ApiRule, ApiStatus)> {
        let rule = self.get(api_version, kind)?;
        rule.status_at(target).map(|s| (rule, s))
    }

    /// The apiVersion to migrate to for `target`: the rule's replacement,
    /// followed through replacements that `target` no longer serves
    /// (`flowcontrol.apiserver.k8s.io/v1beta1` → v1beta3, the guide's
    /// replacement at 1.26, → v1 for 1.32). `None` when nothing replaces it
    /// (PodSecurityPolicy).
    ///
    /// ```
    /// use k8sops_upgrade::rules::{MinorVersion, RuleSet};
    /// let rules = RuleSet::builtin();
    /// let fs = rules.get("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema").unwrap();
    /// assert_eq!(rules.replacement_at(fs, MinorVersion::new(1, 26)).as_deref(), Some("flowcontrol.apiserver.k8s.io/v1beta3"));
    /// assert_eq!(rules.replacement_at(fs, MinorVersion::new(1, 32)).as_deref(), Some("flowcontrol.apiserver.k8s.io/v1"));
    /// let psp = rules.get("extensions/v1beta1", "PodSecurityPolicy").unwrap();
    /// assert_eq!(rules.replacement_at(psp, MinorVersion::new(1, 24)).as_deref(), Some("policy/v1beta1"));
    /// assert_eq!(rules.replacement_at(psp, MinorVersion::new(1, 25)), None);
    /// ```
    pub fn replacement_at(&self, rule: &ApiRule, target: MinorVersion) -> Option<String> {
        let mut current = rule.replacement.clone()?;
        // The chain is followed at most once per rule, so a cycle in
        // embedder rules cannot loop forever.
        for _ in 0..=self.rules.len() {
            match self.get(&current, &rule.kind) {
                Some(next) if next.removed_in.is_some_and(|r| r <= target) => current = next.replacement.clone()?,
                _ => return Some(current),
            }
        }
        Some(current)
    }

    /// The rules whose API version `release` stopped serving.
    ///
    /// ```
    /// use k8sops_upgrade::rules::{MinorVersion, RuleSet};
    /// let rules = RuleSet::builtin();
    /// let kinds: Vec<&str> = rules.removed_in(MinorVersion::new(1, 27)).map(|r| r.kind.as_str()).collect();
    /// assert_eq!(kinds, ["CSIStorageCapacity"]);
    /// ```
    pub fn removed_in(&self, release: MinorVersion) -> impl Iterator<Item = &ApiRule> + '_ {
        self.rules.iter().filter(move |r| r.removed_in == Some(release))
    }

    /// The `(group, kind)` pairs where objects first written in a listed
    /// API version live today: each rule's replacement at
    /// [`NEWEST_RELEASE`] (or the rule's own group when nothing replaces
    /// it), sorted and without duplicates. A cluster scan lists these
    /// resource types.
    ///
    /// ```
    /// let targets = k8sops_upgrade::rules::RuleSet::builtin().current_kinds();
    /// assert!(targets.contains(&("apps".to_string(), "Deployment".to_string())));
    /// assert!(targets.contains(&("networking.k8s.io".to_string(), "Ingress".to_string())));
    /// assert!(targets.contains(&("policy".to_string(), "PodSecurityPolicy".to_string())));
    /// ```
    pub fn current_kinds(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .rules
            .iter()
            .map(|r| {
                let api_version = self.replacement_at(r, NEWEST_RELEASE).unwrap_or_else(|| r.api_version.clone());
                (split_api_version(&api_version).0.to_string(), r.kind.clone())
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_rule_is_deprecated_before_it_is_removed_and_replaced_by_another_version() {
        for r in RuleSet::builtin().rules() {
            assert!(r.deprecated_in < r.removed_in, "{} {}", r.api_version, r.kind);
            assert_ne!(r.replacement.as_deref(), Some(r.api_version.as_str()));
            assert!(r.removed_in <= Some(NEWEST_RELEASE));
        }
    }

    #[test]
    fn replacing_a_rule_keeps_the_resource_index_consistent() {
        let rules = RuleSet::builtin().with(ApiRule::new("batch/v1beta1", "CronJob", "cronjobz"));
        assert!(rules.by_resource("batch", "v1beta1", "cronjobs").is_none());
        assert_eq!(rules.by_resource("batch", "v1beta1", "cronjobz").unwrap().kind, "CronJob");
    }

    #[test]
    fn a_replacement_cycle_in_embedder_rules_ends() {
        let v = MinorVersion::new(1, 1);
        let rules = RuleSet::empty()
            .with(ApiRule::new("a/v1", "X", "xs").removed_in(v).replacement("b/v1"))
            .with(ApiRule::new("b/v1", "X", "xs").removed_in(v).replacement("a/v1"));
        let a = rules.get("a/v1", "X").unwrap().clone();
        assert!(rules.replacement_at(&a, v).is_some());
    }
}
