/* A subscription: its config, endpoint, membership state and accessors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int mcrx__sub_new(uint64_t id, const mcrx_subscription_config *cfg, mcrx_ip *list,
                  size_t nlist, const mcrx__endpoint *ep, const mcrx__ifnames *names,
                  mcrx_subscription **out, mcrx__err *err) {
    mcrx_subscription *sub = calloc(1, sizeof *sub);
    if (sub == NULL) {
        free(list);
        return mcrx__err_set(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "subscription");
    }
    sub->id = id;
    sub->cfg = *cfg;
    sub->sources = list;
    sub->nsources = nlist;
    if (names != NULL && mcrx__ifset_init(sub, names, err) != 0) {
        mcrx__ifset_free(sub);
        free(sub->sources);
        free(sub);
        return mcrx__status_of(err->code);
    }
    sub->ep = *ep;
    sub->watch.kind = MCRX__WATCH_SUBSCRIPTION;
    sub->watch.handle = ep->be->wait_handle(&sub->ep);
    sub->state = MCRX_STATE_BOUND;
    mcrx__config_filter(cfg, list, nlist, &sub->filter);
    mcrx_ip_format(&cfg->group, sub->group_text, sizeof sub->group_text);
    mcrx_ip_format(&ep->local_ip, sub->local_text, sizeof sub->local_text);
    mcrx_ip_format(&cfg->interface, sub->iface_text, sizeof sub->iface_text);
    *out = sub;
    return 0;
}

void mcrx__sub_destroy(mcrx_subscription *sub) {
    if (sub == NULL)
        return;
    sub->ep.be->close(&sub->ep, 0);
    free(sub->sources);
    mcrx__ifset_free(sub);
    free(sub->stage);
    free(sub);
}

/* The kernel's per-socket cap on sources per group, checked before asking:
 * past it the kernel answers ENOBUFS after part of the list is applied. */
static int check_limit(const mcrx__filter *f, mcrx__err *err) {
    uint32_t max;
    const char *knob;
    char group[MCRX_IP_STRLEN];
    if (f->nsources == 0 || mcrx__plat_max_sources(f->group.family, &max, &knob) != 0 ||
        f->nsources <= max)
        return 0;
    mcrx_ip_format(&f->group, group, sizeof group);
    return mcrx__err_set(err, MCRX_ERROR_MEMBERSHIP_LIMIT_EXCEEDED, 0,
                         "%s filter of %zu sources on %s needs %s >= %zu, it is %u; raise it "
                         "(sysctl -w %s=%zu)",
                         f->mode == MCRX__INCLUDE ? "INCLUDE" : "EXCLUDE", f->nsources, group,
                         knob, f->nsources, (unsigned)max, knob, f->nsources);
}

/* The kernel refused a source for its limit (where the early check could
 * not read it): add the number this filter needs. */
static int note_needed(const mcrx__filter *f, mcrx__err *err) {
    size_t len = strlen(err->msg);
    if (err->code == MCRX_ERROR_MEMBERSHIP_LIMIT_EXCEEDED && len < sizeof err->msg)
        snprintf(err->msg + len, sizeof err->msg - len, "; this filter needs %zu sources",
                 f->nsources);
    return mcrx__status_of(err->code);
}

int mcrx__sub_sources_config(const mcrx_subscription *sub, uint32_t mode, const mcrx_ip *sources,
                             size_t n, mcrx_subscription_config *out, mcrx_ip **list,
                             size_t *nlist, mcrx__err *err) {
    mcrx_subscription_config cand = sub->cfg;
    *list = NULL;
    *nlist = 0;
    if ((n > 0 && sources == NULL) || n > UINT32_MAX)
        return mcrx__err_set(err, MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "sources is NULL with n %zu, or n is above UINT32_MAX", n);
    /* Full state: the list replaces source and any earlier list. */
    cand.version = MCRX_SUBSCRIPTION_CONFIG_VERSION;
    memset(&cand.source, 0, sizeof cand.source);
    cand.sources_mode = mode;
    cand.nsources = (uint32_t)n;
    cand.sources = sources;
    if (mcrx__config_prepare(&cand, out, list, nlist, err) != 0)
        return mcrx__status_of(err->code);
    return 0;
}

int mcrx__sub_set_sources(mcrx_subscription *sub, const mcrx_subscription_config *cfg,
                          mcrx_ip *list, size_t nlist, mcrx__err *err) {
    mcrx__filter to;
    mcrx__config_filter(cfg, list, nlist, &to);
    if (check_limit(&to, err) != 0) {
        free(list);
        return mcrx__status_of(err->code);
    }
    if (sub->state == MCRX_STATE_JOINED && mcrx__sub_apply(sub, &sub->filter, &to, err) != 0) {
        free(list);
        return note_needed(&to, err);
    }
    free(sub->sources);
    sub->sources = list;
    sub->nsources = nlist;
    sub->cfg = *cfg;
    sub->filter = to;
    return 0;
}

int mcrx__sub_membership(mcrx_subscription *sub, int join, mcrx__err *err) {
    mcrx__filter none;
    if (join && sub->state == MCRX_STATE_JOINED)
        return mcrx__err_set(err, MCRX_ERROR_SUBSCRIPTION_ALREADY_JOINED, 0, "id %llu",
                             (unsigned long long)sub->id);
    if (!join && sub->state != MCRX_STATE_JOINED)
        return mcrx__err_set(err, MCRX_ERROR_SUBSCRIPTION_NOT_JOINED, 0, "id %llu",
                             (unsigned long long)sub->id);
    if (join && check_limit(&sub->filter, err) != 0)
        return mcrx__status_of(err->code);
    mcrx__filter_none(&none, &sub->cfg.group);
    if (mcrx__sub_apply(sub, join ? &none : &sub->filter, join ? &sub->filter : &none, err) != 0)
        return note_needed(&sub->filter, err);
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
    if (sub == NULL)
        return MCRX_SOCK_INVALID;
    /* The caller will watch this socket: datagrams fetched ahead would not
     * show on it, so this subscription's one-datagram calls stop fetching
     * ahead (recv.c). The flag is not part of the subscription's value. */
    ((mcrx_subscription *)(uintptr_t)sub)->no_stage = 1;
    return sub->ep.sock;
}

mcrx_sock mcrx_subscription_fd(const mcrx_subscription *sub) {
    if (sub == NULL)
        return MCRX_SOCK_INVALID;
    /* Watched by the caller, as the socket above: no fetching ahead. */
    ((mcrx_subscription *)(uintptr_t)sub)->no_stage = 1;
    return sub->watch.handle;
}

int mcrx_subscription_local_addr(mcrx_subscription *sub, mcrx_ip *ip_out, uint16_t *port_out) {
    mcrx_ip ip;
    uint16_t port;
    if (sub == NULL || ip_out == NULL)
        return mcrx__err_set(sub ? &sub->err : mcrx__tls_err(), MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "subscription and ip_out are required");
    if (!(sub->ep.be->caps & MCRX__CAP_IP_SOCKET)) {
        ip = sub->ep.local_ip; /* no IP socket to ask: what the backend bound */
        port = sub->ep.local_port;
    } else if (mcrx__plat_local_addr(sub->ep.sock, &ip, &port, &sub->err) != 0) {
        return mcrx__status_of(sub->err.code);
    }
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
    if (!(sub->ep.be->caps & MCRX__CAP_IP_SOCKET))
        return mcrx__err_set(&sub->err, MCRX_ERROR_NOT_SUPPORTED, 0,
                             "the %s receive path has no socket receive buffer",
                             sub->ep.be->name);
    return mcrx__status_of(mcrx__plat_rcvbuf(sub->ep.sock, bytes_out, &sub->err));
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

void mcrx_subscription_free(mcrx_subscription *sub) {
    if (sub == NULL || sub->ctx != NULL)
        return; /* a context's subscription is freed by the context */
    mcrx__sub_destroy(sub);
}

mcrx_sock mcrx_subscription_into_sock(mcrx_subscription *sub) {
    mcrx_sock s;
    if (sub == NULL || sub->ctx != NULL)
        return MCRX_SOCK_INVALID;
    if (sub->ep.be->caps & MCRX__CAP_DRAINS_SOCKET) {
        mcrx__fail(mcrx__tls_err(), MCRX_ERROR_NOT_SUPPORTED, 0,
                   "the %s receive path takes datagrams out of the socket as they arrive, so "
                   "subscription %llu's socket cannot be handed back without losing them; "
                   "use the UDP receive path for subscriptions whose socket you take back",
                   sub->ep.be->name, (unsigned long long)sub->id);
        return MCRX_SOCK_INVALID;
    }
    if (sub->stage != NULL && sub->stage->len > 0) {
        /* Fetched ahead from the socket: they cannot go back into it, and
         * dropping them would lose the caller's datagrams silently. */
        mcrx__fail(mcrx__tls_err(), MCRX_ERROR_BUSY, 0,
                   "%zu datagrams fetched ahead are still held for subscription %llu; "
                   "receive them (mcrx_subscription_recv until it reports 0) first",
                   sub->stage->len, (unsigned long long)sub->id);
        return MCRX_SOCK_INVALID;
    }
    s = sub->ep.sock;
    sub->ep.be->close(&sub->ep, 1);
    free(sub->sources);
    free(sub->stage);
    mcrx__ifset_free(sub);
    free(sub);
    return s;
}
