//! A buffer pool in the spirit of Go's `sync.Pool`: reuse I/O buffers instead of allocating
//! one per connection or per request.
//!
//! ```
//! let mut buf = goro_net::pool::get(4096); // at least 4096 bytes, usually reused
//! assert_eq!(buf.len(), 4096);
//! buf[0] = 7;
//! drop(buf); // back to the pool
//! let s = goro_net::pool::stats();
//! assert!(s.hits + s.misses >= 1);
//! ```
//!
//! # Design
//!
//! Buffers come in four size classes (2, 4, 16 and 64 KiB); a request is rounded up to its
//! class and larger requests are plain allocations that are not pooled. Each worker thread has
//!
//! 1. a **private slot** per class (a thread-local cell, no atomics): the last buffer put
//!    back is the next one handed out, the common get/put/get pattern of a connection;
//! 2. a bounded **cache** per class (about 64 KiB per class), behind a mutex only its own
//!    thread takes on the fast path, so the sweeper can empty it;
//!
//! and all threads share a bounded **overflow** (primary + victim lists). A get looks in that
//! order (private, cache, primary, victim) and allocates on a miss; a put fills them in the
//! same order and frees what does not fit.
//!
//! Since a started goro coroutine never leaves its worker thread, thread-local means
//! per-worker here, and no buffer state is held across a park point.
//!
//! **Shrinking.** While the pool holds buffers, a goro timer runs a sweep every
//! [`SWEEP_EVERY`]: the victim list is freed, and the primary list and every thread's cache
//! become the new victim (Go's `poolCleanup` at each GC). A buffer survives one idle sweep and
//! is returned to the allocator at the second, so an idle pool shrinks to its private slots
//! (at most one buffer per class per worker) within two periods; a busy pool barely notices,
//! since a get falls back to the victim before it allocates.
use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::lock;

/// The size classes, in bytes.
pub const CLASSES: [usize; 4] = [2 << 10, 4 << 10, 16 << 10, 64 << 10];
/// Period of the shrinking sweep.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// Bytes a thread's cache keeps per class.
const CACHE_BYTES: usize = 64 << 10;
/// Bytes the shared overflow keeps per class (primary list).
const OVERFLOW_BYTES: usize = 8 << 20;

/// A pooled buffer: derefs to a `[u8]` of the requested length, returned to the pool on drop.
pub struct PooledBuf {
    vec: Vec<u8>,
    len: usize,
    class: usize,
}

impl PooledBuf {
    /// The requested length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a zero-length request.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole buffer, which may be longer than requested (its size class).
    pub fn full(&mut self) -> &mut [u8] {
        &mut self.vec
    }

    /// Takes the buffer out of the pool's care (it is not returned on drop).
    pub fn into_vec(mut self) -> Vec<u8> {
        let mut v = std::mem::take(&mut self.vec);
        v.truncate(self.len);
        v
    }
}

impl Deref for PooledBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.vec[..self.len]
    }
}

impl DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.vec[..self.len]
    }
}

impl std::fmt::Debug for PooledBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledBuf")
            .field("len", &self.len)
            .field("class", &self.vec.capacity())
            .finish()
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        if self.class < CLASSES.len() && self.vec.len() == CLASSES[self.class] {
            put(self.class, std::mem::take(&mut self.vec));
        }
    }
}

/// Pool counters (all threads).
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Gets served from a private slot, a cache or the overflow.
    pub hits: u64,
    /// Gets that allocated.
    pub misses: u64,
    /// Buffers freed by sweeps.
    pub swept: u64,
}

/// A thread's sweepable part: its caches and counters.
struct Shared {
    cache: [Mutex<Vec<Vec<u8>>>; 4],
    hits: AtomicU64,
    misses: AtomicU64,
}

struct Local {
    private: RefCell<[Option<Vec<u8>>; 4]>,
    shared: Arc<Shared>,
}

struct Overflow {
    primary: [Vec<Vec<u8>>; 4],
    victim: [Vec<Vec<u8>>; 4],
}

static OVERFLOW: Mutex<Overflow> = Mutex::new(Overflow {
    primary: [Vec::new(), Vec::new(), Vec::new(), Vec::new()],
    victim: [Vec::new(), Vec::new(), Vec::new(), Vec::new()],
});
static THREADS: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());
static SWEEP_ARMED: AtomicBool = AtomicBool::new(false);
static SWEPT: AtomicU64 = AtomicU64::new(0);
/// Counters of threads that have exited.
static RETIRED: Mutex<(u64, u64)> = Mutex::new((0, 0));

impl Drop for Local {
    fn drop(&mut self) {
        let mut r = lock(&RETIRED);
        r.0 += self.shared.hits.load(Ordering::Relaxed);
        r.1 += self.shared.misses.load(Ordering::Relaxed);
    }
}

thread_local! {
    static LOCAL: Local = {
        let shared = Arc::new(Shared {
            cache: Default::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        });
        lock(&THREADS).push(Arc::downgrade(&shared));
        Local { private: RefCell::new(Default::default()), shared }
    };
}

/// Counts a hit or miss on a counter only this thread writes.
fn bump(c: &AtomicU64) {
    c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

/// A buffer of at least `min_len` bytes (exactly `min_len` visible), from the pool when one
/// of its size class is free. Contents of a reused buffer are whatever was left in it.
pub fn get(min_len: usize) -> PooledBuf {
    let Some(class) = CLASSES.iter().position(|&c| c >= min_len) else {
        return PooledBuf {
            vec: vec![0; min_len],
            len: min_len,
            class: usize::MAX,
        };
    };
    let found = LOCAL
        .try_with(|l| {
            let v = l.private.borrow_mut()[class]
                .take()
                .or_else(|| lock(&l.shared.cache[class]).pop())
                .or_else(|| {
                    let mut o = lock(&OVERFLOW);
                    o.primary[class].pop().or_else(|| o.victim[class].pop())
                });
            bump(if v.is_some() {
                &l.shared.hits
            } else {
                &l.shared.misses
            });
            v
        })
        .ok()
        .flatten();
    PooledBuf {
        vec: found.unwrap_or_else(|| vec![0; CLASSES[class]]),
        len: min_len,
        class,
    }
}

fn put(class: usize, v: Vec<u8>) {
    enum Put {
        Private,
        Cached,
        Left(Vec<u8>),
    }
    let left = LOCAL.try_with(|l| {
        let mut private = l.private.borrow_mut();
        if private[class].is_none() {
            private[class] = Some(v);
            return Put::Private;
        }
        drop(private);
        let mut cache = lock(&l.shared.cache[class]);
        if cache.len() * CLASSES[class] < CACHE_BYTES.max(2 * CLASSES[class]) {
            cache.push(v);
            return Put::Cached;
        }
        Put::Left(v)
    });
    let v = match left {
        // Private slots are not swept: no timer needed for them.
        Ok(Put::Private) => return,
        Ok(Put::Cached) => {
            arm_sweep();
            return;
        }
        Ok(Put::Left(v)) => v,
        Err(_) => return, // thread exiting: let it go
    };
    let mut o = lock(&OVERFLOW);
    if o.primary[class].len() * CLASSES[class] < OVERFLOW_BYTES {
        o.primary[class].push(v);
    }
    drop(o);
    arm_sweep();
}

fn arm_sweep() {
    if !SWEEP_ARMED.load(Ordering::Relaxed) && !SWEEP_ARMED.swap(true, Ordering::Relaxed) {
        let _ = goro::time::Timer::after(SWEEP_EVERY, sweep);
    }
}

/// One shrinking step (module doc). Runs from a goro timer; public for tests and for
/// programs that want to shrink at a moment of their choosing.
pub fn sweep() {
    let threads: Vec<Arc<Shared>> = {
        let mut t = lock(&THREADS);
        t.retain(|w| w.strong_count() > 0);
        t.iter().filter_map(Weak::upgrade).collect()
    };
    let mut freed = Vec::new();
    let remaining;
    {
        let mut o = lock(&OVERFLOW);
        for class in 0..CLASSES.len() {
            let old = std::mem::take(&mut o.victim[class]);
            freed.push(old);
            let mut next = std::mem::take(&mut o.primary[class]);
            for t in &threads {
                next.append(&mut lock(&t.cache[class]));
            }
            o.victim[class] = next;
        }
        remaining = o.victim.iter().any(|v| !v.is_empty());
    }
    let n: usize = freed.iter().map(Vec::len).sum();
    SWEPT.fetch_add(n as u64, Ordering::Relaxed);
    tracing::debug!(freed = n, "goro-net: buffer pool sweep");
    drop(freed); // memory goes back to the allocator here, outside the lock
    SWEEP_ARMED.store(false, Ordering::Relaxed);
    if remaining {
        arm_sweep();
    }
}

/// Hit/miss counters summed over all threads.
pub fn stats() -> Stats {
    let (mut hits, mut misses) = *lock(&RETIRED);
    for w in lock(&THREADS).iter() {
        if let Some(t) = w.upgrade() {
            hits += t.hits.load(Ordering::Relaxed);
            misses += t.misses.load(Ordering::Relaxed);
        }
    }
    Stats {
        hits,
        misses,
        swept: SWEPT.load(Ordering::Relaxed),
    }
}

/// Buffers held by the pool outside private slots (caches + overflow), for tests.
pub fn pooled() -> usize {
    let mut n: usize = {
        let o = lock(&OVERFLOW);
        o.primary.iter().chain(o.victim.iter()).map(Vec::len).sum()
    };
    for w in lock(&THREADS).iter() {
        if let Some(t) = w.upgrade() {
            n += t.cache.iter().map(|c| lock(c).len()).sum::<usize>();
        }
    }
    n
}
