//! CSV (RFC 4180) lines: the one place that knows how a field is quoted.

use std::borrow::Cow;

/// A field as CSV writes it: quoted, with inner quotes doubled, when it holds a comma, a quote
/// or a line break; as it is otherwise.
///
/// ```
/// use vidcompare::util::csv::field;
/// assert_eq!(field("RF"), "RF");
/// assert_eq!(field("RF, motion+"), "\"RF, motion+\"");
/// assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
/// ```
pub fn field(s: &str) -> Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(s)
    }
}

/// Appends one record to `out`: the fields quoted as needed, comma-separated, ended by CRLF.
///
/// ```
/// let mut out = String::new();
/// vidcompare::util::csv::push_record(&mut out, ["video", "a,b"]);
/// assert_eq!(out, "video,\"a,b\"\r\n");
/// ```
pub fn push_record<S: AsRef<str>>(out: &mut String, fields: impl IntoIterator<Item = S>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&field(f.as_ref()));
    }
    out.push_str("\r\n");
}
