//! goro::blocking: results, borrowing the caller's stack, panics.
use std::time::Duration;

#[test]
fn returns_the_result() {
    assert_eq!(goro::blocking(|| 6 * 7), 42);
}

#[test]
fn f_may_borrow_a_local_mut_vec() {
    let mut v = vec![1, 2];
    let n = goro::blocking(|| {
        std::thread::sleep(Duration::from_millis(5));
        v.push(3);
        v.len()
    });
    assert_eq!(n, 3);
    assert_eq!(v, [1, 2, 3]);
}

#[test]
fn a_panic_in_f_propagates_to_the_caller() {
    let r = std::panic::catch_unwind(|| goro::blocking(|| -> u32 { panic!("boom in blocking") }));
    let payload = r.expect_err("the panic must reach the caller");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom in blocking"));
    // The pool survives a panicking job.
    assert_eq!(goro::blocking(|| 1), 1);
}
