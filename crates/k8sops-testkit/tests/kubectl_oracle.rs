//! kubectl against the testkit: what kubectl prints must agree with the
//! stored objects (and with k8sops' own computation of the same columns).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8sops_core::{object_status, PodResources, Quantity};
use k8sops_testkit::{DemoCluster, TestServer};
use kube::Api;

struct Fixture {
    server: TestServer,
}

impl Fixture {
    async fn new() -> Self {
        let server = TestServer::start().await.unwrap();
        server.load(&DemoCluster::small()).unwrap();
        Fixture { server }
    }

    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        self.server.kubectl(args).await
    }

    async fn nodes(&self) -> Vec<Node> {
        Api::<Node>::all(self.server.client()).list(&Default::default()).await.unwrap().items
    }

    async fn pods(&self) -> Vec<Pod> {
        Api::<Pod>::all(self.server.client()).list(&Default::default()).await.unwrap().items
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_nodes_wide_prints_the_stored_values() {
    let f = Fixture::new().await;
    let (ok, out, err) = f.run(&["get", "nodes", "-o", "wide", "--no-headers"]).await;
    assert!(ok, "{err}");
    let printed: BTreeSet<Vec<String>> = out
        .lines()
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            // NAME STATUS ROLES AGE VERSION INTERNAL-IP EXTERNAL-IP OS-IMAGE(4 words) KERNEL RUNTIME
            let mut v: Vec<String> = cols[..3].iter().chain(&cols[4..7]).map(|s| s.to_string()).collect();
            v.push(cols[7..cols.len() - 2].join(" "));
            v.extend(cols[cols.len() - 2..].iter().map(|s| s.to_string()));
            v
        })
        .collect();
    let expected: BTreeSet<Vec<String>> = f
        .nodes()
        .await
        .iter()
        .map(|n| {
            let info = n.status.as_ref().unwrap().node_info.as_ref().unwrap();
            vec![
                n.metadata.name.clone().unwrap(),
                object_status::node_status(n),
                object_status::node_roles(n),
                info.kubelet_version.clone(),
                object_status::node_address(n, "InternalIP"),
                object_status::node_address(n, "ExternalIP"),
                info.os_image.clone(),
                info.kernel_version.clone(),
                info.container_runtime_version.clone(),
            ]
        })
        .collect();
    assert_eq!(printed, expected);
    assert!(
        out.contains("Ready,SchedulingDisabled") && out.contains("NotReady"),
        "the demo has a cordoned and a NotReady node:\n{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_pods_all_namespaces_agrees_with_pod_display() {
    let f = Fixture::new().await;
    let (ok, out, err) = f.run(&["get", "pods", "-A", "--no-headers"]).await;
    assert!(ok, "{err}");
    let printed: BTreeSet<(String, String, String, String, String)> = out
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            (c[0].into(), c[1].into(), c[2].into(), c[3].into(), c[4].into())
        })
        .collect();
    let expected: BTreeSet<_> = f
        .pods()
        .await
        .iter()
        .map(|p| {
            let d = object_status::pod_display(p);
            (
                p.metadata.namespace.clone().unwrap(),
                p.metadata.name.clone().unwrap(),
                d.ready,
                d.status,
                d.restarts.to_string(),
            )
        })
        .collect();
    assert_eq!(printed, expected);
    for word in ["CrashLoopBackOff", "ImagePullBackOff", "Pending", "Completed", "Error"] {
        assert!(out.contains(word), "{word} missing:\n{out}");
    }
}

fn allocated_line<'a>(describe: &'a str, resource: &str) -> Vec<&'a str> {
    k8sops_testkit::e2e::allocated_row(describe, resource).expect("Allocated resources row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_node_allocated_resources_match_pod_resources() {
    let f = Fixture::new().await;
    let nodes = f.nodes().await;
    let pods = f.pods().await;
    for node in nodes.iter().take(4) {
        let name = node.metadata.name.clone().unwrap();
        let (ok, out, err) = f.run(&["describe", "node", &name]).await;
        assert!(ok, "{err}");
        let mut cpu = Quantity::ZERO;
        let mut mem = Quantity::ZERO;
        let mut mem_limit = Quantity::ZERO;
        for p in pods.iter().filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name.as_str())) {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("");
            if phase == "Succeeded" || phase == "Failed" {
                continue;
            }
            let r = PodResources::of(p).unwrap();
            cpu += r.requests.get("cpu");
            mem += r.requests.get("memory");
            mem_limit += r.limits.get("memory");
        }
        let alloc = node.status.as_ref().unwrap().allocatable.as_ref().unwrap();
        let alloc_cpu = Quantity::try_from(&alloc["cpu"]).unwrap();
        let alloc_mem = Quantity::try_from(&alloc["memory"]).unwrap();
        let cpu_line = allocated_line(&out, "cpu");
        assert_eq!(cpu_line[1], cpu.to_string(), "{name} cpu requests");
        assert_eq!(cpu_line[2], format!("({}%)", cpu.percent_of(alloc_cpu)), "{name} cpu percent");
        let mem_line = allocated_line(&out, "memory");
        assert_eq!(mem_line[1], mem.to_string(), "{name} memory requests");
        assert_eq!(mem_line[2], format!("({}%)", mem.percent_of(alloc_mem)), "{name} memory percent");
        assert_eq!(mem_line[3], mem_limit.to_string(), "{name} memory limits");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_dry_run_refuses_and_selects_the_pods_the_rules_say() {
    let f = Fixture::new().await;
    let pods = f.pods().await;
    let node = pods
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some("host-agent"))
        .and_then(|p| p.spec.as_ref()?.node_name.clone())
        .expect("host-agent is scheduled");
    let (ok, _out, err) = f.run(&["drain", &node, "--dry-run=client", "--ignore-daemonsets"]).await;
    assert!(!ok, "an unreplicated pod blocks the drain");
    assert!(
        err.contains("cannot delete Pods that declare no controller") && err.contains("legacy/host-agent"),
        "{err}"
    );

    let (ok, out, err) =
        f.run(&["drain", &node, "--dry-run=client", "--ignore-daemonsets", "--force", "--delete-emptydir-data"]).await;
    assert!(ok, "{err}");
    let evicted: BTreeSet<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix("evicting pod "))
        .map(|l| l.trim_end_matches(" (dry run)").to_string())
        .collect();
    let expected: BTreeSet<String> = pods
        .iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node.as_str()))
        .filter(|p| !p.metadata.owner_references.iter().flatten().any(|o| o.kind == "DaemonSet"))
        .map(|p| format!("{}/{}", p.metadata.namespace.clone().unwrap(), p.metadata.name.clone().unwrap()))
        .collect();
    assert_eq!(evicted, expected);
    assert!(out.contains(&format!("node/{node} cordoned (dry run)")), "{out}");
    let stored = Api::<Node>::all(f.server.client()).get(&node).await.unwrap();
    assert_ne!(stored.spec.and_then(|s| s.unschedulable), Some(true), "a client dry-run cordons nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_can_i_list_shows_the_stored_role() {
    let f = Fixture::new().await;
    let (ok, out, err) = f.run(&["auth", "can-i", "--list", "--as=jane", "-n", "shop"]).await;
    assert!(ok, "{err}");
    let line = |resource: &str| {
        out.lines()
            .find(|l| l.starts_with(resource))
            .unwrap_or_else(|| panic!("{resource} missing:\n{out}"))
            .to_string()
    };
    assert!(line("deployments.apps").ends_with("[get list patch update]"), "{out}");
    assert!(line("pods ").ends_with("[get list]"), "{out}");
    assert!(line("selfsubjectaccessreviews.authorization.k8s.io").ends_with("[create]"), "{out}");
    let (ok, out, _) = f.run(&["auth", "can-i", "delete", "pods", "--as=jane", "-n", "shop"]).await;
    assert!(!ok && out.trim() == "no", "{out}");
    let (ok, out, _) = f.run(&["auth", "can-i", "patch", "deployments", "--as=jane", "-n", "shop"]).await;
    assert!(ok && out.trim() == "yes", "{out}");
}
