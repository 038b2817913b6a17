//! `select!` and `Select`: arm kinds, fairness, duplicates, opposite orders, timeouts,
//! select-to-select rendezvous. On OS threads; bounded in time and count.

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

use goro_chan::{after, bounded, never, select, tick, unbounded, RecvError, Select};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn all_arm_kinds() {
    let (tx, rx) = bounded::<i32>(1);
    // send arm taken when there is room
    let r = select! {
        send(tx, 1) -> r => { r.unwrap(); "sent" }
        recv(rx) -> _ => "recv",
    };
    assert_eq!(r, "sent");
    // now full: the recv arm
    let r = select! {
        send(tx, 2) -> _ => 0,
        recv(rx) -> v => v.unwrap(),
    };
    assert_eq!(r, 1);
    // nothing ready: default
    let r = select! {
        recv(rx) -> _ => "recv",
        default => "default",
    };
    assert_eq!(r, "default");
    // nothing ready within the timeout
    let start = Instant::now();
    let r = select! {
        recv(rx) -> _ => "recv",
        default(ms(20)) => "timeout",
    };
    assert_eq!(r, "timeout");
    assert!(start.elapsed() >= ms(20));
    // only a default
    let r = select! { default => 5 };
    assert_eq!(r, 5);
}

#[test]
fn send_value_evaluated_only_when_chosen() {
    let (tx, _rx) = bounded::<i32>(0);
    let mut evaluated = false;
    select! {
        send(tx, { evaluated = true; 1 }) -> _ => {},
        default => {},
    }
    assert!(!evaluated);
}

#[test]
fn closed_channel_arm_is_ready() {
    let (tx, rx) = unbounded::<i32>();
    tx.send(1).unwrap();
    drop(tx);
    let a = select! { recv(rx) -> v => v };
    assert_eq!(a, Ok(1));
    let b = select! { recv(rx) -> v => v };
    assert_eq!(b, Err(RecvError));
    // A send arm on a channel whose receivers are gone completes with the value back.
    let (tx, rx) = bounded::<i32>(0);
    drop(rx);
    let r = select! { send(tx, 9) -> r => r };
    assert_eq!(r.unwrap_err().into_inner(), 9);
}

#[test]
fn never_arm_is_never_chosen() {
    let nil = never::<()>();
    let r = select! {
        recv(nil) -> _ => "nil",
        default(ms(10)) => "timeout",
    };
    assert_eq!(r, "timeout");
}

#[test]
fn duplicate_channel_in_one_select() {
    // TestSelectDuplicateChannel: the same channel in two arms, woken by one send.
    for cap in [0usize, 1] {
        let (tx, rx) = bounded::<i32>(cap);
        let h = thread::spawn(move || {
            let mut n = 0;
            for _ in 0..200 {
                select! {
                    recv(rx) -> v => n += v.unwrap(),
                    recv(rx) -> v => n += v.unwrap(),
                }
            }
            n
        });
        for _ in 0..200 {
            tx.send(1).unwrap();
        }
        assert_eq!(h.join().unwrap(), 200);
    }
}

#[test]
fn fairness() {
    // TestSelectFairness: with all arms ready, each is chosen about equally often.
    const TRIALS: usize = 10_000;
    let chans: Vec<_> = (0..4).map(|_| unbounded::<usize>()).collect();
    for (i, (tx, _)) in chans.iter().enumerate() {
        for _ in 0..TRIALS {
            tx.send(i).unwrap();
        }
    }
    let mut counts = [0usize; 4];
    for _ in 0..TRIALS {
        let i = select! {
            recv(chans[0].1) -> v => v.unwrap(),
            recv(chans[1].1) -> v => v.unwrap(),
            recv(chans[2].1) -> v => v.unwrap(),
            recv(chans[3].1) -> v => v.unwrap(),
        };
        counts[i] += 1;
    }
    // Binomial(10000, 1/4): sd ≈ 43; ±250 is ~5.8 sd, so a fair select essentially never
    // fails, while "always the first ready arm" fails at once.
    for c in counts {
        assert!((2250..=2750).contains(&c), "unfair: {counts:?}");
    }
    // Two ready arms out of three: each about half (not 2/3 : 1/3 as a random rotation
    // would give).
    let (a_tx, a) = unbounded::<u8>();
    let (_b_tx, b) = unbounded::<u8>();
    let (c_tx, c) = unbounded::<u8>();
    for _ in 0..TRIALS {
        a_tx.send(0).unwrap();
        c_tx.send(2).unwrap();
    }
    let mut got = HashMap::new();
    for _ in 0..TRIALS {
        let v = select! {
            recv(a) -> v => v.unwrap(),
            recv(b) -> v => v.unwrap(),
            recv(c) -> v => v.unwrap(),
        };
        *got.entry(v).or_insert(0usize) += 1;
    }
    let a_n = got[&0];
    assert!((4700..=5300).contains(&a_n), "unfair two of three: {got:?}");
}

#[test]
fn opposite_orders_do_not_deadlock() {
    // Two threads select over the same two unbuffered channels, in opposite orders, one
    // sending and one receiving; plus plain partners. Must finish.
    let (tx1, rx1) = bounded::<i32>(0);
    let (tx2, rx2) = bounded::<i32>(0);
    const N: usize = 2000;
    let h1 = {
        let (tx1, tx2) = (tx1.clone(), tx2.clone());
        thread::spawn(move || {
            for i in 0..N as i32 {
                select! {
                    send(tx1, i) -> r => r.unwrap(),
                    send(tx2, i) -> r => r.unwrap(),
                }
            }
        })
    };
    let h2 = {
        let (rx1, rx2) = (rx1.clone(), rx2.clone());
        thread::spawn(move || {
            let mut n = 0;
            for _ in 0..N {
                select! {
                    recv(rx2) -> v => { v.unwrap(); n += 1 }
                    recv(rx1) -> v => { v.unwrap(); n += 1 }
                }
            }
            n
        })
    };
    h1.join().unwrap();
    assert_eq!(h2.join().unwrap(), N);
    drop((tx1, tx2, rx1, rx2));
}

#[test]
fn select_to_select_rendezvous() {
    // Both sides are selects on unbuffered channels (the heap-packet paths), with values
    // checked and counted.
    const N: usize = 3000;
    let (tx, rx) = bounded::<usize>(0);
    let (dtx, drx) = bounded::<()>(0);
    let sender = thread::spawn(move || {
        for i in 0..N {
            select! {
                send(tx, i) -> r => r.unwrap(),
                recv(drx) -> _ => unreachable!(),
            }
        }
    });
    let mut expect = 0;
    let nil = never::<()>();
    while expect < N {
        select! {
            recv(rx) -> v => { assert_eq!(v.unwrap(), expect); expect += 1; }
            recv(nil) -> _ => unreachable!(),
        }
    }
    sender.join().unwrap();
    drop(dtx);
}

#[test]
fn plain_ops_against_selects() {
    // A select's send arm matched by plain recv, and a select's recv arm by plain send.
    const N: usize = 2000;
    let (tx, rx) = bounded::<usize>(0);
    let (tx2, rx2) = bounded::<usize>(0);
    let h = thread::spawn(move || {
        let mut sum = 0;
        for i in 0..N {
            select! {
                send(tx, i) -> r => r.unwrap(),
                default(Duration::from_secs(20)) => panic!("stuck"),
            }
            select! {
                recv(rx2) -> v => sum += v.unwrap(),
                default(Duration::from_secs(20)) => panic!("stuck"),
            }
        }
        sum
    });
    let mut got = 0;
    for i in 0..N {
        got += rx.recv().unwrap();
        tx2.send(i).unwrap();
    }
    assert_eq!(got, N * (N - 1) / 2);
    assert_eq!(h.join().unwrap(), N * (N - 1) / 2);
}

#[test]
fn select_with_after_and_tick() {
    let (_tx, rx) = bounded::<()>(0);
    let start = Instant::now();
    let r = select! {
        recv(rx) -> _ => "rx",
        recv(after(ms(15))) -> t => { assert!(t.unwrap() >= start + ms(15)); "after" }
    };
    assert_eq!(r, "after");
    let ticker = tick(ms(5));
    let mut n = 0;
    while n < 3 {
        select! {
            recv(ticker) -> t => { t.unwrap(); n += 1; }
            recv(rx) -> _ => unreachable!(),
        }
    }
}

#[test]
fn dynamic_select() {
    let chans: Vec<_> = (0..8).map(|_| bounded::<usize>(1)).collect();
    chans[5].0.send(55).unwrap();
    let mut sel = Select::new();
    for (_, rx) in &chans {
        sel.recv(rx);
    }
    let op = sel.select();
    let i = op.index();
    assert_eq!(i, 5);
    assert_eq!(op.recv(&chans[i].1), Ok(55));
    assert!(sel.try_select().is_err());
    assert!(sel.select_timeout(ms(5)).is_err());
    // A blocked dynamic select woken from another thread.
    let tx = chans[2].0.clone();
    let h = thread::spawn(move || {
        thread::sleep(ms(10));
        tx.send(22).unwrap();
    });
    let op = sel.select();
    assert_eq!(op.index(), 2);
    assert_eq!(op.recv(&chans[2].1), Ok(22));
    h.join().unwrap();
}

#[test]
#[should_panic(expected = "completed on the channel it was selected on")]
fn selected_operation_on_wrong_channel_panics() {
    let (tx1, rx1) = unbounded::<i32>();
    let (_tx2, rx2) = unbounded::<i32>();
    tx1.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx1);
    let _ = sel.select().recv(&rx2);
}

#[test]
fn empty_select_with_timeout() {
    let start = Instant::now();
    let r = select! { default(ms(10)) => 1 };
    assert_eq!(r, 1);
    assert!(start.elapsed() >= ms(10));
}

#[test]
fn many_waiters_on_one_channel_in_selects() {
    // Many threads parked in selects on the same two channels; every value is taken once.
    let (tx_a, rx_a) = bounded::<usize>(0);
    let (tx_b, rx_b) = bounded::<usize>(2);
    let hs: Vec<_> = (0..8)
        .map(|_| {
            let (a, b) = (rx_a.clone(), rx_b.clone());
            thread::spawn(move || {
                let mut s = 0;
                loop {
                    select! {
                        recv(a) -> v => match v { Ok(v) => s += v, Err(_) => return s },
                        recv(b) -> v => match v { Ok(v) => s += v, Err(_) => return s },
                    }
                }
            })
        })
        .collect();
    for i in 0..1000 {
        if i % 2 == 0 {
            tx_a.send(i).unwrap();
        } else {
            tx_b.send(i).unwrap();
        }
    }
    drop(tx_a);
    // rx_b stays open until its buffer drains: close it too.
    tx_b.close();
    let total: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 1000 * 999 / 2);
}
