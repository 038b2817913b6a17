//! TLS echo server and client: the echo example over `goro_net::tls` (Go's `tls.Listen` /
//! `tls.Dial` with a `tls.Config`).
//!
//! ```text
//! # a certificate for localhost (CA:FALSE: rustls refuses a CA certificate as a leaf)
//! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
//!     -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
//!     -addext basicConstraints=critical,CA:FALSE -keyout key.pem -out cert.pem
//! cargo run --release --example tls_echo -- --cert cert.pem --key key.pem
//! # in another shell: the goro client, trusting that certificate...
//! cargo run --release --example tls_echo -- --connect localhost:19443 --ca cert.pem
//! # ...or openssl's
//! openssl s_client -connect 127.0.0.1:19443 -servername localhost -CAfile cert.pem
//! ```
//!
//! Each connection's handshake runs on its own coroutine, so a slow or broken client never
//! holds up the accept loop; its error (which names the cause) is printed and the server
//! goes on.
use std::io::{BufRead, Read, Write};

use goro_net::tls::{CertPool, Certificate, TlsAcceptor, TlsConnector, TlsStream};
use goro_net::TcpListener;

fn handle(mut tls: TlsStream) {
    let mut buf = goro_net::pool::get(16 << 10);
    loop {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tls.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
    let _ = tls.shutdown();
}

fn serve(addr: &str, cert: &str, key: &str) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::new(Certificate::from_pem_files(cert, key)?)?;
    let listener = TcpListener::bind(addr)?;
    eprintln!("tls_echo: listening on {addr}");
    let server = goro::go!(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let acceptor = acceptor.clone();
            goro_net::spawn_balanced(move || match acceptor.accept(tcp) {
                Ok(tls) => handle(tls),
                Err(e) => eprintln!("tls_echo: {e}"),
            });
        }
    });
    let _ = server.join();
    Ok(())
}

/// Sends each line of stdin and prints what comes back.
fn client(addr: &str, ca: Option<&str>) -> std::io::Result<()> {
    let connector = match ca {
        Some(ca) => TlsConnector::builder()
            .roots(CertPool::from_pem_file(ca)?)
            .build()?,
        None => TlsConnector::new(),
    };
    let tls = connector.dial(addr)?; // Go: tls.Dial("tcp", addr, cfg)
    eprintln!(
        "tls_echo: connected with {:?}",
        tls.protocol_version()
            .expect("a finished handshake has a version")
    );
    let mut back = vec![0u8; 64 << 10];
    for line in std::io::stdin().lock().lines() {
        let line = line? + "\n";
        (&tls).write_all(line.as_bytes())?;
        let mut got = 0;
        while got < line.len() {
            let n = (&tls).read(&mut back[got..line.len()])?;
            if n == 0 {
                return Ok(());
            }
            got += n;
        }
        std::io::stdout().write_all(&back[..got])?;
    }
    tls.shutdown()
}

fn main() {
    let (mut addr, mut cert, mut key, mut connect, mut ca) =
        (String::from("127.0.0.1:19443"), None, None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--addr" => addr = value(),
            "--cert" => cert = Some(value()),
            "--key" => key = Some(value()),
            "--connect" => connect = Some(value()),
            "--ca" => ca = Some(value()),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let result = match (connect, cert, key) {
        (Some(to), _, _) => client(&to, ca.as_deref()),
        (None, Some(cert), Some(key)) => serve(&addr, &cert, &key),
        _ => usage("a server needs --cert and --key"),
    };
    if let Err(e) = result {
        eprintln!("tls_echo: {e}");
        std::process::exit(1);
    }
}

fn usage(why: &str) -> ! {
    eprintln!(
        "tls_echo: {why}\nusage: tls_echo --cert FILE --key FILE [--addr HOST:PORT]\n       \
         tls_echo --connect HOST:PORT [--ca FILE]"
    );
    std::process::exit(2)
}
