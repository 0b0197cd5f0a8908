//! The weekly checklist on testkit clusters: each check passing, warning
//! and failing, a forbidden run, kubectl as the oracle for what the
//! unused-resources check calls finished and for what the backup holds, and
//! etcdctl for the snapshot part (a snapshot saved from an etcd the test
//! starts and stops).

#![cfg(all(feature = "backup", feature = "audit", feature = "metrics"))]

use std::{
    collections::BTreeSet,
    path::PathBuf,
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, SystemTime},
};

use futures::TryStreamExt;
use k8sops::{
    backup::{
        layout::Location,
        object_store::{path::Path as StorePath, ObjectStore},
        restore::read_manifest,
        store,
    },
    checklist::{
        weekly::{AuditSummaryCheck, BackupCheck, TopConsumersCheck, UnusedResourcesCheck},
        Check, CheckResult, Checklist, ChecklistReport, Finding, Outcome, Status,
    },
    Cluster,
};
use k8sops_testkit::{e2e, Fault, TestServer};
use serde_json::{json, Value};

async fn run_one(cluster: &Cluster, check: impl Check + 'static) -> ChecklistReport {
    Checklist::new("weekly-test").with(check).budget(Duration::from_secs(60)).run(cluster).await
}

fn result<'a>(report: &'a ChecklistReport, id: &str) -> &'a CheckResult {
    let r = report.result(id).unwrap_or_else(|| panic!("no {id} result"));
    assert!(r.outcome.ran(), "{id} did not run: {report}");
    r
}

fn finding<'a>(r: &'a CheckResult, subject: &str) -> &'a Finding {
    r.findings.iter().find(|f| f.subject == subject).unwrap_or_else(|| panic!("no finding about {subject}: {r:#?}"))
}

fn subjects(r: &CheckResult, prefix: &str) -> BTreeSet<String> {
    r.findings.iter().filter(|f| f.subject.starts_with(prefix)).map(|f| f.subject.clone()).collect()
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn pod(ns: &str, name: &str, phase: &str, spec: Value) -> Value {
    let mut spec = spec;
    if spec.get("containers").is_none() {
        spec["containers"] = json!([{"name": "c", "image": "registry.k8s.io/pause:3.9"}]);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": spec, "status": {"phase": phase}})
}

fn config_map(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"k": "v"}})
}

fn secret(ns: &str, name: &str, ty: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "type": ty,
        "data": {"k": "dg=="}})
}

fn claim(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": ns},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": "gp3"},
        "status": {"phase": "Bound"}})
}

fn service(ns: &str, name: &str, selector: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}]}})
}

fn endpoints(ns: &str, name: &str, ip: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns},
        "subsets": [{"addresses": [{"ip": ip}], "ports": [{"port": 8080}]}]})
}

fn node(name: &str, cpu: &str, memory: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"}, "capacity": {"cpu": cpu, "memory": memory, "pods": "110"}}})
}

/// A path under the temporary directory no other test uses.
fn temp_path(what: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "k8sops-weekly-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

// ---------------------------------------------------------------------------
// backup
// ---------------------------------------------------------------------------

/// A small cluster to back up: a namespace with a ConfigMap, a Deployment and a Secret.
async fn backup_server() -> TestServer {
    let server = TestServer::start().await.unwrap();
    server
        .insert_all([
            namespace("shop"),
            config_map("shop", "settings"),
            config_map("shop", "features"),
            secret("shop", "db", "Opaque"),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}),
        ])
        .unwrap();
    server
}

#[tokio::test]
async fn backup_passes_and_keeps_a_verified_export_in_the_clusters_store() {
    let server = backup_server().await;
    let backups = store::memory();
    let cluster = server.cluster().to_builder().backup_store(backups.clone()).build();
    let report = run_one(&cluster, BackupCheck::default()).await;
    let r = result(&report, "backup");
    assert_eq!(r.status, Status::Pass, "{report}");
    let head = &r.findings[0];
    assert!(head.summary.starts_with("exported ") && head.summary.ends_with("and verified the backup"), "{head:?}");
    assert!(head.evidence.iter().any(|e| e.contains("every file's size and SHA-256 match")), "{head:?}");

    // The export is kept under weekly/<timestamp>/, complete (manifest.json).
    let manifests: Vec<String> = backups
        .list(Some(&StorePath::from("weekly")))
        .map_ok(|m| m.location.to_string())
        .try_filter(|p| futures::future::ready(p.ends_with("/manifest.json")))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(manifests.len(), 1, "{manifests:?}");
    let prefix = manifests[0].trim_end_matches("/manifest.json").to_string();
    let manifest = read_manifest(&Location::store(backups.clone(), prefix.as_str())).await.unwrap();
    assert!(manifest.complete);
    assert!(head.summary.contains(&format!("exported {} objects", manifest.total)), "{head:?} vs {}", manifest.total);
    assert!(!manifest.includes_secrets && !manifest.counts.contains_key("secrets"), "Secrets only when asked");

    // Oracle: kubectl lists as many ConfigMaps as the backup holds.
    let (ok, out, err) = server.kubectl(&["get", "configmaps", "-A", "-o", "name"]).await;
    if ok {
        assert_eq!(manifest.counts.get("configmaps").copied().unwrap_or(0), out.lines().count(), "{out}");
    } else if e2e::require_kubectl() {
        panic!("kubectl failed: {err}");
    }
}

#[tokio::test]
async fn backup_warns_when_no_store_keeps_the_export() {
    let server = backup_server().await;
    let check = BackupCheck { namespaces: vec!["shop".into()], include_secrets: true, ..Default::default() };
    let report = run_one(&server.cluster(), check).await;
    let r = result(&report, "backup");
    assert_eq!(r.status, Status::Warn, "{report}");
    let f = r.findings.iter().find(|f| f.summary.contains("no backup store is configured")).expect("the store warning");
    assert!(f.summary.contains("verified but not kept") && f.action.contains("backup store"), "{f:?}");
    assert!(r.findings[0].summary.contains("verified the backup in a temporary directory"), "{:?}", r.findings[0]);
    assert!(r.findings[0].evidence.iter().any(|e| e.contains("Secrets included")), "{:?}", r.findings[0]);
    assert!(r.findings[0].evidence.iter().any(|e| e.contains("every file's size and SHA-256 match")), "{r:#?}");
    // The export went to a directory of its own under the temporary
    // directory, removed once verified.
    let line = r.findings[0]
        .evidence
        .iter()
        .find_map(|e| e.strip_prefix("written to the temporary directory "))
        .unwrap_or_else(|| panic!("no temporary directory in {:?}", r.findings[0]));
    let dir = PathBuf::from(line.trim_end_matches(" (mode 0700), removed after the check"));
    assert!(dir.starts_with(std::env::temp_dir()), "{dir:?}");
    assert!(dir.file_name().unwrap().to_string_lossy().starts_with("k8sops-weekly-backup-"), "{dir:?}");
    assert!(!dir.exists(), "{dir:?} was not removed");
}

#[tokio::test]
async fn backup_warns_about_a_type_it_may_not_list() {
    let server = backup_server().await;
    server.add_fault(Fault::on("GET", "/api/v1/configmaps").status(403));
    let cluster = server.cluster().to_builder().backup_store(store::memory()).build();
    let report = run_one(&cluster, BackupCheck::default()).await;
    let r = result(&report, "backup");
    assert_eq!(r.status, Status::Warn, "{report}");
    let f = finding(r, "resource/configmaps");
    assert_eq!(f.status, Status::Warn);
    assert!(f.summary.contains("forbidden") && f.action.contains("kubectl auth can-i list configmaps"), "{f:?}");
}

#[tokio::test]
async fn backup_fails_when_a_type_cannot_be_exported() {
    let server = backup_server().await;
    server.add_fault(Fault::on("GET", "/api/v1/configmaps").status(500));
    let cluster = server.cluster_with_quick_retries(2).to_builder().backup_store(store::memory()).build();
    let report = run_one(&cluster, BackupCheck::default()).await;
    let r = result(&report, "backup");
    assert_eq!(r.status, Status::Fail, "{report}");
    assert_eq!(finding(r, "resource/configmaps").status, Status::Fail);
    assert!(r.findings.iter().any(|f| f.summary.starts_with("the weekly backup failed")), "{r:#?}");
}

/// A store that flips the first byte of every object file it is given (not
/// of the manifest): what a failing disk or a buggy proxy would do.
#[derive(Debug)]
struct Corrupting(k8sops::backup::object_store::memory::InMemory);

impl std::fmt::Display for Corrupting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Corrupting({})", self.0)
    }
}

mod corrupting {
    //! `ObjectStore` by hand, as `#[async_trait]` would expand it.
    use std::{future::Future, pin::Pin};

    use futures::stream::BoxStream;
    use k8sops::backup::object_store::{
        path::Path, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
        PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
    };

    type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

    impl ObjectStore for super::Corrupting {
        fn put_opts<'l0, 'l1, 'at>(
            &'l0 self,
            location: &'l1 Path,
            payload: PutPayload,
            opts: PutOptions,
        ) -> Fut<'at, PutResult>
        where
            'l0: 'at,
            'l1: 'at,
            Self: 'at,
        {
            Box::pin(async move {
                let mut bytes: Vec<u8> = payload.iter().flat_map(|b| b.iter().copied()).collect();
                if !location.as_ref().ends_with("manifest.json") {
                    if let Some(b) = bytes.first_mut() {
                        *b ^= 0x20;
                    }
                }
                self.0.put_opts(location, bytes.into(), opts).await
            })
        }

        fn put_multipart_opts<'l0, 'l1, 'at>(
            &'l0 self,
            location: &'l1 Path,
            opts: PutMultipartOptions,
        ) -> Fut<'at, Box<dyn MultipartUpload>>
        where
            'l0: 'at,
            'l1: 'at,
            Self: 'at,
        {
            Box::pin(self.0.put_multipart_opts(location, opts))
        }

        fn get_opts<'l0, 'l1, 'at>(&'l0 self, location: &'l1 Path, options: GetOptions) -> Fut<'at, GetResult>
        where
            'l0: 'at,
            'l1: 'at,
            Self: 'at,
        {
            Box::pin(self.0.get_opts(location, options))
        }

        fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
            self.0.delete_stream(locations)
        }

        fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
            self.0.list(prefix)
        }

        fn list_with_delimiter<'l0, 'l1, 'at>(&'l0 self, prefix: Option<&'l1 Path>) -> Fut<'at, ListResult>
        where
            'l0: 'at,
            'l1: 'at,
            Self: 'at,
        {
            Box::pin(self.0.list_with_delimiter(prefix))
        }

        fn copy_opts<'l0, 'l1, 'l2, 'at>(
            &'l0 self,
            from: &'l1 Path,
            to: &'l2 Path,
            options: CopyOptions,
        ) -> Fut<'at, ()>
        where
            'l0: 'at,
            'l1: 'at,
            'l2: 'at,
            Self: 'at,
        {
            Box::pin(self.0.copy_opts(from, to, options))
        }
    }
}

#[tokio::test]
async fn backup_fails_when_the_files_read_back_do_not_match_their_checksums() {
    let server = backup_server().await;
    let corrupting = std::sync::Arc::new(Corrupting(Default::default()));
    let cluster = server.cluster().to_builder().backup_store(corrupting).build();
    let report = run_one(&cluster, BackupCheck { namespaces: vec!["shop".into()], ..Default::default() }).await;
    let r = result(&report, "backup");
    assert_eq!(r.status, Status::Fail, "{report}");
    let f = r.findings.iter().find(|f| f.subject.starts_with("file/")).expect("a finding per damaged file");
    assert!(f.summary.ends_with("does not match the manifest") && f.evidence[0].contains("checksum mismatch"), "{f:?}");
    let damaged = r.findings.iter().filter(|f| f.subject.starts_with("file/")).count() + r.omitted;
    assert!(damaged >= 4, "every object file of shop is damaged: {r:#?}");
}

#[tokio::test]
async fn backup_fails_on_a_corrupt_etcd_snapshot() {
    let server = backup_server().await;
    let path = temp_path("garbage.db");
    std::fs::write(&path, b"this is not a bbolt database, just garbage bytes".repeat(100)).unwrap();
    let check = BackupCheck { etcd_snapshot: Some(path.clone()), ..Default::default() };
    let out = check.run(&server.cluster().to_builder().backup_store(store::memory()).build()).await.unwrap();
    std::fs::remove_file(&path).ok();
    let subject = format!("snapshot/{}", path.display());
    let f = out.findings.iter().find(|f| f.subject == subject).expect("a snapshot finding");
    assert_eq!(f.status, Status::Fail, "{f:?}");
    assert!(f.summary.contains("corrupt") && f.action.contains("etcdctl snapshot save"), "{f:?}");

    // A snapshot file that is not there fails too.
    let missing = temp_path("missing.db");
    let check = BackupCheck { etcd_snapshot: Some(missing.clone()), ..Default::default() };
    let out = check.run(&server.cluster()).await.unwrap();
    let f = out.findings.last().unwrap();
    assert_eq!((f.status, f.subject.clone()), (Status::Fail, format!("snapshot/{}", missing.display())));
}

/// `etcdctl ARGS` (stopped after 30 s by coreutils' `timeout`).
fn etcdctl(args: &[&str]) -> std::process::Output {
    Command::new("timeout")
        .args(["-s", "KILL", "30", "etcdctl"])
        .env("ETCDCTL_API", "3")
        .args(args)
        .output()
        .expect("etcdctl runs")
}

/// A snapshot saved by `etcdctl snapshot save` from an etcd of this test's
/// own (plain HTTP on spare ports, stopped once the snapshot is saved), and
/// etcdctl's `snapshot status -w json` of it.
fn saved_snapshot() -> Option<(PathBuf, Value)> {
    let etcd = e2e::OwnEtcd::start("weekly")?;
    let dir = temp_path("etcd");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..20 {
        let out = etcd.etcdctl(&["put", &format!("/registry/configmaps/shop/cm-{i}"), &"v".repeat(100 + i)]);
        assert!(out.status.success(), "etcdctl put: {}", String::from_utf8_lossy(&out.stderr));
    }
    let path = dir.join("etcd.db");
    let out = etcd.etcdctl(&["snapshot", "save", path.to_str().unwrap()]);
    drop(etcd);
    assert!(out.status.success(), "etcdctl snapshot save: {}", String::from_utf8_lossy(&out.stderr));
    let status = etcdctl(&["snapshot", "status", path.to_str().unwrap(), "-w", "json"]);
    assert!(status.status.success(), "etcdctl snapshot status: {}", String::from_utf8_lossy(&status.stderr));
    Some((path, serde_json::from_slice(&status.stdout).unwrap()))
}

#[tokio::test]
async fn backup_checks_an_etcd_snapshot_like_etcdctl_and_warns_when_it_is_old() {
    let Some((path, etcdctl)) = saved_snapshot() else { return };
    let server = backup_server().await;
    let cluster = server.cluster().to_builder().backup_store(store::memory()).build();
    let subject = format!("snapshot/{}", path.display());

    let check = BackupCheck { etcd_snapshot: Some(path.clone()), ..Default::default() };
    let report = run_one(&cluster, check.clone()).await;
    let r = result(&report, "backup");
    assert_eq!(r.status, Status::Pass, "{report}");
    let f = finding(r, &subject);
    let line = format!(
        "etcdctl snapshot status: hash {:x}, revision {}, total keys {}",
        etcdctl["hash"].as_u64().unwrap(),
        etcdctl["revision"].as_i64().unwrap(),
        etcdctl["totalKey"].as_u64().unwrap()
    );
    assert!(f.evidence.iter().any(|e| e.starts_with(&line)), "{f:?} vs etcdctl {etcdctl}");
    assert!(f.evidence.iter().any(|e| e.starts_with("SHA-256 trailer matches")), "{f:?}");

    // Nine days old: older than the default eight.
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(9 * 24 * 3600)).unwrap();
    drop(file);
    let report = run_one(&cluster, check).await;
    if let Some(dir) = path.parent() {
        std::fs::remove_dir_all(dir).ok();
    }
    let r = result(&report, "backup");
    assert_eq!(r.status, Status::Warn, "{report}");
    let f = finding(r, &subject);
    assert!(f.summary.contains("9d 0h old, more than 8d 0h"), "{f:?}");
}

// ---------------------------------------------------------------------------
// unused
// ---------------------------------------------------------------------------

/// Objects that are all in use, or ignored by design.
fn used_objects() -> Vec<Value> {
    vec![
        namespace("shop"),
        config_map("shop", "env"),
        config_map("shop", "mounted"),
        config_map("shop", "projected"),
        config_map("shop", "cron-settings"),
        secret("shop", "env-key", "Opaque"),
        secret("shop", "registry", "kubernetes.io/dockerconfigjson"),
        secret("shop", "sa-pull", "kubernetes.io/dockerconfigjson"),
        secret("shop", "tls", "kubernetes.io/tls"),
        secret("shop", "csi", "Opaque"),
        secret("shop", "token", "kubernetes.io/service-account-token"),
        secret("shop", "sh.helm.release.v1.web.v1", "helm.sh/release.v1"),
        secret("kube-system", "bootstrap-token-abcdef", "bootstrap.kubernetes.io/token"),
        secret("kube-system", "read-by-a-controller", "Opaque"),
        config_map("shop", "kube-root-ca.crt"),
        claim("shop", "data"),
        pod(
            "shop",
            "web",
            "Running",
            json!({
            "containers": [{"name": "web", "image": "nginx",
                "env": [{"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "env-key", "key": "k"}}}],
                "envFrom": [{"configMapRef": {"name": "env"}}]}],
            "imagePullSecrets": [{"name": "registry"}],
            "volumes": [
                {"name": "m", "configMap": {"name": "mounted"}},
                {"name": "p", "projected": {"sources": [{"configMap": {"name": "projected"}}]}},
                {"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "s", "csi": {"driver": "secrets-store.csi.k8s.io", "nodePublishSecretRef": {"name": "csi"}}}
            ]}),
        ),
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "report", "namespace": "shop"},
            "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "r", "image": "busybox", "envFrom": [{"configMapRef": {"name": "cron-settings"}}]}]}}}}}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "builder", "namespace": "shop"},
            "imagePullSecrets": [{"name": "sa-pull"}]}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"tls": [{"hosts": ["shop.example.com"], "secretName": "tls"}],
                "rules": [{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
        service("shop", "web", json!({"app": "web"})),
        endpoints("shop", "web", "10.0.0.7"),
    ]
}

#[tokio::test]
async fn unused_passes_when_everything_is_referenced_or_ignored_by_design() {
    let server = TestServer::start().await.unwrap();
    server.insert_all(used_objects()).unwrap();
    let report = run_one(&server.cluster(), UnusedResourcesCheck::default()).await;
    let r = result(&report, "unused");
    assert_eq!(r.status, Status::Pass, "{report}\n{r:#?}");
    assert_eq!(r.findings.len(), 1, "{r:#?}");
    assert_eq!(r.findings[0].summary, "no unused resources");
}

#[tokio::test]
async fn unused_warns_when_a_kind_it_judges_is_not_served() {
    let server = TestServer::start().await.unwrap();
    server.insert_all(used_objects()).unwrap();
    server.insert(&config_map("shop", "old-settings")).unwrap();
    // A proxy (or a server) that answers 404 for ConfigMaps: nothing to judge there.
    server.add_fault(Fault::on("GET", "/api/v1/configmaps").status(404));
    let report = run_one(&server.cluster(), UnusedResourcesCheck::default()).await;
    let r = result(&report, "unused");
    assert_eq!(r.status, Status::Warn, "{report}\n{r:#?}");
    assert_eq!(r.findings[0].summary, "no unused resources found, but configmaps could not be listed (404)");
    assert!(
        r.findings[0].evidence.iter().any(|e| e.starts_with("not served (404), not looked at: configmaps")),
        "{:?}",
        r.findings[0].evidence
    );
}

/// The used objects plus one unused object of each kind and finished pods.
fn with_unused(server: &TestServer) {
    server.insert_all(used_objects()).unwrap();
    server
        .insert_all([
            pod("shop", "migrate-1", "Succeeded", json!({"restartPolicy": "Never"})),
            pod("shop", "migrate-0", "Failed", json!({"restartPolicy": "Never"})),
            claim("shop", "old-data"),
            config_map("shop", "old-settings"),
            secret("shop", "old-key", "Opaque"),
            service("shop", "gone", json!({"app": "gone"})),
            // No selector: its endpoints are managed by hand, not unused.
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "external", "namespace": "shop"},
                "spec": {"ports": [{"port": 5432}]}}),
        ])
        .unwrap();
}

#[tokio::test]
async fn unused_warns_about_each_unused_object_and_finds_the_finished_pods_kubectl_lists() {
    let server = TestServer::start().await.unwrap();
    with_unused(&server);
    let report = run_one(&server.cluster(), UnusedResourcesCheck::default()).await;
    let r = result(&report, "unused");
    assert_eq!(r.status, Status::Warn, "{report}");
    assert_eq!(r.findings.iter().find(|f| f.subject.is_empty()).unwrap().summary, "6 unused objects");
    for (subject, action) in [
        ("persistentvolumeclaim/shop/old-data", "kubectl delete pvc old-data -n shop"),
        ("configmap/shop/old-settings", "kubectl delete configmap old-settings -n shop"),
        ("secret/shop/old-key", "kubectl delete secret old-key -n shop"),
        ("service/shop/gone", "kubectl delete service gone -n shop"),
        ("pod/shop/migrate-1", "kubectl delete pod migrate-1 -n shop"),
    ] {
        let f = finding(r, subject);
        assert_eq!(f.status, Status::Warn);
        assert!(f.action.starts_with(action), "{f:?}");
    }
    let reported: BTreeSet<String> =
        r.findings.iter().filter(|f| !f.subject.is_empty()).map(|f| f.subject.clone()).collect();
    assert_eq!(reported.len(), 6, "nothing in use or ignored by design is reported: {reported:?}");

    // Oracle: the finished pods are the ones kubectl lists by phase.
    let mut expected = BTreeSet::new();
    for phase in ["Succeeded", "Failed"] {
        let selector = format!("status.phase=={phase}");
        let (ok, out, err) = server
            .kubectl(&[
                "get",
                "pods",
                "-A",
                "--field-selector",
                &selector,
                "-o",
                "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{\"\\n\"}{end}",
            ])
            .await;
        if !ok {
            if e2e::require_kubectl() {
                panic!("kubectl failed: {err}");
            }
            return;
        }
        expected.extend(out.lines().filter(|l| !l.is_empty()).map(|l| format!("pod/{l}")));
    }
    assert_eq!(subjects(r, "pod/"), expected);
}

fn stateful_set(ns: &str, name: &str, replicas: u32, templates: &[&str]) -> Value {
    let templates: Vec<Value> = templates
        .iter()
        .map(|t| {
            json!({"metadata": {"name": t}, "spec": {"accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}}}})
        })
        .collect();
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": ns},
        "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "db"}]}},
            "volumeClaimTemplates": templates}})
}

#[tokio::test]
async fn unused_keeps_the_claims_of_a_scaled_down_stateful_set() {
    let server = TestServer::start().await.unwrap();
    server
        .insert_all([
            namespace("shop"),
            namespace("other"),
            // Scaled to 0: no pod mounts its claims, which still hold its data.
            stateful_set("shop", "db", 0, &["data", "wal"]),
            claim("shop", "data-db-0"),
            claim("shop", "data-db-1"),
            claim("shop", "wal-db-0"),
            // Not a StatefulSet claim: no ordinal, no such StatefulSet, another namespace.
            claim("shop", "data-db-old"),
            claim("shop", "data-gone-0"),
            claim("other", "data-db-0"),
        ])
        .unwrap();
    let report = run_one(&server.cluster(), UnusedResourcesCheck::default()).await;
    let r = result(&report, "unused");
    assert_eq!(r.status, Status::Warn, "{report}");
    assert_eq!(
        subjects(r, "persistentvolumeclaim/"),
        BTreeSet::from(
            [
                "persistentvolumeclaim/shop/data-db-old",
                "persistentvolumeclaim/shop/data-gone-0",
                "persistentvolumeclaim/other/data-db-0"
            ]
            .map(String::from)
        )
    );
}

#[tokio::test]
async fn unused_counts_finished_pods_of_a_controller_without_reporting_each() {
    let server = TestServer::start().await.unwrap();
    server.insert(&namespace("batch")).unwrap();
    for (i, phase) in ["Succeeded", "Succeeded", "Failed"].iter().enumerate() {
        let mut p = pod("batch", &format!("report-2911-{i}"), phase, json!({"restartPolicy": "Never"}));
        p["metadata"]["ownerReferences"] = json!([{"apiVersion": "batch/v1", "kind": "Job", "name": format!("report-2911-{i}"),
            "uid": format!("job-{i}"), "controller": true}]);
        server.insert(&p).unwrap();
    }
    // Owned, but not by a controller: reported.
    let mut loose = pod("batch", "debug", "Succeeded", json!({"restartPolicy": "Never"}));
    loose["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "cm-1"}]);
    server.insert(&loose).unwrap();
    server.insert(&pod("batch", "by-hand", "Failed", json!({"restartPolicy": "Never"}))).unwrap();
    let report = run_one(&server.cluster(), UnusedResourcesCheck::default()).await;
    let r = result(&report, "unused");
    assert_eq!(r.status, Status::Warn, "{report}");
    assert_eq!(
        subjects(r, "pod/"),
        BTreeSet::from(["pod/batch/by-hand", "pod/batch/debug"].map(String::from)),
        "only finished pods without a controller owner"
    );
    let head = r.findings.iter().find(|f| f.subject.is_empty()).unwrap();
    assert_eq!(head.summary, "2 unused objects");
    assert!(
        head.evidence
            .iter()
            .any(|e| e.starts_with("finished pods with a controller owner") && e.ends_with(": 3 of Jobs")),
        "{head:?}"
    );
}

#[tokio::test]
async fn unused_counts_secrets_named_by_persistent_volumes_and_storage_classes() {
    let server = TestServer::start().await.unwrap();
    let pv = |name: &str, source: &str, spec: Value| {
        let mut s = json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "claimRef": {"namespace": "shop", "name": name}});
        s[source] = spec;
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name}, "spec": s})
    };
    server
        .insert_all([
            namespace("shop"),
            namespace("storage"),
            secret("storage", "csi-stage", "Opaque"),
            secret("storage", "csi-expand", "Opaque"),
            secret("shop", "csi-publish", "Opaque"),
            secret("storage", "ceph", "Opaque"),
            secret("shop", "rbd", "Opaque"),
            secret("storage", "azure", "Opaque"),
            secret("shop", "azure-default", "Opaque"),
            secret("storage", "provisioner", "Opaque"),
            secret("storage", "node-stage", "Opaque"),
            secret("storage", "unrelated", "Opaque"),
            pv(
                "pv-csi",
                "csi",
                json!({"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1",
                "nodeStageSecretRef": {"name": "csi-stage", "namespace": "storage"},
                "controllerExpandSecretRef": {"name": "csi-expand", "namespace": "storage"},
                "nodePublishSecretRef": {"name": "csi-publish"}}),
            ),
            pv(
                "pv-ceph",
                "cephfs",
                json!({"monitors": ["10.0.0.1:6789"], "secretRef": {"name": "ceph", "namespace": "storage"}}),
            ),
            pv("pv-rbd", "rbd", json!({"monitors": ["10.0.0.1:6789"], "image": "img", "secretRef": {"name": "rbd"}})),
            pv("pv-azure", "azureFile", json!({"shareName": "s", "secretName": "azure", "secretNamespace": "storage"})),
            pv("pv-azure2", "azureFile", json!({"shareName": "s", "secretName": "azure-default"})),
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "csi"},
                "provisioner": "ebs.csi.aws.com", "parameters": {
                    "csi.storage.k8s.io/provisioner-secret-name": "provisioner",
                    "csi.storage.k8s.io/provisioner-secret-namespace": "storage",
                    "csi.storage.k8s.io/node-stage-secret-name": "node-stage",
                    "csi.storage.k8s.io/node-stage-secret-namespace": "storage",
                    "csi.storage.k8s.io/node-publish-secret-name": "${pvc.name}",
                    "csi.storage.k8s.io/node-publish-secret-namespace": "${pvc.namespace}"}}),
        ])
        .unwrap();
    let report = run_one(&server.cluster(), UnusedResourcesCheck::default()).await;
    let r = result(&report, "unused");
    assert_eq!(subjects(r, "secret/"), BTreeSet::from(["secret/storage/unrelated".to_string()]), "{r:#?}");
    let head = r.findings.iter().find(|f| f.subject.is_empty()).unwrap();
    assert!(!head.evidence.iter().any(|e| e.contains("could not be listed")), "{head:?}");

    // StorageClasses the caller may not list: a note, and their Secrets look unused.
    server.add_fault(Fault::on("GET", "/apis/storage.k8s.io/v1/storageclasses").status(403));
    let report = run_one(&server.cluster(), UnusedResourcesCheck::default()).await;
    let r = result(&report, "unused");
    assert_eq!(r.outcome, Outcome::Ran, "{r:#?}");
    assert_eq!(
        subjects(r, "secret/"),
        BTreeSet::from(
            ["secret/storage/node-stage", "secret/storage/provisioner", "secret/storage/unrelated"].map(String::from)
        )
    );
    let head = r.findings.iter().find(|f| f.subject.is_empty()).unwrap();
    assert!(head.evidence.iter().any(|e| e.starts_with("storageclasses could not be listed (forbidden)")), "{head:?}");
}

#[tokio::test]
async fn unused_fails_over_its_threshold() {
    let server = TestServer::start().await.unwrap();
    with_unused(&server);
    let report = run_one(&server.cluster(), UnusedResourcesCheck { fail_over: 5, ..Default::default() }).await;
    let r = result(&report, "unused");
    assert_eq!(r.status, Status::Fail, "{report}");
    let head = r.findings.iter().find(|f| f.subject.is_empty()).unwrap();
    assert_eq!(head.summary, "6 unused objects, more than 5");
    assert!(head.evidence[0].contains("2 pods") && head.evidence[0].contains("1 services"), "{head:?}");
}

#[tokio::test]
async fn unused_is_reported_forbidden_when_pods_cannot_be_listed() {
    let server = TestServer::start().await.unwrap();
    with_unused(&server);
    server.add_fault(Fault::on("GET", "/api/v1/pods").status(403));
    let report = Checklist::weekly().without("backup").without("audit").without("top").run(&server.cluster()).await;
    let r = report.result("unused").unwrap();
    assert!(matches!(r.outcome, Outcome::Forbidden { .. }), "{r:#?}");
    assert_eq!(r.status, Status::Warn);
}

// ---------------------------------------------------------------------------
// audit
// ---------------------------------------------------------------------------

#[tokio::test]
async fn audit_passes_on_a_cluster_with_only_system_grants() {
    let server = TestServer::start().await.unwrap();
    let report = run_one(&server.cluster(), AuditSummaryCheck::default()).await;
    let r = result(&report, "audit");
    assert_eq!(r.status, Status::Pass, "{report}\n{r:#?}");
    let head = &r.findings[0];
    assert_eq!(head.summary, "no critical or high RBAC risks");
    assert!(head.evidence.iter().any(|e| e.starts_with("cluster-wide RBAC score 100/100")), "{head:?}");
}

#[tokio::test]
async fn audit_warns_about_a_high_risk_grant() {
    let server = TestServer::start().await.unwrap();
    server
        .insert_all([
            namespace("shop"),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "secret-reader", "namespace": "shop"},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "bob-reads-secrets", "namespace": "shop"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secret-reader"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]}),
        ])
        .unwrap();
    let report = run_one(&server.cluster(), AuditSummaryCheck::default()).await;
    let r = result(&report, "audit");
    assert_eq!(r.status, Status::Warn, "{report}");
    let f = finding(r, "RoleBinding/shop/bob-reads-secrets");
    assert_eq!(f.status, Status::Warn);
    assert!(f.summary.contains("secrets-read") && !f.action.is_empty(), "{f:?}");
    assert!(
        r.findings[0].evidence.iter().any(|e| e.starts_with("lowest namespace scores: shop 90/100")),
        "{:?}",
        r.findings[0]
    );
}

#[tokio::test]
async fn audit_fails_on_a_user_bound_to_cluster_admin() {
    let server = TestServer::start().await.unwrap();
    server
        .insert(&json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "alice-admin"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]}))
        .unwrap();
    let report = run_one(&server.cluster(), AuditSummaryCheck::default()).await;
    let r = result(&report, "audit");
    assert_eq!(r.status, Status::Fail, "{report}");
    let f = finding(r, "ClusterRoleBinding/alice-admin");
    assert!(f.summary.contains("cluster-admin"), "{f:?}");
    let head = r.findings.iter().find(|f| f.subject.is_empty()).unwrap();
    assert!(head.summary.starts_with("1 critical RBAC risk"), "{head:?}");
    assert!(head.action.contains("rbac_audit") && head.action.contains("pss_report"), "{head:?}");
    assert!(head.evidence.iter().any(|e| e == "risk findings: 1 critical, 0 high, 0 medium, 0 low"), "{head:?}");
}

// ---------------------------------------------------------------------------
// top
// ---------------------------------------------------------------------------

/// Two nodes of 2 CPU and 8Gi each (4 CPU, 16Gi allocatable in all), and pods using what `usage` says.
async fn top_server(usage: &[(&str, &str, &str, &str)]) -> TestServer {
    let server = TestServer::start().await.unwrap();
    server.insert_all([node("n1", "2", "8Gi"), node("n2", "2", "8Gi"), namespace("shop"), namespace("batch")]).unwrap();
    for (ns, name, cpu, memory) in usage {
        server.insert(&pod(ns, name, "Running", json!({}))).unwrap();
        server.set_pod_metrics(ns, name, &[("c", cpu, memory)]).unwrap();
    }
    server
}

#[tokio::test]
async fn top_passes_with_the_top_pods_and_namespaces_as_evidence() {
    let server = top_server(&[
        ("shop", "web-1", "300m", "1Gi"),
        ("shop", "web-2", "200m", "2Gi"),
        ("batch", "etl", "500m", "512Mi"),
    ])
    .await;
    let report = run_one(&server.cluster(), TopConsumersCheck::default()).await;
    let r = result(&report, "top");
    assert_eq!(r.status, Status::Pass, "{report}");
    let head = &r.findings[0];
    assert_eq!(head.summary, "top CPU consumer batch/etl (500m), 3 pods with metrics");
    assert_eq!(
        head.evidence[0],
        "top pods by CPU: batch/etl 500m (12.5% of allocatable), shop/web-1 300m (7.5% of allocatable), shop/web-2 200m (5.0% of allocatable)"
    );
    assert!(head.evidence[1].starts_with("top pods by memory: shop/web-2 2048Mi (12.5% of allocatable)"), "{head:?}");
    assert_eq!(head.evidence[2], "top namespaces by CPU: batch 500m, shop 500m");
    assert!(head.evidence[4].contains("2 nodes: 4000m CPU, 16384Mi memory"), "{head:?}");
    assert_eq!(r.charts.len(), 2);

    // Oracle: kubectl top sorts the pods the same way.
    let (ok, out, err) = server.kubectl(&["top", "pods", "-A", "--sort-by=cpu", "--no-headers"]).await;
    if ok {
        let names: Vec<&str> = out.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
        assert_eq!(names, ["etl", "web-1", "web-2"], "{out}");
    } else if e2e::require_kubectl() {
        panic!("kubectl top failed: {err}");
    }
}

#[tokio::test]
async fn top_warns_about_a_pod_using_a_large_share_and_when_metrics_are_not_served() {
    let server = top_server(&[("shop", "web-1", "1200m", "1Gi"), ("batch", "etl", "100m", "128Mi")]).await;
    let report = run_one(&server.cluster(), TopConsumersCheck::default()).await;
    let r = result(&report, "top");
    assert_eq!(r.status, Status::Warn, "{report}");
    let f = finding(r, "pod/shop/web-1");
    assert_eq!(f.summary, "uses 30.0% of the cluster's allocatable CPU (more than 25%)");

    // Nodes without allocatable: no share can be judged, which is not a pass.
    let no_allocatable = TestServer::start().await.unwrap();
    let mut bare = node("n1", "2", "8Gi");
    bare["status"].as_object_mut().unwrap().remove("allocatable");
    no_allocatable.insert_all([bare, namespace("shop")]).unwrap();
    no_allocatable.insert(&pod("shop", "web-1", "Running", json!({}))).unwrap();
    no_allocatable.set_pod_metrics("shop", "web-1", &[("c", "1200m", "1Gi")]).unwrap();
    let report = run_one(&no_allocatable.cluster(), TopConsumersCheck::default()).await;
    let r = result(&report, "top");
    assert_eq!(r.status, Status::Warn, "{report}");
    assert!(
        r.findings
            .iter()
            .any(|f| f.summary == "the cluster's allocatable CPU and memory are unknown: no pod's share of it judged"),
        "{report}"
    );

    let no_metrics = TestServer::builder().metrics_api(false).start().await.unwrap();
    let report = run_one(&no_metrics.cluster(), TopConsumersCheck::default()).await;
    let r = result(&report, "top");
    assert_eq!(r.status, Status::Warn, "{report}");
    assert!(r.findings[0].summary.contains("metrics API is not served"), "{:?}", r.findings[0]);
    assert!(r.findings[0].action.contains("metrics-server"), "{:?}", r.findings[0]);
}

#[tokio::test]
async fn top_fails_when_one_pod_uses_more_than_half_of_the_clusters_memory() {
    let server = top_server(&[("batch", "etl", "100m", "12Gi"), ("shop", "web-1", "100m", "1Gi")]).await;
    let report = run_one(&server.cluster(), TopConsumersCheck::default()).await;
    let r = result(&report, "top");
    assert_eq!(r.status, Status::Fail, "{report}");
    let f = finding(r, "pod/batch/etl");
    assert_eq!(f.status, Status::Fail);
    assert!(f.summary.contains("75.0% of the cluster's allocatable memory (more than 50%)"), "{f:?}");
}

#[tokio::test]
async fn the_weekly_checklist_has_its_checks_in_order() {
    let weekly = Checklist::weekly();
    let ids: Vec<&str> = weekly.ids().collect();
    assert_eq!(ids, ["backup", "unused", "audit", "top"]);
}
