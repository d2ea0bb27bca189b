//! Per-output bounded buffers of serialized lines, oldest first.
//!
//! Lines are numbered with a sequence that only grows. A writer [`Buffer::peek`]s a batch,
//! sends it without holding the buffer's lock, then [`Buffer::consume`]s up to the end of that
//! batch. If gathers overflowed the buffer meanwhile, the oldest lines (possibly part of the
//! batch in flight) were already dropped and counted; consuming by sequence number keeps the
//! two from double-counting or removing lines that were never sent.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::Result;

pub mod disk;

pub use disk::DiskBuffer;

pub trait Buffer: Send {
    /// Appends lines, dropping the oldest beyond the limit. Returns how many were dropped.
    fn push(&mut self, lines: Vec<Arc<str>>) -> Result<usize>;

    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Up to `n` lines from the front, with the sequence number of the first.
    fn peek(&mut self, n: usize) -> Result<(u64, Vec<Arc<str>>)>;

    /// Removes every line with a sequence number below `end` (exclusive).
    fn consume(&mut self, end: u64) -> Result<()>;
}

/// Telegraf's ring buffer: bounded, drop-oldest, lost on exit.
pub struct MemoryBuffer {
    lines: VecDeque<Arc<str>>,
    head_seq: u64,
    limit: usize,
    /// Capacity kept when the buffer drains, so a recovered outage gives memory back (#942).
    keep: usize,
}

impl MemoryBuffer {
    pub fn new(limit: usize, batch: usize) -> MemoryBuffer {
        MemoryBuffer {
            lines: VecDeque::new(),
            head_seq: 0,
            limit: limit.max(1),
            keep: batch.min(limit),
        }
    }
}

impl Buffer for MemoryBuffer {
    fn push(&mut self, lines: Vec<Arc<str>>) -> Result<usize> {
        self.lines.extend(lines);
        let over = self.lines.len().saturating_sub(self.limit);
        self.lines.drain(..over);
        self.head_seq += over as u64;
        Ok(over)
    }

    fn len(&self) -> usize {
        self.lines.len()
    }

    fn peek(&mut self, n: usize) -> Result<(u64, Vec<Arc<str>>)> {
        Ok((self.head_seq, self.lines.iter().take(n).cloned().collect()))
    }

    fn consume(&mut self, end: u64) -> Result<()> {
        let n = end
            .saturating_sub(self.head_seq)
            .min(self.lines.len() as u64);
        self.lines.drain(..n as usize);
        self.head_seq += n;
        if self.lines.is_empty() && self.lines.capacity() > self.keep * 2 {
            self.lines.shrink_to(self.keep);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn lines(range: std::ops::Range<u32>) -> Vec<Arc<str>> {
        range.map(|i| Arc::from(format!("m v={i}i {i}"))).collect()
    }

    #[test]
    fn drops_oldest_and_counts() {
        let mut b = MemoryBuffer::new(5, 2);
        assert_eq!(b.push(lines(0..3)).expect("push"), 0);
        assert_eq!(b.push(lines(3..8)).expect("push"), 3);
        let (seq, got) = b.peek(10).expect("peek");
        assert_eq!(seq, 3);
        assert_eq!(&*got[0], "m v=3i 3");
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn consume_after_overflow_during_write() {
        let mut b = MemoryBuffer::new(4, 2);
        b.push(lines(0..4)).expect("push");
        let (seq, batch) = b.peek(2).expect("peek");
        // While lines 0 and 1 are in flight, three more arrive: 0, 1 and 2 overflow.
        assert_eq!(b.push(lines(4..7)).expect("push"), 3);
        b.consume(seq + batch.len() as u64).expect("consume");
        let (_, rest) = b.peek(10).expect("peek");
        let rest: Vec<_> = rest.iter().map(|l| l.to_string()).collect();
        assert_eq!(rest, ["m v=3i 3", "m v=4i 4", "m v=5i 5", "m v=6i 6"]);
    }
}
