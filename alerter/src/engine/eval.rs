//! The evaluator threads: where stream tasks evaluate points, below ingest's priority.
//!
//! In a burst of writes every enabled stream task has work for every point. Evaluated on
//! the tokio workers, that work took the threads and cores that accept writes, and a
//! burst lost a third of its ingest rate to 100 tasks. Evaluation loses nothing by
//! waiting: the write log holds the backlog durably and tasks catch up from it. So it
//! runs on its own threads, one fewer than the machine has cores (at least one), each
//! lowered to `NICE` so that the scheduler gives a contended core to ingest first.
//! Saving state and queuing events wait on the disk, not on the CPU, and stay off
//! these threads so that a sync never holds up another task's evaluation.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use super::lock;

/// Niceness added to the evaluator threads: CFS weighs nice 10 at about a tenth of nice 0.
const NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

pub(crate) struct Evaluators {
    jobs: Sender<Job>,
}

impl Evaluators {
    /// Starts `threads` evaluator threads; they end when `Evaluators` is dropped.
    pub(crate) fn start(threads: usize) -> Evaluators {
        let (jobs, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("alerter-eval-{i}"))
                .spawn(move || work(&rx));
            if let Err(e) = spawned {
                tracing::warn!("starting an evaluator thread: {e}");
            }
        }
        Evaluators { jobs }
    }

    /// One fewer than the machine's cores, at least one.
    pub(crate) fn for_machine() -> Evaluators {
        Evaluators::start(
            std::thread::available_parallelism()
                .map_or(1, |n| n.get().saturating_sub(1))
                .max(1),
        )
    }

    /// Runs `f` on an evaluator thread. `None` if it panicked or the threads are gone.
    pub(crate) async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if let Ok(r) = catch_unwind(AssertUnwindSafe(f)) {
                let _ = tx.send(r);
            }
        });
        self.jobs.send(job).ok()?;
        rx.await.ok()
    }
}

fn work(rx: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        // The lock is held only while waiting for a job, never while running one.
        let job = match lock(rx).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        job();
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux a thread id names one thread for setpriority(PRIO_PROCESS). Relative to
    // the thread's own niceness: an unprivileged process may lower itself, never raise.
    let tid = rustix::thread::gettid();
    let now = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
    if let Err(e) = rustix::process::setpriority_process(Some(tid), (now + NICE).min(19)) {
        tracing::debug!("lowering an evaluator thread's priority: {e}");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {
    let _ = NICE;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_survives_a_panic() {
        let pool = Evaluators::start(1);
        assert_eq!(pool.run(|| 2 + 2).await, Some(4));
        let boom: Option<()> = pool.run(|| panic!("a bad job")).await;
        assert_eq!(boom, None);
        assert_eq!(pool.run(|| "still here").await, Some("still here"));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn evaluator_threads_run_below_normal_priority() {
        let pool = Evaluators::start(1);
        let nice = pool
            .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
            .await
            .and_then(|r| r.ok());
        let caller = rustix::process::getpriority_process(None).unwrap_or(0);
        assert_eq!(nice, Some((caller + NICE).min(19)));
    }
}
