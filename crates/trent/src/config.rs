//! `trent serve`'s configuration from three places: every option is a
//! flag, a `TRENT_*` environment variable (the flag's name in capitals,
//! `-` as `_`: `--data-dir` is `TRENT_DATA_DIR`) and a key of the TOML
//! file `--config FILE` names (the flag's name: `data-dir = "/var/lib/trent"`;
//! a repeatable flag takes a list). A flag wins over the environment, the
//! environment over the file, the file over the default. A key the file
//! should not have is an error, never ignored.
//!
//! How: the command line and the environment are parsed first (clap); the
//! file's values for what they left unset are then added as flags, and the
//! whole is parsed again, so every value meets the same parser, whatever
//! its source. `--print-config` shows the result, each value with its
//! source; secrets (options clap hides the environment value of) are
//! redacted.

use anyhow::{Context, bail};
use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory, FromArgMatches};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write;
use std::path::Path;

/// Where an option's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Environment,
    File,
    Default,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Environment => "environment",
            Source::File => "config file",
            Source::Default => "default",
        }
    }
}

/// Options of `serve` that are about the configuration itself: never in
/// the file, never printed.
const META: [&str; 3] = ["config", "print_config", "help"];

/// `serve`'s options as parsed, and where each came from.
pub struct Effective {
    matches: clap::ArgMatches,
    sources: BTreeMap<String, Source>,
}

/// The command line parsed with the environment and, for `serve`, its
/// configuration file.
pub fn parse() -> anyhow::Result<(crate::Cli, Option<Effective>)> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    // Leniently first: a pair of options (`--tls-cert` needs `--tls-key`)
    // may be split between the command line, the environment and the file,
    // so what the first parse finds missing may be in the file.
    let lenient = crate::Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(&argv);
    let config = lenient.as_ref().ok().and_then(|m| match m.subcommand() {
        Some(("serve", serve)) => Some((
            serve.get_one::<std::path::PathBuf>("config").cloned(),
            sources(serve),
        )),
        _ => None,
    });
    let Some((config, mut sources)) = config else {
        let matches = crate::Cli::command().get_matches_from(&argv);
        return Ok((crate::Cli::from_arg_matches(&matches)?, None));
    };
    let matches = match config {
        None => crate::Cli::command().get_matches_from(&argv),
        Some(path) => {
            let path = path.as_path();
            let extra = file_flags(path, &mut sources)?;
            crate::Cli::command()
                .try_get_matches_from(argv.into_iter().chain(extra))
                .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.render()))?
        }
    };
    let cli = crate::Cli::from_arg_matches(&matches)?;
    let serve = matches
        .subcommand_matches("serve")
        .cloned()
        .context("trent serve")?;
    Ok((
        cli,
        Some(Effective {
            matches: serve,
            sources,
        }),
    ))
}

/// Where each option of `serve` came from, before the file.
fn sources(serve: &clap::ArgMatches) -> BTreeMap<String, Source> {
    serve_command()
        .get_arguments()
        .map(|arg| arg.get_id().as_str())
        .filter(|id| !META.contains(id))
        .map(|id| {
            let source = match serve.value_source(id) {
                Some(ValueSource::CommandLine) => Source::Flag,
                Some(ValueSource::EnvVariable) => Source::Environment,
                _ => Source::Default,
            };
            (id.to_owned(), source)
        })
        .collect()
}

fn serve_command() -> clap::Command {
    crate::Cli::command()
        .find_subcommand("serve")
        .expect("trent has a serve command")
        .clone()
}

/// The file's values for the options neither a flag nor the environment
/// set, as flags.
fn file_flags(
    path: &Path,
    sources: &mut BTreeMap<String, Source>,
) -> anyhow::Result<Vec<OsString>> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("reading the configuration file {}", path.display()))?,
    );
    // toml's own message quotes the offending line, which may hold a
    // secret: only where and what.
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let (line, column) = e.span().map_or((0, 0), |span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            (line, column)
        });
        anyhow::anyhow!(
            "{} is not valid TOML: line {line}, column {column}: {}",
            path.display(),
            e.message()
        )
    })?;
    let command = serve_command();
    refuse_open_secrets(path, &table, &command)?;
    let mut flags = Vec::new();
    for (key, value) in &table {
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()) && !META.contains(&a.get_id().as_str()))
            .with_context(|| {
                format!(
                    "{}: unknown key {key:?} (keys are `trent serve` flags without their dashes)",
                    path.display()
                )
            })?;
        let id = arg.get_id().as_str();
        if matches!(sources.get(id), Some(Source::Flag | Source::Environment)) {
            continue;
        }
        let is_flag = matches!(arg.get_action(), ArgAction::SetTrue);
        let repeatable = matches!(arg.get_action(), ArgAction::Append);
        let values: Vec<&toml::Value> = match value {
            toml::Value::Array(items) if repeatable => items.iter().collect(),
            toml::Value::Array(_) => bail!("{}: {key} takes one value, not a list", path.display()),
            one => vec![one],
        };
        for value in values {
            let text = match value {
                toml::Value::Boolean(on) if is_flag => {
                    if *on {
                        flags.push(OsString::from(format!("--{key}")));
                    }
                    continue;
                }
                _ if is_flag => bail!("{}: {key} is true or false", path.display()),
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::Float(x) => x.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => bail!(
                    "{}: {key} must be a string, a number or a boolean, not {}",
                    path.display(),
                    other.type_str()
                ),
            };
            flags.push(OsString::from(format!("--{key}={text}")));
        }
        sources.insert(id.to_owned(), Source::File);
    }
    Ok(flags)
}

/// A file holding a secret (an option whose value clap hides) must be
/// readable by its owner alone, as ssh asks of a private key.
fn refuse_open_secrets(
    path: &Path,
    table: &toml::Table,
    command: &clap::Command,
) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let secret = command
        .get_arguments()
        .filter(|a| a.is_hide_env_values_set())
        .filter_map(|a| a.get_long())
        .find(|key| table.contains_key(*key));
    let Some(key) = secret else {
        return Ok(());
    };
    let mode = std::fs::metadata(path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "{} holds a secret ({key}) and other users may read it (mode {mode:04o}): \
             make it readable by its owner alone (chmod 600)",
            path.display()
        );
    }
    Ok(())
}

/// The effective configuration as a TOML file that `--config` takes back
/// (secrets excepted), each value followed by its source.
pub fn render(effective: &Effective) -> String {
    let Effective { matches, sources } = effective;
    let mut out = String::from(
        "# trent serve: the effective configuration (a flag wins over TRENT_* variables,\n\
         # those over --config's file, that over the default). Secrets are redacted.\n",
    );
    for arg in serve_command().get_arguments() {
        let id = arg.get_id().as_str();
        let Some(source) = sources.get(id) else {
            continue;
        };
        let key = arg.get_long().unwrap_or(id);
        let value = match arg.get_action() {
            ArgAction::SetTrue => Some(toml::Value::Boolean(matches.get_flag(id))),
            action => {
                let raw: Vec<String> = matches
                    .get_raw(id)
                    .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect())
                    .unwrap_or_default();
                match (action, raw.as_slice()) {
                    (_, []) => None,
                    (ArgAction::Append, values) => Some(toml::Value::Array(
                        values.iter().map(|v| scalar(v)).collect(),
                    )),
                    (_, [one, ..]) => Some(scalar(one)),
                }
            }
        };
        let source = source.name();
        let _ = match value {
            None => writeln!(out, "# {key} = (unset)"),
            // A secret: clap hides its environment value in `--help` too.
            Some(_) if arg.is_hide_env_values_set() => {
                writeln!(out, "# {key} = <redacted>  # {source}")
            }
            Some(value) => writeln!(out, "{key} = {value}  # {source}"),
        };
    }
    out
}

/// A value as TOML: an integer where its text is one exactly (`60`, not
/// the account id `000000000000`), else a string.
fn scalar(text: &str) -> toml::Value {
    match text.parse::<i64>() {
        Ok(n) if n.to_string() == text => toml::Value::Integer(n),
        _ => toml::Value::String(text.to_owned()),
    }
}
