//! `/version`, `/api`, `/apis` and the per-group-version resource lists, in
//! the legacy (non-aggregated) form kubectl and kube-rs both understand.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::store::Store;

pub(crate) fn version(git_version: &str) -> Value {
    let trimmed = git_version.trim_start_matches('v');
    let mut parts = trimmed.split(['.', '-', '+']);
    let major = parts.next().unwrap_or("1");
    let minor = parts.next().unwrap_or("0");
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": git_version,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

pub(crate) fn core_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
}

fn groups(store: &Store) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in store.resources.iter().filter(|r| !r.group.is_empty()) {
        let versions = out.entry(r.group.clone()).or_default();
        if !versions.contains(&r.version) {
            versions.push(r.version.clone());
        }
    }
    out
}

fn group_json(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> =
        versions.iter().map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v})).collect();
    json!({"name": name, "versions": vs, "preferredVersion": vs[0].clone()})
}

pub(crate) fn group_list(store: &Store) -> Value {
    let groups: Vec<Value> = groups(store).iter().map(|(g, vs)| group_json(g, vs)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub(crate) fn group(store: &Store, name: &str) -> Option<Value> {
    let groups = groups(store);
    let vs = groups.get(name)?;
    let mut g = group_json(name, vs);
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Some(g)
}

pub(crate) fn resource_list(store: &Store, group: &str, version: &str) -> Option<Value> {
    let defs: Vec<_> = store.resources.iter().filter(|r| r.group == group && r.version == version).collect();
    if defs.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for r in defs {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs(),
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        resources.push(entry);
        if r.status_subresource {
            resources.push(json!({"name": format!("{}/status", r.plural), "singularName": "", "namespaced": r.namespaced, "kind": r.kind, "verbs": ["get", "patch", "update"]}));
        }
        for sub in &r.subresources {
            let (kind, verbs, group, version) = match sub.as_str() {
                "eviction" => {
                    ("Eviction", vec!["create"], Some("policy"), store.eviction_version.strip_prefix("policy/"))
                }
                "log" => ("Pod", vec!["get"], None, None),
                "binding" => ("Binding", vec!["create"], None, None),
                "scale" => ("Scale", vec!["get", "patch", "update"], Some("autoscaling"), Some("v1")),
                "finalize" => ("Namespace", vec!["update"], None, None),
                _ => continue,
            };
            let mut e = json!({"name": format!("{}/{sub}", r.plural), "singularName": "", "namespaced": r.namespaced, "kind": kind, "verbs": verbs});
            if let (Some(g), Some(v)) = (group, version) {
                e["group"] = json!(g);
                e["version"] = json!(v);
            }
            resources.push(e);
        }
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}))
}
