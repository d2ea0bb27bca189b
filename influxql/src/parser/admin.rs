//! Continuous queries and user/privilege statements (GRANT, REVOKE).

use super::{PResult, Parser, TargetReq};
use crate::ast::*;
use crate::error::ParseError;
use crate::token::Tok;

impl Parser<'_, '_> {
    pub(super) fn parse_create_continuous_query(&mut self) -> PResult<Statement> {
        let name = self.parse_ident()?;
        self.expect_keyword(Tok::On)?;
        let database = self.parse_ident()?;
        let (mut resample_every, mut resample_for) = (0, 0);
        if self.optional_keyword(Tok::Resample) {
            if self.optional_keyword(Tok::Every) {
                resample_every = self.parse_resample_duration()?;
            }
            if self.optional_keyword(Tok::For) {
                resample_for = self.parse_resample_duration()?;
            }
            if resample_every == 0 && resample_for == 0 {
                let t = self.scan_ignore_ws();
                return Err(Self::unexpected(&t, &["EVERY", "FOR"]));
            }
        }
        self.expect_tokens(&[Tok::Begin, Tok::Select])?;
        let source = self.parse_select_statement(TargetReq::Required)?;
        if !source.is_raw_query() {
            let interval = group_by_interval(&source);
            if !matches!(interval, Ok(d) if d != 0) {
                // 1.x rewinds two tokens to name the culprit in the message.
                self.unscan();
                self.unscan();
                let t = self.scan_ignore_ws();
                let mut expected = vec!["GROUP BY time(...)".to_string()];
                if let Err(e) = interval {
                    expected.push(e.to_string());
                }
                let refs: Vec<&str> = expected.iter().map(String::as_str).collect();
                return Err(Self::unexpected(&t, &refs));
            }
        }
        let t = self.scan_ignore_ws();
        if t.tok != Tok::End {
            return Err(Self::unexpected(&t, &["END"]));
        }
        if resample_for > 0 {
            let interval = group_by_interval(&source).unwrap_or(0);
            if resample_for < interval {
                return Err(ParseError::plain(format!(
                    "FOR duration must be >= GROUP BY time duration: must be a minimum of {}, got {}",
                    crate::duration::format_duration(interval),
                    crate::duration::format_duration(resample_for)
                )));
            }
            if resample_every > 0 && resample_for < resample_every {
                return Err(ParseError::plain(format!(
                    "FOR duration must be >= EVERY duration: must be a minimum of {}, got {}",
                    crate::duration::format_duration(resample_every),
                    crate::duration::format_duration(resample_for)
                )));
            }
        }
        Ok(Statement::CreateContinuousQuery {
            name,
            database,
            resample_every,
            resample_for,
            source: Box::new(source),
        })
    }

    fn parse_resample_duration(&mut self) -> PResult<i64> {
        let t = self.scan_ignore_ws();
        if t.tok != Tok::DurationVal {
            return Err(Self::unexpected(&t, &["duration"]));
        }
        crate::duration::parse_duration(&t.lit).map_err(|e| ParseError::at(e.to_string(), t.pos))
    }

    fn parse_privilege(&mut self) -> PResult<Privilege> {
        let t = self.scan_ignore_ws();
        match t.tok {
            Tok::Read => Ok(Privilege::Read),
            Tok::Write => Ok(Privilege::Write),
            Tok::All => {
                if self.scan_ignore_ws().tok != Tok::Privileges {
                    self.unscan();
                }
                Ok(Privilege::All)
            }
            _ => Err(Self::unexpected(&t, &["READ", "WRITE", "ALL [PRIVILEGES]"])),
        }
    }

    /// GRANT (`grant`) or REVOKE.
    pub(super) fn parse_grant_revoke(&mut self, grant: bool) -> PResult<Statement> {
        let privilege = self.parse_privilege()?;
        let (admin_tok, admin_kw) = if grant {
            (Tok::To, "TO")
        } else {
            (Tok::From, "FROM")
        };
        let t = self.scan_ignore_ws();
        if t.tok == Tok::On {
            let database = self.parse_ident()?;
            let t = self.scan_ignore_ws();
            if t.tok != admin_tok {
                return Err(Self::unexpected(&t, &[admin_kw]));
            }
            let user = self.parse_ident()?;
            return Ok(if grant {
                Statement::Grant {
                    privilege,
                    database,
                    user,
                }
            } else {
                Statement::Revoke {
                    privilege,
                    database,
                    user,
                }
            });
        }
        if t.tok == admin_tok {
            if privilege != Privilege::All {
                return Err(Self::unexpected(&t, &["ON"]));
            }
            let user = self.parse_ident()?;
            return Ok(if grant {
                Statement::GrantAdmin { user }
            } else {
                Statement::RevokeAdmin { user }
            });
        }
        if privilege == Privilege::All {
            return Err(Self::unexpected(&t, &["ON", admin_kw]));
        }
        Err(Self::unexpected(&t, &["ON"]))
    }
}

/// The `GROUP BY time(...)` interval in ns (0 if none), as 1.x's `GroupByInterval`.
fn group_by_interval(s: &SelectStatement) -> Result<i64, &'static str> {
    let mut found = None;
    for d in &s.dimensions {
        if let Expr::Call(c) = d
            && c.name == "time"
        {
            if found.is_some() {
                return Err("multiple time dimensions not allowed");
            }
            match c.args.first() {
                Some(Expr::Duration(v)) => found = Some(*v),
                _ => return Err("time dimension must have duration argument"),
            }
        }
    }
    Ok(found.unwrap_or(0))
}
