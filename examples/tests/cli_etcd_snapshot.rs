//! `etcd_snapshot` as a user runs it, against the real etcd of the test
//! script, with `etcdctl` as the oracle: `status` prints what
//! `etcdctl snapshot status` prints for the same file, and a file saved by
//! `save` is one etcdctl reads.
#![cfg(feature = "etcd")]

mod support;

use std::process::Command;

use k8sops_testkit::e2e::real_etcd;
use support::Run;

/// Runs `etcd_snapshot` (with an empty HOME: the certificates come from the arguments).
fn run(args: &[&str]) -> Run {
    support::run("etcd_snapshot", args, &[])
}

fn etcdctl(args: &[String]) -> std::process::Output {
    Command::new("etcdctl").env("ETCDCTL_API", "3").args(args).output().expect("etcdctl runs")
}

#[test]
fn save_then_status_prints_what_etcdctl_prints_for_the_same_file() {
    let Some(etcd) = real_etcd() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.db");
    let file_s = file.to_str().unwrap();
    let r = run(&[
        "save",
        file_s,
        "--endpoints",
        &etcd.endpoint,
        "--cacert",
        etcd.cacert.to_str().unwrap(),
        "--cert",
        etcd.cert.to_str().unwrap(),
        "--key",
        etcd.key.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with(&format!("Snapshot saved at {file_s}\n")), "{}", r.stdout);
    assert!(dir.path().join("backup.db.sha256").exists());

    for format in ["simple", "table", "json", "fields"] {
        let ours = run(&["status", file_s, "-w", format]);
        assert_eq!(ours.code, Some(0), "{}", ours.stderr);
        let theirs = etcdctl(&["snapshot".into(), "status".into(), file_s.into(), "-w".into(), format.into()]);
        assert!(theirs.status.success(), "{}", String::from_utf8_lossy(&theirs.stderr));
        assert_eq!(ours.stdout, String::from_utf8_lossy(&theirs.stdout), "-w {format}");
    }
    // etcdctl's default output is `simple`.
    let ours = run(&["status", file_s]);
    let theirs = etcdctl(&["snapshot".into(), "status".into(), file_s.into()]);
    assert_eq!(ours.stdout, String::from_utf8_lossy(&theirs.stdout));

    let with_prefixes = run(&["status", file_s, "--prefixes", "--verify"]);
    assert_eq!(with_prefixes.code, Some(0), "{}", with_prefixes.stderr);
    assert!(with_prefixes.stdout.contains("PREFIX"), "{}", with_prefixes.stdout);
    assert!(with_prefixes.stdout.contains(": OK"), "{}", with_prefixes.stdout);
}

#[test]
fn bad_flags_are_usage_errors_and_failures_leave_no_file() {
    let Some(etcd) = real_etcd() else { return };
    let r = run(&["status", "x.db", "-w", "yaml"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("--write-out"), "{}", r.stderr);
    let r = run(&["save", "x.db", "--endpoints", &etcd.endpoint, "--dial-timeout", "soon"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("--dial-timeout"), "{}", r.stderr);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("refused.db");
    let r = run(&[
        "save",
        file.to_str().unwrap(),
        "--endpoints",
        &etcd.endpoint,
        "--cacert",
        etcd.cacert.to_str().unwrap(),
        "--cert",
        etcd.other_cert.to_str().unwrap(),
        "--key",
        etcd.other_key.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.starts_with("Error: etcd at "), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written");

    let r = run(&["status", dir.path().join("missing.db").to_str().unwrap()]);
    assert_eq!(r.code, Some(1));
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![7u8; 10_000]).unwrap();
    let r = run(&["status", junk.to_str().unwrap()]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("not a usable etcd snapshot"), "{}", r.stderr);
}
