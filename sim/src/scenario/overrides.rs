//! `--set key=value`: scenario keys overridden from the command line.
//!
//! An override replaces (or adds) one key of the parsed TOML table before
//! the typed parse, exactly where the `[node] preset` mechanism works
//! ([`super::preset`]): the key and value then go through the same
//! deserialization and validation as a key written in the file, so an
//! unknown key, a value of the wrong type or out of range is reported like
//! one — naming the `--set` argument instead of a line of the file.
//!
//! The key is a dotted path of table keys (`radio.loss_probability`,
//! `node.aggregation.rule`); missing tables on the way are created. The
//! value is a TOML value (`0.2`, `[0.05, 0.1, 0.2]`, `"paper"`,
//! `{ start_s = 10, end_s = 20, nodes = [1] }`); text that is not one is
//! taken as a bare string, so `--set node.gate=paper` works unquoted.
//! Overrides are applied in command-line order (a later one wins) and
//! beneath nothing: a preset merges its keys beneath them.

use std::fmt;
use std::str::FromStr;

use toml::{Table, Value};

/// One `--set key=value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// The argument as given (`radio.loss_probability=0.2`).
    pub arg: String,
    /// The dotted key (`radio.loss_probability`).
    pub key: String,
    /// The value parsed as TOML (or the bare string).
    pub value: Value,
}

/// Why a `--set` argument is not `key=value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverrideSyntaxError {
    /// The argument as given.
    pub arg: String,
    /// What was expected.
    pub expected: &'static str,
}

impl fmt::Display for OverrideSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--set {:?}: expected {}", self.arg, self.expected)
    }
}

impl std::error::Error for OverrideSyntaxError {}

impl FromStr for Override {
    type Err = OverrideSyntaxError;

    fn from_str(arg: &str) -> Result<Override, OverrideSyntaxError> {
        let error = |expected| OverrideSyntaxError {
            arg: arg.to_string(),
            expected,
        };
        let Some((key, raw)) = arg.split_once('=') else {
            return Err(error(
                "KEY=VALUE with a dotted scenario key, e.g. radio.loss_probability=0.2",
            ));
        };
        let key = key.trim();
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !key.split('.').all(segment_ok) {
            return Err(error(
                "a dotted key of letters, digits, `_` and `-` before `=`, e.g. node.aggregation.rule",
            ));
        }
        Ok(Override {
            arg: arg.to_string(),
            key: key.to_string(),
            value: parse_value(raw.trim()),
        })
    }
}

/// `raw` as a TOML value, or as a string when it is not one.
fn parse_value(raw: &str) -> Value {
    let document = format!("value = {raw}\n");
    match toml::from_str::<Table>(&document) {
        Ok(mut table) if table.len() == 1 => table
            .remove("value")
            .unwrap_or_else(|| Value::String(raw.to_string())),
        _ => Value::String(raw.to_string()),
    }
}

impl Override {
    /// Whether the dotted `key` (from an error or a violation, possibly
    /// with `[i]` indices) is this override's key or lies below it.
    pub fn covers(&self, key: &str) -> bool {
        key == self.key
            || key
                .strip_prefix(self.key.as_str())
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    }

    /// Sets the key in `table`, creating missing tables on the way; fails
    /// when a key on the way holds something other than a table.
    pub fn apply(&self, table: &mut Table) -> Result<(), String> {
        let mut segments: Vec<&str> = self.key.split('.').collect();
        let last = segments.pop().expect("split yields at least one segment");
        let mut current = table;
        let mut walked = String::new();
        for segment in segments {
            if !walked.is_empty() {
                walked.push('.');
            }
            walked.push_str(segment);
            let entry = current
                .entry(segment.to_string())
                .or_insert_with(|| Value::Table(Table::new()));
            current = match entry {
                Value::Table(inner) => inner,
                other => {
                    return Err(format!(
                        "`{walked}` holds a value of type {}, not a table, so it has no key `{}`",
                        other.type_str(),
                        &self.key[walked.len() + 1..]
                    ));
                }
            };
        }
        current.insert(last.to_string(), self.value.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(arg: &str) -> Override {
        arg.parse().unwrap()
    }

    #[test]
    fn values_are_toml_or_bare_strings() {
        assert_eq!(set("nodes=50").value, Value::Integer(50));
        assert_eq!(set("radio.loss_probability=0.2").value, Value::Float(0.2));
        assert_eq!(
            set("node.step_sizes=[0.05,0.1,0.2]").value,
            Value::Array(vec![0.05.into(), 0.1.into(), 0.2.into()])
        );
        assert_eq!(set("node.gate=paper").value, Value::String("paper".into()));
        assert_eq!(
            set("node.gate=\"paper\"").value,
            Value::String("paper".into())
        );
        assert_eq!(set("name=a=b").value, Value::String("a=b".into()));
        // Not a way to smuggle in a second key.
        assert_eq!(
            set("nodes=1\nseed = 3").value,
            Value::String("1\nseed = 3".into())
        );
    }

    #[test]
    fn malformed_arguments_are_refused() {
        for arg in ["nodes", "=3", "radio..k=3", "radio k=3", ".k=1"] {
            let e = arg.parse::<Override>().unwrap_err();
            assert!(e.to_string().contains(arg), "{e}");
        }
    }

    #[test]
    fn apply_creates_tables_and_refuses_to_walk_through_values() {
        let mut t: Table = toml::from_str("nodes = 3\n").unwrap();
        set("node.aggregation.rule=median").apply(&mut t).unwrap();
        assert_eq!(t["node"]["aggregation"]["rule"].as_str(), Some("median"));
        let e = set("nodes.x=1").apply(&mut t).unwrap_err();
        assert!(e.contains("`nodes` holds a value of type integer"), "{e}");
    }

    #[test]
    fn covers_its_key_and_below_only() {
        let o = set("dataset.storms=[]");
        assert!(o.covers("dataset.storms"));
        assert!(o.covers("dataset.storms[0].end_s"));
        assert!(!o.covers("dataset.storms_x"));
        assert!(!o.covers("dataset"));
    }
}
