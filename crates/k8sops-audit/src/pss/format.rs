//! Helpers shared by the checks: upstream's container visitor and its
//! message formatting (`joinQuote`, `pluralize`, Go's `%q`).

use k8s_openapi::api::core::v1::{ContainerPort, Lifecycle, PodSpec, Probe, SecurityContext};

/// The fields of a container or ephemeral container the checks read.
pub(super) struct ContainerRef<'a> {
    pub(super) name: &'a str,
    pub(super) security_context: Option<&'a SecurityContext>,
    pub(super) ports: &'a [ContainerPort],
    pub(super) liveness_probe: Option<&'a Probe>,
    pub(super) readiness_probe: Option<&'a Probe>,
    pub(super) startup_probe: Option<&'a Probe>,
    pub(super) lifecycle: Option<&'a Lifecycle>,
}

/// Init containers, then containers, then ephemeral containers, as upstream's `visitContainers`.
pub(super) fn containers(spec: &PodSpec) -> impl Iterator<Item = ContainerRef<'_>> {
    let init = spec.init_containers.iter().flatten();
    let regular = spec.containers.iter();
    let common = init.chain(regular).map(|c| ContainerRef {
        name: &c.name,
        security_context: c.security_context.as_ref(),
        ports: c.ports.as_deref().unwrap_or_default(),
        liveness_probe: c.liveness_probe.as_ref(),
        readiness_probe: c.readiness_probe.as_ref(),
        startup_probe: c.startup_probe.as_ref(),
        lifecycle: c.lifecycle.as_ref(),
    });
    let ephemeral = spec.ephemeral_containers.iter().flatten().map(|c| ContainerRef {
        name: &c.name,
        security_context: c.security_context.as_ref(),
        ports: c.ports.as_deref().unwrap_or_default(),
        liveness_probe: c.liveness_probe.as_ref(),
        readiness_probe: c.readiness_probe.as_ref(),
        startup_probe: c.startup_probe.as_ref(),
        lifecycle: c.lifecycle.as_ref(),
    });
    common.chain(ephemeral)
}

/// Upstream's `joinQuote`: `"a", "b"` (no escaping), empty for no items.
pub(super) fn join_quote<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let mut out = String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('"');
        out.push_str(item.as_ref());
        out.push('"');
    }
    out
}

/// Upstream's `pluralize`.
pub(super) fn pluralize<'a>(singular: &'a str, plural: &'a str, count: usize) -> &'a str {
    if count == 1 {
        singular
    } else {
        plural
    }
}

/// `container "a"` / `containers "a", "b"`.
pub(super) fn containers_phrase(names: &[&str]) -> String {
    format!("{} {}", pluralize("container", "containers", names.len()), join_quote(names))
}

/// Go's `%q` for a string (`strconv.Quote`).
///
/// Printable characters are kept; `\a \b \f \n \r \t \v`, `\\` and `\"` use
/// their short escapes, other ASCII controls `\xNN`, and other non-printable
/// characters `\uNNNN`/`\UNNNNNNNN`. Go's printability is Unicode's graphic
/// categories plus the ASCII space; this approximates it with Rust's control,
/// whitespace, format and private-use tests (exact for ASCII).
pub(super) fn go_quote(s: &str) -> String {
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
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

fn go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let cp = c as u32;
    let format_char = matches!(cp, 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE0001 | 0xE0020..=0xE007F);
    let private_use = matches!(cp, 0xE000..=0xF8FF | 0xF0000..=0x10FFFF);
    let noncharacter = matches!(cp, 0xFFFE | 0xFFFF);
    !(c.is_control() || c.is_whitespace() || format_char || private_use || noncharacter)
}
