//! Resource lists (`cpu`, `memory`, `pods`, ...): sums and percentages, and
//! the request/limit arithmetic `kubectl describe node` uses.

use std::{collections::BTreeMap, fmt};

use k8s_openapi::api::core::v1::{Container, Pod};
use serde::{Deserialize, Serialize};

use crate::quantity::{ParseQuantityError, Quantity};

/// A map from resource name to quantity, like a container's `requests`.
///
/// Entries read from the API ([`ResourceList::from_k8s`]) remember how the
/// server spelled them, so [`ResourceList::printed`] can show a value that
/// was copied unchanged exactly as the server returned it, the way kubectl
/// does; equality and serialization only look at the values.
///
/// ```
/// use k8sops_core::ResourceList;
/// let mut total = ResourceList::new().with("cpu", "250m".parse()?).with("memory", "64Mi".parse()?);
/// total += &ResourceList::new().with("cpu", "750m".parse()?);
/// assert_eq!(total.get("cpu").to_string(), "1");
/// assert_eq!(total.get("memory").to_string(), "64Mi");
/// assert_eq!(total.get("nvidia.com/gpu").to_string(), "0");
/// # Ok::<(), k8sops_core::quantity::ParseQuantityError>(())
/// ```
#[derive(Clone, Default)]
pub struct ResourceList {
    values: BTreeMap<String, Quantity>,
    /// The server's spelling of entries copied unchanged from the API.
    spelled: BTreeMap<String, String>,
}

impl ResourceList {
    /// An empty list.
    ///
    /// ```
    /// assert_eq!(k8sops_core::ResourceList::new().get("cpu"), k8sops_core::Quantity::ZERO);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces one entry.
    ///
    /// ```
    /// let q = |s: &str| s.parse::<k8sops_core::Quantity>().unwrap();
    /// let l = k8sops_core::ResourceList::new().with("cpu", q("1")).with("cpu", q("2"));
    /// assert_eq!(l.get("cpu"), q("2"));
    /// ```
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, q: Quantity) -> Self {
        self.set(name, q);
        self
    }

    /// The quantity for `name`, zero when absent.
    ///
    /// ```
    /// let l = k8sops_core::ResourceList::new().with("memory", "1Gi".parse().unwrap());
    /// assert_eq!(l.get("memory").value(), 1 << 30);
    /// assert_eq!(l.get("nvidia.com/gpu"), k8sops_core::Quantity::ZERO);
    /// ```
    pub fn get(&self, name: &str) -> Quantity {
        self.values.get(name).copied().unwrap_or_default()
    }

    /// `name`'s quantity as kubectl prints it: the string the API server
    /// returned when the entry is one stored quantity copied unchanged (a
    /// pod's only container's request, say), otherwise the canonical form of
    /// the computed value; `0` when absent.
    ///
    /// ```
    /// use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
    /// let stored = std::collections::BTreeMap::from([("cpu".to_string(), K8sQuantity("0.5".into()))]);
    /// let l = k8sops_core::ResourceList::from_k8s(&stored)?;
    /// assert_eq!(l.printed("cpu"), "0.5");
    /// assert_eq!(l.get("cpu").to_string(), "500m");
    /// let mut sum = l.clone();
    /// sum += &l; // a computed value prints canonically
    /// assert_eq!(sum.printed("cpu"), "1");
    /// assert_eq!(sum.printed("memory"), "0");
    /// # Ok::<(), k8sops_core::quantity::ParseQuantityError>(())
    /// ```
    pub fn printed(&self, name: &str) -> String {
        match self.spelled.get(name) {
            Some(s) => s.clone(),
            None => self.get(name).to_string(),
        }
    }

    /// Whether `name` is present.
    ///
    /// ```
    /// assert!(!k8sops_core::ResourceList::new().contains("cpu"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// Sets `name` to `q`.
    ///
    /// ```
    /// let mut l = k8sops_core::ResourceList::new();
    /// l.set("pods", k8sops_core::Quantity::from_units(110));
    /// assert_eq!(l.get("pods").value(), 110);
    /// ```
    pub fn set(&mut self, name: impl Into<String>, q: Quantity) {
        let name = name.into();
        self.spelled.remove(&name);
        self.values.insert(name, q);
    }

    /// Iterates entries in name order.
    ///
    /// ```
    /// assert_eq!(k8sops_core::ResourceList::new().iter().count(), 0);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Quantity)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether the list is empty.
    ///
    /// ```
    /// assert!(k8sops_core::ResourceList::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Entry-wise maximum, used for init containers (the larger of any one init
    /// container and the sum of the app containers).
    ///
    /// ```
    /// use k8sops_core::ResourceList;
    /// let a = ResourceList::new().with("cpu", "1".parse().unwrap());
    /// let b = ResourceList::new().with("cpu", "2".parse().unwrap()).with("memory", "1Gi".parse().unwrap());
    /// let m = a.max(&b);
    /// assert_eq!(m.get("cpu").to_string(), "2");
    /// assert_eq!(m.get("memory").to_string(), "1Gi");
    /// ```
    #[must_use]
    pub fn max(&self, other: &ResourceList) -> ResourceList {
        let mut out = self.clone();
        for (k, v) in &other.values {
            if out.values.get(k).is_none_or(|cur| v > cur) {
                out.copy_entry(other, k);
            }
        }
        out
    }

    /// `self[name]` as a percentage of `of[name]`, truncated like
    /// `kubectl describe node`.
    ///
    /// ```
    /// use k8sops_core::ResourceList;
    /// let used = ResourceList::new().with("cpu", "500m".parse().unwrap());
    /// let alloc = ResourceList::new().with("cpu", "2".parse().unwrap());
    /// assert_eq!(used.percent_of("cpu", &alloc), 25);
    /// ```
    pub fn percent_of(&self, name: &str, of: &ResourceList) -> i64 {
        self.get(name).percent_of(of.get(name))
    }

    /// Parses a Kubernetes `ResourceList` (`BTreeMap<String, Quantity>`),
    /// remembering how each quantity was spelled (see [`ResourceList::printed`]).
    ///
    /// ```
    /// use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
    /// let m = std::collections::BTreeMap::from([("cpu".to_string(), K8sQuantity("2".into()))]);
    /// assert_eq!(k8sops_core::ResourceList::from_k8s(&m)?.get("cpu").millis(), 2000);
    /// # Ok::<(), k8sops_core::quantity::ParseQuantityError>(())
    /// ```
    pub fn from_k8s(
        map: &BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    ) -> Result<Self, ParseQuantityError> {
        let mut out = ResourceList::new();
        for (k, v) in map {
            out.values.insert(k.clone(), Quantity::try_from(v)?);
            out.spelled.insert(k.clone(), v.0.trim().to_string());
        }
        Ok(out)
    }

    /// Copies `name`'s value and spelling from `from` (Kubernetes' `DeepCopy`
    /// of one quantity, which keeps its string).
    fn copy_entry(&mut self, from: &ResourceList, name: &str) {
        let Some(v) = from.values.get(name) else { return };
        self.values.insert(name.to_string(), *v);
        match from.spelled.get(name) {
            Some(s) => self.spelled.insert(name.to_string(), s.clone()),
            None => self.spelled.remove(name),
        };
    }
}

impl PartialEq for ResourceList {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

impl Eq for ResourceList {}

impl fmt::Debug for ResourceList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ResourceList").field(&self.values).finish()
    }
}

impl Serialize for ResourceList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.values.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ResourceList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ResourceList { values: BTreeMap::deserialize(d)?, spelled: BTreeMap::new() })
    }
}

/// Kubernetes' `addResourceList`: a new entry is copied (keeping its
/// spelling), an existing one is summed.
impl std::ops::AddAssign<&ResourceList> for ResourceList {
    fn add_assign(&mut self, rhs: &ResourceList) {
        for (k, v) in &rhs.values {
            match self.values.get_mut(k) {
                Some(cur) => {
                    *cur += *v;
                    self.spelled.remove(k);
                }
                None => self.copy_entry(rhs, k),
            }
        }
    }
}

impl FromIterator<(String, Quantity)> for ResourceList {
    fn from_iter<T: IntoIterator<Item = (String, Quantity)>>(iter: T) -> Self {
        ResourceList { values: iter.into_iter().collect(), spelled: BTreeMap::new() }
    }
}

impl fmt::Display for ResourceList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
        f.write_str(&parts.join(","))
    }
}

/// A pod's effective requests and limits, computed the way the scheduler and
/// `kubectl describe node` do (`PodRequests`/`PodLimits` of
/// k8s.io/component-helpers): the sum over app containers and restartable
/// init containers (sidecars), raised per resource to what any init
/// container needs while it runs beside the sidecars started before it;
/// pod-level `spec.resources` replaces that where set; the pod overhead is
/// added to requests, and to limits that are set and non-zero.
///
/// ```
/// let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
///     "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]}})).unwrap();
/// let r = k8sops_core::PodResources::of(&pod).unwrap();
/// assert_eq!(r.requests.get("cpu").to_string(), "250m");
/// assert!(r.limits.get("memory").is_zero());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodResources {
    /// Effective requests.
    pub requests: ResourceList,
    /// Effective limits.
    pub limits: ResourceList,
}

impl PodResources {
    /// Computes a pod's effective requests and limits. Unparseable quantities
    /// are errors (the API server would not have stored them).
    ///
    /// ```
    /// use k8s_openapi::api::core::v1::Pod;
    /// let pod: Pod = serde_json::from_value(serde_json::json!({
    ///   "metadata": {"name": "p"},
    ///   "spec": {"containers": [
    ///     {"name": "a", "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "200m"}}},
    ///     {"name": "b", "resources": {"requests": {"cpu": "150m", "memory": "64Mi"}}}
    ///   ], "initContainers": [
    ///     {"name": "init", "resources": {"requests": {"cpu": "1"}}},
    ///     {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"memory": "32Mi"}}}
    ///   ]}
    /// })).unwrap();
    /// let r = k8sops_core::PodResources::of(&pod)?;
    /// assert_eq!(r.requests.get("cpu").to_string(), "1");
    /// // The sidecar runs beside the app containers: its memory is added.
    /// assert_eq!(r.requests.get("memory").to_string(), "96Mi");
    /// assert_eq!(r.limits.get("cpu").to_string(), "200m");
    /// # Ok::<(), k8sops_core::quantity::ParseQuantityError>(())
    /// ```
    pub fn of(pod: &Pod) -> Result<Self, ParseQuantityError> {
        let Some(spec) = pod.spec.as_ref() else {
            return Ok(Self::default());
        };
        let mut requests = ResourceList::new();
        let mut limits = ResourceList::new();
        for c in &spec.containers {
            let (r, l) = container_resources(c)?;
            requests += &r;
            limits += &l;
        }
        // Restartable init containers (sidecars) keep running: they add to the
        // app containers, and each later init container runs beside them.
        let (mut sidecar_requests, mut sidecar_limits) = (ResourceList::new(), ResourceList::new());
        let (mut init_requests, mut init_limits) = (ResourceList::new(), ResourceList::new());
        for c in spec.init_containers.iter().flatten() {
            let (r, l) = container_resources(c)?;
            let (while_running_r, while_running_l) = if c.restart_policy.as_deref() == Some("Always") {
                requests += &r;
                limits += &l;
                sidecar_requests += &r;
                sidecar_limits += &l;
                (sidecar_requests.clone(), sidecar_limits.clone())
            } else {
                let (mut cr, mut cl) = (r, l);
                cr += &sidecar_requests;
                cl += &sidecar_limits;
                (cr, cl)
            };
            init_requests = init_requests.max(&while_running_r);
            init_limits = init_limits.max(&while_running_l);
        }
        requests = requests.max(&init_requests);
        limits = limits.max(&init_limits);

        if let Some(pod_level) = spec.resources.as_ref() {
            let pod_requests = pod_level.requests.as_ref().map(ResourceList::from_k8s).transpose()?.unwrap_or_default();
            let pod_limits = pod_level.limits.as_ref().map(ResourceList::from_k8s).transpose()?.unwrap_or_default();
            let supported = |l: &ResourceList| l.iter().any(|(k, _)| is_pod_level_resource(k));
            // The API server defaults a pod-level request that is missing, for a
            // resource with a pod-level limit and no container request, to the limit.
            let mut effective_requests = pod_requests.clone();
            for (k, _) in pod_limits.iter() {
                if is_pod_level_resource(k) && !pod_requests.contains(k) && !requests.contains(k) {
                    effective_requests.copy_entry(&pod_limits, k);
                }
            }
            if supported(&effective_requests) {
                for (k, _) in effective_requests.iter().filter(|(k, _)| is_pod_level_resource(k)) {
                    requests.copy_entry(&effective_requests, k);
                }
            }
            if supported(&effective_requests) || supported(&pod_limits) {
                for (k, _) in pod_limits.iter().filter(|(k, _)| is_pod_level_resource(k)) {
                    limits.copy_entry(&pod_limits, k);
                }
            }
        }

        if let Some(overhead) = &spec.overhead {
            let o = ResourceList::from_k8s(overhead)?;
            requests += &o;
            // Overhead only counts toward limits that are set and non-zero.
            for (k, v) in o.iter() {
                if limits.contains(k) && !limits.get(k).is_zero() {
                    let cur = limits.get(k);
                    limits.set(k, cur + *v);
                }
            }
        }
        Ok(PodResources { requests, limits })
    }
}

/// Resources that pod-level `spec.resources` may set (component-helpers'
/// `IsSupportedPodLevelResource`).
fn is_pod_level_resource(name: &str) -> bool {
    name == "cpu" || name == "memory" || name.starts_with("hugepages-")
}

fn container_resources(c: &Container) -> Result<(ResourceList, ResourceList), ParseQuantityError> {
    let Some(res) = c.resources.as_ref() else {
        return Ok(Default::default());
    };
    let limits = res.limits.as_ref().map(ResourceList::from_k8s).transpose()?.unwrap_or_default();
    let mut requests = res.requests.as_ref().map(ResourceList::from_k8s).transpose()?.unwrap_or_default();
    // A limit without a request defaults the request to the limit (the API
    // server's defaulting, done here too for objects that skipped it).
    for (k, _) in limits.iter() {
        if !requests.contains(k) {
            requests.copy_entry(&limits, k);
        }
    }
    Ok((requests, limits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    fn q(s: &str) -> Quantity {
        s.parse().unwrap()
    }

    #[test]
    fn restartable_init_containers_are_added_not_maxed() {
        // Two app containers (200m), a sidecar (300m) and a plain init container (400m)
        // that starts after the sidecar: it runs beside it, so the init phase needs 700m.
        let p = pod(serde_json::json!({
        "containers": [
            {"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}, "limits": {"memory": "200Mi"}}},
            {"name": "b", "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}, "limits": {"memory": "200Mi"}}}
        ],
        "initContainers": [
            {"name": "mesh", "restartPolicy": "Always",
             "resources": {"requests": {"cpu": "300m", "memory": "50Mi"}, "limits": {"memory": "60Mi"}}},
            {"name": "migrate", "resources": {"requests": {"cpu": "400m", "memory": "100Mi"}, "limits": {"memory": "100Mi"}}}
        ]}));
        let r = PodResources::of(&p).unwrap();
        // Steady state: 200m + 300m = 500m; init phase: 400m + 300m = 700m.
        assert_eq!(r.requests.get("cpu"), q("700m"));
        // Memory: 200Mi + 50Mi = 250Mi beats the init phase's 100Mi + 50Mi.
        assert_eq!(r.requests.get("memory"), q("250Mi"));
        assert_eq!(r.limits.get("memory"), q("460Mi"));

        // A sidecar alone is added to the app containers: the old max gave 300m.
        let p = pod(serde_json::json!({
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "200m"}}}],
            "initContainers": [{"name": "mesh", "restartPolicy": "Always", "resources": {"requests": {"cpu": "300m"}}}]}));
        assert_eq!(PodResources::of(&p).unwrap().requests.get("cpu"), q("500m"));

        // An init container before the sidecar does not run beside it.
        let p = pod(serde_json::json!({
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"}}}],
            "initContainers": [
                {"name": "first", "resources": {"requests": {"cpu": "500m"}}},
                {"name": "mesh", "restartPolicy": "Always", "resources": {"requests": {"cpu": "300m"}}}]}));
        assert_eq!(PodResources::of(&p).unwrap().requests.get("cpu"), q("500m"));
    }

    #[test]
    fn pod_level_resources_win_where_set() {
        let p = pod(serde_json::json!({
        "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "2", "memory": "1Gi"}},
        "containers": [
            {"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "100Mi", "ephemeral-storage": "1Gi"},
                                         "limits": {"cpu": "500m", "ephemeral-storage": "2Gi"}}}
        ]}));
        let r = PodResources::of(&p).unwrap();
        assert_eq!(r.requests.get("cpu"), q("1"));
        // No pod-level memory request: the containers' stands.
        assert_eq!(r.requests.get("memory"), q("100Mi"));
        assert_eq!(r.limits.get("cpu"), q("2"));
        assert_eq!(r.limits.get("memory"), q("1Gi"));
        // Not a pod-level resource: containers only.
        assert_eq!(r.requests.get("ephemeral-storage"), q("1Gi"));
        assert_eq!(r.limits.get("ephemeral-storage"), q("2Gi"));

        // Pod-level limits only: requests default to them where no container asks.
        let p = pod(serde_json::json!({
            "resources": {"limits": {"cpu": "2", "memory": "1Gi"}},
            "containers": [{"name": "a", "resources": {"requests": {"memory": "100Mi"}}}]}));
        let r = PodResources::of(&p).unwrap();
        assert_eq!(r.requests.get("cpu"), q("2"));
        assert_eq!(r.requests.get("memory"), q("100Mi"));
        assert_eq!(r.limits.get("memory"), q("1Gi"));
    }

    #[test]
    fn overhead_is_not_added_to_a_zero_or_absent_limit() {
        let p = pod(serde_json::json!({
            "overhead": {"cpu": "250m", "memory": "120Mi"},
            "containers": [{"name": "a", "resources": {
                "requests": {"cpu": "100m", "memory": "64Mi"},
                "limits": {"cpu": "0", "memory": "128Mi"}}}]}));
        let r = PodResources::of(&p).unwrap();
        assert_eq!(r.requests.get("cpu"), q("350m"));
        assert_eq!(r.requests.get("memory"), q("184Mi"));
        // A zero CPU limit means none: overhead is not added to it.
        assert!(r.limits.get("cpu").is_zero());
        assert_eq!(r.limits.get("memory"), q("248Mi"));

        let p = pod(serde_json::json!({
            "overhead": {"cpu": "250m"},
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"}}}]}));
        let r = PodResources::of(&p).unwrap();
        assert!(!r.limits.contains("cpu"));
    }

    #[test]
    fn printed_quantities_keep_the_servers_spelling() {
        let p = pod(serde_json::json!({
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "0.5", "memory": "128974848"},
                                                      "limits": {"memory": "1.5Gi"}}}]}));
        let r = PodResources::of(&p).unwrap();
        assert_eq!(r.requests.printed("cpu"), "0.5");
        assert_eq!(r.requests.printed("memory"), "128974848");
        assert_eq!(r.limits.printed("memory"), "1.5Gi");
        assert_eq!(r.limits.printed("cpu"), "0");
        // A sum is computed: printed canonically.
        let p = pod(serde_json::json!({
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "0.5"}}},
                           {"name": "b", "resources": {"requests": {"cpu": "0.25"}}}]}));
        assert_eq!(PodResources::of(&p).unwrap().requests.printed("cpu"), "750m");
        // Equality still compares values.
        let spelled = ResourceList::from_k8s(&BTreeMap::from([(
            "cpu".to_string(),
            k8s_openapi::apimachinery::pkg::api::resource::Quantity("0.5".into()),
        )]))
        .unwrap();
        assert_eq!(spelled, ResourceList::new().with("cpu", q("500m")));
    }
}
