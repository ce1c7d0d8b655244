//! Range and consistency checks on parsed scenario values.
//!
//! Each component's `Config` implements [`Validate`]: it reports every
//! violated rule (not just the first) as a [`Violation`] carrying the full
//! dotted key path (`radio.loss_probability`), what was expected and what was
//! found. The scenario loader turns key paths back into file, line and column
//! (see `scenario`).

use std::fmt::Display;

/// One violated rule of a scenario value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Dotted key path from the document root, e.g. `radio.loss_probability`.
    pub key: String,
    /// What the key must satisfy, e.g. `a probability in [0, 1]`.
    pub expected: String,
    /// The offending value as written back, e.g. `1.5`.
    pub found: String,
    /// For a rule between two keys: the other key, used to locate the
    /// problem when `key` itself is not written in the file (a default).
    pub related: Option<String>,
}

impl std::fmt::Display for Violation {
    /// `` `key` expected …, found … ``
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` expected {}, found {}",
            self.key, self.expected, self.found
        )
    }
}

/// Writes `invalid <what> configuration: <v1>; <v2>; …` (the text of the
/// components' `Invalid` errors when they are built outside a scenario).
pub fn write_violations(
    f: &mut std::fmt::Formatter<'_>,
    what: &str,
    violations: &[Violation],
) -> std::fmt::Result {
    write!(f, "invalid {what} configuration:")?;
    for v in violations {
        write!(f, " {v};")?;
    }
    Ok(())
}

/// Collects violations under a key prefix.
#[derive(Debug, Default)]
pub struct Validator {
    prefix: String,
    violations: Vec<Violation>,
}

impl Validator {
    /// An empty validator at the document root.
    pub fn new() -> Validator {
        Validator::default()
    }

    /// Runs `check` with `section` appended to the key prefix
    /// (`radio`, then `radio.storms[2]`, …).
    pub fn section(&mut self, section: &str, check: impl FnOnce(&mut Validator)) {
        let saved = self.prefix.len();
        if !self.prefix.is_empty() && !section.starts_with('[') {
            self.prefix.push('.');
        }
        self.prefix.push_str(section);
        check(self);
        self.prefix.truncate(saved);
    }

    /// Records a violation of `key` (the section itself when empty) unless
    /// `ok`.
    pub fn require(&mut self, ok: bool, key: &str, expected: impl Display, found: impl Display) {
        if !ok {
            let full = match (self.prefix.is_empty(), key.is_empty()) {
                (true, _) => key.to_string(),
                (false, true) => self.prefix.clone(),
                (false, false) => format!("{}.{}", self.prefix, key),
            };
            self.violations.push(Violation {
                key: full,
                expected: expected.to_string(),
                found: found.to_string(),
                related: None,
            });
        }
    }

    /// Like [`Validator::require`] for a rule between `key` and `related`
    /// (both full dotted paths from the root): reported under `key`, located
    /// at `related` when `key` is not written in the file.
    pub fn require_between(
        &mut self,
        ok: bool,
        key: &str,
        related: &str,
        expected: impl Display,
        found: impl Display,
    ) {
        if !ok {
            self.violations.push(Violation {
                key: key.to_string(),
                expected: expected.to_string(),
                found: found.to_string(),
                related: Some(related.to_string()),
            });
        }
    }

    /// Requires `lo ≤ value ≤ hi`.
    pub fn range<T: PartialOrd + Display + Copy>(&mut self, key: &str, value: T, lo: T, hi: T) {
        let ok = value >= lo && value <= hi;
        self.require(ok, key, format_args!("a value in [{lo}, {hi}]"), value);
    }

    /// Requires `node_range = [first, end)` with `first < end` (the key
    /// of `[[adversary.groups]]` and `[[dataset.storms]]`).
    pub fn node_range(&mut self, [first, end]: [u32; 2]) {
        self.require(
            first < end,
            "node_range",
            "[first, end) with first < end",
            format_args!("[{first}, {end}]"),
        );
    }

    /// Requires a finite probability in `[0, 1]`.
    pub fn probability(&mut self, key: &str, value: f64) {
        let ok = value.is_finite() && (0.0..=1.0).contains(&value);
        self.require(ok, key, "a probability in [0, 1]", value);
    }

    /// Requires a finite value `> 0`.
    pub fn positive(&mut self, key: &str, value: f64) {
        self.require(
            value.is_finite() && value > 0.0,
            key,
            "a finite number > 0",
            value,
        );
    }

    /// Requires a finite value `≥ 0`.
    pub fn non_negative(&mut self, key: &str, value: f64) {
        self.require(
            value.is_finite() && value >= 0.0,
            key,
            "a finite number ≥ 0",
            value,
        );
    }

    /// All violations recorded so far, in the order found.
    pub fn into_violations(self) -> Vec<Violation> {
        self.violations
    }
}

/// A configuration section that can check its own ranges and consistency.
pub trait Validate {
    /// Records every violated rule into `v` (keys relative to the section).
    fn validate(&self, v: &mut Validator);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_nest_and_unwind() {
        let mut v = Validator::new();
        v.section("radio", |v| {
            v.probability("loss_probability", 1.5);
            v.section("storms[1]", |v| v.positive("noise", 0.0));
        });
        v.range("nodes", 0_u32, 1, 10);
        let got = v.into_violations();
        let keys: Vec<&str> = got.iter().map(|x| x.key.as_str()).collect();
        assert_eq!(
            keys,
            ["radio.loss_probability", "radio.storms[1].noise", "nodes"]
        );
        assert_eq!(got[0].found, "1.5");
        assert_eq!(got[2].expected, "a value in [1, 10]");
    }
}
