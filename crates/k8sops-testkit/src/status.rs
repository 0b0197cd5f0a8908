//! Errors as the API server reports them: a `Status` object with code, reason and message.

use serde_json::{json, Value};

/// An error response, rendered as a `meta/v1 Status`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    pub(crate) details: Option<Value>,
}

impl ApiError {
    pub(crate) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { code, reason, message: message.into(), details: None }
    }

    pub(crate) fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub(crate) fn not_found(resource: &str, group: &str, name: &str) -> Self {
        let qualified = if group.is_empty() { resource.to_string() } else { format!("{resource}.{group}") };
        ApiError::new(404, "NotFound", format!("{qualified} \"{name}\" not found"))
            .with_details(json!({"name": name, "group": group, "kind": resource}))
    }

    pub(crate) fn already_exists(resource: &str, group: &str, name: &str) -> Self {
        let qualified = if group.is_empty() { resource.to_string() } else { format!("{resource}.{group}") };
        ApiError::new(409, "AlreadyExists", format!("{qualified} \"{name}\" already exists"))
            .with_details(json!({"name": name, "group": group, "kind": resource}))
    }

    pub(crate) fn conflict(resource: &str, group: &str, name: &str) -> Self {
        let qualified = if group.is_empty() { resource.to_string() } else { format!("{resource}.{group}") };
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {qualified} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
        )
        .with_details(json!({"name": name, "group": group, "kind": resource}))
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    pub(crate) fn invalid(kind: &str, name: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::new(422, "Invalid", format!("{kind} \"{name}\" is invalid: {message}")).with_details(
            json!({"name": name, "kind": kind, "causes": [{"reason": "FieldValueInvalid", "message": message}]}),
        )
    }

    pub(crate) fn method_not_allowed() -> Self {
        ApiError::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    }

    pub(crate) fn forbidden(user: &str, verb: &str, resource: &str, group: &str, namespace: Option<&str>) -> Self {
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        ApiError::new(
            403,
            "Forbidden",
            format!("{resource} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{group}\" {scope}"),
        )
        .with_details(json!({"group": group, "kind": resource}))
    }

    pub(crate) fn to_status(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }
}

/// A `Status` reporting success (what eviction and some deletes return).
pub(crate) fn success(code: u16) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code})
}
