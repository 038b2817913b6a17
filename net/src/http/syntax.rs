//! Token and path syntax: the small grammar helpers that the client, the server, the mux,
//! cookies and redirects share (RFC 9110 tokens and lists, URL bytes, path cleaning).
//!
//! The lowest module of `http`: it imports nothing from its siblings.

/// `tchar` of RFC 9110 §5.6.2: the characters of a token (a header name, a method).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 9110 `token`: one or more [`is_tchar`] characters.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// A byte a URL may carry as is in a request line: not a space, control or DEL.
pub(crate) fn is_visible(b: u8) -> bool {
    b > b' ' && b != 0x7f
}

/// True if the comma-separated header value `v` holds `token` (ASCII case-insensitive).
pub(crate) fn has_token(v: &[u8], token: &[u8]) -> bool {
    v.split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// The path in clean form (Go's `cleanPath`): no empty, `.` or `..` segments, the
/// trailing slash kept. `None` if it is clean already (the usual case: no allocation).
pub(crate) fn clean(path: &str) -> Option<String> {
    if !is_dirty(path.as_bytes()) {
        return None;
    }
    let mut out: Vec<&str> = Vec::new();
    for s in path.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut c = format!("/{}", out.join("/"));
    if path.ends_with('/') && c != "/" {
        c.push('/');
    }
    Some(c)
}

/// Whether `path` has an empty segment between two slashes, or a `.` or `..` segment. One
/// pass over the bytes: this runs on every request the mux routes.
fn is_dirty(path: &[u8]) -> bool {
    let mut start = 0; // where the current segment begins
    for i in 0..=path.len() {
        if i < path.len() && path[i] != b'/' {
            continue;
        }
        match &path[start..i] {
            b"." | b".." => return true,
            b"" if start > 0 && i < path.len() => return true,
            _ => {}
        }
        start = i + 1;
    }
    false
}

/// RFC 3986 §5.2.4 on a path that is empty or starts with `/`.
pub(crate) fn remove_dots(path: &str) -> String {
    if !path.split('/').any(|s| s == "." || s == "..") {
        return path.to_string();
    }
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, s) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *s {
            "." | ".." => {
                if *s == ".." {
                    out.pop();
                }
                if last {
                    out.push(""); // `/a/b/..` is `/a/`
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_tokens_match_whole_words_in_any_case() {
        assert!(has_token(b"chunked", b"chunked"));
        assert!(has_token(b"gzip, Chunked", b"chunked"));
        assert!(has_token(b" Keep-Alive ", b"keep-alive"));
        assert!(!has_token(b"notchunked", b"chunked"));
        assert!(!has_token(b"", b"close"));
    }

    #[test]
    fn tokens() {
        assert!(is_token("GET") && is_token("X-Custom_1") && is_token("!#$%&'*+-.^_`|~"));
        for bad in ["", "a b", "a:b", "a\r", "(x)", "é"] {
            assert!(!is_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn paths_clean_as_go_cleans_them() {
        for (dirty, clean_form) in [
            ("/a//b", "/a/b"),
            ("/a/./b/", "/a/b/"),
            ("/a/b/..", "/a"),
            ("/../x", "/x"),
            ("//", "/"),
            ("/a/..", "/"),
        ] {
            assert_eq!(clean(dirty).as_deref(), Some(clean_form), "{dirty}");
        }
        for ok in ["/", "/a", "/a/", "/.well-known/x", "/a..b", "/a/.b/..c/"] {
            assert_eq!(clean(ok), None, "{ok}");
        }
    }

    #[test]
    fn the_one_pass_dirt_check_agrees_with_the_plain_one() {
        // Every path of up to 6 bytes over the alphabet that matters.
        let plain = |p: &str| p.contains("//") || p.split('/').any(|s| s == "." || s == "..");
        let mut paths = vec![String::new()];
        for _ in 0..6 {
            let longer: Vec<String> = paths
                .iter()
                .flat_map(|p| ['/', '.', 'a'].map(|c| format!("{p}{c}")))
                .collect();
            for p in paths.iter().chain(&longer) {
                assert_eq!(is_dirty(p.as_bytes()), plain(p), "{p:?}");
            }
            paths = longer;
        }
    }
}
