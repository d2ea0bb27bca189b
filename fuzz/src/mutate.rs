//! A small deterministic mutator for the in-suite fuzz pass.
//!
//! libFuzzer does the real exploration in long runs; this only has to make CI's short
//! pass reproducible without instrumentation: the same seed gives the same inputs on every
//! machine, so a failure in CI replays locally with `FUZZ_SEED`.

/// xorshift64*: tiny, fast, and good enough to pick mutations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Bytes that matter to our grammars: separators, quotes, escapes, and values at the
/// edges of number formats.
const TOKENS: &[&[u8]] = &[
    b",",
    b" ",
    b"=",
    b"\\",
    b"\"",
    b"'",
    b"\n",
    b"\r\n",
    b"(",
    b")",
    b"|",
    b".",
    b"@",
    b"/",
    b"*",
    b";",
    b"::",
    b"=~",
    b"!~",
    b"<>",
    b"-",
    b"9223372036854775807i",
    b"-9223372036854775808",
    b"18446744073709551615u",
    b"1e308",
    b"NaN",
    b"t",
    b"FALSE",
    b"\xff",
    b"\xc3\xa9",
    b"\x00",
    b"SELECT",
    b"FROM",
    b"WHERE",
    b"GROUP BY time(1ns)",
    b"now()",
    b"lambda:",
    b"|alert()",
    b"'''",
    b"// ",
    b"-- ",
    b"/* ",
    b"\"mean\"",
];

/// Returns a mutation of `input`; `others` supplies material for splicing.
pub fn mutate(input: &[u8], others: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    let mut out = input.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(out.len() + 1);
                out.insert(i, rng.next_u64() as u8);
            }
            2 => {
                let tok = TOKENS[rng.below(TOKENS.len())];
                let i = rng.below(out.len() + 1);
                out.splice(i..i, tok.iter().copied());
            }
            3 if !out.is_empty() => {
                let a = rng.below(out.len());
                let b = (a + 1 + rng.below(16)).min(out.len());
                out.drain(a..b);
            }
            4 if !out.is_empty() => {
                let a = rng.below(out.len());
                let b = (a + 1 + rng.below(32)).min(out.len());
                let copy = out[a..b].to_vec();
                let at = rng.below(out.len() + 1);
                out.splice(at..at, copy);
            }
            5 if !others.is_empty() => {
                let other = &others[rng.below(others.len())];
                let cut = rng.below(out.len() + 1);
                let from = rng.below(other.len() + 1);
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            _ if !out.is_empty() => {
                // Repeat a byte many times: escape floods and deep nesting.
                let i = rng.below(out.len());
                let b = out[i];
                let n = 1 + rng.below(200);
                out.splice(i..i, std::iter::repeat_n(b, n));
            }
            _ => out.push(rng.next_u64() as u8),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_mutations() {
        let others = vec![b"cpu value=1".to_vec()];
        let a: Vec<_> = {
            let mut rng = Rng::new(7);
            (0..50)
                .map(|_| mutate(b"mem,host=a used=2i", &others, &mut rng))
                .collect()
        };
        let mut rng = Rng::new(7);
        let b: Vec<_> = (0..50)
            .map(|_| mutate(b"mem,host=a used=2i", &others, &mut rng))
            .collect();
        assert_eq!(a, b);
        assert!(a.iter().any(|m| m.as_slice() != b"mem,host=a used=2i"));
    }
}
