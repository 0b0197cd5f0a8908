//! The `Events:` section of `kubectl describe`: one row per event with its
//! type, reason, age, source and message, where an event seen several times
//! shows its age as `5s (x3 over 2m)` — the last time, the count, and the
//! first time. Node and pod descriptions print it the same way.

use std::fmt::Write as _;

use k8s_openapi::{api::core::v1::Event, jiff::Timestamp};
use serde::Serialize;

use crate::age::age_since;

/// One event as `kubectl describe` shows it.
///
/// ```
/// use k8s_openapi::api::core::v1::Event;
/// let e: Event = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "web.1"}, "involvedObject": {"kind": "Pod", "name": "web"},
///     "type": "Warning", "reason": "BackOff", "message": "Back-off restarting failed container",
///     "count": 3, "source": {"component": "kubelet"},
///     "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:02:00Z"})).unwrap();
/// let row = k8sops_core::describe::DescribedEvent::from_event(&e);
/// let now = "2026-01-01T00:02:05Z".parse().unwrap();
/// assert_eq!(row.age(now), "5s (x3 over 2m5s)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DescribedEvent {
    /// `Normal` or `Warning`.
    pub type_: String,
    /// Reason (`Killing`, `BackOff`, `FailedScheduling`).
    pub reason: String,
    /// Message, trimmed.
    pub message: String,
    /// Who reported it (`source.component`, else `reportingController`).
    pub source: String,
    /// When it was first seen (`eventTime`, else `firstTimestamp`).
    pub first_seen: Option<Timestamp>,
    /// When it was last seen (the series' last observation, else
    /// `lastTimestamp`; see [`crate::object_status::event_last_seen`]).
    pub last_seen: Option<Timestamp>,
    /// How many times (`series.count`, else `count`, at least 1).
    pub count: i32,
    /// Whether kubectl prints it as repeated (`(xN over …)`): it has a
    /// series, or a count above one.
    pub repeated: bool,
}

impl DescribedEvent {
    /// The row for one event.
    ///
    /// ```
    /// use k8s_openapi::api::core::v1::Event;
    /// let e: Event = serde_json::from_value(serde_json::json!({
    ///     "metadata": {"name": "n.1"}, "involvedObject": {"kind": "Node", "name": "n"},
    ///     "type": "Normal", "reason": "NodeReady", "message": " ready ", "reportingComponent": "kubelet"})).unwrap();
    /// let row = k8sops_core::describe::DescribedEvent::from_event(&e);
    /// assert_eq!((row.message.as_str(), row.source.as_str(), row.count), ("ready", "kubelet", 1));
    /// ```
    pub fn from_event(e: &Event) -> Self {
        let first_seen = e.event_time.as_ref().map(|t| t.0).or_else(|| e.first_timestamp.as_ref().map(|t| t.0));
        let (last_seen, count, repeated) = match &e.series {
            Some(s) => (s.last_observed_time.as_ref().map(|t| t.0), s.count.unwrap_or(1), true),
            None => {
                let count = e.count.unwrap_or(1);
                (e.last_timestamp.as_ref().map(|t| t.0), count, count > 1)
            }
        };
        DescribedEvent {
            type_: e.type_.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
            message: e.message.as_deref().unwrap_or_default().trim().to_string(),
            source: e
                .source
                .as_ref()
                .and_then(|s| s.component.clone())
                .filter(|c| !c.is_empty())
                .or_else(|| e.reporting_component.clone())
                .unwrap_or_default(),
            first_seen,
            last_seen,
            count: count.max(1),
            repeated,
        }
    }

    /// The AGE cell: the first time's age, or for a repeated event
    /// `LAST (xCOUNT over FIRST)`.
    ///
    /// ```
    /// let row = k8sops_core::describe::DescribedEvent {
    ///     type_: "Normal".into(), reason: "Pulled".into(), message: String::new(), source: "kubelet".into(),
    ///     first_seen: Some("2026-01-01T00:00:00Z".parse().unwrap()), last_seen: None, count: 1, repeated: false,
    /// };
    /// assert_eq!(row.age("2026-01-01T00:01:30Z".parse().unwrap()), "90s");
    /// ```
    pub fn age(&self, now: Timestamp) -> String {
        let first = age_since(self.first_seen, now);
        if self.repeated {
            format!("{} (x{} over {first})", age_since(self.last_seen, now), self.count)
        } else {
            first
        }
    }
}

/// The `Events:` section as `kubectl describe` prints it: `Events:  <none>`,
/// or a table indented by two spaces with a dashed line under its headers,
/// columns separated by at least two spaces (kubectl's tab writer).
///
/// ```
/// use k8sops_core::describe::{events_section, DescribedEvent};
/// let now = "2026-01-01T00:00:10Z".parse().unwrap();
/// let row = DescribedEvent {
///     type_: "Normal".into(), reason: "Killing".into(), message: "Stopping container c".into(),
///     source: "kubelet".into(), first_seen: Some("2026-01-01T00:00:00Z".parse().unwrap()),
///     last_seen: None, count: 1, repeated: false,
/// };
/// assert_eq!(events_section(&[row], now), "\
/// Events:
///   Type    Reason   Age   From     Message
///   ----    ------   ----  ----     -------
///   Normal  Killing  10s   kubelet  Stopping container c
/// ");
/// assert_eq!(events_section(&[], now), "Events:  <none>\n");
/// ```
pub fn events_section(events: &[DescribedEvent], now: Timestamp) -> String {
    if events.is_empty() {
        return "Events:  <none>\n".into();
    }
    let mut rows: Vec<[String; 5]> = vec![
        ["Type", "Reason", "Age", "From", "Message"].map(String::from),
        ["----", "------", "----", "----", "-------"].map(String::from),
    ];
    for e in events {
        rows.push([e.type_.clone(), e.reason.clone(), e.age(now), e.source.clone(), e.message.clone()]);
    }
    // Widths of the first four columns (the last cell is not padded), the
    // two-space indent counted in the first, plus two spaces of padding.
    let mut widths = [0usize; 4];
    for r in &rows {
        for (i, w) in widths.iter_mut().enumerate() {
            let indent = if i == 0 { 2 } else { 0 };
            *w = (*w).max(r[i].chars().count() + indent + 2);
        }
    }
    let mut out = String::from("Events:\n");
    for r in &rows {
        let mut line = String::from("  ");
        for (i, w) in widths.iter().enumerate() {
            let indent = if i == 0 { 2 } else { 0 };
            let _ = write!(line, "{}{}", r[i], " ".repeat(w - r[i].chars().count() - indent));
        }
        line.push_str(&r[4]);
        out.push_str(&line);
        out.push('\n');
    }
    out
}
