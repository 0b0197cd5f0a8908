//! Velero, typed: the `velero.io/v1` Backup, Restore and Schedule objects
//! the `velero` CLI writes, read and written through the API server.
//!
//! | Command | Here |
//! |---|---|
//! | `velero backup create NAME --include-namespaces a,b --ttl 720h --labels k=v` | [`Velero::create_backup`] with [`BackupParams`] |
//! | `velero backup create NAME --wait` | [`Velero::wait_for_backup`] with [`WaitParams`] |
//! | `velero backup get` | [`Velero::list_backups`], [`Velero::get_backup`] |
//! | `velero restore create NAME --from-backup B --namespace-mappings a:b` | [`Velero::create_restore`] with [`RestoreParams`] |
//! | `velero restore get`, `velero restore create --wait` | [`Velero::list_restores`], [`Velero::wait_for_restore`] |
//! | `velero schedule create NAME --schedule "0 7 * * *"` | [`Velero::create_schedule`] with [`ScheduleParams`] |
//! | `velero schedule get` | [`Velero::list_schedules`], [`Velero::get_schedule`] |
//!
//! The objects are written field for field as the `velero` CLI writes them
//! (same names, a TTL as a Go duration such as `720h0m0s`, the labels on
//! the object's metadata), so the Velero server in the cluster does the
//! work exactly as if the CLI had asked. Velero's objects live in its own
//! namespace, `velero` unless [`Velero::in_namespace`] says otherwise.
//!
//! A cluster that does not serve `velero.io/v1` answers every call with
//! [`Error::VeleroNotInstalled`], which
//! is distinct from a refusal (403,
//! [`k8sops_core::Error::Forbidden`]) or a server that does not answer.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use k8sops_backup::velero::{GetParams, Velero};
//! let server = k8sops_testkit::TestServer::start().await?; // no Velero there
//! let velero = Velero::new(&server.cluster());
//! let err = velero.list_backups(&GetParams::default()).await.unwrap_err();
//! assert!(matches!(err, k8sops_backup::Error::VeleroNotInstalled));
//! # Ok(()) }
//! ```

mod backup;
pub mod go_duration;
mod restore;
mod schedule;
mod validate;
mod wait;

use std::sync::Arc;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use k8sops_core::{Cluster, LabelSelector};
use kube::api::ListParams;
use tokio::sync::OnceCell;

pub use backup::{Backup, BackupList, BackupParams, BackupPhase, BackupProgress, BackupSpec, BackupStatus};
pub use restore::{
    ExistingResourcePolicy, Restore, RestoreList, RestoreParams, RestorePhase, RestoreProgress, RestoreSpec,
    RestoreStatus,
};
pub use schedule::{Schedule, ScheduleList, ScheduleParams, SchedulePhase, ScheduleSpec, ScheduleStatus};
pub use wait::{VeleroEvent, WaitParams};

use crate::{Error, Result};

/// The API group and version of Velero's objects.
///
/// ```
/// assert_eq!(k8sops_backup::velero::API_VERSION, "velero.io/v1");
/// ```
pub const API_VERSION: &str = "velero.io/v1";

/// The namespace Velero is installed in unless told otherwise (`velero
/// install --namespace`, the CLI's `-n` or `VELERO_NAMESPACE`).
///
/// ```
/// assert_eq!(k8sops_backup::velero::DEFAULT_NAMESPACE, "velero");
/// ```
pub const DEFAULT_NAMESPACE: &str = "velero";

/// Velero's phases as a Rust enum written and read as Velero's strings; a
/// missing or empty phase reads as `New` (what `velero ... get` prints),
/// and a phase this version does not know is kept in `Other`.
macro_rules! phases {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
        #[serde(from = "String", into = "String")]
        #[non_exhaustive]
        pub enum $name {
            /// Created, not yet picked up by the Velero server (also: no phase written yet).
            #[default]
            New,
            $($(#[$vm])* $variant,)+
            /// A phase this version of k8sops does not know, as Velero wrote it.
            Other(String),
        }

        impl $name {
            /// The phase as Velero writes it.
            ///
            #[doc = concat!("```\nuse k8sops_backup::velero::", stringify!($name), ";\nassert_eq!(", stringify!($name), "::New.as_str(), \"New\");\n```")]
            pub fn as_str(&self) -> &str {
                match self {
                    Self::New => "New",
                    $(Self::$variant => stringify!($variant),)+
                    Self::Other(s) => s,
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    "" | "New" => Self::New,
                    $(stringify!($variant) => Self::$variant,)+
                    _ => Self::Other(s),
                }
            }
        }

        impl From<$name> for String {
            fn from(p: $name) -> String {
                p.as_str().to_string()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use phases;

/// A Velero object type: `kube::Resource` by hand (no derive), and a
/// serializer that writes `apiVersion` and `kind` first, so the JSON is a
/// manifest `kubectl apply` takes.
macro_rules! velero_object {
    ($name:ident, $spec:ident, $status:ident, $plural:literal) => {
        impl kube::Resource for $name {
            type DynamicType = ();
            type Scope = k8s_openapi::NamespaceResourceScope;

            fn kind(_: &()) -> std::borrow::Cow<'_, str> {
                stringify!($name).into()
            }
            fn group(_: &()) -> std::borrow::Cow<'_, str> {
                "velero.io".into()
            }
            fn version(_: &()) -> std::borrow::Cow<'_, str> {
                "v1".into()
            }
            fn plural(_: &()) -> std::borrow::Cow<'_, str> {
                $plural.into()
            }
            fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &mut self.metadata
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
                #[derive(serde::Serialize)]
                #[serde(rename_all = "camelCase")]
                struct Wire<'a> {
                    api_version: &'static str,
                    kind: &'static str,
                    metadata: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
                    spec: &'a $spec,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    status: &'a Option<$status>,
                }
                Wire {
                    api_version: $crate::velero::API_VERSION,
                    kind: stringify!($name),
                    metadata: &self.metadata,
                    spec: &self.spec,
                    status: &self.status,
                }
                .serialize(serializer)
            }
        }
    };
}
pub(crate) use velero_object;

/// A handle on the Velero installation of a cluster: its namespace, and
/// whether the cluster serves `velero.io/v1` (asked once, on first use).
/// Cheap to clone; clones share what discovery found.
///
/// # RBAC
/// Discovery of `/apis/velero.io/v1` (every authenticated user has it), and
/// on `backups`, `restores`, `schedules` (`velero.io`) in Velero's
/// namespace what each call does: `create`, `get`, `list`, `watch`.
///
/// ```no_run
/// # async fn f(cluster: k8sops_core::Cluster) -> k8sops_backup::Result<()> {
/// use k8sops_backup::velero::{BackupParams, Velero, WaitParams};
/// let velero = Velero::new(&cluster);
/// let params = BackupParams::default().include_namespaces(["shop"]).ttl(std::time::Duration::from_secs(72 * 3600));
/// velero.create_backup("shop-before-upgrade", &params).await?;
/// let done = velero.wait_for_backup("shop-before-upgrade", &WaitParams::default()).await?;
/// done.ensure_completed()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Velero {
    cluster: Cluster,
    namespace: String,
    served: Arc<OnceCell<Vec<String>>>,
}

impl Velero {
    /// Velero in [`DEFAULT_NAMESPACE`] of `cluster`. Nothing is sent yet.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = k8sops_core::Cluster::from_config(kube::Config::new("https://10.0.0.1:6443".parse()?))?;
    /// let velero = k8sops_backup::velero::Velero::new(&cluster);
    /// assert_eq!(velero.namespace(), "velero");
    /// # Ok(()) }
    /// ```
    pub fn new(cluster: &Cluster) -> Self {
        Velero { cluster: cluster.clone(), namespace: DEFAULT_NAMESPACE.into(), served: Arc::default() }
    }

    /// The same cluster, with Velero installed in `namespace` (`velero -n NS`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = k8sops_core::Cluster::from_config(kube::Config::new("https://10.0.0.1:6443".parse()?))?;
    /// let velero = k8sops_backup::velero::Velero::new(&cluster).in_namespace("backup-system");
    /// assert_eq!(velero.namespace(), "backup-system");
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Velero's namespace, where its objects are created and read.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = k8sops_core::Cluster::from_config(kube::Config::new("https://10.0.0.1:6443".parse()?))?;
    /// assert_eq!(k8sops_backup::velero::Velero::new(&cluster).namespace(), "velero");
    /// # Ok(()) }
    /// ```
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The cluster this handle talks to.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = k8sops_core::Cluster::from_config(kube::Config::new("https://10.0.0.1:6443".parse()?))?;
    /// assert_eq!(k8sops_backup::velero::Velero::new(&cluster).cluster().url(), "https://10.0.0.1:6443");
    /// # Ok(()) }
    /// ```
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Checks that the cluster serves Velero's Backup, Restore and Schedule
    /// resources (`GET /apis/velero.io/v1`). The answer is kept: later
    /// calls on this handle (and its clones) do not ask again.
    ///
    /// Errors: [`Error::VeleroNotInstalled`] when `velero.io/v1` is not
    /// served (or serves none of them); otherwise the typed error of the
    /// request ([`k8sops_core::Error::Forbidden`],
    /// [`k8sops_core::Error::Unreachable`], ...).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = k8sops_testkit::TestServer::start().await?;
    /// let velero = k8sops_backup::velero::Velero::new(&server.cluster());
    /// assert!(matches!(velero.check_installed().await, Err(k8sops_backup::Error::VeleroNotInstalled)));
    /// # Ok(()) }
    /// ```
    pub async fn check_installed(&self) -> Result<()> {
        self.served().await.map(|_| ())
    }

    /// The resources of `velero.io/v1` the cluster serves, from discovery (asked once).
    async fn served(&self) -> Result<&[String]> {
        let served = self.served.get_or_try_init(|| discover(&self.cluster)).await?;
        Ok(served.as_slice())
    }

    /// Fails with [`Error::VeleroNotInstalled`] unless `plural` is served.
    pub(crate) async fn ensure_served(&self, plural: &str) -> Result<()> {
        if self.served().await?.iter().any(|r| r == plural) {
            Ok(())
        } else {
            Err(Error::VeleroNotInstalled)
        }
    }

    /// A typed API for one of Velero's kinds in its namespace.
    pub(crate) fn api<K>(&self) -> kube::Api<K>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    {
        kube::Api::namespaced(self.cluster.client().clone(), &self.namespace)
    }

    /// `kind namespace/name`, for messages.
    pub(crate) fn describe(&self, kind: &str, name: &str) -> String {
        format!("{kind} {}/{name}", self.namespace)
    }

    /// GET one object, retried per the cluster's policy.
    pub(crate) async fn get<K>(&self, kind: &str, name: &str) -> Result<K>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        validate::object_name(kind, name)?;
        self.ensure_served(&K::plural(&())).await?;
        let api = self.api::<K>();
        let what = self.describe(kind, name);
        let cluster = &self.cluster;
        Ok(cluster.retry_policy().run(|_| async { api.get(name).await.map_err(|e| cluster.map_err(e, &what)) }).await?)
    }

    /// Every object of a kind in Velero's namespace (paginated).
    pub(crate) async fn list<K>(&self, params: &GetParams) -> Result<Vec<K>>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug
            + Send
            + 'static,
    {
        self.ensure_served(&K::plural(&())).await?;
        let mut lp = ListParams::default();
        if let Some(selector) = &params.selector {
            lp = lp.labels(&selector.to_string());
        }
        Ok(k8sops_core::paging::list_all(&self.cluster, &self.api::<K>(), lp).await?)
    }

    /// POSTs a new object. A 404 means the namespace is missing, or that
    /// Velero was removed since discovery: asked again to tell which.
    pub(crate) async fn create<K>(&self, kind: &str, object: &K) -> Result<K>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::Serialize
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let name = object.meta().name.clone().unwrap_or_default();
        let what = self.describe(kind, &name);
        let api = self.api::<K>();
        let cluster = &self.cluster;
        // A create is not repeated after an answer was lost: it could have
        // been made, and a second one would fail with AlreadyExists.
        let created = api.create(&Default::default(), object).await.map_err(|e| cluster.map_err(e, &what));
        match created {
            Err(k8sops_core::Error::NotFound { .. }) => {
                let still = discover(cluster).await?;
                if !still.iter().any(|r| *r == K::plural(&())) {
                    return Err(Error::VeleroNotInstalled);
                }
                Err(k8sops_core::Error::NotFound {
                    what: format!(
                        "namespace {:?} (where {what} was to be created; pass the namespace Velero is installed in)",
                        self.namespace
                    ),
                    source: None,
                }
                .into())
            }
            other => Ok(other?),
        }
    }
}

/// Asks the API server which `velero.io/v1` resources it serves; none (a
/// 404) means Velero is not installed.
async fn discover(cluster: &Cluster) -> Result<Vec<String>> {
    let client = cluster.client();
    let path = format!("/apis/{API_VERSION}");
    let found = cluster
        .retry_policy()
        .run(|_| async {
            match client.list_api_group_resources(API_VERSION).await {
                Ok(list) => Ok(Some(list)),
                Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
                Err(e) => Err(cluster.map_err(e, &path)),
            }
        })
        .await?;
    let served: Vec<String> = found.map(|l| l.resources.into_iter().map(|r| r.name).collect()).unwrap_or_default();
    if !["backups", "restores", "schedules"].iter().any(|r| served.iter().any(|s| s == r)) {
        return Err(Error::VeleroNotInstalled);
    }
    Ok(served)
}

/// What `velero backup get` / `restore get` / `schedule get` list.
///
/// ```
/// let p = k8sops_backup::velero::GetParams::default().selector("app=shop".parse().unwrap());
/// assert_eq!(p.selector.unwrap().to_string(), "app=shop");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetParams {
    /// `-l/--selector`: only objects whose labels match.
    pub selector: Option<LabelSelector>,
}

impl GetParams {
    /// Sets [`selector`](Self::selector).
    ///
    /// ```
    /// let p = k8sops_backup::velero::GetParams::default().selector("velero.io/schedule-name=daily".parse().unwrap());
    /// assert!(p.selector.is_some());
    /// ```
    #[must_use]
    pub fn selector(mut self, selector: LabelSelector) -> Self {
        self.selector = Some(selector);
        self
    }
}

/// A timestamp as Go prints a `time.Time` (the velero CLI's table cells):
/// `2024-05-01 07:00:12 +0000 UTC`, or `<nil>`.
fn go_time(ts: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> String {
    match ts {
        Some(t) => t.0.strftime("%Y-%m-%d %H:%M:%S +0000 UTC").to_string(),
        None => "<nil>".into(),
    }
}

/// apimachinery's `ShortHumanDuration`: `45s`, `12m`, `5h`, `29d`, `2y`.
fn short_human_duration(d: SignedDuration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s < -1 => "<invalid>".into(),
        s if s < 0 => "0s".into(),
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s if s < 86_400 * 365 => format!("{}d", s / 86_400),
        s => format!("{}y", s / 86_400 / 365),
    }
}

/// Velero's `humanReadableTimeFromNow`: `29d`, `3h ago`, or `n/a`.
fn from_now(when: Option<Timestamp>, now: Timestamp) -> String {
    match when {
        None => "n/a".into(),
        Some(t) if t >= now => short_human_duration(t.duration_since(now)),
        Some(t) => format!("{} ago", short_human_duration(now.duration_since(t))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_durations_match_apimachinery() {
        for (secs, s) in
            [(-5, "<invalid>"), (-1, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h"), (86_399, "23h")]
        {
            assert_eq!(short_human_duration(SignedDuration::from_secs(secs)), s);
        }
        assert_eq!(short_human_duration(SignedDuration::from_secs(30 * 86_400)), "30d");
        assert_eq!(short_human_duration(SignedDuration::from_secs(800 * 86_400)), "2y");
    }

    #[test]
    fn times_print_as_go_prints_them() {
        let t = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time("2024-05-01T07:00:12Z".parse().unwrap());
        assert_eq!(go_time(Some(&t)), "2024-05-01 07:00:12 +0000 UTC");
        assert_eq!(go_time(None), "<nil>");
        let now: Timestamp = "2024-05-01T07:00:00Z".parse().unwrap();
        assert_eq!(from_now(Some(now + SignedDuration::from_hours(720)), now), "30d");
        assert_eq!(from_now(Some(now - SignedDuration::from_hours(3)), now), "3h ago");
        assert_eq!(from_now(None, now), "n/a");
    }
}
