//! What every goro-net socket type shares: timeouts, deadlines, `close`, and the raw-fd traits.
//!
//! Each socket type is a [`PollFd`](goro::io::PollFd) in a field named `inner`; this macro
//! gives it the same surface, documented once.

/// Implements the shared methods and fd traits for a socket type wrapping `inner: PollFd`.
macro_rules! socket_common {
    ($t:ident) => {
        impl $t {
            /// Sets how long any one read may wait before failing with `TimedOut` (`None`:
            /// forever). A zero duration is an error, as in std. The socket stays usable
            /// after a timeout.
            pub fn set_read_timeout(&self, d: Option<std::time::Duration>) -> std::io::Result<()> {
                self.inner.set_read_timeout(d)
            }

            /// Sets how long any one write may wait; see `set_read_timeout`.
            pub fn set_write_timeout(&self, d: Option<std::time::Duration>) -> std::io::Result<()> {
                self.inner.set_write_timeout(d)
            }

            /// The read timeout.
            pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.inner.read_timeout())
            }

            /// The write timeout.
            pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.inner.write_timeout())
            }

            /// Sets an absolute deadline for reads (Go's `SetReadDeadline`); a parked reader
            /// re-checks at once. `None` clears it.
            pub fn set_read_deadline(&self, d: Option<std::time::Instant>) {
                self.inner.set_read_deadline(d)
            }

            /// Sets an absolute deadline for writes (Go's `SetWriteDeadline`).
            pub fn set_write_deadline(&self, d: Option<std::time::Instant>) {
                self.inner.set_write_deadline(d)
            }

            /// Sets both deadlines (Go's `SetDeadline`).
            pub fn set_deadline(&self, d: Option<std::time::Instant>) {
                self.inner.set_read_deadline(d);
                self.inner.set_write_deadline(d);
            }

            /// Closes the socket for I/O from any coroutine or thread (Go's `Close` called
            /// while another goroutine is blocked on the connection): parked readers and
            /// writers wake with an error, later calls fail. The fd is released on drop.
            pub fn close(&self) {
                self.inner.close()
            }

            /// The underlying coroutine-aware fd.
            pub fn as_poll_fd(&self) -> &goro::io::PollFd {
                &self.inner
            }
        }

        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.inner.as_raw_fd()
            }
        }

        impl std::os::fd::AsFd for $t {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.inner.as_fd()
            }
        }

        impl std::os::fd::IntoRawFd for $t {
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                self.inner.into_raw_fd()
            }
        }

        impl From<$t> for std::os::fd::OwnedFd {
            fn from(s: $t) -> std::os::fd::OwnedFd {
                s.inner.into_fd()
            }
        }

        impl std::os::fd::FromRawFd for $t {
            /// Takes ownership of a socket fd and makes it non-blocking.
            ///
            /// # Panics
            ///
            /// If the fd cannot be made non-blocking (it is not an open fd).
            unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> $t {
                // SAFETY: the caller hands us ownership of an open fd (FromRawFd's contract).
                let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
                $t {
                    inner: goro::io::PollFd::new(owned)
                        .expect("goro-net: cannot make the fd non-blocking"),
                }
            }
        }

        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("fd", &self.inner.as_raw_fd())
                    .finish()
            }
        }
    };
}

/// `From<std type>`: the std socket is switched to non-blocking mode.
macro_rules! from_std {
    ($t:ident, $std:ty) => {
        impl From<$std> for $t {
            /// Adopts a std socket, switching it to non-blocking mode.
            ///
            /// # Panics
            ///
            /// If the socket cannot be made non-blocking (never for an open socket).
            fn from(s: $std) -> $t {
                $t {
                    inner: goro::io::PollFd::new(s.into())
                        .expect("goro-net: cannot make the socket non-blocking"),
                }
            }
        }
    };
}

pub(crate) use {from_std, socket_common};
