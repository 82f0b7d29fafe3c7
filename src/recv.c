/*
 * The receive path: from a socket into the caller's slots, through the
 * isolation filter, fetching ahead for one-datagram calls, and fair
 * scheduling across a context's subscriptions. Nothing here allocates per
 * datagram: a stage is allocated at most once per context in steady state
 * (the context keeps emptied ones as spares).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Counting on the receive path. Builds with MCRX_COUNTERS=OFF compile it out,
 * which is only there so the benchmark can show what counting costs. */
#ifndef MCRX_NO_COUNTERS
#define COUNT(stmt) stmt
#else
#define COUNT(stmt) ((void)0)
#endif

/* ---- isolation filter -------------------------------------------------------- */

/*
 * Returns -1 to keep the datagram, else the discard reason. The kernel already
 * filters (bound to the group and device, IP_MULTICAST_ALL off, source
 * filters); this check makes "never a foreign datagram" hold even where it
 * does not: caller sockets bound to the wildcard, link-scope groups without a
 * known interface (those always carry pktinfo), other operating systems.
 */
/* An interface set's socket is bound to no device and gets the group from
 * every link where anyone joined it (IPv6 checks no interface): keep only
 * what came in where this subscription's membership is in place now. */
static int joined_on(const mcrx_subscription *sub, const mcrx__rxinfo *info) {
    size_t i;
    if (!(info->valid & MCRX_META_INGRESS_IF))
        return 0;
    for (i = 0; i < sub->nifs; i++)
        if (sub->ifs[i].joined && sub->ifs[i].index == info->ifindex)
            return 1;
    return 0;
}

static int classify(const mcrx_subscription *sub, const mcrx_datagram *dg,
                    const mcrx__rxinfo *info) {
    if (info->valid & MCRX_META_DESTINATION) {
        if (!mcrx_ip_equal(&info->dst, &sub->cfg.group))
            return MCRX__DISCARD_OTHER_GROUP;
    } else if (!sub->ep.isolated) {
        return MCRX__DISCARD_NO_PKTINFO;
    }
    if (!mcrx__filter_accepts(&sub->filter, &dg->source))
        return MCRX__DISCARD_OTHER_SOURCE;
    if (sub->ep.ifindex != 0 && (info->valid & MCRX_META_INGRESS_IF) &&
        info->ifindex != sub->ep.ifindex)
        return MCRX__DISCARD_OTHER_INTERFACE;
    if (sub->ifs != NULL && !joined_on(sub, info))
        return MCRX__DISCARD_OTHER_INTERFACE;
    return -1;
}

static void fill_meta(const mcrx_subscription *sub, mcrx_metadata *m, const mcrx__rxinfo *info) {
    memset(m, 0, sizeof *m);
    m->socket_local_ip = sub->ep.local_ip;
    m->socket_local_port = sub->ep.local_port;
    m->configured_interface = sub->cfg.interface;
    if (sub->cfg.interface_index != MCRX_NO_INTERFACE_INDEX)
        m->configured_interface_index = (uint32_t)sub->cfg.interface_index;
    m->valid = info->valid;
    /* The kernel sends the drop count only once it is non-zero. */
    if (sub->cfg.rx_options & MCRX_RX_DROPS)
        m->valid |= MCRX_META_DROPS;
    m->destination_local_ip = info->dst;
    m->ingress_interface_index = info->ifindex;
    m->ttl = info->ttl;
    m->rx_timestamp_ns = info->ts_ns;
    m->kernel_drops = info->drops;
}

static void swap_slots(mcrx_datagram *a, mcrx_datagram *b) {
    mcrx_datagram t = *a;
    *a = *b;
    *b = t;
}

/* A backend that owns its memory (MCRX__CAP_VIEWS) lends views valid until
 * its next receive call: copy them into the caller's slots here, with the
 * same truncation rule as a copying backend. */
static mcrx_error copy_views(mcrx__endpoint *ep, mcrx_datagram *dgs, mcrx__rxinfo *info,
                             size_t n, size_t *got, mcrx__err *err) {
    mcrx__rxview views[MCRX__RX_CHUNK];
    size_t i;
    if (ep->be->recv_views(ep, views, n, got, err) != 0)
        return err->code;
    for (i = 0; i < *got; i++) {
        mcrx_datagram *dg = &dgs[i];
        size_t len = views[i].len < dg->cap ? views[i].len : dg->cap;
        if (len > 0)
            memcpy(dg->buf, views[i].data, len);
        dg->len = len;
        dg->wire_len = views[i].wire_len;
        dg->flags = views[i].flags | (views[i].wire_len > len ? MCRX_DATAGRAM_TRUNCATED : 0);
        dg->source = views[i].source;
        dg->source_port = views[i].source_port;
        info[i] = views[i].info;
    }
    return 0;
}

static mcrx_error backend_recv(mcrx__endpoint *ep, mcrx_datagram *dgs, mcrx__rxinfo *info,
                               size_t n, size_t *got, mcrx__err *err) {
    if (ep->be->recv != NULL)
        return ep->be->recv(ep, dgs, info, n, got, err);
    return copy_views(ep, dgs, info, n, got, err);
}

/* ---- fetching ahead ------------------------------------------------------------ */

/*
 * Why: a one-datagram call costs a system call per datagram, a copy far
 * less. When the previous one-datagram fetch of a subscription found data,
 * the next asks the backend for its caller's slot and up to
 * MCRX__STAGE_SLOTS more in one call that never waits (recvmmsg with
 * MSG_DONTWAIT returns what is queued), and the following calls hand those
 * out. Readiness stays true: the context's staged_watch is readable while
 * any of its subscriptions holds staged datagrams, the waits look at the
 * stages first, and a caller that asks for a raw socket turns staging off
 * (mcrx_subscription_sock for its subscription, mcrx_context_sockets for
 * the context).
 */

static int may_stage(const mcrx_subscription *sub) {
    return sub->ctx != NULL && sub->ctx->stage_on && !sub->no_stage;
}

static mcrx__stage *stage_get(mcrx_context *ctx) {
    mcrx__stage *st = ctx->spares;
    if (st != NULL) {
        ctx->spares = st->next;
        ctx->nspares--;
        return st;
    }
    return malloc(sizeof *st); /* NULL: no staging this time, not a failure */
}

static void stage_put(mcrx_context *ctx, mcrx__stage *st) {
    if (ctx != NULL && ctx->nspares < MCRX__STAGE_SPARES) {
        st->next = ctx->spares;
        ctx->spares = st;
        ctx->nspares++;
        return;
    }
    free(st);
}

void mcrx__stage_free_spares(mcrx_context *ctx) {
    while (ctx->spares != NULL) {
        mcrx__stage *st = ctx->spares;
        ctx->spares = st->next;
        free(st);
    }
    ctx->nspares = 0;
}

/* The context's staged_watch stops being readable once nothing is staged.
 * Done lazily (when a look finds nothing), not each time a stage empties:
 * a busy stream empties and refills its stage every few datagrams. */
static void staged_quiet(mcrx_context *ctx) {
    if (ctx->staged_signalled && ctx->nstaged == 0) {
        mcrx__wakeup_drain(ctx->staged_watch.handle);
        ctx->staged_signalled = 0;
    }
}

static void staged_link(mcrx_subscription *sub) {
    mcrx_context *ctx = sub->ctx;
    sub->staged_prev = NULL;
    sub->staged_next = ctx->staged_head;
    if (ctx->staged_head != NULL)
        ctx->staged_head->staged_prev = sub;
    ctx->staged_head = sub;
    sub->staged_linked = 1;
    ctx->nstaged++;
    if (!ctx->staged_signalled) {
        mcrx__wakeup_signal(ctx->staged_watch.handle);
        ctx->staged_signalled = 1;
    }
}

static void staged_unlink(mcrx_subscription *sub) {
    mcrx_context *ctx = sub->ctx;
    if (!sub->staged_linked)
        return;
    if (sub->staged_prev != NULL)
        sub->staged_prev->staged_next = sub->staged_next;
    else
        ctx->staged_head = sub->staged_next;
    if (sub->staged_next != NULL)
        sub->staged_next->staged_prev = sub->staged_prev;
    sub->staged_prev = sub->staged_next = NULL;
    sub->staged_linked = 0;
    ctx->nstaged--;
}

void mcrx__stage_forget(mcrx_subscription *sub, int keep) {
    if (sub->ctx != NULL)
        staged_unlink(sub);
    if (!keep && sub->stage != NULL) {
        stage_put(sub->ctx, sub->stage);
        sub->stage = NULL;
    }
    sub->streak = 0;
}

/* Hands out up to n staged datagrams, with the copying backends' truncation
 * rule against each caller slot. */
static size_t stage_take(mcrx_subscription *sub, mcrx_datagram *dgs, mcrx__rxinfo *info,
                         size_t n) {
    mcrx__stage *st = sub->stage;
    size_t i;
    for (i = 0; i < n && st->len > 0; i++) {
        const mcrx_datagram *s = &st->dg[st->head];
        mcrx_datagram *d = &dgs[i];
        size_t len = s->len < d->cap ? s->len : d->cap;
        if (len > 0)
            memcpy(d->buf, s->buf, len);
        d->len = len;
        d->wire_len = s->wire_len;
        d->flags = s->flags | (s->wire_len > len ? MCRX_DATAGRAM_TRUNCATED : 0);
        d->source = s->source;
        d->source_port = s->source_port;
        info[i] = st->info[st->head];
        st->head++;
        st->len--;
    }
    if (st->len == 0) {
        if (sub->ctx != NULL)
            staged_unlink(sub);
        stage_put(sub->ctx, st);
        sub->stage = NULL;
    }
    return i;
}

/* The caller's one slot and up to MCRX__STAGE_SLOTS staged ones, as large
 * as the caller's, in one backend call. *fetched 0: not possible here (a
 * slot too large to stage several, no memory), receive directly. */
static mcrx_error fetch_ahead(mcrx_subscription *sub, mcrx_datagram *dg, mcrx__rxinfo *info,
                              size_t *got, int *fetched, mcrx__err *err) {
    mcrx_datagram tmp[MCRX__STAGE_SLOTS + 1];
    mcrx__rxinfo tinfo[MCRX__STAGE_SLOTS + 1];
    size_t cap = dg->cap, nslots, k = 0, i;
    mcrx__stage *st;
    mcrx_error rc;

    *fetched = 0;
    nslots = cap == 0 ? 0 : MCRX__STAGE_BYTES / cap;
    if (nslots > MCRX__STAGE_SLOTS)
        nslots = MCRX__STAGE_SLOTS;
    if (nslots < 2)
        return 0;
    st = stage_get(sub->ctx);
    if (st == NULL)
        return 0;
    *fetched = 1;
    tmp[0] = *dg;
    for (i = 1; i <= nslots; i++) {
        memset(&tmp[i], 0, sizeof tmp[i]);
        tmp[i].buf = st->data + (i - 1) * cap;
        tmp[i].cap = cap;
    }
    memset(tinfo, 0, (nslots + 1) * sizeof tinfo[0]);
    rc = backend_recv(&sub->ep, tmp, tinfo, nslots + 1, &k, err);
    if (rc != 0 || k <= 1) {
        stage_put(sub->ctx, st);
        if (rc != 0)
            return rc;
    } else {
        memcpy(st->dg, &tmp[1], (k - 1) * sizeof tmp[0]);
        memcpy(st->info, &tinfo[1], (k - 1) * sizeof tinfo[0]);
        st->head = 0;
        st->len = k - 1;
        sub->stage = st;
        staged_link(sub);
    }
    if (k > 0) {
        *dg = tmp[0];
        *info = tinfo[0];
    }
    *got = k > 0;
    return 0;
}

/* Up to want datagrams of sub, staged ones first. *staged 1: they came from
 * the stage (the socket may hold more). single: a one-datagram call, the
 * only kind that fetches ahead (batch callers already get one system call
 * per batch). */
static mcrx_error sub_fetch(mcrx_subscription *sub, mcrx_datagram *dgs, mcrx__rxinfo *info,
                            size_t want, int single, size_t *got, int *staged, mcrx__err *err) {
    mcrx_error rc;
    int fetched = 0;
    *staged = 0;
    if (sub->stage != NULL) {
        *got = stage_take(sub, dgs, info, want);
        *staged = 1;
        sub->streak = 1;
        return 0;
    }
    if (single && sub->streak && may_stage(sub)) {
        rc = fetch_ahead(sub, dgs, info, got, &fetched, err);
        if (rc != 0)
            return rc;
    }
    if (!fetched) {
        rc = backend_recv(&sub->ep, dgs, info, want, got, err);
        if (rc != 0)
            return rc;
    }
    if (single)
        sub->streak = *got > 0;
    if (*got == 0 && sub->ctx != NULL)
        staged_quiet(sub->ctx);
    return 0;
}

/*
 * Receives up to n datagrams of sub into dgs, keeping only its own. Stops when
 * the socket is empty, n are filled, or the discard budget is spent.
 */
int mcrx__sub_recv(mcrx_subscription *sub, mcrx_datagram *dgs, size_t n, int single,
                   size_t *got, mcrx__err *err) {
    mcrx__rxinfo info[MCRX__RX_CHUNK];
    size_t filled = 0, discards = 0;

    while (filled < n) {
        size_t want = n - filled, k, i, kept = 0;
        int staged;
        if (want > MCRX__RX_CHUNK)
            want = MCRX__RX_CHUNK;
        memset(info, 0, want * sizeof info[0]);
        if (sub_fetch(sub, dgs + filled, info, want, single, &k, &staged, err) != 0) {
            char who[40];
            COUNT(sub->n.errors++);
            *got = filled;
            snprintf(who, sizeof who, "subscription %llu", (unsigned long long)sub->id);
            mcrx__err_prefix(err, who);
            return mcrx__status_of(err->code);
        }
        for (i = 0; i < k; i++) {
            mcrx_datagram *dg = &dgs[filled + i];
            int reason = classify(sub, dg, &info[i]);
            if (reason >= 0) {
                COUNT(sub->n.discarded[reason]++);
                discards++;
                continue;
            }
            dg->subscription_id = sub->id;
            dg->group = sub->cfg.group;
            dg->dst_port = sub->cfg.dst_port;
            if (dg->meta != NULL)
                fill_meta(sub, dg->meta, &info[i]);
            COUNT(sub->n.packets++);
            COUNT(sub->n.bytes += dg->len);
            COUNT(sub->n.truncated += (dg->flags & MCRX_DATAGRAM_TRUNCATED) != 0);
            if (kept != i)
                swap_slots(&dgs[filled + kept], dg);
            kept++;
        }
        filled += kept;
        if ((k < want && !staged) || discards >= MCRX__DISCARD_BUDGET)
            break;
    }
    *got = filled;
#ifndef MCRX_NO_COUNTERS
    if (filled > 0) {
        /* Once per call, not per datagram: the clock read stays off the
         * per-datagram path. */
        const mcrx_datagram *last = &dgs[filled - 1];
        sub->last_len = (uint32_t)last->len;
        sub->last_port = last->source_port;
        sub->last_source = last->source;
        sub->last_ns = mcrx__wall_ns();
    }
#endif
    return 0;
}

static int check_recv_args(const void *h, const mcrx_datagram *dgs, size_t n,
                           const size_t *got, mcrx__err *err) {
    size_t i;
    if (h == NULL || dgs == NULL || got == NULL)
        return mcrx__err_set(err, MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "handle, datagram and received_out are required");
    for (i = 0; i < n; i++)
        if (dgs[i].buf == NULL && dgs[i].cap != 0)
            return mcrx__err_set(err, MCRX_ERROR_INVALID_ARGUMENT, 0,
                                 "datagram slot %zu has no buffer", i);
    return 0;
}

/* ---- one subscription ------------------------------------------------------------ */

int mcrx_subscription_recv_batch(mcrx_subscription *sub, mcrx_datagram *dgs, size_t n,
                                 size_t *received_out) {
    mcrx__err *err = sub != NULL ? &sub->err : mcrx__tls_err();
    int rc;
    if (received_out != NULL)
        *received_out = 0;
    rc = check_recv_args(sub, dgs, n, received_out, err);
    if (rc != 0)
        return rc;
    if (sub->state != MCRX_STATE_JOINED)
        return mcrx__err_set(err, MCRX_ERROR_SUBSCRIPTION_NOT_JOINED, 0, "id %llu",
                             (unsigned long long)sub->id);
    if (sub->deferred.code != MCRX_ERROR_NONE) {
        rc = mcrx__err_copy(err, &sub->deferred);
        mcrx__err_clear(&sub->deferred);
        return rc;
    }
    mcrx__err_clear(err);
    rc = mcrx__sub_recv(sub, dgs, n, n == 1, received_out, err);
    if (rc != 0 && *received_out > 0) {
        /* As the context does: deliver what we have (a caller drops slots
         * on an error status), report the failure on the next call. */
        mcrx__err_copy(&sub->deferred, err);
        mcrx__err_clear(err);
        return 0;
    }
    if (rc == 0 && *received_out == 0)
        COUNT(sub->n.would_block++);
    return rc;
}

int mcrx_subscription_recv(mcrx_subscription *sub, mcrx_datagram *dg, size_t *received_out) {
    return mcrx_subscription_recv_batch(sub, dg, 1, received_out);
}

/* ---- the context's fair queue ----------------------------------------------------- */

static void ready_push(mcrx_context *ctx, mcrx_subscription *sub) {
    /* ready_cap >= number of joined subscriptions, and each is queued once. */
    size_t tail = (ctx->ready_head + ctx->ready_len) % ctx->ready_cap;
    ctx->ready[tail] = sub;
    ctx->ready_len++;
}

static mcrx_subscription *ready_pop(mcrx_context *ctx) {
    mcrx_subscription *sub = ctx->ready[ctx->ready_head];
    ctx->ready_head = (ctx->ready_head + 1) % ctx->ready_cap;
    ctx->ready_len--;
    return sub;
}

void mcrx__ready_forget(mcrx_context *ctx, mcrx_subscription *sub) {
    size_t i, kept = 0, len = ctx->ready_len;
    for (i = 0; i < len; i++) {
        mcrx_subscription *s = ctx->ready[(ctx->ready_head + i) % ctx->ready_cap];
        if (s != sub)
            ctx->ready[(ctx->ready_head + kept++) % ctx->ready_cap] = s;
    }
    ctx->ready_len = kept;
}

/*
 * Asks the readiness set which subscriptions have data, adds those holding
 * staged datagrams, and queues them in id order, so that turns are taken in
 * a stable order. Only called when the queue is empty, so no subscription
 * can be queued twice.
 */
static int refill(mcrx_context *ctx, mcrx__err *err) {
    mcrx__watch *ready[64];
    mcrx_subscription *subs[128];
    mcrx_subscription *s;
    int n = 0, i, r = 0;
    if (ctx->poller->ops->wait(ctx->poller, NULL, ready, 64, 0, &n, err) != 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (ready[i]->kind == MCRX__WATCH_IFMON)
            mcrx__ifset_changed(ctx); /* links changed: rejoin where needed, under the lock */
        else if (ready[i]->kind == MCRX__WATCH_SUBSCRIPTION)
            subs[r++] = (mcrx_subscription *)(void *)((char *)ready[i] -
                                                      offsetof(mcrx_subscription, watch));
    }
    /* Staged datagrams are not on their sockets' readiness. The rest of a
     * long list waits for the next refill: they stay listed. */
    for (s = ctx->staged_head; s != NULL && r < 128; s = s->staged_next) {
        for (i = 0; i < r && subs[i] != s; i++)
            ;
        if (i == r)
            subs[r++] = s;
    }
    if (ctx->nstaged == 0)
        staged_quiet(ctx);
    for (i = 1; i < r; i++) { /* insertion sort: r <= 128 */
        int j;
        s = subs[i];
        for (j = i; j > 0 && subs[j - 1]->id > s->id; j--)
            subs[j] = subs[j - 1];
        subs[j] = s;
    }
    for (i = 0; i < r; i++)
        ready_push(ctx, subs[i]);
    return r;
}

#define TURN MCRX__TURN
#define MAX_REFILLS MCRX__MAX_REFILLS

int mcrx__ctx_recv_locked(mcrx_context *ctx, mcrx_datagram *dgs, size_t n, size_t *got,
                          mcrx_subscription **who, mcrx__err *err) {
    size_t filled = 0;
    int refills = 0;

    if (ctx->deferred.code != MCRX_ERROR_NONE) {
        int rc = mcrx__err_copy(err, &ctx->deferred);
        mcrx__err_clear(&ctx->deferred);
        return rc;
    }
    while (filled < n) {
        mcrx_subscription *sub;
        size_t share = n - filled, k = 0;
        int rc;
        if (ctx->ready_len == 0) {
            if (refills++ == MAX_REFILLS)
                break;
            rc = refill(ctx, err);
            if (rc < 0) {
                *got = filled;
                if (filled > 0) {
                    mcrx__err_clear(err);
                    return 0;
                }
                mcrx__err_prefix(err, "readiness wait");
                return mcrx__status_of(err->code);
            }
            if (rc == 0)
                break;
        }
        sub = ready_pop(ctx);
        if (share > TURN)
            share = TURN;
        rc = mcrx__sub_recv(sub, dgs + filled, share, n == 1, &k, err);
        if (who != NULL) {
            size_t i;
            for (i = 0; i < k; i++)
                who[filled + i] = sub;
        }
        filled += k;
        if (rc != 0) {
            *got = filled;
            if (filled == 0)
                return rc;
            /* Deliver what we have; report the failure on the next call. */
            mcrx__err_copy(&ctx->deferred, err);
            mcrx__err_clear(err);
            return 0;
        }
        if (k == share)
            ready_push(ctx, sub); /* may hold more: back of the queue */
    }
    *got = filled;
    return 0;
}

static int context_recv(mcrx_context *ctx, mcrx_datagram *dgs, size_t n, size_t *received_out,
                        int batch) {
    int rc;
    if (received_out != NULL)
        *received_out = 0;
    rc = check_recv_args(ctx, dgs, n, received_out, ctx != NULL ? &ctx->err : mcrx__tls_err());
    if (rc != 0)
        return rc;
    mcrx__mutex_lock(&ctx->lock);
    mcrx__err_clear(&ctx->err);
    rc = mcrx__ctx_recv_locked(ctx, dgs, n, received_out, NULL, &ctx->err);
    if (rc == 0 && *received_out == 0)
        COUNT(ctx->would_block++);
    if (batch) {
        COUNT(ctx->batch_calls++);
        COUNT(ctx->batch_packets += *received_out);
    }
    mcrx__mutex_unlock(&ctx->lock);
    return rc;
}

int mcrx_context_recv_batch(mcrx_context *ctx, mcrx_datagram *dgs, size_t n,
                            size_t *received_out) {
    return context_recv(ctx, dgs, n, received_out, 1);
}

int mcrx_context_recv(mcrx_context *ctx, mcrx_datagram *dg, size_t *received_out) {
    return context_recv(ctx, dg, 1, received_out, 0);
}

/* ---- blocking waits ------------------------------------------------------------------ */

int mcrx_context_wait(mcrx_context *ctx, int timeout_ms, int *ready_out) {
    mcrx__err failure;
    int held, rc;
    if (ctx == NULL || ready_out == NULL)
        return mcrx__err_set(ctx ? &ctx->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "context and ready_out are required");
    *ready_out = 0;
    /* The readiness fd tells the truth for every joined socket and for
     * staged datagrams; an error held back for the next receive is not on
     * it, and staged datagrams are seen here first. The lock covers
     * the context's state, not the wait, so other threads carry on. */
    mcrx__mutex_lock(&ctx->lock);
    mcrx__err_clear(&ctx->err);
    held = ctx->deferred.code != MCRX_ERROR_NONE || ctx->nstaged > 0;
    mcrx__mutex_unlock(&ctx->lock);
    if (held) {
        *ready_out = 1;
        return 0;
    }
    {
        mcrx__watch *ready[1];
        int n = 0;
        rc = ctx->poller->ops->wait(ctx->poller, NULL, ready, 1, timeout_ms, &n, &failure);
        *ready_out = n > 0;
    }
    if (rc != 0) {
        mcrx__mutex_lock(&ctx->lock);
        rc = mcrx__err_copy(&ctx->err, &failure);
        mcrx__mutex_unlock(&ctx->lock);
    }
    return rc;
}

int mcrx_subscription_wait(mcrx_subscription *sub, int timeout_ms, int *ready_out) {
    if (sub == NULL || ready_out == NULL)
        return mcrx__err_set(sub ? &sub->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "subscription and ready_out are required");
    *ready_out = 0;
    mcrx__err_clear(&sub->err);
    if (sub->deferred.code != MCRX_ERROR_NONE || sub->stage != NULL) {
        /* the held failure, or datagrams fetched ahead, are what the next
         * receive reports */
        *ready_out = 1;
        return 0;
    }
    return mcrx__status_of(mcrx__wait_handle(sub->watch.handle, timeout_ms, ready_out, &sub->err));
}
