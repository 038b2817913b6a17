//! The panic hook that names coroutines.
//!
//! Rust's default hook names the OS thread (`thread 'goro-worker-1' panicked at ...`), which
//! says nothing about which coroutine failed. When the runtime starts it installs a hook that,
//! for a panic inside a coroutine, prints `coroutine '<name>' (id N) panicked at <location>:`
//! and the message (and a backtrace when `RUST_BACKTRACE` asks for one), and hands every other
//! panic to the hook that was installed before. A hook the program sets after the runtime
//! started replaces this one (use `goro::current()` inside it to name the coroutine).
use std::backtrace::{Backtrace, BacktraceStatus};
use std::io::Write;
use std::panic::{self, PanicHookInfo};

fn message<'a>(info: &'a PanicHookInfo<'_>) -> &'a str {
    info.payload_as_str().unwrap_or("Box<dyn Any>")
}

pub(crate) fn install_hook() {
    let prev = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let Some(me) = crate::current() else {
            return prev(info);
        };
        let location = info
            .location()
            .map(|l| l.to_string())
            .unwrap_or_else(|| "<unknown>".into());
        let mut out = format!(
            "coroutine '{}' (id {}) panicked at {location}:\n{}\n",
            me.name().unwrap_or("<unnamed>"),
            me.id(),
            message(info)
        );
        let bt = Backtrace::capture();
        if bt.status() == BacktraceStatus::Captured {
            out.push_str(&format!("stack backtrace:\n{bt}\n"));
        } else {
            out.push_str(
                "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
            );
        }
        // The hook's whole job is to report on stderr, as std's default hook does.
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
    }));
}
