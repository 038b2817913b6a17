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
use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The per-coroutine (or per-thread) map of local values.
#[derive(Default)]
pub(crate) struct LocalMap {
    slots: UnsafeCell<Vec<Option<NonNull<dyn Any>>>>,
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

    /// Drops every value (in key order).
    pub(crate) fn clear(&self) {
        // SAFETY: called by the owner when no `with` closure is running (the coroutine body
        // has returned, or the thread is exiting).
        let slots = unsafe { &mut *self.slots.get() };
        if slots.is_empty() {
            return; // most coroutines never use a coroutine-local
        }
        let slots = std::mem::take(slots);
        for p in slots.into_iter().flatten() {
            // SAFETY: each pointer came from `Box::leak` and is freed exactly once, here.
            drop(unsafe { Box::from_raw(p.as_ptr()) });
        }
    }
}

impl Drop for LocalMap {
    fn drop(&mut self) {
        self.clear();
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
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let key = self.index();
        let t = crate::context::task();
        if t.is_null() {
            return THREAD_MAP.with(|m| f(m.get_or_init(key, self.init)));
        }
        // SAFETY: the running task outlives its body's calls, and its map is touched only by
        // that body, which is us.
        let map = unsafe { (*t).locals() };
        f(map.get_or_init(key, self.init))
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}
