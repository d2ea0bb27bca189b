//! `processes`: process counts by state, and total threads, from /proc/PID/stat.

use super::{Accumulator, Fields, Input, proc_err};
use crate::Result;

pub struct Processes;

#[derive(Default)]
struct Counts {
    blocked: u64,
    running: u64,
    sleeping: u64,
    stopped: u64,
    zombies: u64,
    dead: u64,
    paging: u64,
    idle: u64,
    parked: u64,
    unknown: u64,
    total: u64,
    total_threads: u64,
}

impl Counts {
    fn add(&mut self, state: char, threads: i64) {
        match state {
            'R' => self.running += 1,
            'S' => self.sleeping += 1,
            'D' => self.blocked += 1,
            'Z' => self.zombies += 1,
            'X' => self.dead += 1,
            'T' | 't' => self.stopped += 1,
            'W' => self.paging += 1,
            'I' => self.idle += 1,
            'P' => self.parked += 1,
            _ => self.unknown += 1,
        }
        self.total += 1;
        self.total_threads += u64::try_from(threads).unwrap_or(0);
    }
}

impl Input for Processes {
    fn gather(&mut self, acc: &mut Accumulator) -> Result<()> {
        let mut c = Counts::default();
        for p in procfs::process::all_processes().map_err(proc_err("processes"))? {
            // A process can exit between listing /proc and reading its stat: skip it quietly.
            let Ok(stat) = p.and_then(|p| p.stat()) else {
                continue;
            };
            c.add(stat.state, stat.num_threads);
        }
        let mut f = Fields::default();
        f.int("blocked", c.blocked)
            .int("running", c.running)
            .int("sleeping", c.sleeping)
            .int("stopped", c.stopped)
            .int("total", c.total)
            .int("zombies", c.zombies)
            .int("unknown", c.unknown)
            .int("dead", c.dead)
            .int("paging", c.paging)
            .int("idle", c.idle)
            .int("parked", c.parked)
            .int("total_threads", c.total_threads);
        acc.add("processes", Vec::new(), f);
        Ok(())
    }
}
