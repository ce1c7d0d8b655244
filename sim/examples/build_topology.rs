//! Times a topology build and prints its connectivity statistics.
//!
//! `cargo run --release -p sim --example build_topology -- <n> grid <k>`
//! `cargo run --release -p sim --example build_topology -- <n> rgg <range>`
//! `cargo run --release -p sim --example build_topology -- <n> mesh`

use std::time::Instant;

use sim::radio::topology::{Topology, TopologySpec};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u32 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let param = args.get(2).map(String::as_str).unwrap_or("8");
    let spec = match args.get(1).map(String::as_str).unwrap_or("grid") {
        "mesh" => TopologySpec::FullMesh,
        "rgg" => TopologySpec::RandomGeometric {
            range: param.parse().expect("range"),
        },
        _ => TopologySpec::Grid {
            k: param.parse().expect("k"),
        },
    };
    let start = Instant::now();
    let topology = match Topology::build(spec, n, 1) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let built = start.elapsed();
    let stats = topology.stats();
    println!(
        "{spec:?} n={n}: built in {built:.2?}, stats in {:.2?}",
        start.elapsed() - built
    );
    println!("{stats:?} connected={}", stats.connected());
    let radio_start = Instant::now();
    let config = sim::radio::RadioConfig::default();
    let radio = sim::radio::Radio::new(&config, n, 1).expect("radio");
    println!(
        "full-mesh Radio (per-node RNG streams + counters) built in {:.2?}; {} B of RNG state per node",
        radio_start.elapsed(),
        2 * std::mem::size_of::<rand_chacha::ChaCha8Rng>()
    );
    drop(radio);
}
