//! Soundness regressions: safe code that once reached undefined behaviour through goro.
//!
//! Each test names the hazard it guards and failed before its fix. Where the failure was a
//! crash or an abort, the scenario runs in a child process: the test re-runs this binary with
//! `GORO_SOUNDNESS_CHILD=<test name>` and judges the child's exit and output, within a bound.
use std::cell::Cell;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod common;

const CHILD: &str = "GORO_SOUNDNESS_CHILD";

/// True in the child process that runs `name`'s scenario.
fn is_child(name: &str) -> bool {
    std::env::var(CHILD).is_ok_and(|v| v == name)
}

/// Runs test `name` of this binary in a child process (one worker unless `env` says
/// otherwise); kills it after 60 s.
fn run_child(name: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary path"));
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .env("GORO_MAXPROCS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start the child test process");
    let start = Instant::now();
    while child.try_wait().expect("poll the child").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("reap the child");
            panic!(
                "child {name} hung for 60 s; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
        .wait_with_output()
        .expect("collect the child's output")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---- defect: `park` unwinding while `goro::blocking` lends the caller's frame -----------

/// Arms [`PanicOnPark`].
static PANIC_ON_PARK: AtomicBool = AtomicBool::new(false);

/// A tracing layer that panics on goro's "park" event once armed, as a test subscriber
/// (tracing-mock) may.
struct PanicOnPark;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PanicOnPark {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct IsPark(bool);
        impl tracing::field::Visit for IsPark {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                if f.name() == "message" && format!("{v:?}") == "park" {
                    self.0 = true;
                }
            }
        }
        if !PANIC_ON_PARK.load(Ordering::SeqCst) {
            return;
        }
        let mut is_park = IsPark(false);
        event.record(&mut is_park);
        if is_park.0 {
            PANIC_ON_PARK.store(false, Ordering::SeqCst); // once
            panic!("subscriber panics on park");
        }
    }
}

/// Hazard: `goro::blocking(f)` lends its frame (what `f` borrows, and the result slot) to a
/// pool thread while it parks. If `park` unwound (a tracing subscriber panicking on the park
/// event), that frame was freed while the pool thread still wrote into it. `park` must never
/// unwind: the process aborts with a `goro:` message instead.
#[test]
fn park_does_not_unwind_while_blocking_lends_the_frame() {
    const NAME: &str = "park_does_not_unwind_while_blocking_lends_the_frame";
    if is_child(NAME) {
        use tracing_subscriber::layer::SubscriberExt;
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(PanicOnPark))
            .expect("install the subscriber");
        let r = goro::spawn(|| {
            let mut buf = [0u8; 64];
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                PANIC_ON_PARK.store(true, Ordering::SeqCst);
                goro::blocking(|| {
                    std::thread::sleep(Duration::from_millis(200));
                    buf.fill(0xee); // writes into the caller's frame
                })
            }));
            r.is_err()
        })
        .join()
        .unwrap();
        println!("UNWOUND_PAST_A_LOAN={r}");
        std::thread::sleep(Duration::from_millis(400)); // let the pool thread write
        return;
    }
    let out = run_child(NAME, &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !stdout.contains("UNWOUND_PAST_A_LOAN"),
        "park unwound past a lent frame; stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("goro: a panic unwound into park()"),
        "the child should abort with goro's message; status {:?}, stderr:\n{stderr}",
        out.status
    );
    assert!(!out.status.success());
}

// ---- defect: coroutine-locals re-created after teardown ---------------------------------

static B_MADE: AtomicUsize = AtomicUsize::new(0);
static B_DROPPED_OFF_HOME: AtomicUsize = AtomicUsize::new(0);
static A_SAW: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// Its destructor touches key `B`.
struct TouchesB;
impl Drop for TouchesB {
    fn drop(&mut self) {
        let with = std::panic::catch_unwind(|| B.with(|_| ()));
        let try_with = B.try_with(|_| ());
        let mut saw = A_SAW.lock().unwrap();
        saw.push(if with.is_err() {
            "with panicked"
        } else {
            "with ran"
        });
        saw.push(if try_with.is_err() {
            "try_with refused"
        } else {
            "try_with ran"
        });
    }
}

/// Remembers the thread it was made on and counts a drop on any other thread.
struct MadeHere(std::thread::ThreadId);
impl Drop for MadeHere {
    fn drop(&mut self) {
        if std::thread::current().id() != self.0 {
            B_DROPPED_OFF_HOME.fetch_add(1, Ordering::SeqCst);
        }
    }
}

goro::coroutine_local! {
    static A: Cell<Option<TouchesB>> = Cell::new(None);
    static B: MadeHere = {
        B_MADE.fetch_add(1, Ordering::SeqCst);
        MadeHere(std::thread::current().id())
    };
}

/// Hazard: a coroutine-local destructor that touched another key re-created the map after
/// teardown; that map was then dropped wherever the last `Arc<Task>` went (the joiner's
/// thread), a `!Send` value dropped on another thread. Access after teardown must be refused,
/// as std refuses thread-locals during their destruction.
#[test]
fn coroutine_local_is_refused_after_teardown() {
    common::within(Duration::from_secs(30), || {
        let before = B_MADE.load(Ordering::SeqCst);
        for _ in 0..20 {
            let h = goro::spawn(|| A.with(|a| a.set(Some(TouchesB))));
            // The joiner may hold the last reference: before the fix, the re-made map was
            // dropped here, on this thread.
            h.join().unwrap();
        }
        assert_eq!(
            B_MADE.load(Ordering::SeqCst),
            before,
            "B was made during teardown"
        );
        assert_eq!(B_DROPPED_OFF_HOME.load(Ordering::SeqCst), 0);
        let saw = A_SAW.lock().unwrap();
        assert_eq!(saw.len(), 40);
        assert!(
            saw.chunks(2)
                .all(|c| c == ["with panicked", "try_with refused"]),
            "{saw:?}"
        );
    });
}

// ---- defect: `shrink_stack` on a stack nested inside a coroutine ------------------------

/// A corosensei stack mapped above `above` (so between the coroutine's stack and it lies
/// everything the old `shrink_stack` released).
struct HighStack {
    base: usize,
    limit: usize,
}

impl HighStack {
    const SIZE: usize = 256 * 1024;

    fn above(above: usize) -> HighStack {
        for gib in [1usize, 2, 4, 8, 16, 32] {
            let hint = (above + (gib << 30)) & !0xfff;
            // SAFETY: an anonymous private mapping at a hint (no MAP_FIXED): it replaces
            // nothing; the result is checked below.
            let p = unsafe {
                libc::mmap(
                    hint as *mut libc::c_void,
                    Self::SIZE,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                continue;
            }
            let lo = p as usize;
            if lo > above {
                return HighStack {
                    base: lo + Self::SIZE,
                    limit: lo,
                };
            }
            // SAFETY: unmapping the mapping just made, which nothing uses.
            unsafe { libc::munmap(p, Self::SIZE) };
        }
        panic!("test setup: could not map a stack above the coroutine's stack");
    }
}

// SAFETY: `[limit, base)` is a private read-write mapping owned by this value, page-aligned
// (so aligned to corosensei's STACK_ALIGNMENT), and unmapped only when it is dropped, after
// the coroutine using it has finished.
unsafe impl corosensei::stack::Stack for HighStack {
    fn base(&self) -> corosensei::stack::StackPointer {
        corosensei::stack::StackPointer::new(self.base).expect("non-null")
    }
    fn limit(&self) -> corosensei::stack::StackPointer {
        corosensei::stack::StackPointer::new(self.limit).expect("non-null")
    }
}

impl Drop for HighStack {
    fn drop(&mut self) {
        // SAFETY: our own mapping; the coroutine that ran on it has returned.
        unsafe { libc::munmap(self.limit as *mut libc::c_void, Self::SIZE) };
    }
}

/// Hazard: `shrink_stack()` called on a stack nested inside a coroutine (a user's own
/// corosensei coroutine, `stacker::grow`) released every page between the coroutine's stack
/// and the nested stack pointer: the coroutine's own live frames and whatever heap mappings
/// lay between became zeros. It must do nothing off the coroutine's own stack.
#[test]
fn shrink_stack_on_a_nested_stack_touches_nothing() {
    const NAME: &str = "shrink_stack_on_a_nested_stack_touches_nothing";
    if is_child(NAME) {
        let ok = goro::spawn(|| {
            let keep = std::hint::black_box([0x5au8; 4096]);
            let here = &keep as *const _ as usize;
            let stack = HighStack::above(here);
            let mut nested =
                corosensei::Coroutine::with_stack(stack, |_: &corosensei::Yielder<(), ()>, ()| {
                    let marker = std::hint::black_box([0xa5u8; 4096]);
                    goro::shrink_stack();
                    std::hint::black_box(&marker).iter().all(|&b| b == 0xa5)
                });
            let nested_ok = match nested.resume(()) {
                corosensei::CoroutineResult::Return(r) => r,
                corosensei::CoroutineResult::Yield(()) => unreachable!(),
            };
            nested_ok && std::hint::black_box(&keep).iter().all(|&b| b == 0x5a)
        })
        .join()
        .unwrap();
        println!("FRAMES_INTACT={ok}");
        return;
    }
    let out = run_child(NAME, &[]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("FRAMES_INTACT=true"),
        "status {:?}; stdout:\n{stdout}\nstderr:\n{}",
        out.status,
        text(&out.stderr)
    );
}

// ---- defect: a `PollFd` whose registration failed stayed published -----------------------

/// Hazard: the poll descriptor was published before the poller accepted the fd, so after a
/// refused registration (epoll refuses `/dev/null`) the first wait reported the error and
/// every later one returned `Ok` or parked forever on a descriptor no poller reports. Every
/// call must report the error.
#[test]
fn pollfd_reports_a_refused_registration_every_time() {
    common::within(Duration::from_secs(30), || {
        goro::spawn(|| {
            let devnull = std::fs::File::open("/dev/null").expect("open /dev/null");
            let fd = goro::io::PollFd::new(devnull.into()).expect("wrap /dev/null");
            for round in 0..3 {
                let e = fd
                    .wait_readable(Some(Instant::now() + Duration::from_secs(5)))
                    .expect_err("epoll refuses /dev/null: wait_readable must say so");
                assert_eq!(e.raw_os_error(), Some(libc::EPERM), "round {round}: {e}");
                let e = fd
                    .spawn_when_readable(|| panic!("must never run"))
                    .expect_err("spawn_when_readable must report the refusal too");
                assert_eq!(e.raw_os_error(), Some(libc::EPERM), "round {round}: {e}");
            }
        })
        .join()
        .unwrap();
    });
}
