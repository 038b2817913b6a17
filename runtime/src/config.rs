//! Runtime settings: environment variables, and [`Config`] to set them in code before start.
use std::io;
use std::sync::Mutex;
use std::time::Duration;

use crate::stack::DEFAULT_STACK_SIZE;

/// The settings the runtime starts with.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) workers: usize,
    pub(crate) stack_size: usize,
    pub(crate) schedtrace: Option<Duration>,
}

fn env_usize(name: &str) -> Option<usize> {
    let v = std::env::var(name).ok()?;
    match parse_size(v.trim()) {
        Some(n) if n > 0 => Some(n),
        _ => {
            tracing::warn!("goro: ignoring {name}={v:?}: expected a positive number");
            None
        }
    }
}

/// Parses `123`, `64k`/`64K`/`64KiB`, `1m`/`1M`/`1MiB`.
fn parse_size(s: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    let (num, mul) = if let Some(n) = lower.strip_suffix("kib").or(lower.strip_suffix('k')) {
        (n, 1024)
    } else if let Some(n) = lower.strip_suffix("mib").or(lower.strip_suffix('m')) {
        (n, 1024 * 1024)
    } else {
        (lower.as_str(), 1)
    };
    num.trim().parse::<usize>().ok()?.checked_mul(mul)
}

impl Settings {
    /// Defaults, overridden by `GORO_MAXPROCS`, `GORO_STACK_SIZE` and `GORO_SCHEDTRACE`.
    pub(crate) fn from_env() -> Settings {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        Settings {
            workers: env_usize("GORO_MAXPROCS").unwrap_or(cores),
            stack_size: env_usize("GORO_STACK_SIZE").unwrap_or(DEFAULT_STACK_SIZE),
            schedtrace: env_usize("GORO_SCHEDTRACE").map(|ms| Duration::from_millis(ms as u64)),
        }
    }
}

/// Settings for the runtime, applied before it starts.
///
/// The runtime starts lazily, at the first spawn (or any call that needs it), with settings
/// from the environment:
///
/// | variable           | meaning                                        | default            |
/// |--------------------|------------------------------------------------|--------------------|
/// | `GORO_MAXPROCS`    | worker threads (Go's `GOMAXPROCS`)             | available cores    |
/// | `GORO_STACK_SIZE`  | default coroutine stack (`64k`, `1m`, bytes)   | 256 KiB            |
/// | `GORO_SCHEDTRACE`  | print scheduler state every N ms to stderr     | off                |
///
/// `Config` overrides them from code; it must run before the runtime starts.
///
/// ```
/// // In `main`, before the first spawn:
/// match goro::Config::new().workers(2).stack_size(64 * 1024).init() {
///     Ok(()) => {}
///     // Doctests share a process with nothing else here, but a program that calls
///     // `init` after spawning gets this error.
///     Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists),
/// }
/// assert!(goro::spawn(|| 1 + 1).join().unwrap() == 2);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Config {
    workers: Option<usize>,
    stack_size: Option<usize>,
    schedtrace: Option<Duration>,
}

impl Config {
    /// Settings from the environment, to be overridden by the builder methods.
    pub fn new() -> Config {
        Config::default()
    }

    /// Number of worker threads (at least 1).
    pub fn workers(mut self, n: usize) -> Config {
        self.workers = Some(n.max(1));
        self
    }

    /// Default stack size of new coroutines, in bytes (rounded up to whole pages).
    pub fn stack_size(mut self, bytes: usize) -> Config {
        self.stack_size = Some(bytes);
        self
    }

    /// Print one line of scheduler state to stderr every `interval` (Go's schedtrace).
    pub fn schedtrace(mut self, interval: Duration) -> Config {
        self.schedtrace = Some(interval);
        self
    }

    /// These settings over the environment's (`Config::init`, rt/mod.rs, starts with them).
    pub(crate) fn settings(&self) -> Settings {
        let mut s = Settings::from_env();
        if let Some(n) = self.workers {
            s.workers = n;
        }
        if let Some(n) = self.stack_size {
            s.stack_size = n;
        }
        if self.schedtrace.is_some() {
            s.schedtrace = self.schedtrace;
        }
        s
    }
}

/// Settings given by `Config::init`, and whether the runtime has taken its settings.
struct Pending {
    settings: Option<Settings>,
    started: bool,
}

static PENDING: Mutex<Pending> = Mutex::new(Pending {
    settings: None,
    started: false,
});

/// Keeps `s` for the runtime to start with; fails once it has started.
pub(crate) fn give(s: Settings) -> io::Result<()> {
    let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    if pending.started {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "goro: the runtime is already running; call Config::init before the first spawn",
        ));
    }
    pending.settings = Some(s);
    Ok(())
}

/// The settings the runtime starts with (called once, when it boots): those given to
/// `Config::init`, or the environment's. From then on `init` fails.
pub(crate) fn take_settings() -> Settings {
    let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    pending.started = true;
    pending.settings.take().unwrap_or_else(Settings::from_env)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("64k"), Some(65536));
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("1M"), Some(1 << 20));
        assert_eq!(parse_size("x"), None);
    }
}
