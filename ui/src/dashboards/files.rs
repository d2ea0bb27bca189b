//! Dashboards provisioned from files, Grafana style: every `*.json` in the UI's dashboards
//! directory (`UiConfig::dashboards_dir`, by default `<data dir>/dashboards`), in the export
//! format, read once at start. They are shown read-only: the file is the source of truth, so
//! an edit in the UI would be lost on the next start. Duplicating one gives an editable copy.

use std::path::Path;

use super::{Dashboard, valid_uid};

/// A file larger than this is not a dashboard (50 panels of 16 KB queries is under it).
const MAX_FILE_BYTES: u64 = 1024 * 1024;
const MAX_FILES: usize = 500;

/// The dashboards in `dir`, sorted by file name; a missing directory holds none. A file that
/// does not parse, validate or has a uid already taken is skipped with a warning, so one bad
/// file does not keep the server from starting.
pub fn load_dir(dir: &Path) -> Vec<Dashboard> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut out: Vec<Dashboard> = Vec::new();
    for path in paths.into_iter().take(MAX_FILES) {
        match load_file(&path) {
            Ok(d) if out.iter().any(|o| o.uid == d.uid) => {
                tracing::warn!(file = %path.display(), uid = %d.uid, "dashboard uid used by an earlier file; skipped");
            }
            Ok(d) => out.push(d),
            Err(why) => {
                tracing::warn!(file = %path.display(), %why, "provisioned dashboard skipped");
            }
        }
    }
    out
}

fn load_file(path: &Path) -> Result<Dashboard, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut d: Dashboard = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    // Without a uid in the file, its name is the uid (and so the URL).
    if d.uid.is_empty() {
        d.uid = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
    }
    if !valid_uid(&d.uid) {
        return Err(format!("uid {:?} is not 1 to 40 of [A-Za-z0-9_-]", d.uid));
    }
    d.validate().map_err(|e| e.to_string())?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_valid_files_and_skips_the_rest() {
        let dir = tempfile::tempdir().expect("tmp");
        let w =
            |name: &str, body: &str| std::fs::write(dir.path().join(name), body).expect("write");
        w("web.json", r#"{"title":"Web","panels":[]}"#);
        w("a-ops.json", r#"{"uid":"ops","title":"Ops"}"#);
        w("b-dup.json", r#"{"uid":"ops","title":"Also ops"}"#);
        w("bad uid.json", r#"{"title":"x"}"#);
        w("broken.json", "{");
        w("untitled.json", r#"{"title":""}"#);
        w("notes.txt", r#"{"title":"not json by name"}"#);
        let got: Vec<(String, String)> = load_dir(dir.path())
            .into_iter()
            .map(|d| (d.uid, d.title))
            .collect();
        assert_eq!(
            got,
            [("ops".into(), "Ops".into()), ("web".into(), "Web".into())]
        );
        assert!(load_dir(&dir.path().join("missing")).is_empty());
    }
}
