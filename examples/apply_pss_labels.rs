//! Sets a namespace's Pod Security labels the safe way: first a server-side
//! dry run, whose warnings list the running pods the new `enforce` level
//! would refuse, then — unless `--dry-run=server` — the change itself.
//!
//! ```text
//! cargo run --example apply_pss_labels -- shop --enforce baseline --warn restricted
//! cargo run --example apply_pss_labels -- shop --all restricted --version v1.30 --dry-run=server
//! ```

mod common;

use std::process::ExitCode;

use clap::Parser;
use k8sops::{
    audit::{
        pod_security::apply_pss_labels,
        pss::{Level, NamespaceLabels, PolicyVersion},
    },
    DryRun,
};

/// kubectl label ns NAMESPACE pod-security.kubernetes.io/enforce=LEVEL ..., dry run first
#[derive(Parser)]
#[command(name = "apply_pss_labels")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    #[command(flatten)]
    dry_run: common::DryRunArg,

    /// The namespace
    namespace: String,

    /// enforce, audit and warn at this level (privileged, baseline, restricted)
    #[arg(long, value_name = "LEVEL")]
    all: Option<Level>,

    /// pod-security.kubernetes.io/enforce
    #[arg(long, value_name = "LEVEL")]
    enforce: Option<Level>,

    /// pod-security.kubernetes.io/audit
    #[arg(long, value_name = "LEVEL")]
    audit: Option<Level>,

    /// pod-security.kubernetes.io/warn
    #[arg(long, value_name = "LEVEL")]
    warn: Option<Level>,

    /// The -version label of every level set: latest or v1.N
    #[arg(long, value_name = "VERSION")]
    version: Option<PolicyVersion>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let pick = |one: Option<Level>| one.or(cli.all);
    let (enforce, audit, warn) = (pick(cli.enforce), pick(cli.audit), pick(cli.warn));
    if enforce.is_none() && audit.is_none() && warn.is_none() {
        eprintln!("error: nothing to set: give --all, --enforce, --audit or --warn");
        return ExitCode::from(2);
    }
    if cli.dry_run.dry_run == DryRun::Client {
        eprintln!("error: --dry-run=client cannot show the API server's warnings: use --dry-run=server");
        return ExitCode::from(2);
    }
    let version = |l: Option<Level>| l.and(cli.version);
    let labels = NamespaceLabels {
        enforce,
        enforce_version: version(enforce),
        audit,
        audit_version: version(audit),
        warn,
        warn_version: version(warn),
    };
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    // The dry run first: its warnings are the pods the new level would refuse.
    let preview = match apply_pss_labels(&target.cluster, &cli.namespace, &labels, DryRun::Server).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    print!("{preview}");
    if cli.dry_run.dry_run == DryRun::Server {
        return ExitCode::SUCCESS;
    }
    target.announce(format!("Labeling namespace {}", cli.namespace));
    common::print_or_fail(apply_pss_labels(&target.cluster, &cli.namespace, &labels, DryRun::None).await)
}
