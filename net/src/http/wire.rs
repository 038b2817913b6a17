//! HTTP/1.1 wire framing shared by the server and the client: the one chunked decoder, and
//! the checks of the header values that decide where a message ends.
//!
//! Framing is where request smuggling lives: if two parsers on a path (a proxy and this
//! server, or this server and itself on a keep-alive connection) disagree on where a body
//! ends, bytes one takes for body the other takes for a new request. So every rule here is
//! exact, and anything outside the grammar is an error that ends the connection (the
//! server answers 400 and closes), never a guess.
//!
//! # Chunked bodies (RFC 9112 §7.1)
//!
//! ```text
//! chunked-body = *chunk last-chunk trailer-section CRLF
//! chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! last-chunk   = 1*("0") [ chunk-ext ] CRLF
//! ```
//!
//! | rule | goro | Go's `net/http` |
//! |---|---|---|
//! | line ends | `CRLF` only: a bare `LF`, or a `CR` inside a line, is an error | the same (since Go 1.22) |
//! | chunk size | 1 to 16 hex digits; none (an empty line, `;x`, `-1`, `+5`, `0x5`) is an error | the same |
//! | after the size | optional spaces or tabs, then nothing or `;` and an extension of visible characters, spaces and tabs | cuts at `;`, extension bytes not checked |
//! | after chunk data | exactly `CRLF` | the same |
//! | a framing line | at most [`MAX_LINE`] bytes | 4,096 bytes |
//! | framing overhead | extensions may not exceed 16 KiB beyond 16 bytes + twice the data per chunk | the same rule |
//! | trailers | `name: value` lines (token name, no obs-fold, no control characters), ended by an empty line, [`MAX_TRAILERS`] bytes in all; kept by the client's readers (only the fields [`trailer_allowed`] passes), dropped by the server's body reader | `textproto` header lines within the reader's 4 KiB buffer |
//!
//! The encoder is [`chunk_line`] (the size line before each chunk a response or upload
//! sends). [`Chunked`] is sans-I/O: it is given whatever bytes are buffered and says how many
//! framing bytes it took and what comes next, so the server's request body, the client's
//! whole-body read, [`StreamingResponse`](super::StreamingResponse) and the pipelining
//! client all run the same state machine over their own buffers.
//!
//! # Content-Length
//!
//! [`content_length`]: 1 to 19 decimal digits, surrounding spaces allowed, nothing else:
//! no sign, no hex, no list (`5, 5` is one header with a value that is not a number).
//! Several `Content-Length` lines must agree. [`FramingHeaders`] gathers these and the
//! `Transfer-Encoding` lines of a head for both sides: the server's request parser
//! (`conn.rs`) and the client's answer parser (`answer.rs`).
use super::syntax;

/// Longest chunk-size or trailer line, `CRLF` included (Go's `maxLineLength`).
pub(crate) const MAX_LINE: usize = 4096;
/// Most bytes of trailer lines after the last chunk, the final empty line included (Go
/// bounds them by its 4 KiB read buffer).
pub(crate) const MAX_TRAILERS: usize = 4096;
/// Framing bytes beyond the allowance per chunk before a body is refused as mostly
/// overhead (Go's rule: tiny chunks with long extensions cost work without data).
const MAX_EXCESS: u64 = 16 << 10;

/// Why a body's framing was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) &'static str);

/// What a [`Chunked`] decoder expects next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// This many data bytes of the current chunk (at least 1) may be read now; report them
    /// with [`Chunked::took`].
    Data(u64),
    /// The body ended: the last chunk, the trailers and the final `CRLF` were read.
    Done,
    /// The buffered bytes end inside a framing line: supply more.
    More,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk, with this many data bytes left.
    Data(u64),
    /// After a chunk's data: expecting its `CRLF`.
    DataEnd,
    /// After the last chunk: trailer lines up to the empty one.
    Trailers,
    /// The final `CRLF` was read.
    Done,
}

/// The chunked-body decoder (RFC 9112 §7.1), exact as the module docs describe.
///
/// Feed it the buffered bytes with [`advance`](Chunked::advance); it consumes framing
/// (never data) and says whether data, the end, or more bytes come next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chunked {
    state: State,
    /// Trailer bytes so far.
    trailers: usize,
    /// Framing bytes beyond the per-chunk allowance (Go's `excess`).
    excess: u64,
}

impl Default for Chunked {
    fn default() -> Chunked {
        Chunked::new()
    }
}

impl Chunked {
    /// A decoder at the start of a body.
    pub(crate) const fn new() -> Chunked {
        Chunked {
            state: State::Size,
            trailers: 0,
            excess: 0,
        }
    }

    /// True once the whole body, trailers included, was read.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Records that `n` data bytes of the current chunk were read (at most what the last
    /// [`Next::Data`] allowed).
    pub(crate) fn took(&mut self, n: u64) {
        if let State::Data(left) = self.state {
            debug_assert!(n <= left, "took more than the chunk holds");
            self.state = match left.saturating_sub(n) {
                0 => State::DataEnd,
                rest => State::Data(rest),
            };
        }
    }

    /// Consumes the framing at the front of `buf`: returns how many bytes it took and what
    /// comes next. On [`Next::More`] call again with those bytes gone and more after them;
    /// an error means the body (and the connection) cannot be trusted any further.
    pub(crate) fn advance(&mut self, buf: &[u8]) -> Result<(usize, Next), Malformed> {
        self.advance_keeping(buf, None)
    }

    /// [`advance`](Self::advance) that also appends each trailer line it takes (checked,
    /// with its `CRLF`) to `trailers`, for a reader that passes trailers on; at most
    /// [`MAX_TRAILERS`] bytes. Which fields may be trailers is the reader's to judge
    /// ([`trailer_allowed`]).
    pub(crate) fn advance_keeping(
        &mut self,
        buf: &[u8],
        mut trailers: Option<&mut Vec<u8>>,
    ) -> Result<(usize, Next), Malformed> {
        let mut used = 0;
        loop {
            let rest = &buf[used..];
            match self.state {
                State::Data(n) => return Ok((used, Next::Data(n))),
                State::Done => return Ok((used, Next::Done)),
                State::DataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        used += 2;
                        self.state = State::Size;
                    }
                    [] | [b'\r'] => return Ok((used, Next::More)),
                    _ => return Err(Malformed("chunk data not followed by CRLF")),
                },
                State::Size => {
                    let Some(line) = crlf_line(rest)? else {
                        return Ok((used, Next::More));
                    };
                    used += line.len() + 2;
                    let size = chunk_size(line)?;
                    // Go's allowance: 16 bytes of framing plus twice the data per chunk.
                    self.excess = (self.excess + line.len() as u64 + 2)
                        .saturating_sub(16 + size.saturating_mul(2));
                    if self.excess > MAX_EXCESS {
                        return Err(Malformed("chunked body is mostly framing"));
                    }
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::Data(size)
                    };
                }
                State::Trailers => {
                    let Some(line) = crlf_line(rest)? else {
                        if self.trailers + rest.len() >= MAX_TRAILERS {
                            return Err(Malformed("trailers too large"));
                        }
                        return Ok((used, Next::More));
                    };
                    used += line.len() + 2;
                    self.trailers += line.len() + 2;
                    if self.trailers > MAX_TRAILERS {
                        return Err(Malformed("trailers too large"));
                    }
                    if line.is_empty() {
                        self.state = State::Done;
                    } else if !is_field_line(line) {
                        return Err(Malformed("malformed trailer line"));
                    } else if let Some(keep) = trailers.as_deref_mut() {
                        keep.extend_from_slice(line);
                        keep.extend_from_slice(b"\r\n");
                    }
                }
            }
        }
    }
}

/// The line at the front of `buf` without its `CRLF`, once it is all there; an error if it
/// ends in a bare `LF`, holds a `CR`, or runs past [`MAX_LINE`].
fn crlf_line(buf: &[u8]) -> Result<Option<&[u8]>, Malformed> {
    let window = &buf[..buf.len().min(MAX_LINE)];
    let Some(i) = window.iter().position(|&b| b == b'\n') else {
        if buf.len() >= MAX_LINE {
            return Err(Malformed("chunk-size or trailer line too long"));
        }
        return Ok(None);
    };
    if i == 0 || buf[i - 1] != b'\r' {
        return Err(Malformed("bare LF in chunked framing"));
    }
    let line = &buf[..i - 1];
    if line.contains(&b'\r') {
        return Err(Malformed("bare CR in chunked framing"));
    }
    Ok(Some(line))
}

/// A chunk-size line (without `CRLF`): hex digits, optional spaces or tabs, then nothing
/// or a `;` extension.
fn chunk_size(line: &[u8]) -> Result<u64, Malformed> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(Malformed("chunk size without hex digits"));
    }
    if digits > 16 {
        return Err(Malformed("chunk size too long"));
    }
    let size = line[..digits].iter().fold(0u64, |n, &d| {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => d - b'A' + 10,
        };
        n << 4 | u64::from(v)
    });
    let rest = &line[digits..];
    let ws = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    match &rest[ws..] {
        [] => Ok(size),
        [b';', ext @ ..]
            if ext
                .iter()
                .all(|&b| is_field_vchar(b) || b == b' ' || b == b'\t') =>
        {
            Ok(size)
        }
        _ => Err(Malformed("malformed chunk size line")),
    }
}

/// A header or trailer line (without `CRLF`) of the form `token: value`: a token name,
/// no space before the colon, and a value of visible characters, spaces and tabs (a line
/// that starts with a space, the obsolete fold, has no name and fails).
fn is_field_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    !name.is_empty()
        && name.iter().all(|&b| syntax::is_tchar(b))
        && value
            .iter()
            .all(|&b| is_field_vchar(b) || b == b' ' || b == b'\t')
}

/// Whether field `name` may travel as a trailer, after the body (RFC 9110 §6.5.1): not
/// one that frames or routes the message, controls the request, authenticates, or
/// describes the content, which a recipient must have before the body (Go's
/// `badTrailer` list, plus `Set-Cookie` and `Date`), and a token. The client drops other
/// trailers it reads, and the server's writer refuses to send them, so a trailer cannot
/// smuggle a second `Content-Length` past a proxy.
pub(crate) fn trailer_allowed(name: &str) -> bool {
    const FORBIDDEN: [&str; 23] = [
        "authorization",
        "cache-control",
        "connection",
        "content-encoding",
        "content-length",
        "content-range",
        "content-type",
        "date",
        "expect",
        "host",
        "keep-alive",
        "max-forwards",
        "pragma",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "range",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "www-authenticate",
    ];
    !name.is_empty()
        && name.bytes().all(syntax::is_tchar)
        && !FORBIDDEN.iter().any(|f| f.eq_ignore_ascii_case(name))
}

/// The trailer fields of `raw` (lines kept by [`Chunked::advance_keeping`]) that
/// [may be trailers](trailer_allowed), as `(name, value)` with the value trimmed.
pub(crate) fn trailer_fields(raw: &[u8]) -> Vec<(String, String)> {
    raw.split(|&b| b == b'\n')
        .filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = line.iter().position(|&b| b == b':')?;
            let name = std::str::from_utf8(&line[..colon]).ok()?;
            let value = String::from_utf8_lossy(line[colon + 1..].trim_ascii());
            trailer_allowed(name).then(|| (name.to_string(), value.into_owned()))
        })
        .collect()
}

/// A visible character or `obs-text` (bytes of 0x80 and up), as field values allow.
fn is_field_vchar(b: u8) -> bool {
    b.is_ascii_graphic() || b >= 0x80
}

/// A `Content-Length` value: 1 to 19 decimal digits with optional surrounding spaces
/// (no sign, no hex, no list).
pub(crate) fn content_length(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// The headers that decide where a message's body ends (`Content-Length`,
/// `Transfer-Encoding`), gathered line by line as a head is read: the one place both the
/// server's request parser and the client's answer parser apply the rules of the module
/// docs. What a refusal means differs by side (the server answers 400 or 501; the client
/// fails the request), so the caller decides that.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FramingHeaders {
    /// The `Content-Length`, if any line gave one.
    pub(crate) length: Option<u64>,
    /// `Transfer-Encoding` lines seen.
    te_lines: u32,
    /// The last `Transfer-Encoding` line was exactly `chunked` (any case).
    te_chunked: bool,
}

impl FramingHeaders {
    /// Takes a `Content-Length` line: digits only ([`content_length`]), and the same value
    /// on every line.
    #[inline]
    pub(crate) fn content_length(&mut self, v: &[u8]) -> Result<(), Malformed> {
        let n = content_length(v).ok_or(Malformed("bad Content-Length"))?;
        if self.length.is_some_and(|l| l != n) {
            return Err(Malformed("conflicting Content-Length"));
        }
        self.length = Some(n);
        Ok(())
    }

    /// Takes a `Transfer-Encoding` line.
    #[inline]
    pub(crate) fn transfer_encoding(&mut self, v: &[u8]) {
        self.te_lines += 1;
        self.te_chunked = v.trim_ascii().eq_ignore_ascii_case(b"chunked");
    }

    /// True if any `Transfer-Encoding` line came.
    pub(crate) fn has_transfer_encoding(&self) -> bool {
        self.te_lines > 0
    }

    /// Go's rule for a message with `Transfer-Encoding`: exactly one line, of exactly
    /// `chunked`; anything else is refused.
    pub(crate) fn transfer_encoding_is_chunked(&self) -> bool {
        self.te_lines == 1 && self.te_chunked
    }
}

/// Bytes of the longest chunk-size line [`chunk_line`] writes.
pub(crate) const CHUNK_LINE: usize = 18;

/// The chunk-size line for a chunk of `n` bytes (`n` in hex, then CRLF), written at the end
/// of `buf`.
pub(crate) fn chunk_line(mut n: usize, buf: &mut [u8; CHUNK_LINE]) -> &[u8] {
    buf[CHUNK_LINE - 2..].copy_from_slice(b"\r\n");
    let mut i = CHUNK_LINE - 2;
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[n & 15];
        n >>= 4;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// The form of a request target (RFC 9112 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    /// `/path?query`.
    Origin,
    /// `http://authority/path?query` (or `https`): the host comes from `authority`, and
    /// `rest` is the origin-form part (`/` if the target has no path).
    Absolute { authority: &'a str, rest: &'a str },
    /// `*`, with `OPTIONS` only.
    Asterisk,
    /// `host:port`, with `CONNECT` only.
    Authority,
}

/// Classifies the request target of a `method` request; `None` for a target the server
/// must refuse (400): anything but the four forms of RFC 9112 §3.2, `*` with another
/// method than `OPTIONS`, an absolute form with another scheme than `http`/`https`, an
/// empty or [malformed](host) authority (`user@` included), or no `/` before the query.
pub(crate) fn target<'a>(method: &str, target: &'a str) -> Option<Target<'a>> {
    if target.starts_with('/') {
        return Some(Target::Origin);
    }
    if method == "CONNECT" {
        return host(target.as_bytes())
            .filter(|h| !h.is_empty())
            .map(|_| Target::Authority);
    }
    if target == "*" {
        return (method == "OPTIONS").then_some(Target::Asterisk);
    }
    let (scheme, after) = target.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    let end = after.find(['/', '?']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    if authority.is_empty() || host(authority.as_bytes()).is_none() {
        return None;
    }
    match rest {
        "" => Some(Target::Absolute {
            authority,
            rest: "/",
        }),
        r if r.starts_with('/') => Some(Target::Absolute { authority, rest }),
        _ => None,
    }
}

/// A `Host` value as text if its bytes are ones a host, an IP literal and a port can hold
/// (Go's `httpguts.ValidHostHeader`: letters, digits and ``!$%&'()*+,-.:;=[]_~``; empty
/// is valid).
pub(crate) fn host(v: &[u8]) -> Option<&str> {
    let ok = v.iter().all(|&b| HOST_BYTE[b as usize]);
    // All ASCII, so this never fails.
    ok.then(|| std::str::from_utf8(v).ok()).flatten()
}

/// The bytes `host` accepts, as a table: every request's `Host` goes through it, and a scan
/// of the 19 punctuation bytes per byte showed in the HTTPS keep-alive profile (0.6–0.8%).
static HOST_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let punct = b"!$%&'()*+,-.:;=[]_~";
    let mut i = 0;
    while i < punct.len() {
        t[punct[i] as usize] = true;
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `wire` fed in pieces of `step` bytes: the data and the bytes left after the
    /// body, or the error.
    fn decode(wire: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>), Malformed> {
        let mut d = Chunked::new();
        let (mut pos, mut have) = (0, step.min(wire.len()));
        let mut data = Vec::new();
        loop {
            let (used, next) = d.advance(&wire[pos..have])?;
            pos += used;
            match next {
                Next::Done => return Ok((data, wire[pos..].to_vec())),
                Next::Data(n) => {
                    let k = (n as usize).min(have - pos);
                    if k == 0 {
                        assert!(have < wire.len(), "ran out of input inside a chunk");
                        have = (have + step).min(wire.len());
                        continue;
                    }
                    data.extend_from_slice(&wire[pos..pos + k]);
                    pos += k;
                    d.took(k as u64);
                }
                Next::More => {
                    assert!(have < wire.len(), "ran out of input inside framing");
                    have = (have + step).min(wire.len());
                }
            }
        }
    }

    fn ok(wire: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let whole = decode(wire, wire.len()).unwrap();
        for step in [1, 2, 3, 7] {
            assert_eq!(decode(wire, step).unwrap(), whole, "fed {step} at a time");
        }
        whole
    }

    fn err(wire: &[u8]) -> &'static str {
        let e = decode(wire, wire.len()).unwrap_err();
        for step in [1, 3] {
            assert_eq!(decode(wire, step).unwrap_err(), e, "fed {step} at a time");
        }
        e.0
    }

    #[test]
    fn valid_bodies() {
        assert_eq!(ok(b"5\r\nhello\r\n0\r\n\r\nNEXT").0, b"hello");
        assert_eq!(ok(b"5\r\nhello\r\n0\r\n\r\nNEXT").1, b"NEXT");
        assert_eq!(ok(b"A\r\n0123456789\r\n00\r\n\r\n").0, b"0123456789");
        assert_eq!(ok(b"3;a=b;c=\"d e\"\r\nabc\r\n0;x\r\n\r\n").0, b"abc");
        assert_eq!(ok(b"3 \t;ext\r\nabc\r\n0 \r\n\r\n").0, b"abc");
        let t = ok(b"1\r\nx\r\n0\r\nX-Sum: 1\r\nX-Two:\tb\r\n\r\nGET");
        assert_eq!(t, (b"x".to_vec(), b"GET".to_vec()));
        assert_eq!(ok(b"0000000000000001\r\nx\r\n0\r\n\r\n").0, b"x");
    }

    #[test]
    fn smuggling_shapes_are_errors() {
        // The issue's case: a 2-byte line is not the end of the trailers.
        assert_eq!(err(b"0\r\nZ\n"), "bare LF in chunked framing");
        assert!(err(b"0\r\nZ\r\n\r\n").contains("trailer"));
        assert_eq!(err(b"\r\nabc"), "chunk size without hex digits");
        assert_eq!(err(b";x\r\n"), "chunk size without hex digits");
        assert_eq!(err(b"-1\r\n"), "chunk size without hex digits");
        assert_eq!(err(b"+5\r\n"), "chunk size without hex digits");
        assert_eq!(err(b"0x5\r\n"), "malformed chunk size line");
        assert_eq!(err(b"5\nhello\r\n"), "bare LF in chunked framing");
        assert_eq!(err(b"5\rX\r\n"), "bare CR in chunked framing");
        assert_eq!(
            err(b"5\r\nhello\n0\r\n\r\n"),
            "chunk data not followed by CRLF"
        );
        assert_eq!(
            err(b"5\r\nhelloXY0\r\n\r\n"),
            "chunk data not followed by CRLF"
        );
        assert_eq!(err(b"5\r\nhello\r\n0\r\n\n"), "bare LF in chunked framing");
        assert_eq!(
            err(b"5\r\nhello\r\n0\r\n\r\r\n"),
            "bare CR in chunked framing"
        );
        assert_eq!(err(b"11111111111111111\r\n"), "chunk size too long");
        assert_eq!(err(b"5 5\r\nhello\r\n"), "malformed chunk size line");
        assert_eq!(err(b"5;a\0b\r\nhello\r\n"), "malformed chunk size line");
        assert_eq!(err(b"0\r\n folded: x\r\n\r\n"), "malformed trailer line");
        assert_eq!(err(b"0\r\nX : y\r\n\r\n"), "malformed trailer line");
        assert_eq!(err(b"0\r\nX: a\0b\r\n\r\n"), "malformed trailer line");
    }

    #[test]
    fn trailers_are_kept_and_judged() {
        let wire = b"1\r\nx\r\n0\r\nX-Sum: 42 \r\nContent-Length: 9\r\nHost: h\r\nX-B:\tb\r\n\r\nN";
        for step in [1, 3, wire.len()] {
            let (mut d, mut kept, mut pos, mut have) = (Chunked::new(), Vec::new(), 0, step);
            loop {
                let (used, next) = d
                    .advance_keeping(&wire[pos..have], Some(&mut kept))
                    .unwrap();
                pos += used;
                match next {
                    Next::Done => break,
                    Next::Data(_) => {
                        if pos == have {
                            have = (have + step).min(wire.len());
                            continue;
                        }
                        pos += 1;
                        d.took(1);
                    }
                    Next::More => have = (have + step).min(wire.len()),
                }
            }
            assert_eq!(&wire[pos..], b"N");
            let fields = trailer_fields(&kept);
            let want = [("X-Sum", "42"), ("X-B", "b")].map(|(n, v)| (n.into(), v.into()));
            assert_eq!(fields, want, "fed {step} at a time");
        }
        assert!(trailer_allowed("X-Checksum") && trailer_allowed("Server-Timing"));
        for bad in [
            "transfer-encoding",
            "Content-Length",
            "HOST",
            "Trailer",
            "a b",
            "",
        ] {
            assert!(!trailer_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn bounds() {
        let mut long = vec![b'1'];
        long.extend(std::iter::repeat_n(b' ', MAX_LINE));
        assert_eq!(err(&long), "chunk-size or trailer line too long");
        let mut trailers = b"0\r\n".to_vec();
        for i in 0..300 {
            trailers.extend_from_slice(format!("X-T{i}: 0123456789\r\n").as_bytes());
        }
        trailers.extend_from_slice(b"\r\n");
        assert_eq!(err(&trailers), "trailers too large");
        // One byte of data per chunk under 1 KiB of extension: refused as overhead.
        let mut heavy = Vec::new();
        for _ in 0..40 {
            heavy.extend_from_slice(b"1;");
            heavy.extend(std::iter::repeat_n(b'e', 1000));
            heavy.extend_from_slice(b"\r\nx\r\n");
        }
        assert_eq!(err(&heavy), "chunked body is mostly framing");
    }

    #[test]
    fn targets_and_hosts() {
        use Target::*;
        assert_eq!(target("GET", "/a?b"), Some(Origin));
        assert_eq!(
            target("GET", "http://ex.com:8080/a?b"),
            Some(Absolute {
                authority: "ex.com:8080",
                rest: "/a?b"
            })
        );
        assert_eq!(
            target("GET", "HTTPS://[::1]"),
            Some(Absolute {
                authority: "[::1]",
                rest: "/"
            })
        );
        assert_eq!(target("OPTIONS", "*"), Some(Asterisk));
        assert_eq!(target("CONNECT", "ex.com:443"), Some(Authority));
        for (m, t) in [
            ("GET", "*"),
            ("GET", "ex.com"),
            ("GET", "ftp://ex.com/"),
            ("GET", "http:///x"),
            ("GET", "http://u@ex.com/"),
            ("GET", "http://ex.com?q"),
            ("CONNECT", ""),
        ] {
            assert_eq!(target(m, t), None, "{m} {t}");
        }
        assert_eq!(host(b"ex.com:80"), Some("ex.com:80"));
        assert_eq!(host(b""), Some(""));
        for bad in [&b"a b"[..], b"a/b", b"a\0", b"a@b", b"\xff"] {
            assert_eq!(host(bad), None);
        }
        // The table is Go's set exactly, byte by byte.
        for b in 0..=255u8 {
            let go = b.is_ascii_alphanumeric() || b"!$%&'()*+,-.:;=[]_~".contains(&b);
            assert_eq!(host(&[b]).is_some(), go, "byte {b:#04x}");
        }
    }

    #[test]
    fn encoded_chunks_decode() {
        let mut wire = Vec::new();
        for n in [1usize, 15, 16, 4096, 65535] {
            let mut line = [0u8; CHUNK_LINE];
            wire.extend_from_slice(chunk_line(n, &mut line));
            wire.extend(std::iter::repeat_n(b'x', n));
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(ok(&wire).0.len(), 1 + 15 + 16 + 4096 + 65535);
        let mut line = [0u8; CHUNK_LINE];
        assert_eq!(chunk_line(usize::MAX, &mut line), b"ffffffffffffffff\r\n");
    }

    #[test]
    fn framing_headers() {
        let mut f = FramingHeaders::default();
        assert_eq!(f.content_length(b"5"), Ok(()));
        assert_eq!(f.content_length(b" 5 "), Ok(()));
        assert_eq!(
            f.content_length(b"6").unwrap_err().0,
            "conflicting Content-Length"
        );
        assert_eq!(f.content_length(b"+6").unwrap_err().0, "bad Content-Length");
        assert_eq!(f.length, Some(5));
        assert!(!f.has_transfer_encoding());
        f.transfer_encoding(b" Chunked ");
        assert!(f.has_transfer_encoding() && f.transfer_encoding_is_chunked());
        f.transfer_encoding(b"chunked");
        assert!(!f.transfer_encoding_is_chunked(), "two lines");
        let mut g = FramingHeaders::default();
        g.transfer_encoding(b"gzip, chunked");
        assert!(g.has_transfer_encoding() && !g.transfer_encoding_is_chunked());
    }

    #[test]
    fn content_length_digits() {
        assert_eq!(content_length(b" 42 "), Some(42));
        assert_eq!(content_length(b"0"), Some(0));
        for bad in [
            &b"+1"[..],
            b"-1",
            b"",
            b"0x5",
            b"5, 5",
            b"5 5",
            b"99999999999999999999",
        ] {
            assert_eq!(
                content_length(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
