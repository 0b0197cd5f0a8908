//! Small reproductions of Go formatting used in the texts the API server and
//! kubectl print: `%q` (`strconv.Quote`), `%v` of a `[]string`, and the
//! message of an `errors.Aggregate` from `k8s.io/apimachinery/pkg/util/errors`.

use std::fmt::Write as _;

/// Go's `strconv.Quote` (what `%q` prints for a string).
///
/// Printable code points are kept, `"` and `\` are escaped, the usual control
/// characters use their short escapes and everything else `\xNN`, `\uNNNN` or
/// `\UNNNNNNNN`. Go's `unicode.IsPrint` is approximated: control characters,
/// spaces other than U+0020 and the common format characters (soft hyphen,
/// zero-width and bidi controls, BOM) count as non-printable.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(
        c as u32,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064
            | 0x2066..=0x206f | 0xfeff | 0xfff9..=0xfffb | 0xe000..=0xf8ff
    )
}

/// `fmt.Sprintf("%v", []string{...})`: `[a b c]`, `[]` when empty or nil.
pub(crate) fn list(items: &[String]) -> String {
    let mut out = String::with_capacity(2 + items.iter().map(|s| s.len() + 1).sum::<usize>());
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(item);
    }
    out.push(']');
    out
}

/// The message of `utilerrors.NewAggregate(errs)`: `None` without errors, the
/// message itself for one error, otherwise the distinct messages in order,
/// `[a, b]` (or just `a` when all messages are the same).
pub(crate) fn aggregate<S: AsRef<str>>(messages: &[S]) -> Option<String> {
    match messages {
        [] => None,
        [one] => Some(one.as_ref().to_owned()),
        many => {
            let mut seen: Vec<&str> = Vec::with_capacity(many.len());
            for m in many {
                let m = m.as_ref();
                if !seen.contains(&m) {
                    seen.push(m);
                }
            }
            if seen.len() == 1 {
                Some(seen.concat())
            } else {
                Some(format!("[{}]", seen.join(", ")))
            }
        }
    }
}

/// The items of an optional list, empty when absent (Go's nil slice).
pub(crate) fn items(list: &Option<Vec<String>>) -> &[String] {
    list.as_deref().unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_like_go() {
        assert_eq!(quote("alice"), "\"alice\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("tab\there\n"), "\"tab\\there\\n\"");
        assert_eq!(quote("\u{1}"), "\"\\x01\"");
        assert_eq!(quote("\u{7f}"), "\"\\x7f\"");
        assert_eq!(quote("\u{a0}"), "\"\\u00a0\"");
        assert_eq!(quote("\u{200b}"), "\"\\u200b\"");
        assert_eq!(quote("héllo ✓"), "\"héllo ✓\"");
        assert_eq!(quote(""), "\"\"");
    }

    #[test]
    fn list_like_go() {
        assert_eq!(list(&[]), "[]");
        assert_eq!(list(&["get".to_owned()]), "[get]");
        assert_eq!(list(&["get".to_owned(), "list".to_owned()]), "[get list]");
    }

    #[test]
    fn aggregate_like_utilerrors() {
        assert_eq!(aggregate::<&str>(&[]), None);
        assert_eq!(aggregate(&["a"]).as_deref(), Some("a"));
        assert_eq!(aggregate(&["a", "b"]).as_deref(), Some("[a, b]"));
        assert_eq!(aggregate(&["a", "a"]).as_deref(), Some("a"));
        assert_eq!(aggregate(&["a", "b", "a"]).as_deref(), Some("[a, b]"));
    }
}
