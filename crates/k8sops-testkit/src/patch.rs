//! JSON merge patch, JSON patch and strategic merge patch for the kinds the
//! project uses.

use serde_json::{Map, Value};

use crate::status::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub(crate) fn from_content_type(ct: &str) -> Option<Self> {
        let ct = ct.split(';').next().unwrap_or("").trim();
        match ct {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

/// Applies a patch body to `target`.
pub(crate) fn apply(target: &mut Value, patch_type: PatchType, body: &[u8]) -> Result<(), ApiError> {
    let patch: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    match patch_type {
        PatchType::Json => {
            let p: json_patch::Patch =
                serde_json::from_value(patch).map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            json_patch::patch(target, &p).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })
        }
        PatchType::Merge => {
            json_patch::merge(target, &patch);
            Ok(())
        }
        PatchType::Strategic | PatchType::Apply => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("strategic merge patch must be a JSON object"));
            }
            strategic_merge(target, &patch, "");
            Ok(())
        }
    }
}

/// The merge key of a list field, by field name, as the Go types declare it
/// (`patchMergeKey`). Lists without one are replaced wholesale.
fn merge_key(field: &str, sample: Option<&Value>) -> Option<&'static str> {
    match field {
        "containers" | "initContainers" | "ephemeralContainers" | "env" | "volumes" | "imagePullSecrets" => {
            Some("name")
        }
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "conditions" | "addresses" => Some("type"),
        "ownerReferences" => Some("uid"),
        "topologySpreadConstraints" => Some("topologyKey"),
        "hostAliases" => Some("ip"),
        "ports" => match sample {
            Some(v) if v.get("containerPort").is_some() => Some("containerPort"),
            _ => Some("port"),
        },
        _ => None,
    }
}

/// Lists of primitives that merge as sets rather than being replaced.
fn is_merged_primitive_list(field: &str) -> bool {
    field == "finalizers"
}

pub(crate) fn strategic_merge(target: &mut Value, patch: &Value, _path: &str) {
    let Some(patch_map) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if patch_map.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replaced = patch_map.clone();
        replaced.remove("$patch");
        *target = Value::Object(replaced);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target_map = target.as_object_mut().expect("object");
    for (k, v) in patch_map {
        if k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(cur)), Some(del)) = (target_map.get_mut(field), v.as_array()) {
                cur.retain(|x| !del.contains(x));
            }
            continue;
        }
        if v.is_null() {
            target_map.remove(k);
            continue;
        }
        match (target_map.get_mut(k), v) {
            (Some(cur @ Value::Object(_)), Value::Object(_)) => strategic_merge(cur, v, k),
            (Some(Value::Array(cur)), Value::Array(items)) => {
                if let Some(key) = merge_key(k, items.first().or(cur.first())) {
                    merge_keyed_list(cur, items, key);
                } else if is_merged_primitive_list(k) {
                    for item in items {
                        if !cur.contains(item) {
                            cur.push(item.clone());
                        }
                    }
                } else {
                    *cur = items.clone();
                }
            }
            _ => {
                let mut clean = v.clone();
                strip_directives(&mut clean);
                target_map.insert(k.clone(), clean);
            }
        }
    }
}

/// Merges a keyed list the way the API server does: patched items take the
/// patch's order, items only on the server keep theirs, and the two runs are
/// interleaved by server position (new items go before the next server item).
fn merge_keyed_list(cur: &mut Vec<Value>, items: &[Value], key: &str) {
    let server_index =
        |v: &Value, list: &[Value]| v.get(key).and_then(|id| list.iter().position(|c| c.get(key) == Some(id)));
    let mut deleted = Vec::new();
    let mut patched: Vec<(Option<usize>, Value)> = Vec::new();
    for item in items {
        let pos = server_index(item, cur);
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            deleted.extend(pos);
            continue;
        }
        let merged = match pos {
            Some(p) => {
                let mut base = cur[p].clone();
                strategic_merge(&mut base, item, key);
                base
            }
            None => {
                let mut clean = item.clone();
                strip_directives(&mut clean);
                clean
            }
        };
        patched.push((pos, merged));
    }
    let touched: Vec<usize> = patched.iter().filter_map(|(p, _)| *p).chain(deleted.iter().copied()).collect();
    let mut server_only: Vec<(usize, Value)> =
        cur.iter().enumerate().filter(|(i, _)| !touched.contains(i)).map(|(i, v)| (i, v.clone())).collect();
    server_only.reverse();
    patched.reverse();
    let mut out = Vec::with_capacity(server_only.len() + patched.len());
    loop {
        let take_patch = match (server_only.last(), patched.last()) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some((si, _)), Some((pi, _))) => pi.is_none_or(|p| p < *si),
        };
        if take_patch {
            out.extend(patched.pop().map(|(_, v)| v));
        } else {
            out.extend(server_only.pop().map(|(_, v)| v));
        }
    }
    *cur = out;
}

fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with('$'));
            m.values_mut().for_each(strip_directives);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merge_merges_containers_by_name_and_replaces_taints() {
        let mut pod = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}],
                                       "tolerations": [{"key": "k"}]}});
        strategic_merge(
            &mut pod,
            &json!({"spec": {"containers": [{"name": "b", "image": "z"}, {"name": "c", "image": "w"}],
                                                   "tolerations": [{"key": "other"}]}}),
            "",
        );
        // Order as the real API server produces it: a new item goes before the next server item.
        assert_eq!(
            pod["spec"]["containers"],
            json!([{"name": "a", "image": "x"}, {"name": "b", "image": "z"}, {"name": "c", "image": "w"}])
        );
        let mut list = vec![json!({"name": "a"}), json!({"name": "b"}), json!({"name": "c"})];
        merge_keyed_list(&mut list, &[json!({"name": "z"}), json!({"name": "c", "x": 1})], "name");
        let names: Vec<&str> = list.iter().map(|v| v["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["z", "a", "b", "c"]);
        merge_keyed_list(&mut list, &[json!({"name": "c"}), json!({"name": "n"})], "name");
        let names: Vec<&str> = list.iter().map(|v| v["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["z", "a", "b", "c", "n"]);
        assert_eq!(pod["spec"]["tolerations"], json!([{"key": "other"}]));
    }

    #[test]
    fn strategic_merge_honours_delete_and_null() {
        let mut node = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}]}});
        strategic_merge(
            &mut node,
            &json!({"metadata": {"labels": {"a": null}}, "status": {"conditions": [{"type": "DiskPressure", "$patch": "delete"}, {"type": "Ready", "status": "False"}]}}),
            "",
        );
        assert_eq!(node["metadata"]["labels"], json!({"b": "2"}));
        assert_eq!(node["status"]["conditions"], json!([{"type": "Ready", "status": "False"}]));
    }
}
