//! `etcdctl snapshot status` without a server, and more: read an etcd
//! snapshot file (a bbolt database, usually with the 32-byte SHA-256 trailer
//! `etcdctl snapshot save` appends) and report
//!
//! - [`status`]: hash, revision, total keys and total size, exactly as
//!   `etcdctl snapshot status -w json` computes them (etcd 3.4, including
//!   bbolt's integrity check, which makes etcdctl refuse a damaged file);
//!   rendered byte for byte as `-w simple|json|table|fields` by
//!   [`SnapshotStatus::render`];
//! - [`verify`]: the integrity report (SHA-256 trailer, both meta pages'
//!   checksums, every page reachable or free, within bounds, referenced once);
//! - [`prefix_counts`]: live keys per Kubernetes resource prefix
//!   (`/registry/pods/`), which etcdctl does not give.
//!
//! The file is read with positioned reads into a few reused buffers (a
//! 256 KiB window per thread) on at most one thread per core, never mapped
//! or loaded whole: peak memory stays at a few MiB for a snapshot of any
//! size (4 MiB for an 821 MB one, where etcdctl's mapping grows to the file
//! size), plus, for [`prefix_counts`], one entry per distinct key. The
//! threads hash disjoint subtrees and their CRCs are joined in key order.
//!
//! Damaged and truncated files give [`Error::CorruptSnapshot`], never a
//! panic. Where bbolt would read on past the end of a page into whatever
//! follows (an element pointing outside its page, a page header naming
//! another page, a page at the high-water mark, a branch page without
//! elements) or follow a cycle of pages forever, this refuses the file
//! instead; everything bbolt's `tx.Check` reports is refused as etcdctl
//! refuses it.
//!
//! ```no_run
//! use k8sops_backup::snapshot::{self, OutputFormat};
//! let status = snapshot::status("backup.db")?;
//! print!("{}", status.render(OutputFormat::Table));
//! println!("revision {} with {} keys", status.revision, status.total_key);
//! # Ok::<(), k8sops_backup::Error>(())
//! ```
//!
//! # Cancel safety
//!
//! Every function only reads the file. A cancelled read (through
//! [`ReadParams::cancel`]) stops within one page and returns
//! [`k8sops_core::Error::Cancelled`]; nothing is left behind.

mod bbolt;
mod crc;
mod integrity;
mod pages;
mod prefixes;
mod render;
mod walk;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use integrity::{Integrity, MetaPage, Trailer};
pub use prefixes::{PrefixCount, PrefixCounts};
pub use render::{humanize_bytes, OutputFormat};

use crate::{Error, Result};
use k8sops_core::CancellationToken;

/// What `etcdctl snapshot status` reports. Serializes to etcdctl's JSON:
/// `{"hash":…,"revision":…,"totalKey":…,"totalSize":…}`.
///
/// ```
/// use k8sops_backup::snapshot::SnapshotStatus;
/// let s = SnapshotStatus { hash: 0xac4f5c5a, revision: 2, total_key: 5, total_size: 20480 };
/// assert_eq!(serde_json::to_string(&s).unwrap(), r#"{"hash":2890882138,"revision":2,"totalKey":5,"totalSize":20480}"#);
/// assert_eq!(s.to_string(), "ac4f5c5a, 2, 5, 20 kB");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotStatus {
    /// CRC-32C (Castagnoli) over every top-level bucket name followed by
    /// each key and value in that bucket, buckets and keys in order.
    pub hash: u32,
    /// Main revision of the last entry in the `key` bucket (0 when empty).
    pub revision: i64,
    /// Key/value pairs in all top-level buckets (etcd's own buckets included,
    /// every stored revision and tombstone counted).
    pub total_key: u64,
    /// Bytes of the database: bbolt's high-water page id times the page size
    /// (the file minus the SHA-256 trailer).
    pub total_size: u64,
}

impl SnapshotStatus {
    /// The report as `etcdctl snapshot status -w FORMAT` prints it, with its
    /// final newline.
    ///
    /// ```
    /// use k8sops_backup::snapshot::{OutputFormat, SnapshotStatus};
    /// let s = SnapshotStatus { hash: 0xac4f5c5a, revision: 2, total_key: 5, total_size: 20480 };
    /// assert_eq!(s.render(OutputFormat::Simple), "ac4f5c5a, 2, 5, 20 kB\n");
    /// assert!(s.render(OutputFormat::Table).contains("| ac4f5c5a |        2 |          5 |      20 kB |"));
    /// ```
    pub fn render(&self, format: OutputFormat) -> String {
        render::render(self, format)
    }
}

/// `etcdctl -w simple`, without the final newline.
impl std::fmt::Display for SnapshotStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.render(OutputFormat::Simple).trim_end())
    }
}

/// How to read a snapshot. `Default` uses one thread per core (at most 8).
///
/// ```
/// use k8sops_backup::snapshot::ReadParams;
/// use k8sops_core::CancellationToken;
/// let token = CancellationToken::new();
/// let p = ReadParams::default().threads(1).cancel(token.clone());
/// assert_eq!(p.threads, 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ReadParams {
    /// Reader threads; 0 (the default) means one per core, at most 8.
    pub threads: usize,
    /// Stop reading when this token is cancelled.
    pub cancel: Option<CancellationToken>,
}

impl ReadParams {
    /// Sets [`threads`](Self::threads).
    #[must_use]
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Sets [`cancel`](Self::cancel).
    #[must_use]
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    fn thread_count(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()).min(8),
            n => n,
        }
    }
}

/// `etcdctl snapshot status FILE` without a server: hash, revision, total
/// keys and total size, with bbolt's integrity check first (as etcdctl runs
/// `tx.Check`). Blocking; from async code call it in
/// `tokio::task::spawn_blocking`.
///
/// Errors: [`Error::CorruptSnapshot`] when the file is not a bbolt database,
/// is truncated, or fails the check; [`k8sops_core::Error::Io`] when it
/// cannot be read.
///
/// ```no_run
/// let s = k8sops_backup::snapshot::status("/var/backups/etcd-2024-05-01.db")?;
/// println!("{}", serde_json::to_string(&s).unwrap());
/// # Ok::<(), k8sops_backup::Error>(())
/// ```
pub fn status(path: impl AsRef<Path>) -> Result<SnapshotStatus> {
    status_with(path, &ReadParams::default())
}

/// [`status`] with [`ReadParams`].
///
/// ```no_run
/// use k8sops_backup::snapshot::{status_with, ReadParams};
/// let s = status_with("backup.db", &ReadParams::default().threads(1))?;
/// # Ok::<(), k8sops_backup::Error>(())
/// ```
pub fn status_with(path: impl AsRef<Path>, params: &ReadParams) -> Result<SnapshotStatus> {
    let path = path.as_ref();
    let db = open(path)?;
    let opts = walk::ScanOptions {
        hash: true,
        check: true,
        live_keys: false,
        only_bucket: None,
        threads: params.thread_count(),
        cancel: params.cancel.as_ref(),
        stop_at_first_problem: true,
    };
    let scan = run(path, &db, &opts)?;
    if scan.problem_count > 0 {
        return Err(corrupt(path, integrity_failed(&scan.problems, scan.problem_count)));
    }
    Ok(SnapshotStatus { hash: scan.crc, revision: scan.revision, total_key: scan.total_key, total_size: db.size() })
}

/// The integrity report of a snapshot file: the SHA-256 trailer (when the
/// file has one: its size modulo 512 is 32, as etcd decides), the checksums
/// of both meta pages, and bbolt's page accounting (every page below the
/// high-water mark reachable or free, none referenced twice, none both).
/// bbolt has no checksums on data pages; their structure is checked instead.
///
/// A damaged file is a finding, not an error: the report lists every
/// problem, and [`Integrity::ensure_ok`] turns it into one. `Err` only when
/// the file cannot be read at all.
///
/// ```no_run
/// let report = k8sops_backup::snapshot::verify("backup.db")?;
/// print!("{report}");
/// report.ensure_ok()?;
/// # Ok::<(), k8sops_backup::Error>(())
/// ```
pub fn verify(path: impl AsRef<Path>) -> Result<Integrity> {
    verify_with(path, &ReadParams::default())
}

/// [`verify`] with [`ReadParams`].
///
/// ```no_run
/// use k8sops_backup::snapshot::{verify_with, ReadParams};
/// let report = verify_with("backup.db", &ReadParams::default().threads(2))?;
/// assert!(report.is_ok());
/// # Ok::<(), k8sops_backup::Error>(())
/// ```
pub fn verify_with(path: impl AsRef<Path>, params: &ReadParams) -> Result<Integrity> {
    integrity::verify(path.as_ref(), params)
}

/// Live keys per Kubernetes resource prefix, at the snapshot's revision:
/// for every user key, its latest revision in the `key` bucket, counted
/// when that revision is not a deletion (tombstone). See [`PrefixCounts`]
/// for how a key is assigned its prefix.
///
/// ```no_run
/// let counts = k8sops_backup::snapshot::prefix_counts("backup.db")?;
/// for p in &counts.prefixes {
///     println!("{} {}", p.prefix, p.keys);
/// }
/// # Ok::<(), k8sops_backup::Error>(())
/// ```
pub fn prefix_counts(path: impl AsRef<Path>) -> Result<PrefixCounts> {
    prefix_counts_with(path, &ReadParams::default())
}

/// [`prefix_counts`] with [`ReadParams`].
///
/// ```no_run
/// use k8sops_backup::snapshot::{prefix_counts_with, ReadParams};
/// let counts = prefix_counts_with("backup.db", &ReadParams::default().threads(1))?;
/// println!("{} live keys", counts.live_keys);
/// # Ok::<(), k8sops_backup::Error>(())
/// ```
pub fn prefix_counts_with(path: impl AsRef<Path>, params: &ReadParams) -> Result<PrefixCounts> {
    let path = path.as_ref();
    let db = open(path)?;
    let opts = walk::ScanOptions {
        hash: false,
        check: false,
        live_keys: true,
        only_bucket: Some(walk::KEY_BUCKET),
        threads: params.thread_count(),
        cancel: params.cancel.as_ref(),
        stop_at_first_problem: true,
    };
    let scan = run(path, &db, &opts)?;
    if scan.problem_count > 0 {
        return Err(corrupt(path, integrity_failed(&scan.problems, scan.problem_count)));
    }
    Ok(prefixes::count(scan.revision, scan.key_revisions, scan.live))
}

fn corrupt(path: &Path, reason: String) -> Error {
    Error::CorruptSnapshot { path: path.to_path_buf(), reason }
}

fn io(path: &Path, source: std::io::Error) -> Error {
    k8sops_core::Error::Io { path: path.display().to_string(), source }.into()
}

fn open(path: &Path) -> Result<bbolt::Db> {
    bbolt::Db::open(path).map_err(|e| match e {
        bbolt::OpenError::Io(e) => io(path, e),
        bbolt::OpenError::Unusable { reason, .. } => corrupt(path, reason.0),
    })
}

fn run(path: &Path, db: &bbolt::Db, opts: &walk::ScanOptions<'_>) -> Result<walk::Scan> {
    walk::scan(db, opts).map_err(|e| match e {
        walk::ScanError::Io(e) => io(path, e),
        walk::ScanError::Cancelled => {
            k8sops_core::Error::Cancelled { during: format!("reading the etcd snapshot {}", path.display()) }.into()
        }
    })
}

/// etcdctl's wording: the number of problems, then the first few.
fn integrity_failed(problems: &[String], count: u64) -> String {
    let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
    let more = count.saturating_sub(shown.len() as u64);
    let mut reason = format!("integrity check failed: {count} problem{}: {}", plural(count), shown.join("; "));
    if more > 0 {
        reason.push_str(&format!("; and {more} more"));
    }
    reason
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
