//! `go!` and `coroutine_local!`.

/// Spawns a coroutine, Go style: `go!(move || ...)` is `goro::spawn(move || ...)` and returns
/// its [`JoinHandle`](crate::JoinHandle).
///
/// There is no `unsafe` inside: the closure must be `Send + 'static`, and the soundness
/// argument is written on [`spawn`](crate::spawn).
///
/// # Panics
///
/// If the OS refuses the coroutine's stack; the message names the limit to raise.
///
/// ```
/// use goro::go;
/// let (tx, rx) = std::sync::mpsc::channel();
/// for i in 0..4 {
///     let tx = tx.clone();
///     go!(move || tx.send(i * i).unwrap());
/// }
/// drop(tx);
/// let mut got: Vec<i32> = rx.iter().collect();
/// got.sort();
/// assert_eq!(got, [0, 1, 4, 9]);
/// ```
#[macro_export]
macro_rules! go {
    ($f:expr $(,)?) => {
        $crate::spawn($f)
    };
}

/// Declares coroutine-local statics: one value per coroutine (and per plain thread), made on
/// first use by the initialiser and dropped when the coroutine returns.
///
/// ```
/// use std::cell::Cell;
/// goro::coroutine_local! {
///     static REQUESTS: Cell<u32> = Cell::new(0);
/// }
/// let a = goro::spawn(|| { REQUESTS.with(|r| r.set(r.get() + 5)); goro::yield_now(); REQUESTS.with(Cell::get) });
/// let b = goro::spawn(|| { REQUESTS.with(|r| r.set(r.get() + 1)); goro::yield_now(); REQUESTS.with(Cell::get) });
/// assert_eq!((a.join().unwrap(), b.join().unwrap()), (5, 1));
/// ```
#[macro_export]
macro_rules! coroutine_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])* $vis static $name: $crate::LocalKey<$t> = {
            fn __goro_init() -> $t { $init }
            $crate::LocalKey::new(__goro_init)
        };
        $crate::coroutine_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $crate::coroutine_local!($(#[$attr])* $vis static $name: $t = $init;);
    };
}
