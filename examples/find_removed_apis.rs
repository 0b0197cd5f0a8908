//! Removed and deprecated Kubernetes APIs, as kubent and pluto find them:
//! in live objects (last-applied annotations and managed fields), Helm 3
//! releases and the API server's `apiserver_requested_deprecated_apis`
//! metric, or in a directory of manifests.
//!
//! ```text
//! cargo run --example find_removed_apis                         # the cluster, at its own version
//! cargo run --example find_removed_apis -- --target-version 1.25
//! cargo run --example find_removed_apis -- --dir ./manifests --json
//! ```
//!
//! `--json` prints an array of findings, each
//! `{kind, namespace, name, apiVersion, source, removedIn, replacement}`:
//! `source` is `annotation`, `managedFields`, `helm`, `file` or `metrics`;
//! `removedIn` is like `v1.25` (later than the target for an API that is
//! only deprecated there); every value is a string, empty when there is none
//! (the namespace of a cluster-scoped object, the name for `metrics`, the
//! replacement of PodSecurityPolicy).

mod common;

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use k8sops::upgrade::{
    removed_apis::{
        find_removed_apis_with_progress, helm, scan_manifests, RemovedApiParams, RemovedApiReport, ScanEvent,
    },
    rules::MinorVersion,
};
use serde_json::{json, Value};

/// Finds removed and deprecated API versions for a target Kubernetes release
#[derive(Parser)]
#[command(name = "find_removed_apis")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// The release to check against, e.g. 1.25 or v1.29 (default: the server's version; with --dir, the newest release)
    #[arg(long = "target-version", value_name = "V", value_parser = parse_target)]
    target_version: Option<MinorVersion>,

    /// Check the manifest files in this directory (or this file) instead of a cluster
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,

    /// Print the findings as a JSON array
    #[arg(long)]
    json: bool,
}

fn parse_target(s: &str) -> Result<MinorVersion, String> {
    s.parse::<MinorVersion>()
        .map_err(|_| format!("{s:?} is not a Kubernetes version: expected MAJOR.MINOR, e.g. 1.25 or v1.29"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let cancel = common::cancel_on_ctrl_c();
    let mut params = RemovedApiParams::default().cancel(cancel);
    params.target = cli.target_version;

    let report = match &cli.dir {
        Some(dir) => {
            let (dir, params) = (dir.clone(), params.clone());
            match tokio::task::spawn_blocking(move || scan_manifests(&dir, &params)).await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
        None => {
            let target = match common::connect(&cli.cluster).await {
                Ok(t) => t,
                Err(code) => return code,
            };
            if let Some(demo) = &target.demo {
                match seed_demo(demo) {
                    Ok(n) => eprintln!("Demo cluster: added {n} more objects written with old API versions."),
                    Err(e) => eprintln!("warning: cannot add the demo's old objects: {e}"),
                }
            }
            target.announce("Looking for removed and deprecated APIs");
            let progress = |e: ScanEvent| {
                if let ScanEvent::Skipped(note) = e {
                    eprintln!("not checked: {note}");
                }
            };
            find_removed_apis_with_progress(&target.cluster, &params, &progress).await.map_err(|e| e.to_string())
        }
    };
    match report {
        Ok(report) if cli.json => {
            println!("{}", serde_json::to_string_pretty(&json_findings(&report)).unwrap_or_default());
            if report.cancelled {
                eprintln!("cancelled: the findings are incomplete");
            }
            ExitCode::SUCCESS
        }
        other => common::print_or_fail(other),
    }
}

/// The `--json` shape: exactly these keys, every value a string.
fn json_findings(report: &RemovedApiReport) -> Value {
    Value::Array(
        report
            .findings
            .iter()
            .map(|f| {
                json!({
                    "kind": f.kind,
                    "namespace": f.namespace,
                    "name": f.name,
                    "apiVersion": f.api_version,
                    "source": f.source.to_string(),
                    "removedIn": f.removed_in.map(|r| r.to_string()).unwrap_or_default(),
                    "replacement": f.replacement.clone().unwrap_or_default(),
                })
            })
            .collect(),
    )
}

/// Adds to the demo cluster (whose own old objects carry last-applied
/// annotations) what only managed fields and Helm show: a CronJob made with
/// `kubectl create` from a `batch/v1beta1` manifest, and a Helm release
/// whose PodDisruptionBudget is still `policy/v1beta1`.
fn seed_demo(server: &k8sops_testkit::TestServer) -> Result<usize, k8sops_testkit::Error> {
    let cronjob = json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "cleanup", "namespace": "default",
            "managedFields": [{"manager": "kubectl-create", "operation": "Update", "apiVersion": "batch/v1beta1",
                "time": "2021-03-02T10:05:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]},
        "spec": {"schedule": "0 2 * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
            "containers": [{"name": "cleanup", "image": "busybox"}]}}}}}});
    let release = helm::release_secret(&json!({
        "name": "shop", "namespace": "default", "version": 3, "info": {"status": "deployed"},
        "chart": {"metadata": {"name": "shop", "version": "2.1.0"}},
        "manifest": "---\n# Source: shop/templates/pdb.yaml\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: shop\nspec:\n  minAvailable: 1\n"}));
    server.insert_all([cronjob, release])
}
