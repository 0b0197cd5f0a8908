//! PodSecurityPolicy (`policy/v1beta1`, served by clusters before 1.25)
//! analysis, as pure functions: no network, no async.
//!
//! `k8s-openapi` 0.29 has no PodSecurityPolicy type, so [`PodSecurityPolicy`]
//! and [`PspSpec`] carry the fields that matter, read from the API's JSON
//! (unknown fields are ignored). Two questions are answered:
//!
//! - [`admits`]: would the PodSecurityPolicy admission plugin *validate* a pod
//!   under one policy, and if not, why — with upstream's messages
//!   (`spec.containers[0].securityContext.privileged: Invalid value: true:
//!   Privileged containers are not allowed`). It follows the release-1.24
//!   provider (`pkg/security/podsecuritypolicy/provider.go`, `ValidatePod`
//!   and `validateContainer`) and its strategies (`user`, `group`, `selinux`,
//!   `capabilities`, `sysctl`, `apparmor`, `seccomp`, `util`).
//! - [`pss_level`]: the Pod Security Standards level a namespace should get
//!   so that the pods the policy admits keep being admitted, after the table
//!   of "Mapping PodSecurityPolicies to Pod Security Standards"
//!   (kubernetes.io, `docs/reference/access-authn-authz/psp-to-pod-security-standards`).
//!
//! Validation only: the plugin's mutating phase (defaults for
//! `runAsUser`, `fsGroup`, `seLinuxOptions`, capabilities,
//! `allowPrivilegeEscalation`, seccomp and AppArmor profiles) is not applied.
//! A pod the plugin stored has those defaults written in already; a pod
//! template that relies on them shows the missing fields as violations.
//!
//! ```
//! use k8s_openapi::api::core::v1::PodSpec;
//! use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
//! use k8sops_audit::psp::{admits, pss_level, PodSecurityPolicy};
//! use k8sops_audit::pss::Level;
//!
//! let psp: PodSecurityPolicy = serde_json::from_value(serde_json::json!({
//!     "apiVersion": "policy/v1beta1",
//!     "kind": "PodSecurityPolicy",
//!     "metadata": {"name": "no-host"},
//!     "spec": {
//!         "seLinux": {"rule": "RunAsAny"},
//!         "runAsUser": {"rule": "RunAsAny"},
//!         "supplementalGroups": {"rule": "RunAsAny"},
//!         "fsGroup": {"rule": "RunAsAny"},
//!         "volumes": ["configMap", "secret"]
//!     }
//! }))?;
//! let pod: PodSpec = serde_json::from_value(serde_json::json!({
//!     "hostNetwork": true,
//!     "containers": [{"name": "app", "image": "nginx"}]
//! }))?;
//! let admission = admits(&psp, &ObjectMeta::default(), &pod);
//! assert!(!admission.allowed);
//! assert_eq!(
//!     admission.violations,
//!     ["spec.securityContext.hostNetwork: Invalid value: true: Host network is not allowed to be used"]
//! );
//! // seLinux RunAsAny lets pods pick any SELinux type: only "privileged" keeps them all admitted.
//! assert_eq!(pss_level(&psp).level, Level::Privileged);
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::{
    ContainerPort, PodSecurityContext, PodSpec, ProjectedVolumeSource, SELinuxOptions, SecurityContext, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::pss::Level;

/// The API version PodSecurityPolicies were last served as.
///
/// ```
/// assert_eq!(k8sops_audit::psp::API_VERSION, "policy/v1beta1");
/// ```
pub const API_VERSION: &str = "policy/v1beta1";

/// The kind of a PodSecurityPolicy object.
///
/// ```
/// assert_eq!(k8sops_audit::psp::KIND, "PodSecurityPolicy");
/// ```
pub const KIND: &str = "PodSecurityPolicy";

/// The policy annotation listing the allowed seccomp profiles, comma-separated
/// (`*` allows any).
///
/// ```
/// use k8sops_audit::psp::SECCOMP_ALLOWED_PROFILES_ANNOTATION;
/// assert_eq!(SECCOMP_ALLOWED_PROFILES_ANNOTATION, "seccomp.security.alpha.kubernetes.io/allowedProfileNames");
/// ```
pub const SECCOMP_ALLOWED_PROFILES_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/allowedProfileNames";

/// The policy annotation listing the allowed AppArmor profiles, comma-separated
/// (unset allows any).
///
/// ```
/// use k8sops_audit::psp::APPARMOR_ALLOWED_PROFILES_ANNOTATION;
/// assert_eq!(APPARMOR_ALLOWED_PROFILES_ANNOTATION, "apparmor.security.beta.kubernetes.io/allowedProfileNames");
/// ```
pub const APPARMOR_ALLOWED_PROFILES_ANNOTATION: &str = "apparmor.security.beta.kubernetes.io/allowedProfileNames";

/// The sysctls every policy allows (upstream's `SafeSysctlAllowlist` of
/// release 1.24), unless `forbiddenSysctls` names them.
///
/// ```
/// assert!(k8sops_audit::psp::SAFE_SYSCTLS.contains(&"net.ipv4.ip_local_port_range"));
/// ```
pub const SAFE_SYSCTLS: [&str; 5] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";
const APPARMOR_CONTAINER_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// A `policy/v1beta1` PodSecurityPolicy: its metadata (the seccomp and
/// AppArmor annotations live there) and the spec fields that matter.
///
/// Deserializes from the API's JSON, ignoring `apiVersion`, `kind` and any
/// unknown field; serializes with `apiVersion` and `kind` so the output reads
/// back with `kubectl apply`.
///
/// ```
/// use k8sops_audit::psp::{PodSecurityPolicy, RunAsUserRule};
///
/// let psp: PodSecurityPolicy = serde_json::from_str(r#"{
///     "apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy",
///     "metadata": {"name": "restricted"},
///     "spec": {"runAsUser": {"rule": "MustRunAsNonRoot"}, "volumes": ["secret"], "someNewField": 1}
/// }"#)?;
/// assert_eq!(psp.metadata.name.as_deref(), Some("restricted"));
/// assert_eq!(psp.spec.run_as_user.rule, RunAsUserRule::MustRunAsNonRoot);
/// let json = serde_json::to_value(&psp)?;
/// assert_eq!(json["kind"], "PodSecurityPolicy");
/// assert_eq!(serde_json::from_value::<PodSecurityPolicy>(json)?, psp);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Deserialize, Clone, Debug, PartialEq, Default)]
pub struct PodSecurityPolicy {
    /// The object's metadata; `annotations` carry the seccomp and AppArmor rules.
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: ObjectMeta,
    /// What the policy allows.
    #[serde(default, deserialize_with = "null_default")]
    pub spec: PspSpec,
}

impl Serialize for PodSecurityPolicy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = serializer.serialize_struct("PodSecurityPolicy", 4)?;
        object.serialize_field("apiVersion", API_VERSION)?;
        object.serialize_field("kind", KIND)?;
        object.serialize_field("metadata", &self.metadata)?;
        object.serialize_field("spec", &self.spec)?;
        object.end()
    }
}

/// The fields of a `PodSecurityPolicySpec` that the admission plugin reads.
///
/// Missing or `null` fields read as their defaults: `false`, empty lists,
/// `RunAsAny` rules (the API server requires the four rules, so only
/// hand-written objects lack them) and no `runAsGroup`/`runtimeClass`
/// constraint. `allowPrivilegeEscalation` stays `None` when unset; the API
/// defaults it to `true` and so does every function here.
///
/// ```
/// use k8sops_audit::psp::PspSpec;
///
/// let spec: PspSpec = serde_json::from_value(serde_json::json!({
///     "privileged": false,
///     "hostPorts": [{"min": 8000, "max": 8080}],
///     "hostPID": true,
///     "allowedHostPaths": [{"pathPrefix": "/var/log", "readOnly": true}],
///     "allowedCSIDrivers": [{"name": "secrets-store.csi.k8s.io"}],
///     "volumes": null
/// }))?;
/// assert!(spec.host_pid && !spec.host_ipc);
/// assert_eq!(spec.host_ports[0].max, 8080);
/// assert!(spec.allowed_host_paths[0].read_only);
/// assert_eq!(spec.allowed_csi_drivers[0].name, "secrets-store.csi.k8s.io");
/// assert!(spec.volumes.is_empty());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PspSpec {
    /// Whether containers may run privileged.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "is_false")]
    pub privileged: bool,
    /// Capabilities added to every container unless it drops them; they may be added explicitly too.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub default_add_capabilities: Vec<String>,
    /// Capabilities every container must drop.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub required_drop_capabilities: Vec<String>,
    /// Capabilities containers may add; `*` allows any.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub allowed_capabilities: Vec<String>,
    /// Allowed volume types (`configMap`, `hostPath`, ...; `*` allows all). Empty allows none.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// Whether pods may use the host network.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "is_false")]
    pub host_network: bool,
    /// Host port ranges containers may use. Empty allows none.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub host_ports: Vec<HostPortRange>,
    /// Whether pods may share the host PID namespace.
    #[serde(rename = "hostPID", default, deserialize_with = "null_default", skip_serializing_if = "is_false")]
    pub host_pid: bool,
    /// Whether pods may share the host IPC namespace.
    #[serde(rename = "hostIPC", default, deserialize_with = "null_default", skip_serializing_if = "is_false")]
    pub host_ipc: bool,
    /// The SELinux strategy.
    #[serde(default, deserialize_with = "null_default")]
    pub se_linux: SeLinuxStrategyOptions,
    /// The strategy for the user containers run as.
    #[serde(default, deserialize_with = "null_default")]
    pub run_as_user: RunAsUserStrategyOptions,
    /// The strategy for the primary group containers run as; `None` allows any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<GroupStrategyOptions>,
    /// The strategy for the pod's supplemental groups.
    #[serde(default, deserialize_with = "null_default")]
    pub supplemental_groups: GroupStrategyOptions,
    /// The strategy for the pod's `fsGroup`.
    #[serde(default, deserialize_with = "null_default")]
    pub fs_group: GroupStrategyOptions,
    /// Whether containers must run with a read-only root filesystem.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "is_false")]
    pub read_only_root_filesystem: bool,
    /// The `allowPrivilegeEscalation` the plugin writes into containers that leave it unset (mutating only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_allow_privilege_escalation: Option<bool>,
    /// Whether containers may allow privilege escalation; unset means `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_privilege_escalation: Option<bool>,
    /// Host path prefixes `hostPath` volumes may use. Empty allows any path.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub allowed_host_paths: Vec<AllowedHostPath>,
    /// Flexvolume drivers `flexVolume` volumes may use. Empty allows any.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub allowed_flex_volumes: Vec<AllowedFlexVolume>,
    /// CSI drivers inline `csi` volumes may use. Empty allows any.
    #[serde(
        rename = "allowedCSIDrivers",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allowed_csi_drivers: Vec<AllowedCsiDriver>,
    /// Unsafe sysctls pods may set (`prefix*` patterns allowed), besides [`SAFE_SYSCTLS`].
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub allowed_unsafe_sysctls: Vec<String>,
    /// Sysctls pods may not set (`prefix*` patterns allowed), safe ones included.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub forbidden_sysctls: Vec<String>,
    /// Allowed `procMount` types. Empty allows only `Default`.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub allowed_proc_mount_types: Vec<String>,
    /// The RuntimeClass constraint; `None` allows any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class: Option<RuntimeClassStrategyOptions>,
}

/// An inclusive range of host ports.
///
/// ```
/// let range = k8sops_audit::psp::HostPortRange { min: 8000, max: 8080 };
/// assert_eq!(serde_json::to_string(&range)?, r#"{"min":8000,"max":8080}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HostPortRange {
    /// The lowest port allowed.
    #[serde(default)]
    pub min: i32,
    /// The highest port allowed.
    #[serde(default)]
    pub max: i32,
}

/// An inclusive range of user or group IDs.
///
/// ```
/// let range = k8sops_audit::psp::IdRange { min: 1, max: 65535 };
/// assert_eq!(serde_json::to_string(&range)?, r#"{"min":1,"max":65535}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct IdRange {
    /// The lowest ID allowed.
    #[serde(default)]
    pub min: i64,
    /// The highest ID allowed.
    #[serde(default)]
    pub max: i64,
}

/// The `seLinux` strategy of a policy.
///
/// ```
/// use k8sops_audit::psp::{SeLinuxRule, SeLinuxStrategyOptions};
///
/// let opts: SeLinuxStrategyOptions = serde_json::from_value(serde_json::json!({
///     "rule": "MustRunAs", "seLinuxOptions": {"level": "s0:c123,c456"}
/// }))?;
/// assert_eq!(opts.rule, SeLinuxRule::MustRunAs);
/// assert_eq!(opts.se_linux_options.and_then(|o| o.level).as_deref(), Some("s0:c123,c456"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SeLinuxStrategyOptions {
    /// The rule.
    #[serde(default, deserialize_with = "null_default")]
    pub rule: SeLinuxRule,
    /// The options `MustRunAs` requires (user, role, type, level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub se_linux_options: Option<SELinuxOptions>,
}

/// The `runAsUser` strategy of a policy.
///
/// ```
/// use k8sops_audit::psp::{IdRange, RunAsUserRule, RunAsUserStrategyOptions};
///
/// let opts: RunAsUserStrategyOptions =
///     serde_json::from_value(serde_json::json!({"rule": "MustRunAs", "ranges": [{"min": 1000, "max": 2000}]}))?;
/// assert_eq!(opts.rule, RunAsUserRule::MustRunAs);
/// assert_eq!(opts.ranges, [IdRange { min: 1000, max: 2000 }]);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
pub struct RunAsUserStrategyOptions {
    /// The rule.
    #[serde(default, deserialize_with = "null_default")]
    pub rule: RunAsUserRule,
    /// The ranges `MustRunAs` allows.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<IdRange>,
}

/// A group strategy of a policy: `runAsGroup`, `supplementalGroups` or `fsGroup`.
///
/// ```
/// use k8sops_audit::psp::{GroupRule, GroupStrategyOptions};
///
/// let opts: GroupStrategyOptions = serde_json::from_value(serde_json::json!({"rule": "MayRunAs", "ranges": [{"min": 1, "max": 65535}]}))?;
/// assert_eq!(opts.rule, GroupRule::MayRunAs);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
pub struct GroupStrategyOptions {
    /// The rule.
    #[serde(default, deserialize_with = "null_default")]
    pub rule: GroupRule,
    /// The ranges `MustRunAs` and `MayRunAs` allow.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<IdRange>,
}

/// A host path prefix `hostPath` volumes may use.
///
/// ```
/// let allowed: k8sops_audit::psp::AllowedHostPath =
///     serde_json::from_value(serde_json::json!({"pathPrefix": "/var/log", "readOnly": true}))?;
/// assert_eq!(allowed.path_prefix, "/var/log");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AllowedHostPath {
    /// The prefix, matched by whole path segments (`/foo` allows `/foo/bar`, not `/foobar`).
    #[serde(default, deserialize_with = "null_default")]
    pub path_prefix: String,
    /// Whether every mount of such a volume must be read-only.
    #[serde(default, deserialize_with = "null_default", skip_serializing_if = "is_false")]
    pub read_only: bool,
}

/// A Flexvolume driver `flexVolume` volumes may use.
///
/// ```
/// let allowed: k8sops_audit::psp::AllowedFlexVolume = serde_json::from_value(serde_json::json!({"driver": "example/lvm"}))?;
/// assert_eq!(allowed.driver, "example/lvm");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct AllowedFlexVolume {
    /// The driver name.
    #[serde(default, deserialize_with = "null_default")]
    pub driver: String,
}

/// A CSI driver inline `csi` volumes may use.
///
/// ```
/// let allowed: k8sops_audit::psp::AllowedCsiDriver = serde_json::from_value(serde_json::json!({"name": "csi.example.com"}))?;
/// assert_eq!(allowed.name, "csi.example.com");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct AllowedCsiDriver {
    /// The driver name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
}

/// The `runtimeClass` strategy of a policy.
///
/// ```
/// let opts: k8sops_audit::psp::RuntimeClassStrategyOptions =
///     serde_json::from_value(serde_json::json!({"allowedRuntimeClassNames": ["gvisor"], "defaultRuntimeClassName": "gvisor"}))?;
/// assert_eq!(opts.allowed_runtime_class_names, ["gvisor"]);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeClassStrategyOptions {
    /// RuntimeClass names pods may use (`*` allows any); pods without one are always allowed.
    #[serde(default, deserialize_with = "null_default")]
    pub allowed_runtime_class_names: Vec<String>,
    /// The RuntimeClass written into pods that have none (mutating only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_runtime_class_name: Option<String>,
}

/// The `runAsUser.rule` of a policy.
///
/// Reads any string: an unknown rule is kept as [`RunAsUserRule::Other`]
/// (upstream refuses to use such a policy).
///
/// ```
/// use k8sops_audit::psp::RunAsUserRule;
/// let rule: RunAsUserRule = serde_json::from_str(r#""MustRunAsNonRoot""#)?;
/// assert_eq!(rule, RunAsUserRule::MustRunAsNonRoot);
/// assert_eq!(rule.to_string(), "MustRunAsNonRoot");
/// assert_eq!(RunAsUserRule::from("Nobody".to_string()), RunAsUserRule::Other("Nobody".into()));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(from = "String", into = "String")]
pub enum RunAsUserRule {
    /// The user must be in one of the ranges.
    MustRunAs,
    /// The user must not be root.
    MustRunAsNonRoot,
    /// Any user.
    RunAsAny,
    /// A rule this crate (and upstream) does not know.
    Other(String),
}

/// A group rule of a policy (`runAsGroup`, `supplementalGroups`, `fsGroup`).
///
/// ```
/// use k8sops_audit::psp::GroupRule;
/// let rule: GroupRule = serde_json::from_str(r#""MayRunAs""#)?;
/// assert_eq!(rule, GroupRule::MayRunAs);
/// assert_eq!(rule.to_string(), "MayRunAs");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(from = "String", into = "String")]
pub enum GroupRule {
    /// At least one group, all in the ranges.
    MustRunAs,
    /// Groups, if any, in the ranges.
    MayRunAs,
    /// Any groups.
    RunAsAny,
    /// A rule this crate (and upstream) does not know.
    Other(String),
}

/// The `seLinux.rule` of a policy.
///
/// ```
/// use k8sops_audit::psp::SeLinuxRule;
/// let rule: SeLinuxRule = serde_json::from_str(r#""RunAsAny""#)?;
/// assert_eq!(rule, SeLinuxRule::RunAsAny);
/// assert_eq!(rule.to_string(), "RunAsAny");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(from = "String", into = "String")]
pub enum SeLinuxRule {
    /// The SELinux options must match the policy's.
    MustRunAs,
    /// Any SELinux options.
    RunAsAny,
    /// A rule this crate (and upstream) does not know.
    Other(String),
}

macro_rules! rule_conversions {
    ($name:ident { $($variant:ident),* }) => {
        impl $name {
            fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => stringify!($variant),)*
                    $name::Other(other) => other,
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::RunAsAny
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                match value.as_str() {
                    $(stringify!($variant) => $name::$variant,)*
                    _ => $name::Other(value),
                }
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                match value {
                    $name::Other(other) => other,
                    known => known.as_str().to_string(),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

rule_conversions!(RunAsUserRule { MustRunAs, MustRunAsNonRoot, RunAsAny });
rule_conversions!(GroupRule { MustRunAs, MayRunAs, RunAsAny });
rule_conversions!(SeLinuxRule { MustRunAs, RunAsAny });

/// Reads `null` as the default, as Go's JSON decoding does.
fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Whether a policy validates a pod, and upstream's field errors if not.
///
/// ```
/// use k8sops_audit::psp::Admission;
///
/// let admission = Admission {
///     allowed: false,
///     violations: vec!["spec.securityContext.hostPID: Invalid value: true: Host PID is not allowed to be used".into()],
/// };
/// assert_eq!(
///     admission.message().as_deref(),
///     Some("PodSecurityPolicy: unable to admit pod: [spec.securityContext.hostPID: Invalid value: true: Host PID is not allowed to be used]")
/// );
/// assert_eq!(Admission { allowed: true, violations: vec![] }.message(), None);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Admission {
    /// Whether the policy validates the pod (no violation).
    pub allowed: bool,
    /// Upstream's field errors (`<path>: <type>: <detail>`), pod-level ones
    /// first, then each init, regular and ephemeral container's in order.
    pub violations: Vec<String>,
}

impl Admission {
    /// The admission plugin's message for a pod this policy rejects, as the
    /// API server words it after `pods "<name>" is forbidden: ` when this is
    /// the only policy; `None` when the pod is allowed.
    ///
    /// ```
    /// use k8sops_audit::psp::Admission;
    /// let admission = Admission { allowed: false, violations: vec!["a".into(), "b".into()] };
    /// assert_eq!(admission.message().as_deref(), Some("PodSecurityPolicy: unable to admit pod: [a b]"));
    /// ```
    pub fn message(&self) -> Option<String> {
        (!self.allowed).then(|| format!("PodSecurityPolicy: unable to admit pod: [{}]", self.violations.join(" ")))
    }
}

/// The PodSecurityPolicy volume type name of a pod volume (`configMap`,
/// `hostPath`, `persistentVolumeClaim`, `csi`, `ephemeral`, ...), as
/// upstream's `GetVolumeFSType` names it; `None` for a source PodSecurityPolicy
/// never knew (the `image` volumes of Kubernetes 1.31+) or no source at all.
///
/// ```
/// use k8s_openapi::api::core::v1::{ConfigMapVolumeSource, Volume};
///
/// let volume = Volume { name: "cfg".into(), config_map: Some(ConfigMapVolumeSource::default()), ..Default::default() };
/// assert_eq!(k8sops_audit::psp::volume_type(&volume), Some("configMap"));
/// assert_eq!(k8sops_audit::psp::volume_type(&Volume::default()), None);
/// ```
pub fn volume_type(volume: &Volume) -> Option<&'static str> {
    let v = volume;
    let kind = if v.host_path.is_some() {
        "hostPath"
    } else if v.empty_dir.is_some() {
        "emptyDir"
    } else if v.gce_persistent_disk.is_some() {
        "gcePersistentDisk"
    } else if v.aws_elastic_block_store.is_some() {
        "awsElasticBlockStore"
    } else if v.git_repo.is_some() {
        "gitRepo"
    } else if v.secret.is_some() {
        "secret"
    } else if v.nfs.is_some() {
        "nfs"
    } else if v.iscsi.is_some() {
        "iscsi"
    } else if v.glusterfs.is_some() {
        "glusterfs"
    } else if v.persistent_volume_claim.is_some() {
        "persistentVolumeClaim"
    } else if v.rbd.is_some() {
        "rbd"
    } else if v.flex_volume.is_some() {
        "flexVolume"
    } else if v.cinder.is_some() {
        "cinder"
    } else if v.cephfs.is_some() {
        "cephFS"
    } else if v.flocker.is_some() {
        "flocker"
    } else if v.downward_api.is_some() {
        "downwardAPI"
    } else if v.fc.is_some() {
        "fc"
    } else if v.azure_file.is_some() {
        "azureFile"
    } else if v.config_map.is_some() {
        "configMap"
    } else if v.vsphere_volume.is_some() {
        "vsphereVolume"
    } else if v.quobyte.is_some() {
        "quobyte"
    } else if v.azure_disk.is_some() {
        "azureDisk"
    } else if v.photon_persistent_disk.is_some() {
        "photonPersistentDisk"
    } else if v.storageos.is_some() {
        "storageos"
    } else if v.projected.is_some() {
        "projected"
    } else if v.portworx_volume.is_some() {
        "portworxVolume"
    } else if v.scale_io.is_some() {
        "scaleIO"
    } else if v.csi.is_some() {
        "csi"
    } else if v.ephemeral.is_some() {
        "ephemeral"
    } else {
        return None;
    };
    Some(kind)
}

/// Whether the PodSecurityPolicy admission plugin would validate this pod
/// under `psp`, with the reasons it would not.
///
/// Follows upstream's release-1.24 `ValidatePod`: `fsGroup`,
/// `supplementalGroups`, the pod's seccomp profile and SELinux options, host
/// namespaces, sysctls, volumes (types, `allowedHostPaths` by whole path
/// segments with read-only mounts, Flexvolume and CSI drivers, and the
/// projected service account token volume a policy allowing `secret`
/// accepts), the RuntimeClass, then every init, regular and ephemeral
/// container: user, group, SELinux, AppArmor, seccomp, privileged,
/// `procMount`, capabilities, host ports, read-only root filesystem and
/// privilege escalation. Messages are upstream's field errors; Go's `%#v`
/// renderings of lists are reproduced (`[]int64{0}`, `[]core.Capability(nil)`).
///
/// This is validation only, the plugin's second phase (its `Validate`, which
/// also refuses a policy whose defaults would change the pod): fields the
/// mutating phase fills in are required as they would be stored. So a
/// container leaving `allowPrivilegeEscalation` unset is rejected by a
/// policy with `allowPrivilegeEscalation: false` (`Invalid value: "null"`),
/// as upstream's `ValidatePod` does; at creation the mutating phase would
/// have written `false` (or `defaultAllowPrivilegeEscalation`) into the pod.
/// Likewise `runAsUser` under `MustRunAs`, `fsGroup` under `MustRunAs`,
/// `seLinuxOptions` under `MustRunAs`, capabilities when the policy adds or
/// drops some, `readOnlyRootFilesystem` when required, and a seccomp profile
/// when the policy lists allowed ones.
///
/// Seccomp profiles are read from the annotations, or from the
/// `seccompProfile` fields the API server mirrors into them; AppArmor
/// profiles from the annotations, or the `appArmorProfile` fields of newer
/// API versions. A policy upstream cannot build a provider from (an unknown
/// rule, `MustRunAs` without ranges or SELinux options) admits nothing, and
/// the violations say why.
///
/// ```
/// use k8s_openapi::api::core::v1::PodSpec;
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
/// use k8sops_audit::psp::{admits, PodSecurityPolicy};
///
/// let psp: PodSecurityPolicy = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "nonroot"},
///     "spec": {
///         "runAsUser": {"rule": "MustRunAsNonRoot"},
///         "seLinux": {"rule": "RunAsAny"},
///         "supplementalGroups": {"rule": "RunAsAny"},
///         "fsGroup": {"rule": "RunAsAny"},
///         "allowPrivilegeEscalation": false
///     }
/// }))?;
/// let pod: PodSpec = serde_json::from_value(serde_json::json!({
///     "securityContext": {"runAsUser": 1000},
///     "containers": [
///         {"name": "app", "securityContext": {"allowPrivilegeEscalation": false}},
///         {"name": "sidecar", "securityContext": {"runAsUser": 0, "privileged": true}}
///     ]
/// }))?;
/// let admission = admits(&psp, &ObjectMeta::default(), &pod);
/// assert!(!admission.allowed);
/// assert_eq!(admission.violations, [
///     "spec.containers[1].securityContext.runAsUser: Invalid value: 0: running with the root UID is forbidden",
///     "spec.containers[1].securityContext.privileged: Invalid value: true: Privileged containers are not allowed",
///     "spec.containers[1].securityContext.allowPrivilegeEscalation: Invalid value: \"null\": Allowing privilege escalation for containers is not allowed",
/// ]);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn admits(psp: &PodSecurityPolicy, meta: &ObjectMeta, spec: &PodSpec) -> Admission {
    let provider_errors = provider_errors(&psp.spec);
    if !provider_errors.is_empty() {
        let name = psp.metadata.name.as_deref().unwrap_or_default();
        let violations =
            provider_errors.into_iter().map(|err| format!("error creating provider for PSP {name}: {err}")).collect();
        return Admission { allowed: false, violations };
    }
    let mut validator = Validator {
        psp,
        annotations: meta.annotations.as_ref(),
        spec,
        pod_sc: spec.security_context.as_ref(),
        errs: Vec::new(),
    };
    validator.validate_pod();
    Admission { allowed: validator.errs.is_empty(), violations: validator.errs }
}

/// The errors upstream's strategy factory returns for a policy it cannot use.
fn provider_errors(spec: &PspSpec) -> Vec<String> {
    let mut errs = Vec::new();
    match &spec.run_as_user.rule {
        RunAsUserRule::MustRunAs if spec.run_as_user.ranges.is_empty() => {
            errs.push("MustRunAsRange requires at least one range".to_string());
        }
        RunAsUserRule::Other(rule) => errs.push(format!("Unrecognized RunAsUser strategy type {rule}")),
        _ => {}
    }
    if let Some(run_as_group) = &spec.run_as_group {
        group_provider_error(run_as_group, "RunAsGroup", &mut errs);
    }
    match &spec.se_linux.rule {
        SeLinuxRule::MustRunAs if spec.se_linux.se_linux_options.is_none() => {
            errs.push("MustRunAs requires SELinuxOptions".to_string());
        }
        SeLinuxRule::Other(rule) => errs.push(format!("Unrecognized SELinuxContext strategy type {rule}")),
        _ => {}
    }
    group_provider_error(&spec.fs_group, "FSGroup", &mut errs);
    group_provider_error(&spec.supplemental_groups, "SupplementalGroups", &mut errs);
    errs
}

fn group_provider_error(opts: &GroupStrategyOptions, what: &str, errs: &mut Vec<String>) {
    match &opts.rule {
        GroupRule::MustRunAs | GroupRule::MayRunAs if opts.ranges.is_empty() => {
            errs.push(format!("ranges must be supplied for {}", opts.rule));
        }
        GroupRule::Other(rule) => errs.push(format!("Unrecognized {what} strategy type {rule}")),
        _ => {}
    }
}

/// One container of the pod, whichever list it is in.
struct ContainerView<'a> {
    path: String,
    name: &'a str,
    sc: Option<&'a SecurityContext>,
    ports: &'a [ContainerPort],
    mounts: &'a [VolumeMount],
}

/// Init, regular and ephemeral containers, in upstream's `VisitContainersWithPath` order.
fn containers(spec: &PodSpec) -> Vec<ContainerView<'_>> {
    let mut out = Vec::new();
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        out.push(ContainerView {
            path: format!("spec.initContainers[{i}]"),
            name: &c.name,
            sc: c.security_context.as_ref(),
            ports: c.ports.as_deref().unwrap_or_default(),
            mounts: c.volume_mounts.as_deref().unwrap_or_default(),
        });
    }
    for (i, c) in spec.containers.iter().enumerate() {
        out.push(ContainerView {
            path: format!("spec.containers[{i}]"),
            name: &c.name,
            sc: c.security_context.as_ref(),
            ports: c.ports.as_deref().unwrap_or_default(),
            mounts: c.volume_mounts.as_deref().unwrap_or_default(),
        });
    }
    for (i, c) in spec.ephemeral_containers.iter().flatten().enumerate() {
        out.push(ContainerView {
            path: format!("spec.ephemeralContainers[{i}]"),
            name: &c.name,
            sc: c.security_context.as_ref(),
            ports: c.ports.as_deref().unwrap_or_default(),
            mounts: c.volume_mounts.as_deref().unwrap_or_default(),
        });
    }
    out
}

struct Validator<'a> {
    psp: &'a PodSecurityPolicy,
    annotations: Option<&'a BTreeMap<String, String>>,
    spec: &'a PodSpec,
    pod_sc: Option<&'a PodSecurityContext>,
    errs: Vec<String>,
}

impl Validator<'_> {
    fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.and_then(|a| a.get(key)).map(String::as_str)
    }

    fn invalid(&mut self, path: &str, value: impl fmt::Display, detail: &str) {
        let mut err = format!("{path}: Invalid value: {value}");
        if !detail.is_empty() {
            err.push_str(": ");
            err.push_str(detail);
        }
        self.errs.push(err);
    }

    fn required(&mut self, path: &str, detail: &str) {
        let mut err = format!("{path}: Required value");
        if !detail.is_empty() {
            err.push_str(": ");
            err.push_str(detail);
        }
        self.errs.push(err);
    }

    fn forbidden(&mut self, path: &str, detail: &str) {
        self.errs.push(format!("{path}: Forbidden: {detail}"));
    }

    fn validate_pod(&mut self) {
        let psp = &self.psp.spec;
        let pod_sc = self.pod_sc;

        let fs_groups = pod_sc.and_then(|sc| sc.fs_group).map(|g| vec![g]);
        self.validate_groups(&psp.fs_group, "spec.securityContext.fsGroup", fs_groups.as_deref());
        let supplemental = pod_sc.and_then(|sc| sc.supplemental_groups.as_deref());
        self.validate_groups(&psp.supplemental_groups, "spec.securityContext.supplementalGroups", supplemental);

        let pod_profile = self.pod_seccomp_profile();
        self.validate_seccomp(&format!("pod.metadata.annotations[{SECCOMP_POD_ANNOTATION}]"), &pod_profile);

        let pod_se_linux = pod_sc.and_then(|sc| sc.se_linux_options.as_ref());
        self.validate_se_linux("spec.securityContext.seLinuxOptions", pod_se_linux);

        if !psp.host_network && self.spec.host_network == Some(true) {
            self.invalid("spec.securityContext.hostNetwork", true, "Host network is not allowed to be used");
        }
        if !psp.host_pid && self.spec.host_pid == Some(true) {
            self.invalid("spec.securityContext.hostPID", true, "Host PID is not allowed to be used");
        }
        if !psp.host_ipc && self.spec.host_ipc == Some(true) {
            self.invalid("spec.securityContext.hostIPC", true, "Host IPC is not allowed to be used");
        }

        self.validate_sysctls();
        self.validate_volumes();

        if let (Some(runtime_class), Some(name)) = (&psp.runtime_class, &self.spec.runtime_class_name) {
            let allowed = runtime_class.allowed_runtime_class_names.iter().any(|valid| valid == "*" || valid == name);
            if !allowed {
                self.invalid("spec.runtimeClassName", go_quote(name), "");
            }
        }

        for container in containers(self.spec) {
            self.validate_container(&container);
        }
    }

    fn validate_groups(&mut self, opts: &GroupStrategyOptions, path: &str, groups: Option<&[i64]>) {
        let must = match opts.rule {
            GroupRule::MustRunAs => true,
            GroupRule::MayRunAs => false,
            GroupRule::RunAsAny | GroupRule::Other(_) => return,
        };
        let list = groups.unwrap_or_default();
        if must && list.is_empty() {
            self.invalid(path, go_int64s(groups), "unable to validate empty groups against required ranges");
        }
        for group in list {
            if !opts.ranges.iter().any(|r| r.min <= *group && *group <= r.max) {
                let detail = format!("group {group} must be in the ranges: {}", go_id_ranges(&opts.ranges));
                self.invalid(path, go_int64s(groups), &detail);
            }
        }
    }

    fn validate_se_linux(&mut self, path: &str, options: Option<&SELinuxOptions>) {
        if self.psp.spec.se_linux.rule != SeLinuxRule::MustRunAs {
            return;
        }
        let Some(required) = self.psp.spec.se_linux.se_linux_options.as_ref() else { return };
        let Some(actual) = options else {
            self.required(path, "");
            return;
        };
        let want = |v: &Option<String>| v.clone().unwrap_or_default();
        let (level, want_level) = (want(&actual.level), want(&required.level));
        if !equal_levels(&want_level, &level) {
            self.invalid(&format!("{path}.level"), go_quote(&level), &format!("must be {want_level}"));
        }
        for (field, have, wanted) in [
            ("role", &actual.role, &required.role),
            ("type", &actual.type_, &required.type_),
            ("user", &actual.user, &required.user),
        ] {
            let (have, wanted) = (want(have), want(wanted));
            if have != wanted {
                self.invalid(&format!("{path}.{field}"), go_quote(&have), &format!("must be {wanted}"));
            }
        }
    }

    fn validate_sysctls(&mut self) {
        let psp = &self.psp.spec;
        let sysctls = self.pod_sc.and_then(|sc| sc.sysctls.as_deref()).unwrap_or_default();
        for (i, sysctl) in sysctls.iter().enumerate() {
            let name = sysctl.name.as_str();
            let path = format!("pod.spec.securityContext.sysctls[{i}]");
            if matches_sysctl(&psp.forbidden_sysctls, name) {
                self.forbidden(&path, &format!("sysctl {} is not allowed", go_quote(name)));
            } else if SAFE_SYSCTLS.contains(&name) || matches_sysctl(&psp.allowed_unsafe_sysctls, name) {
                continue;
            } else {
                self.forbidden(&path, &format!("unsafe sysctl {} is not allowed", go_quote(name)));
            }
        }
    }

    fn validate_volumes(&mut self) {
        let psp = &self.psp.spec;
        let volumes = self.spec.volumes.as_deref().unwrap_or_default();
        let allows_all = psp.volumes.iter().any(|v| v == "*");
        for (i, volume) in volumes.iter().enumerate() {
            let path = format!("spec.volumes[{i}]");
            let Some(kind) = volume_type(volume) else {
                let detail = format!("unknown volume type for volume {}", go_quote(&volume.name));
                self.invalid(&path, go_quote(""), &detail);
                continue;
            };
            if !allows_all && !allows_volume_type(&psp.volumes, kind, volume) {
                self.invalid(&path, go_quote(kind), &format!("{kind} volumes are not allowed to be used"));
                continue;
            }
            // Upstream switches on the type: a volume setting several sources counts as the first.
            if let ("hostPath", Some(host_path)) = (kind, &volume.host_path) {
                let (allowed, read_only) = allows_host_path(&psp.allowed_host_paths, &host_path.path);
                if !allowed {
                    self.invalid(
                        &format!("{path}.hostPath.pathPrefix"),
                        go_quote(&host_path.path),
                        "is not allowed to be used",
                    );
                } else if read_only {
                    for container in containers(self.spec) {
                        for (j, mount) in container.mounts.iter().enumerate() {
                            if mount.name == volume.name && mount.read_only != Some(true) {
                                let mount_path = format!("{}.volumeMounts[{j}].readOnly", container.path);
                                self.invalid(&mount_path, false, "must be read-only");
                            }
                        }
                    }
                }
            } else if let ("flexVolume", Some(flex)) = (kind, &volume.flex_volume) {
                let drivers = &psp.allowed_flex_volumes;
                if !drivers.is_empty() && !drivers.iter().any(|d| d.driver == flex.driver) {
                    let detail = "Flexvolume driver is not allowed to be used";
                    self.invalid(&format!("{path}.driver"), go_quote(&flex.driver), detail);
                }
            } else if let ("csi", Some(csi)) = (kind, &volume.csi) {
                let drivers = &psp.allowed_csi_drivers;
                if !drivers.is_empty() && !drivers.iter().any(|d| d.name == csi.driver) {
                    let detail = "Inline CSI driver is not allowed to be used";
                    self.invalid(&format!("{path}.csi.driver"), go_quote(&csi.driver), detail);
                }
            }
        }
    }

    fn validate_container(&mut self, c: &ContainerView<'_>) {
        let psp = &self.psp.spec;
        let sc = c.sc;
        let pod_sc = self.pod_sc;
        let sc_path = format!("{}.securityContext", c.path);

        // Effective values: the container's, else the pod's.
        let run_as_user = sc.and_then(|s| s.run_as_user).or_else(|| pod_sc.and_then(|s| s.run_as_user));
        let run_as_non_root = sc.and_then(|s| s.run_as_non_root).or_else(|| pod_sc.and_then(|s| s.run_as_non_root));
        let run_as_group = sc.and_then(|s| s.run_as_group).or_else(|| pod_sc.and_then(|s| s.run_as_group));
        let se_linux =
            sc.and_then(|s| s.se_linux_options.as_ref()).or_else(|| pod_sc.and_then(|s| s.se_linux_options.as_ref()));

        let user_path = format!("{sc_path}.runAsUser");
        match psp.run_as_user.rule {
            RunAsUserRule::MustRunAs => match run_as_user {
                None => self.required(&user_path, ""),
                Some(uid) => {
                    if !psp.run_as_user.ranges.iter().any(|r| r.min <= uid && uid <= r.max) {
                        let detail = format!("must be in the ranges: {}", go_id_ranges(&psp.run_as_user.ranges));
                        self.invalid(&user_path, uid, &detail);
                    }
                }
            },
            RunAsUserRule::MustRunAsNonRoot => match (run_as_non_root, run_as_user) {
                (None, None) => self.required(&format!("{sc_path}.runAsNonRoot"), "must be true"),
                (Some(false), _) => self.invalid(&format!("{sc_path}.runAsNonRoot"), false, "must be true"),
                (_, Some(0)) => self.invalid(&user_path, 0, "running with the root UID is forbidden"),
                _ => {}
            },
            RunAsUserRule::RunAsAny | RunAsUserRule::Other(_) => {}
        }

        if let Some(run_as_group_opts) = &psp.run_as_group {
            let groups = run_as_group.map(|g| vec![g]);
            self.validate_groups(run_as_group_opts, &sc_path, groups.as_deref());
        }

        self.validate_se_linux(&format!("{sc_path}.seLinuxOptions"), se_linux);
        self.validate_app_armor(c);
        let profile = self.container_seccomp_profile(c);
        self.validate_seccomp(
            &format!("pod.metadata.annotations[{SECCOMP_CONTAINER_ANNOTATION_PREFIX}{}]", c.name),
            &profile,
        );

        if !psp.privileged && sc.and_then(|s| s.privileged) == Some(true) {
            self.invalid(&format!("{sc_path}.privileged"), true, "Privileged containers are not allowed");
        }

        let proc_mount = sc.and_then(|s| s.proc_mount.as_deref()).unwrap_or("Default");
        let proc_mount_allowed = if psp.allowed_proc_mount_types.is_empty() {
            proc_mount == "Default"
        } else {
            psp.allowed_proc_mount_types.iter().any(|t| t == proc_mount)
        };
        if !proc_mount_allowed {
            self.invalid(&format!("{sc_path}.procMount"), go_quote(proc_mount), "ProcMountType is not allowed");
        }

        self.validate_capabilities(&format!("{sc_path}.capabilities"), sc);

        for port in c.ports {
            let Some(host_port) = port.host_port.filter(|p| *p > 0) else { continue };
            if !psp.host_ports.iter().any(|r| r.min <= host_port && host_port <= r.max) {
                let detail = format!(
                    "Host port {host_port} is not allowed to be used. Allowed ports: [{}]",
                    host_port_ranges(&psp.host_ports)
                );
                self.invalid(&format!("{}.hostPort", c.path), host_port, &detail);
            }
        }

        if psp.read_only_root_filesystem {
            let path = format!("{sc_path}.readOnlyRootFilesystem");
            match sc.and_then(|s| s.read_only_root_filesystem) {
                None => self.invalid(
                    &path,
                    go_quote("null"),
                    "ReadOnlyRootFilesystem may not be nil and must be set to true",
                ),
                Some(false) => self.invalid(&path, false, "ReadOnlyRootFilesystem must be set to true"),
                Some(true) => {}
            }
        }

        if psp.allow_privilege_escalation == Some(false) {
            let path = format!("{sc_path}.allowPrivilegeEscalation");
            let detail = "Allowing privilege escalation for containers is not allowed";
            match sc.and_then(|s| s.allow_privilege_escalation) {
                None => self.invalid(&path, go_quote("null"), detail),
                Some(true) => self.invalid(&path, true, detail),
                Some(false) => {}
            }
        }
    }

    fn validate_capabilities(&mut self, path: &str, sc: Option<&SecurityContext>) {
        let psp = &self.psp.spec;
        let Some(caps) = sc.and_then(|s| s.capabilities.as_ref()) else {
            if !psp.default_add_capabilities.is_empty() || !psp.required_drop_capabilities.is_empty() {
                self.invalid(path, go_quote("null"), "required capabilities are not set on the securityContext");
            }
            return;
        };
        if psp.allowed_capabilities.iter().any(|c| c == "*") {
            return;
        }
        for cap in caps.add.iter().flatten() {
            if !psp.default_add_capabilities.contains(cap) && !psp.allowed_capabilities.contains(cap) {
                self.invalid(&format!("{path}.add"), go_quote(cap), "capability may not be added");
            }
        }
        let drops = caps.drop.as_deref();
        for required in &psp.required_drop_capabilities {
            if !drops.unwrap_or_default().contains(required) {
                let detail = format!("{required} is required to be dropped but was not found");
                self.invalid(&format!("{path}.drop"), go_capabilities(drops), &detail);
            }
        }
    }

    fn validate_app_armor(&mut self, c: &ContainerView<'_>) {
        let Some(allowed_string) =
            self.psp.metadata.annotations.as_ref().and_then(|a| a.get(APPARMOR_ALLOWED_PROFILES_ANNOTATION))
        else {
            return;
        };
        let allowed: Vec<&str> = allowed_string.split(',').collect();
        let path = format!("pod.metadata.annotations[{APPARMOR_CONTAINER_ANNOTATION_PREFIX}{}]", c.name);
        let key = format!("{APPARMOR_CONTAINER_ANNOTATION_PREFIX}{}", c.name);
        let profile = match self.annotation(&key) {
            Some(profile) => profile.to_string(),
            None => {
                c.sc.and_then(|s| s.app_armor_profile.as_ref())
                    .or_else(|| self.pod_sc.and_then(|s| s.app_armor_profile.as_ref()))
                    .map(|p| profile_name(&p.type_, p.localhost_profile.as_deref()))
                    .unwrap_or_default()
            }
        };
        if profile.is_empty() {
            // `allowed` always has an entry: splitting yields at least one.
            self.forbidden(&path, "AppArmor profile must be set");
        } else if !allowed.contains(&profile.as_str()) {
            let detail = format!("{profile} is not an allowed profile. Allowed values: {}", go_quote(allowed_string));
            self.forbidden(&path, &detail);
        }
    }

    /// The pod's seccomp profile as an annotation value: the annotation, else the field.
    fn pod_seccomp_profile(&self) -> String {
        match self.annotation(SECCOMP_POD_ANNOTATION) {
            Some(profile) if !profile.is_empty() => profile.to_string(),
            _ => self
                .pod_sc
                .and_then(|s| s.seccomp_profile.as_ref())
                .map(|p| profile_name(&p.type_, p.localhost_profile.as_deref()))
                .unwrap_or_default(),
        }
    }

    /// The container's seccomp profile as an annotation value: its field, its
    /// annotation, else the pod's.
    fn container_seccomp_profile(&self, c: &ContainerView<'_>) -> String {
        if let Some(p) = c.sc.and_then(|s| s.seccomp_profile.as_ref()) {
            return profile_name(&p.type_, p.localhost_profile.as_deref());
        }
        let key = format!("{SECCOMP_CONTAINER_ANNOTATION_PREFIX}{}", c.name);
        match self.annotation(&key) {
            Some(profile) => profile.to_string(),
            None => self.pod_seccomp_profile(),
        }
    }

    fn validate_seccomp(&mut self, path: &str, profile: &str) {
        let allowed_string =
            self.psp.metadata.annotations.as_ref().and_then(|a| a.get(SECCOMP_ALLOWED_PROFILES_ANNOTATION));
        let mut allow_any = false;
        let mut allowed: Vec<&str> = Vec::new();
        for p in allowed_string.map(|s| s.split(',')).into_iter().flatten() {
            if p == "*" {
                allow_any = true;
            } else {
                allowed.push(p);
            }
        }
        if !allow_any && allowed.is_empty() && !profile.is_empty() {
            self.forbidden(path, "seccomp may not be set");
            return;
        }
        let profile_allowed = (allowed.is_empty() && profile.is_empty()) || allow_any || allowed.contains(&profile);
        if !profile_allowed {
            let detail = format!(
                "{profile} is not an allowed seccomp profile. Valid values are {}",
                allowed_string.map(String::as_str).unwrap_or_default()
            );
            self.forbidden(path, &detail);
        }
    }
}

/// The annotation value a seccomp or AppArmor profile field stands for.
fn profile_name(kind: &str, localhost: Option<&str>) -> String {
    match (kind, localhost) {
        ("RuntimeDefault", _) => "runtime/default".to_string(),
        ("Unconfined", _) => "unconfined".to_string(),
        ("Localhost", Some(profile)) => format!("localhost/{profile}"),
        _ => String::new(),
    }
}

/// Upstream's `allowsVolumeType`: the type is listed, or the volume is the
/// projected service account token volume and `secret` is listed.
fn allows_volume_type(allowed: &[String], kind: &str, volume: &Volume) -> bool {
    if allowed.iter().any(|v| v == kind) {
        return true;
    }
    allowed.iter().any(|v| v == "secret")
        && kind == "projected"
        && volume.projected.as_ref().is_some_and(is_only_service_account_token_sources)
}

/// Upstream's `IsOnlyServiceAccountTokenSources`: what the service account
/// admission plugin injects (token, `kube-root-ca.crt`, namespace).
fn is_only_service_account_token_sources(projected: &ProjectedVolumeSource) -> bool {
    projected.sources.iter().flatten().all(|s| {
        if s.service_account_token.is_none() && s.config_map.is_none() && s.downward_api.is_none() {
            return false;
        }
        if let Some(token) = &s.service_account_token {
            if token.path != "token" || token.audience.as_deref().is_some_and(|a| !a.is_empty()) {
                return false;
            }
        }
        if s.config_map.as_ref().is_some_and(|cm| cm.name != "kube-root-ca.crt") {
            return false;
        }
        s.downward_api.iter().flat_map(|d| d.items.iter().flatten()).all(|item| {
            item.path == "namespace"
                && item.field_ref.as_ref().is_some_and(|f| {
                    // The API server defaults an unset apiVersion to v1.
                    f.api_version.as_deref().unwrap_or("v1") == "v1" && f.field_path == "metadata.namespace"
                })
        })
    })
}

/// Upstream's `AllowsHostVolumePath`: (allowed, must be read-only).
fn allows_host_path(allowed: &[AllowedHostPath], path: &str) -> (bool, bool) {
    if allowed.is_empty() {
        return (true, false);
    }
    let mut found = false;
    for allowed_path in allowed {
        if has_path_prefix(path, &allowed_path.path_prefix) {
            if !allowed_path.read_only {
                return (true, false);
            }
            found = true;
        }
    }
    (found, found)
}

/// Upstream's `hasPathPrefix`: a prefix at a path segment boundary, one trailing slash ignored.
fn has_path_prefix(path: &str, prefix: &str) -> bool {
    let path = path.strip_suffix('/').unwrap_or(path);
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether a sysctl matches a list of names and `prefix*` patterns.
fn matches_sysctl(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => p == name,
    })
}

/// Upstream's `equalLevels`: equal, or the same sensitivity and the same categories in any order.
fn equal_levels(expected: &str, actual: &str) -> bool {
    if expected == actual {
        return true;
    }
    let (Some((expected_sensitivity, expected_categories)), Some((actual_sensitivity, actual_categories))) =
        (expected.split_once(':'), actual.split_once(':'))
    else {
        return false;
    };
    expected_sensitivity == actual_sensitivity
        && sorted_categories(expected_categories) == sorted_categories(actual_categories)
}

fn sorted_categories(categories: &str) -> Vec<&str> {
    let mut list: Vec<&str> = categories.split(',').collect();
    list.sort_unstable();
    list
}

/// Go's `%q` of a string.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%#v` of a `[]int64`.
fn go_int64s(groups: Option<&[i64]>) -> String {
    match groups {
        None => "[]int64(nil)".to_string(),
        Some(list) => {
            format!("[]int64{{{}}}", list.iter().map(i64::to_string).collect::<Vec<_>>().join(", "))
        }
    }
}

/// Go's `%#v` of a `[]core.Capability`.
fn go_capabilities(caps: Option<&[String]>) -> String {
    match caps {
        None => "[]core.Capability(nil)".to_string(),
        Some(list) => {
            format!("[]core.Capability{{{}}}", list.iter().map(|c| go_quote(c)).collect::<Vec<_>>().join(", "))
        }
    }
}

/// Go's `%v` of a `[]policy.IDRange`.
fn go_id_ranges(ranges: &[IdRange]) -> String {
    let items: Vec<String> = ranges.iter().map(|r| format!("{{{} {}}}", r.min, r.max)).collect();
    format!("[{}]", items.join(" "))
}

/// Upstream's `hostPortRangesToString`.
fn host_port_ranges(ranges: &[HostPortRange]) -> String {
    let items: Vec<String> = ranges
        .iter()
        .map(|r| if r.min == r.max { r.min.to_string() } else { format!("{}-{}", r.min, r.max) })
        .collect();
    items.join(",")
}

/// Capabilities the Baseline level allows containers to add.
use crate::pss::BASELINE_CAPABILITIES;

/// Volume types the Restricted level allows.
const RESTRICTED_VOLUMES: [&str; 8] =
    ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

/// SELinux types the Baseline level allows (besides unset).
const BASELINE_SELINUX_TYPES: [&str; 3] = ["container_t", "container_init_t", "container_kvm_t"];

/// The Pod Security Standards level a PodSecurityPolicy maps to, and why it is
/// not stricter.
///
/// ```
/// use k8sops_audit::psp::PssMapping;
/// use k8sops_audit::pss::Level;
///
/// let mapping = PssMapping { level: Level::Baseline, reasons: vec!["baseline: spec.runAsUser.rule is RunAsAny".into()] };
/// assert_eq!(mapping.level.as_str(), "baseline");
/// ```
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct PssMapping {
    /// The most restrictive level that still admits every pod the policy admits.
    pub level: Level,
    /// One line per policy field that keeps the level from being stricter,
    /// each starting with the level that field allows at most
    /// (`privileged: spec.hostNetwork is true; ...`), in the order of the
    /// mapping table. Empty for `restricted`.
    pub reasons: Vec<String>,
}

/// The Pod Security Standards level a namespace should get so that the pods
/// `psp` admits keep being admitted: the most restrictive level at least as
/// permissive as the policy, field by field after the official table
/// "Mapping PodSecurityPolicies to Pod Security Standards".
///
/// Per the table: `privileged`, `hostNetwork`, `hostPID`, `hostIPC`,
/// `hostPorts`, `allowedUnsafeSysctls` (beyond [`SAFE_SYSCTLS`]),
/// `allowedProcMountTypes` (beyond `Default`), capabilities beyond the
/// Baseline list, `volumes` with `hostPath` or `*`, a `seLinux` rule other
/// than `MustRunAs` with user and role unset and type unset or
/// `container_t`/`container_init_t`/`container_kvm_t`, and seccomp or
/// AppArmor profiles other than `runtime/default`, `localhost/*` and unset
/// (an unset AppArmor annotation allows any profile) mean Privileged.
/// Capabilities other than `NET_BIND_SERVICE`, `requiredDropCapabilities`
/// without `ALL`, volumes outside the Restricted list, a `runAsUser` rule
/// other than `MustRunAsNonRoot`, `allowPrivilegeEscalation` not `false`,
/// and profile lists allowing unset (no annotation, or an empty entry such
/// as a trailing comma) mean Baseline. `docker/default` counts as
/// `runtime/default`. Fields the table has no opinion on (groups,
/// `readOnlyRootFilesystem`, host path/Flexvolume/CSI allow-lists,
/// `forbiddenSysctls`, `runtimeClass`, defaults) are ignored; an unknown rule
/// counts as meeting no requirement.
///
/// Two places where the table, followed here, is coarser than the levels
/// themselves: `MustRunAsNonRoot` also admits a pod that sets a non-zero
/// `runAsUser` without `runAsNonRoot: true`, which Restricted rejects; and
/// Restricted itself does not require an AppArmor profile, while the table
/// asks for no trailing comma there too.
///
/// ```
/// use k8sops_audit::psp::{pss_level, PodSecurityPolicy};
/// use k8sops_audit::pss::Level;
///
/// let psp: PodSecurityPolicy = serde_json::from_value(serde_json::json!({
///     "metadata": {"annotations": {
///         "seccomp.security.alpha.kubernetes.io/allowedProfileNames": "runtime/default",
///         "apparmor.security.beta.kubernetes.io/allowedProfileNames": "runtime/default"
///     }},
///     "spec": {
///         "allowPrivilegeEscalation": false,
///         "requiredDropCapabilities": ["ALL"],
///         "volumes": ["configMap", "secret", "emptyDir"],
///         "runAsUser": {"rule": "MustRunAsNonRoot"},
///         "seLinux": {"rule": "MustRunAs", "seLinuxOptions": {"level": "s0:c1,c2"}},
///         "supplementalGroups": {"rule": "RunAsAny"},
///         "fsGroup": {"rule": "RunAsAny"}
///     }
/// }))?;
/// let mapping = pss_level(&psp);
/// assert_eq!(mapping.level, Level::Restricted);
/// assert!(mapping.reasons.is_empty());
///
/// let mut looser = psp.clone();
/// looser.spec.volumes.push("nfs".into());
/// let mapping = pss_level(&looser);
/// assert_eq!(mapping.level, Level::Baseline);
/// assert_eq!(mapping.reasons, [
///     "baseline: spec.volumes allows nfs, outside the restricted list (configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, secret)",
/// ]);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn pss_level(psp: &PodSecurityPolicy) -> PssMapping {
    let spec = &psp.spec;
    let mut mapping = PssMapping { level: Level::Restricted, reasons: Vec::new() };
    let mut cap = |level: Level, reason: String| {
        mapping.level = mapping.level.min(level);
        mapping.reasons.push(format!("{level}: {reason}"));
    };

    if spec.privileged {
        cap(Level::Privileged, "spec.privileged is true; baseline and restricted require false".into());
    }

    for (field, caps) in [
        ("spec.defaultAddCapabilities", &spec.default_add_capabilities),
        ("spec.allowedCapabilities", &spec.allowed_capabilities),
    ] {
        let beyond_baseline: Vec<&str> =
            caps.iter().map(String::as_str).filter(|c| !BASELINE_CAPABILITIES.contains(c)).collect();
        let beyond_restricted: Vec<&str> =
            caps.iter().map(String::as_str).filter(|c| *c != "NET_BIND_SERVICE").collect();
        if beyond_baseline.contains(&"*") {
            cap(Level::Privileged, format!("{field} allows every capability (*)"));
        } else if !beyond_baseline.is_empty() {
            cap(
                Level::Privileged,
                format!(
                    "{field} allows {}, outside the baseline list ({})",
                    beyond_baseline.join(", "),
                    BASELINE_CAPABILITIES.join(", ")
                ),
            );
        } else if !beyond_restricted.is_empty() {
            cap(
                Level::Baseline,
                format!("{field} allows {}; restricted allows only NET_BIND_SERVICE", beyond_restricted.join(", ")),
            );
        }
    }

    if !spec.required_drop_capabilities.iter().any(|c| c == "ALL") {
        cap(Level::Baseline, "spec.requiredDropCapabilities does not include ALL; restricted requires it".into());
    }

    if spec.volumes.iter().any(|v| v == "*") {
        cap(Level::Privileged, "spec.volumes allows every volume type (*), hostPath included".into());
    } else {
        if spec.volumes.iter().any(|v| v == "hostPath") {
            cap(Level::Privileged, "spec.volumes allows hostPath; baseline and restricted forbid it".into());
        }
        let mut beyond: Vec<&str> = spec
            .volumes
            .iter()
            .map(String::as_str)
            .filter(|v| *v != "hostPath" && !RESTRICTED_VOLUMES.contains(v))
            .collect();
        beyond.dedup();
        if !beyond.is_empty() {
            cap(
                Level::Baseline,
                format!(
                    "spec.volumes allows {}, outside the restricted list ({})",
                    beyond.join(", "),
                    RESTRICTED_VOLUMES.join(", ")
                ),
            );
        }
    }

    for (field, allowed) in
        [("spec.hostNetwork", spec.host_network), ("spec.hostPID", spec.host_pid), ("spec.hostIPC", spec.host_ipc)]
    {
        if allowed {
            cap(Level::Privileged, format!("{field} is true; baseline and restricted require false"));
        }
    }

    let port_ranges: Vec<HostPortRange> = spec.host_ports.iter().copied().filter(|r| r.max > 0).collect();
    if !port_ranges.is_empty() {
        cap(
            Level::Privileged,
            format!(
                "spec.hostPorts allows host ports [{}]; baseline and restricted allow none",
                host_port_ranges(&port_ranges)
            ),
        );
    }

    let se_linux_requirement = format!(
        "baseline and restricted require MustRunAs with user and role unset and type unset or one of {}",
        BASELINE_SELINUX_TYPES.join(", ")
    );
    if spec.se_linux.rule == SeLinuxRule::MustRunAs {
        let options = spec.se_linux.se_linux_options.clone().unwrap_or_default();
        let set = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
        if let Some(user) = set(&options.user) {
            cap(
                Level::Privileged,
                format!("spec.seLinux.seLinuxOptions.user is {}; {se_linux_requirement}", go_quote(&user)),
            );
        }
        if let Some(role) = set(&options.role) {
            cap(
                Level::Privileged,
                format!("spec.seLinux.seLinuxOptions.role is {}; {se_linux_requirement}", go_quote(&role)),
            );
        }
        if let Some(kind) = set(&options.type_).filter(|t| !BASELINE_SELINUX_TYPES.contains(&t.as_str())) {
            cap(
                Level::Privileged,
                format!("spec.seLinux.seLinuxOptions.type is {}; {se_linux_requirement}", go_quote(&kind)),
            );
        }
    } else {
        cap(Level::Privileged, format!("spec.seLinux.rule is {}; {se_linux_requirement}", spec.se_linux.rule));
    }

    if spec.run_as_user.rule != RunAsUserRule::MustRunAsNonRoot {
        cap(
            Level::Baseline,
            format!("spec.runAsUser.rule is {}; restricted requires MustRunAsNonRoot", spec.run_as_user.rule),
        );
    }

    if spec.allow_privilege_escalation != Some(false) {
        let value = if spec.allow_privilege_escalation.is_some() { "true" } else { "unset (true)" };
        cap(Level::Baseline, format!("spec.allowPrivilegeEscalation is {value}; restricted requires false"));
    }

    let unsafe_sysctls: Vec<&str> =
        spec.allowed_unsafe_sysctls.iter().map(String::as_str).filter(|s| !SAFE_SYSCTLS.contains(s)).collect();
    if !unsafe_sysctls.is_empty() {
        cap(
            Level::Privileged,
            format!(
                "spec.allowedUnsafeSysctls allows {}; baseline and restricted allow only the safe sysctls",
                unsafe_sysctls.join(", ")
            ),
        );
    }

    let proc_mounts: Vec<&str> =
        spec.allowed_proc_mount_types.iter().map(String::as_str).filter(|t| *t != "Default").collect();
    if !proc_mounts.is_empty() {
        cap(
            Level::Privileged,
            format!(
                "spec.allowedProcMountTypes allows {}; baseline and restricted allow only Default",
                proc_mounts.join(", ")
            ),
        );
    }

    let annotations = psp.metadata.annotations.as_ref();
    for (key, kind, unset_means_any) in [
        (SECCOMP_ALLOWED_PROFILES_ANNOTATION, "seccomp", false),
        (APPARMOR_ALLOWED_PROFILES_ANNOTATION, "AppArmor", true),
    ] {
        let field = format!("metadata.annotations[{key}]");
        let Some(value) = annotations.and_then(|a| a.get(key)) else {
            if unset_means_any {
                cap(
                    Level::Privileged,
                    format!("{field} is unset, so any {kind} profile is allowed, unconfined included; baseline allows only runtime/default, localhost/* and unset"),
                );
            } else {
                cap(
                    Level::Baseline,
                    format!("{field} is unset, so pods run without a {kind} profile; restricted requires runtime/default or localhost/*"),
                );
            }
            continue;
        };
        let entries: Vec<&str> = value.split(',').collect();
        let is_default = |p: &str| p == "runtime/default" || p == "docker/default" || p.starts_with("localhost/");
        let wildcard = kind == "seccomp" && entries.contains(&"*");
        let beyond_baseline: Vec<&str> =
            entries.iter().copied().filter(|p| !p.is_empty() && *p != "*" && !is_default(p)).collect();
        if wildcard {
            cap(Level::Privileged, format!("{field} allows every {kind} profile (*), unconfined included"));
        } else if !beyond_baseline.is_empty() {
            cap(
                Level::Privileged,
                format!(
                    "{field} allows {}; baseline allows only runtime/default, localhost/* and unset",
                    beyond_baseline.join(", ")
                ),
            );
        } else if entries.contains(&"") {
            cap(
                Level::Baseline,
                format!("{field} allows an unset {kind} profile (an empty entry); restricted requires runtime/default or localhost/*"),
            );
        }
    }

    mapping
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// A policy allowing everything the base rules allow, with `patch` merged into its spec.
    fn psp(patch: Value) -> PodSecurityPolicy {
        let mut spec = json!({
            "seLinux": {"rule": "RunAsAny"},
            "runAsUser": {"rule": "RunAsAny"},
            "supplementalGroups": {"rule": "RunAsAny"},
            "fsGroup": {"rule": "RunAsAny"},
            "volumes": ["*"]
        });
        if let (Some(base), Value::Object(patch)) = (spec.as_object_mut(), patch) {
            base.extend(patch);
        }
        serde_json::from_value(json!({"metadata": {"name": "test"}, "spec": spec})).expect("policy")
    }

    fn annotated_psp(patch: Value, annotations: Value) -> PodSecurityPolicy {
        let mut policy = psp(patch);
        policy.metadata.annotations = serde_json::from_value(annotations).expect("annotations");
        policy
    }

    fn pod(spec: Value) -> PodSpec {
        serde_json::from_value(spec).expect("pod spec")
    }

    fn app(sc: Value) -> PodSpec {
        pod(json!({"containers": [{"name": "app", "securityContext": sc}]}))
    }

    fn meta(annotations: Value) -> ObjectMeta {
        ObjectMeta { annotations: serde_json::from_value(annotations).expect("annotations"), ..Default::default() }
    }

    fn check(policy: &PodSecurityPolicy, spec: &PodSpec) -> Vec<String> {
        check_meta(policy, &ObjectMeta::default(), spec)
    }

    fn check_meta(policy: &PodSecurityPolicy, meta: &ObjectMeta, spec: &PodSpec) -> Vec<String> {
        let admission = admits(policy, meta, spec);
        assert_eq!(admission.allowed, admission.violations.is_empty());
        admission.violations
    }

    fn ok(policy: &PodSecurityPolicy, spec: &PodSpec) {
        assert_eq!(check(policy, spec), Vec::<String>::new());
    }

    #[test]
    fn deserializes_the_api_json_and_round_trips() {
        let policy: PodSecurityPolicy = serde_json::from_value(json!({
            "apiVersion": "policy/v1beta1",
            "kind": "PodSecurityPolicy",
            "metadata": {"name": "full", "annotations": {SECCOMP_ALLOWED_PROFILES_ANNOTATION: "runtime/default"}},
            "spec": {
                "privileged": true,
                "defaultAddCapabilities": ["CHOWN"],
                "requiredDropCapabilities": ["NET_RAW"],
                "allowedCapabilities": ["*"],
                "volumes": ["configMap", "*"],
                "hostNetwork": true,
                "hostPorts": [{"min": 80, "max": 443}],
                "hostPID": true,
                "hostIPC": true,
                "seLinux": {"rule": "MustRunAs", "seLinuxOptions": {"user": "u", "role": "r", "type": "t", "level": "s0"}},
                "runAsUser": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 10}]},
                "runAsGroup": {"rule": "MayRunAs", "ranges": [{"min": 2, "max": 20}]},
                "supplementalGroups": {"rule": "MustRunAs", "ranges": [{"min": 3, "max": 30}]},
                "fsGroup": {"rule": "MayRunAs", "ranges": [{"min": 4, "max": 40}]},
                "readOnlyRootFilesystem": true,
                "defaultAllowPrivilegeEscalation": false,
                "allowPrivilegeEscalation": true,
                "allowedHostPaths": [{"pathPrefix": "/var/log", "readOnly": true}],
                "allowedFlexVolumes": [{"driver": "example/lvm"}],
                "allowedCSIDrivers": [{"name": "csi.example.com"}],
                "allowedUnsafeSysctls": ["net.core.*"],
                "forbiddenSysctls": ["kernel.shm_rmid_forced"],
                "allowedProcMountTypes": ["Default", "Unmasked"],
                "runtimeClass": {"allowedRuntimeClassNames": ["gvisor"], "defaultRuntimeClassName": "gvisor"},
                "someFutureField": {"x": 1}
            }
        }))
        .expect("policy");
        let spec = &policy.spec;
        assert!(
            spec.privileged && spec.host_network && spec.host_pid && spec.host_ipc && spec.read_only_root_filesystem
        );
        assert_eq!(spec.default_add_capabilities, ["CHOWN"]);
        assert_eq!(spec.required_drop_capabilities, ["NET_RAW"]);
        assert_eq!(spec.allowed_capabilities, ["*"]);
        assert_eq!(spec.volumes, ["configMap", "*"]);
        assert_eq!(spec.host_ports, [HostPortRange { min: 80, max: 443 }]);
        assert_eq!(spec.se_linux.rule, SeLinuxRule::MustRunAs);
        assert_eq!(spec.se_linux.se_linux_options.as_ref().and_then(|o| o.type_.as_deref()), Some("t"));
        assert_eq!(spec.run_as_user.ranges, [IdRange { min: 1, max: 10 }]);
        assert_eq!(spec.run_as_group.as_ref().map(|g| g.rule.clone()), Some(GroupRule::MayRunAs));
        assert_eq!(spec.supplemental_groups.rule, GroupRule::MustRunAs);
        assert_eq!(spec.fs_group.ranges, [IdRange { min: 4, max: 40 }]);
        assert_eq!(spec.default_allow_privilege_escalation, Some(false));
        assert_eq!(spec.allow_privilege_escalation, Some(true));
        assert_eq!(spec.allowed_host_paths, [AllowedHostPath { path_prefix: "/var/log".into(), read_only: true }]);
        assert_eq!(spec.allowed_flex_volumes[0].driver, "example/lvm");
        assert_eq!(spec.allowed_csi_drivers[0].name, "csi.example.com");
        assert_eq!(spec.allowed_unsafe_sysctls, ["net.core.*"]);
        assert_eq!(spec.forbidden_sysctls, ["kernel.shm_rmid_forced"]);
        assert_eq!(spec.allowed_proc_mount_types, ["Default", "Unmasked"]);
        assert_eq!(
            spec.runtime_class.as_ref().map(|r| r.allowed_runtime_class_names.clone()),
            Some(vec!["gvisor".to_string()])
        );

        let json = serde_json::to_value(&policy).expect("serialize");
        assert_eq!(json["apiVersion"], "policy/v1beta1");
        assert_eq!(json["kind"], "PodSecurityPolicy");
        assert_eq!(json["spec"]["hostPID"], true);
        assert_eq!(json["spec"]["allowedCSIDrivers"], json!([{"name": "csi.example.com"}]));
        assert_eq!(serde_json::from_value::<PodSecurityPolicy>(json).expect("read back"), policy);
    }

    #[test]
    fn tolerates_nulls_and_unknown_rules() {
        let policy: PodSecurityPolicy = serde_json::from_value(json!({
            "metadata": null,
            "spec": {"volumes": null, "hostPorts": null, "seLinux": {"rule": "Sometimes"}, "runAsUser": null}
        }))
        .expect("policy");
        assert!(policy.spec.volumes.is_empty());
        assert_eq!(policy.spec.se_linux.rule, SeLinuxRule::Other("Sometimes".into()));
        assert_eq!(policy.spec.run_as_user.rule, RunAsUserRule::RunAsAny);
        let json = serde_json::to_value(&policy).expect("serialize");
        assert_eq!(json["spec"]["seLinux"]["rule"], "Sometimes");
        assert!(serde_json::from_value::<PodSecurityPolicy>(json!({"spec": "x"})).is_err());
    }

    #[test]
    fn unusable_policies_admit_nothing() {
        let policy = psp(json!({
            "runAsUser": {"rule": "MustRunAs"},
            "seLinux": {"rule": "Sometimes"},
            "fsGroup": {"rule": "MayRunAs"},
            "supplementalGroups": {"rule": ""},
            "runAsGroup": {"rule": "MustRunAs"}
        }));
        assert_eq!(
            check(&policy, &app(json!({}))),
            [
                "error creating provider for PSP test: MustRunAsRange requires at least one range",
                "error creating provider for PSP test: ranges must be supplied for MustRunAs",
                "error creating provider for PSP test: Unrecognized SELinuxContext strategy type Sometimes",
                "error creating provider for PSP test: ranges must be supplied for MayRunAs",
                "error creating provider for PSP test: Unrecognized SupplementalGroups strategy type ",
            ]
        );
        let policy = psp(json!({"seLinux": {"rule": "MustRunAs"}}));
        assert_eq!(
            check(&policy, &app(json!({}))),
            ["error creating provider for PSP test: MustRunAs requires SELinuxOptions"]
        );
    }

    #[test]
    fn privileged() {
        let spec = app(json!({"privileged": true}));
        assert_eq!(
            check(&psp(json!({})), &spec),
            ["spec.containers[0].securityContext.privileged: Invalid value: true: Privileged containers are not allowed"]
        );
        ok(&psp(json!({"privileged": true})), &spec);
        ok(&psp(json!({})), &app(json!({"privileged": false})));
    }

    #[test]
    fn host_namespaces() {
        let spec = pod(json!({"hostNetwork": true, "hostPID": true, "hostIPC": true, "containers": [{"name": "app"}]}));
        assert_eq!(
            check(&psp(json!({})), &spec),
            [
                "spec.securityContext.hostNetwork: Invalid value: true: Host network is not allowed to be used",
                "spec.securityContext.hostPID: Invalid value: true: Host PID is not allowed to be used",
                "spec.securityContext.hostIPC: Invalid value: true: Host IPC is not allowed to be used",
            ]
        );
        ok(&psp(json!({"hostNetwork": true, "hostPID": true, "hostIPC": true})), &spec);
        ok(&psp(json!({})), &pod(json!({"hostNetwork": false, "containers": [{"name": "app"}]})));
    }

    #[test]
    fn host_ports_must_be_in_a_range() {
        let policy = psp(json!({"hostPorts": [{"min": 8000, "max": 8080}, {"min": 9000, "max": 9000}]}));
        let with_port = |port: i32| {
            pod(json!({"initContainers": [{"name": "init", "ports": [{"containerPort": 1, "hostPort": port}]}],
                       "containers": [{"name": "app", "ports": [{"containerPort": 80}]}]}))
        };
        ok(&policy, &with_port(8080));
        ok(&policy, &with_port(9000));
        assert_eq!(
            check(&policy, &with_port(8081)),
            ["spec.initContainers[0].hostPort: Invalid value: 8081: Host port 8081 is not allowed to be used. Allowed ports: [8000-8080,9000]"]
        );
        assert_eq!(
            check(&psp(json!({})), &with_port(80)),
            ["spec.initContainers[0].hostPort: Invalid value: 80: Host port 80 is not allowed to be used. Allowed ports: []"]
        );
    }

    #[test]
    fn volume_types_must_be_allowed() {
        let policy = psp(json!({"volumes": ["configMap", "persistentVolumeClaim"]}));
        let spec = pod(json!({
            "containers": [{"name": "app"}],
            "volumes": [
                {"name": "cfg", "configMap": {"name": "cfg"}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "host", "hostPath": {"path": "/etc"}},
                {"name": "scratch", "emptyDir": {}}
            ]
        }));
        assert_eq!(
            check(&policy, &spec),
            [
                "spec.volumes[2]: Invalid value: \"hostPath\": hostPath volumes are not allowed to be used",
                "spec.volumes[3]: Invalid value: \"emptyDir\": emptyDir volumes are not allowed to be used",
            ]
        );
        ok(&psp(json!({"volumes": ["*"]})), &spec);
        let no_volumes = psp(json!({"volumes": []}));
        ok(&no_volumes, &pod(json!({"containers": [{"name": "app"}]})));
        let unknown =
            pod(json!({"containers": [{"name": "app"}], "volumes": [{"name": "img", "image": {"reference": "x"}}]}));
        assert_eq!(
            check(&psp(json!({})), &unknown),
            ["spec.volumes[0]: Invalid value: \"\": unknown volume type for volume \"img\""]
        );
    }

    #[test]
    fn volume_type_names() {
        let cases = [
            (json!({"csi": {"driver": "d"}}), "csi"),
            (json!({"ephemeral": {}}), "ephemeral"),
            (json!({"projected": {}}), "projected"),
            (json!({"downwardAPI": {}}), "downwardAPI"),
            (json!({"secret": {}}), "secret"),
            (json!({"cephfs": {"monitors": []}}), "cephFS"),
            (json!({"scaleIO": {"gateway": "g", "system": "s", "secretRef": {}}}), "scaleIO"),
        ];
        for (source, want) in cases {
            let mut volume = source;
            volume["name"] = json!("v");
            let volume: Volume = serde_json::from_value(volume).expect("volume");
            assert_eq!(volume_type(&volume), Some(want));
        }
    }

    #[test]
    fn service_account_token_volume_passes_with_secret() {
        let token_volume = json!({"name": "kube-api-access", "projected": {"sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
        ]}});
        let spec = pod(json!({"containers": [{"name": "app"}], "volumes": [token_volume]}));
        ok(&psp(json!({"volumes": ["secret"]})), &spec);
        assert_eq!(
            check(&psp(json!({"volumes": ["configMap"]})), &spec),
            ["spec.volumes[0]: Invalid value: \"projected\": projected volumes are not allowed to be used"]
        );
        let other = pod(json!({"containers": [{"name": "app"}], "volumes": [
            {"name": "p", "projected": {"sources": [{"secret": {"name": "s"}}]}}
        ]}));
        assert_eq!(
            check(&psp(json!({"volumes": ["secret"]})), &other),
            ["spec.volumes[0]: Invalid value: \"projected\": projected volumes are not allowed to be used"]
        );
    }

    #[test]
    fn host_paths_match_by_segment_and_read_only() {
        let policy = psp(json!({
            "volumes": ["hostPath"],
            "allowedHostPaths": [{"pathPrefix": "/var/log/"}, {"pathPrefix": "/etc/ssl", "readOnly": true}]
        }));
        let with_path = |path: &str, read_only: bool| {
            pod(json!({
                "containers": [{"name": "app", "volumeMounts": [{"name": "host", "mountPath": "/h", "readOnly": read_only}]}],
                "ephemeralContainers": [{"name": "debug", "volumeMounts": [{"name": "host", "mountPath": "/h"}]}],
                "volumes": [{"name": "host", "hostPath": {"path": path}}]
            }))
        };
        ok(&policy, &with_path("/var/log", false));
        ok(&policy, &with_path("/var/log/pods/", false));
        assert_eq!(
            check(&policy, &with_path("/var/logs", false)),
            ["spec.volumes[0].hostPath.pathPrefix: Invalid value: \"/var/logs\": is not allowed to be used"]
        );
        assert_eq!(
            check(&policy, &with_path("/etc/ssl/certs", true)),
            ["spec.ephemeralContainers[0].volumeMounts[0].readOnly: Invalid value: false: must be read-only"]
        );
        assert_eq!(check(&policy, &with_path("/etc/ssl", false)).len(), 2);
        assert!(has_path_prefix("/anything", "/"));
        assert!(!has_path_prefix("/foobar", "/foo"));
    }

    #[test]
    fn flex_and_csi_drivers() {
        let policy = psp(json!({
            "allowedFlexVolumes": [{"driver": "example/lvm"}],
            "allowedCSIDrivers": [{"name": "csi.example.com"}]
        }));
        let spec = |flex: &str, csi: &str| {
            pod(json!({"containers": [{"name": "app"}], "volumes": [
                {"name": "f", "flexVolume": {"driver": flex}},
                {"name": "c", "csi": {"driver": csi}}
            ]}))
        };
        ok(&policy, &spec("example/lvm", "csi.example.com"));
        assert_eq!(
            check(&policy, &spec("example/cifs", "other.csi")),
            [
                "spec.volumes[0].driver: Invalid value: \"example/cifs\": Flexvolume driver is not allowed to be used",
                "spec.volumes[1].csi.driver: Invalid value: \"other.csi\": Inline CSI driver is not allowed to be used",
            ]
        );
        ok(&psp(json!({})), &spec("any", "any"));
    }

    #[test]
    fn capabilities() {
        let policy = psp(json!({"allowedCapabilities": ["NET_ADMIN"], "defaultAddCapabilities": ["CHOWN"]}));
        ok(&policy, &app(json!({"capabilities": {"add": ["NET_ADMIN", "CHOWN"]}})));
        assert_eq!(
            check(&policy, &app(json!({"capabilities": {"add": ["SYS_ADMIN"]}}))),
            ["spec.containers[0].securityContext.capabilities.add: Invalid value: \"SYS_ADMIN\": capability may not be added"]
        );
        assert_eq!(
            check(&policy, &app(json!({}))),
            ["spec.containers[0].securityContext.capabilities: Invalid value: \"null\": required capabilities are not set on the securityContext"]
        );
        ok(&psp(json!({"allowedCapabilities": ["*"]})), &app(json!({"capabilities": {"add": ["SYS_ADMIN"]}})));

        let drop_policy = psp(json!({"requiredDropCapabilities": ["ALL"]}));
        ok(&drop_policy, &app(json!({"capabilities": {"drop": ["ALL"]}})));
        assert_eq!(
            check(&drop_policy, &app(json!({"capabilities": {"drop": ["NET_RAW"]}}))),
            ["spec.containers[0].securityContext.capabilities.drop: Invalid value: []core.Capability{\"NET_RAW\"}: ALL is required to be dropped but was not found"]
        );
        assert_eq!(
            check(&drop_policy, &app(json!({"capabilities": {}}))),
            ["spec.containers[0].securityContext.capabilities.drop: Invalid value: []core.Capability(nil): ALL is required to be dropped but was not found"]
        );
        ok(&psp(json!({})), &app(json!({})));
    }

    #[test]
    fn run_as_user_must_run_as() {
        let policy = psp(json!({"runAsUser": {"rule": "MustRunAs", "ranges": [{"min": 1000, "max": 2000}]}}));
        ok(&policy, &app(json!({"runAsUser": 1500})));
        ok(&policy, &pod(json!({"securityContext": {"runAsUser": 1000}, "containers": [{"name": "app"}]})));
        assert_eq!(
            check(&policy, &app(json!({"runAsUser": 0}))),
            ["spec.containers[0].securityContext.runAsUser: Invalid value: 0: must be in the ranges: [{1000 2000}]"]
        );
        assert_eq!(
            check(&policy, &pod(json!({"containers": [{"name": "app"}]}))),
            ["spec.containers[0].securityContext.runAsUser: Required value"]
        );
    }

    #[test]
    fn run_as_user_must_run_as_non_root() {
        let policy = psp(json!({"runAsUser": {"rule": "MustRunAsNonRoot"}}));
        ok(&policy, &app(json!({"runAsNonRoot": true})));
        ok(&policy, &app(json!({"runAsUser": 1000})));
        ok(&policy, &pod(json!({"securityContext": {"runAsNonRoot": true}, "containers": [{"name": "app"}]})));
        assert_eq!(
            check(&policy, &pod(json!({"containers": [{"name": "app"}]}))),
            ["spec.containers[0].securityContext.runAsNonRoot: Required value: must be true"]
        );
        assert_eq!(
            check(&policy, &app(json!({"runAsNonRoot": false, "runAsUser": 1000}))),
            ["spec.containers[0].securityContext.runAsNonRoot: Invalid value: false: must be true"]
        );
        assert_eq!(
            check(
                &policy,
                &pod(
                    json!({"securityContext": {"runAsNonRoot": true}, "containers": [{"name": "app", "securityContext": {"runAsUser": 0}}]})
                )
            ),
            ["spec.containers[0].securityContext.runAsUser: Invalid value: 0: running with the root UID is forbidden"]
        );
    }

    #[test]
    fn run_as_group() {
        let policy = psp(json!({"runAsGroup": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 65535}]}}));
        ok(&policy, &app(json!({"runAsGroup": 3000})));
        assert_eq!(
            check(&policy, &app(json!({"runAsGroup": 0}))),
            ["spec.containers[0].securityContext: Invalid value: []int64{0}: group 0 must be in the ranges: [{1 65535}]"]
        );
        assert_eq!(
            check(&policy, &app(json!({}))),
            ["spec.containers[0].securityContext: Invalid value: []int64(nil): unable to validate empty groups against required ranges"]
        );
        let may = psp(json!({"runAsGroup": {"rule": "MayRunAs", "ranges": [{"min": 1, "max": 65535}]}}));
        ok(&may, &app(json!({})));
    }

    #[test]
    fn fs_group_and_supplemental_groups() {
        let policy = psp(json!({
            "fsGroup": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 65535}]},
            "supplementalGroups": {"rule": "MayRunAs", "ranges": [{"min": 100, "max": 200}]}
        }));
        ok(&policy, &pod(json!({"securityContext": {"fsGroup": 2000}, "containers": [{"name": "app"}]})));
        ok(
            &policy,
            &pod(
                json!({"securityContext": {"fsGroup": 2000, "supplementalGroups": [150]}, "containers": [{"name": "app"}]}),
            ),
        );
        assert_eq!(
            check(&policy, &pod(json!({"containers": [{"name": "app"}]}))),
            ["spec.securityContext.fsGroup: Invalid value: []int64(nil): unable to validate empty groups against required ranges"]
        );
        assert_eq!(
            check(&policy, &pod(json!({"securityContext": {"fsGroup": 0, "supplementalGroups": [150, 5]}, "containers": [{"name": "app"}]}))),
            [
                "spec.securityContext.fsGroup: Invalid value: []int64{0}: group 0 must be in the ranges: [{1 65535}]",
                "spec.securityContext.supplementalGroups: Invalid value: []int64{150, 5}: group 5 must be in the ranges: [{100 200}]",
            ]
        );
    }

    #[test]
    fn se_linux_must_run_as() {
        let policy = psp(
            json!({"seLinux": {"rule": "MustRunAs", "seLinuxOptions": {"level": "s0:c1,c2", "type": "container_t"}}}),
        );
        let matching = pod(json!({
            "securityContext": {"seLinuxOptions": {"level": "s0:c2,c1", "type": "container_t"}},
            "containers": [{"name": "app"}]
        }));
        ok(&policy, &matching);
        let wrong = pod(json!({
            "securityContext": {"seLinuxOptions": {"level": "s0:c1,c2", "type": "container_t"}},
            "containers": [{"name": "app", "securityContext": {"seLinuxOptions": {"level": "s0:c3", "type": "spc_t"}}}]
        }));
        assert_eq!(
            check(&policy, &wrong),
            [
                "spec.containers[0].securityContext.seLinuxOptions.level: Invalid value: \"s0:c3\": must be s0:c1,c2",
                "spec.containers[0].securityContext.seLinuxOptions.type: Invalid value: \"spc_t\": must be container_t",
            ]
        );
        assert_eq!(
            check(&policy, &pod(json!({"containers": [{"name": "app"}]}))),
            [
                "spec.securityContext.seLinuxOptions: Required value",
                "spec.containers[0].securityContext.seLinuxOptions: Required value",
            ]
        );
        assert!(equal_levels("s0:c0,c6", "s0:c6,c0"));
        assert!(!equal_levels("s0:c0", "s1:c0"));
        assert!(!equal_levels("s0", "s0:c0"));
    }

    #[test]
    fn read_only_root_filesystem() {
        let policy = psp(json!({"readOnlyRootFilesystem": true}));
        ok(&policy, &app(json!({"readOnlyRootFilesystem": true})));
        assert_eq!(
            check(&policy, &app(json!({"readOnlyRootFilesystem": false}))),
            ["spec.containers[0].securityContext.readOnlyRootFilesystem: Invalid value: false: ReadOnlyRootFilesystem must be set to true"]
        );
        assert_eq!(
            check(&policy, &pod(json!({"containers": [{"name": "app"}]}))),
            ["spec.containers[0].securityContext.readOnlyRootFilesystem: Invalid value: \"null\": ReadOnlyRootFilesystem may not be nil and must be set to true"]
        );
        ok(&psp(json!({})), &app(json!({"readOnlyRootFilesystem": false})));
    }

    #[test]
    fn allow_privilege_escalation() {
        let policy = psp(json!({"allowPrivilegeEscalation": false, "defaultAllowPrivilegeEscalation": false}));
        ok(&policy, &app(json!({"allowPrivilegeEscalation": false})));
        assert_eq!(
            check(&policy, &app(json!({"allowPrivilegeEscalation": true}))),
            ["spec.containers[0].securityContext.allowPrivilegeEscalation: Invalid value: true: Allowing privilege escalation for containers is not allowed"]
        );
        assert_eq!(
            check(&policy, &app(json!({}))),
            ["spec.containers[0].securityContext.allowPrivilegeEscalation: Invalid value: \"null\": Allowing privilege escalation for containers is not allowed"]
        );
        ok(&psp(json!({})), &app(json!({"allowPrivilegeEscalation": true})));
        ok(&psp(json!({"allowPrivilegeEscalation": true})), &app(json!({"allowPrivilegeEscalation": true})));
    }

    #[test]
    fn sysctls() {
        let with = |names: &[&str]| {
            let sysctls: Vec<Value> = names.iter().map(|n| json!({"name": n, "value": "1"})).collect();
            pod(json!({"securityContext": {"sysctls": sysctls}, "containers": [{"name": "app"}]}))
        };
        ok(&psp(json!({})), &with(&["kernel.shm_rmid_forced", "net.ipv4.ip_unprivileged_port_start"]));
        assert_eq!(
            check(&psp(json!({})), &with(&["net.core.somaxconn"])),
            ["pod.spec.securityContext.sysctls[0]: Forbidden: unsafe sysctl \"net.core.somaxconn\" is not allowed"]
        );
        let policy =
            psp(json!({"allowedUnsafeSysctls": ["net.core.*"], "forbiddenSysctls": ["kernel.shm_rmid_forced"]}));
        ok(&policy, &with(&["net.core.somaxconn", "net.ipv4.tcp_syncookies"]));
        assert_eq!(
            check(&policy, &with(&["kernel.shm_rmid_forced", "kernel.msgmax"])),
            [
                "pod.spec.securityContext.sysctls[0]: Forbidden: sysctl \"kernel.shm_rmid_forced\" is not allowed",
                "pod.spec.securityContext.sysctls[1]: Forbidden: unsafe sysctl \"kernel.msgmax\" is not allowed",
            ]
        );
    }

    #[test]
    fn proc_mount() {
        ok(&psp(json!({})), &app(json!({"procMount": "Default"})));
        assert_eq!(
            check(&psp(json!({})), &app(json!({"procMount": "Unmasked"}))),
            ["spec.containers[0].securityContext.procMount: Invalid value: \"Unmasked\": ProcMountType is not allowed"]
        );
        ok(&psp(json!({"allowedProcMountTypes": ["Default", "Unmasked"]})), &app(json!({"procMount": "Unmasked"})));
    }

    #[test]
    fn seccomp() {
        // No annotation: no profile may be set.
        ok(&psp(json!({})), &app(json!({})));
        assert_eq!(
            check(&psp(json!({})), &pod(json!({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "containers": [{"name": "app"}]}))),
            [
                "pod.metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]: Forbidden: seccomp may not be set",
                "pod.metadata.annotations[container.seccomp.security.alpha.kubernetes.io/app]: Forbidden: seccomp may not be set",
            ]
        );
        let policy = annotated_psp(
            json!({}),
            json!({SECCOMP_ALLOWED_PROFILES_ANNOTATION: "runtime/default,localhost/audit.json"}),
        );
        ok(
            &policy,
            &pod(
                json!({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "containers": [{"name": "app"}]}),
            ),
        );
        ok(
            &policy,
            &pod(json!({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "containers": [
                {"name": "app", "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "audit.json"}}}
            ]})),
        );
        let by_annotation = meta(json!({"seccomp.security.alpha.kubernetes.io/pod": "runtime/default"}));
        assert_eq!(check_meta(&policy, &by_annotation, &app(json!({}))), Vec::<String>::new());
        assert_eq!(
            check(&policy, &app(json!({"seccompProfile": {"type": "Unconfined"}}))),
            [
                "pod.metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]: Forbidden:  is not an allowed seccomp profile. Valid values are runtime/default,localhost/audit.json",
                "pod.metadata.annotations[container.seccomp.security.alpha.kubernetes.io/app]: Forbidden: unconfined is not an allowed seccomp profile. Valid values are runtime/default,localhost/audit.json",
            ]
        );
        let any = annotated_psp(json!({}), json!({SECCOMP_ALLOWED_PROFILES_ANNOTATION: "*"}));
        ok(&any, &app(json!({"seccompProfile": {"type": "Unconfined"}})));
        ok(&any, &app(json!({})));
    }

    #[test]
    fn app_armor() {
        let policy = annotated_psp(json!({}), json!({APPARMOR_ALLOWED_PROFILES_ANNOTATION: "runtime/default"}));
        let annotated = meta(json!({"container.apparmor.security.beta.kubernetes.io/app": "runtime/default"}));
        assert_eq!(check_meta(&policy, &annotated, &app(json!({}))), Vec::<String>::new());
        ok(&policy, &app(json!({"appArmorProfile": {"type": "RuntimeDefault"}})));
        assert_eq!(
            check(&policy, &app(json!({}))),
            ["pod.metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]: Forbidden: AppArmor profile must be set"]
        );
        let unconfined = meta(json!({"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}));
        assert_eq!(
            check_meta(&policy, &unconfined, &app(json!({}))),
            ["pod.metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]: Forbidden: unconfined is not an allowed profile. Allowed values: \"runtime/default\""]
        );
        assert_eq!(check_meta(&psp(json!({})), &unconfined, &app(json!({}))), Vec::<String>::new());
    }

    #[test]
    fn runtime_class() {
        let policy = psp(json!({"runtimeClass": {"allowedRuntimeClassNames": ["gvisor"]}}));
        ok(&policy, &pod(json!({"runtimeClassName": "gvisor", "containers": [{"name": "app"}]})));
        ok(&policy, &pod(json!({"containers": [{"name": "app"}]})));
        assert_eq!(
            check(&policy, &pod(json!({"runtimeClassName": "kata", "containers": [{"name": "app"}]}))),
            ["spec.runtimeClassName: Invalid value: \"kata\""]
        );
        let any = psp(json!({"runtimeClass": {"allowedRuntimeClassNames": ["*"]}}));
        ok(&any, &pod(json!({"runtimeClassName": "kata", "containers": [{"name": "app"}]})));
    }

    #[test]
    fn init_and_ephemeral_containers_are_checked() {
        let spec = pod(json!({
            "initContainers": [{"name": "init", "securityContext": {"privileged": true}}],
            "containers": [{"name": "app"}],
            "ephemeralContainers": [{"name": "debug", "securityContext": {"privileged": true}}]
        }));
        assert_eq!(
            check(&psp(json!({})), &spec),
            [
                "spec.initContainers[0].securityContext.privileged: Invalid value: true: Privileged containers are not allowed",
                "spec.ephemeralContainers[0].securityContext.privileged: Invalid value: true: Privileged containers are not allowed",
            ]
        );
    }

    #[test]
    fn go_renderings() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\x01é\"");
        assert_eq!(go_int64s(Some(&[])), "[]int64{}");
        assert_eq!(go_int64s(Some(&[1, 2])), "[]int64{1, 2}");
        assert_eq!(go_capabilities(Some(&["A".to_string(), "B".to_string()])), "[]core.Capability{\"A\", \"B\"}");
        assert_eq!(go_id_ranges(&[IdRange { min: 1, max: 2 }, IdRange { min: 5, max: 5 }]), "[{1 2} {5 5}]");
        let admission = admits(&psp(json!({})), &ObjectMeta::default(), &app(json!({"privileged": true})));
        assert_eq!(
            admission.message().as_deref(),
            Some("PodSecurityPolicy: unable to admit pod: [spec.containers[0].securityContext.privileged: Invalid value: true: Privileged containers are not allowed]")
        );
    }

    /// `content/en/examples/policy/privileged-psp.yaml` of kubernetes/website.
    fn upstream_privileged() -> PodSecurityPolicy {
        serde_json::from_value(json!({
            "apiVersion": "policy/v1beta1",
            "kind": "PodSecurityPolicy",
            "metadata": {"name": "privileged", "annotations": {"seccomp.security.alpha.kubernetes.io/allowedProfileNames": "*"}},
            "spec": {
                "privileged": true,
                "allowPrivilegeEscalation": true,
                "allowedCapabilities": ["*"],
                "volumes": ["*"],
                "hostNetwork": true,
                "hostPorts": [{"min": 0, "max": 65535}],
                "hostIPC": true,
                "hostPID": true,
                "runAsUser": {"rule": "RunAsAny"},
                "seLinux": {"rule": "RunAsAny"},
                "supplementalGroups": {"rule": "RunAsAny"},
                "fsGroup": {"rule": "RunAsAny"}
            }
        }))
        .expect("privileged example")
    }

    /// `content/en/examples/policy/baseline-psp.yaml` of kubernetes/website.
    fn upstream_baseline() -> PodSecurityPolicy {
        serde_json::from_value(json!({
            "apiVersion": "policy/v1beta1",
            "kind": "PodSecurityPolicy",
            "metadata": {"name": "baseline", "annotations": {
                "apparmor.security.beta.kubernetes.io/allowedProfileNames": "runtime/default",
                "apparmor.security.beta.kubernetes.io/defaultProfileName": "runtime/default",
                "seccomp.security.alpha.kubernetes.io/allowedProfileNames": "docker/default,runtime/default,unconfined",
                "seccomp.security.alpha.kubernetes.io/defaultProfileName": "unconfined"
            }},
            "spec": {
                "privileged": false,
                "allowedCapabilities": ["CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
                    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"],
                "volumes": ["configMap", "emptyDir", "projected", "secret", "downwardAPI", "persistentVolumeClaim",
                    "awsElasticBlockStore", "azureDisk", "azureFile", "cephFS", "cinder", "csi", "fc", "flexVolume", "flocker",
                    "gcePersistentDisk", "gitRepo", "glusterfs", "iscsi", "nfs", "photonPersistentDisk", "portworxVolume",
                    "quobyte", "rbd", "scaleIO", "storageos", "vsphereVolume"],
                "hostNetwork": false,
                "hostIPC": false,
                "hostPID": false,
                "readOnlyRootFilesystem": false,
                "runAsUser": {"rule": "RunAsAny"},
                "seLinux": {"rule": "RunAsAny"},
                "supplementalGroups": {"rule": "RunAsAny"},
                "fsGroup": {"rule": "RunAsAny"}
            }
        }))
        .expect("baseline example")
    }

    /// `content/en/examples/policy/restricted-psp.yaml` of kubernetes/website
    /// (the restricted example of the PodSecurityPolicy concept page).
    fn upstream_restricted() -> PodSecurityPolicy {
        serde_json::from_value(json!({
            "apiVersion": "policy/v1beta1",
            "kind": "PodSecurityPolicy",
            "metadata": {"name": "restricted", "annotations": {
                "seccomp.security.alpha.kubernetes.io/allowedProfileNames": "docker/default,runtime/default",
                "apparmor.security.beta.kubernetes.io/allowedProfileNames": "runtime/default",
                "apparmor.security.beta.kubernetes.io/defaultProfileName": "runtime/default"
            }},
            "spec": {
                "privileged": false,
                "allowPrivilegeEscalation": false,
                "requiredDropCapabilities": ["ALL"],
                "volumes": ["configMap", "emptyDir", "projected", "secret", "downwardAPI", "csi", "persistentVolumeClaim", "ephemeral"],
                "hostNetwork": false,
                "hostIPC": false,
                "hostPID": false,
                "runAsUser": {"rule": "MustRunAsNonRoot"},
                "seLinux": {"rule": "RunAsAny"},
                "supplementalGroups": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 65535}]},
                "fsGroup": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 65535}]},
                "readOnlyRootFilesystem": false
            }
        }))
        .expect("restricted example")
    }

    #[test]
    fn mapping_of_the_upstream_privileged_example() {
        let mapping = pss_level(&upstream_privileged());
        assert_eq!(mapping.level, Level::Privileged);
        assert_eq!(
            mapping.reasons,
            [
                "privileged: spec.privileged is true; baseline and restricted require false",
                "privileged: spec.allowedCapabilities allows every capability (*)",
                "baseline: spec.requiredDropCapabilities does not include ALL; restricted requires it",
                "privileged: spec.volumes allows every volume type (*), hostPath included",
                "privileged: spec.hostNetwork is true; baseline and restricted require false",
                "privileged: spec.hostPID is true; baseline and restricted require false",
                "privileged: spec.hostIPC is true; baseline and restricted require false",
                "privileged: spec.hostPorts allows host ports [0-65535]; baseline and restricted allow none",
                "privileged: spec.seLinux.rule is RunAsAny; baseline and restricted require MustRunAs with user and role unset and type unset or one of container_t, container_init_t, container_kvm_t",
                "baseline: spec.runAsUser.rule is RunAsAny; restricted requires MustRunAsNonRoot",
                "baseline: spec.allowPrivilegeEscalation is true; restricted requires false",
                "privileged: metadata.annotations[seccomp.security.alpha.kubernetes.io/allowedProfileNames] allows every seccomp profile (*), unconfined included",
                "privileged: metadata.annotations[apparmor.security.beta.kubernetes.io/allowedProfileNames] is unset, so any AppArmor profile is allowed, unconfined included; baseline allows only runtime/default, localhost/* and unset",
            ]
        );
    }

    #[test]
    fn mapping_of_the_upstream_baseline_example() {
        let mapping = pss_level(&upstream_baseline());
        // NET_RAW (outside the Baseline capability list), seLinux RunAsAny and
        // the unconfined seccomp profile make it privileged by the table.
        assert_eq!(mapping.level, Level::Privileged);
        let privileged: Vec<&str> =
            mapping.reasons.iter().filter(|r| r.starts_with("privileged:")).map(String::as_str).collect();
        assert_eq!(privileged.len(), 3, "{privileged:?}");
        assert!(
            privileged[0].starts_with("privileged: spec.allowedCapabilities allows NET_RAW, outside the baseline list")
        );
        assert!(privileged[1].starts_with("privileged: spec.seLinux.rule is RunAsAny"));
        assert_eq!(
            privileged[2],
            "privileged: metadata.annotations[seccomp.security.alpha.kubernetes.io/allowedProfileNames] allows unconfined; baseline allows only runtime/default, localhost/* and unset"
        );
        assert!(mapping
            .reasons
            .iter()
            .any(|r| r.starts_with("baseline: spec.volumes allows awsElasticBlockStore, azureDisk")));

        // The same policy without those three settings is the Baseline level.
        let mut fixed = upstream_baseline();
        fixed.spec.allowed_capabilities.retain(|c| c != "NET_RAW");
        fixed.spec.se_linux =
            SeLinuxStrategyOptions { rule: SeLinuxRule::MustRunAs, se_linux_options: Some(SELinuxOptions::default()) };
        if let Some(annotations) = fixed.metadata.annotations.as_mut() {
            annotations.insert(SECCOMP_ALLOWED_PROFILES_ANNOTATION.into(), "runtime/default,".into());
        }
        let mapping = pss_level(&fixed);
        assert_eq!(mapping.level, Level::Baseline, "{:?}", mapping.reasons);
        assert!(mapping.reasons.iter().all(|r| r.starts_with("baseline: ")));
        assert!(mapping.reasons.iter().any(|r| r.contains("allows an unset seccomp profile")));
    }

    #[test]
    fn mapping_of_the_upstream_restricted_example() {
        let mapping = pss_level(&upstream_restricted());
        // seLinux RunAsAny lets pods choose any SELinux type or user, which
        // Baseline forbids: that is the one field keeping it from restricted.
        assert_eq!(mapping.level, Level::Privileged);
        assert_eq!(
            mapping.reasons,
            ["privileged: spec.seLinux.rule is RunAsAny; baseline and restricted require MustRunAs with user and role unset and type unset or one of container_t, container_init_t, container_kvm_t"]
        );
        let mut with_se_linux = upstream_restricted();
        with_se_linux.spec.se_linux =
            serde_json::from_value(json!({"rule": "MustRunAs", "seLinuxOptions": {"level": "s0:c123,c456"}}))
                .expect("seLinux");
        let mapping = pss_level(&with_se_linux);
        assert_eq!(mapping, PssMapping { level: Level::Restricted, reasons: vec![] });

        // And a pod meeting Restricted passes the example policy itself.
        let meta = meta(json!({"container.apparmor.security.beta.kubernetes.io/app": "runtime/default"}));
        let spec = pod(json!({
            "securityContext": {"runAsNonRoot": true, "fsGroup": 1000, "supplementalGroups": [1000],
                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "app", "securityContext": {
                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}],
            "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}]
        }));
        assert_eq!(check_meta(&upstream_restricted(), &meta, &spec), Vec::<String>::new());
    }

    #[test]
    fn mapping_rules() {
        let restricted = {
            let mut p = upstream_restricted();
            p.spec.se_linux = SeLinuxStrategyOptions {
                rule: SeLinuxRule::MustRunAs,
                se_linux_options: Some(SELinuxOptions::default()),
            };
            p
        };
        let level_with = |edit: &dyn Fn(&mut PodSecurityPolicy)| {
            let mut p = restricted.clone();
            edit(&mut p);
            pss_level(&p).level
        };
        assert_eq!(level_with(&|_| {}), Level::Restricted);
        assert_eq!(level_with(&|p| p.spec.allowed_capabilities = vec!["NET_BIND_SERVICE".into()]), Level::Restricted);
        assert_eq!(level_with(&|p| p.spec.allowed_capabilities = vec!["CHOWN".into()]), Level::Baseline);
        assert_eq!(level_with(&|p| p.spec.default_add_capabilities = vec!["SYS_ADMIN".into()]), Level::Privileged);
        assert_eq!(level_with(&|p| p.spec.required_drop_capabilities.clear()), Level::Baseline);
        assert_eq!(level_with(&|p| p.spec.volumes.push("hostPath".into())), Level::Privileged);
        assert_eq!(level_with(&|p| p.spec.volumes.push("nfs".into())), Level::Baseline);
        assert_eq!(level_with(&|p| p.spec.host_ports = vec![HostPortRange { min: 0, max: 0 }]), Level::Restricted);
        assert_eq!(level_with(&|p| p.spec.host_ports = vec![HostPortRange { min: 80, max: 80 }]), Level::Privileged);
        assert_eq!(level_with(&|p| p.spec.run_as_user.rule = RunAsUserRule::MustRunAs), Level::Baseline);
        assert_eq!(level_with(&|p| p.spec.allow_privilege_escalation = None), Level::Baseline);
        assert_eq!(
            level_with(&|p| p.spec.allowed_unsafe_sysctls = vec!["kernel.shm_rmid_forced".into()]),
            Level::Restricted
        );
        assert_eq!(level_with(&|p| p.spec.allowed_unsafe_sysctls = vec!["net.core.*".into()]), Level::Privileged);
        assert_eq!(level_with(&|p| p.spec.allowed_proc_mount_types = vec!["Default".into()]), Level::Restricted);
        assert_eq!(level_with(&|p| p.spec.allowed_proc_mount_types = vec!["Unmasked".into()]), Level::Privileged);
        assert_eq!(level_with(&|p| p.spec.read_only_root_filesystem = true), Level::Restricted);
        let se_linux = |options: Value| {
            move |p: &mut PodSecurityPolicy| {
                p.spec.se_linux.se_linux_options = serde_json::from_value(options.clone()).expect("options");
            }
        };
        assert_eq!(level_with(&se_linux(json!({"type": "container_init_t"}))), Level::Restricted);
        assert_eq!(level_with(&se_linux(json!({"type": "spc_t"}))), Level::Privileged);
        assert_eq!(level_with(&se_linux(json!({"user": "system_u"}))), Level::Privileged);
        assert_eq!(level_with(&se_linux(json!({"role": "system_r"}))), Level::Privileged);
        let annotate = |key: &'static str, value: Option<&'static str>| {
            move |p: &mut PodSecurityPolicy| {
                let annotations = p.metadata.annotations.get_or_insert_with(BTreeMap::new);
                match value {
                    Some(v) => annotations.insert(key.to_string(), v.to_string()),
                    None => annotations.remove(key),
                };
            }
        };
        let seccomp = SECCOMP_ALLOWED_PROFILES_ANNOTATION;
        let apparmor = APPARMOR_ALLOWED_PROFILES_ANNOTATION;
        assert_eq!(level_with(&annotate(seccomp, Some("runtime/default,localhost/prof.json"))), Level::Restricted);
        assert_eq!(level_with(&annotate(seccomp, Some("runtime/default,"))), Level::Baseline);
        assert_eq!(level_with(&annotate(seccomp, None)), Level::Baseline);
        assert_eq!(level_with(&annotate(seccomp, Some("*"))), Level::Privileged);
        assert_eq!(level_with(&annotate(seccomp, Some("runtime/default,unconfined"))), Level::Privileged);
        assert_eq!(level_with(&annotate(apparmor, Some("localhost/k8s-nginx"))), Level::Restricted);
        assert_eq!(level_with(&annotate(apparmor, Some("runtime/default,"))), Level::Baseline);
        assert_eq!(level_with(&annotate(apparmor, None)), Level::Privileged);
        assert_eq!(level_with(&annotate(apparmor, Some("unconfined"))), Level::Privileged);
    }
}
