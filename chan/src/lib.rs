//! goro-chan: Go-style channels and `select!` for goro coroutines and OS threads alike.
#![warn(missing_docs)]
