//! ReputationReport: the sender's scores about up to
//! [`MAX_REPORT_ENTRIES`] peers.
//!
//! | offset | size | field | meaning |
//! |---|---|---|---|
//! | 0 | 1 | count | entries, `0..=32` |
//! | 1 + 8i | 4 | subject | [`NodeId`] the score is about |
//! | 5 + 8i | 4 | score | reputation, Q16.16 |

use super::field;
use super::view::{exact_len, packet_view};
use super::{BoundedVec, MAX_REPORT_ENTRIES, NodeId, RxError};
use crate::q::Q;

/// Bytes before the entries.
pub const FIXED_LEN: usize = 1;

/// Bytes per entry.
pub const ENTRY_LEN: usize = 8;

/// Largest payload.
pub const MAX_LEN: usize = FIXED_LEN + ENTRY_LEN * MAX_REPORT_ENTRIES;

/// One score about one peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReputationEntry {
    /// The peer the score is about.
    pub subject: NodeId,
    /// Its reputation, Q16.16.
    pub score: Q,
}

packet_view! {
    /// A view of a ReputationReport payload.
    pub struct Packet<T: AsRef<[u8]>> { buffer: T }
    checked by check_len;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks `count ≤ 32` and that the buffer holds exactly `count`
    /// entries.
    pub fn check_len(&self) -> Result<(), RxError> {
        let len = self.buffer.as_ref().len();
        if len < FIXED_LEN {
            return Err(RxError::Truncated);
        }
        let count = usize::from(self.count());
        if count > MAX_REPORT_ENTRIES {
            return Err(RxError::Malformed);
        }
        exact_len(len, FIXED_LEN + ENTRY_LEN * count)
    }

    /// Number of entries.
    pub fn count(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// The subject of entry `index`.
    pub fn subject(&self, index: usize) -> NodeId {
        field::u32_at(self.buffer.as_ref(), FIXED_LEN + ENTRY_LEN * index)
    }

    /// The score of entry `index`, Q16.16 raw bits.
    pub fn score_raw(&self, index: usize) -> i32 {
        field::i32_at(self.buffer.as_ref(), FIXED_LEN + ENTRY_LEN * index + 4)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the number of entries.
    pub fn set_count(&mut self, count: u8) {
        self.buffer.as_mut()[0] = count;
    }

    /// Sets entry `index`.
    pub fn set_entry(&mut self, index: usize, subject: NodeId, score_raw: i32) {
        let at = FIXED_LEN + ENTRY_LEN * index;
        field::set_u32(self.buffer.as_mut(), at, subject);
        field::set_i32(self.buffer.as_mut(), at + 4, score_raw);
    }
}

/// A parsed ReputationReport.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repr {
    /// The scores, at most [`MAX_REPORT_ENTRIES`].
    pub entries: BoundedVec<ReputationEntry, MAX_REPORT_ENTRIES>,
}

impl Repr {
    /// Parses a checked packet.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr, RxError> {
        packet.check_len()?;
        let mut entries = BoundedVec::new();
        for index in 0..usize::from(packet.count()) {
            let entry = ReputationEntry {
                subject: packet.subject(index),
                score: Q::from_bits(packet.score_raw(index)),
            };
            entries.push(entry).map_err(|_| RxError::Malformed)?;
        }
        Ok(Repr { entries })
    }

    /// Payload bytes.
    pub fn buffer_len(&self) -> usize {
        FIXED_LEN + ENTRY_LEN * self.entries.len()
    }

    /// Writes the report into `packet`, exactly [`Repr::buffer_len`] long.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        packet.set_count(self.entries.len() as u8);
        for (index, entry) in self.entries.as_slice().iter().enumerate() {
            packet.set_entry(index, entry.subject, entry.score.to_bits());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(count: usize) -> Repr {
        let mut repr = Repr::default();
        for i in 0..count {
            let entry = ReputationEntry {
                subject: 1000 + i as u32,
                score: Q::from_bits(-(i as i32) * 777),
            };
            repr.entries.push(entry).unwrap();
        }
        repr
    }

    #[test]
    fn round_trips() {
        for count in [0, 1, 7, MAX_REPORT_ENTRIES] {
            let repr = sample(count);
            let mut buf = [0u8; MAX_LEN];
            let len = repr.buffer_len();
            repr.emit(&mut Packet::new_unchecked(&mut buf[..len]));
            let packet = Packet::new_checked(&buf[..len]).unwrap();
            assert_eq!(Repr::parse(&packet), Ok(repr));
        }
        assert_eq!(MAX_LEN, 257);
    }

    #[test]
    fn rejects_bad_counts() {
        let mut buf = [0u8; MAX_LEN + 8];
        buf[0] = MAX_REPORT_ENTRIES as u8 + 1;
        assert_eq!(
            Packet::new_checked(&buf[..]).err(),
            Some(RxError::Malformed)
        );
        buf[0] = 2;
        assert_eq!(
            Packet::new_checked(&buf[..16]).err(),
            Some(RxError::Truncated)
        );
        assert_eq!(
            Packet::new_checked(&buf[..18]).err(),
            Some(RxError::Malformed)
        );
        assert!(Packet::new_checked(&buf[..17]).is_ok());
        assert_eq!(
            Packet::new_checked(&buf[..0]).err(),
            Some(RxError::Truncated)
        );
    }
}
