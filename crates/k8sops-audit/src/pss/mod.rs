//! Pod Security Standards: the checks of the `PodSecurity` admission plugin,
//! as pure functions over `k8s-openapi` types.
//!
//! Each check matches upstream's `k8s.io/pod-security-admission/policy`
//! check by check, with the same IDs, forbidden reasons and details, and
//! every revision by policy version (`pod-security.kubernetes.io/enforce-version: v1.24`
//! evaluates as that version's admission did). [`evaluate_pod`] runs the
//! checks of a level, [`Evaluation::warning`] renders the API server's
//! warning, [`NamespaceLabels`] parses and writes the namespace labels, and
//! [`CHECKS`] describes every check for reports.
//!
//! The policy version chooses what the checks forbid; the version of the API
//! server running the admission plugin chooses the rest: older servers word
//! some details differently, list a baseline check next to the restricted
//! check that newer ones replace it with, and drop some pod fields before
//! admission. [`evaluate_pod`] answers as the newest server does;
//! [`evaluate_pod_on_server`] and the other `*_on_server` functions answer
//! as a given [`ServerVersion`] does.
//!
//! ```
//! use k8s_openapi::api::core::v1::{Container, PodSpec, SecurityContext};
//! use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
//! use k8sops_audit::pss::{evaluate_pod, highest_level_allowed, Level, PolicyVersion};
//!
//! let spec = PodSpec {
//!     containers: vec![Container {
//!         name: "app".into(),
//!         security_context: Some(SecurityContext { privileged: Some(true), ..Default::default() }),
//!         ..Default::default()
//!     }],
//!     ..Default::default()
//! };
//! let meta = ObjectMeta::default();
//! let eval = evaluate_pod(&meta, &spec, Level::Baseline, PolicyVersion::Latest);
//! assert!(!eval.allowed());
//! assert_eq!(
//!     eval.warning().as_deref(),
//!     Some(r#"would violate PodSecurity "baseline:latest": privileged (container "app" must not set securityContext.privileged=true)"#)
//! );
//! assert_eq!(highest_level_allowed(&meta, &spec, PolicyVersion::Latest), Level::Privileged);
//! ```

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

mod baseline;
pub(crate) use baseline::BASELINE_CAPABILITIES;
mod checks;
mod format;
mod labels;
mod level;
mod restricted;
mod server;
#[cfg(test)]
mod tests;

pub use checks::{checks_for, CheckInfo, CHECKS};
pub use labels::{
    InvalidLabel, InvalidLabels, NamespaceLabels, Policy, AUDIT_LABEL, AUDIT_VERSION_LABEL, ENFORCE_LABEL,
    ENFORCE_VERSION_LABEL, WARN_LABEL, WARN_VERSION_LABEL,
};
pub use level::{Level, LevelVersion, ParseLevelError, ParseVersionError, PolicyVersion};
pub use server::ServerVersion;

/// The outcome of one check on one pod (upstream's `CheckResult`, with the check's ID and level).
///
/// ```
/// use k8s_openapi::api::core::v1::PodSpec;
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
/// use k8sops_audit::pss::{check_pod, Level, PolicyVersion};
/// let spec = PodSpec { host_network: Some(true), ..Default::default() };
/// let results = check_pod(&ObjectMeta::default(), &spec, Level::Baseline, PolicyVersion::Latest);
/// let host = results.iter().find(|r| r.id == "hostNamespaces").expect("evaluated");
/// assert!(!host.allowed);
/// assert_eq!((host.reason.as_str(), host.detail.as_str()), ("host namespaces", "hostNetwork=true"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// Upstream's check ID.
    pub id: &'static str,
    /// The level that introduces the check.
    pub level: Level,
    /// Whether the pod passes the check.
    pub allowed: bool,
    /// The forbidden reason (empty when allowed), e.g. `privileged`.
    pub reason: String,
    /// The forbidden detail (empty when allowed), e.g. `container "app" must not set securityContext.privileged=true`.
    pub detail: String,
}

/// A failed check: its ID, forbidden reason and detail.
///
/// ```
/// use k8sops_audit::pss::Violation;
/// let v = Violation::new("hostPorts", "hostPort", r#"container "web" uses hostPort 80"#);
/// assert_eq!(v.to_string(), r#"hostPort (container "web" uses hostPort 80)"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Upstream's check ID, e.g. `allowPrivilegeEscalation`.
    pub check: &'static str,
    /// The forbidden reason, e.g. `allowPrivilegeEscalation != false`.
    pub reason: String,
    /// The forbidden detail, e.g. `container "app" must set securityContext.allowPrivilegeEscalation=false`.
    pub detail: String,
}

impl Violation {
    /// A violation of check `check`.
    ///
    /// ```
    /// let v = k8sops_audit::pss::Violation::new("privileged", "privileged", "");
    /// assert_eq!(v.to_string(), "privileged");
    /// ```
    pub fn new(check: &'static str, reason: impl Into<String>, detail: impl Into<String>) -> Self {
        Violation { check, reason: reason.into(), detail: detail.into() }
    }

    /// Upstream's placeholder for a failed check without a reason.
    fn reason_or_unknown(&self) -> &str {
        if self.reason.is_empty() {
            "unknown forbidden reason"
        } else {
            &self.reason
        }
    }
}

impl std::fmt::Display for Violation {
    /// `reason (detail)`, or the reason alone when the detail is empty.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason_or_unknown())?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// The result of evaluating a pod against a level at a policy version.
///
/// ```
/// use k8s_openapi::api::core::v1::PodSpec;
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
/// use k8sops_audit::pss::{evaluate_pod, Level, PolicyVersion};
/// let eval = evaluate_pod(&ObjectMeta::default(), &PodSpec::default(), Level::Baseline, PolicyVersion::V1(24));
/// assert!(eval.allowed());
/// assert_eq!(eval.warning(), None);
/// assert_eq!(eval.level_version().to_string(), "baseline:v1.24");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    /// The level evaluated.
    pub level: Level,
    /// The policy version evaluated, as requested (`latest` stays `latest`).
    pub version: PolicyVersion,
    /// The failed checks, in upstream's order.
    pub violations: Vec<Violation>,
}

impl Evaluation {
    /// Whether the pod satisfies the level (no violation).
    ///
    /// ```
    /// use k8sops_audit::pss::{Evaluation, Level, PolicyVersion};
    /// let eval = Evaluation { level: Level::Restricted, version: PolicyVersion::Latest, violations: vec![] };
    /// assert!(eval.allowed());
    /// ```
    pub fn allowed(&self) -> bool {
        self.violations.is_empty()
    }

    /// The level and version, as printed in messages (`restricted:latest`).
    ///
    /// ```
    /// use k8sops_audit::pss::{Evaluation, Level, PolicyVersion};
    /// let eval = Evaluation { level: Level::Restricted, version: PolicyVersion::Latest, violations: vec![] };
    /// assert_eq!(eval.level_version().to_string(), "restricted:latest");
    /// ```
    pub fn level_version(&self) -> LevelVersion {
        LevelVersion::new(self.level, self.version)
    }

    /// The API server's warning (and `audit-violations` annotation) for a
    /// violating pod, `None` when allowed; see [`forbidden_message`].
    ///
    /// ```
    /// use k8sops_audit::pss::{Evaluation, Level, PolicyVersion, Violation};
    /// let eval = Evaluation {
    ///     level: Level::Baseline,
    ///     version: PolicyVersion::V1(30),
    ///     violations: vec![Violation::new("hostNamespaces", "host namespaces", "hostPID=true")],
    /// };
    /// assert_eq!(
    ///     eval.warning().as_deref(),
    ///     Some(r#"would violate PodSecurity "baseline:v1.30": host namespaces (hostPID=true)"#)
    /// );
    /// ```
    pub fn warning(&self) -> Option<String> {
        (!self.allowed()).then(|| forbidden_message(self.level, self.version, &self.violations))
    }

    /// The reason the API server gives when `enforce` rejects the pod
    /// (`violates PodSecurity "restricted:latest": ...`), `None` when allowed.
    /// The API server prefixes it with `pods "<name>" is forbidden: `.
    ///
    /// ```
    /// use k8sops_audit::pss::{Evaluation, Level, PolicyVersion, Violation};
    /// let eval = Evaluation {
    ///     level: Level::Baseline,
    ///     version: PolicyVersion::Latest,
    ///     violations: vec![Violation::new("hostNamespaces", "host namespaces", "hostNetwork=true")],
    /// };
    /// assert_eq!(
    ///     eval.enforce_message().as_deref(),
    ///     Some(r#"violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)"#)
    /// );
    /// ```
    pub fn enforce_message(&self) -> Option<String> {
        (!self.allowed()).then(|| {
            format!("violates PodSecurity {}: {}", quoted(self.level, self.version), forbidden_detail(&self.violations))
        })
    }
}

fn quoted(level: Level, version: PolicyVersion) -> String {
    // Go's %q of `level:version`; neither part can contain characters needing escapes.
    format!("\"{}\"", LevelVersion::new(level, version))
}

/// Runs every check of `level` at `version` on a pod, passing or not, in
/// upstream's order (upstream's `EvaluatePod`). Restricted includes the
/// baseline checks that no restricted check overrides; privileged runs none.
///
/// ```
/// use k8s_openapi::api::core::v1::PodSpec;
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
/// use k8sops_audit::pss::{check_pod, Level, PolicyVersion};
/// let results = check_pod(&ObjectMeta::default(), &PodSpec::default(), Level::Restricted, PolicyVersion::Latest);
/// assert!(results.iter().all(|r| r.allowed)); // no containers, no volumes: nothing to forbid
/// assert_eq!(results.len(), 15);
/// ```
pub fn check_pod(meta: &ObjectMeta, spec: &PodSpec, level: Level, version: PolicyVersion) -> Vec<CheckResult> {
    check_pod_on_server(meta, spec, level, version, ServerVersion::NEWEST)
}

/// Runs every check of `level` at `version` on a pod as an API server of
/// version `server` does: `version` is capped at the server's minor
/// ([`ServerVersion::policy_version`]), the fields the server drops before
/// admission are ignored, servers before v1.24.0-alpha.3 run the baseline
/// checks at restricted without overrides, and details are worded as the
/// server words them. `server` is a [`ServerVersion`] or a
/// `&k8sops_core::KubeVersion`.
///
/// ```
/// use k8s_openapi::api::core::v1::PodSpec;
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
/// use k8sops_audit::pss::{check_pod_on_server, Level, PolicyVersion, ServerVersion};
/// let (meta, spec) = (ObjectMeta::default(), PodSpec::default());
/// let ids = |server| -> Vec<&str> {
///     check_pod_on_server(&meta, &spec, Level::Restricted, PolicyVersion::Latest, server)
///         .iter().map(|r| r.id).collect()
/// };
/// assert!(ids(ServerVersion::new(23)).contains(&"hostPathVolumes"));
/// assert!(!ids(ServerVersion::new(24)).contains(&"hostPathVolumes"));
/// ```
pub fn check_pod_on_server(
    meta: &ObjectMeta,
    spec: &PodSpec,
    level: Level,
    version: PolicyVersion,
    server: impl Into<ServerVersion>,
) -> Vec<CheckResult> {
    let server = server.into();
    let admitted = server.admitted_spec(spec);
    let spec = admitted.as_ref().unwrap_or(spec);
    checks::active(level, server.policy_version(version), server)
        .map(|(info, check)| {
            let (allowed, reason, detail) = match check(meta, spec) {
                None => (true, String::new(), String::new()),
                Some(forbidden) => (false, forbidden.reason, forbidden.detail),
            };
            CheckResult { id: info.id, level: info.level, allowed, reason, detail }
        })
        .collect()
}

/// Evaluates a pod against `level` at `version`, as the admission plugin of
/// the newest API server does for a namespace's `enforce`, `audit` or `warn`
/// mode ([`evaluate_pod_on_server`] with [`ServerVersion::NEWEST`]).
///
/// ```
/// use k8s_openapi::api::core::v1::{Container, PodSpec};
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
/// use k8sops_audit::pss::{evaluate_pod, Level, PolicyVersion};
/// let spec = PodSpec { containers: vec![Container { name: "app".into(), ..Default::default() }], ..Default::default() };
/// let eval = evaluate_pod(&ObjectMeta::default(), &spec, Level::Restricted, PolicyVersion::Latest);
/// let checks: Vec<&str> = eval.violations.iter().map(|v| v.check).collect();
/// assert_eq!(checks, ["allowPrivilegeEscalation", "capabilities_restricted", "runAsNonRoot", "seccompProfile_restricted"]);
/// assert!(evaluate_pod(&ObjectMeta::default(), &spec, Level::Baseline, PolicyVersion::Latest).allowed());
/// ```
pub fn evaluate_pod(meta: &ObjectMeta, spec: &PodSpec, level: Level, version: PolicyVersion) -> Evaluation {
    evaluate_pod_on_server(meta, spec, level, version, ServerVersion::NEWEST)
}

/// Evaluates a pod against `level` at `version` as the admission plugin of
/// an API server of version `server` does (see [`check_pod_on_server`]).
/// The evaluation keeps `version` as requested, so its messages print the
/// label as written (`restricted:latest`), as the server prints them.
///
/// ```
/// use k8s_openapi::api::core::v1::{Container, HostPathVolumeSource, PodSpec, Volume};
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
/// use k8sops_audit::pss::{evaluate_pod_on_server, Level, PolicyVersion};
/// use k8sops_core::KubeVersion;
/// let spec = PodSpec {
///     containers: vec![Container { name: "app".into(), ..Default::default() }],
///     volumes: Some(vec![Volume {
///         name: "root".into(),
///         host_path: Some(HostPathVolumeSource { path: "/".into(), type_: None }),
///         ..Default::default()
///     }]),
///     ..Default::default()
/// };
/// let reasons = |server: &str| -> Vec<String> {
///     let server: KubeVersion = server.parse().unwrap();
///     let eval = evaluate_pod_on_server(&ObjectMeta::default(), &spec, Level::Restricted, PolicyVersion::Latest, &server);
///     assert_eq!(eval.version, PolicyVersion::Latest);
///     eval.violations.into_iter().map(|v| v.reason).collect()
/// };
/// // v1.24.0-alpha.1 still reports the baseline check that restrictedVolumes replaces in v1.24.0.
/// assert_eq!(reasons("v1.24.0-alpha.1")[0], "hostPath volumes");
/// assert!(!reasons("v1.24.0").contains(&"hostPath volumes".to_string()));
/// ```
pub fn evaluate_pod_on_server(
    meta: &ObjectMeta,
    spec: &PodSpec,
    level: Level,
    version: PolicyVersion,
    server: impl Into<ServerVersion>,
) -> Evaluation {
    let violations = check_pod_on_server(meta, spec, level, version, server)
        .into_iter()
        .filter(|r| !r.allowed)
        .map(|r| Violation { check: r.id, reason: r.reason, detail: r.detail })
        .collect();
    Evaluation { level, version, violations }
}

/// The strictest level whose admission at `version` would allow the pod:
/// restricted, else baseline, else privileged.
///
/// ```
/// use k8s_openapi::api::core::v1::{Container, PodSpec};
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
/// use k8sops_audit::pss::{highest_level_allowed, Level, PolicyVersion};
/// let spec = PodSpec { containers: vec![Container { name: "app".into(), ..Default::default() }], ..Default::default() };
/// assert_eq!(highest_level_allowed(&ObjectMeta::default(), &spec, PolicyVersion::Latest), Level::Baseline);
/// ```
pub fn highest_level_allowed(meta: &ObjectMeta, spec: &PodSpec, version: PolicyVersion) -> Level {
    highest_level_allowed_on_server(meta, spec, version, ServerVersion::NEWEST)
}

/// The strictest level whose admission at `version` on an API server of
/// version `server` would allow the pod (see [`check_pod_on_server`]).
///
/// ```
/// use k8s_openapi::api::core::v1::{Container, PodSpec, SecurityContext};
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
/// use k8sops_audit::pss::{highest_level_allowed_on_server, Level, PolicyVersion, ServerVersion};
/// let spec = PodSpec {
///     containers: vec![Container {
///         name: "app".into(),
///         security_context: Some(SecurityContext { proc_mount: Some("Unmasked".into()), ..Default::default() }),
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// let meta = ObjectMeta::default();
/// // Before v1.33 the server drops procMount (feature gate ProcMountType off by default).
/// assert_eq!(highest_level_allowed_on_server(&meta, &spec, PolicyVersion::Latest, ServerVersion::new(32)), Level::Baseline);
/// assert_eq!(highest_level_allowed_on_server(&meta, &spec, PolicyVersion::Latest, ServerVersion::new(33)), Level::Privileged);
/// ```
pub fn highest_level_allowed_on_server(
    meta: &ObjectMeta,
    spec: &PodSpec,
    version: PolicyVersion,
    server: impl Into<ServerVersion>,
) -> Level {
    let server = server.into();
    [Level::Restricted, Level::Baseline]
        .into_iter()
        .find(|level| evaluate_pod_on_server(meta, spec, *level, version, server).allowed())
        .unwrap_or(Level::Privileged)
}

/// The forbidden reasons joined by `, ` (upstream's `AggregateCheckResult.ForbiddenReason`),
/// as listed per pod when a namespace's enforce level is raised.
///
/// ```
/// use k8sops_audit::pss::{forbidden_reason, Violation};
/// let violations = [
///     Violation::new("hostPorts", "hostPort", r#"container "web" uses hostPort 80"#),
///     Violation::new("privileged", "privileged", r#"container "web" must not set securityContext.privileged=true"#),
/// ];
/// assert_eq!(forbidden_reason(&violations), "hostPort, privileged");
/// ```
pub fn forbidden_reason(violations: &[Violation]) -> String {
    violations.iter().map(Violation::reason_or_unknown).collect::<Vec<_>>().join(", ")
}

/// Each forbidden reason followed by ` (detail)` when the detail is not
/// empty, joined by `, ` (upstream's `AggregateCheckResult.ForbiddenDetail`).
///
/// ```
/// use k8sops_audit::pss::{forbidden_detail, Violation};
/// let violations = [
///     Violation::new("hostNamespaces", "host namespaces", "hostNetwork=true"),
///     Violation::new("sysctls", "forbidden sysctls", ""),
/// ];
/// assert_eq!(forbidden_detail(&violations), "host namespaces (hostNetwork=true), forbidden sysctls");
/// ```
pub fn forbidden_detail(violations: &[Violation]) -> String {
    violations.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// The API server's warning for a pod with these violations under `level:version`:
/// `would violate PodSecurity "<level>:<version>": <forbidden_detail>`. The
/// same text is the `pod-security.kubernetes.io/audit-violations` audit annotation.
///
/// ```
/// use k8sops_audit::pss::{forbidden_message, Level, PolicyVersion, Violation};
/// let violations = [
///     Violation::new("allowPrivilegeEscalation", "allowPrivilegeEscalation != false",
///         r#"container "app" must set securityContext.allowPrivilegeEscalation=false"#),
///     Violation::new("runAsNonRoot", "runAsNonRoot != true",
///         r#"pod or container "app" must set securityContext.runAsNonRoot=true"#),
/// ];
/// assert_eq!(
///     forbidden_message(Level::Restricted, PolicyVersion::Latest, &violations),
///     r#"would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true)"#
/// );
/// ```
pub fn forbidden_message(level: Level, version: PolicyVersion, violations: &[Violation]) -> String {
    format!("would violate PodSecurity {}: {}", quoted(level, version), forbidden_detail(violations))
}

/// The warnings the API server returns when a namespace's `enforce` label is
/// changed to `enforce` while these pods run in it (upstream's
/// `EvaluatePodsInNamespace`): a header when any pod violates, then one line
/// per distinct [`forbidden_reason`], prefixed with the lexically first pod
/// name and the count of other pods, sorted. Pods are `(name, evaluation at
/// enforce)`; upstream's cap of 3,000 pods and one second is not applied.
///
/// ```
/// use k8sops_audit::pss::{namespace_warnings, Evaluation, Level, LevelVersion, PolicyVersion, Violation};
/// let enforce = LevelVersion::new(Level::Baseline, PolicyVersion::Latest);
/// let bad = Evaluation {
///     level: Level::Baseline,
///     version: PolicyVersion::Latest,
///     violations: vec![Violation::new("hostNamespaces", "host namespaces", "hostNetwork=true")],
/// };
/// let ok = Evaluation { violations: vec![], ..bad.clone() };
/// let warnings = namespace_warnings("shop", enforce, [("web-2", &bad), ("web-1", &bad), ("db-0", &ok)]);
/// assert_eq!(warnings, [
///     r#"existing pods in namespace "shop" violate the new PodSecurity enforce level "baseline:latest""#,
///     "web-1 (and 1 other pod): host namespaces",
/// ]);
/// ```
pub fn namespace_warnings<'a>(
    namespace: &str,
    enforce: LevelVersion,
    pods: impl IntoIterator<Item = (&'a str, &'a Evaluation)>,
) -> Vec<String> {
    // warning -> (lexically first pod name, pod count)
    let mut by_warning: BTreeMap<String, (&str, usize)> = BTreeMap::new();
    for (name, eval) in pods {
        if eval.allowed() {
            continue;
        }
        let entry = by_warning.entry(forbidden_reason(&eval.violations)).or_insert((name, 0));
        if name < entry.0 {
            entry.0 = name;
        }
        entry.1 += 1;
    }
    if by_warning.is_empty() {
        return Vec::new();
    }
    let mut pod_warnings: Vec<String> = by_warning
        .into_iter()
        .map(|(warning, (name, count))| match count {
            1 => format!("{name}: {warning}"),
            2 => format!("{name} (and 1 other pod): {warning}"),
            n => format!("{name} (and {} other pods): {warning}", n.saturating_sub(1)),
        })
        .collect();
    pod_warnings.sort();
    let header = format!(
        "existing pods in namespace {} violate the new PodSecurity enforce level {}",
        format::go_quote(namespace),
        quoted(enforce.level, enforce.version)
    );
    std::iter::once(header).chain(pod_warnings).collect()
}

/// The warnings an API server of version `server` returns when a namespace's
/// `enforce` label is changed to `enforce` while these pods run in it: each
/// pod is evaluated as [`evaluate_pod_on_server`] does, then grouped as
/// [`namespace_warnings`] does. Pods are `(name, metadata, spec)`.
///
/// ```
/// use k8s_openapi::api::core::v1::{Container, PodSpec, SecurityContext};
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
/// use k8sops_audit::pss::{namespace_warnings_on_server, Level, LevelVersion, PolicyVersion, ServerVersion};
/// let spec = PodSpec {
///     containers: vec![Container {
///         name: "app".into(),
///         security_context: Some(SecurityContext {
///             capabilities: Some(k8s_openapi::api::core::v1::Capabilities {
///                 add: Some(vec!["SYS_ADMIN".into()]),
///                 drop: None,
///             }),
///             ..Default::default()
///         }),
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// let meta = ObjectMeta::default();
/// let enforce = LevelVersion::new(Level::Restricted, PolicyVersion::Latest);
/// let warnings = namespace_warnings_on_server("shop", enforce, [("web-0", &meta, &spec)], ServerVersion::new(23));
/// assert_eq!(warnings, [
///     r#"existing pods in namespace "shop" violate the new PodSecurity enforce level "restricted:latest""#,
///     "web-0: non-default capabilities, allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile",
/// ]);
/// ```
pub fn namespace_warnings_on_server<'a>(
    namespace: &str,
    enforce: LevelVersion,
    pods: impl IntoIterator<Item = (&'a str, &'a ObjectMeta, &'a PodSpec)>,
    server: impl Into<ServerVersion>,
) -> Vec<String> {
    let server = server.into();
    let evaluations: Vec<(&str, Evaluation)> = pods
        .into_iter()
        .map(|(name, meta, spec)| (name, evaluate_pod_on_server(meta, spec, enforce.level, enforce.version, server)))
        .collect();
    namespace_warnings(namespace, enforce, evaluations.iter().map(|(name, eval)| (*name, eval)))
}
