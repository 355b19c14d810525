//! Datasets in evcxr: videos per class and split as a table.

use std::fmt;

use super::protocol::{EvcxrDisplay, MimeBundle};
use super::text::table_text;
use crate::dataset::{Dataset, SplitName};
use crate::report::{Cell, Column, Table, table_html};

/// Split sizes per class as a table: one row per split, one column per class, and the total.
pub fn dataset_table(ds: &Dataset) -> Table {
    let mut columns = vec![Column::text("split")];
    columns.extend(ds.class_names.iter().map(|c| Column::num(c.clone(), 0)));
    columns.push(Column::num("videos", 0));
    let rows = SplitName::ALL
        .iter()
        .map(|&s| {
            let counts = ds.class_counts(s);
            let mut row = vec![Cell::Text(s.to_string())];
            row.extend(counts.iter().map(|&c| Cell::Int(c as i64)));
            row.push(Cell::Int(ds.split(s).len() as i64));
            row
        })
        .collect();
    let mut t = Table::new(
        format!(
            "{}: {} classes, {} videos",
            ds.root.display(),
            ds.n_classes(),
            ds.train.len() + ds.val.len() + ds.test.len()
        ),
        columns,
    );
    t.rows = rows;
    t
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&table_text(&dataset_table(self)))
    }
}

impl EvcxrDisplay for Dataset {
    fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::text(self.to_string()).with("text/html", table_html(&dataset_table(self)))
    }
}
