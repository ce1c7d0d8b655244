//! Prints node-core's canonical determinism digest computed on
//! wasm32-wasip1 and exits non-zero when it differs from the pinned
//! `CANONICAL_DIGEST` (DESIGN.md, "Determinism across architectures").
//! `node-core/qemu-riscv` does the same bare-metal on riscv32imac.

use node_core::digest::{CANONICAL_DIGEST, canonical_digest};

fn main() -> std::process::ExitCode {
    let digest = canonical_digest();
    println!("wasm32 canonical digest:   {digest:#018x}");
    println!("pinned (host) digest:      {CANONICAL_DIGEST:#018x}");
    if digest == CANONICAL_DIGEST {
        println!("same bits: ok");
        std::process::ExitCode::SUCCESS
    } else {
        println!("DIFFERENT: node-core is not bit-identical on wasm32");
        std::process::ExitCode::FAILURE
    }
}
