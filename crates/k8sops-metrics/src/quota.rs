//! `kubectl get resourcequota -A` / `describe resourcequota` with used/hard
//! percentages (flagged at 80%), and `kubectl get limitrange -A`.

use std::fmt;

use k8s_openapi::api::core::v1::{LimitRange, ResourceQuota};
use k8sops_core::{paging, Cluster, Quantity, ResourceList, Table};
use kube::{api::ListParams, Api};
use serde::Serialize;

use crate::Result;

/// Usage of one resource of one quota.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = k8sops_metrics::quotas(&cluster, Some("shop"), 80).await?;
/// for line in &report.lines {
///     println!("{}/{} {}: {} of {} ({}%)", line.namespace, line.quota, line.resource, line.used, line.hard, line.percent());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaLine {
    /// Namespace.
    pub namespace: String,
    /// Quota name.
    pub quota: String,
    /// Resource, e.g. `requests.cpu`, `pods`.
    pub resource: String,
    /// Used.
    pub used: Quantity,
    /// Hard limit.
    pub hard: Quantity,
}

impl QuotaLine {
    /// Used as a percentage of hard (truncated; 0 when hard is 0).
    ///
    /// ```
    /// let line = k8sops_metrics::QuotaLine {
    ///     namespace: "shop".into(),
    ///     quota: "shop-quota".into(),
    ///     resource: "requests.cpu".into(),
    ///     used: "3600m".parse().unwrap(),
    ///     hard: "4".parse().unwrap(),
    /// };
    /// assert_eq!(line.percent(), 90);
    /// ```
    pub fn percent(&self) -> i64 {
        self.used.percent_of(self.hard)
    }
}

/// The result of [`quotas`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = k8sops_metrics::quotas(&cluster, None, 80).await?;
/// assert!(report.forbidden_namespaces.is_empty());
/// print!("{report}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaReport {
    /// Every resource of every quota.
    pub lines: Vec<QuotaLine>,
    /// The threshold used by [`QuotaReport::near_full`], in percent.
    pub threshold: i64,
    /// Namespaces whose quotas could not be read (403); they are not covered.
    pub forbidden_namespaces: Vec<String>,
}

impl QuotaReport {
    /// Lines at or above the threshold.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let report = k8sops_metrics::quotas(&server.cluster(), None, 80).await?;
    /// assert!(report.near_full().all(|l| l.percent() >= 80));
    /// # Ok(()) }
    /// ```
    pub fn near_full(&self) -> impl Iterator<Item = &QuotaLine> {
        self.lines.iter().filter(|l| l.percent() >= self.threshold)
    }
}

impl fmt::Display for QuotaReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = Table::new(["namespace", "quota", "resource", "used", "hard", "used%", ""]);
        for l in &self.lines {
            let flag = if l.percent() >= self.threshold { "NEAR LIMIT" } else { "" };
            t.row([
                l.namespace.clone(),
                l.quota.clone(),
                l.resource.clone(),
                l.used.to_string(),
                l.hard.to_string(),
                format!("{}%", l.percent()),
                flag.into(),
            ]);
        }
        write!(f, "{t}")?;
        if !self.forbidden_namespaces.is_empty() {
            writeln!(f, "not checked (forbidden): {}", self.forbidden_namespaces.join(", "))?;
        }
        Ok(())
    }
}

/// ResourceQuota usage in one namespace or all, flagging resources at or
/// above `threshold` percent (the ops guide's review uses 80).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops_metrics::quotas(&server.cluster(), None, 80).await?;
/// assert!(report.near_full().any(|l| l.namespace == "legacy" && l.resource == "requests.cpu"));
/// # Ok(()) }
/// ```
pub async fn quotas(cluster: &Cluster, namespace: Option<&str>, threshold: i64) -> Result<QuotaReport> {
    // Across namespaces, a user who may read only some of them still gets those.
    let (found, forbidden_namespaces) = match namespace {
        Some(ns) => (
            paging::list_all(cluster, &cluster.api_namespaced::<ResourceQuota>(ns), ListParams::default()).await?,
            Vec::new(),
        ),
        None => {
            let partial = paging::list_readable::<ResourceQuota>(cluster, ListParams::default()).await?;
            (partial.items, partial.forbidden)
        }
    };
    let mut lines = Vec::new();
    for q in found {
        let status = q.status.as_ref();
        let parse = |m: Option<
            &std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
        >| { m.map(ResourceList::from_k8s).transpose().map(Option::unwrap_or_default) };
        let hard = parse(status.and_then(|s| s.hard.as_ref()).or(q.spec.as_ref().and_then(|s| s.hard.as_ref())))
            .map_err(k8sops_core::Error::from)?;
        let used = parse(status.and_then(|s| s.used.as_ref())).map_err(k8sops_core::Error::from)?;
        for (resource, h) in hard.iter() {
            lines.push(QuotaLine {
                namespace: q.metadata.namespace.clone().unwrap_or_default(),
                quota: q.metadata.name.clone().unwrap_or_default(),
                resource: resource.to_string(),
                used: used.get(resource),
                hard: *h,
            });
        }
    }
    lines.sort_by(|a, b| (&a.namespace, &a.quota, &a.resource).cmp(&(&b.namespace, &b.quota, &b.resource)));
    Ok(QuotaReport { lines, threshold, forbidden_namespaces })
}

/// One limit of a LimitRange.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = k8sops_metrics::limit_ranges(&cluster, None).await?;
/// for item in &report.items {
///     println!("{}/{} {} {}: default limit {:?}", item.namespace, item.name, item.type_, item.resource, item.default_limit);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitRangeItem {
    /// Namespace.
    pub namespace: String,
    /// LimitRange name.
    pub name: String,
    /// `Container`, `Pod` or `PersistentVolumeClaim`.
    pub type_: String,
    /// Resource.
    pub resource: String,
    /// Minimum, maximum, default limit and default request, when set.
    pub min: Option<Quantity>,
    /// Maximum.
    pub max: Option<Quantity>,
    /// Default limit.
    pub default_limit: Option<Quantity>,
    /// Default request.
    pub default_request: Option<Quantity>,
}

/// The result of [`limit_ranges`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let report = k8sops_metrics::limit_ranges(&cluster, Some("shop")).await?;
/// print!("{report}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitRangeReport {
    /// Every limit of every LimitRange.
    pub items: Vec<LimitRangeItem>,
}

impl fmt::Display for LimitRangeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t =
            Table::new(["namespace", "name", "type", "resource", "min", "max", "default request", "default limit"]);
        let show = |q: &Option<Quantity>| q.map(|q| q.to_string()).unwrap_or_else(|| "-".into());
        for i in &self.items {
            t.row([
                i.namespace.clone(),
                i.name.clone(),
                i.type_.clone(),
                i.resource.clone(),
                show(&i.min),
                show(&i.max),
                show(&i.default_request),
                show(&i.default_limit),
            ]);
        }
        write!(f, "{t}")
    }
}

/// LimitRanges in one namespace or all (`kubectl get limitrange -A`, with
/// the min, max and defaults `kubectl describe limitrange` shows).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops_metrics::limit_ranges(&server.cluster(), Some("shop")).await?;
/// assert!(report.items.iter().all(|i| i.namespace == "shop"));
/// println!("{report}");
/// # Ok(()) }
/// ```
pub async fn limit_ranges(cluster: &Cluster, namespace: Option<&str>) -> Result<LimitRangeReport> {
    let api: Api<LimitRange> = cluster.api_in(namespace);
    let mut items = Vec::new();
    for lr in paging::list_all(cluster, &api, ListParams::default()).await? {
        for limit in lr.spec.iter().flat_map(|s| s.limits.iter()) {
            let lists = [&limit.min, &limit.max, &limit.default, &limit.default_request]
                .map(|m| m.as_ref().map(ResourceList::from_k8s).transpose().map(Option::unwrap_or_default));
            let [min, max, default, default_request] = lists;
            let (min, max, default, default_request) = (
                min.map_err(k8sops_core::Error::from)?,
                max.map_err(k8sops_core::Error::from)?,
                default.map_err(k8sops_core::Error::from)?,
                default_request.map_err(k8sops_core::Error::from)?,
            );
            let mut resources: Vec<String> = Vec::new();
            for l in [&min, &max, &default, &default_request] {
                for (k, _) in l.iter() {
                    if !resources.iter().any(|r| r == k) {
                        resources.push(k.to_string());
                    }
                }
            }
            resources.sort();
            let pick = |l: &ResourceList, r: &str| l.contains(r).then(|| l.get(r));
            for r in resources {
                items.push(LimitRangeItem {
                    namespace: lr.metadata.namespace.clone().unwrap_or_default(),
                    name: lr.metadata.name.clone().unwrap_or_default(),
                    type_: limit.type_.clone(),
                    min: pick(&min, &r),
                    max: pick(&max, &r),
                    default_limit: pick(&default, &r),
                    default_request: pick(&default_request, &r),
                    resource: r,
                });
            }
        }
    }
    Ok(LimitRangeReport { items })
}
