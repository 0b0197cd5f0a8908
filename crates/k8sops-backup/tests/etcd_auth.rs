//! etcd's own authentication (`etcdctl --user NAME:PASSWORD`) in
//! `etcd_save`, against an etcd of this test's own: plain HTTP on spare
//! ports, its data in a temporary directory, stopped when the test ends
//! (also when it fails). The shared etcd of `scripts/etcd.sh` does not enable
//! authentication, and enabling it there would break the other tests.
//!
//! etcdctl is the oracle: it enables authentication (`user add`, `role add`,
//! `auth enable`), reads the saved file (`snapshot status`) and is refused or
//! admitted with the same credentials as k8sops.
#![cfg(feature = "etcd")]

use std::{
    path::Path,
    process::{Command, Output},
    time::Duration,
};

use k8sops_backup::{
    etcd_save::{auth_failure, part_path, save, sidecar_path, AuthFailure, EtcdConnection, SaveParams},
    snapshot::{self, SnapshotStatus},
    Error,
};
use k8sops_testkit::e2e::OwnEtcd;

const ROOT_PASSWORD: &str = "r00t-pw";
const READER_PASSWORD: &str = "reader-pw";

/// `etcdctl [--user USER] ARGS` against `etcd`.
fn etcdctl(etcd: &OwnEtcd, user: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new("etcdctl");
    cmd.env("ETCDCTL_API", "3").arg(format!("--endpoints={}", etcd.endpoint));
    if let Some(user) = user {
        cmd.arg(format!("--user={user}"));
    }
    cmd.args(args).output().expect("etcdctl runs")
}

/// `etcdctl ARGS`, which must succeed.
fn etcdctl_ok(etcd: &OwnEtcd, user: Option<&str>, args: &[&str]) -> String {
    let out = etcdctl(etcd, user, args);
    assert!(out.status.success(), "etcdctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn conn(etcd: &OwnEtcd, user: Option<&str>, password: Option<&str>) -> EtcdConnection {
    EtcdConnection {
        endpoints: vec![etcd.endpoint.clone()],
        user: user.map(str::to_string),
        password: password.map(str::to_string),
        dial_timeout: Duration::from_secs(2),
        ..Default::default()
    }
}

fn nothing_left(path: &Path) {
    assert!(!path.exists(), "nothing under the final name {}", path.display());
    assert!(!part_path(path).exists(), "no .part file left for {}", path.display());
    assert!(!sidecar_path(path).exists(), "no sidecar for {}", path.display());
}

/// `etcdctl snapshot status -w json` of `path` (no server involved).
fn etcdctl_status(path: &Path) -> SnapshotStatus {
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "status"])
        .arg(path)
        .args(["-w", "json"])
        .output()
        .expect("etcdctl runs");
    assert!(out.status.success(), "etcdctl snapshot status: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The error is an `Error::Etcd` for `expected`, says so in words, and keeps
/// etcd's gRPC status as its source.
fn assert_refused(err: &Error, expected: AuthFailure, words: &str) {
    assert!(matches!(err, Error::Etcd { .. }), "{err:?}");
    assert_eq!(auth_failure(err), Some(expected), "{err:?}");
    assert!(err.to_string().contains(words), "{err}");
    let source = std::error::Error::source(err).expect("the client's error is kept as the source");
    let client = source.downcast_ref::<k8sops_backup::etcd::Error>().expect("an etcd client error");
    assert!(matches!(client, k8sops_backup::etcd::Error::GRpcStatus(_)), "{client:?}");
}

#[tokio::test]
async fn a_snapshot_needs_the_right_user_and_password_once_auth_is_enabled() {
    let Some(etcd) = OwnEtcd::start("auth") else { return };
    etcdctl_ok(&etcd, None, &["put", "/auth/a", "1"]);
    let dir = tempfile::tempdir().unwrap();

    // Before authentication is enabled, a user is ignored, as etcdctl ignores it.
    etcdctl_ok(&etcd, Some("root:anything"), &["get", "/auth/a"]);
    let before = dir.path().join("before.db");
    save(&conn(&etcd, Some("root"), Some("anything")), &before, &SaveParams::default()).await.unwrap();
    assert_eq!(snapshot::status(&before).unwrap(), etcdctl_status(&before));

    // Authentication on: root, and a reader that may only read /auth/.
    etcdctl_ok(&etcd, None, &["user", "add", &format!("root:{ROOT_PASSWORD}")]);
    etcdctl_ok(&etcd, None, &["user", "add", &format!("reader:{READER_PASSWORD}")]);
    etcdctl_ok(&etcd, None, &["role", "add", "auth-reader"]);
    etcdctl_ok(&etcd, None, &["role", "grant-permission", "auth-reader", "read", "/auth/", "--prefix=true"]);
    etcdctl_ok(&etcd, None, &["user", "grant-role", "reader", "auth-reader"]);
    etcdctl_ok(&etcd, None, &["auth", "enable"]);
    let root = format!("root:{ROOT_PASSWORD}");
    etcdctl_ok(&etcd, Some(&root), &["put", "/auth/b", "2"]);

    // The right user and password: saved, and etcdctl reads what was saved.
    let path = dir.path().join("snap.db");
    let saved = save(&conn(&etcd, Some("root"), Some(ROOT_PASSWORD)), &path, &SaveParams::default()).await.unwrap();
    assert_eq!(saved.size, std::fs::metadata(&path).unwrap().len());
    assert!(!part_path(&path).exists());
    let theirs = etcdctl_status(&path);
    assert_eq!(snapshot::status(&path).unwrap(), theirs);
    assert_eq!(theirs.total_size + 32, saved.size, "the database plus the 32-byte trailer");
    assert!(theirs.revision > snapshot::status(&before).unwrap().revision, "the put after auth enable is in it");

    // A wrong password: etcdctl is refused too.
    assert!(!etcdctl(&etcd, Some("root:wrong"), &["get", "/auth/a"]).status.success());
    let wrong = dir.path().join("wrong.db");
    let err = save(&conn(&etcd, Some("root"), Some("wrong")), &wrong, &SaveParams::default()).await.unwrap_err();
    assert_refused(&err, AuthFailure::InvalidCredentials, "authentication failed");
    assert!(err.to_string().contains("--user"), "names the flag to check: {err}");
    nothing_left(&wrong);

    // A user name without a password is a wrong password, not no user.
    let err = save(&conn(&etcd, Some("root"), None), &wrong, &SaveParams::default()).await.unwrap_err();
    assert_refused(&err, AuthFailure::InvalidCredentials, "authentication failed");
    nothing_left(&wrong);

    // No credentials at all: connecting works, the snapshot is refused.
    assert!(!etcdctl(&etcd, None, &["get", "/auth/a"]).status.success());
    let anonymous = dir.path().join("anonymous.db");
    let err = save(&conn(&etcd, None, None), &anonymous, &SaveParams::default()).await.unwrap_err();
    assert_refused(&err, AuthFailure::NoCredentials, "authentication failed");
    nothing_left(&anonymous);

    // A user whose role may read keys but not take a snapshot.
    let reader = format!("reader:{READER_PASSWORD}");
    assert!(etcdctl_ok(&etcd, Some(&reader), &["get", "/auth/a", "--print-value-only"]).contains('1'));
    let reader_path = dir.path().join("reader.db");
    let err = save(&conn(&etcd, Some("reader"), Some(READER_PASSWORD)), &reader_path, &SaveParams::default())
        .await
        .unwrap_err();
    assert_refused(&err, AuthFailure::PermissionDenied, "permission denied");
    assert!(err.to_string().contains("root role"), "{err}");
    nothing_left(&reader_path);

    // Errors that are not about authentication are not classified as such.
    let missing = EtcdConnection { endpoints: vec![], ..conn(&etcd, Some("root"), Some(ROOT_PASSWORD)) };
    let err = save(&missing, &wrong, &SaveParams::default()).await.unwrap_err();
    assert_eq!(auth_failure(&err), None, "{err:?}");

    // The file saved with the right password is still there and unchanged.
    assert_eq!(etcdctl_status(&path), theirs);
}

#[tokio::test]
async fn the_etcd_backend_keeps_the_authentication_error_as_its_source() {
    use k8sops_backup::etcd_save::EtcdClientBackend;
    use k8sops_core::backend::EtcdSnapshots;
    let Some(etcd) = OwnEtcd::start("auth") else { return };
    etcdctl_ok(&etcd, None, &["user", "add", &format!("root:{ROOT_PASSWORD}")]);
    etcdctl_ok(&etcd, None, &["auth", "enable"]);

    let members = EtcdClientBackend::new(conn(&etcd, Some("root"), Some(ROOT_PASSWORD))).members().await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].name, "auth");

    let err = EtcdClientBackend::new(conn(&etcd, Some("root"), Some("wrong"))).members().await.unwrap_err();
    let k8sops_core::Error::Backend { source: Some(source), transient, .. } = &err else { panic!("{err:?}") };
    assert!(!transient, "a wrong password does not get better by retrying");
    let inner = source.downcast_ref::<Error>().expect("the crate's error is the source");
    assert_eq!(auth_failure(inner), Some(AuthFailure::InvalidCredentials), "{inner:?}");
}
