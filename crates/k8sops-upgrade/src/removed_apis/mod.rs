//! Removed and deprecated APIs for a target release, found the way kubent
//! and pluto find them, in five places:
//!
//! - **`annotation`**: the `kubectl.kubernetes.io/last-applied-configuration`
//!   annotation of live objects (what the last `kubectl apply` sent);
//! - **`managedFields`**: the apiVersion each field manager last wrote with
//!   (objects made by `kubectl create`, server-side apply or controllers
//!   have no annotation: this is the only trace of their client's version);
//! - **`helm`**: the manifest of the latest deployed revision of every Helm 3
//!   release stored in Secrets ([`helm`]);
//! - **`file`**: manifest files and directories ([`scan_manifests`]);
//! - **`metrics`**: the API server's `apiserver_requested_deprecated_apis`
//!   metric, which names APIs some client requested since the server
//!   started ([`metrics`]). It is read before anything is listed: listing a
//!   kind the server serves only in a deprecated version (PodSecurityPolicy
//!   on 1.21–1.24) counts there too, so a second scan sees the first one.
//!
//! A [`Finding`] is reported when the API is removed at the target
//! (`removedIn <= target`), or deprecated there (`deprecatedIn <= target`,
//! marked [`ApiStatus::Deprecated`]). The target defaults to the server's
//! version for a cluster and to [`NEWEST_RELEASE`](crate::rules::NEWEST_RELEASE)
//! for files.
//!
//! # Stale evidence is not a finding
//! The false positives users report most against kubent and pluto are
//! objects already re-applied in a current version. The API server keeps
//! one `managedFields` entry per manager, operation and apiVersion (for
//! server-side apply, one per manager), so an entry written by an old apply
//! stays after the same manager applies the new version. [`check_object`]
//! therefore reads the evidence with its timestamps:
//!
//! 1. only the newest entry of each manager counts; among entries of the
//!    same second, the one owning the last-applied annotation is the latest
//!    client-side apply, otherwise a current-version entry wins;
//! 2. an *apply* is a server-side apply (operation `Apply`) or an update by
//!    `kubectl-client-side-apply`, `kubectl-replace` or `helm` to the object
//!    itself (not a subresource): each sends the whole declared object.
//!    Evidence (an old-version entry, or the annotation, dated by the entry
//!    that owns it) no newer than the latest apply in a current version
//!    (among each manager's newest writes) is stale: the object's declared
//!    state was re-sent since. An annotation no
//!    entry owns predates field tracking and is stale once any such apply
//!    exists;
//! 3. an object with an old annotation and no managed fields at all is
//!    reported: nothing shows a newer apply.
//!
//! # Which resource types a cluster scan lists
//! The resource types where objects first written in a listed API version
//! live today ([`RuleSet::current_kinds`](crate::rules::RuleSet::current_kinds)):
//! Deployments, DaemonSets, ReplicaSets, StatefulSets, ControllerRevisions,
//! NetworkPolicies, Ingresses, IngressClasses, PodSecurityPolicies, RBAC
//! roles and bindings, CRDs, APIServices, webhook configurations,
//! CertificateSigningRequests, Leases, PriorityClasses, CSIDrivers,
//! CSINodes, StorageClasses, VolumeAttachments, CSIStorageCapacities,
//! CronJobs, EndpointSlices, HorizontalPodAutoscalers,
//! PodDisruptionBudgets, RuntimeClasses, FlowSchemas,
//! PriorityLevelConfigurations, ValidatingAdmissionPolicies and bindings,
//! IPAddresses, ServiceCIDRs and VolumeAttributesClasses (and the kinds of
//! embedder rules), each as far as the server serves and lets the caller
//! list it. Review kinds are never stored, and Events expire within an hour:
//! clients still using those show in the `metrics` source instead. Each
//! type is listed page by page (one page in memory per type), several
//! types at once.

mod cluster;
mod evidence;
pub mod helm;
pub mod manifests;
pub mod metrics;

use std::fmt;

use k8sops_core::{CancellationToken, Table};
use serde::Serialize;

pub use cluster::{find_removed_apis, find_removed_apis_with_progress};
pub use evidence::check_object;
pub use manifests::scan_manifests;

use crate::rules::{ApiRule, ApiStatus, MinorVersion, RuleSet};

/// Where a removed API was seen.
///
/// ```
/// use k8sops_upgrade::removed_apis::Source;
/// assert_eq!(serde_json::to_string(&Source::ManagedFields).unwrap(), "\"managedFields\"");
/// assert_eq!(Source::Helm.to_string(), "helm");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// The object's `kubectl.kubernetes.io/last-applied-configuration` annotation.
    Annotation,
    /// A field manager's entry in the object's `managedFields`.
    ManagedFields,
    /// A Helm 3 release's manifest.
    Helm,
    /// A manifest file.
    File,
    /// The API server's `apiserver_requested_deprecated_apis` metric.
    Metrics,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Annotation => "annotation",
            Source::ManagedFields => "managedFields",
            Source::Helm => "helm",
            Source::File => "file",
            Source::Metrics => "metrics",
        })
    }
}

/// One object (or, for the metric, one resource) using a removed or
/// deprecated API.
///
/// ```
/// use k8sops_upgrade::removed_apis::{Finding, Source};
/// use k8sops_upgrade::rules::{ApiStatus, MinorVersion};
/// let f = Finding {
///     kind: "Ingress".into(), namespace: "shop".into(), name: "web".into(),
///     api_version: "extensions/v1beta1".into(), source: Source::Annotation,
///     location: "last-applied-configuration".into(), status: ApiStatus::Removed,
///     deprecated_in: Some(MinorVersion::new(1, 14)), removed_in: Some(MinorVersion::new(1, 22)),
///     replacement: Some("networking.k8s.io/v1".into()),
/// };
/// assert_eq!(f.object(), "Ingress shop/web");
/// let json = serde_json::to_value(&f).unwrap();
/// assert_eq!((json["apiVersion"].as_str(), json["removedIn"].as_str()), (Some("extensions/v1beta1"), Some("v1.22")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The kind.
    pub kind: String,
    /// The namespace; empty for cluster-scoped objects (and for the metric).
    pub namespace: String,
    /// The name; empty for the metric, which counts requests, not objects.
    pub name: String,
    /// The deprecated apiVersion that was seen.
    pub api_version: String,
    /// Where it was seen.
    pub source: Source,
    /// Where exactly: the field manager, the Helm release and template,
    /// the file and line.
    pub location: String,
    /// Removed at the target, or only deprecated there.
    pub status: ApiStatus,
    /// The release that deprecated the API, if known.
    pub deprecated_in: Option<MinorVersion>,
    /// The release that removes (or removed) it, if one does.
    pub removed_in: Option<MinorVersion>,
    /// The apiVersion to use instead at the target, if there is one.
    pub replacement: Option<String>,
}

impl Finding {
    /// `Kind namespace/name`, `Kind name` or, for the metric, `Kind`.
    ///
    /// ```
    /// # use k8sops_upgrade::removed_apis::{Finding, Source};
    /// # use k8sops_upgrade::rules::ApiStatus;
    /// let f = Finding { kind: "PodSecurityPolicy".into(), namespace: String::new(), name: "restricted".into(),
    ///     api_version: "policy/v1beta1".into(), source: Source::File, location: "psp.yaml:1".into(),
    ///     status: ApiStatus::Removed, deprecated_in: None, removed_in: None, replacement: None };
    /// assert_eq!(f.object(), "PodSecurityPolicy restricted");
    /// ```
    pub fn object(&self) -> String {
        match (self.namespace.is_empty(), self.name.is_empty()) {
            (_, true) => self.kind.clone(),
            (true, false) => format!("{} {}", self.kind, self.name),
            (false, false) => format!("{} {}/{}", self.kind, self.namespace, self.name),
        }
    }

    pub(crate) fn from_rule(
        rules: &RuleSet,
        rule: &ApiRule,
        status: ApiStatus,
        target: MinorVersion,
        object: ObjectRef,
        source: Source,
        location: String,
    ) -> Self {
        Finding {
            kind: object.kind,
            namespace: object.namespace,
            name: object.name,
            api_version: rule.api_version.clone(),
            source,
            location,
            status,
            deprecated_in: rule.deprecated_in,
            removed_in: rule.removed_in,
            replacement: rules.replacement_at(rule, target),
        }
    }

    fn sort_key(&self) -> impl Ord + '_ {
        (
            self.status,
            self.removed_in.is_none(),
            self.removed_in,
            &self.api_version,
            &self.kind,
            &self.namespace,
            &self.name,
            self.source,
            &self.location,
        )
    }
}

/// Who a finding is about.
pub(crate) struct ObjectRef {
    pub(crate) kind: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
}

/// Sorts findings by status (removed first), removal release, apiVersion,
/// kind, namespace, name, source and location: the same input always
/// prints the same report.
pub(crate) fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// Something that could not be checked, and why.
///
/// ```
/// let n = k8sops_upgrade::removed_apis::Note { what: "/metrics".into(), reason: "forbidden (403)".into() };
/// assert_eq!(n.to_string(), "/metrics: forbidden (403)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Note {
    /// What: a resource type, a Helm release, a file, `/metrics`.
    pub what: String,
    /// Why it was not (fully) checked.
    pub reason: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.reason)
    }
}

/// One resource type a cluster scan listed.
///
/// ```
/// let s = k8sops_upgrade::removed_apis::ScannedResource { resource: "deployments.apps/v1".into(), objects: 12 };
/// assert_eq!(s.objects, 12);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ScannedResource {
    /// `plural.group/version` (`plural/v1` for the core group).
    pub resource: String,
    /// How many objects were checked.
    pub objects: usize,
}

/// What a scan found.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use k8sops_upgrade::removed_apis::{find_removed_apis, RemovedApiParams};
/// let server = k8sops_testkit::TestServer::builder().server_version("v1.24.7").start().await?;
/// let report = find_removed_apis(&server.cluster(), &RemovedApiParams::default()).await?;
/// assert_eq!(report.target.to_string(), "v1.24");
/// assert!(report.findings.is_empty());
/// print!("{report}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovedApiReport {
    /// The release checked against.
    pub target: MinorVersion,
    /// The server's version (`gitVersion`), when a cluster was scanned.
    pub server_version: Option<String>,
    /// Findings, sorted (removed first, then by removal release, apiVersion,
    /// kind, namespace, name, source).
    pub findings: Vec<Finding>,
    /// The resource types listed, and how many objects each had.
    pub scanned: Vec<ScannedResource>,
    /// Helm releases checked (latest deployed revision of each).
    pub helm_releases: usize,
    /// Manifest files read.
    pub files: usize,
    /// What could not be checked.
    pub notes: Vec<Note>,
    /// Whether the scan was cancelled: the findings are those seen before.
    pub cancelled: bool,
}

impl RemovedApiReport {
    pub(crate) fn new(target: MinorVersion) -> Self {
        RemovedApiReport {
            target,
            server_version: None,
            findings: Vec::new(),
            scanned: Vec::new(),
            helm_releases: 0,
            files: 0,
            notes: Vec::new(),
            cancelled: false,
        }
    }

    /// Findings whose API the target no longer serves.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// # let report = k8sops_upgrade::removed_apis::find_removed_apis(&server.cluster(), &Default::default()).await?;
    /// for f in report.removed() {
    ///     println!("{} uses {}, removed in {:?}", f.object(), f.api_version, f.removed_in);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn removed(&self) -> impl Iterator<Item = &Finding> + '_ {
        self.findings.iter().filter(|f| f.status == ApiStatus::Removed)
    }

    /// Findings whose API is only deprecated at the target.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// # let report = k8sops_upgrade::removed_apis::find_removed_apis(&server.cluster(), &Default::default()).await?;
    /// assert_eq!(report.deprecated().count(), 0);
    /// # Ok(()) }
    /// ```
    pub fn deprecated(&self) -> impl Iterator<Item = &Finding> + '_ {
        self.findings.iter().filter(|f| f.status == ApiStatus::Deprecated)
    }

    /// The findings as a kubectl-style table.
    ///
    /// ```
    /// use k8sops_upgrade::removed_apis::{scan_manifests, RemovedApiParams};
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("pdb.yaml"), "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}\n")?;
    /// let report = scan_manifests(dir.path(), &RemovedApiParams::default())?;
    /// let table = report.table().to_string();
    /// assert!(table.starts_with("STATUS"));
    /// assert!(table.contains("PodDisruptionBudget") && table.contains("policy/v1"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn table(&self) -> Table {
        let mut t = Table::new([
            "status",
            "kind",
            "namespace",
            "name",
            "api version",
            "replacement",
            "removed in",
            "source",
            "seen in",
        ]);
        for f in &self.findings {
            t.row([
                f.status.to_string(),
                f.kind.clone(),
                f.namespace.clone(),
                f.name.clone(),
                f.api_version.clone(),
                f.replacement.clone().unwrap_or_else(|| "-".into()),
                f.removed_in.map_or_else(|| "-".into(), |r| r.to_string()),
                f.source.to_string(),
                f.location.clone(),
            ]);
        }
        t
    }

    pub(crate) fn finish(&mut self) {
        sort_findings(&mut self.findings);
        self.scanned.sort();
        self.notes.sort();
    }
}

impl fmt::Display for RemovedApiReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.findings.is_empty() {
            writeln!(f, "No removed or deprecated APIs found for {}.", self.target)?;
        } else {
            write!(f, "{}", self.table())?;
        }
        let removed = self.removed().count();
        let mut checked = Vec::new();
        if !self.scanned.is_empty() {
            let objects: usize = self.scanned.iter().map(|s| s.objects).sum();
            checked.push(format!("{} in {}", count(objects, "object"), count(self.scanned.len(), "resource type")));
        }
        if self.helm_releases > 0 {
            checked.push(count(self.helm_releases, "Helm release"));
        }
        if self.files > 0 {
            checked.push(count(self.files, "file"));
        }
        let checked = if checked.is_empty() { String::new() } else { format!(" in {}", checked.join(", ")) };
        let server = self.server_version.as_ref().map(|v| format!(" (server {v})")).unwrap_or_default();
        writeln!(
            f,
            "{removed} removed and {} deprecated API uses for {}{server}{checked}.",
            self.findings.len() - removed,
            self.target
        )?;
        if self.cancelled {
            writeln!(f, "Cancelled: the scan stopped early; these findings are incomplete.")?;
        }
        for n in &self.notes {
            writeln!(f, "not checked: {n}")?;
        }
        Ok(())
    }
}

/// `1 file`, `2 files`.
fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Options of a scan. `Default` checks every source against the server's
/// version with the built-in rules.
///
/// ```
/// use k8sops_upgrade::removed_apis::RemovedApiParams;
/// use k8sops_upgrade::rules::MinorVersion;
/// let p = RemovedApiParams::default().target(MinorVersion::new(1, 25)).metrics(false).deprecated(false);
/// assert!(p.objects && p.helm && !p.metrics);
/// ```
#[derive(Debug, Clone)]
pub struct RemovedApiParams {
    /// The release to check against. Default: the server's version for a
    /// cluster, [`NEWEST_RELEASE`](crate::rules::NEWEST_RELEASE) for files.
    pub target: Option<MinorVersion>,
    /// The rule table (default: [`RuleSet::builtin`]).
    pub rules: RuleSet,
    /// Check live objects' last-applied annotations and managed fields.
    pub objects: bool,
    /// Check Helm 3 release Secrets.
    pub helm: bool,
    /// Read the API server's `/metrics`.
    pub metrics: bool,
    /// Also report APIs that are only deprecated at the target.
    pub deprecated: bool,
    /// Objects per list request (default 500, kubectl's `--chunk-size`).
    pub page_size: u32,
    /// Helm release Secrets per list request (default 50: they are large).
    pub helm_page_size: u32,
    /// How many resource types are listed at once (default 4).
    pub concurrency: usize,
    /// Stop the scan: no request is sent once the token fires, and the
    /// report says it was cancelled and holds what was found before.
    pub cancel: Option<CancellationToken>,
}

impl Default for RemovedApiParams {
    fn default() -> Self {
        RemovedApiParams {
            target: None,
            rules: RuleSet::builtin(),
            objects: true,
            helm: true,
            metrics: true,
            deprecated: true,
            page_size: 500,
            helm_page_size: 50,
            concurrency: 4,
            cancel: None,
        }
    }
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

impl RemovedApiParams {
    setter!(/// Sets [`target`](Self::target).
        target: MinorVersion);
    setter!(/// Sets [`rules`](Self::rules).
        rules: RuleSet);
    setter!(/// Sets [`objects`](Self::objects).
        objects: bool);
    setter!(/// Sets [`helm`](Self::helm).
        helm: bool);
    setter!(/// Sets [`metrics`](Self::metrics).
        metrics: bool);
    setter!(/// Sets [`deprecated`](Self::deprecated).
        deprecated: bool);
    setter!(/// Sets [`page_size`](Self::page_size).
        page_size: u32);
    setter!(/// Sets [`helm_page_size`](Self::helm_page_size).
        helm_page_size: u32);
    setter!(/// Sets [`concurrency`](Self::concurrency).
        concurrency: usize);
    setter!(/// Sets [`cancel`](Self::cancel).
        cancel: CancellationToken);

    /// The status of an apiVersion and kind at `target`, honouring
    /// [`deprecated`](Self::deprecated).
    pub(crate) fn flagged(&self, api_version: &str, kind: &str, target: MinorVersion) -> Option<(&ApiRule, ApiStatus)> {
        self.rules.status(api_version, kind, target).filter(|(_, s)| self.deprecated || *s == ApiStatus::Removed)
    }
}

/// Progress of a cluster scan.
///
/// ```
/// use k8sops_upgrade::removed_apis::ScanEvent;
/// let e = ScanEvent::Scanned { what: "deployments.apps/v1".into(), objects: 120, findings: 2 };
/// assert!(matches!(e, ScanEvent::Scanned { objects: 120, .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum ScanEvent {
    /// The scan starts: what it will read.
    Started {
        /// Resource types, then `helm releases` and `/metrics` when checked.
        what: Vec<String>,
    },
    /// A page of a resource type (or of Helm release Secrets) was checked.
    Page {
        /// The resource type.
        what: String,
        /// Objects checked so far in it.
        objects: usize,
    },
    /// A resource type, the Helm releases or `/metrics` were checked.
    Scanned {
        /// What.
        what: String,
        /// Objects (or releases, or metric series) checked.
        objects: usize,
        /// Findings in them.
        findings: usize,
    },
    /// Something could not be checked.
    Skipped(Note),
}
