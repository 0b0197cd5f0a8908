//! The API server's `apiserver_requested_deprecated_apis` gauge: one series
//! per deprecated group/version/resource some client requested since this
//! API server instance started, set to 1, with the release that removes
//! it. It names APIs, not objects: in-cluster controllers and CI jobs still
//! calling an old version show up here even when no stored object does.
//! With several API server instances, each counts only the requests it
//! served.

use serde::Serialize;

use super::{Finding, RemovedApiParams, Source};
use crate::rules::{ApiStatus, MinorVersion};

/// The metric's name.
pub const METRIC: &str = "apiserver_requested_deprecated_apis";

/// One series of the metric.
///
/// ```
/// let text = r#"apiserver_requested_deprecated_apis{group="batch",removed_release="1.25",resource="cronjobs",subresource="",version="v1beta1"} 1"#;
/// let series = k8sops_upgrade::removed_apis::metrics::parse_deprecated_api_metrics(text);
/// assert_eq!(series[0].api_version(), "batch/v1beta1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestedDeprecatedApi {
    /// API group (`""` for the core group).
    pub group: String,
    /// Version.
    pub version: String,
    /// Resource (plural).
    pub resource: String,
    /// Subresource, if the request was for one.
    pub subresource: String,
    /// The release that removes it, when one is planned.
    pub removed_release: Option<MinorVersion>,
}

impl RequestedDeprecatedApi {
    /// `group/version` (`version` for the core group).
    ///
    /// ```
    /// let s = k8sops_upgrade::removed_apis::metrics::RequestedDeprecatedApi {
    ///     group: String::new(), version: "v1".into(), resource: "componentstatuses".into(),
    ///     subresource: String::new(), removed_release: None };
    /// assert_eq!(s.api_version(), "v1");
    /// ```
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// The series of `apiserver_requested_deprecated_apis` in a Prometheus text
/// exposition (what `GET /metrics` returns), in order, without those whose
/// value is 0. Other metrics and malformed lines are skipped.
///
/// ```
/// let text = "# HELP apiserver_requested_deprecated_apis [STABLE] Gauge of deprecated APIs...\n\
///     # TYPE apiserver_requested_deprecated_apis gauge\n\
///     apiserver_requested_deprecated_apis{group=\"policy\",removed_release=\"1.25\",resource=\"podsecuritypolicies\",subresource=\"\",version=\"v1beta1\"} 1\n\
///     apiserver_request_total{code=\"200\"} 12\n";
/// let series = k8sops_upgrade::removed_apis::metrics::parse_deprecated_api_metrics(text);
/// assert_eq!(series.len(), 1);
/// assert_eq!(series[0].removed_release.unwrap().to_string(), "v1.25");
/// ```
pub fn parse_deprecated_api_metrics(text: &str) -> Vec<RequestedDeprecatedApi> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<RequestedDeprecatedApi> {
    let rest = line.trim_start().strip_prefix(METRIC)?;
    let rest = rest.strip_prefix('{')?;
    let (labels, after) = parse_labels(rest)?;
    let value: f64 = after.split_whitespace().next()?.parse().ok()?;
    if value == 0.0 {
        return None;
    }
    let get = |k: &str| labels.iter().find(|(name, _)| name == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let removed = get("removed_release");
    Some(RequestedDeprecatedApi {
        group: get("group"),
        version: get("version"),
        resource: get("resource"),
        subresource: get("subresource"),
        removed_release: if removed.is_empty() { None } else { removed.parse().ok() },
    })
}

/// Parses `name="value",...}` (Prometheus escapes `\\`, `\"`, `\n`);
/// returns the labels and the text after `}`.
fn parse_labels(s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let eq = rest.find('=')?;
        let name = rest[..eq].trim().to_string();
        let quoted = rest[eq + 1..].trim_start();
        let mut chars = quoted.char_indices();
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        let mut escaped = false;
        let mut end = None;
        for (i, c) in chars {
            match (escaped, c) {
                (true, 'n') => {
                    value.push('\n');
                    escaped = false;
                }
                (true, c) => {
                    value.push(c);
                    escaped = false;
                }
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                (false, c) => value.push(c),
            }
        }
        rest = &quoted[end? + 1..];
        labels.push((name, value));
    }
}

/// Findings for the series, at `target`: removed when the series' release
/// (or the rule's) is `<= target`, deprecated otherwise.
pub(crate) fn findings(
    series: &[RequestedDeprecatedApi],
    params: &RemovedApiParams,
    target: MinorVersion,
) -> Vec<Finding> {
    series
        .iter()
        .filter_map(|s| {
            let rule = params.rules.by_resource(&s.group, &s.version, &s.resource);
            let removed_in = s.removed_release.or_else(|| rule.and_then(|r| r.removed_in));
            let status =
                if removed_in.is_some_and(|r| r <= target) { ApiStatus::Removed } else { ApiStatus::Deprecated };
            if status == ApiStatus::Deprecated && !params.deprecated {
                return None;
            }
            let api_version = s.api_version();
            let sub = if s.subresource.is_empty() { String::new() } else { format!(", subresource {}", s.subresource) };
            Some(Finding {
                kind: rule.map_or_else(|| s.resource.clone(), |r| r.kind.clone()),
                namespace: String::new(),
                name: String::new(),
                api_version,
                source: Source::Metrics,
                location: format!("{METRIC}: {} requested since the API server started{sub}", s.resource),
                status,
                deprecated_in: rule.and_then(|r| r.deprecated_in),
                removed_in,
                replacement: rule.and_then(|r| params.rules.replacement_at(r, target)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::split_api_version;

    #[test]
    fn escaped_label_values_and_timestamps_parse() {
        let line = r#"apiserver_requested_deprecated_apis{group="x\"y",removed_release="",resource="things",subresource="status",version="v1beta1"} 1 1700000000000"#;
        let s = parse_line(line).unwrap();
        assert_eq!((s.group.as_str(), s.subresource.as_str(), s.removed_release), ("x\"y", "status", None));
    }

    #[test]
    fn malformed_lines_and_zero_values_are_skipped() {
        for line in [
            "apiserver_requested_deprecated_apis{group=\"a\" 1",
            "apiserver_requested_deprecated_apis{group=\"a\"} x",
            "apiserver_requested_deprecated_apis{group=\"a\"} 0",
            "apiserver_requested_deprecated_apis_total{group=\"a\"} 1",
        ] {
            assert!(parse_line(line).is_none(), "{line}");
        }
    }

    #[test]
    fn split_api_version_is_consistent_with_series() {
        let s =
            parse_line(r#"apiserver_requested_deprecated_apis{group="",resource="componentstatuses",version="v1"} 1"#)
                .unwrap();
        assert_eq!(split_api_version(&s.api_version()), ("", "v1"));
    }
}
