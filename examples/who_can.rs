//! The reverse of `kubectl auth can-i`: every subject allowed a request,
//! with the binding, role and rule that grant it (kubectl-who-can), from
//! one fetch of the cluster's RBAC objects.
//!
//! ```text
//! cargo run --example who_can -- get secrets -n prod
//! cargo run --example who_can -- create pods --subresource exec -A
//! cargo run --example who_can -- patch deployments.apps/web -n shop
//! ```

mod common;

use std::process::ExitCode;

use clap::Parser;
use k8sops::{
    audit::{
        can_i::{discover, resolve, CanIArgs, Discovered},
        inventory::fetch_rbac,
    },
    Table,
};

/// Who can VERB RESOURCE[/NAME] (or VERB /URL), and through which binding
#[derive(Parser)]
#[command(name = "who_can")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// The verb (get, list, create, ...)
    verb: String,

    /// TYPE[.GROUP][/NAME], or a non-resource URL starting with /
    resource: String,

    /// A subresource such as log or exec
    #[arg(long, value_name = "SUBRESOURCE")]
    subresource: Option<String>,

    /// The namespace (default: the kubeconfig context's, else default)
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    namespace: Option<String>,

    /// Only grants that hold in every namespace (ClusterRoleBindings)
    #[arg(short = 'A', long)]
    all_namespaces: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut args = CanIArgs::check(cli.verb, cli.resource);
    args.subresource = cli.subresource;
    args.namespace = cli.namespace;
    args.all_namespaces = cli.all_namespaces;
    if let Err(e) = args.validate() {
        eprint!("{}", e.stderr());
        return ExitCode::from(2);
    }
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let cluster = &target.cluster;
    let result = async {
        let inventory = fetch_rbac(cluster).await?;
        let discovered = if args.needs_discovery() { discover(cluster).await? } else { Discovered::new() };
        Ok::<_, k8sops::audit::Error>((inventory, discovered))
    }
    .await;
    let (inventory, discovered) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let request = match resolve(&args, cluster.default_namespace(), &discovered) {
        Ok(r) => match r.check() {
            Some(request) => request.clone(),
            None => return ExitCode::from(2),
        },
        Err(e) => {
            eprint!("{}", e.stderr());
            return ExitCode::from(2);
        }
    };
    eprint!("{}", request.stderr());
    for u in &inventory.unreadable {
        eprintln!("warning: could not read {u}; the list may be incomplete");
    }
    let grants = inventory.snapshot.who_can(&request.attributes);
    let mut t = Table::new(["subject", "kind", "namespace", "binding", "role"]);
    for g in &grants {
        let binding = match &g.binding_namespace {
            Some(ns) => format!("RoleBinding/{ns}/{}", g.binding_name),
            None => format!("ClusterRoleBinding/{}", g.binding_name),
        };
        t.row([
            g.subject.name.clone(),
            g.subject.kind.as_str().to_string(),
            g.subject.namespace.clone().unwrap_or_default(),
            binding,
            format!("{}/{}", g.role_kind.as_str(), g.role_name),
        ]);
    }
    print!("{t}");
    println!("{} grant(s); members of system:masters are allowed everything without RBAC", grants.len());
    ExitCode::SUCCESS
}
