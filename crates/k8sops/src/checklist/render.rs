//! A checklist report for people: the terminal table (`Display`), Markdown
//! and one self-contained HTML file (inline CSS and SVG charts, no script,
//! no external asset).

use std::fmt::{self, Write as _};

use k8sops_core::Table;

use super::{Chart, CheckResult, ChecklistReport, Status};

/// `1.5s`, `250ms`.
pub(crate) fn seconds(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        let s = format!("{:.1}", ms as f64 / 1000.0);
        format!("{}s", s.trim_end_matches(".0"))
    }
}

fn title_case(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl ChecklistReport {
    fn headline(&self) -> String {
        let (pass, warn, fail) = self.counts();
        format!(
            "{} checklist: {} — {} ({} checks: {pass} pass, {warn} warn, {fail} fail; {})",
            title_case(&self.checklist),
            self.status(),
            self.cluster,
            self.results.len(),
            seconds(self.elapsed_ms)
        )
    }

    fn not_run_note(r: &CheckResult) -> String {
        r.outcome.reason().map(|why| format!(" ({why})")).unwrap_or_default()
    }

    /// The report as Markdown: a table of checks, then the findings worst
    /// first, then the documents the checks produced.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// # server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let md = k8sops::checklist::Checklist::daily().run(&server.cluster()).await.to_markdown();
    /// assert!(md.starts_with("# Daily checklist"));
    /// assert!(md.contains("| nodes | FAIL |"));
    /// # Ok(()) }
    /// ```
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let (pass, warn, fail) = self.counts();
        let _ = writeln!(out, "# {} checklist: {}\n", title_case(&self.checklist), self.status());
        let _ = writeln!(out, "- Cluster: {}", code_span(&self.cluster));
        let _ = writeln!(out, "- API server: {}", md_line(self.server_version.as_deref().unwrap_or("did not answer")));
        let _ = writeln!(out, "- Run at: {} ({})", self.generated_at, seconds(self.elapsed_ms));
        let _ = writeln!(out, "- Checks: {pass} pass, {warn} warn, {fail} fail\n");
        let _ = writeln!(out, "| check | status | title | findings | time |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for r in &self.results {
            let _ = writeln!(
                out,
                "| {} | {} | {}{} | {} | {} |",
                md_cell(&r.id),
                r.status,
                md_cell(&r.title),
                md_cell(&Self::not_run_note(r)),
                r.findings.len() + r.omitted,
                seconds(r.elapsed_ms)
            );
        }
        let _ = writeln!(out, "\n## Findings\n");
        for (check, f) in self.findings() {
            let subject = if f.subject.is_empty() { String::new() } else { format!(" {}", code_span(&f.subject)) };
            let _ = writeln!(out, "- **{}** \\[{}\\]{subject}: {}", f.status, md_line(&check.id), md_line(&f.summary));
            for e in &f.evidence {
                let _ = writeln!(out, "  - {}", md_line(e));
            }
            if !f.action.is_empty() {
                let _ = writeln!(out, "  - Action: {}", md_line(&f.action));
            }
        }
        for r in self.results.iter().filter(|r| r.omitted > 0) {
            let _ = writeln!(out, "- \\[{}\\] {} more findings not shown", md_line(&r.id), r.omitted);
        }
        for r in &self.results {
            for chart in &r.charts {
                let _ = writeln!(out, "\n## {}\n", md_line(&chart.title));
                let _ = writeln!(out, "| | used | capacity | % |");
                let _ = writeln!(out, "|---|---|---|---|");
                for b in &chart.bars {
                    let _ = writeln!(
                        out,
                        "| {} | {:.1} {} | {:.1} {} | {:.0}% |",
                        md_cell(&b.label),
                        b.used,
                        md_cell(&chart.unit),
                        b.capacity,
                        md_cell(&chart.unit),
                        b.percent()
                    );
                }
            }
        }
        for r in &self.results {
            for a in &r.artifacts {
                let _ = writeln!(out, "\n## Document: {} (from {})\n", md_line(&a.name), code_span(&r.id));
                // The content is Markdown a check wrote (the runbook escapes
                // what it takes from the cluster); only the name is escaped.
                let _ = writeln!(
                    out,
                    "<details><summary>{}</summary>\n\n{}\n\n</details>",
                    esc(&a.name),
                    a.content.trim_end()
                );
            }
        }
        out
    }

    /// The report as one self-contained HTML page: a summary, inline SVG
    /// bar charts (usage and headroom per node group), the findings sorted
    /// by severity, each check's details and documents. No script, no
    /// stylesheet or image from elsewhere: it can be mailed or archived as
    /// is.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = k8sops_testkit::TestServer::start().await?;
    /// # server.load(&k8sops_testkit::DemoCluster::small())?;
    /// let html = k8sops::checklist::Checklist::daily().run(&server.cluster()).await.to_html();
    /// assert!(html.starts_with("<!DOCTYPE html>"));
    /// assert!(html.contains("<svg"), "the daily usage check draws its chart");
    /// # Ok(()) }
    /// ```
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        let (pass, warn, fail) = self.counts();
        let title = format!("{} checklist — {}", title_case(&self.checklist), self.cluster);
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
            esc(&title)
        );
        let _ = writeln!(
            out,
            "<h1>{} checklist <span class=\"badge {}\">{}</span></h1>",
            esc(&title_case(&self.checklist)),
            class(self.status()),
            self.status()
        );
        let _ = writeln!(
            out,
            "<p class=\"meta\">Cluster <code>{}</code> · API server {} · run at {} in {}</p>",
            esc(&self.cluster),
            esc(self.server_version.as_deref().unwrap_or("did not answer")),
            esc(&self.generated_at),
            seconds(self.elapsed_ms)
        );
        let _ = writeln!(
            out,
            "<p class=\"counts\"><span class=\"badge fail\">{fail} fail</span> <span class=\"badge warn\">{warn} warn</span> <span class=\"badge pass\">{pass} pass</span></p>"
        );
        let _ = writeln!(out, "<h2>Checks</h2>\n<table>\n<tr><th>check</th><th>status</th><th>title</th><th>findings</th><th>time</th></tr>");
        let mut rows: Vec<&CheckResult> = self.results.iter().collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.status));
        for r in rows {
            let _ = writeln!(
                out,
                "<tr><td><a href=\"#check-{}\">{}</a></td><td><span class=\"badge {}\">{}</span></td><td>{}{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.id),
                esc(&r.id),
                class(r.status),
                r.status,
                esc(&r.title),
                esc(&Self::not_run_note(r)),
                r.findings.len() + r.omitted,
                seconds(r.elapsed_ms)
            );
        }
        let _ = writeln!(out, "</table>");
        let charts: Vec<&Chart> = self.results.iter().flat_map(|r| r.charts.iter()).collect();
        if !charts.is_empty() {
            let _ = writeln!(out, "<h2>Usage and headroom</h2>");
            for chart in charts {
                svg_chart(&mut out, chart);
            }
        }
        let _ = writeln!(out, "<h2>Findings</h2>\n<table>\n<tr><th>status</th><th>check</th><th>object</th><th>finding</th><th>action</th></tr>");
        for (check, f) in self.findings() {
            let evidence = if f.evidence.is_empty() {
                String::new()
            } else {
                let items: String = f.evidence.iter().map(|e| format!("<li>{}</li>", esc(e))).collect();
                format!("<ul>{items}</ul>")
            };
            let _ = writeln!(
                out,
                "<tr class=\"{}\"><td><span class=\"badge {}\">{}</span></td><td>{}</td><td><code>{}</code></td><td>{}{evidence}</td><td>{}</td></tr>",
                class(f.status),
                class(f.status),
                f.status,
                esc(&check.id),
                esc(&f.subject),
                esc(&f.summary),
                esc(&f.action)
            );
        }
        let _ = writeln!(out, "</table>");
        for r in self.results.iter().filter(|r| r.omitted > 0) {
            let _ = writeln!(out, "<p>[{}] {} more findings not shown.</p>", esc(&r.id), r.omitted);
        }
        let _ = writeln!(out, "<h2>Details</h2>");
        for r in &self.results {
            let _ = writeln!(
                out,
                "<section id=\"check-{}\"><h3>{} <span class=\"badge {}\">{}</span></h3><p class=\"meta\">{}{} · {}</p>",
                esc(&r.id),
                esc(&r.title),
                class(r.status),
                r.status,
                esc(&r.id),
                esc(&Self::not_run_note(r)),
                seconds(r.elapsed_ms)
            );
            for a in &r.artifacts {
                let _ = writeln!(
                    out,
                    "<details><summary>{} ({})</summary><pre>{}</pre></details>",
                    esc(&a.name),
                    esc(&a.media_type),
                    esc(&a.content)
                );
            }
            let _ = writeln!(out, "</section>");
        }
        let _ = writeln!(out, "</body>\n</html>");
        out
    }
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#1f2328}\
h1{font-size:1.6em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.6em}\
table{border-collapse:collapse;width:100%}th,td{border:1px solid #d0d7de;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#f6f8fa}ul{margin:.2em 0;padding-left:1.2em}code,pre{font-family:ui-monospace,monospace;font-size:.9em}\
pre{background:#f6f8fa;padding:.8em;overflow:auto}.meta{color:#59636e}\
.badge{display:inline-block;border-radius:.3em;padding:0 .4em;font-weight:600;font-size:.85em;color:#fff}\
.badge.pass{background:#1a7f37}.badge.warn{background:#9a6700}.badge.fail{background:#cf222e}\
tr.fail td{background:#ffebe9}tr.warn td{background:#fff8c5}svg{display:block;margin:.5em 0 1.5em}";

fn class(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Warn => "warn",
        Status::Fail => "fail",
    }
}

/// One horizontal bar per entry: the used part coloured by how full it is,
/// the headroom grey, the numbers beside it.
fn svg_chart(out: &mut String, chart: &Chart) {
    const LABEL: f64 = 180.0;
    const BAR: f64 = 420.0;
    const ROW: f64 = 26.0;
    let height = 30.0 + ROW * chart.bars.len() as f64;
    let width = LABEL + BAR + 220.0;
    let _ = writeln!(
        out,
        "<figure><svg role=\"img\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\
         <title>{}</title><text x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"600\">{}</text>",
        esc(&chart.title),
        esc(&chart.title)
    );
    for (i, b) in chart.bars.iter().enumerate() {
        let y = 26.0 + ROW * i as f64;
        let pct = b.percent();
        let used = (pct.clamp(0.0, 100.0) / 100.0) * BAR;
        let colour = if pct >= 90.0 {
            "#cf222e"
        } else if pct >= 75.0 {
            "#bf8700"
        } else {
            "#1a7f37"
        };
        let _ = write!(
            out,
            "<g class=\"bar\"><text x=\"0\" y=\"{ty}\" font-size=\"12\">{label}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{BAR}\" height=\"18\" fill=\"#eaeef2\"><title>headroom {head:.1} {unit}</title></rect>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{used:.1}\" height=\"18\" fill=\"{colour}\"><title>used {u:.1} {unit}</title></rect>\
             <text x=\"{tx}\" y=\"{ty}\" font-size=\"12\">{u:.1} / {c:.1} {unit} ({pct:.0}%)</text></g>",
            ty = y + 13.0,
            label = esc(&b.label),
            head = (b.capacity - b.used).max(0.0),
            unit = esc(&chart.unit),
            u = b.used,
            c = b.capacity,
            tx = LABEL + BAR + 8.0,
        );
    }
    let _ = writeln!(out, "</svg><figcaption>{}</figcaption></figure>", esc(&chart.title));
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters and noncharacters are parse errors in HTML.
            '\n' | '\t' | '\r' => out.push(c),
            c if c.is_control() || is_noncharacter(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn is_noncharacter(c: char) -> bool {
    let n = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&n) || n & 0xFFFE == 0xFFFE
}

/// Text from the cluster on one Markdown line. Control characters become
/// spaces; `<`, `>`, `&` become entities and `\`, `` ` ``, `[`, `]`, `|`
/// are backslash-escaped, so a pod's message or an image name cannot
/// become a tag, a link, an image or a table cell. A word holding `://` (a
/// URL, which a renderer would link as written) becomes a code span; a
/// line that would start a heading, list or rule has that mark escaped.
/// Emphasis (`*`, `_`) is left alone: it cannot reach outside the line.
pub(crate) fn md_line(s: &str) -> String {
    let text: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.trim_start().split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if is_url(word) {
            out.push_str(&code_span(word));
            continue;
        }
        for c in word.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '\\' | '`' | '[' | ']' | '|' => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }
    // Block syntax at the start: `# x`, `- x`, `+ x`, `* x`, `===`, `___`, `~~~`, `1. x`, `1) x`.
    if out.starts_with(['#', '-', '+', '*', '=', '_', '~']) {
        out.insert(0, '\\');
    } else {
        let digits = out.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && out[digits..].starts_with(['.', ')']) {
            out.insert(digits, '\\');
        }
    }
    out
}

/// `scheme://...` with nothing before the scheme, and no `|` (a code span
/// cannot hold one in a table cell).
fn is_url(word: &str) -> bool {
    word.split_once("://").is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && !rest.is_empty()
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && !word.contains('|')
    })
}

/// A Markdown table cell: [`md_line`], whose escapes cover `|` too.
pub(crate) fn md_cell(s: &str) -> String {
    md_line(s)
}

/// Text from the cluster as one Markdown code span: a fence longer than
/// any run of backticks inside, control characters as spaces.
pub(crate) fn code_span(s: &str) -> String {
    let text: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || text.is_empty() { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Text from the cluster on one terminal line: tabs and line breaks become
/// spaces, other control characters (escape sequences that could move the
/// cursor, recolour or rewrite the screen, or set the clipboard) become
/// U+FFFD.
pub(crate) fn term_line(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return s.into();
    }
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => ' ',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect::<String>()
        .into()
}

impl fmt::Display for ChecklistReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", term_line(&self.headline()))?;
        if let Some(v) = &self.server_version {
            writeln!(f, "API server {}", term_line(v))?;
        }
        writeln!(f)?;
        let mut t = Table::new(["check", "status", "title", "findings", "time"]);
        for r in &self.results {
            let title = format!("{}{}", r.title, Self::not_run_note(r));
            t.row([
                term_line(&r.id).into_owned(),
                r.status.to_string(),
                term_line(&title).into_owned(),
                (r.findings.len() + r.omitted).to_string(),
                seconds(r.elapsed_ms),
            ]);
        }
        write!(f, "{t}")?;
        let findings: Vec<_> = self.findings().filter(|(_, x)| x.status != Status::Pass).collect();
        if findings.is_empty() {
            writeln!(f, "\nNothing needs attention.")?;
        } else {
            writeln!(f, "\nNeeds attention:")?;
            for (check, x) in findings {
                let subject = if x.subject.is_empty() { String::new() } else { format!(" {}", term_line(&x.subject)) };
                writeln!(f, "{} [{}]{subject}: {}", x.status, term_line(&check.id), term_line(&x.summary))?;
                for e in &x.evidence {
                    writeln!(f, "     {}", term_line(e))?;
                }
                if !x.action.is_empty() {
                    writeln!(f, "     -> {}", term_line(&x.action))?;
                }
            }
        }
        for r in self.results.iter().filter(|r| r.omitted > 0) {
            writeln!(f, "[{}] {} less severe findings not shown", term_line(&r.id), r.omitted)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_text_stays_text_in_markdown_and_on_a_terminal() {
        assert_eq!(
            md_line("a|b <i>&</i> *x* [l](u) `c` \\"),
            "a\\|b &lt;i&gt;&amp;&lt;/i&gt; *x* \\[l\\](u) \\`c\\` \\\\"
        );
        assert_eq!(md_line("two\nlines\r"), "two lines ");
        assert_eq!(
            md_line("pull https://reg/v2/my_app/x?a=1&b=2 failed"),
            "pull `https://reg/v2/my_app/x?a=1&b=2` failed"
        );
        assert_eq!(md_line("dr-drill at 85% of 4.00 cores"), "dr-drill at 85% of 4.00 cores");
        assert_eq!(md_line("# not a heading"), "\\# not a heading");
        assert_eq!(md_line("- not an item"), "\\- not an item");
        assert_eq!(md_line("12. not an item"), "12\\. not an item");
        assert_eq!(md_line("12 pods"), "12 pods");
        assert_eq!(md_line("![x](https://evil/t.png)"), "!\\[x\\](https://evil/t.png)");
        assert_eq!(code_span("pod/a"), "`pod/a`");
        assert_eq!(code_span("a`b``c"), "```a`b``c```");
        assert_eq!(code_span("`x"), "`` `x ``");
        assert_eq!(term_line("plain"), "plain");
        assert_eq!(term_line("\u{1b}[2Jx\ty\n"), "\u{FFFD}[2Jx y ");
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(seconds(250), "250ms");
        assert_eq!(seconds(1000), "1s");
        assert_eq!(seconds(1500), "1.5s");
    }

    #[test]
    fn html_escapes_everything_it_is_given() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
