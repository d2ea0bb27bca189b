//! Parse-time regex validation with Go `regexp` error texts for the common mistakes.
//!
//! 1.x compiles every regex literal while parsing and reports Go's message, e.g.
//! `error parsing regexp: missing closing ): `a(b``. Full RE2 compilation is the
//! executor's job (with its own engine); this only catches unbalanced groups and
//! classes, dangling repetition operators and trailing backslashes, which are what
//! users actually get wrong.

/// Returns Go's error text if `re` has one of the detected syntax errors.
pub(crate) fn check(re: &str) -> Result<(), String> {
    let err = |code: &str, arg: &str| Err(format!("error parsing regexp: {code}: `{arg}`"));
    let chars: Vec<char> = re.chars().collect();
    let mut depth: usize = 0;
    let mut i = 0;
    // Whether the previous item can take a repetition operator.
    let mut can_repeat = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                if i + 1 >= chars.len() {
                    return err("trailing backslash at end of expression", "");
                }
                i += 2;
                can_repeat = true;
                continue;
            }
            '[' => {
                // Find the end of the class; `]` right after `[` or `[^` is literal.
                let start = i;
                let mut j = i + 1;
                if j < chars.len() && chars[j] == '^' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                let mut closed = false;
                while j < chars.len() {
                    match chars[j] {
                        '\\' => j += 2,
                        '[' if j + 1 < chars.len() && chars[j + 1] == ':' => {
                            // POSIX class like [:alpha:]
                            match chars[j + 2..].iter().position(|&x| x == ']') {
                                Some(p) => j += p + 3,
                                None => j += 1,
                            }
                        }
                        ']' => {
                            closed = true;
                            break;
                        }
                        _ => j += 1,
                    }
                }
                if !closed {
                    let arg: String = chars[start..].iter().collect();
                    return err("missing closing ]", &arg);
                }
                i = j + 1;
                can_repeat = true;
                continue;
            }
            '(' => {
                depth += 1;
                can_repeat = false;
                // Skip a `?` flag/group prefix so it is not seen as a repetition.
                if i + 1 < chars.len() && chars[i + 1] == '?' {
                    i += 1;
                }
            }
            ')' => {
                if depth == 0 {
                    return err("unexpected )", re);
                }
                depth -= 1;
                can_repeat = true;
            }
            '*' | '+' | '?' => {
                if !can_repeat {
                    let arg: String = chars[i..(i + 1).min(chars.len())].iter().collect();
                    return err("missing argument to repetition operator", &arg);
                }
                // A lazy modifier `*?` is fine; a second operator is not.
                if i + 1 < chars.len() && matches!(chars[i + 1], '*' | '+') {
                    let arg: String = chars[i..i + 2].iter().collect();
                    return err("invalid nested repetition operator", &arg);
                }
                if i + 1 < chars.len() && chars[i + 1] == '?' {
                    i += 1;
                }
                can_repeat = false;
            }
            '|' => can_repeat = false,
            '^' | '$' => can_repeat = true,
            _ => can_repeat = true,
        }
        i += 1;
    }
    if depth > 0 {
        return err("missing closing )", re);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn messages() {
        assert_eq!(
            check("a(b"),
            Err("error parsing regexp: missing closing ): `a(b`".to_string())
        );
        assert!(check("^(cpu0|cpu1)$").is_ok());
        assert!(check("(?i)cp").is_ok());
        assert!(check("[a-z]+\\d*?").is_ok());
        assert!(check("a)").is_err());
        assert!(check("[abc").is_err());
        assert!(check("*a").is_err());
    }
}
