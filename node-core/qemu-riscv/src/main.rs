//! Bare-metal check that node-core computes the same canonical digest on
//! riscv32imac as on the host (DESIGN.md, "Determinism across
//! architectures"). Prints the digest over semihosting and exits 0 when it
//! equals `node_core::digest::CANONICAL_DIGEST`, 1 otherwise.
#![no_std]
#![no_main]

extern crate alloc;

use core::mem::MaybeUninit;

use embedded_alloc::LlffHeap as Heap;
use node_core::digest::{CANONICAL_DIGEST, canonical_digest};

#[global_allocator]
static HEAP: Heap = Heap::empty();

/// Heap for node-core's `alloc` (the canonical run needs a few KiB).
const HEAP_BYTES: usize = 256 * 1024;

#[riscv_rt::entry]
fn main() -> ! {
    static mut HEAP_MEMORY: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];
    // SAFETY: called once, before any allocation; the region is static and
    // used by nothing else.
    unsafe { HEAP.init(&raw mut HEAP_MEMORY as usize, HEAP_BYTES) }
    let digest = canonical_digest();
    semihosting::println!("riscv32imac canonical digest: {digest:#018x}");
    semihosting::println!("pinned (host) digest:         {CANONICAL_DIGEST:#018x}");
    if digest == CANONICAL_DIGEST {
        semihosting::println!("same bits: ok");
        semihosting::process::exit(0)
    } else {
        semihosting::println!("DIFFERENT: node-core is not bit-identical on riscv32imac");
        semihosting::process::exit(1)
    }
}
