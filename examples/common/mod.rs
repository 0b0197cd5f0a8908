//! Shared start-up for the example binaries: use the current kubeconfig when
//! its cluster answers, otherwise start the embedded demo cluster and say so.

// Each example uses a subset of these helpers.
#![allow(dead_code)]

use std::{fmt::Display, process::ExitCode, time::Duration};

use k8sops::{Cluster, RetryPolicy};
use k8sops_testkit::{DemoCluster, KubeletOptions, TestServer};

/// A cluster to work on, and the demo server that backs it (if any); keep
/// the server alive as long as the cluster is used.
pub(crate) struct Target {
    pub(crate) cluster: Cluster,
    /// The demo server, when no cluster was reachable.
    pub(crate) demo: Option<TestServer>,
}

/// Connects to the current kubeconfig's cluster, or starts the demo cluster.
pub(crate) async fn connect_or_demo() -> Result<Target, Box<dyn std::error::Error>> {
    if std::env::var_os("K8SOPS_DEMO").is_none() {
        match try_current().await {
            Ok(cluster) => {
                eprintln!("Using the cluster at {} (current kubeconfig context).", cluster.url());
                return Ok(Target { cluster, demo: None });
            }
            Err(e) => eprintln!("No reachable cluster from the current kubeconfig ({e})."),
        }
    }
    eprintln!("Starting the embedded demo cluster (k8sops-testkit, 7 nodes, ~40 pods).");
    // The kubelet stand-in finishes evicted pods and recreates controller pods, so drains complete.
    let server = TestServer::builder().kubelet(KubeletOptions::default()).start().await?;
    server.load(&DemoCluster::small())?;
    eprintln!("Demo cluster at {}; kubeconfig: {}", server.url(), server.kubeconfig_path().display());
    Ok(Target { cluster: server.cluster(), demo: Some(server) })
}

/// [`connect_or_demo`], or the error printed and exit code 2 to return from `main`.
pub(crate) async fn connect() -> Result<Target, ExitCode> {
    connect_or_demo().await.map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

/// Prints the report and succeeds, or prints the error and exits with 1.
pub(crate) fn print_or_fail<T: Display, E: Display>(result: Result<T, E>) -> ExitCode {
    match result {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

async fn try_current() -> Result<Cluster, k8sops::Error> {
    let cluster = Cluster::try_default().await?;
    let probe = cluster.to_builder().retry(RetryPolicy::none()).build();
    match tokio::time::timeout(Duration::from_secs(5), probe.server_version()).await {
        Ok(Ok(_)) => Ok(cluster),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(k8sops::Error::Timeout {
            during: format!("asking {} for its version", cluster.url()),
            after: Duration::from_secs(5),
        }),
    }
}

/// The value after `--name`, or `--name=value`.
pub(crate) fn flag_value(args: &[String], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if a == name {
            args.get(i + 1).cloned()
        } else {
            a.strip_prefix(&prefix).map(str::to_string)
        }
    })
}

/// Arguments that are not flags (and not values of `flags_with_values`).
pub(crate) fn positional(args: &[String], flags_with_values: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        if flags_with_values.contains(&a.as_str()) {
            skip = true;
        } else if !a.starts_with("--") {
            out.push(a.clone());
        }
    }
    out
}

/// A one-line text progress bar: `[#######-------------]   7/20`.
pub(crate) fn bar(done: usize, total: usize, width: usize) -> String {
    let filled = (done * width).checked_div(total).unwrap_or(width).min(width);
    format!("[{}{}] {done:>3}/{total}", "#".repeat(filled), "-".repeat(width - filled))
}
