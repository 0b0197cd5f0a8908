//! Joining CRC-32C values: `combine(crc(A), crc(B), len(B)) == crc(A ‖ B)`.
//!
//! The `crc32c` crate's own combine squares 32×32 bit matrices (zlib's old
//! method, ~100 µs a call); this is zlib's newer method (1.2.12): multiply
//! by x^(8·len) modulo the polynomial, with the powers x^(2^k) precomputed,
//! about a microsecond a call.

/// CRC-32C (Castagnoli), reflected.
const POLY: u32 = 0x82F6_3B78;

/// a·b modulo the polynomial, bits reflected (x^0 is the top bit).
const fn multmodp(a: u32, mut b: u32) -> u32 {
    if a == 0 {
        return 0;
    }
    let mut m = 1u32 << 31;
    let mut p = 0;
    loop {
        if a & m != 0 {
            p ^= b;
            if a & (m - 1) == 0 {
                return p;
            }
        }
        m >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
    }
}

/// x^(2^k) modulo the polynomial, k = 0..32.
const X2N: [u32; 32] = {
    let mut table = [0u32; 32];
    let mut p = 1u32 << 30; // x^1
    table[0] = p;
    let mut n = 1;
    while n < 32 {
        p = multmodp(p, p);
        table[n] = p;
        n += 1;
    }
    table
};

/// x^(n·2^k) modulo the polynomial.
fn x2nmodp(mut n: u64, mut k: usize) -> u32 {
    let mut p = 1u32 << 31; // x^0
    while n != 0 {
        if n & 1 != 0 {
            p = multmodp(X2N[k & 31], p);
        }
        n >>= 1;
        k += 1;
    }
    p
}

/// The CRC-32C of A followed by B, from the CRCs of both and B's length.
pub(crate) fn combine(crc1: u32, crc2: u32, len2: u64) -> u32 {
    multmodp(x2nmodp(len2, 3), crc1) ^ crc2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_equals_the_crc_of_the_concatenation() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for split in [0, 1, 7, 8, 4096, 33_333, 99_999, 100_000] {
            let (a, b) = data.split_at(split);
            let joined = combine(crc32c::crc32c(a), crc32c::crc32c(b), b.len() as u64);
            assert_eq!(joined, crc32c::crc32c(&data), "split at {split}");
            assert_eq!(joined, crc32c::crc32c_combine(crc32c::crc32c(a), crc32c::crc32c(b), b.len()));
        }
        assert_eq!(combine(0, 0, 0), 0);
        assert_eq!(combine(0x1234_5678, 0, 0), 0x1234_5678);
    }
}
