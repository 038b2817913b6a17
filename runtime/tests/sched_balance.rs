//! Balance on two workers (a process of its own, so no other test keeps a worker busy):
//! unstarted coroutines spawned on one worker are stolen by the idle one.
#[test]
fn fan_out_spreads_over_workers() {
    goro::Config::new().workers(2).init().unwrap();
    let root = goro::spawn(|| {
        let handles: Vec<_> = (0..64)
            .map(|_| {
                goro::spawn(|| {
                    let t = std::time::Instant::now();
                    while t.elapsed() < std::time::Duration::from_millis(2) {
                        std::hint::spin_loop();
                    }
                    std::thread::current().id()
                })
            })
            .collect();
        let mut ids: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        ids.sort_by_key(|id| format!("{id:?}"));
        ids.dedup();
        ids.len()
    });
    assert_eq!(
        root.join().unwrap(),
        2,
        "no coroutine was stolen by the idle worker"
    );
    assert!(goro::stats().steals > 0);
}
