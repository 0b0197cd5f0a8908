//! `aws eks describe-cluster --name NAME > cluster-backup.json`, plus the
//! cluster's managed node groups and add-ons, saved as one JSON document
//! (`eks-cluster.json`) in a backup directory readable by its owner only,
//! beside a resource export.
//!
//! ```text
//! cargo run --example eks_config_backup --features aws -- --cluster prod --output backups/2026-11-30
//! cargo run --example eks_config_backup --features aws -- --cluster prod --stdout
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 ...   # e.g. against moto
//! ```
//! The AWS account, region and endpoint come from the environment (profile,
//! `AWS_REGION`, `AWS_ENDPOINT_URL`). Exit codes: 0 saved, 1 describe-cluster
//! failed, 2 bad arguments. Node groups or add-ons that cannot be described
//! are printed as notes and the rest is saved.

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use k8sops::{backup::eks, backup::store, nodes::aws::sdk_config};

/// Save an EKS cluster's configuration (cluster, node groups, add-ons) as JSON
#[derive(Parser)]
#[command(name = "eks_config_backup")]
struct Cli {
    /// The EKS cluster name
    #[arg(long)]
    cluster: String,
    /// Backup directory: the document is written to DIR/eks-cluster.json (directory 0700, file 0600)
    #[arg(long, required_unless_present = "stdout")]
    output: Option<PathBuf>,
    /// Print the document instead of saving it
    #[arg(long, conflicts_with = "output")]
    stdout: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let sdk = sdk_config(None).await;
    eprintln!(
        "EKS cluster {} in {} ({})",
        cli.cluster,
        sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "no region set".into()),
        sdk.endpoint_url().unwrap_or("the AWS endpoint")
    );
    let client = k8sops::nodes::aws::aws_sdk_eks::Client::new(&sdk);
    let config = match eks::describe(&client, &cli.cluster).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(1);
        }
    };
    for note in &config.notes {
        eprintln!("note: {note}");
    }
    if cli.stdout {
        println!("{}", serde_json::to_string_pretty(&config).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    let Some(dir) = cli.output else { return ExitCode::from(2) };
    let saved = async {
        let store = store::local_dir(&dir)?;
        eks::save(&store, "", &config).await
    }
    .await;
    match saved {
        Ok(key) => {
            println!(
                "Saved {} ({} node groups, {} add-ons)",
                dir.join(key).display(),
                config.nodegroups.len(),
                config.addons.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
    }
}
