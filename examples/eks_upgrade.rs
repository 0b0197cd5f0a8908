//! `aws eks update-cluster-version` with a preflight, then (with
//! `--nodegroups`) `aws eks update-nodegroup-version` for every managed node
//! group, each update followed with `describe-update` until it ends.
//!
//! ```text
//! cargo run --example eks_upgrade --features aws -- --cluster prod --target-version 1.30 --dry-run
//! cargo run --example eks_upgrade --features aws -- --cluster prod --target-version 1.30 --nodegroups
//! cargo run --example eks_upgrade --features aws -- --cluster prod --target-version 1.30 --nodegroups --release-version 1.30.4-20240917
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 ...   # e.g. against moto (it serves describe-cluster only); the preflight also needs the cluster's kubeconfig
//! ```
//! Before anything changes it prints the AWS region, profile and endpoint,
//! the cluster's version and platform version, then the upgrade preflight
//! (`k8sops::upgrade::preflight`) run against the cluster's API server (the
//! kubeconfig's current context, `--context NAME`, or `--demo`): nodes,
//! version skew, PodDisruptionBudgets, pods without a controller, removed
//! APIs, and, from EKS, the upgrade insights for the target
//! (`upgrade-insights`) and the installed add-ons against the versions that
//! run on it (`addons`). With `--nodegroups` it then prints each node
//! group's version (and AMI release). A failed preflight check stops the
//! upgrade unless `--force` is given, which also overrides EKS's own
//! insight checks (update-cluster-version --force).
//!
//! Ctrl-C stops the waiting, never the update: it goes on in AWS, and the
//! example prints the `aws eks describe-update` command that follows it.
//!
//! Exit codes: 0 done (or dry run), 1 an update failed, was refused, the
//! preflight failed or the cluster could not be read, 2 bad arguments, no
//! Kubernetes cluster to run the preflight against, or a target that is not
//! the next minor version.

mod common;

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use k8sops::{
    backend::NodeGroups,
    nodes::aws::{sdk_config, EksNodeGroups},
    upgrade::{
        eks::{ClusterUpgradeParams, EksControlPlane, NodegroupVersionParams, UpdateProgress, WaitParams},
        preflight::{preflight, PreflightParams},
    },
    KubeVersion,
};

/// Upgrade an EKS control plane to the next minor version, then its managed node groups
#[derive(Parser)]
#[command(name = "eks_upgrade")]
struct Cli {
    #[command(flatten)]
    kubernetes: common::ClusterArgs,

    /// The EKS cluster name
    #[arg(long, value_name = "NAME")]
    cluster: String,

    /// The Kubernetes version to move to, e.g. 1.30 (the next minor, or the current one with --nodegroups)
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    target_version: KubeVersion,

    /// Also move every managed node group to the target version, one after another
    #[arg(long)]
    nodegroups: bool,

    /// Go on despite failed preflight checks, and upgrade the control plane even when upgrade insights are in ERROR (update-cluster-version --force)
    #[arg(long)]
    force: bool,

    /// Let EKS delete pods whose PodDisruptionBudget blocks a node group's drain (update-nodegroup-version --force)
    #[arg(long, requires = "nodegroups")]
    nodegroup_force: bool,

    /// The AMI release version for the node groups, e.g. 1.30.4-20240917 (update-nodegroup-version --release-version; default: the latest for the version)
    #[arg(long, value_name = "RELEASE", requires = "nodegroups", value_parser = parse_release_version)]
    release_version: Option<String>,

    /// Give up waiting for each update after this long (the update goes on in AWS)
    #[arg(long, value_name = "DURATION", default_value = "90m", value_parser = common::parse_duration)]
    timeout: Duration,

    /// Time between two describe-update calls
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = common::parse_duration)]
    interval: Duration,

    #[command(flatten)]
    dry_run: common::DryRunArg,
}

fn parse_version(s: &str) -> Result<KubeVersion, String> {
    s.parse::<KubeVersion>().map_err(|e| e.to_string())
}

/// An AMI release version as EKS names them: `VERSION-BUILD`, e.g.
/// `1.30.4-20240917` (Amazon Linux, Windows) or `1.20.5-a3e8bda1` (Bottlerocket).
fn parse_release_version(s: &str) -> Result<String, String> {
    let bad = || format!("{s:?} is not an AMI release version such as 1.30.4-20240917");
    let (version, build) = s.split_once('-').ok_or_else(bad)?;
    let numbers: Vec<&str> = version.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if numbers.len() != 3
        || !numbers.iter().all(numeric)
        || build.is_empty()
        || !build.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(bad());
    }
    Ok(s.to_string())
}

/// Whether the API server at `url` is the EKS endpoint `endpoint` (case and a trailing `/` aside).
fn same_endpoint(url: &str, endpoint: &str) -> bool {
    url.trim_end_matches('/').eq_ignore_ascii_case(endpoint.trim_end_matches('/'))
}

/// A spinner on stderr that shows each poll of an update.
fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Waits for one update, drawing its polls; prints how it ended.
async fn follow(eks: &EksControlPlane, nodegroup: Option<&str>, id: &str, params: &WaitParams) -> bool {
    let bar = spinner();
    let show = |p: UpdateProgress| {
        bar.set_message(format!(
            "{}: update {} {:?} ({}s)",
            p.target,
            p.update.id,
            p.update.status,
            p.elapsed.as_secs()
        ))
    };
    let result = match nodegroup {
        Some(ng) => eks.wait_for_nodegroup_update(ng, id, params, &show).await,
        None => eks.wait_for_update(id, params, &show).await,
    };
    bar.finish_and_clear();
    match result {
        Ok(u) => {
            println!("update {} ({}): {:?}", u.id, u.kind, u.status);
            true
        }
        // A failed update names its errors; a timeout or Ctrl-C says how to follow it in AWS.
        Err(e) => {
            eprintln!("error: {e}");
            false
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    let sdk = sdk_config(endpoint.as_deref()).await;
    eprintln!(
        "Using EKS cluster {} in AWS region {}{}{}",
        cli.cluster,
        sdk.region().map_or("(no region set)".to_string(), |r| r.to_string()),
        std::env::var("AWS_PROFILE").map(|p| format!(", profile {p}")).unwrap_or_default(),
        endpoint.map(|e| format!(", endpoint {e}")).unwrap_or_default()
    );
    let eks = EksControlPlane::new(&sdk, cli.cluster.as_str());
    let info = match eks.describe().await {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let target = &cli.target_version;
    println!(
        "EKS cluster {}: Kubernetes {}, platform version {}, {}",
        info.name,
        info.version.minor_string(),
        info.platform_version,
        info.status
    );
    let same_minor = (target.major, target.minor) == (info.version.major, info.version.minor);
    let next_minor = target.major == info.version.major && Some(target.minor) == info.version.minor.checked_add(1);
    if !(next_minor || same_minor && cli.nodegroups) {
        eprintln!(
            "error: the control plane runs {} and moves one minor version at a time: --target-version must be {}{}; nothing was changed",
            info.version.minor_string(),
            info.version.next_minor().minor_string(),
            if cli.nodegroups { format!(" (or {} for the node groups only)", info.version.minor_string()) } else { String::new() }
        );
        return ExitCode::from(2);
    }

    // The preflight reads the cluster's API server; never the demo cluster unless asked for.
    let refusal = format!(
        "the upgrade preflight reads the cluster's nodes, pods and APIs; \
         run `aws eks update-kubeconfig --name {}`, choose a context with --context NAME, or use --demo; nothing was changed",
        cli.cluster
    );
    let kubernetes = match common::connect_configured(&cli.kubernetes, &refusal).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    if let Some(endpoint) = info.endpoint.as_deref().filter(|_| kubernetes.demo.is_none()) {
        if !same_endpoint(kubernetes.cluster.url(), endpoint) {
            eprintln!(
                "warning: the preflight reads {}, not EKS cluster {}'s endpoint {endpoint}",
                kubernetes.name, info.name
            );
        }
    }
    let preflight_target = if next_minor {
        target.clone()
    } else {
        // Node groups only: the control plane stays where it is.
        match kubernetes.cluster.server_version().await {
            Ok(v) => v,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
    };
    let mut params = PreflightParams::new(preflight_target);
    if next_minor {
        match eks.insights(target).await {
            Ok(insights) => params = params.insights(insights.iter().map(Into::into).collect()),
            Err(e) => eprintln!("warning: cannot read EKS upgrade insights: {e}"),
        }
        match eks.compatible_addon_versions(target).await {
            Ok(addons) => params = params.platform_addons(addons.iter().map(Into::into).collect()),
            Err(e) => eprintln!("warning: cannot compare EKS add-on versions: {e}"),
        }
    }
    let report = match preflight(&kubernetes.cluster, &params).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    print!("{report}");
    let mut groups = Vec::new();
    if cli.nodegroups {
        let ng = EksNodeGroups::new(&sdk, cli.cluster.as_str());
        let names = match ng.list().await {
            Ok(n) => n,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        for name in names {
            match ng.describe(&name).await {
                Ok(g) => {
                    let at = g.kubernetes_version.as_ref().map_or("(unknown)".to_string(), |v| v.minor_string());
                    let release = g.release_version.as_deref().map(|r| format!(" (release {r})")).unwrap_or_default();
                    let behind =
                        g.kubernetes_version.as_ref().is_none_or(|v| (v.major, v.minor) < (target.major, target.minor));
                    let new_release = cli.release_version.as_ref().filter(|r| g.release_version.as_ref() != Some(*r));
                    let to = match (behind, new_release) {
                        (false, None) => ", at the target".to_string(),
                        (_, Some(r)) => format!(" -> {} (release {r})", target.minor_string()),
                        (true, None) => format!(" -> {}", target.minor_string()),
                    };
                    println!("node group {name}: Kubernetes {at}{release}{to}");
                    if behind || new_release.is_some() {
                        groups.push(name);
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            }
        }
    }
    let failed: Vec<String> = report.failed().map(|c| c.id.to_string()).collect();
    if !failed.is_empty() {
        if cli.force {
            eprintln!("warning: preflight check(s) failed: {}; going on because of --force", failed.join(", "));
        } else {
            eprintln!(
                "error: preflight check(s) failed: {}; fix them, or pass --force (EKS itself refuses an upgrade over an insight in ERROR without it); nothing was changed",
                failed.join(", ")
            );
            return ExitCode::from(1);
        }
    }
    if cli.dry_run.dry_run.is_dry_run() {
        let cp = if next_minor {
            format!("control plane {} -> {}", info.version.minor_string(), target.minor_string())
        } else {
            "control plane unchanged".into()
        };
        println!(
            "dry run ({}): {cp}, {} node group(s) to update; nothing was changed",
            cli.dry_run.dry_run,
            groups.len()
        );
        return ExitCode::SUCCESS;
    }

    let wait = WaitParams::default().interval(cli.interval).timeout(cli.timeout).cancel(common::cancel_on_ctrl_c());
    if next_minor {
        eprintln!("Upgrading the control plane of EKS cluster {} to {}", cli.cluster, target.minor_string());
        let started = match eks.start_upgrade_with(target, &ClusterUpgradeParams::default().force(cli.force)).await {
            Ok(u) => u,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        println!("update {} started", started.id);
        if !follow(&eks, None, &started.id, &wait).await {
            return ExitCode::from(1);
        }
    }
    let mut ok = true;
    for g in &groups {
        if wait.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
            break;
        }
        let mut params = NodegroupVersionParams::default().version(target.clone()).force(cli.nodegroup_force);
        if let Some(r) = &cli.release_version {
            params = params.release_version(r.clone());
        }
        eprintln!(
            "Updating node group {g} to {}{}",
            target.minor_string(),
            cli.release_version.as_ref().map(|r| format!(", AMI release {r}")).unwrap_or_default()
        );
        match eks.update_nodegroup_version(g, &params).await {
            Ok(u) => {
                println!("node group {g}: update {} started", u.id);
                ok &= follow(&eks, Some(g), &u.id, &wait).await;
            }
            Err(e) => {
                eprintln!("error: node group {g}: {e}");
                ok = false;
            }
        }
        if !ok {
            break;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
