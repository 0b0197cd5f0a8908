//! Removed-API detection against the testkit at several server versions,
//! Helm release Secrets encoded as Helm 3 encodes them, manifest
//! directories, a `/metrics` text captured from a real v1.24 API server,
//! and the rule table checked against the Kubernetes deprecation guide.
//!
//! The managed-fields shapes used here (one entry per manager, operation
//! and apiVersion; the entry owning the last-applied annotation) are the
//! ones the real API server writes: `removed_apis_real_server.rs` checks the
//! same cases there with kubectl.

use std::{collections::BTreeSet, io::Write, path::PathBuf, time::Duration};

use base64::Engine;
use k8sops_core::CancellationToken;
use k8sops_testkit::{Fault, TestServer};
use k8sops_upgrade::{
    removed_apis::{
        check_object, find_removed_apis, find_removed_apis_with_progress, helm, metrics, scan_manifests, Finding,
        RemovedApiParams, ScanEvent, Source,
    },
    rules::{ApiRule, ApiStatus, MinorVersion, RuleSet, NEWEST_RELEASE},
};
use serde_json::{json, Value};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const EARLIER: &str = "2023-02-01T09:00:00Z";
const LATER: &str = "2024-05-01T09:00:00Z";

fn v(minor: u32) -> MinorVersion {
    MinorVersion::new(1, minor)
}

// ---------------------------------------------------------------- fixtures

/// A managed-fields entry as the API server writes it; `owns_annotation`
/// when the entry owns the last-applied annotation (the latest client-side
/// apply).
fn entry(manager: &str, operation: &str, api_version: &str, time: &str, owns_annotation: bool) -> Value {
    let mut fields = json!({"f:spec": {"f:replicas": {}}});
    if owns_annotation {
        let mut annotations = serde_json::Map::new();
        annotations.insert(".".into(), json!({}));
        annotations.insert(format!("f:{LAST_APPLIED}"), json!({}));
        fields["f:metadata"] = json!({"f:annotations": annotations});
    }
    json!({"manager": manager, "operation": operation, "apiVersion": api_version, "time": time,
           "fieldsType": "FieldsV1", "fieldsV1": fields})
}

/// `obj` with a last-applied annotation recording `applied_api_version`
/// and the given managed fields.
fn with_history(mut obj: Value, applied_api_version: Option<&str>, entries: Vec<Value>) -> Value {
    if let Some(av) = applied_api_version {
        let mut applied = obj.clone();
        applied["apiVersion"] = json!(av);
        applied["metadata"] =
            json!({"name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"], "annotations": {}});
        if applied["metadata"]["namespace"].is_null() {
            applied["metadata"].as_object_mut().unwrap().remove("namespace");
        }
        obj["metadata"]["annotations"] = json!({LAST_APPLIED: applied.to_string()});
    }
    if !entries.is_empty() {
        obj["metadata"]["managedFields"] = json!(entries);
    }
    obj
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn ingress(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "namespace": ns},
           "spec": {"defaultBackend": {"service": {"name": name, "port": {"number": 80}}}}})
}

fn cronjob(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": ns},
           "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
               "containers": [{"name": "c", "image": "busybox"}]}}}}}})
}

fn deployment(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
}

fn pdb(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "namespace": ns},
           "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": name}}}})
}

fn cluster_role(name: &str) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name},
           "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})
}

/// A Helm 3 release Secret, encoded as Helm 3 does it
/// (`pkg/storage/driver`: `encodeRelease` marshals the release to JSON,
/// gzips it at best compression and base64-encodes it; `newSecretsObject`
/// stores that string as `data.release` of a Secret named
/// `sh.helm.release.v1.NAME.vREVISION`, type `helm.sh/release.v1`, labelled
/// name/owner/status/version). The API server then base64-encodes the
/// Secret's data once more.
fn helm_release_secret(name: &str, ns: &str, revision: u64, status: &str, manifest: &str, hooks: Vec<Value>) -> Value {
    let release = json!({
        "name": name,
        "info": {"first_deployed": "2024-03-01T10:00:00.123456789Z", "last_deployed": "2024-03-01T10:00:00.123456789Z",
                 "deleted": "", "description": "Upgrade complete", "status": status},
        "chart": {"metadata": {"name": name, "version": "1.4.2", "description": "A Helm chart for Kubernetes",
                               "apiVersion": "v2", "appVersion": "1.16.0", "type": "application"},
                  "lock": null, "templates": [], "values": {}, "schema": null, "files": []},
        "config": {},
        "manifest": manifest,
        "hooks": hooks,
        "version": revision,
        "namespace": ns,
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(release.to_string().as_bytes()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let helm_encoded = b64.encode(gz.finish().unwrap());
    json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
           "metadata": {"name": format!("sh.helm.release.v1.{name}.v{revision}"), "namespace": ns,
                        "labels": {"name": name, "owner": "helm", "status": status, "version": revision.to_string(),
                                   "modifiedAt": "1709287200"}},
           "data": {"release": b64.encode(helm_encoded)}})
}

fn helm_hook(name: &str, manifest: &str) -> Value {
    json!({"name": name, "kind": "Role", "path": format!("{name}/templates/hook.yaml"), "manifest": manifest,
           "events": ["pre-upgrade"], "last_run": {"started_at": "", "completed_at": "", "phase": ""},
           "weight": 0, "delete_policies": ["before-hook-creation"]})
}

const WEB_V1: &str = "---\n# Source: web/templates/ingress.yaml\napiVersion: extensions/v1beta1\nkind: Ingress\nmetadata:\n  name: web\n---\n# Source: web/templates/pdb.yaml\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\n";
const WEB_V2: &str = "---\n# Source: web/templates/ingress.yaml\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n---\n# Source: web/templates/pdb.yaml\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\n";
const CACHE_V1: &str =
    "---\n# Source: cache/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: cache\n";
const CACHE_V2: &str = "---\n# Source: cache/templates/cron.yaml\napiVersion: batch/v1beta1\nkind: CronJob\nmetadata:\n  name: cache-flush\n";
const LEGACY_V1: &str = "---\n# Source: legacy/templates/psp.yaml\napiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata:\n  name: legacy\n";
const LEGACY_HOOK: &str = "apiVersion: rbac.authorization.k8s.io/v1beta1\nkind: Role\nmetadata:\n  name: legacy-hook\n";

/// The legacy cluster: objects whose history names old API versions, some
/// of it stale, and Helm releases with several revisions.
fn legacy_cluster(server: &TestServer) {
    let objects = vec![
        namespace("shop"),
        namespace("ops"),
        // Applied with kubectl from an extensions/v1beta1 manifest.
        with_history(
            ingress("shop", "web"),
            Some("extensions/v1beta1"),
            vec![entry("kubectl-client-side-apply", "Update", "extensions/v1beta1", EARLIER, true)],
        ),
        // Made with `kubectl create` from a batch/v1beta1 manifest: no annotation.
        with_history(
            cronjob("ops", "nightly"),
            None,
            vec![entry("kubectl-create", "Update", "batch/v1beta1", EARLIER, false)],
        ),
        // Server-side applied as batch/v1beta1 by a GitOps controller.
        with_history(
            cronjob("ops", "report"),
            None,
            vec![entry("argocd-controller", "Apply", "batch/v1beta1", LATER, false)],
        ),
        // Re-applied as apps/v1: the extensions/v1beta1 entry of the same manager is stale.
        with_history(
            deployment("shop", "api"),
            Some("apps/v1"),
            vec![
                entry("kubectl-client-side-apply", "Update", "extensions/v1beta1", EARLIER, false),
                entry("kubectl-client-side-apply", "Update", "apps/v1", LATER, true),
                entry("kube-controller-manager", "Update", "apps/v1", LATER, false),
            ],
        ),
        // Applied client-side as policy/v1beta1, then server-side applied as policy/v1 by Flux:
        // the annotation is stale.
        with_history(
            pdb("shop", "web-pdb"),
            Some("policy/v1beta1"),
            vec![
                entry("kubectl-client-side-apply", "Update", "policy/v1beta1", EARLIER, true),
                entry("kustomize-controller", "Apply", "policy/v1", LATER, false),
            ],
        ),
        // Applied before managed fields existed: the annotation is all there is.
        with_history(cluster_role("legacy-reader"), Some("rbac.authorization.k8s.io/v1beta1"), vec![]),
        // A current object: nothing to report.
        with_history(
            deployment("ops", "worker"),
            Some("apps/v1"),
            vec![entry("kubectl-client-side-apply", "Update", "apps/v1", LATER, true)],
        ),
        // Helm: web has a superseded revision 1 and a deployed revision 2 (only 2 counts);
        // cache has a deployed revision 1 and a failed revision 2 (only 1 counts);
        // legacy has a cluster-scoped object and a hook.
        helm_release_secret("web", "shop", 1, "superseded", WEB_V1, vec![]),
        helm_release_secret("web", "shop", 2, "deployed", WEB_V2, vec![]),
        helm_release_secret("cache", "ops", 1, "deployed", CACHE_V1, vec![]),
        helm_release_secret("cache", "ops", 2, "failed", CACHE_V2, vec![]),
        helm_release_secret("legacy", "kube-system", 1, "deployed", LEGACY_V1, vec![helm_hook("legacy", LEGACY_HOOK)]),
        // An ordinary Secret is not a release.
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "db", "namespace": "shop"}, "data": {"release": "bm90IGEgcmVsZWFzZQ=="}}),
    ];
    server.insert_all(objects).unwrap();
}

type Row = (ApiStatus, &'static str, &'static str, &'static str, &'static str, Source);

fn rows(findings: &[Finding]) -> Vec<(ApiStatus, String, String, String, String, Source)> {
    findings
        .iter()
        .map(|f| (f.status, f.kind.clone(), f.namespace.clone(), f.name.clone(), f.api_version.clone(), f.source))
        .collect()
}

fn expect(rows: &[Row]) -> Vec<(ApiStatus, String, String, String, String, Source)> {
    rows.iter()
        .map(|(s, k, ns, n, av, src)| (*s, k.to_string(), ns.to_string(), n.to_string(), av.to_string(), *src))
        .collect()
}

use ApiStatus::{Deprecated as D, Removed as R};
use Source::{Annotation as Ann, Helm, ManagedFields as Mf};

async fn scan_at(server_version: &str, params: &RemovedApiParams) -> k8sops_upgrade::removed_apis::RemovedApiReport {
    let server = TestServer::builder().server_version(server_version).start().await.unwrap();
    legacy_cluster(&server);
    find_removed_apis(&server.cluster(), params).await.unwrap()
}

// ------------------------------------------------------------ cluster scans

#[tokio::test]
async fn a_1_20_server_sees_only_what_was_deprecated_by_1_20() {
    let report = scan_at("v1.20.15", &RemovedApiParams::default()).await;
    assert_eq!(report.target, v(20));
    assert_eq!(
        rows(&report.findings),
        expect(&[
            (D, "Ingress", "shop", "web", "extensions/v1beta1", Ann),
            (D, "ClusterRole", "", "legacy-reader", "rbac.authorization.k8s.io/v1beta1", Ann),
            (D, "Role", "kube-system", "legacy-hook", "rbac.authorization.k8s.io/v1beta1", Helm),
        ]),
        "{report}"
    );
}

#[tokio::test]
async fn a_1_24_server_reports_what_1_22_removed_and_what_1_25_will() {
    let report = scan_at("v1.24.17", &RemovedApiParams::default()).await;
    assert_eq!(report.server_version.as_deref(), Some("v1.24.17"));
    assert_eq!(
        rows(&report.findings),
        expect(&[
            (R, "Ingress", "shop", "web", "extensions/v1beta1", Ann),
            (R, "ClusterRole", "", "legacy-reader", "rbac.authorization.k8s.io/v1beta1", Ann),
            (R, "Role", "kube-system", "legacy-hook", "rbac.authorization.k8s.io/v1beta1", Helm),
            (D, "CronJob", "ops", "nightly", "batch/v1beta1", Mf),
            (D, "CronJob", "ops", "report", "batch/v1beta1", Mf),
            (D, "PodDisruptionBudget", "shop", "web", "policy/v1beta1", Helm),
            (D, "PodSecurityPolicy", "", "legacy", "policy/v1beta1", Helm),
        ]),
        "{report}"
    );
    let cron = report.findings.iter().find(|f| f.name == "nightly").unwrap();
    assert_eq!(cron.removed_in, Some(v(25)));
    assert_eq!(cron.replacement.as_deref(), Some("batch/v1"));
    assert!(cron.location.contains("kubectl-create (Update at 2023-02-01T09:00:00Z)"), "{}", cron.location);
    let pdb = report.findings.iter().find(|f| f.kind == "PodDisruptionBudget").unwrap();
    assert_eq!(pdb.location, "release shop/web revision 2 (deployed), web/templates/pdb.yaml");
    let hook = report.findings.iter().find(|f| f.kind == "Role").unwrap();
    assert!(hook.location.contains("hook legacy"), "{}", hook.location);
    assert_eq!(report.helm_releases, 3);
}

#[tokio::test]
async fn a_1_25_server_reports_everything_as_removed_and_the_psp_has_no_replacement() {
    let report = scan_at("v1.25.16", &RemovedApiParams::default()).await;
    assert_eq!(
        rows(&report.findings),
        expect(&[
            (R, "Ingress", "shop", "web", "extensions/v1beta1", Ann),
            (R, "ClusterRole", "", "legacy-reader", "rbac.authorization.k8s.io/v1beta1", Ann),
            (R, "Role", "kube-system", "legacy-hook", "rbac.authorization.k8s.io/v1beta1", Helm),
            (R, "CronJob", "ops", "nightly", "batch/v1beta1", Mf),
            (R, "CronJob", "ops", "report", "batch/v1beta1", Mf),
            (R, "PodDisruptionBudget", "shop", "web", "policy/v1beta1", Helm),
            (R, "PodSecurityPolicy", "", "legacy", "policy/v1beta1", Helm),
        ]),
        "{report}"
    );
    let psp = report.findings.iter().find(|f| f.kind == "PodSecurityPolicy").unwrap();
    assert_eq!(psp.replacement, None);
    let text = report.to_string();
    assert!(text.contains("7 removed and 0 deprecated API uses for v1.25 (server v1.25.16)"), "{text}");
}

#[tokio::test]
async fn an_eks_1_29_server_with_deprecations_off_reports_removals_only() {
    let report = scan_at("v1.29.8-eks-a737599", &RemovedApiParams::default().deprecated(false)).await;
    assert_eq!(report.target, v(29));
    assert_eq!(report.findings.len(), 7, "{report}");
    assert!(report.findings.iter().all(|f| f.status == ApiStatus::Removed));
}

#[tokio::test]
async fn an_explicit_target_overrides_the_server_version() {
    let report = scan_at("v1.21.14", &RemovedApiParams::default().target(v(25)).deprecated(false)).await;
    assert_eq!((report.target, report.findings.len()), (v(25), 7), "{report}");
}

#[tokio::test]
async fn stale_evidence_is_never_reported() {
    let report = scan_at("v1.30.4", &RemovedApiParams::default()).await;
    let names: BTreeSet<&str> = report.findings.iter().map(|f| f.name.as_str()).collect();
    for stale in ["api", "web-pdb", "worker", "cache", "cache-flush"] {
        assert!(!names.contains(stale), "{stale} must not be reported:\n{report}");
    }
    // The superseded Helm revision 1 of web had an extensions/v1beta1 Ingress.
    assert!(!report.findings.iter().any(|f| f.source == Source::Helm && f.kind == "Ingress"), "{report}");
}

#[tokio::test]
async fn findings_are_sorted_and_the_report_lists_what_was_scanned() {
    let report = scan_at("v1.24.0", &RemovedApiParams::default()).await;
    let mut sorted = report.findings.clone();
    sorted.sort_by_key(|f| {
        (f.status, f.removed_in, f.api_version.clone(), f.kind.clone(), f.namespace.clone(), f.name.clone())
    });
    assert_eq!(report.findings, sorted);
    let scanned: Vec<&str> = report.scanned.iter().map(|s| s.resource.as_str()).collect();
    for r in [
        "deployments.apps/v1",
        "ingresses.networking.k8s.io/v1",
        "cronjobs.batch/v1",
        "clusterroles.rbac.authorization.k8s.io/v1",
    ] {
        assert!(scanned.contains(&r), "{r} not in {scanned:?}");
    }
    // Events expire within the hour and are not listed; review kinds cannot be.
    assert!(!scanned.iter().any(|r| r.starts_with("events.") || r.contains("review")), "{scanned:?}");
    let deployments = report.scanned.iter().find(|s| s.resource == "deployments.apps/v1").unwrap();
    assert_eq!(deployments.objects, 2);
}

#[tokio::test]
async fn the_testkit_serves_no_metrics_endpoint_and_that_is_a_note_not_an_error() {
    let report = scan_at("v1.24.0", &RemovedApiParams::default()).await;
    let note = report.notes.iter().find(|n| n.what == "/metrics").expect("a note about /metrics");
    assert!(note.reason.contains("404"), "{note}");
    assert!(report.to_string().contains("not checked: /metrics: not served by this API server (404)"));
}

#[tokio::test]
async fn a_forbidden_metrics_endpoint_is_a_note_not_an_error() {
    let server = TestServer::builder()
        .server_version("v1.24.0")
        .fault(Fault::on("GET", "/metrics").status(403))
        .start()
        .await
        .unwrap();
    legacy_cluster(&server);
    let report = find_removed_apis(&server.cluster(), &RemovedApiParams::default()).await.unwrap();
    let note = report.notes.iter().find(|n| n.what == "/metrics").unwrap();
    assert!(note.reason.starts_with("not readable (403)"), "{note}");
    assert_eq!(report.findings.len(), 7);
}

#[tokio::test]
async fn a_resource_type_that_cannot_be_listed_is_a_note_and_the_rest_is_scanned() {
    let server = TestServer::builder()
        .server_version("v1.25.0")
        .fault(Fault::on("GET", "/apis/batch/v1/cronjobs").status(403))
        .start()
        .await
        .unwrap();
    legacy_cluster(&server);
    let report = find_removed_apis(&server.cluster_with_quick_retries(2), &RemovedApiParams::default()).await.unwrap();
    assert!(report.notes.iter().any(|n| n.what == "cronjobs.batch/v1" && n.reason.contains("forbidden")), "{report}");
    assert!(!report.findings.iter().any(|f| f.kind == "CronJob" && f.source == Source::ManagedFields));
    assert!(report.findings.iter().any(|f| f.kind == "Ingress"));
}

#[tokio::test]
async fn every_resource_type_is_listed_page_by_page() {
    let server = TestServer::builder().server_version("v1.25.0").start().await.unwrap();
    server.insert(&namespace("bulk")).unwrap();
    let deployments = (0..1050).map(|i| {
        let created_by = if i % 100 == 0 { "extensions/v1beta1" } else { "apps/v1" };
        with_history(
            deployment("bulk", &format!("d{i:04}")),
            None,
            vec![entry("kubectl-create", "Update", created_by, EARLIER, false)],
        )
    });
    server.insert_all(deployments).unwrap();
    server.clear_requests();
    let params = RemovedApiParams::default().page_size(100).helm(false).metrics(false);
    let report = find_removed_apis(&server.cluster(), &params).await.unwrap();
    let pages = server.requests().iter().filter(|r| r.path == "/apis/apps/v1/deployments").count();
    assert_eq!(pages, 11, "1050 objects in pages of 100");
    assert_eq!(report.scanned.iter().find(|s| s.resource == "deployments.apps/v1").unwrap().objects, 1050);
    assert_eq!(report.findings.len(), 11, "{report}");
}

#[tokio::test]
async fn cancelling_stops_the_scan_and_the_report_says_so() {
    let server = TestServer::builder()
        .server_version("v1.25.0")
        .fault(Fault::on("GET", "/apis/apps/v1/deployments").delay(Duration::from_secs(60)))
        .start()
        .await
        .unwrap();
    legacy_cluster(&server);
    let cancel = CancellationToken::new();
    let on_first_done = cancel.clone();
    // Cancel as soon as any resource type is done; the deployments list is held for a minute.
    let progress = move |e: ScanEvent| {
        if matches!(e, ScanEvent::Scanned { .. }) {
            on_first_done.cancel();
        }
    };
    let params = RemovedApiParams::default().helm(false).metrics(false).concurrency(64).cancel(cancel);
    let started = std::time::Instant::now();
    let report = find_removed_apis_with_progress(&server.cluster(), &params, &progress).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(30), "the held request was abandoned");
    assert!(report.cancelled);
    assert!(report.to_string().contains("Cancelled"));
}

#[tokio::test]
async fn a_scan_cancelled_before_it_starts_is_an_error() {
    let server = TestServer::start().await.unwrap();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let err = find_removed_apis(&server.cluster(), &RemovedApiParams::default().cancel(cancel)).await.unwrap_err();
    assert!(matches!(err, k8sops_upgrade::Error::Core(k8sops_core::Error::Cancelled { .. })), "{err}");
}

#[tokio::test]
async fn embedder_rules_find_custom_resources_in_annotations_and_files() {
    let server = TestServer::builder().server_version("v1.30.0").start().await.unwrap();
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "certificates.cert-manager.io"},
        "spec": {"group": "cert-manager.io", "scope": "Namespaced",
                 "names": {"plural": "certificates", "singular": "certificate", "kind": "Certificate"},
                 "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}}]}});
    server.insert(&crd).unwrap();
    server.insert(&namespace("shop")).unwrap();
    let cert = json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "web", "namespace": "shop"}, "spec": {}});
    server.insert(&with_history(cert, Some("cert-manager.io/v1alpha2"), vec![])).unwrap();
    let rules = RuleSet::builtin().with(
        ApiRule::new("cert-manager.io/v1alpha2", "Certificate", "certificates")
            .deprecated_in(v(4))
            .removed_in(v(6))
            .replacement("cert-manager.io/v1"),
    );
    let params = RemovedApiParams::default().rules(rules);
    let report = find_removed_apis(&server.cluster(), &params).await.unwrap();
    assert_eq!(
        rows(&report.findings),
        expect(&[(R, "Certificate", "shop", "web", "cert-manager.io/v1alpha2", Ann)]),
        "{report}"
    );
    assert!(report.scanned.iter().any(|s| s.resource == "certificates.cert-manager.io/v1"));
}

// ------------------------------------------------------------ Helm encoding

#[test]
fn a_release_secret_decodes_through_both_base64_layers_and_gzip() {
    let secret = helm_release_secret("web", "shop", 2, "deployed", WEB_V2, vec![helm_hook("web", LEGACY_HOOK)]);
    let release = helm::decode_secret_data(secret["data"]["release"].as_str().unwrap()).unwrap();
    assert_eq!((release.name.as_str(), release.namespace.as_str(), release.version), ("web", "shop", 2));
    assert_eq!((release.info.status.as_str(), release.chart.metadata.version.as_str()), ("deployed", "1.4.2"));
    assert_eq!(release.manifest, WEB_V2);
    assert_eq!(release.hooks[0].manifest, LEGACY_HOOK);
}

#[test]
fn an_uncompressed_release_is_read_as_helm_reads_it() {
    let b64 = base64::engine::general_purpose::STANDARD;
    let plain = b64.encode(json!({"name": "old", "version": 1, "manifest": CACHE_V2}).to_string());
    let release = helm::decode_release(&plain).unwrap();
    assert_eq!(release.manifest, CACHE_V2);
    let findings = helm::check_release(&release, &RemovedApiParams::default(), v(25));
    assert_eq!(findings[0].api_version, "batch/v1beta1");
}

#[test]
fn a_corrupt_release_is_an_error_naming_the_layer() {
    let b64 = base64::engine::general_purpose::STANDARD;
    let not_gzip = b64.encode([0x1f, 0x8b, 0x08, 0, 0, 0]);
    assert!(matches!(helm::decode_release(&not_gzip), Err(helm::DecodeError::Gzip(_))));
    assert!(matches!(helm::decode_release(&b64.encode("{not json")), Err(helm::DecodeError::Json(_))));
    assert!(matches!(helm::decode_secret_data("***"), Err(helm::DecodeError::Base64(_))));
}

#[tokio::test]
async fn an_undecodable_release_is_a_note() {
    let server = TestServer::builder().server_version("v1.25.0").start().await.unwrap();
    server.insert(&namespace("shop")).unwrap();
    let mut broken = helm_release_secret("broken", "shop", 1, "deployed", WEB_V1, vec![]);
    broken["data"]["release"] = json!(base64::engine::general_purpose::STANDARD.encode("H4sI-not-really"));
    server.insert(&broken).unwrap();
    let report = find_removed_apis(&server.cluster(), &RemovedApiParams::default()).await.unwrap();
    assert!(report.findings.is_empty());
    let note = report.notes.iter().find(|n| n.what.contains("sh.helm.release.v1.broken.v1")).unwrap();
    assert!(note.reason.starts_with("cannot decode the release"), "{note}");
}

// ------------------------------------------------------------ object checks

#[test]
fn check_object_reads_an_object_as_kubectl_prints_it() {
    let obj = with_history(
        ingress("shop", "web"),
        Some("networking.k8s.io/v1beta1"),
        vec![entry("kubectl-client-side-apply", "Update", "networking.k8s.io/v1beta1", EARLIER, true)],
    );
    let found = check_object(&obj, &RemovedApiParams::default(), v(22));
    assert_eq!(rows(&found), expect(&[(R, "Ingress", "shop", "web", "networking.k8s.io/v1beta1", Ann)]));
    assert!(found[0].location.contains("written by kubectl-client-side-apply"), "{}", found[0].location);
    assert!(check_object(&obj, &RemovedApiParams::default(), v(18)).is_empty());
}

// ------------------------------------------------------------ manifests

fn manifests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/manifests")
}

fn file_rows(findings: &[Finding]) -> Vec<(ApiStatus, String, String, String, String)> {
    let root = manifests_dir().display().to_string();
    findings
        .iter()
        .map(|f| {
            let location = f.location.strip_prefix(&root).unwrap_or(&f.location).trim_start_matches('/').to_string();
            (f.status, f.kind.clone(), f.namespace.clone(), f.name.clone(), location)
        })
        .collect()
}

#[test]
fn a_manifest_directory_is_read_recursively_at_the_newest_release_by_default() {
    let report = scan_manifests(manifests_dir(), &RemovedApiParams::default()).unwrap();
    assert_eq!(report.target, NEWEST_RELEASE);
    let expected: Vec<(ApiStatus, String, String, String, String)> = [
        (R, "Ingress", "shop", "web", "apps/web.yaml:18"),
        (R, "ClusterRole", "", "legacy-reader", "cluster/rbac.json:1"),
        (R, "CronJob", "ops", "nightly", "apps/cron.yml:1"),
        (R, "PodDisruptionBudget", "", "nightly", "apps/cron.yml:15"),
        (R, "PodSecurityPolicy", "", "restricted", "cluster/list.yaml:1"),
        (R, "FlowSchema", "", "batch-jobs", "cluster/list.yaml:1"),
    ]
    .map(|(s, k, ns, n, l)| (s, k.to_string(), ns.to_string(), n.to_string(), l.to_string()))
    .to_vec();
    assert_eq!(file_rows(&report.findings), expected, "{report}");
    // web.yaml, cron.yml, rbac.json, list.yaml and the chart template; not README.md or .drafts/.
    assert_eq!(report.files, 5);
    assert_eq!(report.notes.len(), 1, "{report}");
    assert!(report.notes[0].what.ends_with("charts/web/templates/pdb.yaml:1"), "{}", report.notes[0]);
}

#[test]
fn manifests_at_1_21_are_deprecated_and_the_flowschema_is_fine() {
    let report = scan_manifests(manifests_dir(), &RemovedApiParams::default().target(v(21))).unwrap();
    let kinds: Vec<(ApiStatus, &str)> = report.findings.iter().map(|f| (f.status, f.kind.as_str())).collect();
    assert_eq!(
        kinds,
        [(D, "Ingress"), (D, "ClusterRole"), (D, "CronJob"), (D, "PodDisruptionBudget"), (D, "PodSecurityPolicy")],
        "{report}"
    );
    let ingress = &report.findings[0];
    assert_eq!((ingress.deprecated_in, ingress.removed_in), (Some(v(14)), Some(v(22))));
}

#[test]
fn a_single_file_can_be_checked_and_a_missing_path_is_refused() {
    let report =
        scan_manifests(manifests_dir().join("apps/cron.yml"), &RemovedApiParams::default().target(v(25))).unwrap();
    assert_eq!((report.files, report.findings.len()), (1, 2));
    let err = scan_manifests(manifests_dir().join("nope"), &RemovedApiParams::default()).unwrap_err();
    assert!(matches!(err, k8sops_upgrade::Error::Manifest { .. }), "{err}");
}

#[test]
fn a_cancelled_file_scan_reads_nothing_more() {
    let cancel = CancellationToken::new();
    cancel.cancel();
    let report = scan_manifests(manifests_dir(), &RemovedApiParams::default().cancel(cancel)).unwrap();
    assert!(report.cancelled);
    assert_eq!(report.files, 0);
}

// ------------------------------------------------------------ metrics

#[test]
fn the_metric_of_a_real_1_24_api_server_parses() {
    let text = include_str!("data/apiserver-metrics-v1.24.txt");
    let series = metrics::parse_deprecated_api_metrics(text);
    let apis: Vec<(String, &str, Option<MinorVersion>)> =
        series.iter().map(|s| (s.api_version(), s.resource.as_str(), s.removed_release)).collect();
    assert_eq!(
        apis,
        [
            ("autoscaling/v2beta1".to_string(), "horizontalpodautoscalers", Some(v(25))),
            ("autoscaling/v2beta2".to_string(), "horizontalpodautoscalers", Some(v(26))),
            ("batch/v1beta1".to_string(), "cronjobs", Some(v(25))),
            ("discovery.k8s.io/v1beta1".to_string(), "endpointslices", Some(v(25))),
            ("events.k8s.io/v1beta1".to_string(), "events", Some(v(25))),
            ("flowcontrol.apiserver.k8s.io/v1beta1".to_string(), "flowschemas", Some(v(26))),
            ("flowcontrol.apiserver.k8s.io/v1beta1".to_string(), "prioritylevelconfigurations", Some(v(26))),
            ("node.k8s.io/v1beta1".to_string(), "runtimeclasses", Some(v(25))),
            ("policy/v1beta1".to_string(), "poddisruptionbudgets", Some(v(25))),
            ("policy/v1beta1".to_string(), "podsecuritypolicies", Some(v(25))),
            ("storage.k8s.io/v1beta1".to_string(), "csistoragecapacities", Some(v(27))),
        ]
    );
    // The server's removal releases agree with the rule table.
    let rules = RuleSet::builtin();
    for s in &series {
        let rule = rules.by_resource(&s.group, &s.version, &s.resource).unwrap_or_else(|| panic!("no rule for {s:?}"));
        assert_eq!(rule.removed_in, s.removed_release, "{s:?}");
    }
}

// ------------------------------------------------------------ the rule table

/// (apiVersion, kind, replacement apiVersion or "").
type GuideRemoval = (&'static str, &'static str, &'static str);

/// The removals the Kubernetes deprecation guide lists
/// (kubernetes.io/docs/reference/using-api/deprecation-guide), release by
/// release: (apiVersion, kind, replacement apiVersion or "").
fn deprecation_guide() -> Vec<(u32, Vec<GuideRemoval>)> {
    vec![
        (
            16,
            vec![
                ("extensions/v1beta1", "NetworkPolicy", "networking.k8s.io/v1"),
                ("extensions/v1beta1", "PodSecurityPolicy", "policy/v1beta1"),
                ("extensions/v1beta1", "DaemonSet", "apps/v1"),
                ("apps/v1beta2", "DaemonSet", "apps/v1"),
                ("extensions/v1beta1", "Deployment", "apps/v1"),
                ("apps/v1beta1", "Deployment", "apps/v1"),
                ("apps/v1beta2", "Deployment", "apps/v1"),
                ("apps/v1beta1", "StatefulSet", "apps/v1"),
                ("apps/v1beta2", "StatefulSet", "apps/v1"),
                ("extensions/v1beta1", "ReplicaSet", "apps/v1"),
                ("apps/v1beta1", "ReplicaSet", "apps/v1"),
                ("apps/v1beta2", "ReplicaSet", "apps/v1"),
            ],
        ),
        (
            22,
            vec![
                (
                    "admissionregistration.k8s.io/v1beta1",
                    "MutatingWebhookConfiguration",
                    "admissionregistration.k8s.io/v1",
                ),
                (
                    "admissionregistration.k8s.io/v1beta1",
                    "ValidatingWebhookConfiguration",
                    "admissionregistration.k8s.io/v1",
                ),
                ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", "apiextensions.k8s.io/v1"),
                ("apiregistration.k8s.io/v1beta1", "APIService", "apiregistration.k8s.io/v1"),
                ("authentication.k8s.io/v1beta1", "TokenReview", "authentication.k8s.io/v1"),
                ("authorization.k8s.io/v1beta1", "LocalSubjectAccessReview", "authorization.k8s.io/v1"),
                ("authorization.k8s.io/v1beta1", "SelfSubjectAccessReview", "authorization.k8s.io/v1"),
                ("authorization.k8s.io/v1beta1", "SubjectAccessReview", "authorization.k8s.io/v1"),
                ("certificates.k8s.io/v1beta1", "CertificateSigningRequest", "certificates.k8s.io/v1"),
                ("coordination.k8s.io/v1beta1", "Lease", "coordination.k8s.io/v1"),
                ("extensions/v1beta1", "Ingress", "networking.k8s.io/v1"),
                ("networking.k8s.io/v1beta1", "Ingress", "networking.k8s.io/v1"),
                ("networking.k8s.io/v1beta1", "IngressClass", "networking.k8s.io/v1"),
                ("rbac.authorization.k8s.io/v1beta1", "ClusterRole", "rbac.authorization.k8s.io/v1"),
                ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding", "rbac.authorization.k8s.io/v1"),
                ("rbac.authorization.k8s.io/v1beta1", "Role", "rbac.authorization.k8s.io/v1"),
                ("rbac.authorization.k8s.io/v1beta1", "RoleBinding", "rbac.authorization.k8s.io/v1"),
                ("scheduling.k8s.io/v1beta1", "PriorityClass", "scheduling.k8s.io/v1"),
                ("storage.k8s.io/v1beta1", "CSIDriver", "storage.k8s.io/v1"),
                ("storage.k8s.io/v1beta1", "CSINode", "storage.k8s.io/v1"),
                ("storage.k8s.io/v1beta1", "StorageClass", "storage.k8s.io/v1"),
                ("storage.k8s.io/v1beta1", "VolumeAttachment", "storage.k8s.io/v1"),
            ],
        ),
        (
            25,
            vec![
                ("batch/v1beta1", "CronJob", "batch/v1"),
                ("discovery.k8s.io/v1beta1", "EndpointSlice", "discovery.k8s.io/v1"),
                ("events.k8s.io/v1beta1", "Event", "events.k8s.io/v1"),
                ("autoscaling/v2beta1", "HorizontalPodAutoscaler", "autoscaling/v2"),
                ("policy/v1beta1", "PodDisruptionBudget", "policy/v1"),
                ("policy/v1beta1", "PodSecurityPolicy", ""),
                ("node.k8s.io/v1beta1", "RuntimeClass", "node.k8s.io/v1"),
            ],
        ),
        (
            26,
            vec![
                ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", "flowcontrol.apiserver.k8s.io/v1beta3"),
                (
                    "flowcontrol.apiserver.k8s.io/v1beta1",
                    "PriorityLevelConfiguration",
                    "flowcontrol.apiserver.k8s.io/v1beta3",
                ),
                ("autoscaling/v2beta2", "HorizontalPodAutoscaler", "autoscaling/v2"),
            ],
        ),
        (27, vec![("storage.k8s.io/v1beta1", "CSIStorageCapacity", "storage.k8s.io/v1")]),
        (
            29,
            vec![
                ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", "flowcontrol.apiserver.k8s.io/v1beta3"),
                (
                    "flowcontrol.apiserver.k8s.io/v1beta2",
                    "PriorityLevelConfiguration",
                    "flowcontrol.apiserver.k8s.io/v1beta3",
                ),
            ],
        ),
        (
            32,
            vec![
                ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "flowcontrol.apiserver.k8s.io/v1"),
                (
                    "flowcontrol.apiserver.k8s.io/v1beta3",
                    "PriorityLevelConfiguration",
                    "flowcontrol.apiserver.k8s.io/v1",
                ),
            ],
        ),
    ]
}

/// Rules removed in a guide release that the guide does not list: API
/// versions removed with the listed ones (the whole `apps/v1beta1` and
/// `apps/v1beta2` groups in 1.16, the last `authorization.k8s.io/v1beta1`
/// review in 1.22).
const BEYOND_THE_GUIDE: &[(&str, &str)] = &[
    ("apps/v1beta1", "ControllerRevision"),
    ("apps/v1beta2", "ControllerRevision"),
    ("authorization.k8s.io/v1beta1", "SelfSubjectRulesReview"),
];

#[test]
fn the_rule_table_has_every_removal_of_the_deprecation_guide() {
    let rules = RuleSet::builtin();
    for (minor, removals) in deprecation_guide() {
        let release = v(minor);
        for (api_version, kind, replacement) in &removals {
            let rule = rules.get(api_version, kind).unwrap_or_else(|| panic!("{api_version} {kind} missing"));
            assert_eq!(rule.removed_in, Some(release), "{api_version} {kind}");
            assert_eq!(rule.status_at(release), Some(ApiStatus::Removed));
            assert_eq!(
                rule.status_at(v(minor - 1)),
                Some(ApiStatus::Deprecated),
                "{api_version} {kind} is deprecated before"
            );
            let expected = (!replacement.is_empty()).then(|| replacement.to_string());
            assert_eq!(rules.replacement_at(rule, release), expected, "{api_version} {kind}");
        }
        let listed: BTreeSet<(&str, &str)> = removals.iter().map(|(a, k, _)| (*a, *k)).collect();
        for rule in rules.removed_in(release) {
            let key = (rule.api_version.as_str(), rule.kind.as_str());
            assert!(listed.contains(&key) || BEYOND_THE_GUIDE.contains(&key), "{key:?} is not removed in {release}");
        }
    }
}

#[test]
fn every_replacement_at_the_newest_release_is_served_there() {
    use k8s_openapi::Resource;
    macro_rules! kinds {
        ($($t:ty),* $(,)?) => { BTreeSet::from([$((<$t>::API_VERSION, <$t>::KIND)),*]) };
    }
    use k8s_openapi::api::*;
    let served = kinds![
        apps::v1::DaemonSet,
        apps::v1::Deployment,
        apps::v1::ReplicaSet,
        apps::v1::StatefulSet,
        apps::v1::ControllerRevision,
        networking::v1::NetworkPolicy,
        networking::v1::Ingress,
        networking::v1::IngressClass,
        networking::v1::IPAddress,
        networking::v1::ServiceCIDR,
        policy::v1::PodDisruptionBudget,
        admissionregistration::v1::MutatingWebhookConfiguration,
        admissionregistration::v1::ValidatingWebhookConfiguration,
        admissionregistration::v1::ValidatingAdmissionPolicy,
        admissionregistration::v1::ValidatingAdmissionPolicyBinding,
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService,
        authentication::v1::TokenReview,
        authentication::v1::SelfSubjectReview,
        authorization::v1::LocalSubjectAccessReview,
        authorization::v1::SelfSubjectAccessReview,
        authorization::v1::SelfSubjectRulesReview,
        authorization::v1::SubjectAccessReview,
        certificates::v1::CertificateSigningRequest,
        coordination::v1::Lease,
        rbac::v1::ClusterRole,
        rbac::v1::ClusterRoleBinding,
        rbac::v1::Role,
        rbac::v1::RoleBinding,
        scheduling::v1::PriorityClass,
        storage::v1::CSIDriver,
        storage::v1::CSINode,
        storage::v1::StorageClass,
        storage::v1::VolumeAttachment,
        storage::v1::CSIStorageCapacity,
        storage::v1::VolumeAttributesClass,
        batch::v1::CronJob,
        discovery::v1::EndpointSlice,
        events::v1::Event,
        autoscaling::v2::HorizontalPodAutoscaler,
        node::v1::RuntimeClass,
        flowcontrol::v1::FlowSchema,
        flowcontrol::v1::PriorityLevelConfiguration,
    ];
    let rules = RuleSet::builtin();
    for rule in rules.rules() {
        let Some(replacement) = rules.replacement_at(rule, NEWEST_RELEASE) else {
            assert_eq!(rule.kind, "PodSecurityPolicy", "only PodSecurityPolicy has no replacement");
            continue;
        };
        assert!(
            served.contains(&(replacement.as_str(), rule.kind.as_str())),
            "{} {} -> {replacement}",
            rule.api_version,
            rule.kind
        );
    }
}

#[test]
fn the_deprecation_only_marking_follows_the_target() {
    let rules = RuleSet::builtin();
    let statuses: Vec<Option<ApiStatus>> =
        [20, 21, 24, 25, 30].iter().map(|m| rules.get("batch/v1beta1", "CronJob").unwrap().status_at(v(*m))).collect();
    assert_eq!(statuses, [None, Some(D), Some(D), Some(R), Some(R)]);
}
