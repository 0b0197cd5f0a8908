//! `kubectl auth can-i` as the oracle for [`k8sops_audit::can_i`]: a table
//! of command lines, each run by kubectl (`--as` / `--as-group` through the
//! admin kubeconfig's impersonation) against the real kube-apiserver 1.24
//! (`--authorization-mode=Node,RBAC`), and by k8sops twice: offline
//! ([`run_offline`] on the fetched RBAC snapshot and discovery) and against
//! the server ([`run`] with the impersonated user). Standard output,
//! standard error and the exit code must be the same byte for byte.
//!
//! kubectl here is a dispatcher choosing a kubectl minor for the server; for
//! this 1.24 server it runs kubectl 1.32 (its User-Agent says
//! `kubectl/v1.32.4`), the behaviour the library targets, so plain
//! `kubectl` is the oracle.

mod common;

use std::{
    fmt::{self, Write as _},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use futures::{stream, StreamExt};
use k8s_openapi::api::{
    authorization::v1::SubjectAccessReview,
    core::v1::{Namespace, ServiceAccount},
    rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding},
};
use k8sops_audit::{
    can_i::{discover, run, run_offline, CanIArgs, CanIOutput},
    inventory::fetch_rbac,
    rbac::{Attributes, UserInfo},
};
use k8sops_core::Cluster;
use k8sops_testkit::e2e;
use kube::{
    api::{DeleteParams, PostParams},
    Api,
};
use serde_json::{json, Value};

/// The fixture in `ns1` and `ns2`; cluster-scoped objects and the groups
/// they name start with `{ns1}-` so runs do not collide.
///
/// - `alice` may get/list pods and pods/log in `ns1` only;
/// - the group `{ns1}-devs` may get everything in `apps` everywhere
///   (ClusterRoleBinding), pods and pods/log in `ns2`, and the URLs
///   `/healthz` and `/metrics/*`;
/// - the ServiceAccount `ci` of `ns1`, bound by a RoleBinding whose subject
///   has no namespace, may create and patch deployments and
///   deployments/scale in `ns1`, and get the URLs too;
/// - the service accounts of `ns1` (group `system:serviceaccounts:{ns1}`)
///   may get and update the configmap `app-config` only (resourceNames);
/// - `erin` is bound to a Role that does not exist in `ns1` and to a
///   ClusterRole that does not exist in `ns2`; the group `{ns1}-broken`
///   to a missing ClusterRole cluster-wide: the denials carry reasons.
fn fixture(ns1: &str, ns2: &str) -> Vec<Value> {
    let rbac = "rbac.authorization.k8s.io/v1";
    let cr = |name: &str, rules: Value| json!({"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": format!("{ns1}-{name}")}, "rules": rules});
    let crb = |name: &str, role: &str, subjects: Value| {
        json!({"apiVersion": rbac, "kind": "ClusterRoleBinding",
        "metadata": {"name": format!("{ns1}-{name}")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("{ns1}-{role}")},
        "subjects": subjects})
    };
    let rb = |namespace: &str, name: &str, kind: &str, role: &str, subjects: Value| {
        json!({"apiVersion": rbac, "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role}, "subjects": subjects})
    };
    let user = |n: &str| json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": n});
    let group = |n: &str| json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": n});
    let devs = format!("{ns1}-devs");
    vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "ci", "namespace": ns1}}),
        cr("pod-reader", json!([{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}])),
        cr("apps-getter", json!([{"apiGroups": ["apps"], "resources": ["*"], "verbs": ["get"]}])),
        cr(
            "named",
            json!([{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["app-config"], "verbs": ["get", "update"]}]),
        ),
        cr("nonres", json!([{"nonResourceURLs": ["/healthz", "/metrics/*"], "verbs": ["get"]}])),
        json!({"apiVersion": rbac, "kind": "Role", "metadata": {"name": "deployer", "namespace": ns1},
            "rules": [{"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale"], "verbs": ["create", "patch"]}]}),
        rb(ns1, "alice-reads-pods", "ClusterRole", &format!("{ns1}-pod-reader"), json!([user("alice")])),
        crb("devs-get-apps", "apps-getter", json!([group(&devs)])),
        rb(ns2, "devs-read-pods", "ClusterRole", &format!("{ns1}-pod-reader"), json!([group(&devs)])),
        // The subject's namespace is left out: a RoleBinding means its own.
        rb(ns1, "ci-deploys", "Role", "deployer", json!([{"kind": "ServiceAccount", "name": "ci"}])),
        rb(
            ns1,
            "sas-read-config",
            "ClusterRole",
            &format!("{ns1}-named"),
            json!([group(&format!("system:serviceaccounts:{ns1}"))]),
        ),
        crb("urls", "nonres", json!([group(&devs), {"kind": "ServiceAccount", "name": "ci", "namespace": ns1}])),
        rb(ns1, "erin-missing", "Role", "does-not-exist", json!([user("erin")])),
        rb(ns2, "erin-missing", "ClusterRole", &format!("{ns1}-gone"), json!([user("erin")])),
        crb("broken", "vanished", json!([group(&format!("{ns1}-broken"))])),
    ]
}

async fn create<K>(api: Api<K>, object: &Value)
where
    K: Clone + serde::de::DeserializeOwned + serde::Serialize + fmt::Debug + kube::Resource,
{
    let typed: K = serde_json::from_value(object.clone()).unwrap_or_else(|e| panic!("{object}: {e}"));
    api.create(&PostParams::default(), &typed).await.unwrap_or_else(|e| panic!("create {object}: {e}"));
}

async fn create_all(cluster: &Cluster, objects: &[Value]) {
    for o in objects {
        let (kind, ns) = (o["kind"].as_str().unwrap_or_default(), o["metadata"]["namespace"].as_str().unwrap_or(""));
        let client = cluster.client().clone();
        match kind {
            "ServiceAccount" => create(Api::<ServiceAccount>::namespaced(client, ns), o).await,
            "ClusterRole" => create(Api::<ClusterRole>::all(client), o).await,
            "ClusterRoleBinding" => create(Api::<ClusterRoleBinding>::all(client), o).await,
            "Role" => create(Api::<Role>::namespaced(client, ns), o).await,
            "RoleBinding" => create(Api::<RoleBinding>::namespaced(client, ns), o).await,
            other => panic!("unexpected kind {other}"),
        }
    }
}

/// Deletes the namespaces and the cluster-scoped objects of the fixture
/// (best effort: a leftover only costs space, the names are unique).
async fn clean_up(cluster: &Cluster, objects: &[Value], namespaces: &[&str]) {
    let dp = DeleteParams::default();
    for o in objects {
        let name = o["metadata"]["name"].as_str().unwrap_or_default();
        let client = cluster.client().clone();
        let _ = match o["kind"].as_str() {
            Some("ClusterRole") => Api::<ClusterRole>::all(client).delete(name, &dp).await.map(drop),
            Some("ClusterRoleBinding") => Api::<ClusterRoleBinding>::all(client).delete(name, &dp).await.map(drop),
            _ => Ok(()),
        };
    }
    for ns in namespaces {
        let _ = Api::<Namespace>::all(cluster.client().clone()).delete(ns, &dp).await;
    }
}

/// Who asks: `--as NAME [--as-group G]...`.
#[derive(Clone, Debug)]
struct Who {
    name: String,
    groups: Vec<String>,
}

impl Who {
    fn new(name: impl Into<String>, groups: &[&str]) -> Self {
        Self { name: name.into(), groups: groups.iter().map(|g| g.to_string()).collect() }
    }

    /// The user the server's impersonation filter makes of the flags.
    fn user(&self) -> UserInfo {
        UserInfo::impersonated(&self.name, &self.groups)
    }

    fn flags(&self) -> Vec<String> {
        let mut out = vec!["--as".to_owned(), self.name.clone()];
        for g in &self.groups {
            out.push("--as-group".to_owned());
            out.push(g.clone());
        }
        out
    }
}

/// One command line, `kubectl auth can-i LINE --as ...`, and the exit code
/// the fixture should produce (a check that the fixture is in force, so the
/// comparison is not vacuous: kubectl and k8sops agreeing on "no" for
/// everything would prove little).
struct Case {
    who: Who,
    line: String,
    expect_code: i32,
}

impl Case {
    fn argv(&self) -> Vec<&str> {
        self.line.split_whitespace().collect()
    }

    fn command_line(&self) -> String {
        format!("kubectl auth can-i {} {}", self.line, self.who.flags().join(" "))
    }
}

/// kubectl's flags of `auth can-i` mapped onto [`CanIArgs`], as a clap
/// front end would: `-n/--namespace`, `-A/--all-namespaces`,
/// `--subresource`, `-q/--quiet`, `--list`, `--no-headers`, and at most two
/// positional arguments.
fn can_i_args(argv: &[&str]) -> CanIArgs {
    let mut args = CanIArgs::default();
    let mut positional = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let arg = argv[i];
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if arg.starts_with("--") => (f, Some(v)),
            _ => (arg, None),
        };
        let mut value = || -> String {
            inline.map(str::to_owned).unwrap_or_else(|| {
                i += 1;
                argv.get(i).unwrap_or_else(|| panic!("{flag} needs a value")).to_string()
            })
        };
        match flag {
            "-n" | "--namespace" => args.namespace = Some(value()),
            "--subresource" => args.subresource = Some(value()),
            "-A" | "--all-namespaces" => args.all_namespaces = true,
            "-q" | "--quiet" => args.quiet = true,
            "--list" => args.list = true,
            "--no-headers" => args.no_headers = true,
            f if f.starts_with('-') && f.len() > 1 => panic!("flag {f} is not mapped"),
            _ => positional.push(arg.to_owned()),
        }
        i += 1;
    }
    assert!(positional.len() <= 2, "CanIArgs holds two positional arguments: {argv:?}");
    let mut positional = positional.into_iter();
    args.verb = positional.next();
    args.resource_arg = positional.next();
    args
}

/// What a command printed and its exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    stdout: String,
    stderr: String,
    code: i32,
}

impl From<CanIOutput> for Outcome {
    fn from(o: CanIOutput) -> Self {
        Self { stdout: o.stdout, stderr: o.stderr, code: o.exit_code }
    }
}

/// Removes ANSI colour sequences (`ESC [ ... m`); kubectl writes none when
/// standard error is not a terminal, as here.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Runs `kubectl --kubeconfig K --cache-dir (fresh) auth can-i ARGS`, off
/// the runtime, with its numeric exit code.
async fn kubectl_can_i(kubeconfig: &Path, args: Vec<String>) -> Outcome {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let kubeconfig = kubeconfig.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let cache: PathBuf = std::env::temp_dir().join(format!(
            "k8sops-can-i-kubectl-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let out = std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(&cache)
            .args(["auth", "can-i"])
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run kubectl: {e}"));
        let _ = std::fs::remove_dir_all(&cache);
        Outcome {
            stdout: strip_ansi(&String::from_utf8_lossy(&out.stdout)),
            stderr: strip_ansi(&String::from_utf8_lossy(&out.stderr)),
            code: out.status.code().unwrap_or(-1),
        }
    })
    .await
    .expect("kubectl task")
}

/// A SubjectAccessReview as the admin, for waiting until the authorizer's
/// caches hold the fixture.
async fn review(cluster: &Cluster, user: &UserInfo, a: &Attributes) -> (bool, String) {
    let review = common::subject_access_review(user, a);
    let api: Api<SubjectAccessReview> = Api::all(cluster.client().clone());
    let status = api.create(&PostParams::default(), &review).await.expect("subjectaccessreview").status;
    let status = status.unwrap_or_default();
    (status.allowed, status.reason.unwrap_or_default())
}

/// Waits (at most 30 s) until the RBAC authorizer answers from every
/// binding of the fixture: one check per binding, allowed or denied with
/// the missing role named.
async fn wait_for_authorizer(cluster: &Cluster, ns1: &str, ns2: &str) {
    let devs = format!("{ns1}-devs");
    let ci = Who::new(format!("system:serviceaccount:{ns1}:ci"), &[]).user();
    let other = Who::new(format!("system:serviceaccount:{ns1}:other"), &[]).user();
    let gina = Who::new("gina", &[&devs]).user();
    let erin = Who::new("erin", &[]).user();
    let broken = Who::new("erin", &[&format!("{ns1}-broken")]).user();
    let checks: Vec<(UserInfo, Attributes, &str)> = vec![
        (Who::new("alice", &[]).user(), Attributes::resource("get", "", "pods", ns1), ""),
        (gina.clone(), Attributes::resource("get", "apps", "deployments", ns1), ""),
        (gina.clone(), Attributes::resource("get", "", "pods", ns2), ""),
        (gina, Attributes::non_resource("get", "/metrics/x"), ""),
        (ci.clone(), Attributes::resource("create", "apps", "deployments", ns1), ""),
        (ci, Attributes::non_resource("get", "/metrics/x"), ""),
        (other, Attributes::resource("get", "", "configmaps", ns1).name("app-config"), ""),
        (erin.clone(), Attributes::resource("get", "", "pods", ns1), "does-not-exist"),
        (erin, Attributes::resource("get", "", "pods", ns2), "-gone"),
        (broken, Attributes::resource("get", "", "pods", ""), "-vanished"),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    for (user, a, missing) in checks {
        loop {
            let (allowed, reason) = review(cluster, &user, &a).await;
            let served = if missing.is_empty() { allowed } else { reason.contains(missing) };
            if served {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the authorizer did not pick up the fixture in 30 s: {} {a:?}",
                user.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The command lines, with the exit code the fixture should give.
fn cases(ns1: &str, ns2: &str) -> Vec<Case> {
    let devs = format!("{ns1}-devs");
    let broken_group = format!("{ns1}-broken");
    let alice = Who::new("alice", &[]);
    let gina = Who::new("gina", &[&devs]);
    let ci = Who::new(format!("system:serviceaccount:{ns1}:ci"), &[]);
    let ci_as_dev = Who::new(format!("system:serviceaccount:{ns1}:ci"), &[&devs]);
    let other = Who::new(format!("system:serviceaccount:{ns1}:other"), &[]);
    let ci2 = Who::new(format!("system:serviceaccount:{ns2}:ci"), &[]);
    let alice_as_sa = Who::new("alice", &[&format!("system:serviceaccounts:{ns1}")]);
    let erin = Who::new("erin", &[]);
    let erin_broken = Who::new("erin", &[&broken_group]);
    let root = Who::new("root", &["system:masters"]);
    let anonymous = Who::new("system:anonymous", &[]);
    let mut out = Vec::new();
    let mut add = |who: &Who, line: String, expect_code: i32| out.push(Case { who: who.clone(), line, expect_code });

    // alice: pods and pods/log in ns1, by every spelling of the type.
    add(&alice, "get pods".into(), 1); // the kubeconfig's namespace, default
    add(&alice, format!("get pods -n {ns1}"), 0);
    add(&alice, format!("get pods --namespace={ns1}"), 0);
    add(&alice, format!("list po -n {ns1}"), 0);
    add(&alice, format!("get pod -n {ns1}"), 0); // 1.24 discovery has no singularName: guessed from the kind
    add(&alice, format!("get Pods -n {ns1}"), 0);
    add(&alice, format!("get pods.v1. -n {ns1}"), 0);
    add(&alice, format!("delete pods -n {ns1}"), 1);
    add(&alice, format!("watch pods -n {ns1}"), 1);
    add(&alice, format!("get pods/web-0 -n {ns1}"), 0);
    add(&alice, format!("get pods --subresource log -n {ns1}"), 0);
    add(&alice, format!("get po/web-0 --subresource=log -n {ns1}"), 0);
    add(&alice, format!("create pods/web-0 --subresource exec -n {ns1}"), 1);
    add(&alice, format!("get pods -n {ns2}"), 1);
    add(&alice, "get pods -A".into(), 1);
    add(&alice, "list pods --all-namespaces".into(), 1);
    add(&alice, format!("get deployments.apps -n {ns1}"), 1);
    add(&alice, format!("get * -n {ns1}"), 1);
    add(&alice, "* * -A".into(), 1);
    // Cluster-scoped types asked with a namespace: a warning.
    add(&alice, "get nodes".into(), 1);
    add(&alice, "get nodes -A".into(), 1);
    add(&alice, format!("get no -n {ns1}"), 1);
    add(&alice, format!("get namespaces/{ns1}"), 1);
    add(&alice, "get cs".into(), 1);
    add(&alice, "create selfsubjectaccessreviews.authorization.k8s.io".into(), 0);
    // Unknown types and verbs, ambiguous short names.
    add(&alice, format!("get widgets -n {ns1}"), 1);
    add(&alice, format!("get Widgets.Example.com -n {ns1}"), 1);
    add(&alice, "get users".into(), 1);
    add(&alice, "impersonate groups".into(), 1);
    add(&alice, format!("frob pods -n {ns1}"), 1);
    add(&alice, format!("GET pods -n {ns1}"), 1);
    add(&alice, format!("get ev -n {ns1}"), 1);
    add(&alice, format!("get events.events.k8s.io -n {ns1}"), 1);
    // Non-resource URLs (system:public-info-viewer, system:discovery).
    add(&alice, "get /healthz".into(), 0);
    add(&alice, "get /api".into(), 0);
    add(&alice, "post /healthz".into(), 1);
    add(&alice, "frob /healthz".into(), 1);
    add(&alice, "get /metrics".into(), 1);
    // -q: nothing on stdout, warnings still on stderr.
    add(&alice, format!("-q get pods -n {ns1}"), 0);
    add(&alice, format!("get pods -n {ns2} --quiet"), 1);
    add(&alice, "get widgets -q".into(), 1);
    // Usage errors.
    add(&alice, "get /healthz --subresource x".into(), 1);
    add(&alice, "--list get".into(), 1);
    add(&alice, "get".into(), 1);
    add(&alice, "".into(), 1);
    add(&alice, "--list -A".into(), 1);
    add(&alice, "--list -q".into(), 1);
    add(&alice, "--list --subresource log".into(), 1);
    add(&alice, "get pods --no-headers".into(), 1);
    add(&alice, format!("get nodes --no-headers -n {ns1}"), 1);
    // --list.
    add(&alice, "--list".into(), 0);
    add(&alice, format!("--list -n {ns1}"), 0);
    add(&alice, format!("--list -n {ns1} --no-headers"), 0);
    add(&alice, format!("--list -n {ns2}"), 0);

    // A member of {ns1}-devs: get on apps/* everywhere, pods in ns2, URLs.
    add(&gina, format!("get deployments.apps -n {ns1}"), 0);
    add(&gina, format!("get deploy -n {ns2}"), 0);
    add(&gina, "get deployment -A".into(), 0);
    add(&gina, format!("list deploy -n {ns1}"), 1);
    add(&gina, format!("get statefulsets.apps/db -n {ns1}"), 0);
    add(&gina, format!("get deploy/web --subresource scale -n {ns1}"), 0);
    add(&gina, format!("get deployments.app -n {ns1}"), 0);
    add(&gina, format!("get deploy.apps -n {ns1}"), 0);
    add(&gina, format!("get deployments.v1.apps/web -n {ns1}"), 0);
    add(&gina, format!("get rs -n {ns1}"), 0);
    add(&gina, format!("get hpa -n {ns1}"), 1);
    add(&gina, format!("get pods -n {ns2}"), 0);
    add(&gina, format!("get pods --subresource log -n {ns2}"), 0);
    add(&gina, format!("get pods -n {ns1}"), 1);
    add(&gina, "get /healthz".into(), 0);
    add(&gina, "get /metrics/cadvisor".into(), 0);
    add(&gina, "get /metrics".into(), 1);
    add(&gina, "get /healthz/ping".into(), 1);
    add(&gina, "get deploy -A -q".into(), 0);
    add(&gina, format!("--list -n {ns2}"), 0);
    add(&gina, format!("--list -n {ns1} --no-headers"), 0);

    // The ServiceAccount ci of ns1 (groups added by impersonation).
    add(&ci, format!("create deployments -n {ns1}"), 0);
    add(&ci, "create deployments".into(), 1);
    add(&ci, format!("patch deploy/web --subresource scale -n {ns1}"), 0);
    add(&ci, format!("patch deployments.apps/web --subresource=scale -n {ns1}"), 0);
    add(&ci, format!("update deploy/web --subresource scale -n {ns1}"), 1);
    add(&ci, format!("create deployments -n {ns2}"), 1);
    add(&ci, format!("delete deployments -n {ns1}"), 1);
    add(&ci, format!("get configmaps/app-config -n {ns1}"), 0);
    add(&ci, format!("update cm/app-config -n {ns1}"), 0);
    add(&ci, format!("get configmaps/other -n {ns1}"), 1);
    add(&ci, format!("list configmaps -n {ns1}"), 1);
    add(&ci, format!("get configmaps -n {ns1}"), 1);
    add(&ci, "get /metrics/cadvisor".into(), 0);
    add(&ci, format!("--list -n {ns1}"), 0);
    add(&ci, format!("--list -n {ns1} --no-headers"), 0);
    add(&ci, "--list".into(), 0);
    // With --as-group the service-account groups are not added.
    add(&ci_as_dev, format!("get cm/app-config -n {ns1}"), 1);
    add(&ci_as_dev, format!("create deploy -n {ns1}"), 0);
    add(&ci_as_dev, format!("get deploy -n {ns1}"), 0);
    add(&other, format!("get cm/app-config -n {ns1}"), 0);
    add(&other, format!("create deploy -n {ns1}"), 1);
    add(&ci2, format!("get cm/app-config -n {ns1}"), 1);
    add(&ci2, format!("create deploy -n {ns2}"), 1);
    add(&alice_as_sa, format!("get cm/app-config -n {ns1}"), 0);

    // erin: bindings to missing roles give reasons.
    add(&erin, format!("get pods -n {ns1}"), 1);
    add(&erin, format!("get pods -n {ns2}"), 1);
    add(&erin, "get pods -A".into(), 1);
    add(&erin, "get /healthz".into(), 0);
    add(&erin, format!("list secrets -n {ns1} -q"), 1);
    add(&erin, format!("--list -n {ns1}"), 0);
    add(&erin_broken, format!("get pods -n {ns1}"), 1);
    add(&erin_broken, "get nodes -A".into(), 1);
    add(&erin_broken, "get /metrics".into(), 1);
    add(&erin_broken, format!("--list -n {ns2}"), 0);

    // system:masters and the anonymous user.
    add(&root, "* * -A".into(), 0);
    add(&root, "frob widgets".into(), 0);
    add(&root, "delete nodes".into(), 0);
    add(&root, format!("--list -n {ns1}"), 0);
    // The anonymous user may not create SelfSubjectAccessReviews or
    // SelfSubjectRulesReviews (system:basic-user is bound to
    // system:authenticated only): kubectl gets 403 and prints
    // `Error from server (Forbidden): ...`, even for /healthz, which
    // system:public-info-viewer would allow. (A resource type is not asked:
    // kubectl's discovery runs as the anonymous user too, is refused, and
    // kubectl logs klog lines with timestamps before the warning.)
    add(&anonymous, "get /healthz".into(), 1);
    add(&anonymous, "--list".into(), 1);
    out
}

/// A value for the failure report: quoted when on one line, else indented.
fn show(s: &str) -> String {
    if s.trim_end_matches('\n').contains('\n') {
        let mut out = String::from("\n");
        for line in s.lines() {
            let _ = writeln!(out, "        | {line}");
        }
        out
    } else {
        format!("{s:?}")
    }
}

/// How `ours` differs from kubectl's `theirs`, field by field.
fn differences(what: &str, ours: &Outcome, theirs: &Outcome) -> Option<String> {
    if ours == theirs {
        return None;
    }
    let mut out = String::new();
    for (field, a, b) in [("stdout", &ours.stdout, &theirs.stdout), ("stderr", &ours.stderr, &theirs.stderr)] {
        if a != b {
            let _ = writeln!(out, "    {what} {field}: {}\n    kubectl {field}: {}", show(a), show(b));
        }
    }
    if ours.code != theirs.code {
        let _ = writeln!(out, "    {what} exit code: {}\n    kubectl exit code: {}", ours.code, theirs.code);
    }
    Some(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn can_i_prints_what_kubectl_prints_on_the_real_api_server() {
    let Some(server) = e2e::real_oracle().await else { return };
    let cluster = &server.cluster;
    // The admin kubeconfig's context namespace, which kubectl uses without -n.
    assert_eq!(cluster.default_namespace(), "default");
    let ns1 = e2e::fresh_namespace(cluster, "cani").await;
    let ns2 = e2e::fresh_namespace(cluster, "cani2").await;
    let objects = fixture(&ns1, &ns2);
    create_all(cluster, &objects).await;
    wait_for_authorizer(cluster, &ns1, &ns2).await;

    let inventory = fetch_rbac(cluster).await.expect("fetch_rbac");
    assert!(inventory.unreadable.is_empty(), "{:?}", inventory.unreadable);
    let snapshot = &inventory.snapshot;
    let discovered = discover(cluster).await.expect("discovery");
    assert!(discovered.unavailable.is_empty(), "{:?}", discovered.unavailable);

    let cases = cases(&ns1, &ns2);
    let kubeconfig = server.kubeconfig.clone();
    // kubectl and the server-side run, a few cases at a time.
    let answers: Vec<(Outcome, Outcome)> = stream::iter(cases.iter())
        .map(|case| {
            let kubeconfig = kubeconfig.clone();
            async move {
                let mut argv: Vec<String> = case.argv().iter().map(|s| s.to_string()).collect();
                argv.extend(case.who.flags());
                let theirs = kubectl_can_i(&kubeconfig, argv).await;
                // A failure talking to the server is reported as a mismatch.
                let server_side = match run(cluster, Some(&case.who.user()), &can_i_args(&case.argv())).await {
                    Ok(out) => Outcome::from(out),
                    Err(e) => Outcome { stdout: String::new(), stderr: format!("k8sops error: {e}"), code: -1 },
                };
                (theirs, server_side)
            }
        })
        .buffered(4)
        .collect()
        .await;

    let mut mismatches = Vec::new();
    let mut unexpected = Vec::new();
    let (mut agree_offline, mut agree_server) = (0, 0);
    for (case, (theirs, server_side)) in cases.iter().zip(&answers) {
        let args = can_i_args(&case.argv());
        let offline = Outcome::from(run_offline(snapshot, &case.who.user(), &args, "default", &discovered));
        let mut report = String::new();
        match differences("offline", &offline, theirs) {
            Some(d) => report.push_str(&d),
            None => agree_offline += 1,
        }
        match differences("server ", server_side, theirs) {
            Some(d) => report.push_str(&d),
            None => agree_server += 1,
        }
        if !report.is_empty() {
            mismatches.push(format!("{}\n{report}", case.command_line()));
        }
        if theirs.code != case.expect_code {
            unexpected.push(format!(
                "{}: kubectl exited {} (expected {}): {:?} {:?}",
                case.command_line(),
                theirs.code,
                case.expect_code,
                theirs.stdout,
                theirs.stderr
            ));
        }
    }
    clean_up(cluster, &objects, &[&ns1, &ns2]).await;

    // The table reaches what it means to: kubectl printed each of these.
    let printed: String = answers.iter().map(|(k, _)| format!("{}{}", k.stdout, k.stderr)).collect();
    for expected in [
        "no - RBAC: role.rbac.authorization.k8s.io \"does-not-exist\" not found\n",
        &format!("no - RBAC: clusterrole.rbac.authorization.k8s.io \"{ns1}-gone\" not found\n"),
        &format!("no - RBAC: [clusterrole.rbac.authorization.k8s.io \"{ns1}-vanished\" not found, "),
        "Warning: resource 'nodes' is not namespace scoped\n\n",
        "Warning: resource 'selfsubjectaccessreviews' is not namespace scoped in group 'authorization.k8s.io'\n\n",
        "Warning: the server doesn't have a resource type 'widgets' in group 'example.com'\n\n",
        "Warning: verb 'frob' is not a known verb\n\n",
        "Warning: short name \"ev\" could also match lower priority resource events.events.k8s.io\n",
        "Resources   ",
        "deployments.apps/scale",
        "[app-config]",
        "[/metrics/*]",
        "error: you must specify two arguments",
    ] {
        assert!(printed.contains(expected), "no kubectl output contains {expected:?}");
    }

    let n = cases.len();
    println!("{n} kubectl auth can-i command lines: {agree_offline} agree offline, {agree_server} agree server-side");
    assert!(n >= 60, "{n} cases");
    assert!(
        mismatches.is_empty() && unexpected.is_empty(),
        "{} of {n} command lines differ from kubectl:\n{}\n{} of {n} kubectl answers are not what the fixture should give:\n{}",
        mismatches.len(),
        mismatches.join("\n"),
        unexpected.len(),
        unexpected.join("\n")
    );
}
