#!/usr/bin/env bash
# Receive-capacity benchmark. Runs on the receiver host of scripts/netns-run.sh;
# the flood runs on the sender host. See bench/README.md.
# usage: run.sh BUILD_DIR   (env: COUNT SIZES REPS MODES KS OUT)
set -euo pipefail

# Everything runs inside main, which bash reads whole before running, so an
# edit to this file during a run cannot derail it.
main() {
build=$1
drain=$build/bench/mcrx_bench_drain
flood=$build/bench/mcrx_bench_flood
COUNT=${COUNT:-300000}
SIZES=${SIZES:-64 1200}
REPS=${REPS:-3}
MODES=${MODES:-naive recvmsg-pktinfo recvmmsg sub sub-lean ctx ctx-lean batch batch-lean thread poll uv uring-raw uring-sub uring-batch uring-poll uring-thread}
# Runs of a drain built with MCRX_COUNTERS=OFF (NOCOUNT_BUILD), to show what counting costs.
NOCOUNT_BUILD=${NOCOUNT_BUILD:-}
NOCOUNT_MODES=${NOCOUNT_MODES:-sub-lean batch}
KS=${KS:-1 100 1000 10000}
KERNEL_KS=${KERNEL_KS:-1 100 1000}
PY_MODES=${PY_MODES:-py-recvfrom py-single py-batch py-batch-into}
OUT=${OUT:-/dev/stdout}
S=$MCRX_TEST_SENDER_NS
work=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT
port=41000

# The Python modes need the extension: build it once, outside the source tree.
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "$PY_MODES" ]; then
  (cd "$here/../python" && /usr/bin/python3 setup.py -q build --build-base "$work/pybuild" >/dev/null 2>&1) ||
    { echo "bench: could not build the Python extension" >&2; exit 1; }
  export PYTHONPATH=$(echo "$work"/pybuild/lib.*)
fi

one_run() { # mode size k -> prints drain's result line plus the sender's
  local mode=$1 size=$2 k=$3 ready="$work/ready.$port"
  case $mode in
    py-*) /usr/bin/python3 "$here/py_drain.py" "$mode" 239.1.1.1 "$port" "$COUNT" "$k" "$ready" >"$work/out" & ;;
    *-nocount) "$NOCOUNT_BUILD/bench/mcrx_bench_drain" "$mode" 239.1.1.1 "$port" "$COUNT" "$k" "$ready" >"$work/out" & ;;
    *) "$drain" "$mode" 239.1.1.1 "$port" "$COUNT" "$k" "$ready" >"$work/out" & ;;
  esac
  local pid=$!
  for _ in $(seq 1 6000); do [ -e "$ready" ] && break; sleep 0.01; done
  [ -e "$ready" ] || { echo "drain did not get ready" >&2; exit 1; }
  local sent
  sent=$(nsenter --net="$S" "$flood" 198.51.100.1 va 239.1.1.1 "$port" "$size" "$COUNT")
  sleep ${SETTLE:-0.3}
  kill -USR1 "$pid"
  wait "$pid"
  echo "$(cat "$work/out") size=$size $sent"
  port=$((port + 1))
}


results=${RAW:-$work/results}
: >"$results"
# Modes are interleaved within each repetition, so drift on a shared machine
# spreads over all of them instead of biasing one.
for _ in $(seq 1 "$REPS"); do
  nocount=""
  if [ -n "$NOCOUNT_BUILD" ]; then
    for m in $NOCOUNT_MODES; do nocount="$nocount $m-nocount"; done
  fi
  for size in $SIZES; do
    for mode in $MODES $nocount $PY_MODES; do one_run "$mode" "$size" 1 >>"$results"; done
  done
  for k in $KS; do
    for mode in ctx batch; do one_run "$mode" 64 "$k" >>"$results"; done
  done
  for k in $KERNEL_KS; do
    for mode in kernel-wild kernel-group; do one_run "$mode" 64 "$k" >>"$results"; done
  done
done

MODES="$MODES$nocount" COUNT=$COUNT PY_MODES=$PY_MODES SIZES=$SIZES KS=$KS KERNEL_KS=$KERNEL_KS "$here/report.sh" "$results" >"$OUT"
}

main "$@"
exit
