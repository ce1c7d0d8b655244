//! `raas plot`: plots of a run, of several seeds, their determinism, the
//! headless text rendering, and the errors for bad input (exit 2) and an
//! unwritable output (exit 1).

mod common;

use std::path::{Path, PathBuf};

use common::{SMALL, raas_in, raas_with_env, small_scenario};
use sim::baseline::isolated::Baseline;
use sim::plot::render::{HEIGHT, WIDTH};
use sim::plot::{self, PlotError};
use sim::runner::{self, RunOptions};

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
const STEMS: [&str; 4] = ["learning-curve", "consensus", "regimes", "model-bytes"];

/// Runs the small scenario with seed `seed` and the isolated baseline into
/// `out`.
fn run_small(out: &Path, seed: u64) {
    let options = RunOptions {
        seed: Some(seed),
        out: Some(out.to_path_buf()),
        results_root: PathBuf::from("unused"),
        baselines: vec![Baseline::Isolated],
        ..RunOptions::default()
    };
    runner::run_file(&small_scenario(), &options, &mut |_| {}).expect("the fixture runs");
}

/// Width and height from the IHDR chunk, which must follow the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(bytes[..8], PNG_SIGNATURE, "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is not IHDR");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn svg(dir: &Path, stem: &str) -> String {
    String::from_utf8(read(&dir.join(format!("{stem}.svg")))).expect("SVG is UTF-8")
}

#[test]
fn a_run_gives_png_and_svg_of_each_plot_with_labels_and_legends() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    run_small(&run, 1);
    let written = plot::plot_dir(&run, None).expect("plots");
    let expected: Vec<PathBuf> = STEMS
        .iter()
        .flat_map(|s| [run.join(format!("{s}.png")), run.join(format!("{s}.svg"))])
        .collect();
    assert_eq!(written, expected);
    for stem in STEMS {
        assert_eq!(
            png_size(&read(&run.join(format!("{stem}.png")))),
            (WIDTH, HEIGHT)
        );
        let text = svg(&run, stem);
        assert!(text.starts_with("<svg"), "{stem}.svg: {}", &text[..40]);
        assert!(
            text.contains(SMALL),
            "{stem}.svg has no scenario in its title"
        );
        // plotters writes each text on a line of its own.
        assert!(text.contains("\nround\n"), "{stem}.svg has no x label");
    }
    let learning = svg(&run, "learning-curve");
    for label in [
        "held-out RMSE (data units)",
        "swarm (gossip)",
        "isolated nodes (radio off)",
        "central least-squares optimum (held-out)",
        "persistence x(t-1) (held-out)",
    ] {
        assert!(
            learning.contains(label),
            "learning-curve.svg lacks {label:?}"
        );
    }
    assert!(!learning.contains("seeds"), "one run has no seed band");
    let consensus = svg(&run, "consensus");
    assert!(consensus.contains("(weight units)"));
    assert!(consensus.contains("swarm: largest distance"));
    let regimes = svg(&run, "regimes");
    for label in ["calm", "prestorm", "storm", "honest nodes (count)"] {
        assert!(regimes.contains(label), "regimes.svg lacks {label:?}");
    }
    assert!(svg(&run, "model-bytes").contains("cumulative (bytes)"));
}

#[test]
fn plotting_twice_gives_identical_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    run_small(&run, 1);
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let first = plot::plot_dir(&run, Some(&a)).unwrap();
    let second = plot::plot_dir(&run, Some(&b)).unwrap();
    assert_eq!(first.len(), 8);
    for (x, y) in first.iter().zip(&second) {
        assert_eq!(
            read(x),
            read(y),
            "{} and {} differ",
            x.display(),
            y.display()
        );
    }
    // Nothing was written into the run directory.
    assert!(!run.join("learning-curve.svg").exists());
}

#[test]
fn seeds_of_one_scenario_are_drawn_as_mean_and_min_max_band() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario_dir = tmp.path().join(SMALL);
    run_small(&scenario_dir.join("seed-1"), 1);
    run_small(&scenario_dir.join("seed-2"), 2);
    let r = raas_in(tmp.path(), ["plot", SMALL]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 8, "{}", r.stdout);
    let learning = svg(&scenario_dir, "learning-curve");
    assert!(learning.contains("(2 seeds)"), "title names the seed count");
    assert!(learning.contains("swarm (gossip), mean of 2 seeds"));
    assert!(learning.contains("swarm (gossip), min–max over 2 seeds"));
    assert!(learning.contains("isolated nodes (radio off), min–max over 2 seeds"));
    assert!(learning.contains("<polygon"), "the band is drawn");
}

#[test]
fn without_held_out_data_the_online_rmse_and_references_are_drawn() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    run_small(&run, 1);
    // Blank out rmse_heldout (as a run without held-out data writes it).
    let csv = String::from_utf8(read(&run.join("rounds.csv"))).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    let col = header.split(',').position(|c| c == "rmse_heldout").unwrap();
    let mut text = format!("{header}\n");
    for line in lines {
        let mut cells: Vec<&str> = line.split(',').collect();
        cells[col] = "NaN";
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    std::fs::write(run.join("rounds.csv"), text).unwrap();
    plot::plot_dir(&run, None).unwrap();
    let learning = svg(&run, "learning-curve");
    assert!(learning.contains("online RMSE (training stream) (data units)"));
    assert!(learning.contains("central least-squares optimum (online)"));
}

/// Text is drawn from the embedded DejaVu font: the title band of the PNG
/// has dark pixels, with font look-up paths pointing nowhere.
#[test]
fn text_renders_headless_from_the_embedded_font() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    run_small(&run, 1);
    let r = raas_with_env(
        tmp.path(),
        ["plot", "run"],
        &[
            ("FONTCONFIG_FILE", "/nonexistent"),
            ("FONTCONFIG_PATH", "/nonexistent"),
            ("XDG_DATA_DIRS", "/nonexistent"),
            ("HOME", "/nonexistent"),
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let bytes = read(&run.join("learning-curve.png"));
    let decoder = png::Decoder::new(bytes.as_slice());
    let mut reader = decoder.read_info().unwrap();
    let mut rgb = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut rgb).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    // The title sits in the top 60 rows, centred; nothing else is there.
    let row_bytes = info.line_size;
    let dark = (0..60)
        .flat_map(|y| (0..WIDTH as usize).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let p = &rgb[y * row_bytes + 3 * x..y * row_bytes + 3 * x + 3];
            p.iter().all(|&c| c < 100)
        })
        .count();
    assert!(
        dark > 500,
        "only {dark} dark pixels where the title should be"
    );
}

#[test]
fn bad_input_exits_2_naming_the_file_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let r = raas_in(cwd, ["plot", "nothing-here"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("nothing-here: no such file"),
        "{}",
        r.stderr
    );

    std::fs::create_dir(cwd.join("empty-dir")).unwrap();
    let r = raas_in(cwd, ["plot", "empty-dir"]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("rounds.csv"), "{}", r.stderr);

    let run = cwd.join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(run.join("rounds.csv"), "").unwrap();
    let r = raas_in(cwd, ["plot", "run"]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("rounds.csv: empty"), "{}", r.stderr);

    std::fs::write(
        run.join("rounds.csv"),
        "round,honest_nodes,rmse_online\n1,10,0.5\n",
    )
    .unwrap();
    let r = raas_in(cwd, ["plot", "run"]);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("rounds.csv: no column `rmse_heldout`"),
        "{}",
        r.stderr
    );
    assert!(!run.join("learning-curve.png").exists());
}

#[test]
fn an_unwritable_output_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    run_small(&run, 1);
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let r = raas_in(tmp.path(), ["plot", "run", "--out", "a-file"]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("a-file: cannot write"), "{}", r.stderr);
    let e = plot::plot_dir(&run, Some(&file.join("below"))).unwrap_err();
    assert!(matches!(e, PlotError::Write(..)), "{e}");
    assert_eq!(e.exit_code(), 1);
}

#[test]
fn a_sweep_csv_gives_metric_against_parameter() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = "radio.loss_probability,seed,rmse_heldout,gain_over_isolated_pct\n\
               0.0,1,0.06,5\n0.0,2,0.07,4\n0.5,1,0.08,2\n0.5,2,0.09,1\n";
    std::fs::write(tmp.path().join("sweep.csv"), csv).unwrap();
    let r = raas_in(
        tmp.path(),
        [
            "plot",
            "sweep.csv",
            "--x",
            "radio.loss_probability",
            "--metric",
            "rmse_heldout",
            "--metric",
            "gain_over_isolated_pct",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 4, "{}", r.stdout);
    let stem = "sweep-gain_over_isolated_pct-vs-radio_loss_probability";
    let png = read(&tmp.path().join(format!("{stem}.png")));
    assert_eq!(png_size(&png), (WIDTH, HEIGHT));
    let text = svg(tmp.path(), stem);
    assert!(text.contains("gain_over_isolated_pct, min–max over 2 seeds"));
    assert!(text.contains("\nradio.loss_probability\n"), "x label");

    // Without --x a file is refused; a missing column is named.
    let r = raas_in(tmp.path(), ["plot", "sweep.csv"]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("--x"), "{}", r.stderr);
    let r = raas_in(tmp.path(), ["plot", "sweep.csv", "--x", "radio.mtu_bytes"]);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("sweep.csv: no column `radio.mtu_bytes`"),
        "{}",
        r.stderr
    );
}

/// A 2 × 3 grid of `radio.loss_probability` × `gossip.fanout`, two seeds;
/// the cell (0.5, 4) has no run.
const GRID_CSV: &str = "run_index,point,radio.loss_probability,gossip.fanout,seed,rmse_heldout\n\
    0,a,0.0,1,1,0.1\n1,a,0.0,1,2,0.3\n\
    2,b,0.0,2,1,0.2\n3,b,0.0,2,2,0.2\n\
    4,c,0.0,4,1,0.5\n5,c,0.0,4,2,0.7\n\
    6,d,0.5,1,1,1.5\n7,d,0.5,1,2,1.25\n\
    8,e,0.5,2,1,0.9\n9,e,0.5,2,2,1.1\n";

#[test]
fn a_two_key_sweep_csv_gives_a_heatmap() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("grid.csv"), GRID_CSV).unwrap();
    let args = |out: &str| {
        [
            "plot",
            "grid.csv",
            "--x",
            "radio.loss_probability",
            "--y",
            "gossip.fanout",
            "--out",
            out,
        ]
        .map(String::from)
    };
    let r = raas_in(tmp.path(), args("a"));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let stem = "sweep-rmse_heldout-by-radio_loss_probability-and-gossip_fanout";
    assert_eq!(r.stdout, format!("a/{stem}.png\na/{stem}.svg\n"));
    let a = tmp.path().join("a");
    let png = read(&a.join(format!("{stem}.png")));
    assert_eq!(png_size(&png), (WIDTH, HEIGHT));
    let text = svg(&a, stem);
    assert!(text.starts_with("<svg"));
    for label in [
        "\nradio.loss_probability\n",
        "\ngossip.fanout\n",
        "grid: rmse_heldout, mean over 2 seeds",
        "rmse_heldout (mean of 2 seeds)",
        // Cells: means over the two seeds; the missing cell is a dash.
        "\n1.38\n",
        "\n0.2\n",
        "\n–\n",
        "max 1.38",
        "min 0.2",
    ] {
        assert!(text.contains(label), "heatmap SVG lacks {label:?}");
    }
    // The empty cell (x = 0.5, y = 4: top right) is grey, a filled one
    // (x = 0, y = 4: top left) is not.
    let decoder = png::Decoder::new(png.as_slice());
    let mut reader = decoder.read_info().unwrap();
    let mut rgb = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut rgb).unwrap();
    let pixel = |x: usize, y: usize| {
        let at = y * info.line_size + 3 * x;
        rgb[at..at + 3].to_vec()
    };
    assert_eq!(pixel(700, 120), vec![225, 225, 225], "empty cell");
    assert_ne!(pixel(300, 120), vec![225, 225, 225], "filled cell");
    assert_ne!(pixel(300, 120), vec![255, 255, 255], "filled cell");
    // The same CSV gives the same bytes.
    let r = raas_in(tmp.path(), args("b"));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let b = tmp.path().join("b");
    for ext in ["png", "svg"] {
        let name = format!("{stem}.{ext}");
        assert_eq!(read(&a.join(&name)), read(&b.join(&name)), "{name} differs");
    }
}

#[test]
fn bad_heatmap_input_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    std::fs::write(cwd.join("grid.csv"), GRID_CSV).unwrap();
    let heatmap = |file: &str, x: &str, y: &str| {
        raas_in(cwd, ["plot", file, "--x", x, "--y", y, "--out", "out"])
    };
    // --y without --x.
    let r = raas_in(cwd, ["plot", "grid.csv", "--y", "gossip.fanout"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("--y needs --x"), "{}", r.stderr);
    // A missing column, named with the file.
    let r = heatmap("grid.csv", "radio.loss_probability", "radio.mtu_bytes");
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("grid.csv: no column `radio.mtu_bytes`"),
        "{}",
        r.stderr
    );
    // A non-numeric key column.
    let r = heatmap("grid.csv", "radio.loss_probability", "point");
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("grid.csv: row 1, column `point`: \"a\" is not a number"),
        "{}",
        r.stderr
    );
    // A third key varying within a cell: same x, y and seed twice.
    let three = "a,b,c,seed,rmse_heldout\n1,1,1,1,0.1\n1,1,2,1,0.2\n";
    std::fs::write(cwd.join("three.csv"), three).unwrap();
    let r = heatmap("three.csv", "a", "b");
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("three.csv: rows 1 and 2 have a = 1, b = 1 and seed 1"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("a third grid key varies"), "{}", r.stderr);
    assert!(!cwd.join("out").exists(), "nothing is written on bad input");
}
