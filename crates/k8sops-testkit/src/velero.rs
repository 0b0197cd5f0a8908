//! A stand-in for Velero's server, for tests of Velero clients against a
//! [`TestServer`] that serves Velero's CRDs: tasks watch `velero.io/v1`
//! Backup and Restore objects and move their status through `InProgress`
//! (with `status.progress`) to the outcome the object's [`OUTCOME_LABEL`]
//! asks for, writing the status through the main resource as Velero does
//! (its CRDs have no status subresource).
//!
//! A gate holds objects created while it is closed, so that a test can
//! start waiting on an object before the first status is written.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = k8sops_testkit::TestServer::start().await?;
//! // Install Velero's CRDs and its namespace first, then:
//! let velero = k8sops_testkit::velero::FakeVelero::start(&server, "velero", true);
//! velero.close(); // objects created from now on wait for `open()`
//! velero.open();
//! # Ok(()) }
//! ```

use futures::TryStreamExt;
use kube::{
    api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, WatchEvent, WatchParams},
    Api,
};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::TestServer;

/// The label that tells the stand-in how an object ends: `Completed` (the
/// default), `PartiallyFailed`, `Failed`, `FailedValidation`, or `Stall`
/// (stays `InProgress`, for timeouts and cancels).
///
/// ```
/// assert_eq!(k8sops_testkit::velero::OUTCOME_LABEL, "k8sops.test/outcome");
/// ```
pub const OUTCOME_LABEL: &str = "k8sops.test/outcome";

/// The status steps Velero's server writes for `kind` (`Backup` or
/// `Restore`) ending in `outcome` (see [`OUTCOME_LABEL`]); `None` for an
/// unknown outcome. The progress counts three items.
///
/// ```
/// let steps = k8sops_testkit::velero::script("Backup", "Completed").unwrap();
/// assert_eq!(steps.last().unwrap()["phase"], "Completed");
/// assert_eq!(steps[1]["progress"]["itemsBackedUp"], 1);
/// assert!(k8sops_testkit::velero::script("Backup", "Sideways").is_none());
/// ```
pub fn script(kind: &str, outcome: &str) -> Option<Vec<Value>> {
    let done = if kind == "Backup" { "itemsBackedUp" } else { "itemsRestored" };
    let step = |n: i64| json!({"phase": "InProgress", "startTimestamp": "2026-01-01T00:00:00Z", "progress": {"totalItems": 3, done: n}});
    Some(match outcome {
        "Completed" => vec![
            step(0),
            step(1),
            step(2),
            step(3),
            json!({"phase": "Completed", "progress": {"totalItems": 3, done: 3}, "completionTimestamp": "2026-01-01T00:01:00Z"}),
        ],
        "PartiallyFailed" => vec![
            step(0),
            step(3),
            json!({"phase": "PartiallyFailed", "errors": 2, "warnings": 1, "progress": {"totalItems": 3, done: 3}}),
        ],
        "Failed" => vec![
            step(0),
            step(1),
            json!({"phase": "Failed", "failureReason": "unable to reach the backup storage location", "progress": {"totalItems": 3, done: 1}}),
        ],
        "FailedValidation" => {
            vec![
                json!({"phase": "FailedValidation", "validationErrors": ["Invalid included/excluded namespace lists"]}),
            ]
        }
        "Stall" => vec![step(0), step(1)],
        _ => return None,
    })
}

/// Velero's `kind` objects (`backups`/`Backup`, `restores`/`Restore`,
/// `schedules`/`Schedule`) in `namespace`, untyped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let backups = k8sops_testkit::velero::api(&server, "velero", "backups", "Backup");
/// assert_eq!(backups.resource_url(), "/apis/velero.io/v1/namespaces/velero/backups");
/// # Ok(()) }
/// ```
pub fn api(server: &TestServer, namespace: &str, plural: &str, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("velero.io", "v1", kind);
    Api::namespaced_with(server.client(), namespace, &ApiResource::from_gvk_with_plural(&gvk, plural))
}

/// Velero's backup and restore controllers, played by tasks that stop when
/// this is dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let velero = k8sops_testkit::velero::FakeVelero::start(&server, "velero", false);
/// let gate = velero.gate(); // open it from a progress sink, e.g.
/// gate.send_replace(true);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FakeVelero {
    gate: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeVelero {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl FakeVelero {
    /// Starts the controllers for objects in `namespace`; objects wait for
    /// [`FakeVelero::open`] unless `open`. Must run inside a tokio runtime.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// let _velero = k8sops_testkit::velero::FakeVelero::start(&server, "velero", true);
    /// # Ok(()) }
    /// ```
    pub fn start(server: &TestServer, namespace: &str, open: bool) -> Self {
        let (gate, _) = watch::channel(open);
        let tasks = [("backups", "Backup"), ("restores", "Restore")]
            .into_iter()
            .map(|(plural, kind)| {
                let api = api(server, namespace, plural, kind);
                // It watches every namespace, so its requests never match a fault on Velero's namespace.
                let gvk = GroupVersionKind::gvk("velero.io", "v1", kind);
                let all = Api::all_with(server.client(), &ApiResource::from_gvk_with_plural(&gvk, plural));
                tokio::spawn(controller(all, api, kind, gate.subscribe()))
            })
            .collect();
        FakeVelero { gate, tasks }
    }

    /// Holds objects created from now on until the gate opens again.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// let velero = k8sops_testkit::velero::FakeVelero::start(&server, "velero", true);
    /// velero.close();
    /// assert!(!*velero.gate().borrow());
    /// # Ok(()) }
    /// ```
    pub fn close(&self) {
        self.gate.send_replace(false);
    }

    /// Lets held objects go on.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// let velero = k8sops_testkit::velero::FakeVelero::start(&server, "velero", false);
    /// velero.open();
    /// assert!(*velero.gate().borrow());
    /// # Ok(()) }
    /// ```
    pub fn open(&self) {
        self.gate.send_replace(true);
    }

    /// The gate itself, e.g. for a progress sink that opens it at the
    /// client's first event.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// let velero = k8sops_testkit::velero::FakeVelero::start(&server, "velero", false);
    /// let gate = velero.gate();
    /// let open_on_first_event = move |_event: &str| { gate.send_replace(true); };
    /// open_on_first_event("phase");
    /// # Ok(()) }
    /// ```
    pub fn gate(&self) -> watch::Sender<bool> {
        self.gate.clone()
    }
}

async fn controller(all: Api<DynamicObject>, api: Api<DynamicObject>, kind: &'static str, gate: watch::Receiver<bool>) {
    let Ok(stream) = all.watch(&WatchParams::default(), "0").await else { return };
    let mut stream = std::pin::pin!(stream);
    // The objects' tasks end with this one (aborted with the stand-in).
    let mut tasks = tokio::task::JoinSet::new();
    while let Ok(Some(event)) = stream.try_next().await {
        let WatchEvent::Added(obj) = event else { continue };
        if obj.data.get("status").and_then(|s| s.get("phase")).is_some() {
            continue;
        }
        let Some(name) = obj.metadata.name.clone() else { continue };
        let outcome = obj.metadata.labels.as_ref().and_then(|l| l.get(OUTCOME_LABEL)).cloned();
        let Some(steps) = script(kind, outcome.as_deref().unwrap_or("Completed")) else { continue };
        let (api, mut gate) = (api.clone(), gate.clone());
        tasks.spawn(async move {
            // The stand-in was dropped before the gate opened: nothing more.
            if gate.wait_for(|open| *open).await.is_err() {
                return;
            }
            for status in steps {
                let patch = json!({"status": status});
                if api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.is_err() {
                    return;
                }
            }
        });
    }
}
