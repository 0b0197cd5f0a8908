//! `velero backup create` and `velero backup get`: the Backup object, the
//! options the CLI takes, and the list it prints.

use std::{collections::BTreeMap, fmt, time::Duration};

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{self as meta, ObjectMeta, Time},
    jiff::{SignedDuration, Timestamp},
};
use k8sops_core::{LabelSelector, Table};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    from_now, go_duration, go_time, phases, validate, velero_object,
    wait::{self, Followed, WaitParams},
    GetParams, Velero, VeleroEvent,
};
use crate::{Error, Result};

phases! {
    /// `status.phase` of a Backup, as Velero's `BackupPhase` constants
    /// name them.
    ///
    /// ```
    /// use k8sops_backup::velero::BackupPhase;
    /// let phase: BackupPhase = serde_json::from_str("\"PartiallyFailed\"")?;
    /// assert_eq!(phase, BackupPhase::PartiallyFailed);
    /// assert!(phase.is_finished());
    /// assert!(!BackupPhase::InProgress.is_finished());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    BackupPhase {
        /// Waiting for other backups to finish (Velero 1.17+).
        Queued,
        /// About to start (Velero 1.17+).
        ReadyToStart,
        /// The spec is invalid; nothing was backed up (see `validationErrors`).
        FailedValidation,
        /// Items are being backed up.
        InProgress,
        /// Items are backed up; asynchronous plugin operations (e.g. snapshot data movement) are running.
        WaitingForPluginOperations,
        /// As `WaitingForPluginOperations`, with errors so far.
        WaitingForPluginOperationsPartiallyFailed,
        /// The plugin operations are done; the backup is being finalized.
        Finalizing,
        /// As `Finalizing`, with errors so far.
        FinalizingPartiallyFailed,
        /// Done without errors.
        Completed,
        /// Done; some items could not be backed up (see `errors`).
        PartiallyFailed,
        /// The backup failed as a whole (see `failureReason`).
        Failed,
        /// A deletion request is removing the backup.
        Deleting,
    }
}

impl BackupPhase {
    /// Whether Velero is done with the backup: `FailedValidation`,
    /// `Completed`, `PartiallyFailed`, `Failed` (what `velero backup create
    /// --wait` waits for), or `Deleting`, after which nothing else follows.
    ///
    /// ```
    /// use k8sops_backup::velero::BackupPhase;
    /// assert!(BackupPhase::Completed.is_finished());
    /// assert!(!BackupPhase::WaitingForPluginOperations.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        matches!(self, Self::FailedValidation | Self::Completed | Self::PartiallyFailed | Self::Failed | Self::Deleting)
    }
}

/// Reads `null` as the type's default (Velero's CRDs mark lists nullable).
pub(crate) fn nullable<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

pub(crate) fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// `spec` of a Backup: the fields `velero backup create` writes, with
/// Velero's JSON names; any other field is kept in `extra`.
///
/// ```
/// let spec: k8sops_backup::velero::BackupSpec =
///     serde_json::from_value(serde_json::json!({"includedNamespaces": ["shop"], "ttl": "720h0m0s", "hooks": {}}))?;
/// assert_eq!(spec.included_namespaces, ["shop"]);
/// assert_eq!(spec.ttl(), Some(std::time::Duration::from_secs(720 * 3600)));
/// assert!(spec.extra.contains_key("hooks"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BackupSpec {
    /// `includedNamespaces`: namespaces to back up; `*` or empty means all.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub included_namespaces: Vec<String>,
    /// `excludedNamespaces`.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub excluded_namespaces: Vec<String>,
    /// `includedResources`, as `resource.group` (`deployments.apps`); empty means all.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub included_resources: Vec<String>,
    /// `excludedResources`.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub excluded_resources: Vec<String>,
    /// `labelSelector`: only objects matching it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<meta::LabelSelector>,
    /// `snapshotVolumes`: snapshot persistent volumes (unset: yes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_volumes: Option<bool>,
    /// `ttl`, a Go duration (`720h0m0s`); unset or `0s` uses the server's default (720h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// `includeClusterResources` (unset: automatic, by the namespace filters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_cluster_resources: Option<bool>,
    /// `storageLocation`: the BackupStorageLocation (unset: the default one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_location: Option<String>,
    /// `volumeSnapshotLocations`.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub volume_snapshot_locations: Vec<String>,
    /// `defaultVolumesToFsBackup`: file-system backup of every pod volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_volumes_to_fs_backup: Option<bool>,
    /// Every other field, as the server returned it (hooks, data mover, ...).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl BackupSpec {
    /// `ttl` as a duration; `None` when unset or not a Go duration.
    ///
    /// ```
    /// let spec: k8sops_backup::velero::BackupSpec = serde_json::from_str(r#"{"ttl": "72h0m0s"}"#)?;
    /// assert_eq!(spec.ttl(), Some(std::time::Duration::from_secs(72 * 3600)));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl.as_deref().and_then(|t| go_duration::parse(t).ok())
    }
}

/// `status.progress` of a Backup.
///
/// ```
/// let p: k8sops_backup::velero::BackupProgress = serde_json::from_str(r#"{"totalItems": 10, "itemsBackedUp": 4}"#)?;
/// assert_eq!((p.items_backed_up, p.total_items), (4, 10));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BackupProgress {
    /// `totalItems`: items to back up, as far as Velero knows so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total_items: i64,
    /// `itemsBackedUp`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub items_backed_up: i64,
}

/// `status` of a Backup, written by the Velero server.
///
/// ```
/// let s: k8sops_backup::velero::BackupStatus =
///     serde_json::from_str(r#"{"phase": "Failed", "failureReason": "no storage location", "errors": 1}"#)?;
/// assert_eq!(s.failure_reason.as_deref(), Some("no storage location"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BackupStatus {
    /// `phase`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BackupPhase>,
    /// `progress`: items backed up out of the total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<BackupProgress>,
    /// `errors`: how many errors the backup met.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub errors: i64,
    /// `warnings`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub warnings: i64,
    /// `validationErrors`: why the phase is `FailedValidation`.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub validation_errors: Vec<String>,
    /// `failureReason`: why the phase is `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// `startTimestamp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<Time>,
    /// `completionTimestamp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_timestamp: Option<Time>,
    /// `expiration`: when the backup will be garbage-collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Time>,
    /// `queuePosition` (Velero 1.17+; 0 when not queued).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub queue_position: i64,
    /// `volumeSnapshotsAttempted`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub volume_snapshots_attempted: i64,
    /// `volumeSnapshotsCompleted`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub volume_snapshots_completed: i64,
    /// Every other field, as the server returned it.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A `velero.io/v1` Backup.
///
/// ```
/// let backup: k8sops_backup::velero::Backup = serde_json::from_value(serde_json::json!({
///     "apiVersion": "velero.io/v1", "kind": "Backup",
///     "metadata": {"name": "nightly", "namespace": "velero"},
///     "spec": {"includedNamespaces": ["shop"]},
///     "status": {"phase": "Completed", "progress": {"totalItems": 12, "itemsBackedUp": 12}}
/// }))?;
/// assert_eq!(backup.phase(), k8sops_backup::velero::BackupPhase::Completed);
/// assert!(backup.ensure_completed().is_ok());
/// assert_eq!(serde_json::to_value(&backup)?["kind"], "Backup");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Backup {
    /// Name, namespace, labels, ...
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What to back up.
    #[serde(default)]
    pub spec: BackupSpec,
    /// What the Velero server did (absent until it picks the backup up).
    #[serde(default)]
    pub status: Option<BackupStatus>,
}

velero_object!(Backup, BackupSpec, BackupStatus, "backups");

impl Backup {
    /// The backup's name.
    ///
    /// ```
    /// let b: k8sops_backup::velero::Backup = serde_json::from_str(r#"{"metadata": {"name": "nightly"}}"#)?;
    /// assert_eq!(b.name(), "nightly");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// `status.phase`, `New` when there is none yet.
    ///
    /// ```
    /// let b: k8sops_backup::velero::Backup = serde_json::from_str(r#"{"metadata": {"name": "nightly"}}"#)?;
    /// assert_eq!(b.phase(), k8sops_backup::velero::BackupPhase::New);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn phase(&self) -> BackupPhase {
        self.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default()
    }

    /// `status.progress`, when Velero has written it.
    ///
    /// ```
    /// let b: k8sops_backup::velero::Backup = serde_json::from_str(r#"{"status": {"progress": {"totalItems": 8, "itemsBackedUp": 2}}}"#)?;
    /// assert_eq!(b.progress().map(|p| p.items_backed_up), Some(2));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn progress(&self) -> Option<BackupProgress> {
        self.status.as_ref().and_then(|s| s.progress)
    }

    /// When the backup expires: `status.expiration`, or creation plus
    /// `spec.ttl` before Velero has set it (as `velero backup get` does).
    ///
    /// ```
    /// let b: k8sops_backup::velero::Backup = serde_json::from_str(
    ///     r#"{"metadata": {"creationTimestamp": "2024-05-01T00:00:00Z"}, "spec": {"ttl": "24h0m0s"}}"#)?;
    /// assert_eq!(b.expires().unwrap().to_string(), "2024-05-02T00:00:00Z");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn expires(&self) -> Option<Timestamp> {
        if let Some(t) = self.status.as_ref().and_then(|s| s.expiration.as_ref()) {
            return Some(t.0);
        }
        let ttl = self.spec.ttl().filter(|t| !t.is_zero())?;
        let created = self.metadata.creation_timestamp.as_ref()?.0;
        created.checked_add(SignedDuration::try_from(ttl).ok()?).ok()
    }

    /// The backup, if it ended `Completed`; otherwise
    /// [`Error::VeleroNotCompleted`] with its phase, error and warning
    /// counts and reasons: for callers who want `?`.
    ///
    /// ```
    /// let b: k8sops_backup::velero::Backup = serde_json::from_str(
    ///     r#"{"metadata": {"name": "nightly", "namespace": "velero"}, "status": {"phase": "PartiallyFailed", "errors": 2}}"#)?;
    /// let err = b.ensure_completed().unwrap_err();
    /// assert!(err.to_string().starts_with("Velero backup velero/nightly finished PartiallyFailed: 2 errors"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn ensure_completed(&self) -> Result<&Self> {
        if self.phase() == BackupPhase::Completed {
            return Ok(self);
        }
        Err(Error::VeleroNotCompleted {
            kind: "backup",
            namespace: self.metadata.namespace.clone().unwrap_or_default(),
            name: self.name().to_string(),
            phase: self.phase().to_string(),
            detail: outcome_detail(self.status.as_ref()),
        })
    }
}

/// `: 2 errors, 1 warning; reason`, or nothing.
fn outcome_detail(status: Option<&BackupStatus>) -> String {
    let Some(s) = status else { return String::new() };
    detail(s.errors, s.warnings, s.failure_reason.as_deref(), &s.validation_errors)
}

/// The counts and reasons of a backup or restore status, for messages.
pub(crate) fn detail(errors: i64, warnings: i64, reason: Option<&str>, validation: &[String]) -> String {
    let mut parts = Vec::new();
    let plural = |n: i64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if errors > 0 {
        parts.push(plural(errors, "error"));
    }
    if warnings > 0 {
        parts.push(plural(warnings, "warning"));
    }
    if let Some(r) = reason.filter(|r| !r.is_empty()) {
        parts.push(format!("failure reason: {r}"));
    }
    if !validation.is_empty() {
        parts.push(format!("validation errors: {}", validation.join("; ")));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join(", "))
    }
}

impl fmt::Display for Backup {
    /// One line: `Backup velero/nightly: Completed (12/12 items), expires in 29d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.metadata.namespace.as_deref().unwrap_or_default();
        write!(f, "Backup {ns}/{}: {}", self.name(), self.phase())?;
        if let Some(p) = self.progress() {
            write!(f, " ({}/{} items)", p.items_backed_up, p.total_items)?;
        }
        f.write_str(&outcome_detail(self.status.as_ref()))?;
        if let Some(when) = self.expires() {
            let now = Timestamp::now();
            if when >= now {
                write!(f, "; expires in {}", from_now(Some(when), now))?;
            } else {
                write!(f, "; expired {}", from_now(Some(when), now))?;
            }
        }
        writeln!(f)
    }
}

impl Followed for Backup {
    const KIND: &'static str = "backup";

    fn is_finished(&self) -> bool {
        self.phase().is_finished()
    }

    fn phase_event(&self) -> VeleroEvent {
        VeleroEvent::BackupPhase { name: self.name().to_string(), phase: self.phase() }
    }

    fn progress_event(&self) -> Option<VeleroEvent> {
        self.progress().map(|p| VeleroEvent::BackupProgress {
            name: self.name().to_string(),
            items_backed_up: p.items_backed_up,
            total_items: p.total_items,
        })
    }

    fn summary(&self) -> String {
        let mut s = format!("phase {}", self.phase());
        if let Some(p) = self.progress() {
            s.push_str(&format!(", {}/{} items backed up", p.items_backed_up, p.total_items));
        }
        s
    }
}

/// What `velero backup create` takes. `Default` is what the CLI writes
/// without flags: every namespace (`*`), the server's default TTL and
/// storage location, everything else unset.
///
/// ```
/// use std::time::Duration;
/// use k8sops_backup::velero::BackupParams;
/// // velero backup create nightly --include-namespaces shop,payments --ttl 720h --labels team=web
/// let params = BackupParams::default()
///     .include_namespaces(["shop", "payments"])
///     .ttl(Duration::from_secs(720 * 3600))
///     .label("team", "web");
/// let backup = params.build("velero", "nightly")?;
/// assert_eq!(backup.spec.ttl.as_deref(), Some("720h0m0s"));
/// assert_eq!(backup.spec.included_namespaces, ["shop", "payments"]);
/// # Ok::<(), k8sops_backup::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupParams {
    /// `--include-namespaces` (default `*`: all).
    pub included_namespaces: Vec<String>,
    /// `--exclude-namespaces`.
    pub excluded_namespaces: Vec<String>,
    /// `--include-resources`, as `resource.group` (`deployments.apps`).
    pub included_resources: Vec<String>,
    /// `--exclude-resources`.
    pub excluded_resources: Vec<String>,
    /// `-l/--selector`: only back up objects matching it.
    pub selector: Option<LabelSelector>,
    /// `--ttl`: how long before the backup can be garbage-collected
    /// (`None`: the server's default, 720h).
    pub ttl: Option<Duration>,
    /// `--labels`: labels of the Backup object.
    pub labels: BTreeMap<String, String>,
    /// `--annotations`: annotations of the Backup object.
    pub annotations: BTreeMap<String, String>,
    /// `--storage-location` (`None`: the default location). Checked to
    /// exist before the backup is created, as the CLI does.
    pub storage_location: Option<String>,
    /// `--volume-snapshot-locations`.
    pub volume_snapshot_locations: Vec<String>,
    /// `--snapshot-volumes` (`None`: unset, which Velero takes as yes).
    pub snapshot_volumes: Option<bool>,
    /// `--include-cluster-resources` (`None`: automatic).
    pub include_cluster_resources: Option<bool>,
    /// `--default-volumes-to-fs-backup`.
    pub default_volumes_to_fs_backup: Option<bool>,
}

impl Default for BackupParams {
    fn default() -> Self {
        BackupParams {
            included_namespaces: vec!["*".into()],
            excluded_namespaces: Vec::new(),
            included_resources: Vec::new(),
            excluded_resources: Vec::new(),
            selector: None,
            ttl: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            storage_location: None,
            volume_snapshot_locations: Vec::new(),
            snapshot_volumes: None,
            include_cluster_resources: None,
            default_volumes_to_fs_backup: None,
        }
    }
}

fn strings<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

impl BackupParams {
    /// Sets [`included_namespaces`](Self::included_namespaces).
    ///
    /// ```
    /// let p = k8sops_backup::velero::BackupParams::default().include_namespaces(["shop"]);
    /// assert_eq!(p.included_namespaces, ["shop"]);
    /// ```
    #[must_use]
    pub fn include_namespaces<I: IntoIterator<Item = S>, S: Into<String>>(mut self, namespaces: I) -> Self {
        self.included_namespaces = strings(namespaces);
        self
    }

    /// Sets [`excluded_namespaces`](Self::excluded_namespaces).
    ///
    /// ```
    /// let p = k8sops_backup::velero::BackupParams::default().exclude_namespaces(["kube-system"]);
    /// assert_eq!(p.excluded_namespaces, ["kube-system"]);
    /// ```
    #[must_use]
    pub fn exclude_namespaces<I: IntoIterator<Item = S>, S: Into<String>>(mut self, namespaces: I) -> Self {
        self.excluded_namespaces = strings(namespaces);
        self
    }

    /// Sets [`included_resources`](Self::included_resources).
    ///
    /// ```
    /// let p = k8sops_backup::velero::BackupParams::default().include_resources(["deployments.apps", "configmaps"]);
    /// assert_eq!(p.included_resources.len(), 2);
    /// ```
    #[must_use]
    pub fn include_resources<I: IntoIterator<Item = S>, S: Into<String>>(mut self, resources: I) -> Self {
        self.included_resources = strings(resources);
        self
    }

    /// Sets [`excluded_resources`](Self::excluded_resources).
    ///
    /// ```
    /// let p = k8sops_backup::velero::BackupParams::default().exclude_resources(["secrets"]);
    /// assert_eq!(p.excluded_resources, ["secrets"]);
    /// ```
    #[must_use]
    pub fn exclude_resources<I: IntoIterator<Item = S>, S: Into<String>>(mut self, resources: I) -> Self {
        self.excluded_resources = strings(resources);
        self
    }

    /// Sets [`selector`](Self::selector).
    ///
    /// ```
    /// let p = k8sops_backup::velero::BackupParams::default().selector("app=shop".parse().unwrap());
    /// assert!(p.selector.is_some());
    /// ```
    #[must_use]
    pub fn selector(mut self, selector: LabelSelector) -> Self {
        self.selector = Some(selector);
        self
    }

    /// Sets [`ttl`](Self::ttl).
    ///
    /// ```
    /// let p = k8sops_backup::velero::BackupParams::default().ttl(std::time::Duration::from_secs(3600));
    /// assert_eq!(p.ttl, Some(std::time::Duration::from_secs(3600)));
    /// ```
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Adds one of [`labels`](Self::labels).
    ///
    /// ```
    /// let p = k8sops_backup::velero::BackupParams::default().label("team", "web");
    /// assert_eq!(p.labels["team"], "web");
    /// ```
    #[must_use]
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds one of [`annotations`](Self::annotations).
    ///
    /// ```
    /// let p = k8sops_backup::velero::BackupParams::default().annotation("ticket", "OPS-12");
    /// assert_eq!(p.annotations["ticket"], "OPS-12");
    /// ```
    #[must_use]
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.annotations.insert(key.into(), value.into());
        self
    }

    /// Sets [`storage_location`](Self::storage_location).
    ///
    /// ```
    /// let p = k8sops_backup::velero::BackupParams::default().storage_location("secondary");
    /// assert_eq!(p.storage_location.as_deref(), Some("secondary"));
    /// ```
    #[must_use]
    pub fn storage_location(mut self, name: impl Into<String>) -> Self {
        self.storage_location = Some(name.into());
        self
    }

    /// Sets [`snapshot_volumes`](Self::snapshot_volumes).
    ///
    /// ```
    /// let p = k8sops_backup::velero::BackupParams::default().snapshot_volumes(false);
    /// assert_eq!(p.snapshot_volumes, Some(false));
    /// ```
    #[must_use]
    pub fn snapshot_volumes(mut self, on: bool) -> Self {
        self.snapshot_volumes = Some(on);
        self
    }

    /// Sets [`include_cluster_resources`](Self::include_cluster_resources).
    ///
    /// ```
    /// let p = k8sops_backup::velero::BackupParams::default().include_cluster_resources(true);
    /// assert_eq!(p.include_cluster_resources, Some(true));
    /// ```
    #[must_use]
    pub fn include_cluster_resources(mut self, on: bool) -> Self {
        self.include_cluster_resources = Some(on);
        self
    }

    /// Checks the options and returns the `spec` the CLI would write.
    /// Errors: [`k8sops_core::Error::InvalidInput`] naming what is wrong.
    pub(crate) fn spec(&self) -> Result<BackupSpec> {
        validate::namespace_filters(&self.included_namespaces, &self.excluded_namespaces)?;
        validate::resource_filters(&self.included_resources, &self.excluded_resources)?;
        let ttl = match self.ttl {
            Some(ttl) if ttl > go_duration::MAX => {
                return Err(k8sops_core::Error::InvalidInput {
                    message: format!("ttl {ttl:?} is longer than Velero can hold (about 292 years)"),
                    source: None,
                }
                .into())
            }
            Some(ttl) => Some(go_duration::format(ttl)),
            None => None,
        };
        for name in self.storage_location.iter().chain(&self.volume_snapshot_locations) {
            validate::object_name("location", name)?;
        }
        Ok(BackupSpec {
            included_namespaces: self.included_namespaces.clone(),
            excluded_namespaces: self.excluded_namespaces.clone(),
            included_resources: self.included_resources.clone(),
            excluded_resources: self.excluded_resources.clone(),
            label_selector: self.selector.as_ref().map(validate::label_selector).transpose()?,
            snapshot_volumes: self.snapshot_volumes,
            ttl,
            include_cluster_resources: self.include_cluster_resources,
            storage_location: self.storage_location.clone(),
            volume_snapshot_locations: self.volume_snapshot_locations.clone(),
            default_volumes_to_fs_backup: self.default_volumes_to_fs_backup,
            extra: BTreeMap::new(),
        })
    }

    /// The Backup `velero backup create NAME` with these options would
    /// create in `namespace`, checked but not sent (what `velero backup
    /// create NAME -o yaml` prints).
    ///
    /// Errors: [`k8sops_core::Error::InvalidInput`] for a name that is not
    /// an RFC 1123 subdomain, include/exclude lists Velero refuses (`*`
    /// with other namespaces, a namespace both included and excluded),
    /// invalid labels or a selector with `>`/`<`.
    ///
    /// ```
    /// let err = k8sops_backup::velero::BackupParams::default().build("velero", "Nightly").unwrap_err();
    /// assert!(err.to_string().contains("RFC 1123"));
    /// ```
    pub fn build(&self, namespace: &str, name: &str) -> Result<Backup> {
        validate::object_name("backup", name)?;
        validate::labels("labels", &self.labels)?;
        Ok(Backup {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(namespace.to_string()),
                labels: (!self.labels.is_empty()).then(|| self.labels.clone()),
                annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
                ..Default::default()
            },
            spec: self.spec()?,
            status: None,
        })
    }
}

/// The backups `velero backup get` lists, in its order (by name, and
/// newest first among a schedule's `NAME-YYYYMMDDHHMMSS` backups).
/// `Display` prints its table.
///
/// ```no_run
/// # async fn f(velero: k8sops_backup::velero::Velero) -> k8sops_backup::Result<()> {
/// let list = velero.list_backups(&Default::default()).await?;
/// print!("{list}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct BackupList {
    /// Velero's namespace.
    pub namespace: String,
    /// The backups.
    pub items: Vec<Backup>,
}

/// Velero's `sortBackupsByPrefixAndTimestamp`: by name, except that names
/// sharing a prefix before a 14-digit timestamp suffix go newest first.
fn sort_like_velero(items: &mut [Backup]) {
    fn key(name: &str) -> (String, std::cmp::Reverse<String>) {
        match name.rsplit_once('-') {
            Some((prefix, suffix)) if suffix.len() == 14 && suffix.bytes().all(|b| b.is_ascii_digit()) => {
                (prefix.to_string(), std::cmp::Reverse(suffix.to_string()))
            }
            _ => (name.to_string(), std::cmp::Reverse(String::new())),
        }
    }
    items.sort_by_cached_key(|b| key(b.name()));
}

impl fmt::Display for BackupList {
    /// `velero backup get`'s columns: NAME, STATUS, ERRORS, WARNINGS,
    /// CREATED (the start time), EXPIRES, STORAGE LOCATION, QUEUE POSITION,
    /// SELECTOR.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let now = Timestamp::now();
        let mut t = Table::new([
            "name",
            "status",
            "errors",
            "warnings",
            "created",
            "expires",
            "storage location",
            "queue position",
            "selector",
        ]);
        for b in &self.items {
            let status = b.status.clone().unwrap_or_default();
            let phase =
                if b.metadata.deletion_timestamp.is_some() { "Deleting".to_string() } else { b.phase().to_string() };
            t.row([
                b.name().to_string(),
                phase,
                status.errors.to_string(),
                status.warnings.to_string(),
                go_time(status.start_timestamp.as_ref()),
                from_now(b.expires(), now),
                b.spec.storage_location.clone().unwrap_or_default(),
                if status.queue_position > 0 { status.queue_position.to_string() } else { String::new() },
                validate::format_selector(b.spec.label_selector.as_ref()),
            ]);
        }
        write!(f, "{t}")
    }
}

impl Velero {
    /// `velero backup create NAME`: checks the options, checks that the
    /// storage location exists (when one is named), and creates the
    /// Backup. The Velero server then does the backup; follow it with
    /// [`Velero::wait_for_backup`].
    ///
    /// Errors: [`Error::VeleroNotInstalled`];
    /// [`k8sops_core::Error::InvalidInput`] for bad options or a storage
    /// location that does not exist (nothing is created then);
    /// [`k8sops_core::Error::AlreadyExists`]; [`k8sops_core::Error::NotFound`]
    /// when Velero's namespace does not exist.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// # let crds = include_str!("../../tests/data/velero-crds.yaml");
    /// # for doc in serde_norway::Deserializer::from_str(crds) {
    /// #     server.insert(&serde_json::Value::deserialize(doc)?)?;
    /// # }
    /// # server.insert(&serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "velero"}}))?;
    /// # use serde::Deserialize;
    /// use k8sops_backup::velero::{BackupParams, Velero};
    /// let velero = Velero::new(&server.cluster());
    /// let params = BackupParams::default().include_namespaces(["shop"]).label("team", "web");
    /// let backup = velero.create_backup("shop-nightly", &params).await?;
    /// assert_eq!(backup.metadata.namespace.as_deref(), Some("velero"));
    /// # Ok(()) }
    /// ```
    pub async fn create_backup(&self, name: &str, params: &BackupParams) -> Result<Backup> {
        let backup = params.build(&self.namespace, name)?;
        self.ensure_served("backups").await?;
        if let Some(location) = &params.storage_location {
            self.check_storage_location(location).await?;
        }
        self.create("backup", &backup).await
    }

    /// Refuses a backup storage location that does not exist (the CLI's check).
    async fn check_storage_location(&self, location: &str) -> Result<()> {
        if !self.served().await?.iter().any(|r| r == "backupstoragelocations") {
            return Ok(());
        }
        let gvk = kube::core::GroupVersionKind::gvk("velero.io", "v1", "BackupStorageLocation");
        let resource = kube::core::ApiResource::from_gvk_with_plural(&gvk, "backupstoragelocations");
        let api: kube::Api<kube::core::DynamicObject> =
            kube::Api::namespaced_with(self.cluster.client().clone(), &self.namespace, &resource);
        let what = self.describe("backup storage location", location);
        let cluster = &self.cluster;
        let found = cluster
            .retry_policy()
            .run(|_| async { api.get_opt(location).await.map_err(|e| cluster.map_err(e, &what)) })
            .await?;
        match found {
            Some(_) => Ok(()),
            None => Err(k8sops_core::Error::InvalidInput {
                message: format!(
                    "backup storage location {location:?} does not exist in namespace {:?}; list them with `velero backup-location get`",
                    self.namespace
                ),
                source: None,
            }
            .into()),
        }
    }

    /// `velero backup get NAME`.
    ///
    /// Errors: [`Error::VeleroNotInstalled`], [`k8sops_core::Error::NotFound`].
    ///
    /// ```no_run
    /// # async fn f(velero: k8sops_backup::velero::Velero) -> k8sops_backup::Result<()> {
    /// let backup = velero.get_backup("nightly").await?;
    /// print!("{backup}");
    /// # Ok(()) }
    /// ```
    pub async fn get_backup(&self, name: &str) -> Result<Backup> {
        self.get("backup", name).await
    }

    /// `velero backup get [-l SELECTOR]`: every backup in Velero's namespace.
    ///
    /// Errors: [`Error::VeleroNotInstalled`], [`k8sops_core::Error::Forbidden`], ...
    ///
    /// ```no_run
    /// # async fn f(velero: k8sops_backup::velero::Velero) -> k8sops_backup::Result<()> {
    /// use k8sops_backup::velero::GetParams;
    /// let daily = velero.list_backups(&GetParams::default().selector("velero.io/schedule-name=daily".parse().unwrap())).await?;
    /// println!("{} backups of the daily schedule", daily.items.len());
    /// # Ok(()) }
    /// ```
    pub async fn list_backups(&self, params: &GetParams) -> Result<BackupList> {
        let mut items: Vec<Backup> = self.list(params).await?;
        sort_like_velero(&mut items);
        Ok(BackupList { namespace: self.namespace.clone(), items })
    }

    /// `velero backup create --wait`: follows the backup (a watch, resumed
    /// when it ends) until Velero is done with it, and returns it as it
    /// ended. `PartiallyFailed`, `Failed` and `FailedValidation` are
    /// results, not errors: look at [`Backup::phase`] and the status, or
    /// call [`Backup::ensure_completed`]. Progress goes to
    /// [`WaitParams::progress`] as [`VeleroEvent::BackupPhase`] and
    /// [`VeleroEvent::BackupProgress`].
    ///
    /// Errors: [`Error::VeleroNotInstalled`]; [`k8sops_core::Error::NotFound`]
    /// when there is no such backup or it is deleted while waiting;
    /// [`k8sops_core::Error::Timeout`] after [`WaitParams::timeout`];
    /// [`k8sops_core::Error::Cancelled`].
    ///
    /// # Cancel safety
    /// Waiting only reads. A timeout, a cancel or dropping the future stops
    /// the waiting, never the backup: it stays in the cluster and the
    /// Velero server goes on with it (`velero backup describe NAME`).
    ///
    /// ```no_run
    /// # async fn f(velero: k8sops_backup::velero::Velero) -> k8sops_backup::Result<()> {
    /// use std::{sync::Arc, time::Duration};
    /// use k8sops_backup::velero::{BackupPhase, VeleroEvent, WaitParams};
    /// let params = WaitParams::default()
    ///     .timeout(Duration::from_secs(3600))
    ///     .progress(Arc::new(|e: VeleroEvent| eprintln!("{e}")));
    /// let backup = velero.wait_for_backup("nightly", &params).await?;
    /// if backup.phase() != BackupPhase::Completed {
    ///     eprint!("{backup}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_backup(&self, name: &str, params: &WaitParams) -> Result<Backup> {
        wait::follow::<Backup>(self, name, params).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_is_written_as_the_velero_cli_writes_it() {
        let params = BackupParams::default()
            .include_namespaces(["shop", "payments"])
            .ttl(Duration::from_secs(720 * 3600))
            .label("team", "web")
            .selector("app=shop,tier!=cache".parse().unwrap())
            .snapshot_volumes(false);
        let json = serde_json::to_value(params.build("velero", "nightly").unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "apiVersion": "velero.io/v1",
                "kind": "Backup",
                "metadata": {"name": "nightly", "namespace": "velero", "labels": {"team": "web"}},
                "spec": {
                    "includedNamespaces": ["shop", "payments"],
                    "ttl": "720h0m0s",
                    "labelSelector": {
                        "matchLabels": {"app": "shop"},
                        "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["cache"]}]
                    },
                    "snapshotVolumes": false
                }
            })
        );
    }

    #[test]
    fn bad_options_are_refused_before_anything_is_built() {
        for params in [
            BackupParams::default().include_namespaces(["*", "shop"]),
            BackupParams::default().exclude_namespaces(["*"]),
            BackupParams::default().include_namespaces(["shop"]).exclude_namespaces(["shop"]),
            BackupParams::default().label("bad key", "v"),
            BackupParams::default().selector("n>3".parse().unwrap()),
            BackupParams::default().ttl(Duration::from_secs(u64::MAX)),
            BackupParams::default().storage_location("Bad_Location"),
        ] {
            let err = params.build("velero", "nightly").unwrap_err();
            assert!(matches!(err, Error::Core(k8sops_core::Error::InvalidInput { .. })), "{params:?}: {err}");
        }
    }

    #[test]
    fn unknown_fields_and_phases_survive_a_round_trip() {
        let json = serde_json::json!({
            "apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": "b", "namespace": "velero"},
            "spec": {"hooks": {"resources": []}, "datamover": "velero", "includedNamespaces": null},
            "status": {"phase": "SomethingNew", "hookStatus": {"hooksAttempted": 1}}
        });
        let b: Backup = serde_json::from_value(json).unwrap();
        assert_eq!(b.phase(), BackupPhase::Other("SomethingNew".into()));
        assert!(!b.phase().is_finished());
        let back = serde_json::to_value(&b).unwrap();
        assert_eq!(back["spec"]["datamover"], "velero");
        assert_eq!(back["status"]["hookStatus"]["hooksAttempted"], 1);
        assert_eq!(back["status"]["phase"], "SomethingNew");
    }

    #[test]
    fn backups_sort_as_velero_sorts_them() {
        let mut items: Vec<Backup> =
            ["daily-20240101070000", "adhoc", "daily-20240103070000", "zeta", "daily-20240102070000"]
                .iter()
                .map(|n| serde_json::from_value(serde_json::json!({"metadata": {"name": n}})).unwrap())
                .collect();
        sort_like_velero(&mut items);
        let names: Vec<&str> = items.iter().map(Backup::name).collect();
        assert_eq!(names, ["adhoc", "daily-20240103070000", "daily-20240102070000", "daily-20240101070000", "zeta"]);
    }
}
