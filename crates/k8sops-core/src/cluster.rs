//! The [`Cluster`] handle every k8sops crate takes.

use std::{path::Path, sync::Arc, time::Duration};

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::{
    backend::{BackupStore, DynControlPlane, DynEtcdSnapshots, DynNodeGroups},
    error::{Error, Result, Timeouts},
    retry::RetryPolicy,
    version::KubeVersion,
};

/// A cheap-to-clone handle to one Kubernetes cluster: a `kube::Client`, the
/// server URL (for error messages), a retry policy, and the optional backends
/// (node groups, control plane, etcd, backup store).
///
/// Constructors do not dial the server; call [`Cluster::server_version`] to
/// check that it is reachable. Clients built by [`Cluster::try_default`] and
/// [`Cluster::from_kubeconfig`] have kube's built-in 429/503 retry turned off,
/// so the cluster's [`RetryPolicy`] (and operations such as drain, which must
/// see PodDisruptionBudget 429s) decide what to retry.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// let cluster = k8sops_core::Cluster::try_default().await?;
/// println!("{}", cluster.server_version().await?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    client: kube::Client,
    stream_client: kube::Client,
    timeouts: Timeouts,
    url: String,
    retry: RetryPolicy,
    node_groups: Option<DynNodeGroups>,
    control_plane: Option<DynControlPlane>,
    etcd: Option<DynEtcdSnapshots>,
    backup_store: Option<BackupStore>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("url", &self.inner.url)
            .field("node_groups", &self.inner.node_groups)
            .field("control_plane", &self.inner.control_plane)
            .field("etcd", &self.inner.etcd)
            .field("backup_store", &self.inner.backup_store)
            .finish()
    }
}

impl Cluster {
    /// Uses `KUBECONFIG` / `~/.kube/config` (current context), or the in-cluster
    /// service account when running in a pod.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// match k8sops_core::Cluster::try_default().await {
    ///     Ok(cluster) => println!("using {}", cluster.url()),
    ///     Err(k8sops_core::Error::NoConfig { reason }) => eprintln!("no kubeconfig: {reason}"),
    ///     Err(e) => return Err(e.into()),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn try_default() -> Result<Self> {
        let config = kube::Config::infer().await.map_err(|e| Error::NoConfig { reason: e.to_string() })?;
        Self::from_config(config)
    }

    /// Reads a kubeconfig file and uses `context` (or its current context).
    ///
    /// Errors: [`Error::KubeconfigRead`] if the file cannot be read,
    /// [`Error::KubeconfigInvalid`] if it does not parse or is incomplete,
    /// [`Error::UnknownContext`] listing the contexts it has.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let err = k8sops_core::Cluster::from_kubeconfig("/no/such/kubeconfig", None).await.unwrap_err();
    /// assert!(matches!(err, k8sops_core::Error::KubeconfigRead { .. }));
    /// # }
    /// ```
    pub async fn from_kubeconfig(path: impl AsRef<Path>, context: Option<&str>) -> Result<Self> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let text = tokio::fs::read_to_string(path)
            .await
            .map_err(|source| Error::KubeconfigRead { path: shown.clone(), source })?;
        let kubeconfig = Kubeconfig::from_yaml(&text)
            .map_err(|e| Error::KubeconfigInvalid { path: shown.clone(), message: e.to_string() })?;
        let available: Vec<String> = kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
        let wanted = context.map(str::to_string).or_else(|| kubeconfig.current_context.clone());
        match &wanted {
            Some(ctx) if !available.contains(ctx) => {
                return Err(Error::UnknownContext { context: ctx.clone(), available });
            }
            None => {
                return Err(Error::KubeconfigInvalid {
                    path: shown,
                    message: "no current-context set and no context given".into(),
                })
            }
            _ => {}
        }
        let options = KubeConfigOptions { context: wanted, ..Default::default() };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| Error::KubeconfigInvalid { path: shown, message: e.to_string() })?;
        Self::from_config(config)
    }

    /// Builds a client from a `kube::Config`, turning kube's own 429/503 retry
    /// off (see the type docs).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// assert_eq!(cluster.url(), "https://10.0.0.1:6443");
    /// # Ok(()) }
    /// ```
    pub fn from_config(config: kube::Config) -> Result<Self> {
        Self::from_config_with(config, Self::DEFAULT_TIMEOUTS)
    }

    /// The timeouts [`Cluster::from_config`], [`Cluster::try_default`] and
    /// [`Cluster::from_kubeconfig`] set: 10 s to connect, 60 s to wait for
    /// the next bytes of an answer. kube-client sets no read timeout, so a
    /// server that accepts a connection and never answers would hang a call
    /// forever. Long streams (log follow) use a client without the read
    /// timeout, [`Cluster::stream_client`]; watches ask the server to end
    /// them before it.
    pub const DEFAULT_TIMEOUTS: Timeouts =
        Timeouts { connect: Some(Duration::from_secs(10)), read: Some(Duration::from_secs(60)) };

    /// [`Cluster::from_config`] with chosen connect and read timeouts
    /// (`None`: no limit).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// use std::time::Duration;
    /// use k8sops_core::{Cluster, Timeouts};
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let t = Timeouts { connect: Some(Duration::from_secs(2)), read: Some(Duration::from_secs(5)) };
    /// let cluster = Cluster::from_config_with(config, t)?;
    /// assert_eq!(cluster.timeouts(), t);
    /// # Ok(()) }
    /// ```
    pub fn from_config_with(mut config: kube::Config, timeouts: Timeouts) -> Result<Self> {
        // With the `aws` feature both ring and aws-lc-rs are compiled in and
        // rustls cannot choose; pin ring (what kube uses) unless the process chose.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = config.cluster_url.to_string().trim_end_matches('/').to_string();
        config.default_retry = false;
        config.connect_timeout = timeouts.connect;
        config.read_timeout = timeouts.read;
        // The read timeout counts from the request, not from when a pooled connection went idle.
        config.reset_reader_on_write = true;
        let build = |config: kube::Config| {
            kube::Client::try_from(config).map_err(|e| match e {
                kube::Error::RustlsTls(e) => Error::Tls { url: url.clone(), message: e.to_string(), source: None },
                kube::Error::Auth(e) => Error::KubeconfigInvalid { path: "<config>".into(), message: e.to_string() },
                other => Error::from_kube_with(other, &url, "client", timeouts),
            })
        };
        let mut streaming = config.clone();
        streaming.read_timeout = None;
        let client = build(config)?;
        let stream_client = build(streaming)?;
        let mut builder = Self::builder(client).url(url.clone());
        builder.inner.stream_client = stream_client;
        builder.inner.timeouts = timeouts;
        Ok(builder.build())
    }

    /// Wraps an existing client. The client's own retry settings apply on top
    /// of the cluster's [`RetryPolicy`].
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = kube::Client::try_default().await?;
    /// let cluster = k8sops_core::Cluster::from_client(client);
    /// println!("{}", cluster.server_version().await?);
    /// # Ok(()) }
    /// ```
    pub fn from_client(client: kube::Client) -> Self {
        Self::builder(client).build()
    }

    /// A builder to attach backends and settings.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use k8sops_core::{Cluster, backend::object_store::memory::InMemory};
    /// # fn f(client: kube::Client) {
    /// let cluster = Cluster::builder(client).backup_store(Arc::new(InMemory::new())).build();
    /// assert!(cluster.backup_store().is_ok());
    /// # }
    /// ```
    pub fn builder(client: kube::Client) -> ClusterBuilder {
        ClusterBuilder {
            inner: Inner {
                stream_client: client.clone(),
                client,
                timeouts: Timeouts::default(),
                url: String::new(),
                retry: RetryPolicy::default(),
                node_groups: None,
                control_plane: None,
                etcd: None,
                backup_store: None,
            },
        }
    }

    /// A builder that starts from this cluster's settings.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// let patient = cluster.to_builder().retry(k8sops_core::RetryPolicy::default().max_attempts(10)).build();
    /// assert_eq!(patient.retry_policy().max_attempts, 10);
    /// assert_eq!(patient.url(), cluster.url());
    /// # Ok(()) }
    /// ```
    pub fn to_builder(&self) -> ClusterBuilder {
        ClusterBuilder { inner: (*self.inner).clone() }
    }

    /// The kube client.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(cluster.client().clone());
    /// # Ok(()) }
    /// ```
    pub fn client(&self) -> &kube::Client {
        &self.inner.client
    }

    /// The API server URL, as far as it is known (empty for `from_client`
    /// clusters without [`ClusterBuilder::url`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// assert_eq!(cluster.url(), "https://10.0.0.1:6443");
    /// # Ok(()) }
    /// ```
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The retry policy for transient failures.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// assert_eq!(cluster.retry_policy(), &k8sops_core::RetryPolicy::default());
    /// # Ok(()) }
    /// ```
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// The default namespace of the client's config.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// assert_eq!(cluster.default_namespace(), "default");
    /// # Ok(()) }
    /// ```
    pub fn default_namespace(&self) -> &str {
        self.inner.client.default_namespace()
    }

    /// A typed API for a cluster-scoped resource.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// let nodes = cluster.api_all::<k8s_openapi::api::core::v1::Node>();
    /// assert_eq!(nodes.resource_url(), "/api/v1/nodes");
    /// # Ok(()) }
    /// ```
    pub fn api_all<K>(&self) -> kube::Api<K>
    where
        K: kube::Resource,
        <K as kube::Resource>::DynamicType: Default,
    {
        kube::Api::all(self.inner.client.clone())
    }

    /// A typed API for a namespaced resource in `ns`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// let pods = cluster.api_namespaced::<k8s_openapi::api::core::v1::Pod>("kube-system");
    /// assert_eq!(pods.resource_url(), "/api/v1/namespaces/kube-system/pods");
    /// # Ok(()) }
    /// ```
    pub fn api_namespaced<K>(&self, ns: &str) -> kube::Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        kube::Api::namespaced(self.inner.client.clone(), ns)
    }

    /// A typed API for a namespaced resource in `namespace`, or across all
    /// namespaces when `None` (kubectl's `-n NS` versus `-A`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// use k8s_openapi::api::core::v1::Pod;
    /// assert_eq!(cluster.api_in::<Pod>(Some("shop")).resource_url(), "/api/v1/namespaces/shop/pods");
    /// assert_eq!(cluster.api_in::<Pod>(None).resource_url(), "/api/v1/pods");
    /// # Ok(()) }
    /// ```
    pub fn api_in<K>(&self, namespace: Option<&str>) -> kube::Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        match namespace {
            Some(ns) => self.api_namespaced(ns),
            None => self.api_all(),
        }
    }

    /// The client for long streams (`logs --follow`): the same server and
    /// credentials as [`Cluster::client`], without the read timeout, since a
    /// quiet container may send nothing for minutes. Only the connect
    /// timeout applies; end such a stream with a cancellation token.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// let _logs: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(cluster.stream_client().clone(), "shop");
    /// # Ok(()) }
    /// ```
    pub fn stream_client(&self) -> &kube::Client {
        &self.inner.stream_client
    }

    /// The connect and read timeouts this cluster's client was built with
    /// (unknown, i.e. `None`, for a client passed to [`Cluster::from_client`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// assert_eq!(cluster.timeouts(), k8sops_core::Cluster::DEFAULT_TIMEOUTS);
    /// # Ok(()) }
    /// ```
    pub fn timeouts(&self) -> Timeouts {
        self.inner.timeouts
    }

    /// Maps a kube error to a typed [`Error`], naming this server and `what`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// let status = kube::core::Status::failure("pods \"web\" not found", "NotFound").with_code(404);
    /// let err = cluster.map_err(kube::Error::Api(status.into()), "pod shop/web");
    /// assert!(err.is_not_found());
    /// # Ok(()) }
    /// ```
    pub fn map_err(&self, err: kube::Error, what: &str) -> Error {
        let url = if self.inner.url.is_empty() { "the API server" } else { &self.inner.url };
        Error::from_kube_with(err, url, what, self.inner.timeouts)
    }

    /// The API server's version (`GET /version`), retried per the policy.
    /// This is the cheapest way to check that the server is reachable and the
    /// credentials work.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = k8sops_core::Cluster::try_default().await?;
    /// let version = cluster.server_version().await?;
    /// println!("server {version}");
    /// # Ok(()) }
    /// ```
    pub async fn server_version(&self) -> Result<KubeVersion> {
        let info = self
            .inner
            .retry
            .run(|_| async { self.inner.client.apiserver_version().await.map_err(|e| self.map_err(e, "/version")) })
            .await?;
        Ok(KubeVersion::try_from(&info)?)
    }

    /// The node-group backend, or [`Error::BackendMissing`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// assert!(matches!(cluster.node_groups(), Err(k8sops_core::Error::BackendMissing { .. })));
    /// let with = cluster.to_builder().node_groups(std::sync::Arc::new(k8sops_core::backend::InMemoryNodeGroups::new())).build();
    /// assert!(with.node_groups().is_ok());
    /// # Ok(()) }
    /// ```
    pub fn node_groups(&self) -> Result<&DynNodeGroups> {
        self.inner.node_groups.as_ref().ok_or(Error::BackendMissing { backend: "NodeGroups", setter: "node_groups" })
    }

    /// The control-plane backend, or [`Error::BackendMissing`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// let version: k8sops_core::KubeVersion = "1.30.4".parse().unwrap();
    /// let cp = k8sops_core::backend::InMemoryControlPlane::new(version);
    /// let with = cluster.to_builder().control_plane(std::sync::Arc::new(cp)).build();
    /// assert!(with.control_plane().is_ok() && cluster.control_plane().is_err());
    /// # Ok(()) }
    /// ```
    pub fn control_plane(&self) -> Result<&DynControlPlane> {
        self.inner
            .control_plane
            .as_ref()
            .ok_or(Error::BackendMissing { backend: "ControlPlane", setter: "control_plane" })
    }

    /// The etcd backend, or [`Error::BackendMissing`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// let etcd = k8sops_core::backend::InMemoryEtcd::new(&b"snapshot bytes"[..]);
    /// let with = cluster.to_builder().etcd(std::sync::Arc::new(etcd)).build();
    /// assert!(with.etcd().is_ok() && cluster.etcd().is_err());
    /// # Ok(()) }
    /// ```
    pub fn etcd(&self) -> Result<&DynEtcdSnapshots> {
        self.inner.etcd.as_ref().ok_or(Error::BackendMissing { backend: "EtcdSnapshots", setter: "etcd" })
    }

    /// The backup store, or [`Error::BackendMissing`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// let store = k8sops_core::backend::object_store::memory::InMemory::new();
    /// let with = cluster.to_builder().backup_store(std::sync::Arc::new(store)).build();
    /// assert!(with.backup_store().is_ok() && cluster.backup_store().is_err());
    /// # Ok(()) }
    /// ```
    pub fn backup_store(&self) -> Result<&BackupStore> {
        self.inner.backup_store.as_ref().ok_or(Error::BackendMissing { backend: "BackupStore", setter: "backup_store" })
    }
}

/// Builds a [`Cluster`]; see [`Cluster::builder`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use std::sync::Arc;
/// use k8sops_core::{backend::object_store::memory::InMemory, Cluster, RetryPolicy};
/// // from_config also picks the TLS crypto provider, which a bare kube::Client
/// // needs when both of rustls' providers are compiled in (feature `aws`).
/// let base = Cluster::from_config(kube::Config::new("https://10.0.0.1:6443".parse().unwrap()))?;
/// let cluster = Cluster::builder(base.client().clone())
///     .url("https://10.0.0.1:6443")
///     .retry(RetryPolicy::default().max_attempts(3))
///     .backup_store(Arc::new(InMemory::new()))
///     .build();
/// assert!(cluster.backup_store().is_ok());
/// # Ok(()) }
/// ```
#[must_use]
pub struct ClusterBuilder {
    inner: Inner,
}

impl ClusterBuilder {
    /// Names the server URL used in error messages.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// let renamed = cluster.to_builder().url("https://eks.example").build();
    /// assert_eq!(renamed.url(), "https://eks.example");
    /// # Ok(()) }
    /// ```
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.inner.url = url.into();
        self
    }

    /// Sets the retry policy for transient failures.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// let once = cluster.to_builder().retry(k8sops_core::RetryPolicy::none()).build();
    /// assert_eq!(once.retry_policy().max_attempts, 1);
    /// # Ok(()) }
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.inner.retry = policy;
        self
    }

    /// Attaches a node-group backend.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// let c = cluster.to_builder().node_groups(std::sync::Arc::new(k8sops_core::backend::InMemoryNodeGroups::new())).build();
    /// assert!(c.node_groups().is_ok());
    /// # Ok(()) }
    /// ```
    pub fn node_groups(mut self, backend: DynNodeGroups) -> Self {
        self.inner.node_groups = Some(backend);
        self
    }

    /// Attaches a control-plane backend.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// let cp = k8sops_core::backend::InMemoryControlPlane::new("1.30.4".parse().unwrap());
    /// assert!(cluster.to_builder().control_plane(std::sync::Arc::new(cp)).build().control_plane().is_ok());
    /// # Ok(()) }
    /// ```
    pub fn control_plane(mut self, backend: DynControlPlane) -> Self {
        self.inner.control_plane = Some(backend);
        self
    }

    /// Attaches an etcd backend.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// let etcd = k8sops_core::backend::InMemoryEtcd::new(&b"snapshot bytes"[..]);
    /// assert!(cluster.to_builder().etcd(std::sync::Arc::new(etcd)).build().etcd().is_ok());
    /// # Ok(()) }
    /// ```
    pub fn etcd(mut self, backend: DynEtcdSnapshots) -> Self {
        self.inner.etcd = Some(backend);
        self
    }

    /// Attaches a backup store: any [`object_store::ObjectStore`] in an `Arc`
    /// (see [`BackupStore`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// let store = k8sops_core::backend::object_store::memory::InMemory::new();
    /// assert!(cluster.to_builder().backup_store(std::sync::Arc::new(store)).build().backup_store().is_ok());
    /// # Ok(()) }
    /// ```
    pub fn backup_store(mut self, backend: BackupStore) -> Self {
        self.inner.backup_store = Some(backend);
        self
    }

    /// Finishes the cluster handle.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_core::Result<()> {
    /// let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    /// let cluster = k8sops_core::Cluster::from_config(config)?;
    /// let copy = cluster.to_builder().build();
    /// assert_eq!(copy.url(), cluster.url());
    /// # Ok(()) }
    /// ```
    pub fn build(self) -> Cluster {
        Cluster { inner: Arc::new(self.inner) }
    }
}
