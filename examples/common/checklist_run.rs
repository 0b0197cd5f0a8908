//! Running a checklist from an example: the output flags, a progress bar
//! over the checks, the report in the chosen format on stdout or in a file
//! (written to a temporary name, fsynced, renamed), and the exit code.

use std::{io::Write, path::Path, path::PathBuf, process::ExitCode, time::Duration};

use k8sops::{
    checklist::{Checklist, ChecklistEvent, ChecklistReport, Status},
    CancellationToken, Cluster, ProgressSink,
};

use super::{note, parse_positive_duration, progress_bar};

/// One of the ops guide's checklists, as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Which {
    Daily,
    Weekly,
    Monthly,
}

impl Which {
    /// The checklist with all its checks.
    pub(crate) fn checklist(self) -> Checklist {
        match self {
            Which::Daily => Checklist::daily(),
            Which::Weekly => Checklist::weekly(),
            Which::Monthly => Checklist::monthly(),
        }
    }
}

/// `checklist` without the checks of `--skip`; a check it does not hold is
/// a usage error naming the ones it does (`here`: how the caller's
/// checklist differs from the full one, e.g. " here").
pub(crate) fn skip(mut checklist: Checklist, ids: &[String], here: &str) -> Result<Checklist, String> {
    for id in ids {
        if !checklist.ids().any(|c| c == id) {
            let ids: Vec<&str> = checklist.ids().collect();
            return Err(format!(
                "--skip {id}: the {} checklist has no such check{here} (checks: {})",
                checklist.name(),
                ids.join(", ")
            ));
        }
        checklist = checklist.without(id);
    }
    Ok(checklist)
}

/// How to print a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Columns for a terminal
    Table,
    /// JSON (every finding, chart and document)
    Json,
    /// Markdown (for a wiki or a ticket)
    Markdown,
    /// One self-contained HTML page with charts
    Html,
}

/// Flags shared by the checklist examples.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ReportArgs {
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub(crate) format: Format,

    /// Same as --format json
    #[arg(long, conflicts_with = "format")]
    pub(crate) json: bool,

    /// Write the report to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,

    /// Time allowed per check (300, 90s, 5m); a check still running then is reported as timed out
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_positive_duration)]
    pub(crate) budget: Duration,

    /// Checks (or clusters) run at once
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) concurrency: u16,
}

impl ReportArgs {
    pub(crate) fn format(&self) -> Format {
        if self.json {
            Format::Json
        } else {
            self.format
        }
    }

    /// The checklist with this run's budget and concurrency.
    pub(crate) fn apply(&self, checklist: Checklist) -> Checklist {
        checklist.budget(self.budget).concurrency(usize::from(self.concurrency))
    }

    /// Prints `text` to stdout, or writes it to `--out`.
    pub(crate) fn emit(&self, text: &str) -> Result<(), String> {
        match &self.out {
            None => {
                print!("{text}");
                Ok(())
            }
            Some(path) => {
                write_atomically(path, text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                eprintln!("Report written to {}", path.display());
                Ok(())
            }
        }
    }
}

/// Renders a checklist report as asked.
pub(crate) fn render(report: &ChecklistReport, format: Format) -> String {
    match format {
        Format::Table => report.to_string(),
        Format::Json => report.to_json() + "\n",
        Format::Markdown => report.to_markdown(),
        Format::Html => report.to_html(),
    }
}

/// Writes a new temporary file beside `FILE` (never one that exists, nor
/// through a symlink someone else placed there; mode 0600 on Unix), fsyncs
/// it, renames it to `FILE` and fsyncs the directory: a reader never sees
/// half a report.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().ok_or_else(|| std::io::Error::other("not a file name"))?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let tmp = path.with_file_name(format!(".{}.{}-{nanos}.tmp", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename's durability; some filesystems (FUSE, SMB) refuse a
        // directory fsync, which must not turn a written report into an error.
        #[cfg(unix)]
        if let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A progress bar over the checks, with a line per finished check.
struct Progress(indicatif::ProgressBar);

impl ProgressSink<ChecklistEvent> for Progress {
    fn emit(&self, event: ChecklistEvent) {
        match event {
            ChecklistEvent::Started { id, .. } => self.0.set_message(format!("running {id}")),
            ChecklistEvent::Finished { id, status, elapsed_ms, .. } => {
                self.0.inc(1);
                note(&self.0, format!("{status} {id} ({elapsed_ms} ms)"));
            }
            _ => {}
        }
    }
}

/// Runs the checklist with a progress bar (Ctrl-C stops it and prints what
/// finished), prints the report, and returns the exit code: 0 when nothing
/// failed (warnings included), 1 when a check failed, 2 when the report
/// could not be written.
pub(crate) async fn run(
    cluster: &Cluster,
    checklist: Checklist,
    args: &ReportArgs,
    cancel: &CancellationToken,
) -> (ChecklistReport, ExitCode) {
    let checklist = args.apply(checklist);
    let progress = Progress(progress_bar(checklist.ids().count() as u64));
    let report = checklist.run_with(cluster, &progress, cancel).await;
    progress.0.finish_and_clear();
    let code = match args.emit(&render(&report, args.format())) {
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Ok(()) if report.status() == Status::Fail => ExitCode::from(1),
        Ok(()) => ExitCode::SUCCESS,
    };
    (report, code)
}
