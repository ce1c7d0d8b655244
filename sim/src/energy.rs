//! Per-node energy pools: harvesting, baseline drain, brownout and resume.
//!
//! Every node has a pool of `capacity_j`, kept in integer µJ. Pools are
//! updated lazily: [`EnergyPools::advance`] integrates harvest and the
//! baseline drain from the node's last update to `now`, so only nodes with
//! events are touched. Harvest and drain are cumulative integer functions of
//! time, so the result does not depend on how often a node is advanced.
//!
//! A node that is *on* browns out when its level falls to or below
//! `brownout_fraction · capacity`; it then draws nothing and resumes once
//! harvesting brings it to `resume_fraction · capacity`
//! ([`EnergyPools::next_resume_at`] says when, for the world to schedule).
//!
//! Known simplifications: a brownout caused by the baseline drain between
//! two updates is detected at the next `advance`, not at the exact crossing
//! instant; harvest is deterministic (no weather noise yet).

pub mod harvest;

use std::fmt;

use node_core::q::Q;
use node_core::runtime::NodeId;
use serde::{Deserialize, Serialize};

use crate::validate::{Validate, Validator, Violation};
use harvest::{Harvest, HarvestConfig, MAX_POWER_MW, energy_uj, mw_to_nw};

/// Largest accepted capacity, J (µJ totals stay far inside `u64`).
pub const MAX_CAPACITY_J: f64 = 1e12;

/// The `[energy]` section of a scenario.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnergyConfig {
    /// Pool capacity per node, J. Default 23 760 (PAPER `B_cap`).
    pub capacity_j: f64,
    /// Initial level as a fraction of capacity. Default 1.0 (full).
    pub initial_fraction: f64,
    /// Harvesting model. Default none.
    pub harvest: HarvestConfig,
    /// Constant drain while the node is on, mW. Default 0.0: sleep and
    /// awake (TWT) power arrive with the power model; until then only the
    /// energy the node itself accounts is charged.
    pub baseline_power_mw: f64,
    /// The node stops when its level falls to or below this fraction.
    /// Default 0.0 (empty). PAPER `B_min` = 1000 J is 0.042 of `B_cap`.
    pub brownout_fraction: f64,
    /// A browned-out node restarts once recharged to this fraction; must
    /// exceed `brownout_fraction`. Default 0.1.
    pub resume_fraction: f64,
}

impl Default for EnergyConfig {
    fn default() -> EnergyConfig {
        EnergyConfig {
            capacity_j: 23_760.0,
            initial_fraction: 1.0,
            harvest: HarvestConfig::None {},
            baseline_power_mw: 0.0,
            brownout_fraction: 0.0,
            resume_fraction: 0.1,
        }
    }
}

impl Validate for EnergyConfig {
    fn validate(&self, v: &mut Validator) {
        let cap_ok = self.capacity_j.is_finite()
            && self.capacity_j > 0.0
            && self.capacity_j <= MAX_CAPACITY_J;
        v.require(
            cap_ok,
            "capacity_j",
            format_args!("a number in (0, {MAX_CAPACITY_J}] J"),
            self.capacity_j,
        );
        v.probability("initial_fraction", self.initial_fraction);
        v.section("harvest", |v| self.harvest.validate(v));
        let p = self.baseline_power_mw;
        let ok = p.is_finite() && (0.0..=MAX_POWER_MW).contains(&p);
        v.require(
            ok,
            "baseline_power_mw",
            format_args!("a power in [0, {MAX_POWER_MW}] mW"),
            p,
        );
        let b = self.brownout_fraction;
        let ok = b.is_finite() && (0.0..1.0).contains(&b);
        v.require(ok, "brownout_fraction", "a fraction in [0, 1)", b);
        let r = self.resume_fraction;
        let ok = r.is_finite() && r > 0.0 && r <= 1.0;
        v.require(ok, "resume_fraction", "a fraction in (0, 1]", r);
        v.require(
            r > b,
            "resume_fraction",
            format_args!("a fraction greater than brownout_fraction ({b})"),
            r,
        );
    }
}

/// Why pools could not be built.
#[derive(Clone, Debug, PartialEq)]
pub enum EnergyError {
    /// The configuration breaks a rule; each violation says which.
    Invalid(Vec<Violation>),
}

impl fmt::Display for EnergyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let EnergyError::Invalid(violations) = self;
        crate::validate::write_violations(f, "energy", violations)
    }
}

impl std::error::Error for EnergyError {}

/// Whether a node is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PowerState {
    /// Powered: runs, is charged, drains the baseline.
    On,
    /// Browned out: stopped, only harvests.
    BrownedOut,
}

/// What an update did to a node's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// No state change.
    Unchanged,
    /// The node just browned out.
    BrownedOut,
    /// The node just resumed.
    Resumed,
}

/// Swarm-wide energy totals. What the pools lost is `spent_uj +
/// drained_uj`; the two are kept apart because only the first is the
/// nodes' own accounting of their work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EnergyTotals {
    /// Energy drawn by [`EnergyPools::charge`]: the work the nodes accounted
    /// themselves (compute, radio), µJ.
    pub spent_uj: u64,
    /// Energy drawn by the baseline drain (`baseline_power_mw`) in
    /// [`EnergyPools::advance`], µJ.
    pub drained_uj: u64,
    /// Harvested energy that entered pools (overflow at capacity excluded), µJ.
    pub harvested_uj: u64,
    /// Brownout transitions.
    pub brownouts: u64,
}

/// One node's pool (an array of structs: a node's event touches one cache
/// line, and a contiguous range of nodes is a plain sub-slice, which the
/// world hands to one thread of its parallel phase).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    level_uj: u64,
    last_us: u64,
    spent_uj: u64,
    harvested_uj: u64,
    brownouts: u32,
    state: PowerState,
}

/// The parameters every pool shares (read-only during a run).
#[derive(Clone, Debug)]
pub struct PoolParams {
    capacity_uj: u64,
    brownout_uj: u64,
    resume_uj: u64,
    baseline_nw: u64,
    harvest: Harvest,
}

/// The energy pools of every node, one [`Pool`] per node.
#[derive(Clone, Debug)]
pub struct EnergyPools {
    params: PoolParams,
    pools: Vec<Pool>,
    totals: EnergyTotals,
}

impl EnergyPools {
    /// Validates `config` and builds `n` pools at `t = 0`. A pool that
    /// starts at or below the brownout level starts browned out (not
    /// counted as a brownout).
    pub fn new(config: &EnergyConfig, n: u32) -> Result<EnergyPools, EnergyError> {
        let mut v = Validator::new();
        config.validate(&mut v);
        let violations = v.into_violations();
        if !violations.is_empty() {
            return Err(EnergyError::Invalid(violations));
        }
        let capacity_uj = (config.capacity_j * 1e6).round() as u64;
        let frac = |f: f64| (capacity_uj as f64 * f).floor() as u64;
        let brownout_uj = frac(config.brownout_fraction);
        let resume_uj = (capacity_uj as f64 * config.resume_fraction).ceil() as u64;
        let initial = frac(config.initial_fraction);
        let state = if initial > brownout_uj {
            PowerState::On
        } else {
            PowerState::BrownedOut
        };
        let pool = Pool {
            level_uj: initial,
            last_us: 0,
            spent_uj: 0,
            harvested_uj: 0,
            brownouts: 0,
            state,
        };
        Ok(EnergyPools {
            params: PoolParams {
                capacity_uj,
                brownout_uj,
                resume_uj: resume_uj.clamp(brownout_uj + 1, capacity_uj.max(brownout_uj + 1)),
                baseline_nw: mw_to_nw(config.baseline_power_mw),
                harvest: Harvest::new(&config.harvest),
            },
            pools: vec![pool; n as usize],
            totals: EnergyTotals::default(),
        })
    }

    /// Number of pools.
    pub fn len(&self) -> usize {
        self.pools.len()
    }

    /// Whether there are no pools.
    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
    }

    /// Capacity of every pool, µJ.
    pub fn capacity_uj(&self) -> u64 {
        self.params.capacity_uj
    }

    /// The integer harvesting model.
    pub fn harvest(&self) -> &Harvest {
        &self.params.harvest
    }

    /// The shared parameters and every pool, for a caller that updates
    /// disjoint ranges of pools at once (each with its own
    /// [`EnergyTotals`], added back with [`EnergyPools::add_totals`]).
    pub fn split_mut(&mut self) -> (&PoolParams, &mut [Pool]) {
        (&self.params, &mut self.pools)
    }

    /// Adds totals gathered on pools updated through
    /// [`EnergyPools::split_mut`].
    pub fn add_totals(&mut self, t: &EnergyTotals) {
        self.totals.spent_uj += t.spent_uj;
        self.totals.drained_uj += t.drained_uj;
        self.totals.harvested_uj += t.harvested_uj;
        self.totals.brownouts += t.brownouts;
    }

    /// Brings `node` up to `now_us`: see [`PoolParams::advance`].
    pub fn advance(&mut self, node: NodeId, now_us: u64) -> Transition {
        let pool = &mut self.pools[node as usize];
        self.params.advance(pool, &mut self.totals, now_us)
    }

    /// Draws `uj` the node accounted itself: see [`PoolParams::charge`].
    pub fn charge(&mut self, node: NodeId, uj: u64) -> Transition {
        let pool = &mut self.pools[node as usize];
        self.params.charge(pool, &mut self.totals, uj)
    }

    /// Level of `node` as a Q16.16 fraction of capacity in `[0, 1]`, for
    /// `Runtime::handle_energy`.
    pub fn level_fraction(&self, node: NodeId) -> Q {
        self.params.level_fraction(&self.pools[node as usize])
    }

    /// Whether `node` is on.
    pub fn is_on(&self, node: NodeId) -> bool {
        self.pools[node as usize].is_on()
    }

    /// The power state of `node`.
    pub fn state(&self, node: NodeId) -> PowerState {
        self.pools[node as usize].state
    }

    /// Level of `node` at its last update, µJ.
    pub fn level_uj(&self, node: NodeId) -> u64 {
        self.pools[node as usize].level_uj
    }

    /// Energy `node` has drawn, µJ: its charges and its baseline drain.
    pub fn spent_uj(&self, node: NodeId) -> u64 {
        self.pools[node as usize].spent_uj
    }

    /// Harvested energy that entered `node`'s pool, µJ.
    pub fn harvested_uj(&self, node: NodeId) -> u64 {
        self.pools[node as usize].harvested_uj
    }

    /// Brownouts of `node` so far.
    pub fn brownouts(&self, node: NodeId) -> u32 {
        self.pools[node as usize].brownouts
    }

    /// Swarm-wide totals.
    pub fn totals(&self) -> &EnergyTotals {
        &self.totals
    }

    /// When a browned-out `node` will resume: see
    /// [`PoolParams::next_resume_at`].
    pub fn next_resume_at(&self, node: NodeId) -> Option<u64> {
        self.params.next_resume_at(&self.pools[node as usize])
    }
}

impl Pool {
    /// Whether the node is on.
    pub fn is_on(&self) -> bool {
        self.state == PowerState::On
    }
}

impl PoolParams {
    /// Brings `pool` up to `now_us`: adds harvest over the elapsed time,
    /// subtracts the baseline drain if it is on, then applies brownout or
    /// resume; counts into `totals`. A `now_us` before the last update is
    /// ignored.
    pub fn advance(&self, pool: &mut Pool, totals: &mut EnergyTotals, now_us: u64) -> Transition {
        let last = pool.last_us;
        if now_us <= last {
            return Transition::Unchanged;
        }
        pool.last_us = now_us;
        let gain = self.harvest.between_uj(last, now_us);
        let drain = match pool.state {
            PowerState::On => {
                energy_uj(self.baseline_nw, now_us) - energy_uj(self.baseline_nw, last)
            }
            PowerState::BrownedOut => 0,
        };
        totals.drained_uj += self.apply(pool, totals, gain, drain);
        self.settle(pool, totals)
    }

    /// Draws `uj` the node accounted itself (radio, CPU, crypto…) at its
    /// last `advance`. Ignored if the node is browned out; the draw stops
    /// at empty.
    pub fn charge(&self, pool: &mut Pool, totals: &mut EnergyTotals, uj: u64) -> Transition {
        if pool.state == PowerState::BrownedOut {
            return Transition::Unchanged;
        }
        totals.spent_uj += self.apply(pool, totals, 0, uj);
        self.settle(pool, totals)
    }

    /// Level of `pool` as a Q16.16 fraction of capacity in `[0, 1]`.
    pub fn level_fraction(&self, pool: &Pool) -> Q {
        let raw = (u128::from(pool.level_uj) << 16) / u128::from(self.capacity_uj.max(1));
        Q::from_bits(raw.min(1 << 16) as i32)
    }

    /// When a browned-out `pool` will have harvested back to the resume
    /// level, counted from its last update (call after `advance`); `None`
    /// if it is on or harvesting can never get it there. Advancing the
    /// pool to the returned instant resumes it.
    pub fn next_resume_at(&self, pool: &Pool) -> Option<u64> {
        if pool.state == PowerState::On {
            return None;
        }
        let need = self.resume_uj.saturating_sub(pool.level_uj);
        self.harvest.time_to_harvest(pool.last_us, need)
    }

    /// Adds `gain` and removes `drain`, clamped to `[0, capacity]`; only
    /// energy that actually entered or left the pool is counted. Returns
    /// the energy drawn, for the caller to add to its total.
    fn apply(&self, pool: &mut Pool, totals: &mut EnergyTotals, gain: u64, drain: u64) -> u64 {
        let raw = i128::from(pool.level_uj) + i128::from(gain) - i128::from(drain);
        let cap = i128::from(self.capacity_uj);
        let (stored, drawn) = if raw > cap {
            (gain - (raw - cap) as u64, drain)
        } else if raw < 0 {
            (gain, drain - (-raw) as u64)
        } else {
            (gain, drain)
        };
        pool.level_uj = raw.clamp(0, cap) as u64;
        pool.harvested_uj += stored;
        pool.spent_uj += drawn;
        totals.harvested_uj += stored;
        drawn
    }

    /// Applies the brownout and resume thresholds.
    fn settle(&self, pool: &mut Pool, totals: &mut EnergyTotals) -> Transition {
        match pool.state {
            PowerState::On if pool.level_uj <= self.brownout_uj => {
                pool.state = PowerState::BrownedOut;
                pool.brownouts += 1;
                totals.brownouts += 1;
                Transition::BrownedOut
            }
            PowerState::BrownedOut if pool.level_uj >= self.resume_uj => {
                pool.state = PowerState::On;
                Transition::Resumed
            }
            _ => Transition::Unchanged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    fn pools(n: u32, f: impl FnOnce(&mut EnergyConfig)) -> EnergyPools {
        let mut c = EnergyConfig::default();
        f(&mut c);
        EnergyPools::new(&c, n).unwrap()
    }

    fn assert_balanced(p: &EnergyPools, node: NodeId, initial_uj: u64) {
        let lhs = p.level_uj(node) + p.spent_uj(node);
        assert_eq!(lhs, initial_uj + p.harvested_uj(node), "balance of {node}");
    }

    #[test]
    fn constant_harvest_integrates_exactly_whatever_the_steps() {
        let mut p = pools(2, |c| {
            c.capacity_j = 100.0;
            c.initial_fraction = 0.5;
            c.harvest = HarvestConfig::Constant { power_mw: 1.5 };
        });
        // Node 0 in one step, node 1 in 1000 irregular steps: 1.5 mW over
        // 3.7 s is 5550 µJ exactly for both.
        p.advance(0, 3_700_000);
        for t in (1..=1000_u64).map(|k| k * 3_700) {
            p.advance(1, t);
        }
        for node in 0..2 {
            assert_eq!(p.harvested_uj(node), 5_550);
            assert_eq!(p.level_uj(node), 50_000_000 + 5_550);
            assert_balanced(&p, node, 50_000_000);
        }
        assert_eq!(p.totals().harvested_uj, 11_100);
    }

    #[test]
    fn solar_is_dark_at_night_and_yields_the_daily_integral() {
        let mut p = pools(1, |c| {
            c.capacity_j = 1e9;
            c.initial_fraction = 0.0;
            c.resume_fraction = 1.0;
            c.harvest = HarvestConfig::Solar {
                peak_power_mw: 1000.0,
                day_length_s: 86_400,
                daylight_fraction: 0.5,
                phase_s: 0,
            };
        });
        let h = *p.harvest();
        // Night is [43 200 s, 86 400 s): nothing.
        assert_eq!(h.between_uj(43_200 * S, 86_400 * S), 0);
        assert_eq!(h.between_uj(50_000 * S, 60_000 * S), 0);
        // One day at 1 W peak over 12 h of light: 1 W · 2 · 43 200 s / π.
        let want = 2.0 * 43_200.0 / std::f64::consts::PI * 1e6;
        p.advance(0, 86_400 * S);
        let got = p.harvested_uj(0) as f64;
        assert!((got - want).abs() / want < 1e-7, "{got} vs {want}");
        // Morning and afternoon are symmetric to the µJ.
        let morning = h.between_uj(0, 21_600 * S);
        let afternoon = h.between_uj(21_600 * S, 43_200 * S);
        assert!(morning.abs_diff(afternoon) <= 1);
        // Ten days give ten times one day exactly.
        assert_eq!(
            h.cumulative_uj(10 * 86_400 * S),
            10 * h.cumulative_uj(86_400 * S)
        );
    }

    #[test]
    fn solar_phase_shifts_the_day() {
        let h = Harvest::new(&HarvestConfig::Solar {
            peak_power_mw: 10.0,
            day_length_s: 100,
            daylight_fraction: 0.25,
            phase_s: 50,
        });
        // The run starts 50 s after sunrise, i.e. at night: dark until t = 50 s.
        assert_eq!(h.cumulative_uj(50 * S), 0);
        assert!(h.between_uj(50 * S, 75 * S) > 0);
        assert_eq!(h.between_uj(75 * S, 150 * S), 0);
    }

    #[test]
    fn brownout_then_resume_at_the_predicted_instant() {
        let mut p = pools(1, |c| {
            c.capacity_j = 10.0;
            c.initial_fraction = 0.2;
            c.brownout_fraction = 0.1;
            c.resume_fraction = 0.5;
            c.harvest = HarvestConfig::Constant { power_mw: 1.0 };
        });
        let ulp = (p.level_fraction(0) - Q::from_num(0.2)).abs();
        assert!(ulp <= Q::DELTA, "{ulp}");
        assert_eq!(p.next_resume_at(0), None);
        p.advance(0, S);
        assert_eq!(p.charge(0, 1_501_000), Transition::BrownedOut);
        assert!(!p.is_on(0));
        assert_eq!(p.charge(0, 1), Transition::Unchanged);
        // Level 0.5 J; resume at 5 J: 4.5 J at 1 mW is 4500 s after t = 1 s.
        let at = p.next_resume_at(0).unwrap();
        assert_eq!(at, 4_501 * S);
        assert_eq!(p.advance(0, at - 1), Transition::Unchanged);
        assert_eq!(p.advance(0, at), Transition::Resumed);
        assert!(p.is_on(0));
        assert_eq!((p.brownouts(0), p.totals().brownouts), (1, 1));
        assert_balanced(&p, 0, 2_000_000);
    }

    #[test]
    fn solar_resume_prediction_holds_across_nights() {
        let mut p = pools(1, |c| {
            c.capacity_j = 2000.0;
            c.initial_fraction = 0.01;
            c.resume_fraction = 0.9;
            c.harvest = HarvestConfig::Solar {
                peak_power_mw: 10.0,
                day_length_s: 86_400,
                daylight_fraction: 0.5,
                phase_s: 0,
            };
        });
        p.charge(0, 20_000_000);
        let at = p.next_resume_at(0).unwrap();
        // ~275 J per day: about 6.5 days to gather 1800 J.
        assert!(at > 6 * 86_400 * S && at < 7 * 86_400 * S, "{at}");
        assert_eq!(p.advance(0, at - 1), Transition::Unchanged);
        assert_eq!(p.advance(0, at), Transition::Resumed);
    }

    #[test]
    fn without_harvest_a_browned_out_node_never_resumes() {
        let mut p = pools(1, |c| c.capacity_j = 1.0);
        assert_eq!(p.charge(0, 5_000_000), Transition::BrownedOut);
        assert_eq!((p.level_uj(0), p.spent_uj(0)), (0, 1_000_000));
        assert_eq!(p.next_resume_at(0), None);
        assert_eq!(p.advance(0, u64::MAX / 4), Transition::Unchanged);
        assert!(!p.is_on(0));
    }

    #[test]
    fn baseline_drain_browns_out_and_stops() {
        let mut p = pools(1, |c| {
            c.capacity_j = 1.0;
            c.baseline_power_mw = 1.0;
        });
        assert_eq!(p.advance(0, 999 * S), Transition::Unchanged);
        assert_eq!(p.level_uj(0), 1_000);
        assert_eq!(p.advance(0, 1_001 * S), Transition::BrownedOut);
        p.advance(0, 5_000 * S);
        assert_eq!((p.level_uj(0), p.spent_uj(0)), (0, 1_000_000));
        // All of it was drain: none is the node's own work.
        assert_eq!((p.totals().spent_uj, p.totals().drained_uj), (0, 1_000_000));
    }

    #[test]
    fn work_and_drain_are_totalled_apart() {
        let mut p = pools(2, |c| c.baseline_power_mw = 1.0);
        p.advance(0, 10 * S); // 10 mJ of drain
        p.charge(0, 3_000); // 3 mJ of work
        p.charge(1, 500);
        let t = p.totals();
        assert_eq!((t.spent_uj, t.drained_uj), (3_500, 10_000));
        assert_eq!(p.spent_uj(0) + p.spent_uj(1), t.spent_uj + t.drained_uj);
    }

    #[test]
    fn level_fraction_is_q16_in_unit_interval() {
        let mut p = pools(1, |c| c.initial_fraction = 0.5);
        assert_eq!(p.level_fraction(0), Q::from_num(0.5));
        let full = pools(1, |_| {});
        assert_eq!(full.level_fraction(0), Q::ONE);
        p.charge(0, u64::MAX);
        assert_eq!(p.level_fraction(0), Q::ZERO);
    }

    #[test]
    fn validation_catches_bad_values_and_inconsistency() {
        let c = EnergyConfig {
            capacity_j: -1.0,
            brownout_fraction: 0.3,
            resume_fraction: 0.3,
            harvest: HarvestConfig::Solar {
                peak_power_mw: -2.0,
                day_length_s: 0,
                daylight_fraction: 1.5,
                phase_s: 0,
            },
            ..EnergyConfig::default()
        };
        let Err(EnergyError::Invalid(v)) = EnergyPools::new(&c, 1) else {
            panic!("must be invalid")
        };
        let keys: Vec<&str> = v.iter().map(|x| x.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "capacity_j",
                "harvest.peak_power_mw",
                "harvest.day_length_s",
                "harvest.daylight_fraction",
                "harvest.phase_s",
                "resume_fraction"
            ]
        );
        assert!(v[5].expected.contains("greater than brownout_fraction"));
    }

    #[test]
    fn toml_harvest_tables_parse() {
        let c: EnergyConfig = toml::from_str(
            "capacity_j = 100.0\n[harvest]\nkind = \"solar\"\npeak_power_mw = 50.0\n",
        )
        .unwrap();
        let HarvestConfig::Solar {
            day_length_s,
            daylight_fraction,
            ..
        } = c.harvest
        else {
            panic!("solar expected")
        };
        assert_eq!((day_length_s, daylight_fraction), (86_400, 0.5));
        let bad = "[harvest]\nkind = \"constant\"\npower_mw = 1.0\npeak = 2.0\n";
        assert!(toml::from_str::<EnergyConfig>(bad).is_err());
        assert!(toml::from_str::<EnergyConfig>("capacity = 1.0").is_err());
    }
}
