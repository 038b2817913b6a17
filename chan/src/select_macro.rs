//! The `select!` and `select_biased!` macros: Go's `select` statement.
//!
//! Both set a constant `_IS_BIASED` and hand their arms to the hidden
//! `goro_chan_internal!`, as crossbeam-channel's macros do with theirs (so code written
//! against crossbeam's internal macro, like its `mpsc` test shim, works unchanged). It
//! parses the arms one at a time into a normalised list (each arm gets a fresh hygienic
//! binding for its channel and a constant index), binds each channel expression as the
//! scrutinee of a `match` (so temporaries in it, as in `recv(r.unwrap_or(&never()))`, live
//! until the select is over: a `let` would drop them at its semicolon), then expands to
//! one call of the same `run` the dynamic [`Select`](crate::Select) uses, over an array on
//! the stack: no allocation, no spawned coroutine per arm.

/// Waits on several channel operations and runs the arm of the one that completes.
///
/// ```text
/// select! {
///     recv(rx) -> res => body,         // res: Result<T, RecvError>
///     send(tx, value) -> res => body,  // res: Result<(), SendError<T>>
///     default => body,                 // optional: run if nothing is ready now
///     default(timeout) => body,        // or: run if nothing is ready within `timeout`
/// }
/// ```
///
/// This is crossbeam-channel's syntax, all of it: `default() =>` means `default =>`, a
/// trailing comma may follow the last operand (`recv(rx,)`), and operands may be
/// temporaries (`recv(r.unwrap_or(&never()))`): they live until the select is over.
/// [`select_biased!`](crate::select_biased!) is the same with a fixed preference order.
///
/// As in Go: when several arms are ready one is chosen uniformly at random; a
/// disconnected channel counts as ready (the receive arm gets `Err(RecvError)`, like Go's
/// `v, ok := <-ch` with `ok == false`); [`never()`](crate::never) disables an arm, like a
/// nil channel; a `select!` without arms blocks forever. Unlike Go, a `send` arm's value
/// expression is evaluated only if that arm is chosen; if it returns early (`?`) or
/// panics, nothing is sent and the chosen operation is released (see
/// [`SelectedOperation`](crate::SelectedOperation)). Channel expressions are evaluated
/// once, in order, before waiting; `res` may be any irrefutable pattern. Arm bodies are
/// expressions followed by a comma, or blocks with an optional comma.
///
/// ```
/// use std::time::Duration;
/// use goro_chan::{bounded, select, unbounded};
///
/// let (tx1, rx1) = unbounded::<i32>();
/// let (tx2, rx2) = bounded::<&str>(1);
/// tx1.send(10).unwrap();
///
/// let got = select! {
///     recv(rx1) -> v => v.unwrap(),
///     recv(rx2) -> v => { v.unwrap().len() as i32 }
///     default(Duration::from_secs(1)) => -1,
/// };
/// assert_eq!(got, 10);
///
/// // A send arm: the value is evaluated only if the arm runs.
/// select! {
///     send(tx2, "hi") -> r => r.unwrap(),
///     default => unreachable!("room in the buffer"),
/// }
/// assert_eq!(rx2.recv(), Ok("hi"));
/// ```
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {{
        #[allow(dead_code)]
        const _IS_BIASED: bool = false;
        $crate::goro_chan_internal!($($tokens)*)
    }};
}

/// Like [`select!`], but when several arms are ready the first of them (in the order
/// written) is chosen, instead of a random one. Go has no such form; crossbeam-channel
/// has, and so does this crate for code that ports from it.
///
/// ```
/// use goro_chan::{select_biased, unbounded};
///
/// let (tx1, rx1) = unbounded();
/// let (tx2, rx2) = unbounded();
/// tx1.send(1).unwrap();
/// tx2.send(2).unwrap();
/// let got = select_biased! {
///     recv(rx1) -> v => v.unwrap(),
///     recv(rx2) -> v => v.unwrap(),
/// };
/// assert_eq!(got, 1); // always the first ready arm
/// ```
#[macro_export]
macro_rules! select_biased {
    ($($tokens:tt)*) => {{
        #[allow(dead_code)]
        const _IS_BIASED: bool = true;
        $crate::goro_chan_internal!($($tokens)*)
    }};
}

/// The implementation of [`select!`] and [`select_biased!`]. Not public API: it reads the
/// constant `_IS_BIASED` from the caller's scope.
#[doc(hidden)]
#[macro_export]
macro_rules! goro_chan_internal {
    // ----- entry -----
    () => {
        $crate::goro_chan_internal!(@parse [] [] (0usize) [])
    };

    // ----- parse: one arm at a time -----
    // [arms] [default] (next index) [remaining tokens]
    (@parse [$($arms:tt)*] [$($def:tt)*] ($idx:expr) []) => {
        $crate::goro_chan_internal!(@emit [$($arms)*] [$($def)*])
    };

    // recv arms
    (@parse [$($arms:tt)*] [$($def:tt)*] ($idx:expr)
        [recv($r:expr $(,)?) -> $res:pat => $body:block, $($rest:tt)*]) => {
        $crate::goro_chan_internal!(@parse [$($arms)* (recv __goro_h ($r) ($idx) ($res) ($body) ())]
            [$($def)*] ($idx + 1usize) [$($rest)*])
    };
    (@parse [$($arms:tt)*] [$($def:tt)*] ($idx:expr)
        [recv($r:expr $(,)?) -> $res:pat => $body:block $($rest:tt)*]) => {
        $crate::goro_chan_internal!(@parse [$($arms)* (recv __goro_h ($r) ($idx) ($res) ($body) ())]
            [$($def)*] ($idx + 1usize) [$($rest)*])
    };
    (@parse [$($arms:tt)*] [$($def:tt)*] ($idx:expr)
        [recv($r:expr $(,)?) -> $res:pat => $body:expr, $($rest:tt)*]) => {
        $crate::goro_chan_internal!(@parse [$($arms)* (recv __goro_h ($r) ($idx) ($res) ($body) ())]
            [$($def)*] ($idx + 1usize) [$($rest)*])
    };
    (@parse [$($arms:tt)*] [$($def:tt)*] ($idx:expr)
        [recv($r:expr $(,)?) -> $res:pat => $body:expr]) => {
        $crate::goro_chan_internal!(@parse [$($arms)* (recv __goro_h ($r) ($idx) ($res) ($body) ())]
            [$($def)*] ($idx + 1usize) [])
    };

    // send arms
    (@parse [$($arms:tt)*] [$($def:tt)*] ($idx:expr)
        [send($s:expr, $v:expr $(,)?) -> $res:pat => $body:block, $($rest:tt)*]) => {
        $crate::goro_chan_internal!(@parse [$($arms)* (send __goro_h ($s) ($idx) ($res) ($body) ($v))]
            [$($def)*] ($idx + 1usize) [$($rest)*])
    };
    (@parse [$($arms:tt)*] [$($def:tt)*] ($idx:expr)
        [send($s:expr, $v:expr $(,)?) -> $res:pat => $body:block $($rest:tt)*]) => {
        $crate::goro_chan_internal!(@parse [$($arms)* (send __goro_h ($s) ($idx) ($res) ($body) ($v))]
            [$($def)*] ($idx + 1usize) [$($rest)*])
    };
    (@parse [$($arms:tt)*] [$($def:tt)*] ($idx:expr)
        [send($s:expr, $v:expr $(,)?) -> $res:pat => $body:expr, $($rest:tt)*]) => {
        $crate::goro_chan_internal!(@parse [$($arms)* (send __goro_h ($s) ($idx) ($res) ($body) ($v))]
            [$($def)*] ($idx + 1usize) [$($rest)*])
    };
    (@parse [$($arms:tt)*] [$($def:tt)*] ($idx:expr)
        [send($s:expr, $v:expr $(,)?) -> $res:pat => $body:expr]) => {
        $crate::goro_chan_internal!(@parse [$($arms)* (send __goro_h ($s) ($idx) ($res) ($body) ($v))]
            [$($def)*] ($idx + 1usize) [])
    };

    // default arms (at most one)
    (@parse [$($arms:tt)*] [] ($idx:expr) [default => $body:block, $($rest:tt)*]) => {
        $crate::goro_chan_internal!(@parse [$($arms)*] [(now) ($body)] ($idx) [$($rest)*])
    };
    (@parse [$($arms:tt)*] [] ($idx:expr) [default => $body:block $($rest:tt)*]) => {
        $crate::goro_chan_internal!(@parse [$($arms)*] [(now) ($body)] ($idx) [$($rest)*])
    };
    (@parse [$($arms:tt)*] [] ($idx:expr) [default => $body:expr, $($rest:tt)*]) => {
        $crate::goro_chan_internal!(@parse [$($arms)*] [(now) ($body)] ($idx) [$($rest)*])
    };
    (@parse [$($arms:tt)*] [] ($idx:expr) [default => $body:expr]) => {
        $crate::goro_chan_internal!(@parse [$($arms)*] [(now) ($body)] ($idx) [])
    };
    (@parse [$($arms:tt)*] [] ($idx:expr) [default() => $($rest:tt)*]) => {
        $crate::goro_chan_internal!(@parse [$($arms)*] [] ($idx) [default => $($rest)*])
    };
    (@parse [$($arms:tt)*] [] ($idx:expr) [default($t:expr $(,)?) => $body:block, $($rest:tt)*]) => {
        $crate::goro_chan_internal!(@parse [$($arms)*] [(timeout $t) ($body)] ($idx) [$($rest)*])
    };
    (@parse [$($arms:tt)*] [] ($idx:expr) [default($t:expr $(,)?) => $body:block $($rest:tt)*]) => {
        $crate::goro_chan_internal!(@parse [$($arms)*] [(timeout $t) ($body)] ($idx) [$($rest)*])
    };
    (@parse [$($arms:tt)*] [] ($idx:expr) [default($t:expr $(,)?) => $body:expr, $($rest:tt)*]) => {
        $crate::goro_chan_internal!(@parse [$($arms)*] [(timeout $t) ($body)] ($idx) [$($rest)*])
    };
    (@parse [$($arms:tt)*] [] ($idx:expr) [default($t:expr $(,)?) => $body:expr]) => {
        $crate::goro_chan_internal!(@parse [$($arms)*] [(timeout $t) ($body)] ($idx) [])
    };
    (@parse [$($arms:tt)*] [$($def:tt)+] ($idx:expr) [default $($rest:tt)*]) => {
        ::core::compile_error!("select!: more than one `default` arm")
    };
    (@parse [$($arms:tt)*] [$($def:tt)*] ($idx:expr) [$($rest:tt)*]) => {
        ::core::compile_error!(::core::concat!(
            "select!: expected `recv(rx) -> res => body`, `send(tx, value) -> res => body`, ",
            "`default => body` or `default(timeout) => body`, found: ",
            ::core::stringify!($($rest)*)
        ))
    };

    // ----- bind: each channel expression as a match scrutinee, then emit -----
    (@emit $arms:tt $def:tt) => {
        $crate::goro_chan_internal!(@bind $arms $arms $def)
    };
    (@bind [($kind:ident $h:ident ($chan:expr) $($arm:tt)*) $($more:tt)*] $arms:tt $def:tt) => {
        match &$chan {
            $h => $crate::goro_chan_internal!(@bind [$($more)*] $arms $def),
        }
    };
    (@bind [] [$(($kind:ident $h:ident ($chan:expr) ($i:expr) ($res:pat) ($body:expr) ($($v:expr)?)))*]
        [$(($($mode:tt)+) ($def:expr))?]) => {{
        let __goro_handles: &mut [$crate::__private::Handle<'_>] =
            &mut [$($crate::__private::Handle::$kind($h, $i)),*];
        let __goro_timeout = $crate::goro_chan_internal!(@timeout $($($mode)+)?);
        // Bound to locals, not left as temporaries of the block's tail expression: those
        // would outlive the channel bindings above, which they borrow.
        let __goro_selected = $crate::__private::run(__goro_handles, __goro_timeout, _IS_BIASED);
        let __goro_result = match __goro_selected {
            ::core::option::Option::Some(__goro_op) => {
                let __goro_i = __goro_op.index();
                $(
                    if __goro_i == $i {
                        let $res = $crate::goro_chan_internal!(@complete $kind __goro_op $h ($($v)?));
                        $body
                    } else
                )*
                {
                    ::core::unreachable!("goro-chan: select! chose an unknown arm")
                }
            }
            ::core::option::Option::None => {
                $crate::goro_chan_internal!(@default $($def)?)
            }
        };
        __goro_result
    }};

    (@timeout) => { $crate::__private::Timeout::Never };
    (@timeout now) => { $crate::__private::Timeout::Now };
    (@timeout timeout $t:expr) => { $crate::__private::timeout_after($t) };

    (@complete recv $op:ident $h:ident ()) => { $op.recv($h) };
    (@complete send $op:ident $h:ident ($v:expr)) => { $op.send($h, $v) };

    (@default) => { ::core::unreachable!("goro-chan: select! without default timed out") };
    (@default $def:expr) => { $def };

    // Entry (last, so that it does not swallow the internal `@` rules above).
    ($($tokens:tt)+) => {
        $crate::goro_chan_internal!(@parse [] [] (0usize) [$($tokens)+])
    };
}
