//! Watches: replay from a resourceVersion (410 Gone when it is too old),
//! then live events, with label/field selectors applied to both the old and
//! the new object (an object leaving the selection is a DELETED), periodic
//! bookmarks, and `timeoutSeconds`.

use std::{convert::Infallible, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{header, Response};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use crate::{
    crud::Selectors,
    server::{Body, Req, Shared, Target},
    status::ApiError,
    store::{EventKind, WatchEvent},
};

struct Filter {
    storage: String,
    namespace: Option<String>,
    name: Option<String>,
    selectors: Selectors,
    def: crate::resources::ResourceDef,
}

impl Filter {
    fn matches(&self, obj: &Value) -> bool {
        if let Some(ns) = &self.namespace {
            if obj["metadata"]["namespace"].as_str() != Some(ns.as_str()) {
                return false;
            }
        }
        if let Some(name) = &self.name {
            if obj["metadata"]["name"].as_str() != Some(name.as_str()) {
                return false;
            }
        }
        self.selectors.matches(&self.def, obj)
    }

    /// The event a watcher of this filter sees, if any.
    fn translate(&self, ev: &WatchEvent) -> Option<Value> {
        if ev.storage != self.storage {
            return None;
        }
        let new_match = self.matches(&ev.object);
        let old_match = ev.old.as_ref().is_some_and(|o| self.matches(o));
        let kind = match ev.kind {
            EventKind::Added if new_match => "ADDED",
            EventKind::Modified if new_match && old_match => "MODIFIED",
            EventKind::Modified if new_match => "ADDED",
            EventKind::Modified if old_match => "DELETED",
            EventKind::Deleted if old_match || new_match => "DELETED",
            _ => return None,
        };
        Some(json!({"type": kind, "object": &*ev.object}))
    }
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

pub(crate) fn watch(shared: Arc<Shared>, req: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let selectors = Selectors::parse(req, &t.def)?;
    let filter = Filter {
        storage: t.def.storage_key(),
        namespace: t.namespace.clone(),
        name: t.name.clone(),
        selectors,
        def: t.def.clone(),
    };
    let bookmarks = req.flag("allowWatchBookmarks");
    let timeout = req.q("timeoutSeconds").and_then(|s| s.parse::<u64>().ok()).map(Duration::from_secs);
    let start_rv: Option<u64> = match req.q("resourceVersion") {
        None | Some("0") => None,
        Some(s) => Some(s.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {s}")))?),
    };
    let send_initial = req.flag("sendInitialEvents");
    let api_version = t.def.api_version();
    let kind = t.def.kind.clone();

    // Subscribe under the lock so nothing falls between the replay and the live stream.
    let (mut live, initial, mut last_rv): (broadcast::Receiver<Arc<WatchEvent>>, Vec<Value>, u64) = {
        let store = shared.store();
        let live = store.events.subscribe();
        let current = store.current_rv();
        match start_rv {
            Some(rv) if rv < store.oldest_rv() => {
                let gone =
                    ApiError::new(410, "Expired", format!("too old resource version: {rv} ({})", store.oldest_rv()));
                let ev = json!({"type": "ERROR", "object": gone.to_status()});
                return Ok(stream_response(vec![line(&ev)], None));
            }
            Some(rv) if !send_initial => {
                let evs = store.history_since(rv).iter().filter_map(|e| filter.translate(e)).collect();
                (live, evs, current)
            }
            _ => {
                let mut evs: Vec<Value> = store
                    .range(&filter.storage, filter.namespace.as_deref(), None)
                    .filter(|o| filter.matches(o))
                    .map(|o| json!({"type": "ADDED", "object": &**o}))
                    .collect();
                if send_initial {
                    evs.push(json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version,
                        "metadata": {"resourceVersion": current.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}}}));
                }
                (live, evs, current)
            }
        }
    };

    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(256);
    let interval = shared.opts.bookmark_interval;
    let shutdown = shared.shutdown.clone();
    let shared2 = shared.clone();
    tokio::spawn(async move {
        for ev in initial {
            if tx.send(Ok(Frame::data(line(&ev)))).await.is_err() {
                return;
            }
        }
        let deadline = timeout.map(|d| tokio::time::Instant::now() + d);
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            let sleep_until = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = sleep_until => return,
                _ = ticker.tick() => {
                    if bookmarks {
                        let rv = shared2.store().current_rv();
                        let bm = json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": rv.to_string()}}});
                        if tx.send(Ok(Frame::data(line(&bm)))).await.is_err() { return; }
                    }
                }
                ev = live.recv() => match ev {
                    Ok(ev) => {
                        if ev.rv <= last_rv { continue; }
                        last_rv = ev.rv;
                        if let Some(v) = filter.translate(&ev) {
                            if tx.send(Ok(Frame::data(line(&v)))).await.is_err() { return; }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // The client fell too far behind: end the watch so it re-lists.
                        let gone = ApiError::new(410, "Expired", "watch fell behind; re-list");
                        let _ = tx.send(Ok(Frame::data(line(&json!({"type": "ERROR", "object": gone.to_status()}))))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    });
    Ok(stream_response(Vec::new(), Some(rx)))
}

pub(crate) fn stream_response(
    first: Vec<Bytes>,
    rx: Option<mpsc::Receiver<Result<Frame<Bytes>, Infallible>>>,
) -> Response<Body> {
    let head = futures::stream::iter(first.into_iter().map(|b| Ok(Frame::data(b))));
    let body: Body = match rx {
        Some(rx) => {
            let tail = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
            StreamBody::new(futures::StreamExt::chain(head, tail)).boxed()
        }
        None => StreamBody::new(head).boxed(),
    };
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .unwrap_or_else(|_| Response::new(http_body_util::Empty::new().boxed()))
}
