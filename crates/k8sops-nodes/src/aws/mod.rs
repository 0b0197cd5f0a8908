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

/// Maps an SDK error to a typed error, keeping it as the source. `what`
/// names the object for NotFound.
pub(crate) fn map_sdk<E>(backend: &str, what: &str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    k8sops_core::aws::map_sdk_error("", backend, what, err)
}
