//! From byte offsets to dotted key paths and back, on the parsed TOML tree.
//!
//! serde reports where a value failed to deserialize as a byte span but not
//! the key; validation reports the key but not the span. Both are mapped
//! here, through toml's spanned document tree, so every scenario error can
//! name the file, line, column *and* key.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// A 1-based line and column (in characters) of a byte offset in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The dotted key path (`radio.loss_probability`, `dataset.storms[1].noise_std`)
/// of the deepest key or value whose span contains `offset`, if any.
///
/// Tables opened by a `[header]` span only their header in toml's tree, so
/// every table is searched whatever its own span.
pub fn path_at(root: &DeTable<'_>, offset: usize) -> Option<String> {
    search_table(root, offset, 0)
}

const MAX_DEPTH: usize = 32;

fn search_table(table: &DeTable<'_>, offset: usize, depth: usize) -> Option<String> {
    if depth > MAX_DEPTH {
        return None;
    }
    for (key, value) in table.iter() {
        let name = key.get_ref();
        if let Some(inner) = search_value(value.get_ref(), offset, depth + 1) {
            return Some(format!("{name}{inner}"));
        }
        if key.span().contains(&offset) || value.span().contains(&offset) {
            return Some(name.to_string());
        }
    }
    None
}

/// The path below `value` (starting with `.` or `[i]`) that holds `offset`.
fn search_value(value: &DeValue<'_>, offset: usize, depth: usize) -> Option<String> {
    match value {
        DeValue::Table(table) => search_table(table, offset, depth).map(|p| format!(".{p}")),
        DeValue::Array(array) => array.iter().enumerate().find_map(|(index, item)| {
            match search_value(item.get_ref(), offset, depth + 1) {
                Some(inner) => Some(format!("[{index}]{inner}")),
                None => item.span().contains(&offset).then(|| format!("[{index}]")),
            }
        }),
        _ => None,
    }
}

/// The span of the value at a dotted key path, or, when the key is absent,
/// of its deepest present ancestor; `None` when nothing of the path exists.
pub fn span_of(root: &DeTable<'_>, path: &str) -> Option<Range<usize>> {
    let mut table = root;
    let mut best: Option<Range<usize>> = None;
    for segment in path.split('.') {
        let (name, indices) = split_indices(segment);
        let Some((_, value)) = table.iter().find(|(k, _)| k.get_ref() == name) else {
            return best;
        };
        let mut current = value;
        best = Some(current.span());
        for index in indices {
            let DeValue::Array(array) = current.get_ref() else {
                return best;
            };
            let Some(item) = array.get(index) else {
                return best;
            };
            current = item;
            best = Some(current.span());
        }
        match current.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => return best,
        }
    }
    best
}

/// `storms[2][0]` → (`storms`, [2, 0]).
fn split_indices(segment: &str) -> (&str, Vec<usize>) {
    let name_end = segment.find('[').unwrap_or(segment.len());
    let indices = segment[name_end..]
        .split(['[', ']'])
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    (&segment[..name_end], indices)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name = \"x\"\n[radio]\nloss_probability = 1.5\n\n[[dataset.storms]]\nnoise_std = 1\n[[dataset.storms]]\nnoise_std = -2\n";

    #[test]
    fn line_and_column() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("é\nx", 3), (2, 1));
    }

    #[test]
    fn path_of_an_offset() {
        let doc = DeTable::parse(DOC).unwrap();
        let at = DOC.find("1.5").unwrap();
        assert_eq!(
            path_at(doc.get_ref(), at).as_deref(),
            Some("radio.loss_probability")
        );
        let at = DOC.find("-2").unwrap();
        assert_eq!(
            path_at(doc.get_ref(), at).as_deref(),
            Some("dataset.storms[1].noise_std")
        );
    }

    #[test]
    fn span_of_a_path() {
        let doc = DeTable::parse(DOC).unwrap();
        let span = span_of(doc.get_ref(), "radio.loss_probability").unwrap();
        assert_eq!(&DOC[span], "1.5");
        let span = span_of(doc.get_ref(), "dataset.storms[1].noise_std").unwrap();
        assert_eq!(&DOC[span], "-2");
        // Absent key: falls back to its section.
        let span = span_of(doc.get_ref(), "radio.bitrate_bps").unwrap();
        assert_eq!(line_column(DOC, span.start).0, 2);
        assert_eq!(span_of(doc.get_ref(), "energy.capacity_j"), None);
    }
}
