//! The one error type of `k8sops-core`, shared by every backend.

use std::time::Duration;

/// Result alias used across `k8sops-core`.
///
/// ```
/// fn parse_cpu(s: &str) -> k8sops_core::Result<k8sops_core::Quantity> {
///     Ok(s.parse()?)
/// }
/// assert!(parse_cpu("250m").is_ok());
/// assert!(matches!(parse_cpu("lots"), Err(k8sops_core::Error::Quantity(_))));
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error kept as the [`source`](std::error::Error::source) of a typed one.
///
/// ```
/// let e: k8sops_core::BoxError = Box::new(std::io::Error::other("boom"));
/// assert_eq!(e.to_string(), "boom");
/// ```
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The client's timeouts, so a timeout error can name the limit that was hit.
///
/// ```
/// use std::time::Duration;
/// let t = k8sops_core::Timeouts { connect: Some(Duration::from_secs(10)), read: Some(Duration::from_secs(60)) };
/// assert_eq!(t.connect, Some(Duration::from_secs(10)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// Limit on opening a connection (TCP and TLS).
    pub connect: Option<Duration>,
    /// Limit on waiting for the next bytes of a response.
    pub read: Option<Duration>,
}

/// Everything that can go wrong talking to a cluster or a backend.
///
/// Messages name the object, the server and, where there is one, the fix.
/// Use [`Error::is_transient`] to decide whether a retry can help; the
/// [`retry`](crate::retry) module does that for you.
///
/// ```
/// use k8sops_core::Error;
/// let err = Error::NotFound { what: "nodegroup workers".into(), source: None };
/// assert!(!err.is_transient());
/// assert_eq!(err.to_string(), "nodegroup workers not found");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No kubeconfig file and no in-cluster service account were found.
    #[error(
        "no Kubernetes configuration found: set KUBECONFIG, create ~/.kube/config, or run inside a pod ({reason})"
    )]
    NoConfig {
        /// Why inference failed, as kube reported it.
        reason: String,
    },

    /// The kubeconfig file could not be read.
    #[error("cannot read kubeconfig {path}: {source}")]
    KubeconfigRead {
        /// The file that was read.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The kubeconfig file is not valid YAML/JSON, or names something it does not define.
    #[error("invalid kubeconfig {path}: {message}")]
    KubeconfigInvalid {
        /// The file, or `<inferred>` when it came from `KUBECONFIG`/defaults.
        path: String,
        /// What is wrong with it.
        message: String,
    },

    /// The requested context is not in the kubeconfig.
    #[error("context {context:?} not found in kubeconfig; available contexts: {}", available.join(", "))]
    UnknownContext {
        /// The context that was asked for.
        context: String,
        /// The contexts the kubeconfig defines.
        available: Vec<String>,
    },

    /// The API server could not be reached (connection refused, DNS, reset).
    #[error("cannot reach the Kubernetes API server at {url}: {message}; check the server address and that the cluster is running")]
    Unreachable {
        /// The server URL that was dialled.
        url: String,
        /// The transport error, innermost cause last.
        message: String,
        /// The transport error itself.
        #[source]
        source: Option<BoxError>,
    },

    /// A cloud or etcd service (not the Kubernetes API server) could not be reached.
    #[error("cannot reach {service}: {message}; check the endpoint, the network and the region")]
    ServiceUnreachable {
        /// The service, e.g. `EKS (us-east-1)` or `etcd at https://10.0.0.1:2379`.
        service: String,
        /// The transport error.
        message: String,
        /// The transport error itself.
        #[source]
        source: Option<BoxError>,
    },

    /// A cloud service refused the credentials' permissions (AWS `AccessDenied`,
    /// `UnauthorizedOperation`, ...).
    #[error("{service} denied access: {message}; grant the missing IAM permission to these credentials")]
    AccessDenied {
        /// The service that refused.
        service: String,
        /// The service's message.
        message: String,
        /// The service's error.
        #[source]
        source: Option<BoxError>,
    },

    /// The TLS handshake with the API server failed.
    #[error("TLS handshake with {url} failed: {message}; check certificate-authority data in the kubeconfig")]
    Tls {
        /// The server URL.
        url: String,
        /// The TLS error.
        message: String,
        /// The TLS error itself.
        #[source]
        source: Option<BoxError>,
    },

    /// The server rejected the credentials (HTTP 401).
    #[error("the API server at {url} rejected the credentials (401 Unauthorized); refresh the token or client certificate in the kubeconfig")]
    Unauthorized {
        /// The server URL.
        url: String,
    },

    /// The caller is authenticated but not allowed to do this (HTTP 403).
    #[error("forbidden: {message}; grant the missing RBAC permission or use another identity")]
    Forbidden {
        /// The server's message, which names the user, verb and resource.
        message: String,
    },

    /// The object does not exist (HTTP 404 or a backend's equivalent).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `node ip-10-0-1-5` or `nodegroup workers`.
        what: String,
        /// The underlying error, when there is one (an AWS SDK error, ...).
        #[source]
        source: Option<BoxError>,
    },

    /// The object already exists (HTTP 409 AlreadyExists).
    #[error("{what} already exists")]
    AlreadyExists {
        /// What collided.
        what: String,
    },

    /// A precondition failed: a stale resourceVersion (HTTP 409 Conflict) or a
    /// backend's conditional write.
    #[error("conflict: {message}; re-read the object and try again")]
    Conflict {
        /// The server's message.
        message: String,
        /// The underlying error, when there is one (an AWS SDK error, ...).
        #[source]
        source: Option<BoxError>,
    },

    /// The request was well formed but its content is not acceptable.
    #[error("invalid request: {message}")]
    InvalidInput {
        /// What is wrong.
        message: String,
        /// The underlying error, when there is one (an AWS SDK error, ...).
        #[source]
        source: Option<BoxError>,
    },

    /// The server is throttling us (HTTP 429) or asked us to come back later.
    #[error("throttled by {source_name}: {message}")]
    Throttled {
        /// Who throttled: `the API server`, `EKS`, ...
        source_name: String,
        /// The server's message.
        message: String,
        /// How long the server asked us to wait, if it said.
        retry_after: Option<Duration>,
        /// The underlying error, when there is one (an AWS SDK error, ...).
        #[source]
        source: Option<BoxError>,
    },

    /// Any other error status from the Kubernetes API server.
    #[error("the API server answered {code} {reason}: {message}")]
    Api {
        /// HTTP status code.
        code: u16,
        /// Machine-readable reason (`InternalError`, `ServiceUnavailable`, ...).
        reason: String,
        /// Human-readable message.
        message: String,
        /// `retryAfterSeconds` from the status details, if any.
        retry_after: Option<Duration>,
    },

    /// An operation did not finish in the time it was given.
    #[error("timed out after {after:?} while {during}")]
    Timeout {
        /// What was going on.
        during: String,
        /// The limit that was reached.
        after: Duration,
    },

    /// The operation was cancelled by the caller.
    #[error("cancelled while {during}")]
    Cancelled {
        /// What was going on.
        during: String,
    },

    /// A backend the operation needs is not attached to the [`Cluster`](crate::Cluster).
    #[error("no {backend} backend attached to this cluster; attach one with Cluster::builder().{setter}(..)")]
    BackendMissing {
        /// The trait name, e.g. `NodeGroups`.
        backend: &'static str,
        /// The builder method that attaches it.
        setter: &'static str,
    },

    /// The backend does not support this operation.
    #[error("{backend} does not support {operation}")]
    Unsupported {
        /// The backend.
        backend: String,
        /// The operation.
        operation: String,
    },

    /// A backend failed in a way that has no better variant.
    #[error("{backend} error: {message}")]
    Backend {
        /// The backend, e.g. `EKS`, `etcd`, `local directory /backups`.
        backend: String,
        /// What it said.
        message: String,
        /// Whether retrying may help.
        transient: bool,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A quantity string could not be parsed.
    #[error(transparent)]
    Quantity(#[from] crate::quantity::ParseQuantityError),

    /// A version string could not be parsed.
    #[error(transparent)]
    Version(#[from] crate::version::ParseVersionError),

    /// A label or field selector could not be parsed.
    #[error(transparent)]
    Selector(#[from] crate::selector::ParseSelectorError),

    /// A response could not be decoded.
    #[error("cannot decode {what}: {source}")]
    Decode {
        /// What was being decoded.
        what: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// A local file operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// Any other error from the kube client.
    #[error("Kubernetes client error: {0}")]
    Kube(#[source] kube::Error),
}

impl Error {
    /// Whether retrying the same request may succeed: 429, 500, 502, 503, 504,
    /// dropped connections and timeouts. 4xx errors that cannot succeed are not
    /// transient.
    ///
    /// ```
    /// use k8sops_core::Error;
    /// let busy = Error::Api { code: 503, reason: "ServiceUnavailable".into(), message: "".into(), retry_after: None };
    /// assert!(busy.is_transient());
    /// assert!(!Error::Forbidden { message: "no".into() }.is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Throttled { .. }
            | Error::Unreachable { .. }
            | Error::ServiceUnreachable { .. }
            | Error::Timeout { .. } => true,
            Error::Api { code, .. } => matches!(code, 429 | 500 | 502 | 503 | 504),
            Error::Backend { transient, .. } => *transient,
            _ => false,
        }
    }

    /// The delay the server asked for (`Retry-After` / `retryAfterSeconds`), if any.
    ///
    /// ```
    /// use std::time::Duration;
    /// use k8sops_core::Error;
    /// let err = Error::Throttled { source_name: "EKS".into(), message: "slow down".into(), retry_after: Some(Duration::from_secs(2)), source: None };
    /// assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Throttled { retry_after, .. } | Error::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether this is a "not found" error.
    ///
    /// ```
    /// use k8sops_core::Error;
    /// assert!(Error::NotFound { what: "pod x".into(), source: None }.is_not_found());
    /// ```
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Converts a kube client error into a typed error. `url` names the server
    /// for connection errors; `what` names the object for 404s.
    ///
    /// ```
    /// use k8sops_core::Error;
    /// let status = kube::core::Status::failure("pods \"web\" not found", "NotFound").with_code(404);
    /// let err = Error::from_kube(kube::Error::Api(Box::new(status)), "https://k8s:6443", "pod default/web");
    /// assert!(err.is_not_found());
    /// ```
    pub fn from_kube(err: kube::Error, url: &str, what: &str) -> Self {
        Self::from_kube_with(err, url, what, Timeouts::default())
    }

    /// [`Error::from_kube`] for a client with known [`Timeouts`]: a timeout
    /// error then names the limit that was reached.
    ///
    /// ```
    /// use std::time::Duration;
    /// use k8sops_core::{Error, Timeouts};
    /// let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "deadline");
    /// let t = Timeouts { connect: None, read: Some(Duration::from_secs(60)) };
    /// let err = Error::from_kube_with(kube::Error::Service(Box::new(io)), "https://k8s", "pods", t);
    /// assert!(matches!(err, Error::Timeout { after, .. } if after == Duration::from_secs(60)));
    /// ```
    pub fn from_kube_with(err: kube::Error, url: &str, what: &str, timeouts: Timeouts) -> Self {
        match err {
            kube::Error::Api(status) => Self::from_status(*status, url, what),
            kube::Error::HyperError(e) => classify_transport(url, what, Box::new(e), timeouts),
            kube::Error::Service(e) => classify_transport(url, what, e, timeouts),
            kube::Error::SerdeError(source) => Error::Decode { what: what.to_string(), source },
            other => Error::Kube(other),
        }
    }

    /// Whether the credentials lack a permission: a 401, a 403, or a cloud
    /// service's access denial.
    ///
    /// ```
    /// use k8sops_core::Error;
    /// assert!(Error::Forbidden { message: "no".into() }.is_permission_denied());
    /// assert!(!Error::NotFound { what: "x".into(), source: None }.is_permission_denied());
    /// ```
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, Error::Forbidden { .. } | Error::Unauthorized { .. } | Error::AccessDenied { .. })
    }

    /// Converts an API server `Status` into a typed error.
    ///
    /// ```
    /// use k8sops_core::Error;
    /// let status = kube::core::Status::failure("too many", "TooManyRequests").with_code(429);
    /// assert!(Error::from_status(status, "https://k8s", "pod x").is_transient());
    /// ```
    pub fn from_status(status: kube::core::Status, url: &str, what: &str) -> Self {
        let retry_after = status
            .details
            .as_ref()
            .map(|d| d.retry_after_seconds)
            .filter(|s| *s > 0)
            .map(|s| Duration::from_secs(u64::from(s)));
        match status.code {
            401 => Error::Unauthorized { url: url.to_string() },
            403 => Error::Forbidden { message: status.message },
            404 => Error::NotFound { what: what.to_string(), source: None },
            409 if status.reason == "AlreadyExists" => Error::AlreadyExists { what: what.to_string() },
            409 => Error::Conflict { message: status.message, source: None },
            422 | 400 => Error::InvalidInput { message: status.message, source: None },
            429 => Error::Throttled {
                source_name: format!("the API server at {url}"),
                message: status.message,
                retry_after,
                source: None,
            },
            code => Error::Api { code, reason: status.reason, message: status.message, retry_after },
        }
    }
}

/// Classifies a transport failure by the kinds in its source chain (I/O
/// error kinds, TLS errors), never by its message text.
fn classify_transport(url: &str, what: &str, err: BoxError, timeouts: Timeouts) -> Error {
    let mut timed_out = false;
    let mut tls = false;
    let mut connecting = false;
    let mut innermost = err.to_string();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err.as_ref());
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::TimedOut => timed_out = true,
                std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::NotConnected
                | std::io::ErrorKind::AddrNotAvailable => connecting = true,
                _ => {}
            }
        }
        if e.downcast_ref::<rustls::Error>().is_some() {
            tls = true;
        }
        if let Some(h) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
            connecting |= h.is_connect();
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            timed_out |= h.is_timeout();
        }
        innermost = e.to_string();
        cur = e.source();
    }
    let message = if innermost == err.to_string() { innermost } else { format!("{err}: {innermost}") };
    if tls {
        Error::Tls { url: url.to_string(), message, source: Some(err) }
    } else if timed_out {
        let (after, during) = if connecting {
            (timeouts.connect, format!("connecting to {url}"))
        } else {
            (timeouts.read, format!("waiting for {url} to answer about {what}"))
        };
        // A limit we did not set came from the OS (e.g. TCP connect timeout).
        Error::Timeout { during, after: after.or(timeouts.read).unwrap_or_default() }
    } else {
        Error::Unreachable { url: url.to_string(), message, source: Some(err) }
    }
}
