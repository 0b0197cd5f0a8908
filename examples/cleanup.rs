//! Delete Succeeded and Failed pods (and finished Jobs past a TTL), like
//! `kubectl delete pods --field-selector=status.phase=Succeeded -A`.
//!
//! A dry run unless `--yes` is given: it prints what would be deleted (the
//! server checks each delete with dryRun=All) and how to run it for real.
//! With `--yes` it deletes exactly the objects it listed, each only while it
//! still has the UID and resourceVersion it was listed with; an object
//! recreated or changed since is reported as skipped.
//!
//! ```text
//! cargo run --example cleanup                       # dry run: what would go
//! cargo run --example cleanup -- -n batch --older-than-hours 24 --jobs-older-than-hours 72
//! cargo run --example cleanup -- -n batch --older-than-hours 24 --yes   # delete for real
//! ```
//! Exit code: 0 done (or dry run), 1 a request failed, 2 usage or cluster error.

mod common;

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use k8sops::{
    metrics::{cleanup, CleanupParams},
    LabelSelector,
};

/// Delete finished pods (and finished Jobs past a TTL); a dry run unless --yes
#[derive(Parser)]
#[command(name = "cleanup")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// Only this namespace (default: all)
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    namespace: Option<String>,

    /// Only objects matching this label selector
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    selector: Option<LabelSelector>,

    /// Only pods created at least this many hours ago
    #[arg(long, value_name = "HOURS", value_parser = common::parse_hours)]
    older_than_hours: Option<Duration>,

    /// Also delete Jobs that finished at least this many hours ago (with their pods)
    #[arg(long, value_name = "HOURS", value_parser = common::parse_hours)]
    jobs_older_than_hours: Option<Duration>,

    /// Only report what would be deleted (the default without --yes)
    #[arg(long, conflicts_with = "yes")]
    dry_run: bool,

    /// Delete for real
    #[arg(long, short = 'y')]
    yes: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let params = CleanupParams {
        namespace: cli.namespace.clone(),
        selector: cli.selector.clone(),
        older_than: cli.older_than_hours,
        finished_jobs_older_than: cli.jobs_older_than_hours,
        dry_run: true,
        ..Default::default()
    };
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    // The dry run is the plan: what is listed now, checked by the server.
    let plan = match cleanup(&target.cluster, &params).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let count = format!("{} pod(s) and {} job(s)", plan.pods.len(), plan.jobs.len());
    if !cli.yes {
        print!("{plan}");
        eprintln!("Dry run on {}: nothing was deleted.", target.name);
        if !(plan.pods.is_empty() && plan.jobs.is_empty()) {
            eprintln!("To delete these {count}, run:\n  {}", common::command_line_with(&["--dry-run"], "--yes"));
        }
        return ExitCode::SUCCESS;
    }
    if plan.pods.is_empty() && plan.jobs.is_empty() {
        print!("{plan}");
        eprintln!("Nothing to delete on {}.", target.name);
        return ExitCode::SUCCESS;
    }
    target.announce(format!("Deleting {count}"));
    common::print_or_fail(plan.delete_listed(&target.cluster).await)
}
