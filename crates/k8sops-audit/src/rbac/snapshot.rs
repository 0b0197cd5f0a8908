//! The indexed set of roles and bindings, and the authorizer over it:
//! `RBACAuthorizer.Authorize` of `plugin/pkg/auth/authorizer/rbac/rbac.go`
//! and `DefaultRuleResolver.VisitRulesFor` of
//! `pkg/registry/rbac/validation/rule.go`.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::attributes::Attributes;
use super::rules::rule_allows;
use super::subject::{indexed_user_name, subject_applies, Subject};
use super::user::UserInfo;
use crate::go_fmt::{aggregate, quote};

/// The kind of a binding.
///
/// ```
/// use k8sops_audit::rbac::BindingKind;
/// assert_eq!(BindingKind::RoleBinding.as_str(), "RoleBinding");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BindingKind {
    /// A ClusterRoleBinding: grants its role in every namespace and cluster-wide.
    ClusterRoleBinding,
    /// A RoleBinding: grants its role (a Role or a ClusterRole) in its namespace only.
    RoleBinding,
}

impl BindingKind {
    /// The kind as the API names it.
    ///
    /// ```
    /// use k8sops_audit::rbac::BindingKind;
    /// assert_eq!(BindingKind::ClusterRoleBinding.as_str(), "ClusterRoleBinding");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClusterRoleBinding => "ClusterRoleBinding",
            Self::RoleBinding => "RoleBinding",
        }
    }
}

/// The kind of a role a binding refers to.
///
/// ```
/// use k8sops_audit::rbac::RoleKind;
/// assert_eq!(RoleKind::ClusterRole.as_str(), "ClusterRole");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoleKind {
    /// A namespaced Role.
    Role,
    /// A ClusterRole.
    ClusterRole,
}

impl RoleKind {
    /// The kind as written in a `roleRef`.
    ///
    /// ```
    /// use k8sops_audit::rbac::RoleKind;
    /// assert_eq!(RoleKind::Role.as_str(), "Role");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Role => "Role",
            Self::ClusterRole => "ClusterRole",
        }
    }
}

/// Why a binding that applies to the user grants nothing: its role cannot be
/// resolved. The authorizer records the error and goes on with the other
/// bindings; the messages are the API server's.
///
/// ```
/// use k8sops_audit::rbac::ResolutionError;
/// let e = ResolutionError::ClusterRoleNotFound { name: "gone".into() };
/// assert_eq!(e.to_string(), "clusterrole.rbac.authorization.k8s.io \"gone\" not found");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ResolutionError {
    /// The Role does not exist in the binding's namespace (always the case
    /// for a ClusterRoleBinding referring to a Role).
    RoleNotFound {
        /// The binding's namespace, `""` for a ClusterRoleBinding.
        namespace: String,
        /// The Role name.
        name: String,
    },
    /// The ClusterRole does not exist.
    ClusterRoleNotFound {
        /// The ClusterRole name.
        name: String,
    },
    /// The `roleRef.kind` is neither `Role` nor `ClusterRole`.
    UnsupportedKind {
        /// The kind written in the binding.
        kind: String,
    },
}

impl fmt::Display for ResolutionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RoleNotFound { name, .. } => write!(f, "role.rbac.authorization.k8s.io {} not found", quote(name)),
            Self::ClusterRoleNotFound { name } => {
                write!(f, "clusterrole.rbac.authorization.k8s.io {} not found", quote(name))
            }
            Self::UnsupportedKind { kind } => write!(f, "unsupported role reference kind: {}", quote(kind)),
        }
    }
}

impl std::error::Error for ResolutionError {}

/// How a request is granted: the binding, its role, the subject that matched
/// and the position of the first rule of the role that allows it.
///
/// ```
/// use k8sops_audit::rbac::{Attributes, BindingKind, RbacSnapshot, UserInfo};
/// # use k8s_openapi::api::rbac::v1::*;
/// # use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
/// # let view = ClusterRole { metadata: ObjectMeta { name: Some("view".into()), ..Default::default() },
/// #     rules: Some(vec![PolicyRule { api_groups: Some(vec!["".into()]), resources: Some(vec!["pods".into()]),
/// #         verbs: vec!["get".into()], ..Default::default() }]), ..Default::default() };
/// # let rb = RoleBinding { metadata: ObjectMeta { name: Some("devs".into()), namespace: Some("dev".into()), ..Default::default() },
/// #     role_ref: RoleRef { kind: "ClusterRole".into(), name: "view".into(), ..Default::default() },
/// #     subjects: Some(vec![Subject { kind: "Group".into(), name: "devs".into(), ..Default::default() }]) };
/// let snapshot = RbacSnapshot::new([], [view], [rb], []);
/// let d = snapshot.authorize(&UserInfo::impersonated("alice", &["devs"]), &Attributes::resource("get", "", "pods", "dev"));
/// let path = d.granted_by.unwrap();
/// assert_eq!(path.binding_kind, BindingKind::RoleBinding);
/// assert_eq!(path.to_string(), "RoleBinding \"devs/dev\" of ClusterRole \"view\" to Group \"devs\"");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GrantPath {
    /// ClusterRoleBinding or RoleBinding.
    pub binding_kind: BindingKind,
    /// The binding name.
    pub binding_name: String,
    /// The RoleBinding's namespace; `None` for a ClusterRoleBinding.
    pub binding_namespace: Option<String>,
    /// Role or ClusterRole.
    pub role_kind: RoleKind,
    /// The role name.
    pub role_name: String,
    /// The subject that matched, a service account's namespace defaulted.
    pub subject: Subject,
    /// The position of that subject in the binding's `subjects`.
    pub subject_index: usize,
    /// The position of the allowing rule in the role's `rules` (the rule
    /// itself: [`RbacSnapshot::granted_rule`]).
    pub rule_index: usize,
}

/// The authorizer's source description (`clusterRoleBindingDescriber` and
/// `roleBindingDescriber`): `ClusterRoleBinding "b" of ClusterRole "r" to
/// User "u"`, `RoleBinding "b/ns" of Role "r" to ServiceAccount "sa/ns"`.
impl fmt::Display for GrantPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let binding = match (&self.binding_kind, &self.binding_namespace) {
            (BindingKind::RoleBinding, Some(ns)) => quote(&format!("{}/{}", self.binding_name, ns)),
            (BindingKind::RoleBinding, None) => quote(&format!("{}/", self.binding_name)),
            (BindingKind::ClusterRoleBinding, _) => quote(&self.binding_name),
        };
        write!(
            f,
            "{} {} of {} {} to {}",
            self.binding_kind.as_str(),
            binding,
            self.role_kind.as_str(),
            quote(&self.role_name),
            self.subject
        )
    }
}

/// The RBAC authorizer's answer.
///
/// ```
/// use k8sops_audit::rbac::{Attributes, RbacSnapshot, UserInfo};
/// let d = RbacSnapshot::default().authorize(&UserInfo::anonymous(), &Attributes::non_resource("get", "/healthz"));
/// assert!(!d.allowed && d.reason.is_empty() && d.granted_by.is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether RBAC allows the request (otherwise it has no opinion, which
    /// the API server turns into a denial).
    pub allowed: bool,
    /// The authorizer's reason: `RBAC: allowed by <source>` when allowed;
    /// when denied, empty or `RBAC: <errors>` listing the roles that could
    /// not be resolved for bindings that apply to the user (one message, or
    /// `[m1, m2]`).
    pub reason: String,
    /// The grant that allowed the request.
    pub granted_by: Option<GrantPath>,
    /// The roles that could not be resolved for bindings that apply to the
    /// user and were visited before the decision.
    pub errors: Vec<ResolutionError>,
}

/// What a binding's `roleRef` resolves to.
#[derive(Clone, Debug)]
enum Target {
    Role(usize),
    ClusterRole(usize),
    Unresolved(ResolutionError),
}

/// Binding positions by the user name and by the group their subjects name.
#[derive(Clone, Debug, Default)]
struct SubjectIndex {
    by_user: HashMap<String, Vec<usize>>,
    by_group: HashMap<String, Vec<usize>>,
}

impl SubjectIndex {
    fn add(&mut self, binding: usize, subjects: &[k8s_openapi::api::rbac::v1::Subject], namespace: &str) {
        for s in subjects {
            let list = if s.kind == "Group" {
                self.by_group.entry(s.name.clone()).or_default()
            } else if let Some(user) = indexed_user_name(s, namespace) {
                self.by_user.entry(user).or_default()
            } else {
                continue;
            };
            if list.last() != Some(&binding) {
                list.push(binding);
            }
        }
    }

    /// The bindings naming the user or one of its groups, in binding order.
    fn candidates(&self, user: &UserInfo) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        if let Some(list) = self.by_user.get(&user.name) {
            out.extend_from_slice(list);
        }
        for group in &user.groups {
            if let Some(list) = self.by_group.get(group) {
                out.extend_from_slice(list);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The RoleBindings of one namespace: their positions and subject index.
#[derive(Clone, Debug, Default)]
struct NamespaceBindings {
    range: Range<usize>,
    subjects: SubjectIndex,
}

/// One rule the resolver visits, or one role it could not resolve.
pub(crate) enum Visit<'a> {
    /// A rule of the role of a binding that applies to the user.
    Rule { source: Source, rule_index: usize, rule: &'a PolicyRule },
    /// A binding that applies to the user whose role cannot be resolved.
    Error(&'a ResolutionError),
}

/// Which binding (and which of its subjects) a visited rule comes from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Source {
    pub(crate) kind: BindingKind,
    pub(crate) binding: usize,
    pub(crate) subject_index: usize,
}

/// Roles, ClusterRoles, RoleBindings and ClusterRoleBindings, indexed for
/// evaluation. Objects are kept sorted by namespace and name (the order of an
/// API list); bindings are visited in that order, so when several bindings
/// allow a request the first in that order is named (the API server visits
/// its informer cache in no defined order).
///
/// ```
/// use k8sops_audit::rbac::{Attributes, RbacSnapshot, UserInfo};
/// # use k8s_openapi::api::rbac::v1::*;
/// # use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
/// let admin = ClusterRole {
///     metadata: ObjectMeta { name: Some("cluster-admin".into()), ..Default::default() },
///     rules: Some(vec![PolicyRule {
///         api_groups: Some(vec!["*".into()]), resources: Some(vec!["*".into()]), verbs: vec!["*".into()],
///         ..Default::default()
///     }]),
///     ..Default::default()
/// };
/// let binding = ClusterRoleBinding {
///     metadata: ObjectMeta { name: Some("root".into()), ..Default::default() },
///     role_ref: RoleRef { kind: "ClusterRole".into(), name: "cluster-admin".into(), ..Default::default() },
///     subjects: Some(vec![Subject { kind: "User".into(), name: "alice".into(), ..Default::default() }]),
/// };
/// let snapshot = RbacSnapshot::new([], [admin], [], [binding]);
/// let d = snapshot.authorize(&UserInfo::impersonated("alice", &[] as &[&str]), &Attributes::resource("delete", "", "nodes", ""));
/// assert!(d.allowed);
/// assert_eq!(d.reason, "RBAC: allowed by ClusterRoleBinding \"root\" of ClusterRole \"cluster-admin\" to User \"alice\"");
/// ```
#[derive(Clone, Debug, Default)]
pub struct RbacSnapshot {
    roles: Vec<Role>,
    cluster_roles: Vec<ClusterRole>,
    role_bindings: Vec<RoleBinding>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
    role_index: HashMap<String, HashMap<String, usize>>,
    cluster_role_index: HashMap<String, usize>,
    crb_targets: Vec<Target>,
    rb_targets: Vec<Target>,
    crb_subjects: SubjectIndex,
    rb_namespaces: HashMap<String, NamespaceBindings>,
}

pub(crate) fn meta_name(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("")
}

pub(crate) fn meta_namespace(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("")
}

fn empty_path(source: Source, rule_index: usize) -> GrantPath {
    GrantPath {
        binding_kind: source.kind,
        binding_name: String::new(),
        binding_namespace: None,
        role_kind: RoleKind::ClusterRole,
        role_name: String::new(),
        subject: Subject::user(""),
        subject_index: source.subject_index,
        rule_index,
    }
}

impl RbacSnapshot {
    /// Index the objects of `kubectl get roles,clusterroles,rolebindings,clusterrolebindings -A`.
    /// When two objects have the same namespace and name the first is used.
    ///
    /// ```
    /// use k8sops_audit::rbac::RbacSnapshot;
    /// let empty = RbacSnapshot::new([], [], [], []);
    /// assert!(empty.cluster_roles().is_empty());
    /// ```
    pub fn new(
        roles: impl IntoIterator<Item = Role>,
        cluster_roles: impl IntoIterator<Item = ClusterRole>,
        role_bindings: impl IntoIterator<Item = RoleBinding>,
        cluster_role_bindings: impl IntoIterator<Item = ClusterRoleBinding>,
    ) -> Self {
        let mut roles: Vec<Role> = roles.into_iter().collect();
        let mut cluster_roles: Vec<ClusterRole> = cluster_roles.into_iter().collect();
        let mut role_bindings: Vec<RoleBinding> = role_bindings.into_iter().collect();
        let mut cluster_role_bindings: Vec<ClusterRoleBinding> = cluster_role_bindings.into_iter().collect();
        roles.sort_by(|a, b| {
            (meta_namespace(&a.metadata), meta_name(&a.metadata))
                .cmp(&(meta_namespace(&b.metadata), meta_name(&b.metadata)))
        });
        cluster_roles.sort_by(|a, b| meta_name(&a.metadata).cmp(meta_name(&b.metadata)));
        role_bindings.sort_by(|a, b| {
            (meta_namespace(&a.metadata), meta_name(&a.metadata))
                .cmp(&(meta_namespace(&b.metadata), meta_name(&b.metadata)))
        });
        cluster_role_bindings.sort_by(|a, b| meta_name(&a.metadata).cmp(meta_name(&b.metadata)));

        let mut role_index: HashMap<String, HashMap<String, usize>> = HashMap::new();
        for (i, r) in roles.iter().enumerate() {
            role_index
                .entry(meta_namespace(&r.metadata).to_owned())
                .or_default()
                .entry(meta_name(&r.metadata).to_owned())
                .or_insert(i);
        }
        let mut cluster_role_index: HashMap<String, usize> = HashMap::new();
        for (i, r) in cluster_roles.iter().enumerate() {
            cluster_role_index.entry(meta_name(&r.metadata).to_owned()).or_insert(i);
        }

        let mut snapshot = Self {
            roles,
            cluster_roles,
            role_index,
            cluster_role_index,
            crb_targets: Vec::new(),
            rb_targets: Vec::new(),
            crb_subjects: SubjectIndex::default(),
            rb_namespaces: HashMap::new(),
            role_bindings: Vec::new(),
            cluster_role_bindings: Vec::new(),
        };

        snapshot.crb_targets = cluster_role_bindings.iter().map(|b| snapshot.resolve(&b.role_ref, "")).collect();
        snapshot.rb_targets =
            role_bindings.iter().map(|b| snapshot.resolve(&b.role_ref, meta_namespace(&b.metadata))).collect();
        for (i, b) in cluster_role_bindings.iter().enumerate() {
            snapshot.crb_subjects.add(i, b.subjects.as_deref().unwrap_or(&[]), "");
        }
        for (i, b) in role_bindings.iter().enumerate() {
            let ns = meta_namespace(&b.metadata);
            let entry = snapshot
                .rb_namespaces
                .entry(ns.to_owned())
                .or_insert_with(|| NamespaceBindings { range: i..i, subjects: SubjectIndex::default() });
            entry.range.end = i + 1;
            entry.subjects.add(i, b.subjects.as_deref().unwrap_or(&[]), ns);
        }
        snapshot.role_bindings = role_bindings;
        snapshot.cluster_role_bindings = cluster_role_bindings;
        snapshot
    }

    /// `GetRoleReferenceRules`: what a `roleRef` in `binding_namespace` (`""`
    /// for a ClusterRoleBinding) resolves to.
    fn resolve(&self, role_ref: &RoleRef, binding_namespace: &str) -> Target {
        match role_ref.kind.as_str() {
            "Role" => self
                .role_index
                .get(binding_namespace)
                .filter(|_| !binding_namespace.is_empty())
                .and_then(|names| names.get(&role_ref.name))
                .map_or_else(
                    || {
                        Target::Unresolved(ResolutionError::RoleNotFound {
                            namespace: binding_namespace.to_owned(),
                            name: role_ref.name.clone(),
                        })
                    },
                    |&i| Target::Role(i),
                ),
            "ClusterRole" => self.cluster_role_index.get(&role_ref.name).map_or_else(
                || Target::Unresolved(ResolutionError::ClusterRoleNotFound { name: role_ref.name.clone() }),
                |&i| Target::ClusterRole(i),
            ),
            other => Target::Unresolved(ResolutionError::UnsupportedKind { kind: other.to_owned() }),
        }
    }

    /// The Roles, sorted by namespace and name.
    ///
    /// ```
    /// use k8sops_audit::rbac::RbacSnapshot;
    /// assert!(RbacSnapshot::default().roles().is_empty());
    /// ```
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// The ClusterRoles, sorted by name.
    ///
    /// ```
    /// use k8sops_audit::rbac::RbacSnapshot;
    /// assert!(RbacSnapshot::default().cluster_roles().is_empty());
    /// ```
    pub fn cluster_roles(&self) -> &[ClusterRole] {
        &self.cluster_roles
    }

    /// The RoleBindings, sorted by namespace and name.
    ///
    /// ```
    /// use k8sops_audit::rbac::RbacSnapshot;
    /// assert!(RbacSnapshot::default().role_bindings().is_empty());
    /// ```
    pub fn role_bindings(&self) -> &[RoleBinding] {
        &self.role_bindings
    }

    /// The ClusterRoleBindings, sorted by name.
    ///
    /// ```
    /// use k8sops_audit::rbac::RbacSnapshot;
    /// assert!(RbacSnapshot::default().cluster_role_bindings().is_empty());
    /// ```
    pub fn cluster_role_bindings(&self) -> &[ClusterRoleBinding] {
        &self.cluster_role_bindings
    }

    /// The Role `name` of `namespace`.
    ///
    /// ```
    /// use k8sops_audit::rbac::RbacSnapshot;
    /// assert!(RbacSnapshot::default().role("dev", "reader").is_none());
    /// ```
    pub fn role(&self, namespace: &str, name: &str) -> Option<&Role> {
        let i = *self.role_index.get(namespace)?.get(name)?;
        self.roles.get(i)
    }

    /// The ClusterRole `name`.
    ///
    /// ```
    /// use k8sops_audit::rbac::RbacSnapshot;
    /// assert!(RbacSnapshot::default().cluster_role("view").is_none());
    /// ```
    pub fn cluster_role(&self, name: &str) -> Option<&ClusterRole> {
        self.cluster_roles.get(*self.cluster_role_index.get(name)?)
    }

    fn target_rules<'a>(&'a self, target: &'a Target) -> Result<&'a [PolicyRule], &'a ResolutionError> {
        match target {
            Target::Role(i) => Ok(self.roles.get(*i).and_then(|r| r.rules.as_deref()).unwrap_or(&[])),
            Target::ClusterRole(i) => Ok(self.cluster_roles.get(*i).and_then(|r| r.rules.as_deref()).unwrap_or(&[])),
            Target::Unresolved(e) => Err(e),
        }
    }

    /// The resolved role of a ClusterRoleBinding (`binding` in `crb` order)
    /// or RoleBinding, for callers iterating over bindings themselves.
    pub(crate) fn binding_rules(&self, kind: BindingKind, binding: usize) -> Result<&[PolicyRule], &ResolutionError> {
        let target = match kind {
            BindingKind::ClusterRoleBinding => self.crb_targets.get(binding),
            BindingKind::RoleBinding => self.rb_targets.get(binding),
        };
        match target {
            Some(t) => self.target_rules(t),
            None => Ok(&[]),
        }
    }

    /// The positions of the RoleBindings of `namespace`.
    pub(crate) fn role_binding_range(&self, namespace: &str) -> Range<usize> {
        self.rb_namespaces.get(namespace).map_or(0..0, |n| n.range.clone())
    }

    /// `VisitRulesFor`: every rule of every binding that applies to `user`
    /// (ClusterRoleBindings, then the RoleBindings of `namespace` when it is
    /// not empty), and every role that cannot be resolved for such a
    /// binding; `visit` returns false to stop.
    pub(crate) fn visit_rules_for(&self, user: &UserInfo, namespace: &str, mut visit: impl FnMut(Visit<'_>) -> bool) {
        for i in self.crb_subjects.candidates(user) {
            let Some(binding) = self.cluster_role_bindings.get(i) else { continue };
            let subjects = binding.subjects.as_deref().unwrap_or(&[]);
            let Some(subject_index) = subjects.iter().position(|s| subject_applies(user, s, "")) else { continue };
            match self.binding_rules(BindingKind::ClusterRoleBinding, i) {
                Err(e) => {
                    if !visit(Visit::Error(e)) {
                        return;
                    }
                }
                Ok(rules) => {
                    let source = Source { kind: BindingKind::ClusterRoleBinding, binding: i, subject_index };
                    for (rule_index, rule) in rules.iter().enumerate() {
                        if !visit(Visit::Rule { source, rule_index, rule }) {
                            return;
                        }
                    }
                }
            }
        }
        if namespace.is_empty() {
            return;
        }
        let Some(ns) = self.rb_namespaces.get(namespace) else { return };
        for i in ns.subjects.candidates(user) {
            let Some(binding) = self.role_bindings.get(i) else { continue };
            let subjects = binding.subjects.as_deref().unwrap_or(&[]);
            let Some(subject_index) = subjects.iter().position(|s| subject_applies(user, s, namespace)) else {
                continue;
            };
            match self.binding_rules(BindingKind::RoleBinding, i) {
                Err(e) => {
                    if !visit(Visit::Error(e)) {
                        return;
                    }
                }
                Ok(rules) => {
                    let source = Source { kind: BindingKind::RoleBinding, binding: i, subject_index };
                    for (rule_index, rule) in rules.iter().enumerate() {
                        if !visit(Visit::Rule { source, rule_index, rule }) {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// The full description of a visited rule's source.
    pub(crate) fn grant_path(&self, source: Source, rule_index: usize) -> GrantPath {
        let (meta, role_ref, subjects) = match source.kind {
            BindingKind::ClusterRoleBinding => match self.cluster_role_bindings.get(source.binding) {
                Some(b) => (&b.metadata, &b.role_ref, b.subjects.as_deref().unwrap_or(&[])),
                None => return empty_path(source, rule_index),
            },
            BindingKind::RoleBinding => match self.role_bindings.get(source.binding) {
                Some(b) => (&b.metadata, &b.role_ref, b.subjects.as_deref().unwrap_or(&[])),
                None => return empty_path(source, rule_index),
            },
        };
        let binding_namespace = match source.kind {
            BindingKind::ClusterRoleBinding => None,
            BindingKind::RoleBinding => Some(meta_namespace(meta).to_owned()),
        };
        let subject = subjects
            .get(source.subject_index)
            .map(|s| Subject::from_binding(s, binding_namespace.as_deref()))
            .unwrap_or_else(|| Subject::user(""));
        GrantPath {
            binding_kind: source.kind,
            binding_name: meta_name(meta).to_owned(),
            binding_namespace,
            role_kind: if role_ref.kind == "Role" { RoleKind::Role } else { RoleKind::ClusterRole },
            role_name: role_ref.name.clone(),
            subject,
            subject_index: source.subject_index,
            rule_index,
        }
    }

    /// The rule a [`GrantPath`] names: rule `rule_index` of its Role (in the
    /// binding's namespace) or ClusterRole.
    ///
    /// ```
    /// use k8sops_audit::rbac::{Attributes, RbacSnapshot, UserInfo};
    /// # use k8s_openapi::api::rbac::v1::*;
    /// # use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    /// # let view = ClusterRole { metadata: ObjectMeta { name: Some("view".into()), ..Default::default() },
    /// #     rules: Some(vec![PolicyRule { api_groups: Some(vec!["".into()]), resources: Some(vec!["pods".into()]),
    /// #         verbs: vec!["get".into()], ..Default::default() }]), ..Default::default() };
    /// # let crb = ClusterRoleBinding { metadata: ObjectMeta { name: Some("all".into()), ..Default::default() },
    /// #     role_ref: RoleRef { kind: "ClusterRole".into(), name: "view".into(), ..Default::default() },
    /// #     subjects: Some(vec![Subject { kind: "Group".into(), name: "system:authenticated".into(), ..Default::default() }]) };
    /// let snapshot = RbacSnapshot::new([], [view], [], [crb]);
    /// let alice = UserInfo::impersonated("alice", &[] as &[&str]);
    /// let path = snapshot.authorize(&alice, &Attributes::resource("get", "", "pods", "")).granted_by.unwrap();
    /// assert_eq!(snapshot.granted_rule(&path).unwrap().verbs, ["get"]);
    /// ```
    pub fn granted_rule(&self, path: &GrantPath) -> Option<&PolicyRule> {
        let rules = match path.role_kind {
            RoleKind::Role => self.role(path.binding_namespace.as_deref()?, &path.role_name)?.rules.as_deref(),
            RoleKind::ClusterRole => self.cluster_role(&path.role_name)?.rules.as_deref(),
        };
        rules?.get(path.rule_index)
    }

    /// `RBACAuthorizer.Authorize`: whether RBAC allows `user` the request,
    /// with the authorizer's reason. The rules of a role are its stored
    /// `rules` (for an aggregated ClusterRole, what the aggregation
    /// controller last wrote).
    ///
    /// ```
    /// use k8sops_audit::rbac::{Attributes, RbacSnapshot, UserInfo};
    /// # use k8s_openapi::api::rbac::v1::*;
    /// # use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    /// // A binding to a role that does not exist grants nothing; the denial says why.
    /// let binding = RoleBinding {
    ///     metadata: ObjectMeta { name: Some("b".into()), namespace: Some("dev".into()), ..Default::default() },
    ///     role_ref: RoleRef { kind: "Role".into(), name: "gone".into(), ..Default::default() },
    ///     subjects: Some(vec![Subject { kind: "User".into(), name: "alice".into(), ..Default::default() }]),
    /// };
    /// let snapshot = RbacSnapshot::new([], [], [binding], []);
    /// let d = snapshot.authorize(&UserInfo::impersonated("alice", &[] as &[&str]), &Attributes::resource("get", "", "pods", "dev"));
    /// assert!(!d.allowed);
    /// assert_eq!(d.reason, "RBAC: role.rbac.authorization.k8s.io \"gone\" not found");
    /// ```
    pub fn authorize(&self, user: &UserInfo, attributes: &Attributes) -> Decision {
        let mut errors: Vec<ResolutionError> = Vec::new();
        let mut granted: Option<GrantPath> = None;
        self.visit_rules_for(user, &attributes.namespace, |visit| match visit {
            Visit::Rule { source, rule_index, rule } => {
                if rule_allows(attributes, rule) {
                    granted = Some(self.grant_path(source, rule_index));
                    false
                } else {
                    true
                }
            }
            Visit::Error(e) => {
                errors.push(e.clone());
                true
            }
        });
        match granted {
            Some(path) => {
                Decision { allowed: true, reason: format!("RBAC: allowed by {path}"), granted_by: Some(path), errors }
            }
            None => {
                let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
                let reason = aggregate(&messages).map(|m| format!("RBAC: {m}")).unwrap_or_default();
                Decision { allowed: false, reason, granted_by: None, errors }
            }
        }
    }

    /// What the API server answers with `--authorization-mode=Node,RBAC` for
    /// a user that is not a node: members of `system:masters` are allowed
    /// everything with an empty reason before any authorizer runs, everyone
    /// else gets [`RbacSnapshot::authorize`]. (The Node authorizer's answers
    /// for `system:node:<name>` users depend on the pods and volumes of the
    /// node and are not modelled.)
    ///
    /// ```
    /// use k8sops_audit::rbac::{Attributes, RbacSnapshot, UserInfo};
    /// let root = UserInfo::impersonated("root", &["system:masters"]);
    /// let d = RbacSnapshot::default().authorize_as_apiserver(&root, &Attributes::resource("delete", "", "nodes", ""));
    /// assert!(d.allowed && d.reason.is_empty());
    /// ```
    pub fn authorize_as_apiserver(&self, user: &UserInfo, attributes: &Attributes) -> Decision {
        if user.is_privileged() {
            return Decision { allowed: true, reason: String::new(), granted_by: None, errors: Vec::new() };
        }
        self.authorize(user, attributes)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::Subject as RbacSubject;

    pub(crate) fn meta(ns: Option<&str>, name: &str) -> ObjectMeta {
        ObjectMeta { name: Some(name.to_owned()), namespace: ns.map(str::to_owned), ..Default::default() }
    }

    pub(crate) fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    pub(crate) fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
        PolicyRule {
            api_groups: Some(strings(groups)),
            resources: Some(strings(resources)),
            verbs: strings(verbs),
            ..Default::default()
        }
    }

    pub(crate) fn url_rule(urls: &[&str], verbs: &[&str]) -> PolicyRule {
        PolicyRule { non_resource_urls: Some(strings(urls)), verbs: strings(verbs), ..Default::default() }
    }

    pub(crate) fn role(ns: &str, name: &str, rules: Vec<PolicyRule>) -> Role {
        Role { metadata: meta(Some(ns), name), rules: Some(rules) }
    }

    pub(crate) fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
        ClusterRole { metadata: meta(None, name), rules: Some(rules), aggregation_rule: None }
    }

    pub(crate) fn subject(kind: &str, name: &str, ns: Option<&str>) -> RbacSubject {
        RbacSubject { kind: kind.into(), name: name.into(), namespace: ns.map(str::to_owned), api_group: None }
    }

    pub(crate) fn role_ref(kind: &str, name: &str) -> RoleRef {
        RoleRef { kind: kind.into(), name: name.into(), ..Default::default() }
    }

    pub(crate) fn rb(ns: &str, name: &str, kind: &str, role: &str, subjects: Vec<RbacSubject>) -> RoleBinding {
        RoleBinding { metadata: meta(Some(ns), name), role_ref: role_ref(kind, role), subjects: Some(subjects) }
    }

    pub(crate) fn crb(name: &str, role: &str, subjects: Vec<RbacSubject>) -> ClusterRoleBinding {
        ClusterRoleBinding {
            metadata: meta(None, name),
            role_ref: role_ref("ClusterRole", role),
            subjects: Some(subjects),
        }
    }

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo::impersonated(name, groups)
    }

    fn pods(verb: &str, ns: &str) -> Attributes {
        Attributes::resource(verb, "", "pods", ns)
    }

    /// A tiny deterministic generator (no external crates).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, n: usize) -> usize {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((self.0 >> 33) as usize) % n.max(1)
        }

        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[self.next(xs.len())]
        }
    }

    /// The resolver without indexes: every binding, in order.
    fn naive(s: &RbacSnapshot, user: &UserInfo, attrs: &Attributes) -> (Option<String>, Vec<ResolutionError>) {
        let mut errors = Vec::new();
        for (i, b) in s.cluster_role_bindings().iter().enumerate() {
            let subjects = b.subjects.as_deref().unwrap_or(&[]);
            let Some(si) = subjects.iter().position(|x| subject_applies(user, x, "")) else { continue };
            match s.binding_rules(BindingKind::ClusterRoleBinding, i) {
                Err(e) => errors.push(e.clone()),
                Ok(rules) => {
                    if let Some(ri) = rules.iter().position(|r| rule_allows(attrs, r)) {
                        let source = Source { kind: BindingKind::ClusterRoleBinding, binding: i, subject_index: si };
                        return (Some(s.grant_path(source, ri).to_string()), errors);
                    }
                }
            }
        }
        if !attrs.namespace.is_empty() {
            for (i, b) in s.role_bindings().iter().enumerate() {
                if meta_namespace(&b.metadata) != attrs.namespace {
                    continue;
                }
                let subjects = b.subjects.as_deref().unwrap_or(&[]);
                let Some(si) = subjects.iter().position(|x| subject_applies(user, x, &attrs.namespace)) else {
                    continue;
                };
                match s.binding_rules(BindingKind::RoleBinding, i) {
                    Err(e) => errors.push(e.clone()),
                    Ok(rules) => {
                        if let Some(ri) = rules.iter().position(|r| rule_allows(attrs, r)) {
                            let source = Source { kind: BindingKind::RoleBinding, binding: i, subject_index: si };
                            return (Some(s.grant_path(source, ri).to_string()), errors);
                        }
                    }
                }
            }
        }
        (None, errors)
    }

    #[test]
    fn indexed_evaluation_equals_a_full_scan() {
        let mut g = Lcg(42);
        let namespaces = ["a", "b", "c"];
        let names = ["alice", "bob", "carol", "system:serviceaccount:a:bot", "system:serviceaccount:b:bot"];
        let groups = ["dev", "ops", "system:authenticated", "system:serviceaccounts", "system:serviceaccounts:a"];
        let resources = ["pods", "secrets", "deployments", "pods/log", "*/scale", "nodes", "configmaps", "services"];
        let verbs = ["get", "list", "delete", "watch", "create", "patch"];
        let random_rule = |g: &mut Lcg| {
            let wild = g.next(15) == 0;
            let mut r = rule(
                &[g.pick(&["", "apps", "*"])],
                &[if wild { "*" } else { g.pick(&resources) }, g.pick(&resources)],
                &[if g.next(15) == 0 { "*" } else { g.pick(&verbs) }],
            );
            if g.next(4) == 0 {
                r.resource_names = Some(strings(&["x"]));
            }
            r
        };
        let random_subjects = |g: &mut Lcg| {
            (0..1 + g.next(3))
                .map(|_| match g.next(4) {
                    0 => subject("User", g.pick(&names), None),
                    1 => subject("Group", g.pick(&groups), None),
                    2 => {
                        subject("ServiceAccount", "bot", if g.next(2) == 0 { None } else { Some(g.pick(&namespaces)) })
                    }
                    _ => subject("Robot", "bot", None),
                })
                .collect::<Vec<_>>()
        };
        let roles: Vec<Role> = (0..30)
            .map(|i| {
                role(
                    g.pick(&namespaces),
                    &format!("r{}", i % 10),
                    (0..1 + g.next(3)).map(|_| random_rule(&mut g)).collect(),
                )
            })
            .collect();
        let cluster_roles: Vec<ClusterRole> = (0..10)
            .map(|i| cluster_role(&format!("c{i}"), (0..1 + g.next(3)).map(|_| random_rule(&mut g)).collect()))
            .collect();
        let role_bindings: Vec<RoleBinding> = (0..60)
            .map(|i| {
                let kind = if g.next(2) == 0 { "Role" } else { "ClusterRole" };
                let target = if kind == "Role" { format!("r{}", g.next(12)) } else { format!("c{}", g.next(12)) };
                rb(g.pick(&namespaces), &format!("b{i}"), kind, &target, random_subjects(&mut g))
            })
            .collect();
        let cluster_role_bindings: Vec<ClusterRoleBinding> =
            (0..20).map(|i| crb(&format!("cb{i}"), &format!("c{}", g.next(12)), random_subjects(&mut g))).collect();
        let s = RbacSnapshot::new(roles, cluster_roles, role_bindings, cluster_role_bindings);
        let mut allowed = 0;
        for _ in 0..3000 {
            let name = g.pick(&names);
            let user = if g.next(3) == 0 {
                UserInfo::impersonated(name, &[g.pick(&groups)])
            } else {
                UserInfo::impersonated(name, &[] as &[&str])
            };
            let ns = if g.next(5) == 0 { "" } else { g.pick(&namespaces) };
            let mut attrs = Attributes::resource(
                g.pick(&verbs),
                g.pick(&["", "apps"]),
                g.pick(&["pods", "secrets", "deployments"]),
                ns,
            );
            if g.next(3) == 0 {
                attrs = attrs.subresource(g.pick(&["log", "scale"]));
            }
            if g.next(2) == 0 {
                attrs = attrs.name("x");
            }
            let d = s.authorize(&user, &attrs);
            let (path, errors) = naive(&s, &user, &attrs);
            assert_eq!(d.granted_by.as_ref().map(ToString::to_string), path, "{user:?} {attrs:?}");
            assert_eq!(d.errors, errors, "{user:?} {attrs:?}");
            assert_eq!(d.allowed, path.is_some());
            allowed += usize::from(d.allowed);
            // who_can lists a grant for every subject the user matches in an allowing binding.
            if let Some(p) = &d.granted_by {
                assert!(s.who_can(&attrs).iter().any(|w| w == p), "{p}");
            }
        }
        assert!(allowed > 100 && allowed < 2900, "{allowed}");
    }

    #[test]
    fn role_binding_to_cluster_role_applies_in_its_namespace_only() {
        let s = RbacSnapshot::new(
            [],
            [cluster_role("pod-reader", vec![rule(&[""], &["pods"], &["get", "list"])])],
            [rb("dev", "read", "ClusterRole", "pod-reader", vec![subject("User", "alice", None)])],
            [],
        );
        let alice = user("alice", &[]);
        let d = s.authorize(&alice, &pods("list", "dev"));
        assert!(d.allowed);
        assert_eq!(
            d.reason,
            "RBAC: allowed by RoleBinding \"read/dev\" of ClusterRole \"pod-reader\" to User \"alice\""
        );
        assert!(!s.authorize(&alice, &pods("list", "prod")).allowed);
        // Cluster-wide (all namespaces) is not granted by a RoleBinding.
        assert!(!s.authorize(&alice, &pods("list", "")).allowed);
    }

    #[test]
    fn role_bindings_use_the_role_of_their_namespace() {
        let s = RbacSnapshot::new(
            [
                role("dev", "r", vec![rule(&[""], &["pods"], &["get"])]),
                role("prod", "r", vec![rule(&[""], &["secrets"], &["get"])]),
            ],
            [],
            [rb("dev", "b", "Role", "r", vec![subject("Group", "devs", None)])],
            [],
        );
        let u = user("bob", &["devs"]);
        assert!(s.authorize(&u, &pods("get", "dev")).allowed);
        assert!(!s.authorize(&u, &Attributes::resource("get", "", "secrets", "dev")).allowed);
        assert_eq!(
            s.authorize(&u, &pods("get", "dev")).reason,
            "RBAC: allowed by RoleBinding \"b/dev\" of Role \"r\" to Group \"devs\""
        );
    }

    #[test]
    fn service_account_subjects_and_namespace_groups() {
        let s = RbacSnapshot::new(
            [],
            [
                cluster_role("edit", vec![rule(&["apps"], &["deployments"], &["*"])]),
                cluster_role("view", vec![rule(&[""], &["pods"], &["get"])]),
            ],
            [
                rb("ci", "deployer", "ClusterRole", "edit", vec![subject("ServiceAccount", "bot", None)]),
                rb("ci", "all-sa", "ClusterRole", "view", vec![subject("Group", "system:serviceaccounts:ci", None)]),
            ],
            [],
        );
        let bot = user("system:serviceaccount:ci:bot", &[]);
        let d = s.authorize(&bot, &Attributes::resource("patch", "apps", "deployments", "ci"));
        assert_eq!(
            d.reason,
            "RBAC: allowed by RoleBinding \"deployer/ci\" of ClusterRole \"edit\" to ServiceAccount \"bot/ci\""
        );
        let path = d.granted_by.unwrap();
        assert_eq!(path.subject, Subject::service_account("ci", "bot"));
        let other = user("system:serviceaccount:ci:other", &[]);
        assert!(!s.authorize(&other, &Attributes::resource("patch", "apps", "deployments", "ci")).allowed);
        let d = s.authorize(&other, &pods("get", "ci"));
        assert_eq!(
            d.reason,
            "RBAC: allowed by RoleBinding \"all-sa/ci\" of ClusterRole \"view\" to Group \"system:serviceaccounts:ci\""
        );
        // With --as-group the service account groups are not added.
        let other_grouped = user("system:serviceaccount:ci:other", &["x"]);
        assert!(!s.authorize(&other_grouped, &pods("get", "ci")).allowed);
    }

    #[test]
    fn cluster_role_binding_service_account_needs_a_namespace() {
        let s = RbacSnapshot::new(
            [],
            [cluster_role("view", vec![rule(&[""], &["pods"], &["get"])])],
            [],
            [
                crb("no-ns", "view", vec![subject("ServiceAccount", "bot", None)]),
                crb("with-ns", "view", vec![subject("ServiceAccount", "bot", Some("ci"))]),
            ],
        );
        let bot = UserInfo::service_account("ci", "bot");
        let d = s.authorize(&bot, &pods("get", "any"));
        assert_eq!(d.granted_by.unwrap().binding_name, "with-ns");
        let elsewhere = UserInfo::service_account("dev", "bot");
        assert!(!s.authorize(&elsewhere, &pods("get", "dev")).allowed);
    }

    #[test]
    fn binding_to_a_missing_role_grants_nothing_and_is_reported() {
        let s = RbacSnapshot::new(
            [],
            [cluster_role("view", vec![rule(&[""], &["pods"], &["get"])])],
            [rb("dev", "b1", "Role", "gone", vec![subject("User", "alice", None)])],
            [
                crb("a-missing", "missing", vec![subject("User", "alice", None)]),
                crb("b-other", "missing2", vec![subject("User", "bob", None)]),
                crb("c-view", "view", vec![subject("User", "alice", None)]),
            ],
        );
        let alice = user("alice", &[]);
        let d = s.authorize(&alice, &pods("get", "dev"));
        assert!(d.allowed, "a later binding still grants");
        assert_eq!(d.granted_by.as_ref().unwrap().binding_name, "c-view");
        let d = s.authorize(&alice, &Attributes::resource("delete", "", "pods", "dev"));
        assert!(!d.allowed);
        assert_eq!(
            d.reason,
            "RBAC: [clusterrole.rbac.authorization.k8s.io \"missing\" not found, role.rbac.authorization.k8s.io \"gone\" not found]"
        );
        assert_eq!(d.errors.len(), 2);
        // Bindings that do not apply to the user are not resolved at all.
        let d = s.authorize(&user("carol", &[]), &pods("get", "dev"));
        assert_eq!((d.allowed, d.reason.as_str()), (false, ""));
    }

    #[test]
    fn cluster_role_binding_to_a_role_is_never_found() {
        let mut b = crb("odd", "r", vec![subject("User", "alice", None)]);
        b.role_ref.kind = "Role".into();
        let mut weird = crb("weird", "r", vec![subject("User", "alice", None)]);
        weird.role_ref.kind = "Policy".into();
        let s = RbacSnapshot::new([role("", "r", vec![rule(&["*"], &["*"], &["*"])])], [], [], [b, weird]);
        let d = s.authorize(&user("alice", &[]), &pods("get", "dev"));
        assert!(!d.allowed);
        assert_eq!(
            d.reason,
            "RBAC: [role.rbac.authorization.k8s.io \"r\" not found, unsupported role reference kind: \"Policy\"]"
        );
    }

    #[test]
    fn non_resource_urls_come_from_cluster_role_bindings_only() {
        let s = RbacSnapshot::new(
            [],
            [cluster_role("health", vec![url_rule(&["/healthz", "/livez/*"], &["get"])])],
            [rb("dev", "h", "ClusterRole", "health", vec![subject("User", "alice", None)])],
            [crb("h", "health", vec![subject("Group", "system:authenticated", None)])],
        );
        let d = s.authorize(&user("bob", &[]), &Attributes::non_resource("get", "/livez/ping"));
        assert!(d.allowed);
        assert_eq!(
            d.reason,
            "RBAC: allowed by ClusterRoleBinding \"h\" of ClusterRole \"health\" to Group \"system:authenticated\""
        );
        assert!(!s.authorize(&UserInfo::anonymous(), &Attributes::non_resource("get", "/healthz")).allowed);
    }

    #[test]
    fn first_applying_subject_and_first_allowing_rule_are_reported() {
        let s = RbacSnapshot::new(
            [],
            [cluster_role(
                "r",
                vec![
                    rule(&[""], &["secrets"], &["get"]),
                    rule(&[""], &["pods"], &["get"]),
                    rule(&["*"], &["*"], &["*"]),
                ],
            )],
            [],
            [
                crb("z", "r", vec![subject("User", "alice", None)]),
                crb(
                    "a",
                    "r",
                    vec![subject("User", "bob", None), subject("Group", "g", None), subject("User", "alice", None)],
                ),
            ],
        );
        let d = s.authorize(&user("alice", &["g"]), &pods("get", "x"));
        let path = d.granted_by.unwrap();
        assert_eq!((path.binding_name.as_str(), path.subject_index, path.rule_index), ("a", 1, 1));
        assert_eq!(path.subject, Subject::group("g"));
    }

    #[test]
    fn privileged_group_short_circuits_only_as_apiserver() {
        let s = RbacSnapshot::default();
        let root = user("root", &["system:masters"]);
        assert!(!s.authorize(&root, &pods("get", "x")).allowed);
        assert!(s.authorize_as_apiserver(&root, &pods("get", "x")).allowed);
        assert!(!s.authorize_as_apiserver(&user("alice", &[]), &pods("get", "x")).allowed);
    }

    #[test]
    fn lookups_and_sorting() {
        let s = RbacSnapshot::new(
            [role("b", "r", vec![]), role("a", "r", vec![])],
            [cluster_role("z", vec![]), cluster_role("a", vec![])],
            [],
            [],
        );
        assert_eq!(meta_namespace(&s.roles()[0].metadata), "a");
        assert_eq!(meta_name(&s.cluster_roles()[0].metadata), "a");
        assert!(s.role("b", "r").is_some() && s.role("c", "r").is_none());
        assert!(s.cluster_role("z").is_some());
    }

    #[test]
    fn objects_without_names_or_subjects_do_not_panic() {
        let s = RbacSnapshot::new(
            [Role::default()],
            [ClusterRole::default()],
            [RoleBinding::default()],
            [ClusterRoleBinding { subjects: None, ..Default::default() }],
        );
        let d = s.authorize(&UserInfo::default(), &Attributes::default());
        assert!(!d.allowed);
    }
}
