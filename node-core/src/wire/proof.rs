//! Proof: an opaque proof body; issue #6 defines the schemes and bytes.
//!
//! | offset | size | field | meaning |
//! |---|---|---|---|
//! | 0 | 1 | scheme | proof scheme identifier (opaque here) |
//! | 1 | 2 | len | body bytes, `0..=MAX_PROOF_LEN` (256) |
//! | 3 | len | body | opaque |

use super::field;
use super::view::{exact_len, packet_view};
use super::{BoundedVec, MAX_PROOF_LEN, RxError};

/// Bytes before the body.
pub const FIXED_LEN: usize = 3;

/// Largest payload.
pub const MAX_LEN: usize = FIXED_LEN + MAX_PROOF_LEN;

packet_view! {
    /// A view of a Proof payload.
    pub struct Packet<T: AsRef<[u8]>> { buffer: T }
    checked by check_len;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks `len ≤ 256` and that the buffer holds exactly the body.
    pub fn check_len(&self) -> Result<(), RxError> {
        let len = self.buffer.as_ref().len();
        if len < FIXED_LEN {
            return Err(RxError::Truncated);
        }
        let body_len = usize::from(self.body_len());
        if body_len > MAX_PROOF_LEN {
            return Err(RxError::Malformed);
        }
        exact_len(len, FIXED_LEN + body_len)
    }

    /// The scheme byte.
    pub fn scheme(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// The declared body length.
    pub fn body_len(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), 1)
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.buffer.as_ref()[FIXED_LEN..FIXED_LEN + usize::from(self.body_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the scheme byte.
    pub fn set_scheme(&mut self, scheme: u8) {
        self.buffer.as_mut()[0] = scheme;
    }

    /// Sets the declared body length.
    pub fn set_body_len(&mut self, len: u16) {
        field::set_u16(self.buffer.as_mut(), 1, len);
    }

    /// The body, mutably (its length is the declared one).
    pub fn body_mut(&mut self) -> &mut [u8] {
        let end = FIXED_LEN + usize::from(self.body_len());
        &mut self.buffer.as_mut()[FIXED_LEN..end]
    }
}

/// A parsed Proof.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repr {
    /// The proof scheme (opaque until issue #6).
    pub scheme: u8,
    /// The proof bytes, at most [`MAX_PROOF_LEN`].
    pub body: BoundedVec<u8, MAX_PROOF_LEN>,
}

impl Repr {
    /// Parses a checked packet.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr, RxError> {
        packet.check_len()?;
        let body = BoundedVec::from_slice(packet.body()).ok_or(RxError::Malformed)?;
        Ok(Repr {
            scheme: packet.scheme(),
            body,
        })
    }

    /// Payload bytes.
    pub fn buffer_len(&self) -> usize {
        FIXED_LEN + self.body.len()
    }

    /// Writes the proof into `packet`, exactly [`Repr::buffer_len`] long.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        packet.set_scheme(self.scheme);
        packet.set_body_len(self.body.len() as u16);
        packet.body_mut().copy_from_slice(self.body.as_slice());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_bounds() {
        for len in [0usize, 1, 100, MAX_PROOF_LEN] {
            let bytes: [u8; MAX_PROOF_LEN] = core::array::from_fn(|i| i as u8 ^ 0x5A);
            let repr = Repr {
                scheme: 3,
                body: BoundedVec::from_slice(&bytes[..len]).unwrap(),
            };
            let mut buf = [0u8; MAX_LEN];
            let n = repr.buffer_len();
            repr.emit(&mut Packet::new_unchecked(&mut buf[..n]));
            assert_eq!(
                Repr::parse(&Packet::new_checked(&buf[..n]).unwrap()),
                Ok(repr)
            );
        }
        let mut buf = [0u8; MAX_LEN + 1];
        buf[1..3].copy_from_slice(&(MAX_PROOF_LEN as u16 + 1).to_le_bytes());
        assert_eq!(
            Packet::new_checked(&buf[..]).err(),
            Some(RxError::Malformed)
        );
        buf[1..3].copy_from_slice(&4u16.to_le_bytes());
        assert_eq!(
            Packet::new_checked(&buf[..6]).err(),
            Some(RxError::Truncated)
        );
        assert_eq!(
            Packet::new_checked(&buf[..8]).err(),
            Some(RxError::Malformed)
        );
    }
}
