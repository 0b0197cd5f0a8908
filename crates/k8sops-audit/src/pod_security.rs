//! Pod Security Standards on a cluster: each namespace's
//! `pod-security.kubernetes.io/*` labels, every pod and every workload's pod
//! template evaluated against the namespace's enforced level and against
//! baseline and restricted ([`crate::pss`]), what would break if a namespace
//! were set to enforce a level, and applying labels with a server-side dry
//! run first — the API server then answers with the warnings the
//! `PodSecurity` admission plugin gives for the pods already running.

use std::{collections::BTreeMap, fmt};

use k8s_openapi::{
    api::{
        apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet},
        batch::v1::{CronJob, Job},
        core::v1::{Namespace, Pod, PodTemplateSpec, ReplicationController},
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use k8sops_core::{Cluster, DryRun, Table};
use serde::Serialize;

use crate::{
    inventory::{for_each_or_note, list_or_note, Unreadable},
    pss::{
        evaluate_pod_on_server, highest_level_allowed_on_server, Level, LevelVersion, NamespaceLabels, Policy,
        PolicyVersion, ServerVersion, Violation,
    },
    Error, Result,
};

/// What [`pss_report`] evaluates.
///
/// ```
/// use k8sops_audit::{pod_security::PssParams, pss::Level};
/// let params = PssParams { namespace: Some("shop".into()), target: Level::Baseline, ..Default::default() };
/// assert!(params.workloads);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PssParams {
    /// One namespace, or all.
    pub namespace: Option<String>,
    /// The level of the "what would break" question (default restricted).
    pub target: Level,
    /// The policy version of that question (default latest, capped at the
    /// server's version as the admission plugin caps it).
    pub target_version: PolicyVersion,
    /// Also evaluate workload pod templates (Deployments, StatefulSets,
    /// DaemonSets, ReplicaSets, Jobs, CronJobs, ReplicationControllers);
    /// default true.
    pub workloads: bool,
}

impl Default for PssParams {
    fn default() -> Self {
        PssParams { namespace: None, target: Level::Restricted, target_version: PolicyVersion::Latest, workloads: true }
    }
}

/// One pod or pod template, evaluated.
///
/// ```
/// use k8sops_audit::{pod_security::PodVerdict, pss::Level};
/// let v = PodVerdict { kind: "Pod".into(), name: "web-0".into(), highest_level: Level::Baseline,
///     enforced_violations: vec![], target_violations: vec![] };
/// assert!(v.admitted());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodVerdict {
    /// `Pod`, or the workload kind whose template this is.
    pub kind: String,
    /// Name.
    pub name: String,
    /// The strictest level it satisfies (at the namespace's enforce version).
    pub highest_level: Level,
    /// Violations of the namespace's enforced level: a template with any
    /// cannot create pods; a pod with any was admitted before the label.
    pub enforced_violations: Vec<Violation>,
    /// Violations of [`PssParams::target`].
    pub target_violations: Vec<Violation>,
}

impl PodVerdict {
    /// Whether it satisfies the namespace's enforced level.
    ///
    /// ```
    /// # use k8sops_audit::{pod_security::PodVerdict, pss::{Level, Violation}};
    /// let v = PodVerdict { kind: "Deployment".into(), name: "web".into(), highest_level: Level::Privileged,
    ///     enforced_violations: vec![Violation::new("privileged", "privileged", "")], target_violations: vec![] };
    /// assert!(!v.admitted());
    /// ```
    pub fn admitted(&self) -> bool {
        self.enforced_violations.is_empty()
    }
}

/// One namespace: its labels, the policy they make, and its pods and templates.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops_audit::pod_security::pss_report(&server.cluster(), &Default::default()).await?;
/// for ns in &report.namespaces {
///     println!("{}: enforce {} — {} would break under {}", ns.namespace, ns.policy.enforce, ns.would_break().len(), report.target);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespacePss {
    /// Namespace.
    pub namespace: String,
    /// Its Pod Security labels as written.
    pub labels: BTreeMap<String, String>,
    /// The policy the admission plugin evaluates (invalid labels handled as upstream does).
    pub policy: Policy,
    /// Invalid label values (each message says which and why).
    pub invalid_labels: Vec<String>,
    /// Pods not controlled by a listed workload, then workload pod
    /// templates, each evaluated.
    pub pods: Vec<PodVerdict>,
    /// Pods controlled by a ReplicaSet, StatefulSet, DaemonSet, Job or
    /// ReplicationController: their workload's template stands for them
    /// (as upstream's namespace check groups pods by controller).
    pub pods_of_workloads: usize,
}

impl NamespacePss {
    /// Pods and templates that fail the target level: what enforcing it would
    /// break (existing pods keep running; the API server warns about them,
    /// and refuses their replacements).
    ///
    /// ```
    /// # use k8sops_audit::{pod_security::NamespacePss, pss::Policy};
    /// let ns = NamespacePss { namespace: "x".into(), labels: Default::default(), policy: Policy::default(),
    ///     invalid_labels: vec![], pods: vec![], pods_of_workloads: 0 };
    /// assert!(ns.would_break().is_empty());
    /// ```
    pub fn would_break(&self) -> Vec<&PodVerdict> {
        self.pods.iter().filter(|p| !p.target_violations.is_empty()).collect()
    }

    /// The strictest level every pod and template of the namespace satisfies.
    ///
    /// ```
    /// # use k8sops_audit::{pod_security::NamespacePss, pss::{Level, Policy}};
    /// let ns = NamespacePss { namespace: "x".into(), labels: Default::default(), policy: Policy::default(),
    ///     invalid_labels: vec![], pods: vec![], pods_of_workloads: 0 };
    /// assert_eq!(ns.strictest_level_possible(), Level::Restricted);
    /// ```
    pub fn strictest_level_possible(&self) -> Level {
        self.pods.iter().map(|p| p.highest_level).min().unwrap_or(Level::Restricted)
    }
}

/// The Pod Security report of a cluster or namespace.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let report = k8sops_audit::pod_security::pss_report(&server.cluster(), &Default::default()).await?;
/// print!("{report}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PssReport {
    /// The "what would break" level and version.
    pub target: LevelVersion,
    /// Namespaces in name order.
    pub namespaces: Vec<NamespacePss>,
    /// What could not be read: the report is partial.
    pub unreadable: Vec<Unreadable>,
}

impl fmt::Display for PssReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = Table::new([
            "namespace",
            "enforce",
            "warn",
            "audit",
            "pods",
            "violating enforce",
            "strictest possible",
            "fail target",
        ]);
        for ns in &self.namespaces {
            t.row([
                ns.namespace.clone(),
                ns.policy.enforce.to_string(),
                ns.policy.warn.to_string(),
                ns.policy.audit.to_string(),
                ns.pods.len().to_string(),
                ns.pods.iter().filter(|p| !p.admitted()).count().to_string(),
                ns.strictest_level_possible().to_string(),
                ns.would_break().len().to_string(),
            ]);
        }
        write!(f, "{t}")?;
        for ns in &self.namespaces {
            for p in ns.would_break() {
                let reasons: Vec<String> = p.target_violations.iter().map(ToString::to_string).collect();
                writeln!(f, "{}/{} {}: fails {}: {}", ns.namespace, p.kind, p.name, self.target, reasons.join(", "))?;
            }
            for l in &ns.invalid_labels {
                writeln!(f, "{}: invalid label: {l}", ns.namespace)?;
            }
        }
        for u in &self.unreadable {
            writeln!(f, "not read: {u}")?;
        }
        Ok(())
    }
}

/// A workload's spec as JSON (`Null` if it cannot be serialized, which a
/// derived `Serialize` never fails to do).
fn json<T: Serialize>(spec: &T) -> serde_json::Value {
    serde_json::to_value(spec).unwrap_or_default()
}

/// A pod template of a workload, unless the workload is owned by another
/// that is evaluated itself (a Deployment's ReplicaSets, a CronJob's Jobs).
/// `spec` gives the workload's spec as JSON and `pointer` where the template
/// sits in it: going through JSON keeps this independent of whether the
/// chosen Kubernetes version of `k8s-openapi` makes `spec` optional.
fn templates<K>(
    items: Vec<K>,
    kind: &str,
    spec: impl Fn(&K) -> serde_json::Value,
    pointer: &str,
    evaluated_owner: Option<&str>,
) -> Vec<(String, ObjectMeta, PodTemplateSpec)>
where
    K: kube::Resource,
{
    items
        .iter()
        // A Deployment's ReplicaSets and a CronJob's Jobs are evaluated through their
        // owner's template; one owned by anything else (an operator, a rollout
        // controller) is evaluated itself.
        .filter(|o| {
            !o.meta()
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.controller == Some(true) && Some(r.kind.as_str()) == evaluated_owner)
        })
        .filter_map(|o| {
            let template = spec(o).pointer(pointer).cloned()?;
            let template: PodTemplateSpec = serde_json::from_value(template).ok()?;
            Some((kind.to_string(), o.meta().clone(), template))
        })
        .collect()
}

/// Evaluates every pod and workload template against its namespace's
/// enforced Pod Security level and against `params.target`.
///
/// Versions: `latest` (written or defaulted) evaluates as the server's own
/// minor version, as the admission plugin does. Pods and templates are
/// evaluated as that server's admission plugin evaluates them
/// ([`evaluate_pod_on_server`]): its wording, whether restricted checks
/// replace baseline ones, the fields it drops before admission, and (before
/// v1.26) `warn` not following `enforce`.
///
/// # RBAC
/// list on namespaces and pods, and (with `workloads`) deployments,
/// statefulsets, daemonsets, replicasets (`apps`), jobs, cronjobs (`batch`),
/// replicationcontrollers. A list that is forbidden is noted in
/// [`PssReport::unreadable`] and the report covers the rest.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let params = k8sops_audit::pod_security::PssParams { namespace: Some("shop".into()), ..Default::default() };
/// let report = k8sops_audit::pod_security::pss_report(&server.cluster(), &params).await?;
/// assert_eq!(report.namespaces.len(), 1);
/// # Ok(()) }
/// ```
pub async fn pss_report(cluster: &Cluster, params: &PssParams) -> Result<PssReport> {
    let server = cluster.server_version().await?;
    let on_server = ServerVersion::from(&server);
    let target = LevelVersion::new(params.target, params.target_version.on_server(&server));
    let mut unreadable = Vec::new();
    let namespaces: Vec<Namespace> = match &params.namespace {
        Some(ns) => {
            let api: kube::Api<Namespace> = cluster.api_all();
            let what = format!("namespace {ns}");
            match cluster
                .retry_policy()
                .run(|_| async { api.get(ns).await.map_err(|e| cluster.map_err(e, &what)) })
                .await
            {
                Ok(n) => vec![n],
                // A namespace-scoped user often may not read its namespace: evaluate with
                // the default policy and say the labels are unknown.
                Err(e @ k8sops_core::Error::Forbidden { .. }) => {
                    unreadable.push(Unreadable { resource: "namespaces".into(), reason: e.to_string() });
                    Vec::new()
                }
                Err(e) => return Err(e.into()),
            }
        }
        None => list_or_note(cluster, &cluster.api_all(), "namespaces", &mut unreadable).await?,
    };
    let labels_unreadable = unreadable.iter().any(|u| u.resource == "namespaces");
    let mut by_ns: BTreeMap<String, NamespacePss> = namespaces
        .into_iter()
        .filter_map(|n| {
            let name = n.metadata.name?;
            let all = n.metadata.labels.unwrap_or_default();
            let labels: BTreeMap<String, String> = all
                .iter()
                .filter(|(k, _)| k.starts_with("pod-security.kubernetes.io/"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let (mut policy, invalid) = Policy::from_labels_on_server(&labels, &Policy::default(), on_server);
            for lv in [&mut policy.enforce, &mut policy.audit, &mut policy.warn] {
                lv.version = lv.version.on_server(&server);
            }
            let invalid_labels = invalid.iter().map(ToString::to_string).collect();
            let entry = NamespacePss {
                namespace: name.clone(),
                labels,
                policy,
                invalid_labels,
                pods: Vec::new(),
                pods_of_workloads: 0,
            };
            Some((name, entry))
        })
        .collect();
    let verdict = |entry: &NamespacePss,
                   kind: &str,
                   name: &str,
                   meta: &ObjectMeta,
                   spec: &k8s_openapi::api::core::v1::PodSpec| {
        let enforce = entry.policy.enforce;
        PodVerdict {
            kind: kind.to_string(),
            name: name.to_string(),
            highest_level: highest_level_allowed_on_server(meta, spec, enforce.version, on_server),
            enforced_violations: evaluate_pod_on_server(meta, spec, enforce.level, enforce.version, on_server)
                .violations,
            target_violations: evaluate_pod_on_server(meta, spec, target.level, target.version, on_server).violations,
        }
    };
    let scope = params.namespace.as_deref();
    // Pods stream page by page; a pod that a listed workload controls is
    // counted, its template stands for it.
    let workloads = params.workloads;
    for_each_or_note(cluster, &cluster.api_in::<Pod>(scope), "pods", &mut unreadable, |p: Pod| {
        let ns = p.metadata.namespace.clone().unwrap_or_default();
        let Some(e) = entry_mut(&mut by_ns, &ns, labels_unreadable, &server) else { return Ok(()) };
        let controlled = workloads
            && p.metadata.owner_references.iter().flatten().any(|r| {
                r.controller == Some(true)
                    && matches!(
                        r.kind.as_str(),
                        "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" | "ReplicationController"
                    )
            });
        if controlled {
            e.pods_of_workloads += 1;
        } else if let Some(spec) = &p.spec {
            let v = verdict(e, "Pod", p.metadata.name.as_deref().unwrap_or(""), &p.metadata, spec);
            e.pods.push(v);
        }
        Ok(())
    })
    .await?;
    if params.workloads {
        let mut objects: Vec<(String, ObjectMeta, PodTemplateSpec)> = Vec::new();
        let d: Vec<Deployment> =
            list_or_note(cluster, &cluster.api_in(scope), "deployments.apps", &mut unreadable).await?;
        objects.extend(templates(d, "Deployment", |o| json(&o.spec), "/template", None));
        let s: Vec<StatefulSet> =
            list_or_note(cluster, &cluster.api_in(scope), "statefulsets.apps", &mut unreadable).await?;
        objects.extend(templates(s, "StatefulSet", |o| json(&o.spec), "/template", None));
        let ds: Vec<DaemonSet> =
            list_or_note(cluster, &cluster.api_in(scope), "daemonsets.apps", &mut unreadable).await?;
        objects.extend(templates(ds, "DaemonSet", |o| json(&o.spec), "/template", None));
        let rs: Vec<ReplicaSet> =
            list_or_note(cluster, &cluster.api_in(scope), "replicasets.apps", &mut unreadable).await?;
        objects.extend(templates(rs, "ReplicaSet", |o| json(&o.spec), "/template", Some("Deployment")));
        let j: Vec<Job> = list_or_note(cluster, &cluster.api_in(scope), "jobs.batch", &mut unreadable).await?;
        objects.extend(templates(j, "Job", |o| json(&o.spec), "/template", Some("CronJob")));
        let cj: Vec<CronJob> = list_or_note(cluster, &cluster.api_in(scope), "cronjobs.batch", &mut unreadable).await?;
        objects.extend(templates(cj, "CronJob", |o| json(&o.spec), "/jobTemplate/spec/template", None));
        let rc: Vec<ReplicationController> =
            list_or_note(cluster, &cluster.api_in(scope), "replicationcontrollers", &mut unreadable).await?;
        objects.extend(templates(rc, "ReplicationController", |o| json(&o.spec), "/template", None));
        for (kind, meta, template) in objects {
            let ns = meta.namespace.clone().unwrap_or_default();
            let Some(e) = entry_mut(&mut by_ns, &ns, labels_unreadable, &server) else { continue };
            let Some(spec) = template.spec.as_ref() else { continue };
            let tmeta = template.metadata.clone().unwrap_or_default();
            let v = verdict(e, &kind, meta.name.as_deref().unwrap_or(""), &tmeta, spec);
            e.pods.push(v);
        }
    }
    Ok(PssReport { target, namespaces: by_ns.into_values().collect(), unreadable })
}

/// The entry of namespace `ns`; when the namespaces could not be read, one
/// with the default policy is made for it.
fn entry_mut<'a>(
    by_ns: &'a mut BTreeMap<String, NamespacePss>,
    ns: &str,
    labels_unreadable: bool,
    server: &k8sops_core::KubeVersion,
) -> Option<&'a mut NamespacePss> {
    if !by_ns.contains_key(ns) && labels_unreadable {
        let mut policy = Policy::default();
        for lv in [&mut policy.enforce, &mut policy.audit, &mut policy.warn] {
            lv.version = lv.version.on_server(server);
        }
        by_ns.insert(
            ns.to_string(),
            NamespacePss {
                namespace: ns.to_string(),
                labels: BTreeMap::new(),
                policy,
                invalid_labels: vec![
                    "the namespace's labels could not be read: evaluated with the default policy (privileged)".into(),
                ],
                pods: Vec::new(),
                pods_of_workloads: 0,
            },
        );
    }
    by_ns.get_mut(ns)
}

/// The outcome of [`apply_pss_labels`].
///
/// ```
/// let change = k8sops_audit::pod_security::LabelChange { namespace: "shop".into(), dry_run: true,
///     labels: Default::default(), warnings: vec![] };
/// assert!(change.dry_run && change.warnings.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelChange {
    /// Namespace.
    pub namespace: String,
    /// Whether the change was only a server-side dry run.
    pub dry_run: bool,
    /// The namespace's Pod Security labels after the change (as the server returned them).
    pub labels: BTreeMap<String, String>,
    /// The API server's warnings: the `PodSecurity` admission plugin lists
    /// the existing pods that violate the new enforce level.
    pub warnings: Vec<String>,
}

impl fmt::Display for LabelChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels: Vec<String> = self.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let suffix = if self.dry_run { " (server dry run)" } else { "" };
        writeln!(f, "namespace/{} labeled{suffix}: {}", self.namespace, labels.join(","))?;
        for w in &self.warnings {
            writeln!(f, "Warning: {w}")?;
        }
        Ok(())
    }
}

/// Parses `Warning` headers into their texts, as client-go does
/// (`ParseWarningHeaders`): each value may hold several comma-separated
/// warnings `CODE AGENT "TEXT" ["DATE"]`; only code 299 is kept; quoted
/// text has `\"` and `\\` escapes; values are read as UTF-8 (the API server
/// sends non-ASCII text raw).
fn warning_texts(headers: &http::HeaderMap) -> Vec<String> {
    let mut out = Vec::new();
    for value in headers.get_all(http::header::WARNING) {
        let value = String::from_utf8_lossy(value.as_bytes());
        let mut rest = value.trim();
        while !rest.is_empty() {
            let Some((code, after)) = rest.split_once(' ') else { break };
            let Some((_agent, after)) = after.trim_start().split_once(' ') else { break };
            let Some((text, after)) = quoted(after.trim_start()) else { break };
            let mut after = after.trim_start();
            // An optional quoted date.
            if after.starts_with('"') {
                match quoted(after) {
                    Some((_, a)) => after = a.trim_start(),
                    None => break,
                }
            }
            if code == "299" {
                out.push(text);
            }
            rest = after.strip_prefix(',').unwrap_or(after).trim_start();
            if !after.starts_with(',') && !after.is_empty() {
                break;
            }
        }
    }
    out
}

/// A quoted string at the start of `s`, unescaped, and what follows it.
fn quoted(s: &str) -> Option<(String, &str)> {
    let body = s.strip_prefix('"')?;
    let mut text = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => text.push(chars.next()?.1),
            '"' => return Some((text, &body[i + 1..])),
            c => text.push(c),
        }
    }
    None
}

/// Sets a namespace's Pod Security labels (a merge patch: the six labels
/// given are set, others are kept). With [`DryRun::Server`] the server
/// validates and answers without storing anything; the `PodSecurity`
/// admission plugin then warns about every existing pod that would violate
/// the new `enforce` level — run it first, read the warnings, then apply.
/// [`DryRun::Client`] is refused: the warnings only come from the server.
///
/// # RBAC
/// patch on namespaces.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use k8sops_audit::pss::{Level, NamespaceLabels, PolicyVersion};
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// let labels = NamespaceLabels::all(Level::Baseline, PolicyVersion::Latest);
/// let change = k8sops_audit::pod_security::apply_pss_labels(&server.cluster(), "shop", &labels, k8sops_core::DryRun::Server).await?;
/// assert!(change.dry_run);
/// # Ok(()) }
/// ```
pub async fn apply_pss_labels(
    cluster: &Cluster,
    namespace: &str,
    labels: &NamespaceLabels,
    dry_run: DryRun,
) -> Result<LabelChange> {
    if dry_run == DryRun::Client {
        return Err(Error::ClientDryRun);
    }
    // The name goes into the request path: only a valid namespace name (a
    // DNS-1123 label) may, so no subresource or query can ride along.
    let valid = !namespace.is_empty()
        && namespace.len() <= 63
        && namespace.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !namespace.starts_with('-')
        && !namespace.ends_with('-');
    if !valid {
        return Err(k8sops_core::Error::InvalidInput {
            message: format!("{namespace:?} is not a namespace name (lower-case letters, digits and '-', at most 63)"),
            source: None,
        }
        .into());
    }
    let patch = serde_json::json!({"metadata": {"labels": labels.to_labels()}});
    let mut uri = format!("/api/v1/namespaces/{namespace}?fieldManager=k8sops");
    if dry_run == DryRun::Server {
        uri.push_str("&dryRun=All");
    }
    let body = serde_json::to_vec(&patch)
        .map_err(|source| k8sops_core::Error::Decode { what: "the label patch".into(), source })?;
    let what = format!("namespace {namespace}");
    let (ns, warnings) = cluster
        .retry_policy()
        .run(|_| async {
            let req = http::Request::patch(uri.as_str())
                .header(http::header::CONTENT_TYPE, "application/merge-patch+json")
                .header(http::header::ACCEPT, "application/json")
                .body(kube::client::Body::from(body.clone()))
                .map_err(|e| k8sops_core::Error::InvalidInput { message: format!("{what}: {e}"), source: None })?;
            let res = cluster.client().send(req).await.map_err(|e| cluster.map_err(e, &what))?;
            let status = res.status();
            let warnings = warning_texts(res.headers());
            let bytes = res.into_body().collect_bytes().await.map_err(|e| cluster.map_err(e, &what))?;
            if !status.is_success() {
                let st: kube::core::Status = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                    kube::core::Status::failure(&String::from_utf8_lossy(&bytes), "").with_code(status.as_u16())
                });
                return Err(cluster.map_err(kube::Error::Api(st.into()), &what));
            }
            let ns: Namespace = serde_json::from_slice(&bytes)
                .map_err(|source| k8sops_core::Error::Decode { what: what.clone(), source })?;
            Ok((ns, warnings))
        })
        .await?;
    let labels = ns
        .metadata
        .labels
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k.starts_with("pod-security.kubernetes.io/"))
        .collect();
    Ok(LabelChange { namespace: namespace.into(), dry_run: dry_run == DryRun::Server, labels, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_headers_with_dates_commas_and_other_codes() {
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::WARNING,
            r#"299 - "first" "Tue, 15 Nov 1994 08:12:31 GMT", 299 - "second, with a comma""#.parse().unwrap(),
        );
        h.append(http::header::WARNING, r#"199 - "not a 299""#.parse().unwrap());
        h.append(http::header::WARNING, http::HeaderValue::from_bytes("299 - \"caf\u{e9}\"".as_bytes()).unwrap());
        assert_eq!(warning_texts(&h), ["first", "second, with a comma", "caf\u{e9}"]);
    }

    #[test]
    fn warning_headers_are_unquoted() {
        let mut h = http::HeaderMap::new();
        h.append(http::header::WARNING, r#"299 - "existing pods in namespace \"shop\" violate the new PodSecurity enforce level \"restricted:latest\"""#.parse().unwrap());
        h.append(http::header::WARNING, r#"299 - "web-0: privileged""#.parse().unwrap());
        assert_eq!(
            warning_texts(&h),
            [
                r#"existing pods in namespace "shop" violate the new PodSecurity enforce level "restricted:latest""#,
                "web-0: privileged"
            ]
        );
    }
}
