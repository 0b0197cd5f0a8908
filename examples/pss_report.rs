//! Pod Security Standards across the cluster: each namespace's
//! `pod-security.kubernetes.io/*` labels, its pods and workload templates
//! evaluated against what it enforces, and what would break if it enforced
//! `--level` (restricted by default).
//!
//! ```text
//! cargo run --example pss_report
//! cargo run --example pss_report -- -n shop --level baseline
//! cargo run --example pss_report -- --json
//! ```

mod common;

use std::process::ExitCode;

use clap::Parser;
use k8sops::audit::{
    pod_security::{pss_report, PssParams},
    pss::{Level, PolicyVersion},
};

/// Pod Security labels per namespace, and the pods and templates each level would refuse
#[derive(Parser)]
#[command(name = "pss_report")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// Only this namespace (default: all)
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    namespace: Option<String>,

    /// The level of the "what would break" question: privileged, baseline or restricted
    #[arg(long, value_name = "LEVEL", default_value = "restricted")]
    level: Level,

    /// Its policy version: latest or v1.N
    #[arg(long = "level-version", value_name = "VERSION", default_value = "latest")]
    level_version: PolicyVersion,

    /// Print JSON instead of tables
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let params =
        PssParams { namespace: cli.namespace, target: cli.level, target_version: cli.level_version, workloads: true };
    let report = pss_report(&target.cluster, &params).await;
    if cli.json {
        return common::print_or_fail(
            report.map(|r| format!("{}\n", serde_json::to_string_pretty(&r).unwrap_or_default())),
        );
    }
    common::print_or_fail(report)
}
