//! What one user may do to a list of resources, verb by verb, as rakkess
//! shows it (one access review per resource and verb).

use super::attributes::Attributes;
use super::snapshot::RbacSnapshot;
use super::user::UserInfo;

/// One resource of an [`AccessMatrix`].
///
/// ```
/// use k8sops_audit::rbac::AccessRow;
/// let row = AccessRow { api_group: "apps".into(), resource: "deployments".into(), allowed: vec![true, false] };
/// assert_eq!(row.allowed.len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRow {
    /// The API group, `""` for the core group.
    pub api_group: String,
    /// The resource (optionally `resource/subresource`).
    pub resource: String,
    /// Whether each verb of the matrix is allowed, in the matrix's verb order.
    pub allowed: Vec<bool>,
}

/// Whether a user may use each verb on each resource in a namespace.
///
/// ```
/// use k8sops_audit::rbac::{RbacSnapshot, UserInfo};
/// let m = RbacSnapshot::default().access_matrix(&UserInfo::anonymous(), "default", &[("", "pods")], &["get", "list"]);
/// assert_eq!(m.get("", "pods", "list"), Some(false));
/// assert_eq!(m.get("", "pods", "delete"), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessMatrix {
    /// The namespace asked about (`""` for cluster-wide).
    pub namespace: String,
    /// The verbs, the columns of the matrix.
    pub verbs: Vec<String>,
    /// One row per resource, in the order asked.
    pub rows: Vec<AccessRow>,
}

impl AccessMatrix {
    /// Whether `verb` is allowed on `resource` of `api_group`; `None` if the
    /// matrix has no such row or column.
    ///
    /// ```
    /// use k8sops_audit::rbac::{AccessMatrix, AccessRow};
    /// let m = AccessMatrix {
    ///     namespace: "dev".into(),
    ///     verbs: vec!["get".into()],
    ///     rows: vec![AccessRow { api_group: "".into(), resource: "pods".into(), allowed: vec![true] }],
    /// };
    /// assert_eq!(m.get("", "pods", "get"), Some(true));
    /// ```
    pub fn get(&self, api_group: &str, resource: &str, verb: &str) -> Option<bool> {
        let column = self.verbs.iter().position(|v| v == verb)?;
        let row = self.rows.iter().find(|r| r.api_group == api_group && r.resource == resource)?;
        row.allowed.get(column).copied()
    }
}

impl RbacSnapshot {
    /// The access matrix of `user` in `namespace` (`""` for cluster-wide):
    /// for each `(api_group, resource)` and verb, whether
    /// [`RbacSnapshot::authorize`] allows it. A resource may name a
    /// subresource as `resource/subresource`.
    ///
    /// ```
    /// use k8sops_audit::rbac::{RbacSnapshot, UserInfo};
    /// # use k8s_openapi::api::rbac::v1::*;
    /// # use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    /// let role = ClusterRole {
    ///     metadata: ObjectMeta { name: Some("scaler".into()), ..Default::default() },
    ///     rules: Some(vec![PolicyRule {
    ///         api_groups: Some(vec!["apps".into()]), resources: Some(vec!["deployments/scale".into()]),
    ///         verbs: vec!["get".into(), "update".into()], ..Default::default()
    ///     }]),
    ///     ..Default::default()
    /// };
    /// let binding = ClusterRoleBinding {
    ///     metadata: ObjectMeta { name: Some("scalers".into()), ..Default::default() },
    ///     role_ref: RoleRef { kind: "ClusterRole".into(), name: "scaler".into(), ..Default::default() },
    ///     subjects: Some(vec![Subject { kind: "Group".into(), name: "ops".into(), ..Default::default() }]),
    /// };
    /// let snapshot = RbacSnapshot::new([], [role], [], [binding]);
    /// let m = snapshot.access_matrix(
    ///     &UserInfo::impersonated("op", &["ops"]), "prod",
    ///     &[("apps", "deployments"), ("apps", "deployments/scale")], &["get", "update"],
    /// );
    /// assert_eq!(m.rows[0].allowed, [false, false]);
    /// assert_eq!(m.rows[1].allowed, [true, true]);
    /// ```
    pub fn access_matrix(
        &self,
        user: &UserInfo,
        namespace: &str,
        resources: &[(&str, &str)],
        verbs: &[&str],
    ) -> AccessMatrix {
        let rows = resources
            .iter()
            .map(|&(api_group, resource)| {
                let (resource_name, subresource) = resource.split_once('/').unwrap_or((resource, ""));
                let allowed = verbs
                    .iter()
                    .map(|&verb| {
                        let attrs =
                            Attributes::resource(verb, api_group, resource_name, namespace).subresource(subresource);
                        self.authorize(user, &attrs).allowed
                    })
                    .collect();
                AccessRow { api_group: api_group.to_owned(), resource: resource.to_owned(), allowed }
            })
            .collect();
        AccessMatrix { namespace: namespace.to_owned(), verbs: verbs.iter().map(|v| (*v).to_owned()).collect(), rows }
    }
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::tests::*;
    use super::*;

    #[test]
    fn matrix_follows_authorize() {
        let s = RbacSnapshot::new(
            [role("dev", "r", vec![rule(&[""], &["pods", "pods/log"], &["get", "list"])])],
            [cluster_role("nodes", vec![rule(&[""], &["nodes"], &["get"])])],
            [rb("dev", "b", "Role", "r", vec![subject("User", "alice", None)])],
            [crb("n", "nodes", vec![subject("User", "alice", None)])],
        );
        let alice = UserInfo::impersonated("alice", &[] as &[&str]);
        let resources = [("", "pods"), ("", "pods/log"), ("", "nodes"), ("apps", "deployments")];
        let verbs = ["get", "list", "delete"];
        let m = s.access_matrix(&alice, "dev", &resources, &verbs);
        assert_eq!(
            m.rows.iter().map(|r| r.allowed.clone()).collect::<Vec<_>>(),
            [vec![true, true, false], vec![true, true, false], vec![true, false, false], vec![false, false, false],]
        );
        let cluster = s.access_matrix(&alice, "", &resources, &verbs);
        assert_eq!(cluster.get("", "pods", "get"), Some(false));
        assert_eq!(cluster.get("", "nodes", "get"), Some(true));
        assert_eq!(cluster.get("x", "nodes", "get"), None);
    }
}
