//! Project automation for Trent (`cargo run -p xtask -- <command>`).
//!
//! Commands:
//!
//! - `codegen`: regenerate `crates/trent-wire/src/generated.rs` from the
//!   vendored KMS service model `xtask/model/kms-2014-11-01.service-2.json`,
//!   formatted with `rustfmt --edition 2024`.
//! - `codegen --check`: regenerate in memory and exit non-zero if the committed
//!   `generated.rs` differs (the `cargo test -p xtask` test does the same).
//! - `codegen --vendor [DIR]`: first refresh the vendored model from
//!   `DIR/kms-2014-11-01.service-2.json` (default `../shared/reference`,
//!   relative to the workspace root), dropping every `documentation`,
//!   `documentationUrl` and `deprecatedMessage` string so no AWS prose is
//!   kept in the repository, then regenerate.
//!
//! The generator only reads names, types and constraints from the model.

mod codegen;
mod json;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: cargo run -p xtask -- codegen [--check] [--vendor [DIR]]";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<ExitCode> {
    let mut args = args.into_iter().peekable();
    match args.next().as_deref() {
        Some("codegen") => {}
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return Ok(ExitCode::SUCCESS);
        }
        _ => bail!("{USAGE}"),
    }
    let mut check = false;
    let mut vendor: Option<PathBuf> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--vendor" => {
                let dir = match args.peek() {
                    Some(next) if !next.starts_with("--") => PathBuf::from(args.next().unwrap()),
                    _ => codegen::workspace_root().join("../shared/reference"),
                };
                vendor = Some(dir);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    if let Some(dir) = vendor {
        let source = dir.join(codegen::MODEL_FILE);
        codegen::vendor(&source)?;
        println!(
            "vendored {} -> {}",
            source.display(),
            codegen::vendored_model_path().display()
        );
    }
    let fresh = codegen::generate_formatted()?;
    let path = codegen::generated_path();
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if check {
        if fresh == current {
            println!("{} is up to date", path.display());
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!(
            "{} is stale; run `cargo run -p xtask -- codegen`",
            path.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    if fresh == current {
        println!("{} unchanged", path.display());
    } else {
        std::fs::write(&path, &fresh).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
