//! Capacity per node group, headroom for a pod shape, over-committed nodes
//! and pods requesting far more than they use.
//!
//! ```text
//! cargo run --example capacity_report
//! cargo run --example capacity_report -- --cpu 1 --memory 2Gi
//! ```

mod common;

use std::process::ExitCode;

use clap::Parser;
use k8sops::{
    metrics::{capacity_report, CapacityParams},
    Quantity,
};

/// Capacity per node group, headroom for a pod shape, over-committed nodes and oversized requests
#[derive(Parser)]
#[command(name = "capacity_report")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// CPU request of the pod shape to count headroom for (e.g. 500m, 1)
    #[arg(long, value_name = "QUANTITY")]
    cpu: Option<Quantity>,

    /// Memory request of the pod shape to count headroom for (e.g. 512Mi, 2Gi)
    #[arg(long, value_name = "QUANTITY")]
    memory: Option<Quantity>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut params = CapacityParams::default();
    if let Some(cpu) = cli.cpu {
        params.headroom_pod.0 = cpu;
    }
    if let Some(mem) = cli.memory {
        params.headroom_pod.1 = mem;
    }
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    common::print_or_fail(capacity_report(&target.cluster, &params).await)
}
