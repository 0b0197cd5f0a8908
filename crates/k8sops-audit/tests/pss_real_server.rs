//! The Pod Security checks against the real API server's `PodSecurity`
//! admission plugin (v1.24; the binary here reports v1.24.0-alpha.1, which
//! predates restricted checks overriding baseline ones): pods made to break each check are sent with a
//! server-side dry run into namespaces that warn at restricted and enforce
//! baseline; the server's warnings and refusals must be exactly the texts
//! k8sops computes offline for that server's version
//! (`pss::evaluate_pod_on_server`). Then a label change with a dry run: the
//! server's warnings about existing pods are what
//! `pss::namespace_warnings_on_server` predicts, and nothing changes until
//! the real call.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8sops_audit::{
    pod_security::apply_pss_labels,
    pss::{evaluate_pod_on_server, namespace_warnings_on_server, Level, LevelVersion, NamespaceLabels, PolicyVersion},
};
use k8sops_core::{Cluster, DryRun};
use k8sops_testkit::e2e;
use kube::{
    api::{Patch, PatchParams, PostParams},
    Api,
};
use serde_json::{json, Value};

/// Pod specs, each breaking one or more checks.
fn specs() -> Vec<(&'static str, Value)> {
    let c = |sc: Value| json!({"name": "app", "image": "busybox", "securityContext": sc});
    vec![
        ("plain", json!({"containers": [{"name": "app", "image": "busybox"}]})),
        (
            "restricted-ok",
            json!({"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [c(json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}))]}),
        ),
        ("privileged", json!({"containers": [c(json!({"privileged": true}))]})),
        (
            "host-ns",
            json!({"hostNetwork": true, "hostPID": true, "hostIPC": true, "containers": [{"name": "app", "image": "busybox"}]}),
        ),
        (
            "host-path",
            json!({"volumes": [{"name": "root", "hostPath": {"path": "/"}}], "containers": [{"name": "app", "image": "busybox"}]}),
        ),
        (
            "host-port",
            json!({"containers": [{"name": "app", "image": "busybox", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}),
        ),
        ("caps", json!({"containers": [c(json!({"capabilities": {"add": ["SYS_ADMIN", "NET_BIND_SERVICE"]}}))]})),
        ("root", json!({"securityContext": {"runAsUser": 0}, "containers": [{"name": "app", "image": "busybox"}]})),
        ("escalation", json!({"containers": [c(json!({"allowPrivilegeEscalation": true}))]})),
        (
            "seccomp-unconfined",
            json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}, "containers": [{"name": "app", "image": "busybox"}]}),
        ),
        (
            "sysctl",
            json!({"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}, "containers": [{"name": "app", "image": "busybox"}]}),
        ),
        ("selinux", json!({"containers": [c(json!({"seLinuxOptions": {"type": "spc_t"}}))]})),
        ("proc-mount", json!({"containers": [c(json!({"procMount": "Unmasked"}))]})),
        (
            "volume-types",
            json!({"volumes": [{"name": "nfs", "nfs": {"server": "10.0.0.1", "path": "/"}}], "containers": [{"name": "app", "image": "busybox"}]}),
        ),
        (
            "two-containers",
            json!({"containers": [{"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox", "securityContext": {"privileged": true}}],
            "initContainers": [{"name": "init", "image": "busybox", "securityContext": {"runAsNonRoot": false}}]}),
        ),
    ]
}

fn pod(name: &str, spec: &Value, annotations: Value) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name, "annotations": annotations}, "spec": spec})).unwrap()
}

/// Creates `pod` with a server-side dry run; returns the server's warnings,
/// or its refusal message.
async fn dry_create(cluster: &Cluster, ns: &str, pod: &Pod) -> Result<Vec<String>, String> {
    let body = serde_json::to_vec(pod).unwrap();
    let req = http::Request::post(format!("/api/v1/namespaces/{ns}/pods?dryRun=All"))
        .header("content-type", "application/json")
        .body(kube::client::Body::from(body))
        .unwrap();
    let res = cluster.client().send(req).await.unwrap();
    let status = res.status();
    let warnings: Vec<String> = res
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| {
            let v = v.to_str().unwrap();
            let text = v.splitn(3, ' ').nth(2).unwrap();
            text.trim_matches('"').replace("\\\"", "\"")
        })
        .collect();
    let bytes = res.into_body().collect_bytes().await.unwrap();
    if status.is_success() {
        Ok(warnings)
    } else {
        let st: Value = serde_json::from_slice(&bytes).unwrap();
        Err(st["message"].as_str().unwrap().to_string())
    }
}

async fn namespace(cluster: &Cluster, prefix: &str, labels: Value) -> String {
    let ns = e2e::fresh_namespace(cluster, prefix).await;
    let api: Api<Namespace> = Api::all(cluster.client().clone());
    api.patch(&ns, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": labels}}))).await.unwrap();
    ns
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_and_refusals_match_the_api_servers_pod_security_admission() {
    let Some(cluster) = e2e::real_cluster().await else { return };
    let server = cluster.server_version().await.unwrap();
    // The server evaluates `latest` as its own version, and prints it as written.
    let version = PolicyVersion::Latest;
    let warn_ns = namespace(&cluster, "psswarn", json!({"pod-security.kubernetes.io/warn": "restricted"})).await;
    let enforce_ns = namespace(&cluster, "pssenforce", json!({"pod-security.kubernetes.io/enforce": "baseline"})).await;
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for (name, spec) in specs() {
        let has_app = spec["containers"].as_array().unwrap().iter().any(|c| c["name"] == "app");
        let apparmor = json!({"container.apparmor.security.beta.kubernetes.io/app": "unconfined"});
        for annotations in [json!({}), apparmor].into_iter().take(if has_app { 2 } else { 1 }) {
            let p = pod(name, &spec, annotations.clone());
            let (meta, pod_spec) = (&p.metadata, p.spec.as_ref().unwrap());

            // Warnings at restricted, rendered with the label as written ("latest").
            let ours = evaluate_pod_on_server(meta, pod_spec, Level::Restricted, version, &server).warning();
            let theirs = dry_create(&cluster, &warn_ns, &p).await.unwrap();
            compared += 1;
            if ours.iter().cloned().collect::<Vec<_>>() != theirs {
                mismatches.push(format!("{name} {annotations}: warn\n  k8sops: {ours:?}\n  server: {theirs:?}"));
            }

            // Refusal at baseline.
            let ours = evaluate_pod_on_server(meta, pod_spec, Level::Baseline, version, &server).enforce_message();
            let theirs = dry_create(&cluster, &enforce_ns, &p).await.err();
            compared += 1;
            let expected = ours.map(|m| format!("pods \"{name}\" is forbidden: {m}"));
            if expected != theirs {
                mismatches.push(format!("{name} {annotations}: enforce\n  k8sops: {expected:?}\n  server: {theirs:?}"));
            }
        }
    }
    assert!(mismatches.is_empty(), "{} of {compared} differ:\n{}", mismatches.len(), mismatches.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_change_is_dry_run_first_and_the_servers_warnings_name_the_existing_pods() {
    let Some(cluster) = e2e::real_cluster().await else { return };
    let server = cluster.server_version().await.unwrap();
    let ns = namespace(&cluster, "psslabel", json!({})).await;
    let pods: Api<Pod> = Api::namespaced(cluster.client().clone(), &ns);
    let mut created = BTreeMap::new();
    for (name, spec) in specs().into_iter().take(6) {
        let p = pod(name, &spec, json!({}));
        pods.create(&PostParams::default(), &p).await.unwrap();
        created.insert(name.to_string(), p);
    }
    let labels = NamespaceLabels { enforce: Some(Level::Restricted), ..Default::default() };
    let preview = apply_pss_labels(&cluster, &ns, &labels, DryRun::Server).await.unwrap();
    assert!(preview.dry_run);
    let enforce = LevelVersion::new(Level::Restricted, PolicyVersion::Latest);
    let running = created.iter().map(|(n, p)| (n.as_str(), &p.metadata, p.spec.as_ref().unwrap()));
    let expected = namespace_warnings_on_server(&ns, enforce, running, &server);
    assert_eq!(preview.warnings, expected);
    assert!(
        preview.warnings[0].contains("violate the new PodSecurity enforce level \"restricted:latest\""),
        "{preview}"
    );
    // Nothing changed on the server.
    let api: Api<Namespace> = Api::all(cluster.client().clone());
    let before = api.get(&ns).await.unwrap().metadata.labels.unwrap_or_default();
    assert!(!before.contains_key("pod-security.kubernetes.io/enforce"), "{before:?}");
    // The real change: the labels are set, and the same warnings come back.
    let applied = apply_pss_labels(&cluster, &ns, &labels, DryRun::None).await.unwrap();
    assert!(!applied.dry_run);
    assert_eq!(applied.labels.get("pod-security.kubernetes.io/enforce").map(String::as_str), Some("restricted"));
    assert_eq!(applied.warnings, expected);
    let after = api.get(&ns).await.unwrap().metadata.labels.unwrap_or_default();
    assert_eq!(after.get("pod-security.kubernetes.io/enforce").map(String::as_str), Some("restricted"));
    // kubectl sees the same label.
    let (ok, out, _) = e2e::kubectl(
        std::path::Path::new(&std::env::var("K8SOPS_E2E_KUBECONFIG").unwrap()),
        &["get", "ns", &ns, "-o", "jsonpath={.metadata.labels.pod-security\\.kubernetes\\.io/enforce}"],
    )
    .await;
    assert!(ok);
    assert_eq!(out.trim(), "restricted");
    // A client-side dry run cannot show the server's warnings: refused.
    let err = apply_pss_labels(&cluster, &ns, &labels, DryRun::Client).await.unwrap_err();
    assert!(matches!(err, k8sops_audit::Error::ClientDryRun), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_security_policies_of_a_1_24_server_are_listed_with_the_pods_they_admit() {
    let Some(cluster) = e2e::real_cluster().await else { return };
    let ns = namespace(&cluster, "psp", json!({})).await;
    let name = format!("{ns}-restricted");
    // The restricted example policy of the PodSecurityPolicy docs, as a 1.24 server stores it.
    let psp = json!({"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": {"name": name},
        "spec": {"privileged": false, "allowPrivilegeEscalation": false, "requiredDropCapabilities": ["ALL"],
            "volumes": ["configMap", "emptyDir", "projected", "secret", "downwardAPI", "persistentVolumeClaim"],
            "hostNetwork": false, "hostIPC": false, "hostPID": false,
            "runAsUser": {"rule": "MustRunAsNonRoot"}, "seLinux": {"rule": "RunAsAny"},
            "supplementalGroups": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 65535}]},
            "fsGroup": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 65535}]}, "readOnlyRootFilesystem": false}});
    let req = http::Request::post("/apis/policy/v1beta1/podsecuritypolicies")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&psp).unwrap())
        .unwrap();
    let created: Value = cluster.client().request(req).await.unwrap();
    assert_eq!(created["metadata"]["name"], name.as_str());
    let pods: Api<Pod> = Api::namespaced(cluster.client().clone(), &ns);
    for (pod_name, spec) in specs().into_iter().filter(|(n, _)| matches!(*n, "privileged" | "restricted-ok")) {
        pods.create(&PostParams::default(), &pod(pod_name, &spec, json!({}))).await.unwrap();
    }
    let report = k8sops_audit::psp_report::psp_report(&cluster).await.unwrap();
    assert!(report.served);
    let line = report.policies.iter().find(|p| p.name == name).unwrap();
    assert!(!line.admitted_pods.contains(&format!("{ns}/privileged")), "{line:?}");
    assert!(line.refused_pods >= 1);
    // seLinux RunAsAny keeps it from restricted (the migration table's rule).
    assert_eq!(line.pss_level, Level::Privileged, "{line:?}");
    let (ok, out, err) = e2e::kubectl(
        std::path::Path::new(&std::env::var("K8SOPS_E2E_KUBECONFIG").unwrap()),
        &["get", "psp", &name, "-o", "name"],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains(&name), "{out}");
}
