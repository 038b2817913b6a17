//! goro_net::http::FileServer, serve_file and strip_prefix over real sockets and a real
//! directory: types, ranges, caching, directories, listings, and paths that try to leave
//! the root.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use goro_net::http::{self, Client, FileServer, ServeMux, Server};

mod common;
use common::{ask, header, serve};

/// A fresh directory tree for one test, removed when dropped.
struct Tree(PathBuf);

impl Tree {
    fn new(name: &str) -> Tree {
        let dir = std::env::temp_dir().join(format!("goro-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = dir.join("root");
        for d in ["sub", "list/dir"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let put = |p: &str, data: &[u8]| std::fs::write(root.join(p), data).unwrap();
        put("hello.txt", b"hello, file\n");
        put("blob", &blob());
        put("sub/index.html", b"<p>sub index</p>\n");
        put("list/a.css", b"p{}");
        put("list/b c.txt", b"spaced");
        std::fs::write(dir.join("secret"), b"outside the root").unwrap();
        Tree(dir)
    }

    fn root(&self) -> PathBuf {
        self.0.join("root")
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// 600,000 bytes of every value: more than one piece read from the file.
fn blob() -> Vec<u8> {
    (0..600_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn serve_tree(root: &Path) -> (SocketAddr, Server) {
    let mut mux = ServeMux::new();
    mux.handle(
        "/static/",
        http::strip_prefix("/static", FileServer::new(root)),
    );
    let one = root.join("hello.txt");
    mux.handle_func("/one", move |w, r| http::serve_file(w, r, &one));
    serve(mux)
}

#[test]
fn files_are_served_with_types_ranges_and_validators() {
    let tree = Tree::new("files");
    let (addr, server) = serve_tree(&tree.root());
    let (status, head, body) = ask(addr, "GET", "/static/hello.txt", "");
    assert_eq!((status, body.as_str()), (200, "hello, file\n"));
    assert_eq!(
        header(&head, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(header(&head, "accept-ranges"), Some("bytes"));
    let modified = header(&head, "last-modified").unwrap().to_string();
    assert!(modified.ends_with(" GMT"), "{modified}");

    let (status, _, body) = ask(
        addr,
        "GET",
        "/static/hello.txt",
        &format!("If-Modified-Since: {modified}\r\n"),
    );
    assert_eq!((status, body.as_str()), (304, ""));
    // Dates compare as times, in any of HTTP's three forms, not as strings.
    for (ims, want) in [
        ("Fri, 01 Jan 2100 00:00:00 GMT", 304),  // later than the file
        ("Friday, 01-Jan-70 00:00:00 GMT", 200), // earlier
        ("Thu Jan  1 00:00:00 1970", 200),       // earlier, asctime
        ("not a date", 200),                     // ignored
    ] {
        let (status, _, _) = ask(
            addr,
            "GET",
            "/static/hello.txt",
            &format!("If-Modified-Since: {ims}\r\n"),
        );
        assert_eq!(status, want, "If-Modified-Since: {ims}");
    }
    for (ius, want) in [
        ("Fri, 01 Jan 2100 00:00:00 GMT", 200),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 412),
    ] {
        let (status, _, _) = ask(
            addr,
            "GET",
            "/static/hello.txt",
            &format!("If-Unmodified-Since: {ius}\r\n"),
        );
        assert_eq!(status, want, "If-Unmodified-Since: {ius}");
    }
    let (status, head, body) = ask(addr, "GET", "/static/hello.txt", "Range: bytes=0-4\r\n");
    assert_eq!((status, body.as_str()), (206, "hello"));
    assert_eq!(header(&head, "content-range"), Some("bytes 0-4/12"));
    let (_, _, body) = ask(addr, "GET", "/static/hello.txt", "Range: bytes=-5\r\n");
    assert_eq!(body, "file\n");
    // Several ranges: one multipart/byteranges body, its length declared exactly.
    let (status, head, body) = ask(
        addr,
        "GET",
        "/static/hello.txt",
        "Range: bytes=0-4, 7-10\r\n",
    );
    assert_eq!(status, 206);
    let ctype = header(&head, "content-type").unwrap();
    let boundary = ctype
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{ctype}"));
    assert_eq!(
        header(&head, "content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(
        body,
        format!(
            "--{boundary}\r\nContent-Range: bytes 0-4/12\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n\
             --{boundary}\r\nContent-Range: bytes 7-10/12\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nfile\r\n\
             --{boundary}--\r\n"
        )
    );
    // HEAD gives the same length and no body.
    let (status, head, body) = ask(
        addr,
        "HEAD",
        "/static/hello.txt",
        "Range: bytes=0-4, 7-10\r\n",
    );
    assert_eq!((status, body.as_str()), (206, ""));
    assert!(header(&head, "content-length").is_some_and(|n| n.parse::<usize>().unwrap() > 9));
    // Ranges adding up to more than the file: the whole file.
    let (status, _, body) = ask(
        addr,
        "GET",
        "/static/hello.txt",
        "Range: bytes=0-9,2-11\r\n",
    );
    assert_eq!((status, body.as_str()), (200, "hello, file\n"));
    let (status, head, _) = ask(addr, "GET", "/static/hello.txt", "Range: bytes=100-\r\n");
    assert_eq!(status, 416);
    assert_eq!(header(&head, "content-range"), Some("bytes */12"));

    // A file of several pieces, byte for byte; HEAD gives its length only.
    let c = Client::new();
    let r = c.get(&format!("http://{addr}/static/blob")).unwrap();
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert!(r.body == blob(), "the blob came back different");
    // Several ranges of it, each longer than one read of the file, byte for byte.
    let r = c
        .request(
            "GET",
            &format!("http://{addr}/static/blob"),
            &[("Range", "bytes=599990-, 10-300009")],
            &[],
        )
        .unwrap();
    assert_eq!(r.status, 206);
    let ctype = r.header("content-type").unwrap().to_string();
    let boundary = ctype
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap();
    let b = blob();
    let mut want = Vec::new();
    for (i, (lo, hi)) in [(599_990usize, 599_999usize), (10, 300_009)]
        .into_iter()
        .enumerate()
    {
        let sep = if i == 0 { "" } else { "\r\n" };
        want.extend(
            format!(
                "{sep}--{boundary}\r\nContent-Range: bytes {lo}-{hi}/600000\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .bytes(),
        );
        want.extend_from_slice(&b[lo..=hi]);
    }
    want.extend(format!("\r\n--{boundary}--\r\n").bytes());
    assert!(r.body == want, "the multipart body came back different");
    let r = c
        .request("HEAD", &format!("http://{addr}/static/blob"), &[], &[])
        .unwrap();
    assert_eq!(
        (r.header("content-length"), r.body.len()),
        (Some("600000"), 0)
    );
    let r = c
        .request(
            "GET",
            &format!("http://{addr}/static/blob"),
            &[("Range", "bytes=300000-300009")],
            &[],
        )
        .unwrap();
    assert_eq!(
        (r.status, r.body.as_slice()),
        (206, &blob()[300_000..300_010])
    );

    assert_eq!(ask(addr, "GET", "/one", "").2, "hello, file\n");
    assert_eq!(ask(addr, "POST", "/static/hello.txt", "").0, 405);
    assert_eq!(ask(addr, "GET", "/static/nothing.txt", "").0, 404);
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn directories_redirect_index_and_list() {
    let tree = Tree::new("dirs");
    let (addr, server) = serve_tree(&tree.root());
    let (status, head, _) = ask(addr, "GET", "/static/sub?x=1", "");
    assert_eq!((status, header(&head, "location")), (301, Some("sub/?x=1")));
    let (status, head, body) = ask(addr, "GET", "/static/sub/", "");
    assert_eq!((status, body.as_str()), (200, "<p>sub index</p>\n"));
    assert_eq!(
        header(&head, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let (status, head, _) = ask(addr, "GET", "/static/sub/index.html", "");
    assert_eq!((status, header(&head, "location")), (301, Some("./")));
    let (status, _, body) = ask(addr, "GET", "/static/list/", "");
    assert_eq!(status, 200);
    for link in [
        "href=\"a.css\"",
        "href=\"b%20c.txt\">b c.txt<",
        "href=\"dir/\"",
    ] {
        assert!(body.contains(link), "{link} missing from {body}");
    }
    // The followed redirect lands on the index.
    let r = Client::new()
        .get(&format!("http://{addr}/static/sub"))
        .unwrap();
    assert_eq!(r.body, b"<p>sub index</p>\n");
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn no_path_reaches_outside_the_root() {
    let tree = Tree::new("escape");
    let (addr, server) = serve_tree(&tree.root());
    for target in [
        "/static/../secret",
        "/static/%2e%2e/secret",
        "/static/%2E%2E%2Fsecret",
        "/static/sub/..%2f..%2fsecret",
        "/static//../secret",
        "/static/%00",
        "/static/%zz",
    ] {
        let (status, _, body) = ask(addr, "GET", target, "");
        assert!(
            !body.contains("outside the root"),
            "{target} leaked: {status}"
        );
        assert_ne!(status, 200, "{target}");
    }
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn random_paths_never_leave_the_root_nor_break_the_server() {
    let tree = Tree::new("random");
    let (addr, server) = serve_tree(&tree.root());
    // Paths built from the pieces escapes are made of, by a fixed-seed generator.
    let pieces = [
        "/",
        ".",
        "..",
        "%2e",
        "%2E%2e",
        "%2f",
        "%2F",
        "%5c",
        "\\",
        "%00",
        "%",
        "%zz",
        "sub",
        "list",
        "hello.txt",
        "index.html",
        "secret",
        "~",
        "%252e",
        ";",
        "?",
        "#",
        "..;",
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..400 {
        let mut target = String::from("/static/");
        for _ in 0..(next() % 8) {
            target.push_str(pieces[(next() % pieces.len() as u64) as usize]);
        }
        let (status, _, body) = ask(addr, "GET", &target, "");
        assert!(
            [200, 206, 301, 400, 403, 404].contains(&status),
            "{target}: {status}"
        );
        assert!(!body.contains("outside the root"), "{target} leaked");
    }
    // Still serving.
    assert_eq!(ask(addr, "GET", "/static/hello.txt", "").2, "hello, file\n");
    server.shutdown(Duration::from_secs(1));
}
