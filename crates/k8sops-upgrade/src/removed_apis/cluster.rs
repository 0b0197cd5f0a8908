//! The cluster scan: discovery of the resource types to list, paginated
//! listing of each (several at once), Helm release Secrets and `/metrics`.

use std::{future::Future, pin::Pin};

use futures::{stream, StreamExt};
use k8sops_core::{
    progress::{until_cancelled, CancellationToken},
    Cluster, NoProgress, ProgressSink,
};
use kube::api::ListParams;
use serde::{de::DeserializeOwned, Deserialize};

use super::{
    evidence::{check_slim, SlimObject},
    helm::{LatestRevisions, ReleaseSecret, RELEASE_SECRET_TYPE},
    metrics, Finding, Note, RemovedApiParams, RemovedApiReport, ScanEvent, ScannedResource,
};
use crate::{rules::MinorVersion, Result};

/// Kinds not listed even though rules name them: Events expire within an
/// hour and are numerous; clients still writing old Event versions show in
/// the metric.
const NOT_LISTED: &[(&str, &str)] = &[("events.k8s.io", "Event"), ("", "Event")];

/// Finds removed and deprecated APIs in a live cluster: the last-applied
/// annotations and managed fields of its objects, its Helm 3 releases and
/// the API server's metric (see the [module docs](super) for what is read
/// and how stale evidence is told apart). The same as
/// [`find_removed_apis_with_progress`] without progress events.
///
/// `Err` when the scan cannot run: the server does not answer `/version`
/// or discovery. A resource type that cannot be listed (403), Helm
/// Secrets that cannot be read, an undecodable release, and a `/metrics`
/// that answers 403 or 404 are [notes](super::Note) in the report.
///
/// # RBAC
/// `list` on each scanned resource type, `list` on secrets (Helm), `get`
/// on the non-resource URL `/metrics`.
///
/// # Cancel safety
/// The scan only reads. With [`RemovedApiParams::cancel`], no request is
/// sent once the token fires and requests in flight are dropped; the report
/// is marked [`cancelled`](RemovedApiReport::cancelled) and holds the
/// findings of the pages read before. Dropping the future stops the scan
/// the same way, without a report.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use k8sops_upgrade::removed_apis::{find_removed_apis, RemovedApiParams, Source};
/// use k8sops_upgrade::rules::MinorVersion;
/// let server = k8sops_testkit::TestServer::builder().server_version("v1.24.3").start().await?;
/// let applied = serde_json::json!({"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "default"}});
/// server.insert(&serde_json::json!({
///     "apiVersion": "batch/v1", "kind": "CronJob",
///     "metadata": {"name": "nightly", "namespace": "default",
///         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied.to_string()}},
///     "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}}))?;
/// let params = RemovedApiParams::default().target(MinorVersion::new(1, 25));
/// let report = find_removed_apis(&server.cluster(), &params).await?;
/// assert_eq!(report.findings.len(), 1);
/// assert_eq!(report.findings[0].source, Source::Annotation);
/// assert_eq!(report.findings[0].removed_in, Some(MinorVersion::new(1, 25)));
/// # Ok(()) }
/// ```
pub async fn find_removed_apis(cluster: &Cluster, params: &RemovedApiParams) -> Result<RemovedApiReport> {
    find_removed_apis_with_progress(cluster, params, &NoProgress).await
}

/// [`find_removed_apis`], reporting each page and each resource type done
/// as a [`ScanEvent`].
///
/// # Cancel safety
/// As for [`find_removed_apis`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use k8sops_core::Recorder;
/// use k8sops_upgrade::removed_apis::{find_removed_apis_with_progress, RemovedApiParams, ScanEvent};
/// let server = k8sops_testkit::TestServer::start().await?;
/// let events = Recorder::<ScanEvent>::default();
/// find_removed_apis_with_progress(&server.cluster(), &RemovedApiParams::default(), &events).await?;
/// assert!(events.events().iter().any(|e| matches!(e, ScanEvent::Scanned { what, .. } if what == "deployments.apps/v1")));
/// # Ok(()) }
/// ```
pub async fn find_removed_apis_with_progress(
    cluster: &Cluster,
    params: &RemovedApiParams,
    progress: &dyn ProgressSink<ScanEvent>,
) -> Result<RemovedApiReport> {
    let cancel = params.cancel.clone().unwrap_or_default();
    let version = until_cancelled(&cancel, "reading the server version", cluster.server_version()).await?;
    let target = params.target.unwrap_or_else(|| MinorVersion::from(&version));
    let mut report = RemovedApiReport::new(target);
    report.server_version = Some(version.as_str().to_string());

    let mut lists = Vec::new();
    if params.objects {
        let (found, notes) = until_cancelled(&cancel, "discovering resource types", discover(cluster, params)).await?;
        lists = found;
        report.notes.extend(notes);
    }
    let mut what: Vec<String> = lists.iter().map(|l| l.label.clone()).collect();
    if params.helm {
        what.push("helm releases".into());
    }
    if params.metrics {
        what.push("/metrics".into());
    }
    progress.emit(ScanEvent::Started { what });

    // The metric is read before anything is listed: listing a kind the
    // server serves only in a deprecated version (PodSecurityPolicy on
    // 1.21-1.24) is itself counted by it.
    let mut parts = Vec::new();
    if params.metrics {
        parts.push(scan_metrics(cluster, params, target, &cancel, progress).await);
    }
    let mut tasks: Vec<Pin<Box<dyn Future<Output = Part> + Send + '_>>> = Vec::new();
    if params.helm {
        tasks.push(Box::pin(scan_helm(cluster, params, target, &cancel, progress)));
    }
    for list in &lists {
        tasks.push(Box::pin(scan_resource(cluster, list, params, target, &cancel, progress)));
    }
    parts.extend(stream::iter(tasks).buffer_unordered(params.concurrency.max(1)).collect::<Vec<Part>>().await);
    for part in parts {
        report.findings.extend(part.findings);
        report.notes.extend(part.notes);
        report.scanned.extend(part.scanned);
        report.helm_releases += part.helm_releases;
        report.cancelled |= part.cancelled;
    }
    report.cancelled |= cancel.is_cancelled();
    report.finish();
    Ok(report)
}

/// What one task found.
#[derive(Default)]
struct Part {
    findings: Vec<Finding>,
    notes: Vec<Note>,
    scanned: Option<ScannedResource>,
    helm_releases: usize,
    cancelled: bool,
}

/// A resource type to list.
#[derive(Debug, Clone)]
struct ListTarget {
    /// `/apis/apps/v1/deployments`.
    path: String,
    /// `deployments.apps/v1`.
    label: String,
    kind: String,
}

#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
struct ListPage<T> {
    #[serde(default)]
    metadata: PageMeta,
    #[serde(default)]
    items: Option<Vec<T>>,
}

#[derive(Default, Deserialize)]
struct PageMeta {
    #[serde(default, rename = "continue")]
    continue_: Option<String>,
}

/// The resource types to list: where each rule's kind lives today, as far
/// as this server serves it with the `list` verb.
async fn discover(cluster: &Cluster, params: &RemovedApiParams) -> k8sops_core::Result<(Vec<ListTarget>, Vec<Note>)> {
    let client = cluster.client();
    let wanted: Vec<(String, String)> = params
        .rules
        .current_kinds()
        .into_iter()
        .filter(|(g, k)| !NOT_LISTED.contains(&(g.as_str(), k.as_str())))
        .collect();
    let groups = cluster
        .retry_policy()
        .run(|_| async { client.list_api_groups().await.map_err(|e| cluster.map_err(e, "/apis")) })
        .await?;
    let mut group_names: Vec<&str> = wanted.iter().map(|(g, _)| g.as_str()).collect();
    group_names.dedup();

    let per_group = group_names.into_iter().map(|group| {
        let kinds: Vec<&str> = wanted.iter().filter(|(g, _)| g == group).map(|(_, k)| k.as_str()).collect();
        let versions: Vec<String> = if group.is_empty() {
            vec!["v1".into()]
        } else {
            match groups.groups.iter().find(|g| g.name == group) {
                None => Vec::new(),
                Some(g) => {
                    let preferred = g.preferred_version.as_ref().map(|p| p.version.clone());
                    let mut vs: Vec<String> = preferred.iter().cloned().collect();
                    vs.extend(g.versions.iter().map(|v| v.version.clone()).filter(|v| Some(v) != preferred.as_ref()));
                    vs
                }
            }
        };
        async move { discover_group(cluster, group, versions, kinds).await }
    });
    let mut lists = Vec::new();
    let mut notes = Vec::new();
    for (found, note) in futures::future::join_all(per_group).await {
        lists.extend(found);
        notes.extend(note);
    }
    lists.sort_by(|a, b| a.label.cmp(&b.label));
    Ok((lists, notes))
}

/// Finds each kind in the group's versions, preferred version first.
async fn discover_group(
    cluster: &Cluster,
    group: &str,
    versions: Vec<String>,
    kinds: Vec<&str>,
) -> (Vec<ListTarget>, Option<Note>) {
    let client = cluster.client();
    let mut remaining = kinds;
    let mut out = Vec::new();
    for version in versions {
        if remaining.is_empty() {
            break;
        }
        let gv = if group.is_empty() { version.clone() } else { format!("{group}/{version}") };
        let what = format!("discovery of {gv}");
        let listed = cluster
            .retry_policy()
            .run(|_| async {
                let res = if group.is_empty() {
                    client.list_core_api_resources(&version).await
                } else {
                    client.list_api_group_resources(&gv).await
                };
                res.map_err(|e| cluster.map_err(e, &what))
            })
            .await;
        let resources = match listed {
            Ok(r) => r.resources,
            Err(e) => return (out, Some(Note { what: gv, reason: format!("discovery failed: {e}") })),
        };
        remaining.retain(|kind| {
            let found = resources
                .iter()
                .find(|r| r.kind == *kind && !r.name.contains('/') && r.verbs.iter().any(|v| v == "list"));
            match found {
                Some(r) => {
                    let path = if group.is_empty() {
                        format!("/api/{version}/{}", r.name)
                    } else {
                        format!("/apis/{gv}/{}", r.name)
                    };
                    let label = if group.is_empty() {
                        format!("{}/{version}", r.name)
                    } else {
                        format!("{}.{group}/{version}", r.name)
                    };
                    out.push(ListTarget { path, label, kind: kind.to_string() });
                    false
                }
                None => true,
            }
        });
    }
    (out, None)
}

/// One page of a list, retried per the cluster's policy.
async fn page<T: DeserializeOwned>(
    cluster: &Cluster,
    path: &str,
    params: ListParams,
    cancel: &CancellationToken,
    what: &str,
) -> k8sops_core::Result<ListPage<T>> {
    let req = kube::core::Request::new(path)
        .list(&params)
        .map_err(|e| k8sops_core::Error::InvalidInput { message: format!("{what}: {e}"), source: None })?;
    let client = cluster.client();
    until_cancelled(
        cancel,
        what,
        cluster.retry_policy().run(|_| {
            let req = req.clone();
            async move { client.request::<ListPage<T>>(req).await.map_err(|e| cluster.map_err(e, what)) }
        }),
    )
    .await
}

/// Lists one resource type page by page and checks every object.
async fn scan_resource(
    cluster: &Cluster,
    list: &ListTarget,
    params: &RemovedApiParams,
    target: MinorVersion,
    cancel: &CancellationToken,
    progress: &dyn ProgressSink<ScanEvent>,
) -> Part {
    let mut part = Part::default();
    let mut objects = 0usize;
    let mut token: Option<String> = None;
    let what = format!("list of {}", list.label);
    loop {
        let mut lp = ListParams::default().limit(params.page_size.max(1));
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        match page::<SlimObject>(cluster, &list.path, lp, cancel, &what).await {
            Ok(p) => {
                for item in p.items.unwrap_or_default() {
                    objects += 1;
                    part.findings.extend(check_slim(&item, &list.kind, params, target));
                }
                progress.emit(ScanEvent::Page { what: list.label.clone(), objects });
                token = p.metadata.continue_.filter(|c| !c.is_empty());
                if token.is_none() {
                    break;
                }
            }
            Err(k8sops_core::Error::Cancelled { .. }) => {
                part.cancelled = true;
                break;
            }
            Err(e) => {
                let reason =
                    if objects == 0 { e.to_string() } else { format!("listing stopped after {objects} objects: {e}") };
                let note = Note { what: list.label.clone(), reason };
                progress.emit(ScanEvent::Skipped(note.clone()));
                part.notes.push(note);
                break;
            }
        }
    }
    progress.emit(ScanEvent::Scanned { what: list.label.clone(), objects, findings: part.findings.len() });
    part.scanned = Some(ScannedResource { resource: list.label.clone(), objects });
    part
}

/// Lists Helm release Secrets, keeps the latest deployed revision of each
/// release, then decodes and checks those.
async fn scan_helm(
    cluster: &Cluster,
    params: &RemovedApiParams,
    target: MinorVersion,
    cancel: &CancellationToken,
    progress: &dyn ProgressSink<ScanEvent>,
) -> Part {
    let mut part = Part::default();
    let mut latest = LatestRevisions::default();
    let mut token: Option<String> = None;
    let mut secrets = 0usize;
    let what = "helm releases";
    loop {
        let mut lp = ListParams::default()
            .labels("owner=helm")
            .fields(&format!("type={RELEASE_SECRET_TYPE}"))
            .limit(params.helm_page_size.max(1));
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        match page::<ReleaseSecret>(cluster, "/api/v1/secrets", lp, cancel, "list of Helm release secrets").await {
            Ok(p) => {
                for s in p.items.unwrap_or_default() {
                    secrets += 1;
                    latest.offer(s);
                }
                progress.emit(ScanEvent::Page { what: what.into(), objects: secrets });
                token = p.metadata.continue_.filter(|c| !c.is_empty());
                if token.is_none() {
                    break;
                }
            }
            Err(k8sops_core::Error::Cancelled { .. }) => {
                part.cancelled = true;
                return part;
            }
            Err(e) => {
                let note = Note { what: "Helm release secrets".into(), reason: e.to_string() };
                progress.emit(ScanEvent::Skipped(note.clone()));
                part.notes.push(note);
                if secrets == 0 {
                    return part;
                }
                break;
            }
        }
    }
    part.helm_releases = latest.len();
    // Decoding and parsing manifests is CPU work: off the async threads.
    let params = params.clone();
    let checked = tokio::task::spawn_blocking(move || latest.check(&params, target)).await;
    match checked {
        Ok((findings, notes)) => {
            part.findings = findings;
            part.notes = notes;
        }
        Err(e) => part.notes.push(Note { what: "Helm releases".into(), reason: format!("checking failed: {e}") }),
    }
    progress.emit(ScanEvent::Scanned { what: what.into(), objects: part.helm_releases, findings: part.findings.len() });
    part
}

/// Reads `/metrics` and turns the deprecated-API series into findings.
async fn scan_metrics(
    cluster: &Cluster,
    params: &RemovedApiParams,
    target: MinorVersion,
    cancel: &CancellationToken,
    progress: &dyn ProgressSink<ScanEvent>,
) -> Part {
    let mut part = Part::default();
    let client = cluster.client();
    let fetched = until_cancelled(
        cancel,
        "reading /metrics",
        cluster.retry_policy().run(|_| async {
            let req = http::Request::get("/metrics")
                .body(Vec::new())
                .map_err(|e| k8sops_core::Error::InvalidInput { message: format!("/metrics: {e}"), source: None })?;
            client.request_text(req).await.map_err(|e| cluster.map_err(e, "/metrics"))
        }),
    )
    .await;
    let text = match fetched {
        Ok(t) => t,
        Err(k8sops_core::Error::Cancelled { .. }) => {
            part.cancelled = true;
            return part;
        }
        Err(e) => {
            let reason = match &e {
                k8sops_core::Error::Forbidden { .. } => format!("not readable (403): {e}"),
                k8sops_core::Error::NotFound { .. } => "not served by this API server (404)".to_string(),
                _ => e.to_string(),
            };
            let note = Note { what: "/metrics".into(), reason };
            progress.emit(ScanEvent::Skipped(note.clone()));
            part.notes.push(note);
            return part;
        }
    };
    let series = metrics::parse_deprecated_api_metrics(&text);
    part.findings = metrics::findings(&series, params, target);
    progress.emit(ScanEvent::Scanned { what: "/metrics".into(), objects: series.len(), findings: part.findings.len() });
    part
}
