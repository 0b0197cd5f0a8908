//! The API server whose `PodSecurity` admission plugin answers: which
//! version of the plugin's code words the messages, whether restricted checks
//! replace the baseline checks they supersede, and which pod fields the
//! server drops before admission sees the pod.
//!
//! The policy version (`enforce-version` and friends) chooses what each check
//! forbids; the server version chooses everything else. The releases below
//! are the first kubernetes tags whose `k8s.io/pod-security-admission`
//! (staged as `kubernetes/pod-security-admission`) contains the change.

use std::fmt;

use k8s_openapi::api::core::v1::PodSpec;
use k8sops_core::{version::PreRelease, KubeVersion};
use serde::{Serialize, Serializer};

use super::{level::NEWEST_MINOR, PolicyVersion};

/// A pre-release stage, ordered before the release of the same version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Stage {
    Alpha(u32),
    Beta(u32),
    Rc(u32),
    Release,
}

/// The version of the API server (kube-apiserver) that evaluates a pod.
///
/// Only `1.<minor>.<patch>` and the pre-release stage matter, because a
/// change can land in the middle of a release cycle: `v1.24.0-alpha.1` still
/// lists the baseline check that `v1.24.0` replaces with its restricted
/// counterpart. Distribution suffixes (`-eks-…`, `+k3s1`) are ignored, and a
/// server whose major version is not 1 is taken as the newest one modelled.
///
/// Servers older than v1.23, where `PodSecurity` was alpha and off by
/// default, get v1.23's messages: v1.22's checks are the same, but it words
/// the warning itself differently (`would violate "latest" version of
/// "restricted" PodSecurity profile: …`) and lists existing pods one by one,
/// which is not reproduced.
///
/// What changed, by the first release that has it:
///
/// | Since | Change |
/// |---|---|
/// | v1.24.0-alpha.3 | restricted checks replace the baseline checks they supersede ([`ServerVersion::overrides_baseline_checks`]) |
/// | v1.26.0-alpha.3 | the `seLinuxOptions` detail names a forbidden `user` or `role` even when the type is allowed ([`ServerVersion::names_selinux_user_and_role_alone`]) |
/// | v1.26.0-beta.0 | an `enforce` label without `warn` also warns at that level ([`ServerVersion::warns_at_enforce_level`]) |
/// | v1.30.0-beta.0 | `appArmorProfile` fields exist and the AppArmor detail names who sets the profile ([`ServerVersion::knows_app_armor_fields`]) |
/// | v1.33 | `procMount` is kept (feature gate `ProcMountType` on by default) ([`ServerVersion::keeps_proc_mount`]) |
///
/// ```
/// use k8sops_audit::pss::ServerVersion;
/// use k8sops_core::KubeVersion;
/// let alpha: KubeVersion = "v1.24.0-alpha.1".parse()?;
/// let alpha = ServerVersion::from(&alpha);
/// assert_eq!(alpha.minor(), 24);
/// assert!(!alpha.overrides_baseline_checks());
/// assert!(ServerVersion::new(24).overrides_baseline_checks());
/// assert!(alpha < ServerVersion::new(24));
/// assert_eq!(alpha.to_string(), "v1.24.0-alpha.1");
/// # Ok::<(), k8sops_core::version::ParseVersionError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerVersion {
    minor: u32,
    patch: u32,
    stage: Stage,
}

/// First releases with each change (see the table on [`ServerVersion`]).
const OVERRIDES_SINCE: ServerVersion = ServerVersion::pre(24, Stage::Alpha(3));
const SELINUX_USER_ROLE_SINCE: ServerVersion = ServerVersion::pre(26, Stage::Alpha(3));
const WARN_FOLLOWS_ENFORCE_SINCE: ServerVersion = ServerVersion::pre(26, Stage::Beta(0));
const APP_ARMOR_FIELDS_SINCE: ServerVersion = ServerVersion::pre(30, Stage::Beta(0));
const PROC_MOUNT_KEPT_SINCE: ServerVersion = ServerVersion::pre(33, Stage::Alpha(0));

impl ServerVersion {
    /// The newest server modelled: what [`super::evaluate_pod`] answers.
    ///
    /// ```
    /// use k8sops_audit::pss::ServerVersion;
    /// assert!(ServerVersion::NEWEST.overrides_baseline_checks());
    /// assert!(ServerVersion::NEWEST.keeps_proc_mount());
    /// assert!(ServerVersion::new(20) < ServerVersion::NEWEST);
    /// ```
    pub const NEWEST: ServerVersion = ServerVersion::new(NEWEST_MINOR);

    /// The release `v1.<minor>.0`.
    ///
    /// ```
    /// use k8sops_audit::pss::ServerVersion;
    /// assert_eq!(ServerVersion::new(30).to_string(), "v1.30.0");
    /// ```
    pub const fn new(minor: u32) -> Self {
        ServerVersion { minor, patch: 0, stage: Stage::Release }
    }

    const fn pre(minor: u32, stage: Stage) -> Self {
        ServerVersion { minor, patch: 0, stage }
    }

    /// The minor version (`24` for `v1.24.0-alpha.1`).
    ///
    /// ```
    /// assert_eq!(k8sops_audit::pss::ServerVersion::new(29).minor(), 29);
    /// ```
    pub fn minor(&self) -> u32 {
        self.minor
    }

    /// The policy version this server evaluates for `version`: `latest` and
    /// versions past the server's minor are capped at it, as the admission
    /// plugin caps them at its newest (or emulated) version.
    ///
    /// ```
    /// use k8sops_audit::pss::{PolicyVersion, ServerVersion};
    /// let server = ServerVersion::new(24);
    /// assert_eq!(server.policy_version(PolicyVersion::Latest), PolicyVersion::V1(24));
    /// assert_eq!(server.policy_version(PolicyVersion::V1(30)), PolicyVersion::V1(24));
    /// assert_eq!(server.policy_version(PolicyVersion::V1(20)), PolicyVersion::V1(20));
    /// ```
    pub fn policy_version(&self, version: PolicyVersion) -> PolicyVersion {
        version.min(PolicyVersion::V1(self.minor))
    }

    /// Whether a restricted check replaces the baseline check it supersedes
    /// (upstream's `OverrideCheckIDs`: `restrictedVolumes` replaces
    /// `hostPathVolumes`, `capabilities_restricted` replaces
    /// `capabilities_baseline`, `seccompProfile_restricted` replaces
    /// `seccompProfile_baseline`). Older servers run every baseline check at
    /// restricted too and report both. Since v1.24.0-alpha.3 (kubernetes
    /// commits 305e0b1 and 928448d).
    ///
    /// ```
    /// use k8sops_audit::pss::ServerVersion;
    /// assert!(!ServerVersion::new(23).overrides_baseline_checks());
    /// assert!(ServerVersion::new(24).overrides_baseline_checks());
    /// ```
    pub fn overrides_baseline_checks(&self) -> bool {
        *self >= OVERRIDES_SINCE
    }

    /// Whether the `seLinuxOptions` detail names a forbidden `user` or `role`
    /// when the type is allowed. Older servers then end the detail after
    /// `seLinuxOptions: ` with nothing. Since v1.26.0-alpha.3 (kubernetes
    /// commit 5f75c39).
    ///
    /// ```
    /// use k8sops_audit::pss::ServerVersion;
    /// assert!(!ServerVersion::new(25).names_selinux_user_and_role_alone());
    /// assert!(ServerVersion::new(26).names_selinux_user_and_role_alone());
    /// ```
    pub fn names_selinux_user_and_role_alone(&self) -> bool {
        *self >= SELINUX_USER_ROLE_SINCE
    }

    /// Whether a namespace with an `enforce` level and no `warn` label also
    /// warns at the enforce level (and version, unless `warn-version` is
    /// set); older servers keep the default `warn` (privileged), so pod
    /// controllers get no warning. Since v1.26.0-beta.0 (kubernetes commit
    /// 0574a81).
    ///
    /// ```
    /// use k8sops_audit::pss::ServerVersion;
    /// assert!(!ServerVersion::new(25).warns_at_enforce_level());
    /// assert!(ServerVersion::new(26).warns_at_enforce_level());
    /// ```
    pub fn warns_at_enforce_level(&self) -> bool {
        *self >= WARN_FOLLOWS_ENFORCE_SINCE
    }

    /// Whether the server knows the `appArmorProfile` fields of the pod and
    /// container security contexts (older servers drop them as unknown), and
    /// words the AppArmor detail by setter (`annotation must not set AppArmor
    /// profile type to "…"`); older servers list the forbidden annotations
    /// alone (`container.apparmor.security.beta.kubernetes.io/app="unconfined"`).
    /// Since v1.30.0-beta.0 (kubernetes commit d25b1de).
    ///
    /// ```
    /// use k8sops_audit::pss::ServerVersion;
    /// assert!(!ServerVersion::new(29).knows_app_armor_fields());
    /// assert!(ServerVersion::new(30).knows_app_armor_fields());
    /// ```
    pub fn knows_app_armor_fields(&self) -> bool {
        *self >= APP_ARMOR_FIELDS_SINCE
    }

    /// Whether the server keeps `securityContext.procMount`. It drops the
    /// field before admission while the `ProcMountType` feature gate is off,
    /// its default until v1.33 (alpha since v1.12, beta but off in v1.31,
    /// on by default in v1.33); a server started with the gate on keeps it
    /// earlier, which this does not know.
    ///
    /// ```
    /// use k8sops_audit::pss::ServerVersion;
    /// assert!(!ServerVersion::new(32).keeps_proc_mount());
    /// assert!(ServerVersion::new(33).keeps_proc_mount());
    /// ```
    pub fn keeps_proc_mount(&self) -> bool {
        *self >= PROC_MOUNT_KEPT_SINCE
    }

    /// The pod spec as the admission plugin sees it: the fields this server
    /// drops are removed. `None` when nothing is dropped.
    pub(super) fn admitted_spec(&self, spec: &PodSpec) -> Option<PodSpec> {
        let drop_proc_mount = !self.keeps_proc_mount();
        let drop_app_armor = !self.knows_app_armor_fields();
        let pod_app_armor = spec.security_context.as_ref().is_some_and(|sc| sc.app_armor_profile.is_some());
        let mut contexts = spec
            .init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
            .filter_map(|c| c.security_context.as_ref())
            .chain(spec.ephemeral_containers.iter().flatten().filter_map(|c| c.security_context.as_ref()));
        let dropped = (drop_app_armor && pod_app_armor)
            || contexts.any(|sc| {
                (drop_proc_mount && sc.proc_mount.is_some()) || (drop_app_armor && sc.app_armor_profile.is_some())
            });
        if !dropped {
            return None;
        }
        let mut spec = spec.clone();
        if drop_app_armor {
            if let Some(sc) = spec.security_context.as_mut() {
                sc.app_armor_profile = None;
            }
        }
        let containers = spec.init_containers.iter_mut().flatten().chain(&mut spec.containers);
        let contexts = containers
            .filter_map(|c| c.security_context.as_mut())
            .chain(spec.ephemeral_containers.iter_mut().flatten().filter_map(|c| c.security_context.as_mut()));
        for sc in contexts {
            if drop_proc_mount {
                sc.proc_mount = None;
            }
            if drop_app_armor {
                sc.app_armor_profile = None;
            }
        }
        Some(spec)
    }
}

impl Default for ServerVersion {
    /// [`ServerVersion::NEWEST`].
    fn default() -> Self {
        ServerVersion::NEWEST
    }
}

impl From<&KubeVersion> for ServerVersion {
    fn from(v: &KubeVersion) -> Self {
        if v.major != 1 {
            return ServerVersion::NEWEST;
        }
        let stage = match v.pre {
            Some(PreRelease::Alpha(n)) => Stage::Alpha(n),
            Some(PreRelease::Beta(n)) => Stage::Beta(n),
            Some(PreRelease::Rc(n)) => Stage::Rc(n),
            None => Stage::Release,
        };
        ServerVersion { minor: v.minor, patch: v.patch, stage }
    }
}

impl From<KubeVersion> for ServerVersion {
    fn from(v: KubeVersion) -> Self {
        ServerVersion::from(&v)
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v1.{}.{}", self.minor, self.patch)?;
        match self.stage {
            Stage::Alpha(n) => write!(f, "-alpha.{n}"),
            Stage::Beta(n) => write!(f, "-beta.{n}"),
            Stage::Rc(n) => write!(f, "-rc.{n}"),
            Stage::Release => Ok(()),
        }
    }
}

impl Serialize for ServerVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
