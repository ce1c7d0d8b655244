//! AuditResponse: the audited node's answer, echoing the challenge nonce
//! with the update it claims to have sent, for the auditor to re-check.
//!
//! | offset | size | field | meaning |
//! |---|---|---|---|
//! | 0 | 16 | nonce | the challenge's nonce |
//! | 16 | 1 | count | words, `0..=MAX_DIM` |
//! | 17 + 4i | 4 | word | claimed update word `i`, Q16.16 |

use super::challenge::NONCE_LEN;
use super::field;
use super::view::{exact_len, packet_view};
use super::{MAX_DIM, RxError, Words};
use crate::q::Q;

/// Bytes before the words.
pub const FIXED_LEN: usize = NONCE_LEN + 1;

/// Largest payload.
pub const MAX_LEN: usize = FIXED_LEN + 4 * MAX_DIM;

const COUNT: usize = NONCE_LEN;

packet_view! {
    /// A view of an AuditResponse payload.
    pub struct Packet<T: AsRef<[u8]>> { buffer: T }
    checked by check_len;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks `count ≤ MAX_DIM` and that the buffer holds exactly `count`
    /// words.
    pub fn check_len(&self) -> Result<(), RxError> {
        let len = self.buffer.as_ref().len();
        if len < FIXED_LEN {
            return Err(RxError::Truncated);
        }
        let count = usize::from(self.count());
        if count > MAX_DIM {
            return Err(RxError::Malformed);
        }
        exact_len(len, FIXED_LEN + 4 * count)
    }

    /// The echoed nonce.
    pub fn nonce(&self) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&self.buffer.as_ref()[..NONCE_LEN]);
        nonce
    }

    /// Number of words.
    pub fn count(&self) -> u8 {
        self.buffer.as_ref()[COUNT]
    }

    /// Word `index`, Q16.16 raw bits.
    pub fn word_raw(&self, index: usize) -> i32 {
        field::i32_at(self.buffer.as_ref(), FIXED_LEN + 4 * index)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the nonce.
    pub fn set_nonce(&mut self, nonce: &[u8; NONCE_LEN]) {
        self.buffer.as_mut()[..NONCE_LEN].copy_from_slice(nonce);
    }

    /// Sets the number of words.
    pub fn set_count(&mut self, count: u8) {
        self.buffer.as_mut()[COUNT] = count;
    }

    /// Sets word `index` (Q16.16 raw bits).
    pub fn set_word_raw(&mut self, index: usize, raw: i32) {
        field::set_i32(self.buffer.as_mut(), FIXED_LEN + 4 * index, raw);
    }
}

/// A parsed AuditResponse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repr {
    /// The challenge's nonce.
    pub nonce: [u8; NONCE_LEN],
    /// The claimed update, at most [`MAX_DIM`] words.
    pub words: Words,
}

impl Repr {
    /// Parses a checked packet.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr, RxError> {
        packet.check_len()?;
        let mut words = Words::new();
        for index in 0..usize::from(packet.count()) {
            let word = Q::from_bits(packet.word_raw(index));
            words.push(word).map_err(|_| RxError::Malformed)?;
        }
        Ok(Repr {
            nonce: packet.nonce(),
            words,
        })
    }

    /// Payload bytes.
    pub fn buffer_len(&self) -> usize {
        FIXED_LEN + 4 * self.words.len()
    }

    /// Writes the response into `packet`, exactly [`Repr::buffer_len`] long.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        packet.set_nonce(&self.nonce);
        packet.set_count(self.words.len() as u8);
        for (index, word) in self.words.as_slice().iter().enumerate() {
            packet.set_word_raw(index, word.to_bits());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_bounds() {
        for count in [0, 1, 9, MAX_DIM] {
            let mut repr = Repr {
                nonce: [0xA5; NONCE_LEN],
                words: Words::new(),
            };
            for i in 0..count {
                repr.words.push(Q::from_bits(i as i32 * -31_337)).unwrap();
            }
            let mut buf = [0u8; MAX_LEN];
            let len = repr.buffer_len();
            repr.emit(&mut Packet::new_unchecked(&mut buf[..len]));
            assert_eq!(buf[NONCE_LEN], count as u8);
            assert_eq!(
                Repr::parse(&Packet::new_checked(&buf[..len]).unwrap()),
                Ok(repr)
            );
        }
        assert_eq!(MAX_LEN, 273);
        let mut buf = [0u8; MAX_LEN + 4];
        buf[COUNT] = MAX_DIM as u8 + 1;
        assert_eq!(
            Packet::new_checked(&buf[..]).err(),
            Some(RxError::Malformed)
        );
        buf[COUNT] = 1;
        assert_eq!(
            Packet::new_checked(&buf[..20]).err(),
            Some(RxError::Truncated)
        );
        assert_eq!(
            Packet::new_checked(&buf[..22]).err(),
            Some(RxError::Malformed)
        );
    }
}
