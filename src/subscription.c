/* A subscription: its config, socket, state and accessors. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int mcrx__sub_new(uint64_t id, const mcrx_subscription_config *cfg, mcrx_sock sock,
                  const mcrx__sockinfo *info, mcrx_subscription **out, mcrx__err *err) {
    mcrx_subscription *sub = calloc(1, sizeof *sub);
    int rc;
    if (sub == NULL)
        return mcrx__err_set(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "subscription");
    sub->id = id;
    sub->cfg = *cfg;
    sub->sock = sock;
    sub->state = MCRX_STATE_BOUND;
    sub->ssm = mcrx_subscription_config_is_ssm(cfg);
    sub->ifindex = info->ifindex;
    sub->isolated = info->isolated;
    sub->cmsgs = info->cmsgs;
    rc = mcrx__plat_local_addr(sock, &sub->local_ip, &sub->local_port, err);
    if (rc != 0) {
        free(sub);
        return rc;
    }
    mcrx_ip_format(&cfg->group, sub->group_text, sizeof sub->group_text);
    mcrx_ip_format(&sub->local_ip, sub->local_text, sizeof sub->local_text);
    mcrx_ip_format(&cfg->interface, sub->iface_text, sizeof sub->iface_text);
    *out = sub;
    return 0;
}

void mcrx__sub_destroy(mcrx_subscription *sub) {
    if (sub == NULL)
        return;
    mcrx__plat_close(sub->sock);
    free(sub);
}

int mcrx__sub_membership(mcrx_subscription *sub, int join, mcrx__err *err) {
    if (join && sub->state == MCRX_STATE_JOINED)
        return mcrx__err_set(err, MCRX_ERROR_SUBSCRIPTION_ALREADY_JOINED, 0, "id %llu",
                             (unsigned long long)sub->id);
    if (!join && sub->state != MCRX_STATE_JOINED)
        return mcrx__err_set(err, MCRX_ERROR_SUBSCRIPTION_NOT_JOINED, 0, "id %llu",
                             (unsigned long long)sub->id);
    if (mcrx__plat_membership(sub->sock, &sub->cfg, sub->ifindex, join, err) != 0)
        return mcrx__status_of(err->code);
    if ((join && sub->ifindex == 0) || (!join && sub->pinned)) {
        /* Joined where the kernel chose: pin the socket to that interface
         * (and unpin on leave) so other links' copies stay out. */
        mcrx__sockinfo info = {sub->ifindex, sub->isolated, sub->cmsgs};
        if (mcrx__plat_pin_interface(sub->sock, &sub->cfg, &info, join, err) != 0) {
            mcrx__err ignored;
            if (join)
                mcrx__plat_membership(sub->sock, &sub->cfg, 0, 0, &ignored);
            return mcrx__status_of(err->code);
        }
        sub->ifindex = info.ifindex;
        sub->isolated = info.isolated;
        sub->cmsgs = info.cmsgs;
        sub->pinned = join && info.ifindex != 0;
    }
    sub->state = join ? MCRX_STATE_JOINED : MCRX_STATE_BOUND;
    if (join)
        sub->n.joins++;
    else
        sub->n.leaves++;
    return 0;
}

uint64_t mcrx_subscription_id(const mcrx_subscription *sub) {
    return sub != NULL ? sub->id : 0;
}

int mcrx_subscription_state(const mcrx_subscription *sub) {
    return sub != NULL ? sub->state : 0;
}

const mcrx_subscription_config *mcrx_subscription_get_config(const mcrx_subscription *sub) {
    return sub != NULL ? &sub->cfg : NULL;
}

mcrx_sock mcrx_subscription_sock(const mcrx_subscription *sub) {
    return sub != NULL ? sub->sock : MCRX_SOCK_INVALID;
}

int mcrx_subscription_local_addr(mcrx_subscription *sub, mcrx_ip *ip_out, uint16_t *port_out) {
    mcrx_ip ip;
    uint16_t port;
    int rc;
    if (sub == NULL || ip_out == NULL)
        return mcrx__err_set(sub ? &sub->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "subscription and ip_out are required");
    rc = mcrx__plat_local_addr(sub->sock, &ip, &port, &sub->err);
    if (rc != 0)
        return rc;
    *ip_out = ip;
    if (port_out != NULL)
        *port_out = port;
    mcrx__err_clear(&sub->err);
    return 0;
}

int mcrx_subscription_rcvbuf(mcrx_subscription *sub, size_t *bytes_out) {
    if (sub == NULL || bytes_out == NULL)
        return mcrx__err_set(sub ? &sub->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "subscription and bytes_out are required");
    mcrx__err_clear(&sub->err);
    return mcrx__plat_rcvbuf(sub->sock, bytes_out, &sub->err);
}

mcrx_error mcrx_subscription_last_error_code(const mcrx_subscription *sub) {
    return sub != NULL ? sub->err.code : mcrx__tls_err()->code;
}

const char *mcrx_subscription_last_error(const mcrx_subscription *sub) {
    return sub != NULL ? sub->err.msg : mcrx__tls_err()->msg;
}

int mcrx_subscription_last_os_error(const mcrx_subscription *sub) {
    return sub != NULL ? sub->err.os : mcrx__tls_err()->os;
}

/* A subscription still held by its context joins through it, so the context's
 * readiness set stays in step. */
static int membership(mcrx_subscription *sub, int join) {
    if (sub == NULL)
        return mcrx__err_set(mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "subscription is NULL");
    if (sub->ctx != NULL) {
        mcrx_context *ctx = sub->ctx;
        int rc = join ? mcrx_context_join_subscription(ctx, sub->id)
                      : mcrx_context_leave_subscription(ctx, sub->id);
        /* sub is still valid: join and leave never remove it. */
        return mcrx__err_copy(&sub->err, &ctx->err) == 0 ? 0 : rc;
    }
    mcrx__err_clear(&sub->err);
    return mcrx__sub_membership(sub, join, &sub->err);
}

int mcrx_subscription_join_group(mcrx_subscription *sub) {
    return membership(sub, 1);
}

int mcrx_subscription_leave_group(mcrx_subscription *sub) {
    return membership(sub, 0);
}

void mcrx_subscription_free(mcrx_subscription *sub) {
    if (sub == NULL || sub->ctx != NULL)
        return; /* a context's subscription is freed by the context */
    mcrx__sub_destroy(sub);
}

mcrx_sock mcrx_subscription_into_sock(mcrx_subscription *sub) {
    mcrx_sock s;
    if (sub == NULL || sub->ctx != NULL)
        return MCRX_SOCK_INVALID;
    s = sub->sock;
    free(sub);
    return s;
}
