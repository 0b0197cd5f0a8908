//! Waiting for evicted pods to be gone, with one watch per drained node
//! instead of a poll per pod: a pod counts as gone when it is deleted or its
//! name now belongs to a pod with another uid. If the watch ends or expires,
//! the tracker re-lists and watches again, so no deletion is missed.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use k8sops_core::{paging, Cluster};
use kube::{
    api::{ListParams, WatchEvent, WatchParams},
    Api,
};
use tokio::sync::watch;

/// Tracks which pods (by uid) are gone from a node.
pub(crate) struct DeletionTracker {
    gone: watch::Receiver<HashSet<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DeletionTracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DeletionTracker {
    /// Starts watching pods on `node` from `resource_version`; `pods` maps
    /// `namespace/name` to the uid being waited for.
    pub(crate) fn start(
        cluster: &Cluster,
        node: &str,
        resource_version: String,
        pods: HashMap<String, String>,
    ) -> Self {
        let (tx, rx) = watch::channel(HashSet::new());
        let cluster = cluster.clone();
        let node = node.to_string();
        let tracked = Arc::new(Mutex::new(pods));
        let task = tokio::spawn(async move {
            let api: Api<Pod> = cluster.api_all();
            let fields = format!("spec.nodeName={node}");
            let mut rv = resource_version;
            let mark = |uid: &str| {
                tx.send_if_modified(|g| g.insert(uid.to_string()));
            };
            let on_seen = |pod: &Pod, deleted: bool| {
                let key = k8sops_core::object_status::namespaced_name(&pod.metadata);
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                let tracked = tracked.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(waited) = tracked.get(&key) {
                    if deleted || *waited != uid {
                        mark(waited);
                    }
                }
            };
            loop {
                let wp = WatchParams::default().fields(&fields).timeout(290);
                let stream = match api.watch(&wp, &rv).await {
                    Ok(s) => s.boxed(),
                    Err(_) => {
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                        rv = relist(&cluster, &api, &fields, &tracked, &mark).await.unwrap_or(rv);
                        continue;
                    }
                };
                let mut stream = stream;
                let mut expired = false;
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
                        Ok(Some(WatchEvent::Error(_))) | Err(_) => {
                            expired = true;
                            break;
                        }
                        Ok(None) => break,
                    }
                }
                if expired {
                    // The resourceVersion may be too old: catch up from a fresh list.
                    if let Some(new_rv) = relist(&cluster, &api, &fields, &tracked, &mark).await {
                        rv = new_rv;
                    }
                }
            }
        });
        DeletionTracker { gone: rx, task }
    }

    /// Waits until the pod with `uid` is gone.
    pub(crate) async fn wait(&self, uid: &str) {
        let mut rx = self.gone.clone();
        loop {
            if rx.borrow_and_update().contains(uid) {
                return;
            }
            if rx.changed().await.is_err() {
                // The tracker stopped; nothing more will arrive.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Lists the node's pods; every tracked uid that is missing is gone. Returns the list's resourceVersion.
async fn relist(
    cluster: &Cluster,
    api: &Api<Pod>,
    fields: &str,
    tracked: &Mutex<HashMap<String, String>>,
    mark: &impl Fn(&str),
) -> Option<String> {
    let first = api.list(&ListParams::default().fields(fields).limit(1)).await.ok()?;
    let rv = first.metadata.resource_version.clone();
    let pods = paging::list_all(cluster, api, ListParams::default().fields(fields)).await.ok()?;
    let present: HashSet<String> = pods.iter().filter_map(|p| p.metadata.uid.clone()).collect();
    let waited: Vec<String> = tracked.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
    for uid in waited {
        if !present.contains(&uid) {
            mark(&uid);
        }
    }
    rv
}
