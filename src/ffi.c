/*
 * The Rust crate's C ABI: text-based add, callback poll, and the background
 * receiver (readiness-driven, never sleeping on a timer).
 *
 * Start, stop and free may race from any threads. The receiver thread is
 * joined exactly once: a caller claims the join under the lock (f->claim)
 * and joins without it; others wait on f->changed and look again.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Library-owned storage behind McrxPacketView: one per delivery path, so a
 * poll and the background receiver never share a buffer. */
typedef struct view_store {
    uint8_t payload[MCRX_MAX_DATAGRAM];
    char source[MCRX_IP_STRLEN], group[MCRX_IP_STRLEN], local[MCRX_IP_STRLEN],
        iface[MCRX_IP_STRLEN], dest[MCRX_IP_STRLEN];
    mcrx_metadata meta;
    mcrx_datagram dg;
    McrxPacketView view;
} view_store;

/* Who is joining the receiver thread. */
enum { CLAIM_NONE, CLAIM_STOP, CLAIM_START };

struct mcrx__ffi {
    view_store poll_store;
    view_store worker_store;
    mcrx__cond changed;  /* a claimed join has ended */
    mcrx__thread thread;
    uint64_t gen;        /* receiver threads created so far */
    int alive;           /* the thread exists and has not been joined */
    int finished;        /* its loop has ended */
    int stop;            /* asked to end */
    int claim;           /* CLAIM_*: a caller is joining it without the lock */
    int polling;         /* a poll call is in progress */
    mcrx__thread poller; /* its thread, when polling */
    McrxPacketCallback cb;
    void *user;
    mcrx_sock wake;
    mcrx__err worker_err;
};

const char *mcrx_ffi_version(void) {
    return MCRX_VERSION_STRING;
}

static int ensure_ffi(mcrx_context *ctx) {
    if (ctx->ffi != NULL)
        return 0;
    ctx->ffi = calloc(1, sizeof *ctx->ffi);
    if (ctx->ffi == NULL)
        return mcrx__err_set(&ctx->err, MCRX_ERROR_OUT_OF_MEMORY, 0, "receive buffers");
    ctx->ffi->wake = MCRX_SOCK_INVALID;
    if (mcrx__wakeup_open(&ctx->ffi->wake, &ctx->err) != 0) {
        free(ctx->ffi);
        ctx->ffi = NULL;
        return MCRX_STATUS_ERROR;
    }
    mcrx__cond_init(&ctx->ffi->changed);
    return 0;
}

static const char *text_or_null(const mcrx_ip *ip, char *buf) {
    return mcrx_ip_format(ip, buf, MCRX_IP_STRLEN) > 0 ? buf : NULL;
}

static const char *nonempty(const char *s) {
    return s[0] != '\0' ? s : NULL;
}

static const McrxPacketView *make_view(view_store *s) {
    McrxPacketView *v = &s->view;
    const mcrx_metadata *m = &s->meta;
    mcrx_ip src = s->dg.source;
    memset(v, 0, sizeof *v);
    v->payload = s->payload;
    v->payload_len = s->dg.len;
    v->subscription_id = s->dg.subscription_id;
    v->source_ip = text_or_null(&src, s->source);
    v->source_port = s->dg.source_port;
    v->group_ip = nonempty(s->group);
    v->dst_port = s->dg.dst_port;
    v->socket_local_ip = nonempty(s->local);
    v->socket_local_port = m->socket_local_port;
    v->configured_interface_ip = nonempty(s->iface);
    v->configured_interface_index = m->configured_interface_index;
    v->has_configured_interface_index = m->configured_interface_index != 0;
    if ((m->valid & MCRX_META_DESTINATION) && mcrx_ip_equal(&m->destination_local_ip, &s->dg.group))
        v->destination_local_ip = v->group_ip; /* the usual case: no formatting */
    else if (m->valid & MCRX_META_DESTINATION)
        v->destination_local_ip = text_or_null(&m->destination_local_ip, s->dest);
    if (m->valid & MCRX_META_INGRESS_IF) {
        v->ingress_interface_index = m->ingress_interface_index;
        v->has_ingress_interface_index = 1;
    }
    return v;
}

/* Receives one datagram into s under the context lock, with the texts of its
 * subscription (copied now: it may be removed once the lock is released). */
static int recv_one(mcrx_context *ctx, view_store *s, size_t *got, mcrx__err *err) {
    size_t i;
    int rc;
    mcrx_datagram_init(&s->dg, s->payload, sizeof s->payload);
    s->dg.meta = &s->meta;
    rc = mcrx__ctx_recv_locked(ctx, &s->dg, 1, got, err);
    if (rc != 0 || *got == 0)
        return rc;
    i = mcrx__ctx_find(ctx, s->dg.subscription_id);
    if (i < ctx->nsubs) {
        const mcrx_subscription *sub = ctx->subs[i];
        memcpy(s->group, sub->group_text, sizeof s->group);
        memcpy(s->local, sub->local_text, sizeof s->local);
        memcpy(s->iface, sub->iface_text, sizeof s->iface);
    }
    return 0;
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
    view_store *s;
    size_t i;
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
    else if (ctx->ffi != NULL && ctx->ffi->polling)
        rc = mcrx__err_set(&ctx->err, MCRX_ERROR_BUSY, 0, "%s",
                           mcrx__thread_is_self(ctx->ffi->poller)
                               ? "the context is being polled: mcrx_context_poll called from "
                                 "inside its own callback"
                               : "the context is being polled by another thread");
    else if (max_packets > 0)
        rc = ensure_ffi(ctx);
    /* The whole call owns the poll buffer: its callbacks read it unlocked. */
    if (rc == 0 && max_packets > 0) {
        ctx->ffi->polling = 1;
        ctx->ffi->poller = mcrx__thread_self();
    }
    mcrx__mutex_unlock(&ctx->lock);
    if (rc != 0 || max_packets == 0)
        return rc;

    s = &ctx->ffi->poll_store;
    for (i = 0; i < max_packets; i++) {
        size_t got = 0;
        mcrx__mutex_lock(&ctx->lock);
        rc = recv_one(ctx, s, &got, &ctx->err);
        mcrx__mutex_unlock(&ctx->lock);
        if (rc != 0 || got == 0)
            break;
        /* The lock is released: the callback may call back into the context. */
        callback(make_view(s), user_data);
        (*received_out)++;
    }
    mcrx__mutex_lock(&ctx->lock);
    ctx->ffi->polling = 0;
    mcrx__mutex_unlock(&ctx->lock);
    return rc;
}

/* ---- background receiver ------------------------------------------------------------ */

static void *worker_main(void *arg) {
    mcrx_context *ctx = arg;
    struct mcrx__ffi *f = ctx->ffi;
    view_store *s = &f->worker_store;

    for (;;) {
        McrxPacketCallback cb;
        void *user;
        size_t got = 0;
        int rc;

        mcrx__mutex_lock(&ctx->lock);
        if (f->stop) {
            mcrx__mutex_unlock(&ctx->lock);
            break;
        }
        rc = recv_one(ctx, s, &got, &f->worker_err);
        if (rc != 0) {
            /* The failure ends the receiver and stays on the context. It
             * counts as finished from the moment the failure shows, so a
             * start that sees the failure is never told ALREADY_RUNNING. */
            mcrx__err_copy(&ctx->err, &f->worker_err);
            f->finished = 1;
            mcrx__mutex_unlock(&ctx->lock);
            break;
        }
        cb = f->cb;
        user = f->user;
        mcrx__mutex_unlock(&ctx->lock);

        if (got == 1) {
            cb(make_view(s), user);
            continue;
        }
        /* Nothing queued: sleep until a socket is readable or stop wakes us. */
        mcrx__wait_readable2(ctx->poller, f->wake, -1);
        mcrx__wakeup_drain(f->wake);
    }
    mcrx__mutex_lock(&ctx->lock);
    f->finished = 1;
    mcrx__mutex_unlock(&ctx->lock);
    return NULL;
}

/* Joins the receiver thread, which the caller has claimed (f->claim) and
 * asked to stop. Entered and left with the lock held; it is released while
 * joining, since the thread takes it to finish its loop. */
static void join_claimed(mcrx_context *ctx) {
    struct mcrx__ffi *f = ctx->ffi;
    mcrx__thread t = f->thread;
    mcrx__mutex_unlock(&ctx->lock);
    mcrx__wakeup_signal(f->wake);
    mcrx__thread_join(t);
    mcrx__mutex_lock(&ctx->lock);
    f->alive = 0;
    f->claim = CLAIM_NONE;
    mcrx__cond_broadcast(&f->changed);
}

static int already_running(mcrx_context *ctx, const char *why) {
    return mcrx__err_set(&ctx->err, MCRX_ERROR_ALREADY_RUNNING, 0, "%s", why);
}

/* Start from inside the receiver's own callback, after stop: the same thread
 * carries on with the new callback, so two receivers never overlap. */
static int restart_self(mcrx_context *ctx, McrxPacketCallback callback, void *user_data) {
    struct mcrx__ffi *f = ctx->ffi;
    if (!f->stop)
        return already_running(ctx, "mcrx_context_start called from inside the receiver's "
                                    "callback without mcrx_context_stop first");
    if (f->claim == CLAIM_START)
        return already_running(ctx, "another thread's mcrx_context_start is replacing this "
                                    "receiver");
    f->cb = callback;
    f->user = user_data;
    /* A stop from another thread that is already joining wins: this start
     * counts as having happened just before it. */
    if (f->claim == CLAIM_NONE)
        f->stop = 0;
    return 0;
}

int mcrx_context_start(mcrx_context *ctx, McrxPacketCallback callback, void *user_data,
                       uint32_t idle_sleep_ms) {
    struct mcrx__ffi *f;
    int rc;
    (void)idle_sleep_ms; /* readiness-driven: there is no idle sleep */
    if (ctx == NULL || callback == NULL)
        return mcrx__err_set(ctx ? &ctx->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "context and callback are required");
    mcrx__mutex_lock(&ctx->lock);
    mcrx__err_clear(&ctx->err);
    rc = ensure_ffi(ctx);
    if (rc != 0) {
        mcrx__mutex_unlock(&ctx->lock);
        return rc;
    }
    f = ctx->ffi;
    /* Until no thread is left to reap; the state may change while unlocked. */
    while (f->alive) {
        if (mcrx__thread_is_self(f->thread)) {
            rc = restart_self(ctx, callback, user_data);
            mcrx__mutex_unlock(&ctx->lock);
            return rc;
        }
        if (!f->stop && !f->finished) {
            rc = already_running(ctx, "stop the running receiver first (mcrx_context_stop)");
            mcrx__mutex_unlock(&ctx->lock);
            return rc;
        }
        if (f->claim != CLAIM_NONE) {
            mcrx__cond_wait(&f->changed, &ctx->lock);
            continue;
        }
        /* Ended, or stopping after its callback: reap it before a new one. */
        f->claim = CLAIM_START;
        f->stop = 1;
        join_claimed(ctx);
    }
    f->stop = 0;
    f->finished = 0;
    f->cb = callback;
    f->user = user_data;
    mcrx__err_clear(&f->worker_err);
    if (mcrx__thread_create(&f->thread, worker_main, ctx) != 0) {
        rc = mcrx__err_set(&ctx->err, MCRX_ERROR_OUT_OF_MEMORY, 0,
                           "could not create the receiver thread");
    } else {
        f->alive = 1;
        f->gen++;
    }
    mcrx__mutex_unlock(&ctx->lock);
    return rc;
}

int mcrx_context_stop(mcrx_context *ctx) {
    struct mcrx__ffi *f;
    uint64_t gen;
    if (ctx == NULL)
        return mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0, "context is NULL");
    mcrx__mutex_lock(&ctx->lock);
    f = ctx->ffi;
    if (f == NULL || !f->alive) {
        mcrx__mutex_unlock(&ctx->lock);
        return 0;
    }
    f->stop = 1;
    if (mcrx__thread_is_self(f->thread)) {
        mcrx__mutex_unlock(&ctx->lock);
        return 0; /* the loop ends when the callback returns */
    }
    /* The receiver seen now is the one to stop; one started after this call
     * began (by a racing start) is left running. */
    gen = f->gen;
    while (f->alive && f->gen == gen && f->claim != CLAIM_NONE)
        mcrx__cond_wait(&f->changed, &ctx->lock);
    if (f->alive && f->gen == gen) {
        f->claim = CLAIM_STOP;
        join_claimed(ctx);
    }
    mcrx__mutex_unlock(&ctx->lock);
    return 0;
}

void mcrx__ffi_free(mcrx_context *ctx) {
    if (ctx->ffi == NULL)
        return;
    mcrx_context_stop(ctx);
    mcrx__plat_close(ctx->ffi->wake);
    mcrx__cond_destroy(&ctx->ffi->changed);
    free(ctx->ffi);
    ctx->ffi = NULL;
}
