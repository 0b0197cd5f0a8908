//! Kubernetes versions: `v1.29.3`, `v1.29.3-eks-4f4795d`, `1.24`, `v1.24.0-alpha.1`.

use std::{cmp::Ordering, fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The error returned for a string that is not a Kubernetes version.
///
/// ```
/// let err = "latest".parse::<k8sops_core::KubeVersion>().unwrap_err();
/// println!("{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Kubernetes version {input:?}: expected MAJOR.MINOR[.PATCH][-SUFFIX], e.g. v1.29.3")]
pub struct ParseVersionError {
    input: String,
}

/// A pre-release stage. Releases sort after every pre-release of the same
/// `major.minor.patch`.
///
/// ```
/// use k8sops_core::{version::PreRelease, KubeVersion};
/// let v: KubeVersion = "v1.31.0-rc.1".parse().unwrap();
/// assert_eq!(v.pre, Some(PreRelease::Rc(1)));
/// assert!(v < "v1.31.0".parse().unwrap());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PreRelease {
    /// `-alpha.N`
    Alpha(u32),
    /// `-beta.N`
    Beta(u32),
    /// `-rc.N`
    Rc(u32),
}

/// A Kubernetes version as printed by `kubectl version`, kubelets and EKS.
///
/// Distribution suffixes such as `-eks-4f4795d` or `+k3s1` are kept for
/// display but do not affect ordering; `alpha`, `beta` and `rc` pre-releases
/// do. `1.29` (no patch) is treated as `1.29.0` for ordering.
///
/// ```
/// use k8sops_core::KubeVersion;
/// let eks: KubeVersion = "v1.29.3-eks-4f4795d".parse()?;
/// assert_eq!((eks.major, eks.minor, eks.patch), (1, 29, 3));
/// assert!(eks > "1.29.2".parse()?);
/// assert!("v1.30.0-rc.1".parse::<KubeVersion>()? < "v1.30.0".parse()?);
/// assert_eq!(eks.minor_string(), "1.29");
/// # Ok::<(), k8sops_core::version::ParseVersionError>(())
/// ```
#[derive(Debug, Clone)]
pub struct KubeVersion {
    /// Major version (always 1 today).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version (0 when not given).
    pub patch: u32,
    /// Pre-release stage, if any.
    pub pre: Option<PreRelease>,
    /// Everything after the numbers that is not a pre-release, e.g. `-eks-4f4795d`.
    pub suffix: String,
    original: String,
}

impl KubeVersion {
    /// Builds a release version.
    ///
    /// ```
    /// assert_eq!(k8sops_core::KubeVersion::new(1, 30, 2).to_string(), "v1.30.2");
    /// ```
    pub fn new(major: u32, minor: u32, patch: u32) -> Self {
        KubeVersion {
            major,
            minor,
            patch,
            pre: None,
            suffix: String::new(),
            original: format!("v{major}.{minor}.{patch}"),
        }
    }

    /// `"1.29"`, the form EKS and `kubeadm upgrade plan` use for a minor version.
    ///
    /// ```
    /// assert_eq!(k8sops_core::KubeVersion::new(1, 29, 3).minor_string(), "1.29");
    /// ```
    pub fn minor_string(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    /// How many minor versions `self` is ahead of `other` (negative when behind).
    /// Kubernetes allows control planes to move one minor at a time and
    /// kubelets to lag up to three minors.
    ///
    /// ```
    /// use k8sops_core::KubeVersion;
    /// assert_eq!(KubeVersion::new(1, 30, 0).minor_skew(&KubeVersion::new(1, 27, 5)), 3);
    /// ```
    pub fn minor_skew(&self, other: &KubeVersion) -> i64 {
        (i64::from(self.major) - i64::from(other.major)) * 1000 + i64::from(self.minor) - i64::from(other.minor)
    }

    /// The next minor release (`1.29.x` -> `1.30.0`).
    ///
    /// ```
    /// assert_eq!(k8sops_core::KubeVersion::new(1, 29, 3).next_minor().to_string(), "v1.30.0");
    /// ```
    pub fn next_minor(&self) -> KubeVersion {
        KubeVersion::new(self.major, self.minor + 1, 0)
    }

    /// The string this version was parsed from (or built as).
    ///
    /// ```
    /// let v: k8sops_core::KubeVersion = "1.24".parse().unwrap();
    /// assert_eq!(v.as_str(), "1.24");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.original
    }

    fn key(&self) -> (u32, u32, u32, Option<&PreRelease>) {
        (self.major, self.minor, self.patch, self.pre.as_ref())
    }
}

impl FromStr for KubeVersion {
    type Err = ParseVersionError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = || ParseVersionError { input: input.to_string() };
        let s = input.trim();
        let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
        let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
        let (nums, rest) = s.split_at(end);
        let nums = nums.trim_end_matches('.');
        let mut parts = nums.split('.');
        let mut next = |required: bool| -> Result<u32, ParseVersionError> {
            match parts.next() {
                Some(p) if !p.is_empty() => p.parse().map_err(|_| err()),
                Some(_) => Err(err()),
                None if required => Err(err()),
                None => Ok(0),
            }
        };
        let major = next(true)?;
        let minor = next(true)?;
        let patch = next(false)?;
        if parts.next().is_some() {
            return Err(err());
        }
        let mut pre = None;
        let mut suffix = rest.to_string();
        // EKS reports minors like "29+"; a leading '+' is a build marker.
        if let Some(tail) = rest.strip_prefix('-') {
            let (stage, after) = tail.split_once('.').unwrap_or((tail, ""));
            let num_end = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len());
            let n: u32 = after[..num_end].parse().unwrap_or(0);
            pre = match stage {
                "alpha" => Some(PreRelease::Alpha(n)),
                "beta" => Some(PreRelease::Beta(n)),
                "rc" => Some(PreRelease::Rc(n)),
                _ => None,
            };
            if pre.is_some() {
                suffix = after[num_end..].to_string();
            }
        } else if !rest.is_empty() && !rest.starts_with('+') {
            return Err(err());
        }
        Ok(KubeVersion { major, minor, patch, pre, suffix, original: input.trim().to_string() })
    }
}

impl PartialEq for KubeVersion {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for KubeVersion {}
impl PartialOrd for KubeVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for KubeVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch)).then_with(|| {
            match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            }
        })
    }
}
impl std::hash::Hash for KubeVersion {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)?;
        match &self.pre {
            Some(PreRelease::Alpha(n)) => write!(f, "-alpha.{n}")?,
            Some(PreRelease::Beta(n)) => write!(f, "-beta.{n}")?,
            Some(PreRelease::Rc(n)) => write!(f, "-rc.{n}")?,
            None => {}
        }
        f.write_str(&self.suffix)
    }
}

impl Serialize for KubeVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KubeVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl TryFrom<&k8s_openapi::apimachinery::pkg::version::Info> for KubeVersion {
    type Error = ParseVersionError;
    fn try_from(info: &k8s_openapi::apimachinery::pkg::version::Info) -> Result<Self, Self::Error> {
        info.git_version.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> KubeVersion {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_forms_seen_in_the_wild() {
        let eks = v("v1.29.3-eks-4f4795d");
        assert_eq!((eks.major, eks.minor, eks.patch, eks.pre.clone()), (1, 29, 3, None));
        assert_eq!(eks.suffix, "-eks-4f4795d");
        assert_eq!(eks.to_string(), "v1.29.3-eks-4f4795d");
        assert_eq!(v("1.24").patch, 0);
        assert_eq!(v("v1.24.0-alpha.1").pre, Some(PreRelease::Alpha(1)));
        assert_eq!(v("v1.28.2+k3s1").suffix, "+k3s1");
        assert_eq!(v("v1.30.1-gke.1329000").suffix, "-gke.1329000");
    }

    #[test]
    fn orders_by_numbers_then_prerelease() {
        let mut vs = [
            v("v1.30.0"),
            v("v1.29.10"),
            v("v1.30.0-rc.1"),
            v("v1.30.0-alpha.2"),
            v("v1.29.9-eks-1"),
            v("v1.30.0-beta.0"),
        ];
        vs.sort();
        let s: Vec<String> = vs.iter().map(|x| x.to_string()).collect();
        assert_eq!(s, ["v1.29.9-eks-1", "v1.29.10", "v1.30.0-alpha.2", "v1.30.0-beta.0", "v1.30.0-rc.1", "v1.30.0"]);
        assert_eq!(v("v1.29.3-eks-a"), v("1.29.3"));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "v", "1", "x1.2", "1.2.3.4", "1.a", "1.29 beta"] {
            assert!(bad.parse::<KubeVersion>().is_err(), "{bad} should not parse");
        }
    }
}
