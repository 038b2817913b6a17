#!/usr/bin/env bash
# A/B of two goro builds on the server figures: examples/hello under wrk (c100, c1000) and
# examples/echo under the peer harness's load generator (64-byte messages), the two builds
# interleaved round by round so that drift in the machine hits both alike.
#
# usage: benches/ab.sh OLD_RELEASE_DIR NEW_RELEASE_DIR [ROUNDS=3] [SECS=8]
#   each *_RELEASE_DIR is a cargo target's `release` directory holding examples/hello and
#   examples/echo (`cargo build --release --examples`); CONNS="100 1000" and BENCHES="http
#   echo" narrow a run. Prints one RESULT line per point; compare medians per side.
# Needs wrk and the harness's loadgen (../shared/peers/setup.sh builds both).
set -u
A=$1; B=$2; ROUNDS=${3:-3}; SECS=${4:-8}
CONNS=${CONNS:-100 1000}; BENCHES=${BENCHES:-http echo}
LG=${LOADGEN:-$HOME/.cache/goro-peers/rust-target/release/loadgen}
TCK=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
for r in $(seq 1 "$ROUNDS"); do
  for side in A B; do
    dir=${!side}
    if [[ " $BENCHES " == *" http "* ]]; then
      "$dir/examples/hello" --addr 127.0.0.1:18983 --sleep-ms 0 >/dev/null 2>&1 & pid=$!
      sleep 0.5
      for c in $CONNS; do
        wrk -t1 -c"$c" -d2s http://127.0.0.1:18983/ >/dev/null 2>&1
        c0=$(cpu $pid); out=$(wrk -t1 -c"$c" -d"${SECS}s" http://127.0.0.1:18983/ 2>&1); c1=$(cpu $pid)
        n=$(echo "$out" | awk '/ requests in /{print $1}')
        rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
        us=$(echo "($c1-$c0)/$TCK*1000000/$n" | bc -l | cut -c1-6)
        echo "RESULT side=$side round=$r bench=http_c$c rps=$rps cpu_us_per_req=$us"
      done
      kill $pid; wait $pid 2>/dev/null
    fi
    if [[ " $BENCHES " == *" echo "* ]]; then
      "$dir/examples/echo" --addr 127.0.0.1:18984 >/dev/null 2>&1 & pid=$!
      sleep 0.5
      for c in $CONNS; do
        out=$("$LG" echo --addr 127.0.0.1:18984 --conns "$c" --secs "$SECS" --warmup 1 --size 64 \
          --server-pid $pid 2>&1 | grep RESULT)
        echo "RESULT side=$side round=$r bench=echo_c$c ${out#RESULT }"
      done
      kill $pid; wait $pid 2>/dev/null
    fi
  done
done
