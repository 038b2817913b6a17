//! The soundness rule: a started coroutine always resumes on its home worker thread.
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

thread_local! {
    static THREAD_TAG: Cell<u64> = const { Cell::new(0) };
    static SCRATCH: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

fn tag_of_this_thread() -> u64 {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    THREAD_TAG.with(|t| {
        if t.get() == 0 {
            t.set(NEXT.fetch_add(1, Ordering::Relaxed) as u64);
        }
        t.get()
    })
}

#[test]
fn thread_local_is_stable_across_a_thousand_parks() {
    // 64 coroutines (spread over all workers by stealing), each parking 1,000 times in
    // several ways, always see the thread-local of the thread they started on.
    let handles: Vec<_> = (0..64)
        .map(|i| {
            goro::spawn(move || {
                let home = tag_of_this_thread();
                let thread = std::thread::current().id();
                for k in 0..1_000 {
                    match k % 3 {
                        0 => goro::yield_now(),
                        1 => goro::time::sleep(Duration::from_micros(50)),
                        _ => goro::spawn(|| ()).join().unwrap(),
                    }
                    assert_eq!(
                        tag_of_this_thread(),
                        home,
                        "coroutine {i} migrated after {k} parks"
                    );
                    assert_eq!(std::thread::current().id(), thread);
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn refcell_borrow_and_rc_held_across_parks() {
    let hs: Vec<_> = (0..32)
        .map(|i| {
            goro::spawn(move || {
                let rc = Rc::new(Cell::new(i));
                for _ in 0..100 {
                    let rc2 = rc.clone();
                    goro::yield_now();
                    rc2.set(rc2.get() + 1);
                }
                // A RefCell borrow of a thread-local held over a park point: fine, because
                // other coroutines of this thread never borrow it mutably at the same time
                // in this test, and no other thread can see it.
                SCRATCH.with(|s| {
                    let b = s.borrow();
                    let len = b.len();
                    goro::yield_now();
                    assert_eq!(b.len(), len);
                });
                rc.get()
            })
        })
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), i + 100);
    }
}

#[test]
fn unpinned_coroutines_run_and_finish() {
    let counter = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..100)
        .map(|_| {
            let c = counter.clone();
            // SAFETY: the closure holds only `Send` values across its park points.
            unsafe {
                goro::Builder::new()
                    .spawn_unpinned(move || {
                        for _ in 0..10 {
                            goro::time::sleep(Duration::from_micros(100));
                            c.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                    .unwrap()
            }
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(counter.load(Ordering::Relaxed), 1_000);
}
