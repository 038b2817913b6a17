//! Decoded query and form values (Go's `url.ParseQuery`, `Request.FormValue`).
//!
//! [`Request::query_value`](super::Request::query_value) returns bytes as sent; a handler
//! that wants what the user typed reads [`Request::form_value`](super::Request::form_value),
//! which percent-decodes, reads `+` as a space, and takes `POST`, `PUT` and `PATCH` bodies
//! of type `application/x-www-form-urlencoded` into account (their values first), as Go's
//! `FormValue` does. The form is parsed on first use and kept with the request; a request
//! whose handler never asks allocates nothing.
use std::io::Read;

/// The most body bytes read for a form (Go's limit for `ParseForm`); a longer form body
/// is left out, its query values still count.
pub(super) const MAX_FORM_BODY: u64 = 10 << 20;

/// Percent-decodes `s`, with `+` as a space (query and form encoding). `None` if a `%` is
/// not followed by two hex digits or the result is not UTF-8.
pub(super) fn unescape(s: &str) -> Option<String> {
    decode(s, true)
}

/// Percent-decodes a URL path (`+` stays `+`); `None` as for [`unescape`].
pub(super) fn unescape_path(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    decode(s, false)
}

fn decode(s: &str, plus_is_space: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                // Two hex digits exactly (`from_str_radix` alone would take "+1").
                let hex = b
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
                continue;
            }
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Appends the `key=value` pairs of `query` (`&`-separated), decoded; pairs that do not
/// decode are skipped, as Go skips them.
pub(super) fn parse_into(query: &str, out: &mut Vec<(String, String)>) {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if let (Some(k), Some(v)) = (unescape(k), unescape(v)) {
            out.push((k, v));
        }
    }
}

/// Reads a form body of up to [`MAX_FORM_BODY`] bytes; `None` if it is longer, or the read
/// fails, or it is not UTF-8.
pub(super) fn read_body(body: &mut impl Read) -> Option<String> {
    let mut text = String::new();
    let n = body
        .take(MAX_FORM_BODY + 1)
        .read_to_string(&mut text)
        .ok()?;
    (n as u64 <= MAX_FORM_BODY).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_decode_as_go_decodes_them() {
        assert_eq!(unescape("a+b%20c%2B%e2%82%ac").as_deref(), Some("a b c+€"));
        assert_eq!(unescape("plain").as_deref(), Some("plain"));
        assert_eq!(unescape_path("/a+b%20c").as_deref(), Some("/a+b c"));
        for bad in ["%", "%2", "%zz", "%ff", "%+1", "%-1"] {
            assert_eq!(unescape(bad), None, "{bad}");
        }
        let mut v = Vec::new();
        parse_into("a=1&b=x+y&&c&bad=%zz&a=2", &mut v);
        let v: Vec<(&str, &str)> = v.iter().map(|(k, v)| (&**k, &**v)).collect();
        assert_eq!(v, [("a", "1"), ("b", "x y"), ("c", ""), ("a", "2")]);
    }
}
