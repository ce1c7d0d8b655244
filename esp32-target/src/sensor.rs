//! Samples from the ESP32-C6's on-chip temperature sensor (`esp_hal::tsens`),
//! scaled to Q16.16 with integer arithmetic only.
//!
//! ## Scaling
//!
//! esp-hal reports a raw 8-bit reading `raw` and a range offset (`-1` in
//! the default range) with the conversion
//! `°C = 0.4386·raw − 27.88·offset − 20.52`. The firmware evaluates it in
//! Q16.16 integers (coefficients rounded to 1/65536) and centres and scales
//! the result so that room temperature sits near zero with unit-order
//! swings, the range node-core's predictor is tuned for (z-normalised data):
//!
//! ```text
//! sample = (°C − 25) / 10        // Q16.16
//! ```
//!
//! The sensor measures the die, which runs warmer than the air and follows
//! CPU load; for the swarm it is a real, slowly drifting, noisy signal.

use core::fmt;

use esp_hal::delay::Delay;
use esp_hal::peripherals::TSENS;
use esp_hal::tsens::{Config, TemperatureSensor};
use node_core::q::{self, Q};

/// 0.4386 °C per raw count, in Q16.16 (0.4386 · 65536 = 28744.1).
const CELSIUS_PER_COUNT_BITS: i32 = 28_744;
/// 27.88 °C per unit of range offset, in Q16.16.
const CELSIUS_PER_OFFSET_BITS: i32 = 1_827_144;
/// 20.52 °C, in Q16.16.
const CELSIUS_BIAS_BITS: i32 = 1_344_799;
/// The temperature mapped to sample 0 (°C).
const CENTRE_CELSIUS: i32 = 25;
/// Degrees per sample unit.
const CELSIUS_PER_UNIT: i32 = 10;
/// Settling time after power-up (esp-hal recommends a few hundred µs).
const SETTLE_US: u32 = 300;

/// Why the sensor could not start.
#[derive(Debug)]
pub struct Error;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("esp-hal refused the temperature sensor configuration")
    }
}

/// The on-chip temperature sensor.
pub struct Sensor<'d> {
    tsens: TemperatureSensor<'d>,
}

impl<'d> Sensor<'d> {
    /// Powers the sensor up (XTAL clock) and waits for it to settle.
    pub fn new(tsens: TSENS<'d>) -> Result<Sensor<'d>, Error> {
        let tsens = TemperatureSensor::new(tsens, Config::default()).map_err(|_| Error)?;
        Delay::new().delay_micros(SETTLE_US);
        Ok(Sensor { tsens })
    }

    /// One sample, `(°C − 25) / 10` in Q16.16.
    pub fn sample(&self) -> Q {
        let reading = self.tsens.get_temperature();
        scale(reading.raw_value, reading.offset)
    }
}

/// `(0.4386·raw − 27.88·offset − 20.52 − 25) / 10` in Q16.16 bits. With
/// `raw ≤ 255` and `|offset| ≤ 128` every term fits an `i32` with room.
pub fn scale(raw: u8, offset: i8) -> Q {
    let celsius_bits = i32::from(raw) * CELSIUS_PER_COUNT_BITS
        - i32::from(offset) * CELSIUS_PER_OFFSET_BITS
        - CELSIUS_BIAS_BITS;
    let centred_bits = celsius_bits - (CENTRE_CELSIUS << 16);
    q::from_raw(centred_bits / CELSIUS_PER_UNIT)
}
