//! Helpers for end-to-end tests against a real API server named by
//! `K8SOPS_E2E_KUBECONFIG` (scripts/test.sh starts one from ../shared/k8s),
//! against moto (`K8SOPS_MOTO_ENDPOINT`), and for running kubectl as the
//! oracle.
//!
//! A test that needs something missing reports itself skipped through
//! [`skip_or_fail`], which panics instead when `K8SOPS_REQUIRE_E2E=1`
//! (scripts/test.sh sets it whenever it starts the servers), so a CI run
//! cannot pass by skipping.
//!
//! The kubectl oracle tests run kubectl against the *real* server: `kubectl
//! get` prints the server's own Table there, so comparing it with what
//! k8sops renders for the same objects catches display bugs. Against the
//! testkit, kubectl would print the testkit's Table, which is built by the
//! code under test. [`display_fixture`] and [`allocation_fixture`] create
//! the objects those tests compare.

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU32, Ordering},
        OnceLock,
    },
};

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8sops_core::Cluster;
use kube::{
    api::{DeleteParams, Patch, PatchParams, PostParams},
    Api,
};
use serde_json::{json, Value};

/// The environment variable naming the real server's kubeconfig.
///
/// ```
/// // scripts/test.sh exports it after starting the real API server.
/// let configured = std::env::var_os(k8sops_testkit::e2e::KUBECONFIG_VAR).is_some();
/// ```
pub const KUBECONFIG_VAR: &str = "K8SOPS_E2E_KUBECONFIG";

/// The environment variable naming moto's endpoint (`http://127.0.0.1:PORT`).
///
/// ```
/// // scripts/test.sh starts moto_server and exports it.
/// let configured = std::env::var_os(k8sops_testkit::e2e::MOTO_VAR).is_some();
/// ```
pub const MOTO_VAR: &str = "K8SOPS_MOTO_ENDPOINT";

/// The environment variable that turns a skipped end-to-end test into a
/// failure: with `K8SOPS_REQUIRE_E2E=1`, a test whose real API server, moto
/// or kubectl is missing panics instead of returning early.
///
/// ```
/// // scripts/test.sh sets it when it starts the real API server and moto.
/// let strict = std::env::var(k8sops_testkit::e2e::REQUIRE_VAR).as_deref() == Ok("1");
/// ```
pub const REQUIRE_VAR: &str = "K8SOPS_REQUIRE_E2E";

/// Whether end-to-end prerequisites are required (`K8SOPS_REQUIRE_E2E` is
/// `1`, `true` or `yes`).
///
/// ```
/// if k8sops_testkit::e2e::required() {
///     println!("a missing server fails the test");
/// }
/// ```
pub fn required() -> bool {
    matches!(std::env::var(REQUIRE_VAR).as_deref().map(str::trim), Ok("1" | "true" | "yes"))
}

/// Reports that a test cannot run because `reason`: prints `skipped: REASON`
/// (the caller then returns, and the test passes), or panics with the
/// reason when [`required`] — the one place every end-to-end test decides
/// between skipping and failing.
///
/// ```
/// // Not required here: this only prints "skipped: ...".
/// if !k8sops_testkit::e2e::required() {
///     k8sops_testkit::e2e::skip_or_fail("the demo needs nothing");
/// }
/// ```
///
/// # Panics
/// When `K8SOPS_REQUIRE_E2E=1`.
pub fn skip_or_fail(reason: &str) {
    if required() {
        panic!("{REQUIRE_VAR}=1 but {reason}: this end-to-end test must run, not skip");
    }
    eprintln!("skipped: {reason}");
}

/// The kubeconfig of the real API server, or `None` with the reason printed
/// (the test then returns: it reports itself skipped). Panics instead when
/// `K8SOPS_REQUIRE_E2E=1` (see [`skip_or_fail`]).
///
/// ```no_run
/// #[tokio::test]
/// async fn lists_nodes_on_a_real_server() {
///     let Some(path) = k8sops_testkit::e2e::kubeconfig() else { return };
///     let cluster = k8sops_core::Cluster::from_kubeconfig(&path, None).await.unwrap();
///     cluster.server_version().await.unwrap();
/// }
/// ```
pub fn kubeconfig() -> Option<PathBuf> {
    match std::env::var_os(KUBECONFIG_VAR) {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            skip_or_fail(&format!(
                "{KUBECONFIG_VAR} is not set (scripts/test.sh starts a real API server from ../shared/k8s)"
            ));
            None
        }
    }
}

/// The variable naming the admin kubeconfig of the real single-node cluster
/// (`../shared/k8s/node/`: API server, scheduler, kubelet, containerd).
///
/// ```
/// assert_eq!(k8sops_testkit::e2e::NODE_KUBECONFIG_VAR, "K8SOPS_NODE_KUBECONFIG");
/// ```
pub const NODE_KUBECONFIG_VAR: &str = "K8SOPS_NODE_KUBECONFIG";

/// A cluster on the real node, where pods really run, crash and log, or
/// `None` with the reason printed (skip). Panics instead when
/// `K8SOPS_REQUIRE_E2E=1` (see [`skip_or_fail`]).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let Some(node) = k8sops_testkit::e2e::real_node().await else { return };
/// println!("{}", node.kubeconfig.display());
/// # }
/// ```
pub async fn real_node() -> Option<RealServer> {
    match std::env::var_os(NODE_KUBECONFIG_VAR) {
        Some(p) if !p.is_empty() => {
            let kubeconfig = PathBuf::from(p);
            Some(RealServer { cluster: connect(&kubeconfig).await, kubeconfig })
        }
        _ => {
            skip_or_fail(&format!(
                "{NODE_KUBECONFIG_VAR} is not set (scripts/test.sh starts a real node from ../shared/k8s/node)"
            ));
            None
        }
    }
}

/// moto's endpoint URL, or `None` with the reason printed (skip). Panics
/// instead when `K8SOPS_REQUIRE_E2E=1` (see [`skip_or_fail`]).
///
/// ```no_run
/// let Some(endpoint) = k8sops_testkit::e2e::moto_endpoint() else { return };
/// println!("AWS calls go to {endpoint}");
/// ```
pub fn moto_endpoint() -> Option<String> {
    match std::env::var(MOTO_VAR) {
        Ok(e) if !e.trim().is_empty() => Some(e),
        _ => {
            skip_or_fail(&format!("{MOTO_VAR} is not set (scripts/test.sh starts moto_server and sets it)"));
            None
        }
    }
}

/// A real etcd the test script started on 127.0.0.1 with TLS and
/// client-certificate auth (`scripts/etcd.sh`).
///
/// ```no_run
/// let Some(etcd) = k8sops_testkit::e2e::real_etcd() else { return };
/// println!("etcd at {} (CA {})", etcd.endpoint, etcd.cacert.display());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RealEtcd {
    /// The client URL, `https://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The CA certificate that signed the server and client certificates.
    pub cacert: PathBuf,
    /// The client certificate.
    pub cert: PathBuf,
    /// The client certificate's key.
    pub key: PathBuf,
    /// A certificate and key from another CA, which etcd must refuse.
    pub other_cert: PathBuf,
    /// The key of [`other_cert`](Self::other_cert).
    pub other_key: PathBuf,
}

impl RealEtcd {
    /// The `etcdctl` arguments that reach this etcd with its client certificate.
    ///
    /// ```no_run
    /// let Some(etcd) = k8sops_testkit::e2e::real_etcd() else { return };
    /// let out = std::process::Command::new("etcdctl").args(etcd.etcdctl_args()).args(["endpoint", "health"]).output().unwrap();
    /// assert!(out.status.success());
    /// ```
    pub fn etcdctl_args(&self) -> Vec<String> {
        vec![
            format!("--endpoints={}", self.endpoint),
            format!("--cacert={}", self.cacert.display()),
            format!("--cert={}", self.cert.display()),
            format!("--key={}", self.key.display()),
        ]
    }
}

/// The real etcd of the test script, or `None` with the reason printed
/// (skip). Panics instead when `K8SOPS_REQUIRE_E2E=1` (see [`skip_or_fail`]).
///
/// ```no_run
/// let Some(etcd) = k8sops_testkit::e2e::real_etcd() else { return };
/// assert!(etcd.endpoint.starts_with("https://"));
/// ```
pub fn real_etcd() -> Option<RealEtcd> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    match (
        var("K8SOPS_ETCD_ENDPOINT"),
        var("K8SOPS_ETCD_CACERT"),
        var("K8SOPS_ETCD_CERT"),
        var("K8SOPS_ETCD_KEY"),
        var("K8SOPS_ETCD_OTHER_CERT"),
        var("K8SOPS_ETCD_OTHER_KEY"),
    ) {
        (Some(endpoint), Some(cacert), Some(cert), Some(key), Some(other_cert), Some(other_key)) => Some(RealEtcd {
            endpoint: endpoint.to_string_lossy().into_owned(),
            cacert: cacert.into(),
            cert: cert.into(),
            key: key.into(),
            other_cert: other_cert.into(),
            other_key: other_key.into(),
        }),
        _ => {
            skip_or_fail("K8SOPS_ETCD_ENDPOINT and its certificates are not set (scripts/test.sh starts etcd with scripts/etcd.sh)");
            None
        }
    }
}

/// An etcd process of a test's own: plain HTTP on spare ports of
/// 127.0.0.1, data in a temporary directory, killed (and its data removed)
/// on drop, also when the test fails. For what the shared etcd of the test
/// script cannot give: authentication turned on, a known set of keys, a
/// server restored from a snapshot.
///
/// ```no_run
/// let Some(etcd) = k8sops_testkit::e2e::OwnEtcd::start("mine") else { return };
/// assert!(etcd.etcdctl(&["put", "/a", "1"]).status.success());
/// ```
#[derive(Debug)]
pub struct OwnEtcd {
    child: std::process::Child,
    /// Its client URL, `http://127.0.0.1:PORT`.
    pub endpoint: String,
    dir: tempfile::TempDir,
}

impl Drop for OwnEtcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two distinct ports the kernel had free a moment ago (another process
/// may still take one before etcd binds it: [`OwnEtcd`] then starts again).
fn spare_ports() -> (u16, u16) {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").expect("bind a spare port on 127.0.0.1");
    // Both listeners are held until both ports are known, so they differ.
    let (a, b) = (bind(), bind());
    let port = |l: &std::net::TcpListener| l.local_addr().expect("a bound port").port();
    (port(&a), port(&b))
}

impl OwnEtcd {
    /// Starts an empty etcd member named `name` and waits (30 s at most)
    /// until `etcdctl endpoint health` answers. `None` (skipped, see
    /// [`skip_or_fail`]) when etcd is not installed.
    ///
    /// ```no_run
    /// let Some(etcd) = k8sops_testkit::e2e::OwnEtcd::start("empty") else { return };
    /// assert!(etcd.endpoint.starts_with("http://127.0.0.1:"));
    /// ```
    ///
    /// # Panics
    /// When etcd does not become healthy in time.
    pub fn start(name: &str) -> Option<OwnEtcd> {
        if std::process::Command::new("etcd").arg("--version").output().is_err() {
            skip_or_fail("etcd is not installed (scripts/install-deps.sh installs it)");
            return None;
        }
        Some(Self::run(name, tempfile::tempdir().expect("a temporary directory"), None))
    }

    /// Restores `snapshot` with `etcdctl snapshot restore` into a fresh
    /// data directory and starts a member named `name` on it (waiting as
    /// [`OwnEtcd::start`] does): the check that a snapshot is usable.
    ///
    /// ```no_run
    /// let etcd = k8sops_testkit::e2e::OwnEtcd::restore("restored", "backup.db".as_ref());
    /// assert!(etcd.etcdctl(&["get", "/", "--prefix", "--keys-only"]).status.success());
    /// ```
    ///
    /// # Panics
    /// When the restore fails or the member does not become healthy.
    pub fn restore(name: &str, snapshot: &Path) -> OwnEtcd {
        let dir = tempfile::tempdir().expect("a temporary directory");
        // The restored member keeps the peer URL it was restored with.
        let peer_port = spare_ports().0;
        let peer = format!("http://127.0.0.1:{peer_port}");
        let out = std::process::Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["snapshot", "restore"])
            .arg(snapshot)
            .args(["--name", name, "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--initial-cluster", &format!("{name}={peer}"), "--initial-advertise-peer-urls", &peer])
            .output()
            .expect("etcdctl runs");
        assert!(out.status.success(), "etcdctl snapshot restore: {}", String::from_utf8_lossy(&out.stderr));
        Self::run(name, dir, Some(peer_port))
    }

    /// Starts etcd on spare ports (the peer port fixed for a restored
    /// member) and waits until it is healthy. An etcd that exits at once
    /// (a port taken in the meantime) is started again on other ports, up
    /// to three times; its log is kept in the data directory's parent.
    fn run(name: &str, mut dir: tempfile::TempDir, peer_port: Option<u16>) -> OwnEtcd {
        let log_path = dir.path().join("etcd.log");
        for attempt in 1..=3 {
            let (client_port, spare_peer) = spare_ports();
            let endpoint = format!("http://127.0.0.1:{client_port}");
            let peer = format!("http://127.0.0.1:{}", peer_port.unwrap_or(spare_peer));
            let log = std::fs::File::create(&log_path).expect("etcd's log file");
            let child = std::process::Command::new("etcd")
                .args(["--name", name, "--data-dir"])
                .arg(dir.path().join("data"))
                .args(["--listen-client-urls", &endpoint, "--advertise-client-urls", &endpoint])
                .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
                .args(["--initial-cluster", &format!("{name}={peer}")])
                .stdout(std::process::Stdio::null())
                .stderr(log)
                .spawn()
                .expect("etcd runs");
            let mut etcd = OwnEtcd { child, endpoint, dir };
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                if etcd.etcdctl(&["--command-timeout=1s", "endpoint", "health"]).status.success() {
                    return etcd;
                }
                let exited = matches!(etcd.child.try_wait(), Ok(Some(_)));
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                let tail: String = log.lines().rev().take(5).collect::<Vec<_>>().join("\n");
                if exited && attempt < 3 && peer_port.is_none() {
                    // Start afresh: the member it began to write names the old ports.
                    dir = std::mem::replace(&mut etcd.dir, tempfile::tempdir().expect("a temporary directory"));
                    let _ = std::fs::remove_dir_all(dir.path().join("data"));
                    break;
                }
                assert!(!exited, "etcd {name} exited: {tail}");
                assert!(std::time::Instant::now() < deadline, "etcd {name} did not become healthy: {tail}");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        unreachable!("the third attempt returns or panics")
    }

    /// `etcdctl --endpoints=THIS ARGS` (API v3), stopped after 30 s by
    /// coreutils' `timeout`.
    ///
    /// ```no_run
    /// # let Some(etcd) = k8sops_testkit::e2e::OwnEtcd::start("e") else { return };
    /// let out = etcd.etcdctl(&["endpoint", "status", "-w", "json"]);
    /// assert!(out.status.success());
    /// ```
    ///
    /// # Panics
    /// When etcdctl cannot be run.
    pub fn etcdctl(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("timeout")
            .args(["-s", "KILL", "30", "etcdctl"])
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", self.endpoint))
            .args(args)
            .output()
            .expect("etcdctl runs")
    }

    /// A directory for the test's own files, removed with the etcd.
    ///
    /// ```no_run
    /// # let Some(etcd) = k8sops_testkit::e2e::OwnEtcd::start("e") else { return };
    /// let snapshot = etcd.dir().join("snapshot.db");
    /// # let _ = snapshot;
    /// ```
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Waits (a minute at most, polling every 250 ms) until `f` returns
/// something: a real server's controllers work asynchronously.
///
/// ```no_run
/// # async fn f(real: &k8sops_testkit::e2e::RealServer) {
/// let out = k8sops_testkit::e2e::eventually("the budget's status", || async {
///     let out = real.kubectl_ok(&["get", "pdb", "web", "-o", "jsonpath={.status.disruptionsAllowed}"]).await;
///     (out == "0").then_some(out)
/// })
/// .await;
/// # }
/// ```
///
/// # Panics
/// When `f` has returned nothing for a minute, naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// Whether `text` (logs, or an error from k8sops or kubectl) is one of the
/// kubelet's answers while it replaces a crash-looping container: the
/// container `--previous` names is being removed ("unable to retrieve
/// container logs for ..."), or the one that just ended is not yet recorded
/// as the previous one (a 400, "previous terminated container ... not
/// found"). kubectl prints the same; a test asks again.
///
/// ```
/// use k8sops_testkit::e2e::kubelet_replacing_container;
/// assert!(kubelet_replacing_container("unable to retrieve container logs for containerd://ab12"));
/// assert!(kubelet_replacing_container(r#"previous terminated container "app" in pod "talker" not found"#));
/// assert!(!kubelet_replacing_container("line 1\nline 2\n"));
/// ```
pub fn kubelet_replacing_container(text: &str) -> bool {
    text.contains("unable to retrieve container logs for ") || text.contains("previous terminated container")
}

/// Whether `kubectl` runs (`kubectl version --client`); checked once per process.
///
/// ```no_run
/// if !k8sops_testkit::e2e::kubectl_installed() {
///     eprintln!("install kubectl to run the oracle tests");
/// }
/// ```
pub fn kubectl_installed() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        std::process::Command::new("kubectl")
            .args(["version", "--client"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}

/// `true` when kubectl is installed; otherwise reports the test skipped (or
/// fails it when `K8SOPS_REQUIRE_E2E=1`) and returns `false`.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// if !k8sops_testkit::e2e::require_kubectl() {
///     return Ok(());
/// }
/// let server = k8sops_testkit::TestServer::start().await?;
/// let (ok, _, stderr) = server.kubectl(&["get", "ns"]).await;
/// assert!(ok, "{stderr}");
/// # Ok(()) }
/// ```
pub fn require_kubectl() -> bool {
    if kubectl_installed() {
        return true;
    }
    skip_or_fail(
        "kubectl is not on the PATH (the oracle tests run it; install it first: scripts/install-deps.sh does not)",
    );
    false
}

/// A cluster handle for the real API server, or `None` (skip; a failure
/// when `K8SOPS_REQUIRE_E2E=1`).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let Some(cluster) = k8sops_testkit::e2e::real_cluster().await else { return };
/// let ns = k8sops_testkit::e2e::fresh_namespace(&cluster, "demo").await;
/// # }
/// ```
pub async fn real_cluster() -> Option<Cluster> {
    let path = kubeconfig()?;
    Some(connect(&path).await)
}

async fn connect(path: &Path) -> Cluster {
    Cluster::from_kubeconfig(path, None)
        .await
        .unwrap_or_else(|e| panic!("{KUBECONFIG_VAR} names an unusable kubeconfig: {e}"))
}

/// The real API server together with kubectl, for oracle tests.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let Some(real) = k8sops_testkit::e2e::real_oracle().await else { return };
/// let out = real.kubectl_ok(&["get", "nodes", "-o", "wide"]).await;
/// println!("{out}");
/// # }
/// ```
#[derive(Clone)]
pub struct RealServer {
    /// A cluster handle (admin).
    pub cluster: Cluster,
    /// The admin kubeconfig, for kubectl.
    pub kubeconfig: PathBuf,
}

impl RealServer {
    /// Runs `kubectl ARGS` against the real server: (success, stdout, stderr).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let Some(real) = k8sops_testkit::e2e::real_oracle().await else { return };
    /// let (ok, _, stderr) = real.kubectl(&["get", "ns", "default"]).await;
    /// assert!(ok, "{stderr}");
    /// # }
    /// ```
    pub async fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
        kubectl(&self.kubeconfig, args).await
    }

    /// Runs `kubectl ARGS` and returns its stdout, panicking if it fails.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let Some(real) = k8sops_testkit::e2e::real_oracle().await else { return };
    /// assert!(real.kubectl_ok(&["get", "ns", "-o", "name"]).await.contains("namespace/default"));
    /// # }
    /// ```
    pub async fn kubectl_ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.kubectl(args).await;
        assert!(ok, "kubectl {} failed: {err}", args.join(" "));
        out
    }
}

/// The real API server and kubectl, or `None` when either is missing
/// (skip; a failure when `K8SOPS_REQUIRE_E2E=1`).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let Some(real) = k8sops_testkit::e2e::real_oracle().await else { return };
/// real.cluster.server_version().await.unwrap();
/// # }
/// ```
pub async fn real_oracle() -> Option<RealServer> {
    let path = kubeconfig()?;
    if !require_kubectl() {
        return None;
    }
    Some(RealServer { cluster: connect(&path).await, kubeconfig: path })
}

/// A name unique to this test run, `e2e-{prefix}-{hex}`, usable for a
/// namespace and as a prefix of node names.
///
/// ```
/// let a = k8sops_testkit::e2e::unique_name("oracle");
/// let b = k8sops_testkit::e2e::unique_name("oracle");
/// assert!(a.starts_with("e2e-oracle-") && a != b);
/// ```
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let n = (nanos ^ std::process::id().rotate_left(16)).wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed) << 20);
    format!("e2e-{prefix}-{:x}", n % 0xff_ffff)
}

/// Creates a namespace with a unique name starting with `e2e-{prefix}-`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let ns = k8sops_testkit::e2e::fresh_namespace(&server.cluster(), "quota").await;
/// assert!(ns.starts_with("e2e-quota-"));
/// # Ok(()) }
/// ```
pub async fn fresh_namespace(cluster: &Cluster, prefix: &str) -> String {
    let name = unique_name(prefix);
    create_namespace(cluster, &name).await;
    name
}

async fn create_namespace(cluster: &Cluster, name: &str) {
    let api: Api<Namespace> = Api::all(cluster.client().clone());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name, "labels": {RUN_LABEL: name}}})).unwrap_or_default();
    api.create(&PostParams::default(), &ns).await.unwrap_or_else(|e| panic!("cannot create namespace {name}: {e}"));
}

/// Runs `kubectl ARGS` against `kubeconfig` with a private discovery cache,
/// off the async runtime. Returns (success, stdout, stderr).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let (ok, stdout, stderr) = k8sops_testkit::e2e::kubectl(server.kubeconfig_path(), &["get", "ns", "-o", "name"]).await;
/// assert!(ok, "{stderr}");
/// assert!(stdout.contains("namespace/default"));
/// # Ok(()) }
/// ```
///
/// # Panics
/// When kubectl cannot be started (not installed): call [`require_kubectl`]
/// first to skip instead.
pub async fn kubectl(kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
    let kubeconfig = kubeconfig.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let cache = tempfile::tempdir().expect("temp dir for kubectl's cache");
        let out = std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(cache.path())
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run kubectl (the oracle tests need it installed): {e}"));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("kubectl task")
}

/// The row of `resource` (e.g. `cpu`) in the "Allocated resources" section
/// of `kubectl describe node` output, split into words:
/// `["cpu", "875m", "(22%)", "0", "(0%)"]`.
///
/// ```
/// let out = "Allocated resources:\n  Resource  Requests  Limits\n  cpu  875m (22%)  0 (0%)\n";
/// assert_eq!(k8sops_testkit::e2e::allocated_row(out, "cpu").unwrap(), ["cpu", "875m", "(22%)", "0", "(0%)"]);
/// ```
pub fn allocated_row<'a>(describe_output: &'a str, resource: &str) -> Option<Vec<&'a str>> {
    let section = describe_output.split("Allocated resources:").nth(1)?;
    let prefix = format!("{resource} ");
    section.lines().find(|l| l.trim_start().starts_with(&prefix)).map(|l| l.split_whitespace().collect())
}

/// Splits a table printed by kubectl or by `k8sops_core::Table` into cells,
/// the header row first. Columns start where the header has a word after
/// two or more spaces (tabwriter pads by at least two), so cells with one
/// space inside (`7 (45m ago)`, `NOMINATED NODE`, `Amazon Linux 2`) and
/// empty cells stay in their column.
///
/// ```
/// let text = "NAME   RESTARTS      AGE\nweb    7 (5m ago)    2d\njob                  3h\n";
/// let cells = k8sops_testkit::e2e::table_cells(text);
/// assert_eq!(cells[0], ["NAME", "RESTARTS", "AGE"]);
/// assert_eq!(cells[1], ["web", "7 (5m ago)", "2d"]);
/// assert_eq!(cells[2], ["job", "", "3h"]);
/// ```
pub fn table_cells(text: &str) -> Vec<Vec<String>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else { return Vec::new() };
    let header: Vec<char> = header.chars().collect();
    let starts: Vec<usize> = (0..header.len())
        .filter(|&i| header[i] != ' ' && (i == 0 || (i >= 2 && header[i - 1] == ' ' && header[i - 2] == ' ')))
        .collect();
    let split = |line: &[char]| -> Vec<String> {
        starts
            .iter()
            .enumerate()
            .map(|(k, &s)| {
                let end = starts.get(k + 1).copied().unwrap_or(line.len()).min(line.len());
                line.get(s.min(end)..end).map(|c| c.iter().collect::<String>()).unwrap_or_default().trim().to_string()
            })
            .collect()
    };
    std::iter::once(split(&header)).chain(lines.map(|l| split(&l.chars().collect::<Vec<_>>()))).collect()
}

/// The table of a `kubectl describe` section (`Allocated resources:`,
/// `Non-terminated Pods:`), split into cells with [`table_cells`]: the
/// header row first, without the dashes line or notes in parentheses.
///
/// ```
/// let out = "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n  Resource  Requests    Limits\n  --------  --------    ------\n  cpu       875m (22%)  0 (0%)\nEvents:  <none>\n";
/// let rows = k8sops_testkit::e2e::describe_section(out, "Allocated resources:");
/// assert_eq!(rows, [["Resource", "Requests", "Limits"], ["cpu", "875m (22%)", "0 (0%)"]]);
/// ```
pub fn describe_section(describe_output: &str, title: &str) -> Vec<Vec<String>> {
    let mut lines = describe_output.lines().skip_while(|l| !l.starts_with(title));
    if lines.next().is_none() {
        return Vec::new();
    }
    let body: Vec<&str> = lines
        .take_while(|l| l.starts_with("  ") || l.trim().is_empty())
        .filter(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('(') && !t.chars().all(|c| c == '-' || c == ' ')
        })
        .collect();
    let indent = body.iter().map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    let text: String = body.iter().map(|l| format!("{}\n", &l[indent..])).collect();
    table_cells(&text)
}

/// Seconds in a short kubectl age (`45s`, `2m5s`, `7m`), for comparing AGE
/// cells of objects created moments ago, which may differ by a tick.
fn short_age_secs(s: &str) -> Option<u64> {
    let (m, rest) = match s.split_once('m') {
        Some((m, rest)) => (m.parse::<u64>().ok()?, rest),
        None => (0, s),
    };
    let secs = if rest.is_empty() { 0 } else { rest.strip_suffix('s')?.parse::<u64>().ok()? };
    Some(m * 60 + secs)
}

/// Whether two AGE cells printed moments apart agree: short ages within
/// five seconds, and describe's repeated-event ages (`5s (x3 over 2m)`) with
/// the same count and both times within five seconds.
fn ages_agree(x: &str, y: &str) -> bool {
    let close =
        |a: &str, b: &str| matches!((short_age_secs(a), short_age_secs(b)), (Some(p), Some(q)) if p.abs_diff(q) <= 5);
    let split = |s: &str| -> Option<(String, String, String)> {
        let (last, rest) = s.split_once(" (x")?;
        let (count, first) = rest.strip_suffix(')')?.split_once(" over ")?;
        Some((last.into(), count.into(), first.into()))
    };
    match (split(x), split(y)) {
        (Some((l1, c1, f1)), Some((l2, c2, f2))) => c1 == c2 && close(&l1, &l2) && close(&f1, &f2),
        (None, None) => close(x, y),
        _ => false,
    }
}

/// Asserts that two printed tables (k8sops' and kubectl's) have the same
/// headers (case-insensitive) and the same cells, row for row. Cells in a
/// column headed `AGE` may differ by up to five seconds (the two were
/// printed moments apart; a repeated event's `(xN over …)` count must be
/// equal); every other cell must be equal.
///
/// ```
/// let ours = "NAME   STATUS   AGE\nn1     Ready    61s\n";
/// let kubectl = "NAME   STATUS   AGE\nn1     Ready    62s\n";
/// k8sops_testkit::e2e::assert_same_table(ours, kubectl);
/// ```
///
/// # Panics
/// When the tables differ; the message shows both.
pub fn assert_same_table(ours: &str, kubectl: &str) {
    let (a, b) = (table_cells(ours), table_cells(kubectl));
    assert_same_cells(&a, &b, &format!("k8sops:\n{ours}\nkubectl:\n{kubectl}"));
}

/// [`assert_same_table`] for tables already split into cells (header row first).
///
/// ```
/// let row = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
/// k8sops_testkit::e2e::assert_same_cells(&[row(&["Resource", "Requests"]), row(&["cpu", "1 (50%)"])],
///     &[row(&["RESOURCE", "REQUESTS"]), row(&["cpu", "1 (50%)"])], "allocated");
/// ```
///
/// # Panics
/// When the cells differ; the message names the first differing row and adds `context`.
pub fn assert_same_cells(ours: &[Vec<String>], kubectl: &[Vec<String>], context: &str) {
    assert!(!ours.is_empty() && !kubectl.is_empty(), "an empty table\n{context}");
    let upper = |r: &Vec<String>| r.iter().map(|c| c.to_uppercase()).collect::<Vec<_>>();
    assert_eq!(upper(&ours[0]), upper(&kubectl[0]), "different columns\n{context}");
    let age_cols: Vec<usize> = (0..ours[0].len()).filter(|&i| ours[0][i].eq_ignore_ascii_case("AGE")).collect();
    assert_eq!(ours.len(), kubectl.len(), "different number of rows\n{context}");
    for (row, (a, b)) in ours.iter().zip(kubectl).enumerate().skip(1) {
        let same = a.len() == b.len()
            && a.iter().zip(b).enumerate().all(|(i, (x, y))| x == y || (age_cols.contains(&i) && ages_agree(x, y)));
        assert!(same, "row {row} differs:\n  k8sops:  {a:?}\n  kubectl: {b:?}\n{context}");
    }
}

/// GETs `path` as a `meta.k8s.io/v1` Table (what kubectl asks for when it
/// prints `get`), without the objects.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let table = k8sops_testkit::e2e::server_table(&server.cluster(), "/api/v1/namespaces").await;
/// assert_eq!(table["columnDefinitions"][0]["name"], "Name");
/// # Ok(()) }
/// ```
///
/// # Panics
/// When the request fails.
pub async fn server_table(cluster: &Cluster, path: &str) -> Value {
    let sep = if path.contains('?') { '&' } else { '?' };
    let req = http::Request::get(format!("{path}{sep}includeObject=None"))
        .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
        .body(Vec::new())
        .expect("a valid request");
    cluster.client().request::<Value>(req).await.unwrap_or_else(|e| panic!("GET {path} as Table: {e}"))
}

/// The label every fixture object carries, valued with its run's name, so a
/// test can select exactly its own objects (`kubectl get nodes -l ...`).
///
/// ```
/// assert_eq!(k8sops_testkit::e2e::RUN_LABEL, "k8sops-e2e-run");
/// ```
pub const RUN_LABEL: &str = "k8sops-e2e-run";

/// The objects a fixture created.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let Some(real) = k8sops_testkit::e2e::real_oracle().await else { return };
/// let f = k8sops_testkit::e2e::display_fixture(&real.cluster, "demo").await;
/// println!("namespace {}, nodes {:?}, selector {}", f.namespace, f.nodes, f.selector());
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixture {
    /// The run's name: the namespace, the prefix of node names and the value of [`RUN_LABEL`].
    pub run: String,
    /// The namespace holding the fixture's pods (named like the run).
    pub namespace: String,
    /// Nodes created, in name order.
    pub nodes: Vec<String>,
    /// Pods created in [`Fixture::namespace`], in name order.
    pub pods: Vec<String>,
}

impl Fixture {
    /// `k8sops-e2e-run=RUN`, the label selector for the fixture's objects.
    ///
    /// ```
    /// let f = k8sops_testkit::e2e::Fixture { run: "e2e-x-1".into(), namespace: "e2e-x-1".into(), nodes: vec![], pods: vec![] };
    /// assert_eq!(f.selector(), "k8sops-e2e-run=e2e-x-1");
    /// ```
    pub fn selector(&self) -> String {
        format!("{RUN_LABEL}={}", self.run)
    }
}

/// An RFC 3339 time `secs` seconds ago (negative: in the future).
fn ago(secs: i64) -> String {
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    k8s_openapi::jiff::Timestamp::from_second(now - secs).map(|t| t.to_string()).unwrap_or_default()
}

/// Creates a Node from JSON (with its `status`, which is set through the
/// status subresource since a create ignores it).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let node = k8sops_testkit::e2e::create_node(&server.cluster(), serde_json::json!({"metadata": {"name": "n1"},
///     "status": {"conditions": [{"type": "Ready", "status": "True"}]}})).await;
/// assert_eq!(node.status.unwrap().conditions.unwrap()[0].type_, "Ready");
/// # Ok(()) }
/// ```
///
/// # Panics
/// When the server refuses the object.
pub async fn create_node(cluster: &Cluster, mut node: Value) -> Node {
    let status = node.as_object_mut().and_then(|o| o.remove("status"));
    let name = node["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let api: Api<Node> = Api::all(cluster.client().clone());
    let obj: Node = serde_json::from_value(node).unwrap_or_else(|e| panic!("node {name}: {e}"));
    let created = api.create(&PostParams::default(), &obj).await.unwrap_or_else(|e| panic!("create node {name}: {e}"));
    match status {
        Some(status) => api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": status})))
            .await
            .unwrap_or_else(|e| panic!("status of node {name}: {e}")),
        None => created,
    }
}

/// Creates a Pod from JSON in `namespace` (with its `status`, set through
/// the status subresource).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let pod = k8sops_testkit::e2e::create_pod(&server.cluster(), "default", serde_json::json!({"metadata": {"name": "p"},
///     "spec": {"containers": [{"name": "c", "image": "pause"}]}, "status": {"phase": "Running"}})).await;
/// assert_eq!(pod.status.unwrap().phase.as_deref(), Some("Running"));
/// # Ok(()) }
/// ```
///
/// # Panics
/// When the server refuses the object.
pub async fn create_pod(cluster: &Cluster, namespace: &str, mut pod: Value) -> Pod {
    let status = pod.as_object_mut().and_then(|o| o.remove("status"));
    let name = pod["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let api: Api<Pod> = Api::namespaced(cluster.client().clone(), namespace);
    let obj: Pod = serde_json::from_value(pod).unwrap_or_else(|e| panic!("pod {name}: {e}"));
    let created = api.create(&PostParams::default(), &obj).await.unwrap_or_else(|e| panic!("create pod {name}: {e}"));
    match status {
        Some(status) => api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": status})))
            .await
            .unwrap_or_else(|e| panic!("status of pod {name}: {e}")),
        None => created,
    }
}

fn node_json(run: &str, suffix: &str, labels: Value, spec: Value, status: Value) -> Value {
    let mut l = json!({RUN_LABEL: run, "kubernetes.io/hostname": format!("{run}-{suffix}")});
    json_patch::merge(&mut l, &labels);
    json!({"metadata": {"name": format!("{run}-{suffix}"), "labels": l}, "spec": spec, "status": status})
}

fn node_info(kubelet: &str, os: &str) -> Value {
    json!({"kubeletVersion": kubelet, "osImage": os, "kernelVersion": "5.10.220-209.869.amzn2.x86_64",
        "containerRuntimeVersion": "containerd://1.7.11", "machineID": "m", "systemUUID": "s", "bootID": "b",
        "kubeProxyVersion": kubelet, "operatingSystem": "linux", "architecture": "amd64"})
}

fn ready(status: &str, reason: &str) -> Value {
    json!({"type": "Ready", "status": status, "reason": reason, "message": format!("{reason} for the e2e fixture"),
        "lastHeartbeatTime": ago(60), "lastTransitionTime": ago(3600)})
}

/// Nodes whose `kubectl get nodes -o wide` columns are easy to get wrong:
/// cordoned, NotReady, Ready=Unknown, no conditions at all, no node info,
/// several roles (old and new labels), several addresses of a type, a
/// multi-word OS image.
fn display_nodes(run: &str) -> Vec<Value> {
    let addresses = json!([{"type": "InternalIP", "address": "10.9.0.1"}, {"type": "ExternalIP", "address": "54.9.0.1"},
        {"type": "Hostname", "address": "ip-10-9-0-1.ec2.internal"}]);
    let capacity = json!({"cpu": "2", "memory": "8Gi", "pods": "110"});
    let full = |conditions: Value| {
        json!({"conditions": conditions, "addresses": addresses, "allocatable": capacity, "capacity": capacity,
            "nodeInfo": node_info("v1.24.17-eks-8ccc7ba", "Amazon Linux 2")})
    };
    vec![
        node_json(run, "ready", json!({}), json!({}), full(json!([ready("True", "KubeletReady")]))),
        node_json(
            run,
            "cordoned",
            json!({}),
            json!({"unschedulable": true}),
            full(json!([ready("True", "KubeletReady")])),
        ),
        node_json(run, "not-ready", json!({}), json!({}), full(json!([ready("False", "KubeletNotReady")]))),
        node_json(
            run,
            "not-ready-cordoned",
            json!({}),
            json!({"unschedulable": true}),
            full(json!([ready("False", "KubeletNotReady")])),
        ),
        node_json(
            run,
            "unknown",
            json!({}),
            json!({}),
            full(json!([ready("Unknown", "NodeStatusUnknown"),
                {"type": "MemoryPressure", "status": "True", "reason": "KubeletHasInsufficientMemory", "message": "m"}])),
        ),
        node_json(run, "bare", json!({}), json!({}), json!({})),
        node_json(
            run,
            "roles",
            json!({"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "",
                "kubernetes.io/role": "master", "node-role.kubernetes.io/infra": "ignored-value"}),
            json!({"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}),
            json!({"conditions": [ready("True", "KubeletReady")],
                "addresses": [{"type": "InternalIP", "address": "10.9.0.7"}, {"type": "InternalIP", "address": "10.9.0.8"}],
                "nodeInfo": node_info("v1.24.0", "")}),
        ),
    ]
}

fn cs(name: &str, ready: bool, restarts: i64, state: Value, last: Value) -> Value {
    json!({"name": name, "image": "registry.k8s.io/pause:3.9", "imageID": "", "ready": ready,
        "restartCount": restarts, "state": state, "lastState": last})
}

fn running() -> Value {
    json!({"running": {"startedAt": ago(3600)}})
}

fn waiting(reason: &str) -> Value {
    json!({"waiting": {"reason": reason, "message": format!("{reason} in the e2e fixture")}})
}

fn terminated(exit: i64, reason: Option<&str>, signal: Option<i64>, finished_ago: i64) -> Value {
    let mut t = json!({"exitCode": exit, "startedAt": ago(finished_ago + 60), "finishedAt": ago(finished_ago)});
    if let Some(r) = reason {
        t["reason"] = json!(r);
    }
    if let Some(s) = signal {
        t["signal"] = json!(s);
    }
    json!({"terminated": t})
}

/// A pod of the display fixture: `containers` and `init` name its
/// containers, `extra` is merged into the object.
fn pod_json(run: &str, node: &str, name: &str, containers: &[&str], init: &[&str], extra: Value) -> Value {
    let c = |n: &&str| json!({"name": n, "image": "registry.k8s.io/pause:3.9"});
    let mut p = json!({"metadata": {"name": name, "labels": {RUN_LABEL: run}},
        "spec": {"nodeName": node, "containers": containers.iter().map(c).collect::<Vec<_>>()}});
    if !init.is_empty() {
        p["spec"]["initContainers"] = json!(init.iter().map(c).collect::<Vec<_>>());
    }
    json_patch::merge(&mut p, &extra);
    p
}

/// Pods whose READY, STATUS, RESTARTS, IP, NOMINATED NODE and READINESS
/// GATES columns take kubectl's rules to get right, with the pods to delete
/// gracefully afterwards (bound to a node without a kubelet, they stay
/// Terminating). Restart times are chosen far from the boundaries of
/// kubectl's age format, so they print the same a few seconds later.
fn display_pods(run: &str, node: &str) -> (Vec<Value>, Vec<&'static str>) {
    let ready_cond = |s: &str| json!([{"type": "Ready", "status": s}]);
    let never = json!({});
    let p = |name: &str, containers: &[&str], init: &[&str], extra: Value| {
        pod_json(run, node, name, containers, init, extra)
    };
    let pods = vec![
        p(
            "running",
            &["app"],
            &[],
            json!({"status": {"phase": "Running", "podIP": "10.244.1.5", "conditions": ready_cond("True"),
            "containerStatuses": [cs("app", true, 0, running(), never.clone())]}}),
        ),
        p(
            "half-ready",
            &["app", "proxy"],
            &[],
            json!({"status": {"phase": "Running", "podIP": "10.244.1.6", "conditions": ready_cond("False"),
            "containerStatuses": [cs("app", true, 0, running(), never.clone()), cs("proxy", false, 0, running(), never.clone())]}}),
        ),
        p(
            "crash-loop",
            &["app"],
            &[],
            json!({"status": {"phase": "Running", "podIP": "10.244.1.7", "conditions": ready_cond("False"),
            "containerStatuses": [cs("app", false, 7, waiting("CrashLoopBackOff"), terminated(1, Some("Error"), None, 45 * 60 + 30))]}}),
        ),
        p(
            "image-pull",
            &["app"],
            &[],
            json!({"status": {"phase": "Pending",
            "containerStatuses": [cs("app", false, 0, waiting("ImagePullBackOff"), never.clone())]}}),
        ),
        p("pending", &["app"], &[], json!({})),
        p(
            "completed",
            &["app"],
            &[],
            json!({"status": {"phase": "Succeeded",
            "containerStatuses": [cs("app", false, 0, terminated(0, Some("Completed"), None, 7200), never.clone())]}}),
        ),
        p(
            "error",
            &["app"],
            &[],
            json!({"status": {"phase": "Failed",
            "containerStatuses": [cs("app", false, 0, terminated(1, Some("Error"), None, 7200), never.clone())]}}),
        ),
        p(
            "exit-code",
            &["app"],
            &[],
            json!({"status": {"phase": "Failed",
            "containerStatuses": [cs("app", false, 0, terminated(2, None, None, 7200), never.clone())]}}),
        ),
        p(
            "signal",
            &["app", "helper"],
            &[],
            json!({"status": {"phase": "Running", "conditions": ready_cond("False"),
            "containerStatuses": [cs("app", true, 0, running(), never.clone()), cs("helper", false, 0, terminated(137, None, Some(9), 600), never.clone())]}}),
        ),
        p(
            "init-progress",
            &["app"],
            &["migrate", "warm"],
            json!({"status": {"phase": "Pending",
            "initContainerStatuses": [cs("migrate", false, 0, terminated(0, Some("Completed"), None, 900), never.clone()),
                cs("warm", false, 0, running(), never.clone())],
            "containerStatuses": [cs("app", false, 0, waiting("PodInitializing"), never.clone())]}}),
        ),
        p(
            "init-crash",
            &["app"],
            &["migrate"],
            json!({"status": {"phase": "Pending",
            "initContainerStatuses": [cs("migrate", false, 3, waiting("CrashLoopBackOff"), terminated(1, Some("Error"), None, 3 * 3600 + 12 * 60 + 30))],
            "containerStatuses": [cs("app", false, 0, waiting("PodInitializing"), never.clone())]}}),
        ),
        p(
            "init-error",
            &["app"],
            &["migrate"],
            json!({"status": {"phase": "Failed",
            "initContainerStatuses": [cs("migrate", false, 0, terminated(1, Some("Error"), None, 7200), never.clone())],
            "containerStatuses": [cs("app", false, 0, waiting("PodInitializing"), never.clone())]}}),
        ),
        p(
            "init-signal",
            &["app"],
            &["migrate"],
            json!({"status": {"phase": "Pending",
            "initContainerStatuses": [cs("migrate", false, 0, terminated(143, None, Some(15), 7200), never.clone())]}}),
        ),
        p(
            "evicted",
            &["app"],
            &[],
            json!({"status": {"phase": "Failed", "reason": "Evicted",
            "message": "The node was low on resource: memory."}}),
        ),
        p(
            "done-and-running",
            &["job", "app"],
            &[],
            json!({"status": {"phase": "Running", "podIP": "10.244.1.8", "conditions": ready_cond("True"),
            "containerStatuses": [cs("app", true, 0, running(), never.clone()), cs("job", false, 0, terminated(0, Some("Completed"), None, 600), never.clone())]}}),
        ),
        p(
            "done-and-not-ready",
            &["job", "app"],
            &[],
            json!({"status": {"phase": "Running", "conditions": ready_cond("False"),
            "containerStatuses": [cs("app", true, 0, running(), never.clone()), cs("job", false, 0, terminated(0, Some("Completed"), None, 600), never.clone())]}}),
        ),
        p(
            "terminating",
            &["app"],
            &[],
            json!({"status": {"phase": "Running", "conditions": ready_cond("True"),
            "containerStatuses": [cs("app", true, 0, running(), never.clone())]}}),
        ),
        p(
            "node-lost",
            &["app"],
            &[],
            json!({"status": {"phase": "Running", "reason": "NodeLost",
            "message": "Node is not responding", "containerStatuses": [cs("app", true, 0, running(), never.clone())]}}),
        ),
        p(
            "restarts-summed",
            &["app", "proxy"],
            &[],
            json!({"status": {"phase": "Running", "conditions": ready_cond("True"),
            "containerStatuses": [cs("app", true, 1, running(), terminated(1, Some("Error"), None, 20 * 3600 + 30 * 60)),
                cs("proxy", true, 2, running(), terminated(137, Some("OOMKilled"), None, 3 * 86400 + 5 * 3600 + 1800))]}}),
        ),
        p(
            "restarts-old",
            &["app"],
            &[],
            json!({"status": {"phase": "Running", "conditions": ready_cond("True"),
            "containerStatuses": [cs("app", true, 2, running(), terminated(1, Some("Error"), None, 400 * 86400 + 7200))]}}),
        ),
        p(
            "restarts-years",
            &["app"],
            &[],
            json!({"status": {"phase": "Running", "conditions": ready_cond("True"),
            "containerStatuses": [cs("app", true, 5, running(), terminated(1, Some("Error"), None, 1200 * 86400 + 7200))]}}),
        ),
        p(
            "restarts-decade",
            &["app"],
            &[],
            json!({"status": {"phase": "Running", "conditions": ready_cond("True"),
            "containerStatuses": [cs("app", true, 1, running(), terminated(1, Some("Error"), None, 3000 * 86400 + 7200))]}}),
        ),
        p(
            "restarts-no-time",
            &["app"],
            &[],
            json!({"status": {"phase": "Running", "conditions": ready_cond("True"),
            "containerStatuses": [cs("app", true, 4, running(), never.clone())]}}),
        ),
        p(
            "gates",
            &["app"],
            &[],
            json!({"spec": {"readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]},
            "status": {"phase": "Running", "podIP": "10.244.1.9", "nominatedNodeName": format!("{run}-cordoned"),
                "conditions": [{"type": "Ready", "status": "False"}, {"type": "example.com/lb", "status": "True"}, {"type": "example.com/dns", "status": "False"}],
                "containerStatuses": [cs("app", true, 0, running(), never.clone())]}}),
        ),
    ];
    (pods, vec!["terminating", "node-lost"])
}

/// Creates, in a fresh namespace (`e2e-{prefix}-…`), the display fixture:
/// nodes and pods in every state whose `kubectl get -o wide` columns take
/// kubectl's rules to print (see the source for the list), all labelled
/// [`RUN_LABEL`]`=`the run. Pods are bound to the node `{run}-ready`; two
/// are then deleted gracefully and stay Terminating (no kubelet).
/// Works against the testkit and a real API server alike.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let f = k8sops_testkit::e2e::display_fixture(&server.cluster(), "doc").await;
/// assert!(f.nodes.contains(&format!("{}-cordoned", f.run)) && f.pods.contains(&"crash-loop".to_string()));
/// # Ok(()) }
/// ```
///
/// # Panics
/// When the server refuses an object.
pub async fn display_fixture(cluster: &Cluster, prefix: &str) -> Fixture {
    let run = unique_name(prefix);
    create_namespace(cluster, &run).await;
    let mut nodes = Vec::new();
    for n in display_nodes(&run) {
        nodes.push(create_node(cluster, n).await.metadata.name.unwrap_or_default());
    }
    let (pod_objs, to_delete) = display_pods(&run, &format!("{run}-ready"));
    let mut pods = Vec::new();
    for p in pod_objs {
        pods.push(create_pod(cluster, &run, p).await.metadata.name.unwrap_or_default());
    }
    let api: Api<Pod> = Api::namespaced(cluster.client().clone(), &run);
    for name in to_delete {
        api.delete(name, &DeleteParams::default()).await.unwrap_or_else(|e| panic!("delete pod {name}: {e}"));
    }
    nodes.sort();
    pods.sort();
    Fixture { namespace: run.clone(), run, nodes, pods }
}

/// Creates, in a fresh namespace (`e2e-{prefix}-…`), the allocation
/// fixture: one Ready node `{run}-alloc` (allocatable 3920m CPU, 15256Mi
/// memory, 20Gi ephemeral storage) and pods on it whose requests and limits
/// take kubectl's rules to add up: several containers, an init container
/// larger than the app containers, limits without requests (defaulted),
/// ephemeral storage, a Pending and a Terminating pod (counted), a
/// Succeeded and a Failed one (not counted). Each `(resource, allocatable,
/// per_container)` of `extended` — e.g. `("example.com/gpu", "4", "1")`,
/// `("hugepages-2Mi", "1Gi", "256Mi")` — is added to the node's allocatable,
/// and a pod `extended` with two containers requests (and limits)
/// `per_container` of each. Percentages are chosen so kubectl's truncation
/// matters.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let f = k8sops_testkit::e2e::allocation_fixture(&server.cluster(), "doc", &[]).await;
/// assert_eq!(f.nodes, [format!("{}-alloc", f.run)]);
/// # Ok(()) }
/// ```
///
/// # Panics
/// When the server refuses an object.
pub async fn allocation_fixture(cluster: &Cluster, prefix: &str, extended: &[(&str, &str, &str)]) -> Fixture {
    let run = unique_name(prefix);
    create_namespace(cluster, &run).await;
    let node = format!("{run}-alloc");
    let mut alloc = json!({"cpu": "3920m", "memory": "15256Mi", "ephemeral-storage": "20Gi", "pods": "110"});
    for (resource, allocatable, _) in extended {
        alloc[*resource] = json!(allocatable);
    }
    create_node(
        cluster,
        node_json(
            &run,
            "alloc",
            json!({}),
            json!({}),
            json!({"conditions": [ready("True", "KubeletReady")], "allocatable": alloc, "capacity": alloc,
                "addresses": [{"type": "InternalIP", "address": "10.9.1.1"}], "nodeInfo": node_info("v1.24.17-eks-8ccc7ba", "Amazon Linux 2")}),
        ),
    )
    .await;
    let res = |req: Value, lim: Value| json!({"requests": req, "limits": lim});
    let container = |name: &str, r: Value| json!({"name": name, "image": "registry.k8s.io/pause:3.9", "resources": r});
    let phase = |p: &str| json!({"phase": p, "conditions": [{"type": "Ready", "status": if p == "Running" { "True" } else { "False" }}]});
    let mut pods = vec![
        // 955m + 1Gi: plain requests and limits.
        json!({"metadata": {"name": "web"}, "spec": {"containers": [
            container("app", res(json!({"cpu": "955m", "memory": "1Gi"}), json!({"cpu": "1500m", "memory": "1536Mi"})))]},
            "status": phase("Running")}),
        // Two containers (100m+150m, 64Mi+128Mi) and an init container of 1 CPU / 100Mi:
        // requests are max(sum of containers, largest init) per resource: 1 CPU, 192Mi.
        json!({"metadata": {"name": "migrating"}, "spec": {
            "initContainers": [container("migrate", res(json!({"cpu": "1", "memory": "100Mi"}), json!({"cpu": "1", "memory": "100Mi"})))],
            "containers": [container("app", res(json!({"cpu": "100m", "memory": "64Mi"}), json!({"memory": "128Mi"}))),
                container("proxy", res(json!({"cpu": "150m", "memory": "128Mi"}), json!({"memory": "256Mi"})))]},
            "status": phase("Running")}),
        // Limits only: the API server defaults requests to the limits.
        json!({"metadata": {"name": "limits-only"}, "spec": {"containers": [
            container("app", res(json!({}), json!({"cpu": "333m", "memory": "333Mi", "ephemeral-storage": "2Gi"})))]},
            "status": phase("Running")}),
        // Ephemeral storage and no CPU at all.
        json!({"metadata": {"name": "scratch"}, "spec": {"containers": [
            container("app", res(json!({"memory": "50M", "ephemeral-storage": "1500Mi"}), json!({})))]},
            "status": phase("Running")}),
        // Pending (bound, never started): counted.
        json!({"metadata": {"name": "pending"}, "spec": {"containers": [
            container("app", res(json!({"cpu": "250m", "memory": "256Mi"}), json!({})))]}}),
        // Terminating (deleted below): still counted.
        json!({"metadata": {"name": "terminating"}, "spec": {"containers": [
            container("app", res(json!({"cpu": "100m", "memory": "100Mi"}), json!({"memory": "200Mi"})))]},
            "status": phase("Running")}),
        // Finished pods are not counted.
        json!({"metadata": {"name": "succeeded"}, "spec": {"restartPolicy": "Never", "containers": [
            container("app", res(json!({"cpu": "2", "memory": "8Gi"}), json!({})))]},
            "status": phase("Succeeded")}),
        json!({"metadata": {"name": "failed"}, "spec": {"restartPolicy": "Never", "containers": [
            container("app", res(json!({"cpu": "2", "memory": "8Gi"}), json!({})))]},
            "status": phase("Failed")}),
    ];
    if !extended.is_empty() {
        let mut each = json!({});
        for (resource, _, per_container) in extended {
            each[*resource] = json!(per_container);
        }
        let mut requests = json!({"cpu": "10m", "memory": "10Mi"});
        json_patch::merge(&mut requests, &each);
        let r = res(requests, each);
        pods.push(json!({"metadata": {"name": "extended"}, "spec": {"containers": [container("app", r.clone()), container("side", r)]},
            "status": phase("Running")}));
    }
    let mut names = Vec::new();
    for mut p in pods {
        p["metadata"]["labels"] = json!({RUN_LABEL: run});
        p["spec"]["nodeName"] = json!(node);
        names.push(create_pod(cluster, &run, p).await.metadata.name.unwrap_or_default());
    }
    let api: Api<Pod> = Api::namespaced(cluster.client().clone(), &run);
    api.delete("terminating", &DeleteParams::default()).await.unwrap_or_else(|e| panic!("delete pod terminating: {e}"));
    names.sort();
    Fixture { namespace: run.clone(), run, nodes: vec![node], pods: names }
}
