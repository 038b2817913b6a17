//! [`ServeMux`]: Go's request router, and the process-wide default one.
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use super::{Handler, Request, ResponseWriter};

/// Routes requests by path (Go's `http.ServeMux`).
///
/// A pattern is a path, optionally after a method: `"/"`, `"/static/"`, `"/healthz"`,
/// `"GET /items/"`. A pattern ending in `/` matches its whole subtree; any other matches
/// only itself. The longest matching pattern wins. A path that matches only under another
/// method gets 405, no match at all gets 404.
///
/// ```
/// use std::io::Write;
/// use goro_net::http::ServeMux;
///
/// let mut mux = ServeMux::new();
/// mux.handle_func("/", |w, _r| { let _ = w.write_all(b"index\n"); });
/// mux.handle_func("GET /healthz", |w, _r| { let _ = w.write_all(b"ok\n"); });
/// let server = goro_net::http::Server::new(mux);
/// # drop(server);
/// ```
#[derive(Default)]
pub struct ServeMux {
    /// (method or "", path pattern, handler), longest pattern first.
    routes: Vec<(String, String, Box<dyn Handler>)>,
}

impl ServeMux {
    /// An empty mux (every request gets 404).
    pub fn new() -> ServeMux {
        ServeMux::default()
    }

    /// Registers `handler` for `pattern`.
    ///
    /// # Panics
    ///
    /// If the pattern is empty, does not start with `/` after the optional method, or is
    /// already registered (as Go does).
    pub fn handle(&mut self, pattern: &str, handler: impl Handler) {
        let (method, path) = match pattern.split_once(' ') {
            Some((m, p)) => (m.to_string(), p.trim().to_string()),
            None => (String::new(), pattern.to_string()),
        };
        assert!(
            path.starts_with('/'),
            "goro-net http: pattern {pattern:?} must start with '/'"
        );
        assert!(
            !self
                .routes
                .iter()
                .any(|(m, p, _)| *m == method && *p == path),
            "goro-net http: multiple registrations for {pattern:?}"
        );
        self.routes.push((method, path, Box::new(handler)));
        self.routes.sort_by_key(|r| std::cmp::Reverse(r.1.len()));
    }

    /// Registers a closure for `pattern` (Go's `HandleFunc`); see [`handle`](Self::handle).
    pub fn handle_func<F>(&mut self, pattern: &str, f: F)
    where
        F: Fn(&mut ResponseWriter<'_>, &mut Request<'_>) + Send + Sync + 'static,
    {
        self.handle(pattern, f)
    }
}

impl Handler for ServeMux {
    fn serve_http(&self, w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
        let path = r.path();
        let mut wrong_method = false;
        for (m, p, h) in &self.routes {
            let hit = if p.ends_with('/') {
                path.starts_with(p.as_str())
            } else {
                path == p
            };
            if !hit {
                continue;
            }
            if m.is_empty() || m == r.method() || (m == "GET" && r.method() == "HEAD") {
                return h.serve_http(w, r);
            }
            wrong_method = true;
        }
        w.header_set("Content-Type", "text/plain; charset=utf-8");
        if wrong_method {
            w.write_header(405);
            let _ = w.write_all(b"Method Not Allowed\n");
        } else {
            w.write_header(404);
            let _ = w.write_all(b"404 page not found\n");
        }
    }
}

impl std::fmt::Debug for ServeMux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pats: Vec<String> = self
            .routes
            .iter()
            .map(|(m, p, _)| {
                if m.is_empty() {
                    p.clone()
                } else {
                    format!("{m} {p}")
                }
            })
            .collect();
        f.debug_struct("ServeMux").field("patterns", &pats).finish()
    }
}

/// Routes registered with [`handle`] / [`handle_func`] before serving starts.
static PENDING: Mutex<Option<ServeMux>> = Mutex::new(None);
/// The default mux, frozen at its first request: routing then takes no lock.
static FROZEN: OnceLock<ServeMux> = OnceLock::new();

/// Registers `handler` on the default mux (Go's `http.Handle`).
///
/// # Panics
///
/// As [`ServeMux::handle`]; also if the default mux has already served a request (routes
/// are frozen then, so routing needs no lock).
pub fn handle(pattern: &str, handler: impl Handler) {
    assert!(
        FROZEN.get().is_none(),
        "goro-net http: handle({pattern:?}) after the default mux started serving; register routes first"
    );
    let mut m = crate::lock(&PENDING);
    m.get_or_insert_with(ServeMux::new).handle(pattern, handler);
}

/// Registers a closure on the default mux (Go's `http.HandleFunc`).
///
/// ```no_run
/// use std::io::Write;
/// use goro_net::http;
///
/// http::handle_func("/", |w, _r| { let _ = w.write_all(b"Hello\n"); });
/// http::listen_and_serve("127.0.0.1:8080", http::DefaultServeMux).unwrap();
/// ```
pub fn handle_func<F>(pattern: &str, f: F)
where
    F: Fn(&mut ResponseWriter<'_>, &mut Request<'_>) + Send + Sync + 'static,
{
    handle(pattern, f)
}

/// The process-wide mux that [`handle`] and [`handle_func`] fill (Go's `DefaultServeMux`,
/// which Go selects by passing `nil` to `ListenAndServe`).
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultServeMux;

impl Handler for DefaultServeMux {
    fn serve_http(&self, w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
        FROZEN
            .get_or_init(|| {
                let mut m = crate::lock(&PENDING);
                m.take().unwrap_or_default()
            })
            .serve_http(w, r)
    }
}
