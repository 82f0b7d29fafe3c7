/* mcrx-core on libuv: a uv_poll_t on the socket (or the context's readiness
 * fd), batched receives, one callback per datagram. */
#include <mcrx/mcrx_uv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 16
/* Batches per readiness event before yielding to the rest of the loop. */
#define ROUNDS 4

struct McrxUvReceiver {
    uv_poll_t poll;
    uv_idle_t idle; /* delivers datagrams kept across a stop */
    mcrx_context *ctx;
    mcrx_subscription *sub;
    mcrx_uv_recv_cb cb;
    void *user;
    unsigned flags;
    int active;
    int closing;
    int open_handles;
    mcrx_uv_close_cb close_cb;
    void *close_user;
    size_t pos, n; /* undelivered datagrams dgs[pos..n) */
    mcrx_datagram dgs[SLOTS];
    mcrx_metadata metas[SLOTS];
    unsigned char *arena;
    char err[400];
};

/* Failures with no receiver to keep them (init, NULL receiver). */
static _Thread_local char thread_err[400];

static void set_error(mcrx_uv_receiver *r, const char *msg) {
    snprintf(r->err, sizeof r->err, "%s", msg);
}

/* Records "MCRX: <what>" on r, or on the thread when r is NULL; returns rc. */
static int failed(mcrx_uv_receiver *r, int rc, const char *what) {
    char *buf = r != NULL ? r->err : thread_err;
    size_t len = r != NULL ? sizeof r->err : sizeof thread_err;
    snprintf(buf, len, "MCRX: %s", what);
    return rc;
}

static int init_common(uv_loop_t *loop, mcrx_uv_receiver **out, mcrx_context *ctx,
                       mcrx_subscription *sub, mcrx_sock fd) {
    mcrx_uv_receiver *r;
    char why[200];
    int rc;
    if (out != NULL)
        *out = NULL;
    if (loop == NULL || out == NULL)
        return failed(NULL, UV_EINVAL, "invalid argument: loop and out are required");
    if (fd == MCRX_SOCK_INVALID)
        return failed(NULL, UV_EINVAL, "invalid argument: no socket to watch");
    r = calloc(1, sizeof *r);
    if (r == NULL)
        return failed(NULL, UV_ENOMEM, "out of memory: receiver");
    r->arena = malloc((size_t)SLOTS * MCRX_MAX_DATAGRAM);
    if (r->arena == NULL) {
        free(r);
        return failed(NULL, UV_ENOMEM, "out of memory: receive buffers");
    }
    rc = uv_poll_init(loop, &r->poll, (int)fd);
    if (rc != 0) {
        free(r->arena);
        free(r);
        snprintf(why, sizeof why, "uv_poll_init on socket %lld: %s", (long long)fd,
                 uv_strerror(rc));
        return failed(NULL, rc, why);
    }
    uv_idle_init(loop, &r->idle);
    r->poll.data = r;
    r->idle.data = r;
    r->open_handles = 2;
    r->ctx = ctx;
    r->sub = sub;
    *out = r;
    return 0;
}

int mcrx_uv_receiver_init_subscription(uv_loop_t *loop, mcrx_uv_receiver **out,
                                       mcrx_subscription *sub) {
    if (sub == NULL) {
        if (out != NULL)
            *out = NULL;
        return failed(NULL, UV_EINVAL, "invalid argument: subscription is NULL");
    }
    return init_common(loop, out, NULL, sub, mcrx_subscription_fd(sub));
}

int mcrx_uv_receiver_init_context(uv_loop_t *loop, mcrx_uv_receiver **out, mcrx_context *ctx) {
    if (ctx == NULL) {
        if (out != NULL)
            *out = NULL;
        return failed(NULL, UV_EINVAL, "invalid argument: context is NULL");
    }
    return init_common(loop, out, ctx, NULL, mcrx_context_fd(ctx));
}

mcrx_context *mcrx_uv_receiver_context(mcrx_uv_receiver *r) {
    return r != NULL ? r->ctx : NULL;
}

mcrx_subscription *mcrx_uv_receiver_subscription(mcrx_uv_receiver *r) {
    return r != NULL ? r->sub : NULL;
}

const char *mcrx_uv_last_error(const mcrx_uv_receiver *r) {
    return r != NULL ? r->err : thread_err;
}

static void fail(mcrx_uv_receiver *r) {
    set_error(r, r->ctx ? mcrx_context_last_error(r->ctx) : mcrx_subscription_last_error(r->sub));
    mcrx_uv_recv_stop(r);
    r->cb(r, UV_EIO, NULL, r->user);
}

/* Hands out kept datagrams while running; 1 if the batch is used up. */
static int deliver(mcrx_uv_receiver *r) {
    while (r->pos < r->n && r->active && !r->closing) {
        const mcrx_datagram *dg = &r->dgs[r->pos++];
        r->cb(r, 0, dg, r->user);
    }
    return r->pos >= r->n;
}

static void on_poll(uv_poll_t *h, int status, int events) {
    mcrx_uv_receiver *r = h->data;
    int round;
    (void)events;
    if (status < 0) {
        char why[200];
        snprintf(why, sizeof why, "failed to receive: uv_poll: %s", uv_strerror(status));
        failed(r, status, why);
        mcrx_uv_recv_stop(r);
        r->cb(r, status, NULL, r->user);
        return;
    }
    for (round = 0; round < ROUNDS && r->active && !r->closing; round++) {
        size_t got = 0;
        int rc;
        if (!deliver(r))
            return; /* stopped or closing inside the callback */
        mcrx_datagrams_init(r->dgs, SLOTS, r->arena, MCRX_MAX_DATAGRAM,
                            (r->flags & MCRX_UV_METADATA) ? r->metas : NULL);
        rc = r->ctx != NULL ? mcrx_context_recv_batch(r->ctx, r->dgs, SLOTS, &got)
                            : mcrx_subscription_recv_batch(r->sub, r->dgs, SLOTS, &got);
        if (rc != 0) {
            fail(r);
            return;
        }
        r->pos = 0;
        r->n = got;
        if (got == 0)
            return;
    }
    deliver(r);
}

static void on_idle(uv_idle_t *h) {
    mcrx_uv_receiver *r = h->data;
    uv_idle_stop(h);
    deliver(r);
}

int mcrx_uv_recv_start(mcrx_uv_receiver *r, unsigned flags, mcrx_uv_recv_cb cb, void *user) {
    int rc;
    if (r == NULL)
        return failed(NULL, UV_EINVAL, "invalid argument: receiver is NULL");
    if (cb == NULL)
        return failed(r, UV_EINVAL, "invalid argument: a callback is required");
    if ((flags & ~MCRX_UV_METADATA) != 0)
        return failed(r, UV_EINVAL, "invalid argument: flags may only hold MCRX_UV_METADATA");
    if (r->closing)
        return failed(r, UV_EINVAL, "invalid argument: the receiver is closing");
    if (r->n > r->pos && ((flags ^ r->flags) & MCRX_UV_METADATA) && (flags & MCRX_UV_METADATA))
        /* kept datagrams have no metadata to give */
        return failed(r, UV_EBUSY, "busy: datagrams received without metadata are still to "
                                   "be delivered; start without MCRX_UV_METADATA first");
    r->cb = cb;
    r->user = user;
    r->flags = flags;
    if (r->active)
        return 0;
    rc = uv_poll_start(&r->poll, UV_READABLE, on_poll);
    if (rc != 0) {
        char why[200];
        snprintf(why, sizeof why, "uv_poll_start: %s", uv_strerror(rc));
        return failed(r, rc, why);
    }
    r->active = 1;
    if (r->pos < r->n)
        uv_idle_start(&r->idle, on_idle);
    return 0;
}

int mcrx_uv_recv_stop(mcrx_uv_receiver *r) {
    int rc;
    if (r == NULL)
        return failed(NULL, UV_EINVAL, "invalid argument: receiver is NULL");
    if (!r->active)
        return 0;
    r->active = 0;
    uv_idle_stop(&r->idle);
    rc = uv_poll_stop(&r->poll);
    if (rc != 0) {
        char why[200];
        snprintf(why, sizeof why, "uv_poll_stop: %s", uv_strerror(rc));
        return failed(r, rc, why);
    }
    return 0;
}

static void on_closed(uv_handle_t *h) {
    mcrx_uv_receiver *r = h->data;
    if (--r->open_handles > 0)
        return;
    if (r->close_cb != NULL)
        r->close_cb(r, r->close_user);
    if (r->ctx != NULL)
        mcrx_context_free(r->ctx);
    else
        mcrx_subscription_free(r->sub);
    free(r->arena);
    free(r);
}

void mcrx_uv_close(mcrx_uv_receiver *r, mcrx_uv_close_cb close_cb, void *user) {
    if (r == NULL || r->closing)
        return;
    mcrx_uv_recv_stop(r);
    r->closing = 1;
    r->close_cb = close_cb;
    r->close_user = user;
    uv_close((uv_handle_t *)&r->poll, on_closed);
    uv_close((uv_handle_t *)&r->idle, on_closed);
}
