//! The digest check both bare-metal runners share (`node-core/qemu-riscv`,
//! `node-core/qemu-arm`; docs/cross-arch.md): a heap for node-core's
//! `alloc`, then node-core's two canonical digests, the predictor digest and
//! the whole-node swarm digest, each printed over semihosting beside its
//! pinned value. The program exits 0 when both equal their pinned values, 1
//! otherwise.
//!
//! Each runner includes this file with `#[path]` rather than depending on a
//! crate, so each stays one `no_std` crate with its own target, lockfile and
//! entry point (`riscv-rt` or `cortex-m-rt`), and only names its target.

use core::mem::MaybeUninit;

use embedded_alloc::LlffHeap as Heap;
use node_core::digest::swarm::{SWARM_DIGEST, swarm_digest};
use node_core::digest::{CANONICAL_DIGEST, canonical_digest};

#[global_allocator]
static HEAP: Heap = Heap::empty();

/// Heap for node-core's `alloc` (the swarm run's five nodes need ~40 KiB).
const HEAP_BYTES: usize = 256 * 1024;

/// The heap's memory, handed to [`HEAP`] once by [`run`].
static mut HEAP_MEMORY: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];

/// Prints one digest beside its pinned value; true when they are equal.
fn check(tag: &str, name: &str, digest: u64, pinned: u64) -> bool {
    semihosting::println!("{tag} {name} digest: {digest:#018x} (pinned {pinned:#018x})");
    digest == pinned
}

/// Sets up the heap, computes and checks both digests, and exits over
/// semihosting. `tag` starts each digest line (`riscv32imac`), `target`
/// names the target in the failure line (`Cortex-M4F`). Call it once, from
/// the entry point, before anything allocates.
pub fn run(tag: &str, target: &str) -> ! {
    // SAFETY: `run` never returns and is called once, from the entry point,
    // before any allocation; the region is static and used by nothing else.
    unsafe { HEAP.init(&raw mut HEAP_MEMORY as usize, HEAP_BYTES) }
    let predictor = check(tag, "predictor", canonical_digest(), CANONICAL_DIGEST);
    let swarm = check(tag, "swarm    ", swarm_digest(), SWARM_DIGEST);
    if predictor && swarm {
        semihosting::println!("same bits: ok");
        semihosting::process::exit(0)
    } else {
        semihosting::println!("DIFFERENT: node-core is not bit-identical on {target}");
        semihosting::process::exit(1)
    }
}
