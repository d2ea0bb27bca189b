//! `tz('Region/City')`: UTC offsets from the system's TZif files (/usr/share/zoneinfo), so
//! GROUP BY time buckets align to local wall-clock time as in 1.x.

/// UTC offsets of one zone: transitions (seconds since the epoch) and the offset from each.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    transitions: Vec<(i64, i64)>,
    /// Offset before the first transition (or of a zone without transitions).
    initial: i64,
}

impl Zone {
    /// Loads a zone by IANA name; `UTC` and `Etc/UTC` need no file.
    pub fn load(name: &str) -> Option<Zone> {
        if name.is_empty() || name == "UTC" || name == "Etc/UTC" {
            return Some(Zone::default());
        }
        // Names come from queries: refuse anything that could leave the zoneinfo tree.
        if name.starts_with('/') || name.split('/').any(|p| p == ".." || p.is_empty()) {
            return None;
        }
        let dirs = [
            "/usr/share/zoneinfo",
            "/usr/lib/zoneinfo",
            "/usr/share/lib/zoneinfo",
        ];
        let data = dirs
            .iter()
            .find_map(|d| std::fs::read(std::path::Path::new(d).join(name)).ok())?;
        parse_tzif(&data)
    }

    /// The offset in nanoseconds at `t` (ns since the epoch).
    pub fn offset_ns(&self, t: i64) -> i64 {
        let secs = t.div_euclid(1_000_000_000);
        let i = self.transitions.partition_point(|(at, _)| *at <= secs);
        let off = match i.checked_sub(1).and_then(|k| self.transitions.get(k)) {
            Some((_, off)) => *off,
            None => self.initial,
        };
        off * 1_000_000_000
    }
}

fn be_u32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

fn be_i64(d: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(d.get(at..at + 8)?.try_into().ok()?))
}

/// Parses the TZif format (RFC 8536), preferring the 64-bit section of version 2+ files.
fn parse_tzif(d: &[u8]) -> Option<Zone> {
    if d.get(0..4)? != b"TZif" {
        return None;
    }
    let version = *d.get(4)?;
    let counts = |base: usize| -> Option<[usize; 6]> {
        let mut c = [0usize; 6];
        for (k, slot) in c.iter_mut().enumerate() {
            *slot = be_u32(d, base + 20 + 4 * k)? as usize;
        }
        Some(c)
    };
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(0)?;
    let v1_len = timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
    let (base, tsize) = if version >= b'2' {
        (44 + v1_len, 8)
    } else {
        (0, 4)
    };
    let [_, _, _, timecnt, typecnt, _] = if version >= b'2' {
        counts(base)?
    } else {
        counts(0)?
    };
    let times_at = base + 44;
    let idx_at = times_at + timecnt * tsize;
    let types_at = idx_at + timecnt;
    let ttinfo = |k: usize| -> Option<(i64, bool)> {
        let at = types_at + 6 * k;
        let off = be_u32(d, at)? as i32;
        Some((i64::from(off), *d.get(at + 4)? != 0))
    };
    let mut transitions = Vec::with_capacity(timecnt);
    for k in 0..timecnt {
        let at = if tsize == 8 {
            be_i64(d, times_at + 8 * k)?
        } else {
            i64::from(be_u32(d, times_at + 4 * k)? as i32)
        };
        let ty = *d.get(idx_at + k)? as usize;
        transitions.push((at, ttinfo(ty)?.0));
    }
    let initial = (0..typecnt)
        .filter_map(ttinfo)
        .find(|(_, dst)| !dst)
        .map_or(0, |(o, _)| o);
    Some(Zone {
        transitions,
        initial,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kolkata_and_new_york() {
        let Some(z) = Zone::load("Asia/Kolkata") else {
            return;
        }; // no tzdata installed
        assert_eq!(z.offset_ns(1_767_225_600_000_000_000), 19_800_000_000_000);
        if let Some(ny) = Zone::load("America/New_York") {
            assert_eq!(ny.offset_ns(1_767_225_600_000_000_000), -18_000_000_000_000);
            assert_eq!(ny.offset_ns(1_783_000_000_000_000_000), -14_400_000_000_000);
        }
        assert!(Zone::load("../etc/passwd").is_none());
    }
}
