//! Stack slabs, size classes, the per-thread cache and the global pool.
//!
//! The design (slot states, why slabs, why this trimming) is in the module essay of
//! `stack/mod.rs`; this file is the bookkeeping, `slab.rs` holds the syscalls.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crossbeam_utils::CachePadded;

use super::slab::{self, install_guard, page_size};

/// Target size of one slab mapping.
pub(crate) const SLAB_BYTES: usize = 64 << 20;
/// Per-thread cache bound, per size class.
pub(super) const CACHE_MAX: usize = 64;
/// Slots moved between a thread cache and the global pool at once.
const BATCH: usize = CACHE_MAX / 2;
/// Warm slots the global pool keeps per class before `MADV_DONTNEED`ing the oldest.
const GLOBAL_WARM_MAX: usize = 1024;
/// Warm slots per class that survive a [`trim`].
pub(super) const TRIM_KEEP: usize = BATCH;

/// Aggregate counters, a snapshot (exact when no thread is allocating or freeing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StackStats {
    /// Slab mappings made so far (never unmapped).
    pub slabs: usize,
    /// Stacks currently owned by a `Stack` (coroutines alive or being created).
    pub live: usize,
    /// Free slots ready for reuse: per-thread caches + global warm + global cold.
    pub pooled: usize,
    /// Of `pooled`, slots whose memory was given back (`MADV_DONTNEED`).
    pub cold: usize,
    /// Address space reserved by slabs, in bytes.
    pub reserved_bytes: usize,
}

/// The free lists and bump allocator of one size class. Protected by [`GLOBAL`].
struct Class {
    /// Usable bytes per stack (page multiple).
    size: usize,
    /// `size` + one guard page: the distance between slots.
    slot: usize,
    /// Free slots with memory possibly resident; newest at the back.
    warm: VecDeque<usize>,
    /// Free slots whose usable memory was `MADV_DONTNEED`ed.
    cold: Vec<usize>,
    /// Slots taken off `warm` to be `MADV_DONTNEED`ed outside the lock, not yet on `cold`.
    /// Counted so `stats` does not report them as live meanwhile.
    cooling: usize,
    /// Carved slots whose guard install failed (`ENOMEM`); retried before carving more.
    unguarded: Vec<usize>,
    /// Next uncarved slot in the current slab, and the end of that slab.
    bump: usize,
    bump_end: usize,
    slabs: usize,
    /// Slots that got their guard and entered circulation.
    carved: usize,
}

struct Global {
    classes: Vec<Class>,
}

static GLOBAL: Mutex<Global> = Mutex::new(Global {
    classes: Vec::new(),
});

fn global() -> MutexGuard<'static, Global> {
    // A panic while holding the lock leaves the lists consistent (every mutation is a single
    // push/pop/extend), so a poisoned lock is still usable.
    GLOBAL.lock().unwrap_or_else(|e| e.into_inner())
}

impl Global {
    fn class(&mut self, size: usize) -> &mut Class {
        let i = match self.classes.iter().position(|c| c.size == size) {
            Some(i) => i,
            None => {
                self.classes.push(Class {
                    size,
                    slot: size + page_size(),
                    warm: VecDeque::new(),
                    cold: Vec::new(),
                    cooling: 0,
                    unguarded: Vec::new(),
                    bump: 0,
                    bump_end: 0,
                    slabs: 0,
                    carved: 0,
                });
                self.classes.len() - 1
            }
        };
        &mut self.classes[i]
    }
}

// ---- per-thread cache ----------------------------------------------------------------------

/// A thread's free slots, per size class; newest at the back of each list.
struct Cache {
    classes: Vec<(usize, Vec<usize>)>,
    /// Mirror of the total slot count, read by [`stats`] from other threads.
    count: &'static CachePadded<AtomicUsize>,
}

/// Count mirrors of all thread caches; `free` lists those of exited threads for reuse.
struct Counters {
    all: Vec<&'static CachePadded<AtomicUsize>>,
    free: Vec<&'static CachePadded<AtomicUsize>>,
}
static COUNTERS: Mutex<Counters> = Mutex::new(Counters {
    all: Vec::new(),
    free: Vec::new(),
});

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::new());
}

impl Cache {
    fn new() -> Cache {
        let mut counters = COUNTERS.lock().unwrap_or_else(|e| e.into_inner());
        let count = counters.free.pop().unwrap_or_else(|| {
            let c: &'static _ = Box::leak(Box::new(CachePadded::new(AtomicUsize::new(0))));
            counters.all.push(c);
            c
        });
        Cache {
            classes: Vec::new(),
            count,
        }
    }

    fn list(&mut self, size: usize) -> &mut Vec<usize> {
        // Fast path: nearly every program uses one stack size, the first class.
        if self.classes.first().is_some_and(|(s, _)| *s == size) {
            return &mut self.classes[0].1;
        }
        let i = match self.classes.iter().position(|(s, _)| *s == size) {
            Some(i) => i,
            None => {
                self.classes.push((size, Vec::with_capacity(CACHE_MAX)));
                self.classes.len() - 1
            }
        };
        &mut self.classes[i].1
    }

    /// Adjusts the statistics mirror by the change in one list's length.
    fn publish(&self, before: usize, after: usize) {
        // Relaxed: a statistics mirror; only this thread writes it.
        let n = self.count.load(Ordering::Relaxed) + after - before;
        self.count.store(n, Ordering::Relaxed);
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        for (size, list) in self.classes.drain(..) {
            put(size, list);
        }
        self.count.store(0, Ordering::Relaxed);
        COUNTERS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .free
            .push(self.count);
    }
}

// ---- allocation and free -------------------------------------------------------------------

/// Set when the kernel refused memory or a mapping for a stack; cleared when a stack is freed.
/// Lets `check` answer "a stack can be had" with one load in the common case.
static EXHAUSTED: AtomicBool = AtomicBool::new(false);

/// Fails if a stack of class `size` cannot be had right now (the kernel refused the last
/// attempt and nothing was freed since). Cheap unless the pool is exhausted.
pub(super) fn check(size: usize) -> io::Result<()> {
    if !EXHAUSTED.load(Ordering::Relaxed) {
        return Ok(());
    }
    // Exhausted before: try for real (this maps a slab if the kernel now allows it).
    let slot = alloc(size)?;
    free(size, slot);
    Ok(())
}

/// Hands out one slot of usable size `size` (page-rounded), guard installed. Returns its low
/// address (the start of the guard page).
pub(super) fn alloc(size: usize) -> io::Result<usize> {
    let r = alloc_inner(size);
    if r.is_err() {
        EXHAUSTED.store(true, Ordering::Relaxed);
    }
    r
}

fn alloc_inner(size: usize) -> io::Result<usize> {
    let cached = CACHE.try_with(|cache| {
        let mut cache = cache.borrow_mut();
        let list = cache.list(size);
        let before = list.len();
        let slot = match list.pop() {
            Some(slot) => slot,
            None => {
                take(size, list, BATCH)?;
                list.pop().expect("take returns at least one slot")
            }
        };
        let after = list.len();
        cache.publish(before, after);
        Ok(slot)
    });
    match cached {
        Ok(result) => result,
        // The thread is exiting and its cache is gone: go straight to the global pool.
        Err(_) => {
            let mut one = Vec::with_capacity(1);
            take(size, &mut one, 1)?;
            Ok(one[0])
        }
    }
}

/// Returns a slot that [`alloc`] handed out.
pub(super) fn free(size: usize, slot: usize) {
    if EXHAUSTED.load(Ordering::Relaxed) {
        EXHAUSTED.store(false, Ordering::Relaxed);
    }
    let spilled = CACHE.try_with(|cache| {
        let mut cache = cache.borrow_mut();
        let list = cache.list(size);
        let before = list.len();
        let spill = if list.len() >= CACHE_MAX {
            // The oldest half: the newest slots are the likeliest to be in the CPU cache.
            Some(list.drain(..BATCH).collect::<Vec<_>>())
        } else {
            None
        };
        list.push(slot);
        let after = list.len();
        cache.publish(before, after);
        spill
    });
    match spilled {
        Ok(None) => {}
        Ok(Some(batch)) => put(size, batch),
        Err(_) => put(size, vec![slot]),
    }
}

/// Moves up to `n` (at least one) free slots of class `size` into `out`: warm first, then cold,
/// then freshly carved ones.
fn take(size: usize, out: &mut Vec<usize>, n: usize) -> io::Result<()> {
    let mut g = global();
    let class = g.class(size);
    while out.len() < n {
        match class.warm.pop_back().or_else(|| class.cold.pop()) {
            Some(slot) => out.push(slot),
            None => break,
        }
    }
    if !out.is_empty() {
        return Ok(());
    }
    // Nothing free: carve a batch. Reserve the addresses under the lock, install the guards
    // outside it (one syscall each), then return any that failed to `unguarded`.
    let mut fresh = std::mem::take(&mut class.unguarded);
    while fresh.len() < n {
        if class.bump == class.bump_end {
            if !fresh.is_empty() {
                break;
            }
            new_slab(class)?;
        }
        fresh.push(class.bump);
        class.bump += class.slot;
    }
    drop(g);
    let page = page_size();
    let mut failure = None;
    for (i, &slot) in fresh.iter().enumerate() {
        if let Err(e) = install_guard(slot, page) {
            failure = Some((i, e));
            break;
        }
    }
    let mut g = global();
    let class = g.class(size);
    let ok = failure.as_ref().map_or(fresh.len(), |(i, _)| *i);
    class.unguarded.extend_from_slice(&fresh[ok..]);
    class.carved += ok;
    out.extend_from_slice(&fresh[..ok]);
    match failure {
        Some((_, e)) if out.is_empty() => Err(e),
        _ => Ok(()),
    }
}

/// Set when a warm list grew past [`GLOBAL_WARM_MAX`]: sysmon then trims it back within a
/// tick (10 ms), off the hot path.
static OVER_WARM_MAX: AtomicBool = AtomicBool::new(false);

/// Gives free slots of class `size` to the global pool. No syscall here: a warm list that
/// grows past [`GLOBAL_WARM_MAX`] is trimmed back by sysmon (`trim_excess`), so a burst of
/// coroutines finishing at once does not pay an `madvise` (and a TLB shootdown) each.
fn put(size: usize, slots: Vec<usize>) {
    let mut g = global();
    let class = g.class(size);
    class.warm.extend(slots);
    if class.warm.len() > GLOBAL_WARM_MAX && !OVER_WARM_MAX.load(Ordering::Relaxed) {
        OVER_WARM_MAX.store(true, Ordering::Relaxed);
    }
}

/// Gives back the memory of each slot's usable part (outside the lock) and files them as cold.
/// The caller took them off `warm` and added them to `cooling`. Adjacent slots (the guard
/// pages between them included: guards survive `MADV_DONTNEED`) go in one `madvise`.
fn make_cold(size: usize, mut slots: Vec<usize>) {
    let page = page_size();
    let stride = size + page;
    slots.sort_unstable();
    let mut i = 0;
    while i < slots.len() {
        let mut j = i + 1;
        while j < slots.len() && slots[j] == slots[j - 1] + stride {
            j += 1;
        }
        // From the first slot's usable memory to the end of the last slot of the run.
        let lo = slots[i] + page;
        let hi = slots[j - 1] + stride;
        // SAFETY: the slots were taken off the warm list, so no `Stack` and no list refers to
        // them until they are filed as cold below: nobody uses their memory. The range covers
        // exactly these slots (and the guard pages between them), all inside our slabs.
        unsafe { slab::release(lo, hi - lo) };
        i = j;
    }
    let mut g = global();
    let class = g.class(size);
    class.cooling -= slots.len();
    class.cold.extend(slots);
}

/// Trims warm lists that grew past [`GLOBAL_WARM_MAX`] back to it (sysmon, every tick, when
/// `put` flagged it). Returns true if there was anything to do.
pub(crate) fn trim_excess() -> bool {
    if !OVER_WARM_MAX.swap(false, Ordering::Relaxed) {
        return false;
    }
    trim_to(GLOBAL_WARM_MAX);
    true
}

/// Gives back the memory of all but a few warm stacks per class (sysmon, every few seconds and
/// when the runtime goes idle).
pub(crate) fn trim() {
    trim_to(TRIM_KEEP);
}

fn trim_to(keep: usize) {
    let mut work = Vec::new();
    {
        let mut g = global();
        for class in &mut g.classes {
            let over = class.warm.len().saturating_sub(keep);
            if over > 0 {
                class.cooling += over;
                work.push((class.size, class.warm.drain(..over).collect::<Vec<_>>()));
            }
        }
    }
    for (size, slots) in work {
        tracing::debug!(
            stack_size = size,
            stacks = slots.len(),
            "trimming pooled stacks"
        );
        make_cold(size, slots);
    }
}

/// Aggregate counters over all size classes.
pub(crate) fn stats() -> StackStats {
    let cached: usize = {
        let counters = COUNTERS.lock().unwrap_or_else(|e| e.into_inner());
        counters.all.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    };
    let g = global();
    let mut s = StackStats::default();
    let mut carved = 0;
    for class in &g.classes {
        s.slabs += class.slabs;
        s.reserved_bytes += class.slabs * slab_len(class.slot);
        s.cold += class.cold.len() + class.cooling;
        s.pooled += class.warm.len() + class.cold.len() + class.cooling;
        carved += class.carved;
    }
    s.pooled += cached;
    s.live = carved.saturating_sub(s.pooled);
    s
}

// ---- slabs ---------------------------------------------------------------------------------

fn slab_len(slot: usize) -> usize {
    (SLAB_BYTES / slot).max(1) * slot
}

/// Maps a fresh slab for `class` and points its bump allocator at it. Called with the lock held
/// (rare: once per ~64 MiB of stacks), so two threads never map a slab for the same need.
fn new_slab(class: &mut Class) -> io::Result<()> {
    let len = slab_len(class.slot);
    let base = slab::map(len)?;
    class.bump = base;
    class.bump_end = base + len;
    class.slabs += 1;
    tracing::debug!(
        stack_size = class.size,
        stacks = len / class.slot,
        bytes = len,
        slabs = class.slabs,
        "mapped coroutine stack slab"
    );
    Ok(())
}

/// Per-class counters for tests, which use a size class each to stay independent.
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub(super) struct ClassStats {
    pub slabs: usize,
    pub carved: usize,
    pub warm: usize,
    pub cold: usize,
}

#[cfg(test)]
pub(super) fn class_stats(size: usize) -> Option<ClassStats> {
    let g = global();
    let c = g.classes.iter().find(|c| c.size == size)?;
    Some(ClassStats {
        slabs: c.slabs,
        carved: c.carved,
        warm: c.warm.len(),
        cold: c.cold.len(),
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::stack::Stack;

    /// Held by tests that count a class's warm/cold slots: `trim` (from the trim test) moves
    /// slots of every class and, while it `MADV_DONTNEED`s them, they are on no list.
    pub(crate) static COUNTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    pub(crate) fn counting() -> std::sync::MutexGuard<'static, ()> {
        COUNTING.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resident pages of `[addr, addr+len)` (page-aligned), from mincore(2).
    fn resident_pages(addr: usize, len: usize) -> usize {
        let page = page_size();
        let mut vec = vec![0u8; len.div_ceil(page)];
        // SAFETY: the range is inside a live slab mapping; `vec` has one byte per page.
        let rc = unsafe { libc::mincore(addr as *mut libc::c_void, len, vec.as_mut_ptr().cast()) };
        assert_eq!(rc, 0, "mincore: {}", io::Error::last_os_error());
        vec.iter().filter(|&&b| b & 1 != 0).count()
    }

    fn rss_bytes() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * page_size()
    }

    /// Writes one byte into each of the top `pages` pages of the usable stack.
    fn touch_top(stack: &Stack, pages: usize) {
        let page = page_size();
        let top = stack.guard().1 + stack.size();
        for p in 1..=pages {
            // SAFETY: inside the usable range of a live stack we own (`pages` ≤ size / page).
            unsafe { ((top - p * page) as *mut u8).write_volatile(1) };
        }
    }

    #[test]
    fn stack_pool_thread_cache_spills_half_and_returns_on_exit() {
        let _serial = counting();
        const SIZE: usize = 20 * 1024; // a class of its own
        std::thread::spawn(|| {
            let stacks: Vec<Stack> = (0..100).map(|_| Stack::new(SIZE).unwrap()).collect();
            let c = class_stats(SIZE).unwrap();
            assert_eq!(c.carved, 128, "carved in batches of {BATCH}");
            assert_eq!(
                c.warm + c.cold,
                0,
                "the spare carved slots sit in this thread's cache"
            );
            drop(stacks);
            let c = class_stats(SIZE).unwrap();
            // 28 spare + 100 freed = 128 slots went through a cache of 64: spills of 32.
            assert!(c.warm >= 128 - CACHE_MAX && c.warm <= 128 - BATCH, "{c:?}");
            assert_eq!(c.cold, 0);
        })
        .join()
        .unwrap();
        let c = class_stats(SIZE).unwrap();
        assert_eq!(
            c.warm, 128,
            "thread exit hands its cache to the global pool: {c:?}"
        );
        assert_eq!(c.slabs, 1);
    }

    #[test]
    #[cfg_attr(
        not(any(target_os = "linux", target_os = "android")),
        ignore = "Linux: MADV_DONTNEED frees at once; MADV_FREE may not"
    )]
    fn stack_pool_beyond_warm_max_goes_cold_and_is_reused() {
        let _serial = counting();
        const SIZE: usize = 24 * 1024;
        const N: usize = GLOBAL_WARM_MAX + CACHE_MAX + 200;
        let slots: Vec<usize> = std::thread::spawn(|| {
            let stacks: Vec<Stack> = (0..N).map(|_| Stack::new(SIZE).unwrap()).collect();
            stacks.iter().for_each(|s| touch_top(s, 1));
            stacks.iter().map(|s| s.guard().0).collect()
        })
        .join()
        .unwrap();
        // Freeing makes no syscall; the excess goes cold at sysmon's next tick.
        assert!(class_stats(SIZE).unwrap().warm > GLOBAL_WARM_MAX);
        trim_excess();
        let c = class_stats(SIZE).unwrap();
        assert_eq!(c.warm, GLOBAL_WARM_MAX, "{c:?}");
        assert_eq!(c.warm + c.cold, c.carved, "every slot is back: {c:?}");
        assert!(c.cold >= 200, "{c:?}");
        let page = page_size();
        let resident: usize = slots.iter().map(|&s| resident_pages(s + page, SIZE)).sum();
        assert!(
            resident <= GLOBAL_WARM_MAX,
            "cold slots gave their page back: {resident}"
        );
        // Cold slots are reused before anything new is carved.
        let before = class_stats(SIZE).unwrap();
        let again: Vec<Stack> = (0..N).map(|_| Stack::new(SIZE).unwrap()).collect();
        let after = class_stats(SIZE).unwrap();
        assert!(
            after.carved <= before.carved + BATCH,
            "{before:?} -> {after:?}"
        );
        assert_eq!(after.slabs, before.slabs);
        drop(again);
    }

    #[test]
    #[cfg_attr(
        not(any(target_os = "linux", target_os = "android")),
        ignore = "Linux: MADV_DONTNEED frees at once; MADV_FREE may not"
    )]
    fn stack_trim_returns_memory_of_pooled_stacks() {
        let _serial = counting();
        const SIZE: usize = 28 * 1024;
        const N: usize = 200;
        const TOUCH: usize = 4; // pages per stack, 16 KiB
        let page = page_size();
        let rss_start = rss_bytes();
        let slots: Vec<usize> = std::thread::spawn(|| {
            let stacks: Vec<Stack> = (0..N).map(|_| Stack::new(SIZE).unwrap()).collect();
            stacks.iter().for_each(|s| touch_top(s, TOUCH));
            stacks.iter().map(|s| s.guard().0).collect()
        })
        .join()
        .unwrap();
        let resident = |slots: &[usize]| -> usize {
            slots.iter().map(|&s| resident_pages(s + page, SIZE)).sum()
        };
        assert_eq!(
            resident(&slots),
            N * TOUCH,
            "touched pages are resident while pooled"
        );
        let c = class_stats(SIZE).unwrap();
        assert!(
            c.warm >= N && c.cold == 0,
            "all pooled warm before trim: {c:?}"
        );
        let rss_pooled = rss_bytes();
        trim();
        let rss_trimmed = rss_bytes();
        let left = resident(&slots);
        assert!(
            left <= TRIM_KEEP * TOUCH,
            "trim kept only {TRIM_KEEP} warm: {left} pages"
        );
        let c = class_stats(SIZE).unwrap();
        assert_eq!(c.warm, TRIM_KEEP, "{c:?}");
        // Process RSS is shared with concurrently running tests, so it is reported, not asserted;
        // the mincore check above is exact for these stacks.
        eprintln!(
            "trim: RSS start {} KiB, pooled {} KiB, trimmed {} KiB; stack pages resident {} -> {left}",
            rss_start >> 10,
            rss_pooled >> 10,
            rss_trimmed >> 10,
            N * TOUCH
        );
    }
}
