//! kubectl drain's pod rules, in kubectl's order: pods being deleted past
//! the skip-wait timeout, DaemonSet pods, mirror pods, pods with local
//! storage, unreplicated pods. The first rule that does not allow a pod to
//! be deleted decides.

use std::{collections::HashMap, fmt, time::Duration};

use k8s_openapi::{
    api::{apps::v1::DaemonSet, core::v1::Pod},
    apimachinery::pkg::apis::meta::v1::OwnerReference,
    jiff::Timestamp,
};
use k8sops_core::Cluster;
use kube::Api;
use serde::Serialize;

use crate::Result;

/// Why a pod is left alone.
///
/// ```
/// println!("{}", k8sops_nodes::SkipReason::DaemonSet); // ignoring DaemonSet-managed Pods
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum SkipReason {
    /// Managed by a DaemonSet and `ignore_daemonsets` is set ("ignoring DaemonSet-managed Pods").
    DaemonSet,
    /// A static pod's mirror (annotation `kubernetes.io/config.mirror`).
    MirrorPod,
    /// Deleted longer ago than `skip_wait_for_delete_timeout`.
    DeletionTimedOut,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::DaemonSet => "ignoring DaemonSet-managed Pods",
            SkipReason::MirrorPod => "mirror pod",
            SkipReason::DeletionTimedOut => "deleted longer ago than the skip-wait timeout",
        })
    }
}

/// Why a drain refuses to proceed (kubectl's messages).
///
/// ```
/// // What `kubectl drain` says before it refuses.
/// println!("{}", k8sops_nodes::RefusalReason::LocalStorage);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RefusalReason {
    /// A DaemonSet pod without `ignore_daemonsets`.
    DaemonSet,
    /// A pod with an emptyDir volume without `delete_emptydir_data`.
    LocalStorage,
    /// A pod with no controller without `force`.
    Unreplicated,
    /// The pod's DaemonSet could not be read (and `force` does not apply).
    DaemonSetLookup(String),
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefusalReason::DaemonSet => {
                f.write_str("cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)")
            }
            RefusalReason::LocalStorage => {
                f.write_str("cannot delete Pods with local storage (use --delete-emptydir-data to override)")
            }
            RefusalReason::Unreplicated => {
                f.write_str("cannot delete Pods that declare no controller (use --force to override)")
            }
            RefusalReason::DaemonSetLookup(e) => f.write_str(e),
        }
    }
}

/// What the drain does with a pod.
///
/// ```
/// use k8sops_nodes::{PodAction, SkipReason};
/// let action = PodAction::Skip(SkipReason::MirrorPod);
/// assert!(!matches!(action, PodAction::Evict { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PodAction {
    /// Evict it (or delete it with `disable_eviction`). `warning` repeats kubectl's.
    Evict {
        /// e.g. "deleting Pods that declare no controller".
        warning: Option<String>,
    },
    /// Leave it.
    Skip(SkipReason),
    /// Refuse the whole drain.
    Refuse(RefusalReason),
}

/// The options the rules read.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rules {
    pub(crate) force: bool,
    pub(crate) ignore_daemonsets: bool,
    pub(crate) delete_emptydir_data: bool,
    pub(crate) skip_wait_for_delete_timeout: Option<Duration>,
}

fn finished(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

fn controller(pod: &Pod) -> Option<&OwnerReference> {
    pod.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true))
}

/// The DaemonSet controlling the pod: only an `apps/v1` DaemonSet counts (a
/// custom resource that happens to be called DaemonSet is another controller).
fn daemonset_owner(pod: &Pod) -> Option<&str> {
    controller(pod).filter(|o| o.kind == "DaemonSet" && o.api_version == "apps/v1").map(|o| o.name.as_str())
}

/// Classifies pods; DaemonSets are looked up once each.
pub(crate) struct Classifier<'a> {
    cluster: &'a Cluster,
    rules: Rules,
    daemonsets: HashMap<(String, String), std::result::Result<(), String>>,
    now: Timestamp,
}

impl<'a> Classifier<'a> {
    pub(crate) fn new(cluster: &'a Cluster, rules: Rules) -> Self {
        Classifier { cluster, rules, daemonsets: HashMap::new(), now: Timestamp::now() }
    }

    /// kubectl's filters in its order. As in kubectl, a pod goes through
    /// every filter until one does not allow it, and the last filter's status
    /// is the pod's: the warnings of the DaemonSet-orphan and local-storage
    /// filters are replaced by the later filters' "okay", so only the
    /// unreplicated filter's warning survives.
    pub(crate) async fn classify(&mut self, pod: &Pod) -> Result<PodAction> {
        let r = self.rules;
        // 1. Pods deleted longer ago than the skip-wait timeout are not waited for.
        if let (Some(skip), Some(ts)) = (r.skip_wait_for_delete_timeout, pod.metadata.deletion_timestamp.as_ref()) {
            if !skip.is_zero() && self.now.as_second() - ts.0.as_second() > skip.as_secs() as i64 {
                return Ok(PodAction::Skip(SkipReason::DeletionTimedOut));
            }
        }
        let done = finished(pod);
        // 2. DaemonSet pods (finished ones can go).
        if let Some(ds) = daemonset_owner(pod).filter(|_| !done) {
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            match self.daemonset(&ns, ds).await? {
                // An orphan (its DaemonSet is gone) goes with --force, and still faces the rules below.
                Err(e) if e.starts_with("NotFound:") && r.force => {}
                Err(e) => {
                    return Ok(PodAction::Refuse(RefusalReason::DaemonSetLookup(
                        e.trim_start_matches("NotFound:").to_string(),
                    )))
                }
                Ok(()) if !r.ignore_daemonsets => return Ok(PodAction::Refuse(RefusalReason::DaemonSet)),
                Ok(()) => return Ok(PodAction::Skip(SkipReason::DaemonSet)),
            }
        }
        // 3. Mirror pods.
        if pod.metadata.annotations.as_ref().is_some_and(|a| a.contains_key("kubernetes.io/config.mirror")) {
            return Ok(PodAction::Skip(SkipReason::MirrorPod));
        }
        // 4. Local storage (finished pods can go).
        let local =
            pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).is_some_and(|v| v.iter().any(|v| v.empty_dir.is_some()));
        if local && !done && !r.delete_emptydir_data {
            return Ok(PodAction::Refuse(RefusalReason::LocalStorage));
        }
        // 5. Unreplicated pods (finished pods can go).
        let warning = if controller(pod).is_none() && !done {
            if !r.force {
                return Ok(PodAction::Refuse(RefusalReason::Unreplicated));
            }
            Some("deleting Pods that declare no controller".to_string())
        } else {
            None
        };
        Ok(PodAction::Evict { warning })
    }

    async fn daemonset(&mut self, ns: &str, name: &str) -> Result<std::result::Result<(), String>> {
        let key = (ns.to_string(), name.to_string());
        if let Some(v) = self.daemonsets.get(&key) {
            return Ok(v.clone());
        }
        let api: Api<DaemonSet> = Api::namespaced(self.cluster.client().clone(), ns);
        let found = self
            .cluster
            .retry_policy()
            .run(|_| async {
                api.get_opt(name).await.map_err(|e| self.cluster.map_err(e, &format!("daemonset {ns}/{name}")))
            })
            .await?;
        let v = match found {
            Some(_) => Ok(()),
            None => Err(format!("NotFound:daemonsets.apps \"{name}\" not found")),
        };
        self.daemonsets.insert(key, v.clone());
        Ok(v)
    }
}
