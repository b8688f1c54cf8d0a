//! Data files for `{column = "..."}` leaves: a CSV file with a header row, or JSON
//! lines (one object per line), read once per process into one flat byte pool that
//! every worker shares read-only behind an `Arc`.
//!
//! Cells are stored ready to render: a CSV cell spelled as a JSON number is emitted as
//! a number, any other CSV cell as a string; a JSON-lines value keeps its JSON type
//! (strings are stored unescaped and escaped at render time, so they can also land in
//! a path or header). A key missing from a JSON line renders as `null`.

use std::path::{Path, PathBuf};

use super::escape::is_json_number;

/// The pool is addressed with 31-bit offsets; the top bit of a cell marks a string.
const MAX_DATA_BYTES: usize = (1 << 31) - 1;
const STRING_BIT: u32 = 1 << 31;

/// A table of rows loaded from a data file.
#[derive(Debug)]
pub struct DataSet {
    path: PathBuf,
    columns: Vec<String>,
    rows: usize,
    /// Every cell's bytes, row-major.
    bytes: Vec<u8>,
    /// Per cell: end offset into `bytes` (low 31 bits), `STRING_BIT` if a string.
    cells: Vec<u32>,
    /// Per column: the longest cell, to size render buffers up front.
    widest: Vec<usize>,
}

/// One cell of a row: raw bytes, and whether they are a string (else JSON text).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cell<'a> {
    pub bytes: &'a [u8],
    pub string: bool,
}

impl DataSet {
    /// Reads `path`, choosing the format by extension: `.csv`, or `.jsonl` / `.ndjson`
    /// / `.json` for JSON lines. The error is a message without the path.
    pub fn load(path: &Path) -> Result<DataSet, String> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let text = std::fs::read(path).map_err(|e| format!("cannot read data file: {e}"))?;
        let mut builder = Builder::new(path);
        match ext.as_str() {
            "csv" => builder.csv(&text)?,
            "jsonl" | "ndjson" | "json" => builder.json_lines(&text)?,
            _ => return Err("data file must end in .csv, .jsonl or .ndjson".to_string()),
        }
        builder.finish()
    }

    /// Where the rows came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Column names in file order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub(crate) fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The longest cell of column `col`, in bytes.
    pub(crate) fn widest(&self, col: usize) -> usize {
        self.widest.get(col).copied().unwrap_or(0)
    }

    /// The cell at `row`, `col`; an empty string when out of range.
    pub(crate) fn cell(&self, row: usize, col: usize) -> Cell<'_> {
        let width = self.columns.len();
        let index = row.saturating_mul(width).saturating_add(col);
        let (Some(&end), true) = (self.cells.get(index), col < width) else {
            return Cell {
                bytes: b"",
                string: true,
            };
        };
        let start = match index.checked_sub(1) {
            Some(prev) => (self.cells[prev] & !STRING_BIT) as usize,
            None => 0,
        };
        let end_offset = (end & !STRING_BIT) as usize;
        Cell {
            bytes: &self.bytes[start..end_offset],
            string: end & STRING_BIT != 0,
        }
    }
}

/// Accumulates cells row by row.
struct Builder {
    set: DataSet,
}

impl Builder {
    fn new(path: &Path) -> Self {
        Builder {
            set: DataSet {
                path: path.to_path_buf(),
                columns: Vec::new(),
                rows: 0,
                bytes: Vec::new(),
                cells: Vec::new(),
                widest: Vec::new(),
            },
        }
    }

    fn set_columns(&mut self, columns: Vec<String>) -> Result<(), String> {
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].contains(c) {
                return Err(format!("data file has column {c:?} twice"));
            }
        }
        self.set.widest = vec![0; columns.len()];
        self.set.columns = columns;
        Ok(())
    }

    fn push(&mut self, col: usize, bytes: &[u8], string: bool) -> Result<(), String> {
        self.set.bytes.extend_from_slice(bytes);
        if self.set.bytes.len() > MAX_DATA_BYTES {
            return Err(format!(
                "data file is too large (more than {MAX_DATA_BYTES} bytes of cells)"
            ));
        }
        let end = self.set.bytes.len() as u32;
        self.set
            .cells
            .push(if string { end | STRING_BIT } else { end });
        if let Some(w) = self.set.widest.get_mut(col) {
            *w = (*w).max(bytes.len());
        }
        Ok(())
    }

    fn csv(&mut self, text: &[u8]) -> Result<(), String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(text);
        let headers = reader
            .headers()
            .map_err(|e| format!("data file: {e}"))?
            .iter()
            .map(str::to_string)
            .collect();
        self.set_columns(headers)?;
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Err(format!("data file: {e}")),
            }
            for (col, field) in record.iter().enumerate() {
                let bytes = field.as_bytes();
                self.push(col, bytes, !is_json_number(bytes))?;
            }
            self.set.rows += 1;
        }
        Ok(())
    }

    fn json_lines(&mut self, text: &[u8]) -> Result<(), String> {
        let mut objects = Vec::new();
        let mut columns: Vec<String> = Vec::new();
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(line)
                    .map_err(|e| format!("data file line {}: {e}", i + 1))?;
            for key in object.keys() {
                if !columns.contains(key) {
                    columns.push(key.clone());
                }
            }
            objects.push(object);
        }
        self.set_columns(columns.clone())?;
        for object in &objects {
            for (col, name) in columns.iter().enumerate() {
                match object.get(name) {
                    Some(serde_json::Value::String(s)) => self.push(col, s.as_bytes(), true)?,
                    Some(other) => {
                        let json = serde_json::to_vec(other).map_err(|e| e.to_string())?;
                        self.push(col, &json, false)?;
                    }
                    None => self.push(col, b"null", false)?,
                }
            }
            self.set.rows += 1;
        }
        Ok(())
    }

    fn finish(self) -> Result<DataSet, String> {
        if self.set.rows == 0 {
            return Err("data file has no rows".to_string());
        }
        Ok(self.set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> Result<DataSet, String> {
        let mut b = Builder::new(Path::new("t.csv"));
        b.csv(text.as_bytes())?;
        b.finish()
    }

    fn jsonl(text: &str) -> Result<DataSet, String> {
        let mut b = Builder::new(Path::new("t.jsonl"));
        b.json_lines(text.as_bytes())?;
        b.finish()
    }

    fn cell(d: &DataSet, row: usize, col: usize) -> (String, bool) {
        let c = d.cell(row, col);
        (String::from_utf8(c.bytes.to_vec()).unwrap(), c.string)
    }

    #[test]
    fn csv_numbers_stay_numbers_and_the_rest_are_strings() {
        let d = csv("age,name,zip\n63,\"Ann, \"\"A\"\"\",01234\n-1.5,,7\n").unwrap();
        assert_eq!(d.columns(), ["age", "name", "zip"]);
        assert_eq!(d.rows(), 2);
        assert_eq!(cell(&d, 0, 0), ("63".into(), false));
        assert_eq!(cell(&d, 0, 1), ("Ann, \"A\"".into(), true));
        assert_eq!(cell(&d, 0, 2), ("01234".into(), true));
        assert_eq!(cell(&d, 1, 0), ("-1.5".into(), false));
        assert_eq!(cell(&d, 1, 1), ("".into(), true));
        assert_eq!(cell(&d, 1, 2), ("7".into(), false));
        assert_eq!(d.widest(1), 8);
    }

    #[test]
    fn out_of_range_cells_are_empty_not_panics() {
        let d = csv("a\n1\n").unwrap();
        assert_eq!(cell(&d, 5, 0), ("".into(), true));
        assert_eq!(cell(&d, 0, 3), ("".into(), true));
        assert_eq!(cell(&d, usize::MAX, usize::MAX), ("".into(), true));
    }

    #[test]
    fn json_lines_keep_types_and_fill_missing_with_null() {
        let d = jsonl("{\"a\": 1, \"b\": \"x\\ny\"}\n\n{\"a\": [1, {\"c\": true}], \"d\": null}\n")
            .unwrap();
        assert_eq!(d.columns(), ["a", "b", "d"]);
        assert_eq!(cell(&d, 0, 1), ("x\ny".into(), true));
        assert_eq!(cell(&d, 0, 2), ("null".into(), false));
        assert_eq!(cell(&d, 1, 0), ("[1,{\"c\":true}]".into(), false));
        assert_eq!(cell(&d, 1, 1), ("null".into(), false));
    }

    #[test]
    fn bad_data_files_are_errors() {
        for (result, want) in [
            (csv("a,b\n"), "data file has no rows"),
            (csv("a,a\n1,2\n"), "data file has column \"a\" twice"),
            (jsonl(""), "data file has no rows"),
            (jsonl("{\"a\":1}\n[1]\n"), "data file line 2: "),
        ] {
            let err = result.unwrap_err();
            assert!(err.starts_with(want), "{err}");
        }
        assert!(csv("a,b\n1,2\n3\n").unwrap_err().starts_with("data file: "));
    }

    #[test]
    fn load_reports_unreadable_files_and_unknown_formats() {
        let err = DataSet::load(Path::new("/nonexistent/rows.csv")).unwrap_err();
        assert!(err.starts_with("cannot read data file: "), "{err}");
        let dir = std::env::temp_dir().join(format!("blast-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let odd = dir.join("rows.txt");
        std::fs::write(&odd, "a\n1\n").unwrap();
        assert_eq!(
            DataSet::load(&odd).unwrap_err(),
            "data file must end in .csv, .jsonl or .ndjson"
        );
        let good = dir.join("rows.csv");
        std::fs::write(&good, "a\n1\n").unwrap();
        assert_eq!(DataSet::load(&good).unwrap().rows(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
