//! `EmulatedNode`: a node-core [`Node`] running as a bare-metal riscv32imac
//! program under `qemu-system-riscv32`, behind the same [`Runtime`] trait
//! as the in-process node, so the simulator can run chosen node ids
//! (`[run] emulated_nodes`) on an emulated CPU and show that the swarm's
//! results do not change (docs/cross-arch.md).
//!
//! ## The link
//!
//! The program (`node-core/qemu-node`) is one `Node` reading requests from
//! the board's UART; QEMU connects the UART to this process through the
//! child's stdin/stdout. The framing and the binary `NodeConfig` encoding
//! are `node_core::remote`. Every call is synchronous: one request, one
//! reply, in call order, so the emulated node sees exactly the inputs, in
//! exactly the order, that an in-process node would.
//!
//! ## Ordering contract
//!
//! * Each `handle_*` call is one request; its `State` reply refreshes the
//!   cached `poll_at`, telemetry and weights that the `&self` methods
//!   return.
//! * The first `poll_transmit` after an input is one `Drain` request: the
//!   program calls its node's `poll_transmit` with a buffer of the host's
//!   length until `None` and returns every frame with the energy meter
//!   after it; later `poll_transmit` calls hand those frames out in order
//!   (and update `energy_used_uj` as each is taken), then `None`, without a
//!   request, until the next input. This equals the in-process node's
//!   sequence as long as the host drains with the same buffer length, at
//!   the same instant, after each input, which the ordering contract of
//!   `node_core::runtime` requires.
//! * A broken link (QEMU gone, a malformed reply) panics with the node id
//!   and what was read: the `Runtime` methods have no error channel, and
//!   continuing would silently change the run.
//!
//! The configuration sent is the `NodeConfig` the in-process node would
//! get. Before QEMU starts, it is encoded, decoded back and compared; a
//! setting the encoding cannot carry is refused with its name.
//!
//! QEMU runs with `-icount shift=0`, so the program's `instret` counter
//! counts guest instructions; every reply carries the instructions the
//! node's own code retired for the request ([`EmulatedNode::instructions`]).

use std::collections::VecDeque;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use node_core::node::{AggregationScratch, Node, NodeConfig};
use node_core::q::Q;
use node_core::remote::{self, Kind, Reader, Writer};
use node_core::runtime::{Destination, FrameKind, NodeId, Runtime, RxError, Telemetry, Transmit};
use node_core::time::Instant;

/// The QEMU binary started for each emulated node.
pub const QEMU: &str = "qemu-system-riscv32";

/// Environment variable naming the node program, overriding
/// [`default_program`].
pub const PROGRAM_ENV: &str = "RAAS_QEMU_NODE";

/// Where `(cd node-core/qemu-node && cargo build --release)` puts the node
/// program, in this source tree.
pub fn default_program() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../node-core/qemu-node/target/riscv32imac-unknown-none-elf/release/node-core-qemu-node",
    )
}

/// The node program to run: `$RAAS_QEMU_NODE`, else [`default_program`].
pub fn program() -> PathBuf {
    std::env::var_os(PROGRAM_ENV).map_or_else(default_program, PathBuf::from)
}

/// Why an emulated node could not be started.
#[derive(Debug)]
pub enum EmulatedError {
    /// The node program is not built.
    ProgramMissing(PathBuf),
    /// QEMU could not be started.
    Spawn(std::io::Error),
    /// The configuration cannot be carried (named).
    Config(String),
    /// The program refused or broke the link at `Init`.
    Init(String),
}

impl fmt::Display for EmulatedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmulatedError::ProgramMissing(path) => write!(
                f,
                "the emulated node program {} is not built: run \
                 `(cd node-core/qemu-node && cargo build --release)` or set {PROGRAM_ENV}",
                path.display()
            ),
            EmulatedError::Spawn(e) => write!(
                f,
                "cannot start {QEMU} ({e}); emulated nodes need QEMU's RISC-V system emulator \
                 (Debian: qemu-system-misc)"
            ),
            EmulatedError::Config(what) => write!(f, "emulated node configuration: {what}"),
            EmulatedError::Init(what) => {
                write!(f, "emulated node refused its configuration: {what}")
            }
        }
    }
}

impl std::error::Error for EmulatedError {}

/// Encodes `config`, decodes it back and compares: the bytes an emulated
/// node gets, or the first setting they would lose.
pub fn encode_config(config: &NodeConfig) -> Result<Vec<u8>, String> {
    let mut buf = [0_u8; remote::CONFIG_MAX];
    let mut w = Writer::new(&mut buf);
    remote::encode_config(&mut w, config).map_err(|e| e.to_string())?;
    let len = w.len();
    let bytes = buf[..len].to_vec();
    let back = remote::decode_config(&bytes).map_err(|e| e.to_string())?;
    if back != *config {
        let (want, got) = (format!("{config:#?}"), format!("{back:#?}"));
        let line = want
            .lines()
            .zip(got.lines())
            .find(|(a, b)| a != b)
            .map_or_else(String::new, |(a, _)| a.trim().to_string());
        return Err(format!(
            "the init message cannot carry this setting of the node configuration: {line}"
        ));
    }
    Ok(bytes)
}

/// A frame drained from the program, waiting for `poll_transmit`.
struct Pending {
    transmit: Transmit,
    bytes: Vec<u8>,
    energy_used_uj: u64,
}

/// One node-core node in `qemu-system-riscv32` (module docs).
pub struct EmulatedNode {
    id: NodeId,
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    poll_at: Option<Instant>,
    telemetry: Telemetry,
    weights: Vec<Q>,
    pending: VecDeque<Pending>,
    drained: bool,
    request: Vec<u8>,
    reply: Vec<u8>,
    instructions: u64,
    requests: u64,
}

impl EmulatedNode {
    /// Starts `program` under QEMU and sends it `config`.
    pub fn spawn(program: &Path, config: &NodeConfig) -> Result<EmulatedNode, EmulatedError> {
        let bytes = encode_config(config).map_err(EmulatedError::Config)?;
        // Refuse what the program would refuse, with node-core's message.
        Node::new(config.clone()).map_err(|e| EmulatedError::Config(e.to_string()))?;
        if !program.is_file() {
            return Err(EmulatedError::ProgramMissing(program.to_path_buf()));
        }
        let mut child = Command::new(QEMU)
            .args(["-machine", "virt", "-bios", "none", "-display", "none"])
            .args(["-monitor", "none", "-icount", "shift=0"])
            .args(["-chardev", "stdio,id=link", "-serial", "chardev:link"])
            .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
            .arg(program)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(EmulatedError::Spawn)?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let mut node = EmulatedNode {
            id: config.id,
            child,
            stdin,
            stdout,
            poll_at: None,
            telemetry: Telemetry::default(),
            weights: Vec::new(),
            pending: VecDeque::new(),
            drained: true,
            request: Vec::with_capacity(remote::MTU_MAX + 32),
            reply: Vec::with_capacity(4096),
            instructions: 0,
            requests: 0,
        };
        node.send(Kind::Init, &bytes);
        match node.receive() {
            Ok(Kind::State) => {
                node.read_state();
                Ok(node)
            }
            Ok(_) => Err(EmulatedError::Init(node.error_text())),
            Err(e) => Err(EmulatedError::Init(e)),
        }
    }

    /// Guest instructions the node's own code retired so far (the link's
    /// I/O excluded): the sum of every reply's `instret` difference.
    pub fn instructions(&self) -> u64 {
        self.instructions
    }

    /// Requests sent so far (QEMU round trips).
    pub fn requests(&self) -> u64 {
        self.requests
    }

    fn send(&mut self, kind: Kind, payload: &[u8]) {
        let len = u16::try_from(payload.len()).expect("payloads are below 64 KiB");
        self.request.clear();
        self.request.extend_from_slice(&[remote::MAGIC, kind as u8]);
        self.request.extend_from_slice(&len.to_le_bytes());
        self.request.extend_from_slice(payload);
        self.requests += 1;
        if let Err(e) = self
            .stdin
            .write_all(&self.request)
            .and_then(|()| self.stdin.flush())
        {
            self.fail(&format!("cannot write to QEMU: {e}"));
        }
    }

    /// Reads one reply envelope into `self.reply`; returns its kind.
    fn receive(&mut self) -> Result<Kind, String> {
        let mut header = [0_u8; remote::HEADER_LEN];
        self.stdout
            .read_exact(&mut header)
            .map_err(|e| format!("no reply from QEMU ({e}): did the program stop?"))?;
        let (kind, len) = remote::parse_header(header).map_err(|e| format!("reply: {e}"))?;
        self.reply.resize(len, 0);
        self.stdout
            .read_exact(&mut self.reply)
            .map_err(|e| format!("reply cut short ({e})"))?;
        Ok(kind)
    }

    fn error_text(&self) -> String {
        String::from_utf8_lossy(self.reply.get(1..).unwrap_or_default()).into_owned()
    }

    fn fail(&mut self, what: &str) -> ! {
        let _ = self.child.kill();
        panic!("emulated node {}: {what}", self.id)
    }

    /// A request whose reply must be `State`; returns its result byte.
    fn call(&mut self, kind: Kind, payload: &[u8]) -> u8 {
        self.send(kind, payload);
        self.pending.clear();
        self.drained = false;
        match self.receive() {
            Ok(Kind::State) => self.read_state(),
            Ok(_) => {
                let text = self.error_text();
                self.fail(&format!("{kind:?} refused: {text}"))
            }
            Err(e) => self.fail(&e),
        }
    }

    fn read_state(&mut self) -> u8 {
        let bytes = std::mem::take(&mut self.reply);
        let parsed = (|| {
            let r = &mut Reader::new(&bytes);
            let result = r.u8()?;
            let spent = r.u64()?;
            let poll_at = r.u64()?;
            let telemetry = remote::decode_telemetry(r)?;
            let dim = usize::from(r.u8()?);
            self.weights.clear();
            for _ in 0..dim {
                self.weights.push(r.q()?);
            }
            r.finish()?;
            self.instructions += spent;
            self.poll_at = (poll_at != u64::MAX).then_some(Instant::from_micros(poll_at));
            self.telemetry = telemetry;
            Ok::<u8, remote::DecodeError>(result)
        })();
        self.reply = bytes;
        match parsed {
            Ok(result) => result,
            Err(e) => self.fail(&format!("malformed State reply: {e}")),
        }
    }

    fn drain(&mut self, now: Instant, mtu: usize) {
        let mtu = u16::try_from(mtu.min(remote::MTU_MAX)).expect("MTU_MAX fits a u16");
        let mut payload = [0_u8; 10];
        payload[..8].copy_from_slice(&now.as_micros().to_le_bytes());
        payload[8..].copy_from_slice(&mtu.to_le_bytes());
        self.send(Kind::Drain, &payload);
        self.drained = true;
        match self.receive() {
            Ok(Kind::Frames) => {}
            Ok(_) => {
                let text = self.error_text();
                self.fail(&format!("Drain refused: {text}"))
            }
            Err(e) => self.fail(&e),
        }
        let bytes = std::mem::take(&mut self.reply);
        let parsed = (|| {
            let r = &mut Reader::new(&bytes);
            self.instructions += r.u64()?;
            let count = r.u8()?;
            for _ in 0..count {
                let kind = r.u8()?;
                let kind = FrameKind::from_code(kind).ok_or(remote::DecodeError::BadTag {
                    field: "frame kind",
                    tag: kind,
                })?;
                let tag = r.u8()?;
                let peer = r.u32()?;
                let destination = match tag {
                    0 => Destination::Broadcast,
                    1 => Destination::Unicast(peer),
                    tag => {
                        return Err(remote::DecodeError::BadTag {
                            field: "destination",
                            tag,
                        });
                    }
                };
                let energy_used_uj = r.u64()?;
                let len = usize::from(r.u16()?);
                let frame = r.take(len)?.to_vec();
                self.pending.push_back(Pending {
                    transmit: Transmit {
                        len,
                        kind,
                        destination,
                    },
                    bytes: frame,
                    energy_used_uj,
                });
            }
            r.finish()
        })();
        self.reply = bytes;
        if let Err(e) = parsed {
            self.fail(&format!("malformed Frames reply: {e}"));
        }
    }
}

fn now_payload(now: Instant, value: Option<Q>) -> ([u8; 12], usize) {
    let mut payload = [0_u8; 12];
    payload[..8].copy_from_slice(&now.as_micros().to_le_bytes());
    match value {
        Some(q) => {
            payload[8..].copy_from_slice(&q.to_bits().to_le_bytes());
            (payload, 12)
        }
        None => (payload, 8),
    }
}

impl Runtime for EmulatedNode {
    fn handle_sample(&mut self, now: Instant, sample: Q) {
        let (payload, len) = now_payload(now, Some(sample));
        self.call(Kind::Sample, &payload[..len]);
    }

    fn handle_frame(&mut self, now: Instant, frame: &[u8]) -> Result<(), RxError> {
        let mut payload = Vec::with_capacity(8 + frame.len());
        payload.extend_from_slice(&now.as_micros().to_le_bytes());
        payload.extend_from_slice(frame);
        let code = self.call(Kind::Frame, &payload);
        match remote::rx_error_from_code(code) {
            Ok(None) => Ok(()),
            Ok(Some(e)) => Err(e),
            Err(e) => self.fail(&format!("malformed frame result: {e}")),
        }
    }

    fn handle_wake(&mut self, now: Instant) {
        let (payload, len) = now_payload(now, None);
        self.call(Kind::Wake, &payload[..len]);
    }

    fn handle_energy(&mut self, now: Instant, level: Q) {
        let (payload, len) = now_payload(now, Some(level));
        self.call(Kind::Energy, &payload[..len]);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if !self.drained {
            self.drain(now, buf.len());
        }
        let next = self.pending.pop_front()?;
        if next.bytes.len() > buf.len() {
            self.fail(&format!(
                "a drained {}-byte frame does not fit the host's {}-byte buffer: drain with \
                 one buffer length",
                next.bytes.len(),
                buf.len()
            ));
        }
        buf[..next.bytes.len()].copy_from_slice(&next.bytes);
        self.telemetry.energy_used_uj = next.energy_used_uj;
        Some(next.transmit)
    }

    fn poll_at(&self) -> Option<Instant> {
        self.poll_at
    }

    fn telemetry(&self) -> Telemetry {
        self.telemetry
    }

    fn weights(&self) -> &[Q] {
        &self.weights
    }
}

impl Drop for EmulatedNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A node of a run with `[run] emulated_nodes`: in this process, or in
/// QEMU. The runner builds one per node ([`crate::runner`]).
#[allow(clippy::large_enum_variant)] // one per node, built once
pub enum LocalOrEmulated {
    /// node-core's [`Node`] in this process.
    Local(Node),
    /// The same node in `qemu-system-riscv32`.
    Emulated(EmulatedNode),
}

macro_rules! delegate {
    ($self:ident, $node:ident => $call:expr) => {
        match $self {
            LocalOrEmulated::Local($node) => $call,
            LocalOrEmulated::Emulated($node) => $call,
        }
    };
}

impl Runtime for LocalOrEmulated {
    fn handle_sample(&mut self, now: Instant, sample: Q) {
        delegate!(self, n => n.handle_sample(now, sample))
    }
    fn handle_frame(&mut self, now: Instant, frame: &[u8]) -> Result<(), RxError> {
        delegate!(self, n => n.handle_frame(now, frame))
    }
    fn handle_wake(&mut self, now: Instant) {
        delegate!(self, n => n.handle_wake(now))
    }
    fn handle_wake_lent(&mut self, now: Instant, scratch: &mut AggregationScratch) {
        delegate!(self, n => n.handle_wake_lent(now, scratch))
    }
    fn handle_energy(&mut self, now: Instant, level: Q) {
        delegate!(self, n => n.handle_energy(now, level))
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        delegate!(self, n => n.poll_transmit(now, buf))
    }
    fn poll_at(&self) -> Option<Instant> {
        delegate!(self, n => n.poll_at())
    }
    fn state_bytes(&self) -> Option<usize> {
        delegate!(self, n => Runtime::state_bytes(n))
    }
    fn telemetry(&self) -> Telemetry {
        delegate!(self, n => n.telemetry())
    }
    fn weights(&self) -> &[Q] {
        delegate!(self, n => n.weights())
    }
}

/// Builds node `init.id` of `scenario`: in QEMU when `[run]
/// emulated_nodes` lists it, else node-core's [`Node`] in this process
/// (exactly [`crate::runner::node_core_runtime`]); both get the same
/// `NodeConfig`.
pub fn local_or_emulated_runtime(
    scenario: &crate::scenario::Scenario,
    init: &crate::world::NodeInit,
) -> Result<LocalOrEmulated, String> {
    if !scenario.run.emulated_nodes.contains(&init.id) {
        return crate::runner::node_core_runtime(scenario, init).map(LocalOrEmulated::Local);
    }
    let round_period = node_core::time::Duration::from_micros(scenario.run.round_period_us());
    let config = scenario.node.to_core(init, round_period);
    EmulatedNode::spawn(&program(), &config)
        .map(LocalOrEmulated::Emulated)
        .map_err(|e| format!("node {}: {e}", init.id))
}
