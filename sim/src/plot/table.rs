//! A CSV read by column name: the plots ask for the columns they need, and
//! a missing column or a cell that is not a number is reported with the
//! file, the column and the row.

use std::path::{Path, PathBuf};

use super::error::PlotError;

/// A CSV file's header and cells, as text.
#[derive(Clone, Debug)]
pub struct Table {
    file: PathBuf,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads `file`; an absent file is [`PlotError::NotFound`], a file
    /// without a header or a data row [`PlotError::Empty`].
    pub fn read(file: &Path) -> Result<Table, PlotError> {
        if !file.is_file() {
            return Err(PlotError::NotFound(file.to_path_buf()));
        }
        let bytes = std::fs::read(file).map_err(|e| PlotError::Read(file.to_path_buf(), e))?;
        Table::parse(file, &bytes)
    }

    /// Parses CSV `bytes`; `file` names them in errors.
    pub fn parse(file: &Path, bytes: &[u8]) -> Result<Table, PlotError> {
        let csv_error = |e: csv::Error| PlotError::Csv(file.to_path_buf(), e.to_string());
        let mut reader = csv::Reader::from_reader(bytes);
        let header: Vec<String> = reader
            .headers()
            .map_err(csv_error)?
            .iter()
            .map(str::to_string)
            .collect();
        let rows = reader
            .records()
            .map(|r| r.map(|r| r.iter().map(str::to_string).collect()))
            .collect::<Result<Vec<Vec<String>>, _>>()
            .map_err(csv_error)?;
        if header.iter().all(String::is_empty) || rows.is_empty() {
            return Err(PlotError::Empty(file.to_path_buf()));
        }
        Ok(Table {
            file: file.to_path_buf(),
            header,
            rows,
        })
    }

    /// The file the table was read from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no data row (never, once read).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Whether the header names `column`.
    pub fn has(&self, column: &str) -> bool {
        self.index(column).is_some()
    }

    fn index(&self, column: &str) -> Option<usize> {
        self.header.iter().position(|h| h == column)
    }

    fn require(&self, column: &str) -> Result<usize, PlotError> {
        self.index(column).ok_or_else(|| PlotError::MissingColumn {
            file: self.file.clone(),
            column: column.to_string(),
        })
    }

    /// The cells of `column` as text.
    pub fn text(&self, column: &str) -> Result<Vec<&str>, PlotError> {
        let i = self.require(column)?;
        Ok(self
            .rows
            .iter()
            .map(|r| r.get(i).map_or("", String::as_str))
            .collect())
    }

    /// The cells of `column` as numbers; `NaN` and an empty cell are NaN
    /// (a figure that is not defined in that row).
    pub fn floats(&self, column: &str) -> Result<Vec<f64>, PlotError> {
        let i = self.require(column)?;
        self.rows
            .iter()
            .enumerate()
            .map(|(n, r)| {
                let cell = r.get(i).map_or("", |c| c.trim());
                if cell.is_empty() {
                    return Ok(f64::NAN);
                }
                cell.parse::<f64>().map_err(|_| PlotError::BadValue {
                    file: self.file.clone(),
                    column: column.to_string(),
                    row: n + 1,
                    value: cell.to_string(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Table, PlotError> {
        Table::parse(Path::new("t.csv"), text.as_bytes())
    }

    #[test]
    fn columns_are_read_by_name_and_nan_is_a_number() {
        let t = parse("a,b\n1,NaN\n2.5,\n").unwrap();
        assert_eq!(t.floats("a").unwrap(), vec![1.0, 2.5]);
        let b = t.floats("b").unwrap();
        assert!(b[0].is_nan() && b[1].is_nan());
    }

    #[test]
    fn errors_name_the_file_the_column_and_the_row() {
        assert!(matches!(parse(""), Err(PlotError::Empty(_))));
        assert!(matches!(parse("a,b\n"), Err(PlotError::Empty(_))));
        let t = parse("a\nx\n").unwrap();
        let e = t.floats("a").unwrap_err().to_string();
        assert!(
            e.contains("t.csv") && e.contains("row 1") && e.contains("`a`"),
            "{e}"
        );
        let e = t.floats("zz").unwrap_err().to_string();
        assert_eq!(e, "t.csv: no column `zz`");
    }
}
