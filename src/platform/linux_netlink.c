/*
 * Linux's interface list and interface monitor over rtnetlink (platform.h,
 * "interfaces"): the dump of every link (RTM_GETLINK) and a socket
 * subscribed to link and address changes, for rejoining interface sets.
 *
 * libmnl (Debian libmnl-dev) builds the requests and walks the replies and
 * their attributes: netlink's alignment, length and multipart rules are
 * easy to get subtly wrong by hand, and libmnl is the small, packaged
 * library iproute2's tools and nftables use for exactly this.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../internal.h"

struct mcrx__ifmon {
    struct mnl_socket *nl;
};

static mcrx_error nl_fail(mcrx__err *err, const char *what, int os) {
    char text[128];
    mcrx__os_error_text(os, text, sizeof text);
    return mcrx__fail(err, MCRX_ERROR_INTERFACE_DISCOVERY_FAILED, os,
                      "rtnetlink %s: %s (errno %d)", what, text, os);
}

/* ---- the dump -------------------------------------------------------------------- */

typedef struct link_list {
    mcrx__link *v;
    size_t n, cap;
    int oom;
} link_list;

static int link_attr(const struct nlattr *a, void *data) {
    const struct nlattr **tb = data;
    int type = mnl_attr_get_type(a);
    if (mnl_attr_type_valid(a, IFLA_MAX) < 0)
        return MNL_CB_OK;
    if (type == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
        return MNL_CB_OK;
    if (type == IFLA_MTU && mnl_attr_validate(a, MNL_TYPE_U32) < 0)
        return MNL_CB_OK;
    tb[type] = a;
    return MNL_CB_OK;
}

static int link_msg(const struct nlmsghdr *nh, void *data) {
    link_list *l = data;
    const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nh);
    const struct nlattr *tb[IFLA_MAX + 1];
    mcrx__link *k;
    if (nh->nlmsg_type != RTM_NEWLINK || ifi->ifi_index <= 0)
        return MNL_CB_OK;
    memset(tb, 0, sizeof tb);
    mnl_attr_parse(nh, sizeof *ifi, link_attr, tb);
    if (tb[IFLA_IFNAME] == NULL)
        return MNL_CB_OK;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        mcrx__link *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL) {
            l->oom = 1;
            return MNL_CB_STOP;
        }
        l->v = v;
        l->cap = cap;
    }
    k = &l->v[l->n++];
    memset(k, 0, sizeof *k);
    k->index = (uint32_t)ifi->ifi_index;
    strncpy(k->name, mnl_attr_get_str(tb[IFLA_IFNAME]), sizeof k->name - 1);
    k->flags = ((ifi->ifi_flags & IFF_UP) ? MCRX__LINK_UP : 0) |
               ((ifi->ifi_flags & IFF_MULTICAST) ? MCRX__LINK_MULTICAST : 0) |
               ((ifi->ifi_flags & IFF_LOOPBACK) ? MCRX__LINK_LOOPBACK : 0);
    k->mtu = tb[IFLA_MTU] != NULL ? mnl_attr_get_u32(tb[IFLA_MTU]) : 0;
    return MNL_CB_OK;
}

mcrx_error mcrx__plat_links(mcrx__link **links, size_t *n, mcrx__err *err) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct mnl_socket *nl;
    struct nlmsghdr *nh;
    struct rtgenmsg *rt;
    link_list l;
    unsigned seq = (unsigned)time(NULL), port;
    int r;

    memset(&l, 0, sizeof l);
    *links = NULL;
    *n = 0;
    nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (nl == NULL)
        return nl_fail(err, "socket", errno);
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        int os = errno;
        mnl_socket_close(nl);
        return nl_fail(err, "bind", os);
    }
    port = mnl_socket_get_portid(nl);
    nh = mnl_nlmsg_put_header(buf);
    nh->nlmsg_type = RTM_GETLINK;
    nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nh->nlmsg_seq = seq;
    rt = mnl_nlmsg_put_extra_header(nh, sizeof *rt);
    rt->rtgen_family = AF_UNSPEC;
    if (mnl_socket_sendto(nl, nh, nh->nlmsg_len) < 0) {
        int os = errno;
        mnl_socket_close(nl);
        return nl_fail(err, "RTM_GETLINK", os);
    }
    for (;;) {
        ssize_t got = mnl_socket_recvfrom(nl, buf, sizeof buf);
        if (got < 0) {
            r = -1;
            break;
        }
        r = mnl_cb_run(buf, (size_t)got, seq, port, link_msg, &l);
        if (r <= MNL_CB_STOP)
            break;
    }
    if (r < 0 || l.oom) {
        int os = l.oom ? ENOMEM : errno;
        free(l.v);
        mnl_socket_close(nl);
        if (l.oom)
            return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "interface list");
        return nl_fail(err, "RTM_GETLINK dump", os);
    }
    mnl_socket_close(nl);
    *links = l.v;
    *n = l.n;
    return 0;
}

/* ---- the monitor ------------------------------------------------------------------ */

mcrx_error mcrx__ifmon_open(mcrx__ifmon **out, mcrx__err *err) {
    mcrx__ifmon *m = calloc(1, sizeof *m);
    unsigned groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
    if (m == NULL)
        return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "interface monitor");
    m->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (m->nl == NULL) {
        int os = errno;
        free(m);
        return nl_fail(err, "socket", os);
    }
    /* Subscribed here, before any dump the caller takes: a change between
     * the two is queued, not lost. */
    if (mnl_socket_bind(m->nl, groups, MNL_SOCKET_AUTOPID) < 0) {
        int os = errno;
        mnl_socket_close(m->nl);
        free(m);
        return nl_fail(err, "bind to RTNLGRP_LINK and the address groups", os);
    }
    *out = m;
    return 0;
}

mcrx_sock mcrx__ifmon_handle(const mcrx__ifmon *m) {
    return mnl_socket_get_fd(m->nl);
}

static int any_msg(const struct nlmsghdr *nh, void *data) {
    int *changed = data;
    if (nh->nlmsg_type == RTM_NEWLINK || nh->nlmsg_type == RTM_DELLINK ||
        nh->nlmsg_type == RTM_NEWADDR || nh->nlmsg_type == RTM_DELADDR)
        *changed = 1;
    return MNL_CB_OK;
}

mcrx_error mcrx__ifmon_drain(mcrx__ifmon *m, int *changed, mcrx__err *err) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    *changed = 0;
    for (;;) {
        ssize_t got = recv(mnl_socket_get_fd(m->nl), buf, sizeof buf, MSG_DONTWAIT);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == ENOBUFS) {
                /* The socket overflowed and notifications were lost: the
                 * caller re-dumps, which is the whole truth again. */
                *changed = 1;
                continue;
            }
            return nl_fail(err, "receive", errno);
        }
        if (got == 0)
            return 0;
        /* Notifications carry sequence 0 and port 0: no checks. */
        mnl_cb_run(buf, (size_t)got, 0, 0, any_msg, changed);
    }
}

void mcrx__ifmon_close(mcrx__ifmon *m) {
    if (m == NULL)
        return;
    mnl_socket_close(m->nl);
    free(m);
}

/* ---- limits ------------------------------------------------------------------------ */

void mcrx__plat_member_limit(int family, uint32_t *limit, const char **knob) {
    FILE *f;
    unsigned long v = 0;
    *limit = 0;
    *knob = NULL;
    /* IPv6 has no per-socket group count: net.core.optmem_max (socket
     * option memory) bounds it, and there is no count to plan with. */
    if (family != MCRX_IP_V4)
        return;
    *knob = "net.ipv4.igmp_max_memberships";
    /* /proc/sys/net follows the network namespace of the process. */
    f = fopen("/proc/sys/net/ipv4/igmp_max_memberships", "re");
    if (f == NULL)
        return;
    if (fscanf(f, "%lu", &v) == 1 && v <= UINT32_MAX)
        *limit = (uint32_t)v;
    fclose(f);
}
