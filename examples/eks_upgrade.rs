//! `aws eks update-cluster-version` with a preflight, then (with
//! `--nodegroups`) `aws eks update-nodegroup-version` for every managed node
//! group, each update followed with `describe-update` until it ends.
//!
//! ```text
//! cargo run --example eks_upgrade --features aws -- --cluster prod --target-version 1.30 --dry-run
//! cargo run --example eks_upgrade --features aws -- --cluster prod --target-version 1.30 --nodegroups
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 ...   # e.g. against moto (it serves describe-cluster only)
//! ```
//! Before anything changes it prints the AWS region, profile and endpoint,
//! the cluster's version and platform version, EKS's upgrade insights for
//! the target, the add-ons whose installed version does not run on it, and
//! (with `--nodegroups`) each node group's version. An insight in `ERROR`
//! stops the upgrade unless `--force` is given (EKS refuses it too).
//!
//! Ctrl-C stops the waiting, never the update: it goes on in AWS, and the
//! example prints the `aws eks describe-update` command that follows it.
//!
//! Exit codes: 0 done (or dry run), 1 an update failed, was refused or the
//! cluster could not be read, 2 bad arguments or a target that is not the
//! next minor version.

mod common;

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use k8sops::{
    backend::NodeGroups,
    nodes::aws::{sdk_config, EksNodeGroups},
    upgrade::eks::{
        ClusterUpgradeParams, EksControlPlane, InsightStatus, NodegroupVersionParams, UpdateProgress, WaitParams,
    },
    KubeVersion,
};

/// Upgrade an EKS control plane to the next minor version, then its managed node groups
#[derive(Parser)]
#[command(name = "eks_upgrade")]
struct Cli {
    /// The EKS cluster name
    #[arg(long, value_name = "NAME")]
    cluster: String,

    /// The Kubernetes version to move to, e.g. 1.30 (the next minor, or the current one with --nodegroups)
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    target_version: KubeVersion,

    /// Also move every managed node group to the target version, one after another
    #[arg(long)]
    nodegroups: bool,

    /// Upgrade the control plane even when upgrade insights are in ERROR (update-cluster-version --force)
    #[arg(long)]
    force: bool,

    /// Let EKS delete pods whose PodDisruptionBudget blocks a node group's drain (update-nodegroup-version --force)
    #[arg(long)]
    nodegroup_force: bool,

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
    let next_minor = target.major == info.version.major && target.minor == info.version.minor + 1;
    if !(next_minor || same_minor && cli.nodegroups) {
        eprintln!(
            "error: the control plane runs {} and moves one minor version at a time: --target-version must be {}{}; nothing was changed",
            info.version.minor_string(),
            info.version.next_minor().minor_string(),
            if cli.nodegroups { format!(" (or {} for the node groups only)", info.version.minor_string()) } else { String::new() }
        );
        return ExitCode::from(2);
    }

    // Preflight: what EKS itself checks, and the add-ons that need a newer version.
    let mut blocked = false;
    if next_minor {
        match eks.insights(target).await {
            Ok(insights) if insights.is_empty() => {
                println!("upgrade insights for {}: none reported", target.minor_string())
            }
            Ok(insights) => {
                println!("upgrade insights for {}:", target.minor_string());
                for i in &insights {
                    println!("  {i}");
                    if let Some(r) = &i.recommendation {
                        println!("    {r}");
                    }
                    for r in i.resources.iter().filter(|r| r.status > InsightStatus::Passing) {
                        println!(
                            "    {} {}",
                            r.status,
                            r.kubernetes_resource_uri.as_deref().or(r.arn.as_deref()).unwrap_or("?")
                        );
                    }
                }
                blocked = insights.iter().any(|i| i.blocks_upgrade());
            }
            Err(e) => eprintln!("warning: cannot read EKS upgrade insights: {e}"),
        }
        match eks.compatible_addon_versions(target).await {
            Ok(addons) => {
                for a in &addons {
                    let installed = a.installed_version.as_deref().unwrap_or("(unknown)");
                    if a.installed_is_compatible() {
                        println!("add-on {}: {installed} runs on {}", a.addon, a.kubernetes_version);
                    } else {
                        println!(
                            "add-on {}: {installed} does not run on {}; update it to {}",
                            a.addon,
                            a.kubernetes_version,
                            a.recommended().unwrap_or("(no compatible version)")
                        );
                    }
                }
            }
            Err(e) => eprintln!("warning: cannot compare add-on versions: {e}"),
        }
    }
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
                    let behind =
                        g.kubernetes_version.as_ref().is_none_or(|v| (v.major, v.minor) < (target.major, target.minor));
                    println!(
                        "node group {name}: Kubernetes {at}{}",
                        if behind { format!(" -> {}", target.minor_string()) } else { ", at the target".into() }
                    );
                    if behind {
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
    if blocked && !cli.force {
        eprintln!("error: an upgrade insight is in ERROR: EKS refuses the upgrade; fix it, or pass --force; nothing was changed");
        return ExitCode::from(1);
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
        eprintln!("Updating node group {g} to {}", target.minor_string());
        let params = NodegroupVersionParams::default().version(target.clone()).force(cli.nodegroup_force);
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
