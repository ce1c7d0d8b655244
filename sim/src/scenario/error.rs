//! Scenario errors that point at the file, line, column and key.

use std::fmt;
use std::path::PathBuf;

/// One located problem in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// Dotted key path, when one could be determined.
    pub key: Option<String>,
    /// What was expected and what was found.
    pub message: String,
}

/// One problem of a scenario loaded with `--set` overrides: located in
/// the file, or in one override.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// In the file, at a line and column.
    File(Located),
    /// In a `--set` argument.
    Set {
        /// The argument as given (`radio.loss_probability=2`).
        arg: String,
        /// Dotted key path, when one could be determined.
        key: Option<String>,
        /// What was expected and what was found.
        message: String,
    },
}

/// Why a scenario could not be loaded. Every variant names the file.
#[derive(Debug)]
pub enum ScenarioError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    Read {
        /// The scenario file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file is empty or contains only comments and blank lines.
    Empty {
        /// The scenario file.
        path: PathBuf,
    },
    /// Not valid TOML, or a value of the wrong type, an unknown or a missing
    /// key.
    Parse {
        /// The scenario file.
        path: PathBuf,
        /// Where and what.
        problem: Located,
    },
    /// Well-formed, but values out of range or inconsistent with each other.
    Invalid {
        /// The scenario file.
        path: PathBuf,
        /// Every violated rule, in file order.
        problems: Vec<Located>,
    },
    /// Loaded with `--set` overrides: a problem in the file or in an
    /// override (malformed path, unknown key, wrong type, out of range).
    Overridden {
        /// The scenario file.
        path: PathBuf,
        /// Every problem, in the order found.
        problems: Vec<Problem>,
    },
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.line, self.column)?;
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl fmt::Display for Problem {
    /// `LINE:COLUMN: key `k`: …` or `--set ARG: key `k`: …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::File(located) => write!(f, "{located}"),
            Problem::Set { arg, key, message } => {
                write!(f, " --set {arg}: ")?;
                if let Some(key) = key {
                    write!(f, "key `{key}`: ")?;
                }
                f.write_str(message)
            }
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::Read { path, source } => {
                write!(f, "{}: cannot read scenario: {source}", path.display())
            }
            ScenarioError::Empty { path } => write!(
                f,
                "{}:1:1: the scenario is empty; expected at least `name` and `nodes` \
                 (see docs/scenarios.md)",
                path.display()
            ),
            ScenarioError::Parse { path, problem } => write!(f, "{}:{problem}", path.display()),
            ScenarioError::Invalid { path, problems } => {
                for (i, problem) in problems.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{}:{problem}", path.display())?;
                }
                Ok(())
            }
            ScenarioError::Overridden { path, problems } => {
                for (i, problem) in problems.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{}:{problem}", path.display())?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ScenarioError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ScenarioError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}
