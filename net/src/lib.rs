//! goro-net: blocking-style sockets for goro coroutines.
//!
//! This crate will hold `TcpListener`, `TcpStream`, `UdpSocket`, the Unix socket types, a
//! `sync.Pool`-style buffer pool and a small HTTP/1.1 server and client, all written so that a
//! coroutine calling `read` parks on `EAGAIN` instead of blocking its worker thread. The
//! netpoll they stand on lives in the `goro` crate. Nothing is exported yet: the sockets land
//! with the netpoll work (see the project's issue tracker).
#![warn(missing_docs)]
