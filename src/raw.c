/*
 * The raw context (include/mcrx/raw.h): a context whose subscriptions use
 * the raw receive backend, behind a type of its own. Lifecycle, duplicate
 * check, fair receive and classify are the context's own code, unchanged;
 * this file converts configs and packets.
 *
 * A raw config becomes a subscription config with the placeholder port
 * RAW_PORT: it passes the shared validation (the port rule is the only one
 * raw configs do not have), takes part in the duplicate check as a
 * constant, and the raw backend never uses it.
 */
#include <stdlib.h>
#include <string.h>

#include "raw_internal.h"
#include "platform/raw.h"

#define RAW_PORT 1

struct McrxRawContext {
    mcrx_context *ctx;
};

/* ---- configs ------------------------------------------------------------------- */

void mcrx_raw_config_init(mcrx_raw_config *cfg) {
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->version = MCRX_RAW_CONFIG_VERSION;
    cfg->interface_index = MCRX_NO_INTERFACE_INDEX;
}

/* The subscription config the context and backend work with. */
void mcrx__raw_to_sub_config(const mcrx_raw_config *raw, mcrx_subscription_config *cfg) {
    mcrx_subscription_config_init(cfg);
    cfg->group = raw->group;
    cfg->source = raw->source;
    cfg->dst_port = RAW_PORT;
    cfg->interface = raw->interface;
    cfg->interface_index = raw->interface_index;
    cfg->rx_options = raw->rx_options & (MCRX_RX_TIMESTAMP | MCRX_RX_DROPS);
    cfg->rcvbuf_bytes = raw->rcvbuf_bytes;
}

mcrx_error mcrx_raw_config_validate(const mcrx_raw_config *cfg) {
    mcrx_subscription_config sub;
    if (cfg == NULL || cfg->version != MCRX_RAW_CONFIG_VERSION) {
        mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                      "raw config is NULL or was not set up by mcrx_raw_config_init");
        return MCRX_ERROR_INVALID_ARGUMENT;
    }
    mcrx__raw_to_sub_config(cfg, &sub);
    return mcrx_subscription_config_validate(&sub);
}

mcrx_error mcrx_raw_config_parse(mcrx_raw_config *cfg, const char *group, const char *source,
                                 const char *interface) {
    mcrx_subscription_config sub;
    mcrx_error e;
    if (cfg == NULL || group == NULL) {
        mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                      "config and group are required");
        return MCRX_ERROR_INVALID_ARGUMENT;
    }
    mcrx_subscription_config_init(&sub);
    e = mcrx_subscription_config_parse(&sub, group, RAW_PORT, source, interface);
    if (e != MCRX_ERROR_NONE)
        return e;
    cfg->group = sub.group;
    cfg->source = sub.source;
    cfg->interface = sub.interface;
    cfg->interface_index = sub.interface_index;
    return MCRX_ERROR_NONE;
}

/* ---- packets ------------------------------------------------------------------- */

void mcrx_raw_packet_init(mcrx_raw_packet *pkt, void *buf, size_t cap) {
    if (pkt == NULL)
        return;
    memset(pkt, 0, sizeof *pkt);
    pkt->buf = buf;
    pkt->cap = cap;
}

/* Checks caller slots; returns 0 or the kind (recorded in err). */
int mcrx__raw_check_slots(const mcrx_raw_packet *pkts, size_t n, mcrx__err *err) {
    size_t i;
    for (i = 0; i < n; i++)
        if (pkts[i].buf == NULL || pkts[i].cap < MCRX_RAW_MIN_SLOT)
            return mcrx__err_set(err, MCRX_ERROR_INVALID_ARGUMENT, 0,
                                 "raw slot %zu has no buffer or less than %d bytes", i,
                                 MCRX_RAW_MIN_SLOT);
    return 0;
}

/* The public fields of a raw packet from what the backend and the core
 * left in a datagram slot (and its metadata, NULL for none). */
void mcrx__raw_fill_packet(mcrx_raw_packet *p, const mcrx_datagram *dg, const mcrx_metadata *m) {
    p->buf = dg->buf;
    p->cap = dg->cap;
    p->len = dg->len;
    p->wire_len = dg->wire_len;
    p->flags = dg->flags & (MCRX_DATAGRAM_TRUNCATED | MCRX_RAW_CSUM_NOT_READY |
                            MCRX_RAW_CSUM_VALID);
    p->ip_protocol = (dg->flags & MCRX__RAW_PROTO_VALID)
                         ? (uint8_t)(dg->flags >> MCRX__RAW_PROTO_SHIFT)
                         : 0;
    p->subscription_id = dg->subscription_id;
    p->source = dg->source;
    p->group = dg->group;
    p->nids = 0;
    if (m != NULL) {
        p->ttl = m->ttl;
        p->ingress_interface_index = m->ingress_interface_index;
        p->valid = m->valid;
        p->rx_timestamp_ns = m->rx_timestamp_ns;
        p->kernel_drops = m->kernel_drops;
    }
}

/* ---- the context --------------------------------------------------------------------- */

mcrx_raw_context *mcrx_raw_context_new(void) {
    mcrx_raw_context *r = calloc(1, sizeof *r);
    if (r == NULL) {
        mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_OUT_OF_MEMORY, 0, "raw context");
        return NULL;
    }
    r->ctx = mcrx__context_new_with(&mcrx__raw_backend, 0);
    if (r->ctx == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void mcrx_raw_context_free(mcrx_raw_context *r) {
    if (r == NULL)
        return;
    mcrx_context_free(r->ctx);
    free(r);
}

const char *mcrx_raw_context_last_error(const mcrx_raw_context *r) {
    return mcrx_context_last_error(r != NULL ? r->ctx : NULL);
}

mcrx_error mcrx_raw_context_last_error_code(const mcrx_raw_context *r) {
    return mcrx_context_last_error_code(r != NULL ? r->ctx : NULL);
}

int mcrx_raw_context_last_os_error(const mcrx_raw_context *r) {
    return mcrx_context_last_os_error(r != NULL ? r->ctx : NULL);
}

static int null_ctx(void) {
    return mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0, "raw context is NULL");
}

int mcrx_raw_context_add(mcrx_raw_context *r, const mcrx_raw_config *cfg, uint64_t *id_out) {
    mcrx_subscription_config sub;
    if (r == NULL)
        return null_ctx();
    if (cfg == NULL || id_out == NULL || cfg->version != MCRX_RAW_CONFIG_VERSION) {
        mcrx__mutex_lock(&r->ctx->lock);
        mcrx__err_set(&r->ctx->err, MCRX_ERROR_INVALID_ARGUMENT, 0,
                      "a raw config set up by mcrx_raw_config_init and id_out are required");
        mcrx__mutex_unlock(&r->ctx->lock);
        return MCRX_STATUS_INVALID_ARGUMENT;
    }
    mcrx__raw_to_sub_config(cfg, &sub);
    return mcrx_context_add(r->ctx, &sub, id_out);
}

int mcrx_raw_context_join_subscription(mcrx_raw_context *r, uint64_t id) {
    return r != NULL ? mcrx_context_join_subscription(r->ctx, id) : null_ctx();
}

int mcrx_raw_context_leave_subscription(mcrx_raw_context *r, uint64_t id) {
    return r != NULL ? mcrx_context_leave_subscription(r->ctx, id) : null_ctx();
}

int mcrx_raw_context_remove_subscription(mcrx_raw_context *r, uint64_t id) {
    return r != NULL ? mcrx_context_remove_subscription(r->ctx, id) : null_ctx();
}

size_t mcrx_raw_context_subscription_count(const mcrx_raw_context *r) {
    return r != NULL ? mcrx_context_subscription_count(r->ctx) : 0;
}

int mcrx_raw_context_contains_subscription(const mcrx_raw_context *r, uint64_t id) {
    return r != NULL ? mcrx_context_contains_subscription(r->ctx, id) : 0;
}

int mcrx_raw_context_subscription_state(const mcrx_raw_context *r, uint64_t id) {
    if (r == NULL)
        return 0;
    return mcrx_subscription_state(mcrx_context_get_subscription(r->ctx, id));
}

mcrx_sock mcrx_raw_context_fd(const mcrx_raw_context *r) {
    return r != NULL ? mcrx_context_fd(r->ctx) : MCRX_SOCK_INVALID;
}

int mcrx_raw_context_wait(mcrx_raw_context *r, int timeout_ms, int *ready_out) {
    return r != NULL ? mcrx_context_wait(r->ctx, timeout_ms, ready_out) : null_ctx();
}

/* ---- receive ------------------------------------------------------------------------ */

/* Receives into pkts through the context (sub NULL) or one subscription, a
 * chunk of datagram slots at a time. */
static int raw_recv(mcrx_raw_context *r, mcrx_subscription *sub, mcrx_raw_packet *pkts, size_t n,
                    size_t *received_out) {
    mcrx_datagram dgs[MCRX__RX_CHUNK];
    mcrx_metadata metas[MCRX__RX_CHUNK];
    size_t filled = 0;
    int rc = 0;
    while (filled < n) {
        size_t want = n - filled, got = 0, i;
        if (want > MCRX__RX_CHUNK)
            want = MCRX__RX_CHUNK;
        for (i = 0; i < want; i++) {
            mcrx_datagram_init(&dgs[i], pkts[filled + i].buf, pkts[filled + i].cap);
            dgs[i].meta = &metas[i];
            pkts[filled + i].ids = NULL; /* the raw context reports no id lists */
        }
        rc = sub != NULL ? mcrx_subscription_recv_batch(sub, dgs, want, &got)
                         : mcrx_context_recv_batch(r->ctx, dgs, want, &got);
        /* Slots may have exchanged buffers: write every slot back. */
        for (i = 0; i < want; i++) {
            mcrx_raw_packet *p = &pkts[filled + i];
            if (i < got) {
                mcrx__raw_fill_packet(p, &dgs[i], dgs[i].meta);
            } else {
                p->buf = dgs[i].buf;
                p->cap = dgs[i].cap;
            }
        }
        filled += got;
        if (rc != 0 && filled > 0) {
            /* Datagrams already in the slots are delivered now; the failure
             * is the next call's, as everywhere else in the library. */
            if (sub != NULL) {
                mcrx__err_copy(&sub->deferred, &sub->err);
                mcrx__err_clear(&sub->err);
            } else {
                mcrx__mutex_lock(&r->ctx->lock);
                mcrx__err_copy(&r->ctx->deferred, &r->ctx->err);
                mcrx__err_clear(&r->ctx->err);
                mcrx__mutex_unlock(&r->ctx->lock);
            }
            rc = 0;
        }
        if (rc != 0 || got < want)
            break;
    }
    *received_out = filled;
    return rc;
}

static int raw_recv_entry(mcrx_raw_context *r, int one, uint64_t id, mcrx_raw_packet *pkts,
                          size_t n, size_t *received_out) {
    mcrx_subscription *sub = NULL;
    int rc;
    if (received_out != NULL)
        *received_out = 0;
    if (r == NULL)
        return null_ctx();
    mcrx__mutex_lock(&r->ctx->lock);
    mcrx__err_clear(&r->ctx->err);
    rc = pkts == NULL || received_out == NULL
             ? mcrx__err_set(&r->ctx->err, MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "packets and received_out are required")
             : mcrx__raw_check_slots(pkts, n, &r->ctx->err);
    mcrx__mutex_unlock(&r->ctx->lock);
    if (rc != 0)
        return rc;
    if (one) {
        sub = mcrx_context_get_subscription(r->ctx, id);
        if (sub == NULL) {
            mcrx__mutex_lock(&r->ctx->lock);
            rc = mcrx__err_set(&r->ctx->err, MCRX_ERROR_SUBSCRIPTION_NOT_FOUND, 0, "id %llu",
                               (unsigned long long)id);
            mcrx__mutex_unlock(&r->ctx->lock);
            return rc;
        }
    }
    rc = raw_recv(r, sub, pkts, n, received_out);
    if (sub != NULL && rc != 0) {
        /* The subscription's failure is the raw context's last error. */
        mcrx__mutex_lock(&r->ctx->lock);
        mcrx__err_copy(&r->ctx->err, &sub->err);
        mcrx__mutex_unlock(&r->ctx->lock);
    }
    return rc;
}

int mcrx_raw_context_recv_batch(mcrx_raw_context *r, mcrx_raw_packet *pkts, size_t n,
                                size_t *received_out) {
    return raw_recv_entry(r, 0, 0, pkts, n, received_out);
}

int mcrx_raw_context_recv(mcrx_raw_context *r, mcrx_raw_packet *pkt, size_t *received_out) {
    return raw_recv_entry(r, 0, 0, pkt, 1, received_out);
}

int mcrx_raw_context_recv_subscription(mcrx_raw_context *r, uint64_t id, mcrx_raw_packet *pkts,
                                       size_t n, size_t *received_out) {
    return raw_recv_entry(r, 1, id, pkts, n, received_out);
}

int mcrx_raw_context_metrics_get(mcrx_raw_context *r, mcrx_raw_metrics *out) {
    mcrx_context_metrics cm;
    size_t i;
    int rc;
    if (r == NULL)
        return null_ctx();
    if (out == NULL) {
        mcrx__mutex_lock(&r->ctx->lock);
        rc = mcrx__err_set(&r->ctx->err, MCRX_ERROR_INVALID_ARGUMENT, 0, "out is required");
        mcrx__mutex_unlock(&r->ctx->lock);
        return rc;
    }
    rc = mcrx_context_metrics_get(r->ctx, &cm);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof *out);
    out->active_subscriptions = cm.active_subscriptions;
    out->joined_subscriptions = cm.joined_subscriptions;
    out->packets_received = cm.total_packets_received;
    out->bytes_received = cm.total_bytes_received;
    out->discarded = cm.total_discarded;
    out->truncated = cm.total_truncated;
    mcrx__mutex_lock(&r->ctx->lock);
    for (i = 0; i < r->ctx->nsubs; i++)
        out->kernel_drops += mcrx__raw_endpoint_drops(&r->ctx->subs[i]->ep);
    mcrx__mutex_unlock(&r->ctx->lock);
    return 0;
}
