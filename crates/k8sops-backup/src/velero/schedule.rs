//! `velero schedule create` and `velero schedule get`: the Schedule
//! object, whose `spec.template` is a Backup spec the Velero server copies
//! into a new Backup at each cron tick.

use std::{collections::BTreeMap, fmt};

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time},
    jiff::Timestamp,
};
use k8sops_core::Table;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    backup::nullable, from_now, go_duration, go_time, phases, validate, velero_object, BackupParams, BackupSpec,
    GetParams, Velero,
};
use crate::Result;

phases! {
    /// `status.phase` of a Schedule.
    ///
    /// ```
    /// use k8sops_backup::velero::SchedulePhase;
    /// let phase: SchedulePhase = serde_json::from_str("\"Enabled\"")?;
    /// assert_eq!(phase, SchedulePhase::Enabled);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    SchedulePhase {
        /// The server accepted it and creates backups on schedule.
        Enabled,
        /// The cron expression or the template is invalid (see `validationErrors`).
        FailedValidation,
    }
}

/// `spec` of a Schedule.
///
/// ```
/// let spec: k8sops_backup::velero::ScheduleSpec =
///     serde_json::from_str(r#"{"schedule": "0 7 * * *", "template": {"ttl": "72h0m0s"}, "paused": true}"#)?;
/// assert_eq!(spec.schedule, "0 7 * * *");
/// assert!(spec.paused);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScheduleSpec {
    /// `schedule`: a cron expression (`0 7 * * *`, `@every 6h`).
    #[serde(default)]
    pub schedule: String,
    /// `template`: the spec of every backup the schedule creates.
    #[serde(default)]
    pub template: BackupSpec,
    /// `paused`: no backups are created while set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// `useOwnerReferencesInBackup`: backups are owned by (and deleted with) the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_owner_references_in_backup: Option<bool>,
    /// `skipImmediately`: no backup right after creation or unpausing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_immediately: Option<bool>,
    /// Every other field, as the server returned it.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `status` of a Schedule, written by the Velero server.
///
/// ```
/// let s: k8sops_backup::velero::ScheduleStatus = serde_json::from_str(r#"{"phase": "Enabled", "lastBackup": "2024-05-01T07:00:00Z"}"#)?;
/// assert!(s.last_backup.is_some());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScheduleStatus {
    /// `phase`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<SchedulePhase>,
    /// `lastBackup`: when the latest backup was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup: Option<Time>,
    /// `lastSkipped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_skipped: Option<Time>,
    /// `validationErrors`.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub validation_errors: Vec<String>,
    /// Every other field, as the server returned it.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A `velero.io/v1` Schedule.
///
/// ```
/// let s: k8sops_backup::velero::Schedule = serde_json::from_str(
///     r#"{"metadata": {"name": "daily"}, "spec": {"schedule": "@daily", "template": {}}, "status": {"phase": "Enabled"}}"#)?;
/// assert_eq!(s.phase(), k8sops_backup::velero::SchedulePhase::Enabled);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Schedule {
    /// Name, namespace, labels, ...
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// When, and what each backup holds.
    #[serde(default)]
    pub spec: ScheduleSpec,
    /// What the Velero server made of it.
    #[serde(default)]
    pub status: Option<ScheduleStatus>,
}

velero_object!(Schedule, ScheduleSpec, ScheduleStatus, "schedules");

impl Schedule {
    /// The schedule's name.
    ///
    /// ```
    /// let s: k8sops_backup::velero::Schedule = serde_json::from_str(r#"{"metadata": {"name": "daily"}}"#)?;
    /// assert_eq!(s.name(), "daily");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// `status.phase`, `New` when there is none yet.
    ///
    /// ```
    /// let s: k8sops_backup::velero::Schedule = serde_json::from_str(r#"{}"#)?;
    /// assert_eq!(s.phase(), k8sops_backup::velero::SchedulePhase::New);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn phase(&self) -> SchedulePhase {
        self.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default()
    }
}

impl fmt::Display for Schedule {
    /// One line: `Schedule velero/daily (0 7 * * *): Enabled`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.metadata.namespace.as_deref().unwrap_or_default();
        write!(f, "Schedule {ns}/{} ({}): {}", self.name(), self.spec.schedule, self.phase())?;
        if self.spec.paused {
            f.write_str(", paused")?;
        }
        if let Some(errors) = self.status.as_ref().map(|s| &s.validation_errors).filter(|e| !e.is_empty()) {
            write!(f, ": {}", errors.join("; "))?;
        }
        writeln!(f)
    }
}

/// What `velero schedule create` takes: the cron expression and the
/// options of each backup (the same as `velero backup create`'s).
///
/// ```
/// use std::time::Duration;
/// use k8sops_backup::velero::{BackupParams, ScheduleParams};
/// // velero schedule create daily --schedule "0 7 * * *" --include-namespaces shop --ttl 168h
/// let params = ScheduleParams::new("0 7 * * *")
///     .template(BackupParams::default().include_namespaces(["shop"]).ttl(Duration::from_secs(168 * 3600)));
/// let schedule = params.build("velero", "daily")?;
/// assert_eq!(schedule.spec.template.ttl.as_deref(), Some("168h0m0s"));
/// assert_eq!(schedule.spec.use_owner_references_in_backup, Some(false));
/// # Ok::<(), k8sops_backup::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScheduleParams {
    /// `--schedule`: a cron expression, checked as Velero's server parses it.
    pub schedule: String,
    /// The backup options. Its `labels` and `annotations` go on the
    /// Schedule object, as `velero schedule create --labels` puts them;
    /// Velero copies them onto every backup it creates.
    pub template: BackupParams,
    /// `--paused`: create it paused.
    pub paused: bool,
    /// `--use-owner-references-in-backup` (the CLI always writes it; default false).
    pub use_owner_references_in_backup: bool,
    /// `--skip-immediately`.
    pub skip_immediately: Option<bool>,
}

impl ScheduleParams {
    /// A schedule with `cron` and the default backup options.
    ///
    /// ```
    /// let p = k8sops_backup::velero::ScheduleParams::new("@every 6h");
    /// assert_eq!(p.schedule, "@every 6h");
    /// assert_eq!(p.template.included_namespaces, ["*"]);
    /// ```
    pub fn new(cron: impl Into<String>) -> Self {
        ScheduleParams { schedule: cron.into(), ..Default::default() }
    }

    /// Sets [`template`](Self::template).
    ///
    /// ```
    /// use k8sops_backup::velero::{BackupParams, ScheduleParams};
    /// let p = ScheduleParams::new("@daily").template(BackupParams::default().include_namespaces(["shop"]));
    /// assert_eq!(p.template.included_namespaces, ["shop"]);
    /// ```
    #[must_use]
    pub fn template(mut self, template: BackupParams) -> Self {
        self.template = template;
        self
    }

    /// Sets [`paused`](Self::paused).
    ///
    /// ```
    /// assert!(k8sops_backup::velero::ScheduleParams::new("@daily").paused(true).paused);
    /// ```
    #[must_use]
    pub fn paused(mut self, paused: bool) -> Self {
        self.paused = paused;
        self
    }

    /// The Schedule `velero schedule create NAME` with these options would
    /// create in `namespace`, checked but not sent.
    ///
    /// Errors: [`k8sops_core::Error::InvalidInput`] for an invalid name, a
    /// cron expression Velero's server would refuse, or invalid backup options.
    ///
    /// ```
    /// let err = k8sops_backup::velero::ScheduleParams::new("0 25 * * *").build("velero", "daily").unwrap_err();
    /// assert!(err.to_string().contains("hour"));
    /// ```
    pub fn build(&self, namespace: &str, name: &str) -> Result<Schedule> {
        validate::object_name("schedule", name)?;
        validate::cron(&self.schedule)?;
        validate::labels("labels", &self.template.labels)?;
        Ok(Schedule {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(namespace.to_string()),
                labels: (!self.template.labels.is_empty()).then(|| self.template.labels.clone()),
                annotations: (!self.template.annotations.is_empty()).then(|| self.template.annotations.clone()),
                ..Default::default()
            },
            spec: ScheduleSpec {
                schedule: self.schedule.clone(),
                template: self.template.spec()?,
                paused: self.paused,
                use_owner_references_in_backup: Some(self.use_owner_references_in_backup),
                skip_immediately: self.skip_immediately,
                extra: BTreeMap::new(),
            },
            status: None,
        })
    }
}

/// The schedules `velero schedule get` lists. `Display` prints its table.
///
/// ```no_run
/// # async fn f(velero: k8sops_backup::velero::Velero) -> k8sops_backup::Result<()> {
/// print!("{}", velero.list_schedules(&Default::default()).await?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ScheduleList {
    /// Velero's namespace.
    pub namespace: String,
    /// The schedules, by name.
    pub items: Vec<Schedule>,
}

impl fmt::Display for ScheduleList {
    /// `velero schedule get`'s columns: NAME, STATUS, CREATED, SCHEDULE,
    /// BACKUP TTL, LAST BACKUP, SELECTOR, PAUSED.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let now = Timestamp::now();
        let mut t =
            Table::new(["name", "status", "created", "schedule", "backup ttl", "last backup", "selector", "paused"]);
        for s in &self.items {
            let last = s.status.as_ref().and_then(|st| st.last_backup.as_ref()).map(|t| t.0);
            t.row([
                s.name().to_string(),
                s.phase().to_string(),
                go_time(s.metadata.creation_timestamp.as_ref()),
                s.spec.schedule.clone(),
                go_duration::format(s.spec.template.ttl().unwrap_or_default()),
                from_now(last, now),
                validate::format_selector(s.spec.template.label_selector.as_ref()),
                s.spec.paused.to_string(),
            ]);
        }
        write!(f, "{t}")
    }
}

impl Velero {
    /// `velero schedule create NAME --schedule CRON`: checks the cron
    /// expression and the backup options, and creates the Schedule. The
    /// Velero server then creates a Backup named `NAME-YYYYMMDDHHMMSS` at
    /// each tick (labelled `velero.io/schedule-name=NAME`).
    ///
    /// Errors: [`Error::VeleroNotInstalled`](crate::Error::VeleroNotInstalled);
    /// [`k8sops_core::Error::InvalidInput`] (nothing is created);
    /// [`k8sops_core::Error::AlreadyExists`].
    ///
    /// ```no_run
    /// # async fn f(velero: k8sops_backup::velero::Velero) -> k8sops_backup::Result<()> {
    /// use k8sops_backup::velero::{BackupParams, ScheduleParams};
    /// let params = ScheduleParams::new("0 7 * * *").template(BackupParams::default().include_namespaces(["shop"]));
    /// velero.create_schedule("shop-daily", &params).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_schedule(&self, name: &str, params: &ScheduleParams) -> Result<Schedule> {
        let schedule = params.build(&self.namespace, name)?;
        self.ensure_served("schedules").await?;
        self.create("schedule", &schedule).await
    }

    /// `velero schedule get NAME`.
    ///
    /// Errors: [`Error::VeleroNotInstalled`](crate::Error::VeleroNotInstalled), [`k8sops_core::Error::NotFound`].
    ///
    /// ```no_run
    /// # async fn f(velero: k8sops_backup::velero::Velero) -> k8sops_backup::Result<()> {
    /// println!("{}", velero.get_schedule("shop-daily").await?.phase());
    /// # Ok(()) }
    /// ```
    pub async fn get_schedule(&self, name: &str) -> Result<Schedule> {
        self.get("schedule", name).await
    }

    /// `velero schedule get [-l SELECTOR]`, by name.
    ///
    /// Errors: [`Error::VeleroNotInstalled`](crate::Error::VeleroNotInstalled), [`k8sops_core::Error::Forbidden`], ...
    ///
    /// ```no_run
    /// # async fn f(velero: k8sops_backup::velero::Velero) -> k8sops_backup::Result<()> {
    /// let schedules = velero.list_schedules(&Default::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn list_schedules(&self, params: &GetParams) -> Result<ScheduleList> {
        let mut items: Vec<Schedule> = self.list(params).await?;
        items.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(ScheduleList { namespace: self.namespace.clone(), items })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_is_written_as_the_velero_cli_writes_it() {
        let params = ScheduleParams::new("0 7 * * *").template(
            BackupParams::default()
                .include_namespaces(["shop"])
                .ttl(std::time::Duration::from_secs(72 * 3600))
                .label("team", "web"),
        );
        let json = serde_json::to_value(params.build("velero", "daily").unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "apiVersion": "velero.io/v1",
                "kind": "Schedule",
                "metadata": {"name": "daily", "namespace": "velero", "labels": {"team": "web"}},
                "spec": {
                    "schedule": "0 7 * * *",
                    "template": {"includedNamespaces": ["shop"], "ttl": "72h0m0s"},
                    "useOwnerReferencesInBackup": false
                }
            })
        );
    }
}
