//! The node's clock: integer microseconds since boot from esp-hal's system
//! timer, plus a forward-only shift that aligns this board's round
//! boundaries with its peers'.
//!
//! ## Why a shift
//!
//! `Node` starts its round clock at `Instant::ZERO` and runs rounds at
//! `k · round_period + round_offset`. Boards boot at different times, so
//! their boundaries are out of phase, and a board that sleeps outside its
//! own listening window would never hear a peer whose window lies
//! elsewhere. With Wi-Fi 6 individual TWT the access point would give
//! every station the same service periods; that is not available to
//! `no_std` Rust (see docs/esp32.md), so the host aligns itself: a model
//! update leaves its sender at the sender's round boundary, so its arrival
//! time marks the sender's phase, and [`Clock::align_forward`] moves this
//! board's clock *forward* until that instant is a boundary here too.
//!
//! ## Ordering contract
//!
//! * [`Clock::now`] never decreases (node-core's `Runtime` contract): the
//!   hardware counter is monotonic (esp-hal advances it across light
//!   sleep) and the shift only grows.
//! * A forward jump is an ordinary late wake for the node: it closes the
//!   open round and skips missed boundaries (`Node::handle_wake`).
//! * This is host policy only; node-core sees nothing but `now`.

use esp_hal::time::{Duration as HalDuration, Instant as HalInstant};
use node_core::time::{Duration, Instant};

/// Monotonic node time with a forward-only alignment shift.
pub struct Clock {
    /// Added to the hardware time (µs); only ever grows.
    shift_us: u64,
    /// Latest value returned by `now`, to assert monotonicity.
    last_us: u64,
}

impl Clock {
    /// A clock reading the hardware time since boot, unshifted.
    pub const fn new() -> Clock {
        Clock {
            shift_us: 0,
            last_us: 0,
        }
    }

    /// The current node time.
    pub fn now(&mut self) -> Instant {
        let now_us = hardware_us().saturating_add(self.shift_us);
        debug_assert!(now_us >= self.last_us, "node time went backwards");
        self.last_us = now_us;
        Instant::from_micros(now_us)
    }

    /// The hardware instant at which the node time reads `at` (for the
    /// sleep alarm). Instants before boot map to boot.
    pub fn to_hardware(&self, at: Instant) -> HalInstant {
        let local_us = at.as_micros().saturating_sub(self.shift_us);
        HalInstant::EPOCH + HalDuration::from_micros(local_us)
    }

    /// Total forward shift applied so far (µs).
    pub fn shift_us(&self) -> u64 {
        self.shift_us
    }

    /// Aligns this board's round boundaries with a peer's boundary observed
    /// at node time `heard_at`, by moving the clock forward by
    /// `period − phase`, where `phase = (heard_at − offset) mod period`.
    ///
    /// Nothing moves when the phase is within `tolerance` of a boundary
    /// (already aligned: radio latency and fragment spacing). Unless
    /// `any_phase` is set (a newcomer adopting the swarm's phase), the clock
    /// only follows a peer that *leads* by less than half a round
    /// (`period − phase < period / 2`): of two boards that hear each other,
    /// exactly one moves, so the pair converges instead of swapping phases.
    /// Returns the shift applied.
    pub fn align_forward(
        &mut self,
        heard_at: Instant,
        period: Duration,
        offset: Duration,
        tolerance: Duration,
        any_phase: bool,
    ) -> Option<Duration> {
        let period_us = period.as_micros();
        if period_us == 0 {
            return None;
        }
        let since_offset_us = heard_at.as_micros().checked_sub(offset.as_micros())?;
        let phase_us = since_offset_us % period_us;
        let lead_us = period_us - phase_us;
        let tolerance_us = tolerance.as_micros();
        if phase_us <= tolerance_us || lead_us <= tolerance_us {
            return None;
        }
        if !any_phase && lead_us >= period_us / 2 {
            return None;
        }
        self.shift_us = self.shift_us.saturating_add(lead_us);
        Some(Duration::from_micros(lead_us))
    }
}

/// Microseconds since boot from esp-hal's system timer (kept running
/// across light sleep by esp-hal's sleep code).
fn hardware_us() -> u64 {
    HalInstant::now().duration_since_epoch().as_micros()
}
