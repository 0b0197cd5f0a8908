//! One eviction (policy/v1, or policy/v1beta1 where only that is served) or
//! one delete, with the answer classified for the drain loop.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8sops_core::Cluster;
use kube::{
    api::{DeleteParams, Preconditions},
    Api,
};
use serde_json::{json, Value};

/// Which eviction API the server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EvictionApi {
    PolicyV1,
    PolicyV1beta1,
    /// No eviction subresource: delete instead.
    Unsupported,
}

impl EvictionApi {
    /// Looks for `pods/eviction` in the core v1 discovery document, as kubectl does.
    pub(crate) async fn discover(cluster: &Cluster) -> k8sops_core::Result<Self> {
        let list = cluster
            .retry_policy()
            .run(|_| async {
                cluster.client().list_core_api_resources("v1").await.map_err(|e| cluster.map_err(e, "/api/v1"))
            })
            .await?;
        let Some(r) = list.resources.iter().find(|r| r.name == "pods/eviction") else {
            return Ok(EvictionApi::Unsupported);
        };
        Ok(match (r.group.as_deref(), r.version.as_deref()) {
            (Some("policy"), Some("v1beta1")) => EvictionApi::PolicyV1beta1,
            _ => EvictionApi::PolicyV1,
        })
    }
}

/// How one attempt ended.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// Accepted (201 / 200): the pod is terminating or gone.
    Accepted,
    /// The pod no longer exists (or is a different pod now).
    Gone,
    /// A PodDisruptionBudget said no (429 with a DisruptionBudget cause).
    Blocked { budget: Option<String>, message: String },
    /// A 429 not caused by a budget (API priority and fairness, rate limits):
    /// kubectl retries it until its timeout.
    TooManyRequests { error: k8sops_core::Error, retry_after: Option<Duration> },
    /// 403 because the pod's namespace is being deleted.
    NamespaceTerminating { message: String },
    /// Throttled or a transient server/transport error: try again later.
    Transient { error: k8sops_core::Error, retry_after: Option<Duration> },
    /// Anything else: give up on this pod.
    Failed(k8sops_core::Error),
}

/// Extracts the budget's name from "The disruption budget web-pdb needs 3 healthy pods and has 3 currently".
pub(crate) fn budget_name(message: &str) -> Option<String> {
    let rest = message.split("disruption budget ").nth(1)?;
    rest.split_whitespace().next().map(str::to_string)
}

fn classify(cluster: &Cluster, err: kube::Error, what: &str) -> Attempt {
    let api_status = match &err {
        kube::Error::Api(status) => Some(status.clone()),
        _ => None,
    };
    if let Some(status) = api_status {
        if status.code == 429 {
            let causes = status.details.as_ref().map(|d| d.causes.clone()).unwrap_or_default();
            if let Some(c) =
                causes.iter().find(|c| c.reason == "DisruptionBudget" || c.message.contains("disruption budget"))
            {
                return Attempt::Blocked { budget: budget_name(&c.message), message: c.message.clone() };
            }
            if status.message.contains("disruption budget") {
                return Attempt::Blocked { budget: None, message: status.message.clone() };
            }
            let e = cluster.map_err(err, what);
            let retry_after = e.retry_after();
            return Attempt::TooManyRequests { error: e, retry_after };
        }
        if status.code == 403
            && status.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
        {
            return Attempt::NamespaceTerminating { message: status.message.clone() };
        }
        // The eviction REST handler answers 500 when a pod has several
        // budgets; retrying cannot help, and kubectl fails at once.
        if status.code == 500 && status.message.contains("more than one PodDisruptionBudget") {
            return Attempt::Failed(cluster.map_err(err, what));
        }
        if status.code == 404 {
            return Attempt::Gone;
        }
        // A uid precondition failing means the name now belongs to a replacement pod.
        if status.code == 409 && status.message.contains("Precondition failed: UID") {
            return Attempt::Gone;
        }
    }
    let e = cluster.map_err(err, what);
    if e.is_transient() {
        let retry_after = e.retry_after();
        Attempt::Transient { error: e, retry_after }
    } else {
        Attempt::Failed(e)
    }
}

fn pod_ref(pod: &Pod) -> (String, String, String) {
    (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
        pod.metadata.uid.clone().unwrap_or_default(),
    )
}

/// Asks for one eviction.
pub(crate) async fn evict(
    cluster: &Cluster,
    api: EvictionApi,
    pod: &Pod,
    grace: Option<i64>,
    dry_run: bool,
) -> Attempt {
    let (ns, name, uid) = pod_ref(pod);
    let version = match api {
        EvictionApi::PolicyV1beta1 => "policy/v1beta1",
        _ => "policy/v1",
    };
    let mut delete_options = json!({"preconditions": {"uid": uid}});
    if let Some(g) = grace {
        delete_options["gracePeriodSeconds"] = json!(g);
    }
    if dry_run {
        delete_options["dryRun"] = json!(["All"]);
    }
    let body = json!({"apiVersion": version, "kind": "Eviction", "metadata": {"name": name, "namespace": ns}, "deleteOptions": delete_options});
    let req = http::Request::post(format!("/api/v1/namespaces/{ns}/pods/{name}/eviction"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&body).unwrap_or_default());
    let req = match req {
        Ok(r) => r,
        Err(e) => return Attempt::Failed(k8sops_core::Error::InvalidInput { message: e.to_string(), source: None }),
    };
    match cluster.client().request::<Value>(req).await {
        Ok(_) => Attempt::Accepted,
        Err(e) => classify(cluster, e, &format!("eviction of pod {ns}/{name}")),
    }
}

/// Deletes a pod (finished pods, or `disable_eviction`), guarded by its uid.
pub(crate) async fn delete(cluster: &Cluster, pod: &Pod, grace: Option<i64>, dry_run: bool) -> Attempt {
    let (ns, name, uid) = pod_ref(pod);
    let api: Api<Pod> = Api::namespaced(cluster.client().clone(), &ns);
    let dp = DeleteParams {
        // Negative grace periods are filtered out by the caller (the pod's own applies).
        grace_period_seconds: grace.and_then(|g| u32::try_from(g).ok()),
        preconditions: Some(Preconditions { uid: Some(uid), resource_version: None }),
        dry_run,
        ..Default::default()
    };
    match api.delete(&name, &dp).await {
        Ok(_) => Attempt::Accepted,
        Err(e) => classify(cluster, e, &format!("pod {ns}/{name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_budget_name_from_the_servers_message() {
        assert_eq!(
            budget_name("The disruption budget web-pdb needs 3 healthy pods and has 3 currently").as_deref(),
            Some("web-pdb")
        );
        assert_eq!(budget_name("Cannot evict pod as it would violate the pod's disruption budget."), None);
    }
}
