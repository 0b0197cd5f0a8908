//! The bbolt file format (v2), read with positioned reads: meta pages, page
//! headers, branch and leaf elements, inline buckets and the freelist.
//!
//! Every offset and length taken from the file is checked before use, so a
//! damaged file yields a [`Corrupt`] description, never a panic.

use std::{fmt, fs::File, path::Path};

/// Size of a page header: id u64, flags u16, count u16, overflow u32.
pub(crate) const PAGE_HEADER: usize = 16;
/// Size of a branch or leaf element header.
pub(crate) const ELEMENT: usize = 16;
/// Size of a bucket header (root pgid u64, sequence u64) in a bucket value.
pub(crate) const BUCKET_HEADER: usize = 16;

pub(crate) const BRANCH_PAGE: u16 = 0x01;
pub(crate) const LEAF_PAGE: u16 = 0x02;
const FREELIST_PAGE: u16 = 0x10;
/// Leaf element flag of a nested bucket.
pub(crate) const BUCKET_LEAF_FLAG: u32 = 0x01;

const MAGIC: u32 = 0xED0C_DAED;
const VERSION: u32 = 2;
/// `pgidNoFreelist`: the database was written without a freelist page.
pub(crate) const NO_FREELIST: u64 = u64::MAX;
/// Length of the SHA-256 trailer `etcdctl snapshot save` appends.
pub(crate) const TRAILER: u64 = 32;
/// Offset of the checksum field inside the meta structure.
const META_CHECKSUM_OFFSET: usize = 56;
/// Length of the meta structure.
const META_LEN: usize = 64;
/// Page sizes tried for the second meta page when the first one is unusable.
const PAGE_SIZES: [u64; 5] = [4096, 8192, 16384, 32768, 65536];
/// Page sizes outside this range are refused as damage (bbolt uses the OS page size).
const MIN_PAGE_SIZE: u32 = 512;
const MAX_PAGE_SIZE: u32 = 1 << 20;

/// What is wrong with the file, in words (the caller adds the path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Corrupt(pub(crate) String);

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! corrupt {
    ($($arg:tt)*) => { Corrupt(format!($($arg)*)) };
}
pub(crate) use corrupt;

/// A failure while reading: the file is damaged, or the OS refused the read.
#[derive(Debug)]
pub(crate) enum ReadError {
    Corrupt(Corrupt),
    Io(std::io::Error),
}

impl From<Corrupt> for ReadError {
    fn from(c: Corrupt) -> Self {
        ReadError::Corrupt(c)
    }
}

pub(crate) fn u16_at(b: &[u8], off: usize) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[off..off + 2]);
    u16::from_le_bytes(a)
}

pub(crate) fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

pub(crate) fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// FNV-1a, 64 bit: bbolt's meta checksum.
fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// One meta page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) page_size: u32,
    /// Root page of the root bucket (whose keys are the top-level buckets).
    pub(crate) root: u64,
    pub(crate) freelist: u64,
    /// High-water mark: the number of pages in use.
    pub(crate) pgid: u64,
    pub(crate) txid: u64,
}

/// Decodes and validates the meta page in `page` (at least the page header
/// plus the meta structure), as bbolt's `meta.validate` does: magic, version,
/// and the FNV-1a checksum unless it is zero (the page header's flags are
/// not checked, as bbolt does not).
pub(crate) fn parse_meta(page: &[u8]) -> Result<Meta, String> {
    if page.len() < PAGE_HEADER + META_LEN {
        return Err(format!("{} bytes, a meta page needs {}", page.len(), PAGE_HEADER + META_LEN));
    }
    let m = &page[PAGE_HEADER..PAGE_HEADER + META_LEN];
    let magic = u32_at(m, 0);
    if magic != MAGIC {
        return Err(format!("magic {magic:#010x}, not bbolt's {MAGIC:#010x}"));
    }
    let version = u32_at(m, 4);
    if version != VERSION {
        return Err(format!("bbolt format version {version}, only {VERSION} is known"));
    }
    let checksum = u64_at(m, META_CHECKSUM_OFFSET);
    let sum = fnv1a64(&m[..META_CHECKSUM_OFFSET]);
    if checksum != 0 && checksum != sum {
        return Err(format!("meta checksum {checksum:#018x}, computed {sum:#018x}"));
    }
    Ok(Meta {
        page_size: u32_at(m, 8),
        root: u64_at(m, 16),
        freelist: u64_at(m, 32),
        pgid: u64_at(m, 40),
        txid: u64_at(m, 48),
    })
}

/// An open snapshot: its file, the page size and the meta page in force.
#[derive(Debug)]
pub(crate) struct Db {
    pub(crate) file: File,
    pub(crate) page_size: u64,
    /// The two meta pages as bbolt sees them.
    pub(crate) metas: [Result<Meta, String>; 2],
    /// The meta page in force: the valid one with the highest txid.
    pub(crate) meta: Meta,
}

impl Db {
    /// Opens `path` and chooses the meta page as bbolt does.
    pub(crate) fn open(path: &Path) -> Result<Db, OpenError> {
        let file = File::open(path).map_err(OpenError::Io)?;
        let file_len = file.metadata().map_err(OpenError::Io)?.len();
        Self::from_file(file, file_len)
    }

    fn from_file(file: File, file_len: u64) -> Result<Db, OpenError> {
        let head_len = (PAGE_HEADER + META_LEN) as u64;
        let read_meta = |off: u64| -> Result<Result<Meta, String>, OpenError> {
            let mut buf = [0u8; PAGE_HEADER + META_LEN];
            read_exact_at(&file, &mut buf, off).map_err(OpenError::Io)?;
            Ok(parse_meta(&buf).and_then(|m| check_page_size(m, off)))
        };
        if file_len < head_len {
            return Err(OpenError::Unusable {
                reason: corrupt!("file is {file_len} bytes, too short for a bbolt meta page"),
                metas: None,
            });
        }
        let meta0 = read_meta(0)?;
        // bbolt takes the page size from the first meta page when it is
        // valid; otherwise the second meta page is looked for where each
        // common page size would put it.
        let (page_size, meta1) = match &meta0 {
            Ok(m) => {
                let ps = u64::from(m.page_size);
                let m1 = if file_len >= ps + head_len {
                    read_meta(ps)?
                } else {
                    Err(format!("file is {file_len} bytes, too short for a second meta page at byte {ps}"))
                };
                (ps, m1)
            }
            Err(_) => {
                let mut found = (PAGE_SIZES[0], Err("file too short for a second meta page".to_string()));
                for ps in PAGE_SIZES {
                    if file_len < ps + head_len {
                        break;
                    }
                    let m1 = read_meta(ps)?;
                    let ok = m1.is_ok();
                    if ok || ps == PAGE_SIZES[0] {
                        found = (ps, m1);
                    }
                    if ok {
                        break;
                    }
                }
                found
            }
        };
        let metas = [meta0, meta1];
        let chosen = match (&metas[0], &metas[1]) {
            (Ok(a), Ok(b)) => Some(if b.txid > a.txid { *b } else { *a }),
            (Ok(a), Err(_)) => Some(*a),
            (Err(_), Ok(b)) => Some(*b),
            (Err(_), Err(_)) => None,
        };
        let unusable = |reason: Corrupt, metas: [Result<Meta, String>; 2]| {
            Err(OpenError::Unusable { reason, metas: Some(Box::new(metas)) })
        };
        let Some(meta) = chosen else {
            let reason = corrupt!(
                "no valid bbolt meta page (page 0: {}; page 1: {})",
                metas[0].as_ref().err().map_or("valid", |s| s),
                metas[1].as_ref().err().map_or("valid", |s| s)
            );
            return unusable(reason, metas);
        };
        if meta.pgid < 2 {
            return unusable(corrupt!("high-water mark {} is below the two meta pages", meta.pgid), metas);
        }
        let needed = meta.pgid.checked_mul(page_size);
        if needed.is_none_or(|n| n > file_len) {
            let needed = needed.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string());
            let reason = corrupt!(
                "truncated: {} pages of {page_size} bytes need {needed} bytes, the file has {file_len}",
                meta.pgid
            );
            return unusable(reason, metas);
        }
        if meta.root < 2 || meta.root >= meta.pgid {
            return unusable(corrupt!("root bucket page {} is outside pages 2..{}", meta.root, meta.pgid), metas);
        }
        if meta.freelist != NO_FREELIST && (meta.freelist < 2 || meta.freelist >= meta.pgid) {
            return unusable(corrupt!("freelist page {} is outside pages 2..{}", meta.freelist, meta.pgid), metas);
        }
        Ok(Db { file, page_size, metas, meta })
    }

    /// Bytes of the database proper: `tx.Size()`, the high-water mark times the page size.
    pub(crate) fn size(&self) -> u64 {
        self.meta.pgid * self.page_size
    }

    /// Reads the whole page `pgid` (with its overflow pages) into the start
    /// of `buf`, growing it when needed, and returns its length.
    pub(crate) fn read_page(&self, pgid: u64, buf: &mut Vec<u8>) -> Result<usize, ReadError> {
        let ps = self.page_size as usize;
        if pgid >= self.meta.pgid {
            return Err(corrupt!("page {pgid} is beyond the high-water mark {}", self.meta.pgid).into());
        }
        if buf.len() < ps {
            buf.resize(ps, 0);
        }
        read_exact_at(&self.file, &mut buf[..ps], pgid * self.page_size).map_err(ReadError::Io)?;
        let span = self.page_span(pgid, buf)?;
        let len = span as usize * ps;
        if span > 1 {
            if buf.len() < len {
                buf.resize(len, 0);
            }
            read_exact_at(&self.file, &mut buf[ps..len], (pgid + 1) * self.page_size).map_err(ReadError::Io)?;
        }
        Ok(len)
    }

    /// The number of page slots the page starting in `head` occupies, after
    /// checking that its header names `pgid` and that it ends below the high-water mark.
    pub(crate) fn page_span(&self, pgid: u64, head: &[u8]) -> Result<u64, Corrupt> {
        let id = u64_at(head, 0);
        if id != pgid {
            return Err(corrupt!("page {pgid}: header says page {id}"));
        }
        let span = 1 + u64::from(u32_at(head, 12));
        if pgid + span > self.meta.pgid {
            return Err(corrupt!(
                "page {pgid}: {} overflow pages run past the high-water mark {}",
                span - 1,
                self.meta.pgid
            ));
        }
        Ok(span)
    }

    /// The page ids in the freelist page, with bbolt's layout (a count of
    /// 0xFFFF means the real count is the first u64), and the pages it spans.
    pub(crate) fn freelist(&self) -> Result<(Vec<u64>, u64), ReadError> {
        let pgid = self.meta.freelist;
        let mut buf = Vec::new();
        let len = self.read_page(pgid, &mut buf)?;
        let buf = &buf[..len];
        let flags = u16_at(buf, 8);
        if flags & FREELIST_PAGE == 0 {
            return Err(corrupt!("freelist page {pgid} has flags {flags:#06x}, not a freelist's").into());
        }
        let mut count = u64::from(u16_at(buf, 10));
        let mut start = PAGE_HEADER;
        if count == 0xFFFF {
            count = u64_at(buf, PAGE_HEADER);
            start += 8;
        }
        let end = count.checked_mul(8).and_then(|n| n.checked_add(start as u64));
        if end.is_none_or(|e| e > buf.len() as u64) {
            return Err(corrupt!("freelist page {pgid}: {count} ids do not fit in {} bytes", buf.len()).into());
        }
        let ids = buf[start..start + count as usize * 8].chunks_exact(8).map(|c| u64_at(c, 0)).collect();
        Ok((ids, len as u64 / self.page_size))
    }
}

fn check_page_size(m: Meta, offset: u64) -> Result<Meta, String> {
    if !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&m.page_size) {
        return Err(format!("page size {} is outside {MIN_PAGE_SIZE}..={MAX_PAGE_SIZE}", m.page_size));
    }
    if offset != 0 && u64::from(m.page_size) != offset {
        return Err(format!("page size {} does not match its position {offset}", m.page_size));
    }
    Ok(m)
}

/// Why a file could not be opened as a bbolt database.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The OS refused to open or read it.
    Io(std::io::Error),
    /// It was read but is not usable: what is known of it, for the integrity report.
    Unusable { reason: Corrupt, metas: Option<Box<[Result<Meta, String>; 2]>> },
}

/// Reads exactly `buf.len()` bytes at `offset` without moving a file cursor,
/// so threads can share one `File`.
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let (mut buf, mut offset) = (buf, offset);
        while !buf.is_empty() {
            match std::os::windows::fs::FileExt::seek_read(file, buf, offset) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// One element of a leaf page: its flags, key and value, borrowed from the page.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LeafElement<'a> {
    pub(crate) flags: u32,
    /// Offset of the key in the page (the value follows it).
    pub(crate) offset: usize,
    pub(crate) key: &'a [u8],
    pub(crate) value: &'a [u8],
}

/// The page type and element count of `page`, checking that the element
/// headers fit in it.
pub(crate) fn page_kind(page: &[u8], what: &dyn fmt::Display) -> Result<(u16, usize), Corrupt> {
    if page.len() < PAGE_HEADER {
        return Err(corrupt!("{what}: {} bytes, shorter than a page header", page.len()));
    }
    let flags = u16_at(page, 8);
    let count = usize::from(u16_at(page, 10));
    if flags & (BRANCH_PAGE | LEAF_PAGE) == 0 {
        return Err(corrupt!("{what}: invalid type: flags {flags:#06x}, neither branch nor leaf"));
    }
    if PAGE_HEADER + count * ELEMENT > page.len() {
        return Err(corrupt!("{what}: {count} elements do not fit in {} bytes", page.len()));
    }
    Ok((flags, count))
}

/// Child page id of branch element `i` (bounds checked by [`page_kind`]).
pub(crate) fn branch_child(page: &[u8], i: usize) -> u64 {
    u64_at(page, PAGE_HEADER + i * ELEMENT + 8)
}

/// Leaf element `i` of `page` (element headers bounds checked by [`page_kind`]).
pub(crate) fn leaf_element<'a>(page: &'a [u8], i: usize, what: &dyn fmt::Display) -> Result<LeafElement<'a>, Corrupt> {
    let at = PAGE_HEADER + i * ELEMENT;
    let flags = u32_at(page, at);
    let pos = u64::from(u32_at(page, at + 4));
    let ksize = u64::from(u32_at(page, at + 8));
    let vsize = u64::from(u32_at(page, at + 12));
    let key_start = at as u64 + pos;
    let val_start = key_start + ksize;
    let end = val_start + vsize;
    if end > page.len() as u64 {
        return Err(corrupt!("{what}: element {i} ends at byte {end}, past the page's {} bytes", page.len()));
    }
    let (key_start, val_start, end) = (key_start as usize, val_start as usize, end as usize);
    Ok(LeafElement { flags, offset: key_start, key: &page[key_start..val_start], value: &page[val_start..end] })
}

/// A bucket value: its root page, or the inline leaf page it holds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BucketRoot<'a> {
    Page(u64),
    Inline(&'a [u8]),
}

/// Decodes the bucket header in a bucket element's value.
pub(crate) fn bucket_root<'a>(value: &'a [u8], what: &dyn fmt::Display) -> Result<BucketRoot<'a>, Corrupt> {
    if value.len() < BUCKET_HEADER {
        return Err(corrupt!("{what}: bucket value of {} bytes, shorter than a bucket header", value.len()));
    }
    match u64_at(value, 0) {
        0 => Ok(BucketRoot::Inline(&value[BUCKET_HEADER..])),
        root => Ok(BucketRoot::Page(root)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn leaf_element_refuses_positions_past_the_page() {
        let mut page = vec![0u8; 64];
        page[8] = LEAF_PAGE as u8;
        page[10] = 1;
        // pos 16 from the element at 16: key at 32, ksize 40 runs past 64.
        page[16 + 4] = 16;
        page[16 + 8] = 40;
        let (_, count) = page_kind(&page, &"page 2").unwrap();
        assert_eq!(count, 1);
        assert!(leaf_element(&page, 0, &"page 2").is_err());
    }
}
