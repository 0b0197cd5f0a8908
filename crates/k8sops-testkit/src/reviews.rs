//! The create-only authorization reviews.

use http::Response;
use serde_json::{json, Value};

use crate::{
    rbac::{self, UserInfo},
    server::{json_response, Body, Req, Shared, Target},
    status::ApiError,
};

pub(crate) fn create(shared: &Shared, req: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let mut body: Value =
        serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request(format!("invalid review: {e}")))?;
    let store = shared.store();
    let status = match t.def.kind.as_str() {
        "SelfSubjectRulesReview" => {
            let ns = body["spec"]["namespace"].as_str().unwrap_or("").to_string();
            rbac::rules_review(&store, &req.user, &ns)
        }
        "SelfSubjectAccessReview" => {
            let attrs = rbac::attributes_from_review(&body["spec"]);
            let (allowed, reason) = rbac::authorize(&store, &req.user, &attrs);
            json!({"allowed": allowed, "reason": reason})
        }
        "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let spec = &body["spec"];
            let groups: Vec<&str> = spec["groups"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let user = UserInfo {
                name: spec["user"].as_str().unwrap_or("").to_string(),
                groups: groups.iter().map(|g| g.to_string()).collect(),
            };
            let mut attrs = rbac::attributes_from_review(spec);
            if let Some(ns) = &t.namespace {
                attrs.namespace = ns.clone();
            }
            let (allowed, reason) = rbac::authorize(&store, &user, &attrs);
            json!({"allowed": allowed, "reason": reason})
        }
        _ => return Err(ApiError::method_not_allowed()),
    };
    body["status"] = status;
    body["apiVersion"] = json!(t.def.api_version());
    body["kind"] = json!(t.def.kind);
    if !body["metadata"].is_object() {
        body["metadata"] = json!({});
    }
    body["metadata"]["creationTimestamp"] = Value::Null;
    Ok(json_response(201, &body))
}
