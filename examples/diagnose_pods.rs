//! Why pods are not running: cluster health first, then each unhealthy pod
//! with its cause and the next step.
//!
//! ```text
//! cargo run --example diagnose_pods
//! cargo run --example diagnose_pods -- -n legacy
//! cargo run --example diagnose_pods -- --node ip-10-0-0-5.ec2.internal
//! ```

mod common;

use std::process::ExitCode;

use k8sops::diagnose::{cluster_health, diagnose_pods, DiagnoseParams};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let params = DiagnoseParams {
        namespace: common::flag_value(&args, "-n"),
        selector: common::flag_value(&args, "-l").and_then(|s| s.parse().ok()),
        node: common::flag_value(&args, "--node"),
        ..Default::default()
    };
    let target = match common::connect().await {
        Ok(t) => t,
        Err(code) => return code,
    };
    match cluster_health(&target.cluster).await {
        Ok(h) => println!("{h}"),
        Err(e) => eprintln!("health: {e}"),
    }
    match diagnose_pods(&target.cluster, &params).await {
        Ok(found) if found.pods.is_empty() && found.forbidden_namespaces.is_empty() => {
            println!("No pod problems found.");
            ExitCode::SUCCESS
        }
        Ok(found) => {
            print!("{found}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
