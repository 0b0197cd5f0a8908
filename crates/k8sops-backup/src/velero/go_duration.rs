//! Go's `time.Duration` text form, which Velero uses for `spec.ttl` (a
//! `metav1.Duration`): [`format()`] writes what Go's `Duration.String` writes
//! (`720h0m0s`, `1m30s`, `500ms`) and [`parse()`] reads what Go's
//! `time.ParseDuration` reads (`720h`, `1h30m`, `1.5h`, `300ms`), which is
//! also what `velero backup create --ttl` accepts.

use std::time::Duration;

use crate::Result;

/// The longest duration Go can hold (`math.MaxInt64` nanoseconds, about
/// 292 years); a longer one cannot be sent to Velero.
///
/// ```
/// use k8sops_backup::velero::go_duration::{format, MAX};
/// assert_eq!(format(MAX), "2562047h47m16.854775807s");
/// ```
pub const MAX: Duration = Duration::new(9_223_372_036, 854_775_807);

/// Formats a duration as Go's `time.Duration.String()` does.
///
/// ```
/// use std::time::Duration;
/// use k8sops_backup::velero::go_duration::format;
/// assert_eq!(format(Duration::from_secs(720 * 3600)), "720h0m0s");
/// assert_eq!(format(Duration::from_secs(90)), "1m30s");
/// assert_eq!(format(Duration::from_millis(1500)), "1.5s");
/// assert_eq!(format(Duration::from_millis(500)), "500ms");
/// assert_eq!(format(Duration::ZERO), "0s");
/// ```
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}{}µs", nanos / 1_000, fraction(nanos % 1_000, 3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}{}ms", nanos / 1_000_000, fraction(nanos % 1_000_000, 6));
    }
    let secs = nanos / 1_000_000_000;
    let frac = fraction(nanos % 1_000_000_000, 9);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}{frac}s")
    } else if m > 0 {
        format!("{m}m{s}{frac}s")
    } else {
        format!("{s}{frac}s")
    }
}

/// `.5` for 500 of 10^3: the fraction without trailing zeros, or nothing.
fn fraction(value: u128, digits: usize) -> String {
    if value == 0 {
        return String::new();
    }
    let s = format!("{value:0digits$}");
    format!(".{}", s.trim_end_matches('0'))
}

/// Parses a duration as Go's `time.ParseDuration` does: a sequence of
/// decimal numbers, each with an optional fraction and a unit (`ns`, `us`,
/// `µs`, `ms`, `s`, `m`, `h`), or a bare `0`. Negative durations and
/// durations longer than Go can hold ([`MAX`]) are refused.
///
/// Errors: [`k8sops_core::Error::InvalidInput`] naming the input.
///
/// ```
/// use std::time::Duration;
/// use k8sops_backup::velero::go_duration::parse;
/// assert_eq!(parse("720h")?, Duration::from_secs(720 * 3600));
/// assert_eq!(parse("1h30m")?, Duration::from_secs(5400));
/// assert_eq!(parse("1.5h")?, Duration::from_secs(5400));
/// assert_eq!(parse("720h0m0s")?, Duration::from_secs(720 * 3600));
/// assert_eq!(parse("300ms")?, Duration::from_millis(300));
/// assert!(parse("30d").is_err()); // Go has no day unit
/// assert!(parse("10").is_err()); // a unit is required
/// # Ok::<(), k8sops_backup::Error>(())
/// ```
pub fn parse(input: &str) -> Result<Duration> {
    let invalid = |why: &str| -> crate::Error {
        k8sops_core::Error::InvalidInput {
            message: format!("invalid duration {input:?}: {why} (Go duration syntax: 720h, 1h30m, 90s, 500ms)"),
            source: None,
        }
        .into()
    };
    let mut s = input;
    if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    } else if s.starts_with('-') {
        return Err(invalid("a negative duration is not allowed"));
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid("it is empty"));
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, rest) = s.split_at(int_len);
        let (frac_part, rest) = match rest.strip_prefix('.') {
            Some(r) => {
                let n = r.bytes().take_while(u8::is_ascii_digit).count();
                r.split_at(n)
            }
            None => ("", rest),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid("expected a number"));
        }
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let (unit, rest) = rest.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3600 * 1_000_000_000,
            "" => return Err(invalid("a number is missing its unit")),
            other => return Err(invalid(&format!("unknown unit {other:?}"))),
        };
        let whole: u128 =
            if int_part.is_empty() { 0 } else { int_part.parse().map_err(|_| invalid("a number is too large"))? };
        let mut value = whole.checked_mul(scale).ok_or_else(|| invalid("it is too long"))?;
        value = value.checked_add(go_fraction(frac_part, scale)).ok_or_else(|| invalid("it is too long"))?;
        total = total.checked_add(value).ok_or_else(|| invalid("it is too long"))?;
        if total > MAX.as_nanos() {
            return Err(invalid("it is longer than Go can hold (about 292 years)"));
        }
        s = rest;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| invalid("it is too long"))?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

/// The nanoseconds of a fraction's `digits` of `unit`, computed as Go's
/// `ParseDuration` does (digits up to 2^63, then a float product), so that
/// `0.3333333333333333333h` is exactly 20 minutes there and here.
fn go_fraction(digits: &str, unit: u128) -> u128 {
    let (mut f, mut scale, mut overflow) = (0u64, 1f64, false);
    for d in digits.bytes().map(|b| u64::from(b - b'0')) {
        if overflow {
            continue;
        }
        match f.checked_mul(10).and_then(|v| v.checked_add(d)).filter(|v| *v <= 1 << 63) {
            Some(v) => {
                f = v;
                scale *= 10.0;
            }
            None => overflow = true,
        }
    }
    // Go truncates the float product toward zero, as `as` does.
    (f as f64 * (unit as f64 / scale)) as u128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        // Expected strings are Go's own `time.Duration.String()` output.
        for (d, go) in [
            (Duration::from_nanos(1), "1ns"),
            (Duration::from_nanos(1_100), "1.1µs"),
            (Duration::from_micros(2_200), "2.2ms"),
            (Duration::from_millis(3_300), "3.3s"),
            (Duration::from_secs(4 * 60 + 5), "4m5s"),
            (Duration::from_millis(4 * 60_000 + 5_001), "4m5.001s"),
            (Duration::from_secs(5 * 3600 + 6 * 60 + 7), "5h6m7s"),
            (Duration::from_millis((5 * 3600 + 6 * 60 + 7) * 1000 + 1), "5h6m7.001s"),
            (Duration::from_secs(8 * 3600 + 1) + Duration::from_nanos(1), "8h0m1.000000001s"),
            (Duration::from_secs(3600), "1h0m0s"),
        ] {
            assert_eq!(format(d), go, "{d:?}");
        }
    }

    #[test]
    fn parses_like_go_and_round_trips() {
        for (s, d) in [
            ("0", Duration::ZERO),
            ("5s", Duration::from_secs(5)),
            ("30s", Duration::from_secs(30)),
            ("1478s", Duration::from_secs(1478)),
            ("+5s", Duration::from_secs(5)),
            ("5.0s", Duration::from_secs(5)),
            ("5.6s", Duration::from_millis(5600)),
            ("5.s", Duration::from_secs(5)),
            (".5s", Duration::from_millis(500)),
            ("1.004s", Duration::from_millis(1004)),
            ("100.00100s", Duration::from_millis(100_001)),
            ("10ns", Duration::from_nanos(10)),
            ("11us", Duration::from_micros(11)),
            ("12µs", Duration::from_micros(12)),
            ("12μs", Duration::from_micros(12)),
            ("13ms", Duration::from_millis(13)),
            ("14s", Duration::from_secs(14)),
            ("15m", Duration::from_secs(900)),
            ("16h", Duration::from_secs(16 * 3600)),
            ("3h30m", Duration::from_secs(3 * 3600 + 1800)),
            ("10.5s4m", Duration::from_millis(4 * 60_000 + 10_500)),
            ("1h2m3s4ms5us6ns", Duration::new(3723, 4_005_006)),
            ("39h9m14.425s", Duration::from_millis((39 * 3600 + 9 * 60 + 14) * 1000 + 425)),
            ("0.3333333333333333333h", Duration::from_secs(20 * 60)),
        ] {
            assert_eq!(parse(s).unwrap(), d, "{s}");
            assert_eq!(parse(&format(d)).unwrap(), d, "round trip of {s}");
        }
    }

    #[test]
    fn refuses_what_go_refuses_and_negatives() {
        for s in ["", "3", "-", "s", ".", "-.", ".s", "+.s", "1d", "3000000h", "-5s", "5 s", "1h 2m"] {
            assert!(parse(s).is_err(), "{s:?} must not parse");
        }
        assert_eq!(parse("2562047h47m16.854775807s").unwrap(), MAX);
        assert!(parse("2562047h47m16.854775808s").is_err());
    }
}
