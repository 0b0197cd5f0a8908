//! kubectl as the oracle for what k8sops computes about objects.
//!
//! `kubectl get` prints the Table the *server* builds. Against the testkit
//! that Table comes from k8sops' own code (`object_status`, `age`), so a
//! comparison there could never catch a display bug. The `get` and
//! `describe` tests here therefore run against the real API server
//! (`K8SOPS_E2E_KUBECONFIG`): they create the display and allocation
//! fixtures there (`k8sops_testkit::e2e`), print the same objects, fetched
//! from the same server, with k8sops' functions, and compare cell by cell.
//! That the testkit's Tables agree with the real server's is checked
//! separately, in tests/table_agreement.rs.
//!
//! `kubectl drain --dry-run=client` and `kubectl auth can-i --list` compute
//! their output in kubectl from the objects (drain) or from the server's
//! SelfSubjectRulesReview (can-i), so they run against both servers: on the
//! real one they check the expectations, on the testkit that it serves
//! kubectl what it needs.
//!
//! Without a real server or kubectl these tests report themselves skipped,
//! and fail instead when `K8SOPS_REQUIRE_E2E=1` (see docs/testing.md).

mod common;

use std::collections::BTreeSet;

use k8s_openapi::{
    api::{
        apps::v1::DaemonSet,
        core::v1::{ConfigMap, Node, Pod},
        rbac::v1::{Role, RoleBinding},
    },
    jiff::Timestamp,
};
use k8sops_core::{age::age_since, object_status, PodResources, ResourceList, Table};
use k8sops_testkit::e2e::{self, Fixture, RealServer};
use kube::{
    api::{ListParams, PostParams},
    Api,
};
use serde_json::json;

async fn nodes_of(real: &RealServer, f: &Fixture) -> Vec<Node> {
    let api: Api<Node> = Api::all(real.cluster.client().clone());
    api.list(&ListParams::default().labels(&f.selector())).await.unwrap().items
}

async fn pods_of(real: &RealServer, f: &Fixture) -> Vec<Pod> {
    let api: Api<Pod> = Api::namespaced(real.cluster.client().clone(), &f.namespace);
    api.list(&ListParams::default()).await.unwrap().items
}

/// The `kubectl get nodes -o wide` table, cell by cell from `object_status` and `age`.
fn nodes_wide(nodes: &[Node], now: Timestamp) -> Table {
    let mut t = Table::new([
        "name",
        "status",
        "roles",
        "age",
        "version",
        "internal-ip",
        "external-ip",
        "os-image",
        "kernel-version",
        "container-runtime",
    ]);
    for n in nodes {
        let info = n.status.as_ref().and_then(|s| s.node_info.as_ref());
        let known = |v: Option<&String>| v.filter(|s| !s.is_empty()).cloned().unwrap_or_else(|| "<unknown>".into());
        t.row([
            n.metadata.name.clone().unwrap(),
            object_status::node_status(n),
            object_status::node_roles(n),
            age_since(n.metadata.creation_timestamp.as_ref().map(|t| t.0), now),
            info.map(|i| i.kubelet_version.clone()).unwrap_or_default(),
            object_status::node_address(n, "InternalIP"),
            object_status::node_address(n, "ExternalIP"),
            known(info.map(|i| &i.os_image)),
            known(info.map(|i| &i.kernel_version)),
            known(info.map(|i| &i.container_runtime_version)),
        ]);
    }
    t
}

/// The `kubectl get pods` table (with NAMESPACE for `-A`), from `pod_display`.
fn pods_table(pods: &[Pod], all_namespaces: bool, now: Timestamp) -> Table {
    let mut headers = vec!["name", "ready", "status", "restarts", "age"];
    if all_namespaces {
        headers.insert(0, "namespace");
    }
    let mut t = Table::new(headers);
    for p in pods {
        let d = object_status::pod_display(p);
        let mut row = vec![
            p.metadata.name.clone().unwrap(),
            d.ready.clone(),
            d.status.clone(),
            d.restarts_column(now),
            age_since(p.metadata.creation_timestamp.as_ref().map(|t| t.0), now),
        ];
        if all_namespaces {
            row.insert(0, p.metadata.namespace.clone().unwrap());
        }
        t.row(row);
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_nodes_wide_on_a_real_server_matches_node_status() {
    let Some(real) = e2e::real_oracle().await else { return };
    let f = e2e::display_fixture(&real.cluster, "oracle-nodes").await;
    let kubectl = real.kubectl_ok(&["get", "nodes", "-o", "wide", "-l", &f.selector()]).await;
    let ours = nodes_wide(&nodes_of(&real, &f).await, Timestamp::now()).to_string();
    e2e::assert_same_table(&ours, &kubectl);
    for word in
        ["Ready,SchedulingDisabled", "NotReady,SchedulingDisabled", "Unknown", "control-plane,infra,master,worker"]
    {
        assert!(kubectl.contains(word), "the fixture shows {word}:\n{kubectl}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_pods_on_a_real_server_matches_pod_display() {
    let Some(real) = e2e::real_oracle().await else { return };
    let f = e2e::display_fixture(&real.cluster, "oracle-pods").await;
    let pods = pods_of(&real, &f).await;
    assert_eq!(pods.len(), f.pods.len());

    let kubectl = real.kubectl_ok(&["get", "pods", "-n", &f.namespace]).await;
    e2e::assert_same_table(&pods_table(&pods, false, Timestamp::now()).to_string(), &kubectl);

    let kubectl = real.kubectl_ok(&["get", "pods", "-A", "-l", &f.selector()]).await;
    e2e::assert_same_table(&pods_table(&pods, true, Timestamp::now()).to_string(), &kubectl);

    for word in [
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "Pending",
        "Completed",
        "Error",
        "ExitCode:2",
        "Signal:9",
        "Init:1/2",
        "Init:CrashLoopBackOff",
        "Init:Error",
        "Init:Signal:15",
        "Evicted",
        "NotReady",
        "Terminating",
        "Unknown",
        "7 (45m ago)",
        "3 (3h12m ago)",
        "3 (20h ago)",
        "2 (400d ago)",
        "5 (3y105d ago)",
        "1 (8y ago)",
    ] {
        assert!(kubectl.contains(word), "the fixture shows {word}:\n{kubectl}");
    }
}

/// A restart whose time is ahead of the server's clock (clock skew between
/// a node and the control plane): kubectl's age format prints `<invalid>`
/// for a time more than a second in the future.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_pods_on_a_real_server_restart_time_in_the_future() {
    let Some(real) = e2e::real_oracle().await else { return };
    let ns = e2e::fresh_namespace(&real.cluster, "oracle-skew").await;
    let future = Timestamp::from_second(Timestamp::now().as_second() + 3600).unwrap().to_string();
    e2e::create_pod(
        &real.cluster,
        &ns,
        json!({"metadata": {"name": "skewed"}, "spec": {"containers": [{"name": "app", "image": "pause"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "app", "image": "pause", "imageID": "", "ready": true, "restartCount": 2,
                "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": future}}}]}}),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(real.cluster.client().clone(), &ns);
    let pods = pods.list(&ListParams::default()).await.unwrap().items;
    let kubectl = real.kubectl_ok(&["get", "pods", "-n", &ns]).await;
    assert!(kubectl.contains("2 (<invalid> ago)"), "{kubectl}");
    e2e::assert_same_table(&pods_table(&pods, false, Timestamp::now()).to_string(), &kubectl);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_node_on_a_real_server_allocated_resources_match_pod_resources() {
    let Some(real) = e2e::real_oracle().await else { return };
    let f = e2e::allocation_fixture(&real.cluster, "oracle-alloc", &[]).await;
    let node_name = &f.nodes[0];
    let kubectl = real.kubectl_ok(&["describe", "node", node_name]).await;

    let nodes: Api<Node> = Api::all(real.cluster.client().clone());
    let node = nodes.get(node_name).await.unwrap();
    let alloc = ResourceList::from_k8s(node.status.as_ref().unwrap().allocatable.as_ref().unwrap()).unwrap();
    let mut requests = ResourceList::new();
    let mut limits = ResourceList::new();
    let mut counted = 0;
    for p in pods_of(&real, &f).await {
        let phase = p.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("");
        if phase == "Succeeded" || phase == "Failed" {
            continue;
        }
        let r = PodResources::of(&p).unwrap();
        requests += &r.requests;
        limits += &r.limits;
        counted += 1;
    }
    let mut ours = Table::new(["resource", "requests", "limits"]);
    for r in ["cpu", "memory", "ephemeral-storage"] {
        ours.row([
            r.to_string(),
            format!("{} ({}%)", requests.get(r), requests.percent_of(r, &alloc)),
            format!("{} ({}%)", limits.get(r), limits.percent_of(r, &alloc)),
        ]);
    }
    let theirs = e2e::describe_section(&kubectl, "Allocated resources:");
    e2e::assert_same_cells(
        &e2e::table_cells(&ours.to_string()),
        &theirs,
        &format!("k8sops:\n{ours}\nkubectl:\n{kubectl}"),
    );
    assert!(kubectl.contains(&format!("({counted} in total)")), "{counted} pods count:\n{kubectl}");
    // The numbers themselves: an init container raising a pod's CPU, defaulted requests, truncated percentages.
    assert_eq!(theirs[1], ["cpu", "2638m (67%)", "2833m (72%)"], "{kubectl}");
}

/// `kubectl drain --dry-run=client` refuses and selects pods by its rules:
/// the expectations come from the objects the test creates.
async fn drain_dry_run_refuses_and_selects_the_pods_the_rules_say(t: &common::Target) {
    let cluster = &t.cluster;
    let ns = e2e::fresh_namespace(cluster, "oracle-drain").await;
    let node = format!("{ns}-node");
    e2e::create_node(
        cluster,
        json!({"metadata": {"name": node, "labels": {e2e::RUN_LABEL: ns}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}}}),
    )
    .await;
    // The DaemonSet selects the node, so its controller keeps the pod made here (labelled to
    // match, or it would release it); the not-ready taint admission puts on new nodes stops
    // it from making its own.
    let dss: Api<DaemonSet> = Api::namespaced(t.client(), &ns);
    let ds: DaemonSet = serde_json::from_value(
        json!({"metadata": {"name": "agent"}, "spec": {"selector": {"matchLabels": {"ds": "agent"}},
        "updateStrategy": {"type": "OnDelete"},
        "template": {"metadata": {"labels": {"ds": "agent"}}, "spec": {"nodeSelector": {e2e::RUN_LABEL: ns},
            "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]}}}}),
    )
    .unwrap();
    let ds = dss.create(&PostParams::default(), &ds).await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(t.client(), &ns);
    let owner = cms
        .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "owner"}})).unwrap())
        .await
        .unwrap();
    let owned_by = |kind: &str, name: &str, uid: &str| {
        let api = if kind == "DaemonSet" { "apps/v1" } else { "v1" };
        json!([{"apiVersion": api, "kind": kind, "name": name, "uid": uid, "controller": true}])
    };
    let cm_owner = owned_by("ConfigMap", "owner", owner.metadata.uid.as_deref().unwrap());
    let running = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
    let pods = [
        ("agent-x", owned_by("DaemonSet", "agent", ds.metadata.uid.as_deref().unwrap()), json!([]), running.clone()),
        ("lonely", json!([]), json!([]), running.clone()),
        ("finished", json!([]), json!([]), json!({"phase": "Succeeded"})),
        ("scratch", cm_owner.clone(), json!([{"name": "s", "emptyDir": {}}]), running.clone()),
        ("web-1", cm_owner.clone(), json!([]), running.clone()),
        ("web-2", cm_owner.clone(), json!([]), running.clone()),
    ];
    for (name, owners, volumes, status) in pods {
        e2e::create_pod(
            cluster,
            &ns,
            json!({"metadata": {"name": name, "ownerReferences": owners, "labels": {"ds": if name == "agent-x" { "agent" } else { "none" }}}, "spec": {"nodeName": node, "volumes": volumes,
                "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]}, "status": status}),
        )
        .await;
    }
    let (ok, _out, err) =
        e2e::kubectl(&t.admin_kubeconfig, &["drain", &node, "--dry-run=client", "--ignore-daemonsets"]).await;
    assert!(!ok, "an unreplicated pod and an emptyDir pod block the drain ({})", t.name);
    assert!(
        err.contains("cannot delete Pods that declare no controller") && err.contains(&format!("{ns}/lonely")),
        "{}: {err}",
        t.name
    );
    assert!(
        err.contains("cannot delete Pods with local storage") && err.contains(&format!("{ns}/scratch")),
        "{}: {err}",
        t.name
    );
    assert!(!err.contains(&format!("{ns}/finished")), "a finished pod blocks nothing ({}): {err}", t.name);
    assert!(!err.contains(&format!("{ns}/agent-x")), "--ignore-daemonsets skips agent-x ({}): {err}", t.name);

    let (ok, out, err) = e2e::kubectl(
        &t.admin_kubeconfig,
        &["drain", &node, "--dry-run=client", "--ignore-daemonsets", "--force", "--delete-emptydir-data"],
    )
    .await;
    assert!(ok, "{}: {err}", t.name);
    let evicted: BTreeSet<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix("evicting pod "))
        .map(|l| l.trim_end_matches(" (dry run)").to_string())
        .collect();
    let expected: BTreeSet<String> =
        ["finished", "lonely", "scratch", "web-1", "web-2"].iter().map(|p| format!("{ns}/{p}")).collect();
    assert_eq!(evicted, expected, "{}:\n{out}", t.name);
    assert!(out.contains(&format!("node/{node} cordoned (dry run)")), "{}: {out}", t.name);
    let stored = Api::<Node>::all(t.client()).get(&node).await.unwrap();
    assert_ne!(stored.spec.and_then(|s| s.unschedulable), Some(true), "a client dry-run cordons nothing ({})", t.name);
}

/// `kubectl auth can-i --list` shows what a Role grants (through the
/// server's SelfSubjectRulesReview for the impersonated user).
async fn auth_can_i_list_shows_the_role(t: &common::Target) {
    let ns = e2e::fresh_namespace(&t.cluster, "oracle-rbac").await;
    let user = format!("{ns}-jane");
    let roles: Api<Role> = Api::namespaced(t.client(), &ns);
    let role: Role = serde_json::from_value(json!({"metadata": {"name": "deployer"}, "rules": [
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "patch", "update"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}))
    .unwrap();
    roles.create(&PostParams::default(), &role).await.unwrap();
    let bindings: Api<RoleBinding> = Api::namespaced(t.client(), &ns);
    let binding: RoleBinding = serde_json::from_value(json!({"metadata": {"name": "deployer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
        "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}]}))
    .unwrap();
    bindings.create(&PostParams::default(), &binding).await.unwrap();
    let as_user = format!("--as={user}");

    let (ok, out, err) = e2e::kubectl(&t.admin_kubeconfig, &["auth", "can-i", "--list", &as_user, "-n", &ns]).await;
    assert!(ok, "{}: {err}", t.name);
    let line = |resource: &str| {
        out.lines()
            .find(|l| l.starts_with(resource))
            .unwrap_or_else(|| panic!("{resource} missing ({}):\n{out}", t.name))
            .to_string()
    };
    assert!(line("deployments.apps").ends_with("[get list patch update]"), "{}:\n{out}", t.name);
    assert!(line("pods ").ends_with("[get list]"), "{}:\n{out}", t.name);
    assert!(line("selfsubjectaccessreviews.authorization.k8s.io").ends_with("[create]"), "{}:\n{out}", t.name);
    let (ok, out, _) =
        e2e::kubectl(&t.admin_kubeconfig, &["auth", "can-i", "delete", "pods", &as_user, "-n", &ns]).await;
    assert!(!ok && out.trim() == "no", "{}: {out}", t.name);
    let (ok, out, _) =
        e2e::kubectl(&t.admin_kubeconfig, &["auth", "can-i", "patch", "deployments", &as_user, "-n", &ns]).await;
    assert!(ok && out.trim() == "yes", "{}: {out}", t.name);
}

/// Declares a behaviour against the testkit and against the real server, both needing kubectl.
macro_rules! with_kubectl_on_both_servers {
    ($($name:ident),* $(,)?) => {
        mod testkit_server {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if !k8sops_testkit::e2e::require_kubectl() {
                        return;
                    }
                    super::$name(&crate::common::testkit().await).await;
                }
            )*
        }
        mod real_server {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(t) = crate::common::real().await else { return };
                    if !k8sops_testkit::e2e::require_kubectl() {
                        return;
                    }
                    super::$name(&t).await;
                }
            )*
        }
    };
}

with_kubectl_on_both_servers!(drain_dry_run_refuses_and_selects_the_pods_the_rules_say, auth_can_i_list_shows_the_role);
