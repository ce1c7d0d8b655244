//! Bare-metal check that node-core computes the same canonical digests on
//! Cortex-M4F (`thumbv7em-none-eabihf`) as on the host
//! (docs/cross-arch.md): the predictor digest and the whole-node swarm
//! digest. Prints both over semihosting and exits 0 when each equals its
//! pinned value, 1 otherwise. The hard-float ABI is the point of this
//! target: node-core must not touch the FPU, and its bits must not depend
//! on whether one exists. The check itself is
//! `node-core/qemu-common/digest_check.rs`, shared with `qemu-riscv`.
#![no_std]
#![no_main]

extern crate alloc;

use cortex_m as _;
use cortex_m_rt::entry;

#[path = "../../qemu-common/digest_check.rs"]
mod digest_check;

#[entry]
fn main() -> ! {
    digest_check::run("cortex-m4f", "Cortex-M4F")
}
