//! `kubectl get events -A --sort-by=.lastTimestamp`, with filters.
//!
//! ```text
//! cargo run --example events
//! cargo run --example events -- --warnings --since-minutes 30
//! cargo run --example events -- -n legacy --reason FailedScheduling
//! ```

mod common;

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use k8sops::diagnose::{events, events::EventTable, EventParams};

/// Events across both event APIs, oldest first (kubectl get events -A --sort-by=.lastTimestamp)
#[derive(Parser)]
#[command(name = "events")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// Only this namespace (default: all)
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    namespace: Option<String>,

    /// Only Warning events
    #[arg(long)]
    warnings: bool,

    /// Only events seen in the last this many minutes
    #[arg(long, value_name = "MINUTES", value_parser = common::parse_minutes)]
    since_minutes: Option<Duration>,

    /// Only events with this reason (e.g. FailedScheduling)
    #[arg(long, value_name = "REASON")]
    reason: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let params = EventParams {
        namespace: cli.namespace,
        warnings_only: cli.warnings,
        since: cli.since_minutes,
        involved: None,
        reason: cli.reason,
    };
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    common::print_or_fail(events(&target.cluster, &params).await.map(|list| EventTable(&list).to_string()))
}
