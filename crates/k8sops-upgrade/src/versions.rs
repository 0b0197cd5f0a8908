//! Every version in a cluster, in one [`VersionReport`]: what `kubectl
//! version` prints, the version columns of `kubectl get nodes -o wide`
//! (kubelet, kube-proxy, container runtime, OS image, kernel), the
//! control-plane components `kubeadm upgrade plan` lists (the static pods of
//! `kube-system`, image tag → version), the add-ons that follow the
//! Kubernetes version (kube-proxy, CoreDNS), and the Kubernetes API version
//! this program was built for.
//!
//! Managed control planes (EKS, GKE, AKS) run no pods the cluster can see:
//! the report then says the control plane is not visible and the server's
//! `/version` is all there is to know about it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = k8sops_testkit::TestServer::builder().server_version("v1.30.4").start().await?;
//! server.load(&k8sops_testkit::DemoCluster::small())?;
//! let report = k8sops_upgrade::versions::version_report(&server.cluster(), &Default::default()).await?;
//! assert_eq!(report.server.git_version, "v1.30.4");
//! assert!(report.nodes.iter().all(|n| n.kubelet == "v1.29.3-eks-ae9a62a"));
//! assert!(!report.control_plane.visible); // an EKS-style cluster
//! print!("{report}");
//! # Ok(()) }
//! ```

use std::{collections::BTreeMap, fmt};

use k8s_openapi::api::core::v1::{Node, Pod};
use k8sops_core::{
    object_status::{node_group, node_is_ready, node_roles, node_status, NODE_GROUP_LABELS},
    paging, Cluster, KubeVersion, LabelSelector, Table,
};
use kube::api::ListParams;
use serde::Serialize;

use crate::Result;

/// What [`version_report`] looks at.
///
/// ```
/// use k8sops_upgrade::versions::VersionParams;
/// let p = VersionParams::default()
///     .nodes("eks.amazonaws.com/nodegroup=general".parse().unwrap())
///     .kubectl("v1.30.2".parse().unwrap());
/// assert_eq!(p.system_namespace, "kube-system");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionParams {
    /// Only nodes matching this label selector (default: every node).
    pub node_selector: Option<LabelSelector>,
    /// Where the control-plane static pods and add-ons run (default `kube-system`).
    pub system_namespace: String,
    /// The version of the `kubectl` in use, when the caller knows it
    /// (`kubectl version --client`), so its skew can be checked.
    pub kubectl: Option<KubeVersion>,
}

impl Default for VersionParams {
    fn default() -> Self {
        VersionParams { node_selector: None, system_namespace: "kube-system".into(), kubectl: None }
    }
}

impl VersionParams {
    /// Only nodes matching `selector`.
    ///
    /// ```
    /// let p = k8sops_upgrade::versions::VersionParams::default().nodes("role=worker".parse().unwrap());
    /// assert!(p.node_selector.is_some());
    /// ```
    #[must_use]
    pub fn nodes(mut self, selector: LabelSelector) -> Self {
        self.node_selector = Some(selector);
        self
    }

    /// Looks for the control plane and add-ons in `namespace`.
    ///
    /// ```
    /// let p = k8sops_upgrade::versions::VersionParams::default().system_namespace("cp");
    /// assert_eq!(p.system_namespace, "cp");
    /// ```
    #[must_use]
    pub fn system_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.system_namespace = namespace.into();
        self
    }

    /// The `kubectl` version in use.
    ///
    /// ```
    /// let p = k8sops_upgrade::versions::VersionParams::default().kubectl("v1.31.0".parse().unwrap());
    /// assert_eq!(p.kubectl.unwrap().minor, 31);
    /// ```
    #[must_use]
    pub fn kubectl(mut self, version: KubeVersion) -> Self {
        self.kubectl = Some(version);
        self
    }
}

/// The API server's `/version`, field for field as `kubectl version -o json`
/// prints it under `serverVersion`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().server_version("v1.29.8-eks-a737599").start().await?;
/// let report = k8sops_upgrade::versions::version_report(&server.cluster(), &Default::default()).await?;
/// assert_eq!((report.server.major.as_str(), report.server.minor.as_str()), ("1", "29"));
/// assert_eq!(report.server.version().suffix, "-eks-a737599");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    /// `gitVersion`, e.g. `v1.29.8-eks-a737599`.
    pub git_version: String,
    /// `major`.
    pub major: String,
    /// `minor`, e.g. `29+` on EKS.
    pub minor: String,
    /// `platform`, e.g. `linux/amd64`.
    pub platform: String,
    /// `buildDate`.
    pub build_date: String,
    /// `goVersion`.
    pub go_version: String,
    /// `gitCommit`.
    pub git_commit: String,
    #[serde(skip)]
    parsed: KubeVersion,
}

impl ServerInfo {
    /// The parsed `gitVersion`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::builder().server_version("v1.27.3").start().await?;
    /// let report = k8sops_upgrade::versions::version_report(&server.cluster(), &Default::default()).await?;
    /// assert_eq!(report.server.version().minor, 27);
    /// # Ok(()) }
    /// ```
    pub fn version(&self) -> &KubeVersion {
        &self.parsed
    }

    /// A server that reports `version` and nothing else (for reports built
    /// by hand, e.g. in tests or from an EKS `describe-cluster`).
    ///
    /// ```
    /// let s = k8sops_upgrade::versions::ServerInfo::from_version("v1.28.5".parse().unwrap());
    /// assert_eq!((s.git_version.as_str(), s.minor.as_str()), ("v1.28.5", "28"));
    /// ```
    pub fn from_version(version: KubeVersion) -> Self {
        ServerInfo {
            git_version: version.as_str().to_string(),
            major: version.major.to_string(),
            minor: version.minor.to_string(),
            platform: String::new(),
            build_date: String::new(),
            go_version: String::new(),
            git_commit: String::new(),
            parsed: version,
        }
    }
}

/// What this program speaks: the Kubernetes API version its `k8s-openapi`
/// types were generated for (the version feature the binary enabled), and
/// the k8sops version.
///
/// ```
/// let c = k8sops_upgrade::versions::ClientInfo::current();
/// assert!(c.kubernetes_api.minor >= 33);
/// assert!(!c.k8sops.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo {
    /// The Kubernetes API version of the compiled-in types (see [`client_api_version`]).
    pub kubernetes_api: KubeVersion,
    /// The k8sops (k8sops-upgrade crate) version.
    pub k8sops: String,
}

impl ClientInfo {
    /// This binary's.
    ///
    /// ```
    /// let c = k8sops_upgrade::versions::ClientInfo::current();
    /// assert_eq!(c.kubernetes_api, k8sops_upgrade::versions::client_api_version());
    /// ```
    pub fn current() -> Self {
        ClientInfo { kubernetes_api: client_api_version(), k8sops: env!("CARGO_PKG_VERSION").to_string() }
    }
}

/// The Kubernetes API version the `k8s-openapi` types of this binary were
/// generated for: the `v1_*`/`latest` feature the final binary enabled (a
/// library cannot choose it, but sees the choice through `k8s-openapi`'s
/// `k8s_if_ge_*` macros). A `k8s-openapi` newer than the ones this crate
/// knows reports the newest version known, `v1.37`.
///
/// ```
/// let v = k8sops_upgrade::versions::client_api_version();
/// assert_eq!((v.major, v.patch), (1, 0));
/// assert!((33..=37).contains(&v.minor));
/// ```
pub fn client_api_version() -> KubeVersion {
    // k8s-openapi 0.29 supports 1.33 to 1.37; each macro expands only when
    // the enabled version is at least its own.
    // `mut` is unused when 1.33 itself is enabled and no macro expands.
    #[allow(unused_mut)]
    let mut minor = 33;
    k8s_openapi::k8s_if_ge_1_34! { minor = minor.max(34); }
    k8s_openapi::k8s_if_ge_1_35! { minor = minor.max(35); }
    k8s_openapi::k8s_if_ge_1_36! { minor = minor.max(36); }
    k8s_openapi::k8s_if_ge_1_37! { minor = minor.max(37); }
    KubeVersion::new(1, minor, 0)
}

/// Where a node's kube-proxy version was read.
///
/// ```
/// use k8sops_upgrade::versions::KubeProxySource;
/// assert_eq!(serde_json::to_string(&KubeProxySource::Pod).unwrap(), "\"pod\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum KubeProxySource {
    /// The image tag of the kube-proxy pod running on the node.
    Pod,
    /// `status.nodeInfo.kubeProxyVersion`, as the kubelet reports it
    /// (deprecated: kubelets report their own version there, or nothing).
    NodeInfo,
    /// Neither is known.
    Unknown,
}

/// The versions of one node (`status.nodeInfo`), with the columns of
/// `kubectl get nodes -o wide` that concern versions.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops_upgrade::versions::version_report(&server.cluster(), &Default::default()).await?;
/// let node = &report.nodes[0];
/// assert_eq!(node.kubelet_version().unwrap().minor, 29);
/// assert_eq!(node.container_runtime, "containerd://1.7.11");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeVersions {
    /// The node's name.
    pub name: String,
    /// The STATUS column (`Ready`, `NotReady,SchedulingDisabled`, ...).
    pub status: String,
    /// Whether the Ready condition is True.
    pub ready: bool,
    /// The ROLES column (`control-plane`, `<none>`).
    pub roles: String,
    /// The node group (EKS, eksctl or Karpenter label), if any.
    pub group: Option<String>,
    /// The label [`group`](Self::group) was read from
    /// (`eks.amazonaws.com/nodegroup`, `alpha.eksctl.io/nodegroup-name`,
    /// `karpenter.sh/nodepool`).
    pub group_label: Option<String>,
    /// `kubeletVersion` as reported (the VERSION column).
    pub kubelet: String,
    /// kube-proxy's version (see [`kube_proxy_source`](Self::kube_proxy_source)); empty when unknown.
    pub kube_proxy: String,
    /// Where [`kube_proxy`](Self::kube_proxy) was read.
    pub kube_proxy_source: KubeProxySource,
    /// `containerRuntimeVersion` (`containerd://1.7.11`).
    pub container_runtime: String,
    /// `osImage`.
    pub os_image: String,
    /// `kernelVersion`.
    pub kernel_version: String,
    /// `operatingSystem` (`linux`, `windows`).
    pub operating_system: String,
    /// `architecture` (`amd64`, `arm64`).
    pub architecture: String,
}

impl NodeVersions {
    /// The kubelet version, when it parses.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let report = k8sops_upgrade::versions::version_report(&server.cluster(), &Default::default()).await?;
    /// assert!(report.nodes.iter().all(|n| n.kubelet_version().is_some()));
    /// # Ok(()) }
    /// ```
    pub fn kubelet_version(&self) -> Option<KubeVersion> {
        self.kubelet.parse().ok()
    }

    /// The kube-proxy version, when known and it parses.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let report = k8sops_upgrade::versions::version_report(&server.cluster(), &Default::default()).await?;
    /// // The demo's kube-proxy pods run eks/kube-proxy:v1.29.3-eksbuild.2.
    /// assert_eq!(report.nodes[0].kube_proxy_version().unwrap().minor, 29);
    /// # Ok(()) }
    /// ```
    pub fn kube_proxy_version(&self) -> Option<KubeVersion> {
        self.kube_proxy.parse().ok()
    }

    /// Whether the node carries a control-plane role
    /// (`node-role.kubernetes.io/control-plane` or `master`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let report = k8sops_upgrade::versions::version_report(&server.cluster(), &Default::default()).await?;
    /// assert!(report.nodes.iter().all(|n| !n.is_control_plane()));
    /// # Ok(()) }
    /// ```
    pub fn is_control_plane(&self) -> bool {
        self.roles.split(',').any(|r| r == "control-plane" || r == "master")
    }
}

/// A control-plane component seen as a pod: kubeadm's static pods
/// (`component=kube-apiserver|kube-controller-manager|kube-scheduler|etcd`,
/// `tier=control-plane`) and cloud-controller-manager.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().server_version("v1.29.3").start().await?;
/// server.insert(&serde_json::json!({"apiVersion": "v1", "kind": "Pod",
///     "metadata": {"name": "kube-apiserver-cp-1", "namespace": "kube-system", "labels": {"component": "kube-apiserver", "tier": "control-plane"}},
///     "spec": {"nodeName": "cp-1", "containers": [{"name": "kube-apiserver", "image": "registry.k8s.io/kube-apiserver:v1.29.3"}]}}))?;
/// let report = k8sops_upgrade::versions::version_report(&server.cluster(), &Default::default()).await?;
/// let apiserver = &report.control_plane.components[0];
/// assert_eq!((apiserver.component.as_str(), apiserver.version.as_str()), ("kube-apiserver", "v1.29.3"));
/// assert_eq!(apiserver.kube_version().unwrap().minor, 29);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentVersion {
    /// `kube-apiserver`, `kube-controller-manager`, `kube-scheduler`, `etcd`, `cloud-controller-manager`.
    pub component: String,
    /// The pod.
    pub pod: String,
    /// The node it runs on, if scheduled.
    pub node: Option<String>,
    /// The container image.
    pub image: String,
    /// The image tag (`v1.29.3`, `3.5.10-0` for etcd); empty when the image has none.
    pub version: String,
}

impl ComponentVersion {
    /// The tag as a Kubernetes version; `None` for etcd (its own
    /// versioning) and for tags that are not versions.
    ///
    /// ```
    /// use k8sops_upgrade::versions::ComponentVersion;
    /// let etcd = ComponentVersion { component: "etcd".into(), pod: "etcd-cp-1".into(), node: None,
    ///     image: "registry.k8s.io/etcd:3.5.10-0".into(), version: "3.5.10-0".into() };
    /// assert!(etcd.kube_version().is_none());
    /// ```
    pub fn kube_version(&self) -> Option<KubeVersion> {
        if self.component == "etcd" {
            return None;
        }
        self.version.parse().ok()
    }
}

/// The control plane as far as the cluster shows it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let report = k8sops_upgrade::versions::version_report(&server.cluster(), &Default::default()).await?;
/// assert!(!report.control_plane.visible && report.control_plane.components.is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlPlaneVersions {
    /// Whether any control-plane pod was found (kubeadm and other
    /// self-hosted clusters); `false` for managed control planes.
    pub visible: bool,
    /// One entry per control-plane pod, by component then node.
    pub components: Vec<ComponentVersion>,
}

impl ControlPlaneVersions {
    /// The kube-apiserver versions seen (one per API server pod; several in
    /// an HA cluster), parsed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// let report = k8sops_upgrade::versions::version_report(&server.cluster(), &Default::default()).await?;
    /// assert!(report.control_plane.apiservers().is_empty());
    /// # Ok(()) }
    /// ```
    pub fn apiservers(&self) -> Vec<KubeVersion> {
        self.of("kube-apiserver").filter_map(ComponentVersion::kube_version).collect()
    }

    /// The pods of one component.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// let report = k8sops_upgrade::versions::version_report(&server.cluster(), &Default::default()).await?;
    /// assert_eq!(report.control_plane.of("etcd").count(), 0);
    /// # Ok(()) }
    /// ```
    pub fn of<'a>(&'a self, component: &'a str) -> impl Iterator<Item = &'a ComponentVersion> + 'a {
        self.components.iter().filter(move |c| c.component == component)
    }
}

/// An add-on whose version follows the cluster's (kube-proxy, CoreDNS):
/// one entry per image in use.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops_upgrade::versions::version_report(&server.cluster(), &Default::default()).await?;
/// let dns = report.addons.iter().find(|a| a.name == "coredns").unwrap();
/// assert_eq!(dns.version, "v1.11.1-eksbuild.9");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddonVersion {
    /// `kube-proxy` or `coredns`.
    pub name: String,
    /// The container image.
    pub image: String,
    /// The image tag.
    pub version: String,
    /// How many pods run it.
    pub pods: usize,
}

/// Every version in the cluster; see the [module docs](self).
/// `Display` prints `kubectl version`'s lines, the nodes' version columns
/// and the control-plane and add-on tables.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().server_version("v1.30.4").start().await?;
/// let report = k8sops_upgrade::versions::version_report(&server.cluster(), &Default::default()).await?;
/// assert!(report.to_string().contains("Server Version: v1.30.4"));
/// let json = serde_json::to_value(&report)?;
/// assert_eq!(json["server"]["gitVersion"], "v1.30.4");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionReport {
    /// The API server's `/version`.
    pub server: ServerInfo,
    /// This program.
    pub client: ClientInfo,
    /// The kubectl version, when given in [`VersionParams::kubectl`].
    pub kubectl: Option<KubeVersion>,
    /// Nodes, by name.
    pub nodes: Vec<NodeVersions>,
    /// Control-plane pods.
    pub control_plane: ControlPlaneVersions,
    /// kube-proxy and CoreDNS images in use.
    pub addons: Vec<AddonVersion>,
    /// What could not be read (e.g. pods in `kube-system` were forbidden),
    /// and why: the report is complete only when this is empty.
    pub notes: Vec<VersionNote>,
}

/// What a [`VersionNote`] says could not be read.
///
/// ```
/// use k8sops_upgrade::versions::Unread;
/// assert_eq!(serde_json::to_string(&Unread::SystemPods).unwrap(), "\"systemPods\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Unread {
    /// The node list: node versions are unknown.
    Nodes,
    /// The pods of the system namespace: control-plane, kube-proxy and
    /// CoreDNS versions are unknown.
    SystemPods,
}

/// A part of a [`VersionReport`] that could not be read, and why.
///
/// ```
/// use k8sops_upgrade::versions::{Unread, VersionNote};
/// let n = VersionNote { unread: Unread::Nodes, reason: "forbidden".into() };
/// assert_eq!(n.to_string(), "nodes could not be listed: forbidden");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionNote {
    /// What.
    pub unread: Unread,
    /// Why (the error).
    pub reason: String,
}

impl fmt::Display for VersionNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.unread {
            Unread::Nodes => write!(f, "nodes could not be listed: {}", self.reason),
            Unread::SystemPods => write!(
                f,
                "system pods could not be listed, so control-plane, kube-proxy and CoreDNS versions are unknown: {}",
                self.reason
            ),
        }
    }
}

impl VersionReport {
    /// A report with only a server version, to be filled by hand (tests,
    /// or plans built from another source than a live cluster).
    ///
    /// ```
    /// use k8sops_upgrade::versions::VersionReport;
    /// let r = VersionReport::for_server("v1.28.5".parse().unwrap());
    /// assert!(r.nodes.is_empty() && !r.control_plane.visible);
    /// ```
    pub fn for_server(version: KubeVersion) -> Self {
        VersionReport {
            server: ServerInfo::from_version(version),
            client: ClientInfo::current(),
            kubectl: None,
            nodes: Vec::new(),
            control_plane: ControlPlaneVersions { visible: false, components: Vec::new() },
            addons: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// The API server versions: those of the kube-apiserver pods when
    /// visible (HA clusters may have several), and `/version`'s. Sorted,
    /// oldest first, never empty.
    ///
    /// ```
    /// use k8sops_upgrade::versions::VersionReport;
    /// let r = VersionReport::for_server("v1.28.5".parse().unwrap());
    /// assert_eq!(r.apiserver_versions(), ["v1.28.5".parse().unwrap()]);
    /// ```
    pub fn apiserver_versions(&self) -> Vec<KubeVersion> {
        let mut v = self.control_plane.apiservers();
        v.push(self.server.version().clone());
        v.sort();
        v.dedup();
        v
    }

    /// The nodes' version table: NAME, STATUS, ROLES and VERSION as
    /// `kubectl get nodes -o wide` prints them, KUBE-PROXY, then OS-IMAGE,
    /// KERNEL-VERSION and CONTAINER-RUNTIME as kubectl prints them
    /// (`<unknown>` when empty).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let report = k8sops_upgrade::versions::version_report(&server.cluster(), &Default::default()).await?;
    /// assert_eq!(report.nodes_table().headers()[3], "version");
    /// # Ok(()) }
    /// ```
    pub fn nodes_table(&self) -> Table {
        let known = |s: &str| if s.is_empty() { "<unknown>".to_string() } else { s.to_string() };
        let mut t = Table::new([
            "name",
            "status",
            "roles",
            "version",
            "kube-proxy",
            "os-image",
            "kernel-version",
            "container-runtime",
        ]);
        for n in &self.nodes {
            t.row([
                n.name.clone(),
                n.status.clone(),
                n.roles.clone(),
                n.kubelet.clone(),
                known(&n.kube_proxy),
                known(&n.os_image),
                known(&n.kernel_version),
                known(&n.container_runtime),
            ]);
        }
        t
    }

    /// The control-plane table (COMPONENT, NODE, VERSION, IMAGE); empty when
    /// the control plane is not visible.
    ///
    /// ```
    /// use k8sops_upgrade::versions::VersionReport;
    /// assert!(VersionReport::for_server("v1.28.5".parse().unwrap()).control_plane_table().is_empty());
    /// ```
    pub fn control_plane_table(&self) -> Table {
        let mut t = Table::new(["component", "node", "version", "image"]);
        for c in &self.control_plane.components {
            t.row([c.component.clone(), c.node.clone().unwrap_or_default(), c.version.clone(), c.image.clone()]);
        }
        t
    }
}

impl fmt::Display for VersionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Client Version: {} (Kubernetes API of this build; k8sops {})",
            crate::rules::MinorVersion::from(&self.client.kubernetes_api),
            self.client.k8sops
        )?;
        if let Some(k) = &self.kubectl {
            writeln!(f, "kubectl Version: {}", k.as_str())?;
        }
        writeln!(f, "Server Version: {}", self.server.git_version)?;
        writeln!(f)?;
        if self.nodes.is_empty() {
            writeln!(f, "No nodes.")?;
        } else {
            write!(f, "{}", self.nodes_table())?;
        }
        writeln!(f)?;
        if self.control_plane.visible {
            writeln!(f, "Control plane:")?;
            write!(f, "{}", self.control_plane_table())?;
        } else {
            writeln!(
                f,
                "Control plane: not visible (no control-plane pods in the system namespace: a managed control plane such as EKS, GKE or AKS); its version is the server's, {}",
                self.server.git_version
            )?;
        }
        if !self.addons.is_empty() {
            writeln!(f)?;
            let mut t = Table::new(["add-on", "version", "pods", "image"]);
            for a in &self.addons {
                t.row([a.name.clone(), a.version.clone(), a.pods.to_string(), a.image.clone()]);
            }
            write!(f, "{t}")?;
        }
        if !self.notes.is_empty() {
            writeln!(f)?;
            for n in &self.notes {
                writeln!(f, "Note: {n}")?;
            }
        }
        Ok(())
    }
}

/// The CoreDNS version kubeadm installs with each Kubernetes minor version
/// (from CoreDNS's own record, `coredns/deployment`'s
/// `kubernetes/CoreDNS-k8s_version.md`, for 1.20 to 1.32, and Kubernetes'
/// release notes for 1.33 to 1.37). Patch releases can move it: 1.31.0
/// shipped v1.11.1, 1.31.1 and later v1.11.3, which is the row here.
///
/// ```
/// assert_eq!(k8sops_upgrade::versions::KUBEADM_COREDNS.iter().find(|(m, _)| *m == 29).unwrap().1, "v1.11.1");
/// ```
pub const KUBEADM_COREDNS: [(u32, &str); 18] = [
    (20, "v1.7.0"),
    (21, "v1.8.0"),
    (22, "v1.8.4"),
    (23, "v1.8.6"),
    (24, "v1.8.6"),
    (25, "v1.9.3"),
    (26, "v1.9.3"),
    (27, "v1.10.1"),
    (28, "v1.10.1"),
    (29, "v1.11.1"),
    (30, "v1.11.1"),
    (31, "v1.11.3"),
    (32, "v1.11.3"),
    (33, "v1.12.0"),
    (34, "v1.12.1"),
    (35, "v1.13.1"),
    (36, "v1.14.2"),
    (37, "v1.14.6"),
];

/// The CoreDNS version kubeadm installs with Kubernetes `version`'s minor
/// release, when known ([`KUBEADM_COREDNS`]).
///
/// ```
/// use k8sops_upgrade::versions::kubeadm_coredns_version;
/// assert_eq!(kubeadm_coredns_version(&"v1.30.4".parse().unwrap()), Some("v1.11.1"));
/// assert_eq!(kubeadm_coredns_version(&"v1.19.0".parse().unwrap()), None);
/// // Every release up to the newest one the removed-API rules know.
/// let newest = k8sops_upgrade::rules::NEWEST_RELEASE;
/// for minor in 20..=newest.minor {
///     assert!(kubeadm_coredns_version(&format!("v1.{minor}.0").parse().unwrap()).is_some(), "1.{minor}");
/// }
/// ```
pub fn kubeadm_coredns_version(version: &KubeVersion) -> Option<&'static str> {
    if version.major != 1 {
        return None;
    }
    KUBEADM_COREDNS.iter().find(|(m, _)| *m == version.minor).map(|(_, v)| *v)
}

/// The components kubeadm runs as static pods, plus cloud-controller-manager.
const CONTROL_PLANE_COMPONENTS: [&str; 5] =
    ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "cloud-controller-manager"];

/// The tag of a container image: `registry.k8s.io/kube-apiserver:v1.29.3` →
/// `v1.29.3`; a digest is ignored, and a registry port is not a tag.
///
/// ```
/// use k8sops_upgrade::versions::image_tag;
/// assert_eq!(image_tag("registry.k8s.io/kube-apiserver:v1.29.3"), Some("v1.29.3"));
/// assert_eq!(image_tag("localhost:5000/etcd:3.5.10-0@sha256:abc"), Some("3.5.10-0"));
/// assert_eq!(image_tag("localhost:5000/kube-proxy"), None);
/// ```
pub fn image_tag(image: &str) -> Option<&str> {
    let image = image.split_once('@').map_or(image, |(name, _)| name);
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':').map(|(_, tag)| tag).filter(|t| !t.is_empty())
}

/// Reads every version of the cluster; see the [module docs](self).
///
/// `Err` only when `/version` cannot be read (the cluster is not
/// reachable, or the credentials are refused); a list that fails later
/// (nodes, system pods) leaves its part empty and says why in
/// [`VersionReport::notes`].
///
/// # Cancel safety
/// Read-only: dropping the future stops it and changes nothing.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use k8sops_upgrade::versions::{version_report, VersionParams};
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let params = VersionParams::default().nodes("eks.amazonaws.com/nodegroup=spot".parse()?);
/// let report = version_report(&server.cluster(), &params).await?;
/// assert_eq!(report.nodes.len(), 1);
/// # Ok(()) }
/// ```
pub async fn version_report(cluster: &Cluster, params: &VersionParams) -> Result<VersionReport> {
    let server = server_info(cluster).await?;
    let mut report = VersionReport::for_server(server.parsed.clone());
    report.server = server;
    report.kubectl = params.kubectl.clone();

    let mut lp = ListParams::default();
    if let Some(sel) = &params.node_selector {
        lp = lp.labels(&sel.to_string());
    }
    let nodes: Vec<Node> = match paging::list_all(cluster, &cluster.api_all::<Node>(), lp).await {
        Ok(n) => n,
        Err(e) => {
            report.notes.push(VersionNote { unread: Unread::Nodes, reason: e.to_string() });
            Vec::new()
        }
    };
    let ns = &params.system_namespace;
    let system_pods: Vec<Pod> =
        match paging::list_all(cluster, &cluster.api_namespaced::<Pod>(ns), ListParams::default()).await {
            Ok(p) => p,
            Err(e) => {
                report.notes.push(VersionNote { unread: Unread::SystemPods, reason: format!("pods in {ns}: {e}") });
                Vec::new()
            }
        };

    let mut proxy_by_node: BTreeMap<String, String> = BTreeMap::new();
    let mut addons: BTreeMap<(String, String), usize> = BTreeMap::new();
    for pod in &system_pods {
        if let Some(c) = control_plane_component(pod) {
            report.control_plane.components.push(c);
            continue;
        }
        if let Some((name, image)) = addon(pod) {
            if name == "kube-proxy" {
                if let (Some(node), Some(tag)) =
                    (pod.spec.as_ref().and_then(|s| s.node_name.clone()), image_tag(&image))
                {
                    proxy_by_node.insert(node, tag.to_string());
                }
            }
            *addons.entry((name.to_string(), image)).or_default() += 1;
        }
    }
    report.control_plane.visible = !report.control_plane.components.is_empty();
    report.control_plane.components.sort_by(|a, b| {
        let rank = |c: &ComponentVersion| CONTROL_PLANE_COMPONENTS.iter().position(|k| *k == c.component);
        (rank(a), &a.node, &a.pod).cmp(&(rank(b), &b.node, &b.pod))
    });
    report.addons = addons
        .into_iter()
        .map(|((name, image), pods)| AddonVersion {
            name,
            version: image_tag(&image).unwrap_or_default().to_string(),
            image,
            pods,
        })
        .collect();

    report.nodes = nodes.iter().map(|n| node_versions(n, &proxy_by_node)).collect();
    report.nodes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(report)
}

async fn server_info(cluster: &Cluster) -> Result<ServerInfo> {
    let info = cluster
        .retry_policy()
        .run(|_| async { cluster.client().apiserver_version().await.map_err(|e| cluster.map_err(e, "/version")) })
        .await?;
    let parsed = KubeVersion::try_from(&info).map_err(k8sops_core::Error::from)?;
    Ok(ServerInfo {
        git_version: info.git_version,
        major: info.major,
        minor: info.minor,
        platform: info.platform,
        build_date: info.build_date,
        go_version: info.go_version,
        git_commit: info.git_commit,
        parsed,
    })
}

fn node_versions(node: &Node, proxy_by_node: &BTreeMap<String, String>) -> NodeVersions {
    let name = node.metadata.name.clone().unwrap_or_default();
    let info = node.status.as_ref().and_then(|s| s.node_info.as_ref());
    let field =
        |f: fn(&k8s_openapi::api::core::v1::NodeSystemInfo) -> &String| info.map(f).cloned().unwrap_or_default();
    let (kube_proxy, kube_proxy_source) = match proxy_by_node.get(&name) {
        Some(v) => (v.clone(), KubeProxySource::Pod),
        None => {
            let reported = field(|i| &i.kube_proxy_version);
            if reported.is_empty() {
                (reported, KubeProxySource::Unknown)
            } else {
                (reported, KubeProxySource::NodeInfo)
            }
        }
    };
    NodeVersions {
        status: node_status(node),
        ready: node_is_ready(node),
        roles: node_roles(node),
        group: node_group(node),
        group_label: NODE_GROUP_LABELS
            .iter()
            .find(|l| node.metadata.labels.as_ref().is_some_and(|m| m.contains_key(**l)))
            .map(|l| l.to_string()),
        kubelet: field(|i| &i.kubelet_version),
        kube_proxy,
        kube_proxy_source,
        container_runtime: field(|i| &i.container_runtime_version),
        os_image: field(|i| &i.os_image),
        kernel_version: field(|i| &i.kernel_version),
        operating_system: field(|i| &i.operating_system),
        architecture: field(|i| &i.architecture),
        name,
    }
}

fn label<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata.labels.as_ref()?.get(key).map(String::as_str)
}

/// The image of the container called `name`, else of the first container.
fn image_of(pod: &Pod, name: &str) -> Option<String> {
    let containers = &pod.spec.as_ref()?.containers;
    containers.iter().find(|c| c.name == name).or(containers.first()).and_then(|c| c.image.clone())
}

fn control_plane_component(pod: &Pod) -> Option<ComponentVersion> {
    let component = label(pod, "component")
        .filter(|c| CONTROL_PLANE_COMPONENTS.contains(c))
        .or_else(|| label(pod, "k8s-app").filter(|c| *c == "cloud-controller-manager"))?;
    let image = image_of(pod, component).unwrap_or_default();
    Some(ComponentVersion {
        component: component.to_string(),
        pod: pod.metadata.name.clone().unwrap_or_default(),
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        version: image_tag(&image).unwrap_or_default().to_string(),
        image,
    })
}

/// kube-proxy (`k8s-app=kube-proxy`, or a container named kube-proxy) and
/// CoreDNS (`k8s-app=kube-dns` running a coredns image).
fn addon(pod: &Pod) -> Option<(&'static str, String)> {
    let app = label(pod, "k8s-app");
    let has_container = |n: &str| pod.spec.as_ref().is_some_and(|s| s.containers.iter().any(|c| c.name == n));
    if app == Some("kube-proxy") || has_container("kube-proxy") {
        return image_of(pod, "kube-proxy").map(|i| ("kube-proxy", i));
    }
    if app == Some("kube-dns") || has_container("coredns") {
        let image = image_of(pod, "coredns")?;
        let name = image.split_once('@').map_or(image.as_str(), |(n, _)| n);
        if name.rsplit('/').next().is_some_and(|last| last.starts_with("coredns")) {
            return Some(("coredns", image));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_tags_ignore_registry_ports_and_digests() {
        assert_eq!(image_tag("registry.k8s.io/kube-scheduler:v1.30.1"), Some("v1.30.1"));
        assert_eq!(
            image_tag("602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/kube-proxy:v1.29.3-eksbuild.2"),
            Some("v1.29.3-eksbuild.2")
        );
        assert_eq!(image_tag("myregistry:5000/kube-apiserver"), None);
        assert_eq!(image_tag("kube-apiserver@sha256:0123"), None);
        assert_eq!(image_tag("kube-apiserver:"), None);
        assert_eq!(image_tag(""), None);
    }

    #[test]
    fn apiserver_versions_are_sorted_and_deduplicated() {
        let mut r = VersionReport::for_server("v1.29.3".parse().unwrap());
        for (pod, tag) in [("a", "v1.29.3"), ("b", "v1.28.9"), ("c", "v1.29.3")] {
            r.control_plane.components.push(ComponentVersion {
                component: "kube-apiserver".into(),
                pod: pod.into(),
                node: None,
                image: format!("registry.k8s.io/kube-apiserver:{tag}"),
                version: tag.into(),
            });
        }
        let v: Vec<String> = r.apiserver_versions().iter().map(|v| v.to_string()).collect();
        assert_eq!(v, ["v1.28.9", "v1.29.3"]);
    }

    #[test]
    fn client_api_version_is_the_enabled_feature() {
        // The dev-dependency enables `latest`, 1.37 for k8s-openapi 0.29.
        assert_eq!(client_api_version(), KubeVersion::new(1, 37, 0));
    }
}
