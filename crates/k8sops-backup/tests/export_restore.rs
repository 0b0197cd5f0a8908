//! Resource export and restore on testkit clusters: an export of one
//! cluster restored into another, empty one must reproduce every exported
//! object. kubectl (`get -o yaml` against each server) is the oracle for
//! which objects exist and what they hold; the backup files are compared
//! with it field by field.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use k8sops_backup::{
    export::{export, export_with_progress, ExportEvent, ExportParams, ExportStatus},
    layout::{Location, Manifest, MANIFEST_FILE},
    object_store::{memory::InMemory, path::Path as StorePath, ObjectStoreExt, PutPayload},
    restore::{read_manifest, restore, ExistingPolicy, RestoreOutcome, RestoreParams, RestoreStatus},
    Error,
};
use k8sops_core::{CancellationToken, DryRun, ProgressSink};
use k8sops_testkit::{DemoCluster, Fault, TestServer};
use serde_json::{json, Value};

/// `(kind, namespace, name)`.
type Id = (String, String, String);

/// A demo cluster plus what the demo lacks: a CRD and two custom
/// resources, Secrets (one a ServiceAccount token), a NodePort Service with
/// an allocated IP, a standalone Pod, a Job and its generated selector.
async fn source() -> TestServer {
    let server = TestServer::start().await.expect("start testkit");
    server.load(&DemoCluster::small()).expect("load demo");
    let objects = vec![
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "crontabs.stable.example.com"},
            "spec": {"group": "stable.example.com", "scope": "Namespaced",
                "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab", "shortNames": ["ct"]},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}}),
        json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
            "metadata": {"name": "nightly", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"cronSpec": "0 2 * * *", "image": "report:1"}}),
        json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
            "metadata": {"name": "hourly", "namespace": "batch"}, "spec": {"cronSpec": "0 * * * *"}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-password", "namespace": "shop", "labels": {"app": "web"}},
            "type": "Opaque", "data": {"password": "czNjcjN0"}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "default-token-abcde", "namespace": "shop",
            "annotations": {"kubernetes.io/service-account.name": "default"}},
            "type": "kubernetes.io/service-account-token", "data": {"token": "eHl6"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "shop", "labels": {"app": "web"}},
            "data": {"mode": "production", "workers": "4"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flags", "namespace": "shop"},
            "data": {"enabled": "on", "answer": "yes", "short": "n", "ratio": "1:20", "big": "1_000", "date": "2024-01-01",
                "version": "1.25.3", "empty": "", "script": "#!/bin/sh\necho \"hi\"\n", "indented": "  two spaces\n"}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-nodeport", "namespace": "shop"},
            "spec": {"type": "NodePort", "clusterIP": "10.100.7.7", "clusterIPs": ["10.100.7.7"], "selector": {"app": "web"},
                "ports": [{"port": 80, "targetPort": 8080, "nodePort": 31080, "protocol": "TCP"}]}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug-shell", "namespace": "shop"},
            "spec": {"nodeName": "ip-10-0-0-5.ec2.internal", "priority": 0, "containers": [{"name": "sh", "image": "busybox"}]},
            "status": {"phase": "Running"}}),
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"controller-uid": "3f1c"}},
                "template": {"metadata": {"labels": {"controller-uid": "3f1c", "job-name": "migrate"}},
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "migrate:2"}]}}}}),
    ];
    for o in objects {
        server.insert(&o).unwrap_or_else(|e| panic!("insert {o}: {e}"));
    }
    server
}

fn memory_store() -> (Arc<InMemory>, Location) {
    let store = Arc::new(InMemory::new());
    let at = Location::store(store.clone(), "backups/test");
    (store, at)
}

/// kubectl's view: every object of `types` (kubectl resource names), by id.
async fn kubectl_objects(server: &TestServer, types: &[String]) -> BTreeMap<Id, Value> {
    let (ok, out, err) = server.kubectl(&["get", &types.join(","), "-A", "-o", "yaml"]).await;
    assert!(ok, "kubectl get {types:?}: {err}");
    let list: Value = serde_norway::from_str(&out).expect("kubectl prints YAML");
    list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|o| {
            let id = (
                o["kind"].as_str().unwrap_or_default().to_string(),
                o["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
                o["metadata"]["name"].as_str().unwrap_or_default().to_string(),
            );
            (id, o)
        })
        .collect()
}

/// Every field of `sub` is in `sup` with the same value (server defaults
/// and server-set fields in `sup` are fine).
fn subset(sub: &Value, sup: &Value, at: &str) -> Result<(), String> {
    match (sub, sup) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let Some(w) = b.get(k) else { return Err(format!("{at}.{k} missing")) };
                subset(v, w, &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().try_for_each(|(i, (v, w))| subset(v, w, &format!("{at}[{i}]")))
        }
        (a, b) if a == b => Ok(()),
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => Ok(()),
        (a, b) => Err(format!("{at}: {a} != {b}")),
    }
}

/// The objects of a backup, parsed from its files, by id.
async fn backup_objects(store: &InMemory, prefix: &str, manifest: &Manifest) -> BTreeMap<Id, Value> {
    let mut out = BTreeMap::new();
    for e in &manifest.files {
        let bytes = store.get(&StorePath::from(format!("{prefix}/{}", e.path))).await.unwrap().bytes().await.unwrap();
        let v: Value = serde_norway::from_slice(&bytes).unwrap();
        out.insert((e.kind.clone(), e.namespace.clone().unwrap_or_default(), e.name.clone()), v);
    }
    out
}

/// The types of `types` an empty testkit serves (not the custom ones).
fn served_by_an_empty_cluster(types: &[String]) -> Vec<String> {
    types.iter().filter(|t| !t.ends_with(".example.com")).cloned().collect()
}

fn resource_names(manifest: &Manifest) -> Vec<String> {
    manifest.counts.iter().filter(|(_, n)| **n > 0).map(|(r, _)| r.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_into_an_empty_cluster_reproduces_every_exported_object() {
    let from = source().await;
    let (store, at) = memory_store();
    let report = export(&from.cluster(), &at, &ExportParams::default().include_secrets(true)).await.unwrap();
    assert_eq!(report.status, ExportStatus::Completed, "{report}");
    let manifest = read_manifest(&at).await.unwrap();
    let exported = backup_objects(&store, "backups/test", &manifest).await;
    assert_eq!(exported.len(), report.objects);
    assert_eq!(manifest.total, report.objects);
    let types = resource_names(&manifest);

    // The export holds what the source has, minus what its controllers recreate, and nothing it lacks.
    let in_source = kubectl_objects(&from, &types).await;
    for (id, y) in &exported {
        let s = in_source.get(id).unwrap_or_else(|| panic!("{id:?} exported but not in the source"));
        subset(y, s, "").unwrap_or_else(|e| panic!("{id:?} differs from the source: {e}"));
    }
    for (id, s) in &in_source {
        if !exported.contains_key(id) {
            let owned =
                s["metadata"]["ownerReferences"].as_array().is_some_and(|r| r.iter().any(|r| r["controller"] == true));
            let token = s["type"] == "kubernetes.io/service-account-token";
            let service_endpoints =
                id.0 == "Endpoints" && in_source.contains_key(&("Service".into(), id.1.clone(), id.2.clone()));
            assert!(owned || token || service_endpoints, "{id:?} was left out of the export");
        }
    }

    // Restore into an empty cluster.
    let to = TestServer::start().await.unwrap();
    let baseline: BTreeSet<Id> = kubectl_objects(&to, &served_by_an_empty_cluster(&types)).await.into_keys().collect();
    let restored = restore(&to.cluster(), &at, &RestoreParams::default()).await.unwrap();
    assert_eq!(restored.status, RestoreStatus::Completed, "{restored}");
    assert_eq!(restored.counts().failed, 0);
    let in_target = kubectl_objects(&to, &types).await;
    let want: BTreeSet<Id> = baseline.iter().cloned().chain(exported.keys().cloned()).collect();
    let have: BTreeSet<Id> = in_target.keys().cloned().collect();
    assert_eq!(have, want, "the target holds its own objects and the exported ones, nothing else");
    for (id, y) in &exported {
        if baseline.contains(id) {
            continue; // existed before: skipped, as the report says
        }
        subset(y, &in_target[id], "").unwrap_or_else(|e| panic!("{id:?} was not reproduced: {e}"));
    }
    for o in &restored.objects {
        let id = (o.kind.clone(), o.namespace.clone().unwrap_or_default(), o.name.clone());
        let expected = if baseline.contains(&id) {
            RestoreOutcome::Skipped(k8sops_backup::restore::SkipReason::AlreadyExists)
        } else {
            RestoreOutcome::Created
        };
        assert_eq!(o.outcome, expected, "{id:?}");
    }
    assert_eq!(restored.objects.len(), exported.len(), "one report line per object");
}

#[tokio::test]
async fn exported_files_are_clean_yaml_in_the_documented_tree() {
    let from = source().await;
    let (store, at) = memory_store();
    export(&from.cluster(), &at, &ExportParams::default().include_secrets(true)).await.unwrap();
    let get = |p: &str| {
        let store = store.clone();
        let (key, p) = (StorePath::from(format!("backups/test/{p}")), p.to_string());
        async move { store.get(&key).await.map(|_| ()).map_err(|e| format!("{p}: {e}")) }
    };
    for p in [
        "shop/apps/Deployment/web.yaml",
        "shop/core/ConfigMap/settings.yaml",
        "shop/stable.example.com/CronTab/nightly.yaml",
        "_cluster/core/Namespace/shop.yaml",
        "_cluster/apiextensions.k8s.io/CustomResourceDefinition/crontabs.stable.example.com.yaml",
        "_cluster/rbac.authorization.k8s.io/ClusterRole/secret-reader.yaml",
        MANIFEST_FILE,
    ] {
        get(p).await.unwrap();
    }
    let yaml = |p: &'static str| {
        let store = store.clone();
        async move {
            let b = store.get(&StorePath::from(format!("backups/test/{p}"))).await.unwrap().bytes().await.unwrap();
            String::from_utf8(b.to_vec()).unwrap()
        }
    };
    let deployment = yaml("shop/apps/Deployment/web.yaml").await;
    for gone in ["uid:", "resourceVersion:", "managedFields:", "creationTimestamp:", "status:", "generation:"] {
        assert!(!deployment.contains(gone), "{gone} in\n{deployment}");
    }
    assert!(deployment.starts_with("apiVersion: apps/v1\nkind: Deployment\nmetadata:"), "{deployment}");
    let svc: Value = serde_norway::from_str(&yaml("shop/core/Service/web-nodeport.yaml").await).unwrap();
    assert_eq!(svc["spec"].get("clusterIP"), None, "allocated IPs are the target cluster's business");
    assert_eq!(svc["spec"]["ports"][0].get("nodePort"), None, "no kubectl apply asked for this node port");
    let pod: Value = serde_norway::from_str(&yaml("shop/core/Pod/debug-shell.yaml").await).unwrap();
    assert_eq!((pod["spec"].get("nodeName"), pod.get("status")), (None, None));
    let job: Value = serde_norway::from_str(&yaml("shop/batch/Job/migrate.yaml").await).unwrap();
    assert_eq!(job["spec"].get("selector"), None);
    assert_eq!(job["spec"]["template"]["metadata"]["labels"], json!({"job-name": "migrate"}));
    assert!(store.get(&StorePath::from("backups/test/shop/core/Secret/default-token-abcde.yaml")).await.is_err());
    let manifest = read_manifest(&at).await.unwrap();
    let entry = manifest.files.iter().find(|e| e.path == "shop/core/Secret/db-password.yaml").unwrap();
    let bytes = store
        .get(&StorePath::from("backups/test/shop/core/Secret/db-password.yaml"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    use sha2::Digest;
    let digest = sha2::Sha256::digest(&bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!((entry.sha256.as_str(), entry.size), (hex.as_str(), bytes.len() as u64));
    assert_eq!(manifest.cluster.version, "v1.30.4");
    assert!(manifest.includes_secrets && manifest.complete);
    let mut paths: Vec<&str> = manifest.files.iter().map(|e| e.path.as_str()).collect();
    let sorted = {
        let mut s = paths.clone();
        s.sort();
        s
    };
    assert_eq!(paths, sorted);
    paths.dedup();
    assert_eq!(paths.len(), manifest.files.len());
}

#[tokio::test]
async fn kubectl_reads_the_exported_files_as_the_cluster_holds_the_objects() {
    let from = source().await;
    let (store, at) = memory_store();
    export(&from.cluster(), &at, &ExportParams::default().include_namespaces(["shop"]).include_secrets(true))
        .await
        .unwrap();
    let manifest = read_manifest(&at).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for e in manifest.files.iter().filter(|e| e.namespace.is_some()) {
        let bytes =
            store.get(&StorePath::from(format!("backups/test/{}", e.path))).await.unwrap().bytes().await.unwrap();
        let file = dir.path().join(&e.path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
    // kubectl parses YAML as YAML 1.1 (`on` is true there): what it sends must be what the cluster holds.
    // (The testkit serves no OpenAPI schema to validate against; the real-server test validates.)
    let path = dir.path().display().to_string();
    let (ok, out, err) =
        from.kubectl(&["apply", "-R", "-f", &path, "--dry-run=server", "--validate=false", "-o", "json"]).await;
    assert!(ok, "{err}");
    let applied: Value = serde_json::from_str(&out).unwrap();
    let flags = applied["items"].as_array().unwrap().iter().find(|o| o["metadata"]["name"] == "flags").unwrap();
    let (ok, held, _) = from.kubectl(&["get", "configmap", "flags", "-n", "shop", "-o", "json"]).await;
    assert!(ok);
    let held: Value = serde_json::from_str(&held).unwrap();
    assert_eq!(flags["data"], held["data"]);
    assert_eq!(flags["data"]["enabled"], "on");
    assert_eq!(
        applied["items"].as_array().unwrap().len(),
        manifest.files.iter().filter(|e| e.namespace.is_some()).count()
    );
}

#[tokio::test]
async fn secrets_and_status_are_exported_only_when_asked() {
    let from = source().await;
    let (store, at) = memory_store();
    let report = export(&from.cluster(), &at, &ExportParams::default().include_resources(["secrets", "deployments"]))
        .await
        .unwrap();
    assert!(report.warnings.iter().any(|w| w.contains("include_secrets")), "{report}");
    let manifest = read_manifest(&at).await.unwrap();
    assert!(manifest.files.iter().all(|e| e.kind != "Secret"));
    assert!(manifest.files.iter().any(|e| e.kind == "Deployment"));

    let (store2, with_status) = memory_store();
    export(&from.cluster(), &with_status, &ExportParams::default().include_namespaces(["shop"]).with_status(true))
        .await
        .unwrap();
    let b = store2
        .get(&StorePath::from("backups/test/shop/apps/Deployment/web.yaml"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let v: Value = serde_norway::from_slice(&b).unwrap();
    assert!(v.get("status").is_some());
    drop(store);
}

#[tokio::test]
async fn filters_select_namespaces_types_labels_and_cluster_scope() {
    let from = source().await;
    let (_, at) = memory_store();
    let params =
        ExportParams::default().include_namespaces(["sho*"]).exclude_resources(["ingresses.networking.k8s.io"]);
    export(&from.cluster(), &at, &params).await.unwrap();
    let m = read_manifest(&at).await.unwrap();
    assert!(m.files.iter().all(|e| e.namespace.as_deref().is_none_or(|ns| ns == "shop")));
    assert!(m.files.iter().all(|e| e.kind != "Ingress"));
    let cluster_scoped: BTreeSet<(&str, &str)> =
        m.files.iter().filter(|e| e.namespace.is_none()).map(|e| (e.kind.as_str(), e.name.as_str())).collect();
    assert_eq!(
        cluster_scoped,
        BTreeSet::from([("CustomResourceDefinition", "crontabs.stable.example.com"), ("Namespace", "shop")]),
        "with a namespace filter, only the namespace and the CRDs of its custom resources"
    );

    let (_, labelled) = memory_store();
    let p = ExportParams::default().selector("app=web".parse().unwrap()).include_cluster_resources(false);
    export(&from.cluster(), &labelled, &p).await.unwrap();
    let m = read_manifest(&labelled).await.unwrap();
    let kubectl = from.kubectl(&["get", "deployments,configmaps,crontabs", "-A", "-l", "app=web", "-o", "name"]).await;
    assert!(kubectl.0, "{}", kubectl.2);
    let ours: BTreeSet<String> = m
        .files
        .iter()
        .filter(|e| matches!(e.kind.as_str(), "Deployment" | "ConfigMap" | "CronTab"))
        .map(|e| format!("{}/{}", e.kind.to_lowercase(), e.name))
        .collect();
    // `deployment.apps/web`, `configmap/settings`, `crontab.stable.example.com/nightly`
    let theirs: BTreeSet<String> = kubectl
        .1
        .lines()
        .filter_map(|l| l.split_once('/'))
        .map(|(kind, name)| format!("{}/{name}", kind.split('.').next().unwrap_or(kind)))
        .collect();
    assert_eq!(ours, theirs);
    assert!(m.files.iter().all(|e| e.namespace.is_some()), "cluster resources off");
}

#[tokio::test]
async fn controller_managed_objects_are_left_out_unless_asked_and_pages_are_small() {
    let from = source().await;
    let (_, at) = memory_store();
    let report = export(&from.cluster(), &at, &ExportParams::default().page_size(7)).await.unwrap();
    let in_cluster = kubectl_objects(&from, &["pods".to_string()]).await;
    let (owned, standalone): (Vec<&Value>, Vec<&Value>) = in_cluster.values().partition(|p| {
        p["metadata"]["ownerReferences"].as_array().is_some_and(|r| r.iter().any(|r| r["controller"] == true))
    });
    let pods = report.resources.iter().find(|r| r.resource == "pods").unwrap();
    assert_eq!((pods.objects, pods.skipped), (standalone.len(), owned.len()), "{report}");
    assert!(owned.len() > 10 && standalone.iter().any(|p| p["metadata"]["name"] == "debug-shell"));
    assert!(report.resources.iter().all(|r| r.resource != "events" && r.resource != "nodes"));
    let paged = from.requests().iter().filter(|r| r.path == "/api/v1/pods" && r.query.contains("continue=")).count();
    assert!(paged >= 3, "pods listed in pages of 7");

    let (_, all) = memory_store();
    let report = export(&from.cluster(), &all, &ExportParams::default().include_managed(true)).await.unwrap();
    let (ok, names, _) = from.kubectl(&["get", "pods,events,nodes", "-A", "-o", "name"]).await;
    assert!(ok);
    let count = |r: &str| report.resources.iter().find(|x| x.resource == r).map_or(0, |x| x.objects);
    let kubectl_count = |prefix: &str| names.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("pods"), kubectl_count("pod/"));
    assert_eq!(count("events"), kubectl_count("event/"));
    assert_eq!(count("nodes"), kubectl_count("node/"));
}

#[tokio::test]
async fn an_archive_is_private_and_restores_like_a_tree() {
    let from = source().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.tar.gz");
    let at = Location::archive(&path);
    let report = export(&from.cluster(), &at, &ExportParams::default().include_secrets(true)).await.unwrap();
    assert_eq!(report.status, ExportStatus::Completed);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["cluster.tar.gz"], "no temporary file is left");
    // `tar tzvf` is the oracle for what the archive holds.
    let out = std::process::Command::new("tar").arg("tzvf").arg(&path).output().unwrap();
    assert!(out.status.success());
    let listing = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), report.objects + 1);
    assert!(lines.iter().all(|l| l.starts_with("-rw-------")), "{listing}");
    assert!(lines.last().unwrap().ends_with(" manifest.json"), "manifest last");
    assert!(listing.contains(" shop/core/Secret/db-password.yaml"));

    let to = TestServer::start().await.unwrap();
    let restored = restore(&to.cluster(), &at, &RestoreParams::default()).await.unwrap();
    assert_eq!(restored.status, RestoreStatus::Completed, "{restored}");
    assert_eq!(restored.objects.iter().filter(|o| o.path.is_some()).count(), report.objects);
    let (ok, out, _) =
        to.kubectl(&["get", "secret", "db-password", "-n", "shop", "-o", "jsonpath={.data.password}"]).await;
    assert!(ok);
    assert_eq!(out, "czNjcjN0");
}

#[tokio::test]
async fn a_local_directory_backup_is_readable_by_its_owner_only_and_durable_when_complete() {
    let from = source().await;
    let dir = tempfile::tempdir().unwrap();
    let local = std::sync::Arc::new(k8sops_backup::store::LocalDir::new(dir.path().join("backups")).unwrap());
    let at = Location::store(local.clone(), "prod");
    export(&from.cluster(), &at, &ExportParams::default().include_namespaces(["shop"]).include_secrets(true))
        .await
        .unwrap();
    // The files were written without one fsync each, and synced before the manifest.
    assert_eq!(local.deferred_count(), 0);
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &str| std::fs::metadata(dir.path().join("backups/prod").join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("shop/core/Secret/db-password.yaml"), 0o600);
    assert_eq!(mode(MANIFEST_FILE), 0o600);
    assert_eq!(mode("shop/core/Secret"), 0o700);
}

#[tokio::test]
async fn a_damaged_file_fails_its_object_only_and_a_missing_manifest_refuses_the_backup() {
    let from = source().await;
    let (store, at) = memory_store();
    export(&from.cluster(), &at, &ExportParams::default().include_namespaces(["shop"])).await.unwrap();
    let key = StorePath::from("backups/test/shop/core/ConfigMap/settings.yaml");
    let original = store.get(&key).await.unwrap().bytes().await.unwrap();
    let tampered = String::from_utf8(original.to_vec()).unwrap().replace("production", "compromised");
    store.put(&key, PutPayload::from(tampered)).await.unwrap();

    let to = TestServer::start().await.unwrap();
    let report = restore(&to.cluster(), &at, &RestoreParams::default()).await.unwrap();
    assert_eq!(report.status, RestoreStatus::PartiallyFailed);
    let failed = report.failed();
    assert_eq!(failed.len(), 1, "{report}");
    assert_eq!(failed[0].name, "settings");
    let RestoreOutcome::Failed(err) = &failed[0].outcome else { unreachable!() };
    assert!(matches!(&**err, Error::ChecksumMismatch { .. }), "{err}");
    let (ok, _, _) = to.kubectl(&["get", "configmap", "settings", "-n", "shop"]).await;
    assert!(!ok, "the damaged object was not applied");
    let (ok, _, _) = to.kubectl(&["get", "deployment", "web", "-n", "shop"]).await;
    assert!(ok, "the rest was restored");
    assert!(matches!(report.ensure_completed(), Err(Error::RestoreIncomplete { failed: 1, .. })));

    store.delete(&StorePath::from("backups/test/manifest.json")).await.unwrap();
    let err = restore(&to.cluster(), &at, &RestoreParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidBackup { .. }), "{err}");
    let err = restore(&to.cluster(), &Location::archive("/nonexistent/x.tar.gz"), &RestoreParams::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::Io { .. })), "{err}");
}

#[tokio::test]
async fn a_file_missing_from_the_store_fails_its_object_as_a_damaged_backup() {
    let from = source().await;
    let (store, at) = memory_store();
    export(&from.cluster(), &at, &ExportParams::default().include_namespaces(["shop"])).await.unwrap();
    store.delete(&StorePath::from("backups/test/shop/core/ConfigMap/settings.yaml")).await.unwrap();
    let to = TestServer::start().await.unwrap();
    let report = restore(&to.cluster(), &at, &RestoreParams::default()).await.unwrap();
    assert_eq!(report.status, RestoreStatus::PartiallyFailed);
    let failed = report.failed();
    assert_eq!(failed.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["settings"], "{report}");
    let RestoreOutcome::Failed(err) = &failed[0].outcome else { unreachable!() };
    assert!(matches!(&**err, Error::InvalidBackup { reason, .. } if reason.contains("missing")), "{err}");
}

#[tokio::test]
async fn a_custom_resource_whose_type_is_not_served_fails_and_says_why() {
    let from = source().await;
    let (_, at) = memory_store();
    export(&from.cluster(), &at, &ExportParams::default().include_namespaces(["shop"])).await.unwrap();
    let to = TestServer::start().await.unwrap();
    let report = restore(&to.cluster(), &at, &RestoreParams::default().exclude_resources(["crd"])).await.unwrap();
    assert_eq!(report.status, RestoreStatus::PartiallyFailed);
    let failed = report.failed();
    assert_eq!(failed.iter().map(|o| o.kind.as_str()).collect::<Vec<_>>(), ["CronTab"], "{report}");
    let why = failed[0].outcome.to_string();
    assert!(why.contains("crontabs.stable.example.com (stable.example.com/v1)") && why.contains("not found"), "{why}");
}

#[tokio::test]
async fn a_truncated_archive_is_refused() {
    let from = source().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.tar.gz");
    export(&from.cluster(), &Location::archive(&path), &ExportParams::default()).await.unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = restore(&from.cluster(), &Location::archive(&path), &RestoreParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidBackup { .. }), "{err}");
}

/// Rewrites the archive at `path` with the header of the entry `name`
/// claiming `size` bytes while its data stays as it was.
fn lie_about_size(path: &std::path::Path, name: &str, size: u64) {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut entries = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        entries.push((entry.header().clone(), data));
    }
    let out = std::fs::File::create(path).unwrap();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(out, flate2::Compression::fast()));
    for (mut header, data) in entries {
        if header.path().unwrap().to_str() == Some(name) {
            header.set_size(size);
        }
        builder.append(&header, data.as_slice()).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

#[tokio::test]
async fn an_archive_whose_headers_claim_huge_sizes_is_refused_without_allocating_them() {
    let from = source().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.tar.gz");
    export(&from.cluster(), &Location::archive(&path), &ExportParams::default().include_namespaces(["shop"]))
        .await
        .unwrap();
    let object = "shop/core/ConfigMap/settings.yaml";
    let to = TestServer::start().await.unwrap();

    // An object's header claims a terabyte: reading it runs into the end of
    // the archive, and the manifest written after it cannot be found, so the
    // backup is refused as damaged; nothing allocates a terabyte or aborts.
    lie_about_size(&path, object, 1 << 40);
    let err = restore(&to.cluster(), &Location::archive(&path), &RestoreParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidBackup { .. }), "the manifest after it is unreadable too: {err}");

    // The manifest's header claims a terabyte: refused as a damaged backup.
    export(&from.cluster(), &Location::archive(&path), &ExportParams::default().include_namespaces(["shop"]))
        .await
        .unwrap();
    lie_about_size(&path, MANIFEST_FILE, 1 << 40);
    let err = restore(&to.cluster(), &Location::archive(&path), &RestoreParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidBackup { .. }), "{err}");
}

#[tokio::test]
async fn namespace_mapping_copies_a_namespace_beside_the_original() {
    let from = source().await;
    let (_, at) = memory_store();
    export(&from.cluster(), &at, &ExportParams::default().include_namespaces(["shop"]).include_secrets(true))
        .await
        .unwrap();
    let manifest = read_manifest(&at).await.unwrap();
    let params = RestoreParams::default().namespace_mapping([("shop", "shop-copy")]);
    let report = restore(&from.cluster(), &at, &params).await.unwrap();
    assert_eq!(report.status, RestoreStatus::Completed, "{report}");
    let types = resource_names(&manifest);
    let all = kubectl_objects(&from, &types).await;
    let names_in = |ns: &str| -> BTreeSet<(String, String)> {
        all.keys()
            .filter(|(k, n, _)| n == ns && k != "Namespace")
            .map(|(k, _, name)| (k.clone(), name.clone()))
            .collect()
    };
    let exported: BTreeSet<(String, String)> =
        manifest.files.iter().filter(|e| e.namespace.is_some()).map(|e| (e.kind.clone(), e.name.clone())).collect();
    assert_eq!(names_in("shop-copy"), exported);
    assert!(all.contains_key(&("Namespace".into(), String::new(), "shop-copy".into())));
    let crd = report.objects.iter().find(|o| o.kind == "CustomResourceDefinition").unwrap();
    assert_eq!(crd.outcome, RestoreOutcome::Skipped(k8sops_backup::restore::SkipReason::AlreadyExists));
}

#[tokio::test]
async fn existing_objects_are_skipped_or_updated_and_a_dry_run_changes_nothing() {
    let from = source().await;
    let (_, at) = memory_store();
    export(&from.cluster(), &at, &ExportParams::default().include_namespaces(["shop"])).await.unwrap();
    let (ok, _, err) = from
        .kubectl(&[
            "patch",
            "configmap",
            "settings",
            "-n",
            "shop",
            "--type=merge",
            "-p",
            r#"{"data":{"mode":"maintenance"}}"#,
        ])
        .await;
    assert!(ok, "{err}");
    let mode = || async {
        let (ok, out, err) =
            from.kubectl(&["get", "configmap", "settings", "-n", "shop", "-o", "jsonpath={.data.mode}"]).await;
        assert!(ok, "{err}");
        out
    };

    let skip = restore(&from.cluster(), &at, &RestoreParams::default()).await.unwrap();
    assert!(skip.objects.iter().all(|o| matches!(o.outcome, RestoreOutcome::Skipped(_))), "{skip}");
    assert_eq!(mode().await, "maintenance");

    let dry = RestoreParams::default().existing(ExistingPolicy::Update).dry_run(DryRun::Server);
    let would = restore(&from.cluster(), &at, &dry).await.unwrap();
    assert!(would.objects.iter().all(|o| o.outcome == RestoreOutcome::WouldUpdate), "{would}");
    assert_eq!(mode().await, "maintenance", "a server dry run persists nothing");
    assert!(from.requests().iter().any(|r| r.method == "PATCH" && r.query.contains("dryRun=All")));

    let update =
        restore(&from.cluster(), &at, &RestoreParams::default().existing(ExistingPolicy::Update)).await.unwrap();
    assert_eq!(update.status, RestoreStatus::Completed, "{update}");
    assert!(update.objects.iter().all(|o| o.outcome == RestoreOutcome::Updated), "{update}");
    assert_eq!(mode().await, "production", "the backup's value is back");
}

#[tokio::test]
async fn a_server_dry_run_into_an_empty_cluster_creates_nothing() {
    let from = source().await;
    let (_, at) = memory_store();
    export(&from.cluster(), &at, &ExportParams::default()).await.unwrap();
    let manifest = read_manifest(&at).await.unwrap();
    let to = TestServer::start().await.unwrap();
    let types = served_by_an_empty_cluster(&resource_names(&manifest));
    let before: BTreeSet<Id> = kubectl_objects(&to, &types).await.into_keys().collect();
    let report = restore(&to.cluster(), &at, &RestoreParams::default().dry_run(DryRun::Server)).await.unwrap();
    assert_eq!(report.status, RestoreStatus::Completed, "{report}");
    let after: BTreeSet<Id> = kubectl_objects(&to, &types).await.into_keys().collect();
    let (served, _, _) = to.kubectl(&["get", "crontabs", "-A"]).await;
    assert!(!served, "the CRD was not created either");
    assert_eq!(before, after);
    let in_new_ns =
        report.objects.iter().find(|o| o.kind == "Deployment" && o.namespace.as_deref() == Some("shop")).unwrap();
    assert_eq!(in_new_ns.outcome, RestoreOutcome::WouldCreate);
    assert!(in_new_ns.note.as_deref().unwrap_or_default().contains("namespace shop is created first"));
    let cr = report.objects.iter().find(|o| o.kind == "CronTab").unwrap();
    assert_eq!(cr.outcome, RestoreOutcome::WouldCreate);
    assert!(cr.note.as_deref().unwrap_or_default().contains("CustomResourceDefinition"), "{:?}", cr.note);
    assert!(report.to_string().contains("Dry run (server)"));
}

#[tokio::test]
async fn restore_follows_the_dependency_order_and_creates_missing_namespaces() {
    let from = source().await;
    let (_, at) = memory_store();
    export(&from.cluster(), &at, &ExportParams::default().include_secrets(true)).await.unwrap();
    let to = TestServer::start().await.unwrap();
    to.clear_requests();
    // Namespace objects left out: the restore creates the namespaces it needs.
    let params = RestoreParams::default().exclude_resources(["namespaces"]);
    let report = restore(&to.cluster(), &at, &params).await.unwrap();
    assert_eq!(report.status, RestoreStatus::Completed, "{report}");
    let made: Vec<&str> = report.objects.iter().filter(|o| o.path.is_none()).map(|o| o.name.as_str()).collect();
    assert!(made.contains(&"shop") && made.contains(&"batch"), "{made:?}");
    let posts: Vec<String> = to.requests().into_iter().filter(|r| r.method == "POST").map(|r| r.path).collect();
    let first = |needle: &str| {
        posts.iter().position(|p| p.ends_with(needle)).unwrap_or_else(|| panic!("no POST to {needle}: {posts:?}"))
    };
    let last = |needle: &str| posts.iter().rposition(|p| p.ends_with(needle)).unwrap();
    assert!(last("/customresourcedefinitions") < first("/namespaces"));
    assert!(last("/namespaces") < first("/secrets"));
    assert!(last("/secrets") < first("/configmaps"));
    assert!(last("/configmaps") < first("/deployments"));
    assert!(last("/rolebindings") < first("/deployments"));
    assert!(last("/deployments") < first("/services"));
    assert!(last("/persistentvolumes") < first("/persistentvolumeclaims"));
    assert!(last("/services") < first("/apiservices"));
}

#[tokio::test]
async fn a_type_that_cannot_be_listed_makes_a_partial_backup_that_says_so() {
    let from = source().await;
    from.add_fault(Fault::on("GET", "/apis/apps/v1/statefulsets").status(403));
    let (_, at) = memory_store();
    let report = export(&from.cluster(), &at, &ExportParams::default()).await.unwrap();
    assert_eq!(report.status, ExportStatus::Partial, "{report}");
    let sts = report.resources.iter().find(|r| r.resource == "statefulsets.apps").unwrap();
    assert!(sts.error.as_ref().is_some_and(|e| e.is_permission_denied()));
    assert!(report.to_string().contains("failed: forbidden"), "{report}");
    let manifest = read_manifest(&at).await.unwrap();
    assert!(!manifest.complete);
    assert_eq!(manifest.failed_resources[0].resource, "statefulsets.apps");
    assert!(matches!(report.ensure_completed(), Err(Error::InvalidBackup { .. })));
    let to = TestServer::start().await.unwrap();
    let restored = restore(&to.cluster(), &at, &RestoreParams::default()).await.unwrap();
    assert!(restored.warnings.iter().any(|w| w.contains("incomplete") && w.contains("statefulsets.apps")));
}

#[tokio::test]
async fn a_prefix_that_holds_a_backup_is_not_written_again() {
    let from = source().await;
    let (_, at) = memory_store();
    export(&from.cluster(), &at, &ExportParams::default().include_namespaces(["shop"])).await.unwrap();
    let err = export(&from.cluster(), &at, &ExportParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::InvalidInput { .. })), "{err}");
    let err = export(&from.cluster(), &at, &ExportParams::default().concurrency(0)).await.unwrap_err();
    assert!(err.to_string().contains("concurrency"));
}

/// Cancels the export when the first page has been written.
struct CancelAfterFirstPage(CancellationToken);

impl ProgressSink<ExportEvent> for CancelAfterFirstPage {
    fn emit(&self, event: ExportEvent) {
        if matches!(event, ExportEvent::Exported { .. }) {
            self.0.cancel();
        }
    }
}

#[tokio::test]
async fn a_cancelled_export_writes_no_manifest_and_leaves_no_archive() {
    let from = source().await;
    let cancel = CancellationToken::new();
    let (store, at) = memory_store();
    let params = ExportParams::default().page_size(5).concurrency(1).cancel(cancel.clone());
    let report = export_with_progress(&from.cluster(), &at, &params, &CancelAfterFirstPage(cancel)).await.unwrap();
    assert_eq!(report.status, ExportStatus::Cancelled);
    assert!(!report.manifest_written);
    assert!(report.objects > 0 && report.objects <= 5, "one page was written: {}", report.objects);
    assert!(store.head(&StorePath::from("backups/test/manifest.json")).await.is_err());
    assert!(matches!(read_manifest(&at).await, Err(Error::InvalidBackup { .. })));
    assert!(matches!(report.ensure_completed(), Err(Error::Core(k8sops_core::Error::Cancelled { .. }))));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.tar.gz");
    let cancel = CancellationToken::new();
    let params = ExportParams::default().page_size(5).concurrency(1).cancel(cancel.clone());
    let report =
        export_with_progress(&from.cluster(), &Location::archive(&path), &params, &CancelAfterFirstPage(cancel))
            .await
            .unwrap();
    assert_eq!(report.status, ExportStatus::Cancelled);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "neither the archive nor its temporary file");
}

#[tokio::test]
async fn a_cancelled_restore_sends_nothing_and_says_so() {
    let from = source().await;
    let (_, at) = memory_store();
    export(&from.cluster(), &at, &ExportParams::default().include_namespaces(["shop"])).await.unwrap();
    let to = TestServer::start().await.unwrap();
    let cancel = CancellationToken::new();
    cancel.cancel();
    to.clear_requests();
    let report = restore(&to.cluster(), &at, &RestoreParams::default().cancel(cancel)).await.unwrap();
    assert_eq!(report.status, RestoreStatus::Cancelled);
    assert!(report.objects.iter().all(|o| o.outcome == RestoreOutcome::NotAttempted));
    assert!(to.requests().iter().all(|r| r.method == "GET"), "nothing was created");
}

#[tokio::test]
async fn progress_events_follow_the_export() {
    let from = source().await;
    let (_, at) = memory_store();
    let events = k8sops_core::Recorder::default();
    let report = export_with_progress(&from.cluster(), &at, &ExportParams::default(), &events).await.unwrap();
    let events = events.events();
    assert!(matches!(events.first(), Some(ExportEvent::Discovered { resources }) if *resources >= 20));
    let finished: usize = events
        .iter()
        .filter_map(|e| match e {
            ExportEvent::Finished { objects, .. } => Some(*objects),
            _ => None,
        })
        .sum();
    assert_eq!(finished, report.objects);
    assert_eq!(
        events.last(),
        Some(&ExportEvent::ManifestWritten { location: report.location.clone(), objects: report.objects })
    );
}
