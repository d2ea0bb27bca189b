//! `diskio`: /proc/diskstats counters plus Telegraf's derived io_util, io_await, io_svctm.

use std::collections::HashMap;
use std::time::Instant;

use procfs::DiskStat;

use super::{Accumulator, Fields, Input, proc_err, tag};
use crate::Result;
use crate::filter::glob;

#[derive(Debug, Clone, Default)]
pub struct DiskioOptions {
    pub devices: Vec<String>,
    pub skip_serial_number: bool,
}

/// The kernel counts sectors of 512 bytes in diskstats, whatever the device's sector size.
const SECTOR: u64 = 512;

pub struct Diskio {
    opts: DiskioOptions,
    last: HashMap<String, DiskStat>,
    last_at: Option<Instant>,
    serials: HashMap<String, String>,
}

impl Diskio {
    pub fn new(opts: DiskioOptions) -> Diskio {
        Diskio {
            opts,
            last: HashMap::new(),
            last_at: None,
            serials: HashMap::new(),
        }
    }

    /// udev's database, as gopsutil reads it; cached because serials do not change.
    fn serial(&mut self, d: &DiskStat) -> String {
        let key = format!("{}:{}", d.major, d.minor);
        self.serials
            .entry(key)
            .or_insert_with_key(|key| {
                std::fs::read_to_string(format!("/run/udev/data/b{key}"))
                    .ok()
                    .and_then(|t| {
                        t.lines()
                            .find_map(|l| l.strip_prefix("E:ID_SERIAL=").map(str::to_string))
                    })
                    .unwrap_or_else(|| "unknown".to_string())
            })
            .clone()
    }
}

impl Input for Diskio {
    fn gather(&mut self, acc: &mut Accumulator) -> Result<()> {
        let stats = procfs::diskstats().map_err(proc_err("diskio"))?;
        let now = Instant::now();
        let elapsed_ms = self
            .last_at
            .map(|t| now.duration_since(t).as_millis() as f64);
        let mut next = HashMap::with_capacity(stats.len());
        for d in stats {
            if !self.opts.devices.is_empty()
                && !self
                    .opts
                    .devices
                    .iter()
                    .any(|p| glob(p.as_bytes(), d.name.as_bytes()))
            {
                continue;
            }
            let mut f = Fields::default();
            f.int("reads", d.reads)
                .int("writes", d.writes)
                .int("read_bytes", d.sectors_read * SECTOR)
                .int("write_bytes", d.sectors_written * SECTOR)
                .int("read_time", d.time_reading)
                .int("write_time", d.time_writing)
                .int("io_time", d.time_in_progress)
                .int("weighted_io_time", d.weighted_time_in_progress)
                .int("iops_in_progress", d.in_progress)
                .int("merged_reads", d.merged)
                .int("merged_writes", d.writes_merged);
            if let Some(last) = self.last.get(&d.name) {
                let delta = |a: u64, b: u64| a.wrapping_sub(b) as f64;
                let rw_count = delta(d.reads + d.writes, last.reads + last.writes);
                let rw_time = delta(
                    d.time_reading + d.time_writing,
                    last.time_reading + last.time_writing,
                );
                let io_time = delta(d.time_in_progress, last.time_in_progress);
                if rw_count > 0.0 {
                    f.float("io_await", rw_time / rw_count)
                        .float("io_svctm", io_time / rw_count);
                }
                if let Some(itv) = elapsed_ms.filter(|&ms| ms > 0.0) {
                    f.float("io_util", 100.0 * io_time / itv);
                }
            }
            let mut tags = vec![tag("name", d.name.as_str())];
            if !self.opts.skip_serial_number {
                tags.push(tag("serial", self.serial(&d)));
            }
            acc.add("diskio", tags, f);
            next.insert(d.name.clone(), d);
        }
        self.last = next;
        self.last_at = Some(now);
        Ok(())
    }
}
