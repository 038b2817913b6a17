//! `after`, `at`, `tick`, `never`: Go's `time.After`, `time.Tick` and the nil channel.

use std::thread;
use std::time::{Duration, Instant};

use goro_chan::{after, at, never, select, tick, RecvTimeoutError, TryRecvError};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn after_delivers_once_then_blocks() {
    let start = Instant::now();
    let rx = after(ms(10));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let t = rx.recv().unwrap();
    assert!(t >= start + ms(10));
    assert!(start.elapsed() >= ms(10));
    // Delivered once; after that the channel never delivers again (Go: buffer drained).
    assert_eq!(rx.recv_timeout(ms(20)), Err(RecvTimeoutError::Timeout));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn after_value_waits_in_buffer() {
    let rx = after(ms(5));
    thread::sleep(ms(20));
    assert_eq!(rx.len(), 1);
    assert!(rx.try_recv().is_ok());
    assert_eq!(rx.len(), 0);
}

#[test]
fn at_in_the_past_is_ready_at_once() {
    let rx = at(Instant::now());
    assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok());
}

#[test]
fn after_shared_by_clones_delivers_to_one() {
    let rx = after(ms(5));
    let rx2 = rx.clone();
    let h = thread::spawn(move || rx2.recv_timeout(ms(200)).is_ok());
    let mine = rx.recv_timeout(ms(200)).is_ok();
    let theirs = h.join().unwrap();
    assert!(mine ^ theirs, "exactly one receiver gets the value");
}

#[test]
fn tick_delivers_periodically() {
    let start = Instant::now();
    let rx = tick(ms(5));
    let mut last = start;
    for k in 1..=5u32 {
        let t = rx.recv().unwrap();
        assert!(t > last);
        assert!(t >= start + ms(5) * k);
        last = t;
    }
}

#[test]
fn tick_drops_ticks_for_a_slow_receiver() {
    // Like Go's ticker: one tick is buffered, the rest are dropped; after taking the stale
    // one, the next comes on the schedule, not in a burst.
    let rx = tick(ms(5));
    thread::sleep(ms(60));
    assert!(rx.try_recv().is_ok(), "one tick buffered");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "the rest dropped");
    assert!(rx.recv_timeout(ms(500)).is_ok());
}

#[test]
fn tick_zero_ticks_continuously() {
    // As crossbeam-channel's `tick(0)` (Go panics instead): always ready.
    let rx = tick(Duration::ZERO);
    for _ in 0..3 {
        let before = Instant::now();
        let t = rx.try_recv().unwrap();
        assert!(t >= before);
    }
    assert!(rx.recv().is_ok());
    select! {
        recv(rx) -> t => assert!(t.is_ok()),
        default => panic!("a zero-period ticker is always ready"),
    }
}

#[test]
fn after_zero_is_ready_at_once_and_delivers_its_deadline() {
    let start = Instant::now();
    let rx = after(Duration::ZERO);
    let t = rx.try_recv().expect("ready without waiting for a timer");
    assert!(t >= start && t <= Instant::now());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn never_never_delivers() {
    let rx = never::<String>();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let start = Instant::now();
    assert_eq!(rx.recv_timeout(ms(10)), Err(RecvTimeoutError::Timeout));
    assert!(start.elapsed() >= ms(10));
    assert_eq!(rx.capacity(), Some(0));
}

#[test]
fn timers_work_inside_coroutines() {
    goro::spawn(|| {
        let start = Instant::now();
        after(ms(10)).recv().unwrap();
        assert!(start.elapsed() >= ms(10));
        let t = tick(ms(2));
        t.recv().unwrap();
        t.recv().unwrap();
    })
    .join()
    .unwrap();
}

#[test]
fn durations_past_any_instant_mean_never() {
    // Duration::MAX cannot be added to an Instant; these must not panic, and never fire.
    let ticker = tick(Duration::MAX);
    let later = after(Duration::MAX);
    assert_eq!(ticker.recv_timeout(ms(20)), Err(RecvTimeoutError::Timeout));
    assert_eq!(later.try_recv(), Err(TryRecvError::Empty));
}
