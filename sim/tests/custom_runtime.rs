//! The node runtime is pluggable: a runtime written outside node-core runs
//! through the same world, radio, metrics and result files.

use std::path::Path;

use node_core::q::Q;
use node_core::runtime::{Destination, FrameKind, Runtime, RxError, Telemetry, Transmit};
use node_core::time::{Duration, Instant};
use sim::runner::{RunOptions, run_file_with};

/// Predicts the last sample, and says "hello" (a 3-byte heartbeat) every
/// 10 s; counts what it hears in its weight.
struct Echo {
    last: Q,
    heard: Q,
    next_hello: Instant,
    hello_due: bool,
    telemetry: Telemetry,
    weights: [Q; 1],
}

impl Runtime for Echo {
    fn handle_sample(&mut self, _now: Instant, sample: Q) {
        self.telemetry.last_prediction = self.last;
        self.telemetry.last_error = sample - self.last;
        self.telemetry.samples += 1;
        self.last = sample;
    }
    fn handle_frame(&mut self, _now: Instant, frame: &[u8]) -> Result<(), RxError> {
        if frame != b"hi!" {
            return Err(RxError::Malformed);
        }
        self.heard += Q::ONE;
        self.weights[0] = self.heard;
        Ok(())
    }
    fn handle_wake(&mut self, now: Instant) {
        if now >= self.next_hello {
            self.hello_due = true;
            self.next_hello += Duration::from_secs(10);
        }
    }
    fn handle_energy(&mut self, _now: Instant, _level: Q) {}
    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if !std::mem::take(&mut self.hello_due) {
            return None;
        }
        buf[..3].copy_from_slice(b"hi!");
        Some(Transmit {
            len: 3,
            kind: FrameKind::Heartbeat,
            destination: Destination::Broadcast,
        })
    }
    fn poll_at(&self) -> Option<Instant> {
        Some(self.next_hello)
    }
    fn telemetry(&self) -> Telemetry {
        self.telemetry
    }
    fn weights(&self) -> &[Q] {
        &self.weights
    }
}

#[test]
fn a_foreign_runtime_runs_through_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("echo.toml");
    std::fs::write(&scenario, "name = \"echo\"\nnodes = 5\n[run]\nrounds = 6\n").unwrap();
    let options = RunOptions {
        out: Some(dir.path().join("out")),
        ..RunOptions::default()
    };
    let make = |_: &sim::scenario::Scenario, _: &sim::world::NodeInit| {
        Ok(Echo {
            last: Q::ZERO,
            heard: Q::ZERO,
            next_hello: Instant::from_secs(10),
            hello_due: false,
            telemetry: Telemetry::default(),
            weights: [Q::ZERO],
        })
    };
    let outcome = run_file_with(
        Path::new(&scenario),
        &options,
        "echo (test)",
        make,
        &mut |_| {},
    )
    .unwrap();
    // 5 nodes × 6 hellos (t = 10 … 60 s; the one at 60 s is after the last
    // row, which is taken first at that instant) — 5 × 5 counted.
    assert_eq!(outcome.last.tx_frames_heartbeat, 25);
    assert_eq!(outcome.last.tx_bytes_heartbeat, 75);
    assert_eq!(outcome.last.tx_frames_model_update, 0);
    // Full mesh, lossless by default: every hello reached the 4 others.
    assert_eq!(outcome.last.rx_frames, 100);
    assert_eq!(outcome.last.rejected_frames, 0);
    let summary = std::fs::read_to_string(outcome.dir.join("summary.json")).unwrap();
    assert!(
        summary.contains("\"runtime\": \"echo (test)\""),
        "{summary}"
    );
    // The persistence forecast of a sine has a known, nonzero error.
    assert!(
        outcome.last.rmse_online > 0.0 && outcome.last.rmse_online < 0.3,
        "{}",
        outcome.last.rmse_online
    );
}
