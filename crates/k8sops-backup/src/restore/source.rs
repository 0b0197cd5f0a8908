//! Reading a backup: its manifest, and its files from a store (one request
//! each, several at once) or from an archive (one sequential pass per
//! restore tier on a thread of its own, so memory holds a few files, not the
//! archive).

use std::{
    collections::HashMap,
    io::Read,
    path::{Path, PathBuf},
};

use bytes::Bytes;
use object_store::ObjectStoreExt;
use tokio::sync::mpsc;

use crate::{
    layout::{Location, Manifest, MANIFEST_FILE},
    Error, Result,
};

fn invalid(location: &Location, reason: impl Into<String>) -> Error {
    Error::InvalidBackup { location: location.to_string(), reason: reason.into() }
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    k8sops_core::Error::Io { path: path.display().to_string(), source }.into()
}

/// Reads and checks the manifest of the backup at `from`.
pub(crate) async fn read_manifest(from: &Location) -> Result<Manifest> {
    let bytes = match from {
        Location::Store { store, prefix } => {
            match store.get(&prefix.clone().join(MANIFEST_FILE)).await {
                Ok(got) => got.bytes().await?,
                Err(object_store::Error::NotFound { .. }) => {
                    return Err(invalid(
                        from,
                        format!("no {MANIFEST_FILE}: not a k8sops export, or an incomplete one (an export that failed or was cancelled)"),
                    ))
                }
                Err(e) => return Err(e.into()),
            }
        }
        Location::Archive(path) => {
            let path = path.clone();
            let found = tokio::task::spawn_blocking(move || find_in_archive(&path, MANIFEST_FILE))
                .await
                .map_err(|e| invalid(from, format!("reading the archive failed: {e}")))?;
            match found {
                Ok(Some(bytes)) => bytes,
                Ok(None) => {
                    return Err(invalid(
                        from,
                        format!("the archive has no {MANIFEST_FILE}: not a k8sops export, or an incomplete one"),
                    ))
                }
                Err(ArchiveError::Open(e)) => return Err(io_error(&archive_path(from), e)),
                Err(ArchiveError::Damaged(e)) => {
                    return Err(invalid(from, format!("not a readable gzip-compressed tar archive: {e}")))
                }
                Err(ArchiveError::TooLarge { limit }) => {
                    return Err(invalid(from, format!("its {MANIFEST_FILE} is larger than {limit} bytes")))
                }
            }
        }
    };
    Manifest::parse(&bytes, &from.to_string())
}

fn archive_path(from: &Location) -> PathBuf {
    match from {
        Location::Archive(p) => p.clone(),
        Location::Store { .. } => PathBuf::new(),
    }
}

/// Why an archive could not be read.
#[derive(Debug)]
pub(crate) enum ArchiveError {
    /// The file could not be opened.
    Open(std::io::Error),
    /// It is not gzip, not tar, or truncated.
    Damaged(std::io::Error),
    /// An entry is larger than anything a k8sops export writes.
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
}

fn open_archive(
    path: &Path,
) -> std::result::Result<tar::Archive<flate2::read::GzDecoder<std::io::BufReader<std::fs::File>>>, ArchiveError> {
    let file = std::fs::File::open(path).map_err(ArchiveError::Open)?;
    Ok(tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::with_capacity(1 << 20, file))))
}

fn find_in_archive(path: &Path, name: &str) -> std::result::Result<Option<Bytes>, ArchiveError> {
    let mut archive = open_archive(path)?;
    for entry in archive.entries().map_err(ArchiveError::Damaged)? {
        let mut entry = entry.map_err(ArchiveError::Damaged)?;
        if entry.path_bytes().as_ref() == name.as_bytes() {
            return read_entry(&mut entry, MAX_MANIFEST).map(Some);
        }
    }
    Ok(None)
}

/// The largest manifest read from an archive (about 200 bytes per object:
/// over a million objects).
const MAX_MANIFEST: u64 = 256 << 20;
/// The largest object file read from an archive. The API server refuses
/// objects over a few MiB (etcd's request limit), so a bigger entry is not
/// an exported object.
const MAX_OBJECT_FILE: u64 = 64 << 20;

/// Reads one entry, at most `limit` bytes. The tar header's size is not
/// trusted for the allocation: the buffer grows with what is really read.
fn read_entry(entry: &mut impl Read, limit: u64) -> std::result::Result<Bytes, ArchiveError> {
    let mut buf = Vec::new();
    entry.take(limit + 1).read_to_end(&mut buf).map_err(ArchiveError::Damaged)?;
    if buf.len() as u64 > limit {
        return Err(ArchiveError::TooLarge { limit });
    }
    Ok(Bytes::from(buf))
}

/// One file of the archive, by its index in the caller's list.
pub(crate) type ArchiveFile = (usize, std::result::Result<Bytes, String>);

/// Streams the files named in `wanted` (relative path → index) out of the
/// archive, in archive order, on a blocking thread. Files the archive does
/// not hold are sent last with an error; a damaged archive ends the stream
/// with an error for every file not yet sent. Dropping the receiver stops
/// the thread.
pub(crate) fn archive_files(
    path: PathBuf,
    mut wanted: HashMap<String, usize>,
    queue: usize,
) -> mpsc::Receiver<ArchiveFile> {
    let (tx, rx) = mpsc::channel(queue.max(1));
    tokio::task::spawn_blocking(move || {
        // A panic in the tar or gzip reader must not make the files not yet
        // sent vanish from the report: they are sent as failed instead.
        let scanned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scan(&path, &mut wanted, &tx)));
        let failure = match scanned.unwrap_or_else(|_| {
            Err(ArchiveError::Damaged(std::io::Error::other("the archive reader stopped unexpectedly")))
        }) {
            Ok(true) => return,
            Ok(false) => "listed in the manifest but missing from the archive".to_string(),
            Err(ArchiveError::Open(e) | ArchiveError::Damaged(e)) => format!("the archive could not be read: {e}"),
            Err(ArchiveError::TooLarge { limit }) => format!("the archive has an entry over {limit} bytes"),
        };
        let mut left: Vec<usize> = wanted.into_values().collect();
        left.sort_unstable();
        for i in left {
            if tx.blocking_send((i, Err(failure.clone()))).is_err() {
                return;
            }
        }
    });
    rx
}

/// Sends every wanted file; `Ok(true)` when the receiver went away.
fn scan(
    path: &Path,
    wanted: &mut HashMap<String, usize>,
    tx: &mpsc::Sender<ArchiveFile>,
) -> std::result::Result<bool, ArchiveError> {
    let mut archive = open_archive(path)?;
    for entry in archive.entries().map_err(ArchiveError::Damaged)? {
        if wanted.is_empty() {
            break;
        }
        let mut entry = entry.map_err(ArchiveError::Damaged)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        // Removed from `wanted` only once read: if reading panics, the
        // caller still reports this file as failed.
        let Some(&i) = wanted.get(&name) else { continue };
        let read = read_entry(&mut entry, MAX_OBJECT_FILE);
        wanted.remove(&name);
        let file = match read {
            Ok(bytes) => Ok(bytes),
            // One oversized entry spoils that file only, not the archive.
            Err(ArchiveError::TooLarge { limit }) => Err(format!("the archive entry is larger than {limit} bytes")),
            Err(e) => return Err(e),
        };
        if tx.blocking_send((i, file)).is_err() {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_read_up_to_its_limit_and_no_further() {
        let mut small: &[u8] = b"kind: ConfigMap\n";
        assert_eq!(read_entry(&mut small, 16).unwrap().as_ref(), b"kind: ConfigMap\n");
        let mut large: &[u8] = &[b'x'; 17];
        assert!(matches!(read_entry(&mut large, 16), Err(ArchiveError::TooLarge { limit: 16 })));
        // Of an endless entry only limit + 1 bytes are read.
        let mut endless = std::io::repeat(b'x');
        assert!(matches!(read_entry(&mut endless, 1 << 20), Err(ArchiveError::TooLarge { .. })));
    }
}
