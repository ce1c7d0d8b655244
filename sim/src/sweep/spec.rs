//! The sweep file: a scenario plus a `[sweep]` table, expanded into grid
//! points and runs.
//!
//! Ordering contract: grid keys keep the order in which they are written
//! in the file (by byte position, whatever order toml's maps use); the
//! points are the cartesian product of their value lists with the first
//! key varying slowest and the last fastest, each list in written order;
//! the runs are the points in that order, each with every seed in the
//! order of `seeds`. The index of a run in this order is its `run` number.
//!
//! Each point's scenario is the base table (the file without `[sweep]`)
//! with the point's values set at their dotted key paths, serialized back
//! to TOML: a pure function of the sweep file's content, so its bytes —
//! and the `scenario_hash` of its runs — are the same on every machine.
//! Every point is parsed and validated like a written scenario before any
//! run starts; its problems are reported in the sweep file, at the grid
//! value when a grid key is involved.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::{Table, Value};

use crate::scenario::{Located, Scenario, ScenarioError, locate, parse_error};

/// Most seeds `seeds = N` may ask for.
pub const SEEDS_MAX: u64 = 1_000_000;
/// Most points a grid may have.
pub const POINTS_MAX: usize = 100_000;
/// Longest point id, bytes (it names a directory).
pub const POINT_ID_MAX: usize = 200;
/// The point id of a sweep without grid keys.
pub const BASE_POINT_ID: &str = "base";

/// A parsed, expanded and validated sweep file.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// The sweep file.
    pub path: PathBuf,
    /// The scenario's `name`.
    pub name: String,
    /// The grid's dotted key paths, in written order.
    pub keys: Vec<String>,
    /// The points, in canonical order.
    pub points: Vec<Point>,
    /// The seeds, in written order.
    pub seeds: Vec<u64>,
}

/// One grid point.
#[derive(Clone, Debug)]
pub struct Point {
    /// Directory name: `key=value` per grid key, joined by `,`, each value
    /// reduced to `[A-Za-z0-9._+-]` (others become `_`); `base` without
    /// grid keys.
    pub id: String,
    /// The value of each grid key as text (strings unquoted, others as
    /// TOML writes them); the CSV's grid cells.
    pub values: Vec<String>,
    /// The point's scenario file text (deterministic).
    pub text: String,
    /// The point's scenario.
    pub scenario: Scenario,
}

/// One run: a point and a seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunRef {
    /// Index in canonical order (the CSV's `run`).
    pub index: usize,
    /// Index into [`Sweep::points`].
    pub point: usize,
    /// The seed.
    pub seed: u64,
}

impl Sweep {
    /// Reads, expands and validates the sweep file at `path`.
    pub fn load(path: &Path) -> Result<Sweep, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Sweep::parse(path, &text)
    }

    /// Expands and validates sweep `text`; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Sweep, ScenarioError> {
        let doc = DeTable::parse(text).map_err(|e| parse_error(path, text, None, &e))?;
        let doc = doc.get_ref();
        let mut table: Table =
            toml::from_str(text).map_err(|e| parse_error(path, text, Some(doc), &e))?;
        let at = |key: &str, span: Option<Range<usize>>, message: String| {
            let (line, column) = locate::line_column(text, span.map_or(0, |s| s.start));
            ScenarioError::Parse {
                path: path.to_path_buf(),
                problem: Located {
                    line,
                    column,
                    key: Some(key.to_string()),
                    message,
                },
            }
        };
        let Some((_, sweep_doc)) = doc.iter().find(|(k, _)| k.get_ref() == "sweep") else {
            return Err(at(
                "sweep",
                None,
                "expected a `[sweep]` table with `seeds` and `[sweep.grid]` (see docs/sweeps.md)"
                    .into(),
            ));
        };
        let DeValue::Table(sweep_doc) = sweep_doc.get_ref() else {
            return Err(at(
                "sweep",
                Some(sweep_doc.span()),
                "expected a table".into(),
            ));
        };
        let Some(Value::Table(sweep)) = table.remove("sweep") else {
            unreachable!("the spanned and the plain parse agree");
        };
        for (key, value) in sweep_doc.iter() {
            if !matches!(key.get_ref().as_ref(), "seeds" | "grid") {
                return Err(at(
                    &format!("sweep.{}", key.get_ref()),
                    Some(value.span()),
                    format!(
                        "unknown key `{}` in [sweep], expected `seeds` or `grid`",
                        key.get_ref()
                    ),
                ));
            }
        }
        let seeds_span = sweep_doc
            .iter()
            .find(|(k, _)| k.get_ref() == "seeds")
            .map(|(_, v)| v.span());
        let seeds = match sweep.get("seeds") {
            None => None,
            Some(value) => Some(parse_seeds(value).map_err(|(i, message)| {
                let key = i.map_or("sweep.seeds".to_string(), |i| format!("sweep.seeds[{i}]"));
                let span = i
                    .and_then(|_| locate::span_of(doc, &key))
                    .or(seeds_span.clone());
                at(&key, span, message)
            })?),
        };
        let grid = match sweep_doc.iter().find(|(k, _)| k.get_ref() == "grid") {
            None => Vec::new(),
            Some((_, g)) => match g.get_ref() {
                DeValue::Table(g) => {
                    let mut keys = Vec::new();
                    flatten_grid(g, &mut Vec::new(), &mut keys);
                    keys.sort_by_key(|k| k.key_at);
                    keys
                }
                _ => {
                    return Err(at(
                        "sweep.grid",
                        Some(g.span()),
                        "expected a table of `\"dotted.key\" = [values…]`".into(),
                    ));
                }
            },
        };
        let grid_table = sweep.get("grid").and_then(Value::as_table);
        let mut axes: Vec<Axis> = Vec::with_capacity(grid.len());
        for key in grid {
            let name = key.segments.join(".");
            let shown = format!("sweep.grid.{name}");
            let value = grid_table
                .and_then(|t| lookup(t, &key.segments))
                .expect("the spanned and the plain parse agree");
            let Value::Array(values) = value else {
                return Err(at(
                    &shown,
                    Some(key.value_span),
                    format!("expected a list of values, found {}", value.type_str()),
                ));
            };
            if values.is_empty() {
                return Err(at(
                    &shown,
                    Some(key.value_span),
                    "expected a non-empty list of values, found `[]`".into(),
                ));
            }
            let path: Vec<&str> = name.split('.').collect();
            if let Some(bad) = path.iter().find(|s| !is_identifier(s)) {
                return Err(at(
                    &shown,
                    Some(key.key_span),
                    format!(
                        "expected a dotted path of scenario keys (letters, digits, `_`), \
                         found segment {bad:?}"
                    ),
                ));
            }
            if matches!(path[0], "sweep" | "seed") {
                return Err(at(
                    &shown,
                    Some(key.key_span),
                    format!(
                        "`{}` cannot be swept; {}",
                        path[0],
                        if path[0] == "seed" {
                            "list the seeds in `sweep.seeds`"
                        } else {
                            "grid keys are scenario keys"
                        }
                    ),
                ));
            }
            axes.push(Axis {
                name,
                values: values.clone(),
                item_spans: key.item_spans,
                key_span: key.key_span,
            });
        }
        let count = axes
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
            .filter(|&n| n <= POINTS_MAX);
        let Some(count) = count else {
            return Err(at(
                "sweep.grid",
                None,
                format!(
                    "expected at most {POINTS_MAX} grid points (the product of the list lengths)"
                ),
            ));
        };
        let expander = Expander {
            path,
            text,
            doc,
            base: &table,
            axes: &axes,
        };
        let points = expander.points(count)?;
        let seeds = seeds.unwrap_or_else(|| vec![points[0].scenario.seed]);
        Ok(Sweep {
            path: path.to_path_buf(),
            name: points[0].scenario.name.clone(),
            keys: axes.into_iter().map(|a| a.name).collect(),
            points,
            seeds,
        })
    }

    /// Whether the file at `path` has a top-level `sweep` key (and so is
    /// a sweep file rather than a scenario); `false` when unreadable.
    pub fn is_sweep_file(path: &Path) -> bool {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| toml::from_str::<Table>(&text).ok())
            .is_some_and(|t| t.contains_key("sweep"))
    }

    /// Every run, in canonical order.
    pub fn runs(&self) -> Vec<RunRef> {
        let mut runs = Vec::with_capacity(self.points.len() * self.seeds.len());
        for point in 0..self.points.len() {
            for &seed in &self.seeds {
                runs.push(RunRef {
                    index: runs.len(),
                    point,
                    seed,
                });
            }
        }
        runs
    }
}

/// `seeds = N` (1..=N) or a non-empty list of distinct non-negative
/// integers; the error names the list item when one is at fault.
fn parse_seeds(value: &Value) -> Result<Vec<u64>, (Option<usize>, String)> {
    match value {
        Value::Integer(n) => {
            let n = u64::try_from(*n).unwrap_or(0);
            if n == 0 || n > SEEDS_MAX {
                return Err((
                    None,
                    format!("expected a seed count between 1 and {SEEDS_MAX}, found {value}"),
                ));
            }
            Ok((1..=n).collect())
        }
        Value::Array(items) if items.is_empty() => Err((
            None,
            "expected a non-empty list of seeds, found `[]`".to_string(),
        )),
        Value::Array(items) => {
            let mut seeds = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let seed = item.as_integer().and_then(|s| u64::try_from(s).ok());
                let Some(seed) = seed else {
                    return Err((
                        Some(i),
                        format!("expected a non-negative integer seed, found {item}"),
                    ));
                };
                if seeds.contains(&seed) {
                    return Err((
                        Some(i),
                        format!("expected distinct seeds, found {seed} twice"),
                    ));
                }
                seeds.push(seed);
            }
            Ok(seeds)
        }
        other => Err((
            None,
            format!(
                "expected a seed count N (seeds 1..=N) or a list of seeds, found {}",
                other.type_str()
            ),
        )),
    }
}

/// A grid key as written: its segments below `[sweep.grid]` and spans.
struct GridKey {
    segments: Vec<String>,
    key_at: usize,
    key_span: Range<usize>,
    value_span: Range<usize>,
    item_spans: Vec<Range<usize>>,
}

/// Collects the leaves of the grid table (a quoted `"a.b"` key is one
/// segment `a.b`; an unquoted dotted key or a sub-table nests).
fn flatten_grid(table: &DeTable<'_>, prefix: &mut Vec<String>, out: &mut Vec<GridKey>) {
    for (key, value) in table.iter() {
        prefix.push(key.get_ref().to_string());
        match value.get_ref() {
            DeValue::Table(inner) => flatten_grid(inner, prefix, out),
            other => out.push(GridKey {
                segments: prefix.clone(),
                key_at: key.span().start,
                key_span: key.span(),
                value_span: value.span(),
                item_spans: match other {
                    DeValue::Array(items) => items.iter().map(|i| i.span()).collect(),
                    _ => Vec::new(),
                },
            }),
        }
        prefix.pop();
    }
}

fn lookup<'a>(table: &'a Table, segments: &[String]) -> Option<&'a Value> {
    let (first, rest) = segments.split_first()?;
    let value = table.get(first)?;
    if rest.is_empty() {
        Some(value)
    } else {
        lookup(value.as_table()?, rest)
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// One grid key, ready to expand.
struct Axis {
    name: String,
    values: Vec<Value>,
    item_spans: Vec<Range<usize>>,
    key_span: Range<usize>,
}

/// The text of a grid value: strings unquoted, others as TOML writes them.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `value_text` reduced to characters safe in a directory name.
fn sanitized(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

struct Expander<'a> {
    path: &'a Path,
    text: &'a str,
    doc: &'a DeTable<'a>,
    base: &'a Table,
    axes: &'a [Axis],
}

impl Expander<'_> {
    /// Builds and validates every point; reports each distinct problem
    /// once, at its first point, sorted by position in the file.
    fn points(&self, count: usize) -> Result<Vec<Point>, ScenarioError> {
        let mut points = Vec::with_capacity(count);
        let mut problems: Vec<(Located, String)> = Vec::new();
        let mut ids: Vec<(String, usize)> = Vec::with_capacity(count);
        for index in 0..count {
            let choice = self.choice(index);
            match self.point(&choice) {
                Ok(point) => {
                    ids.push((point.id.clone(), index));
                    points.push(point);
                }
                Err(found) => {
                    for (problem, note) in found {
                        if !problems.iter().any(|(p, _)| *p == problem) {
                            problems.push((problem, note));
                        }
                    }
                }
            }
        }
        if !problems.is_empty() {
            problems.sort_by_key(|(p, _)| (p.line, p.column));
            return Err(ScenarioError::Invalid {
                path: self.path.to_path_buf(),
                problems: problems
                    .into_iter()
                    .map(|(mut p, note)| {
                        p.message.push_str(&note);
                        p
                    })
                    .collect(),
            });
        }
        ids.sort();
        if let Some(w) = ids.windows(2).find(|w| w[0].0 == w[1].0) {
            let (line, column) =
                locate::line_column(self.text, self.axes.first().map_or(0, |a| a.key_span.start));
            return Err(ScenarioError::Parse {
                path: self.path.to_path_buf(),
                problem: Located {
                    line,
                    column,
                    key: Some("sweep.grid".into()),
                    message: format!(
                        "expected distinct grid values, found points {} and {} with the same \
                         id `{}` (a value listed twice, or values differing only in \
                         characters outside [A-Za-z0-9._+-])",
                        w[0].1, w[1].1, w[0].0
                    ),
                },
            });
        }
        Ok(points)
    }

    /// The value index of each axis at point `index` (last axis fastest).
    fn choice(&self, mut index: usize) -> Vec<usize> {
        let mut choice = vec![0; self.axes.len()];
        for (slot, axis) in choice.iter_mut().zip(self.axes).rev() {
            *slot = index % axis.values.len();
            index /= axis.values.len();
        }
        choice
    }

    /// The point of `choice`, or its problems located in the sweep file
    /// (each with a note saying which grid value or point it concerns).
    fn point(&self, choice: &[usize]) -> Result<Point, Vec<(Located, String)>> {
        let mut table = self.base.clone();
        let mut values = Vec::with_capacity(choice.len());
        let mut id_parts = Vec::with_capacity(choice.len());
        for (axis, &k) in self.axes.iter().zip(choice) {
            let value = &axis.values[k];
            let segments: Vec<&str> = axis.name.split('.').collect();
            if let Err(prefix) = set(&mut table, &segments, value.clone()) {
                let (line, column) = locate::line_column(self.text, axis.key_span.start);
                let located = Located {
                    line,
                    column,
                    key: Some(format!("sweep.grid.{}", axis.name)),
                    message: format!(
                        "expected a path into scenario tables, but `{prefix}` is not a table"
                    ),
                };
                return Err(vec![(located, String::new())]);
            }
            let text = value_text(value);
            id_parts.push(format!("{}={}", axis.name, sanitized(&text)));
            values.push(text);
        }
        let id = if id_parts.is_empty() {
            BASE_POINT_ID.to_string()
        } else {
            id_parts.join(",")
        };
        let text = toml::to_string(&table).expect("a TOML table serializes");
        let scenario =
            Scenario::parse(self.path, &text).map_err(|e| self.relocate(e, choice, &id))?;
        if id.len() > POINT_ID_MAX {
            let (line, column) = locate::line_column(self.text, self.axes[0].key_span.start);
            let located = Located {
                line,
                column,
                key: Some("sweep.grid".into()),
                message: format!(
                    "expected point ids of at most {POINT_ID_MAX} bytes (they name \
                     directories), found {} bytes: use shorter values",
                    id.len()
                ),
            };
            return Err(vec![(located, String::new())]);
        }
        Ok(Point {
            id,
            values,
            text,
            scenario,
        })
    }

    /// Moves the problems of a point's generated text into the sweep file:
    /// to the grid value when a grid key is involved, else to where the
    /// key is written.
    fn relocate(&self, e: ScenarioError, choice: &[usize], id: &str) -> Vec<(Located, String)> {
        let problems = match e {
            ScenarioError::Parse { problem, .. } => vec![problem],
            ScenarioError::Invalid { problems, .. } => problems,
            ScenarioError::Empty { .. } => vec![Located {
                line: 1,
                column: 1,
                key: None,
                message: "the scenario is empty; expected at least `name` and `nodes`".into(),
            }],
            ScenarioError::Read { .. } => unreachable!("nothing is read"),
            ScenarioError::Overridden { .. } => unreachable!("a sweep point has no --set"),
        };
        problems
            .into_iter()
            .map(|p| {
                let grid = p.key.as_deref().and_then(|key| {
                    self.axes.iter().zip(choice).find(|(a, _)| {
                        key == a.name
                            || key.starts_with(&format!("{}.", a.name))
                            || key.starts_with(&format!("{}[", a.name))
                    })
                });
                let (span, note) = match grid {
                    Some((axis, &k)) => (
                        axis.item_spans.get(k).cloned(),
                        format!(
                            " (grid value `{}` of `sweep.grid.{}`)",
                            value_text(&axis.values[k]),
                            axis.name
                        ),
                    ),
                    None => (
                        p.key
                            .as_deref()
                            .and_then(|key| locate::span_of(self.doc, key)),
                        if self.axes.is_empty() {
                            String::new()
                        } else {
                            format!(" (at grid point `{id}`)")
                        },
                    ),
                };
                let (line, column) = locate::line_column(self.text, span.map_or(0, |s| s.start));
                (
                    Located {
                        line,
                        column,
                        key: p.key,
                        message: p.message,
                    },
                    note,
                )
            })
            .collect()
    }
}

/// Sets `value` at `segments` below `table`, creating missing tables;
/// `Err` names the prefix that holds a non-table.
fn set(table: &mut Table, segments: &[&str], value: Value) -> Result<(), String> {
    let (last, parents) = segments.split_last().expect("a key has a segment");
    let mut current = table;
    for (depth, segment) in parents.iter().enumerate() {
        let entry = current
            .entry(segment.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        match entry {
            Value::Table(inner) => current = inner,
            _ => return Err(segments[..=depth].join(".")),
        }
    }
    current.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "name = \"t\"\nnodes = 4\n[run]\nrounds = 12\n";

    fn parse(sweep: &str) -> Result<Sweep, String> {
        Sweep::parse(Path::new("s.toml"), &format!("{BASE}{sweep}")).map_err(|e| e.to_string())
    }

    #[test]
    fn written_order_last_key_fastest() {
        let s = parse(
            "[sweep]\nseeds = 2\n[sweep.grid]\n\"run.rounds\" = [10, 20]\n\
             \"radio.loss_probability\" = [0.0, 0.5]\n",
        )
        .unwrap();
        assert_eq!(s.keys, ["run.rounds", "radio.loss_probability"]);
        let ids: Vec<&str> = s.points.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "run.rounds=10,radio.loss_probability=0.0",
                "run.rounds=10,radio.loss_probability=0.5",
                "run.rounds=20,radio.loss_probability=0.0",
                "run.rounds=20,radio.loss_probability=0.5",
            ]
        );
        assert_eq!(s.seeds, [1, 2]);
        assert_eq!(s.points[3].scenario.run.rounds, 20);
        assert_eq!(s.points[3].scenario.radio.loss_probability, 0.5);
        assert_eq!(s.runs().len(), 8);
        assert_eq!(s.runs()[5].point, 2);
        assert_eq!(s.runs()[5].seed, 2);
    }

    #[test]
    fn point_text_is_deterministic_and_has_no_sweep() {
        let sweep = "[sweep]\nseeds = [3]\n[sweep.grid]\n\"node.gossip_cost\" = [2.0]\n";
        let a = parse(sweep).unwrap();
        let b = parse(sweep).unwrap();
        assert_eq!(a.points[0].text, b.points[0].text);
        assert!(!a.points[0].text.contains("sweep"));
        assert!(a.points[0].text.contains("gossip_cost = 2.0"));
    }

    #[test]
    fn bad_values_are_located_at_the_grid_value() {
        let e =
            parse("[sweep]\nseeds = 1\n[sweep.grid]\n\"radio.loss_probability\" = [0.1, 1.5]\n")
                .unwrap_err();
        assert!(e.starts_with("s.toml:8:"), "{e}");
        assert!(
            e.contains("radio.loss_probability") && e.contains("1.5"),
            "{e}"
        );
    }

    #[test]
    fn no_grid_is_one_base_point() {
        let s = parse("[sweep]\nseeds = [5, 7]\n").unwrap();
        assert_eq!(s.points.len(), 1);
        assert_eq!(s.points[0].id, BASE_POINT_ID);
        assert_eq!(s.seeds, [5, 7]);
    }

    #[test]
    fn shape_errors() {
        for (sweep, needle) in [
            ("[sweep]\nseeds = []\n", "non-empty list of seeds"),
            ("[sweep]\nseeds = 0\n", "seed count"),
            ("[sweep]\nseeds = [1, 1]\n", "distinct seeds"),
            ("[sweep]\nseedz = 1\n", "unknown key `seedz`"),
            ("[sweep.grid]\n\"nodes\" = []\n", "non-empty list"),
            ("[sweep.grid]\n\"nodes\" = 4\n", "list of values"),
            ("[sweep.grid]\n\"seed\" = [1]\n", "sweep.seeds"),
            (
                "[sweep.grid]\n\"nodes.x\" = [1]\n",
                "`nodes` is not a table",
            ),
            ("[sweep.grid]\n\"nodes\" = [4, 4]\n", "same id"),
        ] {
            let e = parse(sweep).unwrap_err();
            assert!(
                e.contains(needle) && e.starts_with("s.toml:"),
                "{sweep}: {e}"
            );
        }
        let e = Sweep::parse(Path::new("s.toml"), BASE)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[sweep]"), "{e}");
    }
}
