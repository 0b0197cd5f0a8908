//! # k8sops
//!
//! Day-to-day Kubernetes operations as a typed Rust library: the semantics
//! of kubectl, etcdctl, velero, kubent and kube-bench, without shelling out.
//!
//! ## From a kubeconfig to a first report
//!
//! ```toml
//! [dependencies]
//! k8sops = "0.1"                       # every area; add features = ["aws", "etcd"] for those backends
//! k8s-openapi = { version = "0.29", features = ["latest"] }   # your binary picks the Kubernetes version
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```
//!
//! ```no_run
//! use k8sops::prelude::*;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // The current kubeconfig context (KUBECONFIG or ~/.kube/config), or the
//!     // service account when running in a pod: what kubectl would use.
//!     let cluster = Cluster::try_default().await?;
//!
//!     // The ops guide's daily checklist: nodes, pods, service endpoints,
//!     // resource usage, warning events. It never fails as a whole: a check
//!     // that is forbidden or times out is a row that says so.
//!     let report = Checklist::daily().run(&cluster).await;
//!     print!("{report}");                               // a terminal table
//!     std::fs::write("daily.html", report.to_html())?;  // one self-contained page
//!
//!     // Each area is a module with typed reports: `kubectl top nodes`...
//!     let top = k8sops::metrics::top_nodes(&cluster, None, Default::default()).await?;
//!     println!("{top}");
//!     // ...and operations that change things return what happened to each object.
//!     let drained = k8sops::nodes::drain(&cluster, "ip-10-0-1-5.ec2.internal", &DrainParams::default()).await?;
//!     println!("{}", drained.status);
//!     Ok(())
//! }
//! ```
//!
//! With no cluster at hand, the same code runs against the embedded demo
//! cluster of `k8sops-testkit` (an API server over real HTTP, seven
//! EKS-style nodes, pods with problems to find):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use k8sops::prelude::*;
//!
//! let demo = k8sops_testkit::TestServer::start().await?;
//! demo.load(&k8sops_testkit::DemoCluster::small())?;
//! let report = Checklist::daily().run(&demo.cluster()).await;
//! assert_eq!(report.status(), Status::Fail); // a NotReady node, a crash-looping pod, ...
//! # Ok(()) }
//! ```
//!
//! ## What is where
//!
//! | module | crate | feature | what |
//! |---|---|---|---|
//! | (root) | [`k8sops_core`] | always | [`Cluster`], quantities, versions, selectors, retry, progress and cancellation; [`Error`] wraps every crate's error |
//! | [`checklist`] | here | always (checks need their area) | daily / weekly / monthly checklists, reports as table, JSON, Markdown, HTML |
//! | [`fleet`] | here | always | a checklist over many kubeconfig contexts at once |
//! | `nodes` | `k8sops-nodes` | `nodes` | node status, cordon, drain, safe scale-in, node groups (EKS, Auto Scaling with `aws`) |
//! | `metrics` | `k8sops-metrics` | `metrics` | top, capacity and headroom, quotas, storage, cleanup, monitor |
//! | `diagnose` | `k8sops-diagnose` | `diagnose` | health, events, pod and service diagnosis, logs |
//! | `backup` | `k8sops-backup` | `backup` | etcd snapshots (save with `etcd`), export/restore, stores, Velero, EKS configuration (`aws`) |
//! | `upgrade` | `k8sops-upgrade` | `upgrade` | versions, skew, removed APIs, preflight, plan, EKS upgrades (`aws`), rolling node upgrades |
//! | `audit` | `k8sops-audit` | `audit` | RBAC, can-i, who-can, risks, Pod Security, PodSecurityPolicy |
//!
//! Default features: every area (`nodes`, `metrics`, `diagnose`, `backup`,
//! `upgrade`, `audit`). `aws` adds the EKS and Auto Scaling backends (the
//! AWS SDK), `etcd` adds etcd snapshot save over gRPC (needs `protoc`),
//! `full` is everything. With `default-features = false` only core, the
//! checklist framework and the checks that need no area crate are built.
//!
//! ## The rules every operation follows
//!
//! - `Err` means the operation could not run; what happened to each object
//!   is in the returned report, whose status is the one truth.
//! - Anything that acts after a drain (terminate, delete, replace) acts
//!   only after a completed drain.
//! - Long operations report progress as typed events and can be cancelled;
//!   each documents what a cancel leaves behind (`# Cancel safety`).
//! - Every area's error converts into [`Error`] with `?`, keeping its source.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod checklist;
mod error;
pub mod fleet;
pub mod prelude;

pub use error::{Error, Result};
/// Security audit: RBAC, can-i, who-can, risk findings, Pod Security, PSP (`k8sops-audit`).
#[cfg(feature = "audit")]
#[cfg_attr(docsrs, doc(cfg(feature = "audit")))]
pub use k8sops_audit as audit;
/// Backup and recovery: etcd snapshots, export/restore, stores, Velero (`k8sops-backup`).
#[cfg(feature = "backup")]
#[cfg_attr(docsrs, doc(cfg(feature = "backup")))]
pub use k8sops_backup as backup;
/// `k8sops-core`'s own error (also reachable as [`Error::Core`]).
pub use k8sops_core::Error as CoreError;
pub use k8sops_core::*;
/// Diagnosis: health, events, pods, services, logs (`k8sops-diagnose`).
#[cfg(feature = "diagnose")]
#[cfg_attr(docsrs, doc(cfg(feature = "diagnose")))]
pub use k8sops_diagnose as diagnose;
/// Metrics and capacity: top, quotas, storage, cleanup, monitor (`k8sops-metrics`).
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use k8sops_metrics as metrics;
/// Node management: status, cordon, drain, node groups (`k8sops-nodes`).
#[cfg(feature = "nodes")]
#[cfg_attr(docsrs, doc(cfg(feature = "nodes")))]
pub use k8sops_nodes as nodes;
/// Upgrades: versions, skew, removed APIs, preflight, plan, rolling upgrades (`k8sops-upgrade`).
#[cfg(feature = "upgrade")]
#[cfg_attr(docsrs, doc(cfg(feature = "upgrade")))]
pub use k8sops_upgrade as upgrade;

/// The README's examples, compiled as doc tests so they stay true.
#[cfg(all(doctest, feature = "nodes", feature = "metrics", feature = "diagnose"))]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

/// The examples of docs/audit.md, compiled as doc tests.
#[cfg(all(doctest, feature = "audit"))]
#[doc = include_str!("../../../docs/audit.md")]
struct AuditDocDoctests;

/// The examples of docs/checklists.md, compiled as doc tests.
#[cfg(all(doctest, feature = "metrics"))]
#[doc = include_str!("../../../docs/checklists.md")]
struct ChecklistsDocDoctests;
