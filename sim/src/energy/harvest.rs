//! Energy harvesting models: none, constant power, diurnal solar.
//!
//! Each model is reduced to an integer *cumulative* function `H(t)`, the
//! energy in µJ harvested over `[0, t)`, floored. A node's gain over
//! `[a, b)` is `H(b) − H(a)`, so the sum over any sequence of lazy updates
//! telescopes to exactly `H(end) − H(start)`: how often a node is touched
//! never changes its energy. No libm call is made on the simulation path;
//! solar uses an integer Taylor polynomial for `1 − cos`.

use serde::{Deserialize, Serialize};

use crate::validate::{Validate, Validator};

/// Largest accepted power, in mW (1 kW).
pub const MAX_POWER_MW: f64 = 1e6;
/// Largest accepted solar day length, in s (about 3 years).
pub const MAX_DAY_LENGTH_S: u64 = 100_000_000;

impl Default for HarvestConfig {
    /// No harvesting.
    fn default() -> Self {
        HarvestConfig::None {}
    }
}

/// The `[energy.harvest]` table, tagged by `kind`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HarvestConfig {
    /// No harvesting (default): a browned-out node never comes back.
    /// A struct variant with no fields, so that `deny_unknown_fields`
    /// rejects stray keys (a unit variant would ignore them).
    None {},
    /// Constant power, day and night.
    Constant {
        /// Harvested power, mW.
        power_mw: f64,
    },
    /// Half-sine power over the daylight part of each day, zero at night:
    /// `P(τ) = peak · sin(π τ / D)` for `τ ∈ [0, D)` after sunrise, where
    /// `D = day_length_s · daylight_fraction`. One day yields `peak · 2D/π`.
    Solar {
        /// Power at solar noon, mW.
        peak_power_mw: f64,
        /// Length of one day, s. Default 86 400.
        #[serde(default = "default_day_length_s")]
        day_length_s: u64,
        /// Fraction of the day with sun, in (0, 1]. Default 0.5.
        #[serde(default = "default_daylight_fraction")]
        daylight_fraction: f64,
        /// Time since sunrise at simulation start, s, in
        /// `[0, day_length_s)`. Default 0 (the run starts at sunrise).
        #[serde(default)]
        phase_s: u64,
    },
}

fn default_day_length_s() -> u64 {
    86_400
}

fn default_daylight_fraction() -> f64 {
    0.5
}

impl Validate for HarvestConfig {
    fn validate(&self, v: &mut Validator) {
        let power = |v: &mut Validator, key: &str, mw: f64| {
            let ok = mw.is_finite() && (0.0..=MAX_POWER_MW).contains(&mw);
            v.require(
                ok,
                key,
                format_args!("a power in [0, {MAX_POWER_MW}] mW"),
                mw,
            );
        };
        match *self {
            HarvestConfig::None {} => {}
            HarvestConfig::Constant { power_mw } => power(v, "power_mw", power_mw),
            HarvestConfig::Solar {
                peak_power_mw,
                day_length_s,
                daylight_fraction,
                phase_s,
            } => {
                power(v, "peak_power_mw", peak_power_mw);
                v.range("day_length_s", day_length_s, 1, MAX_DAY_LENGTH_S);
                let ok = daylight_fraction.is_finite()
                    && daylight_fraction > 0.0
                    && daylight_fraction <= 1.0;
                v.require(
                    ok,
                    "daylight_fraction",
                    "a fraction in (0, 1]",
                    daylight_fraction,
                );
                v.require(
                    phase_s < day_length_s,
                    "phase_s",
                    format_args!("a time of day in [0, day_length_s = {day_length_s})"),
                    phase_s,
                );
            }
        }
    }
}

/// A harvesting model in integer units (nW, µs, µJ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Harvest {
    /// Nothing is ever harvested.
    None,
    /// Constant power.
    Constant {
        /// Power, nW.
        power_nw: u64,
    },
    /// Diurnal half-sine.
    Solar(Solar),
}

/// Integer parameters of the solar model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Solar {
    peak_nw: u64,
    day_us: u64,
    daylight_us: u64,
    phase_us: u64,
    /// Energy of one whole day, µJ.
    day_uj: u64,
}

/// Converts mW (configuration) to nW, once.
pub fn mw_to_nw(mw: f64) -> u64 {
    (mw * 1e6).round() as u64
}

/// Energy in µJ of `power_nw` over `us`, floored: `P·t / 10^9`.
pub fn energy_uj(power_nw: u64, us: u64) -> u64 {
    let uj = u128::from(power_nw) * u128::from(us) / 1_000_000_000;
    u64::try_from(uj).unwrap_or(u64::MAX)
}

impl Harvest {
    /// The integer model of a *validated* configuration.
    pub fn new(config: &HarvestConfig) -> Harvest {
        match *config {
            HarvestConfig::None {} => Harvest::None,
            HarvestConfig::Constant { power_mw } => Harvest::Constant {
                power_nw: mw_to_nw(power_mw),
            },
            HarvestConfig::Solar {
                peak_power_mw,
                day_length_s,
                daylight_fraction,
                phase_s,
            } => Harvest::Solar(Solar::new(
                mw_to_nw(peak_power_mw),
                day_length_s,
                daylight_fraction,
                phase_s,
            )),
        }
    }

    /// Whether the model can never yield energy.
    pub fn is_barren(&self) -> bool {
        match self {
            Harvest::None => true,
            Harvest::Constant { power_nw } => *power_nw == 0,
            Harvest::Solar(s) => s.day_uj == 0,
        }
    }

    /// `H(t)`: energy harvested over `[0, t_us)`, µJ, floored; non-decreasing.
    pub fn cumulative_uj(&self, t_us: u64) -> u64 {
        match self {
            Harvest::None => 0,
            Harvest::Constant { power_nw } => energy_uj(*power_nw, t_us),
            Harvest::Solar(s) => s
                .absolute_uj(t_us.saturating_add(s.phase_us))
                .saturating_sub(s.absolute_uj(s.phase_us)),
        }
    }

    /// Energy harvested over `[from_us, to_us)`, µJ.
    pub fn between_uj(&self, from_us: u64, to_us: u64) -> u64 {
        // Saturating: guards against a one-unit rounding dip in the polynomial.
        self.cumulative_uj(to_us)
            .saturating_sub(self.cumulative_uj(from_us))
    }

    /// The earliest `t > from_us` with `between_uj(from_us, t) ≥ need_uj`,
    /// or `None` if the model never yields that much (or only after
    /// `u64::MAX / 2` µs). Bounded: ≤ 64 doublings, then ≤ 64 bisections.
    pub fn time_to_harvest(&self, from_us: u64, need_uj: u64) -> Option<u64> {
        if need_uj == 0 {
            return Some(from_us);
        }
        if self.is_barren() {
            return None;
        }
        let enough = |t: u64| self.between_uj(from_us, t) >= need_uj;
        let (mut step, limit) = (1_000_000_u64, u64::MAX / 2);
        while !enough(from_us.saturating_add(step)) {
            if from_us.saturating_add(step) >= limit {
                return None;
            }
            step = step.saturating_mul(2);
        }
        // Invariant: lo is not enough, hi is.
        let (mut lo, mut hi) = (from_us, from_us.saturating_add(step));
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if enough(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(hi)
    }
}

impl Solar {
    fn new(peak_nw: u64, day_length_s: u64, daylight_fraction: f64, phase_s: u64) -> Solar {
        let day_us = day_length_s.saturating_mul(1_000_000).max(1);
        let daylight_us = ((day_us as f64 * daylight_fraction).round() as u64).clamp(1, day_us);
        let mut s = Solar {
            peak_nw,
            day_us,
            daylight_us,
            phase_us: phase_s.saturating_mul(1_000_000) % day_us,
            day_uj: 0,
        };
        s.day_uj = s.within_day_uj(daylight_us);
        s
    }

    /// Energy from the sunrise of day 0 to absolute time-of-run `tau_us`.
    fn absolute_uj(&self, tau_us: u64) -> u64 {
        let days = tau_us / self.day_us;
        let rest = tau_us % self.day_us;
        days.saturating_mul(self.day_uj)
            .saturating_add(self.within_day_uj(rest))
    }

    /// `∫₀^r P sin(π s/D) ds = P·D/π · (1 − cos(π r/D))` for `r < D`, and the
    /// whole day's energy for `r ≥ D` (night).
    fn within_day_uj(&self, r_us: u64) -> u64 {
        let r = r_us.min(self.daylight_us);
        let g = ((u128::from(r) << 32) / u128::from(self.daylight_us)) as u64;
        let c = one_minus_cos_pi_q32(g);
        let num = u128::from(self.peak_nw) * u128::from(self.daylight_us) * u128::from(c);
        let uj = num / u128::from(PI_Q32) / 1_000_000_000;
        u64::try_from(uj).unwrap_or(u64::MAX)
    }
}

/// π in Q32 (`round(π · 2^32)`).
const PI_Q32: u64 = 13_493_037_705;
const ONE_Q32: u128 = 1 << 32;

/// `1 − cos(π g)` for `g ∈ [0, 1]` given in Q32 (`g_q32 ≤ 2^32`), result in
/// Q32 (`[0, 2·2^32]`). Uses `1 − cos(π − x) = 2c(½) − c(x)` mirrored around
/// noon so the curve is continuous and symmetric by construction; absolute
/// error < 2^-26 (tested against `f64`).
pub fn one_minus_cos_pi_q32(g_q32: u64) -> u64 {
    let g = g_q32.min(1 << 32);
    let half = 1_u64 << 31;
    if g <= half {
        taylor_one_minus_cos(g)
    } else {
        2 * taylor_one_minus_cos(half) - taylor_one_minus_cos((1 << 32) - g)
    }
}

/// `1 − cos θ`, `θ = π h`, `h ∈ [0, ½]` in Q32, by the Taylor series to
/// θ¹⁴ in Horner form (truncation error < θ¹⁶/16! < 10⁻¹⁰ on [0, π/2]).
fn taylor_one_minus_cos(h_q32: u64) -> u64 {
    let theta = (u128::from(PI_Q32) * u128::from(h_q32)) >> 32;
    let u = (theta * theta) >> 32;
    let mut t = ONE_Q32;
    // Divisors (2k−1)(2k) for k = 7..2: 1 − u/182 · (…) etc.
    for div in [182_u128, 132, 90, 56, 30, 12] {
        t = ONE_Q32 - ((u * t) >> 32) / div;
    }
    (((u * t) >> 32) / 2) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomial_matches_libm_reference() {
        for i in 0..=4096_u64 {
            let g = (i << 32) / 4096;
            let got = one_minus_cos_pi_q32(g) as f64 / 2_f64.powi(32);
            let want = 1.0 - (std::f64::consts::PI * g as f64 / 2_f64.powi(32)).cos();
            assert!(
                (got - want).abs() < 2_f64.powi(-26),
                "g={i}/4096: {got} vs {want}"
            );
        }
    }

    #[test]
    fn cumulative_is_non_decreasing() {
        let h = Harvest::new(&HarvestConfig::Solar {
            peak_power_mw: 1000.0,
            day_length_s: 1000,
            daylight_fraction: 0.6,
            phase_s: 100,
        });
        let mut last = 0;
        for t in (0..3_000_000_000_u64).step_by(997_331) {
            let now = h.cumulative_uj(t);
            assert!(now >= last, "dip at {t}");
            last = now;
        }
    }
}
