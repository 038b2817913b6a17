//! Behaviour seen from outside the process: panic messages, schedtrace, long-run warnings,
//! and an idle runtime using no CPU. Each case re-runs this test binary as a child.
use std::process::{Command, Output};
use std::time::Duration;

const CHILD_ENV: &str = "GORO_TEST_CHILD";

/// Runs `case` in a child process (this binary, one test) with extra environment.
fn run_child(case: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", case, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, case);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn is_child(case: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(case)
}

#[test]
fn panic_message_names_the_coroutine() {
    if is_child("panic_message_names_the_coroutine") {
        let r = goro::Builder::new()
            .name("payment-worker")
            .spawn(|| panic!("card declined"))
            .unwrap()
            .join();
        assert!(r.is_err());
        // The runtime goes on.
        assert_eq!(goro::spawn(|| 5).join().unwrap(), 5);
        return;
    }
    let out = run_child(
        "panic_message_names_the_coroutine",
        &[("RUST_BACKTRACE", "0")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {err}");
    assert!(err.contains("coroutine 'payment-worker' (id "), "{err}");
    assert!(
        err.contains("panicked at") && err.contains("card declined"),
        "{err}"
    );
    assert!(
        !err.contains("thread 'goro-worker"),
        "the default hook named the worker thread: {err}"
    );
}

#[test]
fn schedtrace_prints_lines() {
    if is_child("schedtrace_prints_lines") {
        let hs: Vec<_> = (0..100)
            .map(|_| goro::spawn(|| goro::time::sleep(Duration::from_millis(120))))
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        return;
    }
    let out = run_child("schedtrace_prints_lines", &[("GORO_SCHEDTRACE", "20")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {err}");
    let lines = err
        .lines()
        .filter(|l| l.starts_with("goro: schedtrace "))
        .count();
    assert!(lines >= 2, "expected schedtrace lines, got: {err}");
    assert!(err.contains("workers=") && err.contains("parked="), "{err}");
}

#[test]
fn sysmon_warns_about_a_coroutine_hogging_its_worker() {
    if is_child("sysmon_warns_about_a_coroutine_hogging_its_worker") {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing::Level::WARN)
            .init();
        goro::Builder::new()
            .name("busy-loop")
            .spawn(|| {
                let t = std::time::Instant::now();
                while t.elapsed() < Duration::from_millis(300) {
                    std::hint::spin_loop();
                }
            })
            .unwrap()
            .join()
            .unwrap();
        return;
    }
    let out = run_child("sysmon_warns_about_a_coroutine_hogging_its_worker", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {err}");
    assert!(err.contains("has run for more than 10ms"), "{err}");
    assert!(
        err.contains("busy-loop"),
        "the name is reported when it switches back: {err}"
    );
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the zeroed struct we pass; RUSAGE_SELF is always valid.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut ru), 0);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[test]
fn an_idle_runtime_uses_no_cpu() {
    if is_child("an_idle_runtime_uses_no_cpu") {
        let hs: Vec<_> = (0..1000).map(|i| goro::spawn(move || i)).collect();
        hs.into_iter().for_each(|h| {
            h.join().unwrap();
        });
        std::thread::sleep(Duration::from_millis(100)); // let spinners settle
        let before = cpu_time();
        std::thread::sleep(Duration::from_secs(1));
        let used = cpu_time() - before;
        // Workers blocked in epoll_wait and sysmon parked: nothing should tick. A busy
        // poller would burn ~1 s per worker here.
        assert!(
            used < Duration::from_millis(50),
            "idle runtime used {used:?} of CPU in 1 s"
        );
        return;
    }
    let out = run_child("an_idle_runtime_uses_no_cpu", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    let outs = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {err}{outs}");
}
