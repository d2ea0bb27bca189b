//! `disk`: usage of mounted filesystems, from mountinfo and statvfs.

use std::collections::HashSet;

use procfs::process::Process;

use super::{Accumulator, Fields, Input, proc_err, tag};
use crate::Result;
use crate::filter::glob;

#[derive(Debug, Clone)]
pub struct DiskOptions {
    /// Only these mount points when non-empty.
    pub mount_points: Vec<String>,
    pub ignore_fs: Vec<String>,
    pub ignore_mount_opts: Vec<String>,
}

/// Telegraf's sample config value; used when `ignore_fs` is not set because nearly every
/// Telegraf install runs with it, and container overlays are noise.
pub const DEFAULT_IGNORE_FS: &[&str] = &[
    "tmpfs", "devtmpfs", "devfs", "iso9660", "overlay", "aufs", "squashfs",
];

pub struct Disk {
    opts: DiskOptions,
}

impl Disk {
    pub fn new(opts: DiskOptions) -> Disk {
        Disk { opts }
    }
}

/// Filesystem types backed by a device, from /proc/filesystems (no `nodev` flag), the way
/// gopsutil's `Partitions(false)` decides which mounts are physical.
fn device_filesystems() -> HashSet<String> {
    let text = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    let mut set: HashSet<String> = text
        .lines()
        .filter(|l| !l.starts_with("nodev"))
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    set.insert("zfs".to_string());
    set
}

impl Input for Disk {
    fn gather(&mut self, acc: &mut Accumulator) -> Result<()> {
        let mounts = Process::myself()
            .and_then(|p| p.mountinfo())
            .map_err(proc_err("disk"))?;
        let physical = device_filesystems();
        let mut seen = HashSet::new();
        for m in mounts {
            let path = m.mount_point.to_string_lossy().into_owned();
            if !self.opts.mount_points.is_empty()
                && !self.opts.mount_points.iter().any(|p| p == &path)
            {
                continue;
            }
            if !physical.contains(&m.fs_type) && self.opts.mount_points.is_empty() {
                continue;
            }
            if self
                .opts
                .ignore_fs
                .iter()
                .any(|f| glob(f.as_bytes(), m.fs_type.as_bytes()))
            {
                continue;
            }
            if self
                .opts
                .ignore_mount_opts
                .iter()
                .any(|o| m.mount_options.contains_key(o))
            {
                continue;
            }
            // Bind mounts show the same path twice; report it once like Telegraf.
            if !seen.insert(path.clone()) {
                continue;
            }
            let st = match rustix::fs::statvfs(&m.mount_point) {
                Ok(st) => st,
                Err(e) => {
                    crate::debug!("[inputs.disk] statvfs {path}: {e}");
                    continue;
                }
            };
            let bsize = st.f_frsize;
            let total = st.f_blocks * bsize;
            if total == 0 {
                continue;
            }
            let free = st.f_bavail * bsize;
            let used = (st.f_blocks - st.f_bfree.min(st.f_blocks)) * bsize;
            let inodes_used = st.f_files.saturating_sub(st.f_ffree);
            let pct = |used: u64, free: u64| {
                if used + free == 0 {
                    0.0
                } else {
                    used as f64 / (used as f64 + free as f64) * 100.0
                }
            };
            let mode = if m.mount_options.contains_key("ro") {
                "ro"
            } else if m.mount_options.contains_key("rw") {
                "rw"
            } else {
                "unknown"
            };
            let device = m.mount_source.as_deref().unwrap_or("").replace("/dev/", "");
            let mut f = Fields::default();
            f.int("total", total)
                .int("free", free)
                .int("used", used)
                .float("used_percent", pct(used, free))
                .int("inodes_total", st.f_files)
                .int("inodes_free", st.f_ffree)
                .int("inodes_used", inodes_used)
                .float("inodes_used_percent", pct(inodes_used, st.f_ffree));
            let tags = vec![
                tag("device", device),
                tag("fstype", m.fs_type.as_str()),
                tag("mode", mode),
                tag("path", path),
            ];
            acc.add("disk", tags, f);
        }
        Ok(())
    }
}
