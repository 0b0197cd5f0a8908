//! Events across namespaces, sorted by when they last happened, whichever
//! event API wrote them (`lastTimestamp` from core/v1 writers, `eventTime`
//! and `series` from events.k8s.io writers), with kubectl's filters.

use std::{fmt, time::Duration};

use k8s_openapi::{api::core::v1::Event, jiff::Timestamp};
use k8sops_core::{age::age_since, paging, Cluster, FieldSelector, Table};
use kube::{api::ListParams, Api};
use serde::Serialize;

use crate::Result;

/// Filters for [`events`].
///
/// ```
/// use std::time::Duration;
/// // kubectl events -A --types=Warning --for pod/web-0, from the last hour
/// let params = k8sops_diagnose::EventParams {
///     warnings_only: true,
///     since: Some(Duration::from_secs(3600)),
///     involved: Some(("Pod".into(), "web-0".into())),
///     ..Default::default()
/// };
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventParams {
    /// One namespace, or all.
    pub namespace: Option<String>,
    /// Only `type=Warning` (`kubectl events --types=Warning`).
    pub warnings_only: bool,
    /// Only events seen within this long.
    pub since: Option<Duration>,
    /// Only events about this object: kind and name.
    pub involved: Option<(String, String)>,
    /// Only this reason (e.g. `FailedScheduling`).
    pub reason: Option<String>,
}

/// One event.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let params = k8sops_diagnose::EventParams { warnings_only: true, ..Default::default() };
/// for e in k8sops_diagnose::events(&cluster, &params).await? {
///     println!("{} {} {}: {} (x{})", e.namespace, e.reason, e.object, e.message, e.count);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventLine {
    /// Namespace.
    pub namespace: String,
    /// Event name.
    pub name: String,
    /// When it last happened.
    pub last_seen: Option<Timestamp>,
    /// `Normal` or `Warning`.
    pub type_: String,
    /// Reason.
    pub reason: String,
    /// `kind/name` of the object.
    pub object: String,
    /// Message.
    pub message: String,
    /// How many times.
    pub count: i32,
}

/// When an event last happened, from whichever field its writer set.
fn last_seen(e: &Event) -> Option<Timestamp> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.series.as_ref().and_then(|s| s.last_observed_time.as_ref()).map(|t| t.0))
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// A printable list of events (`kubectl get events` columns).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let list = k8sops_diagnose::events(&cluster, &Default::default()).await?;
/// print!("{}", k8sops_diagnose::events::EventTable(&list));
/// # Ok(()) }
/// ```
pub struct EventTable<'a>(pub &'a [EventLine]);

impl fmt::Display for EventTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let now = Timestamp::now();
        let mut t = Table::new(["namespace", "last seen", "type", "reason", "object", "message"]);
        for e in self.0 {
            t.row([
                e.namespace.clone(),
                age_since(e.last_seen, now),
                e.type_.clone(),
                e.reason.clone(),
                e.object.clone(),
                e.message.clone(),
            ]);
        }
        write!(f, "{t}")
    }
}

/// Events, oldest first, filtered server-side where the API allows.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let warnings = k8sops_diagnose::events(&server.cluster(), &k8sops_diagnose::EventParams { warnings_only: true, ..Default::default() }).await?;
/// assert!(warnings.iter().all(|e| e.type_ == "Warning"));
/// println!("{}", k8sops_diagnose::events::EventTable(&warnings));
/// # Ok(()) }
/// ```
pub async fn events(cluster: &Cluster, params: &EventParams) -> Result<Vec<EventLine>> {
    let mut fields = FieldSelector::new();
    if params.warnings_only {
        fields = fields.eq("type", "Warning");
    }
    if let Some((kind, name)) = &params.involved {
        fields = fields.eq("involvedObject.kind", kind).eq("involvedObject.name", name);
    }
    if let Some(r) = &params.reason {
        fields = fields.eq("reason", r);
    }
    let api: Api<Event> = cluster.api_in(params.namespace.as_deref());
    let now = Timestamp::now();
    let mut out: Vec<EventLine> = paging::list_all(cluster, &api, ListParams::default().fields(&fields.to_string()))
        .await?
        .into_iter()
        .map(|e| EventLine {
            namespace: e.metadata.namespace.clone().unwrap_or_default(),
            name: e.metadata.name.clone().unwrap_or_default(),
            last_seen: last_seen(&e),
            type_: e.type_.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
            object: format!(
                "{}/{}",
                e.involved_object.kind.clone().unwrap_or_default().to_lowercase(),
                e.involved_object.name.clone().unwrap_or_default()
            ),
            message: e.message.clone().unwrap_or_default(),
            count: e.count.unwrap_or(1),
        })
        .filter(|e| match (params.since, e.last_seen) {
            (Some(d), Some(t)) => now.as_second() - t.as_second() <= d.as_secs() as i64,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .collect();
    out.sort_by(|a, b| a.last_seen.cmp(&b.last_seen).then(a.name.cmp(&b.name)));
    Ok(out)
}
