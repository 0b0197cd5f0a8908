//! Cleanup (`kubectl delete pods --field-selector=status.phase=Succeeded|Failed -A`)
//! with namespace, selector and age filters, plus finished Jobs past a TTL;
//! dry-run reports what would go.

use std::{fmt, time::Duration};

use k8s_openapi::{
    api::{batch::v1::Job, core::v1::Pod},
    jiff::Timestamp,
};
use k8sops_core::{paging, Cluster, FieldSelector, LabelSelector, Table};
use kube::{
    api::{DeleteParams, ListParams, PropagationPolicy},
    Api,
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

/// What [`cleanup`] deleted (or would delete).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let params = k8sops_metrics::CleanupParams { dry_run: true, ..Default::default() };
/// let report = k8sops_metrics::cleanup(&cluster, &params).await?;
/// assert!(report.dry_run && !report.pods.is_empty());
/// print!("{report}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    /// Pods, `namespace/name (phase)`.
    pub pods: Vec<String>,
    /// Jobs, `namespace/name`.
    pub jobs: Vec<String>,
    /// Whether nothing was actually deleted.
    pub dry_run: bool,
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
        write!(f, "{t}")
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

/// Deletes finished pods (and optionally finished Jobs) matching the filters.
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
    let now = Timestamp::now();
    let mut lp = ListParams::default();
    if let Some(s) = &params.selector {
        lp = lp.labels(&s.to_string());
    }
    let pods: Api<Pod> = cluster.api_in(params.namespace.as_deref());
    let mut phases = Vec::new();
    if params.succeeded_pods {
        phases.push("Succeeded");
    }
    if params.failed_pods {
        phases.push("Failed");
    }
    let mut report = CleanupReport { pods: Vec::new(), jobs: Vec::new(), dry_run: params.dry_run };
    let dp = DeleteParams { dry_run: params.dry_run, ..Default::default() };
    for phase in phases {
        let fields = FieldSelector::new().eq("status.phase", phase);
        for p in paging::list_all(cluster, &pods, lp.clone().fields(&fields.to_string())).await? {
            if !older(p.metadata.creation_timestamp.as_ref(), params.older_than, now) {
                continue;
            }
            let ns = p.metadata.namespace.clone().unwrap_or_default();
            let name = p.metadata.name.clone().unwrap_or_default();
            let api: Api<Pod> = cluster.api_namespaced(&ns);
            match api.delete(&name, &dp).await {
                Ok(_) => report.pods.push(format!("{ns}/{name} ({phase})")),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(cluster.map_err(e, &format!("pod {ns}/{name}")).into()),
            }
        }
    }
    if let Some(ttl) = params.finished_jobs_older_than {
        let jobs: Api<Job> = cluster.api_in(params.namespace.as_deref());
        let dp = DeleteParams {
            dry_run: params.dry_run,
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        for j in paging::list_all(cluster, &jobs, lp.clone()).await? {
            let status = j.status.as_ref();
            let finished = status.and_then(|s| s.conditions.as_ref()).is_some_and(|c| {
                c.iter().any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
            });
            let done_at = status.and_then(|s| s.completion_time.as_ref()).or(j.metadata.creation_timestamp.as_ref());
            if !finished || !older(done_at, Some(ttl), now) {
                continue;
            }
            let ns = j.metadata.namespace.clone().unwrap_or_default();
            let name = j.metadata.name.clone().unwrap_or_default();
            let api: Api<Job> = cluster.api_namespaced(&ns);
            match api.delete(&name, &dp).await {
                Ok(_) => report.jobs.push(format!("{ns}/{name}")),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(cluster.map_err(e, &format!("job {ns}/{name}")).into()),
            }
        }
    }
    report.pods.sort();
    report.jobs.sort();
    Ok(report)
}
