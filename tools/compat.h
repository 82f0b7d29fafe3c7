/*
 * What the tools need from the operating system beyond C11 and the library:
 * the sender's sockets, stop signals, waiting and clocks. compat_posix.c and
 * compat_win.c implement it; tools/CMakeLists.txt builds one of them, so the
 * tools' own files test no OS macro. Like src/platform/sysnet.h, the socket
 * headers below are the one place that chooses by OS.
 */
#ifndef MCRX_TOOL_COMPAT_H
#define MCRX_TOOL_COMPAT_H

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN /* no objbase.h and its "interface" macro */
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include <stddef.h>
#include <stdio.h>

#include <mcrx/mcrx.h>

/* Sockets usable by the tool itself (Winsock's WSAStartup; nothing on POSIX).
 * The library starts Winsock for its own sockets. 0, or -1 after printing why. */
int mcrx_tool_net_init(const char *name);
/* The OS's text for the last failed socket call (errno, WSAGetLastError). */
const char *mcrx_tool_net_error(void);
/* 1 when the last failed send only found the send queue full (ENOBUFS,
 * EAGAIN; WSAENOBUFS, WSAEWOULDBLOCK): the datagram may be sent again. */
int mcrx_tool_net_busy(void);
void mcrx_tool_sock_close(mcrx_sock s);
/* Index of the interface that holds an IPv6 address, 0 if none. */
unsigned mcrx_tool_v6_index_of(const mcrx_ip *ip);

/*
 * Calls handler(SIGINT or SIGTERM) on a stop request: SIGINT and SIGTERM on
 * POSIX; Ctrl-C, Ctrl-Break and closing the console on Windows (where the
 * handler runs on a thread of its own). With hold, the request is held back
 * except inside mcrx_tool_wait, so none is lost between a check and a wait.
 */
void mcrx_tool_on_stop(void (*handler)(int), int hold);

/*
 * Waits until ctx may have a datagram, a stop request arrives, or seconds
 * pass (< 0: no limit); may return early. 0, or -1 with the reason in why.
 */
int mcrx_tool_wait(mcrx_context *ctx, double seconds, char *why, size_t len);

/* Sleeps for seconds; a stop request ends it early. */
void mcrx_tool_sleep(double seconds);
/* Sleeps until the monotonic time t (mcrx_tool_mono); a stop request ends it
 * early. */
void mcrx_tool_sleep_until(double t);
/* Sleeps for seconds (a short pause), stop request or not. */
void mcrx_tool_pause(double seconds);

/* The name of interface index in buf, "" when it has none. */
#define MCRX_TOOL_IFNAME_LEN 260
void mcrx_tool_ifname(unsigned index, char *buf, size_t len);

/* --rcvbuf: what the OS granted for asked bytes (have, as getsockopt reads
 * it), on f; on stderr, when it granted less, the limit and how to raise it. */
void mcrx_tool_rcvbuf_report(FILE *f, const char *name, unsigned long asked, size_t have);

#endif
