//! Checks run before anything is sent, so bad input is refused with a
//! message instead of a Velero object stuck in `FailedValidation`: object
//! and namespace names (RFC 1123), include/exclude lists (Velero's own
//! rules), labels, label selectors and cron schedules.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8sops_core::{selector::LabelRequirement, LabelSelector};

use crate::Result;

fn invalid(message: String) -> crate::Error {
    k8sops_core::Error::InvalidInput { message, source: None }.into()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub(crate) fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 63
        && b.first().is_some_and(alnum)
        && b.last().is_some_and(alnum)
        && b.iter().all(|c| alnum(c) || *c == b'-')
}

/// Dot-separated RFC 1123 labels, at most 253 characters.
pub(crate) fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// The name of a Backup, Restore or Schedule: Kubernetes takes any RFC 1123
/// subdomain as a custom resource's name.
pub(crate) fn object_name(kind: &str, name: &str) -> Result<()> {
    if is_dns1123_subdomain(name) {
        return Ok(());
    }
    Err(invalid(format!(
        "{kind} name {name:?} is not valid: it must be a lowercase RFC 1123 subdomain (lower case letters, digits, '-' and '.', \
         starting and ending with a letter or digit, at most 253 characters)"
    )))
}

/// A namespace name as Velero's include/exclude lists take it: `*`, or an
/// RFC 1123 label where the glob characters `*`, `?`, `[` and `]` may stand
/// for letters (Velero's `validateNamespaceName`).
fn namespace_pattern(what: &str, ns: &str) -> Result<()> {
    if ns == "*" {
        return Ok(());
    }
    let opened = ns.matches('[').count();
    let stand_in: String = ns.chars().map(|c| if matches!(c, '*' | '?' | '[' | ']') { 'x' } else { c }).collect();
    if opened == ns.matches(']').count() && is_dns1123_label(&stand_in) {
        return Ok(());
    }
    Err(invalid(format!(
        "{what}: invalid namespace {ns:?}: it must be an RFC 1123 label (lower case letters, digits and '-', at most 63 characters), \
         optionally with the glob characters * ? [ ]"
    )))
}

/// Velero's `ValidateNamespaceIncludesExcludes`: `*` alone or names,
/// nothing both included and excluded, no `*` among the excluded.
pub(crate) fn namespace_filters(included: &[String], excluded: &[String]) -> Result<()> {
    if included.len() > 1 && included.iter().any(|n| n == "*") {
        return Err(invalid("included namespaces must be either '*' alone or a list of namespaces, not both".into()));
    }
    if excluded.iter().any(|n| n == "*") {
        return Err(invalid("excluded namespaces cannot contain '*'".into()));
    }
    if let Some(both) = excluded.iter().find(|n| included.contains(n)) {
        return Err(invalid(format!("namespace {both:?} is both included and excluded")));
    }
    for ns in included {
        namespace_pattern("included namespaces", ns)?;
    }
    for ns in excluded {
        namespace_pattern("excluded namespaces", ns)?;
    }
    Ok(())
}

/// Velero's `ValidateIncludesExcludes` for resource lists.
pub(crate) fn resource_filters(included: &[String], excluded: &[String]) -> Result<()> {
    if included.len() > 1 && included.iter().any(|n| n == "*") {
        return Err(invalid("included resources must be either '*' alone or a list of resources, not both".into()));
    }
    if excluded.iter().any(|n| n == "*") {
        return Err(invalid("excluded resources cannot contain '*'".into()));
    }
    if let Some(both) = excluded.iter().find(|n| included.contains(n)) {
        return Err(invalid(format!("resource {both:?} is both included and excluded")));
    }
    if let Some(bad) = included.iter().chain(excluded).find(|r| r.is_empty() || r.contains(char::is_whitespace)) {
        return Err(invalid(format!("{bad:?} is not a resource name (use resource.group, e.g. deployments.apps)")));
    }
    Ok(())
}

/// A namespace as a restore's namespace mapping names it: a plain RFC 1123 label.
pub(crate) fn mapped_namespace(ns: &str) -> Result<()> {
    if is_dns1123_label(ns) {
        return Ok(());
    }
    Err(invalid(format!(
        "namespace mapping: {ns:?} is not a namespace name (lower case letters, digits and '-', at most 63 characters)"
    )))
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, at most 63 characters.
fn is_qualified_part(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_alphanumeric();
    !b.is_empty()
        && b.len() <= 63
        && b.first().is_some_and(alnum)
        && b.last().is_some_and(alnum)
        && b.iter().all(|c| alnum(c) || matches!(c, b'-' | b'_' | b'.'))
}

/// Label keys (`[prefix/]name`) and values, as the API server checks them.
pub(crate) fn labels(what: &str, labels: &BTreeMap<String, String>) -> Result<()> {
    for (key, value) in labels {
        let key_ok = match key.split_once('/') {
            Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_qualified_part(name),
            None => is_qualified_part(key),
        };
        if !key_ok {
            return Err(invalid(format!(
                "{what}: {key:?} is not a valid label key ([prefix/]name; name: letters, digits, '-', '_', '.', at most 63 characters)"
            )));
        }
        if !(value.is_empty() || is_qualified_part(value)) {
            return Err(invalid(format!(
                "{what}: value {value:?} of label {key:?} is not valid (letters, digits, '-', '_', '.', at most 63 characters)"
            )));
        }
    }
    Ok(())
}

/// The structured form of a selector, as Velero's `--selector` writes it
/// (`metav1.ParseToLabelSelector`): equalities in `matchLabels`, the rest
/// in `matchExpressions`. `key!=value`, which that parser refuses, becomes
/// the equivalent `key notin (value)`.
pub(crate) fn label_selector(selector: &LabelSelector) -> Result<meta::LabelSelector> {
    let mut match_labels = BTreeMap::new();
    let mut exprs = Vec::new();
    let expr = |key: &str, operator: &str, values: Option<Vec<String>>| meta::LabelSelectorRequirement {
        key: key.to_string(),
        operator: operator.to_string(),
        values,
    };
    for req in selector.requirements() {
        match req {
            LabelRequirement::Equals(k, v) => {
                match_labels.insert(k.clone(), v.clone());
            }
            LabelRequirement::NotEquals(k, v) => exprs.push(expr(k, "NotIn", Some(vec![v.clone()]))),
            LabelRequirement::In(k, vs) => exprs.push(expr(k, "In", Some(vs.clone()))),
            LabelRequirement::NotIn(k, vs) => exprs.push(expr(k, "NotIn", Some(vs.clone()))),
            LabelRequirement::Exists(k) => exprs.push(expr(k, "Exists", None)),
            LabelRequirement::DoesNotExist(k) => exprs.push(expr(k, "DoesNotExist", None)),
            other => {
                return Err(invalid(format!(
                "label selector {selector}: {other} cannot be written as a Kubernetes LabelSelector (no > or < there)"
            )))
            }
        }
    }
    Ok(meta::LabelSelector {
        match_labels: (!match_labels.is_empty()).then_some(match_labels),
        match_expressions: (!exprs.is_empty()).then_some(exprs),
    })
}

/// A selector as `metav1.FormatLabelSelector` prints it: requirements
/// sorted by key, `<none>` when there are none.
pub(crate) fn format_selector(selector: Option<&meta::LabelSelector>) -> String {
    let Some(s) = selector else { return "<none>".into() };
    let mut parts: Vec<(String, String)> = Vec::new();
    for (k, v) in s.match_labels.iter().flatten() {
        parts.push((k.clone(), format!("{k}={v}")));
    }
    for e in s.match_expressions.iter().flatten() {
        let mut values = e.values.clone().unwrap_or_default();
        values.sort();
        let text = match e.operator.as_str() {
            "In" => format!("{} in ({})", e.key, values.join(",")),
            "NotIn" => format!("{} notin ({})", e.key, values.join(",")),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            _ => return "<error>".into(),
        };
        parts.push((e.key.clone(), text));
    }
    parts.sort();
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(",")
    }
}

/// A cron schedule as Velero's server parses it (robfig/cron
/// `ParseStandard`): five fields (minute, hour, day of month, month, day
/// of week) with `*`, `?`, ranges, steps, lists and month/day names, or a
/// descriptor (`@daily`, `@every 6h`), optionally after `CRON_TZ=Zone `.
pub(crate) fn cron(schedule: &str) -> Result<()> {
    let bad = |why: String| invalid(format!("schedule {schedule:?} is not a valid cron expression: {why}"));
    let mut spec = schedule.trim();
    if spec.is_empty() {
        return Err(bad("it is empty".into()));
    }
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        spec = match spec.split_once(char::is_whitespace) {
            Some((_, rest)) => rest.trim_start(),
            None => return Err(bad("a time zone without a schedule".into())),
        };
    }
    if let Some(descriptor) = spec.strip_prefix('@') {
        return match descriptor {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => Ok(()),
            _ => match descriptor.strip_prefix("every ") {
                Some(d) if super::go_duration::parse(d.trim()).is_ok_and(|d| !d.is_zero()) => Ok(()),
                Some(d) => Err(bad(format!("{d:?} is not a positive Go duration"))),
                None => Err(bad(format!("unknown descriptor @{descriptor}"))),
            },
        };
    }
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(bad(format!(
            "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
            fields.len()
        )));
    }
    let bounds: [(&str, u32, u32, &[&str]); 5] = [
        ("minute", 0, 59, &[]),
        ("hour", 0, 23, &[]),
        ("day of month", 1, 31, &[]),
        ("month", 1, 12, &MONTHS),
        ("day of week", 0, 6, &DAYS),
    ];
    for (field, (what, min, max, names)) in fields.iter().zip(bounds) {
        let value = |s: &str| -> Option<u32> {
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
                // Month names count from 1, day names from 0 (Sunday).
                return Some(i as u32 + min);
            }
            s.parse().ok()
        };
        for part in field.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (part, None),
            };
            if let Some(step) = step {
                if !step.parse::<u32>().is_ok_and(|s| s > 0) {
                    return Err(bad(format!("{what}: step {step:?} is not a positive number")));
                }
            }
            if range == "*" || range == "?" {
                continue;
            }
            let (lo, hi) = match range.split_once('-') {
                Some((a, b)) => (value(a), value(b)),
                None => (value(range), value(range)),
            };
            match (lo, hi) {
                (Some(lo), Some(hi)) if lo <= hi && lo >= min && hi <= max => {}
                _ => return Err(bad(format!("{what}: {part:?} is outside {min}-{max}"))),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_follow_rfc_1123() {
        assert!(object_name("backup", "nightly-2024.01").is_ok());
        for bad in ["", "Nightly", "-a", "a-", "a_b", "a..b", &"a".repeat(254)] {
            assert!(object_name("backup", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn namespace_lists_follow_velero_rules() {
        assert!(namespace_filters(&v(&["*"]), &v(&["kube-system"])).is_ok());
        assert!(namespace_filters(&v(&["shop", "team-*", "app-[ab]"]), &[]).is_ok());
        assert!(namespace_filters(&v(&["*", "shop"]), &[]).is_err());
        assert!(namespace_filters(&v(&["shop"]), &v(&["*"])).is_err());
        assert!(namespace_filters(&v(&["shop"]), &v(&["shop"])).is_err());
        assert!(namespace_filters(&v(&["Shop"]), &[]).is_err());
        assert!(namespace_filters(&v(&["app-[ab"]), &[]).is_err());
    }

    #[test]
    fn labels_are_checked_like_the_api_server() {
        let ok = BTreeMap::from([("app.kubernetes.io/name".to_string(), "web".to_string()), ("k".into(), "".into())]);
        assert!(labels("labels", &ok).is_ok());
        for (k, val) in [("bad key", "v"), ("k", "bad value"), ("/k", "v"), ("k", "-v")] {
            let m = BTreeMap::from([(k.to_string(), val.to_string())]);
            assert!(labels("labels", &m).is_err(), "{k}={val}");
        }
    }

    #[test]
    fn selectors_become_match_labels_and_expressions_like_velero_writes_them() {
        let s: LabelSelector = "app=web,tier!=db,env in (prod,stage),!legacy".parse().unwrap();
        let k = label_selector(&s).unwrap();
        assert_eq!(k.match_labels, Some(BTreeMap::from([("app".into(), "web".into())])));
        let exprs = k.match_expressions.unwrap();
        assert_eq!(exprs[0].operator, "NotIn");
        assert_eq!(exprs[0].values, Some(vec!["db".to_string()]));
        assert_eq!(exprs[2].operator, "DoesNotExist");
        assert!(label_selector(&"n>3".parse().unwrap()).is_err());
        let back = label_selector(&"b=2,a in (y,x)".parse().unwrap()).unwrap();
        assert_eq!(format_selector(Some(&back)), "a in (x,y),b=2");
        assert_eq!(format_selector(None), "<none>");
    }

    #[test]
    fn cron_schedules_are_checked_like_robfig_parse_standard() {
        for ok in
            ["0 7 * * *", "*/15 0-6 * * mon-fri", "0 0 1 jan,jul ?", "@daily", "@every 6h", "CRON_TZ=UTC 0 1 * * 0"]
        {
            assert!(cron(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "0 7 * *",
            "60 * * * *",
            "0 24 * * *",
            "0 0 0 * *",
            "0 0 * 13 *",
            "*/0 * * * *",
            "@weekday",
            "@every x",
        ] {
            assert!(cron(bad).is_err(), "{bad:?}");
        }
    }
}
