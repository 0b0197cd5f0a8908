//! `aws eks update-nodegroup-config --scaling-config ...` and
//! `aws autoscaling set-desired-capacity`, validated before anything is
//! sent, then the update is polled until it finishes.
//!
//! ```text
//! cargo run --example scale_nodegroup --features aws -- eks CLUSTER NODEGROUP --min 1 --max 10 --desired 3
//! cargo run --example scale_nodegroup --features aws -- asg ASG_NAME --desired 5 [--honor-cooldown]
//! cargo run --example scale_nodegroup --features aws -- eks CLUSTER NODEGROUP --desired 3 --dry-run   # show the change only
//! cargo run --example scale_nodegroup --features aws -- --demo eks demo general --desired 5      # the demo cluster's group, in memory
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 ...   # e.g. against moto
//! ```
//! The AWS account, region and endpoint come from the environment (profile,
//! `AWS_REGION`, `AWS_ENDPOINT_URL`) and are printed before anything is changed.

mod common;

use std::{process::ExitCode, sync::Arc, time::Duration};

use clap::{Args, CommandFactory, Parser, Subcommand};
use k8sops::{
    backend::{DynNodeGroups, InMemoryNodeGroups, ScalingUpdate, UpdateStatus},
    nodes::aws::{sdk_config, AutoScalingNodeGroups, EksNodeGroups},
};

/// Change a node group's min/max/desired size and wait for the update to finish
#[derive(Parser)]
#[command(name = "scale_nodegroup")]
struct Cli {
    /// Use in-memory node groups built from the embedded demo cluster's nodes instead of AWS (same as K8SOPS_DEMO=1)
    #[arg(long, global = true)]
    demo: bool,

    #[command(flatten)]
    dry_run: common::DryRunArg,

    #[command(subcommand)]
    group: Group,
}

/// The new size; at least one of them.
#[derive(Args)]
#[group(required = true, multiple = true)]
struct Size {
    /// New minimum size
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
    min: Option<i32>,

    /// New maximum size
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
    max: Option<i32>,

    /// New desired size
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
    desired: Option<i32>,
}

#[derive(Subcommand)]
enum Group {
    /// An EKS managed node group
    Eks {
        /// The EKS cluster
        cluster: String,
        /// The node group
        nodegroup: String,
        #[command(flatten)]
        size: Size,
    },
    /// An Auto Scaling group (needs --desired)
    Asg {
        /// The Auto Scaling group
        name: String,
        #[command(flatten)]
        size: Size,
        /// Refuse while the group is in its cooldown
        #[arg(long)]
        honor_cooldown: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let update = match &cli.group {
        Group::Eks { size, .. } => {
            ScalingUpdate { min: size.min, max: size.max, desired: size.desired, honor_cooldown: false }
        }
        Group::Asg { size, .. } if size.desired.is_none() => {
            Cli::command().error(clap::error::ErrorKind::MissingRequiredArgument, "asg needs --desired N").exit()
        }
        Group::Asg { size, honor_cooldown, .. } => {
            ScalingUpdate { min: size.min, max: size.max, desired: size.desired, honor_cooldown: *honor_cooldown }
        }
    };
    let (backend, group, where_): (DynNodeGroups, String, String) = match common::demo_requested(cli.demo) {
        Some(_) => {
            let name = match &cli.group {
                Group::Eks { nodegroup, .. } => nodegroup.clone(),
                Group::Asg { name, .. } => name.clone(),
            };
            // The group as the demo cluster's node labels make it, in memory.
            let target = match common::connect(&common::ClusterArgs { demo: cli.demo, context: None }).await {
                Ok(t) => t,
                Err(code) => return code,
            };
            let demo = match common::node_group_from_labels(&target.cluster, &name).await {
                Ok(g) if !g.instances.is_empty() => g,
                Ok(_) => {
                    eprintln!("error: no node of {} has the node-group label {name}", target.name);
                    return ExitCode::from(1);
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            };
            let where_ = format!("in-memory node groups built from {}", target.name);
            (Arc::new(InMemoryNodeGroups::new().with_group(demo)), name, where_)
        }
        None => {
            let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
            let sdk = sdk_config(endpoint.as_deref()).await;
            let region = sdk.region().map_or("(no region set)".to_string(), |r| r.to_string());
            let account = format!(
                "AWS region {region}{}{}",
                std::env::var("AWS_PROFILE").map(|p| format!(", profile {p}")).unwrap_or_default(),
                endpoint.map(|e| format!(", endpoint {e}")).unwrap_or_default()
            );
            eprintln!("Using {account}");
            match &cli.group {
                Group::Eks { cluster, nodegroup, .. } => (
                    Arc::new(EksNodeGroups::new(&sdk, cluster.as_str())),
                    nodegroup.clone(),
                    format!("EKS cluster {cluster} ({account})"),
                ),
                Group::Asg { name, .. } => {
                    (Arc::new(AutoScalingNodeGroups::new(&sdk)), name.clone(), format!("Auto Scaling ({account})"))
                }
            }
        }
    };
    let before = match backend.describe(&group).await {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let after = update.apply_to(before.scaling);
    let change = format!(
        "node group {group}: min/max/desired {}/{}/{} -> {}/{}/{}",
        before.scaling.min, before.scaling.max, before.scaling.desired, after.min, after.max, after.desired
    );
    println!("{change}");
    if let Err(e) = after.validate() {
        eprintln!("error: {e}; nothing was changed");
        return ExitCode::from(2);
    }
    if cli.dry_run.dry_run.is_dry_run() {
        eprintln!("Dry run ({}) on {where_}: nothing was changed.", cli.dry_run.dry_run);
        return ExitCode::SUCCESS;
    }
    eprintln!("Scaling {change} on {where_}");
    let started = match backend.update_scaling(&group, &update).await {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let report = |p: k8sops::nodes::node_group::UpdateProgress| {
        eprintln!("update {}: {:?} ({}s)", p.update.id, p.update.status, p.elapsed.as_secs())
    };
    let status = match k8sops::nodes::node_group::wait_for_update(
        backend.as_ref(),
        &group,
        &started.id,
        Duration::from_secs(5),
        Duration::from_secs(1800),
        &report,
    )
    .await
    {
        Ok(u) => u.status,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    println!("update {}: {status:?}", started.id);
    if status == UpdateStatus::Successful {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
