//! A task's pipeline drawn on the server: Kapacitor's DOT (as `kapacitor show` prints it)
//! parsed into nodes and edges, laid out in rows by depth, and written as SVG with each
//! node's stats. No graphviz: pipelines are small trees and joins.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::web::html_escape;

/// Nodes (in first-seen order) and edges with their processed counts.
#[derive(Debug, Default, PartialEq)]
pub struct Dot {
    pub nodes: Vec<String>,
    pub edges: Vec<(String, String, Option<i64>)>,
}

fn node_name(s: &str) -> &str {
    let s = s.trim();
    let end = s
        .find(|c: char| c.is_whitespace() || c == '[' || c == ';')
        .unwrap_or(s.len());
    &s[..end]
}

fn attr(s: &str, key: &str) -> Option<i64> {
    let start = s.find(&format!("{key}=\""))? + key.len() + 2;
    let rest = &s[start..];
    rest[..rest.find('"')?].parse().ok()
}

/// Parses the subset of DOT the alerter writes.
pub fn parse_dot(dot: &str) -> Dot {
    let mut d = Dot::default();
    let add = |d: &mut Dot, n: &str| {
        if !n.is_empty() && !d.nodes.iter().any(|x| x == n) {
            d.nodes.push(n.to_string());
        }
    };
    for line in dot.lines().map(str::trim) {
        if line.starts_with("digraph") || line.starts_with("graph ") || line == "}" {
            continue;
        }
        if let Some((from, rest)) = line.split_once("->") {
            let (from, to) = (node_name(from), node_name(rest));
            add(&mut d, from);
            add(&mut d, to);
            d.edges
                .push((from.to_string(), to.to_string(), attr(rest, "processed")));
        } else {
            add(&mut d, node_name(line));
        }
    }
    d
}

const W: i64 = 190;
const H: i64 = 58;
const GAP_X: i64 = 30;
const GAP_Y: i64 = 46;

/// The graph as SVG, with `stats` (per node name) printed in each box.
pub fn to_svg(dot: &Dot, stats: &BTreeMap<String, BTreeMap<String, i64>>) -> String {
    // Depth = longest path from a source; edges go from lower to higher depth.
    let mut depth: BTreeMap<&str, i64> = dot.nodes.iter().map(|n| (n.as_str(), 0)).collect();
    for _ in 0..dot.nodes.len() {
        let mut changed = false;
        for (a, b, _) in &dot.edges {
            let da = depth.get(a.as_str()).copied().unwrap_or(0);
            if let Some(db) = depth.get_mut(b.as_str())
                && *db < da + 1
            {
                *db = da + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut rows: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for n in &dot.nodes {
        rows.entry(depth.get(n.as_str()).copied().unwrap_or(0))
            .or_default()
            .push(n);
    }
    let widest = rows.values().map(|r| r.len() as i64).max().unwrap_or(1);
    let width = widest * (W + GAP_X) + GAP_X;
    let height = rows.len() as i64 * (H + GAP_Y) + GAP_Y / 2;
    let mut pos: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for (i, (_, row)) in rows.iter().enumerate() {
        let offset = (width - row.len() as i64 * (W + GAP_X) + GAP_X) / 2;
        for (j, n) in row.iter().enumerate() {
            pos.insert(
                n,
                (
                    offset + j as i64 * (W + GAP_X),
                    GAP_Y / 2 + i as i64 * (H + GAP_Y),
                ),
            );
        }
    }
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"pipeline\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"task pipeline\">"
    );
    for (a, b, processed) in &dot.edges {
        let (Some(&(ax, ay)), Some(&(bx, by))) = (pos.get(a.as_str()), pos.get(b.as_str())) else {
            continue;
        };
        let (x1, y1, x2, y2) = (ax + W / 2, ay + H, bx + W / 2, by);
        let _ = write!(
            s,
            "<line class=\"edge\" x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" stroke=\"currentColor\" stroke-width=\"1.5\"/>\
             <polygon points=\"{x2},{y2} {},{} {},{}\" fill=\"currentColor\"/>",
            x2 - 5,
            y2 - 9,
            x2 + 5,
            y2 - 9
        );
        if let Some(p) = processed {
            let _ = write!(
                s,
                "<text class=\"edge-label\" x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"currentColor\">{p}</text>",
                (x1 + x2) / 2 + 6,
                (y1 + y2) / 2 + 4
            );
        }
    }
    for n in &dot.nodes {
        let Some(&(x, y)) = pos.get(n.as_str()) else {
            continue;
        };
        let st = stats.get(n);
        let get = |k: &str| st.and_then(|m| m.get(k)).copied();
        let errors = get("errors").unwrap_or(0);
        let class = if errors > 0 {
            "node node-error"
        } else {
            "node"
        };
        let _ = write!(
            s,
            "<g class=\"{class}\" data-node=\"{name}\"><rect x=\"{x}\" y=\"{y}\" width=\"{W}\" height=\"{H}\" rx=\"6\" fill=\"none\" stroke=\"currentColor\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"13\" font-weight=\"bold\" fill=\"currentColor\">{name}</text>",
            x + 8,
            y + 17,
            name = html_escape(n)
        );
        let mut lines = Vec::new();
        if st.is_some() {
            lines.push(format!(
                "in {} · out {}",
                get("collected").unwrap_or(0),
                get("emitted").unwrap_or(0)
            ));
            let mut l = format!("errors {errors}");
            if let Some(a) = get("alerts_triggered") {
                l.push_str(&format!(" · alerts {a}"));
            }
            lines.push(l);
        }
        for (i, l) in lines.iter().enumerate() {
            let _ = write!(
                s,
                "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"currentColor\">{}</text>",
                x + 8,
                y + 34 + 14 * i as i64,
                html_escape(l)
            );
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXECUTING: &str = "digraph cpu {\ngraph [throughput=\"0.00 points/s\"];\nstream0 [avg_exec_time_ns=\"0s\" errors=\"0\" working_cardinality=\"0\" ];\nstream0 -> from1 [processed=\"12\"];\nfrom1 [avg_exec_time_ns=\"0s\" errors=\"0\" ];\nfrom1 -> alert2 [processed=\"10\"];\nalert2 [alerts_triggered=\"3\" errors=\"1\" ];\n}";

    #[test]
    fn parses_executing_and_plain_dot() {
        let d = parse_dot(EXECUTING);
        assert_eq!(d.nodes, ["stream0", "from1", "alert2"]);
        assert_eq!(
            d.edges,
            [
                ("stream0".into(), "from1".into(), Some(12)),
                ("from1".into(), "alert2".into(), Some(10))
            ]
        );
        let plain = parse_dot("digraph t {\nstream0 -> from1;\nfrom1 -> alert2;\n}");
        assert_eq!(plain.nodes, ["stream0", "from1", "alert2"]);
        assert_eq!(plain.edges[1], ("from1".into(), "alert2".into(), None));
    }

    #[test]
    fn svg_has_a_box_per_node_with_its_stats() {
        let mut stats = BTreeMap::new();
        stats.insert(
            "alert2".to_string(),
            BTreeMap::from([
                ("collected".to_string(), 10),
                ("emitted".to_string(), 3),
                ("errors".to_string(), 1),
                ("alerts_triggered".to_string(), 3),
            ]),
        );
        let svg = to_svg(&parse_dot(EXECUTING), &stats);
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("in 10 · out 3"));
        assert!(svg.contains("errors 1 · alerts 3"));
        assert!(svg.contains("node node-error"));
        assert!(svg.contains(">12</text>"));
    }

    #[test]
    fn a_join_puts_both_parents_above_it() {
        let d = parse_dot("digraph t {\na -> b;\na -> c;\nb -> d;\nc -> e;\ne -> d;\n}");
        let svg = to_svg(&d, &BTreeMap::new());
        // d is below e (longest path), so four rows.
        assert!(svg.contains(&format!("height=\"{}\"", 4 * (H + GAP_Y) + GAP_Y / 2)));
    }
}
