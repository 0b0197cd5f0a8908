//! YAML that reads back the same in YAML 1.2 (serde_norway, restore) and
//! YAML 1.1 (kubectl's go-yaml, `kubectl apply -f backup/`).
//!
//! A general-purpose emitter writes `on`, `yes`, `n`, `1_000` or `1:20`
//! unquoted because YAML 1.2 reads them as strings; kubectl reads them as a
//! boolean or a number and then refuses a ConfigMap whose value is not a
//! string. Here a string is written plain only when it cannot be anything
//! else in either version (it starts with a letter, `/` or `_`, holds only
//! letters, digits and `._/=-` and inner spaces, and is no boolean or null
//! word), as a literal block when it spans lines, and double-quoted
//! otherwise. Keys follow the same rule; sequences sit at their key's
//! indentation, as kubectl prints them.

use std::fmt::Write;

use kube::api::DynamicObject;
use serde_json::{Map, Value};

/// `obj` as one YAML document: `apiVersion`, `kind`, `metadata`, then the
/// other fields in their map order.
pub(crate) fn object(obj: &DynamicObject) -> serde_json::Result<String> {
    let mut out = String::with_capacity(1024);
    if let Some(t) = &obj.types {
        pair(&mut out, 0, "apiVersion", &Value::String(t.api_version.clone()));
        pair(&mut out, 0, "kind", &Value::String(t.kind.clone()));
    }
    pair(&mut out, 0, "metadata", &serde_json::to_value(&obj.metadata)?);
    if let Value::Object(rest) = &obj.data {
        for (k, v) in rest {
            pair(&mut out, 0, k, v);
        }
    }
    Ok(out)
}

/// Any JSON value as a YAML document (for tests and other callers).
#[cfg(test)]
pub(crate) fn value(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => map(&mut out, 0, m),
        Value::Array(a) if !a.is_empty() => seq(&mut out, 0, a),
        scalar => {
            self::scalar(&mut out, 0, scalar);
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn map(out: &mut String, at: usize, m: &Map<String, Value>) {
    for (k, v) in m {
        pair(out, at, k, v);
    }
}

/// `key: value` at indentation `at`, the value inline when it is a scalar
/// or empty, else on the lines below.
fn pair(out: &mut String, at: usize, key: &str, v: &Value) {
    indent(out, at);
    string(out, at, key, true);
    out.push(':');
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            map(out, at + 2, m);
        }
        // Sequences under a key sit at the key's indentation, as kubectl prints them.
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            seq(out, at, a);
        }
        scalar => {
            out.push(' ');
            self::scalar(out, at, scalar);
            out.push('\n');
        }
    }
}

fn seq(out: &mut String, at: usize, items: &[Value]) {
    for item in items {
        indent(out, at);
        out.push('-');
        match item {
            Value::Object(m) if !m.is_empty() => {
                // The first pair on the dash's line, the others below it.
                out.push(' ');
                let mut first = true;
                for (k, v) in m {
                    if first {
                        let mut line = String::new();
                        pair(&mut line, at + 2, k, v);
                        out.push_str(&line[at + 2..]);
                        first = false;
                    } else {
                        pair(out, at + 2, k, v);
                    }
                }
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                seq(out, at + 2, a);
            }
            scalar => {
                out.push(' ');
                self::scalar(out, at, scalar);
                out.push('\n');
            }
        }
    }
}

fn scalar(out: &mut String, at: usize, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => number(out, n),
        Value::String(s) => string(out, at, s, false),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
}

/// Integers as they are; floats always with a `.` (YAML 1.1 reads `1e20` as a string).
fn number(out: &mut String, n: &serde_json::Number) {
    if n.is_f64() {
        match n.as_f64() {
            Some(f) if f.is_finite() => {
                let s = f.to_string();
                out.push_str(&s);
                if !s.contains('.') {
                    out.push_str(".0");
                }
            }
            _ => out.push_str(".nan"),
        }
    } else {
        let _ = write!(out, "{n}");
    }
}

/// Words that YAML 1.1 or 1.2 reads as a boolean or null.
const SPECIAL: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on",
    "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL",
];

fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    (first.is_ascii_alphabetic() || first == '/' || first == '_')
        && !s.ends_with(' ')
        && !s.contains("  ")
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'=' | b'-' | b' '))
        && !SPECIAL.contains(&s)
}

/// Multi-line text that a literal block keeps exactly: printable, no
/// carriage returns, not starting with a space (that would need an
/// indentation indicator).
fn literal_ok(s: &str) -> bool {
    s.contains('\n')
        && s.trim_end_matches('\n').contains(|c: char| c != '\n')
        && !s.starts_with([' ', '\n', '\t'])
        && s.chars().all(|c| c == '\n' || c == '\t' || !needs_escape(c))
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}')
}

fn string(out: &mut String, at: usize, s: &str, key: bool) {
    if plain_ok(s) {
        out.push_str(s);
    } else if !key && literal_ok(s) {
        let body = s.trim_end_matches('\n');
        let trailing = s.len() - body.len();
        out.push_str(match trailing {
            0 => "|-",
            1 => "|",
            _ => "|+",
        });
        for line in s[..s.len() - trailing.min(1)].split('\n') {
            out.push('\n');
            if !line.is_empty() {
                indent(out, at + 2);
                out.push_str(line);
            }
        }
    } else {
        quoted(out, s);
    }
}

fn quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn strings_a_yaml_1_1_reader_would_take_for_something_else_are_quoted() {
        let v = json!({"data": {"a": "on", "b": "yes", "c": "1:20", "d": "1_000", "e": "2024-01-01", "f": "NO",
            "g": "1.25.3", "h": "web", "i": "nginx:1.25", "j": "app.kubernetes.io/name", "k": "", "l": "~", "m": "y"}});
        let y = value(&v);
        assert_eq!(
            y,
            "data:\n  a: \"on\"\n  b: \"yes\"\n  c: \"1:20\"\n  d: \"1_000\"\n  e: \"2024-01-01\"\n  f: \"NO\"\n  g: \"1.25.3\"\n  h: web\n  i: \"nginx:1.25\"\n  j: app.kubernetes.io/name\n  k: \"\"\n  l: \"~\"\n  m: \"y\"\n"
        );
    }

    #[test]
    fn nested_maps_sequences_and_text_blocks_read_back_unchanged() {
        let v = json!({"spec": {"containers": [{"name": "web", "args": ["--port", "8080"], "env": [], "ports": [{"containerPort": 80}]}],
            "replicas": 3, "ratio": 0.5, "big": 1e20, "none": null, "empty": {}},
            "script": "#!/bin/sh\necho hi\n\n", "cert": "-----BEGIN-----\nabc\n-----END-----", "nested": [[1, 2], []]});
        let y = value(&v);
        // Key order follows the map (sorted, or insertion order when serde_json's
        // `preserve_order` is on somewhere in the build): check the pieces.
        assert!(y.contains("  containers:\n  - "), "{y}");
        assert!(y.contains("args:\n    - \"--port\"\n    - \"8080\"\n"), "{y}");
        assert!(y.contains("    env: []\n") && y.contains("name: web\n"), "{y}");
        assert!(y.contains("script: |+\n  #!/bin/sh\n  echo hi\n\n"), "{y}");
        assert!(y.contains("cert: |-\n  -----BEGIN-----\n"), "{y}");
        let back: Value = serde_norway::from_str(&y).unwrap();
        assert_eq!(back, v, "{y}");
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            (-1.0e6f64..1.0e6).prop_map(|f| json!(f)),
            "\\PC{0,12}".prop_map(Value::String),
            "[ a-zA-Z0-9:#\\-\n\t\"'|>&*!%@`,\\[\\]{}.]{0,16}".prop_map(Value::String),
            prop::sample::select(SPECIAL.to_vec()).prop_map(|s| Value::String(s.to_string())),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("[a-zA-Z0-9 :#./-]{0,8}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_json_document_reads_back_unchanged(v in json_value()) {
            let y = value(&v);
            let back: Value = serde_norway::from_str(&y).map_err(|e| TestCaseError::fail(format!("{e}\n{y}")))?;
            prop_assert_eq!(back, v, "{}", y);
        }
    }
}
