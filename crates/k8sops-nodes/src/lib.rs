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
pub use drain::{
    drain, drain_with_progress, DrainEvent, DrainParams, DrainReport, DrainStatus, DryRun, PodName, PodOutcome,
    PodReport,
};
pub use drain_many::{drain_nodes, DrainManyEvent, DrainManyParams, DrainManyReport};
pub use pod_filter::{PodAction, RefusalReason, SkipReason};
pub use scale_in::{
    safe_scale_in, ScaleInEvent, ScaleInParams, ScaleInPlan, ScaleInReport, ScaleInStatus, Termination, Victim,
    VictimChoice, VictimOutcome,
};
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

    /// A drain rule refused some pods; nothing was evicted and the node stays
    /// cordoned. Made by [`DrainReport::ensure_completed`], like the other
    /// drain variants: [`drain`] itself returns the report.
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
    #[error("drain of node {node} timed out after {after:?}; {}", pending(report))]
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
    #[error("drain of node {node} cancelled after evicting {} pod(s); {}; the node stays cordoned", report.removed().len(), pending(report))]
    DrainCancelled {
        /// The node.
        node: String,
        /// What was done.
        report: Box<DrainReport>,
    },

    /// Some pods could not be evicted; the report says which and why.
    #[error("drain of node {node} failed: {}", failed_pods(report))]
    DrainFailed {
        /// The node.
        node: String,
        /// What was done.
        report: Box<DrainReport>,
    },

    /// A scale-in stopped before every victim was terminated; the report
    /// says which nodes are cordoned, drained and terminated. Made by
    /// [`ScaleInReport::ensure_completed`].
    #[error("scale-in of node group {group} {status}: {}", report.summary())]
    ScaleInIncomplete {
        /// The node group.
        group: String,
        /// How it ended.
        status: ScaleInStatus,
        /// What was done.
        report: Box<ScaleInReport>,
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

fn failed_pods(report: &DrainReport) -> String {
    report
        .pods
        .iter()
        .filter_map(|p| match &p.outcome {
            PodOutcome::Failed(e) => Some(format!("{}: {e}", p.pod)),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a stopped drain left: pods a budget blocked (by budget), pods
/// evicted but still terminating, pods never attempted.
fn pending(report: &DrainReport) -> String {
    let count = |f: fn(&PodOutcome) -> bool| report.pods.iter().filter(|p| f(&p.outcome)).count();
    let blocked = count(|o| matches!(o, PodOutcome::Blocked { .. }));
    let terminating = count(|o| matches!(o, PodOutcome::Terminating));
    let not_attempted = count(|o| matches!(o, PodOutcome::NotAttempted));
    let budgets: std::collections::BTreeSet<&str> = report
        .pods
        .iter()
        .filter_map(|p| match &p.outcome {
            PodOutcome::Blocked { budget: Some(b), .. } => Some(b.as_str()),
            _ => None,
        })
        .collect();
    let mut parts = Vec::new();
    if blocked > 0 {
        let by = if budgets.is_empty() {
            String::new()
        } else {
            format!(" by PodDisruptionBudget {}", budgets.into_iter().collect::<Vec<_>>().join(", "))
        };
        parts.push(format!("{blocked} pod(s) blocked{by}"));
    }
    if terminating > 0 {
        parts.push(format!("{terminating} pod(s) evicted and still terminating"));
    }
    if not_attempted > 0 {
        parts.push(format!("{not_attempted} pod(s) not attempted"));
    }
    if parts.is_empty() {
        "every pod was removed".to_string()
    } else {
        parts.join(", ")
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
