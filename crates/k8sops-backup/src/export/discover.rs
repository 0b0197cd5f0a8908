//! Which resource types the server serves, as kubectl's "preferred
//! resources": every group at its preferred version, plus the resources that
//! only an older version of the group still serves (`policy/v1beta1`
//! PodSecurityPolicy next to `policy/v1`). Subresources are left out. A group
//! version whose list fails (an aggregated API whose backend is down) is
//! reported and skipped instead of failing the whole export, as kubectl does.

use futures::{stream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList;
use k8sops_core::Cluster;
use kube::discovery::ApiResource;

use crate::Result;

/// One served resource type.
#[derive(Debug, Clone)]
pub(crate) struct ResourceType {
    pub(crate) ar: ApiResource,
    pub(crate) namespaced: bool,
    pub(crate) singular: String,
    pub(crate) short_names: Vec<String>,
    pub(crate) verbs: Vec<String>,
}

impl ResourceType {
    /// `plural.group` (`plural` for the core group).
    pub(crate) fn name(&self) -> String {
        crate::layout::resource_name(&self.ar.plural, &self.ar.group)
    }

    pub(crate) fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// Whether `pattern` names this type: `*`, the plural, singular, kind or
    /// a short name (any case), optionally followed by `.group`.
    pub(crate) fn matches(&self, pattern: &str) -> bool {
        let p = pattern.trim().to_ascii_lowercase();
        if p == "*" {
            return true;
        }
        let kind = self.ar.kind.to_ascii_lowercase();
        let names = [self.ar.plural.as_str(), self.singular.as_str(), kind.as_str()]
            .into_iter()
            .chain(self.short_names.iter().map(String::as_str))
            .filter(|n| !n.is_empty());
        let group = self.ar.group.to_ascii_lowercase();
        for n in names {
            let n = n.to_ascii_lowercase();
            if p == n {
                return true;
            }
            if let Some(g) = p.strip_prefix(&n).and_then(|rest| rest.strip_prefix('.')) {
                if g == group || (group.is_empty() && g == crate::layout::CORE_GROUP_DIR) {
                    return true;
                }
            }
        }
        false
    }
}

/// What discovery found, and the group versions it could not read.
#[derive(Debug)]
pub(crate) struct Discovered {
    pub(crate) types: Vec<ResourceType>,
    pub(crate) failures: Vec<String>,
}

/// Reads `/api`, `/apis` and each group version's resource list (eight at a
/// time). `/api` or `/apis` failing is an error: nothing can be exported.
pub(crate) async fn discover(cluster: &Cluster) -> Result<Discovered> {
    let client = cluster.client();
    let retry = cluster.retry_policy();
    let core =
        retry.run(|_| async { client.list_core_api_versions().await.map_err(|e| cluster.map_err(e, "/api")) }).await?;
    let groups =
        retry.run(|_| async { client.list_api_groups().await.map_err(|e| cluster.map_err(e, "/apis")) }).await?;

    // (group, versions in preference order)
    let mut plan: Vec<(String, Vec<String>)> = vec![(String::new(), core.versions.clone())];
    for g in groups.groups {
        let preferred = g.preferred_version.as_ref().map(|p| p.version.clone());
        let mut versions: Vec<String> = preferred.iter().cloned().collect();
        versions.extend(g.versions.iter().map(|v| v.version.clone()).filter(|v| Some(v) != preferred.as_ref()));
        plan.push((g.name, versions));
    }
    let requests: Vec<(usize, usize, String, String)> = plan
        .iter()
        .enumerate()
        .flat_map(|(gi, (group, versions))| {
            versions.iter().enumerate().map(move |(vi, v)| (gi, vi, group.clone(), v.clone()))
        })
        .collect();
    let fetched: Vec<(usize, usize, String, std::result::Result<APIResourceList, k8sops_core::Error>)> =
        stream::iter(requests)
            .map(|(gi, vi, group, version)| async move {
                let gv = if group.is_empty() { version.clone() } else { format!("{group}/{version}") };
                let what = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{gv}") };
                let res = retry
                    .run(|_| {
                        let (gv, what, version) = (&gv, &what, &version);
                        let is_core = group.is_empty();
                        async move {
                            let r = if is_core {
                                client.list_core_api_resources(version).await
                            } else {
                                client.list_api_group_resources(gv).await
                            };
                            r.map_err(|e| cluster.map_err(e, what))
                        }
                    })
                    .await;
                (gi, vi, gv, res)
            })
            .buffer_unordered(8)
            .collect()
            .await;

    let mut lists: Vec<Vec<Option<APIResourceList>>> = plan.iter().map(|(_, vs)| vec![None; vs.len()]).collect();
    let mut failures = Vec::new();
    for (gi, vi, gv, res) in fetched {
        match res {
            Ok(list) => lists[gi][vi] = Some(list),
            Err(e) => failures.push(format!("{gv}: {e}")),
        }
    }
    failures.sort();

    let mut types = Vec::new();
    for ((group, versions), lists) in plan.iter().zip(lists) {
        let mut seen = std::collections::HashSet::new();
        for (version, list) in versions.iter().zip(lists) {
            let Some(list) = list else { continue };
            let api_version = if group.is_empty() { version.clone() } else { format!("{group}/{version}") };
            for r in list.resources {
                if r.name.contains('/') || !seen.insert(r.name.clone()) {
                    continue;
                }
                types.push(ResourceType {
                    ar: ApiResource {
                        group: group.clone(),
                        version: version.clone(),
                        api_version: api_version.clone(),
                        kind: r.kind,
                        plural: r.name,
                    },
                    namespaced: r.namespaced,
                    singular: r.singular_name,
                    short_names: r.short_names.unwrap_or_default(),
                    verbs: r.verbs,
                });
            }
        }
    }
    Ok(Discovered { types, failures })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployments() -> ResourceType {
        ResourceType {
            ar: ApiResource {
                group: "apps".into(),
                version: "v1".into(),
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                plural: "deployments".into(),
            },
            namespaced: true,
            singular: "deployment".into(),
            short_names: vec!["deploy".into()],
            verbs: vec!["list".into(), "create".into()],
        }
    }

    #[test]
    fn a_type_is_named_by_plural_singular_kind_or_short_name_with_or_without_its_group() {
        let d = deployments();
        for p in ["deployments", "Deployment", "deploy", "deployment", "deployments.apps", "deploy.apps", "*"] {
            assert!(d.matches(p), "{p}");
        }
        for p in ["deployments.batch", "pods", "deployments.", "apps"] {
            assert!(!d.matches(p), "{p}");
        }
        assert_eq!(d.name(), "deployments.apps");
    }
}
