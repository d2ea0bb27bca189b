//! The two seed tasks of `tigk up` (tigk/src/commands/up.rs), as tests define them: `LOG`
//! stands for the log file, and the batch task runs every second instead of every five
//! minutes.

/// The seed stream task; every point below 70 % idle is a CRITICAL event.
pub const STREAM_TASK: &str = r#"dbrp "telegraf"."autogen"
stream
    |from()
        .measurement('cpu')
    |alert()
        .crit(lambda: int("usage_idle") <  70)
        .log('LOG')
"#;

/// The seed batch task, run every second.
pub const BATCH_TASK: &str = r#"dbrp "telegraf"."autogen"
batch
    |query('''
        SELECT mean(usage_idle)
        FROM "telegraf"."autogen"."cpu"
    ''')
        .period(5m)
        .every(1s)
        .groupBy(time(1m), 'cpu')
    |alert()
        .crit(lambda: "mean" < 70)
        .log('LOG')
"#;
