//! get, list, create, update, patch, delete and deletecollection for every
//! stored resource, with the server's preconditions and side effects.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http::Response;
use k8sops_core::{FieldSelector, LabelSelector};
use serde_json::{json, Value};

use crate::{
    disruption, kubelet,
    patch::{self, PatchType},
    resources::ResourceDef,
    server::{bytes_response, json_response, Body, Req, Shared, Target},
    status::{self, ApiError},
    store::{key_of, now_rfc3339, ObjKey, Store},
    table,
};

const NAME_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn parse_body(req: &Req) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("the body of the request was in an unknown format: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad_request("the body of the request must be a JSON object"));
    }
    Ok(v)
}

fn valid_name(def: &ResourceDef, name: &str) -> bool {
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    // Events and RBAC objects allow ':' and other characters in names; keep the check to DNS subdomains elsewhere.
    if matches!(def.kind.as_str(), "Event" | "ClusterRole" | "ClusterRoleBinding" | "Role" | "RoleBinding") {
        return !name.contains('/') && name != "." && name != "..";
    }
    name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// What the view of an object looks like to clients (budgets get computed status).
fn present(store: &Store, def: &ResourceDef, obj: &Arc<Value>) -> Arc<Value> {
    if def.kind == "PodDisruptionBudget" {
        Arc::new(disruption::with_status(store, obj))
    } else {
        obj.clone()
    }
}

fn qos_class(pod: &Value) -> &'static str {
    let containers = pod["spec"]["containers"].as_array().cloned().unwrap_or_default();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in &containers {
        let req = &c["resources"]["requests"];
        let lim = &c["resources"]["limits"];
        for r in ["cpu", "memory"] {
            if req.get(r).is_some() || lim.get(r).is_some() {
                any = true;
            }
            let l = lim.get(r);
            let q = req.get(r).or(l);
            if l.is_none() || q != l {
                guaranteed = false;
            }
        }
    }
    if guaranteed {
        "Guaranteed"
    } else if any {
        "Burstable"
    } else {
        "BestEffort"
    }
}

/// Server-side defaults and status resets applied on create (PrepareForCreate).
fn prepare_for_create(def: &ResourceDef, obj: &mut Value) {
    match def.kind.as_str() {
        "Pod" => {
            let spec = &mut obj["spec"];
            if spec["terminationGracePeriodSeconds"].is_null() {
                spec["terminationGracePeriodSeconds"] = json!(30);
            }
            for (k, v) in
                [("restartPolicy", "Always"), ("dnsPolicy", "ClusterFirst"), ("schedulerName", "default-scheduler")]
            {
                if spec[k].is_null() {
                    spec[k] = json!(v);
                }
            }
            let qos = qos_class(obj);
            obj["status"] = json!({"phase": "Pending", "qosClass": qos});
        }
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" | "ReplicationController" => {
            obj["status"] = json!({});
        }
        "Namespace" => {
            obj["status"] = json!({"phase": "Active"});
            if obj["spec"]["finalizers"].is_null() {
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
            }
        }
        _ => {}
    }
}

/// Validates and stores a new object the way a POST would.
pub(crate) fn create_object(
    store: &mut Store,
    def: &ResourceDef,
    namespace: Option<&str>,
    mut obj: Value,
    dry_run: bool,
    rng: &mut crate::faults::SplitMix,
) -> Result<Arc<Value>, ApiError> {
    let expected = def.api_version();
    if let Some(av) = obj["apiVersion"].as_str() {
        if !av.is_empty()
            && av != expected
            && !(def.kind == obj["kind"].as_str().unwrap_or("") && av.starts_with(&format!("{}/", def.group)))
        {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({expected})"
            )));
        }
    }
    if let Some(kind) = obj["kind"].as_str() {
        if !kind.is_empty() && kind != def.kind {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({kind}) does not match the expected kind ({})",
                def.kind
            )));
        }
    }
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    if def.namespaced {
        let body_ns = obj["metadata"]["namespace"].as_str().unwrap_or("").to_string();
        let ns = namespace.unwrap_or("");
        if !body_ns.is_empty() && !ns.is_empty() && body_ns != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let ns = if ns.is_empty() { body_ns } else { ns.to_string() };
        if ns.is_empty() {
            return Err(ApiError::bad_request("a namespace must be specified"));
        }
        if store.get("/namespaces", &(String::new(), ns.clone())).is_none() {
            return Err(ApiError::not_found("namespaces", "", &ns));
        }
        obj["metadata"]["namespace"] = json!(ns);
    } else if let Some(m) = obj["metadata"].as_object_mut() {
        m.remove("namespace");
    }
    if obj["metadata"]["name"].as_str().unwrap_or("").is_empty() {
        match obj["metadata"]["generateName"].as_str() {
            Some(prefix) if !prefix.is_empty() => {
                let suffix: String =
                    (0..5).map(|_| NAME_CHARS[rng.below(NAME_CHARS.len() as u64) as usize] as char).collect();
                obj["metadata"]["name"] = json!(format!("{prefix}{suffix}"));
            }
            _ => {
                return Err(ApiError::invalid(
                    &def.kind,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                ))
            }
        }
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    if !valid_name(def, &name) {
        return Err(ApiError::invalid(
            &def.kind,
            &name,
            format!("metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"),
        ));
    }
    prepare_for_create(def, &mut obj);
    if dry_run {
        if store.get(&def.storage_key(), &key_of(&obj)).is_some() {
            return Err(ApiError::already_exists(&def.plural, &def.group, &name));
        }
        obj["apiVersion"] = json!(expected);
        obj["kind"] = json!(def.kind);
        obj["metadata"]["uid"] = json!(store.new_uid());
        obj["metadata"]["creationTimestamp"] = json!(now_rfc3339());
        return Ok(Arc::new(obj));
    }
    store.create(def, obj, false)
}

pub(crate) fn create(shared: &Shared, req: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let obj = parse_body(req)?;
    let mut store = shared.store();
    let mut rng = crate::server::lock(&shared.rng);
    let created = create_object(&mut store, &t.def, t.namespace.as_deref(), obj, req.dry_run(), &mut rng)?;
    Ok(json_response(201, &created))
}

fn stored(store: &Store, t: &Target) -> Result<Arc<Value>, ApiError> {
    let name = t.name.clone().unwrap_or_default();
    store
        .get(&t.def.storage_key(), &(t.namespace.clone().unwrap_or_default(), name.clone()))
        .ok_or_else(|| ApiError::not_found(&t.def.plural, &t.def.group, &name))
}

pub(crate) fn get(shared: &Shared, req: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let store = shared.store();
    let obj = present(&store, &t.def, &stored(&store, t)?);
    if req.wants_table() {
        let include = req.q("includeObject").unwrap_or("Metadata");
        return Ok(json_response(
            200,
            &table::table(&t.def.kind, &[&obj], include, json!({"resourceVersion": store.current_rv().to_string()})),
        ));
    }
    Ok(json_response(200, &obj))
}

/// Parsed list options shared by list, watch and deletecollection.
pub(crate) struct Selectors {
    pub(crate) labels: LabelSelector,
    pub(crate) fields: FieldSelector,
}

impl Selectors {
    pub(crate) fn parse(req: &Req, def: &ResourceDef) -> Result<Self, ApiError> {
        let labels: LabelSelector = req
            .q("labelSelector")
            .unwrap_or("")
            .parse()
            .map_err(|e: k8sops_core::selector::ParseSelectorError| ApiError::bad_request(e.to_string()))?;
        let fields: FieldSelector = req
            .q("fieldSelector")
            .unwrap_or("")
            .parse()
            .map_err(|e: k8sops_core::selector::ParseSelectorError| ApiError::bad_request(e.to_string()))?;
        for r in fields.requirements() {
            if def.field_value(&json!({}), &r.field).is_none() {
                return Err(ApiError::bad_request(format!("field label not supported: {}", r.field)));
            }
        }
        Ok(Selectors { labels, fields })
    }

    pub(crate) fn matches(&self, def: &ResourceDef, obj: &Value) -> bool {
        if !self.labels.is_empty() {
            let labels = obj["metadata"]["labels"]
                .as_object()
                .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
                .unwrap_or_default();
            if !self.labels.matches(&labels) {
                return false;
            }
        }
        self.fields.is_empty() || self.fields.matches(|f| def.field_value(obj, f))
    }
}

fn encode_continue(key: &ObjKey, rv: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{rv}\u{0}{}\u{0}{}", key.0, key.1))
}

fn decode_continue(token: &str) -> Result<ObjKey, ApiError> {
    let bad = || ApiError::bad_request("continue key is not valid: the continue token is malformed");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let s = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = s.splitn(3, '\u{0}');
    let _rv = parts.next().ok_or_else(bad)?;
    let ns = parts.next().ok_or_else(bad)?;
    let name = parts.next().ok_or_else(bad)?;
    Ok((ns.to_string(), name.to_string()))
}

pub(crate) fn list(shared: &Shared, req: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let sel = Selectors::parse(req, &t.def)?;
    let limit: usize = match req.q("limit") {
        Some(l) => l.parse::<i64>().map_err(|_| ApiError::bad_request("limit must be an integer"))?.max(0) as usize,
        None => 0,
    };
    let after = req.q("continue").map(decode_continue).transpose()?;
    let store = shared.store();
    let rv = store.current_rv();
    let storage = t.def.storage_key();
    let mut items: Vec<Arc<Value>> = Vec::new();
    let mut next: Option<ObjKey> = None;
    let mut iter = store.range(&storage, t.namespace.as_deref(), after.as_ref()).filter(|o| sel.matches(&t.def, o));
    for obj in iter.by_ref() {
        if limit > 0 && items.len() == limit {
            next = items.last().map(|o| key_of(o));
            // Put this one back: it is the first of the next page.
            break;
        }
        items.push(present(&store, &t.def, obj));
    }
    let remaining =
        if next.is_some() && sel.labels.is_empty() && sel.fields.is_empty() { Some(1 + iter.count()) } else { None };
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(k) = &next {
        meta["continue"] = json!(encode_continue(k, rv));
        if let Some(r) = remaining {
            meta["remainingItemCount"] = json!(r);
        }
    }
    if req.wants_table() {
        let refs: Vec<&Value> = items.iter().map(|a| &**a).collect();
        let include = req.q("includeObject").unwrap_or("Metadata");
        return Ok(json_response(200, &table::table(&t.def.kind, &refs, include, meta)));
    }
    // Serialise item by item: no second copy of a large list.
    let mut out = Vec::with_capacity(items.len() * 1024 + 256);
    out.extend_from_slice(
        format!("{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":", t.def.kind, t.def.api_version())
            .as_bytes(),
    );
    serde_json::to_writer(&mut out, &meta).map_err(|e| ApiError::new(500, "InternalError", e.to_string()))?;
    out.extend_from_slice(b",\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &**item).map_err(|e| ApiError::new(500, "InternalError", e.to_string()))?;
    }
    out.extend_from_slice(b"]}");
    Ok(bytes_response(200, Bytes::from(out), "application/json"))
}

/// Merges a write with the stored object, honouring the status subresource.
fn merge_for_write(def: &ResourceDef, old: &Value, mut new: Value, sub: Option<&str>) -> Value {
    for k in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
        match old["metadata"].get(k) {
            Some(v) => new["metadata"][k] = v.clone(),
            None => {
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove(k);
                }
            }
        }
    }
    new["apiVersion"] = old["apiVersion"].clone();
    new["kind"] = old["kind"].clone();
    if def.status_subresource {
        if sub == Some("status") {
            let mut out = old.clone();
            out["status"] = new["status"].clone();
            out["metadata"]["resourceVersion"] = new["metadata"]["resourceVersion"].clone();
            return out;
        }
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
    new
}

fn check_rv(t: &Target, old: &Value, new: &Value) -> Result<(), ApiError> {
    let want = new["metadata"]["resourceVersion"].as_str().unwrap_or("");
    if !want.is_empty() && want != old["metadata"]["resourceVersion"].as_str().unwrap_or("") {
        return Err(ApiError::conflict(&t.def.plural, &t.def.group, t.name.as_deref().unwrap_or("")));
    }
    Ok(())
}

pub(crate) fn update(shared: &Shared, req: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let body = parse_body(req)?;
    let name = t.name.clone().unwrap_or_default();
    if body["metadata"]["name"].as_str().is_some_and(|n| n != name) {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            body["metadata"]["name"].as_str().unwrap_or("")
        )));
    }
    let mut store = shared.store();
    let old = stored(&store, t)?;
    check_rv(t, &old, &body)?;
    let mut merged = merge_for_write(&t.def, &old, body, t.sub.as_deref());
    merged["metadata"]["name"] = json!(name);
    if let Some(ns) = &t.namespace {
        merged["metadata"]["namespace"] = json!(ns);
    }
    if t.sub.as_deref() == Some("finalize") {
        let mut out = (*old).clone();
        out["spec"]["finalizers"] = merged["spec"]["finalizers"].clone();
        merged = out;
    }
    if req.dry_run() {
        return Ok(json_response(200, &merged));
    }
    let saved = store.replace(&t.def, merged);
    Ok(json_response(200, &saved))
}

pub(crate) fn patch(shared: &Shared, req: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let pt = PatchType::from_content_type(&req.content_type).ok_or_else(|| {
        ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {:?})", req.content_type))
    })?;
    let mut store = shared.store();
    let old = match stored(&store, t) {
        Ok(o) => o,
        Err(e) if pt == PatchType::Apply && t.sub.is_none() => {
            // Server-side apply creates missing objects.
            let _ = e;
            let obj = parse_body(req)?;
            let mut rng = crate::server::lock(&shared.rng);
            let created = create_object(&mut store, &t.def, t.namespace.as_deref(), obj, req.dry_run(), &mut rng)?;
            return Ok(json_response(201, &created));
        }
        Err(e) => return Err(e),
    };
    let mut new = (*old).clone();
    patch::apply(&mut new, pt, &req.body)?;
    check_rv(t, &old, &new)?;
    if new["metadata"]["name"] != old["metadata"]["name"] {
        return Err(ApiError::invalid(
            &t.def.kind,
            t.name.as_deref().unwrap_or(""),
            "metadata.name: Invalid value: field is immutable",
        ));
    }
    let merged = merge_for_write(&t.def, &old, new, t.sub.as_deref());
    if req.dry_run() {
        return Ok(json_response(200, &merged));
    }
    let saved = store.replace(&t.def, merged);
    Ok(json_response(200, &present(&store, &t.def, &saved)))
}

/// Options of a DELETE, from the body and the query.
#[derive(Debug, Default, Clone)]
pub(crate) struct DeleteOptions {
    pub(crate) grace: Option<i64>,
    pub(crate) propagation: Option<String>,
    pub(crate) uid: Option<String>,
    pub(crate) resource_version: Option<String>,
    pub(crate) dry_run: bool,
}

impl DeleteOptions {
    pub(crate) fn from_value(v: &Value) -> Self {
        DeleteOptions {
            grace: v["gracePeriodSeconds"].as_i64(),
            propagation: v["propagationPolicy"].as_str().map(str::to_string),
            uid: v["preconditions"]["uid"].as_str().map(str::to_string),
            resource_version: v["preconditions"]["resourceVersion"].as_str().map(str::to_string),
            dry_run: v["dryRun"].as_array().is_some_and(|a| a.iter().any(|x| x == "All")),
        }
    }

    fn from_req(req: &Req) -> Result<Self, ApiError> {
        let mut o = if req.body.is_empty() {
            DeleteOptions::default()
        } else {
            let v: Value = serde_json::from_slice(&req.body)
                .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?;
            DeleteOptions::from_value(&v)
        };
        if let Some(g) = req.q("gracePeriodSeconds") {
            o.grace = Some(g.parse().map_err(|_| ApiError::bad_request("gracePeriodSeconds must be an integer"))?);
        }
        if let Some(p) = req.q("propagationPolicy") {
            o.propagation = Some(p.to_string());
        }
        o.dry_run |= req.dry_run();
        Ok(o)
    }
}

/// Deletes one object with the real server's rules: preconditions,
/// finalizers, graceful pod deletion, namespace contents and cascading to
/// dependents. Returns the object as the response shows it.
pub(crate) fn delete_object(
    shared: &Arc<Shared>,
    store: &mut Store,
    def: &ResourceDef,
    key: &ObjKey,
    opts: &DeleteOptions,
) -> Result<Arc<Value>, ApiError> {
    let storage = def.storage_key();
    let old = store.get(&storage, key).ok_or_else(|| ApiError::not_found(&def.plural, &def.group, &key.1))?;
    if let Some(uid) = &opts.uid {
        let have = old["metadata"]["uid"].as_str().unwrap_or("");
        if uid != have {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"),
            ));
        }
    }
    if let Some(rv) = &opts.resource_version {
        let have = old["metadata"]["resourceVersion"].as_str().unwrap_or("");
        if rv != have {
            return Err(ApiError::new(409, "Conflict", format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {have}")));
        }
    }
    if opts.dry_run {
        return Ok(old);
    }
    if def.kind == "Namespace" {
        for (s, k) in store.keys_in_namespace(&key.1) {
            store.remove(&s, &k);
        }
        return Ok(store.remove(&storage, key).unwrap_or(old));
    }
    let has_finalizers = old["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty());
    if has_finalizers {
        if old["metadata"]["deletionTimestamp"].is_string() {
            return Ok(old);
        }
        let mut o = (*old).clone();
        o["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
        o["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        return Ok(store.replace(def, o));
    }
    if def.kind == "Pod" {
        let phase = old["status"]["phase"].as_str().unwrap_or("");
        let bound = old["spec"]["nodeName"].as_str().is_some_and(|n| !n.is_empty());
        let default_grace = old["spec"]["terminationGracePeriodSeconds"].as_i64().unwrap_or(30);
        let mut grace = opts.grace.unwrap_or(default_grace).max(0);
        if !bound || matches!(phase, "Succeeded" | "Failed") {
            grace = 0;
        }
        if grace > 0 {
            if let Some(current) = old["metadata"]["deletionGracePeriodSeconds"].as_i64() {
                // Already terminating: a delete can only shorten the grace period.
                if grace >= current {
                    return Ok(old);
                }
            }
            let mut o = (*old).clone();
            let deadline = k8s_openapi::jiff::Timestamp::now().as_second() + grace;
            o["metadata"]["deletionTimestamp"] =
                json!(k8s_openapi::jiff::Timestamp::from_second(deadline).map(|t| t.to_string()).unwrap_or_default());
            o["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            let saved = store.replace(def, o);
            kubelet::pod_terminating(shared, &saved, grace);
            return Ok(saved);
        }
    }
    let removed = store.remove(&storage, key).unwrap_or(old);
    cascade(store, &removed, opts.propagation.as_deref());
    if def.kind == "Pod" {
        kubelet::pod_removed(shared, store, &removed);
    }
    Ok(removed)
}

fn cascade(store: &mut Store, removed: &Value, propagation: Option<&str>) {
    let uid = removed["metadata"]["uid"].as_str().unwrap_or("").to_string();
    let mut queue = vec![uid];
    while let Some(uid) = queue.pop() {
        for (storage, key) in store.dependents(&uid) {
            let Some(dep) = store.get(&storage, &key) else {
                continue;
            };
            let Some(def) = store.find_storage(&storage).cloned() else {
                continue;
            };
            if propagation == Some("Orphan") {
                let mut d = (*dep).clone();
                if let Some(refs) = d["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| r["uid"].as_str() != Some(uid.as_str()));
                }
                store.replace(&def, d);
            } else if let Some(gone) = store.remove(&storage, &key) {
                queue.push(gone["metadata"]["uid"].as_str().unwrap_or("").to_string());
            }
        }
    }
}

pub(crate) fn delete(shared: &Arc<Shared>, req: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let opts = DeleteOptions::from_req(req)?;
    let mut store = shared.store();
    let key = (t.namespace.clone().unwrap_or_default(), t.name.clone().unwrap_or_default());
    let out = delete_object(shared, &mut store, &t.def, &key, &opts)?;
    Ok(json_response(200, &out))
}

pub(crate) fn delete_collection(shared: &Arc<Shared>, req: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let sel = Selectors::parse(req, &t.def)?;
    let opts = DeleteOptions::from_req(req)?;
    let mut store = shared.store();
    let keys: Vec<ObjKey> = store
        .range(&t.def.storage_key(), t.namespace.as_deref(), None)
        .filter(|o| sel.matches(&t.def, o))
        .map(|o| key_of(o))
        .collect();
    let mut items = Vec::new();
    for k in keys {
        if let Ok(o) = delete_object(shared, &mut store, &t.def, &k, &opts) {
            items.push((*o).clone());
        }
    }
    Ok(json_response(
        200,
        &json!({"kind": format!("{}List", t.def.kind), "apiVersion": t.def.api_version(), "metadata": {"resourceVersion": store.current_rv().to_string()}, "items": items}),
    ))
}

pub(crate) fn bind(shared: &Shared, req: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let body = parse_body(req)?;
    let node = body["target"]["name"].as_str().unwrap_or("").to_string();
    let mut store = shared.store();
    let old = stored(&store, t)?;
    if old["spec"]["nodeName"].as_str().is_some_and(|n| !n.is_empty()) {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "pod {} is already assigned to node {:?}",
                t.name.as_deref().unwrap_or(""),
                old["spec"]["nodeName"].as_str().unwrap_or("")
            ),
        ));
    }
    let mut o = (*old).clone();
    o["spec"]["nodeName"] = json!(node);
    if !req.dry_run() {
        store.replace(&t.def, o);
    }
    Ok(json_response(201, &status::success(201)))
}

fn scale_of(t: &Target, obj: &Value) -> Value {
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"], "uid": obj["metadata"]["uid"],
                     "resourceVersion": obj["metadata"]["resourceVersion"], "creationTimestamp": obj["metadata"]["creationTimestamp"]},
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": t.def.kind.clone()}
    })
}

pub(crate) fn get_scale(shared: &Shared, t: &Target) -> Result<Response<Body>, ApiError> {
    let store = shared.store();
    let obj = stored(&store, t)?;
    Ok(json_response(200, &scale_of(t, &obj)))
}

pub(crate) fn update_scale(shared: &Shared, req: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let mut store = shared.store();
    let old = stored(&store, t)?;
    let mut scale = scale_of(t, &old);
    if req.method == "PUT" {
        scale = parse_body(req)?;
    } else {
        let pt = PatchType::from_content_type(&req.content_type).unwrap_or(PatchType::Merge);
        patch::apply(&mut scale, pt, &req.body)?;
    }
    let replicas =
        scale["spec"]["replicas"].as_i64().ok_or_else(|| ApiError::bad_request("spec.replicas is required"))?;
    let mut o = (*old).clone();
    o["spec"]["replicas"] = json!(replicas);
    let saved = if req.dry_run() { Arc::new(o) } else { store.replace(&t.def, o) };
    Ok(json_response(200, &scale_of(t, &saved)))
}
