//! `kubectl top nodes` / `kubectl top pods`, plus the metrics-server check
//! and ResourceQuota usage.
//!
//! ```text
//! cargo run --example top -- nodes [--sort-by cpu|memory]
//! cargo run --example top -- pods [-n NAMESPACE] [-l SELECTOR] [--containers] [--sort-by cpu|memory]
//! cargo run --example top -- quotas
//! ```

mod common;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use k8sops::{
    metrics::{metrics_server_status, quotas, top_nodes, top_pods, SortBy, TopPodsParams},
    LabelSelector,
};

/// Resource usage of nodes or pods (kubectl top), or ResourceQuota usage
#[derive(Parser)]
#[command(name = "top")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// Sort by this column (default: name)
    #[arg(long, global = true, value_name = "COLUMN")]
    sort_by: Option<Sort>,

    /// What to show [default: nodes]
    #[command(subcommand)]
    view: Option<View>,
}

#[derive(Subcommand)]
enum View {
    /// Node usage (kubectl top nodes)
    Nodes,
    /// Pod usage (kubectl top pods)
    Pods {
        /// Only this namespace (default: all)
        #[arg(short = 'n', long, value_name = "NAMESPACE")]
        namespace: Option<String>,
        /// Only pods matching this label selector
        #[arg(short = 'l', long, value_name = "SELECTOR")]
        selector: Option<LabelSelector>,
        /// One line per container
        #[arg(long)]
        containers: bool,
    },
    /// ResourceQuota usage, flagging those at 80% or more
    Quotas,
}

#[derive(Clone, Copy, ValueEnum)]
enum Sort {
    Cpu,
    Memory,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let sort = match cli.sort_by {
        Some(Sort::Cpu) => SortBy::Cpu,
        Some(Sort::Memory) => SortBy::Memory,
        None => SortBy::Name,
    };
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let cluster = &target.cluster;
    let result = match cli.view.unwrap_or(View::Nodes) {
        View::Nodes => top_nodes(cluster, None, sort).await.map(|t| t.to_string()),
        View::Pods { namespace, selector, containers } => {
            let params = TopPodsParams { namespace, selector, sort, containers };
            top_pods(cluster, &params).await.map(|t| t.to_string())
        }
        View::Quotas => quotas(cluster, None, 80).await.map(|q| q.to_string()),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            if let Ok(status) = metrics_server_status(cluster).await {
                eprint!("{status}");
            }
            ExitCode::from(1)
        }
    }
}
