//! RBAC review: `kubectl get roles,rolebindings,clusterroles,clusterrolebindings -A`
//! with the subjects each binding names, bindings to roles or service
//! accounts that do not exist, and the risky grants (cluster-admin,
//! wildcards, escalate/bind/impersonate, secrets, exec, nodes/proxy, tokens,
//! anonymous access), most severe first.
//!
//! ```text
//! cargo run --example rbac_audit
//! cargo run --example rbac_audit -- --json
//! cargo run --example rbac_audit -- --full           # plus Pod Security, PSP and a score per namespace
//! cargo run --example rbac_audit -- --full --sarif   # SARIF 2.1.0 for code-scanning tools
//! ```

mod common;

use std::process::ExitCode;

use clap::Parser;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8sops::audit::{
    inventory::{fetch_rbac, InventoryReport},
    risk::{findings_table, risk_findings},
};

/// RBAC inventory and risk findings
#[derive(Parser)]
#[command(name = "rbac_audit")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// Print JSON instead of tables
    #[arg(long, conflicts_with = "sarif")]
    json: bool,

    /// The whole audit: also Pod Security per namespace, PodSecurityPolicy, and a score per namespace
    #[arg(long)]
    full: bool,

    /// With --full: print SARIF 2.1.0
    #[arg(long, requires = "full")]
    sarif: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let cluster = &target.cluster;
    if cli.full {
        let report = k8sops::audit::report::audit(cluster, &Default::default()).await;
        return common::print_or_fail(report.map(|r| {
            if cli.sarif {
                format!("{}\n", serde_json::to_string_pretty(&r.sarif()).unwrap_or_default())
            } else if cli.json {
                format!("{}\n", serde_json::to_string_pretty(&r).unwrap_or_default())
            } else {
                r.to_string()
            }
        }));
    }
    let result = async {
        let inventory = fetch_rbac(cluster).await?;
        let pods: Vec<Pod> = k8sops::paging::list_all(cluster, &cluster.api_all(), Default::default()).await?;
        let sas: Vec<ServiceAccount> =
            k8sops::paging::list_all(cluster, &cluster.api_all(), Default::default()).await?;
        Ok::<_, k8sops::Error>((InventoryReport::of(&inventory), risk_findings(&inventory, &pods, &sas)))
    }
    .await;
    common::print_or_fail(result.map(|(report, findings)| {
        if cli.json {
            let json = serde_json::json!({"inventory": report, "findings": findings});
            format!("{}\n", serde_json::to_string_pretty(&json).unwrap_or_default())
        } else {
            format!("{report}\nRisk findings ({}):\n{}", findings.len(), findings_table(&findings))
        }
    }))
}
