//! The daily checklist at scale: wall time and peak RSS of k8sops
//! `Checklist::daily().run()` against the kubectl commands the ops guide runs
//! for the daily checks, on the same server in the same run.
//!
//! ```text
//! cargo bench -p k8sops-benches --bench checklist
//! K8SOPS_BENCH_SIZES=1000x30000 K8SOPS_BENCH_RUNS=3 cargo bench -p k8sops-benches --bench checklist
//! ```
//!
//! The testkit server runs in a child process (`demo_server`). kubectl:
//! `get nodes`, `get pods -A`, `get services -A`, `get endpoints -A`, `top
//! nodes` and `get events -A --field-selector type=Warning`, one after
//! another as a person runs them, each in its own process under GNU time:
//! the sum of their wall times and the largest peak RSS. k8sops: this binary
//! with `K8SOPS_BENCH_ROLE=daily`, which connects through the kubeconfig
//! like kubectl, runs the daily checklist, writes its table to `/dev/null`
//! and prints each check's elapsed time; a second run with
//! `.concurrency(1)` gives each check's time alone.
//!
//! Environment: `K8SOPS_BENCH_SIZES` (`NODESxPODS,...`, default
//! `5000x150000`), `K8SOPS_BENCH_RUNS` (k8sops runs, median reported,
//! default 1). `cargo test --benches` runs one tiny size as a smoke test.

use std::{io::Write, process::Command, time::Duration};

use k8sops::{checklist::Checklist, Cluster};
use k8sops_benches::{
    demo_server::{self, DemoServer, ROLE},
    env_usize, measure, mib, ms, runtime, sizes, ProcessStats, DAILY_KUBECTL,
};

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("server") => demo_server::serve(),
        Ok("daily") => daily(),
        _ => drive(),
    }
}

/// Child: the k8sops side. Prints one tab-separated line per check, `ID
/// STATUS ELAPSED_MS OUTCOME`, then `total STATUS ELAPSED_MS`.
fn daily() {
    let kubeconfig = std::env::var("K8SOPS_BENCH_KUBECONFIG").expect("K8SOPS_BENCH_KUBECONFIG");
    runtime().block_on(async {
        let cluster = Cluster::from_kubeconfig(&kubeconfig, None).await.expect("connect");
        let list = match env_usize("K8SOPS_BENCH_CONCURRENCY", 0) {
            0 => Checklist::daily(),
            n => Checklist::daily().concurrency(n),
        };
        let report = list.run(&cluster).await;
        let mut null = std::fs::File::create("/dev/null").expect("open /dev/null");
        write!(null, "{report}").expect("write the table");
        for r in &report.results {
            let outcome = r.outcome.reason().unwrap_or_else(|| "ran".into()).replace(['\t', '\n'], " ");
            println!("{}\t{}\t{}\t{outcome}", r.id, r.status, r.elapsed_ms);
        }
        println!("total\t{}\t{}\t", report.status(), report.elapsed_ms);
    });
}

fn drive() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs = env_usize("K8SOPS_BENCH_RUNS", 1).max(1);
    for (n, p) in sizes(if quick { "30x600" } else { "5000x150000" }) {
        let server = DemoServer::start(n, p);
        println!("\ncluster: {} nodes, {} pods (k8sops-testkit in a child process)", server.nodes, server.pods);
        let cache = tempfile::tempdir().expect("temp dir");
        // Fills kubectl's discovery cache, so no measured kubectl run pays for it.
        measure(&server.kubectl(cache.path(), &["api-resources"]), false);

        let mut t = k8sops::Table::new(["command", "wall", "peak rss"]);
        let (mut wall, mut rss) = (Duration::ZERO, 0);
        for args in DAILY_KUBECTL {
            let (stats, _) = measure(&server.kubectl(cache.path(), args), false);
            t.row([format!("kubectl {}", args.join(" ")), ms(stats.wall), mib(stats.max_rss_kib)]);
            wall += stats.wall;
            rss = rss.max(stats.max_rss_kib);
        }
        t.row(["kubectl, all six in sequence (sum, max)".to_string(), ms(wall), mib(rss)]);

        let mut k8sops_runs: Vec<_> = (0..runs).map(|_| run_daily(&server, None)).collect();
        k8sops_runs.sort_by_key(|(s, _)| s.wall);
        let (ours, checks) = k8sops_runs.swap_remove(k8sops_runs.len() / 2);
        t.row(["k8sops Checklist::daily().run()".to_string(), ms(ours.wall), mib(ours.max_rss_kib)]);
        // The same checks one at a time: each check's own time, without the others competing.
        let (alone, alone_checks) = run_daily(&server, Some(1));
        t.row(["k8sops, one check at a time (.concurrency(1))".to_string(), ms(alone.wall), mib(alone.max_rss_kib)]);
        print!("{t}");
        println!(
            "k8sops faster: {:.1}x (wall), smaller: {:.1}x (peak RSS); k8sops: median of {runs} process run(s)",
            wall.as_secs_f64() / ours.wall.as_secs_f64().max(1e-9),
            rss as f64 / ours.max_rss_kib.max(1) as f64
        );

        let mut per = k8sops::Table::new(["check", "status", "elapsed (together)", "elapsed (alone)", "outcome"]);
        for (line, alone) in checks.lines().zip(alone_checks.lines()) {
            let f: Vec<&str> = line.splitn(4, '\t').collect();
            let a: Vec<&str> = alone.splitn(4, '\t').collect();
            assert!(f.len() == 4 && a.len() == 4 && f[0] == a[0], "daily child said {line:?} and {alone:?}");
            // The smoke test's tiny cluster must be checked in full.
            assert!(!quick || f[0] == "total" || f[3] == "ran", "check {} did not run: {}", f[0], f[3]);
            let elapsed = |ms_text: &str| ms(Duration::from_millis(ms_text.parse().expect("elapsed ms")));
            per.row([f[0].to_string(), f[1].to_string(), elapsed(f[2]), elapsed(a[2]), f[3].to_string()]);
        }
        print!("{per}");
    }
}

/// One k8sops process under GNU time: the daily checklist (`concurrency`
/// checks at once, the default when `None`); its stats and per-check lines.
fn run_daily(server: &DemoServer, concurrency: Option<usize>) -> (ProcessStats, String) {
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.env(ROLE, "daily").env("K8SOPS_BENCH_KUBECONFIG", &server.kubeconfig);
    if let Some(n) = concurrency {
        cmd.env("K8SOPS_BENCH_CONCURRENCY", n.to_string());
    }
    measure(&cmd, true)
}
