//! Flushes off the write path. Encoding a head column into compressed chunks (pco) is the
//! longest thing the store does per point; done on the writer thread it held every write
//! behind it (write p99 ~540 ms during a backlog replay). Here the writer only seals the
//! columns (a move in memory) and hands the sealed pieces to the encoder thread; when the
//! encoded chunks come back it stores them in one short transaction and drops the pieces
//! from the head. The write log and `synchronous` rules are untouched: a write is still
//! acknowledged after its log COMMIT, and a piece leaves the head only after its chunks
//! are committed, so a crash at any step replays it from the log as before.
//!
//! Sealed pieces never change, so the encoder reads them through shared references while
//! queries keep seeing them in the head. A flush that finds its pieces gone when it comes
//! back (a synchronous flush or a drop took them) stores nothing.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};

use super::column::normalize;
use super::head::{ColumnHead, ColumnKey};
use super::writer::Writer;
use crate::Result;
use crate::codec::{self, Column};

/// Columns per encoder job: each job is committed in its own short transaction.
const JOB_COLUMNS: usize = 256;

/// Jobs out at once. Sealed pieces stay in the head until their chunks are stored, so
/// during a bulk load an encoder that falls behind would let the head grow to
/// `max_head_values` (peak RSS 125 -> 164 MiB in the peers benchmark); past this the writer
/// waits for the encoder, as it did when it encoded itself.
const MAX_OUTSTANDING_JOBS: usize = 1;

/// One chunk ready to insert.
pub(super) struct EncodedChunk {
    pub(super) min: i64,
    pub(super) max: i64,
    pub(super) count: i64,
    pub(super) blob: Vec<u8>,
}

struct EncodedColumn {
    key: ColumnKey,
    pieces: Vec<Arc<ColumnHead>>,
    max_seq: u64,
    chunks: Vec<EncodedChunk>,
}

struct Job {
    columns: Vec<(ColumnKey, Vec<Arc<ColumnHead>>)>,
    chunk_points: usize,
}

struct Done {
    keys: Vec<ColumnKey>,
    result: Result<Vec<EncodedColumn>>,
}

/// The writer's side of the encoder thread.
pub(super) struct Flusher {
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    /// Columns sealed and sent, not yet back: never sent twice at once, so their chunks
    /// are stored in the order their points were written.
    in_flight: HashSet<ColumnKey>,
    outstanding: usize,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    pub(super) fn start() -> Flusher {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tsdb-encoder".into())
            .spawn(move || {
                for job in job_rx {
                    let keys = job.columns.iter().map(|(k, _)| *k).collect();
                    let result = job
                        .columns
                        .into_iter()
                        .map(|(key, pieces)| {
                            let (max_seq, chunks) = encode_pieces(&pieces, job.chunk_points)?;
                            Ok(EncodedColumn {
                                key,
                                pieces,
                                max_seq,
                                chunks,
                            })
                        })
                        .collect();
                    if done_tx.send(Done { keys, result }).is_err() {
                        break;
                    }
                }
            });
        let (jobs, thread) = match thread {
            Ok(t) => (Some(jobs), Some(t)),
            Err(e) => {
                // Without the thread, flushes run on the writer as they used to.
                tracing::warn!("no encoder thread ({e}); flushing on the writer thread");
                (None, None)
            }
        };
        Flusher {
            jobs,
            done,
            in_flight: HashSet::new(),
            outstanding: 0,
            thread,
        }
    }

    pub(super) fn outstanding(&self) -> usize {
        self.outstanding
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Writer {
    /// Seals the given columns and queues them for encoding; their chunks are stored by
    /// [`Writer::store_encoded`] when they come back.
    pub(super) fn flush_async(&mut self, mut keys: Vec<ColumnKey>) {
        keys.sort_unstable();
        keys.dedup();
        keys.retain(|k| !self.flusher.in_flight.contains(k));
        if keys.is_empty() {
            return;
        }
        if self.flusher.jobs.is_none() {
            self.flush_or_log(keys);
            return;
        }
        let chunk_points = self.shared.options.chunk_points.max(1);
        let columns: Vec<(ColumnKey, Vec<Arc<ColumnHead>>)> = {
            let mut head = self.shared.head.write().unwrap_or_else(|e| e.into_inner());
            keys.iter()
                .map(|k| (*k, head.seal(k)))
                .filter(|(_, p)| !p.is_empty())
                .collect()
        };
        let mut columns = columns.into_iter().peekable();
        while columns.peek().is_some() {
            if self.flusher.outstanding >= MAX_OUTSTANDING_JOBS {
                self.store_encoded(true);
            }
            let job: Vec<_> = columns.by_ref().take(JOB_COLUMNS).collect();
            let keys: Vec<ColumnKey> = job.iter().map(|(k, _)| *k).collect();
            let sent = self.flusher.jobs.as_ref().is_some_and(|tx| {
                tx.send(Job {
                    columns: job,
                    chunk_points,
                })
                .is_ok()
            });
            if sent {
                self.flusher.in_flight.extend(keys);
                self.flusher.outstanding += 1;
            } else {
                self.flusher.jobs = None;
                self.flush_or_log(keys);
            }
        }
    }

    /// Stores the chunks the encoder has finished; with `wait`, first waits for every
    /// job still out (before a synchronous flush, or when the head is over its limit).
    pub(super) fn store_encoded(&mut self, wait: bool) {
        while self.flusher.outstanding > 0 {
            let done = if wait {
                self.flusher
                    .done
                    .recv()
                    .map_err(|_| mpsc::TryRecvError::Disconnected)
            } else {
                self.flusher.done.try_recv()
            };
            let done = match done {
                Ok(d) => d,
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    // The encoder is gone (it panicked): flush on this thread from now on.
                    self.flusher.jobs = None;
                    break;
                }
            };
            self.flusher.outstanding -= 1;
            for k in &done.keys {
                self.flusher.in_flight.remove(k);
            }
            let stored = done.result.and_then(|cols| self.commit_encoded(cols));
            if let Err(e) = stored {
                tracing::error!("flush failed (data stays in the log and head): {e}");
            }
        }
        if self.flusher.outstanding > 0 && self.flusher.jobs.is_none() {
            // The encoder is gone: nothing more will come back.
            self.flusher.outstanding = 0;
            self.flusher.in_flight.clear();
        }
    }

    fn commit_encoded(&mut self, cols: Vec<EncodedColumn>) -> Result<()> {
        // Only this thread changes the head, so what is checked here still holds when the
        // pieces are removed below.
        let cols: Vec<EncodedColumn> = {
            let head = self.shared.head.read().unwrap_or_else(|e| e.into_inner());
            cols.into_iter()
                .filter(|c| head.holds_sealed(&c.key, &c.pieces))
                .collect()
        };
        if cols.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for c in &cols {
            insert_chunks(&tx, c.key, c.max_seq, &c.chunks)?;
        }
        tx.commit()?;
        super::crash::point("flush.chunks_committed");
        {
            let mut head = self.shared.head.write().unwrap_or_else(|e| e.into_inner());
            for c in &cols {
                head.take_sealed(&c.key, &c.pieces);
                self.touched.insert(c.key);
            }
        }
        self.trim_log()
    }
}

/// The chunks of a column's pieces (merged, sorted, last write wins) and their newest
/// log sequence.
fn encode_pieces(
    pieces: &[Arc<ColumnHead>],
    chunk_points: usize,
) -> Result<(u64, Vec<EncodedChunk>)> {
    let mut times: Vec<i64> = Vec::new();
    let mut values: Option<Column> = None;
    let mut max_seq = 0;
    for p in pieces {
        max_seq = max_seq.max(p.last_seq);
        match &mut values {
            None => values = Some(p.values.clone()),
            Some(v) => {
                // One field id has one type; a mismatch cannot be merged, skip it as the
                // head's append does.
                if !v.extend_from(&p.values) {
                    continue;
                }
            }
        }
        times.extend_from_slice(&p.times);
    }
    let Some(values) = values else {
        return Ok((max_seq, Vec::new()));
    };
    let (t, v) = normalize(&times, &values, i64::MIN, i64::MAX);
    Ok((max_seq, encode_split(&t, &v, chunk_points)?))
}

/// Encodes sorted points as chunks of at most `n` points.
pub(super) fn encode_split(times: &[i64], values: &Column, n: usize) -> Result<Vec<EncodedChunk>> {
    let n = n.max(1);
    let mut out = Vec::with_capacity(times.len().div_ceil(n));
    for s in (0..times.len()).step_by(n) {
        let e = (s + n).min(times.len());
        let idx: Vec<usize> = (s..e).collect();
        let t = &times[s..e];
        let v = values.gather(&idx);
        let (Some(&min), Some(&max)) = (t.first(), t.last()) else {
            continue;
        };
        out.push(EncodedChunk {
            min,
            max,
            count: t.len() as i64,
            blob: codec::encode_chunk(t, &v)?,
        });
    }
    Ok(out)
}

pub(super) fn insert_chunks(
    tx: &Connection,
    (series, field): ColumnKey,
    max_seq: u64,
    chunks: &[EncodedChunk],
) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO chunks (series_id, field_id, min_time, max_time, count, max_seq, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for c in chunks {
        insert.execute((
            series,
            field,
            c.min,
            c.max,
            c.count,
            max_seq as i64,
            &c.blob,
        ))?;
    }
    Ok(())
}
