//! RaaS node firmware for the ESP32-C6.
//!
//! Runs `node_core::node::Node` — the same crate, configuration type and
//! code the simulator runs, with no feature or cfg that changes its logic —
//! on real hardware. `main` only brings the chip up and hands each
//! peripheral to its module; [`host`] drives the node through the sans-IO
//! `Runtime` contract:
//!
//! | module | owns | real or stand-in |
//! |---|---|---|
//! | [`clock`] | `now` in µs from the system timer, forward-only alignment | real |
//! | [`sensor`] | on-chip temperature sensor → Q16.16 sample | real |
//! | [`radio`] | ESP-NOW broadcast, 250-byte fragments | real |
//! | [`store`] | node-core's `TwoSlotStore` on two 4 KiB flash sectors | real |
//! | [`sleep`] | light sleep until the next deadline | stand-in for Wi-Fi 6 TWT |
//! | [`host`] | the event loop: `handle_*`, drain `poll_transmit`, `poll_at` | — |
//!
//! See docs/esp32.md for building, flashing and what each stand-in means.
#![no_std]
#![no_main]

extern crate alloc;

mod clock;
mod host;
mod radio;
mod sensor;
mod sleep;
mod store;

use esp_backtrace as _;
use esp_hal::clock::CpuClock;
use esp_hal::timer::timg::TimerGroup;
use esp_println::println;

esp_bootloader_esp_idf::esp_app_desc!();

/// Heap for esp-radio (the Wi-Fi blob's buffers, about 72 KiB by its
/// examples) plus node-core's one-time allocations at `Node::new` (a few
/// KiB for the default configuration; logged at boot as `heap used`).
/// node-core allocates nothing per event after construction.
const HEAP_BYTES: usize = 96 * 1024;

#[esp_hal::main]
fn main() -> ! {
    let config = esp_hal::Config::default().with_cpu_clock(CpuClock::max());
    let peripherals = esp_hal::init(config);
    esp_alloc::heap_allocator!(size: HEAP_BYTES);

    // esp-radio needs the esp-rtos scheduler running before Wi-Fi starts.
    let timg0 = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timg0.timer0, peripherals.FROM_CPU_INTR0);

    println!("raas: ESP32-C6 node firmware {}", env!("CARGO_PKG_VERSION"));
    let sensor = match sensor::Sensor::new(peripherals.TSENS) {
        Ok(sensor) => sensor,
        Err(e) => halt(format_args!("temperature sensor: {e}")),
    };
    let radio = match radio::Radio::new(peripherals.WIFI, radio::Config::default()) {
        Ok(radio) => radio,
        Err(e) => halt(format_args!("ESP-NOW: {e}")),
    };
    let store = store::Store::new(peripherals.FLASH);
    let sleeper = sleep::Sleeper::new(peripherals.LPWR, sleep::Config::default());
    let mut host = match host::Host::new(host::Config::default(), sensor, radio, store, sleeper) {
        Ok(host) => host,
        Err(e) => halt(format_args!("node: {e}")),
    };
    host.run()
}

/// Logs why the firmware cannot start and parks the core (a watchdog or a
/// reset button restarts it).
fn halt(reason: core::fmt::Arguments<'_>) -> ! {
    println!("raas: cannot start: {reason}");
    loop {
        core::hint::spin_loop();
    }
}
