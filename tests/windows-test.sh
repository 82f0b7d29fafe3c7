#!/usr/bin/env bash
# The Windows tests: builds mcrx-core and tests/windows/ with mingw-w64
# (cmake/mingw-w64-x86_64.cmake), then runs each test program under wine64 on
# the receiver host of scripts/netns-run.sh, with tests/tsend (Linux) sending
# from the sender host across the veth pair.
#
# usage: windows-test.sh SOURCE_DIR WORK_DIR TSEND [PROGRAM [TEST...]]
#   WORK_DIR holds the cross build and the wine prefix (made once, reused).
#   PROGRAM (e.g. win_receive) and TEST names narrow the run.
#
# A program asks for datagrams by printing "@@tsend SRC IFNAME DST PORT MSG
# COUNT"; this script runs tsend for it and answers "ok" on its stdin.
#
# MCRX_WINDOWS_BUILD=DIR (ctest sets it: the tree of the windows-build test,
# fixture mcrx_windows): the test programs link that tree's DLL instead of
# building the library again, and the TOOLS HOOK runs the tools of DIR/bin.
# Without it this project builds the library and the tools itself.
#
# Missing mingw-w64 or wine64: exit 77 (skipped), or 1 under CI=true.
# Every exit path kills the prefix's wine processes (wineserver -k); the
# namespaces are netns-run.sh's, which deletes them on every path.
set -u

abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
src=$(abs "$1") work=$(abs "$2") tsend=$(abs "$3")
shift 3
wine=${MCRX_WINE:-/usr/lib/wine/wine64}
wineserver=${MCRX_WINESERVER:-/usr/lib/wine/wineserver}
export WINEPREFIX="$work/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
programs="win_lifecycle win_receive win_sockets win_ffi win_ssm"

skip_or_fail() {
  echo "windows-test: $*" >&2
  if [ "${CI:-}" = "true" ]; then
    echo "windows-test: CI=true, so a skip is a failure" >&2
    exit 1
  fi
  exit 77
}

stop_wine() {
  # Only this prefix's server and the programs attached to it.
  [ -d "$WINEPREFIX" ] && "$wineserver" -k 2>/dev/null
  [ -d "$WINEPREFIX" ] && timeout 10 "$wineserver" -w 2>/dev/null
  return 0
}

# ---- inside the receiver's namespace ---------------------------------------------
if [ "${1:-}" = "--inner" ]; then
  shift
  fifos=$(mktemp -d)
  trap 'stop_wine; rm -rf "$fifos"' EXIT
  trap 'exit 130' INT TERM
  # A server started outside the namespace would create our sockets there.
  stop_wine
  export WT_IFINDEX WT_IFINDEX2
  WT_IFINDEX=$(cat /sys/class/net/vb/ifindex) WT_IFINDEX2=$(cat /sys/class/net/vb2/ifindex)
  only=${1:-}
  [ $# -gt 0 ] && shift
  failed=0
  for p in $programs; do
    [ -n "$only" ] && [ "$p" != "$only" ] && continue
    echo "== $p"
    # The program's stdin and stdout through two FIFOs: its requests in,
    # "ok" out.
    rm -f "$fifos/in" "$fifos/out"
    mkfifo "$fifos/in" "$fifos/out"
    (cd "$work/build/bin" && exec "$wine" "$p.exe" "$@" <"$fifos/in" >"$fifos/out" 2>&1) &
    pid=$!
    exec {in}>"$fifos/in" {out}<"$fifos/out"
    timed_out=0
    while :; do
      # A silent program is stuck: 30 s without a line ends it.
      IFS= read -r -t 30 line <&"$out"
      r=$?
      if [ "$r" -gt 128 ]; then timed_out=1; break; fi
      [ "$r" != 0 ] && [ -z "$line" ] && break # end of its output
      line=${line%$'\r'}
      case $line in
      @@tsend\ *)
        read -r _ s_src s_if s_dst s_port s_msg s_count <<<"$line"
        if "$tsend" "$s_src" "$s_if" "$s_dst" "$s_port" "$s_msg" "$s_count"; then
          echo ok >&"$in"
        else
          echo "tsend failed" >&"$in"
        fi
        ;;
      *) echo "$line" ;;
      esac
    done
    exec {in}>&- {out}<&-
    if [ "$timed_out" = 1 ]; then
      echo "windows-test: $p printed nothing for 30 s: ended" >&2
      kill "$pid" 2>/dev/null
      stop_wine
    fi
    wait "$pid"
    rc=$?
    [ "$rc" = 0 ] || { echo "== $p failed (exit $rc)"; failed=1; }
  done
  # The tools, once they build for Windows (tests/windows/tools-hook.sh).
  if [ -z "$only" ] || [ "$only" = tools ]; then
    bash "$src/tests/windows/tools-hook.sh" "$work" "$tsend" || failed=1
  fi
  exit $failed
fi

# ---- outside: build, prefix, then into the namespaces ------------------------------
trap 'stop_wine' EXIT
trap 'exit 130' INT TERM

command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 ||
  skip_or_fail "mingw-w64 is missing (apt-get install gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev)"
[ -x "$wine" ] && [ -x "$wineserver" ] || skip_or_fail "wine64 is missing (apt-get install wine64)"
command -v cmake >/dev/null 2>&1 || skip_or_fail "cmake is missing"

mkdir -p "$work"
win_build=${MCRX_WINDOWS_BUILD:-}
if [ -n "$win_build" ]; then
  win_build=$(abs "$win_build")
  [ -f "$win_build/bin/mcrx-core.dll" ] ||
    { echo "windows-test: MCRX_WINDOWS_BUILD=$win_build has no bin/mcrx-core.dll (run scripts/windows-build.sh)" >&2; exit 1; }
  export MCRX_WINDOWS_TOOLS_DIR="$win_build/bin"
fi
gen=()
command -v ninja >/dev/null 2>&1 && [ ! -f "$work/build/CMakeCache.txt" ] && gen=(-G Ninja)
cmake -S "$src/tests/windows" -B "$work/build" "${gen[@]}" \
  -DCMAKE_TOOLCHAIN_FILE="$src/cmake/mingw-w64-x86_64.cmake" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMCRX_WINDOWS_BUILD="$win_build" \
  >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; echo "windows-test: configure failed" >&2; exit 1; }
cmake --build "$work/build" -j "${JOBS:-2}" >"$work/build.log" 2>&1 || { cat "$work/build.log"; echo "windows-test: build failed" >&2; exit 1; }

# The prefix: made once (about 10 s), then reused.
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "windows-test: creating the wine prefix $WINEPREFIX"
  "$wine" wineboot -i >"$work/wineboot.log" 2>&1 || { cat "$work/wineboot.log"; exit 1; }
fi
stop_wine

"$src/scripts/netns-run.sh" bash "$0" "$src" "$work" "$tsend" --inner "$@"
