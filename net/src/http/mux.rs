//! [`ServeMux`]: Go's request router (with Go 1.22's patterns), and the process-wide
//! default one.
//!
//! # Design
//!
//! A pattern is parsed once into its method, host and path segments. Two patterns relate
//! as Go's do: comparing what requests each matches, one is *more specific* (matches a
//! subset), *more general*, *equivalent*, *disjoint*, or they *overlap* (each matches
//! requests the other does not). Registration refuses equivalent and overlapping patterns,
//! so of the patterns that match a request one is more specific than all the others: the
//! router takes the matching pattern that no other matching one beats. (Go walks a tree;
//! a list is as fast for the handful of routes a server has, and a mux with one `/` route,
//! the hello world, tests one segment per request.)
//!
//! Paths are matched segment by segment, each segment percent-decoded first (as Go does:
//! `%2F` inside a segment stays inside it, `%61` matches `a`); pattern literals are decoded
//! when registered. A segment that does not decode (a bad escape, or bytes that are not
//! UTF-8) is compared as sent. Wildcard values are the decoded text.
use std::borrow::Cow;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use super::syntax::clean;
use super::{Handler, Request, ResponseWriter};

/// Routes requests by method, host and path (Go's `http.ServeMux`, with Go 1.22 patterns).
///
/// A pattern is `[METHOD ][HOST]/[PATH]`:
///
/// | pattern | matches |
/// |---|---|
/// | `/index.html` | that path, any host and method |
/// | `GET /static/` | `GET` or `HEAD` of any path under `/static/` |
/// | `example.com/` | any request whose `Host` (port left out) is `example.com` |
/// | `/{$}` | only `/` (a bare `/` matches every path) |
/// | `POST /items/{id}` | `POST` of `/items/` and one segment, e.g. `/items/42`: `r.path_value("id")` is `"42"` |
/// | `/files/{rest...}` | every path under `/files/`, `r.path_value("rest")` the remainder |
///
/// A wildcard is a whole segment: `{name}` matches one (not the trailing slash),
/// `{name...}` the rest of the path and must come last. When several patterns match, the
/// most specific wins: `/items/new` beats `/items/{id}`, which beats `/items/`, and a
/// pattern with a method beats one without. A pattern with a host wins over those without.
/// Two patterns that could match the same request with neither more specific (say
/// `/a/{x}` and `/{y}/b`) are refused when registered, as Go refuses them.
///
/// As in Go: `GET` patterns also match `HEAD`; a path that matches only under other
/// methods gets `405 Method Not Allowed` with an `Allow` header; a path not in clean form
/// (`//`, `.` or `..` segments) is redirected (301) to its clean form; a path without its
/// trailing slash is redirected to it when only the slashed form matches (`/static` to
/// `/static/`); anything else gets 404.
///
/// ```
/// use std::io::Write;
/// use goro_net::http::ServeMux;
///
/// let mut mux = ServeMux::new();
/// mux.handle_func("/", |w, _r| { let _ = w.write_all(b"index\n"); });
/// mux.handle_func("GET /healthz", |w, _r| { let _ = w.write_all(b"ok\n"); });
/// mux.handle_func("GET /items/{id}", |w, r| {
///     let _ = writeln!(w, "item {}", r.path_value("id").unwrap());
/// });
/// let server = goro_net::http::Server::new(mux);
/// # drop(server);
/// ```
#[derive(Default)]
pub struct ServeMux {
    routes: Vec<Route>,
    /// Some route has a host pattern: only then does a request's `Host` matter.
    any_host: bool,
}

/// One registered pattern and its handler.
struct Route {
    /// As registered, for messages and `Debug`.
    pattern: String,
    /// `""`: any method.
    method: String,
    /// `""`: any host.
    host: String,
    segs: Vec<Seg>,
    /// Some segment is a named wildcard: a match records values.
    named: bool,
    handler: Box<dyn Handler>,
}

/// One segment of a path pattern.
#[derive(Debug)]
enum Seg {
    /// Matches itself; `"/"` is the trailing slash (`{$}`).
    Lit(String),
    /// `{name}`: one segment, not the trailing slash.
    Wild(Arc<str>),
    /// `{name...}`, or a pattern's trailing slash (no name): the rest of the path.
    Rest(Option<Arc<str>>),
}

/// How the requests two patterns match compare (Go's `relationship`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rel {
    Equivalent,
    /// The first matches a subset of what the second does.
    MoreSpecific,
    MoreGeneral,
    /// Each matches requests the other does not, and some both do.
    Overlaps,
    Disjoint,
}

impl Rel {
    /// The relation of two patterns from the relations of their parts.
    fn and(self, other: Rel) -> Rel {
        match (self, other) {
            (Rel::Disjoint, _) | (_, Rel::Disjoint) => Rel::Disjoint,
            (Rel::Equivalent, r) | (r, Rel::Equivalent) => r,
            (a, b) if a == b => a,
            _ => Rel::Overlaps,
        }
    }
}

/// A path segment percent-decoded, or as sent if it does not decode (Go's `pathUnescape`);
/// borrowed when there is nothing to decode.
fn decoded(seg: &str) -> Cow<'_, str> {
    if !seg.contains('%') {
        return Cow::Borrowed(seg);
    }
    super::form::unescape_path(seg).map_or(Cow::Borrowed(seg), Cow::Owned)
}

/// The first segment of `path` (which starts with `/`) and what follows it; `"/"` alone is
/// the trailing-slash segment. `None` when nothing is left.
fn first_segment(path: &str) -> Option<(&str, &str)> {
    match path {
        "" => None,
        "/" => Some(("/", "")),
        _ => {
            let p = &path[1..];
            let i = p.find('/').unwrap_or(p.len());
            Some((&p[..i], &p[i..]))
        }
    }
}

impl Route {
    fn parse(pattern: &str, handler: Box<dyn Handler>) -> Route {
        let bad = |why: &str| -> ! { panic!("goro-net http: bad pattern {pattern:?}: {why}") };
        let (method, rest) = match pattern.split_once([' ', '\t']) {
            Some((m, p)) => (m, p.trim_start_matches([' ', '\t'])),
            None => ("", pattern),
        };
        if !method.is_empty() && !super::syntax::is_token(method) {
            bad("the method is not an HTTP token");
        }
        let Some(slash) = rest.find('/') else {
            bad("no path (a path starts with '/')")
        };
        let (host, path) = rest.split_at(slash);
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
        {
            bad("the host is not a host name");
        }
        let mut segs = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let mut left = path;
        while let Some((seg, after)) = first_segment(left) {
            left = after;
            let Some(inner) = seg.strip_prefix('{') else {
                if seg.contains(['{', '}']) {
                    bad("a wildcard must be a whole segment");
                }
                // A trailing slash: the rest of the path, unnamed.
                segs.push(if seg == "/" {
                    Seg::Rest(None)
                } else {
                    let Some(lit) = super::form::unescape_path(seg) else {
                        bad("a bad percent-escape")
                    };
                    Seg::Lit(lit)
                });
                continue;
            };
            let Some(inner) = inner.strip_suffix('}') else {
                bad("a wildcard must be a whole segment")
            };
            if inner == "$" {
                if !left.is_empty() {
                    bad("{$} must end the path");
                }
                segs.push(Seg::Lit("/".to_string()));
                continue;
            }
            let (name, rest) = match inner.strip_suffix("...") {
                Some(n) => (n, true),
                None => (inner, false),
            };
            let ident = name
                .chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_alphanumeric() || c == '_');
            if !ident {
                bad("a wildcard name must be an identifier");
            }
            if names.contains(&name) {
                bad("a wildcard name appears twice");
            }
            names.push(name);
            if rest {
                if !left.is_empty() {
                    bad("a {name...} wildcard must end the path");
                }
                segs.push(Seg::Rest(Some(name.into())));
            } else {
                segs.push(Seg::Wild(name.into()));
            }
        }
        Route {
            pattern: pattern.to_string(),
            method: method.to_string(),
            host: host.to_ascii_lowercase(),
            segs,
            named: !names.is_empty(),
            handler,
        }
    }

    /// Whether the path matches; with `values`, records the named wildcards' values.
    fn matches_path<'p>(
        &self,
        path: &'p str,
        mut values: Option<&mut Vec<(Arc<str>, Cow<'p, str>)>>,
    ) -> bool {
        if !path.starts_with('/') {
            return false; // `*` (OPTIONS), or not a path at all
        }
        let mut left = path;
        for seg in &self.segs {
            if let Seg::Rest(name) = seg {
                if left.is_empty() {
                    return false;
                }
                if let (Some(v), Some(n)) = (values.as_deref_mut(), name) {
                    v.push((n.clone(), decoded(&left[1..])));
                }
                return true;
            }
            let Some((s, after)) = first_segment(left) else {
                return false;
            };
            match seg {
                Seg::Lit(l) if *l == decoded(s) => {}
                Seg::Wild(n) if s != "/" => {
                    if let Some(v) = values.as_deref_mut() {
                        v.push((n.clone(), decoded(s)));
                    }
                }
                _ => return false,
            }
            left = after;
        }
        left.is_empty()
    }

    /// Whether a request with `method` is one this route takes.
    fn takes(&self, method: &str) -> bool {
        self.method.is_empty()
            || self.method == method
            || (self.method == "GET" && method == "HEAD")
    }

    /// How the requests `self` matches compare with those `other` matches (hosts aside).
    fn compare(&self, other: &Route) -> Rel {
        let methods = match (self.method.as_str(), other.method.as_str()) {
            (a, b) if a == b => Rel::Equivalent,
            ("", _) => Rel::MoreGeneral,
            (_, "") => Rel::MoreSpecific,
            ("GET", "HEAD") => Rel::MoreGeneral,
            ("HEAD", "GET") => Rel::MoreSpecific,
            _ => Rel::Disjoint,
        };
        methods.and(compare_paths(&self.segs, &other.segs))
    }
}

/// [`Route::compare`] for the paths.
fn compare_paths(a: &[Seg], b: &[Seg]) -> Rel {
    let mut rel = Rel::Equivalent;
    for (x, y) in a.iter().zip(b) {
        let r = match (x, y) {
            (Seg::Rest(_), Seg::Rest(_)) | (Seg::Wild(_), Seg::Wild(_)) => Rel::Equivalent,
            (Seg::Rest(_), _) => Rel::MoreGeneral,
            (_, Seg::Rest(_)) => Rel::MoreSpecific,
            (Seg::Wild(_), Seg::Lit(l)) => {
                if l == "/" {
                    Rel::Disjoint
                } else {
                    Rel::MoreGeneral
                }
            }
            (Seg::Lit(l), Seg::Wild(_)) => {
                if l == "/" {
                    Rel::Disjoint
                } else {
                    Rel::MoreSpecific
                }
            }
            (Seg::Lit(l), Seg::Lit(m)) => {
                if l == m {
                    Rel::Equivalent
                } else {
                    Rel::Disjoint
                }
            }
        };
        rel = rel.and(r);
        if rel == Rel::Disjoint {
            return rel;
        }
    }
    let ends_in_rest = |s: &[Seg]| matches!(s.last(), Some(Seg::Rest(_)));
    match a.len().cmp(&b.len()) {
        std::cmp::Ordering::Equal => rel,
        // The shorter one matches the longer's extra segments only with a `Rest`, which
        // the loop above has already compared with the longer's segment in its place.
        std::cmp::Ordering::Less if ends_in_rest(a) => rel.and(Rel::MoreGeneral),
        std::cmp::Ordering::Greater if ends_in_rest(b) => rel.and(Rel::MoreSpecific),
        _ => Rel::Disjoint,
    }
}

impl ServeMux {
    /// An empty mux (every request gets 404).
    pub fn new() -> ServeMux {
        ServeMux::default()
    }

    /// Registers `handler` for `pattern` (see the type's docs for the syntax).
    ///
    /// # Panics
    ///
    /// If the pattern is malformed (no path, a wildcard that is not a whole segment or not
    /// an identifier, a name used twice, `{name...}` or `{$}` before the end), or if it
    /// matches the same requests as one already registered, or overlaps one with neither
    /// more specific (as Go does).
    pub fn handle(&mut self, pattern: &str, handler: impl Handler) {
        let route = Route::parse(pattern, Box::new(handler));
        for r in &self.routes {
            if r.host != route.host {
                continue; // a host pattern always beats one without; different hosts never meet
            }
            match route.compare(r) {
                Rel::Equivalent => panic!(
                    "goro-net http: pattern {pattern:?} matches the same requests as {:?}",
                    r.pattern
                ),
                Rel::Overlaps => panic!(
                    "goro-net http: pattern {pattern:?} conflicts with {:?}: some requests match \
                     both and neither is more specific",
                    r.pattern
                ),
                _ => {}
            }
        }
        self.any_host |= !route.host.is_empty();
        self.routes.push(route);
    }

    /// Registers a closure for `pattern` (Go's `HandleFunc`); see [`handle`](Self::handle).
    pub fn handle_func<F>(&mut self, pattern: &str, f: F)
    where
        F: Fn(&mut ResponseWriter<'_>, &mut Request<'_>) + Send + Sync + 'static,
    {
        self.handle(pattern, f)
    }

    /// The most specific route matching `host` and `path` that takes `method`. Host
    /// patterns first.
    fn find(&self, method: &str, host: &str, path: &str) -> Option<&Route> {
        let best = |with_host: bool| {
            let mut best: Option<&Route> = None;
            for r in &self.routes {
                if r.host.is_empty() == with_host
                    || (with_host && !r.host.eq_ignore_ascii_case(host))
                {
                    continue;
                }
                if !r.takes(method) || !r.matches_path(path, None) {
                    continue;
                }
                if best.is_none_or(|b| r.compare(b) == Rel::MoreSpecific) {
                    best = Some(r);
                }
            }
            best
        };
        if host.is_empty() {
            return best(false);
        }
        best(true).or_else(|| best(false))
    }
}

/// The `Host` header without its port, for host patterns.
fn host_of<'a>(r: &Request<'a>) -> &'a str {
    let h = r.host();
    match h.rfind(':') {
        Some(i) if !h[i..].contains(']') => &h[..i],
        _ => h,
    }
}

impl Handler for ServeMux {
    fn serve_http(&self, w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
        let path = r.path();
        if let Some(c) = clean(path).filter(|_| path.starts_with('/')) {
            return super::redirect(w, r, &r.with_query(&c), 301);
        }
        let host = if self.any_host { host_of(r) } else { "" };
        if let Some(route) = self.find(r.method(), host, path) {
            if route.named {
                let mut values = Vec::new();
                route.matches_path(path, Some(&mut values));
                r.path_values = values;
            }
            return route.handler.serve_http(w, r);
        }
        if path.starts_with('/') && !path.ends_with('/') {
            let slashed = format!("{path}/");
            if self.find(r.method(), host, &slashed).is_some() {
                return super::redirect(w, r, &r.with_query(&slashed), 301);
            }
        }
        let mut allow: Vec<&str> = Vec::new();
        for route in &self.routes {
            if !route.method.is_empty()
                && (route.host.is_empty() || route.host.eq_ignore_ascii_case(host))
                && route.matches_path(path, None)
            {
                allow.push(&route.method);
                if route.method == "GET" {
                    allow.push("HEAD");
                }
            }
        }
        w.header_set("Content-Type", "text/plain; charset=utf-8");
        if allow.is_empty() {
            w.write_header(404);
            let _ = w.write_all(b"404 page not found\n");
        } else {
            allow.sort_unstable();
            allow.dedup();
            w.header_set("Allow", &allow.join(", "));
            w.write_header(405);
            let _ = w.write_all(b"Method Not Allowed\n");
        }
    }
}

impl std::fmt::Debug for ServeMux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pats: Vec<&str> = self.routes.iter().map(|r| r.pattern.as_str()).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pattern of up to three segments over a small alphabet, under four methods.
    fn patterns() -> Vec<Route> {
        let inner = ["a", "b", "{x}"];
        let last = ["a", "b", "{y}", "{r...}", "", "{$}"];
        let mut paths = Vec::new();
        for l in last {
            paths.push(format!("/{l}"));
            for i in inner {
                paths.push(format!("/{i}/{l}"));
                for j in inner {
                    paths.push(format!("/{i}/{}/{l}", j.replace('x', "z")));
                }
            }
        }
        let mut out = Vec::new();
        for m in ["", "GET ", "HEAD ", "POST "] {
            for p in &paths {
                let pattern = format!("{m}{p}");
                let handler: Box<dyn Handler> =
                    Box::new(|_: &mut ResponseWriter<'_>, _: &mut Request<'_>| {});
                out.push(Route::parse(&pattern, handler));
            }
        }
        out
    }

    /// Which of a universe of requests (paths of up to four segments over `a b c`, with
    /// and without a trailing slash, under four methods) the route matches.
    fn matched(r: &Route) -> Vec<bool> {
        let mut paths = vec!["/".to_string()];
        let mut level = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for p in &level {
                for s in ["a", "b", "c"] {
                    next.push(format!("{p}/{s}"));
                }
            }
            for p in &next {
                paths.push(p.clone());
                paths.push(format!("{p}/"));
            }
            level = next;
        }
        let mut out = Vec::new();
        for m in ["GET", "HEAD", "POST", "PUT"] {
            for p in &paths {
                out.push(r.takes(m) && r.matches_path(p, None));
            }
        }
        out
    }

    #[test]
    fn how_patterns_compare_agrees_with_what_they_match() {
        let routes = patterns();
        let sets: Vec<Vec<bool>> = routes.iter().map(matched).collect();
        for (a, sa) in routes.iter().zip(&sets) {
            for (b, sb) in routes.iter().zip(&sets) {
                let both = sa.iter().zip(sb).any(|(x, y)| *x && *y);
                let a_in_b = sa.iter().zip(sb).all(|(x, y)| !*x || *y);
                let b_in_a = sa.iter().zip(sb).all(|(x, y)| !*y || *x);
                let rel = a.compare(b);
                let ok = match rel {
                    Rel::Equivalent => a_in_b && b_in_a,
                    Rel::MoreSpecific => a_in_b && !b_in_a,
                    Rel::MoreGeneral => b_in_a && !a_in_b,
                    Rel::Overlaps => both && !a_in_b && !b_in_a,
                    Rel::Disjoint => !both,
                };
                assert!(ok, "{:?} vs {:?}: {rel:?}", a.pattern, b.pattern);
            }
        }
    }
}
