//! Per-node clock drift: the time a node reads, and back.
//!
//! A node whose oscillator runs `ppm` parts per million fast (negative:
//! slow) reads, at true time `t` µs,
//!
//! ```text
//! local(t) = t + floor(t · ppm / 10⁶)
//! ```
//!
//! with `|ppm| ≤ 100 000`. Its increment over one µs is `1 + (floor((t+1)·
//! ppm/10⁶) − floor(t·ppm/10⁶)) ≥ 1 − 1 = 0`, so `local` never decreases:
//! the node's `now` stays monotonic, as node-core's ordering contract
//! requires. A node asks to be woken at a *local* instant `L`; the world
//! schedules the wake-up at the first true instant the node's clock reads
//! at least `L`:
//!
//! ```text
//! true(L) = min { t : local(t) ≥ L }
//! ```
//!
//! found from the estimate `L · 10⁶ / (10⁶ + ppm)` and corrected by a few
//! exact steps (the estimate is within 2 µs). Both directions are exact
//! integer arithmetic in `i128`, so drift is deterministic on every machine.

/// A node's clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    ppm: i32,
}

const MILLION: i128 = 1_000_000;

impl Clock {
    /// A clock `ppm` parts per million fast (`|ppm| ≤ 100 000`).
    pub fn new(ppm: i32) -> Clock {
        assert!(ppm.unsigned_abs() <= super::config::PPM_MAX, "ppm bound");
        Clock { ppm }
    }

    /// The drift, ppm.
    pub fn ppm(self) -> i32 {
        self.ppm
    }

    /// What the node reads at true time `t_us`.
    pub fn local(self, t_us: u64) -> u64 {
        if self.ppm == 0 {
            return t_us;
        }
        let t = i128::from(t_us);
        let skew = (t * i128::from(self.ppm)).div_euclid(MILLION);
        (t + skew).max(0) as u64
    }

    /// The first true instant at which the node reads at least `local_us`.
    pub fn true_at(self, local_us: u64) -> u64 {
        if self.ppm == 0 {
            return local_us;
        }
        let l = i128::from(local_us);
        let mut t = (l * MILLION).div_euclid(MILLION + i128::from(self.ppm)) as u64;
        // local(t) differs from l by at most 2 around the estimate.
        for _ in 0..8 {
            if self.local(t) >= local_us {
                if t == 0 || self.local(t - 1) < local_us {
                    return t;
                }
                t -= 1;
            } else {
                t += 1;
            }
        }
        unreachable!("the estimate is within 2 µs of the answer")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_is_monotonic_and_true_at_inverts_it() {
        for ppm in [-100_000, -137, -1, 0, 1, 59, 100, 100_000] {
            let c = Clock::new(ppm);
            for t in 1..3000_u64 {
                assert!(
                    c.local(t) >= c.local(t - 1),
                    "ppm {ppm}: not monotonic at {t}"
                );
            }
            for t in (0..5_000_000_u64).step_by(997).chain(0..3000) {
                let l = c.local(t);
                let back = c.true_at(l);
                assert!(back <= t && c.local(back) >= l, "ppm {ppm} t {t}");
                assert!(back == 0 || c.local(back - 1) < l);
            }
        }
    }

    #[test]
    fn a_fast_clock_runs_ahead() {
        let c = Clock::new(100);
        assert_eq!(c.local(1_000_000_000), 1_000_100_000);
        assert_eq!(Clock::new(-100).local(1_000_000_000), 999_900_000);
        assert_eq!(c.true_at(1_000_100_000), 1_000_000_000);
    }
}
