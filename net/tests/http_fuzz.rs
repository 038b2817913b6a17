//! Seeded random input against the HTTP server and client, on 127.0.0.1.
//!
//! Valid requests (and, for the client, valid responses) are mutated at random: bytes
//! flipped, inserted or cut, numbers made huge, the stream cut short, and every input is
//! written in random pieces. Whatever arrives, nothing may panic, every answer must be a
//! well-formed response, the server must stay up with no connection left open, and the
//! inputs left intact must come through byte for byte however they were split. Bounded in
//! count and time; the seed is printed so a failure can be replayed (`FUZZ_SEED=n`).
mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro_net::http::{Client, Request, ResponseWriter, Server};

/// Panics anywhere in the process (this file is its own test binary).
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default(info);
    }));
}

/// xorshift64*: reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn from_env() -> Rng {
        let seed = std::env::var("FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            })
            | 1;
        eprintln!("http_fuzz: FUZZ_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that make parsers work: separators, digits, hex, and the high half.
const NASTY: &[&[u8]] = &[
    b"\r\n",
    b"\r\n\r\n",
    b":",
    b" ",
    b"\0",
    b"\xff",
    b"99999999999999999999",
    b"ffffffffffffffff",
    // In range for a u64, far past any memory: a length to be believed only as bytes come.
    b"1000000000000",
    b"fffffffffff",
    b"-1",
    b";ext=\"x\"",
    b"0\r\n\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Length: 5\r\n",
    b"Content-Length: 100000\r\n",
    b"Expect: 100-continue\r\n",
];

/// One random change to `input`.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    let at = rng.below(input.len() + 1);
    match rng.below(6) {
        0 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] = rng.next() as u8;
        }
        1 => {
            let junk: Vec<u8> = (0..1 + rng.below(8)).map(|_| rng.next() as u8).collect();
            input.splice(at..at, junk);
        }
        2 => {
            let end = (at + 1 + rng.below(16)).min(input.len());
            input.drain(at..end);
        }
        3 => {
            let nasty = NASTY[rng.below(NASTY.len())];
            input.splice(at..at, nasty.iter().copied());
        }
        4 => input.truncate(at),
        _ => {
            // Repeat a stretch (a header, a chunk, a whole request), now and then many times
            // over (past the size limits).
            let end = (at + 1 + rng.below(64)).min(input.len());
            let times = if rng.below(4) == 0 {
                10 + rng.below(90)
            } else {
                1
            };
            let copy = input[at..end].repeat(times);
            input.splice(end..end, copy);
        }
    }
}

/// Writes `data` in random pieces, sometimes pausing between them.
fn write_in_pieces(rng: &mut Rng, s: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    let mut rest = data;
    while !rest.is_empty() {
        let n = 1 + rng.below(rest.len().min(64));
        s.write_all(&rest[..n])?;
        rest = &rest[n..];
        if rng.below(8) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok(())
}

/// Echoes method, target and body, so an intact request's answer can be checked exactly.
fn echo(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
    let Some(body) = common::body_or_400(w, r) else {
        return;
    };
    let _ = write!(w, "{} {} ", r.method(), r.uri());
    let _ = w.write_all(&body);
}

/// `body` in chunked framing: chunks of `size` bytes carrying extension `ext`, then the
/// last chunk and `trailer` lines.
fn chunked(body: &[u8], size: usize, ext: &str, trailer: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(size) {
        out.extend_from_slice(format!("{:x}{ext}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("0\r\n{trailer}\r\n").as_bytes());
    out
}

/// Valid requests, and the echo body each one must get back.
fn requests() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut body = Vec::new();
    for i in 0..300 {
        body.extend_from_slice(format!("{i:04}").as_bytes());
    }
    let chunked = chunked(&body, 97, ";n=v", "Trailer: t\r\n");
    let mut cases = vec![
        (
            b"GET /a?q=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n".to_vec(),
            b"GET /a?q=1 ".to_vec(),
        ),
        (b"GET / HTTP/1.0\r\n\r\n".to_vec(), b"GET / ".to_vec()),
    ];
    let mut post = format!(
        "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    post.extend_from_slice(&body);
    cases.push((post, [&b"POST /p "[..], &body].concat()));
    let mut post = b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    post.extend_from_slice(&chunked);
    cases.push((post, [&b"POST /c "[..], &body].concat()));
    cases
}

/// Splits what the server sent into responses; panics on anything that is not one.
fn check_responses(reply: &[u8], input: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = reply;
    while !rest.is_empty() {
        let mut hs = [httparse::EMPTY_HEADER; 32];
        let mut r = httparse::Response::new(&mut hs);
        let head = match r.parse(rest) {
            Ok(httparse::Status::Complete(n)) => n,
            other => panic!(
                "not a response ({other:?}): {:?}\nfor input {:?}",
                String::from_utf8_lossy(reply),
                String::from_utf8_lossy(input)
            ),
        };
        let code = r.code.unwrap();
        let len: usize = r
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .map_or(0, |h| {
                std::str::from_utf8(h.value).unwrap().parse().unwrap()
            });
        assert!(
            rest.len() >= head + len,
            "response cut short: {:?}",
            String::from_utf8_lossy(reply)
        );
        out.push((code, rest[head..head + len].to_vec()));
        rest = &rest[head + len..];
    }
    out
}

#[test]
fn random_requests_never_break_the_server() {
    count_panics();
    let mut rng = Rng::from_env();
    let ln = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let server = Server::builder()
        .read_header_timeout(Duration::from_millis(300))
        .read_timeout(Duration::from_millis(300))
        .max_header_bytes(2048)
        .max_body_bytes(4096)
        .build(echo);
    let s = server.clone();
    goro::spawn(move || s.serve(ln));

    let cases = requests();
    let started = Instant::now();
    let (mut intact, mut answered) = (0, 0);
    let mut statuses = std::collections::BTreeMap::new();
    for round in 0..1000 {
        if started.elapsed() > Duration::from_secs(60) {
            break;
        }
        let (valid, expect) = &cases[rng.below(cases.len())];
        let mut input = valid.clone();
        let mutations = if round % 4 == 0 { 0 } else { 1 + rng.below(3) };
        for _ in 0..mutations {
            mutate(&mut rng, &mut input);
        }
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        match write_in_pieces(&mut rng, &mut c, &input) {
            // The server closed first (after an early 400, say): fine for a mutated one.
            Err(_) if mutations > 0 => continue,
            r => r.expect("an intact request could not be sent"),
        }
        let _ = c.shutdown(Shutdown::Write);
        let mut reply = Vec::new();
        match c.read_to_end(&mut reply) {
            Ok(_) => {}
            // Closed on input it had not read (after an early error answer): the kernel may
            // then drop what was on its way to us. Allowed; a hang is not.
            Err(e) if e.kind() == ErrorKind::ConnectionReset && mutations > 0 => continue,
            Err(e) => panic!(
                "the server neither answered nor closed ({e}): input {:?}",
                String::from_utf8_lossy(&input)
            ),
        }
        let answers = check_responses(&reply, &input);
        answered += usize::from(!answers.is_empty());
        for (code, _) in &answers {
            *statuses.entry(*code).or_insert(0) += 1;
        }
        if mutations == 0 {
            intact += 1;
            assert_eq!(answers.len(), 1, "{}", String::from_utf8_lossy(&reply));
            assert_eq!(answers[0].0, 200);
            assert_eq!(
                answers[0].1,
                *expect,
                "intact request changed on the way, input {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
    eprintln!("http_fuzz: {intact} intact, {answered} answered; statuses {statuses:?}");
    assert!(
        intact >= 10 && answered >= 50,
        "{intact} intact, {answered} answered"
    );

    // Still serving, and every connection ended (none is stuck in a coroutine).
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    c.read_to_end(&mut reply).unwrap();
    let answers = check_responses(&reply, b"");
    assert_eq!(answers, vec![(200, b"GET /after ".to_vec())]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.stats().active > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.stats().active, 0, "connections left open");
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "something panicked");
    server.shutdown(Duration::from_secs(1));
}

/// A backend on an OS thread that answers every request with the next of `answers`, then
/// closes the connection.
fn backend(answers: Vec<Vec<u8>>) -> SocketAddr {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut rng = Rng(0x5eed);
        for (answer, conn) in answers.into_iter().zip(ln.incoming()) {
            let Ok(mut conn) = conn else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match conn.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let _ = write_in_pieces(&mut rng, &mut conn, &answer);
        }
    });
    addr
}

#[test]
fn random_responses_never_break_the_client() {
    count_panics();
    let mut rng = Rng::from_env();
    let body: Vec<u8> = (0..1500u32).map(|i| b'a' + (i % 26) as u8).collect();
    let chunked = chunked(&body, 211, "", "");
    let valid = [
        [
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
            &body,
        ]
        .concat(),
        [
            &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"[..],
            &chunked,
        ]
        .concat(),
    ];
    const N: usize = 400;
    let mut answers = Vec::new();
    let mut intact = Vec::new();
    for i in 0..N {
        let mut a = valid[rng.below(valid.len())].clone();
        let keep = i % 4 == 0;
        if !keep {
            for _ in 0..1 + rng.below(3) {
                mutate(&mut rng, &mut a);
            }
        }
        intact.push(keep);
        answers.push(a);
    }
    let addr = backend(answers);
    let client = Client::builder()
        .read_timeout(Duration::from_millis(500))
        .max_idle_per_host(0)
        .build();
    let url = format!("http://{addr}/x");
    let ok = Arc::new(AtomicUsize::new(0));
    let ok2 = ok.clone();
    let body2 = body.clone();
    goro::spawn(move || {
        for keep in intact {
            match client.get(&url) {
                Ok(resp) if keep => {
                    assert_eq!(resp.status, 200);
                    assert_eq!(resp.body, body2, "intact answer changed on the way");
                    ok2.fetch_add(1, Ordering::SeqCst);
                }
                Ok(_) => {}
                Err(e) => assert!(!keep, "an intact answer failed: {e}"),
            }
        }
    })
    .join()
    .unwrap();
    assert_eq!(ok.load(Ordering::SeqCst), N / 4);
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "something panicked");
}
