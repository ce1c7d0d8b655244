//! Energy accounting of a node's own work.
//!
//! The node counts what its actions cost, in integer microjoules, and
//! reports the running total in [`crate::runtime::Telemetry::energy_used_uj`];
//! the host charges its battery with the difference. TWT sleep scheduling and
//! per-hardware profiles build on this module (DESIGN.md, `power`).

/// Energy per action, µJ. Defaults follow the paper's energy table
/// (docs/paper.md §1.3): a 74-byte gossip frame costs 8.2 mJ to send and 5.1 mJ
/// to receive on Wi-Fi (Jiang 2011), i.e. about 111 µJ and 69 µJ per byte;
/// a predict-and-train step of the linear neuron is costed like the paper's
/// "trimmed mean (d = 10) 2.3 µJ" order of magnitude, 2 µJ; an aggregation
/// 3 µJ. These are assumptions carried from the paper, not measurements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnergyCosts {
    /// Per sample: predict, train, entropy and regime update.
    pub sample_uj: u32,
    /// Per aggregation round.
    pub aggregate_uj: u32,
    /// Per byte transmitted.
    pub tx_uj_per_byte: u32,
    /// Per byte received.
    pub rx_uj_per_byte: u32,
}

impl Default for EnergyCosts {
    fn default() -> EnergyCosts {
        EnergyCosts {
            sample_uj: 2,
            aggregate_uj: 3,
            tx_uj_per_byte: 111,
            rx_uj_per_byte: 69,
        }
    }
}

/// A running total of energy used, µJ (saturating).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EnergyMeter {
    used_uj: u64,
}

impl EnergyMeter {
    /// Adds `uj`.
    pub fn spend(&mut self, uj: u64) {
        self.used_uj = self.used_uj.saturating_add(uj);
    }

    /// Adds `bytes × per_byte_uj`.
    pub fn spend_bytes(&mut self, bytes: usize, per_byte_uj: u32) {
        self.spend((bytes as u64).saturating_mul(u64::from(per_byte_uj)));
    }

    /// Total so far.
    pub const fn used_uj(&self) -> u64 {
        self.used_uj
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_adds_and_saturates() {
        let mut m = EnergyMeter::default();
        let costs = EnergyCosts::default();
        m.spend_bytes(74, costs.tx_uj_per_byte);
        assert_eq!(m.used_uj(), 8_214);
        m.spend(u64::MAX);
        assert_eq!(m.used_uj(), u64::MAX);
    }
}
