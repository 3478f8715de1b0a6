//! Embeds the web console's built files (`console/dist`, committed; see
//! ARCHITECTURE.md, "The console") into the server: writes
//! `$OUT_DIR/console_assets.rs`, one `include_bytes!` per file, so that a
//! changed file rebuilds the crate. Without `console/dist` the console has
//! no files (and `/console/` answers 404).

use std::path::{Path, PathBuf};

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../console/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut files = Vec::new();
    if dist.is_dir() {
        walk(&dist, &mut files);
    }
    files.sort();
    let mut out = String::from("pub(crate) static ASSETS: &[(&str, &[u8])] = &[\n");
    for path in files {
        let name = path
            .strip_prefix(&dist)
            .expect("under dist")
            .to_string_lossy()
            .replace('\\', "/");
        let absolute = std::fs::canonicalize(&path).expect("a file of dist");
        out.push_str(&format!("    ({name:?}, include_bytes!({absolute:?})),\n"));
    }
    out.push_str("];\n");
    let target =
        PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("console_assets.rs");
    std::fs::write(target, out).expect("write console_assets.rs");
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read console/dist") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}
