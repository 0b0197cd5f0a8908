//! Helpers for the comparison benches: time a k8sops operation and the
//! kubectl command that does the same against the same server, and print
//! both with their ratio.

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

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
