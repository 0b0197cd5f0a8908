//! `kubectl apply -f backup/`, done right: restores a backup written by
//! [`export`](crate::export) (a store prefix or a `.tar.gz`) in dependency
//! order, with Velero's options.
//!
//! - **Integrity.** The manifest must be there and readable, or the backup
//!   is refused ([`Error::InvalidBackup`]) before anything changes. Each
//!   file's SHA-256 and size are checked against the manifest when it is
//!   read; a file that does not match, is missing, cannot be read or does
//!   not hold the object the manifest names is that object's failure
//!   ([`RestoreOutcome::Failed`] with [`Error::ChecksumMismatch`],
//!   [`Error::InvalidBackup`], or [`Error::Store`] when the store itself
//!   failed, e.g. timed out) and is not applied, and the rest of the
//!   backup is restored: one damaged file must not make a disaster
//!   recovery impossible, and the report names it.
//! - **Order.** [`Tier`]: CustomResourceDefinitions (then the restore waits
//!   until they are served), Namespaces, StorageClasses, PersistentVolumes,
//!   PersistentVolumeClaims, ServiceAccounts, Secrets, ConfigMaps, RBAC,
//!   workloads, the rest, webhooks last. Objects of one tier are created
//!   [`concurrency`](RestoreParams::concurrency) at a time.
//! - **Selection.** Namespace, resource and label filters as for the export,
//!   applied to the backup's objects; cluster-scoped objects by
//!   [`include_cluster_resources`](RestoreParams::include_cluster_resources).
//! - **Namespace mapping** (`old:new`): objects of `old` are created in
//!   `new`, the Namespace object itself is renamed, and so are the
//!   namespaces a PersistentVolume's `claimRef` and a (Cluster)RoleBinding's
//!   ServiceAccount subjects name. Namespaces that objects are restored into
//!   but that the backup does not hold (or that the filters left out) are
//!   created, and reported.
//! - **ServiceAccounts** lose their references to the token Secrets the
//!   cluster minted for them (`<name>-token-*`), as in Velero: those Secrets
//!   are not restored, and the cluster mints a token for the new account.
//! - **Existing objects** ([`ExistingPolicy`]): an object is created; if it
//!   already exists it is skipped (the default, Velero's `none`), or updated
//!   by server-side apply with field manager `k8sops-restore`, taking over
//!   the fields the backup sets and leaving the others.
//! - **Dry run**: `Server` sends every create (and update) with
//!   `dryRun=All`, so admission, validation and quota check each one and
//!   nothing is stored; an object whose namespace or CustomResourceDefinition
//!   this restore would create first cannot be checked and is reported
//!   [`WouldCreate`](RestoreOutcome::WouldCreate) with a note. `Client`
//!   reads and checks the backup and sends nothing.

mod order;
mod source;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    fmt,
    str::FromStr,
    sync::Mutex,
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures::{stream, StreamExt};
use k8sops_core::{CancellationToken, Cluster, DryRun, Failure, LabelSelector, NoProgress, ProgressSink, Table};
use kube::{
    api::{DynamicObject, Patch, PatchParams, PostParams},
    discovery::ApiResource,
    Api,
};
use object_store::ObjectStoreExt;
use serde::Serialize;
use serde_json::Value;

pub use self::order::Tier;
use crate::{
    export::{discover, is_namespace_pattern, NamespaceFilter, ResourceType},
    layout::{sha256_hex, Location, Manifest, ManifestEntry, SourceCluster},
    Error, Result,
};

/// The field manager a restore applies with.
///
/// ```
/// assert_eq!(k8sops_backup::restore::FIELD_MANAGER, "k8sops-restore");
/// ```
pub const FIELD_MANAGER: &str = "k8sops-restore";

/// What to do with an object that already exists (`--existing-resource-policy`).
///
/// ```
/// use k8sops_backup::restore::ExistingPolicy;
/// assert_eq!("update".parse::<ExistingPolicy>().unwrap(), ExistingPolicy::Update);
/// assert_eq!("none".parse::<ExistingPolicy>().unwrap(), ExistingPolicy::Skip, "Velero's word for skip");
/// assert!("replace".parse::<ExistingPolicy>().is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExistingPolicy {
    /// Leave it as it is and report it skipped.
    #[default]
    Skip,
    /// Server-side apply the backup's version over it (forcing conflicts):
    /// the fields the backup sets take the backup's values.
    Update,
}

impl fmt::Display for ExistingPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExistingPolicy::Skip => "skip",
            ExistingPolicy::Update => "update",
        })
    }
}

/// An existing-object policy that is not `skip` (or `none`) or `update`.
///
/// ```
/// let e = "maybe".parse::<k8sops_backup::restore::ExistingPolicy>().unwrap_err();
/// assert!(e.to_string().contains("skip, update"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid existing-object policy {0:?}: must be one of skip, update")]
pub struct ParseExistingPolicyError(pub String);

impl FromStr for ExistingPolicy {
    type Err = ParseExistingPolicyError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "skip" | "none" => Ok(ExistingPolicy::Skip),
            "update" => Ok(ExistingPolicy::Update),
            other => Err(ParseExistingPolicyError(other.to_string())),
        }
    }
}

/// Parses `old:new,old2:new2` (Velero's `--namespace-mappings`).
///
/// ```
/// let m = k8sops_backup::restore::parse_namespace_mapping("shop:shop-copy, db:db-copy").unwrap();
/// assert_eq!(m["shop"], "shop-copy");
/// assert!(k8sops_backup::restore::parse_namespace_mapping("shop").is_err());
/// assert!(k8sops_backup::restore::parse_namespace_mapping("a:b,a:c").is_err());
/// ```
pub fn parse_namespace_mapping(s: &str) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((from, to)) = pair.split_once(':') else {
            return Err(format!("{pair:?} is not OLD:NEW"));
        };
        let (from, to) = (from.trim(), to.trim());
        for ns in [from, to] {
            if !is_namespace_name(ns) {
                return Err(format!("{ns:?} in {pair:?} is not a namespace name"));
            }
        }
        if out.insert(from.to_string(), to.to_string()).is_some() {
            return Err(format!("namespace {from:?} is mapped twice"));
        }
    }
    Ok(out)
}

/// A DNS label, as namespace names are.
fn is_namespace_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// How to restore. `Default` restores everything in the backup, skipping
/// objects that already exist, for real.
///
/// ```
/// use k8sops_backup::restore::{ExistingPolicy, RestoreParams};
/// use k8sops_core::DryRun;
/// let p = RestoreParams::default()
///     .namespace_mapping([("shop", "shop-restored")])
///     .existing(ExistingPolicy::Update)
///     .dry_run(DryRun::Server);
/// assert_eq!(p.namespace_mapping["shop"], "shop-restored");
/// ```
#[derive(Debug, Clone)]
pub struct RestoreParams {
    /// Namespaces of the backup to restore; empty means all. `*` matches
    /// any run of characters.
    pub include_namespaces: Vec<String>,
    /// Namespaces of the backup to leave out.
    pub exclude_namespaces: Vec<String>,
    /// Resource types to restore (plural, singular, kind or short name,
    /// optionally `.group`, or `*`); empty means all. Short and singular
    /// names are the target server's (from its discovery), as kubectl
    /// resolves them; a type the server does not serve yet is named by its
    /// plural or kind.
    pub include_resources: Vec<String>,
    /// Resource types to leave out.
    pub exclude_resources: Vec<String>,
    /// Only objects whose labels match.
    pub selector: Option<LabelSelector>,
    /// Cluster-scoped objects: `Some(true)` always, `Some(false)` never,
    /// `None` only when `include_namespaces` is empty. Namespace objects
    /// follow the namespace filter either way, and CustomResourceDefinitions
    /// are restored with `None` whenever the backup holds them.
    pub include_cluster_resources: Option<bool>,
    /// Restore the objects of namespace `old` into `new`.
    pub namespace_mapping: BTreeMap<String, String>,
    /// What to do with objects that already exist.
    pub existing: ExistingPolicy,
    /// `Server` checks each change with `dryRun=All`; `Client` sends nothing.
    pub dry_run: DryRun,
    /// Objects restored at once within a tier (default 8).
    pub concurrency: usize,
    /// How long to wait for a restored CustomResourceDefinition to be
    /// served before its custom resources are created (default 60 s, as Velero).
    pub crd_timeout: Duration,
    /// Stops the restore: nothing new is sent once it fires. See [`restore`].
    pub cancel: Option<CancellationToken>,
}

impl Default for RestoreParams {
    fn default() -> Self {
        RestoreParams {
            include_namespaces: Vec::new(),
            exclude_namespaces: Vec::new(),
            include_resources: Vec::new(),
            exclude_resources: Vec::new(),
            selector: None,
            include_cluster_resources: None,
            namespace_mapping: BTreeMap::new(),
            existing: ExistingPolicy::Skip,
            dry_run: DryRun::None,
            concurrency: 8,
            crd_timeout: Duration::from_secs(60),
            cancel: None,
        }
    }
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
            self.$name = items.into_iter().map(Into::into).collect();
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

impl RestoreParams {
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
    setter!(/// Sets [`existing`](Self::existing).
        existing: ExistingPolicy);
    setter!(/// Sets [`dry_run`](Self::dry_run).
        dry_run: DryRun);
    setter!(/// Sets [`concurrency`](Self::concurrency).
        concurrency: usize);
    setter!(/// Sets [`crd_timeout`](Self::crd_timeout).
        crd_timeout: Duration);
    setter!(/// Sets [`cancel`](Self::cancel).
        cancel: CancellationToken);

    /// Sets [`namespace_mapping`](Self::namespace_mapping).
    ///
    /// ```
    /// let p = k8sops_backup::restore::RestoreParams::default().namespace_mapping([("a", "b")]);
    /// assert_eq!(p.namespace_mapping.len(), 1);
    /// ```
    #[must_use]
    pub fn namespace_mapping<I, A, B>(mut self, pairs: I) -> Self
    where
        I: IntoIterator<Item = (A, B)>,
        A: Into<String>,
        B: Into<String>,
    {
        self.namespace_mapping = pairs.into_iter().map(|(a, b)| (a.into(), b.into())).collect();
        self
    }

    fn validate(&self) -> Result<()> {
        let invalid = |message: String| -> Error { k8sops_core::Error::InvalidInput { message, source: None }.into() };
        if self.concurrency == 0 {
            return Err(invalid("concurrency must be at least 1".into()));
        }
        for p in self.include_namespaces.iter().chain(&self.exclude_namespaces) {
            if !is_namespace_pattern(p) {
                return Err(invalid(format!("{p:?} is not a namespace name or pattern")));
            }
        }
        for p in self.include_resources.iter().chain(&self.exclude_resources) {
            if p.trim().is_empty() || p.contains(['/', ' ']) {
                return Err(invalid(format!("{p:?} is not a resource name")));
            }
        }
        for (from, to) in &self.namespace_mapping {
            if !is_namespace_name(from) || !is_namespace_name(to) {
                return Err(invalid(format!("namespace mapping {from}:{to}: both sides must be namespace names")));
            }
        }
        Ok(())
    }

    fn map_ns<'a>(&'a self, ns: &'a str) -> &'a str {
        self.namespace_mapping.get(ns).map_or(ns, String::as_str)
    }
}

/// Why an object was not restored although it was selected.
///
/// ```
/// use k8sops_backup::restore::SkipReason;
/// assert_eq!(SkipReason::AlreadyExists.to_string(), "already exists");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum SkipReason {
    /// It exists and the policy is [`ExistingPolicy::Skip`].
    AlreadyExists,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::AlreadyExists => "already exists",
        })
    }
}

/// What happened to one object.
///
/// ```
/// use k8sops_backup::restore::RestoreOutcome;
/// assert_eq!(RestoreOutcome::WouldCreate.to_string(), "would be created");
/// assert!(RestoreOutcome::Created.succeeded());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RestoreOutcome {
    /// Created.
    Created,
    /// It existed and was updated (policy [`ExistingPolicy::Update`]).
    Updated,
    /// Dry run: it would be created (the server accepted it, for a server dry run).
    WouldCreate,
    /// Dry run: it exists and would be updated.
    WouldUpdate,
    /// Left alone.
    Skipped(SkipReason),
    /// Not restored, and why: the server's refusal, or a damaged file.
    Failed(Failure<Error>),
    /// Not attempted: the restore was cancelled first.
    NotAttempted,
}

impl RestoreOutcome {
    /// Whether the object is (or, in a dry run, would be) as the backup
    /// has it, or deliberately left alone.
    ///
    /// ```
    /// assert!(!k8sops_backup::restore::RestoreOutcome::NotAttempted.succeeded());
    /// ```
    pub fn succeeded(&self) -> bool {
        !matches!(self, RestoreOutcome::Failed(_) | RestoreOutcome::NotAttempted)
    }
}

impl fmt::Display for RestoreOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestoreOutcome::Created => f.write_str("created"),
            RestoreOutcome::Updated => f.write_str("updated"),
            RestoreOutcome::WouldCreate => f.write_str("would be created"),
            RestoreOutcome::WouldUpdate => f.write_str("would be updated"),
            RestoreOutcome::Skipped(why) => write!(f, "skipped: {why}"),
            RestoreOutcome::Failed(e) => write!(f, "failed: {e}"),
            RestoreOutcome::NotAttempted => f.write_str("not attempted"),
        }
    }
}

/// One object's line in the report.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let source = k8sops_testkit::TestServer::start().await?;
/// # source.load(&k8sops_testkit::DemoCluster::small())?;
/// # let target = k8sops_testkit::TestServer::start().await?;
/// use std::sync::Arc;
/// use k8sops_backup::{export::{export, ExportParams}, layout::Location, object_store::memory::InMemory, restore::{restore, RestoreOutcome, RestoreParams}};
/// let at = Location::store(Arc::new(InMemory::new()), "b");
/// export(&source.cluster(), &at, &ExportParams::default().include_namespaces(["shop"])).await?;
/// let report = restore(&target.cluster(), &at, &RestoreParams::default()).await?;
/// for o in &report.objects {
///     println!("{} {}/{}: {}", o.kind, o.namespace.as_deref().unwrap_or("-"), o.name, o.outcome);
/// }
/// assert!(report.objects.iter().any(|o| o.kind == "Deployment" && o.outcome == RestoreOutcome::Created));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoredObject {
    /// `apiVersion`.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// The namespace it was restored into (after mapping); `None` for
    /// cluster-scoped objects.
    pub namespace: Option<String>,
    /// Its name in the cluster (a mapped Namespace has its new name).
    pub name: String,
    /// The file in the backup; `None` for a namespace created because
    /// restored objects needed it.
    pub path: Option<String>,
    /// The tier it was restored in.
    pub tier: Tier,
    /// What happened.
    pub outcome: RestoreOutcome,
    /// Something to know about it (why a dry run could not check it, a
    /// namespace created for other objects).
    pub note: Option<String>,
}

impl RestoredObject {
    fn label(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// How a restore ended.
///
/// ```
/// assert_eq!(k8sops_backup::restore::RestoreStatus::PartiallyFailed.to_string(), "partially failed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RestoreStatus {
    /// Every selected object was restored, updated or deliberately skipped
    /// (or, in a dry run, would be).
    Completed,
    /// Some objects failed; the others were restored.
    PartiallyFailed,
    /// Cancelled; the objects not attempted say where it stopped.
    Cancelled,
}

impl fmt::Display for RestoreStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RestoreStatus::Completed => "completed",
            RestoreStatus::PartiallyFailed => "partially failed",
            RestoreStatus::Cancelled => "cancelled",
        })
    }
}

/// Objects per outcome.
///
/// ```
/// let c = k8sops_backup::restore::RestoreCounts::default();
/// assert_eq!(c.created + c.failed, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RestoreCounts {
    /// Created.
    pub created: usize,
    /// Updated.
    pub updated: usize,
    /// Would be created (dry run).
    pub would_create: usize,
    /// Would be updated (dry run).
    pub would_update: usize,
    /// Skipped.
    pub skipped: usize,
    /// Failed.
    pub failed: usize,
    /// Not attempted (cancelled).
    pub not_attempted: usize,
}

/// The result of a restore: every selected object's outcome.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let source = k8sops_testkit::TestServer::start().await?;
/// # source.load(&k8sops_testkit::DemoCluster::small())?;
/// # let target = k8sops_testkit::TestServer::start().await?;
/// use std::sync::Arc;
/// use k8sops_backup::{export::{export, ExportParams}, layout::Location, object_store::memory::InMemory, restore::{restore, RestoreParams}};
/// let at = Location::store(Arc::new(InMemory::new()), "b");
/// export(&source.cluster(), &at, &ExportParams::default()).await?;
/// let report = restore(&target.cluster(), &at, &RestoreParams::default()).await?;
/// print!("{report}");
/// let counts = report.counts();
/// assert_eq!(counts.failed, 0, "{report}");
/// assert!(counts.created > 0 && counts.skipped > 0, "kube-system and default exist in every cluster");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    /// Where the backup was read from.
    pub location: String,
    /// The cluster the backup was taken from.
    pub source: SourceCluster,
    /// When the backup was taken.
    pub backup_created_at: String,
    /// Dry-run mode.
    pub dry_run: DryRun,
    /// The existing-object policy.
    pub existing: ExistingPolicy,
    /// How it ended.
    pub status: RestoreStatus,
    /// Every selected object, in restore order.
    pub objects: Vec<RestoredObject>,
    /// Objects of the backup the filters left out.
    pub filtered: usize,
    /// Things to know: an incomplete backup, a CustomResourceDefinition
    /// that was not served in time.
    pub warnings: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

impl RestoreReport {
    /// Objects per outcome.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let source = k8sops_testkit::TestServer::start().await?;
    /// # source.load(&k8sops_testkit::DemoCluster::small())?;
    /// use std::sync::Arc;
    /// use k8sops_backup::{export::{export, ExportParams}, layout::Location, object_store::memory::InMemory, restore::{restore, RestoreParams}};
    /// let at = Location::store(Arc::new(InMemory::new()), "b");
    /// export(&source.cluster(), &at, &ExportParams::default()).await?;
    /// // Restoring into the cluster it came from: everything exists already.
    /// let counts = restore(&source.cluster(), &at, &RestoreParams::default()).await?.counts();
    /// assert_eq!((counts.created, counts.failed), (0, 0));
    /// # Ok(()) }
    /// ```
    pub fn counts(&self) -> RestoreCounts {
        let mut c = RestoreCounts::default();
        for o in &self.objects {
            match o.outcome {
                RestoreOutcome::Created => c.created += 1,
                RestoreOutcome::Updated => c.updated += 1,
                RestoreOutcome::WouldCreate => c.would_create += 1,
                RestoreOutcome::WouldUpdate => c.would_update += 1,
                RestoreOutcome::Skipped(_) => c.skipped += 1,
                RestoreOutcome::Failed(_) => c.failed += 1,
                RestoreOutcome::NotAttempted => c.not_attempted += 1,
            }
        }
        c
    }

    /// The objects that failed.
    ///
    /// ```
    /// # fn f(report: &k8sops_backup::restore::RestoreReport) {
    /// for o in report.failed() {
    ///     eprintln!("{} {}: {}", o.kind, o.name, o.outcome);
    /// }
    /// # }
    /// ```
    pub fn failed(&self) -> Vec<&RestoredObject> {
        self.objects.iter().filter(|o| matches!(o.outcome, RestoreOutcome::Failed(_))).collect()
    }

    /// The report if the restore completed, otherwise
    /// [`Error::Core`]`(`[`k8sops_core::Error::Cancelled`]`)` or
    /// [`Error::RestoreIncomplete`] with the report.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let source = k8sops_testkit::TestServer::start().await?;
    /// # let target = k8sops_testkit::TestServer::start().await?;
    /// use std::sync::Arc;
    /// use k8sops_backup::{export::{export, ExportParams}, layout::Location, object_store::memory::InMemory, restore::{restore, RestoreParams}};
    /// let at = Location::store(Arc::new(InMemory::new()), "b");
    /// export(&source.cluster(), &at, &ExportParams::default()).await?;
    /// restore(&target.cluster(), &at, &RestoreParams::default()).await?.ensure_completed()?;
    /// # Ok(()) }
    /// ```
    pub fn ensure_completed(self) -> Result<Self> {
        match self.status {
            RestoreStatus::Completed => Ok(self),
            RestoreStatus::Cancelled => {
                Err(k8sops_core::Error::Cancelled { during: format!("the restore from {}", self.location) }.into())
            }
            RestoreStatus::PartiallyFailed => Err(Error::RestoreIncomplete {
                location: self.location.clone(),
                failed: self.counts().failed,
                report: Box::new(self),
            }),
        }
    }
}

impl fmt::Display for RestoreReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = Table::new(["KIND", "NAMESPACE", "NAME", "RESULT"]);
        for o in &self.objects {
            let mut result = o.outcome.to_string();
            if let Some(note) = &o.note {
                result = format!("{result} ({note})");
            }
            t.row([o.kind.clone(), o.namespace.clone().unwrap_or_default(), o.name.clone(), result]);
        }
        if !self.objects.is_empty() {
            write!(f, "{t}")?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        let c = self.counts();
        let mut parts = Vec::new();
        for (n, what) in [
            (c.created, "created"),
            (c.updated, "updated"),
            (c.would_create, "would be created"),
            (c.would_update, "would be updated"),
            (c.skipped, "skipped (already exist)"),
            (c.failed, "failed"),
            (c.not_attempted, "not attempted"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        if parts.is_empty() {
            parts.push("nothing to restore".into());
        }
        let dry = match self.dry_run {
            DryRun::None => String::new(),
            mode => format!("Dry run ({mode}): "),
        };
        writeln!(
            f,
            "{dry}restore of {} (Kubernetes {}, {}): {}; {} object(s) not selected; {} in {:.1}s",
            self.location,
            self.source.version,
            self.backup_created_at,
            parts.join(", "),
            self.filtered,
            self.status,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Progress of a restore.
///
/// ```
/// use k8sops_backup::restore::{RestoreEvent, Tier};
/// let e = RestoreEvent::TierStarted { tier: Tier::Namespaces, objects: 3 };
/// assert!(matches!(e, RestoreEvent::TierStarted { objects: 3, .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum RestoreEvent {
    /// The manifest was read and the filters applied.
    Loaded {
        /// Objects in the backup.
        objects: usize,
        /// Objects selected (a label selector may still leave some out).
        selected: usize,
    },
    /// A tier starts.
    TierStarted {
        /// Which.
        tier: Tier,
        /// Objects in it.
        objects: usize,
    },
    /// One object is done.
    Restored {
        /// `Kind namespace/name`.
        object: String,
        /// What happened.
        outcome: RestoreOutcome,
    },
    /// Waiting for a restored CustomResourceDefinition to be served.
    WaitingForCrd {
        /// Its name.
        name: String,
    },
}

/// Reads and checks the manifest of a backup: what [`restore`] would
/// restore from, without a cluster.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// use std::sync::Arc;
/// use k8sops_backup::{export::{export, ExportParams}, layout::Location, object_store::memory::InMemory, restore::read_manifest};
/// let at = Location::store(Arc::new(InMemory::new()), "b");
/// export(&server.cluster(), &at, &ExportParams::default()).await?;
/// let manifest = read_manifest(&at).await?;
/// assert_eq!(manifest.total, manifest.files.len());
/// assert!(manifest.counts["deployments.apps"] > 0);
/// # Ok(()) }
/// ```
pub async fn read_manifest(from: &Location) -> Result<Manifest> {
    source::read_manifest(from).await
}

/// Restores the backup at `from` into the cluster (see the module docs).
///
/// `Err` only when nothing could be restored: the parameters are invalid,
/// or the backup has no readable manifest (checked before anything
/// changes). Every selected object's outcome is in the report.
///
/// # Cancel safety
///
/// After [`RestoreParams::cancel`] fires, no new create or update is sent;
/// requests in flight finish. What was restored stays: the report lists it,
/// and every object not sent as [`NotAttempted`](RestoreOutcome::NotAttempted).
/// Running the same restore again with [`ExistingPolicy::Skip`] finishes
/// the job (what exists is skipped). Dropping the future instead stops at
/// once, and only the progress events tell what was done.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let source = k8sops_testkit::TestServer::start().await?;
/// # source.load(&k8sops_testkit::DemoCluster::small())?;
/// use std::sync::Arc;
/// use k8sops_backup::{export::{export, ExportParams}, layout::Location, object_store::memory::InMemory, restore::{restore, RestoreParams}};
/// let at = Location::store(Arc::new(InMemory::new()), "b");
/// export(&source.cluster(), &at, &ExportParams::default().include_namespaces(["shop"])).await?;
/// // A copy of the shop namespace, next to the original.
/// let params = RestoreParams::default().namespace_mapping([("shop", "shop-copy")]);
/// let report = restore(&source.cluster(), &at, &params).await?;
/// assert!(report.objects.iter().any(|o| o.kind == "Namespace" && o.name == "shop-copy"));
/// # Ok(()) }
/// ```
pub async fn restore(cluster: &Cluster, from: &Location, params: &RestoreParams) -> Result<RestoreReport> {
    restore_with_progress(cluster, from, params, &NoProgress).await
}

/// [`restore`], reporting each step as a [`RestoreEvent`].
///
/// # Cancel safety
///
/// As [`restore`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let source = k8sops_testkit::TestServer::start().await?;
/// # source.load(&k8sops_testkit::DemoCluster::small())?;
/// use std::sync::Arc;
/// use k8sops_backup::{export::{export, ExportParams}, layout::Location, object_store::memory::InMemory,
///     restore::{restore_with_progress, RestoreEvent, RestoreParams}};
/// let at = Location::store(Arc::new(InMemory::new()), "b");
/// export(&source.cluster(), &at, &ExportParams::default()).await?;
/// let events = k8sops_core::Recorder::default();
/// let params = RestoreParams::default().dry_run(k8sops_core::DryRun::Server);
/// restore_with_progress(&source.cluster(), &at, &params, &events).await?;
/// assert!(matches!(events.events().first(), Some(RestoreEvent::Loaded { .. })));
/// # Ok(()) }
/// ```
pub async fn restore_with_progress(
    cluster: &Cluster,
    from: &Location,
    params: &RestoreParams,
    progress: &dyn ProgressSink<RestoreEvent>,
) -> Result<RestoreReport> {
    params.validate()?;
    let started = Instant::now();
    let manifest = source::read_manifest(from).await?;
    let mut warnings = Vec::new();
    if !manifest.complete {
        let missing: Vec<String> =
            manifest.failed_resources.iter().map(|f| format!("{} ({})", f.resource, f.reason)).collect();
        warnings.push(format!("the backup is incomplete: these were not exported: {}", missing.join(", ")));
    }

    let namespaces = NamespaceFilter::new(&params.include_namespaces, &params.exclude_namespaces);
    let cluster_scoped = params
        .include_cluster_resources
        .unwrap_or_else(|| params.include_namespaces.is_empty() || params.include_namespaces.iter().any(|n| n == "*"));
    // Resource names as the target server knows them (short names, singular), as kubectl resolves them.
    let mut names: HashMap<(String, String), ResourceType> = HashMap::new();
    if !params.include_resources.is_empty() || !params.exclude_resources.is_empty() {
        for t in discover(cluster).await?.types {
            names.insert((t.ar.group.clone(), t.ar.plural.clone()), t);
        }
    }
    let mut by_tier: BTreeMap<Tier, Vec<usize>> = BTreeMap::new();
    let mut filtered = 0;
    for (i, e) in manifest.files.iter().enumerate() {
        if selected(e, params, &namespaces, cluster_scoped, &names) {
            by_tier.entry(Tier::of(e.group(), &e.kind)).or_default().push(i);
        } else {
            filtered += 1;
        }
    }
    for list in by_tier.values_mut() {
        list.sort_by(|a, b| {
            let (a, b) = (&manifest.files[*a], &manifest.files[*b]);
            (&a.kind, &a.namespace, &a.name).cmp(&(&b.kind, &b.namespace, &b.name))
        });
    }
    // Namespaces objects are restored into that the backup's Namespace objects do not create.
    let restored_namespaces: HashSet<&str> = by_tier
        .get(&Tier::Namespaces)
        .into_iter()
        .flatten()
        .map(|i| &manifest.files[*i])
        .filter(|e| e.kind == "Namespace" && e.group().is_empty())
        .map(|e| params.map_ns(&e.name))
        .collect();
    let needed: BTreeSet<String> = by_tier
        .values()
        .flatten()
        .filter_map(|i| manifest.files[*i].namespace.as_deref())
        .map(|ns| params.map_ns(ns))
        .filter(|ns| !restored_namespaces.contains(ns))
        .map(str::to_string)
        .collect();
    let selected_count: usize = by_tier.values().map(Vec::len).sum();
    progress.emit(RestoreEvent::Loaded { objects: manifest.files.len(), selected: selected_count });

    let cancel = params.cancel.clone().unwrap_or_default();
    let run = Run {
        cluster,
        params,
        from,
        manifest: &manifest,
        progress,
        cancel: &cancel,
        filtered: std::sync::atomic::AtomicUsize::new(0),
        pending_namespaces: Mutex::default(),
        pending_types: Mutex::default(),
        fresh_types: Mutex::default(),
    };
    let mut objects: Vec<RestoredObject> = Vec::with_capacity(selected_count + needed.len());
    for tier in Tier::ALL {
        let indices = by_tier.remove(&tier).unwrap_or_default();
        let extra: Vec<String> = if tier == Tier::Namespaces { needed.iter().cloned().collect() } else { Vec::new() };
        if indices.is_empty() && extra.is_empty() {
            continue;
        }
        progress.emit(RestoreEvent::TierStarted { tier, objects: indices.len() + extra.len() });
        let created_for: Vec<RestoredObject> = stream::iter(extra)
            .map(|ns| run.ensure_namespace(ns))
            .buffer_unordered(params.concurrency)
            .filter_map(|o| async move { o })
            .collect()
            .await;
        objects.extend(created_for);
        let mut done = run.restore_tier(tier, &indices).await;
        done.sort_by(|a, b| (&a.kind, &a.namespace, &a.name).cmp(&(&b.kind, &b.namespace, &b.name)));
        if tier == Tier::CustomResourceDefinitions && params.dry_run == DryRun::None {
            warnings.extend(run.wait_for_crds(&done).await);
        }
        objects.extend(done);
    }
    let filtered = filtered + run.filtered.load(std::sync::atomic::Ordering::Relaxed);
    drop(run);

    let status = if cancel.is_cancelled() && objects.iter().any(|o| o.outcome == RestoreOutcome::NotAttempted) {
        RestoreStatus::Cancelled
    } else if objects.iter().any(|o| matches!(o.outcome, RestoreOutcome::Failed(_))) {
        RestoreStatus::PartiallyFailed
    } else {
        RestoreStatus::Completed
    };
    Ok(RestoreReport {
        location: from.to_string(),
        source: manifest.cluster.clone(),
        backup_created_at: manifest.created_at.clone(),
        dry_run: params.dry_run,
        existing: params.existing,
        status,
        objects,
        filtered,
        warnings,
        elapsed: started.elapsed(),
    })
}

/// Whether the filters select a file of the backup (the label selector is
/// checked once the object is read).
fn selected(
    e: &ManifestEntry,
    params: &RestoreParams,
    namespaces: &NamespaceFilter,
    cluster_scoped: bool,
    names: &HashMap<(String, String), ResourceType>,
) -> bool {
    let known = names.get(&(e.group().to_string(), e.resource.clone()));
    let rt = ResourceType {
        ar: api_resource(e),
        namespaced: e.namespace.is_some(),
        singular: known.map_or_else(|| e.kind.to_ascii_lowercase(), |t| t.singular.clone()),
        short_names: known.map(|t| t.short_names.clone()).unwrap_or_default(),
        verbs: Vec::new(),
    };
    let named = |list: &[String]| list.iter().any(|p| rt.matches(p));
    if !params.include_resources.is_empty() && !named(&params.include_resources) || named(&params.exclude_resources) {
        return false;
    }
    let is_namespace = e.kind == "Namespace" && e.group().is_empty();
    match &e.namespace {
        Some(ns) => namespaces.matches(ns),
        None if is_namespace => namespaces.matches(&e.name),
        None if e.kind == "CustomResourceDefinition" && e.group() == "apiextensions.k8s.io" => {
            cluster_scoped || params.include_cluster_resources.is_none()
        }
        None => cluster_scoped,
    }
}

fn api_resource(e: &ManifestEntry) -> ApiResource {
    ApiResource {
        group: e.group().to_string(),
        version: e.version().to_string(),
        api_version: e.api_version.clone(),
        kind: e.kind.clone(),
        plural: e.resource.clone(),
    }
}

/// One restore in progress.
struct Run<'a> {
    cluster: &'a Cluster,
    params: &'a RestoreParams,
    from: &'a Location,
    manifest: &'a Manifest,
    progress: &'a dyn ProgressSink<RestoreEvent>,
    cancel: &'a CancellationToken,
    /// Objects the label selector left out.
    filtered: std::sync::atomic::AtomicUsize,
    /// Namespaces a dry run would create: objects in them cannot be checked.
    pending_namespaces: Mutex<HashSet<String>>,
    /// `(group, plural)` of custom resources whose CRD a dry run would create.
    pending_types: Mutex<HashSet<(String, String)>>,
    /// `(group, plural)` of CRDs this restore created: their resources may
    /// take a moment to be served.
    fresh_types: Mutex<HashSet<(String, String)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Run<'_> {
    /// The backup being read is not usable, for `reason`.
    fn invalid(&self, reason: String) -> Error {
        Error::InvalidBackup { location: self.from.to_string(), reason }
    }

    fn report(&self, e: &ManifestEntry, tier: Tier, outcome: RestoreOutcome, note: Option<String>) -> RestoredObject {
        let namespace = e.namespace.as_deref().map(|ns| self.params.map_ns(ns).to_string());
        let name = if e.kind == "Namespace" && e.group().is_empty() {
            self.params.map_ns(&e.name).to_string()
        } else {
            e.name.clone()
        };
        let o = RestoredObject {
            api_version: e.api_version.clone(),
            kind: e.kind.clone(),
            namespace,
            name,
            path: Some(e.path.clone()),
            tier,
            outcome,
            note,
        };
        self.progress.emit(RestoreEvent::Restored { object: o.label(), outcome: o.outcome.clone() });
        o
    }

    /// Restores the files `indices` of one tier, `concurrency` at a time.
    async fn restore_tier(&self, tier: Tier, indices: &[usize]) -> Vec<RestoredObject> {
        let c = self.params.concurrency;
        let out: Vec<Option<RestoredObject>> = match self.from {
            Location::Store { store, .. } => {
                stream::iter(indices.iter().copied())
                    .map(|i| async move {
                        let e = &self.manifest.files[i];
                        if self.cancel.is_cancelled() {
                            return Some(self.report(e, tier, RestoreOutcome::NotAttempted, None));
                        }
                        // A file the manifest lists but the store lacks, or of
                        // another size, is a damaged backup (read no further);
                        // any other store error stays a store error with its
                        // source: a timeout reading S3 is not a damaged backup.
                        let bytes = match self.from.key(&e.path) {
                            Some(key) => match store.get(&key).await {
                                Ok(got) if got.meta.size != e.size => Err(Error::ChecksumMismatch {
                                    what: format!("{} in {}", e.path, self.from),
                                    expected: format!("sha256 {} ({} bytes)", e.sha256, e.size),
                                    actual: format!("{} bytes in the store", got.meta.size),
                                }),
                                Ok(got) => got.bytes().await.map_err(Error::from),
                                Err(object_store::Error::NotFound { .. }) => {
                                    Err(self.invalid(format!("{}: listed in the manifest but missing", e.path)))
                                }
                                Err(err) => Err(Error::from(err)),
                            },
                            None => Err(self.invalid(format!("{}: not a path inside the backup", e.path))),
                        };
                        self.restore_one(tier, i, bytes).await
                    })
                    .buffer_unordered(c)
                    .collect()
                    .await
            }
            Location::Archive(path) => {
                let wanted: HashMap<String, usize> =
                    indices.iter().map(|i| (self.manifest.files[*i].path.clone(), *i)).collect();
                let rx = source::archive_files(path.clone(), wanted, c);
                stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
                    .map(|(i, bytes)| {
                        let bytes =
                            bytes.map_err(|why| self.invalid(format!("{}: {why}", self.manifest.files[i].path)));
                        self.restore_one(tier, i, bytes)
                    })
                    .buffer_unordered(c)
                    .collect()
                    .await
            }
        };
        out.into_iter().flatten().collect()
    }

    /// Checks, prepares and applies one file; `None` when the label
    /// selector leaves it out.
    async fn restore_one(&self, tier: Tier, i: usize, bytes: Result<Bytes>) -> Option<RestoredObject> {
        let e = &self.manifest.files[i];
        if self.cancel.is_cancelled() {
            return Some(self.report(e, tier, RestoreOutcome::NotAttempted, None));
        }
        let failed = |err: Error| Some(self.report(e, tier, RestoreOutcome::Failed(Failure::new(err)), None));
        let invalid = |reason: String| self.invalid(reason);
        let bytes = match bytes {
            Ok(b) => b,
            Err(err) => return failed(err),
        };
        let actual = sha256_hex(&bytes);
        if actual != e.sha256.to_ascii_lowercase() || bytes.len() as u64 != e.size {
            return failed(Error::ChecksumMismatch {
                what: format!("{} in {}", e.path, self.from),
                expected: format!("sha256 {} ({} bytes)", e.sha256, e.size),
                actual: format!("sha256 {actual} ({} bytes)", bytes.len()),
            });
        }
        let mut obj: Value = match serde_norway::from_slice(&bytes) {
            Ok(v) => v,
            Err(err) => return failed(invalid(format!("{}: not a YAML object: {err}", e.path))),
        };
        let matches = obj["apiVersion"].as_str() == Some(e.api_version.as_str())
            && obj["kind"].as_str() == Some(e.kind.as_str())
            && obj["metadata"]["name"].as_str() == Some(e.name.as_str())
            && obj["metadata"]["namespace"].as_str() == e.namespace.as_deref();
        if !matches {
            return failed(invalid(format!(
                "{} does not hold the object the manifest names ({} {})",
                e.path, e.kind, e.name
            )));
        }
        if let Some(sel) = self.params.selector.as_ref().filter(|s| !s.is_empty()) {
            let labels: BTreeMap<String, String> = obj["metadata"]["labels"]
                .as_object()
                .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
                .unwrap_or_default();
            if !sel.matches(&labels) {
                self.filtered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return None;
            }
        }
        prepare(&mut obj, e, &self.params.namespace_mapping);
        let crd_key = (e.kind == "CustomResourceDefinition" && e.group() == "apiextensions.k8s.io").then(|| {
            (
                obj["spec"]["group"].as_str().unwrap_or_default().to_string(),
                obj["spec"]["names"]["plural"].as_str().unwrap_or_default().to_string(),
            )
        });
        let (outcome, note) = self.apply(e, obj).await;
        match (&outcome, e.kind.as_str(), e.group()) {
            (RestoreOutcome::WouldCreate, "Namespace", "") => {
                lock(&self.pending_namespaces).insert(self.params.map_ns(&e.name).to_string());
            }
            (RestoreOutcome::WouldCreate, _, _) if crd_key.is_some() => {
                lock(&self.pending_types).extend(crd_key);
            }
            (RestoreOutcome::Created | RestoreOutcome::Updated, _, _) if crd_key.is_some() => {
                lock(&self.fresh_types).extend(crd_key);
            }
            _ => {}
        }
        Some(self.report(e, tier, outcome, note))
    }

    /// Creates the object, or handles it existing, per the policy and dry run.
    async fn apply(&self, e: &ManifestEntry, obj: Value) -> (RestoreOutcome, Option<String>) {
        let fail = |err: Error| (RestoreOutcome::Failed(Failure::new(err)), None);
        if self.params.dry_run == DryRun::Client {
            return (RestoreOutcome::WouldCreate, Some("client dry run: not checked by the server".into()));
        }
        let server_dry = self.params.dry_run.server_side();
        let ar = api_resource(e);
        let namespace = e.namespace.as_deref().map(|ns| self.params.map_ns(ns));
        let client = self.cluster.client().clone();
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(client, ns, &ar),
            None => Api::all_with(client, &ar),
        };
        let dynamic: DynamicObject = match serde_json::from_value(obj) {
            Ok(d) => d,
            Err(err) => {
                return fail(Error::InvalidBackup {
                    location: self.from.to_string(),
                    reason: format!("{}: not a Kubernetes object: {err}", e.path),
                })
            }
        };
        let name = dynamic.metadata.name.clone().unwrap_or_default();
        let what = match namespace {
            Some(ns) => format!("{} {ns}/{name}", e.kind),
            None => format!("{} {name}", e.kind),
        };
        // A create answered 404 means the type is not served or the namespace is missing.
        let served = match namespace {
            Some(ns) => format!("the resource type {} ({}) or namespace {ns}", e.resource_name(), e.api_version),
            None => format!("the resource type {} ({})", e.resource_name(), e.api_version),
        };
        let pp = PostParams { dry_run: server_dry, field_manager: Some(FIELD_MANAGER.to_string()) };
        let type_key = (e.group().to_string(), e.resource.clone());
        let fresh = lock(&self.fresh_types).contains(&type_key);
        let deadline = Instant::now() + self.params.crd_timeout;
        let created = loop {
            let res = self
                .cluster
                .retry_policy()
                .run(|_| async { api.create(&pp, &dynamic).await.map_err(|err| self.cluster.map_err(err, &served)) })
                .await;
            match res {
                // A type whose CRD was just created may be served a moment later.
                Err(err) if err.is_not_found() && fresh && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                other => break other,
            }
        };
        match created {
            Ok(_) if server_dry => (RestoreOutcome::WouldCreate, None),
            Ok(_) => (RestoreOutcome::Created, None),
            Err(k8sops_core::Error::AlreadyExists { .. }) => match self.params.existing {
                ExistingPolicy::Skip => (RestoreOutcome::Skipped(SkipReason::AlreadyExists), None),
                ExistingPolicy::Update => {
                    let mut pp = PatchParams::apply(FIELD_MANAGER).force();
                    if server_dry {
                        pp = pp.dry_run();
                    }
                    let res = self
                        .cluster
                        .retry_policy()
                        .run(|_| async {
                            api.patch(&name, &pp, &Patch::Apply(&dynamic))
                                .await
                                .map_err(|err| self.cluster.map_err(err, &what))
                        })
                        .await;
                    match res {
                        Ok(_) if server_dry => (RestoreOutcome::WouldUpdate, None),
                        Ok(_) => (RestoreOutcome::Updated, None),
                        Err(err) => fail(err.into()),
                    }
                }
            },
            Err(err) if err.is_not_found() && server_dry => {
                let ns_pending = namespace.is_some_and(|ns| lock(&self.pending_namespaces).contains(ns));
                let type_pending = lock(&self.pending_types).contains(&type_key);
                if ns_pending || type_pending {
                    let why = if type_pending {
                        format!(
                            "not checked by the server: its CustomResourceDefinition ({}) is created first",
                            e.resource_name()
                        )
                    } else {
                        format!(
                            "not checked by the server: namespace {} is created first",
                            namespace.unwrap_or_default()
                        )
                    };
                    (RestoreOutcome::WouldCreate, Some(why))
                } else {
                    fail(err.into())
                }
            }
            Err(err) => fail(err.into()),
        }
    }

    /// Creates a namespace the restored objects need; reported only when
    /// it did not exist.
    async fn ensure_namespace(&self, ns: String) -> Option<RestoredObject> {
        let note = Some("not in the backup (or not selected): created for the objects restored into it".to_string());
        let report = |outcome: RestoreOutcome, note: Option<String>| {
            let o = RestoredObject {
                api_version: "v1".into(),
                kind: "Namespace".into(),
                namespace: None,
                name: ns.clone(),
                path: None,
                tier: Tier::Namespaces,
                outcome,
                note,
            };
            self.progress.emit(RestoreEvent::Restored { object: o.label(), outcome: o.outcome.clone() });
            Some(o)
        };
        if self.cancel.is_cancelled() {
            return report(RestoreOutcome::NotAttempted, note);
        }
        if self.params.dry_run == DryRun::Client {
            lock(&self.pending_namespaces).insert(ns.clone());
            let note =
                Some("not in the backup (or not selected); client dry run: whether it exists was not checked".into());
            return report(RestoreOutcome::WouldCreate, note);
        }
        let api: Api<DynamicObject> = Api::all_with(
            self.cluster.client().clone(),
            &ApiResource {
                group: String::new(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: "Namespace".into(),
                plural: "namespaces".into(),
            },
        );
        let body: DynamicObject = match serde_json::from_value(
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        ) {
            Ok(b) => b,
            Err(_) => return None,
        };
        let server_dry = self.params.dry_run.server_side();
        let pp = PostParams { dry_run: server_dry, field_manager: Some(FIELD_MANAGER.to_string()) };
        let what = format!("namespace {ns}");
        let res = self
            .cluster
            .retry_policy()
            .run(|_| async { api.create(&pp, &body).await.map_err(|err| self.cluster.map_err(err, &what)) })
            .await;
        match res {
            Ok(_) if server_dry => {
                lock(&self.pending_namespaces).insert(ns.clone());
                report(RestoreOutcome::WouldCreate, note)
            }
            Ok(_) => report(RestoreOutcome::Created, note),
            Err(k8sops_core::Error::AlreadyExists { .. }) => None,
            Err(err) => report(RestoreOutcome::Failed(Failure::new(err.into())), note),
        }
    }

    /// Waits until each CustomResourceDefinition this restore created or
    /// updated is Established, up to the CRD timeout; returns warnings for
    /// those that are not.
    async fn wait_for_crds(&self, done: &[RestoredObject]) -> Vec<String> {
        let crds = ApiResource {
            group: "apiextensions.k8s.io".into(),
            version: "v1".into(),
            api_version: "apiextensions.k8s.io/v1".into(),
            kind: "CustomResourceDefinition".into(),
            plural: "customresourcedefinitions".into(),
        };
        let api: Api<DynamicObject> = Api::all_with(self.cluster.client().clone(), &crds);
        let deadline = Instant::now() + self.params.crd_timeout;
        let mut warnings = Vec::new();
        for o in done.iter().filter(|o| matches!(o.outcome, RestoreOutcome::Created | RestoreOutcome::Updated)) {
            self.progress.emit(RestoreEvent::WaitingForCrd { name: o.name.clone() });
            loop {
                if self.cancel.is_cancelled() {
                    return warnings;
                }
                let established = match api.get_opt(&o.name).await {
                    Ok(Some(crd)) => crd.data["status"]["conditions"]
                        .as_array()
                        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Established" && c["status"] == "True")),
                    _ => false,
                };
                if established {
                    break;
                }
                if Instant::now() >= deadline {
                    warnings.push(format!(
                        "CustomResourceDefinition {} was not Established within {}s; its custom resources may fail",
                        o.name,
                        self.params.crd_timeout.as_secs()
                    ));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        warnings
    }
}

/// Makes a backed-up object ready to create in this cluster: server-set
/// metadata removed (in case the backup kept any) and the namespace
/// mapping applied to the object and to the namespaces it names.
fn prepare(obj: &mut Value, e: &ManifestEntry, mapping: &BTreeMap<String, String>) {
    let map = |ns: &str| mapping.get(ns).cloned();
    if let Some(meta) = obj["metadata"].as_object_mut() {
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
            "generation",
            "selfLink",
            "ownerReferences",
        ] {
            meta.remove(k);
        }
        if let Some(to) = meta.get("namespace").and_then(Value::as_str).and_then(map) {
            meta.insert("namespace".into(), Value::String(to));
        }
    }
    match (e.group(), e.kind.as_str()) {
        ("", "Namespace") => {
            if let Some(to) = map(&e.name) {
                obj["metadata"]["name"] = Value::String(to.clone());
                if let Some(labels) = obj["metadata"]["labels"].as_object_mut() {
                    if labels.contains_key("kubernetes.io/metadata.name") {
                        labels.insert("kubernetes.io/metadata.name".into(), Value::String(to));
                    }
                }
            }
        }
        ("", "PersistentVolume") => {
            if let Some(claim) = obj.get_mut("spec").and_then(|s| s.get_mut("claimRef")) {
                if let Some(to) = claim["namespace"].as_str().and_then(map) {
                    claim["namespace"] = Value::String(to);
                }
            }
        }
        ("", "ServiceAccount") => {
            // The token Secrets the token controller minted for the old
            // account are not restored (an export leaves them out, and the
            // controller deletes one whose account UID is gone): references
            // to them would dangle beside the token minted for the new
            // account. Other Secrets the account names stay, as in Velero.
            let token_prefix = format!("{}-token-", e.name);
            if let Some(secrets) = obj.get_mut("secrets").and_then(Value::as_array_mut) {
                secrets.retain(|s| !s["name"].as_str().is_some_and(|n| n.starts_with(&token_prefix)));
                if secrets.is_empty() {
                    obj.as_object_mut().map(|o| o.remove("secrets"));
                }
            }
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            if let Some(subjects) = obj.get_mut("subjects").and_then(Value::as_array_mut) {
                for s in subjects.iter_mut().filter(|s| s["kind"] == "ServiceAccount") {
                    if let Some(to) = s["namespace"].as_str().and_then(map) {
                        s["namespace"] = Value::String(to);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> ManifestEntry {
        ManifestEntry {
            path: String::new(),
            api_version: api_version.into(),
            kind: kind.into(),
            resource: format!("{}s", kind.to_ascii_lowercase()),
            namespace: namespace.map(str::to_string),
            name: name.into(),
            size: 0,
            sha256: String::new(),
        }
    }

    #[test]
    fn the_namespace_mapping_reaches_the_namespaces_an_object_names() {
        let mapping: BTreeMap<String, String> = [("shop".to_string(), "shop-copy".to_string())].into();
        let mut ns = json!({"metadata": {"name": "shop", "labels": {"kubernetes.io/metadata.name": "shop"}}});
        prepare(&mut ns, &entry("v1", "Namespace", None, "shop"), &mapping);
        assert_eq!(
            ns["metadata"],
            json!({"name": "shop-copy", "labels": {"kubernetes.io/metadata.name": "shop-copy"}})
        );
        let mut pv = json!({"metadata": {"name": "pv"}, "spec": {"claimRef": {"namespace": "shop", "name": "data"}}});
        prepare(&mut pv, &entry("v1", "PersistentVolume", None, "pv"), &mapping);
        assert_eq!(pv["spec"]["claimRef"]["namespace"], "shop-copy");
        let mut rb = json!({"metadata": {"name": "rb", "namespace": "shop", "uid": "x"},
            "subjects": [{"kind": "ServiceAccount", "name": "a", "namespace": "shop"}, {"kind": "User", "name": "jane"}]});
        prepare(&mut rb, &entry("rbac.authorization.k8s.io/v1", "RoleBinding", Some("shop"), "rb"), &mapping);
        assert_eq!(rb["metadata"], json!({"name": "rb", "namespace": "shop-copy"}));
        assert_eq!(rb["subjects"][0]["namespace"], "shop-copy");
    }

    #[test]
    fn a_service_account_loses_its_token_secrets_and_keeps_the_others() {
        let none = BTreeMap::new();
        let sa = entry("v1", "ServiceAccount", Some("shop"), "bot");
        let mut mixed = json!({"metadata": {"name": "bot", "namespace": "shop"},
            "secrets": [{"name": "bot-token-x7k2p"}, {"name": "registry"}, {"name": "other-token-abcde"}]});
        prepare(&mut mixed, &sa, &none);
        assert_eq!(mixed["secrets"], json!([{"name": "registry"}, {"name": "other-token-abcde"}]));
        let mut only_token =
            json!({"metadata": {"name": "bot", "namespace": "shop"}, "secrets": [{"name": "bot-token-x7k2p"}]});
        prepare(&mut only_token, &sa, &none);
        assert!(only_token.get("secrets").is_none(), "{only_token}");
    }

    #[test]
    fn filters_select_files_like_the_export_does() {
        let p = RestoreParams::default().include_namespaces(["shop"]).exclude_resources(["secrets"]);
        let f = NamespaceFilter::new(&p.include_namespaces, &p.exclude_namespaces);
        let cluster = p.include_cluster_resources.unwrap_or(false);
        let names = HashMap::new();
        assert!(selected(&entry("v1", "ConfigMap", Some("shop"), "a"), &p, &f, cluster, &names));
        assert!(!selected(&entry("v1", "Secret", Some("shop"), "a"), &p, &f, cluster, &names));
        assert!(!selected(&entry("v1", "ConfigMap", Some("db"), "a"), &p, &f, cluster, &names));
        assert!(selected(&entry("v1", "Namespace", None, "shop"), &p, &f, cluster, &names));
        assert!(!selected(&entry("rbac.authorization.k8s.io/v1", "ClusterRole", None, "x"), &p, &f, cluster, &names));
        let crd = entry("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, "crontabs.stable.example.com");
        assert!(selected(&crd, &p, &f, cluster, &names), "CRDs come along unless cluster resources are turned off");
    }

    #[test]
    fn namespace_mappings_parse_or_say_why_not() {
        assert_eq!(parse_namespace_mapping("").unwrap().len(), 0);
        assert!(parse_namespace_mapping("a:B").unwrap_err().contains("\"B\""));
        assert!(RestoreParams::default().namespace_mapping([("a", "-b")]).validate().is_err());
    }
}
