//! Integer simulated or real time, in microseconds.
//!
//! node-core never reads a clock: every input carries the caller's `now`.
//! Microseconds in a `u64` cover 584,000 years, so arithmetic here saturates
//! instead of wrapping and no overflow is reachable in practice.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A point in time, in microseconds since an origin the host chooses
/// (simulation start, or boot on hardware).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    micros: u64,
}

/// A span of time in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    micros: u64,
}

impl Instant {
    /// The origin, `t = 0`.
    pub const ZERO: Instant = Instant { micros: 0 };

    /// The first boundary of a `period` grid through `self` that lies
    /// strictly after `now`, for `now ≥ self`: a round clock that skips the
    /// boundaries a sleeping host missed. Panics on a zero period.
    pub fn next_boundary_after(self, now: Instant, period: Duration) -> Instant {
        assert!(period.as_micros() > 0, "zero period");
        let behind_us = now.saturating_since(self).as_micros();
        let period_us = period.as_micros();
        let next = self + Duration::from_micros((behind_us / period_us + 1) * period_us);
        debug_assert!(next > now);
        next
    }

    /// An instant `micros` microseconds after the origin.
    pub const fn from_micros(micros: u64) -> Instant {
        Instant { micros }
    }

    /// An instant `millis` milliseconds after the origin (saturating).
    pub const fn from_millis(millis: u64) -> Instant {
        Instant {
            micros: millis.saturating_mul(1_000),
        }
    }

    /// An instant `secs` seconds after the origin (saturating).
    pub const fn from_secs(secs: u64) -> Instant {
        Instant {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// Microseconds since the origin.
    pub const fn as_micros(self) -> u64 {
        self.micros
    }

    /// Time elapsed from `earlier` to `self`, or zero when `earlier` is later.
    pub const fn saturating_since(self, earlier: Instant) -> Duration {
        Duration {
            micros: self.micros.saturating_sub(earlier.micros),
        }
    }
}

impl Duration {
    /// No time.
    pub const ZERO: Duration = Duration { micros: 0 };

    /// A span of `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Duration {
        Duration { micros }
    }

    /// A span of `millis` milliseconds (saturating).
    pub const fn from_millis(millis: u64) -> Duration {
        Duration {
            micros: millis.saturating_mul(1_000),
        }
    }

    /// A span of `secs` seconds (saturating).
    pub const fn from_secs(secs: u64) -> Duration {
        Duration {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// The span in microseconds.
    pub const fn as_micros(self) -> u64 {
        self.micros
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant {
            micros: self.micros.saturating_add(rhs.micros),
        }
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturating: a later `rhs` gives zero.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_since(rhs)
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration {
            micros: self.micros.saturating_add(rhs.micros),
        }
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}s",
            self.micros / 1_000_000,
            self.micros % 1_000_000
        )
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}s",
            self.micros / 1_000_000,
            self.micros % 1_000_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_boundary_skips_missed_ones() {
        let p = Duration::from_secs(10);
        let b = Instant::from_secs(10);
        assert_eq!(b.next_boundary_after(b, p), Instant::from_secs(20));
        assert_eq!(
            b.next_boundary_after(Instant::from_secs(19), p),
            Instant::from_secs(20)
        );
        assert_eq!(
            b.next_boundary_after(Instant::from_secs(35), p),
            Instant::from_secs(40)
        );
    }

    #[test]
    fn arithmetic_saturates_and_orders() {
        let t = Instant::from_secs(2) + Duration::from_millis(500);
        assert_eq!(t.as_micros(), 2_500_000);
        assert_eq!(t - Instant::from_secs(1), Duration::from_millis(1_500));
        assert_eq!(Instant::from_secs(1) - t, Duration::ZERO);
        assert_eq!(
            (Instant::from_micros(u64::MAX) + Duration::from_secs(1)).as_micros(),
            u64::MAX
        );
        assert!(Instant::from_micros(1) < Instant::from_micros(2));
        assert_eq!(alloc::format!("{t}"), "2.500000s");
    }
}
