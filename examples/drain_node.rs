//! `kubectl drain` with a progress bar, budget blocks named as they happen,
//! Ctrl-C to stop (the node stays cordoned and the report says what was
//! evicted), and a per-pod report at the end.
//!
//! ```text
//! cargo run --example drain_node -- ip-10-0-0-5.ec2.internal --ignore-daemonsets --delete-emptydir-data
//! cargo run --example drain_node -- NODE --ignore-daemonsets --force --timeout 300 --dry-run=server
//! ```

mod common;

use std::{io::Write, process::ExitCode, time::Duration};

use k8sops::{
    nodes::{drain, DrainEvent, DrainParams, DryRun, Error},
    CancellationToken,
};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags = ["--timeout", "--grace-period", "--pod-selector", "--concurrency"];
    let Some(node) = common::positional(&args, &flags).into_iter().next() else {
        eprintln!("usage: drain_node NODE [--ignore-daemonsets] [--delete-emptydir-data] [--force] [--disable-eviction] [--timeout SECS] [--grace-period SECS] [--pod-selector SEL] [--dry-run=client|server]");
        return ExitCode::from(2);
    };
    let has = |f: &str| args.iter().any(|a| a == f);
    let mut params = DrainParams::default()
        .ignore_daemonsets(has("--ignore-daemonsets"))
        .delete_emptydir_data(has("--delete-emptydir-data"))
        .force(has("--force"))
        .disable_eviction(has("--disable-eviction"));
    if let Some(t) = common::flag_value(&args, "--timeout").and_then(|v| v.parse().ok()) {
        params = params.timeout(Duration::from_secs(t));
    }
    if let Some(g) = common::flag_value(&args, "--grace-period").and_then(|v| v.parse().ok()) {
        params = params.grace_period(g);
    }
    if let Some(c) = common::flag_value(&args, "--concurrency").and_then(|v| v.parse().ok()) {
        params = params.concurrency(c);
    }
    if let Some(sel) = common::flag_value(&args, "--pod-selector").and_then(|v| v.parse().ok()) {
        params = params.pod_selector(sel);
    }
    params = params.dry_run(match common::flag_value(&args, "--dry-run").as_deref() {
        Some("client") => DryRun::Client,
        Some("server") => DryRun::Server,
        _ => DryRun::None,
    });
    let cancel = CancellationToken::new();
    params = params.cancel(cancel.clone());
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });

    let target = match common::connect().await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<DrainEvent>();
    let render = tokio::spawn(async move {
        let (mut total, mut gone) = (0usize, 0usize);
        let mut status = String::new();
        while let Some(ev) = rx.recv().await {
            match ev {
                DrainEvent::Cordoned { node, change } => eprintln!("node/{node} cordoned ({change:?})"),
                DrainEvent::PodsFound { to_remove, skipped, .. } => {
                    total = to_remove;
                    eprintln!("{to_remove} pod(s) to evict, {skipped} skipped");
                }
                DrainEvent::Skipped { pod, reason } => eprintln!("\r\x1b[2K  skipping {pod}: {reason}"),
                DrainEvent::BlockedByBudget { pod, budget, retry_in, .. } => {
                    status = format!(
                        "{pod} blocked by {} (retry in {:.1}s)",
                        budget.as_deref().unwrap_or("a disruption budget"),
                        retry_in.as_secs_f64()
                    );
                }
                DrainEvent::Retrying { pod, error, .. } => status = format!("{pod}: retrying after {error}"),
                DrainEvent::Evicted { pod } => status = format!("{pod} evicted, waiting for it to go"),
                DrainEvent::Gone { pod } => {
                    gone += 1;
                    status = format!("{pod} gone");
                }
                DrainEvent::Failed { pod, error } => eprintln!("\r\x1b[2K  {pod} failed: {error}"),
                _ => {}
            }
            eprint!("\r\x1b[2K{} {status}", common::bar(gone, total, 30));
            let _ = std::io::stderr().flush();
        }
        eprintln!();
    });
    let result = drain(&target.cluster, &node, &params, &tx).await;
    drop(tx);
    let _ = render.await;
    match result {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            if let Error::DrainTimedOut { report, .. }
            | Error::DrainCancelled { report, .. }
            | Error::Refused { report, .. } = &e
            {
                print!("{report}");
            }
            ExitCode::from(1)
        }
    }
}
