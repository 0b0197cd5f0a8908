//! `kubectl auth can-i` (kubectl 1.32, `pkg/cmd/auth/cani.go`) as a library:
//! the same argument checks and messages, the same resource resolution
//! through discovery (kubectl's RESTMapper with short names, singular names,
//! `resource.group` and `resource.version.group`), the same warnings, the
//! same SelfSubjectAccessReview / SelfSubjectRulesReview, and the same
//! output and exit code — answered by the API server or offline by the RBAC
//! evaluator of [`crate::rbac`].
//!
//! The steps: [`CanIArgs`] holds the command line, [`resolve`] turns it into
//! a [`Resolved`] request using a [`Discovered`] list of served resources
//! ([`discover`] reads it from a cluster), [`answer_server`] /
//! [`answer_offline`] answer a check and [`CanIAnswer::stdout`] prints it;
//! for `--list`, [`rules_server`] or [`RbacSnapshot::rules_for`] and
//! [`list_output`]. [`run`] and [`run_offline`] do all of it and return what
//! kubectl would print and its exit code.
//!
//! ```
//! use k8sops_audit::can_i::{resolve, run_offline, CanIArgs, Discovered, Resolved, ServedResource};
//! use k8sops_audit::rbac::{RbacSnapshot, UserInfo};
//! let discovery = Discovered::new()
//!     .with_resource("", "v1", ServedResource::new("pods", "pod", "Pod", true).short_names(["po"]))
//!     .with_resource("", "v1", ServedResource::new("nodes", "node", "Node", false).short_names(["no"]));
//! // kubectl auth can-i list po -n shop
//! let args = CanIArgs::check("list", "po").in_namespace("shop");
//! let Resolved::Check(request) = resolve(&args, "default", &discovery)? else { unreachable!() };
//! assert_eq!((request.attributes.resource.as_str(), request.attributes.namespace.as_str()), ("pods", "shop"));
//! // kubectl auth can-i get nodes: nodes are cluster-scoped, kubectl warns and asks anyway.
//! let alice = UserInfo::impersonated("alice", &[] as &[&str]);
//! let out = run_offline(&RbacSnapshot::default(), &alice, &CanIArgs::check("get", "nodes"), "default", &discovery);
//! assert_eq!(out.stderr, "Warning: resource 'nodes' is not namespace scoped\n\n");
//! assert_eq!((out.stdout.as_str(), out.exit_code), ("no\n", 1));
//! # Ok::<(), k8sops_audit::can_i::CanIError>(())
//! ```

use std::fmt::Write as _;

use crate::go_fmt::quote as go_quote;

use futures::{stream, StreamExt};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    SelfSubjectRulesReview, SelfSubjectRulesReviewSpec, SubjectAccessReview, SubjectAccessReviewSpec,
    SubjectAccessReviewStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource;
use k8sops_core::Cluster;
use kube::api::{Api, PostParams};

use crate::rbac::{
    can_i_list_warning, render_can_i_list, render_can_i_list_no_headers, Attributes, RbacSnapshot, RulesReview,
    UserInfo, ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, ANONYMOUS,
};

/// kubectl's `resourceVerbs`: verbs it does not warn about for a resource.
const RESOURCE_VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "use",
    "bind",
    "impersonate",
    "*",
    "approve",
    "sign",
    "escalate",
    "attest",
];

/// kubectl's `nonResourceURLVerbs`: verbs it does not warn about for a URL.
const NON_RESOURCE_URL_VERBS: &[&str] = &["get", "put", "post", "head", "options", "delete", "patch", "*"];

/// kubectl's `nonStandardResourceNames`: served but not in discovery, so no
/// "doesn't have a resource type" warning.
const NON_STANDARD_RESOURCE_NAMES: &[&str] = &["users", "groups"];

/// How many group-version resource lists [`discover`] fetches at once.
const DISCOVERY_CONCURRENCY: usize = 8;

/// The command line of `kubectl auth can-i`: the positional arguments
/// (`VERB` and `TYPE`, `TYPE/NAME`, `TYPE.GROUP[/NAME]` or a `/URL`) and
/// the flags. A clap front end maps its two optional positionals and the
/// flags onto the fields (clap itself refuses a third positional).
///
/// ```
/// use k8sops_audit::can_i::CanIArgs;
/// // kubectl auth can-i get pods --subresource=log -n shop
/// let args = CanIArgs::check("get", "pods").subresource("log").in_namespace("shop");
/// assert_eq!(args.subresource.as_deref(), Some("log"));
/// // kubectl auth can-i --list --no-headers
/// let list = CanIArgs::list().no_headers();
/// assert!(list.list && list.verb.is_none());
/// assert!(list.validate().is_ok());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CanIArgs {
    /// The first positional argument, `VERB` (sent as given, not lower-cased).
    pub verb: Option<String>,
    /// The second positional argument: `pods`, `po`, `pods/web`,
    /// `deployments.apps`, `deployments.v1.apps/web`, `*` or a non-resource
    /// URL such as `/logs/` (anything starting with `/`).
    pub resource_arg: Option<String>,
    /// `--subresource`, e.g. `log` or `scale` (`None` or `""`: not set).
    pub subresource: Option<String>,
    /// `-n/--namespace` (`None` or `""`: the kubeconfig context's namespace).
    pub namespace: Option<String>,
    /// `-A/--all-namespaces`: ask for all namespaces (an empty namespace).
    pub all_namespaces: bool,
    /// `--list`: list every allowed action in the namespace.
    pub list: bool,
    /// `--no-headers` (only with `--list`).
    pub no_headers: bool,
    /// `-q/--quiet`: print nothing, only set the exit code.
    pub quiet: bool,
}

impl CanIArgs {
    /// `kubectl auth can-i VERB RESOURCE_ARG`.
    ///
    /// ```
    /// use k8sops_audit::can_i::CanIArgs;
    /// let args = CanIArgs::check("list", "deployments.apps");
    /// assert_eq!(args.resource_arg.as_deref(), Some("deployments.apps"));
    /// ```
    pub fn check(verb: impl Into<String>, resource_arg: impl Into<String>) -> Self {
        Self { verb: Some(verb.into()), resource_arg: Some(resource_arg.into()), ..Self::default() }
    }

    /// `kubectl auth can-i --list`.
    ///
    /// ```
    /// use k8sops_audit::can_i::CanIArgs;
    /// assert!(CanIArgs::list().list);
    /// ```
    pub fn list() -> Self {
        Self { list: true, ..Self::default() }
    }

    /// The same with `-n namespace`.
    ///
    /// ```
    /// use k8sops_audit::can_i::CanIArgs;
    /// assert_eq!(CanIArgs::list().in_namespace("shop").namespace.as_deref(), Some("shop"));
    /// ```
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// The same with `-A`.
    ///
    /// ```
    /// use k8sops_audit::can_i::CanIArgs;
    /// assert!(CanIArgs::check("create", "pods").all_namespaces().all_namespaces);
    /// ```
    pub fn all_namespaces(mut self) -> Self {
        self.all_namespaces = true;
        self
    }

    /// The same with `--subresource`.
    ///
    /// ```
    /// use k8sops_audit::can_i::CanIArgs;
    /// assert_eq!(CanIArgs::check("get", "pods").subresource("log").subresource.as_deref(), Some("log"));
    /// ```
    pub fn subresource(mut self, subresource: impl Into<String>) -> Self {
        self.subresource = Some(subresource.into());
        self
    }

    /// The same with `-q`.
    ///
    /// ```
    /// use k8sops_audit::can_i::CanIArgs;
    /// assert!(CanIArgs::check("get", "pods").quiet().quiet);
    /// ```
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// The same with `--no-headers`.
    ///
    /// ```
    /// use k8sops_audit::can_i::CanIArgs;
    /// assert!(CanIArgs::list().no_headers().no_headers);
    /// ```
    pub fn no_headers(mut self) -> Self {
        self.no_headers = true;
        self
    }

    /// The namespace kubectl sends: `""` with `-A` (even with `-n`), else
    /// `-n` when not empty, else `default_namespace` (the kubeconfig
    /// context's namespace, [`Cluster::default_namespace`]), else `default`.
    ///
    /// ```
    /// use k8sops_audit::can_i::CanIArgs;
    /// assert_eq!(CanIArgs::list().effective_namespace("team-a"), "team-a");
    /// assert_eq!(CanIArgs::list().effective_namespace(""), "default");
    /// assert_eq!(CanIArgs::list().in_namespace("shop").effective_namespace("team-a"), "shop");
    /// assert_eq!(CanIArgs::check("get", "pods").in_namespace("shop").all_namespaces().effective_namespace("x"), "");
    /// ```
    pub fn effective_namespace(&self, default_namespace: &str) -> String {
        if self.all_namespaces {
            return String::new();
        }
        match self.namespace.as_deref().filter(|ns| !ns.is_empty()) {
            Some(ns) => ns.to_owned(),
            None if default_namespace.is_empty() => "default".to_owned(),
            None => default_namespace.to_owned(),
        }
    }

    /// kubectl's argument checks that need no discovery, in kubectl's order
    /// (`Complete`, then `Validate`): `--list` with arguments, not exactly
    /// two arguments, `--list` with `-q`, `-A` or `--subresource`,
    /// `--subresource` with a URL, `--no-headers` without `--list`.
    /// [`resolve`] makes the same checks.
    ///
    /// ```
    /// use k8sops_audit::can_i::{CanIArgs, CanIError};
    /// let err = CanIArgs { verb: Some("get".into()), ..Default::default() }.validate().unwrap_err();
    /// assert!(matches!(err, CanIError::ArgumentCount));
    /// assert_eq!(
    ///     CanIArgs::list().quiet().validate().unwrap_err().to_string(),
    ///     "list option can't be specified with neither quiet, all-namespaces nor subresource options"
    /// );
    /// assert!(CanIArgs::check("get", "/logs").validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), CanIError> {
        self.complete_checks()?;
        if self.list {
            return self.list_checks();
        }
        if self.is_non_resource_url() && self.has_subresource() {
            return Err(CanIError::SubresourceWithNonResourceUrl);
        }
        if self.no_headers {
            return Err(CanIError::NoHeadersWithoutList { warnings: Vec::new() });
        }
        Ok(())
    }

    /// `Complete`: the number of positional arguments.
    fn complete_checks(&self) -> Result<(), CanIError> {
        if self.list {
            if self.verb.is_some() || self.resource_arg.is_some() {
                return Err(CanIError::ListWithArguments);
            }
        } else if self.verb.is_none() || self.resource_arg.is_none() {
            return Err(CanIError::ArgumentCount);
        }
        Ok(())
    }

    /// `Validate` for `--list`.
    fn list_checks(&self) -> Result<(), CanIError> {
        if self.quiet || self.all_namespaces || self.has_subresource() {
            return Err(CanIError::ListWithOptions);
        }
        Ok(())
    }

    fn has_subresource(&self) -> bool {
        self.subresource.as_deref().is_some_and(|s| !s.is_empty())
    }

    fn is_non_resource_url(&self) -> bool {
        self.resource_arg.as_deref().is_some_and(|a| a.starts_with('/'))
    }

    /// Whether [`resolve`] will look the resource up in discovery (a check
    /// on a resource other than `*` that passes the argument count).
    ///
    /// ```
    /// use k8sops_audit::can_i::CanIArgs;
    /// assert!(CanIArgs::check("get", "pods").needs_discovery());
    /// assert!(!CanIArgs::check("get", "/healthz").needs_discovery());
    /// ```
    pub fn needs_discovery(&self) -> bool {
        if self.complete_checks().is_err() || self.list {
            return false;
        }
        match self.resource_arg.as_deref() {
            Some(arg) => {
                let token = arg.split_once('/').map_or(arg, |(t, _)| t);
                !arg.starts_with('/') && token != "*"
            }
            None => false,
        }
    }
}

/// The errors `kubectl auth can-i` stops with, with kubectl's messages.
/// kubectl prints them as `error: <message>` on standard error and exits 1
/// ([`CanIError::stderr`], [`CanIError::exit_code`]).
///
/// ```
/// use k8sops_audit::can_i::CanIError;
/// let e = CanIError::SubresourceWithNonResourceUrl;
/// assert_eq!(e.stderr(), "error: --subresource can not be used with NonResourceURL\n");
/// assert_eq!(e.exit_code(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanIError {
    /// `--list` with positional arguments.
    #[error("list option must be specified with no arguments")]
    ListWithArguments,
    /// Without `--list`, not exactly two positional arguments. The message
    /// has kubectl's second line, the pointer to `-h`.
    #[error(
        "you must specify two arguments: verb resource or verb resource/resourceName.\nSee 'kubectl auth can-i -h' for help and examples."
    )]
    ArgumentCount,
    /// `--list` with `-q`, `-A` or `--subresource`.
    #[error("list option can't be specified with neither quiet, all-namespaces nor subresource options")]
    ListWithOptions,
    /// `--subresource` with a non-resource URL.
    #[error("--subresource can not be used with NonResourceURL")]
    SubresourceWithNonResourceUrl,
    /// `--no-headers` without `--list`. kubectl finds this last, after the
    /// resource was resolved, so the warnings it printed before are kept.
    #[error("--no-headers cannot be set without --list specified")]
    NoHeadersWithoutList {
        /// The warnings printed before the error (see [`CanIRequest::warnings`]).
        warnings: Vec<String>,
    },
}

impl CanIError {
    /// What kubectl writes to standard error: the warnings it printed
    /// before, then `error: <message>` and a newline.
    ///
    /// ```
    /// use k8sops_audit::can_i::CanIError;
    /// let e = CanIError::NoHeadersWithoutList { warnings: vec!["Warning: verb 'frob' is not a known verb\n\n".into()] };
    /// assert_eq!(e.stderr(), "Warning: verb 'frob' is not a known verb\n\nerror: --no-headers cannot be set without --list specified\n");
    /// ```
    pub fn stderr(&self) -> String {
        let mut out = match self {
            Self::NoHeadersWithoutList { warnings } => warnings.concat(),
            _ => String::new(),
        };
        let _ = writeln!(out, "error: {self}");
        out
    }

    /// kubectl's exit code for these errors: 1.
    ///
    /// ```
    /// assert_eq!(k8sops_audit::can_i::CanIError::ArgumentCount.exit_code(), 1);
    /// ```
    pub fn exit_code(&self) -> i32 {
        1
    }
}

/// What a command line asks: one access check, or (`--list`) the rules
/// in a namespace.
///
/// ```
/// use k8sops_audit::can_i::{resolve, CanIArgs, Discovered, Resolved};
/// let list = resolve(&CanIArgs::list().in_namespace("shop"), "default", &Discovered::new())?;
/// assert_eq!(list, Resolved::List { namespace: "shop".into() });
/// # Ok::<(), k8sops_audit::can_i::CanIError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// A SelfSubjectAccessReview to make.
    Check(CanIRequest),
    /// A SelfSubjectRulesReview to make in this namespace (`--list`).
    List {
        /// The namespace ([`CanIArgs::effective_namespace`]).
        namespace: String,
    },
}

impl Resolved {
    /// The access check, `None` for `--list`.
    ///
    /// ```
    /// use k8sops_audit::can_i::{resolve, CanIArgs, Discovered};
    /// let r = resolve(&CanIArgs::check("get", "/healthz"), "default", &Discovered::new())?;
    /// assert_eq!(r.check().map(|c| c.attributes.path.as_str()), Some("/healthz"));
    /// # Ok::<(), k8sops_audit::can_i::CanIError>(())
    /// ```
    pub fn check(&self) -> Option<&CanIRequest> {
        match self {
            Self::Check(request) => Some(request),
            Self::List { .. } => None,
        }
    }
}

/// One access check as kubectl sends it, and the warnings kubectl printed
/// while building it.
///
/// ```
/// use k8sops_audit::can_i::{resolve, CanIArgs, Discovered};
/// let r = resolve(&CanIArgs::check("get", "widgets"), "default", &Discovered::new())?;
/// let request = r.check().unwrap();
/// assert_eq!(request.attributes.resource, "widgets");
/// assert_eq!(request.stderr(), "Warning: the server doesn't have a resource type 'widgets'\n\n");
/// # Ok::<(), k8sops_audit::can_i::CanIError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanIRequest {
    /// What the SelfSubjectAccessReview asks: for a resource its namespace,
    /// verb, group, resource, subresource and name (`resourceAttributes`;
    /// the version is not sent); for a URL the path and verb
    /// (`nonResourceAttributes`).
    pub attributes: Attributes,
    /// The warnings, each exactly as kubectl 1.32 writes it to standard
    /// error without colours: `Warning: <message>\n`, and for kubectl's own
    /// can-i warnings a second `\n` (their text ends in a newline to which
    /// the warning printer adds another), e.g.
    /// `Warning: resource 'nodes' is not namespace scoped\n\n`. Short-name
    /// ambiguity warnings come from the RESTMapper and have one newline.
    pub warnings: Vec<String>,
}

impl CanIRequest {
    /// All warnings, as kubectl prints them to standard error.
    ///
    /// ```
    /// use k8sops_audit::can_i::{resolve, CanIArgs, Discovered};
    /// let r = resolve(&CanIArgs::check("get", "pods"), "default", &Discovered::new())?;
    /// assert!(r.check().unwrap().stderr().starts_with("Warning: the server doesn't have"));
    /// # Ok::<(), k8sops_audit::can_i::CanIError>(())
    /// ```
    pub fn stderr(&self) -> String {
        self.warnings.concat()
    }
}

/// One served resource of a group version, as discovery lists it
/// (`metav1.APIResource`).
///
/// ```
/// use k8sops_audit::can_i::ServedResource;
/// let deployments = ServedResource::new("deployments", "deployment", "Deployment", true).short_names(["deploy"]);
/// assert_eq!(deployments.short_names, ["deploy"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServedResource {
    /// The plural name, e.g. `deployments`, or `pods/log` for a subresource.
    pub name: String,
    /// The singular name, e.g. `deployment`; empty on old servers and for
    /// subresources (kubectl then guesses it from the kind).
    pub singular_name: String,
    /// The kind, e.g. `Deployment`.
    pub kind: String,
    /// Short names, e.g. `deploy`.
    pub short_names: Vec<String>,
    /// Whether the resource lives in namespaces.
    pub namespaced: bool,
    /// The verbs it supports.
    pub verbs: Vec<String>,
}

impl ServedResource {
    /// A resource with these names and scope, no short names and no verbs.
    ///
    /// ```
    /// use k8sops_audit::can_i::ServedResource;
    /// let nodes = ServedResource::new("nodes", "node", "Node", false);
    /// assert!(!nodes.namespaced && nodes.short_names.is_empty());
    /// ```
    pub fn new(
        name: impl Into<String>,
        singular_name: impl Into<String>,
        kind: impl Into<String>,
        namespaced: bool,
    ) -> Self {
        Self {
            name: name.into(),
            singular_name: singular_name.into(),
            kind: kind.into(),
            namespaced,
            ..Self::default()
        }
    }

    /// The same with these short names.
    ///
    /// ```
    /// use k8sops_audit::can_i::ServedResource;
    /// let crds = ServedResource::new("customresourcedefinitions", "customresourcedefinition", "CustomResourceDefinition", false)
    ///     .short_names(["crd", "crds"]);
    /// assert_eq!(crds.short_names.len(), 2);
    /// ```
    pub fn short_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.short_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// The same with these verbs.
    ///
    /// ```
    /// use k8sops_audit::can_i::ServedResource;
    /// let r = ServedResource::new("pods/log", "", "Pod", true).verbs(["get"]);
    /// assert_eq!(r.verbs, ["get"]);
    /// ```
    pub fn verbs<I, S>(mut self, verbs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.verbs = verbs.into_iter().map(Into::into).collect();
        self
    }
}

impl From<&APIResource> for ServedResource {
    /// The resource as a discovery `APIResourceList` has it.
    ///
    /// ```
    /// use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource;
    /// use k8sops_audit::can_i::ServedResource;
    /// let api = APIResource {
    ///     name: "pods".into(), singular_name: "pod".into(), kind: "Pod".into(), namespaced: true,
    ///     short_names: Some(vec!["po".into()]), verbs: vec!["get".into()], ..Default::default()
    /// };
    /// assert_eq!(ServedResource::from(&api), ServedResource::new("pods", "pod", "Pod", true).short_names(["po"]).verbs(["get"]));
    /// ```
    fn from(api: &APIResource) -> Self {
        Self {
            name: api.name.clone(),
            singular_name: api.singular_name.clone(),
            kind: api.kind.clone(),
            short_names: api.short_names.clone().unwrap_or_default(),
            namespaced: api.namespaced,
            verbs: api.verbs.clone(),
        }
    }
}

/// One served version of a group and its resources.
///
/// ```
/// use k8sops_audit::can_i::{ServedResource, ServedVersion};
/// let v1 = ServedVersion { version: "v1".into(), resources: vec![ServedResource::new("jobs", "job", "Job", true)] };
/// assert_eq!(v1.resources.len(), 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServedVersion {
    /// The version, e.g. `v1`.
    pub version: String,
    /// Its resources and subresources, in the server's order.
    pub resources: Vec<ServedResource>,
}

/// One API group and the versions whose resource lists were read.
///
/// ```
/// use k8sops_audit::can_i::ServedGroup;
/// let apps = ServedGroup { name: "apps".into(), preferred_version: "v1".into(), versions: vec![] };
/// assert!(apps.versions.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServedGroup {
    /// The group, `""` for the core group.
    pub name: String,
    /// The server's preferred version, which wins when a resource is served
    /// in several versions of the group.
    pub preferred_version: String,
    /// The versions in the server's order.
    pub versions: Vec<ServedVersion>,
}

/// What discovery returned: the groups in the server's order (the core
/// group first), each with its versions and resources — what kubectl's
/// RESTMapper and short-name expander are built from. Build it by hand for
/// tests and offline use, or read it with [`discover`].
///
/// ```
/// use k8sops_audit::can_i::{Discovered, ServedResource};
/// let d = Discovered::new()
///     .with_resource("autoscaling", "v2", ServedResource::new("horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler", true))
///     .with_resource("autoscaling", "v1", ServedResource::new("horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler", true));
/// // The first version added to a group is its preferred one.
/// assert_eq!(d.groups[0].preferred_version, "v2");
/// assert!(d.resource("autoscaling", "v1", "horizontalpodautoscalers").is_some());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Discovered {
    /// The groups, in the server's order.
    pub groups: Vec<ServedGroup>,
    /// Group versions whose resource list could not be read (e.g. an
    /// aggregated API that answers 503), as `group/version` or `v1`; kubectl
    /// goes on without them, and so does [`resolve`].
    pub unavailable: Vec<String>,
}

impl Discovered {
    /// Nothing served: every resource is unknown.
    ///
    /// ```
    /// assert!(k8sops_audit::can_i::Discovered::new().groups.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The same with `resource` served in `group`/`version` (appended to
    /// the group and version, which are appended when new; the first
    /// version of a group becomes its preferred version).
    ///
    /// ```
    /// use k8sops_audit::can_i::{Discovered, ServedResource};
    /// let d = Discovered::new().with_resource("apps", "v1", ServedResource::new("deployments", "deployment", "Deployment", true));
    /// assert_eq!(d.groups[0].versions[0].resources[0].kind, "Deployment");
    /// ```
    pub fn with_resource(mut self, group: &str, version: &str, resource: ServedResource) -> Self {
        self.push_resource(group, version, resource);
        self
    }

    /// Adds `resource` to `group`/`version` (see [`Discovered::with_resource`]).
    ///
    /// ```
    /// use k8sops_audit::can_i::{Discovered, ServedResource};
    /// let mut d = Discovered::new();
    /// d.push_resource("", "v1", ServedResource::new("pods", "pod", "Pod", true));
    /// assert!(d.resource("", "v1", "pods").is_some());
    /// ```
    pub fn push_resource(&mut self, group: &str, version: &str, resource: ServedResource) {
        self.version_mut(group, version).resources.push(resource);
    }

    /// The same with `version` as the preferred version of `group` (the
    /// group is added when new).
    ///
    /// ```
    /// use k8sops_audit::can_i::Discovered;
    /// let d = Discovered::new().with_preferred_version("autoscaling", "v2");
    /// assert_eq!(d.groups[0].preferred_version, "v2");
    /// ```
    pub fn with_preferred_version(mut self, group: &str, version: &str) -> Self {
        self.group_mut(group).preferred_version = version.to_owned();
        self
    }

    /// The resource `name` (plural, or `resource/subresource`) of `group`/`version`.
    ///
    /// ```
    /// use k8sops_audit::can_i::{Discovered, ServedResource};
    /// let d = Discovered::new().with_resource("", "v1", ServedResource::new("nodes", "node", "Node", false));
    /// assert!(!d.resource("", "v1", "nodes").unwrap().namespaced);
    /// assert!(d.resource("", "v2", "nodes").is_none());
    /// ```
    pub fn resource(&self, group: &str, version: &str, name: &str) -> Option<&ServedResource> {
        self.version(group, version)?.resources.iter().find(|r| r.name == name)
    }

    fn version(&self, group: &str, version: &str) -> Option<&ServedVersion> {
        self.groups.iter().find(|g| g.name == group)?.versions.iter().find(|v| v.version == version)
    }

    fn group_mut(&mut self, group: &str) -> &mut ServedGroup {
        let index = match self.groups.iter().position(|g| g.name == group) {
            Some(i) => i,
            None => {
                self.groups.push(ServedGroup { name: group.to_owned(), ..ServedGroup::default() });
                self.groups.len() - 1
            }
        };
        &mut self.groups[index]
    }

    fn version_mut(&mut self, group: &str, version: &str) -> &mut ServedVersion {
        let g = self.group_mut(group);
        if g.preferred_version.is_empty() {
            g.preferred_version = version.to_owned();
        }
        let index = match g.versions.iter().position(|v| v.version == version) {
            Some(i) => i,
            None => {
                g.versions.push(ServedVersion { version: version.to_owned(), resources: Vec::new() });
                g.versions.len() - 1
            }
        };
        &mut g.versions[index]
    }

    /// Every resource list in discovery order: (group, version, resources).
    fn lists(&self) -> impl Iterator<Item = (&str, &str, &[ServedResource])> {
        self.groups
            .iter()
            .flat_map(|g| g.versions.iter().map(move |v| (g.name.as_str(), v.version.as_str(), &v.resources[..])))
    }
}

/// Reads discovery like client-go's `ServerGroupsAndResources`: `/api` and
/// `/apis` in the server's order, then the resource list of every version of
/// every group (all versions, not only the preferred one, as kubectl's
/// RESTMapper needs them), at most 8 at a time. A 403 or 404 on `/api` or
/// `/apis` counts as nothing served there; a group version whose list fails
/// (after the cluster's retries) is left out and named in
/// [`Discovered::unavailable`], as kubectl goes on without it. kubectl may
/// answer from its discovery cache (`~/.kube/cache`, 6 hours); this reads
/// the server. The legacy (non-aggregated) endpoints carry the same data
/// as aggregated discovery.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let discovered = k8sops_audit::can_i::discover(&server.cluster()).await?;
/// let deployments = discovered.resource("apps", "v1", "deployments").unwrap();
/// assert!(deployments.short_names.contains(&"deploy".to_string()));
/// assert_eq!(discovered.groups[0].name, ""); // the core group comes first
/// # Ok(()) }
/// ```
pub async fn discover(cluster: &Cluster) -> crate::Result<Discovered> {
    let client = cluster.client();
    let retry = cluster.retry_policy();
    let core =
        retry.run(|_| async { tolerate_missing(client.list_core_api_versions().await, cluster, "/api") }).await?;
    let groups = retry.run(|_| async { tolerate_missing(client.list_api_groups().await, cluster, "/apis") }).await?;

    // The groups in discovery order, each version with its `group/version`.
    let mut wanted: Vec<WantedGroup> = Vec::new();
    if let Some(core) = core.filter(|c| !c.versions.is_empty()) {
        let preferred = core.versions.first().cloned().unwrap_or_default();
        let versions = core.versions.iter().map(|v| (v.clone(), v.clone())).collect();
        wanted.push(WantedGroup { name: String::new(), preferred, versions });
    }
    for g in groups.map(|l| l.groups).unwrap_or_default() {
        let preferred = g.preferred_version.map(|p| p.version).unwrap_or_default();
        let versions = g.versions.into_iter().map(|v| (v.version, v.group_version)).collect();
        wanted.push(WantedGroup { name: g.name, preferred, versions });
    }

    let fetches: Vec<(bool, String)> =
        wanted.iter().flat_map(|g| g.versions.iter().map(move |(_, gv)| (g.name.is_empty(), gv.clone()))).collect();
    let lists: Vec<Option<Vec<ServedResource>>> = stream::iter(fetches)
        .map(|(core, gv)| async move {
            let what = if core { format!("/api/{gv}") } else { format!("/apis/{gv}") };
            let result = retry
                .run(|_| async {
                    let list = if core {
                        client.list_core_api_resources(&gv).await
                    } else {
                        client.list_api_group_resources(&gv).await
                    };
                    list.map_err(|e| cluster.map_err(e, &what))
                })
                .await;
            match result {
                Ok(list) => Some(list.resources.iter().map(ServedResource::from).collect()),
                Err(e) => {
                    tracing::debug!(group_version = %gv, error = %e, "discovery of a group version failed");
                    None
                }
            }
        })
        .buffered(DISCOVERY_CONCURRENCY)
        .collect()
        .await;

    let mut discovered = Discovered::new();
    let mut lists = lists.into_iter();
    for WantedGroup { name, preferred, versions } in wanted {
        let mut served = ServedGroup { name, preferred_version: preferred, versions: Vec::new() };
        for (version, gv) in versions {
            match lists.next().flatten() {
                Some(resources) => served.versions.push(ServedVersion { version, resources }),
                None => discovered.unavailable.push(gv),
            }
        }
        discovered.groups.push(served);
    }
    Ok(discovered)
}

/// A group to read the resource lists of: its name, preferred version and
/// (version, `group/version`) pairs.
struct WantedGroup {
    name: String,
    preferred: String,
    versions: Vec<(String, String)>,
}

/// `Ok(None)` for the 403 and 404 client-go ignores on `/api` and `/apis`.
fn tolerate_missing<T>(result: kube::Result<T>, cluster: &Cluster, what: &str) -> k8sops_core::Result<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(kube::Error::Api(status)) if status.code == 403 || status.code == 404 => Ok(None),
        Err(e) => Err(cluster.map_err(e, what)),
    }
}

/// A group, version and resource (`schema.GroupVersionResource`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Gvr {
    group: String,
    version: String,
    resource: String,
}

impl Gvr {
    fn new(group: &str, version: &str, resource: &str) -> Self {
        Self { group: group.to_owned(), version: version.to_owned(), resource: resource.to_owned() }
    }

    fn is_empty(&self) -> bool {
        self.group.is_empty() && self.version.is_empty() && self.resource.is_empty()
    }
}

/// `schema.GroupResource.String()`: `resource` or `resource.group`.
fn group_resource_string(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}.{group}")
    }
}

/// `schema.ParseResourceArg`: with two dots or more also `resource.version.group`.
fn parse_resource_arg(arg: &str) -> (Option<Gvr>, Gvr) {
    let full = (arg.matches('.').count() >= 2)
        .then(|| {
            let mut parts = arg.splitn(3, '.');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(resource), Some(version), Some(group)) => Some(Gvr::new(group, version, resource)),
                _ => None,
            }
        })
        .flatten();
    let group_resource = match arg.split_once('.') {
        Some((resource, group)) => Gvr::new(group, "", resource),
        None => Gvr::new("", "", arg),
    };
    (full, group_resource)
}

/// `meta.UnsafeGuessKindToResource`: (plural, singular) of a kind.
fn guess_kind_to_resource(kind: &str) -> (String, String) {
    if kind.is_empty() {
        return (String::new(), String::new());
    }
    let singular = kind.to_lowercase();
    if singular.ends_with("endpoints") {
        return (singular.clone(), singular);
    }
    let plural = if ["s", "z", "ch", "sh", "x"].iter().any(|s| singular.ends_with(s)) {
        format!("{singular}es")
    } else if ["ay", "ey", "iy", "oy", "uy"].iter().any(|s| singular.ends_with(s)) {
        format!("{singular}s")
    } else if let Some(stem) = singular.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{singular}s")
    };
    (plural, singular)
}

/// Go's `strings.ToLower`: rune by rune.
fn go_lower(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// One group version of kubectl's discovery RESTMapper
/// (`restmapper.NewDiscoveryRESTMapper`): its `pluralToSingular` pairs.
struct VersionMapper<'a> {
    group: &'a str,
    version: &'a str,
    /// (plural, singular); the singular is empty when it cannot be guessed.
    pairs: Vec<(String, String)>,
}

impl<'a> VersionMapper<'a> {
    fn new(group: &'a str, version: &'a str, resources: &[ServedResource]) -> Self {
        let mut mapper = Self { group, version, pairs: Vec::new() };
        for r in resources.iter().filter(|r| !r.name.contains('/')) {
            let singular =
                if r.singular_name.is_empty() { guess_kind_to_resource(&r.kind).1 } else { r.singular_name.clone() };
            mapper.add(r.name.clone(), singular);
            // versionMapper.Add(gv.WithKind(resource.Kind+"List"), scope)
            let (plural, singular) = guess_kind_to_resource(&format!("{}List", r.kind));
            mapper.add(plural, singular);
        }
        // versionMapper.Add(gv.WithKind("List"), meta.RESTScopeRoot)
        let (plural, singular) = guess_kind_to_resource("List");
        mapper.add(plural, singular);
        mapper
    }

    /// `AddSpecific`: `pluralToSingular[plural] = singular`.
    fn add(&mut self, plural: String, singular: String) {
        match self.pairs.iter_mut().find(|(p, _)| *p == plural) {
            Some(pair) => pair.1 = singular,
            None => self.pairs.push((plural, singular)),
        }
    }

    /// `DefaultRESTMapper.ResourcesFor`.
    fn resources_for(&self, input: &Gvr) -> Vec<Gvr> {
        let resource = go_lower(&input.resource);
        if resource.is_empty() {
            return Vec::new();
        }
        let same = |name: &str| !name.is_empty() && name == resource;
        let mut out: Vec<Gvr> = Vec::new();
        let this = |plural: &str| Gvr::new(self.group, self.version, plural);
        match (!input.group.is_empty(), !input.version.is_empty()) {
            (true, true) => {
                if self.group == input.group && self.version == input.version {
                    if let Some((plural, _)) = self.pairs.iter().find(|(p, s)| same(s) || same(p)) {
                        out.push(this(plural));
                    }
                }
            }
            (true, false) => {
                if self.group == input.group {
                    for (plural, singular) in &self.pairs {
                        if same(singular) {
                            out.push(this(plural));
                        }
                        if same(plural) {
                            out.push(this(plural));
                        }
                    }
                }
                // No exact match: a group prefix (`storageclass.storage`).
                if out.is_empty() && self.group.starts_with(input.group.as_str()) {
                    for (plural, singular) in &self.pairs {
                        if same(singular) {
                            out.push(this(plural));
                        }
                        if same(plural) {
                            out.push(this(plural));
                        }
                    }
                }
            }
            (false, true) => {
                if self.version == input.version {
                    for (plural, singular) in &self.pairs {
                        if same(singular) || same(plural) {
                            out.push(this(plural));
                        }
                    }
                }
            }
            (false, false) => {
                for (plural, singular) in &self.pairs {
                    if same(singular) || same(plural) {
                        out.push(this(plural));
                    }
                }
            }
        }
        out.sort_by(|a, b| a.resource.cmp(&b.resource));
        out
    }
}

/// kubectl's RESTMapper: the short-name expander over a priority mapper over
/// one mapper per discovered group version.
struct RestMapper<'a> {
    discovery: &'a Discovered,
    mappers: Vec<VersionMapper<'a>>,
    /// `ResourcePriority` patterns: (group, version), `None` for any.
    priority: Vec<(Option<&'a str>, Option<&'a str>)>,
}

impl<'a> RestMapper<'a> {
    fn new(discovery: &'a Discovered) -> Self {
        let mappers = discovery.lists().map(|(g, v, resources)| VersionMapper::new(g, v, resources)).collect();
        let mut priority: Vec<(Option<&str>, Option<&str>)> = vec![(Some(""), Some("v1"))];
        for g in &discovery.groups {
            let preferred = g.preferred_version.as_str();
            if !preferred.is_empty() && g.versions.iter().any(|v| v.version == preferred) {
                priority.push((Some(g.name.as_str()), Some(preferred)));
            }
            for v in g.versions.iter().filter(|v| v.version != preferred) {
                priority.push((Some(g.name.as_str()), Some(v.version.as_str())));
            }
        }
        for g in &discovery.groups {
            priority.push((Some(g.name.as_str()), None));
        }
        Self { discovery, mappers, priority }
    }

    /// `shortcutExpander.ResourceFor`: expand, then `PriorityRESTMapper.ResourceFor`.
    fn resource_for(&self, input: &Gvr, warnings: &mut Vec<String>) -> Option<Gvr> {
        let expanded = self.expand_shortcut(input, warnings);
        // MultiRESTMapper.ResourcesFor: all matches, de-duplicated.
        let mut all: Vec<Gvr> = Vec::new();
        for mapper in &self.mappers {
            for gvr in mapper.resources_for(&expanded) {
                if !all.contains(&gvr) {
                    all.push(gvr);
                }
            }
        }
        if all.len() <= 1 {
            return all.pop();
        }
        let mut remaining = all;
        for (group, version) in &self.priority {
            let matched: Vec<Gvr> = remaining
                .iter()
                .filter(|gvr| group.is_none_or(|g| g == gvr.group) && version.is_none_or(|v| v == gvr.version))
                .cloned()
                .collect();
            match matched.len() {
                0 => continue,
                1 => return matched.into_iter().next(),
                _ => remaining = matched,
            }
        }
        None // AmbiguousResourceError
    }

    /// `shortcutExpander.expandResourceShortcut`.
    fn expand_shortcut(&self, input: &Gvr, warnings: &mut Vec<String>) -> Gvr {
        // An exact resource or singular name is not expanded.
        for (group, _, resources) in self.discovery.lists() {
            if !input.group.is_empty() && input.group != group {
                continue;
            }
            if resources.iter().any(|r| input.resource == r.name || input.resource == r.singular_name) {
                return input.clone();
            }
        }
        // (short group, short name, long group, long name), in discovery order.
        let shortcuts: Vec<(&str, &str, &str, &str)> = self
            .discovery
            .lists()
            .flat_map(|(group, _, resources)| {
                resources.iter().flat_map(move |r| {
                    r.short_names.iter().map(move |short| (group, short.as_str(), group, r.name.as_str()))
                })
            })
            .collect();
        let mut found: Option<(&str, &str)> = None;
        let mut warned: Vec<(&str, &str)> = Vec::new();
        for &(short_group, short, long_group, long) in &shortcuts {
            if !input.group.is_empty() && input.group != short_group {
                continue;
            }
            if input.resource != short {
                continue;
            }
            match found {
                Some(first) if first == (long_group, long) => {}
                Some(_) => {
                    if !warned.contains(&(long_group, long)) {
                        warnings.push(format!(
                            "Warning: short name {} could also match lower priority resource {}\n",
                            go_quote(&input.resource),
                            group_resource_string(long_group, long)
                        ));
                        warned.push((long_group, long));
                    }
                }
                None => found = Some((long_group, long)),
            }
        }
        if let Some((group, resource)) = found {
            return Gvr::new(group, "", resource);
        }
        if input.group.is_empty() {
            return input.clone();
        }
        // A short name in a group named by its prefix (`deploy.app`).
        for &(short_group, short, long_group, long) in &shortcuts {
            if short_group.starts_with(input.group.as_str()) && input.resource == short {
                return Gvr::new(long_group, &input.version, long);
            }
        }
        input.clone()
    }
}

/// kubectl's `resourceFor`: the group and resource of the argument, or the
/// argument as it is (with a warning) when discovery does not know it.
fn resource_for(mapper: &RestMapper<'_>, arg: &str, warnings: &mut Vec<String>) -> Gvr {
    if arg == "*" {
        return Gvr::new("", "", arg);
    }
    let (full, group_resource) = parse_resource_arg(&go_lower(arg));
    if let Some(gvr) = full.and_then(|full| mapper.resource_for(&full, warnings)) {
        return gvr;
    }
    match mapper.resource_for(&group_resource, warnings) {
        Some(gvr) if !gvr.is_empty() => gvr,
        _ => {
            let shown = group_resource_string(&group_resource.group, &group_resource.resource);
            if !NON_STANDARD_RESOURCE_NAMES.contains(&shown.as_str()) {
                if group_resource.group.is_empty() {
                    warnings.push(format!(
                        "Warning: the server doesn't have a resource type '{}'\n\n",
                        group_resource.resource
                    ));
                } else {
                    warnings.push(format!(
                        "Warning: the server doesn't have a resource type '{}' in group '{}'\n\n",
                        group_resource.resource, group_resource.group
                    ));
                }
            }
            Gvr::new("", "", arg)
        }
    }
}

/// kubectl's `isNamespaced`: `None` where kubectl gets an error (no version,
/// group version or resource not served), which silences the warning.
fn is_namespaced(gvr: &Gvr, discovery: &Discovered) -> Option<bool> {
    if gvr.resource == "*" {
        return Some(true);
    }
    if gvr.version.is_empty() {
        return None;
    }
    discovery.resource(&gvr.group, &gvr.version, &gvr.resource).map(|r| r.namespaced)
}

/// kubectl's `Complete` and `Validate`: checks the arguments, resolves the
/// resource through `discovery` and builds the request, collecting the
/// warnings kubectl prints on the way, in its order:
///
/// - `VERB /url` (an argument starting with `/`) is a non-resource request
///   (the namespace is not sent); `--subresource` is then an error.
/// - `VERB TYPE[/NAME]`: `TYPE` is lower-cased and resolved like kubectl's
///   RESTMapper: `resource.version.group` (two dots or more), then
///   `resource` or `resource.group`, each by plural, singular or short name
///   (`po`, `deploy`, `deploy.apps`, `deployments.app` as a group prefix),
///   the kind lower-cased is the singular; several matches are settled by
///   the core group `v1` first, then each group's preferred and other
///   versions in discovery order. `*` is sent as the resource of the core
///   group. A type discovery does not know is sent as typed (case and
///   `.group` kept, group empty) after
///   `Warning: the server doesn't have a resource type 'T'` (`... in group 'G'`),
///   except `users` and `groups`. An ambiguous short name warns
///   `short name "ev" could also match lower priority resource events.events.k8s.io`.
/// - Only without `-A` (and with a resolved type): a cluster-scoped type
///   warns `resource 'nodes' is not namespace scoped` (`... in group 'G'`)
///   — the namespace is still sent — and a verb kubectl does not know
///   warns `verb 'V' is not a known verb` (for URLs always).
/// - The namespace is [`CanIArgs::effective_namespace`] of `default_namespace`.
///
/// ```
/// use k8sops_audit::can_i::{resolve, CanIArgs, Discovered, Resolved, ServedResource};
/// let d = Discovered::new()
///     .with_resource("", "v1", ServedResource::new("pods", "pod", "Pod", true).short_names(["po"]))
///     .with_resource("apps", "v1", ServedResource::new("deployments", "deployment", "Deployment", true).short_names(["deploy"]));
/// let r = resolve(&CanIArgs::check("patch", "deploy/web").subresource("scale"), "shop", &d)?;
/// let a = &r.check().unwrap().attributes;
/// assert_eq!((a.api_group.as_str(), a.resource.as_str(), a.subresource.as_str(), a.name.as_str(), a.namespace.as_str()),
///            ("apps", "deployments", "scale", "web", "shop"));
/// let r = resolve(&CanIArgs::check("frob", "/logs"), "shop", &d)?;
/// assert_eq!(r.check().unwrap().warnings, ["Warning: verb 'frob' is not a known verb\n\n"]);
/// assert_eq!(resolve(&CanIArgs::list(), "shop", &d)?, Resolved::List { namespace: "shop".into() });
/// # Ok::<(), k8sops_audit::can_i::CanIError>(())
/// ```
pub fn resolve(args: &CanIArgs, default_namespace: &str, discovery: &Discovered) -> Result<Resolved, CanIError> {
    args.complete_checks()?;
    let namespace = args.effective_namespace(default_namespace);
    if args.list {
        args.list_checks()?;
        return Ok(Resolved::List { namespace });
    }
    let (Some(verb), Some(arg)) = (args.verb.as_deref(), args.resource_arg.as_deref()) else {
        return Err(CanIError::ArgumentCount);
    };
    let subresource = args.subresource.as_deref().unwrap_or("");
    let mut warnings: Vec<String> = Vec::new();
    let attributes = if arg.starts_with('/') {
        if !subresource.is_empty() {
            return Err(CanIError::SubresourceWithNonResourceUrl);
        }
        if !NON_RESOURCE_URL_VERBS.contains(&verb) {
            warnings.push(format!("Warning: verb '{verb}' is not a known verb\n\n"));
        }
        Attributes::non_resource(verb, arg)
    } else {
        let (token, name) = arg.split_once('/').unwrap_or((arg, ""));
        let mapper = RestMapper::new(discovery);
        let gvr = resource_for(&mapper, token, &mut warnings);
        if !gvr.is_empty() && !args.all_namespaces {
            if is_namespaced(&gvr, discovery) == Some(false) {
                if gvr.group.is_empty() {
                    warnings.push(format!("Warning: resource '{}' is not namespace scoped\n\n", gvr.resource));
                } else {
                    warnings.push(format!(
                        "Warning: resource '{}' is not namespace scoped in group '{}'\n\n",
                        gvr.resource, gvr.group
                    ));
                }
            }
            if !RESOURCE_VERBS.contains(&verb) {
                warnings.push(format!("Warning: verb '{verb}' is not a known verb\n\n"));
            }
        }
        Attributes::resource(verb, gvr.group, gvr.resource, namespace).subresource(subresource).name(name)
    };
    if args.no_headers {
        return Err(CanIError::NoHeadersWithoutList { warnings });
    }
    Ok(Resolved::Check(CanIRequest { attributes, warnings }))
}

/// The answer to an access check: the SelfSubjectAccessReview status
/// kubectl prints.
///
/// ```
/// use k8sops_audit::can_i::CanIAnswer;
/// let no = CanIAnswer { allowed: false, reason: "RBAC: role.rbac.authorization.k8s.io \"gone\" not found".into(), evaluation_error: String::new() };
/// assert_eq!(no.stdout(), "no - RBAC: role.rbac.authorization.k8s.io \"gone\" not found\n");
/// assert_eq!(no.exit_code(), 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CanIAnswer {
    /// `status.allowed`.
    pub allowed: bool,
    /// `status.reason`: with `--authorization-mode=Node,RBAC`, for an RBAC
    /// allow `RBAC: allowed by <binding>`, for `system:masters` empty; for a
    /// denial empty, or `RBAC: <errors>` naming the roles that bindings of
    /// the user refer to and that do not exist.
    pub reason: String,
    /// `status.evaluationError` (empty with Node and RBAC).
    pub evaluation_error: String,
}

impl CanIAnswer {
    /// Exactly what kubectl prints on standard output: `yes` when allowed
    /// (the reason is not shown), else `no`, then ` - <reason>` and
    /// ` - <evaluationError>` when not empty, and a newline.
    ///
    /// ```
    /// use k8sops_audit::can_i::CanIAnswer;
    /// let yes = CanIAnswer { allowed: true, reason: "RBAC: allowed by ...".into(), ..Default::default() };
    /// assert_eq!(yes.stdout(), "yes\n");
    /// let no = CanIAnswer { allowed: false, reason: String::new(), evaluation_error: "webhook timed out".into() };
    /// assert_eq!(no.stdout(), "no - webhook timed out\n");
    /// ```
    pub fn stdout(&self) -> String {
        if self.allowed {
            return "yes\n".to_owned();
        }
        let mut out = "no".to_owned();
        for part in [&self.reason, &self.evaluation_error] {
            if !part.is_empty() {
                out.push_str(" - ");
                out.push_str(part);
            }
        }
        out.push('\n');
        out
    }

    /// [`CanIAnswer::stdout`], or nothing with `-q/--quiet`.
    ///
    /// ```
    /// use k8sops_audit::can_i::CanIAnswer;
    /// assert_eq!(CanIAnswer::default().output(true), "");
    /// assert_eq!(CanIAnswer::default().output(false), "no\n");
    /// ```
    pub fn output(&self, quiet: bool) -> String {
        if quiet {
            String::new()
        } else {
            self.stdout()
        }
    }

    /// kubectl's exit code: 0 when allowed, 1 when not.
    ///
    /// ```
    /// use k8sops_audit::can_i::CanIAnswer;
    /// assert_eq!(CanIAnswer { allowed: true, ..Default::default() }.exit_code(), 0);
    /// ```
    pub fn exit_code(&self) -> i32 {
        if self.allowed {
            0
        } else {
            1
        }
    }
}

impl From<SubjectAccessReviewStatus> for CanIAnswer {
    /// The status a server returned.
    ///
    /// ```
    /// use k8s_openapi::api::authorization::v1::SubjectAccessReviewStatus;
    /// use k8sops_audit::can_i::CanIAnswer;
    /// let answer = CanIAnswer::from(SubjectAccessReviewStatus { allowed: true, ..Default::default() });
    /// assert_eq!(answer.stdout(), "yes\n");
    /// ```
    fn from(status: SubjectAccessReviewStatus) -> Self {
        Self {
            allowed: status.allowed,
            reason: status.reason.unwrap_or_default(),
            evaluation_error: status.evaluation_error.unwrap_or_default(),
        }
    }
}

/// The answer the API server (`--authorization-mode=Node,RBAC`) gives
/// `user`, from a snapshot of its RBAC objects: members of
/// `system:masters` are allowed with an empty reason, everyone else gets
/// the RBAC authorizer's decision and reason
/// ([`RbacSnapshot::authorize_as_apiserver`]). The Node authorizer has no
/// opinion on non-node users and adds no reason, so the line printed is
/// the one kubectl prints for the server's answer. Pass the user the
/// server would see: for `--as NAME --as-group G`,
/// [`UserInfo::impersonated`]. Node users (`system:node:<name>`) are not
/// modelled.
///
/// ```
/// use k8sops_audit::can_i::{answer_offline, resolve, CanIArgs, Discovered, ServedResource};
/// use k8sops_audit::rbac::{RbacSnapshot, UserInfo};
/// # use k8s_openapi::api::rbac::v1::*;
/// # use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
/// let binding = RoleBinding {
///     metadata: ObjectMeta { name: Some("devs".into()), namespace: Some("shop".into()), ..Default::default() },
///     role_ref: RoleRef { kind: "ClusterRole".into(), name: "view".into(), ..Default::default() },
///     subjects: Some(vec![Subject { kind: "User".into(), name: "alice".into(), ..Default::default() }]),
/// };
/// let snapshot = RbacSnapshot::new([], [], [binding], []); // the ClusterRole "view" is missing
/// let d = Discovered::new().with_resource("", "v1", ServedResource::new("pods", "pod", "Pod", true));
/// let r = resolve(&CanIArgs::check("get", "pods").in_namespace("shop"), "default", &d)?;
/// let answer = answer_offline(&snapshot, &UserInfo::impersonated("alice", &[] as &[&str]), r.check().unwrap());
/// assert_eq!(answer.stdout(), "no - RBAC: clusterrole.rbac.authorization.k8s.io \"view\" not found\n");
/// # Ok::<(), k8sops_audit::can_i::CanIError>(())
/// ```
pub fn answer_offline(snapshot: &RbacSnapshot, user: &UserInfo, request: &CanIRequest) -> CanIAnswer {
    let decision = snapshot.authorize_as_apiserver(user, &request.attributes);
    CanIAnswer { allowed: decision.allowed, reason: decision.reason, evaluation_error: String::new() }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// The `resourceAttributes` or `nonResourceAttributes` kubectl sends
/// (empty strings left out, as Go's `omitempty` does).
fn review_attributes(a: &Attributes) -> (Option<ResourceAttributes>, Option<NonResourceAttributes>) {
    if a.resource_request {
        let ra = ResourceAttributes {
            namespace: non_empty(&a.namespace),
            verb: non_empty(&a.verb),
            group: non_empty(&a.api_group),
            resource: non_empty(&a.resource),
            subresource: non_empty(&a.subresource),
            name: non_empty(&a.name),
            ..ResourceAttributes::default()
        };
        (Some(ra), None)
    } else {
        (None, Some(NonResourceAttributes { path: non_empty(&a.path), verb: non_empty(&a.verb) }))
    }
}

/// Asks the API server. Without `user`, a SelfSubjectAccessReview as the
/// cluster's own identity — what `kubectl auth can-i` sends. With `user`, a
/// SubjectAccessReview for its name and groups (the caller needs `create`
/// on `subjectaccessreviews`): kubectl's `--as` instead sends the
/// SelfSubjectAccessReview under impersonation and the server adds groups,
/// so pass [`UserInfo::impersonated`] to ask about the same user. Both
/// reviews go through the same authorizers and get the same status.
/// Retried per the cluster's policy (creating a review changes nothing).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use k8sops_audit::can_i::{answer_server, discover, resolve, CanIArgs};
/// use k8sops_audit::rbac::UserInfo;
/// let server = k8sops_testkit::TestServer::start().await?;
/// let cluster = server.cluster();
/// let discovered = discover(&cluster).await?;
/// let resolved = resolve(&CanIArgs::check("delete", "deploy"), cluster.default_namespace(), &discovered)?;
/// let request = resolved.check().unwrap();
/// assert_eq!(answer_server(&cluster, None, request).await?.stdout(), "yes\n"); // the admin
/// let alice = UserInfo::impersonated("alice", &["dev"]);
/// assert_eq!(answer_server(&cluster, Some(&alice), request).await?.stdout(), "no\n");
/// # Ok(()) }
/// ```
pub async fn answer_server(
    cluster: &Cluster,
    user: Option<&UserInfo>,
    request: &CanIRequest,
) -> crate::Result<CanIAnswer> {
    let (resource_attributes, non_resource_attributes) = review_attributes(&request.attributes);
    let pp = PostParams::default();
    let status = match user {
        None => {
            let api: Api<SelfSubjectAccessReview> = Api::all(cluster.client().clone());
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec { resource_attributes, non_resource_attributes },
                ..SelfSubjectAccessReview::default()
            };
            let created = cluster
                .retry_policy()
                .run(|_| async {
                    api.create(&pp, &review).await.map_err(|e| cluster.map_err(e, "selfsubjectaccessreview"))
                })
                .await?;
            created.status
        }
        Some(user) => {
            let api: Api<SubjectAccessReview> = Api::all(cluster.client().clone());
            let review = SubjectAccessReview {
                spec: SubjectAccessReviewSpec {
                    user: non_empty(&user.name),
                    groups: (!user.groups.is_empty()).then(|| user.groups.clone()),
                    resource_attributes,
                    non_resource_attributes,
                    ..SubjectAccessReviewSpec::default()
                },
                ..SubjectAccessReview::default()
            };
            let created = cluster
                .retry_policy()
                .run(|_| async {
                    api.create(&pp, &review).await.map_err(|e| cluster.map_err(e, "subjectaccessreview"))
                })
                .await?;
            created.status
        }
    };
    Ok(status.map(CanIAnswer::from).unwrap_or_default())
}

/// The `Impersonate-Group` values that make the server's impersonation
/// filter build exactly `user`: none when it would add all of the user's
/// groups itself (`--as NAME` alone), else the groups without the trailing
/// `system:authenticated` (`system:unauthenticated` for the anonymous user)
/// it adds back.
fn impersonation_groups(user: &UserInfo) -> Vec<String> {
    if UserInfo::impersonated(&user.name, &[] as &[&str]) == *user {
        return Vec::new();
    }
    let mut groups = user.groups.clone();
    let added = if user.name == ANONYMOUS { ALL_UNAUTHENTICATED } else { ALL_AUTHENTICATED };
    if groups.len() > 1 && groups.last().is_some_and(|g| g == added) {
        let trimmed = &groups[..groups.len() - 1];
        if UserInfo::impersonated(&user.name, trimmed) == *user {
            groups.pop();
        }
    }
    groups
}

/// A SelfSubjectRulesReview in `namespace` (what `kubectl auth can-i
/// --list` sends): the rules the server's rule resolvers return for the
/// caller, or with `user` for that user. There is no rules review about
/// another subject, so for `user` the request impersonates it like
/// `kubectl --as`: header `Impersonate-User: <name>` and one
/// `Impersonate-Group` per group the impersonation filter would not add
/// by itself (none for `UserInfo::impersonated(name, &[])`, so only the
/// permission to impersonate the user is needed, as for `--as NAME`). The
/// server then reviews [`UserInfo::impersonated`] of those; a `user` whose
/// groups lack `system:authenticated` cannot be impersonated exactly. The
/// headers are added to the request, not to the client, so the cluster's
/// client and its credentials are used unchanged.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use k8sops_audit::can_i::{list_output, rules_server};
/// use k8sops_audit::rbac::UserInfo;
/// let server = k8sops_testkit::TestServer::start().await?;
/// let alice = UserInfo::impersonated("alice", &[] as &[&str]);
/// let review = rules_server(&server.cluster(), Some(&alice), "default").await?;
/// assert!(list_output(&review, false).contains("selfsubjectaccessreviews.authorization.k8s.io"));
/// # Ok(()) }
/// ```
pub async fn rules_server(cluster: &Cluster, user: Option<&UserInfo>, namespace: &str) -> crate::Result<RulesReview> {
    let review = SelfSubjectRulesReview {
        spec: SelfSubjectRulesReviewSpec { namespace: non_empty(namespace) },
        ..SelfSubjectRulesReview::default()
    };
    let api: Api<SelfSubjectRulesReview> = Api::all(cluster.client().clone());
    let pp = PostParams::default();
    let created = match user {
        None => {
            cluster
                .retry_policy()
                .run(|_| async {
                    api.create(&pp, &review).await.map_err(|e| cluster.map_err(e, "selfsubjectrulesreview"))
                })
                .await?
        }
        Some(user) => {
            if user.name.is_empty() {
                return Err(k8sops_core::Error::InvalidInput {
                    message: "impersonation needs a user name (kubectl --as)".into(),
                    source: None,
                }
                .into());
            }
            let groups = impersonation_groups(user);
            let body = serde_json::to_vec(&review).map_err(|e| k8sops_core::Error::InvalidInput {
                message: format!("cannot encode the SelfSubjectRulesReview: {e}"),
                source: None,
            })?;
            let url = api.resource_url().to_owned();
            cluster
                .retry_policy()
                .run(|_| async {
                    let what = "selfsubjectrulesreview";
                    let mut request = kube::core::Request::new(url.as_str())
                        .create(&pp, body.clone())
                        .map_err(|e| cluster.map_err(kube::Error::BuildRequest(e), what))?;
                    let headers = request.headers_mut();
                    let invalid = |header: &str, value: &str| k8sops_core::Error::InvalidInput {
                        message: format!("cannot send {value:?} as the {header} header"),
                        source: None,
                    };
                    let value = user.name.as_str().try_into().map_err(|_| invalid("Impersonate-User", &user.name))?;
                    headers.insert("impersonate-user", value);
                    for group in &groups {
                        let value = group.as_str().try_into().map_err(|_| invalid("Impersonate-Group", group))?;
                        headers.append("impersonate-group", value);
                    }
                    cluster
                        .client()
                        .request::<SelfSubjectRulesReview>(request)
                        .await
                        .map_err(|e| cluster.map_err(e, what))
                })
                .await?
        }
    };
    Ok(created.status.map(RulesReview::from).unwrap_or_default())
}

/// What `kubectl auth can-i --list` prints on standard output for a rules
/// review (kubectl's breakdown, compaction, sort and table, see
/// [`render_can_i_list`]), without the header line for `--no-headers`.
/// When the review is incomplete kubectl first prints
/// [`can_i_list_warning`] on standard error.
///
/// ```
/// use k8s_openapi::api::authorization::v1::ResourceRule;
/// use k8sops_audit::can_i::list_output;
/// use k8sops_audit::rbac::RulesReview;
/// let review = RulesReview {
///     resource_rules: vec![ResourceRule {
///         api_groups: Some(vec!["".into()]), resources: Some(vec!["pods".into()]), verbs: vec!["get".into()],
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// assert_eq!(list_output(&review, true), "pods   []    []    [get]\n");
/// assert!(list_output(&review, false).starts_with("Resources   Non-Resource URLs   Resource Names   Verbs\n"));
/// ```
pub fn list_output(review: &RulesReview, no_headers: bool) -> String {
    if no_headers {
        render_can_i_list_no_headers(review)
    } else {
        render_can_i_list(review)
    }
}

/// Everything `kubectl auth can-i` would print, and its exit code.
///
/// ```
/// use k8sops_audit::can_i::{run_offline, CanIArgs, Discovered};
/// use k8sops_audit::rbac::{RbacSnapshot, UserInfo};
/// let out = run_offline(&RbacSnapshot::default(), &UserInfo::anonymous(), &CanIArgs::list().quiet(), "default", &Discovered::new());
/// assert_eq!(out.stderr, "error: list option can't be specified with neither quiet, all-namespaces nor subresource options\n");
/// assert_eq!((out.stdout.as_str(), out.exit_code), ("", 1));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CanIOutput {
    /// Standard output: `yes`/`no ...` or the `--list` table.
    pub stdout: String,
    /// Standard error: warnings, or `error: ...` (without colours).
    pub stderr: String,
    /// The exit code: 0 allowed (or a list printed), 1 denied or an error.
    pub exit_code: i32,
}

impl CanIOutput {
    fn from_error(e: &CanIError) -> Self {
        Self { stdout: String::new(), stderr: e.stderr(), exit_code: e.exit_code() }
    }

    fn from_answer(request: &CanIRequest, answer: &CanIAnswer, quiet: bool) -> Self {
        Self { stdout: answer.output(quiet), stderr: request.stderr(), exit_code: answer.exit_code() }
    }

    fn from_rules(review: &RulesReview, no_headers: bool) -> Self {
        Self {
            stdout: list_output(review, no_headers),
            stderr: can_i_list_warning(review).unwrap_or_default(),
            exit_code: 0,
        }
    }
}

/// `kubectl auth can-i` answered from an RBAC snapshot for `user` (see
/// [`answer_offline`]; for `--list`, [`RbacSnapshot::rules_for`]), with the
/// kubeconfig namespace `default_namespace` and the served resources
/// `discovery`.
///
/// ```
/// use k8sops_audit::can_i::{run_offline, CanIArgs, Discovered};
/// use k8sops_audit::rbac::{RbacSnapshot, UserInfo};
/// let root = UserInfo::impersonated("root", &["system:masters"]);
/// let out = run_offline(&RbacSnapshot::default(), &root, &CanIArgs::check("*", "*").all_namespaces(), "default", &Discovered::new());
/// assert_eq!((out.stdout.as_str(), out.stderr.as_str(), out.exit_code), ("yes\n", "", 0));
/// ```
pub fn run_offline(
    snapshot: &RbacSnapshot,
    user: &UserInfo,
    args: &CanIArgs,
    default_namespace: &str,
    discovery: &Discovered,
) -> CanIOutput {
    match resolve(args, default_namespace, discovery) {
        Err(e) => CanIOutput::from_error(&e),
        Ok(Resolved::List { namespace }) => {
            if let Some(refused) = review_refused(user, "selfsubjectrulesreviews", |a| may_ask(snapshot, user, a)) {
                return refused;
            }
            CanIOutput::from_rules(&snapshot.rules_for(user, &namespace), args.no_headers)
        }
        Ok(Resolved::Check(request)) => {
            if let Some(refused) = review_refused(user, "selfsubjectaccessreviews", |a| may_ask(snapshot, user, a)) {
                return CanIOutput { stderr: format!("{}{}", request.stderr(), refused.stderr), ..refused };
            }
            CanIOutput::from_answer(&request, &answer_offline(snapshot, user, &request), args.quiet)
        }
    }
}

/// Whether `user` may create the review `a` asks about. A cluster grants it
/// to every authenticated user through the bootstrap `system:basic-user`
/// ClusterRole; a snapshot without that role (a hand-made fixture rather
/// than a cluster's) is taken to have it.
fn may_ask(snapshot: &RbacSnapshot, user: &UserInfo, a: &Attributes) -> bool {
    snapshot.authorize_as_apiserver(user, a).allowed
        || (snapshot.cluster_role("system:basic-user").is_none() && user.in_group(crate::rbac::ALL_AUTHENTICATED))
}

/// kubectl sends its review as the impersonated user, so a user who may not
/// create the review (`system:anonymous`, or anyone without the
/// `system:basic-user` grant every authenticated user has) gets the server's
/// Forbidden error instead of an answer: what kubectl prints then.
fn review_refused(user: &UserInfo, reviews: &str, allowed: impl Fn(&Attributes) -> bool) -> Option<CanIOutput> {
    let create = Attributes::resource("create", "authorization.k8s.io", reviews, "");
    if allowed(&create) {
        return None;
    }
    Some(CanIOutput {
        stdout: String::new(),
        stderr: format!(
            "Error from server (Forbidden): {reviews}.authorization.k8s.io is forbidden: User {} cannot create resource {} in API group \"authorization.k8s.io\" at the cluster scope\n",
            go_quote(&user.name),
            go_quote(reviews)
        ),
        exit_code: 1,
    })
}

/// `kubectl auth can-i` against the cluster: discovery when a resource type
/// must be resolved ([`discover`]), the kubeconfig namespace
/// [`Cluster::default_namespace`], then [`answer_server`] or, for `--list`,
/// [`rules_server`] (for `user`: a SubjectAccessReview, and an impersonated
/// rules review). Argument errors become kubectl's output (exit code 1);
/// failures talking to the server are errors.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use k8sops_audit::can_i::{run, CanIArgs};
/// let server = k8sops_testkit::TestServer::start().await?;
/// let out = run(&server.cluster(), None, &CanIArgs::check("get", "nodes")).await?;
/// assert_eq!(out.stderr, "Warning: resource 'nodes' is not namespace scoped\n\n");
/// assert_eq!((out.stdout.as_str(), out.exit_code), ("yes\n", 0));
/// # Ok(()) }
/// ```
pub async fn run(cluster: &Cluster, user: Option<&UserInfo>, args: &CanIArgs) -> crate::Result<CanIOutput> {
    let discovered = if args.needs_discovery() { discover(cluster).await? } else { Discovered::new() };
    Ok(match resolve(args, cluster.default_namespace(), &discovered) {
        Err(e) => CanIOutput::from_error(&e),
        Ok(Resolved::List { namespace }) => {
            if let Some(u) = user {
                let create = Attributes::resource("create", "authorization.k8s.io", "selfsubjectrulesreviews", "");
                if !answer_server(cluster, Some(u), &CanIRequest { attributes: create, warnings: vec![] })
                    .await?
                    .allowed
                {
                    return Ok(review_refused(u, "selfsubjectrulesreviews", |_| false).unwrap_or_default());
                }
            }
            CanIOutput::from_rules(&rules_server(cluster, user, &namespace).await?, args.no_headers)
        }
        Ok(Resolved::Check(request)) => {
            if let Some(u) = user {
                let create = Attributes::resource("create", "authorization.k8s.io", "selfsubjectaccessreviews", "");
                if !answer_server(cluster, Some(u), &CanIRequest { attributes: create, warnings: vec![] })
                    .await?
                    .allowed
                {
                    let refused = review_refused(u, "selfsubjectaccessreviews", |_| false).unwrap_or_default();
                    return Ok(CanIOutput { stderr: format!("{}{}", request.stderr(), refused.stderr), ..refused });
                }
            }
            let answer = answer_server(cluster, user, &request).await?;
            CanIOutput::from_answer(&request, &answer, args.quiet)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding, RoleRef, Subject};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn r(name: &str, singular: &str, kind: &str, namespaced: bool, short: &[&str]) -> ServedResource {
        ServedResource::new(name, singular, kind, namespaced).short_names(short.iter().copied())
    }

    /// Discovery like the testkit's (and a stock cluster's), plus a group
    /// served in two versions.
    fn discovery() -> Discovered {
        Discovered::new()
            .with_resource("", "v1", r("componentstatuses", "componentstatus", "ComponentStatus", false, &["cs"]))
            .with_resource("", "v1", r("endpoints", "endpoints", "Endpoints", true, &["ep"]))
            .with_resource("", "v1", r("events", "event", "Event", true, &["ev"]))
            .with_resource("", "v1", r("namespaces", "namespace", "Namespace", false, &["ns"]))
            .with_resource("", "v1", r("nodes", "node", "Node", false, &["no"]))
            .with_resource("", "v1", r("pods", "pod", "Pod", true, &["po"]))
            .with_resource("", "v1", r("pods/log", "", "Pod", true, &[]))
            .with_resource("", "v1", r("secrets", "secret", "Secret", true, &[]))
            .with_resource("apps", "v1", r("deployments", "deployment", "Deployment", true, &["deploy"]))
            .with_resource("apps", "v1", r("deployments/scale", "", "Scale", true, &[]))
            .with_resource(
                "autoscaling",
                "v2",
                r("horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler", true, &["hpa"]),
            )
            .with_resource(
                "autoscaling",
                "v1",
                r("horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler", true, &["hpa"]),
            )
            .with_resource("batch", "v1", r("jobs", "job", "Job", true, &[]))
            .with_resource("events.k8s.io", "v1", r("events", "event", "Event", true, &["ev"]))
            .with_resource(
                "apiextensions.k8s.io",
                "v1",
                r(
                    "customresourcedefinitions",
                    "customresourcedefinition",
                    "CustomResourceDefinition",
                    false,
                    &["crd", "crds"],
                ),
            )
            .with_resource("metrics.k8s.io", "v1beta1", r("nodes", "", "NodeMetrics", false, &[]))
            .with_resource("metrics.k8s.io", "v1beta1", r("pods", "", "PodMetrics", true, &[]))
    }

    fn check(args: &CanIArgs) -> CanIRequest {
        match resolve(args, "default", &discovery()) {
            Ok(Resolved::Check(request)) => request,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    /// (group, resource, name, namespace) and the warnings of `kubectl auth can-i VERB ARG`.
    fn sent(verb: &str, arg: &str) -> ((String, String, String, String), Vec<String>) {
        let request = check(&CanIArgs::check(verb, arg));
        let a = request.attributes;
        ((a.api_group, a.resource, a.name, a.namespace), request.warnings)
    }

    fn gr(group: &str, resource: &str) -> (String, String, String, String) {
        (group.into(), resource.into(), String::new(), "default".into())
    }

    #[test]
    fn short_singular_kind_and_group_forms_resolve_like_kubectl() {
        for (arg, group, resource) in [
            ("po", "", "pods"),
            ("pods", "", "pods"),
            ("pod", "", "pods"),
            ("Pods", "", "pods"),
            ("PODS", "", "pods"),
            ("deploy", "apps", "deployments"),
            ("Deployment", "apps", "deployments"),
            ("deployments.apps", "apps", "deployments"),
            ("deployments.v1.apps", "apps", "deployments"),
            ("deploy.apps", "apps", "deployments"),
            ("deploy.v1.apps", "apps", "deployments"),
            // Group prefixes: a short name (`deploy.app`) and a resource (`deployments.app`).
            ("deploy.app", "apps", "deployments"),
            ("deployments.app", "apps", "deployments"),
            ("ev.events", "events.k8s.io", "events"),
            ("ev.events.k8s.io", "events.k8s.io", "events"),
            ("events", "", "events"),
            ("hpa", "autoscaling", "horizontalpodautoscalers"),
            ("horizontalpodautoscalers.v1.autoscaling", "autoscaling", "horizontalpodautoscalers"),
            // The kind lower-cased, guessed as the singular when discovery has none.
            ("podmetrics", "metrics.k8s.io", "pods"),
            // kubectl's RESTMapper also maps `<Kind>List` and `List` kinds.
            ("podlists", "", "podlists"),
            ("deploymentlist", "apps", "deploymentlists"),
            ("list", "", "lists"),
            ("lists.apps", "apps", "lists"),
            ("endpoints", "", "endpoints"),
            ("ep", "", "endpoints"),
        ] {
            assert_eq!(sent("get", arg), (gr(group, resource), vec![]), "{arg}");
        }
    }

    #[test]
    fn names_and_subresources() {
        let ((group, resource, name, _), warnings) = sent("get", "deployment.apps/web");
        assert_eq!((group.as_str(), resource.as_str(), name.as_str()), ("apps", "deployments", "web"));
        assert!(warnings.is_empty());
        // `pods/log` is the pod named "log", as in kubectl; the subresource needs --subresource.
        let ((_, resource, name, _), _) = sent("get", "pods/log");
        assert_eq!((resource.as_str(), name.as_str()), ("pods", "log"));
        let request = check(&CanIArgs::check("get", "po/web-0").subresource("log"));
        let a = &request.attributes;
        assert_eq!((a.resource.as_str(), a.subresource.as_str(), a.name.as_str()), ("pods", "log", "web-0"));
        assert_eq!(a.combined_resource(), "pods/log");
        // Everything after the first slash is the name.
        assert_eq!(sent("get", "pods/a/b").0 .2, "a/b");
    }

    #[test]
    fn unknown_types_are_sent_as_typed_with_a_warning() {
        assert_eq!(
            sent("get", "widgets"),
            (gr("", "widgets"), vec!["Warning: the server doesn't have a resource type 'widgets'\n\n".to_string()])
        );
        assert_eq!(
            sent("get", "Foo.Bar.Baz"),
            (
                gr("", "Foo.Bar.Baz"),
                vec!["Warning: the server doesn't have a resource type 'foo' in group 'bar.baz'\n\n".to_string()]
            )
        );
        assert_eq!(
            sent("get", "PODS.apps"),
            (
                gr("", "PODS.apps"),
                vec!["Warning: the server doesn't have a resource type 'pods' in group 'apps'\n\n".to_string()]
            )
        );
        // A short name of another group is not found in this one.
        assert_eq!(
            sent("get", "no.metrics.k8s.io").1,
            ["Warning: the server doesn't have a resource type 'no' in group 'metrics.k8s.io'\n\n"]
        );
        assert_eq!(
            sent("get", "foo.v1.apps").1,
            ["Warning: the server doesn't have a resource type 'foo' in group 'v1.apps'\n\n"]
        );
        assert_eq!(sent("get", "").1, ["Warning: the server doesn't have a resource type ''\n\n"]);
        assert_eq!(
            sent("get", "*.apps"),
            (gr("", "*.apps"), vec!["Warning: the server doesn't have a resource type '*' in group 'apps'\n\n".into()])
        );
        // An unresolved type has no scope to look up, but the verb is still checked;
        // an empty one (nothing to send) is not.
        assert_eq!(
            sent("frob", "widgets").1,
            [
                "Warning: the server doesn't have a resource type 'widgets'\n\n",
                "Warning: verb 'frob' is not a known verb\n\n"
            ]
        );
        assert_eq!(sent("frob", "").1, ["Warning: the server doesn't have a resource type ''\n\n"]);
    }

    #[test]
    fn wildcards_and_non_standard_names_are_not_looked_up() {
        assert_eq!(sent("get", "*"), (gr("", "*"), vec![]));
        assert_eq!(sent("*", "*"), (gr("", "*"), vec![]));
        for arg in ["users", "groups", "Users"] {
            assert_eq!(sent("impersonate", arg), (gr("", arg), vec![]), "{arg}");
        }
        assert_eq!(sent("impersonate", "users/alice").0 .2, "alice");
        assert_eq!(
            sent("get", "users.x").1,
            ["Warning: the server doesn't have a resource type 'users' in group 'x'\n\n"]
        );
        // Nothing is served: every type is unknown but `*`.
        let empty = resolve(&CanIArgs::check("get", "*"), "default", &Discovered::new()).unwrap();
        assert!(empty.check().unwrap().warnings.is_empty());
    }

    #[test]
    fn cluster_scoped_types_warn_unless_all_namespaces() {
        assert_eq!(
            sent("get", "nodes"),
            (gr("", "nodes"), vec!["Warning: resource 'nodes' is not namespace scoped\n\n".to_string()])
        );
        assert_eq!(sent("get", "ns/default").1, ["Warning: resource 'namespaces' is not namespace scoped\n\n"]);
        assert_eq!(
            sent("get", "crd").1,
            ["Warning: resource 'customresourcedefinitions' is not namespace scoped in group 'apiextensions.k8s.io'\n\n"]
        );
        // `nodes` is in the core group and in metrics.k8s.io: v1 comes first.
        assert_eq!(sent("get", "nodes").0 .0, "");
        assert_eq!(
            sent("get", "nodes.metrics").1,
            ["Warning: resource 'nodes' is not namespace scoped in group 'metrics.k8s.io'\n\n"]
        );
        let request = check(&CanIArgs::check("get", "nodes").all_namespaces());
        assert!(request.warnings.is_empty());
        assert_eq!(request.attributes.namespace, "");
        // -n does not silence it; the namespace is still sent.
        let request = check(&CanIArgs::check("get", "nodes/x").in_namespace("kube-system").subresource("status"));
        assert_eq!(request.warnings, ["Warning: resource 'nodes' is not namespace scoped\n\n"]);
        assert_eq!(request.attributes.namespace, "kube-system");
        // Types kubectl maps but discovery does not list (`lists`) are not looked up.
        assert!(sent("get", "lists").1.is_empty());
    }

    #[test]
    fn unknown_verbs_warn_after_the_scope_and_not_with_all_namespaces() {
        assert_eq!(
            sent("frob", "nodes").1,
            ["Warning: resource 'nodes' is not namespace scoped\n\n", "Warning: verb 'frob' is not a known verb\n\n"]
        );
        assert_eq!(sent("frob", "*").1, ["Warning: verb 'frob' is not a known verb\n\n"]);
        assert_eq!(sent("", "pods").1, ["Warning: verb '' is not a known verb\n\n"]);
        assert_eq!(sent("GET", "pods").1, ["Warning: verb 'GET' is not a known verb\n\n"]);
        assert!(check(&CanIArgs::check("frob", "pods").all_namespaces()).warnings.is_empty());
        assert!(check(&CanIArgs::check("frob", "*").all_namespaces()).warnings.is_empty());
        for verb in RESOURCE_VERBS {
            assert!(sent(verb, "pods").1.is_empty(), "{verb}");
        }
        // The verb is sent as typed.
        assert_eq!(check(&CanIArgs::check("GET", "pods")).attributes.verb, "GET");
    }

    #[test]
    fn ambiguous_short_names_warn_once_and_take_the_first_group() {
        let (sent_gr, warnings) = sent("get", "ev");
        assert_eq!(sent_gr, gr("", "events"));
        assert_eq!(
            warnings,
            ["Warning: short name \"ev\" could also match lower priority resource events.events.k8s.io\n"]
        );
        // The same resource in two versions of one group is not ambiguous.
        assert!(sent("get", "hpa").1.is_empty());
    }

    #[test]
    fn priority_follows_core_then_discovery_order_then_preferred_versions() {
        let d = Discovered::new()
            .with_resource("networking.k8s.io", "v1", r("ingresses", "ingress", "Ingress", true, &["ing"]))
            .with_resource("extensions", "v1beta1", r("ingresses", "ingress", "Ingress", true, &["ing"]));
        let resolved = resolve(&CanIArgs::check("get", "ingresses"), "default", &d).unwrap();
        assert_eq!(resolved.check().unwrap().attributes.api_group, "networking.k8s.io");
        let resolved = resolve(&CanIArgs::check("get", "ing"), "default", &d).unwrap();
        let request = resolved.check().unwrap();
        assert_eq!(request.attributes.api_group, "networking.k8s.io");
        assert_eq!(
            request.warnings,
            ["Warning: short name \"ing\" could also match lower priority resource ingresses.extensions\n"]
        );
        // The preferred version decides whose scope is looked up.
        let d = Discovered::new()
            .with_resource("x.io", "v1", r("things", "thing", "Thing", true, &[]))
            .with_resource("x.io", "v2", r("things", "thing", "Thing", false, &[]))
            .with_preferred_version("x.io", "v2");
        let resolved = resolve(&CanIArgs::check("get", "things"), "default", &d).unwrap();
        assert_eq!(
            resolved.check().unwrap().warnings,
            ["Warning: resource 'things' is not namespace scoped in group 'x.io'\n\n"]
        );
        // Two resources of one version matching: ambiguous, so unknown.
        let d = Discovered::new().with_resource("", "v1", r("foos", "foo", "Foo", true, &[])).with_resource(
            "",
            "v1",
            r("foo", "bar", "Bar", true, &[]),
        );
        let resolved = resolve(&CanIArgs::check("get", "foo"), "default", &d).unwrap();
        assert_eq!(resolved.check().unwrap().warnings, ["Warning: the server doesn't have a resource type 'foo'\n\n"]);
    }

    #[test]
    fn non_resource_urls() {
        let request = check(&CanIArgs::check("get", "/logs/").in_namespace("x"));
        assert_eq!(request.attributes, Attributes::non_resource("get", "/logs/"));
        assert!(request.warnings.is_empty());
        assert_eq!(check(&CanIArgs::check("get", "/").all_namespaces()).attributes.path, "/");
        assert_eq!(check(&CanIArgs::check("GET", "/x")).warnings, ["Warning: verb 'GET' is not a known verb\n\n"]);
        assert_eq!(check(&CanIArgs::check("list", "/x")).warnings, ["Warning: verb 'list' is not a known verb\n\n"]);
        assert!(check(&CanIArgs::check("frob", "/x").all_namespaces()).warnings.len() == 1);
        for verb in NON_RESOURCE_URL_VERBS {
            assert!(check(&CanIArgs::check(*verb, "/x")).warnings.is_empty(), "{verb}");
        }
    }

    #[test]
    fn namespaces() {
        let d = discovery();
        let ns = |args: CanIArgs, default: &str| match resolve(&args, default, &d).unwrap() {
            Resolved::Check(request) => request.attributes.namespace,
            Resolved::List { namespace } => namespace,
        };
        assert_eq!(ns(CanIArgs::check("get", "pods"), "team"), "team");
        assert_eq!(ns(CanIArgs::check("get", "pods"), ""), "default");
        assert_eq!(ns(CanIArgs::check("get", "pods").in_namespace(""), "team"), "team");
        assert_eq!(ns(CanIArgs::check("get", "pods").in_namespace("shop"), "team"), "shop");
        assert_eq!(ns(CanIArgs::check("get", "pods").in_namespace("shop").all_namespaces(), "team"), "");
        assert_eq!(ns(CanIArgs::list(), "team"), "team");
        assert_eq!(ns(CanIArgs::list().in_namespace("shop"), "team"), "shop");
    }

    #[test]
    fn argument_errors_have_kubectl_messages_and_order() {
        let d = discovery();
        let err = |args: CanIArgs| resolve(&args, "default", &d).unwrap_err();
        let no_args = CanIArgs::default();
        let one_arg = CanIArgs { verb: Some("get".into()), ..CanIArgs::default() };
        assert_eq!(
            err(no_args.clone()).to_string(),
            "you must specify two arguments: verb resource or verb resource/resourceName.\nSee 'kubectl auth can-i -h' for help and examples."
        );
        assert_eq!(err(one_arg.clone()), CanIError::ArgumentCount);
        assert_eq!(
            err(CanIArgs { resource_arg: Some("pods".into()), ..CanIArgs::default() }),
            CanIError::ArgumentCount
        );
        // --list: arguments first, then the other flags.
        let list_args = CanIArgs { list: true, quiet: true, ..one_arg };
        assert_eq!(err(list_args).to_string(), "list option must be specified with no arguments");
        let expected = "list option can't be specified with neither quiet, all-namespaces nor subresource options";
        assert_eq!(err(CanIArgs::list().quiet()).to_string(), expected);
        assert_eq!(err(CanIArgs::list().all_namespaces()).to_string(), expected);
        assert_eq!(err(CanIArgs::list().subresource("log")).to_string(), expected);
        assert!(resolve(&CanIArgs::list().subresource(""), "default", &d).is_ok());
        assert!(resolve(&CanIArgs::list().no_headers(), "default", &d).is_ok());
        // --subresource with a URL comes before the verb warning and --no-headers.
        assert_eq!(
            err(CanIArgs::check("frob", "/x").subresource("s").no_headers()).to_string(),
            "--subresource can not be used with NonResourceURL"
        );
        // --no-headers is found last, after kubectl printed its warnings.
        let e = err(CanIArgs::check("get", "nodes").no_headers());
        assert_eq!(e.to_string(), "--no-headers cannot be set without --list specified");
        assert_eq!(
            e.stderr(),
            "Warning: resource 'nodes' is not namespace scoped\n\nerror: --no-headers cannot be set without --list specified\n"
        );
        assert_eq!(
            err(no_args).stderr(),
            "error: you must specify two arguments: verb resource or verb resource/resourceName.\nSee 'kubectl auth can-i -h' for help and examples.\n"
        );
        // validate() agrees without discovery (and without the warnings).
        assert_eq!(
            CanIArgs::check("get", "nodes").no_headers().validate(),
            Err(CanIError::NoHeadersWithoutList { warnings: vec![] })
        );
        assert_eq!(
            CanIArgs::check("get", "/x").subresource("s").validate(),
            Err(CanIError::SubresourceWithNonResourceUrl)
        );
        assert_eq!(CanIArgs::list().in_namespace("x").validate(), Ok(()));
        assert_eq!(CanIArgs::check("get", "pods").subresource("log").all_namespaces().quiet().validate(), Ok(()));
    }

    #[test]
    fn answers_print_like_kubectl() {
        let yes = CanIAnswer { allowed: true, reason: "RBAC: allowed by x".into(), evaluation_error: "e".into() };
        assert_eq!((yes.stdout().as_str(), yes.exit_code()), ("yes\n", 0));
        let no = CanIAnswer::default();
        assert_eq!((no.stdout().as_str(), no.exit_code()), ("no\n", 1));
        let both = CanIAnswer { allowed: false, reason: "r".into(), evaluation_error: "e".into() };
        assert_eq!(both.stdout(), "no - r - e\n");
        assert_eq!(both.output(true), "");
        let status = SubjectAccessReviewStatus {
            allowed: false,
            denied: Some(true),
            reason: Some("denied by policy".into()),
            evaluation_error: None,
        };
        assert_eq!(CanIAnswer::from(status).stdout(), "no - denied by policy\n");
    }

    fn meta(ns: Option<&str>, name: &str) -> ObjectMeta {
        ObjectMeta { name: Some(name.into()), namespace: ns.map(Into::into), ..Default::default() }
    }

    fn snapshot() -> RbacSnapshot {
        let view = ClusterRole {
            metadata: meta(None, "pod-reader"),
            rules: Some(vec![PolicyRule {
                api_groups: Some(vec!["".into()]),
                resources: Some(vec!["pods".into(), "pods/log".into()]),
                verbs: vec!["get".into(), "list".into()],
                ..Default::default()
            }]),
            ..Default::default()
        };
        let binding = RoleBinding {
            metadata: meta(Some("shop"), "readers"),
            role_ref: RoleRef { kind: "ClusterRole".into(), name: "pod-reader".into(), ..Default::default() },
            subjects: Some(vec![Subject { kind: "Group".into(), name: "dev".into(), ..Default::default() }]),
        };
        let broken = ClusterRoleBinding {
            metadata: meta(None, "broken"),
            role_ref: RoleRef { kind: "ClusterRole".into(), name: "gone".into(), ..Default::default() },
            subjects: Some(vec![Subject { kind: "User".into(), name: "bob".into(), ..Default::default() }]),
        };
        RbacSnapshot::new([], [view], [binding], [broken])
    }

    #[test]
    fn offline_answers_are_the_servers() {
        let s = snapshot();
        let d = discovery();
        let alice = UserInfo::impersonated("alice", &["dev"]);
        let out =
            run_offline(&s, &alice, &CanIArgs::check("get", "po").in_namespace("shop").subresource("log"), "x", &d);
        assert_eq!(out, CanIOutput { stdout: "yes\n".into(), stderr: String::new(), exit_code: 0 });
        let request = check(&CanIArgs::check("list", "pods").in_namespace("shop"));
        assert_eq!(
            answer_offline(&s, &alice, &request).reason,
            "RBAC: allowed by RoleBinding \"readers/shop\" of ClusterRole \"pod-reader\" to Group \"dev\""
        );
        // Not in another namespace, nor across all namespaces.
        let out = run_offline(&s, &alice, &CanIArgs::check("list", "pods").all_namespaces(), "shop", &d);
        assert_eq!((out.stdout.as_str(), out.exit_code), ("no\n", 1));
        // A binding of the user to a missing role is the reason of the denial.
        let bob = UserInfo::impersonated("bob", &[] as &[&str]);
        let out = run_offline(&s, &bob, &CanIArgs::check("delete", "nodes"), "default", &d);
        assert_eq!(out.stdout, "no - RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found\n");
        assert_eq!(out.stderr, "Warning: resource 'nodes' is not namespace scoped\n\n");
        // system:masters is allowed before RBAC, quietly.
        let root = UserInfo::impersonated("root", &["system:masters"]);
        let out = run_offline(&s, &root, &CanIArgs::check("delete", "nodes").all_namespaces().quiet(), "default", &d);
        assert_eq!(out, CanIOutput { stdout: String::new(), stderr: String::new(), exit_code: 0 });
        // --list.
        let out = run_offline(&s, &alice, &CanIArgs::list().in_namespace("shop").no_headers(), "default", &d);
        // Sorted as Go strings: `[pods/log]` before `[pods]`.
        assert_eq!(out.stdout, "pods/log   []    []    [get list]\npods       []    []    [get list]\n");
        assert_eq!(out.exit_code, 0);
        let out = run_offline(&s, &alice, &CanIArgs::list(), "default", &d);
        assert_eq!(out.stdout, "Resources   Non-Resource URLs   Resource Names   Verbs\n");
        // Errors.
        let out = run_offline(&s, &alice, &CanIArgs::check("get", "/x").subresource("y"), "default", &d);
        assert_eq!(out.stderr, "error: --subresource can not be used with NonResourceURL\n");
        assert_eq!((out.stdout.as_str(), out.exit_code), ("", 1));
    }

    #[test]
    fn review_attributes_leave_empty_fields_out() {
        let request = check(&CanIArgs::check("get", "pods").all_namespaces());
        let (ra, nra) = review_attributes(&request.attributes);
        let ra = ra.unwrap();
        assert!(nra.is_none());
        assert_eq!((ra.verb.as_deref(), ra.resource.as_deref()), (Some("get"), Some("pods")));
        assert_eq!((ra.namespace, ra.group, ra.subresource, ra.name, ra.version), (None, None, None, None, None));
        let (ra, nra) = review_attributes(&Attributes::non_resource("get", "/healthz"));
        assert!(ra.is_none());
        assert_eq!(nra.unwrap().path.as_deref(), Some("/healthz"));
    }

    #[test]
    fn impersonation_sends_only_the_groups_the_server_does_not_add() {
        let none: &[&str] = &[];
        assert!(impersonation_groups(&UserInfo::impersonated("alice", none)).is_empty());
        assert!(impersonation_groups(&UserInfo::impersonated("system:serviceaccount:ci:bot", none)).is_empty());
        assert!(impersonation_groups(&UserInfo::anonymous()).is_empty());
        assert_eq!(impersonation_groups(&UserInfo::impersonated("alice", &["dev", "ops"])), ["dev", "ops"]);
        assert_eq!(impersonation_groups(&UserInfo::impersonated("system:anonymous", &["g"])), ["g"]);
        let sa = UserInfo::impersonated("system:serviceaccount:ci:bot", &["system:authenticated"]);
        assert_eq!(impersonation_groups(&sa), ["system:authenticated"]);
        let sa = UserInfo::impersonated("system:serviceaccount:ci:bot", &["x"]);
        assert_eq!(impersonation_groups(&sa), ["x"]);
        // Whatever is sent, the server's user is what impersonated() makes of it.
        for user in [
            UserInfo::impersonated("alice", &["dev"]),
            UserInfo::impersonated("system:serviceaccount:ci:bot", none),
            UserInfo::impersonated("system:serviceaccount:ci:bot", &["system:serviceaccounts"]),
            UserInfo::impersonated("alice", &["system:authenticated", "dev"]),
        ] {
            assert_eq!(UserInfo::impersonated(&user.name, &impersonation_groups(&user)), user);
        }
        // A user the filter cannot build: all groups are sent.
        assert_eq!(impersonation_groups(&UserInfo::new("alice", ["dev"])), ["dev"]);
    }

    #[test]
    fn helpers_match_go() {
        assert_eq!(guess_kind_to_resource("Pod"), ("pods".into(), "pod".into()));
        assert_eq!(guess_kind_to_resource("Endpoints"), ("endpoints".into(), "endpoints".into()));
        assert_eq!(guess_kind_to_resource("NetworkPolicy"), ("networkpolicies".into(), "networkpolicy".into()));
        assert_eq!(guess_kind_to_resource("Gateway"), ("gateways".into(), "gateway".into()));
        assert_eq!(guess_kind_to_resource("Ingress"), ("ingresses".into(), "ingress".into()));
        assert_eq!(guess_kind_to_resource("List"), ("lists".into(), "list".into()));
        assert_eq!(guess_kind_to_resource(""), (String::new(), String::new()));
        assert_eq!(parse_resource_arg("a.b.c.d"), (Some(Gvr::new("c.d", "b", "a")), Gvr::new("b.c.d", "", "a")));
        assert_eq!(parse_resource_arg("a.b"), (None, Gvr::new("b", "", "a")));
        assert_eq!(go_quote("ev"), "\"ev\"");
        assert_eq!(go_quote("a\"b\\\n\u{1}\u{a0}é"), "\"a\\\"b\\\\\\n\\x01\\u00a0é\"");
    }

    #[test]
    fn discovery_is_needed_only_to_resolve_a_type() {
        assert!(CanIArgs::check("get", "pods").needs_discovery());
        assert!(CanIArgs::check("get", "pods/x").needs_discovery());
        assert!(!CanIArgs::check("get", "*").needs_discovery());
        assert!(!CanIArgs::check("get", "*/x").needs_discovery());
        assert!(!CanIArgs::check("get", "/x").needs_discovery());
        assert!(!CanIArgs::list().needs_discovery());
        assert!(!CanIArgs { verb: Some("get".into()), ..CanIArgs::default() }.needs_discovery());
    }

    #[tokio::test]
    async fn discovery_keeps_the_server_order() {
        let server = k8sops_testkit::TestServer::start().await.unwrap();
        let d = discover(&server.cluster()).await.unwrap();
        assert!(d.unavailable.is_empty());
        assert_eq!(d.groups[0].name, "");
        assert_eq!(d.groups[0].preferred_version, "v1");
        let names: Vec<&str> = d.groups.iter().map(|g| g.name.as_str()).collect();
        let apps = names.iter().position(|n| *n == "apps").unwrap();
        let events = names.iter().position(|n| *n == "events.k8s.io").unwrap();
        assert!(apps < events, "{names:?}");
        let pods = d.resource("", "v1", "pods").unwrap();
        assert!(pods.namespaced && pods.short_names == ["po"] && pods.verbs.contains(&"get".to_string()));
        assert!(d.resource("", "v1", "pods/log").is_some());
        // The same answers as the fixture above for the testkit's types.
        for arg in ["po", "deploy", "ev", "nodes", "nodes.metrics", "crd", "widgets", "list"] {
            let ours = resolve(&CanIArgs::check("get", arg), "default", &d).unwrap();
            let fixture = resolve(&CanIArgs::check("get", arg), "default", &discovery()).unwrap();
            assert_eq!(ours, fixture, "{arg}");
        }
    }

    #[tokio::test]
    async fn server_answers_checks_and_lists() {
        let server = k8sops_testkit::TestServer::start().await.unwrap();
        let cluster = server.cluster();
        let binding = RoleBinding {
            metadata: meta(Some("default"), "devs"),
            role_ref: RoleRef { kind: "ClusterRole".into(), name: "view".into(), ..Default::default() },
            subjects: Some(vec![Subject { kind: "Group".into(), name: "dev".into(), ..Default::default() }]),
        };
        server.insert(&binding).unwrap();

        // The admin: a SelfSubjectAccessReview.
        let out = run(&cluster, None, &CanIArgs::check("get", "/healthz")).await.unwrap();
        assert_eq!((out.stdout.as_str(), out.exit_code), ("yes\n", 0));
        // Another user: a SubjectAccessReview with the impersonation groups.
        let alice = UserInfo::impersonated("alice", &["dev"]);
        let out = run(&cluster, Some(&alice), &CanIArgs::check("list", "po")).await.unwrap();
        assert_eq!((out.stdout.as_str(), out.exit_code), ("yes\n", 0));
        let out =
            run(&cluster, Some(&alice), &CanIArgs::check("list", "po").in_namespace("kube-system")).await.unwrap();
        assert_eq!((out.stdout.as_str(), out.exit_code), ("no\n", 1));
        let out = run(&cluster, Some(&alice), &CanIArgs::check("delete", "po").quiet()).await.unwrap();
        assert_eq!((out.stdout.as_str(), out.exit_code), ("", 1));
        let reviews = server.requests();
        assert!(reviews.iter().any(|r| r.path.ends_with("/selfsubjectaccessreviews")));
        assert!(reviews.iter().any(|r| r.path.ends_with("/subjectaccessreviews")));

        // --list, impersonating: the group binding applies only with the group.
        let out = run(&cluster, Some(&alice), &CanIArgs::list().no_headers()).await.unwrap();
        assert!(out.stdout.lines().any(|l| l.starts_with("pods ")), "{}", out.stdout);
        assert_eq!(out.exit_code, 0);
        let bob = UserInfo::impersonated("bob", &[] as &[&str]);
        let review = rules_server(&cluster, Some(&bob), "default").await.unwrap();
        assert!(!list_output(&review, true).lines().any(|l| l.starts_with("pods ")));
        assert!(server.requests().iter().any(|r| r.user == "bob" && r.path.ends_with("/selfsubjectrulesreviews")));
        let review = rules_server(&cluster, None, "default").await.unwrap();
        assert!(list_output(&review, false).contains("*.*"));

        // Argument errors are output, not failures; no discovery is needed for them.
        server.clear_requests();
        let out = run(&cluster, None, &CanIArgs::list().all_namespaces()).await.unwrap();
        assert_eq!(out.exit_code, 1);
        assert!(out.stderr.starts_with("error: list option can't"));
        assert!(server.requests().is_empty());
        // An impersonated user needs a name.
        assert!(rules_server(&cluster, Some(&UserInfo::default()), "default").await.is_err());
    }
}
