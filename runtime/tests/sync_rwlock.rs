//! goro::sync::RwLock: readers share, writers exclude, writer preference (Go's RWMutex),
//! readers admitted after a writer, no poisoning, on coroutines, threads, and both at once.
mod common;
use common::{runtime, within};
use goro::sync::{RwLock, WaitGroup};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Two fields a writer updates in two steps; a reader or writer overlapping a writer sees
/// them differ.
#[derive(Default)]
struct Pair {
    a: u64,
    b: u64,
}

#[test]
fn readers_and_writers_on_coroutines_and_threads_never_overlap_a_writer() {
    runtime();
    within(Duration::from_secs(60), || {
        let l = Arc::new(RwLock::new(Pair::default()));
        let reads = Arc::new(AtomicUsize::new(0));
        let work = |l: Arc<RwLock<Pair>>, reads: Arc<AtomicUsize>, i: usize, coroutine: bool| {
            move || {
                for k in 0..2_000 {
                    if (k + i).is_multiple_of(10) {
                        let mut g = l.write();
                        assert_eq!(g.a, g.b, "a writer overlapped another");
                        g.a += 1;
                        if coroutine && k.is_multiple_of(50) {
                            goro::yield_now(); // a park point inside the write section
                        }
                        g.b += 1;
                    } else {
                        let g = l.read();
                        assert_eq!(g.a, g.b, "a reader overlapped a writer");
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        };
        let cs: Vec<_> = (0..8)
            .map(|i| goro::spawn(work(Arc::clone(&l), Arc::clone(&reads), i, true)))
            .collect();
        let ts: Vec<_> = (0..4)
            .map(|i| thread::spawn(work(Arc::clone(&l), Arc::clone(&reads), i, false)))
            .collect();
        cs.into_iter().for_each(|h| h.join().unwrap());
        ts.into_iter().for_each(|h| h.join().unwrap());
        let p = Arc::try_unwrap(l).ok().unwrap().into_inner();
        assert_eq!((p.a, p.b), (12 * 200, 12 * 200));
        assert_eq!(reads.load(Ordering::Relaxed), 12 * 1_800);
    });
}

#[test]
fn many_readers_hold_it_at_once_across_park_points() {
    runtime();
    within(Duration::from_secs(30), || {
        let l = Arc::new(RwLock::new(7));
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..16)
            .map(|_| {
                let (l, inside, max) = (Arc::clone(&l), Arc::clone(&inside), Arc::clone(&max));
                goro::spawn(move || {
                    let g = l.read();
                    let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(n, Ordering::SeqCst);
                    goro::time::sleep(Duration::from_millis(50));
                    inside.fetch_sub(1, Ordering::SeqCst);
                    *g
                })
            })
            .collect();
        assert!(hs.into_iter().all(|h| h.join().unwrap() == 7));
        // All 16 sleep 50 ms holding a read guard: they must have overlapped.
        assert!(
            max.load(Ordering::SeqCst) > 1,
            "readers did not share the lock"
        );
    });
}

#[test]
fn try_read_and_try_write() {
    let l = RwLock::new(1);
    let r = l.read();
    assert!(l.try_write().is_none());
    assert_eq!(*l.try_read().expect("readers share"), 1);
    thread::scope(|s| {
        s.spawn(|| assert!(l.try_write().is_none()));
    });
    drop(r);
    let w = l.try_write().expect("free");
    assert!(l.try_read().is_none());
    assert!(l.try_write().is_none());
    drop(w);
    *l.write() = 2;
    assert_eq!(l.into_inner(), 2);
}

/// Go's writer preference: once a writer waits, a new reader waits behind it even though
/// readers hold the lock, and the writer gets in before that reader.
#[test]
fn a_waiting_writer_blocks_new_readers_and_goes_first() {
    runtime();
    within(Duration::from_secs(30), || {
        let l = Arc::new(RwLock::new(Vec::<&str>::new()));
        let r1 = l.read();
        let writer = {
            let l = Arc::clone(&l);
            goro::spawn(move || l.write().push("writer"))
        };
        // Wait until the writer has queued: then try_read must fail although only readers
        // hold the lock.
        let start = Instant::now();
        while l.try_read().is_some() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "writer never queued"
            );
            thread::sleep(Duration::from_millis(1));
        }
        let reader = {
            let l = Arc::clone(&l);
            thread::spawn(move || {
                // Blocks behind the writer: by the time it reads, the writer has written.
                let g = l.read();
                g.clone()
            })
        };
        thread::sleep(Duration::from_millis(30));
        assert!(
            !writer.is_finished(),
            "writer got in while a reader held the lock"
        );
        drop(r1); // the last reader hands the lock to the writer
        writer.join().unwrap();
        assert_eq!(reader.join().unwrap(), ["writer"]);
    });
}

/// Go's RWMutex.Unlock admits every reader that queued during the write, before the next
/// writer: a stream of writers does not starve readers.
#[test]
fn a_writers_unlock_admits_queued_readers_before_the_next_writer() {
    runtime();
    within(Duration::from_secs(30), || {
        let l = Arc::new(RwLock::new(0u32));
        let w = l.write();
        let wg = Arc::new(WaitGroup::new());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        for _ in 0..4 {
            let (l, seen) = (Arc::clone(&l), Arc::clone(&seen));
            wg.add(1);
            let wg = Arc::clone(&wg);
            goro::spawn(move || {
                let v = *l.read();
                seen.lock().unwrap().push(v);
                wg.done();
            });
        }
        thread::sleep(Duration::from_millis(30)); // readers queue
        let second = {
            let l = Arc::clone(&l);
            goro::spawn(move || *l.write() = 2)
        };
        thread::sleep(Duration::from_millis(30)); // the second writer queues
        drop(w); // value 0: readers first, then the second writer
        wg.wait();
        second.join().unwrap();
        assert_eq!(*seen.lock().unwrap(), [0, 0, 0, 0]);
        assert_eq!(*l.read(), 2);
    });
}

/// Readers hammering the lock in a loop must not keep a writer out forever.
#[test]
fn a_writer_is_not_starved_by_a_stream_of_readers() {
    runtime();
    within(Duration::from_secs(30), || {
        let l = Arc::new(RwLock::new(0u64));
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..6u32)
            .map(|i| {
                let (l, stop) = (Arc::clone(&l), Arc::clone(&stop));
                let f = move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let g = l.read();
                        n += *g;
                        std::hint::black_box(n);
                    }
                };
                if i.is_multiple_of(2) {
                    goro::spawn(f)
                } else {
                    goro::spawn(move || goro::blocking(f))
                }
            })
            .collect();
        thread::sleep(Duration::from_millis(20));
        for _ in 0..100 {
            *l.write() += 1;
        }
        stop.store(true, Ordering::Relaxed);
        readers.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*l.read(), 100);
    });
}

/// Two readers whose holds overlap (each keeps its guard until the other one entered too, so
/// the read count does not drop to 0 while the door is open) must not keep a writer out: the
/// writer's spin before queueing is bounded, and once it queues the door closes, the readers
/// drain, and it gets in. A coroutine reader and a thread reader, so both waiting paths run.
#[test]
fn a_writer_gets_in_between_readers_whose_holds_overlap() {
    runtime();
    within(Duration::from_secs(30), || {
        let l = Arc::new(RwLock::new(0u64));
        let entries = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let stop = Arc::new(AtomicBool::new(false));
        let reader = |me: usize| {
            let (l, entries, stop) = (Arc::clone(&l), Arc::clone(&entries), Arc::clone(&stop));
            move || {
                while !stop.load(Ordering::Relaxed) {
                    let g = l.read();
                    entries[me].fetch_add(1, Ordering::SeqCst);
                    let other = entries[1 - me].load(Ordering::SeqCst);
                    let held = Instant::now();
                    // Hold until the other reader entered as well, or for 20 ms: then a
                    // writer closed the door (or the OS did not run the other reader).
                    while entries[1 - me].load(Ordering::SeqCst) == other
                        && held.elapsed() < Duration::from_millis(20)
                    {
                        std::hint::spin_loop();
                    }
                    std::hint::black_box(*g);
                }
            }
        };
        let a = goro::spawn(reader(0));
        let b = thread::spawn(reader(1));
        // Let the relay start: both readers entering in turn.
        while entries.iter().any(|e| e.load(Ordering::SeqCst) < 10) {
            thread::sleep(Duration::from_millis(1));
        }
        for _ in 0..10 {
            *l.write() += 1;
        }
        stop.store(true, Ordering::Relaxed);
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(*l.read(), 10);
    });
}

#[test]
fn a_panic_while_holding_a_guard_releases_it() {
    runtime();
    within(Duration::from_secs(30), || {
        let l = Arc::new(RwLock::new(1));
        let l2 = Arc::clone(&l);
        assert!(goro::spawn(move || {
            let _g = l2.write();
            panic!("boom");
        })
        .join()
        .is_err());
        let l2 = Arc::clone(&l);
        assert!(goro::spawn(move || {
            let _g = l2.read();
            panic!("boom");
        })
        .join()
        .is_err());
        *l.write() += 1;
        assert_eq!(*l.read(), 2);
    });
}

#[test]
fn writers_hand_over_in_fifo_order() {
    runtime();
    within(Duration::from_secs(30), || {
        let l = Arc::new(RwLock::new(Vec::new()));
        let w = l.write();
        let hs: Vec<_> = (0..5)
            .map(|i| {
                let l = Arc::clone(&l);
                let h = thread::spawn(move || l.write().push(i));
                thread::sleep(Duration::from_millis(20)); // queue in order
                h
            })
            .collect();
        drop(w);
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*l.read(), [0, 1, 2, 3, 4]);
    });
}

#[test]
fn debug_shows_the_value_or_locked() {
    let l = RwLock::new(3);
    assert_eq!(format!("{l:?}"), "RwLock { data: 3, .. }");
    let w = l.write();
    assert_eq!(format!("{l:?}"), "RwLock { data: <locked>, .. }");
    drop(w);
    let _r = l.read();
    assert_eq!(format!("{l:?}"), "RwLock { data: 3, .. }");
}

/// A writer's unlock that admits a reader parked on its own worker lets that reader run (and
/// release) before the unlocking coroutine goes on. Coroutines are not preempted: without the
/// yield the admitted reader would hold its read slot unrun until the writer parks, and the
/// writer's next `write` would have to wait for it, which is how every write used to park all
/// the coroutines of a read-mostly load (the convoy in `sync/rwlock.rs`'s module doc).
#[test]
fn an_unlock_lets_readers_it_admitted_on_its_own_worker_run_first() {
    runtime();
    within(Duration::from_secs(30), || {
        let log = Arc::new(std::sync::Mutex::new(Vec::<&str>::new()));
        let l = Arc::new(RwLock::new(0));
        let (log2, l2) = (Arc::clone(&log), Arc::clone(&l));
        goro::Builder::new()
            .worker_hint(0)
            .spawn(move || {
                let here = goro::worker_index().expect("on a worker");
                let g = l2.write();
                let queued = Arc::new(AtomicBool::new(false));
                let reader = {
                    let (l, log, queued) =
                        (Arc::clone(&l2), Arc::clone(&log2), Arc::clone(&queued));
                    // Same worker: it runs only when the writer yields or parks.
                    goro::Builder::new()
                        .worker_hint(here)
                        .spawn(move || {
                            queued.store(true, Ordering::SeqCst);
                            let r = l.read(); // parks behind the writer
                            log.lock().unwrap().push("reader");
                            *r
                        })
                        .unwrap()
                };
                // Let the reader run until it parks in `read` (it cannot get the lock).
                while !queued.load(Ordering::SeqCst) {
                    goro::yield_now();
                }
                goro::yield_now();
                drop(g); // admits the reader, which must run before the next line
                log2.lock().unwrap().push("writer after unlock");
                reader.join().unwrap()
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(*log.lock().unwrap(), ["reader", "writer after unlock"]);
    });
}

/// Once coroutines read a lock, their reads count in their worker's reader slot instead of
/// the shared word (the reader bias). A writer must still wait for every such read: from a
/// thread, from a coroutine on the other worker, and from a coroutine on the holder's own
/// worker, which has to park (not spin) for the holder to run at all. Fails (a write inside a
/// read) if the revocation does not drain the slots, and (the 60 s bound) if a writer on the
/// holder's worker spins for it.
#[test]
fn writers_wait_for_coroutine_read_holds_on_every_worker() {
    runtime();
    within(Duration::from_secs(60), || {
        let l = Arc::new(RwLock::new(0u32));
        let inside = Arc::new(AtomicUsize::new(0));
        let (holding, held) = std::sync::mpsc::channel();
        let readers: Vec<_> = (0..2)
            .map(|w| {
                let (l, inside, holding) = (Arc::clone(&l), Arc::clone(&inside), holding.clone());
                goro::Builder::new()
                    .worker_hint(w)
                    .spawn(move || {
                        // Reads from coroutines turn the bias on.
                        for _ in 0..64 {
                            drop(l.read());
                        }
                        let g = l.read();
                        inside.fetch_add(1, Ordering::SeqCst);
                        holding.send(()).unwrap();
                        goro::time::sleep(Duration::from_millis(200));
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(g);
                    })
                    .unwrap()
            })
            .collect();
        held.recv().unwrap();
        held.recv().unwrap();
        let write = |l: &RwLock<u32>, inside: &AtomicUsize| {
            let mut g = l.write();
            assert_eq!(
                inside.load(Ordering::SeqCst),
                0,
                "a write overlapped a read"
            );
            *g += 1;
        };
        let coroutines: Vec<_> = (0..2)
            .map(|w| {
                let (l, inside) = (Arc::clone(&l), Arc::clone(&inside));
                goro::Builder::new()
                    .worker_hint(w)
                    .spawn(move || write(&l, &inside))
                    .unwrap()
            })
            .collect();
        write(&l, &inside);
        coroutines.into_iter().for_each(|h| h.join().unwrap());
        readers.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*l.read(), 3);
    });
}
