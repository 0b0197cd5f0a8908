//! The order objects are restored in: what others depend on first.

use std::fmt;

use serde::Serialize;

/// A step of a restore. Every object of one tier is created before any
/// object of the next, so a Pod finds its namespace, ServiceAccount,
/// Secrets, ConfigMaps, claims and quota already there.
///
/// The order: CustomResourceDefinitions (and the restore waits until the
/// server serves them), Namespaces, StorageClasses, PersistentVolumes,
/// PersistentVolumeClaims, ServiceAccounts, Secrets, ConfigMaps, RBAC
/// together with the admission policy objects that workloads are checked
/// against (LimitRanges, ResourceQuotas, PriorityClasses), workloads
/// (Deployments, StatefulSets, DaemonSets, ReplicaSets,
/// ReplicationControllers, CronJobs, Jobs, Pods), everything else
/// (Services, Ingresses, custom resources, ...), and last the objects that
/// route API requests elsewhere (admission webhook configurations and
/// APIServices), so a webhook whose backend is not running yet cannot block
/// the rest of the restore.
///
/// ```
/// use k8sops_backup::restore::Tier;
/// assert!(Tier::of("apiextensions.k8s.io", "CustomResourceDefinition") < Tier::of("", "Namespace"));
/// assert!(Tier::of("", "Secret") < Tier::of("apps", "Deployment"));
/// assert_eq!(Tier::of("stable.example.com", "CronTab"), Tier::Other);
/// assert_eq!(Tier::Rbac.to_string(), "RBAC and admission policy");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[non_exhaustive]
pub enum Tier {
    /// CustomResourceDefinitions.
    CustomResourceDefinitions,
    /// Namespaces.
    Namespaces,
    /// StorageClasses.
    StorageClasses,
    /// PersistentVolumes.
    PersistentVolumes,
    /// PersistentVolumeClaims.
    PersistentVolumeClaims,
    /// ServiceAccounts.
    ServiceAccounts,
    /// Secrets.
    Secrets,
    /// ConfigMaps.
    ConfigMaps,
    /// Roles, ClusterRoles and their bindings; LimitRanges, ResourceQuotas, PriorityClasses.
    Rbac,
    /// Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, CronJobs, Jobs, Pods.
    Workloads,
    /// Everything else.
    Other,
    /// ValidatingWebhookConfigurations, MutatingWebhookConfigurations,
    /// ValidatingAdmissionPolicies and their bindings, APIServices.
    ApiRouting,
}

impl Tier {
    /// Every tier, in restore order.
    ///
    /// ```
    /// let all = k8sops_backup::restore::Tier::ALL;
    /// assert!(all.windows(2).all(|w| w[0] < w[1]));
    /// ```
    pub const ALL: [Tier; 12] = [
        Tier::CustomResourceDefinitions,
        Tier::Namespaces,
        Tier::StorageClasses,
        Tier::PersistentVolumes,
        Tier::PersistentVolumeClaims,
        Tier::ServiceAccounts,
        Tier::Secrets,
        Tier::ConfigMaps,
        Tier::Rbac,
        Tier::Workloads,
        Tier::Other,
        Tier::ApiRouting,
    ];

    /// The tier of objects of `kind` in API `group` (`""` for core).
    ///
    /// ```
    /// use k8sops_backup::restore::Tier;
    /// assert_eq!(Tier::of("rbac.authorization.k8s.io", "RoleBinding"), Tier::Rbac);
    /// assert_eq!(Tier::of("batch", "CronJob"), Tier::Workloads);
    /// assert_eq!(Tier::of("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"), Tier::ApiRouting);
    /// ```
    pub fn of(group: &str, kind: &str) -> Tier {
        match (group, kind) {
            ("apiextensions.k8s.io", "CustomResourceDefinition") => Tier::CustomResourceDefinitions,
            ("", "Namespace") => Tier::Namespaces,
            ("storage.k8s.io", "StorageClass") => Tier::StorageClasses,
            ("", "PersistentVolume") => Tier::PersistentVolumes,
            ("", "PersistentVolumeClaim") => Tier::PersistentVolumeClaims,
            ("", "ServiceAccount") => Tier::ServiceAccounts,
            ("", "Secret") => Tier::Secrets,
            ("", "ConfigMap") => Tier::ConfigMaps,
            ("rbac.authorization.k8s.io", _)
            | ("", "LimitRange" | "ResourceQuota")
            | ("scheduling.k8s.io", "PriorityClass") => Tier::Rbac,
            ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
            | ("", "ReplicationController" | "Pod")
            | ("batch", "CronJob" | "Job") => Tier::Workloads,
            ("admissionregistration.k8s.io", _) | ("apiregistration.k8s.io", "APIService") => Tier::ApiRouting,
            _ => Tier::Other,
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tier::CustomResourceDefinitions => "CustomResourceDefinitions",
            Tier::Namespaces => "Namespaces",
            Tier::StorageClasses => "StorageClasses",
            Tier::PersistentVolumes => "PersistentVolumes",
            Tier::PersistentVolumeClaims => "PersistentVolumeClaims",
            Tier::ServiceAccounts => "ServiceAccounts",
            Tier::Secrets => "Secrets",
            Tier::ConfigMaps => "ConfigMaps",
            Tier::Rbac => "RBAC and admission policy",
            Tier::Workloads => "workloads",
            Tier::Other => "other resources",
            Tier::ApiRouting => "webhooks and APIServices",
        })
    }
}
