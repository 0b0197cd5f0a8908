//! `kubectl get all,configmap,secret,pv,pvc -A -o yaml`, done right: every
//! resource type the cluster serves (custom resources too), cleaned of
//! server-managed fields, one YAML file per object in a directory readable
//! by its owner only, or one `.tar.gz` (mode 0600), with a manifest of
//! counts and SHA-256 checksums written last. Secrets only with
//! `--include-secrets`; what the cluster recreates by itself (pods of
//! ReplicaSets, events, ...) only with `--include-managed`.
//!
//! ```text
//! cargo run --example export_resources -- --output ./backup
//! cargo run --example export_resources -- --archive cluster.tar.gz --include-secrets
//! cargo run --example export_resources -- --output ./shop --include-namespaces shop,team-* -l app=web
//! cargo run --example export_resources -- --output ./rbac --include-resources roles,rolebindings,clusterroles --include-cluster-resources true
//! cargo run --example export_resources -- --demo --output /tmp/demo-backup
//! ```
//! Restore it with `restore_resources --from ./backup`. Ctrl-C stops the
//! export: no manifest is written, so the half-written backup is never
//! taken for a complete one (an archive is not created at all).
//!
//! Exit code: 0 exported, 1 partial (some types could not be listed),
//! cancelled or failed, 2 usage or cluster error.

mod common;

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use indicatif::ProgressBar;
use k8sops::{
    backup::{
        export::{export_with_progress, ExportEvent, ExportParams, ExportStatus},
        layout::Location,
        store,
    },
    LabelSelector, ProgressSink,
};

/// Export the cluster's resources as clean YAML, one file per object, with a checksummed manifest
#[derive(Parser)]
#[command(name = "export_resources")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// Write a tree of YAML files into this directory (created, readable by its owner only)
    #[arg(long, value_name = "DIR", required_unless_present = "archive", conflicts_with = "archive")]
    output: Option<PathBuf>,

    /// Write one gzip-compressed tar archive instead (mode 0600; its directory must exist)
    #[arg(long, value_name = "FILE.tar.gz", value_parser = archive_path)]
    archive: Option<PathBuf>,

    /// Only these namespaces (comma-separated; * matches any run of characters) [default: all]
    #[arg(long, value_name = "NS,...", value_delimiter = ',', value_parser = namespace_pattern)]
    include_namespaces: Vec<String>,

    /// Leave these namespaces out
    #[arg(long, value_name = "NS,...", value_delimiter = ',', value_parser = namespace_pattern)]
    exclude_namespaces: Vec<String>,

    /// Only these resource types: plural, kind or short name, optionally .group (deployments.apps) [default: all]
    #[arg(long, value_name = "TYPE,...", value_delimiter = ',', value_parser = resource_name)]
    include_resources: Vec<String>,

    /// Leave these resource types out
    #[arg(long, value_name = "TYPE,...", value_delimiter = ',', value_parser = resource_name)]
    exclude_resources: Vec<String>,

    /// Only objects matching this label selector
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    selector: Option<LabelSelector>,

    /// Export cluster-scoped objects [default: only when no namespace is named]
    #[arg(long, value_name = "true|false")]
    include_cluster_resources: Option<bool>,

    /// Export Secrets too (the backup then holds credentials)
    #[arg(long)]
    include_secrets: bool,

    /// Keep each object's status
    #[arg(long)]
    with_status: bool,

    /// Also export what the cluster recreates: controller-owned objects, events, nodes, service endpoints
    #[arg(long)]
    include_managed: bool,

    /// Resource types listed at once
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
    concurrency: usize,
}

fn archive_path(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    if path.file_name().is_none() || s.ends_with('/') {
        return Err(format!("{s:?} is not a file name"));
    }
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) if !dir.is_dir() => Err(format!("directory {} does not exist", dir.display())),
        _ => Ok(path),
    }
}

fn namespace_pattern(s: &str) -> Result<String, String> {
    let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'*');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not a namespace name or pattern (lower-case letters, digits, '-', '*')"))
    }
}

fn resource_name(s: &str) -> Result<String, String> {
    if s.is_empty() || s.contains(['/', ' ']) {
        Err(format!("{s:?} is not a resource type (e.g. deployments, deployments.apps, cm)"))
    } else {
        Ok(s.to_string())
    }
}

/// Resource types done out of those discovered, the type being listed as
/// the message, and a line for each type that fails.
struct Progress {
    bar: ProgressBar,
}

impl ProgressSink<ExportEvent> for Progress {
    fn emit(&self, event: ExportEvent) {
        let bar = &self.bar;
        match event {
            ExportEvent::Discovered { resources } => bar.set_length(resources as u64),
            ExportEvent::Listing { resource } => bar.set_message(resource),
            ExportEvent::Exported { resource, objects, total } => {
                bar.set_message(format!("{resource}: {objects} ({total} in all)"))
            }
            ExportEvent::Finished { .. } => bar.inc(1),
            ExportEvent::Failed { resource, error } => {
                bar.inc(1);
                common::note(bar, format!("  {resource} could not be listed: {error}"));
            }
            ExportEvent::ManifestWritten { location, objects } => {
                common::note(bar, format!("manifest written: {objects} object(s) in {location}"))
            }
            _ => {}
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut params = ExportParams::default()
        .include_namespaces(cli.include_namespaces.clone())
        .exclude_namespaces(cli.exclude_namespaces.clone())
        .include_resources(cli.include_resources.clone())
        .exclude_resources(cli.exclude_resources.clone())
        .include_secrets(cli.include_secrets)
        .with_status(cli.with_status)
        .include_managed(cli.include_managed)
        .concurrency(cli.concurrency)
        .cancel(common::cancel_on_ctrl_c());
    params.selector = cli.selector.clone();
    params.include_cluster_resources = cli.include_cluster_resources;
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let to = match (&cli.output, &cli.archive) {
        (_, Some(archive)) => Location::archive(archive),
        (Some(dir), None) => match store::local_dir(dir) {
            Ok(s) => Location::store(s, ""),
            Err(e) => {
                eprintln!("error: --output {}: {e}", dir.display());
                return ExitCode::from(2);
            }
        },
        (None, None) => unreachable!("clap requires --output or --archive"),
    };
    let shown = cli.output.as_ref().or(cli.archive.as_ref()).map(|p| p.display().to_string()).unwrap_or_default();
    eprintln!(
        "Exporting the resources of {} to {shown}{}",
        target.name,
        if cli.include_secrets { " (Secrets included)" } else { "" }
    );
    let progress = Progress { bar: common::progress_bar(0) };
    let result = export_with_progress(&target.cluster, &to, &params, &progress).await;
    progress.bar.finish_and_clear();
    match result {
        Ok(report) => {
            print!("{report}");
            match report.status {
                ExportStatus::Completed => {
                    eprintln!(
                        "Restore it with: cargo run --example restore_resources -- {} {shown}",
                        if cli.archive.is_some() { "--archive" } else { "--from" }
                    );
                    ExitCode::SUCCESS
                }
                ExportStatus::Partial => {
                    eprintln!("error: the backup is incomplete: some resource types could not be listed (see above)");
                    ExitCode::from(1)
                }
                _ => {
                    eprintln!(
                        "error: the export was cancelled; no manifest was written, so this is not a usable backup"
                    );
                    ExitCode::from(1)
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
