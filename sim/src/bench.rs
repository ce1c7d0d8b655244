//! `raas bench`: how fast the simulator runs and how much memory it takes,
//! over the documented scenario set `scenarios/bench/` (docs/performance.md).
//!
//! Every case (one scenario file, or one `--nodes` size) runs in a child
//! process (`raas bench --child`), so each peak RSS (`VmHWM` of
//! `/proc/self/status`) belongs to that case alone. The child:
//!
//! 1. measures one node runtime's bytes (`size_of` + owned heap) by building
//!    up to [`NODE_SAMPLE_MAX`] nodes and dividing the heap they take
//!    ([`crate::alloc_count`]);
//! 2. builds the [`World`] and runs it (no baselines, no references: the
//!    simulation proper), timing the run only; the allocator's peak during
//!    build + run, less the nodes, is the simulator's bookkeeping;
//! 3. runs the same node-core work directly ([`direct`]) and reports the
//!    **engine overhead ratio** = world run time / direct loop time.
//!
//! The parent prints a table and writes all figures as JSON, atomically.
//! Timings depend on the machine and its load; nothing here is part of the
//! deterministic results.

pub mod direct;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant as WallClock;

use serde::{Deserialize, Serialize};

use crate::alloc_count;
use crate::output;
use crate::runner::node_core_runtime;
use crate::scenario::{Override, Scenario};
use crate::world::{NodeInit, World};

/// Nodes built to measure one node's bytes.
pub const NODE_SAMPLE_MAX: u32 = 1024;
/// `--quick`: largest scenario run.
pub const QUICK_NODES_MAX: u32 = 10_000;
/// `--quick`: most rounds per case.
pub const QUICK_ROUNDS_MAX: u32 = 20;
/// Most cases in one bench (scenario files or `--nodes` values).
pub const CASES_MAX: usize = 64;

/// `raas bench` arguments.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Directory of the bench scenarios (every *.toml, by file name).
    #[arg(long, value_name = "DIR", default_value = "scenarios/bench")]
    pub scenarios: PathBuf,
    /// Only the scenarios of at most 10,000 nodes, at most 20 rounds each.
    #[arg(long)]
    pub quick: bool,
    /// Run the first bench scenario at these sizes instead of the set
    /// (repeatable).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub nodes: Vec<u32>,
    /// Rounds of every case (overrides the files' `run.rounds`).
    #[arg(long, value_name = "R", value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: Option<u32>,
    /// Skip the direct loop (no engine overhead ratio; halves the time).
    #[arg(long)]
    pub no_direct: bool,
    /// Run every case at each of these thread counts (`raas run
    /// --threads`), e.g. `--threads 1,2`; the speedup column is the wall
    /// time at the first count over the wall time at this one. The direct
    /// loop runs with the first count only. [default: 1]
    #[arg(long, value_name = "N,..", value_delimiter = ',',
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Vec<u16>,
    /// Where to write the JSON figures.
    #[arg(long, value_name = "FILE", default_value = "results/bench/bench.json")]
    pub out: PathBuf,
    /// Internal: measure one case in this process and print it as JSON.
    #[arg(long, value_name = "FILE", hide = true)]
    pub child: Option<PathBuf>,
}

/// The figures of one case.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CaseResult {
    /// Scenario file.
    pub scenario: String,
    /// Nodes.
    pub nodes: u32,
    /// Rounds.
    pub rounds: u32,
    /// Threads of the node phase (`World::set_threads`; 1 when the
    /// scenario must run on one thread).
    #[serde(default)]
    pub threads: usize,
    /// Windows of the run (`crate::world`'s windowed batches).
    #[serde(default)]
    pub windows: u64,
    /// Node events per window (the work between two barriers).
    #[serde(default)]
    pub events_per_window: f64,
    /// Wall time at the case's first thread count / wall time at this one.
    #[serde(default)]
    pub speedup: Option<f64>,
    /// FNV-1a 64 of the metrics rows (JSON): equal for every thread count
    /// of a case, which the parent checks.
    #[serde(default)]
    pub rows_digest: String,
    /// Wall seconds to build the world.
    pub build_s: f64,
    /// Wall seconds of the run (the event loop and metrics).
    pub run_s: f64,
    /// CPU seconds of the run, every thread of the process (robust to
    /// other load on the machine; the rates and the overhead ratio use
    /// it). With more threads it adds up the threads' work.
    pub run_cpu_s: f64,
    /// Events dispatched.
    pub events: u64,
    /// `events / run_s`.
    pub events_per_s: f64,
    /// `nodes · rounds / run_s`.
    pub node_rounds_per_s: f64,
    /// `VmHWM` of the child process, bytes.
    pub peak_rss_bytes: u64,
    /// One node runtime: `size_of` + owned heap, bytes.
    pub node_bytes: u64,
    /// Peak heap of the world less its nodes, per node, bytes.
    pub bookkeeping_bytes_per_node: u64,
    /// The memory estimate of `raas run` per node (`crate::memory`), bytes.
    pub estimate_bytes_per_node: u64,
    /// CPU seconds of the direct loop (`None` with `--no-direct`).
    pub direct_cpu_s: Option<f64>,
    /// `run_cpu_s / direct_cpu_s`.
    pub overhead_ratio: Option<f64>,
}

/// The JSON file.
#[derive(Serialize)]
struct Report<'a> {
    machine: Machine,
    git_commit: &'static str,
    git_dirty: Option<bool>,
    note: &'static str,
    cases: &'a [CaseResult],
}

#[derive(Serialize)]
struct Machine {
    cpus: usize,
    cpu_model: String,
    mem_total_bytes: Option<u64>,
}

/// Runs `raas bench`; returns the exit code.
pub fn main(args: &BenchArgs) -> u8 {
    let result = match &args.child {
        Some(file) => child(file, args),
        None => parent(args),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

fn overrides(nodes: Option<u32>, rounds: Option<u32>) -> Result<Vec<Override>, String> {
    let mut list = Vec::new();
    if let Some(n) = nodes {
        list.push(format!("nodes={n}"));
    }
    if let Some(r) = rounds {
        list.push(format!("run.rounds={r}"));
    }
    list.iter()
        .map(|s| s.parse::<Override>().map_err(|e| e.to_string()))
        .collect()
}

/// One case, in this process; prints its [`CaseResult`] as one JSON line.
fn child(file: &Path, args: &BenchArgs) -> Result<(), String> {
    let nodes = args.nodes.first().copied();
    let scenario =
        Scenario::load_with(file, &overrides(nodes, args.rounds)?).map_err(|e| e.to_string())?;
    let threads = args.threads.first().map_or(1, |&t| usize::from(t));
    let result = measure(file, &scenario, !args.no_direct, threads)?;
    println!(
        "{}",
        serde_json::to_string(&result).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// Measures one scenario (see the module docs).
pub fn measure(
    file: &Path,
    scenario: &Scenario,
    direct: bool,
    threads: usize,
) -> Result<CaseResult, String> {
    let seed = scenario.seed;
    let n = scenario.nodes;
    let node_bytes = node_bytes(scenario, seed)?;
    let estimate = crate::memory::estimate_with(scenario, 0, seed, &node_core_runtime);
    let live_before = alloc_count::live_bytes();
    alloc_count::reset_peak();
    let started = WallClock::now();
    let mut world = World::new(scenario, seed, |init| node_core_runtime(scenario, init))
        .map_err(|e| e.to_string())?;
    let threads = world.set_threads(threads).map_err(|e| e.to_string())?;
    let build_s = started.elapsed().as_secs_f64();
    let started = WallClock::now();
    let cpu_started = process_cpu_s();
    world.run(&mut |_| {}).map_err(|e| e.to_string())?;
    let run_cpu_s = (process_cpu_s() - cpu_started).max(1e-9);
    let stats = world.window_stats();
    let rows_json = serde_json::to_vec(world.rows()).map_err(|e| e.to_string())?;
    let rows_digest = format!("{:016x}", fnv1a64(&rows_json));
    let run_s = started.elapsed().as_secs_f64().max(1e-9);
    let peak_heap = alloc_count::peak_bytes().saturating_sub(live_before) as u64;
    let peak_rss_bytes = vm_hwm_bytes().unwrap_or(0);
    let events = world.events();
    drop(world);
    let nodes_heap = u64::from(n) * node_bytes;
    let direct_cpu_s = if direct {
        Some(direct::run(scenario, seed)?.cpu_s.max(1e-9))
    } else {
        None
    };
    let rounds = scenario.run.rounds;
    Ok(CaseResult {
        scenario: file.display().to_string(),
        nodes: n,
        rounds,
        threads,
        windows: stats.windows,
        events_per_window: stats.events as f64 / stats.windows.max(1) as f64,
        speedup: None,
        rows_digest,
        build_s,
        run_s,
        run_cpu_s,
        events,
        events_per_s: events as f64 / run_cpu_s,
        node_rounds_per_s: f64::from(n) * f64::from(rounds) / run_cpu_s,
        peak_rss_bytes,
        node_bytes,
        bookkeeping_bytes_per_node: peak_heap.saturating_sub(nodes_heap) / u64::from(n.max(1)),
        estimate_bytes_per_node: estimate.per_node_bytes(),
        direct_cpu_s,
        overhead_ratio: direct_cpu_s.map(|d| run_cpu_s / d),
    })
}

/// `size_of` + owned heap of one node runtime: the mean over up to
/// [`NODE_SAMPLE_MAX`] nodes built together.
fn node_bytes(scenario: &Scenario, seed: u64) -> Result<u64, String> {
    let count = scenario.nodes.min(NODE_SAMPLE_MAX);
    let degree = u32::try_from(crate::memory::mean_degree(scenario)).unwrap_or(u32::MAX);
    let before = alloc_count::live_bytes();
    let mut nodes = Vec::with_capacity(count as usize);
    for id in 0..count {
        let init = NodeInit {
            id,
            seed,
            swarm_size: scenario.nodes,
            degree,
        };
        nodes.push(node_core_runtime(scenario, &init)?);
    }
    let heap = alloc_count::live_bytes().saturating_sub(before) as u64;
    drop(nodes);
    Ok(heap / u64::from(count.max(1)))
}

/// CPU seconds (user + system) of the calling thread so far, from
/// `/proc/thread-self/stat` (clock ticks of 1/100 s, Linux's fixed
/// `USER_HZ`); 0 where unreadable.
pub fn thread_cpu_s() -> f64 {
    stat_cpu_s("/proc/thread-self/stat")
}

/// CPU seconds (user + system) of every thread of this process so far,
/// from `/proc/self/stat`; 0 where unreadable.
pub fn process_cpu_s() -> f64 {
    stat_cpu_s("/proc/self/stat")
}

fn stat_cpu_s(path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) in parentheses.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5): 12 and 13 after ')'.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// FNV-1a, 64 bits.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `VmHWM` (peak resident set) of this process, bytes.
pub fn vm_hwm_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// One case: scenario file, nodes override, rounds override.
type Case = (PathBuf, Option<u32>, Option<u32>);

/// The cases of `args`.
fn cases(args: &BenchArgs) -> Result<Vec<Case>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.scenarios)
        .map_err(|e| format!("{}: {e}", args.scenarios.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "{}: no *.toml bench scenario",
            args.scenarios.display()
        ));
    }
    let mut list = Vec::new();
    if !args.nodes.is_empty() {
        for &n in &args.nodes {
            list.push((files[0].clone(), Some(n), args.rounds));
        }
    } else {
        for file in files {
            let s = Scenario::load(&file).map_err(|e| e.to_string())?;
            if args.quick && s.nodes > QUICK_NODES_MAX {
                continue;
            }
            let rounds = match (args.rounds, args.quick) {
                (Some(r), _) => Some(r),
                (None, true) => Some(s.run.rounds.min(QUICK_ROUNDS_MAX)),
                (None, false) => None,
            };
            list.push((file, None, rounds));
        }
    }
    if list.len() > CASES_MAX {
        return Err(format!("{} cases; at most {CASES_MAX}", list.len()));
    }
    Ok(list)
}

fn parent(args: &BenchArgs) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find raas itself: {e}"))?;
    let mut results = Vec::new();
    eprintln!(
        "raas bench: one child process per case; each row when it ends\n{}",
        header()
    );
    let started = WallClock::now();
    let counts = if args.threads.is_empty() {
        vec![1]
    } else {
        args.threads.clone()
    };
    for (file, nodes, rounds) in cases(args)? {
        let mut first_wall_s = None;
        for (i, &threads) in counts.iter().enumerate() {
            let direct = !args.no_direct && i == 0;
            let case = (file.as_path(), nodes, rounds);
            let mut result = run_child(&exe, case, direct, threads)?;
            let (first, digest) =
                first_wall_s.get_or_insert((result.run_s, result.rows_digest.clone()));
            result.speedup = Some(*first / result.run_s.max(1e-9));
            if result.rows_digest != *digest {
                return Err(format!(
                    "{}: the metrics rows differ at {threads} threads (digest {} against {})",
                    file.display(),
                    result.rows_digest,
                    digest
                ));
            }
            eprintln!("{}", row(&result));
            results.push(result);
        }
    }
    write_report(&args.out, &results)?;
    println!("{}", table(&results));
    eprintln!(
        "{}: written ({:.0} s)",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs one case at `threads` in a child process.
fn run_child(
    exe: &Path,
    (file, nodes, rounds): (&Path, Option<u32>, Option<u32>),
    direct: bool,
    threads: u16,
) -> Result<CaseResult, String> {
    let mut command = Command::new(exe);
    command.arg("bench").arg("--child").arg(file);
    command.arg("--threads").arg(threads.to_string());
    if let Some(n) = nodes {
        command.arg("--nodes").arg(n.to_string());
    }
    if let Some(r) = rounds {
        command.arg("--rounds").arg(r.to_string());
    }
    if !direct {
        command.arg("--no-direct");
    }
    let output = command
        .output()
        .map_err(|e| format!("cannot start a bench child: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{}: the bench child failed ({}): {}",
            file.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim())
        .map_err(|e| format!("{}: unreadable child output: {e}", file.display()))
}

fn write_report(out: &Path, cases: &[CaseResult]) -> Result<(), String> {
    let report = Report {
        machine: machine(),
        git_commit: crate::summary::git_commit(),
        git_dirty: crate::summary::git_dirty(),
        note: "wall-clock measurements of this machine; see docs/performance.md",
        cases,
    };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let json = serde_json::to_vec_pretty(&report).map_err(|e| e.to_string())?;
    output::write_bytes_atomically(out, &json).map_err(|e| format!("{}: {e}", out.display()))
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or_else(|| "unknown".to_string(), |m| m.trim().to_string());
    let mem_total_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            let line = t.lines().find(|l| l.starts_with("MemTotal:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map(|kib| kib * 1024);
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model,
        mem_total_bytes,
    }
}

fn header() -> String {
    format!(
        "{:>9} {:>6} {:>3} {:>8} {:>7} {:>8} {:>11} {:>9} {:>13} {:>9} {:>8} {:>10} {:>9} {:>8} {:>9} {:>9}",
        "nodes",
        "rounds",
        "thr",
        "wall s",
        "speedup",
        "cpu s",
        "events",
        "M ev/s",
        "node-rounds/s",
        "RSS MB",
        "node B",
        "sim B/node",
        "est B/node",
        "overhead",
        "win/round",
        "ev/win"
    )
}

fn row(r: &CaseResult) -> String {
    let ratio = r
        .overhead_ratio
        .map_or("-".to_string(), |x| format!("{x:.2}"));
    format!(
        "{:>9} {:>6} {:>3} {:>8.2} {:>7} {:>8.2} {:>11} {:>9.3} {:>13.0} {:>9.1} {:>8} {:>10} {:>9} {:>8} {:>9.1} {:>9.1}",
        r.nodes,
        r.rounds,
        r.threads,
        r.run_s,
        r.speedup.map_or("-".to_string(), |x| format!("{x:.2}")),
        r.run_cpu_s,
        r.events,
        r.events_per_s / 1e6,
        r.node_rounds_per_s,
        r.peak_rss_bytes as f64 / 1e6,
        r.node_bytes,
        r.bookkeeping_bytes_per_node,
        r.estimate_bytes_per_node,
        ratio,
        r.windows as f64 / f64::from(r.rounds.max(1)),
        r.events_per_window
    )
}

/// The table printed at the end (also the format of docs/performance.md).
pub fn table(results: &[CaseResult]) -> String {
    let mut text = header();
    for r in results {
        let _ = write!(text, "\n{}", row(r));
    }
    text
}
