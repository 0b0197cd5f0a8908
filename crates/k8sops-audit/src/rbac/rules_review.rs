//! What a SelfSubjectRulesReview returns: every rule granted to a user in a
//! namespace, un-merged (`RBACAuthorizer.RulesFor` of
//! `plugin/pkg/auth/authorizer/rbac/rbac.go`, served by
//! `pkg/registry/authorization/selfsubjectrulesreview`).

use k8s_openapi::api::authorization::v1::{NonResourceRule, ResourceRule, SubjectRulesReviewStatus};
use k8s_openapi::api::rbac::v1::PolicyRule;

use super::snapshot::{RbacSnapshot, Visit};
use super::user::UserInfo;
use crate::go_fmt::aggregate;

/// The status of a SelfSubjectRulesReview.
///
/// ```
/// use k8sops_audit::rbac::RulesReview;
/// let empty = RulesReview::default();
/// assert!(!empty.incomplete && empty.evaluation_error.is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RulesReview {
    /// The rules with resources, in visiting order (ClusterRoleBindings,
    /// then RoleBindings of the namespace; each role's rules in order).
    pub resource_rules: Vec<ResourceRule>,
    /// The rules with non-resource URLs, in the same order.
    pub non_resource_rules: Vec<NonResourceRule>,
    /// Whether the list may be incomplete (never set by RBAC; the Node
    /// authorizer sets it for nodes).
    pub incomplete: bool,
    /// The roles that could not be resolved, one message or `[m1, m2]`.
    pub evaluation_error: Option<String>,
}

impl RulesReview {
    /// The review as policy rules, resource rules first (kubectl's `convertToPolicyRule`).
    ///
    /// ```
    /// use k8s_openapi::api::authorization::v1::NonResourceRule;
    /// use k8sops_audit::rbac::RulesReview;
    /// let review = RulesReview {
    ///     non_resource_rules: vec![NonResourceRule { non_resource_urls: Some(vec!["/api".into()]), verbs: vec!["get".into()] }],
    ///     ..Default::default()
    /// };
    /// assert_eq!(review.policy_rules()[0].non_resource_urls.as_deref(), Some(&["/api".to_string()][..]));
    /// ```
    pub fn policy_rules(&self) -> Vec<PolicyRule> {
        let resources = self.resource_rules.iter().map(|r| PolicyRule {
            verbs: r.verbs.clone(),
            api_groups: r.api_groups.clone(),
            resources: r.resources.clone(),
            resource_names: r.resource_names.clone(),
            non_resource_urls: None,
        });
        let urls = self.non_resource_rules.iter().map(|r| PolicyRule {
            verbs: r.verbs.clone(),
            non_resource_urls: r.non_resource_urls.clone(),
            ..PolicyRule::default()
        });
        resources.chain(urls).collect()
    }
}

impl From<SubjectRulesReviewStatus> for RulesReview {
    /// The status a server returned.
    ///
    /// ```
    /// use k8s_openapi::api::authorization::v1::SubjectRulesReviewStatus;
    /// use k8sops_audit::rbac::RulesReview;
    /// let review = RulesReview::from(SubjectRulesReviewStatus { incomplete: true, ..Default::default() });
    /// assert!(review.incomplete);
    /// ```
    fn from(status: SubjectRulesReviewStatus) -> Self {
        Self {
            resource_rules: status.resource_rules,
            non_resource_rules: status.non_resource_rules,
            incomplete: status.incomplete,
            evaluation_error: status.evaluation_error.filter(|e| !e.is_empty()),
        }
    }
}

impl From<RulesReview> for SubjectRulesReviewStatus {
    /// The status as the server would return it.
    ///
    /// ```
    /// use k8s_openapi::api::authorization::v1::SubjectRulesReviewStatus;
    /// use k8sops_audit::rbac::RulesReview;
    /// let status = SubjectRulesReviewStatus::from(RulesReview::default());
    /// assert!(status.resource_rules.is_empty());
    /// ```
    fn from(review: RulesReview) -> Self {
        Self {
            resource_rules: review.resource_rules,
            non_resource_rules: review.non_resource_rules,
            incomplete: review.incomplete,
            evaluation_error: review.evaluation_error,
        }
    }
}

/// An empty list is left out of the JSON (`omitempty`), so it reads back as absent.
fn present(list: &Option<Vec<String>>) -> Option<Vec<String>> {
    list.as_ref().filter(|l| !l.is_empty()).cloned()
}

impl RbacSnapshot {
    /// What a SelfSubjectRulesReview in `namespace` returns for `user`: the
    /// rules of the ClusterRoleBindings and of the RoleBindings of
    /// `namespace` that apply to the user, in visiting order, not merged
    /// (kubectl merges them to print). A rule with resources becomes a
    /// resource rule, one with non-resource URLs a non-resource rule (a rule
    /// with both, both; with neither, none). Empty lists are absent, as they
    /// read back from the server's JSON. The server refuses an empty
    /// namespace; here it gives the ClusterRoleBindings' rules only.
    ///
    /// ```
    /// use k8sops_audit::rbac::{RbacSnapshot, UserInfo};
    /// # use k8s_openapi::api::rbac::v1::*;
    /// # use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    /// let role = ClusterRole {
    ///     metadata: ObjectMeta { name: Some("health".into()), ..Default::default() },
    ///     rules: Some(vec![PolicyRule { non_resource_urls: Some(vec!["/healthz".into()]), verbs: vec!["get".into()], ..Default::default() }]),
    ///     ..Default::default()
    /// };
    /// let binding = ClusterRoleBinding {
    ///     metadata: ObjectMeta { name: Some("health".into()), ..Default::default() },
    ///     role_ref: RoleRef { kind: "ClusterRole".into(), name: "health".into(), ..Default::default() },
    ///     subjects: Some(vec![Subject { kind: "Group".into(), name: "system:authenticated".into(), ..Default::default() }]),
    /// };
    /// let review = RbacSnapshot::new([], [role], [], [binding]).rules_for(&UserInfo::impersonated("alice", &[] as &[&str]), "default");
    /// assert_eq!(review.non_resource_rules.len(), 1);
    /// assert!(review.resource_rules.is_empty());
    /// ```
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> RulesReview {
        let mut review = RulesReview::default();
        let mut errors: Vec<String> = Vec::new();
        self.visit_rules_for(user, namespace, |visit| {
            match visit {
                Visit::Rule { rule, .. } => {
                    if rule.resources.as_ref().is_some_and(|r| !r.is_empty()) {
                        review.resource_rules.push(ResourceRule {
                            verbs: rule.verbs.clone(),
                            api_groups: present(&rule.api_groups),
                            resources: present(&rule.resources),
                            resource_names: present(&rule.resource_names),
                        });
                    }
                    if rule.non_resource_urls.as_ref().is_some_and(|u| !u.is_empty()) {
                        review.non_resource_rules.push(NonResourceRule {
                            verbs: rule.verbs.clone(),
                            non_resource_urls: present(&rule.non_resource_urls),
                        });
                    }
                }
                Visit::Error(e) => errors.push(e.to_string()),
            }
            true
        });
        review.evaluation_error = aggregate(&errors);
        review
    }
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::tests::*;
    use super::*;

    #[test]
    fn rules_are_listed_unmerged_cluster_bindings_first() {
        let s = RbacSnapshot::new(
            [role("dev", "r", vec![rule(&[""], &["pods"], &["get"]), rule(&[""], &["pods"], &["list"])])],
            [
                cluster_role(
                    "basic",
                    vec![rule(&["authorization.k8s.io"], &["selfsubjectaccessreviews"], &["create"])],
                ),
                cluster_role("disco", vec![url_rule(&["/api", "/api/*"], &["get"])]),
            ],
            [
                rb("dev", "b", "Role", "r", vec![subject("User", "alice", None)]),
                rb("prod", "p", "Role", "r", vec![subject("User", "alice", None)]),
            ],
            [
                crb("basic", "basic", vec![subject("Group", "system:authenticated", None)]),
                crb("disco", "disco", vec![subject("Group", "system:authenticated", None)]),
            ],
        );
        let alice = UserInfo::impersonated("alice", &[] as &[&str]);
        let review = s.rules_for(&alice, "dev");
        let resources: Vec<(Vec<String>, Vec<String>)> =
            review.resource_rules.iter().map(|r| (r.resources.clone().unwrap_or_default(), r.verbs.clone())).collect();
        assert_eq!(
            resources,
            [
                (strings(&["selfsubjectaccessreviews"]), strings(&["create"])),
                (strings(&["pods"]), strings(&["get"])),
                (strings(&["pods"]), strings(&["list"])),
            ]
        );
        assert_eq!(review.non_resource_rules.len(), 1);
        assert_eq!(review.evaluation_error, None);
        assert!(!review.incomplete);
        // prod's RoleBinding refers to a Role that only exists in dev.
        let review = s.rules_for(&alice, "prod");
        assert_eq!(review.resource_rules.len(), 1);
        assert_eq!(review.evaluation_error.as_deref(), Some("role.rbac.authorization.k8s.io \"r\" not found"));
        assert!(!review.incomplete);
    }

    #[test]
    fn rules_with_both_or_neither_kind() {
        let mut both = rule(&[""], &["pods"], &["get"]);
        both.non_resource_urls = Some(strings(&["/x"]));
        both.resource_names = Some(vec![]);
        let neither = PolicyRule { verbs: strings(&["get"]), ..Default::default() };
        let s = RbacSnapshot::new(
            [],
            [cluster_role("odd", vec![both, neither])],
            [],
            [crb("odd", "odd", vec![subject("User", "u", None)])],
        );
        let review = s.rules_for(&UserInfo::new("u", [] as [&str; 0]), "");
        assert_eq!(review.resource_rules.len(), 1);
        assert_eq!(review.resource_rules[0].resource_names, None);
        assert_eq!(review.non_resource_rules.len(), 1);
        let rules = review.policy_rules();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].non_resource_urls, None);
    }

    #[test]
    fn status_round_trip() {
        let review = RulesReview {
            resource_rules: vec![ResourceRule { verbs: strings(&["get"]), ..Default::default() }],
            non_resource_rules: vec![],
            incomplete: true,
            evaluation_error: Some("x".into()),
        };
        assert_eq!(RulesReview::from(SubjectRulesReviewStatus::from(review.clone())), review);
        let status = SubjectRulesReviewStatus { evaluation_error: Some(String::new()), ..Default::default() };
        assert_eq!(RulesReview::from(status).evaluation_error, None);
    }
}
