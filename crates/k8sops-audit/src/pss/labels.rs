//! The `pod-security.kubernetes.io/*` namespace labels: strict parsing (as
//! the API server validates a namespace) and the policy the admission plugin
//! derives from them (`PolicyToEvaluate`).

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};

use super::format::go_quote;
use super::{Level, LevelVersion, ParseLevelError, ParseVersionError, PolicyVersion, ServerVersion};

/// `pod-security.kubernetes.io/enforce`: the level whose violations reject a pod.
pub const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";
/// `pod-security.kubernetes.io/enforce-version`.
pub const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";
/// `pod-security.kubernetes.io/audit`: the level whose violations are recorded in the audit log.
pub const AUDIT_LABEL: &str = "pod-security.kubernetes.io/audit";
/// `pod-security.kubernetes.io/audit-version`.
pub const AUDIT_VERSION_LABEL: &str = "pod-security.kubernetes.io/audit-version";
/// `pod-security.kubernetes.io/warn`: the level whose violations are returned as warnings.
pub const WARN_LABEL: &str = "pod-security.kubernetes.io/warn";
/// `pod-security.kubernetes.io/warn-version`.
pub const WARN_VERSION_LABEL: &str = "pod-security.kubernetes.io/warn-version";

/// The six labels in upstream's order.
const LABEL_ORDER: [&str; 6] =
    [ENFORCE_LABEL, ENFORCE_VERSION_LABEL, AUDIT_LABEL, AUDIT_VERSION_LABEL, WARN_LABEL, WARN_VERSION_LABEL];

fn parse_level(label: &str, value: &str, invalid: &mut Vec<InvalidLabel>) -> Option<Level> {
    let parsed = value.parse().ok();
    if parsed.is_none() {
        invalid.push(InvalidLabel {
            label: label.to_owned(),
            value: value.to_owned(),
            reason: ParseLevelError::REASON,
        });
    }
    parsed
}

fn parse_version(label: &str, value: &str, invalid: &mut Vec<InvalidLabel>) -> Option<PolicyVersion> {
    let parsed = value.parse().ok();
    if parsed.is_none() {
        invalid.push(InvalidLabel {
            label: label.to_owned(),
            value: value.to_owned(),
            reason: ParseVersionError::REASON,
        });
    }
    parsed
}

/// A namespace label with a value the API server would reject.
///
/// Displays like the API server's field error, e.g.
/// `metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted`.
///
/// ```
/// use std::collections::BTreeMap;
/// use k8sops_audit::pss::NamespaceLabels;
/// let labels = BTreeMap::from([("pod-security.kubernetes.io/enforce".to_owned(), "strict".to_owned())]);
/// let err = NamespaceLabels::from_labels(&labels).unwrap_err();
/// let bad = &err.labels()[0];
/// assert_eq!((bad.label.as_str(), bad.value.as_str()), ("pod-security.kubernetes.io/enforce", "strict"));
/// assert_eq!(
///     bad.to_string(),
///     r#"metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidLabel {
    /// The label key.
    pub label: String,
    /// The rejected value.
    pub value: String,
    /// Upstream's explanation (`must be one of ...` or `must be "latest" or "v1.x"`).
    pub reason: &'static str,
}

impl fmt::Display for InvalidLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "metadata.labels[{}]: Invalid value: {}: {}", self.label, go_quote(&self.value), self.reason)
    }
}

/// The invalid Pod Security labels of a namespace (at least one), in label order
/// enforce, enforce-version, audit, audit-version, warn, warn-version.
///
/// Displays like an API server aggregate error: one error as is, several as `[a, b]`.
///
/// ```
/// use std::collections::BTreeMap;
/// use k8sops_audit::pss::NamespaceLabels;
/// let labels = BTreeMap::from([
///     ("pod-security.kubernetes.io/enforce".to_owned(), "strict".to_owned()),
///     ("pod-security.kubernetes.io/warn-version".to_owned(), "1.30".to_owned()),
/// ]);
/// let err = NamespaceLabels::from_labels(&labels).unwrap_err();
/// assert_eq!(err.labels().len(), 2);
/// assert!(err.to_string().starts_with("[metadata.labels[pod-security.kubernetes.io/enforce]"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InvalidLabels {
    labels: Vec<InvalidLabel>,
}

impl InvalidLabels {
    /// Each invalid label.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use k8sops_audit::pss::NamespaceLabels;
    /// let labels = BTreeMap::from([("pod-security.kubernetes.io/audit".to_owned(), "none".to_owned())]);
    /// let err = NamespaceLabels::from_labels(&labels).unwrap_err();
    /// assert_eq!(err.labels()[0].value, "none");
    /// ```
    pub fn labels(&self) -> &[InvalidLabel] {
        &self.labels
    }
}

impl fmt::Display for InvalidLabels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.labels.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                f.write_str("[")?;
                for (i, label) in many.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{label}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// The Pod Security labels of a namespace, each `None` when absent.
///
/// [`NamespaceLabels::policy`] applies upstream's defaults (privileged, latest).
///
/// ```
/// use std::collections::BTreeMap;
/// use k8sops_audit::pss::{Level, NamespaceLabels, PolicyVersion};
/// let labels = BTreeMap::from([
///     ("pod-security.kubernetes.io/enforce".to_owned(), "baseline".to_owned()),
///     ("pod-security.kubernetes.io/enforce-version".to_owned(), "v1.24".to_owned()),
///     ("app".to_owned(), "shop".to_owned()),
/// ]);
/// let parsed = NamespaceLabels::from_labels(&labels)?;
/// assert_eq!(parsed.enforce, Some(Level::Baseline));
/// assert_eq!(parsed.enforce_version, Some(PolicyVersion::V1(24)));
/// assert_eq!(parsed.audit, None);
/// assert_eq!(parsed.to_labels().len(), 2);
/// # Ok::<(), k8sops_audit::pss::InvalidLabels>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NamespaceLabels {
    /// `pod-security.kubernetes.io/enforce`.
    pub enforce: Option<Level>,
    /// `pod-security.kubernetes.io/enforce-version`.
    pub enforce_version: Option<PolicyVersion>,
    /// `pod-security.kubernetes.io/audit`.
    pub audit: Option<Level>,
    /// `pod-security.kubernetes.io/audit-version`.
    pub audit_version: Option<PolicyVersion>,
    /// `pod-security.kubernetes.io/warn`.
    pub warn: Option<Level>,
    /// `pod-security.kubernetes.io/warn-version`.
    pub warn_version: Option<PolicyVersion>,
}

impl NamespaceLabels {
    /// Labels enforcing, auditing and warning at `level` pinned to `version`,
    /// the usual way to opt a namespace in.
    ///
    /// ```
    /// use k8sops_audit::pss::{Level, NamespaceLabels, PolicyVersion};
    /// let labels = NamespaceLabels::all(Level::Restricted, PolicyVersion::V1(30)).to_labels();
    /// assert_eq!(labels["pod-security.kubernetes.io/warn"], "restricted");
    /// assert_eq!(labels["pod-security.kubernetes.io/audit-version"], "v1.30");
    /// assert_eq!(labels.len(), 6);
    /// ```
    pub fn all(level: Level, version: PolicyVersion) -> Self {
        NamespaceLabels {
            enforce: Some(level),
            enforce_version: Some(version),
            audit: Some(level),
            audit_version: Some(version),
            warn: Some(level),
            warn_version: Some(version),
        }
    }

    /// Parses the Pod Security labels out of a namespace's labels (other labels
    /// are ignored), rejecting any value the API server would reject.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use k8sops_audit::pss::{Level, NamespaceLabels};
    /// let labels = BTreeMap::from([("pod-security.kubernetes.io/warn".to_owned(), "restricted".to_owned())]);
    /// assert_eq!(NamespaceLabels::from_labels(&labels)?.warn, Some(Level::Restricted));
    /// assert_eq!(NamespaceLabels::from_labels(&BTreeMap::new())?, NamespaceLabels::default());
    /// # Ok::<(), k8sops_audit::pss::InvalidLabels>(())
    /// ```
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Result<Self, InvalidLabels> {
        let mut invalid = Vec::new();
        let mut level = |key: &str| labels.get(key).and_then(|value| parse_level(key, value, &mut invalid));
        let (enforce, audit, warn) = (level(ENFORCE_LABEL), level(AUDIT_LABEL), level(WARN_LABEL));
        let mut version = |key: &str| labels.get(key).and_then(|value| parse_version(key, value, &mut invalid));
        let (enforce_version, audit_version, warn_version) =
            (version(ENFORCE_VERSION_LABEL), version(AUDIT_VERSION_LABEL), version(WARN_VERSION_LABEL));
        if invalid.is_empty() {
            return Ok(NamespaceLabels { enforce, enforce_version, audit, audit_version, warn, warn_version });
        }
        invalid.sort_by_key(|e| LABEL_ORDER.iter().position(|k| *k == e.label));
        Err(InvalidLabels { labels: invalid })
    }

    /// The labels to set on the namespace: one per field that is `Some`.
    ///
    /// ```
    /// use k8sops_audit::pss::{Level, NamespaceLabels};
    /// let labels = NamespaceLabels { enforce: Some(Level::Baseline), ..Default::default() }.to_labels();
    /// assert_eq!(labels.len(), 1);
    /// assert_eq!(labels["pod-security.kubernetes.io/enforce"], "baseline");
    /// ```
    pub fn to_labels(&self) -> BTreeMap<String, String> {
        let levels = [(ENFORCE_LABEL, self.enforce), (AUDIT_LABEL, self.audit), (WARN_LABEL, self.warn)];
        let versions = [
            (ENFORCE_VERSION_LABEL, self.enforce_version),
            (AUDIT_VERSION_LABEL, self.audit_version),
            (WARN_VERSION_LABEL, self.warn_version),
        ];
        let levels = levels.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_string())));
        let versions = versions.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_string())));
        levels.chain(versions).collect()
    }

    /// The policy the admission plugin evaluates with its built-in defaults
    /// (every mode `privileged:latest`); see [`NamespaceLabels::policy_with_defaults`].
    ///
    /// ```
    /// use k8sops_audit::pss::{Level, NamespaceLabels};
    /// let labels = NamespaceLabels { enforce: Some(Level::Baseline), ..Default::default() };
    /// let policy = labels.policy();
    /// assert_eq!(policy.enforce.to_string(), "baseline:latest");
    /// assert_eq!(policy.warn.to_string(), "baseline:latest"); // warn follows a stricter enforce
    /// assert_eq!(policy.audit.to_string(), "privileged:latest");
    /// ```
    pub fn policy(&self) -> Policy {
        self.policy_with_defaults(&Policy::default())
    }

    /// The policy the admission plugin evaluates when its configured defaults
    /// are `defaults`: each label replaces its default, and when `enforce` is
    /// set, `warn` is not, and `enforce` is stricter than the default `warn`,
    /// `warn` takes enforce's level (and its version unless `warn-version` is set).
    ///
    /// ```
    /// use k8sops_audit::pss::{Level, LevelVersion, NamespaceLabels, Policy, PolicyVersion};
    /// let defaults = Policy {
    ///     enforce: LevelVersion::new(Level::Baseline, PolicyVersion::Latest),
    ///     audit: LevelVersion::new(Level::Restricted, PolicyVersion::Latest),
    ///     warn: LevelVersion::new(Level::Restricted, PolicyVersion::Latest),
    /// };
    /// let policy = NamespaceLabels::default().policy_with_defaults(&defaults);
    /// assert_eq!(policy, defaults);
    /// ```
    pub fn policy_with_defaults(&self, defaults: &Policy) -> Policy {
        let mut p = *defaults;
        if let Some(level) = self.enforce {
            p.enforce.level = level;
        }
        if let Some(version) = self.enforce_version {
            p.enforce.version = version;
        }
        if let Some(level) = self.audit {
            p.audit.level = level;
        }
        if let Some(version) = self.audit_version {
            p.audit.version = version;
        }
        if let Some(level) = self.warn {
            p.warn.level = level;
        }
        if let Some(version) = self.warn_version {
            p.warn.version = version;
        }
        p.default_warn_to_enforce(self.enforce.is_some(), self.warn.is_some(), self.warn_version.is_some());
        p
    }
}

/// The level and version of each admission mode for a namespace.
///
/// The default is upstream's built-in default: everything `privileged:latest`.
///
/// ```
/// use k8sops_audit::pss::{Level, Policy};
/// let policy = Policy::default();
/// assert_eq!(policy.enforce.level, Level::Privileged);
/// assert!(policy.fully_privileged());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Policy {
    /// Violations reject the pod.
    pub enforce: LevelVersion,
    /// Violations are recorded in the audit event.
    pub audit: LevelVersion,
    /// Violations are returned to the client as warnings.
    pub warn: LevelVersion,
}

impl Policy {
    /// The policy the admission plugin evaluates for a namespace with these
    /// labels, tolerating invalid values exactly like upstream's
    /// `PolicyToEvaluate`: an invalid `enforce` level means restricted (fail
    /// closed), an invalid `audit` or `warn` level privileged (fail open), an
    /// invalid version latest. The invalid labels are returned alongside.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use k8sops_audit::pss::{Level, Policy};
    /// let labels = BTreeMap::from([("pod-security.kubernetes.io/enforce".to_owned(), "strict".to_owned())]);
    /// let (policy, invalid) = Policy::from_labels(&labels, &Policy::default());
    /// assert_eq!(policy.enforce.level, Level::Restricted);
    /// assert_eq!(policy.warn.level, Level::Privileged);
    /// assert_eq!(invalid.len(), 1);
    /// ```
    pub fn from_labels(labels: &BTreeMap<String, String>, defaults: &Policy) -> (Policy, Vec<InvalidLabel>) {
        Policy::from_labels_on_server(labels, defaults, ServerVersion::NEWEST)
    }

    /// [`Policy::from_labels`] as an API server of version `server` derives
    /// it: before v1.26.0-beta.0 an `enforce` label does not also set `warn`
    /// ([`ServerVersion::warns_at_enforce_level`]). `server` is a
    /// [`ServerVersion`] or a `&k8sops_core::KubeVersion`.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use k8sops_audit::pss::{Level, Policy, ServerVersion};
    /// let labels = BTreeMap::from([("pod-security.kubernetes.io/enforce".to_owned(), "baseline".to_owned())]);
    /// let (old, _) = Policy::from_labels_on_server(&labels, &Policy::default(), ServerVersion::new(25));
    /// assert_eq!(old.warn.level, Level::Privileged);
    /// let (new, _) = Policy::from_labels_on_server(&labels, &Policy::default(), ServerVersion::new(26));
    /// assert_eq!(new.warn.level, Level::Baseline);
    /// ```
    pub fn from_labels_on_server(
        labels: &BTreeMap<String, String>,
        defaults: &Policy,
        server: impl Into<ServerVersion>,
    ) -> (Policy, Vec<InvalidLabel>) {
        let mut p = *defaults;
        let mut invalid = Vec::new();
        let mut has_enforce_level = false;
        if let Some(value) = labels.get(ENFORCE_LABEL) {
            match parse_level(ENFORCE_LABEL, value, &mut invalid) {
                Some(level) => {
                    p.enforce.level = level;
                    has_enforce_level = true;
                }
                None => p.enforce.level = Level::Restricted,
            }
        }
        if let Some(value) = labels.get(ENFORCE_VERSION_LABEL) {
            p.enforce.version = parse_version(ENFORCE_VERSION_LABEL, value, &mut invalid).unwrap_or_default();
        }
        if let Some(value) = labels.get(AUDIT_LABEL) {
            p.audit.level = parse_level(AUDIT_LABEL, value, &mut invalid).unwrap_or(Level::Privileged);
        }
        if let Some(value) = labels.get(AUDIT_VERSION_LABEL) {
            p.audit.version = parse_version(AUDIT_VERSION_LABEL, value, &mut invalid).unwrap_or_default();
        }
        if let Some(value) = labels.get(WARN_LABEL) {
            p.warn.level = parse_level(WARN_LABEL, value, &mut invalid).unwrap_or(Level::Privileged);
        }
        if let Some(value) = labels.get(WARN_VERSION_LABEL) {
            p.warn.version = parse_version(WARN_VERSION_LABEL, value, &mut invalid).unwrap_or_default();
        }
        if server.into().warns_at_enforce_level() {
            p.default_warn_to_enforce(
                has_enforce_level,
                labels.contains_key(WARN_LABEL),
                labels.contains_key(WARN_VERSION_LABEL),
            );
        }
        (p, invalid)
    }

    /// Whether every mode is privileged (nothing is checked).
    ///
    /// ```
    /// use k8sops_audit::pss::{Level, LevelVersion, Policy, PolicyVersion};
    /// let mut policy = Policy::default();
    /// policy.warn = LevelVersion::new(Level::Baseline, PolicyVersion::Latest);
    /// assert!(!policy.fully_privileged());
    /// ```
    pub fn fully_privileged(&self) -> bool {
        [self.enforce, self.audit, self.warn].iter().all(|lv| lv.level == Level::Privileged)
    }

    fn default_warn_to_enforce(&mut self, has_enforce_level: bool, has_warn_level: bool, has_warn_version: bool) {
        if !has_warn_level && has_enforce_level && self.enforce.level > self.warn.level {
            self.warn.level = self.enforce.level;
            if !has_warn_version {
                self.warn.version = self.enforce.version;
            }
        }
    }
}
