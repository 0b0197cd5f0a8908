//! Fixtures for node tests: small clusters built object by object, for the
//! testkit (inserted directly) and for a real API server (created through the API).

#![allow(dead_code, unreachable_pub)]

use serde_json::{json, Value};

pub fn node(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "eks.amazonaws.com/nodegroup": "workers"}},
        "spec": {"providerID": format!("aws:///us-east-1a/i-{}", name.replace('-', ""))},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
                   "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}, "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                   "nodeInfo": {"kubeletVersion": "v1.29.3", "osImage": "Linux", "kernelVersion": "6.1", "containerRuntimeVersion": "containerd://1.7",
                                "machineID": "", "systemUUID": "", "bootID": "", "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"}}})
}

pub fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

pub fn running(mut pod: Value) -> Value {
    pod["status"] = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "image": "pause", "imageID": "", "state": {"running": {}}}]});
    pod
}

pub fn pod(ns: &str, name: &str, node: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 30, "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9",
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}})
}

pub fn owned(mut pod: Value, kind: &str, owner: &Value) -> Value {
    let api = if kind == "Job" { "batch/v1" } else { "apps/v1" };
    pod["metadata"]["ownerReferences"] = json!([{"apiVersion": api, "kind": kind, "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"], "controller": true}]);
    pod
}

pub fn replicaset(ns: &str, name: &str, replicas: i64, labels: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]}}}})
}

pub fn daemonset(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"matchLabels": {"ds": name}}, "template": {"metadata": {"labels": {"ds": name}},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]}}}})
}

pub fn pdb(ns: &str, name: &str, min_available: i64, labels: Value) -> Value {
    json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "namespace": ns},
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": labels}}})
}

pub fn with_empty_dir(mut pod: Value) -> Value {
    pod["spec"]["volumes"] = json!([{"name": "scratch", "emptyDir": {}}]);
    pod
}
