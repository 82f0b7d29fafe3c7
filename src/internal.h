/* Shared internals of the portable core. Not installed. */
#ifndef MCRX_INTERNAL_H
#define MCRX_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "mcrx/mcrx.h"
#include "platform/platform.h"
#include "platform/threads.h"

/* A failure: kind, OS error and a message that begins "MCRX: ". */
typedef struct mcrx__err {
    mcrx_error code;
    int os;
    char msg[320];
} mcrx__err;

void mcrx__err_clear(mcrx__err *e);
/* Records a failure; returns the C ABI status for it. fmt (may be NULL) adds
 * detail after the kind's message. */
int mcrx__err_set(mcrx__err *e, mcrx_error code, int os, const char *fmt, ...)
    MCRX__PRINTF_LIKE(4, 5);
/* Puts prefix (the handle the failure concerns) in front of e's detail. */
void mcrx__err_prefix(mcrx__err *e, const char *prefix);
/* Copies src into dst and returns its status. */
int mcrx__err_copy(mcrx__err *dst, const mcrx__err *src);
int mcrx__status_of(mcrx_error code);
/* The calling thread's error slot (for calls without a handle). */
mcrx__err *mcrx__tls_err(void);

/* Discard reasons of the isolation filter. */
enum {
    MCRX__DISCARD_OTHER_GROUP, /* destination is not the group (other group, unicast) */
    MCRX__DISCARD_OTHER_SOURCE,
    MCRX__DISCARD_OTHER_INTERFACE,
    MCRX__DISCARD_NO_PKTINFO,
    MCRX__DISCARD_COUNT_
};

/* Most datagrams one call discards before it returns (bounded work). */
#define MCRX__DISCARD_BUDGET 256
/* Datagrams a subscription takes in one turn before the others get theirs. */
#define MCRX__TURN MCRX__RX_CHUNK
/* Readiness queries per context receive call: bounds the work of a call
 * under a flood of datagrams the filter discards. */
#define MCRX__MAX_REFILLS 4

/* Counters of one subscription, summed into the context's lifetime totals
 * when it leaves the context. */
typedef struct mcrx__counters {
    uint64_t packets, bytes, would_block, errors, joins, leaves, truncated;
    uint64_t if_rejoins, if_losses; /* interface sets: memberships restored, lost */
    uint64_t discarded[MCRX__DISCARD_COUNT_];
} mcrx__counters;

void mcrx__counters_add(mcrx__counters *to, const mcrx__counters *from);

/* Most entries of an interface set's list; with ALL, the interfaces it
 * finds are not counted against this. */
#define MCRX__IFSET_MAX 64

/* One interface of a subscription's set, followed by name. */
typedef struct mcrx__ifslot {
    char name[16];
    uint32_t index;     /* the interface's index now, 0 while it is absent */
    int joined;         /* the kernel membership is in place on index */
    int listed;         /* named in the config (else found by MCRX_IFSET_ALL) */
    mcrx_error failed;  /* the last rejoin failure reported, NONE since a success */
} mcrx__ifslot;

/* A config's interface set, normalised: names sorted, without duplicates. */
typedef struct mcrx__ifnames {
    uint32_t flags;     /* MCRX_IFSET_* */
    size_t n;
    char names[MCRX__IFSET_MAX][16];
} mcrx__ifnames;

/*
 * Datagrams a one-datagram receive call fetched ahead (recv.c): when the
 * previous one-datagram call found data, the next one asks the backend for
 * the caller's slot plus up to MCRX__STAGE_SLOTS more (one system call, no
 * waiting) and the following calls hand those out by copy. A subscription
 * holds a stage only while it has staged datagrams; emptied stages go back
 * to a few spares kept by the context, so a busy stream allocates nothing.
 * The slots are as large as the caller's slot of the fetching call, so
 * truncation is the caller's own.
 */
#define MCRX__STAGE_BYTES 32768 /* payload room of one stage */
#define MCRX__STAGE_SLOTS 16
#define MCRX__STAGE_SPARES 2    /* empty stages a context keeps */

typedef struct mcrx__stage {
    size_t head, len;            /* staged datagrams: dg[head .. head+len-1] */
    struct mcrx__stage *next;    /* in the context's spares */
    mcrx_datagram dg[MCRX__STAGE_SLOTS];
    mcrx__rxinfo info[MCRX__STAGE_SLOTS];
    unsigned char data[MCRX__STAGE_BYTES];
} mcrx__stage;

struct McrxSubscription {
    mcrx__watch watch;         /* first member: what the poller reports */
    uint64_t id;
    mcrx_subscription_config cfg;
    mcrx__endpoint ep;         /* the backend's endpoint: socket, interface, isolation */
    /* The membership asked for, as data: EXCLUDE{...} or INCLUDE{...}. It
     * is what the platform applies on join and what classify() checks. */
    mcrx__filter filter;
    /* The filter's sources, owned, normalised (mcrx__sources_normalise);
     * cfg.sources points here when the config has a list. */
    mcrx_ip *sources;
    size_t nsources;
    int state;
    mcrx_context *ctx;         /* owner, NULL once taken */
    int in_poller;
    uint64_t cfg_hash;             /* for the context's duplicate check */
    mcrx_subscription *same_hash;  /* next in its hash bucket */
    mcrx_subscription *same_sock;  /* next in its socket bucket */
    /* Text forms for the C ABI's packet view, made once (NUL = absent). */
    char group_text[MCRX_IP_STRLEN];
    char local_text[MCRX_IP_STRLEN];
    char iface_text[MCRX_IP_STRLEN];
    mcrx__counters n;
    uint32_t last_len;
    uint16_t last_port;
    mcrx_ip last_source;
    int64_t last_ns;
    mcrx__err err;
    mcrx__err deferred;        /* a failure for the next mcrx_subscription_recv* call */
    /* Interface set (ifset.c): one membership per slot, on a socket bound
     * to no device. ifs is NULL without a set. */
    mcrx__ifslot *ifs;
    size_t nifs, capifs;
    uint32_t ifflags;          /* MCRX_IFSET_* */
    void *iftexts;             /* the copy cfg.interfaces points into */
    /* Fetching ahead (recv.c): the staged datagrams (NULL when none), the
     * context's list of subscriptions holding some, whether the last
     * one-datagram fetch found data, and staging turned off because the
     * caller watches the raw socket (mcrx_subscription_sock). */
    mcrx__stage *stage;
    mcrx_subscription *staged_prev, *staged_next;
    int staged_linked;
    int streak;
    int no_stage;
};

/* Something attached to a context by a layer above it (the C ABI's poll
 * buffers, the background receiver), freed first by mcrx_context_free
 * through its own function, so the context knows nothing of it. */
typedef struct mcrx__attachment {
    void *data;
    void (*free)(mcrx_context *ctx, void *data);
    /* sub leaves the context's receiving (leave, remove, take), the lock
     * held: drop what the attachment holds of it. NULL = nothing held. */
    void (*forget)(void *data, mcrx_subscription *sub);
} mcrx__attachment;

enum { MCRX__ATTACH_POLL, MCRX__ATTACH_RECEIVER, MCRX__ATTACH_COUNT_ };

struct McrxContext {
    mcrx__mutex lock;          /* serialises every call on the context, from any thread */
    mcrx__err err;
    uint64_t next_id;
    const mcrx__backend *backend; /* for the subscriptions it opens */
    /* An io_uring backend made for this context (freed with it), or NULL. */
    const mcrx__backend *owned_backend;
    mcrx_subscription **subs;  /* ascending id */
    size_t nsubs, capsubs;
    mcrx_subscription **by_cfg; /* capsubs buckets, chained by config hash */
    mcrx_subscription **by_sock; /* capsubs buckets, chained by socket: who owns an fd */
    mcrx__poller *poller;
    /* Fair queue of subscriptions known (or likely) to have data. */
    mcrx_subscription **ready;
    size_t ready_head, ready_len, ready_cap;
    mcrx__err deferred;        /* an error to report on the next receive call */
    mcrx__counters retired;    /* of subscriptions removed or taken */
    uint64_t added, removed, batch_calls, batch_packets;
    uint64_t would_block;      /* context receive calls that found nothing */
    mcrx__attachment attached[MCRX__ATTACH_COUNT_];
    /* Rejoin (ifset.c): the interface monitor, opened at the first join of
     * a subscription with an interface set, and the events it led to. */
    mcrx__ifmon *ifmon;
    mcrx__watch ifmon_watch;
    int ifmon_unavailable;     /* the platform has none (Windows) */
    mcrx_interface_event *events; /* MCRX__EVENTS entries, a ring */
    size_t ev_head, ev_len;
    uint64_t events_dropped;
    /* Fetching ahead (recv.c). staged_watch is an eventfd in the poller,
     * readable while a subscription holds staged datagrams, so
     * mcrx_context_fd and the waits see them (stage_on 0 without it: the
     * socket-list tier, or once mcrx_context_sockets was asked for). */
    int stage_on;
    int staged_signalled;
    mcrx__watch staged_watch;
    mcrx_subscription *staged_head;
    size_t nstaged;
    mcrx__stage *spares;
    size_t nspares;
};

#define MCRX__EVENTS 256

/* A context whose subscriptions use backend, watched by the platform's
 * poller or (socket_list 1) by the socket-list tier. mcrx_context_new is
 * the UDP backend and the platform's poller. Tests use the others. */
mcrx_context *mcrx__context_new_with(const mcrx__backend *backend, int socket_list);

/* Subscription internals (subscription.c), used by context.c and recv.c. */
/* cfg and list come from mcrx__config_prepare, names (NULL or empty: none)
 * is the config's interface set normalised; the new subscription owns list
 * (also on failure). */
int mcrx__sub_new(uint64_t id, const mcrx_subscription_config *cfg, mcrx_ip *list,
                  size_t nlist, const mcrx__endpoint *ep, const mcrx__ifnames *names,
                  mcrx_subscription **out, mcrx__err *err);
/* The config sub would have with the filter mode, sources[0..n) (full
 * state, mcrx_context_set_sources), prepared: *list is its normalised list
 * for mcrx__sub_set_sources, or NULL. Returns the C ABI status. */
int mcrx__sub_sources_config(const mcrx_subscription *sub, uint32_t mode, const mcrx_ip *sources,
                             size_t n, mcrx_subscription_config *out, mcrx_ip **list,
                             size_t *nlist, mcrx__err *err);
/* Moves sub to cfg's filter (from mcrx__sub_sources_config; sub owns list
 * from here, also on failure): checked against the kernel's source limit,
 * applied to the membership when Joined (undone on failure, the old filter
 * kept). Returns the C ABI status. */
int mcrx__sub_set_sources(mcrx_subscription *sub, const mcrx_subscription_config *cfg,
                          mcrx_ip *list, size_t nlist, mcrx__err *err);
void mcrx__sub_destroy(mcrx_subscription *sub);
/* Joins (join 1) or leaves; returns the C ABI status. */
int mcrx__sub_membership(mcrx_subscription *sub, int join, mcrx__err *err);

/* The receive path (recv.c). */
/* single: a one-datagram call (n == 1 asked by the caller), which may
 * fetch ahead. */
int mcrx__sub_recv(mcrx_subscription *sub, mcrx_datagram *dgs, size_t n, int single,
                   size_t *got, mcrx__err *err);
void mcrx__ready_forget(mcrx_context *ctx, mcrx_subscription *sub);
/* sub leaves its context's receiving: keep 1 (taken or removed) keeps its
 * staged datagrams with it, keep 0 (left the group) drops them. */
void mcrx__stage_forget(mcrx_subscription *sub, int keep);
/* Frees a context's spare stages (mcrx_context_free). */
void mcrx__stage_free_spares(mcrx_context *ctx);
/* Fair receive across ctx, its lock held. who (may be NULL; n entries)
 * gets the subscription of each datagram received. */
int mcrx__ctx_recv_locked(mcrx_context *ctx, mcrx_datagram *dgs, size_t n, size_t *got,
                          mcrx_subscription **who, mcrx__err *err);

/* Records a failure and returns its kind: the platform contract's
 * convention. */
mcrx_error mcrx__fail(mcrx__err *e, mcrx_error code, int os, const char *fmt, ...)
    MCRX__PRINTF_LIKE(4, 5);

/* The interface cfg names, as an index (0 = none named, the system's
 * choice): IPv6 by index or address, IPv4 by address (0 when no interface
 * has it: the join then fails naming IP_ADD_MEMBERSHIP). The same policy for
 * every backend (config.c), over the platform's interface lookups. */
mcrx_error mcrx__config_interface_index(const mcrx_subscription_config *cfg, uint32_t *ifindex,
                                        mcrx__err *err);

/* Copies src into dst reading no byte past src's version (a version 1
 * caller's struct is shorter); fields src lacks are zero. */
void mcrx__config_import(mcrx_subscription_config *dst, const mcrx_subscription_config *src);
/* What add and set_sources work with: src imported and validated, its list
 * normalised into *list (malloc, sorted, no duplicates; cfg->sources
 * points at it) or, for a single source, *list is that source alone (cfg
 * unchanged); NULL for ASM. Returns 0 or the kind, the record filled. */
mcrx_error mcrx__config_prepare(const mcrx_subscription_config *src,
                                mcrx_subscription_config *cfg, mcrx_ip **list, size_t *nlist,
                                mcrx__err *err);
/* The membership state cfg asks for, over its prepared list. */
void mcrx__config_filter(const mcrx_subscription_config *cfg, const mcrx_ip *list, size_t nlist,
                         mcrx__filter *f);

/* Whether a caller's socket, bound to ip:port, fits cfg (family, port):
 * the same check for every backend's adopt (config.c). */
mcrx_error mcrx__config_check_bound(const mcrx_subscription_config *cfg, const mcrx_ip *ip,
                                    uint16_t port, mcrx__err *err);

/* ---- interface sets (config.c: syntax; ifset.c: the rest) ---- */

/* 1 if cfg asks for an interface set (a list, or ALL). */
int mcrx__config_has_ifset(const mcrx_subscription_config *cfg);

/* One entry of an interface set's list, parsed (no lookup but a scope
 * name, "fe80::1%eth0"). */
enum { MCRX__IFE_NAME = 1, MCRX__IFE_INDEX, MCRX__IFE_ADDRESS };
typedef struct mcrx__ifentry {
    int kind;          /* MCRX__IFE_* */
    char name[16];     /* NAME */
    uint32_t index;    /* INDEX, or an ADDRESS's scope */
    mcrx_ip addr;      /* ADDRESS */
} mcrx__ifentry;
mcrx_error mcrx__config_ifentry(const char *text, int family, mcrx__ifentry *out,
                                mcrx__err *err);

/* Interface sets (ifset.c), under the subscription layer. */
/* Parses and resolves cfg's set (indexes and addresses to the names they
 * have now) into out. Errors: INVALID_INTERFACE, INTERFACE_DISCOVERY_FAILED. */
mcrx_error mcrx__ifset_normalise(const mcrx_subscription_config *cfg, mcrx__ifnames *out,
                                 mcrx__err *err);
/* 1 if sub's set (none for a subscription without one) is names. */
int mcrx__ifset_equal(const mcrx_subscription *sub, const mcrx__ifnames *names);
/* Gives sub its set: slots for names, and the copy of the config's texts
 * that sub->cfg.interfaces points to. */
mcrx_error mcrx__ifset_init(mcrx_subscription *sub, const mcrx__ifnames *names,
                            mcrx__err *err);
void mcrx__ifset_free(mcrx_subscription *sub);
/* Moves sub's membership from `from` to `to` on its interface, or on every
 * interface of its set (a join finds them, a leave leaves every one). */
mcrx_error mcrx__sub_apply(mcrx_subscription *sub, const mcrx__filter *from,
                           const mcrx__filter *to, mcrx__err *err);
/* Opens the context's interface monitor if sub needs one (a set, a
 * platform that has one) and it is not open. Best effort: without it
 * there is no rejoin. */
void mcrx__ifset_watch(mcrx_context *ctx, const mcrx_subscription *sub);
/* The monitor reported a change: reads it, lists the links and brings
 * every joined set up to date, queueing events. ctx's lock held. */
void mcrx__ifset_changed(mcrx_context *ctx);
void mcrx__ifset_close(mcrx_context *ctx);

/* Address leaf internals (addr.c). */
uint32_t mcrx__ifname_index(const char *name);
/* Parses "addr%scope" (IPv6, the scope a name or a non-zero index). */
mcrx_error mcrx__ip_parse_scoped(const char *text, mcrx_ip *out, int64_t *index_out);

#endif
