//! Static files: Go's `http.FileServer(http.Dir(root))`, `http.ServeFile` and
//! `http.StripPrefix`.
//!
//! File system calls block, so each runs on the blocking pool ([`goro::blocking`]): the
//! metadata look-up, the directory read, and the file's contents in pieces of up to
//! [`PIECE`], each written to the client before the next is read. The coroutine serving
//! the request parks meanwhile; the worker goes on with the others.
//!
//! The request path is percent-decoded, then cleaned (`.`, `..` and empty segments
//! resolved as in Go's `path.Clean`) before it is joined to the root, so no request reaches
//! outside it through the path. Symbolic links inside the root are followed, as Go's
//! `http.Dir` follows them.
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::{Handler, Request, ResponseWriter};

/// Most bytes read from a file per call on the blocking pool.
const PIECE: usize = 256 << 10;

/// Serves the files under a directory (Go's `http.FileServer(http.Dir(root))`).
///
/// `GET` and `HEAD` only (405 otherwise). A directory is served as its `index.html`, or
/// else as a listing of its entries; a directory's URL without its trailing slash is
/// redirected to it, and `.../index.html` to `.../`. Files get a `Content-Type` from their
/// extension (or `text/plain` for UTF-8 text, else `application/octet-stream`),
/// `Last-Modified`, `304 Not Modified` when `If-Modified-Since` is not older than the file,
/// `412 Precondition Failed` when `If-Unmodified-Since` is (dates in any of HTTP's three
/// forms, compared in whole seconds), and byte ranges (`Range: bytes=...`, answered `206`,
/// several at once as `multipart/byteranges`, or `416` when none is inside the file).
///
/// ```no_run
/// use goro_net::http::{self, FileServer, ServeMux};
///
/// let mut mux = ServeMux::new();
/// // GET /static/css/site.css serves ./public/css/site.css
/// mux.handle("/static/", http::strip_prefix("/static", FileServer::new("./public")));
/// http::listen_and_serve("127.0.0.1:8080", mux).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct FileServer {
    root: PathBuf,
}

impl FileServer {
    /// Serves the files under `root`.
    pub fn new(root: impl Into<PathBuf>) -> FileServer {
        FileServer { root: root.into() }
    }
}

impl Handler for FileServer {
    fn serve_http(&self, w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
        if !matches!(r.method(), "GET" | "HEAD") {
            w.header_set("Allow", "GET, HEAD");
            return super::error(w, "405 method not allowed", 405);
        }
        let Some(decoded) = super::form::unescape_path(r.path()) else {
            return super::error(w, "400 bad request: bad escape in the path", 400);
        };
        let rooted = if decoded.starts_with('/') {
            decoded
        } else {
            format!("/{decoded}")
        };
        let clean = super::syntax::clean(&rooted).unwrap_or(rooted);
        if clean.contains('\0') {
            return super::error(w, "400 bad request", 400);
        }
        let path = self.root.join(clean.trim_start_matches('/'));
        serve(w, r, &path, &clean, true);
    }
}

/// Answers with the file (or directory) at `path` (Go's `http.ServeFile`): as
/// [`FileServer`] does, without its redirects. `path` is taken as given: do not build it
/// from the request unchecked.
pub fn serve_file(w: &mut ResponseWriter<'_>, r: &Request<'_>, path: impl AsRef<Path>) {
    let path = path.as_ref();
    serve(w, r, path, r.path(), false);
}

/// Calls `handler` with `prefix` removed from the request's path (Go's
/// `http.StripPrefix`); a request whose path does not start with `prefix` gets 404.
pub fn strip_prefix(prefix: &str, handler: impl Handler) -> impl Handler {
    let prefix = prefix.to_string();
    move |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        if !r.strip_path_prefix(&prefix) {
            return super::not_found(w, r);
        }
        handler.serve_http(w, r)
    }
}

/// Serves `path` for the request whose cleaned URL path is `url_path`; `redirects` turns
/// on FileServer's canonical-URL redirects.
fn serve(
    w: &mut ResponseWriter<'_>,
    r: &Request<'_>,
    path: &Path,
    url_path: &str,
    redirects: bool,
) {
    let owned = path.to_path_buf();
    let meta = match goro::blocking(move || fs::metadata(owned)) {
        Ok(m) => m,
        Err(e) => return io_error(w, &e),
    };
    // Relative redirects, as Go's: the path here may be what `strip_prefix` left.
    if redirects && url_path.ends_with("/index.html") {
        return local_redirect(w, r, "./");
    }
    if meta.is_dir() {
        if redirects && !url_path.ends_with('/') {
            let last = url_path.rsplit('/').next().unwrap_or("");
            return local_redirect(w, r, &format!("{}/", super::reply::escape_path(last)));
        }
        let index = path.join("index.html");
        let probe = index.clone();
        if let Ok(m) = goro::blocking(move || fs::metadata(probe)) {
            if m.is_file() {
                return send_file(w, r, &index, &m);
            }
        }
        return list_dir(w, r, path);
    }
    send_file(w, r, path, &meta)
}

/// 301 to `to`, relative to the URL the client asked for, kept as is with its query.
fn local_redirect(w: &mut ResponseWriter<'_>, r: &Request<'_>, to: &str) {
    w.header_set("Location", &r.with_query(to));
    w.write_header(301);
}

/// 404 for a missing file, 403 for a forbidden one, 500 otherwise (the error is logged,
/// not shown).
fn io_error(w: &mut ResponseWriter<'_>, e: &io::Error) {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
            super::error(w, "404 page not found", 404)
        }
        io::ErrorKind::PermissionDenied => super::error(w, "403 Forbidden", 403),
        _ => {
            tracing::debug!(error = %e, "goro-net http: file server");
            super::error(w, "500 Internal Server Error", 500)
        }
    }
}

fn send_file(w: &mut ResponseWriter<'_>, r: &Request<'_>, path: &Path, meta: &fs::Metadata) {
    let size = meta.len();
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    if let Some(secs) = modified {
        let text = super::date::format(secs);
        w.header_set(
            "Last-Modified",
            std::str::from_utf8(&text).unwrap_or_default(),
        );
        // Go's checkPreconditions, without ETags: dates compare in whole seconds, and one
        // that does not parse is ignored.
        let since = |name| r.header(name).and_then(super::date::parse);
        if since("if-unmodified-since").is_some_and(|t| secs > t) {
            w.write_header(412);
            return;
        }
        if since("if-modified-since").is_some_and(|t| secs <= t) {
            w.write_header(304);
            return;
        }
    }
    w.header_set("Accept-Ranges", "bytes");
    // `(first, length)` of each part; the whole file is one part.
    let (parts, ranged): (Vec<(u64, u64)>, bool) =
        match r.header("range").map(|h| byte_range(h, size)) {
            None | Some(Range::Ignore) => (vec![(0, size)], false),
            Some(Range::Unsatisfiable) => {
                w.header_set("Content-Range", &format!("bytes */{size}"));
                return super::error(w, "416 range not satisfiable", 416);
            }
            Some(Range::Parts(p)) => (p.iter().map(|&(a, b)| (a, b - a + 1)).collect(), true),
        };
    // The first piece of the first part, and the file's own first bytes to guess the
    // content type from (the same read unless the first part does not cover them).
    let (start, len) = parts[0];
    let sniff_apart = start > 0 || len < size.min(SNIFF as u64);
    let owned = path.to_path_buf();
    let opened = goro::blocking(move || -> io::Result<(File, Vec<u8>, Vec<u8>)> {
        let mut f = File::open(owned)?;
        let mut head = Vec::new();
        if sniff_apart {
            head = vec![0u8; SNIFF.min(size as usize)];
            let n = read_full(&mut f, &mut head)?;
            head.truncate(n);
            f.seek(SeekFrom::Start(start))?;
        }
        let mut first = vec![0u8; (len as usize).min(PIECE)];
        let n = read_full(&mut f, &mut first)?;
        first.truncate(n);
        Ok((f, head, first))
    });
    let (f, head, first) = match opened {
        Ok(x) => x,
        Err(e) => return io_error(w, &e),
    };
    let kind = content_type(path, if sniff_apart { &head } else { &first });
    let range_text = |a: u64, n: u64| format!("bytes {a}-{}/{size}", a + n - 1);
    if parts.len() == 1 {
        w.header_set("Content-Type", kind);
        w.header_set("Content-Length", &len.to_string());
        if ranged {
            w.header_set("Content-Range", &range_text(start, len));
            w.write_header(206);
        }
        if r.method() != "HEAD" {
            copy_range(w, f, len, first);
        }
        return;
    }
    // Several ranges: one `multipart/byteranges` body (RFC 9110 §14.6), laid out as Go's
    // multipart writer lays it out, with its exact length declared first.
    let boundary = boundary();
    let part_head = |i: usize, (a, n): (u64, u64)| {
        format!(
            "{}--{boundary}\r\nContent-Range: {}\r\nContent-Type: {kind}\r\n\r\n",
            if i == 0 { "" } else { "\r\n" },
            range_text(a, n)
        )
    };
    let closing = format!("\r\n--{boundary}--\r\n");
    let total: u64 = parts
        .iter()
        .enumerate()
        .map(|(i, &p)| part_head(i, p).len() as u64 + p.1)
        .sum::<u64>()
        + closing.len() as u64;
    w.header_set(
        "Content-Type",
        &format!("multipart/byteranges; boundary={boundary}"),
    );
    w.header_set("Content-Length", &total.to_string());
    w.write_header(206);
    if r.method() == "HEAD" {
        return;
    }
    let (mut f, mut first) = (f, first);
    for (i, &(a, n)) in parts.iter().enumerate() {
        if w.write_all(part_head(i, (a, n)).as_bytes()).is_err() {
            return;
        }
        if i > 0 {
            f = match goro::blocking(move || f.seek(SeekFrom::Start(a)).map(|_| f)) {
                Ok(f) => f,
                Err(_) => return w.abort(),
            };
        }
        f = match copy_range(w, f, n, std::mem::take(&mut first)) {
            Some(f) => f,
            None => return,
        };
    }
    let _ = w.write_all(closing.as_bytes());
}

/// Bytes of a file's start its content type is guessed from (Go sniffs 512).
const SNIFF: usize = 512;

/// Writes `len` bytes of `f` from its current position, `first` of them already read;
/// gives the file back, or `None` once the answer cannot go on (it is aborted if the file
/// fails under it, so the client sees it cut).
fn copy_range(w: &mut ResponseWriter<'_>, mut f: File, len: u64, first: Vec<u8>) -> Option<File> {
    if w.write_all(&first).is_err() {
        return None;
    }
    let mut left = len - first.len() as u64;
    let mut piece = first;
    while left > 0 {
        let want = (left as usize).min(PIECE);
        piece.resize(want, 0);
        let (file, buf, r) = goro::blocking(move || {
            let mut buf = piece;
            let r = read_full(&mut f, &mut buf);
            (f, buf, r)
        });
        (f, piece) = (file, buf);
        match r {
            Ok(n) if n > 0 => {
                if w.write_all(&piece[..n]).is_err() {
                    return None;
                }
                left -= n as u64;
            }
            // The file shrank or failed under us: the answer cannot be completed.
            _ => {
                w.abort();
                return None;
            }
        }
    }
    Some(f)
}

/// A multipart boundary: 30 bytes of hex that no file is likely to hold, from the clock
/// and a counter (unpredictable enough: it only has to differ from the content).
fn boundary() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    // std's `RandomState` keys are random per thread; the counter and clock vary the rest.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(N.fetch_add(1, Ordering::Relaxed));
    let now = std::time::SystemTime::now().duration_since(UNIX_EPOCH);
    h.write_u128(now.map_or(0, |d| d.as_nanos()));
    let x = h.finish();
    h.write_u64(x);
    format!("{x:016x}{:016x}", h.finish())[..30].to_string()
}

/// Reads until `buf` is full or the file ends; the bytes read.
fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Serve the whole file (no range, one we do not understand, or ranges that add up
    /// to more than the file, as Go decides).
    Ignore,
    /// No byte of any range is in the file.
    Unsatisfiable,
    /// These byte ranges `a..=b`, in the order asked.
    Parts(Vec<(u64, u64)>),
}

/// Parses `Range: bytes=...` (RFC 9110 §14.1.2) as Go's `parseRange` does, except that a
/// header it cannot read is ignored (a whole-file answer) rather than refused.
fn byte_range(h: &str, size: u64) -> Range {
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Range::Ignore;
    };
    let mut parts = Vec::new();
    let mut outside = false;
    for one in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match one_range(one, size) {
            Some(Some(p)) => parts.push(p),
            Some(None) => outside = true,
            None => return Range::Ignore,
        }
    }
    if parts.is_empty() {
        return if outside {
            Range::Unsatisfiable
        } else {
            Range::Ignore
        };
    }
    // Ranges that add up to more than the file: the whole file is the cheaper answer.
    if parts.iter().map(|(a, b)| b - a + 1).sum::<u64>() > size {
        return Range::Ignore;
    }
    Range::Parts(parts)
}

/// One `first-last`, `first-` or `-suffix`: `Some(None)` if no byte of it is in the file,
/// `None` if it does not parse.
fn one_range(spec: &str, size: u64) -> Option<Option<(u64, u64)>> {
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let parse = |s: &str| {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    if a.is_empty() {
        // The last `b` bytes.
        let n = parse(b)?;
        return Some((n > 0 && size > 0).then(|| (size.saturating_sub(n), size - 1)));
    }
    let a = parse(a)?;
    let b = if b.is_empty() { u64::MAX } else { parse(b)? };
    if a > b {
        return None;
    }
    Some((a < size).then(|| (a, b.min(size - 1))))
}

/// The content type of the file at `path` whose first bytes are `head`.
fn content_type(path: &Path, head: &[u8]) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let by_ext = match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("xml") => "text/xml; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/vnd.microsoft.icon",
        Some("wasm") => "application/wasm",
        Some("pdf") => "application/pdf",
        Some("mp4") => "video/mp4",
        Some("woff2") => "font/woff2",
        _ => "",
    };
    if !by_ext.is_empty() {
        return by_ext;
    }
    // No known extension: text if the start is UTF-8 without control bytes (a piece may
    // end inside a character).
    let text = match std::str::from_utf8(head) {
        Ok(s) => Some(s),
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    let plain = text.is_some_and(|s| !s.chars().any(|c| c.is_control() && !c.is_whitespace()));
    if plain {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

/// A directory listing: one link per entry, sorted, directories with a trailing slash.
fn list_dir(w: &mut ResponseWriter<'_>, r: &Request<'_>, path: &Path) {
    let owned = path.to_path_buf();
    let entries = goro::blocking(move || -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for e in fs::read_dir(owned)? {
            let e = e?;
            let mut name = e.file_name().to_string_lossy().into_owned();
            if e.file_type()?.is_dir() {
                name.push('/');
            }
            names.push(name);
        }
        names.sort();
        Ok(names)
    });
    let names = match entries {
        Ok(n) => n,
        Err(e) => return io_error(w, &e),
    };
    w.header_set("Content-Type", "text/html; charset=utf-8");
    if r.method() == "HEAD" {
        return;
    }
    let _ = w.write_all(
        b"<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n",
    );
    for name in names {
        let href = super::reply::escape_path(&name);
        let _ = writeln!(
            w,
            "<a href=\"{}\">{}</a>",
            super::reply::html_escape(&href),
            super::reply::html_escape(&name)
        );
    }
    let _ = w.write_all(b"</pre>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_parse_as_rfc_9110_says() {
        for (h, want) in [
            ("bytes=0-9", Range::Parts(vec![(0, 9)])),
            ("bytes=5-", Range::Parts(vec![(5, 99)])),
            ("bytes=-10", Range::Parts(vec![(90, 99)])),
            ("bytes=-500", Range::Parts(vec![(0, 99)])),
            ("bytes=90-200", Range::Parts(vec![(90, 99)])),
            ("bytes=100-", Range::Unsatisfiable),
            ("bytes=-0", Range::Unsatisfiable),
            ("bytes=0-1, 5-6", Range::Parts(vec![(0, 1), (5, 6)])),
            ("bytes=50-59,0-9,", Range::Parts(vec![(50, 59), (0, 9)])),
            // Ranges outside the file are dropped; if none is left, nothing satisfies.
            ("bytes=0-1,200-300", Range::Parts(vec![(0, 1)])),
            ("bytes=200-300,400-", Range::Unsatisfiable),
            // More than the file in all: the whole file.
            ("bytes=0-59,40-99", Range::Ignore),
            ("bytes=9-5", Range::Ignore),
            ("bytes=0-1,9-5", Range::Ignore),
            ("items=0-1", Range::Ignore),
            ("bytes=x-1", Range::Ignore),
            ("bytes=+1-2", Range::Ignore),
            ("bytes=", Range::Ignore),
        ] {
            assert_eq!(byte_range(h, 100), want, "{h}");
        }
        assert_eq!(byte_range("bytes=-5", 0), Range::Unsatisfiable);
    }

    #[test]
    fn content_types_come_from_the_extension_or_the_bytes() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(content_type(&p("a/b.CSS"), b""), "text/css; charset=utf-8");
        assert_eq!(
            content_type(&p("README"), b"hello\n"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            content_type(&p("blob"), b"\x00\x01\x02"),
            "application/octet-stream"
        );
        assert_eq!(
            content_type(&p("cut"), "caf\u{e9}".as_bytes().split_last().unwrap().1),
            "text/plain; charset=utf-8"
        );
    }
}
