//! Versions, skew and the upgrade preflight against a real kube-apiserver
//! and kube-controller-manager (`K8SOPS_E2E_KUBECONFIG`; scripts/test.sh
//! starts them from ../shared/k8s), with real oracles:
//!
//! - `kubectl version -o json` for the server's version, and kubectl's own
//!   skew warning for the kubectl rule;
//! - `kubectl get nodes -o wide` / `-o json` for node versions (Node
//!   objects whose `status.nodeInfo` is set through the status subresource);
//! - the disruption controller's budget status, and a server-side dry-run
//!   eviction refused with 429, for budgets that block drains;
//! - `kubectl drain --dry-run=server` for the pods a drain refuses;
//! - the API server's own deprecation warnings for removed APIs, and
//!   `kubectl get psp` for PodSecurityPolicies (served by this 1.24 server).
//!
//! That server has no kubelet and no scheduler: pods are bound with
//! `spec.nodeName` and marked Ready through `pods/status`. Without the
//! server (or kubectl) the tests report themselves skipped, and fail when
//! `K8SOPS_REQUIRE_E2E=1`.

use std::path::PathBuf;

use k8s_openapi::api::{core::v1::Pod, policy::v1::PodDisruptionBudget};
use k8sops_testkit::e2e::{self, RealServer, RUN_LABEL};
use k8sops_upgrade::{
    preflight::{preflight, CheckId, CheckStatus, PreflightParams, PreflightReport, RemovedApiCheck},
    removed_apis::RemovedApiParams,
    skew::{check, Component},
    versions::{version_report, VersionParams},
};
use kube::{
    api::{EvictParams, ListParams, Patch, PatchParams, PostParams},
    Api,
};
use serde_json::{json, Value};

/// Deletes what a test created (cluster-scoped objects outlive namespaces),
/// also when the test fails.
struct Cleanup {
    kubeconfig: PathBuf,
    run: String,
    namespaces: Vec<String>,
    psps: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let kubectl = |args: &[&str]| {
            let _ = std::process::Command::new("kubectl").arg("--kubeconfig").arg(&self.kubeconfig).args(args).output();
        };
        kubectl(&["delete", "nodes", "-l", &format!("{RUN_LABEL}={}", self.run), "--wait=false"]);
        for ns in &self.namespaces {
            kubectl(&["delete", "namespace", ns, "--wait=false"]);
        }
        for psp in &self.psps {
            kubectl(&["delete", "podsecuritypolicy", psp, "--ignore-not-found"]);
        }
    }
}

fn cleanup(real: &RealServer, run: &str) -> Cleanup {
    Cleanup { kubeconfig: real.kubeconfig.clone(), run: run.into(), namespaces: vec![run.into()], psps: Vec::new() }
}

fn node_json(name: &str, run: &str, kubelet: &str, ready: bool) -> Value {
    json!({"metadata": {"name": name, "labels": {RUN_LABEL: run}},
        "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" },
                "reason": if ready { "KubeletReady" } else { "KubeletNotReady" }, "message": "set by the test",
                "lastHeartbeatTime": k8s_openapi::jiff::Timestamp::now().to_string(),
                "lastTransitionTime": k8s_openapi::jiff::Timestamp::now().to_string()}],
            "addresses": [{"type": "InternalIP", "address": "10.9.7.1"}],
            "nodeInfo": {"kubeletVersion": kubelet, "kubeProxyVersion": kubelet, "osImage": "Debian GNU/Linux 12 (bookworm)",
                "kernelVersion": "6.1.0-18-amd64", "containerRuntimeVersion": "containerd://1.6.24",
                "operatingSystem": "linux", "architecture": "amd64", "machineID": "m", "systemUUID": "s", "bootID": "b"}}})
}

async fn kubectl_json(real: &RealServer, args: &[&str]) -> Value {
    let out = real.kubectl_ok(args).await;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("kubectl {args:?}: {e}\n{out}"))
}

#[tokio::test]
async fn the_server_version_is_what_kubectl_version_prints_and_kubectl_skew_matches_its_warning() {
    let Some(real) = e2e::real_oracle().await else { return };
    let kubectl = kubectl_json(&real, &["version", "-o", "json"]).await;
    let client: k8sops_core::KubeVersion = kubectl["clientVersion"]["gitVersion"].as_str().unwrap().parse().unwrap();
    let report = version_report(&real.cluster, &VersionParams::default().kubectl(client)).await.unwrap();
    let ours = serde_json::to_value(&report.server).unwrap();
    for field in ["gitVersion", "major", "minor", "platform", "buildDate", "goVersion", "gitCommit"] {
        assert_eq!(ours[field], kubectl["serverVersion"][field], "{field}");
    }
    assert_eq!(report.server.version(), &real.cluster.server_version().await.unwrap());

    // kubectl warns when it is more than one minor version from the server.
    let (ok, text, warning) = real.kubectl(&["version"]).await;
    assert!(ok, "{warning}");
    let kubectl_warns = warning.contains("exceeds the supported minor version skew");
    let we_flag = check(&report).iter().any(|v| v.component == Component::Kubectl);
    assert_eq!(we_flag, kubectl_warns, "kubectl said:\n{text}{warning}");
    // kubectl's "Server Version:" line is ours.
    let line = text.lines().find(|l| l.starts_with("Server Version:")).unwrap();
    assert!(report.to_string().lines().any(|l| l == line), "{line}\n{report}");
}

#[tokio::test]
async fn node_versions_are_what_kubectl_get_nodes_shows_and_old_or_newer_kubelets_break_the_skew() {
    let Some(real) = e2e::real_oracle().await else { return };
    let run = e2e::unique_name("upg-nodes");
    let _cleanup = cleanup(&real, &run);
    let server = real.cluster.server_version().await.unwrap();
    // Kubelets from four minors behind the server to one ahead.
    let mut names = Vec::new();
    for (i, back) in [-1i64, 0, 1, 2, 3, 4].into_iter().enumerate() {
        let minor = i64::from(server.minor) - back;
        let name = format!("{run}-{i}");
        e2e::create_node(&real.cluster, node_json(&name, &run, &format!("v1.{minor}.7"), i != 2)).await;
        names.push((name, minor));
    }
    let sel = format!("{RUN_LABEL}={run}");
    let params = VersionParams::default().nodes(sel.parse().unwrap());
    let report = version_report(&real.cluster, &params).await.unwrap();
    let kubectl_table = real.kubectl_ok(&["get", "nodes", "-l", &sel, "-o", "wide"]).await;

    // Same cells in the columns both print.
    let theirs = e2e::table_cells(&kubectl_table);
    let ours = e2e::table_cells(&report.nodes_table().to_string());
    let col = |t: &[Vec<String>], h: &str| t[0].iter().position(|c| c.eq_ignore_ascii_case(h)).unwrap();
    for header in ["NAME", "STATUS", "ROLES", "VERSION", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"] {
        let a: Vec<&String> = ours.iter().skip(1).map(|r| &r[col(&ours, header)]).collect();
        let b: Vec<&String> = theirs.iter().skip(1).map(|r| &r[col(&theirs, header)]).collect();
        assert_eq!(a, b, "{header}\nk8sops:\n{}\nkubectl:\n{kubectl_table}", report.nodes_table());
    }
    let json = kubectl_json(&real, &["get", "nodes", "-l", &sel, "-o", "json"]).await;
    for (item, n) in json["items"].as_array().unwrap().iter().zip(&report.nodes) {
        let info = &item["status"]["nodeInfo"];
        assert_eq!(info["kubeletVersion"], n.kubelet.as_str());
        assert_eq!(info["kubeProxyVersion"], n.kube_proxy.as_str());
        assert_eq!(info["containerRuntimeVersion"], n.container_runtime.as_str());
        assert_eq!(info["architecture"], n.architecture.as_str());
    }

    // The policy, in its own words: not newer, at most 2 older for kubelet < 1.25, else 3.
    let mut expected: Vec<&str> = names
        .iter()
        .filter(|(_, minor)| {
            let lag = i64::from(server.minor) - minor;
            lag < 0 || lag > if *minor >= 25 { 3 } else { 2 }
        })
        .map(|(n, _)| n.as_str())
        .collect();
    expected.sort();
    let mut flagged: Vec<String> =
        check(&report).into_iter().filter(|v| v.component == Component::Kubelet).map(|v| v.instance).collect();
    flagged.sort();
    assert_eq!(flagged, expected);
}

#[tokio::test]
async fn control_plane_versions_are_the_static_pods_image_tags() {
    let Some(real) = e2e::real_oracle().await else { return };
    let ns = e2e::fresh_namespace(&real.cluster, "upg-cp").await;
    let _cleanup = cleanup(&real, &ns);
    let server = real.cluster.server_version().await.unwrap();
    let tag = server.as_str().to_string();
    // The scheduler two minor versions behind the API server: outside the policy.
    let old = format!("v1.{}.5", server.minor - 2);
    for (component, image) in [
        ("kube-apiserver", format!("registry.k8s.io/kube-apiserver:{tag}")),
        ("kube-controller-manager", format!("registry.k8s.io/kube-controller-manager:{tag}")),
        ("kube-scheduler", format!("registry.k8s.io/kube-scheduler:{old}")),
        ("etcd", "registry.k8s.io/etcd:3.5.6-0".to_string()),
    ] {
        let pod = json!({"metadata": {"name": format!("{component}-cp-1"), "labels": {"component": component, "tier": "control-plane"}},
            "spec": {"containers": [{"name": component, "image": image}]}});
        e2e::create_pod(&real.cluster, &ns, pod).await;
    }
    // Only this test's namespace, and no node (other tests' nodes are not ours to judge).
    let params =
        VersionParams::default().system_namespace(ns.clone()).nodes(format!("{RUN_LABEL}={ns}").parse().unwrap());
    let report = version_report(&real.cluster, &params).await.unwrap();
    assert!(report.control_plane.visible);
    let json = kubectl_json(&real, &["get", "pods", "-n", &ns, "-l", "tier=control-plane", "-o", "json"]).await;
    let mut theirs: Vec<(String, String)> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let image = p["spec"]["containers"][0]["image"].as_str().unwrap();
            (
                p["metadata"]["labels"]["component"].as_str().unwrap().to_string(),
                image.rsplit(':').next().unwrap().to_string(),
            )
        })
        .collect();
    theirs.sort();
    let mut ours: Vec<(String, String)> =
        report.control_plane.components.iter().map(|c| (c.component.clone(), c.version.clone())).collect();
    ours.sort();
    assert_eq!(ours, theirs);
    let flagged: Vec<(Component, String)> = check(&report).into_iter().map(|v| (v.component, v.instance)).collect();
    assert_eq!(flagged, [(Component::KubeScheduler, "kube-scheduler-cp-1".to_string())]);
}

/// Pods `kubectl drain --dry-run=server` refuses for `reason` (the text
/// before the colon of its message), as `namespace/name`.
fn refused(kubectl_output: &str, reason: &str) -> Vec<String> {
    let mut pods: Vec<String> = kubectl_output
        .lines()
        .filter_map(|l| l.split_once(reason).map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once("): ").map(|(_, pods)| pods))
        .flat_map(|pods| pods.trim_end_matches(", continuing command...").split(", ").map(|p| p.trim().to_string()))
        .collect();
    pods.sort();
    pods.dedup();
    pods
}

fn names(report: &PreflightReport, id: CheckId, ns: &str) -> Vec<String> {
    let mut v: Vec<String> = report
        .check(id)
        .unwrap()
        .objects
        .iter()
        .map(|o| o.split(' ').next().unwrap().trim_end_matches(':').to_string())
        .filter(|o| o.starts_with(&format!("{ns}/")))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn preflight_flags_the_budgets_the_server_refuses_and_the_pods_kubectl_drain_refuses() {
    let Some(real) = e2e::real_oracle().await else { return };
    let run = e2e::unique_name("upg-pre");
    let _cleanup = cleanup(&real, &run);
    let cluster = &real.cluster;
    let server = cluster.server_version().await.unwrap();
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = cluster.api_all();
    nss.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": run}})).unwrap())
        .await
        .unwrap();
    let node = format!("{run}-node");
    e2e::create_node(cluster, node_json(&node, &run, server.as_str(), true)).await;

    // Workloads whose pods the ReplicaSet controller creates on the node.
    let rs = |name: &str, replicas: i32, volumes: Value| {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"nodeName": node, "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}], "volumes": volumes}}}})
    };
    let rs_api: Api<k8s_openapi::api::apps::v1::ReplicaSet> = cluster.api_namespaced(&run);
    for obj in
        [rs("strict", 2, json!([])), rs("loose", 2, json!([])), rs("cache", 1, json!([{"name": "s", "emptyDir": {}}]))]
    {
        rs_api.create(&PostParams::default(), &serde_json::from_value(obj).unwrap()).await.unwrap();
    }
    let pdb_api: Api<PodDisruptionBudget> = cluster.api_namespaced(&run);
    for (name, app, min) in [("strict", "strict", 2), ("loose", "loose", 1), ("ghost", "nothing", 1)] {
        let pdb = json!({"metadata": {"name": name}, "spec": {"minAvailable": min, "selector": {"matchLabels": {"app": app}}}});
        pdb_api.create(&PostParams::default(), &serde_json::from_value(pdb).unwrap()).await.unwrap();
    }
    // Pods without a controller: bare, bare with emptyDir, a mirror pod (skipped by drain), a finished one.
    let bare = |name: &str, extra: Value| {
        let mut p = json!({"metadata": {"name": name}, "spec": {"nodeName": node, "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]}});
        json_merge(&mut p, &extra);
        p
    };
    e2e::create_pod(cluster, &run, bare("bare", json!({}))).await;
    e2e::create_pod(cluster, &run, bare("bare-scratch", json!({"spec": {"volumes": [{"name": "s", "emptyDir": {}}]}})))
        .await;
    e2e::create_pod(
        cluster,
        &run,
        bare("static", json!({"metadata": {"annotations": {"kubernetes.io/config.mirror": "abc"}}})),
    )
    .await;
    e2e::create_pod(
        cluster,
        &run,
        bare("done", json!({"spec": {"restartPolicy": "Never"}, "status": {"phase": "Succeeded"}})),
    )
    .await;

    // Play the kubelet: the ReplicaSets' pods run and are Ready.
    let pods: Api<Pod> = cluster.api_namespaced(&run);
    let controlled = e2e::eventually("the ReplicaSets' pods", || async {
        let list = pods.list(&ListParams::default().labels("app in (strict,loose,cache)")).await.ok()?;
        (list.items.len() == 5).then_some(list.items)
    })
    .await;
    for p in &controlled {
        let name = p.metadata.name.clone().unwrap();
        let status = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "image": "registry.k8s.io/pause:3.9", "imageID": "", "state": {"running": {}}}]}});
        pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(status)).await.unwrap();
    }
    // The disruption controller sees them healthy.
    e2e::eventually("the budgets' status", || async {
        let list = pdb_api.list(&ListParams::default()).await.ok()?;
        list.items
            .iter()
            .all(|b| {
                let s = serde_json::to_value(&b.status).unwrap_or_default();
                let expected = if b.metadata.name.as_deref() == Some("ghost") { 0 } else { 2 };
                s["observedGeneration"].as_i64() == b.metadata.generation
                    && s["currentHealthy"].as_i64() == Some(expected)
            })
            .then_some(())
    })
    .await;

    let params = PreflightParams::new(format!("v1.{}", server.minor + 1).parse().unwrap())
        .versions(VersionParams::default().nodes(format!("{RUN_LABEL}={run}").parse().unwrap()))
        .removed_apis(RemovedApiCheck::Skip);
    let report = preflight(cluster, &params).await.unwrap();

    // Budgets: flagged exactly when the API server refuses a (dry-run) eviction of one of their pods.
    let mut refused_budgets = Vec::new();
    for (budget, app) in [("strict", "strict"), ("loose", "loose")] {
        let pod = controlled.iter().find(|p| p.metadata.labels.as_ref().unwrap()["app"] == app).unwrap();
        let mut evict = EvictParams::default();
        evict.post_options.dry_run = true;
        evict.delete_options = Some(kube::api::DeleteParams { dry_run: true, ..Default::default() });
        match pods.evict(pod.metadata.name.as_deref().unwrap(), &evict).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 429 => refused_budgets.push(format!("{run}/{budget}")),
            Err(e) => panic!("eviction of {app}: {e}"),
        }
    }
    assert_eq!(refused_budgets, [format!("{run}/strict")]);
    assert_eq!(names(&report, CheckId::PodDisruptionBudgets, &run), refused_budgets);
    assert_eq!(report.check(CheckId::PodDisruptionBudgets).unwrap().status, CheckStatus::Fail);

    // Pods: the ones `kubectl drain` refuses, rule by rule.
    let (_, out, err) =
        real.kubectl(&["drain", &node, "--dry-run=server", "--ignore-daemonsets", "--delete-emptydir-data"]).await;
    let unreplicated = refused(&format!("{out}{err}"), "declare no controller");
    assert_eq!(unreplicated, [format!("{run}/bare"), format!("{run}/bare-scratch")], "{out}{err}");
    assert_eq!(names(&report, CheckId::UnreplicatedPods, &run), unreplicated);
    let (_, out, err) = real.kubectl(&["drain", &node, "--dry-run=server", "--ignore-daemonsets", "--force"]).await;
    let local = refused(&format!("{out}{err}"), "with local storage");
    assert_eq!(local.len(), 2, "{out}{err}");
    assert_eq!(names(&report, CheckId::LocalStoragePods, &run), local);

    // The node is Ready, as kubectl says.
    let status = real.kubectl_ok(&["get", "node", &node, "--no-headers"]).await;
    assert_eq!(status.split_whitespace().nth(1), Some("Ready"), "{status}");
    assert_eq!(report.check(CheckId::NodesReady).unwrap().status, CheckStatus::Pass);
}

fn json_merge(a: &mut Value, b: &Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                json_merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b.clone(),
    }
}

/// `kubectl apply -f` of a YAML text: (stdout, stderr).
async fn apply(real: &RealServer, yaml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifest.yaml");
    std::fs::write(&path, yaml).unwrap();
    let (ok, out, err) = real.kubectl(&["apply", "-f", path.to_str().unwrap()]).await;
    assert!(ok, "kubectl apply: {err}");
    format!("{out}{err}")
}

/// The release the server's deprecation warning says stops serving an API: `unavailable in v1.25+`.
fn unavailable_in(warning: &str) -> String {
    let (_, rest) = warning.split_once("unavailable in ").unwrap_or_else(|| panic!("no removal in: {warning}"));
    rest.split('+').next().unwrap().to_string()
}

#[tokio::test]
async fn preflight_finds_removed_apis_and_pod_security_policies_the_server_warns_about() {
    let Some(real) = e2e::real_oracle().await else { return };
    let server = real.cluster.server_version().await.unwrap();
    if server.minor >= 25 {
        e2e::skip_or_fail("the real server is 1.25 or later: it serves neither batch/v1beta1 nor PodSecurityPolicy");
        return;
    }
    let ns = e2e::fresh_namespace(&real.cluster, "upg-api").await;
    let psp = format!("{ns}-restricted");
    let mut cleanup = cleanup(&real, &ns);
    cleanup.psps.push(psp.clone());
    let cron = apply(
        &real,
        &format!(
            "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata:\n  name: nightly\n  namespace: {ns}\nspec:\n  schedule: '0 3 * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n          - name: c\n            image: registry.k8s.io/pause:3.9\n"
        ),
    )
    .await;
    let psp_out = apply(
        &real,
        &format!(
            "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata:\n  name: {psp}\nspec:\n  privileged: false\n  seLinux: {{rule: RunAsAny}}\n  runAsUser: {{rule: MustRunAsNonRoot}}\n  supplementalGroups: {{rule: RunAsAny}}\n  fsGroup: {{rule: RunAsAny}}\n  volumes: ['configMap', 'secret']\n"
        ),
    )
    .await;
    let removal = unavailable_in(&cron);
    assert_eq!(unavailable_in(&psp_out), removal, "both go in the same release");
    let target: k8sops_core::KubeVersion = removal.parse().unwrap();

    let params = PreflightParams::new(target.clone())
        .versions(VersionParams::default().nodes(format!("{RUN_LABEL}={ns}").parse().unwrap()))
        .removed_apis(RemovedApiCheck::Scan(RemovedApiParams::default()));
    let report = preflight(&real.cluster, &params).await.unwrap();

    let removed = report.check(CheckId::RemovedApis).unwrap();
    assert_eq!(removed.status, CheckStatus::Fail, "{removed:?}");
    let ours = format!("CronJob {ns}/nightly uses batch/v1beta1 (removed in {removal})");
    assert!(removed.objects.iter().any(|o| o.starts_with(&ours)), "{ours}\n{:#?}", removed.objects);

    let psps = report.check(CheckId::PodSecurityPolicies).unwrap();
    assert_eq!(psps.status, CheckStatus::Fail);
    let listed = real.kubectl_ok(&["get", "podsecuritypolicies", "-o", "name"]).await;
    let theirs: Vec<&str> = listed.lines().map(|l| l.trim_start_matches("podsecuritypolicy.policy/")).collect();
    assert!(psps.objects.contains(&psp), "{:?}", psps.objects);
    for name in &theirs {
        assert!(psps.objects.iter().any(|o| o == name), "kubectl lists {name}; we list {:?}", psps.objects);
    }

    // A patch upgrade within the server's minor version crosses no removal.
    let patch = PreflightParams::new(format!("v1.{}.99", server.minor).parse().unwrap())
        .versions(VersionParams::default().nodes(format!("{RUN_LABEL}={ns}").parse().unwrap()))
        .removed_apis(RemovedApiCheck::Skip);
    let report = preflight(&real.cluster, &patch).await.unwrap();
    assert_eq!(report.check(CheckId::PodSecurityPolicies).unwrap().status, CheckStatus::Pass);
}
