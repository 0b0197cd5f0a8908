//! Name checks of `k8s.io/apimachinery/pkg/util/validation` that the RBAC
//! evaluation depends on: the service account user name split
//! (`serviceaccount.SplitUsername`) and label selector requirements
//! (`labels.NewRequirement`).

/// One DNS-1123 label part: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
fn is_dns1123_label_part(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => alnum(first) && alnum(last) && b.iter().all(|&c| alnum(c) || c == b'-'),
        _ => false,
    }
}

/// `validation.IsDNS1123Label`: at most 63 characters.
pub(crate) fn is_dns1123_label(s: &str) -> bool {
    s.len() <= 63 && is_dns1123_label_part(s)
}

/// `validation.IsDNS1123Subdomain`: at most 253 characters of dot-separated labels.
pub(crate) fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label_part)
}

/// The name part of a qualified name or a label value:
/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, at most 63 characters.
fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    s.len() <= 63
        && match (b.first(), b.last()) {
            (Some(&first), Some(&last)) => {
                alnum(first) && alnum(last) && b.iter().all(|&c| alnum(c) || matches!(c, b'-' | b'_' | b'.'))
            }
            _ => false,
        }
}

/// `validation.IsQualifiedName`: `[prefix/]name`, the prefix a DNS-1123 subdomain.
pub(crate) fn is_qualified_name(s: &str) -> bool {
    let mut parts = s.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(name), None, None) => is_qualified_name_part(name),
        (Some(prefix), Some(name), None) => {
            !prefix.is_empty() && is_dns1123_subdomain(prefix) && is_qualified_name_part(name)
        }
        _ => false,
    }
}

/// `validation.IsValidLabelValue`: empty, or a qualified name part.
pub(crate) fn is_valid_label_value(s: &str) -> bool {
    s.is_empty() || is_qualified_name_part(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert!(is_dns1123_label("kube-system"));
        assert!(!is_dns1123_label("Kube"));
        assert!(!is_dns1123_label("-a"));
        assert!(!is_dns1123_label(""));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(is_dns1123_subdomain("my.sa-1"));
        assert!(!is_dns1123_subdomain("my..sa"));
        assert!(!is_dns1123_subdomain("a:b"));
    }

    #[test]
    fn label_keys_and_values() {
        assert!(is_qualified_name("rbac.example.com/aggregate-to-view"));
        assert!(is_qualified_name("app"));
        assert!(!is_qualified_name("/app"));
        assert!(!is_qualified_name("a/b/c"));
        assert!(!is_qualified_name("Bad_Prefix/app"));
        assert!(is_valid_label_value(""));
        assert!(is_valid_label_value("true"));
        assert!(!is_valid_label_value("has space"));
    }
}
