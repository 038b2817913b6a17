//! HTTP/1.1 pipelining for the [`Client`](super::Client) (`ClientBuilder::pipeline`): GET and
//! HEAD requests share keep-alive connections, several in flight on each.
//!
//! Why: without it a proxy pays a `send` and a `recv` on its backend side for every request,
//! and the backend pays the same again. Here the requests that coroutines of one worker make
//! in the same scheduling round leave in one `send`; the server's read-everything-then-answer
//! loop answers them with one write, and one `recv` brings all the answers back.
//!
//! # Design
//!
//! A *lane* is one connection and the queue of requests sent (or about to be sent) on it, in
//! order. Answers come back in the order the requests went out (RFC 9112 §9.3.2), so the
//! front of the queue owns the next answer. Each lane belongs to the worker that dialled it
//! ([`goro::worker_index`]); only that worker's coroutines pick it, so its writer, its reader
//! and its callers all run on the thread that polls its socket, and no wake crosses threads.
//! There is no coroutine per lane: the callers take the two roles in turn.
//!
//! - **Joining.** A request takes the first lane of its worker with room. An idle lane takes
//!   it if the server has not closed the connection meanwhile; a busy one only while it is
//!   *flowing* ([`FLOWING`]): its last answer came within 10 ms of its request and its oldest
//!   waiting request is younger than that. Servers answer a connection's requests one after
//!   another, so queuing behind a slow handler would make every request wait for all those
//!   before it. A new lane carries one request until its first answer shows the backend fast.
//!   With no lane to take it, a request dials one (one dial per worker at a time) or, while
//!   that dial runs or at the connection limit, goes through the pool.
//! - **Writing.** A caller appends its request to `out`. If no flush is pending it becomes the
//!   flusher: it yields once, so the other coroutines the same poll made ready can append
//!   theirs, then writes `out` with one `write_all` until `out` stays empty.
//! - **Reading.** One waiting caller at a time is the reader (`reading`). It reads answers
//!   and files each under the front request's sequence number (`done`), waking its owner,
//!   until its own answer came; then it puts the read buffer back, clears `reading` and wakes
//!   the new front, which takes the role over. Other callers park until their answer is filed
//!   or the role is free.
//! - **Failure.** An I/O error, a malformed answer or a `Connection: close` kills the lane:
//!   the answer being read gets the error (or, if none of it had come and the error is not a
//!   timeout, a retry verdict), every other queued request gets a retry verdict, and no new
//!   request joins. The client sends a retried request again through its pool: only
//!   idempotent methods are pipelined, so that is safe.
//! - **Idle.** A lane whose last caller took its outcome parks a watcher in its socket's
//!   read slot (`idle_watch.rs`): if the server closes the connection while the lane is
//!   idle, the watcher kills the lane and takes it off the list, closing the socket at once
//!   instead of leaving it in `CLOSE-WAIT` until the next pick or sweep.
//! - **Deadlines** (`ClientBuilder::timeout`). The reader reads, and the flusher writes, by
//!   its own request's deadline; other callers park until theirs. A caller whose deadline
//!   passes before its answer came kills the lane and fails with `TimedOut`; the requests
//!   behind it go through the pool within their own deadlines. An answer the reader was
//!   reading for another caller when its own deadline passed counts as not begun.
//!
//! - **Contexts** (`Client::with_context`). A request bound to a context is a deadline that
//!   can come early: an `after_func` callback kills the lane if the request is still queued
//!   when its context is done, and the request fails with the context's error while the
//!   others go through the pool, as at a deadline. The callback checks, under the lane's
//!   lock, that its request is still queued, so a late callback kills nothing.
//!
//! Invariants, all under the lane's lock: the bytes in `out` and the entries of `queue` are
//! appended together, in the same order; once `dead` is set, `queue` is empty and every
//! request that ever joined has its verdict in `done` or has taken it; `reading` is held by
//! at most one caller, who alone owns the read buffer.
use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use goro::context::Context;
use goro::park::{self, Unparker};

use super::answer::{read_response, ClientResponse, Src, RESP_BUF};
use super::client_builder::ClientBuilder;
use super::transport;
use crate::connpool::Stats;
use crate::idle_watch::{self, Armed};
use crate::pool::{self, PooledBuf};
use crate::{lock, TcpStream};

/// How a pipelined request ended.
pub(super) enum Outcome {
    /// The answer.
    Done(ClientResponse),
    /// The answer failed; sending it again would not help (or is not safe).
    Failed(io::Error),
    /// Not answered here (the lane failed before any of this answer came; or no lane had
    /// room while one is being dialled, or at the connection limit): send it through the
    /// pool.
    Retry,
}

/// The pipelined connections to one host.
#[derive(Debug, Default)]
pub(super) struct Lanes {
    sh: Arc<Shared>,
}

/// What the idle lanes' watchers share with [`Lanes`].
#[derive(Debug, Default)]
struct Shared {
    list: Mutex<LaneList>,
    dials: AtomicU64,
    discarded: AtomicU64,
}

#[derive(Debug, Default)]
struct LaneList {
    lanes: Vec<Arc<Lane>>,
    /// Workers with a dial in progress: while one is, that worker's overflow goes through
    /// the pool instead of dialling a lane each (a burst would leave dozens idle).
    dialing: Vec<usize>,
    /// Picks since the last sweep of dead, expired and surplus idle lanes.
    picks: u32,
}

/// What [`Lanes::choose`] decided.
enum Choice {
    Lane(Arc<Lane>),
    /// Dial a lane (reserved in `dialing`).
    Dial,
    /// Send the request through the pool.
    Elsewhere,
}

/// Picks between two sweeps.
const SWEEP_EVERY: u32 = 64;

/// A lane takes a request behind others only while it is flowing: its last answer came
/// within this long of its request, and its oldest waiting request is younger than this.
/// Pipelining pays off with a fast backend; behind a slow handler (a server answers a
/// connection's requests one after another) every queued request would wait for all the
/// ones before it. A new lane is not flowing until its first answer came fast.
const FLOWING: Duration = Duration::from_millis(10);

/// Nanoseconds since the first call, plus one (0 means "none").
fn stamp() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1
}

impl Lanes {
    /// Sends `req` (a whole GET or HEAD request) on a lane of `worker`, dialling one with
    /// `dial` when none there can take it, and waits for its answer until `deadline`, or
    /// until `ctx` is done.
    #[allow(clippy::too_many_arguments)] // one request's whole description
    pub(super) fn request(
        &self,
        worker: usize,
        req: &[u8],
        head_only: bool,
        cfg: &ClientBuilder,
        deadline: Option<Instant>,
        ctx: Option<&Context>,
        dial: impl FnOnce() -> io::Result<TcpStream>,
    ) -> Outcome {
        let lane = match self.choose(worker, cfg) {
            Choice::Lane(l) => l,
            Choice::Elsewhere => return Outcome::Retry,
            Choice::Dial => match self.dial(worker, cfg.max_body_bytes, dial) {
                Ok(l) => l,
                Err(e) => return Outcome::Failed(e),
            },
        };
        lane.send(req, head_only, deadline, ctx)
    }

    /// A lane of `worker` for the next request, or what to do instead. Sweeps now and then.
    fn choose(&self, worker: usize, cfg: &ClientBuilder) -> Choice {
        let mut list = lock(&self.sh.list);
        list.picks += 1;
        if list.picks >= SWEEP_EVERY {
            list.picks = 0;
            self.sweep(&mut list, cfg);
        }
        let at_limit = cfg.max_active_per_host > 0 && {
            let live = list.lanes.iter().filter(|l| l.live()).count();
            live + list.dialing.len() >= cfg.max_active_per_host
        };
        match self.pick(&list, worker, cfg, at_limit) {
            Some(l) => Choice::Lane(l),
            // The pool waits for a connection at the limit, and serves the overflow while a
            // lane is being dialled.
            None if at_limit || list.dialing.contains(&worker) => Choice::Elsewhere,
            None => {
                list.dialing.push(worker);
                Choice::Dial
            }
        }
    }

    /// Dials a new lane for `worker` (its dial reserved by `choose`).
    fn dial(
        &self,
        worker: usize,
        max_body: u64,
        dial: impl FnOnce() -> io::Result<TcpStream>,
    ) -> io::Result<Arc<Lane>> {
        let dialled = dial();
        let mut list = lock(&self.sh.list);
        list.dialing.retain(|&w| w != worker);
        let conn = dialled?;
        self.sh.dials.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(worker, "http client: new pipelined connection");
        let l = Arc::new(Lane::new(conn, worker, max_body, Arc::downgrade(&self.sh)));
        list.lanes.push(l.clone());
        Ok(l)
    }

    /// A live lane of `worker` with room: the first, so that one batch goes out in as few
    /// writes as it can. At the connection limit, the least busy one even if it is full.
    fn pick(
        &self,
        list: &LaneList,
        worker: usize,
        cfg: &ClientBuilder,
        at_limit: bool,
    ) -> Option<Arc<Lane>> {
        let mine = || {
            list.lanes
                .iter()
                .filter(move |l| l.worker == worker && l.live())
        };
        let mut now = None;
        for l in mine() {
            let n = l.in_flight.load(Ordering::Relaxed);
            let usable = if n == 0 {
                self.usable_after_idle(l, cfg)
            } else {
                n < cfg.pipeline && l.flowing(*now.get_or_insert_with(stamp))
            };
            if usable {
                return Some(l.clone());
            }
        }
        if at_limit {
            return mine()
                .min_by_key(|l| l.in_flight.load(Ordering::Relaxed))
                .cloned();
        }
        None
    }

    /// An idle lane may take a request if it has not expired and the server has not closed
    /// it meanwhile; otherwise it is closed.
    fn usable_after_idle(&self, l: &Lane, cfg: &ClientBuilder) -> bool {
        if !l.expired(stamp(), cfg) && transport::alive(&l.conn) {
            return true;
        }
        self.sh.discard(l);
        false
    }

    /// Drops dead lanes, and closes idle ones that expired or exceed `max_idle_per_host`.
    fn sweep(&self, list: &mut LaneList, cfg: &ClientBuilder) {
        let now = stamp();
        let mut idle = 0;
        list.lanes.retain(|l| {
            if l.in_flight.load(Ordering::Relaxed) == 0 {
                idle += 1;
                if l.expired(now, cfg) || idle > cfg.max_idle_per_host {
                    self.sh.discard(l);
                }
            }
            l.live()
        });
    }

    /// Counters in the pool's terms: a lane is active while requests are in flight on it.
    pub(super) fn stats(&self) -> Stats {
        let list = lock(&self.sh.list);
        let live = list.lanes.iter().filter(|l| l.live());
        let active = live
            .clone()
            .filter(|l| l.in_flight.load(Ordering::Relaxed) > 0)
            .count();
        Stats {
            idle: live.count() - active,
            active,
            dials: self.sh.dials.load(Ordering::Relaxed),
            discarded: self.sh.discarded.load(Ordering::Relaxed),
            ..Stats::default()
        }
    }
}

impl Shared {
    /// Closes `l` if it is idle.
    fn discard(&self, l: &Lane) {
        let mut st = lock(&l.st);
        if st.queue.is_empty() && !st.dead {
            l.kill(&mut st);
            self.discarded.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The watcher of the lane that `armed` belongs to (`Lane::watch`): if that lane is
    /// idle, closes it when its peer has closed it, and watches it again otherwise.
    fn on_edge(sh: &Weak<Shared>, armed: &Arc<Armed>) {
        let Some(sh) = sh.upgrade() else { return };
        let mut list = lock(&sh.list);
        let Some(i) = list.lanes.iter().position(|l| Arc::ptr_eq(&l.armed, armed)) else {
            return; // swept
        };
        let lane = list.lanes[i].clone();
        {
            let mut st = lock(&lane.st);
            if !lane.idle(&st) {
                return; // its callers read it; the lane is watched again when idle
            }
            // Idle, and the lane's lock held: nobody reads the socket (idle_watch.rs).
            if idle_watch::still_open(&lane.conn) {
                lane.watch();
                return;
            }
            lane.kill(&mut st);
        }
        list.lanes.swap_remove(i);
        drop(list);
        sh.discarded.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("http client: the peer closed an idle pipelined connection");
        drop(lane); // the last reference: closes the socket
    }
}

/// One pipelined connection.
#[derive(Debug)]
struct Lane {
    conn: TcpStream,
    worker: usize,
    /// [`ClientBuilder::max_body_bytes`] of the client that dialled it.
    max_body: u64,
    /// Requests that joined and have not taken their outcome yet (read without the lock
    /// by `pick`).
    in_flight: AtomicUsize,
    /// Mirrors `State::dead` for `pick`.
    dead: AtomicBool,
    /// The last answer came within [`FLOWING`] of its request (for `pick`).
    fast: AtomicBool,
    /// When the oldest request still waiting for its answer joined ([`stamp`]; 0: none).
    front_joined: AtomicU64,
    /// When the last request took its outcome, or the lane was made ([`stamp`]).
    idle_since: AtomicU64,
    st: Mutex<State>,
    /// The lanes it is listed in, for its idle watcher.
    owner: Weak<Shared>,
    /// Whether its idle watcher is armed; also what the watcher knows it by.
    armed: Arc<Armed>,
}

#[derive(Debug)]
struct State {
    /// Requests queued for the flusher.
    out: Vec<u8>,
    flushing: bool,
    /// Requests whose answer has not been read, oldest first.
    queue: VecDeque<Waiting>,
    /// Outcomes not yet taken by their callers, by sequence number.
    done: Vec<(u64, Outcome)>,
    next_seq: u64,
    reading: bool,
    /// The read buffer and its unread bytes, while nobody is reading.
    rbuf: Option<(PooledBuf, usize, usize)>,
    dead: bool,
}

#[derive(Debug)]
struct Waiting {
    seq: u64,
    head_only: bool,
    waker: Unparker,
    /// When it joined ([`stamp`]).
    joined: u64,
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Done(r) => write!(f, "Done({})", r.status),
            Outcome::Failed(e) => write!(f, "Failed({e})"),
            Outcome::Retry => f.write_str("Retry"),
        }
    }
}

impl Lane {
    fn new(conn: TcpStream, worker: usize, max_body: u64, owner: Weak<Shared>) -> Lane {
        Lane {
            conn,
            worker,
            max_body,
            in_flight: AtomicUsize::new(0),
            dead: AtomicBool::new(false),
            fast: AtomicBool::new(false),
            front_joined: AtomicU64::new(0),
            idle_since: AtomicU64::new(stamp()),
            st: Mutex::new(State {
                out: Vec::new(),
                flushing: false,
                queue: VecDeque::new(),
                done: Vec::new(),
                next_seq: 0,
                reading: false,
                rbuf: None,
                dead: false,
            }),
            owner,
            armed: Arc::default(),
        }
    }

    /// Idle: no request in flight, nobody reading or writing, not killed.
    fn idle(&self, st: &State) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
            && st.queue.is_empty()
            && !st.reading
            && !st.flushing
            && !st.dead
    }

    /// Parks a watcher on the lane's socket that closes the lane if the server closes it
    /// while the lane is idle (idle_watch.rs).
    fn watch(&self) {
        let owner = self.owner.clone();
        let me = self.armed.clone();
        idle_watch::arm(&self.conn, &self.armed, move || {
            Shared::on_edge(&owner, &me)
        });
    }

    /// Not killed (read without the lock).
    fn live(&self) -> bool {
        !self.dead.load(Ordering::Relaxed)
    }

    /// Idle at least `idle_timeout` at `now` (a [`stamp`]); meaningful for an idle lane.
    fn expired(&self, now: u64, cfg: &ClientBuilder) -> bool {
        let idle = now.saturating_sub(self.idle_since.load(Ordering::Relaxed));
        cfg.idle_timeout
            .is_some_and(|t| Duration::from_nanos(idle) >= t)
    }

    /// See [`FLOWING`]; `now` is a [`stamp`].
    fn flowing(&self, now: u64) -> bool {
        let front = self.front_joined.load(Ordering::Relaxed);
        self.fast.load(Ordering::Relaxed)
            && (front == 0 || now.saturating_sub(front) < FLOWING.as_nanos() as u64)
    }

    /// Queues `req`, writes it (or leaves that to the flush already pending) and waits for
    /// its outcome until `deadline`.
    fn send(
        self: &Arc<Self>,
        req: &[u8],
        head_only: bool,
        deadline: Option<Instant>,
        ctx: Option<&Context>,
    ) -> Outcome {
        let (seq, flush) = {
            let mut st = lock(&self.st);
            if st.dead {
                return Outcome::Retry;
            }
            let seq = st.next_seq;
            st.next_seq += 1;
            st.out.extend_from_slice(req);
            let joined = stamp();
            if st.queue.is_empty() {
                self.front_joined.store(joined, Ordering::Relaxed);
            }
            st.queue.push_back(Waiting {
                seq,
                head_only,
                waker: park::unparker(),
                joined,
            });
            self.in_flight.fetch_add(1, Ordering::Relaxed);
            (seq, !std::mem::replace(&mut st.flushing, true))
        };
        // A done context kills the lane while this request is still queued (module notes).
        let stop = ctx.map(|c| {
            let lane = self.clone();
            c.after_func(move || {
                let mut st = lock(&lane.st);
                if st.queue.iter().any(|w| w.seq == seq) {
                    tracing::debug!("http client: pipelined request canceled");
                    lane.kill(&mut st);
                }
            })
        });
        if flush {
            KillOnUnwind::around(self, || self.flush(deadline));
        }
        let outcome = self.wait(seq, deadline);
        if let Some(stop) = stop {
            stop.stop();
        }
        match (outcome, ctx.and_then(Context::err)) {
            (Outcome::Done(r), _) => Outcome::Done(r),
            (_, Some(e)) => Outcome::Failed(e.into()),
            (o, None) => o,
        }
    }

    /// The flusher's part: one write for everything queued meanwhile, by the flusher's
    /// `deadline` (a write that misses it kills the lane: the others go through the pool).
    fn flush(&self, deadline: Option<Instant>) {
        if deadline.is_some() {
            self.conn.set_write_deadline(deadline);
        }
        goro::yield_now();
        let mut buf = Vec::new();
        loop {
            {
                let mut st = lock(&self.st);
                if st.out.is_empty() || st.dead {
                    st.flushing = false;
                    return;
                }
                // The flusher writes `buf` while callers append to the emptied `out`.
                std::mem::swap(&mut buf, &mut st.out);
            }
            tracing::trace!(bytes = buf.len(), "http client: pipelined write");
            if let Err(e) = (&self.conn).write_all(&buf) {
                tracing::debug!(error = %e, "http client: pipelined write failed");
                let mut st = lock(&self.st);
                st.flushing = false;
                self.kill(&mut st);
                return;
            }
            buf.clear();
        }
    }

    /// Waits for the outcome of request `seq`, taking the reader's role when it is free.
    ///
    /// At `deadline` the request fails with `TimedOut`, and the lane dies with it: its
    /// answer may still come, and the requests queued behind it would wait for that too.
    fn wait(&self, seq: u64, deadline: Option<Instant>) -> Outcome {
        loop {
            let mut st = lock(&self.st);
            if let Some(i) = st.done.iter().position(|d| d.0 == seq) {
                let outcome = st.done.swap_remove(i).1;
                if self.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
                    self.idle_since.store(stamp(), Ordering::Relaxed);
                    if !st.dead {
                        self.watch();
                    }
                }
                return match outcome {
                    Outcome::Retry if deadline.is_some_and(|d| Instant::now() >= d) => {
                        Outcome::Failed(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "goro-net http: pipelined request timed out",
                        ))
                    }
                    o => o,
                };
            }
            if st.dead {
                // Cannot happen: killing a lane files a verdict for every queued request.
                debug_assert!(false, "a dead lane without this request's verdict");
                return Outcome::Retry;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                // Every request gets its verdict, this one a retry turned into the timeout
                // above.
                self.kill(&mut st);
                continue;
            }
            if !st.reading {
                st.reading = true;
                let rbuf = st.rbuf.take();
                drop(st);
                KillOnUnwind::around(self, || self.read_answers(seq, deadline, rbuf));
                continue;
            }
            drop(st);
            match deadline {
                Some(d) => park::park_deadline(d),
                None => park::park(),
            }
        }
    }

    /// The reader's part: files answers for the front of the queue until `mine` has one,
    /// reading until `deadline` (`mine`'s).
    fn read_answers(
        &self,
        mine: u64,
        deadline: Option<Instant>,
        rbuf: Option<(PooledBuf, usize, usize)>,
    ) {
        let (buf, pos, end) = rbuf.unwrap_or_else(|| (pool::get(RESP_BUF), 0, 0));
        if deadline.is_some() {
            self.conn.set_read_deadline(deadline);
        }
        let mut src = Src::new(&self.conn, buf, pos, end, self.max_body);
        loop {
            let front = match lock(&self.st).queue.front() {
                Some(w) => (w.seq, w.head_only),
                None => break, // killed meanwhile: every request has its verdict
            };
            let answer = read_response(&mut src, front.1);
            let mut st = lock(&self.st);
            if st.dead {
                break; // the flusher failed meanwhile and gave everyone a verdict
            }
            let w = st
                .queue
                .pop_front()
                .expect("the front is only taken by the reader");
            debug_assert_eq!(w.seq, front.0);
            let took = stamp().saturating_sub(w.joined);
            self.fast
                .store(took < FLOWING.as_nanos() as u64, Ordering::Relaxed);
            let next = st.queue.front().map_or(0, |f| f.joined);
            self.front_joined.store(next, Ordering::Relaxed);
            let (outcome, keep) = match answer {
                Ok((resp, keep)) => (Outcome::Done(resp), keep),
                Err((e, before_answer)) => {
                    tracing::debug!(error = %e, "http client: pipelined read failed");
                    // The reader's own deadline passing while it reads another's answer
                    // says nothing about that one: it may go again through the pool.
                    let not_theirs = w.seq != mine
                        && e.kind() == io::ErrorKind::TimedOut
                        && deadline.is_some_and(|d| Instant::now() >= d);
                    if (before_answer && e.kind() != io::ErrorKind::TimedOut) || not_theirs {
                        (Outcome::Retry, false)
                    } else {
                        (Outcome::Failed(e), false)
                    }
                }
            };
            st.done.push((w.seq, outcome));
            if w.seq != mine {
                w.waker.unpark();
            }
            if !keep {
                self.kill(&mut st);
                break;
            }
            if w.seq == mine {
                break;
            }
        }
        let mut st = lock(&self.st);
        st.reading = false;
        let (buf, pos, end) = src.into_parts();
        if st.queue.is_empty() && pos < end {
            // Bytes nobody asked for: the connection is out of step with its requests.
            tracing::debug!("http client: unrequested bytes on a pipelined connection");
            self.kill(&mut st);
        }
        if !st.dead {
            st.rbuf = Some((buf, pos, end));
            if let Some(w) = st.queue.front() {
                w.waker.unpark(); // the new front reads next
            }
        }
    }

    /// Marks the lane dead: every queued request gets a retry verdict and is woken.
    fn kill(&self, st: &mut State) {
        if st.dead {
            return;
        }
        st.dead = true;
        self.dead.store(true, Ordering::Relaxed);
        st.out = Vec::new();
        st.rbuf = None;
        for w in std::mem::take(&mut st.queue) {
            st.done.push((w.seq, Outcome::Retry));
            w.waker.unpark();
        }
        // Wakes a flusher parked in a write, and tells the server at once.
        let _ = self.conn.shutdown(Shutdown::Both);
        tracing::debug!(
            worker = self.worker,
            "http client: pipelined connection closed"
        );
    }
}

/// Kills the lane if the flusher's or the reader's part unwinds (a panic in between): the role
/// it held would otherwise stay taken, and the other callers would wait forever.
///
/// Disarmed when the part returns, rather than asking `std::thread::panicking()` on drop: a
/// coroutine of this worker that parked while unwinding (a `Drop` that waits) leaves that true
/// for every other coroutine the thread runs meanwhile (docs/CAVEATS.md), and each of their
/// lanes would die on its first request.
struct KillOnUnwind<'a>(Option<&'a Lane>);

impl<'a> KillOnUnwind<'a> {
    /// Runs `part`, one of `lane`'s roles, killing the lane if it unwinds.
    fn around<R>(lane: &'a Lane, part: impl FnOnce() -> R) -> R {
        let mut armed = KillOnUnwind(Some(lane));
        let r = part();
        armed.0 = None;
        r
    }
}

impl Drop for KillOnUnwind<'_> {
    fn drop(&mut self) {
        if let Some(lane) = self.0 {
            let mut st = lock(&lane.st);
            st.reading = false;
            st.flushing = false;
            lane.kill(&mut st);
        }
    }
}
