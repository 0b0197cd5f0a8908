//! Node maintenance as kubectl does it: cordon, uncordon, delete.
//!
//! ```text
//! cargo run --example node_maintenance -- cordon ip-10-0-0-5.ec2.internal          # kubectl cordon NODE
//! cargo run --example node_maintenance -- cordon -l eks.amazonaws.com/capacityType=SPOT
//! cargo run --example node_maintenance -- uncordon ip-10-0-0-5.ec2.internal        # kubectl uncordon NODE
//! cargo run --example node_maintenance -- delete ip-10-0-0-9.ec2.internal --drain --ignore-daemonsets
//! cargo run --example node_maintenance -- --demo cordon ip-10-0-0-5.ec2.internal --dry-run=server
//! ```
//! `delete --drain` deletes the node object only after a completed drain;
//! a refused or failed drain leaves it cordoned and says why. Exit code: 0
//! done, 1 not done (a node missing, a drain that did not complete), 2 usage
//! error or the cluster did not answer.

mod common;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use k8sops::{
    nodes::{cordon, delete_node, uncordon, CordonParams, DeleteNodeParams, DrainParams, NodeSelection},
    LabelSelector,
};

/// Cordon, uncordon or delete nodes (kubectl cordon / uncordon / delete node)
#[derive(Parser)]
#[command(name = "node_maintenance")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    #[command(flatten)]
    dry_run: common::DryRunArg,

    #[command(subcommand)]
    command: Command,
}

/// Nodes by name, or by a label selector.
#[derive(clap::Args)]
struct Nodes {
    /// The nodes
    #[arg(required_unless_present = "selector", conflicts_with = "selector")]
    nodes: Vec<String>,

    /// Nodes matching this label selector instead
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    selector: Option<LabelSelector>,
}

impl Nodes {
    fn selection(self) -> NodeSelection {
        match self.selector {
            Some(s) => NodeSelection::Selector(s),
            None => NodeSelection::Names(self.nodes),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Mark nodes unschedulable (kubectl cordon)
    Cordon(Nodes),
    /// Mark nodes schedulable again (kubectl uncordon)
    Uncordon(Nodes),
    /// Delete a node object (kubectl delete node), after draining it with --drain
    Delete {
        /// The node
        node: String,
        /// Drain it first (cordon, evict its pods); it is deleted only if the drain completes
        #[arg(long)]
        drain: bool,
        /// With --drain: leave DaemonSet-managed pods alone
        #[arg(long, requires = "drain")]
        ignore_daemonsets: bool,
        /// With --drain: evict pods with emptyDir volumes too (their data is lost)
        #[arg(long, requires = "drain")]
        delete_emptydir_data: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let dry_run = cli.dry_run.dry_run;
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    match cli.command {
        Command::Cordon(nodes) => {
            target.announce(format!("Cordoning (dry run: {dry_run})"));
            common::print_or_fail(cordon(&target.cluster, &nodes.selection(), CordonParams { dry_run }).await)
        }
        Command::Uncordon(nodes) => {
            target.announce(format!("Uncordoning (dry run: {dry_run})"));
            common::print_or_fail(uncordon(&target.cluster, &nodes.selection(), CordonParams { dry_run }).await)
        }
        Command::Delete { node, drain, ignore_daemonsets, delete_emptydir_data } => {
            target.announce(format!("Deleting node/{node} (dry run: {dry_run})"));
            let drain = drain.then(|| {
                DrainParams::default().ignore_daemonsets(ignore_daemonsets).delete_emptydir_data(delete_emptydir_data)
            });
            let progress = common::DrainProgress::new();
            let params = DeleteNodeParams { drain, dry_run, cancel: Some(common::cancel_on_ctrl_c()) };
            let result = delete_node(&target.cluster, &node, &params, &progress).await;
            progress.bar.finish_and_clear();
            match result {
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
                Ok(report) => {
                    if let Some(d) = &report.drain {
                        print!("{d}");
                    }
                    match report.ensure_completed() {
                        Ok(r) if r.deleted => {
                            println!("node/{} deleted", r.node);
                            ExitCode::SUCCESS
                        }
                        Ok(r) => {
                            println!("node/{} deleted (dry run: {})", r.node, r.dry_run);
                            ExitCode::SUCCESS
                        }
                        Err(e) => {
                            println!("node/{node} not deleted: {e}");
                            ExitCode::from(1)
                        }
                    }
                }
            }
        }
    }
}
