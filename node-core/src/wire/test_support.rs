//! Sample frames and proptest strategies shared by the wire tests.

use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::challenge::NONCE_LEN;
use super::response::{self, MAX_HISTORY, MAX_SAMPLES};
use super::{
    AuditChallengeRepr, AuditResponseRepr, BoundedVec, Encoding, FrameRepr, HeartbeatRepr, MAX_DIM,
    MAX_PROOF_LEN, MAX_REPORT_ENTRIES, Message, ModelUpdateRepr, ProofRepr, ReputationEntry,
    ReputationReportRepr, Words, bfp,
};
use crate::q::Q;
use crate::regime::Regime;

fn words(raw: &[i32]) -> Words {
    let q: Vec<Q> = raw.iter().map(|&r| Q::from_bits(r)).collect();
    Words::from_slice(&q).unwrap()
}

/// A model update of `dim` words; BFP words are pre-quantized so the
/// update round-trips exactly.
pub fn update(encoding: Encoding, raw: &[i32], delta: bool) -> ModelUpdateRepr {
    let mut raw = raw.to_vec();
    bfp::quantize_for(encoding, &mut raw);
    ModelUpdateRepr {
        regime: Regime::Storm,
        encoding,
        delta,
        base_round: 12,
        residual: Q::from_bits(0x0000_4000),
        words: words(&raw),
    }
}

/// An audit response carrying a record of these words, step codes
/// cycling through 0..=3.
pub fn response(base: &[i32], history: &[i32], samples: &[i32]) -> AuditResponseRepr {
    let q = |raw: &[i32]| raw.iter().map(|&r| Q::from_bits(r)).collect::<Vec<Q>>();
    let steps: Vec<u8> = (0..samples.len()).map(|i| (i % 4) as u8).collect();
    AuditResponseRepr {
        nonce: [9; NONCE_LEN],
        status: response::Status::Record,
        base: Words::from_slice(&q(base)).unwrap(),
        history: BoundedVec::from_slice(&q(history)).unwrap(),
        samples: BoundedVec::from_slice(&q(samples)).unwrap(),
        steps: BoundedVec::from_slice(&steps).unwrap(),
    }
}

fn frame(message: Message) -> FrameRepr {
    FrameRepr {
        sender: 42,
        round: 7,
        message,
    }
}

/// One frame of each kind, including the largest of each.
pub fn sample_frames() -> Vec<FrameRepr> {
    let nine: Vec<i32> = (0..9).map(|i| (i - 4) * 70_001).collect();
    let full: Vec<i32> = (0..MAX_DIM as i32).map(|i| i * -1_234_567).collect();
    let mut report = ReputationReportRepr::default();
    for i in 0..MAX_REPORT_ENTRIES as u32 {
        let entry = ReputationEntry {
            subject: i,
            score: Q::from_bits(i as i32 * 2_000),
        };
        report.entries.push(entry).unwrap();
    }
    vec![
        frame(Message::ModelUpdate(update(Encoding::Raw, &nine, false))),
        frame(Message::ModelUpdate(update(Encoding::Bfp16, &nine, true))),
        frame(Message::ModelUpdate(update(Encoding::Bfp8, &nine, true))),
        frame(Message::ModelUpdate(update(Encoding::Raw, &full, true))),
        frame(Message::ReputationReport(report)),
        frame(Message::AuditChallenge(AuditChallengeRepr {
            target: 3,
            audit_round: 6,
            nonce: [9; NONCE_LEN],
        })),
        frame(Message::AuditResponse(response(
            &full[..33],
            &full[..32],
            &nine[..5],
        ))),
        frame(Message::AuditResponse(response(
            &nine,
            &nine[..8],
            &full[..32],
        ))),
        frame(Message::Proof(ProofRepr {
            scheme: 1,
            body: BoundedVec::from_slice(&[0xAB; MAX_PROOF_LEN]).unwrap(),
        })),
        frame(Message::Heartbeat(HeartbeatRepr {
            regime: Regime::Calm,
            battery_q0_16: 40_000,
        })),
    ]
}

fn arb_regime() -> impl Strategy<Value = Regime> {
    prop_oneof![
        Just(Regime::Calm),
        Just(Regime::PreStorm),
        Just(Regime::Storm)
    ]
}

fn arb_raw(min: usize) -> impl Strategy<Value = Vec<i32>> {
    prop_oneof![
        proptest::collection::vec(any::<i32>(), min..=MAX_DIM),
        proptest::collection::vec(-70_000i32..70_000, min..=MAX_DIM),
    ]
}

fn arb_encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![
        Just(Encoding::Raw),
        Just(Encoding::Bfp16),
        Just(Encoding::Bfp8)
    ]
}

fn arb_update() -> impl Strategy<Value = ModelUpdateRepr> {
    (
        arb_regime(),
        arb_encoding(),
        any::<bool>(),
        any::<u32>(),
        any::<i32>(),
        arb_raw(1),
    )
        .prop_map(
            |(regime, encoding, delta, base_round, residual, raw)| ModelUpdateRepr {
                regime,
                base_round,
                residual: Q::from_bits(residual),
                ..update(encoding, &raw, delta)
            },
        )
}

fn arb_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        arb_update().prop_map(Message::ModelUpdate),
        proptest::collection::vec((any::<u32>(), any::<i32>()), 0..=MAX_REPORT_ENTRIES).prop_map(
            |entries| {
                let mut report = ReputationReportRepr::default();
                for (subject, score) in entries {
                    let score = Q::from_bits(score);
                    report
                        .entries
                        .push(ReputationEntry { subject, score })
                        .unwrap();
                }
                Message::ReputationReport(report)
            }
        ),
        (any::<u32>(), any::<u32>(), any::<[u8; NONCE_LEN]>()).prop_map(
            |(target, audit_round, nonce)| {
                Message::AuditChallenge(AuditChallengeRepr {
                    target,
                    audit_round,
                    nonce,
                })
            }
        ),
        (
            any::<[u8; NONCE_LEN]>(),
            proptest::collection::vec(any::<i32>(), 0..=16),
            proptest::collection::vec(any::<i32>(), 0..=MAX_HISTORY),
            proptest::collection::vec(any::<i32>(), 0..=MAX_SAMPLES),
        )
            .prop_map(|(nonce, base, history, samples)| {
                // Trim the samples to the payload budget.
                let room =
                    (response::MAX_LEN - response::len_for(base.len(), history.len(), 0)) / 5;
                let samples = &samples[..samples.len().min(room)];
                Message::AuditResponse(AuditResponseRepr {
                    nonce,
                    ..response(&base, &history, samples)
                })
            }),
        (
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..=MAX_PROOF_LEN)
        )
            .prop_map(|(scheme, body)| {
                let body = BoundedVec::from_slice(&body).unwrap();
                Message::Proof(ProofRepr { scheme, body })
            }),
        (arb_regime(), any::<u16>()).prop_map(|(regime, battery_q0_16)| {
            Message::Heartbeat(HeartbeatRepr {
                regime,
                battery_q0_16,
            })
        }),
    ]
}

/// Any valid frame.
pub fn arb_frame_repr() -> impl Strategy<Value = FrameRepr> {
    (any::<u32>(), any::<u32>(), arb_message()).prop_map(|(sender, round, message)| FrameRepr {
        sender,
        round,
        message,
    })
}
