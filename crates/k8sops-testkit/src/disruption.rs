//! PodDisruptionBudget status (what the disruption controller would compute)
//! and the pod eviction subresource's decision, following the real server:
//! terminal, Pending and terminating pods are evicted regardless; pods covered
//! by more than one budget are refused with 500; otherwise a budget with no
//! disruptions left answers 429 naming itself.

use std::collections::{BTreeMap, BTreeSet};

use k8sops_core::LabelSelector;
use serde_json::{json, Value};

use crate::{status::ApiError, store::Store};

fn labels(obj: &Value) -> BTreeMap<String, String> {
    obj["metadata"]["labels"]
        .as_object()
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

fn selector(pdb: &Value) -> LabelSelector {
    match serde_json::from_value::<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>(
        pdb["spec"]["selector"].clone(),
    ) {
        Ok(s) if !pdb["spec"]["selector"].is_null() => {
            LabelSelector::from_k8s(Some(&s)).unwrap_or_else(|_| LabelSelector::nothing())
        }
        _ => LabelSelector::nothing(),
    }
}

pub(crate) fn pod_is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// Computed status of a budget: (expected, current healthy, desired healthy, disruptions allowed).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BudgetStatus {
    pub(crate) expected: i64,
    pub(crate) current_healthy: i64,
    pub(crate) desired_healthy: i64,
    pub(crate) disruptions_allowed: i64,
}

fn scaled(v: &Value, total: i64) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let p: i64 = s.strip_suffix('%')?.parse().ok()?;
            // Both minAvailable and maxUnavailable percentages round up.
            Some((p * total + 99) / 100)
        }
        _ => None,
    }
}

pub(crate) fn budget_status(store: &Store, pdb: &Value) -> BudgetStatus {
    let ns = pdb["metadata"]["namespace"].as_str().unwrap_or("");
    let sel = selector(pdb);
    let pods: Vec<&Value> =
        store.range("/pods", Some(ns), None).filter(|p| sel.matches(&labels(p))).map(|p| &**p).collect();
    // Expected pods come from the controllers' replica counts when every pod has one, else from the pod count.
    let mut controllers = BTreeSet::new();
    let mut all_controlled = !pods.is_empty();
    for p in &pods {
        match p["metadata"]["ownerReferences"].as_array().and_then(|o| o.iter().find(|r| r["controller"] == true)) {
            Some(r) => {
                controllers.insert((
                    r["kind"].as_str().unwrap_or("").to_string(),
                    r["name"].as_str().unwrap_or("").to_string(),
                ));
            }
            None => all_controlled = false,
        }
    }
    let mut expected = pods.len() as i64;
    let uses_scale = pdb["spec"]["maxUnavailable"].is_number()
        || pdb["spec"]["maxUnavailable"].is_string()
        || pdb["spec"]["minAvailable"].is_string();
    if uses_scale && all_controlled {
        let mut total = 0;
        let mut known = true;
        for (kind, name) in &controllers {
            let storage = match kind.as_str() {
                "ReplicaSet" => "apps/replicasets",
                "StatefulSet" => "apps/statefulsets",
                "ReplicationController" => "/replicationcontrollers",
                _ => {
                    known = false;
                    break;
                }
            };
            match store.get(storage, &(ns.to_string(), name.clone())) {
                Some(c) => total += c["spec"]["replicas"].as_i64().unwrap_or(1),
                None => known = false,
            }
        }
        if known {
            expected = total;
        }
    }
    let healthy =
        pods.iter().filter(|p| p["metadata"]["deletionTimestamp"].is_null() && pod_is_ready(p)).count() as i64;
    let desired = if let Some(min) = scaled(&pdb["spec"]["minAvailable"], expected) {
        min
    } else if let Some(max) = scaled(&pdb["spec"]["maxUnavailable"], expected) {
        (expected - max).max(0)
    } else {
        0
    };
    BudgetStatus {
        expected,
        current_healthy: healthy,
        desired_healthy: desired,
        disruptions_allowed: (healthy - desired).max(0),
    }
}

/// Fills in `status` of a stored budget, as the controller would have.
pub(crate) fn with_status(store: &Store, pdb: &Value) -> Value {
    let s = budget_status(store, pdb);
    let mut out = pdb.clone();
    let allowed = s.disruptions_allowed > 0;
    out["status"] = json!({
        "observedGeneration": pdb["metadata"]["generation"].as_i64().unwrap_or(1),
        "disruptionsAllowed": s.disruptions_allowed,
        "currentHealthy": s.current_healthy,
        "desiredHealthy": s.desired_healthy,
        "expectedPods": s.expected,
        "conditions": [{
            "type": "DisruptionAllowed",
            "status": if allowed { "True" } else { "False" },
            "reason": if allowed { "SufficientPods" } else { "InsufficientPods" },
            "message": "",
            "observedGeneration": pdb["metadata"]["generation"].as_i64().unwrap_or(1),
            "lastTransitionTime": pdb["metadata"]["creationTimestamp"].clone(),
        }]
    });
    out
}

/// Decides whether `pod` may be evicted now. `Ok(())` means delete it.
pub(crate) fn check_eviction(store: &Store, pod: &Value) -> Result<(), ApiError> {
    let phase = pod["status"]["phase"].as_str().unwrap_or("");
    if matches!(phase, "Succeeded" | "Failed" | "Pending") || pod["metadata"]["deletionTimestamp"].is_string() {
        return Ok(());
    }
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let pod_labels = labels(pod);
    let pdbs: Vec<&Value> = store
        .range("policy/poddisruptionbudgets", Some(ns), None)
        .filter(|p| selector(p).matches(&pod_labels))
        .map(|p| &**p)
        .collect();
    match pdbs.len() {
        0 => Ok(()),
        1 => {
            let pdb = pdbs[0];
            let s = budget_status(store, pdb);
            // A pod that is not ready does not count as healthy; evicting it is fine while the budget is met.
            if !pod_is_ready(pod) && s.current_healthy >= s.desired_healthy {
                return Ok(());
            }
            if s.disruptions_allowed > 0 {
                return Ok(());
            }
            let name = pdb["metadata"]["name"].as_str().unwrap_or("");
            Err(ApiError::new(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.").with_details(json!({
                "causes": [{
                    "reason": "DisruptionBudget",
                    "message": format!("The disruption budget {name} needs {} healthy pods and has {} currently", s.desired_healthy, s.current_healthy)
                }]
            })))
        }
        _ => Err(ApiError::new(
            500,
            "InternalError",
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
        )),
    }
}
