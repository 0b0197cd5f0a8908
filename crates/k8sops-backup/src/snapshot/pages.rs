//! Page reads for one walker thread: positioned reads into reused buffers,
//! so memory stays bounded by a window of pages however large the file is.
//!
//! bbolt writes the children of a branch page mostly next to each other, in
//! key order. Before a branch page's children are visited, [`PageReader::plan`]
//! groups those that lie close together in the file into runs, and the first
//! read inside a run brings in the whole run (up to [`WINDOW`] bytes) with a
//! single system call; other pages are read one by one.

use super::bbolt::{read_exact_at, Db, ReadError};

/// Bytes read at once for a run of pages: small enough to stay in a core's
/// L2 cache while the pages are hashed.
const WINDOW: u64 = 256 * 1024;
/// Children further apart than this many pages start a new run.
const MAX_GAP: u64 = 16;

/// Reads pages of one [`Db`] for one thread.
#[derive(Debug)]
pub(crate) struct PageReader<'a> {
    db: &'a Db,
    /// The window: pages `win_start..win_end`, in `window[..(win_end - win_start) * page size]`.
    window: Vec<u8>,
    win_start: u64,
    win_end: u64,
    /// A page read on its own (never shrunk, so it is zeroed only when it grows).
    page: Vec<u8>,
    /// Planned runs `[start, end)` of page ids, sorted by start.
    runs: Vec<(u64, u64)>,
}

impl<'a> PageReader<'a> {
    pub(crate) fn new(db: &'a Db) -> Self {
        PageReader { db, window: Vec::new(), win_start: 0, win_end: 0, page: Vec::new(), runs: Vec::new() }
    }

    /// The page `pgid` with its overflow pages; valid until the next call.
    pub(crate) fn read(&mut self, pgid: u64) -> Result<&[u8], ReadError> {
        let ps = self.db.page_size;
        if !(self.win_start..self.win_end).contains(&pgid) {
            if let Some(end) = self.run_end(pgid) {
                let len = ((end - pgid) * ps) as usize;
                if self.window.len() < len {
                    self.window.resize(len, 0);
                }
                read_exact_at(&self.db.file, &mut self.window[..len], pgid * ps).map_err(ReadError::Io)?;
                self.win_start = pgid;
                self.win_end = end;
            }
        }
        if (self.win_start..self.win_end).contains(&pgid) {
            let off = ((pgid - self.win_start) * ps) as usize;
            let span = self.db.page_span(pgid, &self.window[off..])?;
            if pgid + span <= self.win_end {
                return Ok(&self.window[off..off + (span * ps) as usize]);
            }
        }
        let len = self.db.read_page(pgid, &mut self.page)?;
        Ok(&self.page[..len])
    }

    /// The end of the planned run that holds `pgid`, capped at [`WINDOW`]
    /// and at the high-water mark. `None` for a page outside every run and
    /// for a page at or past the high-water mark (a damaged child pointer),
    /// which [`Db::read_page`] then refuses with a typed error.
    fn run_end(&self, pgid: u64) -> Option<u64> {
        if pgid >= self.db.meta.pgid {
            return None;
        }
        let i = self.runs.partition_point(|&(start, _)| start <= pgid).checked_sub(1)?;
        let (_, end) = self.runs[i];
        let max = (WINDOW / self.db.page_size).max(1);
        let end = end.min(pgid.saturating_add(max)).min(self.db.meta.pgid);
        (pgid < end).then_some(end)
    }

    /// Plans runs for `children` (the pages of one branch page, in the
    /// order they will be read): consecutive children that lie in
    /// increasing order, at most [`MAX_GAP`] pages apart.
    pub(crate) fn plan(&mut self, children: &[u64]) {
        self.runs.clear();
        let mut i = 0;
        while i < children.len() {
            let start = children[i];
            let mut j = i;
            while j + 1 < children.len() && children[j + 1] > children[j] && children[j + 1] - children[j] <= MAX_GAP {
                j += 1;
            }
            if j > i {
                // The last page of the run is guessed to be as long as the one before it.
                let tail = children[j] - children[j - 1];
                self.runs.push((start, children[j].saturating_add(tail)));
            }
            i = j + 1;
        }
        // Runs are disjoint and in increasing order unless the children are not.
        self.runs.sort_unstable();
    }
}
