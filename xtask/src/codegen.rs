//! Generates `crates/trent-wire/src/generated.rs` from the vendored KMS model.
//!
//! Plain model walking and string building: every emitted item comes from
//! shape names, types and constraints in the model. Documentation strings are
//! never read (the vendored copy has none), so no AWS prose reaches the output.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail, ensure};

use crate::json::Json;

/// Keys whose string values are prose and are removed when vendoring.
pub const DOC_KEYS: &[&str] = &["documentation", "documentationUrl", "deprecatedMessage"];

pub const MODEL_FILE: &str = "kms-2014-11-01.service-2.json";

/// Errors that AWS's JSON-protocol front end returns before (or instead of)
/// running an operation. They are not in the service model. All are 400 on
/// AWS's JSON 1.x services (KMS, DynamoDB, ...) except the body-size error,
/// which AWS's common-errors list gives as 413. Note that API Gateway-style
/// REST services use 403 for several of these; KMS does not.
///
/// Deliberately left out: `InvalidClientTokenId` (query-protocol services
/// such as STS/IAM; JSON services answer `UnrecognizedClientException`) and
/// `UnsupportedMediaTypeException` (not a name AWS's JSON services use).
const PROTOCOL_ERRORS: &[(&str, u16, &str)] = &[
    (
        "ValidationException",
        400,
        "Input failed the model's constraints.",
    ),
    (
        "SerializationException",
        400,
        "The request body is not valid JSON for the input shape.",
    ),
    (
        "UnknownOperationException",
        400,
        "`X-Amz-Target` names no known operation.",
    ),
    (
        "AccessDeniedException",
        400,
        "The caller is not allowed to call this operation.",
    ),
    (
        "InvalidSignatureException",
        400,
        "The SigV4 signature does not match.",
    ),
    (
        "IncompleteSignatureException",
        400,
        "The `Authorization` header is malformed or incomplete.",
    ),
    (
        "MissingAuthenticationTokenException",
        400,
        "No credentials were sent (400 on KMS; API Gateway uses 403).",
    ),
    (
        "UnrecognizedClientException",
        400,
        "The access key id is not known.",
    ),
    (
        "ExpiredTokenException",
        400,
        "The session token has expired.",
    ),
    ("ThrottlingException", 400, "The request rate is too high."),
    (
        "RequestEntityTooLargeException",
        413,
        "The request body is larger than the server accepts.",
    ),
    (
        "RequestTimeoutException",
        408,
        "The request body did not arrive within the server's body timeout.",
    ),
];

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

pub fn vendored_model_path() -> PathBuf {
    workspace_root().join("xtask/model").join(MODEL_FILE)
}

pub fn generated_path() -> PathBuf {
    workspace_root().join("crates/trent-wire/src/generated.rs")
}

/// Reads `source` (a botocore service-2 file), drops the prose keys and
/// writes the result as the vendored model.
pub fn vendor(source: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(source).with_context(|| format!("reading {}", source.display()))?;
    let model = Json::parse(&text).with_context(|| format!("parsing {}", source.display()))?;
    let stripped = model.without_string_keys(DOC_KEYS);
    ensure!(
        !stripped.contains_key(DOC_KEYS),
        "a documentation key survived stripping (non-string value?)"
    );
    let mut out = serde_json::to_string_pretty(&stripped)?;
    out.push('\n');
    let dest = vendored_model_path();
    std::fs::write(&dest, out).with_context(|| format!("writing {}", dest.display()))?;
    Ok(())
}

pub fn load_vendored_model() -> Result<Json> {
    let path = vendored_model_path();
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Json::parse(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Generates and rustfmt-formats `generated.rs` from the vendored model.
pub fn generate_formatted() -> Result<String> {
    let model = load_vendored_model()?;
    let code = generate(&model)?;
    rustfmt(&code)
}

/// Formats Rust source with `rustfmt --edition 2024 --emit stdout`, reading
/// stdin. Runs in the workspace root so a `rustfmt.toml` there applies, as it
/// does for `cargo fmt`.
pub fn rustfmt(code: &str) -> Result<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .current_dir(workspace_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running rustfmt (is the rustfmt component installed?)")?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = code.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().context("waiting for rustfmt")?;
    writer
        .join()
        .map_err(|_| anyhow!("rustfmt stdin writer panicked"))?
        .context("writing to rustfmt")?;
    if !output.status.success() {
        bail!(
            "rustfmt failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8(output.stdout).context("rustfmt printed non-UTF-8")
}

// ---------------------------------------------------------------------------
// Model access
// ---------------------------------------------------------------------------

struct Model<'a> {
    uid: &'a str,
    api_version: &'a str,
    target_prefix: &'a str,
    shapes: Vec<(&'a str, &'a Json)>,
    by_name: HashMap<&'a str, &'a Json>,
    operations: Vec<(&'a str, &'a Json)>,
}

impl<'a> Model<'a> {
    fn new(root: &'a Json) -> Result<Self> {
        let metadata = root.get("metadata").context("model has no metadata")?;
        let meta = |key: &str| {
            metadata
                .get(key)
                .and_then(Json::as_str)
                .with_context(|| format!("metadata.{key} missing"))
        };
        let shapes: Vec<(&str, &Json)> = root
            .get("shapes")
            .and_then(Json::entries)
            .context("model has no shapes")?
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        let operations = root
            .get("operations")
            .and_then(Json::entries)
            .context("model has no operations")?
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        Ok(Model {
            uid: meta("uid")?,
            api_version: meta("apiVersion")?,
            target_prefix: meta("targetPrefix")?,
            by_name: shapes.iter().copied().collect(),
            shapes,
            operations,
        })
    }

    fn shape(&self, name: &str) -> Result<&'a Json> {
        self.by_name
            .get(name)
            .copied()
            .with_context(|| format!("unknown shape {name}"))
    }
}

fn ty(shape: &Json) -> &str {
    shape.get("type").and_then(Json::as_str).unwrap_or("")
}

fn num(shape: &Json, key: &str) -> Option<i64> {
    shape.get(key).and_then(Json::as_i64)
}

fn flag(shape: &Json, key: &str) -> bool {
    shape.get(key).and_then(Json::as_bool).unwrap_or(false)
}

fn pattern(shape: &Json) -> Option<&str> {
    shape.get("pattern").and_then(Json::as_str)
}

fn enum_values(shape: &Json) -> Option<Vec<&str>> {
    let values = shape.get("enum")?.as_array()?;
    Some(values.iter().filter_map(Json::as_str).collect())
}

fn target_shape<'a>(reference: &'a Json, what: &str) -> Result<&'a str> {
    reference
        .get("shape")
        .and_then(Json::as_str)
        .with_context(|| format!("{what} has no shape reference"))
}

struct Member<'a> {
    name: &'a str,
    shape: &'a str,
    required: bool,
    deprecated: bool,
}

fn members<'a>(shape: &'a Json) -> Result<Vec<Member<'a>>> {
    let required: Vec<&str> = shape
        .get("required")
        .and_then(Json::as_array)
        .map(|r| r.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (name, m) in shape.get("members").and_then(Json::entries).unwrap_or(&[]) {
        out.push(Member {
            name,
            shape: target_shape(m, name)?,
            required: required.contains(&name.as_str()),
            deprecated: flag(m, "deprecated"),
        });
    }
    for r in &required {
        ensure!(
            out.iter().any(|m| m.name == *r),
            "required member {r} is not a member"
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Naming
// ---------------------------------------------------------------------------

const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod",
    "move", "mut", "priv", "pub", "ref", "return", "self", "static", "struct", "super", "trait",
    "true", "try", "type", "typeof", "unsafe", "use", "where", "while", "yield", "abstract",
    "become", "do", "final", "macro", "override", "unsized", "virtual",
];

/// `KeyId` -> `key_id`, `AWSAccountId` -> `aws_account_id`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                let prev = chars[i - 1];
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
                if prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next_lower)
                {
                    out.push('_');
                }
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '-' || c == '.' || c == ' ' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

/// A field name, with `r#` for keywords (`self`/`super`/`crate` cannot be
/// raw, so those get a trailing underscore).
pub fn field_name(member: &str) -> String {
    let s = snake_case(member);
    if matches!(s.as_str(), "self" | "super" | "crate" | "Self") {
        format!("{s}_")
    } else if RUST_KEYWORDS.contains(&s.as_str()) {
        format!("r#{s}")
    } else {
        s
    }
}

/// The member name as AWS writes it in validation paths: `KeyId` -> `keyId`.
pub fn lower_camel(member: &str) -> String {
    let mut chars = member.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `SYMMETRIC_DEFAULT` -> `SymmetricDefault`, `RSA_2048` -> `Rsa2048`,
/// `Enabled` -> `Enabled`, `ReEncryptFrom` -> `ReEncryptFrom`.
pub fn variant_name(value: &str) -> String {
    let shouting = value.contains('_') || !value.chars().any(|c| c.is_ascii_lowercase());
    let mut out = String::new();
    if shouting {
        for part in value.split(['_', '-', '.', ' ', ':', '/']) {
            let mut cs = part.chars();
            if let Some(first) = cs.next() {
                out.push(first.to_ascii_uppercase());
                out.extend(cs.map(|c| c.to_ascii_lowercase()));
            }
        }
    } else {
        let mut cs = value.chars();
        if let Some(first) = cs.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(cs.filter(|c| c.is_ascii_alphanumeric()));
        }
    }
    if out.chars().next().is_none_or(|c| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    // `SELF` -> `Self` is a keyword that cannot be a raw identifier.
    if out == "Self" {
        out.push('_');
    }
    out
}

fn check_fn(shape: &str) -> String {
    format!("check_{}", snake_case(shape))
}

fn regex_static(shape: &str) -> String {
    format!("RE_{}", snake_case(shape).to_ascii_uppercase())
}

fn ident_ok(name: &str) -> bool {
    let mut cs = name.chars();
    cs.next().is_some_and(|c| c.is_ascii_alphabetic())
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

// ---------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------

struct Gen<'m, 'a> {
    m: &'m Model<'a>,
    out: String,
    uses_btreemap: bool,
    uses_blob: bool,
    uses_secret_blob: bool,
    /// Memo for `constrained`.
    constrained: HashMap<String, bool>,
}

/// Generates the unformatted source of `generated.rs`.
pub fn generate(model: &Json) -> Result<String> {
    let m = Model::new(model)?;
    let mut g = Gen {
        m: &m,
        out: String::new(),
        uses_btreemap: false,
        uses_blob: false,
        uses_secret_blob: false,
        constrained: HashMap::new(),
    };
    g.constants();
    g.operations()?;
    g.error_codes()?;
    g.enums()?;
    g.structs()?;
    g.validation()?;

    let mut head = String::new();
    writeln!(
        head,
        "// @generated by `cargo xtask codegen` from the AWS KMS service model ({}). Do not edit.",
        m.uid
    )?;
    head.push_str(
        "//! Wire types generated from the KMS service model: one struct per request/response\n\
         //! structure, one enum per enumerated string, the [`Operation`] and [`ErrorCode`] lists\n\
         //! and the [`Validate`] implementations. Regenerate with `cargo run -p xtask -- codegen`.\n\n",
    );
    head.push_str(
        "#![allow(clippy::too_many_lines, clippy::match_same_arms, clippy::upper_case_acronyms)]\n\n",
    );
    if g.uses_btreemap {
        head.push_str("use std::collections::BTreeMap;\n");
    }
    head.push_str("use std::fmt;\nuse std::sync::LazyLock;\n\nuse regex_lite::Regex;\n\n");
    head.push_str("use crate::validate::{self as vd, Path};\n");
    let mut crate_uses = vec![];
    if g.uses_blob {
        crate_uses.push("Blob");
    }
    if g.uses_secret_blob {
        crate_uses.push("SecretBlob");
    }
    crate_uses.extend(["Validate", "ValidationError"]);
    writeln!(head, "use crate::{{{}}};\n", crate_uses.join(", "))?;
    head.push_str(&g.out);
    Ok(head)
}

impl Gen<'_, '_> {
    fn w(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn constants(&mut self) {
        let (prefix, version) = (self.m.target_prefix, self.m.api_version);
        self.w(&format!(
            "/// Service prefix of the `X-Amz-Target` header: `{prefix}.<Operation>`.\n\
             pub const TARGET_PREFIX: &str = {prefix:?};\n\
             /// API version of the service model.\n\
             pub const API_VERSION: &str = {version:?};\n"
        ));
    }

    fn exception_names(&self) -> Vec<&str> {
        self.m
            .shapes
            .iter()
            .filter(|(_, s)| ty(s) == "structure" && flag(s, "exception"))
            .map(|(n, _)| *n)
            .collect()
    }

    fn operations(&mut self) -> Result<()> {
        let ops = self.m.operations.clone();
        let mut variants = String::new();
        let mut all = String::new();
        let mut names = String::new();
        let mut from_name = String::new();
        let mut errors = String::new();
        let mut parse = String::new();
        for (name, op) in &ops {
            ensure!(ident_ok(name), "operation name {name} is not an identifier");
            let input = op.get("input").map(|i| target_shape(i, name)).transpose()?;
            let output = op
                .get("output")
                .map(|o| target_shape(o, name))
                .transpose()?;
            let io = match (input, output) {
                (Some(i), Some(o)) => format!("Input [`{i}`], output [`{o}`]."),
                (Some(i), None) => format!("Input [`{i}`], empty output."),
                (None, Some(o)) => format!("No input, output [`{o}`]."),
                (None, None) => "No input or output.".to_owned(),
            };
            writeln!(variants, "/// `{name}`. {io}\n{name},")?;
            writeln!(all, "Operation::{name},")?;
            writeln!(names, "Operation::{name} => {name:?},")?;
            writeln!(from_name, "{name:?} => Some(Operation::{name}),")?;
            let errs: Vec<String> = op
                .get("errors")
                .and_then(Json::as_array)
                .unwrap_or(&[])
                .iter()
                .map(|e| target_shape(e, name).map(|s| format!("ErrorCode::{s}")))
                .collect::<Result<_>>()?;
            writeln!(errors, "Operation::{name} => &[{}],", errs.join(", "))?;
            match input {
                Some(i) => writeln!(
                    parse,
                    "Operation::{name} => crate::parse_request::<{i}>(body).map(drop),"
                )?,
                None => writeln!(parse, "Operation::{name} => Ok(()),")?,
            }
        }
        let count = ops.len();
        let target = format!("{}.", self.m.target_prefix);
        self.w(&format!(
            "/// The operations of the service model ({count}).\n\
             #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\n\
             pub enum Operation {{\n{variants}}}\n\n\
             impl Operation {{\n\
             /// Every operation, in model order.\n\
             pub const ALL: &'static [Operation] = &[\n{all}];\n\n\
             /// The operation name, e.g. `\"Encrypt\"`.\n\
             pub fn name(self) -> &'static str {{\nmatch self {{\n{names}}}\n}}\n\n\
             /// Looks an operation up by its bare name (`\"Encrypt\"`).\n\
             pub fn from_name(name: &str) -> Option<Operation> {{\nmatch name {{\n{from_name}_ => None,\n}}\n}}\n\n\
             /// Parses an `X-Amz-Target` value; only `{target}<Name>` is accepted.\n\
             pub fn from_target(target: &str) -> Option<Operation> {{\n\
             Operation::from_name(target.strip_prefix({target:?})?)\n}}\n\n\
             /// The errors the model lists for this operation.\n\
             pub fn errors(self) -> &'static [ErrorCode] {{\nmatch self {{\n{errors}}}\n}}\n\n\
             /// Reads `body` as this operation's request and validates it, as the\n\
             /// server does before dispatch ([`crate::parse_request`] with the\n\
             /// operation's input struct); the request itself is dropped. For code\n\
             /// that covers every operation, such as the fuzz targets.\n\
             pub fn parse_and_validate(self, body: &[u8]) -> Result<(), crate::RequestError> {{\nmatch self {{\n{parse}}}\n}}\n\
             }}\n\n\
             impl fmt::Display for Operation {{\n\
             fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {{\nf.write_str(self.name())\n}}\n}}\n"
        ));
        Ok(())
    }

    fn error_codes(&mut self) -> Result<()> {
        let modeled = self.exception_names();
        let mut seen = HashSet::new();
        let mut variants = String::new();
        let mut all = String::new();
        let mut as_str = String::new();
        let mut from_type = String::new();
        let mut faults = vec![];
        let mut status_other = String::new();
        for name in &modeled {
            ensure!(ident_ok(name), "exception name {name} is not an identifier");
            seen.insert(name.to_string());
            let shape = self.m.shape(name)?;
            let fault = flag(shape, "fault");
            let kind = if fault {
                "Server fault (500)"
            } else {
                "Client error (400)"
            };
            writeln!(variants, "/// `{name}` (model). {kind}.\n{name},")?;
            if fault {
                faults.push(format!("ErrorCode::{name}"));
            }
        }
        for (name, status, note) in PROTOCOL_ERRORS {
            ensure!(
                seen.insert(name.to_string()),
                "{name} is also a model exception"
            );
            writeln!(
                variants,
                "/// `{name}` (protocol, {status}). {note}\n{name},"
            )?;
            if *status != 400 {
                writeln!(status_other, "ErrorCode::{name} => {status},")?;
            }
        }
        let names: Vec<&str> = modeled
            .iter()
            .copied()
            .chain(PROTOCOL_ERRORS.iter().map(|(n, _, _)| *n))
            .collect();
        for name in &names {
            writeln!(all, "ErrorCode::{name},")?;
            writeln!(as_str, "ErrorCode::{name} => {name:?},")?;
            writeln!(from_type, "{name:?} => Some(ErrorCode::{name}),")?;
        }
        let modeled_pat = modeled
            .iter()
            .map(|n| format!("ErrorCode::{n}"))
            .collect::<Vec<_>>()
            .join(" | ");
        let fault_arm = if faults.is_empty() {
            String::new()
        } else {
            format!("{} => 500,\n", faults.join(" | "))
        };
        let (n_model, n_total) = (modeled.len(), names.len());
        self.w(&format!(
            "/// Error `__type` names: the {n_model} exception shapes of the model, then the\n\
             /// protocol-level errors of AWS JSON services ({n_total} in all).\n\
             #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\n\
             pub enum ErrorCode {{\n{variants}}}\n\n\
             impl ErrorCode {{\n\
             /// Every error code: model exceptions first, then protocol errors.\n\
             pub const ALL: &'static [ErrorCode] = &[\n{all}];\n\n\
             /// The `__type` string of the error body, e.g. `\"NotFoundException\"`.\n\
             pub fn as_str(self) -> &'static str {{\nmatch self {{\n{as_str}}}\n}}\n\n\
             /// HTTP status: 500 for the model's faults, 413 for an oversized body, 408 for a body too slow, else 400.\n\
             pub fn http_status(self) -> u16 {{\nmatch self {{\n{fault_arm}{status_other}_ => 400,\n}}\n}}\n\n\
             /// Whether this error is an exception shape of the service model.\n\
             pub fn is_modeled(self) -> bool {{\nmatches!(self, {modeled_pat})\n}}\n\n\
             /// Parses a `__type` value; a `namespace#` prefix (as some AWS services send) is ignored.\n\
             pub fn from_type(type_name: &str) -> Option<ErrorCode> {{\n\
             let name = type_name.rsplit_once('#').map_or(type_name, |(_, n)| n);\n\
             match name {{\n{from_type}_ => None,\n}}\n}}\n\
             }}\n\n\
             impl fmt::Display for ErrorCode {{\n\
             fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {{\nf.write_str(self.as_str())\n}}\n}}\n"
        ));
        Ok(())
    }

    fn enums(&mut self) -> Result<()> {
        let shapes = self.m.shapes.clone();
        for (name, shape) in shapes {
            if ty(shape) != "string" {
                continue;
            }
            let Some(values) = enum_values(shape) else {
                continue;
            };
            ensure!(!values.is_empty(), "enum {name} has no values");
            ensure!(ident_ok(name), "shape name {name} is not an identifier");
            let mut seen = BTreeSet::new();
            let mut variants = String::new();
            let mut consts = String::new();
            let mut as_str = String::new();
            let mut from = String::new();
            for (i, value) in values.iter().enumerate() {
                let v = variant_name(value);
                ensure!(
                    v != "Unknown",
                    "enum {name} has a value that maps to Unknown"
                );
                ensure!(
                    seen.insert(v.clone()),
                    "enum {name}: two values map to variant {v}"
                );
                if i == 0 {
                    variants.push_str("#[default]\n");
                }
                writeln!(variants, "/// `{value}`\n{v},")?;
                writeln!(consts, "{value:?},")?;
                writeln!(as_str, "{name}::{v} => {value:?},")?;
                writeln!(from, "{value:?} => {name}::{v},")?;
            }
            let deprecated = if flag(shape, "deprecated") {
                "\n///\n/// Marked deprecated in the model."
            } else {
                ""
            };
            self.w(&format!(
                "/// Model enum `{name}`.{deprecated}\n\
                 #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]\n\
                 pub enum {name} {{\n{variants}\
                 /// A value outside the model's set (validation rejects it).\n\
                 Unknown(String),\n}}\n\n\
                 impl {name} {{\n\
                 /// The model's values, in model order.\n\
                 pub const VALUES: &'static [&'static str] = &[\n{consts}];\n\n\
                 /// The wire string.\n\
                 pub fn as_str(&self) -> &str {{\nmatch self {{\n{as_str}{name}::Unknown(s) => s,\n}}\n}}\n\n\
                 /// Whether this is a value outside the model's set.\n\
                 pub fn is_unknown(&self) -> bool {{\nmatches!(self, {name}::Unknown(_))\n}}\n}}\n\n\
                 impl From<&str> for {name} {{\n\
                 fn from(s: &str) -> Self {{\nmatch s {{\n{from}other => {name}::Unknown(other.to_owned()),\n}}\n}}\n}}\n\n\
                 impl fmt::Display for {name} {{\n\
                 fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {{\nf.write_str(self.as_str())\n}}\n}}\n\n\
                 impl serde::Serialize for {name} {{\n\
                 fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {{\n\
                 serializer.serialize_str(self.as_str())\n}}\n}}\n\n\
                 impl<'de> serde::Deserialize<'de> for {name} {{\n\
                 fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {{\n\
                 crate::de::enum_from_str(deserializer)\n}}\n}}\n"
            ));
        }
        Ok(())
    }

    /// The Rust type of a shape as a struct field / collection element.
    fn rust_type(&mut self, name: &str) -> Result<String> {
        let shape = self.m.shape(name)?;
        Ok(match ty(shape) {
            "string" if shape.get("enum").is_some() => name.to_owned(),
            "string" => "String".to_owned(),
            "integer" => "i32".to_owned(),
            "long" => "i64".to_owned(),
            "boolean" => "bool".to_owned(),
            "timestamp" | "double" | "float" => "f64".to_owned(),
            "blob" if flag(shape, "sensitive") => {
                self.uses_secret_blob = true;
                "SecretBlob".to_owned()
            }
            "blob" => {
                self.uses_blob = true;
                "Blob".to_owned()
            }
            "list" => {
                let member = target_shape(shape.get("member").context("list member")?, name)?;
                format!("Vec<{}>", self.rust_type(member)?)
            }
            "map" => {
                let key = target_shape(shape.get("key").context("map key")?, name)?;
                let value = target_shape(shape.get("value").context("map value")?, name)?;
                let key_shape = self.m.shape(key)?;
                ensure!(
                    ty(key_shape) == "string" && key_shape.get("enum").is_none(),
                    "map {name}: only plain string keys are supported"
                );
                self.uses_btreemap = true;
                format!("BTreeMap<String, {}>", self.rust_type(value)?)
            }
            "structure" => {
                ensure!(
                    !flag(shape, "exception"),
                    "exception {name} used as a member"
                );
                name.to_owned()
            }
            other => bail!("shape {name}: unsupported type {other}"),
        })
    }

    fn constraint_summary(&self, name: &str) -> Result<String> {
        let shape = self.m.shape(name)?;
        let mut parts = vec![];
        let unit = match ty(shape) {
            "integer" | "long" => "value",
            "list" | "map" => "size",
            _ => "length",
        };
        match (num(shape, "min"), num(shape, "max")) {
            (Some(lo), Some(hi)) => parts.push(format!("{unit} {lo}..={hi}")),
            (Some(lo), None) => parts.push(format!("{unit} >= {lo}")),
            (None, Some(hi)) => parts.push(format!("{unit} <= {hi}")),
            (None, None) => {}
        }
        if let Some(p) = pattern(shape) {
            parts.push(format!("pattern `{p}`"));
        }
        if flag(shape, "sensitive") {
            parts.push("sensitive".to_owned());
        }
        Ok(parts.join(", "))
    }

    fn structs(&mut self) -> Result<()> {
        let mut inputs: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut outputs: HashMap<&str, Vec<&str>> = HashMap::new();
        for (op, def) in &self.m.operations {
            if let Some(i) = def.get("input") {
                inputs.entry(target_shape(i, op)?).or_default().push(op);
            }
            if let Some(o) = def.get("output") {
                outputs.entry(target_shape(o, op)?).or_default().push(op);
            }
        }
        let shapes = self.m.shapes.clone();
        for (name, shape) in shapes {
            if ty(shape) != "structure" || flag(shape, "exception") {
                continue;
            }
            ensure!(ident_ok(name), "shape name {name} is not an identifier");
            let mut doc = format!("/// Model structure `{name}`.");
            for op in inputs.get(name).into_iter().flatten() {
                write!(doc, " Input of [`Operation::{op}`].")?;
            }
            for op in outputs.get(name).into_iter().flatten() {
                write!(doc, " Output of [`Operation::{op}`].")?;
            }
            let members = members(shape)?;
            let mut fields = String::new();
            let mut sensitive_fields = vec![];
            let mut field_names = HashSet::new();
            for m in &members {
                let fname = field_name(m.name);
                ensure!(
                    field_names.insert(fname.clone()),
                    "{name}: two members map to field {fname}"
                );
                let target = self.m.shape(m.shape)?;
                let base = self.rust_type(m.shape)?;
                let is_enum = ty(target) == "string" && target.get("enum").is_some();
                if ty(target) == "string" && flag(target, "sensitive") {
                    sensitive_fields.push(fname.clone());
                }
                let mut fdoc = format!("`{}`", m.shape);
                if m.required {
                    fdoc.push_str(", required");
                }
                let summary = self.constraint_summary(m.shape)?;
                if !summary.is_empty() {
                    write!(fdoc, "; {summary}")?;
                }
                if m.deprecated {
                    fdoc.push_str("; deprecated in the model");
                }
                let rename = m.name;
                // A required list or map with no `min` in the model may be
                // present and empty (`"Tags": []`): kept apart from absent.
                let (attrs, fty) = if !m.required || empty_is_present(target) {
                    (
                        format!(
                            "#[serde(rename = {rename:?}, default, skip_serializing_if = \"Option::is_none\")]"
                        ),
                        format!("Option<{base}>"),
                    )
                } else if is_enum {
                    (
                        format!(
                            "#[serde(rename = {rename:?}, default = \"crate::de::missing_enum\", deserialize_with = \"crate::de::null_as_missing_enum\")]"
                        ),
                        base,
                    )
                } else {
                    (
                        format!(
                            "#[serde(rename = {rename:?}, default, deserialize_with = \"crate::de::null_as_default\")]"
                        ),
                        base,
                    )
                };
                writeln!(fields, "/// {fdoc}.\n{attrs}\npub {fname}: {fty},")?;
            }
            let derive_debug = if sensitive_fields.is_empty() {
                "Debug, "
            } else {
                ""
            };
            self.w(&format!(
                "{doc}\n#[derive({derive_debug}Default, Clone, serde::Serialize, serde::Deserialize)]\n\
                 pub struct {name} {{\n{fields}}}\n"
            ));
            if !sensitive_fields.is_empty() {
                let mut body = format!("f.debug_struct({name:?})");
                for m in &members {
                    let fname = field_name(m.name);
                    let label = fname.trim_start_matches("r#");
                    if sensitive_fields.contains(&fname) {
                        if m.required {
                            write!(body, ".field({label:?}, &crate::Redacted)")?;
                        } else {
                            write!(
                                body,
                                ".field({label:?}, &self.{fname}.as_ref().map(|_| crate::Redacted))"
                            )?;
                        }
                    } else {
                        write!(body, ".field({label:?}, &self.{fname})")?;
                    }
                }
                self.w(&format!(
                    "/// Sensitive string members are printed as `<redacted>`.\n\
                     impl fmt::Debug for {name} {{\n\
                     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {{\n{body}.finish()\n}}\n}}\n"
                ));
            }
        }
        Ok(())
    }

    // -- validation ---------------------------------------------------------

    /// Whether validating a value of this shape can ever report anything.
    fn is_constrained(&mut self, name: &str) -> Result<bool> {
        if let Some(&c) = self.constrained.get(name) {
            return Ok(c);
        }
        // Provisional answer guards against recursive shapes.
        self.constrained.insert(name.to_owned(), false);
        let shape = self.m.shape(name)?;
        let len = num(shape, "min").is_some_and(|n| n > 0) || num(shape, "max").is_some();
        let c = match ty(shape) {
            "string" => len || pattern(shape).is_some() || shape.get("enum").is_some(),
            "blob" => len,
            "integer" | "long" => num(shape, "min").is_some() || num(shape, "max").is_some(),
            "list" => {
                let member = target_shape(shape.get("member").context("list member")?, name)?;
                len | self.is_constrained(member)?
            }
            "map" => {
                let key = target_shape(shape.get("key").context("map key")?, name)?;
                let value = target_shape(shape.get("value").context("map value")?, name)?;
                ensure!(
                    !self.is_constrained(key)? && !self.is_constrained(value)?,
                    "map {name}: constraints on keys/values are not supported (no path format)"
                );
                len
            }
            "structure" => {
                let ms = members(shape)?;
                let mut any = ms.iter().any(|m| m.required);
                for m in &ms {
                    any |= self.is_constrained(m.shape)?;
                }
                any
            }
            _ => false,
        };
        self.constrained.insert(name.to_owned(), c);
        Ok(c)
    }

    /// Code that checks `value` (an expression of type `&T`, `T` the shape's
    /// Rust type) at `path` (an expression of type `&Path`).
    fn call_check(&self, name: &str, path: &str, value: &str) -> Result<String> {
        let shape = self.m.shape(name)?;
        Ok(match ty(shape) {
            "structure" => format!("{value}.validate_at({path}, out);"),
            "integer" | "long" => format!("{}(out, {path}, *{value});", check_fn(name)),
            _ => format!("{}(out, {path}, {value});", check_fn(name)),
        })
    }

    fn validation(&mut self) -> Result<()> {
        let shapes = self.m.shapes.clone();
        let mut regexes = vec![];
        for (name, shape) in &shapes {
            if flag(shape, "exception") || !self.is_constrained(name)? {
                continue;
            }
            let min = num(shape, "min").filter(|&n| n > 0);
            let max = num(shape, "max");
            match ty(shape) {
                "string" if shape.get("enum").is_some() => {
                    self.w(&format!(
                        "pub(crate) fn {f}(out: &mut Vec<String>, path: &Path<'_>, v: &{name}) {{\n\
                         if let {name}::Unknown(s) = v {{\nvd::enum_value(out, path, s, {name}::VALUES);\n}}\n}}\n",
                        f = check_fn(name)
                    ));
                }
                "string" => {
                    let show = !flag(shape, "sensitive");
                    let mut body = String::new();
                    if let Some(n) = min {
                        writeln!(body, "vd::str_min(out, path, v, {n}, {show});")?;
                    }
                    if let Some(n) = max {
                        writeln!(body, "vd::str_max(out, path, v, {n}, {show});")?;
                    }
                    if let Some(p) = pattern(shape) {
                        let re = regex_static(name);
                        let anchored = format!("^(?:{p})$");
                        regexes.push(format!(
                            "static {re}: LazyLock<Regex> = LazyLock::new(|| \
                             Regex::new({anchored:?}).expect(\"model pattern of {name}\"));"
                        ));
                        writeln!(
                            body,
                            "if !{re}.is_match(v) {{\nvd::pattern(out, path, v, {show}, {p:?});\n}}"
                        )?;
                    }
                    self.w(&format!(
                        "pub(crate) fn {f}(out: &mut Vec<String>, path: &Path<'_>, v: &str) {{\n{body}}}\n",
                        f = check_fn(name)
                    ));
                }
                "blob" | "list" | "map" => {
                    let rty = self.rust_type(name)?;
                    let arg = match ty(shape) {
                        "list" => format!("&[{}]", &rty[4..rty.len() - 1]),
                        _ => format!("&{rty}"),
                    };
                    let mut body = String::new();
                    if let Some(n) = min {
                        writeln!(body, "vd::len_min(out, path, v.len(), {n});")?;
                    }
                    if let Some(n) = max {
                        writeln!(body, "vd::len_max(out, path, v.len(), {n});")?;
                    }
                    if ty(shape) == "list" {
                        let member =
                            target_shape(shape.get("member").context("list member")?, name)?;
                        if self.is_constrained(member)? {
                            let call = self.call_check(member, "&Path::Index(path, i)", "item")?;
                            writeln!(body, "for (i, item) in v.iter().enumerate() {{\n{call}\n}}")?;
                        }
                    }
                    self.w(&format!(
                        "pub(crate) fn {f}(out: &mut Vec<String>, path: &Path<'_>, v: {arg}) {{\n{body}}}\n",
                        f = check_fn(name)
                    ));
                }
                "integer" | "long" => {
                    let rty = if ty(shape) == "integer" { "i32" } else { "i64" };
                    let mut body = String::new();
                    if let Some(n) = num(shape, "min") {
                        writeln!(body, "vd::int_min(out, path, i64::from(v), {n});")?;
                    }
                    if let Some(n) = max {
                        writeln!(body, "vd::int_max(out, path, i64::from(v), {n});")?;
                    }
                    self.w(&format!(
                        "pub(crate) fn {f}(out: &mut Vec<String>, path: &Path<'_>, v: {rty}) {{\n{body}}}\n",
                        f = check_fn(name)
                    ));
                }
                "structure" => self.struct_validation(name, shape)?,
                other => bail!("shape {name}: cannot validate type {other}"),
            }
        }
        // `Validate` for every (non-exception) structure.
        for (name, shape) in &shapes {
            if ty(shape) != "structure" || flag(shape, "exception") {
                continue;
            }
            let body = if self.is_constrained(name)? {
                "vd::run(|out| self.validate_at(&Path::Root, out))"
            } else {
                "Ok(())"
            };
            self.w(&format!(
                "impl Validate for {name} {{\n\
                 fn validate(&self) -> Result<(), ValidationError> {{\n{body}\n}}\n}}\n"
            ));
        }
        for r in &regexes {
            self.w(r);
            self.out.push('\n');
        }
        let forces: String = regexes
            .iter()
            .filter_map(|r| r.split(':').next())
            .map(|s| format!("LazyLock::force(&{});\n", s.trim_start_matches("static ")))
            .collect();
        self.w(&format!(
            "/// Compiles every model pattern (tests call this to catch unsupported syntax).\n\
             #[cfg(test)]\n\
             pub(crate) fn force_all_patterns() -> usize {{\n{forces}{}\n}}",
            regexes.len()
        ));
        Ok(())
    }

    fn struct_validation(&mut self, name: &str, shape: &Json) -> Result<()> {
        let mut body = String::new();
        for m in members(shape)? {
            let target = self.m.shape(m.shape)?;
            let tty = ty(target);
            let fname = field_name(m.name);
            let path_name = lower_camel(m.name);
            let constrained = self.is_constrained(m.shape)?;
            let is_enum = tty == "string" && target.get("enum").is_some();
            let nullable_empty = matches!(tty, "string" | "blob" | "list" | "map")
                && !is_enum
                && target.get("min").is_none();
            let p = format!("let p = Path::Field(path, {path_name:?});");
            if !m.required {
                if constrained {
                    let call = self.call_check(m.shape, "&p", "v")?;
                    writeln!(body, "if let Some(v) = &self.{fname} {{\n{p}\n{call}\n}}")?;
                }
            } else if is_enum {
                // A missing required enum deserializes to `Unknown("")`.
                let call = self.call_check(m.shape, "&p", &format!("&self.{fname}"))?;
                writeln!(
                    body,
                    "{{\n{p}\nif matches!(&self.{fname}, {ety}::Unknown(s) if s.is_empty()) {{\n\
                     vd::null(out, &p);\n}} else {{\n{call}\n}}\n}}",
                    ety = m.shape
                )?;
            } else if empty_is_present(target) {
                let call = if constrained {
                    format!(
                        " else if let Some(v) = &self.{fname} {{\n{}\n}}",
                        self.call_check(m.shape, "&p", "v")?
                    )
                } else {
                    String::new()
                };
                writeln!(
                    body,
                    "{{\n{p}\nif self.{fname}.is_none() {{\nvd::null(out, &p);\n}}{call}\n}}"
                )?;
            } else if nullable_empty {
                // No `min` in the model: an empty value is how absence shows.
                let call = if constrained {
                    format!(
                        " else {{\n{}\n}}",
                        self.call_check(m.shape, "&p", &format!("&self.{fname}"))?
                    )
                } else {
                    String::new()
                };
                writeln!(
                    body,
                    "{{\n{p}\nif self.{fname}.is_empty() {{\nvd::null(out, &p);\n}}{call}\n}}"
                )?;
            } else if constrained {
                let call = self.call_check(m.shape, "&p", &format!("&self.{fname}"))?;
                writeln!(body, "{{\n{p}\n{call}\n}}")?;
            }
        }
        self.w(&format!(
            "impl {name} {{\n\
             pub(crate) fn validate_at(&self, path: &Path<'_>, out: &mut Vec<String>) {{\n{body}}}\n}}\n"
        ));
        Ok(())
    }
}

/// Whether an empty value of this shape is a value: a list or map with no
/// `min` (AWS takes `"Tags": []` as an empty list, not a missing one). An
/// empty string or blob with no `min` is taken as absent.
fn empty_is_present(shape: &Json) -> bool {
    matches!(ty(shape), "list" | "map") && shape.get("min").is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naming() {
        assert_eq!(snake_case("KeyId"), "key_id");
        assert_eq!(snake_case("AWSAccountId"), "aws_account_id");
        assert_eq!(snake_case("CloudHsmClusterId"), "cloud_hsm_cluster_id");
        assert_eq!(snake_case("KMSInternalException"), "kms_internal_exception");
        assert_eq!(field_name("Type"), "r#type");
        assert_eq!(lower_camel("NumberOfBytes"), "numberOfBytes");
        assert_eq!(variant_name("SYMMETRIC_DEFAULT"), "SymmetricDefault");
        assert_eq!(variant_name("RSA_2048"), "Rsa2048");
        assert_eq!(variant_name("ECC_NIST_P256"), "EccNistP256");
        assert_eq!(variant_name("AES_256"), "Aes256");
        assert_eq!(variant_name("ML_DSA_44"), "MlDsa44");
        assert_eq!(variant_name("Enabled"), "Enabled");
        assert_eq!(variant_name("ReEncryptFrom"), "ReEncryptFrom");
        assert_eq!(variant_name("SM2"), "Sm2");
        assert_eq!(variant_name("AWS"), "Aws");
        assert_eq!(variant_name("SELF"), "Self_");
    }

    #[test]
    fn vendored_model_has_no_documentation() {
        let model = load_vendored_model().expect("vendored model");
        assert!(
            !model.contains_key(DOC_KEYS),
            "xtask/model/{MODEL_FILE} contains documentation keys; run `cargo run -p xtask -- codegen --vendor`"
        );
        let m = Model::new(&model).unwrap();
        assert!(!m.operations.is_empty() && !m.shapes.is_empty());
    }

    /// Regenerates in memory and compares with the committed file.
    #[test]
    fn generated_rs_is_up_to_date() {
        let fresh = generate_formatted().expect("generating from the vendored model");
        let path = generated_path();
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if fresh != committed {
            let line = fresh
                .lines()
                .zip(committed.lines())
                .position(|(a, b)| a != b)
                .map_or_else(
                    || fresh.lines().count().min(committed.lines().count()) + 1,
                    |i| i + 1,
                );
            panic!(
                "{} is stale (first difference at line {line}). \
                 Regenerate it with `cargo run -p xtask -- codegen` and commit the result.",
                path.display()
            );
        }
    }
}
