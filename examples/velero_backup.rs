//! `velero backup create / get`, `velero restore create` and `velero
//! schedule create`, through the API server: the objects are written as the
//! velero CLI writes them, and `--wait` follows the phase and item counts
//! the Velero server reports, with a progress bar. Ctrl-C (or `--timeout`)
//! only stops the waiting: the backup or restore goes on in the cluster.
//!
//! ```text
//! cargo run --example velero_backup -- create nightly --include-namespaces shop,payments --ttl 720h --labels team=web --wait
//! cargo run --example velero_backup -- get
//! cargo run --example velero_backup -- restore shop-copy --from-backup nightly --namespace-mappings shop:shop-copy --wait
//! cargo run --example velero_backup -- schedule shop-daily --schedule "0 7 * * *" --include-namespaces shop --ttl 168h
//! cargo run --example velero_backup -- --demo get      # the demo cluster has no Velero: says so, exit 1
//! ```
//! Velero's namespace is `-n/--namespace`, else `VELERO_NAMESPACE`, else `velero`.
//!
//! Exit code: 0 done (with `--wait`: the backup or restore `Completed`), 1
//! Velero is not installed, a request failed, or the backup or restore
//! ended otherwise, timed out or was cancelled, 2 usage or cluster error —
//! nothing was created.

mod common;

use std::{collections::BTreeMap, process::ExitCode, sync::Arc, time::Duration};

use clap::{Parser, Subcommand};
use indicatif::ProgressBar;
use k8sops::{
    backup::velero::{
        go_duration, BackupParams, BackupPhase, ExistingResourcePolicy, GetParams, RestoreParams, RestorePhase,
        ScheduleParams, Velero, VeleroEvent, WaitParams,
    },
    LabelSelector, ProgressSink,
};

/// Create and list Velero backups, restores and schedules, as the velero CLI does
#[derive(Parser)]
#[command(name = "velero_backup")]
struct Cli {
    #[command(flatten)]
    cluster: common::ClusterArgs,

    /// Velero's namespace (default: VELERO_NAMESPACE, else velero)
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    namespace: Option<String>,

    #[command(subcommand)]
    command: Command,
}

/// The backup options `create` and `schedule` share.
#[derive(clap::Args)]
struct BackupArgs {
    /// Namespaces to back up, comma-separated ('*' for all, the default)
    #[arg(long, value_name = "NAMESPACES", value_delimiter = ',')]
    include_namespaces: Vec<String>,

    /// Namespaces to leave out, comma-separated
    #[arg(long, value_name = "NAMESPACES", value_delimiter = ',')]
    exclude_namespaces: Vec<String>,

    /// Resources to back up, as resource.group, comma-separated
    #[arg(long, value_name = "RESOURCES", value_delimiter = ',')]
    include_resources: Vec<String>,

    /// How long before the backup can be garbage-collected, as a Go duration (720h, 72h30m); default: the server's (720h)
    #[arg(long, value_name = "DURATION", value_parser = parse_go_duration)]
    ttl: Option<Duration>,

    /// Labels of the object, key=value pairs, comma-separated
    #[arg(long, value_name = "LABELS", value_delimiter = ',', value_parser = parse_label)]
    labels: Vec<(String, String)>,

    /// Only back up objects matching this label selector
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    selector: Option<LabelSelector>,

    /// The backup storage location (default: the default one)
    #[arg(long, value_name = "NAME")]
    storage_location: Option<String>,
}

impl BackupArgs {
    fn params(&self) -> BackupParams {
        let mut p = BackupParams {
            excluded_namespaces: self.exclude_namespaces.clone(),
            included_resources: self.include_resources.clone(),
            selector: self.selector.clone(),
            ttl: self.ttl,
            labels: self.labels.iter().cloned().collect(),
            storage_location: self.storage_location.clone(),
            ..Default::default()
        };
        if !self.include_namespaces.is_empty() {
            p.included_namespaces = self.include_namespaces.clone();
        }
        p
    }
}

/// How long to wait, for `create` and `restore`.
#[derive(clap::Args)]
struct WaitArgs {
    /// Follow it until Velero is done, with a progress bar
    #[arg(short = 'w', long)]
    wait: bool,

    /// With --wait: stop waiting after this long (300, 300s, 5m, 1h30m; 0: forever); it goes on in the cluster
    #[arg(long, value_name = "DURATION", value_parser = common::parse_duration, requires = "wait")]
    timeout: Option<Duration>,
}

#[derive(Subcommand)]
enum Command {
    /// velero backup create NAME
    Create {
        /// The backup's name
        name: String,
        #[command(flatten)]
        backup: BackupArgs,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// velero backup get: every backup, as velero prints them
    Get {
        /// Only backups whose labels match
        #[arg(short = 'l', long, value_name = "SELECTOR")]
        selector: Option<LabelSelector>,
    },
    /// velero restore create NAME --from-backup BACKUP
    Restore {
        /// The restore's name
        name: String,
        /// The backup to restore
        #[arg(long, value_name = "BACKUP")]
        from_backup: String,
        /// Restore namespace src into dst: src1:dst1,src2:dst2
        #[arg(long, value_name = "MAPPINGS", value_delimiter = ',', value_parser = parse_mapping)]
        namespace_mappings: Vec<(String, String)>,
        /// Namespaces to restore, comma-separated ('*' for all, the default)
        #[arg(long, value_name = "NAMESPACES", value_delimiter = ',')]
        include_namespaces: Vec<String>,
        /// What to do with objects that already exist: none (leave them) or update
        #[arg(long, value_name = "POLICY")]
        existing_resource_policy: Option<ExistingResourcePolicy>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// velero schedule create NAME --schedule CRON
    Schedule {
        /// The schedule's name
        name: String,
        /// A cron expression ("0 7 * * *") or a descriptor (@daily, @every 6h)
        #[arg(long, value_name = "CRON")]
        schedule: String,
        /// Create it paused
        #[arg(long)]
        paused: bool,
        #[command(flatten)]
        backup: BackupArgs,
    },
}

fn parse_go_duration(s: &str) -> Result<Duration, String> {
    go_duration::parse(s).map_err(|e| e.to_string())
}

fn pair(s: &str, separator: char, form: &str) -> Result<(String, String), String> {
    match s.split_once(separator) {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected {form}")),
    }
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    pair(s, '=', "key=value")
}

fn parse_mapping(s: &str) -> Result<(String, String), String> {
    pair(s, ':', "source:target namespaces")
}

/// Phases and item counts on a progress bar, a line per phase change.
struct VeleroProgress {
    bar: ProgressBar,
}

impl ProgressSink<VeleroEvent> for VeleroProgress {
    fn emit(&self, event: VeleroEvent) {
        let bar = &self.bar;
        match &event {
            VeleroEvent::BackupProgress { items_backed_up: done, total_items: total, .. }
            | VeleroEvent::RestoreProgress { items_restored: done, total_items: total, .. } => {
                bar.set_length(u64::try_from(*total).unwrap_or(0));
                bar.set_position(u64::try_from(*done).unwrap_or(0));
            }
            VeleroEvent::BackupPhase { .. } | VeleroEvent::RestorePhase { .. } => {
                common::note(bar, &event);
                bar.set_message(event.to_string());
            }
            _ => common::note(bar, &event),
        }
    }
}

fn wait_params(args: &WaitArgs, bar: &ProgressBar) -> WaitParams {
    // A zero timeout waits forever, as kubectl's --timeout=0s.
    WaitParams { timeout: args.timeout, ..Default::default() }
        .progress(Arc::new(VeleroProgress { bar: bar.clone() }))
        .cancel(common::cancel_on_ctrl_c())
}

/// Checks what would be created before any cluster is touched: bad input
/// is a usage error (exit 2).
fn offline_check(cli: &Cli, namespace: &str) -> Result<(), String> {
    let checked = match &cli.command {
        Command::Create { name, backup, .. } => backup.params().build(namespace, name).map(drop),
        Command::Restore { name, .. } => restore_params(&cli.command).build(namespace, name).map(drop),
        Command::Schedule { name, .. } => schedule_params(&cli.command).build(namespace, name).map(drop),
        Command::Get { .. } => Ok(()),
    };
    checked.map_err(|e| e.to_string())
}

fn restore_params(command: &Command) -> RestoreParams {
    let Command::Restore { from_backup, namespace_mappings, include_namespaces, existing_resource_policy, .. } =
        command
    else {
        return RestoreParams::default();
    };
    let mut p = RestoreParams::from_backup(from_backup.clone());
    p.namespace_mapping = namespace_mappings.iter().cloned().collect::<BTreeMap<_, _>>();
    if !include_namespaces.is_empty() {
        p.included_namespaces = include_namespaces.clone();
    }
    p.existing_resource_policy = *existing_resource_policy;
    p
}

fn schedule_params(command: &Command) -> ScheduleParams {
    let Command::Schedule { schedule, paused, backup, .. } = command else { return ScheduleParams::default() };
    ScheduleParams::new(schedule.clone()).template(backup.params()).paused(*paused)
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(1)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let namespace = cli
        .namespace
        .clone()
        .or_else(|| std::env::var("VELERO_NAMESPACE").ok().filter(|n| !n.is_empty()))
        .unwrap_or_else(|| "velero".into());
    if let Err(e) = offline_check(&cli, &namespace) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let target = match common::connect(&cli.cluster).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let velero = Velero::new(&target.cluster).in_namespace(&namespace);

    match &cli.command {
        Command::Get { selector } => {
            let params = GetParams { selector: selector.clone() };
            common::print_or_fail(velero.list_backups(&params).await)
        }
        Command::Create { name, backup, wait } => {
            target.announce(format!("Creating backup {namespace}/{name}"));
            if let Err(e) = velero.create_backup(name, &backup.params()).await {
                return fail(e);
            }
            println!("Backup request {name:?} submitted successfully.");
            if !wait.wait {
                println!("Run `velero backup describe {name}` or `velero backup logs {name}` for more details.");
                return ExitCode::SUCCESS;
            }
            eprintln!("Waiting for backup to complete. Ctrl-C stops waiting; the backup continues in the background.");
            let bar = common::progress_bar(0);
            let result = velero.wait_for_backup(name, &wait_params(wait, &bar)).await;
            bar.finish_and_clear();
            match result {
                Ok(b) => {
                    print!("{b}");
                    if b.phase() == BackupPhase::Completed {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(e) => fail(e),
            }
        }
        Command::Restore { name, wait, .. } => {
            target.announce(format!("Creating restore {namespace}/{name}"));
            if let Err(e) = velero.create_restore(name, &restore_params(&cli.command)).await {
                return fail(e);
            }
            println!("Restore request {name:?} submitted successfully.");
            if !wait.wait {
                println!("Run `velero restore describe {name}` or `velero restore logs {name}` for more details.");
                return ExitCode::SUCCESS;
            }
            eprintln!(
                "Waiting for restore to complete. Ctrl-C stops waiting; the restore continues in the background."
            );
            let bar = common::progress_bar(0);
            let result = velero.wait_for_restore(name, &wait_params(wait, &bar)).await;
            bar.finish_and_clear();
            match result {
                Ok(r) => {
                    print!("{r}");
                    if r.phase() == RestorePhase::Completed {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(e) => fail(e),
            }
        }
        Command::Schedule { name, .. } => {
            target.announce(format!("Creating schedule {namespace}/{name}"));
            match velero.create_schedule(name, &schedule_params(&cli.command)).await {
                Ok(s) => {
                    println!("Schedule {name:?} created successfully.");
                    print!("{s}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
}
