//! `kubectl logs`: a container's log, the previous instance's, or followed.
//!
//! ```text
//! cargo run --example logs -- NAMESPACE POD [-c CONTAINER] [--previous] [--tail N] [--timestamps] [-f]
//! ```
//! On the demo cluster the pods have no log lines unless a test adds them;
//! this example writes a few to `legacy/debug-shell` so there is something to show.

mod common;

use std::process::ExitCode;

use futures::StreamExt;
use k8sops::diagnose::{follow_logs, logs, LogOptions};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pos = common::positional(&args, &["-c", "--tail"]);
    let (ns, pod) = match pos.as_slice() {
        [ns, pod, ..] => (ns.clone(), pod.clone()),
        _ => ("legacy".to_string(), "debug-shell".to_string()),
    };
    let options = LogOptions {
        container: common::flag_value(&args, "-c"),
        previous: args.iter().any(|a| a == "--previous"),
        tail_lines: common::flag_value(&args, "--tail").and_then(|v| v.parse().ok()),
        timestamps: args.iter().any(|a| a == "--timestamps"),
        ..Default::default()
    };
    let target = match common::connect().await {
        Ok(t) => t,
        Err(code) => return code,
    };
    if let Some(demo) = &target.demo {
        demo.append_log("legacy", "debug-shell", "shell", false, "starting shell\nwaiting for input");
    }
    if args.iter().any(|a| a == "-f") {
        let mut lines = match follow_logs(&target.cluster, &ns, &pod, &options).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        while let Some(line) = lines.next().await {
            match line {
                Ok(l) => println!("{l}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            }
        }
        return ExitCode::SUCCESS;
    }
    common::print_or_fail(logs(&target.cluster, &ns, &pod, &options).await)
}
