//! Offline RBAC evaluation: the API server's RBAC authorizer over a snapshot
//! of Roles, ClusterRoles, RoleBindings and ClusterRoleBindings.
//!
//! - [`RbacSnapshot::authorize`] answers what `kubectl auth can-i` gets from
//!   the RBAC authorizer (`plugin/pkg/auth/authorizer/rbac`), with its reason
//!   text; [`RbacSnapshot::authorize_as_apiserver`] adds the `system:masters`
//!   short-cut of the API server.
//! - [`UserInfo::impersonated`] builds the user the impersonation filter
//!   makes of `--as` / `--as-group`.
//! - [`RbacSnapshot::rules_for`] is what a SelfSubjectRulesReview returns and
//!   [`render_can_i_list`] prints it as `kubectl auth can-i --list` does.
//! - [`RbacSnapshot::who_can`] lists who is granted a request (kubectl-who-can),
//!   [`RbacSnapshot::access_matrix`] what a user may do (rakkess).
//! - [`aggregate`] computes an aggregated ClusterRole's rules to find stale ones.
//!
//! ```
//! use k8sops_audit::rbac::{render_can_i_list, Attributes, RbacSnapshot, UserInfo};
//! # use k8s_openapi::api::rbac::v1::*;
//! # use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
//! let role = Role {
//!     metadata: ObjectMeta { name: Some("deployer".into()), namespace: Some("ci".into()), ..Default::default() },
//!     rules: Some(vec![PolicyRule {
//!         api_groups: Some(vec!["apps".into()]),
//!         resources: Some(vec!["deployments".into(), "deployments/scale".into()]),
//!         verbs: vec!["get".into(), "patch".into()],
//!         ..Default::default()
//!     }]),
//! };
//! let binding = RoleBinding {
//!     metadata: ObjectMeta { name: Some("deployer".into()), namespace: Some("ci".into()), ..Default::default() },
//!     role_ref: RoleRef { kind: "Role".into(), name: "deployer".into(), ..Default::default() },
//!     subjects: Some(vec![Subject { kind: "ServiceAccount".into(), name: "bot".into(), ..Default::default() }]),
//! };
//! let snapshot = RbacSnapshot::new([role], [], [binding], []);
//! let bot = UserInfo::impersonated("system:serviceaccount:ci:bot", &[] as &[&str]);
//! let scale = Attributes::resource("patch", "apps", "deployments", "ci").subresource("scale").name("web");
//! assert_eq!(
//!     snapshot.authorize(&bot, &scale).reason,
//!     "RBAC: allowed by RoleBinding \"deployer/ci\" of Role \"deployer\" to ServiceAccount \"bot/ci\""
//! );
//! print!("{}", render_can_i_list(&snapshot.rules_for(&bot, "ci")));
//! ```

mod access_matrix;
mod aggregation;
mod attributes;
mod can_i_list;
mod rules;
mod rules_review;
mod snapshot;
mod subject;
mod tabwriter;
mod user;
mod validation;
mod who_can;

pub use access_matrix::{AccessMatrix, AccessRow};
pub use aggregation::{aggregate, aggregation_status, AggregationError, AggregationStatus};
pub use attributes::Attributes;
pub use can_i_list::{
    breakdown_rule, can_i_list_rules, can_i_list_warning, combine_resource_group, compact_rules, policy_rule_string,
    render_can_i_list, render_can_i_list_no_headers, sort_rules,
};
pub use rules::{
    api_group_matches, non_resource_url_matches, resource_matches, resource_name_matches, rule_allows, rules_allow,
    verb_matches,
};
pub use rules_review::RulesReview;
pub use snapshot::{BindingKind, Decision, GrantPath, RbacSnapshot, ResolutionError, RoleKind};
pub use subject::{Subject, SubjectKind};
pub use user::{
    service_account_namespace_group, service_account_username, split_service_account_username, UserInfo,
    ALL_AUTHENTICATED, ALL_SERVICE_ACCOUNTS, ALL_UNAUTHENTICATED, ANONYMOUS, SYSTEM_MASTERS,
};
