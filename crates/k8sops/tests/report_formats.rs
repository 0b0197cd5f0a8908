//! The checklist report in each format: the HTML page parses as HTML with
//! no parse error, holds its SVG charts and findings worst first, and refers
//! to nothing outside itself; Markdown and JSON carry the same results.

use k8sops::checklist::{Check, CheckOutput, Checklist, Finding, Status};
use k8sops_testkit::{DemoCluster, TestServer};
use scraper::{Html, Selector};

/// A check that panics: the report still comes back, with this check failed.
struct Panics;

impl Check for Panics {
    fn id(&self) -> &str {
        "panics"
    }
    fn title(&self) -> &str {
        "A check with a bug"
    }
    fn run<'a>(&'a self, _: &'a k8sops::Cluster) -> futures::future::BoxFuture<'a, k8sops::Result<CheckOutput>> {
        Box::pin(async { panic!("index out of bounds") })
    }
}

/// A check that never finishes and would leave something behind.
struct Stuck;

impl Check for Stuck {
    fn id(&self) -> &str {
        "stuck"
    }
    fn title(&self) -> &str {
        "A check that never finishes"
    }
    fn run<'a>(&'a self, _: &'a k8sops::Cluster) -> futures::future::BoxFuture<'a, k8sops::Result<CheckOutput>> {
        Box::pin(futures::future::pending())
    }
    fn cut_short_note(&self) -> Option<String> {
        Some("namespace scratch-1 may be left: kubectl delete namespace scratch-1".into())
    }
}

#[tokio::test]
async fn a_check_cut_short_says_what_it_may_have_left_behind() {
    let server = TestServer::start().await.unwrap();
    let timed_out =
        Checklist::new("custom").with(Stuck).budget(std::time::Duration::from_millis(50)).run(&server.cluster()).await;
    let r = timed_out.result("stuck").unwrap();
    assert!(matches!(r.outcome, k8sops::checklist::Outcome::TimedOut { budget_ms: 50 }), "{timed_out}");
    assert!(
        r.findings[0].action.starts_with(
            "namespace scratch-1 may be left: kubectl delete namespace scratch-1; give the checklist a larger budget"
        ),
        "{:?}",
        r.findings[0]
    );
    let cancel = k8sops::CancellationToken::new();
    let stopping = cancel.clone();
    let progress = move |e: k8sops::checklist::ChecklistEvent| {
        if matches!(e, k8sops::checklist::ChecklistEvent::Started { .. }) {
            stopping.cancel();
        }
    };
    let cancelled = Checklist::new("custom").with(Stuck).run_with(&server.cluster(), &progress, &cancel).await;
    let r = cancelled.result("stuck").unwrap();
    assert_eq!(r.outcome, k8sops::checklist::Outcome::Cancelled, "{cancelled}");
    assert_eq!(r.findings[0].action, "namespace scratch-1 may be left: kubectl delete namespace scratch-1");
    // A check that only reads says nothing of the kind.
    let daily = Checklist::daily().budget(std::time::Duration::from_millis(1)).run(&server.cluster()).await;
    for r in daily.results.iter().filter(|r| !r.outcome.ran()) {
        assert!(r.findings[0].action.starts_with("give the checklist a larger budget"), "{r:?}");
    }
}

/// A check whose text needs escaping everywhere.
struct Markup;

impl Check for Markup {
    fn id(&self) -> &str {
        "markup"
    }
    fn title(&self) -> &str {
        "<script>alert(1)</script> & co"
    }
    fn run<'a>(&'a self, _: &'a k8sops::Cluster) -> futures::future::BoxFuture<'a, k8sops::Result<CheckOutput>> {
        Box::pin(async {
            Ok(vec![Finding::warn("pod/x/<img src=http://evil>", "a | pipe and </td> tag")
                .evidence("line with \"quotes\" & 'apostrophes'")
                .evidence("\u{1b}]52;c;Y2xpcGJvYXJk\u{7}\u{1b}[2Jan image ![x](https://evil/t.png) and [a link](https://evil)")
                .action("kubectl delete pod '<x>'")]
            .into())
        })
    }
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_parses_holds_its_charts_and_refers_to_nothing_outside() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let report = Checklist::daily().with(Panics).with(Markup).run(&server.cluster()).await;
    let html = report.to_html();

    let doc = Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    assert_eq!(doc.select(&sel("html > head > title")).count(), 1);

    // Charts: inline SVG with one bar per node group of the demo (usage and headroom rectangles).
    let svgs: Vec<_> = doc.select(&sel("svg")).collect();
    assert!(!svgs.is_empty(), "no chart in:\n{html}");
    let bars = doc.select(&sel("svg g.bar")).count();
    let groups = DemoCluster::small().node_groups.len();
    assert!(bars >= groups, "{bars} bars for {groups} node groups");
    assert!(doc.select(&sel("svg g.bar rect")).count() >= 2 * groups);

    // Nothing outside the file: no script, no stylesheet link, no src, no remote href, no CSS url().
    assert_eq!(doc.select(&sel("script")).count(), 0, "the <script> of a check title must stay text");
    assert_eq!(doc.select(&sel("link, img, iframe, object, embed")).count(), 0);
    for el in doc.select(&sel("*")) {
        for (name, value) in el.value().attrs() {
            assert!(name != "src", "src={value}");
            if name == "href" || name == "xlink:href" {
                assert!(value.starts_with('#'), "{name}={value} points outside the page");
            }
        }
    }
    assert!(!html.contains("url("), "no CSS url()");
    assert!(!html.contains("@import"));

    // Findings sorted by severity: every FAIL row before every WARN row before every PASS row.
    let statuses: Vec<String> =
        doc.select(&sel("h2 + table tr td:first-child span.badge")).map(|b| b.text().collect::<String>()).collect();
    let rank = |s: &str| match s {
        "FAIL" => 0,
        "WARN" => 1,
        _ => 2,
    };
    let findings_table = doc.select(&sel("table")).nth(1).expect("the findings table");
    let rows: Vec<String> =
        findings_table.select(&sel("tr td:first-child .badge")).map(|b| b.text().collect::<String>()).collect();
    assert!(!rows.is_empty() && !statuses.is_empty());
    assert!(rows.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])), "findings out of order: {rows:?}");
    assert_eq!(rows[0], "FAIL");

    // The escaped texts read back as they were written.
    let text: String = doc.root_element().text().collect();
    assert!(text.contains("<script>alert(1)</script> & co"));
    assert!(text.contains("pod/x/<img src=http://evil>"));

    // The panicking check is one failed result; the others ran.
    let panics = report.result("panics").unwrap();
    assert!(
        matches!(&panics.outcome, k8sops::checklist::Outcome::Failed { message } if message.contains("index out of bounds"))
    );
    assert!(report.result("nodes").unwrap().outcome.ran());
}

#[tokio::test]
async fn markdown_and_json_carry_every_result() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let report = Checklist::daily().with(Markup).run(&server.cluster()).await;
    let md = report.to_markdown();
    for r in &report.results {
        assert!(md.contains(&format!("| {} | {} |", r.id, r.status)), "{md}");
    }
    assert!(md.contains("a \\| pipe"), "{md}");
    // Cluster text stays text: no tag, image or link a Markdown renderer would act on.
    for raw in ["<script>", "</td>", "![x](", "[a link](", "\u{1b}"] {
        assert!(!md.contains(raw), "{raw:?} reached the Markdown:\n{md}");
    }
    assert!(md.contains("`pod/x/<img src=http://evil>`"), "a subject is a code span:\n{md}");
    assert_eq!(md.matches("<img").count(), 1, "only inside the code span:\n{md}");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["results"].as_array().unwrap().len(), report.results.len());
    assert_eq!(json["results"][0]["id"], "nodes");
    assert_eq!(report.status(), Status::Fail);
    let table = report.to_string();
    assert!(table.starts_with("Daily checklist: FAIL"), "{table}");
    // No escape sequence reaches the terminal (clipboard, clear screen).
    assert!(!table.contains('\u{1b}') && !table.contains('\u{7}'), "{table:?}");
    assert!(table.contains("\u{FFFD}]52;c;"), "{table}");
}

/// A check that panics before it even returns its future.
struct PanicsEagerly;

impl Check for PanicsEagerly {
    fn id(&self) -> &str {
        "panics-eagerly"
    }
    fn title(&self) -> &str {
        "A check that panics when asked to run"
    }
    fn run<'a>(&'a self, _: &'a k8sops::Cluster) -> futures::future::BoxFuture<'a, k8sops::Result<CheckOutput>> {
        panic!("bad state")
    }
}

#[tokio::test]
async fn a_check_panicking_before_its_future_exists_is_one_failed_result() {
    let server = TestServer::start().await.unwrap();
    let report = Checklist::new("mine")
        .with(PanicsEagerly)
        .with(k8sops::checklist::daily::NodeStatusCheck::default())
        .run(&server.cluster())
        .await;
    let failed = report.result("panics-eagerly").unwrap();
    assert!(
        matches!(&failed.outcome, k8sops::checklist::Outcome::Failed { message } if message.contains("bad state")),
        "{failed:?}"
    );
    assert!(report.result("nodes").unwrap().outcome.ran());
}

#[tokio::test]
async fn findings_cut_by_max_findings_still_count_for_the_status() {
    let server = TestServer::start().await.unwrap();
    server.load(&DemoCluster::small()).unwrap();
    let report = Checklist::daily().max_findings(0).run(&server.cluster()).await;
    let nodes = report.result("nodes").unwrap();
    assert!(nodes.findings.is_empty());
    assert!(nodes.omitted > 0);
    assert_eq!(nodes.status, Status::Fail, "the NotReady node still fails the check");
    let one = Checklist::daily().max_findings(1).run(&server.cluster()).await;
    assert_eq!(one.result("nodes").unwrap().findings[0].status, Status::Fail, "the worst finding is the one kept");
}
