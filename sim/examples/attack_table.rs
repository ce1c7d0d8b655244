//! The attack × aggregation-rule table of issue #16: honest drift and
//! detection per attack and rule, from the CSV of a `raas sweep` whose grid
//! varies `adversary.groups` and `node.aggregation.rule`
//! (`scenarios/sweeps/attack-table.toml`). The rules and attacks are the
//! ones the sweep ran, in the order it ran them, so a new rule in the
//! sweep's grid is a new column here.
//!
//! ```sh
//! raas sweep scenarios/sweeps/attack-table.toml --out results/attack-table
//! cargo run --release -p sim --example attack_table -- results/attack-table/sweep.csv
//! ```
//!
//! Each cell: mean honest drift (%) over the seeds [min, max], then the
//! mean share of attackers detected in the last round.

use std::collections::BTreeMap;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: attack_table SWEEP.csv")?;
    let mut reader = csv::Reader::from_path(&path)?;
    let header = reader.headers()?.clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or(format!("{path}: no column `{name}`"))
    };
    let (groups, rule) = (col("adversary.groups")?, col("node.aggregation.rule")?);
    let (drift, attackers, detected) = (
        col("honest_drift_pct")?,
        col("attackers")?,
        col("attackers_detected")?,
    );
    // An optional grid key splits the table: audits off and on.
    let audit = header.iter().position(|h| h == "node.audit.enabled");
    let mut attacks: Vec<String> = Vec::new();
    let mut rules: Vec<String> = Vec::new();
    let mut variants: Vec<String> = Vec::new();
    // (variant, attack, rule) → (drifts, detected shares), in sweep order.
    let mut cells: BTreeMap<(usize, usize, usize), Cell> = BTreeMap::new();
    for record in reader.records() {
        let record = record?;
        let attack = attack_name(&record[groups]);
        let a = index_of(&mut attacks, attack);
        let r = index_of(&mut rules, record[rule].to_string());
        let variant = match audit {
            Some(i) if &record[i] == "true" => "audits on",
            Some(_) => "audits off",
            None => "",
        };
        let v = index_of(&mut variants, variant.to_string());
        let number = |i: usize| record[i].parse::<f64>().unwrap_or(f64::NAN);
        let cell = cells.entry((v, a, r)).or_default();
        cell.0.push(number(drift));
        cell.1.push(number(detected) / number(attackers));
    }
    for (v, variant) in variants.iter().enumerate() {
        if !variant.is_empty() {
            println!("{variant}:\n");
        }
        print_table(&attacks, &rules, |a, r| cells.get(&(v, a, r)));
        println!();
    }
    let seeds = cells.values().map(|c| c.0.len()).max().unwrap_or(0);
    println!(
        "honest drift vs the attack-free run, mean [min, max] over {seeds} seeds; det = attackers detected at the end (mean share)"
    );
    Ok(())
}

type Cell = (Vec<f64>, Vec<f64>);

/// One markdown table: a row per attack, a column per rule.
fn print_table<'c>(
    attacks: &[String],
    rules: &[String],
    cell: impl Fn(usize, usize) -> Option<&'c Cell>,
) {
    print!("| attack |");
    for rule in rules {
        print!(" {rule} |");
    }
    println!();
    println!("|---|{}", "---|".repeat(rules.len()));
    for (a, attack) in attacks.iter().enumerate() {
        print!("| {attack} |");
        for r in 0..rules.len() {
            match cell(a, r) {
                Some((drifts, shares)) => {
                    let (mean, min, max) = stats(drifts);
                    let (share, _, _) = stats(shares);
                    print!(
                        " {mean:+.1} % [{min:+.1}, {max:+.1}], det {:.0} % |",
                        100.0 * share
                    );
                }
                None => print!(" – |"),
            }
        }
        println!();
    }
}

/// The attack named in a grid value such as `[{ attack = "bias" }]`.
fn attack_name(groups: &str) -> String {
    groups
        .split('"')
        .nth(1)
        .map_or_else(|| groups.to_string(), str::to_string)
}

fn index_of(list: &mut Vec<String>, item: String) -> usize {
    if let Some(i) = list.iter().position(|x| *x == item) {
        return i;
    }
    list.push(item);
    list.len() - 1
}

/// Mean, min and max of the finite values (NaN when none is).
fn stats(values: &[f64]) -> (f64, f64, f64) {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mean = finite.iter().sum::<f64>() / finite.len() as f64;
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, min, max)
}
