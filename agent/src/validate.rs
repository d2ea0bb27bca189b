//! Raw config → runtime config: defaults applied, durations parsed, every problem reported
//! with its position. Nothing after this point re-checks configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use crate::config::{self, RawConfig, Source};
use crate::filter::Filter;
use crate::input::{InputKind, cpu, disk, diskio, internal, net};
use crate::output::{OutputKind, file, influxdb};
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub agent: AgentSettings,
    /// `[global_tags]` plus `host`, applied to every point without overriding input tags.
    pub global_tags: Vec<(String, String)>,
    pub inputs: Vec<InputSpec>,
    pub outputs: Vec<OutputSpec>,
}

#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub interval: Duration,
    pub round_interval: bool,
    pub collection_jitter: Duration,
    pub collection_offset: Duration,
    pub flush_interval: Duration,
    pub flush_jitter: Duration,
    pub metric_batch_size: usize,
    pub metric_buffer_limit: usize,
    /// `None`: derived from each input's interval, as Telegraf does.
    pub precision: Option<Duration>,
    pub hostname: String,
    pub omit_hostname: bool,
    pub debug: bool,
    pub quiet: bool,
}

#[derive(Debug, Clone)]
pub struct InputSpec {
    pub kind: InputKind,
    pub alias: Option<String>,
    pub interval: Duration,
    pub name_override: Option<String>,
    pub name_prefix: Option<String>,
    pub name_suffix: Option<String>,
    pub tags: Vec<(String, String)>,
    pub filter: Filter,
}

#[derive(Debug, Clone)]
pub enum BufferStrategy {
    Memory,
    /// The directory of this output's disk buffer.
    Disk(PathBuf),
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
}

#[derive(Debug, Clone)]
pub struct OutputSpec {
    pub kind: OutputKind,
    pub alias: Option<String>,
    pub filter: Filter,
    pub batch_size: usize,
    pub buffer_limit: usize,
    pub flush_interval: Duration,
    pub flush_jitter: Duration,
    pub retry: RetryPolicy,
    pub buffer: BufferStrategy,
}

/// Loads, substitutes and validates a config file.
pub fn load(path: &Path) -> Result<AgentConfig> {
    let (raw, source) = config::load(path)?;
    validate(raw, &source)
}

/// Parses and validates config text (env lookups through `env`).
pub fn parse(
    origin: &str,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<AgentConfig> {
    let (raw, source) = config::parse(origin, text, env)?;
    validate(raw, &source)
}

/// Go's duration syntax (`10s`, `1m30s`, `500ms`, `1.5h`), which Telegraf configs use.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += num * scale;
        rest = &rest[unit_end..];
    }
    Duration::try_from_secs_f64(total).ok()
}

struct V<'a> {
    src: &'a Source,
}

impl V<'_> {
    fn duration(&self, v: &Option<Spanned<String>>, default: Duration) -> Result<Duration> {
        match v {
            None => Ok(default),
            Some(s) => parse_duration(s.get_ref()).ok_or_else(|| {
                self.src.error_span(
                    s,
                    format!(
                        "invalid duration {:?} (use e.g. \"10s\", \"500ms\")",
                        s.get_ref()
                    ),
                )
            }),
        }
    }

    fn count(&self, v: &Option<Spanned<i64>>, default: usize, what: &str) -> Result<usize> {
        match v {
            None => Ok(default),
            Some(n) if *n.get_ref() > 0 => Ok(*n.get_ref() as usize),
            Some(n) => Err(self.src.error_span(n, format!("{what} must be positive"))),
        }
    }
}

macro_rules! filter_of {
    ($r:expr) => {
        Filter {
            namepass: $r.namepass.clone(),
            namedrop: $r.namedrop.clone(),
            fieldinclude: [$r.fieldinclude.clone(), $r.fieldpass.clone()].concat(),
            fieldexclude: [$r.fieldexclude.clone(), $r.fielddrop.clone()].concat(),
            taginclude: $r.taginclude.clone(),
            tagexclude: $r.tagexclude.clone(),
        }
    };
}

pub fn validate(raw: RawConfig, src: &Source) -> Result<AgentConfig> {
    let v = V { src };
    let a = &raw.agent;
    let interval = v.duration(&a.interval, Duration::from_secs(10))?;
    if interval.is_zero() {
        return Err(src.error_span(
            a.interval
                .as_ref()
                .ok_or_else(|| Error::Config("interval".into()))?,
            "interval must be positive",
        ));
    }
    let precision = match &a.precision {
        Some(p) if !p.get_ref().is_empty() => {
            Some(v.duration(&a.precision, Duration::ZERO)?).filter(|d| !d.is_zero())
        }
        _ => None,
    };
    let hostname = match &a.hostname {
        Some(h) if !h.is_empty() => h.clone(),
        _ => system_hostname(),
    };
    let agent = AgentSettings {
        interval,
        round_interval: a.round_interval.unwrap_or(true),
        collection_jitter: v.duration(&a.collection_jitter, Duration::ZERO)?,
        collection_offset: v.duration(&a.collection_offset, Duration::ZERO)?,
        flush_interval: v.duration(&a.flush_interval, Duration::from_secs(10))?,
        flush_jitter: v.duration(&a.flush_jitter, Duration::ZERO)?,
        metric_batch_size: v.count(&a.metric_batch_size, 1000, "metric_batch_size")?,
        metric_buffer_limit: v.count(&a.metric_buffer_limit, 10_000, "metric_buffer_limit")?,
        precision,
        hostname,
        omit_hostname: a.omit_hostname.unwrap_or(false),
        debug: a.debug.unwrap_or(false),
        quiet: a.quiet.unwrap_or(false),
    };
    if agent.flush_interval.is_zero() {
        return Err(Error::Config(format!(
            "{}: flush_interval must be positive",
            src.origin
        )));
    }
    let buffer_dir = match a
        .buffer_strategy
        .as_ref()
        .map(|s| (s, s.get_ref().as_str()))
    {
        None | Some((_, "memory")) => None,
        Some((s, "disk")) => match &a.buffer_directory {
            Some(d) if !d.get_ref().is_empty() => Some(PathBuf::from(d.get_ref())),
            _ => return Err(src.error_span(s, "buffer_strategy = \"disk\" needs buffer_directory")),
        },
        Some((s, other)) => {
            return Err(src.error_span(
                s,
                format!("unknown buffer_strategy {other:?} (memory or disk)"),
            ));
        }
    };

    let mut global_tags: Vec<(String, String)> = raw.global_tags.into_iter().collect();
    if !agent.omit_hostname && !global_tags.iter().any(|(k, _)| k == "host") {
        global_tags.push(("host".into(), agent.hostname.clone()));
    }

    let mut inputs = Vec::new();
    let i = &raw.inputs;
    macro_rules! push_inputs {
        ($list:expr, |$r:ident| $kind:expr) => {
            for $r in &$list {
                let kind: InputKind = $kind;
                inputs.push(InputSpec {
                    kind,
                    alias: $r.alias.clone(),
                    interval: v.duration(&$r.interval, agent.interval)?,
                    name_override: $r.name_override.clone(),
                    name_prefix: $r.name_prefix.clone(),
                    name_suffix: $r.name_suffix.clone(),
                    tags: $r
                        .tags
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    filter: filter_of!($r),
                });
            }
        };
    }
    push_inputs!(i.cpu, |r| InputKind::Cpu(cpu::CpuOptions {
        percpu: r.percpu.unwrap_or(true),
        totalcpu: r.totalcpu.unwrap_or(true),
        collect_cpu_time: r.collect_cpu_time.unwrap_or(false),
        report_active: r.report_active.unwrap_or(false),
    }));
    push_inputs!(i.mem, |r| InputKind::Mem);
    push_inputs!(i.swap, |r| InputKind::Swap);
    push_inputs!(i.system, |r| InputKind::System);
    push_inputs!(i.disk, |r| InputKind::Disk(disk::DiskOptions {
        mount_points: r.mount_points.clone(),
        ignore_fs: r
            .ignore_fs
            .clone()
            .unwrap_or_else(|| disk::DEFAULT_IGNORE_FS
                .iter()
                .map(|s| s.to_string())
                .collect()),
        ignore_mount_opts: r.ignore_mount_opts.clone(),
    }));
    push_inputs!(i.diskio, |r| InputKind::Diskio(diskio::DiskioOptions {
        devices: r.devices.clone(),
        skip_serial_number: r.skip_serial_number.unwrap_or(false),
    }));
    push_inputs!(i.net, |r| InputKind::Net(net::NetOptions {
        interfaces: r.interfaces.clone(),
        ignore_protocol_stats: r.ignore_protocol_stats.unwrap_or(false),
    }));
    push_inputs!(i.processes, |r| InputKind::Processes);
    push_inputs!(i.kernel, |r| InputKind::Kernel);
    push_inputs!(i.internal, |r| InputKind::Internal(
        internal::InternalOptions {
            collect_memstats: r.collect_memstats.unwrap_or(true),
        }
    ));

    let mut outputs = Vec::new();
    let o = &raw.outputs;
    macro_rules! push_outputs {
        ($list:expr, $name:literal, |$r:ident| $kind:expr) => {
            for (n, $r) in $list.iter().enumerate() {
                let kind: OutputKind = $kind;
                let batch_size = v.count(
                    &$r.metric_batch_size,
                    agent.metric_batch_size,
                    "metric_batch_size",
                )?;
                let flush_interval = v.duration(&$r.flush_interval, agent.flush_interval)?;
                let buffer = match &buffer_dir {
                    None => BufferStrategy::Memory,
                    Some(d) => BufferStrategy::Disk(d.join(match &$r.alias {
                        Some(a) => format!("{}-{a}", $name),
                        None => format!("{}-{n}", $name),
                    })),
                };
                outputs.push(OutputSpec {
                    kind,
                    alias: $r.alias.clone(),
                    filter: filter_of!($r),
                    batch_size,
                    buffer_limit: v.count(
                        &$r.metric_buffer_limit,
                        agent.metric_buffer_limit,
                        "metric_buffer_limit",
                    )?,
                    flush_interval,
                    flush_jitter: v.duration(&$r.flush_jitter, agent.flush_jitter)?,
                    retry: RetryPolicy {
                        initial: v.duration(&$r.retry_initial, Duration::from_secs(1))?,
                        max: v.duration(&$r.retry_max, Duration::from_secs(60))?,
                    },
                    buffer,
                });
            }
        };
    }
    push_outputs!(o.influxdb, "influxdb", |r| OutputKind::Influxdb(Box::new(
        influxdb_options(&v, r)?
    )));
    push_outputs!(o.file, "file", |r| {
        if let Some(f) = &r.data_format
            && f.get_ref() != "influx"
        {
            return Err(src.error_span(
                f,
                format!(
                    "data_format {:?} is not supported (only \"influx\")",
                    f.get_ref()
                ),
            ));
        }
        OutputKind::File(file::FileOptions {
            files: r.files.clone().unwrap_or_else(|| vec!["stdout".into()]),
        })
    });
    if outputs.is_empty() {
        return Err(Error::Config(format!(
            "{}: no outputs configured",
            src.origin
        )));
    }
    Ok(AgentConfig {
        agent,
        global_tags,
        inputs,
        outputs,
    })
}

fn influxdb_options(v: &V<'_>, r: &config::RawInfluxdb) -> Result<influxdb::InfluxdbOptions> {
    let mut urls = Vec::new();
    for u in r.urls.iter().flatten() {
        let s = u.get_ref();
        let ok = s.starts_with("http://") || (cfg!(feature = "tls") && s.starts_with("https://"));
        if !ok {
            let why = if s.starts_with("https://") {
                "https needs the agent built with the `tls` feature"
            } else {
                "expected http://host:port"
            };
            return Err(v.src.error_span(u, format!("unsupported url {s:?}: {why}")));
        }
        urls.push(s.clone());
    }
    if urls.is_empty() {
        urls.push("http://127.0.0.1:8086".into());
    }
    let gzip = match &r.content_encoding {
        None => false,
        Some(c) => match c.get_ref().as_str() {
            "gzip" => true,
            "" | "identity" => false,
            other => {
                return Err(v.src.error_span(
                    c,
                    format!("unknown content_encoding {other:?} (gzip or identity)"),
                ));
            }
        },
    };
    Ok(influxdb::InfluxdbOptions {
        urls,
        database: r.database.clone().unwrap_or_else(|| "telegraf".into()),
        retention_policy: r.retention_policy.clone().filter(|s| !s.is_empty()),
        write_consistency: r.write_consistency.clone().filter(|s| !s.is_empty()),
        token: r.token.clone().filter(|s| !s.is_empty()),
        username: r.username.clone().filter(|s| !s.is_empty()),
        password: r.password.clone(),
        timeout: v.duration(&r.timeout, Duration::from_secs(5))?,
        gzip,
        skip_database_creation: r.skip_database_creation.unwrap_or(false),
        user_agent: r
            .user_agent
            .clone()
            .unwrap_or_else(|| format!("tigk-agent/{}", env!("CARGO_PKG_VERSION"))),
        http_headers: r
            .http_headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        tls_ca: match &r.tls_ca {
            None => Vec::new(),
            Some(path) => read_ca(v, path)?,
        },
        insecure_skip_verify: r.insecure_skip_verify.unwrap_or(false),
    })
}

#[cfg(not(feature = "tls"))]
fn read_ca(v: &V<'_>, path: &Spanned<String>) -> Result<Vec<Vec<u8>>> {
    Err(v
        .src
        .error_span(path, "tls_ca needs the agent built with the `tls` feature"))
}

/// The certificates of a PEM file, as DER; an unreadable file or one without a
/// certificate is an error at the `tls_ca` line.
#[cfg(feature = "tls")]
fn read_ca(v: &V<'_>, path: &Spanned<String>) -> Result<Vec<Vec<u8>>> {
    let file = path.get_ref();
    let pem =
        std::fs::read(file).map_err(|e| v.src.error_span(path, format!("tls_ca {file:?}: {e}")))?;
    let certs: Vec<Vec<u8>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c.der().to_vec()),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(v
            .src
            .error_span(path, format!("tls_ca {file:?}: no PEM certificate in it")));
    }
    Ok(certs)
}

#[cfg(target_os = "linux")]
fn system_hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

#[cfg(not(target_os = "linux"))]
fn system_hostname() -> String {
    sysinfo::System::host_name().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        (k == "INFLUX_TOKEN").then(|| "tok".to_string())
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("10x"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn defaults_follow_telegraf() {
        let c = parse(
            "a.toml",
            "[agent]\nhostname = \"h1\"\n[[inputs.cpu]]\n[[outputs.file]]\n",
            env,
        )
        .expect("valid");
        assert_eq!(c.agent.interval, Duration::from_secs(10));
        assert_eq!(
            (c.agent.metric_batch_size, c.agent.metric_buffer_limit),
            (1000, 10_000)
        );
        assert_eq!(c.global_tags, vec![("host".to_string(), "h1".to_string())]);
        let InputKind::Cpu(o) = &c.inputs[0].kind else {
            panic!("cpu")
        };
        assert!(o.percpu && o.totalcpu && !o.collect_cpu_time && !o.report_active);
        assert!(matches!(&c.outputs[0].kind, OutputKind::File(f) if f.files == ["stdout"]));
    }

    #[test]
    fn full_config() {
        let text = r#"
[global_tags]
dc = "eu-1"
[agent]
interval = "5s"
flush_interval = "1s"
omit_hostname = true
buffer_strategy = "disk"
buffer_directory = "/var/lib/tigk-agent"
[[inputs.mem]]
interval = "30s"
fieldexclude = ["*_percent"]
tags = { role = "db" }
[[outputs.influxdb]]
urls = ["http://127.0.0.1:8086"]
database = "metrics"
token = "${INFLUX_TOKEN}"
content_encoding = "gzip"
timeout = "2s"
"#;
        let c = parse("a.toml", text, env).expect("valid");
        assert_eq!(c.global_tags, vec![("dc".to_string(), "eu-1".to_string())]);
        assert_eq!(c.inputs[0].interval, Duration::from_secs(30));
        assert_eq!(c.inputs[0].filter.fieldexclude, ["*_percent"]);
        let out = &c.outputs[0];
        let OutputKind::Influxdb(o) = &out.kind else {
            panic!("influxdb")
        };
        assert_eq!(
            (o.database.as_str(), o.token.as_deref(), o.gzip),
            ("metrics", Some("tok"), true)
        );
        assert_eq!(o.timeout, Duration::from_secs(2));
        assert!(
            matches!(&out.buffer, BufferStrategy::Disk(d) if d == Path::new("/var/lib/tigk-agent/influxdb-0"))
        );
    }

    #[test]
    fn sample_config_is_valid() {
        let c = parse("sample.toml", crate::SAMPLE_CONFIG, |_| None).expect("sample config");
        let names: Vec<_> = c.inputs.iter().map(|i| i.kind.name()).collect();
        assert_eq!(
            names,
            [
                "cpu",
                "mem",
                "swap",
                "system",
                "disk",
                "diskio",
                "processes",
                "kernel"
            ]
        );
    }

    fn err(text: &str) -> String {
        match parse("a.toml", text, env) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn bad_values_report_positions() {
        assert_eq!(
            err("[agent]\ninterval = \"10x\"\n[[outputs.file]]\n"),
            "a.toml:2:12: invalid duration \"10x\" (use e.g. \"10s\", \"500ms\")"
        );
        assert_eq!(
            err("[[outputs.influxdb]]\nurls = [\"udp://x:8089\"]\n"),
            "a.toml:2:9: unsupported url \"udp://x:8089\": expected http://host:port"
        );
        assert_eq!(
            err("[agent]\nbuffer_strategy = \"disk\"\n[[outputs.file]]\n"),
            "a.toml:2:19: buffer_strategy = \"disk\" needs buffer_directory"
        );
        assert_eq!(
            err("[agent]\nmetric_batch_size = 0\n[[outputs.file]]\n"),
            "a.toml:2:21: metric_batch_size must be positive"
        );
        assert_eq!(err("[[inputs.cpu]]\n"), "a.toml: no outputs configured");
    }
}
