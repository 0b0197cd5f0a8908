//! Who is asking: a user name and its groups, as the API server hands them to
//! the authorizer (`k8s.io/apiserver/pkg/authentication/user.Info`).

use super::validation::{is_dns1123_label, is_dns1123_subdomain};

/// The group every authenticated user is in (`user.AllAuthenticated`).
///
/// ```
/// assert_eq!(k8sops_audit::rbac::ALL_AUTHENTICATED, "system:authenticated");
/// ```
pub const ALL_AUTHENTICATED: &str = "system:authenticated";

/// The group of the anonymous user (`user.AllUnauthenticated`).
///
/// ```
/// assert_eq!(k8sops_audit::rbac::ALL_UNAUTHENTICATED, "system:unauthenticated");
/// ```
pub const ALL_UNAUTHENTICATED: &str = "system:unauthenticated";

/// The name of the anonymous user (`user.Anonymous`).
///
/// ```
/// assert_eq!(k8sops_audit::rbac::ANONYMOUS, "system:anonymous");
/// ```
pub const ANONYMOUS: &str = "system:anonymous";

/// The group every service account is in (`serviceaccount.AllServiceAccountsGroup`).
///
/// ```
/// assert_eq!(k8sops_audit::rbac::ALL_SERVICE_ACCOUNTS, "system:serviceaccounts");
/// ```
pub const ALL_SERVICE_ACCOUNTS: &str = "system:serviceaccounts";

/// The group the API server lets do anything before any authorizer runs
/// (`user.SystemPrivilegedGroup`).
///
/// ```
/// assert_eq!(k8sops_audit::rbac::SYSTEM_MASTERS, "system:masters");
/// ```
pub const SYSTEM_MASTERS: &str = "system:masters";

const SERVICE_ACCOUNT_USERNAME_PREFIX: &str = "system:serviceaccount:";
const SERVICE_ACCOUNT_GROUP_PREFIX: &str = "system:serviceaccounts:";

/// The user name of a service account: `system:serviceaccount:<namespace>:<name>`
/// (`serviceaccount.MakeUsername`).
///
/// ```
/// use k8sops_audit::rbac::service_account_username;
/// assert_eq!(service_account_username("ci", "deployer"), "system:serviceaccount:ci:deployer");
/// ```
pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("{SERVICE_ACCOUNT_USERNAME_PREFIX}{namespace}:{name}")
}

/// The group of all service accounts of a namespace: `system:serviceaccounts:<namespace>`
/// (`serviceaccount.MakeNamespaceGroupName`).
///
/// ```
/// use k8sops_audit::rbac::service_account_namespace_group;
/// assert_eq!(service_account_namespace_group("ci"), "system:serviceaccounts:ci");
/// ```
pub fn service_account_namespace_group(namespace: &str) -> String {
    format!("{SERVICE_ACCOUNT_GROUP_PREFIX}{namespace}")
}

/// Namespace and name of a service account user name, `None` when the name is
/// not one (`serviceaccount.SplitUsername`: exactly two `:`-separated parts
/// after the prefix, the namespace a DNS-1123 label and the name a DNS-1123
/// subdomain).
///
/// ```
/// use k8sops_audit::rbac::split_service_account_username;
/// assert_eq!(split_service_account_username("system:serviceaccount:ci:deployer"), Some(("ci", "deployer")));
/// assert_eq!(split_service_account_username("system:serviceaccount:CI:deployer"), None);
/// assert_eq!(split_service_account_username("alice"), None);
/// ```
pub fn split_service_account_username(username: &str) -> Option<(&str, &str)> {
    let rest = username.strip_prefix(SERVICE_ACCOUNT_USERNAME_PREFIX)?;
    let mut parts = rest.split(':');
    let (namespace, name) = match (parts.next(), parts.next(), parts.next()) {
        (Some(namespace), Some(name), None) => (namespace, name),
        _ => return None,
    };
    (is_dns1123_label(namespace) && is_dns1123_subdomain(name)).then_some((namespace, name))
}

/// A user as the authorizer sees it: a name and groups (`user.Info`; the
/// UID and extra fields play no part in RBAC).
///
/// ```
/// use k8sops_audit::rbac::UserInfo;
/// let sa = UserInfo::impersonated("system:serviceaccount:ci:deployer", &[] as &[&str]);
/// assert_eq!(sa.groups, ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct UserInfo {
    /// The user name, e.g. `alice` or `system:serviceaccount:ci:deployer`.
    pub name: String,
    /// The groups, in the order the server has them.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// A user with exactly these groups (no group is added).
    ///
    /// ```
    /// use k8sops_audit::rbac::UserInfo;
    /// let u = UserInfo::new("alice", ["dev"]);
    /// assert_eq!(u.groups, ["dev"]);
    /// ```
    pub fn new<G, S>(name: impl Into<String>, groups: G) -> Self
    where
        G: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self { name: name.into(), groups: groups.into_iter().map(Into::into).collect() }
    }

    /// The user the API server's impersonation filter builds for
    /// `kubectl --as <name> [--as-group <g>]...` (`WithImpersonation`, 1.20+):
    ///
    /// - a valid service account user name without `--as-group` gets
    ///   `system:serviceaccounts` and `system:serviceaccounts:<ns>`;
    /// - the `--as-group` values come next, in order, and replace those;
    /// - any user but `system:anonymous` then gets `system:authenticated`
    ///   unless `system:authenticated` or `system:unauthenticated` is already there;
    /// - `system:anonymous` gets `system:unauthenticated` unless it is already there.
    ///
    /// `name` must be non-empty: kubectl sends no impersonation without it.
    ///
    /// ```
    /// use k8sops_audit::rbac::UserInfo;
    /// let alice = UserInfo::impersonated("alice", &["dev"]);
    /// assert_eq!(alice.groups, ["dev", "system:authenticated"]);
    /// let anon = UserInfo::impersonated("system:anonymous", &[] as &[&str]);
    /// assert_eq!(anon.groups, ["system:unauthenticated"]);
    /// ```
    pub fn impersonated<S: AsRef<str>>(name: &str, as_groups: &[S]) -> Self {
        let mut groups: Vec<String> = Vec::with_capacity(as_groups.len() + 3);
        if as_groups.is_empty() {
            if let Some((namespace, _)) = split_service_account_username(name) {
                groups.push(ALL_SERVICE_ACCOUNTS.to_owned());
                groups.push(service_account_namespace_group(namespace));
            }
        }
        groups.extend(as_groups.iter().map(|g| g.as_ref().to_owned()));
        if name != ANONYMOUS {
            if !groups.iter().any(|g| g == ALL_AUTHENTICATED || g == ALL_UNAUTHENTICATED) {
                groups.push(ALL_AUTHENTICATED.to_owned());
            }
        } else if !groups.iter().any(|g| g == ALL_UNAUTHENTICATED) {
            groups.push(ALL_UNAUTHENTICATED.to_owned());
        }
        Self { name: name.to_owned(), groups }
    }

    /// A service account as its token authenticates it: the user
    /// `system:serviceaccount:<ns>:<name>` in `system:serviceaccounts`,
    /// `system:serviceaccounts:<ns>` and `system:authenticated` (the same as
    /// impersonating it without `--as-group`). The names are not validated.
    ///
    /// ```
    /// use k8sops_audit::rbac::UserInfo;
    /// let sa = UserInfo::service_account("ci", "deployer");
    /// assert_eq!(sa.name, "system:serviceaccount:ci:deployer");
    /// assert!(sa.in_group("system:serviceaccounts:ci"));
    /// ```
    pub fn service_account(namespace: &str, name: &str) -> Self {
        Self {
            name: service_account_username(namespace, name),
            groups: vec![
                ALL_SERVICE_ACCOUNTS.to_owned(),
                service_account_namespace_group(namespace),
                ALL_AUTHENTICATED.to_owned(),
            ],
        }
    }

    /// The anonymous user: `system:anonymous` in `system:unauthenticated`.
    ///
    /// ```
    /// use k8sops_audit::rbac::UserInfo;
    /// assert_eq!(UserInfo::anonymous().groups, ["system:unauthenticated"]);
    /// ```
    pub fn anonymous() -> Self {
        Self { name: ANONYMOUS.to_owned(), groups: vec![ALL_UNAUTHENTICATED.to_owned()] }
    }

    /// Whether the user is in `group`.
    ///
    /// ```
    /// use k8sops_audit::rbac::UserInfo;
    /// assert!(UserInfo::new("alice", ["dev"]).in_group("dev"));
    /// ```
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// Namespace and name when the user name is a valid service account user name.
    ///
    /// ```
    /// use k8sops_audit::rbac::UserInfo;
    /// assert_eq!(UserInfo::service_account("ci", "deployer").service_account_parts(), Some(("ci", "deployer")));
    /// ```
    pub fn service_account_parts(&self) -> Option<(&str, &str)> {
        split_service_account_username(&self.name)
    }

    /// Whether the user is in `system:masters`, which the API server allows
    /// everything before RBAC is asked.
    ///
    /// ```
    /// use k8sops_audit::rbac::UserInfo;
    /// assert!(UserInfo::impersonated("root", &["system:masters"]).is_privileged());
    /// ```
    pub fn is_privileged(&self) -> bool {
        self.in_group(SYSTEM_MASTERS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: &[&str] = &[];

    #[test]
    fn impersonating_a_service_account_adds_its_groups() {
        let u = UserInfo::impersonated("system:serviceaccount:ns:name", NONE);
        assert_eq!(u.name, "system:serviceaccount:ns:name");
        assert_eq!(u.groups, ["system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"]);
        assert_eq!(u, UserInfo::service_account("ns", "name"));
    }

    #[test]
    fn as_group_replaces_service_account_groups() {
        let u = UserInfo::impersonated("system:serviceaccount:ns:name", &["ops"]);
        assert_eq!(u.groups, ["ops", "system:authenticated"]);
    }

    #[test]
    fn invalid_service_account_names_are_plain_users() {
        for name in ["system:serviceaccount:ns", "system:serviceaccount:ns:a:b", "system:serviceaccount:NS:a"] {
            assert_eq!(UserInfo::impersonated(name, NONE).groups, ["system:authenticated"], "{name}");
        }
    }

    #[test]
    fn authenticated_is_not_added_twice_nor_with_unauthenticated() {
        assert_eq!(UserInfo::impersonated("alice", &["system:authenticated"]).groups, ["system:authenticated"]);
        assert_eq!(UserInfo::impersonated("alice", &["system:unauthenticated"]).groups, ["system:unauthenticated"]);
    }

    #[test]
    fn anonymous_gets_unauthenticated() {
        assert_eq!(UserInfo::impersonated("system:anonymous", NONE), UserInfo::anonymous());
        assert_eq!(UserInfo::impersonated("system:anonymous", &["g"]).groups, ["g", "system:unauthenticated"]);
        assert_eq!(UserInfo::impersonated("system:anonymous", &["system:unauthenticated"]).groups.len(), 1);
    }

    #[test]
    fn service_account_parts_and_privilege() {
        assert_eq!(UserInfo::new("alice", [] as [&str; 0]).service_account_parts(), None);
        assert!(!UserInfo::new("alice", [] as [&str; 0]).is_privileged());
    }
}
