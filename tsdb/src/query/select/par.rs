//! A small fork-join helper: queries run on a blocking thread, and the machine's other
//! cores would otherwise idle while one core decodes chunks.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::codec::ColumnBuf;

/// Most threads one query uses (the calling thread included).
const MAX_THREADS: usize = 4;

thread_local! {
    /// Set while the thread runs jobs of a [`map`]: nested calls then run inline.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

fn threads() -> usize {
    static N: AtomicUsize = AtomicUsize::new(0);
    match N.load(Ordering::Relaxed) {
        0 => {
            let n = std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .clamp(1, MAX_THREADS);
            N.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// `f(0), f(1), ... f(n - 1)`, in that order, computed on up to [`MAX_THREADS`] threads
/// (one per core) when `n > 1`. Jobs are handed out one at a time, so uneven jobs balance.
/// Inside another `map`, runs on the calling thread.
pub fn map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let workers = threads().min(n);
    if workers <= 1 || INSIDE.with(Cell::get) {
        return (0..n).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let work = || {
        let was = INSIDE.with(|c| c.replace(true));
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            let v = f(i);
            if let Some(slot) = slots.get(i) {
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
            }
        }
        INSIDE.with(|c| c.set(was));
    };
    std::thread::scope(|s| {
        for _ in 1..workers {
            s.spawn(work);
        }
        work();
    });
    slots
        .into_iter()
        .filter_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

/// Splits `0..n` into contiguous ranges for [`map`], one per thread (columns cost about
/// the same, and each range pays for its own memory map).
pub fn batches(n: usize) -> Vec<std::ops::Range<usize>> {
    let parts = threads().min(n).max(1);
    let size = n.div_ceil(parts).max(1);
    (0..n).step_by(size).map(|a| a..(a + size).min(n)).collect()
}

/// Column buffers kept between reads, so that decoding does not fault in fresh pages
/// for every column.
static POOL: Mutex<Vec<ColumnBuf>> = Mutex::new(Vec::new());

/// Most buffers [`give`] keeps, and the largest (in points) it keeps.
const POOL_BUFFERS: usize = 64;
const POOL_POINTS: usize = 1 << 16;

pub fn take() -> ColumnBuf {
    POOL.lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .unwrap_or_default()
}

pub fn give(buf: ColumnBuf) {
    if buf.times.capacity() > POOL_POINTS || buf.values.len() > POOL_POINTS {
        return;
    }
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if pool.len() < POOL_BUFFERS {
        pool.push(buf);
    }
}
