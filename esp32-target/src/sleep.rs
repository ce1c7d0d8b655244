//! Light sleep between wakes: the firmware's stand-in for Wi-Fi 6
//! individual Target Wake Time (iTWT).
//!
//! With iTWT the access point and the station agree on service periods and
//! the station's radio sleeps in between. esp-radio (the `no_std` Wi-Fi
//! driver) exposes only the legacy power-save modes (none, minimum,
//! maximum modem sleep) and no TWT negotiation, and ESP-NOW has no access
//! point anyway, so the host does what TWT would do for it: it sleeps the
//! whole chip until the next instant it must act (the node's `poll_at`, the
//! next sample, or the next listening window) with esp-hal's light sleep
//! and a timer wakeup.
//!
//! Light sleep keeps RAM, the CPU state and the modem's power domain (so
//! Wi-Fi works after waking); the CPU and the MAC are clock-gated, so
//! packets on the air during the sleep are lost. esp-hal advances the
//! system timer by the time slept, so the node's clock stays monotonic.

use esp_hal::peripherals::LPWR;
use esp_hal::rtc_cntl::sleep::{LowPower, RtcSleepConfig};
use esp_hal::time::Instant as HalInstant;

/// Sleep settings.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Gaps shorter than this (µs) are waited out awake: entering and
    /// leaving light sleep costs time and energy of its own. Default 5 ms.
    pub min_sleep_us: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            min_sleep_us: 5_000,
        }
    }
}

/// Counters of sleeps since boot.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    /// Light sleeps entered.
    pub sleeps: u32,
    /// Time spent in them (µs, by the system timer).
    pub slept_us: u64,
}

/// Puts the chip into light sleep until a deadline.
pub struct Sleeper<'d> {
    low_power: LowPower<'d>,
    config: Config,
    counters: Counters,
}

impl<'d> Sleeper<'d> {
    /// A sleeper owning the low-power management block.
    pub fn new(lpwr: LPWR<'d>, config: Config) -> Sleeper<'d> {
        Sleeper {
            low_power: LowPower::new(lpwr),
            config,
            counters: Counters::default(),
        }
    }

    /// Sleeps until `deadline` (hardware time) if it is at least
    /// `min_sleep_us` away; returns whether it slept. A deadline already
    /// past returns at once.
    pub fn sleep_until(&mut self, deadline: HalInstant) -> bool {
        let start = HalInstant::now();
        if deadline <= start || (deadline - start).as_micros() < self.config.min_sleep_us {
            return false;
        }
        self.low_power.set_wakeup_deadline(deadline);
        self.low_power.sleep_light(RtcSleepConfig::default());
        self.low_power.clear_wakeup_deadline();
        self.counters.sleeps += 1;
        self.counters.slept_us += start.elapsed().as_micros();
        true
    }

    /// Sleep counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }
}
