/*
 * The contract between the portable core and each operating system. Only
 * files under src/platform/ include system networking headers; the core sees
 * sockets as mcrx_sock and addresses as mcrx_ip.
 */
#ifndef MCRX_PLATFORM_H
#define MCRX_PLATFORM_H

#include "mcrx/mcrx.h"

struct mcrx__err;

/* Per-datagram facts the OS reports beside the payload. */
typedef struct mcrx__rxinfo {
    mcrx_ip dst;          /* pktinfo destination */
    uint32_t ifindex;     /* pktinfo ingress interface */
    uint32_t valid;       /* MCRX_META_* bits */
    int64_t ts_ns;
    uint64_t drops;
    uint8_t ttl;
} mcrx__rxinfo;

/* Largest number of datagrams one platform receive call handles. */
#define MCRX__RX_CHUNK 64

/* What the platform resolved for a subscription's socket. */
typedef struct mcrx__sockinfo {
    uint32_t ifindex; /* the receive interface, 0 = the kernel's choice */
    /* 1 when the kernel itself delivers only this subscription's datagrams
     * (bound to the group, and to the interface when one is set), so the
     * user-space check needs no pktinfo. */
    int isolated;
    /* 1 when any per-datagram report (pktinfo, TTL, ...) is turned on. */
    int cmsgs;
} mcrx__sockinfo;

/*
 * Opens a socket for cfg (validated): reusable port, bound where the platform
 * isolates best, non-blocking, other groups off, cfg->rx_options on (and
 * pktinfo whenever the socket is not isolated).
 */
int mcrx__plat_open(const mcrx_subscription_config *cfg, mcrx_sock *sock_out,
                    mcrx__sockinfo *info, struct mcrx__err *err);

/* Checks and prepares a caller's bound socket for cfg (family, port, options). */
int mcrx__plat_adopt(const mcrx_subscription_config *cfg, mcrx_sock sock,
                     mcrx__sockinfo *info, struct mcrx__err *err);

/* The socket's effective receive buffer. */
int mcrx__plat_rcvbuf(mcrx_sock sock, size_t *bytes, struct mcrx__err *err);

/* The socket's bound address. */
int mcrx__plat_local_addr(mcrx_sock sock, mcrx_ip *ip, uint16_t *port, struct mcrx__err *err);

/* Joins (join != 0) or leaves cfg's group on sock. */
int mcrx__plat_membership(mcrx_sock sock, const mcrx_subscription_config *cfg,
                          uint32_t ifindex, int join, struct mcrx__err *err);

/*
 * After a join (pin 1) of a socket opened without an interface, finds the
 * interface the kernel joined on, records it in info->ifindex and binds the
 * socket to it where the kernel's own filtering needs that (IPv6); where the
 * binding is not allowed, info->isolated drops to 0. After a leave (pin 0),
 * undoes it. A no-op for IPv4.
 */
int mcrx__plat_pin_interface(mcrx_sock sock, const mcrx_subscription_config *cfg,
                             mcrx__sockinfo *info, int pin, struct mcrx__err *err);

/*
 * Receives up to n (<= MCRX__RX_CHUNK) datagrams without blocking. Fills each
 * dgs[i]'s len, wire_len, flags, source, source_port and info[i]. With
 * cmsgs 0 the socket has no per-datagram reports turned on, so the cheapest
 * call that still returns the sender is used. *got = 0 when nothing is
 * queued. Returns 0, or an errno value.
 */
int mcrx__plat_recv(mcrx_sock sock, int cmsgs, mcrx_datagram *dgs, mcrx__rxinfo *info,
                    size_t n, size_t *got);

void mcrx__plat_close(mcrx_sock sock);

/* Fills info from a received control-message buffer (controllen bytes at
 * control; NULL or 0 = none). Never reads outside the buffer, whatever the
 * lengths inside it say: it is the fuzzing entry for control messages. */
void mcrx__plat_parse_cmsgs(const void *control, size_t controllen, mcrx__rxinfo *info);

/* Readiness set: a pollable handle that is readable when a member is. */
int mcrx__poller_open(mcrx_sock *poller, struct mcrx__err *err);
int mcrx__poller_add(mcrx_sock poller, mcrx_sock sock, void *tag, struct mcrx__err *err);
void mcrx__poller_del(mcrx_sock poller, mcrx_sock sock);
/* Up to max ready tags; timeout_ms -1 waits forever. Returns the count, or
 * -errno. */
int mcrx__poller_wait(mcrx_sock poller, void **tags, int max, int timeout_ms);

/* A wake-up signal for a thread blocked on a poller (eventfd on Linux). */
int mcrx__wakeup_open(mcrx_sock *w, struct mcrx__err *err);
void mcrx__wakeup_signal(mcrx_sock w);
void mcrx__wakeup_drain(mcrx_sock w);
/* Waits until sock is readable (1), or timeout (0); -errno on failure,
 * 0 when a signal interrupts. */
int mcrx__wait_readable(mcrx_sock sock, int timeout_ms);
/* Waits until sock_a or sock_b is readable, or timeout. */
int mcrx__wait_readable2(mcrx_sock a, mcrx_sock b, int timeout_ms);

/* The kernel's count of datagrams dropped on sock (0 where unknown). */
uint64_t mcrx__plat_drops(mcrx_sock sock);

/* /proc-style figures of this process; MCRX_ERROR_NOT_SUPPORTED elsewhere. */
mcrx_error mcrx__plat_hardware(mcrx_hardware_metrics *out);

/* Interface name to index, 0 if unknown. */
uint32_t mcrx__if_nametoindex(const char *name);

/* Text <-> address, using the OS's own parser. */
int mcrx__inet_pton(int family, const char *text, uint8_t *bytes);
int mcrx__inet_ntop(int family, const uint8_t *bytes, char *buf, size_t len);

#endif
