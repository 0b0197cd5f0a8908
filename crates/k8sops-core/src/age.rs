//! Human-readable ages, exactly as kubectl prints them (`5d`, `3h12m`, `45s`).

use std::time::Duration;

/// Formats a duration the way kubectl's AGE column does
/// (`k8s.io/apimachinery/pkg/util/duration.HumanDuration`).
///
/// ```
/// use std::time::Duration;
/// use k8sops_core::human_duration;
/// assert_eq!(human_duration(Duration::from_secs(45)), "45s");
/// assert_eq!(human_duration(Duration::from_secs(150)), "2m30s");
/// assert_eq!(human_duration(Duration::from_secs(3 * 3600 + 12 * 60)), "3h12m");
/// assert_eq!(human_duration(Duration::from_secs(5 * 86400)), "5d");
/// assert_eq!(human_duration(Duration::from_secs(400 * 86400)), "400d");
/// ```
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 * 2 {
        if secs == 0 && d.subsec_nanos() == 0 {
            return "0s".into();
        }
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 { format!("{}y", hours / 24 / 365) } else { format!("{}y{dy}d", hours / 24 / 365) };
    }
    format!("{}y", hours / 24 / 365)
}

/// The age of a timestamp relative to `now`, as kubectl prints it
/// (`translateTimestampSince` and `HumanDuration`): `<unknown>` when there is
/// no timestamp, `<invalid>` for one two seconds or more in the future (one
/// second ahead is clock skew and prints `0s`).
///
/// ```
/// use k8sops_core::age::age_since;
/// let now = k8s_openapi::jiff::Timestamp::from_second(1_000_000).unwrap();
/// let created = k8s_openapi::jiff::Timestamp::from_second(1_000_000 - 3700).unwrap();
/// assert_eq!(age_since(Some(created), now), "61m");
/// assert_eq!(age_since(None, now), "<unknown>");
/// let later = k8s_openapi::jiff::Timestamp::from_second(1_000_000 + 60).unwrap();
/// assert_eq!(age_since(Some(later), now), "<invalid>");
/// ```
pub fn age_since(ts: Option<k8s_openapi::jiff::Timestamp>, now: k8s_openapi::jiff::Timestamp) -> String {
    match ts {
        None => "<unknown>".into(),
        Some(ts) => {
            let elapsed = now.duration_since(ts);
            // HumanDuration truncates to whole seconds toward zero, then
            // tolerates one second of skew.
            match elapsed.as_secs() {
                s if s < -1 => "<invalid>".into(),
                s if s < 0 => "0s".into(),
                _ => human_duration(elapsed.unsigned_abs()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_kubectl_boundaries() {
        let cases = [
            (0, "0s"),
            (1, "1s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (599, "9m59s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (8 * 3600 - 60, "7h59m"),
            (8 * 3600, "8h"),
            (48 * 3600 - 1, "47h"),
            (48 * 3600, "2d"),
            (49 * 3600, "2d1h"),
            (8 * 86400, "8d"),
            (2 * 365 * 86400, "2y"),
            (2 * 365 * 86400 + 86400, "2y1d"),
            (9 * 365 * 86400, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(Duration::from_secs(secs)), want, "{secs}s");
        }
    }

    #[test]
    fn a_future_timestamp_is_invalid_not_zero() {
        let now = k8s_openapi::jiff::Timestamp::from_second(1_000_000).unwrap();
        let at = |secs: i64, nanos: i32| k8s_openapi::jiff::Timestamp::new(1_000_000 + secs, nanos).unwrap();
        assert_eq!(age_since(Some(at(3600, 0)), now), "<invalid>");
        assert_eq!(age_since(Some(at(2, 0)), now), "<invalid>");
        // Less than two seconds ahead is clock skew: "0s", like HumanDuration.
        assert_eq!(age_since(Some(at(1, 900_000_000)), now), "0s");
        assert_eq!(age_since(Some(at(1, 0)), now), "0s");
        assert_eq!(age_since(Some(at(0, 0)), now), "0s");
        assert_eq!(age_since(Some(at(-1, 0)), now), "1s");
    }
}
