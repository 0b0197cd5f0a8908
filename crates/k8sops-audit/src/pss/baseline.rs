//! The baseline checks, one function per upstream `check_*.go` revision.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{LifecycleHandler, PodSpec, Probe, SELinuxOptions};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::checks::Forbidden;
use super::format::{containers, containers_phrase, go_quote, join_quote, pluralize};

/// `spec.hostUsers: false` (upstream's `relaxPolicyForUserNamespacePod`).
pub(super) fn in_user_namespace(spec: &PodSpec) -> bool {
    spec.host_users == Some(false)
}

/// `spec.os.name: windows`.
pub(super) fn is_windows(spec: &PodSpec) -> bool {
    spec.os.as_ref().is_some_and(|os| os.name == "windows")
}

// --- hostNamespaces (1.0) ---

pub(super) fn host_namespaces_1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    let mut set = Vec::new();
    if spec.host_network == Some(true) {
        set.push("hostNetwork=true");
    }
    if spec.host_pid == Some(true) {
        set.push("hostPID=true");
    }
    if spec.host_ipc == Some(true) {
        set.push("hostIPC=true");
    }
    if set.is_empty() {
        return None;
    }
    Some(Forbidden::new("host namespaces", set.join(", ")))
}

// --- privileged (1.0) ---

pub(super) fn privileged_1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    let bad: Vec<&str> = containers(spec)
        .filter(|c| c.security_context.and_then(|sc| sc.privileged) == Some(true))
        .map(|c| c.name)
        .collect();
    if bad.is_empty() {
        return None;
    }
    Some(Forbidden::new(
        "privileged",
        format!("{} must not set securityContext.privileged=true", containers_phrase(&bad)),
    ))
}

// --- capabilities_baseline (1.0) ---

/// The capabilities baseline allows adding (upstream's `capabilities_allowed_1_0`).
pub(crate) const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

pub(super) fn capabilities_baseline_1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    let mut bad = Vec::new();
    let mut non_default = BTreeSet::new();
    for c in containers(spec) {
        let Some(caps) = c.security_context.and_then(|sc| sc.capabilities.as_ref()) else { continue };
        let mut valid = true;
        for cap in caps.add.iter().flatten() {
            if !BASELINE_CAPABILITIES.contains(&cap.as_str()) {
                valid = false;
                non_default.insert(cap.as_str());
            }
        }
        if !valid {
            bad.push(c.name);
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(Forbidden::new(
        "non-default capabilities",
        format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&bad),
            join_quote(&non_default)
        ),
    ))
}

// --- hostPathVolumes (1.0) ---

pub(super) fn host_path_volumes_1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    let bad: Vec<&str> =
        spec.volumes.iter().flatten().filter(|v| v.host_path.is_some()).map(|v| v.name.as_str()).collect();
    if bad.is_empty() {
        return None;
    }
    Some(Forbidden::new(
        "hostPath volumes",
        format!("{} {}", pluralize("volume", "volumes", bad.len()), join_quote(&bad)),
    ))
}

// --- hostPorts (1.0) ---

pub(super) fn host_ports_1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    let mut bad = Vec::new();
    // Upstream keeps the ports as a set of strings, so they sort as strings.
    let mut ports = BTreeSet::new();
    for c in containers(spec) {
        let mut valid = true;
        for port in c.ports {
            if let Some(host_port) = port.host_port.filter(|p| *p != 0) {
                valid = false;
                ports.insert(host_port.to_string());
            }
        }
        if !valid {
            bad.push(c.name);
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(Forbidden::new(
        "hostPort",
        format!(
            "{} {} {} {}",
            containers_phrase(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.into_iter().collect::<Vec<_>>().join(", ")
        ),
    ))
}

// --- appArmorProfile (1.0) ---

const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn allowed_apparmor_annotation(value: &str) -> bool {
    value.is_empty() || value == "runtime/default" || value.starts_with("localhost/")
}

fn allowed_apparmor_type(profile_type: &str) -> bool {
    matches!(profile_type, "RuntimeDefault" | "Localhost")
}

pub(super) fn app_armor_profile_1_0(meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    let (mut setters, bad_values) = forbidden_profile_types(
        spec,
        spec.security_context.as_ref().and_then(|sc| sc.app_armor_profile.as_ref()).map(|p| p.type_.as_str()),
        |sc| sc.app_armor_profile.as_ref().map(|p| p.type_.as_str()),
        allowed_apparmor_type,
    );
    let mut annotations: Vec<String> = meta
        .annotations
        .iter()
        .flatten()
        .filter(|(k, v)| k.starts_with(APPARMOR_ANNOTATION_PREFIX) && !allowed_apparmor_annotation(v))
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect();
    let mut values: Vec<String> = bad_values.into_iter().map(str::to_owned).collect();
    if !annotations.is_empty() {
        annotations.sort();
        setters.push(pluralize("annotation", "annotations", annotations.len()).to_owned());
        values.extend(annotations);
    }
    if setters.is_empty() {
        return None;
    }
    Some(Forbidden::new(
        pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", values.len()),
        format!("{} must not set AppArmor profile type to {}", setters.join(" and "), join_quote(&values)),
    ))
}

/// `appArmorProfile` 1.0 as servers before v1.30.0-beta.0 word it: they
/// have no `appArmorProfile` fields, and the detail lists the forbidden
/// annotations alone, sorted.
pub(super) fn app_armor_profile_1_0_annotations_only(meta: &ObjectMeta, _spec: &PodSpec) -> Option<Forbidden> {
    let mut forbidden: Vec<String> = meta
        .annotations
        .iter()
        .flatten()
        .filter(|(k, v)| k.starts_with(APPARMOR_ANNOTATION_PREFIX) && !allowed_apparmor_annotation(v))
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect();
    if forbidden.is_empty() {
        return None;
    }
    forbidden.sort();
    Some(Forbidden::new(
        pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", forbidden.len()),
        forbidden.join(", "),
    ))
}

// --- seLinuxOptions (1.0, 1.31) ---

const SELINUX_TYPES_1_0: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t"];
const SELINUX_TYPES_1_31: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

pub(super) fn se_linux_options_1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    se_linux_options(spec, SELINUX_TYPES_1_0, true)
}

pub(super) fn se_linux_options_1_31(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    se_linux_options(spec, SELINUX_TYPES_1_31, true)
}

/// `seLinuxOptions` 1.0 as servers before v1.26.0-alpha.3 word it: `user`
/// and `role` are only named next to a forbidden type.
pub(super) fn se_linux_options_1_0_user_role_with_type_only(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    se_linux_options(spec, SELINUX_TYPES_1_0, false)
}

/// `user_role_alone`: name a forbidden user or role even when no type is
/// forbidden (servers since v1.26.0-alpha.3); before, they were only named
/// next to a forbidden type and the detail otherwise ended empty.
fn se_linux_options(spec: &PodSpec, allowed_types: &[&str], user_role_alone: bool) -> Option<Forbidden> {
    let mut bad_types = BTreeSet::new();
    let mut set_user = false;
    let mut set_role = false;
    let mut valid = |opts: &SELinuxOptions| {
        let mut valid = true;
        let selinux_type = opts.type_.as_deref().unwrap_or_default();
        if !allowed_types.contains(&selinux_type) {
            valid = false;
            bad_types.insert(selinux_type.to_owned());
        }
        if opts.user.as_deref().is_some_and(|u| !u.is_empty()) {
            valid = false;
            set_user = true;
        }
        if opts.role.as_deref().is_some_and(|r| !r.is_empty()) {
            valid = false;
            set_role = true;
        }
        valid
    };
    let mut setters = Vec::new();
    if let Some(opts) = spec.security_context.as_ref().and_then(|sc| sc.se_linux_options.as_ref()) {
        if !valid(opts) {
            setters.push("pod".to_owned());
        }
    }
    let mut bad_containers = Vec::new();
    for c in containers(spec) {
        if let Some(opts) = c.security_context.and_then(|sc| sc.se_linux_options.as_ref()) {
            if !valid(opts) {
                bad_containers.push(c.name);
            }
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    if setters.is_empty() {
        return None;
    }
    let mut data = Vec::new();
    if !bad_types.is_empty() {
        data.push(format!("{} {}", pluralize("type", "types", bad_types.len()), join_quote(&bad_types)));
    }
    if user_role_alone || !bad_types.is_empty() {
        if set_user {
            data.push("user may not be set".to_owned());
        }
        if set_role {
            data.push("role may not be set".to_owned());
        }
    }
    Some(Forbidden::new(
        "seLinuxOptions",
        format!("{} set forbidden securityContext.seLinuxOptions: {}", setters.join(" and "), data.join("; ")),
    ))
}

// --- procMount (1.0, 1.35) and procMount_restricted (1.35) ---

/// Any container setting a `procMount` other than `Default` (upstream's `procMount_1_0`).
pub(super) fn proc_mount_1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    for c in containers(spec) {
        let Some(proc_mount) = c.security_context.and_then(|sc| sc.proc_mount.as_deref()) else { continue };
        if proc_mount != "Default" {
            bad.push(c.name);
            types.insert(proc_mount);
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(Forbidden::new(
        "procMount",
        format!("{} must not set securityContext.procMount to {}", containers_phrase(&bad), join_quote(&types)),
    ))
}

pub(super) fn proc_mount_1_35(meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    if in_user_namespace(spec) {
        return None;
    }
    proc_mount_1_0(meta, spec)
}

// --- seccompProfile_baseline (1.0 annotations, 1.19 fields) ---

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

fn valid_seccomp_annotation(value: &str) -> bool {
    value == "runtime/default" || value == "docker/default" || value.starts_with("localhost/")
}

pub(super) fn valid_seccomp_type(profile_type: &str) -> bool {
    matches!(profile_type, "Localhost" | "RuntimeDefault")
}

pub(super) fn seccomp_profile_baseline_1_0(meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    let annotations = meta.annotations.as_ref();
    let mut forbidden = BTreeSet::new();
    let mut check = |key: &str| {
        if let Some(value) = annotations.and_then(|a| a.get(key)) {
            if !valid_seccomp_annotation(value) {
                forbidden.insert(format!("{key}={}", go_quote(value)));
            }
        }
    };
    check(SECCOMP_POD_ANNOTATION);
    for c in containers(spec) {
        check(&format!("{SECCOMP_CONTAINER_ANNOTATION_PREFIX}{}", c.name));
    }
    if forbidden.is_empty() {
        return None;
    }
    Some(Forbidden::new(
        "seccompProfile",
        format!(
            "forbidden {} {}",
            pluralize("annotation", "annotations", forbidden.len()),
            forbidden.into_iter().collect::<Vec<_>>().join(", ")
        ),
    ))
}

/// Who sets a profile type that `allowed` refuses — `pod` for the pod's own
/// security context, then the containers that do, as one phrase — and the
/// refused types. AppArmor's and seccomp's field checks share this shape.
fn forbidden_profile_types<'a>(
    spec: &'a PodSpec,
    pod_type: Option<&'a str>,
    container_type: impl Fn(&'a k8s_openapi::api::core::v1::SecurityContext) -> Option<&'a str>,
    allowed: impl Fn(&str) -> bool,
) -> (Vec<String>, BTreeSet<&'a str>) {
    let mut setters = Vec::new();
    let mut bad_values = BTreeSet::new();
    if let Some(t) = pod_type.filter(|t| !allowed(t)) {
        setters.push("pod".to_owned());
        bad_values.insert(t);
    }
    let mut bad_containers = Vec::new();
    for c in containers(spec) {
        if let Some(t) = c.security_context.and_then(&container_type).filter(|t| !allowed(t)) {
            bad_containers.push(c.name);
            bad_values.insert(t);
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    (setters, bad_values)
}

pub(super) fn seccomp_profile_baseline_1_19(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    let (setters, bad_values) = forbidden_profile_types(
        spec,
        spec.security_context.as_ref().and_then(|sc| sc.seccomp_profile.as_ref()).map(|p| p.type_.as_str()),
        |sc| sc.seccomp_profile.as_ref().map(|p| p.type_.as_str()),
        valid_seccomp_type,
    );
    if setters.is_empty() {
        return None;
    }
    Some(Forbidden::new(
        "seccompProfile",
        format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            setters.join(" and "),
            join_quote(&bad_values)
        ),
    ))
}

// --- sysctls (1.0, 1.27, 1.29, 1.32, 1.37) ---

/// The safe sysctls of policy 1.0.
pub(super) const SYSCTLS_1_0: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];
/// Added in policy 1.27.
pub(super) const SYSCTLS_ADDED_1_27: &[&str] = &["net.ipv4.ip_local_reserved_ports"];
/// Added in policy 1.29.
pub(super) const SYSCTLS_ADDED_1_29: &[&str] = &[
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
/// Added in policy 1.32.
pub(super) const SYSCTLS_ADDED_1_32: &[&str] = &["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];
/// Added in policy 1.37.
pub(super) const SYSCTLS_ADDED_1_37: &[&str] = &["net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"];

/// The safe sysctls at a policy minor version.
pub(super) fn allowed_sysctls(minor: u32) -> impl Iterator<Item = &'static str> {
    let additions: [(u32, &'static [&'static str]); 5] = [
        (0, SYSCTLS_1_0),
        (27, SYSCTLS_ADDED_1_27),
        (29, SYSCTLS_ADDED_1_29),
        (32, SYSCTLS_ADDED_1_32),
        (37, SYSCTLS_ADDED_1_37),
    ];
    additions.into_iter().filter(move |(since, _)| *since <= minor).flat_map(|(_, names)| names.iter().copied())
}

fn sysctls(spec: &PodSpec, minor: u32) -> Option<Forbidden> {
    let forbidden: Vec<&str> = spec
        .security_context
        .as_ref()
        .and_then(|sc| sc.sysctls.as_ref())
        .into_iter()
        .flatten()
        .map(|s| s.name.as_str())
        .filter(|name| !allowed_sysctls(minor).any(|allowed| allowed == *name))
        .collect();
    if forbidden.is_empty() {
        return None;
    }
    Some(Forbidden::new("forbidden sysctls", forbidden.join(", ")))
}

pub(super) fn sysctls_1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    sysctls(spec, 0)
}

pub(super) fn sysctls_1_27(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    sysctls(spec, 27)
}

pub(super) fn sysctls_1_29(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    sysctls(spec, 29)
}

pub(super) fn sysctls_1_32(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    sysctls(spec, 32)
}

pub(super) fn sysctls_1_37(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    sysctls(spec, 37)
}

// --- windowsHostProcess (1.0) ---

pub(super) fn windows_host_process_1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    let bad: Vec<&str> = containers(spec)
        .filter(|c| {
            c.security_context.and_then(|sc| sc.windows_options.as_ref()).and_then(|w| w.host_process) == Some(true)
        })
        .map(|c| c.name)
        .collect();
    let pod = spec.security_context.as_ref().and_then(|sc| sc.windows_options.as_ref()).and_then(|w| w.host_process)
        == Some(true);
    let mut setters = Vec::new();
    if pod {
        setters.push("pod".to_owned());
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    Some(Forbidden::new(
        "hostProcess",
        format!("{} must not set securityContext.windowsOptions.hostProcess=true", setters.join(" and ")),
    ))
}

// --- hostProbesAndHostLifecycle (1.34) ---

fn probe_hosts(probe: Option<&Probe>) -> impl Iterator<Item = &str> {
    let http = probe.and_then(|p| p.http_get.as_ref()).and_then(|h| h.host.as_deref());
    let tcp = probe.and_then(|p| p.tcp_socket.as_ref()).and_then(|t| t.host.as_deref());
    http.into_iter().chain(tcp).filter(|h| !h.is_empty())
}

fn lifecycle_hosts(handler: Option<&LifecycleHandler>) -> impl Iterator<Item = &str> {
    let http = handler.and_then(|p| p.http_get.as_ref()).and_then(|h| h.host.as_deref());
    let tcp = handler.and_then(|p| p.tcp_socket.as_ref()).and_then(|t| t.host.as_deref());
    http.into_iter().chain(tcp).filter(|h| !h.is_empty())
}

pub(super) fn host_probes_and_host_lifecycle_1_34(_meta: &ObjectMeta, spec: &PodSpec) -> Option<Forbidden> {
    let mut bad = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    for c in containers(spec) {
        let post_start = c.lifecycle.and_then(|l| l.post_start.as_ref());
        let pre_stop = c.lifecycle.and_then(|l| l.pre_stop.as_ref());
        let found: Vec<&str> = probe_hosts(c.liveness_probe)
            .chain(probe_hosts(c.readiness_probe))
            .chain(probe_hosts(c.startup_probe))
            .chain(lifecycle_hosts(post_start))
            .chain(lifecycle_hosts(pre_stop))
            .collect();
        if !found.is_empty() {
            bad.insert(c.name);
            hosts.extend(found);
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(Forbidden::new(
        "probe or lifecycle host",
        format!(
            "{} {} {} {} {}",
            pluralize("container", "containers", bad.len()),
            join_quote(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize("probe or lifecycle host", "probe or lifecycle hosts", hosts.len()),
            join_quote(&hosts)
        ),
    ))
}
