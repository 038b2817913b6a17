//! Channel flavors, one file each, dispatched by enum in `channel.rs`.
//!
//! | flavor  | made by                 | buffer                     | blocking side waits in |
//! |---------|-------------------------|----------------------------|------------------------|
//! | `array` | `bounded(n)`, `n > 0`   | lock-free ring of `n` slots | `senders` / `receivers` `SyncWaker` |
//! | `list`  | `unbounded()`           | `VecDeque` under a spin lock | receivers' `Waker` under the same lock |
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
