//! One node-core [`Node`] as a bare-metal riscv32imac program: the node
//! side of the emulated-node link (`node_core::remote`, docs/cross-arch.md).
//!
//! QEMU's `virt` board connects its NS16550A UART to the host process's
//! stdin/stdout; the program reads one request envelope at a time, applies
//! it to its node and writes exactly one reply. It reads the `instret`
//! counter before and after each node call and reports the difference, so
//! the host learns how many instructions the node's own work took (with
//! QEMU's `-icount shift=0`, `instret` counts retired instructions; without
//! it QEMU returns host ticks). The program never exits by itself: the host
//! kills QEMU when it is done. A broken stream (bad magic, oversize
//! message) gets an `Error` reply and exit code 2 over semihosting.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::mem::MaybeUninit;

use embedded_alloc::LlffHeap as Heap;
use node_core::node::Node;
use node_core::q::Q;
use node_core::remote::{self, DecodeError, EncodeError, Kind, Reader, Writer};
use node_core::runtime::{Destination, Runtime};
use node_core::time::Instant;

#[global_allocator]
static HEAP: Heap = Heap::empty();

/// Heap for the node (a few KiB) and the link's two buffers.
const HEAP_BYTES: usize = 256 * 1024;

/// Largest request payload: a Wi-Fi frame and its instant.
const REQUEST_MAX: usize = remote::MTU_MAX + 16;

/// Largest reply: `DRAIN_MAX` Wi-Fi frames with their headers.
const REPLY_MAX: usize = remote::DRAIN_MAX * (remote::MTU_MAX + 16) + 64;

/// The QEMU `virt` board's NS16550A UART.
mod uart {
    const BASE: usize = 0x1000_0000;
    const LSR: usize = BASE + 5;
    const LSR_DATA_READY: u8 = 0x01;
    const LSR_THR_EMPTY: u8 = 0x20;

    /// Blocks until a byte arrives.
    pub fn read_byte() -> u8 {
        // SAFETY: MMIO registers of the board's UART, used by nothing else.
        unsafe {
            while core::ptr::read_volatile(LSR as *const u8) & LSR_DATA_READY == 0 {}
            core::ptr::read_volatile(BASE as *const u8)
        }
    }

    /// Blocks until the byte is handed to the UART.
    pub fn write_byte(byte: u8) {
        // SAFETY: as above.
        unsafe {
            while core::ptr::read_volatile(LSR as *const u8) & LSR_THR_EMPTY == 0 {}
            core::ptr::write_volatile(BASE as *mut u8, byte);
        }
    }
}

fn read_exact(buf: &mut [u8]) {
    for byte in buf {
        *byte = uart::read_byte();
    }
}

fn instret() -> u64 {
    riscv::register::instret::read64()
}

/// A fixed-capacity text buffer for error replies.
struct Text {
    bytes: [u8; 128],
    len: usize,
}

impl core::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.bytes.len() - self.len;
        let n = s.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// The link's state: the node (after `Init`) and the reply buffer.
struct Link {
    node: Option<Node>,
    reply: Vec<u8>,
    frame: Vec<u8>,
}

/// Why a request got an `Error` reply.
enum Failure {
    Decode(DecodeError),
    Encode(EncodeError),
    NoNode,
    Config(node_core::node::ConfigError),
    MtuOutOfRange(usize),
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Failure::Decode(e) => write!(f, "request: {e}"),
            Failure::Encode(e) => write!(f, "reply: {e}"),
            Failure::NoNode => f.write_str("no node yet: send Init first"),
            Failure::Config(e) => write!(f, "node configuration refused: {e}"),
            Failure::MtuOutOfRange(mtu) => write!(f, "drain mtu {mtu} outside 1..=1500"),
        }
    }
}

impl From<DecodeError> for Failure {
    fn from(e: DecodeError) -> Failure {
        Failure::Decode(e)
    }
}

impl From<EncodeError> for Failure {
    fn from(e: EncodeError) -> Failure {
        Failure::Encode(e)
    }
}

impl Link {
    /// Applies one request; returns the reply's length in `self.reply`.
    fn serve(&mut self, kind: Kind, payload: &[u8]) -> Result<usize, Failure> {
        let r = &mut Reader::new(payload);
        if kind == Kind::Init {
            let config = remote::decode_config(payload)?;
            self.node = Some(Node::new(config).map_err(Failure::Config)?);
            return self.state(0, 0);
        }
        let node = self.node.as_mut().ok_or(Failure::NoNode)?;
        let now = Instant::from_micros(r.u64()?);
        let start = instret();
        let result = match kind {
            Kind::Sample => {
                let sample = r.q()?;
                r.finish()?;
                node.handle_sample(now, sample);
                0
            }
            Kind::Frame => {
                let frame = r.rest();
                remote::rx_error_code(node.handle_frame(now, frame).err())
            }
            Kind::Wake => {
                r.finish()?;
                node.handle_wake(now);
                0
            }
            Kind::Energy => {
                let level = r.q()?;
                r.finish()?;
                node.handle_energy(now, level);
                0
            }
            Kind::Drain => {
                let mtu = usize::from(r.u16()?);
                r.finish()?;
                return self.drain(now, mtu);
            }
            other => return Err(Failure::Decode(DecodeError::BadKind(other as u8))),
        };
        let spent = instret().wrapping_sub(start);
        self.state(result, spent)
    }

    /// A `State` reply.
    fn state(&mut self, result: u8, spent: u64) -> Result<usize, Failure> {
        let node = self.node.as_ref().ok_or(Failure::NoNode)?;
        let w = &mut Writer::new(&mut self.reply);
        let start = w.begin_envelope(Kind::State)?;
        w.u8(result)?;
        w.u64(spent)?;
        w.u64(node.poll_at().map_or(u64::MAX, Instant::as_micros))?;
        remote::encode_telemetry(w, &node.telemetry())?;
        let weights: &[Q] = node.weights();
        w.u8(u8::try_from(weights.len()).map_err(|_| EncodeError::BufferTooSmall)?)?;
        for weight in weights {
            w.q(*weight)?;
        }
        w.end_envelope(start)?;
        Ok(w.len())
    }

    /// `poll_transmit` with an `mtu`-byte buffer until `None`: a `Frames`
    /// reply.
    fn drain(&mut self, now: Instant, mtu: usize) -> Result<usize, Failure> {
        if mtu == 0 || mtu > remote::MTU_MAX {
            return Err(Failure::MtuOutOfRange(mtu));
        }
        let node = self.node.as_mut().ok_or(Failure::NoNode)?;
        let w = &mut Writer::new(&mut self.reply);
        let start = w.begin_envelope(Kind::Frames)?;
        let spent_at = w.len();
        w.u64(0)?;
        let count_at = w.len();
        w.u8(0)?;
        let mut count = 0_u8;
        let mut spent = 0_u64;
        for _ in 0..remote::DRAIN_MAX {
            let buf = &mut self.frame[..mtu];
            let before = instret();
            let tx = node.poll_transmit(now, buf);
            spent = spent.wrapping_add(instret().wrapping_sub(before));
            let Some(tx) = tx else { break };
            w.u8(tx.kind as u8)?;
            match tx.destination {
                Destination::Broadcast => {
                    w.u8(0)?;
                    w.u32(0)?;
                }
                Destination::Unicast(peer) => {
                    w.u8(1)?;
                    w.u32(peer)?;
                }
            }
            w.u64(node.telemetry().energy_used_uj)?;
            let len = tx.len.min(mtu);
            w.u16(len as u16)?;
            w.bytes(&buf[..len])?;
            count += 1;
        }
        w.end_envelope(start)?;
        let len = w.len();
        self.reply[spent_at..spent_at + 8].copy_from_slice(&spent.to_le_bytes());
        self.reply[count_at] = count;
        Ok(len)
    }

    fn send_error(&mut self, failure: &Failure) {
        let mut text = Text {
            bytes: [0; 128],
            len: 0,
        };
        let _ = write!(text, "{failure}");
        let w = &mut Writer::new(&mut self.reply);
        let written = w.begin_envelope(Kind::Error).and_then(|start| {
            w.u8(1)?;
            w.bytes(&text.bytes[..text.len])?;
            w.end_envelope(start)?;
            Ok(w.len())
        });
        if let Ok(len) = written {
            self.reply[..len].iter().for_each(|b| uart::write_byte(*b));
        }
    }
}

#[riscv_rt::entry]
fn main() -> ! {
    static mut HEAP_MEMORY: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];
    // SAFETY: called once, before any allocation; the region is static and
    // used by nothing else.
    unsafe { HEAP.init(&raw mut HEAP_MEMORY as usize, HEAP_BYTES) }
    let mut link = Link {
        node: None,
        reply: vec![0; REPLY_MAX],
        frame: vec![0; remote::MTU_MAX],
    };
    let mut payload = vec![0_u8; REQUEST_MAX];
    loop {
        let mut header = [0_u8; remote::HEADER_LEN];
        read_exact(&mut header);
        let (kind, len) = match remote::parse_header(header) {
            Ok(parsed) if parsed.1 <= REQUEST_MAX => parsed,
            Ok(_) => {
                link.send_error(&Failure::Decode(DecodeError::Truncated));
                semihosting::process::exit(2)
            }
            Err(e) => {
                link.send_error(&Failure::Decode(e));
                semihosting::process::exit(2)
            }
        };
        read_exact(&mut payload[..len]);
        match link.serve(kind, &payload[..len]) {
            Ok(reply_len) => link.reply[..reply_len]
                .iter()
                .for_each(|b| uart::write_byte(*b)),
            Err(failure) => link.send_error(&failure),
        }
    }
}
