//! A small table renderer that prints like kubectl (upper-case headers,
//! columns padded by three spaces, at least six wide), so every report in
//! every k8sops crate looks the same.

use std::fmt;

use serde::Serialize;

/// A table of strings with headers, printed like `kubectl get`.
///
/// ```
/// use k8sops_core::Table;
/// let mut t = Table::new(["name", "status"]);
/// t.row(["node-1", "Ready"]);
/// t.row(["node-22", "NotReady,SchedulingDisabled"]);
/// assert_eq!(t.to_string(), "\
/// NAME      STATUS
/// node-1    Ready
/// node-22   NotReady,SchedulingDisabled
/// ");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    verbatim: bool,
}

impl Table {
    /// A table with these column headers (printed upper-case).
    ///
    /// ```
    /// let t = k8sops_core::Table::new(["name", "cpu(cores)"]);
    /// assert_eq!(t.to_string(), "NAME   CPU(CORES)\n");
    /// ```
    pub fn new<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table { headers: headers.into_iter().map(Into::into).collect(), rows: Vec::new(), verbatim: false }
    }

    /// A table whose headers print exactly as given, for the few kubectl
    /// tables with mixed-case headers (`CPU(cores)` in `kubectl top`).
    ///
    /// ```
    /// let t = k8sops_core::Table::verbatim(["NAME", "CPU(cores)"]);
    /// assert_eq!(t.to_string(), "NAME   CPU(cores)\n");
    /// ```
    pub fn verbatim<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table { verbatim: true, ..Self::new(headers) }
    }

    /// Appends a row; missing cells print empty, extra cells are kept.
    ///
    /// ```
    /// let mut t = k8sops_core::Table::new(["name", "status"]);
    /// t.row(["node-1"]).row(["node-2", "Ready"]);
    /// assert_eq!(t.rows()[0], ["node-1"]);
    /// assert_eq!(t.rows().len(), 2);
    /// ```
    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    /// The rows added so far.
    ///
    /// ```
    /// let mut t = k8sops_core::Table::new(["a"]);
    /// t.row(["1"]);
    /// assert_eq!(t.rows().len(), 1);
    /// ```
    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// The headers as given.
    ///
    /// ```
    /// assert_eq!(k8sops_core::Table::new(["a"]).headers(), ["a"]);
    /// ```
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Whether the table has no rows.
    ///
    /// ```
    /// assert!(k8sops_core::Table::new(["a"]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header: Vec<String> =
            self.headers.iter().map(|h| if self.verbatim { h.clone() } else { h.to_uppercase() }).collect();
        let cols = self.rows.iter().map(Vec::len).chain([header.len()]).max().unwrap_or(0);
        let mut widths = vec![0usize; cols];
        for r in std::iter::once(&header).chain(&self.rows) {
            for (i, c) in r.iter().enumerate() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        for r in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = r.get(i).map(String::as_str).unwrap_or("");
                if i + 1 == cols {
                    line.push_str(cell);
                } else {
                    // Same layout as kubectl's tabwriter: minwidth 6, padding 3.
                    let w = (width + 3).max(6);
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
                }
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}
