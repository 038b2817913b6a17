//! Per-flavor API behaviour: len/capacity/is_full, iterators, identity, value drops,
//! auto traits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use goro_chan::{bounded, never, unbounded, Receiver, Sender, TryRecvError, TrySendError};

#[test]
fn len_capacity_full_empty() {
    let (tx, rx) = bounded::<u8>(3);
    assert_eq!((tx.capacity(), rx.capacity()), (Some(3), Some(3)));
    assert!(tx.is_empty() && !tx.is_full());
    for i in 0..3 {
        tx.send(i).unwrap();
    }
    assert_eq!((tx.len(), rx.len()), (3, 3));
    assert!(tx.is_full() && rx.is_full());
    assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)));
    // Wrap around the ring many times.
    for i in 3..1000u32 {
        assert_eq!(rx.recv().unwrap(), ((i - 3) % 256) as u8);
        tx.send(i as u8).unwrap();
    }
    let (tx0, rx0) = bounded::<u8>(0);
    assert_eq!(tx0.capacity(), Some(0));
    assert!(tx0.is_full() && rx0.is_empty());
    let (txu, rxu) = unbounded::<u8>();
    assert_eq!(txu.capacity(), None);
    assert!(!txu.is_full());
    txu.send(1).unwrap();
    assert_eq!(rxu.len(), 1);
}

#[test]
fn iterators() {
    let (tx, rx) = unbounded();
    for i in 0..5 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.try_iter().take(2).collect::<Vec<_>>(), [0, 1]);
    drop(tx);
    assert_eq!((&rx).into_iter().collect::<Vec<_>>(), [2, 3, 4]);
    assert_eq!(rx.into_iter().count(), 0);
}

#[test]
fn same_channel() {
    let (tx, rx) = bounded::<()>(1);
    let (tx2, rx2) = bounded::<()>(1);
    assert!(tx.same_channel(&tx.clone()));
    assert!(rx.same_channel(&rx.clone()));
    assert!(!tx.same_channel(&tx2));
    assert!(!rx.same_channel(&rx2));
    // As crossbeam-channel: every `never()` is the one nil channel.
    let n = never::<()>();
    assert!(n.same_channel(&n.clone()));
    assert!(n.same_channel(&never()));
    assert!(!n.same_channel(&rx));
}

struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn buffered_values_are_dropped_with_the_channel() {
    for cap in [1usize, 5, 64] {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = bounded(cap);
        for _ in 0..cap {
            tx.send(Counted(drops.clone())).unwrap();
        }
        drop(rx.recv().unwrap());
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        drop((tx, rx));
        assert_eq!(drops.load(Ordering::Relaxed), cap, "cap={cap}");
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = unbounded();
    for _ in 0..10 {
        tx.send(Counted(drops.clone())).unwrap();
    }
    drop((tx, rx));
    assert_eq!(drops.load(Ordering::Relaxed), 10);
}

/// A value that records its id in a shared tally when dropped (`None`: a marker).
struct Id(usize, Option<Arc<Vec<AtomicUsize>>>);
impl Drop for Id {
    fn drop(&mut self) {
        if let Some(tally) = &self.1 {
            tally[self.0].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The unbounded flavor reuses the blocks it frees (one spare, reset by the sender that
/// takes it). One value at a time through many blocks: the channel is empty after each
/// receive, also right after `head` enters a reused block. A reused block that kept its
/// old `next` link or `FULL` states would let a receiver claim past `tail` and hand back
/// a value taken long ago.
#[test]
fn unbounded_reused_block_is_empty_again() {
    let (tx, rx) = unbounded::<usize>();
    for i in 0..2_000 {
        tx.send(i).unwrap();
        assert_eq!(rx.try_recv(), Ok(i));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "after value {i}");
        assert_eq!(rx.len(), 0);
    }
}

/// Block reuse under contention: many blocks' worth of values through 4 senders and 4
/// receivers, then a backlog left for the channel's drop. Every value is dropped exactly
/// once, whether a receiver took it or the channel did.
#[test]
fn unbounded_reused_blocks_deliver_and_drop_each_value_once() {
    const SENDERS: usize = 4;
    const PER_SENDER: usize = 20_000;
    const LEFT: usize = 1_000;
    let total = SENDERS * PER_SENDER + LEFT;
    let tally: Arc<Vec<AtomicUsize>> = Arc::new((0..total).map(|_| AtomicUsize::new(0)).collect());
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let t = tally.clone();
    std::thread::spawn(move || {
        let (tx, rx) = unbounded::<Id>();
        let receivers: Vec<_> = (0..4)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || {
                    let mut n = 0;
                    while let Ok(v) = rx.recv() {
                        if v.1.is_none() {
                            // The senders' end-of-round marker: stop, leave the rest.
                            break;
                        }
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let (tx, t) = (tx.clone(), t.clone());
                std::thread::spawn(move || {
                    for i in 0..PER_SENDER {
                        tx.send(Id(s * PER_SENDER + i, Some(t.clone()))).unwrap();
                    }
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        // One marker per receiver, after every value: each receiver stops at one.
        for _ in 0..4 {
            tx.send(Id(0, None)).unwrap();
        }
        let received: usize = receivers.into_iter().map(|r| r.join().unwrap()).sum();
        // A backlog across block boundaries, dropped with the channel.
        for i in 0..LEFT {
            tx.send(Id(SENDERS * PER_SENDER + i, Some(t.clone())))
                .unwrap();
        }
        drop((tx, rx));
        let _ = done_tx.send(received);
    });
    let received = done_rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("unbounded_reused_blocks_deliver_and_drop_each_value_once: hung or panicked");
    assert_eq!(received, SENDERS * PER_SENDER);
    let wrong: Vec<_> = (0..total)
        .filter(|&i| tally[i].load(Ordering::Relaxed) != 1)
        .take(5)
        .collect();
    assert!(
        wrong.is_empty(),
        "values not dropped exactly once: {wrong:?}"
    );
}

#[test]
fn failed_sends_hand_the_value_back() {
    let (tx, rx) = bounded::<String>(0);
    drop(rx);
    assert_eq!(tx.send("a".into()).unwrap_err().into_inner(), "a");
    assert!(tx.is_disconnected());
    let (tx, rx) = unbounded::<String>();
    tx.close();
    assert_eq!(tx.try_send("b".into()).unwrap_err().into_inner(), "b");
    drop(rx);
}

#[test]
fn auto_traits() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Sender<Vec<u8>>>();
    send_sync::<Receiver<Vec<u8>>>();
    // `Cell` is Send but not Sync: channels of it are still Send + Sync (values move).
    send_sync::<Sender<std::cell::Cell<u8>>>();
    send_sync::<Receiver<std::cell::Cell<u8>>>();
}

#[test]
fn an_impossible_capacity_panics_with_a_message_instead_of_aborting() {
    // Go: make(chan T, n) panics "makechan: size out of range".
    for cap in [usize::MAX, usize::MAX / 2, usize::MAX / 64] {
        let err = std::panic::catch_unwind(|| goro_chan::bounded::<u64>(cap))
            .expect_err(&format!("bounded({cap}) did not panic"));
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            msg.contains("capacity out of range"),
            "bounded({cap}): {msg}"
        );
    }
    // A large but possible one still works.
    let (tx, rx) = goro_chan::bounded::<u8>(1 << 20);
    tx.send(7).unwrap();
    assert_eq!(rx.recv(), Ok(7));
}
