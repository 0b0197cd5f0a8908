//! `velero restore create` and `velero restore get`: the Restore object,
//! the options the CLI takes, and the list it prints.

use std::{collections::BTreeMap, fmt};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{self as meta, ObjectMeta, Time};
use k8sops_core::{LabelSelector, Table};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    backup::{detail, is_zero, nullable},
    go_time, phases, validate, velero_object,
    wait::{self, Followed, WaitParams},
    Backup, GetParams, Velero, VeleroEvent,
};
use crate::{Error, Result};

phases! {
    /// `status.phase` of a Restore, as Velero's `RestorePhase` constants
    /// name them.
    ///
    /// ```
    /// use k8sops_backup::velero::RestorePhase;
    /// let phase: RestorePhase = serde_json::from_str("\"Completed\"")?;
    /// assert!(phase.is_finished());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    RestorePhase {
        /// The spec is invalid; nothing was restored (see `validationErrors`).
        FailedValidation,
        /// Items are being restored.
        InProgress,
        /// Items are restored; asynchronous plugin operations are running.
        WaitingForPluginOperations,
        /// As `WaitingForPluginOperations`, with errors so far.
        WaitingForPluginOperationsPartiallyFailed,
        /// The plugin operations are done; the restore is being finalized.
        Finalizing,
        /// As `Finalizing`, with errors so far.
        FinalizingPartiallyFailed,
        /// Done without errors.
        Completed,
        /// Done; some items could not be restored (see `errors`).
        PartiallyFailed,
        /// The restore failed as a whole (see `failureReason`).
        Failed,
    }
}

impl RestorePhase {
    /// Whether Velero is done with the restore: `FailedValidation`,
    /// `Completed`, `PartiallyFailed` or `Failed`.
    ///
    /// ```
    /// use k8sops_backup::velero::RestorePhase;
    /// assert!(RestorePhase::Failed.is_finished());
    /// assert!(!RestorePhase::Finalizing.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        matches!(self, Self::FailedValidation | Self::Completed | Self::PartiallyFailed | Self::Failed)
    }
}

/// `--existing-resource-policy`: what a restore does with an object that
/// already exists and differs from the backup.
///
/// ```
/// use k8sops_backup::velero::ExistingResourcePolicy;
/// assert_eq!(ExistingResourcePolicy::Update.as_str(), "update");
/// assert_eq!("none".parse::<ExistingResourcePolicy>()?, ExistingResourcePolicy::None);
/// # Ok::<(), k8sops_backup::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExistingResourcePolicy {
    /// `none`: leave it and warn (Velero's default).
    None,
    /// `update`: patch it to what the backup holds.
    Update,
}

impl ExistingResourcePolicy {
    /// The value as Velero writes it.
    ///
    /// ```
    /// assert_eq!(k8sops_backup::velero::ExistingResourcePolicy::None.as_str(), "none");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Update => "update",
        }
    }
}

impl std::str::FromStr for ExistingResourcePolicy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Self::None),
            "update" => Ok(Self::Update),
            other => Err(k8sops_core::Error::InvalidInput {
                message: format!("existing resource policy {other:?}: expected none or update"),
                source: None,
            }
            .into()),
        }
    }
}

/// `spec` of a Restore: the fields `velero restore create` writes, with
/// Velero's JSON names; any other field is kept in `extra`.
///
/// ```
/// let spec: k8sops_backup::velero::RestoreSpec =
///     serde_json::from_str(r#"{"backupName": "nightly", "namespaceMapping": {"shop": "shop-copy"}, "restorePVs": false}"#)?;
/// assert_eq!(spec.namespace_mapping["shop"], "shop-copy");
/// assert_eq!(spec.restore_pvs, Some(false));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RestoreSpec {
    /// `backupName`: the backup to restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_name: Option<String>,
    /// `scheduleName`: restore the schedule's latest completed backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_name: Option<String>,
    /// `includedNamespaces`; `*` or empty means all.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub included_namespaces: Vec<String>,
    /// `excludedNamespaces`.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub excluded_namespaces: Vec<String>,
    /// `includedResources`.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub included_resources: Vec<String>,
    /// `excludedResources`.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub excluded_resources: Vec<String>,
    /// `namespaceMapping`: namespace in the backup → namespace to restore into.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "BTreeMap::is_empty")]
    pub namespace_mapping: BTreeMap<String, String>,
    /// `labelSelector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<meta::LabelSelector>,
    /// `existingResourcePolicy`: `none` or `update`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_resource_policy: Option<String>,
    /// `restorePVs`: restore volumes from snapshots (unset: yes).
    #[serde(default, rename = "restorePVs", skip_serializing_if = "Option::is_none")]
    pub restore_pvs: Option<bool>,
    /// `preserveNodePorts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_node_ports: Option<bool>,
    /// `includeClusterResources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_cluster_resources: Option<bool>,
    /// Every other field, as the server returned it (hooks, resource modifiers, ...).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `status.progress` of a Restore.
///
/// ```
/// let p: k8sops_backup::velero::RestoreProgress = serde_json::from_str(r#"{"totalItems": 9, "itemsRestored": 3}"#)?;
/// assert_eq!((p.items_restored, p.total_items), (3, 9));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RestoreProgress {
    /// `totalItems`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total_items: i64,
    /// `itemsRestored`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub items_restored: i64,
}

/// `status` of a Restore, written by the Velero server.
///
/// ```
/// let s: k8sops_backup::velero::RestoreStatus = serde_json::from_str(r#"{"phase": "PartiallyFailed", "errors": 3, "warnings": 1}"#)?;
/// assert_eq!((s.errors, s.warnings), (3, 1));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RestoreStatus {
    /// `phase`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RestorePhase>,
    /// `progress`: items restored out of the total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<RestoreProgress>,
    /// `errors`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub errors: i64,
    /// `warnings` (e.g. objects that already existed).
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
    /// Every other field, as the server returned it.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A `velero.io/v1` Restore.
///
/// ```
/// let r: k8sops_backup::velero::Restore = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "nightly-copy", "namespace": "velero"},
///     "spec": {"backupName": "nightly"},
///     "status": {"phase": "InProgress", "progress": {"totalItems": 9, "itemsRestored": 3}}
/// }))?;
/// assert_eq!(r.phase(), k8sops_backup::velero::RestorePhase::InProgress);
/// assert_eq!(r.progress().map(|p| p.items_restored), Some(3));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Restore {
    /// Name, namespace, labels, ...
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What to restore, from which backup.
    #[serde(default)]
    pub spec: RestoreSpec,
    /// What the Velero server did (absent until it picks the restore up).
    #[serde(default)]
    pub status: Option<RestoreStatus>,
}

velero_object!(Restore, RestoreSpec, RestoreStatus, "restores");

impl Restore {
    /// The restore's name.
    ///
    /// ```
    /// let r: k8sops_backup::velero::Restore = serde_json::from_str(r#"{"metadata": {"name": "r1"}}"#)?;
    /// assert_eq!(r.name(), "r1");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// `status.phase`, `New` when there is none yet.
    ///
    /// ```
    /// let r: k8sops_backup::velero::Restore = serde_json::from_str(r#"{"status": {"phase": "Failed"}}"#)?;
    /// assert_eq!(r.phase(), k8sops_backup::velero::RestorePhase::Failed);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn phase(&self) -> RestorePhase {
        self.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default()
    }

    /// `status.progress`, when Velero has written it.
    ///
    /// ```
    /// let r: k8sops_backup::velero::Restore = serde_json::from_str(r#"{}"#)?;
    /// assert!(r.progress().is_none());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn progress(&self) -> Option<RestoreProgress> {
        self.status.as_ref().and_then(|s| s.progress)
    }

    /// The restore, if it ended `Completed`; otherwise
    /// [`Error::VeleroNotCompleted`] with its phase, counts and reasons.
    ///
    /// ```
    /// let r: k8sops_backup::velero::Restore = serde_json::from_str(
    ///     r#"{"metadata": {"name": "r1", "namespace": "velero"}, "status": {"phase": "Failed", "failureReason": "backup not found"}}"#)?;
    /// assert!(r.ensure_completed().unwrap_err().to_string().contains("failure reason: backup not found"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn ensure_completed(&self) -> Result<&Self> {
        if self.phase() == RestorePhase::Completed {
            return Ok(self);
        }
        Err(Error::VeleroNotCompleted {
            kind: "restore",
            namespace: self.metadata.namespace.clone().unwrap_or_default(),
            name: self.name().to_string(),
            phase: self.phase().to_string(),
            detail: self.detail(),
        })
    }

    fn detail(&self) -> String {
        let Some(s) = &self.status else { return String::new() };
        detail(s.errors, s.warnings, s.failure_reason.as_deref(), &s.validation_errors)
    }
}

impl fmt::Display for Restore {
    /// One line: `Restore velero/r1 of backup nightly: Completed (9/9 items)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.metadata.namespace.as_deref().unwrap_or_default();
        write!(f, "Restore {ns}/{}", self.name())?;
        match (&self.spec.backup_name, &self.spec.schedule_name) {
            (Some(b), _) => write!(f, " of backup {b}")?,
            (None, Some(s)) => write!(f, " of schedule {s}")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.phase())?;
        if let Some(p) = self.progress() {
            write!(f, " ({}/{} items)", p.items_restored, p.total_items)?;
        }
        writeln!(f, "{}", self.detail())
    }
}

impl Followed for Restore {
    const KIND: &'static str = "restore";

    fn is_finished(&self) -> bool {
        self.phase().is_finished()
    }

    fn phase_event(&self) -> VeleroEvent {
        VeleroEvent::RestorePhase { name: self.name().to_string(), phase: self.phase() }
    }

    fn progress_event(&self) -> Option<VeleroEvent> {
        self.progress().map(|p| VeleroEvent::RestoreProgress {
            name: self.name().to_string(),
            items_restored: p.items_restored,
            total_items: p.total_items,
        })
    }

    fn summary(&self) -> String {
        let mut s = format!("phase {}", self.phase());
        if let Some(p) = self.progress() {
            s.push_str(&format!(", {}/{} items restored", p.items_restored, p.total_items));
        }
        s
    }
}

/// What `velero restore create` takes: the source (`--from-backup` or
/// `--from-schedule`, exactly one) and the filters. `Default` has no source;
/// start from [`RestoreParams::from_backup`].
///
/// ```
/// use k8sops_backup::velero::RestoreParams;
/// // velero restore create shop-copy --from-backup nightly --namespace-mappings shop:shop-copy
/// let params = RestoreParams::from_backup("nightly").map_namespace("shop", "shop-copy");
/// let restore = params.build("velero", "shop-copy")?;
/// assert_eq!(restore.spec.backup_name.as_deref(), Some("nightly"));
/// assert_eq!(restore.spec.namespace_mapping["shop"], "shop-copy");
/// assert_eq!(restore.spec.included_namespaces, ["*"]);
/// # Ok::<(), k8sops_backup::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreParams {
    /// `--from-backup`.
    pub backup_name: Option<String>,
    /// `--from-schedule`: the schedule's latest completed backup.
    pub schedule_name: Option<String>,
    /// `--include-namespaces` (default `*`: all in the backup).
    pub included_namespaces: Vec<String>,
    /// `--exclude-namespaces`.
    pub excluded_namespaces: Vec<String>,
    /// `--include-resources`.
    pub included_resources: Vec<String>,
    /// `--exclude-resources`.
    pub excluded_resources: Vec<String>,
    /// `--namespace-mappings src:dst,...`: restore `src` into `dst`.
    pub namespace_mapping: BTreeMap<String, String>,
    /// `-l/--selector`.
    pub selector: Option<LabelSelector>,
    /// `--existing-resource-policy` (`None`: Velero's default, `none`).
    pub existing_resource_policy: Option<ExistingResourcePolicy>,
    /// `--restore-volumes`.
    pub restore_pvs: Option<bool>,
    /// `--preserve-nodeports`.
    pub preserve_node_ports: Option<bool>,
    /// `--include-cluster-resources`.
    pub include_cluster_resources: Option<bool>,
    /// `--labels`: labels of the Restore object.
    pub labels: BTreeMap<String, String>,
    /// `--annotations`: annotations of the Restore object.
    pub annotations: BTreeMap<String, String>,
}

impl Default for RestoreParams {
    fn default() -> Self {
        RestoreParams {
            backup_name: None,
            schedule_name: None,
            included_namespaces: vec!["*".into()],
            excluded_namespaces: Vec::new(),
            included_resources: Vec::new(),
            excluded_resources: Vec::new(),
            namespace_mapping: BTreeMap::new(),
            selector: None,
            existing_resource_policy: None,
            restore_pvs: None,
            preserve_node_ports: None,
            include_cluster_resources: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    }
}

fn strings<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

impl RestoreParams {
    /// `--from-backup BACKUP`.
    ///
    /// ```
    /// let p = k8sops_backup::velero::RestoreParams::from_backup("nightly");
    /// assert_eq!(p.backup_name.as_deref(), Some("nightly"));
    /// ```
    pub fn from_backup(backup: impl Into<String>) -> Self {
        RestoreParams { backup_name: Some(backup.into()), ..Default::default() }
    }

    /// `--from-schedule SCHEDULE`.
    ///
    /// ```
    /// let p = k8sops_backup::velero::RestoreParams::from_schedule("daily");
    /// assert_eq!(p.schedule_name.as_deref(), Some("daily"));
    /// ```
    pub fn from_schedule(schedule: impl Into<String>) -> Self {
        RestoreParams { schedule_name: Some(schedule.into()), ..Default::default() }
    }

    /// Adds one of [`namespace_mapping`](Self::namespace_mapping).
    ///
    /// ```
    /// let p = k8sops_backup::velero::RestoreParams::from_backup("b").map_namespace("shop", "shop-restored");
    /// assert_eq!(p.namespace_mapping["shop"], "shop-restored");
    /// ```
    #[must_use]
    pub fn map_namespace(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.namespace_mapping.insert(from.into(), to.into());
        self
    }

    /// Sets [`included_namespaces`](Self::included_namespaces).
    ///
    /// ```
    /// let p = k8sops_backup::velero::RestoreParams::from_backup("b").include_namespaces(["shop"]);
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
    /// let p = k8sops_backup::velero::RestoreParams::from_backup("b").exclude_namespaces(["kube-system"]);
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
    /// let p = k8sops_backup::velero::RestoreParams::from_backup("b").include_resources(["persistentvolumeclaims"]);
    /// assert_eq!(p.included_resources.len(), 1);
    /// ```
    #[must_use]
    pub fn include_resources<I: IntoIterator<Item = S>, S: Into<String>>(mut self, resources: I) -> Self {
        self.included_resources = strings(resources);
        self
    }

    /// Sets [`selector`](Self::selector).
    ///
    /// ```
    /// let p = k8sops_backup::velero::RestoreParams::from_backup("b").selector("app=shop".parse().unwrap());
    /// assert!(p.selector.is_some());
    /// ```
    #[must_use]
    pub fn selector(mut self, selector: LabelSelector) -> Self {
        self.selector = Some(selector);
        self
    }

    /// Sets [`existing_resource_policy`](Self::existing_resource_policy).
    ///
    /// ```
    /// use k8sops_backup::velero::{ExistingResourcePolicy, RestoreParams};
    /// let p = RestoreParams::from_backup("b").existing_resource_policy(ExistingResourcePolicy::Update);
    /// assert_eq!(p.existing_resource_policy, Some(ExistingResourcePolicy::Update));
    /// ```
    #[must_use]
    pub fn existing_resource_policy(mut self, policy: ExistingResourcePolicy) -> Self {
        self.existing_resource_policy = Some(policy);
        self
    }

    /// Sets [`restore_pvs`](Self::restore_pvs).
    ///
    /// ```
    /// let p = k8sops_backup::velero::RestoreParams::from_backup("b").restore_pvs(false);
    /// assert_eq!(p.restore_pvs, Some(false));
    /// ```
    #[must_use]
    pub fn restore_pvs(mut self, on: bool) -> Self {
        self.restore_pvs = Some(on);
        self
    }

    /// Adds one of [`labels`](Self::labels).
    ///
    /// ```
    /// let p = k8sops_backup::velero::RestoreParams::from_backup("b").label("ticket", "ops-12");
    /// assert_eq!(p.labels["ticket"], "ops-12");
    /// ```
    #[must_use]
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// The Restore `velero restore create NAME` with these options would
    /// create in `namespace`, checked but not sent.
    ///
    /// Errors: [`k8sops_core::Error::InvalidInput`] for an invalid name,
    /// no source or both a backup and a schedule, a mapping between names
    /// that are not namespaces, include/exclude lists Velero refuses, or
    /// invalid labels.
    ///
    /// ```
    /// use k8sops_backup::velero::RestoreParams;
    /// assert!(RestoreParams::default().build("velero", "r1").is_err()); // no source
    /// assert!(RestoreParams::from_backup("b").map_namespace("shop", "Shop_2").build("velero", "r1").is_err());
    /// ```
    pub fn build(&self, namespace: &str, name: &str) -> Result<Restore> {
        validate::object_name("restore", name)?;
        match (&self.backup_name, &self.schedule_name) {
            (Some(b), None) => validate::object_name("backup", b)?,
            (None, Some(s)) => validate::object_name("schedule", s)?,
            _ => {
                return Err(k8sops_core::Error::InvalidInput {
                    message: "a restore needs either a backup or a schedule to restore from, not both".into(),
                    source: None,
                }
                .into())
            }
        }
        validate::namespace_filters(&self.included_namespaces, &self.excluded_namespaces)?;
        validate::resource_filters(&self.included_resources, &self.excluded_resources)?;
        for (from, to) in &self.namespace_mapping {
            validate::mapped_namespace(from)?;
            validate::mapped_namespace(to)?;
        }
        validate::labels("labels", &self.labels)?;
        Ok(Restore {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(namespace.to_string()),
                labels: (!self.labels.is_empty()).then(|| self.labels.clone()),
                annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
                ..Default::default()
            },
            spec: RestoreSpec {
                backup_name: self.backup_name.clone(),
                schedule_name: self.schedule_name.clone(),
                included_namespaces: self.included_namespaces.clone(),
                excluded_namespaces: self.excluded_namespaces.clone(),
                included_resources: self.included_resources.clone(),
                excluded_resources: self.excluded_resources.clone(),
                namespace_mapping: self.namespace_mapping.clone(),
                label_selector: self.selector.as_ref().map(validate::label_selector).transpose()?,
                existing_resource_policy: self.existing_resource_policy.map(|p| p.as_str().to_string()),
                restore_pvs: self.restore_pvs,
                preserve_node_ports: self.preserve_node_ports,
                include_cluster_resources: self.include_cluster_resources,
                extra: BTreeMap::new(),
            },
            status: None,
        })
    }
}

/// The restores `velero restore get` lists. `Display` prints its table.
///
/// ```no_run
/// # async fn f(velero: k8sops_backup::velero::Velero) -> k8sops_backup::Result<()> {
/// print!("{}", velero.list_restores(&Default::default()).await?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RestoreList {
    /// Velero's namespace.
    pub namespace: String,
    /// The restores, by name.
    pub items: Vec<Restore>,
}

impl fmt::Display for RestoreList {
    /// `velero restore get`'s columns: NAME, BACKUP, STATUS, STARTED,
    /// COMPLETED, ERRORS, WARNINGS, CREATED, SELECTOR.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = Table::new([
            "name",
            "backup",
            "status",
            "started",
            "completed",
            "errors",
            "warnings",
            "created",
            "selector",
        ]);
        for r in &self.items {
            let status = r.status.clone().unwrap_or_default();
            t.row([
                r.name().to_string(),
                r.spec.backup_name.clone().unwrap_or_default(),
                r.phase().to_string(),
                go_time(status.start_timestamp.as_ref()),
                go_time(status.completion_timestamp.as_ref()),
                status.errors.to_string(),
                status.warnings.to_string(),
                go_time(r.metadata.creation_timestamp.as_ref()),
                validate::format_selector(r.spec.label_selector.as_ref()),
            ]);
        }
        write!(f, "{t}")
    }
}

impl Velero {
    /// `velero restore create NAME --from-backup B`: checks the options,
    /// checks that the backup exists (or that the schedule has backups), as
    /// the CLI does, and creates the Restore. The Velero server then
    /// restores; follow it with [`Velero::wait_for_restore`].
    ///
    /// Errors: [`Error::VeleroNotInstalled`];
    /// [`k8sops_core::Error::InvalidInput`] for bad options or a schedule
    /// without backups; [`k8sops_core::Error::NotFound`] naming the backup
    /// when it does not exist; [`k8sops_core::Error::AlreadyExists`].
    /// Nothing is created when any check fails.
    ///
    /// ```no_run
    /// # async fn f(velero: k8sops_backup::velero::Velero) -> k8sops_backup::Result<()> {
    /// use k8sops_backup::velero::RestoreParams;
    /// let params = RestoreParams::from_backup("nightly").map_namespace("shop", "shop-copy");
    /// let restore = velero.create_restore("shop-copy", &params).await?;
    /// print!("{restore}");
    /// # Ok(()) }
    /// ```
    pub async fn create_restore(&self, name: &str, params: &RestoreParams) -> Result<Restore> {
        let restore = params.build(&self.namespace, name)?;
        self.ensure_served("restores").await?;
        if let Some(backup) = &params.backup_name {
            match self.get::<Backup>("backup", backup).await {
                Err(Error::Core(k8sops_core::Error::NotFound { what, source })) => {
                    return Err(
                        k8sops_core::Error::NotFound { what: format!("{what} (the restore's source)"), source }.into()
                    )
                }
                other => other.map(|_| ())?,
            }
        }
        if let Some(schedule) = &params.schedule_name {
            let label = format!("velero.io/schedule-name={schedule}");
            let selector: LabelSelector = label.parse().map_err(k8sops_core::Error::from)?;
            let backups = self.list::<Backup>(&GetParams::default().selector(selector)).await?;
            if backups.is_empty() {
                return Err(k8sops_core::Error::InvalidInput {
                    message: format!("no backups found for schedule {schedule:?} in namespace {:?}", self.namespace),
                    source: None,
                }
                .into());
            }
        }
        self.create("restore", &restore).await
    }

    /// `velero restore get NAME`.
    ///
    /// Errors: [`Error::VeleroNotInstalled`], [`k8sops_core::Error::NotFound`].
    ///
    /// ```no_run
    /// # async fn f(velero: k8sops_backup::velero::Velero) -> k8sops_backup::Result<()> {
    /// println!("{}", velero.get_restore("shop-copy").await?.phase());
    /// # Ok(()) }
    /// ```
    pub async fn get_restore(&self, name: &str) -> Result<Restore> {
        self.get("restore", name).await
    }

    /// `velero restore get [-l SELECTOR]`, by name.
    ///
    /// Errors: [`Error::VeleroNotInstalled`], [`k8sops_core::Error::Forbidden`], ...
    ///
    /// ```no_run
    /// # async fn f(velero: k8sops_backup::velero::Velero) -> k8sops_backup::Result<()> {
    /// let restores = velero.list_restores(&Default::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn list_restores(&self, params: &GetParams) -> Result<RestoreList> {
        let mut items: Vec<Restore> = self.list(params).await?;
        items.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(RestoreList { namespace: self.namespace.clone(), items })
    }

    /// `velero restore create --wait`: follows the restore until Velero is
    /// done with it and returns it as it ended (`PartiallyFailed` and
    /// `Failed` are results, not errors). Progress goes to
    /// [`WaitParams::progress`] as [`VeleroEvent::RestorePhase`] and
    /// [`VeleroEvent::RestoreProgress`].
    ///
    /// Errors: as [`Velero::wait_for_backup`].
    ///
    /// # Cancel safety
    /// Waiting only reads: a timeout, a cancel or dropping the future
    /// leaves the restore running in the cluster.
    ///
    /// ```no_run
    /// # async fn f(velero: k8sops_backup::velero::Velero) -> k8sops_backup::Result<()> {
    /// let restore = velero.wait_for_restore("shop-copy", &Default::default()).await?;
    /// restore.ensure_completed()?;
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_restore(&self, name: &str, params: &WaitParams) -> Result<Restore> {
        wait::follow::<Restore>(self, name, params).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restore_is_written_as_the_velero_cli_writes_it() {
        let params = RestoreParams::from_backup("nightly")
            .map_namespace("shop", "shop-copy")
            .existing_resource_policy(ExistingResourcePolicy::Update)
            .restore_pvs(false);
        let json = serde_json::to_value(params.build("velero", "shop-copy").unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "apiVersion": "velero.io/v1",
                "kind": "Restore",
                "metadata": {"name": "shop-copy", "namespace": "velero"},
                "spec": {
                    "backupName": "nightly",
                    "includedNamespaces": ["*"],
                    "namespaceMapping": {"shop": "shop-copy"},
                    "existingResourcePolicy": "update",
                    "restorePVs": false
                }
            })
        );
    }

    #[test]
    fn a_restore_needs_exactly_one_source() {
        let both = RestoreParams { schedule_name: Some("daily".into()), ..RestoreParams::from_backup("b") };
        for params in [RestoreParams::default(), both] {
            let err = params.build("velero", "r").unwrap_err();
            assert!(err.to_string().contains("either a backup or a schedule"), "{err}");
        }
    }
}
