//! The `notes` example app through a real server and client: routes, forms, redirects,
//! cookies, path values and its static file.
use std::sync::Arc;
use std::time::Duration;

use goro_net::http::Client;

mod common;

#[allow(dead_code)]
#[path = "../../examples/notes.rs"]
mod notes;

#[test]
fn the_notes_app_works_as_a_browser_would_use_it() {
    let static_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/static");
    let (addr, server) = common::serve(notes::app(Arc::default(), static_dir));
    let c = Client::new();
    let url = |p: &str| format!("http://{addr}{p}");
    let form = [("Content-Type", "application/x-www-form-urlencoded")];

    let page = c.get(&url("/")).unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("set-cookie"),
        Some("visits=1; Path=/; HttpOnly")
    );
    // Posting follows the 303 back to the index, now listing the note (escaped).
    let page = c
        .request("POST", &url("/notes"), &form, b"text=buy+milk+%3Cfresh%3E")
        .unwrap();
    let html = String::from_utf8(page.body).unwrap();
    assert!(
        html.contains("<a href=\"/notes/1\">buy milk &lt;fresh&gt;</a>"),
        "{html}"
    );
    assert_eq!(
        c.request("POST", &url("/notes"), &form, b"text=")
            .unwrap()
            .status,
        400
    );

    let note = c.get(&url("/notes/1")).unwrap();
    assert_eq!(
        (note.status, note.body.as_slice()),
        (200, &b"buy milk <fresh>\n"[..])
    );
    // The visit counter reads the cookie back.
    let page = c
        .request("GET", &url("/"), &[("Cookie", "visits=41")], &[])
        .unwrap();
    assert!(String::from_utf8(page.body).unwrap().contains("Visit 42."));

    assert_eq!(
        c.request("DELETE", &url("/notes/1"), &[], &[])
            .unwrap()
            .status,
        204
    );
    assert_eq!(c.get(&url("/notes/1")).unwrap().status, 404);
    assert_eq!(c.get(&url("/notes/x")).unwrap().status, 404);
    assert_eq!(
        c.request("PUT", &url("/notes/1"), &[], &[]).unwrap().status,
        405
    );
    assert_eq!(c.get(&url("/nowhere")).unwrap().status, 404);

    let css = c.get(&url("/static/notes.css")).unwrap();
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.body.starts_with(b"body {"));
    server.shutdown(Duration::from_secs(1));
}
