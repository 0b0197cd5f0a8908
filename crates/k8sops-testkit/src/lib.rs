//! # k8sops-testkit
//!
//! An in-process Kubernetes API server over real HTTP on 127.0.0.1, for the
//! tests, benches and demos of k8sops. kube-rs *and kubectl* work against it:
//! it serves discovery, get/list/watch/create/update/patch/delete for every
//! resource the project uses (and custom resources of stored CRDs), label and
//! field selectors, pagination, optimistic concurrency, server-side dry-run,
//! Table output, status subresources, pod eviction honouring
//! PodDisruptionBudgets, pod logs, `metrics.k8s.io`, and RBAC-backed
//! authorization with the access reviews.
//!
//! Options add a kubelet stand-in (graceful deletions complete, controller
//! pods are recreated), latency, and [fault injection](Fault).
//!
//! ```
//! use k8s_openapi::api::core::v1::Namespace;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = k8sops_testkit::TestServer::start().await?;
//! let namespaces: kube::Api<Namespace> = kube::Api::all(server.client());
//! let names: Vec<_> = namespaces.list(&Default::default()).await?.items.into_iter().filter_map(|n| n.metadata.name).collect();
//! assert!(names.contains(&"kube-system".to_string()));
//! // kubectl can use the same server:
//! println!("kubectl --kubeconfig {} get ns", server.kubeconfig_path().display());
//! # Ok(()) }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod crud;
mod demo;
mod discovery;
mod disruption;
pub mod e2e;
mod eviction;
mod faults;
mod kubelet;
mod logs;
mod patch;
mod rbac;
mod resources;
mod reviews;
mod server;
mod status;
mod store;
mod table;
pub mod velero;
mod watch;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use hyper_util::rt::TokioIo;
use k8sops_core::{CancellationToken, Cluster, RetryPolicy};
use serde::Serialize;
use serde_json::{json, Value};

pub use demo::{DemoCluster, DemoSummary};
pub use faults::{Fault, FaultAction};
pub use rbac::UserInfo;
pub use server::RequestRecord;

use crate::{
    faults::SplitMix,
    logs::Logs,
    server::{lock, Options, Shared},
    store::Store,
};

/// Errors from starting or feeding the test server.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let bad = serde_json::json!({"kind": "NoSuchKind", "apiVersion": "v9", "metadata": {"name": "x"}});
/// assert!(matches!(server.insert(&bad), Err(k8sops_testkit::Error::Store(_))));
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be opened.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    /// The kubeconfig file could not be written.
    #[error("cannot write kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An object could not be stored (unknown kind, duplicate, bad JSON).
    #[error("cannot store object: {0}")]
    Store(String),
    /// Building the client failed.
    #[error(transparent)]
    Core(#[from] k8sops_core::Error),
}

/// Result alias for the testkit.
///
/// ```
/// fn start_demo(server: &k8sops_testkit::TestServer) -> k8sops_testkit::Result<usize> {
///     Ok(server.load(&k8sops_testkit::DemoCluster::small())?.pods)
/// }
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// When a gracefully deleted pod disappears under the kubelet stand-in.
///
/// ```
/// use std::time::Duration;
/// use k8sops_testkit::{KubeletOptions, TerminationDelay};
/// // Evicted pods disappear 300 ms after the eviction, so waits can be observed.
/// let kubelet = KubeletOptions { termination: TerminationDelay::Fixed(Duration::from_millis(300)), ..Default::default() };
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TerminationDelay {
    /// Right after the delete (the default: tests stay fast).
    #[default]
    Immediate,
    /// After the pod's grace period, as a real kubelet would.
    GracePeriod,
    /// After a fixed delay.
    Fixed(Duration),
}

/// The kubelet and controller stand-in.
///
/// ```
/// let k = k8sops_testkit::KubeletOptions::default();
/// assert!(k.recreate_controller_pods && k.replacements_ready);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeletOptions {
    /// When terminating pods disappear.
    pub termination: TerminationDelay,
    /// Recreate pods of ReplicaSets, StatefulSets and DaemonSets once they are gone.
    pub recreate_controller_pods: bool,
    /// Replacement pods start Running and Ready (otherwise Pending).
    pub replacements_ready: bool,
}

impl Default for KubeletOptions {
    fn default() -> Self {
        KubeletOptions {
            termination: TerminationDelay::Immediate,
            recreate_controller_pods: true,
            replacements_ready: true,
        }
    }
}

/// Configures a [`TestServer`].
///
/// ```
/// use std::time::Duration;
/// use k8sops_testkit::{Fault, KubeletOptions, TestServer};
/// let builder = TestServer::builder()
///     .server_version("v1.29.3-eks-4f4795d")
///     .kubelet(KubeletOptions::default())
///     .fault(Fault::on("GET", "/api/v1/nodes").status(503).times(1))
///     .seed(7);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct TestServerBuilder {
    git_version: String,
    metrics: bool,
    kubelet: Option<KubeletOptions>,
    latency: Duration,
    bookmark_interval: Duration,
    faults: Vec<Fault>,
    seed: u64,
    history: usize,
    anonymous_is_admin: bool,
    eviction_version: String,
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        TestServerBuilder {
            git_version: "v1.30.4".into(),
            metrics: true,
            kubelet: None,
            latency: Duration::ZERO,
            bookmark_interval: Duration::from_secs(5),
            faults: Vec::new(),
            seed: 1,
            history: 100_000,
            anonymous_is_admin: true,
            eviction_version: "policy/v1".into(),
        }
    }
}

impl TestServerBuilder {
    /// The version `/version` reports (default `v1.30.4`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::builder().server_version("v1.29.8-eks-a737599").start().await?;
    /// let version = server.cluster().server_version().await?;
    /// assert_eq!((version.minor, version.suffix.as_str()), (29, "-eks-a737599"));
    /// # Ok(()) }
    /// ```
    pub fn server_version(mut self, git_version: &str) -> Self {
        self.git_version = git_version.to_string();
        self
    }

    /// Serve `metrics.k8s.io` and its APIService (default on).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::builder().metrics_api(false).start().await?;
    /// let groups = server.client().list_api_groups().await?;
    /// assert!(groups.groups.iter().all(|g| g.name != "metrics.k8s.io"));
    /// # Ok(()) }
    /// ```
    pub fn metrics_api(mut self, on: bool) -> Self {
        self.metrics = on;
        self
    }

    /// Turn the kubelet stand-in on.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// // Evicted pods finish and controller pods come back, so drains complete.
    /// let server = TestServer::builder().kubelet(Default::default()).start().await?;
    /// # Ok(()) }
    /// ```
    pub fn kubelet(mut self, options: KubeletOptions) -> Self {
        self.kubelet = Some(options);
        self
    }

    /// Add latency to every request.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::builder().latency(std::time::Duration::from_millis(5)).start().await?;
    /// let start = std::time::Instant::now();
    /// server.cluster().server_version().await?;
    /// assert!(start.elapsed() >= std::time::Duration::from_millis(5));
    /// # Ok(()) }
    /// ```
    pub fn latency(mut self, d: Duration) -> Self {
        self.latency = d;
        self
    }

    /// How often watches with bookmarks get one (default 5 s).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::builder().bookmark_interval(std::time::Duration::from_millis(100)).start().await?;
    /// # Ok(()) }
    /// ```
    pub fn bookmark_interval(mut self, d: Duration) -> Self {
        self.bookmark_interval = d;
        self
    }

    /// Add a fault rule (rules are tried in order).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::builder().fault(Fault::on("GET", "/version").status(500).times(1)).start().await?;
    /// assert!(server.cluster_with_quick_retries(1).server_version().await.is_err());
    /// assert!(server.cluster().server_version().await.is_ok());
    /// # Ok(()) }
    /// ```
    pub fn fault(mut self, f: Fault) -> Self {
        self.faults.push(f);
        self
    }

    /// Seed for fault probabilities and generated names.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::builder().seed(7).fault(Fault::on("GET", "/version").status(503).probability(0.5)).start().await?;
    /// # Ok(()) }
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How many past events watches can resume from (default 100,000).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// // A watch from a resourceVersion older than the last 10 events gets 410 Gone.
    /// let server = TestServer::builder().watch_history(10).start().await?;
    /// # Ok(()) }
    /// ```
    pub fn watch_history(mut self, n: usize) -> Self {
        self.history = n.max(1);
        self
    }

    /// Treat requests without credentials as the admin (default on), like
    /// the API server's old insecure port: kubectl sends no bearer token over
    /// plain HTTP. Turn off to test anonymous access; users added with
    /// [`TestServer::add_user`] always authenticate by token.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::builder().anonymous_is_admin(false).start().await?;
    /// let anonymous = kube::Client::try_from(kube::Config::new(server.url().parse()?))?;
    /// let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(anonymous);
    /// assert!(nodes.list(&Default::default()).await.is_err(), "system:anonymous may not list nodes");
    /// # Ok(()) }
    /// ```
    pub fn anonymous_is_admin(mut self, on: bool) -> Self {
        self.anonymous_is_admin = on;
        self
    }

    /// Serve the pod eviction subresource as `policy/v1` (default, which also
    /// accepts `policy/v1beta1` bodies) or as `policy/v1beta1` only, like a
    /// server before 1.22.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let old = TestServer::builder().eviction_version("policy/v1beta1").start().await?;
    /// # Ok(()) }
    /// ```
    pub fn eviction_version(mut self, version: &str) -> Self {
        self.eviction_version = version.to_string();
        self
    }

    /// Starts the server on an ephemeral port of 127.0.0.1.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::builder().metrics_api(true).start().await?;
    /// assert!(server.url().starts_with("http://127.0.0.1:"));
    /// # Ok(()) }
    /// ```
    pub async fn start(self) -> Result<TestServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(Error::Bind)?;
        let addr = listener.local_addr().map_err(Error::Bind)?;
        let admin_token =
            format!("k8sops-testkit-admin-{:016x}", SplitMix::new(self.seed ^ addr.port() as u64).next_u64());
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(self.metrics, self.history, self.seed)),
            opts: Options {
                git_version: self.git_version,
                kubelet: self.kubelet,
                latency: self.latency,
                bookmark_interval: self.bookmark_interval,
                anonymous_is_admin: self.anonymous_is_admin,
            },
            faults: Mutex::new(self.faults),
            rng: Mutex::new(SplitMix::new(self.seed)),
            requests: Mutex::new(Vec::new()),
            tokens: Mutex::new([(admin_token.clone(), UserInfo::new("admin", &["system:masters"]))].into()),
            logs: Logs::new(),
            shutdown: CancellationToken::new(),
        });
        shared.store().eviction_version = self.eviction_version;
        bootstrap(&shared, self.metrics);
        let accept = shared.clone();
        tokio::spawn(async move {
            loop {
                let conn = tokio::select! {
                    _ = accept.shutdown.cancelled() => return,
                    c = listener.accept() => c,
                };
                let Ok((stream, _)) = conn else { continue };
                let shared = accept.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| server::handle(shared.clone(), req));
                    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
                    // Errors here are client disconnects and injected drops.
                    let _ = conn.await;
                });
            }
        });
        let dir = tempfile::Builder::new()
            .prefix("k8sops-testkit-")
            .tempdir()
            .map_err(|e| Error::Kubeconfig { path: "<tempdir>".into(), source: e })?;
        let url = format!("http://{addr}");
        let kubeconfig = dir.path().join("kubeconfig");
        write_kubeconfig(&kubeconfig, &url, "admin", &admin_token)?;
        let cluster = Cluster::from_kubeconfig(&kubeconfig, None).await?;
        Ok(TestServer { shared, addr, url, dir, kubeconfig, cluster })
    }
}

fn bootstrap(shared: &Shared, metrics: bool) {
    let mut objects = vec![];
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        objects.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}));
    }
    objects.extend(rbac::bootstrap_objects());
    objects.push(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}}));
    if metrics {
        objects.push(json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1beta1.metrics.k8s.io", "labels": {"k8s-app": "metrics-server"}},
            "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100, "versionPriority": 100, "service": {"name": "metrics-server", "namespace": "kube-system", "port": 443}},
            "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Passed", "message": "all checks passed", "lastTransitionTime": store::now_rfc3339()}]}}));
    }
    let mut store = shared.store();
    for o in objects {
        let _ = insert_into(&mut store, o);
    }
}

fn insert_into(store: &mut Store, obj: Value) -> Result<Value> {
    let api_version = obj["apiVersion"].as_str().unwrap_or("").to_string();
    let kind = obj["kind"].as_str().unwrap_or("").to_string();
    let def = store
        .find_kind(&api_version, &kind)
        .cloned()
        .ok_or_else(|| Error::Store(format!("the testkit does not serve {api_version} {kind}")))?;
    if obj["metadata"]["name"].as_str().unwrap_or("").is_empty() {
        return Err(Error::Store(format!("{kind} without metadata.name")));
    }
    if def.namespaced && obj["metadata"]["namespace"].as_str().unwrap_or("").is_empty() {
        return Err(Error::Store(format!("{kind} {} needs metadata.namespace", obj["metadata"]["name"])));
    }
    store.create(&def, obj, true).map(|v| (*v).clone()).map_err(|e| Error::Store(e.message))
}

fn write_kubeconfig(path: &Path, url: &str, user: &str, token: &str) -> Result<()> {
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "k8sops-testkit", "cluster": {"server": url}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "k8sops-testkit", "context": {"cluster": "k8sops-testkit", "user": user, "namespace": "default"}}],
        "current-context": "k8sops-testkit"
    });
    let err = |source| Error::Kubeconfig { path: path.display().to_string(), source };
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(serde_json::to_string_pretty(&doc).unwrap_or_default().as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(err)
}

/// A running in-process API server. Stops when dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// // Any kube-rs client, k8sops call or kubectl can talk to it.
/// let nodes = k8sops_core::paging::list_all(&server.cluster(), &server.cluster().api_all::<k8s_openapi::api::core::v1::Node>(), Default::default()).await?;
/// assert_eq!(nodes.len(), 7);
/// # Ok(()) }
/// ```
pub struct TestServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    url: String,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    cluster: Cluster,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer").field("url", &self.url).finish()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl TestServer {
    /// Starts a server with default options.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// println!("kubectl --kubeconfig {} get nodes", server.kubeconfig_path().display());
    /// # Ok(()) }
    /// ```
    pub async fn start() -> Result<TestServer> {
        Self::builder().start().await
    }

    /// A builder for options.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::builder().server_version("v1.31.0").start().await?;
    /// # Ok(()) }
    /// ```
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    /// `http://127.0.0.1:PORT`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// assert_eq!(server.url(), format!("http://{}", server.addr()));
    /// # Ok(()) }
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The socket address.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// assert!(server.addr().ip().is_loopback());
    /// # Ok(()) }
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig (admin, namespace `default`) for kubectl and kube-rs.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// let cluster = k8sops_core::Cluster::from_kubeconfig(server.kubeconfig_path(), None).await?;
    /// assert_eq!(cluster.default_namespace(), "default");
    /// # Ok(()) }
    /// ```
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// An admin kube client. kube's own 429/503 retry is off, so tests see
    /// every answer the server gives.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// let info = server.client().apiserver_version().await?;
    /// assert_eq!(info.git_version, "v1.30.4");
    /// # Ok(()) }
    /// ```
    pub fn client(&self) -> kube::Client {
        self.cluster.client().clone()
    }

    /// An admin [`Cluster`] handle.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// assert_eq!(server.cluster().url(), server.url());
    /// # Ok(()) }
    /// ```
    pub fn cluster(&self) -> Cluster {
        self.cluster.clone()
    }

    /// Registers a bearer token for a user and writes a kubeconfig for it.
    /// The user has no rights beyond what stored RBAC objects grant.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// let path = server.add_user("alice", &["dev"])?;
    /// let alice = k8sops_core::Cluster::from_kubeconfig(&path, None).await?;
    /// let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(alice.client().clone(), "default");
    /// assert!(pods.list(&Default::default()).await.is_err()); // 403
    /// # Ok(()) }
    /// ```
    pub fn add_user(&self, name: &str, groups: &[&str]) -> Result<PathBuf> {
        let token = format!("token-{name}-{:08x}", lock(&self.shared.rng).next_u64() as u32);
        lock(&self.shared.tokens).insert(token.clone(), UserInfo::new(name, groups));
        let path = self.dir.path().join(format!("{name}.kubeconfig"));
        write_kubeconfig(&path, &self.url, name, &token)?;
        Ok(path)
    }

    /// Stores an object directly (no admission, keeps `status` and a given
    /// `creationTimestamp`); returns it with server-set metadata.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
    ///     "spec": {"containers": [{"name": "web", "image": "nginx"}]}, "status": {"phase": "Running"}});
    /// let stored = server.insert(&pod)?;
    /// assert!(stored["metadata"]["uid"].is_string());
    /// assert_eq!(stored["status"]["phase"], "Running");
    /// # Ok(()) }
    /// ```
    pub fn insert<T: Serialize>(&self, obj: &T) -> Result<Value> {
        let v = serde_json::to_value(obj).map_err(|e| Error::Store(e.to_string()))?;
        insert_into(&mut self.shared.store(), v)
    }

    /// Stores many objects under one lock.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// let namespaces = (0..3).map(|i| serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("team-{i}")}}));
    /// assert_eq!(server.insert_all(namespaces)?, 3);
    /// # Ok(()) }
    /// ```
    pub fn insert_all(&self, objs: impl IntoIterator<Item = Value>) -> Result<usize> {
        let mut store = self.shared.store();
        let mut n = 0;
        for o in objs {
            insert_into(&mut store, o)?;
            n += 1;
        }
        Ok(n)
    }

    /// Sets a node's metrics (what `kubectl top node` shows).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// server.load(&DemoCluster::small())?;
    /// server.set_node_metrics("ip-10-0-0-5.ec2.internal", "1500m", "6Gi")?;
    /// # Ok(()) }
    /// ```
    pub fn set_node_metrics(&self, node: &str, cpu: &str, memory: &str) -> Result<()> {
        self.put_metrics(json!({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "NodeMetrics",
            "metadata": {"name": node, "labels": {}}, "timestamp": store::now_rfc3339(), "window": "10s",
            "usage": {"cpu": cpu, "memory": memory}}))
    }

    /// Sets a pod's metrics: `(container, cpu, memory)` per container.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// server.load(&DemoCluster::small())?;
    /// server.set_pod_metrics("legacy", "debug-shell", &[("shell", "5m", "12Mi")])?;
    /// # Ok(()) }
    /// ```
    pub fn set_pod_metrics(&self, namespace: &str, pod: &str, containers: &[(&str, &str, &str)]) -> Result<()> {
        let cs: Vec<Value> =
            containers.iter().map(|(n, c, m)| json!({"name": n, "usage": {"cpu": c, "memory": m}})).collect();
        // metrics-server copies the pod's labels, so label selectors work on pod metrics.
        let labels = self
            .shared
            .store()
            .get("/pods", &(namespace.to_string(), pod.to_string()))
            .map(|p| p["metadata"]["labels"].clone())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        self.put_metrics(json!({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
            "metadata": {"name": pod, "namespace": namespace, "labels": labels}, "timestamp": store::now_rfc3339(), "window": "10s",
            "containers": cs}))
    }

    fn put_metrics(&self, obj: Value) -> Result<()> {
        let mut store = self.shared.store();
        let def = store
            .find_kind("metrics.k8s.io/v1beta1", obj["kind"].as_str().unwrap_or(""))
            .cloned()
            .ok_or_else(|| Error::Store("metrics.k8s.io is not served by this server (metrics_api(false))".into()))?;
        let key = store::key_of(&obj);
        if let Some(old) = store.get(&def.storage_key(), &key) {
            let mut o = obj;
            o["metadata"] = old["metadata"].clone();
            store.replace(&def, o);
        } else {
            store.create(&def, obj, false).map_err(|e| Error::Store(e.message))?;
        }
        Ok(())
    }

    /// Appends log lines (split on newlines) for a container; `previous`
    /// selects the previous instance's log (`kubectl logs --previous`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// server.load(&DemoCluster::small())?;
    /// server.append_log("legacy", "debug-shell", "shell", true, "panic: out of memory");
    /// let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(server.client(), "legacy");
    /// let params = kube::api::LogParams { previous: true, ..Default::default() };
    /// assert_eq!(pods.logs("debug-shell", &params).await?, "panic: out of memory\n");
    /// # Ok(()) }
    /// ```
    pub fn append_log(&self, namespace: &str, pod: &str, container: &str, previous: bool, text: &str) {
        self.shared.logs.append(namespace, pod, container, previous, text);
    }

    /// Adds a fault rule at run time.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// server.add_fault(Fault::on("GET", "/api/v1/nodes").too_many_requests(1).times(1));
    /// # Ok(()) }
    /// ```
    pub fn add_fault(&self, f: Fault) {
        lock(&self.shared.faults).push(f);
    }

    /// Removes every fault rule.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// server.add_fault(Fault::on("*", "/").status(500));
    /// server.clear_faults();
    /// assert!(server.cluster().server_version().await.is_ok());
    /// # Ok(()) }
    /// ```
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Every request served so far, in order.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// server.cluster().server_version().await?;
    /// let last = server.requests().pop().unwrap();
    /// assert_eq!((last.method.as_str(), last.path.as_str(), last.status), ("GET", "/version", 200));
    /// # Ok(()) }
    /// ```
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.requests).clone()
    }

    /// How many logged requests had a path containing `path_contains` and were
    /// answered with `status` (0: the connection was dropped by a fault).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// server.add_fault(Fault::on("GET", "/version").status(503).times(1));
    /// server.cluster_with_quick_retries(3).server_version().await?;
    /// assert_eq!((server.answered("/version", 503), server.answered("/version", 200)), (1, 1));
    /// # Ok(()) }
    /// ```
    pub fn answered(&self, path_contains: &str, status: u16) -> usize {
        lock(&self.shared.requests).iter().filter(|r| r.status == status && r.path.contains(path_contains)).count()
    }

    /// The admin [`Cluster`] with `attempts` attempts per request and a 5 ms
    /// first backoff, so a lasting injected fault exhausts the retries in
    /// milliseconds.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// server.add_fault(Fault::on("GET", "/version").status(503));
    /// let err = server.cluster_with_quick_retries(2).server_version().await.unwrap_err();
    /// assert!(err.is_transient());
    /// assert_eq!(server.answered("/version", 503), 2);
    /// # Ok(()) }
    /// ```
    pub fn cluster_with_quick_retries(&self, attempts: u32) -> Cluster {
        let policy = RetryPolicy::default().max_attempts(attempts).initial_backoff(Duration::from_millis(5));
        self.cluster.to_builder().retry(policy).build()
    }

    /// Forgets the request log.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// server.cluster().server_version().await?;
    /// server.clear_requests();
    /// assert!(server.requests().is_empty());
    /// # Ok(()) }
    /// ```
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// How many objects of a resource are stored, e.g. `("", "pods")`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// let summary = server.load(&DemoCluster::small())?;
    /// assert_eq!(server.count("", "nodes"), summary.nodes);
    /// # Ok(()) }
    /// ```
    pub fn count(&self, group: &str, plural: &str) -> usize {
        self.shared.store().count(&format!("{group}/{plural}"))
    }

    /// Runs `kubectl ARGS` against this server (see [`e2e::kubectl`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// let (ok, stdout, stderr) = server.kubectl(&["get", "namespaces", "-o", "name"]).await;
    /// if ok {
    ///     assert!(stdout.contains("namespace/default"));
    /// } else {
    ///     eprintln!("kubectl failed or is missing: {stderr}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
        e2e::kubectl(self.kubeconfig_path(), args).await
    }

    /// Loads a demo cluster into this server.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// let summary = server.load(&DemoCluster::small())?;
    /// assert_eq!(summary.nodes, 7);
    /// # Ok(()) }
    /// ```
    pub fn load(&self, demo: &DemoCluster) -> Result<DemoSummary> {
        demo.load_into(self)
    }
}
