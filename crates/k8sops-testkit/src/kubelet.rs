//! A kubelet and controller stand-in, on when the server is built with
//! [`KubeletOptions`](crate::KubeletOptions): pods being deleted gracefully
//! disappear after their grace period (or a fixed delay), and pods owned by a
//! ReplicaSet, StatefulSet or DaemonSet are recreated — ReplicaSet and
//! StatefulSet pods on another schedulable node, DaemonSet pods on their node.

use std::{sync::Arc, time::Duration};

use serde_json::{json, Value};

use crate::{
    server::{lock, Shared},
    store::{key_of, now_rfc3339, Store},
    TerminationDelay,
};

/// Called when a pod got a deletionTimestamp.
pub(crate) fn pod_terminating(shared: &Arc<Shared>, pod: &Value, grace_secs: i64) {
    let Some(opts) = shared.opts.kubelet.clone() else {
        return;
    };
    let delay = match opts.termination {
        TerminationDelay::Immediate => Duration::ZERO,
        TerminationDelay::GracePeriod => Duration::from_secs(grace_secs.max(0) as u64),
        TerminationDelay::Fixed(d) => d,
    };
    let key = key_of(pod);
    let uid = pod["metadata"]["uid"].as_str().unwrap_or("").to_string();
    let shared = shared.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        let mut store = shared.store();
        let Some(cur) = store.get("/pods", &key) else {
            return;
        };
        if cur["metadata"]["uid"].as_str() != Some(uid.as_str()) {
            return;
        }
        if let Some(removed) = store.remove("/pods", &key) {
            pod_removed(&shared, &mut store, &removed);
        }
    });
}

fn controller(pod: &Value) -> Option<(String, String)> {
    pod["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
        .map(|r| (r["kind"].as_str().unwrap_or("").to_string(), r["name"].as_str().unwrap_or("").to_string()))
}

/// Called when a pod is gone for good: recreate it if its controller still exists.
pub(crate) fn pod_removed(shared: &Arc<Shared>, store: &mut Store, pod: &Value) {
    let Some(opts) = shared.opts.kubelet.as_ref() else {
        return;
    };
    if !opts.recreate_controller_pods {
        return;
    }
    let Some((kind, owner)) = controller(pod) else {
        return;
    };
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("").to_string();
    let storage = match kind.as_str() {
        "ReplicaSet" => "apps/replicasets",
        "StatefulSet" => "apps/statefulsets",
        "DaemonSet" => "apps/daemonsets",
        _ => return,
    };
    if store.get(storage, &(ns.clone(), owner.clone())).is_none() {
        return;
    }
    let old_node = pod["spec"]["nodeName"].as_str().unwrap_or("").to_string();
    let node = if kind == "DaemonSet" {
        if store.get("/nodes", &(String::new(), old_node.clone())).is_none() {
            return;
        }
        old_node
    } else {
        pick_node(shared, store, &old_node).unwrap_or_default()
    };
    let mut new = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "namespace": ns,
            "labels": pod["metadata"]["labels"].clone(),
            "annotations": pod["metadata"]["annotations"].clone(),
            "ownerReferences": pod["metadata"]["ownerReferences"].clone(),
        },
        "spec": pod["spec"].clone(),
    });
    if kind == "StatefulSet" {
        new["metadata"]["name"] = pod["metadata"]["name"].clone();
    } else {
        let mut rng = lock(&shared.rng);
        const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let suffix: String = (0..5).map(|_| CHARS[rng.below(CHARS.len() as u64) as usize] as char).collect();
        new["metadata"]["name"] = json!(format!("{owner}-{suffix}"));
    }
    new["spec"]["nodeName"] = json!(node);
    let ready = !node.is_empty() && opts.replacements_ready;
    new["status"] = if ready {
        running_status(pod)
    } else {
        json!({"phase": "Pending", "qosClass": pod["status"]["qosClass"].clone()})
    };
    let Some(def) = store.find("", "v1", "pods").cloned() else {
        return;
    };
    let _ = store.create(&def, new, false);
}

/// A Running, Ready status for a pod (copied container names).
pub(crate) fn running_status(pod: &Value) -> Value {
    let now = now_rfc3339();
    let statuses: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": true, "started": true, "restartCount": 0,
                   "state": {"running": {"startedAt": now}}})
        })
        .collect();
    json!({
        "phase": "Running",
        "qosClass": pod["status"]["qosClass"].clone(),
        "startTime": now,
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}
        ],
        "containerStatuses": statuses,
    })
}

fn pick_node(shared: &Shared, store: &Store, avoid: &str) -> Option<String> {
    let candidates: Vec<String> = store
        .range("/nodes", None, None)
        .filter(|n| n["spec"]["unschedulable"] != true)
        .filter(|n| {
            n["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        })
        .filter(|n| !n["spec"]["taints"].as_array().is_some_and(|t| t.iter().any(|t| t["effect"] == "NoSchedule")))
        .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_string))
        .filter(|n| n != avoid)
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let i = lock(&shared.rng).below(candidates.len() as u64) as usize;
    Some(candidates[i].clone())
}
