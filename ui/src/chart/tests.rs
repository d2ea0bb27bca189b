use super::*;

const MIN: i64 = 60_000_000_000;

/// plotters writes each text on its own line inside `<text …>`.
fn has_text(svg: &str, text: &str) -> bool {
    svg.contains(&format!(">\n{text}\n<")) || svg.contains(&format!(">{text}\n<"))
}

fn ramp(n: usize, from: i64, step: i64) -> Vec<(i64, Option<f64>)> {
    (0..n)
        .map(|i| {
            (
                from + i as i64 * step,
                Some((i as f64 / 1000.0).sin() * 50.0 + 50.0),
            )
        })
        .collect()
}

#[test]
fn a_million_points_stay_under_60_kb() {
    let n = 1_000_000;
    let points = ramp(n, 0, 1_000_000);
    let spec = ChartSpec::new(1000, 300, 0, n as i64 * 1_000_000);
    let svg = render(
        &spec,
        &[Series {
            name: "cpu".into(),
            points,
        }],
    );
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.len() < 60 * 1024, "svg is {} bytes", svg.len());
    assert!(svg.contains("<polyline"));
}

#[test]
fn a_hundred_hosts_share_the_size_budget() {
    // The agent overview's "by host" panels over 24 h: 100 series of 288 buckets, noisy
    // enough that every pixel column keeps a min and a max.
    let day = 86_400_000_000_000i64;
    let series: Vec<Series> = (0..100)
        .map(|h| Series {
            name: format!("host=host-{h:03}"),
            points: (0..2880)
                .map(|i| {
                    let v = 20.0 + h as f64 * 0.5 + ((i * 7919 + h * 31) % 97) as f64 * 0.3;
                    (i * day / 2880, Some(v))
                })
                .collect(),
        })
        .collect();
    let spec = ChartSpec::new(560, 320, 0, day);
    let svg = render(&spec, &series);
    assert!(svg.len() < 60 * 1024, "svg is {} bytes", svg.len());
    // Axes and grid lines are polylines too.
    assert!(
        svg.matches("<polyline").count() >= 100,
        "every host is drawn"
    );
    assert!(
        svg.contains("and 92 more series"),
        "legend says how many are not listed"
    );
    // A few series keep the full width.
    assert_eq!(columns_per_series(560, 3), 560);
    assert_eq!(columns_per_series(560, 100), 20);
    assert_eq!(
        columns_per_series(560, 1000),
        20,
        "past 100 series, lines are dropped"
    );
    let mut many = series.clone();
    many.extend(series.iter().cloned());
    let svg = render(&spec, &many);
    assert!(svg.len() < 60 * 1024, "svg is {} bytes", svg.len());
    assert!(svg.contains("only the first 100 are drawn"));
}

#[test]
fn downsampling_keeps_spikes_and_breaks_at_gaps() {
    let mut points = ramp(10_000, 0, 1);
    points[5000].1 = Some(1e9);
    points[7000].1 = None;
    let segs = downsample(&points, 0, 10_000, 100);
    assert_eq!(segs.len(), 2, "a null splits the line");
    let n: usize = segs.iter().map(Vec::len).sum();
    assert!(n <= 2 * 101, "{n} points");
    assert!(segs.iter().flatten().any(|p| p.1 == 1e9), "spike kept");
    // Time order within segments.
    for s in &segs {
        assert!(s.windows(2).all(|w| w[0].0 <= w[1].0));
    }
}

#[test]
fn no_data_and_error_states() {
    let spec = ChartSpec::new(400, 200, 0, MIN);
    let svg = render(&spec, &[]);
    assert!(svg.contains("No data"));
    let svg = render(
        &spec,
        &[Series {
            name: "x".into(),
            points: vec![(1, None)],
        }],
    );
    assert!(svg.contains("No data"));
    let svg = render_error(&spec, "bad <query> & stuff");
    assert!(svg.contains("Query error"));
    assert!(svg.contains("bad &lt;query&gt; &amp; stuff"), "{svg}");
}

#[test]
fn hostile_series_names_are_escaped() {
    let spec = ChartSpec::new(600, 200, 0, MIN);
    let s = Series {
        name: "<script>alert(1)</script>".into(),
        points: ramp(10, 0, MIN / 10),
    };
    let svg = render(&spec, &[s]);
    assert!(!svg.contains("<script>"));
    assert!(svg.contains("&lt;script&gt;"));
}

#[test]
fn legend_thresholds_annotations_and_themes() {
    let mut spec = ChartSpec::new(800, 300, 0, 10 * MIN);
    spec.unit = Unit::Percent;
    spec.thresholds = vec![Threshold {
        from: 80.0,
        to: 90.0,
        level: Level::Warn,
    }];
    spec.annotations = vec![Annotation {
        at_ns: 5 * MIN,
        text: "cpu high".into(),
        level: Level::Crit,
    }];
    let series: Vec<Series> = (0..3)
        .map(|i| Series {
            name: format!("s{i}"),
            points: ramp(100, 0, MIN / 10),
        })
        .collect();
    let light = render(&spec, &series);
    assert!(light.contains("cpu high"));
    assert!(has_text(&light, "s2"));
    assert!(has_text(&light, "last") && has_text(&light, "min"));
    assert!(light.contains('%'));
    // The warn band: semi-transparent fill in the warn colour.
    assert!(
        light.contains("#E08A00") || light.contains("#e08a00"),
        "{light}"
    );
    spec.theme = Theme::Dark;
    let dark = render(&spec, &series);
    assert_ne!(light, dark);
    assert!(dark.contains("#181B1F") || dark.contains("#181b1f"));
}

#[test]
fn legend_is_capped() {
    let spec = ChartSpec::new(800, 400, 0, 10 * MIN);
    let series: Vec<Series> = (0..20)
        .map(|i| Series {
            name: format!("core{i}"),
            points: ramp(10, 0, MIN),
        })
        .collect();
    let svg = render(&spec, &series);
    assert!(svg.contains("and 12 more series"));
}

#[test]
fn stats_skip_nulls() {
    let s = stats(&[
        (0, Some(1.0)),
        (1, None),
        (2, Some(3.0)),
        (3, Some(f64::NAN)),
    ]);
    assert_eq!(s.min, Some(1.0));
    assert_eq!(s.max, Some(3.0));
    assert_eq!(s.avg, Some(2.0));
    assert_eq!(s.last, Some(3.0));
    assert_eq!(stats(&[]).avg, None);
}

#[test]
fn sparkline_is_small_and_empty_without_data() {
    let svg = sparkline(&ramp(100_000, 0, 1), 120, 30, Theme::Light);
    assert!(svg.len() < 8 * 1024);
    assert!(sparkline(&[], 120, 30, Theme::Light).is_empty());
}

/// Writes sample charts to $TIGK_UI_DUMP for eyeballing; does nothing otherwise.
#[test]
fn dump_samples() {
    let Ok(dir) = std::env::var("TIGK_UI_DUMP") else {
        return;
    };
    let mut spec = ChartSpec::new(560, 260, 0, 60 * MIN);
    spec.unit = Unit::Percent;
    spec.y_max = Some(100.0);
    spec.thresholds = vec![
        Threshold {
            from: 80.0,
            to: 90.0,
            level: Level::Warn,
        },
        Threshold {
            from: 90.0,
            to: f64::INFINITY,
            level: Level::Crit,
        },
    ];
    spec.annotations = vec![Annotation {
        at_ns: 40 * MIN,
        text: "cpu high".into(),
        level: Level::Crit,
    }];
    let mut a = ramp(3600, 0, MIN / 60);
    a[1200].1 = None;
    let series = vec![
        Series {
            name: "user".into(),
            points: a,
        },
        Series {
            name: "system".into(),
            points: ramp(3600, 0, MIN / 60)
                .into_iter()
                .map(|(t, v)| (t, v.map(|v| v / 3.0)))
                .collect(),
        },
    ];
    for theme in [Theme::Light, Theme::Dark] {
        spec.theme = theme;
        let _ = std::fs::write(
            format!("{dir}/chart-{}.svg", theme.as_str()),
            render(&spec, &series),
        );
    }
    let _ = std::fs::write(format!("{dir}/nodata.svg"), render(&spec, &[]));
}

#[test]
fn ticks_are_round() {
    let from = 7 * 3600 * 1_000_000_000 + 3 * MIN; // 07:03
    let ticks = time_ticks(from, from + 60 * MIN, 5);
    assert_eq!(
        ticks
            .first()
            .map(|t| crate::units::format_tick(*t, 60 * MIN)),
        Some("07:15".into())
    );
    assert!(ticks.windows(2).all(|w| w[1] - w[0] == 15 * MIN));
    assert!(time_ticks(0, 1, 5).len() <= 2);
}

/// The value of `name="…"` in the opening `<svg …>` tag.
fn svg_attr<'a>(svg: &'a str, name: &str) -> &'a str {
    let open = &svg[..svg.find('>').unwrap_or(0)];
    let key = format!(" {name}=\"");
    let Some(i) = open.find(&key) else {
        panic!("no {name} in {open}");
    };
    let rest = &open[i + key.len()..];
    &rest[..rest.find('"').unwrap_or(0)]
}

#[test]
fn the_svg_tells_the_script_where_each_series_is() {
    let spec = ChartSpec {
        annotations: vec![Annotation {
            at_ns: 30 * MIN,
            text: "crit".into(),
            level: Level::Crit,
        }],
        ..ChartSpec::new(600, 200, 0, 60 * MIN)
    };
    let mut gappy = ramp(60, 0, MIN);
    gappy[20].1 = None;
    let series = [
        Series {
            name: "web \"1\" <a>".into(),
            points: gappy,
        },
        Series {
            name: "web2".into(),
            points: ramp(60, 0, MIN),
        },
    ];
    let svg = render(&spec, &series);
    assert!(svg.starts_with("<svg class=\"chart\" "), "{}", &svg[..200]);
    assert_eq!(
        svg_attr(&svg, "data-t"),
        format!("0 {}", 60 * MIN / 1_000_000)
    );
    assert_eq!(svg_attr(&svg, "data-segs"), "2 1");
    assert_eq!(svg_attr(&svg, "data-unit"), "short");
    // Names are JSON, escaped for the attribute.
    assert_eq!(
        svg_attr(&svg, "data-names"),
        "[&quot;web \\&quot;1\\&quot; &lt;a&gt;&quot;,&quot;web2&quot;]"
    );
    let plot: Vec<i32> = svg_attr(&svg, "data-plot")
        .split(' ')
        .map(|v| v.parse().expect("pixel"))
        .collect();
    assert!(
        plot[0] > 0 && plot[2] <= 600 && plot[0] < plot[2],
        "{plot:?}"
    );
    assert!(
        plot[1] >= 0 && plot[3] <= 200 && plot[1] < plot[3],
        "{plot:?}"
    );
    let v: Vec<f64> = svg_attr(&svg, "data-v")
        .split(' ')
        .map(|v| v.parse().expect("value"))
        .collect();
    let hi = ramp(60, 0, MIN)
        .iter()
        .filter_map(|p| p.1)
        .fold(0.0, f64::max);
    assert!(v[0] <= 50.0 && v[1] >= hi && v[1] < hi * 1.5, "{v:?}");
    // The polylines from data-first: two of series 0, one of series 1, then the marker.
    let strokes: Vec<&str> = svg
        .split("<polyline")
        .skip(1)
        .map(|p| {
            let i = p.find("stroke=\"").expect("stroke") + 8;
            &p[i..i + p[i..].find('"').expect("end")]
        })
        .collect();
    let first: usize = svg_attr(&svg, "data-first").parse().expect("first");
    let c0 = series_color(Theme::Light, 0).to_uppercase();
    let c1 = series_color(Theme::Light, 1).to_uppercase();
    assert_eq!(strokes.len(), first + 4, "{strokes:?}");
    assert_eq!(
        strokes[first..first + 3]
            .iter()
            .map(|s| s.to_uppercase())
            .collect::<Vec<_>>(),
        [c0.clone(), c0, c1]
    );
    // Every point of the series' lines lies inside the plot area.
    for line in svg.split("<polyline").skip(1 + first).take(3) {
        let i = line.find("points=\"").expect("points") + 8;
        for p in line[i..i + line[i..].find('"').expect("end")].split_whitespace() {
            let (x, y) = p.split_once(',').expect("x,y");
            let (x, y): (i32, i32) = (x.parse().expect("x"), y.parse().expect("y"));
            assert!(
                x >= plot[0] && x <= plot[2] && y >= plot[1] && y <= plot[3],
                "{p}"
            );
        }
    }
}
