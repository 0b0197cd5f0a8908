//! Restores a backup written by `export_resources` (a directory or a
//! `.tar.gz`): every file checked against the manifest's SHA-256, objects
//! created in dependency order (CRDs, namespaces, storage, claims,
//! ServiceAccounts, Secrets, ConfigMaps, RBAC, workloads, the rest),
//! namespaces mapped, existing objects skipped or updated, a line per
//! object at the end.
//!
//! ```text
//! cargo run --example restore_resources -- --from ./backup --dry-run=server
//! cargo run --example restore_resources -- --from ./backup
//! cargo run --example restore_resources -- --archive cluster.tar.gz --include-namespaces shop --namespace-mapping shop:shop-restored
//! cargo run --example restore_resources -- --from ./backup --existing update --include-resources configmaps
//! cargo run --example restore_resources -- --demo --from /tmp/demo-backup --namespace-mapping shop:shop-copy
//! ```
//! Ctrl-C stops sending; what was restored stays, and the report marks the
//! rest "not attempted" (run the same command again to finish: what exists
//! is skipped).
//!
//! Exit code: 0 restored (or, in a dry run, would be), 1 some objects
//! failed or it was cancelled (the report says which), 2 usage or cluster
//! error, or not a usable backup — nothing was changed.

mod common;

use std::{collections::BTreeMap, path::PathBuf, process::ExitCode};

use clap::Parser;
use indicatif::ProgressBar;
use k8sops::{
    backup::{
        layout::Location,
        restore::{
            parse_namespace_mapping, read_manifest, restore_with_progress, ExistingPolicy, RestoreEvent,
            RestoreOutcome, RestoreParams, RestoreStatus,
        },
        store,
    },
    DryRun, LabelSelector, ProgressSink,
};

/// Restore a resource export: checksums checked, dependency order, namespace mapping, skip or update existing objects
#[derive(Parser)]
#[command(name = "restore_resources")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// The backup directory (as written by export_resources --output)
    #[arg(long, value_name = "DIR", required_unless_present = "archive", conflicts_with = "archive", value_parser = existing_dir)]
    from: Option<PathBuf>,

    /// The backup archive (as written by export_resources --archive)
    #[arg(long, value_name = "FILE.tar.gz", value_parser = existing_file)]
    archive: Option<PathBuf>,

    /// Only these namespaces of the backup (comma-separated; * matches any run of characters) [default: all]
    #[arg(long, value_name = "NS,...", value_delimiter = ',', value_parser = namespace_pattern)]
    include_namespaces: Vec<String>,

    /// Leave these namespaces of the backup out
    #[arg(long, value_name = "NS,...", value_delimiter = ',', value_parser = namespace_pattern)]
    exclude_namespaces: Vec<String>,

    /// Only these resource types: plural, kind or short name, optionally .group [default: all]
    #[arg(long, value_name = "TYPE,...", value_delimiter = ',', value_parser = resource_name)]
    include_resources: Vec<String>,

    /// Leave these resource types out
    #[arg(long, value_name = "TYPE,...", value_delimiter = ',', value_parser = resource_name)]
    exclude_resources: Vec<String>,

    /// Only objects matching this label selector
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    selector: Option<LabelSelector>,

    /// Restore cluster-scoped objects [default: only when no namespace is named]
    #[arg(long, value_name = "true|false")]
    include_cluster_resources: Option<bool>,

    /// Restore namespace OLD into NEW (comma-separated OLD:NEW pairs)
    #[arg(long, value_name = "OLD:NEW,...", value_parser = mapping)]
    namespace_mapping: Option<BTreeMap<String, String>>,

    /// What to do with objects that already exist: skip them, or update them to the backup's version
    #[arg(long, value_name = "skip|update", default_value = "skip", value_parser = existing_policy)]
    existing: ExistingPolicy,

    /// Objects restored at once
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
    concurrency: usize,

    #[command(flatten)]
    dry_run: common::DryRunArg,
}

fn existing_dir(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    if p.is_dir() {
        Ok(p)
    } else {
        Err(format!("{s} is not a directory"))
    }
}

fn existing_file(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!("{s} is not a file"))
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

fn mapping(s: &str) -> Result<BTreeMap<String, String>, String> {
    let m = parse_namespace_mapping(s)?;
    if m.is_empty() {
        return Err("expected OLD:NEW pairs, e.g. shop:shop-restored".into());
    }
    Ok(m)
}

fn existing_policy(s: &str) -> Result<ExistingPolicy, String> {
    s.parse().map_err(|e: k8sops::backup::restore::ParseExistingPolicyError| e.to_string())
}

/// Objects done out of those selected, the tier as the message, and a line
/// for each failure.
struct Progress {
    bar: ProgressBar,
}

impl ProgressSink<RestoreEvent> for Progress {
    fn emit(&self, event: RestoreEvent) {
        let bar = &self.bar;
        match event {
            RestoreEvent::Loaded { selected, .. } => bar.set_length(selected as u64),
            RestoreEvent::TierStarted { tier, objects } => bar.set_message(format!("{tier} ({objects})")),
            RestoreEvent::Restored { object, outcome } => {
                bar.inc(1);
                if let RestoreOutcome::Failed(e) = outcome {
                    common::note(bar, format!("  {object} failed: {e}"));
                }
            }
            RestoreEvent::WaitingForCrd { name } => bar.set_message(format!("waiting for {name} to be served")),
            _ => {}
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut params = RestoreParams::default()
        .include_namespaces(cli.include_namespaces.clone())
        .exclude_namespaces(cli.exclude_namespaces.clone())
        .include_resources(cli.include_resources.clone())
        .exclude_resources(cli.exclude_resources.clone())
        .existing(cli.existing)
        .dry_run(cli.dry_run.dry_run)
        .concurrency(cli.concurrency)
        .cancel(common::cancel_on_ctrl_c());
    params.selector = cli.selector.clone();
    params.include_cluster_resources = cli.include_cluster_resources;
    params.namespace_mapping = cli.namespace_mapping.clone().unwrap_or_default();
    let from = match (&cli.from, &cli.archive) {
        (_, Some(archive)) => Location::archive(archive),
        (Some(dir), None) => match store::local_dir(dir) {
            Ok(s) => Location::store(s, ""),
            Err(e) => {
                eprintln!("error: --from {}: {e}", dir.display());
                return ExitCode::from(2);
            }
        },
        (None, None) => unreachable!("clap requires --from or --archive"),
    };
    let shown = cli.from.as_ref().or(cli.archive.as_ref()).map(|p| p.display().to_string()).unwrap_or_default();
    // Refuse what is not a usable backup before connecting to anything.
    let manifest = match read_manifest(&from).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let what = format!(
        "{} object(s) exported from Kubernetes {} at {} ({shown})",
        manifest.total, manifest.cluster.version, manifest.created_at
    );
    match cli.dry_run.dry_run {
        DryRun::None => target.announce(format!("Restoring {what}")),
        mode => target.announce(format!("Dry run ({mode}), nothing is changed: restoring {what}")),
    }
    let progress = Progress { bar: common::progress_bar(0) };
    let result = restore_with_progress(&target.cluster, &from, &params, &progress).await;
    progress.bar.finish_and_clear();
    match result {
        Ok(report) => {
            print!("{report}");
            match report.status {
                RestoreStatus::Completed => ExitCode::SUCCESS,
                RestoreStatus::PartiallyFailed => {
                    eprintln!("error: {} object(s) could not be restored (see above)", report.counts().failed);
                    ExitCode::from(1)
                }
                _ => {
                    eprintln!("error: the restore was cancelled; run the same command again to finish it");
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
