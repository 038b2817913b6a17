//! The client's transport: dialling a host, the liveness check of an idle connection, and
//! [`ask`], which sends a request on a connection from a host's keep-alive pool and reads
//! the answer's head, retrying on a fresh connection when a reused one turns out closed.
use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::answer::{read_head_interim, ClientResponse, Framing, OnInterim, Src, RESP_BUF};
use super::cancel::{self, Guard};
use super::client_builder::ClientBuilder;
use super::client_conn::ClientConn;
use super::send::send_body;
use crate::connpool::{Pool, PooledConn};
use crate::pool::{self, PooledBuf};
use crate::TcpStream;

/// Connects to `authority`, within the connect timeout and by `deadline`.
pub(super) fn dial(
    authority: &str,
    cfg: &ClientBuilder,
    deadline: Option<Instant>,
) -> io::Result<TcpStream> {
    let host = authority.to_string();
    let addrs: Vec<SocketAddr> =
        goro::blocking(move || host.to_socket_addrs().map(Iterator::collect))?;
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "goro-net http: no address");
    for a in addrs {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "goro-net http: no time left to connect",
            ));
        }
        let timeout = left.map_or(cfg.connect_timeout, |l| l.min(cfg.connect_timeout));
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                s.set_read_timeout(cfg.read_timeout)?;
                s.set_write_timeout(cfg.write_timeout)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// An idle keep-alive socket is usable if reading it would block: no EOF, no stray bytes.
/// The poller usually knows that already (no read edge since the last response was read);
/// otherwise a non-blocking peek asks the kernel.
pub(super) fn alive(c: &TcpStream) -> bool {
    if c.read_would_park() {
        return true;
    }
    let mut b = [0u8; 1];
    // SAFETY: `b` is a live one-byte buffer; the fd is open while `c` is borrowed.
    let r = unsafe {
        libc::recv(
            c.as_raw_fd(),
            b.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
}

/// An answer whose head has been read, on its pooled connection.
pub(super) struct Answer {
    /// The context's hold on the connection: dropped (emptied) before the connection is
    /// let go, so it comes first (`cancel.rs`).
    pub(super) guard: Option<Guard>,
    pub(super) conn: PooledConn<ClientConn>,
    /// Without its body.
    pub(super) resp: ClientResponse,
    /// The server lets the connection stay open.
    pub(super) keep: bool,
    pub(super) framing: Framing,
    /// The read buffer, and the unread bytes in it (the start of the body).
    pub(super) buf: (PooledBuf, usize, usize),
}

/// Sends `head` (a whole request) on a connection from `pool` (one host's) and reads the answer's
/// head, by `deadline` and within `ctx` (`cancel.rs`).
///
/// A reused connection may have been closed by the server meanwhile: if it fails before
/// any byte of the answer came, the request goes again on the next one. Each failed
/// connection is discarded, so this ends at the latest on a fresh one. Interim `1xx`
/// answers go to `on_interim`, if given, as they come (`answer::read_head_interim`).
pub(super) fn ask(
    pool: &Pool<ClientConn>,
    head: &[u8],
    head_only: bool,
    deadline: Option<Instant>,
    mut upload: Option<(&mut dyn Read, Option<u64>)>,
    ctx: Option<&goro::context::Context>,
    mut on_interim: Option<&mut OnInterim<'_>>,
) -> io::Result<Answer> {
    // Whether a byte of the upload was taken from its reader: then it cannot go again.
    let mut taken = false;
    let deadline = match (deadline, ctx.and_then(goro::context::Context::deadline)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    loop {
        if let Some(e) = cancel::done(ctx) {
            return Err(e);
        }
        let mut conn = match deadline {
            Some(d) => {
                let c = pool.get_deadline(d)?;
                c.socket().set_deadline(Some(d));
                c
            }
            None => pool.get()?,
        };
        let reused = conn.reused();
        let guard = Guard::arm(ctx, conn.socket());
        let answer = conn
            .wire()
            .write_all(head)
            .map_err(|e| (e, true))
            .and_then(|()| match upload.as_mut() {
                Some((body, length)) => send_body(conn.wire(), &mut **body, *length, &mut taken)
                    .map_err(|e| (e, !taken)),
                None => Ok(()),
            })
            .and_then(|()| {
                let mut src = Src::new(&*conn, pool::get(RESP_BUF), 0, 0, u64::MAX);
                let (resp, keep, framing) =
                    read_head_interim(&mut src, head_only, on_interim.as_deref_mut())?;
                Ok((resp, keep, framing, src.into_parts()))
            })
            .map_err(|(e, before_answer)| (e, before_answer && !taken));
        match answer {
            Ok((resp, keep, framing, buf)) => {
                return Ok(Answer {
                    guard,
                    conn,
                    resp,
                    keep,
                    framing,
                    buf,
                })
            }
            Err((e, before_answer)) => {
                let e = cancel::explain(guard.as_ref(), e);
                drop(guard); // before the connection goes
                conn.discard();
                if ctx.is_some_and(goro::context::Context::is_done) {
                    return Err(e);
                }
                // (A timeout is the server being slow, not the connection being stale.)
                if !(reused && before_answer) || e.kind() == io::ErrorKind::TimedOut {
                    return Err(e);
                }
            }
        }
    }
}
