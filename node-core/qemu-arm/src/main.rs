//! Bare-metal check that node-core computes the same canonical digests on
//! Cortex-M4F (`thumbv7em-none-eabihf`) as on the host
//! (docs/cross-arch.md): the predictor digest and the whole-node swarm
//! digest. Prints both over semihosting and exits 0 when each equals its
//! pinned value, 1 otherwise. The hard-float ABI is the point of this
//! target: node-core must not touch the FPU, and its bits must not depend
//! on whether one exists.
#![no_std]
#![no_main]

extern crate alloc;

use core::mem::MaybeUninit;

use cortex_m as _;
use cortex_m_rt::entry;
use embedded_alloc::LlffHeap as Heap;
use node_core::digest::swarm::{SWARM_DIGEST, swarm_digest};
use node_core::digest::{CANONICAL_DIGEST, canonical_digest};

#[global_allocator]
static HEAP: Heap = Heap::empty();

/// Heap for node-core's `alloc` (the swarm run's five nodes need ~40 KiB).
const HEAP_BYTES: usize = 256 * 1024;

/// Prints one digest beside its pinned value; true when they are equal.
fn check(name: &str, digest: u64, pinned: u64) -> bool {
    semihosting::println!("cortex-m4f {name} digest: {digest:#018x} (pinned {pinned:#018x})");
    digest == pinned
}

#[entry]
fn main() -> ! {
    static mut HEAP_MEMORY: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];
    // cortex-m-rt's `entry` hands this `static mut` over as a unique
    // `&'static mut`. SAFETY: called once, before any allocation; the
    // region is static and used by nothing else.
    unsafe { HEAP.init(HEAP_MEMORY.as_mut_ptr() as usize, HEAP_BYTES) }
    let predictor = check("predictor", canonical_digest(), CANONICAL_DIGEST);
    let swarm = check("swarm    ", swarm_digest(), SWARM_DIGEST);
    if predictor && swarm {
        semihosting::println!("same bits: ok");
        semihosting::process::exit(0)
    } else {
        semihosting::println!("DIFFERENT: node-core is not bit-identical on Cortex-M4F");
        semihosting::process::exit(1)
    }
}
