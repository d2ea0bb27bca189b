//! Token kinds, keyword table and operator precedence (InfluxDB 1.6.7's `token.go` set).

macro_rules! keywords {
    ($($variant:ident => $text:literal),* $(,)?) => {
        /// A lexical token kind. Keyword variants follow the operators/punctuation.
        #[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
        pub(crate) enum Tok {
            Illegal, Eof, Ws, Comment,
            Ident, BoundParam, Number, Integer, DurationVal, Str, BadString, BadEscape,
            True, False, Regex, BadRegex,
            Add, Sub, Mul, Div, Mod, BitAnd, BitOr, BitXor,
            And, Or, In,
            Eq, Neq, EqRegex, NeqRegex, Lt, Lte, Gt, Gte,
            LParen, RParen, Comma, Colon, DoubleColon, Semicolon, Dot,
            $($variant),*
        }

        impl Tok {
            /// 1.x's `Token.String()`. Tokens missing from 1.x's table (INTEGER,
            /// BOUNDPARAM, COMMENT, BADREGEX) print as "", which only matters when
            /// their literal is empty too.
            pub(crate) fn as_str(self) -> &'static str {
                match self {
                    Tok::Illegal => "ILLEGAL", Tok::Eof => "EOF", Tok::Ws => "WS",
                    Tok::Comment | Tok::BoundParam | Tok::Integer | Tok::BadRegex => "",
                    Tok::Ident => "IDENT", Tok::Number => "NUMBER", Tok::DurationVal => "DURATIONVAL",
                    Tok::Str => "STRING", Tok::BadString => "BADSTRING", Tok::BadEscape => "BADESCAPE",
                    Tok::True => "TRUE", Tok::False => "FALSE", Tok::Regex => "REGEX",
                    Tok::Add => "+", Tok::Sub => "-", Tok::Mul => "*", Tok::Div => "/", Tok::Mod => "%",
                    Tok::BitAnd => "&", Tok::BitOr => "|", Tok::BitXor => "^",
                    Tok::And => "AND", Tok::Or => "OR", Tok::In => "IN",
                    Tok::Eq => "=", Tok::Neq => "!=", Tok::EqRegex => "=~", Tok::NeqRegex => "!~",
                    Tok::Lt => "<", Tok::Lte => "<=", Tok::Gt => ">", Tok::Gte => ">=",
                    Tok::LParen => "(", Tok::RParen => ")", Tok::Comma => ",", Tok::Colon => ":",
                    Tok::DoubleColon => "::", Tok::Semicolon => ";", Tok::Dot => ".",
                    $(Tok::$variant => $text),*
                }
            }

            /// Keyword lookup, case-insensitive (1.x's `Lookup`). Returns `Ident` otherwise.
            pub(crate) fn lookup(ident: &str) -> Tok {
                // Longest keyword is 13 bytes; skip the allocation for long identifiers.
                if ident.len() > 13 {
                    return Tok::Ident;
                }
                let lower = ident.to_ascii_uppercase();
                match lower.as_str() {
                    "AND" => Tok::And, "OR" => Tok::Or, "IN" => Tok::In,
                    "TRUE" => Tok::True, "FALSE" => Tok::False,
                    $($text => Tok::$variant,)*
                    _ => Tok::Ident,
                }
            }
        }
    };
}

keywords! {
    All => "ALL", Alter => "ALTER", Analyze => "ANALYZE", Any => "ANY", As => "AS", Asc => "ASC",
    Begin => "BEGIN", By => "BY", Cardinality => "CARDINALITY", Create => "CREATE",
    Continuous => "CONTINUOUS", Database => "DATABASE", Databases => "DATABASES",
    Default => "DEFAULT", Delete => "DELETE", Desc => "DESC", Destinations => "DESTINATIONS",
    Diagnostics => "DIAGNOSTICS", Distinct => "DISTINCT", Drop => "DROP", Duration => "DURATION",
    End => "END", Every => "EVERY", Exact => "EXACT", Explain => "EXPLAIN", Field => "FIELD",
    For => "FOR", From => "FROM", Grant => "GRANT", Grants => "GRANTS", Group => "GROUP",
    Groups => "GROUPS", Inf => "INF", Insert => "INSERT", Into => "INTO", Key => "KEY",
    Keys => "KEYS", Kill => "KILL", Limit => "LIMIT", Measurement => "MEASUREMENT",
    Measurements => "MEASUREMENTS", Name => "NAME", Offset => "OFFSET", On => "ON",
    Order => "ORDER", Password => "PASSWORD", Policy => "POLICY", Policies => "POLICIES",
    Privileges => "PRIVILEGES", Queries => "QUERIES", Query => "QUERY", Read => "READ",
    Replication => "REPLICATION", Resample => "RESAMPLE", Retention => "RETENTION",
    Revoke => "REVOKE", Select => "SELECT", Series => "SERIES", Set => "SET", Show => "SHOW",
    Shard => "SHARD", Shards => "SHARDS", Slimit => "SLIMIT", Soffset => "SOFFSET",
    Stats => "STATS", Subscription => "SUBSCRIPTION", Subscriptions => "SUBSCRIPTIONS",
    Tag => "TAG", To => "TO", User => "USER", Users => "USERS", Values => "VALUES",
    Where => "WHERE", With => "WITH", Write => "WRITE",
}

impl Tok {
    /// Binary operators recognised inside expressions. `IN` is a keyword but, in 1.6.7,
    /// not an operator (`WHERE a IN b` fails with `found IN, expected ;`).
    pub(crate) fn is_operator(self) -> bool {
        matches!(
            self,
            Tok::Add
                | Tok::Sub
                | Tok::Mul
                | Tok::Div
                | Tok::Mod
                | Tok::BitAnd
                | Tok::BitOr
                | Tok::BitXor
                | Tok::And
                | Tok::Or
                | Tok::Eq
                | Tok::Neq
                | Tok::EqRegex
                | Tok::NeqRegex
                | Tok::Lt
                | Tok::Lte
                | Tok::Gt
                | Tok::Gte
        )
    }
}

/// 1.x's `tokstr`: the literal when there is one, else the token's name.
pub(crate) fn tokstr(tok: Tok, lit: &str) -> String {
    if lit.is_empty() {
        tok.as_str().to_string()
    } else {
        lit.to_string()
    }
}

/// Whether `s` is a keyword (so it must be quoted when printed as an identifier).
pub(crate) fn is_keyword(s: &str) -> bool {
    Tok::lookup(s) != Tok::Ident
}
