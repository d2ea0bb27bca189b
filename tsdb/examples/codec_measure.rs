//! Measures the chunk codecs on a line-protocol file: bytes/value and
//! encode/decode speed per field type, chunk size and codec choice.
//!
//! ```text
//! cargo run --release -p tsdb --example codec_measure -- FILE.lp [--chunk 1000,4096,8640,0] [--level 6] [--compare]
//! ```
//! `--chunk 0` means one chunk per whole column. `--compare` adds the
//! alternatives (pco or delta-of-delta timestamps only, Gorilla floats, pco
//! level 8) next to the defaults.
//! Speeds are single-threaded; decode is the best of 3 passes because the
//! machine this was written for is shared and noisy.

use std::collections::HashMap;
use std::time::Instant;

use tsdb::codec::{
    Column, EncodeOptions, FloatCodec, TimeCodec, decode_chunk, decode_timestamps,
    encode_chunk_with, section_sizes,
};

type Groups = HashMap<(String, String), (Vec<i64>, Column)>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!(
            "usage: codec_measure FILE.lp [--chunk 1000,4096,8640,0] [--level 6] [--compare]"
        );
        std::process::exit(2);
    };
    let mut chunks = vec![1000usize, 4096, 8640, 0];
    let mut level = EncodeOptions::default().pco_level;
    let mut compare = false;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--chunk" => {
                i += 1;
                chunks = args
                    .get(i)
                    .map(|s| s.split(',').filter_map(|c| c.parse().ok()).collect())
                    .unwrap_or_default();
            }
            "--level" => {
                i += 1;
                level = args.get(i).and_then(|s| s.parse().ok()).unwrap_or(level);
            }
            "--compare" => compare = true,
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let t = Instant::now();
    let groups = group(&text);
    drop(text);
    let n: usize = groups.values().map(|g| g.0.len()).sum();
    eprintln!(
        "{} columns, {n} values, parsed in {:.1} s",
        groups.len(),
        t.elapsed().as_secs_f64()
    );

    let base = EncodeOptions {
        pco_level: level,
        ..EncodeOptions::default()
    };
    let mut configs = vec![("default", base)];
    if compare {
        configs.push((
            "pco ts",
            EncodeOptions {
                time: TimeCodec::Pco,
                ..base
            },
        ));
        configs.push((
            "delta-of-delta ts",
            EncodeOptions {
                time: TimeCodec::DeltaOfDelta,
                ..base
            },
        ));
        configs.push((
            "gorilla floats",
            EncodeOptions {
                float: FloatCodec::Gorilla,
                ..base
            },
        ));
        configs.push((
            "pco level 8",
            EncodeOptions {
                pco_level: 8,
                ..base
            },
        ));
    }
    println!(
        "| config | type | chunk | chunks | values | B/value total | B/value values | B/value ts | B/value header+agg | encode Mv/s | decode Mv/s | decode ts Mv/s |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &(name, opts) in &configs {
        for &chunk in &chunks {
            for type_name in ["float", "integer", "unsigned", "string", "boolean"] {
                measure(&groups, type_name, chunk, name, &opts);
            }
        }
    }
}

fn measure(groups: &Groups, type_name: &str, chunk: usize, name: &str, opts: &EncodeOptions) {
    let mut keys: Vec<_> = groups
        .keys()
        .filter(|k| type_of(&groups[*k].1) == type_name)
        .collect();
    if keys.is_empty() {
        return;
    }
    keys.sort();
    let mut blobs = Vec::new();
    let (mut values, mut total, mut ts_bytes, mut val_bytes, mut other) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    let t = Instant::now();
    for k in &keys {
        let (ts, col) = &groups[*k];
        let step = if chunk == 0 { ts.len().max(1) } else { chunk };
        for start in (0..ts.len()).step_by(step) {
            let end = (start + step).min(ts.len());
            match encode_chunk_with(&ts[start..end], &slice(col, start, end), opts) {
                Ok(b) => blobs.push(b),
                Err(e) => {
                    eprintln!("encode {k:?}: {e}");
                    return;
                }
            }
            values += end - start;
        }
    }
    // Slicing copies the values, so encode speed is slightly understated.
    let enc = t.elapsed().as_secs_f64();
    for b in &blobs {
        total += b.len();
        if let Ok(s) = section_sizes(b) {
            ts_bytes += s.timestamps;
            val_bytes += s.values;
            other += s.header + s.aggregates;
        }
    }
    let dec = best_of_3(|| {
        let mut n = 0;
        for b in &blobs {
            n += decode_chunk(b).map(|(ts, _)| ts.len()).unwrap_or(0);
        }
        n
    });
    let dec_ts = best_of_3(|| {
        blobs
            .iter()
            .map(|b| decode_timestamps(b).map(|t| t.len()).unwrap_or(0))
            .sum()
    });
    let per = |b: usize| b as f64 / values as f64;
    let chunk_s = if chunk == 0 {
        "column".to_owned()
    } else {
        chunk.to_string()
    };
    println!(
        "| {name} | {type_name} | {chunk_s} | {} | {values} | {:.3} | {:.3} | {:.4} | {:.4} | {:.1} | {:.1} | {:.1} |",
        blobs.len(),
        per(total),
        per(val_bytes),
        per(ts_bytes),
        per(other),
        values as f64 / enc / 1e6,
        values as f64 / dec / 1e6,
        values as f64 / dec_ts / 1e6,
    );
}

fn best_of_3(mut f: impl FnMut() -> usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        std::hint::black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

fn type_of(c: &Column) -> &'static str {
    match c {
        Column::Float(_) => "float",
        Column::Integer(_) => "integer",
        Column::Unsigned(_) => "unsigned",
        Column::String(_) => "string",
        Column::Boolean(_) => "boolean",
    }
}

fn slice(c: &Column, a: usize, b: usize) -> Column {
    match c {
        Column::Float(v) => Column::Float(v[a..b].to_vec()),
        Column::Integer(v) => Column::Integer(v[a..b].to_vec()),
        Column::Unsigned(v) => Column::Unsigned(v[a..b].to_vec()),
        Column::String(v) => Column::String(v[a..b].to_vec()),
        Column::Boolean(v) => Column::Boolean(v[a..b].to_vec()),
    }
}

/// Groups by (series key, field). A minimal parser: enough for generated data and
/// Telegraf output (backslash escapes and quoted strings), not a validator.
fn group(text: &str) -> Groups {
    let mut groups: Groups = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts = split_unquoted(line, ' ');
        let (Some(series), Some(fields)) = (parts.first(), parts.get(1)) else {
            continue;
        };
        let Some(ts) = parts.get(2).and_then(|t| t.parse::<i64>().ok()) else {
            continue;
        };
        for field in split_unquoted(fields, ',') {
            let Some((key, raw)) = field.split_once('=') else {
                continue;
            };
            let Some(value) = parse_value(raw) else {
                continue;
            };
            let entry = groups
                .entry(((*series).to_owned(), key.to_owned()))
                .or_insert_with(|| (Vec::new(), empty_like(&value)));
            // Keep the first type seen, as InfluxDB 1.x does, and skip out-of-order points.
            if type_of(&entry.1) != type_of(&value) || entry.0.last().is_some_and(|&l| l >= ts) {
                continue;
            }
            entry.0.push(ts);
            push(&mut entry.1, value);
        }
    }
    groups
}

fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let (mut out, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_value(raw: &str) -> Option<Column> {
    if let Some(q) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        return Some(Column::String(vec![
            q.replace("\\\"", "\"").replace("\\\\", "\\"),
        ]));
    }
    match raw {
        "t" | "T" | "true" | "True" | "TRUE" => return Some(Column::Boolean(vec![true])),
        "f" | "F" | "false" | "False" | "FALSE" => return Some(Column::Boolean(vec![false])),
        _ => {}
    }
    if let Some(i) = raw.strip_suffix('i') {
        return i.parse().ok().map(|v| Column::Integer(vec![v]));
    }
    if let Some(u) = raw.strip_suffix('u') {
        return u.parse().ok().map(|v| Column::Unsigned(vec![v]));
    }
    raw.parse().ok().map(|v| Column::Float(vec![v]))
}

fn empty_like(c: &Column) -> Column {
    match c {
        Column::Float(_) => Column::Float(Vec::new()),
        Column::Integer(_) => Column::Integer(Vec::new()),
        Column::Unsigned(_) => Column::Unsigned(Vec::new()),
        Column::String(_) => Column::String(Vec::new()),
        Column::Boolean(_) => Column::Boolean(Vec::new()),
    }
}

fn push(c: &mut Column, v: Column) {
    match (c, v) {
        (Column::Float(a), Column::Float(b)) => a.extend(b),
        (Column::Integer(a), Column::Integer(b)) => a.extend(b),
        (Column::Unsigned(a), Column::Unsigned(b)) => a.extend(b),
        (Column::String(a), Column::String(b)) => a.extend(b),
        (Column::Boolean(a), Column::Boolean(b)) => a.extend(b),
        _ => {}
    }
}
