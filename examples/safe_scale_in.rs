//! Scale a node group in without ever terminating an undrained node: pick
//! the least-loaded nodes (or given ones), cordon, drain, then terminate
//! exactly those instances with a desired-capacity decrement.
//!
//! ```text
//! cargo run --example safe_scale_in -- general 1 --dry-run          # demo cluster, in-memory node groups
//! cargo run --example safe_scale_in --features aws -- workers 2 --eks prod
//! ```

mod common;

use std::{process::ExitCode, sync::Arc};

use k8sops::{
    backend::{InMemoryNodeGroups, Instance, NodeGroup, ScalingConfig},
    nodes::{node_group, safe_scale_in, ScaleInEvent, ScaleInParams},
    Cluster,
};

/// Node groups for the demo cluster: one in-memory group per node-group label.
async fn demo_groups(cluster: &Cluster, group: &str) -> Result<Cluster, Box<dyn std::error::Error>> {
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
    Ok(cluster.to_builder().node_groups(Arc::new(InMemoryNodeGroups::new().with_group(g))).build())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pos = common::positional(&args, &["--eks"]);
    let (Some(group), Some(count)) = (pos.first().cloned(), pos.get(1).and_then(|n| n.parse::<usize>().ok())) else {
        eprintln!("usage: safe_scale_in GROUP COUNT [--dry-run] [--eks CLUSTER]");
        return ExitCode::from(2);
    };
    let target = match common::connect().await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let eks = common::flag_value(&args, "--eks");
    let cluster = match eks {
        #[cfg(feature = "aws")]
        Some(name) => {
            let sdk = k8sops::nodes::aws::sdk_config(std::env::var("AWS_ENDPOINT_URL").ok().as_deref()).await;
            target
                .cluster
                .to_builder()
                .node_groups(Arc::new(k8sops::nodes::aws::EksNodeGroups::new(&sdk, name)))
                .build()
        }
        #[cfg(not(feature = "aws"))]
        Some(_) => {
            eprintln!("--eks needs the example built with --features aws");
            return ExitCode::from(2);
        }
        None => match demo_groups(&target.cluster, &group).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        },
    };
    let params = ScaleInParams { dry_run: args.iter().any(|a| a == "--dry-run"), ..ScaleInParams::least_loaded(count) };
    let progress = |e: ScaleInEvent| match e {
        ScaleInEvent::Planned(plan) => print!("{plan}"),
        ScaleInEvent::Drain { node, event: k8sops::nodes::DrainEvent::Gone { pod } } => {
            eprintln!("  {node}: {pod} gone")
        }
        ScaleInEvent::Terminated { node, instance_id } => {
            eprintln!("terminated {instance_id} ({node}), desired capacity lowered")
        }
        _ => {}
    };
    match safe_scale_in(&cluster, &group, &params, &progress).await {
        Ok(report) => {
            if params.dry_run {
                println!("(dry run: nothing was changed)");
            } else {
                println!("terminated: {}", report.terminated.join(", "));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
