//! Channels between goro coroutines, and between coroutines and OS threads. Bounded in
//! time and count; nothing asserts a speed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use goro::go;
use goro_chan::{after, bounded, never, select, tick, unbounded, RecvError};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn unbuffered_pingpong_between_coroutines() {
    let (ping_tx, ping_rx) = bounded::<u64>(0);
    let (pong_tx, pong_rx) = bounded::<u64>(0);
    let echo = go!(move || {
        for v in &ping_rx {
            pong_tx.send(v + 1).unwrap();
        }
    });
    let main = go!(move || {
        for i in 0..20_000u64 {
            ping_tx.send(i).unwrap();
            assert_eq!(pong_rx.recv(), Ok(i + 1));
        }
    });
    main.join().unwrap();
    echo.join().unwrap();
}

/// The 10,000-stage daisy chain (Go's "whispers"): one coroutine per stage, each
/// forwarding value+1 over unbuffered channels.
#[test]
fn daisy_chain_10000_coroutines() {
    const STAGES: usize = 10_000;
    let (first_tx, mut rx) = bounded::<usize>(0);
    for _ in 0..STAGES {
        let (tx, next_rx) = bounded::<usize>(0);
        let prev = rx;
        go!(move || {
            let v = prev.recv().unwrap();
            tx.send(v + 1).unwrap();
        });
        rx = next_rx;
    }
    // Feed from a coroutine, read from the test thread (a thread/coroutine mix as well).
    go!(move || first_tx.send(1).unwrap());
    assert_eq!(rx.recv(), Ok(STAGES + 1));
}

#[test]
fn thread_and_coroutine_mixed_on_one_channel() {
    for cap in [0usize, 1, 16] {
        let (tx, rx) = bounded::<usize>(cap);
        const N: usize = 5_000;
        // Two coroutine senders and two thread senders; one coroutine receiver and one
        // thread receiver.
        let mut senders = Vec::new();
        for k in 0..2 {
            let tx = tx.clone();
            senders.push(go!(move || {
                for i in 0..N {
                    tx.send(k * N + i).unwrap();
                }
            }));
        }
        let thread_senders: Vec<_> = (2..4)
            .map(|k| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..N {
                        tx.send(k * N + i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let rx2 = rx.clone();
        let co_recv = go!(move || rx2
            .iter()
            .fold((0usize, 0usize), |(n, s), v| (n + 1, s + v)));
        let th_recv =
            thread::spawn(move || rx.iter().fold((0usize, 0usize), |(n, s), v| (n + 1, s + v)));
        for s in senders {
            s.join().unwrap();
        }
        for s in thread_senders {
            s.join().unwrap();
        }
        let (n1, s1) = co_recv.join().unwrap();
        let (n2, s2) = th_recv.join().unwrap();
        let total = 4 * N;
        assert_eq!(n1 + n2, total, "cap={cap}");
        assert_eq!(s1 + s2, total * (total - 1) / 2, "cap={cap}");
    }
}

/// Stress under all workers: many coroutine producers and consumers on bounded,
/// unbuffered and unbounded channels; totals checked.
#[test]
fn stress_all_workers_checked_totals() {
    const PRODUCERS: usize = 32;
    const CONSUMERS: usize = 32;
    const N: usize = 2_000;
    for kind in 0..3 {
        let (tx, rx) = match kind {
            0 => bounded::<usize>(0),
            1 => bounded::<usize>(8),
            _ => unbounded::<usize>(),
        };
        let count = Arc::new(AtomicUsize::new(0));
        let sum = Arc::new(AtomicUsize::new(0));
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let rx = rx.clone();
                let (count, sum) = (count.clone(), sum.clone());
                go!(move || {
                    for v in &rx {
                        count.fetch_add(1, Ordering::Relaxed);
                        sum.fetch_add(v, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        drop(rx);
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = tx.clone();
                go!(move || {
                    for i in 0..N {
                        tx.send(p * N + i).unwrap();
                        if i % 97 == 0 {
                            goro::yield_now();
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        for p in producers {
            p.join().unwrap();
        }
        for c in consumers {
            c.join().unwrap();
        }
        let total = PRODUCERS * N;
        assert_eq!(count.load(Ordering::Relaxed), total, "kind={kind}");
        assert_eq!(
            sum.load(Ordering::Relaxed),
            total * (total - 1) / 2,
            "kind={kind}"
        );
    }
}

#[test]
fn close_wakes_every_parked_coroutine() {
    const WAITERS: usize = 10_000;
    let (tx, rx) = bounded::<()>(0);
    let woke = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..WAITERS)
        .map(|_| {
            let rx = rx.clone();
            let woke = woke.clone();
            go!(move || {
                assert_eq!(rx.recv(), Err(RecvError));
                woke.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    // Wait until they are parked (bounded), then close.
    let deadline = Instant::now() + Duration::from_secs(10);
    while goro::stats().parked < WAITERS as u64 && Instant::now() < deadline {
        thread::sleep(ms(5));
    }
    tx.close();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(woke.load(Ordering::Relaxed), WAITERS);
    drop(rx);
}

#[test]
fn select_in_coroutines_with_timers() {
    let h = go!(|| {
        let (tx, rx) = bounded::<i32>(0);
        let nil = never::<i32>();
        // Timeout through `after`.
        let start = Instant::now();
        let r = select! {
            recv(rx) -> _ => "rx",
            recv(nil) -> _ => "nil",
            recv(after(ms(20))) -> _ => "after",
        };
        assert_eq!(r, "after");
        assert!(start.elapsed() >= ms(20));
        // A default(timeout) arm.
        let r = select! {
            recv(rx) -> _ => 1,
            default(ms(10)) => 2,
        };
        assert_eq!(r, 2);
        // Ticks.
        let t = tick(ms(3));
        for _ in 0..3 {
            t.recv().unwrap();
        }
        // A sender coroutine woken through a select's receive arm.
        let s = go!(move || tx.send(5).unwrap());
        let v = select! {
            recv(rx) -> v => v.unwrap(),
            recv(nil) -> _ => unreachable!(),
        };
        s.join().unwrap();
        v
    });
    assert_eq!(h.join().unwrap(), 5);
}

#[test]
fn timeouts_inside_coroutines() {
    let h = go!(|| {
        let (tx, rx) = bounded::<i32>(0);
        assert!(rx.recv_timeout(ms(10)).unwrap_err().is_timeout());
        assert!(tx.send_timeout(1, ms(10)).unwrap_err().is_timeout());
        let (tx, rx) = bounded::<i32>(1);
        tx.send(1).unwrap();
        assert!(tx.send_timeout(2, ms(10)).unwrap_err().is_timeout());
        assert_eq!(rx.recv_timeout(ms(10)), Ok(1));
    });
    h.join().unwrap();
}

#[test]
fn select_fan_in_many_coroutines() {
    // Select over 4 channels in a coroutine, fed by 4 coroutines; opposite-order selects
    // on the sending side.
    const N: usize = 2_000;
    let chans: Vec<_> = (0..4).map(bounded::<usize>).collect();
    let txs: Vec<_> = chans.iter().map(|(t, _)| t.clone()).collect();
    let rxs: Vec<_> = chans.iter().map(|(_, r)| r.clone()).collect();
    drop(chans);
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let txs = txs.clone();
            go!(move || {
                for i in 0..N {
                    if p % 2 == 0 {
                        select! {
                            send(txs[0], i) -> r => r.unwrap(),
                            send(txs[1], i) -> r => r.unwrap(),
                            send(txs[2], i) -> r => r.unwrap(),
                            send(txs[3], i) -> r => r.unwrap(),
                        }
                    } else {
                        select! {
                            send(txs[3], i) -> r => r.unwrap(),
                            send(txs[2], i) -> r => r.unwrap(),
                            send(txs[1], i) -> r => r.unwrap(),
                            send(txs[0], i) -> r => r.unwrap(),
                        }
                    }
                }
            })
        })
        .collect();
    drop(txs);
    let consumer = go!(move || {
        // Once the producers are done, a drained channel is disconnected and counts as
        // ready (Go: a closed channel is always ready), so skip those results.
        let (mut s, mut n) = (0, 0);
        while n < 4 * N {
            let v = select! {
                recv(rxs[0]) -> v => v,
                recv(rxs[1]) -> v => v,
                recv(rxs[2]) -> v => v,
                recv(rxs[3]) -> v => v,
            };
            if let Ok(v) = v {
                s += v;
                n += 1;
            }
        }
        s
    });
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(consumer.join().unwrap(), 4 * N * (N - 1) / 2);
}
