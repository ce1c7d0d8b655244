//! Bare-metal check that node-core computes the same canonical digests on
//! riscv32imac as on the host (docs/cross-arch.md): the predictor digest
//! and the whole-node swarm digest. Prints both over semihosting and exits
//! 0 when each equals its pinned value, 1 otherwise. The check itself is
//! `node-core/qemu-common/digest_check.rs`, shared with `qemu-arm`.
#![no_std]
#![no_main]

extern crate alloc;

#[path = "../../qemu-common/digest_check.rs"]
mod digest_check;

#[riscv_rt::entry]
fn main() -> ! {
    digest_check::run("riscv32imac", "riscv32imac")
}
