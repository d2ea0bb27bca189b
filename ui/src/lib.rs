//! tigk web UI: dashboards, hosts, alert rules.
