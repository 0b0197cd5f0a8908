//! Progress reporting and cancellation for long operations.
//!
//! Long operations take a sink for their typed events (each area crate defines
//! its own event enum, e.g. drain events) and can be cancelled either by
//! dropping their future or through a [`CancellationToken`]. Each operation
//! documents what state it leaves behind when cancelled.

use std::sync::{Arc, Mutex};

pub use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

/// Receives typed progress events. Implemented for channels, closures,
/// [`NoProgress`] and [`Recorder`].
///
/// ```
/// use k8sops_core::ProgressSink;
/// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
/// tx.emit("started");
/// assert_eq!(rx.try_recv().unwrap(), "started");
/// let print = |e: &'static str| println!("{e}");
/// print.emit("also works");
/// ```
pub trait ProgressSink<E>: Send + Sync {
    /// Called once per event, in order. Must not block.
    fn emit(&self, event: E);
}

/// A shared, type-erased sink.
///
/// ```
/// use std::sync::Arc;
/// use k8sops_core::{DynProgress, ProgressSink, Recorder};
/// let recorder = Arc::new(Recorder::default());
/// let sink: DynProgress<&str> = recorder.clone();
/// sink.emit("started");
/// assert_eq!(recorder.events(), ["started"]);
/// ```
pub type DynProgress<E> = Arc<dyn ProgressSink<E>>;

/// Discards every event.
///
/// ```
/// use k8sops_core::{NoProgress, ProgressSink};
/// NoProgress.emit(42);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl<E> ProgressSink<E> for NoProgress {
    fn emit(&self, _event: E) {}
}

impl<E: Send> ProgressSink<E> for tokio::sync::mpsc::UnboundedSender<E> {
    fn emit(&self, event: E) {
        // A closed receiver means nobody is watching; the operation goes on.
        let _ = self.send(event);
    }
}

impl<E, F> ProgressSink<E> for F
where
    F: Fn(E) + Send + Sync,
{
    fn emit(&self, event: E) {
        self(event)
    }
}

impl<E, S: ProgressSink<E> + ?Sized> ProgressSink<E> for Arc<S> {
    fn emit(&self, event: E) {
        (**self).emit(event)
    }
}

/// Keeps every event in memory, for tests and for reports.
///
/// ```
/// use k8sops_core::{ProgressSink, Recorder};
/// let rec = Recorder::default();
/// rec.emit(1);
/// rec.emit(2);
/// assert_eq!(rec.events(), vec![1, 2]);
/// ```
#[derive(Debug)]
pub struct Recorder<E> {
    events: Mutex<Vec<E>>,
}

impl<E> Default for Recorder<E> {
    fn default() -> Self {
        Recorder { events: Mutex::new(Vec::new()) }
    }
}

impl<E: Clone> Recorder<E> {
    /// A copy of the events so far.
    ///
    /// ```
    /// use k8sops_core::{ProgressSink, Recorder};
    /// let rec = Recorder::default();
    /// rec.emit("cordoned");
    /// assert_eq!(rec.events(), ["cordoned"]);
    /// ```
    pub fn events(&self) -> Vec<E> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl<E: Send> ProgressSink<E> for Recorder<E> {
    fn emit(&self, event: E) {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).push(event);
    }
}

/// Runs `fut` until it finishes or `token` is cancelled, in which case
/// [`Error::Cancelled`] names `during`.
///
/// ```
/// use k8sops_core::progress::{until_cancelled, CancellationToken};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let token = CancellationToken::new();
/// token.cancel();
/// let res = until_cancelled(&token, "waiting", std::future::pending::<k8sops_core::Result<()>>()).await;
/// assert!(matches!(res, Err(k8sops_core::Error::Cancelled { .. })));
/// # }
/// ```
pub async fn until_cancelled<T>(
    token: &CancellationToken,
    during: &str,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        biased;
        _ = token.cancelled() => Err(Error::Cancelled { during: during.to_string() }),
        res = fut => res,
    }
}
