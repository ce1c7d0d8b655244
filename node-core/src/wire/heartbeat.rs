//! Heartbeat: liveness, regime and battery level.
//!
//! | offset | size | field | meaning |
//! |---|---|---|---|
//! | 0 | 1 | regime | sender's [`Regime`] |
//! | 1 | 2 | battery | state of charge, Q0.16 fraction (`65535` ≈ full) |

use super::field;
use super::view::{exact_len, packet_view};
use super::{RxError, regime_from_code};
use crate::q::Q;
use crate::regime::Regime;

/// Payload bytes (fixed).
pub const LEN: usize = 3;

packet_view! {
    /// A view of a Heartbeat payload.
    pub struct Packet<T: AsRef<[u8]>> { buffer: T }
    checked by check_len;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the buffer is exactly [`LEN`] bytes.
    pub fn check_len(&self) -> Result<(), RxError> {
        exact_len(self.buffer.as_ref().len(), LEN)
    }

    /// The regime byte.
    pub fn regime_code(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// The battery level, Q0.16.
    pub fn battery_q0_16(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), 1)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the regime byte.
    pub fn set_regime_code(&mut self, code: u8) {
        self.buffer.as_mut()[0] = code;
    }

    /// Sets the battery level, Q0.16.
    pub fn set_battery_q0_16(&mut self, level: u16) {
        field::set_u16(self.buffer.as_mut(), 1, level);
    }
}

/// A parsed Heartbeat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repr {
    /// The sender's regime.
    pub regime: Regime,
    /// State of charge as a Q0.16 fraction of full.
    pub battery_q0_16: u16,
}

impl Repr {
    /// Parses a checked packet.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr, RxError> {
        packet.check_len()?;
        let regime = regime_from_code(packet.regime_code()).ok_or(RxError::Malformed)?;
        Ok(Repr {
            regime,
            battery_q0_16: packet.battery_q0_16(),
        })
    }

    /// Payload bytes, always [`LEN`].
    pub const fn buffer_len(&self) -> usize {
        LEN
    }

    /// Writes the heartbeat into `packet`, exactly [`LEN`] long.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        packet.set_regime_code(self.regime as u8);
        packet.set_battery_q0_16(self.battery_q0_16);
    }

    /// The battery level as a Q16.16 fraction in `[0, 1)`.
    pub fn battery(&self) -> Q {
        Q::from_bits(i32::from(self.battery_q0_16))
    }

    /// Converts a Q16.16 level to Q0.16, clamping to `[0, 65535/65536]`
    /// (a full battery cannot be represented exactly and reads as 65535).
    pub fn battery_from_q(level: Q) -> u16 {
        level.to_bits().clamp(0, i32::from(u16::MAX)) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::q;

    #[test]
    fn round_trips_and_bounds() {
        let repr = Repr {
            regime: Regime::PreStorm,
            battery_q0_16: Repr::battery_from_q(q::ratio(3, 4)),
        };
        assert_eq!(repr.battery_q0_16, 0xC000);
        assert_eq!(repr.battery(), q::ratio(3, 4));
        assert_eq!(Repr::battery_from_q(q::ONE), u16::MAX);
        assert_eq!(Repr::battery_from_q(-q::ONE), 0);
        let mut buf = [0u8; LEN];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, [1, 0x00, 0xC0]);
        assert_eq!(
            Repr::parse(&Packet::new_checked(&buf[..]).unwrap()),
            Ok(repr)
        );
        buf[0] = 3;
        let packet = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Repr::parse(&packet), Err(RxError::Malformed));
        assert_eq!(
            Packet::new_checked(&buf[..2]).err(),
            Some(RxError::Truncated)
        );
        assert_eq!(
            Packet::new_checked(&[0u8; 4][..]).err(),
            Some(RxError::Malformed)
        );
    }
}
