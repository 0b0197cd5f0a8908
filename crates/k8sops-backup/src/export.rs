//! `kubectl get all,configmap,secret,pv,pvc -A -o yaml`, done right: every
//! resource type the server serves (built-in and custom) exported as clean
//! YAML, one object per file, into an object store or one `.tar.gz`, with a
//! manifest ([`layout`](crate::layout) describes the format).
//!
//! What is exported (the Velero options):
//! - resource types from discovery that support `list` and `create`, at the
//!   group's preferred version; [`include_resources`](ExportParams::include_resources)
//!   and [`exclude_resources`](ExportParams::exclude_resources) select them
//!   by plural, singular, kind or short name, optionally with `.group`
//!   (`deployments.apps`), or `*`;
//! - objects in the namespaces [`include_namespaces`](ExportParams::include_namespaces)
//!   and [`exclude_namespaces`](ExportParams::exclude_namespaces) select
//!   (`*` matches any run of characters), matching the
//!   [`selector`](ExportParams::selector);
//! - cluster-scoped objects when [`include_cluster_resources`](ExportParams::include_cluster_resources)
//!   says so; by default only when no namespace was named. Namespace objects
//!   follow the namespace filter instead, and the CustomResourceDefinitions
//!   of exported custom resources are exported with them even when other
//!   cluster-scoped objects are not, so a restore can serve them;
//! - Secrets only with [`include_secrets`](ExportParams::include_secrets).
//!
//! What is not exported unless [`include_managed`](ExportParams::include_managed)
//! asks for it, because the cluster recreates it and a restored copy would
//! fight the original or be deleted: objects with a controller owner (pods of
//! ReplicaSets, StatefulSets, DaemonSets and Jobs, ReplicaSets of
//! Deployments, Jobs of CronJobs, ControllerRevisions, EndpointSlices of
//! Services), Endpoints of Services with a selector, ServiceAccount token
//! Secrets, the API server's own APIServices, and the types events, nodes,
//! CSINodes and VolumeAttachments. Early Velero (Ark) skipped controller-owned
//! objects the same way; the report counts them per type.
//!
//! Objects are cleaned of server-managed fields (see the list in the
//! [`ExportParams::with_status`] docs and the crate's `layout` docs).
//!
//! The export lists [`concurrency`](ExportParams::concurrency) resource
//! types at once, each in pages of [`page_size`](ExportParams::page_size)
//! (the next page is fetched while this one is written), so memory holds a
//! few pages, the manifest entries (about 200 bytes per object) and, for an
//! archive, a bounded queue of files, whatever the cluster's size.

mod clean;
mod discover;
mod manifest;
mod sink;
mod yaml;

use std::{
    collections::{BTreeMap, HashSet},
    fmt,
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures::{stream, StreamExt, TryStreamExt};
use k8sops_core::{paging, CancellationToken, Cluster, Failure, LabelSelector, NoProgress, ProgressSink, Table};
use kube::{
    api::{DynamicObject, ListParams},
    Api,
};
use serde::Serialize;
use sha2::Digest;

pub(crate) use self::discover::{discover, ResourceType};
use self::{
    clean::{SelectorServices, NEVER_RESTORED},
    manifest::{TypeFiles, Written},
    sink::Sink,
};
use crate::{
    layout::{object_path, FailedResource, Location, Manifest, SourceCluster},
    Error, Result,
};

/// What to export. `Default` exports every namespace and, with them, the
/// cluster-scoped objects, without Secrets and without `status`.
///
/// ```
/// use k8sops_backup::export::ExportParams;
/// let p = ExportParams::default()
///     .include_namespaces(["shop", "team-*"])
///     .exclude_resources(["leases"])
///     .include_secrets(true);
/// assert_eq!(p.include_cluster_resources, None);
/// assert_eq!((p.concurrency, p.write_concurrency, p.page_size), (4, 16, 500));
/// ```
#[derive(Debug, Clone)]
pub struct ExportParams {
    /// Namespaces to export (`--include-namespaces`); empty means all.
    /// `*` matches any run of characters (`team-*`).
    pub include_namespaces: Vec<String>,
    /// Namespaces to leave out (`--exclude-namespaces`), same patterns.
    pub exclude_namespaces: Vec<String>,
    /// Resource types to export (`--include-resources`); empty means all.
    /// A type is named by its plural, singular, kind or short name, any
    /// case, optionally with `.group` (`deployments.apps`, `deploy`,
    /// `Ingress.networking.k8s.io`), or `*`.
    pub include_resources: Vec<String>,
    /// Resource types to leave out (`--exclude-resources`), same names.
    pub exclude_resources: Vec<String>,
    /// Only objects matching this label selector (`-l`).
    pub selector: Option<LabelSelector>,
    /// Cluster-scoped objects (`--include-cluster-resources`): `Some(true)`
    /// always, `Some(false)` never, `None` only when `include_namespaces`
    /// is empty. Namespace objects follow the namespace filter either way.
    /// With `None`, the CustomResourceDefinitions of exported custom
    /// resources are exported even when other cluster-scoped objects are
    /// not (unless excluded by name), so a restore can serve them.
    pub include_cluster_resources: Option<bool>,
    /// Export Secrets (`--include-secrets`). Off by default: a backup
    /// directory or archive then holds no credentials.
    pub include_secrets: bool,
    /// Keep each object's `status` (`--with-status`). It is only a record:
    /// a restore cannot set the status of types with a status subresource.
    /// Without it, as with it, the export drops `metadata.uid`,
    /// `resourceVersion`, `managedFields`, `creationTimestamp`, `generation`,
    /// `selfLink`, `ownerReferences` and deletion marks, a Service's
    /// allocated cluster IPs and unrequested node ports, a claim's
    /// `volumeName`, a Pod's `nodeName`, and a Job's generated selector.
    pub with_status: bool,
    /// Also export what the cluster recreates by itself (see the module
    /// docs): controller-owned objects, events, nodes, service Endpoints,
    /// token Secrets (the latter only with `include_secrets`).
    pub include_managed: bool,
    /// Resource types listed at once (default 4).
    pub concurrency: usize,
    /// Files written to the store at once, per resource type (default 16).
    /// Raise it for a store with a long round trip per object (S3: 64 or
    /// more); a local directory that fsyncs every file gains nothing from
    /// more (measured: 16, 64 and 256 took the same time for 50,000 files)
    /// and each write in flight there costs a blocking thread.
    pub write_concurrency: usize,
    /// Objects per list request (default 500, kubectl's `--chunk-size`).
    pub page_size: u32,
    /// Stops the export: no new page is requested and no manifest is
    /// written. See [`export`] for what is left behind.
    pub cancel: Option<CancellationToken>,
}

impl Default for ExportParams {
    fn default() -> Self {
        ExportParams {
            include_namespaces: Vec::new(),
            exclude_namespaces: Vec::new(),
            include_resources: Vec::new(),
            exclude_resources: Vec::new(),
            selector: None,
            include_cluster_resources: None,
            include_secrets: false,
            with_status: false,
            include_managed: false,
            concurrency: 4,
            write_concurrency: 16,
            page_size: paging::DEFAULT_PAGE_SIZE,
            cancel: None,
        }
    }
}

fn strings<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    items.into_iter().map(Into::into).collect()
}

macro_rules! list_setter {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[must_use]
        pub fn $name<I, S>(mut self, items: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.$name = strings(items);
            self
        }
    };
}

macro_rules! setter {
    ($(#[$m:meta])* $name:ident: $ty:ty) => {
        $(#[$m])*
        #[must_use]
        pub fn $name(mut self, v: $ty) -> Self {
            self.$name = v.into();
            self
        }
    };
}

impl ExportParams {
    list_setter!(/// Sets [`include_namespaces`](Self::include_namespaces).
        include_namespaces);
    list_setter!(/// Sets [`exclude_namespaces`](Self::exclude_namespaces).
        exclude_namespaces);
    list_setter!(/// Sets [`include_resources`](Self::include_resources).
        include_resources);
    list_setter!(/// Sets [`exclude_resources`](Self::exclude_resources).
        exclude_resources);
    setter!(/// Sets [`selector`](Self::selector).
        selector: LabelSelector);
    setter!(/// Sets [`include_cluster_resources`](Self::include_cluster_resources).
        include_cluster_resources: bool);
    setter!(/// Sets [`include_secrets`](Self::include_secrets).
        include_secrets: bool);
    setter!(/// Sets [`with_status`](Self::with_status).
        with_status: bool);
    setter!(/// Sets [`include_managed`](Self::include_managed).
        include_managed: bool);
    setter!(/// Sets [`concurrency`](Self::concurrency).
        concurrency: usize);
    setter!(/// Sets [`write_concurrency`](Self::write_concurrency).
        write_concurrency: usize);
    setter!(/// Sets [`page_size`](Self::page_size).
        page_size: u32);
    setter!(/// Sets [`cancel`](Self::cancel).
        cancel: CancellationToken);

    fn validate(&self) -> Result<()> {
        let invalid = |message: String| -> Error { k8sops_core::Error::InvalidInput { message, source: None }.into() };
        if self.concurrency == 0 || self.write_concurrency == 0 {
            return Err(invalid("concurrency and write concurrency must be at least 1".into()));
        }
        if self.page_size == 0 {
            return Err(invalid("page size must be at least 1".into()));
        }
        for p in self.include_namespaces.iter().chain(&self.exclude_namespaces) {
            if !is_namespace_pattern(p) {
                return Err(invalid(format!(
                    "{p:?} is not a namespace name or pattern (lower-case letters, digits, '-' and '*')"
                )));
            }
        }
        for p in self.include_resources.iter().chain(&self.exclude_resources) {
            if p.trim().is_empty() || p.contains(['/', ' ']) {
                return Err(invalid(format!(
                    "{p:?} is not a resource name (plural, kind or short name, optionally .group, e.g. deployments.apps)"
                )));
            }
        }
        Ok(())
    }

    fn cluster_scoped(&self) -> bool {
        self.include_cluster_resources
            .unwrap_or_else(|| self.include_namespaces.is_empty() || self.include_namespaces.iter().any(|n| n == "*"))
    }
}

/// Whether `p` is a namespace name or a pattern with `*`.
pub(crate) fn is_namespace_pattern(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 63
        && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'*')
}

/// `*` matches any run of characters, everything else itself.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(mut tail) = text.strip_prefix(head) else { return false };
            // Greedy enough for short names: try every split point.
            loop {
                if glob(rest, tail) {
                    return true;
                }
                let mut chars = tail.chars();
                if chars.next().is_none() {
                    return false;
                }
                tail = chars.as_str();
            }
        }
    }
}

/// An include/exclude pair of namespace patterns.
#[derive(Debug, Clone, Default)]
pub(crate) struct NamespaceFilter {
    include: Vec<String>,
    exclude: Vec<String>,
}

impl NamespaceFilter {
    pub(crate) fn new(include: &[String], exclude: &[String]) -> Self {
        NamespaceFilter { include: include.to_vec(), exclude: exclude.to_vec() }
    }

    pub(crate) fn matches(&self, ns: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| glob(p, ns)))
            && !self.exclude.iter().any(|p| glob(p, ns))
    }

    /// The included namespaces when they are plain names (listed one by
    /// one), `None` when every namespace must be listed and filtered.
    fn exact(&self) -> Option<Vec<&str>> {
        if self.include.is_empty() || self.include.iter().any(|p| p.contains('*')) {
            return None;
        }
        let mut names: Vec<&str> = self.include.iter().map(String::as_str).filter(|n| self.matches(n)).collect();
        names.sort_unstable();
        names.dedup();
        Some(names)
    }
}

/// Progress of an export.
///
/// ```
/// use k8sops_backup::export::ExportEvent;
/// let e = ExportEvent::Exported { resource: "configmaps".into(), objects: 500, total: 1200 };
/// assert!(matches!(e, ExportEvent::Exported { objects: 500, .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum ExportEvent {
    /// Discovery is done: the resource types that will be listed.
    Discovered {
        /// Resource types to list.
        resources: usize,
    },
    /// A resource type is being listed.
    Listing {
        /// `plural.group`.
        resource: String,
    },
    /// A page was written.
    Exported {
        /// `plural.group`.
        resource: String,
        /// Objects of this type written so far.
        objects: usize,
        /// Objects written so far, all types.
        total: usize,
    },
    /// A resource type is done.
    Finished {
        /// `plural.group`.
        resource: String,
        /// Objects written.
        objects: usize,
        /// Objects left out because the cluster recreates them.
        skipped: usize,
    },
    /// A resource type could not be listed; the export goes on without it.
    Failed {
        /// `plural.group`.
        resource: String,
        /// Why.
        error: String,
    },
    /// The manifest was written: the backup is complete.
    ManifestWritten {
        /// Where.
        location: String,
        /// Objects in the backup.
        objects: usize,
    },
}

/// How an export ended.
///
/// ```
/// assert_eq!(k8sops_backup::export::ExportStatus::Partial.to_string(), "partial");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ExportStatus {
    /// Every selected type was listed and written, and the manifest too.
    Completed,
    /// The manifest was written, but some types could not be listed (or
    /// discovery of some group versions failed): they are missing, and the
    /// manifest says so (`complete: false`).
    Partial,
    /// Cancelled: no manifest was written.
    Cancelled,
}

impl fmt::Display for ExportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExportStatus::Completed => "completed",
            ExportStatus::Partial => "partial",
            ExportStatus::Cancelled => "cancelled",
        })
    }
}

/// One resource type's line in the report.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// use std::sync::Arc;
/// use k8sops_backup::{export::{export, ExportParams}, layout::Location, object_store::memory::InMemory};
/// let to = Location::store(Arc::new(InMemory::new()), "b");
/// let report = export(&server.cluster(), &to, &ExportParams::default()).await?;
/// let pods = report.resources.iter().find(|r| r.resource == "pods").unwrap();
/// assert!(pods.skipped > 0, "pods of ReplicaSets, StatefulSets and DaemonSets are recreated by them");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceExport {
    /// `plural.group` (`plural` for the core group).
    pub resource: String,
    /// `apiVersion` the objects were exported at.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Whether the type is namespaced.
    pub namespaced: bool,
    /// Objects written.
    pub objects: usize,
    /// Objects left out because the cluster recreates them.
    pub skipped: usize,
    /// Why listing failed, if it did.
    pub error: Option<Failure>,
}

/// The result of an export.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// use std::sync::Arc;
/// use k8sops_backup::{export::{export, ExportParams, ExportStatus}, layout::Location, object_store::memory::InMemory};
/// let to = Location::store(Arc::new(InMemory::new()), "nightly");
/// let report = export(&server.cluster(), &to, &ExportParams::default().include_namespaces(["shop"])).await?;
/// assert_eq!(report.status, ExportStatus::Completed);
/// assert!(report.objects > 0);
/// print!("{report}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    /// Where the backup was written.
    pub location: String,
    /// The cluster's version.
    pub cluster_version: String,
    /// How it ended.
    pub status: ExportStatus,
    /// Every resource type that was listed, sorted by name.
    pub resources: Vec<ResourceExport>,
    /// Objects written.
    pub objects: usize,
    /// Bytes written (object files, without the manifest).
    pub bytes: u64,
    /// Whether the manifest was written (the backup is usable).
    pub manifest_written: bool,
    /// Things the caller should know: group versions discovery could not
    /// read, Secrets named but not asked for.
    pub warnings: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

impl ExportReport {
    /// The report if the export completed, otherwise
    /// [`Error::Core`]`(`[`k8sops_core::Error::Cancelled`]`)` for a cancelled
    /// one, or [`Error::InvalidBackup`] naming the types that are missing.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// use std::sync::Arc;
    /// use k8sops_backup::{export::{export, ExportParams}, layout::Location, object_store::memory::InMemory};
    /// let to = Location::store(Arc::new(InMemory::new()), "b");
    /// let report = export(&server.cluster(), &to, &ExportParams::default()).await?.ensure_completed()?;
    /// # Ok(()) }
    /// ```
    pub fn ensure_completed(self) -> Result<Self> {
        match self.status {
            ExportStatus::Completed => Ok(self),
            ExportStatus::Cancelled => {
                Err(k8sops_core::Error::Cancelled { during: format!("the export to {}", self.location) }.into())
            }
            ExportStatus::Partial => {
                let mut missing: Vec<String> = self
                    .resources
                    .iter()
                    .filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.resource)))
                    .collect();
                missing.extend(self.warnings.iter().cloned());
                Err(Error::InvalidBackup {
                    location: self.location.clone(),
                    reason: format!("incomplete export: {}", missing.join("; ")),
                })
            }
        }
    }
}

impl fmt::Display for ExportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = Table::new(["RESOURCE", "OBJECTS", "SKIPPED", "STATUS"]);
        let mut empty = 0;
        for r in &self.resources {
            if r.objects == 0 && r.skipped == 0 && r.error.is_none() {
                empty += 1;
                continue;
            }
            let status = match (&r.error, r.skipped) {
                (Some(e), _) => format!("failed: {e}"),
                (None, 0) => "exported".to_string(),
                (None, _) => "exported (recreated by the cluster: skipped)".to_string(),
            };
            t.row([r.resource.clone(), r.objects.to_string(), r.skipped.to_string(), status]);
        }
        write!(f, "{t}")?;
        if empty > 0 {
            writeln!(f, "{empty} other resource type(s) had no objects to export.")?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        let verb = if self.manifest_written { "Exported" } else { "Wrote" };
        writeln!(
            f,
            "{verb} {} object(s) of {} resource type(s) ({:.1} KiB) from Kubernetes {} to {} in {:.1}s: {}{}",
            self.objects,
            self.resources.iter().filter(|r| r.objects > 0).count(),
            self.bytes as f64 / 1024.0,
            self.cluster_version,
            self.location,
            self.elapsed.as_secs_f64(),
            self.status,
            if self.manifest_written { "" } else { " (no manifest: not a usable backup)" }
        )
    }
}

/// Exports the cluster's resources to `to` (see the module docs).
///
/// `Err` only when nothing usable could be written: the destination
/// already holds a backup or cannot be written, discovery failed, or the
/// parameters are invalid (checked before anything is written). A resource
/// type that cannot be listed is reported and the export goes on.
///
/// # Cancel safety
///
/// After [`ExportParams::cancel`] fires, no new page is requested and the
/// report says `Cancelled`. No manifest is written, so the backup is
/// incomplete by definition: in a store, the object files already written
/// stay under the prefix without a `manifest.json` (retention and restore
/// treat such a prefix as an incomplete backup; delete it or export to it
/// again), and in a [`LocalDir`](crate::store::LocalDir) they are not yet
/// fsynced ([`DeferSync`](crate::store::DeferSync)); an archive's temporary file (`.NAME.tmp-PID-N` beside it) is
/// removed and the destination file is left as it was. Dropping the future
/// instead stops at once; an archive's temporary file may then remain.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// use std::sync::Arc;
/// use k8sops_backup::{export::{export, ExportParams}, layout::Location, object_store::{memory::InMemory, ObjectStoreExt}};
/// let store = Arc::new(InMemory::new());
/// let to = Location::store(store.clone(), "nightly");
/// let report = export(&server.cluster(), &to, &ExportParams::default()).await?;
/// assert!(report.manifest_written);
/// store.head(&"nightly/manifest.json".into()).await?;
/// store.head(&"nightly/shop/apps/Deployment/web.yaml".into()).await?;
/// # Ok(()) }
/// ```
pub async fn export(cluster: &Cluster, to: &Location, params: &ExportParams) -> Result<ExportReport> {
    export_with_progress(cluster, to, params, &NoProgress).await
}

/// [`export`], reporting each step as an [`ExportEvent`].
///
/// # Cancel safety
///
/// As [`export`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// use std::sync::Arc;
/// use k8sops_backup::{export::{export_with_progress, ExportEvent, ExportParams}, layout::Location, object_store::memory::InMemory};
/// let events = k8sops_core::Recorder::default();
/// let to = Location::store(Arc::new(InMemory::new()), "b");
/// export_with_progress(&server.cluster(), &to, &ExportParams::default(), &events).await?;
/// assert!(matches!(events.events().last(), Some(ExportEvent::ManifestWritten { .. })));
/// # Ok(()) }
/// ```
pub async fn export_with_progress(
    cluster: &Cluster,
    to: &Location,
    params: &ExportParams,
    progress: &dyn ProgressSink<ExportEvent>,
) -> Result<ExportReport> {
    params.validate()?;
    let started = Instant::now();
    let mut manifest = Manifest::new(SourceCluster::default());
    let version = cluster.server_version().await?;
    manifest.cluster = SourceCluster { server: cluster.url().to_string(), version: version.to_string() };
    let discovered = discover(cluster).await?;
    let mut warnings: Vec<String> =
        discovered.failures.iter().map(|f| format!("discovery of {f}; its resource types are not exported")).collect();
    let selection = select(&discovered.types, params, &mut warnings);
    progress.emit(ExportEvent::Discovered { resources: selection.types.len() + selection.endpoints.iter().count() });

    let sink = Sink::open(to).await?;
    let user_cancel = params.cancel.clone().unwrap_or_default();
    let stop = user_cancel.child_token();
    let run = Run {
        cluster,
        params,
        sink: &sink,
        progress,
        stop: &stop,
        namespaces: NamespaceFilter::new(&params.include_namespaces, &params.exclude_namespaces),
        total: std::sync::atomic::AtomicUsize::new(0),
    };

    let mut outcomes: Vec<TypeOutcome> = stream::iter(selection.types.iter())
        .map(|t| run.export_type(t, None))
        .buffer_unordered(params.concurrency)
        .collect()
        .await;
    if let Some(endpoints) = &selection.endpoints {
        if !stop.is_cancelled() {
            let outcome = match run.selector_services(&selection.services).await {
                Ok(services) => run.export_type(endpoints, Some(&services)).await,
                Err(e) => TypeOutcome::failed(endpoints, e),
            };
            outcomes.push(outcome);
        }
    }
    if let Some(crds) = &selection.crds_of_exported {
        if !stop.is_cancelled() {
            let exported: HashSet<(String, String)> = outcomes
                .iter()
                .filter(|o| o.summary.objects > 0)
                .filter_map(|o| {
                    selection
                        .types
                        .iter()
                        .find(|t| t.name() == o.summary.resource)
                        .map(|t| (t.ar.group.clone(), t.ar.plural.clone()))
                })
                .collect();
            if !exported.is_empty() {
                outcomes.push(run.export_crds_of(crds, &exported).await);
            }
        }
    }
    drop(run);

    if let Some(fatal) = outcomes.iter_mut().find_map(|o| o.fatal.take()) {
        let cause = sink.abort().await;
        return Err(cause.unwrap_or(fatal));
    }

    let cancelled = user_cancel.is_cancelled();
    let mut resources: Vec<ResourceExport> = outcomes.iter().map(|o| o.summary.clone()).collect();
    resources.sort_by(|a, b| a.resource.cmp(&b.resource));
    let files: Vec<&TypeFiles> = outcomes.iter().map(|o| &o.files).collect();
    let objects = files.iter().map(|t| t.files.len()).sum();
    let bytes = files.iter().flat_map(|t| &t.files).map(|f| f.size).sum();
    let partial = !discovered.failures.is_empty() || resources.iter().any(|r| r.error.is_some());
    let mut report = ExportReport {
        location: to.to_string(),
        cluster_version: version.to_string(),
        status: ExportStatus::Completed,
        resources,
        objects,
        bytes,
        manifest_written: false,
        warnings,
        elapsed: Duration::ZERO,
    };
    if cancelled {
        if let Some(e) = sink.abort().await {
            return Err(e);
        }
        report.status = ExportStatus::Cancelled;
        report.elapsed = started.elapsed();
        return Ok(report);
    }

    manifest.finished_at = jiff::Timestamp::now().to_string();
    manifest.with_status = params.with_status;
    manifest.includes_secrets = params.include_secrets;
    manifest.includes_managed = params.include_managed;
    manifest.complete = !partial;
    manifest.failed_resources = report
        .resources
        .iter()
        .filter_map(|r| {
            r.error.as_ref().map(|e| FailedResource { resource: r.resource.clone(), reason: e.to_string() })
        })
        .chain(discovered.failures.iter().map(|f| {
            let (gv, reason) = f.split_once(": ").unwrap_or((f.as_str(), "discovery failed"));
            FailedResource { resource: gv.to_string(), reason: reason.to_string() }
        }))
        .collect();
    manifest.counts = report
        .resources
        .iter()
        .filter(|r| r.error.is_none())
        .map(|r| (r.resource.clone(), r.objects))
        .collect::<BTreeMap<_, _>>();
    let body = manifest::encode(&manifest, &files).map_err(|e| Error::InvalidBackup {
        location: to.to_string(),
        reason: format!("cannot encode the manifest: {e}"),
    })?;
    drop(files);
    drop(outcomes);
    sink.finish(Bytes::from(body)).await?;
    report.manifest_written = true;
    report.status = if partial { ExportStatus::Partial } else { ExportStatus::Completed };
    report.elapsed = started.elapsed();
    progress.emit(ExportEvent::ManifestWritten { location: report.location.clone(), objects });
    Ok(report)
}

/// The resource types to list.
struct Selection {
    /// Listed first, `concurrency` at a time.
    types: Vec<ResourceType>,
    /// Endpoints, listed after the Services' selectors are known.
    endpoints: Option<ResourceType>,
    /// The Services type, to find which have selectors.
    services: Option<ResourceType>,
    /// The CRD type, when CRDs are not exported in their own right but
    /// those of exported custom resources are.
    crds_of_exported: Option<ResourceType>,
}

fn select(types: &[ResourceType], params: &ExportParams, warnings: &mut Vec<String>) -> Selection {
    let cluster_scoped = params.cluster_scoped();
    let named = |t: &ResourceType, list: &[String]| list.iter().any(|p| t.matches(p));
    let mut out = Selection { types: Vec::new(), endpoints: None, services: None, crds_of_exported: None };
    for t in types {
        if !(t.supports("list") && t.supports("create")) {
            continue;
        }
        let name = t.name();
        if name == "services" {
            out.services = Some(t.clone());
        }
        let included = params.include_resources.is_empty() || named(t, &params.include_resources);
        let excluded = named(t, &params.exclude_resources);
        if !included || excluded {
            continue;
        }
        if !params.include_managed && NEVER_RESTORED.contains(&name.as_str()) {
            continue;
        }
        if name == "secrets" && !params.include_secrets {
            if params.include_resources.iter().any(|p| p != "*" && t.matches(p)) {
                warnings.push("secrets are named but not exported: Secrets are exported only when asked (include_secrets, --include-secrets)".into());
            }
            continue;
        }
        if !t.namespaced && name != "namespaces" && !cluster_scoped {
            if name == "customresourcedefinitions.apiextensions.k8s.io"
                && params.include_cluster_resources != Some(false)
            {
                out.crds_of_exported = Some(t.clone());
            }
            continue;
        }
        if name == "endpoints" && !params.include_managed {
            out.endpoints = Some(t.clone());
            continue;
        }
        out.types.push(t.clone());
    }
    out
}

/// What listing one resource type produced.
struct TypeOutcome {
    summary: ResourceExport,
    files: TypeFiles,
    /// A write failed: the backup cannot be completed.
    fatal: Option<Error>,
}

impl TypeOutcome {
    fn new(t: &ResourceType) -> Self {
        TypeOutcome {
            summary: ResourceExport {
                resource: t.name(),
                api_version: t.ar.api_version.clone(),
                kind: t.ar.kind.clone(),
                namespaced: t.namespaced,
                objects: 0,
                skipped: 0,
                error: None,
            },
            files: TypeFiles {
                api_version: t.ar.api_version.clone(),
                kind: t.ar.kind.clone(),
                resource: t.ar.plural.clone(),
                files: Vec::new(),
            },
            fatal: None,
        }
    }

    fn failed(t: &ResourceType, e: k8sops_core::Error) -> Self {
        let mut o = TypeOutcome::new(t);
        o.summary.error = Some(Failure::new(e));
        o
    }
}

/// One export in progress.
struct Run<'a> {
    cluster: &'a Cluster,
    params: &'a ExportParams,
    sink: &'a Sink,
    progress: &'a dyn ProgressSink<ExportEvent>,
    stop: &'a CancellationToken,
    namespaces: NamespaceFilter,
    total: std::sync::atomic::AtomicUsize,
}

impl Run<'_> {
    /// The APIs to list a type through, and whether results need the
    /// namespace filter: one per named namespace, or one for all.
    fn apis(&self, t: &ResourceType) -> (Vec<Api<DynamicObject>>, bool) {
        let client = self.cluster.client().clone();
        if t.namespaced {
            if let Some(names) = self.namespaces.exact() {
                return (names.into_iter().map(|ns| Api::namespaced_with(client.clone(), ns, &t.ar)).collect(), false);
            }
        }
        (vec![Api::all_with(client, &t.ar)], t.namespaced || t.name() == "namespaces")
    }

    fn list_params(&self) -> ListParams {
        let mut lp = ListParams::default();
        if let Some(sel) = self.params.selector.as_ref().filter(|s| !s.is_empty()) {
            lp = lp.labels(&sel.to_string());
        }
        lp
    }

    async fn export_type(&self, t: &ResourceType, services: Option<&SelectorServices>) -> TypeOutcome {
        let mut out = TypeOutcome::new(t);
        if self.stop.is_cancelled() {
            return out;
        }
        let resource = out.summary.resource.clone();
        self.progress.emit(ExportEvent::Listing { resource: resource.clone() });
        let (apis, filter) = self.apis(t);
        'apis: for api in apis {
            let mut pages =
                std::pin::pin!(paging::pages(self.cluster, &api, self.list_params(), self.params.page_size));
            loop {
                let page = tokio::select! {
                    biased;
                    _ = self.stop.cancelled() => break 'apis,
                    page = pages.try_next() => page,
                };
                let items = match page {
                    Ok(Some(items)) => items,
                    Ok(None) => break,
                    // A namespace named in the filter that does not exist has nothing to export.
                    Err(e) if e.is_not_found() && !filter && t.namespaced => break,
                    Err(e) => {
                        self.progress.emit(ExportEvent::Failed { resource: resource.clone(), error: e.to_string() });
                        out.summary.error = Some(Failure::new(e));
                        break 'apis;
                    }
                };
                if let Err(e) = self.write_page(t, items, filter, services, &mut out).await {
                    self.stop.cancel();
                    out.fatal = Some(e);
                    return out;
                }
                let total = self.total.load(std::sync::atomic::Ordering::Relaxed);
                self.progress.emit(ExportEvent::Exported {
                    resource: resource.clone(),
                    objects: out.summary.objects,
                    total,
                });
            }
        }
        if out.summary.error.is_none() {
            self.progress.emit(ExportEvent::Finished {
                resource,
                objects: out.summary.objects,
                skipped: out.summary.skipped,
            });
        }
        out
    }

    /// Cleans, encodes and writes one page.
    async fn write_page(
        &self,
        t: &ResourceType,
        items: Vec<DynamicObject>,
        filter: bool,
        services: Option<&SelectorServices>,
        out: &mut TypeOutcome,
    ) -> Result<()> {
        let is_namespaces = t.name() == "namespaces";
        let mut files = Vec::with_capacity(items.len());
        for mut obj in items {
            if filter {
                let ns = if is_namespaces { obj.metadata.name.as_deref() } else { obj.metadata.namespace.as_deref() };
                if !self.namespaces.matches(ns.unwrap_or_default()) {
                    continue;
                }
            }
            if !self.params.include_managed && clean::managed(&obj, &t.ar, services).is_some() {
                out.summary.skipped += 1;
                continue;
            }
            clean::clean(&mut obj, &t.ar, self.params.with_status);
            let yaml = yaml::object(&obj).map_err(|e| {
                Error::Core(k8sops_core::Error::InvalidInput {
                    message: format!("{} {:?} cannot be written as YAML: {e}", t.ar.kind, obj.metadata.name),
                    source: None,
                })
            })?;
            let name = obj.metadata.name.clone().unwrap_or_default();
            let namespace = if t.namespaced { obj.metadata.namespace.clone() } else { None };
            let path = object_path(namespace.as_deref(), &t.ar.group, &t.ar.kind, &name);
            out.files.files.push(Written {
                sha256: sha2::Sha256::digest(yaml.as_bytes()).into(),
                size: yaml.len() as u64,
                path: path.clone(),
                namespace,
                name,
            });
            files.push((path, Bytes::from(yaml)));
        }
        let n = files.len();
        stream::iter(files)
            .map(|(path, bytes)| async move { self.sink.put(&path, bytes).await })
            .buffer_unordered(self.params.write_concurrency)
            .try_collect::<Vec<()>>()
            .await?;
        out.summary.objects += n;
        self.total.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// `(namespace, name)` of the Services with a selector, in the exported
    /// namespaces: their Endpoints are the endpoints controller's.
    async fn selector_services(&self, services: &Option<ResourceType>) -> k8sops_core::Result<SelectorServices> {
        let mut out = SelectorServices::new();
        let Some(t) = services else { return Ok(out) };
        let (apis, _) = self.apis(t);
        for api in apis {
            let mut pages =
                std::pin::pin!(paging::pages(self.cluster, &api, ListParams::default(), self.params.page_size));
            loop {
                match pages.try_next().await {
                    Ok(Some(items)) => {
                        for s in items {
                            let has_selector = s.data["spec"]["selector"].as_object().is_some_and(|m| !m.is_empty());
                            if has_selector {
                                out.insert((
                                    s.metadata.namespace.unwrap_or_default(),
                                    s.metadata.name.unwrap_or_default(),
                                ));
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) if e.is_not_found() => break,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(out)
    }

    /// The CustomResourceDefinitions of the custom resource types that had
    /// objects exported (`(group, plural)`).
    async fn export_crds_of(&self, crds: &ResourceType, exported: &HashSet<(String, String)>) -> TypeOutcome {
        let mut out = TypeOutcome::new(crds);
        let api: Api<DynamicObject> = Api::all_with(self.cluster.client().clone(), &crds.ar);
        let all = paging::list_all(self.cluster, &api, ListParams::default()).await;
        let items = match all {
            Ok(items) => items,
            Err(e) => return TypeOutcome::failed(crds, e),
        };
        let wanted: Vec<DynamicObject> = items
            .into_iter()
            .filter(|crd| {
                let spec = &crd.data["spec"];
                let key = (
                    spec["group"].as_str().unwrap_or_default().to_string(),
                    spec["names"]["plural"].as_str().unwrap_or_default().to_string(),
                );
                exported.contains(&key)
            })
            .collect();
        if let Err(e) = self.write_page(crds, wanted, false, None, &mut out).await {
            self.stop.cancel();
            out.fatal = Some(e);
            return out;
        }
        self.progress.emit(ExportEvent::Finished {
            resource: out.summary.resource.clone(),
            objects: out.summary.objects,
            skipped: 0,
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_patterns_match_like_velero() {
        assert!(glob("team-*", "team-a"));
        assert!(glob("*", "anything"));
        assert!(glob("*-prod", "shop-prod"));
        assert!(!glob("team-*", "teams"));
        assert!(glob("a*b*c", "axxbyyc"));
        let f = NamespaceFilter::new(&["team-*".into(), "shop".into()], &["team-old".into()]);
        assert!(f.matches("team-a") && f.matches("shop"));
        assert!(!f.matches("team-old") && !f.matches("kube-system"));
        assert_eq!(f.exact(), None);
        let exact = NamespaceFilter::new(&["b".into(), "a".into(), "c".into()], &["c".into()]);
        assert_eq!(exact.exact(), Some(vec!["a", "b"]));
    }

    #[test]
    fn invalid_parameters_are_refused() {
        assert!(ExportParams::default().concurrency(0).validate().is_err());
        assert!(ExportParams::default().include_namespaces(["Shop"]).validate().is_err());
        assert!(ExportParams::default().include_resources(["apps/v1"]).validate().is_err());
        assert!(ExportParams::default().include_namespaces(["team-*"]).validate().is_ok());
    }
}
