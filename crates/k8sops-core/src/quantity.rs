//! Exact Kubernetes resource quantities: parsing, arithmetic and canonical formatting.
//!
//! A [`Quantity`] holds its value exactly, in nano-units, so `100m + 900m == 1`
//! with no floating-point drift, and prints in the canonical form the API
//! server would store (`1500m`, `1536Mi`, `2`, `1e3`).

use std::{cmp::Ordering, fmt, iter::Sum, ops, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NANO: i128 = 1_000_000_000;
/// Values beyond this many nano-units are rejected instead of overflowing.
const MAX_NANOS: i128 = 10i128.pow(36);

/// How a quantity is written: the suffix family it was parsed with and will
/// be printed with.
///
/// ```
/// use k8sops_core::{quantity::QuantityFormat, Quantity};
/// assert_eq!("512Mi".parse::<Quantity>().unwrap().format(), QuantityFormat::BinarySI);
/// assert_eq!("500m".parse::<Quantity>().unwrap().format(), QuantityFormat::DecimalSI);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QuantityFormat {
    /// Powers of 1024: `Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`.
    BinarySI,
    /// Powers of 1000: `n`, `u`, `m`, none, `k`, `M`, `G`, `T`, `P`, `E`.
    DecimalSI,
    /// Scientific notation: `1e3`, `5E-3`.
    DecimalExponent,
}

/// The error returned for a string that is not a Kubernetes quantity.
///
/// ```
/// let err = "12 cores".parse::<k8sops_core::Quantity>().unwrap_err();
/// println!("{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid quantity {input:?}: {reason}")]
pub struct ParseQuantityError {
    input: String,
    reason: &'static str,
}

/// An exact Kubernetes resource quantity such as `250m`, `1.5Gi` or `1e3`.
///
/// Equality and ordering compare values, not spelling: `1Ki == 1024`.
///
/// ```
/// use k8sops_core::Quantity;
/// let cpu: Quantity = "1500m".parse()?;
/// assert_eq!(cpu.millis(), 1500);
/// assert_eq!((cpu + "0.5".parse()?).to_string(), "2");
/// let mem: Quantity = "1.5Gi".parse()?;
/// assert_eq!(mem.to_string(), "1536Mi");
/// # Ok::<(), k8sops_core::quantity::ParseQuantityError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Quantity {
    nanos: i128,
    format: QuantityFormat,
}

impl Quantity {
    /// Zero, printed as `0`.
    ///
    /// ```
    /// assert_eq!(k8sops_core::Quantity::ZERO.to_string(), "0");
    /// ```
    pub const ZERO: Quantity = Quantity { nanos: 0, format: QuantityFormat::DecimalSI };

    /// A quantity of whole units (bytes, cores, pods) in `DecimalSI` form.
    ///
    /// ```
    /// assert_eq!(k8sops_core::Quantity::from_units(3).to_string(), "3");
    /// ```
    pub fn from_units(units: i64) -> Self {
        Quantity { nanos: i128::from(units) * NANO, format: QuantityFormat::DecimalSI }
    }

    /// A quantity in thousandths (CPU millicores), printed like `250m`.
    ///
    /// ```
    /// assert_eq!(k8sops_core::Quantity::from_millis(250).to_string(), "250m");
    /// ```
    pub fn from_millis(millis: i64) -> Self {
        Quantity { nanos: i128::from(millis) * 1_000_000, format: QuantityFormat::DecimalSI }
    }

    /// A number of bytes printed in the binary form (`512Mi`).
    ///
    /// ```
    /// assert_eq!(k8sops_core::Quantity::from_bytes(536_870_912).to_string(), "512Mi");
    /// ```
    pub fn from_bytes(bytes: i64) -> Self {
        Quantity { nanos: i128::from(bytes) * NANO, format: QuantityFormat::BinarySI }
    }

    /// The format the quantity prints with.
    ///
    /// ```
    /// use k8sops_core::{Quantity, quantity::QuantityFormat};
    /// assert_eq!("1Gi".parse::<Quantity>().unwrap().format(), QuantityFormat::BinarySI);
    /// ```
    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    /// The value in nano-units, exactly.
    ///
    /// ```
    /// assert_eq!("1m".parse::<k8sops_core::Quantity>().unwrap().nanos(), 1_000_000);
    /// ```
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// The value in thousandths, rounded up like Kubernetes' `MilliValue()`.
    ///
    /// ```
    /// assert_eq!("0.1".parse::<k8sops_core::Quantity>().unwrap().millis(), 100);
    /// assert_eq!("1n".parse::<k8sops_core::Quantity>().unwrap().millis(), 1);
    /// ```
    pub fn millis(&self) -> i64 {
        clamp_i64(div_ceil(self.nanos, 1_000_000))
    }

    /// The value in whole units, rounded up like Kubernetes' `Value()`.
    ///
    /// ```
    /// assert_eq!("1Ki".parse::<k8sops_core::Quantity>().unwrap().value(), 1024);
    /// assert_eq!("100m".parse::<k8sops_core::Quantity>().unwrap().value(), 1);
    /// ```
    pub fn value(&self) -> i64 {
        clamp_i64(div_ceil(self.nanos, NANO))
    }

    /// The value as a float, for display and ratios only.
    ///
    /// ```
    /// assert_eq!("250m".parse::<k8sops_core::Quantity>().unwrap().as_f64(), 0.25);
    /// ```
    pub fn as_f64(&self) -> f64 {
        self.nanos as f64 / NANO as f64
    }

    /// Whether the quantity is zero.
    ///
    /// ```
    /// assert!(k8sops_core::Quantity::ZERO.is_zero());
    /// ```
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// Adds, returning `None` on overflow. The result keeps `self`'s format,
    /// or takes `other`'s when `self` is zero (as Kubernetes does).
    ///
    /// ```
    /// use k8sops_core::Quantity;
    /// let a: Quantity = "1Gi".parse().unwrap();
    /// assert_eq!(a.checked_add(a).unwrap().to_string(), "2Gi");
    /// ```
    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        let nanos = self.nanos.checked_add(other.nanos).filter(|n| n.abs() <= MAX_NANOS)?;
        let format = if self.nanos == 0 { other.format } else { self.format };
        Some(Quantity { nanos, format })
    }

    /// Subtracts, returning `None` on overflow.
    ///
    /// ```
    /// use k8sops_core::Quantity;
    /// let a: Quantity = "1".parse().unwrap();
    /// assert_eq!(a.checked_sub("250m".parse().unwrap()).unwrap().to_string(), "750m");
    /// ```
    pub fn checked_sub(self, other: Quantity) -> Option<Quantity> {
        self.checked_add(Quantity { nanos: -other.nanos, format: other.format })
    }

    /// Multiplies by an integer, returning `None` on overflow.
    ///
    /// ```
    /// use k8sops_core::Quantity;
    /// assert_eq!("500m".parse::<Quantity>().unwrap().checked_mul(3).unwrap().to_string(), "1500m");
    /// ```
    pub fn checked_mul(self, factor: i64) -> Option<Quantity> {
        let nanos = self.nanos.checked_mul(i128::from(factor)).filter(|n| n.abs() <= MAX_NANOS)?;
        Some(Quantity { nanos, format: self.format })
    }

    /// How many whole `each` fit in `self` (`None` when `each` is zero or negative).
    ///
    /// ```
    /// use k8sops_core::Quantity;
    /// let free: Quantity = "1700m".parse().unwrap();
    /// assert_eq!(free.fits("500m".parse().unwrap()), Some(3));
    /// ```
    pub fn fits(&self, each: Quantity) -> Option<i64> {
        if each.nanos <= 0 {
            return None;
        }
        Some(clamp_i64((self.nanos.max(0)) / each.nanos))
    }

    /// `self` as a percentage of `whole`, truncated toward zero like
    /// `kubectl describe node` (which computes it on milli-values). Zero when
    /// `whole` is zero.
    ///
    /// ```
    /// use k8sops_core::Quantity;
    /// let req: Quantity = "950m".parse().unwrap();
    /// assert_eq!(req.percent_of("2".parse().unwrap()), 47);
    /// ```
    pub fn percent_of(&self, whole: Quantity) -> i64 {
        let whole = whole.millis();
        if whole == 0 {
            return 0;
        }
        (self.millis() as f64 / whole as f64 * 100.0) as i64
    }

    /// The canonical string with the suffix split off, as the API server
    /// computes it: `("1536", "Mi")`.
    ///
    /// ```
    /// use k8sops_core::Quantity;
    /// assert_eq!("1.5Gi".parse::<Quantity>().unwrap().canonical_parts(), ("1536".to_string(), "Mi"));
    /// ```
    pub fn canonical_parts(&self) -> (String, &'static str) {
        if self.nanos == 0 {
            return ("0".to_string(), "");
        }
        let mut format = self.format;
        if format == QuantityFormat::BinarySI && (self.nanos.abs() < 1024 * NANO || self.nanos % NANO != 0) {
            // Small or fractional binary values print in decimal so nothing is rounded.
            format = QuantityFormat::DecimalSI;
        }
        if format == QuantityFormat::BinarySI {
            let mut amount = self.nanos / NANO;
            let mut exp = 0usize;
            while amount % 1024 == 0 && exp < BIN_SUFFIXES.len() - 1 {
                amount /= 1024;
                exp += 1;
            }
            return (amount.to_string(), BIN_SUFFIXES[exp]);
        }
        // Decimal: value = nanos * 10^-9; strip factors of ten, then pad to a multiple of three.
        let mut amount = self.nanos;
        let mut exp: i32 = -9;
        while amount % 10 == 0 {
            amount /= 10;
            exp += 1;
        }
        match exp.rem_euclid(3) {
            1 => {
                amount *= 10;
                exp -= 1;
            }
            2 => {
                amount *= 100;
                exp -= 2;
            }
            _ => {}
        }
        if format == QuantityFormat::DecimalSI {
            while exp > 18 {
                amount *= 1000;
                exp -= 3;
            }
            let suffix = match exp {
                -9 => "n",
                -6 => "u",
                -3 => "m",
                0 => "",
                3 => "k",
                6 => "M",
                9 => "G",
                12 => "T",
                15 => "P",
                _ => "E",
            };
            (amount.to_string(), suffix)
        } else {
            let suffix = match exp {
                -9 => "e-9",
                -6 => "e-6",
                -3 => "e-3",
                0 => "",
                3 => "e3",
                6 => "e6",
                9 => "e9",
                12 => "e12",
                15 => "e15",
                18 => "e18",
                21 => "e21",
                24 => "e24",
                _ => {
                    // Fold larger exponents into the mantissa; values are capped well below.
                    while exp > 24 {
                        amount *= 1000;
                        exp -= 3;
                    }
                    "e24"
                }
            };
            (amount.to_string(), suffix)
        }
    }
}

const BIN_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b != 0 && ((a > 0) == (b > 0)) {
        q + 1
    } else {
        q
    }
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

impl FromStr for Quantity {
    type Err = ParseQuantityError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseQuantityError { input: input.to_string(), reason };
        let s = input.trim();
        if s.is_empty() {
            return Err(err("empty string"));
        }
        let (negative, rest) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(num_end);
        if number.is_empty() || number == "." {
            return Err(err("expected a number"));
        }
        let (int_part, frac_part) = match number.split_once('.') {
            Some((i, f)) => {
                if f.contains('.') {
                    return Err(err("more than one decimal point"));
                }
                (i, f)
            }
            None => (number, ""),
        };
        let (format, base, exp): (QuantityFormat, i128, i32) = match suffix {
            "" => (QuantityFormat::DecimalSI, 10, 0),
            "n" => (QuantityFormat::DecimalSI, 10, -9),
            "u" => (QuantityFormat::DecimalSI, 10, -6),
            "m" => (QuantityFormat::DecimalSI, 10, -3),
            "k" => (QuantityFormat::DecimalSI, 10, 3),
            "M" => (QuantityFormat::DecimalSI, 10, 6),
            "G" => (QuantityFormat::DecimalSI, 10, 9),
            "T" => (QuantityFormat::DecimalSI, 10, 12),
            "P" => (QuantityFormat::DecimalSI, 10, 15),
            "E" => (QuantityFormat::DecimalSI, 10, 18),
            "Ki" => (QuantityFormat::BinarySI, 2, 10),
            "Mi" => (QuantityFormat::BinarySI, 2, 20),
            "Gi" => (QuantityFormat::BinarySI, 2, 30),
            "Ti" => (QuantityFormat::BinarySI, 2, 40),
            "Pi" => (QuantityFormat::BinarySI, 2, 50),
            "Ei" => (QuantityFormat::BinarySI, 2, 60),
            other if other.starts_with(['e', 'E']) => {
                let e: i32 = other[1..].parse().map_err(|_| err("bad exponent"))?;
                if !(-40..=40).contains(&e) {
                    return Err(err("exponent out of range"));
                }
                (QuantityFormat::DecimalExponent, 10, e)
            }
            _ => return Err(err("unknown suffix")),
        };
        // Mantissa as an integer scaled by 10^-frac_len.
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 38 {
            return Err(err("too many digits"));
        }
        let mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| err("bad digits"))? };
        let frac_len = frac_part.len() as i32;
        // value * 1e9 = mantissa * 10^-frac_len * base^exp * 1e9
        let mut num = mantissa;
        let mut den: i128 = 1;
        let too_big = || err("value out of range");
        let pow10 = |e: i32| -> Option<i128> { 10i128.checked_pow(e as u32) };
        let mut dec_exp = 9 - frac_len;
        if base == 10 {
            dec_exp += exp;
        } else {
            num = num.checked_mul(1i128 << exp).ok_or_else(too_big)?;
        }
        if dec_exp >= 0 {
            num = num.checked_mul(pow10(dec_exp).ok_or_else(too_big)?).ok_or_else(too_big)?;
        } else {
            den = pow10(-dec_exp).ok_or_else(|| err("too many decimal places"))?;
        }
        // Kubernetes rounds anything finer than a nano-unit up (away from zero).
        let mut nanos = div_ceil(num, den);
        if nanos > MAX_NANOS {
            return Err(too_big());
        }
        if negative {
            nanos = -nanos;
        }
        Ok(Quantity { nanos, format })
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, s) = self.canonical_parts();
        f.pad(&format!("{n}{s}"))
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Quantity({self})")
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}
impl Eq for Quantity {}
impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}
impl std::hash::Hash for Quantity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

impl Default for Quantity {
    fn default() -> Self {
        Quantity::ZERO
    }
}

/// Saturates at the supported range instead of panicking; use
/// [`Quantity::checked_add`] to detect overflow.
impl ops::Add for Quantity {
    type Output = Quantity;
    fn add(self, rhs: Quantity) -> Quantity {
        self.checked_add(rhs).unwrap_or(Quantity {
            nanos: (self.nanos.saturating_add(rhs.nanos)).clamp(-MAX_NANOS, MAX_NANOS),
            format: self.format,
        })
    }
}
impl ops::AddAssign for Quantity {
    fn add_assign(&mut self, rhs: Quantity) {
        *self = *self + rhs;
    }
}
/// Saturates at the supported range; see [`Quantity::checked_sub`].
impl ops::Sub for Quantity {
    type Output = Quantity;
    fn sub(self, rhs: Quantity) -> Quantity {
        self + Quantity { nanos: -rhs.nanos, format: rhs.format }
    }
}
impl ops::SubAssign for Quantity {
    fn sub_assign(&mut self, rhs: Quantity) {
        *self = *self - rhs;
    }
}
impl Sum for Quantity {
    fn sum<I: Iterator<Item = Quantity>>(iter: I) -> Quantity {
        iter.fold(Quantity::ZERO, |a, b| a + b)
    }
}

impl TryFrom<&k8s_openapi::apimachinery::pkg::api::resource::Quantity> for Quantity {
    type Error = ParseQuantityError;
    fn try_from(q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity) -> Result<Self, Self::Error> {
        q.0.parse()
    }
}

impl From<Quantity> for k8s_openapi::apimachinery::pkg::api::resource::Quantity {
    fn from(q: Quantity) -> Self {
        k8s_openapi::apimachinery::pkg::api::resource::Quantity(q.to_string())
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> Quantity {
        s.parse().unwrap()
    }

    #[test]
    fn canonical_forms_match_the_api_server() {
        // Pairs taken from apimachinery's quantity_test.go expectations.
        let cases = [
            ("0", "0"),
            ("0m", "0"),
            ("0Ki", "0"),
            ("1", "1"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("1.5", "1500m"),
            ("0.1", "100m"),
            ("100m", "100m"),
            ("1Ki", "1Ki"),
            ("1024", "1024"),
            ("1024Ki", "1Mi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Ki", "512"),
            ("1.5Ki", "1536"),
            ("1023", "1023"),
            ("1k", "1k"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("1e3", "1e3"),
            ("1E3", "1e3"),
            ("1.5e3", "1500"),
            ("100n", "100n"),
            ("1u", "1u"),
            ("0.0000000001", "1n"),
            ("12.34m", "12340u"),
            ("-1", "-1"),
            ("-100m", "-100m"),
            ("1Ei", "1Ei"),
            ("1E", "1E"),
            ("5G", "5G"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("129M", "129M"),
            ("123Mi", "123Mi"),
            ("1e-3", "1e-3"),
            ("1.001Ki", "1025024m"),
            ("+5", "5"),
        ];
        for (input, want) in cases {
            assert_eq!(q(input).to_string(), want, "canonical form of {input}");
        }
    }

    #[test]
    fn values_round_up_like_kubernetes() {
        assert_eq!(q("1n").millis(), 1);
        assert_eq!(q("1500m").value(), 2);
        assert_eq!(q("-1500m").value(), -1);
        assert_eq!(q("1Gi").value(), 1 << 30);
        assert_eq!(q("110").value(), 110);
    }

    #[test]
    fn invalid_strings_are_rejected_with_the_input_named() {
        for bad in ["", "abc", "1.2.3", "1Xi", "m", "1e", "1e99", ".", "--1", "1 Gi"] {
            let err = bad.parse::<Quantity>().unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn arithmetic_keeps_the_left_format() {
        assert_eq!((q("1Gi") + q("512Mi")).to_string(), "1536Mi");
        assert_eq!((Quantity::ZERO + q("1Gi")).to_string(), "1Gi");
        assert_eq!((q("100m") + q("900m")).to_string(), "1");
        assert_eq!((q("1") - q("1500m")).to_string(), "-500m");
        assert_eq!(vec![q("250m"), q("250m"), q("500m")].into_iter().sum::<Quantity>(), q("1"));
    }

    #[test]
    fn percentages_truncate_like_kubectl_describe() {
        assert_eq!(q("950m").percent_of(q("1930m")), 49);
        assert_eq!(q("1").percent_of(Quantity::ZERO), 0);
        assert_eq!(q("3Gi").percent_of(q("4Gi")), 75);
    }

    #[test]
    fn equality_is_by_value() {
        assert_eq!(q("1Ki"), q("1024"));
        assert!(q("1Mi") > q("1M"));
    }

    proptest! {
        #[test]
        fn canonical_form_reparses_to_the_same_value(n in -1_000_000_000_000i64..1_000_000_000_000, suffix in prop::sample::select(vec!["", "m", "n", "u", "k", "M", "G", "Ki", "Mi", "Gi", "e3", "e-3"])) {
            let input = format!("{n}{suffix}");
            let parsed: Quantity = input.parse().unwrap();
            let again: Quantity = parsed.to_string().parse().unwrap();
            prop_assert_eq!(parsed, again);
            prop_assert_eq!(again.to_string(), parsed.to_string());
        }

        #[test]
        fn millicores_round_trip(m in 0i64..10_000_000) {
            let parsed: Quantity = Quantity::from_millis(m).to_string().parse().unwrap();
            prop_assert_eq!(parsed.millis(), m);
        }

        #[test]
        fn addition_is_exact(a in -1_000_000i64..1_000_000, b in -1_000_000i64..1_000_000) {
            prop_assert_eq!((Quantity::from_millis(a) + Quantity::from_millis(b)).millis(), a + b);
        }
    }
}
