//! Pod diagnosis from states a real kubelet made (`../shared/k8s/node/`):
//! six broken pods, each diagnosed with its cause and next step, checked
//! against what `kubectl get pods` prints for the same pods on the same
//! server. The states change by themselves (restarts, back-off), so the test
//! polls until every cause has been seen, with a deadline.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8sops_diagnose::{diagnose_pods, DiagnoseParams, Problem};
use k8sops_testkit::e2e;
use kube::{api::PostParams, Api};
use serde_json::{json, Value};

fn busybox(name: &str, command: &str) -> Value {
    json!({"name": name, "image": "localhost/busybox:1.35", "imagePullPolicy": "Never", "command": ["sh", "-c", command]})
}

fn pod(name: &str, spec: Value) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_pods_names_each_cause_the_kubelet_reports() {
    let Some(node) = e2e::real_node().await else { return };
    let ns = e2e::fresh_namespace(&node.cluster, "diag").await;
    let api: Api<Pod> = Api::namespaced(node.cluster.client().clone(), &ns);
    let mut oom = busybox("c", "head -c 200m /dev/zero | tail");
    oom["resources"] = json!({"limits": {"memory": "16Mi"}});
    let mut probe = busybox("c", "sleep 3600");
    probe["readinessProbe"] = json!({"exec": {"command": ["false"]}, "periodSeconds": 1});
    let mut huge = busybox("c", "sleep 3600");
    huge["resources"] = json!({"requests": {"cpu": "1000"}});
    let pods = [
        ("crash", json!({"containers": [busybox("c", "echo boom; exit 1")]})),
        ("oom", json!({"containers": [oom]})),
        ("never", json!({"containers": [{"name": "c", "image": "localhost/missing:1", "imagePullPolicy": "Never"}]})),
        ("unready", json!({"containers": [probe]})),
        ("init", json!({"initContainers": [busybox("init", "exit 1")], "containers": [busybox("c", "sleep 3600")]})),
        ("huge", json!({"containers": [huge]})),
    ];
    for (name, spec) in pods {
        api.create(&PostParams::default(), &pod(name, spec)).await.unwrap();
    }
    let params = DiagnoseParams { namespace: Some(ns.clone()), ..Default::default() };
    let deadline = Instant::now() + Duration::from_secs(180);
    let want = ["crash", "oom", "never", "unready", "init", "huge"];
    let found = loop {
        let found = diagnose_pods(&node.cluster, &params).await.unwrap().pods;
        let seen = |n: &str, ok: &dyn Fn(&Problem) -> bool| {
            found.iter().any(|d| d.pod == format!("{ns}/{n}") && ok(&d.problem))
        };
        let all = seen("crash", &|p| matches!(p, Problem::CrashLoop { restarts, .. } if *restarts >= 1))
            && seen("oom", &|p| matches!(p, Problem::CrashLoop { last_reason: Some(r), .. } if r == "OOMKilled"))
            && seen("never", &|p| matches!(p, Problem::ImagePull { reason, .. } if reason == "ErrImageNeverPull"))
            && seen("unready", &|p| matches!(p, Problem::NotReady { .. }))
            && seen("init", &|p| matches!(p, Problem::CrashLoop { container, .. } if container == "init"))
            && seen("huge", &|p| matches!(p, Problem::Unschedulable { .. }))
            // While the kubelet replaces the crash-looping container, the
            // previous one can be gone ("unable to retrieve container logs
            // for ..."; kubectl prints the same): wait for a settled answer.
            && found.iter().any(|d| {
                d.pod == format!("{ns}/crash") && d.previous_logs.as_deref().is_some_and(|l| l.contains("boom"))
            });
        if all {
            break found;
        }
        assert!(Instant::now() < deadline, "not every cause diagnosed within 180 s: {found:#?}");
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    // The oracle: what kubectl prints for the same pods.
    let out = node.kubectl_ok(&["get", "pods", "-n", &ns, "--no-headers"]).await;
    let kubectl: std::collections::HashMap<&str, Vec<&str>> = out
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            (c[0], c)
        })
        .collect();
    for name in want {
        let row = &kubectl[name];
        let d = found.iter().find(|d| d.pod == format!("{ns}/{name}")).unwrap();
        println!("{name}: kubectl {row:?}; k8sops: {} -> {}", d.cause, d.next_step);
        match name {
            "crash" | "oom" => assert!(row[3].parse::<i32>().unwrap() >= 1, "kubectl shows restarts: {row:?}"),
            "never" => assert_eq!(row[2], "ErrImageNeverPull"),
            "unready" => assert_eq!((row[1], row[2]), ("0/1", "Running")),
            "init" => assert!(row[2].starts_with("Init:"), "{row:?}"),
            "huge" => assert_eq!(row[2], "Pending"),
            _ => unreachable!(),
        }
        assert!(!d.next_step.is_empty());
    }
    // The crash loop's finding quotes what the previous run printed (`kubectl logs --previous`).
    let crash = found.iter().find(|d| d.pod.ends_with("/crash")).unwrap();
    let previous = loop {
        let (ok, out, err) = node.kubectl(&["logs", "-n", &ns, "crash", "--previous"]).await;
        let raced = e2e::kubelet_replacing_container(&out) || e2e::kubelet_replacing_container(&err);
        if raced && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        assert!(ok, "kubectl logs --previous: {err}");
        break out;
    };
    assert_eq!(crash.previous_logs.as_deref(), Some(previous.as_str()));
    assert!(previous.contains("boom") && crash.to_string().contains("    boom"), "{crash}");
    let huge = found.iter().find(|d| d.pod.ends_with("/huge")).unwrap();
    assert!(huge.cause.contains("Insufficient cpu") || huge.cause.contains("cpu"), "{}", huge.cause);
}
