//! Logs and kubelet events on the real node (`../shared/k8s/node/`), each
//! compared with kubectl on the same pod of the same server.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8sops_diagnose::{events, follow_logs, logs, EventParams, LogOptions};
use k8sops_testkit::e2e;
use kube::{api::PostParams, Api};
use serde_json::json;

/// Waits (polling, with a deadline) until `f` holds for the pod.
async fn wait_for(api: &Api<Pod>, name: &str, what: &str, f: impl Fn(&Pod) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if api.get_opt(name).await.unwrap().as_ref().is_some_and(&f) {
            return;
        }
        assert!(Instant::now() < deadline, "pod {name}: {what} within 120 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Logs as text, or the error's text when the kubelet refused.
async fn logs_text(cluster: &k8sops_core::Cluster, ns: &str, pod: &str, options: &LogOptions) -> (bool, String) {
    match logs(cluster, ns, pod, options).await {
        Ok(text) => (true, text),
        Err(e) => (false, e.to_string()),
    }
}

fn restarted(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).into_iter().flatten().any(|c| c.restart_count >= 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_match_kubectl_logs_on_a_real_kubelet() {
    let Some(node) = e2e::real_node().await else { return };
    let ns = e2e::fresh_namespace(&node.cluster, "logs").await;
    let api: Api<Pod> = Api::namespaced(node.cluster.client().clone(), &ns);
    // Two containers; "app" prints numbered lines, then exits 3 so there is a --previous.
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "talker"}, "spec": {"containers": [
        {"name": "app", "image": "localhost/busybox:1.35", "imagePullPolicy": "Never",
         "command": ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; exit 3"]},
        {"name": "side", "image": "localhost/busybox:1.35", "imagePullPolicy": "Never",
         "command": ["sh", "-c", "echo side says hi; sleep 3600"]}]}}))
    .unwrap();
    api.create(&PostParams::default(), &pod).await.unwrap();
    wait_for(&api, "talker", "app restarted once", restarted).await;
    let cases: Vec<(LogOptions, Vec<&str>)> = vec![
        (
            LogOptions { container: Some("app".into()), previous: true, ..Default::default() },
            vec!["-c", "app", "--previous"],
        ),
        (
            LogOptions { container: Some("app".into()), previous: true, tail_lines: Some(2), ..Default::default() },
            vec!["-c", "app", "--previous", "--tail=2"],
        ),
        (LogOptions { container: Some("side".into()), ..Default::default() }, vec!["-c", "side"]),
        (
            LogOptions { container: Some("side".into()), timestamps: true, ..Default::default() },
            vec!["-c", "side", "--timestamps"],
        ),
        (
            LogOptions { container: Some("side".into()), since: Some(Duration::from_secs(3600)), ..Default::default() },
            vec!["-c", "side", "--since=1h"],
        ),
    ];
    let deadline = Instant::now() + Duration::from_secs(120);
    for (options, flags) in cases {
        let mut args = vec!["logs", "-n", &ns, "talker"];
        args.extend(flags.iter().copied());
        loop {
            let (read, ours) = logs_text(&node.cluster, &ns, "talker", &options).await;
            let (ok, theirs, err) = node.kubectl(&args).await;
            let raced = [&ours, &theirs, &err].iter().any(|s| e2e::kubelet_replacing_container(s));
            if raced && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            assert!(read, "k8sops logs {flags:?} failed: {ours}");
            assert!(ok, "kubectl logs {flags:?} failed: {err}");
            assert_eq!(ours, theirs, "kubectl logs {flags:?}");
            assert!(!ours.is_empty());
            break;
        }
    }
    let previous = loop {
        let (read, previous) = logs_text(
            &node.cluster,
            &ns,
            "talker",
            &LogOptions { container: Some("app".into()), previous: true, ..Default::default() },
        )
        .await;
        let raced = e2e::kubelet_replacing_container(&previous);
        if !raced || Instant::now() >= deadline {
            assert!(read, "k8sops logs --previous failed: {previous}");
            break previous;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(previous, "line 1\nline 2\nline 3\nline 4\nline 5\n");

    // Follow ends when the container ends, with what `kubectl logs` then prints.
    let once: Pod =
        serde_json::from_value(json!({"metadata": {"name": "once"}, "spec": {"restartPolicy": "Never", "containers": [
        {"name": "c", "image": "localhost/busybox:1.35", "imagePullPolicy": "Never",
         "command": ["sh", "-c", "sleep 2; for i in 1 2 3; do echo tick $i; sleep 1; done"]}]}}))
        .unwrap();
    api.create(&PostParams::default(), &once).await.unwrap();
    wait_for(&api, "once", "running", |p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")).await;
    let stream = follow_logs(&node.cluster, &ns, "once", &LogOptions::default()).await.unwrap();
    let followed: Vec<String> = tokio::time::timeout(Duration::from_secs(60), stream.try_collect())
        .await
        .expect("the follow ends when the container ends")
        .unwrap();
    let after = node.kubectl_ok(&["logs", "-n", &ns, "once"]).await;
    assert_eq!(followed.iter().map(|l| format!("{}\n", l.trim_end_matches('\n'))).collect::<String>(), after);
    assert_eq!(after, "tick 1\ntick 2\ntick 3\n");

    // A container that never started: kubectl's error and ours both say so.
    let never: Pod = serde_json::from_value(json!({"metadata": {"name": "never"}, "spec": {"containers": [
        {"name": "c", "image": "localhost/missing:1", "imagePullPolicy": "Never"}]}}))
    .unwrap();
    api.create(&PostParams::default(), &never).await.unwrap();
    wait_for(&api, "never", "ErrImageNeverPull", |p| {
        p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).into_iter().flatten().any(|c| {
            c.state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref())
                == Some("ErrImageNeverPull")
        })
    })
    .await;
    let err = logs(&node.cluster, &ns, "never", &LogOptions::default()).await.unwrap_err();
    let (ok, _, kubectl_err) = node.kubectl(&["logs", "-n", &ns, "never"]).await;
    assert!(!ok);
    assert!(kubectl_err.contains("waiting to start"), "{kubectl_err}");
    assert!(err.to_string().contains("waiting to start"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubelet_events_are_listed_like_kubectl_get_events() {
    let Some(node) = e2e::real_node().await else { return };
    let ns = e2e::fresh_namespace(&node.cluster, "events").await;
    let api: Api<Pod> = Api::namespaced(node.cluster.client().clone(), &ns);
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "crash"}, "spec": {"containers": [
        {"name": "c", "image": "localhost/busybox:1.35", "imagePullPolicy": "Never", "command": ["sh", "-c", "exit 1"]}]}}))
    .unwrap();
    api.create(&PostParams::default(), &pod).await.unwrap();
    wait_for(&api, "crash", "restarted", restarted).await;
    let params = EventParams { namespace: Some(ns.clone()), ..Default::default() };
    let deadline = Instant::now() + Duration::from_secs(120);
    let ours = loop {
        let found = events(&node.cluster, &params).await.unwrap();
        let reasons: Vec<&str> = found.iter().map(|e| e.reason.as_str()).collect();
        if ["Scheduled", "Pulled", "Created", "Started", "BackOff"].iter().all(|r| reasons.contains(r)) {
            break found;
        }
        assert!(Instant::now() < deadline, "kubelet events within 120 s: {reasons:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let out = node.kubectl_ok(&["get", "events", "-n", &ns, "--sort-by=.lastTimestamp", "-o", "name"]).await;
    let kubectl: Vec<String> = out.lines().map(|l| l.trim_start_matches("event/").to_string()).collect();
    let names: Vec<String> = ours.iter().map(|e| e.name.clone()).collect();
    // The kubelet may post more events between the two listings: compare what both saw.
    let common: Vec<&String> = kubectl.iter().filter(|n| names.contains(n)).collect();
    let ours_common: Vec<&String> = names.iter().filter(|n| kubectl.contains(n)).collect();
    assert_eq!(ours_common, common, "same order as kubectl --sort-by=.lastTimestamp");
    assert!(common.len() >= 5);
}
