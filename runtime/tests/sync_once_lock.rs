//! `goro::sync::OnceLock`: made once, by an initializer that may park, with other callers
//! parked (not blocked) until it is ready.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goro::sync::OnceLock;

mod common;

/// Many coroutines (two workers, so some share a worker with the initializer) ask at once;
/// the initializer parks twice. Exactly one initializer runs; all see its value. With std's
/// `OnceLock` a coroutine on the initializer's worker would block that worker's thread and
/// the initializer could never resume.
#[test]
fn one_initializer_runs_while_the_others_park() {
    common::runtime();
    common::within(Duration::from_secs(30), || {
        let cell = Arc::new(OnceLock::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..200)
            .map(|i| {
                let (cell, runs) = (Arc::clone(&cell), Arc::clone(&runs));
                goro::spawn(move || {
                    *cell.get_or_init(|| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        goro::time::sleep(Duration::from_millis(20));
                        goro::blocking(|| std::thread::sleep(Duration::from_millis(5)));
                        i
                    })
                })
            })
            .collect();
        let seen: Vec<usize> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(seen.iter().all(|&v| v == seen[0]));
        assert_eq!(cell.get(), Some(&seen[0]));
    });
}

/// A plain thread and coroutines share one cell.
#[test]
fn threads_and_coroutines_share_a_cell() {
    common::runtime();
    common::within(Duration::from_secs(30), || {
        static CELL: OnceLock<String> = OnceLock::new();
        let t = std::thread::spawn(|| {
            CELL.get_or_init(|| {
                std::thread::sleep(Duration::from_millis(30));
                "thread".to_string()
            })
            .clone()
        });
        std::thread::sleep(Duration::from_millis(5));
        let c = goro::spawn(|| CELL.get_or_init(|| "coroutine".to_string()).clone());
        let (a, b) = (t.join().unwrap(), c.join().unwrap());
        assert_eq!(a, b);
    });
}

/// An initializer that panics leaves the cell empty; a waiting caller then runs its own.
#[test]
fn a_panicking_initializer_lets_a_waiter_initialise() {
    common::runtime();
    common::within(Duration::from_secs(30), || {
        let cell = Arc::new(OnceLock::new());
        let first = {
            let cell = Arc::clone(&cell);
            goro::spawn(move || {
                cell.get_or_init(|| {
                    goro::time::sleep(Duration::from_millis(30));
                    panic!("first initializer fails");
                });
            })
        };
        goro::time::sleep(Duration::from_millis(5));
        let second = {
            let cell = Arc::clone(&cell);
            goro::spawn(move || *cell.get_or_init(|| 2))
        };
        assert!(first.join().is_err());
        assert_eq!(second.join().unwrap(), 2);
        assert_eq!(cell.get(), Some(&2));
    });
}

/// An initializer that asks its own cell panics instead of waiting for itself forever.
#[test]
fn a_reentrant_initializer_panics() {
    common::runtime();
    common::within(Duration::from_secs(30), || {
        let r = goro::spawn(|| {
            let cell = OnceLock::new();
            cell.get_or_init(|| *cell.get_or_init(|| 1) + 1).to_owned()
        })
        .join();
        let err = r.expect_err("re-entrant get_or_init must panic");
        let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
        assert!(msg.contains("from its own initializer"), "{msg}");
    });
}

/// `set` while an initializer runs waits for it, then hands the value back.
#[test]
fn set_waits_for_a_running_initializer() {
    common::runtime();
    common::within(Duration::from_secs(30), || {
        let cell = Arc::new(OnceLock::new());
        let init = {
            let cell = Arc::clone(&cell);
            goro::spawn(move || {
                *cell.get_or_init(|| {
                    goro::time::sleep(Duration::from_millis(20));
                    1
                })
            })
        };
        goro::time::sleep(Duration::from_millis(5));
        let cell2 = Arc::clone(&cell);
        assert_eq!(goro::spawn(move || cell2.set(9)).join().unwrap(), Err(9));
        assert_eq!(init.join().unwrap(), 1);
        let mut cell = Arc::try_unwrap(cell).expect("sole owner");
        assert_eq!(cell.take(), Some(1));
        assert_eq!(cell.get(), None);
        assert_eq!(cell.set(3), Ok(()));
        assert_eq!(cell.into_inner(), Some(3));
    });
}
