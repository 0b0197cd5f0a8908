//! AWS backends for the core [`NodeGroups`](k8sops_core::backend::NodeGroups)
//! trait (feature `aws`): EKS managed node groups ([`EksNodeGroups`]) and EC2
//! Auto Scaling groups ([`AutoScalingNodeGroups`]). Both pass the core
//! conformance suite against moto; SDK errors map to typed errors
//! (`ResourceNotFoundException` → `NotFound`, throttling → `Throttled`,
//! invalid parameters → `InvalidInput`).
//!
//! ```no_run
//! use std::sync::Arc;
//! # async fn f(kube: kube::Client) -> Result<(), Box<dyn std::error::Error>> {
//! let sdk = k8sops_nodes::aws::sdk_config(None).await;
//! let eks = k8sops_nodes::aws::EksNodeGroups::new(&sdk, "prod");
//! let cluster = k8sops_core::Cluster::builder(kube).node_groups(Arc::new(eks)).build();
//! # Ok(()) }
//! ```

mod asg;
mod eks;

pub use asg::AutoScalingNodeGroups;
pub use aws_config;
pub use aws_sdk_autoscaling;
pub use aws_sdk_eks;
use aws_sdk_eks::{
    config::http::HttpResponse,
    error::{ProvideErrorMetadata, SdkError},
};
pub use eks::EksNodeGroups;
use k8sops_core::Error;

/// Loads the AWS SDK configuration from the environment (profile, region,
/// credentials), optionally pointing every service at `endpoint_url` (an
/// emulator, a VPC endpoint).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // moto's server mode, as the tests use it.
/// let sdk = k8sops_nodes::aws::sdk_config(Some("http://127.0.0.1:5000")).await;
/// assert!(sdk.endpoint_url().is_some());
/// # Ok(()) }
/// ```
pub async fn sdk_config(endpoint_url: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Maps an SDK error to a typed error. `what` names the object for NotFound.
pub(crate) fn map_sdk<E>(backend: &str, what: &str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().unwrap_or("").to_string();
    let http_status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    let message = err.message().unwrap_or("").to_string();
    // Transport failures name the AWS service, never the Kubernetes API server.
    if matches!(err, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) {
        let message = match std::error::Error::source(&err) {
            Some(cause) => format!("{err}: {cause}"),
            None => err.to_string(),
        };
        return Error::ServiceUnreachable { service: backend.to_string(), message, source: Some(Box::new(err)) };
    }
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
        | "SignatureDoesNotMatch" => Error::AccessDenied {
            service: backend.to_string(),
            message: format!("{code}: {message}"),
            source: Some(Box::new(err)),
        },
        "ResourceNotFoundException" | "NotFoundException" => Error::NotFound { what: what.to_string() },
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded" => {
            Error::Throttled { source_name: backend.to_string(), message, retry_after: None }
        }
        "InvalidParameterException" | "InvalidRequestException" | "ValidationError" | "InvalidParameterValue" => {
            if message.to_lowercase().contains("not found") {
                Error::NotFound { what: format!("{what}: {message}") }
            } else {
                Error::InvalidInput { message: format!("{backend}: {message}") }
            }
        }
        "ResourceInUseException" | "ScalingActivityInProgress" | "ResourceContention" => {
            Error::Conflict { message: format!("{backend}: {message}") }
        }
        _ => {
            let transient = http_status >= 500
                || code.contains("ServiceUnavailable")
                || code.contains("InternalFailure")
                || code.contains("ServerException");
            let message = if message.is_empty() { format!("{code} {err:?}") } else { format!("{code}: {message}") };
            Error::Backend { backend: backend.to_string(), message, transient, source: Some(Box::new(err)) }
        }
    }
}
