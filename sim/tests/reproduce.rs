//! `raas reproduce`: every paper scenario loads and carries a claim, the
//! report has one row per claim, the same seeds give the same bytes for
//! any `--jobs`, and bad input exits 2.

mod common;

use std::path::Path;

use common::*;

/// A small measured claim (10 nodes, 30 rounds), a Byzantine one (the
/// ablation on the consensus task at 10 nodes) and a pending one.
fn small_paper_dir(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let base = std::fs::read_to_string(small_scenario()).unwrap();
    let convergence = format!(
        "{base}\n[claim]\nid = \"convergence\"\npaper_value = \"under 30 epochs\"\nevidence = \"none\"\n\
         paper_setup = \"a table\"\nmetric = \"rounds to consensus\"\nmeasure = \"convergence\"\npaper_number = 30.0\n"
    );
    write_scenario(dir, "convergence.toml", &convergence);
    let pending = format!(
        "{base}\n[claim]\nid = \"sybil\"\npaper_value = \"50 sybils banned in 4 rounds\"\nevidence = \"none\"\n\
         paper_setup = \"stated only\"\nmetric = \"rounds to ban\"\nmeasure = \"pending\"\nneeds = \"sybil attackers\"\n"
    );
    write_scenario(dir, "sybil.toml", &pending);
    let ablation = format!(
        "{base}\n[claim]\nid = \"ablation\"\npaper_value = \"4.3x\"\nevidence = \"toy\"\n\
         paper_setup = \"n = 100\"\nmetric = \"drift ratio\"\nmeasure = \"ablation\"\n\
         paper_number = 4.3\nholds_if_at_most = false\n"
    );
    write_scenario(dir, "ablation.toml", &ablation);
}

#[test]
fn every_paper_scenario_has_a_valid_claim_named_after_its_file() {
    let dir = workspace_root().join("scenarios/paper");
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let scenario = sim::scenario::Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let claim = scenario
            .claim
            .unwrap_or_else(|| panic!("{}: no [claim]", path.display()));
        assert_eq!(
            Some(claim.id.as_str()),
            path.file_stem().and_then(|s| s.to_str())
        );
        ids.push(claim.id);
    }
    // docs/claims.md lists 24 claims; each has a scenario.
    assert_eq!(ids.len(), 24, "{ids:?}");
    let claims = std::fs::read_to_string(workspace_root().join("docs/claims.md")).unwrap();
    for id in &ids {
        assert!(
            claims.contains(&format!("| {id} |")),
            "{id} not in docs/claims.md"
        );
    }
}

#[test]
fn report_is_byte_identical_for_any_jobs_and_has_a_row_per_claim() {
    let tmp = tempfile::tempdir().unwrap();
    let papers = tmp.path().join("paper");
    small_paper_dir(&papers);
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    for (out, jobs) in [(&one, "1"), (&two, "2")] {
        let r = reproduce(tmp.path(), &papers, out, jobs);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
    }
    let report = read(&one, "REPRODUCTION.md");
    assert_eq!(report, read(&two, "REPRODUCTION.md"));
    for run in ["convergence/seed-1", "convergence/seed-2"] {
        assert_eq!(
            read(&one.join(run), "rounds.csv"),
            read(&two.join(run), "rounds.csv")
        );
    }
    let text = String::from_utf8(report).unwrap();
    assert!(
        text.contains("| convergence |") && text.contains("| sybil |"),
        "{text}"
    );
    assert!(text.contains("needs sybil attackers"), "{text}");
    assert!(text.contains("3 claims:"), "{text}");
    // The Byzantine measurement ran its three cells with attackers.
    assert!(
        text.contains("without reputation (trimmed mean, bans off)"),
        "{text}"
    );
    let cell = one.join("ablation/paper-no-defence/seed-1");
    let summary = String::from_utf8(read(&cell, "summary.json")).unwrap();
    assert!(summary.contains("\"honest_drift_pct\""), "{summary}");
}

#[test]
fn bad_input_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let papers = tmp.path().join("paper");
    small_paper_dir(&papers);
    let out = tmp.path().join("out");
    let r = raas_in(
        tmp.path(),
        [
            "reproduce",
            "--quiet",
            "--only",
            "nope",
            "--scenarios",
            papers.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("nope") && r.stderr.contains("convergence"),
        "{}",
        r.stderr
    );
    // A claim whose id is not its file name.
    let text = std::fs::read_to_string(papers.join("sybil.toml")).unwrap();
    write_scenario(&papers, "sybils.toml", &text);
    let r = reproduce(tmp.path(), &papers, &out, "1");
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("sybils.toml") && r.stderr.contains("[claim]"),
        "{}",
        r.stderr
    );
}
