//! Configuration the alerter needs from the server: where log handlers may write,
//! which private addresses handlers may reach, and the server identity templates see.

use std::path::PathBuf;
use std::time::Duration;

/// Alerter configuration.
#[derive(Debug, Clone)]
pub struct Options {
    /// `.log(path)` handlers must write inside this directory. `None` refuses every
    /// log handler (there is no safe default).
    pub alert_dir: Option<PathBuf>,
    /// Hosts, IPs or CIDRs (`10.0.0.0/8`, `hooks.internal`, `127.0.0.1`) that post and tcp
    /// handlers may reach although they are private, loopback or link-local.
    pub allowed_addresses: Vec<String>,
    /// Timeout of one delivery (connect + write + response) when the handler sets none.
    pub delivery_timeout: Duration,
    /// Events waiting per handler before new ones are dropped (and counted).
    pub handler_queue: usize,
    /// Accept handlers without checking paths and addresses (offline test runs, which
    /// never deliver).
    pub skip_handler_checks: bool,
    /// `.ServerInfo.Hostname` in templates.
    pub hostname: String,
    /// `.ServerInfo.ClusterID`.
    pub cluster_id: String,
    /// `.ServerInfo.ServerID`.
    pub server_id: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            alert_dir: None,
            allowed_addresses: Vec::new(),
            delivery_timeout: Duration::from_secs(10),
            handler_queue: 1000,
            skip_handler_checks: false,
            hostname: "localhost".into(),
            cluster_id: String::new(),
            server_id: String::new(),
        }
    }
}
