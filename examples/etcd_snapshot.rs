//! `etcdctl snapshot save` and `etcdctl snapshot status`, the first with a
//! verified, fsynced, renamed file and a progress bar, the second without a
//! server and with live-key counts per Kubernetes resource.
//!
//! ```text
//! cargo run --example etcd_snapshot --features etcd -- save backup.db \
//!     --endpoints https://127.0.0.1:2379 \
//!     --cacert /etc/kubernetes/pki/etcd/ca.crt \
//!     --cert /etc/kubernetes/pki/etcd/server.crt \
//!     --key /etc/kubernetes/pki/etcd/server.key
//! cargo run --example etcd_snapshot --features etcd -- status backup.db -w table
//! cargo run --example etcd_snapshot --features etcd -- status backup.db --prefixes
//! ```
//! `status` prints exactly what `etcdctl snapshot status` prints for the same
//! file (`-w simple` by default, as etcdctl). Exit codes: 0 done, 1 the
//! operation failed (nothing is left under the file name after a failed
//! save), 2 bad arguments.

mod common;

use std::{path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use clap::{Parser, Subcommand};
use k8sops::backup::{
    etcd_save::{save, EtcdConnection, SaveEvent, SaveParams},
    snapshot::{self, OutputFormat},
};

/// Save an etcd snapshot, or read one without a server
#[derive(Parser)]
#[command(name = "etcd_snapshot")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Stream a snapshot from one etcd endpoint into FILE (like `etcdctl snapshot save`)
    Save {
        /// Where to write the snapshot; FILE.part while streaming, FILE.sha256 beside it
        file: PathBuf,
        /// The etcd endpoint (exactly one)
        #[arg(long, value_delimiter = ',', required = true)]
        endpoints: Vec<String>,
        /// CA certificate of the etcd server
        #[arg(long)]
        cacert: Option<PathBuf>,
        /// Client certificate
        #[arg(long)]
        cert: Option<PathBuf>,
        /// Client certificate key
        #[arg(long)]
        key: Option<PathBuf>,
        /// etcd user as NAME or NAME:PASSWORD
        #[arg(long)]
        user: Option<String>,
        /// Dial timeout, e.g. 2s
        #[arg(long, default_value = "2s", value_parser = common::parse_duration)]
        dial_timeout: Duration,
        /// Limit for the whole save, e.g. 10m (default: none while bytes keep arriving)
        #[arg(long, value_parser = common::parse_duration)]
        timeout: Option<Duration>,
    },
    /// Print hash, revision, total keys and total size (like `etcdctl snapshot status`)
    Status {
        /// The snapshot file
        file: PathBuf,
        /// Output format: simple, json, table or fields
        #[arg(short = 'w', long = "write-out", default_value = "simple", value_parser = parse_format)]
        write_out: OutputFormat,
        /// Also print live keys per Kubernetes resource prefix
        #[arg(long)]
        prefixes: bool,
        /// Also check the trailer and every page, and fail on damage
        #[arg(long)]
        verify: bool,
    },
}

fn parse_format(s: &str) -> Result<OutputFormat, String> {
    s.parse::<OutputFormat>().map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Save { file, endpoints, cacert, cert, key, user, dial_timeout, timeout } => {
            let (user, password) = match user.as_deref().map(|u| u.split_once(':').unwrap_or((u, ""))) {
                Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
                None => (None, None),
            };
            let conn = EtcdConnection { endpoints, cacert, cert, key, user, password, dial_timeout };
            let bar = common::progress_bar(0);
            let progress_bar = bar.clone();
            let params = SaveParams {
                timeout,
                progress: Arc::new(move |e: SaveEvent| match e {
                    SaveEvent::Received { bytes, total } => {
                        if let Some(total) = total {
                            progress_bar.set_length(total);
                        }
                        progress_bar.set_position(bytes);
                    }
                    SaveEvent::Verified { sha256 } => {
                        common::note(&progress_bar, format!("SHA-256 trailer verified: {sha256}"))
                    }
                    _ => {}
                }),
                cancel: common::cancel_on_ctrl_c(),
                ..Default::default()
            };
            match save(&conn, &file, &params).await {
                Ok(saved) => {
                    bar.finish_and_clear();
                    println!("Snapshot saved at {}", saved.path.display());
                    if let Some(sidecar) = &saved.checksum_file {
                        println!("Checksum: {} ({})", saved.file_sha256, sidecar.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    bar.finish_and_clear();
                    eprintln!("Error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Status { file, write_out, prefixes, verify } => {
            let result = tokio::task::spawn_blocking(move || -> k8sops::backup::Result<String> {
                let mut out = snapshot::status(&file)?.render(write_out);
                if verify {
                    let integrity = snapshot::verify(&file)?;
                    integrity.ensure_ok()?;
                    out.push_str(&format!("{integrity}\n"));
                }
                if prefixes {
                    out.push_str(&format!("\n{}", snapshot::prefix_counts(&file)?));
                }
                Ok(out)
            })
            .await;
            match result {
                Ok(Ok(out)) => {
                    print!("{out}");
                    ExitCode::SUCCESS
                }
                Ok(Err(e)) => {
                    eprintln!("Error: {e}");
                    ExitCode::from(1)
                }
                Err(e) => {
                    eprintln!("Error: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
