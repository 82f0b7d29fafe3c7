/* The C ABI's packet views: received datagrams as the Rust crate's
 * McrxPacketView, with their addresses as text. One batch receive fills a
 * store; the views are then made one by one, the subscription's texts copied
 * once per run and the sender's formatted only when it changes. */
#include <stdlib.h>
#include <string.h>

#include "view.h"

#ifndef MCRX_NO_COUNTERS
#define COUNT(stmt) stmt
#else
#define COUNT(stmt) ((void)0)
#endif

int mcrx__view_open(mcrx__view_store *s, mcrx__err *err) {
    size_t i;
    /* Address space, not memory: the kernel writes only the pages a
     * datagram lands in, so small datagrams make one page per slot. */
    s->arena = malloc((size_t)MCRX__VIEW_SLOTS * MCRX__VIEW_STRIDE);
    if (s->arena == NULL)
        return mcrx__err_set(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "receive buffers");
    for (i = 0; i < MCRX__VIEW_SLOTS; i++)
        atomic_init(&s->state[i], MCRX__SLOT_TAKEN);
    atomic_init(&s->epoch, 0u);
    s->count = s->next = 0;
    return 0;
}

void mcrx__view_close(mcrx__view_store *s) {
    free(s->arena);
    s->arena = NULL;
}

static void copy_texts(mcrx__view_run *r, mcrx_subscription *sub) {
    r->sub = sub;
    memcpy(r->group, sub->group_text, sizeof r->group);
    memcpy(r->local, sub->local_text, sizeof r->local);
    memcpy(r->iface, sub->iface_text, sizeof r->iface);
}

int mcrx__view_fill(mcrx_context *ctx, mcrx__view_store *s, size_t n, size_t *got,
                    mcrx__err *err) {
    mcrx_subscription *who[MCRX__VIEW_SLOTS];
    size_t i, runs = 0;
    int rc;
    if (n > MCRX__VIEW_SLOTS)
        n = MCRX__VIEW_SLOTS;
    for (i = 0; i < n; i++) {
        mcrx_datagram_init(&s->dgs[i], s->arena + i * (size_t)MCRX__VIEW_STRIDE,
                           MCRX_MAX_DATAGRAM);
        s->dgs[i].meta = &s->meta[i];
    }
    s->count = s->next = 0;
    rc = mcrx__ctx_recv_locked(ctx, s->dgs, n, got, who, err);
    for (i = 0; i < *got; i++) {
        if (i == 0 || who[i] != who[i - 1])
            copy_texts(&s->runs[runs++], who[i]);
        s->run_of[i] = (uint8_t)(runs - 1);
        atomic_store_explicit(&s->state[i], MCRX__SLOT_PENDING, memory_order_relaxed);
    }
    s->count = *got;
    return rc;
}

int mcrx__view_pending(const mcrx__view_store *s) {
    return s->next < s->count;
}

void mcrx__view_forget(mcrx__view_store *s, mcrx_subscription *sub) {
    size_t i;
    for (i = 0; i < s->count; i++) {
        unsigned char want = MCRX__SLOT_PENDING;
        const mcrx_datagram *dg = &s->dgs[i];
        if (s->runs[s->run_of[i]].sub != sub ||
            !atomic_compare_exchange_strong(&s->state[i], &want, MCRX__SLOT_DROPPED))
            continue;
        /* Counted when received; it never reaches the caller. */
        COUNT(sub->n.packets--);
        COUNT(sub->n.bytes -= dg->len);
        COUNT(sub->n.truncated -= (dg->flags & MCRX_DATAGRAM_TRUNCATED) != 0);
        (void)dg;
    }
}

static const char *source_text(mcrx__view_store *s, const mcrx_ip *ip) {
    const mcrx_ip *c = &s->source_ip;
    if (!s->source_cached || c->family != ip->family || c->scope_id != ip->scope_id ||
        memcmp(c->bytes, ip->bytes, sizeof c->bytes) != 0) {
        s->source_ip = *ip;
        s->source_cached = 1;
        s->source_text = mcrx_ip_format(ip, s->source, sizeof s->source) > 0 ? s->source : NULL;
    }
    return s->source_text;
}

static const char *nonempty(const char *s) {
    return s[0] != '\0' ? s : NULL;
}

const McrxPacketView *mcrx__view_next(mcrx__view_store *s) {
    while (s->next < s->count) {
        size_t i = s->next++;
        unsigned char want = MCRX__SLOT_PENDING;
        const mcrx_datagram *dg = &s->dgs[i];
        const mcrx_metadata *m = dg->meta;
        const mcrx__view_run *r = &s->runs[s->run_of[i]];
        McrxPacketView *v = &s->view;
        if (!atomic_compare_exchange_strong(&s->state[i], &want, MCRX__SLOT_TAKEN))
            continue; /* its subscription left */
        v->payload = dg->buf;
        v->payload_len = dg->len;
        v->subscription_id = dg->subscription_id;
        v->source_ip = source_text(s, &dg->source);
        v->source_port = dg->source_port;
        v->group_ip = nonempty(r->group);
        v->dst_port = dg->dst_port;
        v->socket_local_ip = nonempty(r->local);
        v->socket_local_port = m->socket_local_port;
        v->configured_interface_ip = nonempty(r->iface);
        v->configured_interface_index = m->configured_interface_index;
        v->has_configured_interface_index = m->configured_interface_index != 0;
        v->destination_local_ip = NULL;
        if ((m->valid & MCRX_META_DESTINATION) && mcrx_ip_equal(&m->destination_local_ip, &dg->group))
            v->destination_local_ip = v->group_ip; /* the usual case: no formatting */
        else if ((m->valid & MCRX_META_DESTINATION) &&
                 mcrx_ip_format(&m->destination_local_ip, s->dest, sizeof s->dest) > 0)
            v->destination_local_ip = s->dest;
        v->ingress_interface_index = 0;
        v->has_ingress_interface_index = 0;
        if (m->valid & MCRX_META_INGRESS_IF) {
            v->ingress_interface_index = m->ingress_interface_index;
            v->has_ingress_interface_index = 1;
        }
        return v;
    }
    return NULL;
}
