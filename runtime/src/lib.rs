//! goro: Go's concurrency and I/O model for Rust.
//!
//! Write plain blocking-style code — `go!(|| ...)`, `sleep(d)`, `mutex.lock()`,
//! `handle.join()` — and get Go-like scale: hundreds of thousands of coroutines on a handful
//! of OS threads. Each coroutine is a *stackful* coroutine on its own guarded stack; when it
//! waits it *parks* (its worker thread runs other coroutines) instead of blocking the thread.
//!
//! ```
//! use std::time::Duration;
//! use goro::go;
//!
//! let handles: Vec<_> = (0..1000u64)
//!     .map(|i| {
//!         go!(move || {
//!             goro::time::sleep(Duration::from_millis(10)); // parks, holds no thread
//!             i * 2
//!         })
//!     })
//!     .collect();
//! let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
//! assert_eq!(sum, 999 * 1000);
//! ```
//!
//! # The pieces
//!
//! | Go | goro |
//! |----|------|
//! | `go f()` | [`go!`]`(move \|\| f())`, [`spawn`], [`Builder`] |
//! | `runtime.Gosched()` | [`yield_now`] |
//! | `time.Sleep`, `time.AfterFunc` | [`time::sleep`], [`time::Timer`] |
//! | `context.Context`, `WithCancel`, `WithTimeout`, `AfterFunc` | [`context`] |
//! | `errgroup.Group` (`golang.org/x/sync`) | [`sync::ErrGroup`] |
//! | `gopark`/`goready` | [`park::park`], [`park::Unparker`] |
//! | `runtime.NumGoroutine`, `GODEBUG=schedtrace` | [`stats()`], `GORO_SCHEDTRACE=ms` |
//! | `GOMAXPROCS` | `GORO_MAXPROCS`, [`Config`] |
//! | netpoll (`internal/poll.FD`) | [`io::PollFd`], [`io::spawn_balanced`]; sockets in `goro-net` |
//! | stack shrinking at GC (`shrinkstack`) | [`shrink_stack`], called by the coroutine before a long wait |
//!
//! Every call works from a coroutine (it parks only that coroutine) and from a plain OS thread
//! such as `main` (it blocks that thread), so a program can start coroutines from `main` and
//! wait for them there.
//!
//! # Soundness
//!
//! `spawn` and `go!` are safe. A coroutine may be moved to another worker only before it
//! first runs; once started it always resumes on the same OS thread, so `thread_local!`s,
//! `RefCell` borrows and other thread-affine values held across a park point are safe. See
//! [`spawn`] and `docs/CAVEATS.md`.
#![warn(missing_docs)]

mod blocking;
mod builder;
mod config;
pub mod context;
mod coroutine;
pub mod io;
mod join;
mod local;
mod macros;
mod netpoll;
mod panic;
pub mod park;
mod poller;
mod prefetch;
mod rt;
mod running;
mod sched;
mod scope;
mod stack;
mod start;
mod stats;
pub mod sync;
pub mod time;

pub use blocking::blocking;
pub use builder::{spawn, yield_now, Builder};
pub use config::Config;
pub use coroutine::{current, in_coroutine, worker_index, Coroutine, CoroutineId};
pub use join::JoinHandle;
pub use local::{AccessError, LocalKey};
pub use scope::{scope, Scope, ScopedJoinHandle};
pub use stack::shrink_stack;
pub use stats::{stats, Stats, WorkerStats};

/// The one wire between the layers: the runtime handle (`rt`) launches the scheduler's
/// worker threads through this when it boots, without naming the scheduler above it.
const LAUNCH: rt::Launch = sched::launch;
