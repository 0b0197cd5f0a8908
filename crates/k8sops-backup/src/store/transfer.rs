//! Streaming a local file into a backup store and back, with bounded memory:
//! a snapshot of several GB goes up as a multipart upload of fixed-size
//! parts, a few at a time, and comes down chunk by chunk into a temporary
//! file that is fsynced and renamed.

use std::{
    fmt,
    path::{Path as FsPath, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use async_trait::async_trait;
use bytes::BytesMut;
use futures::{FutureExt, StreamExt};
use k8sops_core::{CancellationToken, ProgressSink};
use object_store::{
    path::Path, MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload, PutResult, UploadPart, WriteMultipart,
};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Result;

const MIB: usize = 1024 * 1024;
/// S3's smallest part (all but the last).
const MIN_PART: usize = 5 * MIB;
/// S3's largest part.
const MAX_PART: usize = 5 * 1024 * MIB;
/// S3's most parts in one upload.
const MAX_PARTS: u64 = 10_000;

/// Options of [`upload_file`] and [`download_file`].
///
/// ```
/// use k8sops_backup::store::TransferParams;
/// let p = TransferParams::default().part_size(16 * 1024 * 1024).max_in_flight(2);
/// assert_eq!(p.part_size * p.max_in_flight, 32 * 1024 * 1024); // the most an upload buffers
/// ```
#[derive(Debug, Clone)]
pub struct TransferParams {
    /// Bytes per multipart part (default 8 MiB; at least 5 MiB and at most
    /// 5 GiB, S3's limits). A file of at most one part is sent with one
    /// put. For a file that would need more than 10,000 parts (S3's limit)
    /// the part size is raised to fit, rounded up to a MiB.
    pub part_size: usize,
    /// How many parts may be uploading at once (default 4). An upload holds
    /// at most `max_in_flight` parts in memory.
    pub max_in_flight: usize,
    /// Cancels the transfer; see each function's *Cancel safety*.
    pub cancel: Option<CancellationToken>,
}

impl Default for TransferParams {
    fn default() -> Self {
        TransferParams { part_size: 8 * MIB, max_in_flight: 4, cancel: None }
    }
}

impl TransferParams {
    /// Sets [`part_size`](Self::part_size).
    ///
    /// ```
    /// assert_eq!(k8sops_backup::store::TransferParams::default().part_size(6 << 20).part_size, 6 << 20);
    /// ```
    #[must_use]
    pub fn part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes;
        self
    }

    /// Sets [`max_in_flight`](Self::max_in_flight).
    ///
    /// ```
    /// assert_eq!(k8sops_backup::store::TransferParams::default().max_in_flight(1).max_in_flight, 1);
    /// ```
    #[must_use]
    pub fn max_in_flight(mut self, parts: usize) -> Self {
        self.max_in_flight = parts;
        self
    }

    /// Sets [`cancel`](Self::cancel).
    ///
    /// ```
    /// let token = k8sops_core::CancellationToken::new();
    /// assert!(k8sops_backup::store::TransferParams::default().cancel(token).cancel.is_some());
    /// ```
    #[must_use]
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    fn validate(&self) -> Result<()> {
        if !(MIN_PART..=MAX_PART).contains(&self.part_size) {
            return Err(invalid(format!(
                "part size {} bytes is outside S3's limits ({MIN_PART} to {MAX_PART} bytes)",
                self.part_size
            )));
        }
        if self.max_in_flight == 0 {
            return Err(invalid("max_in_flight must be at least 1".into()));
        }
        Ok(())
    }

    /// The part size for a file of `size` bytes: raised, if needed, so the
    /// upload has at most 10,000 parts.
    fn part_size_for(&self, size: u64) -> usize {
        let needed = size.div_ceil(MAX_PARTS).div_ceil(MIB as u64) * MIB as u64;
        (self.part_size as u64).max(needed).min(MAX_PART as u64) as usize
    }
}

fn invalid(message: String) -> crate::Error {
    k8sops_core::Error::InvalidInput { message, source: None }.into()
}

fn io_error(path: &FsPath) -> impl FnOnce(std::io::Error) -> crate::Error + '_ {
    move |source| k8sops_core::Error::Io { path: path.display().to_string(), source }.into()
}

/// What a transfer reports while it runs.
///
/// ```
/// use k8sops_backup::store::TransferEvent;
/// let e = TransferEvent::Progress { location: "prod/etcd.db".into(), done: 8 << 20, size: 32 << 20 };
/// assert_eq!(e.to_string(), "prod/etcd.db: 8388608 of 33554432 bytes");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum TransferEvent {
    /// The transfer started.
    Started {
        /// The object.
        location: String,
        /// Its size in bytes.
        size: u64,
        /// How many parts an upload sends (1 for a single put); 0 for a
        /// download.
        parts: u64,
        /// The part size an upload uses (see [`TransferParams::part_size`]);
        /// 0 for a download.
        part_size: usize,
    },
    /// Bytes the store has acknowledged (upload) or that were written to
    /// the local file (download).
    Progress {
        /// The object.
        location: String,
        /// Bytes done.
        done: u64,
        /// Bytes in all.
        size: u64,
    },
    /// The object is complete in the store (upload) or the local file is in
    /// place (download).
    Finished {
        /// The object.
        location: String,
        /// Its size in bytes.
        size: u64,
    },
    /// The transfer stopped before finishing and was cleaned up: no object
    /// (upload) or no file (download) was created.
    Aborted {
        /// The object.
        location: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for TransferEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferEvent::Started { location, size, .. } => write!(f, "{location}: starting, {size} bytes"),
            TransferEvent::Progress { location, done, size } => write!(f, "{location}: {done} of {size} bytes"),
            TransferEvent::Finished { location, size } => write!(f, "{location}: done, {size} bytes"),
            TransferEvent::Aborted { location, reason } => write!(f, "{location}: aborted: {reason}"),
        }
    }
}

/// The result of [`upload_file`].
///
/// ```
/// let up = k8sops_backup::store::Uploaded {
///     location: "prod/etcd.db".into(), size: 20 << 20, parts: 3, part_size: 8 << 20, e_tag: None, version: None,
/// };
/// assert_eq!(up.to_string(), "uploaded prod/etcd.db: 20971520 bytes in 3 parts");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Uploaded {
    /// The object written.
    pub location: String,
    /// Its size in bytes.
    pub size: u64,
    /// How many parts were sent; 1 for a single put.
    pub parts: usize,
    /// The part size used (see [`TransferParams::part_size`]).
    pub part_size: usize,
    /// The object's ETag, if the store reports one.
    pub e_tag: Option<String>,
    /// The object's version, on a versioned bucket.
    pub version: Option<String>,
}

impl fmt::Display for Uploaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.parts == 1 { "" } else { "s" };
        write!(f, "uploaded {}: {} bytes in {} part{s}", self.location, self.size, self.parts)
    }
}

/// The result of [`download_file`].
///
/// ```
/// let down = k8sops_backup::store::Downloaded { location: "prod/etcd.db".into(), path: "/tmp/etcd.db".into(), size: 42 };
/// assert_eq!(down.to_string(), "downloaded prod/etcd.db to /tmp/etcd.db: 42 bytes");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Downloaded {
    /// The object read.
    pub location: String,
    /// The file written.
    pub path: PathBuf,
    /// Bytes written.
    pub size: u64,
}

impl fmt::Display for Downloaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "downloaded {} to {}: {} bytes", self.location, self.path.display(), self.size)
    }
}

/// Uploads a local file to `location`, streaming it: a file of at most one
/// part is sent with a single put, a larger one as a multipart upload of
/// [`TransferParams::part_size`] parts with at most
/// [`TransferParams::max_in_flight`] in flight, so memory stays near
/// `part_size × max_in_flight` whatever the file's size. The object appears
/// only when the upload completes; on any failure the multipart upload is
/// aborted, so no partial object is left. The size is taken when the file
/// is opened: a file that shrinks meanwhile fails the upload, one that
/// grows is uploaded up to that size.
///
/// # Cancel safety
/// With [`TransferParams::cancel`], no part starts after the token fires;
/// the parts in flight are stopped, the multipart upload is aborted (S3
/// drops its parts; a [`LocalDir`](super::LocalDir) removes its staging
/// file) and the call returns [`k8sops_core::Error::Cancelled`]: no object
/// is created and an existing object at `location` is untouched. Once every
/// part is acknowledged the completion is no longer cancelled. Dropping the
/// future instead aborts the upload from a background task, which does not
/// run if the runtime shuts down first: an S3 bucket then keeps the parts
/// of an incomplete upload (invisible, but stored) until a lifecycle rule
/// with `AbortIncompleteMultipartUpload` removes them.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_backup::Result<()> {
/// use k8sops_backup::{object_store::{path::Path, ObjectStoreExt}, store::{upload_file, TransferParams}};
/// let dir = tempfile::tempdir().unwrap();
/// let file = dir.path().join("etcd.db");
/// std::fs::write(&file, vec![7u8; 12 << 20]).unwrap();
/// let store = k8sops_backup::store::memory();
/// let params = TransferParams::default().part_size(5 << 20);
/// let up = upload_file(&store, &Path::from("prod/etcd.db"), &file, &params, &k8sops_core::NoProgress).await?;
/// assert_eq!((up.size, up.parts), (12 << 20, 3));
/// assert_eq!(store.head(&Path::from("prod/etcd.db")).await?.size, 12 << 20);
/// # Ok(()) }
/// ```
pub async fn upload_file(
    store: &dyn ObjectStore,
    location: &Path,
    file: &FsPath,
    params: &TransferParams,
    progress: &dyn ProgressSink<TransferEvent>,
) -> Result<Uploaded> {
    params.validate()?;
    let mut reader = tokio::fs::File::open(file).await.map_err(io_error(file))?;
    let meta = reader.metadata().await.map_err(io_error(file))?;
    if !meta.is_file() {
        return Err(invalid(format!("{} is not a regular file", file.display())));
    }
    let size = meta.len();
    let part_size = params.part_size_for(size);
    let cancel = params.cancel.clone().unwrap_or_default();
    let name = location.to_string();
    let parts = if size <= part_size as u64 { 1 } else { size.div_ceil(part_size as u64) };
    progress.emit(TransferEvent::Started { location: name.clone(), size, parts, part_size });
    let aborted = |reason: String| TransferEvent::Aborted { location: name.clone(), reason };
    let cancelled = || k8sops_core::Error::Cancelled { during: format!("uploading {} to {name}", file.display()) };

    if size <= part_size as u64 {
        let read = async {
            let mut buf = BytesMut::with_capacity(size as usize);
            read_exactly(&mut reader, &mut buf, size as usize, file).await?;
            Ok::<_, crate::Error>(buf.freeze())
        };
        let put = async { Ok(store.put(location, read.await?.into()).await?) };
        let result: Result<PutResult> = tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(cancelled().into()),
            r = put => r,
        };
        return match result {
            Ok(put) => {
                progress.emit(TransferEvent::Finished { location: name.clone(), size });
                Ok(Uploaded { location: name, size, parts: 1, part_size, e_tag: put.e_tag, version: put.version })
            }
            Err(e) => {
                progress.emit(aborted(e.to_string()));
                Err(e)
            }
        };
    }

    let acked = Arc::new(AtomicU64::new(0));
    let upload = match store.put_multipart(location).await {
        Ok(upload) => upload,
        Err(e) => {
            progress.emit(aborted(e.to_string()));
            return Err(e.into());
        }
    };
    let complete_error = Arc::new(std::sync::Mutex::new(None));
    let upload = Box::new(TrackedUpload {
        inner: Some(upload),
        acked: Arc::clone(&acked),
        complete_error: Arc::clone(&complete_error),
    });
    let mut writer = WriteMultipart::new_with_chunk_size(upload, part_size);
    let mut sent = 0u64;
    let mut parts = 0usize;
    // Read a part only when fewer than `max_in_flight` are uploading, so at
    // most that many parts are in memory.
    let streamed: Result<()> = async {
        while sent < size {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(cancelled().into()),
                r = writer.wait_for_capacity(params.max_in_flight) => r?,
            }
            progress.emit(TransferEvent::Progress {
                location: name.clone(),
                done: acked.load(Ordering::Relaxed),
                size,
            });
            // Checked after the event too, so a sink that cancels on it stops the next part.
            if cancel.is_cancelled() {
                return Err(cancelled().into());
            }
            let n = (size - sent).min(part_size as u64) as usize;
            let mut buf = BytesMut::with_capacity(n);
            read_exactly(&mut reader, &mut buf, n, file).await?;
            writer.put(buf.freeze());
            sent += n as u64;
            parts += 1;
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(cancelled().into()),
            r = writer.wait_for_capacity(0) => Ok(r?),
        }
    }
    .await;
    if let Err(e) = streamed {
        if let Err(abort) = writer.abort().await {
            tracing::warn!(location = %name, error = %abort, "aborting the multipart upload failed");
        }
        progress.emit(aborted(e.to_string()));
        return Err(e);
    }
    // Every part is acknowledged: complete (WriteMultipart aborts the
    // upload itself if completing fails).
    match writer.finish().await {
        Ok(put) => {
            progress.emit(TransferEvent::Finished { location: name.clone(), size });
            Ok(Uploaded { location: name, size, parts, part_size, e_tag: put.e_tag, version: put.version })
        }
        Err(e) => {
            // WriteMultipart reports the abort's error if aborting after a
            // failed completion fails too; the completion's is the cause.
            let e = match complete_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
                Some(cause) => {
                    tracing::debug!(location = %name, finish = %e, "completing the multipart upload failed");
                    cause
                }
                None => e,
            };
            progress.emit(aborted(e.to_string()));
            Err(e.into())
        }
    }
}

/// Reads exactly `n` bytes into `buf`; a file that ends sooner has shrunk
/// since its size was taken.
async fn read_exactly(reader: &mut tokio::fs::File, buf: &mut BytesMut, n: usize, file: &FsPath) -> Result<()> {
    while buf.len() < n {
        let before = buf.len();
        let mut limited = (&mut *reader).take((n - before) as u64);
        if limited.read_buf(buf).await.map_err(io_error(file))? == 0 {
            return Err(io_error(file)(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file shrank while it was being uploaded",
            )));
        }
    }
    Ok(())
}

/// Counts acknowledged bytes for progress, and aborts the upload from a
/// background task if it is dropped before completing or aborting (the
/// caller's future was dropped).
#[derive(Debug)]
struct TrackedUpload {
    /// `None` once completed or aborted.
    inner: Option<Box<dyn MultipartUpload>>,
    acked: Arc<AtomicU64>,
    /// The error of a failed completion, kept for the caller.
    complete_error: Arc<std::sync::Mutex<Option<object_store::Error>>>,
}

impl TrackedUpload {
    fn inner(&mut self) -> object_store::Result<&mut Box<dyn MultipartUpload>> {
        self.inner.as_mut().ok_or_else(|| object_store::Error::Generic {
            store: "upload",
            source: "the multipart upload was already completed or aborted".into(),
        })
    }
}

#[async_trait]
impl MultipartUpload for TrackedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let n = data.content_length() as u64;
        let acked = Arc::clone(&self.acked);
        match self.inner() {
            Ok(inner) => {
                let part = inner.put_part(data);
                async move {
                    part.await?;
                    acked.fetch_add(n, Ordering::Relaxed);
                    Ok(())
                }
                .boxed()
            }
            Err(e) => futures::future::ready(Err(e)).boxed(),
        }
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        match self.inner()?.complete().await {
            Ok(put) => {
                self.inner = None;
                Ok(put)
            }
            Err(e) => {
                let message = e.to_string();
                *self.complete_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Err(object_store::Error::Generic { store: "upload", source: message.into() })
            }
        }
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        let mut inner = self.inner.take().ok_or_else(|| object_store::Error::Generic {
            store: "upload",
            source: "the multipart upload was already completed or aborted".into(),
        })?;
        inner.abort().await
    }
}

impl Drop for TrackedUpload {
    fn drop(&mut self) {
        if let (Some(mut inner), Ok(runtime)) = (self.inner.take(), tokio::runtime::Handle::try_current()) {
            runtime.spawn(async move {
                if let Err(e) = inner.abort().await {
                    tracing::warn!(error = %e, "aborting a dropped multipart upload failed");
                }
            });
        }
    }
}

/// Downloads `location` to the local file `path`, chunk by chunk: into a
/// temporary file beside it (created `0600`), fsynced, renamed over `path`,
/// then the directory is fsynced. The file is readable by its owner only,
/// like a [`LocalDir`](super::LocalDir) object; an existing `path` is
/// replaced only once the whole object is on disk. The directory of `path`
/// must exist.
///
/// # Cancel safety
/// With [`TransferParams::cancel`], or when the future is dropped, the
/// temporary file is removed and `path` is untouched; a cancelled call
/// returns [`k8sops_core::Error::Cancelled`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_backup::Result<()> {
/// use k8sops_backup::{object_store::{path::Path, ObjectStoreExt}, store::{download_file, TransferParams}};
/// let store = k8sops_backup::store::memory();
/// store.put(&Path::from("prod/etcd.db"), vec![1u8; 1000].into()).await?;
/// let dir = tempfile::tempdir().unwrap();
/// let down = download_file(&store, &Path::from("prod/etcd.db"), &dir.path().join("etcd.db"), &TransferParams::default(), &k8sops_core::NoProgress).await?;
/// assert_eq!(std::fs::read(&down.path).unwrap(), vec![1u8; 1000]);
/// # Ok(()) }
/// ```
pub async fn download_file(
    store: &dyn ObjectStore,
    location: &Path,
    path: &FsPath,
    params: &TransferParams,
    progress: &dyn ProgressSink<TransferEvent>,
) -> Result<Downloaded> {
    let (Some(file_name), Some(dir)) = (path.file_name(), path.parent()) else {
        return Err(invalid(format!("{} does not name a file", path.display())));
    };
    let dir = if dir.as_os_str().is_empty() { FsPath::new(".") } else { dir };
    if !tokio::fs::metadata(dir).await.map_err(io_error(dir))?.is_dir() {
        return Err(invalid(format!("{} is not a directory", dir.display())));
    }
    let cancel = params.cancel.clone().unwrap_or_default();
    let name = location.to_string();
    let cancelled = || k8sops_core::Error::Cancelled { during: format!("downloading {name} to {}", path.display()) };
    let got = tokio::select! {
        biased;
        _ = cancel.cancelled() => return Err(cancelled().into()),
        r = store.get(location) => r?,
    };
    let size = got.meta.size;
    progress.emit(TransferEvent::Started { location: name.clone(), size, parts: 0, part_size: 0 });

    let tmp = TempFile::new(dir.join(format!(
        ".{}.k8sops-{}-{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        next_id()
    )));
    let written: Result<u64> = async {
        let mut out = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(super::local::FILE_MODE)
            .open(&tmp.path)
            .await
            .map_err(io_error(&tmp.path))?;
        let mut stream = got.into_stream();
        let mut done = 0u64;
        let mut reported = 0u64;
        loop {
            let chunk = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(cancelled().into()),
                c = stream.next() => c,
            };
            let Some(chunk) = chunk else { break };
            let chunk = chunk?;
            out.write_all(&chunk).await.map_err(io_error(&tmp.path))?;
            done += chunk.len() as u64;
            if done - reported >= params.part_size as u64 {
                reported = done;
                progress.emit(TransferEvent::Progress { location: name.clone(), done, size });
            }
        }
        if done != size {
            return Err(k8sops_core::Error::Backend {
                backend: store.to_string(),
                message: format!("{name}: read {done} bytes of {size}"),
                transient: true,
                source: None,
            }
            .into());
        }
        out.sync_all().await.map_err(io_error(&tmp.path))?;
        drop(out);
        set_mode(&tmp.path, super::local::FILE_MODE).await?;
        tokio::fs::rename(&tmp.path, path).await.map_err(io_error(path))?;
        tmp.disarm();
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(io_error(&dir))
        })
        .await
        .map_err(|e| object_store::Error::JoinError { source: e })??;
        Ok(done)
    }
    .await;
    match written {
        Ok(size) => {
            progress.emit(TransferEvent::Finished { location: name.clone(), size });
            Ok(Downloaded { location: name, path: path.to_path_buf(), size })
        }
        Err(e) => {
            progress.emit(TransferEvent::Aborted { location: name, reason: e.to_string() });
            Err(e)
        }
    }
}

async fn set_mode(path: &FsPath, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).await.map_err(io_error(path))
}

fn next_id() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A temporary file removed on drop unless disarmed (after its rename).
struct TempFile {
    path: PathBuf,
    armed: std::sync::atomic::AtomicBool,
}

impl TempFile {
    fn new(path: PathBuf) -> Self {
        TempFile { path, armed: std::sync::atomic::AtomicBool::new(true) }
    }

    fn disarm(&self) {
        self.armed.store(false, Ordering::Relaxed);
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed.load(Ordering::Relaxed) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
