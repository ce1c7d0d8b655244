//! Helpers shared by the `sim` integration tests: running the `raas`
//! binary, the test scenario, reading result files.
#![allow(dead_code)] // each test crate uses a different subset

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Name of the small scenario in `tests/fixtures/` (10 nodes, 30 rounds).
pub const SMALL: &str = "smoothsine-10-short";
/// Its `seed` key.
pub const SMALL_SEED: u64 = 1;
/// Its `run.rounds`.
pub const SMALL_ROUNDS: usize = 30;
/// Its `run.round_period_ms`.
pub const SMALL_ROUND_PERIOD_S: f64 = 10.0;

/// The names of the result files, sorted.
pub const RESULT_FILES: [&str; 4] = ["rounds.csv", "scenario.toml", "summary.json", "timing.json"];

/// The `sim` crate directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace root (where `scenarios/` and `docs/` live).
pub fn workspace_root() -> PathBuf {
    crate_dir()
        .parent()
        .expect("sim/ has a parent")
        .to_path_buf()
}

/// Absolute path of a file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    crate_dir().join("tests").join("fixtures").join(name)
}

/// Absolute path of the small test scenario.
pub fn small_scenario() -> PathBuf {
    fixture(&format!("{SMALL}.toml"))
}

/// The finished `raas` process.
#[derive(Debug)]
pub struct Raas {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl From<Output> for Raas {
    fn from(o: Output) -> Raas {
        Raas {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `raas ARGS` in `cwd`.
pub fn raas_in<I, S>(cwd: &Path, args: I) -> Raas
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    raas_with_env(cwd, args, &[])
}

/// Runs `raas ARGS` in `cwd` with extra environment variables.
pub fn raas_with_env<I, S>(cwd: &Path, args: I, env: &[(&str, &str)]) -> Raas
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_raas"));
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_BACKTRACE");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the raas binary starts").into()
}

/// Runs `raas run SCENARIO --quiet --out OUT [EXTRA…]` in `cwd` and requires
/// success.
pub fn run_ok(cwd: &Path, scenario: &Path, out: &Path, extra: &[&str]) -> Raas {
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("run"),
        scenario.as_os_str(),
        OsStr::new("--quiet"),
        OsStr::new("--out"),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    let r = raas_in(cwd, &args);
    assert_eq!(
        r.code,
        Some(0),
        "raas {args:?} failed\nstdout: {}\nstderr: {}",
        r.stdout,
        r.stderr
    );
    r
}

/// Writes `text` as `name` in `dir` and returns its path.
pub fn write_scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

/// The small test scenario's text with `extra` inserted after the line
/// `section` (e.g. `"[run]"`).
pub fn small_with(section: &str, extra: &str) -> String {
    let text = std::fs::read_to_string(small_scenario()).expect("the fixture reads");
    let header = format!("{section}\n");
    assert!(text.contains(&header), "fixture has no {section} section");
    text.replacen(&header, &format!("{header}{extra}\n"), 1)
}

/// Reads a result file.
pub fn read(dir: &Path, name: &str) -> Vec<u8> {
    let path = dir.join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses `summary.json` of a run directory.
pub fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&read(dir, "summary.json")).expect("summary.json is JSON")
}

/// `rounds.csv` of a run directory: header and rows, as strings.
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// One map per row, column name to cell.
    pub rows: Vec<BTreeMap<String, String>>,
}

impl Table {
    /// The cells of `column`, in row order.
    pub fn column(&self, column: &str) -> Vec<&str> {
        self.rows
            .iter()
            .map(|r| {
                r.get(column)
                    .unwrap_or_else(|| panic!("no column {column}"))
                    .as_str()
            })
            .collect()
    }

    /// The cells of `column` parsed as `f64`.
    pub fn floats(&self, column: &str) -> Vec<f64> {
        self.column(column)
            .into_iter()
            .map(|c| {
                c.parse()
                    .unwrap_or_else(|e| panic!("{column} = {c:?}: {e}"))
            })
            .collect()
    }
}

/// Parses `rounds.csv` of a run directory.
pub fn rounds(dir: &Path) -> Table {
    let bytes = read(dir, "rounds.csv");
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("rounds.csv has a header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.expect("well-formed CSV row");
            assert_eq!(r.len(), header.len(), "ragged row {r:?}");
            header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_string))
                .collect()
        })
        .collect();
    Table { header, rows }
}

/// Sorted names of the entries of `dir`.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// FNV-1a 64, written independently of `sim::runner::fnv1a64`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// `raas reproduce --seeds 2 --jobs JOBS --quiet` over the paper scenarios
/// in `papers`, writing into `out`.
pub fn reproduce(cwd: &Path, papers: &Path, out: &Path, jobs: &str) -> Raas {
    let args = [
        "reproduce",
        "--seeds",
        "2",
        "--jobs",
        jobs,
        "--quiet",
        "--scenarios",
        papers.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    raas_in(cwd, args)
}
