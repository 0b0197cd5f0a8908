//! The daily checklist of the ops guide: node status, pod health, service
//! endpoints, resource usage against thresholds, recent warning events.
//!
//! ```text
//! cargo run --example daily_check                          # current kubeconfig context, or the demo cluster when there is no kubeconfig
//! cargo run --example daily_check -- --demo                # always the demo cluster (also K8SOPS_DEMO=1)
//! cargo run --example daily_check -- --context prod        # another kubeconfig context
//! cargo run --example daily_check -- --format html --out daily.html
//! cargo run --example daily_check -- --json                # machine-readable
//! ```
//! The first line on stderr names the cluster (or says the demo is started);
//! the report starts with `Daily checklist: PASS|WARN|FAIL`.
//! Exit code: 0 nothing failed (warnings included), 1 a check failed, 2
//! usage error or the cluster did not answer.

mod common;

use std::process::ExitCode;

use clap::Parser;
use k8sops::checklist::Checklist;

/// The daily checklist: nodes, pods, service endpoints, resource usage, warning events
#[derive(Parser)]
#[command(name = "daily_check")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    #[command(flatten)]
    report: common::checklist_run::ReportArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let cancel = common::cancel_on_ctrl_c();
    common::checklist_run::run(&target.cluster, Checklist::daily(), &cli.report, &cancel).await.1
}
