//! The ops guide's resource-limit optimisation, as a review: containers
//! without CPU/memory requests or a memory limit, and Deployments and
//! StatefulSets with no nodeSelector, affinity or tolerations while some
//! node groups are tainted. Read-only. Usage sorted by CPU or memory is
//! `top -- pods --sort-by cpu`; headroom and oversized requests are
//! `capacity_report`.
//!
//! ```text
//! cargo run --example optimise
//! cargo run --example optimise -- -n shop
//! cargo run --example optimise -- --json
//! ```
//! Exit code: 0 the report is printed (hints are advice, not failures), 1
//! the cluster could not be read, 2 usage or cluster error.

mod common;

use std::process::ExitCode;

use clap::Parser;
use k8sops::metrics::optimisation_hints;

/// Containers without requests or limits, and workloads that ignore tainted node groups
#[derive(Parser)]
#[command(name = "optimise")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// Only this namespace (default: all)
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    namespace: Option<String>,

    /// Print the hints as JSON
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let hints = match optimisation_hints(&target.cluster, cli.namespace.as_deref()).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&hints).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    print!("{hints}");
    let taints = if hints.node_taints.is_empty() { "none".to_string() } else { hints.node_taints.join(", ") };
    println!(
        "{} container(s) without requests, {} without a memory limit, {} workload(s) not targeting nodes; \
         NoSchedule taints: {taints}",
        hints.missing_requests.len(),
        hints.missing_limits.len(),
        hints.untargeted_workloads.len()
    );
    ExitCode::SUCCESS
}
