//! Events read as kubectl reads them: `--sort-by=.lastTimestamp` order (no
//! `lastTimestamp` first), `series` counts and times, an unknown age for an
//! event without any time, and events matched to a pod by UID.

use k8sops_diagnose::{diagnose_pods, events, events::EventTable, DiagnoseParams, EventParams, Problem};
use k8sops_testkit::TestServer;
use serde_json::{json, Value};

fn event(ns: &str, name: &str, pod: &str, pod_uid: &str, extra: Value) -> Value {
    let mut e = json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": "2025-06-01T00:00:00Z"},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod, "uid": pod_uid, "apiVersion": "v1"},
        "reason": "Test", "message": name, "type": "Normal", "source": {"component": "kubelet"}});
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_without_last_timestamp_sort_first_like_kubectl() {
    let server = TestServer::start().await.unwrap();
    server.insert(&event("ev", "b-late", "p", "u", json!({"lastTimestamp": "2025-06-01T00:10:00Z"}))).unwrap();
    server.insert(&event("ev", "c-early", "p", "u", json!({"lastTimestamp": "2025-06-01T00:01:00Z"}))).unwrap();
    // Written through events.k8s.io: eventTime and series, no lastTimestamp.
    server
        .insert(&event(
            "ev",
            "z-new-api",
            "p",
            "u",
            json!({"eventTime": "2025-06-01T00:00:05.000000Z", "reportingComponent": "kubelet", "reportingInstance": "n1",
                "series": {"count": 9, "lastObservedTime": "2025-06-01T00:20:00.000000Z"}}),
        ))
        .unwrap();
    let ours: Vec<String> =
        events(&server.cluster(), &EventParams { namespace: Some("ev".into()), ..Default::default() })
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
    assert_eq!(ours, ["z-new-api", "c-early", "b-late"]);
    let (ok, out, err) = server.kubectl(&["get", "events", "-n", "ev", "--sort-by=.lastTimestamp", "-o", "name"]).await;
    assert!(ok, "{err}");
    let kubectl: Vec<&str> = out.lines().map(|l| l.trim_start_matches("event/")).collect();
    assert_eq!(ours, kubectl);
}

#[tokio::test]
async fn series_count_and_last_observed_time_count() {
    let server = TestServer::start().await.unwrap();
    server
        .insert(&event(
            "ev",
            "repeated",
            "p",
            "u",
            json!({"count": 2, "firstTimestamp": "2025-06-01T00:00:00Z", "lastTimestamp": "2025-06-01T00:01:00Z",
                "series": {"count": 40, "lastObservedTime": "2025-06-01T00:30:00.000000Z"}}),
        ))
        .unwrap();
    let list =
        events(&server.cluster(), &EventParams { namespace: Some("ev".into()), ..Default::default() }).await.unwrap();
    assert_eq!(list[0].count, 40);
    assert_eq!(list[0].last_seen, Some("2025-06-01T00:30:00Z".parse().unwrap()));
}

#[tokio::test]
async fn an_event_without_any_timestamp_has_an_unknown_age() {
    let server = TestServer::start().await.unwrap();
    server.insert(&event("ev", "timeless", "p", "u", json!({}))).unwrap();
    let list =
        events(&server.cluster(), &EventParams { namespace: Some("ev".into()), ..Default::default() }).await.unwrap();
    assert_eq!(list[0].last_seen, None, "its creation time is not when it happened");
    let table = EventTable(&list).to_string();
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..2], ["ev", "<unknown>"], "{table}");
}

#[tokio::test]
async fn a_pod_reusing_a_name_does_not_inherit_its_predecessors_events() {
    let server = TestServer::start().await.unwrap();
    let pod = server
        .insert(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db-0", "namespace": "data"},
            "spec": {"containers": [{"name": "db", "image": "postgres"}]},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient memory."}]}}))
        .unwrap();
    let uid = pod["metadata"]["uid"].as_str().unwrap().to_string();
    // The StatefulSet's previous db-0, deleted: a newer event, about another pod.
    server
        .insert(&event(
            "data",
            "db-0.old",
            "db-0",
            "uid-of-the-deleted-db-0",
            json!({"reason": "FailedScheduling", "type": "Warning", "lastTimestamp": "2025-06-01T00:10:00Z",
                "message": "0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: db}."}),
        ))
        .unwrap();
    server
        .insert(&event(
            "data",
            "db-0.new",
            "db-0",
            &uid,
            json!({"reason": "FailedScheduling", "type": "Warning", "lastTimestamp": "2025-06-01T00:05:00Z",
                "message": "0/3 nodes are available: 3 Insufficient memory."}),
        ))
        .unwrap();
    let found =
        diagnose_pods(&server.cluster(), &DiagnoseParams { namespace: Some("data".into()), ..Default::default() })
            .await
            .unwrap()
            .pods;
    match &found[0].problem {
        Problem::Unschedulable { message } => assert_eq!(message, "0/3 nodes are available: 3 Insufficient memory."),
        p => panic!("expected Unschedulable, got {p:?}"),
    }
    assert!(found[0].cause.contains("enough free CPU or memory"), "{}", found[0].cause);
}
