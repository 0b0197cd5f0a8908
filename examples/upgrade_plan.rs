//! Upgrade preflight and a `kubeadm upgrade plan`-style plan to a target
//! version: what blocks the upgrade (nodes not Ready, budgets that allow no
//! disruption, unreplicated pods, removed APIs, version skew,
//! PodSecurityPolicies, add-ons), then the components' current and target
//! versions and, hop by hop, the steps with their commands and API calls.
//! Read-only: nothing in the cluster changes.
//!
//! ```text
//! cargo run --example upgrade_plan -- --target-version v1.30
//! cargo run --example upgrade_plan -- --target-version v1.31.2 --node-upgrades when-required --cluster-name prod
//! cargo run --example upgrade_plan -- --target-version v1.30 --json
//! ```
//!
//! Exit codes: 0 when the report is printed (failed checks are in it), 1
//! when the cluster cannot be read or the target is not an upgrade (older
//! than the cluster, or more than one minor past the newest release the
//! library knows), 2 for bad flags.

mod common;

use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use k8sops::{
    upgrade::{
        plan::{build_plan, Flavor, NodeUpgrades, PlanParams},
        preflight::{preflight, CheckStatus, PreflightParams, RemovedApiCheck},
        versions::VersionParams,
    },
    KubeVersion, LabelSelector,
};

#[derive(Clone, Copy, ValueEnum)]
enum WhenNodes {
    /// After every control-plane hop (kubeadm's procedure)
    EveryHop,
    /// Only when the skew policy requires it, and after the last hop
    WhenRequired,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Kubeadm,
    Eks,
    Managed,
}

/// Upgrade preflight and plan to a target version (kubeadm upgrade plan)
#[derive(Parser)]
#[command(name = "upgrade_plan")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// The version to upgrade to: v1.30 (latest patch) or v1.30.4
    #[arg(long, value_name = "VERSION")]
    target_version: KubeVersion,

    /// When worker nodes are upgraded
    #[arg(long, value_enum, default_value = "every-hop")]
    node_upgrades: WhenNodes,

    /// The kind of control plane (default: detected)
    #[arg(long, value_enum)]
    flavor: Option<Kind>,

    /// The cluster's name, for the provider's commands (EKS)
    #[arg(long, value_name = "NAME")]
    cluster_name: Option<String>,

    /// Only nodes matching this label selector
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    selector: Option<LabelSelector>,

    /// The kubectl version to check against the skew policy (default: ask the local kubectl)
    #[arg(long, value_name = "VERSION")]
    kubectl_version: Option<KubeVersion>,

    /// Do not scan for removed APIs (the check then warns that it did not run)
    #[arg(long)]
    skip_removed_apis: bool,

    /// Print JSON ({"preflight": ..., "plan": ...}) instead of tables
    #[arg(long)]
    json: bool,
}

/// `kubectl version --client`'s gitVersion, when kubectl runs.
fn local_kubectl() -> Option<KubeVersion> {
    let out = std::process::Command::new("kubectl").args(["version", "--client", "-o", "json"]).output().ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["clientVersion"]["gitVersion"].as_str()?.parse().ok()
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut versions = VersionParams::default();
    if let Some(sel) = cli.selector {
        versions = versions.nodes(sel);
    }
    if let Some(k) = cli.kubectl_version.or_else(local_kubectl) {
        versions = versions.kubectl(k);
    }
    let mut params = PreflightParams::new(cli.target_version.clone()).versions(versions.clone());
    if cli.skip_removed_apis {
        params = params.removed_apis(RemovedApiCheck::Skip);
    }
    let report = match preflight(&target.cluster, &params).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let mut plan_params =
        PlanParams::new(cli.target_version).versions(versions).node_upgrades(match cli.node_upgrades {
            WhenNodes::EveryHop => NodeUpgrades::EveryHop,
            WhenNodes::WhenRequired => NodeUpgrades::WhenRequired,
        });
    if let Some(kind) = cli.flavor {
        plan_params = plan_params.flavor(match kind {
            Kind::Kubeadm => Flavor::Kubeadm,
            Kind::Eks => Flavor::Eks,
            Kind::Managed => Flavor::Managed,
        });
    }
    if let Some(name) = cli.cluster_name {
        plan_params = plan_params.cluster_name(name);
    }
    let plan = build_plan(&report.versions, &plan_params);
    if cli.json {
        let json = serde_json::json!({
            "preflight": report,
            "plan": plan.as_ref().ok(),
            "error": plan.as_ref().err().map(ToString::to_string),
        });
        println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
    } else {
        print!("{report}");
        if let Ok(plan) = &plan {
            println!();
            print!("{plan}");
        }
    }
    match plan {
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
        Ok(_) => {
            let failed = report.failed().count();
            if failed > 0 && !cli.json {
                eprintln!("{failed} preflight check(s) failed ({}): fix them before upgrading.", CheckStatus::Fail);
            }
            ExitCode::SUCCESS
        }
    }
}
