//! Telegraf's metric selectors: `namepass/namedrop`, `fieldinclude/fieldexclude`,
//! `taginclude/tagexclude`, with `*` and `?` globs.

use common::Point;

/// A compiled set of selectors. An empty list means "no constraint".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub namepass: Vec<String>,
    pub namedrop: Vec<String>,
    pub fieldinclude: Vec<String>,
    pub fieldexclude: Vec<String>,
    pub taginclude: Vec<String>,
    pub tagexclude: Vec<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.namepass.is_empty()
            && self.namedrop.is_empty()
            && self.fieldinclude.is_empty()
            && self.fieldexclude.is_empty()
            && self.taginclude.is_empty()
            && self.tagexclude.is_empty()
    }

    /// Applies the selectors in Telegraf's order (select by name, then modify fields and tags).
    /// Returns false when the point must be dropped, including when no field survives.
    pub fn apply(&self, p: &mut Point) -> bool {
        if !self.namepass.is_empty() && !any_match(&self.namepass, &p.measurement) {
            return false;
        }
        if any_match(&self.namedrop, &p.measurement) {
            return false;
        }
        if !self.fieldinclude.is_empty() {
            p.fields.retain(|(k, _)| any_match(&self.fieldinclude, k));
        }
        if !self.fieldexclude.is_empty() {
            p.fields.retain(|(k, _)| !any_match(&self.fieldexclude, k));
        }
        if !self.taginclude.is_empty() {
            p.tags.retain(|(k, _)| any_match(&self.taginclude, k));
        }
        if !self.tagexclude.is_empty() {
            p.tags.retain(|(k, _)| !any_match(&self.tagexclude, k));
        }
        !p.fields.is_empty()
    }
}

fn any_match(patterns: &[String], s: &str) -> bool {
    patterns.iter().any(|p| glob(p.as_bytes(), s.as_bytes()))
}

/// `*` matches any run (including empty), `?` one byte; everything else literally.
/// Iterative with a single backtrack point, so it is linear for the patterns people write.
pub fn glob(pattern: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == s[i]) {
            p += 1;
            i += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, i));
            p += 1;
        } else if let Some((sp, si)) = star {
            p = sp + 1;
            i = si + 1;
            star = Some((sp, si + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::FieldValue;

    #[test]
    fn globs() {
        assert!(glob(b"cpu*", b"cpu"));
        assert!(glob(b"cpu*", b"cpu-total"));
        assert!(glob(b"*_percent", b"used_percent"));
        assert!(glob(b"c?u", b"cpu"));
        assert!(!glob(b"c?u", b"cpuu"));
        assert!(glob(b"*a*b*", b"xxaxxbxx"));
        assert!(!glob(b"mem", b"memory"));
    }

    #[test]
    fn filters_points() {
        let mut p = Point {
            measurement: "mem".into(),
            tags: vec![("host".into(), "a".into())],
            fields: vec![
                ("used".into(), FieldValue::Integer(1)),
                ("used_percent".into(), FieldValue::Float(1.0)),
            ],
            timestamp: Some(1),
        };
        let f = Filter {
            namepass: vec!["cpu".into()],
            ..Default::default()
        };
        assert!(!f.apply(&mut p.clone()));
        let f = Filter {
            fieldexclude: vec!["*_percent".into()],
            ..Default::default()
        };
        assert!(f.apply(&mut p));
        assert_eq!(p.fields.len(), 1);
        let f = Filter {
            fieldinclude: vec!["nothing".into()],
            ..Default::default()
        };
        assert!(!f.apply(&mut p));
    }
}
