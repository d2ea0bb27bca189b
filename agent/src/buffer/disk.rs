//! `buffer_strategy = "disk"`: the buffer as append-only segment files, replayed in order
//! after a restart or a `kill -9`.
//!
//! Layout of the directory (one per output):
//! - `<first_seq:020>.seg`: records `[len: u32 LE][crc32: u32 LE][line bytes]`, appended.
//! - `head`: the sequence number of the oldest line not yet written, replaced by rename.
//!
//! Every push is one `write(2)` of whole records, so after the process dies the kernel still
//! has them; a record cut short (or garbled by a power loss) fails its length or CRC check
//! and the segment is truncated there on open. The head is advanced only after the server
//! accepted a batch, so a crash between the two replays that batch: the points keep their
//! gather timestamps, which makes the replay idempotent at the store. We do not fsync: the
//! promise is surviving the agent's death, not the machine's, at no steady disk cost.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Buffer;
use crate::{Error, Result};

/// Segments are rolled at this size so acknowledged data is deleted in modest steps.
const SEGMENT_BYTES: u64 = 1 << 20;
const HEADER: u64 = 8;

#[derive(Debug)]
struct Segment {
    first_seq: u64,
    count: u64,
    path: PathBuf,
}

pub struct DiskBuffer {
    dir: PathBuf,
    limit: usize,
    segments: VecDeque<Segment>,
    head_seq: u64,
    /// Byte offset of `head_seq` in the front segment.
    head_offset: u64,
    len: usize,
    next_seq: u64,
    /// The last segment, open for appending, and its size.
    writer: Option<(File, u64)>,
}

fn crc(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

/// Reads the next record; `None` at a clean end, a torn tail or a bad checksum.
fn read_record(r: &mut impl Read) -> Option<Vec<u8>> {
    let mut h = [0u8; HEADER as usize];
    r.read_exact(&mut h).ok()?;
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let sum = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    // A line longer than a segment is never written; a larger length is garbage.
    if len as u64 > SEGMENT_BYTES * 64 {
        return None;
    }
    let mut data = vec![0u8; len];
    r.read_exact(&mut data).ok()?;
    (crc(&data) == sum).then_some(data)
}

impl DiskBuffer {
    /// Opens (or creates) the buffer in `dir`, recovering what a previous run left.
    /// Returns the buffer and how many lines were dropped to fit `limit`.
    pub fn open(dir: &Path, limit: usize) -> Result<(DiskBuffer, usize)> {
        let io = |e| Error::io(dir, e);
        fs::create_dir_all(dir).map_err(io)?;
        let mut found: Vec<(u64, PathBuf)> = Vec::new();
        for entry in fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let seq = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".seg"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(seq) = seq {
                found.push((seq, path));
            }
        }
        found.sort();
        let head_path = dir.join("head");
        let saved_head = match fs::read_to_string(&head_path) {
            Ok(s) => Some(s.trim().parse::<u64>().map_err(|_| Error::Buffer {
                path: head_path.clone(),
                message: format!("bad head {s:?}"),
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&head_path, e)),
        };

        let mut segments = VecDeque::new();
        for (first_seq, path) in found {
            let count = recover_segment(&path)?;
            if count == 0 {
                fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                continue;
            }
            segments.push_back(Segment {
                first_seq,
                count,
                path,
            });
        }
        let first = segments.front().map_or(0, |s| s.first_seq);
        let next_seq = segments
            .back()
            .map_or(saved_head.unwrap_or(0), |s| s.first_seq + s.count);
        let head_seq = saved_head.unwrap_or(first).max(first);
        let mut buf = DiskBuffer {
            dir: dir.to_path_buf(),
            limit: limit.max(1),
            len: segments.iter().map(|s| s.count as usize).sum(),
            segments,
            head_seq: first,
            head_offset: 0,
            next_seq: next_seq.max(head_seq),
            writer: None,
        };
        let skip = head_seq - first;
        buf.advance(skip as usize)?;
        let over = buf.len.saturating_sub(buf.limit);
        buf.advance(over)?;
        Ok((buf, over))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn save_head(&self) -> Result<()> {
        let tmp = self.dir.join("head.tmp");
        let path = self.dir.join("head");
        fs::write(&tmp, self.head_seq.to_string()).map_err(|e| Error::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
    }

    /// Forgets the `k` oldest lines: whole segments are deleted, a partial one is skipped into.
    fn advance(&mut self, mut k: usize) -> Result<()> {
        k = k.min(self.len);
        if k == 0 {
            return Ok(());
        }
        self.len -= k;
        while k > 0 {
            let Some(seg) = self.segments.front() else {
                break;
            };
            let remaining = (seg.first_seq + seg.count)
                .saturating_sub(self.head_seq.max(seg.first_seq))
                as usize;
            if k >= remaining {
                let seg = self
                    .segments
                    .pop_front()
                    .ok_or_else(|| self.corrupt("segment list"))?;
                if self.segments.is_empty() {
                    self.writer = None;
                }
                fs::remove_file(&seg.path).map_err(|e| Error::io(&seg.path, e))?;
                self.head_seq = seg.first_seq + seg.count;
                self.head_offset = 0;
                k -= remaining;
                if let Some(next) = self.segments.front() {
                    self.head_seq = next.first_seq;
                }
            } else {
                let mut r = self.reader_at_head()?;
                let mut offset = self.head_offset;
                for _ in 0..k {
                    let rec = read_record(&mut r)
                        .ok_or_else(|| self.corrupt("segment shorter than counted"))?;
                    offset += HEADER + rec.len() as u64;
                }
                self.head_offset = offset;
                self.head_seq += k as u64;
                k = 0;
            }
        }
        if self.segments.is_empty() {
            self.head_seq = self.next_seq;
        }
        self.save_head()
    }

    fn reader_at_head(&self) -> Result<BufReader<File>> {
        let seg = self
            .segments
            .front()
            .ok_or_else(|| self.corrupt("no segment"))?;
        let mut f = File::open(&seg.path).map_err(|e| Error::io(&seg.path, e))?;
        f.seek(SeekFrom::Start(self.head_offset))
            .map_err(|e| Error::io(&seg.path, e))?;
        Ok(BufReader::new(f))
    }

    fn corrupt(&self, what: &str) -> Error {
        Error::Buffer {
            path: self.dir.clone(),
            message: what.to_string(),
        }
    }
}

/// Counts the valid records of a segment and cuts off anything after the last one.
fn recover_segment(path: &Path) -> Result<u64> {
    let io = |e| Error::io(path, e);
    let file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let mut r = BufReader::new(file);
    let (mut count, mut good) = (0u64, 0u64);
    while let Some(rec) = read_record(&mut r) {
        count += 1;
        good += HEADER + rec.len() as u64;
    }
    if good < size {
        crate::warn!(
            "disk buffer {}: dropping {} bytes of an incomplete record",
            path.display(),
            size - good
        );
        OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(good))
            .map_err(io)?;
    }
    Ok(count)
}

impl Buffer for DiskBuffer {
    fn push(&mut self, lines: Vec<Arc<str>>) -> Result<usize> {
        if lines.is_empty() {
            return Ok(0);
        }
        if self
            .writer
            .as_ref()
            .is_none_or(|(_, size)| *size >= SEGMENT_BYTES)
        {
            let path = self.dir.join(format!("{:020}.seg", self.next_seq));
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            let size = f.metadata().map_err(|e| Error::io(&path, e))?.len();
            self.segments.push_back(Segment {
                first_seq: self.next_seq,
                count: 0,
                path,
            });
            self.writer = Some((f, size));
        }
        let mut data = Vec::with_capacity(lines.iter().map(|l| l.len() + HEADER as usize).sum());
        for l in &lines {
            data.extend_from_slice(&(l.len() as u32).to_le_bytes());
            data.extend_from_slice(&crc(l.as_bytes()).to_le_bytes());
            data.extend_from_slice(l.as_bytes());
        }
        let seg = self.segments.back_mut().ok_or_else(|| Error::Buffer {
            path: self.dir.clone(),
            message: "no segment".into(),
        })?;
        let Some((f, size)) = self.writer.as_mut() else {
            return Err(self.corrupt("no writer"));
        };
        if let Err(e) = f.write_all(&data) {
            // Cut a partial append so the next one starts on a record boundary.
            let _ = f.set_len(*size);
            return Err(Error::io(&seg.path, e));
        }
        *size += data.len() as u64;
        seg.count += lines.len() as u64;
        self.next_seq += lines.len() as u64;
        self.len += lines.len();
        let over = self.len.saturating_sub(self.limit);
        self.advance(over)?;
        Ok(over)
    }

    fn len(&self) -> usize {
        self.len
    }

    fn peek(&mut self, n: usize) -> Result<(u64, Vec<Arc<str>>)> {
        let mut out = Vec::with_capacity(n.min(self.len));
        for (i, seg) in self.segments.iter().enumerate() {
            if out.len() >= n {
                break;
            }
            let mut f = File::open(&seg.path).map_err(|e| Error::io(&seg.path, e))?;
            let start = if i == 0 { self.head_offset } else { 0 };
            f.seek(SeekFrom::Start(start))
                .map_err(|e| Error::io(&seg.path, e))?;
            let mut r = BufReader::new(f);
            let in_seg = if i == 0 {
                seg.first_seq + seg.count - self.head_seq
            } else {
                seg.count
            };
            for _ in 0..in_seg {
                if out.len() >= n {
                    break;
                }
                let rec = read_record(&mut r)
                    .ok_or_else(|| self.corrupt("segment shorter than counted"))?;
                let line = String::from_utf8(rec).map_err(|_| self.corrupt("line is not UTF-8"))?;
                out.push(Arc::from(line));
            }
        }
        Ok((self.head_seq, out))
    }

    fn consume(&mut self, end: u64) -> Result<()> {
        let k = end.saturating_sub(self.head_seq) as usize;
        self.advance(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(range: std::ops::Range<u32>) -> Vec<Arc<str>> {
        range.map(|i| Arc::from(format!("m v={i}i {i}"))).collect()
    }

    fn all(b: &mut DiskBuffer) -> Vec<String> {
        b.peek(usize::MAX)
            .expect("peek")
            .1
            .iter()
            .map(|l| l.to_string())
            .collect()
    }

    #[test]
    fn survives_reopen_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut b, _) = DiskBuffer::open(dir.path(), 100).expect("open");
        b.push(lines(0..10)).expect("push");
        let (seq, batch) = b.peek(4).expect("peek");
        b.consume(seq + batch.len() as u64).expect("consume");
        b.push(lines(10..12)).expect("push");
        drop(b);
        let (mut b, dropped) = DiskBuffer::open(dir.path(), 100).expect("reopen");
        assert_eq!(dropped, 0);
        assert_eq!(b.len(), 8);
        let got = all(&mut b);
        assert_eq!(got.first().map(String::as_str), Some("m v=4i 4"));
        assert_eq!(got.last().map(String::as_str), Some("m v=11i 11"));
        b.push(lines(12..13)).expect("push");
        assert_eq!(b.len(), 9);
    }

    #[test]
    fn drops_oldest_over_the_limit_and_across_segments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut b, _) = DiskBuffer::open(dir.path(), 5).expect("open");
        assert_eq!(b.push(lines(0..3)).expect("push"), 0);
        // Force a second segment.
        b.writer = None;
        assert_eq!(b.push(lines(3..8)).expect("push"), 3);
        assert_eq!(
            all(&mut b),
            lines(3..8)
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
        );
        let (seq, _) = b.peek(5).expect("peek");
        b.consume(seq + 5).expect("consume");
        assert!(b.is_empty());
        let segs = fs::read_dir(dir.path())
            .expect("dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "seg"))
            })
            .count();
        assert_eq!(segs, 0, "acknowledged segments are deleted");
        drop(b);
        let (b, _) = DiskBuffer::open(dir.path(), 5).expect("reopen");
        assert!(b.is_empty());
    }

    #[test]
    fn torn_tail_is_cut_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut b, _) = DiskBuffer::open(dir.path(), 100).expect("open");
        b.push(lines(0..3)).expect("push");
        let path = b.segments[0].path.clone();
        drop(b);
        let mut f = OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open seg");
        f.write_all(&[40, 0, 0, 0, 1, 2, 3, 4, b'm'])
            .expect("torn write");
        drop(f);
        let (mut b, _) = DiskBuffer::open(dir.path(), 100).expect("reopen");
        assert_eq!(b.len(), 3);
        b.push(lines(3..4)).expect("push after recovery");
        assert_eq!(all(&mut b).len(), 4);
    }
}
