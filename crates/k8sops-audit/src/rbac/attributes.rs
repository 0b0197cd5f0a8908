//! What is being asked: the request attributes the authorizer sees
//! (`k8s.io/apiserver/pkg/authorization/authorizer.Attributes`, less the user).

/// A request to authorize: either a resource request (verb, API group,
/// resource, optional subresource and name, namespace) or a non-resource
/// request (verb, URL path).
///
/// ```
/// use k8sops_audit::rbac::Attributes;
/// let logs = Attributes::resource("get", "", "pods", "default").subresource("log").name("web-0");
/// assert_eq!(logs.combined_resource(), "pods/log");
/// let health = Attributes::non_resource("get", "/healthz");
/// assert!(!health.resource_request);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Attributes {
    /// The verb: `get`, `list`, `watch`, `create`, ... for resources, the
    /// lower-case HTTP method for non-resource URLs.
    pub verb: String,
    /// The API group, `""` for the core group.
    pub api_group: String,
    /// The resource, e.g. `pods`.
    pub resource: String,
    /// The subresource, e.g. `log`, or `""`.
    pub subresource: String,
    /// The object name, `""` for list, watch-all and create without a name.
    pub name: String,
    /// The namespace, `""` for cluster-wide requests and non-resource URLs.
    pub namespace: String,
    /// The URL path of a non-resource request, e.g. `/healthz`.
    pub path: String,
    /// Whether this is a resource request (true) or a non-resource URL (false).
    pub resource_request: bool,
}

impl Attributes {
    /// A resource request; `namespace` is `""` for a cluster-wide request.
    ///
    /// ```
    /// use k8sops_audit::rbac::Attributes;
    /// let a = Attributes::resource("list", "apps", "deployments", "prod");
    /// assert!(a.resource_request && a.name.is_empty());
    /// ```
    pub fn resource(
        verb: impl Into<String>,
        api_group: impl Into<String>,
        resource: impl Into<String>,
        namespace: impl Into<String>,
    ) -> Self {
        Self {
            verb: verb.into(),
            api_group: api_group.into(),
            resource: resource.into(),
            namespace: namespace.into(),
            resource_request: true,
            ..Self::default()
        }
    }

    /// A non-resource request such as `get /healthz` or `get /api/v1`.
    ///
    /// ```
    /// use k8sops_audit::rbac::Attributes;
    /// let a = Attributes::non_resource("get", "/version");
    /// assert_eq!(a.path, "/version");
    /// ```
    pub fn non_resource(verb: impl Into<String>, path: impl Into<String>) -> Self {
        Self { verb: verb.into(), path: path.into(), resource_request: false, ..Self::default() }
    }

    /// The same request on a subresource.
    ///
    /// ```
    /// use k8sops_audit::rbac::Attributes;
    /// let a = Attributes::resource("update", "apps", "deployments", "prod").subresource("scale");
    /// assert_eq!(a.subresource, "scale");
    /// ```
    pub fn subresource(mut self, subresource: impl Into<String>) -> Self {
        self.subresource = subresource.into();
        self
    }

    /// The same request on one named object.
    ///
    /// ```
    /// use k8sops_audit::rbac::Attributes;
    /// let a = Attributes::resource("get", "", "secrets", "prod").name("db");
    /// assert_eq!(a.name, "db");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The same request in another namespace (`""` for cluster-wide).
    ///
    /// ```
    /// use k8sops_audit::rbac::Attributes;
    /// let a = Attributes::resource("get", "", "pods", "a").in_namespace("b");
    /// assert_eq!(a.namespace, "b");
    /// ```
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// `resource/subresource`, or `resource` without a subresource: what
    /// `RuleAllows` compares rule resources with.
    ///
    /// ```
    /// use k8sops_audit::rbac::Attributes;
    /// assert_eq!(Attributes::resource("get", "", "pods", "").combined_resource(), "pods");
    /// ```
    pub fn combined_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_set_fields() {
        let a = Attributes::resource("patch", "apps", "deployments", "prod").subresource("scale").name("web");
        assert_eq!(
            a,
            Attributes {
                verb: "patch".into(),
                api_group: "apps".into(),
                resource: "deployments".into(),
                subresource: "scale".into(),
                name: "web".into(),
                namespace: "prod".into(),
                path: String::new(),
                resource_request: true,
            }
        );
        assert_eq!(a.combined_resource(), "deployments/scale");
        let n = Attributes::non_resource("get", "/metrics");
        assert_eq!((n.namespace.as_str(), n.resource_request), ("", false));
    }
}
