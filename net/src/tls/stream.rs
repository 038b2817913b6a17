//! [`TlsStream`]: one rustls session over a goro [`TcpStream`], `Read`/`Write` through `&self`.
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use rustls::{CipherSuite, Connection, ProtocolVersion};

use super::error;
use crate::{sys, TcpStream};

/// A TLS connection over a [`TcpStream`] (Go's `tls.Conn`), made by
/// [`TlsAcceptor::accept`](super::TlsAcceptor::accept) or
/// [`TlsConnector::connect`](super::TlsConnector::connect) once the handshake is done.
///
/// Like `TcpStream`, `Read` and `Write` are implemented for `TlsStream` and `&TlsStream`:
/// one coroutine can read a request body through one shared reference while it (or
/// another coroutine) writes the response through another. A read or write that must wait
/// for the socket parks the calling coroutine and holds no lock while parked; the session
/// lock is held only across rustls calls and non-blocking socket calls.
///
/// Everything below TLS stays on the socket: deadlines and timeouts (also set through
/// [`set_read_deadline`](Self::set_read_deadline) and friends here), addresses, readiness,
/// `close`; reach it with [`get_ref`](Self::get_ref).
///
/// # End of stream
///
/// A read returns `Ok(0)` after the peer's `close_notify`, and also when the peer closes the
/// TCP connection without one, as Go's `tls.Conn` does at a record boundary: many clients
/// close that way, and protocols that care about truncation (HTTP/1.1 with
/// `Content-Length` or chunked framing) detect it themselves.
///
/// # Write errors
///
/// A write that fails after its data was encrypted (a write deadline passed, the peer
/// reset the connection) leaves the session broken, as in Go: every later write fails with
/// the same kind. A read that times out leaves the stream usable.
pub struct TlsStream {
    tcp: TcpStream,
    session: Mutex<Session>,
    /// Decrypted bytes not yet returned by a read (rustls's `plaintext_bytes_to_read` after
    /// the last `process_new_packets`, less what reads took since). Changed only with the
    /// session lock held; read without it by [`buffered_plaintext`](Self::buffered_plaintext),
    /// which the HTTP server asks after every batch of requests (one lock fewer per
    /// request). `Relaxed` is enough: the stores are ordered by the session lock, and a
    /// reader on another thread is a snapshot either way (the coroutine that read is the one
    /// that asks, or it handed the stream on through the scheduler, which orders the two).
    plain: AtomicUsize,
    /// The name a client connected to (the server's SNI comes from rustls).
    client_sni: Option<String>,
}

/// The rustls state and what this side knows about the socket. Guarded by
/// `TlsStream::session`, which is never held across a park.
struct Session {
    tls: Connection,
    /// The first bytes the peer sent, kept during the handshake for error messages.
    head: [u8; 8],
    head_len: usize,
    /// A fatal TLS error: every later read and write fails with its kind and message.
    broken: Option<(io::ErrorKind, String)>,
    /// A write failed with records queued: every later write fails so (reads go on).
    write_broken: Option<(io::ErrorKind, String)>,
    /// `close_notify` was queued (by `shutdown` or a fatal error).
    shut: bool,
    /// The peer said `close_notify` (rustls's `peer_has_closed` after the last processing).
    peer_closed: bool,
    /// The socket reached the end of the stream (rustls saw it too).
    eof: bool,
}

/// Result of one non-blocking attempt to read TLS bytes from the socket.
enum Fill {
    /// Bytes arrived and were processed.
    Data,
    /// The peer closed the TCP connection.
    Eof,
    /// Nothing there: wait for the poller.
    WouldBlock,
}

/// What the socket must become before the handshake can go on.
enum Need {
    Read,
    Write,
}

impl TlsStream {
    /// Runs the handshake of `tls` over `tcp`, parking as the socket needs, within
    /// `limit` (and the socket's own deadlines and timeouts).
    pub(crate) fn handshake(
        tcp: TcpStream,
        tls: Connection,
        client_sni: Option<String>,
        limit: Option<Duration>,
    ) -> io::Result<TlsStream> {
        let stream = TlsStream {
            tcp,
            session: Mutex::new(Session {
                tls,
                head: [0; 8],
                head_len: 0,
                broken: None,
                write_broken: None,
                shut: false,
                peer_closed: false,
                eof: false,
            }),
            plain: AtomicUsize::new(0),
            client_sni,
        };
        match stream.run_handshake(limit) {
            Ok(()) => Ok(stream),
            Err(e) => Err(error::attach_plaintext(e, stream.into_tcp())),
        }
    }

    /// The handshake loop of [`handshake`](Self::handshake).
    fn run_handshake(&self, limit: Option<Duration>) -> io::Result<()> {
        let stream = self;
        let deadline = limit.and_then(|d| Instant::now().checked_add(d));
        loop {
            let need = {
                let mut s = stream.lock();
                if !stream.flush_nb(&mut s)? {
                    Need::Write
                } else if !s.tls.is_handshaking() {
                    break;
                } else {
                    match stream.fill_nb(&mut s, true)? {
                        Fill::Data => continue,
                        Fill::Eof => return Err(error::handshake_eof(&stream.peer())),
                        Fill::WouldBlock => Need::Read,
                    }
                }
            };
            let fd = stream.tcp.as_poll_fd();
            let waited = match (need, deadline) {
                (Need::Read, Some(d)) => fd.readable_deadline(d),
                (Need::Read, None) => fd.readable(),
                (Need::Write, d) => fd.wait_writable(d),
            };
            if let Err(e) = waited {
                return Err(match (e.kind(), limit, deadline) {
                    (io::ErrorKind::TimedOut, Some(limit), Some(d)) if Instant::now() >= d => {
                        error::handshake_timeout(limit, &stream.peer())
                    }
                    _ => e,
                });
            }
        }
        if tracing::enabled!(tracing::Level::DEBUG) {
            let s = stream.lock();
            tracing::debug!(
                peer = %stream.peer(),
                version = ?s.tls.protocol_version(),
                suite = ?s.tls.negotiated_cipher_suite().map(|c| c.suite()),
                alpn = ?s.tls.alpn_protocol().map(String::from_utf8_lossy),
                "goro-net: TLS handshake done"
            );
        }
        Ok(())
    }

    /// Takes the socket back out, dropping the session (after a failed handshake).
    fn into_tcp(self) -> TcpStream {
        let me = std::mem::ManuallyDrop::new(self);
        // SAFETY: `me` is never dropped nor used again, so each field is moved out exactly
        // once: the session and the name are dropped here, the socket is returned.
        unsafe {
            drop(std::ptr::read(&me.session));
            drop(std::ptr::read(&me.client_sni));
            std::ptr::read(&me.tcp)
        }
    }

    /// The TCP stream underneath: deadlines, timeouts, addresses, readiness, `close`.
    /// Reading or writing it directly would corrupt the TLS session.
    pub fn get_ref(&self) -> &TcpStream {
        &self.tcp
    }

    /// Bytes already decrypted and not yet returned by a read. A server that waits for an
    /// idle connection's next request on socket readiness (without a coroutine, e.g.
    /// [`TcpStream::spawn_when_readable`]) must serve these first: the socket will not
    /// become readable for data that rustls already took from it.
    ///
    /// ```no_run
    /// # fn f(tls: goro_net::tls::TlsStream) -> std::io::Result<()> {
    /// if tls.buffered_plaintext() == 0 {
    ///     tls.get_ref().readable()?; // nothing decrypted is waiting: park on the socket
    /// }
    /// # Ok(()) }
    /// ```
    pub fn buffered_plaintext(&self) -> usize {
        self.plain.load(Ordering::Relaxed)
    }

    /// True if the peer has left, asked without waiting and without taking plaintext: what
    /// the socket holds goes into the session (where the next read finds it), and the
    /// answer is yes on `close_notify`, end of stream or a TLS error, no once plaintext is
    /// waiting or the socket has nothing more. For a server that watches a client while a
    /// handler runs (the HTTP server's request context): on a TLS connection a goodbye is
    /// bytes on the socket too, so peeking at the socket cannot tell it from a request.
    pub(crate) fn peer_left_nb(&self) -> bool {
        let mut s = self.lock();
        loop {
            if self.plain.load(Ordering::Relaxed) > 0 {
                return false;
            }
            if s.peer_closed || s.broken.is_some() {
                return true;
            }
            match self.fill_nb(&mut s, false) {
                Ok(Fill::Data) => {}
                Ok(Fill::Eof) | Err(_) => return true,
                Ok(Fill::WouldBlock) => return false,
            }
        }
    }

    /// Sends `close_notify` (Go's `CloseWrite`), then shuts down the TCP write half, so a
    /// peer that ignores `close_notify` still sees end of file. Reading goes on. Later
    /// writes fail with `BrokenPipe`.
    pub fn shutdown(&self) -> io::Result<()> {
        {
            let mut s = self.lock();
            if !s.shut {
                s.shut = true;
                s.tls.send_close_notify();
            }
        }
        self.flush_parking()?;
        self.tcp.shutdown(Shutdown::Write)
    }

    /// The peer's certificate chain, leaf first: the server's on a client; on a server the
    /// client's, if it sent one (see [`ClientAuth`](super::ClientAuth)).
    pub fn peer_certificates(&self) -> Option<Vec<CertificateDer<'static>>> {
        self.lock().tls.peer_certificates().map(<[_]>::to_vec)
    }

    /// The protocol agreed through ALPN (e.g. `b"http/1.1"`), if any.
    pub fn alpn_protocol(&self) -> Option<Vec<u8>> {
        self.lock().tls.alpn_protocol().map(<[u8]>::to_vec)
    }

    /// The server name (SNI): on a server, what the client asked for (if it sent one); on a
    /// client, the name it connected to (when it is a DNS name).
    pub fn server_name(&self) -> Option<String> {
        match &self.lock().tls {
            Connection::Server(c) => c.server_name().map(String::from),
            Connection::Client(_) => self.client_sni.clone(),
        }
    }

    /// The TLS version in use (`TLSv1_2` or `TLSv1_3`).
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.lock().tls.protocol_version()
    }

    /// The cipher suite agreed (Go's `ConnectionState().CipherSuite`), e.g.
    /// `TLS13_AES_128_GCM_SHA256`.
    pub fn cipher_suite(&self) -> Option<CipherSuite> {
        self.lock().tls.negotiated_cipher_suite().map(|s| s.suite())
    }

    /// Sets the socket's read deadline (Go's `SetReadDeadline`); see
    /// [`TcpStream::set_read_deadline`].
    pub fn set_read_deadline(&self, d: Option<Instant>) {
        self.tcp.set_read_deadline(d)
    }

    /// Sets the socket's write deadline (Go's `SetWriteDeadline`). A write that misses it
    /// breaks the session (see the type's docs).
    pub fn set_write_deadline(&self, d: Option<Instant>) {
        self.tcp.set_write_deadline(d)
    }

    /// Sets both deadlines (Go's `SetDeadline`).
    pub fn set_deadline(&self, d: Option<Instant>) {
        self.tcp.set_deadline(d)
    }

    /// Sets the socket's per-read timeout; see [`TcpStream::set_read_timeout`].
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.tcp.set_read_timeout(d)
    }

    /// Sets the socket's per-write timeout; see [`TcpStream::set_write_timeout`].
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.tcp.set_write_timeout(d)
    }

    fn lock(&self) -> MutexGuard<'_, Session> {
        crate::lock(&self.session)
    }

    fn fd(&self) -> RawFd {
        self.tcp.as_raw_fd()
    }

    /// The peer for error messages: "name (address)", as much of it as is known.
    fn peer(&self) -> String {
        match (&self.client_sni, self.tcp.peer_addr()) {
            (Some(name), Ok(a)) => format!("{name} ({a})"),
            (Some(name), Err(_)) => name.clone(),
            (None, Ok(a)) => a.to_string(),
            (None, Err(_)) => String::new(),
        }
    }

    /// Decrypted bytes into `buf`, parking until some arrive.
    fn read_plain(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            {
                // One lock for the whole attempt: take what is decrypted, else receive and
                // decrypt, then take it.
                let mut s = self.lock();
                loop {
                    // rustls's reader has nothing to say but `WouldBlock` unless plaintext
                    // waits or the stream ended (the count is exact: `fill_nb` sets it), so
                    // it is asked only then: a request that arrives on an empty session
                    // goes straight to the socket.
                    let plain = self.plain.load(Ordering::Relaxed);
                    if plain > 0 || s.peer_closed || s.eof {
                        match s.tls.reader().read(buf) {
                            Ok(n) => {
                                self.plain.store(plain.saturating_sub(n), Ordering::Relaxed);
                                return Ok(n);
                            }
                            // The TCP connection ended without close_notify: end of file,
                            // as in Go.
                            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            Err(e) => return Err(e),
                        }
                    }
                    if let Some((kind, msg)) = &s.broken {
                        return Err(io::Error::new(*kind, msg.clone()));
                    }
                    match self.fill_nb(&mut s, false)? {
                        Fill::Data | Fill::Eof => {}
                        Fill::WouldBlock => break,
                    }
                }
                // Records rustls wants to send in answer (a TLS 1.3 key update): best
                // effort now, the next write or flush sends the rest.
                if s.tls.wants_write() {
                    let _ = self.flush_nb(&mut s);
                }
            }
            self.tcp.as_poll_fd().readable()?;
        }
    }

    /// Encrypts some of `bufs` and sends it, parking while the socket is full. Returns
    /// once what it took is on the socket, like `TcpStream::write`.
    fn write_plain(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Ok(0);
        }
        let mut s = self.lock();
        let (mut n, mut retried) = (0, false);
        loop {
            if let Some((kind, msg)) = s.broken.as_ref().or(s.write_broken.as_ref()) {
                return Err(io::Error::new(*kind, msg.clone()));
            }
            if s.shut {
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "goro-net: write on a TLS stream after shutdown",
                ));
            }
            if n == 0 {
                n = s.tls.writer().write_vectored(bufs)?;
            }
            match self.flush_nb(&mut s) {
                Ok(true) if n > 0 => return Ok(n),
                // Another writer's records filled rustls's buffer; they are out now, so
                // rustls takes ours on the next round (if it still takes nothing, say so
                // rather than spin).
                Ok(true) if !retried => {
                    retried = true;
                    continue;
                }
                Ok(true) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(false) => {}
                Err(e) => return Err(self.break_session(&mut s, e)),
            }
            drop(s);
            let waited = self.tcp.as_poll_fd().wait_writable(None);
            s = self.lock();
            if let Err(e) = waited {
                return Err(self.break_session(&mut s, e));
            }
        }
    }

    /// Sends every queued record, parking while the socket is full.
    fn flush_parking(&self) -> io::Result<()> {
        loop {
            {
                let mut s = self.lock();
                match self.flush_nb(&mut s) {
                    Ok(true) => return Ok(()),
                    Ok(false) => {}
                    Err(e) => return Err(self.break_session(&mut s, e)),
                }
            }
            self.tcp.as_poll_fd().wait_writable(None)?;
        }
    }

    /// A write-side failure with records queued: writing cannot go on (the peer would see
    /// a gap in the record sequence), so remember the error for every later write.
    fn break_session(&self, s: &mut Session, e: io::Error) -> io::Error {
        if s.tls.wants_write() && s.write_broken.is_none() {
            s.write_broken = Some((
                e.kind(),
                format!("goro-net: TLS writes stopped after an earlier write failed: {e}"),
            ));
        }
        e
    }

    /// Writes queued TLS records without parking: `Ok(true)` when none is left,
    /// `Ok(false)` when the socket is full.
    fn flush_nb(&self, s: &mut Session) -> io::Result<bool> {
        let mut out = SendNb(self.fd());
        while s.tls.wants_write() {
            match s.tls.write_tls(&mut out) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Reads what the socket holds into rustls and processes it, without parking.
    fn fill_nb(&self, s: &mut Session, handshaking: bool) -> io::Result<Fill> {
        let n = loop {
            let mut rd = RecvNb {
                fd: self.tcp.as_poll_fd(),
                head: if handshaking {
                    Some((&mut s.head, &mut s.head_len))
                } else {
                    None
                },
            };
            match s.tls.read_tls(&mut rd) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Fill::WouldBlock),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        match s.tls.process_new_packets() {
            Ok(state) => {
                self.plain
                    .store(state.plaintext_bytes_to_read(), Ordering::Relaxed);
                s.peer_closed = state.peer_has_closed();
            }
            Err(e) => {
                let head = s.head;
                let err = error::from_rustls(e, handshaking, &self.peer(), &head[..s.head_len]);
                // rustls queued an alert telling the peer why: send it if the socket takes
                // it, unless the peer speaks plaintext HTTP (it may get an HTTP answer).
                if !err
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<error::TlsError>())
                    .is_some_and(error::TlsError::is_plaintext_http)
                {
                    let _ = self.flush_nb(s);
                }
                s.shut = true;
                tracing::debug!(error = %err, "goro-net: TLS failure");
                s.broken = Some((err.kind(), err.to_string()));
                return Err(err);
            }
        }
        if n == 0 {
            s.eof = true;
            return Ok(Fill::Eof);
        }
        Ok(Fill::Data)
    }
}

impl Drop for TlsStream {
    /// Says `close_notify` if the session is healthy and it was not said yet, without
    /// waiting (one non-blocking send, as Go's `Close` does within its own deadline).
    fn drop(&mut self) {
        let fd = self.tcp.as_raw_fd();
        let s = self.session.get_mut().unwrap_or_else(|e| e.into_inner());
        if s.shut
            || s.broken.is_some()
            || s.tls.is_handshaking()
            || self.tcp.as_poll_fd().is_closed()
        {
            return;
        }
        s.tls.send_close_notify();
        let _ = s.tls.write_tls(&mut SendNb(fd));
    }
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("tcp", &self.tcp)
            .finish_non_exhaustive()
    }
}

impl Read for &TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_plain(buf)
    }
}

impl Write for &TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_plain(&[IoSlice::new(buf)])
    }
    /// Encrypts the buffers together (records span them, no joining copy) and sends the
    /// records with one vectored send.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_plain(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flush_parking()
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

/// One non-blocking `recv` per call, for rustls's `read_tls`, through
/// `PollFd::try_read_with`: `WouldBlock` comes back as is (the caller parks without holding
/// the session lock), with no syscall when the poller vouches the socket drained, and a
/// `recv` that fills rustls's buffer leaves the socket marked readable, as `TcpStream::read`
/// does.
struct RecvNb<'a> {
    fd: &'a goro::io::PollFd,
    head: Option<(&'a mut [u8; 8], &'a mut usize)>,
}

impl Read for RecvNb<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        let n = self.fd.try_read_with(
            |fd| {
                // SAFETY: `buf` is a live, writable slice of `len` bytes for the call; `fd`
                // is the stream's open, non-blocking socket, borrowed for the call.
                let r = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), len, 0) };
                if r < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(r as usize)
                }
            },
            // Full: more may wait. End of file: every later read must see it too.
            |&n| n == len || n == 0,
        )?;
        if let Some((head, got)) = self.head.as_mut() {
            let take = (head.len() - **got).min(n);
            head[**got..**got + take].copy_from_slice(&buf[..take]);
            **got += take;
        }
        Ok(n)
    }
}

/// Non-blocking sends for rustls's `write_tls`, which hands over its queued records as one
/// vectored write (usually one record: one response; `send_vectored` then uses `send`).
struct SendNb(RawFd);

impl Write for SendNb {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        sys::send_vectored(self.0, &[IoSlice::new(buf)])
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        sys::send_vectored(self.0, bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `TlsStream` moves between coroutines and is shared by reference across them.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<TlsStream>()
};
