/*
 * mcrx-core raw capture: whole IP datagrams of a multicast group, instead of
 * UDP payloads. For AMT-style forwarding, for protocols other than UDP over
 * multicast, and to see exactly what arrived (IP header, TTL, fragments).
 *
 *   mcrx_raw_context *ctx = mcrx_raw_context_new();
 *   mcrx_raw_config cfg;
 *   mcrx_raw_config_init(&cfg);
 *   mcrx_raw_config_parse(&cfg, "232.1.2.3", "203.0.113.7", NULL);
 *   uint64_t id;
 *   mcrx_raw_context_add(ctx, &cfg, &id);                -> state Bound
 *   mcrx_raw_context_join_subscription(ctx, id);         -> state Joined
 *   mcrx_raw_packet p; mcrx_raw_packet_init(&p, buf, sizeof buf);
 *   size_t got;
 *   mcrx_raw_context_recv(ctx, &p, &got);   -> p.buf holds the IP datagram
 *
 * Two ways to receive:
 * - A raw context (mcrx_raw_context): one capture per subscription, with the
 *   lifecycle, ids, states, errors and fair receive of the UDP context.
 * - A shared raw capture (mcrx_raw_shared): one capture per address family
 *   and interface for any number of subscriptions; one kernel membership per
 *   (group, source) however many subscriptions ask for it; each datagram is
 *   read once and reported with every subscription it matches.
 *
 * What a packet is: the complete IP datagram as it arrived (IPv4 header or
 * IPv6 header onwards, no link-layer header), trimmed to the length its IP
 * header gives (link-layer padding removed). Never a UDP payload. A fragment
 * is a datagram of its own. ip_protocol is the IPv4 protocol or the IPv6
 * next header (extension headers are not walked: a fragment is 44).
 *
 * Exactly once: a subscription sees each datagram it asked for once, also
 * on lo (where the kernel shows a local send twice) and on a host with
 * bridges (where one datagram crosses several interfaces): a capture runs on
 * the one interface its membership is on. A datagram this host itself sends
 * on that interface is captured too, as an IP socket would receive it.
 *
 * Privileges: raw capture needs CAP_NET_RAW (Linux). Without it, add fails
 * with RAW_SOCKET_CREATE_FAILED and a message naming CAP_NET_RAW. A process
 * in a user namespace of its own gets it for the network namespace it owns
 * (unshare --user --map-root-user --net).
 *
 * Platforms: Linux (packet sockets). Elsewhere every add answers
 * NOT_SUPPORTED; the functions exist everywhere.
 *
 * Errors follow <mcrx/mcrx.h>: calls on a handle return a status, and the
 * handle keeps the precise kind and a "MCRX: " message until its next call.
 *
 * Threading: a raw context and a shared capture are each used by one thread
 * at a time (different ones may run on different threads).
 */
#ifndef MCRX_RAW_H
#define MCRX_RAW_H

#include <stddef.h>
#include <stdint.h>

#include "mcrx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Configs                                                                   */

#define MCRX_RAW_CONFIG_VERSION 1

/*
 * What to capture: a group, for SSM its source, and optionally the
 * interface (an address, and for IPv6 an index). No port: every datagram
 * to the group (and from the source) is captured, whatever it carries.
 * Fill with mcrx_raw_config_init. Two configs are duplicates when group,
 * source, interface and interface_index are all equal.
 */
typedef struct McrxRawConfig {
    uint32_t version;          /* set by init */
    mcrx_ip group;             /* required, multicast */
    mcrx_ip source;            /* MCRX_IP_NONE for ASM; the sender for SSM */
    mcrx_ip interface;         /* local join interface address, or NONE */
    int64_t interface_index;   /* IPv6 only; MCRX_NO_INTERFACE_INDEX = not set */
    /* MCRX_RX_TIMESTAMP: kernel receive times; MCRX_RX_DROPS: the running
     * drop count with each packet. Other bits are ignored. init sets 0. */
    uint32_t rx_options;
    /* capture receive buffer to ask for (SO_RCVBUFFORCE, else SO_RCVBUF); 0 =
     * default. A shared capture takes its first joining subscription's. */
    uint32_t rcvbuf_bytes;
    uint64_t reserved_[3];
} mcrx_raw_config;

MCRX_EXTERN void mcrx_raw_config_init(mcrx_raw_config *cfg);

/*
 * Checks cfg with the rules of mcrx_subscription_config_validate, less the
 * port: group not multicast, SSM range without source, bad source, source
 * family, IPv4 SSM outside 232/8, IPv6 SSM outside ff3x::/32, interface
 * family, interface index 0 or on IPv4. Returns the first failing kind
 * (INVALID_ARGUMENT for NULL or an uninitialised config); the message is
 * in mcrx_last_error().
 */
MCRX_EXTERN mcrx_error mcrx_raw_config_validate(const mcrx_raw_config *cfg);

/*
 * Fills group, source and interface from text, as the tools accept them
 * (see mcrx_subscription_config_parse). source and interface may be NULL.
 * Does not validate. Errors: INVALID_ARGUMENT, INVALID_ADDRESS,
 * INVALID_INTERFACE, INVALID_INTERFACE_INDEX.
 */
MCRX_EXTERN mcrx_error mcrx_raw_config_parse(mcrx_raw_config *cfg, const char *group,
                                             const char *source, const char *interface);

/* ------------------------------------------------------------------------ */
/* Packets                                                                   */

/* flags of mcrx_raw_packet, beside MCRX_DATAGRAM_TRUNCATED. */
/* The transport checksum is not filled in yet (Linux TP_STATUS_CSUMNOTREADY:
 * sent from this host, or received over veth): a forwarder recomputes it. */
#define MCRX_RAW_CSUM_NOT_READY 0x2u
/* The kernel or the NIC verified the transport checksum (TP_STATUS_CSUM_VALID). */
#define MCRX_RAW_CSUM_VALID 0x4u
/* Shared capture only: more subscriptions matched than ids_cap; nids is the
 * full count and ids holds the ids_cap smallest. */
#define MCRX_RAW_IDS_TRUNCATED 0x8u

/* Smallest slot a raw receive takes (room for the IP header): smaller
 * slots are INVALID_ARGUMENT. */
#define MCRX_RAW_MIN_SLOT 64
/* Largest IP datagram (an IPv6 header and a full payload): a slot of this
 * size is never truncated. */
#define MCRX_RAW_MAX_DATAGRAM 65575

/*
 * One receive slot. The caller sets buf and cap (mcrx_raw_packet_init); a
 * receive fills the rest. As with mcrx_datagram, a receive into an array of
 * slots may exchange buf and cap between slots of that array (when it
 * discards a datagram): always read a slot's data through its own buf.
 */
typedef struct McrxRawPacket {
    void *buf;                  /* in: where the IP datagram goes */
    size_t cap;                 /* in: room in buf, at least MCRX_RAW_MIN_SLOT */
    size_t len;                 /* out: bytes stored in buf (<= cap) */
    size_t wire_len;            /* out: the datagram's IP length (see TRUNCATED) */
    uint32_t flags;             /* out: MCRX_DATAGRAM_TRUNCATED, MCRX_RAW_* */
    uint8_t ip_protocol;        /* out: IPv4 protocol / IPv6 next header */
    uint8_t ttl;                /* out: TTL / hop limit from the IP header */
    uint16_t reserved0_;
    uint64_t subscription_id;   /* out: the subscription (shared: the smallest match) */
    mcrx_ip source;             /* out: from the IP header */
    mcrx_ip group;              /* out: the destination group */
    uint32_t ingress_interface_index; /* out: where it arrived (or was sent) */
    uint32_t valid;             /* out: MCRX_META_* bits of the fields below */
    int64_t rx_timestamp_ns;    /* out: kernel receive time (MCRX_RX_TIMESTAMP) */
    uint64_t kernel_drops;      /* out: the capture's drop count (MCRX_RX_DROPS) */
    /* Shared capture: the caller's array for the ids of every matching
     * subscription (in: ids, ids_cap; out: nids, ascending). */
    uint64_t *ids;
    size_t ids_cap;
    size_t nids;
    uint64_t reserved_[4];
} mcrx_raw_packet;

/* Sets buf and cap, clears the rest (no ids array). */
MCRX_EXTERN void mcrx_raw_packet_init(mcrx_raw_packet *pkt, void *buf, size_t cap);

/* ------------------------------------------------------------------------ */
/* Raw context: one capture per subscription                                 */

typedef struct McrxRawContext mcrx_raw_context;

/* A new raw context, or NULL (OUT_OF_MEMORY, in mcrx_last_error()). */
MCRX_EXTERN mcrx_raw_context *mcrx_raw_context_new(void);
/* Frees ctx and its captures (memberships end with them). NULL is a no-op. */
MCRX_EXTERN void mcrx_raw_context_free(mcrx_raw_context *ctx);

MCRX_EXTERN const char *mcrx_raw_context_last_error(const mcrx_raw_context *ctx);
MCRX_EXTERN mcrx_error mcrx_raw_context_last_error_code(const mcrx_raw_context *ctx);
MCRX_EXTERN int mcrx_raw_context_last_os_error(const mcrx_raw_context *ctx);

/*
 * Validates cfg, rejects a duplicate, opens a capture with its kernel filter
 * (capturing nothing yet) and a membership socket, and stores the
 * subscription in state Bound. Ids start at 1 and are never reused.
 * Errors: INVALID_ARGUMENT, every validation kind, DUPLICATE_SUBSCRIPTION,
 * RAW_SOCKET_CREATE_FAILED (without CAP_NET_RAW), SOCKET_CREATE_FAILED,
 * SOCKET_OPTION_FAILED, INTERFACE_DISCOVERY_FAILED, OUT_OF_MEMORY,
 * NOT_SUPPORTED.
 */
MCRX_EXTERN int mcrx_raw_context_add(mcrx_raw_context *ctx, const mcrx_raw_config *cfg,
                                     uint64_t *id_out);
/*
 * Joins the group (IGMP/MLD report through the membership socket) and
 * starts the capture on the membership's interface. Errors:
 * SUBSCRIPTION_NOT_FOUND, SUBSCRIPTION_ALREADY_JOINED, MULTICAST_JOIN_FAILED
 * (naming net.ipv4.igmp_max_memberships when that limit is reached),
 * SOURCE_SPECIFIC_MULTICAST_UNSUPPORTED, RAW_SOCKET_BIND_FAILED.
 */
MCRX_EXTERN int mcrx_raw_context_join_subscription(mcrx_raw_context *ctx, uint64_t id);
/* Leaves and stops the capture (queued datagrams stay queued). Errors:
 * SUBSCRIPTION_NOT_FOUND, SUBSCRIPTION_NOT_JOINED, MULTICAST_LEAVE_FAILED. */
MCRX_EXTERN int mcrx_raw_context_leave_subscription(mcrx_raw_context *ctx, uint64_t id);
/* Removes id in either state (closing the capture ends the membership).
 * Errors: SUBSCRIPTION_NOT_FOUND. */
MCRX_EXTERN int mcrx_raw_context_remove_subscription(mcrx_raw_context *ctx, uint64_t id);

MCRX_EXTERN size_t mcrx_raw_context_subscription_count(const mcrx_raw_context *ctx);
MCRX_EXTERN int mcrx_raw_context_contains_subscription(const mcrx_raw_context *ctx, uint64_t id);
/* MCRX_STATE_BOUND, MCRX_STATE_JOINED, or 0 for an unknown id (or NULL). */
MCRX_EXTERN int mcrx_raw_context_subscription_state(const mcrx_raw_context *ctx, uint64_t id);

/*
 * Fills up to n slots with datagrams available now from every joined
 * subscription, fairly (the subscription served last goes to the back of
 * the queue), with batched system calls (recvmmsg). *received_out is the
 * number filled. Nothing queued is not an error. Errors: INVALID_ARGUMENT
 * (a slot without a buffer or below MCRX_RAW_MIN_SLOT), RECEIVE_FAILED (an
 * error after some slots were filled is returned by the next call).
 */
MCRX_EXTERN int mcrx_raw_context_recv_batch(mcrx_raw_context *ctx, mcrx_raw_packet *pkts,
                                            size_t n, size_t *received_out);
/* At most one datagram: mcrx_raw_context_recv_batch with n = 1. */
MCRX_EXTERN int mcrx_raw_context_recv(mcrx_raw_context *ctx, mcrx_raw_packet *pkt,
                                      size_t *received_out);
/* Up to n datagrams of subscription id only. Errors as recv_batch, plus
 * SUBSCRIPTION_NOT_FOUND and SUBSCRIPTION_NOT_JOINED. */
MCRX_EXTERN int mcrx_raw_context_recv_subscription(mcrx_raw_context *ctx, uint64_t id,
                                                   mcrx_raw_packet *pkts, size_t n,
                                                   size_t *received_out);

/* A handle readable when a joined subscription may have a datagram, as
 * mcrx_context_fd. */
MCRX_EXTERN mcrx_sock mcrx_raw_context_fd(const mcrx_raw_context *ctx);
/* Blocks up to timeout_ms (-1 forever) until a datagram may be there, as
 * mcrx_context_wait. */
MCRX_EXTERN int mcrx_raw_context_wait(mcrx_raw_context *ctx, int timeout_ms, int *ready_out);

/* Counters of a raw context (every field written by the call). */
typedef struct McrxRawMetrics {
    uint64_t active_subscriptions, joined_subscriptions;
    uint64_t packets_received, bytes_received;
    uint64_t discarded;     /* captured but not the subscription's (malformed, foreign) */
    uint64_t truncated;
    uint64_t kernel_drops;  /* dropped by the kernel on the captures (PACKET_STATISTICS) */
    uint64_t reserved_[8];
} mcrx_raw_metrics;

MCRX_EXTERN int mcrx_raw_context_metrics_get(mcrx_raw_context *ctx, mcrx_raw_metrics *out);

/* ------------------------------------------------------------------------ */
/* Shared raw capture                                                        */

#define MCRX_RAW_SHARED_LIMITS_VERSION 1

typedef struct McrxRawSharedLimits {
    uint32_t version;             /* set by init */
    uint32_t max_subscriptions;   /* init: 4096 */
    /* Most datagrams waiting in the library's pending queue (init: 1024),
     * and most datagrams one mcrx_raw_shared_recv_batch call returns. */
    uint32_t max_pending_packets;
    uint32_t reserved_;
} mcrx_raw_shared_limits;

MCRX_EXTERN void mcrx_raw_shared_limits_init(mcrx_raw_shared_limits *limits);

typedef struct McrxRawShared mcrx_raw_shared;

/* A new shared capture with limits (NULL: the defaults), or NULL with the
 * kind in mcrx_last_error_code(): INVALID_SHARED_RAW_CAPTURE_LIMITS (a zero
 * limit or an uninitialised struct), OUT_OF_MEMORY, NOT_SUPPORTED. */
MCRX_EXTERN mcrx_raw_shared *mcrx_raw_shared_new(const mcrx_raw_shared_limits *limits);
MCRX_EXTERN void mcrx_raw_shared_free(mcrx_raw_shared *sh);

MCRX_EXTERN const char *mcrx_raw_shared_last_error(const mcrx_raw_shared *sh);
MCRX_EXTERN mcrx_error mcrx_raw_shared_last_error_code(const mcrx_raw_shared *sh);
MCRX_EXTERN int mcrx_raw_shared_last_os_error(const mcrx_raw_shared *sh);

/*
 * Adds a logical subscription (state Bound); no socket yet. Duplicates are
 * allowed: each gets its own id. The capture interface is resolved now: the
 * one cfg names, else the one the kernel routes the group to. Errors:
 * INVALID_ARGUMENT, every validation kind,
 * SHARED_RAW_CAPTURE_SUBSCRIPTION_LIMIT_EXCEEDED, INTERFACE_DISCOVERY_FAILED,
 * OUT_OF_MEMORY, NOT_SUPPORTED.
 */
MCRX_EXTERN int mcrx_raw_shared_add(mcrx_raw_shared *sh, const mcrx_raw_config *cfg,
                                    uint64_t *id_out);
/*
 * Joins: opens the capture of (family, interface) on first use, and makes a
 * kernel membership only for a (group, source) not joined yet on it. Errors:
 * SUBSCRIPTION_NOT_FOUND, SUBSCRIPTION_ALREADY_JOINED, RAW_SOCKET_CREATE_FAILED,
 * RAW_SOCKET_BIND_FAILED, MULTICAST_JOIN_FAILED (all memberships of a
 * capture share one socket: net.ipv4.igmp_max_memberships applies).
 */
MCRX_EXTERN int mcrx_raw_shared_join_subscription(mcrx_raw_shared *sh, uint64_t id);
/* Leaves: the kernel membership ends with its last subscription, the
 * capture with its last membership; other subscriptions, duplicates
 * included, are not disturbed. Errors: SUBSCRIPTION_NOT_FOUND,
 * SUBSCRIPTION_NOT_JOINED, MULTICAST_LEAVE_FAILED. */
MCRX_EXTERN int mcrx_raw_shared_leave_subscription(mcrx_raw_shared *sh, uint64_t id);
/* Removes id, leaving first if joined (a failed leave aborts the remove).
 * Errors: SUBSCRIPTION_NOT_FOUND, MULTICAST_LEAVE_FAILED. */
MCRX_EXTERN int mcrx_raw_shared_remove_subscription(mcrx_raw_shared *sh, uint64_t id);

MCRX_EXTERN size_t mcrx_raw_shared_subscription_count(const mcrx_raw_shared *sh);
MCRX_EXTERN int mcrx_raw_shared_contains_subscription(const mcrx_raw_shared *sh, uint64_t id);
MCRX_EXTERN int mcrx_raw_shared_subscription_state(const mcrx_raw_shared *sh, uint64_t id);

/*
 * Fills up to n slots (at most max_pending_packets per call) with datagrams
 * from the captures, visited in turn. Each datagram is read once; its slot
 * names every joined subscription it matches (ids, ascending; its
 * subscription_id is the smallest). Datagrams nobody matches are counted
 * and discarded. Errors: INVALID_ARGUMENT, RECEIVE_FAILED.
 */
MCRX_EXTERN int mcrx_raw_shared_recv_batch(mcrx_raw_shared *sh, mcrx_raw_packet *pkts, size_t n,
                                           size_t *received_out);
/*
 * At most one datagram, as recv_batch, but through the pending queue: when
 * the queue is empty, one system call reads up to max_pending_packets + 1
 * datagrams (at most 64) into it, and this and the following calls hand
 * them out, oldest first (recv_batch also takes queued ones first). It
 * never waits to fill. The queue's slots are as large as the slot of the
 * call that filled it (a later, smaller slot gets the datagram cut and
 * MCRX_DATAGRAM_TRUNCATED); its memory is freed when a call finds nothing
 * (an idle call without it costs one readiness check, no allocation).
 * A leave takes the subscription out of queued datagrams: one only it
 * matched is dropped, else subscription_id becomes the next smallest id.
 * While datagrams are queued, mcrx_raw_shared_wait reports ready at once,
 * but mcrx_raw_shared_fd may not be readable: call this until it returns
 * nothing before polling the fd. Errors: INVALID_ARGUMENT, RECEIVE_FAILED,
 * OUT_OF_MEMORY.
 */
MCRX_EXTERN int mcrx_raw_shared_recv(mcrx_raw_shared *sh, mcrx_raw_packet *pkt,
                                     size_t *received_out);

/* A handle readable when a capture may have a datagram (epoll on Linux).
 * Datagrams in the pending queue do not make it readable (see recv). */
MCRX_EXTERN mcrx_sock mcrx_raw_shared_fd(const mcrx_raw_shared *sh);
MCRX_EXTERN int mcrx_raw_shared_wait(mcrx_raw_shared *sh, int timeout_ms, int *ready_out);

typedef struct McrxRawSharedMetrics {
    uint64_t capture_sockets;     /* captures open now */
    uint64_t active_memberships;  /* kernel memberships held now */
    uint64_t received_packets;    /* datagrams read */
    uint64_t unmatched_packets;   /* read but matching no joined subscription */
    uint64_t demultiplex_matches; /* (datagram, subscription) matches reported */
    uint64_t pending_packets;     /* in the pending queue now (see mcrx_raw_shared_recv) */
    uint64_t kernel_drops;        /* dropped by the kernel on the captures */
    uint64_t reserved_[8];
} mcrx_raw_shared_metrics;

MCRX_EXTERN int mcrx_raw_shared_metrics_get(mcrx_raw_shared *sh, mcrx_raw_shared_metrics *out);

#ifdef __cplusplus
}
#endif

#endif /* MCRX_RAW_H */
