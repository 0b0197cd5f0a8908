//! Generic object storage: every object is JSON, keyed by resource, namespace
//! and name, with a cluster-wide resourceVersion counter, a bounded event
//! history for watches, and an owner index for cascading deletes.

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    sync::Arc,
};

use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::{
    resources::{self, ResourceDef},
    status::ApiError,
};

/// (namespace, name); namespace is empty for cluster-scoped objects.
pub(crate) type ObjKey = (String, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    Added,
    Modified,
    Deleted,
}

#[derive(Debug)]
pub(crate) struct WatchEvent {
    pub(crate) rv: u64,
    pub(crate) storage: String,
    pub(crate) kind: EventKind,
    pub(crate) object: Arc<Value>,
    pub(crate) old: Option<Arc<Value>>,
}

pub(crate) struct Store {
    pub(crate) resources: Vec<ResourceDef>,
    data: HashMap<String, BTreeMap<ObjKey, Arc<Value>>>,
    rv: u64,
    history: VecDeque<Arc<WatchEvent>>,
    history_cap: usize,
    owners: HashMap<String, HashSet<(String, ObjKey)>>,
    uid_counter: u64,
    uid_seed: u64,
    pub(crate) events: broadcast::Sender<Arc<WatchEvent>>,
    /// The group/version the pod eviction subresource is served as.
    pub(crate) eviction_version: String,
}

pub(crate) fn now_rfc3339() -> String {
    let now = k8s_openapi::jiff::Timestamp::now();
    k8s_openapi::jiff::Timestamp::from_second(now.as_second()).map(|t| t.to_string()).unwrap_or_default()
}

pub(crate) fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or("")
}

pub(crate) fn key_of(obj: &Value) -> ObjKey {
    (meta_str(obj, "namespace").to_string(), meta_str(obj, "name").to_string())
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["uid"].as_str().map(str::to_string))
        .collect()
}

impl Store {
    pub(crate) fn new(metrics: bool, history_cap: usize, uid_seed: u64) -> Self {
        let (events, _) = broadcast::channel(16_384);
        Store {
            resources: resources::builtin(metrics),
            data: HashMap::new(),
            rv: 1000,
            history: VecDeque::new(),
            history_cap,
            owners: HashMap::new(),
            uid_counter: 0,
            uid_seed,
            events,
            eviction_version: "policy/v1".into(),
        }
    }

    pub(crate) fn current_rv(&self) -> u64 {
        self.rv
    }

    pub(crate) fn oldest_rv(&self) -> u64 {
        self.history.front().map(|e| e.rv - 1).unwrap_or(self.rv)
    }

    pub(crate) fn history_since(&self, rv: u64) -> Vec<Arc<WatchEvent>> {
        self.history.iter().filter(|e| e.rv > rv).cloned().collect()
    }

    pub(crate) fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceDef> {
        self.resources.iter().find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    pub(crate) fn find_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceDef> {
        self.resources.iter().find(|r| r.api_version() == api_version && r.kind == kind)
    }

    pub(crate) fn find_storage(&self, storage: &str) -> Option<&ResourceDef> {
        self.resources.iter().find(|r| r.storage_key() == storage)
    }

    pub(crate) fn new_uid(&mut self) -> String {
        self.uid_counter += 1;
        let a = self.uid_seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ self.uid_counter;
        let b = a.wrapping_mul(0xBF58_476D_1CE4_E5B9).rotate_left(17);
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (b >> 32) as u32,
            (b >> 16) as u16,
            b as u16 & 0xfff,
            (a >> 20) as u16 & 0xfff,
            self.uid_counter & 0xffff_ffff_ffff
        )
    }

    pub(crate) fn get(&self, storage: &str, key: &ObjKey) -> Option<Arc<Value>> {
        self.data.get(storage).and_then(|m| m.get(key)).cloned()
    }

    /// Objects of a resource in key order, optionally in one namespace,
    /// starting after `after` (for pagination).
    pub(crate) fn range<'a>(
        &'a self,
        storage: &str,
        namespace: Option<&'a str>,
        after: Option<&ObjKey>,
    ) -> Box<dyn Iterator<Item = &'a Arc<Value>> + 'a> {
        let Some(map) = self.data.get(storage) else {
            return Box::new(std::iter::empty());
        };
        use std::ops::Bound;
        let start = match (after, namespace) {
            (Some(k), _) => Bound::Excluded(k.clone()),
            (None, Some(ns)) => Bound::Included((ns.to_string(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        let iter = map.range((start, Bound::Unbounded));
        match namespace {
            Some(ns) => Box::new(iter.take_while(move |(k, _)| k.0 == ns).map(|(_, v)| v)),
            None => Box::new(iter.map(|(_, v)| v)),
        }
    }

    pub(crate) fn count(&self, storage: &str) -> usize {
        self.data.get(storage).map(BTreeMap::len).unwrap_or(0)
    }

    fn bump(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn record(&mut self, storage: &str, kind: EventKind, object: Arc<Value>, old: Option<Arc<Value>>) {
        let ev = Arc::new(WatchEvent { rv: self.rv, storage: storage.to_string(), kind, object, old });
        self.history.push_back(ev.clone());
        while self.history.len() > self.history_cap {
            self.history.pop_front();
        }
        // No receivers is fine: nobody is watching.
        let _ = self.events.send(ev);
    }

    fn index_owners(&mut self, storage: &str, key: &ObjKey, old: Option<&Value>, new: Option<&Value>) {
        for uid in old.map(owner_uids).unwrap_or_default() {
            if let Some(set) = self.owners.get_mut(&uid) {
                set.remove(&(storage.to_string(), key.clone()));
            }
        }
        for uid in new.map(owner_uids).unwrap_or_default() {
            self.owners.entry(uid).or_default().insert((storage.to_string(), key.clone()));
        }
    }

    /// Objects whose ownerReferences name `uid`.
    pub(crate) fn dependents(&self, uid: &str) -> Vec<(String, ObjKey)> {
        self.owners.get(uid).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }

    /// Inserts a new object, filling server-set metadata. `keep_created`
    /// keeps a creationTimestamp the caller set (for fixtures).
    pub(crate) fn create(
        &mut self,
        def: &ResourceDef,
        mut obj: Value,
        keep_created: bool,
    ) -> Result<Arc<Value>, ApiError> {
        let storage = def.storage_key();
        let key = key_of(&obj);
        if self.data.get(&storage).is_some_and(|m| m.contains_key(&key)) {
            return Err(ApiError::already_exists(&def.plural, &def.group, &key.1));
        }
        let rv = self.bump();
        let uid = self.new_uid();
        obj["apiVersion"] = json!(def.api_version());
        obj["kind"] = json!(def.kind);
        let meta =
            obj["metadata"].as_object_mut().ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
        meta.insert("uid".into(), json!(uid));
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        if !(keep_created && meta.get("creationTimestamp").is_some_and(Value::is_string)) {
            meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        }
        if obj.get("spec").is_some() || def.group.contains('.') && !def.group.ends_with("k8s.io") {
            obj["metadata"]["generation"] = json!(1);
        }
        if def.kind == "CustomResourceDefinition" {
            obj["status"] = json!({
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now_rfc3339()},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now_rfc3339()}
                ],
                "acceptedNames": obj["spec"]["names"].clone(),
                "storedVersions": obj["spec"]["versions"].as_array().into_iter().flatten().filter(|v| v["storage"].as_bool() == Some(true)).map(|v| v["name"].clone()).collect::<Vec<_>>()
            });
            for r in resources::from_crd(&obj) {
                if self.find(&r.group, &r.version, &r.plural).is_none() {
                    self.resources.push(r);
                }
            }
        }
        let obj = Arc::new(obj);
        self.index_owners(&storage, &key, None, Some(&obj));
        self.data.entry(storage.clone()).or_default().insert(key, obj.clone());
        self.record(&storage, EventKind::Added, obj.clone(), None);
        Ok(obj)
    }

    /// Replaces a stored object (the caller has checked preconditions).
    /// An object being deleted whose finalizers are now empty is removed.
    pub(crate) fn replace(&mut self, def: &ResourceDef, mut obj: Value) -> Arc<Value> {
        let storage = def.storage_key();
        let key = key_of(&obj);
        let old = self.get(&storage, &key);
        if let Some(old) = &old {
            let spec_changed = {
                let strip = |v: &Value| {
                    let mut v = v.clone();
                    if let Some(m) = v.as_object_mut() {
                        m.remove("metadata");
                        m.remove("status");
                    }
                    v
                };
                strip(old) != strip(&obj)
            };
            if spec_changed {
                if let Some(g) = old["metadata"]["generation"].as_i64() {
                    obj["metadata"]["generation"] = json!(g + 1);
                }
            }
        }
        // An object being deleted goes away once its finalizers are gone, unless it
        // is a pod in its grace period (the kubelet finishes those).
        let finished = obj["metadata"]["deletionTimestamp"].is_string()
            && obj["metadata"]["finalizers"].as_array().is_none_or(|f| f.is_empty())
            && obj["metadata"]["deletionGracePeriodSeconds"].as_i64().unwrap_or(0) == 0;
        if finished {
            if let Some(m) = obj["metadata"].as_object_mut() {
                m.remove("finalizers");
            }
            let rv = self.current_rv() + 1;
            obj["metadata"]["resourceVersion"] = json!(rv.to_string());
            self.data.entry(storage.clone()).or_default().insert(key.clone(), Arc::new(obj));
            return self.remove(&storage, &key).expect("just inserted");
        }
        let rv = self.bump();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let obj = Arc::new(obj);
        self.index_owners(&storage, &key, old.as_deref(), Some(&obj));
        self.data.entry(storage.clone()).or_default().insert(key, obj.clone());
        self.record(&storage, EventKind::Modified, obj.clone(), old);
        obj
    }

    /// Removes an object for good and emits DELETED.
    pub(crate) fn remove(&mut self, storage: &str, key: &ObjKey) -> Option<Arc<Value>> {
        let old = self.data.get_mut(storage)?.remove(key)?;
        let rv = self.bump();
        let mut obj = (*old).clone();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let obj = Arc::new(obj);
        self.index_owners(storage, key, Some(&old), None);
        self.record(storage, EventKind::Deleted, obj.clone(), Some(old));
        Some(obj)
    }

    /// Namespaced storage keys with objects in `ns`.
    pub(crate) fn keys_in_namespace(&self, ns: &str) -> Vec<(String, ObjKey)> {
        let mut out = Vec::new();
        for (storage, map) in &self.data {
            for k in map.range((ns.to_string(), String::new())..).take_while(|(k, _)| k.0 == ns).map(|(k, _)| k) {
                out.push((storage.clone(), k.clone()));
            }
        }
        out
    }
}
