//! Cleanup deletes only the objects it listed: a pod recreated under the same
//! name (new UID) or changed (new resourceVersion) between the list and the
//! delete is left alone and reported as skipped.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8sops_metrics::{cleanup, CleanupParams, CleanupReport};
use k8sops_testkit::{DemoCluster, Fault, TestServer};
use kube::{
    api::{DeleteParams, ListParams, Patch, PatchParams},
    Api,
};

/// The first pod a dry run would delete: (namespace, name).
fn first_pod(plan: &CleanupReport) -> (String, String) {
    let shown = plan.pods.first().expect("the demo cluster has finished pods");
    let object = shown.split(' ').next().unwrap();
    let (ns, name) = object.split_once('/').unwrap();
    (ns.to_string(), name.to_string())
}

/// Deletes the pod and stores a new one under the same name and phase (new UID).
async fn recreate(server: &TestServer, ns: &str, name: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(server.client(), ns);
    let old = pods.get(name).await.unwrap();
    // A collection delete by name, so a fault on the pod's own path does not match it.
    pods.delete_collection(&DeleteParams::default(), &ListParams::default().fields(&format!("metadata.name={name}")))
        .await
        .unwrap();
    assert!(pods.get_opt(name).await.unwrap().is_none(), "the old pod is gone");
    let mut again = serde_json::to_value(&old).unwrap();
    let meta = again["metadata"].as_object_mut().unwrap();
    meta.remove("uid");
    meta.remove("resourceVersion");
    let stored = server.insert(&again).unwrap();
    let uid = stored["metadata"]["uid"].as_str().unwrap().to_string();
    assert_ne!(Some(uid.as_str()), old.metadata.uid.as_deref(), "the new pod has a new UID");
    uid
}

#[tokio::test]
async fn cleanup_never_deletes_a_pod_recreated_under_the_same_name() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let cluster = server.cluster();

    let plan = cleanup(&cluster, &CleanupParams { dry_run: true, ..Default::default() }).await.unwrap();
    assert!(plan.pods.len() >= 2, "{plan}");
    let (ns, name) = first_pod(&plan);
    let new_uid = recreate(&server, &ns, &name).await;

    let done = plan.delete_listed(&cluster).await.unwrap();
    assert!(!done.dry_run);
    assert!(done.pods.iter().all(|p| !p.starts_with(&format!("{ns}/{name} "))), "{done}");
    assert_eq!(done.pods.len(), plan.pods.len() - 1, "the other listed pods are deleted: {done}");
    assert_eq!(done.skipped.len(), 1, "{done}");
    assert!(done.skipped[0].starts_with(&format!("pod {ns}/{name}: replaced")), "{:?}", done.skipped);
    assert!(done.to_string().contains("skipped: replaced"), "{done}");

    let pods: Api<Pod> = Api::namespaced(server.client(), &ns);
    let survivor = pods.get(&name).await.expect("the recreated pod is not deleted");
    assert_eq!(survivor.metadata.uid.as_deref(), Some(new_uid.as_str()));
}

#[tokio::test]
async fn cleanup_never_deletes_a_pod_changed_since_it_was_listed() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let cluster = server.cluster();

    let plan = cleanup(&cluster, &CleanupParams { dry_run: true, ..Default::default() }).await.unwrap();
    let (ns, name) = first_pod(&plan);
    let pods: Api<Pod> = Api::namespaced(server.client(), &ns);
    let patch = serde_json::json!({"metadata": {"labels": {"keep": "me"}}});
    pods.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();

    let done = plan.delete_listed(&cluster).await.unwrap();
    assert_eq!(done.skipped.len(), 1, "{done}");
    assert!(done.skipped[0].starts_with(&format!("pod {ns}/{name}: changed")), "{:?}", done.skipped);
    assert!(pods.get_opt(&name).await.unwrap().is_some(), "the changed pod is not deleted");
}

#[tokio::test]
async fn cleanup_in_one_call_skips_a_pod_recreated_between_its_list_and_its_delete() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let cluster = server.cluster();
    let plan = cleanup(&cluster, &CleanupParams { dry_run: true, ..Default::default() }).await.unwrap();
    let (ns, name) = first_pod(&plan);

    // Hold cleanup's delete of that pod while the pod is recreated.
    server.add_fault(
        Fault::on("DELETE", &format!("/namespaces/{ns}/pods/{name}")).delay(Duration::from_secs(2)).times(1),
    );
    server.clear_requests();
    let run = {
        let cluster = cluster.clone();
        tokio::spawn(async move { cleanup(&cluster, &CleanupParams::default()).await })
    };
    // Cleanup lists every phase before it deletes anything; wait for the last list.
    let started = Instant::now();
    while !server
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.path.ends_with("/pods") && r.query.contains("Failed"))
    {
        assert!(started.elapsed() < Duration::from_secs(10), "cleanup never listed Failed pods");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let new_uid = recreate(&server, &ns, &name).await;

    let done = run.await.unwrap().unwrap();
    assert!(done.skipped.iter().any(|s| s.starts_with(&format!("pod {ns}/{name}: replaced"))), "{done}");
    assert!(done.pods.iter().all(|p| !p.starts_with(&format!("{ns}/{name} "))), "{done}");
    let pods: Api<Pod> = Api::namespaced(server.client(), &ns);
    assert_eq!(pods.get(&name).await.unwrap().metadata.uid.as_deref(), Some(new_uid.as_str()));
}
