//! Whether one policy rule allows one request: `RuleAllows` of
//! `plugin/pkg/auth/authorizer/rbac/rbac.go` and the helpers of
//! `pkg/apis/rbac/v1/evaluation_helpers.go`.

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::attributes::Attributes;
use crate::go_fmt::items;

/// `VerbMatches`: a rule verb equal to the verb, or `*`.
///
/// ```
/// use k8s_openapi::api::rbac::v1::PolicyRule;
/// use k8sops_audit::rbac::verb_matches;
/// let rule = PolicyRule { verbs: vec!["get".into(), "list".into()], ..Default::default() };
/// assert!(verb_matches(&rule, "list"));
/// assert!(!verb_matches(&rule, "watch"));
/// ```
pub fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

/// `APIGroupMatches`: a rule API group equal to the group (`""` is the core
/// group), or `*`.
///
/// ```
/// use k8s_openapi::api::rbac::v1::PolicyRule;
/// use k8sops_audit::rbac::api_group_matches;
/// let rule = PolicyRule { api_groups: Some(vec!["".into()]), ..Default::default() };
/// assert!(api_group_matches(&rule, ""));
/// assert!(!api_group_matches(&rule, "apps"));
/// ```
pub fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    items(&rule.api_groups).iter().any(|g| g == "*" || g == group)
}

/// `ResourceMatches`: a rule resource equal to `combined_resource`
/// (`resource` or `resource/subresource`), `*`, or `*/<subresource>` when the
/// request is on that subresource. There is no `resource/*` form upstream: a
/// rule resource `pods/*` only equals a request on a subresource named `*`.
///
/// ```
/// use k8s_openapi::api::rbac::v1::PolicyRule;
/// use k8sops_audit::rbac::resource_matches;
/// let rule = PolicyRule { resources: Some(vec!["*/scale".into()]), ..Default::default() };
/// assert!(resource_matches(&rule, "deployments/scale", "scale"));
/// assert!(!resource_matches(&rule, "deployments", ""));
/// ```
pub fn resource_matches(rule: &PolicyRule, combined_resource: &str, subresource: &str) -> bool {
    items(&rule.resources)
        .iter()
        .any(|r| r == "*" || r == combined_resource || (!subresource.is_empty() && is_star_subresource(r, subresource)))
}

/// `*/<subresource>`, compared as upstream does (length, prefix and suffix).
fn is_star_subresource(rule_resource: &str, subresource: &str) -> bool {
    rule_resource.len() == subresource.len() + 2
        && rule_resource.starts_with("*/")
        && rule_resource.ends_with(subresource)
}

/// [`resource_matches`] without building `resource/subresource`.
fn resource_matches_parts(rule: &PolicyRule, resource: &str, subresource: &str) -> bool {
    items(&rule.resources).iter().any(|r| {
        if r == "*" {
            return true;
        }
        if subresource.is_empty() {
            return r == resource;
        }
        let b = r.as_bytes();
        (b.len() == resource.len() + 1 + subresource.len()
            && b.starts_with(resource.as_bytes())
            && b.get(resource.len()) == Some(&b'/')
            && b.ends_with(subresource.as_bytes()))
            || is_star_subresource(r, subresource)
    })
}

/// `ResourceNameMatches`: a rule without resource names matches any name; a
/// rule with resource names matches only those names, so never a request
/// without a name (list, watch of a collection, create without a name).
///
/// ```
/// use k8s_openapi::api::rbac::v1::PolicyRule;
/// use k8sops_audit::rbac::resource_name_matches;
/// let rule = PolicyRule { resource_names: Some(vec!["db".into()]), ..Default::default() };
/// assert!(resource_name_matches(&rule, "db"));
/// assert!(!resource_name_matches(&rule, ""));
/// ```
pub fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    let names = items(&rule.resource_names);
    names.is_empty() || names.iter().any(|n| n == name)
}

/// `NonResourceURLMatches`: a rule URL equal to the path, `*`, or ending in
/// `*` and a prefix of the path once the trailing `*`s are removed.
///
/// ```
/// use k8s_openapi::api::rbac::v1::PolicyRule;
/// use k8sops_audit::rbac::non_resource_url_matches;
/// let rule = PolicyRule { non_resource_urls: Some(vec!["/apis/*".into()]), ..Default::default() };
/// assert!(non_resource_url_matches(&rule, "/apis/apps/v1"));
/// assert!(!non_resource_url_matches(&rule, "/apis"));
/// ```
pub fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    items(&rule.non_resource_urls)
        .iter()
        .any(|u| u == "*" || u == path || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*'))))
}

/// `RuleAllows`: whether `rule` allows the request.
///
/// ```
/// use k8s_openapi::api::rbac::v1::PolicyRule;
/// use k8sops_audit::rbac::{rule_allows, Attributes};
/// let rule = PolicyRule {
///     api_groups: Some(vec!["".into()]),
///     resources: Some(vec!["pods".into(), "pods/log".into()]),
///     verbs: vec!["get".into()],
///     ..Default::default()
/// };
/// assert!(rule_allows(&Attributes::resource("get", "", "pods", "dev").subresource("log"), &rule));
/// assert!(!rule_allows(&Attributes::resource("get", "", "pods", "dev").subresource("exec"), &rule));
/// ```
pub fn rule_allows(attributes: &Attributes, rule: &PolicyRule) -> bool {
    if attributes.resource_request {
        verb_matches(rule, &attributes.verb)
            && api_group_matches(rule, &attributes.api_group)
            && resource_matches_parts(rule, &attributes.resource, &attributes.subresource)
            && resource_name_matches(rule, &attributes.name)
    } else {
        verb_matches(rule, &attributes.verb) && non_resource_url_matches(rule, &attributes.path)
    }
}

/// `RulesAllow`: whether any of `rules` allows the request.
///
/// ```
/// use k8s_openapi::api::rbac::v1::PolicyRule;
/// use k8sops_audit::rbac::{rules_allow, Attributes};
/// let rules = [PolicyRule { non_resource_urls: Some(vec!["/healthz".into()]), verbs: vec!["get".into()], ..Default::default() }];
/// assert!(rules_allow(&Attributes::non_resource("get", "/healthz"), &rules));
/// ```
pub fn rules_allow(attributes: &Attributes, rules: &[PolicyRule]) -> bool {
    rules.iter().any(|r| rule_allows(attributes, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
        PolicyRule {
            api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
            resources: Some(resources.iter().map(|s| s.to_string()).collect()),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn urls(urls: &[&str], verbs: &[&str]) -> PolicyRule {
        PolicyRule {
            non_resource_urls: Some(urls.iter().map(|s| s.to_string()).collect()),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn wildcards_match_everything() {
        let all = rule(&["*"], &["*"], &["*"]);
        for a in [
            Attributes::resource("delete", "apps", "deployments", "x"),
            Attributes::resource("get", "", "pods", "").subresource("exec").name("p"),
            Attributes::resource("escalate", "rbac.authorization.k8s.io", "clusterroles", ""),
        ] {
            assert!(rule_allows(&a, &all), "{a:?}");
        }
        // A resource rule never allows a non-resource URL.
        assert!(!rule_allows(&Attributes::non_resource("get", "/healthz"), &all));
    }

    #[test]
    fn each_part_must_match() {
        let r = rule(&["apps"], &["deployments"], &["get"]);
        assert!(rule_allows(&Attributes::resource("get", "apps", "deployments", "x"), &r));
        assert!(!rule_allows(&Attributes::resource("list", "apps", "deployments", "x"), &r));
        assert!(!rule_allows(&Attributes::resource("get", "", "deployments", "x"), &r));
        assert!(!rule_allows(&Attributes::resource("get", "apps", "statefulsets", "x"), &r));
        // A rule on the resource does not cover its subresources.
        assert!(!rule_allows(&Attributes::resource("get", "apps", "deployments", "x").subresource("scale"), &r));
        // A rule without API groups matches no resource request.
        let no_groups = PolicyRule { api_groups: None, ..r };
        assert!(!rule_allows(&Attributes::resource("get", "", "deployments", "x"), &no_groups));
    }

    #[test]
    fn star_slash_subresource() {
        let r = rule(&["*"], &["*/scale"], &["update"]);
        assert!(rule_allows(&Attributes::resource("update", "apps", "deployments", "x").subresource("scale"), &r));
        assert!(rule_allows(
            &Attributes::resource("update", "", "replicationcontrollers", "x").subresource("scale"),
            &r
        ));
        assert!(!rule_allows(&Attributes::resource("update", "apps", "deployments", "x"), &r));
        assert!(!rule_allows(&Attributes::resource("update", "apps", "deployments", "x").subresource("status"), &r));
        // Same length, prefix and suffix rule as upstream.
        assert!(!resource_matches(&r, "deployments/xscale", "xscale"));
        assert!(resource_matches(&r, "deployments/scale", "scale"));
    }

    #[test]
    fn resource_slash_star_is_not_a_wildcard() {
        let r = rule(&[""], &["pods/*"], &["get"]);
        assert!(!rule_allows(&Attributes::resource("get", "", "pods", "x").subresource("log"), &r));
        assert!(!rule_allows(&Attributes::resource("get", "", "pods", "x"), &r));
        // Only a subresource literally named "*" equals it.
        assert!(rule_allows(&Attributes::resource("get", "", "pods", "x").subresource("*"), &r));
    }

    #[test]
    fn explicit_subresource() {
        let r = rule(&[""], &["pods/log"], &["get"]);
        assert!(rule_allows(&Attributes::resource("get", "", "pods", "x").subresource("log"), &r));
        assert!(!rule_allows(&Attributes::resource("get", "", "pods", "x"), &r));
        assert!(!rule_allows(&Attributes::resource("get", "", "podsx", "x").subresource("og"), &r));
        assert!(!rule_allows(&Attributes::resource("get", "", "pod", "x").subresource("s/log"), &r));
    }

    #[test]
    fn resource_names_never_match_unnamed_requests() {
        let r = PolicyRule { resource_names: Some(vec!["db".into()]), ..rule(&[""], &["secrets"], &["get", "list"]) };
        assert!(rule_allows(&Attributes::resource("get", "", "secrets", "x").name("db"), &r));
        assert!(!rule_allows(&Attributes::resource("get", "", "secrets", "x").name("other"), &r));
        assert!(!rule_allows(&Attributes::resource("list", "", "secrets", "x"), &r));
        // An empty list is no restriction.
        let open = PolicyRule { resource_names: Some(vec![]), ..r };
        assert!(rule_allows(&Attributes::resource("list", "", "secrets", "x"), &open));
    }

    #[test]
    fn non_resource_urls() {
        let r = urls(&["/healthz", "/apis/*", "/logs**"], &["get"]);
        assert!(rule_allows(&Attributes::non_resource("get", "/healthz"), &r));
        assert!(!rule_allows(&Attributes::non_resource("get", "/healthz/ready"), &r));
        assert!(!rule_allows(&Attributes::non_resource("post", "/healthz"), &r));
        assert!(rule_allows(&Attributes::non_resource("get", "/apis/"), &r));
        assert!(rule_allows(&Attributes::non_resource("get", "/apis/apps"), &r));
        assert!(!rule_allows(&Attributes::non_resource("get", "/apis"), &r));
        assert!(rule_allows(&Attributes::non_resource("get", "/logs"), &r));
        assert!(rule_allows(&Attributes::non_resource("get", "/logsx/y"), &r));
        let star = urls(&["*"], &["*"]);
        assert!(rule_allows(&Attributes::non_resource("head", "/anything"), &star));
        // A non-resource rule never allows a resource request.
        assert!(!rule_allows(&Attributes::resource("get", "", "pods", ""), &star));
    }

    #[test]
    fn rules_allow_any() {
        let rules = [rule(&[""], &["pods"], &["get"]), urls(&["/version"], &["get"])];
        assert!(rules_allow(&Attributes::non_resource("get", "/version"), &rules));
        assert!(!rules_allow(&Attributes::non_resource("get", "/healthz"), &rules));
        assert!(!rules_allow(&Attributes::non_resource("get", "/healthz"), &[]));
    }

    #[test]
    fn combined_and_parts_agree() {
        let r = rule(&["*"], &["pods", "pods/log", "*/status", "*", "a/b/c"], &["*"]);
        let cases = [("pods", ""), ("pods", "log"), ("nodes", "status"), ("a", "b/c"), ("a/b", "c"), ("x", "y")];
        let only =
            |res: &[&str]| PolicyRule { resources: Some(res.iter().map(|s| s.to_string()).collect()), ..r.clone() };
        for rs in [vec!["pods"], vec!["pods/log"], vec!["*/status"], vec!["a/b/c"], vec!["x"]] {
            let rr = only(&rs);
            for (res, sub) in cases {
                let a = Attributes::resource("get", "", res, "").subresource(sub);
                assert_eq!(
                    resource_matches_parts(&rr, res, sub),
                    resource_matches(&rr, &a.combined_resource(), sub),
                    "{rs:?} {res} {sub}"
                );
            }
        }
    }
}
