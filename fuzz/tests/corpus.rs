//! The short fuzz pass of the test suite: every corpus file of a target, then a fixed number
//! of deterministic mutations of them. `FUZZ_ITERATIONS` and `FUZZ_SEED` change the run;
//! a failing input is written to `target/fuzz-failures/` and named in the panic message, so
//! it can be added to the corpus once fixed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use tigk_fuzz::mutate::{Rng, mutate};

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    let inputs: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("corpus file"))
        .collect();
    assert!(inputs.len() >= 5, "{target}: corpus too small");
    inputs
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run(name: &str) {
    let target = tigk_fuzz::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .expect("known target");
    let seeds = corpus(name);
    let iterations = env_u64("FUZZ_ITERATIONS", 10_000);
    let mut rng = Rng::new(env_u64("FUZZ_SEED", 0x7167_6b21));
    let inputs = seeds
        .iter()
        .cloned()
        .chain((0..iterations).map(|_| mutate(&seeds[rng.below(seeds.len())], &seeds, &mut rng)));
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failure = None;
    for input in inputs {
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            failure = Some(input);
            break;
        }
    }
    std::panic::set_hook(quiet);
    if let Some(input) = failure {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-failures");
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join(format!("{name}-{:016x}", fnv(&input)));
        let _ = std::fs::write(&file, &input);
        // Run it again outside catch_unwind for the real message.
        eprintln!("{name}: failing input saved to {}", file.display());
        eprintln!("{name}: {:?}", String::from_utf8_lossy(&input));
        target(&input);
        panic!("{name}: input failed only under catch_unwind");
    }
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn line_protocol() {
    run("line_protocol");
}

#[test]
fn influxql() {
    run("influxql");
}

#[test]
fn tickscript() {
    run("tickscript");
}

#[test]
fn chunk_decode() {
    run("chunk_decode");
}

#[test]
fn chunk_roundtrip() {
    run("chunk_roundtrip");
}
