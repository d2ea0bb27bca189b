//! Telegraf-shaped line protocol for many hosts: what `tigk-agent` (or Telegraf's default
//! inputs) writes every interval. Shared by the browser tests and `examples/render_bench.rs`
//! (through `#[path]`), so both look at the same shape of data.
//!
//! Values are deterministic (no RNG) but differ per host and drift over time, so charts
//! have visible shape and hosts can be told apart.
#![allow(dead_code)]

/// Host names `host-000`, `host-001`, ….
pub fn host_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("host-{i:03}")).collect()
}

/// Appends one interval's lines for every host at time `t` (ns). `tick` counts intervals
/// since the start, for the counters (uptime, bytes) that only grow.
pub fn tick(hosts: &[String], t: i64, tick: i64, interval_s: i64, out: &mut String) {
    use std::fmt::Write;
    for (h, host) in hosts.iter().enumerate() {
        let phase = h as f64 * 0.7;
        let x = tick as f64 / 30.0 + phase;
        // Busy hosts differ by a per-host base, so host lines do not all overlap.
        let base = 10.0 + (h % 7) as f64 * 8.0;
        let user = (base + x.sin() * 6.0 + (x * 3.1).cos() * 2.0).clamp(0.0, 95.0);
        let system = 3.0 + (x * 0.5).cos().abs() * 4.0;
        let iowait = 0.5 + (x * 2.0).sin().abs();
        let idle = (100.0 - user - system - iowait).max(0.0);
        let _ = writeln!(
            out,
            "cpu,host={host},cpu=cpu-total usage_user={user:.3},usage_system={system:.3},usage_iowait={iowait:.3},usage_idle={idle:.3} {t}"
        );
        for core in 0..2 {
            let busy = (user + system + core as f64 * 7.0 + (x * 1.7 + core as f64).sin() * 5.0)
                .clamp(0.0, 100.0);
            let _ = writeln!(
                out,
                "cpu,host={host},cpu=cpu{core} usage_user={:.3},usage_idle={:.3} {t}",
                busy * 0.8,
                100.0 - busy
            );
        }
        let load1 = (user / 25.0 + (x * 0.9).sin().abs()).max(0.0);
        let _ = writeln!(
            out,
            "system,host={host} load1={load1:.2},load5={:.2},load15={:.2},n_cpus=2i,uptime={}i {t}",
            load1 * 0.9,
            load1 * 0.8,
            100_000 + tick * interval_s
        );
        let mem = 30.0 + (h % 5) as f64 * 9.0 + (x * 0.2).sin() * 4.0;
        let _ = writeln!(
            out,
            "mem,host={host} used_percent={mem:.3},used={}i,available={}i,total=8589934592i {t}",
            (mem / 100.0 * 8_589_934_592.0) as i64,
            ((100.0 - mem) / 100.0 * 8_589_934_592.0) as i64
        );
        let disk = 40.0 + (h % 11) as f64 * 5.0 + tick as f64 * 0.0001;
        let _ = writeln!(
            out,
            "disk,host={host},path=/ used_percent={disk:.3},used={}i,total=107374182400i {t}",
            (disk / 100.0 * 107_374_182_400.0) as i64
        );
        let rate = 200_000 + (h as i64 % 9) * 50_000;
        let _ = writeln!(
            out,
            "diskio,host={host},name=sda read_bytes={}i,write_bytes={}i {t}",
            tick * rate * interval_s / 4,
            tick * rate * interval_s / 2
        );
        let _ = writeln!(
            out,
            "net,host={host},interface=eth0 bytes_recv={}i,bytes_sent={}i {t}",
            // Grows by rate × (1 ± 1/3): a counter must never go down.
            ((tick as f64 + 10.0 * x.sin()) * (rate * interval_s) as f64) as i64,
            tick * rate * interval_s / 3
        );
    }
}
