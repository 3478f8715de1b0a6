//! Wildcard patterns (`*`, `?`) and policy-variable templates (`${aws:username}`),
//! compiled once and matched without allocating unless a variable must be
//! resolved.

use crate::{ConditionContext, Values};

/// One token of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Lit(Box<str>),
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: exactly one character.
    One,
    /// `${key}` or `${key, 'default'}`; `key` is lowercased.
    Var {
        key: Box<str>,
        default: Option<Box<str>>,
    },
}

/// How a pattern's text is read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (otherwise they are literal characters).
    pub wildcards: bool,
    /// `${...}` is a policy variable or an escape (Version 2012-10-17 only).
    pub variables: bool,
}

/// Splits `text` into tokens. Adjacent literals are merged and runs of `*`
/// collapse to one.
pub(crate) fn tokenize(text: &str, syntax: Syntax) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if syntax.variables
            && rest.starts_with("${")
            && let Some(end) = rest.find('}')
        {
            let inner = &rest[2..end];
            match inner {
                "*" => lit.push('*'),
                "?" => lit.push('?'),
                "$" => lit.push('$'),
                _ => {
                    let (key, default) = match inner.split_once(',') {
                        Some((key, default)) => {
                            let default = default.trim();
                            let default = default
                                .strip_prefix('\'')
                                .and_then(|d| d.strip_suffix('\''))
                                .unwrap_or(default);
                            (key.trim(), Some(default))
                        }
                        None => (inner.trim(), None),
                    };
                    if key.is_empty() {
                        lit.push_str(&rest[..=end]);
                    } else {
                        flush(&mut toks, &mut lit);
                        toks.push(Tok::Var {
                            key: key.to_ascii_lowercase().into(),
                            default: default.map(Into::into),
                        });
                    }
                }
            }
            rest = &rest[end + 1..];
            continue;
        }
        rest = &rest[c.len_utf8()..];
        match c {
            '*' if syntax.wildcards => {
                flush(&mut toks, &mut lit);
                if toks.last() != Some(&Tok::Star) {
                    toks.push(Tok::Star);
                }
            }
            '?' if syntax.wildcards => {
                flush(&mut toks, &mut lit);
                toks.push(Tok::One);
            }
            _ => lit.push(c),
        }
    }
    flush(&mut toks, &mut lit);
    toks
}

fn flush(toks: &mut Vec<Tok>, lit: &mut String) {
    if !lit.is_empty() {
        toks.push(Tok::Lit(std::mem::take(lit).into_boxed_str()));
    }
}

/// A compiled pattern, specialised for the common shapes.
#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    /// `*`
    Any,
    /// No wildcard, no variable.
    Exact(Box<str>),
    /// `prefix*` with no other wildcard or variable.
    Prefix(Box<str>),
    /// Wildcards, no variables.
    Glob(Box<[Tok]>),
    /// Contains policy variables, resolved at match time.
    Template(Box<[Tok]>),
}

impl Pattern {
    pub(crate) fn compile(text: &str, syntax: Syntax) -> Pattern {
        Pattern::from_toks(tokenize(text, syntax))
    }

    pub(crate) fn from_toks(toks: Vec<Tok>) -> Pattern {
        if toks.iter().any(|t| matches!(t, Tok::Var { .. })) {
            return Pattern::Template(toks.into());
        }
        match toks.as_slice() {
            [] => Pattern::Exact("".into()),
            [Tok::Star] => Pattern::Any,
            [Tok::Lit(s)] => Pattern::Exact(s.clone()),
            [Tok::Lit(s), Tok::Star] => Pattern::Prefix(s.clone()),
            _ => Pattern::Glob(toks.into()),
        }
    }

    /// Matches `s`; `ci` compares case-insensitively. Variables are looked
    /// up in `ctx`; an unresolvable variable (absent or multivalued key, no
    /// default) makes the pattern match nothing.
    pub(crate) fn matches(&self, s: &str, ci: bool, ctx: &dyn ConditionContext) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(p) => str_eq(p, s, ci),
            Pattern::Prefix(p) => {
                if ci {
                    glob(&[Piece::Lit(p), Piece::Star], s, true)
                } else {
                    s.starts_with(&**p)
                }
            }
            Pattern::Glob(toks) => glob(toks, s, ci),
            Pattern::Template(toks) => {
                with_resolved(toks, ctx, |pieces| glob(pieces, s, ci)).unwrap_or(false)
            }
        }
    }
}

/// Resolves the variables of `toks` and calls `f` with the resulting pieces;
/// `None` when a variable cannot be resolved.
pub(crate) fn with_resolved<R>(
    toks: &[Tok],
    ctx: &dyn ConditionContext,
    f: impl FnOnce(&[Piece<'_>]) -> R,
) -> Option<R> {
    let held: Vec<Option<Values<'_>>> = toks
        .iter()
        .filter_map(|t| match t {
            Tok::Var { key, .. } => Some(ctx.get(key)),
            _ => None,
        })
        .collect();
    let mut pieces = Vec::with_capacity(toks.len());
    let mut vars = held.iter();
    for t in toks {
        pieces.push(match t {
            Tok::Lit(s) => Piece::Lit(s),
            Tok::Star => Piece::Star,
            Tok::One => Piece::One,
            Tok::Var { default, .. } => {
                let value = vars
                    .next()
                    .and_then(|v| v.as_ref())
                    .and_then(Values::single);
                Piece::Lit(value.or(default.as_deref())?)
            }
        });
    }
    Some(f(&pieces))
}

/// A resolved pattern token.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Piece<'a> {
    Lit(&'a str),
    Star,
    One,
    /// Matches no character (an unresolved variable; never built in practice).
    Never,
}

pub(crate) trait AsPiece {
    fn piece(&self) -> Piece<'_>;
}

impl AsPiece for Piece<'_> {
    fn piece(&self) -> Piece<'_> {
        *self
    }
}

impl AsPiece for Tok {
    fn piece(&self) -> Piece<'_> {
        match self {
            Tok::Lit(s) => Piece::Lit(s),
            Tok::Star => Piece::Star,
            Tok::One => Piece::One,
            Tok::Var { .. } => Piece::Never,
        }
    }
}

/// One step of a pattern.
#[derive(Clone, Copy)]
enum Step {
    Star,
    One,
    Char(char),
    Never,
}

/// Position in a pattern: token index and byte offset inside a literal.
type Pos = (usize, usize);

fn next_step<P: AsPiece>(pat: &[P], (mut ti, mut off): Pos) -> Option<(Step, Pos)> {
    loop {
        let piece = pat.get(ti)?.piece();
        return Some(match piece {
            Piece::Star => (Step::Star, (ti + 1, 0)),
            Piece::One => (Step::One, (ti + 1, 0)),
            Piece::Never => (Step::Never, (ti + 1, 0)),
            Piece::Lit(s) => match s[off..].chars().next() {
                Some(c) => (Step::Char(c), (ti, off + c.len_utf8())),
                None => {
                    ti += 1;
                    off = 0;
                    continue;
                }
            },
        });
    }
}

/// Wildcard match of the whole of `s` against `pat`: `*` any run, `?` one
/// character. Linear-time greedy matching with backtracking to the last `*`.
pub(crate) fn glob<P: AsPiece>(pat: &[P], s: &str, ci: bool) -> bool {
    let mut p: Pos = (0, 0);
    let mut si = 0usize;
    let mut backtrack: Option<(Pos, usize)> = None;
    loop {
        let current = s[si..].chars().next();
        match (next_step(pat, p), current) {
            (Some((Step::Star, after)), _) => {
                backtrack = Some((after, si));
                p = after;
                continue;
            }
            (Some((Step::One, after)), Some(c)) => {
                si += c.len_utf8();
                p = after;
                continue;
            }
            (Some((Step::Char(pc), after)), Some(c)) if char_eq(pc, c, ci) => {
                si += c.len_utf8();
                p = after;
                continue;
            }
            (None, None) => return true,
            _ => {}
        }
        match backtrack {
            Some((bp, bs)) => match s[bs..].chars().next() {
                Some(c) => {
                    let next = bs + c.len_utf8();
                    backtrack = Some((bp, next));
                    p = bp;
                    si = next;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

fn char_eq(a: char, b: char, ci: bool) -> bool {
    a == b
        || (ci
            && if a.is_ascii() && b.is_ascii() {
                a.eq_ignore_ascii_case(&b)
            } else {
                a.to_lowercase().eq(b.to_lowercase())
            })
}

/// String equality, optionally case-insensitive (Unicode lowercase folding).
pub(crate) fn str_eq(a: &str, b: &str, ci: bool) -> bool {
    if !ci {
        return a == b;
    }
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// An ARN pattern for the `Arn*` condition operators: each of the six
/// colon-separated parts is matched separately (wildcards do not cross a
/// colon, except in the last part, the resource, which may contain colons).
#[derive(Debug, Clone)]
pub(crate) enum ArnPattern {
    Parts(Box<[Pattern; 6]>),
    /// The value has fewer than six parts (e.g. `*`): matched as a whole.
    Whole(Pattern),
}

impl ArnPattern {
    pub(crate) fn compile(text: &str, variables: bool) -> ArnPattern {
        let toks = tokenize(
            text,
            Syntax {
                wildcards: true,
                variables,
            },
        );
        let colons: usize = toks
            .iter()
            .map(|t| {
                if let Tok::Lit(s) = t {
                    s.matches(':').count()
                } else {
                    0
                }
            })
            .sum();
        if colons < 5 {
            return ArnPattern::Whole(Pattern::from_toks(toks));
        }
        let mut parts: Vec<Vec<Tok>> = vec![Vec::new()];
        for tok in toks {
            match tok {
                Tok::Lit(s) => {
                    let mut rest: &str = &s;
                    while parts.len() < 6
                        && let Some((head, tail)) = rest.split_once(':')
                    {
                        push_lit(parts.last_mut().expect("non-empty"), head);
                        parts.push(Vec::new());
                        rest = tail;
                    }
                    push_lit(parts.last_mut().expect("non-empty"), rest);
                }
                other => parts.last_mut().expect("non-empty").push(other),
            }
        }
        let parts: [Pattern; 6] = parts
            .into_iter()
            .map(Pattern::from_toks)
            .collect::<Vec<_>>()
            .try_into()
            .expect("exactly six ARN parts");
        ArnPattern::Parts(Box::new(parts))
    }

    pub(crate) fn matches(&self, s: &str, ctx: &dyn ConditionContext) -> bool {
        match self {
            ArnPattern::Whole(p) => p.matches(s, false, ctx),
            ArnPattern::Parts(parts) => {
                let mut segs = s.splitn(6, ':');
                parts
                    .iter()
                    .all(|p| segs.next().is_some_and(|seg| p.matches(seg, false, ctx)))
            }
        }
    }
}

fn push_lit(toks: &mut Vec<Tok>, s: &str) {
    if s.is_empty() {
        return;
    }
    if let Some(Tok::Lit(prev)) = toks.last_mut() {
        let mut joined = String::with_capacity(prev.len() + s.len());
        joined.push_str(prev);
        joined.push_str(s);
        *prev = joined.into_boxed_str();
    } else {
        toks.push(Tok::Lit(s.into()));
    }
}
