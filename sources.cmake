# The library's sources: read by CMakeLists.txt and by python/setup.py (which
# parses the set() lists below, so keep one file name per line).

# The portable core: no system networking header, no OS test.
set(MCRX_CORE_SOURCES
  src/addr.c
  src/config.c
  src/context.c
  src/error.c
  src/ffi.c
  src/filter.c
  src/ifset.c
  src/jsonl.c
  src/metrics.c
  src/raw.c
  src/raw_shared.c
  src/receiver.c
  src/recv.c
  src/subscription.c
  src/view.c
)

# Linux: the platform contract of src/platform/platform.h.
set(MCRX_LINUX_SOURCES
  src/platform/linux_fs.c
  src/platform/linux_if.c
  src/platform/linux_netlink.c
  src/platform/linux_proc.c
  src/platform/linux_raw.c
  src/platform/linux_udp.c
  src/platform/linux_uring.c
  src/platform/linux_wakeup.c
  src/platform/poller_epoll.c
  src/platform/poller_list.c
)

# Windows (Winsock 2, WSARecvMsg, WSAPoll): cross-built with mingw-w64.
set(MCRX_WINDOWS_SOURCES
  src/platform/poller_list.c
  src/platform/raw_unsupported.c
  src/platform/win_fs.c
  src/platform/win_proc.c
  src/platform/win_udp.c
  src/platform/win_wakeup.c
)
