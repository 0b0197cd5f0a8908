//! The ops guide's checklists: daily, weekly or monthly, as a table, JSON,
//! Markdown or one self-contained HTML page.
//!
//! ```text
//! cargo run --example checklist -- weekly --demo
//! cargo run --example checklist -- monthly --format html --out monthly.html --documents ./runbook
//! cargo run --example checklist -- daily --skip events --budget 30s
//! cargo run --example checklist -- weekly --etcd-snapshot /var/backups/etcd.db
//! ```
//! The weekly `backup` check writes an export to the cluster's backup store,
//! or, when none is configured, to a new private (0700) temporary directory
//! that is verified and then removed (a process killed in between leaves it
//! under the system temporary directory as `k8sops-weekly-backup-*`). The
//! monthly `dr-drill` restores a namespace into a scratch namespace and
//! deletes it (`--skip dr-drill` to leave it out); cut short by `--budget`
//! or Ctrl-C, it starts deleting it (the run waits up to 3 s for that), or
//! the next drill reports it.
//! Exit code: 0 nothing failed, 1 a check failed, 2 usage error or the
//! cluster did not answer.

mod common;

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use common::checklist_run::{self, Which};

/// Runs the daily, weekly or monthly checklist
#[derive(Parser)]
#[command(name = "checklist")]
struct Cli {
    /// Which checklist
    #[arg(value_enum)]
    which: Which,

    #[command(flatten)]
    cluster: common::ClusterArgs,

    #[command(flatten)]
    report: common::checklist_run::ReportArgs,

    /// Leave out the check with this id (repeatable)
    #[arg(long, value_name = "ID")]
    skip: Vec<String>,

    /// Weekly: also verify this etcd snapshot file (what `etcdctl snapshot status` reads)
    #[arg(long, value_name = "FILE")]
    etcd_snapshot: Option<PathBuf>,

    /// Save the documents the checks produce (the monthly runbook) in DIR
    #[arg(long, value_name = "DIR")]
    documents: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut checklist = match checklist_run::skip(cli.which.checklist(), &cli.skip, "") {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &cli.etcd_snapshot {
        if !matches!(cli.which, Which::Weekly) || cli.skip.iter().any(|s| s == "backup") {
            eprintln!("error: --etcd-snapshot belongs to the weekly checklist's backup check (not skipped)");
            return ExitCode::from(2);
        }
        if !path.is_file() {
            eprintln!("error: --etcd-snapshot {}: no such file", path.display());
            return ExitCode::from(2);
        }
        let check = k8sops::checklist::weekly::BackupCheck { etcd_snapshot: Some(path.clone()), ..Default::default() };
        checklist = checklist.with(check);
    }
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let cancel = common::cancel_on_ctrl_c();
    let (report, code) = common::checklist_run::run(&target.cluster, checklist, &cli.report, &cancel).await;
    if let Some(dir) = &cli.documents {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("error: cannot create {}: {e}", dir.display());
            return ExitCode::from(2);
        }
        for doc in report.results.iter().flat_map(|r| r.artifacts.iter()) {
            let path = dir.join(&doc.name);
            match common::checklist_run::write_atomically(&path, doc.content.as_bytes()) {
                Ok(()) => eprintln!("Document written to {}", path.display()),
                Err(e) => {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
        }
    }
    code
}
