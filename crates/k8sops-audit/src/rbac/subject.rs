//! Binding subjects: which users a subject of a RoleBinding or
//! ClusterRoleBinding stands for (`appliesToUser` of
//! `pkg/registry/rbac/validation/rule.go`).

use std::fmt;

use k8s_openapi::api::rbac::v1 as rbacv1;

use super::user::{service_account_username, UserInfo};
use crate::go_fmt::quote;

/// The kind of a binding subject.
///
/// ```
/// use k8sops_audit::rbac::SubjectKind;
/// assert_eq!(SubjectKind::from_kind("ServiceAccount"), SubjectKind::ServiceAccount);
/// assert_eq!(SubjectKind::from_kind("user").as_str(), "user");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubjectKind {
    /// `User`: matches the user of that name.
    User,
    /// `Group`: matches users in that group.
    Group,
    /// `ServiceAccount`: matches `system:serviceaccount:<namespace>:<name>`.
    ServiceAccount,
    /// Any other kind (kinds are case-sensitive): matches nobody.
    Unknown(String),
}

impl SubjectKind {
    /// The kind of a subject's `kind` field.
    ///
    /// ```
    /// use k8sops_audit::rbac::SubjectKind;
    /// assert_eq!(SubjectKind::from_kind("Group"), SubjectKind::Group);
    /// ```
    pub fn from_kind(kind: &str) -> Self {
        match kind {
            "User" => Self::User,
            "Group" => Self::Group,
            "ServiceAccount" => Self::ServiceAccount,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// The kind as written in a binding.
    ///
    /// ```
    /// use k8sops_audit::rbac::SubjectKind;
    /// assert_eq!(SubjectKind::User.as_str(), "User");
    /// ```
    pub fn as_str(&self) -> &str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
            Self::ServiceAccount => "ServiceAccount",
            Self::Unknown(kind) => kind,
        }
    }
}

/// A binding subject for reports, with a service account's namespace
/// defaulted as the authorizer does (to the RoleBinding's namespace).
///
/// ```
/// use k8sops_audit::rbac::{Subject, SubjectKind};
/// let sa = Subject::service_account("ci", "deployer");
/// assert_eq!(sa.to_string(), "ServiceAccount \"deployer/ci\"");
/// assert_eq!(sa.kind, SubjectKind::ServiceAccount);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject {
    /// User, Group, ServiceAccount or another kind.
    pub kind: SubjectKind,
    /// The user, group or service account name.
    pub name: String,
    /// The service account namespace (`None` for users and groups, and for a
    /// service account of a ClusterRoleBinding that names none, which
    /// matches nobody).
    pub namespace: Option<String>,
}

impl Subject {
    /// A `User` subject.
    ///
    /// ```
    /// use k8sops_audit::rbac::Subject;
    /// assert_eq!(Subject::user("alice").to_string(), "User \"alice\"");
    /// ```
    pub fn user(name: impl Into<String>) -> Self {
        Self { kind: SubjectKind::User, name: name.into(), namespace: None }
    }

    /// A `Group` subject.
    ///
    /// ```
    /// use k8sops_audit::rbac::Subject;
    /// assert_eq!(Subject::group("dev").to_string(), "Group \"dev\"");
    /// ```
    pub fn group(name: impl Into<String>) -> Self {
        Self { kind: SubjectKind::Group, name: name.into(), namespace: None }
    }

    /// A `ServiceAccount` subject.
    ///
    /// ```
    /// use k8sops_audit::rbac::Subject;
    /// assert_eq!(Subject::service_account("ci", "bot").namespace.as_deref(), Some("ci"));
    /// ```
    pub fn service_account(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self { kind: SubjectKind::ServiceAccount, name: name.into(), namespace: Some(namespace.into()) }
    }

    /// The subject of a binding; `binding_namespace` is the RoleBinding's
    /// namespace (`None` or `""` for a ClusterRoleBinding) and is the default
    /// namespace of a service account subject. Users and groups keep no
    /// namespace.
    ///
    /// ```
    /// use k8s_openapi::api::rbac::v1::Subject as RbacSubject;
    /// use k8sops_audit::rbac::Subject;
    /// let s = RbacSubject { kind: "ServiceAccount".into(), name: "default".into(), ..Default::default() };
    /// assert_eq!(Subject::from_binding(&s, Some("dev")), Subject::service_account("dev", "default"));
    /// ```
    pub fn from_binding(subject: &rbacv1::Subject, binding_namespace: Option<&str>) -> Self {
        let kind = SubjectKind::from_kind(&subject.kind);
        let namespace = match kind {
            SubjectKind::User | SubjectKind::Group => None,
            _ => subject
                .namespace
                .as_deref()
                .filter(|ns| !ns.is_empty())
                .or(binding_namespace.filter(|ns| !ns.is_empty()))
                .map(str::to_owned),
        };
        Self { kind, name: subject.name.clone(), namespace }
    }

    /// Whether the subject stands for `user`.
    ///
    /// ```
    /// use k8sops_audit::rbac::{Subject, UserInfo};
    /// assert!(Subject::group("system:serviceaccounts:ci").applies_to(&UserInfo::service_account("ci", "bot")));
    /// ```
    pub fn applies_to(&self, user: &UserInfo) -> bool {
        match self.kind {
            SubjectKind::User => user.name == self.name,
            SubjectKind::Group => user.in_group(&self.name),
            SubjectKind::ServiceAccount => match self.namespace.as_deref() {
                Some(ns) if !ns.is_empty() => matches_service_account(ns, &self.name, &user.name),
                _ => false,
            },
            SubjectKind::Unknown(_) => false,
        }
    }

    /// The user this subject authenticates as, for users and service accounts
    /// (with the groups impersonation would give them); `None` for groups,
    /// unknown kinds and service accounts without a namespace.
    ///
    /// ```
    /// use k8sops_audit::rbac::{Subject, UserInfo};
    /// assert_eq!(Subject::service_account("ci", "bot").user_info(), Some(UserInfo::service_account("ci", "bot")));
    /// assert_eq!(Subject::group("dev").user_info(), None);
    /// ```
    pub fn user_info(&self) -> Option<UserInfo> {
        match (&self.kind, self.namespace.as_deref()) {
            (SubjectKind::User, _) => Some(UserInfo::impersonated(&self.name, &[] as &[&str])),
            (SubjectKind::ServiceAccount, Some(ns)) => Some(UserInfo::service_account(ns, &self.name)),
            _ => None,
        }
    }
}

/// `describeSubject` of `rule.go`: `Kind "name"`, `ServiceAccount "name/namespace"`.
impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SubjectKind::ServiceAccount => {
                let ns = self.namespace.as_deref().unwrap_or("");
                write!(f, "{} {}", self.kind.as_str(), quote(&format!("{}/{}", self.name, ns)))
            }
            _ => write!(f, "{} {}", self.kind.as_str(), quote(&self.name)),
        }
    }
}

/// `serviceaccount.MatchesUsername`: `username == system:serviceaccount:<ns>:<name>`.
fn matches_service_account(namespace: &str, name: &str, username: &str) -> bool {
    username
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.strip_prefix(namespace))
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|rest| rest == name)
}

/// `appliesToUser`: whether a binding subject applies to `user`, with
/// `namespace` the default namespace of service account subjects (the
/// RoleBinding's namespace, `""` for ClusterRoleBindings).
pub(crate) fn subject_applies(user: &UserInfo, subject: &rbacv1::Subject, namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.in_group(&subject.name),
        "ServiceAccount" => {
            let ns = match subject.namespace.as_deref() {
                Some(ns) if !ns.is_empty() => ns,
                _ => namespace,
            };
            !ns.is_empty() && matches_service_account(ns, &subject.name, &user.name)
        }
        _ => false,
    }
}

/// The user name a subject stands for, for indexing: users by name, service
/// accounts by their user name; `None` for groups, unknown kinds and service
/// accounts without a namespace.
pub(crate) fn indexed_user_name(subject: &rbacv1::Subject, namespace: &str) -> Option<String> {
    match subject.kind.as_str() {
        "User" => Some(subject.name.clone()),
        "ServiceAccount" => {
            let ns = match subject.namespace.as_deref() {
                Some(ns) if !ns.is_empty() => ns,
                _ => namespace,
            };
            (!ns.is_empty()).then(|| service_account_username(ns, &subject.name))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(kind: &str, name: &str, ns: Option<&str>) -> rbacv1::Subject {
        rbacv1::Subject { kind: kind.into(), name: name.into(), namespace: ns.map(Into::into), api_group: None }
    }

    #[test]
    fn service_account_subjects_match_their_user_name() {
        let sa = UserInfo::service_account("ci", "bot");
        assert!(subject_applies(&sa, &raw("ServiceAccount", "bot", Some("ci")), ""));
        assert!(!subject_applies(&sa, &raw("ServiceAccount", "bot", Some("dev")), ""));
        assert!(!subject_applies(&sa, &raw("ServiceAccount", "other", Some("ci")), ""));
        // Namespace defaulted to the RoleBinding's.
        assert!(subject_applies(&sa, &raw("ServiceAccount", "bot", None), "ci"));
        assert!(subject_applies(&sa, &raw("ServiceAccount", "bot", Some("")), "ci"));
        // Without any namespace (ClusterRoleBinding) nobody matches.
        assert!(!subject_applies(&sa, &raw("ServiceAccount", "bot", None), ""));
        // A plain user with the same name matches too: the name is what counts.
        let u = UserInfo::new("system:serviceaccount:ci:bot", [] as [&str; 0]);
        assert!(subject_applies(&u, &raw("ServiceAccount", "bot", Some("ci")), ""));
    }

    #[test]
    fn users_groups_and_unknown_kinds() {
        let alice = UserInfo::impersonated("alice", &["dev"]);
        assert!(subject_applies(&alice, &raw("User", "alice", None), ""));
        assert!(!subject_applies(&alice, &raw("User", "bob", None), ""));
        assert!(subject_applies(&alice, &raw("Group", "dev", None), ""));
        assert!(subject_applies(&alice, &raw("Group", "system:authenticated", None), ""));
        assert!(!subject_applies(&alice, &raw("user", "alice", None), ""));
        assert!(!subject_applies(&alice, &raw("Robot", "alice", None), ""));
    }

    #[test]
    fn namespace_group_of_service_accounts() {
        let sa = UserInfo::impersonated("system:serviceaccount:ci:bot", &[] as &[&str]);
        assert!(subject_applies(&sa, &raw("Group", "system:serviceaccounts:ci", None), ""));
        assert!(subject_applies(&sa, &raw("Group", "system:serviceaccounts", None), ""));
        assert!(!subject_applies(&sa, &raw("Group", "system:serviceaccounts:dev", None), ""));
    }

    #[test]
    fn report_subjects_agree_with_raw_matching() {
        let sa = UserInfo::service_account("ci", "bot");
        for (s, ns) in [
            (raw("ServiceAccount", "bot", None), "ci"),
            (raw("ServiceAccount", "bot", None), ""),
            (raw("Group", "system:serviceaccounts", Some("x")), ""),
            (raw("User", "system:serviceaccount:ci:bot", None), ""),
        ] {
            let report = Subject::from_binding(&s, Some(ns));
            assert_eq!(report.applies_to(&sa), subject_applies(&sa, &s, ns), "{s:?}");
        }
        assert_eq!(Subject::from_binding(&raw("Group", "g", Some("x")), Some("ns")).namespace, None);
    }

    #[test]
    fn display_like_describe_subject() {
        assert_eq!(Subject::service_account("ns", "sa").to_string(), "ServiceAccount \"sa/ns\"");
        assert_eq!(Subject::from_binding(&raw("Robot", "r2", None), None).to_string(), "Robot \"r2\"");
    }

    #[test]
    fn indexed_names() {
        assert_eq!(indexed_user_name(&raw("User", "a", None), ""), Some("a".into()));
        assert_eq!(
            indexed_user_name(&raw("ServiceAccount", "a", None), "ns"),
            Some("system:serviceaccount:ns:a".into())
        );
        assert_eq!(indexed_user_name(&raw("ServiceAccount", "a", None), ""), None);
        assert_eq!(indexed_user_name(&raw("Group", "a", None), ""), None);
    }
}
