//! Live monitoring: what the ops guide's CronJob does every five minutes
//! (`kubectl top nodes`, `kubectl top pods -A --sort-by=cpu`), as a stream
//! of snapshots with threshold alerts. Ctrl-C to stop.
//!
//! ```text
//! cargo run --example monitor                    # every 5 s
//! cargo run --example monitor -- --interval 300  # like the guide's CronJob (also 5m)
//! cargo run --example monitor -- --count 3
//! ```

mod common;

use std::{pin::pin, process::ExitCode, time::Duration};

use clap::Parser;
use futures::StreamExt;
use k8sops::metrics::{monitor, MonitorParams};

/// Snapshots of node and pod usage with threshold alerts, redrawn like `watch`; Ctrl-C to stop
#[derive(Parser)]
#[command(name = "monitor")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// Time between snapshots: seconds, or with a unit (30s, 5m)
    #[arg(long, value_name = "DURATION", default_value = "5", value_parser = common::parse_positive_duration)]
    interval: Duration,

    /// Stop after this many snapshots
    #[arg(long, value_name = "N")]
    count: Option<usize>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let params = MonitorParams { interval: cli.interval, ..Default::default() };
    let mut samples = pin!(monitor(&target.cluster, params));
    let mut seen = 0;
    loop {
        let next = tokio::select! {
            s = samples.next() => s,
            _ = tokio::signal::ctrl_c() => break,
        };
        let Some(sample) = next else { break };
        match sample {
            Ok(s) => {
                // Clear the screen and redraw, like `watch`.
                println!("\x1b[2J\x1b[H=== {} ===", s.at);
                match (&s.nodes, &s.pods) {
                    (Some(nodes), Some(pods)) => {
                        println!("{nodes}");
                        let top: Vec<String> = pods
                            .pods
                            .iter()
                            .take(10)
                            .map(|p| {
                                format!("{}/{} {}m {}Mi", p.namespace, p.name, p.cpu.millis(), p.memory.value() >> 20)
                            })
                            .collect();
                        println!("Top pods by CPU:\n  {}", top.join("\n  "));
                    }
                    _ => println!(
                        "No usage: {}",
                        s.usage_unavailable.as_deref().unwrap_or("metrics.k8s.io is not served")
                    ),
                }
                if s.alerts.is_empty() {
                    println!("\nNo alerts.");
                } else {
                    println!("\nAlerts:");
                    for a in &s.alerts {
                        println!("  ! {a}");
                    }
                }
            }
            Err(e) => eprintln!("sample failed: {e}"),
        }
        seen += 1;
        if cli.count.is_some_and(|c| seen >= c) {
            break;
        }
    }
    ExitCode::SUCCESS
}
