//! Report tables: columns (format, which direction is better), cells, the best values, CSV and
//! JSON exports.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::util::csv::push_record;

/// A table: columns (with number format and which direction is better) and rows of cells.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Table {
    /// Shown above the table.
    pub caption: String,
    /// Column headers and formats.
    pub columns: Vec<Column>,
    /// Rows; each must have one cell per column.
    #[serde(default)]
    pub rows: Vec<Vec<Cell>>,
    /// Which group each row belongs to, when the rows are groups that must not be ranked against
    /// each other (models evaluated on different test videos); the best value of a column is then
    /// marked within each group. Empty: one group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<usize>,
    /// A long table the page shows collapsed: this line (the winner, the verdicts) stays in view
    /// beside the caption and the rows open on a click. `None`: shown open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// A table column: its header, whether higher or lower values are better, and decimal places.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Column {
    /// Header text.
    pub name: String,
    /// Which direction is better; `None` means no highlighting.
    #[serde(default)]
    pub better: Option<Better>,
    /// Decimal places for non-integer numbers; `None` picks about four significant digits.
    #[serde(default)]
    pub digits: Option<usize>,
}

/// Which direction of a metric is better.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Larger is better (accuracy, F1).
    Higher,
    /// Smaller is better (time, memory, loss).
    Lower,
}

/// One table cell. In JSON: a number, a string, `{"text": ..., "href": ...}` for a link, or
/// `null` for [`Cell::Missing`].
///
/// Non-finite numbers have no JSON form, so the constructors ([`Cell::num`], `From<f64>`) turn them
/// into `Missing`; a `Num(NaN)` built by hand is written as `null` and reads back as `Missing`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Cell {
    /// An integer (counts, sizes); shown without decimals.
    Int(i64),
    /// A real number, shown with the column's `digits`.
    Num(f64),
    /// Free text.
    Text(String),
    /// Text that links to another page of the report folder (a relative path such as
    /// `seed7/index.html`; [`Table::validate`] refuses anything else, so pages stay
    /// self-contained).
    Link { text: String, href: String },
    /// No value; shown as "—".
    Missing,
}

impl Table {
    /// A table with these columns and no rows yet.
    pub fn new(caption: impl Into<String>, columns: Vec<Column>) -> Table {
        Table {
            caption: caption.into(),
            columns,
            rows: Vec::new(),
            groups: Vec::new(),
            summary: None,
        }
    }

    /// Append a row; it must have one cell per column.
    pub fn add_row(&mut self, cells: Vec<Cell>) -> Result<&mut Self> {
        if cells.len() != self.columns.len() {
            return Err(Error::Report(format!(
                "table `{}`: a row has {} cells but there are {} columns",
                self.caption,
                cells.len(),
                self.columns.len()
            )));
        }
        self.rows.push(cells);
        Ok(self)
    }

    /// The table as CSV (RFC 4180): a header of column names, then one line per row with numbers
    /// at full precision (shortest round-trip form), text quoted when needed, missing cells empty.
    ///
    /// ```
    /// use vidcompare::report::{Cell, Column, Table};
    /// let mut t = Table::new("t", vec![Column::text("model"), Column::higher("accuracy", 3)]);
    /// t.add_row(vec!["RF, motion+".into(), Cell::Num(0.8888888888888888)]).unwrap();
    /// t.add_row(vec!["kNN".into(), Cell::Missing]).unwrap();
    /// assert_eq!(t.to_csv(), "model,accuracy\r\n\"RF, motion+\",0.8888888888888888\r\nkNN,\r\n");
    /// ```
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        push_record(&mut out, self.columns.iter().map(|c| c.name.as_str()));
        for row in &self.rows {
            push_record(
                &mut out,
                row.iter().map(|c| match c {
                    Cell::Int(i) => i.to_string(),
                    Cell::Num(x) if x.is_finite() => x.to_string(),
                    Cell::Num(_) | Cell::Missing => String::new(),
                    Cell::Text(t) | Cell::Link { text: t, .. } => t.clone(),
                }),
            );
        }
        out
    }

    /// The table as a JSON document: its caption, its columns (name, better, digits) and one
    /// object per row keyed by column name, numbers at full precision and missing cells `null`.
    pub fn to_export_json(&self) -> Result<String> {
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = self
            .rows
            .iter()
            .map(|row| {
                self.columns
                    .iter()
                    .zip(row)
                    .map(|(col, cell)| {
                        let v = serde_json::to_value(cell).unwrap_or(serde_json::Value::Null);
                        (col.name.clone(), v)
                    })
                    .collect()
            })
            .collect();
        serde_json::to_string_pretty(&serde_json::json!({
            "caption": self.caption,
            "columns": self.columns,
            "rows": rows,
        }))
        .map_err(|e| Error::Report(format!("table `{}`: {e}", self.caption)))
    }

    /// Every row has one cell per column, and every link is a relative path.
    pub fn validate(&self) -> Result<()> {
        for (i, row) in self.rows.iter().enumerate() {
            for cell in row {
                if let Cell::Link { href, .. } = cell
                    && !is_relative_link(href)
                {
                    return Err(Error::Report(format!(
                        "table `{}`: row {i} links to `{href}`, which is not a relative path",
                        self.caption
                    )));
                }
            }
            if row.len() != self.columns.len() {
                return Err(Error::Report(format!(
                    "table `{}`: row {i} has {} cells but there are {} columns",
                    self.caption,
                    row.len(),
                    self.columns.len()
                )));
            }
        }
        Ok(())
    }

    /// The rows holding the best value of column `col` (all of them when tied), by the column's
    /// [`Better`] direction; empty when the column has no direction or no numbers. With
    /// [`Table::groups`] set, the best value of each group.
    ///
    /// Text and missing cells are ignored. With `digits` set, values are compared as displayed, so
    /// two cells that read the same are both highlighted.
    ///
    /// ```
    /// use vidcompare::report::{Cell, Column, Table};
    /// let mut t = Table::new("t", vec![Column::text("model"), Column::lower("time", 1)]);
    /// t.add_row(vec!["a".into(), Cell::Num(2.04)]).unwrap();
    /// t.add_row(vec!["b".into(), Cell::Num(2.01)]).unwrap();
    /// t.add_row(vec!["c".into(), Cell::Missing]).unwrap();
    /// assert_eq!(t.best_rows(1), vec![0, 1]); // both read "2.0"
    /// ```
    pub fn best_rows(&self, col: usize) -> Vec<usize> {
        let Some(column) = self.columns.get(col) else {
            return Vec::new();
        };
        let Some(better) = column.better else {
            return Vec::new();
        };
        let key = |cell: &Cell| -> Option<f64> {
            let x = match cell {
                Cell::Int(i) => *i as f64,
                Cell::Num(x) if x.is_finite() => *x,
                _ => return None,
            };
            match (cell, column.digits) {
                (Cell::Num(_), Some(d)) => format!("{x:.d$}").parse().ok(),
                _ => Some(x),
            }
        };
        let group = |i: usize| self.groups.get(i).copied().unwrap_or(0);
        let values: Vec<(usize, f64)> = self
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, row)| row.get(col).and_then(key).map(|v| (i, v)))
            .collect();
        let best_of = |g: usize| {
            values
                .iter()
                .filter(|&&(i, _)| group(i) == g)
                .map(|&(_, v)| v)
                .reduce(|a, b| match better {
                    Better::Higher => a.max(b),
                    Better::Lower => a.min(b),
                })
        };
        values
            .iter()
            .filter(|&&(i, v)| best_of(group(i)) == Some(v))
            .map(|&(i, _)| i)
            .collect()
    }
}

impl Column {
    /// A text column (left-aligned, never highlighted).
    pub fn text(name: impl Into<String>) -> Column {
        Column {
            name: name.into(),
            better: None,
            digits: None,
        }
    }

    /// A number column with `digits` decimals and no highlighting.
    pub fn num(name: impl Into<String>, digits: usize) -> Column {
        Column {
            name: name.into(),
            better: None,
            digits: Some(digits),
        }
    }

    /// A number column whose largest value is highlighted (accuracy, F1).
    pub fn higher(name: impl Into<String>, digits: usize) -> Column {
        Column {
            better: Some(Better::Higher),
            ..Column::num(name, digits)
        }
    }

    /// A number column whose smallest value is highlighted (time, memory).
    pub fn lower(name: impl Into<String>, digits: usize) -> Column {
        Column {
            better: Some(Better::Lower),
            ..Column::num(name, digits)
        }
    }

    /// Whether the column holds numbers (so it is right-aligned).
    pub fn is_numeric(&self) -> bool {
        self.digits.is_some() || self.better.is_some()
    }
}

/// A link a self-contained page may hold: a relative path, no scheme, no leading `/`, no `..`.
pub(crate) fn is_relative_link(href: &str) -> bool {
    !href.is_empty()
        && !href.starts_with('/')
        && !href.contains(':')
        && !href.contains('\\')
        && href.split('/').all(|part| part != "..")
}

impl Cell {
    /// A link cell: `text` shown, pointing at the relative path `href`.
    pub fn link(text: impl Into<String>, href: impl Into<String>) -> Cell {
        Cell::Link {
            text: text.into(),
            href: href.into(),
        }
    }

    /// A number cell; NaN and infinities become [`Cell::Missing`] because JSON cannot hold them.
    pub fn num(x: f64) -> Cell {
        if x.is_finite() {
            Cell::Num(x)
        } else {
            Cell::Missing
        }
    }

    /// The cell as a number, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Num(x) if x.is_finite() => Some(*x),
            _ => None,
        }
    }

    /// The cell as shown: integers plain, reals with `digits` decimals (about four significant
    /// digits when `None`), text as is, missing as "—".
    pub fn display(&self, digits: Option<usize>) -> String {
        match self {
            Cell::Int(i) => i.to_string(),
            Cell::Num(x) if !x.is_finite() => "—".to_string(),
            Cell::Num(x) => match digits {
                Some(d) => format!("{x:.d$}"),
                None => format_general(*x),
            },
            Cell::Text(s) | Cell::Link { text: s, .. } => s.clone(),
            Cell::Missing => "—".to_string(),
        }
    }
}

/// About four significant digits, trailing zeros trimmed; scientific (`2.5e-5`) outside 1e-3..1e6.
pub(crate) fn format_general(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    let a = x.abs();
    if !(1e-3..1e6).contains(&a) {
        return trim_zeros(&format!("{x:.3e}"));
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    trim_zeros(&format!("{x:.decimals$}"))
}

/// `2.500` -> `2.5`, `3.000e-5` -> `3e-5`, `120` stays: trailing zeros of the decimals (of the
/// mantissa, in scientific form) and a dangling point removed.
pub(crate) fn trim_zeros(s: &str) -> String {
    let (number, exp) = match s.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (s, None),
    };
    let number = if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    };
    match exp {
        Some(e) => format!("{number}e{e}"),
        None => number.to_string(),
    }
}

/// `impl From<$t> for Cell` with the conversion given as a closure.
macro_rules! cell_from {
    ($($t:ty => $f:expr),* $(,)?) => {$(
        impl From<$t> for Cell {
            fn from(v: $t) -> Cell {
                let f: fn($t) -> Cell = $f;
                f(v)
            }
        }
    )*};
}

cell_from! {
    f64 => Cell::num,
    f32 => |x| Cell::num(f64::from(x)),
    i64 => Cell::Int,
    i32 => |i| Cell::Int(i64::from(i)),
    usize => |i| i64::try_from(i).map_or(Cell::Num(i as f64), Cell::Int),
    &str => |s| Cell::Text(s.to_string()),
    String => Cell::Text,
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Cell {
        v.map_or(Cell::Missing, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(better: Better, cells: Vec<Cell>) -> Table {
        let col = Column {
            name: "m".into(),
            better: Some(better),
            digits: Some(3),
        };
        let mut t = Table::new("t", vec![col]);
        for c in cells {
            t.add_row(vec![c]).unwrap();
        }
        t
    }

    #[test]
    fn best_rows_higher_with_ties_and_missing() {
        let t = table(
            Better::Higher,
            vec![
                Cell::Num(0.5),
                Cell::Missing,
                Cell::Num(0.9),
                Cell::Text("n/a".into()),
                Cell::Num(0.9),
                Cell::Int(0),
            ],
        );
        assert_eq!(t.best_rows(0), vec![2, 4]);
    }

    #[test]
    fn best_rows_lower_mixes_ints_and_reals() {
        let t = table(
            Better::Lower,
            vec![Cell::Int(3), Cell::Num(2.5), Cell::Missing, Cell::Int(7)],
        );
        assert_eq!(t.best_rows(0), vec![1]);
    }

    #[test]
    fn best_rows_within_each_group() {
        let mut t = Table::new("t", vec![Column::higher("acc", 3)]);
        for x in [0.9, 0.5, 0.7, 0.7] {
            t.add_row(vec![Cell::Num(x)]).unwrap();
        }
        assert_eq!(t.best_rows(0), vec![0]);
        t.groups = vec![0, 0, 1, 1];
        assert_eq!(t.best_rows(0), vec![0, 2, 3]);
    }

    #[test]
    fn best_rows_empty_without_direction_or_numbers() {
        let mut t = Table::new("t", vec![Column::num("x", 2), Column::higher("y", 2)]);
        t.add_row(vec![Cell::Num(1.0), Cell::Missing]).unwrap();
        assert!(t.best_rows(0).is_empty());
        assert!(t.best_rows(1).is_empty());
        assert!(t.best_rows(5).is_empty());
    }

    #[test]
    fn nan_cells_become_missing_and_json_stays_valid() {
        assert_eq!(Cell::from(f64::NAN), Cell::Missing);
        assert_eq!(Cell::from(f64::INFINITY), Cell::Missing);
        let json = serde_json::to_string(&vec![Cell::Num(f64::NAN), Cell::Int(2)]).unwrap();
        assert_eq!(json, "[null,2]");
        let cells: Vec<Cell> = serde_json::from_str("[null, 2, 2.5, \"x\"]").unwrap();
        assert_eq!(
            cells,
            vec![
                Cell::Missing,
                Cell::Int(2),
                Cell::Num(2.5),
                Cell::Text("x".into())
            ]
        );
    }

    #[test]
    fn cell_display() {
        assert_eq!(Cell::Num(0.123456).display(Some(2)), "0.12");
        assert_eq!(Cell::Num(2.5).display(Some(0)), "2");
        assert_eq!(Cell::Int(42).display(Some(3)), "42");
        assert_eq!(Cell::Missing.display(Some(3)), "—");
        assert_eq!(Cell::Num(0.123456).display(None), "0.1235");
        assert_eq!(Cell::Num(1234.5678).display(None), "1235");
        assert_eq!(Cell::Num(2.5e-5).display(None), "2.5e-5");
        assert_eq!(Cell::Num(-1.23456e7).display(None), "-1.235e7");
    }

    #[test]
    fn row_width_is_checked() {
        let mut t = Table::new("t", vec![Column::text("a"), Column::text("b")]);
        assert!(t.add_row(vec!["x".into()]).is_err());
        t.rows.push(vec!["x".into()]);
        let err = t.validate().unwrap_err().to_string();
        assert!(
            err.contains("row 0 has 1 cells but there are 2 columns"),
            "{err}"
        );
    }
}
