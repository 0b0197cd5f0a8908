//! What an exported object keeps, and which objects are not exported
//! because the cluster recreates them.
//!
//! Cleaning follows Velero: the server-managed metadata goes (`uid`,
//! `resourceVersion`, `managedFields`, `creationTimestamp`, `generation`,
//! `selfLink`, deletion marks), and so do `ownerReferences`: they name the
//! owner by UID, which a restored owner does not keep, and the garbage
//! collector deletes an object whose owner UID does not exist. `status` goes
//! unless asked for. A Service loses the cluster IPs the server allocated
//! (a headless Service keeps `clusterIP: None`) and the node ports that no
//! `kubectl apply` asked for; a PersistentVolumeClaim loses its binding to a
//! volume (`spec.volumeName` and the binding annotations), so it binds again
//! to the restored volume that still names it, or is provisioned anew; a
//! PersistentVolume's `claimRef` keeps the claim's namespace and name but
//! not its UID. A Pod loses `nodeName` and `priority`, a Job the selector and
//! labels the server generated from its UID.

use std::collections::HashSet;

use kube::{api::DynamicObject, discovery::ApiResource};
use serde_json::Value;

/// Why an object is left out of an export (when managed objects are not
/// asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Managed {
    /// A controller owns it and recreates it from its owner.
    ControllerOwned,
    /// The endpoints controller writes it from a Service's selector.
    ServiceEndpoints,
    /// The token controller minted it for a ServiceAccount.
    ServiceAccountToken,
    /// The API server registers it itself.
    AutomanagedApiService,
}

/// Resource types no restore can bring back meaningfully: events (history),
/// nodes (kubelets register them), and the node-bound storage objects.
pub(crate) const NEVER_RESTORED: &[&str] =
    &["events", "events.events.k8s.io", "nodes", "csinodes.storage.k8s.io", "volumeattachments.storage.k8s.io"];

/// `(namespace, name)` of Services that have a selector.
pub(crate) type SelectorServices = HashSet<(String, String)>;

/// Why `obj` is recreated by the cluster, if it is.
pub(crate) fn managed(obj: &DynamicObject, ar: &ApiResource, services: Option<&SelectorServices>) -> Option<Managed> {
    let meta = &obj.metadata;
    if meta.owner_references.as_ref().is_some_and(|refs| refs.iter().any(|r| r.controller == Some(true))) {
        return Some(Managed::ControllerOwned);
    }
    match (ar.group.as_str(), ar.kind.as_str()) {
        ("", "Secret")
            if obj.data.get("type").and_then(Value::as_str) == Some("kubernetes.io/service-account-token") =>
        {
            Some(Managed::ServiceAccountToken)
        }
        ("", "Endpoints") => {
            let key = (meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default());
            services.filter(|s| s.contains(&key)).map(|_| Managed::ServiceEndpoints)
        }
        ("discovery.k8s.io", "EndpointSlice") => {
            let by = meta.labels.as_ref().and_then(|l| l.get("endpointslice.kubernetes.io/managed-by"));
            by.filter(|b| b.ends_with("controller.k8s.io")).map(|_| Managed::ServiceEndpoints)
        }
        ("apiregistration.k8s.io", "APIService")
            if meta.labels.as_ref().is_some_and(|l| l.contains_key("kube-aggregator.kubernetes.io/automanaged")) =>
        {
            Some(Managed::AutomanagedApiService)
        }
        _ => None,
    }
}

/// Strips what the server manages (see the module docs).
pub(crate) fn clean(obj: &mut DynamicObject, ar: &ApiResource, with_status: bool) {
    obj.types = Some(kube::api::TypeMeta { api_version: ar.api_version.clone(), kind: ar.kind.clone() });
    let m = &mut obj.metadata;
    m.uid = None;
    m.resource_version = None;
    m.managed_fields = None;
    m.creation_timestamp = None;
    m.generation = None;
    m.self_link = None;
    m.owner_references = None;
    m.deletion_timestamp = None;
    m.deletion_grace_period_seconds = None;
    let data = &mut obj.data;
    if !with_status {
        remove(data, "status");
    }
    match (ar.group.as_str(), ar.kind.as_str()) {
        ("", "Service") => clean_service(data, m_annotation(&obj.metadata, LAST_APPLIED)),
        ("", "PersistentVolumeClaim") => {
            remove(&mut data["spec"], "volumeName");
            if let Some(a) = obj.metadata.annotations.as_mut() {
                a.remove("pv.kubernetes.io/bind-completed");
                a.remove("pv.kubernetes.io/bound-by-controller");
            }
        }
        ("", "PersistentVolume") => {
            if let Some(claim) = data.get_mut("spec").and_then(|s| s.get_mut("claimRef")) {
                remove(claim, "uid");
                remove(claim, "resourceVersion");
            }
        }
        ("", "Pod") => {
            remove(&mut data["spec"], "nodeName");
            remove(&mut data["spec"], "priority");
        }
        ("batch", "Job") => clean_job(data),
        _ => {}
    }
    if data.get("spec").is_some_and(Value::is_null) {
        remove(data, "spec");
    }
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn m_annotation(meta: &kube::api::ObjectMeta, key: &str) -> Option<Value> {
    meta.annotations.as_ref()?.get(key).and_then(|s| serde_json::from_str(s).ok())
}

fn remove(v: &mut Value, key: &str) {
    if let Some(m) = v.as_object_mut() {
        m.remove(key);
    }
}

/// Drops allocated cluster IPs and the node ports the last `kubectl apply`
/// did not ask for (Velero's rule: explicit node ports are kept).
fn clean_service(data: &mut Value, last_applied: Option<Value>) {
    let Some(spec) = data.get_mut("spec").and_then(Value::as_object_mut) else { return };
    if spec.get("clusterIP").and_then(Value::as_str) != Some("None") {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
    let applied = last_applied.as_ref().map(|a| &a["spec"]);
    let wanted_ports: Vec<&Value> = applied
        .and_then(|s| s["ports"].as_array())
        .map(|ports| ports.iter().filter(|p| p.get("nodePort").is_some()).collect())
        .unwrap_or_default();
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            let explicit = wanted_ports.iter().any(|w| {
                w.get("nodePort") == port.get("nodePort")
                    && (w.get("port") == port.get("port")
                        || (w.get("name").is_some() && w.get("name") == port.get("name")))
            });
            if !explicit {
                port.remove("nodePort");
            }
        }
    }
    if applied.and_then(|s| s.get("healthCheckNodePort")).is_none() {
        spec.remove("healthCheckNodePort");
    }
}

/// The server generates a Job's selector and the matching template labels
/// from the Job's UID; a new Job must not carry them (unless it chose its
/// selector itself with `manualSelector`).
fn clean_job(data: &mut Value) {
    let Some(spec) = data.get_mut("spec").and_then(Value::as_object_mut) else { return };
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    spec.remove("selector");
    if let Some(labels) = spec
        .get_mut("template")
        .and_then(|t| t.get_mut("metadata"))
        .and_then(|m| m.get_mut("labels"))
        .and_then(Value::as_object_mut)
    {
        labels.remove("controller-uid");
        labels.remove("batch.kubernetes.io/controller-uid");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ar(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
        let api_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
        ApiResource {
            group: group.into(),
            version: version.into(),
            api_version,
            kind: kind.into(),
            plural: plural.into(),
        }
    }

    fn obj(v: Value) -> DynamicObject {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn server_managed_metadata_owner_references_and_status_are_dropped() {
        let cm = ar("", "v1", "ConfigMap", "configmaps");
        let mut o = obj(json!({"metadata": {"name": "a", "namespace": "shop", "uid": "u", "resourceVersion": "7",
            "creationTimestamp": "2024-01-01T00:00:00Z", "generation": 3, "managedFields": [{"manager": "kubectl"}],
            "ownerReferences": [{"apiVersion": "v1", "kind": "Foo", "name": "f", "uid": "x"}], "labels": {"app": "a"}},
            "data": {"k": "v"}, "status": {"x": 1}}));
        clean(&mut o, &cm, false);
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "shop", "labels": {"app": "a"}}, "data": {"k": "v"}})
        );
        let mut kept = obj(json!({"metadata": {"name": "a"}, "status": {"x": 1}}));
        clean(&mut kept, &cm, true);
        assert_eq!(kept.data["status"], json!({"x": 1}));
    }

    #[test]
    fn a_service_loses_allocated_ips_and_node_ports_but_keeps_headless_and_applied_ones() {
        let svc = ar("", "v1", "Service", "services");
        let applied = json!({"spec": {"ports": [{"port": 80, "nodePort": 30080}]}}).to_string();
        let mut o = obj(json!({"metadata": {"name": "web", "annotations": {LAST_APPLIED: applied}},
            "spec": {"clusterIP": "10.0.0.9", "clusterIPs": ["10.0.0.9"], "type": "NodePort",
                     "ports": [{"port": 80, "nodePort": 30080}, {"port": 443, "nodePort": 31443}]}}));
        clean(&mut o, &svc, false);
        assert_eq!(
            o.data["spec"],
            json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}, {"port": 443}]})
        );
        let mut headless =
            obj(json!({"metadata": {"name": "db"}, "spec": {"clusterIP": "None", "clusterIPs": ["None"]}}));
        clean(&mut headless, &svc, false);
        assert_eq!(headless.data["spec"]["clusterIP"], "None");
    }

    #[test]
    fn claims_lose_their_binding_and_volumes_keep_the_claim_by_name() {
        let mut pvc = obj(
            json!({"metadata": {"name": "data", "annotations": {"pv.kubernetes.io/bind-completed": "yes", "keep": "1"}},
            "spec": {"volumeName": "pv-1", "resources": {"requests": {"storage": "1Gi"}}}}),
        );
        clean(&mut pvc, &ar("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"), false);
        assert!(pvc.data["spec"].get("volumeName").is_none());
        assert_eq!(pvc.metadata.annotations.unwrap().len(), 1);
        let mut pv = obj(
            json!({"metadata": {"name": "pv-1"}, "spec": {"claimRef": {"kind": "PersistentVolumeClaim", "namespace": "db", "name": "data", "uid": "u", "resourceVersion": "9"}}}),
        );
        clean(&mut pv, &ar("", "v1", "PersistentVolume", "persistentvolumes"), false);
        assert_eq!(
            pv.data["spec"]["claimRef"],
            json!({"kind": "PersistentVolumeClaim", "namespace": "db", "name": "data"})
        );
    }

    #[test]
    fn a_job_loses_the_generated_selector_unless_manual() {
        let job = ar("batch", "v1", "Job", "jobs");
        let mut o =
            obj(json!({"metadata": {"name": "j"}, "spec": {"selector": {"matchLabels": {"controller-uid": "u"}},
            "template": {"metadata": {"labels": {"controller-uid": "u", "job-name": "j"}}}}}));
        clean(&mut o, &job, false);
        assert_eq!(o.data["spec"], json!({"template": {"metadata": {"labels": {"job-name": "j"}}}}));
        let mut manual = obj(
            json!({"metadata": {"name": "j"}, "spec": {"manualSelector": true, "selector": {"matchLabels": {"a": "b"}}}}),
        );
        clean(&mut manual, &job, false);
        assert!(manual.data["spec"].get("selector").is_some());
    }

    #[test]
    fn controller_owned_objects_tokens_and_service_endpoints_are_managed() {
        let pods = ar("", "v1", "Pod", "pods");
        let owned = obj(
            json!({"metadata": {"name": "p", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "u", "controller": true}]}}),
        );
        assert_eq!(managed(&owned, &pods, None), Some(Managed::ControllerOwned));
        let referenced = obj(
            json!({"metadata": {"name": "p", "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "r", "uid": "u"}]}}),
        );
        assert_eq!(managed(&referenced, &pods, None), None);
        let token = obj(json!({"metadata": {"name": "t"}, "type": "kubernetes.io/service-account-token"}));
        assert_eq!(managed(&token, &ar("", "v1", "Secret", "secrets"), None), Some(Managed::ServiceAccountToken));
        let eps = ar("", "v1", "Endpoints", "endpoints");
        let ep = obj(json!({"metadata": {"name": "web", "namespace": "shop"}}));
        let services: SelectorServices = [("shop".to_string(), "web".to_string())].into();
        assert_eq!(managed(&ep, &eps, Some(&services)), Some(Managed::ServiceEndpoints));
        assert_eq!(
            managed(&ep, &eps, Some(&SelectorServices::new())),
            None,
            "endpoints of a selector-less Service are data"
        );
    }
}
