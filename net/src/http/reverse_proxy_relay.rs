//! The answer's half of a [`ReverseProxy`](super::ReverseProxy) exchange once the backend's
//! head is in: interim answers, the body copy with its flush policy (Go's `FlushInterval`)
//! and the trailers after it.
//!
//! **Flushing without a timer.** Go's proxy flushes a positive `FlushInterval` from a timer
//! goroutine that takes the writer's lock. Here the writer belongs to the handler's
//! coroutine alone, so the copy loop keeps the time itself: after a write it notes when
//! the pending bytes are due, and before the next read it waits for the backend only
//! until then ([`StreamingResponse::wait_readable_until`], a readiness wait that reads
//! nothing); if the backend stays quiet that long, the loop flushes and then reads. So the
//! client sees a dripping body at most one interval late, nothing runs beside the copy,
//! and a proxy without an interval makes no extra call.
//!
//! **Trailers.** A backend's chunked body may end with trailer fields. The backend's
//! `Trailer` header is hop-by-hop (it describes this hop's chunked framing), so the proxy
//! announces the names anew, those a trailer may carry (`wire::trailer_allowed`), and
//! after the body hands every field the client read and judged to the writer, which sends
//! them in its last chunk (Go relays them the same way). Fields that frame, route or
//! describe the message are dropped on both sides, so a trailer cannot smuggle a
//! `Content-Length` or `Host` past the proxy.
//!
//! **Interim answers.** Each `1xx` answer but `101` is relayed as it comes (Go relays them
//! from `Got1xxResponse`), its hop-by-hop headers dropped: `103 Early Hints` reaches the
//! client while the backend still works. `100 Continue` is not relayed: the proxy's own
//! server sends it when the proxy starts reading the request body to forward it, which
//! the client is waiting for, and the backend's comes only after that body was sent. An
//! HTTP/1.0 client gets no interim answers (RFC 9110 §15.2).
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use super::answer::ClientResponse;
use super::response::ResponseWriter;
use super::streaming::StreamingResponse;

/// When the copy loop flushes the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Flush {
    /// Only when the writer's buffer fills, and at the end.
    Buffered,
    /// After every piece.
    Every,
    /// At most this long after a piece was written.
    Interval(Duration),
}

impl Flush {
    /// The policy for one answer: Go's `flushInterval`, where a streaming answer (unknown
    /// length, or an event stream) flushes after every piece whatever the setting.
    pub(super) fn choose(setting: Option<Duration>, streaming: bool) -> Flush {
        match setting {
            _ if streaming => Flush::Every,
            None => Flush::Buffered,
            Some(Duration::ZERO) => Flush::Every,
            Some(d) => Flush::Interval(d),
        }
    }
}

/// Copies the body of `resp` to `w` under `flush`, then its trailers. A body that breaks
/// off aborts `w`, so the client sees it cut; a client that leaves ends the copy.
pub(super) fn copy_body(
    w: &mut ResponseWriter<'_>,
    resp: &mut StreamingResponse,
    flush: Flush,
    url: &str,
) {
    let mut buf = crate::pool::get(32 << 10);
    // When the bytes written since the last flush must go (`Flush::Interval` only).
    let mut due: Option<Instant> = None;
    loop {
        if let Some(at) = due {
            if !resp.wait_readable_until(at) {
                if w.flush().is_err() {
                    return; // the client left
                }
                due = None;
            }
        }
        let n = match resp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(url, error = %e, "goro-net http: proxied body broke off");
                w.abort();
                return;
            }
        };
        if w.write_all(&buf[..n]).is_err() {
            return;
        }
        let now = match flush {
            Flush::Buffered => false,
            Flush::Every => true,
            Flush::Interval(d) => match due {
                Some(at) => Instant::now() >= at,
                None => {
                    due = Instant::now().checked_add(d);
                    false
                }
            },
        };
        if now {
            if w.flush().is_err() {
                return;
            }
            due = None;
        }
    }
    for (name, value) in resp.trailers() {
        w.trailer_add(name, value);
    }
}

/// The `Trailer` header to announce for an answer with `headers` (the backend's): the
/// names it announced that a trailer may carry, or `None`.
pub(super) fn announced_trailers(headers: &[(String, String)]) -> Option<String> {
    let names: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("trailer"))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|n| super::wire::trailer_allowed(n))
        .collect();
    (!names.is_empty()).then(|| names.join(", "))
}

/// Relays one interim answer of the backend's to the client (module notes: which ones).
/// Never fails the exchange: an interim answer the client cannot get is only a hint lost.
pub(super) fn interim(w: &mut ResponseWriter<'_>, answer: &ClientResponse) -> std::io::Result<()> {
    if answer.status == 100 {
        return Ok(());
    }
    let listed: Vec<String> = answer
        .headers()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    let headers: Vec<(&str, &str)> = answer
        .headers()
        .filter(|(n, _)| !super::reverse_proxy::hop(n, &listed))
        .collect();
    if let Err(e) = w.write_interim(answer.status, &headers) {
        tracing::debug!(status = answer.status, error = %e, "goro-net http: interim answer not relayed");
    }
    Ok(())
}
