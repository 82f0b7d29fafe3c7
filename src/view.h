/* The C ABI's packet views (McrxPacketView), shared by mcrx_context_poll
 * (ffi.c) and the background receiver (receiver.c).
 *
 * Each delivery path owns a store: one fair batch receive fills it under the
 * context lock, then its datagrams are handed out one view at a time without
 * the lock, so a callback may call back into the context. */
#ifndef MCRX_VIEW_H
#define MCRX_VIEW_H

#include <stdatomic.h>

#include "internal.h"
#include "mcrx_core_ffi.h"

/* Datagrams one fill receives. Each slot holds a whole datagram (the C ABI
 * never truncates), so the arena is MCRX__VIEW_SLOTS x 64 KiB of address
 * space; only the pages datagrams land in become memory (docs/performance.md). */
#define MCRX__VIEW_SLOTS 32
#define MCRX__VIEW_STRIDE 65536

/* A run of datagrams of one subscription inside a fill, with its texts
 * copied at the fill: the subscription may be removed before they are
 * handed out. */
typedef struct mcrx__view_run {
    mcrx_subscription *sub; /* compared (lock held), never followed once dropped */
    char group[MCRX_IP_STRLEN], local[MCRX_IP_STRLEN], iface[MCRX_IP_STRLEN];
} mcrx__view_run;

/* Where a slot's datagram is: claimed by exactly one of the deliverer
 * (handed out) and mcrx__view_forget (dropped, its counts taken back). */
enum { MCRX__SLOT_PENDING, MCRX__SLOT_TAKEN, MCRX__SLOT_DROPPED };

typedef struct mcrx__view_store {
    uint8_t *arena; /* MCRX__VIEW_SLOTS x MCRX__VIEW_STRIDE */
    mcrx_datagram dgs[MCRX__VIEW_SLOTS];
    mcrx_metadata meta[MCRX__VIEW_SLOTS];
    atomic_uchar state[MCRX__VIEW_SLOTS];
    uint8_t run_of[MCRX__VIEW_SLOTS];
    mcrx__view_run runs[MCRX__VIEW_SLOTS];
    size_t count, next; /* filled; next to hand out (the deliverer's own) */
    /* Bumped (lock held) when something the deliverer must look at under
     * the lock has changed: a stop, a restart. */
    atomic_uint epoch;
    unsigned seen;      /* the epoch the deliverer last looked at */
    /* The last sender's text: formatted again only when the sender changes. */
    mcrx_ip source_ip;
    int source_cached;
    const char *source_text;
    char source[MCRX_IP_STRLEN], dest[MCRX_IP_STRLEN];
    McrxPacketView view;
} mcrx__view_store;

/* Makes s's arena. */
int mcrx__view_open(mcrx__view_store *s, mcrx__err *err);
void mcrx__view_close(mcrx__view_store *s);

/* The lock held and s handed out (mcrx__view_pending 0): receives up to n
 * (at most MCRX__VIEW_SLOTS) datagrams of ctx, fairly, into s. *got as
 * mcrx__ctx_recv_locked. */
int mcrx__view_fill(mcrx_context *ctx, mcrx__view_store *s, size_t n, size_t *got,
                    mcrx__err *err);

/* Datagrams of s not yet handed out nor dropped (the deliverer's view). */
int mcrx__view_pending(const mcrx__view_store *s);

/* The next datagram's view, valid until the next call on s, or NULL when
 * none is left; claims it (it can no longer be dropped). Without the lock. */
const McrxPacketView *mcrx__view_next(mcrx__view_store *s);

/* The lock held: drops what s holds of sub and takes its counts back (a
 * datagram of a subscription that left is never delivered, and is not
 * counted as received). */
void mcrx__view_forget(mcrx__view_store *s, mcrx_subscription *sub);

/* Without the lock: whether s's epoch moved since mcrx__view_seen. */
static inline int mcrx__view_changed(const mcrx__view_store *s) {
    return atomic_load_explicit(&s->epoch, memory_order_acquire) != s->seen;
}
static inline void mcrx__view_seen(mcrx__view_store *s) {
    s->seen = atomic_load_explicit(&s->epoch, memory_order_acquire);
}
static inline void mcrx__view_bump(mcrx__view_store *s) {
    atomic_fetch_add_explicit(&s->epoch, 1u, memory_order_release);
}

#endif
