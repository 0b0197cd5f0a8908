//! `kubectl top nodes` / `kubectl top pods`, plus the metrics-server check
//! and ResourceQuota usage.
//!
//! ```text
//! cargo run --example top -- nodes [--sort-by cpu|memory]
//! cargo run --example top -- pods [-n NAMESPACE] [-l SELECTOR] [--containers] [--sort-by cpu|memory]
//! cargo run --example top -- quotas
//! ```

mod common;

use std::process::ExitCode;

use k8sops::metrics::{metrics_server_status, quotas, top_nodes, top_pods, SortBy, TopPodsParams};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pos = common::positional(&args, &["-n", "-l", "--sort-by"]);
    let sort = match common::flag_value(&args, "--sort-by").as_deref() {
        Some("cpu") => SortBy::Cpu,
        Some("memory") => SortBy::Memory,
        _ => SortBy::Name,
    };
    let target = match common::connect().await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let cluster = &target.cluster;
    let result = match pos.first().map(String::as_str).unwrap_or("nodes") {
        "nodes" => top_nodes(cluster, None, sort).await.map(|t| t.to_string()),
        "pods" => {
            let params = TopPodsParams {
                namespace: common::flag_value(&args, "-n"),
                selector: common::flag_value(&args, "-l").and_then(|s| s.parse().ok()),
                sort,
                containers: args.iter().any(|a| a == "--containers"),
            };
            top_pods(cluster, &params).await.map(|t| t.to_string())
        }
        "quotas" => quotas(cluster, None, 80).await.map(|q| q.to_string()),
        other => {
            eprintln!("unknown view {other}: use nodes, pods or quotas");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            if let Ok(status) = metrics_server_status(cluster).await {
                eprint!("{status}");
            }
            ExitCode::from(1)
        }
    }
}
