//! Bad scenario files: `raas run` and `raas validate` exit with 2, print
//! `<path>:<line>:<column>: …` naming the key and what was expected, and
//! `run` creates no output directory.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// Start of most test files (lines 1 and 2).
const HEAD: &str = "name = \"bad\"\nnodes = 5\n";

/// A bad scenario written into a fresh temporary directory, with an empty
/// working directory and an empty results root for `raas run`.
struct Bad {
    tmp: tempfile::TempDir,
    file: PathBuf,
}

impl Bad {
    fn new(file_name: &str, text: &str) -> Bad {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join(file_name);
        std::fs::write(&file, text).unwrap();
        for dir in ["cwd", "results"] {
            std::fs::create_dir(tmp.path().join(dir)).unwrap();
        }
        Bad { tmp, file }
    }

    fn cwd(&self) -> PathBuf {
        self.tmp.path().join("cwd")
    }

    fn results(&self) -> PathBuf {
        self.tmp.path().join("results")
    }

    /// `raas run` twice (with `--out` to a new path, and with only
    /// `--results`), then `raas validate`; checks exit codes, that nothing
    /// was written, and that both commands print the same message. Returns
    /// the message of `validate`.
    fn reject(&self) -> String {
        let out = self.tmp.path().join("out");
        let with_out = raas_in(
            &self.cwd(),
            [
                "run".as_ref(),
                self.file.as_os_str(),
                "--quiet".as_ref(),
                "--out".as_ref(),
                out.as_os_str(),
            ],
        );
        let with_results = raas_in(
            &self.cwd(),
            [
                "run".as_ref(),
                self.file.as_os_str(),
                "--results".as_ref(),
                self.results().as_os_str(),
            ],
        );
        let validate = raas_in(&self.cwd(), ["validate".as_ref(), self.file.as_os_str()]);
        for (what, r) in [
            ("run --out", &with_out),
            ("run --results", &with_results),
            ("validate", &validate),
        ] {
            assert_eq!(r.code, Some(2), "{what}: {r:?}");
            assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
            assert!(
                r.stdout.is_empty(),
                "{what} printed to stdout: {}",
                r.stdout
            );
        }
        assert!(!out.exists(), "--out {} was created", out.display());
        assert_eq!(
            entries(&self.results()),
            Vec::<String>::new(),
            "results root"
        );
        assert_eq!(
            entries(&self.cwd()),
            Vec::<String>::new(),
            "working directory"
        );
        assert_eq!(
            with_out.stderr,
            format!("error: {}", validate.stderr),
            "`run` and `validate` disagree"
        );
        assert_eq!(with_out.stderr, with_results.stderr);
        validate.stderr
    }

    /// Like [`Bad::reject`], and requires every line of the message to be
    /// located (`<path>:<line>:<col>: `); returns the line located at `line`
    /// (and at one of `columns`, when given), after checking that it
    /// contains every one of `needles`.
    fn reject_at(&self, line: usize, columns: Option<&[usize]>, needles: &[&str]) -> String {
        let message = self.reject();
        let prefix = format!("{}:", self.file.display());
        let mut found = None;
        for text in message.lines().filter(|l| !l.trim().is_empty()) {
            let (l, c) = location(text, &prefix)
                .unwrap_or_else(|| panic!("not located as `{prefix}<line>:<col>: `: {text:?}"));
            // Several problems may share a location: take the one that
            // says everything asked for, else the last one there.
            if l == line && columns.is_none_or(|cs| cs.contains(&c)) {
                let complete = needles.iter().all(|n| text.contains(n));
                if found.is_none() || complete {
                    found = Some(text.to_string());
                }
                if complete {
                    break;
                }
            }
        }
        let found = found.unwrap_or_else(|| {
            panic!("no problem located at line {line} (columns {columns:?}) in:\n{message}")
        });
        for needle in needles {
            assert!(found.contains(needle), "{needle:?} missing from {found:?}");
        }
        found
    }
}

/// `(line, column)` of `<prefix><line>:<col>: …`.
fn location(text: &str, prefix: &str) -> Option<(usize, usize)> {
    let mut parts = text.strip_prefix(prefix)?.splitn(3, ':');
    let line = parts.next()?.parse().ok()?;
    let column = parts.next()?.parse().ok()?;
    parts.next()?.starts_with(' ').then_some((line, column))
}

#[test]
fn unknown_key() {
    let bad = Bad::new(
        "typo.toml",
        &format!("{HEAD}[radio]\nloss_probabilty = 0.1\n"),
    );
    bad.reject_at(
        4,
        Some(&[1]),
        &[
            "`radio.loss_probabilty`",
            "unknown field",
            "expected one of",
            "`loss_probability`",
        ],
    );
}

#[test]
fn wrong_type() {
    let bad = Bad::new("type.toml", "name = \"bad\"\nnodes = \"ten\"\n");
    bad.reject_at(2, Some(&[1, 9]), &["`nodes`", "\"ten\"", "expected"]);
}

#[test]
fn out_of_range_value() {
    let bad = Bad::new(
        "range.toml",
        &format!("{HEAD}[radio]\nloss_probability = 1.5\n"),
    );
    bad.reject_at(
        4,
        Some(&[1, 20]),
        &["`radio.loss_probability`", "expected", "[0, 1]", "1.5"],
    );
}

#[test]
fn round_shorter_than_sample_period() {
    let bad = Bad::new(
        "periods.toml",
        &format!("{HEAD}[run]\nround_period_ms = 500\nsample_period_ms = 1000\n"),
    );
    bad.reject_at(
        4,
        Some(&[1, 19]),
        &[
            "`run.round_period_ms`",
            "expected",
            "`run.sample_period_ms`",
            "1000",
            "500",
        ],
    );
}

#[test]
fn collect_window_longer_than_round() {
    let bad = Bad::new(
        "window.toml",
        &format!("{HEAD}[run]\nround_period_ms = 10000\n\n[node]\ncollect_window_ms = 20000\n"),
    );
    bad.reject_at(
        7,
        Some(&[1, 21]),
        &[
            "`node.collect_window_ms`",
            "expected",
            "`run.round_period_ms`",
            "10000",
            "20000",
        ],
    );
}

#[test]
fn every_violation_is_reported_in_file_order() {
    let bad = Bad::new(
        "several.toml",
        &format!("{HEAD}[radio]\nloss_probability = -0.5\n[run]\nrounds = 0\n"),
    );
    let message = bad.reject();
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.len(), 2, "{message}");
    assert!(lines[0].contains(":4:") && lines[0].contains("`radio.loss_probability`"));
    assert!(lines[1].contains(":6:") && lines[1].contains("`run.rounds`"));
}

#[test]
fn missing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("no-such-scenario.toml");
    let out = tmp.path().join("out");
    let run = raas_in(
        tmp.path(),
        [
            "run".as_ref(),
            file.as_os_str(),
            "-q".as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
    );
    let validate = raas_in(tmp.path(), ["validate".as_ref(), file.as_os_str()]);
    for r in [&run, &validate] {
        assert_eq!(r.code, Some(2), "{r:?}");
        assert!(
            r.stderr.contains(&file.display().to_string()),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("cannot read"), "{}", r.stderr);
    }
    assert!(!out.exists());
    assert_eq!(entries(tmp.path()), Vec::<String>::new());
}

#[test]
fn empty_file() {
    let bad = Bad::new("empty.toml", "");
    bad.reject_at(1, Some(&[1]), &["empty", "expected", "`name`", "`nodes`"]);
}

#[test]
fn comment_only_file() {
    let bad = Bad::new(
        "comments.toml",
        "# a scenario still to be written\n\n   # name = \"x\"\n\t\n",
    );
    bad.reject_at(1, Some(&[1]), &["empty", "expected", "`name`", "`nodes`"]);
}

#[test]
fn invalid_toml_syntax() {
    let bad = Bad::new("syntax.toml", &format!("{HEAD}[radio\nk = 4\n"));
    bad.reject_at(3, None, &["expected", "`]`"]);
}

#[test]
fn missing_required_key() {
    let bad = Bad::new("no-nodes.toml", "name = \"bad\"\n[run]\nrounds = 3\n");
    bad.reject_at(1, None, &["missing field `nodes`"]);
}

#[test]
fn missing_required_key_is_not_blamed_on_another_key() {
    for (text, missing, other) in [
        ("name = \"bad\"\n[run]\nrounds = 3\n", "nodes", "name"),
        ("nodes = 4\n", "name", "nodes"),
    ] {
        let bad = Bad::new("missing.toml", text);
        let line = bad.reject_at(1, None, &[&format!("missing field `{missing}`")]);
        assert!(
            !line.contains(&format!("key `{other}`")),
            "the missing `{missing}` is blamed on `{other}`: {line}"
        );
    }
}

#[test]
fn unknown_dataset_kind() {
    let bad = Bad::new(
        "kind.toml",
        &format!("{HEAD}[dataset]\nkind = \"smooth_sin\"\n"),
    );
    bad.reject_at(
        4,
        Some(&[1, 8]),
        &[
            "`dataset.kind`",
            "`smooth_sin`",
            "expected",
            "`smooth_sine`",
        ],
    );
}

#[test]
fn event_budget_exhausted_is_bad_input_and_writes_nothing() {
    let bad = Bad::new(
        "budget.toml",
        &format!("{HEAD}[run]\nrounds = 3\nmax_events = 10\n"),
    );
    let out = bad.tmp.path().join("out");
    let r = raas_in(
        &bad.cwd(),
        [
            "run".as_ref(),
            bad.file.as_os_str(),
            "-q".as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr.contains(&bad.file.display().to_string()),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("run.max_events"), "{}", r.stderr);
    assert!(!out.exists());
    // The file itself is valid.
    let validate = raas_in(&bad.cwd(), ["validate".as_ref(), bad.file.as_os_str()]);
    assert_eq!(validate.code, Some(0), "{validate:?}");
}

#[test]
fn validate_reports_each_file_and_fails_if_any_is_bad() {
    let bad = Bad::new(
        "range.toml",
        &format!("{HEAD}[radio]\nloss_probability = 2\n"),
    );
    let good = small_scenario();
    let r = raas_in(
        &bad.cwd(),
        ["validate".as_ref(), good.as_os_str(), bad.file.as_os_str()],
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stdout.contains(&format!("{}: ok", good.display())),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.starts_with(&format!("{}:4:", bad.file.display())),
        "{}",
        r.stderr
    );
}

#[test]
fn validate_accepts_the_example_scenarios() {
    let examples = workspace_root().join("scenarios").join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let names: Vec<_> = files.iter().filter_map(|p| p.file_name()).collect();
    for expected in ["smoothsine-10.toml", "smoothsine-1000.toml"] {
        assert!(
            names.iter().any(|n| *n == expected),
            "{expected} missing: {names:?}"
        );
    }
    let mut args = vec![Path::new("validate").as_os_str()];
    args.extend(files.iter().map(|f| f.as_os_str()));
    let r = raas_in(&workspace_root(), &args);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    for file in &files {
        assert!(
            r.stdout.contains(&format!("{}: ok", file.display())),
            "{}",
            r.stdout
        );
    }
    // The test fixture is a valid scenario too.
    let r = raas_in(
        &workspace_root(),
        ["validate".as_ref(), small_scenario().as_os_str()],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
}

#[test]
fn unknown_baseline_lists_the_valid_ones() {
    let bad = Bad::new(
        "baseline.toml",
        &format!("{HEAD}[run]\nbaselines = [\"isolated\", \"alone\"]\n"),
    );
    bad.reject_at(
        4,
        None,
        &["`run.baselines", "unknown variant `alone`", "`isolated`"],
    );
}

#[test]
fn baseline_twice_and_heldout_samples_out_of_range() {
    let bad = Bad::new(
        "heldout.toml",
        &format!(
            "{HEAD}[run]\nheldout_samples = 100000\nbaselines = [\"isolated\", \"isolated\"]\n"
        ),
    );
    bad.reject_at(
        4,
        Some(&[1, 19]),
        &["`run.heldout_samples`", "[0, 65536]", "100000"],
    );
    bad.reject_at(5, None, &["`run.baselines`", "at most once", "isolated"]);
}

#[test]
fn heldout_path_that_is_the_training_file() {
    let bad = Bad::new(
        "same.toml",
        &format!(
            "{HEAD}[dataset]\nkind = \"ucr\"\npath = \"E/E_TRAIN.tsv\"\nheldout_path = \"E/E_TRAIN.tsv\"\n"
        ),
    );
    bad.reject_at(
        6,
        Some(&[16]),
        &["`dataset.heldout_path`", "a file other than `path`"],
    );
}
