//! `swap`: totals from /proc/meminfo, page-in/out counters from /proc/vmstat.
//!
//! Telegraf emits the gauges and the counters as two metrics with one timestamp that merge
//! into one point at the store; we emit the merged point directly.

use procfs::{Current, Meminfo};

use super::{Accumulator, Fields, Input, proc_err};
use crate::Result;

pub struct Swap;

/// gopsutil multiplies pswpin/pswpout by a fixed 4 KiB, whatever the page size.
const SWAP_PAGE: u64 = 4 * 1024;

impl Input for Swap {
    fn gather(&mut self, acc: &mut Accumulator) -> Result<()> {
        let m = Meminfo::current().map_err(proc_err("swap"))?;
        let vm = procfs::vmstat().map_err(proc_err("swap"))?;
        let used = m.swap_total.saturating_sub(m.swap_free);
        let pct = if m.swap_total == 0 {
            0.0
        } else {
            used as f64 / m.swap_total as f64 * 100.0
        };
        let page = |k: &str| vm.get(k).map_or(0, |&v| u64::try_from(v).unwrap_or(0)) * SWAP_PAGE;
        let mut f = Fields::default();
        f.int("total", m.swap_total)
            .int("used", used)
            .int("free", m.swap_free)
            .float("used_percent", pct)
            .int("in", page("pswpin"))
            .int("out", page("pswpout"));
        acc.add("swap", Vec::new(), f);
        Ok(())
    }
}
