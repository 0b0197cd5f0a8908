//! The weekly checks: a backup and its verification, unused resources, a
//! security audit summary, top consumers.
//!
//! | id | check | needs feature |
//! |---|---|---|
//! | `backup` | [`BackupCheck`]: export the cluster's resources, read the backup back and check every file's SHA-256; optionally an etcd snapshot file | `backup` |
//! | `unused` | [`UnusedResourcesCheck`]: finished pods, orphaned claims, unreferenced ConfigMaps and Secrets, Services without endpoints | — |
//! | `audit` | [`AuditSummaryCheck`]: RBAC risks, Pod Security, scores | `audit` |
//! | `top` | [`TopConsumersCheck`]: the pods and namespaces using the most CPU and memory | `metrics` |
//!
//! Every check only reads, except `backup`, which writes one export per run
//! (see [`BackupCheck`] for where).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = k8sops_testkit::TestServer::start().await?;
//! # server.load(&k8sops_testkit::DemoCluster::small())?;
//! use k8sops::checklist::{weekly::UnusedResourcesCheck, Checklist};
//!
//! // The weekly checklist, failing the unused-resources check from 20 objects on.
//! let weekly = Checklist::weekly().with(UnusedResourcesCheck { fail_over: 20, ..Default::default() });
//! let report = weekly.run(&server.cluster()).await;
//! print!("{report}");
//! # assert!(report.result("unused").is_some_and(|r| r.outcome.ran()));
//! # Ok(()) }
//! ```

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
};

use futures::future::BoxFuture;
use k8sops_core::{paging, Cluster};
use kube::{
    api::{DynamicObject, ListParams},
    discovery::ApiResource,
    Api,
};
use serde_json::Value;

#[cfg(any(feature = "audit", feature = "metrics"))]
use super::Status;
use super::{plural, Check, CheckOutput, Finding};

/// The weekly checks, in order.
// Pushed one by one: each check is compiled only with its area's feature.
#[allow(clippy::vec_init_then_push)]
pub(crate) fn checks() -> Vec<Arc<dyn Check>> {
    let mut checks: Vec<Arc<dyn Check>> = Vec::new();
    #[cfg(feature = "backup")]
    checks.push(Arc::new(BackupCheck::default()));
    checks.push(Arc::new(UnusedResourcesCheck::default()));
    #[cfg(feature = "audit")]
    checks.push(Arc::new(AuditSummaryCheck::default()));
    #[cfg(feature = "metrics")]
    checks.push(Arc::new(TopConsumersCheck::default()));
    checks
}

// ---------------------------------------------------------------------------
// backup
// ---------------------------------------------------------------------------

#[cfg(feature = "backup")]
#[cfg_attr(docsrs, doc(cfg(feature = "backup")))]
pub use self::backup_check::BackupCheck;

#[cfg(feature = "backup")]
mod backup_check {
    use std::{
        path::{Path, PathBuf},
        sync::Arc,
        time::{Duration, SystemTime},
    };

    use futures::future::BoxFuture;
    use k8sops_backup::{
        export::{export, ExportParams, ExportReport, ExportStatus},
        layout::Location,
        restore::{read_manifest, restore, RestoreParams},
        snapshot::{self, humanize_bytes, ReadParams, Trailer},
        store,
    };
    use k8sops_core::{CancellationToken, Cluster, DryRun};

    use crate::checklist::{error_chain, on_blocking_thread, plural, Check, CheckOutput, Finding, Status};

    /// The ops guide's weekly backup, done and checked: exports the
    /// cluster's resources ([`k8sops::backup::export`](crate::backup::export)),
    /// reads the backup's `manifest.json` back and checks every file's
    /// size and SHA-256 against it (the verification a restore does, with
    /// nothing sent to the cluster), and, when [`etcd_snapshot`](Self::etcd_snapshot)
    /// names a file, checks that etcd snapshot as `etcdctl snapshot status` does.
    ///
    /// Where the export goes: [`location`](Self::location) if set (it must
    /// not already hold a backup); otherwise the cluster's backup store
    /// ([`Cluster::backup_store`]) under `<store_prefix>/<UTC timestamp>`
    /// (`weekly/20261201T020000.000Z`), which
    /// [`store::prune`](crate::backup::store::prune) can keep in check;
    /// otherwise a new directory under [`std::env::temp_dir`] (mode `0700`,
    /// a [`store::local_dir`](crate::backup::store::local_dir)), removed
    /// with its files after the verification, or when the check is dropped
    /// (timeout, cancel): memory stays bounded whatever the cluster's size,
    /// and the disk holds one export at most while the check runs.
    ///
    /// - **Fail**: no store is configured and no temporary directory can
    ///   be made; the export could not be written (store error, discovery
    ///   failed), a resource type could not be listed for a reason other
    ///   than a 403, the manifest cannot be read back or does not match the
    ///   export, a file's SHA-256 or size does not match the manifest; the
    ///   etcd snapshot is missing, unreadable or corrupt (bbolt's check, the
    ///   SHA-256 trailer).
    /// - **Warn**: resource types the caller may not list (403) are missing
    ///   from the backup; discovery could not read some group versions; no
    ///   backup store is configured (the export was verified but not kept);
    ///   the etcd snapshot is older than [`max_snapshot_age`](Self::max_snapshot_age).
    /// - **Pass**: otherwise, with the counts as evidence.
    ///
    /// RBAC: `list` on every resource type to back up (Secrets only with
    /// [`include_secrets`](Self::include_secrets)); write access to the store.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// # server.load(&k8sops_testkit::DemoCluster::small())?;
    /// use k8sops::checklist::{weekly::BackupCheck, Check, Status};
    ///
    /// // Keep the weekly exports in a backup store (here in memory; a local
    /// // directory or S3 in production: k8sops::backup::store).
    /// let store = k8sops::backup::store::memory();
    /// let cluster = server.cluster().to_builder().backup_store(store.clone()).build();
    /// let check = BackupCheck { namespaces: vec!["shop".into()], ..Default::default() };
    /// let out = check.run(&cluster).await?;
    /// for f in &out.findings {
    ///     println!("{} {}: {}", f.status, f.summary, f.evidence.join("; "));
    /// }
    /// assert_eq!(out.findings[0].status, Status::Pass);
    /// # Ok(()) }
    /// ```
    #[derive(Debug, Clone)]
    pub struct BackupCheck {
        /// Where to write the export; `None` (the default): the cluster's
        /// backup store under [`store_prefix`](Self::store_prefix), or a
        /// temporary directory removed after the check.
        pub location: Option<Location>,
        /// The prefix in the cluster's backup store under which each run
        /// writes `<UTC timestamp>/` (default `weekly`; empty: the store's root).
        pub store_prefix: String,
        /// Namespaces to export (names or `team-*` patterns); empty (the
        /// default) means all, with the cluster-scoped objects.
        pub namespaces: Vec<String>,
        /// Export Secrets too (default `false`: the backup holds no credentials).
        pub include_secrets: bool,
        /// An etcd snapshot file to check (`etcdctl snapshot save` output),
        /// e.g. last night's; `None` (the default) checks none.
        pub etcd_snapshot: Option<PathBuf>,
        /// A snapshot file older than this (by its modification time) warns
        /// (default 8 days: a weekly snapshot with a day's slack).
        pub max_snapshot_age: Duration,
    }

    impl Default for BackupCheck {
        fn default() -> Self {
            BackupCheck {
                location: None,
                store_prefix: "weekly".into(),
                namespaces: Vec::new(),
                include_secrets: false,
                etcd_snapshot: None,
                max_snapshot_age: Duration::from_secs(8 * 24 * 3600),
            }
        }
    }

    /// Where the export went, for the summary.
    enum Kept {
        /// The caller's location.
        Given,
        /// The cluster's backup store.
        Store,
        /// A temporary directory, removed after the check and after the
        /// export's and verification's threads are done with it.
        Temporary(Arc<TempDir>),
    }

    /// A directory of its own under [`std::env::temp_dir`], mode `0700`,
    /// removed with everything in it when dropped (after the verification,
    /// or when the check is dropped on a timeout or a cancel).
    struct TempDir(PathBuf);

    impl TempDir {
        /// Creates `k8sops-weekly-backup-<pid>-<nanos>-<n>`; a name that
        /// exists already is never reused.
        fn new() -> std::io::Result<TempDir> {
            use std::{
                os::unix::fs::DirBuilderExt,
                sync::atomic::{AtomicU64, Ordering},
            };
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let base = std::env::temp_dir();
            let mut last = None;
            for _ in 0..16 {
                let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                let dir = base.join(format!("k8sops-weekly-backup-{}-{nanos}-{n}", std::process::id()));
                match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                    Ok(()) => return Ok(TempDir(dir)),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                    Err(e) => return Err(e),
                }
            }
            Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary directory name")))
        }

        /// The directory.
        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    impl Check for BackupCheck {
        fn id(&self) -> &str {
            "backup"
        }

        fn title(&self) -> &str {
            "Backup exported and verified"
        }

        fn cut_short_note(&self) -> Option<String> {
            Some(format!(
                "an export cut short leaves its files without manifest.json in the backup store (under {}/<UTC time>/ unless a location was given): an incomplete backup, which restore refuses and k8sops::backup::store::prune deletes once a newer backup is complete; a temporary directory (no store configured) is removed",
                if self.store_prefix.is_empty() { "the store's root" } else { self.store_prefix.as_str() }
            ))
        }

        fn run<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, crate::Result<CheckOutput>> {
            Box::pin(async move {
                let mut findings = self.export_and_verify(cluster).await?;
                if let Some(path) = &self.etcd_snapshot {
                    findings.push(self.snapshot(path).await);
                }
                Ok(findings.into())
            })
        }
    }

    impl BackupCheck {
        /// Where to export; `Err` when there is no store and no temporary
        /// directory could be made.
        fn destination(&self, cluster: &Cluster) -> Result<(Location, Kept), String> {
            if let Some(l) = &self.location {
                return Ok((l.clone(), Kept::Given));
            }
            match cluster.backup_store() {
                Ok(s) => {
                    let stamp = k8s_openapi::jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S%.3fZ").to_string();
                    let prefix = self.store_prefix.trim_matches('/');
                    let key = if prefix.is_empty() { stamp } else { format!("{prefix}/{stamp}") };
                    Ok((Location::store(s.clone(), key), Kept::Store))
                }
                // Not in memory: a whole cluster's export would be held there.
                Err(_) => {
                    let dir = TempDir::new().map_err(|e| {
                        format!("no temporary directory could be created in {}: {e}", std::env::temp_dir().display())
                    })?;
                    let local = store::local_dir(dir.path()).map_err(|e| {
                        format!("the temporary directory {} cannot be used: {}", dir.path().display(), error_chain(&e))
                    })?;
                    Ok((Location::store(local, "weekly"), Kept::Temporary(Arc::new(dir))))
                }
            }
        }

        /// The export and its verification: the summary first, then one
        /// finding per problem.
        async fn export_and_verify(&self, cluster: &Cluster) -> crate::Result<Vec<Finding>> {
            let (location, kept) = match self.destination(cluster) {
                Ok(d) => d,
                Err(why) => {
                    return Ok(vec![Finding::fail("", "no backup store is configured and no temporary directory could be made")
                        .evidence(why)
                        .action("configure a backup store (Cluster::builder(..).backup_store(..)) or set BackupCheck::location; or fix TMPDIR")])
                }
            };
            // Dropping the check (timeout, cancel) stops the export and the verification.
            let cancel = CancellationToken::new();
            let _stop = cancel.clone().drop_guard();
            let params = ExportParams::default()
                .include_namespaces(self.namespaces.clone())
                .include_secrets(self.include_secrets)
                .cancel(cancel.clone());
            // The export's thread holds the temporary directory until it is done.
            let dir = match &kept {
                Kept::Temporary(d) => Some(d.clone()),
                _ => None,
            };
            let (c, l, p, d) = (cluster.clone(), location.clone(), params.clone(), dir.clone());
            let exported = on_blocking_thread("backup task", move || async move {
                let _dir = d;
                export(&c, &l, &p).await
            })
            .await;
            let report = match exported {
                Ok(r) => r,
                Err(e) => {
                    let e = crate::Error::from(e);
                    // Not allowed to discover or list at all: the check could not run.
                    if e.core().is_some_and(|c| c.is_permission_denied()) {
                        return Err(e);
                    }
                    return Ok(vec![Finding::fail("", format!("the export to {location} failed"))
                        .evidence(error_chain(&e))
                        .action("fix the cause above (store permissions and space, API server health), then run `cargo run --example export_resources -- --output DIR`")]);
                }
            };
            let mut problems = Vec::new();
            let mut status = Status::Pass;
            let mut note = |f: Finding, problems: &mut Vec<Finding>| {
                status = status.max(f.status);
                problems.push(f);
            };
            for r in &report.resources {
                let Some(err) = &r.error else { continue };
                let subject = format!("resource/{}", r.resource);
                let f = if err.is_permission_denied() {
                    Finding::warn(subject, format!("{} could not be exported: forbidden", r.resource))
                        .evidence(err.to_string())
                        .action(format!("grant the backup's identity `list` on {} (kubectl auth can-i list {} -A), or exclude it knowingly", r.resource, r.resource))
                } else {
                    Finding::fail(subject, format!("{} could not be exported", r.resource))
                        .evidence(error_chain(&**err))
                        .action(format!("kubectl get {} -A; look at the API server (or the aggregated API serving it), then run the backup again", r.resource))
                };
                note(f, &mut problems);
            }
            for w in &report.warnings {
                note(
                    Finding::warn("", "part of the API could not be discovered: its types are not in the backup")
                        .evidence(w.clone())
                        .action("kubectl get apiservices; fix or remove the unavailable API"),
                    &mut problems,
                );
            }
            let mut evidence = summary_evidence(&report, self);
            if !report.manifest_written || report.status == ExportStatus::Cancelled {
                note(
                    Finding::fail("", format!("the export to {location} wrote no manifest: it is not a usable backup"))
                        .evidence(format!("status {}", report.status))
                        .action("run the backup again"),
                    &mut problems,
                );
            } else {
                for f in verify(cluster, &location, &report, &mut evidence, &cancel, dir).await {
                    note(f, &mut problems);
                }
            }
            if let Kept::Temporary(dir) = &kept {
                evidence.push(format!(
                    "written to the temporary directory {} (mode 0700), removed after the check",
                    dir.path().display()
                ));
                let f = Finding::warn("", "no backup store is configured: the export was verified but not kept")
                    .action("configure a backup store (Cluster::builder(..).backup_store(k8sops::backup::store::local_dir(\"/var/backups/k8s\")?), or S3) or set BackupCheck::location, so the weekly export is kept");
                note(f, &mut problems);
            }
            let objects = plural(report.objects, "object", "objects");
            let summary = match (status, kept) {
                (Status::Fail, _) => format!("the weekly backup failed: {objects} written to {location}"),
                (_, Kept::Temporary(_)) => {
                    format!("exported {objects} and verified the backup in a temporary directory")
                }
                _ => format!("exported {objects} to {location} and verified the backup"),
            };
            let mut head = Finding::new(status, "", summary);
            head.evidence = evidence;
            if status != Status::Pass {
                head.action = "see the findings below".into();
            }
            let mut out = vec![head];
            out.extend(problems);
            Ok(out)
        }
    }

    /// Reads the manifest back and checks every file against it, as a
    /// restore would (a client dry run: nothing is sent to the cluster);
    /// the problems found.
    async fn verify(
        cluster: &Cluster,
        location: &Location,
        report: &ExportReport,
        evidence: &mut Vec<String>,
        cancel: &CancellationToken,
        dir: Option<Arc<TempDir>>,
    ) -> Vec<Finding> {
        let mut found = Vec::new();
        let manifest = match read_manifest(location).await {
            Ok(m) => m,
            Err(e) => {
                found.push(
                    Finding::fail("", format!("the manifest of {location} cannot be read back"))
                        .evidence(error_chain(&e))
                        .action("check the backup store; run the backup again"),
                );
                return found;
            }
        };
        if manifest.total != report.objects || manifest.files.len() != manifest.total {
            found.push(
                Finding::fail("", "the manifest does not list what was exported")
                    .evidence(format!(
                        "exported {} objects; manifest.json: total {}, {} files",
                        report.objects,
                        manifest.total,
                        manifest.files.len()
                    ))
                    .action("check the backup store (another writer under the same prefix?); run the backup again"),
            );
        }
        let params =
            RestoreParams::default().dry_run(DryRun::Client).include_cluster_resources(true).cancel(cancel.clone());
        let (c, l) = (cluster.clone(), location.clone());
        let restored = on_blocking_thread("backup task", move || async move {
            let _dir = dir;
            restore(&c, &l, &params).await
        })
        .await;
        let checked = match restored {
            Ok(r) => r,
            Err(e) => {
                found.push(
                    Finding::fail("", format!("the files of {location} could not be verified"))
                        .evidence(error_chain(&e))
                        .action("check the backup store; run the backup again"),
                );
                return found;
            }
        };
        let files: Vec<_> = checked.objects.iter().filter(|o| o.path.is_some()).collect();
        let bad: Vec<_> = files.iter().filter(|o| !o.outcome.succeeded()).collect();
        for o in &bad {
            let path = o.path.as_deref().unwrap_or_default();
            found.push(
                Finding::fail(format!("file/{path}"), format!("{path} does not match the manifest"))
                    .evidence(o.outcome.to_string())
                    .action("the store changed or lost data: check it, and run the backup again"),
            );
        }
        if files.len() != manifest.files.len() {
            found.push(
                Finding::fail("", "not every file of the backup could be checked")
                    .evidence(format!("{} of {} files checked", files.len(), manifest.files.len()))
                    .action("run the backup again"),
            );
        }
        if bad.is_empty() && files.len() == manifest.files.len() {
            evidence.push(format!(
                "read back: manifest.json lists {}; every file's size and SHA-256 match",
                plural(manifest.files.len(), "file", "files")
            ));
        }
        found
    }

    impl BackupCheck {
        /// `etcdctl snapshot status` and the integrity check of one file.
        async fn snapshot(&self, path: &Path) -> Finding {
            let subject = format!("snapshot/{}", path.display());
            let owned = path.to_path_buf();
            let cancel = CancellationToken::new();
            // A dropped check (timeout, cancel) stops the reader thread too.
            let _stop = cancel.clone().drop_guard();
            let read = tokio::task::spawn_blocking(move || {
                let params = ReadParams::default().cancel(cancel);
                let modified = std::fs::metadata(&owned).and_then(|m| m.modified());
                let checked = snapshot::status_with(&owned, &params)
                    .and_then(|s| snapshot::verify_with(&owned, &params).map(|i| (s, i)));
                (modified, checked)
            })
            .await;
            let action_save = "take a new snapshot: etcdctl snapshot save (or cargo run --example etcd_snapshot --features etcd -- save FILE ...)";
            let (modified, checked) = match read {
                Ok(r) => r,
                Err(e) => {
                    return Finding::fail(subject, "the etcd snapshot could not be read")
                        .evidence(e.to_string())
                        .action(action_save)
                }
            };
            let (status, integrity) = match checked {
                Ok(c) => c,
                Err(e) => {
                    return Finding::fail(subject, "the etcd snapshot is missing, unreadable or corrupt")
                        .evidence(error_chain(&e))
                        .action(action_save)
                }
            };
            let etcdctl = format!(
                "etcdctl snapshot status: hash {:x}, revision {}, total keys {}, total size {}",
                status.hash,
                status.revision,
                status.total_key,
                humanize_bytes(status.total_size)
            );
            if let Err(e) = integrity.ensure_ok() {
                return Finding::fail(subject, "the etcd snapshot is corrupt")
                    .evidence(etcdctl)
                    .evidence(error_chain(&e))
                    .action(action_save);
            }
            let trailer = match &integrity.trailer {
                Trailer::Matches { sha256 } => format!("SHA-256 trailer matches ({sha256})"),
                Trailer::Absent => {
                    "no SHA-256 trailer (a copied database file, not `etcdctl snapshot save` output)".into()
                }
                other => format!("SHA-256 trailer: {other:?}"),
            };
            let age = modified.ok().and_then(|m| SystemTime::now().duration_since(m).ok());
            let age_line = match age {
                Some(a) => format!("saved {} ago (file modification time)", human_age(a)),
                None => "age unknown (no modification time)".into(),
            };
            let f = match age {
                Some(a) if a > self.max_snapshot_age => Finding::warn(
                    subject,
                    format!(
                        "the etcd snapshot is {} old, more than {}",
                        human_age(a),
                        human_age(self.max_snapshot_age)
                    ),
                )
                .action(action_save),
                _ => Finding::pass(subject, "the etcd snapshot is intact"),
            };
            f.evidence(etcdctl).evidence(trailer).evidence(age_line)
        }
    }

    fn summary_evidence(report: &ExportReport, check: &BackupCheck) -> Vec<String> {
        let types = report.resources.iter().filter(|r| r.objects > 0).count();
        let skipped: usize = report.resources.iter().map(|r| r.skipped).sum();
        let mut ev = vec![
            format!(
                "{} of {} ({}) from Kubernetes {}, {}",
                plural(report.objects, "object", "objects"),
                plural(types, "resource type", "resource types"),
                humanize_bytes(report.bytes),
                report.cluster_version,
                report.status
            ),
            format!("{skipped} objects the cluster recreates by itself were left out (pods of ReplicaSets, ...)"),
            format!(
                "namespaces: {}; Secrets {}",
                if check.namespaces.is_empty() {
                    "all, with cluster-scoped objects".to_string()
                } else {
                    check.namespaces.join(", ")
                },
                if check.include_secrets { "included" } else { "not included" }
            ),
        ];
        ev.push(format!("took {:.1}s", report.elapsed.as_secs_f64()));
        ev
    }

    /// `3d 4h`, `5h 12m`, `42s`.
    fn human_age(d: Duration) -> String {
        let s = d.as_secs();
        match s {
            0..=59 => format!("{s}s"),
            60..=3599 => format!("{}m", s / 60),
            3600..=86_399 => format!("{}h {}m", s / 3600, s % 3600 / 60),
            _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
        }
    }

    #[cfg(test)]
    mod tests {
        use std::os::unix::fs::PermissionsExt;

        use super::TempDir;

        #[test]
        fn a_temporary_directory_is_private_unique_and_removed_on_drop() {
            let (a, b) = (TempDir::new().unwrap(), TempDir::new().unwrap());
            assert_ne!(a.path(), b.path());
            assert!(a.path().starts_with(std::env::temp_dir()));
            let mode = std::fs::metadata(a.path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
            std::fs::create_dir(a.path().join("ns")).unwrap();
            std::fs::write(a.path().join("ns/obj.yaml"), "x").unwrap();
            let path = a.path().to_path_buf();
            drop(a);
            assert!(!path.exists());
            assert!(b.path().is_dir());
        }
    }
}

// ---------------------------------------------------------------------------
// unused
// ---------------------------------------------------------------------------

/// Unused resources, the ops guide's weekly clean-up list:
///
/// - finished pods (phase `Succeeded` or `Failed`, what
///   `kubectl get pods -A --field-selector=status.phase==Succeeded` lists)
///   without a controller owner; those of a controller (Job pods, CronJob
///   history) are its to clean up (`ttlSecondsAfterFinished`, history
///   limits) and only counted, per owner kind, in the summary's evidence;
/// - PersistentVolumeClaims no pod or workload mounts (orphaned storage,
///   still billed). A claim named `<volumeClaimTemplate>-<statefulset>-<ordinal>`
///   for a StatefulSet of its namespace is in use even when that
///   StatefulSet is scaled down: its pod gets the data back on scale-up;
/// - ConfigMaps and Secrets no pod or workload references, through volumes
///   (projected ones and CSI secret references included), `env[].valueFrom`,
///   `envFrom` or `imagePullSecrets`; Secrets named by a ServiceAccount
///   (`secrets`, `imagePullSecrets`), an Ingress (`spec.tls[].secretName`),
///   a PersistentVolume (`spec.csi.{nodePublish,nodeStage,controllerPublish,controllerExpand,nodeExpand}SecretRef`,
///   the `secretRef` of cephfs, rbd, iscsi, flexVolume, scaleIO and
///   storageos, azureFile's `secretName`/`secretNamespace`; without a
///   namespace, the claim's) or a StorageClass
///   (`csi.storage.k8s.io/<x>-secret-name` with `<x>-secret-namespace`;
///   templated ones such as `${pvc.namespace}` cannot be resolved and are
///   not counted) count as referenced. PersistentVolumes and StorageClasses
///   the caller may not list (403) are noted in the summary's evidence;
/// - Services with a selector and no endpoints (neither ready nor
///   not-ready addresses: the selector matches no pod).
///
/// References are read from pods and from the pod templates of
/// Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs and
/// ReplicationControllers (a CronJob's ConfigMap is in use between runs).
/// Finished pods count as references too, so nothing a pod still names is
/// reported before the pod is cleaned up.
///
/// Not reported: `kube-root-ca.crt`, ServiceAccount token, Helm release
/// (`helm.sh/release.v1`) and bootstrap token Secrets, objects with a
/// controller owner (their owner recreates them), and ConfigMaps and
/// Secrets in [`skip_namespaces`](Self::skip_namespaces). Not looked at:
/// what reads objects through the API (operators, cert-manager, Gateway
/// API `certificateRefs`, webhooks, `aws-auth`), so check before deleting.
///
/// - **Warn**: one finding per unused object (`pod/NS/NAME`,
///   `persistentvolumeclaim/NS/NAME`, `configmap/NS/NAME`, `secret/NS/NAME`,
///   `service/NS/NAME`), with the `kubectl delete` command. Also when a
///   kind it judges (pods, claims, ConfigMaps, Secrets, Endpoints,
///   Services) answers 404: those were not looked at (without Endpoints,
///   no Service is judged). Types not served are named in the evidence.
/// - **Fail**: more than [`fail_over`](Self::fail_over) unused objects.
/// - **Pass**: none, and every kind it judges was listed.
///
/// Memory: each list is read a page at a time; only the names referenced
/// (and the findings) are kept.
///
/// RBAC: `list` on pods, persistentvolumeclaims, configmaps, secrets,
/// serviceaccounts, services, endpoints, ingresses and the workload types;
/// optionally on persistentvolumes and storageclasses.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// use k8sops::checklist::{weekly::UnusedResourcesCheck, Check};
/// let out = UnusedResourcesCheck::default().run(&server.cluster()).await?;
/// for f in out.findings.iter().filter(|f| f.subject.starts_with("persistentvolumeclaim/")) {
///     println!("{}: {} -> {}", f.subject, f.summary, f.action);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusedResourcesCheck {
    /// More unused objects than this fails the check (default 100).
    pub fail_over: usize,
    /// Namespaces whose ConfigMaps and Secrets are not reported: their
    /// components read them through the API (default `kube-system`,
    /// `kube-public`, `kube-node-lease`).
    pub skip_namespaces: Vec<String>,
}

impl Default for UnusedResourcesCheck {
    fn default() -> Self {
        UnusedResourcesCheck {
            fail_over: 100,
            skip_namespaces: vec!["kube-system".into(), "kube-public".into(), "kube-node-lease".into()],
        }
    }
}

/// Secret types that are never reported: the cluster or Helm uses them
/// without a pod naming them.
const SYSTEM_SECRET_TYPES: [&str; 3] =
    ["kubernetes.io/service-account-token", "helm.sh/release.v1", "bootstrap.kubernetes.io/token"];

/// Names referenced, per namespace.
#[derive(Default)]
struct Refs {
    config_maps: HashSet<(String, String)>,
    secrets: HashSet<(String, String)>,
    claims: HashSet<(String, String)>,
    /// `<template>-<statefulset>-` per namespace: the claims of existing StatefulSets.
    claim_prefixes: HashSet<(String, String)>,
}

/// The `secretRef`-like fields of PersistentVolume sources: CSI's five,
/// and the in-tree cephfs, rbd, iscsi, flexVolume, scaleIO and storageos.
const PV_SECRET_REFS: [&str; 6] = [
    "nodePublishSecretRef",
    "nodeStageSecretRef",
    "controllerPublishSecretRef",
    "controllerExpandSecretRef",
    "nodeExpandSecretRef",
    "secretRef",
];

impl Refs {
    fn add(set: &mut HashSet<(String, String)>, ns: &str, name: Option<&str>) {
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            set.insert((ns.to_string(), name.to_string()));
        }
    }

    /// A claim of an existing StatefulSet: `<template>-<statefulset>-<ordinal>`.
    fn is_stateful_set_claim(&self, ns: &str, name: &str) -> bool {
        let Some((prefix, ordinal)) = name.rsplit_once('-') else { return false };
        !ordinal.is_empty()
            && ordinal.bytes().all(|b| b.is_ascii_digit())
            && self.claim_prefixes.contains(&(ns.to_string(), format!("{prefix}-")))
    }

    /// The Secrets a PersistentVolume's source names: `{name, namespace}`
    /// references (CSI, cephfs, rbd, iscsi, flexVolume, scaleIO, storageos;
    /// a missing namespace is `default`, as the kubelet reads it for most),
    /// and azureFile's `secretName` + `secretNamespace`.
    fn volume_secrets(&mut self, spec: &Value) {
        let claim_ns = spec["claimRef"]["namespace"].as_str().unwrap_or("default");
        let Some(sources) = spec.as_object() else { return };
        for source in sources.values().filter(|v| v.is_object()) {
            for key in PV_SECRET_REFS {
                let r = &source[key];
                if let Some(name) = r["name"].as_str() {
                    let ns = r["namespace"].as_str().unwrap_or(claim_ns);
                    Self::add(&mut self.secrets, ns, Some(name));
                }
            }
            if let Some(name) = source["secretName"].as_str() {
                let ns = source["secretNamespace"].as_str().unwrap_or(claim_ns);
                Self::add(&mut self.secrets, ns, Some(name));
            }
        }
    }

    /// The Secrets a StorageClass names in its parameters:
    /// `csi.storage.k8s.io/<x>-secret-name` with `<x>-secret-namespace`
    /// (templates such as `${pvc.namespace}` cannot be resolved and are skipped).
    fn class_secrets(&mut self, parameters: &Value) {
        let Some(params) = parameters.as_object() else { return };
        for (k, v) in params {
            let Some(x) = k.strip_prefix("csi.storage.k8s.io/").and_then(|k| k.strip_suffix("-secret-name")) else {
                continue;
            };
            let ns = params.get(&format!("csi.storage.k8s.io/{x}-secret-namespace")).and_then(Value::as_str);
            if let (Some(name), Some(ns)) = (v.as_str(), ns) {
                if !name.contains("${") && !ns.contains("${") {
                    Self::add(&mut self.secrets, ns, Some(name));
                }
            }
        }
    }

    /// Every ConfigMap, Secret and claim a pod spec names, wherever it
    /// names it (volumes, projected sources, CSI secret references, env,
    /// envFrom, imagePullSecrets).
    fn pod_spec(&mut self, ns: &str, v: &Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("configMap" | "configMapKeyRef" | "configMapRef", Value::Object(o)) => {
                            Self::add(&mut self.config_maps, ns, o.get("name").and_then(Value::as_str));
                        }
                        ("secret", Value::Object(o)) => {
                            let name = o.get("secretName").or_else(|| o.get("name")).and_then(Value::as_str);
                            Self::add(&mut self.secrets, ns, name);
                        }
                        (
                            "secretKeyRef"
                            | "secretRef"
                            | "nodePublishSecretRef"
                            | "nodeStageSecretRef"
                            | "controllerPublishSecretRef"
                            | "controllerExpandSecretRef",
                            Value::Object(o),
                        ) => Self::add(&mut self.secrets, ns, o.get("name").and_then(Value::as_str)),
                        ("secretName", Value::String(s)) => Self::add(&mut self.secrets, ns, Some(s)),
                        ("imagePullSecrets", Value::Array(a)) => {
                            for s in a {
                                Self::add(&mut self.secrets, ns, s.get("name").and_then(Value::as_str));
                            }
                        }
                        ("persistentVolumeClaim", Value::Object(o)) => {
                            Self::add(&mut self.claims, ns, o.get("claimName").and_then(Value::as_str));
                        }
                        _ => {}
                    }
                    self.pod_spec(ns, x);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| self.pod_spec(ns, x)),
            _ => {}
        }
    }
}

/// The kinds the `unused` check reports on (a 404 for one of them makes a
/// clean result a warning: nothing was looked at).
const JUDGED_KINDS: &[&str] = &["pods", "persistentvolumeclaims", "configmaps", "secrets", "endpoints", "services"];

/// Lists every object of `ar` in all namespaces a page at a time: how many
/// there were, or `None` when the type is not served (a 404), which is
/// recorded in `not_served` by its plural.
async fn for_each_object(
    cluster: &Cluster,
    ar: &ApiResource,
    not_served: &mut Vec<String>,
    mut f: impl FnMut(DynamicObject),
) -> crate::Result<Option<usize>> {
    let api: Api<DynamicObject> = Api::all_with(cluster.client().clone(), ar);
    let mut n = 0;
    let listed = paging::for_each(cluster, &api, ListParams::default(), |o| {
        n += 1;
        f(o);
        Ok::<_, k8sops_core::Error>(())
    })
    .await;
    match listed {
        Ok(()) => Ok(Some(n)),
        Err(e) if e.is_not_found() => {
            not_served.push(ar.plural.clone());
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn ns_name(o: &DynamicObject) -> (String, String) {
    (o.metadata.namespace.clone().unwrap_or_default(), o.metadata.name.clone().unwrap_or_default())
}

fn controller_owner(o: &DynamicObject) -> Option<String> {
    o.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
        .map(|r| format!("{}/{}", r.kind, r.name))
}

/// Unused objects found so far, by kind.
#[derive(Default)]
struct Unused {
    findings: Vec<Finding>,
    by_kind: BTreeMap<&'static str, usize>,
}

impl Unused {
    fn push(&mut self, kind: &'static str, f: Finding) {
        *self.by_kind.entry(kind).or_default() += 1;
        self.findings.push(f);
    }
}

impl Check for UnusedResourcesCheck {
    fn id(&self) -> &str {
        "unused"
    }

    fn title(&self) -> &str {
        "Unused resources"
    }

    fn run<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, crate::Result<CheckOutput>> {
        Box::pin(async move {
            use k8s_openapi::api::{
                apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet},
                batch::v1::{CronJob, Job},
                core::v1::{
                    ConfigMap, Endpoints, PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController, Secret,
                    Service, ServiceAccount,
                },
                networking::v1::Ingress,
                storage::v1::StorageClass,
            };
            let mut refs = Refs::default();
            let mut unused = Unused::default();
            let mut scanned: BTreeMap<&'static str, usize> = BTreeMap::new();
            // Types the server answered 404 for (not served, or a proxy in the way).
            let mut not_served: Vec<String> = Vec::new();

            // Pods: the references, and the finished ones.
            // Finished pods with a controller owner, per owner kind.
            let mut owned_finished: BTreeMap<String, usize> = BTreeMap::new();
            let pods = for_each_object(cluster, &ApiResource::erase::<Pod>(&()), &mut not_served, |p| {
                let (ns, name) = ns_name(&p);
                refs.pod_spec(&ns, &p.data["spec"]);
                for v in p.data["spec"]["volumes"].as_array().into_iter().flatten() {
                    // A generic ephemeral volume's claim is `<pod>-<volume>`.
                    if v.get("ephemeral").is_some() {
                        let claim = format!("{name}-{}", v["name"].as_str().unwrap_or_default());
                        Refs::add(&mut refs.claims, &ns, Some(&claim));
                    }
                }
                let phase = p.data["status"]["phase"].as_str().unwrap_or_default();
                if phase == "Succeeded" || phase == "Failed" {
                    // A controller's finished pods (Job pods, CronJob history) are
                    // its to clean up (ttlSecondsAfterFinished, history limits): counted only.
                    if let Some(owner) = controller_owner(&p) {
                        *owned_finished.entry(owner.split('/').next().unwrap_or_default().to_string()).or_default() +=
                            1;
                        return;
                    }
                    let mut f = Finding::warn(format!("pod/{ns}/{name}"), format!("finished pod ({phase})"))
                        .evidence(format!("phase {phase}"))
                        .action(format!(
                            "kubectl delete pod {name} -n {ns} (every finished pod: cargo run --example cleanup -- --yes)"
                        ));
                    if let Some(reason) = p.data["status"]["reason"].as_str() {
                        f = f.evidence(format!("reason {reason}"));
                    }
                    unused.push("pods", f);
                }
            })
            .await?;
            scanned.insert("pods", pods.unwrap_or(0));

            // Pod templates of workloads.
            let templates: [(ApiResource, &[&str]); 7] = [
                (ApiResource::erase::<Deployment>(&()), &["spec", "template", "spec"]),
                (ApiResource::erase::<ReplicaSet>(&()), &["spec", "template", "spec"]),
                (ApiResource::erase::<StatefulSet>(&()), &["spec", "template", "spec"]),
                (ApiResource::erase::<DaemonSet>(&()), &["spec", "template", "spec"]),
                (ApiResource::erase::<Job>(&()), &["spec", "template", "spec"]),
                (ApiResource::erase::<CronJob>(&()), &["spec", "jobTemplate", "spec", "template", "spec"]),
                (ApiResource::erase::<ReplicationController>(&()), &["spec", "template", "spec"]),
            ];
            for (r, path) in &templates {
                for_each_object(cluster, r, &mut not_served, |o| {
                    let ns = o.metadata.namespace.clone().unwrap_or_default();
                    let spec = path.iter().fold(&o.data, |v, k| &v[*k]);
                    refs.pod_spec(&ns, spec);
                    // A StatefulSet's claims are `<template>-<statefulset>-<ordinal>`,
                    // kept while it is scaled down: its pods get them back on scale-up.
                    let name = o.metadata.name.as_deref().unwrap_or_default();
                    for t in o.data["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten() {
                        if let Some(t) = t["metadata"]["name"].as_str().filter(|t| !t.is_empty()) {
                            refs.claim_prefixes.insert((ns.clone(), format!("{t}-{name}-")));
                        }
                    }
                })
                .await?;
            }
            // Secrets named by PersistentVolumes and StorageClasses (CSI and
            // in-tree volume sources, provisioner parameters); cluster-scoped, so
            // a caller without `list` on them gets a note, not an error.
            let mut notes = Vec::new();
            for (r, what) in [
                (ApiResource::erase::<PersistentVolume>(&()), "persistentvolumes"),
                (ApiResource::erase::<StorageClass>(&()), "storageclasses"),
            ] {
                let listed = for_each_object(cluster, &r, &mut not_served, |o| {
                    if what == "persistentvolumes" {
                        refs.volume_secrets(&o.data["spec"]);
                    } else {
                        refs.class_secrets(&o.data["parameters"]);
                    }
                })
                .await;
                match listed {
                    Ok(_) => {}
                    Err(e) if e.core().is_some_and(|c| c.is_permission_denied()) => notes.push(format!(
                        "{what} could not be listed (forbidden): Secrets only they name may be reported as unused"
                    )),
                    Err(e) => return Err(e),
                }
            }
            for_each_object(cluster, &ApiResource::erase::<ServiceAccount>(&()), &mut not_served, |sa| {
                let ns = sa.metadata.namespace.clone().unwrap_or_default();
                for key in ["secrets", "imagePullSecrets"] {
                    for s in sa.data[key].as_array().into_iter().flatten() {
                        Refs::add(&mut refs.secrets, &ns, s.get("name").and_then(Value::as_str));
                    }
                }
            })
            .await?;
            for_each_object(cluster, &ApiResource::erase::<Ingress>(&()), &mut not_served, |ing| {
                let ns = ing.metadata.namespace.clone().unwrap_or_default();
                for t in ing.data["spec"]["tls"].as_array().into_iter().flatten() {
                    Refs::add(&mut refs.secrets, &ns, t.get("secretName").and_then(Value::as_str));
                }
            })
            .await?;

            // Claims no pod mounts.
            let n = for_each_object(cluster, &ApiResource::erase::<PersistentVolumeClaim>(&()), &mut not_served, |c| {
                let (ns, name) = ns_name(&c);
                if refs.claims.contains(&(ns.clone(), name.clone())) || refs.is_stateful_set_claim(&ns, &name) {
                    return;
                }
                let spec = &c.data["spec"];
                let size = spec["resources"]["requests"]["storage"].as_str().unwrap_or("?");
                let class = spec["storageClassName"].as_str().unwrap_or("<none>");
                let phase = c.data["status"]["phase"].as_str().unwrap_or("?");
                let f = Finding::warn(format!("persistentvolumeclaim/{ns}/{name}"), "no pod or workload mounts this claim")
                    .evidence(format!("{phase}, {size}, storage class {class}"))
                    .action(format!(
                        "kubectl delete pvc {name} -n {ns} (its volume is deleted too when the reclaim policy is Delete: back it up first)"
                    ));
                unused.push("persistentvolumeclaims", f);
            })
            .await?;
            scanned.insert("persistentvolumeclaims", n.unwrap_or(0));

            let skip = |ns: &str| self.skip_namespaces.iter().any(|s| s == ns);
            let n = for_each_object(cluster, &ApiResource::erase::<ConfigMap>(&()), &mut not_served, |cm| {
                let (ns, name) = ns_name(&cm);
                if name == "kube-root-ca.crt"
                    || skip(&ns)
                    || controller_owner(&cm).is_some()
                    || refs.config_maps.contains(&(ns.clone(), name.clone()))
                {
                    return;
                }
                let f = Finding::warn(format!("configmap/{ns}/{name}"), "no pod or workload references this ConfigMap")
                    .evidence("not in any volume, env valueFrom or envFrom of a pod or pod template")
                    .action(format!(
                        "kubectl delete configmap {name} -n {ns} (first check that nothing reads it through the API)"
                    ));
                unused.push("configmaps", f);
            })
            .await?;
            scanned.insert("configmaps", n.unwrap_or(0));

            let n = for_each_object(cluster, &ApiResource::erase::<Secret>(&()), &mut not_served, |s| {
                let (ns, name) = ns_name(&s);
                let ty = s.data["type"].as_str().unwrap_or("Opaque");
                if SYSTEM_SECRET_TYPES.contains(&ty)
                    || skip(&ns)
                    || controller_owner(&s).is_some()
                    || refs.secrets.contains(&(ns.clone(), name.clone()))
                {
                    return;
                }
                let f = Finding::warn(
                    format!("secret/{ns}/{name}"),
                    "no pod, workload, ServiceAccount or Ingress references this Secret",
                )
                .evidence(format!("type {ty}"))
                .action(format!(
                    "kubectl delete secret {name} -n {ns} (first check that nothing reads it through the API)"
                ));
                unused.push("secrets", f);
            })
            .await?;
            scanned.insert("secrets", n.unwrap_or(0));

            // Services with a selector whose Endpoints hold no address.
            let mut with_endpoints: HashSet<(String, String)> = HashSet::new();
            let endpoints = for_each_object(cluster, &ApiResource::erase::<Endpoints>(&()), &mut not_served, |e| {
                let any = e.data["subsets"].as_array().into_iter().flatten().any(|s| {
                    ["addresses", "notReadyAddresses"].iter().any(|k| s[*k].as_array().is_some_and(|a| !a.is_empty()))
                });
                if any {
                    with_endpoints.insert(ns_name(&e));
                }
            })
            .await?;
            // Without Endpoints every Service would look empty: none is judged.
            let endpoints_served = endpoints.is_some();
            let n = for_each_object(cluster, &ApiResource::erase::<Service>(&()), &mut not_served, |svc| {
                let spec = &svc.data["spec"];
                let Some(selector) = spec["selector"].as_object().filter(|m| !m.is_empty()) else { return };
                if !endpoints_served {
                    return;
                }
                if spec["type"].as_str() == Some("ExternalName") {
                    return;
                }
                let key = ns_name(&svc);
                if with_endpoints.contains(&key) {
                    return;
                }
                let (ns, name) = key;
                let sel: Vec<String> =
                    selector.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
                let sel = sel.join(",");
                let f = Finding::warn(
                    format!("service/{ns}/{name}"),
                    "the Service's selector matches no pod (no endpoints)",
                )
                .evidence(format!("selector {sel}"))
                .evidence(format!("kubectl get pods -n {ns} -l {sel} lists nothing"))
                .action(format!("kubectl delete service {name} -n {ns}, or fix its selector"));
                unused.push("services", f);
            })
            .await?;
            scanned.insert("services", n.unwrap_or(0));
            drop(refs);

            let total = unused.findings.len();
            let counts: Vec<String> = unused.by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
            let looked: Vec<String> = scanned.iter().map(|(k, n)| format!("{n} {k}")).collect();
            // Kinds judged here: one not served means those were not looked at.
            let blind: Vec<&str> = not_served.iter().map(String::as_str).filter(|k| JUDGED_KINDS.contains(k)).collect();
            let head = if total == 0 && !blind.is_empty() {
                Finding::warn(
                    "",
                    format!("no unused resources found, but {} could not be listed (404)", blind.join(", ")),
                )
                .action(format!(
                    "kubectl get {} -A: the API server (or a proxy before it) does not serve them",
                    blind.join(",")
                ))
            } else if total == 0 {
                Finding::pass("", "no unused resources")
            } else if total > self.fail_over {
                Finding::fail("", format!("{total} unused objects, more than {}", self.fail_over))
                    .action("clean up: the findings give the kubectl delete command of each (finished pods: cargo run --example cleanup)")
            } else {
                Finding::warn("", plural(total, "unused object", "unused objects"))
                    .action("review and clean up: the findings give the kubectl delete command of each")
            };
            let mut head = head;
            if !counts.is_empty() {
                head = head.evidence(format!("unused: {}", counts.join(", ")));
            }
            head = head.evidence(format!("looked at {}", looked.join(", ")));
            if !owned_finished.is_empty() {
                let owned: Vec<String> = owned_finished.iter().map(|(k, n)| format!("{n} of {k}s")).collect();
                head = head.evidence(format!(
                    "finished pods with a controller owner, left to it (ttlSecondsAfterFinished, history limits), not reported: {}",
                    owned.join(", ")
                ));
            }
            for n in notes {
                head = head.evidence(n);
            }
            if !not_served.is_empty() {
                head = head.evidence(format!(
                    "not served (404), not looked at: {} (references only they make are not seen)",
                    not_served.join(", ")
                ));
            }
            let mut findings = Vec::with_capacity(total + 1);
            findings.push(head);
            findings.extend(unused.findings);
            Ok(findings.into())
        })
    }
}

// ---------------------------------------------------------------------------
// audit
// ---------------------------------------------------------------------------

/// A security audit summary ([`k8sops::audit::report::audit`](crate::audit::report::audit)):
/// RBAC risk findings, Pod Security per namespace, a score per namespace
/// and for the cluster-wide grants.
///
/// - **Fail**: a critical risk finding (a non-system subject bound to
///   cluster-admin, anonymous access); one finding each.
/// - **Warn**: a high one (wildcards, secrets read, exec, escalate,
///   impersonate, ...); one finding each. Also when lists could not be
///   read (403): the audit is partial.
/// - **Pass**: otherwise.
///
/// The summary's evidence: the cluster score, the worst namespaces'
/// scores, the findings per severity, the pods and templates that violate
/// their namespace's enforced Pod Security level.
///
/// RBAC: `list` on roles, rolebindings, clusterroles, clusterrolebindings,
/// serviceaccounts, namespaces, pods and the workload types.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// use k8sops::checklist::{weekly::AuditSummaryCheck, Check};
/// let out = AuditSummaryCheck::default().run(&server.cluster()).await?;
/// println!("{}: {}", out.findings[0].summary, out.findings[0].evidence.join("; "));
/// # Ok(()) }
/// ```
#[cfg(feature = "audit")]
#[cfg_attr(docsrs, doc(cfg(feature = "audit")))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSummaryCheck {
    /// What Pod Security is evaluated against (default: every namespace,
    /// "what would break" at `restricted`, workload templates included).
    pub pss: crate::audit::pod_security::PssParams,
    /// Namespaces listed in the evidence, lowest score first (default 5).
    pub worst_namespaces: usize,
}

#[cfg(feature = "audit")]
impl Default for AuditSummaryCheck {
    fn default() -> Self {
        AuditSummaryCheck { pss: Default::default(), worst_namespaces: 5 }
    }
}

#[cfg(feature = "audit")]
impl Check for AuditSummaryCheck {
    fn id(&self) -> &str {
        "audit"
    }

    fn title(&self) -> &str {
        "Security audit summary"
    }

    fn run<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, crate::Result<CheckOutput>> {
        Box::pin(async move {
            use crate::audit::risk::Severity;
            let report = crate::audit::report::audit(cluster, &self.pss).await?;
            let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
            let (critical, high, medium, low) =
                (count(Severity::Critical), count(Severity::High), count(Severity::Medium), count(Severity::Low));
            let mut details = Vec::new();
            for f in report.findings.iter().filter(|f| f.severity >= Severity::High) {
                let subject = match &f.binding {
                    Some(b) => b.to_string(),
                    None => f.subject.to_string(),
                };
                let finding = if f.severity == Severity::Critical {
                    Finding::fail(subject, f.to_string())
                } else {
                    Finding::warn(subject, f.to_string())
                };
                details
                    .push(finding.evidence(format!("check {} ({})", f.id, f.severity)).action(f.remediation.clone()));
            }
            let violating: usize = report.namespaces.iter().map(|n| n.pods_violating_enforce).sum();
            let unreadable: Vec<String> = report
                .inventory
                .unreadable
                .iter()
                .chain(&report.pod_security.unreadable)
                .map(ToString::to_string)
                .collect();
            if !unreadable.is_empty() {
                let mut f = Finding::warn("", "the audit is partial: some lists could not be read")
                    .action("run the audit as a user allowed to list RBAC objects, pods and workloads cluster-wide");
                for u in &unreadable {
                    f = f.evidence(u.clone());
                }
                details.push(f);
            }
            let status = details.iter().map(|f| f.status).max().unwrap_or(Status::Pass);
            let summary = match (critical, high) {
                (0, 0) => "no critical or high RBAC risks".to_string(),
                (0, h) => plural(h, "high RBAC risk", "high RBAC risks"),
                (c, h) => format!("{} and {h} high", plural(c, "critical RBAC risk", "critical RBAC risks")),
            };
            let mut head = Finding::new(status, "", summary)
                .evidence(format!("cluster-wide RBAC score {}/100", report.cluster_score))
                .evidence(format!("risk findings: {critical} critical, {high} high, {medium} medium, {low} low"))
                .evidence(format!(
                    "{} violate their namespace's enforced Pod Security level",
                    plural(violating, "pod or template", "pods and templates")
                ));
            let worst: Vec<String> = report
                .namespaces
                .iter()
                .take(self.worst_namespaces)
                .map(|n| format!("{} {}/100", n.namespace, n.score))
                .collect();
            if !worst.is_empty() {
                head = head.evidence(format!("lowest namespace scores: {}", worst.join(", ")));
            }
            head = head.action(match status {
                Status::Pass => String::new(),
                _ => "cargo run --example rbac_audit -- --full; cargo run --example pss_report".into(),
            });
            let mut findings = vec![head];
            findings.extend(details);
            Ok(findings.into())
        })
    }
}

// ---------------------------------------------------------------------------
// top
// ---------------------------------------------------------------------------

/// Top consumers ([`k8sops::metrics::top_pods`](crate::metrics::top_pods),
/// all namespaces): the [`top`](Self::top) pods by CPU and by memory, and
/// the top namespaces, against the cluster's allocatable (the sum over its
/// nodes).
///
/// - **Fail**: a pod uses more than [`fail_share`](Self::fail_share) percent
///   of the cluster's allocatable CPU or memory.
/// - **Warn**: more than [`warn_share`](Self::warn_share) percent; or the
///   metrics API is not served (`kubectl top` would fail: install
///   metrics-server); or no node reports allocatable CPU or memory (no
///   share can be judged).
/// - **Pass**: otherwise, with the top pods and namespaces as evidence and
///   charts.
///
/// Memory: one small entry per pod with metrics (name and usage), as
/// `kubectl top pods -A` holds.
///
/// RBAC: `list` on `pods.metrics.k8s.io` and nodes.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = k8sops_testkit::TestServer::start().await?;
/// # server.load(&k8sops_testkit::DemoCluster::small())?;
/// use k8sops::checklist::{weekly::TopConsumersCheck, Check};
/// let check = TopConsumersCheck { warn_share: 10.0, ..Default::default() };
/// let out = check.run(&server.cluster()).await?;
/// for line in &out.findings[0].evidence {
///     println!("{line}");
/// }
/// # Ok(()) }
/// ```
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
#[derive(Debug, Clone, PartialEq)]
pub struct TopConsumersCheck {
    /// Pods and namespaces listed per resource (default 5).
    pub top: usize,
    /// A pod using more than this percentage of the cluster's allocatable
    /// CPU or memory warns (default 25).
    pub warn_share: f64,
    /// ... and fails above this percentage (default 50).
    pub fail_share: f64,
}

#[cfg(feature = "metrics")]
impl Default for TopConsumersCheck {
    fn default() -> Self {
        TopConsumersCheck { top: 5, warn_share: 25.0, fail_share: 50.0 }
    }
}

#[cfg(feature = "metrics")]
impl Check for TopConsumersCheck {
    fn id(&self) -> &str {
        "top"
    }

    fn title(&self) -> &str {
        "Top consumers"
    }

    fn run<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, crate::Result<CheckOutput>> {
        Box::pin(async move {
            use k8s_openapi::api::core::v1::Node;
            use k8sops_core::Quantity;

            use crate::metrics::{top_pods, Error as MetricsError, SortBy, TopPodsParams};

            let params = TopPodsParams { sort: SortBy::Cpu, ..Default::default() };
            let top = match top_pods(cluster, &params).await {
                Ok(t) => t,
                Err(MetricsError::MetricsUnavailable { reason }) => {
                    return Ok(vec![Finding::warn("", "the metrics API is not served: usage is unknown")
                        .evidence(format!("metrics.k8s.io: {reason}"))
                        .action("install metrics-server: kubectl apply -f https://github.com/kubernetes-sigs/metrics-server/releases/latest/download/components.yaml")]
                    .into());
                }
                Err(e) => return Err(e.into()),
            };
            let mut cpu_alloc = Quantity::ZERO;
            let mut mem_alloc = Quantity::ZERO;
            let mut nodes = 0;
            paging::for_each(cluster, &cluster.api_all::<Node>(), ListParams::default(), |n: Node| {
                nodes += 1;
                let alloc = n.status.and_then(|s| s.allocatable).unwrap_or_default();
                for (key, sum) in [("cpu", &mut cpu_alloc), ("memory", &mut mem_alloc)] {
                    if let Some(q) = alloc.get(key).and_then(|q| Quantity::try_from(q).ok()) {
                        *sum += q;
                    }
                }
                Ok::<_, k8sops_core::Error>(())
            })
            .await?;
            let share = |used: Quantity, whole: Quantity| {
                if whole.is_zero() {
                    None
                } else {
                    Some(used.as_f64() / whole.as_f64() * 100.0)
                }
            };
            let pct = |p: Option<f64>| {
                p.map_or_else(|| "allocatable unknown".to_string(), |p| format!("{p:.1}% of allocatable"))
            };
            let cpu = |q: Quantity| format!("{}m", q.millis());
            let mem = |q: Quantity| format!("{}Mi", q.value() / (1024 * 1024));

            let mut findings = Vec::new();
            for p in &top.pods {
                for (what, used, whole, show) in
                    [("CPU", p.cpu, cpu_alloc, cpu(p.cpu)), ("memory", p.memory, mem_alloc, mem(p.memory))]
                {
                    let Some(s) = share(used, whole) else { continue };
                    let status = if s > self.fail_share {
                        Status::Fail
                    } else if s > self.warn_share {
                        Status::Warn
                    } else {
                        continue;
                    };
                    let limit = if status == Status::Fail { self.fail_share } else { self.warn_share };
                    findings.push(
                        Finding::new(
                            status,
                            format!("pod/{}/{}", p.namespace, p.name),
                            format!("uses {s:.1}% of the cluster's allocatable {what} (more than {limit}%)"),
                        )
                        .evidence(format!("{show} of {}", if what == "CPU" { cpu(whole) } else { mem(whole) }))
                        .action(format!(
                            "kubectl top pod {} -n {} --containers; check its limits, or spread the work over more replicas",
                            p.name, p.namespace
                        )),
                    );
                }
            }

            // No allocatable to compare with: no pod's share could be judged.
            let unknown: Vec<&str> = [("CPU", cpu_alloc), ("memory", mem_alloc)]
                .iter()
                .filter(|(_, q)| q.is_zero())
                .map(|(w, _)| *w)
                .collect();
            if !unknown.is_empty() && !top.pods.is_empty() {
                findings.push(
                    Finding::warn(
                        "",
                        format!(
                            "the cluster's allocatable {} {} unknown: no pod's share of it judged",
                            unknown.join(" and "),
                            if unknown.len() > 1 { "are" } else { "is" }
                        ),
                    )
                    .evidence(format!("{} listed, none reporting it in status.allocatable", plural(nodes, "node", "nodes")))
                    .action("kubectl get nodes -o custom-columns=NAME:.metadata.name,CPU:.status.allocatable.cpu,MEMORY:.status.allocatable.memory"),
                );
            }

            let n = self.top;
            let by_cpu: Vec<String> = top
                .pods
                .iter()
                .take(n)
                .map(|p| format!("{}/{} {} ({})", p.namespace, p.name, cpu(p.cpu), pct(share(p.cpu, cpu_alloc))))
                .collect();
            let mut by_mem: Vec<&crate::metrics::PodUsage> = top.pods.iter().collect();
            by_mem.sort_by(|a, b| b.memory.cmp(&a.memory).then((&a.namespace, &a.name).cmp(&(&b.namespace, &b.name))));
            let by_mem_lines: Vec<String> = by_mem
                .iter()
                .take(n)
                .map(|p| format!("{}/{} {} ({})", p.namespace, p.name, mem(p.memory), pct(share(p.memory, mem_alloc))))
                .collect();
            let mut namespaces: BTreeMap<&str, (Quantity, Quantity)> = BTreeMap::new();
            for p in &top.pods {
                let e = namespaces.entry(p.namespace.as_str()).or_default();
                e.0 += p.cpu;
                e.1 += p.memory;
            }
            let mut ns_cpu: Vec<(&str, Quantity)> = namespaces.iter().map(|(k, v)| (*k, v.0)).collect();
            ns_cpu.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let mut ns_mem: Vec<(&str, Quantity)> = namespaces.iter().map(|(k, v)| (*k, v.1)).collect();
            ns_mem.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let list = |v: Vec<String>| if v.is_empty() { "none".to_string() } else { v.join(", ") };

            let status = findings.iter().map(|f| f.status).max().unwrap_or(Status::Pass);
            let summary = match top.pods.first() {
                Some(p) => format!(
                    "top CPU consumer {}/{} ({}), {} with metrics",
                    p.namespace,
                    p.name,
                    cpu(p.cpu),
                    plural(top.pods.len(), "pod", "pods")
                ),
                None => "no pod metrics".to_string(),
            };
            let head = Finding::new(status, "", summary)
                .evidence(format!("top pods by CPU: {}", list(by_cpu)))
                .evidence(format!("top pods by memory: {}", list(by_mem_lines)))
                .evidence(format!(
                    "top namespaces by CPU: {}",
                    list(ns_cpu.iter().take(n).map(|(ns, q)| format!("{ns} {}", cpu(*q))).collect())
                ))
                .evidence(format!(
                    "top namespaces by memory: {}",
                    list(ns_mem.iter().take(n).map(|(ns, q)| format!("{ns} {}", mem(*q))).collect())
                ))
                .evidence(format!(
                    "cluster allocatable over {}: {} CPU, {} memory",
                    plural(nodes, "node", "nodes"),
                    cpu(cpu_alloc),
                    mem(mem_alloc)
                ))
                .action(match status {
                    Status::Pass => "",
                    _ => "see the pods below: kubectl top pods -A --sort-by=cpu (or memory)",
                });

            let gib = |q: Quantity| q.as_f64() / super::GIB;
            let mut cpu_chart = super::Chart::new("CPU used by the top namespaces", "cores");
            for (ns, q) in ns_cpu.iter().take(n) {
                cpu_chart = cpu_chart.bar(*ns, q.as_f64(), cpu_alloc.as_f64());
            }
            let mut mem_chart = super::Chart::new("Memory used by the top namespaces", "GiB");
            for (ns, q) in ns_mem.iter().take(n) {
                mem_chart = mem_chart.bar(*ns, gib(*q), gib(mem_alloc));
            }
            let mut out: CheckOutput = std::iter::once(head).chain(findings).collect::<Vec<_>>().into();
            if !ns_cpu.is_empty() {
                out.charts = vec![cpu_chart, mem_chart];
            }
            Ok(out)
        })
    }
}
