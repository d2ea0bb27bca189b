//! `internal`: the agent's own counters, as Telegraf's `inputs.internal` names them.

use std::sync::Arc;

use super::{Accumulator, Fields, Input, tag};
use crate::Result;
use crate::stats::{Stats, get};

#[derive(Debug, Clone)]
pub struct InternalOptions {
    pub collect_memstats: bool,
}

pub struct Internal {
    opts: InternalOptions,
    stats: Arc<Stats>,
}

impl Internal {
    pub fn new(opts: InternalOptions, stats: Arc<Stats>) -> Internal {
        Internal { opts, stats }
    }
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn tags(kind: &str, name: &str, alias: &Option<String>) -> Vec<(String, String)> {
    let mut t = vec![tag(kind, name), tag("version", VERSION)];
    if let Some(a) = alias {
        t.insert(0, tag("alias", a.as_str()));
    }
    t
}

impl Input for Internal {
    fn gather(&mut self, acc: &mut Accumulator) -> Result<()> {
        let (mut gathered, mut gather_errors, mut written, mut dropped) = (0, 0, 0, 0);
        for s in self.stats.inputs() {
            let mut f = Fields::default();
            f.int("errors", get(&s.errors))
                .int("gather_time_ns", get(&s.gather_time_ns))
                .int("metrics_gathered", get(&s.metrics_gathered));
            gathered += get(&s.metrics_gathered);
            gather_errors += get(&s.errors);
            acc.add("internal_gather", tags("input", s.name, &s.alias), f);
        }
        for s in self.stats.outputs() {
            let mut f = Fields::default();
            f.int("buffer_limit", s.buffer_limit)
                .int("buffer_size", get(&s.buffer_size))
                .int("errors", get(&s.errors))
                .int("metrics_added", get(&s.metrics_added))
                .int("metrics_dropped", get(&s.metrics_dropped))
                .int("metrics_filtered", get(&s.metrics_filtered))
                .int("metrics_written", get(&s.metrics_written))
                .int("write_time_ns", get(&s.write_time_ns));
            written += get(&s.metrics_written);
            dropped += get(&s.metrics_dropped);
            acc.add("internal_write", tags("output", s.name, &s.alias), f);
        }
        let mut f = Fields::default();
        f.int("gather_errors", gather_errors)
            .int("metrics_dropped", dropped)
            .int("metrics_gathered", gathered)
            .int("metrics_written", written);
        acc.add("internal_agent", vec![tag("version", VERSION)], f);
        if self.opts.collect_memstats {
            // Telegraf reports Go runtime figures here; the resident set is our equivalent
            // of `sys_bytes` (memory obtained from the OS).
            let rss = procfs::process::Process::myself()
                .and_then(|p| p.status())
                .ok()
                .and_then(|s| s.vmrss)
                .map(|kb| kb * 1024);
            if let Some(rss) = rss {
                let mut f = Fields::default();
                f.int("sys_bytes", rss);
                acc.add("internal_memstats", vec![tag("version", VERSION)], f);
            }
        }
        Ok(())
    }
}
