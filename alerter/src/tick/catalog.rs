//! The node catalogue: which nodes exist, their chaining methods, and their property
//! methods with Kapacitor's Go signatures (used for its reflection-style errors).

/// Kinds of pipeline nodes tigk can build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    Stream,
    Batch,
    From,
    Query,
    Where,
    GroupBy,
    Window,
    Eval,
    Default,
    Delete,
    Mean,
    Sum,
    Count,
    Min,
    Max,
    First,
    Last,
    Median,
    Mode,
    Spread,
    Stddev,
    Percentile,
    Distinct,
    Top,
    Bottom,
    Derivative,
    Difference,
    Elapsed,
    CumulativeSum,
    MovingAverage,
    StateDuration,
    StateCount,
    ChangeDetect,
    Shift,
    Sample,
    Union,
    Join,
    Barrier,
    Stats,
    Log,
    HttpOut,
    HttpPost,
    InfluxDBOut,
    Alert,
    /// Added by `stats`/`deadman` under a source with no children, as Kapacitor does.
    NoOp,
}

/// What travels along an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeType {
    /// Nothing (the batch source's input).
    None,
    /// Points, one at a time.
    Stream,
    /// Batches of points.
    Batch,
}

impl NodeKind {
    /// The node's `desc` in Kapacitor: the prefix of its name in DOT and stats.
    pub fn desc(self) -> &'static str {
        use NodeKind::*;
        match self {
            Stream => "stream",
            Batch => "batch",
            From => "from",
            Query => "query",
            Where => "where",
            GroupBy => "groupby",
            Window => "window",
            Eval => "eval",
            Default => "default",
            Delete => "delete",
            Mean => "mean",
            Sum => "sum",
            Count => "count",
            Min => "min",
            Max => "max",
            First => "first",
            Last => "last",
            Median => "median",
            Mode => "mode",
            Spread => "spread",
            Stddev => "stddev",
            Percentile => "percentile",
            Distinct => "distinct",
            Top => "top",
            Bottom => "bottom",
            Derivative => "derivative",
            Difference => "difference",
            Elapsed => "elapsed",
            CumulativeSum => "cumulativeSum",
            MovingAverage => "movingAverage",
            StateDuration => "state_duration",
            StateCount => "state_count",
            ChangeDetect => "changeDetect",
            Shift => "shift",
            Sample => "sample",
            Union => "union",
            Join => "join",
            Barrier => "barrier",
            Stats => "stats",
            Log => "log",
            HttpOut => "http_out",
            HttpPost => "http_post",
            InfluxDBOut => "influxdb_out",
            Alert => "alert",
            NoOp => "noop",
        }
    }

    /// The Go type Kapacitor prints in errors (`%T`).
    pub fn go_type(self) -> &'static str {
        use NodeKind::*;
        match self {
            Stream => "*pipeline.StreamNode",
            Batch => "*pipeline.BatchNode",
            From => "*pipeline.FromNode",
            Query => "*pipeline.QueryNode",
            Where => "*pipeline.WhereNode",
            GroupBy => "*pipeline.GroupByNode",
            Window => "*pipeline.WindowNode",
            Eval => "*pipeline.EvalNode",
            Default => "*pipeline.DefaultNode",
            Delete => "*pipeline.DeleteNode",
            Derivative => "*pipeline.DerivativeNode",
            StateDuration => "*pipeline.StateDurationNode",
            StateCount => "*pipeline.StateCountNode",
            ChangeDetect => "*pipeline.ChangeDetectNode",
            Shift => "*pipeline.ShiftNode",
            Sample => "*pipeline.SampleNode",
            Union => "*pipeline.UnionNode",
            Join => "*pipeline.JoinNode",
            Barrier => "*pipeline.BarrierNode",
            Stats => "*pipeline.StatsNode",
            Log => "*pipeline.LogNode",
            HttpOut => "*pipeline.HTTPOutNode",
            HttpPost => "*pipeline.HTTPPostNode",
            InfluxDBOut => "*pipeline.InfluxDBOutNode",
            Alert => "*pipeline.AlertNode",
            NoOp => "*pipeline.NoOpNode",
            _ => "*pipeline.InfluxQLNode",
        }
    }

    /// Whether this is one of the InfluxQL function nodes.
    pub fn is_influxql(self) -> bool {
        self.go_type() == "*pipeline.InfluxQLNode"
    }
}

/// Go parameter types of property and chaining methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Str,
    Int,
    Float,
    Bool,
    Dur,
    Lambda,
    Any,
    Node,
}

impl Ty {
    /// Go's name for the type.
    pub fn go_name(self) -> &'static str {
        match self {
            Ty::Str => "string",
            Ty::Int => "int64",
            Ty::Float => "float64",
            Ty::Bool => "bool",
            Ty::Dur => "time.Duration",
            Ty::Lambda => "*ast.LambdaNode",
            Ty::Any => "interface {}",
            Ty::Node => "pipeline.Node",
        }
    }
}

/// How a property is set: a struct field (exactly one argument, assigned) or a method.
#[derive(Debug, Clone, Copy)]
pub enum Sig {
    Field(Ty),
    Method(&'static [Ty], Option<Ty>),
}

/// Alert handlers tigk implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    Post,
    Tcp,
    Email,
    Exec,
    Log,
    Slack,
}

impl Handler {
    /// The Go type of the handler object.
    pub fn go_type(self) -> &'static str {
        match self {
            Handler::Post => "*pipeline.AlertHTTPPostHandler",
            Handler::Tcp => "*pipeline.TcpHandler",
            Handler::Email => "*pipeline.EmailHandler",
            Handler::Exec => "*pipeline.ExecHandler",
            Handler::Log => "*pipeline.LogHandler",
            Handler::Slack => "*pipeline.SlackHandler",
        }
    }

    pub(crate) fn props(self) -> &'static [Prop] {
        match self {
            Handler::Post => POST_HANDLER,
            Handler::Email => EMAIL_HANDLER,
            Handler::Log => LOG_HANDLER,
            Handler::Slack => SLACK_HANDLER,
            Handler::Tcp | Handler::Exec => &[],
        }
    }
}

/// What a property method returns: the same object, the alert's data, or a handler.
#[derive(Debug, Clone, Copy)]
pub enum Ret {
    Same,
    AlertData,
    Handler(Handler),
}

/// A property method.
#[derive(Debug, Clone, Copy)]
pub struct Prop {
    pub name: &'static str,
    pub sig: Sig,
    pub ret: Ret,
}

const fn f(name: &'static str, ty: Ty) -> Prop {
    Prop {
        name,
        sig: Sig::Field(ty),
        ret: Ret::Same,
    }
}
const fn m(name: &'static str, fixed: &'static [Ty], var: Option<Ty>) -> Prop {
    Prop {
        name,
        sig: Sig::Method(fixed, var),
        ret: Ret::Same,
    }
}
const fn md(name: &'static str, fixed: &'static [Ty], var: Option<Ty>) -> Prop {
    Prop {
        name,
        sig: Sig::Method(fixed, var),
        ret: Ret::AlertData,
    }
}
const fn h(name: &'static str, fixed: &'static [Ty], var: Option<Ty>, hd: Handler) -> Prop {
    Prop {
        name,
        sig: Sig::Method(fixed, var),
        ret: Ret::Handler(hd),
    }
}

use Ty::*;

const FROM: &[Prop] = &[
    f("database", Str),
    f("retentionPolicy", Str),
    f("measurement", Str),
    m("where", &[Lambda], None),
    m("groupBy", &[], Some(Any)),
    m("groupByMeasurement", &[], None),
    f("truncate", Dur),
    f("round", Dur),
];
const QUERY: &[Prop] = &[
    f("period", Dur),
    f("every", Dur),
    m("align", &[], None),
    m("alignGroup", &[], None),
    f("cron", Str),
    f("offset", Dur),
    m("groupBy", &[], Some(Any)),
    m("groupByMeasurement", &[], None),
    f("fill", Any),
];
const GROUP_BY: &[Prop] = &[m("byMeasurement", &[], None), m("exclude", &[], Some(Str))];
const WINDOW: &[Prop] = &[
    f("period", Dur),
    f("every", Dur),
    m("align", &[], None),
    m("fillPeriod", &[], None),
    f("periodCount", Int),
    f("everyCount", Int),
];
const EVAL: &[Prop] = &[
    m("as", &[], Some(Str)),
    m("tags", &[], Some(Str)),
    m("keep", &[], Some(Str)),
    m("quiet", &[], None),
];
const DEFAULT: &[Prop] = &[m("field", &[Str, Any], None), m("tag", &[Str, Str], None)];
const DELETE: &[Prop] = &[m("field", &[Str], None), m("tag", &[Str], None)];
const INFLUXQL: &[Prop] = &[f("as", Str), m("usePointTimes", &[], None)];
const DERIVATIVE: &[Prop] = &[f("unit", Dur), m("nonNegative", &[], None), f("as", Str)];
const STATE_DURATION: &[Prop] = &[f("unit", Dur), f("as", Str)];
const STATE_COUNT: &[Prop] = &[f("as", Str)];
const UNION: &[Prop] = &[f("rename", Str)];
const JOIN: &[Prop] = &[
    m("as", &[], Some(Str)),
    m("on", &[], Some(Str)),
    f("tolerance", Dur),
    f("fill", Any),
    f("delimiter", Str),
    f("streamName", Str),
];
const BARRIER: &[Prop] = &[
    m("idle", &[Dur], None),
    m("period", &[Dur], None),
    f("delete", Bool),
];
const STATS: &[Prop] = &[m("align", &[], None)];
const LOG: &[Prop] = &[f("level", Str), f("prefix", Str)];
const HTTP_POST: &[Prop] = &[
    m("endpoint", &[Str], None),
    m("header", &[Str, Str], None),
    m("captureResponse", &[], None),
    f("timeout", Dur),
    f("codeField", Str),
];
const INFLUXDB_OUT: &[Prop] = &[
    f("database", Str),
    f("retentionPolicy", Str),
    f("measurement", Str),
    m("tag", &[Str, Str], None),
    f("precision", Str),
    f("buffer", Int),
    f("flushInterval", Dur),
    m("create", &[], None),
];
/// Alert properties (on `AlertNodeData`, so available on every handler too).
pub(crate) const ALERT: &[Prop] = &[
    f("topic", Str),
    f("category", Str),
    f("id", Str),
    f("message", Str),
    f("details", Str),
    f("info", Lambda),
    f("warn", Lambda),
    f("crit", Lambda),
    f("infoReset", Lambda),
    f("warnReset", Lambda),
    f("critReset", Lambda),
    f("history", Int),
    f("levelTag", Str),
    f("levelField", Str),
    f("messageField", Str),
    f("durationField", Str),
    f("idTag", Str),
    f("idField", Str),
    md("all", &[], None),
    md("noRecoveries", &[], None),
    md("stateChangesOnly", &[], Some(Dur)),
    md("flapping", &[Float, Float], None),
    md("inhibit", &[Str], Some(Str)),
    h("post", &[], Some(Str), Handler::Post),
    h("tcp", &[Str], None, Handler::Tcp),
    h("email", &[], Some(Str), Handler::Email),
    h("exec", &[Str], Some(Str), Handler::Exec),
    h("log", &[Str], None, Handler::Log),
    h("slack", &[], None, Handler::Slack),
];
const POST_HANDLER: &[Prop] = &[
    f("endpoint", Str),
    m("header", &[Str, Str], None),
    m("captureResponse", &[], None),
    f("timeout", Dur),
];
const EMAIL_HANDLER: &[Prop] = &[m("to", &[], Some(Str))];
const LOG_HANDLER: &[Prop] = &[f("mode", Int)];
const SLACK_HANDLER: &[Prop] = &[
    f("workspace", Str),
    f("channel", Str),
    f("username", Str),
    f("iconEmoji", Str),
];

/// Property methods of a node kind.
pub(crate) fn node_props(kind: NodeKind) -> &'static [Prop] {
    use NodeKind as K;
    match kind {
        K::From => FROM,
        K::Query => QUERY,
        K::GroupBy => GROUP_BY,
        K::Window => WINDOW,
        K::Eval => EVAL,
        K::Default => DEFAULT,
        K::Delete => DELETE,
        K::Derivative => DERIVATIVE,
        K::StateDuration => STATE_DURATION,
        K::StateCount => STATE_COUNT,
        K::Union => UNION,
        K::Join => JOIN,
        K::Barrier => BARRIER,
        K::Stats => STATS,
        K::Log => LOG,
        K::HttpPost => HTTP_POST,
        K::InfluxDBOut => INFLUXDB_OUT,
        K::Alert => ALERT,
        k if k.is_influxql() => INFLUXQL,
        _ => &[],
    }
}

/// What a chaining method builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builds {
    Node(NodeKind),
    /// `deadman(threshold, interval[, lambda...])`: stats → derivative → alert.
    Deadman,
}

/// A chaining method.
#[derive(Debug, Clone, Copy)]
pub struct Chain {
    pub name: &'static str,
    pub builds: Builds,
    pub fixed: &'static [Ty],
    pub variadic: Option<Ty>,
}

const fn c(
    name: &'static str,
    kind: NodeKind,
    fixed: &'static [Ty],
    variadic: Option<Ty>,
) -> Chain {
    Chain {
        name,
        builds: Builds::Node(kind),
        fixed,
        variadic,
    }
}

const DEADMAN: Chain = Chain {
    name: "deadman",
    builds: Builds::Deadman,
    fixed: &[Float, Dur],
    variadic: Some(Lambda),
};

/// Chaining methods of every node but the two sources.
const CHAIN_NODE: &[Chain] = {
    use NodeKind as K;
    &[
        c("where", K::Where, &[Lambda], None),
        c("httpOut", K::HttpOut, &[Str], None),
        c("httpPost", K::HttpPost, &[], Some(Str)),
        c("influxDBOut", K::InfluxDBOut, &[], None),
        c("alert", K::Alert, &[], None),
        c("union", K::Union, &[], Some(Node)),
        c("join", K::Join, &[], Some(Node)),
        c("eval", K::Eval, &[], Some(Lambda)),
        c("groupBy", K::GroupBy, &[], Some(Any)),
        c("window", K::Window, &[], None),
        c("barrier", K::Barrier, &[], None),
        c("sample", K::Sample, &[Any], None),
        c("derivative", K::Derivative, &[Str], None),
        c("changeDetect", K::ChangeDetect, &[], Some(Str)),
        c("shift", K::Shift, &[Dur], None),
        c("log", K::Log, &[], None),
        c("default", K::Default, &[], None),
        c("delete", K::Delete, &[], None),
        c("stateDuration", K::StateDuration, &[Lambda], None),
        c("stateCount", K::StateCount, &[Lambda], None),
        c("stats", K::Stats, &[Dur], None),
        DEADMAN,
        c("mean", K::Mean, &[Str], None),
        c("sum", K::Sum, &[Str], None),
        c("count", K::Count, &[Str], None),
        c("min", K::Min, &[Str], None),
        c("max", K::Max, &[Str], None),
        c("first", K::First, &[Str], None),
        c("last", K::Last, &[Str], None),
        c("median", K::Median, &[Str], None),
        c("mode", K::Mode, &[Str], None),
        c("spread", K::Spread, &[Str], None),
        c("stddev", K::Stddev, &[Str], None),
        c("percentile", K::Percentile, &[Str, Float], None),
        c("distinct", K::Distinct, &[Str], None),
        c("top", K::Top, &[Int, Str], Some(Str)),
        c("bottom", K::Bottom, &[Int, Str], Some(Str)),
        c("difference", K::Difference, &[Str], None),
        c("elapsed", K::Elapsed, &[Str, Dur], None),
        c("cumulativeSum", K::CumulativeSum, &[Str], None),
        c("movingAverage", K::MovingAverage, &[Str, Int], None),
    ]
};
const STREAM_CHAINS: &[Chain] = &[
    c("from", NodeKind::From, &[], None),
    c("stats", NodeKind::Stats, &[Dur], None),
    DEADMAN,
];
const BATCH_CHAINS: &[Chain] = &[
    c("query", NodeKind::Query, &[Str], None),
    c("stats", NodeKind::Stats, &[Dur], None),
    DEADMAN,
];

/// Chaining methods available on a node kind.
pub(crate) fn node_chains(kind: NodeKind) -> &'static [Chain] {
    match kind {
        NodeKind::Stream => STREAM_CHAINS,
        NodeKind::Batch => BATCH_CHAINS,
        _ => CHAIN_NODE,
    }
}

/// Kapacitor chaining methods that tigk refuses.
pub(crate) const UNSUPPORTED_CHAINS: &[&str] = &[
    "flatten",
    "combine",
    "kapacitorLoopback",
    "k8sAutoscale",
    "swarmAutoscale",
    "ec2Autoscale",
    "sideload",
    "holtWinters",
    "holtWintersWithFit",
    "trickle",
    "queryFlux",
    "mapReduce",
];

/// Kapacitor property methods that tigk refuses, per object type.
pub(crate) fn unsupported_props(kind: Option<NodeKind>) -> &'static [&'static str] {
    const ALERT_HANDLERS: &[&str] = &[
        "victorOps",
        "pagerDuty",
        "pagerDuty2",
        "pushover",
        "sensu",
        "telegram",
        "hipChat",
        "alerta",
        "opsGenie",
        "opsGenie2",
        "talk",
        "mqtt",
        "snmpTrap",
        "kafka",
        "serviceNow",
        "bigPanda",
        "teams",
        "discord",
        "zenoss",
        "quiet",
    ];
    match kind {
        None | Some(NodeKind::Alert) => ALERT_HANDLERS,
        Some(NodeKind::Query) => &["cluster"],
        Some(NodeKind::InfluxDBOut) => &["cluster", "writeConsistency"],
        Some(NodeKind::From) | Some(NodeKind::Where) => &["quiet"],
        _ => &[],
    }
}
