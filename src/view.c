/* The C ABI's packet views: a received datagram as the Rust crate's
 * McrxPacketView, with its addresses as text. */
#include <string.h>

#include "view.h"

static const char *text_or_null(const mcrx_ip *ip, char *buf) {
    return mcrx_ip_format(ip, buf, MCRX_IP_STRLEN) > 0 ? buf : NULL;
}

static const char *nonempty(const char *s) {
    return s[0] != '\0' ? s : NULL;
}

const McrxPacketView *mcrx__view_make(mcrx__view_store *s) {
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

int mcrx__view_recv(mcrx_context *ctx, mcrx__view_store *s, size_t *got, mcrx__err *err) {
    mcrx_subscription *sub = NULL;
    int rc;
    mcrx_datagram_init(&s->dg, s->payload, sizeof s->payload);
    s->dg.meta = &s->meta;
    rc = mcrx__ctx_recv_locked(ctx, &s->dg, 1, got, &sub, err);
    if (rc != 0 || *got == 0 || sub == NULL)
        return rc;
    memcpy(s->group, sub->group_text, sizeof s->group);
    memcpy(s->local, sub->local_text, sizeof s->local);
    memcpy(s->iface, sub->iface_text, sizeof s->iface);
    return 0;
}
