//! The `raas` command line: help, listing, unusable arguments.

mod common;

use common::*;

#[test]
fn help_of_every_command_exits_0_and_names_its_options() {
    let root = workspace_root();
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["--help"],
            &["Usage:", "run", "validate", "list", "Exit codes"],
        ),
        (
            &["run", "--help"],
            &[
                "Usage:",
                "<SCENARIO>",
                "--seed",
                "--out",
                "--results",
                "--baseline",
                "isolated",
                "--quiet",
            ],
        ),
        (&["validate", "--help"], &["Usage:", "<FILES>"]),
        (&["list", "--help"], &["Usage:", "[DIR]", "scenarios"]),
    ];
    for (args, needles) in cases {
        let r = raas_in(&root, args);
        assert_eq!(r.code, Some(0), "raas {args:?}: {r:?}");
        for needle in needles {
            assert!(
                r.stdout.contains(needle),
                "raas {args:?}: {needle:?} missing:\n{}",
                r.stdout
            );
        }
    }
    let r = raas_in(&root, ["--version"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stdout.contains(env!("CARGO_PKG_VERSION")), "{}", r.stdout);
}

#[test]
fn list_shows_the_example_scenarios() {
    let root = workspace_root();
    for args in [&["list", "scenarios"][..], &["list"]] {
        let r = raas_in(&root, args);
        assert_eq!(r.code, Some(0), "raas {args:?}: {r:?}");
        for (name, nodes) in [("smoothsine-10", 10), ("smoothsine-1000", 1000)] {
            let file = format!("scenarios/examples/{name}.toml");
            let line = r
                .stdout
                .lines()
                .find(|l| l.split_whitespace().next() == Some(file.as_str()))
                .unwrap_or_else(|| panic!("raas {args:?}: {file} not listed:\n{}", r.stdout));
            assert!(!line.contains("INVALID"), "{line}");
            assert!(line.contains(&format!("{nodes} nodes")), "{line}");
        }
    }
}

#[test]
fn list_marks_invalid_scenarios_and_rejects_a_missing_dir() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("sub")).unwrap();
    std::fs::write(tmp.path().join("sub/broken.toml"), "name = \"x\"\n").unwrap();
    std::fs::copy(small_scenario(), tmp.path().join("good.toml")).unwrap();
    let r = raas_in(tmp.path(), ["list", "."]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let broken = r
        .stdout
        .lines()
        .find(|l| l.contains("broken.toml"))
        .expect("broken listed");
    assert!(broken.contains("INVALID"), "{broken}");
    let good = r
        .stdout
        .lines()
        .find(|l| l.contains("good.toml"))
        .expect("good listed");
    assert!(
        good.contains("10 nodes") && good.contains("30 rounds"),
        "{good}"
    );

    let r = raas_in(tmp.path(), ["list", "no-such-dir"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("no-such-dir"), "{}", r.stderr);
}

#[test]
fn unusable_arguments_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = small_scenario();
    let scenario = scenario.to_str().expect("UTF-8 path");
    let out = tmp.path().join("out");
    let out = out.to_str().expect("UTF-8 path");
    let cases: [&[&str]; 10] = [
        &[],
        &["run"],
        &["run", scenario, "--out", out, "--seed", "abc"],
        &["run", scenario, "--out", out, "--seed", "-1"],
        &["run", scenario, "--out", out, "--seed"],
        &["run", scenario, "--out", out, "--no-such-flag"],
        &["validate"],
        &["frobnicate"],
        &["run", scenario, scenario, "--out", out],
        &["run", scenario, "--out", out, "--baseline", "alone"],
    ];
    for args in cases {
        let r = raas_in(tmp.path(), args);
        assert_eq!(r.code, Some(2), "raas {args:?}: {r:?}");
        assert!(!r.stderr.is_empty(), "raas {args:?}: nothing on stderr");
        assert!(
            !r.stderr.contains("panicked"),
            "raas {args:?}: {}",
            r.stderr
        );
    }
    assert_eq!(
        entries(tmp.path()),
        Vec::<String>::new(),
        "something was written"
    );
}

#[test]
fn a_run_prints_a_summary_line_unless_quiet() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let loud = raas_in(
        tmp.path(),
        [
            "run".as_ref(),
            small_scenario().as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
    );
    assert_eq!(loud.code, Some(0), "{loud:?}");
    assert!(loud.stderr.contains("seed 1"), "{}", loud.stderr);
    assert!(loud.stderr.contains("30 rounds"), "{}", loud.stderr);
    // The printed figures are those of summary.json.
    let s = summary(&out);
    let printed = |field: &str, value: &serde_json::Value| {
        let text = format!("{field} {:.4}", value.as_f64().unwrap());
        assert!(
            loud.stderr.contains(&text),
            "{text:?} not in {}",
            loud.stderr
        );
    };
    for field in [
        "rmse_online",
        "rmse_clean",
        "rmse_heldout",
        "consensus_distance",
    ] {
        printed(field, &s["final"][field]);
    }
    printed("central LS", &s["comparison"]["central_ls_rmse"]);
    assert!(
        loud.stderr.contains("final (mean of rounds 21–30)"),
        "{}",
        loud.stderr
    );
    assert!(!loud.stderr.contains("isolated"), "{}", loud.stderr);
    let with_baseline = raas_in(
        tmp.path(),
        [
            "run".as_ref(),
            small_scenario().as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--baseline".as_ref(),
            "isolated".as_ref(),
        ],
    );
    assert_eq!(with_baseline.code, Some(0), "{with_baseline:?}");
    let gain = summary(&out)["comparison"]["gain_over_isolated_pct"]
        .as_f64()
        .unwrap();
    let text = format!("gain over isolated {gain:.1} %");
    assert!(
        with_baseline.stderr.contains(&text),
        "{}",
        with_baseline.stderr
    );
    let quiet = run_ok(tmp.path(), &small_scenario(), &out, &[]);
    assert!(
        quiet.stderr.is_empty(),
        "--quiet printed {:?}",
        quiet.stderr
    );
    assert!(
        quiet.stdout.is_empty(),
        "--quiet printed {:?}",
        quiet.stdout
    );
}
