//! Capacity per node group, headroom for a pod shape, over-committed nodes
//! and pods requesting far more than they use.
//!
//! ```text
//! cargo run --example capacity_report
//! cargo run --example capacity_report -- --cpu 1 --memory 2Gi
//! ```

mod common;

use std::process::ExitCode;

use k8sops::metrics::{capacity_report, CapacityParams};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut params = CapacityParams::default();
    if let Some(cpu) = common::flag_value(&args, "--cpu").and_then(|v| v.parse().ok()) {
        params.headroom_pod.0 = cpu;
    }
    if let Some(mem) = common::flag_value(&args, "--memory").and_then(|v| v.parse().ok()) {
        params.headroom_pod.1 = mem;
    }
    let target = match common::connect().await {
        Ok(t) => t,
        Err(code) => return code,
    };
    common::print_or_fail(capacity_report(&target.cluster, &params).await)
}
