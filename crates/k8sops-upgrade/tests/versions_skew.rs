//! The version report, the skew policy and the upgrade plan against
//! testkit clusters at several server versions, with nodes at chosen
//! kubelet versions (Node objects with `status.nodeInfo`), kubeadm's static
//! pods and the kube-proxy and CoreDNS add-ons. The skew expectations are
//! computed from the policy's own wording, which keys the kubelet window on
//! the kubelet's version ("kubelet < 1.25 may only be up to two minor
//! versions older"), not on the server's as the code does.

use k8sops_core::{Cluster, KubeVersion, RetryPolicy};
use k8sops_testkit::TestServer;
use k8sops_upgrade::{
    plan::{build_plan, plan_upgrade, Flavor, GroupKind, NodeUpgrades, PlanParams, StepKind},
    rules::MinorVersion,
    skew::{check, skew_report, Component, SkewPolicy},
    versions::{version_report, KubeProxySource, Unread, VersionParams, VersionReport},
};
use serde_json::{json, Value};

fn v(s: &str) -> KubeVersion {
    s.parse().unwrap()
}

fn node(name: &str, kubelet: &str, labels: Value, ready: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
        "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
            "nodeInfo": {"kubeletVersion": kubelet, "kubeProxyVersion": kubelet, "osImage": "Ubuntu 22.04.4 LTS",
                "kernelVersion": "5.15.0-105-generic", "containerRuntimeVersion": "containerd://1.7.13",
                "operatingSystem": "linux", "architecture": "amd64", "machineID": "m", "systemUUID": "s", "bootID": "b"}}})
}

/// A kubeadm static pod (mirror pod) of `component` on `node`.
fn static_pod(component: &str, node: &str, image: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{component}-{node}"), "namespace": "kube-system",
            "labels": {"component": component, "tier": "control-plane"},
            "annotations": {"kubernetes.io/config.mirror": "0123", "kubernetes.io/config.source": "file"}},
        "spec": {"nodeName": node, "containers": [{"name": component, "image": image}]},
        "status": {"phase": "Running"}})
}

fn daemon_pod(name: &str, app: &str, node: &str, image: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "kube-system", "labels": {"k8s-app": app},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": app, "uid": "u", "controller": true}]},
        "spec": {"nodeName": node, "containers": [{"name": app, "image": image}]},
        "status": {"phase": "Running"}})
}

/// A kubeadm cluster at 1.27.3: one control-plane node and three workers
/// at 1.27, 1.26 and 1.24; kube-proxy and CoreDNS as kubeadm installs them.
async fn kubeadm_cluster() -> TestServer {
    let server = TestServer::builder().server_version("v1.27.3").start().await.unwrap();
    let cp = json!({"node-role.kubernetes.io/control-plane": ""});
    server
        .insert_all([
            node("cp-1", "v1.27.3", cp, true),
            node("w-1", "v1.27.3", json!({}), true),
            node("w-2", "v1.26.5", json!({}), true),
            node("w-3", "v1.24.17", json!({}), false),
            static_pod("kube-apiserver", "cp-1", "registry.k8s.io/kube-apiserver:v1.27.3"),
            static_pod("kube-controller-manager", "cp-1", "registry.k8s.io/kube-controller-manager:v1.27.3"),
            static_pod("kube-scheduler", "cp-1", "registry.k8s.io/kube-scheduler:v1.27.3"),
            static_pod("etcd", "cp-1", "registry.k8s.io/etcd:3.5.7-0"),
            daemon_pod("kube-proxy-a", "kube-proxy", "cp-1", "registry.k8s.io/kube-proxy:v1.27.3"),
            daemon_pod("kube-proxy-b", "kube-proxy", "w-1", "registry.k8s.io/kube-proxy:v1.27.3"),
            daemon_pod("kube-proxy-c", "kube-proxy", "w-2", "registry.k8s.io/kube-proxy:v1.27.3"),
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "coredns-5d78c9869d-abcde", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
                "spec": {"nodeName": "cp-1", "containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.10.1"}]}}),
        ])
        .unwrap();
    server
}

#[tokio::test]
async fn the_report_has_the_server_the_nodes_the_static_pods_and_the_addons_of_a_kubeadm_cluster() {
    let server = kubeadm_cluster().await;
    let report = version_report(&server.cluster(), &VersionParams::default()).await.unwrap();
    assert_eq!(report.server.git_version, "v1.27.3");
    assert!(report.notes.is_empty(), "{:?}", report.notes);

    let nodes: Vec<(&str, &str, &str)> =
        report.nodes.iter().map(|n| (n.name.as_str(), n.kubelet.as_str(), n.kube_proxy.as_str())).collect();
    assert_eq!(
        nodes,
        [
            ("cp-1", "v1.27.3", "v1.27.3"),
            ("w-1", "v1.27.3", "v1.27.3"),
            ("w-2", "v1.26.5", "v1.27.3"), // the kube-proxy pod's image, not what the kubelet reports
            ("w-3", "v1.24.17", "v1.24.17"), // no kube-proxy pod: nodeInfo
        ]
    );
    assert_eq!(report.nodes[2].kube_proxy_source, KubeProxySource::Pod);
    assert_eq!(report.nodes[3].kube_proxy_source, KubeProxySource::NodeInfo);
    assert_eq!((report.nodes[0].roles.as_str(), report.nodes[3].status.as_str()), ("control-plane", "NotReady"));
    assert_eq!(report.nodes[1].container_runtime, "containerd://1.7.13");

    assert!(report.control_plane.visible);
    let cp: Vec<(&str, &str)> =
        report.control_plane.components.iter().map(|c| (c.component.as_str(), c.version.as_str())).collect();
    assert_eq!(
        cp,
        [
            ("kube-apiserver", "v1.27.3"),
            ("kube-controller-manager", "v1.27.3"),
            ("kube-scheduler", "v1.27.3"),
            ("etcd", "3.5.7-0")
        ]
    );
    assert!(report.control_plane.components[3].kube_version().is_none(), "etcd has its own versions");
    let addons: Vec<(&str, &str, usize)> =
        report.addons.iter().map(|a| (a.name.as_str(), a.version.as_str(), a.pods)).collect();
    assert_eq!(addons, [("coredns", "v1.10.1", 1), ("kube-proxy", "v1.27.3", 3)]);

    let text = report.to_string();
    assert!(text.contains("Server Version: v1.27.3"), "{text}");
    assert!(text.contains("kube-scheduler"), "{text}");
}

#[tokio::test]
async fn the_server_fields_are_those_kubectl_version_prints() {
    if !k8sops_testkit::e2e::require_kubectl() {
        return;
    }
    let server = TestServer::builder().server_version("v1.29.8-eks-a737599").start().await.unwrap();
    let report = version_report(&server.cluster(), &VersionParams::default()).await.unwrap();
    let (ok, out, err) = server.kubectl(&["version", "-o", "json"]).await;
    assert!(ok, "{err}");
    let kubectl: Value = serde_json::from_str(&out).unwrap();
    let ours = serde_json::to_value(&report.server).unwrap();
    for field in ["gitVersion", "major", "minor", "platform", "buildDate", "goVersion", "gitCommit"] {
        assert_eq!(ours[field], kubectl["serverVersion"][field], "{field}");
    }
}

/// The policy's wording: not newer than the API server; up to three minors
/// older, two for kubelets older than 1.25.
fn official_kubelet_ok(server: u32, kubelet: u32) -> bool {
    kubelet <= server && server - kubelet <= if kubelet >= 25 { 3 } else { 2 }
}

#[tokio::test]
async fn the_kubelet_window_is_three_minors_from_1_28_and_two_before() {
    for server_version in ["v1.26.15", "v1.27.3", "v1.28.0", "v1.29.1-eks-1", "v1.31.0"] {
        let server = TestServer::builder().server_version(server_version).start().await.unwrap();
        let minors: Vec<u32> = (22..=32).collect();
        server
            .insert_all(minors.iter().map(|m| node(&format!("n-1-{m}"), &format!("v1.{m}.2"), json!({}), true)))
            .unwrap();
        let report = version_report(&server.cluster(), &VersionParams::default()).await.unwrap();
        assert_eq!(report.nodes.len(), minors.len());
        let s = v(server_version).minor;
        let mut flagged: Vec<u32> = check(&report)
            .iter()
            .filter(|x| x.component == Component::Kubelet)
            .map(|x| x.instance.trim_start_matches("n-1-").parse().unwrap())
            .collect();
        flagged.sort();
        let expected: Vec<u32> = minors.iter().copied().filter(|&m| !official_kubelet_ok(s, m)).collect();
        assert_eq!(flagged, expected, "server {server_version}");
    }
}

#[tokio::test]
async fn ha_api_servers_narrow_the_ranges_and_a_newer_controller_manager_is_flagged() {
    let server = TestServer::builder().server_version("v1.29.1").start().await.unwrap();
    server
        .insert_all([
            static_pod("kube-apiserver", "cp-1", "registry.k8s.io/kube-apiserver:v1.29.1"),
            static_pod("kube-apiserver", "cp-2", "registry.k8s.io/kube-apiserver:v1.28.4"),
            static_pod("kube-controller-manager", "cp-2", "registry.k8s.io/kube-controller-manager:v1.29.1"),
            static_pod("kube-scheduler", "cp-2", "registry.k8s.io/kube-scheduler:v1.28.4"),
            node("newer", "v1.29.1", json!({}), true),
            node("lagging", "v1.26.6", json!({}), true),
            node("too-old", "v1.25.3", json!({}), true),
        ])
        .unwrap();
    let report = version_report(&server.cluster(), &VersionParams::default()).await.unwrap();
    assert_eq!(report.apiserver_versions(), [v("v1.28.4"), v("v1.29.1")]);
    let found: Vec<(Component, String)> = check(&report).into_iter().map(|x| (x.component, x.instance)).collect();
    assert_eq!(
        found,
        [
            (Component::KubeControllerManager, "kube-controller-manager-cp-2".to_string()),
            (Component::Kubelet, "newer".to_string()),
            (Component::KubeProxy, "newer".to_string()),
            (Component::Kubelet, "too-old".to_string()),
            (Component::KubeProxy, "too-old".to_string()),
        ]
    );
    let policy = SkewPolicy::for_apiservers(&report.apiserver_versions());
    assert_eq!(policy.range(Component::Kubelet).to_string(), "v1.26 to v1.28");
    assert_eq!(policy.range(Component::Kubectl).to_string(), "v1.28 to v1.29");
}

#[tokio::test]
async fn upgrading_the_control_plane_would_leave_old_kubelets_and_kubectl_behind() {
    let server = TestServer::builder().server_version("v1.28.0").start().await.unwrap();
    server.insert_all([node("a", "v1.26.1", json!({}), true), node("b", "v1.28.0", json!({}), true)]).unwrap();
    let params = VersionParams::default().kubectl(v("v1.28.3"));
    let report = version_report(&server.cluster(), &params).await.unwrap();
    let skew = skew_report(&report, Some(&v("v1.30.0")));
    assert!(skew.now.is_empty(), "{:?}", skew.now);
    let after: Vec<(Component, &str)> = skew.after_upgrade.iter().map(|x| (x.component, x.instance.as_str())).collect();
    assert_eq!(after, [(Component::Kubelet, "a"), (Component::KubeProxy, "a"), (Component::Kubectl, "kubectl")]);
    assert!(skew.to_string().contains("With the control plane at v1.30.0"), "{skew}");
}

#[tokio::test]
async fn node_lists_are_read_page_by_page() {
    let server = TestServer::builder().server_version("v1.30.2").start().await.unwrap();
    server.insert_all((0..1201).map(|i| node(&format!("n{i:04}"), "v1.30.2", json!({}), true))).unwrap();
    server.clear_requests();
    let report = version_report(&server.cluster(), &VersionParams::default()).await.unwrap();
    assert_eq!(report.nodes.len(), 1201);
    let pages: Vec<_> =
        server.requests().into_iter().filter(|r| r.method == "GET" && r.path == "/api/v1/nodes").collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages.iter().all(|r| r.query.contains("limit=500")), "{pages:?}");
    assert!(pages[1].query.contains("continue="), "{pages:?}");
}

#[tokio::test]
async fn a_selector_limits_the_nodes() {
    let server = TestServer::builder().server_version("v1.30.2").start().await.unwrap();
    server
        .insert_all([
            node("a", "v1.30.2", json!({"pool": "blue"}), true),
            node("b", "v1.29.2", json!({"pool": "green"}), true),
        ])
        .unwrap();
    let params = VersionParams::default().nodes("pool=green".parse().unwrap());
    let report = version_report(&server.cluster(), &params).await.unwrap();
    assert_eq!(report.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["b"]);
}

#[tokio::test]
async fn what_cannot_be_read_is_a_note_and_an_unreachable_server_an_error() {
    let server = TestServer::builder().server_version("v1.30.2").anonymous_is_admin(false).start().await.unwrap();
    server
        .insert_all([
            node("a", "v1.30.2", json!({}), true),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "node-reader"},
                "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "get"]}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "node-reader"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "node-reader"},
                "subjects": [{"kind": "User", "name": "viewer"}]}),
        ])
        .unwrap();
    let path = server.add_user("viewer", &[]).unwrap();
    let viewer = Cluster::from_kubeconfig(&path, None).await.unwrap();
    let report = version_report(&viewer, &VersionParams::default()).await.unwrap();
    assert_eq!(report.nodes.len(), 1);
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    assert_eq!(report.notes[0].unread, Unread::SystemPods);
    assert!(report.notes[0].reason.contains("forbidden"), "{:?}", report.notes);
    assert!(!report.control_plane.visible);

    let dead = Cluster::from_config(kube::Config::new("http://127.0.0.1:1".parse().unwrap()))
        .unwrap()
        .to_builder()
        .retry(RetryPolicy::none())
        .build();
    let err = version_report(&dead, &VersionParams::default()).await.unwrap_err();
    assert!(matches!(err, k8sops_upgrade::Error::Core(k8sops_core::Error::Unreachable { .. })), "{err:?}");
}

#[tokio::test]
async fn a_failing_node_list_is_a_note() {
    let server = TestServer::builder()
        .server_version("v1.30.2")
        .fault(k8sops_testkit::Fault::on("GET", "/api/v1/nodes").status(500))
        .start()
        .await
        .unwrap();
    let cluster = server.cluster_with_quick_retries(2);
    let report = version_report(&cluster, &VersionParams::default()).await.unwrap();
    assert_eq!(report.notes.iter().map(|n| n.unread).collect::<Vec<_>>(), [Unread::Nodes]);
}

#[tokio::test]
async fn a_kubeadm_plan_lists_every_hop_and_upgrades_stranded_nodes_first() {
    let server = kubeadm_cluster().await;
    let plan = plan_upgrade(&server.cluster(), &PlanParams::new(v("v1.30"))).await.unwrap();
    assert_eq!(plan.flavor, Flavor::Kubeadm);
    let hops: Vec<String> = plan.hops.iter().map(|h| format!("{}->{}", h.from, h.to)).collect();
    assert_eq!(hops, ["v1.27->v1.28", "v1.28->v1.29", "v1.29->v1.30"]);
    assert_eq!(plan.hops[2].version, "v1.30.x");

    // w-3's kubelet (1.24) is within two minors of 1.27 but would be four behind 1.28.
    let first = &plan.hops[0];
    let stranded: Vec<&str> = first.out_of_skew.iter().map(|x| x.instance.as_str()).collect();
    assert_eq!(stranded, ["w-3", "w-3"]); // kubelet and kube-proxy (nodeInfo)
    assert_eq!(first.steps[0].kind, StepKind::NodesFirst);
    assert_eq!(first.steps[0].nodes, ["w-3"]);
    assert!(first.steps[0].commands.iter().any(|c| c.contains("kubelet='1.27.x-*'")), "{:?}", first.steps[0].commands);
    let kinds: Vec<StepKind> = first.steps.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [StepKind::NodesFirst, StepKind::ControlPlane, StepKind::ControlPlaneNodes, StepKind::NodeGroup]);
    assert!(first.steps[1].commands.contains(&"sudo kubeadm upgrade apply v1.28.x".to_string()));
    assert_eq!(first.steps[3].nodes, ["w-1", "w-2", "w-3"]);
    // Later hops have nobody to rescue.
    assert!(plan.hops[1].out_of_skew.is_empty() && plan.hops[2].out_of_skew.is_empty());

    let rows: Vec<(String, String, String, String)> = plan
        .components
        .iter()
        .map(|c| (c.component.clone(), c.node.clone(), c.current.clone(), c.target.clone()))
        .collect();
    assert!(rows.contains(&("kube-apiserver".into(), "cp-1".into(), "v1.27.3".into(), "v1.30.x".into())), "{rows:?}");
    assert!(rows.contains(&("kubelet".into(), "w-2".into(), "v1.26.5".into(), "v1.30.x".into())), "{rows:?}");
    assert!(rows.contains(&("coredns".into(), "1 pod(s)".into(), "v1.10.1".into(), "v1.11.1".into())), "{rows:?}");
    let text = plan.to_string();
    assert!(text.contains("Hop v1.28 -> v1.29 (v1.29.x):"), "{text}");
}

#[tokio::test]
async fn when_required_upgrades_workers_once_if_the_skew_allows() {
    let server = TestServer::builder().server_version("v1.28.9-eks-1").start().await.unwrap();
    server
        .insert_all([
            node("a", "v1.28.9-eks-1", json!({"eks.amazonaws.com/nodegroup": "general"}), true),
            node("k", "v1.28.9-eks-1", json!({"karpenter.sh/nodepool": "default"}), true),
        ])
        .unwrap();
    let params = PlanParams::new(v("v1.31")).node_upgrades(NodeUpgrades::WhenRequired).cluster_name("prod");
    let plan = plan_upgrade(&server.cluster(), &params).await.unwrap();
    assert_eq!(plan.flavor, Flavor::Eks);
    let kinds: Vec<(GroupKind, &str)> = plan.groups.iter().map(|g| (g.kind, g.name.as_str())).collect();
    assert_eq!(kinds, [(GroupKind::Karpenter, "default"), (GroupKind::EksManaged, "general")]);
    let node_steps: Vec<(String, String)> = plan
        .steps()
        .filter(|(_, s)| s.kind == StepKind::NodeGroup)
        .map(|(h, s)| (h.to.to_string(), s.title.clone()))
        .collect();
    assert_eq!(node_steps.len(), 2, "{node_steps:?}");
    assert!(node_steps.iter().all(|(hop, _)| hop == "v1.31"), "{node_steps:?}");
    let eks: Vec<&String> = plan.steps().flat_map(|(_, s)| &s.commands).collect();
    assert!(eks.contains(&&"aws eks update-cluster-version --name prod --kubernetes-version 1.29".to_string()));
    assert!(eks.contains(
        &&"aws eks update-nodegroup-version --cluster-name prod --nodegroup-name general --kubernetes-version 1.31"
            .to_string()
    ));
}

#[test]
fn plans_refuse_downgrades_and_other_majors() {
    let report = VersionReport::for_server(v("v1.30.2"));
    for bad in ["v1.29", "v1.30.1", "v2.0.0"] {
        let err = build_plan(&report, &PlanParams::new(v(bad))).unwrap_err();
        assert!(matches!(err, k8sops_upgrade::Error::Core(k8sops_core::Error::InvalidInput { .. })), "{bad}: {err}");
    }
    let policy = SkewPolicy::for_apiserver(&v("v1.30.2"));
    assert!(policy.range(Component::Kubelet).contains(MinorVersion::new(1, 27)));
}
