//! AuditChallenge: asks `target` to justify its update of `audit_round`.
//!
//! | offset | size | field | meaning |
//! |---|---|---|---|
//! | 0 | 4 | target | [`NodeId`] of the audited node |
//! | 4 | 4 | audit_round | round whose update is audited |
//! | 8 | 16 | nonce | fresh random bytes, echoed by the response |

use super::field;
use super::view::{exact_len, packet_view};
use super::{NodeId, RxError};

/// Bytes of the nonce.
pub const NONCE_LEN: usize = 16;

/// Payload bytes (fixed).
pub const LEN: usize = 8 + NONCE_LEN;

mod offset {
    pub const TARGET: usize = 0;
    pub const AUDIT_ROUND: usize = 4;
    pub const NONCE: usize = 8;
}

packet_view! {
    /// A view of an AuditChallenge payload.
    pub struct Packet<T: AsRef<[u8]>> { buffer: T }
    checked by check_len;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the buffer is exactly [`LEN`] bytes.
    pub fn check_len(&self) -> Result<(), RxError> {
        exact_len(self.buffer.as_ref().len(), LEN)
    }

    /// The audited node.
    pub fn target(&self) -> NodeId {
        field::u32_at(self.buffer.as_ref(), offset::TARGET)
    }

    /// The audited round.
    pub fn audit_round(&self) -> u32 {
        field::u32_at(self.buffer.as_ref(), offset::AUDIT_ROUND)
    }

    /// The nonce.
    pub fn nonce(&self) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&self.buffer.as_ref()[offset::NONCE..offset::NONCE + NONCE_LEN]);
        nonce
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the audited node.
    pub fn set_target(&mut self, target: NodeId) {
        field::set_u32(self.buffer.as_mut(), offset::TARGET, target);
    }

    /// Sets the audited round.
    pub fn set_audit_round(&mut self, round: u32) {
        field::set_u32(self.buffer.as_mut(), offset::AUDIT_ROUND, round);
    }

    /// Sets the nonce.
    pub fn set_nonce(&mut self, nonce: &[u8; NONCE_LEN]) {
        self.buffer.as_mut()[offset::NONCE..offset::NONCE + NONCE_LEN].copy_from_slice(nonce);
    }
}

/// A parsed AuditChallenge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repr {
    /// The audited node.
    pub target: NodeId,
    /// The audited round.
    pub audit_round: u32,
    /// Fresh random bytes the response must echo.
    pub nonce: [u8; NONCE_LEN],
}

impl Repr {
    /// Parses a checked packet.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr, RxError> {
        packet.check_len()?;
        Ok(Repr {
            target: packet.target(),
            audit_round: packet.audit_round(),
            nonce: packet.nonce(),
        })
    }

    /// Payload bytes, always [`LEN`].
    pub const fn buffer_len(&self) -> usize {
        LEN
    }

    /// Writes the challenge into `packet`, exactly [`LEN`] long.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        packet.set_target(self.target);
        packet.set_audit_round(self.audit_round);
        packet.set_nonce(&self.nonce);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let repr = Repr {
            target: 7,
            audit_round: 0xDEAD_BEEF,
            nonce: core::array::from_fn(|i| i as u8 * 3),
        };
        let mut buf = [0u8; LEN];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(&buf[..8], &[7, 0, 0, 0, 0xEF, 0xBE, 0xAD, 0xDE]);
        assert_eq!(
            Repr::parse(&Packet::new_checked(&buf[..]).unwrap()),
            Ok(repr)
        );
        assert_eq!(
            Packet::new_checked(&buf[..LEN - 1]).err(),
            Some(RxError::Truncated)
        );
        let long = [0u8; LEN + 1];
        assert_eq!(
            Packet::new_checked(&long[..]).err(),
            Some(RxError::Malformed)
        );
    }
}
