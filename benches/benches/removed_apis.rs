//! Removed-API detection at scale, against the work kubent and pluto do for
//! the same answer, in objects per second:
//!
//! - a cluster of 50,000 objects (Deployments, ReplicaSets, Ingresses,
//!   CronJobs, Roles, RoleBindings, NetworkPolicies, each with a
//!   last-applied annotation and managed fields) and 500 Helm releases of 3
//!   revisions each, served by the testkit. k8sops lists each resource type
//!   page by page (several at once), reads only annotations and managed
//!   fields, and decodes the latest deployed revision of each release. The
//!   kubent/pluto-like scan lists each type in one request into full JSON
//!   values, parses every last-applied annotation, and decodes and fully
//!   parses every release revision, as the Helm SDK's list does;
//! - a directory of 10,000 manifest files (3 documents each). k8sops reads
//!   them on every core into slim structs; the pluto-like scan reads them
//!   one by one into full YAML values.
//!
//! ```text
//! cargo bench -p k8sops-benches --bench removed_apis
//! K8SOPS_BENCH_OBJECTS=10000 K8SOPS_BENCH_RELEASES=100 K8SOPS_BENCH_MANIFESTS=2000 cargo bench -p k8sops-benches --bench removed_apis
//! ```

use std::{
    path::Path,
    time::{Duration, Instant},
};

use k8sops::upgrade::{
    removed_apis::{find_removed_apis, helm, scan_manifests, RemovedApiParams},
    rules::{MinorVersion, RuleSet},
};
use k8sops_benches::env_usize;
use k8sops_testkit::TestServer;
use kube::api::ListParams;
use serde_json::{json, Value};

const TARGET: MinorVersion = MinorVersion::new(1, 25);
const NAMESPACES: usize = 50;

/// (apiVersion, kind, share of the objects, the old apiVersion 1 in 50 was applied with)
const KINDS: &[(&str, &str, usize, &str)] = &[
    ("apps/v1", "Deployment", 30, "extensions/v1beta1"),
    ("apps/v1", "ReplicaSet", 20, "apps/v1beta2"),
    ("networking.k8s.io/v1", "Ingress", 10, "networking.k8s.io/v1beta1"),
    ("batch/v1", "CronJob", 10, "batch/v1beta1"),
    ("rbac.authorization.k8s.io/v1", "Role", 10, "rbac.authorization.k8s.io/v1beta1"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", 10, "rbac.authorization.k8s.io/v1beta1"),
    ("networking.k8s.io/v1", "NetworkPolicy", 10, "extensions/v1beta1"),
];

fn body(kind: &str, name: &str) -> Value {
    let template = json!({"metadata": {"labels": {"app": name}}, "spec": {"containers": [
        {"name": "app", "image": "registry.example.com/team/app:1.2.3", "ports": [{"containerPort": 8080}],
         "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}}]}});
    match kind {
        "Deployment" | "ReplicaSet" => {
            json!({"spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}}, "template": template}})
        }
        "Ingress" => {
            json!({"spec": {"rules": [{"host": format!("{name}.example.com"), "http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": name, "port": {"number": 80}}}}]}}]}})
        }
        "CronJob" => json!({"spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}}}),
        "Role" => {
            json!({"rules": [{"apiGroups": [""], "resources": ["pods", "configmaps"], "verbs": ["get", "list", "watch"]}]})
        }
        "RoleBinding" => json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name}]}),
        _ => json!({"spec": {"podSelector": {"matchLabels": {"app": name}}, "policyTypes": ["Ingress"]}}),
    }
}

/// One object with the history a real one has: a last-applied annotation
/// and managed fields of the client-side apply and a controller.
fn object(i: usize, api_version: &str, kind: &str, old: &str) -> Value {
    let name = format!("{}-{i}", kind.to_lowercase());
    let ns = format!("team-{}", i % NAMESPACES);
    let applied_with = if i.is_multiple_of(50) { old } else { api_version };
    let mut obj = body(kind, &name);
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    let mut applied = obj.clone();
    applied["apiVersion"] = json!(applied_with);
    applied["metadata"] = json!({"name": name, "namespace": ns, "annotations": {}});
    obj["metadata"] = json!({"name": name, "namespace": ns, "labels": {"app": name, "team": format!("team-{}", i % NAMESPACES)},
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied.to_string()},
        "managedFields": [
            {"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": applied_with, "time": "2024-03-01T10:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}},
                 "f:labels": {".": {}, "f:app": {}, "f:team": {}}}, "f:spec": {}}},
            {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": api_version, "time": "2024-03-01T10:00:05Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:observedGeneration": {}}}, "subresource": "status"}]});
    obj
}

fn cluster_objects(total: usize) -> Vec<Value> {
    let shares: usize = KINDS.iter().map(|k| k.2).sum();
    let mut out = Vec::with_capacity(total + NAMESPACES);
    for n in 0..NAMESPACES {
        out.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("team-{n}")}}));
    }
    for &(api_version, kind, share, old) in KINDS {
        for i in 0..total * share / shares {
            out.push(object(i, api_version, kind, old));
        }
    }
    out
}

fn chart_manifest(release: &str, revision: usize) -> String {
    let pdb_version = if revision == 3 && release.ends_with('7') { "policy/v1beta1" } else { "policy/v1" };
    let mut docs = vec![format!(
        "# Source: {release}/templates/pdb.yaml\napiVersion: {pdb_version}\nkind: PodDisruptionBudget\nmetadata:\n  name: {release}\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n      app: {release}\n"
    )];
    for part in ["api", "worker", "cron", "web"] {
        docs.push(format!(
            "# Source: {release}/templates/{part}.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {release}-{part}\n  labels:\n    app.kubernetes.io/name: {release}\n    app.kubernetes.io/instance: {release}\n    helm.sh/chart: {release}-1.0.{revision}\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: {release}-{part}\n  template:\n    metadata:\n      labels:\n        app: {release}-{part}\n    spec:\n      containers:\n        - name: {part}\n          image: \"registry.example.com/{release}/{part}:1.0.{revision}\"\n          ports:\n            - containerPort: 8080\n          resources:\n            requests: {{cpu: 100m, memory: 128Mi}}\n"
        ));
        docs.push(format!(
            "# Source: {release}/templates/{part}-svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: {release}-{part}\nspec:\n  selector:\n    app: {release}-{part}\n  ports:\n    - port: 80\n      targetPort: 8080\n"
        ));
    }
    format!("---\n{}", docs.join("---\n"))
}

fn helm_secrets(releases: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for r in 0..releases {
        let name = format!("app-{r}");
        for revision in 1..=3 {
            let status = if revision == 3 { "deployed" } else { "superseded" };
            out.push(helm::release_secret(&json!({
                "name": name, "namespace": format!("team-{}", r % NAMESPACES), "version": revision,
                "info": {"status": status, "description": "Upgrade complete"},
                "chart": {"metadata": {"name": name, "version": format!("1.0.{revision}")}},
                "config": {"replicas": 2}, "manifest": chart_manifest(&name, revision)})));
        }
    }
    out
}

/// What kubent and pluto do for the same answer: each resource type in one
/// list request into full JSON values, every last-applied annotation
/// parsed; every Helm release revision decoded and its manifest parsed into
/// full YAML values.
async fn kubent_like(server: &TestServer, paths: &[String], rules: &RuleSet) -> (usize, usize) {
    let client = server.client();
    let (mut objects, mut found) = (0, 0);
    for path in paths {
        // One request for the whole collection, no limit, as kubent's and pluto's clients send it.
        let request = kube::core::Request::new(path).list(&ListParams::default()).unwrap();
        let list: Value = client.request(request).await.expect("list");
        for item in list["items"].as_array().into_iter().flatten() {
            objects += 1;
            let annotation =
                item["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].as_str();
            if let Some(applied) = annotation.and_then(|a| serde_json::from_str::<Value>(a).ok()) {
                let (av, kind) = (applied["apiVersion"].as_str().unwrap_or(""), applied["kind"].as_str().unwrap_or(""));
                found += usize::from(rules.status(av, kind, TARGET).is_some());
            }
        }
    }
    let request =
        kube::core::Request::new("/api/v1/secrets").list(&ListParams::default().labels("owner=helm")).unwrap();
    let secrets: Value = client.request(request).await.expect("secrets");
    for s in secrets["items"].as_array().into_iter().flatten() {
        objects += 1;
        let release = helm::decode_secret_data(s["data"]["release"].as_str().unwrap_or("")).expect("a release");
        for doc in release.manifest.split("\n---") {
            let v: serde_norway::Value = serde_norway::from_str(doc).unwrap_or(serde_norway::Value::Null);
            let (av, kind) = (v["apiVersion"].as_str().unwrap_or(""), v["kind"].as_str().unwrap_or(""));
            found += usize::from(rules.status(av, kind, TARGET).is_some() && release.info.status == "deployed");
        }
    }
    (objects, found)
}

/// 10,000 files of 3 documents; 1 in 40 files has an old Ingress.
fn write_manifests(dir: &Path, files: usize) -> usize {
    for i in 0..files {
        let sub = dir.join(format!("team-{}", i % NAMESPACES));
        std::fs::create_dir_all(&sub).unwrap();
        let ingress = if i.is_multiple_of(40) { "extensions/v1beta1" } else { "networking.k8s.io/v1" };
        let text = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  namespace: team-{ns}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: app-{i}}}\n  template:\n    metadata:\n      labels: {{app: app-{i}}}\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/app:{i}\n          resources:\n            requests: {{cpu: 100m, memory: 128Mi}}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app-{i}\n  namespace: team-{ns}\nspec:\n  selector: {{app: app-{i}}}\n  ports: [{{port: 80, targetPort: 8080}}]\n---\napiVersion: {ingress}\nkind: Ingress\nmetadata:\n  name: app-{i}\n  namespace: team-{ns}\nspec:\n  rules:\n    - host: app-{i}.example.com\n",
            ns = i % NAMESPACES
        );
        std::fs::write(sub.join(format!("app-{i}.yaml")), text).unwrap();
    }
    files * 3
}

/// What pluto's `detect-files` does: each file read and every document
/// parsed into a full YAML value, one file after another.
fn pluto_like_files(dir: &Path, rules: &RuleSet) -> (usize, usize) {
    let (mut docs, mut found) = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for doc in text.split("\n---\n") {
                docs += 1;
                let v: serde_norway::Value = serde_norway::from_str(doc).unwrap_or(serde_norway::Value::Null);
                let (av, kind) = (v["apiVersion"].as_str().unwrap_or(""), v["kind"].as_str().unwrap_or(""));
                found += usize::from(rules.status(av, kind, TARGET).is_some());
            }
        }
    }
    (docs, found)
}

fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::new();
    let mut last = f();
    for _ in 0..runs {
        let start = Instant::now();
        last = f();
        times.push(start.elapsed());
    }
    times.sort();
    (times[times.len() / 2], last)
}

fn per_second(items: usize, d: Duration) -> String {
    format!("{:.0}/s", items as f64 / d.as_secs_f64().max(1e-9))
}

fn row(t: &mut k8sops::Table, what: &str, items: usize, ours: Duration, theirs: Duration) {
    t.row([
        what.to_string(),
        format!("{:.2} s", ours.as_secs_f64()),
        per_second(items, ours),
        format!("{:.2} s", theirs.as_secs_f64()),
        per_second(items, theirs),
        format!("{:.1}x", theirs.as_secs_f64() / ours.as_secs_f64().max(1e-9)),
    ]);
}

fn main() {
    let objects = env_usize("K8SOPS_BENCH_OBJECTS", 50_000);
    let releases = env_usize("K8SOPS_BENCH_RELEASES", 500);
    let files = env_usize("K8SOPS_BENCH_MANIFESTS", 10_000);
    let runs = env_usize("K8SOPS_BENCH_RUNS", 3);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let rules = RuleSet::builtin();
    let mut table = k8sops::Table::new(["scan", "k8sops", "k8sops rate", "kubent/pluto-like", "their rate", "speedup"]);

    // The cluster.
    let server = rt.block_on(TestServer::builder().server_version("v1.24.17").start()).unwrap();
    let started = Instant::now();
    let stored =
        server.insert_all(cluster_objects(objects)).unwrap() + server.insert_all(helm_secrets(releases)).unwrap();
    eprintln!(
        "stored {stored} objects ({releases} releases x 3 revisions) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let params = RemovedApiParams::default().target(TARGET);
    let (ours, report) = median(runs, || rt.block_on(find_removed_apis(&server.cluster(), &params)).unwrap());
    let listed: usize = report.scanned.iter().map(|s| s.objects).sum();
    let paths: Vec<String> = report
        .scanned
        .iter()
        .filter(|s| s.objects > 0)
        .map(|s| {
            let (plural_group, version) = s.resource.rsplit_once('/').unwrap();
            match plural_group.split_once('.') {
                Some((plural, group)) => format!("/apis/{group}/{version}/{plural}"),
                None => format!("/api/{version}/{plural_group}"),
            }
        })
        .collect();
    let (theirs, (their_objects, their_found)) = median(runs, || rt.block_on(kubent_like(&server, &paths, &rules)));
    let items = listed + releases * 3;
    eprintln!(
        "k8sops: {} findings in {listed} objects and {} releases; kubent/pluto-like: {their_found} findings in {their_objects} items",
        report.findings.len(),
        report.helm_releases
    );
    row(&mut table, &format!("cluster: {listed} objects + {} release secrets", releases * 3), items, ours, theirs);
    drop(server);

    // The directory.
    let dir = tempfile::tempdir().unwrap();
    let docs = write_manifests(dir.path(), files);
    let (ours, report) = median(runs, || scan_manifests(dir.path(), &params).unwrap());
    let (theirs, (their_docs, their_found)) = median(runs, || pluto_like_files(dir.path(), &rules));
    eprintln!(
        "k8sops: {} findings in {} files; pluto-like: {their_found} findings in {their_docs} documents",
        report.findings.len(),
        report.files
    );
    row(&mut table, &format!("directory: {files} files, {docs} documents"), docs, ours, theirs);

    print!("{table}");
}
