//! The daily checklist: node state and pod health.
//!
//! ```text
//! cargo run --example daily_check                   # current kubeconfig context, or the demo cluster when there is no kubeconfig
//! cargo run --example daily_check -- --demo         # always the demo cluster (also K8SOPS_DEMO=1)
//! cargo run --example daily_check -- --context prod # another kubeconfig context
//! cargo run --example daily_check -- --json         # machine-readable
//! ```
//! Exit code: 0 healthy, 1 something needs attention, 2 usage or cluster error.

mod common;

use std::process::ExitCode;

use clap::Parser;

/// The daily checklist: node state and pod health
#[derive(Parser)]
#[command(name = "daily_check")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// Print the report as JSON
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
    match k8sops::checklist::daily(&target.cluster).await {
        Ok(report) => {
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                print!("{report}");
            }
            if report.is_healthy() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
