//! `meta.k8s.io/v1 Table` output, which kubectl asks for when it prints
//! `get`. Columns and cells follow the real server's printers for the kinds
//! kubectl users look at most; other kinds get `NAME` and `CREATED AT`.

use k8s_openapi::{
    api::core::v1::{Node, Pod},
    jiff::Timestamp,
};
use k8sops_core::{age::age_since, object_status};
use serde_json::{json, Value};

/// Computes a row's cells from an object.
type CellFn = Box<dyn Fn(&Value) -> Vec<Value>>;

fn col(name: &str, ty: &str, format: &str, priority: u8, description: &str) -> Value {
    json!({"name": name, "type": ty, "format": format, "priority": priority, "description": description})
}

fn created(obj: &Value) -> Option<Timestamp> {
    obj["metadata"]["creationTimestamp"].as_str().and_then(|s| s.parse().ok())
}

fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

/// Builds a Table for `items` of `kind`. `include_object` is the request's
/// `includeObject` (`None`, `Metadata` (default) or `Object`).
pub(crate) fn table(kind: &str, items: &[&Value], include_object: &str, list_meta: Value) -> Value {
    let now = Timestamp::now();
    let (columns, cells): (Vec<Value>, CellFn) = match kind {
        "Node" => (
            vec![
                col("Name", "string", "name", 0, "Name must be unique within a namespace."),
                col("Status", "string", "", 0, "The status of the node"),
                col("Roles", "string", "", 0, "The roles of the node"),
                col("Age", "string", "", 0, "CreationTimestamp"),
                col("Version", "string", "", 0, "Kubelet Version reported by the node."),
                col("Internal-IP", "string", "", 1, "List of addresses reachable to the node."),
                col("External-IP", "string", "", 1, "List of addresses reachable to the node."),
                col("OS-Image", "string", "", 1, "OS Image reported by the node from /etc/os-release."),
                col("Kernel-Version", "string", "", 1, "Kernel Version reported by the node."),
                col("Container-Runtime", "string", "", 1, "Container Runtime Version reported by the node."),
            ],
            Box::new(move |obj| {
                let Ok(node) = serde_json::from_value::<Node>(obj.clone()) else { return vec![json!(obj["metadata"]["name"])] };
                let info = node.status.as_ref().and_then(|s| s.node_info.as_ref());
                let or_unknown = |s: Option<&String>| s.filter(|s| !s.is_empty()).cloned().unwrap_or_else(|| "<unknown>".into());
                vec![
                    json!(node.metadata.name),
                    json!(object_status::node_status(&node)),
                    json!(object_status::node_roles(&node)),
                    json!(age_since(created(obj), now)),
                    json!(info.map(|i| i.kubelet_version.clone()).unwrap_or_default()),
                    json!(object_status::node_address(&node, "InternalIP")),
                    json!(object_status::node_address(&node, "ExternalIP")),
                    json!(or_unknown(info.map(|i| &i.os_image))),
                    json!(or_unknown(info.map(|i| &i.kernel_version))),
                    json!(or_unknown(info.map(|i| &i.container_runtime_version))),
                ]
            }),
        ),
        "Pod" => (
            vec![
                col("Name", "string", "name", 0, "Name must be unique within a namespace."),
                col("Ready", "string", "", 0, "The aggregate readiness state of this pod for accepting traffic."),
                col("Status", "string", "", 0, "The aggregate status of the containers in this pod."),
                col("Restarts", "string", "", 0, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
                col("Age", "string", "", 0, "CreationTimestamp"),
                col("IP", "string", "", 1, "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."),
                col("Node", "string", "", 1, "NodeName is a request to schedule this pod onto a specific node."),
                col("Nominated Node", "string", "", 1, "nominatedNodeName is set when this pod preempts other pods on the node."),
                col("Readiness Gates", "string", "", 1, "If specified, all readiness gates will be evaluated for pod readiness."),
            ],
            Box::new(move |obj| {
                let Ok(pod) = serde_json::from_value::<Pod>(obj.clone()) else { return vec![json!(obj["metadata"]["name"])] };
                let d = object_status::pod_display(&pod);
                let none = |s: Option<String>| s.filter(|s| !s.is_empty()).unwrap_or_else(|| "<none>".into());
                let status = pod.status.as_ref();
                let gates = pod.spec.as_ref().and_then(|s| s.readiness_gates.as_ref()).filter(|g| !g.is_empty());
                let gates = match gates {
                    None => "<none>".to_string(),
                    Some(g) => {
                        let conds = status.and_then(|s| s.conditions.as_ref());
                        let ok = g
                            .iter()
                            .filter(|gate| {
                                conds.is_some_and(|c| c.iter().any(|c| c.type_ == gate.condition_type && c.status == "True"))
                            })
                            .count();
                        format!("{ok}/{}", g.len())
                    }
                };
                vec![
                    json!(pod.metadata.name),
                    json!(d.ready),
                    json!(d.status),
                    json!(d.restarts_column(now)),
                    json!(age_since(created(obj), now)),
                    json!(none(status.and_then(|s| s.pod_ip.clone()))),
                    json!(none(pod.spec.as_ref().and_then(|s| s.node_name.clone()))),
                    json!(none(status.and_then(|s| s.nominated_node_name.clone()))),
                    json!(gates),
                ]
            }),
        ),
        "Namespace" => (
            vec![
                col("Name", "string", "name", 0, "Name must be unique within a namespace."),
                col("Status", "string", "", 0, "The status of the namespace"),
                col("Age", "string", "", 0, "CreationTimestamp"),
            ],
            Box::new(move |obj| {
                vec![
                    obj["metadata"]["name"].clone(),
                    json!(obj["status"]["phase"].as_str().unwrap_or("Active")),
                    json!(age_since(created(obj), now)),
                ]
            }),
        ),
        _ => (
            vec![
                col("Name", "string", "name", 0, "Name must be unique within a namespace."),
                col("Created At", "date", "", 0, "CreationTimestamp"),
            ],
            Box::new(|obj| vec![obj["metadata"]["name"].clone(), obj["metadata"]["creationTimestamp"].clone()]),
        ),
    };
    let rows: Vec<Value> = items
        .iter()
        .map(|obj| {
            let mut row = json!({"cells": cells(obj)});
            match include_object {
                "None" => {}
                "Object" => row["object"] = (*obj).clone(),
                _ => row["object"] = partial_metadata(obj),
            }
            row
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "columnDefinitions": columns, "rows": rows})
}
