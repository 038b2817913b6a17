//! Go's channel tests (`runtime/chan_test.go`, `test/chan/*.go`), semantics ported to
//! goro-chan on OS threads. Each test is bounded in time and count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use goro_chan::{bounded, never, select, unbounded, Receiver, RecvError, Sender, TryRecvError};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The channel kinds Go's tests loop over: unbuffered and several buffer sizes.
const CAPS: [usize; 5] = [0, 1, 2, 10, 100];

/// TestChan: a receive on an empty channel blocks until a send.
#[test]
fn recv_blocks_until_send() {
    for cap in CAPS {
        let (tx, rx) = bounded::<i32>(cap);
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let h = thread::spawn(move || {
            let v = rx.recv().unwrap();
            d.store(1, Ordering::SeqCst);
            v
        });
        thread::sleep(ms(20));
        assert_eq!(
            done.load(Ordering::SeqCst),
            0,
            "cap={cap}: recv did not block"
        );
        tx.send(7).unwrap();
        assert_eq!(h.join().unwrap(), 7);
    }
}

/// TestChan: a send on a full channel blocks until a receive.
#[test]
fn send_blocks_when_full() {
    for cap in CAPS {
        let (tx, rx) = bounded::<usize>(cap);
        for i in 0..cap {
            tx.send(i).unwrap();
        }
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let h = thread::spawn(move || {
            tx.send(999).unwrap();
            d.store(1, Ordering::SeqCst);
        });
        thread::sleep(ms(20));
        assert_eq!(
            done.load(Ordering::SeqCst),
            0,
            "cap={cap}: send did not block"
        );
        for i in 0..cap {
            assert_eq!(rx.recv(), Ok(i));
        }
        assert_eq!(rx.recv(), Ok(999));
        h.join().unwrap();
    }
}

/// Unbuffered rendezvous: the sender is still inside `send` until a receiver takes the
/// value, and returns only afterwards.
#[test]
fn unbuffered_send_waits_for_receiver() {
    let (tx, rx) = bounded::<u32>(0);
    let sent = Arc::new(AtomicUsize::new(0));
    let s = sent.clone();
    let h = thread::spawn(move || {
        tx.send(1).unwrap();
        s.store(1, Ordering::SeqCst);
    });
    thread::sleep(ms(30));
    assert_eq!(
        sent.load(Ordering::SeqCst),
        0,
        "unbuffered send completed alone"
    );
    assert_eq!(rx.len(), 0);
    assert_eq!(rx.recv(), Ok(1));
    h.join().unwrap();
    assert_eq!(sent.load(Ordering::SeqCst), 1);
    // And a try_send with nobody waiting never succeeds.
    let (tx, _rx) = bounded::<u32>(0);
    assert!(tx.try_send(1).unwrap_err().is_full());
}

/// TestChan: closed channels deliver buffered values, then "zero, false" forever.
#[test]
fn closed_channel_drains_then_errors() {
    for cap in CAPS {
        let (tx, rx) = bounded::<usize>(cap);
        for i in 0..cap {
            tx.send(i).unwrap();
        }
        assert!(tx.close());
        assert!(!tx.close(), "second close reports false");
        assert!(tx.send(5).is_err());
        for i in 0..cap {
            assert_eq!(rx.recv(), Ok(i));
        }
        for _ in 0..3 {
            assert_eq!(rx.recv(), Err(RecvError));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        }
    }
}

/// TestChan: FIFO order per sender, several senders, one receiver.
#[test]
fn fifo_per_sender() {
    const SENDERS: usize = 4;
    const N: usize = 5000;
    for cap in CAPS {
        let (tx, rx) = bounded::<(usize, usize)>(cap);
        let hs: Vec<_> = (0..SENDERS)
            .map(|s| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..N {
                        tx.send((s, i)).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let mut next = [0usize; SENDERS];
        for (s, i) in rx.iter() {
            assert_eq!(i, next[s], "cap={cap}: sender {s} out of order");
            next[s] += 1;
        }
        assert_eq!(next, [N; SENDERS]);
        for h in hs {
            h.join().unwrap();
        }
    }
    // Unbounded too.
    let (tx, rx) = unbounded();
    for i in 0..10_000 {
        tx.send(i).unwrap();
    }
    drop(tx);
    assert!(rx.iter().eq(0..10_000));
}

/// TestNonblockRecvRace / TestChanSendSelectBarrier: non-blocking operations in a loop
/// against a concurrent peer never lose or invent values. (Two non-blocking sides never
/// meet on an unbuffered channel, so there the sender blocks.)
#[test]
fn nonblocking_ops_in_a_loop() {
    for cap in CAPS {
        let (tx, rx) = bounded::<usize>(cap);
        const N: usize = 20_000;
        let h = thread::spawn(move || {
            let mut i = 0;
            while i < N {
                if cap == 0 {
                    tx.send(i).unwrap();
                    i += 1;
                    continue;
                }
                match tx.try_send(i) {
                    Ok(()) => i += 1,
                    Err(e) => {
                        assert!(e.is_full());
                        thread::yield_now();
                    }
                }
            }
        });
        let mut expect = 0;
        let deadline = Instant::now() + Duration::from_secs(20);
        while expect < N {
            assert!(Instant::now() < deadline, "cap={cap}: stuck at {expect}");
            match rx.try_recv() {
                Ok(v) => {
                    assert_eq!(v, expect);
                    expect += 1;
                }
                Err(TryRecvError::Empty) => thread::yield_now(),
                Err(TryRecvError::Disconnected) => panic!("disconnected early"),
            }
        }
        h.join().unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }
}

/// TestMultiConsumer: many producers, many consumers, totals match.
#[test]
fn multi_consumer_totals() {
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 4;
    const N: usize = 10_000;
    for cap in [0usize, 1, 64] {
        let (tx, rx) = bounded::<usize>(cap);
        let (rtx, rrx) = bounded::<(usize, usize)>(CONSUMERS);
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let rx = rx.clone();
                let rtx = rtx.clone();
                thread::spawn(move || {
                    let (mut n, mut s) = (0, 0);
                    for v in &rx {
                        n += 1;
                        s += v;
                    }
                    rtx.send((n, s)).unwrap();
                })
            })
            .collect();
        drop((rx, rtx));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..N {
                        tx.send(p * N + i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        for p in producers {
            p.join().unwrap();
        }
        let (mut n, mut s) = (0, 0);
        for (cn, cs) in rrx.iter() {
            n += cn;
            s += cs;
        }
        let total = PRODUCERS * N;
        assert_eq!(n, total, "cap={cap}");
        assert_eq!(s, total * (total - 1) / 2, "cap={cap}");
        for c in consumers {
            c.join().unwrap();
        }
    }
}

/// Close wakes every parked receiver and every parked sender.
#[test]
fn close_wakes_all_parked() {
    for cap in [0usize, 1, 4] {
        // Receivers parked on an empty channel.
        let (tx, rx) = bounded::<u8>(cap);
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || rx.recv())
            })
            .collect();
        thread::sleep(ms(20));
        tx.close();
        for h in hs {
            assert_eq!(h.join().unwrap(), Err(RecvError));
        }
        // Senders parked on a full channel: closing from another sender wakes them and
        // they get their values back.
        let (tx, rx) = bounded::<u8>(cap);
        for _ in 0..cap {
            tx.send(0).unwrap();
        }
        let hs: Vec<_> = (0..8u8)
            .map(|i| {
                let tx = tx.clone();
                thread::spawn(move || tx.send(i).map_err(|e| e.into_inner()))
            })
            .collect();
        thread::sleep(ms(20));
        tx.close();
        let mut back: Vec<u8> = hs
            .into_iter()
            .map(|h| h.join().unwrap().unwrap_err())
            .collect();
        back.sort();
        assert_eq!(back, (0..8).collect::<Vec<_>>());
        drop(rx);
    }
}

/// Dropping every receiver wakes parked senders with their value.
#[test]
fn receivers_gone_wakes_senders() {
    let (tx, rx) = bounded::<String>(0);
    let h = thread::spawn(move || tx.send("x".into()));
    thread::sleep(ms(20));
    drop(rx);
    assert_eq!(h.join().unwrap().unwrap_err().into_inner(), "x");
}

/// TestChanZeroSize (and struct{} channels): zero-sized values count correctly.
#[test]
fn zero_sized_values() {
    for cap in CAPS {
        let (tx, rx) = bounded::<()>(cap);
        let h = thread::spawn(move || {
            for _ in 0..1000 {
                tx.send(()).unwrap();
            }
        });
        assert_eq!(rx.iter().count(), 1000);
        h.join().unwrap();
    }
    let (tx, rx) = unbounded::<()>();
    for _ in 0..100 {
        tx.send(()).unwrap();
    }
    assert_eq!(rx.len(), 100);
    drop(tx);
    assert_eq!(rx.iter().count(), 100);
}

/// test/chan/daisy-chain-ish (doc/talks "Google I/O 2012" whispers): a long chain of
/// stages each forwarding value+1. On threads we keep it to 500 stages; the 10,000-stage
/// version runs on coroutines in `coroutine_mix.rs`.
#[test]
fn daisy_chain_threads() {
    const STAGES: usize = 500;
    let (first_tx, mut rx) = bounded::<usize>(0);
    let mut hs = Vec::new();
    for _ in 0..STAGES {
        let (tx, next_rx) = bounded::<usize>(0);
        let prev = rx;
        hs.push(thread::spawn(move || {
            let v = prev.recv().unwrap();
            tx.send(v + 1).unwrap();
        }));
        rx = next_rx;
    }
    first_tx.send(1).unwrap();
    assert_eq!(rx.recv(), Ok(STAGES + 1));
    for h in hs {
        h.join().unwrap();
    }
}

/// TestSelfSelect: a select with send and receive on the same channel, run by two
/// threads, never matches with itself and always makes progress.
#[test]
fn self_select() {
    for cap in [0usize, 10] {
        let (tx, rx) = bounded::<usize>(cap);
        let hs: Vec<_> = (0..2)
            .map(|p| {
                let (tx, rx) = (tx.clone(), rx.clone());
                thread::spawn(move || {
                    for i in 0..1000 {
                        if p == 0 || i % 2 == 0 {
                            select! {
                                send(tx, p) -> r => r.unwrap(),
                                recv(rx) -> v => {
                                    if cap == 0 {
                                        assert_ne!(v.unwrap(), p, "matched with itself");
                                    }
                                }
                            }
                        } else {
                            select! {
                                recv(rx) -> v => {
                                    if cap == 0 {
                                        assert_ne!(v.unwrap(), p, "matched with itself");
                                    }
                                }
                                send(tx, p) -> r => r.unwrap(),
                            }
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    }
}

/// TestSelectStress: four channels, senders and receivers mixing plain operations and
/// selects, with the totals checked.
#[test]
fn select_stress_totals() {
    const N: usize = 5_000;
    let chans: Vec<(Sender<usize>, Receiver<usize>)> =
        vec![bounded(0), bounded(0), bounded(3), bounded(10)];
    let sum = Arc::new(AtomicUsize::new(0));
    let mut hs = Vec::new();
    // Plain senders, one per channel.
    for (tx, _) in &chans {
        let tx = tx.clone();
        hs.push(thread::spawn(move || {
            for i in 0..N {
                tx.send(i).unwrap();
            }
        }));
    }
    // One selecting receiver that takes exactly 4*N values from any channel.
    let rxs: Vec<Receiver<usize>> = chans.iter().map(|(_, r)| r.clone()).collect();
    let s = sum.clone();
    hs.push(thread::spawn(move || {
        for _ in 0..4 * N {
            let v = select! {
                recv(rxs[0]) -> v => v.unwrap(),
                recv(rxs[1]) -> v => v.unwrap(),
                recv(rxs[2]) -> v => v.unwrap(),
                recv(rxs[3]) -> v => v.unwrap(),
            };
            s.fetch_add(v, Ordering::Relaxed);
        }
    }));
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(sum.load(Ordering::Relaxed), 4 * N * (N - 1) / 2);
}

/// A nil channel in a select is never chosen; a closed one always is.
#[test]
fn select_never_and_closed() {
    let (tx, rx) = bounded::<i32>(0);
    drop(tx);
    let nil = never::<i32>();
    for _ in 0..100 {
        select! {
            recv(nil) -> _ => panic!("nil channel chosen"),
            recv(rx) -> v => assert_eq!(v, Err(RecvError)),
        }
    }
}
