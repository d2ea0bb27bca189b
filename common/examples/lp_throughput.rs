//! Parses a line-protocol file and prints the parse rate on one core.
//!
//! ```text
//! (cd /work/shared/bench/gen-cpu-only && cargo build --release)
//! gen-cpu-only --scale 100 --hours 24 > /tmp/cpu-only.lp
//! cargo run --release -p common --example lp_throughput -- /tmp/cpu-only.lp [precision] [runs]
//! ```
//!
//! The file is read into memory first so that only parsing is timed; the best of `runs`
//! (default 3) is reported because the machine is shared.

use std::time::Instant;

use common::line_protocol::{Parser, Precision};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: lp_throughput FILE [precision=ns] [runs=3]");
        std::process::exit(2);
    };
    let precision = Precision::from_param(args.next().as_deref());
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(3).max(1);
    let body = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("lp_throughput: {path}: {e}");
            std::process::exit(1);
        }
    };

    let mut best = f64::INFINITY;
    let (mut points, mut values, mut errors) = (0u64, 0u64, 0u64);
    for _ in 0..runs {
        (points, values, errors) = (0, 0, 0);
        let started = Instant::now();
        for item in Parser::new(&body, precision) {
            match item {
                Ok(p) => {
                    points += 1;
                    values += p.fields.len() as u64;
                }
                Err(e) => {
                    if errors == 0 {
                        eprintln!("first error: {e}");
                    }
                    errors += 1;
                }
            }
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    println!(
        "{path}: {points} points, {values} values, {errors} errors, {:.1} MB; best of {runs}: {:.3} s = {:.2} M values/s, {:.2} M lines/s, {:.0} MB/s",
        body.len() as f64 / 1e6,
        best,
        values as f64 / best / 1e6,
        (points + errors) as f64 / best / 1e6,
        body.len() as f64 / best / 1e6,
    );
}
