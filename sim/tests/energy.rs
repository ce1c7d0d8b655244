//! Brownouts end to end: a node whose battery empties stops (no samples,
//! no frames) and comes back once harvesting has refilled it.

use std::process::Command;

#[test]
fn nodes_brown_out_and_resume_with_harvest() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("brownout.toml");
    // 20 J batteries drained by ~64 B broadcasts at 111 µJ/B every round,
    // refilled at 20 mW (10 J, the resume level, in 500 s): nodes must
    // brown out and come back within 120 rounds of 10 s.
    std::fs::write(
        &scenario,
        "name = \"brownout\"\nnodes = 6\nseed = 3\n[run]\nrounds = 120\n\
         [node]\ngate = \"always\"\ntx_uj_per_byte = 20000\n\
         [energy]\ncapacity_j = 20\nresume_fraction = 0.5\n\
         [energy.harvest]\nkind = \"constant\"\npower_mw = 20.0\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let status = Command::new(env!("CARGO_BIN_EXE_raas"))
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&scenario)
        .status()
        .unwrap();
    assert!(status.success());
    let csv = std::fs::read_to_string(out.join("rounds.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (on, brownouts, samples) = (col("nodes_on"), col("brownouts"), col("samples"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let value = |r: &csv::StringRecord, c: usize| r[c].parse::<u64>().unwrap();
    let first_off = rows
        .iter()
        .position(|r| value(r, on) < 6)
        .expect("some node browns out");
    let later_back = rows[first_off..].iter().any(|r| value(r, on) == 6);
    assert!(later_back, "browned-out nodes never resumed");
    assert!(value(rows.last().unwrap(), brownouts) > 0);
    // A round with nodes off takes fewer samples than 6 nodes × 10.
    assert!(rows.iter().any(|r| value(r, samples) < 60));
}
