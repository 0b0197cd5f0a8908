//! `kubectl drain` with a progress bar, budget blocks named as they happen,
//! Ctrl-C to stop (the node stays cordoned and the report says what was
//! evicted), and a per-pod report at the end.
//!
//! ```text
//! cargo run --example drain_node -- ip-10-0-0-5.ec2.internal --ignore-daemonsets --delete-emptydir-data
//! cargo run --example drain_node -- NODE --ignore-daemonsets --force --timeout 300 --dry-run=server
//! cargo run --example drain_node -- NODE --ignore-daemonsets --timeout 5m --dry-run   # bare --dry-run: client
//! cargo run --example drain_node -- --demo ip-10-0-0-5.ec2.internal --ignore-daemonsets --delete-emptydir-data
//! ```
//! Exit code: 0 the drain completed (every pod gone, or in a dry run would
//! be), 1 it was refused, timed out, cancelled or failed (the report says
//! which pods), 2 usage or cluster error — nothing was done.

mod common;

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use k8sops::{
    nodes::{drain_with_progress, DrainParams, DrainStatus},
    LabelSelector,
};

/// Drain a node as kubectl drain does: cordon it, then evict its pods, respecting disruption budgets
#[derive(Parser)]
#[command(name = "drain_node")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// The node to drain
    node: String,

    /// Leave DaemonSet-managed pods alone (otherwise they refuse the drain)
    #[arg(long)]
    ignore_daemonsets: bool,

    /// Evict pods with emptyDir volumes too (their data is lost)
    #[arg(long)]
    delete_emptydir_data: bool,

    /// Also delete pods that no controller manages
    #[arg(long)]
    force: bool,

    /// Delete pods directly instead of evicting them, bypassing disruption budgets
    #[arg(long)]
    disable_eviction: bool,

    /// Give up after this long: seconds (300) or with a unit (300s, 5m, 1h); 0 waits forever
    #[arg(long, value_name = "DURATION", value_parser = common::parse_duration)]
    timeout: Option<Duration>,

    /// Seconds each pod gets to terminate (-1: the pod's own)
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    grace_period: Option<i64>,

    /// Only evict pods matching this label selector
    #[arg(long, value_name = "SELECTOR")]
    pod_selector: Option<LabelSelector>,

    /// Evictions in flight at once [default: 16]
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    concurrency: Option<usize>,

    #[command(flatten)]
    dry_run: common::DryRunArg,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut params = DrainParams::default()
        .ignore_daemonsets(cli.ignore_daemonsets)
        .delete_emptydir_data(cli.delete_emptydir_data)
        .force(cli.force)
        .disable_eviction(cli.disable_eviction)
        .dry_run(cli.dry_run.dry_run);
    if let Some(t) = cli.timeout {
        params = params.timeout(t);
    }
    if let Some(g) = cli.grace_period {
        params = params.grace_period(g);
    }
    if let Some(c) = cli.concurrency {
        params = params.concurrency(c);
    }
    if let Some(sel) = cli.pod_selector {
        params = params.pod_selector(sel);
    }

    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    params = params.cancel(common::cancel_on_ctrl_c());
    let mode = if cli.dry_run.dry_run.is_dry_run() {
        format!(" (dry run: {}, nothing is changed)", cli.dry_run.dry_run)
    } else {
        String::new()
    };
    target.announce(format!("Draining node/{}{mode}", cli.node));

    let progress = common::DrainProgress::new();
    let result = drain_with_progress(&target.cluster, &cli.node, &params, &progress).await;
    progress.bar.finish_and_clear();
    match result {
        Ok(report) => {
            print!("{report}");
            if report.status == DrainStatus::Completed {
                return ExitCode::SUCCESS;
            }
            if let Err(e) = report.ensure_completed() {
                eprintln!("error: {e}");
            }
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
