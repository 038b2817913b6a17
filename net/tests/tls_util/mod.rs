//! Helpers shared by the `tls_*` tests: a test CA and certificates made with rcgen at test
//! time (nothing committed to expire), PEM files for outside tools, and TLS servers.
#![allow(dead_code)] // each test file uses its own share of these

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use goro_net::tls::{CertPool, Certificate, TlsAcceptor, TlsConnector, TlsStream};
use goro_net::{TcpListener, TcpStream};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// A certificate authority of our own.
pub struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A leaf certificate as PEM text.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Leaf {
    pub fn certificate(&self) -> Certificate {
        Certificate::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes()).unwrap()
    }
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        Ca {
            cert: p.self_signed(&key).unwrap(),
            key,
        }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A pool trusting only this CA.
    pub fn pool(&self) -> CertPool {
        let mut pool = CertPool::new();
        pool.append_pem(self.pem().as_bytes()).unwrap();
        pool
    }

    /// A rustls root store trusting only this CA, for configurations built by hand.
    pub fn root_store(&self) -> goro_net::tls::rustls::RootCertStore {
        let mut roots = goro_net::tls::rustls::RootCertStore::empty();
        roots.add(self.cert.der().clone()).unwrap();
        roots
    }

    /// A leaf for `names` (DNS names or IP addresses), valid from 1975 to 4096.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_with(names, |_| {})
    }

    /// A leaf that expired in 2001.
    pub fn expired_leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_with(names, |p| {
            p.not_before = rcgen::date_time_ymd(2000, 1, 1);
            p.not_after = rcgen::date_time_ymd(2001, 1, 1);
        })
    }

    pub fn leaf_with(&self, names: &[&str], edit: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut p = CertificateParams::new(names.clone()).unwrap();
        p.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        edit(&mut p);
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// A client trusting only `ca`.
pub fn connector(ca: &Ca) -> TlsConnector {
    TlsConnector::builder().roots(ca.pool()).build().unwrap()
}

/// A connector trusting only `ca` that offers ALPN `http/1.1`, as an HTTPS client's.
pub fn http_connector(ca: &Ca) -> TlsConnector {
    TlsConnector::builder()
        .roots(ca.pool())
        .alpn_protocols(["http/1.1"])
        .build()
        .unwrap()
}

/// An HTTP client trusting only `ca` ([`http_connector`]), with a 20 s bound per request.
pub fn https_client(ca: &Ca) -> goro_net::http::Client {
    goro_net::http::Client::builder()
        .tls_connector(http_connector(ca))
        .timeout(Duration::from_secs(20))
        .build()
}

/// A fresh directory for PEM files handed to outside tools.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "goro-tls-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Starts a TLS server on 127.0.0.1: each connection's handshake and `serve` run on its own
/// coroutine; every handshake error is sent on the returned channel, and the accept loop
/// goes on. A plaintext HTTP client gets Go's 400 answer.
pub fn server(
    acceptor: TlsAcceptor,
    serve: fn(TlsStream),
) -> (SocketAddr, mpsc::Receiver<io::Error>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    goro::spawn(move || {
        for tcp in l.incoming() {
            let tcp = tcp.unwrap();
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            goro_net::spawn_balanced(move || match acceptor.accept(tcp) {
                Ok(tls) => serve(tls),
                Err(mut e) => {
                    // Go's answer to plaintext HTTP on an HTTPS port.
                    if let Some(mut plain) = goro_net::tls::take_plaintext_http(&mut e) {
                        let _ = plain.write_all(
                            b"HTTP/1.0 400 Bad Request\r\n\r\n\
                              Client sent an HTTP request to an HTTPS server.\n",
                        );
                    }
                    let _ = tx.send(e);
                }
            });
        }
    });
    (addr, rx)
}

/// Echoes until end of file or an error, then says close_notify.
pub fn echo(mut s: TlsStream) {
    let mut buf = [0u8; 16 << 10];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
    let _ = s.shutdown();
}

/// Connects a goro client trusting `ca` to `addr` as `host`, writes `msg` and reads it back.
pub fn echo_once(connector: &TlsConnector, addr: SocketAddr, host: &str, msg: &[u8]) {
    let mut tls = connector
        .connect(host, TcpStream::connect(addr).unwrap())
        .unwrap();
    tls.write_all(msg).unwrap();
    let mut back = vec![0u8; msg.len()];
    tls.read_exact(&mut back).unwrap();
    assert_eq!(back, msg);
}

pub fn pattern(seed: u32, len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

/// A CA, a leaf for localhost and 127.0.0.1, and their PEM files.
pub struct Files {
    pub ca: Ca,
    pub dir: PathBuf,
    pub ca_pem: PathBuf,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
}

/// Makes [`Files`] in a fresh temporary directory named after `tag`; removed on drop.
pub fn files(tag: &str) -> Files {
    let ca = Ca::new("goro test CA");
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let dir = temp_dir(tag);
    Files {
        ca_pem: write(&dir, "ca.pem", &ca.pem()),
        cert_pem: write(&dir, "cert.pem", &leaf.cert_pem),
        key_pem: write(&dir, "key.pem", &leaf.key_pem),
        ca,
        dir,
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs an outside tool (`openssl`, `curl`, `python3`) with `input` on its stdin, killing
/// it after 30 s, and returns what it printed.
pub fn run_tool(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (is it installed?): {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("{cmd:?} did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}
