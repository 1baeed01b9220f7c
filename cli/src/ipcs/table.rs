//! The tables of `ipcshim ipcs`: rows of cells padded as util-linux's
//! printf formats pad them, one space apart, under a section's title.

use std::fmt::{Display, Write};

/// One cell of a table row as util-linux's printf puts it: the text padded
/// with spaces to `width` (on the left if `right`), after `gap` spaces more
/// than the one between cells.
pub struct Cell {
    text: String,
    width: usize,
    right: bool,
    gap: usize,
}

impl Cell {
    /// Some of util-linux's formats space their columns unevenly.
    pub fn gap(self, gap: usize) -> Cell {
        Cell { gap, ..self }
    }
}

/// `%-Ns`.
pub fn left(text: impl Display, width: usize) -> Cell {
    Cell { text: text.to_string(), width, right: false, gap: 0 }
}

/// `%Ns`.
pub fn right(text: impl Display, width: usize) -> Cell {
    Cell { right: true, ..left(text, width) }
}

/// A cell its maker has already padded (user and group names, sizes).
pub fn padded(text: String) -> Cell {
    left(text, 0)
}

/// One line of a table: its cells, one space apart.
pub fn row(out: &mut String, cells: &[Cell]) {
    for (n, Cell { text, width, right, gap }) in cells.iter().enumerate() {
        let space = usize::from(n > 0) + gap;
        let _ = if *right {
            write!(out, "{:space$}{text:>width$}", "")
        } else {
            write!(out, "{:space$}{text:<width$}", "")
        };
    }
    out.push('\n');
}

/// A section's title line and its line of column names, each name
/// left-aligned in its width.
pub fn header(out: &mut String, name: &str, columns: &[(&str, usize)]) {
    title(out, name);
    column_names(out, columns);
}

pub fn title(out: &mut String, name: &str) {
    let _ = writeln!(out, "------ {name} --------");
}

pub fn column_names(out: &mut String, columns: &[(&str, usize)]) {
    row(out, &columns.iter().map(|&(name, width)| left(name, width)).collect::<Vec<_>>());
}
