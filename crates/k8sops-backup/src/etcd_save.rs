//! `etcdctl snapshot save`: stream etcd's Maintenance snapshot into a file
//! (feature `etcd`).
//!
//! The file is written to `FILE.part`, fsynced and renamed to `FILE` only
//! after the SHA-256 trailer the etcd server appends has been checked, so a
//! snapshot cut short, a wrong certificate, a timeout or a cancel never leaves
//! anything under the final name (the `.part` file is removed too). Like
//! etcdctl, the snapshot is asked of exactly one endpoint, and the file keeps
//! the server's trailer, so `etcdctl snapshot restore` verifies it as usual.
//! A `FILE.sha256` sidecar in `sha256sum` format covers the whole file.
//!
//! ```no_run
//! use k8sops_backup::etcd_save::{save, EtcdConnection, SaveParams};
//! # async fn main_() -> k8sops_backup::Result<()> {
//! let conn = EtcdConnection {
//!     endpoints: vec!["https://127.0.0.1:2379".into()],
//!     cacert: Some("/etc/kubernetes/pki/etcd/ca.crt".into()),
//!     cert: Some("/etc/kubernetes/pki/etcd/server.crt".into()),
//!     key: Some("/etc/kubernetes/pki/etcd/server.key".into()),
//!     ..Default::default()
//! };
//! let saved = save(&conn, "/var/backups/etcd-snapshot.db", &SaveParams::default()).await?;
//! println!("saved {} bytes, sha256 {}", saved.size, saved.sha256);
//! # Ok(()) }
//! ```

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use k8sops_core::progress::{CancellationToken, DynProgress, NoProgress};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::{Error, Result};

/// How to reach etcd, as etcdctl's global flags say it.
///
/// ```
/// let conn = k8sops_backup::etcd_save::EtcdConnection {
///     endpoints: vec!["https://10.0.0.10:2379".into()],
///     ..Default::default()
/// };
/// assert_eq!(conn.dial_timeout, std::time::Duration::from_secs(2));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct EtcdConnection {
    /// `--endpoints`: `https://host:port` (TLS) or `http://host:port`. A
    /// snapshot is asked of exactly one endpoint.
    pub endpoints: Vec<String>,
    /// `--cacert`: the CA that signed the server's certificate.
    pub cacert: Option<PathBuf>,
    /// `--cert`: the client certificate.
    pub cert: Option<PathBuf>,
    /// `--key`: the client certificate's key.
    pub key: Option<PathBuf>,
    /// `--user` name, for etcd's own authentication.
    pub user: Option<String>,
    /// The user's password.
    pub password: Option<String>,
    /// `--dial-timeout` (etcdctl's default: 2 s).
    pub dial_timeout: Duration,
}

impl Default for EtcdConnection {
    fn default() -> Self {
        EtcdConnection {
            endpoints: vec!["http://127.0.0.1:2379".into()],
            cacert: None,
            cert: None,
            key: None,
            user: None,
            password: None,
            dial_timeout: Duration::from_secs(2),
        }
    }
}

impl fmt::Debug for EtcdConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdConnection")
            .field("endpoints", &self.endpoints)
            .field("cacert", &self.cacert)
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("dial_timeout", &self.dial_timeout)
            .finish()
    }
}

impl EtcdConnection {
    /// Connects to the endpoints with the TLS material and user configured.
    /// Certificate files that cannot be read are an error before any network
    /// traffic.
    ///
    /// ```no_run
    /// # async fn main_() -> k8sops_backup::Result<()> {
    /// let conn = k8sops_backup::etcd_save::EtcdConnection::default();
    /// let mut client = conn.connect().await?;
    /// let status = client.status().await;
    /// # Ok(()) }
    /// ```
    pub async fn connect(&self) -> Result<Client> {
        if self.endpoints.is_empty() {
            return Err(invalid("no etcd endpoint given (--endpoints)"));
        }
        if self.cert.is_some() != self.key.is_some() {
            return Err(invalid("a client certificate needs its key and a key its certificate (--cert and --key)"));
        }
        let mut options = ConnectOptions::new().with_connect_timeout(self.dial_timeout);
        let tls_wanted = self.cacert.is_some() || self.cert.is_some();
        if tls_wanted {
            let mut tls = TlsOptions::new();
            if let Some(ca) = &self.cacert {
                tls = tls.ca_certificate(Certificate::from_pem(read(ca).await?));
            }
            if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
                tls = tls.identity(Identity::from_pem(read(cert).await?, read(key).await?));
            }
            options = options.with_tls(tls);
        }
        for e in &self.endpoints {
            if tls_wanted && e.starts_with("http://") {
                return Err(invalid(&format!("endpoint {e} is http:// but TLS certificates were given; use https://")));
            }
        }
        let limit = self.dial_timeout + Duration::from_secs(1);
        let connect = async {
            let Some(user) = &self.user else { return Client::connect(&self.endpoints, Some(options)).await };
            let with_user = options.clone().with_user(user.clone(), self.password.clone().unwrap_or_default());
            match Client::connect(&self.endpoints, Some(with_user)).await {
                // Like etcdctl, a user given to an etcd without authentication
                // is ignored: connect again without it.
                Err(e) if matches!(auth_failure_of(&e), Some(AuthFailure::NotEnabled)) => {
                    Client::connect(&self.endpoints, Some(options)).await
                }
                other => other,
            }
        };
        match tokio::time::timeout(limit, connect).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(source)) => Err(self.etcd_error("cannot connect", source)),
            Err(_) => Err(k8sops_core::Error::Timeout {
                during: format!("connecting to etcd at {}", self.endpoints.join(",")),
                after: self.dial_timeout,
            }
            .into()),
        }
    }

    fn etcd_error(&self, what: &str, source: etcd_client::Error) -> Error {
        Error::Etcd { endpoints: self.endpoints.join(","), message: describe(what, &source), source }
    }
}

/// Options of [`save`].
///
/// ```
/// use std::time::Duration;
/// let params = k8sops_backup::etcd_save::SaveParams {
///     timeout: Some(Duration::from_secs(600)),
///     ..Default::default()
/// };
/// assert!(params.checksum_sidecar);
/// ```
#[derive(Clone)]
pub struct SaveParams {
    /// Limit for the whole snapshot; `None` (the default) waits as long as
    /// bytes keep arriving.
    pub timeout: Option<Duration>,
    /// How long the stream may stay silent before the save fails (default 30 s).
    pub idle_timeout: Duration,
    /// Write `FILE.sha256` in `sha256sum` format beside the snapshot (default true).
    pub checksum_sidecar: bool,
    /// Receives [`SaveEvent`]s.
    pub progress: DynProgress<SaveEvent>,
    /// Stops the save; the `.part` file is removed and nothing is left under the final name.
    pub cancel: CancellationToken,
}

impl Default for SaveParams {
    fn default() -> Self {
        SaveParams {
            timeout: None,
            idle_timeout: Duration::from_secs(30),
            checksum_sidecar: true,
            progress: Arc::new(NoProgress),
            cancel: CancellationToken::new(),
        }
    }
}

impl fmt::Debug for SaveParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaveParams")
            .field("timeout", &self.timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("checksum_sidecar", &self.checksum_sidecar)
            .finish_non_exhaustive()
    }
}

/// Progress of [`save`].
///
/// ```
/// use k8sops_backup::etcd_save::SaveEvent;
/// let e = SaveEvent::Received { bytes: 1024, total: Some(20_512) };
/// assert!(matches!(e, SaveEvent::Received { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaveEvent {
    /// The snapshot stream is open.
    Started {
        /// The endpoint asked.
        endpoint: String,
    },
    /// Bytes received so far, and the expected total (database plus the
    /// 32-byte trailer) once the server said it.
    Received {
        /// Bytes written to the `.part` file.
        bytes: u64,
        /// Expected file size.
        total: Option<u64>,
    },
    /// The server's SHA-256 trailer matched the data.
    Verified {
        /// Hex SHA-256 of the database bytes.
        sha256: String,
    },
    /// The file is in place under its final name.
    Saved {
        /// The snapshot file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },
}

/// A snapshot that [`save`] wrote and verified.
///
/// ```no_run
/// # async fn main_(saved: k8sops_backup::etcd_save::SavedSnapshot) {
/// println!("{} ({} bytes): {}", saved.path.display(), saved.size, saved.sha256);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SavedSnapshot {
    /// The snapshot file.
    pub path: PathBuf,
    /// The endpoint it came from.
    pub endpoint: String,
    /// File size: the database plus the 32-byte SHA-256 trailer.
    pub size: u64,
    /// Hex SHA-256 of the database bytes, as the server's trailer states.
    pub sha256: String,
    /// Hex SHA-256 of the whole file (what the sidecar holds).
    pub file_sha256: String,
    /// The `sha256sum`-format sidecar, when written.
    pub checksum_file: Option<PathBuf>,
}

/// Size of the SHA-256 trailer etcd appends to a snapshot stream.
pub const TRAILER_LEN: u64 = 32;

/// Streams a snapshot from the one endpoint of `conn` into `path`, verifies
/// the server's SHA-256 trailer, fsyncs and renames it into place, and writes
/// the `.sha256` sidecar.
///
/// Errors: more than one endpoint or unreadable certificate files
/// ([`k8sops_core::Error::InvalidInput`] / [`k8sops_core::Error::Io`]) before
/// connecting; [`Error::Etcd`] when etcd cannot be reached or refuses (wrong
/// certificates, authentication); [`k8sops_core::Error::Timeout`] when the
/// connection, the stream's idle time or [`SaveParams::timeout`] runs out;
/// [`k8sops_core::Error::Cancelled`]; [`Error::ChecksumMismatch`] when the data
/// does not match the trailer; [`Error::CorruptSnapshot`] when the stream ends
/// before the size the server announced. In every error case nothing is left
/// under `path` or `path.part`; an existing file at `path` is untouched.
///
/// Authentication, as `etcdctl --user NAME:PASSWORD`: with
/// [`EtcdConnection::user`] and [`EtcdConnection::password`]. When etcd has
/// authentication enabled, a wrong password, no user at all, or a user
/// without the `root` role is an [`Error::Etcd`] whose message says
/// `authentication failed` (or `permission denied`) and whose source is
/// etcd's gRPC status; [`auth_failure`] tells which. A user given to an etcd
/// without authentication is ignored, as etcdctl does.
///
/// ```no_run
/// # async fn main_() -> k8sops_backup::Result<()> {
/// use k8sops_backup::etcd_save::{save, EtcdConnection, SaveParams};
/// let saved = save(&EtcdConnection::default(), "snapshot.db", &SaveParams::default()).await?;
/// assert_eq!(saved.size % 512, 32);
/// # Ok(()) }
/// ```
pub async fn save(conn: &EtcdConnection, path: impl AsRef<Path>, params: &SaveParams) -> Result<SavedSnapshot> {
    let path = path.as_ref().to_path_buf();
    if conn.endpoints.len() != 1 {
        return Err(invalid(&format!(
            "a snapshot must be requested from exactly one endpoint, got {} ({})",
            conn.endpoints.len(),
            conn.endpoints.join(",")
        )));
    }
    if path.file_name().is_none() {
        return Err(invalid(&format!("{} is not a file path", path.display())));
    }
    let part = part_path(&path);
    let work = async {
        let result = stream_to(conn, &path, &part, params).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&part).await;
        }
        result
    };
    let endpoint = conn.endpoints[0].clone();
    let limited = async {
        match params.timeout {
            Some(limit) => match tokio::time::timeout(limit, work).await {
                Ok(r) => r,
                Err(_) => Err(k8sops_core::Error::Timeout {
                    during: format!("saving a snapshot from etcd at {endpoint}"),
                    after: limit,
                }
                .into()),
            },
            None => work.await,
        }
    };
    let outcome = tokio::select! {
        biased;
        () = params.cancel.cancelled() => Err(k8sops_core::Error::Cancelled {
            during: format!("saving a snapshot from etcd at {endpoint}"),
        }
        .into()),
        r = limited => r,
    };
    if outcome.is_err() {
        // The stream future is dropped on timeout or cancel: remove what it wrote.
        let _ = tokio::fs::remove_file(&part).await;
        let _ = tokio::fs::remove_file(part_path(&sidecar_path(&path))).await;
    }
    outcome
}

async fn stream_to(conn: &EtcdConnection, path: &Path, part: &Path, params: &SaveParams) -> Result<SavedSnapshot> {
    let endpoint = conn.endpoints[0].clone();
    let mut client = conn.connect().await?;
    let mut stream = idle(params, &endpoint, client.snapshot())
        .await?
        .map_err(|e| conn.etcd_error("cannot open the snapshot stream", e))?;
    let file = open_part(part).await?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    params.progress.emit(SaveEvent::Started { endpoint: endpoint.clone() });

    let mut db_hash = Sha256::new();
    let mut file_hash = Sha256::new();
    let mut db_total: Option<u64> = None;
    let mut received: u64 = 0;
    let mut trailer: Vec<u8> = Vec::with_capacity(TRAILER_LEN as usize);
    while let Some(msg) = idle(params, &endpoint, stream.message())
        .await?
        .map_err(|e| conn.etcd_error("the snapshot stream failed", e))?
    {
        if params.cancel.is_cancelled() {
            return Err(
                k8sops_core::Error::Cancelled { during: format!("saving a snapshot from etcd at {endpoint}") }.into()
            );
        }
        let blob = msg.blob();
        if db_total.is_none() {
            let announced = msg
                .remaining_bytes()
                .checked_add(blob.len() as u64)
                .filter(|t| t.checked_add(TRAILER_LEN).is_some())
                .ok_or_else(|| Error::CorruptSnapshot {
                    path: path.to_path_buf(),
                    reason: format!("etcd announced an impossible size ({} remaining bytes)", msg.remaining_bytes()),
                })?;
            db_total = Some(announced);
        }
        let total = db_total.unwrap_or_default();
        // Bytes up to `total` are the database; what follows is the trailer.
        let db_left = total.saturating_sub(received) as usize;
        let (db_part, tail) = blob.split_at(db_left.min(blob.len()));
        db_hash.update(db_part);
        trailer.extend_from_slice(tail);
        if trailer.len() > TRAILER_LEN as usize {
            return Err(Error::CorruptSnapshot {
                path: path.to_path_buf(),
                reason: format!(
                    "etcd sent {} bytes after the {total}-byte database; expected a 32-byte trailer",
                    trailer.len()
                ),
            });
        }
        file_hash.update(blob);
        out.write_all(blob).await.map_err(|e| io(part, e))?;
        received += blob.len() as u64;
        params.progress.emit(SaveEvent::Received { bytes: received, total: Some(total + TRAILER_LEN) });
    }
    let total = db_total.unwrap_or(0);
    if received != total + TRAILER_LEN {
        return Err(Error::CorruptSnapshot {
            path: path.to_path_buf(),
            reason: format!(
                "the snapshot stream ended after {received} of {} bytes (database {total} + 32-byte trailer)",
                total + TRAILER_LEN
            ),
        });
    }
    let sha256 = hex(&db_hash.finalize());
    if hex(&trailer) != sha256 {
        return Err(Error::ChecksumMismatch {
            what: format!("snapshot from {endpoint}"),
            expected: hex(&trailer),
            actual: sha256,
        });
    }
    params.progress.emit(SaveEvent::Verified { sha256: sha256.clone() });
    out.flush().await.map_err(|e| io(part, e))?;
    let file = out.into_inner();
    file.sync_all().await.map_err(|e| io(part, e))?;
    drop(file);
    // The sidecar is written (to its own .part) before the snapshot is renamed,
    // so an error here leaves the previous FILE and FILE.sha256 as they were.
    let file_sha256 = hex(&file_hash.finalize());
    let sidecar = sidecar_path(path);
    let sidecar_part = part_path(&sidecar);
    if params.checksum_sidecar {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        write_synced(&sidecar_part, format!("{file_sha256}  {name}\n").as_bytes()).await?;
    }
    if let Err(e) = tokio::fs::rename(part, path).await {
        let _ = tokio::fs::remove_file(&sidecar_part).await;
        return Err(io(path, e));
    }
    let checksum_file = if params.checksum_sidecar {
        tokio::fs::rename(&sidecar_part, &sidecar).await.map_err(|e| io(&sidecar, e))?;
        Some(sidecar)
    } else {
        // A sidecar from an earlier snapshot would no longer match this one.
        let _ = tokio::fs::remove_file(&sidecar).await;
        None
    };
    sync_dir(path).await;
    params.progress.emit(SaveEvent::Saved { path: path.to_path_buf(), size: received });
    Ok(SavedSnapshot { path: path.to_path_buf(), endpoint, size: received, sha256, file_sha256, checksum_file })
}

/// Waits for `fut`, failing when nothing arrives within the idle timeout.
async fn idle<T>(params: &SaveParams, endpoint: &str, fut: impl std::future::Future<Output = T>) -> Result<T> {
    tokio::time::timeout(params.idle_timeout, fut).await.map_err(|_| {
        k8sops_core::Error::Timeout {
            during: format!("waiting for snapshot data from etcd at {endpoint}"),
            after: params.idle_timeout,
        }
        .into()
    })
}

/// `FILE.part`, where the snapshot is written before the rename.
///
/// ```
/// let p = k8sops_backup::etcd_save::part_path(std::path::Path::new("/b/snap.db"));
/// assert_eq!(p, std::path::Path::new("/b/snap.db.part"));
/// ```
pub fn part_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// `FILE.sha256`, the checksum sidecar.
///
/// ```
/// let p = k8sops_backup::etcd_save::sidecar_path(std::path::Path::new("/b/snap.db"));
/// assert_eq!(p, std::path::Path::new("/b/snap.db.sha256"));
/// ```
pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".sha256");
    PathBuf::from(s)
}

async fn open_part(part: &Path) -> Result<tokio::fs::File> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(part).await.map_err(|e| io(part, e))
}

/// Writes `data` to `tmp` (mode 0600) and fsyncs it; removes it on error.
async fn write_synced(tmp: &Path, data: &[u8]) -> Result<()> {
    let mut f = open_part(tmp).await?;
    let written = async {
        f.write_all(data).await?;
        f.sync_all().await
    }
    .await;
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(tmp).await;
        return Err(io(tmp, e));
    }
    Ok(())
}

async fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = tokio::fs::File::open(dir).await {
            let _ = d.sync_all().await;
        }
    }
}

async fn read(path: &Path) -> Result<Vec<u8>> {
    tokio::fs::read(path).await.map_err(|e| io(path, e))
}

fn io(path: &Path, source: std::io::Error) -> Error {
    k8sops_core::Error::Io { path: path.display().to_string(), source }.into()
}

fn invalid(message: &str) -> Error {
    k8sops_core::Error::InvalidInput { message: message.to_string(), source: None }.into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why etcd refused a request for reasons of its own authentication
/// (`etcdctl --user`), as [`auth_failure`] reads it from an error.
///
/// ```
/// use k8sops_backup::etcd_save::AuthFailure;
/// assert_ne!(AuthFailure::InvalidCredentials, AuthFailure::PermissionDenied);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// A wrong user name or password (etcd: `authentication failed, invalid
    /// user ID or password`).
    InvalidCredentials,
    /// etcd has authentication enabled and no user was given (etcd: `user
    /// name is empty`).
    NoCredentials,
    /// The authentication token is unknown or expired (etcd: `invalid auth
    /// token`).
    InvalidToken,
    /// The user is authenticated, but its roles do not allow the request; a
    /// snapshot, like every maintenance request, needs the `root` role (etcd:
    /// `permission denied`).
    PermissionDenied,
    /// A user was given to an etcd without authentication (etcd:
    /// `authentication is not enabled`). [`EtcdConnection::connect`] then
    /// connects without the user, as etcdctl does, so callers do not see it.
    NotEnabled,
}

impl AuthFailure {
    /// The words used in [`Error::Etcd`]'s message: `authentication failed`
    /// for the first three, `permission denied` and `authentication is not
    /// enabled` for the others.
    ///
    /// ```
    /// use k8sops_backup::etcd_save::AuthFailure;
    /// assert_eq!(AuthFailure::NoCredentials.as_str(), "authentication failed");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::InvalidCredentials | AuthFailure::NoCredentials | AuthFailure::InvalidToken => {
                "authentication failed"
            }
            AuthFailure::PermissionDenied => "permission denied",
            AuthFailure::NotEnabled => "authentication is not enabled",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            AuthFailure::InvalidCredentials => "check --user NAME:PASSWORD",
            AuthFailure::NoCredentials => "etcd has authentication enabled: give --user NAME:PASSWORD",
            AuthFailure::InvalidToken => "the token expired or etcd restarted: connect again",
            AuthFailure::PermissionDenied => "the user's roles do not allow this; a snapshot needs the root role",
            AuthFailure::NotEnabled => "leave out --user",
        }
    }
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `err` is etcd refusing a request for reasons of its own
/// authentication, and which: an [`Error::Etcd`] whose source is the gRPC
/// status etcd answers with. Its message then says `authentication failed`
/// (or `permission denied`) and names the likely fix. Other errors, including
/// refused TLS client certificates, give `None`.
///
/// ```no_run
/// use k8sops_backup::etcd_save::{auth_failure, save, AuthFailure, EtcdConnection, SaveParams};
/// # async fn main_() {
/// let conn = EtcdConnection { user: Some("root".into()), password: Some("wrong".into()), ..Default::default() };
/// if let Err(e) = save(&conn, "snap.db", &SaveParams::default()).await {
///     if auth_failure(&e) == Some(AuthFailure::InvalidCredentials) {
///         eprintln!("wrong etcd password: {e}");
///     }
/// }
/// # }
/// ```
pub fn auth_failure(err: &Error) -> Option<AuthFailure> {
    match err {
        Error::Etcd { source, .. } => auth_failure_of(source),
        _ => None,
    }
}

/// etcd's gRPC answers for authentication, read from the message: etcd
/// sends its `rpctypes` codes (`InvalidArgument`, `PermissionDenied`,
/// `FailedPrecondition`) for most, but 3.4 answers a maintenance request
/// without a user with code `Unknown` and `auth: user name is empty`.
fn auth_failure_of(e: &etcd_client::Error) -> Option<AuthFailure> {
    let etcd_client::Error::GRpcStatus(status) = e else { return None };
    let message = status.message();
    let failure = if message.contains("authentication failed") {
        AuthFailure::InvalidCredentials
    } else if message.contains("user name is empty") {
        AuthFailure::NoCredentials
    } else if message.contains("invalid auth token") {
        AuthFailure::InvalidToken
    } else if message.contains("authentication is not enabled") {
        AuthFailure::NotEnabled
    } else if message.contains("permission denied") || i32::from(status.code()) == 7 {
        AuthFailure::PermissionDenied
    } else {
        return None;
    };
    Some(failure)
}

/// A sentence for an etcd client error: what failed and the likely cause.
fn describe(what: &str, e: &etcd_client::Error) -> String {
    if let Some(failure) = auth_failure_of(e) {
        return format!("{what}: {failure}: {e} ({})", failure.hint());
    }
    use std::error::Error as _;
    let mut chain = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !chain.contains(&text) {
            chain.push_str(": ");
            chain.push_str(&text);
        }
        cur = s.source();
    }
    let lower = chain.to_lowercase();
    let hint = if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        " (check --cacert, --cert and --key: the server and client certificates must be signed by CAs the other side trusts)"
    } else if lower.contains("connection refused") || lower.contains("tcp connect") || lower.contains("dns") {
        " (is etcd listening at this address?)"
    } else if lower.contains("authentication") || lower.contains("permission denied") || lower.contains("invalid auth")
    {
        " (check --user)"
    } else {
        ""
    };
    format!("{what}: {chain}{hint}")
}

/// The core [`EtcdSnapshots`](k8sops_core::backend::EtcdSnapshots) backend
/// over a real etcd (`etcdctl snapshot save`, `member list`,
/// `endpoint status`), to attach to a [`Cluster`](k8sops_core::Cluster) with
/// `Cluster::builder(..).etcd(..)`.
///
/// ```no_run
/// use std::sync::Arc;
/// use k8sops_backup::etcd_save::{EtcdClientBackend, EtcdConnection};
/// # async fn main_(client: kube::Client) -> k8sops_core::Result<()> {
/// let etcd = EtcdClientBackend::new(EtcdConnection::default());
/// let cluster = k8sops_core::Cluster::builder(client).etcd(Arc::new(etcd)).build();
/// let members = cluster.etcd()?.members().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct EtcdClientBackend {
    conn: EtcdConnection,
}

impl EtcdClientBackend {
    /// A backend that connects with `conn` for each call.
    ///
    /// ```
    /// let b = k8sops_backup::etcd_save::EtcdClientBackend::new(Default::default());
    /// # let _ = b;
    /// ```
    pub fn new(conn: EtcdConnection) -> Self {
        EtcdClientBackend { conn }
    }

    async fn client(&self, conn: &EtcdConnection) -> k8sops_core::Result<Client> {
        conn.connect().await.map_err(to_core)
    }
}

/// Maps this crate's error to the core error the backend traits return,
/// keeping the source.
fn to_core(e: Error) -> k8sops_core::Error {
    match e {
        Error::Core(core) => core,
        other => k8sops_core::Error::Backend {
            backend: "etcd".into(),
            message: other.to_string(),
            // gRPC UNAVAILABLE (14) and DEADLINE_EXCEEDED (4), and transport failures.
            transient: matches!(&other, Error::Etcd { source: etcd_client::Error::GRpcStatus(s), .. }
                if matches!(i32::from(s.code()), 4 | 14))
                || matches!(&other, Error::Etcd { source: etcd_client::Error::TransportError(_), .. }),
            source: Some(Box::new(other)),
        },
    }
}

#[async_trait::async_trait]
impl k8sops_core::backend::EtcdSnapshots for EtcdClientBackend {
    fn backend_name(&self) -> String {
        format!("etcd at {}", self.conn.endpoints.join(","))
    }

    async fn snapshot(&self) -> k8sops_core::Result<k8sops_core::backend::SnapshotStream> {
        if self.conn.endpoints.len() != 1 {
            return Err(to_core(invalid("a snapshot must be requested from exactly one endpoint")));
        }
        let mut client = self.client(&self.conn).await?;
        let conn = self.conn.clone();
        let stream =
            client.snapshot().await.map_err(|e| to_core(conn.etcd_error("cannot open the snapshot stream", e)))?;
        let chunks = futures::stream::unfold(Some((stream, conn, client)), |state| async move {
            let (mut stream, conn, client) = state?;
            let idle = SaveParams::default().idle_timeout;
            let Ok(next) = tokio::time::timeout(idle, stream.message()).await else {
                let during = format!("waiting for snapshot data from etcd at {}", conn.endpoints.join(","));
                return Some((Err(k8sops_core::Error::Timeout { during, after: idle }), None));
            };
            match next {
                Ok(Some(msg)) => Some((Ok(bytes::Bytes::copy_from_slice(msg.blob())), Some((stream, conn, client)))),
                Ok(None) => None,
                Err(e) => Some((Err(to_core(conn.etcd_error("the snapshot stream failed", e))), None)),
            }
        });
        Ok(Box::pin(chunks))
    }

    async fn members(&self) -> k8sops_core::Result<Vec<k8sops_core::backend::EtcdMember>> {
        let mut client = self.client(&self.conn).await?;
        let list = client.member_list().await.map_err(|e| to_core(self.conn.etcd_error("member list failed", e)))?;
        Ok(list
            .members()
            .iter()
            .map(|m| k8sops_core::backend::EtcdMember {
                id: m.id(),
                name: m.name().to_string(),
                peer_urls: m.peer_urls().to_vec(),
                client_urls: m.client_urls().to_vec(),
                is_learner: m.is_learner(),
            })
            .collect())
    }

    async fn status(&self) -> k8sops_core::Result<Vec<k8sops_core::backend::EtcdEndpointStatus>> {
        let mut out = Vec::with_capacity(self.conn.endpoints.len());
        let mut failed = Vec::new();
        for endpoint in &self.conn.endpoints {
            let one = EtcdConnection { endpoints: vec![endpoint.clone()], ..self.conn.clone() };
            let answer = match self.client(&one).await {
                Ok(mut client) => {
                    client.status().await.map_err(|e| to_core(one.etcd_error("endpoint status failed", e)))
                }
                Err(e) => Err(e),
            };
            // Like `etcdctl endpoint status`, one endpoint that does not answer
            // is reported with its error and the others are still asked.
            let s = match answer {
                Ok(s) => s,
                Err(e) if self.conn.endpoints.len() > 1 => {
                    out.push(k8sops_core::backend::EtcdEndpointStatus {
                        endpoint: endpoint.clone(),
                        member_id: 0,
                        version: String::new(),
                        db_size: 0,
                        leader: 0,
                        raft_index: 0,
                        raft_term: 0,
                        errors: vec![e.to_string()],
                    });
                    failed.push((endpoint.clone(), e));
                    continue;
                }
                Err(e) => return Err(e),
            };
            out.push(k8sops_core::backend::EtcdEndpointStatus {
                endpoint: endpoint.clone(),
                member_id: s.header().map(|h| h.member_id()).unwrap_or_default(),
                version: s.version().to_string(),
                db_size: s.db_size(),
                leader: s.leader(),
                raft_index: s.raft_index(),
                raft_term: s.raft_term(),
                errors: s.errors().to_vec(),
            });
        }
        if !out.is_empty() && failed.len() == out.len() {
            let failed = AllEndpointsFailed { failures: failed };
            return Err(k8sops_core::Error::Backend {
                backend: self.backend_name(),
                message: format!("no endpoint answered: {failed}"),
                transient: true,
                source: Some(Box::new(failed)),
            });
        }
        Ok(out)
    }
}

/// Every endpoint of an `endpoint status` failed: the source of the
/// [`k8sops_core::Error::Backend`] that
/// [`EtcdSnapshots::status`](k8sops_core::backend::EtcdSnapshots::status)
/// then returns, with each endpoint's own error kept. Its
/// [`source`](std::error::Error::source) is the first endpoint's error.
///
/// ```
/// use k8sops_backup::etcd_save::AllEndpointsFailed;
/// # fn main_(err: k8sops_core::Error) {
/// let failed = std::error::Error::source(&err).and_then(|s| s.downcast_ref::<AllEndpointsFailed>());
/// for (endpoint, e) in failed.map(|f| f.failures.as_slice()).unwrap_or_default() {
///     eprintln!("{endpoint}: {e}");
/// }
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct AllEndpointsFailed {
    /// Each endpoint with its error, in the order they were asked.
    pub failures: Vec<(String, k8sops_core::Error)>,
}

impl fmt::Display for AllEndpointsFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Each error names its endpoint already.
        for (i, (_, e)) in self.failures.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AllEndpointsFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.failures.first().map(|(_, e)| e as &(dyn std::error::Error + 'static))
    }
}
