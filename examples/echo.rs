//! TCP echo server: one coroutine per connection, a pooled 4 KiB buffer, blocking-style code.
//!
//! ```text
//! cargo run --release --example echo -- --addr 127.0.0.1:19003
//! ```
//!
//! The Go original (../shared/peers/go/echo) is `for { c, _ := ln.Accept(); go handle(c) }`
//! with a Read/Write loop; this is the same program. Each connection's coroutine is placed on
//! the worker with the fewest live connections (`goro_net::spawn_balanced`; plain `go!` works
//! too, leaving the balance to work stealing).
use std::io::{Read, Write};

use goro_net::{TcpListener, TcpStream};

fn handle(mut stream: TcpStream) {
    let mut buf = goro_net::pool::get(4096);
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return, // peer closed
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(_) => return, // reset or timed out: end this connection only
        }
    }
}

fn main() {
    let mut addr = String::from("127.0.0.1:19003");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--addr" => addr = args.next().expect("--addr needs a value"),
            other => {
                eprintln!("usage: echo [--addr HOST:PORT] (unknown argument {other})");
                std::process::exit(2);
            }
        }
    }
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
        eprintln!("echo: cannot listen on {addr}: {e}");
        std::process::exit(1);
    });
    eprintln!("echo: listening on {addr}");
    let server = goro::go!(move || {
        for stream in listener.incoming() {
            match stream {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    goro_net::spawn_balanced(move || handle(s));
                }
                Err(e) => eprintln!("echo: accept: {e}"),
            }
        }
    });
    let _ = server.join();
}
