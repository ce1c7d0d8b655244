//! What and when to broadcast: the utility gate of strategic silence
//! (PAPER.md §4, this module) and delta updates against the model sender
//! and receivers agree on ([`delta`]).
//!
//! Per regime, at the end of each round:
//!
//! | regime | broadcast when |
//! |---|---|
//! | any | never if the battery is below `energy_floor` (paper: 10 %) |
//! | Calm | `entropy × reputation > cost × bias`, or battery above `energy_generous` (paper: 70 %) |
//! | PreStorm | battery above `prestorm_energy_min` (paper: 30 %) |
//! | Storm | always (full coordination) |
//!
//! The paper leaves "cost from the energy state" open (its code uses a
//! constant 50 units against a reputation it documents on a 0–100 scale, so
//! the utility term can never fire). Ours: `cost = gossip_cost / level`, the
//! base cost scaled up as the battery drains (level clamped below at the
//! floor), so a node on a full battery pays `gossip_cost` and one at 20 %
//! pays five times that. `entropy` is the node's raw prediction-error
//! entropy in nats ([`crate::regime`]).

pub mod delta;

use crate::q::{self, Q};
use crate::regime::Regime;

/// How broadcasts are gated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GateMode {
    /// The paper's per-regime rule (module docs). Default.
    #[default]
    Utility,
    /// Broadcast every round whatever the state (plain gossip; baseline).
    Always,
}

/// Parameters of the gate; defaults are the paper's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GossipConfig {
    /// Which rule applies.
    pub mode: GateMode,
    /// Base cost of a broadcast on a full battery, nats. Default 1.5: a
    /// well-trained node on calm data (entropy ≈ 1.3 nats with the default
    /// histogram) stays silent, a surprised one (≥ 1.5) speaks.
    pub gossip_cost: Q,
    /// The paper's efficiency bias. Default 1.
    pub efficiency_bias: Q,
    /// Below this battery fraction a node never broadcasts. Default 0.10.
    pub energy_floor: Q,
    /// Above this battery fraction a Calm node always broadcasts. Default 0.70.
    pub energy_generous: Q,
    /// A PreStorm node broadcasts when its battery is above this. Default 0.30.
    pub prestorm_energy_min: Q,
}

impl Default for GossipConfig {
    fn default() -> GossipConfig {
        GossipConfig {
            mode: GateMode::Utility,
            gossip_cost: q::ratio(3, 2),
            efficiency_bias: q::ONE,
            energy_floor: q::ratio(1, 10),
            energy_generous: q::ratio(7, 10),
            prestorm_energy_min: q::ratio(3, 10),
        }
    }
}

/// What the gate sees of the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GateInput {
    /// Current regime.
    pub regime: Regime,
    /// Raw entropy of the prediction error, nats.
    pub entropy: Q,
    /// The node's reputation in `[0, 1]` (its own estimate).
    pub reputation: Q,
    /// Battery state of charge in `[0, 1]`.
    pub energy_level: Q,
}

/// Whether to broadcast this round.
pub fn should_broadcast(config: &GossipConfig, input: &GateInput) -> bool {
    if config.mode == GateMode::Always {
        return true;
    }
    if input.energy_level < config.energy_floor {
        return false;
    }
    match input.regime {
        Regime::Storm => true,
        Regime::PreStorm => input.energy_level > config.prestorm_energy_min,
        Regime::Calm => {
            if input.energy_level > config.energy_generous {
                return true;
            }
            let utility = q::mul(input.entropy, input.reputation);
            let level = input
                .energy_level
                .max(config.energy_floor)
                .max(Q::from_bits(1));
            let cost = q::mul(q::div(config.gossip_cost, level), config.efficiency_bias);
            utility > cost
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(regime: Regime, entropy: Q, level: Q) -> GateInput {
        GateInput {
            regime,
            entropy,
            reputation: q::ONE,
            energy_level: level,
        }
    }

    #[test]
    fn table_of_the_paper() {
        let c = GossipConfig::default();
        let (low, mid, high) = (q::ratio(5, 100), q::ratio(5, 10), q::ratio(9, 10));
        let calm_h = q::ratio(13, 10);
        let hot_h = q::from_int(3);
        // Below the floor: never, even in Storm.
        assert!(!should_broadcast(&c, &input(Regime::Storm, hot_h, low)));
        // Storm: always above the floor.
        assert!(should_broadcast(&c, &input(Regime::Storm, q::ZERO, mid)));
        // PreStorm: by energy.
        assert!(should_broadcast(&c, &input(Regime::PreStorm, q::ZERO, mid)));
        assert!(!should_broadcast(
            &c,
            &input(Regime::PreStorm, hot_h, q::ratio(2, 10))
        ));
        // Calm: generous battery always; otherwise utility vs cost.
        assert!(should_broadcast(&c, &input(Regime::Calm, q::ZERO, high)));
        assert!(!should_broadcast(&c, &input(Regime::Calm, calm_h, mid)));
        assert!(should_broadcast(
            &c,
            &input(Regime::Calm, hot_h, q::ratio(6, 10))
        ));
        // Cost rises as the battery drains: the same entropy is silenced.
        assert!(!should_broadcast(
            &c,
            &input(Regime::Calm, hot_h, q::ratio(2, 10))
        ));
    }

    #[test]
    fn always_mode_ignores_state() {
        let c = GossipConfig {
            mode: GateMode::Always,
            ..GossipConfig::default()
        };
        assert!(should_broadcast(&c, &input(Regime::Calm, q::ZERO, q::ZERO)));
    }

    #[test]
    fn reputation_scales_utility() {
        let c = GossipConfig::default();
        let mut i = input(Regime::Calm, q::from_int(2), q::ratio(6, 10));
        assert!(!should_broadcast(&c, &i)); // 2.0 < 1.5/0.6 = 2.5
        i.entropy = q::from_int(3);
        assert!(should_broadcast(&c, &i)); // 3.0 > 2.5
        i.reputation = q::ratio(1, 2);
        assert!(!should_broadcast(&c, &i)); // 1.5 < 2.5
    }
}
