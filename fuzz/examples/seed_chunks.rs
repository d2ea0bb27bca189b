//! Writes valid encoded chunks of every column type into `corpus/chunk_decode/`, so the
//! decoder's fuzzing starts from real blobs. Run again after a chunk format change:
//! `cargo run -p tigk-fuzz --example seed_chunks`.

use tsdb::codec::{Column, encode_chunk};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/chunk_decode");
    std::fs::create_dir_all(&dir)?;
    for n in [1usize, 5, 300] {
        let ts: Vec<i64> = (0..n as i64)
            .map(|i| 1_700_000_000_000_000_000 + i * 10_000_000_000 + (i % 3))
            .collect();
        let columns = [
            (
                "float",
                Column::Float((0..n).map(|i| (i as f64).sin() * 100.0).collect()),
            ),
            (
                "int",
                Column::Integer((0..n as i64).map(|i| i * i - 50).collect()),
            ),
            (
                "uint",
                Column::Unsigned((0..n as u64).map(|i| i << 40).collect()),
            ),
            (
                "bool",
                Column::Boolean((0..n).map(|i| i % 3 == 0).collect()),
            ),
            (
                "string",
                Column::String((0..n).map(|i| format!("state-{}", i % 4)).collect()),
            ),
        ];
        for (name, col) in columns {
            std::fs::write(dir.join(format!("{name}-{n}")), encode_chunk(&ts, &col)?)?;
        }
    }
    Ok(())
}
