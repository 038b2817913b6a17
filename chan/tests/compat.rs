//! crossbeam-channel API shapes that goro-chan provides (issue #18): `Select::ready` and
//! friends, biased selection, `select!`'s full syntax, auto traits, thread-exit use.
//! crossbeam's own suite runs against goro-chan too (`tests/crossbeam-suite.sh`); these
//! are the small, fast checks of each gap it found.

// The operands below are literal `Some`/`None` on purpose: temporaries in `select!`.
#![allow(clippy::unnecessary_literal_unwrap)]

use std::panic::{RefUnwindSafe, UnwindSafe};
use std::thread;
use std::time::{Duration, Instant};

use goro_chan::{
    bounded, never, select, select_biased, unbounded, ReadyTimeoutError, Receiver, Select, Sender,
    TryReadyError,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn ready_reports_without_consuming() {
    for cap in [None, Some(0), Some(1)] {
        let (tx, rx) = match cap {
            None => unbounded::<i32>(),
            Some(n) => bounded::<i32>(n),
        };
        let mut sel = Select::new();
        let i = sel.recv(&rx);
        assert_eq!(sel.try_ready(), Err(TryReadyError));
        assert_eq!(sel.ready_timeout(ms(10)), Err(ReadyTimeoutError));
        let h = thread::spawn(move || tx.send(7).unwrap());
        assert_eq!(sel.ready(), i);
        // Nothing was taken: the value is still there for a plain receive.
        assert_eq!(rx.recv(), Ok(7));
        h.join().unwrap();
        // Disconnected counts as ready.
        assert_eq!(sel.ready_deadline(Instant::now() + ms(1000)), Ok(i));
    }
}

#[test]
fn ready_send_on_zero_capacity_needs_a_waiting_receiver() {
    let (tx, rx) = bounded::<i32>(0);
    let mut sel = Select::new();
    let i = sel.send(&tx);
    assert_eq!(sel.try_ready(), Err(TryReadyError));
    let h = thread::spawn(move || rx.recv().unwrap());
    assert_eq!(sel.ready(), i);
    tx.send(3).unwrap();
    assert_eq!(h.join().unwrap(), 3);
}

#[test]
fn ready_does_not_steal_a_wakeup_from_a_blocked_receiver() {
    // A `ready` observer and a blocked `recv` on the same channel: the one value must
    // reach the receiver, and the observer must wake as well.
    let (tx, rx) = bounded::<i32>(1);
    let rx2 = rx.clone();
    let receiver = thread::spawn(move || rx2.recv().unwrap());
    let rx3 = rx.clone();
    let observer = thread::spawn(move || {
        let mut sel = Select::new();
        sel.recv(&rx3);
        sel.ready_timeout(ms(5000)).is_ok()
    });
    thread::sleep(ms(50));
    tx.send(1).unwrap();
    assert_eq!(receiver.join().unwrap(), 1);
    assert!(observer.join().unwrap());
}

#[test]
fn biased_select_takes_the_first_ready_operation() {
    let (tx1, rx1) = unbounded::<i32>();
    let (tx2, rx2) = unbounded::<i32>();
    for i in 0..100 {
        tx1.send(i).unwrap();
        tx2.send(i).unwrap();
    }
    for _ in 0..100 {
        select_biased! {
            recv(rx1) -> v => assert!(v.is_ok()),
            recv(rx2) -> _ => panic!("the first arm is ready"),
        }
    }
    let mut sel = Select::new_biased();
    let i2 = sel.recv(&rx2);
    sel.recv(&rx1);
    tx1.send(0).unwrap();
    for _ in 0..50 {
        let op = sel.select();
        assert_eq!(op.index(), i2);
        op.recv(&rx2).unwrap();
    }
}

#[test]
fn select_macro_accepts_crossbeam_syntax() {
    let (tx, rx) = bounded::<i32>(1);
    let maybe: Option<&Receiver<i32>> = None;
    // A temporary operand, alive for the whole select.
    select! {
        recv(maybe.unwrap_or(&never())) -> _ => panic!("never is never ready"),
        default() => {}
    }
    // Trailing commas inside the operations and the timeout.
    select! {
        send(tx, 1,) -> r => r.unwrap(),
        recv(rx,) -> _ => panic!("empty"),
        default(ms(1000),) => panic!("room in the buffer"),
    }
    assert_eq!(rx.try_recv(), Ok(1));
    let got = select! {
        recv(Some(&rx).unwrap()) -> _ => 1,
        default(ms(5)) => 2,
    };
    assert_eq!(got, 2);
}

#[test]
fn select_is_clone_send_and_sync() {
    fn assert_send_sync<X: Send + Sync>(_: &X) {}
    let (tx, rx) = unbounded::<i32>();
    let mut sel = Select::new();
    sel.recv(&rx);
    assert_send_sync(&sel);
    thread::scope(|s| {
        for _ in 0..2 {
            let mut sel = sel.clone();
            let rx = &rx;
            s.spawn(move || {
                let op = sel.select();
                op.recv(rx).unwrap();
            });
        }
        tx.send(1).unwrap();
        tx.send(2).unwrap();
    });
}

#[test]
fn handles_are_unwind_safe() {
    fn assert_unwind_safe<X: UnwindSafe + RefUnwindSafe>() {}
    assert_unwind_safe::<Sender<std::cell::Cell<i32>>>();
    assert_unwind_safe::<Receiver<std::cell::Cell<i32>>>();
    let (tx, rx) = unbounded::<i32>();
    let r = std::panic::catch_unwind(|| {
        tx.send(1).unwrap();
        panic!("boom");
    });
    assert!(r.is_err());
    assert_eq!(rx.recv(), Ok(1));
}

#[test]
fn blocking_select_in_a_thread_local_destructor() {
    struct Foo;
    impl Drop for Foo {
        fn drop(&mut self) {
            let (_s, r) = unbounded::<()>();
            select! {
                recv(r) -> _ => {}
                default(ms(10)) => {}
            }
            let (s, r) = bounded::<i32>(0);
            drop(s);
            assert!(r.recv().is_err());
        }
    }
    thread_local! {
        static FOO: Foo = const { Foo };
    }
    thread::spawn(|| {
        FOO.with(|_| ());
        // Puts goro-chan's per-thread context cache in place after `FOO`, so that it is
        // destroyed first.
        let (s, r) = bounded::<()>(0);
        let h = thread::spawn(move || {
            thread::sleep(ms(20));
            s.send(()).unwrap();
        });
        r.recv().unwrap();
        h.join().unwrap();
    })
    .join()
    .unwrap();
}
