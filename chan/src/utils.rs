//! Small shared pieces: a spin lock for short critical sections, a per-thread random
//! source for fair `select`, and the bounded spin used before parking.

use std::cell::{Cell, UnsafeCell};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_utils::Backoff;

/// A test-and-test-and-set lock for the channel's wait queues and the list buffer.
///
/// Critical sections under it are a handful of instructions and never park, so a
/// spinning waiter is the cheapest option for both coroutines and threads: parking a
/// coroutine to wait for a lock held for nanoseconds would cost a context switch, and a
/// futex would cost a syscall. If the holder's OS thread is descheduled, `Backoff::snooze`
/// yields the waiting OS thread after a short spin.
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one holder at a time (the `locked` flag is taken
// with an Acquire CAS and released with a Release store), exactly like `std::sync::Mutex`,
// so sharing it between threads only requires `T: Send`.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: moving the lock moves the `T` it owns.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub(crate) fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock, spinning (then yielding the OS thread) while it is held elsewhere.
    pub(crate) fn lock(&self) -> SpinLockGuard<'_, T> {
        let backoff = Backoff::new();
        loop {
            // Acquire pairs with the Release store in `SpinLockGuard::drop`: everything the
            // previous holder wrote is visible to us.
            if !self.locked.load(Ordering::Relaxed)
                && self
                    .locked
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return SpinLockGuard { lock: self };
            }
            backoff.snooze();
        }
    }
}

/// Proof of holding a [`SpinLock`]; unlocks on drop.
pub(crate) struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        // Release pairs with the Acquire CAS in `SpinLock::lock` of the next holder.
        self.lock.locked.store(false, Ordering::Release);
    }
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while `locked` is held by us, so no other
        // reference to the value exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

thread_local! {
    /// xorshift32 state. A `Cell` in a thread-local is coroutine-safe here: started
    /// coroutines never leave their home thread, and no borrow is held across a park.
    static RNG: Cell<u32> = const { Cell::new(0) };
}

/// A uniformly distributed number in `0..n` (`n > 0`), from a per-thread xorshift32.
///
/// Lemire's multiply-shift maps the 32-bit draw onto `0..n`; its bias is below `n / 2^32`,
/// far below what a fairness test can see.
pub(crate) fn random_below(n: usize) -> usize {
    RNG.with(|rng| {
        let mut x = rng.get();
        if x == 0 {
            // Seed from the address of a stack local and the thread's identity hash, so
            // threads (and runs) do not share one sequence.
            let local = 0u8;
            let addr = &local as *const u8 as usize as u64;
            let tid = {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                std::thread::current().id().hash(&mut h);
                h.finish()
            };
            let seed = (addr ^ tid ^ (tid >> 32)) as u32;
            x = if seed == 0 { 0x9e37_79b9 } else { seed };
        }
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        rng.set(x);
        ((x as u64 * n as u64) >> 32) as usize
    })
}

/// Fisher–Yates shuffle with [`random_below`]: every order equally likely.
pub(crate) fn shuffle<T>(v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = random_below(i + 1);
        v.swap(i, j);
    }
}

/// One step of a bounded exponential spin, for waiting on another party that is in the
/// middle of a few-instruction transition (between claiming a slot and stamping it).
/// After a few doublings it yields the OS thread, in case that party was descheduled.
#[inline]
pub(crate) fn spin(step: &mut u32) {
    if *step < 6 {
        for _ in 0..(1u32 << *step) {
            std::hint::spin_loop();
        }
        *step += 1;
    } else {
        std::thread::yield_now();
    }
}

/// One step of a bounded exponential spin after losing a CAS race: unlike [`spin`] it
/// never yields the thread, because the winner is not stalled, only faster (crossbeam's
/// `Backoff::spin` makes the same distinction).
#[inline]
pub(crate) fn contention_spin(step: &mut u32) {
    for _ in 0..(1u32 << (*step).min(6)) {
        std::hint::spin_loop();
    }
    *step += 1;
}
