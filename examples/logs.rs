//! `kubectl logs`: a container's log, the previous instance's, or followed.
//!
//! ```text
//! cargo run --example logs -- NAMESPACE POD [-c CONTAINER] [--previous] [--tail N] [--timestamps] [-f]
//! ```
//! On the demo cluster the pods have no log lines unless a test adds them;
//! this example writes a few to `legacy/debug-shell` (the pod shown when no
//! NAMESPACE POD is given) so there is something to show.

mod common;

use std::process::ExitCode;

use clap::Parser;
use futures::StreamExt;
use k8sops::diagnose::{follow_logs, logs, LogOptions};

/// A container's log (kubectl logs)
#[derive(Parser)]
#[command(name = "logs")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// The pod's namespace [default: legacy, with POD debug-shell]
    #[arg(requires = "pod")]
    namespace: Option<String>,

    /// The pod
    pod: Option<String>,

    /// The container (default: the pod's only or default container)
    #[arg(short = 'c', long, value_name = "CONTAINER")]
    container: Option<String>,

    /// The previous (terminated) instance's log
    #[arg(short = 'p', long)]
    previous: bool,

    /// Only the last N lines (-1: all)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    tail: Option<i64>,

    /// Prefix each line with its timestamp
    #[arg(long)]
    timestamps: bool,

    /// Keep printing new lines until the container stops (Ctrl-C to stop)
    #[arg(short = 'f', long)]
    follow: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let (ns, pod) = match (cli.namespace, cli.pod) {
        (Some(ns), Some(pod)) => (ns, pod),
        _ => ("legacy".to_string(), "debug-shell".to_string()),
    };
    let options = LogOptions {
        container: cli.container,
        previous: cli.previous,
        tail_lines: cli.tail.filter(|n| *n >= 0),
        timestamps: cli.timestamps,
        ..Default::default()
    };
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    if let Some(demo) = &target.demo {
        demo.append_log("legacy", "debug-shell", "shell", false, "starting shell\nwaiting for input");
    }
    if !cli.follow {
        return common::print_or_fail(logs(&target.cluster, &ns, &pod, &options).await);
    }
    let mut lines = match follow_logs(&target.cluster, &ns, &pod, &options).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    loop {
        let next = tokio::select! {
            l = lines.next() => l,
            _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
        };
        match next {
            Some(Ok(l)) => println!("{l}"),
            Some(Err(e)) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
            None => return ExitCode::SUCCESS,
        }
    }
}
