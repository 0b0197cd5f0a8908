//! Manifest files: multi-document YAML (`---` separated, as kubectl splits
//! them), JSON, and `kind: List` objects, in a file or a directory tree.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
};

use serde::Deserialize;

use super::{Finding, Note, ObjectRef, RemovedApiParams, RemovedApiReport, Source};
use crate::{
    rules::{MinorVersion, NEWEST_RELEASE},
    Error, Result,
};

/// File name endings read in a directory.
const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// One YAML document of a multi-document text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Document<'a> {
    /// 1-based line of the document's first line.
    pub(crate) line: usize,
    /// The `# Source: chart/templates/x.yaml` comment Helm puts first.
    pub(crate) source: Option<String>,
    pub(crate) text: &'a str,
}

/// An object a manifest declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeclaredObject {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct SlimManifest {
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: Option<ManifestMeta>,
    #[serde(default)]
    items: Option<Vec<SlimManifest>>,
}

#[derive(Debug, Default, Deserialize)]
struct ManifestMeta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "generateName")]
    generate_name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
}

impl SlimManifest {
    fn collect(self, out: &mut Vec<DeclaredObject>) {
        if let Some(items) = self.items {
            for item in items {
                item.collect(out);
            }
        }
        if let (Some(api_version), Some(kind)) = (self.api_version, self.kind) {
            if kind.ends_with("List") && api_version == "v1" {
                return;
            }
            let meta = self.metadata.unwrap_or_default();
            let name = meta.name.or(meta.generate_name).unwrap_or_default();
            out.push(DeclaredObject { api_version, kind, name, namespace: meta.namespace.filter(|n| !n.is_empty()) });
        }
    }
}

impl Document<'_> {
    /// The objects this document declares (none for an empty document).
    pub(crate) fn objects(&self) -> std::result::Result<Vec<DeclaredObject>, String> {
        let blank = self.text.lines().all(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#')
        });
        if blank {
            return Ok(Vec::new());
        }
        let parsed: Option<SlimManifest> = serde_norway::from_str(self.text).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        if let Some(m) = parsed {
            m.collect(&mut out);
        }
        Ok(out)
    }
}

/// Splits a multi-document YAML text the way kubectl does: a line starting
/// with `---` followed by nothing but blanks or a comment ends a document.
pub(crate) fn documents(text: &str) -> Vec<Document<'_>> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let is_separator = line.strip_prefix("---").is_some_and(|rest| {
            let rest = rest.trim();
            rest.is_empty() || rest.starts_with('#')
        });
        if is_separator {
            push_document(&mut out, &text[start..offset], start_line);
            start = offset + line.len();
            start_line = i + 2;
        }
        offset += line.len();
    }
    push_document(&mut out, &text[start..], start_line);
    out
}

fn push_document<'a>(out: &mut Vec<Document<'a>>, text: &'a str, line: usize) {
    if text.trim().is_empty() {
        return;
    }
    let source = text
        .lines()
        .map(str::trim)
        .take_while(|l| l.is_empty() || l.starts_with('#'))
        .find_map(|l| l.strip_prefix("# Source:").map(|s| s.trim().to_string()));
    out.push(Document { line, source, text });
}

/// Checks manifest text (one file's content) at `target`; `label` names it
/// in findings and notes (`label:LINE`).
///
/// ```
/// use k8sops_upgrade::removed_apis::{manifests::check_manifest_text, RemovedApiParams};
/// use k8sops_upgrade::rules::MinorVersion;
/// let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\napiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\n";
/// let (findings, notes) = check_manifest_text(text, "app.yaml", &RemovedApiParams::default(), MinorVersion::new(1, 22));
/// assert!(notes.is_empty());
/// assert_eq!(findings.len(), 1);
/// assert_eq!((findings[0].object().as_str(), findings[0].location.as_str()), ("Ingress shop/web", "app.yaml:5"));
/// ```
pub fn check_manifest_text(
    text: &str,
    label: &str,
    params: &RemovedApiParams,
    target: MinorVersion,
) -> (Vec<Finding>, Vec<Note>) {
    let mut findings = Vec::new();
    let mut notes = Vec::new();
    for doc in documents(text) {
        match doc.objects() {
            Ok(objects) => {
                let location = format!("{label}:{}", doc.line);
                findings.extend(objects.into_iter().filter_map(|o| declared_finding(o, params, target, &location)));
            }
            Err(reason) => {
                notes.push(Note { what: format!("{label}:{}", doc.line), reason: format!("not valid YAML: {reason}") })
            }
        }
    }
    (findings, notes)
}

fn declared_finding(
    o: DeclaredObject,
    params: &RemovedApiParams,
    target: MinorVersion,
    location: &str,
) -> Option<Finding> {
    let (rule, status) = params.flagged(&o.api_version, &o.kind, target)?;
    let object = ObjectRef { kind: o.kind, namespace: o.namespace.unwrap_or_default(), name: o.name };
    Some(Finding::from_rule(&params.rules, rule, status, target, object, Source::File, location.to_string()))
}

/// Checks manifest files: `path` is a file, or a directory whose `.yaml`,
/// `.yml` and `.json` files are read recursively (hidden entries such as
/// `.git` are skipped, symbolic links to directories are not followed).
/// Files are read in parallel on blocking threads: call it from async code
/// through `tokio::task::spawn_blocking`. The target defaults to
/// [`NEWEST_RELEASE`]; only [`RemovedApiParams::target`], `rules`,
/// `deprecated` and `cancel` apply.
///
/// `Err` when `path` cannot be read at all; a file or document that cannot
/// be read or parsed (Helm templates, other YAML) is a [`Note`] in the
/// report.
///
/// # Cancel safety
/// Nothing is written. With [`RemovedApiParams::cancel`], no file is opened
/// after the token fires; the report is marked cancelled and holds the
/// findings of the files read before.
///
/// ```
/// use k8sops_upgrade::removed_apis::{scan_manifests, RemovedApiParams};
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("cron.yaml"), "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata:\n  name: nightly\n")?;
/// let report = scan_manifests(dir.path(), &RemovedApiParams::default())?;
/// assert_eq!((report.files, report.findings.len()), (1, 1));
/// assert_eq!(report.findings[0].replacement.as_deref(), Some("batch/v1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn scan_manifests(path: impl AsRef<Path>, params: &RemovedApiParams) -> Result<RemovedApiReport> {
    let root = path.as_ref();
    let target = params.target.unwrap_or(NEWEST_RELEASE);
    let mut report = RemovedApiReport::new(target);
    let meta = std::fs::metadata(root).map_err(|e| Error::Manifest {
        path: root.to_path_buf(),
        reason: e.to_string(),
        source: Some(e),
    })?;
    let mut files = Vec::new();
    if meta.is_dir() {
        walk(root, &mut files, &mut report.notes, true)?;
    } else {
        files.push(root.to_path_buf());
    }
    files.sort();

    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(files.len()).max(1);
    let cancel = params.cancel.clone().unwrap_or_default();
    // Per worker: files read, findings, notes; `None` for a worker that panicked.
    type Worker = (usize, Vec<Finding>, Vec<Note>);
    let results: Vec<Option<Worker>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut read = 0;
                    let mut findings = Vec::new();
                    let mut notes = Vec::new();
                    loop {
                        if cancel.is_cancelled() {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(file) = files.get(i) else { break };
                        read += 1;
                        let (f, n) = check_file(file, params, target);
                        findings.extend(f);
                        notes.extend(n);
                    }
                    (read, findings, notes)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().ok()).collect::<Vec<_>>()
    });
    let stopped = results.iter().filter(|r| r.is_none()).count();
    if stopped > 0 {
        // Never on file contents; but then the report must not look complete.
        report.notes.push(Note {
            what: root.display().to_string(),
            reason: format!(
                "{stopped} reader thread(s) stopped unexpectedly: the files they held are not in the report"
            ),
        });
    }
    let results = results.into_iter().flatten();
    for (read, findings, notes) in results {
        report.files += read;
        report.findings.extend(findings);
        report.notes.extend(notes);
    }
    report.cancelled = cancel.is_cancelled() && report.files < files.len();
    report.finish();
    Ok(report)
}

fn check_file(file: &Path, params: &RemovedApiParams, target: MinorVersion) -> (Vec<Finding>, Vec<Note>) {
    let label = file.display().to_string();
    let text = match std::fs::read(file) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(_) => return (Vec::new(), vec![Note { what: label, reason: "not UTF-8 text".into() }]),
        },
        Err(e) => return (Vec::new(), vec![Note { what: label, reason: format!("cannot read: {e}") }]),
    };
    let is_json = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        return match serde_json::from_str::<SlimManifest>(&text) {
            Ok(m) => {
                let mut objects = Vec::new();
                m.collect(&mut objects);
                let location = format!("{label}:1");
                (
                    objects.into_iter().filter_map(|o| declared_finding(o, params, target, &location)).collect(),
                    Vec::new(),
                )
            }
            Err(e) => (Vec::new(), vec![Note { what: label, reason: format!("not valid JSON: {e}") }]),
        };
    }
    check_manifest_text(&text, &label, params, target)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, notes: &mut Vec<Note>, is_root: bool) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if is_root => {
            return Err(Error::Manifest { path: dir.to_path_buf(), reason: e.to_string(), source: Some(e) })
        }
        Err(e) => {
            notes.push(Note { what: dir.display().to_string(), reason: format!("cannot read the directory: {e}") });
            return Ok(());
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            walk(&path, files, notes, false)?;
        } else {
            // A symbolic link is followed only to a file.
            let is_file = kind.is_file() || (kind.is_symlink() && path.is_file());
            let wanted = path.extension().is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)));
            if is_file && wanted {
                files.push(path);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_on_separator_lines_only_and_remember_their_line() {
        let text = "# leading comment\na: 1\n--- # next\nb: |\n  ---not a separator\n---\n\n---\nc: 3\n";
        let docs = documents(text);
        assert_eq!(docs.iter().map(|d| d.line).collect::<Vec<_>>(), [1, 4, 9]);
        assert!(docs[1].text.contains("---not a separator"));
    }

    #[test]
    fn the_helm_source_comment_is_kept() {
        let docs = documents("---\n# Source: web/templates/ing.yaml\napiVersion: v1\nkind: Service\n");
        assert_eq!(docs[0].source.as_deref(), Some("web/templates/ing.yaml"));
    }

    #[test]
    fn list_items_are_objects_of_their_own() {
        let docs = documents(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: batch/v1beta1\n  kind: CronJob\n  metadata: {name: a}\n",
        );
        let objects = docs[0].objects().unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].kind, "CronJob");
    }

    #[test]
    fn a_document_of_comments_declares_nothing() {
        assert!(documents("# only\n# comments\n")[0].objects().unwrap().is_empty());
    }
}
