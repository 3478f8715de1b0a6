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

/// Wildcard match of the whole of `s` against `pat`: `*` any run, `?` one
/// character. Segment by segment (the pieces between `*`s): the first must
/// match at the start, the last at the end, and each one between at its
/// leftmost place after the one before (leftmost is never worse). A
/// case-sensitive segment of plain text is found with the standard
/// library's linear substring search, so a pattern and a value that both
/// come from a request (a policy variable) cost time linear in their
/// lengths, not their product. A segment with `?` (only a policy's author
/// writes one) or a case-insensitive one (actions: Trent's own short
/// names) is searched position by position.
pub(crate) fn glob<P: AsPiece>(pat: &[P], s: &str, ci: bool) -> bool {
    let mut segments = pat.split(|p| matches!(p.piece(), Piece::Star));
    let first = segments.next().unwrap_or_default();
    let Some(last) = segments.next_back() else {
        // No `*`: the one segment is the whole string.
        return match_at(first, s, 0, ci) == Some(s.len());
    };
    let Some(mut at) = match_at(first, s, 0, ci) else {
        return false;
    };
    // The last segment matches a fixed number of characters: it starts
    // that many characters before the end.
    let Some(tail) = chars_back(s, segment_chars(last)) else {
        return false;
    };
    if tail < at || match_at(last, s, tail, ci) != Some(s.len()) {
        return false;
    }
    for segment in segments {
        match find(segment, s, at, tail, ci) {
            Some(end) => at = end,
            None => return false,
        }
    }
    true
}

/// Characters a segment (no `*`) matches.
fn segment_chars<P: AsPiece>(segment: &[P]) -> usize {
    segment
        .iter()
        .map(|p| match p.piece() {
            Piece::Lit(text) => text.chars().count(),
            Piece::One | Piece::Never | Piece::Star => 1,
        })
        .sum()
}

/// The byte offset `n` characters before the end of `s`.
fn chars_back(s: &str, n: usize) -> Option<usize> {
    if n == 0 {
        return Some(s.len());
    }
    s.char_indices().rev().nth(n - 1).map(|(i, _)| i)
}

/// Where `segment` (no `*`) ends when it matches `s` from byte `at`.
fn match_at<P: AsPiece>(segment: &[P], s: &str, at: usize, ci: bool) -> Option<usize> {
    let mut rest = s.get(at..)?.chars();
    for piece in segment {
        match piece.piece() {
            Piece::Lit(text) => {
                for pc in text.chars() {
                    if !char_eq(pc, rest.next()?, ci) {
                        return None;
                    }
                }
            }
            Piece::One => {
                rest.next()?;
            }
            Piece::Never | Piece::Star => return None,
        }
    }
    Some(s.len() - rest.as_str().len())
}

/// The end of the leftmost match of `segment` (no `*`) in `s[from..limit]`.
fn find<P: AsPiece>(segment: &[P], s: &str, from: usize, limit: usize, ci: bool) -> Option<usize> {
    let haystack = s.get(from..limit)?;
    let found = match segment {
        _ if ci => return find_stepwise(segment, s, from, limit, ci),
        [one] => match one.piece() {
            Piece::Lit(text) => haystack.find(text).map(|i| i + text.len()),
            _ => return find_stepwise(segment, s, from, limit, ci),
        },
        _ => {
            // Several pieces of text (a variable beside text): one needle.
            let text: Option<String> = segment
                .iter()
                .map(|p| match p.piece() {
                    Piece::Lit(text) => Some(text),
                    _ => None,
                })
                .collect();
            let Some(text) = text else {
                return find_stepwise(segment, s, from, limit, ci);
            };
            haystack.find(&text).map(|i| i + text.len())
        }
    };
    found.map(|end| end + from)
}

/// [`find`] position by position (a segment with `?`, or case folding
/// beyond ASCII).
fn find_stepwise<P: AsPiece>(
    segment: &[P],
    s: &str,
    from: usize,
    limit: usize,
    ci: bool,
) -> Option<usize> {
    let window = s.get(..limit)?;
    let mut at = from;
    loop {
        if let Some(end) = match_at(segment, window, at, ci) {
            return Some(end);
        }
        at += window.get(at..)?.chars().next()?.len_utf8();
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
