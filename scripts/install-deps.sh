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
#   tcpdump libpcap-dev       the raw-capture benchmark's anchor (tcpdump, and libpcap in bench/raw_drain.c)
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
#   smcroute                  the static multicast router of tests/router-test.sh
#   pimd (unpacked, below)    the PIM-SM/SSM router of tests/router-test.sh
PACKAGES="cmake make gcc pkg-config libmnl-dev libcmocka-dev iproute2 util-linux procps tshark tcpdump libpcap-dev iperf socat libuv1-dev libjansson-dev valgrind python3-dev python3-setuptools python3-pip python3-venv python3-pytest python3-wheel-whl python3-setuptools-whl python3-pip-whl locales clang nftables gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev wine64 liburing-dev smcroute"

# Debian's pimd conflicts with smcroute (each ships a boot-time service that
# claims the kernel's multicast routing socket). The tests run each daemon in
# a namespace of their own and need only the program, so pimd's package is
# downloaded and unpacked here, not installed: no service, no conflict.
PIMD_DIR=/opt/mcrx-core-deps/pimd
PIMD_BIN=$PIMD_DIR/usr/sbin/pimd

install_pimd() {
  local tmp
  tmp=$(mktemp -d)
  chown _apt "$tmp" 2>/dev/null || true # apt downloads as its own user, _apt
  (cd "$tmp" && apt-get download -q pimd) || { apt-get update -q && (cd "$tmp" && apt-get download -q pimd); } ||
    { rm -rf "$tmp"; return 1; }
  mkdir -p "$PIMD_DIR" && dpkg-deb -x "$tmp"/pimd_*.deb "$PIMD_DIR"
  local rc=$?
  rm -rf "$tmp"
  [ "$rc" = 0 ] && [ -x "$PIMD_BIN" ]
}

# A freshly installed smcroute is enabled to start at boot and, where systemd
# runs, started: it would route multicast in the host's own namespace. The
# tests start their own smcrouted; the host's is stopped and disabled.
quiet_smcroute() {
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now smcroute.service smcroute-helper.service >/dev/null 2>&1 || true
  fi
}

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
need_pimd=""
[ -x "$PIMD_BIN" ] || need_pimd=1
[ -z "$missing" ] && [ -z "$need_pimd" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  [ -n "$missing" ] && echo "install-deps: missing Debian packages:$missing" >&2
  [ -n "$missing" ] && echo "install-deps: run as root:  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
  [ -n "$need_pimd" ] && echo "install-deps: missing $PIMD_BIN; run as root:  cd \$(mktemp -d) && apt-get download pimd && mkdir -p $PIMD_DIR && dpkg-deb -x pimd_*.deb $PIMD_DIR" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
  echo "install-deps: installing:$missing"
  if ! apt-get install -y -q --no-install-recommends $missing; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends $missing
  fi
  case " $missing " in *" smcroute "*) quiet_smcroute ;; esac
fi
if [ -n "$need_pimd" ]; then
  echo "install-deps: unpacking Debian's pimd into $PIMD_DIR"
  install_pimd || { echo "install-deps: could not download and unpack pimd" >&2; exit 1; }
fi
