//! The capacity report against the testkit, with `kubectl describe node`
//! as the oracle for allocated resources.

use k8s_openapi::api::core::v1::Pod;
use k8sops_core::Quantity;
use k8sops_metrics::{capacity_report, CapacityParams};
use k8sops_testkit::{DemoCluster, TestServer};
use kube::{api::ListParams, Api};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocated_resources_match_kubectl_describe_node() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let report = capacity_report(&server.cluster(), &CapacityParams::default()).await.unwrap();
    for node in report.nodes.iter().take(5) {
        let (_, text, _) = server.kubectl(&["describe", "node", &node.name]).await;
        for r in ["cpu", "memory"] {
            let line = k8sops_testkit::e2e::allocated_row(&text, r).expect("kubectl prints Allocated resources");
            assert_eq!(line[1], node.requests.get(r).to_string(), "{} {r}", node.name);
            assert_eq!(line[2], format!("({}%)", node.requests_percent(r)), "{} {r}", node.name);
            assert_eq!(line[3], node.limits.get(r).to_string(), "{} {r} limits", node.name);
        }
    }
    let groups: Vec<(&str, usize)> = report.groups.iter().map(|g| (g.name.as_str(), g.nodes)).collect();
    assert_eq!(groups, [("general", 4), ("spot", 1), ("system", 2)]);
}

#[tokio::test]
async fn headroom_overcommitment_and_over_requesting_pods() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    // One pod whose limits exceed its node's allocatable memory, and one that uses almost nothing.
    server
        .insert(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "greedy", "namespace": "shop"},
            "spec": {"nodeName": "ip-10-0-0-9.ec2.internal", "containers": [{"name": "c", "image": "x",
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "64Gi"}}}]},
            "status": {"phase": "Running"}}))
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(server.client(), "shop");
    let api_pod =
        pods.list(&ListParams::default().labels("app=api")).await.unwrap().items[0].metadata.name.clone().unwrap();
    server.set_pod_metrics("shop", &api_pod, &[("api", "10m", "20Mi")]).unwrap();

    let params = CapacityParams::default();
    let report = capacity_report(&server.cluster(), &params).await.unwrap();
    assert!(report
        .overcommitted()
        .iter()
        .any(|(n, r)| *n == "ip-10-0-0-9.ec2.internal" && r.contains(&"memory".to_string())));
    // Headroom: cordoned, NotReady and tainted (system) nodes offer none; the rest agree with a manual computation.
    let (cpu, mem) = params.headroom_pod;
    for n in &report.nodes {
        let manual = if n.schedulable {
            let by_cpu = (n.allocatable.get("cpu") - n.requests.get("cpu")).fits(cpu).unwrap();
            let by_mem = (n.allocatable.get("memory") - n.requests.get("memory")).fits(mem).unwrap();
            by_cpu.min(by_mem).min(n.allocatable.get("pods").value() - n.pods)
        } else {
            0
        };
        assert_eq!(n.fits(cpu, mem), manual, "{}", n.name);
    }
    assert!(report.headroom.iter().all(|(n, _)| !n.starts_with("ip-10-0-0-7") && !n.starts_with("ip-10-0-0-8")));
    assert_eq!(report.headroom_total(), report.nodes.iter().map(|n| n.fits(cpu, mem)).sum::<i64>());
    assert!(report.usage_known());
    let flagged = report
        .over_requesting
        .iter()
        .find(|o| o.pod == format!("shop/{api_pod}"))
        .expect("the idle api pod is flagged");
    assert_eq!((flagged.cpu.0, flagged.cpu.1), ("500m".parse::<Quantity>().unwrap(), "10m".parse().unwrap()));
    for o in &report.over_requesting {
        let waste = |(req, used): (Quantity, Quantity), floor: Quantity| {
            req - used >= floor && req >= used.checked_mul(4).unwrap()
        };
        assert!(waste(o.cpu, params.waste_floor.0) || waste(o.memory, params.waste_floor.1), "{o:?}");
    }

    // Without the metrics API the report still comes, without the usage part.
    let bare = TestServer::builder().metrics_api(false).start().await.unwrap();
    bare.load(&DemoCluster::small()).unwrap();
    let report = capacity_report(&bare.cluster(), &params).await.unwrap();
    assert!(!report.usage_known() && report.over_requesting.is_empty() && !report.nodes.is_empty());
}
