//! `kernel`: boot time, context switches, interrupts, forks, entropy.

use super::{Accumulator, Fields, Input, procstat};
use crate::{Error, Result};

pub struct Kernel;

impl Input for Kernel {
    fn gather(&mut self, acc: &mut Accumulator) -> Result<()> {
        let stat = procstat::read().map_err(|e| Error::gather("kernel", e))?;
        let mut f = Fields::default();
        let mut opt = |k: &str, v: Option<u64>| {
            if let Some(v) = v {
                f.int(k, v);
            }
        };
        opt("interrupts", stat.intr);
        opt("context_switches", stat.ctxt);
        opt("processes_forked", stat.processes);
        opt("boot_time", stat.btime);
        // Telegraf reads these from the `page` line of /proc/stat, which kernels since 2.6
        // no longer print, so like Telegraf we emit them only when it is there.
        opt("disk_pages_in", stat.page.map(|p| p.0));
        opt("disk_pages_out", stat.page.map(|p| p.1));
        let entropy = std::fs::read_to_string("/proc/sys/kernel/random/entropy_avail")
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok());
        if let Some(e) = entropy {
            f.signed("entropy_avail", e);
        }
        acc.add("kernel", Vec::new(), f);
        Ok(())
    }
}
