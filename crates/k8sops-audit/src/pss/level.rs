//! Pod Security levels and policy versions, parsed and printed as the
//! `pod-security.kubernetes.io/*` labels spell them.

use std::{cmp::Ordering, fmt, str::FromStr};

use k8sops_core::KubeVersion;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Pod Security Standards level, ordered from least to most strict.
///
/// Parsed exactly as the admission plugin parses the `enforce`, `audit` and
/// `warn` labels: lowercase `privileged`, `baseline` or `restricted`, nothing else.
///
/// ```
/// use k8sops_audit::pss::Level;
/// let level: Level = "baseline".parse()?;
/// assert_eq!(level, Level::Baseline);
/// assert!(Level::Privileged < level && level < Level::Restricted);
/// assert_eq!(level.to_string(), "baseline");
/// assert!("Baseline".parse::<Level>().is_err());
/// # Ok::<(), k8sops_audit::pss::ParseLevelError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Unrestricted: no check applies.
    Privileged,
    /// Prevents known privilege escalations (the baseline checks).
    Baseline,
    /// Hardening best practices (the baseline checks plus the restricted ones).
    Restricted,
}

impl Level {
    /// All levels, least strict first.
    ///
    /// ```
    /// use k8sops_audit::pss::Level;
    /// assert_eq!(Level::ALL.first(), Some(&Level::Privileged));
    /// ```
    pub const ALL: [Level; 3] = [Level::Privileged, Level::Baseline, Level::Restricted];

    /// The label value of this level.
    ///
    /// ```
    /// assert_eq!(k8sops_audit::pss::Level::Restricted.as_str(), "restricted");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a string that is not a Pod Security level.
///
/// Its message ends with upstream's wording (`must be one of privileged, baseline, restricted`).
///
/// ```
/// let err = "strict".parse::<k8sops_audit::pss::Level>().unwrap_err();
/// assert_eq!(err.input(), "strict");
/// assert!(err.to_string().ends_with("must be one of privileged, baseline, restricted"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Pod Security level {input:?}: {}", Self::REASON)]
pub struct ParseLevelError {
    input: String,
}

impl ParseLevelError {
    /// Upstream's explanation of a bad level.
    pub(super) const REASON: &'static str = "must be one of privileged, baseline, restricted";

    /// The rejected input.
    ///
    /// ```
    /// let err = "".parse::<k8sops_audit::pss::Level>().unwrap_err();
    /// assert_eq!(err.input(), "");
    /// ```
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl FromStr for Level {
    type Err = ParseLevelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "privileged" => Ok(Level::Privileged),
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            _ => Err(ParseLevelError { input: s.to_owned() }),
        }
    }
}

/// The newest policy minor version that has its own check definitions
/// (upstream's maximum `MinimumVersion`, currently `v1.37` for the sysctls check).
pub(super) const NEWEST_MINOR: u32 = 37;

/// A Pod Security policy version: `latest` or `v1.<minor>`.
///
/// Parsed like upstream (`^v1\.(0|[1-9][0-9]*)$`, no leading zeros, major 1 only).
/// Versions newer than the newest defined policy ([`PolicyVersion::NEWEST`])
/// evaluate like it, and `latest` is newer than every numbered version.
///
/// ```
/// use k8sops_audit::pss::PolicyVersion;
/// let v: PolicyVersion = "v1.24".parse()?;
/// assert_eq!(v, PolicyVersion::V1(24));
/// assert_eq!(v.to_string(), "v1.24");
/// assert!(v < PolicyVersion::Latest);
/// assert_eq!("latest".parse::<PolicyVersion>()?, PolicyVersion::Latest);
/// assert!("1.24".parse::<PolicyVersion>().is_err());
/// assert!("v1.024".parse::<PolicyVersion>().is_err());
/// # Ok::<(), k8sops_audit::pss::ParseVersionError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PolicyVersion {
    /// `latest`: the newest policy definitions.
    #[default]
    Latest,
    /// `v1.<minor>`: the policy as the admission plugin of that minor release defined it.
    V1(u32),
}

impl PolicyVersion {
    /// The newest numbered policy version whose checks differ from its predecessor;
    /// `latest` evaluates exactly like it.
    ///
    /// ```
    /// use k8sops_audit::pss::PolicyVersion;
    /// assert_eq!(PolicyVersion::Latest.effective_minor(), PolicyVersion::NEWEST.effective_minor());
    /// ```
    pub const NEWEST: PolicyVersion = PolicyVersion::V1(NEWEST_MINOR);

    /// The minor version whose check definitions are evaluated: `latest` and
    /// versions past [`PolicyVersion::NEWEST`] map to the newest one.
    ///
    /// ```
    /// use k8sops_audit::pss::PolicyVersion;
    /// assert_eq!(PolicyVersion::V1(24).effective_minor(), 24);
    /// assert_eq!(PolicyVersion::V1(99).effective_minor(), PolicyVersion::Latest.effective_minor());
    /// ```
    pub fn effective_minor(self) -> u32 {
        match self {
            PolicyVersion::Latest => NEWEST_MINOR,
            PolicyVersion::V1(minor) => minor.min(NEWEST_MINOR),
        }
    }

    /// The version an API server of version `server` evaluates for this one:
    /// `latest` and newer versions are capped at the server's minor, as the
    /// admission plugin caps them at its (emulated) version. A server whose
    /// major version is not 1 leaves the version unchanged.
    ///
    /// ```
    /// use k8sops_audit::pss::PolicyVersion;
    /// use k8sops_core::KubeVersion;
    /// let server: KubeVersion = "v1.30.4-eks-a737599".parse()?;
    /// assert_eq!(PolicyVersion::Latest.on_server(&server), PolicyVersion::V1(30));
    /// assert_eq!(PolicyVersion::V1(25).on_server(&server), PolicyVersion::V1(25));
    /// # Ok::<(), k8sops_core::version::ParseVersionError>(())
    /// ```
    pub fn on_server(self, server: &KubeVersion) -> PolicyVersion {
        if server.major != 1 {
            return self;
        }
        let server = PolicyVersion::V1(server.minor);
        self.min(server)
    }
}

impl Ord for PolicyVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PolicyVersion::Latest, PolicyVersion::Latest) => Ordering::Equal,
            (PolicyVersion::Latest, PolicyVersion::V1(_)) => Ordering::Greater,
            (PolicyVersion::V1(_), PolicyVersion::Latest) => Ordering::Less,
            (PolicyVersion::V1(a), PolicyVersion::V1(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for PolicyVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for PolicyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyVersion::Latest => f.write_str("latest"),
            PolicyVersion::V1(minor) => write!(f, "v1.{minor}"),
        }
    }
}

/// The error for a string that is not a Pod Security policy version.
///
/// Its message ends with upstream's wording (`must be "latest" or "v1.x"`).
///
/// ```
/// let err = "v2.0".parse::<k8sops_audit::pss::PolicyVersion>().unwrap_err();
/// assert_eq!(err.input(), "v2.0");
/// assert!(err.to_string().ends_with(r#"must be "latest" or "v1.x""#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Pod Security version {input:?}: {}", Self::REASON)]
pub struct ParseVersionError {
    input: String,
}

impl ParseVersionError {
    /// Upstream's explanation of a bad version.
    pub(super) const REASON: &'static str = r#"must be "latest" or "v1.x""#;

    /// The rejected input.
    ///
    /// ```
    /// let err = "v1.".parse::<k8sops_audit::pss::PolicyVersion>().unwrap_err();
    /// assert_eq!(err.input(), "v1.");
    /// ```
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl FromStr for PolicyVersion {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "latest" {
            return Ok(PolicyVersion::Latest);
        }
        let err = || ParseVersionError { input: s.to_owned() };
        let digits = s.strip_prefix("v1.").ok_or_else(err)?;
        let well_formed = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !well_formed {
            return Err(err());
        }
        // Upstream accepts any minor that fits a Go int; beyond u32 is rejected here.
        digits.parse::<u32>().map(PolicyVersion::V1).map_err(|_| err())
    }
}

impl Serialize for PolicyVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PolicyVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A level at a policy version, printed as upstream does (`restricted:latest`).
///
/// ```
/// use k8sops_audit::pss::{Level, LevelVersion, PolicyVersion};
/// let lv = LevelVersion::new(Level::Baseline, PolicyVersion::V1(24));
/// assert_eq!(lv.to_string(), "baseline:v1.24");
/// assert_eq!(LevelVersion::default().to_string(), "privileged:latest");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LevelVersion {
    /// The level.
    pub level: Level,
    /// The policy version.
    pub version: PolicyVersion,
}

impl LevelVersion {
    /// A level at a version.
    ///
    /// ```
    /// use k8sops_audit::pss::{Level, LevelVersion, PolicyVersion};
    /// assert_eq!(LevelVersion::new(Level::Restricted, PolicyVersion::Latest).level, Level::Restricted);
    /// ```
    pub fn new(level: Level, version: PolicyVersion) -> Self {
        LevelVersion { level, version }
    }

    /// Whether the two evaluate the same: both privileged (at any version), or equal.
    ///
    /// ```
    /// use k8sops_audit::pss::{Level, LevelVersion, PolicyVersion};
    /// let a = LevelVersion::new(Level::Privileged, PolicyVersion::V1(20));
    /// assert!(a.equivalent(&LevelVersion::default()));
    /// ```
    pub fn equivalent(&self, other: &LevelVersion) -> bool {
        (self.level == Level::Privileged && other.level == Level::Privileged) || self == other
    }
}

impl Default for LevelVersion {
    fn default() -> Self {
        LevelVersion::new(Level::Privileged, PolicyVersion::Latest)
    }
}

impl fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level, self.version)
    }
}
