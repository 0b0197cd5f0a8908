//! The capacity report at scale: wall time and peak RSS of k8sops against
//! `kubectl describe nodes`, `kubectl top nodes` and `kubectl get pods -A -o
//! json` on the same server, ratios printed.
//!
//! ```text
//! cargo bench -p k8sops-benches --bench capacity
//! K8SOPS_BENCH_SIZES=1000x30000 K8SOPS_BENCH_RUNS=5 cargo bench -p k8sops-benches --bench capacity
//! ```
//!
//! Every measured program runs in its own process under GNU time, so peak
//! RSS is the kernel's figure for that program alone: the testkit API server
//! runs in a child process (this binary again, `K8SOPS_BENCH_ROLE=server`),
//! and the k8sops side is this binary with `K8SOPS_BENCH_ROLE=report`, which
//! connects through the kubeconfig like kubectl does, builds the capacity
//! report (allocated resources of every node, group totals, headroom,
//! over-commitment, requests vs usage) plus `top nodes`, renders both, and
//! exits. The same child also runs pod diagnosis, the service checks and
//! the daily check once each (`K8SOPS_BENCH_OP`), to show their peak RSS.
//!
//! `kubectl describe nodes` costs about two requests per node behind
//! kubectl's client-side rate limiter, so describing thousands of nodes takes
//! a quarter of an hour or more; it runs on an evenly spread sample of
//! `K8SOPS_BENCH_DESCRIBE_SAMPLE` nodes (default 50) and on one node, and the
//! time for every node is extrapolated as `t(1) + (t(S) - t(1)) / (S - 1) *
//! (N - 1)`. Its peak RSS is the sample's.
//!
//! Environment: `K8SOPS_BENCH_SIZES` (`NODESxPODS,...`, default
//! `1000x30000,5000x150000`), `K8SOPS_BENCH_RUNS` (k8sops runs per size,
//! median reported, default 3), `K8SOPS_BENCH_KUBECTL_RUNS` (default 1).
//! `cargo test --benches` runs one tiny size as a smoke test.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8sops::{
    diagnose::{check_services, cluster_health, diagnose_pods},
    metrics::{capacity_report, top_nodes, SortBy},
    Cluster,
};
use k8sops_benches::{
    demo_server::{self, DemoServer, ROLE},
    env_usize, measure, median, mib, ms,
    real_server::RealServer,
    runtime, sizes, ProcessStats,
};

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("server") => demo_server::serve(),
        Ok("report") => report(),
        _ => drive(),
    }
}

/// Child: the k8sops side. `K8SOPS_BENCH_OP` picks the operation (default
/// `capacity`: the report and top nodes). Prints `MICROS NODES`: the time of
/// the operation itself and the nodes it saw.
fn report() {
    let kubeconfig = std::env::var("K8SOPS_BENCH_KUBECONFIG").expect("K8SOPS_BENCH_KUBECONFIG");
    let op = std::env::var("K8SOPS_BENCH_OP").unwrap_or_else(|_| "capacity".into());
    runtime().block_on(async {
        let cluster = Cluster::from_kubeconfig(&kubeconfig, None).await.expect("connect");
        let start = Instant::now();
        let nodes = match op.as_str() {
            "capacity" => {
                let report = capacity_report(&cluster, &Default::default()).await.expect("capacity report");
                // The real API server has no metrics-server: no usage and no `top nodes` there.
                if std::env::var_os("K8SOPS_BENCH_NO_METRICS").is_none() {
                    let top = top_nodes(&cluster, None, SortBy::Cpu).await.expect("top nodes");
                    std::hint::black_box(top.to_string());
                    assert!(report.usage_known(), "the testkit serves metrics.k8s.io");
                }
                std::hint::black_box(report.to_string());
                report.nodes.len()
            }
            "fetch-sequential" => {
                // The same fetch without prefetching: each page is asked for only after the last one is decoded.
                let nodes: kube::Api<Node> = kube::Api::all(cluster.client().clone());
                let pods: kube::Api<Pod> = kube::Api::all(cluster.client().clone());
                let seen = sequential(&nodes).await;
                sequential(&pods).await;
                seen
            }
            "fetch" => {
                // The floor: the same node and pod lists, paged and decoded, nothing else.
                let size = env_usize("K8SOPS_BENCH_PAGE_SIZE", k8sops::paging::DEFAULT_PAGE_SIZE as usize) as u32;
                let nodes: kube::Api<Node> = kube::Api::all(cluster.client().clone());
                let pods: kube::Api<Pod> = kube::Api::all(cluster.client().clone());
                let mut seen = 0;
                let mut node_pages = std::pin::pin!(k8sops::paging::pages(&cluster, &nodes, Default::default(), size));
                while let Some(page) = node_pages.try_next().await.expect("node page") {
                    seen += page.len();
                }
                let mut pod_pages = std::pin::pin!(k8sops::paging::pages(&cluster, &pods, Default::default(), size));
                while let Some(page) = pod_pages.try_next().await.expect("pod page") {
                    std::hint::black_box(page);
                }
                seen
            }
            "diagnose" => {
                let found = diagnose_pods(&cluster, &Default::default()).await.expect("diagnose pods");
                assert!(!found.pods.is_empty(), "the demo cluster has troubled pods");
                std::hint::black_box(found.to_string());
                cluster_health(&cluster).await.expect("cluster health").nodes_total
            }
            "services" => {
                let report = check_services(&cluster, None).await.expect("check services");
                std::hint::black_box(report.to_string());
                0
            }
            "daily" => {
                let report = k8sops::checklist::Checklist::daily().run(&cluster).await;
                std::hint::black_box(report.to_string());
                let nodes = report.result("nodes").expect("the daily checklist checks nodes");
                assert!(nodes.outcome.ran(), "nodes check: {:?}", nodes.outcome);
                // The pass finding `N nodes, ...` counts them.
                nodes.findings.iter().find_map(|f| f.summary.split_once(" nodes")?.0.parse().ok()).unwrap_or(0)
            }
            other => panic!("unknown K8SOPS_BENCH_OP {other}"),
        };
        println!("{} {}", start.elapsed().as_micros(), nodes);
    });
}

/// Lists every page of `api`, 500 at a time, one request after another; returns the item count.
async fn sequential<K>(api: &kube::Api<K>) -> usize
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut token: Option<String> = None;
    let mut seen = 0;
    loop {
        let mut lp = kube::api::ListParams::default().limit(k8sops::paging::DEFAULT_PAGE_SIZE);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await.expect("page");
        seen += page.items.len();
        std::hint::black_box(&page.items);
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => token = Some(c),
            _ => return seen,
        }
    }
}

/// Runs the k8sops side `runs` times, each in its own process under GNU
/// time: the median process stats, the median in-process time of the
/// operation, and the nodes it saw.
fn run_k8sops(kubeconfig: &str, op: &str, runs: usize, env: &[(&str, String)]) -> (ProcessStats, Duration, u64) {
    let mut stats_runs = Vec::new();
    let mut in_process = Vec::new();
    let mut seen = 0;
    for _ in 0..runs.max(1) {
        let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
        cmd.env(ROLE, "report").env("K8SOPS_BENCH_OP", op).env("K8SOPS_BENCH_KUBECONFIG", kubeconfig);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let (stats, out) = measure(&cmd, true);
        let fields: Vec<u64> = out.split_whitespace().map(|f| f.parse().expect("report child output")).collect();
        in_process.push(Duration::from_micros(fields[0]));
        seen = fields[1];
        stats_runs.push(stats);
    }
    in_process.sort();
    (median(stats_runs), in_process[in_process.len() / 2], seen)
}

/// The capacity report on the real API server, filled by this bench, beside
/// its floor: a bare paged fetch of the same node and pod lists, at several
/// page sizes, and `kubectl get pods -A -o json`, all in one run.
fn drive_real(quick: bool, runs: usize) {
    let size = std::env::var("K8SOPS_BENCH_REAL_SIZE")
        .unwrap_or_else(|_| (if quick { "20x200" } else { "1000x30000" }).into());
    let (n, p) = size.split_once('x').expect("K8SOPS_BENCH_REAL_SIZE looks like 1000x30000");
    let (n, p): (usize, usize) = (n.trim().parse().expect("nodes"), p.trim().parse().expect("pods"));
    let Some(real) = RealServer::connect_or_start() else {
        println!(
            "
real API server: skipped (no K8SOPS_E2E_KUBECONFIG and no ../shared/k8s)"
        );
        return;
    };
    let started = Instant::now();
    runtime().block_on(real.fill(&format!("cap-{n}x{p}"), n, p));
    let kubeconfig = real.kubeconfig.display().to_string();
    let cache = tempfile::tempdir().expect("temp dir");
    let kubectl_real = |args: &[&str]| {
        let mut c = Command::new("kubectl");
        c.arg("--kubeconfig").arg(&kubeconfig).arg("--cache-dir").arg(cache.path()).args(args);
        c
    };
    let (_, names) = measure(&kubectl_real(&["get", "nodes", "-o", "name"]), true);
    let (_, pod_names) = measure(&kubectl_real(&["get", "pods", "-A", "-o", "name"]), true);
    println!(
        "
real kube-apiserver (../shared/k8s): {} nodes, {} pods (filled or checked in {:.1} s)",
        names.lines().count(),
        pod_names.lines().count(),
        started.elapsed().as_secs_f64()
    );
    let no_metrics = [("K8SOPS_BENCH_NO_METRICS", "1".to_string())];
    let (report, report_in, seen) = run_k8sops(&kubeconfig, "capacity", runs, &no_metrics);
    assert_eq!(seen as usize, names.lines().count(), "the report covers every node");
    let mut t = k8sops::Table::new(["operation", "wall (process)", "in process", "peak rss", "vs floor (500)"]);
    let mut floor_500 = Duration::ZERO;
    let mut fetches = Vec::new();
    for size in [250u32, 500, 1000, 2000] {
        let env = [("K8SOPS_BENCH_PAGE_SIZE", size.to_string())];
        let (stats, in_process, _) = run_k8sops(&kubeconfig, "fetch", runs, &env);
        if size == 500 {
            floor_500 = in_process;
        }
        fetches.push((size, stats, in_process));
    }
    let (seq, seq_in, _) = run_k8sops(&kubeconfig, "fetch-sequential", runs, &[]);
    let ratio = |d: Duration| format!("{:.2}x", d.as_secs_f64() / floor_500.as_secs_f64().max(1e-9));
    t.row([
        "k8sops capacity report (page 500)".to_string(),
        ms(report.wall),
        ms(report_in),
        mib(report.max_rss_kib),
        ratio(report_in),
    ]);
    t.row([
        "paged fetch without prefetch, page 500".to_string(),
        ms(seq.wall),
        ms(seq_in),
        mib(seq.max_rss_kib),
        ratio(seq_in),
    ]);
    for (size, stats, in_process) in &fetches {
        t.row([
            format!("bare paged fetch of nodes + pods, page {size}"),
            ms(stats.wall),
            ms(*in_process),
            mib(stats.max_rss_kib),
            ratio(*in_process),
        ]);
    }
    let get_pods = measure(&kubectl_real(&["get", "pods", "-A", "-o", "json"]), false).0;
    t.row([
        "kubectl get pods -A -o json".to_string(),
        ms(get_pods.wall),
        "-".into(),
        mib(get_pods.max_rss_kib),
        "-".into(),
    ]);
    print!("{t}");
    println!(
        "k8sops capacity report vs kubectl get pods -A -o json: {:.1}x faster, {:.1}x smaller (process wall and peak RSS)",
        get_pods.wall.as_secs_f64() / report.wall.as_secs_f64(),
        get_pods.max_rss_kib as f64 / report.max_rss_kib as f64
    );
}

fn drive() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs = env_usize("K8SOPS_BENCH_RUNS", if quick { 1 } else { 3 }).max(1);
    let kubectl_runs = env_usize("K8SOPS_BENCH_KUBECTL_RUNS", 1).max(1);
    let sample = env_usize("K8SOPS_BENCH_DESCRIBE_SAMPLE", if quick { 5 } else { 50 }).max(2);
    for (n, p) in sizes(if quick { "30x600" } else { "1000x30000,5000x150000" }) {
        let started = Instant::now();
        let server = DemoServer::start(n, p);
        println!(
            "\ncluster: {} nodes, {} pods (k8sops-testkit in a child process, loaded in {:.1} s)",
            server.nodes,
            server.pods,
            started.elapsed().as_secs_f64()
        );
        let cache = tempfile::tempdir().expect("temp dir");
        // Also fills kubectl's discovery cache, so no kubectl run below pays for it.
        let (_, names) = measure(&server.kubectl(cache.path(), &["get", "nodes", "-o", "name"]), true);
        let names: Vec<&str> = names.lines().collect();
        assert_eq!(names.len(), server.nodes);

        let k8sops_op = |op: &str, runs: usize| {
            let (stats, in_process, seen) = run_k8sops(&server.kubeconfig, op, runs, &[]);
            assert!(seen == 0 || seen as usize == server.nodes, "every node is seen");
            (stats, in_process)
        };
        let (ours, ours_in_process) = k8sops_op("capacity", runs);

        let get_pods = median(
            (0..kubectl_runs)
                .map(|_| measure(&server.kubectl(cache.path(), &["get", "pods", "-A", "-o", "json"]), false).0)
                .collect(),
        );
        let top = median(
            (0..kubectl_runs).map(|_| measure(&server.kubectl(cache.path(), &["top", "nodes"]), false).0).collect(),
        );
        let step = (names.len() / sample).max(1);
        let picked: Vec<&str> = names.iter().step_by(step).take(sample).copied().collect();
        let mut args = vec!["describe"];
        args.extend(picked.iter().copied());
        let (one, _) = measure(&server.kubectl(cache.path(), &["describe", picked[0]]), false);
        let (many, _) = measure(&server.kubectl(cache.path(), &args), false);
        let per_node = many.wall.saturating_sub(one.wall) / (picked.len() as u32 - 1).max(1);
        let describe_all = one.wall + per_node * (server.nodes as u32 - 1);

        let mut t = k8sops::Table::new(["operation", "wall", "peak rss", "k8sops faster", "k8sops smaller"]);
        let row = |t: &mut k8sops::Table, name: String, wall: Duration, rss: u64| {
            t.row([
                name,
                ms(wall),
                mib(rss),
                format!("{:.1}x", wall.as_secs_f64() / ours.wall.as_secs_f64()),
                format!("{:.1}x", rss as f64 / ours.max_rss_kib as f64),
            ]);
        };
        row(&mut t, "k8sops capacity report + top nodes".into(), ours.wall, ours.max_rss_kib);
        row(&mut t, "kubectl get pods -A -o json".into(), get_pods.wall, get_pods.max_rss_kib);
        row(
            &mut t,
            format!("kubectl describe nodes ({} nodes, extrapolated from {})", server.nodes, picked.len()),
            describe_all,
            many.max_rss_kib,
        );
        row(&mut t, "kubectl top nodes".into(), top.wall, top.max_rss_kib);
        print!("{t}");
        println!(
            "k8sops: median of {runs} process run(s); the report itself took {} in process. \
             kubectl describe: 1 node {}, {} nodes {}.",
            ms(ours_in_process),
            ms(one.wall),
            picked.len(),
            ms(many.wall)
        );
        // The other cluster-wide reads, one run each: memory must stay bounded too.
        let mut others = k8sops::Table::new(["k8sops operation (all namespaces)", "wall", "peak rss"]);
        for (op, name) in [
            ("diagnose", "diagnose_pods + cluster_health"),
            ("services", "check_services"),
            ("daily", "Checklist::daily().run"),
        ] {
            let (stats, _) = k8sops_op(op, 1);
            others.row([name.to_string(), ms(stats.wall), mib(stats.max_rss_kib)]);
        }
        print!("{others}");
    }
    drive_real(quick, runs);
}
