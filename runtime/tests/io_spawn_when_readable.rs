//! `PollFd::spawn_when_readable` on real fds (socketpairs): the coroutine starts only once
//! the fd is readable, closed or dropped, on the fd's own worker, and a waiting fd holds no
//! stack.
use std::io::{ErrorKind, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use goro::io::PollFd;

fn pair() -> (Arc<PollFd>, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    (Arc::new(PollFd::new(OwnedFd::from(a)).unwrap()), b)
}

#[test]
fn starts_once_data_arrives_and_reads_it() {
    let (a, mut b) = pair();
    let started = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let (fd, flag) = (a.clone(), started.clone());
    a.spawn_when_readable(move || {
        flag.store(true, Ordering::SeqCst);
        let mut buf = [0u8; 16];
        let n = fd.read(&mut buf).unwrap();
        tx.send(buf[..n].to_vec()).unwrap();
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        !started.load(Ordering::SeqCst),
        "started before the fd was readable"
    );
    b.write_all(b"ping").unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), b"ping");
}

#[test]
fn starts_at_once_when_already_readable() {
    let (a, mut b) = pair();
    b.write_all(b"early").unwrap();
    // The data is there before the fd is even registered: registering reports it.
    let (tx, rx) = mpsc::channel();
    let fd = a.clone();
    a.spawn_when_readable(move || {
        let mut buf = [0u8; 16];
        tx.send(fd.read(&mut buf).map(|n| buf[..n].to_vec()).unwrap())
            .unwrap();
    })
    .unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), b"early");
}

#[test]
fn close_starts_it_and_its_read_fails() {
    let (a, _b) = pair();
    let (tx, rx) = mpsc::channel();
    let fd = a.clone();
    a.spawn_when_readable(move || {
        let mut buf = [0u8; 4];
        tx.send(fd.read(&mut buf).map_err(|e| e.kind())).unwrap();
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    a.close();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        Err(ErrorKind::NotConnected)
    );
    // A closed fd takes no more waiters.
    assert!(a.spawn_when_readable(|| unreachable!()).is_err());
}

#[test]
fn dropping_the_fd_starts_it() {
    let (a, _b) = pair();
    let a = Arc::into_inner(a).unwrap();
    let (tx, rx) = mpsc::channel();
    a.spawn_when_readable(move || tx.send("started").unwrap())
        .unwrap();
    drop(a);
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "started");
}

#[test]
fn runs_on_the_worker_that_polls_the_fd() {
    goro::Config::new().workers(2).init().ok();
    if goro::stats().workers < 2 {
        return; // another test started the runtime with one worker
    }
    for home in 0..2 {
        let (a, mut b) = pair();
        let (tx, rx) = mpsc::channel();
        let fd = a.clone();
        goro::Builder::new()
            .worker_hint(home)
            .spawn(move || {
                // The first wait registers the fd with this worker's poller.
                let fd2 = fd.clone();
                fd.spawn_when_readable(move || {
                    let mut buf = [0u8; 1];
                    fd2.read(&mut buf).unwrap();
                    tx.send(goro::worker_index()).unwrap();
                })
                .unwrap();
            })
            .unwrap()
            .join()
            .unwrap();
        b.write_all(b"x").unwrap();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            Some(home)
        );
        drop(a);
    }
}

#[test]
fn waiting_fds_hold_no_stacks() {
    const N: usize = 2000;
    let before = goro::stats().stacks;
    let (tx, rx) = mpsc::channel();
    let mut peers = Vec::new();
    for i in 0..N {
        let (a, b) = pair();
        let (fd, tx) = (a.clone(), tx.clone());
        a.spawn_when_readable(move || {
            let mut buf = [0u8; 8];
            let n = fd.read(&mut buf).unwrap();
            tx.send((i, n)).unwrap();
        })
        .unwrap();
        peers.push(b);
    }
    let waiting = goro::stats().stacks;
    assert!(
        waiting < before + N / 4,
        "{N} waiting fds hold stacks: {before} before, {waiting} now"
    );
    for b in &mut peers {
        b.write_all(b"go").unwrap();
    }
    let mut seen = vec![false; N];
    for _ in 0..N {
        let (i, n) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(n, 2);
        assert!(!seen[i], "coroutine {i} ran twice");
        seen[i] = true;
    }
}
