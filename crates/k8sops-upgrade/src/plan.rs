//! A read-only upgrade plan in the manner of `kubeadm upgrade plan`: the
//! components with their current and target versions, then, hop by hop
//! (the control plane moves one minor version at a time), the steps in
//! order — control plane first, then its add-ons, then the node groups —
//! with the commands and API calls each step needs.
//!
//! Three kinds of cluster are planned for ([`Flavor`]): kubeadm clusters
//! (control-plane static pods are visible), EKS (server version
//! `-eks-...`), and other managed control planes (generic steps).
//!
//! Before each hop the plan checks the nodes against the skew policy at
//! the hop's version: a node whose kubelet would fall out of it once the
//! control plane moves must be upgraded first. That is the reason node
//! upgrades may be needed between hops even with
//! [`NodeUpgrades::WhenRequired`], which otherwise upgrades worker nodes
//! only once, after the last hop.
//!
//! ```
//! use k8sops_upgrade::{plan::{build_plan, PlanParams}, versions::VersionReport};
//! let versions = VersionReport::for_server("v1.26.5".parse().unwrap());
//! let plan = build_plan(&versions, &PlanParams::new("v1.29".parse().unwrap()))?;
//! let hops: Vec<String> = plan.hops.iter().map(|h| h.to.to_string()).collect();
//! assert_eq!(hops, ["v1.27", "v1.28", "v1.29"]);
//! print!("{plan}");
//! # Ok::<(), k8sops_upgrade::Error>(())
//! ```

use std::{collections::BTreeMap, fmt};

use k8sops_core::{Cluster, KubeVersion, Table};
use serde::Serialize;

use crate::{
    rules::MinorVersion,
    skew::{self, upgrade_hops, Component, SkewPolicy, SkewViolation},
    versions::{kubeadm_coredns_version, version_report, NodeVersions, VersionParams, VersionReport},
    Result,
};

/// How the cluster's control plane is run, which decides the commands.
///
/// ```
/// use k8sops_upgrade::{plan::Flavor, versions::VersionReport};
/// assert_eq!(Flavor::detect(&VersionReport::for_server("v1.29.3-eks-ae9a62a".parse().unwrap())), Flavor::Eks);
/// assert_eq!(Flavor::detect(&VersionReport::for_server("v1.29.3".parse().unwrap())), Flavor::Managed);
/// assert_eq!(Flavor::Kubeadm.to_string(), "kubeadm");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Flavor {
    /// Static control-plane pods in the system namespace: `kubeadm upgrade`.
    Kubeadm,
    /// Amazon EKS: `aws eks update-cluster-version`, node groups, add-ons.
    Eks,
    /// Another managed or invisible control plane: the provider's tools.
    Managed,
}

impl Flavor {
    /// Kubeadm when control-plane pods are visible; EKS when the server's
    /// or a kubelet's version carries `-eks-`, or a node is in an EKS
    /// managed node group; managed otherwise.
    ///
    /// ```
    /// use k8sops_upgrade::{plan::Flavor, versions::VersionReport};
    /// assert_eq!(Flavor::detect(&VersionReport::for_server("v1.31.1-eks-1".parse().unwrap())), Flavor::Eks);
    /// ```
    pub fn detect(versions: &VersionReport) -> Flavor {
        let eks = |v: &str| v.contains("-eks-");
        if versions.control_plane.visible {
            Flavor::Kubeadm
        } else if eks(&versions.server.git_version)
            || versions
                .nodes
                .iter()
                .any(|n| eks(&n.kubelet) || n.group_label.as_deref() == Some("eks.amazonaws.com/nodegroup"))
        {
            Flavor::Eks
        } else {
            Flavor::Managed
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavor::Kubeadm => "kubeadm",
            Flavor::Eks => "EKS",
            Flavor::Managed => "managed control plane",
        })
    }
}

/// When worker nodes are upgraded.
///
/// ```
/// use k8sops_upgrade::plan::NodeUpgrades;
/// assert_eq!(NodeUpgrades::default(), NodeUpgrades::EveryHop);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NodeUpgrades {
    /// After every control-plane hop, as kubeadm's documentation does.
    #[default]
    EveryHop,
    /// Only when the skew policy requires it before a hop, and after the
    /// last hop (kubelets may lag three minor versions from 1.28 on, so a
    /// 1.28 → 1.31 upgrade can replace its nodes once).
    WhenRequired,
}

/// What to plan.
///
/// ```
/// use k8sops_upgrade::plan::{Flavor, NodeUpgrades, PlanParams};
/// let p = PlanParams::new("v1.30".parse().unwrap())
///     .flavor(Flavor::Eks)
///     .cluster_name("prod")
///     .node_upgrades(NodeUpgrades::WhenRequired);
/// assert_eq!(p.cluster_name.as_deref(), Some("prod"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanParams {
    /// The version to reach (`v1.30`, or with a patch `v1.30.4`).
    pub target: KubeVersion,
    /// The kind of cluster (default: [`Flavor::detect`]).
    pub flavor: Option<Flavor>,
    /// The cluster's name for provider commands (EKS); `<cluster>` when unknown.
    pub cluster_name: Option<String>,
    /// When worker nodes are upgraded.
    pub node_upgrades: NodeUpgrades,
    /// What [`plan_upgrade`] reads.
    pub versions: VersionParams,
}

impl PlanParams {
    /// A plan to `target` with the defaults.
    ///
    /// ```
    /// let p = k8sops_upgrade::plan::PlanParams::new("v1.31.2".parse().unwrap());
    /// assert!(p.flavor.is_none());
    /// ```
    pub fn new(target: KubeVersion) -> Self {
        PlanParams {
            target,
            flavor: None,
            cluster_name: None,
            node_upgrades: NodeUpgrades::default(),
            versions: VersionParams::default(),
        }
    }

    /// Sets [`flavor`](Self::flavor).
    ///
    /// ```
    /// use k8sops_upgrade::plan::{Flavor, PlanParams};
    /// assert_eq!(PlanParams::new("v1.30".parse().unwrap()).flavor(Flavor::Kubeadm).flavor, Some(Flavor::Kubeadm));
    /// ```
    #[must_use]
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = Some(flavor);
        self
    }

    /// Sets [`cluster_name`](Self::cluster_name).
    ///
    /// ```
    /// let p = k8sops_upgrade::plan::PlanParams::new("v1.30".parse().unwrap()).cluster_name("prod");
    /// assert_eq!(p.cluster_name.unwrap(), "prod");
    /// ```
    #[must_use]
    pub fn cluster_name(mut self, name: impl Into<String>) -> Self {
        self.cluster_name = Some(name.into());
        self
    }

    /// Sets [`node_upgrades`](Self::node_upgrades).
    ///
    /// ```
    /// use k8sops_upgrade::plan::{NodeUpgrades, PlanParams};
    /// let p = PlanParams::new("v1.30".parse().unwrap()).node_upgrades(NodeUpgrades::WhenRequired);
    /// assert_eq!(p.node_upgrades, NodeUpgrades::WhenRequired);
    /// ```
    #[must_use]
    pub fn node_upgrades(mut self, when: NodeUpgrades) -> Self {
        self.node_upgrades = when;
        self
    }

    /// Sets [`versions`](Self::versions).
    ///
    /// ```
    /// use k8sops_upgrade::{plan::PlanParams, versions::VersionParams};
    /// let p = PlanParams::new("v1.30".parse().unwrap()).versions(VersionParams::default().system_namespace("cp"));
    /// assert_eq!(p.versions.system_namespace, "cp");
    /// ```
    #[must_use]
    pub fn versions(mut self, versions: VersionParams) -> Self {
        self.versions = versions;
        self
    }
}

/// A row of the component table: `kubeadm upgrade plan`'s COMPONENT, NODE,
/// CURRENT, TARGET.
///
/// ```
/// use k8sops_upgrade::{plan::{build_plan, PlanParams}, versions::VersionReport};
/// let plan = build_plan(&VersionReport::for_server("v1.29.3".parse().unwrap()), &PlanParams::new("v1.30.2".parse().unwrap()))?;
/// let apiserver = &plan.components[0];
/// assert_eq!((apiserver.current.as_str(), apiserver.target.as_str()), ("v1.29.3", "v1.30.2"));
/// # Ok::<(), k8sops_upgrade::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentUpgrade {
    /// `kube-apiserver`, `kubelet`, `kube-proxy`, `coredns`, `etcd`, `kubectl`, ...
    pub component: String,
    /// The node (or pod count, for add-ons); empty when not applicable.
    pub node: String,
    /// The version now.
    pub current: String,
    /// The version after the upgrade (`v1.30.x`: the latest patch).
    pub target: String,
}

/// What kind of nodes a group holds, which decides how they are upgraded.
///
/// ```
/// use k8sops_upgrade::plan::GroupKind;
/// assert_eq!(serde_json::to_string(&GroupKind::EksManaged).unwrap(), "\"eksManaged\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum GroupKind {
    /// Control-plane nodes (role `control-plane` or `master`).
    ControlPlane,
    /// An EKS managed node group (`eks.amazonaws.com/nodegroup`).
    EksManaged,
    /// An eksctl node group (`alpha.eksctl.io/nodegroup-name`).
    Eksctl,
    /// A Karpenter node pool (`karpenter.sh/nodepool`).
    Karpenter,
    /// Nodes in no known group.
    Ungrouped,
}

/// A group of nodes upgraded together.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::builder().server_version("v1.29.3-eks-1").start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let plan = k8sops_upgrade::plan::plan_upgrade(&server.cluster(), &k8sops_upgrade::plan::PlanParams::new("v1.30".parse()?)).await?;
/// let names: Vec<&str> = plan.groups.iter().map(|g| g.name.as_str()).collect();
/// assert_eq!(names, ["general", "spot", "system"]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeGroupPlan {
    /// The group's name (`control-plane` and `ungrouped` for those kinds).
    pub name: String,
    /// Its kind.
    pub kind: GroupKind,
    /// Its nodes, by name.
    pub nodes: Vec<String>,
}

/// What a step upgrades.
///
/// ```
/// use k8sops_upgrade::plan::StepKind;
/// assert_eq!(serde_json::to_string(&StepKind::ControlPlane).unwrap(), "\"controlPlane\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum StepKind {
    /// Nodes that must be upgraded before the hop's control-plane step.
    NodesFirst,
    /// The control plane (first control-plane node, or the managed service).
    ControlPlane,
    /// The other control-plane nodes, and the kubelets of all control-plane nodes.
    ControlPlaneNodes,
    /// Add-ons a managed control-plane upgrade leaves behind (kube-proxy, CoreDNS, CNI).
    Addons,
    /// A group of worker nodes.
    NodeGroup,
}

/// One step of a hop.
///
/// ```
/// use k8sops_upgrade::{plan::{build_plan, PlanParams, StepKind}, versions::VersionReport};
/// let plan = build_plan(&VersionReport::for_server("v1.29.3-eks-1".parse().unwrap()), &PlanParams::new("v1.30".parse().unwrap()).cluster_name("prod"))?;
/// let step = &plan.hops[0].steps[0];
/// assert_eq!(step.kind, StepKind::ControlPlane);
/// assert_eq!(step.commands[0], "aws eks update-cluster-version --name prod --kubernetes-version 1.30");
/// # Ok::<(), k8sops_upgrade::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanStep {
    /// What it upgrades.
    pub kind: StepKind,
    /// What it does, in a sentence.
    pub title: String,
    /// The nodes it concerns, in order (one at a time unless said otherwise).
    pub nodes: Vec<String>,
    /// Commands to run (`<node>` stands for each node in turn; `x` in a
    /// version for the latest patch release).
    pub commands: Vec<String>,
    /// The API calls the step makes (Kubernetes API and cloud APIs).
    pub api_calls: Vec<String>,
    /// Why the step is needed here, when it is not the usual order.
    pub reason: Option<String>,
}

/// One minor-version hop of the control plane.
///
/// ```
/// use k8sops_upgrade::{plan::{build_plan, PlanParams}, versions::VersionReport};
/// let plan = build_plan(&VersionReport::for_server("v1.27.3".parse().unwrap()), &PlanParams::new("v1.29.1".parse().unwrap()))?;
/// assert_eq!((plan.hops[0].version.as_str(), plan.hops[1].version.as_str()), ("v1.28.x", "v1.29.1"));
/// # Ok::<(), k8sops_upgrade::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hop {
    /// The control plane's minor version before the hop.
    pub from: MinorVersion,
    /// Its minor version after.
    pub to: MinorVersion,
    /// The version installed (`v1.28.x` for the latest patch, or the exact target).
    pub version: String,
    /// Components that would fall outside the skew policy once the control
    /// plane reaches [`to`](Self::to), and so are upgraded first.
    pub out_of_skew: Vec<SkewViolation>,
    /// The steps, in order.
    pub steps: Vec<PlanStep>,
}

/// The whole plan; see the [module docs](self). `Display` prints the
/// component table and the numbered steps of each hop with their commands.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use k8sops_upgrade::plan::{plan_upgrade, Flavor, PlanParams};
/// let server = k8sops_testkit::TestServer::builder().server_version("v1.29.3-eks-1").start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let plan = plan_upgrade(&server.cluster(), &PlanParams::new("v1.31".parse()?)).await?;
/// assert_eq!(plan.flavor, Flavor::Eks);
/// assert_eq!(plan.hops.len(), 2);
/// assert!(plan.to_string().contains("aws eks update-nodegroup-version --cluster-name <cluster> --nodegroup-name general --kubernetes-version 1.30"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradePlan {
    /// The kind of cluster planned for.
    pub flavor: Flavor,
    /// Where the control plane starts (its oldest API server).
    pub current: KubeVersion,
    /// The target.
    pub target: KubeVersion,
    /// The component table.
    pub components: Vec<ComponentUpgrade>,
    /// The node groups, control plane first, then by name.
    pub groups: Vec<NodeGroupPlan>,
    /// The hops, in order (empty when there is nothing to do).
    pub hops: Vec<Hop>,
    /// Things to know before starting.
    pub notes: Vec<String>,
}

impl UpgradePlan {
    /// The component table, as `kubeadm upgrade plan` prints it.
    ///
    /// ```
    /// use k8sops_upgrade::{plan::{build_plan, PlanParams}, versions::VersionReport};
    /// let plan = build_plan(&VersionReport::for_server("v1.29.3".parse().unwrap()), &PlanParams::new("v1.30".parse().unwrap()))?;
    /// assert_eq!(plan.components_table().headers(), ["component", "node", "current", "target"]);
    /// # Ok::<(), k8sops_upgrade::Error>(())
    /// ```
    pub fn components_table(&self) -> Table {
        let mut t = Table::new(["component", "node", "current", "target"]);
        for c in &self.components {
            t.row([c.component.clone(), c.node.clone(), c.current.clone(), c.target.clone()]);
        }
        t
    }

    /// Every step of every hop, with its hop.
    ///
    /// ```
    /// use k8sops_upgrade::{plan::{build_plan, PlanParams}, versions::VersionReport};
    /// let plan = build_plan(&VersionReport::for_server("v1.27.3".parse().unwrap()), &PlanParams::new("v1.29".parse().unwrap()))?;
    /// assert_eq!(plan.steps().count(), 2); // one control-plane step per hop; no nodes known
    /// # Ok::<(), k8sops_upgrade::Error>(())
    /// ```
    pub fn steps(&self) -> impl Iterator<Item = (&Hop, &PlanStep)> + '_ {
        self.hops.iter().flat_map(|h| h.steps.iter().map(move |s| (h, s)))
    }
}

impl fmt::Display for UpgradePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hops: Vec<String> = self.hops.iter().map(|h| h.to.to_string()).collect();
        writeln!(
            f,
            "Upgrade plan ({}): {} -> {}{}",
            self.flavor,
            self.current.as_str(),
            self.target.as_str(),
            match hops.len() {
                0 => ": nothing to do".to_string(),
                1 => String::new(),
                n => format!(", {n} hops: {}", hops.join(", ")),
            }
        )?;
        writeln!(f)?;
        write!(f, "{}", self.components_table())?;
        let mut n = 0;
        for hop in &self.hops {
            writeln!(f)?;
            if hop.from == hop.to {
                writeln!(f, "Patch upgrade within {} to {}:", hop.to, hop.version)?;
            } else {
                writeln!(f, "Hop {} -> {} ({}):", hop.from, hop.to, hop.version)?;
            }
            for v in &hop.out_of_skew {
                writeln!(f, "  ! {}", v.message)?;
            }
            for step in &hop.steps {
                n += 1;
                writeln!(f, "  {n}. {}", step.title)?;
                if let Some(r) = &step.reason {
                    writeln!(f, "     why: {r}")?;
                }
                if !step.nodes.is_empty() {
                    writeln!(f, "     nodes: {}", step.nodes.join(", "))?;
                }
                for c in &step.commands {
                    writeln!(f, "     $ {c}")?;
                }
                for a in &step.api_calls {
                    writeln!(f, "     api: {a}")?;
                }
            }
        }
        if !self.notes.is_empty() {
            writeln!(f)?;
            for note in &self.notes {
                writeln!(f, "Note: {note}")?;
            }
        }
        Ok(())
    }
}

/// Whether the version was given with a patch number (`v1.30.4`, not `v1.30`).
fn has_patch(v: &KubeVersion) -> bool {
    let s = v.as_str().trim_start_matches(['v', 'V']);
    let numbers = s.split(|c: char| !(c.is_ascii_digit() || c == '.')).next().unwrap_or("");
    numbers.trim_end_matches('.').matches('.').count() >= 2
}

/// The node groups: control-plane nodes, then each labelled group, then the ungrouped nodes.
fn groups(nodes: &[NodeVersions]) -> Vec<NodeGroupPlan> {
    let mut by: BTreeMap<(GroupKind, String), Vec<String>> = BTreeMap::new();
    for n in nodes {
        let key = if n.is_control_plane() {
            (GroupKind::ControlPlane, "control-plane".to_string())
        } else {
            match (n.group.as_deref(), n.group_label.as_deref()) {
                (Some(g), Some("karpenter.sh/nodepool")) => (GroupKind::Karpenter, g.to_string()),
                (Some(g), Some("alpha.eksctl.io/nodegroup-name")) => (GroupKind::Eksctl, g.to_string()),
                (Some(g), _) => (GroupKind::EksManaged, g.to_string()),
                (None, _) => (GroupKind::Ungrouped, "ungrouped".to_string()),
            }
        };
        by.entry(key).or_default().push(n.name.clone());
    }
    let mut out: Vec<NodeGroupPlan> = by
        .into_iter()
        .map(|((kind, name), mut nodes)| {
            nodes.sort();
            NodeGroupPlan { name, kind, nodes }
        })
        .collect();
    // Control plane first, then the groups by name, ungrouped nodes last.
    out.sort_by(|a, b| {
        let rank = |g: &NodeGroupPlan| match g.kind {
            GroupKind::ControlPlane => 0,
            GroupKind::Ungrouped => 2,
            _ => 1,
        };
        (rank(a), &a.name).cmp(&(rank(b), &b.name))
    });
    out
}

/// The apt packages' version pattern: `1.28.x-*` or `1.30.4-*`.
fn apt_version(version: &str) -> String {
    format!("{}-*", version.trim_start_matches('v'))
}

fn apt_repo(to: MinorVersion) -> String {
    format!(
        "echo 'deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/{to}/deb/ /' | sudo tee /etc/apt/sources.list.d/kubernetes.list"
    )
}

fn apt_install(packages: &[&str], version: &str) -> String {
    let list = packages.join(" ");
    let pinned: Vec<String> = packages.iter().map(|p| format!("{p}='{}'", apt_version(version))).collect();
    format!(
        "sudo apt-mark unhold {list} && sudo apt-get update && sudo apt-get install -y {} && sudo apt-mark hold {list}",
        pinned.join(" ")
    )
}

const DRAIN: &str = "kubectl drain <node> --ignore-daemonsets";
const UNCORDON: &str = "kubectl uncordon <node>";
const RESTART_KUBELET: &str = "sudo systemctl daemon-reload && sudo systemctl restart kubelet";

fn drain_calls(to: MinorVersion) -> Vec<String> {
    vec![
        "PATCH /api/v1/nodes/<node> {\"spec\":{\"unschedulable\":true}} (cordon)".into(),
        "POST /api/v1/namespaces/<namespace>/pods/<pod>/eviction for each pod on the node (PodDisruptionBudgets apply; k8sops: nodes::drain)".into(),
        format!("GET /api/v1/nodes/<node> until status.nodeInfo.kubeletVersion is {to} and the node is Ready"),
        "PATCH /api/v1/nodes/<node> {\"spec\":{\"unschedulable\":false}} (uncordon)".into(),
    ]
}

/// The steps that upgrade `group`'s nodes to `version` (minor `to`).
fn node_group_step(
    flavor: Flavor,
    group: &NodeGroupPlan,
    nodes: Vec<String>,
    to: MinorVersion,
    version: &str,
    cluster: &str,
) -> PlanStep {
    let minor = format!("{}.{}", to.major, to.minor);
    let mut step = PlanStep {
        kind: StepKind::NodeGroup,
        title: String::new(),
        nodes,
        commands: Vec::new(),
        api_calls: Vec::new(),
        reason: None,
    };
    match (flavor, group.kind) {
        (Flavor::Eks, GroupKind::EksManaged) => {
            step.title = format!("Upgrade EKS managed node group {} to {minor} (EKS replaces its nodes)", group.name);
            step.commands = vec![
                format!("aws eks update-nodegroup-version --cluster-name {cluster} --nodegroup-name {} --kubernetes-version {minor}", group.name),
                format!("aws eks describe-update --name {cluster} --nodegroup-name {} --update-id <update-id>", group.name),
            ];
            step.api_calls = vec![
                format!("EKS UpdateNodegroupVersion (clusterName {cluster}, nodegroupName {}, version {minor})", group.name),
                "EKS DescribeUpdate until status Successful (EKS launches new nodes, cordons and drains the old ones honouring PodDisruptionBudgets, then terminates them)".into(),
            ];
        }
        (_, GroupKind::Karpenter) => {
            step.title = format!("Let Karpenter replace the nodes of node pool {} with {minor} nodes", group.name);
            step.commands = vec![
                format!("kubectl get nodeclaims -l karpenter.sh/nodepool={}", group.name),
                format!("kubectl get nodes -l karpenter.sh/nodepool={} -o custom-columns=NAME:.metadata.name,VERSION:.status.nodeInfo.kubeletVersion", group.name),
            ];
            step.api_calls = vec![
                format!("Karpenter marks nodes Drifted once the EC2NodeClass resolves to an AMI for {minor}, then cordons, evicts (PodDisruptionBudgets apply) and replaces them"),
            ];
        }
        (Flavor::Kubeadm, _) => {
            step.title = format!("Upgrade the nodes of {} to {version}, one at a time", group.name);
            step.commands = vec![
                format!("{} (on <node>)", apt_repo(to)),
                format!("{} (on <node>)", apt_install(&["kubeadm"], version)),
                "sudo kubeadm upgrade node (on <node>)".into(),
                DRAIN.into(),
                format!("{} (on <node>)", apt_install(&["kubelet", "kubectl"], version)),
                format!("{RESTART_KUBELET} (on <node>)"),
                UNCORDON.into(),
            ];
            step.api_calls = drain_calls(to);
        }
        (Flavor::Eks, GroupKind::Eksctl) => {
            step.title = format!("Upgrade eksctl node group {} to {minor}", group.name);
            step.commands = vec![format!(
                "eksctl upgrade nodegroup --cluster {cluster} --name {} --kubernetes-version {minor}",
                group.name
            )];
            step.api_calls = vec![
                format!("EKS UpdateNodegroupVersion (managed) or a new launch template with an AMI for {minor} (unmanaged), then cordon, evictions and replacement of each node"),
            ];
        }
        _ => {
            step.title = format!("Replace or upgrade the nodes of {} to {minor}, one at a time", group.name);
            step.commands = vec![
                DRAIN.into(),
                format!("replace <node> with one running kubelet {minor} (a new instance from an image for {minor}), or upgrade its kubelet in place"),
                UNCORDON.into(),
            ];
            step.api_calls = drain_calls(to);
        }
    }
    step
}

/// The control-plane steps of a hop.
fn control_plane_steps(
    flavor: Flavor,
    groups: &[NodeGroupPlan],
    to: MinorVersion,
    version: &str,
    cluster: &str,
) -> Vec<PlanStep> {
    let minor = format!("{}.{}", to.major, to.minor);
    match flavor {
        Flavor::Kubeadm => {
            let cp: Vec<String> = groups
                .iter()
                .find(|g| g.kind == GroupKind::ControlPlane)
                .map(|g| g.nodes.clone())
                .unwrap_or_default();
            let first = cp.first().cloned().unwrap_or_else(|| "<first control-plane node>".into());
            let mut steps = vec![PlanStep {
                kind: StepKind::ControlPlane,
                title: format!("Upgrade the control plane on {first} to {version} (kubeadm upgrade apply)"),
                nodes: vec![first.clone()],
                commands: vec![
                    apt_repo(to),
                    apt_install(&["kubeadm"], version),
                    "sudo kubeadm upgrade plan".into(),
                    format!("sudo kubeadm upgrade apply {version}"),
                ],
                api_calls: vec![
                    "kubeadm rewrites the static pod manifests in /etc/kubernetes/manifests (kube-apiserver, kube-controller-manager, kube-scheduler, etcd) and waits for each to come back".into(),
                    "kubeadm updates the kubeadm-config and kubelet-config ConfigMaps in kube-system, the kube-proxy DaemonSet and the CoreDNS Deployment".into(),
                    format!("GET /version until kube-apiserver reports {to}"),
                ],
                reason: None,
            }];
            let others: Vec<String> = cp.iter().skip(1).cloned().collect();
            if !others.is_empty() {
                steps.push(PlanStep {
                    kind: StepKind::ControlPlaneNodes,
                    title: format!("Upgrade the other control-plane nodes to {version} (kubeadm upgrade node), one at a time"),
                    nodes: others,
                    commands: vec![
                        format!("{} (on <node>)", apt_repo(to)),
                        format!("{} (on <node>)", apt_install(&["kubeadm"], version)),
                        "sudo kubeadm upgrade node (on <node>)".into(),
                    ],
                    api_calls: vec![
                        "kubeadm rewrites the node's static pod manifests and waits for its kube-apiserver, kube-controller-manager, kube-scheduler and etcd to come back".into(),
                    ],
                    reason: None,
                });
            }
            steps.push(PlanStep {
                kind: StepKind::ControlPlaneNodes,
                title: format!("Upgrade kubelet and kubectl on the control-plane nodes to {version}, one at a time"),
                nodes: if cp.is_empty() { vec!["<each control-plane node>".into()] } else { cp },
                commands: vec![
                    DRAIN.into(),
                    format!("{} (on <node>)", apt_install(&["kubelet", "kubectl"], version)),
                    format!("{RESTART_KUBELET} (on <node>)"),
                    UNCORDON.into(),
                ],
                api_calls: drain_calls(to),
                reason: None,
            });
            steps
        }
        Flavor::Eks => vec![
            PlanStep {
                kind: StepKind::ControlPlane,
                title: format!("Upgrade the EKS control plane to {minor}"),
                nodes: Vec::new(),
                commands: vec![
                    format!("aws eks update-cluster-version --name {cluster} --kubernetes-version {minor}"),
                    format!("aws eks describe-update --name {cluster} --update-id <update-id>"),
                ],
                api_calls: vec![
                    format!("EKS UpdateClusterVersion (name {cluster}, version {minor})"),
                    "EKS DescribeUpdate until status Successful".into(),
                    format!("GET /version until the server reports {to}"),
                ],
                reason: None,
            },
            PlanStep {
                kind: StepKind::Addons,
                title: format!("Update the kube-proxy, CoreDNS and VPC CNI add-ons to versions for {minor}"),
                nodes: Vec::new(),
                commands: ["kube-proxy", "coredns", "vpc-cni"]
                    .iter()
                    .flat_map(|a| {
                        [
                            format!("aws eks describe-addon-versions --kubernetes-version {minor} --addon-name {a} --query 'addons[].addonVersions[].addonVersion'"),
                            format!("aws eks update-addon --cluster-name {cluster} --addon-name {a} --addon-version <version> --resolve-conflicts PRESERVE"),
                        ]
                    })
                    .collect(),
                api_calls: vec![
                    "EKS DescribeAddonVersions, UpdateAddon, then DescribeAddon until ACTIVE (self-managed add-ons: update the kube-proxy DaemonSet and CoreDNS Deployment images instead)".into(),
                ],
                reason: None,
            },
        ],
        Flavor::Managed => vec![PlanStep {
            kind: StepKind::ControlPlane,
            title: format!("Upgrade the control plane to {minor} with the provider's tools"),
            nodes: Vec::new(),
            commands: vec![
                format!("gcloud container clusters upgrade {cluster} --master --cluster-version {minor} (GKE)"),
                format!("az aks upgrade --resource-group <group> --name {cluster} --kubernetes-version {} --control-plane-only (AKS)", version.trim_start_matches('v')),
            ],
            api_calls: vec![format!("GET /version until the server reports {to}")],
            reason: None,
        }],
    }
}

/// Node kubelets (and kube-proxies) as the plan moves them.
fn simulated(
    report: &VersionReport,
    kubelets: &BTreeMap<String, Option<MinorVersion>>,
    proxy: Option<MinorVersion>,
) -> VersionReport {
    let mut r = report.clone();
    for n in &mut r.nodes {
        if let Some(Some(m)) = kubelets.get(&n.name) {
            n.kubelet = m.to_string();
        }
        if let Some(p) = proxy {
            n.kube_proxy = p.to_string();
        }
    }
    r
}

/// Builds the plan from a [`VersionReport`] (no cluster access); see the
/// [module docs](self).
///
/// Errors: [`k8sops_core::Error::InvalidInput`] for a target older than the
/// control plane, of another major version, or more than one minor past
/// [`NEWEST_RELEASE`](crate::rules::NEWEST_RELEASE) (see
/// [`upgrade_hops`]).
///
/// ```
/// use k8sops_upgrade::{plan::{build_plan, NodeUpgrades, PlanParams, StepKind}, versions::VersionReport};
/// let versions = VersionReport::for_server("v1.28.9".parse().unwrap());
/// let plan = build_plan(&versions, &PlanParams::new("v1.31".parse().unwrap()).node_upgrades(NodeUpgrades::WhenRequired))?;
/// assert_eq!(plan.hops.len(), 3);
/// assert!(build_plan(&versions, &PlanParams::new("v1.27".parse().unwrap())).is_err());
/// # Ok::<(), k8sops_upgrade::Error>(())
/// ```
pub fn build_plan(versions: &VersionReport, params: &PlanParams) -> Result<UpgradePlan> {
    let flavor = params.flavor.unwrap_or_else(|| Flavor::detect(versions));
    let current = versions.apiserver_versions().first().cloned().unwrap_or_else(|| versions.server.version().clone());
    let target = params.target.clone();
    let cluster = params.cluster_name.clone().unwrap_or_else(|| "<cluster>".into());
    let mut minors = upgrade_hops(&current, &target)?;
    let patch_only = minors.is_empty() && target > current;
    let target_minor = MinorVersion::from(&target);
    let behind =
        versions.nodes.iter().any(|n| n.kubelet_version().is_some_and(|k| MinorVersion::from(&k) < target_minor));
    if minors.is_empty() && (patch_only || behind) {
        minors.push(target_minor);
    }
    let final_version = if has_patch(&target) {
        format!("v{}.{}.{}", target.major, target.minor, target.patch)
    } else {
        format!("{target_minor}.x")
    };
    let groups = groups(&versions.nodes);

    let mut kubelets: BTreeMap<String, Option<MinorVersion>> =
        versions.nodes.iter().map(|n| (n.name.clone(), n.kubelet_version().map(|k| MinorVersion::from(&k)))).collect();
    let mut proxy: Option<MinorVersion> = None;
    let mut cp = MinorVersion::from(&current);
    let mut hops = Vec::new();
    let last = minors.len().saturating_sub(1);
    for (i, &to) in minors.iter().enumerate() {
        let from = cp;
        let version = if i == last { final_version.clone() } else { format!("{to}.x") };
        let upgrades_control_plane = to > cp || (patch_only && i == last);
        let mut steps = Vec::new();

        // Nodes that the control plane's move would leave out of skew go first.
        let at = KubeVersion::new(to.major, to.minor, 0);
        let out_of_skew: Vec<SkewViolation> = if to > cp {
            skew::check_after_control_plane_upgrade(&simulated(versions, &kubelets, proxy), &at)
                .into_iter()
                .filter(|v| matches!(v.component, Component::Kubelet | Component::KubeProxy))
                .collect()
        } else {
            Vec::new()
        };
        let mut first: Vec<String> = out_of_skew.iter().map(|v| v.instance.clone()).collect();
        first.sort();
        first.dedup();
        if !first.is_empty() {
            let lag = SkewPolicy::kubelet_max_lag(to);
            for g in &groups {
                let nodes: Vec<String> = g.nodes.iter().filter(|n| first.contains(n)).cloned().collect();
                if nodes.is_empty() {
                    continue;
                }
                let mut step = node_group_step(flavor, g, nodes.clone(), cp, &format!("{cp}.x"), &cluster);
                step.kind = StepKind::NodesFirst;
                step.title = format!("First: {}", step.title);
                step.reason = Some(format!(
                    "with the control plane at {to}, kubelets may be at most {lag} minor versions older ({} or newer); these nodes are older, so they move to the control plane's current version {cp} before the hop",
                    shift_minor(to, -(lag as i64))
                ));
                for n in &nodes {
                    kubelets.insert(n.clone(), Some(cp));
                }
                steps.push(step);
            }
        }

        if upgrades_control_plane {
            steps.extend(control_plane_steps(flavor, &groups, to, &version, &cluster));
            cp = to;
            proxy = Some(to);
        }
        // With kubeadm, the control-plane nodes' kubelets move with the control plane.
        let control_plane_nodes_done = flavor == Flavor::Kubeadm && upgrades_control_plane;
        if control_plane_nodes_done {
            for g in groups.iter().filter(|g| g.kind == GroupKind::ControlPlane) {
                for n in &g.nodes {
                    kubelets.insert(n.clone(), Some(to));
                }
            }
        }
        let upgrade_workers = params.node_upgrades == NodeUpgrades::EveryHop || i == last;
        if upgrade_workers {
            for g in groups.iter().filter(|g| !(control_plane_nodes_done && g.kind == GroupKind::ControlPlane)) {
                let nodes: Vec<String> = g
                    .nodes
                    .iter()
                    .filter(|n| kubelets.get(*n).is_none_or(|k| k.is_none_or(|k| k < to)))
                    .cloned()
                    .collect();
                if nodes.is_empty() {
                    continue;
                }
                steps.push(node_group_step(flavor, g, nodes.clone(), to, &version, &cluster));
                for n in nodes {
                    kubelets.insert(n, Some(to));
                }
            }
        }
        hops.push(Hop { from, to, version, out_of_skew, steps });
    }

    let components = components(versions, flavor, &final_version, &target);
    let mut notes = vec![
        format!(
            "Versions ending in .x mean the latest patch release of that minor version ({}).",
            if flavor == Flavor::Kubeadm { "`kubeadm upgrade plan` names it" } else { "the provider lists it" }
        ),
        "Read the \"Urgent Upgrade Notes\" of each minor version's changelog, and run the preflight (removed APIs, budgets, unreplicated pods) before each hop.".into(),
    ];
    if flavor == Flavor::Kubeadm {
        notes.push("Back up etcd (etcdctl snapshot save) before each control-plane step.".into());
    }
    if groups.iter().any(|g| g.kind == GroupKind::Ungrouped) && flavor != Flavor::Kubeadm {
        notes.push("Nodes in no known group (self-managed) are upgraded by hand: drain, replace, uncordon.".into());
    }
    if !versions.notes.is_empty() {
        notes.extend(versions.notes.iter().map(|n| format!("Incomplete: {n}")));
    }
    Ok(UpgradePlan { flavor, current, target, components, groups, hops, notes })
}

fn shift_minor(v: MinorVersion, by: i64) -> MinorVersion {
    MinorVersion::new(v.major, (i64::from(v.minor) + by).max(0) as u32)
}

fn components(versions: &VersionReport, flavor: Flavor, version: &str, target: &KubeVersion) -> Vec<ComponentUpgrade> {
    let row = |component: &str, node: &str, current: &str, target: &str| ComponentUpgrade {
        component: component.into(),
        node: node.into(),
        current: current.into(),
        target: target.into(),
    };
    let mut out = Vec::new();
    if versions.control_plane.visible {
        for c in &versions.control_plane.components {
            let to = match c.component.as_str() {
                "etcd" => "(kubeadm's for the target)".to_string(),
                "cloud-controller-manager" => format!("{version} (not upgraded by kubeadm)"),
                _ => version.to_string(),
            };
            out.push(row(&c.component, c.node.as_deref().unwrap_or(""), &c.version, &to));
        }
    } else {
        let label = if flavor == Flavor::Eks { "kube-apiserver (EKS)" } else { "kube-apiserver (managed)" };
        out.push(row(label, "", &versions.server.git_version, version));
    }
    for n in &versions.nodes {
        out.push(row("kubelet", &n.name, &n.kubelet, version));
    }
    for a in &versions.addons {
        let pods = format!("{} pod(s)", a.pods);
        match a.name.as_str() {
            "kube-proxy" => out.push(row("kube-proxy", &pods, &a.version, version)),
            _ => {
                let to = kubeadm_coredns_version(target)
                    .map(
                        |v| if flavor == Flavor::Kubeadm { v.to_string() } else { format!("{v} or later (kubeadm's)") },
                    )
                    .unwrap_or_default();
                out.push(row(&a.name, &pods, &a.version, &to));
            }
        }
    }
    if let Some(k) = &versions.kubectl {
        out.push(row("kubectl", "", k.as_str(), version));
    }
    out
}

/// Reads the cluster's versions ([`version_report`] with
/// [`PlanParams::versions`]) and builds the plan ([`build_plan`]).
///
/// Errors: `/version` cannot be read; the target is not an upgrade
/// ([`k8sops_core::Error::InvalidInput`]).
///
/// # Cancel safety
/// Read-only: dropping the future stops it and changes nothing.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use k8sops_upgrade::plan::{plan_upgrade, PlanParams, StepKind};
/// let server = k8sops_testkit::TestServer::builder().server_version("v1.29.3-eks-1").start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let plan = plan_upgrade(&server.cluster(), &PlanParams::new("v1.30".parse()?).cluster_name("demo")).await?;
/// let kinds: Vec<StepKind> = plan.hops[0].steps.iter().map(|s| s.kind).collect();
/// assert_eq!(kinds, [StepKind::ControlPlane, StepKind::Addons, StepKind::NodeGroup, StepKind::NodeGroup, StepKind::NodeGroup]);
/// # Ok(()) }
/// ```
pub async fn plan_upgrade(cluster: &Cluster, params: &PlanParams) -> Result<UpgradePlan> {
    let versions = version_report(cluster, &params.versions).await?;
    build_plan(&versions, params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::KubeProxySource;

    fn node(name: &str, kubelet: &str, group: Option<&str>, cp: bool) -> NodeVersions {
        NodeVersions {
            name: name.into(),
            status: "Ready".into(),
            ready: true,
            roles: if cp { "control-plane".into() } else { "<none>".into() },
            group: group.map(Into::into),
            group_label: group.map(|_| "eks.amazonaws.com/nodegroup".into()),
            kubelet: kubelet.into(),
            kube_proxy: String::new(),
            kube_proxy_source: KubeProxySource::Unknown,
            container_runtime: String::new(),
            os_image: String::new(),
            kernel_version: String::new(),
            operating_system: String::new(),
            architecture: String::new(),
        }
    }

    #[test]
    fn patch_versions_are_recognised() {
        assert!(has_patch(&"v1.30.4".parse().unwrap()));
        assert!(has_patch(&"1.30.0-eks-1".parse().unwrap()));
        assert!(!has_patch(&"v1.30".parse().unwrap()));
        assert!(!has_patch(&"1.30+".parse().unwrap()));
    }

    #[test]
    fn nodes_too_far_behind_are_upgraded_before_the_first_hop() {
        let mut r = VersionReport::for_server("v1.28.5".parse().unwrap());
        r.nodes = vec![node("old", "v1.25.16", Some("workers"), false), node("new", "v1.28.5", Some("workers"), false)];
        let plan = build_plan(&r, &PlanParams::new("v1.29".parse().unwrap()).flavor(Flavor::Eks)).unwrap();
        let hop = &plan.hops[0];
        assert_eq!(hop.out_of_skew.iter().map(|v| v.instance.as_str()).collect::<Vec<_>>(), ["old"]);
        assert_eq!(hop.steps[0].kind, StepKind::NodesFirst);
        assert_eq!(hop.steps[0].nodes, ["old"]);
        assert!(hop.steps[0].commands[0].contains("--kubernetes-version 1.28"), "{:?}", hop.steps[0].commands);
        assert_eq!(hop.steps[1].kind, StepKind::ControlPlane);
        let last = hop.steps.last().unwrap();
        assert_eq!((last.kind, last.nodes.len()), (StepKind::NodeGroup, 2));
    }

    #[test]
    fn when_required_upgrades_workers_only_when_the_skew_demands_it() {
        let mut r = VersionReport::for_server("v1.28.5".parse().unwrap());
        r.nodes = vec![node("w", "v1.28.5", Some("workers"), false)];
        let p = PlanParams::new("v1.33".parse().unwrap()).flavor(Flavor::Eks).node_upgrades(NodeUpgrades::WhenRequired);
        let plan = build_plan(&r, &p).unwrap();
        let node_steps: Vec<(MinorVersion, StepKind)> = plan
            .steps()
            .filter(|(_, s)| matches!(s.kind, StepKind::NodeGroup | StepKind::NodesFirst))
            .map(|(h, s)| (h.to, s.kind))
            .collect();
        // 1.28 nodes may stay through 1.29, 1.30 and 1.31; before 1.32 they move to 1.31, and after 1.33 to 1.33.
        assert_eq!(
            node_steps,
            [(MinorVersion::new(1, 32), StepKind::NodesFirst), (MinorVersion::new(1, 33), StepKind::NodeGroup)]
        );
    }

    #[test]
    fn kubeadm_plans_apply_on_the_first_control_plane_node_and_node_on_the_others() {
        let mut r = VersionReport::for_server("v1.29.2".parse().unwrap());
        r.control_plane.visible = true;
        r.nodes = vec![
            node("cp-2", "v1.29.2", None, true),
            node("cp-1", "v1.29.2", None, true),
            node("w-1", "v1.29.2", None, false),
        ];
        let plan = build_plan(&r, &PlanParams::new("v1.30.1".parse().unwrap())).unwrap();
        assert_eq!(plan.flavor, Flavor::Kubeadm);
        let steps = &plan.hops[0].steps;
        assert_eq!(steps[0].nodes, ["cp-1"]);
        assert!(steps[0].commands.contains(&"sudo kubeadm upgrade apply v1.30.1".to_string()));
        assert!(steps[0].commands[0].contains("https://pkgs.k8s.io/core:/stable:/v1.30/deb/"));
        assert_eq!(steps[1].nodes, ["cp-2"]);
        assert!(steps[1].commands.iter().any(|c| c.starts_with("sudo kubeadm upgrade node")));
        assert_eq!(steps[2].kind, StepKind::ControlPlaneNodes);
        assert_eq!(steps[3].nodes, ["w-1"]);
        assert!(
            steps[3].commands.iter().any(|c| c.contains("kubelet='1.30.1-*' kubectl='1.30.1-*'")),
            "{:?}",
            steps[3].commands
        );
    }

    #[test]
    fn a_patch_upgrade_is_one_hop_within_the_minor() {
        let r = VersionReport::for_server("v1.30.1".parse().unwrap());
        let plan = build_plan(&r, &PlanParams::new("v1.30.4".parse().unwrap())).unwrap();
        assert_eq!(plan.hops.len(), 1);
        assert_eq!((plan.hops[0].from, plan.hops[0].to), (MinorVersion::new(1, 30), MinorVersion::new(1, 30)));
        let same = build_plan(&r, &PlanParams::new("v1.30.1".parse().unwrap())).unwrap();
        assert!(same.hops.is_empty());
    }
}
