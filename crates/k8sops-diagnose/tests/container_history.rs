//! Pod diagnosis reads each container's restarts and last termination, not
//! only the waiting reason of the instant: states as a kubelet writes them
//! between restarts, inserted into the testkit.

use k8sops_diagnose::{diagnose_pods, DiagnoseParams, Problem};
use k8sops_testkit::TestServer;
use serde_json::{json, Value};

fn ago(secs: i64) -> String {
    let t = k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(secs);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn pod(name: &str, phase: &str, statuses: Value, init_statuses: Option<Value>) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "app"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "localhost/busybox:1.35"}]},
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": statuses}});
    if let Some(i) = init_statuses {
        p["spec"]["initContainers"] = json!([{"name": "init", "image": "localhost/busybox:1.35"}]);
        p["status"]["initContainerStatuses"] = i;
    }
    p
}

async fn diagnosed(p: Value) -> Option<k8sops_diagnose::PodDiagnosis> {
    let server = TestServer::start().await.unwrap();
    server.insert(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}})).unwrap();
    server.insert(&p).unwrap();
    diagnose_pods(&server.cluster(), &DiagnoseParams::default()).await.unwrap().pods.into_iter().next()
}

#[tokio::test]
async fn a_crash_looping_container_caught_running_between_restarts_is_diagnosed() {
    let statuses = json!([{"name": "c", "ready": true, "restartCount": 3, "image": "localhost/busybox:1.35", "imageID": "",
        "state": {"running": {"startedAt": ago(2)}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(3), "startedAt": ago(4)}}}]);
    let mut p = pod("crasher", "Running", statuses, None);
    p["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}]);
    let d = diagnosed(p).await.expect("diagnosed although Running and Ready at this instant");
    assert!(matches!(&d.problem, Problem::CrashLoop { restarts: 3, exit_code: Some(1), .. }), "{d:?}");
    assert!(d.next_step.contains("kubectl logs --previous crasher -c c"), "{}", d.next_step);
}

#[tokio::test]
async fn an_oom_killed_container_caught_in_its_error_state_is_diagnosed() {
    let statuses = json!([{"name": "c", "ready": false, "restartCount": 3, "image": "localhost/busybox:1.35", "imageID": "",
        "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": ago(1), "startedAt": ago(2)}},
        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": ago(20), "startedAt": ago(21)}}}]);
    let d = diagnosed(pod("hog", "Running", statuses, None)).await.expect("diagnosed");
    assert!(matches!(&d.problem, Problem::CrashLoop { last_reason: Some(r), .. } if r == "OOMKilled"), "{d:?}");
    assert!(d.cause.contains("OOMKilled"), "{}", d.cause);
}

#[tokio::test]
async fn an_image_that_may_never_be_pulled_is_not_waiting_for_the_kubelet() {
    let statuses = json!([{"name": "c", "ready": false, "restartCount": 0, "image": "localhost/missing:1", "imageID": "",
        "state": {"waiting": {"reason": "ErrImageNeverPull", "message": "Container image \"localhost/missing:1\" is not present with pull policy of Never"}}}]);
    let d = diagnosed(pod("never", "Pending", statuses, None)).await.expect("diagnosed");
    assert!(matches!(&d.problem, Problem::ImagePull { reason, .. } if reason == "ErrImageNeverPull"), "{d:?}");
    assert!(
        d.cause.contains("imagePullPolicy is Never") && !d.cause.contains("waiting for the kubelet"),
        "{}",
        d.cause
    );
}

#[tokio::test]
async fn a_failing_init_container_is_diagnosed() {
    let init = json!([{"name": "init", "ready": false, "restartCount": 2, "image": "localhost/busybox:1.35", "imageID": "",
        "state": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(1), "startedAt": ago(2)}}}]);
    let statuses = json!([{"name": "c", "ready": false, "restartCount": 0, "image": "localhost/busybox:1.35", "imageID": "",
        "state": {"waiting": {"reason": "PodInitializing"}}}]);
    let d = diagnosed(pod("init-fails", "Pending", statuses, Some(init))).await.expect("diagnosed");
    assert!(matches!(&d.problem, Problem::CrashLoop { container, .. } if container == "init"), "{d:?}");
    assert!(d.cause.starts_with("init container init exits (Error, exit code 1)"), "{}", d.cause);
}

#[tokio::test]
async fn a_single_failure_long_ago_is_history_not_a_crash_loop() {
    let statuses = json!([{"name": "c", "ready": true, "restartCount": 1, "image": "localhost/busybox:1.35", "imageID": "",
        "state": {"running": {"startedAt": ago(86_400)}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(86_401), "startedAt": ago(90_000)}}}]);
    let mut p = pod("recovered", "Running", statuses, None);
    p["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}]);
    assert!(diagnosed(p).await.is_none());
}

#[tokio::test]
async fn a_container_killed_for_a_failing_liveness_probe_is_told_apart_from_a_crash() {
    let statuses = json!([{"name": "c", "ready": false, "restartCount": 4, "image": "localhost/busybox:1.35", "imageID": "",
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 137, "reason": "Error", "finishedAt": ago(5), "startedAt": ago(30)}}}]);
    let mut p = pod("dying", "Running", statuses.clone(), None);
    p["spec"]["containers"][0]["livenessProbe"] = json!({"exec": {"command": ["false"]}, "periodSeconds": 1});
    let d = diagnosed(p).await.expect("diagnosed");
    assert!(d.cause.contains("liveness probe fails (exit code 137)"), "{}", d.cause);
    assert!(d.next_step.contains("kubectl describe pod dying"), "{}", d.next_step);
    // The same exit without a liveness probe is a crash of the program itself.
    let d = diagnosed(pod("killed", "Running", statuses, None)).await.expect("diagnosed");
    assert!(d.cause.contains("exits (Error, exit code 137)"), "{}", d.cause);
}
