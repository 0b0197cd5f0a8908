//! Every version in the cluster: `kubectl version`, the version columns of
//! `kubectl get nodes -o wide` (kubelet, kube-proxy, OS image, kernel,
//! container runtime), the control-plane components `kubeadm upgrade plan`
//! lists (or that the control plane is managed and not visible), the
//! kube-proxy and CoreDNS add-ons, and the version skew policy's verdict.
//!
//! ```text
//! cargo run --example versions
//! cargo run --example versions -- -l eks.amazonaws.com/nodegroup=general
//! cargo run --example versions -- --kubectl-version v1.31.2 --json
//! ```
//!
//! Without `--kubectl-version`, the local `kubectl version --client` is
//! asked (when kubectl is installed) so its skew is checked too.

mod common;

use std::process::ExitCode;

use clap::Parser;
use k8sops::{
    upgrade::{
        skew::skew_report,
        versions::{version_report, VersionParams},
    },
    KubeVersion, LabelSelector,
};

/// Server, client, node and control-plane versions, and version skew (kubectl version, kubeadm upgrade plan)
#[derive(Parser)]
#[command(name = "versions")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// Only nodes matching this label selector
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    selector: Option<LabelSelector>,

    /// The kubectl version to check against the skew policy (default: ask the local kubectl)
    #[arg(long, value_name = "VERSION")]
    kubectl_version: Option<KubeVersion>,

    /// Where the control-plane pods and add-ons run
    #[arg(long, value_name = "NAMESPACE", default_value = "kube-system")]
    system_namespace: String,

    /// Print JSON instead of tables
    #[arg(long)]
    json: bool,
}

/// `kubectl version --client`'s gitVersion, when kubectl runs.
fn local_kubectl() -> Option<KubeVersion> {
    let out = std::process::Command::new("kubectl").args(["version", "--client", "-o", "json"]).output().ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["clientVersion"]["gitVersion"].as_str()?.parse().ok()
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut params = VersionParams::default().system_namespace(cli.system_namespace);
    if let Some(sel) = cli.selector {
        params = params.nodes(sel);
    }
    if let Some(k) = cli.kubectl_version.or_else(local_kubectl) {
        params = params.kubectl(k);
    }
    let report = match version_report(&target.cluster, &params).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let skew = skew_report(&report, None);
    if cli.json {
        let mut json = serde_json::to_value(&report).unwrap_or_default();
        json["skew"] = serde_json::to_value(&skew).unwrap_or_default();
        println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
    } else {
        print!("{report}");
        println!();
        print!("{skew}");
    }
    ExitCode::SUCCESS
}
