//! Name resolution: `ToSocketAddrs` without blocking a worker.
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `addr`. In a coroutine the lookup (which may be a DNS query) runs through
/// `goro::blocking` on the blocking pool, so the worker keeps running other coroutines; on a
/// plain thread it runs inline.
///
/// `ToSocketAddrs` cannot say whether it will block. Socket-address types (`SocketAddr`,
/// `(IpAddr, u16)`, ...) never do and skip the hand-off (`is_literal`); a string, even
/// `"127.0.0.1:80"`, takes it, since telling literals from host names would mean parsing it
/// twice.
pub(crate) fn resolve<A: ToSocketAddrs + Sync>(addr: A) -> io::Result<Vec<SocketAddr>> {
    let v: Vec<SocketAddr> = if goro::in_coroutine() && !is_literal::<A>() {
        goro::blocking(|| addr.to_socket_addrs().map(Iterator::collect))?
    } else {
        addr.to_socket_addrs()?.collect()
    };
    if v.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "goro-net: could not resolve to any address",
        ));
    }
    Ok(v)
}

/// True for the `ToSocketAddrs` types that never do a lookup (socket addresses themselves).
fn is_literal<A>() -> bool {
    use std::any::type_name;
    let t = type_name::<A>().trim_start_matches('&');
    [
        type_name::<SocketAddr>(),
        type_name::<std::net::SocketAddrV4>(),
        type_name::<std::net::SocketAddrV6>(),
        type_name::<(std::net::IpAddr, u16)>(),
        type_name::<(std::net::Ipv4Addr, u16)>(),
        type_name::<(std::net::Ipv6Addr, u16)>(),
        type_name::<&[SocketAddr]>().trim_start_matches('&'),
    ]
    .contains(&t)
}

/// Runs `f` on each address in turn until one succeeds; returns the last error otherwise.
pub(crate) fn each_addr<A: ToSocketAddrs + Sync, T>(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_address_types_skip_the_blocking_hand_off() {
        assert!(is_literal::<SocketAddr>());
        assert!(is_literal::<&SocketAddr>());
        assert!(is_literal::<(std::net::Ipv4Addr, u16)>());
        assert!(!is_literal::<&str>());
        assert!(!is_literal::<String>());
        assert!(!is_literal::<(&str, u16)>());
    }
}
