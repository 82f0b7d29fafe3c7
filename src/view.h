/* The C ABI's packet views (McrxPacketView), shared by mcrx_context_poll
 * (ffi.c) and the background receiver (receiver.c). */
#ifndef MCRX_VIEW_H
#define MCRX_VIEW_H

#include "internal.h"
#include "mcrx_core_ffi.h"

/* Library-owned storage behind one McrxPacketView: one per delivery path,
 * so a poll and the background receiver never share a buffer. */
typedef struct mcrx__view_store {
    uint8_t payload[MCRX_MAX_DATAGRAM];
    char source[MCRX_IP_STRLEN], group[MCRX_IP_STRLEN], local[MCRX_IP_STRLEN],
        iface[MCRX_IP_STRLEN], dest[MCRX_IP_STRLEN];
    mcrx_metadata meta;
    mcrx_datagram dg;
    McrxPacketView view;
} mcrx__view_store;

/* Receives one datagram of ctx into s, the context lock held, with the
 * texts of its subscription (copied now: it may be removed once the lock is
 * released). *got is 0 or 1. */
int mcrx__view_recv(mcrx_context *ctx, mcrx__view_store *s, size_t *got, mcrx__err *err);

/* The view of what s holds, valid until s is next filled. */
const McrxPacketView *mcrx__view_make(mcrx__view_store *s);

#endif
