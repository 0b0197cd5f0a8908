//! Resource lists (`cpu`, `memory`, `pods`, ...): sums and percentages, and
//! the request/limit arithmetic `kubectl describe node` uses.

use std::{collections::BTreeMap, fmt};

use k8s_openapi::api::core::v1::{Container, Pod};
use serde::{Deserialize, Serialize};

use crate::quantity::{ParseQuantityError, Quantity};

/// A map from resource name to quantity, like a container's `requests`.
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourceList(BTreeMap<String, Quantity>);

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
        self.0.insert(name.into(), q);
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
        self.0.get(name).copied().unwrap_or_default()
    }

    /// Whether `name` is present.
    ///
    /// ```
    /// assert!(!k8sops_core::ResourceList::new().contains("cpu"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Sets `name` to `q`.
    ///
    /// ```
    /// let mut l = k8sops_core::ResourceList::new();
    /// l.set("pods", k8sops_core::Quantity::from_units(110));
    /// assert_eq!(l.get("pods").value(), 110);
    /// ```
    pub fn set(&mut self, name: impl Into<String>, q: Quantity) {
        self.0.insert(name.into(), q);
    }

    /// Iterates entries in name order.
    ///
    /// ```
    /// assert_eq!(k8sops_core::ResourceList::new().iter().count(), 0);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Quantity)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether the list is empty.
    ///
    /// ```
    /// assert!(k8sops_core::ResourceList::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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
        for (k, v) in &other.0 {
            let e = out.0.entry(k.clone()).or_default();
            if *v > *e {
                *e = *v;
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

    /// Parses a Kubernetes `ResourceList` (`BTreeMap<String, Quantity>`).
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
        map.iter().map(|(k, v)| Ok((k.clone(), Quantity::try_from(v)?))).collect::<Result<_, _>>().map(ResourceList)
    }
}

impl std::ops::AddAssign<&ResourceList> for ResourceList {
    fn add_assign(&mut self, rhs: &ResourceList) {
        for (k, v) in &rhs.0 {
            *self.0.entry(k.clone()).or_default() += *v;
        }
    }
}

impl FromIterator<(String, Quantity)> for ResourceList {
    fn from_iter<T: IntoIterator<Item = (String, Quantity)>>(iter: T) -> Self {
        ResourceList(iter.into_iter().collect())
    }
}

impl fmt::Display for ResourceList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        f.write_str(&parts.join(","))
    }
}

/// A pod's effective requests and limits, computed the way the scheduler and
/// `kubectl describe node` do: the sum over app containers, raised to the
/// largest init container, plus the pod overhead.
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
    ///   ], "initContainers": [{"name": "init", "resources": {"requests": {"cpu": "1"}}}]}
    /// })).unwrap();
    /// let r = k8sops_core::PodResources::of(&pod)?;
    /// assert_eq!(r.requests.get("cpu").to_string(), "1");
    /// assert_eq!(r.requests.get("memory").to_string(), "64Mi");
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
        for c in spec.init_containers.iter().flatten() {
            let (r, l) = container_resources(c)?;
            requests = requests.max(&r);
            limits = limits.max(&l);
        }
        if let Some(overhead) = &spec.overhead {
            let o = ResourceList::from_k8s(overhead)?;
            requests += &o;
            // Overhead only counts toward limits that are set.
            for (k, v) in o.iter() {
                if limits.contains(k) {
                    let cur = limits.get(k);
                    limits.set(k, cur + *v);
                }
            }
        }
        Ok(PodResources { requests, limits })
    }
}

fn container_resources(c: &Container) -> Result<(ResourceList, ResourceList), ParseQuantityError> {
    let Some(res) = c.resources.as_ref() else {
        return Ok(Default::default());
    };
    let limits = res.limits.as_ref().map(ResourceList::from_k8s).transpose()?.unwrap_or_default();
    let mut requests = res.requests.as_ref().map(ResourceList::from_k8s).transpose()?.unwrap_or_default();
    // A limit without a request defaults the request to the limit.
    for (k, v) in limits.iter() {
        if !requests.contains(k) {
            requests.set(k, *v);
        }
    }
    Ok((requests, limits))
}
