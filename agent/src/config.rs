//! The configuration file as written: Telegraf's TOML shape, parsed into raw serde structs.
//!
//! Every struct denies unknown keys so a typo (`intervall`) is an error with its position
//! instead of a silently ignored option. Values that need checking (durations, sizes) are kept
//! as [`Spanned`] so [`crate::validate`] can point at them too.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::{Error, Result};

/// The source text and where it came from, for error positions.
pub struct Source {
    pub origin: String,
    pub text: String,
}

impl Source {
    /// `origin:line:col: message` for a byte offset in the (substituted) text.
    pub fn error_at(&self, offset: usize, message: impl std::fmt::Display) -> Error {
        let (line, col) = line_col(&self.text, offset);
        Error::Config(format!("{}:{line}:{col}: {message}", self.origin))
    }

    pub fn error_span<T>(&self, s: &Spanned<T>, message: impl std::fmt::Display) -> Error {
        self.error_at(s.span().start, message)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, col)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub global_tags: BTreeMap<String, String>,
    pub agent: RawAgent,
    pub inputs: RawInputs,
    pub outputs: RawOutputs,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAgent {
    pub interval: Option<Spanned<String>>,
    pub round_interval: Option<bool>,
    pub metric_batch_size: Option<Spanned<i64>>,
    pub metric_buffer_limit: Option<Spanned<i64>>,
    pub collection_jitter: Option<Spanned<String>>,
    pub collection_offset: Option<Spanned<String>>,
    pub flush_interval: Option<Spanned<String>>,
    pub flush_jitter: Option<Spanned<String>>,
    pub precision: Option<Spanned<String>>,
    pub hostname: Option<String>,
    pub omit_hostname: Option<bool>,
    /// `memory` (default) or `disk`.
    pub buffer_strategy: Option<Spanned<String>>,
    pub buffer_directory: Option<Spanned<String>>,
    pub debug: Option<bool>,
    pub quiet: Option<bool>,
}

/// Declares a plugin's raw struct: Telegraf's per-plugin options (`common`), the selectors
/// every plugin accepts, then the plugin's own keys. serde's `flatten` cannot be combined with
/// `deny_unknown_fields`, hence a macro rather than a shared struct.
macro_rules! plugin_struct {
    (
        $(#[$m:meta])* $name:ident
        common { $($(#[$cm:meta])* $cf:ident : $cty:ty),* $(,)? }
        own { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }
    ) => {
        $(#[$m])*
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            pub alias: Option<String>,
            pub namepass: Vec<String>,
            pub namedrop: Vec<String>,
            pub fieldinclude: Vec<String>,
            pub fieldexclude: Vec<String>,
            /// Telegraf's older spelling of `fieldinclude`.
            pub fieldpass: Vec<String>,
            /// Telegraf's older spelling of `fieldexclude`.
            pub fielddrop: Vec<String>,
            pub taginclude: Vec<String>,
            pub tagexclude: Vec<String>,
            $($(#[$cm])* pub $cf: $cty,)*
            $($(#[$fm])* pub $field: $ty,)*
        }
    };
}

macro_rules! input_struct {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        plugin_struct! {
            $(#[$m])* $name
            common {
                interval: Option<Spanned<String>>,
                name_override: Option<String>,
                name_prefix: Option<String>,
                name_suffix: Option<String>,
                tags: BTreeMap<String, String>,
            }
            own { $($(#[$fm])* $field: $ty),* }
        }
    };
}

macro_rules! output_struct {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        plugin_struct! {
            $(#[$m])* $name
            common {
                metric_batch_size: Option<Spanned<i64>>,
                metric_buffer_limit: Option<Spanned<i64>>,
                flush_interval: Option<Spanned<String>>,
                flush_jitter: Option<Spanned<String>>,
                /// tigk extension: first retry delay after a failed write (default 1s).
                retry_initial: Option<Spanned<String>>,
                /// tigk extension: cap of the exponential retry delay (default 60s).
                retry_max: Option<Spanned<String>>,
            }
            own { $($(#[$fm])* $field: $ty),* }
        }
    };
}

/// `[[inputs.NAME]]` arrays. A name not listed here is an unknown key, reported with its position.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawInputs {
    pub cpu: Vec<RawCpu>,
    pub mem: Vec<RawPlain>,
    pub swap: Vec<RawPlain>,
    pub system: Vec<RawPlain>,
    pub disk: Vec<RawDisk>,
    pub diskio: Vec<RawDiskio>,
    pub net: Vec<RawNet>,
    pub processes: Vec<RawPlain>,
    pub kernel: Vec<RawPlain>,
    pub internal: Vec<RawInternal>,
}

input_struct!(RawPlain {});

input_struct!(RawCpu {
    percpu: Option<bool>,
    totalcpu: Option<bool>,
    collect_cpu_time: Option<bool>,
    report_active: Option<bool>,
    core_tags: Option<bool>,
});

input_struct!(RawDisk {
    mount_points: Vec<String>,
    ignore_fs: Option<Vec<String>>,
    ignore_mount_opts: Vec<String>,
});

input_struct!(RawDiskio {
    devices: Vec<String>,
    skip_serial_number: Option<bool>,
});

input_struct!(RawNet {
    interfaces: Vec<String>,
    ignore_protocol_stats: Option<bool>,
});

input_struct!(RawInternal {
    collect_memstats: Option<bool>,
});

/// `[[outputs.NAME]]` arrays.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawOutputs {
    pub influxdb: Vec<RawInfluxdb>,
    pub file: Vec<RawFile>,
}

output_struct!(RawInfluxdb {
    urls: Option<Vec<Spanned<String>>>,
    database: Option<String>,
    retention_policy: Option<String>,
    write_consistency: Option<String>,
    /// Sent as `Authorization: Token <token>` (tigk serve, InfluxDB 1.8+).
    token: Option<String>,
    username: Option<String>,
    password: Option<String>,
    timeout: Option<Spanned<String>>,
    content_encoding: Option<Spanned<String>>,
    skip_database_creation: Option<bool>,
    user_agent: Option<String>,
    http_headers: BTreeMap<String, String>,
    /// PEM file of the CA(s) to trust for https:// urls instead of the bundled roots.
    tls_ca: Option<Spanned<String>>,
    /// Telegraf's name: accept any server certificate (testing only).
    insecure_skip_verify: Option<bool>,
});

output_struct!(RawFile {
    files: Option<Vec<String>>,
    data_format: Option<Spanned<String>>,
});

/// Reads, substitutes `${VAR}` and parses a config file.
pub fn load(path: &Path) -> Result<(RawConfig, Source)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(&path.display().to_string(), &text, |k| {
        std::env::var(k).ok()
    })
}

/// Parses config text; `env` resolves `${VAR}` (a closure so tests need not touch the process env).
pub fn parse(
    origin: &str,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(RawConfig, Source)> {
    let text = substitute_env(origin, text, env)?;
    let source = Source {
        origin: origin.to_string(),
        text,
    };
    let raw: RawConfig = toml::from_str(&source.text).map_err(|e| match e.span() {
        Some(span) => source.error_at(span.start, e.message()),
        None => Error::Config(format!("{origin}: {}", e.message())),
    })?;
    Ok((raw, source))
}

/// Replaces `${VAR}` and `${VAR:-default}` line by line, leaving comment lines alone so that
/// a commented-out `${TOKEN}` in the sample config does not demand the variable. Working per
/// line keeps line numbers of later errors right. An unset variable without a default is an
/// error: sending metrics with an empty token or URL would fail later and less clearly.
fn substitute_env(
    origin: &str,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    for (n, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let inner = &after[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            if !is_env_name(name) {
                // Not ours to interpret: keep it verbatim.
                out.push_str(&rest[start..start + 3 + end]);
            } else {
                match (env(name), default) {
                    (Some(v), _) => out.push_str(&v),
                    (None, Some(d)) => out.push_str(d),
                    (None, None) => {
                        let col = line.len() - rest.len() + start + 1;
                        return Err(Error::Config(format!(
                            "{origin}:{}:{col}: environment variable {name} is not set",
                            n + 1
                        )));
                    }
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "TOKEN" => Some("s3cret".into()),
            "HOST" => Some("db1".into()),
            _ => None,
        }
    }

    fn err(text: &str) -> String {
        match parse("agent.toml", text, env) {
            Ok(_) => panic!("expected an error for {text:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn substitutes_variables_and_defaults() {
        let text = "[global_tags]\nh = \"${HOST}\"\nd = \"${DC:-eu}\"\n# t = \"${MISSING}\"\n";
        let (raw, _) = parse("a.toml", text, env).expect("parses");
        assert_eq!(raw.global_tags["h"], "db1");
        assert_eq!(raw.global_tags["d"], "eu");
    }

    #[test]
    fn unset_variable_is_an_error_with_position() {
        assert_eq!(
            err("[agent]\nhostname = \"${NOPE}\"\n"),
            "agent.toml:2:13: environment variable NOPE is not set"
        );
    }

    #[test]
    fn unknown_keys_report_their_position() {
        let e = err("[agent]\ninterval = \"10s\"\nintervall = \"5s\"\n");
        assert!(
            e.starts_with("agent.toml:3:1: unknown field `intervall`"),
            "{e}"
        );
        let e = err("[[inputs.cpu]]\npercpu = true\n\n[[inputs.cpux]]\n");
        assert!(e.starts_with("agent.toml:4:"), "{e}");
        assert!(e.contains("unknown field `cpux`"), "{e}");
        let e = err("[[outputs.influxdb]]\nurls = [\"http://x\"]\ndatabse = \"t\"\n");
        assert!(
            e.starts_with("agent.toml:3:1: unknown field `databse`"),
            "{e}"
        );
    }

    #[test]
    fn type_errors_report_their_position() {
        let e = err("[agent]\nmetric_batch_size = \"big\"\n");
        assert!(e.starts_with("agent.toml:2:21: invalid type"), "{e}");
    }
}
