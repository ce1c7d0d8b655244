//! The common frame: 12-byte header, payload, CRC-32 trailer; and the
//! top-level [`FrameRepr`] over every message kind.
//!
//! | offset | size | field | meaning |
//! |---|---|---|---|
//! | 0 | 1 | version | [`VERSION`] (= 1) |
//! | 1 | 1 | kind | [`FrameKind`] code 1..=6, or [`FRAGMENT_KIND`] |
//! | 2 | 4 | sender | [`NodeId`] of the transmitter |
//! | 6 | 4 | round | sender's aggregation round |
//! | 10 | 2 | payload_len | bytes of payload (≤ [`MAX_PAYLOAD_LEN`], or a fragment's) |
//! | 12 | len | payload | kind-specific |
//! | 12+len | 4 | crc | CRC-32 of bytes `0..12+len` |

use super::crc;
use super::field;
use super::view::{exact_len, packet_view};
use super::{
    AuditChallengeRepr, AuditResponseRepr, CRC_LEN, EmitError, FRAGMENT_KIND, FrameKind,
    HEADER_LEN, HeartbeatRepr, MAX_FRAME_LEN, MAX_PAYLOAD_LEN, ModelUpdateRepr, NodeId, ProofRepr,
    ReputationReportRepr, RxError, VERSION,
};
use super::{challenge, heartbeat, proof, report, response, update};

/// Byte offsets of the header fields.
mod offset {
    pub const VERSION: usize = 0;
    pub const KIND: usize = 1;
    pub const SENDER: usize = 2;
    pub const ROUND: usize = 6;
    pub const PAYLOAD_LEN: usize = 10;
}

/// Largest `payload_len` any frame may declare: a fragment may carry more
/// than a message (up to a Wi-Fi MTU), a message at most
/// [`MAX_PAYLOAD_LEN`].
const PAYLOAD_LEN_LIMIT: usize = super::MTU_WIFI - HEADER_LEN - CRC_LEN;

packet_view! {
    /// A read/write view of a frame's header, payload and trailer.
    pub struct Frame<T: AsRef<[u8]>> { buffer: T }
    checked by check;
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Checks, in order: header present (`Truncated`), version
    /// (`BadVersion`), `payload_len` in range (`Malformed`), buffer exactly
    /// header + payload + CRC long (`Truncated` / `Malformed`). Kind and
    /// checksum are checked by [`FrameRepr::parse`].
    pub fn check(&self) -> Result<(), RxError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(RxError::Truncated);
        }
        if self.version() != VERSION {
            return Err(RxError::BadVersion);
        }
        let payload_len = usize::from(self.payload_len());
        let limit = if self.is_fragment() {
            PAYLOAD_LEN_LIMIT
        } else {
            MAX_PAYLOAD_LEN
        };
        if payload_len > limit {
            return Err(RxError::Malformed);
        }
        exact_len(len, HEADER_LEN + payload_len + CRC_LEN)
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version byte.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[offset::VERSION]
    }

    /// The raw kind byte.
    pub fn kind_code(&self) -> u8 {
        self.buffer.as_ref()[offset::KIND]
    }

    /// The message kind, or `None` for fragments and unknown codes.
    pub fn kind(&self) -> Option<FrameKind> {
        FrameKind::from_code(self.kind_code())
    }

    /// Whether this is a FRAGMENT frame.
    pub fn is_fragment(&self) -> bool {
        self.kind_code() == FRAGMENT_KIND
    }

    /// The sender's node id.
    pub fn sender(&self) -> NodeId {
        field::u32_at(self.buffer.as_ref(), offset::SENDER)
    }

    /// The sender's round.
    pub fn round(&self) -> u32 {
        field::u32_at(self.buffer.as_ref(), offset::ROUND)
    }

    /// The declared payload length in bytes.
    pub fn payload_len(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), offset::PAYLOAD_LEN)
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &self.buffer.as_ref()[HEADER_LEN..end]
    }

    /// The CRC-32 trailer as stored.
    pub fn checksum(&self) -> u32 {
        let at = HEADER_LEN + usize::from(self.payload_len());
        field::u32_at(self.buffer.as_ref(), at)
    }

    /// The CRC-32 of header and payload, as it should be stored.
    pub fn compute_checksum(&self) -> u32 {
        let end = HEADER_LEN + usize::from(self.payload_len());
        crc::checksum(&self.buffer.as_ref()[..end])
    }

    /// Whether the stored CRC matches the header and payload.
    pub fn verify_checksum(&self) -> bool {
        self.checksum() == self.compute_checksum()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the version byte.
    pub fn set_version(&mut self, version: u8) {
        self.buffer.as_mut()[offset::VERSION] = version;
    }

    /// Sets the raw kind byte.
    pub fn set_kind_code(&mut self, code: u8) {
        self.buffer.as_mut()[offset::KIND] = code;
    }

    /// Sets the sender.
    pub fn set_sender(&mut self, sender: NodeId) {
        field::set_u32(self.buffer.as_mut(), offset::SENDER, sender);
    }

    /// Sets the round.
    pub fn set_round(&mut self, round: u32) {
        field::set_u32(self.buffer.as_mut(), offset::ROUND, round);
    }

    /// Sets the declared payload length.
    pub fn set_payload_len(&mut self, len: u16) {
        field::set_u16(self.buffer.as_mut(), offset::PAYLOAD_LEN, len);
    }

    /// The payload, mutably (its length is the declared `payload_len`).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Computes and stores the CRC-32 trailer; call it last.
    pub fn fill_checksum(&mut self) {
        let value = self.compute_checksum();
        let at = HEADER_LEN + usize::from(self.payload_len());
        field::set_u32(self.buffer.as_mut(), at, value);
    }
}

/// The parsed payload of a frame, one variant per [`FrameKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// Decoders never allocate, so the audit response (base, window and
// samples inline, ~570 B) is not boxed: a parsed frame lives on the stack.
#[allow(clippy::large_enum_variant)]
pub enum Message {
    /// Model weights or a delta ("GhostUpdate").
    ModelUpdate(ModelUpdateRepr),
    /// Scores about peers.
    ReputationReport(ReputationReportRepr),
    /// A request to prove an update.
    AuditChallenge(AuditChallengeRepr),
    /// The answer to a challenge.
    AuditResponse(AuditResponseRepr),
    /// An opaque proof.
    Proof(ProofRepr),
    /// Liveness and battery.
    Heartbeat(HeartbeatRepr),
}

impl Message {
    /// The message's kind (its header code).
    pub const fn kind(&self) -> FrameKind {
        match self {
            Message::ModelUpdate(_) => FrameKind::ModelUpdate,
            Message::ReputationReport(_) => FrameKind::ReputationReport,
            Message::AuditChallenge(_) => FrameKind::AuditChallenge,
            Message::AuditResponse(_) => FrameKind::AuditResponse,
            Message::Proof(_) => FrameKind::Proof,
            Message::Heartbeat(_) => FrameKind::Heartbeat,
        }
    }

    /// Payload bytes this message takes.
    pub fn buffer_len(&self) -> usize {
        let len = match self {
            Message::ModelUpdate(repr) => repr.buffer_len(),
            Message::ReputationReport(repr) => repr.buffer_len(),
            Message::AuditChallenge(repr) => repr.buffer_len(),
            Message::AuditResponse(repr) => repr.buffer_len(),
            Message::Proof(repr) => repr.buffer_len(),
            Message::Heartbeat(repr) => repr.buffer_len(),
        };
        debug_assert!(len <= MAX_PAYLOAD_LEN);
        len
    }

    /// Parses `payload` as a message of `kind`.
    pub fn parse(kind: FrameKind, payload: &[u8]) -> Result<Message, RxError> {
        Ok(match kind {
            FrameKind::ModelUpdate => {
                let packet = update::Packet::new_checked(payload)?;
                Message::ModelUpdate(ModelUpdateRepr::parse(&packet)?)
            }
            FrameKind::ReputationReport => {
                let packet = report::Packet::new_checked(payload)?;
                Message::ReputationReport(ReputationReportRepr::parse(&packet)?)
            }
            FrameKind::AuditChallenge => {
                let packet = challenge::Packet::new_checked(payload)?;
                Message::AuditChallenge(AuditChallengeRepr::parse(&packet)?)
            }
            FrameKind::AuditResponse => {
                let packet = response::Packet::new_checked(payload)?;
                Message::AuditResponse(AuditResponseRepr::parse(&packet)?)
            }
            FrameKind::Proof => {
                let packet = proof::Packet::new_checked(payload)?;
                Message::Proof(ProofRepr::parse(&packet)?)
            }
            FrameKind::Heartbeat => {
                let packet = heartbeat::Packet::new_checked(payload)?;
                Message::Heartbeat(HeartbeatRepr::parse(&packet)?)
            }
        })
    }

    /// Checks the fields a `Repr` can hold out of range.
    fn validate(&self) -> Result<(), EmitError> {
        match self {
            Message::ModelUpdate(repr) => repr.validate(),
            Message::AuditResponse(repr) => repr.validate(),
            _ => Ok(()),
        }
    }

    /// Writes the payload; `payload` is exactly [`Message::buffer_len`] long.
    fn emit(&self, payload: &mut [u8]) {
        debug_assert_eq!(payload.len(), self.buffer_len());
        match self {
            Message::ModelUpdate(repr) => {
                repr.emit(&mut update::Packet::new_unchecked(payload));
            }
            Message::ReputationReport(repr) => {
                repr.emit(&mut report::Packet::new_unchecked(payload));
            }
            Message::AuditChallenge(repr) => {
                repr.emit(&mut challenge::Packet::new_unchecked(payload));
            }
            Message::AuditResponse(repr) => {
                repr.emit(&mut response::Packet::new_unchecked(payload));
            }
            Message::Proof(repr) => repr.emit(&mut proof::Packet::new_unchecked(payload)),
            Message::Heartbeat(repr) => {
                repr.emit(&mut heartbeat::Packet::new_unchecked(payload));
            }
        }
    }
}

/// A whole frame, parsed: who sent it, in which round, and what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRepr {
    /// The transmitting node.
    pub sender: NodeId,
    /// The sender's aggregation round.
    pub round: u32,
    /// The payload.
    pub message: Message,
}

impl FrameRepr {
    /// Parses a complete received frame (not a fragment: those go to a
    /// [`super::Reassembler`] first and are `BadKind` here). Never panics,
    /// never allocates; see the module docs of [`super`] for the order of
    /// checks.
    pub fn parse(bytes: &[u8]) -> Result<FrameRepr, RxError> {
        let frame = Frame::new_checked(bytes)?;
        FrameRepr::parse_frame(&frame)
    }

    /// Parses a frame view (checksum, kind, then payload).
    pub fn parse_frame<T: AsRef<[u8]> + ?Sized>(frame: &Frame<&T>) -> Result<FrameRepr, RxError> {
        frame.check()?;
        if !frame.verify_checksum() {
            return Err(RxError::BadChecksum);
        }
        let kind = frame.kind().ok_or(RxError::BadKind)?;
        Ok(FrameRepr {
            sender: frame.sender(),
            round: frame.round(),
            message: Message::parse(kind, frame.payload())?,
        })
    }

    /// The frame's kind.
    pub const fn kind(&self) -> FrameKind {
        self.message.kind()
    }

    /// Bytes of the encoded frame: header, payload and CRC.
    pub fn buffer_len(&self) -> usize {
        let len = HEADER_LEN + self.message.buffer_len() + CRC_LEN;
        debug_assert!(len <= MAX_FRAME_LEN);
        len
    }

    /// Encodes the frame at the start of `buf`, returning its length.
    /// Fails when `buf` is too short or a field is out of range; writes
    /// nothing then.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        self.message.validate()?;
        let len = self.buffer_len();
        let Some(bytes) = buf.get_mut(..len) else {
            return Err(EmitError::BufferTooSmall { needed: len });
        };
        let payload_len = self.message.buffer_len();
        let mut frame = Frame::new_unchecked(bytes);
        frame.set_version(VERSION);
        frame.set_kind_code(self.kind() as u8);
        frame.set_sender(self.sender);
        frame.set_round(self.round);
        frame.set_payload_len(payload_len as u16);
        self.message.emit(frame.payload_mut());
        frame.fill_checksum();
        debug_assert_eq!(frame.check(), Ok(()));
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_support::{arb_frame_repr, sample_frames};
    use proptest::prelude::*;

    fn encode(repr: &FrameRepr) -> ([u8; MAX_FRAME_LEN], usize) {
        let mut buf = [0u8; MAX_FRAME_LEN];
        let len = repr.emit(&mut buf).unwrap();
        assert_eq!(len, repr.buffer_len());
        (buf, len)
    }

    #[test]
    fn header_layout() {
        let repr = FrameRepr {
            sender: 0x0403_0201,
            round: 0x0807_0605,
            message: Message::Heartbeat(HeartbeatRepr {
                regime: crate::regime::Regime::Storm,
                battery_q0_16: 0xBBAA,
            }),
        };
        let (buf, len) = encode(&repr);
        assert_eq!(len, 12 + 3 + 4);
        assert_eq!(
            &buf[..15],
            &[1, 6, 1, 2, 3, 4, 5, 6, 7, 8, 3, 0, 2, 0xAA, 0xBB]
        );
        let crc = crc::checksum(&buf[..15]).to_le_bytes();
        assert_eq!(&buf[15..19], &crc);
        assert_eq!(FrameRepr::parse(&buf[..len]), Ok(repr));
    }

    #[test]
    fn rejections() {
        let (buf, len) = encode(&sample_frames()[0]);
        let ok = &buf[..len];
        assert_eq!(FrameRepr::parse(&ok[..11]), Err(RxError::Truncated));
        assert_eq!(FrameRepr::parse(&ok[..len - 1]), Err(RxError::Truncated));
        let mut long = [0u8; MAX_FRAME_LEN + 1];
        long[..len].copy_from_slice(ok);
        assert_eq!(FrameRepr::parse(&long[..len + 1]), Err(RxError::Malformed));

        let mut bad = buf;
        bad[0] = 2;
        assert_eq!(FrameRepr::parse(&bad[..len]), Err(RxError::BadVersion));

        let mut bad = buf;
        bad[1] = 9;
        assert_eq!(FrameRepr::parse(&bad[..len]), Err(RxError::BadChecksum));
        Frame::new_unchecked(&mut bad[..len]).fill_checksum();
        assert_eq!(FrameRepr::parse(&bad[..len]), Err(RxError::BadKind));

        let mut bad = buf;
        bad[1] = FRAGMENT_KIND;
        Frame::new_unchecked(&mut bad[..len]).fill_checksum();
        assert_eq!(FrameRepr::parse(&bad[..len]), Err(RxError::BadKind));

        let mut bad = buf;
        bad[len - 1] ^= 1;
        assert_eq!(FrameRepr::parse(&bad[..len]), Err(RxError::BadChecksum));

        let mut huge = [0u8; HEADER_LEN];
        huge[0] = VERSION;
        huge[1] = FrameKind::Proof as u8;
        huge[10..12].copy_from_slice(&(MAX_PAYLOAD_LEN as u16 + 1).to_le_bytes());
        assert_eq!(FrameRepr::parse(&huge), Err(RxError::Malformed));
    }

    #[test]
    fn emit_checks_buffer_and_fields() {
        let repr = sample_frames()[0];
        let mut small = [0u8; 8];
        assert_eq!(
            repr.emit(&mut small),
            Err(EmitError::BufferTooSmall {
                needed: repr.buffer_len()
            })
        );
        let mut empty = repr;
        if let Message::ModelUpdate(update) = &mut empty.message {
            update.words = crate::wire::Words::new();
        }
        assert_eq!(
            empty.emit(&mut [0u8; MAX_FRAME_LEN]),
            Err(EmitError::Invalid)
        );
    }

    #[test]
    fn every_sample_round_trips() {
        for repr in sample_frames() {
            let (buf, len) = encode(&repr);
            assert_eq!(FrameRepr::parse(&buf[..len]), Ok(repr), "{repr:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..=320)) {
            if let Ok(repr) = FrameRepr::parse(&bytes) {
                let (buf, len) = encode(&repr);
                prop_assert_eq!(&buf[..len], &bytes[..]);
            }
        }

        #[test]
        fn near_valid_bytes_never_panic(
            repr in arb_frame_repr(),
            index in 12usize..MAX_FRAME_LEN,
            byte in any::<u8>(),
        ) {
            // Corrupt a payload byte and fix the CRC, so the payload
            // parser (not the checksum) sees the damage.
            let (mut buf, len) = encode(&repr);
            let index = index % len;
            buf[index] = byte;
            let mut frame = Frame::new_unchecked(&mut buf[..len]);
            if frame.check().is_ok() {
                frame.fill_checksum();
            }
            if let Ok(parsed) = FrameRepr::parse(&buf[..len]) {
                let (again, again_len) = encode(&parsed);
                prop_assert_eq!(&again[..again_len], &buf[..len]);
            }
        }

        #[test]
        fn valid_reprs_round_trip(repr in arb_frame_repr()) {
            let (buf, len) = encode(&repr);
            prop_assert_eq!(FrameRepr::parse(&buf[..len]), Ok(repr));
        }

        #[test]
        fn bit_flips_are_detected(repr in arb_frame_repr(), bit in any::<usize>()) {
            let (mut buf, len) = encode(&repr);
            let bit = bit % (len * 8);
            buf[bit / 8] ^= 1 << (bit % 8);
            let result = FrameRepr::parse(&buf[..len]);
            let byte = bit / 8;
            if byte == 0 {
                prop_assert_eq!(result, Err(RxError::BadVersion));
            } else if (10..12).contains(&byte) {
                prop_assert!(result.is_err());
            } else {
                prop_assert_eq!(result, Err(RxError::BadChecksum));
            }
        }
    }
}
