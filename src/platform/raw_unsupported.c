/*
 * Raw capture where the platform has none (Windows today): every raw call
 * answers NOT_SUPPORTED, so the public raw API exists everywhere.
 */
#include <stddef.h>

#include "../internal.h"
#include "raw.h"

static mcrx_error unsupported(struct mcrx__err *err) {
    return mcrx__fail(err, MCRX_ERROR_NOT_SUPPORTED, 0,
                      "raw IP capture is not available on this platform");
}

static mcrx_error none_open(const mcrx_subscription_config *cfg, mcrx__endpoint *ep,
                            struct mcrx__err *err) {
    (void)cfg;
    (void)ep;
    return unsupported(err);
}

static mcrx_error none_apply(mcrx__endpoint *ep, uint32_t ifindex, const mcrx__filter *from,
                             const mcrx__filter *to, struct mcrx__err *err) {
    (void)ep;
    (void)ifindex;
    (void)from;
    (void)to;
    return unsupported(err);
}

static mcrx_error none_recv(mcrx__endpoint *ep, mcrx_datagram *dgs, mcrx__rxinfo *info, size_t n,
                            size_t *got, struct mcrx__err *err) {
    (void)ep;
    (void)dgs;
    (void)info;
    (void)n;
    *got = 0;
    return unsupported(err);
}

static mcrx_sock none_wait_handle(const mcrx__endpoint *ep) {
    return ep->sock;
}

static void none_close(mcrx__endpoint *ep, int keep_sock) {
    (void)keep_sock;
    ep->sock = MCRX_SOCK_INVALID;
}

const mcrx__backend mcrx__raw_backend = {
    "raw", 0, none_open, NULL, none_apply, none_recv, NULL, none_wait_handle, none_close,
};

uint64_t mcrx__raw_endpoint_drops(mcrx__endpoint *ep) {
    (void)ep;
    return 0;
}

mcrx_error mcrx__rawcap_open(int family, const mcrx_ip *group, const mcrx_ip *source,
                             uint32_t rx, uint32_t rcvbuf, mcrx__rawcap **out,
                             struct mcrx__err *err) {
    (void)family;
    (void)group;
    (void)source;
    (void)rx;
    (void)rcvbuf;
    *out = NULL;
    return unsupported(err);
}

mcrx_error mcrx__rawcap_start(mcrx__rawcap *c, uint32_t ifindex, struct mcrx__err *err) {
    (void)c;
    (void)ifindex;
    return unsupported(err);
}

mcrx_error mcrx__rawcap_stop(mcrx__rawcap *c, struct mcrx__err *err) {
    (void)c;
    return unsupported(err);
}

mcrx_error mcrx__rawcap_recv(mcrx__rawcap *c, mcrx_datagram *dgs, mcrx__rxinfo *info, size_t n,
                             size_t *got, struct mcrx__err *err) {
    (void)c;
    (void)dgs;
    (void)info;
    (void)n;
    *got = 0;
    return unsupported(err);
}

mcrx_sock mcrx__rawcap_handle(const mcrx__rawcap *c) {
    (void)c;
    return MCRX_SOCK_INVALID;
}

uint64_t mcrx__rawcap_drops(mcrx__rawcap *c) {
    (void)c;
    return 0;
}

void mcrx__rawcap_close(mcrx__rawcap *c) {
    (void)c;
}

mcrx_error mcrx__rawmember_open(int family, mcrx_sock *out, struct mcrx__err *err) {
    (void)family;
    *out = MCRX_SOCK_INVALID;
    return unsupported(err);
}

mcrx_error mcrx__rawmember_apply(mcrx_sock s, uint32_t ifindex, const mcrx_ip *ifaddr,
                                 const mcrx__filter *from, const mcrx__filter *to,
                                 struct mcrx__err *err) {
    (void)s;
    (void)ifindex;
    (void)ifaddr;
    (void)from;
    (void)to;
    return unsupported(err);
}

uint32_t mcrx__rawmember_where(mcrx_sock s, const mcrx_ip *group) {
    (void)s;
    (void)group;
    return 0;
}

void mcrx__rawmember_close(mcrx_sock s) {
    (void)s;
}

mcrx_error mcrx__raw_resolve(const mcrx_subscription_config *cfg, int route, uint32_t *ifindex,
                             mcrx_ip *ifaddr, struct mcrx__err *err) {
    (void)cfg;
    (void)route;
    (void)ifaddr;
    *ifindex = 0;
    return unsupported(err);
}
