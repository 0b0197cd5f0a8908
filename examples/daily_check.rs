//! The daily checklist: node state and pod health.
//!
//! ```text
//! cargo run --example daily_check            # current kubeconfig, or the demo cluster
//! K8SOPS_DEMO=1 cargo run --example daily_check   # always the demo cluster
//! cargo run --example daily_check -- --json  # machine-readable
//! ```

mod common;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let json = std::env::args().any(|a| a == "--json");
    let target = match common::connect().await {
        Ok(t) => t,
        Err(code) => return code,
    };
    match k8sops::checklist::daily(&target.cluster).await {
        Ok(report) => {
            if json {
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
