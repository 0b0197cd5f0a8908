//! The monthly checks: an upgrade preflight to the next minor version, a
//! disaster-recovery drill, capacity planning with growth, and a runbook
//! written for this cluster.
//!
//! | id | check | feature | reads | writes |
//! |---|---|---|---|---|
//! | `preflight` | [`UpgradePreflightCheck`] | `upgrade` | nodes, pods, budgets, removed APIs | nothing |
//! | `dr-drill` | [`DrDrillCheck`] | `backup` | one namespace, every type in it | a scratch namespace with a quota and copies of the kinds that act only inside it (the rest: server dry run only), deleted at the end |
//! | `capacity` | [`CapacityPlanningCheck`] | `metrics` | nodes, pods | the history file, when given |
//! | `runbook` | [`RunbookCheck`] | — | nodes, namespaces, workloads, kube-system's etcd pods | nothing (the runbook is an artifact) |
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = k8sops_testkit::TestServer::builder().server_version("v1.29.3").start().await?;
//! # server.load(&k8sops_testkit::DemoCluster::small())?;
//! use k8sops::checklist::Checklist;
//! let report = Checklist::monthly().run(&server.cluster()).await;
//! let runbook = &report.result("runbook").unwrap().artifacts[0];
//! std::fs::write(std::env::temp_dir().join(&runbook.name), &runbook.content)?;
//! # assert!(runbook.content.contains("v1.29.3"));
//! # Ok(()) }
//! ```
//!
//! # Cancel safety
//!
//! Every check but `dr-drill` only reads (`capacity` also replaces its
//! history file atomically: an interrupted run leaves the old file or the
//! new one, never a torn one, and at most a `.NAME.tmp-*` file beside it).
//! `dr-drill` creates a scratch namespace `k8sops-dr-drill-…` labelled
//! `k8sops.io/dr-drill=true` and deletes it at its end; cancelled or timed
//! out in between, it starts that delete in the background (at most 10 s;
//! the checklist run waits up to 3 s for it), and the not-run result says so. A namespace left
//! anyway (the process exited, the delete was refused) is removed by
//! `kubectl delete namespace -l k8sops.io/dr-drill=true`, and the next drill
//! warns about it.

use std::{collections::BTreeMap, fmt::Write as _, sync::Arc};

use futures::future::BoxFuture;
use k8s_openapi::api::{
    apps::v1::{DaemonSet, Deployment, StatefulSet},
    batch::v1::CronJob,
    core::v1::{Namespace, Node, Pod},
};
use k8sops_core::{object_status, paging, Cluster};
use kube::api::ListParams;

#[cfg(feature = "upgrade")]
use super::Status;
use super::{code_span, md_cell, md_line, Artifact, Check, CheckOutput, Finding};

/// The monthly checks, in order.
// Each push but the last depends on a feature: `vec![]` cannot say that.
#[allow(clippy::vec_init_then_push)]
pub(crate) fn checks() -> Vec<Arc<dyn Check>> {
    let mut checks: Vec<Arc<dyn Check>> = Vec::new();
    #[cfg(feature = "upgrade")]
    checks.push(Arc::new(UpgradePreflightCheck::default()));
    #[cfg(feature = "backup")]
    checks.push(Arc::new(DrDrillCheck::default()));
    #[cfg(feature = "metrics")]
    checks.push(Arc::new(CapacityPlanningCheck::default()));
    checks.push(Arc::new(RunbookCheck::default()));
    checks
}

/// Evidence lines kept per finding for lists of objects; the rest are counted.
#[cfg(any(feature = "upgrade", feature = "backup"))]
const MAX_EVIDENCE: usize = 20;

/// `lines`, at most [`MAX_EVIDENCE`] of them, then `… and N more`.
#[cfg(any(feature = "upgrade", feature = "backup"))]
fn bounded_evidence(mut finding: Finding, lines: &[String]) -> Finding {
    for line in lines.iter().take(MAX_EVIDENCE) {
        finding = finding.evidence(line.clone());
    }
    if lines.len() > MAX_EVIDENCE {
        finding = finding.evidence(format!("… and {} more", lines.len() - MAX_EVIDENCE));
    }
    finding
}

// ---------------------------------------------------------------------------
// preflight
// ---------------------------------------------------------------------------

/// Upgrade preflight to the next minor version (`preflight`):
/// [`upgrade::preflight::preflight`](crate::upgrade::preflight::preflight)
/// against the API server's version plus one minor (or
/// [`target`](Self::target)).
///
/// One finding per preflight check, with the same status: its explanation
/// and the objects it names as evidence, and what to do. A summary finding
/// (`current -> target`) carries the worst status.
///
/// - **Pass**: every preflight check passes.
/// - **Warn**: a check warns (a target more than one minor ahead, pods
///   with emptyDir data, an old CoreDNS, something it could not read).
/// - **Fail**: a check fails (a node not Ready, skew the first hop
///   breaks, a budget allowing no disruption, a pod without a controller,
///   a removed API in use, PodSecurityPolicies before 1.25).
///
/// # RBAC
/// `list` on nodes, pods, poddisruptionbudgets (and podsecuritypolicies
/// before 1.25), and what the removed-API scan reads (`list` on every
/// resource type it scans, `get` on `/metrics` for the request counts).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::builder().server_version("v1.29.3").start().await?;
/// use k8sops::checklist::{monthly::UpgradePreflightCheck, Checklist};
/// let check = UpgradePreflightCheck { target: Some("v1.30.2".parse()?), ..Default::default() };
/// let report = Checklist::new("upgrade").with(check).run(&server.cluster()).await;
/// let result = report.result("preflight").unwrap();
/// assert!(result.findings.iter().any(|f| f.summary.contains("v1.29.3 -> v1.30.2")));
/// # Ok(()) }
/// ```
#[cfg(feature = "upgrade")]
#[cfg_attr(docsrs, doc(cfg(feature = "upgrade")))]
#[derive(Debug, Clone, Default)]
pub struct UpgradePreflightCheck {
    /// The version to check an upgrade to; `None` (the default) is the next
    /// minor of the API server's version (`v1.29.3` -> `v1.30.0`).
    pub target: Option<k8sops_core::KubeVersion>,
    /// How removed APIs are found (default: scan the cluster's objects,
    /// Helm releases and the API server's request counts).
    pub removed_apis: crate::upgrade::preflight::RemovedApiCheck,
}

#[cfg(feature = "upgrade")]
impl UpgradePreflightCheck {
    /// Sets [`target`](Self::target).
    ///
    /// ```
    /// let check = k8sops::checklist::monthly::UpgradePreflightCheck::default().target("v1.31".parse().unwrap());
    /// assert_eq!(check.target.unwrap().minor, 31);
    /// ```
    #[must_use]
    pub fn target(mut self, target: k8sops_core::KubeVersion) -> Self {
        self.target = Some(target);
        self
    }
}

#[cfg(feature = "upgrade")]
impl Check for UpgradePreflightCheck {
    fn id(&self) -> &str {
        "preflight"
    }
    fn title(&self) -> &str {
        "Upgrade preflight to the next minor version"
    }
    fn run<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, crate::Result<CheckOutput>> {
        Box::pin(async move {
            use crate::upgrade::preflight::{preflight, PreflightParams};
            let server = cluster.server_version().await?;
            let target = self.target.clone().unwrap_or_else(|| server.next_minor());
            let params = PreflightParams::new(target.clone()).removed_apis(self.removed_apis.clone());
            let report = preflight(cluster, &params).await?;
            let mut findings = Vec::with_capacity(report.checks.len() + 1);
            let (fails, warns) = (
                report.checks.iter().filter(|c| preflight_status(c.status) == Status::Fail).count(),
                report.checks.iter().filter(|c| preflight_status(c.status) == Status::Warn).count(),
            );
            let target_text = report.target.to_string();
            let mut summary = Finding::new(
                preflight_status(report.status()),
                "",
                format!(
                    "upgrade {} -> {}: {} check(s), {fails} failed, {warns} warned",
                    report.current,
                    report.target,
                    report.checks.len()
                ),
            );
            if !report.hops.is_empty() {
                let hops: Vec<String> = report.hops.iter().map(ToString::to_string).collect();
                summary = summary.evidence(format!("control-plane hops: {}", hops.join(", ")));
            }
            summary = summary.action(if fails > 0 {
                format!("fix the failed checks, then plan it: cargo run --example upgrade_plan -- --target-version {target_text}")
            } else {
                format!("plan it: cargo run --example upgrade_plan -- --target-version {target_text}")
            });
            findings.push(summary);
            for c in &report.checks {
                let status = preflight_status(c.status);
                let mut f = Finding::new(status, format!("preflight/{}", c.id), format!("{}: {}", c.title, c.status))
                    .evidence(c.explanation.clone());
                f = bounded_evidence(f, &c.objects);
                if status != Status::Pass {
                    f = f.action(preflight_action(c.id, &target_text));
                }
                findings.push(f);
            }
            Ok(findings.into())
        })
    }
}

#[cfg(feature = "upgrade")]
fn preflight_status(s: crate::upgrade::preflight::CheckStatus) -> Status {
    use crate::upgrade::preflight::CheckStatus;
    match s {
        CheckStatus::Pass => Status::Pass,
        CheckStatus::Warn => Status::Warn,
        _ => Status::Fail,
    }
}

#[cfg(feature = "upgrade")]
fn preflight_action(id: crate::upgrade::preflight::CheckId, target: &str) -> String {
    use crate::upgrade::preflight::CheckId;
    match id {
        CheckId::TargetVersion => {
            format!("upgrade one minor version at a time: cargo run --example upgrade_plan -- --target-version {target}")
        }
        CheckId::NodesReady => {
            "kubectl describe node NODE (the nodes named above); repair or replace them before upgrading".into()
        }
        CheckId::VersionSkew => format!(
            "upgrade the lagging kubelets first (rolling node upgrade): cargo run --example upgrade_plan -- --target-version {target}"
        ),
        CheckId::PodDisruptionBudgets => {
            "kubectl get pdb -A: scale the workload up or relax the budget, or drains will block".into()
        }
        CheckId::UnreplicatedPods => {
            "give these pods a controller (Deployment, StatefulSet) or delete them: kubectl drain refuses them without --force"
                .into()
        }
        CheckId::LocalStoragePods => {
            "make sure their emptyDir data may be lost; drains need --delete-emptydir-data".into()
        }
        CheckId::RemovedApis => format!(
            "move the manifests and Helm charts to the replacement APIs: cargo run --example find_removed_apis -- --target-version {target}"
        ),
        CheckId::PodSecurityPolicies => {
            "migrate to Pod Security Admission before 1.25: cargo run --example pss_report, then apply_pss_labels".into()
        }
        CheckId::Addons => "upgrade CoreDNS and the other add-ons to the versions the target ships with".into(),
        _ => "read the explanation and resolve it before upgrading".into(),
    }
}

// ---------------------------------------------------------------------------
// dr-drill
// ---------------------------------------------------------------------------

/// The label every scratch namespace of a drill carries (value `true`).
///
/// ```
/// assert_eq!(k8sops::checklist::monthly::DR_DRILL_LABEL, "k8sops.io/dr-drill");
/// ```
pub const DR_DRILL_LABEL: &str = "k8sops.io/dr-drill";

/// The prefix of a drill's scratch namespace.
///
/// ```
/// assert_eq!(k8sops::checklist::monthly::DR_DRILL_PREFIX, "k8sops-dr-drill-");
/// ```
pub const DR_DRILL_PREFIX: &str = "k8sops-dr-drill-";

/// A disaster-recovery drill (`dr-drill`): exports one namespace with
/// [`backup::export`](crate::backup::export::export) to a backup in memory,
/// restores it with [`backup::restore`](crate::backup::restore::restore)
/// into a scratch namespace, compares every restored object with its
/// backed-up copy, and deletes the scratch namespace.
///
/// The drill follows the export's rules: objects the cluster recreates
/// (pods of controllers, ReplicaSets of Deployments, EndpointSlices,
/// events) are not exported and so not drilled, nor are Secrets unless
/// [`include_secrets`](Self::include_secrets), nor Leases (leader
/// election). The scratch namespace `k8sops-dr-drill-<UTC time>-<4 hex>`
/// is created first, labelled `k8sops.io/dr-drill=true` and annotated with
/// the source namespace. No cluster-scoped object is restored.
///
/// Restoring an object for real can make other controllers act outside the
/// scratch namespace (a LoadBalancer Service provisions a cloud load
/// balancer, an Ingress joins a shared load balancer or DNS, a
/// Certificate is ordered, a claim binds a static volume, a custom
/// resource adopts an external resource), so the restore has two passes:
///
/// 1. **Validated by server dry run**: every object but the kinds below
///    (Services, Ingresses, PersistentVolumeClaims, bare Pods, custom
///    resources, ...) is sent to the API server with `dryRun=All` into the
///    scratch namespace: the server validates it, admission webhooks
///    included, and creates nothing. Node ports are dropped from Services
///    first (the originals hold them). Its content is not compared.
/// 2. **Created and compared**: ConfigMaps, Secrets, ServiceAccounts,
///    Roles, RoleBindings, Deployments, StatefulSets, DaemonSets, Jobs,
///    CronJobs, NetworkPolicies, PodDisruptionBudgets,
///    HorizontalPodAutoscalers and LimitRanges, which act only inside
///    their namespace, are created there, after a ResourceQuota of zero
///    persistent volume claims, LoadBalancer and NodePort Services (and,
///    with [`block_pods`](Self::block_pods), zero pods: the restored
///    workloads never start a copy of the application). What already
///    exists there (the `default` ServiceAccount, `kube-root-ca.crt`) is
///    updated.
///
/// A created object matches when its labels, annotations and every
/// top-level field but `metadata` and `status` equal the backed-up
/// object's, apart from namespace references and what the server sets (a
/// Job's generated selector, a ServiceAccount's token list, a
/// Deployment's revision annotation, a leader-election annotation, the
/// replicas of a workload a restored HorizontalPodAutoscaler drives).
///
/// - **Pass**: every created object matches and every other object passed
///   the server dry run (the evidence counts them per kind), and the
///   scratch namespace was deleted (gone or `Terminating`: the drill does
///   not wait).
/// - **Warn**: nothing to drill (the namespace does not exist or holds
///   only what every namespace holds); the server dry run refused an
///   object (this cluster would refuse its restore, e.g. an Ingress host
///   another Ingress holds, a webhook's denial); the scratch namespace
///   could not be deleted (the finding names it and the kubectl command);
///   a resource type could not be exported; scratch namespaces of earlier
///   drills are still there.
/// - **Fail**: an object could not be created, is missing after the
///   restore, or differs from its backed-up copy (one finding per object,
///   naming the differing fields).
///
/// The check is not run (Forbidden) when RBAC refuses the scratch
/// namespace, its quota or the create (or dry-run create) of an object;
/// the scratch namespace is deleted first.
///
/// # RBAC
/// `get` on the source namespace; `list` on every resource type in it;
/// `list`, `create`, `delete` on namespaces; `create` on resourcequotas;
/// `create`, `patch` and `get` on those types in the scratch namespace.
///
/// # Cancel safety
/// Cancelled or timed out after the scratch namespace was created, the
/// drill starts deleting the namespace in the background (best effort, at
/// most 10 s; [`Checklist::run_with`](super::Checklist::run_with) waits up
/// to 3 s for it before returning); the not-run result's action says so. What stays (the process exited first, the delete was
/// refused) is removed by
/// `kubectl delete namespace -l k8sops.io/dr-drill=true`, and the next
/// drill warns about it. When the drill cannot run after creating the
/// namespace and cannot delete it either, the result is not "not checked"
/// but a failure that names the namespace. The drill
/// deletes only the namespace it created (a delete with its UID as
/// precondition). Give the monthly checklist a budget that fits the
/// namespace ([`Checklist::budget`](super::Checklist::budget)).
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// use k8sops::checklist::{monthly::DrDrillCheck, Checklist, Status};
/// let drill = DrDrillCheck { namespace: "shop".into(), ..Default::default() };
/// let report = Checklist::new("drill").with(drill).run(&server.cluster()).await;
/// let result = report.result("dr-drill").unwrap();
/// assert_eq!(result.status, Status::Pass, "{report}");
/// # Ok(()) }
/// ```
#[cfg(feature = "backup")]
#[cfg_attr(docsrs, doc(cfg(feature = "backup")))]
#[derive(Debug, Clone)]
pub struct DrDrillCheck {
    /// The namespace to drill (default `default`, which exists in every
    /// cluster; set it to a namespace of your applications).
    pub namespace: String,
    /// Export and restore the namespace's Secrets too (default `false`,
    /// as the export). The backup stays in memory; the copies live in the
    /// scratch namespace until it is deleted.
    pub include_secrets: bool,
    /// Keep the restored workloads from running: a ResourceQuota of zero
    /// pods in the scratch namespace, and bare pods not drilled (default
    /// `true`). With `false` the created Deployments, StatefulSets,
    /// DaemonSets and Jobs start pods in the scratch namespace and bare
    /// pods are validated by server dry run; claims, LoadBalancer and
    /// NodePort Services stay at zero either way.
    pub block_pods: bool,
    /// Leave the scratch namespace for inspection instead of deleting it
    /// (default `false`); the finding names it and the command to delete it.
    pub keep_scratch: bool,
}

#[cfg(feature = "backup")]
impl Default for DrDrillCheck {
    fn default() -> Self {
        DrDrillCheck { namespace: "default".into(), include_secrets: false, block_pods: true, keep_scratch: false }
    }
}

#[cfg(feature = "backup")]
impl DrDrillCheck {
    /// A drill of `namespace`.
    ///
    /// ```
    /// let drill = k8sops::checklist::monthly::DrDrillCheck::new("shop");
    /// assert_eq!(drill.namespace, "shop");
    /// assert!(drill.block_pods);
    /// ```
    pub fn new(namespace: impl Into<String>) -> Self {
        DrDrillCheck { namespace: namespace.into(), ..Default::default() }
    }
}

#[cfg(feature = "backup")]
impl Check for DrDrillCheck {
    fn id(&self) -> &str {
        "dr-drill"
    }
    fn title(&self) -> &str {
        "Disaster-recovery drill: export, restore and compare a namespace"
    }
    fn run<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, crate::Result<CheckOutput>> {
        Box::pin(drill::run(self, cluster))
    }
    fn cut_short_note(&self) -> Option<String> {
        Some(if self.keep_scratch {
            format!(
                "the scratch namespace is kept (keep_scratch); to remove drill namespaces: kubectl delete namespace -l {DR_DRILL_LABEL}=true"
            )
        } else {
            format!(
                "a drill cut short starts deleting its scratch namespace (the run waits a few seconds for it), and the next drill reports any left; to remove them now: kubectl delete namespace -l {DR_DRILL_LABEL}=true"
            )
        })
    }
}

#[cfg(feature = "backup")]
mod drill {
    use std::{collections::BTreeMap, sync::Arc};

    use futures::StreamExt;
    use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
    use k8sops_core::{Cluster, DryRun};
    use kube::{
        api::{ApiResource, DeleteParams, DynamicObject, ListParams, PostParams, Preconditions},
        Api,
    };
    use serde_json::{json, Value};

    use super::{bounded_evidence, DrDrillCheck, DR_DRILL_LABEL, DR_DRILL_PREFIX};
    use crate::{
        backup::{
            export::{export, ExportParams},
            layout::{sha256_hex, Location, Manifest, ManifestEntry, MANIFEST_FILE},
            object_store::{memory::InMemory, ObjectStoreExt, PutPayload},
            restore::{read_manifest, restore, ExistingPolicy, RestoreCounts, RestoreOutcome, RestoreParams},
        },
        checklist::{on_blocking_thread, CheckOutput, Finding, Status},
    };

    /// `(group, resource)` of the kinds the drill creates for real: built-in
    /// kinds whose controllers act only inside their namespace. Everything
    /// else is validated by server dry run only.
    const CREATED: &[(&str, &str)] = &[
        ("", "configmaps"),
        ("", "secrets"),
        ("", "serviceaccounts"),
        ("", "limitranges"),
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("networking.k8s.io", "networkpolicies"),
        ("policy", "poddisruptionbudgets"),
        ("autoscaling", "horizontalpodautoscalers"),
    ];

    /// Whether the drill creates `e` for real (else: server dry run only).
    pub(super) fn created_for_real(e: &ManifestEntry, include_secrets: bool) -> bool {
        (include_secrets || e.resource != "secrets") && CREATED.contains(&(e.group(), e.resource.as_str()))
    }

    /// Objects every namespace holds without anyone creating them.
    fn is_builtin(e: &ManifestEntry) -> bool {
        matches!((e.kind.as_str(), e.name.as_str()), ("ServiceAccount", "default") | ("ConfigMap", "kube-root-ca.crt"))
    }

    fn subject(e: &ManifestEntry, ns: &str) -> String {
        format!("{}/{ns}/{}", e.kind.to_lowercase(), e.name)
    }

    fn scratch_name() -> String {
        let now = k8s_openapi::jiff::Timestamp::now();
        let salt = now.subsec_nanosecond().unsigned_abs() & 0xffff;
        format!("{DR_DRILL_PREFIX}{}-{salt:04x}", now.strftime("%Y%m%d-%H%M%S"))
    }

    /// Why the drill stopped after the scratch namespace was created.
    enum Stop {
        /// The check could not run (the quota or an object may not be
        /// created): returned as `Err` once the namespace is deleted.
        NotRun(crate::Error),
        /// The drill stopped midway: a Fail finding.
        Failed(crate::Error),
    }

    /// What the two passes found.
    #[derive(Default)]
    struct Drilled {
        /// Per-object findings (Fail, Warn).
        findings: Vec<Finding>,
        /// Created objects that match their backed-up copy.
        matched: usize,
        /// Matched objects per kind.
        matched_per_kind: BTreeMap<String, usize>,
        /// Objects the server dry run accepted.
        validated: usize,
        /// Accepted objects per kind.
        validated_per_kind: BTreeMap<String, usize>,
        /// Objects the server dry run refused.
        refused: usize,
        /// The real pass's counts.
        counts: RestoreCounts,
    }

    pub(super) async fn run(check: &DrDrillCheck, cluster: &Cluster) -> crate::Result<CheckOutput> {
        let ns = check.namespace.as_str();
        if ns.is_empty()
            || ns.len() > 63
            || !ns.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(k8sops_core::Error::InvalidInput {
                message: format!("{ns:?} is not a namespace name"),
                source: None,
            }
            .into());
        }
        let mut findings = Vec::new();
        let namespaces: Api<Namespace> = cluster.api_all();
        findings.extend(leftovers(cluster, &namespaces).await?);

        let source = namespaces.get_opt(ns).await.map_err(|e| cluster.map_err(e, &format!("namespace {ns}")))?;
        if source.is_none() {
            findings.push(
                Finding::warn(format!("namespace/{ns}"), format!("nothing to drill: namespace {ns} does not exist"))
                    .action("set DrDrillCheck::namespace to a namespace of your applications"),
            );
            return Ok(findings.into());
        }

        // The backup lives in memory only: a drill leaves no copy of the namespace anywhere.
        let store = Arc::new(InMemory::new());
        let at = Location::store(store.clone(), "dr-drill");
        let export_params = ExportParams::default()
            .include_namespaces([ns])
            .include_cluster_resources(false)
            .include_secrets(check.include_secrets)
            // Leader-election records: a copy would only confuse whoever reads them.
            .exclude_resources(["leases.coordination.k8s.io"]);
        let stop = k8sops_core::CancellationToken::new();
        // Dropping the check (cancel, timeout) stops the export and the restore.
        let _stop = stop.clone().drop_guard();
        let exported = {
            let (c, l, p) = (cluster.clone(), at.clone(), export_params.cancel(stop.clone()));
            on_blocking_thread("dr-drill task", move || async move { export(&c, &l, &p).await }).await?
        };
        for r in exported.resources.iter().filter(|r| r.error.is_some()) {
            let error = r.error.as_ref().map(ToString::to_string).unwrap_or_default();
            findings.push(
                Finding::warn(format!("namespace/{ns}"), format!("{} could not be exported: not drilled", r.resource))
                    .evidence(error)
                    .action(format!("kubectl auth can-i list {} -n {ns}", r.resource)),
            );
        }
        let manifest = read_manifest(&at).await?;
        let mut entries: Vec<&ManifestEntry> = manifest.files.iter().filter(|e| e.kind != "Namespace").collect();
        let bare_pods = if check.block_pods {
            let before = entries.len();
            entries.retain(|e| !(e.resource == "pods" && e.group().is_empty()));
            before - entries.len()
        } else {
            0
        };
        if entries.iter().all(|e| is_builtin(e)) {
            let mut f = Finding::warn(
                format!("namespace/{ns}"),
                format!("nothing to drill: namespace {ns} holds no exported object of its own"),
            )
            .evidence(format!(
                "{} object(s) exported, skipped as recreated by the cluster: {}",
                exported.objects,
                skipped(&exported)
            ))
            .action("set DrDrillCheck::namespace to a namespace of your applications");
            if bare_pods > 0 {
                f = f.evidence(format!("{bare_pods} bare pod(s) not drilled (block_pods)"));
            }
            findings.push(f);
            return Ok(findings.into());
        }
        let (created, validated): (Vec<&ManifestEntry>, Vec<&ManifestEntry>) =
            entries.iter().partition(|e| created_for_real(e, check.include_secrets));
        // Two backups beside the export, one per pass; nothing has changed in the cluster yet.
        let created_at = stage(&store, &at, &manifest, &created, "dr-drill-created", false).await?;
        let validated_at = stage(&store, &at, &manifest, &validated, "dr-drill-dry-run", true).await?;

        let scratch = scratch_name();
        let uid = create_scratch(cluster, &namespaces, &scratch, ns).await?;
        // From here on the scratch namespace exists: whatever happens, try to
        // delete it, in the background if the check is dropped (budget, cancel).
        let mut guard = ScratchGuard {
            cluster: (!check.keep_scratch).then(|| cluster.clone()),
            name: scratch.clone(),
            uid: uid.clone(),
        };
        let passes = Passes { cluster, store: &store, backup: &at, ns, scratch: &scratch, stop: &stop };
        let outcome = passes.run(&created_at, &created, &validated_at, &validated, check.block_pods).await;
        if let Err(Stop::NotRun(e)) = outcome {
            let cleanup = delete_scratch(cluster, &namespaces, &scratch, uid.as_deref()).await;
            guard.disarm();
            if cleanup.status == Status::Pass {
                // Nothing left behind: the result is "not checked", with the reason.
                return Err(e);
            }
            // The namespace stays: the result must name it.
            findings.push(
                Finding::fail(format!("namespace/{ns}"), format!("the drill could not run: {e}"))
                    .evidence(format!("scratch namespace {scratch} left behind (see its finding)"))
                    .action(
                        "look at the error (a permission, a quota, an admission webhook), then run the drill again",
                    ),
            );
            findings.push(cleanup);
            return Ok(findings.into());
        }
        let cleanup = if check.keep_scratch {
            Finding::pass(format!("namespace/{scratch}"), format!("scratch namespace {scratch} kept for inspection"))
                .evidence(format!("labelled {DR_DRILL_LABEL}=true"))
                .action(format!("kubectl delete namespace {scratch} when done"))
        } else {
            delete_scratch(cluster, &namespaces, &scratch, uid.as_deref()).await
        };
        guard.disarm();
        match outcome {
            Ok(mut d) => {
                let failed = d.findings.iter().filter(|f| f.status == Status::Fail).count();
                let summary_counts = format!(
                    "{} of {} object(s) created in {scratch} and matched, {} of {} validated by server dry run",
                    d.matched,
                    created.len(),
                    d.validated,
                    validated.len()
                );
                let mut f = if failed > 0 {
                    Finding::fail(
                        format!("namespace/{ns}"),
                        format!(
                            "drill of namespace {ns}: {failed} of {} object(s) not restored as they are",
                            entries.len()
                        ),
                    )
                    .action("fix the objects named in the other findings, then run the drill again")
                } else if d.refused > 0 {
                    Finding::warn(
                        format!("namespace/{ns}"),
                        format!(
                            "drill of namespace {ns}: this cluster would refuse {} of {} object(s) (server dry run)",
                            d.refused,
                            entries.len()
                        ),
                    )
                    .action("look at the refused objects in the other findings: a restore here would leave them out")
                } else {
                    Finding::pass(format!("namespace/{ns}"), format!("drilled namespace {ns}: {summary_counts}"))
                };
                f = f
                    .evidence(format!("matched: {}", d.matched))
                    .evidence(format!("validated by server dry run: {}", d.validated))
                    .evidence(format!(
                        "restore: {} created, {} updated (already there), {} skipped",
                        d.counts.created, d.counts.updated, d.counts.skipped
                    ));
                if failed > 0 || d.refused > 0 {
                    f = f.evidence(summary_counts);
                }
                for (kind, n) in &d.matched_per_kind {
                    f = f.evidence(format!("{kind}: {n}"));
                }
                for (kind, n) in &d.validated_per_kind {
                    f = f.evidence(format!("{kind}: {n} (server dry run)"));
                }
                f = f.evidence(format!("not exported (recreated by the cluster): {}", skipped(&exported)));
                if bare_pods > 0 {
                    f = f.evidence(format!("{bare_pods} bare pod(s) not drilled: they would run (block_pods)"));
                }
                findings.push(f);
                findings.append(&mut d.findings);
            }
            Err(Stop::Failed(e) | Stop::NotRun(e)) => findings.push(
                Finding::fail(format!("namespace/{ns}"), format!("the drill stopped: {e}"))
                    .evidence(format!("scratch namespace {scratch}"))
                    .action("look at the error and run the drill again"),
            ),
        }
        findings.push(cleanup);
        Ok(findings.into())
    }

    /// Deletes the scratch namespace in the background when the drill is
    /// dropped before its own cleanup ran (its budget spent, the checklist
    /// cancelled): best effort, for at most [`ScratchGuard::GRACE`]. The
    /// checklist run waits a few seconds for it before returning; dropped
    /// outside a run, it goes on while the runtime runs. What it cannot
    /// delete, the next drill reports (`leftovers`).
    struct ScratchGuard {
        /// `None` once the drill cleaned up itself, or keeps the namespace.
        cluster: Option<Cluster>,
        name: String,
        uid: Option<String>,
    }

    impl ScratchGuard {
        const GRACE: std::time::Duration = std::time::Duration::from_secs(10);

        fn disarm(&mut self) {
            self.cluster = None;
        }
    }

    impl Drop for ScratchGuard {
        fn drop(&mut self) {
            let Some(cluster) = self.cluster.take() else { return };
            let (name, uid) = (std::mem::take(&mut self.name), self.uid.take());
            crate::checklist::spawn_cleanup(async move {
                let namespaces: Api<Namespace> = cluster.api_all();
                let delete = delete_scratch(&cluster, &namespaces, &name, uid.as_deref());
                let _ = tokio::time::timeout(ScratchGuard::GRACE, delete).await;
            });
        }
    }

    /// `kind: n` for the types the export left out as recreated by the cluster.
    fn skipped(exported: &crate::backup::export::ExportReport) -> String {
        let parts: Vec<String> = exported
            .resources
            .iter()
            .filter(|r| r.skipped > 0)
            .map(|r| format!("{} {}", r.skipped, r.resource))
            .collect();
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }

    /// Scratch namespaces earlier drills left behind (cancelled, timed out,
    /// or their delete refused), not yet being deleted.
    async fn leftovers(cluster: &Cluster, namespaces: &Api<Namespace>) -> crate::Result<Vec<Finding>> {
        let selector = format!("{DR_DRILL_LABEL}=true");
        let listed = namespaces
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| cluster.map_err(e, "namespaces"))?;
        Ok(listed
            .items
            .iter()
            .filter(|n| n.metadata.deletion_timestamp.is_none())
            .filter_map(|n| n.metadata.name.clone())
            .map(|name| {
                Finding::warn(
                    format!("namespace/{name}"),
                    format!("scratch namespace {name} of an earlier drill is still there"),
                )
                .evidence(format!("labelled {selector}: a drill was cancelled, timed out or could not delete it"))
                .action(format!("kubectl delete namespace {name}"))
            })
            .collect())
    }

    /// The bytes of one file of the backup at `from`.
    async fn read_file(store: &InMemory, from: &Location, e: &ManifestEntry) -> crate::Result<Vec<u8>> {
        let key = from.key(&e.path).ok_or_else(|| k8sops_core::Error::InvalidInput {
            message: format!("{}: not a path inside the backup", e.path),
            source: None,
        })?;
        let got = store.get(&key).await.map_err(crate::backup::Error::from)?;
        Ok(got.bytes().await.map_err(crate::backup::Error::from)?.to_vec())
    }

    /// Copies the files `entries` of the backup at `from` to a backup of
    /// their own under `prefix` (with its manifest), for one pass of the
    /// restore; with `drop_node_ports`, Services lose their node ports
    /// (the originals hold them: the dry run would be refused for it).
    async fn stage(
        store: &Arc<InMemory>,
        from: &Location,
        manifest: &Manifest,
        entries: &[&ManifestEntry],
        prefix: &str,
        drop_node_ports: bool,
    ) -> crate::Result<Location> {
        let to = Location::store(store.clone(), prefix);
        let mut staged = manifest.clone();
        staged.files.clear();
        staged.counts.clear();
        for e in entries {
            let mut bytes = read_file(store, from, e).await?;
            if drop_node_ports && e.kind == "Service" && e.group().is_empty() {
                let parsed = std::str::from_utf8(&bytes).ok().and_then(parse_backup_yaml);
                if let Some(mut obj) = parsed {
                    strip_node_ports(&mut obj);
                    // JSON is YAML: the restore reads it as it reads the export's files.
                    bytes = serde_json::to_vec(&obj).map_err(|err| k8sops_core::Error::InvalidInput {
                        message: format!("{}: {err}", e.path),
                        source: None,
                    })?;
                }
            }
            let key = to.key(&e.path).ok_or_else(|| k8sops_core::Error::InvalidInput {
                message: format!("{}: not a path inside the backup", e.path),
                source: None,
            })?;
            let entry =
                ManifestEntry { size: bytes.len() as u64, sha256: sha256_hex(&bytes), ..ManifestEntry::clone(e) };
            store.put(&key, PutPayload::from(bytes)).await.map_err(crate::backup::Error::from)?;
            *staged.counts.entry(entry.resource_name()).or_default() += 1;
            staged.files.push(entry);
        }
        staged.total = staged.files.len();
        let bytes = serde_json::to_vec(&staged).map_err(|err| k8sops_core::Error::InvalidInput {
            message: format!("{MANIFEST_FILE}: {err}"),
            source: None,
        })?;
        let key = to.key(MANIFEST_FILE).ok_or_else(|| k8sops_core::Error::InvalidInput {
            message: format!("{prefix}/{MANIFEST_FILE}: not a path"),
            source: None,
        })?;
        store.put(&key, PutPayload::from(bytes)).await.map_err(crate::backup::Error::from)?;
        Ok(to)
    }

    /// A Service without the node ports it holds in the source namespace.
    pub(super) fn strip_node_ports(obj: &mut Value) {
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            spec.remove("healthCheckNodePort");
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                    p.remove("nodePort");
                }
            }
        }
    }

    /// The object an export file (YAML) holds, as JSON, read as the
    /// restore reads it.
    pub(super) fn parse_backup_yaml(text: &str) -> Option<Value> {
        serde_norway::from_str::<Value>(text).ok().filter(Value::is_object)
    }

    /// Creates the scratch namespace; its UID, which the delete names.
    async fn create_scratch(
        cluster: &Cluster,
        namespaces: &Api<Namespace>,
        scratch: &str,
        source: &str,
    ) -> crate::Result<Option<String>> {
        let ns: Namespace = serde_json::from_value(json!({
            "metadata": {"name": scratch, "labels": {DR_DRILL_LABEL: "true"},
                "annotations": {"k8sops.io/dr-drill-source": source}}
        }))
        .map_err(|e| k8sops_core::Error::InvalidInput {
            message: format!("scratch namespace {scratch}: {e}"),
            source: None,
        })?;
        let created = namespaces
            .create(&PostParams::default(), &ns)
            .await
            .map_err(|e| cluster.map_err(e, &format!("namespace {scratch}")))?;
        Ok(created.metadata.uid)
    }

    /// The quota that keeps anything created in the scratch namespace from
    /// provisioning: no claims, LoadBalancer or NodePort Services, and with
    /// `block_pods` no pods.
    async fn create_quota(cluster: &Cluster, scratch: &str, block_pods: bool) -> crate::Result<()> {
        let mut hard = json!({"persistentvolumeclaims": "0", "services.loadbalancers": "0", "services.nodeports": "0"});
        if block_pods {
            hard["pods"] = json!("0");
        }
        let quota: ResourceQuota = serde_json::from_value(json!({
            "metadata": {"name": "k8sops-dr-drill", "namespace": scratch, "labels": {DR_DRILL_LABEL: "true"}},
            "spec": {"hard": hard}
        }))
        .map_err(|e| k8sops_core::Error::InvalidInput { message: format!("quota: {e}"), source: None })?;
        let quotas: Api<ResourceQuota> = cluster.api_namespaced(scratch);
        quotas
            .create(&PostParams::default(), &quota)
            .await
            .map_err(|e| cluster.map_err(e, &format!("resourcequota {scratch}/k8sops-dr-drill")))?;
        Ok(())
    }

    /// Deletes the scratch namespace — only the one this drill created
    /// (its UID as precondition) — without waiting for its content to go.
    async fn delete_scratch(
        cluster: &Cluster,
        namespaces: &Api<Namespace>,
        scratch: &str,
        uid: Option<&str>,
    ) -> Finding {
        let subject = format!("namespace/{scratch}");
        let params = DeleteParams {
            preconditions: uid.map(|u| Preconditions { uid: Some(u.to_string()), resource_version: None }),
            ..Default::default()
        };
        match namespaces.delete(scratch, &params).await {
            Ok(_) => {}
            Err(e) => {
                let e = cluster.map_err(e, &format!("namespace {scratch}"));
                if !e.is_not_found() {
                    return Finding::warn(subject, format!("the scratch namespace {scratch} could not be deleted"))
                        .evidence(e.to_string())
                        .action(format!("kubectl delete namespace {scratch}"));
                }
            }
        }
        let state = match namespaces.get_opt(scratch).await {
            Ok(None) => "deleted".to_string(),
            Ok(Some(n)) => {
                let phase = n.status.and_then(|s| s.phase).unwrap_or_default();
                if n.metadata.deletion_timestamp.is_some() || phase == "Terminating" {
                    "Terminating".to_string()
                } else {
                    return Finding::warn(
                        subject,
                        format!("the scratch namespace {scratch} is still there after its delete"),
                    )
                    .evidence(format!("phase {phase:?}, no deletion timestamp"))
                    .action(format!("kubectl delete namespace {scratch}"));
                }
            }
            Err(e) => format!("delete accepted (state unknown: {})", cluster.map_err(e, "namespace")),
        };
        Finding::pass(subject, format!("scratch namespace {scratch} deleted ({state})"))
    }

    /// The refusal, when `outcome` is a refusal by RBAC (not by a quota,
    /// a webhook or Pod Security, which the server also answers 403).
    fn rbac_denied(outcome: &RestoreOutcome) -> Option<crate::Error> {
        let RestoreOutcome::Failed(why) = outcome else { return None };
        match &**why {
            crate::backup::Error::Core(k8sops_core::Error::Forbidden { message }) if message.contains(" cannot ") => {
                Some(k8sops_core::Error::Forbidden { message: message.clone() }.into())
            }
            _ => None,
        }
    }

    /// One drill's two passes into its scratch namespace.
    struct Passes<'a> {
        cluster: &'a Cluster,
        store: &'a InMemory,
        /// The whole export: the backed-up copies the created objects are compared with.
        backup: &'a Location,
        ns: &'a str,
        scratch: &'a str,
        stop: &'a k8sops_core::CancellationToken,
    }

    impl Passes<'_> {
        fn params(&self) -> RestoreParams {
            RestoreParams::default()
                .include_namespaces([self.ns])
                .include_cluster_resources(false)
                .namespace_mapping([(self.ns, self.scratch)])
                .existing(ExistingPolicy::Update)
                .cancel(self.stop.clone())
        }

        async fn run(
            &self,
            created_at: &Location,
            created: &[&ManifestEntry],
            validated_at: &Location,
            validated: &[&ManifestEntry],
            block_pods: bool,
        ) -> Result<Drilled, Stop> {
            let (ns, scratch) = (self.ns, self.scratch);
            let mut d = Drilled::default();
            // 1. The dry run, before the quota: its zero claims and load
            //    balancers would refuse their dry runs too.
            if !validated.is_empty() {
                let report = {
                    let (c, l, params) =
                        (self.cluster.clone(), validated_at.clone(), self.params().dry_run(DryRun::Server));
                    on_blocking_thread("dr-drill task", move || async move { restore(&c, &l, &params).await })
                        .await
                        .map_err(|e| Stop::Failed(e.into()))?
                };
                let outcomes: BTreeMap<&str, &RestoreOutcome> =
                    report.objects.iter().filter_map(|o| o.path.as_deref().map(|p| (p, &o.outcome))).collect();
                for e in validated {
                    let outcome = outcomes.get(e.path.as_str()).copied();
                    if let Some(err) = outcome.and_then(rbac_denied) {
                        return Err(Stop::NotRun(err));
                    }
                    match outcome {
                        Some(RestoreOutcome::Failed(why)) => {
                            d.refused += 1;
                            d.findings.push(
                                Finding::warn(subject(e, ns), format!("the server dry run refused it: {why}"))
                                    .evidence(format!(
                                        "{} {} sent with dryRun=All into namespace {scratch}: a restore into this cluster would leave it out",
                                        e.api_version, e.kind
                                    ))
                                    .action(format!(
                                        "kubectl get {} {} -n {ns} -o yaml; fix what the server refused (or the conflicting object)",
                                        e.resource_name(),
                                        e.name
                                    )),
                            );
                        }
                        Some(RestoreOutcome::NotAttempted) | None => d.findings.push(
                            Finding::fail(subject(e, ns), "not validated: the restore did not attempt it")
                                .evidence(format!("{} in the backup", e.path))
                                .action("run the drill again; if it repeats, restore the backup with restore_resources --dry-run=server"),
                        ),
                        Some(_) => {
                            d.validated += 1;
                            *d.validated_per_kind.entry(e.kind.clone()).or_default() += 1;
                        }
                    }
                }
            }
            // 2. The quota, before anything is created.
            create_quota(self.cluster, scratch, block_pods).await.map_err(Stop::NotRun)?;
            // 3. The kinds that act only inside their namespace, created and compared.
            if created.is_empty() {
                return Ok(d);
            }
            let report = {
                let (c, l, params) = (self.cluster.clone(), created_at.clone(), self.params());
                on_blocking_thread("dr-drill task", move || async move { restore(&c, &l, &params).await })
                    .await
                    .map_err(|e| Stop::Failed(e.into()))?
            };
            d.counts = report.counts();
            let outcomes: BTreeMap<&str, &RestoreOutcome> =
                report.objects.iter().filter_map(|o| o.path.as_deref().map(|p| (p, &o.outcome))).collect();
            let mut to_compare = Vec::new();
            for e in created {
                let outcome = outcomes.get(e.path.as_str()).copied();
                if let Some(err) = outcome.and_then(rbac_denied) {
                    return Err(Stop::NotRun(err));
                }
                match outcome {
                    Some(RestoreOutcome::Failed(why)) => d.findings.push(
                        Finding::fail(subject(e, ns), format!("restore failed: {why}"))
                            .evidence(format!("{} {} into namespace {scratch}", e.api_version, e.kind))
                            .action(format!(
                                "kubectl get {} {} -n {ns} -o yaml; fix what the server refused",
                                e.resource_name(),
                                e.name
                            )),
                    ),
                    Some(RestoreOutcome::NotAttempted) | None => d.findings.push(
                        Finding::fail(subject(e, ns), "not restored: the restore did not attempt it")
                            .evidence(format!("{} in the backup", e.path))
                            .action("run the drill again; if it repeats, restore the backup with restore_resources --dry-run=server"),
                    ),
                    Some(_) => to_compare.push(ManifestEntry::clone(e)),
                }
            }
            // The replicas of a workload an autoscaler drives are the autoscaler's, not the backup's.
            let mut scaled = std::collections::BTreeSet::new();
            for e in created.iter().filter(|e| e.group() == "autoscaling" && e.resource == "horizontalpodautoscalers") {
                let hpa = read_file(self.store, self.backup, e).await.ok();
                let target = hpa.as_deref().and_then(|b| std::str::from_utf8(b).ok()).and_then(parse_backup_yaml);
                if let Some(t) = target.as_ref().map(|h| &h["spec"]["scaleTargetRef"]) {
                    if let (Some(kind), Some(name)) = (t["kind"].as_str(), t["name"].as_str()) {
                        scaled.insert((kind.to_string(), name.to_string()));
                    }
                }
            }
            let scaled = &scaled;
            let results: Vec<(ManifestEntry, crate::Result<Vec<String>>)> = futures::stream::iter(to_compare)
                .map(|e: ManifestEntry| async move {
                    let autoscaled = scaled.contains(&(e.kind.clone(), e.name.clone()));
                    let r = self.compare(&e, autoscaled).await;
                    (e, r)
                })
                .buffer_unordered(8)
                .collect()
                .await;
            for (e, result) in results {
                let e = &e;
                match result {
                    Ok(diffs) if diffs.is_empty() => {
                        d.matched += 1;
                        *d.matched_per_kind.entry(e.kind.clone()).or_default() += 1;
                    }
                    Ok(diffs) => {
                        let first = diffs[0].split(':').next().unwrap_or_default().to_string();
                        let f = Finding::fail(subject(e, ns), format!("restored copy differs in {first}")).action(
                            format!(
                                "compare kubectl get {0} {1} -n {scratch} -o yaml with the backup; fix the field or the restore rules",
                                e.resource_name(),
                                e.name
                            ),
                        );
                        d.findings.push(bounded_evidence(f, &diffs));
                    }
                    Err(e2) => d.findings.push(
                        Finding::fail(subject(e, ns), format!("could not be compared: {e2}")).action(format!(
                            "kubectl get {} {} -n {scratch} -o yaml",
                            e.resource_name(),
                            e.name
                        )),
                    ),
                }
            }
            Ok(d)
        }

        /// Where the created copy differs from the backed-up object (empty:
        /// it matches); `spec.replicas` is left out when `autoscaled`.
        async fn compare(&self, e: &ManifestEntry, autoscaled: bool) -> crate::Result<Vec<String>> {
            let (ns, scratch) = (self.ns, self.scratch);
            let bytes = read_file(self.store, self.backup, e).await?;
            let backed_up: DynamicObject = std::str::from_utf8(&bytes)
                .ok()
                .and_then(parse_backup_yaml)
                .and_then(|v| serde_json::from_value(v).ok())
                .ok_or_else(|| k8sops_core::Error::InvalidInput {
                    message: format!("{} in the backup is not a readable object", e.path),
                    source: None,
                })?;
            let ar = ApiResource {
                group: e.group().to_string(),
                version: e.version().to_string(),
                api_version: e.api_version.clone(),
                kind: e.kind.clone(),
                plural: e.resource.clone(),
            };
            let copy: Api<DynamicObject> = Api::namespaced_with(self.cluster.client().clone(), scratch, &ar);
            let what = format!("{} {scratch}/{}", e.kind, e.name);
            let Some(copy) = copy.get_opt(&e.name).await.map_err(|err| self.cluster.map_err(err, &what))? else {
                return Ok(vec![format!("(the object): missing from {scratch} after the restore")]);
            };
            let group = e.group();
            let mut a = comparable(&backed_up, group, &e.kind, scratch, ns);
            let mut b = comparable(&copy, group, &e.kind, scratch, ns);
            if autoscaled {
                for v in [&mut a, &mut b] {
                    if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
                        spec.remove("replicas");
                    }
                }
            }
            let mut diffs = Vec::new();
            diff("", &a, &b, &mut diffs);
            Ok(diffs)
        }
    }

    const SERVER_SET_ANNOTATIONS: &[&str] = &[
        "deployment.kubernetes.io/revision",
        "pv.kubernetes.io/bind-completed",
        "pv.kubernetes.io/bound-by-controller",
        "volume.kubernetes.io/selected-node",
        "volume.kubernetes.io/storage-provisioner",
        "volume.beta.kubernetes.io/storage-provisioner",
        "endpoints.kubernetes.io/last-change-trigger-time",
        // Leader election (older clients record it on a ConfigMap or Endpoints).
        "control-plane.alpha.kubernetes.io/leader",
    ];
    const SERVER_SET_LABELS: &[&str] = &["controller-uid", "batch.kubernetes.io/controller-uid"];

    /// What a restore must reproduce: labels, annotations and the
    /// top-level fields but `metadata` and `status`, without what the
    /// server sets, with the scratch namespace named as the source.
    pub(super) fn comparable(obj: &DynamicObject, group: &str, kind: &str, scratch: &str, source: &str) -> Value {
        let mut out = serde_json::Map::new();
        let mut labels = obj.metadata.labels.clone().unwrap_or_default();
        for l in SERVER_SET_LABELS {
            labels.remove(*l);
        }
        let mut annotations = obj.metadata.annotations.clone().unwrap_or_default();
        for a in SERVER_SET_ANNOTATIONS {
            annotations.remove(*a);
        }
        out.insert("labels".into(), json!(labels));
        out.insert("annotations".into(), json!(annotations));
        if let Value::Object(data) = &obj.data {
            for (k, v) in
                data.iter().filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status"))
            {
                out.insert(k.clone(), v.clone());
            }
        }
        let mut v = Value::Object(out);
        strip_server_set(&mut v, group, kind);
        rename_namespace(&mut v, scratch, source);
        v
    }

    fn remove(v: &mut Value, key: &str) {
        if let Some(m) = v.as_object_mut() {
            m.remove(key);
        }
    }

    fn strip_server_set(v: &mut Value, group: &str, kind: &str) {
        match (group, kind) {
            ("", "Service") => {
                let spec = &mut v["spec"];
                if spec.get("clusterIP").and_then(Value::as_str) != Some("None") {
                    remove(spec, "clusterIP");
                    remove(spec, "clusterIPs");
                }
                remove(spec, "healthCheckNodePort");
                if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                    for p in ports {
                        remove(p, "nodePort");
                    }
                }
            }
            ("", "PersistentVolumeClaim") => remove(&mut v["spec"], "volumeName"),
            ("", "Pod") => {
                remove(&mut v["spec"], "nodeName");
                remove(&mut v["spec"], "priority");
            }
            ("", "ServiceAccount") => remove(v, "secrets"),
            ("batch", "Job") => {
                remove(&mut v["spec"], "selector");
                if let Some(labels) = v["spec"]["template"]["metadata"].get_mut("labels") {
                    for l in SERVER_SET_LABELS {
                        remove(labels, l);
                    }
                }
            }
            _ => {}
        }
        // Indexing above may have created nulls where nothing was.
        if let Some(m) = v.as_object_mut() {
            m.retain(|_, x| !x.is_null());
        }
    }

    /// Every `namespace` field naming the scratch namespace names the source instead.
    fn rename_namespace(v: &mut Value, scratch: &str, source: &str) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k == "namespace" && x.as_str() == Some(scratch) {
                        *x = Value::String(source.to_string());
                    } else {
                        rename_namespace(x, scratch, source);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| rename_namespace(x, scratch, source)),
            _ => {}
        }
    }

    fn short(v: Option<&Value>) -> String {
        let s = v.map_or_else(|| "(none)".to_string(), Value::to_string);
        if s.chars().count() > 80 {
            format!("{}…", s.chars().take(80).collect::<String>())
        } else {
            s
        }
    }

    /// The paths where `a` (the backed-up object) and `b` (the copy)
    /// differ, as `path: backed up X, restored Y`; a missing field equals `null`.
    pub(super) fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
        let join = |k: &str| if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let (p, q) = (x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null));
                    diff(&join(k), p, q, out);
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    diff(&format!("{path}[{i}]"), p, q, out);
                }
            }
            (Value::Object(x), Value::Null) | (Value::Null, Value::Object(x)) if x.is_empty() => {}
            _ if a == b => {}
            _ => out.push(format!("{path}: backed up {}, restored {}", short(Some(a)), short(Some(b)))),
        }
    }
}

// ---------------------------------------------------------------------------
// capacity
// ---------------------------------------------------------------------------

/// Capacity planning (`capacity`): headroom per node group from
/// [`metrics::capacity_report`](crate::metrics::capacity_report) (how many
/// more pods of [`headroom_cpu`](Self::headroom_cpu) /
/// [`headroom_memory`](Self::headroom_memory) fit by requests), requests
/// against allocatable, and — with a [`history`](Self::history) file —
/// growth since the last snapshot and the days until a group is full.
///
/// One finding per node group; CPU and memory charts ("CPU requested per
/// node group" in cores, "Memory requested per node group" in GiB, bars of
/// requested against allocatable).
///
/// - **Fail**: a group has no headroom (not one more such pod fits), or
///   its CPU or memory requests reach [`fail_percent`](Self::fail_percent)
///   of allocatable (default 90).
/// - **Warn**: requests reach [`warn_percent`](Self::warn_percent)
///   (default 75); at the growth since the previous snapshot the group is
///   full within [`warn_days`](Self::warn_days) (default 90); the history
///   file cannot be read (corrupt: it is left as it is) or written; the
///   cluster has no nodes.
/// - **Pass**: otherwise.
///
/// The history is a JSON file of snapshots (time, requested and
/// allocatable CPU and memory per group; the last 60 are kept). Growth is
/// measured against the latest snapshot at least an hour old; the new
/// snapshot is then written to a temporary file beside it (mode 0600),
/// fsynced and renamed over it.
///
/// # RBAC
/// `list` on nodes and pods (all namespaces).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// use k8sops::checklist::{monthly::CapacityPlanningCheck, Checklist};
/// let history = std::env::temp_dir().join(format!("capacity-{}.json", std::process::id()));
/// let check = CapacityPlanningCheck { history: Some(history.clone()), ..Default::default() };
/// let report = Checklist::new("capacity").with(check).run(&server.cluster()).await;
/// let result = report.result("capacity").unwrap();
/// assert_eq!(result.charts.len(), 2);
/// assert!(history.exists());
/// # std::fs::remove_file(history)?;
/// # Ok(()) }
/// ```
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
#[derive(Debug, Clone)]
pub struct CapacityPlanningCheck {
    /// CPU of the pod headroom is counted in (default 500m).
    pub headroom_cpu: k8sops_core::Quantity,
    /// Memory of the pod headroom is counted in (default 512Mi).
    pub headroom_memory: k8sops_core::Quantity,
    /// Warn when a group's CPU or memory requests reach this percentage of
    /// its allocatable (default 75).
    pub warn_percent: f64,
    /// Fail at this percentage (default 90).
    pub fail_percent: f64,
    /// The JSON file of earlier snapshots; `None` (the default): no growth.
    pub history: Option<std::path::PathBuf>,
    /// Warn when a group would be full within this many days at the
    /// growth since the previous snapshot (default 90).
    pub warn_days: f64,
}

#[cfg(feature = "metrics")]
impl Default for CapacityPlanningCheck {
    fn default() -> Self {
        CapacityPlanningCheck {
            headroom_cpu: k8sops_core::Quantity::from_millis(500),
            headroom_memory: k8sops_core::Quantity::from_bytes(512 << 20),
            warn_percent: 75.0,
            fail_percent: 90.0,
            history: None,
            warn_days: 90.0,
        }
    }
}

#[cfg(feature = "metrics")]
impl CapacityPlanningCheck {
    /// Sets [`history`](Self::history).
    ///
    /// ```
    /// let check = k8sops::checklist::monthly::CapacityPlanningCheck::default().history("/var/lib/k8sops/capacity.json");
    /// assert!(check.history.is_some());
    /// ```
    #[must_use]
    pub fn history(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.history = Some(path.into());
        self
    }
}

#[cfg(feature = "metrics")]
impl Check for CapacityPlanningCheck {
    fn id(&self) -> &str {
        "capacity"
    }
    fn title(&self) -> &str {
        "Capacity planning: headroom and growth per node group"
    }
    fn run<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, crate::Result<CheckOutput>> {
        Box::pin(capacity::run(self, cluster))
    }
}

#[cfg(feature = "metrics")]
mod capacity {
    use std::{
        collections::BTreeMap,
        io::Write as _,
        path::{Path, PathBuf},
    };

    use k8s_openapi::jiff::Timestamp;
    use k8sops_core::Cluster;
    use serde::{Deserialize, Serialize};

    use super::CapacityPlanningCheck;
    use crate::{
        checklist::{percent, Chart, CheckOutput, Finding, Status, GIB},
        metrics::{capacity_report, CapacityParams},
    };

    /// Snapshots kept in the history file.
    const KEEP: usize = 60;
    /// A snapshot younger than this is too close to measure growth against.
    const MIN_INTERVAL_SECONDS: i64 = 3600;

    /// The history file.
    #[derive(Debug, Default, Serialize, Deserialize)]
    struct History {
        version: u32,
        snapshots: Vec<Snapshot>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    struct Snapshot {
        /// RFC 3339.
        time: String,
        groups: BTreeMap<String, GroupSnapshot>,
    }

    #[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct GroupSnapshot {
        cpu_requested: f64,
        cpu_allocatable: f64,
        memory_requested_gib: f64,
        memory_allocatable_gib: f64,
    }

    pub(super) async fn run(check: &CapacityPlanningCheck, cluster: &Cluster) -> crate::Result<CheckOutput> {
        let params = CapacityParams {
            headroom_pod: (check.headroom_cpu, check.headroom_memory),
            usage: false,
            ..Default::default()
        };
        let report = capacity_report(cluster, &params).await?;
        let shape = format!("{}/{}", check.headroom_cpu, check.headroom_memory);
        let mut out = CheckOutput::default();
        if report.nodes.is_empty() {
            out.findings.push(
                Finding::warn("", "the cluster has no nodes: no capacity to plan")
                    .action("kubectl get nodes; add nodes or a node group"),
            );
            return Ok(out);
        }
        let now = Timestamp::now();
        // Headroom and schedulable nodes per group.
        let group_of: BTreeMap<&str, String> = report
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.group.clone().unwrap_or_else(|| "<none>".into())))
            .collect();
        let mut headroom: BTreeMap<String, i64> = BTreeMap::new();
        for (node, fits) in &report.headroom {
            if let Some(g) = group_of.get(node.as_str()) {
                *headroom.entry(g.clone()).or_default() += fits;
            }
        }
        let mut schedulable: BTreeMap<String, usize> = BTreeMap::new();
        for n in report.nodes.iter().filter(|n| n.schedulable) {
            *schedulable.entry(n.group.clone().unwrap_or_else(|| "<none>".into())).or_default() += 1;
        }
        let mut current = Snapshot { time: now.to_string(), groups: BTreeMap::new() };
        for g in &report.groups {
            current.groups.insert(
                g.name.clone(),
                GroupSnapshot {
                    cpu_requested: g.requests.get("cpu").as_f64(),
                    cpu_allocatable: g.allocatable.get("cpu").as_f64(),
                    memory_requested_gib: g.requests.get("memory").as_f64() / GIB,
                    memory_allocatable_gib: g.allocatable.get("memory").as_f64() / GIB,
                },
            );
        }

        // Growth against the history, when there is one.
        let mut previous: Option<Snapshot> = None;
        let mut history: Option<(PathBuf, History)> = None;
        if let Some(path) = &check.history {
            match read_history(path.clone()).await {
                Ok(h) => {
                    previous = h
                        .snapshots
                        .iter()
                        .filter(|s| {
                            s.time
                                .parse::<Timestamp>()
                                .is_ok_and(|t| now.as_second() - t.as_second() >= MIN_INTERVAL_SECONDS)
                        })
                        .max_by_key(|s| s.time.parse::<Timestamp>().map(|t| t.as_second()).unwrap_or_default())
                        .cloned();
                    history = Some((path.clone(), h));
                }
                Err(reason) => out.findings.push(
                    Finding::warn(
                        format!("file/{}", path.display()),
                        "the capacity history cannot be read: no growth measured, the file is left as it is",
                    )
                    .evidence(reason)
                    .action(format!("move {} aside (or delete it): the next run starts a new history", path.display())),
                ),
            }
        }

        let mut cpu_chart = Chart::new("CPU requested per node group", "cores");
        let mut mem_chart = Chart::new("Memory requested per node group", "GiB");
        for (name, g) in &current.groups {
            let room = headroom.get(name).copied().unwrap_or_default();
            let cpu_pct = percent(g.cpu_requested, g.cpu_allocatable);
            let mem_pct = percent(g.memory_requested_gib, g.memory_allocatable_gib);
            let worst = cpu_pct.max(mem_pct);
            cpu_chart = cpu_chart.bar(name.clone(), g.cpu_requested, g.cpu_allocatable);
            mem_chart = mem_chart.bar(name.clone(), g.memory_requested_gib, g.memory_allocatable_gib);
            let nodes = report.groups.iter().find(|x| &x.name == name).map_or(0, |x| x.nodes);
            let mut status = if room == 0 || worst >= check.fail_percent {
                Status::Fail
            } else if worst >= check.warn_percent {
                Status::Warn
            } else {
                Status::Pass
            };
            let mut summary = format!(
                "node group {name}: {room} more {shape} pod(s) fit; requests CPU {cpu_pct:.0}%, memory {mem_pct:.0}%"
            );
            let mut evidence = vec![
                format!("CPU requested {:.2} of {:.2} cores ({cpu_pct:.0}%)", g.cpu_requested, g.cpu_allocatable),
                format!(
                    "memory requested {:.2} of {:.2} GiB ({mem_pct:.0}%)",
                    g.memory_requested_gib, g.memory_allocatable_gib
                ),
                format!("{nodes} node(s), {} schedulable", schedulable.get(name).copied().unwrap_or_default()),
            ];
            if let Some(prev) = &previous {
                if let Some(before) = prev.groups.get(name) {
                    let days = prev
                        .time
                        .parse::<Timestamp>()
                        .map(|t| (now.as_second() - t.as_second()) as f64 / 86_400.0)
                        .unwrap_or_default();
                    let growth = Growth::between(before, g, days);
                    evidence.push(growth.describe(&prev.time));
                    if let Some(full_in) = growth.days_until_full(g) {
                        summary.push_str(&format!("; full in about {full_in:.0} days at the current growth"));
                        if full_in < check.warn_days && status == Status::Pass {
                            status = Status::Warn;
                        }
                    }
                } else {
                    evidence.push(format!("new since the snapshot of {}", prev.time));
                }
            }
            let mut f = Finding::new(status, format!("nodegroup/{name}"), summary);
            for e in evidence {
                f = f.evidence(e);
            }
            if status != Status::Pass {
                f = f.action(format!(
                    "add nodes to {name} (cargo run --example scale_nodegroup --features aws -- eks CLUSTER {name} --desired N) or lower requests (cargo run --example capacity_report)"
                ));
            }
            out.findings.push(f);
        }
        out.charts = vec![cpu_chart, mem_chart];

        if let Some(path) = &check.history {
            // A corrupt file is kept for a person to look at; only a readable (or missing) one is replaced.
            if let Some((_, mut h)) = history {
                h.version = 1;
                h.snapshots.push(current);
                let excess = h.snapshots.len().saturating_sub(KEEP);
                h.snapshots.drain(..excess);
                if let Err(e) = write_history(path.clone(), h).await {
                    out.findings.push(
                        Finding::warn(format!("file/{}", path.display()), "the capacity snapshot could not be saved")
                            .evidence(e.to_string())
                            .action(format!("check that the directory of {} is writable", path.display())),
                    );
                }
            }
        }
        Ok(out)
    }

    /// Change per day since the previous snapshot.
    struct Growth {
        cpu_per_day: f64,
        memory_gib_per_day: f64,
        cpu: f64,
        memory_gib: f64,
    }

    impl Growth {
        fn between(before: &GroupSnapshot, now: &GroupSnapshot, days: f64) -> Self {
            let cpu = now.cpu_requested - before.cpu_requested;
            let memory_gib = now.memory_requested_gib - before.memory_requested_gib;
            let per_day = |d: f64| if days > 0.0 { d / days } else { 0.0 };
            Growth { cpu_per_day: per_day(cpu), memory_gib_per_day: per_day(memory_gib), cpu, memory_gib }
        }

        fn describe(&self, since: &str) -> String {
            format!(
                "growth since {since}: CPU requests {:+.2} cores ({:+.3}/day), memory {:+.2} GiB ({:+.3}/day)",
                self.cpu, self.cpu_per_day, self.memory_gib, self.memory_gib_per_day
            )
        }

        /// Days until CPU or memory requests reach allocatable, at this
        /// growth; `None` when neither grows.
        fn days_until_full(&self, now: &GroupSnapshot) -> Option<f64> {
            let days = |free: f64, rate: f64| (rate > 0.0).then(|| (free.max(0.0)) / rate);
            let cpu = days(now.cpu_allocatable - now.cpu_requested, self.cpu_per_day);
            let mem = days(now.memory_allocatable_gib - now.memory_requested_gib, self.memory_gib_per_day);
            match (cpu, mem) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
    }

    /// The history, an empty one when the file does not exist, or why it
    /// cannot be used.
    async fn read_history(path: PathBuf) -> Result<History, String> {
        let shown = path.display().to_string();
        tokio::task::spawn_blocking(move || read_history_now(&path))
            .await
            .unwrap_or_else(|e| Err(format!("{shown}: the read stopped: {e}")))
    }

    fn read_history_now(path: &Path) -> Result<History, String> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(History { version: 1, snapshots: Vec::new() })
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let h: History =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: not a capacity history: {e}", path.display()))?;
        if h.version != 1 {
            return Err(format!("{}: history version {} (this version reads 1)", path.display(), h.version));
        }
        Ok(h)
    }

    /// Writes to `.NAME.tmp-PID-NANOS` beside `path` (mode 0600), fsyncs,
    /// renames over `path`, then fsyncs the directory, on a blocking thread.
    async fn write_history(path: PathBuf, h: History) -> std::io::Result<()> {
        tokio::task::spawn_blocking(move || write_history_now(&path, &h))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    fn write_history_now(path: &Path, h: &History) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(h).map_err(std::io::Error::other)?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "history".into());
        let tmp = dir.join(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            Timestamp::now().subsec_nanosecond().unsigned_abs()
        ));
        let written = (|| {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
            return written;
        }
        #[cfg(unix)]
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// runbook
// ---------------------------------------------------------------------------

/// A runbook for this cluster (`runbook`): a Markdown document
/// (`runbook.md`, an [`Artifact`]) with the server version, the node
/// groups (from the `eks.amazonaws.com/nodegroup`, eksctl and Karpenter
/// labels, as [`object_status::node_group`]) with their node counts and
/// instance types, every namespace with its workloads, and the ops
/// procedures filled in with this cluster's names: draining a node of each
/// group, scaling a group, an etcd snapshot (with the endpoints and
/// certificates of the etcd static pod in kube-system when there is one),
/// export and restore, the upgrade to the next minor, and where to look
/// when a pod fails.
///
/// - **Pass**: the runbook was written from everything it reads.
/// - **Warn**: a part could not be read (forbidden, or not served); the
///   runbook is written without it and says so.
///
/// Only a server that does not answer `/version` is an error.
///
/// # RBAC
/// `list` on nodes, namespaces, deployments, statefulsets, daemonsets,
/// cronjobs and pods (all namespaces).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// use k8sops::checklist::{monthly::RunbookCheck, Checklist};
/// let check = RunbookCheck { cluster_name: Some("prod".into()) };
/// let report = Checklist::new("docs").with(check).run(&server.cluster()).await;
/// let runbook = &report.result("runbook").unwrap().artifacts[0];
/// assert_eq!(runbook.name, "runbook.md");
/// assert!(runbook.content.contains("# Runbook: prod"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct RunbookCheck {
    /// The cluster's name, for the title and the EKS commands (default:
    /// the API server's URL in the title, `CLUSTER` in the commands).
    pub cluster_name: Option<String>,
}

impl Check for RunbookCheck {
    fn id(&self) -> &str {
        "runbook"
    }
    fn title(&self) -> &str {
        "Runbook for this cluster"
    }
    fn run<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, crate::Result<CheckOutput>> {
        Box::pin(runbook(self, cluster))
    }
}

/// A node group as the runbook shows it.
#[derive(Default)]
struct RunbookGroup {
    nodes: usize,
    instance_types: std::collections::BTreeSet<String>,
    example: String,
}

/// Workloads of one namespace: deployments, statefulsets, daemonsets, cronjobs, pods.
type WorkloadCounts = [usize; 5];

const WORKLOAD_KINDS: [&str; 5] = ["deployments", "statefulsets", "daemonsets", "cronjobs", "pods"];

/// Namespaces listed in the runbook's table; more are counted.
const MAX_NAMESPACE_ROWS: usize = 300;

/// Counts objects per namespace into `counts[slot]`; `Err` is the part's
/// reason for the runbook.
async fn count_per_namespace<K>(
    cluster: &Cluster,
    counts: &mut BTreeMap<String, WorkloadCounts>,
    slot: usize,
) -> Result<(), k8sops_core::Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug + kube::Resource + Send + 'static,
    K::DynamicType: Default,
{
    let api: kube::Api<K> = kube::Api::all(cluster.client().clone());
    paging::for_each(cluster, &api, ListParams::default(), |obj: K| {
        let ns = obj.meta().namespace.clone().unwrap_or_default();
        counts.entry(ns).or_default()[slot] += 1;
        Ok::<_, k8sops_core::Error>(())
    })
    .await
}

/// A flag of the etcd pod's command line, kept only when it is a plain
/// path, URL or list of URLs: the runbook pastes it into shell commands.
fn flag(pod: &Pod, name: &str) -> Option<String> {
    flag_value(pod, name)
        .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "/._:,-@+=[]%".contains(c)))
}

/// `--flag=value` of a container's command and args.
fn flag_value(pod: &Pod, name: &str) -> Option<String> {
    let prefix = format!("--{name}=");
    let spec = pod.spec.as_ref()?;
    spec.containers.iter().find_map(|c| {
        c.command
            .iter()
            .flatten()
            .chain(c.args.iter().flatten())
            .find_map(|a| a.strip_prefix(&prefix).map(str::to_string))
    })
}

async fn runbook(check: &RunbookCheck, cluster: &Cluster) -> crate::Result<CheckOutput> {
    let version = cluster.server_version().await?;
    let mut unread: Vec<(String, String)> = Vec::new();
    let part_error = |what: &str, e: &k8sops_core::Error| {
        let why = if e.is_permission_denied() { "forbidden" } else { "could not be read" };
        (what.to_string(), format!("{why}: {e}"))
    };

    // Node groups.
    let mut groups: BTreeMap<String, RunbookGroup> = BTreeMap::new();
    let nodes: kube::Api<Node> = cluster.api_all();
    let listed = paging::for_each(cluster, &nodes, ListParams::default(), |n: Node| {
        let name = n.metadata.name.clone().unwrap_or_default();
        let group = object_status::node_group(&n).unwrap_or_else(|| "<none>".into());
        let labels = n.metadata.labels.as_ref();
        let instance = labels
            .and_then(|l| {
                l.get("node.kubernetes.io/instance-type").or_else(|| l.get("beta.kubernetes.io/instance-type"))
            })
            .cloned();
        let g = groups.entry(group).or_default();
        g.nodes += 1;
        g.instance_types.extend(instance);
        if g.example.is_empty() || name < g.example {
            g.example = name;
        }
        Ok::<_, k8sops_core::Error>(())
    })
    .await;
    if let Err(e) = listed {
        unread.push(part_error("nodes", &e));
    }

    // Namespaces and their workloads.
    let mut counts: BTreeMap<String, WorkloadCounts> = BTreeMap::new();
    let namespaces: kube::Api<Namespace> = cluster.api_all();
    let listed = paging::for_each(cluster, &namespaces, ListParams::default(), |n: Namespace| {
        counts.entry(n.metadata.name.unwrap_or_default()).or_default();
        Ok::<_, k8sops_core::Error>(())
    })
    .await;
    if let Err(e) = listed {
        unread.push(part_error("namespaces", &e));
    }
    let results = [
        count_per_namespace::<Deployment>(cluster, &mut counts, 0).await,
        count_per_namespace::<StatefulSet>(cluster, &mut counts, 1).await,
        count_per_namespace::<DaemonSet>(cluster, &mut counts, 2).await,
        count_per_namespace::<CronJob>(cluster, &mut counts, 3).await,
        count_per_namespace::<Pod>(cluster, &mut counts, 4).await,
    ];
    for (kind, r) in WORKLOAD_KINDS.iter().zip(results) {
        if let Err(e) = r {
            unread.push(part_error(kind, &e));
        }
    }

    // etcd as kubeadm runs it: a static pod in kube-system.
    let system: kube::Api<Pod> = cluster.api_namespaced("kube-system");
    let etcd = match system.list(&ListParams::default().labels("component=etcd")).await {
        Ok(list) => list.items,
        Err(e) => {
            unread.push(part_error("etcd pods in kube-system", &cluster.map_err(e, "pods in kube-system")));
            Vec::new()
        }
    };

    let title = check.cluster_name.clone().unwrap_or_else(|| cluster.url().to_string());
    let eks_name = check.cluster_name.clone().unwrap_or_else(|| "CLUSTER".into());
    let next = version.next_minor();
    let now = k8s_openapi::jiff::Timestamp::now();
    let mut md = String::new();
    // Writing to a String cannot fail.
    // Cluster text goes through md_line / md_cell / code_span: the runbook is
    // also pasted as is into the checklist's Markdown report.
    let _ = writeln!(md, "# Runbook: {}\n", md_line(&title));
    let _ = writeln!(
        md,
        "Generated {now} by k8sops from the cluster itself: re-run the monthly checklist to refresh it.\n"
    );
    let _ = writeln!(md, "## Cluster\n");
    let _ = writeln!(md, "- API server: {}", cluster.url());
    let _ = writeln!(md, "- Kubernetes version: {}", md_line(&version.to_string()));
    let total_nodes: usize = groups.values().map(|g| g.nodes).sum();
    let _ = writeln!(md, "- Nodes: {total_nodes} in {} group(s)", groups.len());
    let _ = writeln!(md, "- Namespaces: {}", counts.len());
    for (what, why) in &unread {
        let _ = writeln!(md, "- Not in this runbook: {} ({})", md_line(what), md_line(why));
    }

    let _ = writeln!(md, "\n## Node groups\n");
    if groups.is_empty() {
        let _ = writeln!(md, "No nodes could be read.");
    } else {
        let _ = writeln!(md, "| group | nodes | instance types | example node |\n|---|---|---|---|");
        for (name, g) in &groups {
            let types: Vec<&str> = g.instance_types.iter().map(String::as_str).collect();
            let types = if types.is_empty() { "-".to_string() } else { types.join(", ") };
            let _ = writeln!(md, "| {} | {} | {} | {} |", md_cell(name), g.nodes, md_cell(&types), md_cell(&g.example));
        }
    }

    let _ = writeln!(md, "\n## Namespaces and workloads\n");
    let _ = writeln!(
        md,
        "| namespace | deployments | statefulsets | daemonsets | cronjobs | pods |\n|---|---|---|---|---|---|"
    );
    for (ns, c) in counts.iter().take(MAX_NAMESPACE_ROWS) {
        let _ = writeln!(md, "| {} | {} | {} | {} | {} | {} |", md_cell(ns), c[0], c[1], c[2], c[3], c[4]);
    }
    if counts.len() > MAX_NAMESPACE_ROWS {
        let _ = writeln!(md, "\n… and {} more namespaces (`kubectl get ns`).", counts.len() - MAX_NAMESPACE_ROWS);
    }

    let _ = writeln!(md, "\n## Procedures\n");
    let _ = writeln!(md, "### Drain a node\n");
    if groups.is_empty() {
        let _ = writeln!(md, "```sh\nkubectl drain NODE --ignore-daemonsets --delete-emptydir-data\n```\n");
    }
    for (name, g) in &groups {
        let node = &g.example;
        let _ = writeln!(md, "Node group **{}** (e.g. {}):\n", md_line(name), code_span(node));
        let _ = writeln!(
            md,
            "```sh\ncargo run --example drain_node -- {node} --ignore-daemonsets --delete-emptydir-data --dry-run=server\ncargo run --example drain_node -- {node} --ignore-daemonsets --delete-emptydir-data\n# or: kubectl drain {node} --ignore-daemonsets --delete-emptydir-data\nkubectl uncordon {node}   # when it should take pods again\n```\n"
        );
    }
    let _ = writeln!(md, "### Scale a node group\n");
    let _ = writeln!(md, "```sh");
    for name in groups.keys().filter(|n| n.as_str() != "<none>") {
        let _ = writeln!(
            md,
            "cargo run --example scale_nodegroup --features aws -- eks {eks_name} {name} --desired N --dry-run"
        );
        let _ = writeln!(
            md,
            "aws eks update-nodegroup-config --cluster-name {eks_name} --nodegroup-name {name} --scaling-config desiredSize=N"
        );
    }
    if groups.keys().all(|n| n == "<none>") {
        let _ = writeln!(md, "# no node group labels: scale the Auto Scaling group or machine set that owns the nodes");
        let _ = writeln!(md, "cargo run --example scale_nodegroup --features aws -- asg ASG_NAME --desired N");
    }
    let _ = writeln!(md, "```\n");
    let _ = writeln!(md, "Before scaling in, drain the nodes to remove (`cargo run --example safe_scale_in`).\n");

    let _ = writeln!(md, "### etcd snapshot\n");
    if etcd.is_empty() {
        let _ = writeln!(
            md,
            "No etcd static pod in kube-system: the control plane is managed (EKS and others back etcd up themselves) or runs elsewhere. Export the resources instead (below).\n"
        );
    }
    for pod in &etcd {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let endpoints = flag(pod, "advertise-client-urls")
            .or_else(|| flag(pod, "listen-client-urls"))
            .unwrap_or_else(|| "https://127.0.0.1:2379".into());
        let endpoint = endpoints.split(',').next().unwrap_or_default().to_string();
        let ca = flag(pod, "trusted-ca-file").unwrap_or_else(|| "/etc/kubernetes/pki/etcd/ca.crt".into());
        let cert = flag(pod, "cert-file").unwrap_or_else(|| "/etc/kubernetes/pki/etcd/server.crt".into());
        let key = flag(pod, "key-file").unwrap_or_else(|| "/etc/kubernetes/pki/etcd/server.key".into());
        let _ = writeln!(md, "etcd pod {}, client endpoints {}:\n", code_span(&name), code_span(&endpoints));
        let _ = writeln!(
            md,
            "```sh\ncargo run --example etcd_snapshot --features etcd -- save backup.db --endpoints {endpoint} --cacert {ca} --cert {cert} --key {key}\ncargo run --example etcd_snapshot --features etcd -- status backup.db -w table\n# or: ETCDCTL_API=3 etcdctl snapshot save backup.db --endpoints {endpoint} --cacert {ca} --cert {cert} --key {key}\n```\n"
        );
    }

    let _ = writeln!(md, "### Export and restore\n");
    let app_ns = counts
        .iter()
        .filter(|(ns, _)| !ns.starts_with("kube-") && ns.as_str() != "default")
        .max_by_key(|(_, c)| c[0] + c[1] + c[2] + c[3])
        .map_or("NAMESPACE", |(ns, _)| ns.as_str());
    let _ = writeln!(
        md,
        "```sh\ncargo run --example export_resources -- --output ./backup-$(date +%F)\ncargo run --example export_resources -- --output ./{app_ns} --include-namespaces {app_ns}\ncargo run --example restore_resources -- --from ./backup-$(date +%F) --dry-run=server\ncargo run --example restore_resources -- --from ./{app_ns} --namespace-mapping {app_ns}:{app_ns}-restored\n```\n"
    );
    let _ = writeln!(md, "The monthly `dr-drill` check rehearses this on one namespace.\n");

    let _ = writeln!(md, "### Upgrade to {}\n", next.minor_string());
    let _ = writeln!(
        md,
        "```sh\ncargo run --example find_removed_apis -- --target-version {0}\ncargo run --example upgrade_plan -- --target-version {0}\n```\n",
        next.minor_string()
    );
    let _ = writeln!(md, "The monthly `preflight` check runs the upgrade preflight to {}.\n", next.minor_string());

    let _ = writeln!(md, "### When a pod fails\n");
    let _ = writeln!(
        md,
        "```sh\ncargo run --example diagnose_pods -- -n {app_ns}\ncargo run --example events -- -n {app_ns} --warnings --since-minutes 30\ncargo run --example logs -- {app_ns} POD --previous --tail 100\n# or: kubectl describe pod -n {app_ns} POD; kubectl logs -n {app_ns} POD --previous; kubectl get events -n {app_ns} --sort-by=.lastTimestamp\n```"
    );

    let mut findings = Vec::new();
    let summary = format!(
        "runbook written: Kubernetes {version}, {} node group(s), {} namespace(s), {} etcd pod(s)",
        groups.len(),
        counts.len(),
        etcd.len()
    );
    if unread.is_empty() {
        findings.push(Finding::pass("", summary).evidence(format!("{} bytes of Markdown", md.len())));
    } else {
        findings.push(Finding::pass("", summary));
        for (what, why) in &unread {
            findings.push(Finding::warn("", format!("runbook without {what}: {why}")).action(format!(
                "run the checklist as a user allowed to list {what} (kubectl auth can-i list {what} -A)"
            )));
        }
    }
    Ok(CheckOutput { findings, charts: Vec::new(), artifacts: vec![Artifact::markdown("runbook.md", md)] })
}

/// The restore-comparison rules, checked without a server.
#[cfg(all(test, feature = "backup"))]
mod tests {
    use kube::api::DynamicObject;
    use serde_json::{json, Value};

    use super::drill::{comparable, created_for_real, diff, parse_backup_yaml, strip_node_ports};

    fn obj(v: Value) -> DynamicObject {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_service_differs_only_in_what_the_server_allocates() {
        let a = obj(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"clusterIP": "10.0.0.5", "clusterIPs": ["10.0.0.5"], "ports": [{"port": 80, "nodePort": 30001}]}}));
        let b = obj(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "scratch"},
            "spec": {"clusterIP": "10.0.0.9", "clusterIPs": ["10.0.0.9"], "ports": [{"port": 80, "nodePort": 30002}]}}));
        let mut out = Vec::new();
        diff(
            "",
            &comparable(&a, "", "Service", "scratch", "shop"),
            &comparable(&b, "", "Service", "scratch", "shop"),
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn a_changed_field_and_a_namespace_reference_are_told_apart() {
        let a = obj(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "rb", "namespace": "shop", "labels": {"team": "a"}},
            "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": "shop"}], "roleRef": {"name": "r"}}));
        let b = obj(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "rb", "namespace": "scratch", "labels": {"team": "b"}},
            "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": "scratch"}], "roleRef": {"name": "r"}}));
        let g = "rbac.authorization.k8s.io";
        let mut out = Vec::new();
        diff(
            "",
            &comparable(&a, g, "RoleBinding", "scratch", "shop"),
            &comparable(&b, g, "RoleBinding", "scratch", "shop"),
            &mut out,
        );
        assert_eq!(out, [r#"labels.team: backed up "a", restored "b""#]);
    }

    #[test]
    fn an_export_file_reads_back_as_the_object_it_holds() {
        let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels:\n    team: shop\n  name: settings\n  namespace: shop\ndata:\n  MODE: production\n  WORKERS: \"4\"\n  on: \"yes\"\n  script: |-\n    echo a\n\n    echo b\nitems:\n- a\n- port: 80\n  name: http\n";
        let v = parse_backup_yaml(yaml).expect("a YAML object");
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"labels": {"team": "shop"}, "name": "settings", "namespace": "shop"},
                "data": {"MODE": "production", "WORKERS": "4", "on": "yes", "script": "echo a\n\necho b"},
                "items": ["a", {"port": 80, "name": "http"}]})
        );
        assert_eq!(parse_backup_yaml("- a list\n"), None);
    }

    #[test]
    fn only_kinds_that_act_inside_their_namespace_are_created() {
        let e = |api_version: &str, resource: &str| crate::backup::layout::ManifestEntry {
            path: String::new(),
            api_version: api_version.into(),
            kind: String::new(),
            resource: resource.into(),
            namespace: Some("shop".into()),
            name: "x".into(),
            size: 0,
            sha256: String::new(),
        };
        for (v, r) in [("v1", "configmaps"), ("apps/v1", "deployments"), ("autoscaling/v2", "horizontalpodautoscalers")]
        {
            assert!(created_for_real(&e(v, r), false), "{r}");
        }
        for (v, r) in [
            ("v1", "services"),
            ("v1", "persistentvolumeclaims"),
            ("networking.k8s.io/v1", "ingresses"),
            ("cert-manager.io/v1", "certificates"),
            ("example.com/v1", "deployments"),
            ("v1", "pods"),
        ] {
            assert!(!created_for_real(&e(v, r), true), "{v} {r}");
        }
        assert!(!created_for_real(&e("v1", "secrets"), false));
        assert!(created_for_real(&e("v1", "secrets"), true));
    }

    #[test]
    fn node_ports_are_dropped_for_the_dry_run() {
        let mut s = json!({"spec": {"type": "LoadBalancer", "healthCheckNodePort": 32000,
            "ports": [{"port": 80, "nodePort": 30080}, {"port": 443}]}});
        strip_node_ports(&mut s);
        assert_eq!(s, json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}}));
    }
}
