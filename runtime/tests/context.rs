//! goro::context and goro::sync::ErrGroup: cancellation through the tree (coroutines on both
//! workers and plain threads), deadlines, errors, values, AfterFunc, registry bookkeeping.
mod common;
use common::{runtime, within};
use goro::context::{self, Context, Error};
use goro::sync::ErrGroup;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn handles_are_send_and_sync() {
    assert_send_sync::<Context>();
    assert_send_sync::<context::CancelFn>();
    assert_send_sync::<context::AfterFunc>();
    assert_send_sync::<ErrGroup<String>>();
}

/// Waits until `n` parties have said they are about to wait.
fn until(count: &AtomicUsize, n: usize) {
    while count.load(Ordering::SeqCst) < n {
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn cancel_reaches_grandchildren_on_both_workers_and_threads_at_once() {
    runtime();
    within(Duration::from_secs(30), || {
        let (root, cancel) = context::with_cancel(&context::background());
        let (child, _cancel_child) = context::with_timeout(&root, LONG);
        let child = context::with_value(&child, "scoped");
        // Grandchildren, made here so the test can look at them the moment cancel returns.
        let grandchildren: Vec<(Context, context::CancelFn)> =
            (0..40).map(|_| context::with_cancel(&child)).collect();
        let ready = Arc::new(AtomicUsize::new(0));
        let mut coroutines = Vec::new();
        for (i, (g, _)) in grandchildren.iter().enumerate().take(32) {
            let (g, ready) = (g.clone(), ready.clone());
            let h = goro::Builder::new()
                .worker_hint(i % 2)
                .spawn(move || {
                    // A great-grandchild made on the coroutine's own worker.
                    let (ctx, _c) = context::with_timeout(&g, LONG);
                    ready.fetch_add(1, Ordering::SeqCst);
                    ctx.wait();
                    (ctx.err(), ctx.value::<&str>().copied())
                })
                .unwrap();
            coroutines.push(h);
        }
        let threads: Vec<_> = grandchildren[32..]
            .iter()
            .map(|(g, _)| {
                let (g, ready) = (g.clone(), ready.clone());
                thread::spawn(move || {
                    ready.fetch_add(1, Ordering::SeqCst);
                    g.wait();
                    g.err()
                })
            })
            .collect();
        until(&ready, 40);
        thread::sleep(Duration::from_millis(20)); // most are parked by now (not required)
        assert!(grandchildren.iter().all(|(g, _)| !g.is_done()));

        cancel.cancel();
        // Every descendant is done when cancel returns, before anyone was woken to look.
        assert_eq!(child.err(), Some(Error::Canceled));
        assert!(grandchildren
            .iter()
            .all(|(g, _)| g.err() == Some(Error::Canceled)));
        for h in coroutines {
            assert_eq!(h.join().unwrap(), (Some(Error::Canceled), Some("scoped")));
        }
        for t in threads {
            assert_eq!(t.join().unwrap(), Some(Error::Canceled));
        }
        assert_eq!(root.registered(), 0);
        assert_eq!(child.registered(), 0);
    });
}

#[test]
fn timeout_fires_for_a_thread_and_a_coroutine() {
    runtime();
    within(Duration::from_secs(30), || {
        let start = Instant::now();
        let (ctx, _cancel) =
            context::with_timeout(&context::background(), Duration::from_millis(30));
        let c = ctx.clone();
        let h = goro::spawn(move || (c.wait_timeout(Duration::from_secs(20)), c.err()));
        assert!(ctx.wait_timeout(Duration::from_secs(20)));
        assert!(start.elapsed() >= Duration::from_millis(30), "never early");
        assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
        assert_eq!(h.join().unwrap(), (true, Some(Error::DeadlineExceeded)));
    });
}

#[test]
fn a_child_keeps_its_parents_earlier_deadline_and_is_done_by_it() {
    runtime();
    within(Duration::from_secs(30), || {
        let (parent, _p) = context::with_timeout(&context::background(), Duration::from_millis(20));
        let (child, _c) = context::with_timeout(&parent, LONG);
        assert_eq!(child.deadline(), parent.deadline());
        child.wait();
        assert_eq!(child.err(), Some(Error::DeadlineExceeded));

        // A child canceled on its own leaves its timed parent running.
        let (parent, _p) = context::with_timeout(&context::background(), LONG);
        let (child, cancel) = context::with_cancel(&parent);
        drop(cancel);
        assert_eq!(child.err(), Some(Error::Canceled));
        assert_eq!(parent.err(), None);
        assert_eq!(parent.registered(), 0);
    });
}

#[test]
fn err_values_and_the_first_reason_wins() {
    runtime();
    assert_eq!(context::background().err(), None);
    assert_eq!(context::todo().deadline(), None);

    let (ctx, cancel) = context::with_timeout(&context::background(), Duration::from_millis(5));
    cancel.cancel();
    thread::sleep(Duration::from_millis(30)); // the timer would have fired by now
    assert_eq!(ctx.err(), Some(Error::Canceled));

    let (ctx, cancel) = context::with_timeout(&context::background(), Duration::from_millis(1));
    ctx.wait();
    drop(cancel);
    assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));

    let past = Instant::now() - Duration::from_millis(1);
    let (ctx, _c) = context::with_deadline(&context::background(), past);
    assert_eq!(ctx.err(), Some(Error::DeadlineExceeded), "done at once");

    // A child of a done parent is born done, with the parent's reason.
    let (child, _c) = context::with_cancel(&ctx);
    assert_eq!(child.err(), Some(Error::DeadlineExceeded));

    let e: Box<dyn std::error::Error> = Box::new(Error::Canceled);
    assert_eq!(e.to_string(), "context canceled");
    assert_eq!(
        std::io::Error::from(Error::DeadlineExceeded).kind(),
        std::io::ErrorKind::TimedOut
    );
}

#[test]
fn dropping_the_cancel_fn_cancels() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let (grandchild, _g) = context::with_timeout(&ctx, LONG);
    assert!(!grandchild.is_done());
    drop(cancel);
    assert_eq!(grandchild.err(), Some(Error::Canceled));
}

#[test]
fn many_short_lived_children_leave_the_parent_registry_empty() {
    runtime();
    within(Duration::from_secs(60), || {
        let (parent, _cancel) = context::with_cancel(&context::background());
        for i in 0..10_000u32 {
            let (c, cancel) = match i % 3 {
                0 => context::with_cancel(&parent),
                1 => context::with_timeout(&parent, LONG),
                _ => context::with_deadline(&parent, Instant::now() + LONG),
            };
            let v = context::with_value(&c, i);
            assert_eq!(v.value::<u32>(), Some(&i));
            if i % 2 == 0 {
                drop(cancel); // canceled first, context handles dropped after
                drop((c, v));
            } else {
                drop((c, v)); // context handles first; the CancelFn still holds the node
                drop(cancel);
            }
        }
        assert_eq!(parent.registered(), 0);

        // The same from coroutines on both workers, concurrently, with waiters that time out
        // and AfterFuncs that are stopped.
        let handles: Vec<_> = (0..8)
            .map(|w| {
                let parent = parent.clone();
                goro::Builder::new()
                    .worker_hint(w % 2)
                    .spawn(move || {
                        for _ in 0..500 {
                            let (c, _cancel) = context::with_timeout(&parent, LONG);
                            let (gc, _gcancel) = context::with_cancel(&c);
                            let stop = gc.after_func(|| unreachable!("stopped"));
                            assert!(!gc.wait_timeout(Duration::from_micros(10)));
                            assert!(stop.stop());
                        }
                        assert!(!parent.wait_timeout(Duration::from_micros(10)));
                    })
                    .unwrap()
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(parent.registered(), 0);
        assert!(!parent.is_done());
    });
}

#[test]
fn after_func_runs_on_a_coroutine_once_and_can_be_stopped() {
    runtime();
    within(Duration::from_secs(30), || {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let (tx, rx) = std::sync::mpsc::channel();
        let ran = Arc::new(AtomicUsize::new(0));
        let stops: Vec<_> = (0..10)
            .map(|i| {
                let (tx, ran) = (tx.clone(), ran.clone());
                ctx.after_func(move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                    tx.send((i, goro::in_coroutine())).unwrap();
                })
            })
            .collect();
        for s in &stops[5..] {
            assert!(s.stop());
        }
        drop(cancel); // from a plain thread
        let mut got: Vec<_> = (0..5).map(|_| rx.recv().unwrap()).collect();
        got.sort();
        assert_eq!(got, (0..5).map(|i| (i, true)).collect::<Vec<_>>());
        assert!(stops.iter().all(|s| !s.stop()), "started: too late to stop");
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
        assert_eq!(ran.load(Ordering::SeqCst), 5);

        // On a done context, f starts at once.
        let (tx2, rx2) = std::sync::mpsc::channel();
        let stop = ctx.after_func(move || tx2.send(()).unwrap());
        rx2.recv().unwrap();
        assert!(!stop.stop());

        // A deadline starts f too, from the timer (no coroutine waited for it).
        let (timed, _c) = context::with_timeout(&context::background(), Duration::from_millis(5));
        let (tx3, rx3) = std::sync::mpsc::channel();
        let _keep = timed.after_func(move || tx3.send(goro::in_coroutine()).unwrap());
        assert_eq!(rx3.recv_timeout(Duration::from_secs(20)), Ok(true));
        assert_eq!(timed.err(), Some(Error::DeadlineExceeded));

        // On a context that can never be done, f never runs; the first stop says so.
        let stop = context::background().after_func(|| unreachable!());
        assert!(stop.stop());
        assert!(!stop.stop());
    });
}

#[test]
fn wait_on_a_never_done_context_times_out() {
    runtime();
    let v = context::with_value(&context::background(), 1u8);
    assert!(!v.wait_timeout(Duration::from_millis(5)));
    assert!(
        !goro::spawn(move || v.wait_timeout(Duration::from_millis(5)))
            .join()
            .unwrap()
    );
}

#[test]
fn errgroup_first_error_cancels_the_others_and_wait_returns_it() {
    runtime();
    within(Duration::from_secs(30), || {
        let (group, ctx) = ErrGroup::with_context(&context::background());
        let saw_cancel = Arc::new(AtomicUsize::new(0));
        for i in 0..16 {
            let (ctx, saw_cancel) = (ctx.clone(), saw_cancel.clone());
            group.go(move || {
                if i == 7 {
                    goro::time::sleep(Duration::from_millis(10));
                    return Err(format!("member {i}"));
                }
                if ctx.wait_timeout(Duration::from_secs(20)) {
                    assert_eq!(ctx.err(), Some(Error::Canceled));
                    saw_cancel.fetch_add(1, Ordering::SeqCst);
                }
                Ok(())
            });
        }
        assert_eq!(group.wait(), Err("member 7".to_string()));
        assert_eq!(saw_cancel.load(Ordering::SeqCst), 15);
    });
}

#[test]
fn errgroup_success_cancels_the_context_at_wait_and_limit_bounds_concurrency() {
    runtime();
    within(Duration::from_secs(30), || {
        let (group, ctx) = ErrGroup::<()>::with_context(&context::background());
        group.set_limit(Some(3));
        let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        for _ in 0..30 {
            let (now, max) = (now.clone(), max.clone());
            group.go(move || {
                max.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                goro::time::sleep(Duration::from_millis(1));
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            });
        }
        assert!(!ctx.is_done());
        assert_eq!(group.wait(), Ok(()));
        assert!(max.load(Ordering::SeqCst) <= 3);
        assert_eq!(ctx.err(), Some(Error::Canceled), "Go's Wait cancels too");
    });
}

#[test]
fn errgroup_wait_resumes_a_members_panic() {
    runtime();
    within(Duration::from_secs(30), || {
        let (group, ctx) = ErrGroup::<()>::with_context(&context::background());
        group.go(|| panic!("member panicked"));
        let c = ctx.clone();
        group.go(move || {
            c.wait();
            Ok(())
        });
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| group.wait()));
        let payload = r.expect_err("wait resumes the panic");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"member panicked"));
        assert!(ctx.is_done());
    });
}

#[test]
fn children_made_while_the_parent_is_canceled_all_end_up_done() {
    runtime();
    within(Duration::from_secs(60), || {
        for _round in 0..20 {
            let (parent, cancel) = context::with_cancel(&context::background());
            let made = Arc::new(goro::sync::Mutex::new(Vec::new()));
            let creators: Vec<_> = (0..4)
                .map(|w| {
                    let (parent, made) = (parent.clone(), made.clone());
                    goro::Builder::new()
                        .worker_hint(w % 2)
                        .spawn(move || {
                            // Keep making children until one is born done, and a few after.
                            let mut after = 0;
                            while after < 10 {
                                let (c, cancel) = context::with_cancel(&parent);
                                let (gc, gcancel) = context::with_timeout(&c, LONG);
                                if gc.is_done() {
                                    after += 1;
                                }
                                made.lock().push((c, gc, cancel, gcancel));
                                goro::yield_now();
                            }
                        })
                        .unwrap()
                })
                .collect();
            thread::sleep(Duration::from_millis(2));
            cancel.cancel();
            for h in creators {
                h.join().unwrap();
            }
            let made = std::mem::take(&mut *made.lock());
            assert!(made.iter().all(|(c, gc, _, _)| {
                c.err() == Some(Error::Canceled) && gc.err() == Some(Error::Canceled)
            }));
            drop(made);
            assert_eq!(parent.registered(), 0);
        }
    });
}
