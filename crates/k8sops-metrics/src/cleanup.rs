//! Cleanup (`kubectl delete pods --field-selector=status.phase=Succeeded|Failed -A`)
//! with namespace, selector and age filters, plus finished Jobs past a TTL;
//! dry-run reports what would go.
//!
//! Every delete carries the UID and resourceVersion of the object as it was
//! listed (`DeleteOptions.preconditions`), so an object that was deleted and
//! recreated under the same name in the meantime (a StatefulSet pod, a Job
//! re-applied from CI), or changed since it was listed, is never deleted: the
//! server answers 409 and the report lists it as skipped.

use std::{fmt, time::Duration};

use k8s_openapi::{
    api::{batch::v1::Job, core::v1::Pod},
    jiff::Timestamp,
};
use k8sops_core::{paging, Cluster, FieldSelector, LabelSelector, Table};
use kube::{
    api::{DeleteParams, ListParams, Preconditions, PropagationPolicy},
    Api, Resource,
};
use serde::Serialize;

use crate::Result;

/// Options for [`cleanup`].
///
/// ```
/// use std::time::Duration;
/// // kubectl delete pods --field-selector=status.phase=Failed -n batch --dry-run, older than a day.
/// let params = k8sops_metrics::CleanupParams {
///     namespace: Some("batch".into()),
///     succeeded_pods: false,
///     older_than: Some(Duration::from_secs(86_400)),
///     dry_run: true,
///     ..Default::default()
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupParams {
    /// One namespace, or all.
    pub namespace: Option<String>,
    /// Only objects matching these labels.
    pub selector: Option<LabelSelector>,
    /// Delete Succeeded pods (default true).
    pub succeeded_pods: bool,
    /// Delete Failed pods (default true).
    pub failed_pods: bool,
    /// Only pods created longer ago than this.
    pub older_than: Option<Duration>,
    /// Also delete finished Jobs (Complete or Failed) older than this (with their pods).
    pub finished_jobs_older_than: Option<Duration>,
    /// Report only.
    pub dry_run: bool,
}

impl Default for CleanupParams {
    fn default() -> Self {
        CleanupParams {
            namespace: None,
            selector: None,
            succeeded_pods: true,
            failed_pods: true,
            older_than: None,
            finished_jobs_older_than: None,
            dry_run: false,
        }
    }
}

/// What [`cleanup`] deleted (or would delete), and what it left alone
/// because it was replaced or changed after it was listed.
///
/// A dry-run report is also the plan for a real run:
/// [`CleanupReport::delete_listed`] deletes exactly the objects it lists,
/// each only while it is still the object that was listed.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let params = k8sops_metrics::CleanupParams { dry_run: true, ..Default::default() };
/// let report = k8sops_metrics::cleanup(&cluster, &params).await?;
/// assert!(report.dry_run && !report.pods.is_empty() && report.skipped.is_empty());
/// print!("{report}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    /// Pods, `namespace/name (phase)`.
    pub pods: Vec<String>,
    /// Jobs, `namespace/name`.
    pub jobs: Vec<String>,
    /// Objects left alone because they were deleted and recreated under the
    /// same name, or changed, after they were listed (the server refused the
    /// delete's UID or resourceVersion precondition with 409):
    /// `pod namespace/name: replaced since it was listed`.
    pub skipped: Vec<String>,
    /// Whether nothing was actually deleted.
    pub dry_run: bool,
    /// The objects as listed (UID and resourceVersion), for
    /// [`CleanupReport::delete_listed`].
    #[serde(skip)]
    listed: Vec<Listed>,
}

/// One object as it was listed: what its delete's preconditions say.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    kind: Kind,
    namespace: String,
    name: String,
    uid: Option<String>,
    resource_version: Option<String>,
    /// What the report shows: `namespace/name (phase)` or `namespace/name`.
    shown: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pod,
    Job,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Pod => "pod",
            Kind::Job => "job",
        }
    }
}

/// What happened to one delete.
enum Outcome {
    Deleted,
    /// Already gone: nothing to do, nothing to report.
    Gone,
    Skipped(&'static str),
}

impl fmt::Display for CleanupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run { "would delete" } else { "deleted" };
        let mut t = Table::new(["kind", "object", "action"]);
        for p in &self.pods {
            t.row(["pod", p.as_str(), verb]);
        }
        for j in &self.jobs {
            t.row(["job", j.as_str(), verb]);
        }
        for s in &self.skipped {
            let (kind, rest) = s.split_once(' ').unwrap_or(("", s.as_str()));
            let (object, why) = rest.split_once(": ").unwrap_or((rest, ""));
            t.row([kind, object, &format!("skipped: {why}")]);
        }
        write!(f, "{t}")
    }
}

impl CleanupReport {
    /// Deletes, for real, exactly the objects this (dry-run) report lists —
    /// each only if it still has the UID and resourceVersion it had when it
    /// was listed. Objects replaced or changed since are left alone and
    /// reported in [`skipped`](Self::skipped); objects already gone are
    /// left out. Lets a caller show the dry run, ask, then delete what was
    /// shown and nothing else.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let cluster = server.cluster();
    /// let plan = k8sops_metrics::cleanup(&cluster, &k8sops_metrics::CleanupParams { dry_run: true, ..Default::default() }).await?;
    /// print!("{plan}");
    /// let done = plan.delete_listed(&cluster).await?;
    /// assert!(!done.dry_run && done.pods == plan.pods);
    /// # Ok(()) }
    /// ```
    pub async fn delete_listed(&self, cluster: &Cluster) -> Result<CleanupReport> {
        apply(cluster, self.listed.clone(), false).await
    }
}

fn older(
    ts: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    min: Option<Duration>,
    now: Timestamp,
) -> bool {
    match (min, ts) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(d), Some(t)) => now.as_second() - t.0.as_second() >= d.as_secs() as i64,
    }
}

fn listed<K: Resource>(kind: Kind, obj: &K, shown: impl FnOnce(&str) -> String) -> Listed {
    let meta = obj.meta();
    let namespace = meta.namespace.clone().unwrap_or_default();
    let name = meta.name.clone().unwrap_or_default();
    Listed {
        kind,
        shown: shown(&format!("{namespace}/{name}")),
        namespace,
        name,
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
    }
}

/// Deletes finished pods (and optionally finished Jobs) matching the filters.
///
/// Each delete carries the listed object's UID and resourceVersion as
/// preconditions: a pod or Job recreated under the same name (or changed)
/// between the list and its delete is left alone and reported in
/// [`CleanupReport::skipped`], not deleted and not an error.
///
/// ```
/// use k8sops_metrics::{cleanup, CleanupParams};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = cleanup(&server.cluster(), &CleanupParams { dry_run: true, ..Default::default() }).await?;
/// assert_eq!(report.pods.len(), 3); // two Succeeded, one Failed job pod
/// # Ok(()) }
/// ```
pub async fn cleanup(cluster: &Cluster, params: &CleanupParams) -> Result<CleanupReport> {
    let planned = plan(cluster, params).await?;
    apply(cluster, planned, params.dry_run).await
}

/// Lists what [`cleanup`] deletes, pods first, then Jobs.
async fn plan(cluster: &Cluster, params: &CleanupParams) -> Result<Vec<Listed>> {
    let now = Timestamp::now();
    let mut lp = ListParams::default();
    if let Some(s) = &params.selector {
        lp = lp.labels(&s.to_string());
    }
    let mut out = Vec::new();
    let pods: Api<Pod> = cluster.api_in(params.namespace.as_deref());
    let phases = [("Succeeded", params.succeeded_pods), ("Failed", params.failed_pods)];
    for (phase, _) in phases.iter().filter(|(_, on)| *on) {
        let fields = FieldSelector::new().eq("status.phase", *phase);
        for p in paging::list_all(cluster, &pods, lp.clone().fields(&fields.to_string())).await? {
            if older(p.metadata.creation_timestamp.as_ref(), params.older_than, now) {
                out.push(listed(Kind::Pod, &p, |n| format!("{n} ({phase})")));
            }
        }
    }
    if let Some(ttl) = params.finished_jobs_older_than {
        let jobs: Api<Job> = cluster.api_in(params.namespace.as_deref());
        for j in paging::list_all(cluster, &jobs, lp.clone()).await? {
            let status = j.status.as_ref();
            let finished = status.and_then(|s| s.conditions.as_ref()).is_some_and(|c| {
                c.iter().any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
            });
            let done_at = status.and_then(|s| s.completion_time.as_ref()).or(j.metadata.creation_timestamp.as_ref());
            if finished && older(done_at, Some(ttl), now) {
                out.push(listed(Kind::Job, &j, str::to_string));
            }
        }
    }
    Ok(out)
}

/// Deletes (or, in a dry run, asks the server to validate deleting) each
/// listed object with its UID and resourceVersion as preconditions.
async fn apply(cluster: &Cluster, objects: Vec<Listed>, dry_run: bool) -> Result<CleanupReport> {
    let mut report =
        CleanupReport { pods: Vec::new(), jobs: Vec::new(), skipped: Vec::new(), dry_run, listed: Vec::new() };
    for o in objects {
        let outcome = match o.kind {
            Kind::Pod => delete_one::<Pod>(cluster, &o, dry_run).await?,
            Kind::Job => delete_one::<Job>(cluster, &o, dry_run).await?,
        };
        match outcome {
            Outcome::Deleted => {
                match o.kind {
                    Kind::Pod => report.pods.push(o.shown.clone()),
                    Kind::Job => report.jobs.push(o.shown.clone()),
                }
                report.listed.push(o);
            }
            Outcome::Gone => {}
            Outcome::Skipped(why) => {
                report.skipped.push(format!("{} {}/{}: {why}", o.kind.word(), o.namespace, o.name))
            }
        }
    }
    report.pods.sort();
    report.jobs.sort();
    report.skipped.sort();
    Ok(report)
}

async fn delete_one<K>(cluster: &Cluster, o: &Listed, dry_run: bool) -> Result<Outcome>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + fmt::Debug,
{
    let what = format!("{} {}/{}", o.kind.word(), o.namespace, o.name);
    let api: Api<K> = cluster.api_namespaced(&o.namespace);
    let dp = DeleteParams {
        dry_run,
        // A Job's pods go with it.
        propagation_policy: (o.kind == Kind::Job).then_some(PropagationPolicy::Background),
        preconditions: Some(Preconditions { uid: o.uid.clone(), resource_version: o.resource_version.clone() }),
        ..Default::default()
    };
    match api.delete(&o.name, &dp).await {
        Ok(_) => Ok(Outcome::Deleted),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Outcome::Gone),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            // A precondition failed: tell a recreated object from a changed one.
            match api.get_opt(&o.name).await {
                Ok(None) => Ok(Outcome::Gone),
                Ok(Some(now)) if now.meta().uid != o.uid => {
                    Ok(Outcome::Skipped("replaced since it was listed (new UID); not deleted"))
                }
                Ok(Some(_)) => Ok(Outcome::Skipped("changed since it was listed (new resourceVersion); not deleted")),
                Err(e) => Err(cluster.map_err(e, &what).into()),
            }
        }
        Err(e) => Err(cluster.map_err(e, &what).into()),
    }
}
