//! The integrity report: SHA-256 trailer, meta page checksums and bbolt's
//! page accounting.

use std::{fmt, path::Path, path::PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    bbolt::{self, read_exact_at, Db, OpenError, TRAILER},
    integrity_failed, io, run, walk, ReadParams,
};
use crate::{Error, Result};

/// What [`verify`](super::verify) found.
///
/// ```
/// use k8sops_backup::snapshot::{Integrity, MetaPage, Trailer};
/// let report = Integrity {
///     path: "backup.db".into(),
///     file_size: 20512,
///     page_size: 4096,
///     db_size: 20480,
///     trailer: Trailer::Matches { sha256: "00".repeat(32) },
///     meta_pages: [MetaPage { txid: Some(5), problem: None }, MetaPage { txid: Some(4), problem: None }],
///     pages: 5,
///     reachable_pages: 5,
///     free_pages: 0,
///     problems: vec![],
///     problem_count: 0,
/// };
/// assert!(report.is_ok());
/// assert!(report.ensure_ok().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integrity {
    /// The file that was checked.
    pub path: PathBuf,
    /// Its size in bytes.
    pub file_size: u64,
    /// bbolt's page size (0 when no meta page could be read).
    pub page_size: u64,
    /// Bytes of the database: high-water page id times page size (0 when unknown).
    pub db_size: u64,
    /// The SHA-256 trailer `etcdctl snapshot save` appends.
    pub trailer: Trailer,
    /// Meta pages 0 and 1.
    pub meta_pages: [MetaPage; 2],
    /// Pages below the high-water mark.
    pub pages: u64,
    /// Pages reached from the meta page in force (meta, freelist and tree pages).
    pub reachable_pages: u64,
    /// Free pages: those in the freelist page, or, when the database was
    /// written without one (etcd 3.4 sets bbolt's `NoFreelistSync`), the
    /// pages below the high-water mark that no tree reaches, as bbolt
    /// rebuilds its freelist on open.
    pub free_pages: u64,
    /// What is wrong, in words (the first 100 problems; bbolt's wording for
    /// page problems, e.g. `page 7: unreachable unfreed`).
    pub problems: Vec<String>,
    /// How many problems were found in all.
    pub problem_count: u64,
}

/// The SHA-256 trailer.
///
/// ```
/// use k8sops_backup::snapshot::Trailer;
/// let t = Trailer::Mismatch { recorded: "aa".into(), computed: "bb".into() };
/// assert!(!t.is_ok());
/// assert!(Trailer::Absent.is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "state")]
#[non_exhaustive]
pub enum Trailer {
    /// The file has none (its size modulo 512 is not 32): a database file
    /// copied from a data directory rather than a saved snapshot.
    Absent,
    /// It matches the SHA-256 of the bytes before it (hex).
    Matches {
        /// The digest, lowercase hex.
        sha256: String,
    },
    /// It does not: the file was changed or damaged after it was saved.
    Mismatch {
        /// The digest in the file, lowercase hex.
        recorded: String,
        /// The digest of the bytes before it, lowercase hex.
        computed: String,
    },
}

impl Trailer {
    /// `false` only for a mismatch.
    ///
    /// ```
    /// # use k8sops_backup::snapshot::Trailer;
    /// assert!(Trailer::Matches { sha256: String::new() }.is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        !matches!(self, Trailer::Mismatch { .. })
    }
}

/// One meta page.
///
/// ```
/// use k8sops_backup::snapshot::MetaPage;
/// let m = MetaPage { txid: None, problem: Some("meta checksum 0x1, computed 0x2".into()) };
/// assert!(!m.is_valid());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaPage {
    /// Its transaction id, when it is valid.
    pub txid: Option<u64>,
    /// Why it is not valid (magic, version, checksum, page size), if it is not.
    pub problem: Option<String>,
}

impl MetaPage {
    /// Whether bbolt would accept it.
    ///
    /// ```
    /// # use k8sops_backup::snapshot::MetaPage;
    /// assert!(MetaPage { txid: Some(3), problem: None }.is_valid());
    /// ```
    pub fn is_valid(&self) -> bool {
        self.problem.is_none()
    }

    fn from(m: &std::result::Result<bbolt::Meta, String>) -> Self {
        match m {
            Ok(m) => MetaPage { txid: Some(m.txid), problem: None },
            Err(e) => MetaPage { txid: None, problem: Some(e.clone()) },
        }
    }
}

impl Integrity {
    /// No problem found: trailer (if any) matching, both meta pages valid,
    /// every page accounted for.
    ///
    /// ```no_run
    /// assert!(k8sops_backup::snapshot::verify("backup.db")?.is_ok());
    /// # Ok::<(), k8sops_backup::Error>(())
    /// ```
    pub fn is_ok(&self) -> bool {
        self.trailer.is_ok() && self.meta_pages.iter().all(MetaPage::is_valid) && self.problem_count == 0
    }

    /// `Ok` when [`is_ok`](Self::is_ok); otherwise [`Error::ChecksumMismatch`]
    /// for a trailer that does not match, else [`Error::CorruptSnapshot`]
    /// naming the first problems.
    ///
    /// ```no_run
    /// k8sops_backup::snapshot::verify("backup.db")?.ensure_ok()?;
    /// # Ok::<(), k8sops_backup::Error>(())
    /// ```
    pub fn ensure_ok(&self) -> Result<()> {
        if let Trailer::Mismatch { recorded, computed } = &self.trailer {
            return Err(Error::ChecksumMismatch {
                what: format!("{} (SHA-256 trailer)", self.path.display()),
                expected: recorded.clone(),
                actual: computed.clone(),
            });
        }
        let mut problems: Vec<String> = self
            .meta_pages
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.problem.as_ref().map(|p| format!("meta page {i}: {p}")))
            .collect();
        let count = self.problem_count + problems.len() as u64;
        problems.extend(self.problems.iter().cloned());
        if count == 0 {
            return Ok(());
        }
        Err(Error::CorruptSnapshot { path: self.path.clone(), reason: integrity_failed(&problems, count) })
    }
}

/// A few lines: verdict, trailer, meta pages, pages, then each problem.
impl fmt::Display for Integrity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.is_ok() { "OK" } else { "DAMAGED" };
        writeln!(f, "{}: {verdict}", self.path.display())?;
        match &self.trailer {
            Trailer::Absent => writeln!(f, "trailer:     none (not saved by etcdctl snapshot save)")?,
            Trailer::Matches { sha256 } => writeln!(f, "trailer:     SHA-256 matches ({sha256})")?,
            Trailer::Mismatch { recorded, computed } => {
                writeln!(f, "trailer:     SHA-256 MISMATCH: recorded {recorded}, computed {computed}")?
            }
        }
        for (i, m) in self.meta_pages.iter().enumerate() {
            match (&m.problem, m.txid) {
                (Some(p), _) => writeln!(f, "meta page {i}: INVALID: {p}")?,
                (None, Some(txid)) => writeln!(f, "meta page {i}: valid, txid {txid}")?,
                (None, None) => writeln!(f, "meta page {i}: valid")?,
            }
        }
        writeln!(
            f,
            "pages:       {} of {} bytes: {} reachable, {} free",
            self.pages, self.page_size, self.reachable_pages, self.free_pages
        )?;
        for p in &self.problems {
            writeln!(f, "problem:     {p}")?;
        }
        let more = self.problem_count.saturating_sub(self.problems.len() as u64);
        if more > 0 {
            writeln!(f, "problem:     and {more} more")?;
        }
        Ok(())
    }
}

pub(super) fn verify(path: &Path, params: &ReadParams) -> Result<Integrity> {
    let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let file_size = file.metadata().map_err(|e| io(path, e))?.len();
    let mut report = Integrity {
        path: path.to_path_buf(),
        file_size,
        page_size: 0,
        db_size: 0,
        trailer: Trailer::Absent,
        meta_pages: [MetaPage { txid: None, problem: None }, MetaPage { txid: None, problem: None }],
        pages: 0,
        reachable_pages: 0,
        free_pages: 0,
        problems: Vec::new(),
        problem_count: 0,
    };
    let cancel = params.cancel.as_ref();
    // The trailer's digest covers the whole file: it is computed on a thread
    // of its own while the pages are walked.
    let (trailer, walked) = std::thread::scope(|s| {
        let trailer = s.spawn(|| trailer(&file, file_size, cancel));
        let walked = walk_pages(path, params, &mut report);
        (trailer.join(), walked)
    });
    walked?;
    report.trailer = match trailer {
        Ok(Ok(Some(t))) => t,
        Ok(Ok(None)) => Trailer::Absent,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {
            return Err(k8sops_core::Error::Cancelled { during: format!("verifying {}", path.display()) }.into())
        }
        Ok(Err(e)) => return Err(io(path, e)),
        Err(_) => return Err(io(path, std::io::Error::other("the SHA-256 thread stopped unexpectedly"))),
    };
    Ok(report)
}

/// Opens the database and walks every page, filling `report`.
fn walk_pages(path: &Path, params: &ReadParams, report: &mut Integrity) -> Result<()> {
    let db = match Db::open(path) {
        Ok(db) => db,
        Err(OpenError::Io(e)) => return Err(io(path, e)),
        Err(OpenError::Unusable { reason, metas, .. }) => {
            if let Some(metas) = metas {
                report.meta_pages = [MetaPage::from(&metas[0]), MetaPage::from(&metas[1])];
            } else {
                let none = MetaPage { txid: None, problem: Some("not readable".into()) };
                report.meta_pages = [none.clone(), none];
            }
            report.problems.push(reason.0);
            report.problem_count += 1;
            return Ok(());
        }
    };
    report.page_size = db.page_size;
    report.db_size = db.size();
    report.pages = db.meta.pgid;
    report.meta_pages = [MetaPage::from(&db.metas[0]), MetaPage::from(&db.metas[1])];
    let opts = walk::ScanOptions {
        hash: false,
        check: true,
        live_keys: false,
        only_bucket: None,
        threads: params.thread_count(),
        cancel: params.cancel.as_ref(),
        stop_at_first_problem: false,
    };
    let scan = run(path, &db, &opts)?;
    report.reachable_pages = scan.reachable_pages;
    report.free_pages = scan.free_pages;
    report.problems.extend(scan.problems);
    report.problem_count += scan.problem_count;
    Ok(())
}

/// The trailer, when the file has one (etcd's rule: size modulo 512 is 32),
/// checked against the SHA-256 of the bytes before it. A cancelled check
/// returns `Interrupted`.
fn trailer(
    file: &std::fs::File,
    file_size: u64,
    cancel: Option<&k8sops_core::CancellationToken>,
) -> std::io::Result<Option<Trailer>> {
    if file_size < TRAILER || file_size % 512 != TRAILER {
        return Ok(None);
    }
    let data_len = file_size - TRAILER;
    let mut recorded = [0u8; TRAILER as usize];
    read_exact_at(file, &mut recorded, data_len)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0;
    while off < data_len {
        if cancel.is_some_and(|c| c.is_cancelled()) {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        let n = (data_len - off).min(buf.len() as u64) as usize;
        read_exact_at(file, &mut buf[..n], off)?;
        hasher.update(&buf[..n]);
        off += n as u64;
    }
    let computed = hex(&hasher.finalize());
    let recorded = hex(&recorded);
    Ok(Some(if computed == recorded {
        Trailer::Matches { sha256: computed }
    } else {
        Trailer::Mismatch { recorded, computed }
    }))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
