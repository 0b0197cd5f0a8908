//! Aggregated ClusterRoles: the rules the cluster role aggregation
//! controller (`pkg/controller/clusterroleaggregation`) writes into a
//! ClusterRole with an `aggregationRule`, to tell a stale one.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::snapshot::{meta_name, RbacSnapshot};
use super::validation::{is_qualified_name, is_valid_label_value};
use crate::go_fmt::{items, quote};

/// Why the aggregated rules of a ClusterRole cannot be computed.
///
/// ```
/// use k8s_openapi::api::rbac::v1::ClusterRole;
/// use k8sops_audit::rbac::{aggregate, AggregationError};
/// let plain = ClusterRole::default();
/// assert!(matches!(aggregate(&plain, &[]), Err(AggregationError::NotAggregated { .. })));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AggregationError {
    /// The ClusterRole has no `aggregationRule`; the controller leaves it alone.
    NotAggregated {
        /// The ClusterRole name.
        name: String,
    },
    /// A selector cannot be turned into a label selector; the controller
    /// fails and leaves the rules as they are.
    InvalidSelector {
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for AggregationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAggregated { name } => write!(f, "clusterrole {} has no aggregationRule", quote(name)),
            Self::InvalidSelector { message } => write!(f, "invalid clusterRoleSelector: {message}"),
        }
    }
}

impl std::error::Error for AggregationError {}

/// How the stored rules of a ClusterRole compare with what aggregation would write.
///
/// ```
/// use k8sops_audit::rbac::AggregationStatus;
/// assert_ne!(AggregationStatus::UpToDate, AggregationStatus::NotAggregated);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum AggregationStatus {
    /// No `aggregationRule`.
    NotAggregated,
    /// The stored rules are what the controller would write.
    UpToDate,
    /// The stored rules differ (in content or order) from what the controller would write.
    Stale {
        /// The rules the controller would write.
        expected: Vec<PolicyRule>,
    },
    /// A selector is invalid, so the controller cannot aggregate.
    Invalid(AggregationError),
}

/// One requirement of a label selector (`labels.Requirement`).
enum Requirement<'a> {
    Equals(&'a str, &'a str),
    In(&'a str, &'a [String]),
    NotIn(&'a str, &'a [String]),
    Exists(&'a str),
    DoesNotExist(&'a str),
}

impl Requirement<'_> {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match *self {
            Self::Equals(key, value) => labels.get(key).is_some_and(|v| v == value),
            Self::In(key, values) => labels.get(key).is_some_and(|v| values.contains(v)),
            Self::NotIn(key, values) => labels.get(key).is_none_or(|v| !values.contains(v)),
            Self::Exists(key) => labels.contains_key(key),
            Self::DoesNotExist(key) => !labels.contains_key(key),
        }
    }
}

fn invalid(message: String) -> AggregationError {
    AggregationError::InvalidSelector { message }
}

fn check_key(key: &str) -> Result<(), AggregationError> {
    if is_qualified_name(key) {
        Ok(())
    } else {
        Err(invalid(format!("key: Invalid value: {}: not a qualified name", quote(key))))
    }
}

fn check_values(values: &[String]) -> Result<(), AggregationError> {
    match values.iter().find(|v| !is_valid_label_value(v)) {
        Some(v) => Err(invalid(format!("values: Invalid value: {}: not a valid label value", quote(v)))),
        None => Ok(()),
    }
}

/// `metav1.LabelSelectorAsSelector` of a (non-nil) selector: `None` when it
/// selects everything (no labels and no expressions).
fn parse_selector(selector: &LabelSelector) -> Result<Option<Vec<Requirement<'_>>>, AggregationError> {
    let labels = selector.match_labels.iter().flatten();
    let expressions = selector.match_expressions.iter().flatten();
    let mut out = Vec::new();
    for (key, value) in labels {
        check_key(key)?;
        check_values(std::slice::from_ref(value))?;
        out.push(Requirement::Equals(key, value));
    }
    for e in expressions {
        let values = items(&e.values);
        let r = match e.operator.as_str() {
            "In" => Requirement::In(&e.key, values),
            "NotIn" => Requirement::NotIn(&e.key, values),
            "Exists" => Requirement::Exists(&e.key),
            "DoesNotExist" => Requirement::DoesNotExist(&e.key),
            other => return Err(invalid(format!("{} is not a valid label selector operator", quote(other)))),
        };
        check_key(&e.key)?;
        match r {
            Requirement::In(..) | Requirement::NotIn(..) if values.is_empty() => {
                return Err(invalid("values: for 'in', 'notin' operators, values set can't be empty".into()));
            }
            Requirement::Exists(_) | Requirement::DoesNotExist(_) if !values.is_empty() => {
                return Err(invalid("values: values set must be empty for exists and does not exist".into()));
            }
            _ => {}
        }
        check_values(values)?;
        out.push(r);
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}

/// Whether two rules are equal as `equality.Semantic.DeepEqual` sees them
/// (an absent list equals an empty one).
fn same_rule(a: &PolicyRule, b: &PolicyRule) -> bool {
    a.verbs == b.verbs
        && items(&a.api_groups) == items(&b.api_groups)
        && items(&a.resources) == items(&b.resources)
        && items(&a.resource_names) == items(&b.resource_names)
        && items(&a.non_resource_urls) == items(&b.non_resource_urls)
}

/// The rules the aggregation controller writes into `role` given all
/// ClusterRoles `all` (which may include `role`): for each selector of its
/// `aggregationRule`, in order, the ClusterRoles whose labels match it, by
/// name, skipping `role` itself; each of their stored rules in order unless
/// an equal rule is already there.
///
/// ```
/// use std::collections::BTreeMap;
/// use k8s_openapi::api::rbac::v1::{AggregationRule, ClusterRole, PolicyRule};
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
/// use k8sops_audit::rbac::aggregate;
/// let label = BTreeMap::from([("rbac.example.com/aggregate-to-monitoring".to_string(), "true".to_string())]);
/// let monitoring = ClusterRole {
///     metadata: ObjectMeta { name: Some("monitoring".into()), ..Default::default() },
///     aggregation_rule: Some(AggregationRule {
///         cluster_role_selectors: Some(vec![LabelSelector { match_labels: Some(label.clone()), ..Default::default() }]),
///     }),
///     ..Default::default()
/// };
/// let endpoints = ClusterRole {
///     metadata: ObjectMeta { name: Some("monitoring-endpoints".into()), labels: Some(label), ..Default::default() },
///     rules: Some(vec![PolicyRule {
///         api_groups: Some(vec!["".into()]), resources: Some(vec!["endpoints".into()]), verbs: vec!["get".into()],
///         ..Default::default()
///     }]),
///     ..Default::default()
/// };
/// let rules = aggregate(&monitoring, &[monitoring.clone(), endpoints]).unwrap();
/// assert_eq!(rules.len(), 1);
/// ```
pub fn aggregate(role: &ClusterRole, all: &[ClusterRole]) -> Result<Vec<PolicyRule>, AggregationError> {
    let own_name = meta_name(&role.metadata);
    let Some(rule) = &role.aggregation_rule else {
        return Err(AggregationError::NotAggregated { name: own_name.to_owned() });
    };
    let mut sorted: Vec<&ClusterRole> = all.iter().collect();
    sorted.sort_by(|a, b| meta_name(&a.metadata).cmp(meta_name(&b.metadata)));
    let no_labels = BTreeMap::new();
    let mut out: Vec<PolicyRule> = Vec::new();
    for selector in rule.cluster_role_selectors.iter().flatten() {
        let requirements = parse_selector(selector)?;
        for candidate in &sorted {
            let labels = candidate.metadata.labels.as_ref().unwrap_or(&no_labels);
            let selected = requirements.as_ref().is_none_or(|reqs| reqs.iter().all(|r| r.matches(labels)));
            if !selected || meta_name(&candidate.metadata) == own_name {
                continue;
            }
            for r in candidate.rules.iter().flatten() {
                if !out.iter().any(|existing| same_rule(existing, r)) {
                    out.push(r.clone());
                }
            }
        }
    }
    Ok(out)
}

/// Whether the stored rules of `role` are what [`aggregate`] computes.
///
/// ```
/// use k8s_openapi::api::rbac::v1::{AggregationRule, ClusterRole};
/// use k8sops_audit::rbac::{aggregation_status, AggregationStatus};
/// let empty_aggregate = ClusterRole { aggregation_rule: Some(AggregationRule::default()), ..Default::default() };
/// assert_eq!(aggregation_status(&empty_aggregate, &[]), AggregationStatus::UpToDate);
/// ```
pub fn aggregation_status(role: &ClusterRole, all: &[ClusterRole]) -> AggregationStatus {
    match aggregate(role, all) {
        Err(AggregationError::NotAggregated { .. }) => AggregationStatus::NotAggregated,
        Err(e) => AggregationStatus::Invalid(e),
        Ok(expected) => {
            let stored = role.rules.as_deref().unwrap_or(&[]);
            if stored.len() == expected.len() && stored.iter().zip(&expected).all(|(a, b)| same_rule(a, b)) {
                AggregationStatus::UpToDate
            } else {
                AggregationStatus::Stale { expected }
            }
        }
    }
}

impl RbacSnapshot {
    /// The [`AggregationStatus`] of every aggregated ClusterRole, by name.
    ///
    /// ```
    /// use k8sops_audit::rbac::RbacSnapshot;
    /// assert!(RbacSnapshot::default().aggregation_report().is_empty());
    /// ```
    pub fn aggregation_report(&self) -> Vec<(String, AggregationStatus)> {
        self.cluster_roles()
            .iter()
            .filter(|r| r.aggregation_rule.is_some())
            .map(|r| (meta_name(&r.metadata).to_owned(), aggregation_status(r, self.cluster_roles())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::attributes::Attributes;
    use super::super::snapshot::tests::*;
    use super::super::user::UserInfo;
    use super::*;
    use k8s_openapi::api::rbac::v1::AggregationRule;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labelled(name: &str, labels: &[(&str, &str)], rules: Vec<PolicyRule>) -> ClusterRole {
        let mut r = cluster_role(name, rules);
        r.metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        r
    }

    fn selector(labels: &[(&str, &str)]) -> LabelSelector {
        LabelSelector {
            match_labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            match_expressions: None,
        }
    }

    fn aggregated(name: &str, selectors: Vec<LabelSelector>, stored: Vec<PolicyRule>) -> ClusterRole {
        let mut r = cluster_role(name, stored);
        r.aggregation_rule = Some(AggregationRule { cluster_role_selectors: Some(selectors) });
        r
    }

    #[test]
    fn aggregates_by_selector_then_name_without_duplicates() {
        let get_pods = rule(&[""], &["pods"], &["get"]);
        let list_pods = rule(&[""], &["pods"], &["list"]);
        let deploys = rule(&["apps"], &["deployments"], &["get"]);
        let all = vec![
            labelled("z-view", &[("view", "true")], vec![get_pods.clone(), list_pods.clone()]),
            labelled("a-view", &[("view", "true")], vec![deploys.clone()]),
            labelled("edit-extra", &[("edit", "true")], vec![get_pods.clone(), rule(&[""], &["pods"], &["delete"])]),
            labelled("unrelated", &[("view", "false")], vec![rule(&["*"], &["*"], &["*"])]),
            aggregated("edit", vec![selector(&[("edit", "true")]), selector(&[("view", "true")])], vec![]),
        ];
        let edit = all.last().cloned().unwrap();
        let rules = aggregate(&edit, &all).unwrap();
        assert_eq!(rules, vec![get_pods, rule(&[""], &["pods"], &["delete"]), deploys, list_pods]);
    }

    #[test]
    fn semantic_equality_treats_absent_and_empty_lists_alike() {
        let with_empty = PolicyRule { resource_names: Some(vec![]), ..rule(&[""], &["pods"], &["get"]) };
        let all = vec![
            labelled("a", &[("x", "1")], vec![rule(&[""], &["pods"], &["get"])]),
            labelled("b", &[("x", "1")], vec![with_empty]),
        ];
        let agg = aggregated("agg", vec![selector(&[("x", "1")])], vec![]);
        assert_eq!(aggregate(&agg, &all).unwrap().len(), 1);
    }

    #[test]
    fn aggregated_roles_include_other_aggregates_but_not_themselves() {
        let inner = labelled("inner", &[("x", "1")], vec![rule(&[""], &["a"], &["get"])]);
        let mut outer = aggregated("outer", vec![selector(&[("x", "1")])], vec![rule(&[""], &["stale"], &["get"])]);
        outer.metadata.labels = Some([("x".to_string(), "1".to_string())].into());
        let all = vec![inner, outer.clone()];
        assert_eq!(aggregate(&outer, &all).unwrap(), vec![rule(&[""], &["a"], &["get"])]);
    }

    #[test]
    fn expressions_and_empty_selectors() {
        let all = vec![
            labelled("a", &[("tier", "web")], vec![rule(&[""], &["a"], &["get"])]),
            labelled("b", &[("tier", "db")], vec![rule(&[""], &["b"], &["get"])]),
            labelled("c", &[], vec![rule(&[""], &["c"], &["get"])]),
        ];
        let expr = |op: &str, values: &[&str]| LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: op.into(),
                values: (!values.is_empty()).then(|| strings(values)),
            }]),
        };
        let names = |sel: LabelSelector| -> Vec<String> {
            aggregate(&aggregated("agg", vec![sel], vec![]), &all)
                .unwrap()
                .iter()
                .flat_map(|r| r.resources.clone().unwrap_or_default())
                .collect()
        };
        assert_eq!(names(expr("In", &["web", "db"])), ["a", "b"]);
        assert_eq!(names(expr("NotIn", &["web"])), ["b", "c"]);
        assert_eq!(names(expr("Exists", &[])), ["a", "b"]);
        assert_eq!(names(expr("DoesNotExist", &[])), ["c"]);
        // An empty selector selects every ClusterRole.
        assert_eq!(names(LabelSelector::default()), ["a", "b", "c"]);
        // Invalid selectors make the controller fail.
        for bad in [
            expr("in", &["web"]),
            expr("In", &[]),
            expr("Exists", &["x"]),
            selector(&[("bad key", "v")]),
            selector(&[("k", "bad value")]),
        ] {
            assert!(matches!(
                aggregate(&aggregated("agg", vec![bad], vec![]), &all),
                Err(AggregationError::InvalidSelector { .. })
            ));
        }
    }

    #[test]
    fn stale_aggregations_are_reported_and_authorize_uses_stored_rules() {
        let source = labelled("extra", &[("agg", "true")], vec![rule(&[""], &["pods"], &["get"])]);
        let stale = aggregated("agg", vec![selector(&[("agg", "true")])], vec![]);
        let fresh = aggregated("fresh", vec![selector(&[("agg", "true")])], vec![rule(&[""], &["pods"], &["get"])]);
        let s = RbacSnapshot::new(
            [],
            [source, stale, fresh, cluster_role("plain", vec![])],
            [],
            [crb("b", "agg", vec![subject("User", "u", None)]), crb("f", "fresh", vec![subject("User", "f", None)])],
        );
        let report = s.aggregation_report();
        assert_eq!(report.len(), 2);
        assert_eq!(report[0].0, "agg");
        assert_eq!(report[0].1, AggregationStatus::Stale { expected: vec![rule(&[""], &["pods"], &["get"])] });
        assert_eq!(report[1], ("fresh".to_string(), AggregationStatus::UpToDate));
        // The authorizer reads the stored (stale, empty) rules.
        let attrs = Attributes::resource("get", "", "pods", "x");
        assert!(!s.authorize(&UserInfo::new("u", [] as [&str; 0]), &attrs).allowed);
        assert!(s.authorize(&UserInfo::new("f", [] as [&str; 0]), &attrs).allowed);
        assert_eq!(aggregation_status(&cluster_role("plain", vec![]), &[]), AggregationStatus::NotAggregated);
    }
}
