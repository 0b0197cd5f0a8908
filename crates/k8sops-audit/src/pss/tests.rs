//! One passing and one failing pod per check, at baseline and restricted,
//! with the version-dependent revisions pinned.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    AppArmorProfile, Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EphemeralContainer, HTTPGetAction,
    HostPathVolumeSource, ImageVolumeSource, Lifecycle, LifecycleHandler, NFSVolumeSource, PodOS, PodSecurityContext,
    PodSpec, Probe, SELinuxOptions, SeccompProfile, SecretVolumeSource, SecurityContext, Sysctl, TCPSocketAction,
    Volume, WindowsSecurityContextOptions,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::format::go_quote;
use super::*;

const LATEST: PolicyVersion = PolicyVersion::Latest;

fn v(minor: u32) -> PolicyVersion {
    PolicyVersion::V1(minor)
}

fn container(name: &str) -> Container {
    Container { name: name.into(), ..Default::default() }
}

/// A container that satisfies restricted on its own.
fn hardened(name: &str) -> Container {
    Container {
        name: name.into(),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), add: None }),
            run_as_non_root: Some(true),
            seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), localhost_profile: None }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A pod with one hardened container "app": passes restricted at every version.
fn restricted_pod() -> PodSpec {
    PodSpec { containers: vec![hardened("app")], ..Default::default() }
}

/// The restricted pod with `edit` applied to its container's security context.
fn with_app_sc(edit: impl FnOnce(&mut SecurityContext)) -> PodSpec {
    let mut spec = restricted_pod();
    if let Some(sc) = spec.containers[0].security_context.as_mut() {
        edit(sc);
    }
    spec
}

/// The restricted pod with `edit` applied to its pod security context.
fn with_pod_sc(edit: impl FnOnce(&mut PodSecurityContext)) -> PodSpec {
    let mut spec = restricted_pod();
    let sc = spec.security_context.get_or_insert_with(Default::default);
    edit(sc);
    spec
}

fn meta() -> ObjectMeta {
    ObjectMeta::default()
}

fn annotated(pairs: &[(&str, &str)]) -> ObjectMeta {
    let annotations: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ObjectMeta { annotations: Some(annotations), ..Default::default() }
}

/// The IDs of the failed checks.
fn failing(meta: &ObjectMeta, spec: &PodSpec, level: Level, version: PolicyVersion) -> Vec<&'static str> {
    evaluate_pod(meta, spec, level, version).violations.into_iter().map(|v| v.check).collect()
}

/// The violation of `check`, panicking (in tests only) when the check passed.
fn violation(meta: &ObjectMeta, spec: &PodSpec, level: Level, version: PolicyVersion, check: &str) -> (String, String) {
    let eval = evaluate_pod(meta, spec, level, version);
    match eval.violations.into_iter().find(|v| v.check == check) {
        Some(v) => (v.reason, v.detail),
        None => panic!("{check} passed at {level}:{version}"),
    }
}

fn pair(reason: &str, detail: &str) -> (String, String) {
    (reason.to_owned(), detail.to_owned())
}

// ---------------------------------------------------------------- fixtures

#[test]
fn hardened_pod_satisfies_restricted_at_every_version() {
    for version in [v(0), v(8), v(19), v(22), v(23), v(25), v(30), v(34), v(35), v(36), v(37), v(99), LATEST] {
        assert_eq!(failing(&meta(), &restricted_pod(), Level::Restricted, version), Vec::<&str>::new(), "{version}");
    }
}

#[test]
fn privileged_level_runs_no_check() {
    let spec = with_app_sc(|sc| sc.privileged = Some(true));
    assert!(check_pod(&meta(), &spec, Level::Privileged, LATEST).is_empty());
    assert!(evaluate_pod(&meta(), &spec, Level::Privileged, LATEST).allowed());
}

// ---------------------------------------------------------------- baseline checks

#[test]
fn baseline_forbids_host_namespaces() {
    let spec = PodSpec { host_network: Some(true), host_pid: Some(true), host_ipc: Some(true), ..restricted_pod() };
    let expected = pair("host namespaces", "hostNetwork=true, hostPID=true, hostIPC=true");
    assert_eq!(violation(&meta(), &spec, Level::Baseline, LATEST, "hostNamespaces"), expected);
    assert_eq!(violation(&meta(), &spec, Level::Restricted, LATEST, "hostNamespaces"), expected);

    let spec = PodSpec { host_network: Some(false), host_pid: Some(false), host_ipc: Some(false), ..restricted_pod() };
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, LATEST).allowed());
}

#[test]
fn baseline_forbids_privileged_containers_in_every_container_list() {
    let mut spec = with_app_sc(|sc| sc.privileged = Some(true));
    let mut init = hardened("init");
    if let Some(sc) = init.security_context.as_mut() {
        sc.privileged = Some(true);
    }
    spec.init_containers = Some(vec![init]);
    let expected = pair("privileged", r#"containers "init", "app" must not set securityContext.privileged=true"#);
    assert_eq!(violation(&meta(), &spec, Level::Baseline, LATEST, "privileged"), expected);
    assert_eq!(violation(&meta(), &spec, Level::Restricted, LATEST, "privileged"), expected);

    let spec = with_app_sc(|sc| sc.privileged = Some(false));
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, LATEST).allowed());
}

#[test]
fn ephemeral_containers_are_checked_too() {
    let mut spec = restricted_pod();
    spec.ephemeral_containers = Some(vec![EphemeralContainer {
        name: "debug".into(),
        security_context: Some(SecurityContext { privileged: Some(true), ..Default::default() }),
        ..Default::default()
    }]);
    assert_eq!(
        violation(&meta(), &spec, Level::Baseline, LATEST, "privileged").1,
        r#"container "debug" must not set securityContext.privileged=true"#
    );
}

#[test]
fn baseline_allows_only_the_default_capabilities() {
    let spec = with_app_sc(|sc| {
        sc.capabilities = Some(Capabilities {
            add: Some(vec!["SYS_ADMIN".into(), "CHOWN".into(), "NET_RAW".into()]),
            drop: Some(vec!["ALL".into()]),
        })
    });
    assert_eq!(
        violation(&meta(), &spec, Level::Baseline, LATEST, "capabilities_baseline"),
        pair(
            "non-default capabilities",
            r#"container "app" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add"#
        )
    );

    let all_defaults = baseline::BASELINE_CAPABILITIES.iter().map(|c| c.to_string()).collect();
    let spec = with_app_sc(|sc| sc.capabilities = Some(Capabilities { add: Some(all_defaults), drop: None }));
    assert!(evaluate_pod(&meta(), &spec, Level::Baseline, LATEST).allowed());
}

#[test]
fn baseline_forbids_host_path_volumes() {
    let mut spec = restricted_pod();
    spec.volumes = Some(vec![Volume {
        name: "host".into(),
        host_path: Some(HostPathVolumeSource { path: "/var/run".into(), type_: None }),
        ..Default::default()
    }]);
    assert_eq!(
        violation(&meta(), &spec, Level::Baseline, LATEST, "hostPathVolumes"),
        pair("hostPath volumes", r#"volume "host""#)
    );
    // Restricted replaces it with restrictedVolumes.
    assert_eq!(failing(&meta(), &spec, Level::Restricted, LATEST), ["restrictedVolumes"]);

    let mut spec = restricted_pod();
    spec.volumes = Some(vec![Volume {
        name: "cfg".into(),
        config_map: Some(ConfigMapVolumeSource { name: "cfg".into(), ..Default::default() }),
        ..Default::default()
    }]);
    assert!(evaluate_pod(&meta(), &spec, Level::Baseline, LATEST).allowed());
}

#[test]
fn baseline_forbids_host_ports_listed_as_strings() {
    let port =
        |container_port: i32, host_port: Option<i32>| ContainerPort { container_port, host_port, ..Default::default() };
    let mut spec = restricted_pod();
    spec.containers[0].ports = Some(vec![port(80, Some(8080)), port(81, Some(0))]);
    let mut sidecar = hardened("sidecar");
    sidecar.ports = Some(vec![port(90, Some(10000))]);
    spec.containers.push(sidecar);
    let expected = pair("hostPort", r#"containers "app", "sidecar" use hostPorts 10000, 8080"#);
    assert_eq!(violation(&meta(), &spec, Level::Baseline, LATEST, "hostPorts"), expected);
    assert_eq!(violation(&meta(), &spec, Level::Restricted, LATEST, "hostPorts"), expected);

    let mut spec = restricted_pod();
    spec.containers[0].ports = Some(vec![port(80, None), port(81, Some(0))]);
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, LATEST).allowed());
}

#[test]
fn baseline_forbids_unconfined_app_armor_in_fields_and_annotations() {
    let unconfined = || Some(AppArmorProfile { type_: "Unconfined".into(), localhost_profile: None });
    let mut spec = with_app_sc(|sc| sc.app_armor_profile = unconfined());
    spec.security_context = Some(PodSecurityContext { app_armor_profile: unconfined(), ..Default::default() });
    let meta = annotated(&[("container.apparmor.security.beta.kubernetes.io/app", "unconfined")]);
    let expected = pair(
        "forbidden AppArmor profiles",
        r#"pod and container "app" and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/app="unconfined"""#,
    );
    assert_eq!(violation(&meta, &spec, Level::Baseline, LATEST, "appArmorProfile"), expected);
    assert_eq!(violation(&meta, &spec, Level::Restricted, v(24), "appArmorProfile"), expected);

    let spec = with_app_sc(|sc| {
        sc.app_armor_profile = Some(AppArmorProfile { type_: "Localhost".into(), localhost_profile: Some("p".into()) })
    });
    let meta = annotated(&[
        ("container.apparmor.security.beta.kubernetes.io/app", "runtime/default"),
        ("container.apparmor.security.beta.kubernetes.io/side", "localhost/custom"),
    ]);
    assert!(evaluate_pod(&meta, &spec, Level::Restricted, LATEST).allowed());
}

#[test]
fn baseline_restricts_se_linux_types_and_forbids_user_and_role() {
    let spec = with_pod_sc(|sc| {
        sc.se_linux_options =
            Some(SELinuxOptions { type_: Some("spc_t".into()), user: Some("root".into()), ..Default::default() })
    });
    let expected = pair(
        "seLinuxOptions",
        r#"pod set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set"#,
    );
    assert_eq!(violation(&meta(), &spec, Level::Baseline, LATEST, "seLinuxOptions"), expected);
    assert_eq!(violation(&meta(), &spec, Level::Restricted, LATEST, "seLinuxOptions"), expected);

    let spec = with_app_sc(|sc| {
        sc.se_linux_options = Some(SELinuxOptions {
            type_: Some("container_t".into()),
            level: Some("s0:c123,c456".into()),
            ..Default::default()
        })
    });
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, LATEST).allowed());
}

#[test]
fn container_engine_t_selinux_type_is_allowed_from_v1_31() {
    let spec = with_app_sc(|sc| {
        sc.se_linux_options = Some(SELinuxOptions { type_: Some("container_engine_t".into()), ..Default::default() })
    });
    assert!(evaluate_pod(&meta(), &spec, Level::Baseline, v(31)).allowed());
    assert_eq!(
        violation(&meta(), &spec, Level::Baseline, v(30), "seLinuxOptions").1,
        r#"container "app" set forbidden securityContext.seLinuxOptions: type "container_engine_t""#
    );
}

#[test]
fn baseline_forbids_unmasked_proc_mount() {
    let spec = with_app_sc(|sc| sc.proc_mount = Some("Unmasked".into()));
    let expected = pair("procMount", r#"container "app" must not set securityContext.procMount to "Unmasked""#);
    assert_eq!(violation(&meta(), &spec, Level::Baseline, LATEST, "procMount"), expected);
    assert_eq!(violation(&meta(), &spec, Level::Restricted, LATEST, "procMount_restricted"), expected);

    let spec = with_app_sc(|sc| sc.proc_mount = Some("Default".into()));
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, LATEST).allowed());
}

#[test]
fn baseline_allows_unmasked_proc_mount_in_a_user_namespace_from_v1_35_but_restricted_does_not() {
    let mut spec = with_app_sc(|sc| sc.proc_mount = Some("Unmasked".into()));
    spec.host_users = Some(false);
    assert!(evaluate_pod(&meta(), &spec, Level::Baseline, v(35)).allowed());
    assert_eq!(failing(&meta(), &spec, Level::Baseline, v(34)), ["procMount"]);
    assert_eq!(failing(&meta(), &spec, Level::Restricted, LATEST), ["procMount_restricted"]);
    assert_eq!(failing(&meta(), &spec, Level::Restricted, v(34)), ["procMount"]);
}

#[test]
fn baseline_forbids_unconfined_seccomp() {
    let spec = with_pod_sc(|sc| {
        sc.seccomp_profile = Some(SeccompProfile { type_: "Unconfined".into(), localhost_profile: None })
    });
    assert_eq!(
        violation(&meta(), &spec, Level::Baseline, LATEST, "seccompProfile_baseline"),
        pair("seccompProfile", r#"pod must not set securityContext.seccompProfile.type to "Unconfined""#)
    );
    // Restricted replaces it with seccompProfile_restricted, which reports the same reason.
    assert_eq!(failing(&meta(), &spec, Level::Restricted, LATEST), ["seccompProfile_restricted"]);

    // Baseline does not require a profile.
    let mut spec = restricted_pod();
    spec.containers = vec![container("app")];
    assert!(evaluate_pod(&meta(), &spec, Level::Baseline, LATEST).allowed());
}

#[test]
fn seccomp_annotations_are_checked_before_v1_19_and_ignored_after() {
    let meta = annotated(&[
        ("seccomp.security.alpha.kubernetes.io/pod", "unconfined"),
        ("container.seccomp.security.alpha.kubernetes.io/app", "docker/default"),
    ]);
    let spec = restricted_pod();
    let expected =
        pair("seccompProfile", r#"forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined""#);
    assert_eq!(violation(&meta, &spec, Level::Baseline, v(18), "seccompProfile_baseline"), expected);
    // Before v1.19 restricted has no seccompProfile_restricted and keeps the baseline check.
    assert_eq!(violation(&meta, &spec, Level::Restricted, v(18), "seccompProfile_baseline"), expected);
    assert!(evaluate_pod(&meta, &spec, Level::Baseline, v(19)).allowed());
}

#[test]
fn baseline_allows_only_safe_sysctls() {
    let spec = with_pod_sc(|sc| {
        sc.sysctls = Some(vec![
            Sysctl { name: "kernel.msgmax".into(), value: "1".into() },
            Sysctl { name: "net.ipv4.tcp_syncookies".into(), value: "1".into() },
            Sysctl { name: "vm.swappiness".into(), value: "1".into() },
        ])
    });
    let expected = pair("forbidden sysctls", "kernel.msgmax, vm.swappiness");
    assert_eq!(violation(&meta(), &spec, Level::Baseline, LATEST, "sysctls"), expected);
    assert_eq!(violation(&meta(), &spec, Level::Restricted, LATEST, "sysctls"), expected);

    let spec = with_pod_sc(|sc| {
        sc.sysctls =
            Some(baseline::allowed_sysctls(37).map(|name| Sysctl { name: name.into(), value: "1".into() }).collect())
    });
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, LATEST).allowed());
}

#[test]
fn safe_sysctls_grow_with_the_policy_version() {
    let with_sysctl =
        |name: &str| with_pod_sc(|sc| sc.sysctls = Some(vec![Sysctl { name: name.into(), value: "1".into() }]));
    let cases = [
        ("net.ipv4.ip_local_reserved_ports", 27),
        ("net.ipv4.tcp_keepalive_time", 29),
        ("net.ipv4.tcp_fin_timeout", 29),
        ("net.ipv4.tcp_rmem", 32),
        ("net.ipv4.tcp_wmem", 32),
        ("net.ipv4.tcp_slow_start_after_idle", 37),
        ("net.ipv4.tcp_notsent_lowat", 37),
    ];
    for (name, since) in cases {
        let spec = with_sysctl(name);
        assert!(evaluate_pod(&meta(), &spec, Level::Baseline, v(since)).allowed(), "{name} at v1.{since}");
        assert!(evaluate_pod(&meta(), &spec, Level::Baseline, LATEST).allowed(), "{name} at latest");
        assert_eq!(failing(&meta(), &spec, Level::Baseline, v(since - 1)), ["sysctls"], "{name} before v1.{since}");
    }
}

#[test]
fn baseline_forbids_windows_host_process() {
    let host_process = || Some(WindowsSecurityContextOptions { host_process: Some(true), ..Default::default() });
    let mut spec = with_app_sc(|sc| sc.windows_options = host_process());
    spec.security_context = Some(PodSecurityContext { windows_options: host_process(), ..Default::default() });
    let expected =
        pair("hostProcess", r#"pod and container "app" must not set securityContext.windowsOptions.hostProcess=true"#);
    assert_eq!(violation(&meta(), &spec, Level::Baseline, LATEST, "windowsHostProcess"), expected);
    assert_eq!(violation(&meta(), &spec, Level::Restricted, LATEST, "windowsHostProcess"), expected);

    let spec = with_app_sc(|sc| {
        sc.windows_options = Some(WindowsSecurityContextOptions { host_process: Some(false), ..Default::default() })
    });
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, LATEST).allowed());
}

fn probing(host: Option<&str>) -> PodSpec {
    let mut spec = restricted_pod();
    let app = &mut spec.containers[0];
    app.liveness_probe = Some(Probe {
        http_get: Some(HTTPGetAction {
            host: host.map(str::to_owned),
            port: IntOrString::Int(8080),
            ..Default::default()
        }),
        ..Default::default()
    });
    app.lifecycle = Some(Lifecycle {
        pre_stop: Some(LifecycleHandler {
            tcp_socket: Some(TCPSocketAction { host: Some("evil.example".into()), port: IntOrString::Int(1) }),
            ..Default::default()
        }),
        ..Default::default()
    });
    spec
}

#[test]
fn baseline_forbids_probe_and_lifecycle_hosts_from_v1_34() {
    let spec = probing(Some("10.0.0.1"));
    let expected =
        pair("probe or lifecycle host", r#"container "app" uses probe or lifecycle hosts "10.0.0.1", "evil.example""#);
    assert_eq!(violation(&meta(), &spec, Level::Baseline, LATEST, "hostProbesAndHostLifecycle"), expected);
    assert_eq!(violation(&meta(), &spec, Level::Restricted, v(34), "hostProbesAndHostLifecycle"), expected);
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, v(33)).allowed());

    let mut spec = probing(Some(""));
    spec.containers[0].lifecycle = None;
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, LATEST).allowed());
}

// ---------------------------------------------------------------- restricted checks

#[test]
fn restricted_requires_allow_privilege_escalation_false() {
    let spec = with_app_sc(|sc| sc.allow_privilege_escalation = None);
    assert_eq!(
        violation(&meta(), &spec, Level::Restricted, LATEST, "allowPrivilegeEscalation"),
        pair(
            "allowPrivilegeEscalation != false",
            r#"container "app" must set securityContext.allowPrivilegeEscalation=false"#
        )
    );
    assert!(evaluate_pod(&meta(), &spec, Level::Baseline, LATEST).allowed());
    let spec = with_app_sc(|sc| sc.allow_privilege_escalation = Some(true));
    assert_eq!(failing(&meta(), &spec, Level::Restricted, LATEST), ["allowPrivilegeEscalation"]);
    // The field appeared in 1.8.
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, v(7)).allowed());
}

#[test]
fn restricted_exempts_windows_pods_from_linux_only_fields_from_v1_25() {
    let spec = PodSpec {
        os: Some(PodOS { name: "windows".into() }),
        containers: vec![container("app")],
        ..Default::default()
    };
    assert_eq!(failing(&meta(), &spec, Level::Restricted, LATEST), ["runAsNonRoot"]);
    assert_eq!(
        failing(&meta(), &spec, Level::Restricted, v(24)),
        ["allowPrivilegeEscalation", "capabilities_restricted", "runAsNonRoot", "seccompProfile_restricted"]
    );
    let linux = PodSpec { os: Some(PodOS { name: "linux".into() }), ..spec };
    assert_eq!(failing(&meta(), &linux, Level::Restricted, LATEST).len(), 4);
}

#[test]
fn restricted_requires_drop_all_capabilities() {
    let spec = with_app_sc(|sc| sc.capabilities = None);
    assert_eq!(
        violation(&meta(), &spec, Level::Restricted, LATEST, "capabilities_restricted"),
        pair("unrestricted capabilities", r#"container "app" must set securityContext.capabilities.drop=["ALL"]"#)
    );
    assert!(evaluate_pod(&meta(), &spec, Level::Baseline, LATEST).allowed());
}

#[test]
fn restricted_allows_adding_only_net_bind_service() {
    let spec = with_app_sc(|sc| {
        sc.capabilities = Some(Capabilities {
            add: Some(vec!["NET_BIND_SERVICE".into(), "CHOWN".into()]),
            drop: Some(vec!["NET_RAW".into()]),
        })
    });
    assert_eq!(
        violation(&meta(), &spec, Level::Restricted, LATEST, "capabilities_restricted"),
        pair(
            "unrestricted capabilities",
            r#"container "app" must set securityContext.capabilities.drop=["ALL"]; container "app" must not include "CHOWN" in securityContext.capabilities.add"#
        )
    );
    // CHOWN is a default capability: baseline allows it.
    assert!(evaluate_pod(&meta(), &spec, Level::Baseline, LATEST).allowed());

    let spec = with_app_sc(|sc| {
        sc.capabilities =
            Some(Capabilities { add: Some(vec!["NET_BIND_SERVICE".into()]), drop: Some(vec!["ALL".into()]) })
    });
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, LATEST).allowed());
}

#[test]
fn restricted_before_v1_22_keeps_the_baseline_capabilities_check() {
    let spec =
        with_app_sc(|sc| sc.capabilities = Some(Capabilities { add: Some(vec!["SYS_ADMIN".into()]), drop: None }));
    assert_eq!(failing(&meta(), &spec, Level::Restricted, v(21)), ["capabilities_baseline"]);
    assert_eq!(failing(&meta(), &spec, Level::Restricted, v(22)), ["capabilities_restricted"]);
}

#[test]
fn restricted_allows_only_listed_volume_types() {
    let mut spec = restricted_pod();
    spec.volumes = Some(vec![
        Volume {
            name: "data".into(),
            nfs: Some(NFSVolumeSource { server: "nfs".into(), path: "/".into(), read_only: None }),
            ..Default::default()
        },
        Volume {
            name: "host".into(),
            host_path: Some(HostPathVolumeSource { path: "/".into(), type_: None }),
            ..Default::default()
        },
    ]);
    assert_eq!(
        violation(&meta(), &spec, Level::Restricted, LATEST, "restrictedVolumes"),
        pair("restricted volume types", r#"volumes "data", "host" use restricted volume types "hostPath", "nfs""#)
    );
    assert_eq!(failing(&meta(), &spec, Level::Baseline, LATEST), ["hostPathVolumes"]);

    let mut spec = restricted_pod();
    spec.volumes = Some(vec![
        Volume {
            name: "secret".into(),
            secret: Some(SecretVolumeSource { secret_name: Some("s".into()), ..Default::default() }),
            ..Default::default()
        },
        Volume {
            name: "image".into(),
            image: Some(ImageVolumeSource { reference: Some("busybox".into()), ..Default::default() }),
            ..Default::default()
        },
        // No source: the API server defaults it to emptyDir before admission.
        Volume { name: "implicit-empty-dir".into(), ..Default::default() },
    ]);
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, LATEST).allowed());
}

#[test]
fn restricted_requires_run_as_non_root() {
    let spec = with_pod_sc(|sc| sc.run_as_non_root = Some(false));
    assert_eq!(
        violation(&meta(), &spec, Level::Restricted, LATEST, "runAsNonRoot"),
        pair("runAsNonRoot != true", "pod must not set securityContext.runAsNonRoot=false")
    );
    let spec = with_app_sc(|sc| sc.run_as_non_root = None);
    assert_eq!(
        violation(&meta(), &spec, Level::Restricted, LATEST, "runAsNonRoot"),
        pair("runAsNonRoot != true", r#"pod or container "app" must set securityContext.runAsNonRoot=true"#)
    );
    assert!(evaluate_pod(&meta(), &spec, Level::Baseline, LATEST).allowed());

    // A pod-level true covers containers that leave it unset.
    let mut spec = with_app_sc(|sc| sc.run_as_non_root = None);
    spec.security_context = Some(PodSecurityContext { run_as_non_root: Some(true), ..Default::default() });
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, LATEST).allowed());
}

#[test]
fn user_namespace_pods_may_run_as_root_from_v1_35() {
    let mut spec = with_app_sc(|sc| {
        sc.run_as_non_root = Some(false);
        sc.run_as_user = Some(0);
    });
    spec.host_users = Some(false);
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, v(35)).allowed());
    assert_eq!(failing(&meta(), &spec, Level::Restricted, v(34)), ["runAsNonRoot", "runAsUser"]);
}

#[test]
fn restricted_forbids_run_as_user_zero_from_v1_23() {
    let mut spec = with_app_sc(|sc| sc.run_as_user = Some(0));
    spec.security_context = Some(PodSecurityContext { run_as_user: Some(0), ..Default::default() });
    assert_eq!(
        violation(&meta(), &spec, Level::Restricted, LATEST, "runAsUser"),
        pair("runAsUser=0", r#"pod and container "app" must not set runAsUser=0"#)
    );
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, v(22)).allowed());
    assert!(evaluate_pod(&meta(), &spec, Level::Baseline, LATEST).allowed());

    let spec = with_app_sc(|sc| sc.run_as_user = Some(1000));
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, LATEST).allowed());
}

#[test]
fn restricted_requires_a_seccomp_profile() {
    let spec = with_app_sc(|sc| sc.seccomp_profile = None);
    assert_eq!(
        violation(&meta(), &spec, Level::Restricted, LATEST, "seccompProfile_restricted"),
        pair(
            "seccompProfile",
            r#"pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost""#
        )
    );
    assert!(evaluate_pod(&meta(), &spec, Level::Baseline, LATEST).allowed());
    // Not required before the field existed (v1.19).
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, v(18)).allowed());

    // A pod-level profile covers the containers.
    let mut spec = with_app_sc(|sc| sc.seccomp_profile = None);
    spec.security_context = Some(PodSecurityContext {
        seccomp_profile: Some(SeccompProfile { type_: "Localhost".into(), localhost_profile: Some("p.json".into()) }),
        ..Default::default()
    });
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, LATEST).allowed());
}

#[test]
fn restricted_reports_explicitly_unconfined_containers_before_missing_ones() {
    let mut spec = with_app_sc(|sc| {
        sc.seccomp_profile = Some(SeccompProfile { type_: "Unconfined".into(), localhost_profile: None })
    });
    spec.containers.push(container("sidecar"));
    assert_eq!(
        violation(&meta(), &spec, Level::Restricted, LATEST, "seccompProfile_restricted").1,
        r#"container "app" must not set securityContext.seccompProfile.type to "Unconfined""#
    );
}

// ---------------------------------------------------------------- aggregation and messages

#[test]
fn restricted_warning_matches_the_api_server_text() {
    let spec = PodSpec { containers: vec![container("app")], ..Default::default() };
    let eval = evaluate_pod(&meta(), &spec, Level::Restricted, LATEST);
    assert_eq!(
        eval.warning().as_deref(),
        Some(concat!(
            r#"would violate PodSecurity "restricted:latest": "#,
            r#"allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), "#,
            r#"unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), "#,
            r#"runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), "#,
            r#"seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
        ))
    );
    assert_eq!(
        forbidden_reason(&eval.violations),
        "allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile"
    );
    assert!(eval.enforce_message().is_some_and(|m| m.starts_with(r#"violates PodSecurity "restricted:latest": "#)));
}

#[test]
fn several_containers_are_listed_in_one_detail() {
    let spec = PodSpec { containers: vec![container("a"), container("b")], ..Default::default() };
    assert_eq!(
        violation(&meta(), &spec, Level::Restricted, v(24), "allowPrivilegeEscalation").1,
        r#"containers "a", "b" must set securityContext.allowPrivilegeEscalation=false"#
    );
    assert!(evaluate_pod(&meta(), &spec, Level::Restricted, v(24))
        .warning()
        .is_some_and(|w| w.starts_with(r#"would violate PodSecurity "restricted:v1.24": "#)));
}

#[test]
fn checks_run_in_upstream_order() {
    let ids = |level: Level| CHECKS.iter().filter(|c| c.level == level).map(|c| c.id).collect::<Vec<_>>();
    let (baseline, restricted) = (ids(Level::Baseline), ids(Level::Restricted));
    let mut sorted = baseline.clone();
    sorted.sort_unstable();
    assert_eq!(baseline, sorted);
    let mut sorted = restricted.clone();
    sorted.sort_unstable();
    assert_eq!(restricted, sorted);
    assert_eq!(CHECKS.iter().position(|c| c.level == Level::Restricted), Some(baseline.len()));
    assert_eq!(baseline.len(), 12);

    let latest: Vec<&str> = checks_for(Level::Restricted, LATEST).iter().map(|c| c.id).collect();
    assert_eq!(
        latest,
        [
            "appArmorProfile",
            "hostNamespaces",
            "hostPorts",
            "hostProbesAndHostLifecycle",
            "privileged",
            "seLinuxOptions",
            "sysctls",
            "windowsHostProcess",
            "allowPrivilegeEscalation",
            "capabilities_restricted",
            "procMount_restricted",
            "restrictedVolumes",
            "runAsNonRoot",
            "runAsUser",
            "seccompProfile_restricted",
        ]
    );
    let v1_0: Vec<&str> = checks_for(Level::Restricted, v(0)).iter().map(|c| c.id).collect();
    assert_eq!(
        v1_0,
        [
            "appArmorProfile",
            "capabilities_baseline",
            "hostNamespaces",
            "hostPorts",
            "privileged",
            "procMount",
            "seLinuxOptions",
            "seccompProfile_baseline",
            "sysctls",
            "windowsHostProcess",
            "restrictedVolumes",
            "runAsNonRoot",
        ]
    );
}

#[test]
fn every_check_has_text_and_increasing_revisions() {
    for check in CHECKS {
        assert!(!check.title.is_empty() && !check.description.is_empty() && !check.remediation.is_empty());
        let revisions = check.revisions();
        assert!(!revisions.is_empty(), "{}", check.id);
        assert!(revisions.windows(2).all(|w| w[0] < w[1]), "{}", check.id);
        assert!(revisions.iter().all(|r| *r <= PolicyVersion::NEWEST), "{}", check.id);
        if let Some(overridden) = check.overrides {
            assert_eq!(check.level, Level::Restricted);
            assert_eq!(CheckInfo::find(overridden).map(|c| c.level), Some(Level::Baseline));
        }
    }
    assert!(CHECKS.iter().any(|c| c.revisions().last() == Some(&PolicyVersion::NEWEST)));
}

#[test]
fn highest_level_allowed_picks_the_strictest_passing_level() {
    assert_eq!(highest_level_allowed(&meta(), &restricted_pod(), LATEST), Level::Restricted);
    let baseline_only = with_app_sc(|sc| sc.allow_privilege_escalation = None);
    assert_eq!(highest_level_allowed(&meta(), &baseline_only, LATEST), Level::Baseline);
    let privileged = PodSpec { host_pid: Some(true), ..restricted_pod() };
    assert_eq!(highest_level_allowed(&meta(), &privileged, LATEST), Level::Privileged);
    // A probe host is only forbidden from v1.34.
    assert_eq!(highest_level_allowed(&meta(), &probing(Some("x")), v(33)), Level::Restricted);
    assert_eq!(highest_level_allowed(&meta(), &probing(Some("x")), v(34)), Level::Privileged);
}

#[test]
fn namespace_warnings_group_pods_by_reason() {
    let eval = |spec: &PodSpec| evaluate_pod(&meta(), spec, Level::Baseline, LATEST);
    let host = eval(&PodSpec { host_network: Some(true), ..restricted_pod() });
    let privileged = eval(&with_app_sc(|sc| sc.privileged = Some(true)));
    let ok = eval(&restricted_pod());
    let pods = [("c", &host), ("a", &host), ("b", &host), ("z", &privileged), ("ok", &ok)];
    let enforce = LevelVersion::new(Level::Baseline, LATEST);
    assert_eq!(
        namespace_warnings("prod", enforce, pods),
        [
            r#"existing pods in namespace "prod" violate the new PodSecurity enforce level "baseline:latest""#,
            "a (and 2 other pods): host namespaces",
            "z: privileged",
        ]
    );
    assert!(namespace_warnings("prod", enforce, [("ok", &ok)]).is_empty());
}

// ---------------------------------------------------------------- versions and labels

#[test]
fn policy_versions_parse_like_upstream() {
    assert_eq!("latest".parse::<PolicyVersion>(), Ok(LATEST));
    assert_eq!("v1.0".parse::<PolicyVersion>(), Ok(v(0)));
    assert_eq!("v1.24".parse::<PolicyVersion>(), Ok(v(24)));
    for bad in ["", "Latest", "1.24", "v1", "v1.", "v1.024", "v2.0", "v1.2a", "v1.+2", "v1.-1", "v1.99999999999"] {
        assert!(bad.parse::<PolicyVersion>().is_err(), "{bad:?}");
    }
    assert_eq!(v(24).to_string(), "v1.24");
    assert!(v(99) < LATEST && v(24) < v(25));
    assert_eq!(serde_json::to_string(&v(24)).ok().as_deref(), Some(r#""v1.24""#));
    assert_eq!(serde_json::from_str::<PolicyVersion>(r#""latest""#).ok(), Some(LATEST));
    assert_eq!(serde_json::to_string(&Level::Restricted).ok().as_deref(), Some(r#""restricted""#));
}

#[test]
fn versions_past_the_newest_evaluate_like_latest() {
    let spec = with_pod_sc(|sc| {
        sc.sysctls = Some(vec![Sysctl { name: "net.ipv4.tcp_notsent_lowat".into(), value: "1".into() }])
    });
    assert!(evaluate_pod(&meta(), &spec, Level::Baseline, v(500)).allowed());
    assert_eq!(v(500).effective_minor(), LATEST.effective_minor());
}

#[test]
fn latest_is_capped_at_the_server_version() {
    let server = k8sops_core::KubeVersion::new(1, 33, 2);
    assert_eq!(LATEST.on_server(&server), v(33));
    assert_eq!(v(40).on_server(&server), v(33));
    assert_eq!(v(20).on_server(&server), v(20));
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn namespace_labels_round_trip() {
    let parsed = NamespaceLabels::from_labels(&labels(&[
        (ENFORCE_LABEL, "baseline"),
        (ENFORCE_VERSION_LABEL, "v1.24"),
        (WARN_LABEL, "restricted"),
        (WARN_VERSION_LABEL, "latest"),
        ("kubernetes.io/metadata.name", "shop"),
    ]));
    let expected = NamespaceLabels {
        enforce: Some(Level::Baseline),
        enforce_version: Some(v(24)),
        warn: Some(Level::Restricted),
        warn_version: Some(LATEST),
        ..Default::default()
    };
    assert_eq!(parsed, Ok(expected));
    assert_eq!(
        expected.to_labels(),
        labels(&[
            (ENFORCE_LABEL, "baseline"),
            (ENFORCE_VERSION_LABEL, "v1.24"),
            (WARN_LABEL, "restricted"),
            (WARN_VERSION_LABEL, "latest"),
        ])
    );
}

#[test]
fn invalid_namespace_labels_are_typed_errors_in_label_order() {
    let err = NamespaceLabels::from_labels(&labels(&[
        (WARN_VERSION_LABEL, "1.30"),
        (ENFORCE_LABEL, "strict"),
        (AUDIT_LABEL, "restricted"),
    ]));
    let Err(err) = err else { panic!("accepted invalid labels") };
    let bad: Vec<(&str, &str)> = err.labels().iter().map(|l| (l.label.as_str(), l.value.as_str())).collect();
    assert_eq!(bad, [(ENFORCE_LABEL, "strict"), (WARN_VERSION_LABEL, "1.30")]);
    assert_eq!(
        err.to_string(),
        concat!(
            r#"[metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted, "#,
            r#"metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "1.30": must be "latest" or "v1.x"]"#
        )
    );
}

#[test]
fn missing_labels_default_to_privileged_latest_and_warn_follows_enforce() {
    let policy = NamespaceLabels::default().policy();
    assert_eq!(policy, Policy::default());
    assert!(policy.fully_privileged());

    let policy =
        NamespaceLabels { enforce: Some(Level::Restricted), enforce_version: Some(v(30)), ..Default::default() }
            .policy();
    assert_eq!(policy.enforce.to_string(), "restricted:v1.30");
    assert_eq!(policy.warn.to_string(), "restricted:v1.30");
    assert_eq!(policy.audit.to_string(), "privileged:latest");

    // An explicit warn level, even a weaker one, is kept.
    let policy =
        NamespaceLabels { enforce: Some(Level::Restricted), warn: Some(Level::Baseline), ..Default::default() }
            .policy();
    assert_eq!(policy.warn.to_string(), "baseline:latest");
    // An explicit warn version is kept when warn follows enforce.
    let policy = NamespaceLabels {
        enforce: Some(Level::Baseline),
        enforce_version: Some(v(25)),
        warn_version: Some(v(28)),
        ..Default::default()
    }
    .policy();
    assert_eq!(policy.warn.to_string(), "baseline:v1.28");
}

#[test]
fn lenient_policy_fails_closed_for_enforce_and_open_for_audit_and_warn() {
    let (policy, invalid) = Policy::from_labels(
        &labels(&[
            (ENFORCE_LABEL, "strict"),
            (ENFORCE_VERSION_LABEL, "v1"),
            (AUDIT_LABEL, "loud"),
            (WARN_LABEL, "Restricted"),
        ]),
        &Policy::default(),
    );
    assert_eq!(policy.enforce.to_string(), "restricted:latest");
    assert_eq!(policy.audit.to_string(), "privileged:latest");
    assert_eq!(policy.warn.to_string(), "privileged:latest");
    assert_eq!(invalid.len(), 4);

    let (policy, invalid) = Policy::from_labels(&labels(&[(ENFORCE_LABEL, "baseline")]), &Policy::default());
    assert!(invalid.is_empty());
    assert_eq!(policy.warn.level, Level::Baseline);
}

#[test]
fn go_quote_escapes_like_go() {
    assert_eq!(go_quote("unconfined"), r#""unconfined""#);
    assert_eq!(go_quote("a\"b\\c\n\t\u{1}\u{7f}"), r#""a\"b\\c\n\t\x01\x7f""#);
    assert_eq!(go_quote("héllo ☃"), "\"héllo ☃\"");
    assert_eq!(go_quote("\u{a0}\u{200b}"), r#""\u00a0\u200b""#);
}

#[test]
fn check_results_serialize_for_reports() {
    let results = check_pod(&meta(), &PodSpec { host_ipc: Some(true), ..restricted_pod() }, Level::Baseline, LATEST);
    let json = serde_json::to_value(&results).ok();
    let first_failed = json
        .as_ref()
        .and_then(|j| j.as_array())
        .and_then(|a| a.iter().find(|r| r["allowed"] == false))
        .map(|r| (r["id"].clone(), r["level"].clone()));
    assert_eq!(first_failed, Some((serde_json::json!("hostNamespaces"), serde_json::json!("baseline"))));
    let info = serde_json::to_value(CheckInfo::find("sysctls")).ok();
    assert_eq!(
        info.map(|i| i["revisions"].clone()),
        Some(serde_json::json!(["v1.0", "v1.27", "v1.29", "v1.32", "v1.37"]))
    );
}

// ---------------------------------------------------------------- server versions

fn server(version: &str) -> ServerVersion {
    ServerVersion::from(&version.parse::<k8sops_core::KubeVersion>().expect("a version"))
}

/// The reasons of the failed checks on `server`.
fn reasons_on(meta: &ObjectMeta, spec: &PodSpec, level: Level, on: ServerVersion) -> Vec<String> {
    evaluate_pod_on_server(meta, spec, level, LATEST, on).violations.into_iter().map(|v| v.reason).collect()
}

#[test]
fn server_versions_order_pre_releases_before_the_release() {
    assert!(server("v1.24.0-alpha.1") < server("v1.24.0-alpha.3"));
    assert!(server("v1.24.0-alpha.3") < server("v1.24.0-beta.0"));
    assert!(server("v1.24.0-rc.1") < server("v1.24.0"));
    assert!(server("v1.24.0") < server("v1.24.1"));
    assert_eq!(server("v1.29.3-eks-4f4795d"), server("1.29.3"));
    assert_eq!(server("v1.24.0-alpha.1").to_string(), "v1.24.0-alpha.1");
    assert_eq!(server("v1.24.0-alpha.1.12+0123abcd").minor(), 24);
    assert_eq!(server("v2.0.0"), ServerVersion::NEWEST);
    assert_eq!(ServerVersion::default(), ServerVersion::NEWEST);
    assert_eq!(serde_json::to_string(&server("v1.26.0-beta.0")).ok().as_deref(), Some(r#""v1.26.0-beta.0""#));
}

#[test]
fn newest_server_answers_like_evaluate_pod() {
    let specs = [
        restricted_pod(),
        PodSpec { containers: vec![container("app")], ..Default::default() },
        with_app_sc(|sc| sc.proc_mount = Some("Unmasked".into())),
        with_pod_sc(|sc| {
            sc.seccomp_profile = Some(SeccompProfile { type_: "Unconfined".into(), localhost_profile: None })
        }),
    ];
    for spec in &specs {
        for level in Level::ALL {
            for version in [LATEST, v(0), v(24), v(99)] {
                let newest = evaluate_pod_on_server(&meta(), spec, level, version, ServerVersion::NEWEST);
                assert_eq!(newest, evaluate_pod(&meta(), spec, level, version));
                assert_eq!(
                    check_pod_on_server(&meta(), spec, level, version, ServerVersion::NEWEST),
                    check_pod(&meta(), spec, level, version)
                );
            }
        }
    }
}

#[test]
fn servers_before_v1_24_0_alpha_3_report_overridden_baseline_checks_too() {
    // The texts a v1.24.0-alpha.1 kube-apiserver returned for these pods.
    let host_path = PodSpec {
        containers: vec![container("app")],
        volumes: Some(vec![Volume {
            name: "root".into(),
            host_path: Some(HostPathVolumeSource { path: "/".into(), type_: None }),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let alpha1 = server("v1.24.0-alpha.1");
    assert_eq!(
        evaluate_pod_on_server(&meta(), &host_path, Level::Restricted, LATEST, alpha1).warning().as_deref(),
        Some(concat!(
            r#"would violate PodSecurity "restricted:latest": hostPath volumes (volume "root"), "#,
            r#"allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), "#,
            r#"unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), "#,
            r#"restricted volume types (volume "root" uses restricted volume type "hostPath"), "#,
            r#"runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), "#,
            r#"seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
        ))
    );
    let caps = PodSpec {
        containers: vec![Container {
            security_context: Some(SecurityContext {
                capabilities: Some(Capabilities {
                    add: Some(vec!["SYS_ADMIN".into(), "NET_BIND_SERVICE".into()]),
                    drop: None,
                }),
                ..Default::default()
            }),
            ..container("app")
        }],
        ..Default::default()
    };
    assert_eq!(
        reasons_on(&meta(), &caps, Level::Restricted, alpha1)[..3],
        ["non-default capabilities", "allowPrivilegeEscalation != false", "unrestricted capabilities"]
    );
    let unconfined = with_pod_sc(|sc| {
        sc.seccomp_profile = Some(SeccompProfile { type_: "Unconfined".into(), localhost_profile: None })
    });
    let checks = |on| -> Vec<&str> {
        evaluate_pod_on_server(&meta(), &unconfined, Level::Restricted, LATEST, on)
            .violations
            .iter()
            .map(|v| v.check)
            .collect()
    };
    assert_eq!(checks(alpha1), ["seccompProfile_baseline", "seccompProfile_restricted"]);
    assert_eq!(checks(server("v1.23.17")), ["seccompProfile_baseline", "seccompProfile_restricted"]);
    // Overrides arrived in v1.24.0-alpha.3.
    assert_eq!(checks(server("v1.24.0-alpha.2")), ["seccompProfile_baseline", "seccompProfile_restricted"]);
    assert_eq!(checks(server("v1.24.0-alpha.3")), ["seccompProfile_restricted"]);
    assert_eq!(checks(server("v1.24.0")), ["seccompProfile_restricted"]);
    // Baseline itself is unchanged.
    assert_eq!(reasons_on(&meta(), &unconfined, Level::Baseline, alpha1), ["seccompProfile"]);
}

#[test]
fn servers_before_v1_30_list_forbidden_app_armor_annotations_and_ignore_the_fields() {
    let meta = annotated(&[
        ("container.apparmor.security.beta.kubernetes.io/app", "unconfined"),
        ("container.apparmor.security.beta.kubernetes.io/b", "localhost/x"),
        ("container.apparmor.security.beta.kubernetes.io/c", "unconfined"),
    ]);
    let unconfined = || Some(AppArmorProfile { type_: "Unconfined".into(), localhost_profile: None });
    let mut spec = with_app_sc(|sc| sc.app_armor_profile = unconfined());
    spec.security_context = Some(PodSecurityContext { app_armor_profile: unconfined(), ..Default::default() });
    let on = |s| {
        let eval = evaluate_pod_on_server(&meta, &spec, Level::Baseline, LATEST, server(s));
        eval.violations.into_iter().find(|v| v.check == "appArmorProfile").map(|v| (v.reason, v.detail))
    };
    let old = pair(
        "forbidden AppArmor profiles",
        r#"container.apparmor.security.beta.kubernetes.io/app="unconfined", container.apparmor.security.beta.kubernetes.io/c="unconfined""#,
    );
    assert_eq!(on("v1.24.0-alpha.1"), Some(old.clone()));
    assert_eq!(on("v1.30.0-alpha.3"), Some(old));
    let new = pair(
        "forbidden AppArmor profiles",
        r#"pod and container "app" and annotations must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/app="unconfined"", "container.apparmor.security.beta.kubernetes.io/c="unconfined"""#,
    );
    assert_eq!(on("v1.30.0-beta.0"), Some(new));
    // The fields alone: unknown to a v1.29 server, forbidden from v1.30.
    let fields_only = |s| evaluate_pod_on_server(&ObjectMeta::default(), &spec, Level::Baseline, LATEST, server(s));
    assert!(fields_only("v1.29.9").allowed());
    assert!(!fields_only("v1.30.0").allowed());
}

#[test]
fn servers_before_v1_33_drop_proc_mount_before_admission() {
    let unmasked = |name: &str| {
        let mut c = hardened(name);
        if let Some(sc) = c.security_context.as_mut() {
            sc.proc_mount = Some("Unmasked".into());
        }
        c
    };
    let mut spec = PodSpec { containers: vec![unmasked("app")], ..Default::default() };
    spec.init_containers = Some(vec![unmasked("init")]);
    let debug = unmasked("debug");
    spec.ephemeral_containers = Some(vec![EphemeralContainer {
        name: debug.name,
        security_context: debug.security_context,
        ..Default::default()
    }]);
    for old in ["v1.24.0-alpha.1", "v1.31.4", "v1.32.0"] {
        assert!(evaluate_pod_on_server(&meta(), &spec, Level::Restricted, LATEST, server(old)).allowed(), "{old}");
        assert_eq!(highest_level_allowed_on_server(&meta(), &spec, LATEST, server(old)), Level::Restricted);
    }
    assert_eq!(
        evaluate_pod_on_server(&meta(), &spec, Level::Baseline, LATEST, server("v1.33.0")).violations[0].detail,
        r#"containers "init", "app", "debug" must not set securityContext.procMount to "Unmasked""#
    );
    // The caller's spec is not changed.
    assert_eq!(spec.containers[0].security_context.as_ref().and_then(|sc| sc.proc_mount.as_deref()), Some("Unmasked"));
}

#[test]
fn servers_before_v1_26_name_selinux_user_and_role_only_next_to_a_forbidden_type() {
    let user_only = with_app_sc(|sc| {
        sc.se_linux_options = Some(SELinuxOptions { user: Some("root".into()), ..Default::default() })
    });
    let detail = |spec: &PodSpec, s| {
        let eval = evaluate_pod_on_server(&meta(), spec, Level::Baseline, LATEST, server(s));
        eval.violations.into_iter().find(|v| v.check == "seLinuxOptions").map(|v| v.detail)
    };
    // What a v1.24.0-alpha.1 kube-apiserver answered.
    assert_eq!(
        detail(&user_only, "v1.24.0-alpha.1").as_deref(),
        Some(r#"container "app" set forbidden securityContext.seLinuxOptions: "#)
    );
    assert_eq!(
        detail(&user_only, "v1.26.0-alpha.3").as_deref(),
        Some(r#"container "app" set forbidden securityContext.seLinuxOptions: user may not be set"#)
    );
    let type_and_role = with_app_sc(|sc| {
        sc.se_linux_options =
            Some(SELinuxOptions { type_: Some("spc_t".into()), role: Some("r".into()), ..Default::default() })
    });
    let expected = r#"container "app" set forbidden securityContext.seLinuxOptions: type "spc_t"; role may not be set"#;
    assert_eq!(detail(&type_and_role, "v1.25.0").as_deref(), Some(expected));
    assert_eq!(detail(&type_and_role, "v1.26.0").as_deref(), Some(expected));
}

#[test]
fn the_server_caps_the_policy_version_but_messages_keep_the_label() {
    let spec = with_pod_sc(|sc| {
        sc.sysctls = Some(vec![Sysctl { name: "net.ipv4.ip_local_reserved_ports".into(), value: "1".into() }])
    });
    // Allowed from policy v1.27, but a v1.24 server evaluates v1.30 as v1.24.
    assert!(evaluate_pod(&meta(), &spec, Level::Baseline, v(30)).allowed());
    let eval = evaluate_pod_on_server(&meta(), &spec, Level::Baseline, v(30), ServerVersion::new(24));
    assert_eq!(
        eval.warning().as_deref(),
        Some(r#"would violate PodSecurity "baseline:v1.30": forbidden sysctls (net.ipv4.ip_local_reserved_ports)"#)
    );
    assert_eq!(ServerVersion::new(24).policy_version(LATEST), v(24));
}

#[test]
fn namespace_warnings_on_an_old_server_list_the_overridden_checks() {
    let host_path = PodSpec {
        volumes: Some(vec![Volume {
            name: "root".into(),
            host_path: Some(HostPathVolumeSource { path: "/".into(), type_: None }),
            ..Default::default()
        }]),
        ..restricted_pod()
    };
    let (m, ok) = (meta(), restricted_pod());
    let pods = [("host-path", &m, &host_path), ("ok", &m, &ok)];
    let enforce = LevelVersion::new(Level::Restricted, LATEST);
    let header = r#"existing pods in namespace "x" violate the new PodSecurity enforce level "restricted:latest""#;
    assert_eq!(
        namespace_warnings_on_server("x", enforce, pods, server("v1.24.0-alpha.1")),
        [header, "host-path: hostPath volumes, restricted volume types"]
    );
    assert_eq!(
        namespace_warnings_on_server("x", enforce, pods, server("v1.24.0")),
        [header, "host-path: restricted volume types"]
    );
}

#[test]
fn servers_before_v1_26_do_not_warn_at_the_enforce_level() {
    let labels = labels(&[
        ("pod-security.kubernetes.io/enforce", "baseline"),
        ("pod-security.kubernetes.io/enforce-version", "v1.24"),
    ]);
    let (old, invalid) = Policy::from_labels_on_server(&labels, &Policy::default(), server("v1.26.0-alpha.3"));
    assert!(invalid.is_empty());
    assert_eq!(old.warn.to_string(), "privileged:latest");
    let (new, _) = Policy::from_labels_on_server(&labels, &Policy::default(), server("v1.26.0-beta.0"));
    assert_eq!(new.warn.to_string(), "baseline:v1.24");
    assert_eq!(Policy::from_labels(&labels, &Policy::default()).0, new);
}
