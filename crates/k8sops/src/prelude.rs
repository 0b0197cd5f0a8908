//! The names most programs need, in one `use`:
//!
//! ```
//! use k8sops::prelude::*;
//!
//! async fn first_report(cluster: &Cluster) -> k8sops::Result<Status> {
//!     let report = Checklist::daily().run(cluster).await;
//!     print!("{report}");
//!     Ok(report.status())
//! }
//! ```

pub use crate::checklist::{Check, CheckOutput, Checklist, ChecklistReport, Finding, Status};
pub use crate::fleet::{Fleet, FleetReport};
pub use crate::{Error, Result};
pub use k8sops_core::{CancellationToken, Cluster, DryRun, KubeVersion, ProgressSink, Quantity, ResourceList};

#[cfg(feature = "nodes")]
#[cfg_attr(docsrs, doc(cfg(feature = "nodes")))]
pub use k8sops_nodes::{DrainParams, DrainStatus};
