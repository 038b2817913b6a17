//! Coroutine stacks: slab allocation, recycling, guard pages and overflow reports.
//!
//! # What a stack is
//!
//! Every coroutine owns one *stack slot*: a guard page followed by `size` usable bytes,
//! carved from a large anonymous mapping (a *slab*). Stacks grow down, so the layout of a
//! slot, low address first, is
//!
//! ```text
//!   lo                lo + page                         lo + page + size = base (top)
//!   | guard (1 page)  | usable stack ...................| <- next slot's guard starts here
//! ```
//!
//! The top (`base`) is page-aligned, so a shallow coroutine (corosensei's initial frame plus
//! a few hundred bytes of its own) touches exactly one 4 KiB page. With `MAP_NORESERVE` only
//! touched pages cost memory: a parked coroutine's stack costs one page of RSS, which is what
//! lets a million parked coroutines fit in ~4 GiB. (The page-table page that maps a 2 MiB
//! region costs another ~512 bytes per 256 KiB stack; it is accounted in `VmPTE`, not RSS, and
//! it is the same page table the first touch of the stack top needs anyway.)
//!
//! # Slabs
//!
//! Slots of one size are carved, in order, from slabs of about [`pool::SLAB_BYTES`] (64 MiB):
//! 252 default stacks per slab. One `mmap` per 252 first-time spawns amortises the syscall,
//! the address-space reservation is free (`MAP_NORESERVE`, never touched), and a million
//! stacks need ~4,000 slabs, i.e. a few thousand VMAs at most (adjacent slabs with equal
//! flags merge into one VMA). Slabs get `MADV_NOHUGEPAGE` (and `MAP_STACK`, which implies it
//! on Linux ≥ 6.7): with transparent huge pages set to `always`, touching the top byte of a
//! stack could otherwise fault in a whole 2 MiB page and cost 512 times what it should.
//! Slabs are never unmapped: the address-space high-water mark is kept and reused, and memory
//! goes back to the kernel with `MADV_DONTNEED` instead (see *Recycling*).
//!
//! That is Linux. On macOS and the BSDs (`slab.rs` picks per OS) untouched anonymous pages
//! cost nothing without a flag, their superpages need fully populated runs, guards are always
//! `mprotect`ed, and memory goes back with `MADV_FREE` (their `MADV_DONTNEED` may keep it).
//!
//! Each page-rounded usable size is its own *size class* with its own slabs and free lists
//! (a slot cannot be reused for a different size without moving its guard). A class's slab
//! holds `max(1, 64 MiB / slot)` slots, so a 16 KiB class packs 3,276 per slab and an 8 MiB
//! class packs 7. Classes are found by a linear search: programs use one or a few sizes
//! (`DEFAULT_STACK_SIZE`, `GORO_STACK_SIZE`, a handful of `Builder::stack_size` values).
//!
//! # Guard pages
//!
//! The guard is installed once, when a slot is first carved, and stays for the life of the
//! process. On Linux ≥ 6.13 `madvise(MADV_GUARD_INSTALL)` writes guard markers into the page
//! tables without splitting the VMA, so guards are free in `vm.max_map_count` terms. On older
//! kernels the call fails with `EINVAL`; we then fall back to `mprotect(PROT_NONE)` (decided
//! once per process), which splits the slab into two VMAs per stack, so the default
//! `vm.max_map_count` of 65530 caps the process at ~32k stacks. When the kernel refuses (map
//! count or memory, `ENOMEM`), [`Stack::new`] returns an `io::Error` that names
//! `vm.max_map_count` and the memory/overcommit settings to raise. It never crashes or waits.
//!
//! # Recycling
//!
//! A freed slot goes to a per-thread cache (bounded at 64 per class; when full, the oldest
//! half moves to the global pool in one lock acquisition; when empty, it refills half from the
//! global pool). The global pool keeps up to 1,024 *warm* slots per class (their pages still
//! resident, ready to reuse with no page faults); beyond that, slots are `MADV_DONTNEED`ed and
//! put on the *cold* list: address space reused, memory returned. The sysmon thread calls
//! [`trim`] every few seconds, which moves all but 32 warm slots per class to cold. Per-thread
//! caches are not trimmed (sysmon cannot reach another thread's `thread_local`): they are a
//! worker's working set, bounded at 64 slots, and are handed back when the thread exits.
//!
//! Slot states (a slot is in exactly one, and exactly one owner may touch it):
//!
//! | state      | where                         | owner / who may touch the memory | pages         |
//! |------------|-------------------------------|----------------------------------|---------------|
//! | uncarved   | above a class's bump pointer  | nobody                           | none          |
//! | unguarded  | `Class::unguarded`            | global lock (guard install failed, retried first) | none |
//! | live       | inside a [`Stack`]            | the `Stack` (the coroutine running on it) | as touched |
//! | cached     | a thread's cache              | that thread                      | as last touched |
//! | warm       | `Class::warm`                 | global lock                      | as last touched |
//! | cooling    | a local list in `trim`/`put`  | that call (counted in `Class::cooling`) | being dropped |
//! | cold       | `Class::cold`                 | global lock                      | none (DONTNEED) |
//!
//! # Rejected designs
//!
//! - *One `mmap` + `mprotect` per stack, `munmap` on free* (what `may` and corosensei's
//!   `DefaultStack` do): two syscalls per spawn and two VMAs per stack, so ~32k coroutines
//!   before `vm.max_map_count` stops the process.
//! - *Guard pages only every N stacks, or none*: an overflow would silently corrupt the
//!   neighbouring coroutine's stack; corosensei's `Stack` contract requires a guard.
//! - *Segmented or copied (growable) stacks, as Go does*: needs compiler support for stack
//!   checks and moving pointers; Rust code holds raw pointers into its stack.
//! - *Trimming per-thread caches from sysmon*: would need a lock on every spawn and exit to
//!   make the caches reachable; the caches are small and bounded instead.
//!
//! # Overflow
//!
//! A coroutine that runs into its guard page gets `SIGSEGV`. [`overflow`] installs a handler on
//! the signal alternate stack; it finds the running coroutine's task (guard page, name, id)
//! through the thread-local task pointer the worker sets around each resume, and it
//! reports `coroutine '<name>' has overflowed its stack` and aborts, as Rust does for
//! threads. Any other fault is passed on to the handler that was installed before ours (Rust's
//! own, which reports thread stack overflows), so other faults keep their behaviour.
//!
//! # Files
//!
//! - `mod.rs`: this essay and [`Stack`], the type the scheduler holds.
//! - `pool.rs`: size classes, the per-thread cache, the global warm/cold pool, [`trim`], [`stats`].
//! - `slab.rs`: the syscalls: slab `mmap`, guard install (and its fallback), `MADV_DONTNEED`.
//! - `overflow.rs`: the `SIGSEGV`/`SIGBUS` handler.
//!
//! # Invariants
//!
//! 1. A slot is in exactly one state of the table above; only a [`Stack`] hands it out to a
//!    coroutine, and only `Stack::drop` puts it back.
//! 2. Every slot that ever left the global lock as a usable stack has its guard installed.
//! 3. Slabs are never unmapped, so a slot address stays a valid mapping for the life of the
//!    process (the overflow handler and `trim` rely on this).

// The scheduler in `main` is this module's caller; until the branches meet nothing in the
// crate calls in. Remove at merge.

pub(crate) mod overflow;
mod pool;
mod slab;

use std::io;

use corosensei::stack::StackPointer;

pub(crate) use pool::{stats, trim, trim_excess};

/// Gives the memory of the running coroutine's stack below the caller's frame back to the OS
/// (Go shrinks idle goroutines' stacks at GC time; a goro coroutine about to wait a long
/// time can do it itself).
///
/// Handling a request may touch a few stack pages below the frame a coroutine waits in;
/// once those calls return the pages hold nothing live but stay resident. This drops every
/// whole page more than a small margin below the caller's frame with one
/// `madvise(MADV_DONTNEED)`; they read as zeros (a page fault each) when the stack grows into
/// them again. goro-net's HTTP server calls it once a keep-alive connection has been idle for
/// a while, so an idle connection keeps one stack page. A no-op outside a coroutine.
///
/// It costs a syscall (a microsecond or two): call it before a long wait, not per
/// operation.
///
/// ```
/// goro::spawn(|| {
///     goro::shrink_stack(); // before parking for a long time
/// })
/// .join()
/// .unwrap();
/// ```
#[inline(never)]
pub fn shrink_stack() {
    let t = crate::running::task();
    if t.is_null() {
        return;
    }
    // SAFETY: `t` is the running task, alive while its body (our caller) runs.
    let task = unsafe { &*t };
    let guard_lo = task.guard_lo.get();
    if guard_lo == 0 {
        return;
    }
    let page = slab::page_size();
    let (_, lo) = guard_range(guard_lo);
    let top = lo + task.stack_size as usize;
    let marker = 0u8;
    let sp = std::hint::black_box(&marker as *const u8) as usize;
    if !(lo..top).contains(&sp) {
        // We run on some other stack nested inside the coroutine (a user's own corosensei
        // coroutine, `stacker::grow`): the coroutine's stack pointer is not ours to read,
        // and the pages below it may hold the frames that switched to this stack.
        tracing::trace!("goro: shrink_stack on a nested stack: nothing to do");
        return;
    }
    let hi = sp.saturating_sub(SHRINK_MARGIN) & !(page - 1);
    if hi > lo {
        tracing::trace!(bytes = hi - lo, "goro: shrink stack");
        // SAFETY: `[lo, hi)` is page-aligned and inside this coroutine's usable stack (above
        // its guard page, below this frame, which the check above puts on that stack), so
        // inside a slab. It is below every live frame of the coroutine: the stack grows down,
        // the frames that were below ours have returned, and the margin covers the red zone
        // and the frames of the madvise call itself. (A stack nested *inside* this range
        // would need an unsafe `corosensei::stack::Stack` impl over a stack buffer: outside
        // what safe code can do.) Only this thread runs on this stack and no safe code keeps
        // a reference into a returned frame, so nothing uses the range's contents.
        unsafe { slab::release(lo, hi - lo) };
    }
}

/// Bytes below the caller's frame that [`shrink_stack`] leaves alone: the x86-64 red zone
/// (128) and the frames of the `madvise` call, with room to spare.
const SHRINK_MARGIN: usize = 1024;

/// `[lo, hi)` of the guard page that starts at `lo` (a stack's `guard().0`).
pub(crate) fn guard_range(lo: usize) -> (usize, usize) {
    (lo, lo + slab::page_size())
}

/// Usable bytes of a coroutine stack unless the builder or `GORO_STACK_SIZE` says otherwise.
pub(crate) const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Smallest usable size handed out; smaller requests are rounded up to it.
pub(crate) const MIN_STACK_SIZE: usize = 16 * 1024;

/// One coroutine stack: a slot of a slab, owned until dropped.
///
/// `Send` (it is two integers): a not-yet-started coroutine, stack included, may be stolen by
/// another worker.
#[derive(Debug)]
pub(crate) struct Stack {
    /// Lowest address of the slot: the start of its guard page.
    lo: usize,
    /// Usable bytes above the guard (a page multiple, at least [`MIN_STACK_SIZE`]).
    size: usize,
}

impl Stack {
    /// At least `size` usable bytes (rounded up to whole pages; minimum 16 KiB), one guard
    /// page below.
    ///
    /// Fails only when the kernel refuses address space or a mapping (the error names
    /// `vm.max_map_count` and the memory settings to raise), or when `size` is absurd.
    pub(crate) fn new(size: usize) -> io::Result<Stack> {
        let size = round_size(size)?;
        let lo = pool::alloc(size)?;
        Ok(Stack { lo, size })
    }

    /// Checks, before a coroutine is queued, that a stack of `size` can be had; returns the
    /// rounded size. Stacks are taken lazily, when the coroutine first runs (so queued
    /// coroutines hold none); this reports the kernel's refusal at spawn time instead.
    /// After the kernel refused a stack it re-tries for real, otherwise it is one load.
    pub(crate) fn check(size: usize) -> io::Result<usize> {
        let size = round_size(size)?;
        pool::check(size)?;
        Ok(size)
    }

    /// Usable bytes (excluding the guard page).
    #[allow(dead_code)] // used by tests and kept as the natural accessor
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// `[lo, hi)` of the guard page below the usable stack.
    pub(crate) fn guard(&self) -> (usize, usize) {
        (self.lo, self.lo + slab::page_size())
    }
}

// SAFETY: corosensei requires a guard page below the stack, at least
// `corosensei::stack::MIN_STACK_SIZE` usable bytes, `STACK_ALIGNMENT`-aligned bounds, and
// exclusive use of the memory while the `Stack` lives. The guard page is installed before a
// slot is ever handed out and never removed (module invariant 2); the usable size is at least
// `MIN_STACK_SIZE` (16 KiB > 4 KiB); both bounds are page-aligned (hence 16-aligned); a slot is
// handed to exactly one `Stack` until its `drop` (invariant 1); slabs are never unmapped
// (invariant 3).
unsafe impl corosensei::stack::Stack for Stack {
    #[inline]
    fn base(&self) -> StackPointer {
        StackPointer::new(self.lo + slab::page_size() + self.size).expect("stack top is non-null")
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        StackPointer::new(self.lo).expect("stack limit is non-null")
    }
}

// `Stack` must be `Send`: an unstarted coroutine, stack included, may be stolen.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<Stack>();
};

impl Drop for Stack {
    fn drop(&mut self) {
        pool::free(self.size, self.lo);
    }
}

/// Rounds a requested usable size up to whole pages, at least [`MIN_STACK_SIZE`].
fn round_size(size: usize) -> io::Result<usize> {
    let page = slab::page_size();
    size.max(MIN_STACK_SIZE)
        .checked_next_multiple_of(page)
        // The slot adds a guard page and must stay addressable: refuse sizes near usize::MAX.
        .filter(|&s| s <= isize::MAX as usize / 2)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("goro: coroutine stack size {size} bytes is too large"),
            )
        })
}

/// Re-runs one test of this binary in a child process, for behaviour that ends a process
/// (overflow aborts, faults) or changes process-wide state.
#[cfg(test)]
pub(super) mod child {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Output};

    /// Set in the child's environment.
    pub(crate) const ENV: &str = "GORO_STACK_CHILD";

    /// True inside the child process.
    pub(crate) fn is_child() -> bool {
        std::env::var_os(ENV).is_some()
    }

    /// Runs the test `module::name` (`module` as given by `module_path!()`) alone in a child
    /// process with [`ENV`] set; returns its exit status and output.
    pub(crate) fn run(module: &str, name: &str) -> Output {
        let module = module.split_once("::").map_or(module, |(_, rest)| rest);
        let test = format!("{module}::{name}");
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", &test, "--nocapture", "--test-threads=1"])
            .env(ENV, "1");
        // SAFETY: runs in the forked child before exec; setrlimit is async-signal-safe and
        // touches no memory of the parent's other threads. No core files from expected aborts.
        unsafe {
            cmd.pre_exec(|| {
                let zero = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::setrlimit(libc::RLIMIT_CORE, &zero);
                Ok(())
            });
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("running 1 test"),
            "child did not run {test}: {stdout}"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corosensei::stack::Stack as _;

    #[test]
    fn stack_sizes_are_rounded_to_pages_with_a_minimum() {
        let page = slab::page_size();
        assert_eq!(round_size(0).unwrap(), MIN_STACK_SIZE);
        assert_eq!(round_size(1).unwrap(), MIN_STACK_SIZE);
        assert_eq!(
            round_size(MIN_STACK_SIZE + 1).unwrap(),
            MIN_STACK_SIZE + page
        );
        assert_eq!(round_size(DEFAULT_STACK_SIZE).unwrap(), DEFAULT_STACK_SIZE);
        let err = round_size(usize::MAX).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("too large"), "{err}");
    }

    #[test]
    fn stack_bounds_guard_and_usable_bytes() {
        let page = slab::page_size();
        // A size class of its own (see pool tests), not a multiple of the page size.
        let stack = Stack::new(40 * 1024 + 100).unwrap();
        assert_eq!(stack.size(), 44 * 1024);
        let (lo, hi) = stack.guard();
        assert_eq!(hi - lo, page);
        assert_eq!(stack.limit().get(), lo, "limit includes the guard page");
        assert_eq!(stack.base().get() - hi, stack.size());
        assert_eq!(stack.base().get() % page, 0, "top is page-aligned");
        // The lowest and highest usable bytes are writable and hold what was written.
        let bottom = hi as *mut u8;
        let top = (stack.base().get() - 1) as *mut u8;
        // SAFETY: both addresses are inside the usable range of a live `Stack` we own, which is
        // mapped read/write (the guard is the page below `hi`).
        unsafe {
            bottom.write_volatile(0xA5);
            top.write_volatile(0x5A);
            assert_eq!(bottom.read_volatile(), 0xA5);
            assert_eq!(top.read_volatile(), 0x5A);
        }
    }

    #[test]
    fn stack_freed_slot_is_reused_without_a_new_slab() {
        const SIZE: usize = 48 * 1024; // a class no other test uses
        let first = Stack::new(SIZE).unwrap();
        let first_lo = first.guard().0;
        let before = pool::class_stats(SIZE).unwrap();
        assert_eq!(before.slabs, 1);
        drop(first);
        let second = Stack::new(SIZE).unwrap();
        assert_eq!(
            second.guard().0,
            first_lo,
            "LIFO thread cache hands the slot back"
        );
        let after = pool::class_stats(SIZE).unwrap();
        assert_eq!(after.slabs, 1, "no new slab for a reused slot");
        assert_eq!(after.carved, before.carved, "no new slot carved");
        let all = stats();
        assert!(all.live >= 1 && all.slabs >= 1, "{all:?}");
    }

    #[test]
    #[cfg_attr(
        not(any(target_os = "linux", target_os = "android")),
        ignore = "Linux: counts resident pages after MADV_DONTNEED"
    )]
    fn stack_parked_coroutine_costs_one_resident_page() {
        use corosensei::{Coroutine, CoroutineResult};
        // The default size plus one page: default behaviour, a class of its own.
        let size = DEFAULT_STACK_SIZE + slab::page_size();
        const N: usize = 2_000;
        let mut parked = Vec::with_capacity(N);
        for i in 0..N {
            let stack = Stack::new(size).unwrap();
            let (guard_hi, top) = (stack.guard().1, stack.base().get());
            let mut co = Coroutine::with_stack(stack, move |y, ()| {
                y.suspend(i);
            });
            assert!(matches!(co.resume(()), CoroutineResult::Yield(j) if j == i));
            parked.push((co, guard_hi, top));
        }
        let page = slab::page_size();
        let mut worst = 0;
        for (_, lo, hi) in &parked {
            let mut vec = vec![0u8; (hi - lo) / page];
            // SAFETY: the usable range of a live stack; `vec` has one byte per page.
            let rc = unsafe {
                libc::mincore(*lo as *mut libc::c_void, hi - lo, vec.as_mut_ptr().cast())
            };
            assert_eq!(rc, 0);
            let resident = vec.iter().filter(|&&b| b & 1 != 0).count();
            assert_eq!(
                vec.last().map(|b| b & 1),
                Some(1),
                "the top page holds the frames"
            );
            worst = worst.max(resident);
        }
        assert_eq!(worst, 1, "a parked coroutine's stack costs one 4 KiB page");
        drop(parked); // unwinds each suspended coroutine, then frees its stack
    }

    #[test]
    fn stack_runs_a_coroutine_and_recycles() {
        use corosensei::{Coroutine, CoroutineResult};
        const SIZE: usize = 52 * 1024;
        let mut co = Coroutine::with_stack(Stack::new(SIZE).unwrap(), |y, x: u32| {
            let mut local = [0u8; 8 * 1024];
            local[x as usize] = 1;
            y.suspend(
                std::hint::black_box(&local)
                    .iter()
                    .map(|&b| b as u32)
                    .sum::<u32>(),
            );
            x * 2
        });
        assert!(matches!(co.resume(3), CoroutineResult::Yield(1)));
        assert!(matches!(co.resume(0), CoroutineResult::Return(6)));
        let stack = co.into_stack();
        assert_eq!(stack.size(), SIZE);
    }
}
