//! Why a plot could not be made; [`PlotError::exit_code`] maps it to the
//! CLI's codes (2: the input is missing or unusable; 1: the plot could not
//! be drawn or written).

use std::fmt;
use std::path::PathBuf;

/// Why `raas plot` failed.
#[derive(Debug)]
pub enum PlotError {
    /// The input path does not exist.
    NotFound(PathBuf),
    /// A directory holding neither `rounds.csv` nor `seed-*/` runs.
    NoRuns(PathBuf),
    /// An input file could not be read.
    Read(PathBuf, std::io::Error),
    /// An input CSV is not well-formed.
    Csv(PathBuf, String),
    /// An input CSV has no header or no data row.
    Empty(PathBuf),
    /// An input CSV lacks a column the plot needs.
    MissingColumn {
        /// The CSV file.
        file: PathBuf,
        /// The column it lacks.
        column: String,
    },
    /// A cell is not a number where one is needed.
    BadValue {
        /// The CSV file.
        file: PathBuf,
        /// The column of the cell.
        column: String,
        /// The data row, from 1.
        row: usize,
        /// The cell's text.
        value: String,
    },
    /// `summary.json` is not the JSON `raas run` writes.
    Summary(PathBuf, String),
    /// The arguments do not fit the input (e.g. a sweep CSV without `--x`).
    Usage(String),
    /// plotters failed to draw (an internal failure).
    Render(PathBuf, String),
    /// An output file could not be written.
    Write(PathBuf, std::io::Error),
}

impl PlotError {
    /// 2 for bad input, 1 for an internal failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            PlotError::Render(..) | PlotError::Write(..) => 1,
            _ => 2,
        }
    }
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlotError::NotFound(p) => write!(f, "{}: no such file or directory", p.display()),
            PlotError::NoRuns(p) => write!(
                f,
                "{}: neither a run directory (rounds.csv) nor a directory of runs (seed-*/rounds.csv)",
                p.display()
            ),
            PlotError::Read(p, e) => write!(f, "{}: cannot read: {e}", p.display()),
            PlotError::Csv(p, e) => write!(f, "{}: malformed CSV: {e}", p.display()),
            PlotError::Empty(p) => write!(f, "{}: empty (no header or no data row)", p.display()),
            PlotError::MissingColumn { file, column } => {
                write!(f, "{}: no column `{column}`", file.display())
            }
            PlotError::BadValue {
                file,
                column,
                row,
                value,
            } => write!(
                f,
                "{}: row {row}, column `{column}`: {value:?} is not a number",
                file.display()
            ),
            PlotError::Summary(p, e) => write!(f, "{}: {e}", p.display()),
            PlotError::Usage(e) => write!(f, "{e}"),
            PlotError::Render(p, e) => write!(f, "{}: cannot draw the plot: {e}", p.display()),
            PlotError::Write(p, e) => write!(f, "{}: cannot write: {e}", p.display()),
        }
    }
}

impl std::error::Error for PlotError {}
