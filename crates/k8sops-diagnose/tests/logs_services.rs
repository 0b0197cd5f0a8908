//! Logs and service checks against the testkit and a real API server.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8sops_diagnose::{check_services, follow_logs, logs, LogOptions, ServiceFinding};
use k8sops_testkit::{DemoCluster, TestServer};
use kube::{api::PostParams, Api};
use serde_json::json;

#[tokio::test]
async fn logs_follow_the_kubectl_flags_and_stream() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let cluster = server.cluster();
    server.append_log("legacy", "debug-shell", "shell", false, "a\nb\nc");
    server.append_log("legacy", "debug-shell", "shell", true, "panic: out of memory");
    assert_eq!(
        logs(&cluster, "legacy", "debug-shell", &LogOptions { tail_lines: Some(2), ..Default::default() })
            .await
            .unwrap(),
        "b\nc\n"
    );
    assert_eq!(
        logs(&cluster, "legacy", "debug-shell", &LogOptions { previous: true, ..Default::default() }).await.unwrap(),
        "panic: out of memory\n"
    );
    let stamped =
        logs(&cluster, "legacy", "debug-shell", &LogOptions { timestamps: true, ..Default::default() }).await.unwrap();
    assert!(
        stamped
            .lines()
            .all(|l| l.split_once(' ').is_some_and(|(ts, _)| ts.parse::<k8s_openapi::jiff::Timestamp>().is_ok())),
        "{stamped}"
    );
    let err =
        logs(&cluster, "legacy", "host-agent", &LogOptions { previous: true, ..Default::default() }).await.unwrap_err();
    assert!(
        matches!(err, k8sops_diagnose::Error::Core(k8sops_core::Error::InvalidInput { .. }))
            && err.to_string().contains("previous terminated container"),
        "{err:?}"
    );
    let err = logs(&cluster, "legacy", "nope", &LogOptions::default()).await.unwrap_err();
    assert!(matches!(err, k8sops_diagnose::Error::Core(ref e) if e.is_not_found()), "{err:?}");

    let mut stream = follow_logs(&cluster, "legacy", "debug-shell", &LogOptions::default()).await.unwrap();
    for want in ["a", "b", "c"] {
        assert_eq!(stream.next().await.unwrap().unwrap(), want);
    }
    server.append_log("legacy", "debug-shell", "shell", false, "d");
    let next = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(next, "d", "a followed log delivers new lines");
}

#[tokio::test]
async fn service_findings_on_the_demo_cluster() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    server
        .insert(&json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-alt", "namespace": "shop"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 9090}]}}))
        .unwrap();
    let report = check_services(&server.cluster(), None).await.unwrap();
    assert!(report.findings.contains(&ServiceFinding::SelectorMatchesNoPod {
        service: "legacy/old-frontend".into(),
        selector: "app=frontend-v1".into()
    }));
    assert!(report.findings.contains(&ServiceFinding::NoReadyEndpoints { service: "legacy/old-frontend".into() }));
    assert!(report
        .findings
        .contains(&ServiceFinding::PortMismatch { service: "shop/web-alt".into(), target_port: "9090".into() }));
    assert!(!report
        .findings
        .iter()
        .any(|f| matches!(f, ServiceFinding::PortMismatch { service, .. } if service == "shop/web")));
    let web = report.services.iter().find(|s| s.namespace == "shop" && s.name == "web").unwrap();
    assert_eq!((web.ready_endpoints, web.selected_pods), (3, Some(3)));
    let np = report.policies.iter().find(|p| p.name == "api-from-web").unwrap();
    assert_eq!(np.pods.len(), 2);
    assert!(np.pods.iter().all(|p| p.starts_with("api-")));
}

#[tokio::test]
async fn service_without_pods_on_a_real_server() {
    let Some(cluster) = k8sops_testkit::e2e::real_cluster().await else { return };
    let ns = k8sops_testkit::e2e::fresh_namespace(&cluster, "svc").await;
    let svcs: Api<Service> = Api::namespaced(cluster.client().clone(), &ns);
    let svc: Service = serde_json::from_value(
        json!({"metadata": {"name": "ghost"}, "spec": {"selector": {"app": "ghost"}, "ports": [{"port": 80}]}}),
    )
    .unwrap();
    svcs.create(&PostParams::default(), &svc).await.unwrap();
    let report = check_services(&cluster, Some(&ns)).await.unwrap();
    let key = format!("{ns}/ghost");
    assert!(report
        .findings
        .contains(&ServiceFinding::SelectorMatchesNoPod { service: key.clone(), selector: "app=ghost".into() }));
    assert!(report.findings.contains(&ServiceFinding::NoReadyEndpoints { service: key }));
}
