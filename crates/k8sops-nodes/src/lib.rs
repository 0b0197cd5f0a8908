//! # k8sops-nodes
//!
//! Node management, as the ops guide does it with kubectl, eksctl-style node
//! groups and the AWS CLI — typed:
//!
//! | command | API |
//! |---|---|
//! | `kubectl get nodes -o wide`, `--show-labels`, conditions | [`list_nodes`] → [`NodeList`] |
//! | `kubectl describe node` | [`describe_node`] → [`NodeDescription`] |
//! | `kubectl cordon` / `uncordon` | [`cordon`] / [`uncordon`] |
//! | `kubectl drain` | [`drain`] with [`DrainParams`] (defaults = kubectl's) |
//! | drain several nodes, `max_unavailable` at a time | [`drain_nodes`] |
//! | `kubectl delete node` | [`delete_node`] |
//! | `aws eks describe-nodegroup`, `update-nodegroup-config`, `aws autoscaling set-desired-capacity`, `terminate-instance-in-auto-scaling-group` | the core [`NodeGroups`](k8sops_core::backend::NodeGroups) trait; EKS and Auto Scaling backends in [`aws`] (feature `aws`) |
//! | node ↔ node group ↔ instance | [`node_group`] |
//! | scale a group in without losing undrained nodes | [`safe_scale_in`] |
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub mod aws;
mod cordon;
mod delete;
mod deletion_watch;
mod drain;
mod drain_many;
mod eviction;
pub mod node_group;
mod pod_filter;
mod scale_in;
pub mod status;

use std::time::Duration;

pub use cordon::{cordon, uncordon, CordonChange, CordonParams, CordonReport, NodeSelection};
pub use delete::{delete_node, DeleteNodeParams, DeleteNodeReport};
pub use drain::{drain, DrainEvent, DrainParams, DrainReport, DrainStatus, DryRun, PodName, PodOutcome, PodReport};
pub use drain_many::{drain_nodes, DrainManyEvent, DrainManyParams, DrainManyReport};
pub use pod_filter::{PodAction, RefusalReason, SkipReason};
pub use scale_in::{safe_scale_in, ScaleInEvent, ScaleInParams, ScaleInPlan, ScaleInReport, Victim, VictimChoice};
pub use status::{describe_node, list_nodes, NodeDescription, NodeList, NodeListParams, NodeStatus};

/// Errors of node management.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// use k8sops_nodes::{cordon, CordonParams, Error, NodeSelection};
/// match cordon(&cluster, &NodeSelection::name("ip-10-9-9-9.ec2.internal"), CordonParams::default()).await {
///     Err(Error::NodeNotFound { .. }) => println!("no such node"),
///     Err(e) => return Err(e.into()),
///     Ok(report) => print!("{report}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A cluster or backend operation failed.
    #[error(transparent)]
    Core(#[from] k8sops_core::Error),

    /// The node does not exist.
    #[error("node {name} not found; list nodes with `kubectl get nodes` or k8sops_nodes::list_nodes")]
    NodeNotFound {
        /// The node asked for.
        name: String,
    },

    /// A drain rule refused some pods; nothing was evicted and the node stays cordoned.
    #[error("cannot drain node {node}: {}", refusal_summary(pods))]
    Refused {
        /// The node.
        node: String,
        /// Each refused pod (`namespace/name`) and why.
        pods: Vec<(PodName, RefusalReason)>,
        /// Every pod's classification.
        report: Box<DrainReport>,
    },

    /// The drain's timeout passed; the report says what was done.
    #[error("drain of node {node} timed out after {after:?}; {} pod(s) not removed{}", report.pods.iter().filter(|p| matches!(p.outcome, PodOutcome::Blocked{..} | PodOutcome::NotAttempted | PodOutcome::Terminating)).count(), blocked_by(report))]
    DrainTimedOut {
        /// The node.
        node: String,
        /// The timeout.
        after: Duration,
        /// What was done.
        report: Box<DrainReport>,
    },

    /// The drain was cancelled; the node stays cordoned and the report says
    /// which pods were already evicted.
    #[error("drain of node {node} cancelled after evicting {} pod(s); the node stays cordoned", report.removed().len())]
    DrainCancelled {
        /// The node.
        node: String,
        /// What was done.
        report: Box<DrainReport>,
    },

    /// Invalid options or plan.
    #[error("invalid request: {0}")]
    Invalid(String),
}

fn refusal_summary(pods: &[(PodName, RefusalReason)]) -> String {
    // kubectl groups pods by reason: "cannot delete <reason>: ns/a, ns/b".
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for (pod, reason) in pods {
        let r = reason.to_string();
        match groups.iter_mut().find(|(g, _)| *g == r) {
            Some((_, v)) => v.push(pod),
            None => groups.push((r, vec![pod])),
        }
    }
    groups.iter().map(|(r, p)| format!("cannot delete {r}: {}", p.join(", "))).collect::<Vec<_>>().join("; ")
}

fn blocked_by(report: &DrainReport) -> String {
    let budgets: std::collections::BTreeSet<&str> = report
        .pods
        .iter()
        .filter_map(|p| match &p.outcome {
            PodOutcome::Blocked { budget: Some(b), .. } => Some(b.as_str()),
            _ => None,
        })
        .collect();
    if budgets.is_empty() {
        String::new()
    } else {
        format!(" (blocked by PodDisruptionBudget {})", budgets.into_iter().collect::<Vec<_>>().join(", "))
    }
}

/// Result alias of this crate.
///
/// ```
/// fn changed(r: &k8sops_nodes::CordonReport) -> k8sops_nodes::Result<usize> {
///     Ok(r.changed().count())
/// }
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
