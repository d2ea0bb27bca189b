//! `/proc/stat`, read for cpu and kernel.
//!
//! procfs's `KernelStats` numbers CPUs by position and drops the `cpuN` label, which is wrong
//! once a CPU is offline (its line disappears and later CPUs would be renamed); it also skips
//! `intr` and `page`. The format is one keyword and integers per line, so we read it here.

/// Raw tick counters of one `cpu` line, in /proc/stat's column order.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTicks {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
    pub guest: u64,
    pub guest_nice: u64,
}

#[derive(Debug, Default)]
pub struct ProcStat {
    /// `("cpu-total", ..)` for the aggregate line, `("cpu0", ..)` and so on after it.
    pub cpus: Vec<(String, CpuTicks)>,
    pub intr: Option<u64>,
    pub ctxt: Option<u64>,
    pub btime: Option<u64>,
    pub processes: Option<u64>,
    /// `page in out`, only on old kernels.
    pub page: Option<(u64, u64)>,
}

pub fn parse(text: &str) -> ProcStat {
    let mut out = ProcStat::default();
    for line in text.lines() {
        let mut words = line.split_ascii_whitespace();
        let Some(key) = words.next() else { continue };
        let mut nums = words.map(|w| w.parse::<u64>().ok());
        let mut next = || nums.next().flatten();
        if let Some(rest) = key.strip_prefix("cpu") {
            let label = if rest.is_empty() {
                "cpu-total".to_string()
            } else {
                key.to_string()
            };
            let t = CpuTicks {
                user: next().unwrap_or(0),
                nice: next().unwrap_or(0),
                system: next().unwrap_or(0),
                idle: next().unwrap_or(0),
                iowait: next().unwrap_or(0),
                irq: next().unwrap_or(0),
                softirq: next().unwrap_or(0),
                steal: next().unwrap_or(0),
                guest: next().unwrap_or(0),
                guest_nice: next().unwrap_or(0),
            };
            out.cpus.push((label, t));
            continue;
        }
        match key {
            "intr" => out.intr = next(),
            "ctxt" => out.ctxt = next(),
            "btime" => out.btime = next(),
            "processes" => out.processes = next(),
            "page" => out.page = next().zip(next()),
            _ => {}
        }
    }
    out
}

pub fn read() -> std::io::Result<ProcStat> {
    std::fs::read_to_string("/proc/stat").map(|t| parse(&t))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_cpu_labels_and_kernel_counters() {
        let s = super::parse(
            "cpu  10 1 5 100 2 0 1 0 3 0\ncpu0 5 1 2 50 1 0 0 0 1 0\ncpu2 5 0 3 50 1 0 1 0 2 0\n\
             intr 12345 1 2 3\nctxt 999\nbtime 1700000000\nprocesses 42\nprocs_running 1\n",
        );
        let labels: Vec<_> = s.cpus.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["cpu-total", "cpu0", "cpu2"]);
        assert_eq!(s.cpus[0].1.guest, 3);
        assert_eq!(
            (s.intr, s.ctxt, s.btime, s.processes),
            (Some(12345), Some(999), Some(1_700_000_000), Some(42))
        );
        assert_eq!(s.page, None);
    }
}
