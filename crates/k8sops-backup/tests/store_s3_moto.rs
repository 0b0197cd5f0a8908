//! The S3 backup store against moto's S3 server (`K8SOPS_MOTO_ENDPOINT`,
//! started by scripts/test.sh), each test in a bucket of its own. What is
//! in the bucket is checked with boto3, the AWS SDK for Python that moto
//! ships with, not through the code under test: objects and their sizes,
//! multipart ETags (`"<md5>-<parts>"`), byte ranges, and the multipart
//! uploads still open.
//!
//! The memory test runs the upload in a child process (this test binary,
//! filtered to the one test) and reads its peak resident size (`VmHWM`)
//! from the kernel.
#![cfg(feature = "s3")]

use std::{
    path::Path as FsPath,
    process::Command,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use k8sops_backup::{
    object_store::{path::Path, ObjectStoreExt},
    store::{
        download_file, list_backups, prune, s3, upload_file, BackupStore, KeepReason, PruneOutcome, RetentionPolicy,
        S3Params, TransferEvent, TransferParams,
    },
    Error,
};
use k8sops_core::{CancellationToken, NoProgress};
use serde_json::Value;

const MIB: u64 = 1024 * 1024;

/// boto3 against moto: `op bucket [args]`, answering JSON.
const ORACLE: &str = r#"
import json, sys, boto3
endpoint, op, bucket, *args = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
if op == "create":
    s3.create_bucket(Bucket=bucket)
    out = {}
elif op == "keys":
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=args[0] if args else ""):
        for o in page.get("Contents", []):
            out[o["Key"]] = o["Size"]
elif op == "uploads":
    out = [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
elif op == "head":
    h = s3.head_object(Bucket=bucket, Key=args[0])
    out = {"size": h["ContentLength"], "etag": h["ETag"]}
elif op == "ranges":
    out = []
    for spec in args[1:]:
        start, length = map(int, spec.split("+"))
        r = s3.get_object(Bucket=bucket, Key=args[0], Range=f"bytes={start}-{start + length - 1}")
        out.append(r["Body"].read().hex())
elif op == "put":
    s3.put_object(Bucket=bucket, Key=args[0], Body=args[1].encode())
    out = {}
print(json.dumps(out))
"#;

fn oracle(endpoint: &str, op: &str, bucket: &str, args: &[&str]) -> Value {
    let out =
        Command::new("python3").args(["-c", ORACLE, endpoint, op, bucket]).args(args).output().expect("python3 runs");
    assert!(out.status.success(), "boto3 {op} {bucket} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("boto3 answers JSON")
}

/// A fresh bucket on moto and a store for it, or `None` (skip) when moto is
/// not configured.
struct Bucket {
    endpoint: String,
    name: String,
    store: BackupStore,
}

impl Bucket {
    fn new(test: &str) -> Option<Bucket> {
        let endpoint = k8sops_testkit::e2e::moto_endpoint()?;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let name = format!("k8sops-{test}-{}-{}", std::process::id(), nanos % 1_000_000_000).replace('_', "-");
        oracle(&endpoint, "create", &name, &[]);
        let store = s3(&params(&endpoint, &name)).unwrap();
        Some(Bucket { endpoint, name, store })
    }

    fn keys(&self, prefix: &str) -> Vec<(String, u64)> {
        let v = oracle(&self.endpoint, "keys", &self.name, &[prefix]);
        let mut out: Vec<(String, u64)> =
            v.as_object().unwrap().iter().map(|(k, s)| (k.clone(), s.as_u64().unwrap())).collect();
        out.sort();
        out
    }

    fn open_uploads(&self) -> Vec<String> {
        serde_json::from_value(oracle(&self.endpoint, "uploads", &self.name, &[])).unwrap()
    }
}

fn params(endpoint: &str, bucket: &str) -> S3Params {
    S3Params::new(bucket).region("us-east-1").endpoint(endpoint).allow_http(true).credentials("testing", "testing")
}

#[tokio::test]
async fn s3_store_conforms() {
    let Some(b) = Bucket::new("conform") else { return };
    k8sops_core::conformance::backup_store(&b.store).await;
    assert!(b.keys("").is_empty(), "the suite cleans up");
    assert!(b.open_uploads().is_empty(), "the aborted upload is gone from S3, not only hidden");
}

#[tokio::test]
async fn put_get_list_delete_seen_by_boto3() {
    let Some(b) = Bucket::new("basics") else { return };
    b.store.put(&Path::from("prod/a.yaml"), "kind: A".into()).await.unwrap();
    b.store.put(&Path::from("prod/deep/b.yaml"), "kind: BB".into()).await.unwrap();
    assert_eq!(b.keys("prod/"), [("prod/a.yaml".to_string(), 7), ("prod/deep/b.yaml".to_string(), 8)]);
    // Written by boto3, read by us.
    oracle(&b.endpoint, "put", &b.name, &["prod/from-boto3", "hello"]);
    assert_eq!(b.store.get(&Path::from("prod/from-boto3")).await.unwrap().bytes().await.unwrap(), "hello");
    b.store.delete(&Path::from("prod/a.yaml")).await.unwrap();
    b.store.delete(&Path::from("prod/a.yaml")).await.unwrap();
    assert_eq!(b.keys("prod/").len(), 2);
    let err = b.store.get(&Path::from("prod/a.yaml")).await.unwrap_err();
    assert!(matches!(err, k8sops_backup::object_store::Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn multipart_upload_and_download_round_trip() {
    let Some(b) = Bucket::new("multipart") else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("snapshot.db");
    let data: Vec<u8> = (0..(17 * MIB + 3) as usize).map(|i| (i % 253) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    let params = TransferParams::default().part_size(5 * MIB as usize).max_in_flight(2);
    let up = upload_file(&b.store, &Path::from("prod/etcd.db"), &src, &params, &NoProgress).await.unwrap();
    assert_eq!((up.size, up.parts), (data.len() as u64, 4));
    let head = oracle(&b.endpoint, "head", &b.name, &["prod/etcd.db"]);
    assert_eq!(head["size"], data.len() as u64);
    assert!(head["etag"].as_str().unwrap().ends_with("-4\""), "S3 assembled 4 parts: {head}");
    let at = 12 * MIB as usize - 2;
    let range = oracle(&b.endpoint, "ranges", &b.name, &["prod/etcd.db", &format!("{at}+4")]);
    let want: String = data[at..at + 4].iter().map(|x| format!("{x:02x}")).collect();
    assert_eq!(range, serde_json::json!([want]), "bytes across a part boundary are in order");

    let dest = dir.path().join("restored.db");
    download_file(&b.store, &Path::from("prod/etcd.db"), &dest, &params, &NoProgress).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(b.open_uploads().is_empty());
}

#[tokio::test]
async fn cancelled_and_failed_uploads_leave_no_object_and_no_open_upload() {
    let Some(b) = Bucket::new("abort") else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    std::fs::write(&src, vec![9u8; 30 * MIB as usize]).unwrap();

    // Cancelled once three parts were handed over.
    let token = CancellationToken::new();
    let seen = Arc::new(AtomicUsize::new(0));
    let (t, n) = (token.clone(), seen.clone());
    let sink = move |e: TransferEvent| {
        if matches!(e, TransferEvent::Progress { .. }) && n.fetch_add(1, Ordering::SeqCst) == 3 {
            t.cancel();
        }
    };
    let params = TransferParams::default().part_size(5 * MIB as usize).max_in_flight(2).cancel(token);
    let err = upload_file(&b.store, &Path::from("x/cancelled.db"), &src, &params, &sink).await.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::Cancelled { .. })), "{err:?}");

    // Failed: the file shrinks under the upload.
    let shrinking = dir.path().join("shrinking.db");
    std::fs::write(&shrinking, vec![1u8; 20 * MIB as usize]).unwrap();
    let path = shrinking.clone();
    let sink = move |e: TransferEvent| {
        if let TransferEvent::Progress { done: 0, .. } = e {
            std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(12 * MIB).unwrap();
        }
    };
    let params = TransferParams::default().part_size(5 * MIB as usize).max_in_flight(1);
    let err = upload_file(&b.store, &Path::from("x/failed.db"), &shrinking, &params, &sink).await.unwrap_err();
    assert!(matches!(err, Error::Core(k8sops_core::Error::Io { .. })), "{err:?}");

    assert!(b.keys("").is_empty(), "no object: {:?}", b.keys(""));
    assert!(b.open_uploads().is_empty(), "both multipart uploads were aborted: {:?}", b.open_uploads());
}

#[tokio::test]
async fn retention_on_s3() {
    let Some(b) = Bucket::new("retention") else { return };
    let root = Path::from("prod");
    // (Incomplete backups are left to the memory and local tests: S3 times
    // have a one-second resolution, and an incomplete backup from the same
    // second as the newest complete one is rightly kept as in progress.)
    for name in ["b1", "b2", "b3", "b4"] {
        b.store.put(&Path::from(format!("prod/{name}/resources.tar.gz")), "data".into()).await.unwrap();
        b.store.put(&Path::from(format!("prod/{name}/manifest.json")), "{}".into()).await.unwrap();
    }
    let before = b.keys("");

    let policy = RetentionPolicy::default().keep_last(2);
    let dry = prune(&b.store, &root, &policy, true).await.unwrap();
    assert_eq!(dry.deleted(), ["b2", "b1"], "{dry}");
    assert_eq!(b.keys(""), before, "a dry run deletes nothing");

    let report = prune(&b.store, &root, &policy, false).await.unwrap();
    assert_eq!(report.deleted(), ["b2", "b1"], "{report}");
    let left: Vec<String> = b.keys("").into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        left,
        ["prod/b3/manifest.json", "prod/b3/resources.tar.gz", "prod/b4/manifest.json", "prod/b4/resources.tar.gz"]
    );

    // Every backup too old: the newest complete one stays.
    let report =
        prune(&b.store, &root, &RetentionPolicy::default().max_age(std::time::Duration::ZERO), false).await.unwrap();
    assert_eq!(report.kept().len(), 1, "{report}");
    let newest = report.kept()[0].to_string();
    assert!(
        report
            .backups
            .iter()
            .any(|p| p.backup.name == newest && p.outcome == PruneOutcome::Kept { reason: KeepReason::NewestComplete }),
        "{report}"
    );
    let left = list_backups(&b.store, &root).await.unwrap();
    assert_eq!(left.len(), 1);
    assert!(left[0].complete);
    assert_eq!(b.keys("").len(), 2, "the kept backup is whole");
}

/// The child side of the memory test: uploads the file named by the
/// environment and prints `VmHWM` and the upload's result.
const CHILD_VAR: &str = "K8SOPS_STORE_MEMORY_CHILD";

const SPARSE_SIZE: u64 = 1024 * MIB;
const PART: u64 = 8 * MIB;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_sparse_file_uploads_with_bounded_memory() {
    if let Ok(spec) = std::env::var(CHILD_VAR) {
        let v: Value = serde_json::from_str(&spec).unwrap();
        let store = s3(&params(v["endpoint"].as_str().unwrap(), v["bucket"].as_str().unwrap())).unwrap();
        let params = TransferParams::default().part_size(PART as usize).max_in_flight(4);
        let up = upload_file(
            &store,
            &Path::from("big/etcd.db"),
            FsPath::new(v["file"].as_str().unwrap()),
            &params,
            &NoProgress,
        )
        .await
        .unwrap();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let hwm_kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        println!("CHILD-RESULT {}", serde_json::json!({ "hwm_kb": hwm_kb, "parts": up.parts, "size": up.size }));
        return;
    }
    let Some(b) = Bucket::new("memory") else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sparse.db");
    // A sparse file costs no disk; markers make the order of parts visible.
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(&file).unwrap();
        f.set_len(SPARSE_SIZE).unwrap();
        for i in 0..8u64 {
            f.write_all_at(format!("part{i:04}").as_bytes(), i * 128 * MIB + 3 * MIB).unwrap();
        }
    }
    let spec = serde_json::json!({ "endpoint": b.endpoint, "bucket": b.name, "file": file });
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "large_sparse_file_uploads_with_bounded_memory", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, spec.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // libtest may print "test NAME ... " on the same line first.
    let line = stdout.lines().find_map(|l| l.split_once("CHILD-RESULT ")).map(|(_, r)| r).expect("the child reports");
    let result: Value = serde_json::from_str(line).unwrap();
    let hwm_mib = result["hwm_kb"].as_u64().unwrap() / 1024;
    eprintln!("peak resident size of a {} MiB upload: {hwm_mib} MiB", SPARSE_SIZE / MIB);
    // Four 8 MiB parts in flight plus the runtime and the HTTP client: far
    // below the file's size, which buffering it whole would exceed.
    assert!(hwm_mib < 200, "peak resident size {hwm_mib} MiB for a {} MiB file", SPARSE_SIZE / MIB);
    assert_eq!(result["parts"], SPARSE_SIZE / PART);

    let head = oracle(&b.endpoint, "head", &b.name, &["big/etcd.db"]);
    assert_eq!(head["size"], SPARSE_SIZE);
    assert!(head["etag"].as_str().unwrap().ends_with(&format!("-{}\"", SPARSE_SIZE / PART)), "{head}");
    let specs: Vec<String> = (0..8u64).map(|i| format!("{}+8", i * 128 * MIB + 3 * MIB)).collect();
    let mut args = vec!["big/etcd.db"];
    args.extend(specs.iter().map(String::as_str));
    let got = oracle(&b.endpoint, "ranges", &b.name, &args);
    let want: Vec<String> =
        (0..8).map(|i| format!("part{i:04}").bytes().map(|x| format!("{x:02x}")).collect()).collect();
    assert_eq!(got, serde_json::json!(want), "each marker is where it was in the file");
    assert!(b.open_uploads().is_empty());
}

/// A proxy in front of moto that answers the first `failures` connections
/// with `503 Slow Down` (S3's own throttling answer) and forwards the rest.
/// Returns its endpoint and the number of connections it refused.
async fn flaky_proxy(moto: &str, failures: usize) -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = moto.trim_start_matches("http://").to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let refused = Arc::new(AtomicUsize::new(0));
    let count = refused.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let count = count.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if count.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < failures).then_some(n + 1)).is_ok() {
                    // Read the whole request, then refuse it and close.
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    let head_end = loop {
                        let Ok(n) = client.read(&mut chunk).await else { return };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        match client.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
                    let answer = format!(
                        "HTTP/1.1 503 Slow Down\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = client.write_all(answer.as_bytes()).await;
                    let _ = client.shutdown().await;
                } else if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (format!("http://{addr}"), refused)
}

#[tokio::test]
async fn throttled_requests_are_retried_and_a_store_that_stays_throttled_is_a_typed_error() {
    let Some(b) = Bucket::new("retries") else { return };
    let retry = |attempts: u32| k8sops_core::RetryPolicy {
        max_attempts: attempts,
        initial_backoff: std::time::Duration::from_millis(10),
        max_backoff: std::time::Duration::from_millis(50),
        ..Default::default()
    };

    // Three refusals, five attempts: the write lands, boto3 sees it.
    let (endpoint, refused) = flaky_proxy(&b.endpoint, 3).await;
    let store = s3(&S3Params { retry: retry(5), ..params(&endpoint, &b.name) }).unwrap();
    store.put(&Path::from("prod/retried.yaml"), "kind: R".into()).await.unwrap();
    assert_eq!(refused.load(Ordering::SeqCst), 3);
    assert_eq!(b.keys("prod/"), [("prod/retried.yaml".to_string(), 7)]);

    // Refused more often than the store may try: the error says so and
    // keeps the store's error as its source; nothing was written.
    let (endpoint, refused) = flaky_proxy(&b.endpoint, 100).await;
    let store = s3(&S3Params { retry: retry(2), ..params(&endpoint, &b.name) }).unwrap();
    let err: Error = store.put(&Path::from("prod/refused.yaml"), "kind: X".into()).await.unwrap_err().into();
    assert!(matches!(err, Error::Store { .. }), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(refused.load(Ordering::SeqCst), 2, "one try and one retry");
    assert_eq!(b.keys("prod/"), [("prod/retried.yaml".to_string(), 7)]);
}
