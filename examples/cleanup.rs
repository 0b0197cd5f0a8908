//! Delete Succeeded and Failed pods (and finished Jobs past a TTL), like
//! `kubectl delete pods --field-selector=status.phase=Succeeded -A`.
//!
//! ```text
//! cargo run --example cleanup -- --dry-run
//! cargo run --example cleanup -- -n batch --older-than-hours 24 --jobs-older-than-hours 72
//! ```

mod common;

use std::{process::ExitCode, time::Duration};

use k8sops::metrics::{cleanup, CleanupParams};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let hours = |f: &str| {
        common::flag_value(&args, f).and_then(|v| v.parse::<u64>().ok()).map(|h| Duration::from_secs(h * 3600))
    };
    let params = CleanupParams {
        namespace: common::flag_value(&args, "-n"),
        selector: common::flag_value(&args, "-l").and_then(|s| s.parse().ok()),
        older_than: hours("--older-than-hours"),
        finished_jobs_older_than: hours("--jobs-older-than-hours"),
        dry_run: args.iter().any(|a| a == "--dry-run"),
        ..Default::default()
    };
    let target = match common::connect().await {
        Ok(t) => t,
        Err(code) => return code,
    };
    common::print_or_fail(cleanup(&target.cluster, &params).await)
}
