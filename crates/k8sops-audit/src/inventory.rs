//! The RBAC inventory: what `kubectl get roles,rolebindings,clusterroles,clusterrolebindings -A`
//! and `kubectl get serviceaccounts -A` show, fetched once (paginated) into
//! an [`RbacSnapshot`] the evaluator answers from, with the subjects the
//! bindings name and what is wrong with them: bindings to roles or service
//! accounts that do not exist, aggregated ClusterRoles whose rules lag behind
//! their selectors. A list the caller may not read (403) leaves a partial
//! inventory that says what is missing, not an error.

use std::{collections::BTreeSet, fmt};

use k8s_openapi::api::{
    core::v1::{Namespace, ServiceAccount},
    rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding},
};
use k8sops_core::{paging, Cluster, Table};
use kube::{api::ListParams, Api};
use serde::Serialize;

use crate::{
    rbac::{AggregationStatus, RbacSnapshot, ResolutionError, Subject, SubjectKind},
    Result,
};

/// A list the caller was not allowed to read; the report is partial.
///
/// ```
/// let u = k8sops_audit::inventory::Unreadable { resource: "secrets".into(), reason: "forbidden".into() };
/// assert_eq!(u.to_string(), "secrets: forbidden");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    /// The resource (`clusterroles.rbac.authorization.k8s.io`, `pods`).
    pub resource: String,
    /// The server's answer.
    pub reason: String,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.resource, self.reason)
    }
}

/// Lists `api`, or records it as unreadable when the server answers 403.
/// A 401 (credentials rejected) is an error: an empty inventory would read
/// as "nobody may do anything".
pub(crate) async fn list_or_note<K>(
    cluster: &Cluster,
    api: &Api<K>,
    resource: &str,
    unreadable: &mut Vec<Unreadable>,
) -> Result<Vec<K>>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug + kube::Resource + Send + 'static,
{
    let mut out = Vec::new();
    for_each_or_note(cluster, api, resource, unreadable, |item| {
        out.push(item);
        Ok(())
    })
    .await?;
    Ok(out)
}

/// Pages through `api` calling `f` on each object, or records the list as
/// unreadable when the server answers 403 (nothing is seen then). Keeps
/// memory bounded by a page whatever the cluster's size.
pub(crate) async fn for_each_or_note<K>(
    cluster: &Cluster,
    api: &Api<K>,
    resource: &str,
    unreadable: &mut Vec<Unreadable>,
    f: impl FnMut(K) -> Result<()>,
) -> Result<()>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug + kube::Resource + Send + 'static,
{
    match paging::for_each(cluster, api, ListParams::default(), f).await {
        Ok(()) => Ok(()),
        Err(crate::Error::Core(e @ k8sops_core::Error::Forbidden { .. })) => {
            if !unreadable.iter().any(|u| u.resource == resource) {
                unreadable.push(Unreadable { resource: resource.into(), reason: e.to_string() });
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The RBAC objects of a cluster, and its service accounts and namespaces.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let inventory = k8sops_audit::inventory::fetch_rbac(&server.cluster()).await?;
/// assert!(inventory.snapshot.cluster_role("cluster-admin").is_some());
/// assert!(inventory.unreadable.is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct RbacInventory {
    /// Roles, ClusterRoles and bindings, indexed for evaluation.
    pub snapshot: RbacSnapshot,
    /// Service accounts, as `(namespace, name)`.
    pub service_accounts: BTreeSet<(String, String)>,
    /// Namespaces.
    pub namespaces: BTreeSet<String>,
    /// What could not be read (the inventory lacks it).
    pub unreadable: Vec<Unreadable>,
}

/// Fetches the RBAC objects, service accounts and namespaces of the
/// cluster, each list paginated. A list the caller may not read is noted in
/// [`RbacInventory::unreadable`]; any other failure is an error.
///
/// # RBAC
/// list on roles, clusterroles, rolebindings, clusterrolebindings
/// (`rbac.authorization.k8s.io`), serviceaccounts and namespaces.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let inventory = k8sops_audit::inventory::fetch_rbac(&server.cluster()).await?;
/// println!("{} cluster roles", inventory.snapshot.cluster_roles().len());
/// # Ok(()) }
/// ```
pub async fn fetch_rbac(cluster: &Cluster) -> Result<RbacInventory> {
    let mut unreadable = Vec::new();
    let roles: Vec<Role> =
        list_or_note(cluster, &cluster.api_all(), "roles.rbac.authorization.k8s.io", &mut unreadable).await?;
    let cluster_roles: Vec<ClusterRole> =
        list_or_note(cluster, &cluster.api_all(), "clusterroles.rbac.authorization.k8s.io", &mut unreadable).await?;
    let role_bindings: Vec<RoleBinding> =
        list_or_note(cluster, &cluster.api_all(), "rolebindings.rbac.authorization.k8s.io", &mut unreadable).await?;
    let cluster_role_bindings: Vec<ClusterRoleBinding> =
        list_or_note(cluster, &cluster.api_all(), "clusterrolebindings.rbac.authorization.k8s.io", &mut unreadable)
            .await?;
    let sas: Vec<ServiceAccount> =
        list_or_note(cluster, &cluster.api_all(), "serviceaccounts", &mut unreadable).await?;
    let nss: Vec<Namespace> = list_or_note(cluster, &cluster.api_all(), "namespaces", &mut unreadable).await?;
    Ok(RbacInventory {
        snapshot: RbacSnapshot::new(roles, cluster_roles, role_bindings, cluster_role_bindings),
        service_accounts: sas
            .into_iter()
            .map(|s| (s.metadata.namespace.unwrap_or_default(), s.metadata.name.unwrap_or_default()))
            .collect(),
        namespaces: nss.into_iter().filter_map(|n| n.metadata.name).collect(),
        unreadable,
    })
}

/// A binding as reports name it: `ClusterRoleBinding/name` or
/// `RoleBinding/namespace/name`.
///
/// ```
/// use k8sops_audit::inventory::BindingRef;
/// let b = BindingRef { namespace: Some("dev".into()), name: "readers".into() };
/// assert_eq!(b.to_string(), "RoleBinding/dev/readers");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct BindingRef {
    /// The RoleBinding's namespace; `None` for a ClusterRoleBinding.
    pub namespace: Option<String>,
    /// The binding's name.
    pub name: String,
}

impl fmt::Display for BindingRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "RoleBinding/{ns}/{}", self.name),
            None => write!(f, "ClusterRoleBinding/{}", self.name),
        }
    }
}

/// Something wrong in the RBAC objects themselves.
///
/// ```
/// use k8sops_audit::inventory::{BindingRef, InventoryIssue};
/// let issue = InventoryIssue::MissingRole {
///     binding: BindingRef { namespace: None, name: "ops".into() },
///     role: "ClusterRole/ops-admin".into(),
/// };
/// assert_eq!(issue.to_string(), "ClusterRoleBinding/ops refers to ClusterRole/ops-admin, which does not exist: it grants nothing");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[non_exhaustive]
pub enum InventoryIssue {
    /// A binding whose role does not exist (it grants nothing until one is
    /// created with that name — which then takes effect at once).
    MissingRole {
        /// The binding.
        binding: BindingRef,
        /// `Role/ns/name` or `ClusterRole/name`.
        role: String,
    },
    /// A binding names a service account that does not exist (one created
    /// later with that name inherits the grant).
    MissingServiceAccount {
        /// The binding.
        binding: BindingRef,
        /// `namespace/name`.
        service_account: String,
    },
    /// An aggregated ClusterRole whose rules differ from what its selectors
    /// aggregate (the aggregation controller has not caught up, or someone
    /// edited the rules by hand).
    StaleAggregation {
        /// The ClusterRole.
        cluster_role: String,
        /// What differs.
        detail: String,
    },
}

impl fmt::Display for InventoryIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InventoryIssue::MissingRole { binding, role } => {
                write!(f, "{binding} refers to {role}, which does not exist: it grants nothing")
            }
            InventoryIssue::MissingServiceAccount { binding, service_account } => write!(
                f,
                "{binding} names ServiceAccount {service_account}, which does not exist: one created with that name gets the grant"
            ),
            InventoryIssue::StaleAggregation { cluster_role, detail } => {
                write!(f, "aggregated ClusterRole/{cluster_role} is out of date: {detail}")
            }
        }
    }
}

/// One subject and the bindings that name it.
///
/// ```
/// use k8sops_audit::{inventory::{BindingRef, SubjectLine}, rbac::Subject};
/// let line = SubjectLine { subject: Subject::user("alice"), bindings: vec![BindingRef { namespace: None, name: "admins".into() }] };
/// assert_eq!(line.bindings.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectLine {
    /// The subject.
    #[serde(serialize_with = "serialize_subject")]
    pub subject: Subject,
    /// The bindings naming it.
    pub bindings: Vec<BindingRef>,
}

pub(crate) fn serialize_subject<S: serde::Serializer>(s: &Subject, ser: S) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut st = ser.serialize_struct("Subject", 3)?;
    st.serialize_field("kind", s.kind.as_str())?;
    st.serialize_field("name", &s.name)?;
    st.serialize_field("namespace", &s.namespace)?;
    st.end()
}

/// The inventory report: counts, subjects with their bindings, issues, and
/// what could not be read.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let inventory = k8sops_audit::inventory::fetch_rbac(&server.cluster()).await?;
/// let report = k8sops_audit::inventory::InventoryReport::of(&inventory);
/// print!("{report}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventoryReport {
    /// Roles.
    pub roles: usize,
    /// ClusterRoles.
    pub cluster_roles: usize,
    /// RoleBindings.
    pub role_bindings: usize,
    /// ClusterRoleBindings.
    pub cluster_role_bindings: usize,
    /// Every subject named by a binding.
    pub subjects: Vec<SubjectLine>,
    /// What is wrong.
    pub issues: Vec<InventoryIssue>,
    /// Lists that could not be read: the report is partial.
    pub unreadable: Vec<Unreadable>,
}

impl InventoryReport {
    /// Builds the report from a fetched inventory.
    ///
    /// ```
    /// let report = k8sops_audit::inventory::InventoryReport::of(&Default::default());
    /// assert!(report.subjects.is_empty() && report.issues.is_empty());
    /// ```
    pub fn of(inv: &RbacInventory) -> Self {
        let snap = &inv.snapshot;
        let mut subjects: std::collections::BTreeMap<Subject, Vec<BindingRef>> = Default::default();
        let mut issues = Vec::new();
        let sa_lists_read = !inv.unreadable.iter().any(|u| u.resource == "serviceaccounts");
        let mut check_subjects = |binding: BindingRef, subs: &[k8s_openapi::api::rbac::v1::Subject]| {
            for s in subs {
                let subject = Subject::from_binding(s, binding.namespace.as_deref());
                if subject.kind == SubjectKind::ServiceAccount && sa_lists_read {
                    if let Some(ns) = &subject.namespace {
                        if !inv.service_accounts.contains(&(ns.clone(), subject.name.clone())) {
                            issues.push(InventoryIssue::MissingServiceAccount {
                                binding: binding.clone(),
                                service_account: format!("{ns}/{}", subject.name),
                            });
                        }
                    }
                }
                subjects.entry(subject).or_default().push(binding.clone());
            }
        };
        for b in snap.cluster_role_bindings() {
            let binding = BindingRef { namespace: None, name: b.metadata.name.clone().unwrap_or_default() };
            check_subjects(binding, b.subjects.as_deref().unwrap_or(&[]));
        }
        for b in snap.role_bindings() {
            let binding = BindingRef {
                namespace: b.metadata.namespace.clone(),
                name: b.metadata.name.clone().unwrap_or_default(),
            };
            check_subjects(binding, b.subjects.as_deref().unwrap_or(&[]));
        }
        let roles_read = inv.unreadable.is_empty()
            || !inv
                .unreadable
                .iter()
                .any(|u| u.resource.starts_with("roles.") || u.resource.starts_with("clusterroles."));
        if roles_read {
            for b in snap.cluster_role_bindings() {
                if let Some(role) = missing_role(snap, "", &b.role_ref.kind, &b.role_ref.name) {
                    let binding = BindingRef { namespace: None, name: b.metadata.name.clone().unwrap_or_default() };
                    issues.push(InventoryIssue::MissingRole { binding, role });
                }
            }
            for b in snap.role_bindings() {
                let ns = b.metadata.namespace.clone().unwrap_or_default();
                if let Some(role) = missing_role(snap, &ns, &b.role_ref.kind, &b.role_ref.name) {
                    let binding = BindingRef { namespace: Some(ns), name: b.metadata.name.clone().unwrap_or_default() };
                    issues.push(InventoryIssue::MissingRole { binding, role });
                }
            }
            for (cluster_role, status) in snap.aggregation_report() {
                let detail = match status {
                    AggregationStatus::Stale { expected } => format!(
                        "its rules differ from the {} rule(s) its clusterRoleSelectors aggregate",
                        expected.len()
                    ),
                    AggregationStatus::Invalid(e) => format!("the controller cannot aggregate it: {e}"),
                    _ => continue,
                };
                issues.push(InventoryIssue::StaleAggregation { cluster_role, detail });
            }
        }
        InventoryReport {
            roles: snap.roles().len(),
            cluster_roles: snap.cluster_roles().len(),
            role_bindings: snap.role_bindings().len(),
            cluster_role_bindings: snap.cluster_role_bindings().len(),
            subjects: subjects.into_iter().map(|(subject, bindings)| SubjectLine { subject, bindings }).collect(),
            issues,
            unreadable: inv.unreadable.clone(),
        }
    }
}

fn missing_role(snap: &RbacSnapshot, namespace: &str, kind: &str, name: &str) -> Option<String> {
    match kind {
        "ClusterRole" => snap.cluster_role(name).is_none().then(|| format!("ClusterRole/{name}")),
        "Role" if namespace.is_empty() => Some(format!("Role/{name} (a ClusterRoleBinding cannot refer to a Role)")),
        "Role" => snap.role(namespace, name).is_none().then(|| format!("Role/{namespace}/{name}")),
        other => {
            Some(format!("{} (unsupported roleRef kind)", ResolutionError::UnsupportedKind { kind: other.into() }))
        }
    }
}

impl fmt::Display for InventoryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} Roles, {} ClusterRoles, {} RoleBindings, {} ClusterRoleBindings, {} subjects",
            self.roles,
            self.cluster_roles,
            self.role_bindings,
            self.cluster_role_bindings,
            self.subjects.len()
        )?;
        let mut t = Table::new(["kind", "subject", "namespace", "bindings"]);
        for s in &self.subjects {
            let bindings: Vec<String> = s.bindings.iter().map(ToString::to_string).collect();
            t.row([
                s.subject.kind.as_str().to_string(),
                s.subject.name.clone(),
                s.subject.namespace.clone().unwrap_or_default(),
                bindings.join(","),
            ]);
        }
        write!(f, "{t}")?;
        for i in &self.issues {
            writeln!(f, "! {i}")?;
        }
        for u in &self.unreadable {
            writeln!(f, "not read: {u}")?;
        }
        Ok(())
    }
}
