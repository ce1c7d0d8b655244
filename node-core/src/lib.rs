//! # node-core: the RaaS node runtime
//!
//! A `no_std` + `alloc`, float-free, sans-IO state machine that a sensor node
//! runs to learn a shared predictor with its peers by gossip (the
//! RaaS/QRES protocol). The same crate runs unchanged inside the `sim`
//! discrete-event simulator and in the ESP32-C6 firmware.
//!
//! ## Principles
//!
//! * **Sans-IO.** The crate never reads a clock, a radio, a disk or an entropy
//!   source. The host hands it time ([`time::Instant`]), samples and received
//!   frames through the [`runtime::Runtime`] trait, and drains frames to
//!   transmit and the next instant it must be woken (`poll_at`), in the manner
//!   of `smoltcp` and `quinn-proto`.
//! * **Determinism.** All arithmetic is Q16.16 ([`q::Q`]) or integer; floats
//!   are denied by `clippy::float_arithmetic` and never named outside test
//!   modules. Randomness comes only from ChaCha streams seeded by the host
//!   ([`rng`]). Collections are never iterated in hash order. A canonical run
//!   reduces to 64-bit [`digest`]s, pinned by a test and comparable across
//!   architectures.
//! * **Bounded.** Every loop and queue has a stated limit; decoders never
//!   allocate beyond a stated bound.
//!
//! ## Modules
//!
//! | module | owns |
//! |---|---|
//! | [`q`] | the Q16.16 type, wide multiply-accumulate, division, sqrt, ln, exp |
//! | [`time`] | integer-microsecond [`time::Instant`] and [`time::Duration`] |
//! | [`rng`] | seeded ChaCha streams per (seed, node, purpose) |
//! | [`model`] | the [`model::Predictor`] trait and the NLMS linear neuron |
//! | [`regime`] | entropy signal and the Calm → PreStorm → Storm machine |
//! | [`gossip`] | the utility gate (when to broadcast, per regime) and delta updates ([`gossip::delta`]) |
//! | [`power`] | energy costs of a node's own work, the energy meter |
//! | [`node`] | [`node::Node`]: the full runtime behind [`runtime::Runtime`] |
//! | [`runtime`] | the sans-IO [`runtime::Runtime`] trait the hosts drive |
//! | [`digest`] | the canonical determinism digests: predictor, and whole swarm of nodes ([`digest::swarm`]) |
//! | [`wire`] | frames on the air: [`wire::FrameRepr`] parse/emit, CRC-32, 16- and 8-bit block floating point ([`wire::bfp`]), [`wire::Fragmenter`] and [`wire::Reassembler`] (docs/wire-format.md) |
//! | [`aggregate`] | mean, trimmed mean, median, Krum, reputation-weighted, adaptive |
//! | [`reputation`] | per-peer scores, update rule, adaptive exponent, bans |
//! | [`storage`] | flash medium, power-cut-safe two-slot snapshot store, in-memory flash with fault hooks (docs/persistence.md) |
//! | [`codec`] | little-endian byte [`codec::Reader`] and [`codec::Writer`] for snapshot bodies and the emulated-node link |
//! | [`remote`] | the emulated-node link: framed requests/replies and the binary `NodeConfig` encoding (docs/cross-arch.md) |
#![no_std]
#![deny(clippy::float_arithmetic)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod aggregate;
pub mod audit;
pub mod codec;
pub mod digest;
pub mod gossip;
pub mod heap;
pub mod model;
pub mod node;
pub mod power;
pub mod q;
pub mod regime;
pub mod remote;
pub mod reputation;
pub mod rng;
pub mod runtime;
pub mod storage;
pub mod time;
pub mod wire;
