//! Scoped coroutines (`goro::scope`): borrows from the opener's stack, the wait at the end
//! (also when the closure panics), panics of joined and unjoined coroutines, nesting, and
//! opening a scope from a plain thread and from a coroutine.
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Each coroutine parks (sleeps) before it writes through its borrow, so a scope that
/// returned early would be seen: the write would land after the assert, or not at all.
fn fill_late(slots: &mut [u64]) {
    goro::scope(|s| {
        for (i, slot) in slots.iter_mut().enumerate() {
            s.spawn(move || {
                goro::time::sleep(Duration::from_millis(5 + i as u64 % 7));
                *slot = i as u64 * 3;
            });
        }
    });
}

#[test]
fn borrows_the_callers_stack_and_waits_for_every_coroutine() {
    let mut slots = vec![0u64; 200];
    fill_late(&mut slots);
    assert!(slots.iter().enumerate().all(|(i, v)| *v == i as u64 * 3));

    // The same from inside a coroutine: the opener parks instead of blocking its worker.
    let h = goro::spawn(|| {
        let mut slots = vec![0u64; 200];
        fill_late(&mut slots);
        slots.iter().sum::<u64>()
    });
    assert_eq!(h.join().unwrap(), (0..200u64).map(|i| i * 3).sum::<u64>());
}

#[test]
fn results_come_back_through_join() {
    let words = ["a".to_string(), "bb".to_string(), "ccc".to_string()];
    let lens = goro::scope(|s| {
        let handles: Vec<_> = words.iter().map(|w| s.spawn(move || w.len())).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert_eq!(lens, [1, 2, 3]);
}

#[test]
fn a_joined_panic_goes_to_the_joiner_and_the_scope_returns() {
    let v = goro::scope(|s| {
        let h = s.spawn(|| -> u32 { panic!("scoped boom") });
        let err = h.join().unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"scoped boom"));
        7
    });
    assert_eq!(v, 7);
}

#[test]
fn an_unjoined_panic_makes_the_scope_panic_after_the_others_finish() {
    let finished = AtomicUsize::new(0);
    let r = panic::catch_unwind(AssertUnwindSafe(|| {
        goro::scope(|s| {
            s.spawn(|| panic!("nobody joins me"));
            for _ in 0..4 {
                s.spawn(|| {
                    goro::time::sleep(Duration::from_millis(20));
                    finished.fetch_add(1, Ordering::SeqCst);
                });
            }
        })
    }));
    let err = r.unwrap_err();
    assert_eq!(
        err.downcast_ref::<&str>(),
        Some(&"goro: a scoped coroutine panicked")
    );
    assert_eq!(finished.load(Ordering::SeqCst), 4);
}

#[test]
fn a_panicking_closure_still_waits_for_its_coroutines() {
    let log = Mutex::new(Vec::new());
    let r = panic::catch_unwind(AssertUnwindSafe(|| {
        goro::scope(|s| {
            s.spawn(|| {
                goro::time::sleep(Duration::from_millis(30));
                log.lock().unwrap().push("coroutine");
            });
            panic!("opener fails");
        })
    }));
    assert_eq!(r.unwrap_err().downcast_ref::<&str>(), Some(&"opener fails"));
    // The coroutine's write came before the unwind left the scope.
    assert_eq!(*log.lock().unwrap(), ["coroutine"]);
}

#[test]
fn nested_spawns_and_nested_scopes() {
    let total = AtomicUsize::new(0);
    goro::scope(|s| {
        for _ in 0..10 {
            // A scoped coroutine spawns siblings through the shared `&Scope`.
            s.spawn(|| {
                for _ in 0..10 {
                    s.spawn(|| total.fetch_add(1, Ordering::Relaxed));
                }
            });
        }
        // A scope opened inside a scoped coroutine borrows from both levels.
        s.spawn(|| {
            let mut inner = [0u8; 16];
            goro::scope(|s2| {
                for b in inner.iter_mut() {
                    s2.spawn(|| {
                        *b = 1;
                        total.fetch_add(1, Ordering::Relaxed);
                    });
                }
            });
            assert_eq!(inner, [1; 16]);
        });
    });
    assert_eq!(total.into_inner(), 100 + 16);
}

#[test]
fn builder_names_a_scoped_coroutine() {
    let name = goro::scope(|s| {
        let h = goro::Builder::new()
            .name("scoped-worker")
            .stack_size(64 * 1024)
            .spawn_scoped(s, || {
                goro::current()
                    .and_then(|c| c.name().map(str::to_owned))
                    .unwrap()
            })
            .unwrap();
        assert!(!h.id().to_string().is_empty());
        h.join().unwrap()
    });
    assert_eq!(name, "scoped-worker");
}

#[test]
fn an_unjoined_result_is_dropped_before_the_scope_returns() {
    struct CountsDrop<'a>(&'a AtomicUsize);
    impl Drop for CountsDrop<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = AtomicUsize::new(0);
    goro::scope(|s| {
        for _ in 0..50 {
            // Handles dropped at once: each result (borrowing `drops`) dies in its coroutine.
            s.spawn(|| {
                goro::yield_now();
                CountsDrop(&drops)
            });
        }
    });
    assert_eq!(drops.load(Ordering::SeqCst), 50);
}

#[test]
fn a_refused_spawn_is_an_error_not_a_panic_of_the_scope() {
    let v = goro::scope(|s| {
        // No stack can be this large: the builder refuses before anything runs.
        let r = goro::Builder::new()
            .stack_size(usize::MAX)
            .spawn_scoped(s, || 1);
        assert!(r.is_err());
        s.spawn(|| 2).join().unwrap()
    });
    assert_eq!(v, 2);
}
