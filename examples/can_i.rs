//! `kubectl auth can-i`, answered offline from the cluster's RBAC objects
//! (one fetch, then the API server's RBAC rules evaluated locally), or by
//! the server itself with `--server`. Prints what kubectl prints, on the
//! same streams, with kubectl's exit codes (0 yes, 1 no or a usage error).
//!
//! ```text
//! cargo run --example can_i -- create pods --as system:serviceaccount:ci:deployer -n prod
//! cargo run --example can_i -- get pods --subresource log -A --as alice --as-group devs
//! cargo run --example can_i -- --list --as alice -n dev
//! cargo run --example can_i -- get /healthz --server
//! ```

mod common;

use std::process::ExitCode;

use clap::Parser;
use k8sops::audit::{
    can_i::{discover, run, run_offline, CanIArgs, Discovered},
    inventory::fetch_rbac,
    rbac::UserInfo,
};

/// kubectl auth can-i VERB RESOURCE[/NAME] | VERB /URL | --list
#[derive(Parser)]
#[command(name = "can_i")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// The verb (get, list, create, ...)
    verb: Option<String>,

    /// TYPE[.GROUP][/NAME], or a non-resource URL starting with /
    resource: Option<String>,

    /// A subresource such as log or scale
    #[arg(long, value_name = "SUBRESOURCE")]
    subresource: Option<String>,

    /// The namespace (default: the kubeconfig context's, else default)
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    namespace: Option<String>,

    /// Ask about all namespaces
    #[arg(short = 'A', long)]
    all_namespaces: bool,

    /// List everything the subject may do in the namespace
    #[arg(long)]
    list: bool,

    /// With --list: no header line
    #[arg(long)]
    no_headers: bool,

    /// Print nothing; only the exit code answers
    #[arg(short = 'q', long)]
    quiet: bool,

    /// The user to ask about (as kubectl --as; a service account is system:serviceaccount:NS:NAME)
    #[arg(long = "as", value_name = "USER")]
    as_user: Option<String>,

    /// A group of that user (as kubectl --as-group; repeat for several)
    #[arg(long = "as-group", value_name = "GROUP", requires = "as_user")]
    as_group: Vec<String>,

    /// Ask the API server (SelfSubjectAccessReview / SubjectAccessReview) instead of answering offline
    #[arg(long)]
    server: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = CanIArgs {
        verb: cli.verb,
        resource_arg: cli.resource,
        subresource: cli.subresource,
        namespace: cli.namespace,
        all_namespaces: cli.all_namespaces,
        list: cli.list,
        no_headers: cli.no_headers,
        quiet: cli.quiet,
    };
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let cluster = &target.cluster;
    let user = cli.as_user.as_deref().map(|u| UserInfo::impersonated(u, &cli.as_group));
    let output = if cli.server {
        run(cluster, user.as_ref(), &args).await
    } else {
        // Offline: who am I without --as? Only the server knows; ask it.
        let Some(user) = user else {
            eprintln!("error: answering offline needs --as USER (or use --server to ask as yourself)");
            return ExitCode::from(2);
        };
        async {
            let inventory = fetch_rbac(cluster).await?;
            for u in &inventory.unreadable {
                eprintln!("warning: could not read {u}; the answer may be incomplete");
            }
            let discovered = if args.needs_discovery() { discover(cluster).await? } else { Discovered::new() };
            Ok::<_, k8sops::audit::Error>(run_offline(
                &inventory.snapshot,
                &user,
                &args,
                cluster.default_namespace(),
                &discovered,
            ))
        }
        .await
    };
    match output {
        Ok(out) => {
            eprint!("{}", out.stderr);
            print!("{}", out.stdout);
            ExitCode::from(out.exit_code.clamp(0, 255) as u8)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
