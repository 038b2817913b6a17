//! Cookies: Go's `http.Cookie`, `http.SetCookie` and `Request.Cookie`.
//!
//! Writing: [`Cookie`]'s `Display` is the `Set-Cookie` value (RFC 6265 §4.1), with the
//! name required to be a token and the value's bytes restricted to what a cookie value may
//! hold (others are dropped, as Go drops them). Reading: the request's `Cookie` headers are
//! split into `name=value` pairs on demand, borrowing from the request.
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use super::ResponseWriter;

/// A cookie to set with [`set_cookie`] (Go's `http.Cookie`).
///
/// ```
/// use goro_net::http::{self, Cookie, SameSite};
///
/// let c = Cookie {
///     path: Some("/".into()),
///     max_age: Some(3600),
///     http_only: true,
///     same_site: Some(SameSite::Lax),
///     ..Cookie::new("session", "a1b2")
/// };
/// assert_eq!(c.to_string(), "session=a1b2; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cookie {
    /// The name: an HTTP token (a cookie with another name is not sent).
    pub name: String,
    /// The value (bytes a cookie value cannot hold are left out; one with a space or a
    /// comma is sent in double quotes).
    pub value: String,
    /// `Path`.
    pub path: Option<String>,
    /// `Domain`.
    pub domain: Option<String>,
    /// `Expires`.
    pub expires: Option<SystemTime>,
    /// `Max-Age` in seconds; zero or less deletes the cookie now (`Max-Age=0`).
    pub max_age: Option<i64>,
    /// `Secure`: only over HTTPS.
    pub secure: bool,
    /// `HttpOnly`: not visible to scripts.
    pub http_only: bool,
    /// `SameSite`.
    pub same_site: Option<SameSite>,
}

/// The `SameSite` attribute of a [`Cookie`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=None` (browsers require `Secure` with it).
    None,
}

impl Cookie {
    /// A cookie with just a name and a value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Cookie {
        Cookie {
            name: name.into(),
            value: value.into(),
            ..Cookie::default()
        }
    }
}

/// A byte a cookie value may hold (RFC 6265 `cookie-octet`), plus the space and the
/// comma that browsers take inside quotes, as Go allows.
fn value_byte(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b'"' && b != b';' && b != b'\\'
}

/// A byte an attribute value (`Path`, `Domain`) may hold.
fn attr_byte(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b';'
}

impl fmt::Display for Cookie {
    /// The `Set-Cookie` header value; empty if the name is not a token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !super::syntax::is_token(&self.name) {
            return Ok(());
        }
        let value: String = self
            .value
            .bytes()
            .filter(|&b| value_byte(b))
            .map(char::from)
            .collect();
        if value.contains([' ', ',']) {
            write!(f, "{}=\"{value}\"", self.name)?;
        } else {
            write!(f, "{}={value}", self.name)?;
        }
        let clean = |s: &str| -> String {
            s.bytes()
                .filter(|&b| attr_byte(b))
                .map(char::from)
                .collect()
        };
        if let Some(p) = &self.path {
            write!(f, "; Path={}", clean(p))?;
        }
        if let Some(d) = &self.domain {
            write!(f, "; Domain={}", clean(d.trim_start_matches('.')))?;
        }
        if let Some(t) = self.expires {
            let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let date = super::date::format(secs);
            write!(f, "; Expires={}", String::from_utf8_lossy(&date))?;
        }
        match self.max_age {
            Some(n) if n > 0 => write!(f, "; Max-Age={n}")?,
            Some(_) => f.write_str("; Max-Age=0")?,
            None => {}
        }
        if self.http_only {
            f.write_str("; HttpOnly")?;
        }
        if self.secure {
            f.write_str("; Secure")?;
        }
        match self.same_site {
            Some(SameSite::Lax) => f.write_str("; SameSite=Lax")?,
            Some(SameSite::Strict) => f.write_str("; SameSite=Strict")?,
            Some(SameSite::None) => f.write_str("; SameSite=None")?,
            None => {}
        }
        Ok(())
    }
}

/// Adds a `Set-Cookie` header for `cookie` (Go's `http.SetCookie`); a cookie whose name is
/// not a token is left out (and logged at debug level).
pub fn set_cookie(w: &mut ResponseWriter<'_>, cookie: &Cookie) {
    let v = cookie.to_string();
    if v.is_empty() {
        tracing::debug!(name = %cookie.name, "goro-net http: cookie name is not a token");
        return;
    }
    w.header_add("Set-Cookie", &v);
}

/// The `name=value` pairs of a `Cookie` header value, quotes around a value removed.
pub(super) fn pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(';').filter_map(|part| {
        let (n, v) = part.trim().split_once('=')?;
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        (!n.is_empty()).then_some((n, v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_values_are_well_formed() {
        let full = Cookie {
            path: Some("/a;b".into()),
            domain: Some(".example.com".into()),
            expires: Some(UNIX_EPOCH + std::time::Duration::from_secs(784_111_777)),
            max_age: Some(-1),
            secure: true,
            http_only: true,
            same_site: Some(SameSite::Strict),
            ..Cookie::new("id", "a b;c\"d")
        };
        assert_eq!(
            full.to_string(),
            "id=\"a bcd\"; Path=/ab; Domain=example.com; Expires=Sun, 06 Nov 1994 08:49:37 GMT; \
             Max-Age=0; HttpOnly; Secure; SameSite=Strict"
        );
        assert_eq!(Cookie::new("bad name", "v").to_string(), "");
        assert_eq!(Cookie::new("n", "").to_string(), "n=");
    }

    #[test]
    fn cookie_headers_split_into_pairs() {
        let got: Vec<_> = pairs("a=1; b=\"two\";c=;  =x; junk ; d=4=4").collect();
        assert_eq!(got, [("a", "1"), ("b", "two"), ("c", ""), ("d", "4=4")]);
    }
}
