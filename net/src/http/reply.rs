//! Canned answers: Go's `http.Error`, `http.NotFound` and `http.Redirect`.
use std::io::Write;

use super::{Request, ResponseWriter};

/// Answers `code` with `msg` as plain text (Go's `http.Error`): sets `Content-Type` and
/// `X-Content-Type-Options: nosniff`, drops a `Content-Length` the handler set, writes `msg`
/// and a newline. The handler should write nothing more.
///
/// ```
/// use goro_net::http::{self, Request, ResponseWriter};
///
/// fn handler(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
///     if r.method() != "GET" {
///         return http::error(w, "only GET here", 405);
///     }
///     // ...
/// }
/// # let _ = handler;
/// ```
pub fn error(w: &mut ResponseWriter<'_>, msg: &str, code: u16) {
    w.header_del("Content-Length");
    w.header_set("Content-Type", "text/plain; charset=utf-8");
    w.header_set("X-Content-Type-Options", "nosniff");
    w.write_header(code);
    let _ = writeln!(w, "{msg}");
}

/// Answers 404 `404 page not found` (Go's `http.NotFound`).
pub fn not_found(w: &mut ResponseWriter<'_>, _r: &Request<'_>) {
    error(w, "404 page not found", 404);
}

/// Redirects to `url` with `code` (301, 302, 303, 307 or 308; Go's `http.Redirect`).
///
/// A `url` without a scheme is taken relative to the request's path and cleaned (`..`
/// resolved, the trailing slash kept), so `"edit"` from `/posts/7` sends the client to
/// `/posts/edit`. A `GET` gets a short HTML body naming the target, as Go sends, unless the
/// handler set its own `Content-Type`.
///
/// ```
/// use goro_net::http::{self, Request, ResponseWriter};
///
/// fn old_home(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
///     http::redirect(w, r, "/home", 301);
/// }
/// # let _ = old_home;
/// ```
pub fn redirect(w: &mut ResponseWriter<'_>, r: &Request<'_>, url: &str, code: u16) {
    let target = if url.contains("://") || url.starts_with("//") {
        url.to_string()
    } else {
        let (path, query) = url.split_at(url.find('?').unwrap_or(url.len()));
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            let old = r.path();
            let dir = &old[..old.rfind('/').map_or(0, |i| i + 1)];
            format!("{}{path}", if dir.is_empty() { "/" } else { dir })
        };
        let path = super::syntax::clean(&path).unwrap_or(path);
        format!("{path}{query}")
    };
    let had_type = w.header_get("Content-Type").is_some();
    w.header_set("Location", &target);
    if !had_type && matches!(r.method(), "GET" | "HEAD") {
        w.header_set("Content-Type", "text/html; charset=utf-8");
    }
    w.write_header(code);
    if !had_type && r.method() == "GET" {
        let _ = writeln!(
            w,
            "<a href=\"{}\">{}</a>.",
            html_escape(&target),
            super::reason(code)
        );
    }
}

/// `s` with the characters that are markup in HTML replaced by entities.
pub(super) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `name` (one path segment, maybe with a trailing `/`) percent-encoded for use in a URL:
/// every byte but the unreserved ones, `/` and a few safe sub-delimiters.
pub(super) fn escape_path(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
