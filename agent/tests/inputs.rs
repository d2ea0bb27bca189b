//! Every input's measurement, tag and field names and types against Telegraf's
//! (shared/spec/influx.md §5.1), gathered live from this Linux machine.

#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::sync::Arc;

use agent::input::{Accumulator, InputKind, cpu, disk, diskio, internal, net};
use agent::stats::Stats;
use common::{FieldType, Point};

const I: FieldType = FieldType::Integer;
const F: FieldType = FieldType::Float;
const S: FieldType = FieldType::String;

fn gather(kind: InputKind, times: usize) -> Vec<Point> {
    let stats = Arc::new(Stats::default());
    stats.register_input("cpu", None);
    stats.register_output("influxdb", None, 10);
    let mut input = kind.build(&stats).expect("build");
    let mut acc = Accumulator::new(0);
    for i in 0..times {
        acc = Accumulator::new(i as i64);
        input.gather(&mut acc).expect("gather");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    acc.points
}

/// Checks each point's fields: all known, with the right type, and the `required` ones present.
fn check(
    points: &[Point],
    measurement: &str,
    tags: &[&str],
    spec: &[(&str, FieldType)],
    required: &[&str],
) {
    assert!(!points.is_empty(), "{measurement}: no points");
    for p in points {
        assert_eq!(p.measurement, measurement);
        let tag_keys: BTreeSet<&str> = p.tags.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            tag_keys,
            tags.iter().copied().collect(),
            "{measurement} tags"
        );
        for (k, v) in &p.fields {
            let Some((_, want)) = spec.iter().find(|(name, _)| name == k) else {
                panic!("{measurement}: field {k} is not a Telegraf field");
            };
            assert_eq!(v.field_type(), *want, "{measurement}.{k}");
        }
        for r in required {
            assert!(
                p.fields.iter().any(|(k, _)| k == r),
                "{measurement}: missing {r}"
            );
        }
    }
}

fn names(spec: &[(&'static str, FieldType)]) -> Vec<&'static str> {
    spec.iter().map(|(n, _)| *n).collect()
}

#[test]
fn cpu_fields() {
    let mut spec = Vec::new();
    for f in [
        "user",
        "system",
        "idle",
        "nice",
        "iowait",
        "irq",
        "softirq",
        "steal",
        "guest",
        "guest_nice",
        "active",
    ] {
        spec.push((Box::leak(format!("usage_{f}").into_boxed_str()) as &str, F));
        spec.push((Box::leak(format!("time_{f}").into_boxed_str()) as &str, F));
    }
    let opts = cpu::CpuOptions {
        collect_cpu_time: true,
        report_active: true,
        ..Default::default()
    };
    let points = gather(InputKind::Cpu(opts), 2);
    let all: Vec<&str> = spec.iter().map(|(n, _)| *n).collect();
    check(&points, "cpu", &["cpu"], &spec, &all);
    assert!(points.iter().any(|p| p.tags[0].1 == "cpu-total"));
    assert!(points.iter().any(|p| p.tags[0].1 == "cpu0"));
    // Defaults: no time_* and no *_active.
    let points = gather(InputKind::Cpu(cpu::CpuOptions::default()), 2);
    let usage: Vec<_> = spec
        .iter()
        .filter(|(n, _)| n.starts_with("usage_") && *n != "usage_active")
        .copied()
        .collect();
    check(&points, "cpu", &["cpu"], &usage, &names(&usage));
}

#[test]
fn mem_fields() {
    let ints = [
        "total",
        "available",
        "used",
        "free",
        "active",
        "inactive",
        "buffered",
        "cached",
        "shared",
        "slab",
        "sreclaimable",
        "sunreclaim",
        "dirty",
        "write_back",
        "write_back_tmp",
        "mapped",
        "page_tables",
        "commit_limit",
        "committed_as",
        "huge_pages_total",
        "huge_pages_free",
        "huge_page_size",
        "swap_total",
        "swap_free",
        "swap_cached",
        "vmalloc_total",
        "vmalloc_used",
        "vmalloc_chunk",
        "high_total",
        "high_free",
        "low_total",
        "low_free",
    ];
    let mut spec: Vec<_> = ints.iter().map(|n| (*n, I)).collect();
    spec.extend([("used_percent", F), ("available_percent", F)]);
    check(&gather(InputKind::Mem, 1), "mem", &[], &spec, &names(&spec));
}

#[test]
fn swap_fields() {
    let spec = [
        ("total", I),
        ("used", I),
        ("free", I),
        ("used_percent", F),
        ("in", I),
        ("out", I),
    ];
    check(
        &gather(InputKind::Swap, 1),
        "swap",
        &[],
        &spec,
        &names(&spec),
    );
}

#[test]
fn system_fields() {
    let spec = [
        ("load1", F),
        ("load5", F),
        ("load15", F),
        ("n_cpus", I),
        ("n_physical_cpus", I),
        ("n_users", I),
        ("n_unique_users", I),
        ("uptime", I),
        ("uptime_format", S),
    ];
    check(
        &gather(InputKind::System, 1),
        "system",
        &[],
        &spec,
        &names(&spec),
    );
}

#[test]
fn disk_fields() {
    let spec = [
        ("total", I),
        ("free", I),
        ("used", I),
        ("used_percent", F),
        ("inodes_total", I),
        ("inodes_free", I),
        ("inodes_used", I),
        ("inodes_used_percent", F),
    ];
    // No ignore list: a container's root may be an overlay.
    let opts = disk::DiskOptions {
        mount_points: vec!["/".into()],
        ignore_fs: vec![],
        ignore_mount_opts: vec![],
    };
    check(
        &gather(InputKind::Disk(opts), 1),
        "disk",
        &["device", "fstype", "mode", "path"],
        &spec,
        &names(&spec),
    );
}

#[test]
fn diskio_fields() {
    let spec = [
        ("reads", I),
        ("writes", I),
        ("read_bytes", I),
        ("write_bytes", I),
        ("read_time", I),
        ("write_time", I),
        ("io_time", I),
        ("weighted_io_time", I),
        ("iops_in_progress", I),
        ("merged_reads", I),
        ("merged_writes", I),
        ("io_util", F),
        ("io_await", F),
        ("io_svctm", F),
    ];
    let counters = &names(&spec)[..11];
    let points = gather(InputKind::Diskio(diskio::DiskioOptions::default()), 2);
    check(&points, "diskio", &["name", "serial"], &spec, counters);
    assert!(
        points
            .iter()
            .all(|p| p.fields.iter().any(|(k, _)| k == "io_util")),
        "io_util from the second gather"
    );
    let points = gather(
        InputKind::Diskio(diskio::DiskioOptions {
            skip_serial_number: true,
            ..Default::default()
        }),
        1,
    );
    check(&points, "diskio", &["name"], &spec, counters);
}

#[test]
fn net_fields() {
    let spec = [
        ("bytes_sent", I),
        ("bytes_recv", I),
        ("packets_sent", I),
        ("packets_recv", I),
        ("err_in", I),
        ("err_out", I),
        ("drop_in", I),
        ("drop_out", I),
        ("speed", I),
    ];
    let opts = net::NetOptions {
        interfaces: vec!["lo".into()],
        ignore_protocol_stats: false,
    };
    let points = gather(InputKind::Net(opts), 1);
    let (all, ifaces): (Vec<Point>, Vec<Point>) =
        points.into_iter().partition(|p| p.tags[0].1 == "all");
    check(&ifaces, "net", &["interface"], &spec, &names(&spec));
    assert_eq!(ifaces[0].tags[0].1, "lo");
    let proto = &all[0];
    assert!(
        proto
            .fields
            .iter()
            .all(|(k, v)| v.field_type() == I && k.contains('_') && k == &k.to_lowercase())
    );
    assert!(proto.fields.iter().any(|(k, _)| k == "tcp_activeopens"));
    assert!(proto.fields.iter().any(|(k, _)| k == "udp_indatagrams"));
}

#[test]
fn processes_fields() {
    let spec: Vec<_> = [
        "blocked",
        "running",
        "sleeping",
        "stopped",
        "total",
        "zombies",
        "unknown",
        "dead",
        "paging",
        "idle",
        "parked",
        "total_threads",
    ]
    .iter()
    .map(|n| (*n, I))
    .collect();
    let points = gather(InputKind::Processes, 1);
    check(&points, "processes", &[], &spec, &names(&spec));
    let total = points[0]
        .fields
        .iter()
        .find(|(k, _)| k == "total")
        .map(|(_, v)| v.clone());
    assert!(matches!(total, Some(common::FieldValue::Integer(n)) if n > 0));
}

#[test]
fn kernel_fields() {
    let spec = [
        ("boot_time", I),
        ("context_switches", I),
        ("interrupts", I),
        ("processes_forked", I),
        ("disk_pages_in", I),
        ("disk_pages_out", I),
        ("entropy_avail", I),
    ];
    check(
        &gather(InputKind::Kernel, 1),
        "kernel",
        &[],
        &spec,
        &[
            "boot_time",
            "context_switches",
            "interrupts",
            "processes_forked",
            "entropy_avail",
        ],
    );
}

#[test]
fn internal_fields() {
    let points = gather(
        InputKind::Internal(internal::InternalOptions {
            collect_memstats: true,
        }),
        1,
    );
    let by = |m: &str| {
        points
            .iter()
            .filter(|p| p.measurement == m)
            .cloned()
            .collect::<Vec<_>>()
    };
    let gather_spec = [
        ("errors", I),
        ("gather_time_ns", I),
        ("metrics_gathered", I),
    ];
    check(
        &by("internal_gather"),
        "internal_gather",
        &["input", "version"],
        &gather_spec,
        &names(&gather_spec),
    );
    let write_spec = [
        ("buffer_limit", I),
        ("buffer_size", I),
        ("errors", I),
        ("metrics_added", I),
        ("metrics_dropped", I),
        ("metrics_filtered", I),
        ("metrics_written", I),
        ("write_time_ns", I),
    ];
    check(
        &by("internal_write"),
        "internal_write",
        &["output", "version"],
        &write_spec,
        &names(&write_spec),
    );
    let agent_spec = [
        ("gather_errors", I),
        ("metrics_dropped", I),
        ("metrics_gathered", I),
        ("metrics_written", I),
    ];
    check(
        &by("internal_agent"),
        "internal_agent",
        &["version"],
        &agent_spec,
        &names(&agent_spec),
    );
    check(
        &by("internal_memstats"),
        "internal_memstats",
        &["version"],
        &[("sys_bytes", I)],
        &["sys_bytes"],
    );
}
