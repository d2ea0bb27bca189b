//! `mem`: /proc/meminfo with gopsutil's derived `used`, `cached` and percentages.

use procfs::{Current, Meminfo};

use super::{Accumulator, Fields, Input, proc_err};
use crate::Result;

pub struct Mem;

/// Builds the fields from parsed meminfo (bytes). gopsutil folds SReclaimable into `cached`
/// and derives `used` from it; Go's uint64 would wrap on odd container values, we saturate.
pub fn fields(m: &Meminfo) -> Fields {
    let sreclaimable = m.s_reclaimable.unwrap_or(0);
    let cached = m.cached + sreclaimable;
    let available = m.mem_available.unwrap_or(cached + m.mem_free);
    let used = m
        .mem_total
        .saturating_sub(m.mem_free)
        .saturating_sub(m.buffers)
        .saturating_sub(cached);
    let total = m.mem_total as f64;
    let mut f = Fields::default();
    f.int("total", m.mem_total)
        .int("available", available)
        .int("used", used)
        .float("used_percent", 100.0 * used as f64 / total)
        .float("available_percent", 100.0 * available as f64 / total)
        .int("free", m.mem_free)
        .int("active", m.active)
        .int("inactive", m.inactive)
        .int("buffered", m.buffers)
        .int("cached", cached)
        .int("shared", m.shmem.unwrap_or(0))
        .int("slab", m.slab)
        .int("sreclaimable", sreclaimable)
        .int("sunreclaim", m.s_unreclaim.unwrap_or(0))
        .int("dirty", m.dirty)
        .int("write_back", m.writeback)
        .int("write_back_tmp", m.writeback_tmp.unwrap_or(0))
        .int("mapped", m.mapped)
        .int("page_tables", m.page_tables.unwrap_or(0))
        .int("commit_limit", m.commit_limit.unwrap_or(0))
        .int("committed_as", m.committed_as)
        .int("huge_pages_total", m.hugepages_total.unwrap_or(0))
        .int("huge_pages_free", m.hugepages_free.unwrap_or(0))
        .int("huge_page_size", m.hugepagesize.unwrap_or(0))
        .int("swap_total", m.swap_total)
        .int("swap_free", m.swap_free)
        .int("swap_cached", m.swap_cached)
        .int("vmalloc_total", m.vmalloc_total)
        .int("vmalloc_used", m.vmalloc_used)
        .int("vmalloc_chunk", m.vmalloc_chunk)
        .int("high_total", m.high_total.unwrap_or(0))
        .int("high_free", m.high_free.unwrap_or(0))
        .int("low_total", m.low_total.unwrap_or(0))
        .int("low_free", m.low_free.unwrap_or(0));
    f
}

impl Input for Mem {
    fn gather(&mut self, acc: &mut Accumulator) -> Result<()> {
        let m = Meminfo::current().map_err(proc_err("mem"))?;
        acc.add("mem", Vec::new(), fields(&m));
        Ok(())
    }
}
