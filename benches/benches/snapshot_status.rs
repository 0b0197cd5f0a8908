//! `etcdctl snapshot status` of a ~800 MB snapshot against k8sops'
//! `snapshot::status` on the same file, warm (page cache filled): median
//! wall time of each, and the peak resident set size of each in a child
//! process of its own (GNU time's `%M`).
//!
//! ```text
//! cargo bench -p k8sops-benches --bench snapshot_status
//! K8SOPS_BENCH_SNAPSHOT_KEYS=10000 cargo bench -p k8sops-benches --bench snapshot_status
//! ```
//!
//! The bench runs an etcd of its own (the `etcd` binary, plain HTTP on spare
//! ports, data in `target/k8sops-bench/etcd/`, stopped when the bench ends)
//! rather than the tests' shared one, which 800 MB would slow for every
//! other snapshot test. It is filled once with 100,000 values of 7.5 KB
//! under `/k8sops-bench/snapshot-status/`; a marker key records that, so
//! later runs on the same data directory skip the fill. Then `etcdctl
//! snapshot save` writes the snapshot into `target/k8sops-bench/`. Without
//! `etcd` and `etcdctl` the bench is skipped.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use futures::{stream, StreamExt, TryStreamExt};
use k8sops::backup::{
    etcd::{Client, ConnectOptions, Txn, TxnOp},
    snapshot::{self, OutputFormat},
};
use k8sops_benches::{env_usize, measure, mib, print, Comparison};

const PREFIX: &str = "/k8sops-bench/snapshot-status/";
const MARKER: &str = "/k8sops-bench/snapshot-status-filled";
const VALUE_LEN: usize = 7_680;
/// Puts per transaction: 64 values of 7.5 KB stay well under etcd's 1.5 MiB request limit.
const BATCH: usize = 64;
/// The child-process mode: print ours for the file and exit.
const CHILD_VAR: &str = "K8SOPS_BENCH_SNAPSHOT_STATUS_FILE";
const RUNS: usize = 7;

/// The bench's own etcd, stopped on drop (its data directory stays).
struct BenchEtcd {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for BenchEtcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn etcdctl_ok(args: &[&str]) -> bool {
    Command::new("etcdctl").env("ETCDCTL_API", "3").args(args).output().is_ok_and(|o| o.status.success())
}

/// Starts etcd on `dir/data` (created on first use), or `None` when it is not installed.
fn start_etcd(dir: &Path) -> Option<BenchEtcd> {
    if Command::new("etcd").arg("--version").output().is_err() || !etcdctl_ok(&["version"]) {
        return None;
    }
    let (client, peer) = (free_port(), free_port());
    let endpoint = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let log = std::fs::File::create(dir.join("etcd.log")).expect("etcd log");
    let child = Command::new("etcd")
        .args(["--name", "k8sops-bench", "--data-dir"])
        .arg(dir.join("data"))
        .args(["--listen-client-urls", &endpoint, "--advertise-client-urls", &endpoint])
        .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
        .args(["--initial-cluster", &format!("k8sops-bench={peer_url}")])
        .args(["--quota-backend-bytes", "4294967296"])
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start etcd");
    let etcd = BenchEtcd { child, endpoint };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !etcdctl_ok(&[&format!("--endpoints={}", etcd.endpoint), "endpoint", "health"]) {
        assert!(Instant::now() < deadline, "etcd did not become healthy; see {}", dir.join("etcd.log").display());
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(etcd)
}

async fn connect(etcd: &BenchEtcd) -> Client {
    let options = ConnectOptions::new().with_timeout(Duration::from_secs(60));
    Client::connect([etcd.endpoint.as_str()], Some(options)).await.expect("connect to the bench etcd")
}

/// A value of `VALUE_LEN` bytes that differs per key (xorshift), so pages do not repeat.
fn value(i: usize) -> Vec<u8> {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..VALUE_LEN)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'a' + (x % 26) as u8
        })
        .collect()
}

/// Writes `keys` values under [`PREFIX`] unless the marker says they are there.
async fn fill(etcd: &BenchEtcd, keys: usize) {
    let mut client = connect(etcd).await;
    let want = format!("{keys}x{VALUE_LEN}");
    let marker = client.get(MARKER, None).await.expect("read the marker key");
    if marker.kvs().first().is_some_and(|kv| kv.value() == want.as_bytes()) {
        println!("etcd already holds {keys} values of {VALUE_LEN} bytes under {PREFIX}");
        return;
    }
    let start = Instant::now();
    let batches: Vec<std::ops::Range<usize>> = (0..keys).step_by(BATCH).map(|s| s..(s + BATCH).min(keys)).collect();
    stream::iter(batches)
        .map(|range| {
            let mut kv = client.kv_client();
            async move {
                let ops: Vec<TxnOp> = range.map(|i| TxnOp::put(format!("{PREFIX}k{i:06}"), value(i), None)).collect();
                kv.txn(Txn::new().and_then(ops)).await.map(|_| ())
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await
        .expect("fill the test etcd");
    client.put(MARKER, want, None).await.expect("write the marker key");
    println!("filled etcd with {keys} values of {VALUE_LEN} bytes in {:.1} s", start.elapsed().as_secs_f64());
}

fn etcdctl_status(path: &Path) -> Command {
    let mut cmd = Command::new("etcdctl");
    cmd.env("ETCDCTL_API", "3").args(["snapshot", "status"]).arg(path).args(["-w", "json"]);
    cmd
}

/// User plus system CPU time of one run of `command`, as GNU time reports it.
fn cpu_time(command: &Command) -> Duration {
    let stats = tempfile::NamedTempFile::new().expect("temp file");
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args(["-f", "%U %S", "-o"]).arg(stats.path()).arg(command.get_program()).args(command.get_args());
    for (k, v) in command.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let out = cmd.stdout(std::process::Stdio::null()).output().expect("GNU time runs");
    assert!(out.status.success(), "{:?} failed", command.get_program());
    let text = std::fs::read_to_string(stats.path()).expect("GNU time's output");
    let secs: f64 = text.lines().last().unwrap_or("").split_whitespace().filter_map(|t| t.parse::<f64>().ok()).sum();
    Duration::from_secs_f64(secs)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    if let Some(path) = std::env::var_os(CHILD_VAR) {
        let s = snapshot::status(PathBuf::from(path)).expect("snapshot status");
        print!("{}", s.render(OutputFormat::Json));
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/k8sops-bench");
    std::fs::create_dir_all(dir.join("etcd")).expect("bench directory");
    let Some(etcd) = start_etcd(&dir.join("etcd")) else {
        println!("skipped: etcd and etcdctl are not installed (scripts/install-deps.sh installs them)");
        return;
    };
    let keys = env_usize("K8SOPS_BENCH_SNAPSHOT_KEYS", 100_000);
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(fill(&etcd, keys));

    let path = dir.join("snapshot-status.db");
    let _ = std::fs::remove_file(&path);
    let start = Instant::now();
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", etcd.endpoint))
        .args(["snapshot", "save"])
        .arg(&path)
        .output()
        .expect("etcdctl runs");
    assert!(out.status.success(), "etcdctl snapshot save: {}", String::from_utf8_lossy(&out.stderr));
    drop(etcd);
    // Wait for the snapshot to reach the disk: writeback would otherwise run during the timings.
    std::fs::File::open(&path).and_then(|f| f.sync_all()).expect("sync the snapshot");
    let size = std::fs::metadata(&path).expect("snapshot").len();
    println!(
        "snapshot: {} ({}) saved in {:.1} s",
        path.display(),
        snapshot::humanize_bytes(size),
        start.elapsed().as_secs_f64()
    );

    // Warm both (and the page cache), and check they agree.
    let theirs = measure(&etcdctl_status(&path), true).1;
    let ours = snapshot::status(&path).expect("snapshot status");
    assert_eq!(ours.render(OutputFormat::Json), theirs, "k8sops and etcdctl disagree");
    print!("status: {}", ours.render(OutputFormat::Table));

    // Alternate the two so that load from elsewhere on the machine falls on both alike.
    let (mut etcdctl_times, mut k8sops_times) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = etcdctl_status(&path).output().expect("etcdctl runs");
        assert!(out.status.success());
        etcdctl_times.push(start.elapsed());
        let start = Instant::now();
        snapshot::status(&path).expect("snapshot status");
        k8sops_times.push(start.elapsed());
    }
    let (etcdctl_time, k8sops_time) = (median(etcdctl_times), median(k8sops_times));
    let command = format!("etcdctl snapshot status {} -w json", path.display());
    print(&[Comparison {
        name: format!("snapshot status, {} keys, {}", ours.total_key, snapshot::humanize_bytes(ours.total_size)),
        kubectl: command,
        k8sops: k8sops_time,
        kubectl_time: etcdctl_time,
    }]);

    // Peak RSS and CPU time of each in a process of its own (ours: this
    // bench in its child mode). CPU time does not depend on what else the
    // machine runs; wall time on a busy 2-core machine does.
    let mut child = Command::new(std::env::current_exe().expect("bench executable"));
    child.env(CHILD_VAR, &path);
    let (ours_proc, ours_out) = measure(&child, true);
    assert_eq!(ours_out, theirs, "the child process printed another result");
    let (theirs_proc, _) = measure(&etcdctl_status(&path), false);
    let ours_cpu = median((0..RUNS).map(|_| cpu_time(&child)).collect());
    let theirs_cpu = median((0..RUNS).map(|_| cpu_time(&etcdctl_status(&path))).collect());
    println!(
        "peak RSS: k8sops {}, etcdctl {}; CPU time (user + system, median): k8sops {:.0} ms, etcdctl {:.0} ms ({:.1}x)",
        mib(ours_proc.max_rss_kib),
        mib(theirs_proc.max_rss_kib),
        ours_cpu.as_secs_f64() * 1000.0,
        theirs_cpu.as_secs_f64() * 1000.0,
        theirs_cpu.as_secs_f64() / ours_cpu.as_secs_f64().max(1e-9)
    );

    // The other two readers, for the record.
    let start = Instant::now();
    let report = snapshot::verify(&path).expect("verify");
    let verify_time = start.elapsed();
    assert!(report.is_ok(), "{report}");
    let start = Instant::now();
    let counts = snapshot::prefix_counts(&path).expect("prefix counts");
    let counts_time = start.elapsed();
    println!(
        "verify (SHA-256 trailer + page accounting): {:.0} ms; prefix counts ({} live keys): {:.0} ms",
        verify_time.as_secs_f64() * 1000.0,
        counts.live_keys,
        counts_time.as_secs_f64() * 1000.0
    );
}
