//! Which backups to keep: the last N, none older than D, and never the
//! store without a complete backup.

use std::{collections::BTreeMap, fmt, time::Duration};

use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;
use k8sops_core::Table;
use object_store::{path::Path, ObjectMeta, ObjectStore, ObjectStoreExt};
use serde::Serialize;

use crate::Result;

/// The object whose presence marks a backup as complete:
/// `<root>/<name>/manifest.json`. Backup writers put it last.
pub const MANIFEST: &str = "manifest.json";

/// How many backups to keep. A field left `None` keeps everything as far as
/// it is concerned, so [`Default`] keeps every backup. When both are set, a
/// backup is deleted if either says so.
///
/// Whatever the policy, the newest complete backup is never deleted, so
/// pruning never leaves a store without a complete backup (even when every
/// backup is older than `max_age`). Incomplete backups (no
/// `manifest.json`) do not count towards `keep_last`: one older than the
/// newest complete backup is an abandoned attempt and is deleted by any
/// policy that is not the default; a newer one may still be being written
/// and is kept.
///
/// ```
/// use std::time::Duration;
/// use k8sops_backup::store::RetentionPolicy;
/// let policy = RetentionPolicy::default().keep_last(7).max_age(Duration::from_secs(30 * 24 * 3600));
/// assert_eq!(policy.keep_last, Some(7));
/// assert!(RetentionPolicy::default().keeps_everything());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionPolicy {
    /// Keep the newest N complete backups and delete older ones. At least 1.
    pub keep_last: Option<usize>,
    /// Delete complete backups older than this (by the time their
    /// `manifest.json` was written).
    pub max_age: Option<Duration>,
}

impl RetentionPolicy {
    /// Sets [`keep_last`](Self::keep_last).
    ///
    /// ```
    /// assert_eq!(k8sops_backup::store::RetentionPolicy::default().keep_last(3).keep_last, Some(3));
    /// ```
    #[must_use]
    pub fn keep_last(mut self, n: usize) -> Self {
        self.keep_last = Some(n);
        self
    }

    /// Sets [`max_age`](Self::max_age).
    ///
    /// ```
    /// let p = k8sops_backup::store::RetentionPolicy::default().max_age(std::time::Duration::from_secs(86400));
    /// assert!(p.max_age.is_some());
    /// ```
    #[must_use]
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// Whether no rule is set (the default): nothing is deleted.
    ///
    /// ```
    /// assert!(!k8sops_backup::store::RetentionPolicy::default().keep_last(1).keeps_everything());
    /// ```
    pub fn keeps_everything(&self) -> bool {
        self.keep_last.is_none() && self.max_age.is_none()
    }

    /// Refuses `keep_last: Some(0)`: the newest complete backup is always
    /// kept, so asking for none is a mistake rather than a policy.
    ///
    /// ```
    /// use k8sops_backup::store::RetentionPolicy;
    /// assert!(RetentionPolicy::default().keep_last(0).validate().is_err());
    /// assert!(RetentionPolicy::default().keep_last(1).validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.keep_last == Some(0) {
            return Err(k8sops_core::Error::InvalidInput {
                message: "keep_last must be at least 1: the newest complete backup is never deleted".into(),
                source: None,
            }
            .into());
        }
        Ok(())
    }

    /// What the policy does with each backup at time `now`, in the order
    /// given. Pure: [`prune`] lists the backups, calls this, then deletes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use k8sops_backup::store::{Backup, Decision, DeleteReason, KeepReason, RetentionPolicy};
    /// let now: jiff::Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
    /// let backup = |name: &str, days_ago: i64, complete: bool| Backup {
    ///     name: name.into(), complete, time: now - jiff::SignedDuration::from_hours(24 * days_ago), objects: 3, bytes: 100,
    /// };
    /// let backups = [backup("d1", 1, true), backup("d2", 2, false), backup("d3", 3, true), backup("d9", 9, true)];
    /// let plan = RetentionPolicy::default().max_age(Duration::from_secs(5 * 86400)).plan(&backups, now);
    /// assert_eq!(plan[0], Decision::Keep(KeepReason::NewestComplete));
    /// assert_eq!(plan[1], Decision::Delete(DeleteReason::Superseded { by: "d1".into() }));
    /// assert_eq!(plan[2], Decision::Keep(KeepReason::WithinPolicy));
    /// assert!(matches!(plan[3], Decision::Delete(DeleteReason::OlderThanMaxAge { .. })));
    /// ```
    pub fn plan(&self, backups: &[Backup], now: Timestamp) -> Vec<Decision> {
        if self.keeps_everything() {
            return vec![Decision::Keep(KeepReason::NoRule); backups.len()];
        }
        // Complete backups, newest first; the same time goes to the later name.
        let mut complete: Vec<usize> = (0..backups.len()).filter(|&i| backups[i].complete).collect();
        complete.sort_by(|&a, &b| {
            backups[b].time.cmp(&backups[a].time).then_with(|| backups[b].name.cmp(&backups[a].name))
        });
        let newest = complete.first().map(|&i| &backups[i]);
        let mut out = vec![Decision::Keep(KeepReason::WithinPolicy); backups.len()];
        for (position, &i) in complete.iter().enumerate() {
            let b = &backups[i];
            let age = now.duration_since(b.time).try_into().unwrap_or(Duration::ZERO);
            out[i] = if position == 0 {
                Decision::Keep(KeepReason::NewestComplete)
            } else if let Some(keep_last) = self.keep_last.filter(|&n| position >= n) {
                Decision::Delete(DeleteReason::BeyondKeepLast { position: position + 1, keep_last })
            } else if let Some(max_age) = self.max_age.filter(|&d| age > d) {
                Decision::Delete(DeleteReason::OlderThanMaxAge { age, max_age })
            } else {
                Decision::Keep(KeepReason::WithinPolicy)
            };
        }
        for (i, b) in backups.iter().enumerate().filter(|(_, b)| !b.complete) {
            out[i] = match newest {
                Some(n) if b.time < n.time => Decision::Delete(DeleteReason::Superseded { by: n.name.clone() }),
                _ => Decision::Keep(KeepReason::InProgress),
            };
        }
        out
    }
}

/// One backup: the objects under `<root>/<name>/`.
///
/// ```
/// let b = k8sops_backup::store::Backup { name: "2026-11-26".into(), complete: true, time: jiff::Timestamp::UNIX_EPOCH, objects: 2, bytes: 10 };
/// assert!(b.complete);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backup {
    /// The directory name under the root.
    pub name: String,
    /// Whether `<root>/<name>/manifest.json` exists.
    pub complete: bool,
    /// When it was finished: its `manifest.json`'s last modification; for
    /// an incomplete backup, its newest object's.
    pub time: Timestamp,
    /// How many objects it has.
    pub objects: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// Every backup under `root` (`<root>/<name>/...`), newest first (by
/// [`Backup::time`], then name). Objects directly under `root` are not
/// backups and are ignored.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_backup::Result<()> {
/// use k8sops_backup::object_store::{path::Path, ObjectStoreExt};
/// let store = k8sops_backup::store::memory();
/// store.put(&Path::from("prod/2026-11-25/resources.tar.gz"), "x".into()).await?;
/// store.put(&Path::from("prod/2026-11-26/resources.tar.gz"), "x".into()).await?;
/// store.put(&Path::from("prod/2026-11-26/manifest.json"), "{}".into()).await?;
/// let backups = k8sops_backup::store::list_backups(&store, &Path::from("prod")).await?;
/// assert_eq!(backups.len(), 2);
/// assert!(backups.iter().any(|b| b.name == "2026-11-26" && b.complete && b.objects == 2));
/// # Ok(()) }
/// ```
pub async fn list_backups(store: &dyn ObjectStore, root: &Path) -> Result<Vec<Backup>> {
    let mut by_name: BTreeMap<String, Backup> = BTreeMap::new();
    let mut listing = store.list(Some(root));
    while let Some(meta) = listing.try_next().await? {
        let Some(parts) = meta.location.prefix_match(root) else { continue };
        let parts: Vec<String> = parts.map(|p| p.as_ref().to_string()).collect();
        if parts.len() < 2 {
            continue;
        }
        let modified = timestamp(&meta);
        let b = by_name.entry(parts[0].clone()).or_insert_with(|| Backup {
            name: parts[0].clone(),
            complete: false,
            time: modified,
            objects: 0,
            bytes: 0,
        });
        b.objects += 1;
        b.bytes += meta.size;
        if parts.len() == 2 && parts[1] == MANIFEST {
            b.complete = true;
            b.time = modified;
        } else if !b.complete && modified > b.time {
            b.time = modified;
        }
    }
    let mut out: Vec<Backup> = by_name.into_values().collect();
    out.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| b.name.cmp(&a.name)));
    Ok(out)
}

/// `object_store`'s `chrono` time as a `jiff` one.
fn timestamp(meta: &ObjectMeta) -> Timestamp {
    let t = &meta.last_modified;
    Timestamp::new(t.timestamp(), t.timestamp_subsec_nanos() as i32).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// What the policy does with one backup.
///
/// ```
/// use k8sops_backup::store::{Decision, KeepReason};
/// assert!(!Decision::Keep(KeepReason::NewestComplete).deletes());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Keep it.
    Keep(KeepReason),
    /// Delete every object of it.
    Delete(DeleteReason),
}

impl Decision {
    /// Whether the backup is to be deleted.
    ///
    /// ```
    /// use k8sops_backup::store::{Decision, DeleteReason};
    /// assert!(Decision::Delete(DeleteReason::Superseded { by: "b".into() }).deletes());
    /// ```
    pub fn deletes(&self) -> bool {
        matches!(self, Decision::Delete(_))
    }
}

/// Why a backup is kept.
///
/// ```
/// use k8sops_backup::store::KeepReason;
/// assert_eq!(KeepReason::NewestComplete.to_string(), "newest complete backup");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeepReason {
    /// The policy sets no rule (the default): everything is kept.
    NoRule,
    /// The newest complete backup, which is never deleted.
    NewestComplete,
    /// Among the last `keep_last` and younger than `max_age` (those set).
    WithinPolicy,
    /// Incomplete but not older than the newest complete backup: it may
    /// still be being written.
    InProgress,
}

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeepReason::NoRule => "no retention rule",
            KeepReason::NewestComplete => "newest complete backup",
            KeepReason::WithinPolicy => "within policy",
            KeepReason::InProgress => "incomplete, may be in progress",
        })
    }
}

/// Why a backup is deleted.
///
/// ```
/// use k8sops_backup::store::DeleteReason;
/// assert_eq!(DeleteReason::BeyondKeepLast { position: 4, keep_last: 3 }.to_string(), "4th newest, keep_last is 3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeleteReason {
    /// Not among the `keep_last` newest complete backups.
    BeyondKeepLast {
        /// Its place among complete backups, the newest being 1.
        position: usize,
        /// The policy's `keep_last`.
        keep_last: usize,
    },
    /// Older than `max_age`.
    OlderThanMaxAge {
        /// Its age.
        age: Duration,
        /// The policy's `max_age`.
        max_age: Duration,
    },
    /// Incomplete and older than the newest complete backup: an abandoned
    /// attempt that cannot be restored.
    Superseded {
        /// The newest complete backup.
        by: String,
    },
}

impl fmt::Display for DeleteReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeleteReason::BeyondKeepLast { position, keep_last } => {
                let suffix = match (position % 10, position % 100) {
                    (1, n) if n != 11 => "st",
                    (2, n) if n != 12 => "nd",
                    (3, n) if n != 13 => "rd",
                    _ => "th",
                };
                write!(f, "{position}{suffix} newest, keep_last is {keep_last}")
            }
            DeleteReason::OlderThanMaxAge { age, max_age } => write!(
                f,
                "{} old, max_age is {}",
                k8sops_core::human_duration(*age),
                k8sops_core::human_duration(*max_age)
            ),
            DeleteReason::Superseded { by } => write!(f, "incomplete, superseded by {by}"),
        }
    }
}

/// What [`prune`] did with one backup.
///
/// ```
/// use k8sops_backup::store::{KeepReason, PruneOutcome};
/// assert_eq!(PruneOutcome::Kept { reason: KeepReason::NoRule }.word(), "kept");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PruneOutcome {
    /// Kept.
    Kept {
        /// Why.
        reason: KeepReason,
    },
    /// Every object was deleted.
    Deleted {
        /// Why.
        reason: DeleteReason,
    },
    /// Dry run: would have been deleted.
    WouldDelete {
        /// Why.
        reason: DeleteReason,
    },
    /// Deleting failed part-way. Its `manifest.json` is deleted first, so a
    /// backup that failed here is at worst incomplete (never a complete
    /// backup with objects missing); the next prune deletes the rest.
    Failed {
        /// Why it was to be deleted.
        reason: DeleteReason,
        /// What went wrong.
        error: String,
        /// Objects deleted before the failure.
        deleted_objects: usize,
    },
}

impl PruneOutcome {
    /// One word for tables: `kept`, `deleted`, `would-delete`, `failed`.
    ///
    /// ```
    /// use k8sops_backup::store::{DeleteReason, PruneOutcome};
    /// assert_eq!(PruneOutcome::WouldDelete { reason: DeleteReason::Superseded { by: "b".into() } }.word(), "would-delete");
    /// ```
    pub fn word(&self) -> &'static str {
        match self {
            PruneOutcome::Kept { .. } => "kept",
            PruneOutcome::Deleted { .. } => "deleted",
            PruneOutcome::WouldDelete { .. } => "would-delete",
            PruneOutcome::Failed { .. } => "failed",
        }
    }
}

/// One backup and what [`prune`] did with it.
///
/// ```
/// use k8sops_backup::store::{Backup, KeepReason, PruneOutcome, PrunedBackup};
/// let b = Backup { name: "b".into(), complete: true, time: jiff::Timestamp::UNIX_EPOCH, objects: 1, bytes: 1 };
/// let p = PrunedBackup { backup: b, outcome: PruneOutcome::Kept { reason: KeepReason::NoRule } };
/// assert_eq!(p.outcome.word(), "kept");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrunedBackup {
    /// The backup, as listed before pruning.
    #[serde(flatten)]
    pub backup: Backup,
    /// What happened to it.
    pub outcome: PruneOutcome,
}

/// The result of [`prune`]: every backup under the root and what happened
/// to it, newest first.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_backup::Result<()> {
/// let store = k8sops_backup::store::memory();
/// let report = k8sops_backup::store::prune(&store, &"prod".into(), &Default::default(), false).await?;
/// assert!(report.backups.is_empty());
/// print!("{report}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// The root prefix.
    pub root: String,
    /// The policy applied.
    pub policy: RetentionPolicy,
    /// Whether this was a dry run (nothing deleted).
    pub dry_run: bool,
    /// Every backup, newest first.
    pub backups: Vec<PrunedBackup>,
}

impl PruneReport {
    /// The names of the backups deleted (or, in a dry run, to be deleted).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_backup::Result<()> {
    /// let store = k8sops_backup::store::memory();
    /// let report = k8sops_backup::store::prune(&store, &"prod".into(), &Default::default(), true).await?;
    /// assert!(report.deleted().is_empty());
    /// # Ok(()) }
    /// ```
    pub fn deleted(&self) -> Vec<&str> {
        self.backups
            .iter()
            .filter(|b| matches!(b.outcome, PruneOutcome::Deleted { .. } | PruneOutcome::WouldDelete { .. }))
            .map(|b| b.backup.name.as_str())
            .collect()
    }

    /// The names of the backups kept.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_backup::Result<()> {
    /// let store = k8sops_backup::store::memory();
    /// let report = k8sops_backup::store::prune(&store, &"prod".into(), &Default::default(), true).await?;
    /// assert!(report.kept().is_empty());
    /// # Ok(()) }
    /// ```
    pub fn kept(&self) -> Vec<&str> {
        self.backups
            .iter()
            .filter(|b| matches!(b.outcome, PruneOutcome::Kept { .. }))
            .map(|b| b.backup.name.as_str())
            .collect()
    }

    /// The report if no deletion failed, otherwise
    /// [`k8sops_core::Error::Backend`] naming the backups that could not be
    /// deleted. For callers who want `?`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> k8sops_backup::Result<()> {
    /// let store = k8sops_backup::store::memory();
    /// let policy = k8sops_backup::store::RetentionPolicy::default().keep_last(3);
    /// k8sops_backup::store::prune(&store, &"prod".into(), &policy, false).await?.ensure_completed()?;
    /// # Ok(()) }
    /// ```
    pub fn ensure_completed(self) -> Result<Self> {
        let failed: Vec<String> = self
            .backups
            .iter()
            .filter_map(|b| match &b.outcome {
                PruneOutcome::Failed { error, .. } => Some(format!("{}: {error}", b.backup.name)),
                _ => None,
            })
            .collect();
        if failed.is_empty() {
            return Ok(self);
        }
        Err(k8sops_core::Error::Backend {
            backend: format!("backup store under {}", self.root),
            message: format!("could not delete {} backup(s): {}; run prune again", failed.len(), failed.join("; ")),
            transient: true,
            source: None,
        }
        .into())
    }
}

impl fmt::Display for PruneReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = Table::new(["name", "complete", "time", "objects", "bytes", "action", "reason"]);
        for b in &self.backups {
            let reason = match &b.outcome {
                PruneOutcome::Kept { reason } => reason.to_string(),
                PruneOutcome::Deleted { reason } | PruneOutcome::WouldDelete { reason } => reason.to_string(),
                PruneOutcome::Failed { reason, error, deleted_objects } => {
                    format!("{reason}; failed after {deleted_objects} object(s): {error}")
                }
            };
            t.row([
                b.backup.name.clone(),
                if b.backup.complete { "yes" } else { "no" }.to_string(),
                b.backup.time.to_string(),
                b.backup.objects.to_string(),
                b.backup.bytes.to_string(),
                b.outcome.word().to_string(),
                reason,
            ]);
        }
        write!(f, "{t}")
    }
}

/// Applies `policy` to the backups under `root`: lists them
/// ([`list_backups`]), decides ([`RetentionPolicy::plan`], with the current
/// time) and deletes whole backups — every object under `<root>/<name>/`,
/// its `manifest.json` first, so a deletion that fails part-way leaves an
/// incomplete backup rather than a damaged complete one. With `dry_run`
/// nothing is deleted and the report says what would be. The newest
/// complete backup is never deleted (see [`RetentionPolicy`]).
///
/// `Err` only when the policy is invalid (nothing is deleted then) or the
/// backups cannot be listed; a backup that cannot be deleted is reported as
/// [`PruneOutcome::Failed`] and the others are still processed.
///
/// # Cancel safety
/// Dropping the future stops between deletions: every backup is either
/// whole, deleted, or incomplete (its manifest gone), which the next prune
/// deletes.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_backup::Result<()> {
/// use k8sops_backup::{object_store::{path::Path, ObjectStoreExt}, store::{prune, RetentionPolicy}};
/// let store = k8sops_backup::store::memory();
/// for day in ["2026-11-24", "2026-11-25", "2026-11-26"] {
///     store.put(&Path::from(format!("prod/{day}/resources.tar.gz")), "x".into()).await?;
///     store.put(&Path::from(format!("prod/{day}/manifest.json")), "{}".into()).await?;
/// }
/// let report = prune(&store, &Path::from("prod"), &RetentionPolicy::default().keep_last(2), false).await?;
/// assert_eq!(report.deleted(), ["2026-11-24"]);
/// assert_eq!(k8sops_backup::store::list_backups(&store, &Path::from("prod")).await?.len(), 2);
/// # Ok(()) }
/// ```
pub async fn prune(
    store: &dyn ObjectStore,
    root: &Path,
    policy: &RetentionPolicy,
    dry_run: bool,
) -> Result<PruneReport> {
    policy.validate()?;
    let backups = list_backups(store, root).await?;
    let plan = policy.plan(&backups, Timestamp::now());
    let mut out = Vec::with_capacity(backups.len());
    for (backup, decision) in backups.into_iter().zip(plan) {
        let outcome = match decision {
            Decision::Keep(reason) => PruneOutcome::Kept { reason },
            Decision::Delete(reason) if dry_run => PruneOutcome::WouldDelete { reason },
            Decision::Delete(reason) => {
                // `backup.name` is the listed (already encoded) segment: parse, do not join (join encodes again).
                let prefix = if root.as_ref().is_empty() {
                    Path::parse(&backup.name)
                } else {
                    Path::parse(format!("{root}/{}", backup.name))
                };
                match prefix {
                    Err(e) => PruneOutcome::Failed { reason, error: e.to_string(), deleted_objects: 0 },
                    Ok(prefix) => match delete_backup(store, &prefix).await {
                        Ok(_) => PruneOutcome::Deleted { reason },
                        Err((deleted_objects, e)) => {
                            PruneOutcome::Failed { reason, error: e.to_string(), deleted_objects }
                        }
                    },
                }
            }
        };
        out.push(PrunedBackup { backup, outcome });
    }
    Ok(PruneReport { root: root.to_string(), policy: *policy, dry_run, backups: out })
}

/// Deletes every object under `prefix`, the manifest first. Returns how many
/// were deleted, or that count and the first error.
async fn delete_backup(
    store: &dyn ObjectStore,
    prefix: &Path,
) -> std::result::Result<usize, (usize, object_store::Error)> {
    let manifest = prefix.clone().join(MANIFEST);
    let mut objects: Vec<Path> =
        store.list(Some(prefix)).map_ok(|m| m.location).try_collect().await.map_err(|e| (0, e))?;
    let mut deleted = 0;
    if let Some(i) = objects.iter().position(|l| *l == manifest) {
        objects.swap_remove(i);
        match store.delete(&manifest).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => deleted += 1,
            Err(e) => return Err((0, e)),
        }
    }
    let mut results = store.delete_stream(futures::stream::iter(objects.into_iter().map(Ok)).boxed());
    let mut first_error = None;
    while let Some(r) = results.next().await {
        match r {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => deleted += 1,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        None => Ok(deleted),
        Some(e) => Err((deleted, e)),
    }
}
