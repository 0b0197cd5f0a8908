//! `kubectl get pv`, `get pvc -A` and `get storageclass` in one report, with
//! what needs attention (Pending claims and why, Released volumes, unused
//! claims, default StorageClass problems).
//!
//! ```text
//! cargo run --example storage_report
//! ```

mod common;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let target = match common::connect().await {
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
