//! Coroutine-local storage: `coroutine_local!` and [`LocalKey`].
//!
//! A `thread_local!` is shared by every coroutine of a worker thread; a `coroutine_local!`
//! value belongs to one coroutine. Each coroutine owns a small map (key index -> boxed
//! value), created lazily on first use and dropped when the coroutine returns, on its own
//! thread. Outside a coroutine the same key reads a per-thread map, so code that uses it works
//! on plain threads too.
//!
//! Values are boxed once and never move, and the map holds raw pointers to them, so a
//! reference handed to `with` stays valid while `with` on another key (or a nested `with`)
//! grows the map.
//!
//! # Teardown
//!
//! A map has two states, as std's thread-locals do:
//!
//! | state       | meaning                                   | `with`           | `try_with`          |
//! |-------------|-------------------------------------------|------------------|---------------------|
//! | live        | values are made on first use              | runs             | runs                |
//! | torn down   | its owner ended: values are being dropped, or are gone | panics | `Err(AccessError)` |
//!
//! Teardown is one-way. Without it, a value's destructor that touched another key would
//! make a fresh map *after* the owner dropped its own, and that map would then be dropped
//! wherever the coroutine's last `Arc<Task>` happens to go (a joiner's thread, another
//! worker): a `!Send` value dropped on a foreign thread. So a coroutine marks its map torn
//! down before dropping any value, on its own thread and stack, and nothing can make a map
//! for it afterwards.
use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::error::Error;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The per-coroutine (or per-thread) map of local values.
#[derive(Default)]
pub(crate) struct LocalMap {
    slots: UnsafeCell<Vec<Option<NonNull<dyn Any>>>>,
    /// Set once by `tear_down`; see the module docs.
    torn_down: Cell<bool>,
}

impl LocalMap {
    /// The value for `key`, initialising it with `init` on first use.
    fn get_or_init<T: 'static>(&self, key: usize, init: fn() -> T) -> &T {
        if let Some(p) = self.get(key) {
            // SAFETY: slots for `key` only ever hold a `T` (one key, one type), boxed and
            // never moved or freed until the map is dropped.
            return unsafe { p.as_ref() }
                .downcast_ref::<T>()
                .expect("goro: coroutine_local type mismatch");
        }
        // `init` may itself use coroutine-locals: no borrow of `slots` is held across it.
        let value: Box<dyn Any> = Box::new(init());
        let p = NonNull::from(Box::leak(value));
        {
            // SAFETY: only this coroutine (or thread) touches its map, and no reference into
            // the Vec itself is alive here (`get` returned a copied pointer).
            let slots = unsafe { &mut *self.slots.get() };
            if slots.len() <= key {
                slots.resize(key + 1, None);
            }
            if let Some(old) = slots[key] {
                // A recursive `init` already set it: keep the first value, drop ours.
                // SAFETY: `p` came from `Box::leak` just above and was never shared.
                drop(unsafe { Box::from_raw(p.as_ptr()) });
                // SAFETY: as in the fast path.
                return unsafe { old.as_ref() }
                    .downcast_ref::<T>()
                    .expect("goro: coroutine_local type mismatch");
            }
            slots[key] = Some(p);
        }
        // SAFETY: as in the fast path.
        unsafe { p.as_ref() }
            .downcast_ref::<T>()
            .expect("goro: coroutine_local type mismatch")
    }

    fn get(&self, key: usize) -> Option<NonNull<dyn Any>> {
        // SAFETY: short shared read of our own map; no `&mut` to it is alive.
        unsafe { (&*self.slots.get()).get(key).copied().flatten() }
    }

    /// Marks the map torn down (no value can be made or read from now on) and drops every
    /// value, in key order. A destructor that panics is reported to `on_panic` and the
    /// remaining values are still dropped.
    pub(crate) fn tear_down(&self, on_panic: impl Fn()) {
        self.torn_down.set(true);
        // SAFETY: the owner calls this when no `with` closure of its own is running (the
        // coroutine body has returned, or the thread is exiting); `with` refuses a torn-down
        // map, so no destructor below can reach `slots` again.
        let slots = std::mem::take(unsafe { &mut *self.slots.get() });
        for p in slots.into_iter().flatten() {
            // SAFETY: each pointer came from `Box::leak` and is freed exactly once, here.
            let value = unsafe { Box::from_raw(p.as_ptr()) };
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(value))).is_err()
            {
                on_panic();
            }
        }
    }

    fn is_torn_down(&self) -> bool {
        self.torn_down.get()
    }
}

impl Drop for LocalMap {
    fn drop(&mut self) {
        // A thread's map, at thread exit (a coroutine's map is torn down by its body).
        self.tear_down(|| tracing::warn!("goro: a coroutine_local destructor panicked"));
    }
}

thread_local! {
    static THREAD_MAP: LocalMap = LocalMap::default();
}

/// A key for coroutine-local values; declare one with [`coroutine_local!`](crate::coroutine_local).
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
    /// Index in the maps, plus one; 0 until first use.
    index: AtomicUsize,
}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> LocalKey<T> {
        LocalKey {
            init,
            index: AtomicUsize::new(0),
        }
    }

    fn index(&'static self) -> usize {
        let i = self.index.load(Ordering::Relaxed);
        if i != 0 {
            return i - 1;
        }
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        let fresh = NEXT.fetch_add(1, Ordering::Relaxed);
        match self
            .index
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh - 1,
            Err(won) => won - 1,
        }
    }

    /// Calls `f` with this coroutine's value (or this thread's, outside a coroutine),
    /// initialising it on first use.
    ///
    /// # Panics
    ///
    /// If called while the coroutine's (or thread's) values are being dropped, or after:
    /// from the destructor of a coroutine-local value, as std's `LocalKey::with` panics from
    /// a thread-local destructor. [`try_with`](LocalKey::try_with) returns an error instead.
    ///
    /// ```
    /// use std::cell::Cell;
    ///
    /// goro::coroutine_local! {
    ///     static HITS: Cell<u32> = Cell::new(0);
    /// }
    ///
    /// let n = goro::spawn(|| {
    ///     HITS.with(|h| h.set(h.get() + 1));
    ///     HITS.with(Cell::get)
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(n, 1);
    /// ```
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        self.try_with(f).expect(
            "goro: cannot access a coroutine_local value during or after its coroutine's teardown",
        )
    }

    /// Like [`with`](LocalKey::with), but returns [`AccessError`] instead of panicking when
    /// the values of this coroutine (or thread) are being dropped or are gone.
    ///
    /// ```
    /// goro::coroutine_local! {
    ///     static NAME: String = String::from("worker");
    /// }
    ///
    /// assert_eq!(NAME.try_with(|n| n.len()), Ok(6));
    /// ```
    pub fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, AccessError> {
        let key = self.index();
        let t = crate::running::task();
        if t.is_null() {
            return THREAD_MAP
                .try_with(|m| Self::in_map(m, key, self.init).map(f))
                .ok()
                .flatten()
                .ok_or(AccessError);
        }
        // SAFETY: the running task outlives its body's calls, and its map is touched only by
        // that body, which is us.
        let map = unsafe { (*t).locals() }.ok_or(AccessError)?;
        match Self::in_map(map, key, self.init) {
            Some(v) => Ok(f(v)),
            None => Err(AccessError),
        }
    }

    /// The value in `map`, made on first use; `None` once the map is torn down.
    fn in_map(map: &LocalMap, key: usize, init: fn() -> T) -> Option<&T> {
        if map.is_torn_down() {
            return None;
        }
        Some(map.get_or_init(key, init))
    }
}

/// The error of [`LocalKey::try_with`]: the coroutine's (or thread's) coroutine-local
/// values are being dropped, or are gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessError;

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("coroutine_local value accessed during or after teardown")
    }
}

impl Error for AccessError {}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}
