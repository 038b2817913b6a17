//! UDP and Unix-domain round trips, between coroutines and plain threads, with timeouts.
use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

use goro_net::{UdpSocket, UnixDatagram, UnixListener, UnixStream};

fn temp_path(tag: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("goro-net-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn udp_round_trip_and_recv_timeout() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let srv = goro::spawn(move || {
        server
            .set_read_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        let mut buf = [0u8; 64];
        // Nothing sent yet: times out, and the socket stays usable.
        assert_eq!(
            server.recv_from(&mut buf).unwrap_err().kind(),
            ErrorKind::TimedOut
        );
        server.set_read_timeout(None).unwrap();
        for _ in 0..100 {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            server.send_to(&buf[..n], from).unwrap();
        }
    });
    std::thread::sleep(Duration::from_millis(60));
    let client = goro::spawn(move || {
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.connect(addr).unwrap();
        assert_eq!(c.peer_addr().unwrap(), addr);
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        for i in 0..100u32 {
            let msg = i.to_le_bytes();
            c.send(&msg).unwrap();
            let mut back = [0u8; 8];
            let n = c.recv(&mut back).unwrap();
            assert_eq!(&back[..n], &msg);
        }
    });
    client.join().unwrap();
    srv.join().unwrap();
}

#[test]
fn unix_stream_listener_and_pair() {
    let path = temp_path("stream");
    let l = UnixListener::bind(&path).unwrap();
    let srv = goro::spawn(move || {
        for s in l.incoming().take(3) {
            let mut s = s.unwrap();
            goro::spawn(move || {
                let mut buf = [0u8; 1024];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => s.write_all(&buf[..n]).unwrap(),
                    }
                }
            });
        }
    });
    let clients: Vec<_> = (0..3u8)
        .map(|k| {
            let path = path.clone();
            goro::spawn(move || {
                let mut c = UnixStream::connect(&path).unwrap();
                let msg = vec![k; 100_000];
                let w = c.try_clone().unwrap();
                let writer = goro::spawn(move || (&w).write_all(&msg).unwrap());
                let mut back = vec![0u8; 100_000];
                c.read_exact(&mut back).unwrap();
                writer.join().unwrap();
                assert!(back.iter().all(|&b| b == k));
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    srv.join().unwrap();
    std::fs::remove_file(&path).unwrap();

    let (a, b) = UnixStream::pair().unwrap();
    let h = goro::spawn(move || {
        let mut buf = [0u8; 5];
        (&a).read_exact(&mut buf).unwrap();
        buf
    });
    (&b).write_all(b"pair!").unwrap(); // from this plain thread
    assert_eq!(&h.join().unwrap(), b"pair!");
}

#[test]
fn unix_datagram_round_trip() {
    let pa = temp_path("dgram-a");
    let pb = temp_path("dgram-b");
    let a = UnixDatagram::bind(&pa).unwrap();
    let b = UnixDatagram::bind(&pb).unwrap();
    let pa2 = pa.clone();
    let h = goro::spawn(move || {
        let mut buf = [0u8; 16];
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!(from.as_pathname(), Some(pa2.as_path()));
        b.send_to(&buf[..n], &pa2).unwrap();
    });
    a.send_to(b"dgram", &pb).unwrap();
    let mut buf = [0u8; 16];
    let n = a.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"dgram");
    h.join().unwrap();
    let (x, y) = UnixDatagram::pair().unwrap();
    x.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(x.recv(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);
    y.send(b"ok").unwrap();
    assert_eq!(x.recv(&mut buf).unwrap(), 2);
    std::fs::remove_file(&pa).unwrap();
    std::fs::remove_file(&pb).unwrap();
}
