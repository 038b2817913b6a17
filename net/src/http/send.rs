//! Writing a client request: its head (with the checks that keep a caller's strings from
//! changing its framing), and a body streamed from a reader with a `Content-Length` or
//! chunked through the shared encoder of `wire.rs`.
use std::io::{self, Read};

use super::client_conn::Scheme;
use super::connection::Wire;
use super::syntax::{is_token, is_visible};
use super::wire;
use crate::pool;

/// A request as the caller gave it: method, URL, headers, body.
pub(super) type Req<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a [u8]);

/// What follows a request's head.
#[derive(Clone, Copy, Debug)]
pub(super) enum Payload<'b> {
    /// These bytes, sent with the head.
    Bytes(&'b [u8]),
    /// A body copied from a reader after the head: this many bytes, or chunked if unknown.
    Reader(Option<u64>),
}

/// The bytes of a request for `url` (its head, and a `Bytes` payload), and the scheme and
/// `host[:port]` to send them to. The client frames the body itself: the caller's `Content-Length` and
/// `Transfer-Encoding` headers are left out.
pub(super) fn request_head<'u>(
    method: &str,
    url: &'u str,
    headers: &[(&str, &str)],
    payload: Payload<'_>,
) -> io::Result<(Scheme, &'u str, Vec<u8>)> {
    let (scheme, authority, target) = split_url(url)?;
    check_fields(method, headers)?;
    let body = match payload {
        Payload::Bytes(b) => b,
        Payload::Reader(_) => &[],
    };
    let mut head = Vec::with_capacity(256 + body.len());
    // `http://h?q` asks for `/?q`.
    let slash = if target.starts_with('?') { "/" } else { "" };
    for part in [method, " ", slash, target, " HTTP/1.1\r\n"] {
        head.extend_from_slice(part.as_bytes());
    }
    let mut field = |n: &str, v: &str| {
        for part in [n, ": ", v, "\r\n"] {
            head.extend_from_slice(part.as_bytes());
        }
    };
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        field("Host", authority);
    }
    for (n, v) in headers {
        if !n.eq_ignore_ascii_case("content-length") && !n.eq_ignore_ascii_case("transfer-encoding")
        {
            field(n, v);
        }
    }
    let length = match payload {
        Payload::Reader(None) => {
            field("Transfer-Encoding", "chunked");
            None
        }
        Payload::Reader(Some(n)) => Some(n),
        Payload::Bytes(b) => (!b.is_empty()
            || !matches!(method, "GET" | "HEAD" | "DELETE" | "OPTIONS"))
        .then_some(b.len() as u64),
    };
    if let Some(n) = length {
        let mut digits = [0u8; 20];
        let len = super::response::itoa(n, &mut digits);
        field(
            "Content-Length",
            std::str::from_utf8(len).expect("ASCII digits"),
        );
    }
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(body);
    Ok((scheme, authority, head))
}

/// `http://host[:port]/path?q` -> (http, `host:port`, `/path?q`); `https://host?q` -> (https,
/// `host`, `?q`).
fn split_url(url: &str) -> io::Result<(Scheme, &str, &str)> {
    let (scheme, rest) =
        Scheme::split(url).ok_or_else(|| invalid("only http:// and https:// URLs"))?;
    let (auth, target) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if auth.is_empty() {
        return Err(invalid("URL without a host"));
    }
    if !auth.bytes().chain(target.bytes()).all(is_visible) {
        return Err(invalid("space or control character in the URL"));
    }
    Ok((scheme, auth, target))
}

/// Refuses what would let a caller's strings change the request's framing: a method or
/// header name that is not an HTTP token, a header value with CR, LF or NUL (Go's client
/// refuses the same).
fn check_fields(method: &str, headers: &[(&str, &str)]) -> io::Result<()> {
    if !is_token(method) {
        return Err(invalid("method is not an HTTP token"));
    }
    for (n, v) in headers {
        if !is_token(n) {
            return Err(invalid(&format!("header name {n:?} is not an HTTP token")));
        }
        if v.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(invalid(&format!(
                "CR, LF or NUL in the value of header {n}"
            )));
        }
    }
    Ok(())
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("goro-net http: {msg}"))
}

/// Most bytes of an upload read and sent at once.
const UPLOAD_PIECE: usize = 64 << 10;

/// Copies a request body from `body` to `c`: `length` bytes, or chunked if `None`.
/// `taken` turns true with the first byte read from `body`.
pub(super) fn send_body(
    c: Wire<'_>,
    body: &mut dyn Read,
    length: Option<u64>,
    taken: &mut bool,
) -> io::Result<()> {
    // Room for a chunk's size line before the data and its CRLF after, so each piece
    // goes out in one write.
    const PRE: usize = wire::CHUNK_LINE;
    let mut buf = pool::get(PRE + UPLOAD_PIECE + 2);
    let mut sent = 0u64;
    let short = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "goro-net http: request body does not match its length",
        )
    };
    loop {
        let left = length.map_or(u64::MAX, |n| n - sent);
        let want = UPLOAD_PIECE.min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            // All `length` bytes are out: a reader with more is a caller's mistake.
            let mut probe = [0u8; 1];
            if body.read(&mut probe)? > 0 {
                return Err(short());
            }
            return Ok(());
        }
        let n = match body.read(&mut buf[PRE..PRE + want]) {
            Ok(0) if length.is_some() => return Err(short()),
            Ok(0) => return c.write_all(b"0\r\n\r\n"),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        *taken = true;
        sent += n as u64;
        if length.is_some() {
            c.write_all(&buf[PRE..PRE + n])?;
            continue;
        }
        let mut line = [0u8; PRE];
        let size = wire::chunk_line(n, &mut line);
        let start = PRE - size.len();
        buf[start..PRE].copy_from_slice(size);
        buf[PRE + n..PRE + n + 2].copy_from_slice(b"\r\n");
        c.write_all(&buf[start..PRE + n + 2])?;
    }
}
