//! Kubelet and scheduler events on the real node (`../shared/k8s/node/`):
//! `Killing`, `Unhealthy`, `BackOff`, `Pulled` and `FailedScheduling`, each
//! made happen by a pod built for it, listed by [`events`] and shown in the
//! `Events:` section of pod descriptions exactly as `kubectl
//! describe pod` shows them (order, counts as `(xN over …)`, sources,
//! messages). The node's own events are compared in k8sops-nodes' real-node tests.

use std::time::{Duration, Instant};

use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};
use k8sops_core::describe::events_section;
use k8sops_diagnose::{events, events::pod_events, EventLine, EventParams};
use k8sops_testkit::e2e;
use kube::{api::PostParams, Api};
use serde_json::{json, Value};

const BUSYBOX: &str = "localhost/busybox:1.35";

fn pod(name: &str, container: Value) -> Pod {
    serde_json::from_value(
        json!({"metadata": {"name": name}, "spec": {"terminationGracePeriodSeconds": 1, "containers": [container]}}),
    )
    .unwrap()
}

/// The first event of `reason` about `pod/name`.
fn find<'a>(found: &'a [EventLine], reason: &str, name: &str) -> Option<&'a EventLine> {
    found.iter().find(|e| e.reason == reason && e.object == format!("pod/{name}"))
}

/// Compares our `Events:` section of a pod with kubectl's. Probes keep
/// adding events, so the comparison is made on a quiet moment: ours before
/// and after kubectl's must be the same.
async fn assert_describe_events_match(node: &e2e::RealServer, ns: &str, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let before = pod_events(&node.cluster, ns, name).await.unwrap();
        let out = node.kubectl_ok(&["describe", "pod", "-n", ns, name]).await;
        let after = pod_events(&node.cluster, ns, name).await.unwrap();
        let counts = |v: &[k8sops_core::describe::DescribedEvent]| v.iter().map(|e| e.count).collect::<Vec<_>>();
        if before.len() == after.len() && counts(&before) == counts(&after) {
            let ours = events_section(&before, Timestamp::now());
            let theirs_cells = e2e::describe_section(&out, "Events:");
            let ours_cells = e2e::describe_section(&ours, "Events:");
            e2e::assert_same_cells(&ours_cells, &theirs_cells, &format!("k8sops:\n{ours}\nkubectl:\n{out}"));
            return;
        }
        assert!(Instant::now() < deadline, "a quiet moment in the events of {ns}/{name} within 60 s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubelet_and_scheduler_events_match_kubectl_describe() {
    let Some(node) = e2e::real_node().await else { return };
    let ns = e2e::fresh_namespace(&node.cluster, "kevents").await;
    let api: Api<Pod> = Api::namespaced(node.cluster.client().clone(), &ns);
    let probe = |kind: &str| json!({kind: {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 1}});
    let pods = [
        // Exits at once: Pulled, Created, Started, then BackOff.
        pod(
            "crash",
            json!({"name": "c", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sh", "-c", "exit 1"]}),
        ),
        // Never ready: Unhealthy (readiness).
        pod("unready", {
            let mut c =
                json!({"name": "c", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sleep", "3600"]});
            c["readinessProbe"] = probe("readinessProbe")["readinessProbe"].clone();
            c
        }),
        // Liveness fails: Unhealthy, then the kubelet kills it (Killing) and restarts it.
        pod("dying", {
            let mut c =
                json!({"name": "c", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sleep", "3600"]});
            c["livenessProbe"] = probe("livenessProbe")["livenessProbe"].clone();
            c
        }),
        // Larger than the node: FailedScheduling from the scheduler.
        pod(
            "huge",
            json!({"name": "c", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["sleep", "3600"],
            "resources": {"requests": {"cpu": "1000"}}}),
        ),
    ];
    for p in &pods {
        api.create(&PostParams::default(), p).await.unwrap();
    }

    // Each reason, about the pod made for it, within two minutes.
    let params = EventParams { namespace: Some(ns.clone()), ..Default::default() };
    let wanted = [
        ("Pulled", "crash"),
        ("BackOff", "crash"),
        ("Unhealthy", "unready"),
        ("Unhealthy", "dying"),
        ("Killing", "dying"),
        ("FailedScheduling", "huge"),
    ];
    let deadline = Instant::now() + Duration::from_secs(120);
    let found = loop {
        let found = events(&node.cluster, &params).await.unwrap();
        if wanted.iter().all(|(r, p)| find(&found, r, p).is_some()) {
            break found;
        }
        let missing: Vec<_> = wanted.iter().filter(|(r, p)| find(&found, r, p).is_none()).collect();
        assert!(Instant::now() < deadline, "events within 120 s, missing {missing:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let pulled = find(&found, "Pulled", "crash").unwrap();
    assert!(pulled.message.contains("already present on machine"), "{pulled:?}");
    assert_eq!(find(&found, "BackOff", "crash").unwrap().type_, "Warning");
    let unready = find(&found, "Unhealthy", "unready").unwrap();
    assert!(unready.message.starts_with("Readiness probe failed"), "{unready:?}");
    let dying = found.iter().find(|e| e.reason == "Unhealthy" && e.object == "pod/dying").unwrap();
    assert!(dying.message.starts_with("Liveness probe failed"), "{dying:?}");
    let killing = find(&found, "Killing", "dying").unwrap();
    assert!(killing.message.contains("failed liveness probe, will be restarted"), "{killing:?}");
    let unscheduled = find(&found, "FailedScheduling", "huge").unwrap();
    assert!(unscheduled.message.contains("Insufficient cpu"), "{unscheduled:?}");

    // kubectl get events lists the same reasons for the same objects.
    let out = node
        .kubectl_ok(&[
            "get",
            "events",
            "-n",
            &ns,
            "-o",
            "custom-columns=REASON:.reason,OBJECT:.involvedObject.name",
            "--no-headers",
        ])
        .await;
    for (reason, pod) in wanted {
        assert!(
            out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == [reason, pod]),
            "{reason} {pod}: {out}"
        );
    }

    // The Events: section of each pod's describe, as kubectl prints it.
    for name in ["crash", "unready", "dying", "huge"] {
        assert_describe_events_match(&node, &ns, name).await;
    }
    // The diagnosis tells the liveness kill from a crash.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let diagnosed = k8sops_diagnose::diagnose_pods(&node.cluster, &Default::default()).await.unwrap();
        let dying = diagnosed.pods.into_iter().find(|d| d.pod == format!("{ns}/dying"));
        if let Some(d) = dying.filter(|d| matches!(d.problem, k8sops_diagnose::Problem::CrashLoop { .. })) {
            assert!(d.cause.contains("liveness probe fails"), "{d}");
            break;
        }
        assert!(Instant::now() < deadline, "the liveness kill diagnosed within 60 s");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // A repeated event shows its count: the probe fails every second.
    let unready = pod_events(&node.cluster, &ns, "unready").await.unwrap();
    assert!(unready.iter().any(|e| e.reason == "Unhealthy" && e.count > 1 && e.age(Timestamp::now()).contains(" (x")));
}
