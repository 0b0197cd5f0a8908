//! Events across namespaces in the order of `kubectl get events
//! --sort-by=.lastTimestamp` (events without a `lastTimestamp`, as
//! events.k8s.io writers leave them, first), with LAST SEEN and the count
//! taken as kubectl takes them whichever event API wrote the event
//! (`series`, `lastTimestamp`, `firstTimestamp`, `eventTime`), and kubectl's filters.

use std::{fmt, time::Duration};

use k8s_openapi::{
    api::core::v1::{Event, Pod},
    jiff::Timestamp,
};
use k8sops_core::{age::age_since, describe::DescribedEvent, object_status, paging, Cluster, FieldSelector, Table};
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
    /// When it last happened ([`object_status::event_last_seen`]); `None` when
    /// the event carries no time at all (its age prints `<unknown>`).
    pub last_seen: Option<Timestamp>,
    /// `Normal` or `Warning`.
    pub type_: String,
    /// Reason.
    pub reason: String,
    /// `kind/name` of the object.
    pub object: String,
    /// Message.
    pub message: String,
    /// How many times (`series.count` for a series, else `count`, at least 1).
    pub count: i32,
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

/// Events in `kubectl get events --sort-by=.lastTimestamp` order (those
/// without a `lastTimestamp` first, then oldest first), filtered server-side
/// where the API allows.
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
    let mut found = paging::list_all(cluster, &api, ListParams::default().fields(&fields.to_string())).await?;
    found.sort_by(object_status::event_order);
    let out: Vec<EventLine> = found
        .into_iter()
        .map(|e| EventLine {
            namespace: e.metadata.namespace.clone().unwrap_or_default(),
            name: e.metadata.name.clone().unwrap_or_default(),
            last_seen: object_status::event_last_seen(&e),
            count: object_status::event_count(&e),
            type_: e.type_.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
            object: format!(
                "{}/{}",
                e.involved_object.kind.clone().unwrap_or_default().to_lowercase(),
                e.involved_object.name.clone().unwrap_or_default()
            ),
            message: e.message.clone().unwrap_or_default().trim().to_string(),
        })
        .filter(|e| match (params.since, e.last_seen) {
            (Some(d), Some(t)) => now.as_second() - t.as_second() <= d.as_secs() as i64,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .collect();
    Ok(out)
}

/// The events `kubectl describe pod NAME -n NAMESPACE` shows in its
/// `Events:` section: those about this pod (matched by UID, so a new pod
/// that reuses the name does not inherit the old one's), oldest
/// `lastTimestamp` first, each with its count and first and last time.
/// Print them with [`k8sops_core::describe::events_section`].
///
/// A pod that does not exist is [`k8sops_core::Error::NotFound`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let cluster = server.cluster();
/// let pods = k8sops_diagnose::diagnose_pods(&cluster, &Default::default()).await?;
/// let (ns, name) = pods.pods[0].pod.split_once('/').unwrap();
/// let found = k8sops_diagnose::events::pod_events(&cluster, ns, name).await?;
/// print!("{}", k8sops_core::describe::events_section(&found, k8s_openapi::jiff::Timestamp::now()));
/// # Ok(()) }
/// ```
pub async fn pod_events(cluster: &Cluster, namespace: &str, name: &str) -> Result<Vec<DescribedEvent>> {
    let pods: Api<Pod> = cluster.api_namespaced(namespace);
    let what = format!("pod {namespace}/{name}");
    let pod =
        cluster.retry_policy().run(|_| async { pods.get(name).await.map_err(|e| cluster.map_err(e, &what)) }).await?;
    let uid = pod.metadata.uid.unwrap_or_default();
    let mut fields = FieldSelector::new().eq("involvedObject.kind", "Pod").eq("involvedObject.name", name);
    if !uid.is_empty() {
        fields = fields.eq("involvedObject.uid", &uid);
    }
    let api: Api<Event> = cluster.api_in(Some(namespace));
    let mut found = paging::list_all(cluster, &api, ListParams::default().fields(&fields.to_string())).await?;
    found.retain(|e| uid.is_empty() || object_status::event_is_about(e, &uid));
    found.sort_by(object_status::event_order);
    Ok(found.iter().map(DescribedEvent::from_event).collect())
}
