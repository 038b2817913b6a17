#!/bin/bash
# Latency through examples/proxy against a direct request (issue #5: proxy p99 <= 2x direct at
# 100 connections). Loopback only; starts and stops its own servers.
#
#   cargo build --release --examples && benches/proxy_latency.sh [ROUNDS] [DUR_S]
#
# Each round runs wrk -t1 -c100 --latency against the backend (examples/hello --sleep-ms 0)
# directly, then through the proxy; prints one RESULT line per run and the median p99 ratio.
set -euo pipefail
ROUNDS=${1:-3}
DUR=${2:-5}
BIN=${BIN:-target/release/examples}
BACKEND=127.0.0.1:19101
PROXY=127.0.0.1:19100
"$BIN/hello" --addr "$BACKEND" --sleep-ms 0 >/dev/null 2>&1 &
B=$!
"$BIN/proxy" --listen "$PROXY" --backend "$BACKEND" ${PROXY_ARGS:-} >/dev/null 2>&1 &
P=$!
trap 'kill $B $P 2>/dev/null; wait 2>/dev/null' EXIT
sleep 0.5
p99_ms() { # wrk output -> p99 in ms
  awk '$1=="99%"{v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}'
}
rps() { awk '/Requests\/sec/{print $2}'; }
ratios=()
for r in $(seq "$ROUNDS"); do
  d=$(wrk -t1 -c100 -d"${DUR}s" --latency "http://$BACKEND/")
  p=$(wrk -t1 -c100 -d"${DUR}s" --latency "http://$PROXY/")
  dp=$(p99_ms <<<"$d"); pp=$(p99_ms <<<"$p")
  echo "RESULT bench=proxy_latency round=$r path=direct rps=$(rps <<<"$d") p99_ms=$dp"
  echo "RESULT bench=proxy_latency round=$r path=proxy rps=$(rps <<<"$p") p99_ms=$pp"
  ratios+=("$(python3 -c "print(round($pp/$dp, 2))")")
done
echo "p99 proxy/direct per round: ${ratios[*]}; median $(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')"
