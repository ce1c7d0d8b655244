//! Entropy signal and the Calm → PreStorm → Storm regime machine.

/// The swarm's operating regime (PAPER.md §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Regime {
    /// Quiet: utility-gated gossip, long sleeps.
    #[default]
    Calm = 0,
    /// Rising entropy: broadcast when energy allows.
    PreStorm = 1,
    /// High entropy: full coordination.
    Storm = 2,
}
