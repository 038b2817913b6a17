//! goro_chan::done: a context's done signal as a `select!` arm, next to data channels, on
//! coroutines and threads; one channel per context; never for background.
use goro::context::{self, Error};
use goro_chan::{bounded, done, select, unbounded, RecvError, RecvTimeoutError, TryRecvError};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Fails the test if `f` does not finish within `limit`.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(limit).expect("did not finish: lost wakeup")
}

#[test]
fn select_takes_data_until_the_context_is_canceled() {
    within(Duration::from_secs(30), || {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let (tx, rx) = bounded::<u32>(0);
        let consumer = {
            let ctx = ctx.clone();
            goro::spawn(move || {
                let mut got = 0;
                loop {
                    select! {
                        recv(rx) -> v => { v.unwrap(); got += 1; }
                        recv(done(&ctx)) -> r => {
                            assert_eq!(r, Err(RecvError)); // never a value: a disconnect
                            return (got, ctx.err());
                        }
                    }
                }
            })
        };
        for i in 0..100 {
            tx.send(i).unwrap();
        }
        cancel.cancel(); // from a plain thread, while the consumer is parked in select
        assert_eq!(consumer.join().unwrap(), (100, Some(Error::Canceled)));
    });
}

#[test]
fn a_deadline_fires_the_arm_on_coroutines_and_threads() {
    within(Duration::from_secs(30), || {
        let (ctx, _cancel) =
            context::with_timeout(&context::background(), Duration::from_millis(20));
        let (_keep, rx) = unbounded::<()>();
        let coroutines: Vec<_> = (0..8)
            .map(|_| {
                let (ctx, rx) = (ctx.clone(), rx.clone());
                goro::spawn(move || {
                    select! {
                        recv(rx) -> _ => unreachable!("nothing is sent"),
                        recv(done(&ctx)) -> _ => ctx.err(),
                    }
                })
            })
            .collect();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let ctx = ctx.clone();
                thread::spawn(move || done(&ctx).recv_timeout(Duration::from_secs(20)))
            })
            .collect();
        for h in coroutines {
            assert_eq!(h.join().unwrap(), Some(Error::DeadlineExceeded));
        }
        for t in threads {
            assert_eq!(t.join().unwrap(), Err(RecvTimeoutError::Disconnected));
        }
    });
}

#[test]
fn a_done_context_fires_at_once_and_background_never() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    drop(cancel);
    assert_eq!(done(&ctx).try_recv(), Err(TryRecvError::Disconnected));
    select! {
        recv(done(&ctx)) -> r => assert_eq!(r, Err(RecvError)),
        default(Duration::from_secs(10)) => panic!("a done context's arm must be ready"),
    }
    let bg = context::background();
    select! {
        recv(done(&bg)) -> _ => panic!("background is never done"),
        default(Duration::from_millis(20)) => {}
    }
    // Values over a cancelable context share its signal.
    let (ctx, cancel) = context::with_cancel(&context::background());
    let v = context::with_value(&ctx, 5u8);
    let rx = done(&v);
    drop(cancel);
    assert_eq!(rx.recv(), Err(RecvError));
}

#[test]
fn selecting_on_done_in_a_loop_registers_nothing_that_accumulates() {
    within(Duration::from_secs(30), || {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let (tx, rx) = bounded::<u32>(16);
        let h = {
            let ctx = ctx.clone();
            goro::spawn(move || {
                let mut n = 0u32;
                for i in 0..10_000 {
                    select! {
                        send(tx, i) -> r => r.unwrap(),
                        recv(done(&ctx)) -> _ => break,
                    }
                    n += 1;
                }
                n
            })
        };
        for _ in 0..10_000 {
            rx.recv().unwrap();
        }
        assert_eq!(h.join().unwrap(), 10_000);
        // One shared channel held by the context, nothing in its registry.
        assert_eq!(ctx.registered(), 0);
        drop(cancel);
        assert_eq!(done(&ctx).recv(), Err(RecvError));
    });
}
