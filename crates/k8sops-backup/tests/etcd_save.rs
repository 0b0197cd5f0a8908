//! `etcd_save::save` against a real etcd with TLS and client-certificate auth
//! (`scripts/etcd.sh`), with `etcdctl` as the oracle: the file k8sops writes is
//! what `etcdctl snapshot status` reads and `etcdctl snapshot restore` restores.
#![cfg(feature = "etcd")]

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use k8sops_backup::{
    etcd_save::{part_path, save, sidecar_path, EtcdConnection, SaveEvent, SaveParams},
    Error,
};
use k8sops_core::progress::{CancellationToken, ProgressSink};
use k8sops_testkit::e2e::{real_etcd, RealEtcd};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn conn(etcd: &RealEtcd) -> EtcdConnection {
    EtcdConnection {
        endpoints: vec![etcd.endpoint.clone()],
        cacert: Some(etcd.cacert.clone()),
        cert: Some(etcd.cert.clone()),
        key: Some(etcd.key.clone()),
        ..Default::default()
    }
}

fn etcdctl(etcd: &RealEtcd, args: &[&str]) -> String {
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(etcd.etcdctl_args())
        .args(args)
        .output()
        .expect("etcdctl runs");
    assert!(out.status.success(), "etcdctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn etcdutl(args: &[&str]) -> std::process::Output {
    Command::new("etcdctl").env("ETCDCTL_API", "3").args(args).output().expect("etcdctl runs")
}

/// Puts `n` values of `size` bytes under `prefix`, so the snapshot spans many stream chunks.
fn fill(etcd: &RealEtcd, prefix: &str, n: usize, size: usize) {
    let value = "x".repeat(size);
    for i in 0..n {
        etcdctl(etcd, &["put", &format!("{prefix}/{i}"), &value]);
    }
}

fn nothing_left(path: &Path) {
    assert!(!path.exists(), "nothing under the final name {}", path.display());
    assert!(!part_path(path).exists(), "no .part file left for {}", path.display());
    assert!(!sidecar_path(path).exists(), "no sidecar for {}", path.display());
}

fn sha256_file(path: &Path) -> String {
    let data = std::fs::read(path).unwrap();
    Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_saved_snapshot_is_verified_private_and_usable_by_etcdctl() {
    let Some(etcd) = real_etcd() else { return };
    fill(&etcd, "/k8sops-test/save", 3, 64 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.db");
    let received = Arc::new(AtomicU64::new(0));
    struct Count(Arc<AtomicU64>);
    impl ProgressSink<SaveEvent> for Count {
        fn emit(&self, e: SaveEvent) {
            if let SaveEvent::Received { bytes, .. } = e {
                self.0.store(bytes, Ordering::SeqCst);
            }
        }
    }
    let params = SaveParams { progress: Arc::new(Count(received.clone())), ..Default::default() };
    let saved = save(&conn(&etcd), &path, &params).await.unwrap();

    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(saved.size, meta.len());
    assert_eq!(received.load(Ordering::SeqCst), meta.len(), "progress counted every byte");
    assert_eq!(meta.len() % 512, 32, "database pages plus the 32-byte trailer");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(!part_path(&path).exists());

    // The trailer is the SHA-256 of the database bytes, as etcd restore checks it.
    let data = std::fs::read(&path).unwrap();
    let (db, trailer) = data.split_at(data.len() - 32);
    let db_sha: String = Sha256::digest(db).iter().map(|b| format!("{b:02x}")).collect();
    let trailer_hex: String = trailer.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(saved.sha256, db_sha);
    assert_eq!(trailer_hex, db_sha);

    // The sidecar is sha256sum's format over the whole file.
    let sidecar = std::fs::read_to_string(saved.checksum_file.as_ref().unwrap()).unwrap();
    assert_eq!(sidecar, format!("{}  snap.db\n", sha256_file(&path)));
    let check = Command::new("sha256sum").arg("-c").arg(sidecar_path(&path)).current_dir(dir.path()).output();
    if let Ok(out) = check {
        assert!(out.status.success(), "sha256sum -c: {}", String::from_utf8_lossy(&out.stderr));
    }

    // etcdctl reads it and restores it.
    let status = etcdutl(&["snapshot", "status", path.to_str().unwrap(), "-w", "json"]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["totalSize"].as_u64().unwrap(), meta.len() - 32, "{json}");
    let restored = dir.path().join("restored");
    let restore = etcdutl(&["snapshot", "restore", path.to_str().unwrap(), "--data-dir", restored.to_str().unwrap()]);
    assert!(restore.status.success(), "etcdctl snapshot restore: {}", String::from_utf8_lossy(&restore.stderr));
    assert!(restored.join("member/snap/db").exists());

    // Saved again without a sidecar, the old one (which no longer matches) is removed.
    let params = SaveParams { checksum_sidecar: false, ..Default::default() };
    let again = save(&conn(&etcd), &path, &params).await.unwrap();
    assert!(again.checksum_file.is_none());
    assert!(!sidecar_path(&path).exists(), "a stale sidecar is removed");
    assert!(!part_path(&sidecar_path(&path)).exists());
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused_and_leaves_nothing() {
    let Some(etcd) = real_etcd() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.db");
    let c = EtcdConnection { cert: Some(etcd.other_cert.clone()), key: Some(etcd.other_key.clone()), ..conn(&etcd) };
    let err = save(&c, &path, &SaveParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::Etcd { .. }), "{err:?}");
    nothing_left(&path);

    // A CA that did not sign the server's certificate: the client refuses the server.
    let c = EtcdConnection { cacert: Some(etcd.other_cert.clone()), ..conn(&etcd) };
    let err = save(&c, &path, &SaveParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::Etcd { .. }), "{err:?}");
    assert!(err.to_string().contains("cacert"), "names the likely cause: {err}");
    nothing_left(&path);
}

#[tokio::test]
async fn bad_input_is_refused_before_connecting() {
    let Some(etcd) = real_etcd() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.db");
    let two = EtcdConnection { endpoints: vec![etcd.endpoint.clone(), etcd.endpoint.clone()], ..conn(&etcd) };
    let err = save(&two, &path, &SaveParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::InvalidInput { .. })), "{err:?}");
    assert!(err.to_string().contains("exactly one endpoint"), "{err}");

    let missing = EtcdConnection { cacert: Some(PathBuf::from("/nonexistent/ca.pem")), ..conn(&etcd) };
    let err = save(&missing, &path, &SaveParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::Io { .. })), "{err:?}");

    let no_key = EtcdConnection { key: None, ..conn(&etcd) };
    let err = save(&no_key, &path, &SaveParams::default()).await.unwrap_err();
    assert!(err.to_string().contains("--key"), "{err}");

    let plain = EtcdConnection { endpoints: vec![etcd.endpoint.replace("https://", "http://")], ..conn(&etcd) };
    let err = save(&plain, &path, &SaveParams::default()).await.unwrap_err();
    assert!(err.to_string().contains("https://"), "{err}");
    nothing_left(&path);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_typed_error_within_the_dial_timeout() {
    let Some(etcd) = real_etcd() else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.db");
    let c = EtcdConnection {
        endpoints: vec![format!("https://127.0.0.1:{port}")],
        dial_timeout: Duration::from_millis(500),
        ..conn(&etcd)
    };
    let started = std::time::Instant::now();
    let err = save(&c, &path, &SaveParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::Etcd { .. } | Error::Core(k8sops_core::Error::Timeout { .. })), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(20), "bounded by the dial timeout: {:?}", started.elapsed());
    nothing_left(&path);
}

/// A TCP proxy in front of etcd that forwards the first `limit` bytes etcd
/// sends, then either closes both sides (`stall == false`) or stops forwarding
/// while keeping the connections open (`stall == true`).
async fn proxy(target: &str, limit: usize, stall: bool) -> String {
    let target = target.trim_start_matches("https://").to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else { return };
                let (mut cr, mut cw) = client.split();
                let (mut sr, mut sw) = server.split();
                let up = tokio::io::copy(&mut cr, &mut sw);
                let down = async {
                    let mut sent = 0;
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        let n = n.min(limit - sent);
                        if cw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                        sent += n;
                        if sent >= limit {
                            if stall {
                                std::future::pending::<()>().await;
                            }
                            return;
                        }
                    }
                };
                tokio::select! {
                    _ = up => {}
                    () = down => {}
                }
            });
        }
    });
    format!("https://127.0.0.1:{}", addr.port())
}

#[tokio::test]
async fn a_snapshot_cut_short_or_stalled_leaves_nothing_under_the_final_name() {
    let Some(etcd) = real_etcd() else { return };
    fill(&etcd, "/k8sops-test/cut", 6, 100 * 1000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.db");
    std::fs::write(&path, b"the previous snapshot").unwrap();

    // The connection drops after 300 KB of the stream (TLS handshake included).
    let cut = EtcdConnection { endpoints: vec![proxy(&etcd.endpoint, 300 * 1024, false).await], ..conn(&etcd) };
    let err = save(&cut, &path, &SaveParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::Etcd { .. } | Error::CorruptSnapshot { .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), b"the previous snapshot", "an existing file is untouched");
    assert!(!part_path(&path).exists());

    // The stream stalls: the idle timeout ends the save.
    let stalled = EtcdConnection { endpoints: vec![proxy(&etcd.endpoint, 300 * 1024, true).await], ..conn(&etcd) };
    let params = SaveParams { idle_timeout: Duration::from_secs(1), ..Default::default() };
    let err = save(&stalled, &path, &params).await.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::Timeout { .. })), "{err:?}");
    assert!(!part_path(&path).exists());
    assert_eq!(std::fs::read(&path).unwrap(), b"the previous snapshot");
}

#[tokio::test]
async fn the_overall_timeout_ends_a_save_whose_stream_has_not_gone_idle() {
    let Some(etcd) = real_etcd() else { return };
    fill(&etcd, "/k8sops-test/timeout", 6, 100 * 1000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.db");
    std::fs::write(&path, b"the previous snapshot").unwrap();

    // The stream stalls after 300 KB, but the idle timeout (60 s) is far off:
    // only SaveParams::timeout can end the save.
    let stalled = EtcdConnection { endpoints: vec![proxy(&etcd.endpoint, 300 * 1024, true).await], ..conn(&etcd) };
    let limit = Duration::from_millis(1500);
    let params = SaveParams { timeout: Some(limit), idle_timeout: Duration::from_secs(60), ..Default::default() };
    let started = std::time::Instant::now();
    let err = save(&stalled, &path, &params).await.unwrap_err();
    let elapsed = started.elapsed();
    match &err {
        Error::Core(k8sops_core::Error::Timeout { during, after }) => {
            assert_eq!(*after, limit, "{err}");
            assert!(during.starts_with("saving a snapshot"), "the overall limit, not the idle one: {err}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(elapsed >= limit && elapsed < Duration::from_secs(20), "ended by the limit: {elapsed:?}");
    assert!(!part_path(&path).exists(), "the .part file is removed");
    assert!(!sidecar_path(&path).exists() && !part_path(&sidecar_path(&path)).exists());
    assert_eq!(std::fs::read(&path).unwrap(), b"the previous snapshot", "an existing file is untouched");

    // A limit long enough for the whole snapshot does not get in the way.
    let params = SaveParams { timeout: Some(Duration::from_secs(60)), ..Default::default() };
    let saved = save(&conn(&etcd), &path, &params).await.unwrap();
    assert_eq!(saved.size, std::fs::metadata(&path).unwrap().len());
}

#[tokio::test]
async fn endpoint_status_keeps_each_failed_endpoints_error() {
    use k8sops_backup::etcd_save::{AllEndpointsFailed, EtcdClientBackend};
    use k8sops_core::backend::EtcdSnapshots;
    let Some(etcd) = real_etcd() else { return };
    let dead = |_| {
        format!(
            "https://127.0.0.1:{}",
            std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
        )
    };
    let (dead1, dead2) = (dead(1), dead(2));
    let fast =
        |endpoints: Vec<String>| EtcdConnection { endpoints, dial_timeout: Duration::from_millis(500), ..conn(&etcd) };

    // One endpoint answers: the other is reported with its error, as etcdctl does.
    let status = EtcdClientBackend::new(fast(vec![etcd.endpoint.clone(), dead1.clone()])).status().await.unwrap();
    assert_eq!(status.len(), 2);
    assert!(status[0].errors.is_empty() && !status[0].version.is_empty(), "{status:?}");
    assert_eq!(status[1].endpoint, dead1);
    assert_eq!(status[1].errors.len(), 1, "{status:?}");

    // None answers: a backend error whose source holds every endpoint's typed error.
    let err = EtcdClientBackend::new(fast(vec![dead1.clone(), dead2.clone()])).status().await.unwrap_err();
    assert!(matches!(err, k8sops_core::Error::Backend { transient: true, .. }), "{err:?}");
    assert!(err.to_string().contains("no endpoint answered"), "{err}");
    let source = std::error::Error::source(&err).expect("a source");
    let failed = source.downcast_ref::<AllEndpointsFailed>().expect("AllEndpointsFailed");
    let endpoints: Vec<&str> = failed.failures.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(endpoints, [dead1.as_str(), dead2.as_str()]);
    for (_, e) in &failed.failures {
        assert!(matches!(e, k8sops_core::Error::Backend { .. } | k8sops_core::Error::Timeout { .. }), "{e:?}");
    }
    let first = std::error::Error::source(failed).expect("the first endpoint's error");
    assert_eq!(first.to_string(), failed.failures[0].1.to_string());
}

#[tokio::test]
async fn a_cancel_during_the_stream_removes_the_part_file() {
    let Some(etcd) = real_etcd() else { return };
    fill(&etcd, "/k8sops-test/cancel", 6, 100 * 1000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.db");
    let cancel = CancellationToken::new();
    struct CancelOnFirstBytes(CancellationToken);
    impl ProgressSink<SaveEvent> for CancelOnFirstBytes {
        fn emit(&self, e: SaveEvent) {
            if matches!(e, SaveEvent::Received { .. }) {
                self.0.cancel();
            }
        }
    }
    let params = SaveParams {
        progress: Arc::new(CancelOnFirstBytes(cancel.clone())),
        cancel: cancel.clone(),
        ..Default::default()
    };
    let err = save(&conn(&etcd), &path, &params).await.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::Cancelled { .. })), "{err:?}");
    nothing_left(&path);
}

#[tokio::test]
async fn the_etcd_backend_answers_like_etcdctl_member_list_and_endpoint_status() {
    use futures::StreamExt;
    use k8sops_backup::etcd_save::EtcdClientBackend;
    use k8sops_core::backend::EtcdSnapshots;
    let Some(etcd) = real_etcd() else { return };
    let backend = EtcdClientBackend::new(conn(&etcd));

    let members = backend.members().await.unwrap();
    let theirs: serde_json::Value = serde_json::from_str(&etcdctl(&etcd, &["member", "list", "-w", "json"])).unwrap();
    let their_members = theirs["members"].as_array().unwrap();
    assert_eq!(members.len(), their_members.len());
    for (ours, theirs) in members.iter().zip(their_members) {
        assert_eq!(ours.id, theirs["ID"].as_u64().unwrap());
        assert_eq!(ours.name, theirs["name"].as_str().unwrap());
        assert_eq!(serde_json::json!(ours.client_urls), theirs["clientURLs"]);
        assert_eq!(serde_json::json!(ours.peer_urls), theirs["peerURLs"]);
    }

    let status = backend.status().await.unwrap();
    let theirs: serde_json::Value =
        serde_json::from_str(&etcdctl(&etcd, &["endpoint", "status", "-w", "json"])).unwrap();
    let theirs = &theirs[0]["Status"];
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].endpoint, etcd.endpoint);
    assert_eq!(status[0].version, theirs["version"].as_str().unwrap());
    assert_eq!(status[0].member_id, theirs["header"]["member_id"].as_u64().unwrap());
    assert_eq!(status[0].leader, theirs["leader"].as_u64().unwrap());

    // The stream is the snapshot: database pages plus the 32-byte trailer.
    let mut stream = backend.snapshot().await.unwrap();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        total += chunk.unwrap().len();
    }
    assert_eq!(total % 512, 32, "{total} bytes");

    // A refused certificate is a backend error that keeps its source.
    let refused = EtcdClientBackend::new(EtcdConnection {
        cert: Some(etcd.other_cert.clone()),
        key: Some(etcd.other_key.clone()),
        ..conn(&etcd)
    });
    let err = refused.members().await.unwrap_err();
    assert!(matches!(err, k8sops_core::Error::Backend { .. }), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
}
