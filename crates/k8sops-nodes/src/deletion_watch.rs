//! Waiting for evicted pods to be gone, with one watch per drained node
//! instead of a poll per pod: a pod counts as gone when it is deleted or its
//! name now belongs to a pod with another uid. The watch asks the server to
//! end it before the client's read timeout and resumes from the last
//! resourceVersion; when the resourceVersion is too old or the watch fails,
//! the tracker re-lists (with backoff) and watches again, so no deletion is
//! missed. List errors are not swallowed: after the retry policy's attempts
//! in a row fail, waiting pods are told the watch failed.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};
use k8sops_core::{paging, Cluster, Failure};
use kube::{
    api::{ListParams, WatchEvent, WatchParams},
    Api,
};
use tokio::sync::watch;

/// Server-side watch timeout: shorter than the client's read timeout, so an
/// idle watch ends cleanly and is resumed instead of failing.
const WATCH_SECONDS: u32 = 50;

/// What the tracker knows.
#[derive(Default)]
struct Seen {
    /// Uids of waited pods that are gone.
    gone: HashSet<String>,
    /// Deletion timestamps of waited pods, by uid.
    deleting: HashMap<String, Timestamp>,
    /// The error that stopped the tracker, after the retry policy gave up.
    failed: Option<Failure>,
}

/// How waiting for one pod ended.
pub(crate) enum Waited {
    /// Deleted, or its name belongs to another pod now.
    Gone,
    /// Its deletionTimestamp is older than the skip-wait timeout (kubectl's
    /// `--skip-wait-for-delete-timeout`): not waited for any longer.
    DeletedLongAgo,
    /// The pods could not be watched or listed.
    WatchFailed(k8sops_core::Error),
}

/// Watches one node's pods and records which of the waited ones are gone.
pub(crate) struct DeletionTracker {
    seen: watch::Receiver<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DeletionTracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DeletionTracker {
    /// Starts watching `node`'s pods from `resource_version`; `pods` maps
    /// `namespace/name` to the uid being waited for.
    pub(crate) fn start(
        cluster: &Cluster,
        node: &str,
        resource_version: String,
        pods: HashMap<String, String>,
    ) -> Self {
        let (tx, rx) = watch::channel(Seen::default());
        let cluster = cluster.clone();
        let node = node.to_string();
        let tracked = Arc::new(Mutex::new(pods));
        let task = tokio::spawn(async move {
            let api: Api<Pod> = cluster.api_all();
            let fields = format!("spec.nodeName={node}");
            let mut rv = resource_version;
            let on_seen = |pod: &Pod, deleted: bool| {
                let key = k8sops_core::object_status::namespaced_name(&pod.metadata);
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                let tracked = tracked.lock().unwrap_or_else(|p| p.into_inner());
                let Some(waited) = tracked.get(&key) else { return };
                if deleted || *waited != uid {
                    tx.send_if_modified(|s| s.gone.insert(waited.clone()));
                } else if let Some(ts) = &pod.metadata.deletion_timestamp {
                    tx.send_if_modified(|s| s.deleting.insert(uid.clone(), ts.0).is_none());
                }
            };
            let policy = cluster.retry_policy().clone();
            let mut failures = 0u32;
            let mut watch_failures = 0u32;
            let mut need_list = false;
            loop {
                if need_list {
                    match relist(&cluster, &api, &fields, &tracked).await {
                        Ok((new_rv, gone)) => {
                            failures = 0;
                            rv = new_rv;
                            tx.send_if_modified(|s| {
                                let before = s.gone.len();
                                s.gone.extend(gone);
                                s.gone.len() != before
                            });
                        }
                        Err(e) => {
                            failures += 1;
                            if failures >= policy.max_attempts {
                                tx.send_modify(|s| s.failed = Some(Failure::new(e)));
                                return;
                            }
                            tokio::time::sleep(policy.backoff(failures)).await;
                            continue;
                        }
                    }
                    need_list = false;
                }
                let wp = WatchParams::default().fields(&fields).timeout(WATCH_SECONDS);
                let mut stream = match api.watch(&wp, &rv).await {
                    Ok(s) => {
                        watch_failures = 0;
                        s.boxed()
                    }
                    Err(e) => {
                        watch_failures += 1;
                        if watch_failures >= policy.max_attempts {
                            tx.send_modify(|s| s.failed = Some(Failure::new(cluster.map_err(e, "watch of pods"))));
                            return;
                        }
                        tokio::time::sleep(policy.backoff(watch_failures)).await;
                        need_list = true;
                        continue;
                    }
                };
                loop {
                    match stream.try_next().await {
                        Ok(Some(WatchEvent::Deleted(p))) => {
                            rv = p.metadata.resource_version.clone().unwrap_or(rv);
                            on_seen(&p, true);
                        }
                        Ok(Some(WatchEvent::Added(p) | WatchEvent::Modified(p))) => {
                            rv = p.metadata.resource_version.clone().unwrap_or(rv);
                            on_seen(&p, false);
                        }
                        Ok(Some(WatchEvent::Bookmark(b))) => rv = b.metadata.resource_version,
                        // 410 Gone (resourceVersion too old), a read timeout or a dropped stream: catch up from a list.
                        Ok(Some(WatchEvent::Error(_))) | Err(_) => {
                            need_list = true;
                            break;
                        }
                        // The server ended the watch at its timeout: resume from the last resourceVersion.
                        Ok(None) => break,
                    }
                }
            }
        });
        DeletionTracker { seen: rx, task }
    }

    /// Waits until the pod with `uid` is gone, or — with `skip` — until its
    /// deletionTimestamp is more than `skip` in the past (counted from the
    /// timestamp, as kubectl does, not from the eviction).
    pub(crate) async fn wait(&self, uid: &str, skip: Option<Duration>) -> Waited {
        let mut rx = self.seen.clone();
        loop {
            let until = {
                let seen = rx.borrow_and_update();
                if seen.gone.contains(uid) {
                    return Waited::Gone;
                }
                if let Some(f) = &seen.failed {
                    return Waited::WatchFailed(k8sops_core::Error::Backend {
                        backend: "pod watch".into(),
                        message: format!("cannot follow the evicted pods: {f}"),
                        transient: f.is_transient(),
                        source: None,
                    });
                }
                match (skip, seen.deleting.get(uid)) {
                    (Some(skip), Some(ts)) => {
                        // kubectl: int(now - deletionTimestamp in seconds) > skip.
                        let since = Timestamp::now().duration_since(*ts);
                        let limit = skip.as_secs() as i64 + 1;
                        if since.as_secs() >= limit {
                            return Waited::DeletedLongAgo;
                        }
                        let left = k8s_openapi::jiff::SignedDuration::from_secs(limit) - since;
                        Some(Duration::try_from(left).unwrap_or_default())
                    }
                    _ => None,
                }
            };
            let changed = async {
                if rx.changed().await.is_err() {
                    // The tracker stopped; nothing more will arrive.
                    std::future::pending::<()>().await;
                }
            };
            match until {
                Some(d) => {
                    tokio::select! {
                        _ = changed => {}
                        _ = tokio::time::sleep(d) => {}
                    }
                }
                None => changed.await,
            }
        }
    }
}

/// Lists the node's pods: the resourceVersion to watch from and the waited
/// uids no longer present.
async fn relist(
    cluster: &Cluster,
    api: &Api<Pod>,
    fields: &str,
    tracked: &Mutex<HashMap<String, String>>,
) -> k8sops_core::Result<(String, Vec<String>)> {
    let first = cluster
        .retry_policy()
        .run(|_| async {
            api.list(&ListParams::default().fields(fields).limit(1)).await.map_err(|e| cluster.map_err(e, "pods"))
        })
        .await?;
    let rv = first.metadata.resource_version.clone().unwrap_or_default();
    let pods = paging::list_all(cluster, api, ListParams::default().fields(fields)).await?;
    let present: HashSet<String> = pods.iter().filter_map(|p| p.metadata.uid.clone()).collect();
    let waited: Vec<String> = tracked.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
    Ok((rv, waited.into_iter().filter(|uid| !present.contains(uid)).collect()))
}
