//! Slab mappings and guard pages: the syscalls under the stack pool.
//!
//! Calls the kernel may refuse (`mmap`, guard install) return an `io::Error` that names what to
//! raise; calls that must succeed have their errno asserted.

use std::io;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// `madvise` advice that installs guard markers in the page tables without splitting the VMA
/// (`include/uapi/asm-generic/mman-common.h`, Linux ≥ 6.13). The libc crate does not define it
/// yet. Faults on a guard marker raise `SIGSEGV`, as a `PROT_NONE` page does. Passed only on
/// Linux (see [`GUARD_FIRST`]).
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// `MAP_STACK` where the OS has it (all but Apple's): on Linux it keeps transparent huge
/// pages out; OpenBSD requires it of any memory a thread or a signal handler runs on.
#[cfg(not(any(target_os = "macos", target_os = "ios")))]
pub(super) const MAP_STACK: libc::c_int = libc::MAP_STACK;
#[cfg(any(target_os = "macos", target_os = "ios"))]
pub(super) const MAP_STACK: libc::c_int = 0;

/// `MAP_NORESERVE` on Linux (no commit charge for untouched pages); the BSDs and macOS never
/// charge for them.
#[cfg(any(target_os = "linux", target_os = "android"))]
const MAP_NORESERVE: libc::c_int = libc::MAP_NORESERVE;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const MAP_NORESERVE: libc::c_int = 0;

/// The advice that gives a stack's pages back. Linux's `MADV_DONTNEED` drops them at once;
/// elsewhere `MADV_DONTNEED` may keep them, and `MADV_FREE` lets the kernel take them.
#[cfg(any(target_os = "linux", target_os = "android"))]
const MADV_RELEASE: libc::c_int = libc::MADV_DONTNEED;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const MADV_RELEASE: libc::c_int = libc::MADV_FREE;

/// How guard pages are installed; decided by the first install and remembered.
static GUARD_MODE: AtomicU8 = AtomicU8::new(GUARD_FIRST);
/// Linux tries guard markers first; other systems always `mprotect`.
#[cfg(any(target_os = "linux", target_os = "android"))]
const GUARD_FIRST: u8 = GUARD_UNKNOWN;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const GUARD_FIRST: u8 = GUARD_MPROTECT;
const GUARD_UNKNOWN: u8 = 0;
/// `madvise(MADV_GUARD_INSTALL)` works: guards cost no VMA.
pub(super) const GUARD_MADVISE: u8 = 1;
/// The kernel predates it (`EINVAL`): `mprotect(PROT_NONE)`, two VMAs per stack.
pub(super) const GUARD_MPROTECT: u8 = 2;

/// The system page size, read once.
pub(super) fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    match PAGE.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: sysconf has no memory-safety preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            assert!(page > 0, "goro: sysconf(_SC_PAGESIZE) failed");
            PAGE.store(page as usize, Ordering::Relaxed);
            page as usize
        }
        page => page,
    }
}

pub(super) fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Wraps a refusal by the kernel in an error that says what to raise.
fn refused(what: &str, err: io::Error) -> io::Error {
    let max = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    io::Error::new(
        err.kind(),
        format!(
            "goro: cannot {what}: {err}; the kernel refused a memory mapping: raise \
             `vm.max_map_count` (now {max}; e.g. `sysctl -w vm.max_map_count=1048576`) or make \
             memory available (`vm.overcommit_memory`, `ulimit -v`, cgroup memory limit)"
        ),
    )
}

/// Maps `len` bytes of address space for stacks: private, anonymous, [`MAP_NORESERVE`] (only
/// touched pages cost memory or commit charge), no transparent huge pages. Returns its base.
pub(super) fn map(len: usize) -> io::Result<usize> {
    // SAFETY: a fresh anonymous mapping at an address the kernel picks; it aliases nothing.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        let err = io::Error::last_os_error();
        let what = format!("map a {} MiB coroutine stack slab", len >> 20);
        return Err(refused(&what, err));
    }
    no_huge_pages(base, len);
    Ok(base as usize)
}

/// Keeps transparent huge pages out of a slab: a stack touches a few pages of its slot, and a
/// huge page would make the whole 2 MiB around them resident.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn no_huge_pages(base: *mut libc::c_void, len: usize) {
    // SAFETY: `base..base+len` is the mapping just made; the advice only changes THP policy.
    let rc = unsafe { libc::madvise(base, len, libc::MADV_NOHUGEPAGE) };
    // EINVAL: a kernel built without transparent huge pages, where there is nothing to avoid.
    assert!(
        rc == 0 || errno() == libc::EINVAL,
        "goro: madvise(MADV_NOHUGEPAGE): {}",
        errno()
    );
}

/// The BSDs and macOS promote to superpages only fully populated, aligned runs, which a slab
/// of sparsely touched stacks never has.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn no_huge_pages(_base: *mut libc::c_void, _len: usize) {}

/// Gives the memory of `[addr, addr+len)` back to the kernel; its contents are undefined after
/// (zeros on Linux).
///
/// # Safety
///
/// The range must lie inside a slab, page-aligned, and nothing may be using its contents (no
/// live coroutine runs on it).
pub(super) unsafe fn release(addr: usize, len: usize) {
    // SAFETY: the caller promises the range is an unused part of a slab (never unmapped);
    // the advice on private anonymous memory only drops (or lets the kernel drop) its pages.
    let rc = unsafe { libc::madvise(addr as *mut libc::c_void, len, MADV_RELEASE) };
    assert_eq!(
        rc,
        0,
        "goro: madvise({MADV_RELEASE}) on a stack: errno {}",
        errno()
    );
}

/// Makes `[lo, lo+len)` a guard region: any access faults with `SIGSEGV`.
pub(super) fn install_guard(lo: usize, len: usize) -> io::Result<()> {
    let addr = lo as *mut libc::c_void;
    if GUARD_MODE.load(Ordering::Relaxed) != GUARD_MPROTECT {
        loop {
            // SAFETY: `lo` is a page-aligned, never-used slot start inside one of our slabs; guard
            // markers only make those pages inaccessible, which nothing relies on yet.
            let rc = unsafe { libc::madvise(addr, len, MADV_GUARD_INSTALL) };
            if rc == 0 {
                GUARD_MODE.store(GUARD_MADVISE, Ordering::Relaxed);
                return Ok(());
            }
            match errno() {
                libc::EINTR | libc::EAGAIN => continue,
                libc::EINVAL if GUARD_MODE.load(Ordering::Relaxed) == GUARD_UNKNOWN => {
                    tracing::debug!("MADV_GUARD_INSTALL unsupported; guard pages use mprotect");
                    GUARD_MODE.store(GUARD_MPROTECT, Ordering::Relaxed);
                    break;
                }
                libc::ENOMEM => {
                    return Err(refused(
                        "install a stack guard page",
                        io::Error::last_os_error(),
                    ))
                }
                e => panic!("goro: madvise(MADV_GUARD_INSTALL) failed unexpectedly: errno {e}"),
            }
        }
    }
    // SAFETY: as above; PROT_NONE on a slot's guard page, which no live stack uses.
    let rc = unsafe { libc::mprotect(addr, len, libc::PROT_NONE) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    assert_eq!(
        errno(),
        libc::ENOMEM,
        "goro: mprotect(PROT_NONE) on a guard page: {err}"
    );
    Err(refused(
        "install a stack guard page (2 mappings per stack on this kernel)",
        err,
    ))
}

#[cfg(test)]
pub(super) fn guard_mode() -> u8 {
    GUARD_MODE.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::pool::{class_stats, CACHE_MAX, SLAB_BYTES};
    use crate::stack::{child, stats, Stack, DEFAULT_STACK_SIZE};

    fn count_vmas() -> usize {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .count()
    }

    #[test]
    fn stack_slab_refusal_is_an_error_naming_the_limits() {
        // 1 EiB of address space cannot be mapped: mmap fails with ENOMEM, as it would at the
        // map-count or overcommit limit.
        let err = Stack::new(1 << 60).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory, "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("vm.max_map_count") && msg.contains("overcommit"),
            "{msg}"
        );
        assert!(msg.contains("stack slab"), "{msg}");
        // And nothing is wedged: the class still works for ordinary sizes.
        Stack::new(32 * 1024).unwrap();
    }

    #[test]
    #[cfg_attr(
        not(any(target_os = "linux", target_os = "android")),
        ignore = "Linux: reads and fills vm.max_map_count"
    )]
    fn stack_mprotect_fallback_hits_map_count_with_clear_error() {
        if child::is_child() {
            // Pretend the kernel lacks MADV_GUARD_INSTALL.
            GUARD_MODE.store(GUARD_MPROTECT, Ordering::Relaxed);
            let max: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            let mut stacks = Vec::new();
            let err = loop {
                match Stack::new(16 * 1024) {
                    Ok(s) => stacks.push(s),
                    Err(e) => break e,
                }
                assert!(
                    stacks.len() <= max,
                    "mprotect guards never hit the map count"
                );
            };
            assert!(stacks.len() > max / 4, "only {} stacks", stacks.len());
            let msg = err.to_string();
            assert!(
                msg.contains("vm.max_map_count") && msg.contains("guard page"),
                "{msg}"
            );
            eprintln!(
                "child: {} mprotect-guarded stacks, then: {msg}",
                stacks.len()
            );
            // Freed stacks are reusable, and a retry after the failure neither hangs nor crashes.
            drop(stacks.pop());
            Stack::new(16 * 1024).unwrap();
            return;
        }
        let out = child::run(
            module_path!(),
            "stack_mprotect_fallback_hits_map_count_with_clear_error",
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{:?}\n{err}", out.status);
        assert!(err.contains("mprotect-guarded stacks"), "{err}");
    }

    #[test]
    fn stack_million_guarded_stacks_fit_under_max_map_count() {
        let _serial = crate::stack::pool::tests::counting();
        const N: usize = 1_000_000;
        drop(Stack::new(DEFAULT_STACK_SIZE).unwrap());
        if guard_mode() != GUARD_MADVISE {
            eprintln!(
                "SKIPPED stack_million_guarded_stacks: this kernel lacks MADV_GUARD_INSTALL \
                 (Linux >= 6.13); guards fall back to mprotect, two VMAs per stack"
            );
            return;
        }
        let vmas_before = count_vmas();
        let before = class_stats(DEFAULT_STACK_SIZE).unwrap();
        let mut stacks = Vec::with_capacity(N);
        for i in 0..N {
            match Stack::new(DEFAULT_STACK_SIZE) {
                Ok(s) => stacks.push(s),
                Err(e) => panic!("stack {i} of {N}: {e}"),
            }
        }
        let vmas_after = count_vmas();
        let during = class_stats(DEFAULT_STACK_SIZE).unwrap();
        let new_slabs = during.slabs - before.slabs;
        let per_slab = SLAB_BYTES / (DEFAULT_STACK_SIZE + page_size());
        assert!(
            new_slabs >= (N - before.carved) / per_slab,
            "{new_slabs} slabs"
        );
        // Guards did not split VMAs: at most one VMA per new slab (plus noise from other tests).
        assert!(
            vmas_after <= vmas_before + new_slabs + 256,
            "VMAs {vmas_before} -> {vmas_after} for {new_slabs} slabs"
        );
        // Every stack is a distinct slot.
        let mut los: Vec<usize> = stacks.iter().map(|s| s.guard().0).collect();
        los.sort_unstable();
        assert!(los
            .windows(2)
            .all(|w| w[1] - w[0] >= DEFAULT_STACK_SIZE + page_size()));
        eprintln!(
            "{N} guarded stacks: {new_slabs} new slabs, VMAs {vmas_before} -> {vmas_after}, \
             stats {:?}",
            stats()
        );
        let live = stats().live;
        assert!(live >= N, "stats count every held stack as live: {live}");
        drop(stacks);
        let live = stats().live;
        assert!(live < 10_000, "freed stacks are no longer live: {live}");
        let after = class_stats(DEFAULT_STACK_SIZE).unwrap();
        assert!(
            after.carved - after.warm - after.cold <= CACHE_MAX,
            "all freed: {after:?}"
        );
    }
}
