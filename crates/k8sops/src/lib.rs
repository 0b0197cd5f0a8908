//! # k8sops
//!
//! Day-to-day Kubernetes operations as a typed Rust library: the semantics
//! of kubectl, etcdctl, velero, kubent and kube-bench, without shelling out.
//!
//! This facade re-exports every k8sops crate and runs the operational
//! checklists:
//!
//! | module | crate | what |
//! |---|---|---|
//! | (root) | [`k8sops_core`] | [`Cluster`], quantities, versions, selectors, retry, progress; [`Error`] wraps every crate's error |
//! | [`nodes`] | `k8sops-nodes` | node status, cordon, drain, node groups (EKS, Auto Scaling with `aws`) |
//! | [`metrics`] | `k8sops-metrics` | top, allocated resources, quotas, storage, cleanup |
//! | [`diagnose`] | `k8sops-diagnose` | health, events, pod/service diagnosis, logs |
//! | [`backup`] | `k8sops-backup` | etcd snapshots (`etcd`), resource exports |
//! | [`upgrade`] | `k8sops-upgrade` | version skew, deprecated APIs, EKS upgrades (`aws`) |
//! | [`audit`] | `k8sops-audit` | RBAC, Pod Security, risky workloads |
//! | [`checklist`] | here | the daily / weekly / monthly checklists |
//!
//! Features: `aws`, `etcd`, `full`. Without them no AWS SDK or gRPC stack
//! is compiled.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod checklist;
mod error;

pub use error::{Error, Result};
pub use k8sops_audit as audit;
pub use k8sops_backup as backup;
/// `k8sops-core`'s own error (also reachable as [`Error::Core`]).
pub use k8sops_core::Error as CoreError;
pub use k8sops_core::*;
pub use k8sops_diagnose as diagnose;
pub use k8sops_metrics as metrics;
pub use k8sops_nodes as nodes;
pub use k8sops_upgrade as upgrade;

/// The README's examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

/// The examples of docs/audit.md, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/audit.md")]
struct AuditDocDoctests;
