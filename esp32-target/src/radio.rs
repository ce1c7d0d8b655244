//! Frames on the air over ESP-NOW broadcast (esp-radio), at most
//! [`MTU`] = 250 bytes each: ESP-NOW v1's payload limit. node-core
//! fragments its frames to whatever buffer the host passes to
//! `poll_transmit`, so the host passes a 250-byte buffer and sends each
//! fragment as one ESP-NOW packet (docs/wire-format.md).
//!
//! ## Contract
//!
//! * [`Radio::broadcast`] blocks until the Wi-Fi driver's send callback
//!   reports the outcome (a broadcast has no acknowledgement: "sent" means
//!   it left the radio).
//! * [`Radio::receive`] never blocks: it copies the oldest queued packet
//!   into the caller's fixed buffer and returns its length. esp-radio
//!   queues each received packet in a heap box that is freed as soon as it
//!   is copied; the node itself gets a borrowed slice and keeps nothing.
//! * Packets longer than [`MTU`] cannot come from a RaaS node (ESP-NOW v2
//!   peers can send up to 1470 bytes): they are counted and dropped.
//! * While the chip is in light sleep the MAC is clock-gated and packets
//!   on the air are lost; the host listens around round boundaries.

use core::fmt;

use esp_hal::peripherals::WIFI;
use esp_radio::esp_now::{BROADCAST_ADDRESS, ESP_NOW_MAX_DATA_LEN_V1, EspNow, EspNowError};
use esp_radio::wifi::{WifiController, WifiError};

/// Largest ESP-NOW (v1) payload, the MTU handed to node-core.
pub const MTU: usize = ESP_NOW_MAX_DATA_LEN_V1;
const _: () = assert!(MTU == 250, "ESP-NOW v1 payloads are 250 bytes");

/// Radio settings.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Wi-Fi channel every node of the swarm uses (1..=13). Default 1.
    pub channel: u8,
}

impl Default for Config {
    fn default() -> Config {
        Config { channel: 1 }
    }
}

/// Why the radio failed.
#[derive(Debug)]
pub enum Error {
    /// The Wi-Fi driver refused to start.
    Wifi(WifiError),
    /// An ESP-NOW call failed.
    EspNow(EspNowError),
    /// A frame longer than the MTU was handed to `broadcast`.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Wifi(e) => write!(f, "Wi-Fi driver: {e:?}"),
            Error::EspNow(e) => write!(f, "ESP-NOW: {e:?}"),
            Error::TooLong { len } => write!(f, "frame of {len} bytes exceeds the {MTU}-byte MTU"),
        }
    }
}

/// Counters of radio traffic since boot.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    /// Packets handed to the driver.
    pub sent: u32,
    /// Of those, packets the driver reported as failed.
    pub send_failed: u32,
    /// Packets received and passed on.
    pub received: u32,
    /// Packets received longer than the MTU, dropped.
    pub oversize: u32,
}

/// ESP-NOW in broadcast mode.
pub struct Radio<'d> {
    /// Keeps Wi-Fi initialised for as long as the radio lives.
    _controller: WifiController<'d>,
    esp_now: EspNow,
    counters: Counters,
}

impl<'d> Radio<'d> {
    /// Starts Wi-Fi and ESP-NOW on `config.channel`. The broadcast peer is
    /// registered by esp-radio itself. Needs the esp-rtos scheduler running.
    pub fn new(wifi: WIFI<'d>, config: Config) -> Result<Radio<'d>, Error> {
        let controller = WifiController::new(wifi, Default::default()).map_err(Error::Wifi)?;
        let esp_now = controller.esp_now();
        esp_now.set_channel(config.channel).map_err(Error::EspNow)?;
        Ok(Radio {
            _controller: controller,
            esp_now,
            counters: Counters::default(),
        })
    }

    /// Broadcasts one packet of at most [`MTU`] bytes and waits for the
    /// driver's verdict.
    pub fn broadcast(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if bytes.len() > MTU {
            return Err(Error::TooLong { len: bytes.len() });
        }
        self.counters.sent += 1;
        let outcome = self
            .esp_now
            .send(&BROADCAST_ADDRESS, bytes)
            .and_then(|waiter| waiter.wait());
        if outcome.is_err() {
            self.counters.send_failed += 1;
        }
        outcome.map_err(Error::EspNow)
    }

    /// Copies the oldest received packet into `buf` and returns its length,
    /// or `None` when the queue is empty. Oversize packets are dropped and
    /// counted (the next call moves on).
    pub fn receive(&mut self, buf: &mut [u8; MTU]) -> Option<usize> {
        let packet = self.esp_now.receive()?;
        let data = packet.data();
        if data.len() > MTU {
            self.counters.oversize += 1;
            return Some(0);
        }
        buf[..data.len()].copy_from_slice(data);
        self.counters.received += 1;
        Some(data.len())
    }

    /// Traffic counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }
}
