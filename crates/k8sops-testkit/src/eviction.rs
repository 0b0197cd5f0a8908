//! `POST pods/{name}/eviction` (policy/v1 and policy/v1beta1 bodies).

use std::sync::Arc;

use http::Response;
use serde_json::Value;

use crate::{
    crud::{delete_object, DeleteOptions},
    disruption,
    server::{json_response, Body, Req, Shared, Target},
    status::{self, ApiError},
};

pub(crate) fn evict(shared: &Arc<Shared>, req: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    if t.def.kind != "Pod" {
        return Err(ApiError::method_not_allowed());
    }
    let body: Value =
        serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request(format!("invalid Eviction: {e}")))?;
    let name = t.name.clone().unwrap_or_default();
    let ns = t.namespace.clone().unwrap_or_default();
    let served = shared.store().eviction_version.clone();
    match body["apiVersion"].as_str() {
        Some(v) if v == served || (served == "policy/v1" && v == "policy/v1beta1") => {}
        None => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "no kind \"Eviction\" is registered for version \"{other}\"; this server serves {served}"
            )))
        }
    }
    if body["metadata"]["name"].as_str().is_some_and(|n| n != name) {
        return Err(ApiError::bad_request(format!(
            "name in URL does not match name in Eviction object: {name} != {}",
            body["metadata"]["name"].as_str().unwrap_or("")
        )));
    }
    let mut opts = DeleteOptions::from_value(&body["deleteOptions"]);
    opts.dry_run |= req.dry_run();
    let mut store = shared.store();
    let pod = store.get("/pods", &(ns.clone(), name.clone())).ok_or_else(|| ApiError::not_found("pods", "", &name))?;
    disruption::check_eviction(&store, &pod)?;
    if !opts.dry_run {
        delete_object(shared, &mut store, &t.def, &(ns, name), &opts)?;
    }
    Ok(json_response(201, &status::success(201)))
}
