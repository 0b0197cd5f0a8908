//! Removed-API detection against the real API server (v1.24), with objects
//! written by kubectl itself: client-side applies (last-applied annotation
//! and a `kubectl-client-side-apply` managed-fields entry per apiVersion),
//! re-applies in the current version (the stale entry the server keeps is
//! checked to be there, so the false positive is really on offer), `kubectl
//! create` and server-side apply (no annotation: managed fields only), a
//! client-side apply followed by a server-side one; a Helm release Secret;
//! the server's own `/metrics`; and the rule table against the deprecation
//! warnings the server sends for every deprecated API it serves.

use std::{collections::BTreeSet, io::Write, path::Path};

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use k8sops_testkit::e2e;
use k8sops_upgrade::{
    removed_apis::{find_removed_apis, Finding, RemovedApiParams, Source},
    rules::{ApiStatus, MinorVersion, RuleSet},
};
use kube::{api::PostParams, Api};
use serde_json::{json, Value};

fn cronjob(ns: &str, name: &str, api_version: &str, schedule: &str) -> String {
    format!(
        "apiVersion: {api_version}\nkind: CronJob\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  schedule: \"{schedule}\"\n  \
         jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          \
         containers: [{{name: c, image: busybox}}]\n"
    )
}

fn pdb(ns: &str, name: &str, api_version: &str) -> String {
    format!(
        "apiVersion: {api_version}\nkind: PodDisruptionBudget\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  \
         minAvailable: 1\n  selector:\n    matchLabels: {{app: {name}}}\n"
    )
}

/// Runs kubectl with `args` on a manifest written to a file of `dir`.
async fn kubectl_with(real: &e2e::RealServer, dir: &Path, manifest: &str, args: &[&str]) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static FILES: AtomicUsize = AtomicUsize::new(0);
    let file = dir.join(format!("manifest-{}.yaml", FILES.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&file, manifest).unwrap();
    let path = file.display().to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-f", path.as_str()]);
    real.kubectl_ok(&all).await;
}

/// A release Secret as Helm 3 writes it (JSON, gzip at best compression,
/// base64, stored as the Secret's `data.release`).
fn helm_release_secret(name: &str, ns: &str, manifest: &str) -> Value {
    let release = json!({"name": name, "namespace": ns, "version": 1, "manifest": manifest,
        "info": {"status": "deployed", "description": "Install complete"},
        "chart": {"metadata": {"name": name, "version": "0.1.0"}}, "config": {}});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(release.to_string().as_bytes()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
           "metadata": {"name": format!("sh.helm.release.v1.{name}.v1"), "namespace": ns,
                        "labels": {"name": name, "owner": "helm", "status": "deployed", "version": "1"}},
           "data": {"release": b64.encode(b64.encode(gz.finish().unwrap()))}})
}

type Row = (ApiStatus, String, String, Source);

fn rows_in(findings: &[Finding], ns: &str) -> Vec<Row> {
    findings
        .iter()
        .filter(|f| f.namespace == ns)
        .map(|f| (f.status, f.kind.clone(), f.name.clone(), f.source))
        .collect()
}

#[tokio::test]
async fn objects_written_by_kubectl_are_judged_by_their_latest_apply() {
    let Some(real) = e2e::real_oracle().await else { return };
    let cluster = real.cluster.clone();
    let ns = e2e::fresh_namespace(&cluster, "rmapi").await;
    let dir = tempfile::tempdir().unwrap();

    // Still applied from an old manifest.
    kubectl_with(&real, dir.path(), &cronjob(&ns, "csa-old", "batch/v1beta1", "0 3 * * *"), &["apply"]).await;
    // Applied old, then re-applied in the current version with one field changed.
    kubectl_with(&real, dir.path(), &cronjob(&ns, "csa-reapplied", "batch/v1beta1", "0 3 * * *"), &["apply"]).await;
    kubectl_with(&real, dir.path(), &cronjob(&ns, "csa-reapplied", "batch/v1", "0 4 * * *"), &["apply"]).await;
    // Created without apply: no annotation.
    kubectl_with(&real, dir.path(), &pdb(&ns, "created", "policy/v1beta1"), &["create"]).await;
    // Server-side applied old; server-side applied old, then current.
    kubectl_with(&real, dir.path(), &pdb(&ns, "ssa-old", "policy/v1beta1"), &["apply", "--server-side"]).await;
    kubectl_with(&real, dir.path(), &pdb(&ns, "ssa-reapplied", "policy/v1beta1"), &["apply", "--server-side"]).await;
    kubectl_with(&real, dir.path(), &pdb(&ns, "ssa-reapplied", "policy/v1"), &["apply", "--server-side"]).await;
    // Client-side applied old, then server-side applied current.
    kubectl_with(&real, dir.path(), &pdb(&ns, "csa-then-ssa", "policy/v1beta1"), &["apply"]).await;
    kubectl_with(&real, dir.path(), &pdb(&ns, "csa-then-ssa", "policy/v1"), &["apply", "--server-side"]).await;
    // A Helm release whose manifest still has a policy/v1beta1 PodDisruptionBudget.
    let secrets: Api<Secret> = Api::namespaced(cluster.client().clone(), &ns);
    let manifest = format!("---\n# Source: web/templates/pdb.yaml\n{}", pdb(&ns, "helm-web", "policy/v1beta1"));
    let secret: Secret = serde_json::from_value(helm_release_secret("web", &ns, &manifest)).unwrap();
    secrets.create(&PostParams::default(), &secret).await.unwrap();

    // The trap is real: the server kept the batch/v1beta1 entry of the re-applied CronJob.
    let reapplied: Value = serde_json::from_str(
        &real.kubectl_ok(&["get", "cronjob", "csa-reapplied", "-n", &ns, "-o", "json", "--show-managed-fields"]).await,
    )
    .unwrap();
    let versions: BTreeSet<&str> = reapplied["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["manager"] == "kubectl-client-side-apply")
        .filter_map(|e| e["apiVersion"].as_str())
        .collect();
    assert_eq!(versions, BTreeSet::from(["batch/v1", "batch/v1beta1"]), "{reapplied}");

    let at_125 =
        find_removed_apis(&cluster, &RemovedApiParams::default().target(MinorVersion::new(1, 25))).await.unwrap();
    let mut rows = rows_in(&at_125.findings, &ns);
    rows.sort();
    let r = |kind: &str, name: &str, source| (ApiStatus::Removed, kind.to_string(), name.to_string(), source);
    let mut expected = vec![
        r("CronJob", "csa-old", Source::Annotation),
        r("PodDisruptionBudget", "created", Source::ManagedFields),
        r("PodDisruptionBudget", "ssa-old", Source::ManagedFields),
        r("PodDisruptionBudget", "helm-web", Source::Helm),
    ];
    expected.sort();
    assert_eq!(rows, expected, "{at_125}");
    assert_eq!(at_125.target, MinorVersion::new(1, 25));
    let created = at_125.findings.iter().find(|f| f.name == "created").unwrap();
    assert!(created.location.contains("kubectl-create (Update at "), "{}", created.location);

    // At the server's own version (1.24) the same uses are deprecations.
    let at_server = find_removed_apis(&cluster, &RemovedApiParams::default().metrics(false)).await.unwrap();
    assert_eq!(at_server.target, MinorVersion::new(1, 24));
    let statuses: BTreeSet<ApiStatus> =
        at_server.findings.iter().filter(|f| f.namespace == ns).map(|f| f.status).collect();
    assert_eq!(statuses, BTreeSet::from([ApiStatus::Deprecated]), "{at_server}");
    assert_eq!(rows_in(&at_server.findings, &ns).len(), 4);

    // The server's metric names the deprecated APIs kubectl just called.
    let from_metrics: BTreeSet<(&str, &str, ApiStatus)> = at_125
        .findings
        .iter()
        .filter(|f| f.source == Source::Metrics)
        .map(|f| (f.api_version.as_str(), f.kind.as_str(), f.status))
        .collect();
    assert!(from_metrics.contains(&("batch/v1beta1", "CronJob", ApiStatus::Removed)), "{at_125}");
    assert!(from_metrics.contains(&("policy/v1beta1", "PodDisruptionBudget", ApiStatus::Removed)), "{at_125}");
    assert!(!at_125.notes.iter().any(|n| n.what == "/metrics"), "{at_125}");

    real.kubectl(&["delete", "namespace", &ns, "--wait=false"]).await;
}

/// `... is deprecated in v1.X+, unavailable in v1.Y+` → (X, Y).
fn parse_warning(stderr: &str) -> Option<(u32, u32)> {
    let line = stderr.lines().find(|l| l.contains(" is deprecated in v1."))?;
    let dep = line.split(" is deprecated in v1.").nth(1)?.split('+').next()?.parse().ok()?;
    let rem = line.split("unavailable in v1.").nth(1)?.split('+').next()?.parse().ok()?;
    Some((dep, rem))
}

#[tokio::test]
async fn the_rule_table_agrees_with_the_servers_deprecation_warnings() {
    let Some(real) = e2e::real_oracle().await else { return };
    let client = real.cluster.client().clone();
    let rules = RuleSet::builtin();
    let server = MinorVersion::from(&real.cluster.server_version().await.unwrap());
    let groups = client.list_api_groups().await.unwrap();
    let mut compared = Vec::new();
    for group in &groups.groups {
        for gv in &group.versions {
            let listed = client.list_api_group_resources(&gv.group_version).await.unwrap();
            for res in listed.resources.iter().filter(|r| !r.name.contains('/') && r.verbs.iter().any(|v| v == "list"))
            {
                let Some(rule) = rules.by_resource(&group.name, &gv.version, &res.name) else { continue };
                let (ok, _, stderr) =
                    real.kubectl(&["get", "--raw", &format!("/apis/{}/{}?limit=1", gv.group_version, res.name)]).await;
                assert!(ok, "{stderr}");
                let Some((dep, rem)) = parse_warning(&stderr) else {
                    // Not deprecated yet on this server (flowcontrol v1beta2 on 1.24).
                    assert!(
                        rule.deprecated_in > Some(server),
                        "{} {} is deprecated in the table but not on {server}",
                        rule.api_version,
                        rule.kind
                    );
                    compared.push(format!("{} {} (not deprecated yet)", rule.api_version, rule.kind));
                    continue;
                };
                assert_eq!(
                    (rule.deprecated_in, rule.removed_in),
                    (Some(MinorVersion::new(1, dep)), Some(MinorVersion::new(1, rem))),
                    "{} {}: the server says {stderr}",
                    rule.api_version,
                    rule.kind
                );
                compared.push(format!("{} {}", rule.api_version, rule.kind));
            }
        }
    }
    // batch, policy (2), autoscaling (2), discovery, events, node, flowcontrol (2), storage on 1.24.
    assert!(compared.len() >= 10, "only {compared:?}");
}
