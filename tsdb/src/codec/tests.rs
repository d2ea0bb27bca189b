use super::varint::put_uvarint;
use super::*;

const ALL_OPTIONS: [EncodeOptions; 5] = [
    EncodeOptions {
        time: TimeCodec::Auto,
        float: FloatCodec::Pco,
        pco_level: 6,
        aggregates: true,
    },
    EncodeOptions {
        time: TimeCodec::Pco,
        float: FloatCodec::Pco,
        pco_level: 8,
        aggregates: true,
    },
    EncodeOptions {
        time: TimeCodec::DeltaOfDelta,
        float: FloatCodec::Gorilla,
        pco_level: 8,
        aggregates: true,
    },
    EncodeOptions {
        time: TimeCodec::Pco,
        float: FloatCodec::Gorilla,
        pco_level: 0,
        aggregates: false,
    },
    EncodeOptions {
        time: TimeCodec::DeltaOfDelta,
        float: FloatCodec::Pco,
        pco_level: 12,
        aggregates: false,
    },
];

/// Deterministic xorshift so the tests need no RNG dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Floats compare by bits so NaN payloads and -0.0 count.
fn same(a: &Column, b: &Column) -> bool {
    match (a, b) {
        (Column::Float(x), Column::Float(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
        }
        _ => a == b,
    }
}

fn roundtrip(ts: &[i64], col: &Column) {
    for opts in &ALL_OPTIONS {
        let blob = encode_chunk_with(ts, col, opts).expect("encode");
        let (ts2, col2) = decode_chunk(&blob).expect("decode");
        assert_eq!(ts2, ts, "timestamps with {opts:?}");
        assert!(same(&col2, col), "values with {opts:?}: {col2:?}");
        assert_eq!(decode_timestamps(&blob).expect("timestamps"), ts);
        let h = read_header(&blob).expect("header");
        assert_eq!(h.count as usize, ts.len());
        assert_eq!(h.value_type, col.field_type().code());
        assert_eq!(h.min_time, ts.first().copied().unwrap_or(0));
        assert_eq!(h.max_time, ts.last().copied().unwrap_or(0));
        let agg = read_aggregates(&blob).expect("aggregates");
        assert_eq!(
            agg.is_some(),
            opts.aggregates && !ts.is_empty() && !matches!(col, Column::String(_))
        );
        check_ranges(&blob, ts, col);
        // Version-1 blobs (one pco page) still decode, whole and by range.
        let v1 = encode_chunk_v1(ts, col, opts).expect("encode v1");
        assert_eq!(v1.first(), Some(&1));
        let (ts1, col1) = decode_chunk(&v1).expect("decode v1");
        assert_eq!(ts1, ts);
        assert!(same(&col1, col), "v1 values with {opts:?}");
        check_ranges(&v1, ts, col);
    }
}

/// `decode_range_into` against `decode_chunk` trimmed, over ranges that start and end
/// on, between, before and after points (so on and inside pco pages).
fn check_ranges(blob: &[u8], ts: &[i64], col: &Column) {
    let mut bounds = vec![
        (i64::MIN, i64::MAX),
        (i64::MIN, i64::MIN),
        (i64::MAX, i64::MAX),
    ];
    let n = ts.len();
    for &(i, j) in &[
        (0, n / 3),
        (n / 3, n / 2),
        (n / 2, n.saturating_sub(1)),
        (1, 2),
        (n / 5, n / 5),
    ] {
        if let (Some(&a), Some(&b)) = (ts.get(i), ts.get(j)) {
            bounds.push((a, b));
            bounds.push((a.saturating_add(1), b.saturating_sub(1)));
            bounds.push((a.saturating_sub(1), b.saturating_add(1)));
            bounds.push((b, a));
        }
    }
    let mut times = vec![42];
    let mut values = Column::Boolean(vec![true]);
    for (start, end) in bounds {
        decode_range_into(blob, start, end, &mut times, &mut values).expect("range");
        let lo = ts.partition_point(|&t| t < start);
        let hi = ts.partition_point(|&t| t <= end).max(lo);
        assert_eq!(times, &ts[lo..hi], "times in {start}..={end}");
        let want = col.gather(&(lo..hi).collect::<Vec<_>>());
        assert!(same(&values, &want), "values in {start}..={end}");
        let (mut t2, mut v2) = (Vec::new(), Column::Integer(vec![1]));
        decode_range_into_verified(blob, start, end, &mut t2, &mut v2).expect("verified");
        assert_eq!(t2, times);
        assert!(same(&v2, &want));
    }
}

#[test]
fn ranges_of_multi_page_chunks() {
    let mut rng = Rng(7);
    for n in [1023, 1024, 1025, 5000, 8640, 16384] {
        for ts in [regular(n), irregular(n, &mut rng)] {
            for col in sample_columns(n, &mut rng) {
                check_ranges(&encode_chunk(&ts, &col).expect("encode"), &ts, &col);
                let v1 = encode_chunk_v1(&ts, &col, &EncodeOptions::default()).expect("v1");
                check_ranges(&v1, &ts, &col);
            }
        }
    }
}

fn regular(n: usize) -> Vec<i64> {
    (0..n as i64)
        .map(|i| 1_451_606_400_000_000_000 + i * 10_000_000_000)
        .collect()
}

fn irregular(n: usize, rng: &mut Rng) -> Vec<i64> {
    let mut t = -5_000_000_000i64;
    (0..n)
        .map(|_| {
            t += 1 + (rng.next() % 20_000_000_000) as i64;
            t
        })
        .collect()
}

fn sample_columns(n: usize, rng: &mut Rng) -> Vec<Column> {
    let mut walk = 50.0f64;
    let floats = (0..n)
        .map(|_| {
            walk += (rng.next() % 1000) as f64 / 1000.0 - 0.5;
            walk
        })
        .collect();
    vec![
        Column::Float(floats),
        Column::Integer((0..n).map(|_| rng.next() as i64 % 100).collect()),
        Column::Unsigned((0..n).map(|_| rng.next() % 1000).collect()),
        Column::String((0..n).map(|i| format!("status-{}", i % 3)).collect()),
        Column::Boolean((0..n).map(|_| rng.next().is_multiple_of(7)).collect()),
    ]
}

#[test]
fn empty_and_single_point_every_type() {
    let mut rng = Rng(1);
    for col in sample_columns(0, &mut rng) {
        roundtrip(&[], &col);
    }
    for col in sample_columns(1, &mut rng) {
        roundtrip(&[42], &col);
        roundtrip(&[i64::MIN], &col);
        roundtrip(&[i64::MAX], &col);
    }
}

#[test]
fn regular_irregular_and_negative_timestamps_every_type() {
    let mut rng = Rng(2);
    for n in [2, 3, 255, 256, 257, 1000, 8640] {
        for col in sample_columns(n, &mut rng) {
            roundtrip(&regular(n), &col);
            roundtrip(&irregular(n, &mut rng), &col);
        }
    }
}

#[test]
fn extreme_timestamps_wrap_without_loss() {
    let ts = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
    roundtrip(&ts, &Column::Integer(ts.to_vec()));
    // A jittered interval exercises non-zero delta-of-delta tokens between runs.
    let ts: Vec<i64> = (0..500)
        .map(|i| i * 10_000 + if i % 50 == 0 { 3 } else { 0 })
        .collect();
    roundtrip(&ts, &Column::Boolean(vec![true; 500]));
}

#[test]
fn float_edge_values() {
    let vals = vec![
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::from_bits(0x7ff8_dead_beef_0001),
        f64::from_bits(0xfff0_0000_0000_0001),
        f64::MIN_POSITIVE,
        f64::MIN_POSITIVE / 3.0,
        f64::MAX,
        f64::MIN,
        1.0,
        1.0,
        1.0,
        43.540319807574456,
    ];
    roundtrip(&regular(vals.len()), &Column::Float(vals));
    roundtrip(&regular(300), &Column::Float(vec![f64::NAN; 300]));
    roundtrip(
        &regular(300),
        &Column::Float((0..300).map(|i| f64::from(i) / 100.0).collect()),
    );
}

#[test]
fn integer_edge_values() {
    let vals = vec![i64::MIN, i64::MAX, 0, -1, 1, i64::MIN, i64::MAX];
    roundtrip(&regular(vals.len()), &Column::Integer(vals));
    let vals = vec![u64::MAX, 0, 1, u64::MAX, u64::MAX - 1];
    roundtrip(&regular(vals.len()), &Column::Unsigned(vals));
    roundtrip(&regular(5000), &Column::Integer(vec![7; 5000]));
}

#[test]
fn boolean_patterns() {
    for vals in [
        vec![true; 1000],
        vec![false; 9],
        (0..1001).map(|i| i % 2 == 0).collect::<Vec<_>>(),
    ] {
        roundtrip(&regular(vals.len()), &Column::Boolean(vals));
    }
}

#[test]
fn strings_unicode_empty_and_huge() {
    let vals = vec![
        String::new(),
        "héllo wörld".to_owned(),
        "日本語のテキスト".to_owned(),
        "emoji 🦀🔥 and \u{0} nul".to_owned(),
        String::new(),
        "x".repeat(3_000_000),
    ];
    roundtrip(&regular(vals.len()), &Column::String(vals));
    // Incompressible text takes the raw path instead of deflate.
    let mut rng = Rng(3);
    let noise: String = (0..5000)
        .map(|_| char::from(b'!' + (rng.next() % 90) as u8))
        .collect();
    roundtrip(&[1], &Column::String(vec![noise]));
}

#[test]
fn aggregates_match_values() {
    let ts = regular(5);
    let blob =
        encode_chunk(&ts, &Column::Float(vec![3.0, f64::NAN, -1.5, 10.0, 0.5])).expect("encode");
    match read_aggregates(&blob).expect("agg") {
        Some(ChunkAggregates::Float { min, max, sum }) => {
            assert_eq!((min, max), (-1.5, 10.0));
            assert!(sum.is_nan());
        }
        other => panic!("unexpected {other:?}"),
    }
    let blob = encode_chunk(
        &ts,
        &Column::Integer(vec![i64::MAX, i64::MAX, -3, 0, i64::MIN]),
    )
    .expect("encode");
    let sum = 2 * i128::from(i64::MAX) - 3 + i128::from(i64::MIN);
    assert_eq!(
        read_aggregates(&blob).expect("agg"),
        Some(ChunkAggregates::Integer {
            min: i64::MIN,
            max: i64::MAX,
            sum
        })
    );
    let blob = encode_chunk(&ts, &Column::Unsigned(vec![u64::MAX; 5])).expect("encode");
    let sum = 5 * u128::from(u64::MAX);
    assert_eq!(
        read_aggregates(&blob).expect("agg"),
        Some(ChunkAggregates::Unsigned {
            min: u64::MAX,
            max: u64::MAX,
            sum
        })
    );
    let blob =
        encode_chunk(&ts, &Column::Boolean(vec![true, false, true, true, false])).expect("encode");
    assert_eq!(
        read_aggregates(&blob).expect("agg"),
        Some(ChunkAggregates::Boolean { trues: 3 })
    );
}

#[test]
fn invalid_input_is_rejected() {
    assert!(matches!(
        encode_chunk(&[1, 2], &Column::Integer(vec![1])),
        Err(CodecError::LengthMismatch {
            timestamps: 2,
            values: 1
        })
    ));
    assert!(matches!(
        encode_chunk(&[1, 3, 2], &Column::Boolean(vec![true; 3])),
        Err(CodecError::Unsorted { index: 2 })
    ));
    assert!(matches!(
        encode_chunk(&[1, 1], &Column::Boolean(vec![true; 2])),
        Err(CodecError::Unsorted { index: 1 })
    ));
}

fn blobs_for_corruption() -> Vec<Vec<u8>> {
    let mut rng = Rng(4);
    let mut blobs = Vec::new();
    for opts in &ALL_OPTIONS {
        for (n, ts) in [
            (0, vec![]),
            (1, vec![5]),
            (40, irregular(40, &mut rng)),
            (300, regular(300)),
            (2100, irregular(2100, &mut rng)),
        ] {
            for col in sample_columns(n, &mut rng) {
                blobs.push(encode_chunk_with(&ts, &col, opts).expect("encode"));
            }
        }
    }
    blobs
}

fn all_entry_points(blob: &[u8]) -> [bool; 6] {
    [
        decode_chunk(blob).is_err(),
        decode_timestamps(blob).is_err(),
        read_header(blob).is_err(),
        read_aggregates(blob).is_err(),
        range_of(blob, i64::MIN, i64::MAX).is_err() && range_of(blob, 0, 0).is_err(),
        verify(blob).is_err(),
    ]
}

fn range_of(blob: &[u8], start: i64, end: i64) -> Result<(Vec<i64>, Column), CodecError> {
    let (mut t, mut v) = (Vec::new(), Column::Float(Vec::new()));
    decode_range_into(blob, start, end, &mut t, &mut v)?;
    Ok((t, v))
}

#[test]
fn every_truncation_is_an_error() {
    for blob in blobs_for_corruption() {
        for len in 0..blob.len() {
            assert_eq!(
                all_entry_points(&blob[..len]),
                [true; 6],
                "prefix {len} of {}",
                blob.len()
            );
        }
        let mut longer = blob.clone();
        longer.push(0);
        assert_eq!(all_entry_points(&longer), [true; 6]);
    }
}

#[test]
fn bit_flips_are_errors() {
    let mut rng = Rng(5);
    for blob in blobs_for_corruption() {
        let header = read_header(&blob).expect("header");
        let aggregates = read_aggregates(&blob).expect("aggregates");
        for _ in 0..64 {
            let mut bad = blob.clone();
            let bit = rng.next() as usize % (bad.len() * 8);
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_chunk(&bad).is_err(), "flip of bit {bit}");
            assert!(decode_timestamps(&bad).is_err(), "flip of bit {bit}");
            assert!(range_of(&bad, 0, i64::MAX).is_err(), "flip of bit {bit}");
            assert!(verify(&bad).is_err(), "flip of bit {bit}");
            // Header reads skip the payload checksum, so a payload flip may pass,
            // but they must never return altered data.
            assert!(
                read_header(&bad).map_or(true, |h| h == header),
                "flip of bit {bit}"
            );
            assert!(
                read_aggregates(&bad).map_or(true, |a| same_aggregates(a, aggregates)),
                "flip of bit {bit}"
            );
        }
    }
}

fn same_aggregates(a: Option<ChunkAggregates>, b: Option<ChunkAggregates>) -> bool {
    match (a, b) {
        (
            Some(ChunkAggregates::Float { min, max, sum }),
            Some(ChunkAggregates::Float {
                min: m,
                max: x,
                sum: s,
            }),
        ) => {
            (min.to_bits(), max.to_bits(), sum.to_bits()) == (m.to_bits(), x.to_bits(), s.to_bits())
        }
        _ => a == b,
    }
}

/// Offset of the header checksum: the header ends right before the length
/// prefix of the timestamps section.
fn header_crc_pos(blob: &[u8]) -> usize {
    let p = parse(blob, Verify::All).expect("parse");
    let times_off = p.times.as_ptr() as usize - blob.as_ptr() as usize;
    let mut prefix = Vec::new();
    put_uvarint(&mut prefix, p.times.len() as u64);
    times_off - prefix.len() - 4
}

/// The checksums hide section decoders from random damage; this re-signs damaged
/// blobs so pco, Gorilla, deflate and the varint readers face it directly. They
/// may accept garbage (that is what the checksums are for) but must not panic.
#[test]
fn damaged_blobs_with_valid_checksums_do_not_panic() {
    let mut rng = Rng(6);
    for blob in blobs_for_corruption() {
        let crc_pos = header_crc_pos(&blob);
        let body_len = blob.len() - 4;
        for round in 0..300 {
            let mut bad = blob[..body_len].to_vec();
            for _ in 0..1 + round % 4 {
                let i = rng.next() as usize % bad.len();
                if (crc_pos..crc_pos + 4).contains(&i) {
                    continue;
                }
                match rng.next() % 3 {
                    0 => bad[i] ^= 1 << (rng.next() % 8),
                    1 => bad[i] = rng.next() as u8,
                    _ if i > crc_pos + 4 => bad.truncate(i),
                    _ => {}
                }
            }
            let header_crc = crc32(&bad[..crc_pos]);
            bad[crc_pos..crc_pos + 4].copy_from_slice(&header_crc.to_le_bytes());
            let crc = crc32(&bad);
            bad.extend_from_slice(&crc.to_le_bytes());
            let _ = (
                decode_chunk(&bad),
                decode_timestamps(&bad),
                read_header(&bad),
                read_aggregates(&bad),
                range_of(&bad, i64::MIN, i64::MAX),
                range_of(&bad, 0, 1_000_000_000_000),
                decode_range_into_verified(
                    &bad,
                    0,
                    i64::MAX,
                    &mut Vec::new(),
                    &mut Column::Float(vec![]),
                ),
            );
        }
    }
}

#[test]
fn header_reads_do_not_hash_the_payload() {
    let ts = regular(1000);
    let mut blob = encode_chunk(&ts, &Column::Integer((0..1000).collect())).expect("encode");
    let last = blob.len() - 1;
    blob[last] ^= 0xff;
    assert!(matches!(decode_chunk(&blob), Err(CodecError::Checksum)));
    let h = read_header(&blob).expect("header");
    assert_eq!((h.count, h.min_time, h.max_time), (1000, ts[0], ts[999]));
}

#[test]
fn regular_timestamps_cost_almost_nothing() {
    let ts = regular(8640);
    for time in [TimeCodec::Auto, TimeCodec::Pco, TimeCodec::DeltaOfDelta] {
        let opts = EncodeOptions {
            time,
            ..EncodeOptions::default()
        };
        let blob =
            encode_chunk_with(&ts, &Column::Boolean(vec![true; 8640]), &opts).expect("encode");
        assert!(blob.len() < 128, "{time:?}: {} bytes", blob.len());
    }
}

#[test]
fn auto_time_codec_switches_to_pco_for_jitter() {
    // Millisecond-precision jitter: pco finds the common factor, varints cannot.
    let mut rng = Rng(7);
    let ts: Vec<i64> = (0..4096)
        .map(|i| i * 10_000_000_000 + (rng.next() % 50) as i64 * 1_000_000)
        .collect();
    let col = Column::Boolean(vec![false; ts.len()]);
    let size = |time| {
        let opts = EncodeOptions {
            time,
            ..EncodeOptions::default()
        };
        section_sizes(&encode_chunk_with(&ts, &col, &opts).expect("encode"))
            .expect("sizes")
            .timestamps
    };
    let (auto, pco, dod) = (
        size(TimeCodec::Auto),
        size(TimeCodec::Pco),
        size(TimeCodec::DeltaOfDelta),
    );
    assert_eq!(auto, pco.min(dod));
    assert!(pco < dod, "pco {pco} dod {dod}");
}
