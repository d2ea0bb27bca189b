//! `system` (Telegraf's default `include = ["legacy"]`): load, CPU counts, users, uptime.

use std::collections::HashSet;

use procfs::{CpuInfo, Current};

use super::{Accumulator, Fields, Input, procstat};
use crate::{Error, Result};

pub struct System;

impl Input for System {
    fn gather(&mut self, acc: &mut Accumulator) -> Result<()> {
        let err = |e: &dyn std::fmt::Display| Error::gather("system", e);
        // procfs parses loadavg into f32, which would print 0.15 as 0.15000000596046448.
        let load = std::fs::read_to_string("/proc/loadavg").map_err(|e| err(&e))?;
        let mut loads = load.split_ascii_whitespace().map(|w| w.parse::<f64>().ok());
        let mut next = || {
            loads
                .next()
                .flatten()
                .ok_or_else(|| err(&"malformed /proc/loadavg"))
        };
        let (load1, load5, load15) = (next()?, next()?, next()?);

        let info = CpuInfo::current().map_err(|e| err(&e))?;
        let logical = info.num_cores();
        let physical: HashSet<(&str, &str)> = (0..logical)
            .filter_map(|i| {
                Some((
                    info.get_field(i, "physical id")?,
                    info.get_field(i, "core id")?,
                ))
            })
            .collect();
        let physical = if physical.is_empty() {
            logical
        } else {
            physical.len()
        };

        let (n_users, n_unique) = users();
        let btime = procstat::read().map_err(|e| err(&e))?.btime.unwrap_or(0);
        let now = (acc.timestamp / 1_000_000_000).max(0) as u64;
        let uptime = now.saturating_sub(btime);

        let mut f = Fields::default();
        f.float("load1", load1)
            .float("load5", load5)
            .float("load15", load15)
            .int("n_cpus", logical as u64)
            .int("n_physical_cpus", physical as u64)
            .int("n_users", n_users)
            .int("n_unique_users", n_unique)
            .int("uptime", uptime)
            .string("uptime_format", format_uptime(uptime));
        acc.add("system", Vec::new(), f);
        Ok(())
    }
}

/// Telegraf's `formatUptime`: `"%d day(s), %2d:%02d"`, the day part only when non-zero.
pub fn format_uptime(uptime: u64) -> String {
    let days = uptime / 86_400;
    let mut s = String::new();
    if days != 0 {
        s = format!("{days} day{}, ", if days > 1 { "s" } else { "" });
    }
    let minutes = uptime / 60;
    s.push_str(&format!("{:2}:{:02}", (minutes / 60) % 24, minutes % 60));
    s
}

/// Logged-in sessions from utmp, as gopsutil's `host.Users` counts them.
fn users() -> (u64, u64) {
    let data = std::fs::read("/var/run/utmp")
        .or_else(|_| std::fs::read("/run/utmp"))
        .unwrap_or_default();
    count_users(&data)
}

/// glibc's `struct utmp` on Linux: 384 bytes; `ut_type` (i32) at 0, `ut_user` (32 bytes) at 44.
/// No crate parses utmp without unsafe FFI, and the layout has been fixed since glibc 2.x.
fn count_users(data: &[u8]) -> (u64, u64) {
    const RECORD: usize = 384;
    const USER_PROCESS: i32 = 7;
    let mut names = HashSet::new();
    let mut sessions = 0;
    for rec in data.chunks_exact(RECORD) {
        let ty = i32::from_ne_bytes([rec[0], rec[1], rec[2], rec[3]]);
        if ty != USER_PROCESS {
            continue;
        }
        sessions += 1;
        let user = &rec[44..76];
        let len = user.iter().position(|&b| b == 0).unwrap_or(user.len());
        names.insert(user[..len].to_vec());
    }
    (sessions, names.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_format_matches_telegraf() {
        assert_eq!(format_uptime(0), " 0:00");
        assert_eq!(format_uptime(3 * 3600 + 5 * 60), " 3:05");
        assert_eq!(format_uptime(86_400), "1 day,  0:00");
        assert_eq!(
            format_uptime(3 * 86_400 + 4 * 3600 + 5 * 60 + 59),
            "3 days,  4:05"
        );
        assert_eq!(format_uptime(86_400 + 13 * 3600), "1 day, 13:00");
    }

    #[test]
    fn counts_utmp_sessions() {
        let mut data = vec![0u8; 384 * 3];
        for (i, (ty, user)) in [(7i32, "alice"), (7, "alice"), (8, "bob")]
            .iter()
            .enumerate()
        {
            data[i * 384..i * 384 + 4].copy_from_slice(&(*ty).to_ne_bytes());
            data[i * 384 + 44..i * 384 + 44 + user.len()].copy_from_slice(user.as_bytes());
        }
        assert_eq!(count_users(&data), (2, 1));
    }
}
