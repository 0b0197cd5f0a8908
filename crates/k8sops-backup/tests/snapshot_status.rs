//! `snapshot::status`, `verify` and `prefix_counts` on snapshots saved from
//! the real etcd (`scripts/etcd.sh`) by `etcdctl snapshot save`, with
//! etcdctl 3.4 as the oracle: `etcdctl snapshot status -w json|table|simple|fields`
//! on the same file, and for the prefix counts the keys a fresh etcd
//! restored from that file (`etcdctl snapshot restore`) serves.
//!
//! The etcd is shared with other tests: every test writes under a prefix of
//! its own, and compares ours with etcdctl on the same file, which is valid
//! whatever else is in it.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use k8sops_backup::{
    snapshot::{self, OutputFormat, ReadParams, SnapshotStatus, Trailer},
    Error,
};
use k8sops_core::CancellationToken;
use k8sops_testkit::e2e::{real_etcd, OwnEtcd, RealEtcd};
use serde_json::Value;

fn run(cmd: &mut Command) -> Output {
    cmd.env("ETCDCTL_API", "3").output().expect("etcdctl runs")
}

/// `etcdctl ARGS` against the test etcd; panics when it fails.
fn etcdctl(etcd: &RealEtcd, args: &[&str]) -> String {
    let out = run(Command::new("etcdctl").args(etcd.etcdctl_args()).args(args));
    assert!(out.status.success(), "etcdctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Puts all `kvs` in transactions of 100 (one etcdctl process each).
fn put_many(etcd: &RealEtcd, kvs: &[(String, String)]) {
    for chunk in kvs.chunks(100) {
        let mut script = String::from("\n");
        for (k, v) in chunk {
            assert!(!k.contains(' ') && !v.contains(' '), "etcdctl txn splits on spaces");
            script.push_str(&format!("put {k} {v}\n"));
        }
        script.push_str("\n\n");
        let mut child = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(etcd.etcdctl_args())
            .arg("txn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("etcdctl runs");
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("write txn");
        let out = child.wait_with_output().expect("etcdctl txn");
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("SUCCESS"),
            "etcdctl txn: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A prefix no other test writes under.
fn unique(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{what}{}x{nanos}x{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// `etcdctl snapshot save` into `dir`.
fn save(etcd: &RealEtcd, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    etcdctl(etcd, &["snapshot", "save", path.to_str().expect("utf-8 path")]);
    path
}

/// `etcdctl snapshot status FILE -w FORMAT` (no server involved).
fn etcdctl_status(path: &Path, format: &str) -> String {
    let out = run(Command::new("etcdctl").args(["snapshot", "status"]).arg(path).args(["-w", format]));
    assert!(out.status.success(), "etcdctl snapshot status: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The current revision of the test etcd.
fn current_revision(etcd: &RealEtcd) -> i64 {
    let v: Value = serde_json::from_str(&etcdctl(etcd, &["get", "k8sops-no-such-key", "-w", "json"])).unwrap();
    v["header"]["revision"].as_i64().expect("revision")
}

/// Ours vs etcdctl on `path`: JSON field by field, every text format byte for byte.
fn assert_status_matches_etcdctl(path: &Path) -> SnapshotStatus {
    let ours = snapshot::status(path).expect("status");
    let theirs: Value = serde_json::from_str(&etcdctl_status(path, "json")).expect("etcdctl json");
    assert_eq!(i64::from(ours.hash), theirs["hash"].as_i64().unwrap(), "hash of {}", path.display());
    assert_eq!(ours.revision, theirs["revision"].as_i64().unwrap(), "revision");
    assert_eq!(ours.total_key, theirs["totalKey"].as_u64().unwrap(), "totalKey");
    assert_eq!(ours.total_size, theirs["totalSize"].as_u64().unwrap(), "totalSize");
    for (format, name) in [
        (OutputFormat::Json, "json"),
        (OutputFormat::Table, "table"),
        (OutputFormat::Simple, "simple"),
        (OutputFormat::Fields, "fields"),
    ] {
        assert_eq!(ours.render(format), etcdctl_status(path, name), "-w {name}");
    }
    // The same result on one thread and on more threads than cores.
    for threads in [1, 3, 8] {
        assert_eq!(
            snapshot::status_with(path, &ReadParams::default().threads(threads)).unwrap(),
            ours,
            "{threads} threads"
        );
    }
    ours
}

fn value(len: usize, seed: usize) -> String {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len).map(|i| alphabet[(i * 7 + seed * 13 + i / 5) % alphabet.len()] as char).collect()
}

#[test]
fn status_matches_etcdctl_on_a_freshly_filled_snapshot() {
    let Some(etcd) = real_etcd() else { return };
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("/{}", unique("k8sops-snapshot-fresh"));
    // Small values share leaves; 5-20 KB values take overflow pages; 600
    // keys need branch pages.
    let kvs: Vec<(String, String)> = (0..600)
        .map(|i| {
            let len = if i % 50 == 0 { 5_000 + i * 25 } else { 10 + i % 200 };
            (format!("{prefix}/k{i:04}"), value(len, i))
        })
        .collect();
    put_many(&etcd, &kvs);
    let path = save(&etcd, dir.path(), "fresh.db");
    let ours = assert_status_matches_etcdctl(&path);
    assert!(ours.total_key >= 600, "{ours:?}");
    let report = snapshot::verify(&path).unwrap();
    assert!(report.is_ok(), "{report}");
    assert!(matches!(report.trailer, Trailer::Matches { .. }), "{report}");
    assert_eq!(report.db_size, ours.total_size);
    assert_eq!(report.file_size, ours.total_size + 32);
}

#[test]
fn status_matches_etcdctl_after_overwrites_deletes_leases_and_a_physical_compaction() {
    let Some(etcd) = real_etcd() else { return };
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("/{}", unique("k8sops-snapshot-history"));
    let kvs: Vec<(String, String)> = (0..400).map(|i| (format!("{prefix}/k{i:04}"), value(20 + i % 300, i))).collect();
    put_many(&etcd, &kvs);
    // Overwrite every third key twice, some with values that need overflow pages.
    let over: Vec<(String, String)> = kvs
        .iter()
        .step_by(3)
        .enumerate()
        .map(|(n, (k, _))| (k.clone(), value(if n % 10 == 0 { 9_000 } else { 40 }, n + 1)))
        .collect();
    put_many(&etcd, &over);
    put_many(&etcd, &over.iter().map(|(k, v)| (k.clone(), format!("{v}2"))).collect::<Vec<_>>());
    // Deletes: single keys and a range.
    for i in (1..400).step_by(7) {
        etcdctl(&etcd, &["del", &format!("{prefix}/k{i:04}")]);
    }
    etcdctl(&etcd, &["del", &format!("{prefix}/k0300"), &format!("{prefix}/k0350")]);
    // Lease-bound keys: one lease revoked (its keys deleted), one kept.
    let grant = |ttl: &str| -> String {
        let out = etcdctl(&etcd, &["lease", "grant", ttl]);
        out.split_whitespace().nth(1).expect("lease id").to_string()
    };
    let revoked = grant("600");
    let kept = grant("600");
    for i in 0..20 {
        etcdctl(&etcd, &["put", &format!("{prefix}/leased-r{i}"), "v", "--lease", &revoked]);
        etcdctl(&etcd, &["put", &format!("{prefix}/leased-k{i}"), "v", "--lease", &kept]);
    }
    let before_revoke = current_revision(&etcd);
    etcdctl(&etcd, &["lease", "revoke", &revoked]);
    // A physical compaction at a revision of ours removes the superseded
    // revisions and tombstones before it and frees their pages.
    etcdctl(&etcd, &["compaction", "--physical", &before_revoke.to_string()]);
    put_many(&etcd, &[(format!("{prefix}/after-compaction"), "v".into())]);

    let path = save(&etcd, dir.path(), "history.db");
    let ours = assert_status_matches_etcdctl(&path);
    assert!(ours.revision > before_revoke, "{ours:?}");
    let report = snapshot::verify(&path).unwrap();
    assert!(report.is_ok(), "{report}");
    assert!(report.free_pages > 0, "deletes and the compaction leave free pages: {report}");
    assert_eq!(report.reachable_pages + report.free_pages, report.pages, "{report}");

    // Our prefix's live keys, as etcd serves them now (nobody else writes there).
    let counts = snapshot::prefix_counts(&path).unwrap();
    assert_eq!(counts.revision, ours.revision);
    let served: Value = serde_json::from_str(&etcdctl(
        &etcd,
        &["get", &format!("{prefix}/"), "--prefix", "--keys-only", "--limit=1", "-w", "json"],
    ))
    .unwrap();
    let live_served = served["count"].as_u64().unwrap();
    let top = format!("{}/", prefix.split('/').nth(1).unwrap());
    assert_eq!(counts.get(&format!("/{top}")), live_served, "{counts}");
    etcdctl(&etcd, &["lease", "revoke", &kept]);
}

/// Keys in `[from, to)` (or under the prefix `from` when `to` is `None`) that the restored etcd serves.
fn restored_count(r: &OwnEtcd, args: &[&str]) -> u64 {
    let out = run(Command::new("etcdctl").arg(format!("--endpoints={}", r.endpoint)).arg("get").args(args).args([
        "--keys-only",
        "--limit=1",
        "-w",
        "json",
    ]));
    assert!(out.status.success(), "etcdctl get {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["count"].as_u64().unwrap_or(0)
}

#[test]
fn prefix_counts_equal_the_keys_a_restored_etcd_serves() {
    let Some(etcd) = real_etcd() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Kubernetes-shaped keys under resources and groups of our own.
    let resource = unique("widgets");
    let group = format!("{}.k8sops.example.com", unique("g"));
    let core = |i: usize| format!("/registry/{resource}/ns{}/w{i}", i % 3);
    let grouped = |i: usize| format!("/registry/{group}/gadgets/ns{}/g{i}", i % 2);
    let cluster_scoped = |i: usize| format!("/registry/{group}/clusterthings/c{i}");
    let mut kvs: Vec<(String, String)> = Vec::new();
    kvs.extend((0..150).map(|i| (core(i), value(100, i))));
    kvs.extend((0..90).map(|i| (grouped(i), value(3_000, i))));
    kvs.extend((0..10).map(|i| (cluster_scoped(i), value(10, i))));
    put_many(&etcd, &kvs);
    // Overwrites keep a key live; deletes and a revoked lease remove keys;
    // a key deleted then created again is live.
    put_many(&etcd, &(0..150).step_by(2).map(|i| (core(i), value(120, i + 1))).collect::<Vec<_>>());
    for i in (0..150).step_by(5) {
        etcdctl(&etcd, &["del", &core(i)]);
    }
    etcdctl(&etcd, &["put", &core(0), "again"]);
    let out = etcdctl(&etcd, &["lease", "grant", "600"]);
    let lease = out.split_whitespace().nth(1).expect("lease id").to_string();
    for i in 0..30 {
        etcdctl(&etcd, &["put", &grouped(i), "leased", "--lease", &lease]);
    }
    let rev = current_revision(&etcd);
    etcdctl(&etcd, &["lease", "revoke", &lease]);
    etcdctl(&etcd, &["compaction", "--physical", &rev.to_string()]);

    let path = save(&etcd, dir.path(), "registry.db");
    let counts = snapshot::prefix_counts(&path).unwrap();
    let restored = OwnEtcd::restore("restored", &path);

    let expect = |prefix: &str| restored_count(&restored, &[prefix, "--prefix"]);
    let ours_core = format!("/registry/{resource}/");
    let ours_grouped = format!("/registry/{group}/gadgets/");
    let ours_cluster = format!("/registry/{group}/clusterthings/");
    assert_eq!(counts.get(&ours_core), 150 - 30 + 1, "{counts}");
    assert_eq!(counts.get(&ours_grouped), 60, "{counts}");
    assert_eq!(counts.get(&ours_cluster), 10, "{counts}");
    for p in [&ours_core, &ours_grouped, &ours_cluster] {
        assert_eq!(counts.get(p), expect(p), "{p}");
    }
    let row = counts.prefixes.iter().find(|p| p.prefix == ours_grouped).unwrap();
    assert_eq!((row.group.as_deref(), row.resource.as_deref()), (Some(group.as_str()), Some("gadgets")));

    // The whole file: every row that is not a prefix of another row counts
    // exactly the keys under it, and all rows add up to every key.
    for p in &counts.prefixes {
        if p.prefix.is_empty()
            || counts.prefixes.iter().any(|q| q.prefix != p.prefix && q.prefix.starts_with(&p.prefix))
        {
            continue;
        }
        assert_eq!(p.keys, expect(&p.prefix), "{}", p.prefix);
    }
    assert_eq!(counts.live_keys, restored_count(&restored, &["", "--from-key"]), "{counts}");
    assert_eq!(counts.live_keys, counts.prefixes.iter().map(|p| p.keys).sum::<u64>());
    assert_eq!(counts.revision, snapshot::status(&path).unwrap().revision);
}

#[test]
fn verify_reports_a_missing_or_wrong_trailer() {
    let Some(etcd) = real_etcd() else { return };
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("/{}", unique("k8sops-snapshot-verify"));
    put_many(&etcd, &(0..50).map(|i| (format!("{prefix}/k{i}"), value(200, i))).collect::<Vec<_>>());
    let path = save(&etcd, dir.path(), "verify.db");
    let bytes = std::fs::read(&path).unwrap();
    let status = snapshot::status(&path).unwrap();

    // Without the trailer (a database file as a data directory holds it):
    // still the same status for etcdctl and us, and no trailer to check.
    let raw = dir.path().join("raw.db");
    std::fs::write(&raw, &bytes[..bytes.len() - 32]).unwrap();
    assert_eq!(assert_status_matches_etcdctl(&raw), status);
    let report = snapshot::verify(&raw).unwrap();
    assert_eq!(report.trailer, Trailer::Absent);
    assert!(report.is_ok(), "{report}");

    // One byte of the trailer changed: the digest no longer matches.
    let mut damaged = bytes.clone();
    *damaged.last_mut().unwrap() ^= 0x01;
    let bad = dir.path().join("bad-trailer.db");
    std::fs::write(&bad, &damaged).unwrap();
    let report = snapshot::verify(&bad).unwrap();
    assert!(matches!(report.trailer, Trailer::Mismatch { .. }), "{report}");
    assert!(!report.is_ok());
    assert!(matches!(report.ensure_ok(), Err(Error::ChecksumMismatch { .. })));
    // etcdctl's status does not read the trailer; neither does ours.
    assert_eq!(snapshot::status(&bad).unwrap(), status);
}

#[test]
fn a_cancelled_read_stops_with_cancelled() {
    let Some(etcd) = real_etcd() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = save(&etcd, dir.path(), "cancel.db");
    let token = CancellationToken::new();
    token.cancel();
    let params = ReadParams::default().cancel(token);
    for result in [
        snapshot::status_with(&path, &params).map(|_| ()),
        snapshot::verify_with(&path, &params).map(|_| ()),
        snapshot::prefix_counts_with(&path, &params).map(|_| ()),
    ] {
        assert!(matches!(result, Err(Error::Core(k8sops_core::Error::Cancelled { .. }))), "{result:?}");
    }
}

#[test]
fn a_missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let err = snapshot::status(&missing).unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::Io { .. })), "{err:?}");
    assert!(matches!(snapshot::verify(&missing), Err(Error::Core(k8sops_core::Error::Io { .. }))));
}
