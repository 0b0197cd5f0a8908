//! Node status, cordon, multi-node drain, delete and safe scale-in against the
//! testkit, with kubectl as the oracle where it has an equivalent.

mod common;

use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;
use k8sops_core::{
    backend::{InMemoryNodeGroups, Instance, NodeGroup, NodeGroups, ScalingConfig},
    LabelSelector, NoProgress, Recorder,
};
use k8sops_nodes::{
    cordon, delete_node, describe_node, drain, drain_nodes, list_nodes, node_group, safe_scale_in, uncordon,
    CordonChange, CordonParams, DeleteNodeParams, DrainManyEvent, DrainManyParams, DrainParams, DrainStatus, DryRun,
    Error, NodeListParams, NodeSelection, PodOutcome, ScaleInParams, ScaleInStatus, VictimChoice,
};
use k8sops_testkit::{DemoCluster, KubeletOptions, TestServer};
use kube::Api;

async fn demo(kubelet: bool) -> TestServer {
    let mut b = TestServer::builder();
    if kubelet {
        b = b.kubelet(KubeletOptions::default());
    }
    let server = b.start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    server
}

async fn run_kubectl(server: &TestServer, args: &[&str]) -> (bool, String, String) {
    server.kubectl(args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
/// The testkit's server-side node Table (what kubectl prints here) agrees with
/// `list_nodes`. Not an oracle: the testkit builds its Table with the code
/// under test. The oracle, kubectl against the real API server, is in `e2e.rs`.
async fn testkit_node_table_agrees_with_list_nodes() {
    let server = demo(false).await;
    let (ok, out, err) = run_kubectl(&server, &["get", "nodes", "-o", "wide"]).await;
    assert!(ok, "{err}");
    let ours = list_nodes(&server.cluster(), &NodeListParams::default()).await.unwrap();
    let table = ours.wide_table(k8s_openapi::jiff::Timestamp::now()).to_string();
    let cells = |s: &str| -> Vec<Vec<String>> {
        s.lines().map(|l| l.split_whitespace().map(str::to_string).collect()).collect()
    };
    assert_eq!(cells(&table), cells(&out), "k8sops:\n{table}\nkubectl:\n{out}");
    let problems = ours.problems_table().to_string();
    assert!(problems.contains("KubeletNotReady"), "{problems}");
}

#[tokio::test]
async fn list_nodes_filters_by_labels_and_fields_across_pages() {
    let server = demo(false).await;
    let cluster = server.cluster();
    let general = NodeListParams { page_size: Some(2), ..Default::default() }
        .labels(LabelSelector::new().eq("eks.amazonaws.com/nodegroup", "general"));
    assert_eq!(list_nodes(&cluster, &general).await.unwrap().nodes.len(), 4);
    let cordoned = NodeListParams::default().fields("spec.unschedulable=true".parse().unwrap());
    let names: Vec<String> = list_nodes(&cluster, &cordoned).await.unwrap().nodes.into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["ip-10-0-0-7.ec2.internal"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_node_matches_kubectl_allocated_resources() {
    let server = demo(false).await;
    let d = describe_node(&server.cluster(), "ip-10-0-0-5.ec2.internal").await.unwrap();
    let (ok, out, err) = run_kubectl(&server, &["describe", "node", "ip-10-0-0-5.ec2.internal"]).await;
    assert!(ok, "{err}");
    for r in ["cpu", "memory"] {
        let line = k8sops_testkit::e2e::allocated_row(&out, r).expect("kubectl prints Allocated resources");
        assert_eq!(line[1], d.allocated_requests.get(r).to_string(), "{r} requests");
        assert_eq!(line[2], format!("({}%)", d.requests_percent(r)), "{r} requests %");
        assert_eq!(line[3], d.allocated_limits.get(r).to_string(), "{r} limits");
        assert_eq!(line[4], format!("({}%)", d.limits_percent(r)), "{r} limits %");
    }
    let kubectl_pods = out
        .split("Non-terminated Pods:")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .trim_start_matches('(')
        .to_string();
    assert_eq!(kubectl_pods, d.pods.len().to_string());
    let err = describe_node(&server.cluster(), "nope").await.unwrap_err();
    assert!(matches!(err, Error::NodeNotFound { .. }));
}

#[tokio::test]
async fn cordon_is_idempotent_reports_changes_and_supports_selectors_and_dry_run() {
    let server = demo(false).await;
    let cluster = server.cluster();
    let spot_and_general = NodeSelection::Selector("eks.amazonaws.com/nodegroup in (spot,general)".parse().unwrap());
    let dry = cordon(&cluster, &spot_and_general, CordonParams { dry_run: DryRun::Client }).await.unwrap();
    assert_eq!(dry.changed().count(), 4, "one general node is already cordoned:\n{dry}");
    let nodes: Api<Node> = Api::all(server.client());
    let cordoned_now = |n: Node| n.spec.and_then(|s| s.unschedulable).unwrap_or(false);
    assert!(!cordoned_now(nodes.get("ip-10-0-0-9.ec2.internal").await.unwrap()), "a dry run changes nothing");
    let report = cordon(&cluster, &spot_and_general, CordonParams::default()).await.unwrap();
    assert_eq!(report.changed().count(), 4);
    assert!(report.nodes.contains(&("ip-10-0-0-7.ec2.internal".to_string(), CordonChange::AlreadyInState)));
    let again = cordon(&cluster, &spot_and_general, CordonParams::default()).await.unwrap();
    assert_eq!(again.changed().count(), 0);
    let back =
        uncordon(&cluster, &NodeSelection::name("ip-10-0-0-9.ec2.internal"), CordonParams::default()).await.unwrap();
    assert_eq!(back.to_string(), "node/ip-10-0-0-9.ec2.internal uncordoned\n");
    assert!(!cordoned_now(nodes.get("ip-10-0-0-9.ec2.internal").await.unwrap()));
    let err = cordon(&cluster, &NodeSelection::name("nope"), CordonParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::NodeNotFound { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_dry_run_selects_and_refuses_the_same_pods_as_kubectl() {
    let server = demo(false).await;
    let cluster = server.cluster();
    for node in [
        "ip-10-0-0-3.ec2.internal",
        "ip-10-0-0-4.ec2.internal",
        "ip-10-0-0-5.ec2.internal",
        "ip-10-0-0-6.ec2.internal",
        "ip-10-0-0-9.ec2.internal",
    ] {
        for (flags, params) in [
            (vec!["--ignore-daemonsets"], DrainParams::default().ignore_daemonsets(true)),
            (
                vec!["--ignore-daemonsets", "--force", "--delete-emptydir-data"],
                DrainParams::default().ignore_daemonsets(true).force(true).delete_emptydir_data(true),
            ),
        ] {
            let mut args = vec!["drain", node, "--dry-run=client"];
            args.extend(flags.iter().copied());
            let (ok, out, err) = run_kubectl(&server, &args).await;
            let ours = drain(&cluster, node, &params.clone().dry_run(DryRun::Client)).await.unwrap().ensure_completed();
            match ours {
                Ok(report) => {
                    assert!(ok, "kubectl refused what k8sops accepts on {node} {flags:?}: {err}");
                    let mut kubectl_pods: Vec<String> = out
                        .lines()
                        .filter_map(|l| l.strip_prefix("evicting pod "))
                        .map(|l| l.trim_end_matches(" (dry run)").to_string())
                        .collect();
                    kubectl_pods.sort();
                    let mut ours: Vec<String> = report
                        .pods
                        .iter()
                        .filter(|p| matches!(p.outcome, PodOutcome::WouldEvict | PodOutcome::WouldDelete))
                        .map(|p| p.pod.clone())
                        .collect();
                    ours.sort();
                    assert_eq!(ours, kubectl_pods, "{node} {flags:?}");
                }
                Err(Error::Refused { pods, .. }) => {
                    assert!(!ok, "k8sops refused what kubectl accepts on {node} {flags:?}");
                    for (pod, reason) in pods {
                        assert!(err.contains(&pod), "kubectl names {pod}: {err}");
                        assert!(err.contains(&reason.to_string()), "kubectl gives the reason {reason}: {err}");
                    }
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
}

#[tokio::test]
async fn drain_nodes_cordons_all_then_drains_and_waits_for_replacements() {
    let server = demo(true).await;
    let events = Recorder::default();
    let selection = NodeSelection::Names(vec!["ip-10-0-0-3.ec2.internal".into(), "ip-10-0-0-4.ec2.internal".into()]);
    let params = DrainManyParams {
        drain: DrainParams::default().ignore_daemonsets(true),
        max_unavailable: 1,
        wait_for_replacements: Some(std::time::Duration::from_secs(30)),
        ..Default::default()
    };
    let report = drain_nodes(&server.cluster(), &selection, &params, &events).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    let ev = events.events();
    assert!(
        matches!(&ev[0], DrainManyEvent::CordonedAll { nodes } if nodes.len() == 2),
        "every node is cordoned before the first drain"
    );
    let finished: Vec<usize> = ev
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, DrainManyEvent::NodeFinished { .. }))
        .map(|(i, _)| i)
        .collect();
    let first_of_second = ev
        .iter()
        .position(|e| matches!(e, DrainManyEvent::Node { node, .. } if node == "ip-10-0-0-4.ec2.internal"))
        .unwrap();
    assert!(finished[0] < first_of_second, "one node at a time");
    assert!(ev.iter().any(|e| matches!(e, DrainManyEvent::ReplacementsReady)));
    let err = drain_nodes(
        &server.cluster(),
        &selection,
        &DrainManyParams { max_unavailable: 0, ..Default::default() },
        &NoProgress,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)));
}

#[tokio::test]
async fn delete_node_after_a_refused_drain_keeps_the_node() {
    let server = demo(true).await;
    let cluster = server.cluster();
    let params = DeleteNodeParams { drain: Some(DrainParams::default()), ..Default::default() };
    let report = delete_node(&cluster, "ip-10-0-0-3.ec2.internal", &params, &NoProgress).await.unwrap();
    assert!(!report.deleted);
    let err = report.ensure_completed().unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "DaemonSet pods refuse the default drain: {err}");
    let nodes: Api<Node> = Api::all(server.client());
    assert!(nodes.get_opt("ip-10-0-0-3.ec2.internal").await.unwrap().is_some());
    let params = DeleteNodeParams { drain: Some(DrainParams::default().ignore_daemonsets(true)), ..Default::default() };
    let report = delete_node(&cluster, "ip-10-0-0-3.ec2.internal", &params, &NoProgress).await.unwrap();
    assert!(report.deleted && report.drain.is_some());
    assert!(nodes.get_opt("ip-10-0-0-3.ec2.internal").await.unwrap().is_none());
}

async fn with_groups(server: &TestServer, min: i32) -> (k8sops_core::Cluster, Arc<InMemoryNodeGroups>) {
    let nodes = node_group::nodes_in_group(&server.cluster(), "general").await.unwrap();
    let mut group = NodeGroup::new("general", ScalingConfig { min, max: 10, desired: nodes.len() as i32 });
    group.instances = nodes
        .iter()
        .map(|n| Instance {
            id: node_group::instance_id(n).unwrap(),
            lifecycle_state: "InService".into(),
            health_status: "Healthy".into(),
            availability_zone: None,
        })
        .collect();
    let groups = Arc::new(InMemoryNodeGroups::new().with_group(group));
    (server.cluster().to_builder().node_groups(groups.clone()).build(), groups)
}

#[tokio::test]
async fn safe_scale_in_drains_then_terminates_exactly_those_instances() {
    let server = demo(true).await;
    let (cluster, groups) = with_groups(&server, 1).await;
    let plan = safe_scale_in(
        &cluster,
        "general",
        &ScaleInParams { dry_run: DryRun::Client, ..ScaleInParams::least_loaded(1) },
        &NoProgress,
    )
    .await
    .unwrap()
    .plan;
    assert_eq!(plan.victims.len(), 1);
    let victim = plan.victims[0].clone();
    // Least loaded means no other schedulable general node has fewer CPU requests.
    let report = safe_scale_in(&cluster, "general", &ScaleInParams::least_loaded(1), &NoProgress).await.unwrap();
    assert_eq!(report.plan.victims[0].node, victim.node);
    assert_eq!(report.status, ScaleInStatus::Completed);
    assert_eq!(report.terminated(), [victim.instance_id.as_str()]);
    assert!(report.victims[0].drain.as_ref().is_some_and(|d| d.status == DrainStatus::Completed));
    let g = groups.describe("general").await.unwrap();
    assert_eq!(g.scaling.desired, plan.desired_before - 1);
    assert!(g.instances.iter().all(|i| i.id != victim.instance_id));
    let d = describe_node(&cluster, &victim.node).await.unwrap();
    assert!(
        d.pods.iter().all(|p| p.namespace == "kube-system" || p.namespace == "monitoring"),
        "only DaemonSet pods remain: {:?}",
        d.pods
    );
}

#[tokio::test]
async fn safe_scale_in_refuses_to_go_below_the_minimum() {
    let server = demo(true).await;
    let (cluster, _) = with_groups(&server, 4).await;
    let err = safe_scale_in(&cluster, "general", &ScaleInParams::least_loaded(1), &NoProgress).await.unwrap_err();
    assert!(err.to_string().contains("below its minimum of 4"), "{err}");
    let params = ScaleInParams {
        victims: VictimChoice::Nodes(vec!["ip-10-0-0-9.ec2.internal".into()]),
        ..ScaleInParams::least_loaded(0)
    };
    let err = safe_scale_in(&cluster, "general", &params, &NoProgress).await.unwrap_err();
    assert!(err.to_string().contains("is not an instance of node group general"), "{err}");
    let no_backend = server.cluster();
    let err = safe_scale_in(&no_backend, "general", &ScaleInParams::least_loaded(1), &NoProgress).await.unwrap_err();
    assert!(err.to_string().contains("no NodeGroups backend"), "{err}");
}
