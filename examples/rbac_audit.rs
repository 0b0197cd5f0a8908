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
//! cargo run --example rbac_audit -- --access alice -n dev   # what alice may do to every resource (rakkess)
//! ```

mod common;

use std::process::ExitCode;

use clap::Parser;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8sops::{
    audit::{
        can_i::discover,
        inventory::{fetch_rbac, InventoryReport},
        rbac::UserInfo,
        risk::{findings_table, risk_findings},
    },
    Table,
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

    /// Print the access matrix of this user (as kubectl --as) across every served resource instead
    #[arg(long, value_name = "USER", conflicts_with = "full")]
    access: Option<String>,

    /// With --access: a group of that user (repeat for several)
    #[arg(long = "as-group", value_name = "GROUP", requires = "access")]
    as_group: Vec<String>,

    /// With --access: the namespace (default: cluster-scoped and all namespaces' ClusterRoleBindings only)
    #[arg(short = 'n', long, value_name = "NAMESPACE", requires = "access")]
    namespace: Option<String>,
}

const VERBS: [&str; 7] = ["get", "list", "watch", "create", "update", "patch", "delete"];

/// rakkess: every served resource (preferred versions, no subresources) by every common verb.
async fn access(
    cluster: &k8sops::Cluster,
    user: &str,
    groups: &[String],
    namespace: Option<&str>,
) -> Result<String, k8sops::audit::Error> {
    let inventory = fetch_rbac(cluster).await?;
    let discovered = discover(cluster).await?;
    let mut resources: Vec<(String, String)> = Vec::new();
    for g in &discovered.groups {
        let Some(v) = g.versions.iter().find(|v| v.version == g.preferred_version).or(g.versions.first()) else {
            continue;
        };
        for r in v.resources.iter().filter(|r| !r.name.contains('/')) {
            if namespace.is_none() || r.namespaced {
                resources.push((g.name.clone(), r.name.clone()));
            }
        }
    }
    resources.sort();
    resources.dedup();
    let refs: Vec<(&str, &str)> = resources.iter().map(|(g, r)| (g.as_str(), r.as_str())).collect();
    let user = UserInfo::impersonated(user, groups);
    let matrix = inventory.snapshot.access_matrix(&user, namespace.unwrap_or(""), &refs, &VERBS);
    let mut t = Table::new(std::iter::once("name").chain(VERBS));
    for row in &matrix.rows {
        let name =
            if row.api_group.is_empty() { row.resource.clone() } else { format!("{}.{}", row.resource, row.api_group) };
        t.row(std::iter::once(name).chain(row.allowed.iter().map(|a| {
            if *a {
                "yes".to_string()
            } else {
                "no".to_string()
            }
        })));
    }
    Ok(t.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let cluster = &target.cluster;
    if let Some(user) = &cli.access {
        return common::print_or_fail(access(cluster, user, &cli.as_group, cli.namespace.as_deref()).await);
    }
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
