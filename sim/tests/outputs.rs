//! Result files: `rounds.csv` columns match `docs/metrics.md`, one row per
//! round; `summary.json` has the documented fields; the run directory holds
//! exactly the three result files, written atomically; an unusable `--out`
//! fails cleanly.

mod common;

use std::path::Path;

use common::*;

/// The column names of the `rounds.csv` table in `docs/metrics.md`, in
/// order: every backticked name in the first cell of each row (a cell may
/// list several, e.g. `` `calm`, `prestorm`, `storm` ``).
fn documented_columns() -> Vec<String> {
    let path = workspace_root().join("docs").join("metrics.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with("`rounds.csv` columns"))
        .expect("docs/metrics.md has a \"## `rounds.csv` columns\" section");
    let mut table = section
        .lines()
        .skip_while(|l| !l.trim_start().starts_with('|'))
        .take_while(|l| l.trim_start().starts_with('|'));
    let header = table.next().expect("a table");
    assert!(
        header.contains("column"),
        "unexpected table header {header:?}"
    );
    let separator = table.next().expect("a separator row");
    assert!(separator.contains("---"), "{separator:?}");
    let mut columns = Vec::new();
    for row in table {
        let cell = row
            .trim()
            .trim_start_matches('|')
            .split('|')
            .next()
            .unwrap();
        let names: Vec<&str> = cell.split('`').skip(1).step_by(2).collect();
        assert!(!names.is_empty(), "no backticked column name in {row:?}");
        columns.extend(names.into_iter().map(str::to_string));
    }
    columns
}

/// Fields of `summary.json` that `docs/metrics.md` describes in prose.
const SUMMARY_FIELDS: [&str; 11] = [
    "scenario",
    "scenario_hash",
    "seed",
    "seed_source",
    "raas_version",
    "runtime",
    "nodes",
    "rounds",
    "events",
    "first_round",
    "final_round",
];

/// [`SUMMARY_FIELDS`] and every backticked identifier of the `summary.json`
/// row of the file table in `docs/metrics.md` (so a field documented later
/// is required too).
fn documented_summary_fields() -> Vec<String> {
    let path = workspace_root().join("docs").join("metrics.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let row = doc
        .lines()
        .find(|l| l.trim_start().starts_with("| `summary.json`"))
        .expect("docs/metrics.md has a `summary.json` row");
    let mut fields: Vec<String> = SUMMARY_FIELDS.iter().map(|f| f.to_string()).collect();
    let identifiers = row
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|n| *n != "summary.json")
        .filter(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    for name in identifiers {
        if !fields.iter().any(|f| f == name) {
            fields.push(name.to_string());
        }
    }
    fields
}

fn run_small(tmp: &Path) -> std::path::PathBuf {
    let out = tmp.join("out");
    run_ok(tmp, &small_scenario(), &out, &[]);
    out
}

#[test]
fn csv_header_is_the_documented_column_list() {
    let documented = documented_columns();
    assert!(documented.len() > 20, "table parsed badly: {documented:?}");
    let tmp = tempfile::tempdir().unwrap();
    let table = rounds(&run_small(tmp.path()));
    assert_eq!(
        table.header, documented,
        "rounds.csv header and docs/metrics.md disagree"
    );
}

#[test]
fn one_row_per_round_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let table = rounds(&run_small(tmp.path()));
    assert_eq!(table.rows.len(), SMALL_ROUNDS);
    let expected: Vec<String> = (1..=SMALL_ROUNDS).map(|r| r.to_string()).collect();
    assert_eq!(table.column("round"), expected);
    for (i, t) in table.floats("time_s").into_iter().enumerate() {
        assert_eq!(t, (i + 1) as f64 * SMALL_ROUND_PERIOD_S, "row {}", i + 1);
    }
    assert!(table.column("scenario").iter().all(|s| *s == SMALL));
    assert!(table.column("honest_nodes").iter().all(|s| *s == "10"));
    // Cumulative counters never decrease.
    for column in ["tx_frames", "tx_bytes", "rx_frames", "events", "brownouts"] {
        let values = table.floats(column);
        assert!(
            values.windows(2).all(|w| w[0] <= w[1]),
            "{column}: {values:?}"
        );
    }
    // Every round of a full-mesh swarm samples (10 nodes × 10 samples).
    assert!(table.column("samples").iter().all(|s| *s == "100"));
    assert!(
        table
            .floats("rmse_online")
            .iter()
            .all(|r| r.is_finite() && *r >= 0.0)
    );
}

#[test]
fn summary_has_the_documented_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_small(tmp.path());
    let summary = summary(&out);
    let object = summary.as_object().expect("summary.json is an object");
    for field in documented_summary_fields() {
        assert!(
            object.contains_key(&field),
            "summary.json lacks `{field}`: {summary}"
        );
    }
    assert_eq!(summary["scenario"], SMALL);
    assert!(
        summary["scenario_hash"]
            .as_str()
            .unwrap()
            .starts_with("fnv1a64:")
    );
    assert_eq!(summary["seed"], SMALL_SEED);
    assert_eq!(summary["seed_source"], "scenario");
    assert_eq!(summary["raas_version"], env!("CARGO_PKG_VERSION"));
    assert!(summary["runtime"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(summary["nodes"], 10);
    assert_eq!(summary["rounds"], SMALL_ROUNDS);
    let table = rounds(&out);
    assert_eq!(
        summary["events"].to_string(),
        table.rows.last().unwrap()["events"],
        "events"
    );
    // first_round and final_round are the first and last CSV rows.
    for (field, row) in [
        ("first_round", table.rows.first().unwrap()),
        ("final_round", table.rows.last().unwrap()),
    ] {
        let json = summary[field]
            .as_object()
            .unwrap_or_else(|| panic!("{field}"));
        let keys: Vec<&String> = json.keys().collect();
        let mut columns: Vec<&String> = table.header.iter().collect();
        columns.sort();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort();
        assert_eq!(keys_sorted, columns, "{field} fields vs CSV columns");
        for (column, cell) in row {
            let value = &json[column.as_str()];
            if value.is_null() {
                // JSON has no NaN: `null` stands for a NaN or an empty cell
                // (`drift` without `[consensus]`).
                assert!(cell.is_empty() || cell == "NaN", "{field}.{column}: {cell}");
                continue;
            }
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            assert_eq!(&text, cell, "{field}.{column}");
        }
    }
}

#[test]
fn run_dir_holds_exactly_the_result_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_small(tmp.path());
    let names = entries(&out);
    assert!(
        !names.iter().any(|n| n.starts_with('.')),
        "temporary left: {names:?}"
    );
    assert_eq!(names, RESULT_FILES);
    // Running another seed into the same directory replaces the files in
    // place when forced.
    let before = read(&out, "rounds.csv");
    run_ok(
        tmp.path(),
        &small_scenario(),
        &out,
        &["--seed", "9", "--force"],
    );
    assert_eq!(entries(&out), RESULT_FILES);
    assert_ne!(read(&out, "rounds.csv"), before);
    assert_eq!(summary(&out)["seed"], 9);
    // Nothing was written beside the run directory.
    assert_eq!(entries(tmp.path()), ["out"]);
}

#[test]
fn default_layout_is_results_name_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("res");
    let r = raas_in(
        tmp.path(),
        [
            "run".as_ref(),
            small_scenario().as_os_str(),
            "-q".as_ref(),
            "--seed".as_ref(),
            "3".as_ref(),
            "--results".as_ref(),
            results.as_os_str(),
        ],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(entries(&results.join(SMALL).join("seed-3")), RESULT_FILES);
    assert_eq!(entries(&results), [SMALL]);
    assert_eq!(entries(tmp.path()), ["res"]);
}

/// A run into `out` from `tmp`; returns the process and how long it took.
fn run_into(tmp: &Path, out: &Path) -> (Raas, std::time::Duration) {
    let started = std::time::Instant::now();
    let r = raas_in(
        tmp,
        [
            "run".as_ref(),
            small_scenario().as_os_str(),
            "-q".as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
    );
    (r, started.elapsed())
}

#[test]
fn out_that_is_a_file_fails_with_exit_2_before_running_and_leaves_it_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    let content = b"precious, do not overwrite\n";
    std::fs::write(&file, content).unwrap();
    let (r, _) = run_into(tmp.path(), &file);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr.contains(&file.display().to_string()),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("not a directory"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), content);
    assert_eq!(entries(tmp.path()), ["not-a-dir"], "left something behind");
}

#[test]
fn out_below_a_file_fails_with_exit_2_before_running() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    for out in [file.join("run"), file.join("run").join("deeper")] {
        let (r, _) = run_into(tmp.path(), &out);
        assert_eq!(r.code, Some(2), "{r:?}");
        assert!(
            r.stderr.contains(&out.display().to_string()),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr
                .contains(&format!("{} is not a directory", file.display())),
            "{}",
            r.stderr
        );
        assert_eq!(std::fs::read(&file).unwrap(), b"x");
        assert_eq!(entries(tmp.path()), ["plain"]);
    }
}

#[test]
fn unusable_out_is_refused_before_any_simulation() {
    // A run long enough (1000 nodes, 20 000 rounds: minutes) that only a
    // refusal before the simulation comes back in time.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    let scenario = workspace_root().join("scenarios/examples/smoothsine-1000.toml");
    let out = file.join("run");
    let started = std::time::Instant::now();
    let r = raas_in(
        tmp.path(),
        [
            "run".as_ref(),
            scenario.as_os_str(),
            "-q".as_ref(),
            "--set".as_ref(),
            "run.rounds=20000".as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
    );
    let took = started.elapsed();
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(took.as_secs_f64() < 5.0, "refused only after {took:?}");
    assert_eq!(entries(tmp.path()), ["plain"], "nothing written");
}
