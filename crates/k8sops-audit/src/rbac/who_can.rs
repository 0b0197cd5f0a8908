//! The reverse question, as kubectl-who-can asks it: which subjects are
//! granted a request, and through which binding, role and rule.

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::attributes::Attributes;
use super::rules::rule_allows;
use super::snapshot::{BindingKind, GrantPath, RbacSnapshot, Source};
use super::subject::Subject;

impl RbacSnapshot {
    /// Every subject granted the request, one [`GrantPath`] per subject of
    /// each binding whose role allows it: ClusterRoleBindings first, then
    /// (when `attributes.namespace` is not empty) the RoleBindings of that
    /// namespace, each in name order and subjects in binding order, with the
    /// first allowing rule of the role. Subjects that can match no user are
    /// left out (unknown kinds, a service account of a ClusterRoleBinding
    /// without a namespace); bindings to missing roles grant nothing.
    ///
    /// ```
    /// use k8sops_audit::rbac::{Attributes, RbacSnapshot};
    /// # use k8s_openapi::api::rbac::v1::*;
    /// # use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    /// let role = Role {
    ///     metadata: ObjectMeta { name: Some("secret-reader".into()), namespace: Some("prod".into()), ..Default::default() },
    ///     rules: Some(vec![PolicyRule {
    ///         api_groups: Some(vec!["".into()]), resources: Some(vec!["secrets".into()]), verbs: vec!["get".into()],
    ///         ..Default::default()
    ///     }]),
    /// };
    /// let binding = RoleBinding {
    ///     metadata: ObjectMeta { name: Some("readers".into()), namespace: Some("prod".into()), ..Default::default() },
    ///     role_ref: RoleRef { kind: "Role".into(), name: "secret-reader".into(), ..Default::default() },
    ///     subjects: Some(vec![Subject { kind: "ServiceAccount".into(), name: "app".into(), ..Default::default() }]),
    /// };
    /// let snapshot = RbacSnapshot::new([role], [], [binding], []);
    /// let grants = snapshot.who_can(&Attributes::resource("get", "", "secrets", "prod").name("db"));
    /// assert_eq!(grants.len(), 1);
    /// assert_eq!(grants[0].subject, k8sops_audit::rbac::Subject::service_account("prod", "app"));
    /// assert_eq!(grants[0].role_name, "secret-reader");
    /// ```
    pub fn who_can(&self, attributes: &Attributes) -> Vec<GrantPath> {
        let mut grants = Vec::new();
        for (i, binding) in self.cluster_role_bindings().iter().enumerate() {
            let Some(rule_index) = first_allowing(self.binding_rules(BindingKind::ClusterRoleBinding, i), attributes)
            else {
                continue;
            };
            for (subject_index, s) in binding.subjects.as_deref().unwrap_or(&[]).iter().enumerate() {
                if can_match(s, "") {
                    let source = Source { kind: BindingKind::ClusterRoleBinding, binding: i, subject_index };
                    grants.push(self.grant_path(source, rule_index));
                }
            }
        }
        if attributes.namespace.is_empty() {
            return grants;
        }
        for i in self.role_binding_range(&attributes.namespace) {
            let Some(binding) = self.role_bindings().get(i) else { continue };
            let Some(rule_index) = first_allowing(self.binding_rules(BindingKind::RoleBinding, i), attributes) else {
                continue;
            };
            for (subject_index, s) in binding.subjects.as_deref().unwrap_or(&[]).iter().enumerate() {
                if can_match(s, &attributes.namespace) {
                    let source = Source { kind: BindingKind::RoleBinding, binding: i, subject_index };
                    grants.push(self.grant_path(source, rule_index));
                }
            }
        }
        grants
    }

    /// Every subject named in a binding, a service account's namespace
    /// defaulted to its RoleBinding's, sorted (users, groups, service
    /// accounts, other kinds; then by name and namespace) and without
    /// duplicates.
    ///
    /// ```
    /// use k8sops_audit::rbac::{RbacSnapshot, Subject};
    /// # use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject as RbacSubject};
    /// # use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    /// let binding = ClusterRoleBinding {
    ///     metadata: ObjectMeta { name: Some("b".into()), ..Default::default() },
    ///     role_ref: RoleRef { kind: "ClusterRole".into(), name: "view".into(), ..Default::default() },
    ///     subjects: Some(vec![
    ///         RbacSubject { kind: "Group".into(), name: "dev".into(), ..Default::default() },
    ///         RbacSubject { kind: "User".into(), name: "alice".into(), ..Default::default() },
    ///     ]),
    /// };
    /// let snapshot = RbacSnapshot::new([], [], [], [binding]);
    /// assert_eq!(snapshot.subjects(), [Subject::user("alice"), Subject::group("dev")]);
    /// ```
    pub fn subjects(&self) -> Vec<Subject> {
        let mut out: Vec<Subject> = Vec::new();
        for b in self.cluster_role_bindings() {
            out.extend(b.subjects.iter().flatten().map(|s| Subject::from_binding(s, None)));
        }
        for b in self.role_bindings() {
            let ns = b.metadata.namespace.as_deref();
            out.extend(b.subjects.iter().flatten().map(|s| Subject::from_binding(s, ns)));
        }
        out.sort();
        out.dedup();
        out
    }
}

/// Whether a binding subject can stand for any user (`binding_namespace`
/// defaults a service account's namespace).
fn can_match(subject: &k8s_openapi::api::rbac::v1::Subject, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" | "Group" => true,
        "ServiceAccount" => {
            subject.namespace.as_deref().is_some_and(|ns| !ns.is_empty()) || !binding_namespace.is_empty()
        }
        _ => false,
    }
}

/// The position of the first rule allowing the request, if the role resolves.
fn first_allowing<E>(rules: Result<&[PolicyRule], E>, attributes: &Attributes) -> Option<usize> {
    rules.ok()?.iter().position(|r| rule_allows(attributes, r))
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::tests::*;
    use super::super::subject::SubjectKind;
    use super::super::user::UserInfo;
    use super::*;

    fn sample() -> RbacSnapshot {
        RbacSnapshot::new(
            [role("dev", "pods", vec![rule(&[""], &["pods"], &["get", "list"])])],
            [
                cluster_role("admin", vec![rule(&["*"], &["*"], &["*"])]),
                cluster_role("view", vec![rule(&[""], &["secrets"], &["get"]), rule(&[""], &["pods"], &["get"])]),
            ],
            [
                rb(
                    "dev",
                    "devs",
                    "Role",
                    "pods",
                    vec![subject("Group", "devs", None), subject("ServiceAccount", "ci", None)],
                ),
                rb("dev", "missing", "Role", "gone", vec![subject("User", "eve", None)]),
                rb("prod", "viewers", "ClusterRole", "view", vec![subject("User", "bob", None)]),
            ],
            [
                crb("admins", "admin", vec![subject("User", "root", None), subject("Robot", "r2", None)]),
                crb("sa-without-ns", "admin", vec![subject("ServiceAccount", "x", None)]),
            ],
        )
    }

    #[test]
    fn who_can_lists_cluster_then_namespace_grants() {
        let s = sample();
        let grants = s.who_can(&Attributes::resource("get", "", "pods", "dev").name("p"));
        let names: Vec<String> = grants.iter().map(|g| g.subject.to_string()).collect();
        assert_eq!(names, ["User \"root\"", "Group \"devs\"", "ServiceAccount \"ci/dev\""]);
        assert_eq!(grants[0].to_string(), "ClusterRoleBinding \"admins\" of ClusterRole \"admin\" to User \"root\"");
        assert_eq!(grants[2].subject_index, 1);
        // prod: the RoleBinding to the ClusterRole applies there only.
        let grants = s.who_can(&Attributes::resource("get", "", "pods", "prod"));
        assert_eq!(grants.len(), 2);
        assert_eq!(grants[1].rule_index, 1);
        assert_eq!(grants[1].binding_namespace.as_deref(), Some("prod"));
        // Cluster-wide: only ClusterRoleBindings.
        assert_eq!(s.who_can(&Attributes::resource("get", "", "pods", "")).len(), 1);
    }

    #[test]
    fn who_can_agrees_with_authorize() {
        let s = sample();
        let attrs = Attributes::resource("list", "", "pods", "dev");
        for g in s.who_can(&attrs) {
            let user =
                g.subject.user_info().unwrap_or_else(|| UserInfo::impersonated("someone", &[g.subject.name.as_str()]));
            assert!(s.authorize(&user, &attrs).allowed, "{g}");
        }
        // Resource names: a list is never granted by a rule with names.
        let named = RbacSnapshot::new(
            [],
            [cluster_role(
                "one",
                vec![PolicyRule { resource_names: Some(vec!["a".into()]), ..rule(&[""], &["pods"], &["*"]) }],
            )],
            [],
            [crb("b", "one", vec![subject("User", "u", None)])],
        );
        assert!(named.who_can(&Attributes::resource("list", "", "pods", "x")).is_empty());
        assert_eq!(named.who_can(&Attributes::resource("get", "", "pods", "x").name("a")).len(), 1);
    }

    #[test]
    fn subjects_are_listed_once() {
        let s = sample();
        let subjects = s.subjects();
        assert_eq!(subjects.first(), Some(&Subject::user("bob")));
        assert!(subjects.contains(&Subject::service_account("dev", "ci")));
        assert!(subjects.iter().any(|s| s.kind == SubjectKind::Unknown("Robot".into())));
        assert!(subjects.iter().any(|s| s.kind == SubjectKind::ServiceAccount && s.namespace.is_none()));
        let mut sorted = subjects.clone();
        sorted.dedup();
        assert_eq!(sorted, subjects);
    }
}
