//! The resource types the testkit serves: names, scope, verbs, subresources,
//! and the field selectors the real API server accepts for each.

use serde_json::Value;

/// One served resource (a group/version/plural).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceDef {
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) plural: String,
    pub(crate) singular: String,
    pub(crate) kind: String,
    pub(crate) namespaced: bool,
    pub(crate) short_names: Vec<String>,
    pub(crate) status_subresource: bool,
    /// Extra subresources besides `status` (e.g. `eviction`, `log`, `scale`).
    pub(crate) subresources: Vec<String>,
    /// Read-only resources (metrics) and create-only ones (reviews).
    pub(crate) access: Access,
    /// Field labels beyond `metadata.name` / `metadata.namespace`.
    pub(crate) fields: Vec<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    ReadWrite,
    ReadOnly,
    CreateOnly,
}

impl ResourceDef {
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Storage is shared by all versions of a group/resource.
    pub(crate) fn storage_key(&self) -> String {
        format!("{}/{}", self.group, self.plural)
    }

    pub(crate) fn verbs(&self) -> Vec<&'static str> {
        match self.access {
            Access::ReadWrite => {
                vec!["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
            }
            Access::ReadOnly => vec!["get", "list"],
            Access::CreateOnly => vec!["create"],
        }
    }

    /// The value of a field label, or `None` if the resource does not support it.
    pub(crate) fn field_value(&self, obj: &Value, field: &str) -> Option<String> {
        let supported = matches!(field, "metadata.name" | "metadata.namespace") || self.fields.contains(&field);
        if !supported {
            return None;
        }
        let path = match field {
            // Event's `source` field label means source.component.
            "source" if self.kind == "Event" => "source.component",
            other => other,
        };
        let mut cur = obj;
        for part in path.split('.') {
            match cur.get(part) {
                Some(v) => cur = v,
                None => return Some(String::new()),
            }
        }
        Some(match cur {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            other => other.to_string(),
        })
    }
}

struct Def {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    status: bool,
    subs: &'static [&'static str],
    access: Access,
    fields: &'static [&'static str],
}

const RW: Access = Access::ReadWrite;

#[rustfmt::skip]
const BUILTIN: &[Def] = &[
    Def { group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false, short: &["ns"], status: true, subs: &["finalize"], access: RW, fields: &["status.phase"] },
    Def { group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false, short: &["no"], status: true, subs: &[], access: RW, fields: &["spec.unschedulable"] },
    Def { group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true, short: &["po"], status: true, subs: &["eviction", "log", "binding"], access: RW,
          fields: &["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"] },
    Def { group: "", version: "v1", plural: "services", kind: "Service", namespaced: true, short: &["svc"], status: true, subs: &[], access: RW, fields: &[] },
    Def { group: "", version: "v1", plural: "endpoints", kind: "Endpoints", namespaced: true, short: &["ep"], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "", version: "v1", plural: "events", kind: "Event", namespaced: true, short: &["ev"], status: false, subs: &[], access: RW,
          fields: &["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"] },
    Def { group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true, short: &["cm"], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true, short: &[], status: false, subs: &[], access: RW, fields: &["type"] },
    Def { group: "", version: "v1", plural: "serviceaccounts", kind: "ServiceAccount", namespaced: true, short: &["sa"], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "", version: "v1", plural: "persistentvolumes", kind: "PersistentVolume", namespaced: false, short: &["pv"], status: true, subs: &[], access: RW, fields: &[] },
    Def { group: "", version: "v1", plural: "persistentvolumeclaims", kind: "PersistentVolumeClaim", namespaced: true, short: &["pvc"], status: true, subs: &[], access: RW, fields: &[] },
    Def { group: "", version: "v1", plural: "resourcequotas", kind: "ResourceQuota", namespaced: true, short: &["quota"], status: true, subs: &[], access: RW, fields: &[] },
    Def { group: "", version: "v1", plural: "limitranges", kind: "LimitRange", namespaced: true, short: &["limits"], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "", version: "v1", plural: "replicationcontrollers", kind: "ReplicationController", namespaced: true, short: &["rc"], status: true, subs: &["scale"], access: RW, fields: &["status.replicas"] },
    Def { group: "", version: "v1", plural: "componentstatuses", kind: "ComponentStatus", namespaced: false, short: &["cs"], status: false, subs: &[], access: Access::ReadOnly, fields: &[] },
    Def { group: "apps", version: "v1", plural: "deployments", kind: "Deployment", namespaced: true, short: &["deploy"], status: true, subs: &["scale"], access: RW, fields: &[] },
    Def { group: "apps", version: "v1", plural: "replicasets", kind: "ReplicaSet", namespaced: true, short: &["rs"], status: true, subs: &["scale"], access: RW, fields: &["status.replicas"] },
    Def { group: "apps", version: "v1", plural: "daemonsets", kind: "DaemonSet", namespaced: true, short: &["ds"], status: true, subs: &[], access: RW, fields: &[] },
    Def { group: "apps", version: "v1", plural: "statefulsets", kind: "StatefulSet", namespaced: true, short: &["sts"], status: true, subs: &["scale"], access: RW, fields: &[] },
    Def { group: "apps", version: "v1", plural: "controllerrevisions", kind: "ControllerRevision", namespaced: true, short: &[], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "batch", version: "v1", plural: "jobs", kind: "Job", namespaced: true, short: &[], status: true, subs: &[], access: RW, fields: &["status.successful"] },
    Def { group: "batch", version: "v1", plural: "cronjobs", kind: "CronJob", namespaced: true, short: &["cj"], status: true, subs: &[], access: RW, fields: &[] },
    Def { group: "policy", version: "v1", plural: "poddisruptionbudgets", kind: "PodDisruptionBudget", namespaced: true, short: &["pdb"], status: true, subs: &[], access: RW, fields: &[] },
    Def { group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", kind: "Role", namespaced: true, short: &[], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", kind: "RoleBinding", namespaced: true, short: &[], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", kind: "ClusterRole", namespaced: false, short: &[], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings", kind: "ClusterRoleBinding", namespaced: false, short: &[], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "storage.k8s.io", version: "v1", plural: "storageclasses", kind: "StorageClass", namespaced: false, short: &["sc"], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "storage.k8s.io", version: "v1", plural: "csidrivers", kind: "CSIDriver", namespaced: false, short: &[], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "storage.k8s.io", version: "v1", plural: "volumeattachments", kind: "VolumeAttachment", namespaced: false, short: &[], status: true, subs: &[], access: RW, fields: &[] },
    Def { group: "networking.k8s.io", version: "v1", plural: "networkpolicies", kind: "NetworkPolicy", namespaced: true, short: &["netpol"], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "networking.k8s.io", version: "v1", plural: "ingresses", kind: "Ingress", namespaced: true, short: &["ing"], status: true, subs: &[], access: RW, fields: &[] },
    Def { group: "discovery.k8s.io", version: "v1", plural: "endpointslices", kind: "EndpointSlice", namespaced: true, short: &[], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease", namespaced: true, short: &[], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "events.k8s.io", version: "v1", plural: "events", kind: "Event", namespaced: true, short: &["ev"], status: false, subs: &[], access: RW, fields: &["regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid", "reason", "reportingController", "type"] },
    Def { group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions", kind: "CustomResourceDefinition", namespaced: false, short: &["crd", "crds"], status: true, subs: &[], access: RW, fields: &[] },
    Def { group: "apiregistration.k8s.io", version: "v1", plural: "apiservices", kind: "APIService", namespaced: false, short: &[], status: true, subs: &[], access: RW, fields: &[] },
    Def { group: "admissionregistration.k8s.io", version: "v1", plural: "validatingwebhookconfigurations", kind: "ValidatingWebhookConfiguration", namespaced: false, short: &[], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "admissionregistration.k8s.io", version: "v1", plural: "mutatingwebhookconfigurations", kind: "MutatingWebhookConfiguration", namespaced: false, short: &[], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "scheduling.k8s.io", version: "v1", plural: "priorityclasses", kind: "PriorityClass", namespaced: false, short: &["pc"], status: false, subs: &[], access: RW, fields: &[] },
    Def { group: "authorization.k8s.io", version: "v1", plural: "selfsubjectaccessreviews", kind: "SelfSubjectAccessReview", namespaced: false, short: &[], status: false, subs: &[], access: Access::CreateOnly, fields: &[] },
    Def { group: "authorization.k8s.io", version: "v1", plural: "selfsubjectrulesreviews", kind: "SelfSubjectRulesReview", namespaced: false, short: &[], status: false, subs: &[], access: Access::CreateOnly, fields: &[] },
    Def { group: "authorization.k8s.io", version: "v1", plural: "subjectaccessreviews", kind: "SubjectAccessReview", namespaced: false, short: &[], status: false, subs: &[], access: Access::CreateOnly, fields: &[] },
    Def { group: "authorization.k8s.io", version: "v1", plural: "localsubjectaccessreviews", kind: "LocalSubjectAccessReview", namespaced: true, short: &[], status: false, subs: &[], access: Access::CreateOnly, fields: &[] },
];

#[rustfmt::skip]
const METRICS: &[Def] = &[
    Def { group: "metrics.k8s.io", version: "v1beta1", plural: "nodes", kind: "NodeMetrics", namespaced: false, short: &[], status: false, subs: &[], access: Access::ReadOnly, fields: &[] },
    Def { group: "metrics.k8s.io", version: "v1beta1", plural: "pods", kind: "PodMetrics", namespaced: true, short: &[], status: false, subs: &[], access: Access::ReadOnly, fields: &[] },
];

fn convert(d: &Def) -> ResourceDef {
    ResourceDef {
        group: d.group.into(),
        version: d.version.into(),
        plural: d.plural.into(),
        singular: d.kind.to_lowercase(),
        kind: d.kind.into(),
        namespaced: d.namespaced,
        short_names: d.short.iter().map(|s| s.to_string()).collect(),
        status_subresource: d.status,
        subresources: d.subs.iter().map(|s| s.to_string()).collect(),
        access: d.access,
        fields: d.fields.to_vec(),
    }
}

/// The built-in resources, plus metrics.k8s.io when `metrics` is on.
pub(crate) fn builtin(metrics: bool) -> Vec<ResourceDef> {
    let mut out: Vec<ResourceDef> = BUILTIN.iter().map(convert).collect();
    if metrics {
        out.extend(METRICS.iter().map(convert));
    }
    out
}

/// Resources defined by a CustomResourceDefinition object.
pub(crate) fn from_crd(crd: &Value) -> Vec<ResourceDef> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default().to_string();
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or_default().to_string();
    let kind = names["kind"].as_str().unwrap_or_default().to_string();
    let singular = names["singular"].as_str().map(str::to_string).unwrap_or_else(|| kind.to_lowercase());
    let short_names: Vec<String> = names["shortNames"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    spec["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"].as_bool().unwrap_or(true))
        .filter_map(|v| {
            Some(ResourceDef {
                group: group.clone(),
                version: v["name"].as_str()?.to_string(),
                plural: plural.clone(),
                singular: singular.clone(),
                kind: kind.clone(),
                namespaced,
                short_names: short_names.clone(),
                status_subresource: v["subresources"].get("status").is_some(),
                subresources: if v["subresources"].get("scale").is_some() { vec!["scale".into()] } else { vec![] },
                access: Access::ReadWrite,
                fields: vec![],
            })
        })
        .collect()
}
