//! `[limits]`'s query limits and `[retention] default_duration` reach the running server.

mod support;

use support::{Server, post, query};

#[test]
fn configured_query_limits_and_default_retention_apply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("tigk.toml");
    std::fs::write(
        &config,
        "[auth]\nenabled = false\n[limits]\nmax_select_series = 1\n\
         [retention]\ndefault_duration = \"48h\"\n[monitor]\nstore_enabled = false\n",
    )
    .expect("config");
    let server = Server::start(
        &dir.path().join("data"),
        &["--config", config.to_str().expect("utf-8")],
    );
    query(&server, "", "CREATE DATABASE metrics");
    let rps = query(&server, "metrics", "SHOW RETENTION POLICIES");
    assert_eq!(
        rps["results"][0]["series"][0]["values"],
        serde_json::json!([["autogen", "48h0m0s", "24h0m0s", 1, true]]),
        "{rps}"
    );
    let (status, body) = post(
        &server.url("/write?db=metrics"),
        "text/plain",
        b"m,h=a v=1\nm,h=b v=2\n",
    )
    .expect("write");
    assert_eq!(status, 204, "{body}");
    let one = query(&server, "metrics", "SELECT v FROM m WHERE h = 'a'");
    assert!(one["results"][0]["error"].is_null(), "{one}");
    let both = query(&server, "metrics", "SELECT v FROM m");
    assert_eq!(
        both["results"][0]["error"], "max-select-series limit exceeded: (2/1)",
        "{both}"
    );
    // Without monitoring there is no _internal database.
    let dbs = query(&server, "", "SHOW DATABASES");
    assert!(!dbs.to_string().contains("_internal"), "{dbs}");
    server.stop();
}
