//! Conversions between the nodes' Q16.16 and the simulator's decimals.
//!
//! Scenario decimals enter node-core as the paper defines the encoding,
//! `floor(x · 2^16)` (docs/paper.md §2), saturating; node-core's own constants
//! (`q::ratio`) truncate the same way for positive values, so writing a
//! default out in a scenario gives exactly the default. Q16.16 values leave
//! for metrics exactly (every Q16.16 value is an f64).

use node_core::q::Q;

/// Decimal to Q16.16: `floor(x · 2^16)`, saturating at the type's range.
pub fn from_f64(value: f64) -> Q {
    let raw = (value * 65_536.0).floor();
    Q::from_bits(raw.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32)
}

/// Q16.16 to f64, exactly.
pub fn to_f64(q: Q) -> f64 {
    f64::from(q.to_bits()) / 65_536.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_on_the_way_in_exact_on_the_way_out() {
        assert_eq!(from_f64(0.1).to_bits(), 6_553); // 6553.6 floored
        assert_eq!(from_f64(-0.1).to_bits(), -6_554);
        assert_eq!(from_f64(1e12), Q::MAX);
        assert_eq!(from_f64(-1e12), Q::MIN);
        assert_eq!(to_f64(Q::from_bits(-98_304)), -1.5);
        assert_eq!(from_f64(to_f64(Q::from_bits(12_345))).to_bits(), 12_345);
    }
}
