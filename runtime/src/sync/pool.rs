//! `Pool<T>`: a typed free list of reusable values, per worker (Go's `sync.Pool`).
//!
//! Design: one shard per worker (`worker_index`) plus one shared shard for plain threads, each
//! a short std lock around two stacks, `primary` and `victim` (Go's per-P `poolLocal` and
//! victim cache). A started coroutine never leaves its worker, so its gets and puts hit its
//! own shard, whose lock is uncontended except while another shard's owner steals from it.
//!
//! Trimming is *lazy*: Go moves every primary to the victim (and frees the old victim) at each
//! GC, from the runtime; goro has no GC, and this module does not hook the scheduler's sysmon.
//! Instead time is cut into epochs of the pool's trim period, and a shard catches up with the
//! clock whenever it is touched (every 16th operation on it, and every steal that visits it):
//! one epoch later its primary becomes its victim, two or more epochs later both are freed.
//! A value therefore survives at most two idle periods *of activity on its shard*; a shard
//! nobody touches keeps its values until it is touched (bounded by what was put there).
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex as StdMutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use super::waiter;

/// The default trim period: an idle pool frees its values after one to two periods.
const TRIM_PERIOD: Duration = Duration::from_secs(5);
/// A shard reads the clock (to catch up with trimming) once per this many operations.
const CLOCK_EVERY: u32 = 16;

/// A pool of reusable `T`s, for values that are expensive to make and cheap to reset: buffers,
/// encoders, scratch space (Go's `sync.Pool`, typed).
///
/// [`get`](Pool::get) hands out a value the pool holds, or makes one with the function given
/// to [`Pool::new`]; the returned [`PoolGuard`] puts it back when dropped (or call
/// [`put`](Pool::put) with a value of your own). Values come back *as they were left*: reset
/// them after `get` or before putting them back, as in Go.
///
/// # Per worker
///
/// Each worker thread has its own free list, chosen with [`worker_index`](crate::worker_index):
/// a coroutine gets back what coroutines on its worker put, without contention and with the
/// value still warm in that core's cache. A worker whose list is empty takes a value from
/// another's before making a new one. Plain OS threads share one more list.
///
/// # Trimming
///
/// Like Go's victim cache, a value the pool does not hand out again is freed after one to two
/// trim periods (5 s by default, [`with_trim_period`](Pool::with_trim_period)), so a burst does
/// not pin memory forever. goro has no garbage collector to drive this, so the pool trims
/// lazily, as it is used: a worker's list catches up with the clock when that worker next
/// uses the pool (or another steals from it), so values put on a worker that never touches the
/// pool again stay until it does.
///
/// # Example
///
/// ```
/// use goro::sync::Pool;
/// use std::io::Write;
/// use std::sync::Arc;
///
/// let bufs = Arc::new(Pool::new(|| Vec::<u8>::with_capacity(4096)));
/// let handles: Vec<_> = (0..100)
///     .map(|i| {
///         let bufs = Arc::clone(&bufs);
///         goro::spawn(move || {
///             let mut buf = bufs.get(); // reused when one is free
///             buf.clear(); // values come back as they were left
///             write!(buf, "request {i}").unwrap();
///             buf.len()
///         }) // `buf` goes back to this worker's list here
///     })
///     .collect();
/// for h in handles {
///     assert!(h.join().unwrap() >= 9);
/// }
/// ```
pub struct Pool<T> {
    new: Box<dyn Fn() -> T + Send + Sync>,
    /// The plain threads' shard, and the last resort of a stealing worker.
    shared: Padded<T>,
    /// One shard per worker, made at the first use from a coroutine (the runtime exists then,
    /// so its worker count is known).
    workers: OnceLock<Box<[Padded<T>]>>,
    /// Epoch 0 starts here.
    born: Instant,
    period: Duration,
}

/// A shard on a cache line of its own (no false sharing between workers).
type Padded<T> = CachePadded<StdMutex<Shard<T>>>;

/// One free list: see the table in `sync/mod.rs`.
struct Shard<T> {
    /// Values put back during epoch `epoch`; LIFO.
    primary: Vec<T>,
    /// `primary` as it was one epoch ago; used when `primary` is empty; freed at the next epoch.
    victim: Vec<T>,
    /// The epoch `primary` belongs to.
    epoch: u64,
    /// Operations since the clock was last read (wraps).
    ops: u32,
}

/// A value taken from a [`Pool`]: dereferences to it, goes back to the pool when dropped.
///
/// ```
/// let pool = goro::sync::Pool::new(String::new);
/// let mut s = pool.get();
/// s.push_str("scratch");
/// drop(s); // back in the pool
/// assert_eq!(*pool.get(), "scratch"); // values come back as they were left
/// ```
#[must_use = "the value goes back to the pool as soon as the guard is dropped"]
pub struct PoolGuard<'a, T> {
    pool: &'a Pool<T>,
    /// `None` only after `into_inner` took it.
    value: Option<T>,
}

impl<T> Pool<T> {
    /// An empty pool that makes values with `new` when it has none to hand out.
    ///
    /// ```
    /// let pool = goro::sync::Pool::new(|| vec![0u8; 1024]);
    /// assert_eq!(pool.get().len(), 1024);
    /// ```
    pub fn new<F>(new: F) -> Pool<T>
    where
        F: Fn() -> T + Send + Sync + 'static,
    {
        Pool::with_trim_period(TRIM_PERIOD, new)
    }

    /// Like [`Pool::new`], with values unused for one to two `period`s freed (default 5 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = goro::sync::Pool::with_trim_period(Duration::from_secs(60), String::new);
    /// pool.put(String::from("kept for a minute or two"));
    /// ```
    pub fn with_trim_period<F>(period: Duration, new: F) -> Pool<T>
    where
        F: Fn() -> T + Send + Sync + 'static,
    {
        Pool {
            new: Box::new(new),
            shared: CachePadded::new(StdMutex::new(Shard::new(0))),
            workers: OnceLock::new(),
            born: Instant::now(),
            period: period.max(Duration::from_nanos(1)),
        }
    }

    /// A value from the pool (this worker's list first, then another's), or a new one; it
    /// goes back to the pool when the guard is dropped.
    ///
    /// ```
    /// let pool = goro::sync::Pool::new(|| 0u32);
    /// *pool.get() += 1; // made, changed, put back
    /// assert_eq!(*pool.get(), 1); // the same value again
    /// ```
    pub fn get(&self) -> PoolGuard<'_, T> {
        PoolGuard {
            pool: self,
            value: Some(self.take()),
        }
    }

    /// Gives `value` to the pool (on this worker's list), for a later [`get`](Pool::get).
    ///
    /// ```
    /// let pool = goro::sync::Pool::new(String::new);
    /// pool.put(String::from("warm"));
    /// assert_eq!(*pool.get(), "warm");
    /// ```
    pub fn put(&self, value: T) {
        let mut s = waiter::lock(self.home());
        let trimmed = self.catch_up(&mut s, false);
        s.primary.push(value);
        drop(s);
        // Values are dropped outside the shard lock: a `Drop` may use the pool.
        drop(trimmed);
    }

    /// Takes a value out: home shard, then a steal, then `new`.
    fn take(&self) -> T {
        let home = self.home();
        let mut s = waiter::lock(home);
        let trimmed = self.catch_up(&mut s, false);
        let v = s.pop();
        drop(s);
        drop(trimmed);
        if let Some(v) = v {
            return v;
        }
        // Steal (Go's getSlow): other workers' shards, then the shared one, never waiting for
        // a shard's lock (its owner is using it; making a value is the better wait).
        let others = self.workers.get().map_or(&[][..], |w| &w[..]);
        for shard in others.iter().map(|s| &**s).chain([&*self.shared]) {
            if std::ptr::eq(shard, home) {
                continue;
            }
            let Ok(mut s) = shard.try_lock() else {
                continue;
            };
            let trimmed = self.catch_up(&mut s, true);
            let v = s.pop();
            drop(s);
            drop(trimmed);
            if let Some(v) = v {
                return v;
            }
        }
        (self.new)()
    }

    /// The calling worker's shard, or the shared one on a plain thread.
    fn home(&self) -> &StdMutex<Shard<T>> {
        let Some(i) = crate::worker_index() else {
            return &self.shared;
        };
        let workers = self.workers.get_or_init(|| {
            // In a coroutine: the runtime runs, so this only reads its worker count.
            let n = crate::stats().workers;
            (0..n)
                .map(|_| CachePadded::new(StdMutex::new(Shard::new(self.epoch()))))
                .collect()
        });
        workers.get(i).map_or(&*self.shared, |s| &**s)
    }

    /// The current trim epoch.
    fn epoch(&self) -> u64 {
        (self.born.elapsed().as_nanos() / self.period.as_nanos()) as u64
    }

    /// Ages `s` to the current epoch if it is behind (on every `CLOCK_EVERY`th call, or on
    /// each call with `always`); returns the values to free, for the caller to drop after
    /// unlocking the shard.
    fn catch_up(&self, s: &mut Shard<T>, always: bool) -> (Vec<T>, Vec<T>) {
        s.ops = s.ops.wrapping_add(1);
        if !always && !s.ops.is_multiple_of(CLOCK_EVERY) {
            return (Vec::new(), Vec::new());
        }
        let now = self.epoch();
        if now <= s.epoch {
            return (Vec::new(), Vec::new());
        }
        let behind = now - s.epoch;
        s.epoch = now;
        if behind == 1 {
            // One period on: the primary becomes the victim; the old victim goes.
            let primary = std::mem::take(&mut s.primary);
            (std::mem::replace(&mut s.victim, primary), Vec::new())
        } else {
            // Idle for two periods or more: both go.
            (
                std::mem::take(&mut s.primary),
                std::mem::take(&mut s.victim),
            )
        }
    }
}

impl<T> Shard<T> {
    fn new(epoch: u64) -> Shard<T> {
        Shard {
            primary: Vec::new(),
            victim: Vec::new(),
            epoch,
            ops: 0,
        }
    }

    /// The most recently put value, else one from the victim list.
    fn pop(&mut self) -> Option<T> {
        self.primary.pop().or_else(|| self.victim.pop())
    }
}

impl<'a, T> PoolGuard<'a, T> {
    /// Takes the value out of the pool's care: it is not put back when the guard goes.
    ///
    /// ```
    /// let pool = goro::sync::Pool::new(|| vec![1, 2, 3]);
    /// let v: Vec<i32> = goro::sync::PoolGuard::into_inner(pool.get());
    /// assert_eq!(v, [1, 2, 3]);
    /// ```
    pub fn into_inner(mut this: PoolGuard<'a, T>) -> T {
        this.value
            .take()
            .expect("goro: PoolGuard holds its value until into_inner")
    }
}

impl<T> Deref for PoolGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value
            .as_ref()
            .expect("goro: PoolGuard holds its value until into_inner")
    }
}

impl<T> DerefMut for PoolGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value
            .as_mut()
            .expect("goro: PoolGuard holds its value until into_inner")
    }
}

impl<T> Drop for PoolGuard<'_, T> {
    fn drop(&mut self) {
        if let Some(v) = self.value.take() {
            self.pool.put(v);
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for PoolGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T> fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("trim_period", &self.period)
            .finish_non_exhaustive()
    }
}
