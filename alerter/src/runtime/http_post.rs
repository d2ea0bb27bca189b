//! `|httpPost(url)`: POSTs each point or batch as a JSON row and passes it on.
//!
//! Evaluation never waits on the network: the node only queues the request
//! ([`Post`]), and the engine delivers it apart (with the post handler's address guard
//! and timeout). So `.codeField()`, which needs the answer inside the task, is refused;
//! a failed post is logged with its status, as `.captureResponse()` asks.

use super::model::Msg;
use super::nodes::{invalid, strings};
use super::{Cx, Node};
use crate::alert::Series;
use crate::alert::handlers::{HandlerSpec, check_host_literal};
use crate::error::Error;
use crate::options::Options;
use crate::tick::{Arg, GraphNode};

/// A request an `httpPost` node wants sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    /// Where and how (a post handler's spec: URL, headers, timeout).
    pub spec: HandlerSpec,
    /// The JSON row.
    pub body: String,
}

/// The node.
pub(crate) struct HttpPost {
    spec: HandlerSpec,
    posted: i64,
}

impl HttpPost {
    pub(crate) fn new(n: &GraphNode, opts: &Options) -> Result<HttpPost, Error> {
        for p in ["endpoint", "codeField"] {
            if n.prop(p).is_some() {
                return Err(Error::Unsupported(format!(
                    "{}: httpPost .{p}() is not supported yet",
                    n.name()
                )));
            }
        }
        let urls = strings(&n.args);
        let url = match urls.as_slice() {
            [u] => u.clone(),
            [] => return Err(invalid(n, "httpPost needs a URL")),
            _ => return Err(invalid(n, "httpPost expects 0 or 1 arguments")),
        };
        let (host, port, path) =
            crate::alert::notify::url_host_port(&url).map_err(|e| invalid(n, e))?;
        if !opts.skip_handler_checks {
            check_host_literal(&host, opts).map_err(|e| invalid(n, e))?;
        }
        let mut headers = Vec::new();
        for p in n.props("header") {
            if let [Arg::String(k), Arg::String(v)] = p.args.as_slice() {
                if k.contains(['\r', '\n', ':']) || v.contains(['\r', '\n']) {
                    return Err(invalid(n, format!("invalid header {k:?}")));
                }
                if k.eq_ignore_ascii_case("authenticate") {
                    return Err(invalid(n, "cannot set 'authenticate' header"));
                }
                headers.push((k.clone(), v.clone()));
            }
        }
        let timeout = match n.prop("timeout").and_then(|p| p.args.first()) {
            Some(Arg::Duration(d)) if *d > 0 => Some(std::time::Duration::from_nanos(*d as u64)),
            _ => None,
        };
        Ok(HttpPost {
            spec: HandlerSpec::Post {
                url,
                host,
                port,
                path,
                headers,
                timeout,
            },
            posted: 0,
        })
    }
}

impl Node for HttpPost {
    fn process(&mut self, msg: Msg, cx: &mut Cx<'_>, out: &mut Vec<Msg>) {
        let series = match &msg {
            Msg::Point(p) => {
                Series::from_rows(&p.name, &p.tags, std::iter::once((p.time, &p.fields)))
            }
            Msg::Batch(b) => Series::from_rows(
                &b.name,
                &b.tags,
                b.points.iter().map(|p| (p.time, &p.fields)),
            ),
        };
        let mut body = String::new();
        series.json(&mut body);
        self.posted += 1;
        cx.posts.push(Post {
            spec: self.spec.clone(),
            body,
        });
        out.push(msg);
    }

    fn stats(&self) -> Vec<(&'static str, i64)> {
        vec![("posts_queued", self.posted)]
    }
}
