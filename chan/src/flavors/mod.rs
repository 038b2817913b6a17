//! Channel flavors, one file each, dispatched by enum in `channel.rs`.
//!
//! | flavor  | made by                 | buffer                     | blocking side waits in |
//! |---------|-------------------------|----------------------------|------------------------|
//! | `array` | `bounded(n)`, `n > 0`   | lock-free ring of `n` slots | `senders` / `receivers` `SyncWaker` |
//! | `list`  | `unbounded()`           | lock-free linked list of 31-slot blocks | receivers' `SyncWaker` |
//! | `zero`  | `bounded(0)`            | none: direct handoff       | `senders` / `receivers` `Waker` under one lock |
//! | `at`    | `after(d)`, `at(t)`     | one value, set by a timer  | receivers' `SyncWaker` |
//! | `tick`  | `tick(d)`               | one value, set by a timer  | receivers' `SyncWaker` |
//! | `never` | `never()`               | none, never ready          | parks forever / until a deadline |
//!
//! Every flavor implements `select::SelectHandle` for each side it has, which is all that
//! `select` needs.

pub(crate) mod array;
pub(crate) mod at;
pub(crate) mod list;
pub(crate) mod never;
pub(crate) mod tick;
pub(crate) mod zero;

/// The blocking receive shared by the timer flavors (`at`, `tick`): take a value if one is
/// there, else register as a receiver, re-check readiness (a fire between the two aborts the
/// wait), and park until woken or `deadline`.
pub(crate) fn recv_timer_value(
    receivers: &crate::waker::SyncWaker,
    deadline: Option<std::time::Instant>,
    take: impl Fn() -> Option<std::time::Instant>,
    is_ready: impl Fn() -> bool,
) -> Result<std::time::Instant, crate::err::RecvTimeoutError> {
    use crate::context::{Context, Operation, Selected};
    loop {
        if let Some(t) = take() {
            return Ok(t);
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Err(crate::err::RecvTimeoutError::Timeout);
        }
        Context::with(|cx| {
            let oper = Operation(0);
            receivers.register(oper, cx);
            if is_ready() {
                let _ = cx.try_select(Selected::Aborted);
            }
            match cx.wait_until(deadline) {
                Selected::Waiting => unreachable!("goro-chan: woke while waiting"),
                Selected::Aborted | Selected::Disconnected => {
                    receivers.unregister(oper, cx);
                }
                Selected::Operation(_) => {}
            }
        });
    }
}
