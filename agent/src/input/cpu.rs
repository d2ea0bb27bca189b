//! `cpu`: per-CPU and total usage in percent of the interval, Telegraf's formula exactly.
//!
//! Telegraf (via gopsutil) converts ticks to float seconds first and then takes differences,
//! so we do the same in the same order: the results must be bit-identical, not just close.

use std::collections::HashMap;

use super::procstat::{self, CpuTicks};
use super::{Accumulator, Fields, Input, tag};
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct CpuOptions {
    pub percpu: bool,
    pub totalcpu: bool,
    pub collect_cpu_time: bool,
    pub report_active: bool,
}

impl Default for CpuOptions {
    fn default() -> Self {
        CpuOptions {
            percpu: true,
            totalcpu: true,
            collect_cpu_time: false,
            report_active: false,
        }
    }
}

/// CPU times in seconds, as gopsutil's `TimesStat`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Times {
    pub user: f64,
    pub system: f64,
    pub idle: f64,
    pub nice: f64,
    pub iowait: f64,
    pub irq: f64,
    pub softirq: f64,
    pub steal: f64,
    pub guest: f64,
    pub guest_nice: f64,
}

impl Times {
    pub fn from_ticks(t: &CpuTicks, ticks_per_sec: f64) -> Times {
        let s = |v: u64| v as f64 / ticks_per_sec;
        Times {
            user: s(t.user),
            system: s(t.system),
            idle: s(t.idle),
            nice: s(t.nice),
            iowait: s(t.iowait),
            irq: s(t.irq),
            softirq: s(t.softirq),
            steal: s(t.steal),
            guest: s(t.guest),
            guest_nice: s(t.guest_nice),
        }
    }

    /// Telegraf's `totalCPUTime`: guest is already inside user and nice, so it is not added.
    fn total(&self) -> f64 {
        self.user
            + self.system
            + self.nice
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
            + self.idle
    }

    fn active(&self) -> f64 {
        self.total() - self.idle
    }
}

/// The `time_*` fields (`collect_cpu_time = true`).
pub fn time_fields(t: &Times, report_active: bool) -> Fields {
    let mut f = Fields::default();
    f.float("time_user", t.user)
        .float("time_system", t.system)
        .float("time_idle", t.idle)
        .float("time_nice", t.nice)
        .float("time_iowait", t.iowait)
        .float("time_irq", t.irq)
        .float("time_softirq", t.softirq)
        .float("time_steal", t.steal)
        .float("time_guest", t.guest)
        .float("time_guest_nice", t.guest_nice);
    if report_active {
        f.float("time_active", t.active());
    }
    f
}

/// The `usage_*` fields between two samples; `None` when no time passed. Errors when the
/// counters went backwards (Telegraf reports this too rather than emitting negative usage).
pub fn usage_fields(now: &Times, last: &Times, report_active: bool) -> Result<Option<Fields>> {
    let total_delta = now.total() - last.total();
    if total_delta < 0.0 {
        return Err(Error::gather(
            "cpu",
            "current total CPU time is less than previous total CPU time",
        ));
    }
    if total_delta == 0.0 {
        return Ok(None);
    }
    let pct = |d: f64| 100.0 * d / total_delta;
    let mut f = Fields::default();
    f.float(
        "usage_user",
        pct(now.user - last.user - (now.guest - last.guest)),
    )
    .float("usage_system", pct(now.system - last.system))
    .float("usage_idle", pct(now.idle - last.idle))
    .float(
        "usage_nice",
        pct(now.nice - last.nice - (now.guest_nice - last.guest_nice)),
    )
    .float("usage_iowait", pct(now.iowait - last.iowait))
    .float("usage_irq", pct(now.irq - last.irq))
    .float("usage_softirq", pct(now.softirq - last.softirq))
    .float("usage_steal", pct(now.steal - last.steal))
    .float("usage_guest", pct(now.guest - last.guest))
    .float("usage_guest_nice", pct(now.guest_nice - last.guest_nice));
    if report_active {
        f.float("usage_active", pct(now.active() - last.active()));
    }
    Ok(Some(f))
}

pub struct Cpu {
    opts: CpuOptions,
    ticks_per_sec: f64,
    last: HashMap<String, Times>,
}

impl Cpu {
    pub fn new(opts: CpuOptions) -> Cpu {
        let ticks = rustix::param::clock_ticks_per_second();
        Cpu {
            opts,
            ticks_per_sec: if ticks == 0 { 100.0 } else { ticks as f64 },
            last: HashMap::new(),
        }
    }

    /// One gather from /proc/stat text; split out so tests can feed recorded files.
    pub fn gather_from(&mut self, stat: &procstat::ProcStat, acc: &mut Accumulator) -> Result<()> {
        let mut err = None;
        let selected = stat.cpus.iter().filter(|(label, _)| {
            if label == "cpu-total" {
                self.opts.totalcpu
            } else {
                self.opts.percpu
            }
        });
        // gopsutil lists the per-CPU lines before the total; keep Telegraf's output order.
        let (total, per): (Vec<_>, Vec<_>) = selected.partition(|(l, _)| l == "cpu-total");
        let mut next = HashMap::with_capacity(per.len() + 1);
        for (label, ticks) in per.into_iter().chain(total) {
            let now = Times::from_ticks(ticks, self.ticks_per_sec);
            let mut fields = Fields::default();
            if self.opts.collect_cpu_time {
                fields = time_fields(&now, self.opts.report_active);
            }
            if let Some(last) = self.last.get(label) {
                match usage_fields(&now, last, self.opts.report_active) {
                    Ok(Some(usage)) => fields.0.extend(usage.0),
                    Ok(None) => {}
                    Err(e) => err = Some(e),
                }
            }
            acc.add("cpu", vec![tag("cpu", label.as_str())], fields);
            next.insert(label.clone(), now);
        }
        self.last = next;
        err.map_or(Ok(()), Err)
    }
}

impl Input for Cpu {
    fn needs_warmup(&self) -> bool {
        true
    }

    fn gather(&mut self, acc: &mut Accumulator) -> Result<()> {
        let stat = procstat::read().map_err(|e| Error::gather("cpu", e))?;
        self.gather_from(&stat, acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::FieldValue;

    // Two samples recorded on a 2-CPU VM ten seconds apart, with guest time on cpu1.
    const STAT_A: &str = "cpu  43177 1216 16378 1823447 2117 0 1023 212 3000 17\n\
cpu0 21529 615 8212 911921 1093 0 600 106 1000 7\n\
cpu1 21648 601 8166 911526 1024 0 423 106 2000 10\n\
intr 3452355 16 9 0 0 0\nctxt 6209911\nbtime 1700000000\nprocesses 8241\n";
    const STAT_B: &str = "cpu  43342 1217 16450 1825314 2121 0 1031 215 3077 18\n\
cpu0 21613 615 8249 912854 1095 0 604 107 1011 7\n\
cpu1 21729 602 8201 912460 1026 0 427 108 2066 11\n\
intr 3463128 16 9 0 0 0\nctxt 6232087\nbtime 1700000000\nprocesses 8250\n";

    fn field(acc: &Accumulator, cpu: &str, key: &str) -> f64 {
        let p = acc
            .points
            .iter()
            .find(|p| p.tags[0].1 == cpu)
            .expect("cpu point");
        match p.fields.iter().find(|(k, _)| k == key) {
            Some((_, FieldValue::Float(v))) => *v,
            other => panic!("{cpu} {key}: {other:?}"),
        }
    }

    fn two_gathers(opts: CpuOptions) -> Accumulator {
        let mut cpu = Cpu {
            opts,
            ticks_per_sec: 100.0,
            last: HashMap::new(),
        };
        let mut first = Accumulator::new(0);
        cpu.gather_from(&procstat::parse(STAT_A), &mut first)
            .expect("first");
        if !cpu.opts.collect_cpu_time {
            assert!(first.points.is_empty(), "first gather has no usage yet");
        }
        let mut acc = Accumulator::new(1);
        cpu.gather_from(&procstat::parse(STAT_B), &mut acc)
            .expect("second");
        acc
    }

    /// Telegraf's Go code, evaluated by hand in float64 with the same operation order.
    fn telegraf_usage(a: [u64; 10], b: [u64; 10], i: usize, guest_i: usize) -> f64 {
        let s = |v: u64| v as f64 / 100.0;
        let total = |t: [u64; 10]| {
            // user + system + nice + iowait + irq + softirq + steal + idle
            s(t[0]) + s(t[2]) + s(t[1]) + s(t[4]) + s(t[5]) + s(t[6]) + s(t[7]) + s(t[3])
        };
        let delta = total(b) - total(a);
        let mut d = s(b[i]) - s(a[i]);
        if guest_i != usize::MAX {
            d -= s(b[guest_i]) - s(a[guest_i]);
        }
        100.0 * d / delta
    }

    #[test]
    fn usage_matches_telegraf_exactly() {
        let acc = two_gathers(CpuOptions::default());
        let names: Vec<_> = acc.points.iter().map(|p| p.tags[0].1.as_str()).collect();
        assert_eq!(names, ["cpu0", "cpu1", "cpu-total"]);
        let rows = [
            (
                "cpu-total",
                [43177, 1216, 16378, 1823447, 2117, 0, 1023, 212, 3000, 17],
                [43342, 1217, 16450, 1825314, 2121, 0, 1031, 215, 3077, 18],
            ),
            (
                "cpu1",
                [21648, 601, 8166, 911526, 1024, 0, 423, 106, 2000, 10],
                [21729, 602, 8201, 912460, 1026, 0, 427, 108, 2066, 11],
            ),
        ];
        for (cpu, a, b) in rows {
            assert_eq!(field(&acc, cpu, "usage_user"), telegraf_usage(a, b, 0, 8));
            assert_eq!(field(&acc, cpu, "usage_nice"), telegraf_usage(a, b, 1, 9));
            assert_eq!(
                field(&acc, cpu, "usage_system"),
                telegraf_usage(a, b, 2, usize::MAX)
            );
            assert_eq!(
                field(&acc, cpu, "usage_idle"),
                telegraf_usage(a, b, 3, usize::MAX)
            );
            assert_eq!(
                field(&acc, cpu, "usage_iowait"),
                telegraf_usage(a, b, 4, usize::MAX)
            );
            assert_eq!(
                field(&acc, cpu, "usage_softirq"),
                telegraf_usage(a, b, 6, usize::MAX)
            );
            assert_eq!(
                field(&acc, cpu, "usage_steal"),
                telegraf_usage(a, b, 7, usize::MAX)
            );
            assert_eq!(
                field(&acc, cpu, "usage_guest"),
                telegraf_usage(a, b, 8, usize::MAX)
            );
            assert_eq!(
                field(&acc, cpu, "usage_guest_nice"),
                telegraf_usage(a, b, 9, usize::MAX)
            );
        }
        // The same pair evaluated in IEEE doubles outside Rust (Python, Go's operation order);
        // the total delta is 21.19999999999709 s, not 21.2, which is why the order matters.
        assert_eq!(
            field(&acc, "cpu-total", "usage_idle").to_string(),
            "88.06603773585292"
        );
        assert_eq!(
            field(&acc, "cpu-total", "usage_user").to_string(),
            "4.150943396227148"
        );
    }

    #[test]
    fn options_select_cpus_and_fields() {
        let acc = two_gathers(CpuOptions {
            percpu: false,
            collect_cpu_time: true,
            report_active: true,
            ..Default::default()
        });
        assert_eq!(acc.points.len(), 1);
        let p = &acc.points[0];
        let keys: Vec<_> = p.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert!(
            keys.contains(&"time_active")
                && keys.contains(&"usage_active")
                && keys.contains(&"time_guest_nice")
        );
        assert_eq!(field(&acc, "cpu-total", "time_user"), 433.42);
    }

    #[test]
    fn counters_going_backwards_is_an_error() {
        let mut cpu = Cpu {
            opts: CpuOptions::default(),
            ticks_per_sec: 100.0,
            last: HashMap::new(),
        };
        cpu.gather_from(&procstat::parse(STAT_B), &mut Accumulator::new(0))
            .expect("first");
        assert!(
            cpu.gather_from(&procstat::parse(STAT_A), &mut Accumulator::new(1))
                .is_err()
        );
    }
}
