#!/usr/bin/env bash
# crossbeam-channel's own test suite, run against goro-chan (issue #18).
#
# goro-chan promises crossbeam-channel's API shape; this proves it with crossbeam's tests.
# Nothing of crossbeam's is kept in this repository: the test files are taken at run time
# from the cargo registry, for the crossbeam-channel version pinned in Cargo.lock, and
# rewritten mechanically (only the crate name, plus `go!`'s spawn for the coroutine run).
# They are built as a throwaway crate in a temporary directory with goro-chan (and goro)
# as path dependencies, and run:
#
# - every file on OS threads, as written;
# - `golang.rs` once more with its goroutines (`go!`) spawned as goro coroutines;
# - every file that spawns through `crossbeam_utils::thread::scope` once more with its
#   scoped threads as goro's scoped coroutines (`goro::scope`), as `<file>_coroutines`,
#   except those in the `threads_only` list (below, with reasons).
#
# Tests in the `isolated` list (below, with reasons) run in a process of their own instead
# of beside the rest of their file.
#
# Usage: chan/tests/crossbeam-suite.sh [--release] [test harness args...]
# Environment: CARGO_TARGET_DIR (default: target/crossbeam-suite in the workspace);
# CROSSBEAM_SUITE_KEEP=1 keeps the throwaway crate (its path is printed).
# Needs crates.io for the test files' own dev-dependencies (rand, num_cpus).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
profile=()
if [ "${1:-}" = "--release" ]; then
    profile=(--release)
    shift
fi

# ---- the pinned version and its sources -------------------------------------------------
ver="$(awk '/^name = "crossbeam-channel"$/ { getline; gsub(/"/, "", $3); print $3; exit }' \
    "$root/Cargo.lock")"
[ -n "$ver" ] || { echo "crossbeam-suite: crossbeam-channel not in Cargo.lock" >&2; exit 1; }
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
find_src() {
    ls -d "$cargo_home"/registry/src/*/"crossbeam-channel-$ver" 2>/dev/null | head -n1
}
src="$(find_src)"
if [ -z "$src" ]; then
    # A dev-dependency of the workspace: `cargo fetch` unpacks it into the registry.
    (cd "$root" && cargo fetch --locked >/dev/null)
    src="$(find_src)"
fi
[ -n "$src" ] && [ -d "$src/tests" ] || {
    echo "crossbeam-suite: no sources for crossbeam-channel $ver" >&2
    exit 1
}

# ---- the skip list: the ONLY place a crossbeam test may be left out -----------------
# Format: "<file stem> <test name> <reason>", one entry per test. Every entry needs a
# reason; a missing goro-chan API is not one (add the API). On threads every test runs.
skips=(
    "select_coroutines loop_try two of its three parties busy-wait (a loop of try_recv and try_select with no blocking call) for the third, which first sleeps 500 ms. goro does not preempt (docs/CAVEATS.md): on coroutines the two spinners hold the workers they run on, and the third, homed on one of them, never runs again. On threads, as written, it runs (the plain-thread run of select.rs)."
    "select_macro_coroutines loop_try the same test written with select!: the same reason."
)

# ---- tests run alone, each in a process of its own ---------------------------------
# Same format. For a test whose assertion reads process-wide state that the tests running
# beside it disturb; it still runs, and must pass, just not next to other tests.
isolated=(
    "golang select2::main Go's select2 bounds the process's live heap, counted by a global allocator in an unsigned counter that the test resets to 0 half-way through the process. A test running beside it that frees memory it allocated before the reset drives the counter below 0, it wraps, and the bound fails with no allocation of select2's own involved (seen next to chan_test::test_select_stress, which frees its channels then: about 1 run in 6 under load). Alone it measures goro-chan's blocking select."
    "golang_coroutines select2::main the same test, with its sender on a goro coroutine; the same reason."
)

# ---- scoped files that run on threads only ------------------------------------------
# Format: "<file stem> <reason>". A file that uses `crossbeam_utils::thread::scope` and is
# not listed here runs a second time on coroutines.
threads_only=(
    "thread_locals its one test is about a thread's exit: channel operations inside a thread-local's destructor, which runs when the OS thread ends. A coroutine ending is not a thread ending (its worker thread lives on), so on coroutines the destructor would not run inside the test at all."
)

# ---- the throwaway crate ------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/goro-crossbeam-suite.XXXXXX")"
if [ -n "${CROSSBEAM_SUITE_KEEP:-}" ]; then
    echo "crossbeam-suite: keeping $work"
else
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/tests" "$work/src"
# crossbeam-utils' `scope` shape over goro's scoped coroutines, for the coroutine runs: a
# panic of an unjoined coroutine is an `Err`, as crossbeam's scope returns it.
cat >"$work/src/lib.rs" <<'EOF'
pub fn scope<'env, F, R>(f: F) -> std::thread::Result<R>
where
    F: for<'scope> FnOnce(&'scope goro::Scope<'scope, 'env>) -> R,
{
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| goro::scope(f)))
}
EOF
utils_ver="$(awk '/^name = "crossbeam-utils"$/ { getline; gsub(/"/, "", $3); print $3; exit }' \
    "$root/Cargo.lock")"
cat >"$work/Cargo.toml" <<EOF
[package]
name = "goro-crossbeam-suite"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
goro-chan = { path = "$root/chan" }
goro = { path = "$root/runtime" }
crossbeam-utils = "=$utils_ver"
rand = "0.8"
num_cpus = "1.13"

[workspace]
EOF
# Start from the workspace's lock, so goro builds with the versions CI tested.
cp "$root/Cargo.lock" "$work/Cargo.lock"

tests=()
for f in "$src"/tests/*.rs; do
    stem="$(basename "$f" .rs)"
    sed -e 's/crossbeam_channel/goro_chan/g' "$f" >"$work/tests/$stem.rs"
    tests+=("$stem")
done
# golang.rs on coroutines: `go!` spawns a goro coroutine instead of an OS thread, and
# what would block a whole worker thread parks the coroutine instead: `thread::sleep` and
# `thread::yield_now` become goro's (which block or yield a plain thread as before), and
# the file's Condvar-based WaitGroup becomes `goro::sync::WaitGroup` (a Condvar wait in a
# coroutine would stall the coroutines pinned to its worker, deadlocking the test).
perl -0pe '
    s/::std::thread::spawn\(move \|\|/::goro::spawn(move ||/ or die "go! spawn\n";
    s/\bthread::sleep\(/::goro::time::sleep(/g;
    s/\bthread::yield_now\(\)/::goro::yield_now()/g;
    s/struct WaitGroup\(Arc<WaitGroupInner>\);.*?\n    fn wait\(&self\) \{.*?\n    \}\n\}\n/struct WaitGroup(Arc<::goro::sync::WaitGroup>);
impl WaitGroup {
    fn new() -> WaitGroup { WaitGroup(Arc::new(::goro::sync::WaitGroup::new())) }
    fn add(&self, delta: i32) { self.0.add(usize::try_from(delta).unwrap()) }
    fn done(&self) { self.0.done() }
    fn wait(&self) { self.0.wait() }
}
/s or die "WaitGroup\n";
' "$work/tests/golang.rs" >"$work/tests/golang_coroutines.rs" || {
    echo "crossbeam-suite: golang.rs changed shape; update the coroutine rewrite" >&2
    exit 1
}
tests+=(golang_coroutines)
# The scoped files on coroutines: `scope` becomes goro's (through the shim above), the
# spawned closures lose crossbeam's `&Scope` argument (no test uses it), and sleeping or
# yielding parks the coroutine instead of its worker thread.
for f in "$src"/tests/*.rs; do
    stem="$(basename "$f" .rs)"
    grep -q '^use crossbeam_utils::thread::scope;$' "$f" || continue
    listed=""
    for entry in "${threads_only[@]}"; do
        read -r file _reason <<<"$entry"
        [ "$file" = "$stem" ] && listed=1
    done
    [ -n "$listed" ] && continue
    perl -0pe '
        s/^use crossbeam_utils::thread::scope;$/use goro_crossbeam_suite::scope;/m or die "scope\n";
        s/\.spawn\((move )?\|_\|/.spawn($1||/g;
        die "a scoped spawn uses its argument\n" if /\.spawn\((move )?\|[a-z]/;
        s/\bthread::sleep\(/::goro::time::sleep(/g;
        s/\bthread::yield_now\(\)/::goro::yield_now()/g;
    ' "$work/tests/$stem.rs" >"$work/tests/${stem}_coroutines.rs" || {
        echo "crossbeam-suite: $stem.rs changed shape; update the coroutine rewrite" >&2
        exit 1
    }
    tests+=("${stem}_coroutines")
done

# ---- build and run --------------------------------------------------------------------
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/crossbeam-suite}"
cd "$work"
echo "crossbeam-suite: crossbeam-channel $ver tests from $src"
args=()
for t in "${tests[@]}"; do
    args+=(--test "$t")
done
cargo test "${profile[@]}" --no-run "${args[@]}"
# The throwaway crate lives outside the workspace, so the workspace's cargo runner does not
# reach it: run its test binaries under the same watchdog, so a hang fails by name.
host="$(rustc -vV | sed -n 's/^host: //p' | tr 'a-z-' 'A-Z_')"
export "CARGO_TARGET_${host}_RUNNER=$root/.ci/watchdog"
passed=0
failed=0
bad=()
# Runs test file `$1` with harness arguments `${@:2}`, logs to `$work/<log name>.log`
# (`$log`), and adds its counts to the totals.
run_tests() {
    local t="$1"
    shift
    set +e
    cargo test -q "${profile[@]}" --test "$t" -- "$@" 2>&1 | tee "$work/$log.log"
    local rc=${PIPESTATUS[0]}
    set -e
    local line p f
    line="$(grep -E '^test result:' "$work/$log.log" | tail -n1 || true)"
    p="$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$line")"
    f="$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$line")"
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    if [ "$rc" -ne 0 ]; then
        bad+=("$log")
        # A crash (abort, signal) leaves no result line: count it as one failure.
        [ -n "$line" ] || failed=$((failed + 1))
    fi
}
for t in "${tests[@]}"; do
    skip_args=()
    alone=()
    for entry in "${skips[@]}" "${isolated[@]}"; do
        read -r file name _reason <<<"$entry"
        if [ "$file" = "$t" ]; then
            skip_args+=(--skip "$name")
        fi
    done
    for entry in "${isolated[@]}"; do
        read -r file name _reason <<<"$entry"
        if [ "$file" = "$t" ]; then
            alone+=("$name")
        fi
    done
    echo "== crossbeam-suite: $t"
    log="$t"
    run_tests "$t" --exact "${skip_args[@]}" "$@"
    # Extra harness arguments (a filter) apply to the main run only.
    if [ "$#" -eq 0 ]; then
        for name in "${alone[@]}"; do
            echo "== crossbeam-suite: $t $name, alone"
            log="$t-${name//:/_}"
            run_tests "$t" --exact "$name"
        done
    fi
done
echo "crossbeam-suite: ${#skips[@]} skipped, ${#isolated[@]} run alone (lists above); failing runs: ${bad[*]:-none}"
echo "crossbeam-suite: $passed passed, $failed failed"
[ "${#bad[@]}" -eq 0 ]
