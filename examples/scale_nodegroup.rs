//! `aws eks update-nodegroup-config --scaling-config ...` and
//! `aws autoscaling set-desired-capacity`, validated before anything is
//! sent, then the update is polled until it finishes.
//!
//! ```text
//! cargo run --example scale_nodegroup --features aws -- eks CLUSTER NODEGROUP --min 1 --max 10 --desired 3
//! cargo run --example scale_nodegroup --features aws -- asg ASG_NAME --desired 5 [--honor-cooldown]
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 ...   # e.g. against moto
//! ```

mod common;

use std::{process::ExitCode, sync::Arc, time::Duration};

use k8sops::{
    backend::{DynNodeGroups, ScalingUpdate, UpdateStatus},
    nodes::aws::{sdk_config, AutoScalingNodeGroups, EksNodeGroups},
};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pos = common::positional(&args, &["--min", "--max", "--desired"]);
    let num = |f: &str| common::flag_value(&args, f).and_then(|v| v.parse::<i32>().ok());
    let update = ScalingUpdate {
        min: num("--min"),
        max: num("--max"),
        desired: num("--desired"),
        honor_cooldown: args.iter().any(|a| a == "--honor-cooldown"),
    };
    let sdk = sdk_config(std::env::var("AWS_ENDPOINT_URL").ok().as_deref()).await;
    let (backend, group): (DynNodeGroups, String) = match pos.iter().map(String::as_str).collect::<Vec<_>>().as_slice()
    {
        ["eks", cluster, group] => (Arc::new(EksNodeGroups::new(&sdk, *cluster)), group.to_string()),
        ["asg", name] => (Arc::new(AutoScalingNodeGroups::new(&sdk)), name.to_string()),
        _ => {
            eprintln!("usage: scale_nodegroup eks CLUSTER NODEGROUP [--min N] [--max N] [--desired N] | asg NAME --desired N [--honor-cooldown]");
            return ExitCode::from(2);
        }
    };
    let before = match backend.describe(&group).await {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let after = update.apply_to(before.scaling);
    println!(
        "{group}: min/max/desired {}/{}/{} -> {}/{}/{}",
        before.scaling.min, before.scaling.max, before.scaling.desired, after.min, after.max, after.desired
    );
    let started = match backend.update_scaling(&group, &update).await {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let report = |p: k8sops::nodes::node_group::UpdateProgress| {
        eprintln!("update {}: {:?} ({}s)", p.update.id, p.update.status, p.elapsed.as_secs())
    };
    let status = match k8sops::nodes::node_group::wait_for_update(
        backend.as_ref(),
        &group,
        &started.id,
        Duration::from_secs(5),
        Duration::from_secs(1800),
        &report,
    )
    .await
    {
        Ok(u) => u.status,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    println!("update {}: {status:?}", started.id);
    if status == UpdateStatus::Successful {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
