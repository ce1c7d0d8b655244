//! The `persistence` claim: how much worse a node predicts after a power
//! cut that loses its RAM, when it reboots from its flash store.
//!
//! The paper scenario carries the brownout schedule (`[faults]`: every node
//! loses power 8 times, at instants jittered after a round boundary so that
//! some cuts tear the snapshot write in progress). Each seed runs twice: with
//! the two-slot flash store (the system) and with `persistence = "none"`
//! (every reboot is a cold start), the ablation that shows what the store
//! buys. Per cut, `faults.csv` holds the node's held-out RMSE in the last
//! scored round before the cut and in the first round it ran entirely after
//! the reboot; the figure is the mean relative change over every cut of
//! every seed, `100 · (after / before − 1)` %.

use std::path::Path;

use super::ReproduceError;
use super::measure::{Context, mean_sd, run_sets, set, variant};
use super::report::{self, Row};

/// What one run's `faults.csv` says about its cuts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cuts {
    /// Relative error change per cut with both errors scored, %.
    pub change_pct: Vec<f64>,
    /// Cuts that tore a snapshot write.
    pub torn: u64,
    /// Reboots restored from the store.
    pub restored: u64,
    /// Outages in the file.
    pub outages: u64,
}

impl Cuts {
    fn extend(&mut self, other: Cuts) {
        self.change_pct.extend(other.change_pct);
        self.torn += other.torn;
        self.restored += other.restored;
        self.outages += other.outages;
    }
}

/// Measures the claim (see the module docs).
pub fn persistence(cx: &Context<'_>) -> Result<Row, ReproduceError> {
    let store_dir = cx.out.join("flash");
    let cold_dir = cx.out.join("no-store");
    let store = variant(cx, &store_dir, |_| {})?;
    let cold = variant(cx, &cold_dir, |t| {
        set(t, Some("faults"), "persistence", "none".into());
    })?;
    run_sets(
        &[(store, store_dir.clone()), (cold, cold_dir.clone())],
        cx.seeds,
        cx.tick,
    )?;
    let with_store = read_seeds(&store_dir, cx.seeds)?;
    let without = read_seeds(&cold_dir, cx.seeds)?;
    let (mean, sd) = mean_sd(&with_store.change_pct);
    let worst = with_store
        .change_pct
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let (cold_mean, cold_sd) = mean_sd(&without.change_pct);
    let row = Row::new(cx.claim).system(format!(
        "held-out RMSE in the first full round after a reboot against the round before the cut: \
         {mean:+.1} ± {sd:.1} % (worst {worst:+.1} %) over {} cuts of {} nodes × {} seeds; \
         {} of {} reboots restored from flash, {} of the cuts tore a snapshot write; \
         without a store (cold starts) {cold_mean:+.1} ± {cold_sd:.1} %",
        with_store.change_pct.len(),
        cx.scenario.nodes,
        cx.seeds,
        with_store.restored,
        with_store.outages,
        with_store.torn,
    ));
    Ok(report::judge(
        row,
        cx.claim,
        mean,
        "mean error change after a reboot (%)",
    ))
}

fn read_seeds(dir: &Path, seeds: u64) -> Result<Cuts, ReproduceError> {
    let mut all = Cuts::default();
    for seed in 1..=seeds {
        all.extend(read_cuts(
            &dir.join(format!("seed-{seed}")).join("faults.csv"),
        )?);
    }
    Ok(all)
}

/// Reads one run's `faults.csv` (docs/metrics.md, "Faults").
pub fn read_cuts(path: &Path) -> Result<Cuts, ReproduceError> {
    let bad = |e: &dyn std::fmt::Display| ReproduceError::Run(path.to_path_buf(), e.to_string());
    let mut reader = csv::Reader::from_path(path).map_err(|e| bad(&e))?;
    let headers = reader.headers().map_err(|e| bad(&e))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(&format_args!("no `{name}` column")))
    };
    let (before, after) = (column("rmse_before")?, column("rmse_after")?);
    let (torn, boot) = (column("torn_write")?, column("boot")?);
    let mut cuts = Cuts::default();
    for record in reader.records() {
        let record = record.map_err(|e| bad(&e))?;
        cuts.outages += 1;
        cuts.torn += u64::from(&record[torn] == "true");
        cuts.restored += u64::from(&record[boot] == "restored");
        let value = |i: usize| record[i].parse::<f64>().ok();
        if let (Some(b), Some(a)) = (value(before), value(after))
            && b > 0.0
        {
            cuts.change_pct.push(100.0 * (a / b - 1.0));
        }
    }
    Ok(cuts)
}
