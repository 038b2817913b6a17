//! What handlers call besides the writer: decoded form values, http::error, not_found and
//! redirect, over real sockets.
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use goro_net::http::{self, Request, ResponseWriter, Server};

mod common;
use common::{ask, header, raw};

/// [`common::serve`] for a plain fn handler (so the closures below need no annotations).
fn serve(handler: fn(&mut ResponseWriter<'_>, &mut Request<'_>)) -> (SocketAddr, Server) {
    common::serve(handler)
}

fn get(addr: SocketAddr, target: &str) -> (u16, String, String) {
    ask(addr, "GET", target, "")
}

fn post(addr: SocketAddr, target: &str, content_type: &str, body: &str) -> (u16, String, String) {
    raw(
        addr,
        &format!(
            "POST {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Type: \
             {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn form_values_are_decoded_from_the_body_first_then_the_query() {
    let (addr, server) = serve(|w, r| {
        let show = |v: Option<&str>| v.map_or("-".to_string(), |v| format!("[{v}]"));
        let q = show(r.form_value("q"));
        let n = show(r.form_value("n"));
        let missing = show(r.form_value("missing"));
        let _ = write!(w, "q={q} n={n} missing={missing}");
    });
    let (status, _, body) = get(addr, "/s?q=caf%C3%A9+au+lait&n=1&n=2&bad=%zz");
    assert_eq!(
        (status, body.as_str()),
        (200, "q=[café au lait] n=[1] missing=-")
    );
    let form = "application/x-www-form-urlencoded; charset=utf-8";
    let (_, _, body) = post(addr, "/s?n=from-query&q=query", form, "q=from+body&x=%41");
    assert_eq!(body, "q=[from body] n=[from-query] missing=-");
    // Another content type: the body is not a form, only the query counts.
    let (_, _, body) = post(addr, "/s?q=query", "text/plain", "q=body");
    assert_eq!(body, "q=[query] n=- missing=-");
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn error_not_found_and_redirect_answer_as_go_does() {
    let (addr, server) = serve(|w, r| match r.path() {
        "/err" => {
            w.header_set("Content-Length", "999"); // dropped by error()
            http::error(w, "teapot trouble", 418)
        }
        "/missing" => http::not_found(w, r),
        "/posts/7" => http::redirect(w, r, "edit?tab=1", 303),
        "/abs" => http::redirect(w, r, "http://example.com/x", 302),
        "/a/b/c" => http::redirect(w, r, "../d/", 307),
        "/xss" => http::redirect(w, r, "/\"><script>", 302),
        _ => {}
    });
    let (status, head, body) = get(addr, "/err");
    assert_eq!((status, body.as_str()), (418, "teapot trouble\n"));
    assert_eq!(
        header(&head, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(header(&head, "x-content-type-options"), Some("nosniff"));
    let (status, _, body) = get(addr, "/missing");
    assert_eq!((status, body.as_str()), (404, "404 page not found\n"));
    for (from, code, to) in [
        ("/posts/7", 303, "/posts/edit?tab=1"),
        ("/abs", 302, "http://example.com/x"),
        ("/a/b/c", 307, "/a/d/"),
    ] {
        let (status, head, body) = get(addr, from);
        assert_eq!(
            (status, header(&head, "location")),
            (code, Some(to)),
            "{from}"
        );
        assert!(body.contains(&format!("href=\"{to}\"")), "{body}");
    }
    // The target is escaped in the HTML body.
    let (_, _, body) = get(addr, "/xss");
    assert!(
        !body.contains("<script>") && body.contains("&lt;script&gt;"),
        "{body}"
    );
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn cookies_are_read_from_requests_and_set_on_answers() {
    let (addr, server) = serve(|w, r| {
        let n: u64 = r.cookie("visits").and_then(|v| v.parse().ok()).unwrap_or(0);
        let all: Vec<String> = r.cookies().map(|(k, v)| format!("{k}={v}")).collect();
        http::set_cookie(w, &http::Cookie::new("visits", (n + 1).to_string()));
        http::set_cookie(
            w,
            &http::Cookie {
                http_only: true,
                max_age: Some(60),
                ..http::Cookie::new("session", "s1")
            },
        );
        let _ = write!(w, "visit {} [{}]", n + 1, all.join(" "));
    });
    let (_, head, body) = get(addr, "/");
    assert_eq!(body, "visit 1 []");
    let set: Vec<&str> = head
        .lines()
        .filter_map(|l| l.strip_prefix("Set-Cookie: "))
        .collect();
    assert_eq!(set, ["visits=1", "session=s1; Max-Age=60; HttpOnly"]);
    let (_, _, body) = raw(
        addr,
        "GET / HTTP/1.1\r\nHost: h\r\nCookie: theme=dark; visits=41\r\nCookie: x=\"q\"\r\n\
         Connection: close\r\n\r\n",
    );
    assert_eq!(body, "visit 42 [theme=dark visits=41 x=q]");
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn strip_prefix_changes_the_path_but_not_the_uri() {
    let inner = |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        let _ = write!(w, "path={} query={} uri={}", r.path(), r.query(), r.uri());
    };
    let (addr, server) = common::serve(http::strip_prefix("/api", inner));
    let (_, _, body) = get(addr, "/api/v1/items?x=1");
    assert_eq!(body, "path=/v1/items query=x=1 uri=/api/v1/items?x=1");
    assert_eq!(get(addr, "/other").0, 404);
    server.shutdown(Duration::from_secs(1));
}
