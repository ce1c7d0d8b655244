//! Bare-metal check that node-core computes the same canonical digests on
//! riscv32imac as on the host (docs/cross-arch.md): the predictor digest
//! and the whole-node swarm digest. Prints both over semihosting and exits
//! 0 when each equals its pinned value, 1 otherwise.
#![no_std]
#![no_main]

extern crate alloc;

use core::mem::MaybeUninit;

use embedded_alloc::LlffHeap as Heap;
use node_core::digest::swarm::{SWARM_DIGEST, swarm_digest};
use node_core::digest::{CANONICAL_DIGEST, canonical_digest};

#[global_allocator]
static HEAP: Heap = Heap::empty();

/// Heap for node-core's `alloc` (the swarm run's five nodes need ~40 KiB).
const HEAP_BYTES: usize = 256 * 1024;

/// Prints one digest beside its pinned value; true when they are equal.
fn check(name: &str, digest: u64, pinned: u64) -> bool {
    semihosting::println!("riscv32imac {name} digest: {digest:#018x} (pinned {pinned:#018x})");
    digest == pinned
}

#[riscv_rt::entry]
fn main() -> ! {
    static mut HEAP_MEMORY: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];
    // SAFETY: called once, before any allocation; the region is static and
    // used by nothing else.
    unsafe { HEAP.init(&raw mut HEAP_MEMORY as usize, HEAP_BYTES) }
    let predictor = check("predictor", canonical_digest(), CANONICAL_DIGEST);
    let swarm = check("swarm    ", swarm_digest(), SWARM_DIGEST);
    if predictor && swarm {
        semihosting::println!("same bits: ok");
        semihosting::process::exit(0)
    } else {
        semihosting::println!("DIFFERENT: node-core is not bit-identical on riscv32imac");
        semihosting::process::exit(1)
    }
}
