//! Following redirects for the [`Client`](super::Client), as Go's `http.Client` does.
//!
//! The rules users see (which answers are followed, what the next request carries) are in
//! the `Client` docs. Here: the loop that follows a chain of them within the whole-request
//! timeout ([`follow`]), deciding a hop ([`next`]), which headers go along ([`keeps`]),
//! and resolving a `Location` against the URL that answered it (RFC 3986 §5.2: absolute,
//! `//host/..`, `/path`, `?query`, or relative, with `.` and `..` segments removed; the
//! fragment dropped). `http://` and `https://` targets can be followed, across schemes both
//! ways, as Go's client does.
use std::io;
use std::time::Instant;

use super::answer::ClientResponse;
use super::client_builder::ClientBuilder;
use super::client_conn::Scheme;
use super::send::Req;
use super::syntax::remove_dots;

/// Headers that are credentials for one host: not sent on to another (Go drops the same).
const CREDENTIALS: [&str; 5] = [
    "authorization",
    "cookie",
    "cookie2",
    "www-authenticate",
    "proxy-authorization",
];

/// What to send next after a redirect answer.
pub(super) struct Hop {
    /// The absolute `http://` or `https://` URL to ask.
    pub(super) url: String,
    /// `GET` instead of the method, without the body.
    pub(super) to_get: bool,
}

/// The next request after an answer of `status` with `location` to the request for `base`
/// (an `http://` or `https://` URL), or `None` if the answer is not a redirect to follow.
pub(super) fn next(base: &str, status: u16, location: Option<&str>) -> Option<io::Result<Hop>> {
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let url = resolve(base, location?);
    Some(url.map(|url| Hop {
        url,
        to_get: status <= 303,
    }))
}

/// Whether header `name` goes along to the next request, which goes to another host if
/// `other_host`.
pub(super) fn keeps(name: &str, other_host: bool, to_get: bool) -> bool {
    let is = |h: &str| name.eq_ignore_ascii_case(h);
    !(to_get && is("content-type")
        || other_host && (is("host") || CREDENTIALS.iter().any(|h| is(h))))
}

/// The `host:port` part of an `http://` or `https://` URL.
pub(super) fn authority(url: &str) -> &str {
    let rest = Scheme::split(url).map_or(url, |(_, rest)| rest);
    rest.find(['/', '?']).map_or(rest, |i| &rest[..i])
}

/// The absolute URL `location` names, relative to `base` (RFC 3986 §5.2).
fn resolve(base: &str, location: &str) -> io::Result<String> {
    let location = location.trim();
    let location = location.split('#').next().unwrap_or("");
    let scheme_end = location.find([':', '/', '?']);
    if let Some(i) = scheme_end.filter(|&i| location.as_bytes()[i] == b':') {
        let scheme = match &location[..i] {
            s if s.eq_ignore_ascii_case("http") => Scheme::Http,
            s if s.eq_ignore_ascii_case("https") => Scheme::Https,
            s => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "goro-net http: redirect to a {s}: URL (only http:// and https:// are supported)"
                    ),
                ))
            }
        };
        return with_clean_path(&format!("{}:{}", scheme.name(), &location[i + 1..]));
    }
    let s = Scheme::split(base).map_or(Scheme::Http, |(s, _)| s).name();
    let auth = authority(base);
    let base_target = &base[s.len() + "://".len() + auth.len()..];
    let (base_path, _) = split_query(base_target);
    let base_path = if base_path.is_empty() { "/" } else { base_path };
    let url = if location.starts_with("//") {
        format!("{s}:{location}")
    } else if location.starts_with('/') {
        format!("{s}://{auth}{location}")
    } else if location.starts_with('?') {
        format!("{s}://{auth}{base_path}{location}")
    } else if location.is_empty() {
        format!("{s}://{auth}{base_target}")
    } else {
        let dir = &base_path[..=base_path.rfind('/').unwrap_or(0)];
        format!("{s}://{auth}{dir}{location}")
    };
    with_clean_path(&url)
}

/// `url` (`http://...` or `https://...`) with `.` and `..` segments removed from its path.
fn with_clean_path(url: &str) -> io::Result<String> {
    let Some((scheme, rest)) = Scheme::split(url) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "goro-net http: redirect without a host",
        ));
    };
    let auth = authority(url);
    let (path, query) = split_query(&rest[auth.len()..]);
    Ok(format!(
        "{}://{auth}{}{query}",
        scheme.name(),
        remove_dots(path)
    ))
}

/// Splits a target into path and `?query` (with its `?`).
fn split_query(target: &str) -> (&str, &str) {
    target.split_at(target.find('?').unwrap_or(target.len()))
}

/// What the redirect loop needs of an answer, held or streamed.
pub(super) trait Redirectable {
    /// The status and the `Location` header.
    fn status_and_location(&self) -> (u16, Option<&str>);
    /// Records the URL the answer came from, after redirects.
    fn set_url(&mut self, url: String);
}

impl Redirectable for ClientResponse {
    fn status_and_location(&self) -> (u16, Option<&str>) {
        (self.status, self.header("location"))
    }

    fn set_url(&mut self, url: String) {
        self.url = Some(url);
    }
}

/// Sends `req` with `send`, following redirects (see the [`Client`](super::Client) docs) within the
/// whole-request timeout. Without `resends` (the body cannot be sent twice), a redirect
/// that keeps the body ends the chain: its answer is the caller's.
pub(super) fn follow<'r, R: Redirectable>(
    cfg: &ClientBuilder,
    req: Req<'r>,
    resends: bool,
    mut send: impl FnMut(Req<'_>, Option<Instant>) -> io::Result<R>,
) -> io::Result<R> {
    let deadline = cfg.timeout.and_then(|t| Instant::now().checked_add(t));
    let timed_out = |e: io::Error| match deadline {
        Some(d) if e.kind() == io::ErrorKind::TimedOut && Instant::now() >= d => io::Error::new(
            io::ErrorKind::TimedOut,
            "goro-net http: request timed out (ClientBuilder::timeout)",
        ),
        _ => e,
    };
    let (method, url, headers, body) = req;
    let mut resp = send(req, deadline).map_err(timed_out)?;
    if cfg.max_redirects == 0 {
        return Ok(resp);
    }
    let (mut method, mut body, mut to_get) = (method, body, false);
    let first_host = authority(url);
    let mut hops = 0;
    // The URL that gave `resp`, once it is not `url`.
    let mut at: Option<String> = None;
    loop {
        let (status, location) = resp.status_and_location();
        let next = next(at.as_deref().unwrap_or(url), status, location);
        let hop = match next {
            Some(hop) if resends || to_get || hop.as_ref().is_ok_and(|h| h.to_get) => hop?,
            _ => {
                if let Some(at) = at {
                    resp.set_url(at);
                }
                return Ok(resp);
            }
        };
        if hops == cfg.max_redirects {
            return Err(io::Error::other(format!(
                "goro-net http: stopped after {hops} redirects (ClientBuilder::max_redirects)"
            )));
        }
        hops += 1;
        if hop.to_get {
            to_get = true;
            body = &[];
            if method != "HEAD" {
                method = "GET";
            }
        }
        let other_host = authority(&hop.url) != first_host;
        let kept: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(n, _)| keeps(n, other_host, to_get))
            .copied()
            .collect();
        tracing::debug!(url = %hop.url, method, "http client: following a redirect");
        drop(resp);
        resp = send((method, &hop.url, &kept, body), deadline).map_err(timed_out)?;
        at = Some(hop.url);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_url_that_answered() {
        let base = "http://h:1/a/b/c?q=1";
        for (location, want) in [
            ("http://o:2/x", "http://o:2/x"),
            ("https://o:2/x", "https://o:2/x"),
            ("HTTPS://o/./x", "https://o/x"),
            ("HTTP://o/x#frag", "http://o/x"),
            ("//o:3/y?z", "http://o:3/y?z"),
            ("/root", "http://h:1/root"),
            ("?r=2", "http://h:1/a/b/c?r=2"),
            ("d", "http://h:1/a/b/d"),
            ("./d/", "http://h:1/a/b/d/"),
            ("../d?e", "http://h:1/a/d?e"),
            ("../../../../d", "http://h:1/d"),
            ("..", "http://h:1/a/"),
            ("/x/./y/../z", "http://h:1/x/z"),
            ("", "http://h:1/a/b/c?q=1"),
            ("#only", "http://h:1/a/b/c?q=1"),
            ("  /padded  ", "http://h:1/padded"),
        ] {
            assert_eq!(resolve(base, location).unwrap(), want, "{location:?}");
        }
        assert_eq!(resolve("http://h", "x").unwrap(), "http://h/x");
        assert_eq!(resolve("http://h?q", "x").unwrap(), "http://h/x");
        assert_eq!(resolve("https://h/a/b", "c").unwrap(), "https://h/a/c");
        assert_eq!(resolve("https://h/a", "//o/y").unwrap(), "https://o/y");
        assert_eq!(resolve("https://h/a", "http://h/z").unwrap(), "http://h/z");
        for bad in ["ftp://h", "mailto:a@b", "http:/x", "https:x"] {
            assert_eq!(
                resolve(base, bad).unwrap_err().kind(),
                io::ErrorKind::InvalidInput,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn only_redirect_statuses_with_a_location_are_followed() {
        let hop = |s, l| next("http://h/p", s, l).map(|h| h.map(|h| (h.url, h.to_get)).unwrap());
        assert_eq!(hop(302, Some("/n")), Some(("http://h/n".to_string(), true)));
        assert_eq!(hop(303, Some("/n")), Some(("http://h/n".to_string(), true)));
        assert_eq!(
            hop(307, Some("/n")),
            Some(("http://h/n".to_string(), false))
        );
        assert_eq!(
            hop(308, Some("/n")),
            Some(("http://h/n".to_string(), false))
        );
        assert_eq!(hop(302, None), None);
        for status in [200, 300, 304, 305, 306, 404] {
            assert_eq!(hop(status, Some("/n")), None, "{status}");
        }
    }

    #[test]
    fn credentials_stay_with_their_host() {
        for h in ["Authorization", "cookie", "Host", "Proxy-Authorization"] {
            assert!(keeps(h, false, false), "{h}");
            assert!(!keeps(h, true, false), "{h}");
        }
        assert!(keeps("X-Trace", true, true));
        assert!(keeps("Content-Type", true, false));
        assert!(!keeps("content-type", false, true));
    }
}
