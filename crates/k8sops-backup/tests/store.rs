//! Backup stores without a server: the owner-only local directory (modes
//! checked with `stat`, and reads tried as another user through `setpriv`
//! when the tests run as root), streaming uploads and downloads with
//! cancellation, and retention over memory and local directories (ages
//! from real file modification times).

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path as FsPath, PathBuf},
    process::Command,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, SystemTime},
};

use futures::{stream::BoxStream, FutureExt, StreamExt, TryStreamExt};
use k8sops_backup::{
    object_store::{
        self, local::LocalFileSystem, path::Path, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload,
        ObjectMeta, ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
    },
    store::{
        download_file, list_backups, local_dir, memory, prune, upload_file, Backup, BackupStore, Decision, DeferSync,
        DeleteReason, KeepReason, LocalDir, PruneOutcome, RetentionPolicy, TransferEvent, TransferParams,
    },
    Error,
};
use k8sops_core::{CancellationToken, NoProgress, ProgressSink, Recorder};

const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------- helpers

/// Every directory and file under `root` (the root included), with its
/// permission bits.
fn modes(root: &FsPath) -> Vec<(PathBuf, bool, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        out.push((p.clone(), meta.is_dir(), meta.permissions().mode() & 0o7777));
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    out
}

fn assert_owner_only(root: &FsPath) -> usize {
    let all = modes(root);
    for (path, is_dir, mode) in &all {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} has mode {mode:o}, want {want:o}", path.display());
        assert!(!path.to_string_lossy().contains('#'), "staging file left behind: {}", path.display());
    }
    all.iter().filter(|(_, d, _)| !d).count()
}

/// Whether the unprivileged user `nobody` can read `file`: the kernel is the
/// oracle. `None` when the tests do not run as root or setpriv is missing.
fn nobody_can_read(file: &FsPath) -> Option<bool> {
    let uid = std::fs::metadata("/proc/self").ok().map(|m| std::os::unix::fs::MetadataExt::uid(&m))?;
    if uid != 0 {
        return None;
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
        .arg(file)
        .output()
        .ok()?;
    Some(out.status.success())
}

/// A temporary directory others may traverse (tempfile makes it 0700), so
/// that only the store's own modes keep them out.
fn open_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn sparse_file(path: &FsPath, size: u64) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(size).unwrap();
}

fn patterned_file(path: &FsPath, size: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    std::fs::write(path, &data).unwrap();
    data
}

async fn bytes(store: &dyn ObjectStore, key: &str) -> Vec<u8> {
    store.get(&Path::from(key)).await.unwrap().bytes().await.unwrap().to_vec()
}

async fn keys(store: &dyn ObjectStore, prefix: &str) -> Vec<String> {
    let mut k: Vec<String> =
        store.list(Some(&Path::from(prefix))).map_ok(|m| m.location.to_string()).try_collect().await.unwrap();
    k.sort();
    k
}

// ------------------------------------------------------- local directory

#[tokio::test]
async fn local_dir_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = local_dir(dir.path().join("backups")).unwrap();
    k8sops_core::conformance::backup_store(&store).await;
    assert_eq!(assert_owner_only(&dir.path().join("backups")), 0, "the suite cleans up after itself");
}

#[tokio::test]
async fn local_dir_writes_owner_only_directories_and_files_whatever_the_umask() {
    let umask = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Umask:").map(|v| u32::from_str_radix(v.trim(), 8).unwrap()))
        .unwrap();
    let dir = open_tempdir();

    // Control: object_store's plain LocalFileSystem follows the umask.
    std::fs::create_dir(dir.path().join("plain")).unwrap();
    let plain = LocalFileSystem::new_with_prefix(dir.path().join("plain")).unwrap();
    plain.put(&Path::from("d/f"), "x".into()).await.unwrap();
    let plain_mode = std::fs::metadata(dir.path().join("plain/d/f")).unwrap().permissions().mode() & 0o777;
    assert_eq!(plain_mode, 0o666 & !umask, "the plain store writes with the umask");

    let root = dir.path().join("backups");
    let store = local_dir(&root).unwrap();
    // Single puts, nested.
    store.put(&Path::from("prod/2026-11-26/resources/ns/a.yaml"), "a".into()).await.unwrap();
    store.put(&Path::from("prod/2026-11-26/manifest.json"), "{}".into()).await.unwrap();
    // A multipart upload from a file (3 parts).
    let src = dir.path().join("snapshot.db");
    let data = patterned_file(&src, 11 * MIB);
    let params = TransferParams::default().part_size(5 * MIB);
    let up =
        upload_file(&store, &Path::from("prod/2026-11-26/etcd/snapshot.db"), &src, &params, &NoProgress).await.unwrap();
    assert_eq!((up.size, up.parts), (data.len() as u64, 3));
    assert_eq!(bytes(&store, "prod/2026-11-26/etcd/snapshot.db").await, data);
    // A raw multipart upload, a copy and a rename.
    let mut raw = store.put_multipart(&Path::from("other/raw.bin")).await.unwrap();
    raw.put_part(vec![1u8; 5 * MIB].into()).await.unwrap();
    raw.put_part(vec![2u8; 10].into()).await.unwrap();
    raw.complete().await.unwrap();
    store.copy(&Path::from("other/raw.bin"), &Path::from("copies/deep/raw.bin")).await.unwrap();
    store.rename(&Path::from("copies/deep/raw.bin"), &Path::from("moved/here/raw.bin")).await.unwrap();
    // A conditional create.
    store
        .put_opts(&Path::from("create/once"), "1".into(), PutOptions::from(object_store::PutMode::Create))
        .await
        .unwrap();
    let err = store
        .put_opts(&Path::from("create/once"), "2".into(), PutOptions::from(object_store::PutMode::Create))
        .await
        .unwrap_err();
    assert!(matches!(err, object_store::Error::AlreadyExists { .. }), "{err:?}");

    let files = assert_owner_only(&root);
    assert_eq!(files, 6, "{:?}", modes(&root));
    if let Some(readable) = nobody_can_read(&dir.path().join("plain/d/f")) {
        assert!(readable, "control: another user reads the plain store's file");
        let ours = root.join("prod/2026-11-26/etcd/snapshot.db");
        assert_eq!(nobody_can_read(&ours), Some(false), "another user cannot read a backup");
    }
}

#[tokio::test]
async fn deferred_puts_are_readable_owner_only_and_synced_by_the_next_plain_put() {
    let dir = open_tempdir();
    let root = dir.path().join("backups");
    let store = Arc::new(LocalDir::new(&root).unwrap());
    let deferred = || {
        let mut opts = PutOptions::default();
        opts.extensions.insert(DeferSync);
        opts
    };
    store.put_opts(&Path::from("b/shop/core/ConfigMap/a.yaml"), "a: 1\n".into(), deferred()).await.unwrap();
    store.put_opts(&Path::from("b/shop/core/ConfigMap/b.yaml"), "b: 2\n".into(), deferred()).await.unwrap();
    store.put_opts(&Path::from("b/_cluster/core/Namespace/shop.yaml"), "n\n".into(), deferred()).await.unwrap();
    // Overwriting a deferred object keeps one file; deleting one leaves nothing to sync.
    store.put_opts(&Path::from("b/shop/core/ConfigMap/b.yaml"), "b: 3\n".into(), deferred()).await.unwrap();
    store.put_opts(&Path::from("b/gone.yaml"), "x".into(), deferred()).await.unwrap();
    store.delete(&Path::from("b/gone.yaml")).await.unwrap();
    assert_eq!(store.deferred_count(), 5);
    // A directory a deferred put made ready, emptied and removed by a delete,
    // is made again for the next deferred put into it.
    store.put_opts(&Path::from("b/tmp/x.yaml"), "x".into(), deferred()).await.unwrap();
    store.delete(&Path::from("b/tmp/x.yaml")).await.unwrap();
    assert!(!root.join("b/tmp").exists());
    store.put_opts(&Path::from("b/tmp/y.yaml"), "y".into(), deferred()).await.unwrap();
    assert_eq!(bytes(store.as_ref(), "b/tmp/y.yaml").await, b"y");
    store.delete(&Path::from("b/tmp/y.yaml")).await.unwrap();
    assert_eq!(store.deferred_count(), 7);
    // Readable at once, under their names, 0600 in 0700 directories, no staging file left.
    assert_eq!(bytes(store.as_ref(), "b/shop/core/ConfigMap/b.yaml").await, b"b: 3\n");
    assert_eq!(assert_owner_only(&root), 3, "{:?}", modes(&root));
    // The commit point: a put without the option syncs what was deferred first.
    store.put(&Path::from("b/manifest.json"), "{}".into()).await.unwrap();
    assert_eq!(store.deferred_count(), 0);
    assert_eq!(keys(store.as_ref(), "b").await.len(), 4);
    // Other stores ignore the option.
    let mem = memory();
    mem.put_opts(&Path::from("a"), "1".into(), deferred()).await.unwrap();
    assert_eq!(bytes(mem.as_ref(), "a").await, b"1");
}

#[tokio::test]
async fn local_dir_narrows_an_existing_root_and_directories_written_into() {
    let dir = open_tempdir();
    let root = dir.path().join("backups");
    std::fs::create_dir_all(root.join("made-by-hand")).unwrap();
    for p in [&root, &root.join("made-by-hand")] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let store = local_dir(&root).unwrap();
    assert_eq!(std::fs::metadata(&root).unwrap().permissions().mode() & 0o777, 0o700);
    store.put(&Path::from("made-by-hand/x"), "x".into()).await.unwrap();
    assert_owner_only(&root);
}

#[tokio::test]
async fn local_dir_refuses_a_file_as_root() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "x").unwrap();
    let err = local_dir(dir.path().join("file")).unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::InvalidInput { .. })), "{err:?}");
}

#[tokio::test]
async fn local_dir_aborted_and_dropped_uploads_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = local_dir(dir.path()).unwrap();
    let mut aborted = store.put_multipart(&Path::from("a/aborted")).await.unwrap();
    aborted.put_part(vec![0u8; 5 * MIB].into()).await.unwrap();
    aborted.abort().await.unwrap();
    let mut dropped = store.put_multipart(&Path::from("a/dropped")).await.unwrap();
    dropped.put_part(vec![0u8; 100].into()).await.unwrap();
    drop(dropped);
    assert!(keys(&store, "").await.is_empty());
    assert_eq!(assert_owner_only(dir.path()), 0, "{:?}", modes(dir.path()));
}

// ------------------------------------------------------------- transfers

#[tokio::test]
async fn upload_and_download_round_trip_with_progress() {
    let dir = open_tempdir();
    for store in [memory(), local_dir(dir.path().join("store")).unwrap()] {
        let src = dir.path().join("src.db");
        let data = patterned_file(&src, 13 * MIB + 7);
        let events = Arc::new(Recorder::default());
        let params = TransferParams::default().part_size(5 * MIB).max_in_flight(2);
        let up = upload_file(&store, &Path::from("b/etcd.db"), &src, &params, &*events).await.unwrap();
        assert_eq!((up.size, up.parts, up.part_size), (data.len() as u64, 3, 5 * MIB));
        let ev = events.events();
        let started =
            TransferEvent::Started { location: "b/etcd.db".into(), size: up.size, parts: 3, part_size: 5 * MIB };
        assert_eq!(ev.first(), Some(&started));
        assert_eq!(ev.last(), Some(&TransferEvent::Finished { location: "b/etcd.db".into(), size: up.size }));

        let dest = dir.path().join("restored.db");
        std::fs::write(&dest, "old content").unwrap();
        let down = download_file(&store, &Path::from("b/etcd.db"), &dest, &params, &NoProgress).await.unwrap();
        assert_eq!(down.size, data.len() as u64);
        assert_eq!(std::fs::read(&dest).unwrap(), data, "the download replaced the old file");
        assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o600);
        if let Some(readable) = nobody_can_read(&dest) {
            assert!(!readable, "another user cannot read a downloaded backup");
        }
        std::fs::remove_file(&dest).unwrap();
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn a_file_of_one_part_is_sent_with_one_put() {
    let dir = tempfile::tempdir().unwrap();
    let store = TestStore::counting(memory());
    for (name, size) in [("empty", 0), ("small", 1000), ("exact", 5 * MIB)] {
        let src = dir.path().join(name);
        let data = patterned_file(&src, size);
        let params = TransferParams::default().part_size(5 * MIB);
        let up = upload_file(&store, &Path::from(name), &src, &params, &NoProgress).await.unwrap();
        assert_eq!((up.size, up.parts), (size as u64, 1));
        assert_eq!(bytes(&store, name).await, data);
    }
    assert_eq!(store.stats.parts.load(Ordering::SeqCst), 0, "no multipart upload was started");
}

#[tokio::test]
async fn upload_keeps_at_most_max_in_flight_parts_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("sparse.db");
    let size = 256 * MIB as u64;
    sparse_file(&src, size);
    let store = TestStore::counting(memory());
    let params = TransferParams::default().part_size(5 * MIB).max_in_flight(3);
    let up = upload_file(&store, &Path::from("big"), &src, &params, &NoProgress).await.unwrap();
    let parts = size.div_ceil(5 * MIB as u64) as usize;
    assert_eq!(up.parts, parts);
    assert_eq!(store.stats.parts.load(Ordering::SeqCst), parts, "every part went through put_part");
    let peak = store.stats.peak_in_flight_bytes.load(Ordering::SeqCst);
    assert!(peak <= 3 * 5 * MIB as u64, "at most 3 parts of 5 MiB in flight, saw {peak} bytes");
    assert!(store.stats.largest_part.load(Ordering::SeqCst) <= 5 * MIB as u64);
    assert_eq!(store.head(&Path::from("big")).await.unwrap().size, size);
}

#[tokio::test]
async fn part_size_grows_to_stay_within_ten_thousand_parts() {
    // A 100 GiB sparse file, cancelled before its first part is read.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("huge.db");
    sparse_file(&src, 100 * 1024 * MIB as u64);
    let token = CancellationToken::new();
    let events = Arc::new(Recorder::default());
    let (t, e) = (token.clone(), events.clone());
    let sink = move |ev: TransferEvent| {
        if let TransferEvent::Progress { .. } = ev {
            t.cancel();
        }
        e.emit(ev);
    };
    let store = TestStore::counting(memory());
    let params = TransferParams::default().part_size(5 * MIB).cancel(token);
    let err = upload_file(&store, &Path::from("huge"), &src, &params, &sink).await.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::Cancelled { .. })), "{err:?}");
    // 100 GiB / 10,000 parts is 10.24 MiB, rounded up to 11 MiB per part.
    let TransferEvent::Started { parts, part_size, .. } = events.events()[0].clone() else { panic!() };
    assert_eq!((parts, part_size), (9310, 11 * MIB));
    assert_eq!(store.stats.parts.load(Ordering::SeqCst), 0, "no part is read after the token fires");
    assert!(matches!(events.events().last(), Some(TransferEvent::Aborted { .. })));
    assert!(keys(&store, "").await.is_empty());
}

#[tokio::test]
async fn invalid_transfer_params_are_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("f");
    patterned_file(&src, 10);
    let store = memory();
    for params in [
        TransferParams::default().part_size(MIB),
        TransferParams::default().part_size(6 * 1024 * MIB),
        TransferParams::default().max_in_flight(0),
    ] {
        let err = upload_file(&store, &Path::from("f"), &src, &params, &NoProgress).await.unwrap_err();
        assert!(matches!(err, Error::Core(k8sops_core::Error::InvalidInput { .. })), "{err:?}");
    }
    let err =
        upload_file(&store, &Path::from("f"), dir.path(), &TransferParams::default(), &NoProgress).await.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::InvalidInput { .. })), "a directory: {err:?}");
    assert!(keys(&store, "").await.is_empty());
}

#[tokio::test]
async fn a_cancelled_upload_leaves_no_object_and_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = local_dir(dir.path().join("store")).unwrap();
    store.put(&Path::from("prod/etcd.db"), "previous".into()).await.unwrap();
    let src = dir.path().join("src.db");
    patterned_file(&src, 30 * MIB);
    let token = CancellationToken::new();
    let progress_events = Arc::new(AtomicUsize::new(0));
    let (t, n) = (token.clone(), progress_events.clone());
    let sink = move |e: TransferEvent| {
        // Cancel once two parts have been handed over.
        if matches!(e, TransferEvent::Progress { .. }) && n.fetch_add(1, Ordering::SeqCst) == 2 {
            t.cancel();
        }
    };
    let params = TransferParams::default().part_size(5 * MIB).max_in_flight(1).cancel(token);
    let err = upload_file(&store, &Path::from("prod/etcd.db"), &src, &params, &sink).await.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::Cancelled { .. })), "{err:?}");
    assert_eq!(bytes(&store, "prod/etcd.db").await, b"previous", "the old object is untouched");
    assert_eq!(keys(&store, "").await, ["prod/etcd.db"]);
    assert_eq!(assert_owner_only(&dir.path().join("store")), 1, "no staging file is left");
}

#[tokio::test]
async fn a_file_that_shrinks_during_upload_fails_and_aborts() {
    let dir = tempfile::tempdir().unwrap();
    let store = local_dir(dir.path().join("store")).unwrap();
    let src = dir.path().join("src.db");
    patterned_file(&src, 20 * MIB);
    let path = src.clone();
    let truncated = AtomicBool::new(false);
    let sink = move |e: TransferEvent| {
        if matches!(e, TransferEvent::Progress { .. }) && !truncated.swap(true, Ordering::SeqCst) {
            std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(7 * MIB as u64).unwrap();
        }
    };
    let params = TransferParams::default().part_size(5 * MIB).max_in_flight(1);
    let err = upload_file(&store, &Path::from("x/etcd.db"), &src, &params, &sink).await.unwrap_err();
    assert!(
        matches!(&err, Error::Core(k8sops_core::Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::UnexpectedEof),
        "{err:?}"
    );
    assert!(keys(&store, "").await.is_empty());
    assert_eq!(assert_owner_only(&dir.path().join("store")), 0);
}

#[tokio::test]
async fn a_cancelled_download_leaves_the_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let store = memory();
    store.put(&Path::from("k"), vec![5u8; 3 * MIB].into()).await.unwrap();
    let dest = dir.path().join("out.db");
    std::fs::write(&dest, "mine").unwrap();
    let token = CancellationToken::new();
    token.cancel();
    let params = TransferParams::default().cancel(token);
    let err = download_file(&store, &Path::from("k"), &dest, &params, &NoProgress).await.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::Cancelled { .. })), "{err:?}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"mine");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");

    let err = download_file(&store, &Path::from("missing"), &dest, &TransferParams::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Store { source: object_store::Error::NotFound { .. } }), "{err:?}");
    let err =
        download_file(&store, &Path::from("k"), &dir.path().join("no/such/dir/f"), &Default::default(), &NoProgress)
            .await
            .unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::Io { .. })), "{err:?}");
}

// ------------------------------------------------------------- retention

/// Writes a backup of two objects, complete (with its manifest, written
/// last) or not.
async fn write_backup(store: &dyn ObjectStore, root: &str, name: &str, complete: bool) {
    store.put(&Path::from(format!("{root}/{name}/resources.tar.gz")), "data".into()).await.unwrap();
    store.put(&Path::from(format!("{root}/{name}/etcd/snapshot.db")), "snap".into()).await.unwrap();
    if complete {
        store.put(&Path::from(format!("{root}/{name}/manifest.json")), "{}".into()).await.unwrap();
    }
}

fn names(backups: &[Backup]) -> Vec<&str> {
    backups.iter().map(|b| b.name.as_str()).collect()
}

#[tokio::test]
async fn prune_keeps_the_last_n_complete_backups_and_deletes_whole_older_ones() {
    let store = memory();
    for name in ["b1", "b2", "b3", "b4", "b5"] {
        write_backup(&store, "prod", name, true).await;
    }
    write_backup(&store, "prod2", "other-root", true).await;
    store.put(&Path::from("prod/README"), "not a backup".into()).await.unwrap();

    let report = prune(&store, &Path::from("prod"), &RetentionPolicy::default().keep_last(2), false).await.unwrap();
    assert_eq!(report.kept(), ["b5", "b4"]);
    assert_eq!(report.deleted(), ["b3", "b2", "b1"]);
    assert_eq!(
        report.backups[2].outcome,
        PruneOutcome::Deleted { reason: DeleteReason::BeyondKeepLast { position: 3, keep_last: 2 } }
    );
    assert_eq!(report.backups[0].outcome, PruneOutcome::Kept { reason: KeepReason::NewestComplete });
    let left = keys(&store, "").await;
    assert!(left.iter().all(|k| !["b1", "b2", "b3"].iter().any(|b| k.contains(&format!("/{b}/")))), "{left:?}");
    assert!(left.contains(&"prod2/other-root/manifest.json".to_string()), "another root is untouched");
    assert!(left.contains(&"prod/README".to_string()), "objects directly under the root are not backups");
    assert_eq!(names(&list_backups(&store, &Path::from("prod")).await.unwrap()), ["b5", "b4"]);
    let text = report.to_string();
    assert!(text.starts_with("NAME") && text.contains("3rd newest, keep_last is 2"), "{text}");
    report.ensure_completed().unwrap();
}

#[tokio::test]
async fn prune_never_deletes_the_only_complete_backup() {
    let store = memory();
    write_backup(&store, "r", "abandoned", false).await;
    write_backup(&store, "r", "only", true).await;
    write_backup(&store, "r", "running", false).await;
    // max_age zero: every complete backup is too old.
    let policy = RetentionPolicy::default().max_age(Duration::ZERO);
    let report = prune(&store, &Path::from("r"), &policy, false).await.unwrap();
    let outcome = |name: &str| report.backups.iter().find(|b| b.backup.name == name).unwrap().outcome.clone();
    assert_eq!(outcome("only"), PruneOutcome::Kept { reason: KeepReason::NewestComplete });
    assert_eq!(outcome("running"), PruneOutcome::Kept { reason: KeepReason::InProgress });
    assert_eq!(outcome("abandoned"), PruneOutcome::Deleted { reason: DeleteReason::Superseded { by: "only".into() } });
    assert_eq!(names(&list_backups(&store, &Path::from("r")).await.unwrap()), ["running", "only"]);

    // With several complete backups all too old, the newest one stays.
    write_backup(&store, "r", "newer", true).await;
    // The incomplete "running" is now older than the newest complete backup.
    let report = prune(&store, &Path::from("r"), &policy, false).await.unwrap();
    assert_eq!(report.deleted(), ["running", "only"]);
    let complete: Vec<_> =
        list_backups(&store, &Path::from("r")).await.unwrap().into_iter().filter(|b| b.complete).collect();
    assert_eq!(names(&complete), ["newer"]);
}

#[tokio::test]
async fn prune_dry_run_and_default_policy_delete_nothing() {
    let store = memory();
    write_backup(&store, "x", "0-incomplete", false).await;
    for name in ["a", "b", "c"] {
        write_backup(&store, "x", name, true).await;
    }
    let before = keys(&store, "").await;

    let report = prune(&store, &Path::from("x"), &RetentionPolicy::default(), false).await.unwrap();
    assert!(report.backups.iter().all(|b| b.outcome == PruneOutcome::Kept { reason: KeepReason::NoRule }));
    let report = prune(&store, &Path::from("x"), &RetentionPolicy::default().keep_last(1), true).await.unwrap();
    assert!(report.dry_run);
    assert_eq!(report.kept(), ["c"]);
    assert_eq!(report.deleted().len(), 3, "{report}");
    assert!(report.backups.iter().skip(1).all(|b| matches!(b.outcome, PruneOutcome::WouldDelete { .. })));
    assert_eq!(keys(&store, "").await, before, "a dry run deletes nothing");

    let err = prune(&store, &Path::from("x"), &RetentionPolicy::default().keep_last(0), false).await.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::InvalidInput { .. })), "{err:?}");
    assert_eq!(keys(&store, "").await, before, "an invalid policy deletes nothing");
}

#[tokio::test]
async fn prune_by_age_uses_the_manifest_time_on_a_local_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = local_dir(dir.path()).unwrap();
    for name in ["old", "week", "new"] {
        write_backup(&store, "prod", name, true).await;
    }
    // Age the backups through the filesystem's own modification times.
    let age = |name: &str, days: u64| {
        let t = SystemTime::now() - Duration::from_secs(days * 86400);
        let f =
            std::fs::File::options().write(true).open(dir.path().join(format!("prod/{name}/manifest.json"))).unwrap();
        f.set_modified(t).unwrap();
    };
    age("old", 40);
    age("week", 6);
    let policy = RetentionPolicy::default().max_age(Duration::from_secs(30 * 86400));
    let report = prune(&store, &Path::from("prod"), &policy, false).await.unwrap();
    assert_eq!(report.deleted(), ["old"]);
    assert!(
        matches!(
            &report.backups[2].outcome,
            PruneOutcome::Deleted { reason: DeleteReason::OlderThanMaxAge { age, .. } } if age.as_secs() >= 40 * 86400 - 60
        ),
        "{report}"
    );
    assert!(!dir.path().join("prod/old").exists(), "the emptied directory is removed");
    assert_eq!(names(&list_backups(&store, &Path::from("prod")).await.unwrap()), ["new", "week"]);
}

#[tokio::test]
async fn a_failed_deletion_is_reported_and_leaves_an_incomplete_backup() {
    let store = TestStore::denying_deletes(memory(), "stuck");
    for name in ["a", "b", "c"] {
        write_backup(&store, "p", name, true).await;
    }
    store.put(&Path::from("p/a/stuck.bin"), "x".into()).await.unwrap();
    let report = prune(&store, &Path::from("p"), &RetentionPolicy::default().keep_last(1), false).await.unwrap();
    let a = report.backups.iter().find(|b| b.backup.name == "a").unwrap();
    assert!(matches!(&a.outcome, PruneOutcome::Failed { deleted_objects: 3, .. }), "{:?}", a.outcome);
    assert_eq!(report.backups.iter().find(|b| b.backup.name == "b").unwrap().outcome.word(), "deleted");
    let after = list_backups(&store, &Path::from("p")).await.unwrap();
    let a = after.iter().find(|b| b.name == "a").unwrap();
    assert!(!a.complete, "the manifest went first: what is left is an incomplete backup");
    assert!(matches!(report.ensure_completed(), Err(Error::Core(k8sops_core::Error::Backend { .. }))));
}

#[test]
fn plan_orders_by_time_then_name_and_applies_both_rules() {
    let now: jiff::Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
    let b = |name: &str, hours: i64, complete: bool| Backup {
        name: name.into(),
        complete,
        time: now - jiff::SignedDuration::from_hours(hours),
        objects: 2,
        bytes: 8,
    };
    let backups = [b("x", 0, true), b("y", 0, true), b("z", 30, true), b("w", 100, true), b("i", 200, false)];
    let policy = RetentionPolicy::default().keep_last(3).max_age(Duration::from_secs(48 * 3600));
    let plan = policy.plan(&backups, now);
    // Same time: the later name ("y") is newer.
    assert_eq!(plan[1], Decision::Keep(KeepReason::NewestComplete));
    assert_eq!(plan[0], Decision::Keep(KeepReason::WithinPolicy));
    assert_eq!(plan[2], Decision::Keep(KeepReason::WithinPolicy));
    assert_eq!(plan[3], Decision::Delete(DeleteReason::BeyondKeepLast { position: 4, keep_last: 3 }));
    assert_eq!(plan[4], Decision::Delete(DeleteReason::Superseded { by: "y".into() }));
    // Either rule deletes: z is among the last 5 but older than a day.
    let policy = RetentionPolicy::default().keep_last(5).max_age(Duration::from_secs(24 * 3600));
    let plan = policy.plan(&backups, now);
    assert_eq!(
        plan[2],
        Decision::Delete(DeleteReason::OlderThanMaxAge {
            age: Duration::from_secs(30 * 3600),
            max_age: Duration::from_secs(24 * 3600)
        })
    );
    assert!(plan[3].deletes() && !plan[0].deletes() && !plan[1].deletes());
    let plan = RetentionPolicy::default().keep_last(1).plan(&backups, now);
    assert_eq!(plan.iter().filter(|d| d.deletes()).count(), 4);
    // No complete backup: nothing incomplete is deleted.
    let plan = RetentionPolicy::default().keep_last(1).plan(&[b("i", 200, false)], now);
    assert_eq!(plan, [Decision::Keep(KeepReason::InProgress)]);
}

// ------------------------------------------------------- wrapper store

#[derive(Debug, Default)]
struct Stats {
    parts: AtomicUsize,
    in_flight_bytes: AtomicU64,
    peak_in_flight_bytes: AtomicU64,
    largest_part: AtomicU64,
}

/// Counts multipart parts and the bytes of parts not yet acknowledged, and
/// refuses to delete objects whose key contains `deny_delete` (like a
/// bucket policy denying some deletes).
#[derive(Debug)]
struct TestStore {
    inner: BackupStore,
    stats: Arc<Stats>,
    deny_delete: Option<&'static str>,
}

impl TestStore {
    fn counting(inner: BackupStore) -> Self {
        TestStore { inner, stats: Arc::default(), deny_delete: None }
    }

    fn denying_deletes(inner: BackupStore, marker: &'static str) -> Self {
        TestStore { inner, stats: Arc::default(), deny_delete: Some(marker) }
    }
}

impl std::fmt::Display for TestStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestStore({})", self.inner)
    }
}

#[derive(Debug)]
struct CountingUpload {
    inner: Box<dyn MultipartUpload>,
    stats: Arc<Stats>,
}

#[async_trait::async_trait]
impl MultipartUpload for CountingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let n = data.content_length() as u64;
        let stats = Arc::clone(&self.stats);
        stats.parts.fetch_add(1, Ordering::SeqCst);
        stats.largest_part.fetch_max(n, Ordering::SeqCst);
        let now = stats.in_flight_bytes.fetch_add(n, Ordering::SeqCst) + n;
        stats.peak_in_flight_bytes.fetch_max(now, Ordering::SeqCst);
        let part = self.inner.put_part(data);
        async move {
            // Let other parts start before this one is acknowledged.
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
            let r = part.await;
            stats.in_flight_bytes.fetch_sub(n, Ordering::SeqCst);
            r
        }
        .boxed()
    }
    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.inner.complete().await
    }
    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

#[async_trait::async_trait]
impl ObjectStore for TestStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(CountingUpload { inner, stats: Arc::clone(&self.stats) }))
    }
    async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let inner = Arc::clone(&self.inner);
        let marker = self.deny_delete;
        locations
            .then(move |l| {
                let inner = Arc::clone(&inner);
                async move {
                    let l = l?;
                    if marker.is_some_and(|m| l.as_ref().contains(m)) {
                        return Err(object_store::Error::PermissionDenied {
                            path: l.to_string(),
                            source: "denied by policy".into(),
                        });
                    }
                    inner.delete(&l).await.map(|()| l)
                }
            })
            .boxed()
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
