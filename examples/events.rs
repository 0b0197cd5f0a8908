//! `kubectl get events -A --sort-by=.lastTimestamp`, with filters.
//!
//! ```text
//! cargo run --example events
//! cargo run --example events -- --warnings --since-minutes 30
//! cargo run --example events -- -n legacy --reason FailedScheduling
//! ```

mod common;

use std::{process::ExitCode, time::Duration};

use k8sops::diagnose::{events, events::EventTable, EventParams};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let params = EventParams {
        namespace: common::flag_value(&args, "-n"),
        warnings_only: args.iter().any(|a| a == "--warnings"),
        since: common::flag_value(&args, "--since-minutes")
            .and_then(|m| m.parse::<u64>().ok())
            .map(|m| Duration::from_secs(m * 60)),
        involved: None,
        reason: common::flag_value(&args, "--reason"),
    };
    let target = match common::connect().await {
        Ok(t) => t,
        Err(code) => return code,
    };
    match events(&target.cluster, &params).await {
        Ok(list) => {
            print!("{}", EventTable(&list));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
