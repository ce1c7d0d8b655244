//! Prints node-core's canonical determinism digests (predictor and
//! whole-node swarm) computed on wasm32-wasip1 and exits non-zero when
//! either differs from its pinned value (docs/cross-arch.md).
//! `node-core/qemu-riscv` and `node-core/qemu-arm` do the same bare-metal.

use node_core::digest::swarm::{SWARM_DIGEST, swarm_digest};
use node_core::digest::{CANONICAL_DIGEST, canonical_digest};

/// Prints one digest beside its pinned value; true when they are equal.
fn check(name: &str, digest: u64, pinned: u64) -> bool {
    println!("wasm32 {name} digest: {digest:#018x} (pinned {pinned:#018x})");
    digest == pinned
}

fn main() -> std::process::ExitCode {
    let predictor = check("predictor", canonical_digest(), CANONICAL_DIGEST);
    let swarm = check("swarm    ", swarm_digest(), SWARM_DIGEST);
    if predictor && swarm {
        println!("same bits: ok");
        std::process::ExitCode::SUCCESS
    } else {
        println!("DIFFERENT: node-core is not bit-identical on wasm32");
        std::process::ExitCode::FAILURE
    }
}
