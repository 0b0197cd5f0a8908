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

/// Go's `%q` for a string (`strconv.Quote`), shared with the RBAC texts.
pub(super) use crate::go_fmt::quote as go_quote;
