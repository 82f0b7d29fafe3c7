/*
 * The platform contract: what a port of mcrx-core provides.
 *
 * The portable core (the .c files of src/) keeps policy: subscriptions and their
 * lifecycle, the isolation check, fair scheduling, counters, errors. All it
 * knows of an operating system is what this header declares. A port is a set
 * of files under src/platform/ chosen by the build (CMakeLists.txt and
 * python/setup.py both read sources.cmake); nothing outside src/platform/
 * includes a system networking header or tests an OS macro.
 *
 * A port provides five things:
 *
 *  1. Receive backends (struct mcrx__backend): how a subscription's
 *     datagrams get from the OS into the caller's slots. A backend opens an
 *     endpoint for a config (or adopts a caller's socket), moves its
 *     membership from one filter state to another, receives a batch with
 *     each datagram's receive facts (mcrx__rxinfo), names the handle to
 *     wait on, and closes. The UDP socket backend (recvmmsg on Linux) is
 *     one; a raw packet socket, an io_uring ring or WSARecvMsg are others,
 *     each in its own file. Backends whose memory the kernel owns (a ring of
 *     provided buffers) set MCRX__CAP_VIEWS and hand out views valid until
 *     the endpoint's next receive call, the second receive mode of
 *     STYLE.md.
 *  2. Pollers (struct mcrx__poller): a readiness set that says *what*
 *     became ready (a typed mcrx__watch: a subscription, a wake-up, later a
 *     netlink socket or a ring). Pollers that are one pollable handle
 *     (epoll, kqueue) give it to mcrx_context_fd; the socket-list tier
 *     (poll(2), WSAPoll) has none, and event loops watch the sockets
 *     mcrx_context_sockets lists instead.
 *  3. A wake-up handle for a thread blocked in a poller wait.
 *  4. Clocks, the OS's error texts, the process's hardware figures, and
 *     the kernel's per-socket figures (receive buffer, drops).
 *  5. src/platform/sysnet.h: the system headers for sockets and addresses,
 *     so the address leaf (src/addr.c) compiles everywhere.
 *
 * One convention throughout: a function that can fail returns
 * MCRX_ERROR_NONE (0) or the failure's kind, having filled *err with the
 * kind, the OS error number and a message beginning "MCRX: " that names the
 * OS call, gives the OS's own text for the error (mcrx__os_error_text, never
 * strerror in the core) and, where one applies, the setting to change. No
 * function returns -errno or prints. "Nothing queued" is not a failure: a
 * receive returns 0 with *got = 0. An interrupted wait (a signal) returns 0
 * with nothing ready; callers loop where they must.
 *
 * Threading: each endpoint is used by one thread at a time (the core's
 * locks see to it); poller add/del and wait may run on different threads at
 * once.
 */
#ifndef MCRX_PLATFORM_H
#define MCRX_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "mcrx/mcrx.h"
#include "../filter.h"

struct mcrx__err;

/* printf-style argument checking for the toolchain: mingw-w64 checks its
 * own C99 printf (__USE_MINGW_ANSI_STDIO) as gnu_printf. */
#if defined(__MINGW32__)
#define MCRX__PRINTF_LIKE(fmt, args) __attribute__((format(gnu_printf, fmt, args)))
#elif defined(__GNUC__)
#define MCRX__PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MCRX__PRINTF_LIKE(fmt, args)
#endif

/* ---- per-datagram receive facts ------------------------------------------------ */

/* What the OS reports beside a datagram's payload. */
typedef struct mcrx__rxinfo {
    mcrx_ip dst;          /* destination (pktinfo) */
    uint32_t ifindex;     /* ingress interface (pktinfo) */
    uint32_t valid;       /* MCRX_META_* bits of what is set */
    int64_t ts_ns;        /* kernel receive time, Unix ns */
    uint64_t drops;       /* the socket's drop counter */
    uint8_t ttl;
} mcrx__rxinfo;

/* Largest number of datagrams one backend receive call handles. */
#define MCRX__RX_CHUNK 64

/*
 * Fills info from a control-message buffer as the OS returned it
 * (controllen bytes at control; NULL or 0 = none). Never reads outside the
 * buffer, whatever the lengths inside it say; unknown items are skipped. It
 * is the fuzzing entry for control messages.
 */
void mcrx__plat_parse_cmsgs(const void *control, size_t controllen, mcrx__rxinfo *info);

/* ---- receive backends ------------------------------------------------------------- */

/* Capabilities of a backend. */
enum {
    MCRX__CAP_BATCH = 1u << 0,         /* one call receives many datagrams */
    MCRX__CAP_CALLER_SOCKET = 1u << 1, /* adopt() takes a caller's socket */
    MCRX__CAP_VIEWS = 1u << 2,         /* recv_views(): the backend owns the memory */
    MCRX__CAP_RXINFO = 1u << 3,        /* reports destination and ingress interface */
    /* ep->sock is an IP socket the socket functions below may query (its
     * bound address, receive buffer, drops); without it the core answers
     * from the endpoint's fields. */
    MCRX__CAP_IP_SOCKET = 1u << 4,
    /* Datagrams leave ep->sock as they arrive, into memory the backend
     * holds (an armed io_uring receive): the socket's readiness says
     * nothing of the subscription's data, and the socket cannot be handed
     * back to a caller without losing what the backend holds. */
    MCRX__CAP_DRAINS_SOCKET = 1u << 5
};

/*
 * One subscription's receive endpoint. The backend fills it in open/adopt;
 * the core reads the public fields and never the backend's state. ep->be is
 * set before open, so a backend may embed its mcrx__backend at the start of
 * a larger struct of its own settings and find them there.
 */
typedef struct mcrx__endpoint {
    const struct mcrx__backend *be;
    mcrx_sock sock;       /* what mcrx_subscription_sock returns; memberships live on it */
    mcrx_ip local_ip;     /* the address it is bound to */
    uint16_t local_port;
    uint32_t ifindex;     /* receive interface, 0 = the kernel's choice */
    mcrx_ip ifaddr;       /* the configured interface address (IPv4 names it so) */
    /* 1 when the OS itself delivers only this subscription's datagrams, so
     * the receive-side check may do without a destination report. */
    int isolated;
    int cmsgs;            /* per-datagram reports are on */
    int pinned;           /* ifindex was learnt after a join without one */
    int owned;            /* the library opened sock (and closes it) */
    void *state;          /* the backend's own */
} mcrx__endpoint;

/* A view into memory the backend owns (MCRX__CAP_VIEWS), valid until the
 * endpoint's next receive call. */
typedef struct mcrx__rxview {
    const uint8_t *data;
    size_t len, wire_len;
    uint32_t flags;       /* MCRX_DATAGRAM_* */
    mcrx_ip source;
    uint16_t source_port;
    mcrx__rxinfo info;
} mcrx__rxview;

typedef struct mcrx__backend {
    const char *name;
    unsigned caps;        /* MCRX__CAP_* */
    /* Opens an endpoint for cfg (validated), bound and non-blocking, with
     * the reports cfg->rx_options asks for (and the destination report
     * whenever it is not isolated). No membership yet. */
    mcrx_error (*open)(const mcrx_subscription_config *cfg, mcrx__endpoint *ep,
                       struct mcrx__err *err);
    /* Prepares a caller's bound socket for cfg (family, port, options).
     * NULL where the backend has no caller sockets. */
    mcrx_error (*adopt)(const mcrx_subscription_config *cfg, mcrx_sock sock,
                        mcrx__endpoint *ep, struct mcrx__err *err);
    /* Moves the membership on one interface from state `from` to state
     * `to` (the same group), and whatever the OS needs besides so that only
     * `to`'s datagrams arrive (an interface learnt after a join). ifindex 0
     * is ep's own interface (ep->ifindex, ep->ifaddr: a single-interface
     * subscription); any other names the interface by index, for the
     * memberships of an interface set (one per interface, on a socket bound
     * to no device), and nothing is pinned. EXCLUDE{} -> INCLUDE{} with an
     * index is a plain group leave (LEAVE_GROUP): the core uses it to clear
     * a membership the kernel lost with its interface, whatever its mode,
     * since a source leave on a dead index fails and leaves the entry
     * counting against the limit. On failure the endpoint is left in
     * `from`. */
    mcrx_error (*apply)(mcrx__endpoint *ep, uint32_t ifindex, const mcrx__filter *from,
                        const mcrx__filter *to, struct mcrx__err *err);
    /* Receives up to n (<= MCRX__RX_CHUNK) datagrams without blocking into
     * dgs (caller's buffers: len, wire_len, flags, source, source_port) and
     * info. Truncation sets MCRX_DATAGRAM_TRUNCATED, never silent. On a
     * failure *got is 0: a failure met after some datagrams is kept for
     * the next call, which the datagrams precede. NULL for a
     * MCRX__CAP_VIEWS backend: the core copies from its views. */
    mcrx_error (*recv)(mcrx__endpoint *ep, mcrx_datagram *dgs, mcrx__rxinfo *info, size_t n,
                       size_t *got, struct mcrx__err *err);
    /* MCRX__CAP_VIEWS only: up to n (<= MCRX__RX_CHUNK) views into the
     * backend's memory, valid until the endpoint's next receive call. The
     * same rule for failures as recv. */
    mcrx_error (*recv_views)(mcrx__endpoint *ep, mcrx__rxview *views, size_t n, size_t *got,
                             struct mcrx__err *err);
    /* The handle a poller watches for this endpoint's readiness. */
    mcrx_sock (*wait_handle)(const mcrx__endpoint *ep);
    /* Frees the backend's state; closes sock if keep_sock is 0. */
    void (*close)(mcrx__endpoint *ep, int keep_sock);
} mcrx__backend;

/* The platform's UDP socket backend: the default of every context. */
extern const mcrx__backend mcrx__udp_backend;

/*
 * The io_uring backend (Linux, linux_uring.c): the UDP backend's sockets and
 * memberships, received by a multishot recvmsg into nbufs (a power of two)
 * kernel-provided buffers of room payload bytes each, per endpoint. Checks
 * that the kernel lets this process set up a ring at all and returns a
 * backend to give to mcrx__context_new_with, freed with
 * mcrx__plat_uring_backend_free once no endpoint uses it.
 * NOT_SUPPORTED when it does not (built without liburing, another OS,
 * io_uring refused by the sysctl kernel.io_uring_disabled or a seccomp
 * profile): the caller falls back to mcrx__udp_backend.
 */
mcrx_error mcrx__plat_uring_backend(unsigned nbufs, size_t room, const mcrx__backend **out,
                                    struct mcrx__err *err);
void mcrx__plat_uring_backend_free(const mcrx__backend *be);

/* ---- readiness ------------------------------------------------------------------- */

/* What a poller reports as ready. */
enum {
    MCRX__WATCH_SUBSCRIPTION = 1, /* embedded in a mcrx_subscription */
    MCRX__WATCH_WAKEUP = 2,       /* a wake-up handle */
    MCRX__WATCH_STAGED = 3,       /* a wake-up readable while datagrams are staged */
    MCRX__WATCH_IFMON = 4         /* the interface monitor (mcrx__ifmon): links changed */
};

typedef struct mcrx__watch {
    int kind;             /* MCRX__WATCH_* */
    mcrx_sock handle;     /* what to watch */
} mcrx__watch;

typedef struct mcrx__poller mcrx__poller;

typedef struct mcrx__poller_ops {
    const char *name;
    mcrx_error (*add)(mcrx__poller *p, mcrx__watch *w, struct mcrx__err *err);
    void (*del)(mcrx__poller *p, mcrx__watch *w);
    /* Waits up to timeout_ms (0: just look; -1: forever) until a member,
     * or extra (may be NULL: not a member, watched for this call only), is
     * readable; stores up to max ready watches in ready[] and their count
     * in *n. Level-triggered: what is not drained is reported again. */
    mcrx_error (*wait)(mcrx__poller *p, mcrx__watch *extra, mcrx__watch **ready, int max,
                       int timeout_ms, int *n, struct mcrx__err *err);
    /* The one handle that is readable when a member is, or
     * MCRX_SOCK_INVALID for a socket-list poller. */
    mcrx_sock (*fd)(const mcrx__poller *p);
    void (*close)(mcrx__poller *p);
} mcrx__poller_ops;

struct mcrx__poller {
    const mcrx__poller_ops *ops;
    /* 1: a wait interrupted without a readiness goes on to its deadline
     * instead of returning nothing ready. io_uring runs a ring's
     * completions as task work of the thread that armed it, which cuts
     * that thread's epoll_wait short (EINTR) with no signal sent; the
     * contexts of that backend set it. */
    int restart_interrupted;
};

/* The platform's best poller (epoll on Linux). */
mcrx_error mcrx__poller_open(mcrx__poller **p, struct mcrx__err *err);
/* The socket-list tier: poll(2) over the members; no single handle. */
mcrx_error mcrx__poller_list_open(mcrx__poller **p, struct mcrx__err *err);

/* ---- wake-ups and single waits ------------------------------------------------------ */

/* A handle another thread makes readable (eventfd on Linux). */
mcrx_error mcrx__wakeup_open(mcrx_sock *w, struct mcrx__err *err);
void mcrx__wakeup_signal(mcrx_sock w);
void mcrx__wakeup_drain(mcrx_sock w);
void mcrx__wakeup_close(mcrx_sock w);

/* Waits up to timeout_ms until h is readable: *ready 1, or 0 on timeout or
 * a signal. A handle closed underneath is RECEIVE_FAILED (EBADF), not
 * "ready" forever. */
mcrx_error mcrx__wait_handle(mcrx_sock h, int timeout_ms, int *ready, struct mcrx__err *err);

/* ---- interfaces ----------------------------------------------------------------------- */

/* The index of the interface holding addr (IPv4 or IPv6; an IPv6 scope
 * narrows it). INTERFACE_DISCOVERY_FAILED, naming the address, when no
 * interface has it. */
mcrx_error mcrx__plat_index_of_address(const mcrx_ip *addr, uint32_t *index,
                                       struct mcrx__err *err);
/* 0 if an interface has this index, else INTERFACE_DISCOVERY_FAILED. */
mcrx_error mcrx__plat_index_exists(uint32_t index, struct mcrx__err *err);

/* One network interface as the OS lists it now. */
enum {
    MCRX__LINK_UP = 1u << 0,        /* administratively up (IFF_UP) */
    MCRX__LINK_MULTICAST = 1u << 1, /* IFF_MULTICAST */
    MCRX__LINK_LOOPBACK = 1u << 2   /* IFF_LOOPBACK */
};

typedef struct mcrx__link {
    uint32_t index;
    char name[16];        /* NUL-terminated */
    unsigned flags;       /* MCRX__LINK_* */
    uint32_t mtu;         /* 0 where unknown */
} mcrx__link;

/* Every interface now, in *links (malloc'd; the caller frees it) and their
 * number in *n. Linux: an rtnetlink dump (RTM_GETLINK); Windows:
 * GetAdaptersAddresses. INTERFACE_DISCOVERY_FAILED on failure. */
mcrx_error mcrx__plat_links(mcrx__link **links, size_t *n, struct mcrx__err *err);

/* The kernel's per-socket limit on group memberships of family
 * (MCRX_IP_V4/V6): *limit 0 when there is none to plan against, else the
 * number and *knob the setting that holds it ("net.ipv4.igmp_max_memberships"). */
void mcrx__plat_member_limit(int family, uint32_t *limit, const char **knob);

/*
 * The interface monitor: a handle that becomes readable when links or
 * addresses change (Linux: an rtnetlink socket subscribed to RTNLGRP_LINK,
 * RTNLGRP_IPV4_IFADDR and RTNLGRP_IPV6_IFADDR). It is subscribed when
 * opened, so a dump taken after (mcrx__plat_links) misses nothing. drain
 * reads what is queued without blocking and sets *changed when anything
 * happened, an overflow (ENOBUFS: notifications were lost) included; the
 * caller then takes a new dump. NOT_SUPPORTED where the OS has none
 * (Windows: no rejoin).
 */
typedef struct mcrx__ifmon mcrx__ifmon;
mcrx_error mcrx__ifmon_open(mcrx__ifmon **m, struct mcrx__err *err);
mcrx_sock mcrx__ifmon_handle(const mcrx__ifmon *m);
mcrx_error mcrx__ifmon_drain(mcrx__ifmon *m, int *changed, struct mcrx__err *err);
void mcrx__ifmon_close(mcrx__ifmon *m);

/* ---- socket figures, clocks, texts -------------------------------------------------- */

/* The socket's effective receive buffer. */
mcrx_error mcrx__plat_rcvbuf(mcrx_sock sock, size_t *bytes, struct mcrx__err *err);
/* The socket's bound address. */
mcrx_error mcrx__plat_local_addr(mcrx_sock sock, mcrx_ip *ip, uint16_t *port,
                                 struct mcrx__err *err);
/* The kernel's count of datagrams dropped on sock (0 where unknown). */
uint64_t mcrx__plat_drops(mcrx_sock sock);
/* /proc-style figures of this process; MCRX_ERROR_NOT_SUPPORTED where the
 * OS has none. */
mcrx_error mcrx__plat_hardware(mcrx_hardware_metrics *out, struct mcrx__err *err);
/* The kernel's cap on sources per group and socket for family (an
 * RFC 3678 filter's INCLUDE or EXCLUDE list), in *max, and the setting that
 * sets it in *knob (a static text, e.g. "net.ipv4.igmp_max_msf"). Returns
 * 0, or nonzero where no cap is known (the caller then checks nothing
 * early; the kernel's own refusal still names the setting). */
int mcrx__plat_max_sources(int family, uint32_t *max, const char **knob);
/* Wall clock, Unix nanoseconds. */
int64_t mcrx__wall_ns(void);
/* A monotonic clock, nanoseconds from an arbitrary start: for deadlines. */
int64_t mcrx__mono_ns(void);
/* The OS's text for its error number os (errno here, WSA codes on
 * Windows), written into buf; returns buf. */
const char *mcrx__os_error_text(int os, char *buf, size_t len);

#endif
