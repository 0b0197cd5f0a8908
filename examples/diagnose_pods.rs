//! Why pods are not running: cluster health first, then each unhealthy pod
//! with its cause and the next step.
//!
//! ```text
//! cargo run --example diagnose_pods
//! cargo run --example diagnose_pods -- -n legacy
//! cargo run --example diagnose_pods -- -l app=web
//! cargo run --example diagnose_pods -- --node ip-10-0-0-5.ec2.internal
//! ```
//! Exit code: 0 no problems, 1 problems found, 2 usage or cluster error.

mod common;

use std::process::ExitCode;

use clap::Parser;
use k8sops::{
    diagnose::{cluster_health, diagnose_pods, DiagnoseParams},
    LabelSelector,
};

/// Why pods are not running: cluster health, then each unhealthy pod with its cause and next step
#[derive(Parser)]
#[command(name = "diagnose_pods")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// Only this namespace (default: all)
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    namespace: Option<String>,

    /// Only pods matching this label selector
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    selector: Option<LabelSelector>,

    /// Only pods on this node
    #[arg(long, value_name = "NODE")]
    node: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let params =
        DiagnoseParams { namespace: cli.namespace, selector: cli.selector, node: cli.node, ..Default::default() };
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    match cluster_health(&target.cluster).await {
        Ok(h) => println!("{h}"),
        Err(e) => eprintln!("health: {e}"),
    }
    match diagnose_pods(&target.cluster, &params).await {
        Ok(found) if found.pods.is_empty() && found.forbidden_namespaces.is_empty() => {
            println!("No pod problems found.");
            ExitCode::SUCCESS
        }
        Ok(found) => {
            print!("{found}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
