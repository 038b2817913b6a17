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
/// forms, compared in whole seconds), and single byte ranges (`Range: bytes=...`, answered
/// `206`, or `416` when outside the file).
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
        let clean = super::mux::clean(&rooted).unwrap_or(rooted);
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
    let (start, len) = match r.header("range").map(|h| byte_range(h, size)) {
        None | Some(Range::Ignore) => (0, size),
        Some(Range::Unsatisfiable) => {
            w.header_set("Content-Range", &format!("bytes */{size}"));
            return super::error(w, "416 range not satisfiable", 416);
        }
        Some(Range::Part(a, b)) => {
            w.header_set("Content-Range", &format!("bytes {a}-{b}/{size}"));
            (a, b - a + 1)
        }
    };
    let owned = path.to_path_buf();
    let opened = goro::blocking(move || -> io::Result<(File, Vec<u8>)> {
        let mut f = File::open(owned)?;
        f.seek(SeekFrom::Start(start))?;
        // The first piece: also what the content type is guessed from.
        let mut first = vec![0u8; (len as usize).min(PIECE)];
        let n = read_full(&mut f, &mut first)?;
        first.truncate(n);
        Ok((f, first))
    });
    let (mut f, first) = match opened {
        Ok(x) => x,
        Err(e) => return io_error(w, &e),
    };
    let kind = content_type(path, &first);
    w.header_set("Content-Type", kind);
    w.header_set("Content-Length", &len.to_string());
    if len < size || start > 0 {
        w.write_header(206);
    }
    if r.method() == "HEAD" {
        return;
    }
    if w.write_all(&first).is_err() {
        return;
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
                    return;
                }
                left -= n as u64;
            }
            // The file shrank or failed under us: the answer cannot be completed.
            _ => return w.abort(),
        }
    }
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
    /// Serve the whole file (no range, several ranges, or one we do not understand).
    Ignore,
    /// No byte of the range is in the file.
    Unsatisfiable,
    /// Bytes `a..=b`.
    Part(u64, u64),
}

fn byte_range(h: &str, size: u64) -> Range {
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Range::Ignore;
    };
    if spec.contains(',') {
        return Range::Ignore; // several ranges: the whole file is a valid answer
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Ignore;
    };
    let (a, b) = (a.trim(), b.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        // The last `b` bytes.
        (true, false) => match parse(b) {
            Some(0) => Range::Unsatisfiable,
            Some(n) if size > 0 => Range::Part(size.saturating_sub(n), size - 1),
            Some(_) => Range::Unsatisfiable,
            None => Range::Ignore,
        },
        (false, _) => match (
            parse(a),
            if b.is_empty() {
                Some(u64::MAX)
            } else {
                parse(b)
            },
        ) {
            (Some(a), Some(b)) if a <= b => {
                if a >= size {
                    Range::Unsatisfiable
                } else {
                    Range::Part(a, b.min(size - 1))
                }
            }
            _ => Range::Ignore,
        },
        (true, true) => Range::Ignore,
    }
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
            ("bytes=0-9", Range::Part(0, 9)),
            ("bytes=5-", Range::Part(5, 99)),
            ("bytes=-10", Range::Part(90, 99)),
            ("bytes=-500", Range::Part(0, 99)),
            ("bytes=90-200", Range::Part(90, 99)),
            ("bytes=100-", Range::Unsatisfiable),
            ("bytes=-0", Range::Unsatisfiable),
            ("bytes=0-1,5-6", Range::Ignore),
            ("bytes=9-5", Range::Ignore),
            ("items=0-1", Range::Ignore),
            ("bytes=x-1", Range::Ignore),
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
