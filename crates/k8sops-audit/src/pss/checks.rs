//! The check registry: every upstream check with its revisions by policy
//! version, and the selection of the checks a level and version evaluate.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Serialize, Serializer};

use super::{baseline as b, restricted as r, Level, PolicyVersion, ServerVersion};

/// A failed check: upstream's `ForbiddenReason` and `ForbiddenDetail`.
#[derive(Debug)]
pub(super) struct Forbidden {
    pub(super) reason: String,
    pub(super) detail: String,
}

impl Forbidden {
    pub(super) fn new(reason: impl Into<String>, detail: impl Into<String>) -> Self {
        Forbidden { reason: reason.into(), detail: detail.into() }
    }
}

pub(super) type CheckFn = fn(&ObjectMeta, &PodSpec) -> Option<Forbidden>;

/// One definition of a check, in force from policy `v1.<since>` until the next one.
#[derive(Debug)]
pub(super) struct Revision {
    since: u32,
    check: CheckFn,
}

const fn rev(since: u32, check: CheckFn) -> Revision {
    Revision { since, check }
}

/// One Pod Security check: its upstream ID, level, and text for reports.
///
/// [`CHECKS`] lists them all in upstream's evaluation order.
///
/// ```
/// use k8sops_audit::pss::{CheckInfo, Level, PolicyVersion};
/// let check = CheckInfo::find("runAsUser").expect("known check");
/// assert_eq!(check.level, Level::Restricted);
/// assert_eq!(check.since(), PolicyVersion::V1(23));
/// assert!(!check.applies_at(PolicyVersion::V1(22)));
/// println!("{}: {}", check.title, check.remediation);
/// ```
#[derive(Debug, Clone, Copy, Serialize)]
#[non_exhaustive]
pub struct CheckInfo {
    /// Upstream's check ID (`hostNamespaces`, `capabilities_restricted`, ...).
    pub id: &'static str,
    /// The level that introduces the check; restricted evaluates the baseline checks too.
    pub level: Level,
    /// A short title, as the Pod Security Standards page names the control.
    pub title: &'static str,
    /// What the check forbids.
    pub description: &'static str,
    /// How to make a pod pass.
    pub remediation: &'static str,
    /// The baseline check this restricted check replaces when both apply
    /// (upstream's `OverrideCheckIDs`, on servers since v1.24.0-alpha.3; see
    /// [`ServerVersion::overrides_baseline_checks`]).
    pub overrides: Option<&'static str>,
    #[serde(rename = "revisions", serialize_with = "serialize_revisions")]
    revisions: &'static [Revision],
}

fn serialize_revisions<S: Serializer>(revisions: &&'static [Revision], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(revisions.iter().map(|r| PolicyVersion::V1(r.since)))
}

impl CheckInfo {
    /// The check with this upstream ID.
    ///
    /// ```
    /// use k8sops_audit::pss::CheckInfo;
    /// assert!(CheckInfo::find("privileged").is_some());
    /// assert!(CheckInfo::find("Privileged").is_none());
    /// ```
    pub fn find(id: &str) -> Option<&'static CheckInfo> {
        CHECKS.iter().find(|c| c.id == id)
    }

    /// The first policy version that has this check.
    ///
    /// ```
    /// use k8sops_audit::pss::{CheckInfo, PolicyVersion};
    /// let check = CheckInfo::find("hostProbesAndHostLifecycle").expect("known check");
    /// assert_eq!(check.since(), PolicyVersion::V1(34));
    /// ```
    pub fn since(&self) -> PolicyVersion {
        PolicyVersion::V1(self.revisions.first().map_or(0, |r| r.since))
    }

    /// The policy versions at which the check's behaviour was (re)defined, oldest first.
    ///
    /// ```
    /// use k8sops_audit::pss::{CheckInfo, PolicyVersion};
    /// let check = CheckInfo::find("seLinuxOptions").expect("known check");
    /// assert_eq!(check.revisions(), vec![PolicyVersion::V1(0), PolicyVersion::V1(31)]);
    /// ```
    pub fn revisions(&self) -> Vec<PolicyVersion> {
        self.revisions.iter().map(|r| PolicyVersion::V1(r.since)).collect()
    }

    /// Whether the check exists at `version` (it may still be replaced at
    /// restricted by the check that [overrides](CheckInfo::overrides) it).
    ///
    /// ```
    /// use k8sops_audit::pss::{CheckInfo, PolicyVersion};
    /// let check = CheckInfo::find("seccompProfile_restricted").expect("known check");
    /// assert!(check.applies_at(PolicyVersion::Latest));
    /// assert!(!check.applies_at(PolicyVersion::V1(18)));
    /// ```
    pub fn applies_at(&self, version: PolicyVersion) -> bool {
        self.revision_at(version.effective_minor()).is_some()
    }

    fn revision_at(&self, minor: u32) -> Option<&'static Revision> {
        self.revisions.iter().rev().find(|r| r.since <= minor)
    }
}

/// The checks `level` evaluates at `version`, in upstream's order: the
/// baseline checks not overridden by a restricted one, then (for restricted)
/// the restricted checks, each group sorted by ID. Empty for privileged.
///
/// ```
/// use k8sops_audit::pss::{checks_for, Level, PolicyVersion};
/// let ids: Vec<&str> = checks_for(Level::Restricted, PolicyVersion::Latest).iter().map(|c| c.id).collect();
/// assert!(ids.contains(&"capabilities_restricted"));
/// assert!(!ids.contains(&"capabilities_baseline"));
/// assert!(checks_for(Level::Privileged, PolicyVersion::Latest).is_empty());
/// ```
pub fn checks_for(level: Level, version: PolicyVersion) -> Vec<&'static CheckInfo> {
    active(level, version, ServerVersion::NEWEST).map(|(info, _)| info).collect()
}

/// The checks and the function each runs for `level` at `version` on
/// `server`: the revision in force at `version`, worded as `server` words
/// it; the overridden baseline checks are left out only on servers that
/// have overrides.
pub(super) fn active(
    level: Level,
    version: PolicyVersion,
    server: ServerVersion,
) -> impl Iterator<Item = (&'static CheckInfo, CheckFn)> {
    let minor = version.effective_minor();
    let runs_restricted = level == Level::Restricted && server.overrides_baseline_checks();
    let overridden: BTreeSet<&str> = CHECKS
        .iter()
        .filter(|c| runs_restricted && c.level == Level::Restricted && c.revision_at(minor).is_some())
        .filter_map(|c| c.overrides)
        .collect();
    CHECKS
        .iter()
        .filter(move |c| match (level, c.level) {
            (Level::Privileged, _) => false,
            (_, Level::Baseline) => !overridden.contains(c.id),
            (Level::Restricted, Level::Restricted) => true,
            _ => false,
        })
        .filter_map(move |c| c.revision_at(minor).map(|r| (c, worded_on(c.id, r, server))))
}

/// The function `server` runs for `revision` of check `id`: servers older
/// than a wording change run the revision as they worded it.
fn worded_on(id: &str, revision: &Revision, server: ServerVersion) -> CheckFn {
    match id {
        "appArmorProfile" if !server.knows_app_armor_fields() => b::app_armor_profile_1_0_annotations_only,
        // Servers that old evaluate at most policy v1.25, so only revision 1.0.
        "seLinuxOptions" if !server.names_selinux_user_and_role_alone() && revision.since == 0 => {
            b::se_linux_options_1_0_user_role_with_type_only
        }
        _ => revision.check,
    }
}

/// Every check, in upstream's evaluation order (baseline IDs sorted, then restricted IDs sorted).
///
/// ```
/// use k8sops_audit::pss::{Level, CHECKS};
/// let restricted = CHECKS.iter().filter(|c| c.level == Level::Restricted).count();
/// assert_eq!(restricted, 7);
/// for check in CHECKS {
///     println!("{:<28} {:<10} since {}: {}", check.id, check.level, check.since(), check.description);
/// }
/// ```
pub static CHECKS: &[CheckInfo] = &[
    CheckInfo {
        id: "appArmorProfile",
        level: Level::Baseline,
        title: "AppArmor",
        description: "Pods and containers must not override or disable the default AppArmor profile: \
            appArmorProfile.type may only be RuntimeDefault or Localhost, and the deprecated \
            container.apparmor.security.beta.kubernetes.io/* annotations only runtime/default, localhost/* or empty.",
        remediation: "Leave securityContext.appArmorProfile unset or set its type to RuntimeDefault or Localhost \
            (pod and containers), and remove AppArmor annotations set to anything else (such as unconfined).",
        overrides: None,
        revisions: &[rev(0, b::app_armor_profile_1_0)],
    },
    CheckInfo {
        id: "capabilities_baseline",
        level: Level::Baseline,
        title: "Capabilities",
        description: "Containers must not add capabilities beyond the default set: AUDIT_WRITE, CHOWN, DAC_OVERRIDE, \
            FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT.",
        remediation: "Remove other capabilities (such as NET_RAW, NET_ADMIN or SYS_ADMIN) from \
            securityContext.capabilities.add in every container.",
        overrides: None,
        revisions: &[rev(0, b::capabilities_baseline_1_0)],
    },
    CheckInfo {
        id: "hostNamespaces",
        level: Level::Baseline,
        title: "Host Namespaces",
        description: "Pods must not share the host's network, PID or IPC namespace.",
        remediation: "Remove spec.hostNetwork, spec.hostPID and spec.hostIPC, or set them to false.",
        overrides: None,
        revisions: &[rev(0, b::host_namespaces_1_0)],
    },
    CheckInfo {
        id: "hostPathVolumes",
        level: Level::Baseline,
        title: "HostPath Volumes",
        description: "Pods must not mount hostPath volumes.",
        remediation:
            "Replace hostPath volumes with a persistentVolumeClaim, emptyDir, configMap, secret or CSI volume.",
        overrides: None,
        revisions: &[rev(0, b::host_path_volumes_1_0)],
    },
    CheckInfo {
        id: "hostPorts",
        level: Level::Baseline,
        title: "Host Ports",
        description: "Containers must not bind host ports.",
        remediation: "Remove hostPort from container ports (or set it to 0) and expose the pod through a Service.",
        overrides: None,
        revisions: &[rev(0, b::host_ports_1_0)],
    },
    CheckInfo {
        id: "hostProbesAndHostLifecycle",
        level: Level::Baseline,
        title: "Host Probes / Lifecycle Hooks",
        description: "Probes and lifecycle handlers must not set httpGet.host or tcpSocket.host \
            (they could reach other hosts from the kubelet).",
        remediation:
            "Remove host from httpGet and tcpSocket probes and lifecycle handlers; they then target the pod IP.",
        overrides: None,
        revisions: &[rev(34, b::host_probes_and_host_lifecycle_1_34)],
    },
    CheckInfo {
        id: "privileged",
        level: Level::Baseline,
        title: "Privileged Containers",
        description: "Containers must not run privileged; privileged pods disable most security mechanisms.",
        remediation: "Remove securityContext.privileged or set it to false in every container, init container \
            and ephemeral container.",
        overrides: None,
        revisions: &[rev(0, b::privileged_1_0)],
    },
    CheckInfo {
        id: "procMount",
        level: Level::Baseline,
        title: "/proc Mount Type",
        description: "Containers must keep the default /proc masks (procMount Default); from v1.35 any value is \
            allowed for pods in a user namespace (spec.hostUsers: false).",
        remediation:
            "Remove securityContext.procMount or set it to Default, or run the pod with spec.hostUsers: false.",
        overrides: None,
        revisions: &[rev(0, b::proc_mount_1_0), rev(35, b::proc_mount_1_35)],
    },
    CheckInfo {
        id: "seLinuxOptions",
        level: Level::Baseline,
        title: "SELinux",
        description: "seLinuxOptions must not set a custom user or role, and the type may only be container_t, \
            container_init_t, container_kvm_t or (from v1.31) container_engine_t.",
        remediation: "Remove seLinuxOptions.user and seLinuxOptions.role, and leave seLinuxOptions.type unset or \
            set it to an allowed type (pod and containers).",
        overrides: None,
        revisions: &[rev(0, b::se_linux_options_1_0), rev(31, b::se_linux_options_1_31)],
    },
    CheckInfo {
        id: "seccompProfile_baseline",
        level: Level::Baseline,
        title: "Seccomp",
        description: "The seccomp profile must not be set to Unconfined: seccompProfile.type may only be \
            RuntimeDefault or Localhost (before v1.19: the seccomp annotations only runtime/default, \
            docker/default or localhost/*).",
        remediation: "Leave securityContext.seccompProfile unset or set its type to RuntimeDefault or Localhost \
            (pod and containers).",
        overrides: None,
        revisions: &[rev(0, b::seccomp_profile_baseline_1_0), rev(19, b::seccomp_profile_baseline_1_19)],
    },
    CheckInfo {
        id: "sysctls",
        level: Level::Baseline,
        title: "Sysctls",
        description: "Pods may only set the namespaced, isolated \"safe\" sysctls; the list grew in v1.27, v1.29, \
            v1.32 and v1.37.",
        remediation: "Remove other sysctls from spec.securityContext.sysctls; tune node-wide sysctls on the node \
            (or through the kubelet's allowed-unsafe-sysctls in a privileged namespace).",
        overrides: None,
        revisions: &[
            rev(0, b::sysctls_1_0),
            rev(27, b::sysctls_1_27),
            rev(29, b::sysctls_1_29),
            rev(32, b::sysctls_1_32),
            rev(37, b::sysctls_1_37),
        ],
    },
    CheckInfo {
        id: "windowsHostProcess",
        level: Level::Baseline,
        title: "HostProcess",
        description: "Windows pods and containers must not run as HostProcess containers (privileged access to the \
            Windows host).",
        remediation: "Remove securityContext.windowsOptions.hostProcess or set it to false (pod and containers).",
        overrides: None,
        revisions: &[rev(0, b::windows_host_process_1_0)],
    },
    CheckInfo {
        id: "allowPrivilegeEscalation",
        level: Level::Restricted,
        title: "Privilege Escalation",
        description: "Containers must set allowPrivilegeEscalation to false (no set-user-ID or set-group-ID \
            escalation); from v1.25 Windows pods (spec.os.name: windows) are exempt.",
        remediation: "Set securityContext.allowPrivilegeEscalation: false in every container, init container and \
            ephemeral container.",
        overrides: None,
        revisions: &[rev(8, r::allow_privilege_escalation_1_8), rev(25, r::allow_privilege_escalation_1_25)],
    },
    CheckInfo {
        id: "capabilities_restricted",
        level: Level::Restricted,
        title: "Capabilities (restricted)",
        description: "Containers must drop ALL capabilities and may only add back NET_BIND_SERVICE; from v1.25 \
            Windows pods are exempt.",
        remediation: "Set securityContext.capabilities.drop: [\"ALL\"] in every container and add at most \
            NET_BIND_SERVICE.",
        overrides: Some("capabilities_baseline"),
        revisions: &[rev(22, r::capabilities_restricted_1_22), rev(25, r::capabilities_restricted_1_25)],
    },
    CheckInfo {
        id: "procMount_restricted",
        level: Level::Restricted,
        title: "/proc Mount Type (restricted)",
        description: "Containers must keep the default /proc masks (procMount Default), even in a user namespace.",
        remediation: "Remove securityContext.procMount or set it to Default.",
        overrides: Some("procMount"),
        revisions: &[rev(35, b::proc_mount_1_0)],
    },
    CheckInfo {
        id: "restrictedVolumes",
        level: Level::Restricted,
        title: "Volume Types",
        description: "Pods may only use configMap, csi, downwardAPI, emptyDir, ephemeral, image, \
            persistentVolumeClaim, projected and secret volumes.",
        remediation: "Replace other inline volume sources (hostPath, nfs, iscsi, cloud disks, ...) with a \
            persistentVolumeClaim or a CSI volume.",
        overrides: Some("hostPathVolumes"),
        revisions: &[rev(0, r::restricted_volumes_1_0)],
    },
    CheckInfo {
        id: "runAsNonRoot",
        level: Level::Restricted,
        title: "Running as Non-root",
        description: "Containers must run with runAsNonRoot: true (at pod level or in every container); from v1.35 \
            pods in a user namespace (spec.hostUsers: false) are exempt.",
        remediation: "Set spec.securityContext.runAsNonRoot: true and run the image as a non-zero UID \
            (runAsUser or a numeric USER in the image).",
        overrides: None,
        revisions: &[rev(0, r::run_as_non_root_1_0), rev(35, r::run_as_non_root_1_35)],
    },
    CheckInfo {
        id: "runAsUser",
        level: Level::Restricted,
        title: "Running as Non-root user",
        description: "Pods and containers must not set runAsUser: 0; from v1.35 pods in a user namespace are exempt.",
        remediation: "Remove runAsUser: 0 or set a non-zero UID (pod and containers).",
        overrides: None,
        revisions: &[rev(23, r::run_as_user_1_23), rev(35, r::run_as_user_1_35)],
    },
    CheckInfo {
        id: "seccompProfile_restricted",
        level: Level::Restricted,
        title: "Seccomp (restricted)",
        description: "A seccomp profile of type RuntimeDefault or Localhost must be set at pod level or in every \
            container; Unconfined and no profile are forbidden. From v1.25 Windows pods are exempt.",
        remediation: "Set spec.securityContext.seccompProfile.type: RuntimeDefault (or Localhost), or set it in \
            every container.",
        overrides: Some("seccompProfile_baseline"),
        revisions: &[rev(19, r::seccomp_profile_restricted_1_19), rev(25, r::seccomp_profile_restricted_1_25)],
    },
];
