//! `coroutine_local!`: one value per coroutine, dropped when it ends.
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};

static DROPS: AtomicUsize = AtomicUsize::new(0);

struct Tracked(u32);
impl Drop for Tracked {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

goro::coroutine_local! {
    static COUNTER: Cell<u32> = Cell::new(0);
    static NAMES: RefCell<Vec<String>> = RefCell::new(Vec::new());
    static TRACKED: Tracked = Tracked(7);
}

#[test]
fn each_coroutine_has_its_own_value_across_parks() {
    let hs: Vec<_> = (0..200u32)
        .map(|i| {
            goro::spawn(move || {
                for _ in 0..i {
                    COUNTER.with(|c| c.set(c.get() + 1));
                    goro::yield_now(); // other coroutines of this worker run in between
                }
                NAMES.with(|n| n.borrow_mut().push(format!("c{i}")));
                (COUNTER.with(Cell::get), NAMES.with(|n| n.borrow().len()))
            })
        })
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), (i as u32, 1));
    }
}

#[test]
fn values_are_dropped_when_the_coroutine_ends() {
    let before = DROPS.load(Ordering::SeqCst);
    let hs: Vec<_> = (0..10)
        .map(|_| goro::spawn(|| TRACKED.with(|t| t.0)))
        .collect();
    for h in hs {
        assert_eq!(h.join().unwrap(), 7);
    }
    // `join` returns once the result is stored, which happens after the locals are dropped.
    assert_eq!(DROPS.load(Ordering::SeqCst) - before, 10);
}

#[test]
fn plain_threads_get_their_own_value() {
    COUNTER.with(|c| c.set(41));
    let other = std::thread::spawn(|| COUNTER.with(Cell::get))
        .join()
        .unwrap();
    assert_eq!(other, 0);
    assert_eq!(COUNTER.with(Cell::get), 41);
    assert_eq!(goro::spawn(|| COUNTER.with(Cell::get)).join().unwrap(), 0);
}

#[test]
fn nested_with_on_another_key_works() {
    let v = goro::spawn(|| {
        COUNTER.with(|c| {
            NAMES.with(|n| {
                n.borrow_mut().push("x".into());
                c.set(5);
                c.get() as usize + n.borrow().len()
            })
        })
    })
    .join()
    .unwrap();
    assert_eq!(v, 6);
}
