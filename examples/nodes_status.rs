//! `kubectl get nodes -o wide` plus every condition that needs attention,
//! or `kubectl describe node NAME`.
//!
//! ```text
//! cargo run --example nodes_status
//! cargo run --example nodes_status -- --selector eks.amazonaws.com/nodegroup=general
//! cargo run --example nodes_status -- describe ip-10-0-0-5.ec2.internal
//! ```

mod common;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use k8sops::{
    nodes::{describe_node, list_nodes, NodeListParams},
    LabelSelector,
};

/// Nodes with their status and the conditions that need attention (kubectl get nodes -o wide)
#[derive(Parser)]
#[command(name = "nodes_status")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// Only nodes matching this label selector
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    selector: Option<LabelSelector>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// One node in detail (kubectl describe node NODE)
    Describe {
        /// The node
        node: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    if let Some(Command::Describe { node }) = &cli.command {
        return common::print_or_fail(describe_node(&target.cluster, node).await);
    }
    let mut params = NodeListParams::default();
    if let Some(sel) = cli.selector {
        params = params.labels(sel);
    }
    match list_nodes(&target.cluster, &params).await {
        Ok(nodes) => {
            print!("{nodes}");
            let problems = nodes.problems_table();
            if !problems.is_empty() {
                println!("\nConditions needing attention:");
                print!("{problems}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
