//! The daily checks on the testkit: for each of them a cluster that passes,
//! one that warns and one that fails, the metrics-missing fallback of the
//! usage check, a forbidden node list, and the demo cluster.
#![cfg(all(feature = "metrics", feature = "diagnose"))]

use k8s_openapi::jiff::Timestamp;
use k8sops::checklist::{
    daily::{NodeStatusCheck, PodHealthCheck, ServiceEndpointsCheck, UsageCheck, WarningEventsCheck},
    Check, CheckResult, Checklist, Finding, Outcome, Status,
};
use k8sops_testkit::{DemoCluster, Fault, TestServer};
use serde_json::{json, Value};

/// An RFC 3339 time `secs` seconds ago.
fn ago(secs: i64) -> String {
    Timestamp::from_second(Timestamp::now().as_second() - secs).unwrap().to_string()
}

async fn run(server: &TestServer, check: impl Check + 'static) -> CheckResult {
    let id = check.id().to_string();
    let report = Checklist::new("test").with(check).run(&server.cluster()).await;
    let result = report.result(&id).unwrap().clone();
    assert!(result.outcome.ran(), "{id} did not run: {:?}", result.outcome);
    result
}

fn find<'a>(result: &'a CheckResult, subject: &str) -> &'a Finding {
    result
        .findings
        .iter()
        .find(|f| f.subject == subject)
        .unwrap_or_else(|| panic!("no finding about {subject}: {:#?}", result.findings))
}

fn summary(result: &CheckResult) -> &Finding {
    result.findings.iter().find(|f| f.subject.is_empty()).expect("a summary finding")
}

// ---------------------------------------------------------------------------
// fixtures

fn node(name: &str, group: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"eks.amazonaws.com/nodegroup": group}, "creationTimestamp": ago(30 * 86_400)},
        "spec": {},
        "status": {
            "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure"},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID"},
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastTransitionTime": ago(86_400)}],
            "nodeInfo": {"kubeletVersion": "v1.32.1", "machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "",
                "osImage": "", "containerRuntimeVersion": "", "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"}}})
}

fn set_condition(node: &mut Value, type_: &str, status: &str, reason: &str, message: &str, since_secs: i64) {
    let conditions = node["status"]["conditions"].as_array_mut().unwrap();
    let c = conditions.iter_mut().find(|c| c["type"] == type_).unwrap();
    *c = json!({"type": type_, "status": status, "reason": reason, "message": message,
        "lastTransitionTime": ago(since_secs), "lastHeartbeatTime": ago(since_secs + 40)});
}

fn running(name: &str, ready: bool, restarts: i32) -> Value {
    json!({"name": name, "image": "app:1", "imageID": "", "ready": ready, "restartCount": restarts, "started": true,
        "state": {"running": {"startedAt": ago(3600)}}})
}

fn pod(ns: &str, name: &str, phase: &str, statuses: Vec<Value>, created_secs_ago: i64) -> Value {
    let all_ready = statuses.iter().all(|s| s["ready"] == true);
    let containers: Vec<Value> = statuses
        .iter()
        .map(|s| json!({"name": s["name"], "image": "app:1", "ports": [{"containerPort": 8080, "name": "http"}]}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}, "creationTimestamp": ago(created_secs_ago)},
        "spec": {"nodeName": "n1", "containers": containers},
        "status": {"phase": phase, "containerStatuses": statuses, "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": if all_ready { "True" } else { "False" }, "lastTransitionTime": ago(created_secs_ago)}]}})
}

fn warning_event(ns: &str, kind: &str, name: &str, reason: &str, message: &str, count: i32, secs_ago: i64) -> Value {
    json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{name}.{reason}.{count}.{secs_ago}").to_lowercase(), "namespace": ns},
        "involvedObject": {"kind": kind, "namespace": ns, "name": name, "apiVersion": "v1"},
        "reason": reason, "message": message, "type": "Warning", "source": {"component": "kubelet"},
        "firstTimestamp": ago(secs_ago + 600), "lastTimestamp": ago(secs_ago), "count": count})
}

// ---------------------------------------------------------------------------
// nodes

#[tokio::test]
async fn nodes_pass_when_every_node_is_ready() {
    let server = TestServer::start().await.unwrap();
    server.insert(&node("n1", "general")).unwrap();
    server.insert(&node("n2", "general")).unwrap();
    let result = run(&server, NodeStatusCheck::default()).await;
    assert_eq!(result.status, Status::Pass, "{:#?}", result.findings);
    assert_eq!(result.findings.len(), 1);
    assert_eq!(summary(&result).summary, "2 nodes, all Ready");
    assert_eq!(summary(&result).evidence, ["Ready: 2"]);
}

#[tokio::test]
async fn nodes_warn_when_no_node_is_registered() {
    let server = TestServer::start().await.unwrap();
    let result = run(&server, NodeStatusCheck::default()).await;
    assert_eq!(result.status, Status::Warn, "{:#?}", result.findings);
    assert_eq!(summary(&result).summary, "no nodes are registered");
}

#[tokio::test]
async fn nodes_warn_for_a_cordoned_node_and_a_pressure_condition() {
    let server = TestServer::start().await.unwrap();
    let mut cordoned = node("cordoned", "general");
    cordoned["spec"] = json!({"unschedulable": true, "taints": [
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": ago(2 * 3600)}]});
    server.insert(&cordoned).unwrap();
    let mut full = node("full", "general");
    set_condition(&mut full, "DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure", 15 * 60);
    server.insert(&full).unwrap();
    let result = run(&server, NodeStatusCheck::default()).await;
    assert_eq!(result.status, Status::Warn, "{:#?}", result.findings);
    let c = find(&result, "node/cordoned");
    assert_eq!((c.status, c.summary.as_str()), (Status::Warn, "cordoned (SchedulingDisabled) for 120m"));
    assert!(c.evidence.contains(&"STATUS Ready,SchedulingDisabled".to_string()), "{c:?}");
    assert_eq!(c.action, "kubectl uncordon cordoned once its maintenance is over, or drain and remove it");
    let d = find(&result, "node/full");
    assert_eq!((d.status, d.summary.as_str()), (Status::Warn, "DiskPressure for 15m"));
    assert!(d.evidence[0].starts_with("DiskPressure=True (KubeletHasDiskPressure)"), "{d:?}");
    // Only the configured conditions warn.
    let ignore_disk = NodeStatusCheck { pressure_conditions: vec!["MemoryPressure".into()], ..Default::default() };
    let result = run(&server, ignore_disk).await;
    assert!(result.findings.iter().all(|f| f.subject != "node/full"), "{:#?}", result.findings);
}

#[tokio::test]
async fn nodes_fail_for_each_not_ready_node_with_reason_and_duration() {
    let server = TestServer::start().await.unwrap();
    server.insert(&node("ok", "general")).unwrap();
    let mut lost = node("lost", "general");
    set_condition(&mut lost, "Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.", 12 * 60);
    server.insert(&lost).unwrap();
    let mut cni = node("cni", "general");
    set_condition(&mut cni, "Ready", "False", "KubeletNotReady", "cni plugin not initialized", 3 * 60);
    server.insert(&cni).unwrap();
    let result = run(&server, NodeStatusCheck::default()).await;
    assert_eq!(result.status, Status::Fail);
    let l = find(&result, "node/lost");
    assert_eq!((l.status, l.summary.as_str()), (Status::Fail, "NotReady for 12m: NodeStatusUnknown"));
    assert_eq!(l.evidence[0], "Ready=Unknown (NodeStatusUnknown) for 12m");
    assert!(l.evidence.contains(&"message: Kubelet stopped posting node status.".to_string()), "{l:?}");
    assert!(l.evidence.contains(&"STATUS NotReady".to_string()), "{l:?}");
    assert!(l.action.starts_with("kubectl describe node lost"), "{l:?}");
    let c = find(&result, "node/cni");
    assert_eq!(c.summary, "NotReady for 3m: KubeletNotReady");
    let s = summary(&result);
    assert_eq!(s.summary, "3 nodes, 1 Ready");
    assert_eq!(s.evidence, ["NotReady: 2", "Ready: 1"]);
}

#[tokio::test]
async fn nodes_warn_for_a_new_node_still_joining_and_fail_once_its_grace_is_over() {
    let server = TestServer::start().await.unwrap();
    server.insert(&node("ok", "general")).unwrap();
    let mut new = node("new", "general");
    new["metadata"]["creationTimestamp"] = json!(ago(90));
    set_condition(&mut new, "Ready", "False", "KubeletNotReady", "cni plugin not initialized", 80);
    server.insert(&new).unwrap();
    let result = run(&server, NodeStatusCheck::default()).await;
    assert_eq!(result.status, Status::Warn, "{:#?}", result.findings);
    let n = find(&result, "node/new");
    assert_eq!((n.status, n.summary.as_str()), (Status::Warn, "joining: created 90s ago, not Ready yet"));
    assert!(n.evidence.contains(&"Ready=False (KubeletNotReady)".to_string()), "{n:?}");
    assert!(n.evidence.contains(&"STATUS NotReady".to_string()), "{n:?}");
    assert_eq!(summary(&result).summary, "2 nodes, 1 Ready");
    // With a shorter grace the same node fails.
    let strict = NodeStatusCheck { not_ready_grace: std::time::Duration::from_secs(60), ..Default::default() };
    let result = run(&server, strict).await;
    let n = find(&result, "node/new");
    assert_eq!((n.status, n.summary.as_str()), (Status::Fail, "NotReady for 80s: KubeletNotReady"));
}

// ---------------------------------------------------------------------------
// pods

#[tokio::test]
async fn pods_pass_when_running_and_ready_or_succeeded() {
    let server = TestServer::start().await.unwrap();
    server.insert(&pod("shop", "web", "Running", vec![running("web", true, 0)], 3600)).unwrap();
    let done = json!({"name": "job", "image": "app:1", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}});
    server.insert(&pod("shop", "migrate", "Succeeded", vec![done], 3600)).unwrap();
    // A pod restarted a few times, at most the threshold, is fine.
    server.insert(&pod("shop", "api", "Running", vec![running("api", true, 5)], 3600)).unwrap();
    // Starting for less than the threshold: not a finding yet.
    let starting = json!({"name": "new", "image": "app:1", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ContainerCreating"}}});
    server.insert(&pod("shop", "new", "Pending", vec![starting], 30)).unwrap();
    let result = run(&server, PodHealthCheck::default()).await;
    assert_eq!(result.status, Status::Pass, "{:#?}", result.findings);
    assert_eq!(result.findings.len(), 1, "{:#?}", result.findings);
    let s = summary(&result);
    assert_eq!(s.summary, "4 pods, 3 Running and ready or Succeeded");
    assert_eq!(s.evidence, ["Completed: 1", "ContainerCreating: 1", "Running: 2"]);
}

#[tokio::test]
async fn pods_warn_for_long_pending_many_restarts_and_a_failed_job_pod() {
    let server = TestServer::start().await.unwrap();
    let mut pending = pod("batch", "big", "Pending", vec![], 10 * 60);
    pending["spec"]["nodeName"] = Value::Null;
    pending["status"]["conditions"] = json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient cpu."}]);
    server.insert(&pending).unwrap();
    server.insert(&pod("shop", "api", "Running", vec![running("api", true, 7)], 3600)).unwrap();
    let mut job_pod = pod(
        "batch",
        "report-x1",
        "Failed",
        vec![json!({"name": "report", "image": "app:1", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 3, "reason": "Error"}}})],
        3600,
    );
    job_pod["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "batch/v1", "kind": "Job", "name": "report", "uid": "u1", "controller": true}]);
    server.insert(&job_pod).unwrap();
    let mut stuck = pod("shop", "old", "Running", vec![running("old", true, 0)], 3600);
    stuck["metadata"]["deletionTimestamp"] = json!(ago(20 * 60));
    stuck["metadata"]["finalizers"] = json!(["example.com/cleanup"]);
    server.insert(&stuck).unwrap();
    let result = run(&server, PodHealthCheck::default()).await;
    assert_eq!(result.status, Status::Warn, "{:#?}", result.findings);
    let t = find(&result, "pod/shop/old");
    assert_eq!((t.status, t.summary.as_str()), (Status::Warn, "stuck Terminating for 20m"));
    assert_eq!(t.evidence[0], "STATUS Terminating, READY 1/1, RESTARTS 0, node n1");
    assert!(t.evidence.contains(&"finalizers: example.com/cleanup".into()), "{t:?}");
    let p = find(&result, "pod/batch/big");
    assert_eq!((p.status, p.summary.as_str()), (Status::Warn, "Pending for 10m: not scheduled"));
    assert!(
        p.evidence.contains(&"PodScheduled=False (Unschedulable): 0/3 nodes are available: 3 Insufficient cpu.".into()),
        "{p:?}"
    );
    let r = find(&result, "pod/shop/api");
    assert_eq!((r.status, r.summary.as_str()), (Status::Warn, "restarted 7 times"));
    assert_eq!(r.evidence[0], "STATUS Running, READY 1/1, RESTARTS 7, node n1");
    let j = find(&result, "pod/batch/report-x1");
    assert_eq!((j.status, j.summary.as_str()), (Status::Warn, "Failed"));
    assert!(j.evidence.contains(&"container report: Error (exit code 3)".into()), "{j:?}");
    // A longer threshold silences the pending pod; a higher one the restarts.
    let relaxed =
        PodHealthCheck { pending_after: std::time::Duration::from_secs(3600), max_restarts: 10, ..Default::default() };
    let result = run(&server, relaxed).await;
    assert!(result.findings.iter().all(|f| f.subject != "pod/batch/big" && f.subject != "pod/shop/api"));
}

#[tokio::test]
async fn pods_fail_for_crash_loops_image_pulls_and_failed_pods_decided_from_fields() {
    let server = TestServer::start().await.unwrap();
    let crash = json!({"name": "app", "image": "app:1", "imageID": "", "ready": false, "restartCount": 4,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(30)}}});
    server.insert(&pod("shop", "worker", "Running", vec![crash], 3600)).unwrap();
    let pull = json!({"name": "web", "image": "web:nope", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"web:nope\""}}});
    server.insert(&pod("shop", "canary", "Pending", vec![pull], 60)).unwrap();
    // Its second container failed, so the pod Failed; kubectl's STATUS still
    // reads "Completed", from the first container.
    let term = |name: &str, reason: &str, code: i32| {
        json!({"name": name, "ready": false, "restartCount": 0, "image": "x", "imageID": "",
            "state": {"terminated": {"reason": reason, "exitCode": code}}})
    };
    let mut half = pod("shop", "half-done", "Failed", vec![term("a", "Completed", 0), term("b", "Error", 1)], 3600);
    half["spec"]["restartPolicy"] = json!("Never");
    server.insert(&half).unwrap();
    // Running and ready again, but its last run was OOMKilled a minute ago:
    // between restarts a crash loop shows only in the last state.
    let mut again = running("app", true, 1);
    again["lastState"] = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": ago(60)}});
    server.insert(&pod("shop", "oom", "Running", vec![again], 3600)).unwrap();
    server.insert(&pod("other", "crash", "Running", vec![running("x", false, 9)], 3600)).unwrap();
    let result = run(&server, PodHealthCheck::default().namespace("shop")).await;
    assert_eq!(result.status, Status::Fail);
    let w = find(&result, "pod/shop/worker");
    assert_eq!(
        (w.status, w.summary.as_str()),
        (Status::Fail, "crash-looping: container app restarted 4 times (last run: Error, exit code 1)")
    );
    assert_eq!(w.evidence[0], "STATUS CrashLoopBackOff, READY 0/1, RESTARTS 4, node n1");
    assert_eq!(w.action, "kubectl logs -n shop worker -c app --previous; kubectl describe pod -n shop worker");
    let c = find(&result, "pod/shop/canary");
    assert_eq!((c.status, c.summary.as_str()), (Status::Fail, "container web cannot start: ImagePullBackOff"));
    let h = find(&result, "pod/shop/half-done");
    assert_eq!((h.status, h.summary.as_str()), (Status::Fail, "Failed"));
    assert_eq!(h.evidence[0], "STATUS Completed, READY 0/2, RESTARTS 0, node n1");
    assert!(h.evidence.contains(&"container b: Error (exit code 1)".into()), "{h:?}");
    // Ready again after one failed run, not backing off: it recovered, which warns.
    let o = find(&result, "pod/shop/oom");
    assert_eq!(
        (o.status, o.summary.as_str()),
        (
            Status::Warn,
            "failed and restarted 60s ago, Running and ready now: container app restarted 1 time \
             (last run: OOMKilled, exit code 137)"
        )
    );
    assert_eq!(o.evidence[0], "STATUS Running, READY 1/1, RESTARTS 1, node n1");
    assert!(o.evidence[1].ends_with("killed for exceeding its memory limit"), "{o:?}");
    // Not ready with the same recent failure: it fails.
    let mut down = running("app", false, 1);
    down["lastState"] = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": ago(60)}});
    server.insert(&pod("shop", "oom-down", "Running", vec![down], 3600)).unwrap();
    assert!(result.findings.iter().all(|f| !f.subject.starts_with("pod/other/")), "namespace filter");
    assert_eq!(summary(&result).summary, "4 pods in namespace shop, 1 Running and ready or Succeeded");
    let result = run(&server, PodHealthCheck::default().namespace("shop")).await;
    let d = find(&result, "pod/shop/oom-down");
    assert_eq!(
        (d.status, d.summary.as_str()),
        (Status::Fail, "crash-looping: container app restarted 1 time (last run: OOMKilled, exit code 137)")
    );
}

#[tokio::test]
async fn pods_warn_for_failed_pods_a_controller_replaced_and_fail_for_bare_ones() {
    let server = TestServer::start().await.unwrap();
    let failed = |name: &str, reason: &str, owner: Option<(&str, &str)>| {
        let mut p = pod("shop", name, "Failed", vec![], 3600);
        p["status"]["reason"] = json!(reason);
        p["status"]["message"] = json!(format!("Pod was terminated: {reason}"));
        if let Some((kind, owner)) = owner {
            p["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": kind, "name": owner,
                "uid": format!("u-{owner}"), "controller": true}]);
        }
        p
    };
    server.insert(&failed("web-abc12", "NodeShutdown", Some(("ReplicaSet", "web-7d9f")))).unwrap();
    server.insert(&failed("agent-x1", "OutOfcpu", Some(("DaemonSet", "agent")))).unwrap();
    server.insert(&failed("bare-shutdown", "Terminated", None)).unwrap();
    server.insert(&failed("bare-evicted", "Evicted", None)).unwrap();
    let result = run(&server, PodHealthCheck::default()).await;
    assert_eq!(result.status, Status::Fail, "{:#?}", result.findings);
    let w = find(&result, "pod/shop/web-abc12");
    assert_eq!((w.status, w.summary.as_str()), (Status::Warn, "Failed: NodeShutdown"));
    assert!(w.evidence.contains(&"owned by ReplicaSet web-7d9f, which replaces it".into()), "{w:?}");
    assert!(w.action.starts_with("its controller replaced it"), "{w:?}");
    let a = find(&result, "pod/shop/agent-x1");
    assert_eq!((a.status, a.summary.as_str()), (Status::Warn, "Failed: OutOfcpu"));
    for (name, reason) in [("bare-shutdown", "Terminated"), ("bare-evicted", "Evicted")] {
        let b = find(&result, &format!("pod/shop/{name}"));
        assert_eq!((b.status, b.summary.clone()), (Status::Fail, format!("Failed: {reason}")));
        assert!(b.evidence.contains(&"no controller owner: nothing replaces it".into()), "{b:?}");
    }
    // Without the bare ones, the replaced pods only warn.
    let server = TestServer::start().await.unwrap();
    server.insert(&failed("web-abc12", "NodeShutdown", Some(("ReplicaSet", "web-7d9f")))).unwrap();
    assert_eq!(run(&server, PodHealthCheck::default()).await.status, Status::Warn);
}

#[tokio::test]
async fn pods_are_read_page_by_page() {
    let server = TestServer::start().await.unwrap();
    let pods = (0..1200).map(|i| pod("bulk", &format!("p{i:04}"), "Running", vec![running("c", true, 0)], 3600));
    server.insert_all(pods).unwrap();
    server.clear_requests();
    let result = run(&server, PodHealthCheck::default()).await;
    assert_eq!(summary(&result).summary, "1200 pods, all Running and ready or Succeeded");
    let lists = server.requests().iter().filter(|r| r.path.ends_with("/api/v1/pods")).count();
    assert_eq!(lists, 3, "500 per page");
}

// ---------------------------------------------------------------------------
// services

fn service(ns: &str, name: &str, selector: Option<Value>, target_port: Value) -> Value {
    let mut spec = json!({"type": "ClusterIP", "clusterIP": "10.100.0.10",
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": target_port}]});
    if let Some(s) = selector {
        spec["selector"] = s;
    }
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

fn endpoints(ns: &str, name: &str, ready_ips: &[&str]) -> Value {
    let addresses: Vec<Value> = ready_ips.iter().map(|ip| json!({"ip": ip})).collect();
    let subsets = if addresses.is_empty() {
        json!([])
    } else {
        json!([{"addresses": addresses, "ports": [{"port": 8080, "protocol": "TCP"}]}])
    };
    json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns}, "subsets": subsets})
}

#[tokio::test]
async fn services_pass_with_ready_endpoints_and_ignore_services_without_selector() {
    let server = TestServer::start().await.unwrap();
    server.insert(&pod("shop", "web", "Running", vec![running("web", true, 0)], 3600)).unwrap();
    server.insert(&service("shop", "web", Some(json!({"app": "web"})), json!(8080))).unwrap();
    server.insert(&endpoints("shop", "web", &["10.0.1.7"])).unwrap();
    // Endpoints managed by hand, and an ExternalName: no selector, not judged.
    server.insert(&service("shop", "db", None, json!(5432))).unwrap();
    server
        .insert(&json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext", "namespace": "shop"},
            "spec": {"type": "ExternalName", "externalName": "example.com"}}))
        .unwrap();
    // (the testkit's default/kubernetes Service has no selector either)
    let result = run(&server, ServiceEndpointsCheck { namespace: Some("shop".into()) }).await;
    assert_eq!(result.status, Status::Pass, "{:#?}", result.findings);
    let s = summary(&result);
    assert_eq!(s.summary, "1 Services with a selector, all with ready endpoints");
    assert_eq!(s.evidence[0], "2 Services without a selector (endpoints managed by hand, ExternalName) are not judged");
}

#[tokio::test]
async fn services_warn_for_a_target_port_no_container_declares() {
    let server = TestServer::start().await.unwrap();
    server.insert(&pod("shop", "web", "Running", vec![running("web", true, 0)], 3600)).unwrap();
    server.insert(&service("shop", "web", Some(json!({"app": "web"})), json!(9090))).unwrap();
    server.insert(&endpoints("shop", "web", &["10.0.1.7"])).unwrap();
    let result = run(&server, ServiceEndpointsCheck::default()).await;
    assert_eq!(result.status, Status::Warn, "{:#?}", result.findings);
    let f = find(&result, "service/shop/web");
    assert_eq!(f.summary, "targetPort 9090 not declared by any selected container");
    assert_eq!(f.evidence[0], "type ClusterIP, ports 80/TCP->9090, 1 ready endpoints, 1 pods selected");
}

#[tokio::test]
async fn services_fail_without_ready_endpoints_or_matching_pods() {
    let server = TestServer::start().await.unwrap();
    server.insert(&pod("shop", "api", "Running", vec![running("api", false, 0)], 3600)).unwrap();
    server.insert(&service("shop", "api", Some(json!({"app": "api"})), json!("http"))).unwrap();
    server.insert(&endpoints("shop", "api", &[])).unwrap();
    server.insert(&service("shop", "old", Some(json!({"app": "ghost"})), json!(8080))).unwrap();
    let result = run(&server, ServiceEndpointsCheck { namespace: Some("shop".into()) }).await;
    assert_eq!(result.status, Status::Fail);
    let a = find(&result, "service/shop/api");
    assert_eq!((a.status, a.summary.as_str()), (Status::Fail, "no ready endpoints (1 pods selected, none ready)"));
    let o = find(&result, "service/shop/old");
    assert_eq!(o.status, Status::Fail);
    assert!(o.summary.contains("matches no pod"), "{o:?}");
    assert!(o.action.starts_with("kubectl get pods -n shop -l app=ghost"), "{o:?}");
    assert_eq!(summary(&result).summary, "0 of 2 Services with a selector look healthy");
}

// ---------------------------------------------------------------------------
// usage

fn requesting_pod(ns: &str, name: &str, node: &str, cpu: &str, memory: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "app:1",
            "resources": {"requests": {"cpu": cpu, "memory": memory}}}]},
        "status": {"phase": "Running"}})
}

#[tokio::test]
async fn usage_passes_below_the_thresholds_and_charts_each_node_group() {
    let server = TestServer::start().await.unwrap();
    server.insert(&node("g1", "general")).unwrap();
    server.insert(&node("g2", "general")).unwrap();
    server.insert(&node("s1", "system")).unwrap();
    server.set_node_metrics("g1", "1", "4Gi").unwrap();
    server.set_node_metrics("g2", "2500m", "6Gi").unwrap();
    server.set_node_metrics("s1", "500m", "2Gi").unwrap();
    server.insert(&requesting_pod("shop", "web", "g1", "3", "1Gi")).unwrap();
    let result = run(&server, UsageCheck::default()).await;
    assert_eq!(result.status, Status::Pass, "{:#?}", result.findings);
    assert_eq!(summary(&result).summary, "3 nodes measured; busiest CPU 62% on g2, busiest memory 38% on g2");
    assert_eq!(result.charts.len(), 2);
    let cpu = &result.charts[0];
    assert_eq!((cpu.title.as_str(), cpu.unit.as_str()), ("CPU per node group", "cores"));
    let bars: Vec<(&str, f64, f64)> = cpu.bars.iter().map(|b| (b.label.as_str(), b.used, b.capacity)).collect();
    assert_eq!(bars, [("general", 3.5, 8.0), ("system", 0.5, 4.0)], "usage, not the 3 cores requested");
    let mem = &result.charts[1];
    assert_eq!((mem.title.as_str(), mem.unit.as_str()), ("Memory per node group", "GiB"));
    let bars: Vec<(&str, f64, f64)> = mem.bars.iter().map(|b| (b.label.as_str(), b.used, b.capacity)).collect();
    assert_eq!(bars, [("general", 10.0, 32.0), ("system", 2.0, 16.0)]);
}

#[tokio::test]
async fn usage_warns_at_the_warn_threshold_and_for_nodes_without_metrics() {
    let server = TestServer::start().await.unwrap();
    server.insert(&node("busy", "general")).unwrap();
    server.insert(&node("new", "general")).unwrap();
    server.set_node_metrics("busy", "3400m", "4Gi").unwrap();
    let result = run(&server, UsageCheck::default()).await;
    assert_eq!(result.status, Status::Warn, "{:#?}", result.findings);
    let b = find(&result, "node/busy");
    assert_eq!((b.status, b.summary.as_str()), (Status::Warn, "CPU use at 85% of allocatable"));
    assert_eq!(b.evidence[0], "cpu: 3.40 of 4.00 cores allocatable (85%)");
    let missing = result.findings.iter().find(|f| f.summary == "no metrics for 1 node(s)").unwrap();
    assert_eq!(missing.evidence, ["nodes without a sample: new"]);
    assert_eq!(missing.status, Status::Warn);
    // Thresholds are the caller's; the node without metrics alone still warns.
    let result = run(&server, UsageCheck { warn_percent: 86.0, fail_percent: 95.0 }).await;
    assert!(result.findings.iter().all(|f| f.subject != "node/busy"), "{:#?}", result.findings);
    assert_eq!(result.status, Status::Warn, "{:#?}", result.findings);
}

#[tokio::test]
async fn usage_fails_at_the_fail_threshold() {
    let server = TestServer::start().await.unwrap();
    server.insert(&node("full", "general")).unwrap();
    server.set_node_metrics("full", "1", "15Gi").unwrap();
    let result = run(&server, UsageCheck::default()).await;
    assert_eq!(result.status, Status::Fail);
    let f = find(&result, "node/full");
    assert_eq!((f.status, f.summary.as_str()), (Status::Fail, "memory use at 94% of allocatable"));
    assert_eq!(f.evidence[1], "memory: 15.00 of 16.00 GiB allocatable (94%)");
}

#[tokio::test]
async fn usage_without_metrics_api_compares_requests_and_says_so() {
    let server = TestServer::builder().metrics_api(false).start().await.unwrap();
    server.insert(&node("g1", "general")).unwrap();
    server.insert(&node("g2", "general")).unwrap();
    server.insert(&requesting_pod("shop", "a", "g1", "3600m", "2Gi")).unwrap();
    server.insert(&requesting_pod("shop", "b", "g2", "500m", "8Gi")).unwrap();
    let result = run(&server, UsageCheck::default()).await;
    assert_eq!(result.status, Status::Warn, "requests never fail: {:#?}", result.findings);
    let missing = result.findings.iter().find(|f| f.subject.is_empty() && f.status == Status::Warn).unwrap();
    assert_eq!(missing.summary, "metrics.k8s.io is not available: comparing requests, not usage");
    assert!(missing.action.starts_with("install metrics-server"), "{missing:?}");
    let g1 = find(&result, "node/g1");
    assert_eq!((g1.status, g1.summary.as_str()), (Status::Warn, "CPU requests at 90% of allocatable"));
    assert!(result.findings.iter().all(|f| f.subject != "node/g2"), "50% memory requests is fine");
    let cpu = &result.charts[0];
    assert_eq!(cpu.title, "CPU per node group (requests, no metrics)");
    assert_eq!((cpu.bars[0].label.as_str(), cpu.bars[0].used, cpu.bars[0].capacity), ("general", 4.1, 8.0));
    assert_eq!((result.charts[1].bars[0].used, result.charts[1].bars[0].capacity), (10.0, 32.0));
}

// ---------------------------------------------------------------------------
// events

#[tokio::test]
async fn events_pass_without_recent_warnings() {
    let server = TestServer::start().await.unwrap();
    server
        .insert(&warning_event("shop", "Pod", "web", "BackOff", "Back-off restarting failed container", 3, 2 * 3600))
        .unwrap();
    let mut normal = warning_event("shop", "Pod", "web", "Pulled", "Successfully pulled image", 1, 60);
    normal["type"] = json!("Normal");
    server.insert(&normal).unwrap();
    let result = run(&server, WarningEventsCheck::default()).await;
    assert_eq!(result.status, Status::Pass, "{:#?}", result.findings);
    assert_eq!(result.findings.len(), 1);
    assert_eq!(result.findings[0].summary, "no Warning events in the last 1h");
}

#[tokio::test]
async fn events_warn_per_reason_and_object_with_count_and_last_message() {
    let server = TestServer::start().await.unwrap();
    server.insert(&warning_event("shop", "Pod", "web", "Unhealthy", "Readiness probe failed: 503", 2, 600)).unwrap();
    server
        .insert(&warning_event("shop", "Pod", "web", "Unhealthy", "Readiness probe failed: timeout", 3, 120))
        .unwrap();
    server
        .insert(&warning_event("shop", "Pod", "batch", "FailedScheduling", "0/3 nodes are available", 1, 300))
        .unwrap();
    let result = run(&server, WarningEventsCheck::default()).await;
    assert_eq!(result.status, Status::Warn, "{:#?}", result.findings);
    let w = find(&result, "pod/shop/web");
    assert_eq!(
        (w.status, w.summary.as_str()),
        (Status::Warn, "Unhealthy x5 in the last 1h: Readiness probe failed: timeout")
    );
    assert_eq!(w.evidence[0], "Unhealthy: 5 time(s) in 2 event object(s)");
    assert_eq!(w.evidence[1], "last seen 2m ago");
    assert_eq!(w.evidence[2], "first seen 20m ago");
    assert_eq!(w.action, "kubectl describe pod -n shop web");
    assert_eq!(find(&result, "pod/shop/batch").status, Status::Warn, "FailedScheduling alone only warns");
    assert_eq!(summary(&result).summary, "3 Warning events in the last 1h, about 2 (reason, object) pairs");
}

#[tokio::test]
async fn events_fail_for_a_fail_reason_or_a_count_at_the_limit() {
    let server = TestServer::start().await.unwrap();
    server
        .insert(&warning_event(
            "shop",
            "Pod",
            "db-0",
            "FailedMount",
            "MountVolume.SetUp failed for volume \"data\"",
            1,
            60,
        ))
        .unwrap();
    server.insert(&warning_event("shop", "Pod", "web", "Unhealthy", "Liveness probe failed", 10, 60)).unwrap();
    server
        .insert(&warning_event("default", "Node", "n1", "FreeDiskSpaceFailed", "failed to free 2GiB", 1, 60))
        .unwrap();
    let result = run(&server, WarningEventsCheck::default()).await;
    assert_eq!(result.status, Status::Fail);
    let m = find(&result, "pod/shop/db-0");
    assert_eq!(
        (m.status, m.summary.as_str()),
        (Status::Fail, "FailedMount x1 in the last 1h: MountVolume.SetUp failed for volume \"data\"")
    );
    assert_eq!(find(&result, "pod/shop/web").status, Status::Fail, "10 events reach fail_count");
    let n = find(&result, "node/n1");
    assert_eq!((n.status, n.action.as_str()), (Status::Warn, "kubectl describe node n1"));
    // The limits are the caller's.
    let lenient = WarningEventsCheck { fail_count: 11, fail_reasons: vec![], ..Default::default() };
    let result = run(&server, lenient).await;
    assert_eq!(result.status, Status::Warn, "{:#?}", result.findings);
}

#[tokio::test]
async fn events_count_only_the_last_occurrence_of_a_series_that_started_before_the_window() {
    let server = TestServer::start().await.unwrap();
    // 500 repeats since three days ago, the last one a minute ago: one is known
    // to be in the last hour, so it warns, below fail_count.
    let mut old = warning_event("shop", "Pod", "web", "Unhealthy", "Readiness probe failed: 503", 500, 60);
    old["firstTimestamp"] = json!(ago(3 * 86_400));
    server.insert(&old).unwrap();
    // An events.k8s.io series: eventTime is its start, series.count its repeats.
    server
        .insert(&json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "api.probe", "namespace": "shop"},
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "api", "apiVersion": "v1"},
            "reason": "Unhealthy", "message": "Liveness probe failed", "type": "Warning",
            "reportingComponent": "kubelet", "reportingInstance": "n1", "action": "Probe",
            "eventTime": format!("{}", Timestamp::from_second(Timestamp::now().as_second() - 2 * 3600).unwrap()
                .strftime("%Y-%m-%dT%H:%M:%S.000000Z")),
            "series": {"count": 40, "lastObservedTime": Timestamp::from_second(Timestamp::now().as_second() - 120).unwrap()
                .strftime("%Y-%m-%dT%H:%M:%S.000000Z").to_string()}}))
        .unwrap();
    // Started inside the window: all of its 12 count, which fails.
    server.insert(&warning_event("shop", "Pod", "worker", "Unhealthy", "Liveness probe failed", 12, 60)).unwrap();
    let result = run(&server, WarningEventsCheck::default()).await;
    assert_eq!(result.status, Status::Fail, "{:#?}", result.findings);
    let w = find(&result, "pod/shop/web");
    assert_eq!(
        (w.status, w.summary.as_str()),
        (Status::Warn, "Unhealthy x500 since 3d ago (1 in the last 1h): Readiness probe failed: 503")
    );
    assert!(w.evidence.iter().any(|e| e.starts_with("1 occurrence(s) known to be in the last 1h")), "{w:?}");
    let a = find(&result, "pod/shop/api");
    assert_eq!(
        (a.status, a.summary.as_str()),
        (Status::Warn, "Unhealthy x40 since 120m ago (1 in the last 1h): Liveness probe failed")
    );
    let k = find(&result, "pod/shop/worker");
    assert_eq!((k.status, k.summary.as_str()), (Status::Fail, "Unhealthy x12 in the last 1h: Liveness probe failed"));
    // A window that holds the series' start counts all of it.
    let day = WarningEventsCheck { since: std::time::Duration::from_secs(86_400), ..Default::default() };
    let result = run(&server, day).await;
    let a = find(&result, "pod/shop/api");
    assert_eq!((a.status, a.summary.as_str()), (Status::Fail, "Unhealthy x40 in the last 24h: Liveness probe failed"));
}

// ---------------------------------------------------------------------------
// the checklist

#[tokio::test]
async fn a_forbidden_node_list_is_reported_and_the_other_checks_still_run() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    server.add_fault(Fault::on("GET", "/api/v1/nodes").status(403));
    let report = Checklist::daily().run(&server.cluster()).await;
    let nodes = report.result("nodes").unwrap();
    assert!(matches!(nodes.outcome, Outcome::Forbidden { .. }), "{:?}", nodes.outcome);
    assert_eq!(nodes.status, Status::Warn);
    assert!(nodes.findings[0].summary.starts_with("not checked: forbidden"), "{:?}", nodes.findings);
    // usage lists nodes too.
    assert!(matches!(report.result("usage").unwrap().outcome, Outcome::Forbidden { .. }));
    for (id, status) in [("pods", Status::Fail), ("services", Status::Fail), ("events", Status::Warn)] {
        let r = report.result(id).unwrap();
        assert_eq!(r.outcome, Outcome::Ran, "{id}");
        assert_eq!(r.status, status, "{id}: the demo has problems to find: {:#?}", r.findings);
    }
}

#[tokio::test]
async fn the_daily_checklist_on_the_demo_cluster_finds_its_problems() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let report = Checklist::daily().run(&server.cluster()).await;
    let ids: Vec<&str> = report.results.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["nodes", "pods", "services", "usage", "events"]);
    assert!(report.results.iter().all(|r| r.outcome.ran()), "{:#?}", report.results);
    let nodes = report.result("nodes").unwrap();
    assert_eq!(nodes.findings.iter().filter(|f| f.status == Status::Fail).count(), 1, "one NotReady node");
    assert_eq!(nodes.findings.iter().filter(|f| f.summary.starts_with("cordoned")).count(), 1, "one cordoned node");
    let pods = report.result("pods").unwrap();
    assert!(pods.findings.iter().any(|f| f.status == Status::Fail
        && f.subject.starts_with("pod/legacy/report-worker")
        && f.summary.contains("OOMKilled")));
    assert!(pods.findings.iter().any(|f| f.status == Status::Fail && f.summary.contains("ImagePullBackOff")));
    let services = report.result("services").unwrap();
    assert_eq!(find(services, "service/legacy/old-frontend").status, Status::Fail);
    let usage = report.result("usage").unwrap();
    let groups: Vec<&str> = usage.charts[0].bars.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(groups, ["general", "spot", "system"]);
    assert!(usage.charts.iter().flat_map(|c| &c.bars).all(|b| b.used > 0.0 && b.capacity > 0.0));
    let events = report.result("events").unwrap();
    assert!(events.findings.iter().any(|f| f.summary.starts_with("FailedScheduling")), "{:#?}", events.findings);
    assert_eq!(report.status(), Status::Fail);
}

// ---------------------------------------------------------------------------
// a real API server

/// On the real API server, a user without rights gets a Forbidden result per
/// check (kubectl auth can-i agrees), and a check runs once its reads are
/// granted, while the others stay Forbidden.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_real_api_server_a_check_is_forbidden_until_its_reads_are_granted() {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    use kube::{api::PostParams, Api};

    let Some(real) = k8sops_testkit::e2e::real_oracle().await else { return };
    let user_kubeconfig = std::env::var_os("K8SOPS_E2E_USER_KUBECONFIG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| real.kubeconfig.with_file_name("user.kubeconfig"));
    if !user_kubeconfig.exists() {
        k8sops_testkit::e2e::skip_or_fail(&format!(
            "{} does not exist (../shared/k8s/start.sh writes it)",
            user_kubeconfig.display()
        ));
        return;
    }
    let user = k8sops::Cluster::from_kubeconfig(&user_kubeconfig, None).await.unwrap();
    let ns = k8sops_testkit::e2e::fresh_namespace(&real.cluster, "daily-rbac").await;
    let can_i = |what: &'static str| {
        let (kubeconfig, ns) = (user_kubeconfig.clone(), ns.clone());
        async move {
            let (_, out, _) =
                k8sops_testkit::e2e::kubectl(&kubeconfig, &["auth", "can-i", "list", what, "-n", &ns]).await;
            out.trim().to_string()
        }
    };
    assert_eq!(can_i("pods").await, "no");
    assert_eq!(can_i("nodes").await, "no");
    let checklist =
        Checklist::new("x").with(NodeStatusCheck::default()).with(PodHealthCheck::default().namespace(ns.clone()));
    let report = checklist.run(&user).await;
    for id in ["nodes", "pods"] {
        let r = report.result(id).unwrap();
        assert!(matches!(r.outcome, Outcome::Forbidden { .. }), "{id}: {:?}", r.outcome);
    }

    let role: Role = serde_json::from_value(json!({"metadata": {"name": "pod-reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]}))
    .unwrap();
    Api::<Role>::namespaced(real.cluster.client().clone(), &ns).create(&PostParams::default(), &role).await.unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({"metadata": {"name": "pod-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "test-user"}]}))
    .unwrap();
    Api::<RoleBinding>::namespaced(real.cluster.client().clone(), &ns)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    // The authorizer sees new bindings through its informer: wait for kubectl to agree.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while can_i("pods").await != "yes" {
        assert!(std::time::Instant::now() < deadline, "kubectl auth can-i list pods never said yes");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let report = checklist.run(&user).await;
    let pods = report.result("pods").unwrap();
    assert_eq!(pods.outcome, Outcome::Ran);
    assert_eq!(pods.status, Status::Pass);
    assert_eq!(pods.findings[0].summary, format!("0 pods in namespace {ns}, all Running and ready or Succeeded"));
    assert!(matches!(report.result("nodes").unwrap().outcome, Outcome::Forbidden { .. }));
}
