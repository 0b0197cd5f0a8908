//! Authorization from the stored RBAC objects: the same rules decide whether
//! a request is allowed (403 otherwise) and what SelfSubjectAccessReview,
//! SubjectAccessReview and SelfSubjectRulesReview answer.

use serde_json::{json, Value};

use crate::store::Store;

/// Who is making a request.
///
/// ```
/// let sa = k8sops_testkit::UserInfo::new("system:serviceaccount:ops:bot", &["system:serviceaccounts"]);
/// assert!(sa.groups.contains(&"system:authenticated".to_string()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// User name, e.g. `admin` or `system:serviceaccount:ns:name`.
    pub name: String,
    /// Groups, e.g. `system:masters`.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// A user with these groups (plus `system:authenticated`).
    ///
    /// ```
    /// let alice = k8sops_testkit::UserInfo::new("alice", &["dev"]);
    /// assert_eq!(alice.groups, ["dev", "system:authenticated"]);
    /// ```
    pub fn new(name: impl Into<String>, groups: &[&str]) -> Self {
        let mut groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        if !groups.iter().any(|g| g == "system:authenticated") {
            groups.push("system:authenticated".into());
        }
        UserInfo { name: name.into(), groups }
    }

    pub(crate) fn anonymous() -> Self {
        UserInfo { name: "system:anonymous".into(), groups: vec!["system:unauthenticated".into()] }
    }

    pub(crate) fn is_master(&self) -> bool {
        self.groups.iter().any(|g| g == "system:masters")
    }
}

/// What a request wants to do.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attributes {
    pub(crate) verb: String,
    pub(crate) group: String,
    pub(crate) resource: String,
    pub(crate) subresource: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) path: Option<String>,
}

fn subject_matches(subject: &Value, user: &UserInfo, binding_ns: &str) -> bool {
    let name = subject["name"].as_str().unwrap_or("");
    match subject["kind"].as_str().unwrap_or("") {
        "User" => name == user.name,
        "Group" => user.groups.iter().any(|g| g == name),
        "ServiceAccount" => {
            let ns = subject["namespace"].as_str().filter(|s| !s.is_empty()).unwrap_or(binding_ns);
            user.name == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

fn has(list: &Value, want: &str) -> bool {
    list.as_array().is_some_and(|a| a.iter().any(|v| v.as_str() == Some("*") || v.as_str() == Some(want)))
}

/// Rules that apply to `user` in `namespace` (cluster-wide rules always apply).
fn rules_for(store: &Store, user: &UserInfo, namespace: &str) -> Vec<Value> {
    let mut rules = Vec::new();
    let role_rules = |storage: &str, ns: &str, name: &str| -> Vec<Value> {
        store
            .get(storage, &(ns.to_string(), name.to_string()))
            .and_then(|r| r["rules"].as_array().cloned())
            .unwrap_or_default()
    };
    for crb in store.range("rbac.authorization.k8s.io/clusterrolebindings", None, None) {
        if crb["subjects"].as_array().into_iter().flatten().any(|s| subject_matches(s, user, "")) {
            rules.extend(role_rules(
                "rbac.authorization.k8s.io/clusterroles",
                "",
                crb["roleRef"]["name"].as_str().unwrap_or(""),
            ));
        }
    }
    if !namespace.is_empty() {
        for rb in store.range("rbac.authorization.k8s.io/rolebindings", Some(namespace), None) {
            if rb["subjects"].as_array().into_iter().flatten().any(|s| subject_matches(s, user, namespace)) {
                let name = rb["roleRef"]["name"].as_str().unwrap_or("");
                match rb["roleRef"]["kind"].as_str() {
                    Some("ClusterRole") => rules.extend(role_rules("rbac.authorization.k8s.io/clusterroles", "", name)),
                    _ => rules.extend(role_rules("rbac.authorization.k8s.io/roles", namespace, name)),
                }
            }
        }
    }
    rules
}

fn rule_allows(rule: &Value, attrs: &Attributes) -> bool {
    if !has(&rule["verbs"], &attrs.verb) {
        return false;
    }
    if let Some(path) = &attrs.path {
        return rule["nonResourceURLs"].as_array().is_some_and(|urls| {
            urls.iter()
                .filter_map(Value::as_str)
                .any(|u| u == "*" || u == path || u.strip_suffix('*').is_some_and(|prefix| path.starts_with(prefix)))
        });
    }
    if !has(&rule["apiGroups"], &attrs.group) {
        return false;
    }
    let combined = if attrs.subresource.is_empty() {
        attrs.resource.clone()
    } else {
        format!("{}/{}", attrs.resource, attrs.subresource)
    };
    let resource_ok = rule["resources"].as_array().is_some_and(|rs| {
        rs.iter().filter_map(Value::as_str).any(|r| {
            r == "*" || r == combined || (!attrs.subresource.is_empty() && r == format!("*/{}", attrs.subresource))
        })
    });
    if !resource_ok {
        return false;
    }
    match rule["resourceNames"].as_array() {
        Some(names) if !names.is_empty() => names.iter().any(|n| n.as_str() == Some(attrs.name.as_str())),
        _ => true,
    }
}

/// Whether `user` may do `attrs`, and why.
pub(crate) fn authorize(store: &Store, user: &UserInfo, attrs: &Attributes) -> (bool, String) {
    if user.is_master() {
        return (true, "user is in system:masters".into());
    }
    let rules = rules_for(store, user, &attrs.namespace);
    if rules.iter().any(|r| rule_allows(r, attrs)) {
        (true, "RBAC: allowed by a stored role".into())
    } else {
        (false, String::new())
    }
}

/// The answer to a SelfSubjectRulesReview for `namespace`.
pub(crate) fn rules_review(store: &Store, user: &UserInfo, namespace: &str) -> Value {
    let rules = if user.is_master() {
        vec![
            json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}),
            json!({"verbs": ["*"], "nonResourceURLs": ["*"]}),
        ]
    } else {
        rules_for(store, user, namespace)
    };
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for r in rules {
        if r.get("nonResourceURLs").is_some_and(|u| u.as_array().is_some_and(|a| !a.is_empty())) {
            non_resource_rules.push(json!({"verbs": r["verbs"], "nonResourceURLs": r["nonResourceURLs"]}));
        } else {
            let mut rr =
                json!({"verbs": r["verbs"], "apiGroups": r["apiGroups"].clone(), "resources": r["resources"].clone()});
            if let Some(names) = r["resourceNames"].as_array().filter(|a| !a.is_empty()) {
                rr["resourceNames"] = json!(names);
            }
            resource_rules.push(rr);
        }
    }
    json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false})
}

/// Attributes from a SubjectAccessReview's `spec`.
pub(crate) fn attributes_from_review(spec: &Value) -> Attributes {
    if let Some(nr) = spec.get("nonResourceAttributes").filter(|v| v.is_object()) {
        return Attributes {
            verb: nr["verb"].as_str().unwrap_or("").to_string(),
            path: Some(nr["path"].as_str().unwrap_or("").to_string()),
            ..Default::default()
        };
    }
    let ra = &spec["resourceAttributes"];
    let s = |k: &str| ra[k].as_str().unwrap_or("").to_string();
    Attributes {
        verb: s("verb"),
        group: s("group"),
        resource: s("resource"),
        subresource: s("subresource"),
        namespace: s("namespace"),
        name: s("name"),
        path: None,
    }
}

/// The cluster roles and bindings every cluster starts with (a subset of the
/// real bootstrap policy).
pub(crate) fn bootstrap_objects() -> Vec<Value> {
    let cr = |name: &str, rules: Value| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}}, "rules": rules})
    };
    let crb = |name: &str, role: &str, group: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}]})
    };
    vec![
        cr(
            "cluster-admin",
            json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        ),
        cr(
            "system:basic-user",
            json!([{"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]}]),
        ),
        cr(
            "system:discovery",
            json!([{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz", "/openapi", "/openapi/*", "/version", "/version/"], "verbs": ["get"]}]),
        ),
        cr(
            "view",
            json!([{"apiGroups": [""], "resources": ["pods", "services", "endpoints", "configmaps", "persistentvolumeclaims", "events", "namespaces"], "verbs": ["get", "list", "watch"]},
                            {"apiGroups": ["apps"], "resources": ["deployments", "replicasets", "daemonsets", "statefulsets"], "verbs": ["get", "list", "watch"]}]),
        ),
        cr(
            "system:public-info-viewer",
            json!([{"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
        ),
        crb("cluster-admin", "cluster-admin", "system:masters"),
        crb("system:public-info-viewer", "system:public-info-viewer", "system:unauthenticated"),
        crb("system:basic-user", "system:basic-user", "system:authenticated"),
        crb("system:discovery", "system:discovery", "system:authenticated"),
    ]
}
