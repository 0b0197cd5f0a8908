//! What every example binary shares: the global flags (`--demo`,
//! `--context`), choosing the cluster and saying which on the first line of
//! stderr, strict value parsers for durations and dry-run modes, printing a
//! result, and a progress bar.
//!
//! Which cluster:
//! - `--demo` (or `K8SOPS_DEMO=1`): the embedded demo cluster;
//! - a kubeconfig (`KUBECONFIG`, or `~/.kube/config`): its current context,
//!   or `--context NAME`. A cluster that does not answer within 5 s is an
//!   error naming the context and the server (exit code 2), never a reason
//!   to use the demo cluster instead;
//! - in a pod: the service account;
//! - nothing configured at all: the embedded demo cluster, and it says so;
//!   an example that must read a real cluster ([`connect_configured`])
//!   refuses instead (exit code 2).

// Each example uses a subset of these helpers.
#![allow(dead_code)]

pub(crate) mod checklist_run;

use std::{
    collections::HashSet, ffi::OsStr, fmt::Display, path::PathBuf, process::ExitCode, sync::Mutex, time::Duration,
};

use indicatif::{ProgressBar, ProgressStyle};
use k8sops::{
    nodes::{CordonChange, DrainEvent},
    CancellationToken, Cluster, DryRun, ProgressSink, RetryPolicy,
};
use k8sops_testkit::{DemoCluster, KubeletOptions, TestServer};
use kube::config::{KubeConfigOptions, Kubeconfig};

/// How long the reachability probe (`GET /version`) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the demo cluster is, for the first line.
const DEMO: &str = "the embedded demo cluster (k8sops-testkit, 7 nodes, ~40 pods)";

/// Flags every example accepts, anywhere on the command line.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ClusterArgs {
    /// Use the embedded demo cluster even when a kubeconfig exists (same as K8SOPS_DEMO=1)
    #[arg(long, global = true)]
    pub(crate) demo: bool,

    /// Kubeconfig context to use instead of the current one
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "demo")]
    pub(crate) context: Option<String>,
}

/// `--dry-run[=none|client|server]`, as kubectl: a bare `--dry-run` is a
/// client dry run, never a real one. The value needs `=`, so
/// `--dry-run NODE` is a dry run of NODE.
#[derive(Debug, Clone, Copy, clap::Args)]
pub(crate) struct DryRunArg {
    /// Change nothing: `client` (what a bare --dry-run means) only decides and reports; `server` also sends each
    /// change with dryRun=All so the server checks it
    #[arg(
        long = "dry-run",
        global = true,
        value_name = "MODE",
        num_args = 0..=1,
        require_equals = true,
        default_value = "none",
        default_missing_value = "client",
        value_parser = dry_run_parser(),
    )]
    pub(crate) dry_run: DryRun,
}

fn dry_run_parser() -> impl clap::builder::TypedValueParser<Value = DryRun> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["none", "client", "server"]).try_map(|s| s.parse::<DryRun>())
}

/// A duration as kubectl's `--timeout` takes it: whole seconds (`300`), or
/// numbers with the units `h`, `m`, `s` (`300s`, `5m`, `1h30m`). Anything
/// else is an error, which clap reports naming the flag (exit code 2).
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    const HELP: &str = "expected whole seconds (300) or a duration with units h, m, s (300s, 5m, 1h30m)";
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map(Duration::from_secs).map_err(|_| format!("{s:?} is too large"));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(HELP.into()),
        };
        let n: u64 = digits.parse().map_err(|_| HELP.to_string())?;
        digits.clear();
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(|| format!("{s:?} is too large"))?;
    }
    if s.is_empty() || !digits.is_empty() {
        return Err(HELP.into());
    }
    Ok(Duration::from_secs(total))
}

/// [`parse_duration`], refusing zero: for budgets and intervals, where
/// zero would time out everything or spin.
pub(crate) fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    parse_duration(s).and_then(|d| if d.is_zero() { Err("must be more than 0".into()) } else { Ok(d) })
}

/// Whole hours (`24`), as `--older-than-hours` takes them.
pub(crate) fn parse_hours(s: &str) -> Result<Duration, String> {
    whole(s, 3600, "hours")
}

/// Whole minutes (`30`), as `--since-minutes` takes them.
pub(crate) fn parse_minutes(s: &str) -> Result<Duration, String> {
    whole(s, 60, "minutes")
}

fn whole(s: &str, unit: u64, what: &str) -> Result<Duration, String> {
    let n: u64 = s.trim().parse().map_err(|_| format!("expected a whole number of {what}"))?;
    n.checked_mul(unit).map(Duration::from_secs).ok_or_else(|| format!("{n} {what} is too long"))
}

/// A cluster to work on, and the demo server that backs it (if any); keep
/// the server alive as long as the cluster is used.
pub(crate) struct Target {
    pub(crate) cluster: Cluster,
    /// The demo server, when the demo cluster is used.
    pub(crate) demo: Option<TestServer>,
    /// Which cluster, for messages: `context "kind-prod" at https://...`.
    pub(crate) name: String,
}

impl Target {
    /// Says, before an example changes anything, what it is about to do and on which cluster.
    pub(crate) fn announce(&self, action: impl Display) {
        eprintln!("{action} on {}", self.name);
    }
}

/// Where the cluster comes from.
enum Source {
    Demo(&'static str),
    Kubeconfig(String),
    InCluster,
    Nothing,
}

/// Why the demo is wanted, if it is: `--demo`, or `K8SOPS_DEMO` set (to
/// anything but empty, `0` or `false`).
pub(crate) fn demo_requested(flag: bool) -> Option<&'static str> {
    if flag {
        Some("--demo")
    } else if std::env::var("K8SOPS_DEMO").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false")) {
        Some("K8SOPS_DEMO is set")
    } else {
        None
    }
}

fn source(args: &ClusterArgs) -> Result<Source, String> {
    if let Some(why) = demo_requested(args.demo) {
        if args.context.is_some() {
            return Err(format!("{why} and --context is given: choose one"));
        }
        return Ok(Source::Demo(why));
    }
    if let Some(list) = kubeconfig_env() {
        return Ok(Source::Kubeconfig(format!("KUBECONFIG={}", list.to_string_lossy())));
    }
    if let Some(path) = home_kubeconfig().filter(|p| p.exists()) {
        return Ok(Source::Kubeconfig(path.display().to_string()));
    }
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some_and(|h| !h.is_empty());
    match (&args.context, in_cluster) {
        (Some(ctx), _) => Err(format!("--context {ctx:?} given, but there is no kubeconfig (KUBECONFIG is not set and ~/.kube/config does not exist)")),
        (None, true) => Ok(Source::InCluster),
        (None, false) => Ok(Source::Nothing),
    }
}

/// Whether a kubeconfig is there to read: `KUBECONFIG` set to a path, or
/// `~/.kube/config` present.
pub(crate) fn kubeconfig_exists() -> bool {
    kubeconfig_env().is_some() || home_kubeconfig().is_some_and(|p| p.exists())
}

/// `KUBECONFIG`, when it names at least one path.
fn kubeconfig_env() -> Option<std::ffi::OsString> {
    std::env::var_os("KUBECONFIG").filter(|v| std::env::split_paths(v).any(|p| !p.as_os_str().is_empty()))
}

/// `~/.kube/config`, where kube-client looks when `KUBECONFIG` is not set.
fn home_kubeconfig() -> Option<PathBuf> {
    std::env::home_dir().filter(|h| !h.as_os_str().is_empty()).map(|h| h.join(".kube").join("config"))
}

/// Chooses the cluster (see the module docs), says which on the first line
/// of stderr and checks that it answers; or prints why not and returns exit
/// code 2 for `main` to return.
pub(crate) async fn connect(args: &ClusterArgs) -> Result<Target, ExitCode> {
    connect_to(args, None).await
}

/// As [`connect`], but with nothing configured it does not start the demo
/// cluster: it prints `error: no kubeconfig found: {refusal}` and returns
/// exit code 2. `--demo` still chooses the demo.
pub(crate) async fn connect_configured(args: &ClusterArgs, refusal: &str) -> Result<Target, ExitCode> {
    connect_to(args, Some(refusal)).await
}

async fn connect_to(args: &ClusterArgs, refusal: Option<&str>) -> Result<Target, ExitCode> {
    let chosen = match source(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(ExitCode::from(2));
        }
    };
    let result = match chosen {
        Source::Demo(why) => start_demo(why).await,
        Source::Nothing => match refusal {
            Some(refusal) => Err(format!("no kubeconfig found: {refusal}")),
            None => start_demo("No kubeconfig found").await,
        },
        Source::Kubeconfig(shown) => from_kubeconfig(&shown, args.context.as_deref()).await,
        Source::InCluster => in_cluster().await,
    };
    result.map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

pub(crate) async fn start_demo(why: &str) -> Result<Target, String> {
    eprintln!("{why}: starting {DEMO}.");
    // The kubelet stand-in finishes evicted pods and recreates controller pods, so drains complete.
    let server = TestServer::builder()
        .kubelet(KubeletOptions::default())
        .start()
        .await
        .map_err(|e| format!("cannot start the demo cluster: {e}"))?;
    server.load(&DemoCluster::small()).map_err(|e| format!("cannot load the demo cluster: {e}"))?;
    eprintln!("Demo cluster at {}; kubeconfig: {}", server.url(), server.kubeconfig_path().display());
    let name = format!("the embedded demo cluster at {}", server.url());
    Ok(Target { cluster: server.cluster(), demo: Some(server), name })
}

async fn from_kubeconfig(shown: &str, context: Option<&str>) -> Result<Target, String> {
    let kubeconfig = Kubeconfig::read().map_err(|e| format!("cannot read kubeconfig {shown}: {e}"))?;
    let available: Vec<&str> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
    let Some(ctx) = context.map(str::to_string).or_else(|| kubeconfig.current_context.clone()) else {
        return Err(format!(
            "kubeconfig {shown} has no current-context; choose one with --context NAME (contexts: {})",
            available.join(", ")
        ));
    };
    if !available.contains(&ctx.as_str()) {
        return Err(format!(
            "context {ctx:?} is not in kubeconfig {shown}; contexts: {}",
            if available.is_empty() { "none".to_string() } else { available.join(", ") }
        ));
    }
    let server = k8sops::fleet::server_of(&kubeconfig, &ctx).unwrap_or_else(|| "(no server set)".into());
    eprintln!("Using context {ctx:?} at {server}");
    let fail = |what: &str, e: &dyn Display| {
        format!(
            "context {ctx:?} at {server} (kubeconfig {shown}) {what}: {e}\n\
             Fix the context or its credentials, choose another with --context NAME, \
             or use the embedded demo cluster with --demo."
        )
    };
    let options = KubeConfigOptions { context: Some(ctx.clone()), ..Default::default() };
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|e| fail("cannot be used", &e))?;
    let cluster = Cluster::from_config(config).map_err(|e| fail("cannot be used", &e))?;
    probe(&cluster).await.map_err(|e| fail("did not answer", &e))?;
    Ok(Target { cluster, demo: None, name: format!("context {ctx:?} at {server}") })
}

async fn in_cluster() -> Result<Target, String> {
    let cluster = Cluster::try_default().await.map_err(|e| e.to_string())?;
    let url = cluster.url().to_string();
    eprintln!("Using the in-cluster service account at {url}");
    probe(&cluster).await.map_err(|e| format!("the in-cluster API server at {url} did not answer: {e}"))?;
    Ok(Target { cluster, demo: None, name: format!("the in-cluster API server at {url}") })
}

/// `GET /version`, once, within [`PROBE_TIMEOUT`].
async fn probe(cluster: &Cluster) -> Result<(), String> {
    let once = cluster.to_builder().retry(RetryPolicy::none()).build();
    match tokio::time::timeout(PROBE_TIMEOUT, once.server_version()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer to GET /version within {}s", PROBE_TIMEOUT.as_secs())),
    }
}

/// Prints the report and succeeds, or prints the error and exits with 1.
pub(crate) fn print_or_fail<T: Display, E: Display>(result: Result<T, E>) -> ExitCode {
    match result {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// A progress bar on stderr: `[#########>----------]   7/20 message`.
/// indicatif draws nothing when stderr is not a terminal, so logs get no
/// escape codes; print lines through [`note`] so they show either way.
pub(crate) fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("[{bar:30}] {pos:>3}/{len} {msg}") {
        bar.set_style(style.progress_chars("#>-"));
    }
    bar
}

/// Prints a line to stderr above the progress bar (or alone, when the bar is hidden).
pub(crate) fn note(bar: &ProgressBar, line: impl Display) {
    bar.suspend(|| eprintln!("{line}"));
}

/// Drain progress on a [`progress_bar`]: pods gone out of pods to remove
/// (summed over every node drained), the latest step as the message, and a
/// line for each cordon, skipped pod, first budget block of a pod, and
/// failure.
pub(crate) struct DrainProgress {
    pub(crate) bar: ProgressBar,
    blocked: Mutex<HashSet<String>>,
}

impl DrainProgress {
    pub(crate) fn new() -> Self {
        DrainProgress { bar: progress_bar(0), blocked: Mutex::default() }
    }
}

impl ProgressSink<DrainEvent> for DrainProgress {
    fn emit(&self, event: DrainEvent) {
        let bar = &self.bar;
        match event {
            DrainEvent::Cordoned { node, change, dry_run } => {
                let dry = if dry_run.is_dry_run() { format!(" (dry run: {dry_run})") } else { String::new() };
                match change {
                    CordonChange::Changed => note(bar, format!("node/{node} cordoned{dry}")),
                    CordonChange::AlreadyInState => note(bar, format!("node/{node} already cordoned{dry}")),
                    CordonChange::Failed(e) => note(bar, format!("node/{node} could not be cordoned{dry}: {e}")),
                }
            }
            DrainEvent::PodsFound { node, to_remove, skipped } => {
                bar.inc_length(to_remove as u64);
                note(bar, format!("node/{node}: {to_remove} pod(s) to evict, {skipped} skipped"));
            }
            DrainEvent::Skipped { pod, reason } => note(bar, format!("  skipping {pod}: {reason}")),
            DrainEvent::BlockedByBudget { pod, budget, retry_in, .. } => {
                let budget = budget.unwrap_or_else(|| "a disruption budget".into());
                if self.blocked.lock().is_ok_and(|mut seen| seen.insert(pod.clone())) {
                    note(bar, format!("  {pod} blocked by {budget}; retrying until it allows or the timeout"));
                }
                bar.set_message(format!("{pod} blocked by {budget} (retry in {:.1}s)", retry_in.as_secs_f64()));
            }
            DrainEvent::Retrying { pod, error, .. } => bar.set_message(format!("{pod}: retrying after {error}")),
            DrainEvent::Evicting { pod } => bar.set_message(format!("evicting {pod}")),
            DrainEvent::Evicted { pod } => bar.set_message(format!("{pod} evicted, waiting for it to go")),
            DrainEvent::Gone { pod } => {
                bar.inc(1);
                bar.set_message(format!("{pod} gone"));
            }
            DrainEvent::Failed { pod, error } => note(bar, format!("  {pod} failed: {error}")),
            _ => {}
        }
    }
}

/// A token cancelled by the first Ctrl-C, for operations that stop cleanly
/// (a drain leaves the node cordoned and reports what was evicted). A
/// second Ctrl-C exits at once with status 130, as a shell's would.
pub(crate) fn cancel_on_ctrl_c() -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nCtrl-C: stopping; nothing new is sent (Ctrl-C again to exit now)");
            on_ctrl_c.cancel();
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nCtrl-C again: exiting without waiting");
            std::process::exit(130);
        }
    });
    cancel
}

/// The command line this process was started with, quoted for a shell,
/// without the arguments in `drop` and with `extra` appended: how to run the
/// same thing again, e.g. for real.
pub(crate) fn command_line_with(drop: &[&str], extra: &str) -> String {
    let mut args = std::env::args_os();
    let program = args.next().map(|p| {
        let p = PathBuf::from(p);
        let name = p.file_name().map(OsStr::to_string_lossy).unwrap_or_default().into_owned();
        format!("cargo run --example {name} --")
    });
    program
        .into_iter()
        .chain(
            args.map(|a| a.to_string_lossy().into_owned())
                .filter(|a| !drop.contains(&a.as_str()))
                .map(|a| shell_quote(&a)),
        )
        .chain(std::iter::once(extra.to_string()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_=./:,@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The node group `group` as it stands in the cluster, for in-memory node
/// groups: its nodes are the ones with its node-group label, its instances
/// their provider IDs' instance IDs, its size min 1 / max 20 / desired the
/// node count. Lets the node-group examples run on the demo cluster.
pub(crate) async fn node_group_from_labels(
    cluster: &Cluster,
    group: &str,
) -> k8sops::nodes::Result<k8sops::backend::NodeGroup> {
    use k8sops::{
        backend::{Instance, NodeGroup, ScalingConfig},
        nodes::node_group,
    };
    let nodes = node_group::nodes_in_group(cluster, group).await?;
    let mut g = NodeGroup::new(group, ScalingConfig { min: 1, max: 20, desired: nodes.len() as i32 });
    g.instances = nodes
        .iter()
        .filter_map(node_group::instance_id)
        .map(|id| Instance {
            id,
            lifecycle_state: "InService".into(),
            health_status: "Healthy".into(),
            availability_zone: None,
        })
        .collect();
    Ok(g)
}
