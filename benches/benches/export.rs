//! Resource export at scale: wall time and peak RSS of k8sops
//! `export::export` (to a directory and to a `.tar.gz`) against `kubectl get
//! all,configmap,secret,pv,pvc -A -o yaml` on the same server.
//!
//! ```text
//! cargo bench -p k8sops-benches --bench export                  # real API server, 50,000 objects
//! K8SOPS_BENCH_OBJECTS=10000 K8SOPS_BENCH_RUNS=5 cargo bench -p k8sops-benches --bench export
//! ```
//!
//! The objects live on a real kube-apiserver (../shared/k8s): the one
//! `K8SOPS_E2E_KUBECONFIG` names, or one this bench starts on spare ports
//! and stops. They are spread over ten namespaces `export-bench-N`, each a
//! tenth of `K8SOPS_BENCH_OBJECTS` (default 50,000): 60% ConfigMaps (about
//! 1 KiB of data each), 20% Secrets, 6% Deployments with no replicas (whose
//! ReplicaSets the controller manager adds, 6% more), 4% headless Services
//! and 4% PersistentVolumeClaims; a second run reuses them.
//!
//! Every measured program runs in its own process under GNU time, so peak
//! RSS is the kernel's figure for that program alone: kubectl, and this
//! binary with `K8SOPS_BENCH_ROLE=export`, which connects through the
//! kubeconfig as kubectl does and exports every served type (more than
//! kubectl's list: RBAC, policies, ... too) with Secrets, into a fresh
//! directory (one file per object, mode 0600) or archive under
//! `target/tmp`, kept until every run is measured. kubectl writes to
//! /dev/null (`K8SOPS_BENCH_WRITES` sets the export's write concurrency).
//! `cargo test --benches` runs a small smoke version on the
//! testkit (`K8SOPS_BENCH_ROLE=server` is the testkit in a child process);
//! `K8SOPS_BENCH_TESTKIT=1` runs that version in a `cargo bench` build too.

use std::{
    io::Write,
    process::Command,
    time::{Duration, Instant},
};

use futures::{stream, StreamExt, TryStreamExt};
use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service},
};
use k8sops::{
    backup::{
        export::{export, ExportParams, ExportStatus},
        layout::Location,
        store,
    },
    Cluster,
};
use k8sops_benches::{
    demo_server::{ServerChild, ROLE},
    env_usize, measure, mib,
    real_server::RealServer,
    runtime, ProcessStats,
};
use kube::{
    api::{ListParams, PostParams},
    Api,
};
use serde_json::json;

const NAMESPACES: usize = 10;

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("server") => serve(),
        Ok("export") => run_export(),
        _ => drive(),
    }
}

/// How many objects of each kind a namespace gets, for `total` objects in all.
struct Mix {
    configmaps: usize,
    secrets: usize,
    deployments: usize,
    services: usize,
    claims: usize,
}

impl Mix {
    fn per_namespace(total: usize) -> Mix {
        let n = total / NAMESPACES;
        // Deployments count twice: each gets a ReplicaSet.
        Mix {
            configmaps: n * 60 / 100,
            secrets: n * 20 / 100,
            deployments: n * 6 / 100,
            services: n * 4 / 100,
            claims: n * 4 / 100,
        }
    }
}

fn configmap(i: usize) -> serde_json::Value {
    let data: serde_json::Map<String, serde_json::Value> =
        (0..8).map(|k| (format!("key-{k}"), json!(format!("value {i}-{k} ").repeat(10)))).collect();
    json!({"metadata": {"name": format!("cm-{i}"), "labels": {"app": format!("app-{}", i % 50), "tier": "bench"}}, "data": data})
}

/// Creates what is missing in `ns` (a second run reuses the first's objects).
async fn fill_namespace(client: kube::Client, ns: String, mix: &Mix) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if namespaces.get_opt(&ns).await.expect("get namespace").is_none() {
        let body = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
        namespaces.create(&PostParams::default(), &body).await.expect("create namespace");
    }
    async fn missing<K>(api: &Api<K>, prefix: &str, n: usize) -> Vec<usize>
    where
        K: Clone + serde::de::DeserializeOwned + std::fmt::Debug + kube::Resource,
    {
        let have: std::collections::HashSet<String> = api
            .list_metadata(&ListParams::default())
            .await
            .expect("list")
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect();
        (0..n).filter(|i| !have.contains(&format!("{prefix}-{i}"))).collect()
    }
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let todo = missing(&cms, "cm", mix.configmaps).await;
    create_all(
        todo.into_iter().map(|i| {
            let api = cms.clone();
            async move {
                api.create(&PostParams::default(), &serde_json::from_value(configmap(i)).unwrap()).await.map(|_| ())
            }
        }),
    )
    .await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let todo = missing(&secrets, "secret", mix.secrets).await;
    create_all(todo.into_iter().map(|i| {
        let api = secrets.clone();
        let body = json!({"metadata": {"name": format!("secret-{i}")}, "type": "Opaque",
            "stringData": {"username": format!("user-{i}"), "password": format!("{:x}", i * 7919)}});
        async move { api.create(&PostParams::default(), &serde_json::from_value(body).unwrap()).await.map(|_| ()) }
    }))
    .await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let todo = missing(&deployments, "deploy", mix.deployments).await;
    create_all(todo.into_iter().map(|i| {
        let api = deployments.clone();
        let body = json!({"metadata": {"name": format!("deploy-{i}"), "labels": {"app": format!("deploy-{i}")}},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": format!("deploy-{i}")}},
                "template": {"metadata": {"labels": {"app": format!("deploy-{i}")}},
                    "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9",
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}});
        async move { api.create(&PostParams::default(), &serde_json::from_value(body).unwrap()).await.map(|_| ()) }
    }))
    .await;
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let todo = missing(&services, "svc", mix.services).await;
    create_all(todo.into_iter().map(|i| {
        let api = services.clone();
        let body = json!({"metadata": {"name": format!("svc-{i}")},
            "spec": {"clusterIP": "None", "selector": {"app": format!("deploy-{i}")}, "ports": [{"port": 80}]}});
        async move { api.create(&PostParams::default(), &serde_json::from_value(body).unwrap()).await.map(|_| ()) }
    }))
    .await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    let todo = missing(&claims, "claim", mix.claims).await;
    create_all(todo.into_iter().map(|i| {
        let api = claims.clone();
        let body = json!({"metadata": {"name": format!("claim-{i}")},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "bench-none", "resources": {"requests": {"storage": "1Gi"}}}});
        async move { api.create(&PostParams::default(), &serde_json::from_value(body).unwrap()).await.map(|_| ()) }
    }))
    .await;
}

/// Runs the creates 64 at a time; an AlreadyExists is fine, anything else panics.
async fn create_all<F>(creates: impl Iterator<Item = F>)
where
    F: std::future::Future<Output = Result<(), kube::Error>>,
{
    stream::iter(creates)
        .buffer_unordered(64)
        .map(|r| match r {
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            other => other,
        })
        .try_collect::<Vec<()>>()
        .await
        .expect("create objects");
}

/// Child: the testkit with the demo cluster and `K8SOPS_BENCH_OBJECTS`
/// ConfigMaps; prints `ready KUBECONFIG` and serves until stdin closes.
fn serve() {
    let objects = env_usize("K8SOPS_BENCH_OBJECTS", 2000);
    runtime().block_on(async {
        let server = k8sops_testkit::TestServer::start().await.expect("start testkit");
        server.load(&k8sops_testkit::DemoCluster::small()).expect("load demo");
        let cms = (0..objects).map(|i| {
            let mut o = configmap(i);
            o["apiVersion"] = json!("v1");
            o["kind"] = json!("ConfigMap");
            o["metadata"]["namespace"] = json!("default");
            o
        });
        server.insert_all(cms).expect("insert config maps");
        println!("ready {}", server.kubeconfig_path().display());
        std::io::stdout().flush().expect("stdout");
        k8sops_benches::demo_server::until_stdin_closes().await;
    });
}

/// Child: exports to `K8SOPS_BENCH_DEST` (a directory, or an archive when
/// it ends in `.tar.gz`); prints `MICROS OBJECTS`.
fn run_export() {
    let kubeconfig = std::env::var("K8SOPS_BENCH_KUBECONFIG").expect("K8SOPS_BENCH_KUBECONFIG");
    let dest = std::env::var("K8SOPS_BENCH_DEST").expect("K8SOPS_BENCH_DEST");
    runtime().block_on(async {
        let cluster = Cluster::from_kubeconfig(&kubeconfig, None).await.expect("connect");
        let to = if dest.ends_with(".tar.gz") {
            Location::archive(&dest)
        } else {
            Location::store(store::local_dir(&dest).expect("local dir"), "")
        };
        let start = Instant::now();
        let mut params = ExportParams::default().include_secrets(true);
        if let Some(n) = std::env::var("K8SOPS_BENCH_WRITES").ok().and_then(|v| v.parse().ok()) {
            params = params.write_concurrency(n);
        }
        let report = export(&cluster, &to, &params).await.expect("export");
        assert_eq!(report.status, ExportStatus::Completed, "{report}");
        println!("{} {}", start.elapsed().as_micros(), report.objects);
    });
}

/// The testkit child; stopped on drop.
struct TestkitServer {
    _child: ServerChild,
    kubeconfig: String,
}

impl TestkitServer {
    fn start(objects: usize) -> TestkitServer {
        let child = ServerChild::start(&[("K8SOPS_BENCH_OBJECTS", objects.to_string())]);
        let kubeconfig = child.ready.strip_prefix("ready ").expect("ready line").trim().to_string();
        TestkitServer { _child: child, kubeconfig }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<(ProcessStats, Duration, u64)>) -> (ProcessStats, Duration, u64) {
    v.sort_by_key(|s| s.0.wall);
    v[v.len() / 2]
}

/// Runs the export child `runs` times into fresh destinations; median by
/// wall time. The destinations are kept in `keep` until every measurement
/// is done: deleting 47,000 files (with the `discard` mount option here)
/// keeps the disk busy for tens of seconds, and that would be measured as
/// part of the next run.
fn k8sops_export(
    kubeconfig: &str,
    archive: bool,
    runs: usize,
    keep: &mut Vec<tempfile::TempDir>,
) -> (ProcessStats, Duration, u64) {
    let mut all = Vec::new();
    for _ in 0..runs.max(1) {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
        let dest = if archive { dir.path().join("backup.tar.gz") } else { dir.path().join("backup") };
        let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
        cmd.env(ROLE, "export").env("K8SOPS_BENCH_KUBECONFIG", kubeconfig).env("K8SOPS_BENCH_DEST", &dest);
        let (stats, out) = measure(&cmd, true);
        let fields: Vec<u64> = out.split_whitespace().map(|f| f.parse().expect("export child output")).collect();
        all.push((stats, Duration::from_micros(fields[0]), fields[1]));
        keep.push(dir);
    }
    median(all)
}

/// Compares the exports with kubectl on the server behind `kubeconfig`.
/// `types` is kubectl's resource list: `all,configmap,...` on a real
/// server; the testkit serves no categories, so there `all` is spelled out.
fn compare(kubeconfig: &str, types: &str, runs: usize, kubectl_runs: usize) {
    let cache = tempfile::tempdir().expect("temp dir");
    let kubectl = |args: &[&str]| {
        let mut c = Command::new("kubectl");
        c.arg("--kubeconfig").arg(kubeconfig).arg("--cache-dir").arg(cache.path()).args(args);
        c
    };
    // Fills kubectl's discovery cache, and counts what kubectl's command lists.
    let (_, names) = measure(&kubectl(&["get", types, "-A", "-o", "name"]), true);
    let listed = names.lines().count();
    let mut outputs = Vec::new();
    let (tree, tree_in, objects) = k8sops_export(kubeconfig, false, runs, &mut outputs);
    let (archive, archive_in, _) = k8sops_export(kubeconfig, true, runs, &mut outputs);
    let mut yaml = Vec::new();
    for _ in 0..kubectl_runs.max(1) {
        yaml.push(measure(&kubectl(&["get", types, "-A", "-o", "yaml"]), false).0);
    }
    yaml.sort_by_key(|s| s.wall);
    let yaml = yaml[yaml.len() / 2];
    let mut t =
        k8sops::Table::new(["operation", "objects", "wall (process)", "in process", "peak rss", "faster than kubectl"]);
    let faster = |s: &ProcessStats| format!("{:.1}x", yaml.wall.as_secs_f64() / s.wall.as_secs_f64());
    t.row([
        "k8sops export, directory (file per object, 0600)".to_string(),
        objects.to_string(),
        ms(tree.wall),
        ms(tree_in),
        mib(tree.max_rss_kib),
        faster(&tree),
    ]);
    t.row([
        "k8sops export, .tar.gz".to_string(),
        objects.to_string(),
        ms(archive.wall),
        ms(archive_in),
        mib(archive.max_rss_kib),
        faster(&archive),
    ]);
    t.row([
        format!("kubectl get {types} -A -o yaml"),
        listed.to_string(),
        ms(yaml.wall),
        "-".into(),
        mib(yaml.max_rss_kib),
        "-".into(),
    ]);
    print!("{t}");
    println!(
        "k8sops: median of {runs} process run(s) each, every served type with Secrets, objects the cluster recreates \
         (ReplicaSets, pods, events) left out; kubectl: median of {kubectl_runs}, its five resource lists, to /dev/null."
    );
}

fn drive() {
    let quick = !std::env::args().any(|a| a == "--bench") || std::env::var_os("K8SOPS_BENCH_TESTKIT").is_some();
    let runs = env_usize("K8SOPS_BENCH_RUNS", if quick { 1 } else { 3 }).max(1);
    let kubectl_runs = env_usize("K8SOPS_BENCH_KUBECTL_RUNS", 1).max(1);
    if quick {
        let objects = env_usize("K8SOPS_BENCH_OBJECTS", 2000);
        let server = TestkitServer::start(objects);
        println!("\nk8sops-testkit (child process): demo cluster + {objects} ConfigMaps");
        let all = "pods,services,deployments,replicasets,statefulsets,daemonsets,jobs,cronjobs,replicationcontrollers";
        compare(&server.kubeconfig, &format!("{all},configmap,secret,pv,pvc"), runs, kubectl_runs);
        return;
    }
    let objects = env_usize("K8SOPS_BENCH_OBJECTS", 50_000);
    let Some(real) = RealServer::connect_or_start() else {
        println!("real API server: skipped (no K8SOPS_E2E_KUBECONFIG and no ../shared/k8s)");
        return;
    };
    let started = Instant::now();
    let mix = Mix::per_namespace(objects);
    runtime().block_on(async {
        let client = real.client().await;
        for n in 0..NAMESPACES {
            fill_namespace(client.clone(), format!("export-bench-{n}"), &mix).await;
        }
    });
    println!(
        "\nreal kube-apiserver (../shared/k8s): {NAMESPACES} namespaces x ({} ConfigMaps, {} Secrets, {} Deployments, {} headless Services, {} claims), filled or checked in {:.1} s",
        mix.configmaps,
        mix.secrets,
        mix.deployments,
        mix.services,
        mix.claims,
        started.elapsed().as_secs_f64()
    );
    compare(&real.kubeconfig.display().to_string(), "all,configmap,secret,pv,pvc", runs, kubectl_runs);
}
