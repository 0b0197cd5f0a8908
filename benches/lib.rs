//! Helpers for the comparison benches: time a k8sops operation and the
//! kubectl command that does the same against the same server, and print
//! both with their ratio.

pub mod demo_server;
pub mod real_server;

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// The kubectl commands the ops guide runs for the daily checks (nodes,
/// pods, services and their endpoints, usage, warning events), as
/// arguments.
pub const DAILY_KUBECTL: [&[&str]; 6] = [
    &["get", "nodes"],
    &["get", "pods", "--all-namespaces"],
    &["get", "services", "--all-namespaces"],
    &["get", "endpoints", "--all-namespaces"],
    &["top", "nodes"],
    &["get", "events", "--all-namespaces", "--field-selector", "type=Warning"],
];

/// One comparison row.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// What was measured.
    pub name: String,
    /// The kubectl command line.
    pub kubectl: String,
    /// Median wall time of k8sops.
    pub k8sops: Duration,
    /// Median wall time of kubectl.
    pub kubectl_time: Duration,
}

impl Comparison {
    /// kubectl time divided by k8sops time (how many times faster k8sops is).
    pub fn speedup(&self) -> f64 {
        self.kubectl_time.as_secs_f64() / self.k8sops.as_secs_f64().max(1e-9)
    }
}

/// The median of `runs` timings of `f` (after one warm-up run).
pub async fn median_async<F, Fut, T>(runs: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    f().await;
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        f().await;
        times.push(start.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

/// The median wall time of `kubectl ARGS` against `kubeconfig` (after one warm-up
/// run that also fills kubectl's discovery cache in `cache_dir`). Panics if
/// kubectl fails: a comparison against a failing command means nothing.
pub fn kubectl_median(runs: usize, kubeconfig: &Path, cache_dir: &Path, args: &[&str]) -> Duration {
    let run = || {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--cache-dir")
            .arg(cache_dir)
            .args(args)
            .output()
            .expect("kubectl must be installed to run the comparison benches");
        assert!(
            out.status.success() || !out.stdout.is_empty(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run();
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        run();
        times.push(start.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

/// Prints comparison rows as a table.
pub fn print(rows: &[Comparison]) {
    let mut t = k8sops::Table::new(["operation", "k8sops", "kubectl", "speedup", "kubectl command"]);
    for r in rows {
        t.row([
            r.name.clone(),
            format!("{:.1} ms", r.k8sops.as_secs_f64() * 1000.0),
            format!("{:.1} ms", r.kubectl_time.as_secs_f64() * 1000.0),
            format!("{:.1}x", r.speedup()),
            r.kubectl.clone(),
        ]);
    }
    print!("{t}");
}

/// Wall time and peak resident set size of one finished child process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessStats {
    /// From spawn to exit.
    pub wall: Duration,
    /// Peak resident set size in KiB, as GNU time's `%M` reports it (the
    /// kernel's `ru_maxrss` of the child).
    pub max_rss_kib: u64,
}

/// Runs `command` under GNU time (`/usr/bin/time`, Debian package `time`)
/// and returns its stats and standard output (discarded when `keep_stdout`
/// is false, so a large listing costs the child no more than writing to
/// `/dev/null`). Panics when the command fails: a measurement of a failing
/// command means nothing.
pub fn measure(command: &Command, keep_stdout: bool) -> (ProcessStats, String) {
    let stats_file = tempfile::NamedTempFile::new().expect("temp file");
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f").arg("%M").arg("-o").arg(stats_file.path()).arg(command.get_program()).args(command.get_args());
    for (k, v) in command.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.stdout(if keep_stdout { Stdio::piped() } else { Stdio::null() }).stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd.output().expect("GNU time (/usr/bin/time, Debian package `time`) runs the measured commands");
    let wall = start.elapsed();
    assert!(out.status.success(), "{:?} failed: {}", command.get_program(), String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(stats_file.path()).expect("GNU time writes its stats file");
    let max_rss_kib = text
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .next_back()
        .unwrap_or_else(|| panic!("unexpected GNU time output: {text:?}"));
    (ProcessStats { wall, max_rss_kib }, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A size in KiB as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The number in environment variable `name`, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A multi-threaded tokio runtime for a bench's processes.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")
}

/// The cluster sizes of `K8SOPS_BENCH_SIZES` (`NODESxPODS,...`), or of
/// `default` when it is not set.
pub fn sizes(default: &str) -> Vec<(usize, usize)> {
    let list = std::env::var("K8SOPS_BENCH_SIZES").unwrap_or_else(|_| default.to_string());
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let (n, p) = s.split_once('x').expect("sizes look like 1000x30000");
            (n.trim().parse().expect("nodes"), p.trim().parse().expect("pods"))
        })
        .collect()
}

/// The run with the median wall time.
pub fn median(mut runs: Vec<ProcessStats>) -> ProcessStats {
    runs.sort_by_key(|s| s.wall);
    runs[runs.len() / 2]
}

/// A duration in whole milliseconds (`1234 ms`).
pub fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}
