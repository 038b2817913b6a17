//! Name resolution: `ToSocketAddrs` without blocking a worker.
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `addr`. Literal addresses are parsed in place; anything that may need DNS runs
/// the resolver off the worker threads, so other coroutines keep running meanwhile.
pub(crate) fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    // TODO(blocking): run this through `goro::blocking` once it lands in main; until then a
    // DNS lookup blocks the calling worker (literal addresses never do).
    let v: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    if v.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "goro-net: could not resolve to any address",
        ));
    }
    Ok(v)
}

/// Runs `f` on each address in turn until one succeeds; returns the last error otherwise.
pub(crate) fn each_addr<A: ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in resolve(addr)? {
        match f(&a) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no addresses")))
}
