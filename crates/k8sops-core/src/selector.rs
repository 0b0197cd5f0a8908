//! Label and field selectors: builders that print the API server's syntax,
//! parsers for it, and matching.

use std::{collections::BTreeMap, fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// The error returned for a selector the API server would reject.
///
/// ```
/// let err = "app in (web".parse::<k8sops_core::LabelSelector>().unwrap_err();
/// println!("{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid selector {input:?}: {reason}")]
pub struct ParseSelectorError {
    input: String,
    reason: String,
}

/// One requirement of a [`LabelSelector`].
///
/// ```
/// use k8sops_core::{selector::LabelRequirement, LabelSelector};
/// let s: LabelSelector = "app=web,tier notin (batch)".parse().unwrap();
/// assert_eq!(s.requirements()[0], LabelRequirement::Equals("app".into(), "web".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum LabelRequirement {
    /// `key=value`
    Equals(String, String),
    /// `key!=value` (also matches objects without the key)
    NotEquals(String, String),
    /// `key in (a,b)`
    In(String, Vec<String>),
    /// `key notin (a,b)` (also matches objects without the key)
    NotIn(String, Vec<String>),
    /// `key`
    Exists(String),
    /// `!key`
    DoesNotExist(String),
    /// `key>N` (integer comparison)
    GreaterThan(String, i64),
    /// `key<N` (integer comparison)
    LessThan(String, i64),
}

impl LabelRequirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            LabelRequirement::Equals(k, v) => labels.get(k) == Some(v),
            LabelRequirement::NotEquals(k, v) => labels.get(k) != Some(v),
            LabelRequirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            LabelRequirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            LabelRequirement::Exists(k) => labels.contains_key(k),
            LabelRequirement::DoesNotExist(k) => !labels.contains_key(k),
            LabelRequirement::GreaterThan(k, n) => {
                labels.get(k).and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v > *n)
            }
            LabelRequirement::LessThan(k, n) => {
                labels.get(k).and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v < *n)
            }
        }
    }
}

impl fmt::Display for LabelRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelRequirement::Equals(k, v) => write!(f, "{k}={v}"),
            LabelRequirement::NotEquals(k, v) => write!(f, "{k}!={v}"),
            LabelRequirement::In(k, vs) => write!(f, "{k} in ({})", vs.join(",")),
            LabelRequirement::NotIn(k, vs) => write!(f, "{k} notin ({})", vs.join(",")),
            LabelRequirement::Exists(k) => write!(f, "{k}"),
            LabelRequirement::DoesNotExist(k) => write!(f, "!{k}"),
            LabelRequirement::GreaterThan(k, n) => write!(f, "{k}>{n}"),
            LabelRequirement::LessThan(k, n) => write!(f, "{k}<{n}"),
        }
    }
}

/// A label selector: every requirement must hold. The empty selector matches
/// everything; [`LabelSelector::nothing`] matches nothing (what a
/// PodDisruptionBudget or Service with a null selector selects).
///
/// ```
/// use std::collections::BTreeMap;
/// use k8sops_core::LabelSelector;
/// let sel = LabelSelector::new().eq("app", "web").not_in("tier", ["canary"]).exists("team");
/// assert_eq!(sel.to_string(), "app=web,tier notin (canary),team");
/// let labels = BTreeMap::from([("app".to_string(), "web".to_string()), ("team".to_string(), "a".to_string())]);
/// assert!(sel.matches(&labels));
/// assert_eq!("app=web,tier notin (canary),team".parse::<LabelSelector>()?, sel);
/// # Ok::<(), k8sops_core::selector::ParseSelectorError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelSelector {
    requirements: Vec<LabelRequirement>,
    matches_nothing: bool,
}

impl LabelSelector {
    /// The empty selector (matches everything).
    ///
    /// ```
    /// let all = k8sops_core::LabelSelector::new();
    /// assert!(all.is_empty() && all.matches(&Default::default()));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// A selector that matches nothing.
    ///
    /// ```
    /// assert!(!k8sops_core::LabelSelector::nothing().matches(&Default::default()));
    /// ```
    pub fn nothing() -> Self {
        LabelSelector { requirements: Vec::new(), matches_nothing: true }
    }

    /// Adds `key=value`.
    ///
    /// ```
    /// assert_eq!(k8sops_core::LabelSelector::new().eq("app", "web").to_string(), "app=web");
    /// ```
    #[must_use]
    pub fn eq(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.requirements.push(LabelRequirement::Equals(key.into(), value.into()));
        self
    }

    /// Adds `key!=value`.
    ///
    /// ```
    /// assert_eq!(k8sops_core::LabelSelector::new().ne("tier", "batch").to_string(), "tier!=batch");
    /// ```
    #[must_use]
    pub fn ne(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.requirements.push(LabelRequirement::NotEquals(key.into(), value.into()));
        self
    }

    /// Adds `key in (values)`.
    ///
    /// ```
    /// let s = k8sops_core::LabelSelector::new().in_values("env", ["prod", "staging"]);
    /// assert_eq!(s.to_string(), "env in (prod,staging)");
    /// ```
    #[must_use]
    pub fn in_values<I, S>(mut self, key: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.requirements.push(LabelRequirement::In(key.into(), values.into_iter().map(Into::into).collect()));
        self
    }

    /// Adds `key notin (values)`.
    ///
    /// ```
    /// let s = k8sops_core::LabelSelector::new().not_in("env", ["dev"]);
    /// assert_eq!(s.to_string(), "env notin (dev)");
    /// ```
    #[must_use]
    pub fn not_in<I, S>(mut self, key: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.requirements.push(LabelRequirement::NotIn(key.into(), values.into_iter().map(Into::into).collect()));
        self
    }

    /// Adds `key` (the label exists).
    ///
    /// ```
    /// assert_eq!(k8sops_core::LabelSelector::new().exists("team").to_string(), "team");
    /// ```
    #[must_use]
    pub fn exists(mut self, key: impl Into<String>) -> Self {
        self.requirements.push(LabelRequirement::Exists(key.into()));
        self
    }

    /// Adds `!key` (the label does not exist).
    ///
    /// ```
    /// assert_eq!(k8sops_core::LabelSelector::new().does_not_exist("legacy").to_string(), "!legacy");
    /// ```
    #[must_use]
    pub fn does_not_exist(mut self, key: impl Into<String>) -> Self {
        self.requirements.push(LabelRequirement::DoesNotExist(key.into()));
        self
    }

    /// The requirements, in order.
    ///
    /// ```
    /// assert_eq!(k8sops_core::LabelSelector::new().eq("a", "b").requirements().len(), 1);
    /// ```
    pub fn requirements(&self) -> &[LabelRequirement] {
        &self.requirements
    }

    /// Whether the selector has no requirements (and so matches everything).
    ///
    /// ```
    /// assert!(k8sops_core::LabelSelector::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty() && !self.matches_nothing
    }

    /// Whether `labels` satisfy every requirement.
    ///
    /// ```
    /// use k8sops_core::LabelSelector;
    /// assert!(LabelSelector::new().ne("env", "prod").matches(&Default::default()));
    /// ```
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.matches_nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Converts the structured selector of a Deployment, PDB or NetworkPolicy.
    /// A `None` selector matches nothing; an empty one matches everything.
    ///
    /// ```
    /// use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
    /// use k8sops_core::LabelSelector;
    /// let s = meta::LabelSelector { match_labels: Some([("app".to_string(), "db".to_string())].into()), ..Default::default() };
    /// assert_eq!(LabelSelector::from_k8s(Some(&s)).unwrap().to_string(), "app=db");
    /// ```
    pub fn from_k8s(
        selector: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    ) -> Result<Self, ParseSelectorError> {
        let Some(selector) = selector else {
            return Ok(Self::nothing());
        };
        let mut out = Self::new();
        for (k, v) in selector.match_labels.iter().flatten() {
            out = out.eq(k, v);
        }
        for expr in selector.match_expressions.iter().flatten() {
            let values = expr.values.clone().unwrap_or_default();
            let req = match expr.operator.as_str() {
                "In" => LabelRequirement::In(expr.key.clone(), values),
                "NotIn" => LabelRequirement::NotIn(expr.key.clone(), values),
                "Exists" => LabelRequirement::Exists(expr.key.clone()),
                "DoesNotExist" => LabelRequirement::DoesNotExist(expr.key.clone()),
                other => {
                    return Err(ParseSelectorError {
                        input: format!("{selector:?}"),
                        reason: format!("unknown operator {other:?}"),
                    })
                }
            };
            out.requirements.push(req);
        }
        Ok(out)
    }

    /// Builds an equality selector from a map, as Services and ReplicationControllers use.
    ///
    /// ```
    /// let m = std::collections::BTreeMap::from([("app".to_string(), "web".to_string())]);
    /// assert_eq!(k8sops_core::LabelSelector::from_map(&m).to_string(), "app=web");
    /// ```
    pub fn from_map(map: &BTreeMap<String, String>) -> Self {
        map.iter().fold(Self::new(), |s, (k, v)| s.eq(k, v))
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

fn valid_label_key(k: &str) -> bool {
    let name = match k.rsplit_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty() || prefix.len() > 253 {
                return false;
            }
            name
        }
        None => k,
    };
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn valid_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

impl FromStr for LabelSelector {
    type Err = ParseSelectorError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| ParseSelectorError { input: input.to_string(), reason };
        let mut sel = LabelSelector::new();
        if input.trim().is_empty() {
            return Ok(sel);
        }
        for raw in split_top_level(input) {
            let part = raw.trim();
            if part.is_empty() {
                return Err(err("empty requirement".into()));
            }
            let req = if let Some(key) = part.strip_prefix('!') {
                LabelRequirement::DoesNotExist(key.trim().to_string())
            } else if let Some((key, rest)) = split_set_op(part) {
                let (op, values) = rest;
                let values = values
                    .trim()
                    .strip_prefix('(')
                    .and_then(|v| v.strip_suffix(')'))
                    .ok_or_else(|| err(format!("expected (values) after {op}")))?;
                let values: Vec<String> =
                    values.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
                if let Some(bad) = values.iter().find(|v| !valid_label_value(v)) {
                    return Err(err(format!("invalid label value {bad:?}")));
                }
                if op == "in" {
                    LabelRequirement::In(key.to_string(), values)
                } else {
                    LabelRequirement::NotIn(key.to_string(), values)
                }
            } else if let Some((k, v)) = part.split_once("!=") {
                LabelRequirement::NotEquals(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                LabelRequirement::Equals(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once('>') {
                let n = v.trim().parse().map_err(|_| err(format!("{v:?} is not an integer")))?;
                LabelRequirement::GreaterThan(k.trim().to_string(), n)
            } else if let Some((k, v)) = part.split_once('<') {
                let n = v.trim().parse().map_err(|_| err(format!("{v:?} is not an integer")))?;
                LabelRequirement::LessThan(k.trim().to_string(), n)
            } else {
                LabelRequirement::Exists(part.to_string())
            };
            let (key, value) = match &req {
                LabelRequirement::Equals(k, v) | LabelRequirement::NotEquals(k, v) => (k, Some(v)),
                LabelRequirement::In(k, _)
                | LabelRequirement::NotIn(k, _)
                | LabelRequirement::Exists(k)
                | LabelRequirement::DoesNotExist(k)
                | LabelRequirement::GreaterThan(k, _)
                | LabelRequirement::LessThan(k, _) => (k, None),
            };
            if !valid_label_key(key) {
                return Err(err(format!("invalid label key {key:?}")));
            }
            if let Some(v) = value {
                if !valid_label_value(v) {
                    return Err(err(format!("invalid label value {v:?}")));
                }
            }
            sel.requirements.push(req);
        }
        Ok(sel)
    }
}

fn split_set_op(part: &str) -> Option<(&str, (&'static str, &str))> {
    for op in [" notin ", " in "] {
        if let Some(idx) = part.find(op) {
            let name = op.trim();
            let name: &'static str = if name == "in" { "in" } else { "notin" };
            return Some((part[..idx].trim(), (name, &part[idx + op.len()..])));
        }
    }
    // `key in(a)` without the space before the parenthesis
    for op in [" notin(", " in("] {
        if let Some(idx) = part.find(op) {
            let name: &'static str = if op.contains("notin") { "notin" } else { "in" };
            return Some((part[..idx].trim(), (name, &part[idx + op.len() - 1..])));
        }
    }
    None
}

/// One requirement of a [`FieldSelector`].
///
/// ```
/// let s = k8sops_core::FieldSelector::new().ne("status.phase", "Succeeded");
/// let r = &s.requirements()[0];
/// assert_eq!((r.field.as_str(), r.value.as_str(), r.negated), ("status.phase", "Succeeded", true));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldRequirement {
    /// The field path, e.g. `spec.nodeName`.
    pub field: String,
    /// The value compared against.
    pub value: String,
    /// `true` for `!=`, `false` for `=`.
    pub negated: bool,
}

/// A field selector such as `spec.nodeName=ip-10-0-1-5,status.phase!=Succeeded`.
///
/// Which fields a resource supports is decided by the API server;
/// `metadata.name` and `metadata.namespace` work everywhere.
///
/// ```
/// use k8sops_core::FieldSelector;
/// let sel = FieldSelector::new().eq("spec.nodeName", "node-1").ne("status.phase", "Succeeded");
/// assert_eq!(sel.to_string(), "spec.nodeName=node-1,status.phase!=Succeeded");
/// assert!(sel.matches(|f| match f { "spec.nodeName" => Some("node-1".into()), "status.phase" => Some("Running".into()), _ => None }));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// The empty selector.
    ///
    /// ```
    /// assert!(k8sops_core::FieldSelector::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `field=value`.
    ///
    /// ```
    /// let on_node = k8sops_core::FieldSelector::new().eq("spec.nodeName", "ip-10-0-0-5.ec2.internal");
    /// assert_eq!(on_node.to_string(), "spec.nodeName=ip-10-0-0-5.ec2.internal");
    /// ```
    #[must_use]
    pub fn eq(mut self, field: impl Into<String>, value: impl Into<String>) -> Self {
        self.requirements.push(FieldRequirement { field: field.into(), value: value.into(), negated: false });
        self
    }

    /// Adds `field!=value`.
    ///
    /// ```
    /// let unfinished = k8sops_core::FieldSelector::new().ne("status.phase", "Succeeded");
    /// assert_eq!(unfinished.to_string(), "status.phase!=Succeeded");
    /// ```
    #[must_use]
    pub fn ne(mut self, field: impl Into<String>, value: impl Into<String>) -> Self {
        self.requirements.push(FieldRequirement { field: field.into(), value: value.into(), negated: true });
        self
    }

    /// The requirements, in order.
    ///
    /// ```
    /// assert_eq!(k8sops_core::FieldSelector::new().eq("a", "b").requirements()[0].field, "a");
    /// ```
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Whether the selector has no requirements.
    ///
    /// ```
    /// assert!(k8sops_core::FieldSelector::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object satisfies the selector; `get` returns a field's value
    /// (a missing field compares as the empty string, as on the server).
    ///
    /// ```
    /// use k8sops_core::FieldSelector;
    /// assert!(FieldSelector::new().eq("spec.nodeName", "").matches(|_| None));
    /// ```
    pub fn matches(&self, mut get: impl FnMut(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| {
            let v = get(&r.field).unwrap_or_default();
            (v == r.value) != r.negated
        })
    }
}

fn escape_field_value(v: &str) -> String {
    v.replace('\\', "\\\\").replace(',', "\\,").replace('=', "\\=")
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .requirements
            .iter()
            .map(|r| format!("{}{}{}", r.field, if r.negated { "!=" } else { "=" }, escape_field_value(&r.value)))
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for FieldSelector {
    type Err = ParseSelectorError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| ParseSelectorError { input: input.to_string(), reason: reason.to_string() };
        let mut sel = FieldSelector::new();
        if input.trim().is_empty() {
            return Ok(sel);
        }
        // Split on unescaped commas, then on the first unescaped operator.
        let mut parts = vec![String::new()];
        let mut chars = input.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    parts.last_mut().expect("non-empty").push('\\');
                    if let Some(n) = chars.next() {
                        parts.last_mut().expect("non-empty").push(n);
                    }
                }
                ',' => parts.push(String::new()),
                c => parts.last_mut().expect("non-empty").push(c),
            }
        }
        for part in parts {
            let bytes: Vec<char> = part.chars().collect();
            let mut i = 0;
            let mut found = None;
            while i < bytes.len() {
                match bytes[i] {
                    '\\' => i += 2,
                    '!' if bytes.get(i + 1) == Some(&'=') => {
                        found = Some((i, 2, true));
                        break;
                    }
                    '=' => {
                        let len = if bytes.get(i + 1) == Some(&'=') { 2 } else { 1 };
                        found = Some((i, len, false));
                        break;
                    }
                    _ => i += 1,
                }
            }
            let (at, len, negated) = found.ok_or_else(|| err("expected field=value or field!=value"))?;
            let field: String = bytes[..at].iter().collect::<String>().trim().to_string();
            if field.is_empty() {
                return Err(err("empty field name"));
            }
            let raw: String = bytes[at + len..].iter().collect();
            let mut value = String::new();
            let mut it = raw.chars();
            while let Some(c) = it.next() {
                if c == '\\' {
                    match it.next() {
                        Some(n @ ('\\' | ',' | '=')) => value.push(n),
                        _ => return Err(err("invalid escape sequence")),
                    }
                } else {
                    value.push(c);
                }
            }
            sel.requirements.push(FieldRequirement { field, value, negated });
        }
        Ok(sel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn label_selectors_match_like_the_api_server() {
        let l = labels(&[("app", "web"), ("tier", "frontend"), ("replicas", "3")]);
        let yes = [
            "app=web",
            "app==web",
            "app!=db",
            "app in (web,db)",
            "env notin (prod)",
            "tier",
            "!env",
            "replicas>2",
            "replicas<4",
            "",
            "app=web,tier=frontend",
        ];
        let no = [
            "app=db",
            "app!=web",
            "app in (db)",
            "tier notin (frontend)",
            "env",
            "!tier",
            "replicas>3",
            "app=web,tier=backend",
        ];
        for s in yes {
            assert!(s.parse::<LabelSelector>().unwrap().matches(&l), "{s} should match");
        }
        for s in no {
            assert!(!s.parse::<LabelSelector>().unwrap().matches(&l), "{s} should not match");
        }
    }

    #[test]
    fn label_selectors_round_trip_through_display() {
        for s in [
            "app=web",
            "app!=web",
            "a in (x,y)",
            "a notin (x)",
            "a",
            "!a",
            "eks.amazonaws.com/nodegroup=workers",
            "a>5",
        ] {
            assert_eq!(s.parse::<LabelSelector>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn invalid_label_selectors_are_errors() {
        for s in ["app=we b", "a in x", "=x", "a,,b", "a>x", "-bad=1"] {
            assert!(s.parse::<LabelSelector>().is_err(), "{s} should be rejected");
        }
    }

    #[test]
    fn field_selectors_parse_escapes_and_negation() {
        let sel: FieldSelector = r"metadata.name=a\,b,status.phase!=Failed".parse().unwrap();
        assert_eq!(sel.requirements()[0].value, "a,b");
        assert!(sel.requirements()[1].negated);
        assert_eq!(sel.to_string(), r"metadata.name=a\,b,status.phase!=Failed");
        assert!("nonsense".parse::<FieldSelector>().is_err());
        assert!(r"a=b\x".parse::<FieldSelector>().is_err());
    }
}
