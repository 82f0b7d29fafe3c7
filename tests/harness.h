/* Test harness: sender sockets on the sender host, bounded waits. */
#ifndef MCRX_TEST_HARNESS_H
#define MCRX_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <mcrx/mcrx.h>

/* Addresses of the network scripts/netns-run.sh builds. */
#define S_V4 "198.51.100.1"     /* sender, link 1 */
#define S_V4_OTHER "198.51.100.3"
#define R_V4 "198.51.100.2"     /* receiver, link 1 */
#define S_V4_L2 "203.0.113.1"   /* sender, link 2 */
#define R_V4_L2 "203.0.113.2"
#define S_V6 "2001:db8:1::1"
#define S_V6_OTHER "2001:db8:1::3"
#define R_V6 "2001:db8:1::2"
#define S_V6_L2 "2001:db8:2::1"
#define R_V6_L2 "2001:db8:2::2"

/* Deadline for every wait in the tests. */
#define TH_WAIT_MS 2000

/* Fails (exit 1) unless the sender namespace is known, or when MCRX_BACKEND
 * names a backend contexts do not get; call first in main. */
void th_init(void);

/* Interface index of a receiver interface ("vb", "vb2"). */
uint32_t th_rx_ifindex(const char *name);

/*
 * A UDP socket on the sender host bound to src (port 0), sending multicast out
 * of sender interface ifname with TTL / hop limit 1.
 */
int th_sender(const char *src, const char *ifname);
/* A socket on the sender host bound to src, for unicast. */
int th_sender_plain(const char *src);
/* Sends len bytes of payload to dst:port. Fails the test on error. */
void th_send(int fd, const char *dst, uint16_t port, const void *payload, size_t len);
void th_send_str(int fd, const char *dst, uint16_t port, const char *text);

/* Receives one datagram from the context, waiting up to ms. Returns 1 or 0. */
int th_ctx_recv_wait(mcrx_context *ctx, mcrx_datagram *dg, int ms);
int th_sub_recv_wait(mcrx_subscription *sub, mcrx_datagram *dg, int ms);
/* Waits until fd is readable, up to ms. Returns 1 or 0. */
int th_readable(intptr_t fd, int ms);
/* CLOCK_MONOTONIC in milliseconds, for deadlines and latencies. */
long long th_now_ms(void);
/* Sleeps briefly so in-flight datagrams land (used only before asserting absence). */
void th_settle(void);

/* A fresh port for each test, so tests never see each other's traffic. */
uint16_t th_port(void);

/* Adds and joins cfg parsed from text; fails the test on error. */
uint64_t th_add_join(mcrx_context *ctx, const char *group, uint16_t port, const char *source,
                     const char *iface);



/* The link-local address of a sender interface ("va"), as text without scope. */
void th_sender_linklocal(const char *ifname, char *buf, size_t len);
/* A plain socket in the receiver namespace bound to addr:port with
 * SO_REUSEADDR (a "foreign" program sharing the port). */
int th_foreign_socket(const char *addr, uint16_t port);
/* Makes a foreign socket join group (ASM) on the interface with index ifindex
 * (0 = default). */
void th_foreign_join(int fd, const char *group, uint32_t ifindex);


/* A thread that sends count datagrams carrying sequence numbers first..,
 * spread round-robin over ngroups groups (all on port), pausing 1 ms every
 * burst datagrams so default socket buffers keep up. */
typedef struct th_seq_sender th_seq_sender;
th_seq_sender *th_seq_start(int fd, const char *const *groups, int ngroups, uint16_t port,
                            uint32_t first, uint32_t count, uint32_t burst);
void th_seq_join(th_seq_sender *s);

#endif
