//! What one live object says about the API versions its clients use: the
//! last-applied annotation and the managed-fields entries, read with their
//! timestamps so that evidence an apply in a current version superseded is
//! not reported (the rules are in the [module docs](super)).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;

use super::{Finding, ObjectRef, RemovedApiParams, Source};
use crate::rules::MinorVersion;

/// The annotation `kubectl apply` records the applied object in.
pub(crate) const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Managers whose updates send the whole declared object, like an apply.
const FULL_OBJECT_MANAGERS: &[&str] = &["kubectl-client-side-apply", "kubectl-replace", "helm"];

/// The parts of an object the check reads; everything else is skipped
/// while parsing.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SlimObject {
    #[serde(default)]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) metadata: SlimMeta,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct SlimMeta {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) namespace: Option<String>,
    #[serde(default)]
    annotations: Option<Annotations>,
    #[serde(default, rename = "managedFields")]
    managed_fields: Option<Vec<Entry>>,
}

#[derive(Debug, Default, Deserialize)]
struct Annotations {
    #[serde(default, rename = "kubectl.kubernetes.io/last-applied-configuration")]
    last_applied: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Entry {
    #[serde(default)]
    manager: Option<String>,
    #[serde(default)]
    operation: Option<String>,
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    subresource: Option<String>,
    #[serde(default, rename = "fieldsV1")]
    fields: Option<FieldsProbe>,
}

/// Just enough of `fieldsV1` to tell whether the entry owns the
/// last-applied annotation.
#[derive(Debug, Default, Deserialize)]
struct FieldsProbe {
    #[serde(default, rename = "f:metadata")]
    metadata: Option<MetadataProbe>,
}

#[derive(Debug, Default, Deserialize)]
struct MetadataProbe {
    #[serde(default, rename = "f:annotations")]
    annotations: Option<AnnotationsProbe>,
}

#[derive(Debug, Default, Deserialize)]
struct AnnotationsProbe {
    #[serde(default, rename = "f:kubectl.kubernetes.io/last-applied-configuration")]
    last_applied: Option<serde::de::IgnoredAny>,
}

/// `apiVersion` and `kind` of the applied configuration.
#[derive(Debug, Default, Deserialize)]
struct AppliedHeader {
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

/// A managed-fields entry, read.
struct Write<'a> {
    manager: &'a str,
    operation: &'a str,
    api_version: &'a str,
    time: Option<Timestamp>,
    raw_time: &'a str,
    subresource: &'a str,
    owns_last_applied: bool,
}

impl Write<'_> {
    /// Sends the whole declared object (see [`FULL_OBJECT_MANAGERS`]).
    fn is_apply(&self) -> bool {
        self.subresource.is_empty() && (self.operation == "Apply" || FULL_OBJECT_MANAGERS.contains(&self.manager))
    }

    /// Entries without a time sort before every dated one.
    fn when(&self) -> Timestamp {
        self.time.unwrap_or(Timestamp::MIN)
    }

    fn describe(&self) -> String {
        let sub = if self.subresource.is_empty() { String::new() } else { format!("/{}", self.subresource) };
        let at = if self.raw_time.is_empty() { String::new() } else { format!(" at {}", self.raw_time) };
        format!("{} ({}{sub}{at})", self.manager, self.operation)
    }
}

/// Checks one live object (as the API server returns it, e.g. from
/// `kubectl get -o json`) for removed or deprecated apiVersions in its
/// last-applied annotation and managed fields, at `target`. Evidence a
/// newer apply in a current version superseded is left out (see the
/// [module docs](super)). The object's own `apiVersion` is how it was read,
/// not how it was written, and is not checked.
///
/// ```
/// use k8sops_upgrade::removed_apis::{check_object, RemovedApiParams, Source};
/// use k8sops_upgrade::rules::MinorVersion;
/// let cronjob = serde_json::json!({
///     "apiVersion": "batch/v1", "kind": "CronJob",
///     "metadata": {"name": "nightly", "namespace": "ops", "managedFields": [
///         {"manager": "kubectl-create", "operation": "Update", "apiVersion": "batch/v1beta1",
///          "time": "2024-03-01T10:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]}});
/// let findings = check_object(&cronjob, &RemovedApiParams::default(), MinorVersion::new(1, 25));
/// assert_eq!(findings.len(), 1);
/// assert_eq!((findings[0].source, findings[0].api_version.as_str()), (Source::ManagedFields, "batch/v1beta1"));
/// ```
pub fn check_object(object: &serde_json::Value, params: &RemovedApiParams, target: MinorVersion) -> Vec<Finding> {
    match SlimObject::deserialize(object) {
        Ok(slim) => {
            let kind = slim.kind.clone().unwrap_or_default();
            check_slim(&slim, &kind, params, target)
        }
        Err(_) => Vec::new(),
    }
}

/// [`check_object`] on an object already parsed; `kind` is the listed
/// resource's kind (list items carry none on a real server).
pub(crate) fn check_slim(
    obj: &SlimObject,
    kind: &str,
    params: &RemovedApiParams,
    target: MinorVersion,
) -> Vec<Finding> {
    let meta = &obj.metadata;
    let last_applied = meta.annotations.as_ref().and_then(|a| a.last_applied.as_deref());
    let entries = meta.managed_fields.as_deref().unwrap_or_default();
    if last_applied.is_none() && entries.is_empty() {
        return Vec::new();
    }
    let writes: Vec<Write<'_>> = entries
        .iter()
        .map(|e| {
            let raw_time = e.time.as_deref().unwrap_or_default();
            Write {
                manager: e.manager.as_deref().unwrap_or_default(),
                operation: e.operation.as_deref().unwrap_or_default(),
                api_version: e.api_version.as_deref().unwrap_or_default(),
                time: raw_time.parse().ok(),
                raw_time,
                subresource: e.subresource.as_deref().unwrap_or_default(),
                owns_last_applied: e
                    .fields
                    .as_ref()
                    .and_then(|f| f.metadata.as_ref())
                    .and_then(|m| m.annotations.as_ref())
                    .is_some_and(|a| a.last_applied.is_some()),
            }
        })
        .collect();
    let old = |api_version: &str, kind: &str| params.flagged(api_version, kind, target);

    // The newest entry of each manager. Within one second, the entry owning
    // the annotation is the latest client-side apply; otherwise a
    // current-version entry wins.
    let mut newest: BTreeMap<&str, &Write<'_>> = BTreeMap::new();
    for w in &writes {
        let key = |w: &Write<'_>| (w.when(), w.owns_last_applied, old(w.api_version, kind).is_none());
        newest
            .entry(w.manager)
            .and_modify(|cur| {
                if key(w) > key(cur) {
                    *cur = w
                }
            })
            .or_insert(w);
    }

    // The latest apply, among each manager's newest write, in a version the
    // target still serves without deprecation: evidence no newer than it
    // is stale.
    let latest_apply =
        newest.values().filter(|w| w.is_apply() && old(w.api_version, kind).is_none()).map(|w| w.when()).max();
    let superseded = |t: Timestamp| latest_apply.is_some_and(|a| a >= t);

    // Evidence per old apiVersion: (source, locations).
    let mut found: BTreeMap<String, (Source, Vec<String>)> = BTreeMap::new();

    if let Some(text) = last_applied {
        let header: AppliedHeader = serde_json::from_str(text).unwrap_or_default();
        let api_version = header.api_version.as_deref().unwrap_or_default();
        let applied_kind = header.kind.as_deref().filter(|k| !k.is_empty()).unwrap_or(kind);
        if old(api_version, applied_kind).is_some() {
            let owner = writes.iter().filter(|w| w.owns_last_applied).max_by_key(|w| w.when());
            let stale = match owner {
                Some(w) => superseded(w.when()),
                // Written before fields were tracked: any apply since is newer.
                None => latest_apply.is_some(),
            };
            if !stale {
                let by = owner.map(|w| format!(", written by {}", w.describe())).unwrap_or_default();
                found
                    .entry(api_version.to_string())
                    .or_insert_with(|| (Source::Annotation, Vec::new()))
                    .1
                    .push(format!("{LAST_APPLIED}{by}"));
            }
        }
    }

    for w in newest.values() {
        if old(w.api_version, kind).is_some() && !superseded(w.when()) {
            let entry = found.entry(w.api_version.to_string()).or_insert_with(|| (Source::ManagedFields, Vec::new()));
            // The annotation's own writer is already named with it.
            if !(w.owns_last_applied && entry.0 == Source::Annotation) {
                entry.1.push(format!("managedFields {}", w.describe()));
            }
        }
    }

    let namespace = meta.namespace.clone().unwrap_or_default();
    let name = meta.name.clone().unwrap_or_default();
    found
        .into_iter()
        .filter_map(|(api_version, (source, locations))| {
            let (rule, status) = old(&api_version, kind)?;
            let object = ObjectRef { kind: kind.to_string(), namespace: namespace.clone(), name: name.clone() };
            Some(Finding::from_rule(&params.rules, rule, status, target, object, source, locations.join("; ")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::rules::ApiStatus;

    fn entry(manager: &str, op: &str, api_version: &str, time: &str, owns_annotation: bool) -> Value {
        let fields = if owns_annotation {
            json!({"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}}, "f:spec": {}})
        } else {
            json!({"f:spec": {"f:schedule": {}}})
        };
        json!({"manager": manager, "operation": op, "apiVersion": api_version, "time": time, "fieldsType": "FieldsV1", "fieldsV1": fields})
    }

    fn cronjob(last_applied: Option<&str>, entries: Vec<Value>) -> Value {
        let mut o = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "ops", "managedFields": entries}});
        if let Some(v) = last_applied {
            let applied = json!({"apiVersion": v, "kind": "CronJob", "metadata": {"name": "nightly"}}).to_string();
            o["metadata"]["annotations"] = json!({LAST_APPLIED: applied});
        }
        o
    }

    fn at_125(o: &Value) -> Vec<(Source, String, ApiStatus)> {
        check_object(o, &RemovedApiParams::default(), MinorVersion::new(1, 25))
            .into_iter()
            .map(|f| (f.source, f.api_version, f.status))
            .collect()
    }

    const T1: &str = "2024-01-01T00:00:00Z";
    const T2: &str = "2024-06-01T00:00:00Z";

    #[test]
    fn an_old_apply_is_reported_once_with_the_annotation_as_source() {
        let o = cronjob(
            Some("batch/v1beta1"),
            vec![entry("kubectl-client-side-apply", "Update", "batch/v1beta1", T1, true)],
        );
        assert_eq!(at_125(&o), [(Source::Annotation, "batch/v1beta1".to_string(), ApiStatus::Removed)]);
    }

    #[test]
    fn a_reapply_in_the_current_version_makes_the_old_entry_of_the_same_manager_stale() {
        let o = cronjob(
            Some("batch/v1"),
            vec![
                entry("kubectl-client-side-apply", "Update", "batch/v1beta1", T1, false),
                entry("kubectl-client-side-apply", "Update", "batch/v1", T2, true),
            ],
        );
        assert!(at_125(&o).is_empty());
    }

    #[test]
    fn within_one_second_the_entry_owning_the_annotation_is_the_latest_apply() {
        let reapplied = cronjob(
            Some("batch/v1"),
            vec![
                entry("kubectl-client-side-apply", "Update", "batch/v1beta1", T1, false),
                entry("kubectl-client-side-apply", "Update", "batch/v1", T1, true),
            ],
        );
        assert!(at_125(&reapplied).is_empty());
        let rolled_back = cronjob(
            Some("batch/v1beta1"),
            vec![
                entry("kubectl-client-side-apply", "Update", "batch/v1", T1, false),
                entry("kubectl-client-side-apply", "Update", "batch/v1beta1", T1, true),
            ],
        );
        assert_eq!(at_125(&rolled_back).len(), 1);
    }

    #[test]
    fn an_old_annotation_is_stale_after_a_newer_server_side_apply() {
        let o = cronjob(
            Some("batch/v1beta1"),
            vec![
                entry("kubectl-client-side-apply", "Update", "batch/v1beta1", T1, true),
                entry("kustomize-controller", "Apply", "batch/v1", T2, false),
            ],
        );
        assert!(at_125(&o).is_empty());
    }

    #[test]
    fn an_old_apply_after_a_current_one_is_reported() {
        let o = cronjob(
            Some("batch/v1beta1"),
            vec![
                entry("kustomize-controller", "Apply", "batch/v1", T1, false),
                entry("kubectl-client-side-apply", "Update", "batch/v1beta1", T2, true),
            ],
        );
        assert_eq!(at_125(&o).len(), 1);
    }

    #[test]
    fn a_controller_writing_an_old_version_after_the_last_apply_is_reported() {
        let o = cronjob(
            Some("batch/v1"),
            vec![
                entry("kubectl-client-side-apply", "Update", "batch/v1", T1, true),
                entry("legacy-operator", "Update", "batch/v1beta1", T2, false),
            ],
        );
        let found = check_object(&o, &RemovedApiParams::default(), MinorVersion::new(1, 25));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].source, Source::ManagedFields);
        assert!(
            found[0].location.contains("legacy-operator (Update at 2024-06-01T00:00:00Z)"),
            "{}",
            found[0].location
        );
    }

    #[test]
    fn an_annotation_without_managed_fields_is_reported() {
        let o = cronjob(Some("batch/v1beta1"), vec![]);
        assert_eq!(at_125(&o).len(), 1);
    }

    #[test]
    fn deprecation_only_is_marked_and_can_be_turned_off() {
        let o = cronjob(None, vec![entry("kubectl-create", "Update", "batch/v1beta1", T1, false)]);
        let at_124 = check_object(&o, &RemovedApiParams::default(), MinorVersion::new(1, 24));
        assert_eq!(at_124[0].status, ApiStatus::Deprecated);
        assert!(check_object(&o, &RemovedApiParams::default().deprecated(false), MinorVersion::new(1, 24)).is_empty());
        assert!(check_object(&o, &RemovedApiParams::default(), MinorVersion::new(1, 20)).is_empty());
    }
}
