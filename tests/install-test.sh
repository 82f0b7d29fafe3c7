#!/usr/bin/env bash
# Installs the build into a temporary prefix, builds a program written against
# the Rust crate's <mcrx_core_ffi.h> with pkg-config and with find_package, and
# runs each against a real sender. Runs on the receiver host of netns-run.sh.
# usage: install-test.sh BUILD_DIR SOURCE_DIR TSEND
set -euo pipefail
build=$1 src=$2 tsend=$3
cc=${CC:-cc}
# A sanitized library needs sanitized consumers.
extra=${MCRX_CONSUMER_FLAGS:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
libdir=$(dirname "$(find "$work/prefix" -name mcrx-core.pc -print -quit)")/..
export PKG_CONFIG_PATH="$libdir/pkgconfig"
export LD_LIBRARY_PATH="$libdir"
test -f "$work/prefix/include/mcrx_core_ffi.h"
test -f "$work/prefix/include/mcrx/mcrx.h"
# The tools' man pages (man mcrx_recv after make install) and completion.
if [ -d "$build/tools" ]; then
  for m in mcrx_recv mcrx_recv_meta mcrx_send mcrx_doctor; do
    test -f "$work/prefix/share/man/man1/$m.1"
    test -f "$work/prefix/share/bash-completion/completions/$m"
  done
  # mcrx_raw_recv and its page exist on Linux only.
  if [ -x "$build/tools/mcrx_raw_recv" ]; then
    test -f "$work/prefix/share/man/man1/mcrx_raw_recv.1"
    test -f "$work/prefix/share/bash-completion/completions/mcrx_raw_recv"
    test -x "$work/prefix/bin/mcrx_raw_recv"
  fi
  echo "ok: man pages and completion installed"
fi
pkg-config --exists mcrx-core
[ "$(pkg-config --modversion mcrx-core)" = "0.1.0" ]

# The user's build line, unchanged.
"$cc" -std=c11 -Wall -Wextra -Werror $extra -o "$work/seed_program" "$src/tests/compat/seed_program.c" \
  $(pkg-config --cflags --libs mcrx-core)
# Read whole outputs before matching: under pipefail, grep -q closing the pipe
# early would fail the producer with SIGPIPE.
grep -qF "$libdir/libmcrx-core.so" <<<"$(ldd "$work/seed_program")"

# The libuv adapter's own .pc file, with the example a user would start from.
if pkg-config --exists libuv; then
  pkg-config --exists mcrx-core-uv
  test -f "$work/prefix/include/mcrx/mcrx_uv.h"
  "$cc" -std=gnu11 -Wall -Wextra -Werror $extra -o "$work/uv_loop" "$src/examples/uv_loop.c" \
    $(pkg-config --cflags --libs mcrx-core-uv)
  echo "ok: mcrx-core-uv builds with pkg-config"
fi

# The JSONL reader's own .pc file: a program that validates a file links with it alone.
if pkg-config --exists jansson; then
  pkg-config --exists mcrx-core-jsonl
  test -f "$work/prefix/include/mcrx/jsonl.h"
  printf '#include <mcrx/jsonl.h>\nint main(int c, char **v) { return c > 1 && mcrx_jsonl_validate_file(v[1]) != MCRX_ERROR_NONE; }\n' >"$work/validate.c"
  "$cc" -std=c11 -Wall -Wextra -Werror $extra -o "$work/validate" "$work/validate.c" \
    $(pkg-config --cflags --libs mcrx-core-jsonl)
  "$work/validate"
  echo "ok: mcrx-core-jsonl builds with pkg-config"
fi

cmake -S "$src/tests/compat" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_C_FLAGS="$extra" -DCMAKE_EXE_LINKER_FLAGS="$extra" >/dev/null
cmake --build "$work/consumer" >/dev/null
if pkg-config --exists libuv; then test -x "$work/consumer/uv_loop_cmake"; echo "ok: find_package(mcrx-core) has mcrx-core::mcrx-core-uv"; fi

port=34000
run() { # program group source iface sender-src
  local prog=$1 group=$2 source=$3 iface=$4 from=$5 out="$work/out.$RANDOM"
  "$prog" "$group" "$port" "$source" $iface >"$out" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do grep -q '^ready' "$out" && break; sleep 0.05; done
  "$tsend" "$from" va "$group" "$port" "from-seed-abi" 3
  wait "$pid" || { cat "$out"; echo "FAIL: $prog $group"; exit 1; }
  grep -q "payload=from-seed-abi" "$out" || { cat "$out"; exit 1; }
  grep -q "src=$from:" "$out" || { cat "$out"; exit 1; }
  grep -q "group=$group dst_port=$port" "$out" || { cat "$out"; exit 1; }
  grep -q "dest=$group ingress=yes" "$out" || { cat "$out"; exit 1; }
  echo "ok: $(basename "$prog") $group"
  port=$((port + 1))
}
run "$work/seed_program" 239.9.0.1 - "" 198.51.100.1
run "$work/seed_program" 232.9.0.1 198.51.100.1 198.51.100.2 198.51.100.1
run "$work/consumer/seed_program_cmake" ff3e::8000:901 2001:db8:1::1 2001:db8:1::2 2001:db8:1::1
run "$work/consumer/seed_program_static" ff0e::8000:902 - "$(cat /sys/class/net/vb/ifindex)" 2001:db8:1::1
echo "install-test: passed"
