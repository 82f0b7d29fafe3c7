#!/usr/bin/env bash
# Installs the Debian packages mcrx-core needs to build, test and demo.
# Idempotent: does nothing when all are present. As root it installs what is
# missing with apt-get; otherwise it prints the exact command and fails.
set -eu

# What each package is for:
#   cmake make gcc pkg-config  build
#   libmnl-dev                rtnetlink (libmnl) for rejoining interface sets (linux_netlink.c)
#   libcmocka-dev             C unit and integration tests
#   iproute2 util-linux procps  network namespaces, veth, unshare/nsenter, sysctl
#   tshark                    reads the IGMP/MLD reports the kernel sends for our joins
#   iperf socat               third-party sender and receiver the tools are tested against
#   nftables                  mcrx_doctor reads the firewall; its test and the iperf loss test add rules
#   libuv1-dev                the libuv adapter (mcrx-core-uv)
#   libjansson-dev            mcrx-core-jsonl, the JSONL reader the tools and tests use
#                             (it brings the runtime, libjansson4)
#   valgrind                  make bench: what counting costs, in instructions
#   python3-dev python3-setuptools python3-pip python3-venv python3-pytest
#                             the Python extension, its offline pip install and pytest suite
#   python3-wheel-whl python3-setuptools-whl python3-pip-whl
#                             the offline wheels pip builds the package with (build isolation)
#   locales                   a comma-decimal locale for the locale-independence test
#   clang                     make fuzz (libFuzzer); make check needs only gcc
#   gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev
#                             make windows: the Windows DLL and tools (cross build)
#   wine64                    runs the Windows programs in make check
#   liburing-dev              the io_uring receive backend (Linux >= 6.0)
PACKAGES="cmake make gcc pkg-config libmnl-dev libcmocka-dev iproute2 util-linux procps tshark iperf socat libuv1-dev libjansson-dev valgrind python3-dev python3-setuptools python3-pip python3-venv python3-pytest python3-wheel-whl python3-setuptools-whl python3-pip-whl locales clang nftables gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev wine64 liburing-dev"

missing=""
if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-deps: not a Debian system; make sure these (or equivalents) are installed: $PACKAGES" >&2
  exit 0
fi
for p in $PACKAGES; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing Debian packages:$missing" >&2
  echo "install-deps: run as root:  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
  exit 1
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends $missing; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends $missing
fi
