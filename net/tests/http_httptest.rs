//! `http::httptest`: the recorder and in-memory requests against the server's own writer,
//! and the test server against curl.
use std::io::{Read, Write};
use std::process::Command;

use goro_net::http::httptest::{self, ResponseRecorder, TestRequest};
use goro_net::http::{Handler, Request, ResponseWriter, ServeMux};

#[test]
fn a_handler_that_writes_nothing_records_an_empty_200() {
    let rec = TestRequest::new("GET", "/")
        .record(&|_w: &mut ResponseWriter<'_>, _r: &mut Request<'_>| {});
    assert_eq!(rec.status(), 200);
    assert_eq!(rec.header("content-length"), Some("0"));
    assert!(rec.body().is_empty());
    assert!(!rec.flushed());
}

#[test]
fn a_streamed_answer_is_recorded_decoded_and_flushed() {
    let stream = |w: &mut ResponseWriter<'_>, _r: &mut Request<'_>| {
        w.header_set("Content-Type", "text/event-stream");
        for i in 0..3 {
            let _ = write!(w, "data: {i}\n\n");
            let _ = w.flush();
        }
    };
    let rec = TestRequest::new("GET", "/events").record(&stream);
    assert_eq!(rec.header("transfer-encoding"), Some("chunked"));
    assert_eq!(rec.body_str(), "data: 0\n\ndata: 1\n\ndata: 2\n\n");
    assert!(rec.flushed());
    let raw = String::from_utf8_lossy(rec.raw()).into_owned();
    assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{raw}");
    assert!(raw.ends_with("0\r\n\r\n"), "{raw}");
}

#[test]
fn a_large_body_goes_through_the_writer_intact() {
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let expect = big.clone();
    let rec = TestRequest::new("PUT", "/blob").body(big).record(
        &|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
            let mut got = Vec::new();
            r.body().read_to_end(&mut got).unwrap();
            assert_eq!(r.content_length(), Some(got.len() as u64));
            let _ = w.write_all(&got);
        },
    );
    assert_eq!(rec.body(), &expect[..]);
}

#[test]
fn requests_carry_method_target_headers_host_and_form() {
    let show = |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        let (m, p, h) = (r.method(), r.path(), r.host());
        let a = r.header("x-a").unwrap_or("-").to_string();
        let q = r.form_value("q").unwrap_or("-").to_string();
        let _ = write!(w, "{m} {p} {h} {a} {q} {}", r.remote_addr());
    };
    let rec = TestRequest::new("GET", "/p?q=1")
        .header("X-A", "b")
        .record(&show);
    assert_eq!(rec.body_str(), "GET /p example.com b 1 192.0.2.1:1234");
    let rec = TestRequest::new("GET", "http://other.test/abs").record(&show);
    assert_eq!(rec.body_str(), "GET /abs other.test - - 192.0.2.1:1234");
    let rec = TestRequest::new("POST", "/f")
        .header("Host", "h.test")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("q=caf%C3%A9")
        .record(&show);
    assert_eq!(rec.body_str(), "POST /f h.test - café 192.0.2.1:1234");
}

/// Middleware tested as Go tests it: wrap a handler, record, look at both.
#[test]
fn middleware_and_a_mux_are_tested_in_memory() {
    struct RequireKey<H>(H);
    impl<H: Handler> Handler for RequireKey<H> {
        fn serve_http(&self, w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
            if r.header("x-key") != Some("sesame") {
                goro_net::http::error(w, "no key", 401);
                return;
            }
            self.0.serve_http(w, r);
        }
    }
    let mut mux = ServeMux::new();
    mux.handle_func("GET /items/{id}", |w, r| {
        let _ = write!(w, "item {}", r.path_value("id").unwrap());
    });
    let h = RequireKey(mux);
    let rec = TestRequest::new("GET", "/items/7").record(&h);
    assert_eq!((rec.status(), rec.body_str().trim()), (401, "no key"));
    let rec = TestRequest::new("GET", "/items/7")
        .header("X-Key", "sesame")
        .record(&h);
    assert_eq!((rec.status(), &*rec.body_str()), (200, "item 7"));
    let rec = TestRequest::new("DELETE", "/items/7")
        .header("X-Key", "sesame")
        .record(&h);
    assert_eq!(rec.status(), 405);
}

#[test]
fn a_recorder_records_a_fresh_answer_per_writer() {
    let mut rec = ResponseRecorder::new();
    TestRequest::new("GET", "/").with(|r| {
        let mut w = rec.writer();
        w.write_header(418);
        let _ = write!(w, "first {}", r.path());
    });
    assert_eq!((rec.status(), &*rec.body_str()), (418, "first /"));
    TestRequest::new("GET", "/2").with(|_r| {
        let _ = rec.writer().write_all(b"second");
    });
    assert_eq!((rec.status(), &*rec.body_str()), (200, "second"));
}

#[test]
#[should_panic(expected = "not a request target")]
fn a_target_the_server_would_refuse_panics() {
    let _ = TestRequest::new("GET", "no-slash");
}

#[test]
fn the_test_server_answers_curl_and_shuts_down_on_drop() {
    let ts = httptest::Server::new(|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        let _ = write!(w, "hi {}", r.path());
    });
    let url = format!("{}/there", ts.url());
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", &url])
        .output()
        .expect("curl runs");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi /there");
    let addr = ts.addr();
    assert!(ts.close());
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening after close"
    );
}
