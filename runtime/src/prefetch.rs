//! Software prefetch: start loading memory the scheduler is about to touch.
//!
//! With many connections per worker, what a coroutine touches when it resumes (its `Task`,
//! its poll descriptor, the top frames of its stack) was last used a whole round of the run
//! queue ago, and has left the caches and the TLB by then. Measured with 1,000 keep-alive
//! HTTP connections on two workers, the first instruction after a coroutine's resume, which
//! waits on the return address stored on its stack, cost about 0.5 µs per request, against
//! 0.05 µs with 100 connections.
//!
//! The scheduler knows what runs next before it runs it, so it asks the CPU to start those
//! loads one step ahead ([`worker.rs`](crate::sched) prefetches the next queued coroutine's
//! task and stack while the current one runs, when 8 or more are queued; the event dispatch
//! prefetches every poll descriptor of a batch before it walks them). That takes about 0.3 µs
//! of user time off each request at 1,000 connections. It hides the cache misses, not the
//! address translation: the prefetch of a parked stack still waits for its page walk, as
//! stacks are 256 KiB apart (docs/benchmarks-history.md, session 5).
//!
//! A prefetch is only a hint: it never faults, whatever the address, and it changes no
//! program state; on targets without one it is a no-op.

/// Asks the CPU to bring the cache line holding `p` into the caches (all levels), for a
/// read soon. `p` need not point to valid memory.
#[inline(always)]
pub(crate) fn read<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is a hint with no architectural effect: it never faults, not even
    // on an unmapped address, and reads or writes nothing the program can observe. SSE is part
    // of the x86_64 baseline.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// [`read`] for the `lines` consecutive 64-byte lines from `p` upwards.
#[inline(always)]
pub(crate) fn read_lines(p: *const u8, lines: usize) {
    for i in 0..lines {
        read(p.wrapping_add(i * 64));
    }
}
