//! Per-node validation after the graph is built (Kapacitor's `validate()` methods and
//! the checks its task start would do), so that bad tasks fail at define time.

use super::TickError;
use super::catalog::NodeKind;
use super::graph::{Arg, GraphNode, TaskGraph, TaskType};

type CResult<T> = Result<T, TickError>;

fn fail(n: &GraphNode, msg: impl std::fmt::Display) -> TickError {
    TickError::at(n.pos, format!("{}: {msg}", n.name()))
}

fn has(n: &GraphNode, name: &str) -> bool {
    n.prop(name).is_some()
}

fn arg_count(n: &GraphNode, name: &str) -> usize {
    n.props(name).map(|p| p.args.len()).sum()
}

fn check_dims(n: &GraphNode, args: &[Arg], allow_time: bool) -> CResult<()> {
    let mut times = 0;
    for a in args {
        match a {
            Arg::String(_) | Arg::Star => {}
            Arg::TimeDimension { interval, .. } if allow_time => {
                times += 1;
                if *interval <= 0 {
                    return Err(fail(n, "group by time interval must be positive"));
                }
            }
            other => {
                return Err(fail(
                    n,
                    format!("invalid dimension {other:?}: use tag names in single quotes or *"),
                ));
            }
        }
    }
    if times > 1 {
        return Err(fail(n, "only one time dimension is allowed in groupBy"));
    }
    Ok(())
}

/// Validates every reachable node.
pub(crate) fn validate(g: &TaskGraph) -> CResult<()> {
    for id in g.topo_order() {
        let n = &g.nodes[id];
        match n.kind {
            NodeKind::Query => {
                let every = n
                    .prop("every")
                    .is_some_and(|p| !matches!(p.args.first(), Some(Arg::Duration(0))));
                match (every, has(n, "cron")) {
                    (true, true) => {
                        return Err(fail(n, "must not set both 'every' and 'cron' properties"));
                    }
                    (false, false) => return Err(fail(n, "must define one of 'every' or 'cron'")),
                    _ => {}
                }
                if let Some(p) = n.prop("fill") {
                    match p.args.first() {
                        Some(Arg::String(s))
                            if ["null", "none", "previous", "linear"].contains(&s.as_str()) => {}
                        Some(Arg::Int(_) | Arg::Float(_)) => {}
                        Some(Arg::String(s)) => {
                            return Err(fail(n, format!("unexpected fill option {s}")));
                        }
                        _ => {
                            return Err(fail(
                                n,
                                "fill must be null, none, previous, linear or a number",
                            ));
                        }
                    }
                }
                for p in n.props("groupBy") {
                    check_dims(n, &p.args, true)?;
                }
            }
            NodeKind::From => {
                for p in n.props("groupBy") {
                    check_dims(n, &p.args, false)?;
                }
            }
            NodeKind::GroupBy => check_dims(n, &n.args, false)?,
            NodeKind::Eval => {
                let lambdas = n.args.len();
                if arg_count(n, "as") != lambdas {
                    return Err(fail(
                        n,
                        "must provide one name per expression via the 'As' property",
                    ));
                }
            }
            NodeKind::Join => {
                let names = arg_count(n, "as");
                if names == 0 {
                    return Err(fail(
                        n,
                        "a call to join.as() is required to specify the output stream prefixes.",
                    ));
                }
                if names != n.parents.len() {
                    return Err(fail(
                        n,
                        "number of prefixes specified by join.as() must match the number of joined streams",
                    ));
                }
            }
            NodeKind::Sample
                if !matches!(n.args.first(), Some(Arg::Int(c)) if *c > 0)
                    && !matches!(n.args.first(), Some(Arg::Duration(d)) if *d > 0) =>
            {
                return Err(fail(n, "sample rate must be a positive count or duration"));
            }
            NodeKind::Percentile => {
                if let Some(Arg::Float(p)) = n.args.get(1)
                    && !(0.0..=100.0).contains(p)
                {
                    return Err(fail(n, "percentile must be between 0 and 100"));
                }
            }
            NodeKind::Top | NodeKind::Bottom => {
                if matches!(n.args.first(), Some(Arg::Int(c)) if *c <= 0) {
                    return Err(fail(n, "the number of points to select must be positive"));
                }
            }
            NodeKind::Barrier => match (has(n, "idle"), has(n, "period")) {
                (true, true) => return Err(fail(n, "cannot specify both idle and period")),
                (false, false) => return Err(fail(n, "must specify either idle or period")),
                _ => {}
            },
            NodeKind::Alert => validate_alert(n)?,
            NodeKind::InfluxDBOut if g.task_type == TaskType::Stream => not_self_feeding(g, n)?,
            _ => {}
        }
    }
    Ok(())
}

fn str_arg(n: &GraphNode, name: &str) -> Option<String> {
    match n.prop(name)?.args.first()? {
        Arg::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// Refuses a stream task whose `influxDBOut` writes where one of its own `from()`
/// nodes reads: every point written would come back as input, for ever (Kapacitor runs
/// such a task). An unnamed output retention policy is taken as `autogen`, the default
/// policy of a new database. Loops this cannot see (two tasks feeding each other, a
/// default policy renamed) are cut at run time: the engine does not feed a task the
/// points its own `influxDBOut` wrote, directly or through other tasks.
fn not_self_feeding(g: &TaskGraph, out: &GraphNode) -> CResult<()> {
    let Some(db) = str_arg(out, "database") else {
        return Ok(());
    };
    let rp = str_arg(out, "retentionPolicy").unwrap_or_else(|| "autogen".into());
    if !g.dbrps.iter().any(|d| d.db == db && d.rp == rp) {
        return Ok(());
    }
    let measurement = str_arg(out, "measurement");
    // The from() nodes upstream of the output.
    let mut seen = vec![false; g.nodes.len()];
    let mut stack = vec![out.id];
    while let Some(id) = stack.pop() {
        let Some(n) = g.nodes.get(id) else { continue };
        if seen.get(id).copied().unwrap_or(true) {
            continue;
        }
        seen[id] = true;
        stack.extend(n.parents.iter().copied());
        if n.kind != NodeKind::From {
            continue;
        }
        let reads_db = str_arg(n, "database").is_none_or(|d| d == db);
        let reads_rp = str_arg(n, "retentionPolicy").is_none_or(|r| r == rp);
        let from_m = str_arg(n, "measurement");
        // Without .measurement() the output keeps the input's name.
        let reads_m = match (&measurement, &from_m) {
            (None, _) | (Some(_), None) => true,
            (Some(o), Some(f)) => o == f,
        };
        if reads_db && reads_rp && reads_m {
            let what = measurement.or(from_m).unwrap_or_else(|| "its input".into());
            return Err(fail(
                out,
                format!(
                    "writes {what} into \"{db}\".\"{rp}\", which {} reads: the task would \
                     feed itself; write to another measurement or retention policy",
                    n.name()
                ),
            ));
        }
    }
    Ok(())
}

fn validate_alert(n: &GraphNode) -> CResult<()> {
    for p in n.props("flapping") {
        if let [Arg::Float(low), Arg::Float(high)] = p.args.as_slice()
            && (!(0.0..=1.0).contains(low) || !(0.0..=1.0).contains(high) || low > high)
        {
            return Err(fail(
                n,
                format!(
                    "alert flap thresholds are percentages and should be between 0 and 1, with low <= high: got low {low} high {high}"
                ),
            ));
        }
    }
    for p in n.props("post") {
        for h in p.sub.iter().filter(|s| s.name == "header") {
            if let Some(Arg::String(k)) = h.args.first()
                && k.eq_ignore_ascii_case("authenticate")
            {
                return Err(fail(n, "invalid post: cannot set 'authenticate' header"));
            }
        }
        if p.args.is_empty() && !p.sub.iter().any(|s| s.name == "endpoint") {
            return Err(fail(n, "invalid post: needs a URL or an .endpoint()"));
        }
    }
    for p in n.props("log") {
        if let Some(Arg::String(path)) = p.args.first()
            && !path.starts_with('/')
        {
            return Err(fail(
                n,
                format!("alert log path must be absolute: {path:?}"),
            ));
        }
    }
    Ok(())
}
