//! The emulated-node link: a small framed protocol between a host and one
//! [`crate::node::Node`] running elsewhere (a bare-metal program under
//! QEMU, `node-core/qemu-node`), and the compact binary encoding of a
//! [`NodeConfig`] its first message carries.
//!
//! ## Framing
//!
//! Every message, either way, is an envelope `[MAGIC][kind: u8][len: u16
//! LE][payload: len bytes]`; integers are little-endian, Q16.16 values
//! their raw `i32` bits, instants `u64` microseconds. The host sends one
//! request and reads exactly one reply before the next request.
//!
//! | request | payload | reply |
//! |---|---|---|
//! | [`Kind::Init`] | a [`NodeConfig`] ([`encode_config`]) | [`Kind::State`] or [`Kind::Error`] |
//! | [`Kind::Sample`] | now u64, sample i32 | [`Kind::State`] |
//! | [`Kind::Frame`] | now u64, frame bytes | [`Kind::State`] (result = the `RxError`'s [`rx_error_code`], 0 = accepted) |
//! | [`Kind::Wake`] | now u64 | [`Kind::State`] |
//! | [`Kind::Energy`] | now u64, level i32 | [`Kind::State`] |
//! | [`Kind::Drain`] | now u64, mtu u16 | [`Kind::Frames`] |
//!
//! A `State` reply is `result u8, instret u64, poll_at u64 (u64::MAX =
//! none), telemetry` ([`TELEMETRY_LEN`] bytes, [`encode_telemetry`]),
//! `dim u8, dim × i32 weights`. A `Frames` reply is `instret u64, count
//! u8`, then per frame `kind u8, destination u8 (0 broadcast, 1 unicast),
//! peer u32, energy_used_uj u64 (after this frame), len u16, bytes`: the
//! node's `poll_transmit` called with an `mtu`-byte buffer until it returned
//! `None` (at most [`DRAIN_MAX`] frames), which is exactly what a host does
//! after every input. `instret` is the instructions the node's own code
//! retired for the request (the link's I/O excluded), or 0 when unknown.
//! An `Error` reply is `code u8`, then UTF-8 text.
//!
//! Decoders here never panic and never allocate: any bytes give a value or
//! a [`DecodeError`].

use core::fmt;

use crate::aggregate::{
    Faults, KrumConfig, KrumNeighbours, Rule, TrimConfig, WeightedConfig, WeightedTrimConfig,
};
use crate::audit::AuditConfig;
use crate::codec::{self, Invalid};
use crate::gossip::delta::DeltaConfig;
use crate::gossip::{GateMode, GossipConfig, StormGossip};
use crate::model::{InitialWeights, LinearNeuronConfig};
use crate::node::{AggregationConfig, NodeConfig};
use crate::power::EnergyCosts;
use crate::q::Q;
use crate::regime::{Confirmations, DetectorConfig, EntropyConfig, Escalation, Regime, StormExit};
use crate::reputation::{InfluenceCap, ReputationConfig, UpdateRule};
use crate::runtime::{RxError, Telemetry};
use crate::time::Duration;
use crate::wire::Encoding;

/// First byte of every envelope.
pub const MAGIC: u8 = 0xA5;
/// Envelope header: magic, kind, length.
pub const HEADER_LEN: usize = 4;
/// Version byte leading an encoded [`NodeConfig`].
pub const CONFIG_VERSION: u8 = 1;
/// Largest encoded [`NodeConfig`].
pub const CONFIG_MAX: usize = 320;
/// Bytes of an encoded [`Telemetry`].
pub const TELEMETRY_LEN: usize = 45;
/// Most frames one `Drain` reply carries.
pub const DRAIN_MAX: usize = 16;
/// Largest MTU a `Drain` may ask for (Wi-Fi).
pub const MTU_MAX: usize = crate::wire::MTU_WIFI;

/// Message kinds (the envelope's second byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Request: build the node from a configuration.
    Init = 1,
    /// Request: `handle_sample`.
    Sample = 2,
    /// Request: `handle_frame`.
    Frame = 3,
    /// Request: `handle_wake`.
    Wake = 4,
    /// Request: `handle_energy`.
    Energy = 5,
    /// Request: `poll_transmit` until `None`.
    Drain = 6,
    /// Reply: the node's observable state.
    State = 0x81,
    /// Reply: the frames a `Drain` produced.
    Frames = 0x82,
    /// Reply: the request failed.
    Error = 0xEE,
}

impl Kind {
    /// The kind with code `code`, if any.
    pub const fn from_code(code: u8) -> Option<Kind> {
        Some(match code {
            1 => Kind::Init,
            2 => Kind::Sample,
            3 => Kind::Frame,
            4 => Kind::Wake,
            5 => Kind::Energy,
            6 => Kind::Drain,
            0x81 => Kind::State,
            0x82 => Kind::Frames,
            0xEE => Kind::Error,
            _ => return None,
        })
    }
}

/// Why bytes could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the field needs.
    Truncated,
    /// Bytes left over after the last field.
    TrailingBytes,
    /// The envelope's first byte is not [`MAGIC`].
    BadMagic(u8),
    /// Unknown message kind.
    BadKind(u8),
    /// Unknown configuration version.
    BadVersion(u8),
    /// A tag byte names no variant of the field.
    BadTag {
        /// The field.
        field: &'static str,
        /// The byte.
        tag: u8,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("message truncated"),
            DecodeError::TrailingBytes => f.write_str("bytes after the last field"),
            DecodeError::BadMagic(b) => write!(f, "bad magic byte {b:#04x}"),
            DecodeError::BadKind(b) => write!(f, "unknown message kind {b:#04x}"),
            DecodeError::BadVersion(v) => write!(f, "unknown configuration version {v}"),
            DecodeError::BadTag { field, tag } => write!(f, "{field}: unknown tag {tag}"),
        }
    }
}

/// Why a configuration could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer is too small.
    BufferTooSmall,
    /// A setting the encoding does not carry (named).
    Unsupported(&'static str),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BufferTooSmall => f.write_str("output buffer too small"),
            EncodeError::Unsupported(what) => {
                write!(f, "{what} cannot be carried to an emulated node")
            }
        }
    }
}

/// The link's writer: a [`codec::Writer`] whose every write fails with
/// [`EncodeError::BufferTooSmall`] once the buffer is too small, so an
/// encoder stops at the first write that does not fit (`?`). After an error
/// the writer is spent: nothing more is written into the buffer.
pub struct Writer<'a> {
    inner: codec::Writer<'a>,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Writer<'a> {
        Writer {
            inner: codec::Writer::new(buf),
        }
    }

    /// Bytes written.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// `Ok` while everything written fits the buffer.
    fn fits(&self) -> Result<(), EncodeError> {
        if self.inner.overflowed() {
            Err(EncodeError::BufferTooSmall)
        } else {
            Ok(())
        }
    }

    /// Appends `bytes`.
    pub fn bytes(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.inner.bytes(bytes);
        self.fits()
    }

    /// Appends a byte.
    pub fn u8(&mut self, v: u8) -> Result<(), EncodeError> {
        self.inner.u8(v);
        self.fits()
    }
    /// Appends a `u16`.
    pub fn u16(&mut self, v: u16) -> Result<(), EncodeError> {
        self.inner.u16(v);
        self.fits()
    }
    /// Appends a `u32`.
    pub fn u32(&mut self, v: u32) -> Result<(), EncodeError> {
        self.inner.u32(v);
        self.fits()
    }
    /// Appends a `u64`.
    pub fn u64(&mut self, v: u64) -> Result<(), EncodeError> {
        self.inner.u64(v);
        self.fits()
    }
    /// Appends a Q16.16 value's raw bits.
    pub fn q(&mut self, v: Q) -> Result<(), EncodeError> {
        self.inner.q(v);
        self.fits()
    }

    /// Starts an envelope of `kind`; finish it with [`Writer::end_envelope`].
    pub fn begin_envelope(&mut self, kind: Kind) -> Result<usize, EncodeError> {
        self.bytes(&[MAGIC, kind as u8, 0, 0])?;
        Ok(self.len())
    }

    /// Writes the payload length of the envelope begun at `start`.
    pub fn end_envelope(&mut self, start: usize) -> Result<(), EncodeError> {
        self.fits()?;
        let len = u16::try_from(self.len() - start).map_err(|_| EncodeError::BufferTooSmall)?;
        self.inner.overwrite(start - 2, &len.to_le_bytes());
        Ok(())
    }
}

/// The link's reader: a [`codec::Reader`] whose reads past the end fail
/// with [`DecodeError::Truncated`].
pub struct Reader<'a> {
    inner: codec::Reader<'a>,
}

impl From<Invalid> for DecodeError {
    /// The link reads only fixed-size fields, so a [`codec::Reader`]
    /// fails only when the bytes run out.
    fn from(_: Invalid) -> DecodeError {
        DecodeError::Truncated
    }
}

impl<'a> Reader<'a> {
    /// A reader of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader {
            inner: codec::Reader::new(bytes),
        }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        Ok(self.inner.take(n)?)
    }

    /// A byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.inner.u8()?)
    }
    /// A `u16`.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(self.inner.u16()?)
    }
    /// A `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(self.inner.u32()?)
    }
    /// A `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(self.inner.u64()?)
    }
    /// A Q16.16 value.
    pub fn q(&mut self) -> Result<Q, DecodeError> {
        Ok(self.inner.q()?)
    }
    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.inner.rest()
    }
    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.inner.remaining() == 0 {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

/// Parses an envelope header: `(kind, payload length)`.
pub fn parse_header(header: [u8; HEADER_LEN]) -> Result<(Kind, usize), DecodeError> {
    if header[0] != MAGIC {
        return Err(DecodeError::BadMagic(header[0]));
    }
    let kind = Kind::from_code(header[1]).ok_or(DecodeError::BadKind(header[1]))?;
    Ok((
        kind,
        usize::from(u16::from_le_bytes([header[2], header[3]])),
    ))
}

/// The code of an `RxError` in a `State` reply (0 = accepted).
pub const fn rx_error_code(error: Option<RxError>) -> u8 {
    match error {
        None => 0,
        Some(RxError::Truncated) => 1,
        Some(RxError::BadVersion) => 2,
        Some(RxError::BadKind) => 3,
        Some(RxError::BadChecksum) => 4,
        Some(RxError::Malformed) => 5,
        Some(RxError::Banned) => 6,
        Some(RxError::UnknownSender) => 7,
        Some(RxError::MissingBase) => 8,
        Some(RxError::Refused) => 9,
    }
}

/// The inverse of [`rx_error_code`].
pub fn rx_error_from_code(code: u8) -> Result<Option<RxError>, DecodeError> {
    Ok(Some(match code {
        0 => return Ok(None),
        1 => RxError::Truncated,
        2 => RxError::BadVersion,
        3 => RxError::BadKind,
        4 => RxError::BadChecksum,
        5 => RxError::Malformed,
        6 => RxError::Banned,
        7 => RxError::UnknownSender,
        8 => RxError::MissingBase,
        9 => RxError::Refused,
        tag => {
            return Err(DecodeError::BadTag {
                field: "rx result",
                tag,
            });
        }
    }))
}

/// Writes `t` as [`TELEMETRY_LEN`] bytes.
pub fn encode_telemetry(w: &mut Writer<'_>, t: &Telemetry) -> Result<(), EncodeError> {
    w.q(t.last_prediction)?;
    w.q(t.last_error)?;
    w.u64(t.samples)?;
    w.u8(t.regime as u8)?;
    w.q(t.entropy)?;
    w.u64(t.energy_used_uj)?;
    w.u32(t.rounds)?;
    w.u32(t.frames_rejected)?;
    w.u64(t.aggregation_ops)
}

/// Reads a [`Telemetry`] written by [`encode_telemetry`].
pub fn decode_telemetry(r: &mut Reader<'_>) -> Result<Telemetry, DecodeError> {
    Ok(Telemetry {
        last_prediction: r.q()?,
        last_error: r.q()?,
        samples: r.u64()?,
        regime: regime(r.u8()?)?,
        entropy: r.q()?,
        energy_used_uj: r.u64()?,
        rounds: r.u32()?,
        frames_rejected: r.u32()?,
        aggregation_ops: r.u64()?,
    })
}

fn regime(tag: u8) -> Result<Regime, DecodeError> {
    Ok(match tag {
        0 => Regime::Calm,
        1 => Regime::PreStorm,
        2 => Regime::Storm,
        tag => {
            return Err(DecodeError::BadTag {
                field: "regime",
                tag,
            });
        }
    })
}

fn bad(field: &'static str, tag: u8) -> DecodeError {
    DecodeError::BadTag { field, tag }
}

fn flag(tag: u8, field: &'static str) -> Result<bool, DecodeError> {
    match tag {
        0 => Ok(false),
        1 => Ok(true),
        tag => Err(bad(field, tag)),
    }
}

fn encoding(tag: u8) -> Result<Encoding, DecodeError> {
    Ok(match tag {
        0 => Encoding::Raw,
        1 => Encoding::Bfp16,
        2 => Encoding::Bfp8,
        tag => return Err(bad("encoding", tag)),
    })
}

fn cap_tag(cap: InfluenceCap) -> u8 {
    match cap {
        InfluenceCap::PaperScaledCube => 0,
        InfluenceCap::SeedMinCube => 1,
        InfluenceCap::PaperScaledWeight => 2,
        InfluenceCap::Uncapped => 3,
    }
}

fn cap(tag: u8) -> Result<InfluenceCap, DecodeError> {
    Ok(match tag {
        0 => InfluenceCap::PaperScaledCube,
        1 => InfluenceCap::SeedMinCube,
        2 => InfluenceCap::PaperScaledWeight,
        3 => InfluenceCap::Uncapped,
        tag => return Err(bad("influence cap", tag)),
    })
}

fn write_weighted(w: &mut Writer<'_>, c: &WeightedConfig) -> Result<(), EncodeError> {
    w.q(c.exponent)?;
    w.u8(cap_tag(c.cap))?;
    w.q(c.min_reputation)
}

// Field by field on a default, like `decode_config`.
#[allow(clippy::field_reassign_with_default)]
fn read_weighted(r: &mut Reader<'_>) -> Result<WeightedConfig, DecodeError> {
    let mut c = WeightedConfig::default();
    c.exponent = r.q()?;
    c.cap = cap(r.u8()?)?;
    c.min_reputation = r.q()?;
    Ok(c)
}

fn write_aggregation(w: &mut Writer<'_>, a: &AggregationConfig) -> Result<(), EncodeError> {
    let rule = match a {
        AggregationConfig::Rule(rule) => rule,
        AggregationConfig::Adaptive(_) => {
            return Err(EncodeError::Unsupported("the adaptive aggregator"));
        }
        AggregationConfig::Pipeline(_) => {
            return Err(EncodeError::Unsupported("a pre-aggregation pipeline"));
        }
    };
    match rule {
        Rule::Mean => w.u8(0),
        Rule::Median => w.u8(1),
        Rule::TrimmedMean(t) => {
            w.u8(2)?;
            w.u32(t.beta_bp)
        }
        Rule::Krum(k) => {
            w.u8(3)?;
            match k.f {
                Faults::Count(f) => {
                    w.u8(0)?;
                    w.u32(f)?;
                }
                Faults::FractionBp(bp) => {
                    w.u8(1)?;
                    w.u32(bp)?;
                }
            }
            w.u8(match k.neighbours {
                KrumNeighbours::Paper => 0,
                KrumNeighbours::ByzFl => 1,
            })?;
            w.u32(k.m)
        }
        Rule::ReputationWeighted(c) => {
            w.u8(4)?;
            write_weighted(w, c)
        }
        Rule::WeightedTrimmedMean(c) => {
            w.u8(5)?;
            w.u32(c.trim.beta_bp)?;
            write_weighted(w, &c.weighted)
        }
        Rule::Bulyan(_) => Err(EncodeError::Unsupported("the Bulyan rule")),
        Rule::GeometricMedian(_) => Err(EncodeError::Unsupported("the geometric median")),
        Rule::CenteredClipping(_) => Err(EncodeError::Unsupported("centered clipping")),
        Rule::Meamed(_) => Err(EncodeError::Unsupported("the Meamed rule")),
        Rule::Monna(_) => Err(EncodeError::Unsupported("the MoNNA rule")),
    }
}

fn read_aggregation(r: &mut Reader<'_>) -> Result<AggregationConfig, DecodeError> {
    let rule = match r.u8()? {
        0 => Rule::Mean,
        1 => Rule::Median,
        2 => Rule::TrimmedMean(TrimConfig { beta_bp: r.u32()? }),
        3 => Rule::Krum(KrumConfig {
            f: match r.u8()? {
                0 => Faults::Count(r.u32()?),
                1 => Faults::FractionBp(r.u32()?),
                tag => return Err(bad("krum f", tag)),
            },
            neighbours: match r.u8()? {
                0 => KrumNeighbours::Paper,
                1 => KrumNeighbours::ByzFl,
                tag => return Err(bad("krum neighbours", tag)),
            },
            m: r.u32()?,
        }),
        4 => Rule::ReputationWeighted(read_weighted(r)?),
        5 => {
            let trim = TrimConfig { beta_bp: r.u32()? };
            Rule::WeightedTrimmedMean(WeightedTrimConfig {
                trim,
                weighted: read_weighted(r)?,
            })
        }
        tag => return Err(bad("aggregation rule", tag)),
    };
    Ok(AggregationConfig::Rule(rule))
}

/// Writes `c` ([`CONFIG_VERSION`] first). Settings the encoding does not
/// carry (the adaptive aggregator) are refused by name; fields added to
/// `NodeConfig` later are *not* detected here: a host must decode the
/// bytes and compare with `c` (the simulator does) to catch them.
pub fn encode_config(w: &mut Writer<'_>, c: &NodeConfig) -> Result<(), EncodeError> {
    w.u8(CONFIG_VERSION)?;
    w.u32(c.id)?;
    w.u64(c.seed)?;
    w.u32(c.swarm_size)?;
    let m = &c.model;
    w.u8(m.window_len)?;
    w.q(m.step_size)?;
    w.q(m.regularizer)?;
    w.q(m.weight_limit)?;
    match m.initial_weights {
        InitialWeights::Zeros => w.u8(0)?,
        InitialWeights::LastValue => w.u8(1)?,
        InitialWeights::Random {
            seed,
            node,
            amplitude,
        } => {
            w.u8(2)?;
            w.u64(seed)?;
            w.u32(node)?;
            w.q(amplitude)?;
        }
    }
    match c.step_size_by_regime {
        None => w.u8(0)?,
        Some(steps) => {
            w.u8(1)?;
            for s in steps {
                w.q(s)?;
            }
        }
    }
    w.q(c.warmup_step_size)?;
    w.u8(c.entropy.window_len)?;
    w.q(c.entropy.bin_width)?;
    w.u8(c.entropy.derivative_horizon_samples)?;
    let d = &c.detector;
    w.q(d.storm_entropy_nats)?;
    w.q(d.prestorm_derivative_nats)?;
    let k = &d.confirmations;
    w.bytes(&[
        k.calm_to_prestorm,
        k.prestorm_to_storm,
        k.calm_to_storm,
        k.storm_to_calm,
        k.storm_to_prestorm,
        k.prestorm_to_calm,
    ])?;
    w.u8(match d.escalation {
        Escalation::ThroughPreStorm => 0,
        Escalation::Direct => 1,
    })?;
    match d.storm_exit {
        StormExit::Indicated => w.u8(0)?,
        StormExit::Thresholds {
            entropy_below_nats,
            derivative_below_nats,
        } => {
            w.u8(1)?;
            w.q(entropy_below_nats)?;
            w.q(derivative_below_nats)?;
        }
    }
    w.u16(d.warmup_samples)?;
    w.u64(c.round_period.as_micros())?;
    w.u64(c.round_offset.as_micros())?;
    w.u64(c.collect_window.as_micros())?;
    let g = &c.gossip;
    w.u8(match g.mode {
        GateMode::Utility => 0,
        GateMode::Paper => 1,
        GateMode::Always => 2,
    })?;
    w.u8(match g.storm {
        StormGossip::Always => 0,
        StormGossip::Utility => 1,
    })?;
    for v in [
        g.gossip_cost,
        g.efficiency_bias,
        g.energy_floor,
        g.energy_generous,
        g.prestorm_energy_min,
    ] {
        w.q(v)?;
    }
    write_aggregation(w, &c.aggregation)?;
    let r = &c.reputation;
    w.u32(r.max_peers)?;
    match r.rule {
        UpdateRule::Ema { gamma } => {
            w.u8(0)?;
            w.q(gamma)?;
        }
        UpdateRule::Additive { reward, penalty } => {
            w.u8(1)?;
            w.q(reward)?;
            w.q(penalty)?;
        }
    }
    for v in [r.initial, r.ban_threshold, r.agree_rms, r.idle_decay] {
        w.q(v)?;
    }
    w.u8(c.encoding as u8)?;
    w.u8(u8::from(c.delta.enabled))?;
    w.u8(c.delta.encoding as u8)?;
    w.u16(c.delta.keyframe_rounds)?;
    w.u8(c.delta.tracked_peers)?;
    w.u8(c.inbox_max)?;
    for mix in c.aggregate_mix {
        w.q(mix)?;
    }
    let e = &c.costs;
    for v in [
        e.sample_uj,
        e.aggregate_uj,
        e.tx_uj_per_byte,
        e.rx_uj_per_byte,
    ] {
        w.u32(v)?;
    }
    let a = &c.audit;
    w.u8(u8::from(a.enabled))?;
    w.q(a.share)?;
    w.u64(a.deadline.as_micros())?;
    w.u8(a.failures_to_ban)?;
    w.q(a.failure_penalty)?;
    w.u8(u8::from(a.grubbs))?;
    w.u8(a.max_outstanding)?;
    Ok(())
}

/// Reads a configuration written by [`encode_config`]. Fields the encoding
/// does not carry keep [`NodeConfig::default`]'s values. The values are not
/// validated here: `Node::new` does that.
// Field by field on a default, not a struct literal: a field added to a
// config struct later keeps its default here (and the host's round-trip
// comparison names it) instead of breaking this decoder's build.
#[allow(clippy::field_reassign_with_default)]
pub fn decode_config(bytes: &[u8]) -> Result<NodeConfig, DecodeError> {
    let r = &mut Reader::new(bytes);
    let version = r.u8()?;
    if version != CONFIG_VERSION {
        return Err(DecodeError::BadVersion(version));
    }
    let mut c = NodeConfig::default();
    c.id = r.u32()?;
    c.seed = r.u64()?;
    c.swarm_size = r.u32()?;
    let mut m = LinearNeuronConfig::default();
    m.window_len = r.u8()?;
    m.step_size = r.q()?;
    m.regularizer = r.q()?;
    m.weight_limit = r.q()?;
    m.initial_weights = match r.u8()? {
        0 => InitialWeights::Zeros,
        1 => InitialWeights::LastValue,
        2 => InitialWeights::Random {
            seed: r.u64()?,
            node: r.u32()?,
            amplitude: r.q()?,
        },
        tag => return Err(bad("initial weights", tag)),
    };
    c.model = m;
    c.step_size_by_regime = match r.u8()? {
        0 => None,
        1 => Some([r.q()?, r.q()?, r.q()?]),
        tag => return Err(bad("step sizes", tag)),
    };
    c.warmup_step_size = r.q()?;
    let mut e = EntropyConfig::default();
    e.window_len = r.u8()?;
    e.bin_width = r.q()?;
    e.derivative_horizon_samples = r.u8()?;
    c.entropy = e;
    let mut d = DetectorConfig::default();
    d.storm_entropy_nats = r.q()?;
    d.prestorm_derivative_nats = r.q()?;
    let k = r.take(6)?;
    d.confirmations = Confirmations {
        calm_to_prestorm: k[0],
        prestorm_to_storm: k[1],
        calm_to_storm: k[2],
        storm_to_calm: k[3],
        storm_to_prestorm: k[4],
        prestorm_to_calm: k[5],
    };
    d.escalation = match r.u8()? {
        0 => Escalation::ThroughPreStorm,
        1 => Escalation::Direct,
        tag => return Err(bad("escalation", tag)),
    };
    d.storm_exit = match r.u8()? {
        0 => StormExit::Indicated,
        1 => StormExit::Thresholds {
            entropy_below_nats: r.q()?,
            derivative_below_nats: r.q()?,
        },
        tag => return Err(bad("storm exit", tag)),
    };
    d.warmup_samples = r.u16()?;
    c.detector = d;
    c.round_period = Duration::from_micros(r.u64()?);
    c.round_offset = Duration::from_micros(r.u64()?);
    c.collect_window = Duration::from_micros(r.u64()?);
    let mut g = GossipConfig::default();
    g.mode = match r.u8()? {
        0 => GateMode::Utility,
        1 => GateMode::Paper,
        2 => GateMode::Always,
        tag => return Err(bad("gate", tag)),
    };
    g.storm = match r.u8()? {
        0 => StormGossip::Always,
        1 => StormGossip::Utility,
        tag => return Err(bad("storm gossip", tag)),
    };
    g.gossip_cost = r.q()?;
    g.efficiency_bias = r.q()?;
    g.energy_floor = r.q()?;
    g.energy_generous = r.q()?;
    g.prestorm_energy_min = r.q()?;
    c.gossip = g;
    c.aggregation = read_aggregation(r)?;
    let mut rep = ReputationConfig::default();
    rep.max_peers = r.u32()?;
    rep.rule = match r.u8()? {
        0 => UpdateRule::Ema { gamma: r.q()? },
        1 => UpdateRule::Additive {
            reward: r.q()?,
            penalty: r.q()?,
        },
        tag => return Err(bad("reputation rule", tag)),
    };
    rep.initial = r.q()?;
    rep.ban_threshold = r.q()?;
    rep.agree_rms = r.q()?;
    rep.idle_decay = r.q()?;
    c.reputation = rep;
    c.encoding = encoding(r.u8()?)?;
    let mut delta = DeltaConfig::default();
    delta.enabled = match r.u8()? {
        0 => false,
        1 => true,
        tag => return Err(bad("delta", tag)),
    };
    delta.encoding = encoding(r.u8()?)?;
    delta.keyframe_rounds = r.u16()?;
    delta.tracked_peers = r.u8()?;
    c.delta = delta;
    c.inbox_max = r.u8()?;
    c.aggregate_mix = [r.q()?, r.q()?, r.q()?];
    let mut costs = EnergyCosts::default();
    costs.sample_uj = r.u32()?;
    costs.aggregate_uj = r.u32()?;
    costs.tx_uj_per_byte = r.u32()?;
    costs.rx_uj_per_byte = r.u32()?;
    c.costs = costs;
    let mut audit = AuditConfig::default();
    audit.enabled = flag(r.u8()?, "audit enabled")?;
    audit.share = r.q()?;
    audit.deadline = Duration::from_micros(r.u64()?);
    audit.failures_to_ban = r.u8()?;
    audit.failure_penalty = r.q()?;
    audit.grubbs = flag(r.u8()?, "audit grubbs")?;
    audit.max_outstanding = r.u8()?;
    c.audit = audit;
    r.finish()?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::q;

    fn round_trip(c: &NodeConfig) -> NodeConfig {
        let mut buf = [0; CONFIG_MAX];
        let mut w = Writer::new(&mut buf);
        encode_config(&mut w, c).unwrap();
        let len = w.len();
        decode_config(&buf[..len]).unwrap()
    }

    #[test]
    fn configs_round_trip() {
        let default = NodeConfig::default();
        assert_eq!(round_trip(&default), default);
        let mut c = NodeConfig {
            id: 7,
            seed: u64::MAX - 3,
            swarm_size: 200,
            step_size_by_regime: None,
            encoding: Encoding::Bfp16,
            inbox_max: 5,
            ..NodeConfig::default()
        };
        c.model.initial_weights = InitialWeights::Random {
            seed: 9,
            node: 7,
            amplitude: q::ratio(1, 10),
        };
        c.detector.storm_exit = StormExit::paper();
        c.audit = AuditConfig {
            enabled: true,
            share: q::ratio(1, 2),
            deadline: Duration::from_millis(2_500),
            failures_to_ban: 3,
            failure_penalty: q::ratio(1, 5),
            grubbs: false,
            max_outstanding: 7,
        };
        c.detector.escalation = Escalation::Direct;
        c.gossip.mode = GateMode::Paper;
        c.reputation.rule = UpdateRule::SEED_ADDITIVE;
        c.delta.enabled = false;
        for rule in [
            Rule::Mean,
            Rule::Median,
            Rule::Krum(KrumConfig {
                f: Faults::Count(2),
                neighbours: KrumNeighbours::Paper,
                m: 3,
            }),
            Rule::Krum(KrumConfig {
                f: Faults::FractionBp(2_500),
                neighbours: KrumNeighbours::ByzFl,
                m: 1,
            }),
            Rule::ReputationWeighted(WeightedConfig::default()),
            Rule::WeightedTrimmedMean(WeightedTrimConfig {
                trim: TrimConfig { beta_bp: 1000 },
                weighted: WeightedConfig::default(),
            }),
        ] {
            c.aggregation = AggregationConfig::Rule(rule);
            assert_eq!(round_trip(&c), c);
        }
    }

    #[test]
    fn adaptive_is_refused_by_name() {
        let c = NodeConfig {
            aggregation: AggregationConfig::Adaptive(Default::default()),
            ..NodeConfig::default()
        };
        let mut buf = [0; CONFIG_MAX];
        let err = encode_config(&mut Writer::new(&mut buf), &c).unwrap_err();
        assert_eq!(err, EncodeError::Unsupported("the adaptive aggregator"));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let mut buf = [0; CONFIG_MAX];
        let mut w = Writer::new(&mut buf);
        encode_config(&mut w, &NodeConfig::default()).unwrap();
        let len = w.len();
        for cut in 0..len {
            assert_eq!(decode_config(&buf[..cut]), Err(DecodeError::Truncated));
        }
        let mut long = buf;
        long[len] = 0;
        assert_eq!(
            decode_config(&long[..len + 1]),
            Err(DecodeError::TrailingBytes)
        );
    }

    #[test]
    fn telemetry_and_rx_codes_round_trip() {
        let t = Telemetry {
            last_prediction: q::ratio(-1, 3),
            samples: 12,
            regime: Regime::Storm,
            energy_used_uj: 1 << 40,
            aggregation_ops: 99,
            ..Telemetry::default()
        };
        let mut buf = [0; TELEMETRY_LEN];
        let mut w = Writer::new(&mut buf);
        encode_telemetry(&mut w, &t).unwrap();
        assert_eq!(w.len(), TELEMETRY_LEN);
        assert_eq!(decode_telemetry(&mut Reader::new(&buf)), Ok(t));
        for code in 0..=9 {
            let e = rx_error_from_code(code).unwrap();
            assert_eq!(rx_error_code(e), code);
        }
        assert!(rx_error_from_code(10).is_err());
        assert_eq!(parse_header([MAGIC, 2, 12, 0]), Ok((Kind::Sample, 12)));
        assert_eq!(parse_header([0, 2, 0, 0]), Err(DecodeError::BadMagic(0)));
        assert_eq!(parse_header([MAGIC, 9, 0, 0]), Err(DecodeError::BadKind(9)));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = decode_config(&bytes);
            let _ = decode_telemetry(&mut Reader::new(&bytes));
        }
    }
}
