//! `kubectl get nodes -o wide` plus every condition that needs attention,
//! or `kubectl describe node NAME`.
//!
//! ```text
//! cargo run --example nodes_status
//! cargo run --example nodes_status -- --selector eks.amazonaws.com/nodegroup=general
//! cargo run --example nodes_status -- describe ip-10-0-0-5.ec2.internal
//! ```

mod common;

use std::process::ExitCode;

use k8sops::nodes::{describe_node, list_nodes, NodeListParams};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let target = match common::connect().await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let pos = common::positional(&args, &["--selector", "-l"]);
    if pos.first().map(String::as_str) == Some("describe") {
        let Some(name) = pos.get(1) else {
            eprintln!("usage: nodes_status describe NODE");
            return ExitCode::from(2);
        };
        return common::print_or_fail(describe_node(&target.cluster, name).await);
    }
    let mut params = NodeListParams::default();
    if let Some(sel) = common::flag_value(&args, "--selector").or_else(|| common::flag_value(&args, "-l")) {
        match sel.parse() {
            Ok(s) => params = params.labels(s),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    match list_nodes(&target.cluster, &params).await {
        Ok(nodes) => {
            print!("{nodes}");
            let problems = nodes.problems_table();
            if !problems.is_empty() {
                println!("\nConditions needing attention:");
                print!("{problems}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
