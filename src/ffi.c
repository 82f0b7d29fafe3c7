/*
 * The Rust crate's C ABI, the part that is not the rest of our API: its
 * version, the text-based add and the callback poll. (Its background
 * receiver is receiver.c.)
 */
#include <stdlib.h>
#include <string.h>

#include "view.h"

/* The poll's own buffer and who is polling, attached to the context
 * (MCRX__ATTACH_POLL) on first use. */
typedef struct poll_state {
    mcrx__view_store store;
    int polling;         /* a poll call is in progress */
    mcrx__thread poller; /* its thread, when polling */
} poll_state;

const char *mcrx_ffi_version(void) {
    return MCRX_VERSION_STRING;
}

static void poll_state_free(mcrx_context *ctx, void *data) {
    poll_state *ps = data;
    (void)ctx;
    mcrx__view_close(&ps->store);
    free(ps);
}

static void poll_state_forget(void *data, mcrx_subscription *sub) {
    poll_state *ps = data;
    mcrx__view_forget(&ps->store, sub);
}

/* The context's poll state, made on first use (the lock held). */
static poll_state *attach(mcrx_context *ctx) {
    mcrx__attachment *a = &ctx->attached[MCRX__ATTACH_POLL];
    if (a->data == NULL) {
        poll_state *ps = calloc(1, sizeof(poll_state));
        if (ps == NULL) {
            mcrx__err_set(&ctx->err, MCRX_ERROR_OUT_OF_MEMORY, 0, "receive buffers");
            return NULL;
        }
        if (mcrx__view_open(&ps->store, &ctx->err) != 0) {
            free(ps);
            return NULL;
        }
        a->data = ps;
        a->free = poll_state_free;
        a->forget = poll_state_forget;
    }
    return a->data;
}

int mcrx_context_add_subscription(mcrx_context *ctx, const char *group, uint16_t dst_port,
                                  const char *source, const char *interface,
                                  uint64_t *subscription_id_out) {
    mcrx_subscription_config cfg;
    mcrx_error e;
    if (ctx == NULL || group == NULL || subscription_id_out == NULL)
        return mcrx__err_set(ctx ? &ctx->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "context, group and subscription_id_out are required");
    e = mcrx_subscription_config_parse(&cfg, group, dst_port, source, interface);
    if (e != MCRX_ERROR_NONE) {
        /* The kind's own status, as in the Rust ABI: text that does not parse
         * is a bad argument (1), a bare index 0 a validation failure (2). */
        int rc;
        mcrx__mutex_lock(&ctx->lock);
        rc = mcrx__err_copy(&ctx->err, mcrx__tls_err());
        mcrx__mutex_unlock(&ctx->lock);
        return rc;
    }
    return mcrx_context_add(ctx, &cfg, subscription_id_out);
}

int mcrx_context_poll(mcrx_context *ctx, size_t max_packets, McrxPacketCallback callback,
                      void *user_data, size_t *received_out) {
    poll_state *ps = NULL;
    int rc = 0;
    if (ctx == NULL || received_out == NULL)
        return mcrx__err_set(ctx ? &ctx->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "context and received_out are required");
    *received_out = 0;
    mcrx__mutex_lock(&ctx->lock);
    mcrx__err_clear(&ctx->err);
    if (max_packets > 0 && callback == NULL)
        rc = mcrx__err_set(&ctx->err, MCRX_ERROR_INVALID_ARGUMENT, 0,
                           "callback is required when max_packets > 0");
    else if ((ps = ctx->attached[MCRX__ATTACH_POLL].data) != NULL && ps->polling)
        rc = mcrx__err_set(&ctx->err, MCRX_ERROR_BUSY, 0, "%s",
                           mcrx__thread_is_self(ps->poller)
                               ? "the context is being polled: mcrx_context_poll called from "
                                 "inside its own callback"
                               : "the context is being polled by another thread");
    else if (max_packets > 0 && (ps = attach(ctx)) == NULL)
        rc = mcrx__status_of(ctx->err.code);
    /* The whole call owns the poll buffer: its callbacks read it unlocked. */
    if (rc == 0 && max_packets > 0) {
        ps->polling = 1;
        ps->poller = mcrx__thread_self();
    }
    mcrx__mutex_unlock(&ctx->lock);
    if (rc != 0 || max_packets == 0)
        return rc;

    /* One fair batch receive under the lock, then a callback per datagram
     * without it: the callback may call back into the context. A
     * subscription that leaves meanwhile takes its datagrams with it
     * (mcrx__view_forget). */
    while (*received_out < max_packets) {
        const McrxPacketView *v;
        if (!mcrx__view_pending(&ps->store)) {
            size_t got = 0;
            mcrx__mutex_lock(&ctx->lock);
            rc = mcrx__view_fill(ctx, &ps->store, max_packets - *received_out, &got, &ctx->err);
            mcrx__mutex_unlock(&ctx->lock);
            if (rc != 0 || got == 0)
                break;
        }
        v = mcrx__view_next(&ps->store);
        if (v == NULL)
            continue; /* the rest had left */
        callback(v, user_data);
        (*received_out)++;
    }
    mcrx__mutex_lock(&ctx->lock);
    ps->polling = 0;
    mcrx__mutex_unlock(&ctx->lock);
    return rc;
}
