//! Bring your own node runtime: the simulator is generic over
//! `node_core::runtime::Runtime`, so an algorithm of your own reuses the
//! radio, energy, data, metrics and result files of `raas run`.
//!
//! This one is the simplest possible baseline: every node learns alone
//! (the same NLMS neuron as node-core's `Node`) and never talks. Run it on
//! any scenario and compare its `rounds.csv` with `raas run`'s:
//!
//! ```sh
//! cargo run --release -p sim --example custom_runtime -- \
//!     scenarios/examples/smoothsine-100.toml /tmp/alone
//! ```

use std::path::PathBuf;

use node_core::model::{LinearNeuron, LinearNeuronConfig, Predictor};
use node_core::q::Q;
use node_core::regime::Regime;
use node_core::runtime::{Runtime, RxError, Telemetry, Transmit};
use node_core::time::Instant;
use sim::runner::{RunOptions, run_file_with};
use sim::scenario::Scenario;
use sim::world::NodeInit;

/// A node that learns from its own samples only.
struct Alone {
    model: LinearNeuron,
    telemetry: Telemetry,
}

impl Alone {
    fn new(_scenario: &Scenario, _init: &NodeInit) -> Result<Alone, String> {
        let model = LinearNeuron::new(LinearNeuronConfig::default()).map_err(|e| e.to_string())?;
        Ok(Alone {
            model,
            telemetry: Telemetry::default(),
        })
    }
}

impl Runtime for Alone {
    fn handle_sample(&mut self, _now: Instant, sample: Q) {
        self.telemetry.last_prediction = self.model.predict();
        self.telemetry.last_error = self.model.observe(sample);
        self.telemetry.samples += 1;
        self.telemetry.regime = Regime::Calm;
    }

    fn handle_frame(&mut self, _now: Instant, _frame: &[u8]) -> Result<(), RxError> {
        Err(RxError::Refused)
    }

    fn handle_wake(&mut self, _now: Instant) {}

    fn handle_energy(&mut self, _now: Instant, _level: Q) {}

    fn poll_transmit(&mut self, _now: Instant, _buf: &mut [u8]) -> Option<Transmit> {
        None
    }

    fn poll_at(&self) -> Option<Instant> {
        None
    }

    fn telemetry(&self) -> Telemetry {
        self.telemetry
    }

    fn weights(&self) -> &[Q] {
        self.model.weights()
    }
}

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(scenario), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: custom_runtime SCENARIO OUT_DIR");
        return std::process::ExitCode::from(2);
    };
    let options = RunOptions {
        out: Some(PathBuf::from(out)),
        ..RunOptions::default()
    };
    match run_file_with(
        PathBuf::from(scenario).as_path(),
        &options,
        "alone (example)",
        Alone::new,
        &mut |_| {},
    ) {
        Ok(outcome) => {
            println!(
                "{}: final RMSE {:.4}, consensus distance {:.4}",
                outcome.dir.display(),
                outcome.last.rmse_online,
                outcome.last.consensus_distance
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(e.exit_code())
        }
    }
}
