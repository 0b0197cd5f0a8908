//! The testkit's server-side Tables (what `kubectl get` prints) against the
//! real API server's (`K8SOPS_E2E_KUBECONFIG`) for the same objects: the
//! display fixture of `k8sops_testkit::e2e` is created on both, and the
//! Tables for nodes, pods and namespaces must have the same columns (name,
//! type, format, priority) and the same cells, up to the run's unique name
//! and AGE (objects created seconds apart). Column descriptions are not
//! compared: kubectl never prints them and the testkit shortens them.
//!
//! The testkit builds its Tables with k8sops' own `object_status` code, so
//! this is what keeps kubectl against the testkit honest; what k8sops
//! prints is checked against the real server in tests/kubectl_oracle.rs.

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8sops_core::Cluster;
use k8sops_testkit::{
    e2e::{self, Fixture},
    TestServer,
};
use kube::{api::DeleteParams, Api};
use serde_json::{json, Value};

/// Columns as (name, type, format, priority), and rows of cells with the
/// run's name replaced by `RUN` (header row first, from the column names).
fn normalise(table: &Value, run: &str) -> (Vec<Value>, Vec<Vec<String>>) {
    let columns: Vec<Value> = table["columnDefinitions"]
        .as_array()
        .unwrap_or_else(|| panic!("not a Table: {table}"))
        .iter()
        .map(|c| json!([c["name"], c["type"], c["format"], c["priority"]]))
        .collect();
    let header: Vec<String> = columns.iter().map(|c| c[0].as_str().unwrap_or_default().to_string()).collect();
    let cell = |v: &Value| match v {
        Value::String(s) => s.replace(run, "RUN"),
        other => other.to_string().replace(run, "RUN"),
    };
    let rows = table["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["cells"].as_array().into_iter().flatten().map(cell).collect::<Vec<_>>());
    (columns, std::iter::once(header).chain(rows).collect())
}

async fn assert_tables_agree(kit: (&Cluster, &Fixture), real: (&Cluster, &Fixture), path: impl Fn(&Fixture) -> String) {
    let (kit_table, real_table) =
        (e2e::server_table(kit.0, &path(kit.1)).await, e2e::server_table(real.0, &path(real.1)).await);
    let (kit_cols, kit_rows) = normalise(&kit_table, &kit.1.run);
    let (real_cols, real_rows) = normalise(&real_table, &real.1.run);
    let context = format!("{}\ntestkit rows: {kit_rows:#?}\nreal rows: {real_rows:#?}", path(real.1));
    assert_eq!(kit_cols, real_cols, "columns of {context}");
    e2e::assert_same_cells(&kit_rows, &real_rows, &context);
}

/// Both servers with the display fixture, plus a Terminating namespace
/// `{run}-gone`. On the real server it is deleted while it holds a pod
/// that cannot finish (no kubelet), so it stays Terminating; the testkit
/// removes a deleted namespace at once (see docs/testing.md, known
/// differences), so there it is stored Terminating directly.
async fn fixtures() -> Option<(TestServer, Cluster, Fixture, Cluster, Fixture)> {
    let real = e2e::real_cluster().await?;
    let server = TestServer::start().await.unwrap();
    let kit = server.cluster();
    let (fk, fr) = (e2e::display_fixture(&kit, "agree").await, e2e::display_fixture(&real, "agree").await);

    let doomed = |f: &Fixture| {
        json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": format!("{}-gone", f.run), "labels": {e2e::RUN_LABEL: f.run}}})
    };
    let mut terminating = doomed(&fk);
    terminating["metadata"]["deletionTimestamp"] = json!(k8s_openapi::jiff::Timestamp::now().to_string());
    terminating["status"] = json!({"phase": "Terminating"});
    server.insert(&terminating).unwrap();

    let api: Api<Namespace> = Api::all(real.client().clone());
    api.create(&Default::default(), &serde_json::from_value(doomed(&fr)).unwrap()).await.unwrap();
    let gone = format!("{}-gone", fr.run);
    e2e::create_pod(
        &real,
        &gone,
        json!({"metadata": {"name": "stuck"}, "spec": {"nodeName": format!("{}-ready", fr.run),
            "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9"}]}, "status": {"phase": "Running"}}),
    )
    .await;
    api.delete(&gone, &DeleteParams::default()).await.unwrap();
    Some((server, kit, fk, real, fr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_pod_and_namespace_tables_agree_with_the_real_server() {
    let Some((_server, kit, fk, real, fr)) = fixtures().await else { return };
    let (k, r) = ((&kit, &fk), (&real, &fr));
    assert_tables_agree(k, r, |f| format!("/api/v1/nodes?labelSelector={}", f.selector())).await;
    assert_tables_agree(k, r, |f| format!("/api/v1/namespaces/{}/pods", f.namespace)).await;
    assert_tables_agree(k, r, |f| format!("/api/v1/pods?labelSelector={}", f.selector())).await;
    assert_tables_agree(k, r, |f| format!("/api/v1/namespaces?labelSelector={}", f.selector())).await;
    // The namespace deleted with a pod still in it is Terminating on both.
    let ns = e2e::server_table(&real, &format!("/api/v1/namespaces/{}-gone", fr.run)).await;
    assert_eq!(ns["rows"][0]["cells"][1], "Terminating", "{ns}");
    let pods: Api<Pod> = Api::namespaced(real.client().clone(), &fr.namespace);
    assert_eq!(pods.list(&Default::default()).await.unwrap().items.len(), fr.pods.len());
}

/// kubectl prints the testkit's Tables as it prints the real server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_prints_the_same_against_both_servers() {
    let Some((server, _kit, fk, _real, fr)) = fixtures().await else { return };
    if !e2e::require_kubectl() {
        return;
    }
    let real_kubeconfig = e2e::kubeconfig().expect("checked by fixtures()");
    for args in [
        vec!["get", "nodes", "-o", "wide", "-l", "SELECTOR"],
        vec!["get", "pods", "-o", "wide", "-n", "NAMESPACE"],
        vec!["get", "pods", "-A", "-l", "SELECTOR"],
        vec!["get", "namespaces", "-l", "SELECTOR"],
    ] {
        let with = |f: &Fixture| -> Vec<String> {
            args.iter()
                .map(|a| match *a {
                    "SELECTOR" => f.selector(),
                    "NAMESPACE" => f.namespace.clone(),
                    other => other.to_string(),
                })
                .collect()
        };
        let (ka, ra) = (with(&fk), with(&fr));
        let (ok, kit_out, err) = server.kubectl(&ka.iter().map(String::as_str).collect::<Vec<_>>()).await;
        assert!(ok, "testkit: kubectl {ka:?}: {err}");
        let (ok, real_out, err) =
            e2e::kubectl(&real_kubeconfig, &ra.iter().map(String::as_str).collect::<Vec<_>>()).await;
        assert!(ok, "real: kubectl {ra:?}: {err}");
        let cells = |out: &str, run: &str| -> Vec<Vec<String>> {
            e2e::table_cells(out).into_iter().map(|r| r.into_iter().map(|c| c.replace(run, "RUN")).collect()).collect()
        };
        e2e::assert_same_cells(
            &cells(&kit_out, &fk.run),
            &cells(&real_out, &fr.run),
            &format!("kubectl {args:?}\ntestkit:\n{kit_out}\nreal:\n{real_out}"),
        );
    }
}
