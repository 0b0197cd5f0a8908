//! A checklist over many clusters at once: every context of the kubeconfig,
//! or the ones named with `--context` (repeatable), a few at a time, each
//! within a time budget; one row per cluster with its worst findings. A
//! cluster that does not answer is a row that says why.
//!
//! ```text
//! cargo run --example fleet_check                                  # every context of $KUBECONFIG / ~/.kube/config
//! cargo run --example fleet_check -- --context prod --context staging --cluster-budget 2m
//! cargo run --example fleet_check -- --checklist weekly --skip backup --format markdown
//! cargo run --example fleet_check -- --checklist monthly --dr-drill   # the drill is left out unless asked for
//! cargo run --example fleet_check -- --demo                        # two embedded demo clusters
//! ```
//! The first line on stderr says which clusters; the report starts with
//! `Fleet: daily checklist on N clusters`.
//! Exit code: 0 nothing failed, 1 a cluster failed a check or could not be
//! checked, 2 usage error.

mod common;

use std::{process::ExitCode, time::Duration};

use clap::{Parser, ValueEnum};
use common::checklist_run::{self, Which};
use k8sops::{
    checklist::{Checklist, Status},
    fleet::{Fleet, FleetEvent, FleetReport},
    ProgressSink,
};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Markdown,
}

/// Runs a checklist on many kubeconfig contexts at once
#[derive(Parser)]
#[command(name = "fleet_check")]
struct Cli {
    /// Check this context (repeatable); default: every context of the kubeconfig
    #[arg(long = "context", value_name = "NAME", conflicts_with = "demo")]
    contexts: Vec<String>,

    /// Check two embedded demo clusters (same as K8SOPS_DEMO=1)
    #[arg(long)]
    demo: bool,

    /// Which checklist
    #[arg(long, value_enum, default_value = "daily")]
    checklist: Which,

    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    format: Format,

    /// Clusters checked at once
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,

    /// Leave out the check with this id (repeatable)
    #[arg(long, value_name = "ID")]
    skip: Vec<String>,

    /// With --checklist monthly: also run the disaster-recovery drill on every cluster
    /// (it creates and deletes a scratch namespace in each); left out unless asked for
    #[arg(long)]
    dr_drill: bool,

    /// Time allowed per cluster, connection included (300, 90s, 5m)
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = common::parse_positive_duration)]
    cluster_budget: Duration,
}

/// A line per cluster as it finishes, over a progress bar.
struct Progress(indicatif::ProgressBar);

impl ProgressSink<FleetEvent> for Progress {
    fn emit(&self, event: FleetEvent) {
        match event {
            FleetEvent::Started { cluster } => self.0.set_message(format!("checking {cluster}")),
            FleetEvent::Finished { cluster, status, .. } => {
                self.0.inc(1);
                common::note(&self.0, format!("{status} {cluster}"));
            }
            _ => {}
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let full = match cli.checklist {
        Which::Monthly if !cli.dr_drill => Checklist::monthly().without("dr-drill"),
        which => which.checklist(),
    };
    if cli.dr_drill && !matches!(cli.checklist, Which::Monthly) {
        eprintln!("error: --dr-drill belongs to --checklist monthly");
        return ExitCode::from(2);
    }
    let checklist = match checklist_run::skip(full, &cli.skip, " here") {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // The demo servers live until the end of main.
    let mut demos = Vec::new();
    let fleet = if let Some(why) =
        common::demo_requested(cli.demo).or_else(|| (!common::kubeconfig_exists()).then_some("No kubeconfig found"))
    {
        if !cli.contexts.is_empty() {
            eprintln!("error: {why} and --context given: choose one");
            return ExitCode::from(2);
        }
        let mut fleet = Fleet::new();
        for name in ["demo-a", "demo-b"] {
            let target = match common::start_demo(why).await {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            fleet = fleet.cluster(name, target.cluster.clone());
            demos.push(target);
        }
        fleet
    } else {
        match Fleet::from_default_kubeconfig(&cli.contexts) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let names: Vec<&str> = fleet.names().collect();
    eprintln!("Checking {} clusters: {}", names.len(), names.join(", "));
    let progress = Progress(common::progress_bar(names.len() as u64));
    let fleet = fleet.concurrency(usize::from(cli.concurrency)).budget_per_cluster(cli.cluster_budget);
    let cancel = common::cancel_on_ctrl_c();
    let report: FleetReport = fleet.run_with(&checklist, &progress, &cancel).await;
    progress.0.finish_and_clear();
    match cli.format {
        Format::Table => print!("{report}"),
        Format::Json => println!("{}", report.to_json()),
        Format::Markdown => print!("{}", report.to_markdown()),
    }
    drop(demos);
    // An exec credential plugin cut off by its cluster's budget (a login
    // prompt nobody answers) still runs on a blocking thread, and the
    // runtime would wait for it at exit: the report is out, exit now.
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    std::process::exit(if report.status() == Status::Fail { 1 } else { 0 });
}
