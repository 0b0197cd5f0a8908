//! # k8sops-core
//!
//! The contract every k8sops crate shares:
//!
//! - [`Cluster`]: a cheap-to-clone handle with a `kube::Client` and optional
//!   [backends](backend) (node groups, control plane, etcd, backup store);
//! - [`Error`]: one error type whose messages say what to do, and
//!   [`RetryPolicy`] for transient failures;
//! - [`progress`]: typed progress sinks and cancellation;
//! - domain types: exact [`Quantity`] and [`ResourceList`], [`KubeVersion`],
//!   [`LabelSelector`] and [`FieldSelector`];
//! - printing: [`Table`] (kubectl-style), [`human_duration`], and the node
//!   and pod status words of [`object_status`].
//!
//! Library crates do not pick a Kubernetes version feature of `k8s-openapi`;
//! your binary does (e.g. `k8s-openapi = { version = "0.29", features = ["latest"] }`).
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod age;
#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub mod aws;
pub mod backend;
mod cluster;
#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;
pub mod describe;
mod dry_run;
mod error;
mod failure;
pub mod object_status;
pub mod paging;
pub mod progress;
pub mod quantity;
mod resources;
pub mod retry;
pub mod selector;
mod table;
pub mod version;

pub use age::human_duration;
pub use cluster::{Cluster, ClusterBuilder};
pub use dry_run::{DryRun, ParseDryRunError};
pub use error::{BoxError, Error, Result, Timeouts};
pub use failure::Failure;
pub use progress::{CancellationToken, DynProgress, NoProgress, ProgressSink, Recorder};
pub use quantity::Quantity;
pub use resources::{PodResources, ResourceList};
pub use retry::RetryPolicy;
pub use selector::{FieldSelector, LabelSelector};
pub use table::Table;
pub use version::KubeVersion;
