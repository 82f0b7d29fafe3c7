/*
 * The background receiver of the Rust crate's C ABI (mcrx_context_start and
 * mcrx_context_stop): a thread that receives and calls back, readiness-driven,
 * never sleeping on a timer. It attaches to its context
 * (MCRX__ATTACH_RECEIVER), so the context knows nothing of it.
 *
 * Start, stop and free may race from any threads. The receiver thread is
 * joined exactly once: a caller claims the join under the lock (r->claim)
 * and joins without it; others wait on r->changed and look again.
 */
#include <stdlib.h>

#include "view.h"

/* Who is joining the receiver thread. */
enum { CLAIM_NONE, CLAIM_STOP, CLAIM_START };

typedef struct receiver {
    mcrx__view_store store;
    mcrx__cond changed;  /* a claimed join has ended */
    mcrx__thread thread;
    uint64_t gen;        /* receiver threads created so far */
    int alive;           /* the thread exists and has not been joined */
    int finished;        /* its loop has ended */
    int stop;            /* asked to end */
    int claim;           /* CLAIM_*: a caller is joining it without the lock */
    McrxPacketCallback cb;
    void *user;
    mcrx__watch wake;    /* signalled to end a wait */
    mcrx__err worker_err;
} receiver;

static void receiver_free(mcrx_context *ctx, void *data);

static void receiver_forget(void *data, mcrx_subscription *sub) {
    receiver *r = data;
    mcrx__view_forget(&r->store, sub);
}

/* The context's receiver, made on first use (the lock held). */
static receiver *attach(mcrx_context *ctx) {
    mcrx__attachment *a = &ctx->attached[MCRX__ATTACH_RECEIVER];
    receiver *r;
    if (a->data != NULL)
        return a->data;
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        mcrx__err_set(&ctx->err, MCRX_ERROR_OUT_OF_MEMORY, 0, "receive buffers");
        return NULL;
    }
    if (mcrx__view_open(&r->store, &ctx->err) != 0) {
        free(r);
        return NULL;
    }
    r->wake.kind = MCRX__WATCH_WAKEUP;
    if (mcrx__wakeup_open(&r->wake.handle, &ctx->err) != 0) {
        mcrx__view_close(&r->store);
        free(r);
        return NULL;
    }
    mcrx__cond_init(&r->changed);
    a->data = r;
    a->free = receiver_free;
    a->forget = receiver_forget;
    return r;
}

/*
 * The receiver's loop. Under the lock: look at stop and the callback, and
 * when the store is handed out, fill it with one fair batch receive. Without
 * it: a callback per datagram, until the store is empty or its epoch moves
 * (a stop or a restart, from this callback or another thread), which sends
 * the loop back to look under the lock. Datagrams still in the store when it
 * stops are the next receiver's first.
 */
static void *worker_main(void *arg) {
    mcrx_context *ctx = arg;
    receiver *f = ctx->attached[MCRX__ATTACH_RECEIVER].data;
    mcrx__view_store *s = &f->store;

    for (;;) {
        McrxPacketCallback cb;
        void *user;
        const McrxPacketView *v;
        int rc = 0;

        mcrx__mutex_lock(&ctx->lock);
        if (f->stop) {
            mcrx__mutex_unlock(&ctx->lock);
            break;
        }
        mcrx__view_seen(s);
        if (!mcrx__view_pending(s)) {
            size_t got = 0;
            rc = mcrx__view_fill(ctx, s, MCRX__VIEW_SLOTS, &got, &f->worker_err);
        }
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

        if (mcrx__view_pending(s)) {
            while (!mcrx__view_changed(s) && (v = mcrx__view_next(s)) != NULL)
                cb(v, user);
            continue;
        }
        /* Nothing queued: sleep until a socket is readable or stop wakes
         * us. A failed wait shows again in the next receive. */
        {
            mcrx__watch *ready[1];
            mcrx__err ignored;
            int n = 0;
            ctx->poller->ops->wait(ctx->poller, &f->wake, ready, 1, -1, &n, &ignored);
        }
        mcrx__wakeup_drain(f->wake.handle);
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
    receiver *f = ctx->attached[MCRX__ATTACH_RECEIVER].data;
    mcrx__thread t = f->thread;
    mcrx__mutex_unlock(&ctx->lock);
    mcrx__wakeup_signal(f->wake.handle);
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
    receiver *f = ctx->attached[MCRX__ATTACH_RECEIVER].data;
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
    mcrx__view_bump(&f->store); /* the loop takes the new callback */
    return 0;
}

int mcrx_context_start(mcrx_context *ctx, McrxPacketCallback callback, void *user_data,
                       uint32_t idle_sleep_ms) {
    receiver *f;
    int rc = 0;
    (void)idle_sleep_ms; /* readiness-driven: there is no idle sleep */
    if (ctx == NULL || callback == NULL)
        return mcrx__err_set(ctx ? &ctx->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "context and callback are required");
    mcrx__mutex_lock(&ctx->lock);
    mcrx__err_clear(&ctx->err);
    f = attach(ctx);
    if (f == NULL) {
        rc = mcrx__status_of(ctx->err.code);
        mcrx__mutex_unlock(&ctx->lock);
        return rc;
    }
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
    receiver *f;
    uint64_t gen;
    if (ctx == NULL)
        return mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0, "context is NULL");
    mcrx__mutex_lock(&ctx->lock);
    /* A success clears the context's error, as every call does. */
    mcrx__err_clear(&ctx->err);
    f = ctx->attached[MCRX__ATTACH_RECEIVER].data;
    if (f == NULL || !f->alive) {
        mcrx__mutex_unlock(&ctx->lock);
        return 0;
    }
    f->stop = 1;
    if (mcrx__thread_is_self(f->thread)) {
        mcrx__view_bump(&f->store); /* no further callback from this receiver's batch */
        mcrx__mutex_unlock(&ctx->lock);
        return 0; /* the loop ends when the callback returns */
    }
    /* From another thread the receiver finishes the batch it holds (at
     * most MCRX__VIEW_SLOTS callbacks) before it sees stop: nothing it has
     * counted as received is left undelivered. */
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

/* Called by mcrx_context_free, before the subscriptions go. */
static void receiver_free(mcrx_context *ctx, void *data) {
    receiver *r = data;
    mcrx_context_stop(ctx);
    mcrx__view_close(&r->store);
    mcrx__wakeup_close(r->wake.handle);
    mcrx__cond_destroy(&r->changed);
    free(r);
}
