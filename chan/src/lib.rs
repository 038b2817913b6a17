//! goro-chan: Go's channels and `select` for goro coroutines and plain OS threads alike.
//!
//! # Why this crate
//!
//! crossbeam-channel is the channel Rust programmers know, but its blocking calls park
//! the OS thread, and inside a goro coroutine that thread is a whole worker: every other
//! coroutine on it would stop. goro-chan keeps crossbeam-channel's API shapes (so Rust
//! code reads the same) and Go's semantics (so Go code ports line by line), and its
//! blocking calls park only the *coroutine*, through `goro::park`. Outside a coroutine the
//! same calls block the thread, so one channel can connect coroutines and threads.
//!
//! # Design
//!
//! **Flavors.** A channel is one of six flavors (see `flavors/mod.rs`), one file each,
//! behind the enum in `Sender`/`Receiver`: `array` (bounded, lock-free ring of stamped
//! slots), `zero` (rendezvous, direct handoff), `list` (unbounded, lock-free list of
//! blocks), `at`/`tick` (timers) and `never` (Go's nil channel). Dispatch is a `match` on
//! the hot path, never a `dyn` call. Each flavor implements one small internal trait, `SelectHandle`
//! (`try_select`/`register`/`unregister`/`accept`), which is everything `select` needs.
//!
//! **Waiting.** Go's `sudog` becomes a *context*: a shared slot saying who claimed the
//! waiter (Waiting / operation `i` / Disconnected / Aborted) plus the waiter's
//! `goro::park::Unparker`. A blocked operation registers its context in the channel's wait
//! queue and parks in a loop until the slot leaves Waiting (`park` may return spuriously).
//! A peer claims a waiter with one CAS on that slot, so exactly one party wins, then wakes
//! it *after* releasing the channel's lock (wake outside locks). A timeout is the waiter
//! claiming its own slot. Each coroutine (and thread) keeps one context and reuses it for
//! every wait, even while a peer still holds a stale clone (which may only unpark; see
//! `context.rs`), so a blocking operation or select does not allocate in the steady state
//! (`tests/select_alloc.rs`). The exception is a select arm on a zero-capacity channel,
//! which allocates its exchange packet, as crossbeam-channel's does.
//!
//! **Handoff.** On a zero-capacity channel the value moves directly between the two
//! sides' stacks through a *packet* (the waiting side's stack while it is parked).
//! Buffered channels move each value into a slot and out of it once; a parked receiver is
//! woken to take the value from the ring rather than handed it. Go's buffered channel can
//! hand off directly because one lock covers buffer and queues, so "receivers are
//! waiting" proves "buffer is empty"; in a lock-free ring that proof would cost what the
//! handoff saves, and per-sender FIFO order depends on it.
//!
//! **Select.** One context is registered in every channel of the select and the select
//! parks once (no coroutine per arm). Operations are tried in a freshly shuffled order,
//! so each ready arm is chosen with equal probability, as in Go. The same channel twice,
//! and two selects taking the same channels in opposite orders, are fine: no select holds
//! one channel's lock while taking another's. See `select.rs` for the steps.
//!
//! **Closing.** Go's `close(ch)` is [`Sender::close`], or dropping the last `Sender`.
//! Receivers drain what is buffered, then get [`RecvError`]; every parked party wakes.
//! Dropping the last `Receiver` disconnects too, so senders stop blocking forever.
//!
//! **Invariants.** A waiter's context is claimed at most once per wait; only the claimer
//! touches a waiter's packet, and never after setting its `ready` flag; every waiter
//! unregisters (or was claimed and removed) before it returns; no lock is held across a
//! park; timer callbacks never block and never create timers.
//!
//! # Coming from Go
//!
//! | Go | goro-chan | notes |
//! |---|---|---|
//! | `ch := make(chan T)` | `let (tx, rx) = bounded::<T>(0)` | rendezvous; the handles are `Clone` (MPMC) |
//! | `ch := make(chan T, n)` | `bounded::<T>(n)` | |
//! | (none) | `unbounded::<T>()` | sends never block |
//! | `ch <- v` | `tx.send(v)?` | `Err(SendError(v))` hands `v` back if closed (Go panics) |
//! | `v := <-ch` | `rx.recv()?` | |
//! | `v, ok := <-ch` | `match rx.recv() { Ok(v) => .., Err(RecvError) => .. }` | `Err` = closed and drained (Go: zero value, `false`) |
//! | `for v := range ch` | `for v in &rx` / `rx.iter()` | |
//! | `close(ch)` | `tx.close()` or drop every `Sender` | double close returns `false` (Go panics) |
//! | `len(ch)`, `cap(ch)` | `rx.len()`, `rx.capacity()` | `capacity()` is `None` for unbounded |
//! | `select { case v := <-a: .. case b <- x: .. }` | `select! { recv(a) -> v => .., send(b, x) -> r => .. }` | uniform random choice among ready arms |
//! | `select { ... default: }` | `select! { ..., default => .. }` | also `try_send`, `try_recv` |
//! | `case <-time.After(d):` | `recv(after(d)) -> _ =>` or `default(d) =>` | the timer is cancelled when the receiver drops |
//! | `time.Tick(d)` / `time.NewTicker(d).C` | `tick(d)` | drops ticks for a slow receiver, like Go |
//! | nil channel | `never()` | never ready; blocks forever |
//! | `select {}` | `select! {}` | blocks forever |
//! | `reflect.Select` | [`Select`] | run-time sized set of operations |
//!
//! ```
//! use goro_chan::{bounded, select, after};
//! use std::time::Duration;
//!
//! let (tx, rx) = bounded(0);
//! std::thread::spawn(move || {
//!     for i in 0..3 {
//!         tx.send(i).unwrap();
//!     }
//! });
//! let mut got = vec![];
//! loop {
//!     select! {
//!         recv(rx) -> v => match v {
//!             Ok(v) => got.push(v),
//!             Err(_) => break, // closed: the sender finished
//!         },
//!         recv(after(Duration::from_secs(5))) -> _ => panic!("timed out"),
//!     }
//! }
//! assert_eq!(got, [0, 1, 2]);
//! ```
#![warn(missing_docs)]

mod channel;
mod context;
mod counter;
mod done;
mod err;
mod flavors;
mod select;
mod select_macro;
mod utils;
mod waker;

pub use crate::channel::{
    after, at, bounded, never, tick, unbounded, IntoIter, Iter, Receiver, Sender, TryIter,
};
pub use crate::done::done;
pub use crate::err::{
    ReadyTimeoutError, RecvError, RecvTimeoutError, SelectTimeoutError, SendError,
    SendTimeoutError, TryReadyError, TryRecvError, TrySelectError, TrySendError,
};
pub use crate::select::{Select, SelectedOperation};

/// Support for the `select!` macro. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::select::{run, Handle, Timeout};

    /// `default(timeout)`: the deadline `timeout` from now (or no deadline on overflow).
    pub fn timeout_after(timeout: std::time::Duration) -> Timeout {
        match std::time::Instant::now().checked_add(timeout) {
            Some(d) => Timeout::At(d),
            None => Timeout::Never,
        }
    }
}
