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
# - `golang.rs` once more with its goroutines (`go!`) spawned as goro coroutines.
#   The files that use `crossbeam_utils::thread::scope` run on threads only: goro has no
#   scoped coroutines (`goro::scope`) yet.
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
# reason; a missing goro-chan API is not one (add the API). Empty: every test runs.
skips=()

# ---- tests run alone, each in a process of its own ---------------------------------
# Same format. For a test whose assertion reads process-wide state that the tests running
# beside it disturb; it still runs, and must pass, just not next to other tests.
isolated=(
    "golang select2::main Go's select2 bounds the process's live heap, counted by a global allocator in an unsigned counter that the test resets to 0 half-way through the process. A test running beside it that frees memory it allocated before the reset drives the counter below 0, it wraps, and the bound fails with no allocation of select2's own involved (seen next to chan_test::test_select_stress, which frees its channels then: about 1 run in 6 under load). Alone it measures goro-chan's blocking select."
    "golang_coroutines select2::main the same test, with its sender on a goro coroutine; the same reason."
)

# ---- the throwaway crate ------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/goro-crossbeam-suite.XXXXXX")"
if [ -n "${CROSSBEAM_SUITE_KEEP:-}" ]; then
    echo "crossbeam-suite: keeping $work"
else
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/tests" "$work/src"
: >"$work/src/lib.rs"
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
    line="$(grep -E '^test result:' "$work/$log.log" | tail -n1)"
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
