/*
 * mcrx-core: receive IPv4 and IPv6 UDP multicast, any-source (ASM, (*,G)) and
 * source-specific (SSM, (S,G)), with an explicit subscription lifecycle.
 *
 *   mcrx_context *ctx = mcrx_context_new();
 *   mcrx_subscription_config cfg;
 *   mcrx_subscription_config_init(&cfg);
 *   mcrx_subscription_config_parse(&cfg, "232.1.2.3", 5000, "203.0.113.7", NULL);
 *   uint64_t id;
 *   mcrx_context_add(ctx, &cfg, &id);             -> state Bound
 *   mcrx_context_join_subscription(ctx, id);      -> state Joined
 *   mcrx_datagram dg; mcrx_datagram_init(&dg, buf, sizeof buf);
 *   size_t got;
 *   mcrx_context_recv(ctx, &dg, &got);            -> got is 1 or 0 (nothing now)
 *
 * Conventions
 * - Calls on a handle return an int status, MCRX_STATUS_OK (0) on success.
 *   After a failure the handle keeps the precise kind (mcrx_*_last_error_code)
 *   and a message starting "MCRX: " that names the cause and, when the kernel
 *   refused, the OS error and the setting to change (mcrx_*_last_error). Both
 *   stay valid until the next call on that handle (for a context's message:
 *   until the calling thread asks for it again, see Threading).
 * - Pure functions (no handle) return an mcrx_error kind directly, 0 on
 *   success, and leave their message in mcrx_last_error() (per thread).
 * - NULL pointers, one rule for every function here and in <mcrx_core_ffi.h>
 *   and <mcrx/metrics.h>: a NULL pointer argument is never dereferenced. A
 *   function that returns a status (an mcrx_error kind or MCRX_STATUS_*)
 *   returns INVALID_ARGUMENT (MCRX_STATUS_INVALID_ARGUMENT) and leaves that
 *   kind and a "MCRX: " message on the handle it was given, or on the calling
 *   thread (mcrx_last_error()) when the handle itself is NULL or it takes
 *   none. Every other function returns its neutral value (0 for predicates,
 *   counts and lengths, NULL, MCRX_SOCK_INVALID) and a void function does
 *   nothing. Arguments documented as "may be NULL" say what NULL means.
 * - No datagram available now is not an error: receive calls succeed and
 *   report 0 datagrams.
 * - The library never prints, aborts or exits; it never allocates per datagram.
 *
 * Threading
 * - Calls on a context may be made from any thread at any time, concurrently:
 *   an internal lock serialises them with each other and with the background
 *   receiver. That covers every mcrx_context_* function here and in
 *   <mcrx_core_ffi.h>, except one: mcrx_context_free, only once no other
 *   call on the context is running or can begin, and never from inside one
 *   of its callbacks. It may follow a mcrx_context_stop made on any thread,
 *   and stops a running receiver itself. mcrx_context_wait holds the lock
 *   only to look at the context, not while it waits.
 * - mcrx_context_start and mcrx_context_stop may race in any interleaving (two
 *   stops at once, start against stop, from several threads, or from inside
 *   the receiver's callback): each returns as if the calls had been made one
 *   after the other, and the receiver thread is joined exactly once.
 * - The last error (kind, OS error, text) belongs to the context, not to a
 *   thread: with several threads calling, it is that of the call that ended
 *   last, so test the status a call returns. Reading it is safe at any time;
 *   mcrx_context_last_error copies the text for the calling thread.
 * - Callbacks of the background receiver run on its thread, one at a time;
 *   those of mcrx_context_poll on the polling thread, and may overlap the
 *   receiver's. A callback may call on its context (add, remove, join, leave,
 *   start, stop, ...), but not mcrx_context_free (and a wait there would
 *   hold up the receiver).
 * - Subscription handles borrowed from the context are not covered by its
 *   lock: use one only while no other thread calls on the context (with a
 *   background receiver running, only from inside its callback).
 * - A taken subscription (mcrx_context_take_subscription) belongs to its
 *   caller alone and is independent of the context.
 *
 * The Rust crate's C ABI (<mcrx_core_ffi.h>) is part of this API: McrxContext
 * is mcrx_context, and its functions behave as documented there.
 */
#ifndef MCRX_MCRX_H
#define MCRX_MCRX_H

/* <windows.h> and <winsock2.h> bring objbase.h, which defines interface
 * as a macro for COM; this header names fields and parameters interface.
 * Set the macro aside here and give it back at the end, so that the order
 * of includes does not matter. */
#ifdef interface
#pragma push_macro("interface")
#undef interface
#define MCRX__INTERFACE_SET_ASIDE
#endif

#include <stddef.h>
#include <stdint.h>

#include "../mcrx_core_ffi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MCRX_VERSION_MAJOR 0
#define MCRX_VERSION_MINOR 1
#define MCRX_VERSION_PATCH 0
#define MCRX_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

/*
 * Every failure kind with its message. Kinds mirror the Rust crate's
 * McrxError variants, plus those only a C API needs.
 */
#define MCRX_ERROR_MAP(X)                                                        \
    X(NONE, "no error")                                                          \
    X(INVALID_DESTINATION_PORT, "invalid destination port")                      \
    X(INVALID_MULTICAST_GROUP, "group must be a multicast IP address")           \
    X(SSM_GROUP_REQUIRES_SOURCE,                                                 \
      "SSM-range multicast groups require a source address")                     \
    X(INVALID_SOURCE_ADDRESS, "invalid source address")                          \
    X(SOURCE_ADDRESS_FAMILY_MISMATCH,                                            \
      "source address family does not match the group")                          \
    X(INVALID_IPV4_SSM_GROUP, "IPv4 SSM groups must use the 232.0.0.0/8 range")  \
    X(INVALID_IPV6_SSM_GROUP, "IPv6 SSM groups must use the ff3x:: prefix")      \
    X(INTERFACE_ADDRESS_FAMILY_MISMATCH,                                         \
      "interface address family does not match the group")                       \
    X(INVALID_INTERFACE_INDEX, "interface index must be greater than 0")         \
    X(INTERFACE_INDEX_REQUIRES_IPV6,                                             \
      "interface index is only supported for IPv6 groups")                       \
    X(DUPLICATE_SUBSCRIPTION, "duplicate subscription")                          \
    X(SUBSCRIPTION_NOT_FOUND, "subscription not found")                          \
    X(SUBSCRIPTION_NOT_JOINED, "subscription is not joined")                     \
    X(SUBSCRIPTION_ALREADY_JOINED, "subscription is already joined")             \
    X(SOCKET_CREATE_FAILED, "failed to create socket")                           \
    X(SOCKET_OPTION_FAILED, "failed to set socket option")                       \
    X(SOCKET_BIND_FAILED, "failed to bind socket")                               \
    X(SOCKET_LOCAL_ADDR_FAILED, "failed to read the socket's local address")     \
    X(EXISTING_SOCKET_ADDRESS_FAMILY_MISMATCH,                                   \
      "existing socket address family does not match the group")                 \
    X(EXISTING_SOCKET_PORT_MISMATCH,                                             \
      "existing socket is not bound to the destination port")                    \
    X(MULTICAST_JOIN_FAILED, "failed to join multicast group")                   \
    X(MULTICAST_LEAVE_FAILED, "failed to leave multicast group")                 \
    X(SOURCE_SPECIFIC_MULTICAST_UNSUPPORTED,                                     \
      "source-specific multicast is not supported on this platform")             \
    X(IPV6_SSM_REQUIRES_INTERFACE,                                               \
      "IPv6 source-specific multicast requires an interface on this platform")   \
    X(INTERFACE_DISCOVERY_FAILED, "failed to resolve the interface")             \
    X(NON_IP_SOCKET_ADDRESS, "socket address is not an IP address")              \
    X(RECEIVE_FAILED, "failed to receive")                                       \
    X(INVALID_ARGUMENT, "invalid argument")                                      \
    X(INVALID_ADDRESS, "invalid IP address")                                     \
    X(INVALID_INTERFACE, "invalid interface")                                    \
    X(OUT_OF_MEMORY, "out of memory")                                            \
    X(NOT_SUPPORTED, "not supported on this platform")                           \
    X(ALREADY_RUNNING, "a background receiver is already running")               \
    X(BUSY, "busy")                                                              \
    X(IO_FAILED, "file input/output failed")                                     \
    X(RAW_SOCKET_CREATE_FAILED, "failed to create raw capture socket")           \
    X(RAW_SOCKET_BIND_FAILED, "failed to bind raw capture socket")               \
    X(INVALID_SHARED_RAW_CAPTURE_LIMITS,                                         \
      "shared raw capture limits must be greater than 0")                        \
    X(SHARED_RAW_CAPTURE_SUBSCRIPTION_LIMIT_EXCEEDED,                            \
      "shared raw capture subscription limit exceeded")                          \
    X(INVALID_SOURCE_FILTER, "invalid source filter")                            \
    X(MEMBERSHIP_LIMIT_EXCEEDED,                                                 \
      "the kernel's per-socket membership limit would be exceeded")

typedef enum McrxError {
#define MCRX_ERROR_ENUM_(name, msg) MCRX_ERROR_##name,
    MCRX_ERROR_MAP(MCRX_ERROR_ENUM_)
#undef MCRX_ERROR_ENUM_
    MCRX_ERROR_COUNT_
} mcrx_error;

/* Static description of a kind ("MCRX: ..."), never NULL. */
MCRX_EXTERN const char *mcrx_error_message(int kind);
/* Static symbolic name of a kind ("SUBSCRIPTION_NOT_FOUND"), never NULL. */
MCRX_EXTERN const char *mcrx_error_name(int kind);
/* Kind of the last failure on this thread without a handle (see mcrx_last_error). */
MCRX_EXTERN mcrx_error mcrx_last_error_code(void);
/*
 * Records a failure in the calling thread's slot, as the library's own
 * functions without a handle do: afterwards mcrx_last_error_code() is kind
 * and mcrx_last_error() is mcrx_error_message(kind), then ": " and detail when
 * detail is not NULL (cut to fit). MCRX_ERROR_NONE clears the slot. For
 * companion libraries (mcrx-core-jsonl) whose functions report through the
 * same slot, so that a program has one place to look. Returns kind; a kind
 * outside mcrx_error records and returns INVALID_ARGUMENT.
 */
MCRX_EXTERN mcrx_error mcrx_last_error_set(mcrx_error kind, const char *detail);

/* ------------------------------------------------------------------------ */
/* Addresses                                                                 */

#define MCRX_IP_NONE 0
#define MCRX_IP_V4 4
#define MCRX_IP_V6 6

/* Room for any text mcrx_ip_format writes, scope included. */
#define MCRX_IP_STRLEN 64

/* An IPv4 or IPv6 address in network byte order, with an optional IPv6 scope. */
typedef struct McrxIp {
    uint8_t family;    /* MCRX_IP_NONE, MCRX_IP_V4 or MCRX_IP_V6 */
    uint8_t reserved_[3];
    uint32_t scope_id; /* IPv6 zone (interface index), 0 = none */
    uint8_t bytes[16]; /* IPv4 uses the first 4 */
} mcrx_ip;

struct sockaddr;

/* Parses "198.51.100.1", "2001:db8::1" or "fe80::1%7" / "fe80::1%eth0". */
MCRX_EXTERN mcrx_error mcrx_ip_parse(const char *text, mcrx_ip *out);
/* Writes the text form (NUL-terminated, with "%index" when scoped). Returns
 * the length, or 0 if buf is too small or ip is MCRX_IP_NONE. */
MCRX_EXTERN size_t mcrx_ip_format(const mcrx_ip *ip, char *buf, size_t buflen);
/* 1 if both are the same family and bytes (scope ignored), else 0 (also
 * when either is NULL). */
MCRX_EXTERN int mcrx_ip_equal(const mcrx_ip *a, const mcrx_ip *b);
/* 1 if ip is an IPv4 or IPv6 multicast address, else 0 (also for NULL). */
MCRX_EXTERN int mcrx_ip_is_multicast(const mcrx_ip *ip);
/* Converts from a struct sockaddr_in / sockaddr_in6; port_out may be NULL. */
MCRX_EXTERN mcrx_error mcrx_ip_from_sockaddr(const struct sockaddr *sa, mcrx_ip *out,
                                             uint16_t *port_out);
/* Writes a sockaddr_in / sockaddr_in6 into out (outlen bytes of room). Returns
 * the address length, or 0 if ip is NONE or outlen is too small. */
MCRX_EXTERN size_t mcrx_ip_to_sockaddr(const mcrx_ip *ip, uint16_t port, void *out,
                                       size_t outlen);

/* ------------------------------------------------------------------------ */
/* Subscription configuration                                                */

#define MCRX_SUBSCRIPTION_CONFIG_VERSION 2
#define MCRX_NO_INTERFACE_INDEX (-1)

/*
 * What the kernel reports with each datagram (socket options set at add).
 * Each costs the kernel a control message per datagram, so only
 * MCRX_RX_PKTINFO is on by default.
 * - PKTINFO: destination address and ingress interface (IP_PKTINFO /
 *   IPV6_RECVPKTINFO). Off, the metadata lacks them; isolation does not
 *   depend on it for sockets the library binds (the kernel filters on the
 *   bound group and device), and sockets that need it for isolation (caller
 *   sockets not bound to the group, link-scope groups without an interface)
 *   keep it on regardless.
 * - TIMESTAMP: kernel receive time (SO_TIMESTAMPNS).
 * - TTL: TTL / hop limit (IP_RECVTTL / IPV6_RECVHOPLIMIT).
 * - DROPS: the socket's running count of datagrams the kernel dropped for
 *   lack of buffer space (SO_RXQ_OVFL).
 */
#define MCRX_RX_PKTINFO 0x1u
#define MCRX_RX_TIMESTAMP 0x2u
#define MCRX_RX_TTL 0x4u
#define MCRX_RX_DROPS 0x8u
#define MCRX_RX_DEFAULT MCRX_RX_PKTINFO

/*
 * What to receive. Fill with mcrx_subscription_config_init, then set fields
 * or call mcrx_subscription_config_parse. Two configs are duplicates when
 * group, source, dst_port, interface and interface_index are all equal,
 * and (version 2) their interface sets are (see interfaces below).
 */
typedef struct McrxSubscriptionConfig {
    uint32_t version;          /* set by init */
    mcrx_ip group;             /* required, multicast */
    mcrx_ip source;            /* MCRX_IP_NONE for ASM; the sender for SSM */
    uint16_t dst_port;         /* required, not 0 */
    mcrx_ip interface;         /* local join interface address, or NONE */
    int64_t interface_index;   /* IPv6 only; MCRX_NO_INTERFACE_INDEX = not set */
    uint32_t rx_options;       /* MCRX_RX_* bits; init sets MCRX_RX_DEFAULT */
    uint32_t rcvbuf_bytes;     /* socket receive buffer to ask for; 0 = kernel default */
    uint64_t reserved_[3];
    /* ---- version 2 (a version 1 config, from an older header, has none of
     * these: the library reads them only when version >= 2) ---- */
    /* Source filter (RFC 3678), instead of source: MCRX_SOURCES_INCLUDE
     * with 1..n sources (any group: SSM with several sources on 232/8 and
     * ff3x::/32, source filtering elsewhere), or MCRX_SOURCES_EXCLUDE with
     * 0..n (not on SSM-range groups: SSM_GROUP_REQUIRES_SOURCE; none =
     * plain ASM). Each source follows source's address and family rules;
     * the list's own faults (source and a list together, INCLUDE with none,
     * an unknown mode, a count without a mode or array) are
     * INVALID_SOURCE_FILTER. Borrowed for the call: add copies the list
     * sorted, without repeats and scopes, and get_config shows that copy.
     * Configs compare (DUPLICATE_SUBSCRIPTION) by filter: source S equals
     * INCLUDE{S}. The kernel's cap per socket and group (Linux:
     * net.ipv4.igmp_max_msf, net.ipv6.mld_max_msf) is checked at join:
     * MEMBERSHIP_LIMIT_EXCEEDED names the setting and the number needed. */
    uint32_t sources_mode;         /* MCRX_SOURCES_*; NONE = use source */
    uint32_t nsources;
    const mcrx_ip *sources;
    /* Interface set, instead of interface / interface_index: a list of
     * names ("eth0"), indexes ("7") or addresses ("192.0.2.1",
     * "fe80::1%eth0"), for IPv4 and IPv6, and/or MCRX_IFSET_ALL. Each
     * (group, interface) is one kernel membership, on one socket bound to
     * no device; pktinfo is always on and a datagram is kept only from an
     * interface where the membership is in place. Interfaces are followed
     * by name: indexes and addresses are turned into the name they have at
     * add (INTERFACE_DISCOVERY_FAILED when none has them), a name may not
     * exist yet (joined when it appears); one that goes away and comes back
     * (a new index) is joined again (Linux, docs/usage.md "Interface sets
     * and rejoin"). At most 64 entries; unparseable ones are
     * INVALID_INTERFACE, and a set with interface or interface_index set
     * too is INVALID_INTERFACE. Two configs' sets are the same when their
     * names and flags are, in any order or spelling. Joining checks the
     * memberships needed against net.ipv4.igmp_max_memberships first
     * (MEMBERSHIP_LIMIT_EXCEEDED, naming it and the number). Borrowed for
     * the call, copied by add (get_config shows the copy). */
    uint32_t interface_flags;      /* MCRX_IFSET_* */
    uint32_t ninterfaces;
    const char *const *interfaces;
} mcrx_subscription_config;

/* Source filter modes of mcrx_subscription_config.sources_mode. */
#define MCRX_SOURCES_NONE 0u    /* no list: ASM, or SSM through source */
#define MCRX_SOURCES_INCLUDE 1u /* only the listed sources */
#define MCRX_SOURCES_EXCLUDE 2u /* every source except the listed ones */

/* Interface set flags of mcrx_subscription_config.interface_flags. */
#define MCRX_IFSET_ALL 0x1u      /* every interface that is up and multicast-capable, now and later */
#define MCRX_IFSET_LOOPBACK 0x2u /* with ALL: loopback as well */

MCRX_EXTERN void mcrx_subscription_config_init(mcrx_subscription_config *cfg);

/*
 * Checks cfg in the Rust crate's order: port 0, group not multicast, SSM range
 * without source, bad source (unspecified, multicast, broadcast), source
 * family, IPv4 SSM outside 232/8, IPv6 SSM outside ff3x::/32, interface
 * family, interface index 0 or on IPv4. Returns the first failing kind.
 */
MCRX_EXTERN mcrx_error mcrx_subscription_config_validate(const mcrx_subscription_config *cfg);

/*
 * Fills group, dst_port, source and interface from text, as the C ABI and the
 * tools accept them. source and interface may be NULL. interface is an
 * address, or for an IPv6 group "fe80::1%7", "fe80::1%eth0" (both set the
 * address and the index) or a bare index "7". Does not validate.
 */
MCRX_EXTERN mcrx_error mcrx_subscription_config_parse(mcrx_subscription_config *cfg,
                                                      const char *group, uint16_t dst_port,
                                                      const char *source, const char *interface);

/*
 * Parses an interface string for a group of the given family (MCRX_IP_V4/V6)
 * with the rules above. addr_out gets the address or NONE, index_out the index
 * or MCRX_NO_INTERFACE_INDEX. Errors: INVALID_INTERFACE (with the reason in
 * mcrx_last_error()).
 */
MCRX_EXTERN mcrx_error mcrx_parse_interface(const char *text, int group_family,
                                            mcrx_ip *addr_out, int64_t *index_out);

/* 1 if cfg has a source or an INCLUDE source list (SSM), else 0 (also for
 * NULL). */
MCRX_EXTERN int mcrx_subscription_config_is_ssm(const mcrx_subscription_config *cfg);

/* ------------------------------------------------------------------------ */
/* Datagrams                                                                 */

/* The datagram was larger than cap: buf holds the first cap bytes and
 * wire_len the full size. Never silent: check this flag. Windows never
 * reports the full size of a datagram it cut: there wire_len is cap + 1,
 * meaning only "larger than the slot". */
#define MCRX_DATAGRAM_TRUNCATED 0x1u

/* Valid-bits of mcrx_metadata's optional fields. */
#define MCRX_META_DESTINATION 0x1u   /* destination_local_ip */
#define MCRX_META_INGRESS_IF 0x2u    /* ingress_interface_index */
#define MCRX_META_TIMESTAMP 0x4u     /* rx_timestamp_ns */
#define MCRX_META_TTL 0x8u           /* ttl */
#define MCRX_META_DROPS 0x10u        /* kernel_drops */

/* Delivery context of one datagram, filled when mcrx_datagram.meta is set. */
typedef struct McrxMetadata {
    mcrx_ip socket_local_ip;            /* the socket's bound address */
    uint16_t socket_local_port;
    uint16_t reserved0_;
    mcrx_ip configured_interface;       /* from the config, or NONE */
    uint32_t configured_interface_index;/* from the config (IPv6), 0 = none */
    uint32_t valid;                     /* MCRX_META_* bits below */
    mcrx_ip destination_local_ip;       /* pktinfo destination address */
    uint32_t ingress_interface_index;   /* pktinfo interface index */
    uint8_t ttl;                        /* TTL / hop limit */
    uint8_t reserved1_[3];
    int64_t rx_timestamp_ns;            /* kernel receive time, Unix epoch ns */
    uint64_t kernel_drops;              /* socket's kernel drop count so far */
    uint64_t reserved_[6];
} mcrx_metadata;

/*
 * One receive slot. The caller sets buf, cap and optionally meta (init does);
 * a receive call fills the rest. When a receive into an array of slots
 * discards a datagram (wrong group, source or interface), it may exchange the
 * buf, cap and meta pointers between slots of that array: always read a
 * slot's data through its own buf and meta.
 */
typedef struct McrxDatagram {
    void *buf;                  /* in: where the payload goes */
    size_t cap;                 /* in: room in buf */
    mcrx_metadata *meta;        /* in: NULL, or where to put metadata */
    size_t len;                 /* out: bytes stored in buf (<= cap) */
    size_t wire_len;            /* out: the datagram's real size (see TRUNCATED) */
    uint32_t flags;             /* out: MCRX_DATAGRAM_* */
    uint16_t source_port;       /* out */
    uint16_t dst_port;          /* out: the subscription's port */
    uint64_t subscription_id;   /* out */
    mcrx_ip source;             /* out: sender address */
    mcrx_ip group;              /* out: the subscription's group */
    uint64_t reserved_[4];
} mcrx_datagram;

/* Sets buf and cap, clears the rest (meta NULL). A slot with a NULL buf and a
 * cap above 0 is refused by receive calls (INVALID_ARGUMENT). */
MCRX_EXTERN void mcrx_datagram_init(mcrx_datagram *dg, void *buf, size_t cap);
/* Splits arena into n slots of slot_size bytes each and inits dgs[0..n). If
 * metas is not NULL, slot i gets meta = &metas[i]. A NULL arena inits every
 * slot with a NULL buf (see mcrx_datagram_init), so it cannot go unnoticed. */
MCRX_EXTERN void mcrx_datagrams_init(mcrx_datagram *dgs, size_t n, void *arena, size_t slot_size,
                                     mcrx_metadata *metas);

/* Largest UDP payload: a slot of this size is never truncated. */
#define MCRX_MAX_DATAGRAM 65535

/* ------------------------------------------------------------------------ */
/* Context                                                                   */

typedef struct McrxContext mcrx_context;
typedef struct McrxSubscription mcrx_subscription;

/* OS socket handle: an fd on POSIX. */
typedef intptr_t mcrx_sock;
#define MCRX_SOCK_INVALID ((mcrx_sock)-1)

/*
 * Receive backends. Every backend keeps the same API, sockets, memberships,
 * isolation and counters; they differ in how datagrams get from the kernel
 * into the caller's slots.
 * - MCRX_BACKEND_UDP: the default; recvmmsg on each subscription's socket
 *   straight into the caller's slots.
 * - MCRX_BACKEND_IO_URING (Linux 6.0 and later, built with liburing): each
 *   subscription gets an io_uring with a multishot recvmsg on its socket,
 *   into ring_buffers kernel-provided buffers of ring_buffer_bytes payload
 *   room each, then copied into the caller's slots. A datagram larger than
 *   the room is delivered truncated (MCRX_DATAGRAM_TRUNCATED, wire_len the
 *   datagram's size), as one larger than the caller's slot; the default
 *   room (65536) holds any UDP datagram. The buffers are address space
 *   (about ring_buffers x ring_buffer_bytes per subscription) faulted in
 *   only where datagrams land. What the context waits on
 *   (mcrx_context_sockets, mcrx_subscription_wait) is the ring's fd;
 *   mcrx_subscription_sock is still the UDP socket. Two differences: a
 *   signal does not cut mcrx_context_wait short (the ring's completions
 *   interrupt waits the same way, so an interrupted wait goes on to its
 *   deadline), and closing the UDP socket behind the library's back is not
 *   reported (the armed request holds its own reference to it). Opt-in:
 *   see docs/performance.md for what it measures against the UDP backend.
 */
typedef enum mcrx_backend_kind {
    MCRX_BACKEND_UDP = 0,
    MCRX_BACKEND_IO_URING = 1
} mcrx_backend_kind;

#define MCRX_CONTEXT_OPTIONS_VERSION 1

typedef struct mcrx_context_options {
    uint32_t version;           /* set by init */
    uint32_t backend;           /* mcrx_backend_kind; init: MCRX_BACKEND_UDP */
    /* 1: fail with NOT_SUPPORTED instead of falling back to the UDP backend
     * where the asked-for backend is unavailable. init: 0. */
    uint32_t no_fallback;
    uint32_t ring_buffers;      /* io_uring: buffers per subscription, a power of two up to 32768; init 128 */
    uint32_t ring_buffer_bytes; /* io_uring: payload room of each, 1 to 1048576; init 65536 */
} mcrx_context_options;

/* Fills opts with the defaults above (UDP backend) and the version. */
MCRX_EXTERN void mcrx_context_options_init(mcrx_context_options *opts);

/*
 * A context whose subscriptions use the backend opts asks for. Where it is
 * unavailable (io_uring: another OS, a build without liburing, or the kernel
 * refuses io_uring_setup: ENOSYS, or EPERM from the sysctl
 * kernel.io_uring_disabled or a seccomp profile, as in many containers) the
 * context uses the UDP backend instead, and mcrx_context_backend says so;
 * with no_fallback it returns NULL instead. Returns NULL with the thread's
 * last error (mcrx_last_error_code) set: INVALID_ARGUMENT (opts NULL, not
 * initialised, an unknown backend, ring sizes out of range),
 * NOT_SUPPORTED (no_fallback), OUT_OF_MEMORY, SOCKET_CREATE_FAILED.
 *
 * mcrx_context_new reads the environment variable MCRX_BACKEND once per
 * call: "io_uring" makes it mcrx_context_new_with_options with that backend
 * (and the other defaults, falling back as above); unset, empty or "udp",
 * the UDP backend. It is how a program (and the test suite) is switched to
 * io_uring without a rebuild.
 */
MCRX_EXTERN mcrx_context *mcrx_context_new_with_options(const mcrx_context_options *opts);

/* The name of the backend ctx's subscriptions use: "udp" or "io_uring"
 * (what a fallback chose); NULL for a NULL ctx. */
MCRX_EXTERN const char *mcrx_context_backend(const mcrx_context *ctx);

/* Precise kind of the context's last failure (MCRX_ERROR_NONE after success). */
MCRX_EXTERN mcrx_error mcrx_context_last_error_code(const mcrx_context *ctx);
/* errno of the last failure when the OS refused, else 0. */
MCRX_EXTERN int mcrx_context_last_os_error(const mcrx_context *ctx);

/*
 * Validates cfg, rejects a duplicate of a held config, opens and binds a
 * socket and stores the subscription in state Bound. Ids start at 1 and are
 * never reused. Errors: INVALID_ARGUMENT, every validation kind,
 * DUPLICATE_SUBSCRIPTION, SOCKET_CREATE_FAILED, SOCKET_OPTION_FAILED,
 * SOCKET_BIND_FAILED, INTERFACE_DISCOVERY_FAILED, OUT_OF_MEMORY.
 *
 * Socket layout (Linux): one socket per subscription, bound to group:port with
 * SO_REUSEADDR and SO_REUSEPORT, so any number of receivers share a port and
 * the kernel's cost does not grow with the number of subscriptions.
 */
MCRX_EXTERN int mcrx_context_add(mcrx_context *ctx, const mcrx_subscription_config *cfg,
                                 uint64_t *id_out);

/*
 * As mcrx_context_add, on a socket the caller created and bound to
 * cfg->dst_port. The context takes ownership of sock on success only. The
 * socket is made non-blocking and gets the options isolation needs (Linux
 * IP_MULTICAST_ALL off, pktinfo on). Errors as add, plus
 * SOCKET_LOCAL_ADDR_FAILED, NON_IP_SOCKET_ADDRESS,
 * EXISTING_SOCKET_ADDRESS_FAMILY_MISMATCH, EXISTING_SOCKET_PORT_MISMATCH.
 *
 * A socket has one owner: if a subscription of this context already owns
 * sock (handed over before, or opened by the library and read back with
 * mcrx_subscription_sock), the call fails with INVALID_ARGUMENT, "socket N
 * is already owned by subscription ID" (after the validation and duplicate
 * checks, before the socket is touched); the owner keeps it. A socket owned by a taken subscription or by another
 * context must not be handed over either: that is not detected, and both
 * owners would close it.
 */
MCRX_EXTERN int mcrx_context_add_with_socket(mcrx_context *ctx,
                                             const mcrx_subscription_config *cfg,
                                             mcrx_sock sock, uint64_t *id_out);

/* 1 if the context holds id, else 0. */
MCRX_EXTERN int mcrx_context_contains_subscription(const mcrx_context *ctx, uint64_t id);

/* Borrowed handle for id, or NULL. Valid until the subscription is removed or
 * taken, or the context is freed. */
MCRX_EXTERN mcrx_subscription *mcrx_context_get_subscription(mcrx_context *ctx, uint64_t id);

/* Borrowed handle at position index (0 .. count-1), in ascending id order,
 * or NULL. For iterating, e.g. to register every socket with an event loop. */
MCRX_EXTERN mcrx_subscription *mcrx_context_subscription_at(mcrx_context *ctx, size_t index);

/*
 * Removes id from the context and hands it to the caller with its socket and
 * state: a Joined subscription stays joined and keeps receiving through
 * mcrx_subscription_recv*. Free it with mcrx_subscription_free or turn it into
 * its socket with mcrx_subscription_into_sock. Errors: SUBSCRIPTION_NOT_FOUND.
 */
MCRX_EXTERN int mcrx_context_take_subscription(mcrx_context *ctx, uint64_t id,
                                               mcrx_subscription **sub_out);

/*
 * Receives at most one datagram from any joined subscription. Fair: the
 * subscription served last goes to the back of the queue, so packets A1, B1,
 * A2 from two ready subscriptions arrive as A1, B1, A2. Idle subscriptions
 * cost no system call. *received_out is 1 if dg was filled, else 0.
 * Errors: INVALID_ARGUMENT, RECEIVE_FAILED.
 *
 * Fetching ahead: when a subscription's previous one-datagram call found a
 * datagram, the next one asks the kernel for dg and up to 16 more in one
 * system call that never waits (it takes what is queued), and the following
 * calls hand those out by copy: a backlog costs a system call per 17
 * datagrams, not per datagram, and a lone datagram is received exactly as
 * before. The staged copies are made with dg->cap, so truncation is as dg's
 * own (a datagram staged under a smaller cap than a later call's keeps its
 * cut, flagged MCRX_DATAGRAM_TRUNCATED with its wire_len); a cap above
 * 16 KiB is never staged. Metadata, the isolation filter and the fair order
 * are those of a direct receive. A subscription holds staging memory (about
 * 35 KiB) only while it has staged datagrams; the context keeps two empty
 * ones, so a steady stream allocates nothing. Staged datagrams are ready for
 * mcrx_context_fd (readable while any are staged), mcrx_context_wait and
 * mcrx_subscription_wait. They would not show on a subscription's own
 * socket: asking for it (mcrx_subscription_sock) turns fetching ahead off
 * for that subscription, and asking for the socket list
 * (mcrx_context_sockets) turns it off for the context; the socket-list tier
 * never fetches ahead. A leave drops a subscription's staged datagrams; a
 * taken or removed subscription takes them with it (a taken one hands them
 * out, then receives directly).
 */
MCRX_EXTERN int mcrx_context_recv(mcrx_context *ctx, mcrx_datagram *dg, size_t *received_out);

/*
 * Fills up to n slots with datagrams available now from all joined
 * subscriptions, batching system calls (recvmmsg on Linux) and taking turns
 * between ready subscriptions. *received_out is the number filled (slots
 * 0..received-1); with n large enough it drains everything queued. If an error
 * occurs after some slots were filled, the call succeeds with those and the
 * error is returned by the next call.
 */
MCRX_EXTERN int mcrx_context_recv_batch(mcrx_context *ctx, mcrx_datagram *dgs, size_t n,
                                        size_t *received_out);

/*
 * An fd that is readable when any joined subscription may have a datagram,
 * including datagrams a one-datagram call fetched ahead (see
 * mcrx_context_recv), level-triggered: one registration for a whole
 * context. It may wake once more after the last datagram was taken; the
 * receive call that then finds nothing quiets it. MCRX_SOCK_INVALID
 * for NULL, and on platforms whose readiness has no single handle (the
 * socket-list tier), where the context's last error is NOT_SUPPORTED: watch
 * the sockets mcrx_context_sockets lists instead.
 */
MCRX_EXTERN mcrx_sock mcrx_context_fd(const mcrx_context *ctx);

/*
 * The socket-list tier of event-loop integration (as c-ares has it), for
 * every platform: the handles to watch for readability, one per joined
 * subscription, in ascending subscription id, then (Linux, once a
 * subscription with an interface set was joined) the interface monitor's
 * netlink socket, whose readiness drives rejoin. Stores up to cap of them in
 * socks_out and their total in *count_out (call with cap 0 to size the
 * array). When one is readable, receive from the context as usual. The list
 * changes with join, leave and remove: ask again after those. A context
 * whose caller asked for this list stops fetching ahead (mcrx_context_recv);
 * what was fetched before does not show on these sockets: receive until a
 * call reports 0 before watching them (mcrx_context_wait does see it).
 * Errors: INVALID_ARGUMENT. Safe from any thread.
 */
MCRX_EXTERN int mcrx_context_sockets(mcrx_context *ctx, mcrx_sock *socks_out, size_t cap,
                                     size_t *count_out);

/*
 * Blocks until a joined subscription may have a datagram, or timeout_ms
 * passes (-1 waits forever, 0 only looks). *ready_out is 1 or 0. For programs
 * without an event loop: wait, then receive until a call reports 0. Interrupted
 * by a signal it returns with *ready_out 0. Safe from any thread; while a
 * background receiver runs it may report data the receiver then takes first.
 * Errors: INVALID_ARGUMENT, RECEIVE_FAILED.
 */
MCRX_EXTERN int mcrx_context_wait(mcrx_context *ctx, int timeout_ms, int *ready_out);

/* ------------------------------------------------------------------------ */
/* Subscription                                                              */

#define MCRX_STATE_BOUND 1
#define MCRX_STATE_JOINED 2

MCRX_EXTERN uint64_t mcrx_subscription_id(const mcrx_subscription *sub);
/* MCRX_STATE_BOUND or MCRX_STATE_JOINED. */
MCRX_EXTERN int mcrx_subscription_state(const mcrx_subscription *sub);
MCRX_EXTERN const mcrx_subscription_config *mcrx_subscription_get_config(
    const mcrx_subscription *sub);
/* The socket, still owned by the subscription. A caller that asks for it is
 * taken to watch it: this subscription's one-datagram calls stop fetching
 * ahead (see mcrx_context_recv). Datagrams already fetched ahead stay in the
 * library and do not show on the socket: receive until a call reports 0
 * before watching it. On the io_uring receive path the socket's readiness
 * says nothing (the ring takes datagrams as they arrive): watch
 * mcrx_subscription_fd instead. */
MCRX_EXTERN mcrx_sock mcrx_subscription_sock(const mcrx_subscription *sub);
/*
 * What to watch for this subscription alone in an event loop: a handle
 * readable when it may have a datagram (level-triggered). The socket on
 * the UDP path, the ring's fd on io_uring. Asking for it turns fetching
 * ahead off as mcrx_subscription_sock does, with the same rule: receive
 * until a call reports 0 before watching. MCRX_SOCK_INVALID for NULL.
 */
MCRX_EXTERN mcrx_sock mcrx_subscription_fd(const mcrx_subscription *sub);
/*
 * The socket's receive buffer as the kernel has it now (Linux counts its own
 * overhead in it, so it reads about twice what was asked). A request above
 * net.core.rmem_max is clamped unless the process has CAP_NET_ADMIN, which
 * the library then uses (SO_RCVBUFFORCE); compare with
 * cfg.rcvbuf_bytes * 2 to see a clamp.
 */
MCRX_EXTERN int mcrx_subscription_rcvbuf(mcrx_subscription *sub, size_t *bytes_out);

/* The socket's bound address (e.g. 239.1.2.3:5000). port_out may be NULL. */
MCRX_EXTERN int mcrx_subscription_local_addr(mcrx_subscription *sub, mcrx_ip *ip_out,
                                             uint16_t *port_out);

MCRX_EXTERN mcrx_error mcrx_subscription_last_error_code(const mcrx_subscription *sub);
MCRX_EXTERN const char *mcrx_subscription_last_error(const mcrx_subscription *sub);
MCRX_EXTERN int mcrx_subscription_last_os_error(const mcrx_subscription *sub);

/*
 * Join / leave on a taken subscription (inside a context, use
 * mcrx_context_join_subscription / _leave_subscription). Errors as those.
 */
MCRX_EXTERN int mcrx_subscription_join_group(mcrx_subscription *sub);
MCRX_EXTERN int mcrx_subscription_leave_group(mcrx_subscription *sub);

/*
 * Receives at most one datagram from this subscription. Bound (not joined):
 * SUBSCRIPTION_NOT_JOINED. Otherwise as mcrx_context_recv, fetching ahead
 * included while the subscription belongs to a context (a taken one does
 * not fetch ahead).
 */
MCRX_EXTERN int mcrx_subscription_recv(mcrx_subscription *sub, mcrx_datagram *dg,
                                       size_t *received_out);
/* As mcrx_context_wait, for this subscription's socket and the datagrams
 * its one-datagram calls fetched ahead. */
MCRX_EXTERN int mcrx_subscription_wait(mcrx_subscription *sub, int timeout_ms, int *ready_out);

/* Up to n datagrams from this subscription in as few system calls as possible.
 * As mcrx_context_recv_batch, an error after some slots were filled is
 * returned by the next call (and mcrx_subscription_wait reports it ready). */
MCRX_EXTERN int mcrx_subscription_recv_batch(mcrx_subscription *sub, mcrx_datagram *dgs,
                                             size_t n, size_t *received_out);

/* ------------------------------------------------------------------------ */
/* Source filters and interface sets                                         */

/*
 * Replaces the subscription's source filter with mode and sources[0..n)
 * (full state, as mcrx_subscription_config.sources_mode; the list is
 * copied, normalised, and replaces source too): Bound, it takes effect at
 * join; Joined, the library applies the difference to every interface's
 * membership (allow, block, or a change of mode: on Linux one
 * MCAST_MSFILTER call, so the network sees CHANGE_TO_INCLUDE/EXCLUDE) and
 * undoes it on failure, keeping the old filter. MCRX_SOURCES_NONE with n 0
 * is ASM. The receive-side check follows at once: datagrams queued under the
 * old filter that the new one refuses are discarded. Errors:
 * INVALID_ARGUMENT (sources NULL with n > 0), the validation kinds (as for
 * the config's fields), SUBSCRIPTION_NOT_FOUND, DUPLICATE_SUBSCRIPTION (the
 * new filter equals another subscription's), MEMBERSHIP_LIMIT_EXCEEDED (the
 * sysctl, its value and the number needed), and the join and leave kinds.
 * mcrx_subscription_set_sources on a subscription its context still holds
 * goes through the context.
 */
MCRX_EXTERN int mcrx_context_set_sources(mcrx_context *ctx, uint64_t id, uint32_t mode,
                                         const mcrx_ip *sources, size_t n);
MCRX_EXTERN int mcrx_subscription_set_sources(mcrx_subscription *sub, uint32_t mode,
                                              const mcrx_ip *sources, size_t n);

/* Why a subscription's membership on one interface changed. */
#define MCRX_IFEVENT_JOINED 1u   /* joined on an interface that appeared or came up */
#define MCRX_IFEVENT_LOST 2u     /* the interface went down or away (IPv6: MTU below 1280): membership gone */
#define MCRX_IFEVENT_FAILED 3u   /* a rejoin failed: error says why */

/* One membership change the library made by itself (rejoin). */
typedef struct McrxInterfaceEvent {
    uint64_t subscription_id;
    uint32_t kind;               /* MCRX_IFEVENT_* */
    uint32_t interface_index;
    char interface_name[16];     /* as the kernel names it, NUL-terminated */
    mcrx_error error;            /* FAILED: the kind; else NONE */
    int os_error;
    int64_t time_ns;             /* wall clock, Unix ns */
    uint64_t reserved_[2];
} mcrx_interface_event;

/*
 * Takes the oldest membership event, if any: *got_out 1 or 0. Events are
 * made while the context processes interface changes: the change
 * notifications (Linux: an rtnetlink socket opened at the first join of a
 * subscription with an interface set) are part of the context's readiness,
 * so nothing is spent while nothing changes; a wait reports them ready and
 * the next receive call (or the background receiver) processes them. The
 * queue holds 256; older events are dropped and counted in the context's
 * metrics (interface_events_dropped). Windows makes none (no rejoin).
 * Errors: INVALID_ARGUMENT.
 */
MCRX_EXTERN int mcrx_context_next_interface_event(mcrx_context *ctx, mcrx_interface_event *ev,
                                                  int *got_out);

/* Where a subscription is a member now, one entry per interface of its set. */
typedef struct McrxInterfaceMembership {
    uint32_t interface_index;    /* 0 while the interface is absent */
    char interface_name[16];
    int joined;                  /* 1 if the kernel membership is in place */
    uint32_t reserved_;
} mcrx_interface_membership;

/* Stores up to cap entries and their total in *count_out (cap 0 sizes):
 * the named interfaces in name order, then those MCRX_IFSET_ALL found. A
 * subscription without a set has none (*count_out 0). Errors:
 * INVALID_ARGUMENT. */
MCRX_EXTERN int mcrx_subscription_interfaces(mcrx_subscription *sub,
                                             mcrx_interface_membership *out, size_t cap,
                                             size_t *count_out);

/* Frees a taken subscription and closes its socket. NULL is a no-op. */
MCRX_EXTERN void mcrx_subscription_free(mcrx_subscription *sub);
/* Frees a taken subscription and returns its socket, still joined if it was;
 * the caller closes it. On the io_uring receive path it refuses
 * (MCRX_SOCK_INVALID, NOT_SUPPORTED): the ring holds datagrams taken from
 * the socket. While datagrams fetched ahead by one-datagram calls
 * are still held in the library (they cannot be put back into the socket),
 * it refuses: MCRX_SOCK_INVALID with BUSY in mcrx_last_error_code(), the
 * subscription untouched; receive until a call reports 0, then retry. */
MCRX_EXTERN mcrx_sock mcrx_subscription_into_sock(mcrx_subscription *sub);

#ifdef __cplusplus
}
#endif

#include "metrics.h"

#ifdef MCRX__INTERFACE_SET_ASIDE
#undef MCRX__INTERFACE_SET_ASIDE
#pragma pop_macro("interface")
#endif

#endif /* MCRX_MCRX_H */
