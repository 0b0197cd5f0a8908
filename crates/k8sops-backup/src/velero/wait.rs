//! `--wait`: following a Backup or Restore until Velero is done with it.
//! One GET, then a watch of that one object from the GET's
//! resourceVersion, so no change in between is missed; the watch asks the
//! server to end it before the client's read timeout and is resumed with a
//! fresh GET. Phase and `status.progress` changes go to the progress sink.

use std::{fmt, pin::pin, sync::Arc, sync::Mutex, time::Duration};

use futures::TryStreamExt;
use k8sops_core::progress::{CancellationToken, DynProgress, NoProgress};
use kube::api::{WatchEvent, WatchParams};
use serde::Serialize;

use super::{validate, BackupPhase, RestorePhase, Velero};
use crate::Result;

/// Server-side watch timeout: shorter than the client's read timeout, so an
/// idle watch ends cleanly and is resumed instead of failing.
const WATCH_SECONDS: u32 = 50;

/// Progress of [`Velero::wait_for_backup`] and [`Velero::wait_for_restore`].
///
/// ```
/// use k8sops_backup::velero::{BackupPhase, VeleroEvent};
/// let e = VeleroEvent::BackupProgress { name: "nightly".into(), items_backed_up: 40, total_items: 120 };
/// assert_eq!(e.to_string(), "backup nightly: 40/120 items backed up");
/// let p = VeleroEvent::BackupPhase { name: "nightly".into(), phase: BackupPhase::InProgress };
/// assert_eq!(p.to_string(), "backup nightly: InProgress");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum VeleroEvent {
    /// A backup's phase: first when waiting starts, then at each change.
    BackupPhase {
        /// The backup.
        name: String,
        /// Its phase.
        phase: BackupPhase,
    },
    /// A backup's `status.progress` changed.
    BackupProgress {
        /// The backup.
        name: String,
        /// `itemsBackedUp`.
        items_backed_up: i64,
        /// `totalItems` (grows while Velero discovers items).
        total_items: i64,
    },
    /// A restore's phase: first when waiting starts, then at each change.
    RestorePhase {
        /// The restore.
        name: String,
        /// Its phase.
        phase: RestorePhase,
    },
    /// A restore's `status.progress` changed.
    RestoreProgress {
        /// The restore.
        name: String,
        /// `itemsRestored`.
        items_restored: i64,
        /// `totalItems`.
        total_items: i64,
    },
    /// Following the object failed for a moment (the watch broke, the
    /// server did not answer); it is read again after `retry_in`.
    Reconnecting {
        /// `backup` or `restore`.
        kind: String,
        /// The object.
        name: String,
        /// What went wrong.
        error: String,
        /// The wait before trying again.
        retry_in: Duration,
    },
}

impl fmt::Display for VeleroEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VeleroEvent::BackupPhase { name, phase } => write!(f, "backup {name}: {phase}"),
            VeleroEvent::BackupProgress { name, items_backed_up, total_items } => {
                write!(f, "backup {name}: {items_backed_up}/{total_items} items backed up")
            }
            VeleroEvent::RestorePhase { name, phase } => write!(f, "restore {name}: {phase}"),
            VeleroEvent::RestoreProgress { name, items_restored, total_items } => {
                write!(f, "restore {name}: {items_restored}/{total_items} items restored")
            }
            VeleroEvent::Reconnecting { kind, name, error, retry_in } => {
                write!(f, "{kind} {name}: following it failed ({error}); again in {:.1}s", retry_in.as_secs_f64())
            }
        }
    }
}

/// Options of [`Velero::wait_for_backup`] and [`Velero::wait_for_restore`].
/// `Default` waits as long as it takes, as `velero backup create --wait`
/// does.
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use k8sops_backup::velero::{VeleroEvent, WaitParams};
/// let events = Arc::new(k8sops_core::Recorder::<VeleroEvent>::default());
/// let params = WaitParams::default().timeout(Duration::from_secs(600)).progress(events.clone());
/// assert_eq!(params.timeout, Some(Duration::from_secs(600)));
/// ```
#[derive(Clone)]
pub struct WaitParams {
    /// Stop waiting after this long with [`k8sops_core::Error::Timeout`]
    /// (`None` or zero: no limit, as kubectl's `--timeout=0s`). The backup
    /// or restore goes on in the cluster.
    pub timeout: Option<Duration>,
    /// Receives [`VeleroEvent`]s.
    pub progress: DynProgress<VeleroEvent>,
    /// Stop waiting with [`k8sops_core::Error::Cancelled`]; the backup or
    /// restore is neither deleted nor stopped.
    pub cancel: CancellationToken,
}

impl Default for WaitParams {
    fn default() -> Self {
        WaitParams { timeout: None, progress: Arc::new(NoProgress), cancel: CancellationToken::new() }
    }
}

impl fmt::Debug for WaitParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitParams")
            .field("timeout", &self.timeout)
            .field("cancelled", &self.cancel.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl WaitParams {
    /// Sets [`timeout`](Self::timeout).
    ///
    /// ```
    /// let p = k8sops_backup::velero::WaitParams::default().timeout(std::time::Duration::from_secs(60));
    /// assert_eq!(p.timeout, Some(std::time::Duration::from_secs(60)));
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets [`progress`](Self::progress).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use k8sops_backup::velero::{VeleroEvent, WaitParams};
    /// let p = WaitParams::default().progress(Arc::new(|e: VeleroEvent| eprintln!("{e}")));
    /// ```
    #[must_use]
    pub fn progress(mut self, progress: DynProgress<VeleroEvent>) -> Self {
        self.progress = progress;
        self
    }

    /// Sets [`cancel`](Self::cancel).
    ///
    /// ```
    /// let token = k8sops_core::CancellationToken::new();
    /// let p = k8sops_backup::velero::WaitParams::default().cancel(token.clone());
    /// token.cancel();
    /// assert!(p.cancel.is_cancelled());
    /// ```
    #[must_use]
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }
}

/// A Velero object that can be waited for.
pub(crate) trait Followed:
    kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + serde::de::DeserializeOwned
    + fmt::Debug
    + Send
    + Sync
    + 'static
{
    /// `backup` or `restore`, for messages.
    const KIND: &'static str;
    /// Whether Velero is done with it.
    fn is_finished(&self) -> bool;
    /// Its phase, as an event.
    fn phase_event(&self) -> VeleroEvent;
    /// Its progress, as an event, when there is any.
    fn progress_event(&self) -> Option<VeleroEvent>;
    /// Phase and progress in words, for timeout and cancel messages.
    fn summary(&self) -> String;
}

/// Emits what changed since the last look and keeps the object.
struct Observer<'a, K> {
    params: &'a WaitParams,
    last: &'a Mutex<Option<K>>,
    phase: Option<VeleroEvent>,
    progress: Option<VeleroEvent>,
}

impl<K: Followed> Observer<'_, K> {
    /// Reports `obj`; returns it when Velero is done with it.
    fn see(&mut self, obj: K) -> Option<K> {
        let phase = obj.phase_event();
        if self.phase.as_ref() != Some(&phase) {
            self.params.progress.emit(phase.clone());
            self.phase = Some(phase);
        }
        if let Some(progress) = obj.progress_event() {
            if self.progress.as_ref() != Some(&progress) {
                self.params.progress.emit(progress.clone());
                self.progress = Some(progress);
            }
        }
        let finished = obj.is_finished();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        *last = Some(obj.clone());
        finished.then_some(obj)
    }
}

/// Waits for `name` per `params` (see [`Velero::wait_for_backup`]).
pub(crate) async fn follow<K: Followed>(velero: &Velero, name: &str, params: &WaitParams) -> Result<K> {
    validate::object_name(K::KIND, name)?;
    velero.ensure_served(&K::plural(&())).await?;
    let what = velero.describe(K::KIND, name);
    let last: Mutex<Option<K>> = Mutex::new(None);
    let state = || {
        let last = last.lock().unwrap_or_else(|p| p.into_inner());
        last.as_ref().map_or_else(|| "not read yet".to_string(), Followed::summary)
    };
    let timeout = params.timeout.filter(|t| !t.is_zero());
    let limit = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        _ = params.cancel.cancelled() => Err(k8sops_core::Error::Cancelled {
            during: format!(
                "waiting for {what} ({}); the {} is left in the cluster and Velero goes on with it",
                state(),
                K::KIND
            ),
        }
        .into()),
        res = watch_until_finished::<K>(velero, name, &what, params, &last) => res,
        _ = limit => Err(k8sops_core::Error::Timeout {
            during: format!(
                "waiting for {what} to finish ({}); it is left running in the cluster: follow it with `velero {} describe {name}`",
                state(),
                K::KIND
            ),
            after: timeout.unwrap_or_default(),
        }
        .into()),
    }
}

async fn watch_until_finished<K: Followed>(
    velero: &Velero,
    name: &str,
    what: &str,
    params: &WaitParams,
    last: &Mutex<Option<K>>,
) -> Result<K> {
    let cluster = velero.cluster();
    let api = velero.api::<K>();
    let policy = cluster.retry_policy();
    let mut observer = Observer { params, last, phase: None, progress: None };
    let mut failures = 0u32;
    // A failure that may pass: report it and wait, or give up after the policy's attempts.
    let pause = |error: k8sops_core::Error, failures: u32| {
        if !error.is_transient() || failures >= policy.max_attempts {
            return Err(error);
        }
        let retry_in = policy.backoff(failures);
        params.progress.emit(VeleroEvent::Reconnecting {
            kind: K::KIND.to_string(),
            name: name.to_string(),
            error: error.to_string(),
            retry_in,
        });
        Ok(retry_in)
    };
    let fields = format!("metadata.name={name}");
    loop {
        let current: K = policy.run(|_| async { api.get(name).await.map_err(|e| cluster.map_err(e, what)) }).await?;
        let rv = current.meta().resource_version.clone().unwrap_or_default();
        if let Some(done) = observer.see(current) {
            return Ok(done);
        }
        let wp = WatchParams::default().fields(&fields).timeout(WATCH_SECONDS);
        let stream = match api.watch(&wp, &rv).await {
            Ok(stream) => stream,
            Err(e) => {
                failures += 1;
                let retry_in = pause(cluster.map_err(e, what), failures)?;
                tokio::time::sleep(retry_in).await;
                continue;
            }
        };
        let mut stream = pin!(stream);
        let opened = std::time::Instant::now();
        loop {
            match stream.try_next().await {
                Ok(Some(WatchEvent::Added(obj) | WatchEvent::Modified(obj))) => {
                    failures = 0;
                    if let Some(done) = observer.see(obj) {
                        return Ok(done);
                    }
                }
                Ok(Some(WatchEvent::Deleted(_))) => {
                    return Err(k8sops_core::Error::NotFound {
                        what: format!("{what} (deleted while waiting for it)"),
                        source: None,
                    }
                    .into())
                }
                Ok(Some(WatchEvent::Bookmark(_))) => {}
                // 410 Gone (the resourceVersion is too old): read the object again at once.
                Ok(Some(WatchEvent::Error(e))) if e.code == 410 => break,
                // The server ended the watch at its timeout: read the object again.
                Ok(None) if opened.elapsed() >= std::time::Duration::from_secs(1) => break,
                // Any other error event, or a watch that ends at once: back off
                // like a failed request, so a broken watch cannot spin.
                Ok(Some(WatchEvent::Error(e))) => {
                    failures += 1;
                    let err = k8sops_core::Error::Api {
                        code: e.code,
                        reason: e.reason.clone(),
                        message: e.message.clone(),
                        retry_after: None,
                    };
                    tokio::time::sleep(pause(err, failures)?).await;
                    break;
                }
                Ok(None) => {
                    failures += 1;
                    let err = k8sops_core::Error::Timeout {
                        during: format!("watching {what} (the watch ended at once)"),
                        after: opened.elapsed(),
                    };
                    tokio::time::sleep(pause(err, failures)?).await;
                    break;
                }
                Err(e) => {
                    failures += 1;
                    let retry_in = pause(cluster.map_err(e, what), failures)?;
                    tokio::time::sleep(retry_in).await;
                    break;
                }
            }
        }
    }
}
