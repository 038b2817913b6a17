//! 1,000,000 parked coroutines alive at once under the default `vm.max_map_count` (65530).
//! A test file of its own so it runs in its own process.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn guard_install_supported() -> bool {
    // MADV_GUARD_INSTALL (Linux >= 6.13) on a scratch mapping; EINVAL means unsupported.
    const MADV_GUARD_INSTALL: libc::c_int = 102;
    // SAFETY: a private anonymous scratch mapping that we unmap again.
    unsafe {
        let len = 2 * 4096;
        let p = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        let ok = libc::madvise(p, 4096, MADV_GUARD_INSTALL) == 0;
        libc::munmap(p, len);
        ok
    }
}

#[test]
fn a_million_parked_coroutines_at_the_default_map_count() {
    if !guard_install_supported() {
        eprintln!(
            "SKIPPED: this kernel lacks MADV_GUARD_INSTALL (Linux >= 6.13); with mprotect guards \
             1M stacks need vm.max_map_count > 2M"
        );
        return;
    }
    const N: usize = 1_000_000;
    let release = Arc::new(AtomicBool::new(false));
    let started = Arc::new(goro::sync::WaitGroup::new());
    let finished = Arc::new(goro::sync::WaitGroup::new());
    started.add(N);
    finished.add(N);
    let mut unparkers = Vec::with_capacity(N);
    for _ in 0..N {
        let (release, started, finished) = (release.clone(), started.clone(), finished.clone());
        let h = goro::spawn(move || {
            started.done();
            while !release.load(Ordering::Acquire) {
                goro::park::park();
            }
            finished.done();
        });
        unparkers.push(h.coroutine().unparker());
    }
    started.wait();
    let s = goro::stats();
    assert!(s.coroutines >= N as u64, "{s:?}");
    // Every one of them is parked right now (give stragglers a moment to commit).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while goro::stats().parked < N as u64 {
        assert!(std::time::Instant::now() < deadline, "{:?}", goro::stats());
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    release.store(true, Ordering::Release);
    for u in &unparkers {
        u.unpark();
    }
    finished.wait();
}
