//! Storage inventory and findings: `kubectl get pv`, `get pvc -A`,
//! `get storageclass`, and what needs attention — Pending claims (with the
//! event that says why), Released or Failed volumes, claims no pod uses,
//! claims naming a missing class, and a missing or duplicated default class.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
};

use futures::TryStreamExt;
use k8s_openapi::api::{
    core::v1::{Event, PersistentVolume, PersistentVolumeClaim, Pod},
    storage::v1::StorageClass,
};
use k8sops_core::{paging, Cluster, FieldSelector, Table};
use kube::{api::ListParams, Api};
use serde::Serialize;

use crate::Result;

fn short_mode(m: &str) -> &str {
    match m {
        "ReadWriteOnce" => "RWO",
        "ReadOnlyMany" => "ROX",
        "ReadWriteMany" => "RWX",
        "ReadWriteOncePod" => "RWOP",
        other => other,
    }
}

/// A PersistentVolume, as `kubectl get pv` shows it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = k8sops_metrics::storage_report(&cluster).await?;
/// for v in &report.volumes {
///     println!("{} {} {} {}", v.name, v.capacity, v.reclaim_policy, v.status);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeLine {
    /// Name.
    pub name: String,
    /// CAPACITY.
    pub capacity: String,
    /// ACCESS MODES (RWO, ROX, RWX, RWOP).
    pub access_modes: Vec<String>,
    /// RECLAIM POLICY.
    pub reclaim_policy: String,
    /// STATUS (phase).
    pub status: String,
    /// CLAIM as `namespace/name`.
    pub claim: Option<String>,
    /// STORAGECLASS.
    pub storage_class: String,
}

/// A PersistentVolumeClaim, as `kubectl get pvc -A` shows it, with the pods using it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = k8sops_metrics::storage_report(&cluster).await?;
/// let pending = report.claims.iter().filter(|c| c.status == "Pending").count();
/// assert!(pending > 0, "the demo has a claim without a volume");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimLine {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// STATUS (phase).
    pub status: String,
    /// VOLUME.
    pub volume: Option<String>,
    /// CAPACITY (bound) or requested size.
    pub capacity: String,
    /// ACCESS MODES.
    pub access_modes: Vec<String>,
    /// STORAGECLASS.
    pub storage_class: Option<String>,
    /// Pods that mount it.
    pub used_by: Vec<String>,
}

/// A StorageClass.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = k8sops_metrics::storage_report(&cluster).await?;
/// assert_eq!(report.classes.iter().filter(|c| c.default).count(), 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassLine {
    /// Name.
    pub name: String,
    /// Provisioner.
    pub provisioner: String,
    /// Reclaim policy.
    pub reclaim_policy: String,
    /// Volume binding mode.
    pub binding_mode: String,
    /// Whether it is the default class.
    pub default: bool,
}

/// Something in storage that needs attention.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// use k8sops_metrics::StorageFinding;
/// let report = k8sops_metrics::storage_report(&cluster).await?;
/// for f in &report.findings {
///     if let StorageFinding::PendingClaim { claim, reason } = f {
///         println!("{claim} is Pending: {}", reason.as_deref().unwrap_or("no event yet"));
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum StorageFinding {
    /// A claim is Pending; `reason` is the latest event about it, if any.
    PendingClaim {
        /// `namespace/name`.
        claim: String,
        /// Why, from its events.
        reason: Option<String>,
    },
    /// A claim names a StorageClass that does not exist.
    MissingStorageClass {
        /// `namespace/name`.
        claim: String,
        /// The class.
        class: String,
    },
    /// A volume is Released (its claim is gone; data kept by the Retain policy).
    ReleasedVolume {
        /// Volume.
        volume: String,
    },
    /// A volume is Failed (reclamation failed).
    FailedVolume {
        /// Volume.
        volume: String,
    },
    /// A bound claim that no pod mounts.
    UnusedClaim {
        /// `namespace/name`.
        claim: String,
    },
    /// No StorageClass is marked default: claims without a class stay Pending.
    NoDefaultStorageClass,
    /// More than one StorageClass is marked default.
    MultipleDefaultStorageClasses {
        /// The defaults.
        classes: Vec<String>,
    },
}

impl fmt::Display for StorageFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageFinding::PendingClaim { claim, reason } => {
                write!(
                    f,
                    "claim {claim} is Pending: {}",
                    reason.as_deref().unwrap_or("no event says why; check the provisioner")
                )
            }
            StorageFinding::MissingStorageClass { claim, class } => {
                write!(f, "claim {claim} names StorageClass {class}, which does not exist")
            }
            StorageFinding::ReleasedVolume { volume } => {
                write!(f, "volume {volume} is Released: its claim is gone; reuse or delete it")
            }
            StorageFinding::FailedVolume { volume } => write!(f, "volume {volume} is Failed: its reclamation failed"),
            StorageFinding::UnusedClaim { claim } => write!(f, "claim {claim} is bound but no pod uses it"),
            StorageFinding::NoDefaultStorageClass => {
                f.write_str("no default StorageClass: claims without storageClassName stay Pending")
            }
            StorageFinding::MultipleDefaultStorageClasses { classes } => {
                write!(f, "several default StorageClasses: {}", classes.join(", "))
            }
        }
    }
}

/// The result of [`storage_report`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = k8sops_metrics::storage_report(&cluster).await?;
/// print!("{report}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StorageReport {
    /// Volumes by name.
    pub volumes: Vec<VolumeLine>,
    /// Claims by namespace and name.
    pub claims: Vec<ClaimLine>,
    /// Classes by name.
    pub classes: Vec<ClassLine>,
    /// Findings.
    pub findings: Vec<StorageFinding>,
}

impl fmt::Display for StorageReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t =
            Table::new(["name", "capacity", "access modes", "reclaim policy", "status", "claim", "storageclass"]);
        for v in &self.volumes {
            t.row([
                v.name.clone(),
                v.capacity.clone(),
                v.access_modes.join(","),
                v.reclaim_policy.clone(),
                v.status.clone(),
                v.claim.clone().unwrap_or_default(),
                v.storage_class.clone(),
            ]);
        }
        writeln!(f, "{t}")?;
        let mut t = Table::new([
            "namespace",
            "name",
            "status",
            "volume",
            "capacity",
            "access modes",
            "storageclass",
            "used by",
        ]);
        for c in &self.claims {
            t.row([
                c.namespace.clone(),
                c.name.clone(),
                c.status.clone(),
                c.volume.clone().unwrap_or_default(),
                c.capacity.clone(),
                c.access_modes.join(","),
                c.storage_class.clone().unwrap_or_default(),
                if c.used_by.is_empty() { "-".into() } else { c.used_by.join(",") },
            ]);
        }
        writeln!(f, "{t}")?;
        let mut t = Table::new(["name", "provisioner", "reclaimpolicy", "volumebindingmode"]);
        for c in &self.classes {
            let name = if c.default { format!("{} (default)", c.name) } else { c.name.clone() };
            t.row([name, c.provisioner.clone(), c.reclaim_policy.clone(), c.binding_mode.clone()]);
        }
        write!(f, "{t}")?;
        if !self.findings.is_empty() {
            writeln!(f, "\nFindings:")?;
            for x in &self.findings {
                writeln!(f, "  - {x}")?;
            }
        }
        Ok(())
    }
}

/// PV, PVC and StorageClass inventory with findings.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops_metrics::storage_report(&server.cluster()).await?;
/// assert!(report.findings.iter().any(|f| matches!(f, k8sops_metrics::StorageFinding::PendingClaim { .. })));
/// println!("{report}");
/// # Ok(()) }
/// ```
pub async fn storage_report(cluster: &Cluster) -> Result<StorageReport> {
    let pv_api: Api<PersistentVolume> = cluster.api_all();
    let pvc_api: Api<PersistentVolumeClaim> = cluster.api_all();
    let sc_api: Api<StorageClass> = cluster.api_all();
    let pvs = paging::list_all(cluster, &pv_api, ListParams::default()).await?;
    let pvcs = paging::list_all(cluster, &pvc_api, ListParams::default()).await?;
    let scs = paging::list_all(cluster, &sc_api, ListParams::default()).await?;

    // Which pods mount which claims (pods are streamed page by page).
    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let pods_api: Api<Pod> = cluster.api_all();
    let mut pages = std::pin::pin!(paging::pages(cluster, &pods_api, ListParams::default(), paging::DEFAULT_PAGE_SIZE));
    while let Some(page) = pages.try_next().await? {
        for p in page {
            let ns = p.metadata.namespace.clone().unwrap_or_default();
            for v in p.spec.as_ref().and_then(|s| s.volumes.as_ref()).into_iter().flatten() {
                if let Some(c) = &v.persistent_volume_claim {
                    users
                        .entry(format!("{ns}/{}", c.claim_name))
                        .or_default()
                        .push(p.metadata.name.clone().unwrap_or_default());
                }
            }
        }
    }

    let mut findings = Vec::new();
    let classes: Vec<ClassLine> = scs
        .iter()
        .map(|c| ClassLine {
            name: c.metadata.name.clone().unwrap_or_default(),
            provisioner: c.provisioner.clone(),
            reclaim_policy: c.reclaim_policy.clone().unwrap_or_else(|| "Delete".into()),
            binding_mode: c.volume_binding_mode.clone().unwrap_or_else(|| "Immediate".into()),
            default: c.metadata.annotations.as_ref().is_some_and(|a| {
                a.get("storageclass.kubernetes.io/is-default-class").map(String::as_str) == Some("true")
                    || a.get("storageclass.beta.kubernetes.io/is-default-class").map(String::as_str) == Some("true")
            }),
        })
        .collect();
    let defaults: Vec<String> = classes.iter().filter(|c| c.default).map(|c| c.name.clone()).collect();
    match defaults.len() {
        0 => findings.push(StorageFinding::NoDefaultStorageClass),
        1 => {}
        _ => findings.push(StorageFinding::MultipleDefaultStorageClasses { classes: defaults }),
    }
    let class_names: BTreeSet<&str> = classes.iter().map(|c| c.name.as_str()).collect();

    let volumes: Vec<VolumeLine> = pvs
        .iter()
        .map(|v| {
            let spec = v.spec.as_ref();
            VolumeLine {
                name: v.metadata.name.clone().unwrap_or_default(),
                capacity: spec
                    .and_then(|s| s.capacity.as_ref())
                    .and_then(|c| c.get("storage"))
                    .map(|q| q.0.clone())
                    .unwrap_or_default(),
                access_modes: spec
                    .and_then(|s| s.access_modes.as_ref())
                    .into_iter()
                    .flatten()
                    .map(|m| short_mode(m).to_string())
                    .collect(),
                reclaim_policy: spec
                    .and_then(|s| s.persistent_volume_reclaim_policy.clone())
                    .unwrap_or_else(|| "Retain".into()),
                status: v.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default(),
                claim: spec
                    .and_then(|s| s.claim_ref.as_ref())
                    .map(|c| format!("{}/{}", c.namespace.as_deref().unwrap_or(""), c.name.as_deref().unwrap_or(""))),
                storage_class: spec.and_then(|s| s.storage_class_name.clone()).unwrap_or_default(),
            }
        })
        .collect();
    for v in &volumes {
        match v.status.as_str() {
            "Released" => findings.push(StorageFinding::ReleasedVolume { volume: v.name.clone() }),
            "Failed" => findings.push(StorageFinding::FailedVolume { volume: v.name.clone() }),
            _ => {}
        }
    }

    let events_api: Api<Event> = cluster.api_all();
    let mut claims = Vec::new();
    for c in &pvcs {
        let ns = c.metadata.namespace.clone().unwrap_or_default();
        let name = c.metadata.name.clone().unwrap_or_default();
        let key = format!("{ns}/{name}");
        let spec = c.spec.as_ref();
        let status = c.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
        let class = spec.and_then(|s| s.storage_class_name.clone());
        let capacity = c
            .status
            .as_ref()
            .and_then(|s| s.capacity.as_ref())
            .or(spec.and_then(|s| s.resources.as_ref()).and_then(|r| r.requests.as_ref()))
            .and_then(|m| m.get("storage"))
            .map(|q| q.0.clone())
            .unwrap_or_default();
        if let Some(cl) = &class {
            if !cl.is_empty() && !class_names.contains(cl.as_str()) {
                findings.push(StorageFinding::MissingStorageClass { claim: key.clone(), class: cl.clone() });
            }
        }
        if status == "Pending" {
            let fields = FieldSelector::new()
                .eq("involvedObject.kind", "PersistentVolumeClaim")
                .eq("involvedObject.name", &name)
                .eq("involvedObject.namespace", &ns);
            let mut events =
                paging::list_all(cluster, &events_api, ListParams::default().fields(&fields.to_string())).await?;
            // Most recent last, by kubectl's LAST SEEN (series, lastTimestamp, ...).
            events.sort_by(|a, b| {
                k8sops_core::object_status::event_last_seen(a)
                    .cmp(&k8sops_core::object_status::event_last_seen(b))
                    .then_with(|| k8sops_core::object_status::event_order(a, b))
            });
            let reason = events.last().map(|e| {
                format!("{}: {}", e.reason.clone().unwrap_or_default(), e.message.clone().unwrap_or_default())
            });
            findings.push(StorageFinding::PendingClaim { claim: key.clone(), reason });
        }
        let used_by = users.remove(&key).unwrap_or_default();
        if status == "Bound" && used_by.is_empty() {
            findings.push(StorageFinding::UnusedClaim { claim: key.clone() });
        }
        claims.push(ClaimLine {
            namespace: ns,
            name,
            status,
            volume: spec.and_then(|s| s.volume_name.clone()).filter(|v| !v.is_empty()),
            capacity,
            access_modes: spec
                .and_then(|s| s.access_modes.as_ref())
                .into_iter()
                .flatten()
                .map(|m| short_mode(m).to_string())
                .collect(),
            storage_class: class,
            used_by,
        });
    }
    Ok(StorageReport { volumes, claims, classes, findings })
}
