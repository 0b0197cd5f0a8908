//! `kubectl get pv`, `get pvc -A` and `get storageclass` in one report, with
//! what needs attention (Pending claims and why, Released volumes, unused
//! claims, default StorageClass problems).
//!
//! ```text
//! cargo run --example storage_report
//! ```
//! Exit code: 0 nothing needs attention, 1 findings, 2 usage or cluster error.

mod common;

use std::process::ExitCode;

use clap::Parser;

/// PersistentVolumes, claims and StorageClasses in one report, with what needs attention
#[derive(Parser)]
#[command(name = "storage_report")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    match k8sops::metrics::storage_report(&target.cluster).await {
        Ok(report) => {
            print!("{report}");
            if report.findings.is_empty() {
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
