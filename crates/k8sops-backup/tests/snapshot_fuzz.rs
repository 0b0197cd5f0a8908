//! Damaged snapshot files: truncated at every page boundary and between,
//! bytes flipped and page headers overwritten at random (proptest), empty,
//! tiny and random files. Every reader returns a typed error or a report,
//! never panics; where etcdctl 3.4 still reads a damaged file, ours gives the
//! same status.
//!
//! The intact snapshot is saved once per run from an etcd of this test's
//! own (plain HTTP on spare ports, stopped when the snapshot is saved), so
//! it is small and the same whatever other tests store: keys of many sizes
//! (overflow pages), branch pages, deletes.

use std::{
    path::Path,
    process::{Command, Stdio},
    sync::OnceLock,
};

use k8sops_backup::{
    snapshot::{self, OutputFormat, SnapshotStatus, Trailer},
    Error,
};
use k8sops_testkit::e2e::OwnEtcd;
use proptest::prelude::*;

const PAGE: usize = 4096;

/// The intact snapshot: its bytes and its status (as etcdctl reports it).
struct Base {
    bytes: Vec<u8>,
    status: SnapshotStatus,
}

/// `etcdctl ARGS` against `endpoint`, with `stdin`; panics when it fails.
fn etcdctl(endpoint: &str, args: &[&str], stdin: &str) {
    let mut child = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoint}"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("etcdctl runs");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "etcdctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn base() -> Option<&'static Base> {
    static BASE: OnceLock<Option<Base>> = OnceLock::new();
    BASE.get_or_init(|| {
        let etcd = OwnEtcd::start("fuzz")?;
        let endpoint = etcd.endpoint.clone();
        let dir = etcd.dir().to_path_buf();
        for chunk in 0..3 {
            let mut txn = String::from("\n");
            for i in chunk * 100..(chunk + 1) * 100 {
                let len = if i % 25 == 0 { 6_000 + i * 10 } else { 5 + i % 150 };
                txn.push_str(&format!("put /fuzz/k{i:04} {}\n", "v".repeat(len)));
            }
            txn.push_str("\n\n");
            etcdctl(&endpoint, &["txn"], &txn);
        }
        etcdctl(&endpoint, &["del", "/fuzz/k0100", "/fuzz/k0200"], "");
        etcdctl(&endpoint, &["put", "/fuzz/k0150", "again"], "");
        let path = dir.join("base.db");
        etcdctl(&endpoint, &["snapshot", "save", path.to_str().unwrap()], "");
        let status = etcdctl_status(&path).expect("etcdctl reads the intact snapshot");
        assert_eq!(snapshot::status(&path).unwrap(), status);
        Some(Base { bytes: std::fs::read(&path).unwrap(), status })
    })
    .as_ref()
}

/// `etcdctl snapshot status -w json`, or `None` when etcdctl refuses the
/// file, crashes on it, or loops on it (bbolt follows a cycle of pages
/// forever): coreutils' `timeout` stops it after 20 seconds.
fn etcdctl_status(path: &Path) -> Option<SnapshotStatus> {
    let out = Command::new("timeout")
        .args(["-s", "KILL", "20", "etcdctl"])
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "status"])
        .arg(path)
        .args(["-w", "json"])
        .output()
        .expect("etcdctl runs");
    out.status.success().then(|| serde_json::from_slice(&out.stdout).expect("etcdctl json"))
}

/// Writes `bytes` to a fresh file in the system temp directory.
fn write(bytes: &[u8]) -> tempfile::TempPath {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    file.into_temp_path()
}

/// Every reader on `path`: status and prefix counts give a status or a
/// `CorruptSnapshot`, verify gives a report. Returns the status result.
/// Status is also read with one reader thread, where a panic would reach
/// the caller rather than a thread join, and must give the same answer.
fn read_all(path: &Path) -> Result<SnapshotStatus, String> {
    let status = snapshot::status(path);
    let one = snapshot::status_with(path, &snapshot::ReadParams::default().threads(1));
    assert_eq!(status.is_ok(), one.is_ok(), "threads(1) disagrees: {status:?} vs {one:?}");
    if let (Ok(a), Ok(b)) = (&status, &one) {
        assert_eq!(a, b);
    }
    if let Err(e) = &status {
        assert!(matches!(e, Error::CorruptSnapshot { .. }), "status: {e:?}");
    }
    if let Err(e) = snapshot::prefix_counts(path) {
        assert!(matches!(e, Error::CorruptSnapshot { .. }), "prefix counts: {e:?}");
    }
    let report = snapshot::verify(path).expect("verify reads any file");
    if status.is_err() {
        assert!(!report.is_ok(), "status failed but verify found nothing: {report}");
        assert!(report.ensure_ok().is_err());
    }
    // The renderers take any values.
    if let Ok(s) = &status {
        for f in [OutputFormat::Simple, OutputFormat::Json, OutputFormat::Table, OutputFormat::Fields] {
            assert!(s.render(f).ends_with('\n'));
        }
    }
    status.map_err(|e| e.to_string())
}

#[test]
fn empty_tiny_and_random_files_are_corrupt_snapshots() {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut random = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    };
    let mut files: Vec<Vec<u8>> = vec![vec![], vec![0], vec![0; 79], vec![0; 80], vec![0; PAGE], vec![0xff; 3 * PAGE]];
    for n in [1, 100, PAGE, 2 * PAGE, 5 * PAGE + 32, 64 * 1024] {
        files.push(random(n));
    }
    for bytes in files {
        let path = write(&bytes);
        let err = read_all(&path).expect_err("not a snapshot");
        assert!(err.contains("not a usable etcd snapshot"), "{err}");
        let report = snapshot::verify(&path).unwrap();
        assert!(!report.is_ok(), "{} bytes: {report}", bytes.len());
    }
}

/// Two valid meta pages and nothing else that makes sense.
#[test]
fn valid_meta_pages_over_garbage_are_corrupt_snapshots() {
    fn fnv(data: &[u8]) -> u64 {
        data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
    }
    for (root, pgid, filler) in [(2u64, 4u64, 0u8), (3, 4, 0xff), (2, 3, 0x02), (2, 1000, 0), (5, 4, 0)] {
        let mut bytes = vec![filler; 4 * PAGE];
        for (i, txid) in [(0usize, 2u64), (1, 1)] {
            let page = &mut bytes[i * PAGE..(i + 1) * PAGE];
            page[..16].fill(0);
            page[..8].copy_from_slice(&(i as u64).to_le_bytes());
            page[8..10].copy_from_slice(&4u16.to_le_bytes());
            let m = &mut page[16..80];
            m[0..4].copy_from_slice(&0xED0C_DAEDu32.to_le_bytes());
            m[4..8].copy_from_slice(&2u32.to_le_bytes());
            m[8..12].copy_from_slice(&(PAGE as u32).to_le_bytes());
            m[12..16].fill(0);
            m[16..24].copy_from_slice(&root.to_le_bytes());
            m[24..32].fill(0);
            m[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
            m[40..48].copy_from_slice(&pgid.to_le_bytes());
            m[48..56].copy_from_slice(&txid.to_le_bytes());
            let sum = fnv(&m[..56]);
            m[56..64].copy_from_slice(&sum.to_le_bytes());
        }
        let path = write(&bytes);
        let err = read_all(&path).expect_err("garbage pages");
        assert!(err.contains("not a usable etcd snapshot"), "{err}");
    }
}

#[test]
fn truncated_snapshots_are_refused_at_every_page_boundary_and_between() {
    let Some(base) = base() else { return };
    let db_size = base.status.total_size as usize;
    let pages = base.bytes.len() / PAGE;
    assert!(pages < 200, "the base snapshot is small: {pages} pages");
    let mut cuts: Vec<usize> =
        (0..=pages).flat_map(|p| [p * PAGE, p * PAGE + 1, p * PAGE + 16, p * PAGE + 100]).collect();
    cuts.extend((0..base.bytes.len()).step_by(997));
    cuts.extend(db_size..base.bytes.len());
    cuts.sort_unstable();
    cuts.dedup();
    for cut in cuts.into_iter().filter(|&c| c < base.bytes.len()) {
        let path = write(&base.bytes[..cut]);
        match read_all(&path) {
            // Only the trailer was cut: the database itself is whole.
            Ok(status) => {
                assert!(cut >= db_size, "cut at {cut} of {db_size} still read: {status:?}");
                assert_eq!(status, base.status);
            }
            Err(e) => assert!(cut < db_size, "cut at {cut}, after the database's {db_size} bytes: {e}"),
        }
    }
}

#[test]
fn an_invalid_first_meta_page_falls_back_to_the_second_like_bbolt() {
    let Some(base) = base() else { return };
    let mut bytes = base.bytes.clone();
    bytes[16 + 20] ^= 0x40; // the root page id, covered by the checksum
    let path = write(&bytes);
    // bbolt takes the second meta page (the same tree, one txid lower).
    assert_eq!(etcdctl_status(&path), Some(base.status));
    assert_eq!(snapshot::status(&path).unwrap(), base.status);
    let report = snapshot::verify(&path).unwrap();
    assert!(report.meta_pages[0].problem.as_deref().is_some_and(|p| p.contains("checksum")), "{report}");
    assert!(report.meta_pages[1].is_valid());
    assert!(matches!(report.trailer, Trailer::Mismatch { .. }));
    // Both meta pages damaged: nothing to read.
    bytes[PAGE + 16 + 20] ^= 0x40;
    let path = write(&bytes);
    let err = snapshot::status(&path).unwrap_err().to_string();
    assert!(err.contains("no valid bbolt meta page"), "{err}");
    assert_eq!(etcdctl_status(&path), None);
}

/// The page ids of the `key` bucket's root and of its first child, read
/// from the intact file (page 0's meta, then the root bucket's leaf).
fn key_bucket_pages(bytes: &[u8]) -> (usize, usize) {
    let u64_at = |off: usize| u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap());
    let u32_at = |off: usize| u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
    let u16_at = |off: usize| u16::from_le_bytes(bytes[off..off + 2].try_into().unwrap()) as usize;
    let root = u64_at(16 + 16) as usize * PAGE;
    assert_eq!(u16_at(root + 8), 0x02, "the root bucket is one leaf page");
    for i in 0..u16_at(root + 10) {
        let e = root + 16 + i * 16;
        let (pos, ksize) = (u32_at(e + 4), u32_at(e + 8));
        if &bytes[e + pos..e + pos + ksize] == b"key" {
            let key_root = u64_at(e + pos + ksize) as usize;
            let page = key_root * PAGE;
            assert_eq!(u16_at(page + 8), 0x01, "300 keys need a branch page");
            return (key_root, u64_at(page + 16 + 8) as usize);
        }
    }
    panic!("no key bucket")
}

#[test]
fn structural_damage_is_reported_by_page() {
    let Some(base) = base() else { return };
    let (root, child) = key_bucket_pages(&base.bytes);
    let hwm = base.status.total_size / PAGE as u64;

    // A child pointer past the high-water mark.
    let mut bytes = base.bytes.clone();
    bytes[root * PAGE + 16 + 8..root * PAGE + 16 + 16].copy_from_slice(&(hwm + 5).to_le_bytes());
    let err = snapshot::status(write(&bytes)).unwrap_err().to_string();
    assert!(err.contains("beyond the high-water mark"), "{err}");

    // Two neighbouring children past the high-water mark: they are planned
    // as one run of pages, which must not be read past the end of the file.
    // One reader thread, so a panic would reach the caller instead of being
    // caught by the thread join.
    let mut far = base.bytes.clone();
    for (i, pgid) in [hwm + 1, hwm + 2].into_iter().enumerate() {
        let at = root * PAGE + 16 + i * 16 + 8;
        far[at..at + 8].copy_from_slice(&pgid.to_le_bytes());
    }
    let path = write(&far);
    let one = snapshot::ReadParams::default().threads(1);
    let err = snapshot::status_with(&path, &one).unwrap_err().to_string();
    assert!(err.contains("beyond the high-water mark"), "{err}");
    let err = snapshot::prefix_counts_with(&path, &one).unwrap_err().to_string();
    assert!(err.contains("beyond the high-water mark"), "{err}");
    let integrity = snapshot::verify_with(&path, &one).unwrap();
    assert!(integrity.problems.iter().any(|p| p.contains("beyond the high-water mark")), "{:?}", integrity.problems);

    // A child pointing back at its parent: a cycle, reported, not followed forever.
    bytes[root * PAGE + 16 + 8..root * PAGE + 16 + 16].copy_from_slice(&(root as u64).to_le_bytes());
    let path = write(&bytes);
    let err = snapshot::status(&path).unwrap_err().to_string();
    assert!(err.contains("multiple references"), "{err}");
    assert!(snapshot::verify(&path).unwrap().problems.iter().any(|p| p.contains("multiple references")));

    // A page whose type is neither branch nor leaf.
    let mut bytes = base.bytes.clone();
    bytes[child * PAGE + 8] = 0x20;
    let err = snapshot::status(write(&bytes)).unwrap_err().to_string();
    assert!(err.contains(&format!("page {child}: invalid type")), "{err}");
    assert_eq!(etcdctl_status(&write(&bytes)), None, "etcdctl's check refuses it too");

    // An element that points past its page.
    let mut bytes = base.bytes.clone();
    bytes[child * PAGE + 16 + 4..child * PAGE + 16 + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = snapshot::status(write(&bytes)).unwrap_err().to_string();
    assert!(err.contains(&format!("page {child}: element 0 ends at byte")), "{err}");
}

/// Where etcdctl still reads a damaged file, ours reads the same status,
/// or refuses it for a reason bbolt does not check (it reads on into
/// whatever follows): an element that points past the end of its page, a
/// page whose header names another page, a page at or past the high-water
/// mark, a branch page without elements.
fn agrees_with_etcdctl(ours: Result<SnapshotStatus, String>, theirs: SnapshotStatus) -> Result<(), TestCaseError> {
    const STRICTER: [&str; 5] = [
        "past the page's",
        "header says page",
        "beyond the high-water mark",
        "run past the high-water mark",
        "branch page without elements",
    ];
    match ours {
        Ok(ours) => prop_assert_eq!(ours, theirs),
        Err(e) => prop_assert!(
            STRICTER.iter().any(|stricter| e.contains(stricter)),
            "etcdctl read the file, ours refused it: {}",
            e
        ),
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("K8SOPS_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Random bytes flipped anywhere: never a panic; when etcdctl still
    /// reads the file, ours reads the same status.
    #[test]
    fn flipped_bytes_never_panic_and_match_etcdctl_when_it_reads_the_file(
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), 1u8..=255), 1..4)
    ) {
        let Some(base) = base() else { return Ok(()) };
        let mut bytes = base.bytes.clone();
        for (at, mask) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= mask;
        }
        let path = write(&bytes);
        let ours = read_all(&path);
        // Any change breaks the SHA-256 trailer.
        prop_assert!(!snapshot::verify(&path).unwrap().is_ok());
        if let Some(theirs) = etcdctl_status(&path) {
            agrees_with_etcdctl(ours, theirs)?;
        }
    }

    /// Page and element headers overwritten with random values.
    #[test]
    fn overwritten_page_headers_never_panic(
        page in 0usize..64,
        at in 0usize..48,
        junk in proptest::collection::vec(any::<u8>(), 1..9),
    ) {
        let Some(base) = base() else { return Ok(()) };
        let pages = base.bytes.len() / PAGE;
        let start = (page % pages) * PAGE + at;
        let mut bytes = base.bytes.clone();
        let end = (start + junk.len()).min(bytes.len());
        bytes[start..end].copy_from_slice(&junk[..end - start]);
        let path = write(&bytes);
        let ours = read_all(&path);
        if let Some(theirs) = etcdctl_status(&path) {
            agrees_with_etcdctl(ours, theirs)?;
        }
    }

    /// Arbitrary files: never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..20_000)) {
        let path = write(&bytes);
        prop_assert!(read_all(&path).is_err());
    }
}
