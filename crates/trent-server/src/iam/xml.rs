//! A tiny XML writer for Query-protocol responses, and the encodings AWS
//! uses inside them (ISO 8601 dates, URL-encoded policy documents).

/// Appends elements to a string; text is escaped, tags are trusted
/// (they are all literals of this module's callers).
#[derive(Default)]
pub(super) struct Xml {
    buf: String,
}

impl Xml {
    pub(super) fn new() -> Self {
        Self::default()
    }

    pub(super) fn open(&mut self, tag: &str) {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push('>');
    }

    /// An opening tag with the service's namespace.
    pub(super) fn open_ns(&mut self, tag: &str, namespace: &str) {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push_str(" xmlns=\"");
        escape_into(&mut self.buf, namespace, true);
        self.buf.push_str("\">");
    }

    pub(super) fn close(&mut self, tag: &str) {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
    }

    /// `<tag>…</tag>` around whatever `body` writes.
    pub(super) fn element(&mut self, tag: &str, body: impl FnOnce(&mut Self)) {
        self.open(tag);
        body(self);
        self.close(tag);
    }

    /// `<tag>text</tag>`, the text escaped.
    pub(super) fn text(&mut self, tag: &str, text: &str) {
        self.open(tag);
        escape_into(&mut self.buf, text, false);
        self.close(tag);
    }

    /// [`text`](Self::text) when there is a value; nothing otherwise.
    pub(super) fn opt_text(&mut self, tag: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.text(tag, text);
        }
    }

    /// Appends already-escaped XML (another writer's output).
    pub(super) fn raw(&mut self, xml: &str) {
        self.buf.push_str(xml);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(super) fn as_str(&self) -> &str {
        &self.buf
    }

    pub(super) fn into_string(self) -> String {
        self.buf
    }
}

/// Escapes element content, or (`attribute`) a double-quoted attribute
/// value. Characters XML 1.0 cannot carry at all (most C0 controls) become
/// U+FFFD.
fn escape_into(out: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\t' | '\n' => out.push(c),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// Unix milliseconds as AWS's Query-protocol timestamps:
/// `2026-11-23T11:30:00Z` (UTC, whole seconds).
pub(super) fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Percent-encodes a policy document as IAM returns it: everything but
/// RFC 3986's unreserved characters, spaces as `%20` (botocore decodes
/// with `unquote`, which leaves `+` alone).
pub(super) fn url_encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text() {
        let mut x = Xml::new();
        x.text("M", "a<b & \"c\" 'd' >\u{1}");
        assert_eq!(x.as_str(), "<M>a&lt;b &amp; \"c\" 'd' &gt;\u{fffd}</M>");
        let mut x = Xml::new();
        x.open_ns("R", "x\"y");
        assert_eq!(x.as_str(), "<R xmlns=\"x&quot;y\">");
    }

    #[test]
    fn formats_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_440_938_160_999), "2015-08-30T12:36:00Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(-1000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn encodes_policies() {
        assert_eq!(
            url_encode("{\"A\": \"b+c/d\"}"),
            "%7B%22A%22%3A%20%22b%2Bc%2Fd%22%7D"
        );
        assert_eq!(url_encode("é"), "%C3%A9");
    }
}
