//! The SIGSEGV/SIGBUS handler that reports a coroutine stack overflow and aborts.
//!
//! Modelled on Rust std's thread stack-overflow handler (`std/src/sys/pal/unix/stack_overflow.rs`):
//! the handler runs on the thread's signal alternate stack (the faulting stack is unusable),
//! compares the fault address with the guard page of the coroutine this thread is running,
//! and either reports and aborts or passes the signal on to the handler installed before ours.
//!
//! The handler finds the running coroutine through the thread-local task pointer the worker
//! already sets around every resume ([`crate::running::task`]): a const-initialised cell
//! with no destructor, so reading it from a signal handler is a plain TLS load, and a switch
//! publishes nothing extra for this module. The task (alive while it runs: its worker holds
//! a reference) gives the guard page, the name, the id and the stack size.

use std::cell::RefCell;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Once;

use crate::coroutine::Task;

thread_local! {
    /// An alternate signal stack this module mapped for this thread, if std had not.
    static ALT_STACK: RefCell<Option<AltStack>> = const { RefCell::new(None) };
}

/// The actions that were installed before ours (leaked, never freed), or null before
/// [`install`] ran.
static PREV_SEGV: AtomicPtr<libc::sigaction> = AtomicPtr::new(ptr::null_mut());
static PREV_BUS: AtomicPtr<libc::sigaction> = AtomicPtr::new(ptr::null_mut());

/// Installs the SIGSEGV and SIGBUS handler (once per process; later calls do nothing) and makes
/// sure the calling thread has an alternate signal stack.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (sig, prev) in [(libc::SIGSEGV, &PREV_SEGV), (libc::SIGBUS, &PREV_BUS)] {
            // SAFETY: all-zero is a valid `sigaction` (SIG_DFL, empty mask, no flags).
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = handler as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            // SAFETY: all-zero is a valid `sigaction` to receive the old one.
            let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: both pointers are to live, initialised `sigaction`s; `handler` has the
            // `SA_SIGINFO` signature and is async-signal-safe (see its comments).
            let rc = unsafe {
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(sig, &action, &mut old)
            };
            assert_eq!(
                rc,
                0,
                "goro: sigaction({sig}) failed: {}",
                std::io::Error::last_os_error()
            );
            // Release: pairs with the Acquire load in `chain`, so a handler that sees the pointer
            // sees the action it points to.
            prev.store(Box::into_raw(Box::new(old)), Ordering::Release);
        }
    });
    init_thread();
}

/// Makes sure the calling thread has an alternate signal stack: reuses the one std installs on
/// threads it spawns; otherwise maps one, freed when the thread exits.
pub(crate) fn init_thread() {
    // SAFETY: all-zero is a valid `stack_t` to receive the current settings.
    let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: a null new stack only queries; `current` is a live `stack_t`.
    let rc = unsafe { libc::sigaltstack(ptr::null(), &mut current) };
    assert_eq!(
        rc,
        0,
        "goro: sigaltstack query failed: {}",
        std::io::Error::last_os_error()
    );
    // Touch the thread-local the handler reads, so its storage exists before any fault.
    std::hint::black_box(crate::running::task());
    if current.ss_flags & libc::SS_DISABLE == 0 {
        return;
    }
    let alt = AltStack::new();
    ALT_STACK.with(|slot| *slot.borrow_mut() = Some(alt));
}

/// The signal handler. Runs on the alternate signal stack; uses only async-signal-safe calls.
extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid `siginfo_t` to an `SA_SIGINFO` handler; for SIGSEGV and
    // SIGBUS `si_addr` is the faulting address.
    let addr = unsafe { (*info).si_addr() } as usize;
    // The task cell is const-initialised with no destructor: this is a plain thread-local
    // load, with no lazy initialisation or registration that could allocate or lock. (In an
    // executable it is an %fs-relative load. Were goro in a dlopen'ed library, glibc could
    // allocate the TLS block on a thread's first access; `init_thread` touches the cell so a
    // worker's block exists before any coroutine runs on it.)
    let task = crate::running::task();
    // SAFETY: a non-null task pointer is the coroutine this thread is running (or was, when
    // the fault hit the worker's own code between resumes); its worker holds a reference
    // until after it clears the cell, so the task is alive. Its fields are only read.
    if let Some(task) = unsafe { task.as_ref() } {
        let (lo, hi) = super::guard_range(task.guard_lo.get());
        if lo <= addr && addr < hi {
            report(task);
            // SAFETY: abort is async-signal-safe and has no preconditions.
            unsafe { libc::abort() };
        }
    }
    chain(sig, info, ctx);
}

/// Writes the overflow message to stderr with `write(2)`/`writev(2)`: no allocation, no locks.
fn report(task: &Task) {
    let mut id_buf = [0u8; 20];
    let mut size_buf = [0u8; 20];
    let size = decimal(u64::from(task.stack_size / 1024), &mut size_buf);
    let mut head: &[u8] = b"coroutine '";
    let mut tail_head: &[u8] = b"'";
    let mut id: &[u8] = b"";
    let mut id_end: &[u8] = b"";
    if task.name.is_none() {
        head = b"coroutine '<unnamed>";
        tail_head = b"' (id ";
        id = decimal(task.id.as_u64().get(), &mut id_buf);
        id_end = b")";
    }
    write_all(&[head]);
    if let Some(name) = task.name.as_deref() {
        // The name is the task's own immutable string, alive with the task; one `write(2)`.
        // A failure is reported in its place.
        // SAFETY: `name` is a live byte slice; the kernel only reads it.
        let n = unsafe {
            libc::write(
                libc::STDERR_FILENO,
                name.as_ptr() as *const libc::c_void,
                name.len(),
            )
        };
        if n < 0 {
            write_all(&[b"<name unreadable>"]);
        }
    }
    write_all(&[
        tail_head,
        id,
        id_end,
        b" has overflowed its stack (stack size ",
        size,
        b" KiB)\nfatal runtime error: stack overflow\n",
    ]);
}

/// One `writev(2)` of `parts` to stderr; best effort (the process is about to abort).
fn write_all(parts: &[&[u8]]) {
    let mut iov = [libc::iovec {
        iov_base: ptr::null_mut(),
        iov_len: 0,
    }; 8];
    for (v, part) in iov.iter_mut().zip(parts) {
        *v = libc::iovec {
            iov_base: part.as_ptr() as *mut libc::c_void,
            iov_len: part.len(),
        };
    }
    let count = parts.len().min(iov.len()) as libc::c_int;
    // SAFETY: each iovec points at a live slice of `parts` (the kernel only reads them).
    unsafe { libc::writev(libc::STDERR_FILENO, iov.as_ptr(), count) };
}

/// Formats `n` in decimal at the end of `buf`; returns the digits.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Passes a fault that is not a coroutine overflow to the previously installed action.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let prev = if sig == libc::SIGBUS {
        &PREV_BUS
    } else {
        &PREV_SEGV
    };
    // Acquire: pairs with the Release store in `install`.
    let prev = prev.load(Ordering::Acquire);
    // SAFETY: non-null pointers come from `Box::into_raw` in `install` and are never freed.
    let prev = unsafe { prev.as_ref() };
    let action = prev.map_or(libc::SIG_DFL, |p| p.sa_sigaction);
    if action == libc::SIG_DFL || action == libc::SIG_IGN {
        // Restore the default action and return. A real fault re-executes the faulting
        // instruction and the kernel kills the process with this signal (core dump included).
        // A signal sent by kill(2) (si_code <= 0) would not recur, so raise it again: it stays
        // blocked until this handler returns, then takes the default action.
        // (An ignored synchronous fault cannot be ignored: the kernel forces the default.)
        // SAFETY: all-zero is SIG_DFL with an empty mask; sigaction and raise are
        // async-signal-safe; `info` is the kernel's valid siginfo.
        unsafe {
            let dfl: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, &dfl, ptr::null_mut());
            if (*info).si_code <= 0 {
                libc::raise(sig);
            }
        }
        return;
    }
    let prev = prev.expect("SIG_DFL covers the null case");
    if prev.sa_flags & libc::SA_RESETHAND != 0 {
        // The kernel would have reset it before calling that handler; do the same.
        // SAFETY: as above.
        unsafe {
            let dfl: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, &dfl, ptr::null_mut());
        }
    }
    if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: with SA_SIGINFO, `sa_sigaction` is a three-argument handler (that is how it
        // was installed); we call it as the kernel would, with the kernel's arguments.
        unsafe {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(action);
            f(sig, info, ctx);
        }
    } else {
        // SAFETY: without SA_SIGINFO, `sa_sigaction` holds a one-argument `sa_handler`.
        unsafe {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(action);
            f(sig);
        }
    }
}

/// The smallest signal stack the CPU's state needs, as the kernel reports it (AVX-512 and
/// AMX state outgrow the old `SIGSTKSZ`); 0 where it does not say.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn min_signal_stack() -> usize {
    // SAFETY: getauxval has no preconditions; 0 means "not provided".
    unsafe { libc::getauxval(libc::AT_MINSIGSTKSZ) as usize }
}
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn min_signal_stack() -> usize {
    0
}

/// An alternate signal stack mapped by [`init_thread`], with a guard page below it.
struct AltStack {
    map: *mut libc::c_void,
    len: usize,
}

impl AltStack {
    fn new() -> AltStack {
        let page = super::slab::page_size();
        let size = min_signal_stack()
            .max(libc::SIGSTKSZ)
            .max(16 * 1024)
            .next_multiple_of(page);
        let len = size + page;
        // SAFETY: a fresh private anonymous mapping; aliases nothing.
        let map = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | super::slab::MAP_STACK,
                -1,
                0,
            )
        };
        assert!(
            map != libc::MAP_FAILED,
            "goro: cannot map a signal stack: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: the first page of our own fresh mapping becomes the guard.
        let rc = unsafe { libc::mprotect(map, page, libc::PROT_NONE) };
        assert_eq!(
            rc,
            0,
            "goro: mprotect on signal stack guard: {}",
            std::io::Error::last_os_error()
        );
        let stack = libc::stack_t {
            // SAFETY: `page < len`, inside the mapping.
            ss_sp: unsafe { map.cast::<u8>().add(page) }.cast(),
            ss_flags: 0,
            ss_size: size,
        };
        // SAFETY: `stack` describes readable, writable memory that lives until `drop`, which
        // uninstalls it first.
        let rc = unsafe { libc::sigaltstack(&stack, ptr::null_mut()) };
        assert_eq!(
            rc,
            0,
            "goro: sigaltstack failed: {}",
            std::io::Error::last_os_error()
        );
        AltStack { map, len }
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // Disable it only if it is still the thread's alternate stack (std's thread-exit code
        // may have disabled it already).
        // SAFETY: all-zero is a valid `stack_t` to receive the current settings.
        let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
        // SAFETY: query only.
        unsafe { libc::sigaltstack(ptr::null(), &mut current) };
        let ours = self.map as usize + super::slab::page_size();
        if current.ss_flags & libc::SS_DISABLE == 0 && current.ss_sp as usize == ours {
            let off = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: disabling is always valid outside a signal handler (we are in a TLS
            // destructor, not on the alternate stack).
            unsafe { libc::sigaltstack(&off, ptr::null_mut()) };
        }
        // SAFETY: our own mapping, no longer installed as the alternate stack.
        unsafe { libc::munmap(self.map, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{child, Stack};
    use corosensei::{Coroutine, Yielder};
    use std::os::unix::process::ExitStatusExt;
    use std::sync::Arc;

    /// Recurses until the stack runs out; the frame holds 1 KiB so the guard is reached fast.
    fn recurse(depth: u64) -> u64 {
        let frame = std::hint::black_box([depth as u8; 1024]);
        if depth == u64::MAX {
            return 0;
        }
        recurse(depth + 1) + u64::from(frame[0])
    }

    /// Publishes a task record for `stack` as the running coroutine, as a worker does before
    /// a resume: what the handler reads.
    fn publish(name: Option<&str>, stack: &Stack) -> Arc<Task> {
        let start = crate::start::StartFn::new(|_| unreachable!("never started"));
        let size = u32::try_from(stack.size()).unwrap();
        let task = Arc::new(Task::new(name.map(Into::into), true, size, start));
        task.guard_lo.set(stack.guard().0);
        crate::running::set_task(Arc::as_ptr(&task));
        task
    }

    /// In the child: overflow a 64 KiB coroutine stack with the handler installed; prints
    /// the task's id first, for the parent to look for.
    fn overflow_in_coroutine(name: Option<&str>) -> ! {
        install();
        let stack = Stack::new(64 * 1024).unwrap();
        let task = publish(name, &stack);
        eprintln!("task id {}", task.id);
        let mut co = Coroutine::with_stack(stack, |_: &Yielder<(), ()>, ()| {
            recurse(0);
        });
        co.resume(());
        panic!("the coroutine survived recursing without bound");
    }

    fn stderr(out: &std::process::Output) -> String {
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    #[test]
    fn stack_overflow_named_coroutine_aborts_with_message() {
        if child::is_child() {
            overflow_in_coroutine(Some("deep-recursion"));
        }
        let out = child::run(
            module_path!(),
            "stack_overflow_named_coroutine_aborts_with_message",
        );
        let err = stderr(&out);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGABRT),
            "{:?}\n{err}",
            out.status
        );
        assert!(
            err.contains(
                "coroutine 'deep-recursion' has overflowed its stack (stack size 64 KiB)\n\
                 fatal runtime error: stack overflow\n"
            ),
            "{err}"
        );
    }

    #[test]
    fn stack_overflow_unnamed_coroutine_reports_its_id() {
        if child::is_child() {
            overflow_in_coroutine(None);
        }
        let out = child::run(
            module_path!(),
            "stack_overflow_unnamed_coroutine_reports_its_id",
        );
        let err = stderr(&out);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGABRT),
            "{:?}\n{err}",
            out.status
        );
        let id = err
            .lines()
            .find_map(|l| l.strip_prefix("task id "))
            .unwrap_or_else(|| panic!("no task id line: {err}"));
        let want =
            format!("coroutine '<unnamed>' (id {id}) has overflowed its stack (stack size 64 KiB)");
        assert!(err.contains(&want), "{err}");
    }

    #[test]
    fn stack_overflow_other_fault_keeps_default_sigsegv() {
        if child::is_child() {
            install();
            // A coroutine's guard is published, but the fault is elsewhere: not an overflow.
            let stack = Stack::new(64 * 1024).unwrap();
            let _task = publish(Some("innocent"), &stack);
            // SAFETY: deliberately invalid; the test expects the process to die by SIGSEGV.
            unsafe { std::ptr::read_volatile(8 as *const u8) };
            panic!("reading address 8 did not fault");
        }
        let out = child::run(
            module_path!(),
            "stack_overflow_other_fault_keeps_default_sigsegv",
        );
        let err = stderr(&out);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGSEGV),
            "{:?}\n{err}",
            out.status
        );
        assert!(!err.contains("overflowed"), "{err}");
    }

    #[test]
    fn stack_overflow_of_a_thread_still_reported_by_std() {
        if child::is_child() {
            install();
            let t = std::thread::Builder::new()
                .name("small-thread".into())
                .stack_size(64 * 1024)
                .spawn(|| recurse(0))
                .unwrap();
            let _ = t.join();
            panic!("the thread survived recursing without bound");
        }
        let out = child::run(
            module_path!(),
            "stack_overflow_of_a_thread_still_reported_by_std",
        );
        let err = stderr(&out);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGABRT),
            "{:?}\n{err}",
            out.status
        );
        // std's wording: "thread 'small-thread' (<tid>) has overflowed its stack".
        assert!(err.contains("thread 'small-thread'"), "{err}");
        assert!(err.contains("has overflowed its stack"), "{err}");
        assert!(!err.contains("coroutine '"), "{err}");
    }

    #[test]
    fn stack_overflow_init_thread_maps_an_alt_stack_once() {
        std::thread::spawn(|| {
            let query = || {
                // SAFETY: all-zero is a valid `stack_t`; a null new stack only queries.
                let mut s: libc::stack_t = unsafe { std::mem::zeroed() };
                // SAFETY: as above.
                assert_eq!(unsafe { libc::sigaltstack(ptr::null(), &mut s) }, 0);
                s
            };
            // std gave this thread one: init_thread keeps it.
            let std_stack = query();
            init_thread();
            assert_eq!(query().ss_sp, std_stack.ss_sp);
            // Without one, init_thread maps one (once).
            let off = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: disabling the alternate stack outside a handler is always valid.
            assert_eq!(unsafe { libc::sigaltstack(&off, ptr::null_mut()) }, 0);
            init_thread();
            let ours = query();
            assert_eq!(ours.ss_flags & libc::SS_DISABLE, 0);
            assert!(ours.ss_size >= libc::SIGSTKSZ, "{}", ours.ss_size);
            init_thread();
            assert_eq!(query().ss_sp, ours.ss_sp, "init_thread is idempotent");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn stack_overflow_decimal_formats() {
        let mut buf = [0u8; 20];
        assert_eq!(decimal(0, &mut buf), b"0");
        assert_eq!(decimal(4242, &mut buf), b"4242");
        assert_eq!(decimal(u64::MAX, &mut buf), b"18446744073709551615");
    }
}
