//! notes: a small web app the way Go 1.22 programs are written, on goro's `http`.
//!
//! ```text
//! cargo run --release --example notes            # then open http://127.0.0.1:8082/
//! cargo run --release --example notes -- --addr 127.0.0.1:9000
//! ```
//!
//! What it shows, with the Go it ports:
//!
//! | route | Go | here |
//! |---|---|---|
//! | `GET /{$}` | `mux.HandleFunc("GET /{$}", index)` | the same pattern |
//! | `POST /notes` | `r.FormValue("text")`, `http.Redirect(w, r, "/", 303)` | `r.form_value("text")`, `http::redirect(w, r, "/", 303)` |
//! | `GET /notes/{id}` | `r.PathValue("id")`, `http.NotFound(w, r)` | `r.path_value("id")`, `http::not_found(w, r)` |
//! | `DELETE /notes/{id}` | `w.WriteHeader(204)` | `w.write_header(204)` |
//! | `/static/` | `http.StripPrefix("/static", http.FileServer(http.Dir(dir)))` | `http::strip_prefix("/static", FileServer::new(dir))` |
//!
//! The index counts your visits in a cookie (`r.Cookie`, `http.SetCookie`). Notes live in
//! memory behind a `goro::sync::Mutex`, which parks a waiting coroutine instead of blocking
//! its worker. Logs go to stderr; runs until killed.
use std::io::Write;
use std::sync::Arc;

use goro::sync::Mutex;
use goro_net::http::{self, Cookie, FileServer, Request, ResponseWriter, ServeMux};

/// The notes, newest last, with their ids.
#[derive(Default)]
pub struct Notes {
    list: Mutex<(u64, Vec<(u64, String)>)>,
}

/// The app's routes over `notes`, with the files under `static_dir` at `/static/`.
pub fn app(notes: Arc<Notes>, static_dir: &str) -> ServeMux {
    let mut mux = ServeMux::new();
    let n = notes.clone();
    mux.handle_func("GET /{$}", move |w, r| index(&n, w, r));
    let n = notes.clone();
    mux.handle_func("POST /notes", move |w, r| {
        let text = r.form_value("text").unwrap_or("").trim().to_string();
        if text.is_empty() {
            return http::error(w, "a note needs some text", 400);
        }
        let mut list = n.list.lock();
        list.0 += 1;
        let id = list.0;
        list.1.push((id, text));
        drop(list);
        http::redirect(w, r, "/", 303);
    });
    let n = notes.clone();
    mux.handle_func("GET /notes/{id}", move |w, r| {
        let list = n.list.lock();
        match find(&list.1, r) {
            Some(i) => {
                w.header_set("Content-Type", "text/plain; charset=utf-8");
                let _ = writeln!(w, "{}", list.1[i].1);
            }
            None => http::not_found(w, r),
        }
    });
    mux.handle_func("DELETE /notes/{id}", move |w, r| {
        let mut list = notes.list.lock();
        match find(&list.1, r) {
            Some(i) => {
                list.1.remove(i);
                w.write_header(204);
            }
            None => http::not_found(w, r),
        }
    });
    mux.handle(
        "/static/",
        http::strip_prefix("/static", FileServer::new(static_dir)),
    );
    mux
}

/// Where the note the request's `{id}` names is in `list`.
fn find(list: &[(u64, String)], r: &Request<'_>) -> Option<usize> {
    let id: u64 = r.path_value("id")?.parse().ok()?;
    list.iter().position(|(i, _)| *i == id)
}

fn index(notes: &Notes, w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
    let visits: u64 = r.cookie("visits").and_then(|v| v.parse().ok()).unwrap_or(0) + 1;
    http::set_cookie(
        w,
        &Cookie {
            path: Some("/".into()),
            http_only: true,
            ..Cookie::new("visits", visits.to_string())
        },
    );
    w.header_set("Content-Type", "text/html; charset=utf-8");
    let _ = write!(
        w,
        "<!doctype html>\n<link rel=\"stylesheet\" href=\"/static/notes.css\">\n\
         <h1>Notes</h1>\n<p>Visit {visits}.</p>\n<ul>\n"
    );
    for (id, text) in &notes.list.lock().1 {
        let _ = writeln!(w, "<li><a href=\"/notes/{id}\">{}</a></li>", escape(text));
    }
    let _ = w.write_all(
        b"</ul>\n<form method=\"post\" action=\"/notes\"><input name=\"text\" autofocus> \
          <button>Add</button></form>\n",
    );
}

/// `s` safe inside HTML text.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn main() {
    let mut addr = String::from("127.0.0.1:8082");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--addr", Some(v)) => addr = v,
            _ => {
                eprintln!("usage: notes [--addr HOST:PORT] (bad argument {a:?})");
                std::process::exit(2);
            }
        }
    }
    eprintln!("notes: listening on http://{addr}/");
    let static_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/static");
    if let Err(e) = http::listen_and_serve(&addr, app(Arc::default(), static_dir)) {
        eprintln!("notes: {e}");
        std::process::exit(1);
    }
}
