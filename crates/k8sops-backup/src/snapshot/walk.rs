//! One pass over a snapshot's B+trees, split across threads: the status hash
//! and counts, bbolt's `tx.Check` page accounting, and the live keys of the
//! `key` bucket.
//!
//! The hash is CRC-32C over every top-level bucket name followed by each
//! key and value of that bucket, in order. Threads hash disjoint runs of
//! pages (subtrees, in key order) from a zero state, and the partial CRCs
//! are joined in order (`crc::combine`), so the result equals one
//! sequential pass. Every page reached is recorded per thread, and the
//! records are merged: a page reached twice is a second reference (and is
//! never descended into twice by one thread, so a cycle ends).

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Mutex,
    },
};

use k8sops_core::CancellationToken;

use super::{
    bbolt::{
        branch_child, bucket_root, corrupt, leaf_element, page_kind, BucketRoot, Corrupt, Db, ReadError, BRANCH_PAGE,
        BUCKET_LEAF_FLAG, NO_FREELIST,
    },
    crc,
    pages::PageReader,
    prefixes::key_of_key_value,
};

/// The etcd bucket of MVCC revisions.
pub(crate) const KEY_BUCKET: &[u8] = b"key";
/// Length of an etcd revision key: main (8), `_`, sub (8).
const REV_LEN: usize = 17;
/// A tombstone revision key carries one more byte, `t`.
const MARKED_REV_LEN: usize = 18;
/// Deeper trees than this are refused: a bbolt tree of 2^64 pages is shallower.
const MAX_DEPTH: u32 = 64;
/// Problems kept word for word; the rest are only counted.
const MAX_PROBLEMS: usize = 100;

/// What a pass computes.
#[derive(Debug, Clone)]
pub(crate) struct ScanOptions<'a> {
    /// The status hash, key count and revision.
    pub(crate) hash: bool,
    /// bbolt's page accounting (needs every bucket walked).
    pub(crate) check: bool,
    /// The latest revision of every user key in the `key` bucket.
    pub(crate) live_keys: bool,
    /// Walk only this top-level bucket.
    pub(crate) only_bucket: Option<&'a [u8]>,
    /// Worker threads (at least 1).
    pub(crate) threads: usize,
    pub(crate) cancel: Option<&'a CancellationToken>,
    /// Stop at the first problem (status and prefix counts fail on it anyway).
    pub(crate) stop_at_first_problem: bool,
}

/// The latest revision of one user key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Latest {
    pub(crate) main: u64,
    pub(crate) sub: u64,
    pub(crate) tombstone: bool,
}

/// What a pass found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub(crate) crc: u32,
    pub(crate) total_key: u64,
    pub(crate) revision: i64,
    /// Problems found, in words (the first [`MAX_PROBLEMS`]).
    pub(crate) problems: Vec<String>,
    /// All problems found, including those not kept.
    pub(crate) problem_count: u64,
    /// Pages reached from the meta page (meta, freelist and tree pages).
    pub(crate) reachable_pages: u64,
    /// Pages in the freelist; without a freelist page, the pages not reached.
    pub(crate) free_pages: u64,
    /// Entries of the `key` bucket.
    pub(crate) key_revisions: u64,
    /// Latest revision per user key (when asked for).
    pub(crate) live: HashMap<Vec<u8>, Latest>,
}

/// Why a pass did not finish.
#[derive(Debug)]
pub(crate) enum ScanError {
    Io(std::io::Error),
    Cancelled,
}

/// A set of page ids below the high-water mark.
#[derive(Debug, Clone)]
pub(crate) struct PageSet(Vec<u64>);

impl PageSet {
    fn new(pages: u64) -> Self {
        PageSet(vec![0; pages.div_ceil(64) as usize])
    }
    fn contains(&self, id: u64) -> bool {
        self.0.get((id / 64) as usize).is_some_and(|w| w & (1 << (id % 64)) != 0)
    }
    /// Adds `id`; `false` when it was there already.
    fn insert(&mut self, id: u64) -> bool {
        match self.0.get_mut((id / 64) as usize) {
            Some(w) => {
                let bit = 1 << (id % 64);
                let new = *w & bit == 0;
                *w |= bit;
                new
            }
            None => true,
        }
    }
    fn count(&self) -> u64 {
        self.0.iter().map(|w| u64::from(w.count_ones())).sum()
    }
}

/// Problems shared by the threads of one pass.
struct Shared<'a> {
    opts: &'a ScanOptions<'a>,
    stop: AtomicBool,
    cancelled: AtomicBool,
    problems: Mutex<(Vec<String>, u64)>,
    io: Mutex<Option<std::io::Error>>,
}

impl Shared<'_> {
    fn problem(&self, what: String) {
        if let Ok(mut p) = self.problems.lock() {
            p.1 += 1;
            if p.0.len() < MAX_PROBLEMS {
                p.0.push(what);
            }
        }
        if self.opts.stop_at_first_problem {
            self.stop.store(true, Ordering::Relaxed);
        }
    }

    fn io(&self, e: std::io::Error) {
        if let Ok(mut slot) = self.io.lock() {
            slot.get_or_insert(e);
        }
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether to stop now (another thread failed, or the caller cancelled).
    fn stopped(&self) -> bool {
        if self.opts.cancel.is_some_and(CancellationToken::is_cancelled) {
            self.cancelled.store(true, Ordering::Relaxed);
            self.stop.store(true, Ordering::Relaxed);
        }
        self.stop.load(Ordering::Relaxed)
    }
}

/// A top-level bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BucketKind {
    /// etcd's `key` bucket: revision keys.
    Key,
    Other,
}

/// A piece of the hash, taken in order.
#[derive(Debug)]
enum Unit {
    /// A top-level bucket's name.
    Name(Vec<u8>),
    /// The inline leaf page of a top-level bucket.
    Inline { page: Vec<u8>, kind: BucketKind },
    /// A subtree of a top-level bucket.
    Page { pgid: u64, depth: u32, kind: BucketKind },
}

/// A unit's share of the result.
#[derive(Debug, Default, Clone, Copy)]
struct UnitResult {
    crc: u32,
    len: u64,
    keys: u64,
    /// Main revision of the unit's last `key` bucket entry.
    last_rev: Option<i64>,
}

/// Walks the snapshot once.
pub(crate) fn scan(db: &Db, opts: &ScanOptions<'_>) -> Result<Scan, ScanError> {
    let shared = Shared {
        opts,
        stop: AtomicBool::new(false),
        cancelled: AtomicBool::new(false),
        problems: Mutex::new((Vec::new(), 0)),
        io: Mutex::new(None),
    };
    if shared.stopped() {
        return Err(ScanError::Cancelled);
    }
    let hwm = db.meta.pgid;

    // The freelist first: a reachable page must not be in it.
    let mut freed = PageSet::new(hwm);
    let mut free_pages = 0;
    let mut freelist_span = 0;
    if opts.check && db.meta.freelist != NO_FREELIST {
        match db.freelist() {
            Ok((ids, span)) => {
                free_pages = ids.len() as u64;
                for id in ids {
                    if !freed.insert(id) {
                        shared.problem(format!("page {id}: already freed"));
                    }
                }
                freelist_span = span;
            }
            Err(ReadError::Io(e)) => return Err(ScanError::Io(e)),
            Err(ReadError::Corrupt(c)) => shared.problem(c.0),
        }
    }
    let mut main = Walker::new(db, &shared, Some(&freed));
    let mut main_reader = PageReader::new(db);
    main.reach.insert(0);
    main.reach.insert(1);
    for id in db.meta.freelist..db.meta.freelist.saturating_add(freelist_span) {
        main.reach.insert(id);
    }

    // The root bucket is small: its entries, the top-level buckets, are read here.
    let mut units = Vec::new();
    let mut buckets = Vec::new();
    // A damaged root bucket is a problem recorded; the buckets read so far are walked.
    let _ = main.collect_buckets(&mut main_reader, db.meta.root, 0, &mut buckets);
    for (name, value) in buckets {
        if shared.stopped() {
            break;
        }
        if opts.only_bucket.is_some_and(|b| b != name.as_slice()) {
            continue;
        }
        let kind = if name == KEY_BUCKET { BucketKind::Key } else { BucketKind::Other };
        let what = format!("bucket {}", String::from_utf8_lossy(&name));
        let root = match bucket_root(&value, &what) {
            Ok(BucketRoot::Inline(page)) => Unit::Inline { page: page.to_vec(), kind },
            Ok(BucketRoot::Page(pgid)) => Unit::Page { pgid, depth: 1, kind },
            Err(c) => {
                shared.problem(c.0);
                continue;
            }
        };
        units.push(Unit::Name(name));
        let first = units.len();
        units.push(root);
        if opts.threads > 1 {
            main.split(&mut main_reader, &mut units, first, opts.threads * 16);
        }
    }

    let threads = opts.threads.clamp(1, units.len().max(1));
    let next = AtomicUsize::new(0);
    let units = &units;
    let freed_ref = &freed;
    let work = |walker: &mut Walker<'_>, reader: &mut PageReader<'_>| {
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(unit) = units.get(i) else { break };
            if shared.stopped() {
                break;
            }
            out.push((i, walker.unit(reader, unit)));
        }
        out
    };
    let mut results: Vec<(usize, UnitResult)> = Vec::with_capacity(units.len());
    let mut walkers = Vec::with_capacity(threads);
    if threads == 1 {
        results.extend(work(&mut main, &mut main_reader));
        walkers.push(main);
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut w = Walker::new(db, &shared, Some(freed_ref));
                        let mut reader = PageReader::new(db);
                        let out = work(&mut w, &mut reader);
                        (w, out)
                    })
                })
                .collect();
            for h in handles {
                match h.join() {
                    Ok((w, out)) => {
                        results.extend(out);
                        walkers.push(w);
                    }
                    // A walker never panics on file contents; keep the pass alive regardless.
                    Err(_) => shared.problem("a reader thread stopped unexpectedly".into()),
                }
            }
        });
        walkers.push(main);
    }
    if let Some(e) = shared.io.lock().ok().and_then(|mut s| s.take()) {
        return Err(ScanError::Io(e));
    }
    if shared.cancelled.load(Ordering::Relaxed) {
        return Err(ScanError::Cancelled);
    }
    results.sort_unstable_by_key(|(i, _)| *i);

    let mut scan = Scan { free_pages, ..Scan::default() };
    for (i, r) in &results {
        scan.crc = crc::combine(scan.crc, r.crc, r.len);
        scan.total_key += r.keys;
        if let Some(rev) = r.last_rev {
            scan.revision = rev;
        }
        if matches!(units[*i], Unit::Page { kind: BucketKind::Key, .. } | Unit::Inline { kind: BucketKind::Key, .. }) {
            scan.key_revisions += r.keys;
        }
    }

    // Merge what the threads reached: a page reached twice is referenced twice.
    let mut reach = PageSet::new(hwm);
    for w in &mut walkers {
        for (i, (all, mine)) in reach.0.iter_mut().zip(&w.reach.0).enumerate() {
            let twice = *all & mine;
            if twice != 0 {
                for bit in 0..64 {
                    if twice & (1 << bit) != 0 {
                        shared.problem(format!("page {}: multiple references", i as u64 * 64 + bit));
                    }
                }
            }
            *all |= mine;
        }
        for (k, v) in w.live.drain() {
            match scan.live.get_mut(&k) {
                Some(old) if (old.main, old.sub) >= (v.main, v.sub) => {}
                Some(old) => *old = v,
                None => {
                    scan.live.insert(k, v);
                }
            }
        }
    }
    scan.reachable_pages = reach.count();
    if db.meta.freelist == NO_FREELIST && opts.only_bucket.is_none() {
        // Without a freelist page (etcd 3.4 sets NoFreelistSync) bbolt
        // rebuilds the freelist from the pages no tree reaches.
        scan.free_pages = hwm - scan.reachable_pages.min(hwm);
    }
    let all_buckets = opts.only_bucket.is_none();
    if opts.check && all_buckets && db.meta.freelist != NO_FREELIST && !shared.stop.load(Ordering::Relaxed) {
        for id in 0..hwm {
            if !reach.contains(id) && !freed.contains(id) {
                shared.problem(format!("page {id}: unreachable unfreed"));
                if shared.stop.load(Ordering::Relaxed) {
                    break;
                }
            }
        }
    }
    let (problems, count) = shared.problems.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    scan.problems = problems;
    scan.problem_count = count;
    Ok(scan)
}

/// One thread's walk: the pages it reached and the live keys it saw.
struct Walker<'a> {
    db: &'a Db,
    shared: &'a Shared<'a>,
    freed: Option<&'a PageSet>,
    reach: PageSet,
    live: HashMap<Vec<u8>, Latest>,
    /// Spare child lists, reused across branch pages.
    spare: Vec<Vec<u64>>,
}

/// Stop walking the current subtree (the reason is recorded already).
struct Abandon;

impl<'a> Walker<'a> {
    fn new(db: &'a Db, shared: &'a Shared<'a>, freed: Option<&'a PageSet>) -> Self {
        Walker { db, shared, freed, reach: PageSet::new(db.meta.pgid), live: HashMap::new(), spare: Vec::new() }
    }

    fn corrupt(&self, c: Corrupt) -> Abandon {
        self.shared.problem(c.0);
        Abandon
    }

    fn read_error(&self, e: ReadError) -> Abandon {
        match e {
            ReadError::Corrupt(c) => self.shared.problem(c.0),
            ReadError::Io(e) => self.shared.io(e),
        }
        Abandon
    }

    /// Records that the page `pgid` spanning `span` slots was reached;
    /// `false` when it had been reached already (do not descend twice).
    fn reached(&mut self, pgid: u64, span: u64) -> bool {
        let mut first_time = true;
        for id in pgid..pgid + span {
            if !self.reach.insert(id) {
                self.shared.problem(format!("page {id}: multiple references"));
                first_time = false;
            }
        }
        if self.shared.opts.check && self.freed.is_some_and(|f| f.contains(pgid)) {
            self.shared.problem(format!("page {pgid}: reachable freed"));
        }
        first_time
    }

    /// The entries of the root bucket: top-level bucket names and values.
    fn collect_buckets(
        &mut self,
        r: &mut PageReader<'_>,
        pgid: u64,
        depth: u32,
        out: &mut Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<(), Abandon> {
        if depth > MAX_DEPTH {
            return Err(self.corrupt(corrupt!("page {pgid}: the root bucket is deeper than {MAX_DEPTH} levels")));
        }
        let page = r.read(pgid).map_err(|e| self.read_error(e))?;
        let what = PageName(pgid);
        let (flags, count) = page_kind(page, &what).map_err(|c| self.corrupt(c))?;
        if !self.reached(pgid, page.len() as u64 / self.db.page_size) {
            return Err(Abandon);
        }
        if flags & BRANCH_PAGE != 0 {
            let children: Vec<u64> = (0..count).map(|i| branch_child(page, i)).collect();
            for child in children {
                self.collect_buckets(r, child, depth + 1, out)?;
            }
            return Ok(());
        }
        for i in 0..count {
            let e = leaf_element(page, i, &what).map_err(|c| self.corrupt(c))?;
            if e.flags & BUCKET_LEAF_FLAG == 0 {
                // etcd refuses this too: "cannot get hash of bucket".
                return Err(self.corrupt(corrupt!(
                    "{what}: top-level entry {:?} is not a bucket",
                    String::from_utf8_lossy(e.key)
                )));
            }
            out.push((e.key.to_vec(), e.value.to_vec()));
        }
        Ok(())
    }

    /// Replaces the subtree unit at `units[first..]` by the subtrees below
    /// it, level by level, until there are at least `target` units to share
    /// out. Branch pages read here count as reached by this walker; leaves
    /// are left to the walker that takes them.
    fn split(&mut self, r: &mut PageReader<'_>, units: &mut Vec<Unit>, first: usize, target: usize) {
        while units.len() - first < target {
            let level: Vec<Unit> = units.drain(first..).collect();
            let mut grew = false;
            for unit in level {
                let Unit::Page { pgid, depth, kind } = unit else {
                    units.push(unit);
                    continue;
                };
                match self.branch_children(r, pgid, depth) {
                    Ok(Some(children)) => {
                        grew |= children.len() > 1;
                        units.extend(children.into_iter().map(|pgid| Unit::Page { pgid, depth: depth + 1, kind }));
                    }
                    Ok(None) => units.push(Unit::Page { pgid, depth, kind }),
                    Err(Abandon) => {}
                }
            }
            if !grew || self.shared.stopped() {
                break;
            }
        }
    }

    /// The children of `pgid` when it is a branch page (then reached), `None` for a leaf.
    fn branch_children(&mut self, r: &mut PageReader<'_>, pgid: u64, depth: u32) -> Result<Option<Vec<u64>>, Abandon> {
        if depth > MAX_DEPTH {
            return Ok(None);
        }
        let page = r.read(pgid).map_err(|e| self.read_error(e))?;
        let (flags, count) = page_kind(page, &PageName(pgid)).map_err(|c| self.corrupt(c))?;
        if flags & BRANCH_PAGE == 0 {
            return Ok(None);
        }
        if count == 0 {
            return Err(self.corrupt(corrupt!("page {pgid}: branch page without elements")));
        }
        let children = (0..count).map(|i| branch_child(page, i)).collect();
        if !self.reached(pgid, page.len() as u64 / self.db.page_size) {
            return Err(Abandon);
        }
        Ok(Some(children))
    }

    fn unit(&mut self, r: &mut PageReader<'_>, unit: &Unit) -> UnitResult {
        let mut acc = UnitResult::default();
        match unit {
            Unit::Name(name) => {
                if self.shared.opts.hash {
                    acc.crc = crc32c::crc32c(name);
                    acc.len = name.len() as u64;
                }
            }
            Unit::Inline { page, kind } => {
                let what = "inline bucket page";
                if let Ok((flags, count)) = page_kind(page, &what).map_err(|c| self.corrupt(c)) {
                    if flags & BRANCH_PAGE != 0 {
                        self.shared.problem(format!("{what}: is a branch page"));
                    } else {
                        let mut nested = Vec::new();
                        let _ = self.leaf(page, count, &what, *kind, Some(&mut acc), &mut nested);
                        for root in nested {
                            let _ = self.tree(r, root, 2, BucketKind::Other, None);
                        }
                    }
                }
            }
            Unit::Page { pgid, depth, kind } => {
                let _ = self.tree(r, *pgid, *depth, *kind, Some(&mut acc));
            }
        }
        acc
    }

    /// Walks the subtree at `pgid` in key order, hashing and counting into
    /// `acc`, or (nested buckets, `None`) only reaching its pages.
    fn tree(
        &mut self,
        r: &mut PageReader<'_>,
        pgid: u64,
        depth: u32,
        kind: BucketKind,
        mut acc: Option<&mut UnitResult>,
    ) -> Result<(), Abandon> {
        if self.shared.stopped() {
            return Err(Abandon);
        }
        if depth > MAX_DEPTH {
            return Err(self.corrupt(corrupt!("page {pgid}: the tree is deeper than {MAX_DEPTH} levels")));
        }
        let page = r.read(pgid).map_err(|e| self.read_error(e))?;
        let what = PageName(pgid);
        let (flags, count) = page_kind(page, &what).map_err(|c| self.corrupt(c))?;
        if !self.reached(pgid, page.len() as u64 / self.db.page_size) {
            return Err(Abandon);
        }
        if flags & BRANCH_PAGE == 0 {
            let mut nested = Vec::new();
            self.leaf(page, count, &what, kind, acc, &mut nested)?;
            // Nested buckets (etcd has none) are walked for the page accounting.
            for root in nested {
                let _ = self.tree(r, root, depth + 1, BucketKind::Other, None);
            }
            return Ok(());
        }
        if count == 0 {
            return Err(self.corrupt(corrupt!("page {pgid}: branch page without elements")));
        }
        let mut children = self.spare.pop().unwrap_or_default();
        children.clear();
        children.extend((0..count).map(|i| branch_child(page, i)));
        r.plan(&children);
        let mut res = Ok(());
        for &child in &children {
            if self.tree(r, child, depth + 1, kind, acc.as_deref_mut()).is_err() && self.shared.stopped() {
                res = Err(Abandon);
                break;
            }
        }
        self.spare.push(children);
        res
    }

    /// Hashes and counts the elements of one leaf page; collects the root
    /// pages of nested buckets into `nested` (etcd's hash covers only the
    /// top-level buckets, but the page accounting covers every page).
    fn leaf(
        &mut self,
        page: &[u8],
        count: usize,
        what: &dyn std::fmt::Display,
        kind: BucketKind,
        mut acc: Option<&mut UnitResult>,
        nested_roots: &mut Vec<u64>,
    ) -> Result<(), Abandon> {
        let opts = self.shared.opts;
        // Keys and values are hashed in spans as long as they lie back to
        // back in the page (bbolt writes them so): one CRC call per leaf.
        let mut span: Option<(usize, usize)> = None;
        for i in 0..count {
            let e = leaf_element(page, i, what).map_err(|c| self.corrupt(c))?;
            let nested = e.flags & BUCKET_LEAF_FLAG != 0;
            if let Some(acc) = acc.as_deref_mut() {
                acc.keys += 1;
                if opts.hash {
                    let start = e.offset;
                    // A nested bucket's value is not hashed (etcd's ForEach yields nil).
                    let end = start + e.key.len() + if nested { 0 } else { e.value.len() };
                    span = match span {
                        Some((s, t)) if t == start => Some((s, end)),
                        Some((s, t)) => {
                            acc.crc = crc32c::crc32c_append(acc.crc, &page[s..t]);
                            acc.len += (t - s) as u64;
                            Some((start, end))
                        }
                        None => Some((start, end)),
                    };
                    if nested {
                        if let Some((s, t)) = span.take() {
                            acc.crc = crc32c::crc32c_append(acc.crc, &page[s..t]);
                            acc.len += (t - s) as u64;
                        }
                    }
                }
                if kind == BucketKind::Key {
                    self.revision(e.key, e.value, nested, acc, i, what)?;
                }
            }
            if nested && opts.check {
                match bucket_root(e.value, what) {
                    Ok(BucketRoot::Page(root)) => nested_roots.push(root),
                    Ok(BucketRoot::Inline(_)) => {}
                    Err(c) => return Err(self.corrupt(c)),
                }
            }
        }
        if let (Some((s, t)), Some(acc)) = (span, acc) {
            acc.crc = crc32c::crc32c_append(acc.crc, &page[s..t]);
            acc.len += (t - s) as u64;
        }
        Ok(())
    }

    /// One entry of the `key` bucket: its revision and, for the prefix
    /// counts, the user key it belongs to.
    fn revision(
        &mut self,
        key: &[u8],
        value: &[u8],
        nested: bool,
        acc: &mut UnitResult,
        i: usize,
        what: &dyn std::fmt::Display,
    ) -> Result<(), Abandon> {
        // etcd's bytesToRev reads a main and a sub revision from every key.
        if key.len() < REV_LEN {
            return Err(self.corrupt(corrupt!(
                "{what}: key bucket entry {i} has a {}-byte key, shorter than a revision",
                key.len()
            )));
        }
        let main = u64_be(key, 0);
        acc.last_rev = Some(main as i64);
        if self.shared.opts.live_keys && !nested {
            let sub = u64_be(key, 9);
            let tombstone = key.len() == MARKED_REV_LEN && key[REV_LEN] == b't';
            let user_key = key_of_key_value(value).ok_or_else(|| {
                self.corrupt(corrupt!("{what}: key bucket entry {i} is not an mvccpb.KeyValue with a key"))
            })?;
            let latest = Latest { main, sub, tombstone };
            match self.live.get_mut(user_key) {
                Some(old) if (old.main, old.sub) >= (main, sub) => {}
                Some(old) => *old = latest,
                None => {
                    self.live.insert(user_key.to_vec(), latest);
                }
            }
        }
        Ok(())
    }
}

fn u64_be(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_be_bytes(a)
}

/// `page N`, formatted only when a problem is reported.
struct PageName(u64);

impl std::fmt::Display for PageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "page {}", self.0)
    }
}
