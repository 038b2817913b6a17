//! goro_net::http::ServeMux: Go 1.22 patterns, precedence, path values, 404/405/301.
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use goro_net::http::{Request, ResponseWriter, ServeMux};

mod common;
use common::{ask, header, serve};

/// A handler that names its route and the path values it got.
fn labelled(
    label: &'static str,
) -> impl Fn(&mut ResponseWriter<'_>, &mut Request<'_>) + Send + Sync + 'static {
    move |w, r| {
        let mut out = label.to_string();
        for name in ["id", "tag", "path"] {
            if let Some(v) = r.path_value(name) {
                out += &format!(" {name}={v}");
            }
        }
        let _ = w.write_all(out.as_bytes());
    }
}

#[test]
fn the_most_specific_pattern_wins_and_gets_its_path_values() {
    let mut mux = ServeMux::new();
    mux.handle_func("/", labelled("root-tree"));
    mux.handle_func("/{$}", labelled("root-only"));
    mux.handle_func("/items/", labelled("items-tree"));
    mux.handle_func("GET /items/{id}", labelled("get-item"));
    mux.handle_func("POST /items/{id}", labelled("post-item"));
    mux.handle_func("GET /items/new", labelled("new-item"));
    mux.handle_func("/items/{id}/tags/{tag}", labelled("tag"));
    mux.handle_func("/files/{path...}", labelled("files"));
    mux.handle_func("example.com/", labelled("host"));
    mux.handle_func("/caf%C3%A9", labelled("cafe")); // literals are decoded too
    let (addr, server) = serve(mux);
    for (method, target, want) in [
        ("GET", "/", "root-only"),
        ("GET", "/other", "root-tree"),
        ("GET", "/items/", "items-tree"),
        ("GET", "/items/42", "get-item id=42"),
        ("POST", "/items/42?x=1", "post-item id=42"),
        ("DELETE", "/items/42", "items-tree"),
        ("GET", "/items/new", "new-item"),
        ("GET", "/items/7/tags/blue", "tag id=7 tag=blue"),
        ("GET", "/items/7/tags/blue/", "items-tree"),
        ("GET", "/files/a/b/c.txt", "files path=a/b/c.txt"),
        ("GET", "/files/", "files path="),
        ("GET", "/files", "root-tree"),
        // Segments are decoded before they are compared, as Go decodes them: %2F stays
        // inside its segment, %6E matches an n, and values come out decoded.
        ("GET", "/items/a%2Fb", "get-item id=a/b"),
        ("GET", "/items/%6Eew", "new-item"),
        (
            "GET",
            "/items/a%20b/tags/%C3%A9t%C3%A9",
            "tag id=a b tag=été",
        ),
        ("GET", "/files/x%2Fy/z%3F", "files path=x/y/z?"),
        ("GET", "/caf%c3%a9", "cafe"),
        // One that does not decode is compared, and given, as sent.
        ("GET", "/items/%zz", "get-item id=%zz"),
        ("GET", "/items/%FF", "get-item id=%FF"),
    ] {
        let (status, _, body) = ask(addr, method, target, "");
        assert_eq!((status, body.as_str()), (200, want), "{method} {target}");
    }
    // GET patterns answer HEAD.
    let (status, head, body) = ask(addr, "HEAD", "/items/42", "");
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(header(&head, "content-length"), Some("14"), "{head}");
    // A host pattern beats every pattern without one; the port does not count.
    for host in ["example.com", "EXAMPLE.com:8080"] {
        assert_eq!(
            ask(addr, "GET", "/items/42", &format!("Host: {host}\r\n")).2,
            "host",
            "{host}"
        );
    }
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn unmatched_paths_get_404_405_or_a_redirect_to_their_canonical_form() {
    let mut mux = ServeMux::new();
    mux.handle_func("GET /only", labelled("only"));
    mux.handle_func("PUT /only", labelled("only-put"));
    mux.handle_func("/dir/", labelled("dir"));
    let (addr, server) = serve(mux);
    let (status, head, _) = ask(addr, "POST", "/only", "");
    assert_eq!(status, 405);
    assert_eq!(header(&head, "allow"), Some("GET, HEAD, PUT"));
    assert_eq!(ask(addr, "GET", "/nothing", "").0, 404);
    for (target, location) in [
        ("/dir", "/dir/"),
        ("/dir?x=1", "/dir/?x=1"),
        ("/a/../only", "/only"),
        ("//only", "/only"),
        ("/dir/./x/", "/dir/x/"),
        ("/dir/x/..", "/dir"),
    ] {
        let (status, head, _) = ask(addr, "GET", target, "");
        assert_eq!(
            (status, header(&head, "location")),
            (301, Some(location)),
            "{target}"
        );
    }
    // Names that merely start with a dot are clean.
    assert_eq!(ask(addr, "GET", "/dir/.well-known", "").2, "dir");
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn ambiguous_and_malformed_patterns_are_refused() {
    let refused = |patterns: &[&str]| -> String {
        let mut mux = ServeMux::new();
        let err = catch_unwind(AssertUnwindSafe(|| {
            for p in patterns {
                mux.handle_func(p, |_, _| {});
            }
        }))
        .expect_err(&format!("{patterns:?} were accepted"));
        err.downcast_ref::<String>().cloned().unwrap_or_default()
    };
    // Neither more specific: each matches requests the other does not.
    assert!(refused(&["/a/{x}", "/{y}/b"]).contains("conflicts"));
    assert!(refused(&["GET /{x}", "/a"]).contains("conflicts"));
    assert!(refused(&["/a/{x...}", "/{y}/b"]).contains("conflicts"));
    assert!(refused(&["/a/", "/{x}/{y}"]).contains("conflicts"));
    // (Go's own example: a method on one, a literal on the other.)
    assert!(refused(&["GET /items/{id}", "/items/new"]).contains("conflicts"));
    // The same requests.
    assert!(refused(&["/a", "/a"]).contains("same requests"));
    assert!(refused(&["/a/{x}", "/a/{y}"]).contains("same requests"));
    assert!(refused(&["/a/", "/a/{rest...}"]).contains("same requests"));
    assert!(refused(&["/a", "/%61"]).contains("same requests"));
    for bad in [
        "/a{x}",
        "/{x...}/b",
        "/{1x}",
        "/{x}/{x}",
        "no-slash",
        "/{$}/x",
        "BAD METHOD /x",
        "/a%zz",
    ] {
        assert!(refused(&[bad]).contains("bad pattern"), "{bad}");
    }
    // More specific in one way and not less in any other: both may be registered.
    let mut mux = ServeMux::new();
    for p in [
        "/a",
        "GET /a",
        "HEAD /a",
        "/a/{x}",
        "/a/b",
        "/a/",
        "/b/{x}/{y}",
        "/{$}",
        "/",
        "h.example/a",
    ] {
        mux.handle_func(p, |_, _| {});
    }
    let shown = format!("{mux:?}");
    assert!(
        shown.contains("\"GET /a\"") && shown.contains("\"h.example/a\""),
        "{shown}"
    );
}
