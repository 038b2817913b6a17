//! Accept under `EMFILE`: the listener backs off (sleeps, no busy loop) and accepts the
//! waiting connection once fds are free again.
//!
//! Alone in its test binary because it lowers the process's fd limit.
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use goro_net::{TcpListener, TcpStream};

fn cpu_time() -> Duration {
    // SAFETY: getrusage fills a live rusage struct.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut ru), 0);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[test]
fn accept_backs_off_on_emfile_and_recovers() {
    goro::spawn(|| ()).join().unwrap(); // start the runtime (its pollers need fds too)
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = goro::spawn(move || {
        let (mut s, _) = l.accept().unwrap(); // hits EMFILE first, then succeeds
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
    });
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(20));

    // Use up every fd below a lowered soft limit.
    // SAFETY: getrlimit/setrlimit with a live rlimit struct.
    let old = unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut r), 0);
        r
    };
    let mut fillers: Vec<OwnedFd> = Vec::new();
    let lowered = libc::rlimit {
        rlim_cur: 256,
        rlim_max: old.rlim_max,
    };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);
    while let Ok(f) = std::fs::File::open("/dev/null") {
        fillers.push(f.into());
    }
    // The connection is already queued, so the parked accept is woken and fails with EMFILE.
    let (c0, t0) = (cpu_time(), Instant::now());
    std::thread::sleep(Duration::from_millis(400));
    let (cpu, wall) = (cpu_time() - c0, t0.elapsed());
    assert!(!server.is_finished(), "accept succeeded without a free fd");
    // A busy retry loop would burn about a core; the back-off sleeps.
    assert!(cpu < wall / 2, "accept spun: {cpu:?} of CPU in {wall:?}");

    drop(fillers);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &old) }, 0);
    client.write_all(b"again").unwrap();
    let mut buf = [0u8; 5];
    client.read_exact(&mut buf).unwrap(); // the backed-off accept resumed
    assert_eq!(&buf, b"again");
    server.join().unwrap();
    // A fresh connection works too.
    let h = goro::spawn(move || TcpStream::connect(addr).is_err());
    assert!(
        h.join().unwrap(),
        "the listener was dropped, connect must fail"
    );
}
