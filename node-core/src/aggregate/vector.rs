//! Exact vector arithmetic shared by the distance-based rules (Krum,
//! Bulyan, MoNNA, geometric median, centered clipping, the
//! pre-aggregators).
//!
//! Distances are computed on raw Q16.16 bits, exactly: a squared difference
//! of two `i32`s is below 2^64 and a sum of [`super::MAX_DIM`] = 2^16 of them
//! below 2^80, so `u128` never overflows. Square roots are floors of the
//! exact root ([`q::isqrt_u128`]), so a distance in raw units (2^-16) is at
//! most one unit below the true one.

use alloc::vec::Vec;

use crate::q::{self, Q};

/// `Σ_k (a_k − b_k)²` on raw bits (units 2^-32), exact.
pub(super) fn squared_distance(a: &[Q], b: &[Q]) -> u128 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| {
            let diff = i64::from(x.to_bits()) - i64::from(y.to_bits());
            u128::from(diff.unsigned_abs()).pow(2)
        })
        .sum()
}

/// `Σ_k a_k²` on raw bits (units 2^-32), exact.
pub(super) fn squared_norm(a: &[Q]) -> u128 {
    a.iter()
        .map(|x| u128::from(x.to_bits().unsigned_abs()).pow(2))
        .sum()
}

/// The L2 distance in raw units (2^-16): `⌊√(squared_distance)⌋`, below
/// 2^40.
pub(super) fn distance_raw(a: &[Q], b: &[Q]) -> u64 {
    q::isqrt_u128(squared_distance(a, b)) as u64
}

/// Fills `distances` with the upper triangle of the squared distances of
/// `n` vectors, row-major: `(0,1), (0,2), …, (1,2), …`.
pub(super) fn fill_distances<'a>(
    n: usize,
    vector: impl Fn(usize) -> &'a [Q],
    distances: &mut Vec<u128>,
) {
    distances.clear();
    for i in 0..n {
        for j in i + 1..n {
            distances.push(squared_distance(vector(i), vector(j)));
        }
    }
    assert_eq!(distances.len(), n * n.saturating_sub(1) / 2);
}

/// `D_ij` from the upper triangle (`D_ii = 0`).
pub(super) fn pair(distances: &[u128], n: usize, i: usize, j: usize) -> u128 {
    if i == j {
        return 0;
    }
    let (a, b) = if i < j { (i, j) } else { (j, i) };
    // Row a starts after rows 0..a, of lengths n−1, n−2, …, n−a.
    let row_start = a * (2 * n - a - 1) / 2;
    distances[row_start + (b - a - 1)]
}

/// SplitMix64's finalizer: a bijective 64-bit mix, for seeded shuffles
/// without a random stream.
pub(super) fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
