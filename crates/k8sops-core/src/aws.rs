//! AWS SDK errors as typed [`Error`]s (feature `aws`), shared by every AWS
//! backend of the workspace (EKS and Auto Scaling node groups, the EKS
//! control plane). The SDK error is always kept as the error's source.
//!
//! | AWS error code | [`Error`] |
//! |---|---|
//! | transport failure, timeout | [`Error::ServiceUnreachable`] |
//! | `AccessDenied*`, `Unauthorized*`, expired or unknown credentials | [`Error::AccessDenied`] |
//! | `ResourceNotFoundException`, `NotFoundException` | [`Error::NotFound`] |
//! | `Throttling*`, `TooManyRequestsException`, `RequestLimitExceeded`, HTTP 429 | [`Error::Throttled`] (transient) |
//! | `InvalidParameter*`, `InvalidRequestException`, `Validation*` | [`Error::InvalidInput`]; Auto Scaling's and EC2's `ValidationError`/`InvalidParameterValue` saying "not found" (an unknown group or instance) is [`Error::NotFound`] |
//! | `ResourceInUseException`, `ResourceLimitExceededException`, `ScalingActivityInProgress`, `ResourceContention` | [`Error::Conflict`] |
//! | anything else | [`Error::Backend`], transient for HTTP 5xx and service-unavailable codes |

use aws_smithy_runtime_api::{client::orchestrator::HttpResponse, client::result::SdkError};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::Error;

/// Maps the SDK error of AWS operation `op` (e.g. `DescribeNodegroup`;
/// empty to leave it out of messages) on `backend` (e.g. `EKS`) to a typed
/// error; `what` names the object for [`Error::NotFound`]. The SDK error is
/// kept as the source of every variant.
///
/// ```
/// use aws_smithy_runtime_api::client::{orchestrator::HttpResponse, result::SdkError};
/// use aws_smithy_types::{body::SdkBody, error::ErrorMetadata};
/// use k8sops_core::{aws::map_sdk_error, Error};
///
/// // An error as an SDK operation returns it: metadata with the AWS code.
/// #[derive(Debug)]
/// struct OpError(ErrorMetadata);
/// impl std::fmt::Display for OpError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         write!(f, "{:?}", self.0.code())
///     }
/// }
/// impl std::error::Error for OpError {}
/// impl aws_smithy_types::error::metadata::ProvideErrorMetadata for OpError {
///     fn meta(&self) -> &ErrorMetadata {
///         &self.0
///     }
/// }
///
/// let meta = ErrorMetadata::builder().code("ThrottlingException").message("Rate exceeded").build();
/// let response = HttpResponse::new(400u16.try_into().unwrap(), SdkBody::empty());
/// let err = map_sdk_error("DescribeCluster", "EKS", "cluster prod", SdkError::service_error(OpError(meta), response));
/// assert!(matches!(err, Error::Throttled { .. }) && err.is_transient());
/// assert!(std::error::Error::source(&err).is_some(), "the SDK error is kept");
///
/// let fail = |code: &str, message: &str| {
///     let meta = ErrorMetadata::builder().code(code).message(message).build();
///     let response = HttpResponse::new(400u16.try_into().unwrap(), SdkBody::empty());
///     map_sdk_error("", "AWS", "group g", SdkError::service_error(OpError(meta), response))
/// };
/// // Auto Scaling names an unknown group only in its message.
/// assert!(fail("ValidationError", "AutoScalingGroup name not found - g").is_not_found());
/// // EKS's invalid parameters stay invalid input, whatever the message says.
/// assert!(matches!(fail("InvalidParameterException", "release 1.2 not found"), Error::InvalidInput { .. }));
/// ```
pub fn map_sdk_error<E>(op: &str, backend: &str, what: &str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    // Transport failures name the AWS service, never the Kubernetes API server.
    if matches!(err, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) {
        let message = match std::error::Error::source(&err) {
            Some(cause) => format!("{err}: {cause}"),
            None => err.to_string(),
        };
        return Error::ServiceUnreachable { service: backend.to_string(), message, source: Some(Box::new(err)) };
    }
    let code = err.code().unwrap_or("").to_string();
    let http_status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    let message = err.message().unwrap_or("").to_string();
    let source = Some(Box::new(err) as crate::BoxError);
    match code.as_str() {
        "AccessDeniedException"
        | "AccessDenied"
        | "UnauthorizedOperation"
        | "UnauthorizedException"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "AuthFailure"
        | "SignatureDoesNotMatch" => {
            Error::AccessDenied { service: backend.to_string(), message: format!("{code}: {message}"), source }
        }
        "ResourceNotFoundException" | "NotFoundException" => Error::NotFound { what: what.to_string(), source },
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded" => {
            Error::Throttled { source_name: backend.to_string(), message, retry_after: None, source }
        }
        _ if http_status == 429 => {
            Error::Throttled { source_name: backend.to_string(), message, retry_after: None, source }
        }
        // Auto Scaling and EC2 name an unknown group or instance only in the message.
        "ValidationError" | "InvalidParameterValue" if message.to_lowercase().contains("not found") => {
            Error::NotFound { what: format!("{what}: {message}"), source }
        }
        "InvalidParameterException"
        | "InvalidRequestException"
        | "ValidationException"
        | "ValidationError"
        | "InvalidParameterValue" => Error::InvalidInput { message: format!("{backend}: {message}"), source },
        "ResourceInUseException"
        | "ResourceLimitExceededException"
        | "ScalingActivityInProgress"
        | "ResourceContention" => Error::Conflict { message: format!("{backend}: {message}"), source },
        _ => {
            let transient = http_status >= 500
                || code.contains("ServiceUnavailable")
                || code.contains("InternalFailure")
                || code.contains("ServerException");
            let prefix = if op.is_empty() { String::new() } else { format!("{op}: ") };
            let message = match (code.is_empty(), message.is_empty()) {
                (_, false) => format!("{prefix}{code}: {message}"),
                (false, true) => format!("{prefix}{code}"),
                // An emulator or proxy that does not know the operation answers without an AWS error.
                (true, true) if op.is_empty() => format!("HTTP {http_status} without an AWS error code"),
                (true, true) => {
                    format!("{op} answered HTTP {http_status} without an AWS error code; does the endpoint serve {op}?")
                }
            };
            Error::Backend { backend: backend.to_string(), message, transient, source }
        }
    }
}

/// The next tokens of one paginated AWS listing. A token the service
/// already sent would list the same pages again and again: that is a typed
/// error ([`Error::Backend`], not transient), never an endless loop. An
/// empty token ends the listing, as a missing one does.
///
/// ```
/// use k8sops_core::aws::NextTokens;
/// let mut pages = NextTokens::new("ListNodegroups");
/// assert_eq!(pages.next("EKS", Some("t1"))?, Some("t1".to_string()));
/// assert_eq!(pages.next("EKS", Some(""))?, None, "an empty token ends the listing");
/// assert!(pages.next("EKS", Some("t1")).is_err(), "a token seen before would loop");
/// # Ok::<(), k8sops_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct NextTokens {
    op: String,
    seen: std::collections::HashSet<String>,
}

impl NextTokens {
    /// The pages of operation `op` (for messages).
    ///
    /// ```
    /// let pages = k8sops_core::aws::NextTokens::new("DescribeAutoScalingGroups");
    /// # let _ = pages;
    /// ```
    pub fn new(op: impl Into<String>) -> Self {
        NextTokens { op: op.into(), seen: Default::default() }
    }

    /// The token to send for the next page, `None` when the listing is
    /// done; an error when `token` was already sent by `backend`.
    ///
    /// ```
    /// let mut pages = k8sops_core::aws::NextTokens::new("ListAddons");
    /// assert_eq!(pages.next("EKS", None)?, None);
    /// # Ok::<(), k8sops_core::Error>(())
    /// ```
    pub fn next(&mut self, backend: &str, token: Option<&str>) -> crate::Result<Option<String>> {
        let Some(token) = token.filter(|t| !t.is_empty()) else { return Ok(None) };
        if !self.seen.insert(token.to_string()) {
            return Err(Error::Backend {
                backend: backend.to_string(),
                message: format!(
                    "{} returned next token {token:?} again after {} page(s): the listing would never end",
                    self.op,
                    self.seen.len() + 1
                ),
                transient: false,
                source: None,
            });
        }
        Ok(Some(token.to_string()))
    }
}
