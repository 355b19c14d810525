//! Tables as aligned plain text, for the evcxr REPL and `Display`.

use crate::report::{Cell, Table};

/// A table as aligned text: caption, header, a rule, rows; the best value of each ranked column
/// is marked with `*`.
pub fn table_text(t: &Table) -> String {
    let best: Vec<Vec<usize>> = (0..t.columns.len()).map(|c| t.best_rows(c)).collect();
    let header: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    let body: Vec<Vec<String>> = t
        .rows
        .iter()
        .enumerate()
        .map(|(r, row)| {
            row.iter()
                .enumerate()
                .map(|(c, cell)| {
                    let digits = t.columns.get(c).and_then(|c| c.digits);
                    let mark = if best.get(c).is_some_and(|b| b.contains(&r)) {
                        "*"
                    } else {
                        ""
                    };
                    format!("{}{mark}", cell.display(digits))
                })
                .collect()
        })
        .collect();
    let numeric: Vec<bool> = t
        .columns
        .iter()
        .enumerate()
        .map(|(c, col)| {
            col.is_numeric()
                || t.rows
                    .iter()
                    .any(|r| matches!(r.get(c), Some(Cell::Int(_) | Cell::Num(_))))
        })
        .collect();
    let mut out = String::new();
    if !t.caption.is_empty() {
        out.push_str(&t.caption);
        out.push('\n');
    }
    out.push_str(&aligned(&header, &body, &numeric));
    if best.iter().any(|b| !b.is_empty()) {
        out.push_str("\n(* best)");
    }
    out
}

/// Columns padded to their widest cell (counted in characters), numbers right-aligned.
pub fn aligned(header: &[String], body: &[Vec<String>], numeric: &[bool]) -> String {
    let n = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in body {
        for (c, cell) in row.iter().enumerate().take(n) {
            widths[c] = widths[c].max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (c, cell) in cells.iter().enumerate().take(n) {
            if c > 0 {
                s.push_str("  ");
            }
            let pad = widths[c].saturating_sub(cell.chars().count());
            if numeric.get(c).copied().unwrap_or(false) {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(pad));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(header);
    out.push('\n');
    out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * n.saturating_sub(1)));
    for row in body {
        out.push('\n');
        out.push_str(&line(row));
    }
    out
}
