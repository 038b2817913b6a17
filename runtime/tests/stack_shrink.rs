//! `goro::shrink_stack`: the pages below the caller's frame go back to the OS, and the live
//! frames above (and the stack's later growth) are untouched.
use std::hint::black_box;

/// Recurses `depth` frames of ~1 KiB each, touching them; returns a checksum.
#[inline(never)]
fn deep(depth: u32) -> u64 {
    let mut buf = [0u8; 1024];
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i as u32 ^ depth) as u8;
    }
    let here: u64 = black_box(&buf).iter().map(|&b| u64::from(b)).sum();
    if depth == 0 {
        here
    } else {
        here + deep(depth - 1)
    }
}

#[test]
fn live_frames_survive_and_the_stack_grows_again() {
    let h = goro::spawn(|| {
        let keep = black_box([0x5au8; 2048]);
        let first = deep(64); // ~64 KiB below us, now dead
        goro::shrink_stack();
        assert!(
            black_box(&keep).iter().all(|&b| b == 0x5a),
            "a live frame was zeroed"
        );
        // The released pages read as zeros and are written afresh: same results.
        assert_eq!(deep(64), first);
        goro::time::sleep(std::time::Duration::from_millis(1)); // park on a shrunk stack
        goro::shrink_stack();
        assert_eq!(deep(64), first);
        keep.iter().map(|&b| u64::from(b)).sum::<u64>()
    });
    assert_eq!(h.join().unwrap(), 0x5a * 2048);
    goro::shrink_stack(); // outside a coroutine: nothing to do
}
