//! Scale a node group in without ever terminating an undrained node: pick
//! the least-loaded nodes, cordon, drain, then terminate exactly those
//! instances with a desired-capacity decrement.
//!
//! ```text
//! cargo run --example safe_scale_in -- --demo general 1 --dry-run    # demo cluster, in-memory node groups
//! cargo run --example safe_scale_in -- --demo general 1              # ... for real (on the demo)
//! cargo run --example safe_scale_in --features aws -- workers 2 --eks prod
//! ```
//! Without `--eks` the node groups are in memory, built from the nodes'
//! node-group labels: fine for the demo cluster, and for a dry run anywhere;
//! a real scale-in of a real cluster needs `--eks CLUSTER`.
//!
//! Exit code: 0 completed, 1 failed or cancelled (the report says what was
//! done and which nodes are left cordoned), 2 usage or cluster error.

mod common;

use std::{process::ExitCode, sync::Arc};

use clap::Parser;
use k8sops::{
    backend::InMemoryNodeGroups,
    nodes::{safe_scale_in, ScaleInEvent, ScaleInParams, ScaleInStatus},
    Cluster, ProgressSink,
};

/// Scale a node group in: cordon and drain the least-loaded nodes, then terminate exactly those instances
#[derive(Parser)]
#[command(name = "safe_scale_in")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// The node group (its nodes' node-group label)
    group: String,

    /// How many nodes to remove
    #[arg(value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    count: usize,

    /// The EKS cluster whose node group this is (needs --features aws); without it node groups are in memory
    #[arg(long, value_name = "CLUSTER")]
    eks: Option<String>,

    #[command(flatten)]
    dry_run: common::DryRunArg,
}

/// Node groups for the demo cluster: one in-memory group per node-group label.
async fn in_memory_groups(cluster: &Cluster, group: &str) -> Result<Cluster, Box<dyn std::error::Error>> {
    let g = common::node_group_from_labels(cluster, group).await?;
    Ok(cluster.to_builder().node_groups(Arc::new(InMemoryNodeGroups::new().with_group(g))).build())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let dry_run = cli.dry_run.dry_run;
    #[cfg(not(feature = "aws"))]
    if cli.eks.is_some() {
        eprintln!("error: --eks needs the example built with --features aws");
        return ExitCode::from(2);
    }
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let (cluster, groups) = match &cli.eks {
        #[cfg(feature = "aws")]
        Some(name) => {
            let sdk = k8sops::nodes::aws::sdk_config(std::env::var("AWS_ENDPOINT_URL").ok().as_deref()).await;
            let region = sdk.region().map_or("(no region set)".to_string(), |r| r.to_string());
            let backend = Arc::new(k8sops::nodes::aws::EksNodeGroups::new(&sdk, name.as_str()));
            (
                target.cluster.to_builder().node_groups(backend).build(),
                format!("EKS cluster {name} (AWS region {region})"),
            )
        }
        #[cfg(not(feature = "aws"))]
        Some(_) => unreachable!("refused above"),
        None => {
            if target.demo.is_none() && !dry_run.is_dry_run() {
                eprintln!(
                    "error: on {} the node groups must be named with --eks CLUSTER; \
                     in-memory node groups are for the demo cluster and dry runs",
                    target.name
                );
                return ExitCode::from(2);
            }
            match in_memory_groups(&target.cluster, &cli.group).await {
                Ok(c) => (c, "in-memory node groups".to_string()),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            }
        }
    };
    let params =
        ScaleInParams { dry_run, cancel: Some(common::cancel_on_ctrl_c()), ..ScaleInParams::least_loaded(cli.count) };
    let mode = if dry_run.is_dry_run() { format!(" (dry run: {dry_run}, nothing is changed)") } else { String::new() };
    target.announce(format!("Scaling node group {} ({groups}) in by {}{mode}", cli.group, cli.count));

    let drains = common::DrainProgress::new();
    let progress = |e: ScaleInEvent| match e {
        ScaleInEvent::Planned(plan) => common::note(&drains.bar, format!("{plan}")),
        ScaleInEvent::Drain { event, .. } => drains.emit(event),
        ScaleInEvent::Terminated { node, instance_id } => {
            common::note(&drains.bar, format!("terminated {instance_id} ({node}), desired capacity lowered"))
        }
        _ => {}
    };
    let result = safe_scale_in(&cluster, &cli.group, &params, &progress).await;
    drains.bar.finish_and_clear();
    match result {
        Ok(report) => {
            print!("{report}");
            if report.status == ScaleInStatus::Completed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
