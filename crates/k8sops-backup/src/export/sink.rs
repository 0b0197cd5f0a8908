//! Where exported files go: object store puts, or one tar.gz archive
//! written on a thread of its own (temporary file, fsync, rename, mode 0600).

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
};

use bytes::Bytes;
use object_store::{path::Path as StorePath, ObjectStore, ObjectStoreExt, PutOptions, PutPayload};
use tokio::sync::mpsc;

use crate::{
    layout::{Location, MANIFEST_FILE},
    store::DeferSync,
    Error, Result,
};

/// Files waiting for the archive thread; bounds memory when the disk is slower than the cluster.
const ARCHIVE_QUEUE: usize = 256;

pub(crate) enum Sink {
    Store {
        store: Arc<dyn ObjectStore>,
        prefix: StorePath,
    },
    Archive {
        tx: mpsc::Sender<(String, Bytes)>,
        writer: tokio::task::JoinHandle<std::io::Result<()>>,
        tmp: PathBuf,
        dest: PathBuf,
    },
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    k8sops_core::Error::Io { path: path.display().to_string(), source }.into()
}

impl Sink {
    /// Opens the destination. A store prefix that already holds a backup
    /// (its manifest) is refused; an archive's directory must exist.
    pub(crate) async fn open(to: &Location) -> Result<Sink> {
        match to {
            Location::Store { store, prefix } => {
                let manifest = prefix.clone().join(MANIFEST_FILE);
                match store.head(&manifest).await {
                    Ok(_) => {
                        return Err(k8sops_core::Error::InvalidInput {
                            message: format!(
                                "{to} already holds a backup ({MANIFEST_FILE} exists); export to a new prefix"
                            ),
                            source: None,
                        }
                        .into())
                    }
                    Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                Ok(Sink::Store { store: store.clone(), prefix: prefix.clone() })
            }
            Location::Archive(dest) => {
                let dir = match dest.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let file_name = dest.file_name().ok_or_else(|| k8sops_core::Error::InvalidInput {
                    message: format!("{} is not a file name for the archive", dest.display()),
                    source: None,
                })?;
                static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let tmp = dir.join(format!(".{}.tmp-{}-{seq}", file_name.to_string_lossy(), std::process::id()));
                let file = {
                    let at = tmp.clone();
                    tokio::task::spawn_blocking(move || create_private(&at))
                        .await
                        .map_err(|e| io_error(dest, std::io::Error::other(e)))?
                        .map_err(|e| io_error(&tmp, e))?
                };
                let (tx, rx) = mpsc::channel(ARCHIVE_QUEUE);
                let writer = tokio::task::spawn_blocking(move || write_archive(file, rx));
                Ok(Sink::Archive { tx, writer, tmp, dest: dest.clone() })
            }
        }
    }

    /// Writes one file (`relative` to the backup root).
    pub(crate) async fn put(&self, relative: &str, bytes: Bytes) -> Result<()> {
        match self {
            Sink::Store { store, prefix } => {
                let key = join(prefix, relative);
                // A local directory makes the files durable when the
                // manifest is put (the commit point), not one fsync each.
                let mut opts = PutOptions::default();
                opts.extensions.insert(DeferSync);
                store.put_opts(&key, PutPayload::from(bytes), opts).await?;
                Ok(())
            }
            Sink::Archive { tx, tmp, .. } => tx
                .send((relative.to_string(), bytes))
                .await
                .map_err(|_| io_error(tmp, std::io::Error::other("the archive writer stopped"))),
        }
    }

    /// Writes the manifest last and publishes the backup (an archive is
    /// renamed into place only now; a local directory's files are fsynced
    /// before the manifest is written, see [`DeferSync`]).
    pub(crate) async fn finish(self, manifest: Bytes) -> Result<()> {
        match self {
            Sink::Store { store, prefix } => {
                store.put(&prefix.clone().join(MANIFEST_FILE), PutPayload::from(manifest)).await?;
                Ok(())
            }
            Sink::Archive { tx, writer, tmp, dest } => {
                let sent = tx.send((MANIFEST_FILE.to_string(), manifest)).await;
                drop(tx);
                let written = writer.await.map_err(|e| io_error(&tmp, std::io::Error::other(e)))?;
                if let Err(e) = written.and(sent.map_err(|_| std::io::Error::other("the archive writer stopped"))) {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(io_error(&tmp, e));
                }
                let publish = {
                    let (tmp, dest) = (tmp.clone(), dest.clone());
                    tokio::task::spawn_blocking(move || publish(&tmp, &dest)).await
                };
                match publish {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => {
                        let _ = tokio::fs::remove_file(&tmp).await;
                        Err(io_error(&dest, e))
                    }
                    Err(e) => Err(io_error(&dest, std::io::Error::other(e))),
                }
            }
        }
    }

    /// Stops without a manifest. An archive's temporary file is removed (the
    /// destination is untouched); files already put into a store stay there,
    /// without a manifest. Returns the archive writer's own error, if it
    /// failed, so the caller can report the cause instead of "stopped".
    pub(crate) async fn abort(self) -> Option<Error> {
        match self {
            Sink::Store { .. } => None,
            Sink::Archive { tx, writer, tmp, .. } => {
                drop(tx);
                let err = match writer.await {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(io_error(&tmp, e)),
                    Err(e) => Some(io_error(&tmp, std::io::Error::other(e))),
                };
                let _ = tokio::fs::remove_file(&tmp).await;
                err
            }
        }
    }
}

fn join(prefix: &StorePath, relative: &str) -> StorePath {
    // `relative` comes from layout::object_path: already valid, encoded segments.
    prefix.parts().chain(StorePath::from(relative).parts()).collect()
}

fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    // An existing file keeps its mode on open: set it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Appends every file received to a gzip-compressed tar, then flushes and
/// fsyncs it. Entries are regular files, mode 0600, owned by uid 0, dated now.
fn write_archive(file: std::fs::File, mut rx: mpsc::Receiver<(String, Bytes)>) -> std::io::Result<()> {
    let gz =
        flate2::write::GzEncoder::new(std::io::BufWriter::with_capacity(1 << 20, file), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mtime = jiff::Timestamp::now().as_second().max(0) as u64;
    while let Some((path, bytes)) = rx.blocking_recv() {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o600);
        header.set_mtime(mtime);
        header.set_size(bytes.len() as u64);
        tar.append_data(&mut header, &path, bytes.as_ref())?;
    }
    let gz = tar.into_inner()?;
    let mut buffered = gz.finish()?;
    buffered.flush()?;
    let file = buffered.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// Renames the finished archive into place and fsyncs the directory.
fn publish(tmp: &Path, dest: &Path) -> std::io::Result<()> {
    std::fs::rename(tmp, dest)?;
    #[cfg(unix)]
    if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
