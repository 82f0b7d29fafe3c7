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
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
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

/* Counters of one subscription, summed into the context's lifetime totals
 * when it leaves the context. */
typedef struct mcrx__counters {
    uint64_t packets, bytes, would_block, errors, joins, leaves, truncated;
    uint64_t discarded[MCRX__DISCARD_COUNT_];
} mcrx__counters;

void mcrx__counters_add(mcrx__counters *to, const mcrx__counters *from);

struct McrxSubscription {
    uint64_t id;
    mcrx_subscription_config cfg;
    mcrx_sock sock;
    int state;
    int ssm;
    uint32_t ifindex;          /* resolved receive interface, 0 = kernel's choice */
    int isolated;              /* the kernel delivers only our datagrams */
    int pinned;                /* ifindex was found after a join without one */
    int cmsgs;                 /* per-datagram reports are on */
    mcrx_context *ctx;         /* owner, NULL once taken */
    int in_poller;
    mcrx_ip local_ip;
    uint16_t local_port;
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
};

struct McrxContext {
    mcrx__mutex lock;          /* serialises every call on the context, from any thread */
    mcrx__err err;
    uint64_t next_id;
    mcrx_subscription **subs;  /* ascending id */
    size_t nsubs, capsubs;
    mcrx_subscription **by_cfg; /* capsubs buckets, chained by config hash */
    mcrx_subscription **by_sock; /* capsubs buckets, chained by socket: who owns an fd */
    mcrx_sock poller;
    /* Fair queue of subscriptions known (or likely) to have data. */
    mcrx_subscription **ready;
    size_t ready_head, ready_len, ready_cap;
    mcrx__err deferred;        /* an error to report on the next receive call */
    mcrx__counters retired;    /* of subscriptions removed or taken */
    uint64_t added, removed, batch_calls, batch_packets;
    uint64_t would_block;      /* context receive calls that found nothing */
    struct mcrx__ffi *ffi;     /* C ABI buffers and background receiver */
};

/* Subscription internals shared by context.c and recv.c. */
int mcrx__sub_new(uint64_t id, const mcrx_subscription_config *cfg, mcrx_sock sock,
                  const mcrx__sockinfo *info, mcrx_subscription **out, mcrx__err *err);
void mcrx__sub_destroy(mcrx_subscription *sub);
int mcrx__sub_membership(mcrx_subscription *sub, int join, mcrx__err *err);
int mcrx__sub_recv(mcrx_subscription *sub, mcrx_datagram *dgs, size_t n, size_t *got,
                   mcrx__err *err);

/* Position of id in ctx->subs, or ctx->nsubs (context.c). */
size_t mcrx__ctx_find(const mcrx_context *ctx, uint64_t id);

/* Context receive internals (recv.c). */
void mcrx__ready_forget(mcrx_context *ctx, mcrx_subscription *sub);
int mcrx__ctx_recv_locked(mcrx_context *ctx, mcrx_datagram *dgs, size_t n, size_t *got,
                          mcrx__err *err);

/* Wall clock, Unix nanoseconds (platform). */
int64_t mcrx__wall_ns(void);

/* Background receiver teardown (ffi.c), called by mcrx_context_free. */
void mcrx__ffi_free(mcrx_context *ctx);

#endif
