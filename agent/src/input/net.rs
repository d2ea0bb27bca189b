//! `net`: per-interface counters from /proc/net/dev and protocol counters from /proc/net/snmp.

use super::{Accumulator, Fields, Input, proc_err, tag};
use crate::Result;
use crate::filter::glob;

#[derive(Debug, Clone, Default)]
pub struct NetOptions {
    /// Globs; when empty, every interface that is up and not loopback (Telegraf's rule).
    pub interfaces: Vec<String>,
    pub ignore_protocol_stats: bool,
}

pub struct Net {
    opts: NetOptions,
}

impl Net {
    pub fn new(opts: NetOptions) -> Net {
        Net { opts }
    }
}

const IFF_UP: u32 = 0x1;
const IFF_LOOPBACK: u32 = 0x8;

fn sys_net(iface: &str, file: &str) -> Option<String> {
    std::fs::read_to_string(format!("/sys/class/net/{iface}/{file}"))
        .ok()
        .map(|s| s.trim().to_string())
}

impl Input for Net {
    fn gather(&mut self, acc: &mut Accumulator) -> Result<()> {
        let mut devs: Vec<_> = procfs::net::dev_status()
            .map_err(proc_err("net"))?
            .into_values()
            .collect();
        devs.sort_by(|a, b| a.name.cmp(&b.name));
        for d in devs {
            if self.opts.interfaces.is_empty() {
                let Some(flags) = sys_net(&d.name, "flags")
                    .and_then(|f| u32::from_str_radix(f.trim_start_matches("0x"), 16).ok())
                else {
                    continue;
                };
                if flags & IFF_LOOPBACK != 0 || flags & IFF_UP == 0 {
                    continue;
                }
            } else if !self
                .opts
                .interfaces
                .iter()
                .any(|p| glob(p.as_bytes(), d.name.as_bytes()))
            {
                continue;
            }
            let speed = sys_net(&d.name, "speed")
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(-1);
            let mut f = Fields::default();
            f.int("bytes_sent", d.sent_bytes)
                .int("bytes_recv", d.recv_bytes)
                .int("packets_sent", d.sent_packets)
                .int("packets_recv", d.recv_packets)
                .int("err_in", d.recv_errs)
                .int("err_out", d.sent_errs)
                .int("drop_in", d.recv_drop)
                .int("drop_out", d.sent_drop)
                .signed("speed", speed);
            acc.add("net", vec![tag("interface", d.name.as_str())], f);
        }
        if !self.opts.ignore_protocol_stats {
            let text = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
            acc.add("net", vec![tag("interface", "all")], protocol_fields(&text));
        }
        Ok(())
    }
}

/// /proc/net/snmp comes in header/value line pairs (`Tcp: ActiveOpens ...` / `Tcp: 12 ...`);
/// Telegraf names each field `proto_stat` in lower case. procfs's typed `Snmp` struct would
/// need a hand-written name table that drifts from the kernel's, so we pair the lines here.
pub fn protocol_fields(text: &str) -> Fields {
    let mut f = Fields::default();
    let mut lines = text.lines();
    while let (Some(head), Some(vals)) = (lines.next(), lines.next()) {
        let (Some((proto, names)), Some((_, values))) =
            (head.split_once(':'), vals.split_once(':'))
        else {
            break;
        };
        let proto = proto.to_ascii_lowercase();
        for (name, value) in names
            .split_ascii_whitespace()
            .zip(values.split_ascii_whitespace())
        {
            if let Ok(v) = value.parse::<i64>() {
                f.signed(&format!("{proto}_{}", name.to_ascii_lowercase()), v);
            }
        }
    }
    f
}

#[cfg(test)]
mod tests {
    #[test]
    fn pairs_snmp_lines() {
        let f = super::protocol_fields(
            "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoMin MaxConn\nTcp: 200 -1\n",
        );
        let names: Vec<_> = f.0.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        assert_eq!(
            names,
            [
                "ip_forwarding=Integer(1)",
                "ip_defaultttl=Integer(64)",
                "tcp_rtomin=Integer(200)",
                "tcp_maxconn=Integer(-1)"
            ]
        );
    }
}
