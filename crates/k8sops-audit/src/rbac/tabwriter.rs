//! Go's `text/tabwriter` as vendored by kubectl (`github.com/liggitt/tabwriter`,
//! the 2018 fork with `RememberWidths`), configured as
//! `k8s.io/cli-runtime/pkg/printers.GetNewTabWriter`: minwidth 6, tabwidth 4,
//! padding 3, pad character ' ', flags `RememberWidths`. Cells end at `\t`
//! or `\v`, lines at `\n` or `\f`; widths count code points. The escape byte
//! 0xff cannot occur in a Rust string and HTML filtering is off.

/// `GetNewTabWriter`'s minimal cell width, padding included.
pub(crate) const KUBECTL_MIN_WIDTH: usize = 6;
/// `GetNewTabWriter`'s padding.
pub(crate) const KUBECTL_PADDING: usize = 3;

#[derive(Clone, Copy, Debug, Default)]
struct Cell {
    /// Size in bytes.
    size: usize,
    /// Width in code points.
    width: usize,
}

/// The column-block recursion of `format`, unrolled.
struct Frame {
    line0: usize,
    this: usize,
    line1: usize,
}

pub(crate) struct TabWriter {
    minwidth: usize,
    padding: usize,
    buf: String,
    /// Position up to which the current cell's width has been counted.
    pos: usize,
    cell: Cell,
    lines: Vec<Vec<Cell>>,
    widths: Vec<usize>,
    maxwidths: Vec<usize>,
    out: String,
}

impl TabWriter {
    pub(crate) fn new(minwidth: usize, padding: usize) -> Self {
        let mut w = Self {
            minwidth,
            padding,
            buf: String::new(),
            pos: 0,
            cell: Cell::default(),
            lines: Vec::new(),
            widths: Vec::new(),
            maxwidths: Vec::new(),
            out: String::new(),
        };
        w.reset();
        w
    }

    /// The writer kubectl's printers use.
    pub(crate) fn kubectl() -> Self {
        Self::new(KUBECTL_MIN_WIDTH, KUBECTL_PADDING)
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.pos = 0;
        self.cell = Cell::default();
        self.lines.clear();
        self.widths.clear();
        self.lines.push(Vec::new());
    }

    fn append(&mut self, text: &str) {
        self.buf.push_str(text);
        self.cell.size += text.len();
    }

    fn update_width(&mut self) {
        self.cell.width += self.buf.get(self.pos..).map_or(0, |s| s.chars().count());
        self.pos = self.buf.len();
    }

    /// Ends the current cell; returns the number of cells of the line.
    fn terminate_cell(&mut self) -> usize {
        let cell = std::mem::take(&mut self.cell);
        match self.lines.last_mut() {
            Some(line) => {
                line.push(cell);
                line.len()
            }
            None => {
                self.lines.push(vec![cell]);
                1
            }
        }
    }

    pub(crate) fn write(&mut self, text: &str) {
        let mut start = 0;
        for (i, ch) in text.char_indices() {
            if matches!(ch, '\t' | '\u{b}' | '\n' | '\u{c}') {
                self.append(text.get(start..i).unwrap_or(""));
                self.update_width();
                start = i + 1;
                let ncells = self.terminate_cell();
                if ch == '\n' || ch == '\u{c}' {
                    self.lines.push(Vec::new());
                    if ch == '\u{c}' || ncells == 1 {
                        self.flush();
                    }
                }
            }
        }
        self.append(text.get(start..).unwrap_or(""));
    }

    pub(crate) fn flush(&mut self) {
        if self.cell.size > 0 {
            self.terminate_cell();
        }
        self.format();
        self.reset();
    }

    /// Flushes and returns everything written out.
    pub(crate) fn finish(mut self) -> String {
        self.flush();
        self.out
    }

    fn write_padding(&mut self, text_width: usize, cell_width: usize) {
        for _ in text_width..cell_width {
            self.out.push(' ');
        }
    }

    fn write_lines(&mut self, mut pos: usize, line0: usize, line1: usize) -> usize {
        for i in line0..line1 {
            let cells = self.lines.get(i).cloned().unwrap_or_default();
            for (j, c) in cells.iter().enumerate() {
                if c.size > 0 {
                    let text = self.buf.get(pos..pos + c.size).unwrap_or("");
                    self.out.push_str(text);
                    pos += c.size;
                }
                if let Some(&w) = self.widths.get(j) {
                    self.write_padding(c.width, w);
                }
            }
            if i + 1 == self.lines.len() {
                // The last buffered line has no newline: write the pending cell text.
                let text = self.buf.get(pos..pos + self.cell.size).unwrap_or("");
                self.out.push_str(text);
                pos += self.cell.size;
            } else {
                self.out.push('\n');
            }
        }
        pos
    }

    /// Whether line `i` has a tab-terminated cell in column `column`.
    fn has_column(&self, i: usize, column: usize) -> bool {
        self.lines.get(i).is_some_and(|l| l.len() > column + 1)
    }

    fn format(&mut self) {
        let mut pos = 0;
        let mut stack = vec![Frame { line0: 0, this: 0, line1: self.lines.len() }];
        while let Some(top) = stack.last() {
            let column = stack.len() - 1;
            let (line0, line1) = (top.line0, top.line1);
            let mut this = top.this;
            while this < line1 && !self.has_column(this, column) {
                this += 1;
            }
            if this >= line1 {
                pos = self.write_lines(pos, line0, line1);
                stack.pop();
                self.widths.pop();
                if let Some(parent) = stack.last_mut() {
                    // The parent resumes after the block it just printed.
                    parent.line0 = parent.this;
                    parent.this += 1;
                }
                continue;
            }
            // A column block starts at `this`: print the lines before it.
            pos = self.write_lines(pos, line0, this);
            let start = this;
            let mut width = self.minwidth;
            let mut end = start;
            while end < line1 && self.has_column(end, column) {
                let w = self.lines.get(end).and_then(|l| l.get(column)).map_or(0, |c| c.width) + self.padding;
                width = width.max(w);
                end += 1;
            }
            // RememberWidths.
            let depth = self.widths.len();
            if self.maxwidths.len() < depth {
                let missing: Vec<usize> = self.widths.get(self.maxwidths.len()..).unwrap_or(&[]).to_vec();
                self.maxwidths.extend(missing);
            }
            match self.maxwidths.get(depth).copied() {
                None => self.maxwidths.push(width),
                Some(max) if max > width => width = max,
                Some(_) => {
                    if let Some(m) = self.maxwidths.get_mut(depth) {
                        *m = width;
                    }
                }
            }
            self.widths.push(width);
            if let Some(top) = stack.last_mut() {
                top.line0 = start;
                top.this = end;
            }
            stack.push(Frame { line0: start, this: start, line1: end });
        }
    }
}

/// Formats `text` as kubectl's tabwriter would.
pub(crate) fn kubectl_tabwrite(text: &str) -> String {
    let mut w = TabWriter::kubectl();
    w.write(text);
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns_with_padding_three_and_min_width_six() {
        let out = kubectl_tabwrite("NAME\tREADY\tSTATUS\nweb-0\t1/1\tRunning\na\tb\tc\n");
        assert_eq!(out, "NAME    READY   STATUS\nweb-0   1/1     Running\na       b       c\n");
    }

    #[test]
    fn min_width_applies_to_short_columns() {
        assert_eq!(kubectl_tabwrite("a\tb\n"), "a     b\n");
    }

    #[test]
    fn last_cell_is_not_padded_and_trailing_text_is_kept() {
        assert_eq!(kubectl_tabwrite("a\tb\nlonger\tc"), "a        b\nlonger   c");
    }

    #[test]
    fn non_contiguous_columns_are_separate_blocks() {
        // The Go documentation's example: b and c are in distinct column blocks.
        let out = kubectl_tabwrite("aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n");
        assert_eq!(out, "aaaa   bbb   d\naa     b     dd\na      \naa     cccc   eee\n");
    }

    #[test]
    fn single_cell_lines_flush_and_widths_are_remembered() {
        // "x" has one cell: the writer flushes; RememberWidths keeps column 0 at 13.
        let out = kubectl_tabwrite("longer-name\tv\nx\ny\tz\n");
        assert_eq!(out, "longer-name   v\nx\ny             z\n");
    }

    #[test]
    fn code_points_count_once() {
        assert_eq!(kubectl_tabwrite("é\tx\nab\ty\n"), "é     x\nab    y\n");
    }

    #[test]
    fn empty_input() {
        assert_eq!(kubectl_tabwrite(""), "");
        assert_eq!(kubectl_tabwrite("\n"), "\n");
    }
}
