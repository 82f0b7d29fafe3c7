/*
 * Linux's UDP receive backend (mcrx__udp_backend): sockets bound for
 * isolation, memberships applied from filter states, the batched receive
 * (recvmmsg) and its control messages; and the OS's error texts.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../internal.h"
#include "linux_member.h"

#ifndef IP_MULTICAST_ALL
#define IP_MULTICAST_ALL 49
#endif
#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL 29
#endif

typedef union {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    struct sockaddr_storage ss;
} sockaddr_u;

static int af_of(int family) {
    return family == MCRX_IP_V6 ? AF_INET6 : AF_INET;
}

/* ---- errors with the knob to turn --------------------------------------- */

static const char *knob_for(int os, int family, int ssm, int joining) {
    switch (os) {
    case ENOBUFS:
        if (!joining)
            return NULL;
        if (family == MCRX_IP_V4)
            return ssm ? "per-socket limits net.ipv4.igmp_max_memberships (groups) and "
                         "net.ipv4.igmp_max_msf (sources per group) reached; raise them"
                       : "per-socket limit net.ipv4.igmp_max_memberships reached; raise it";
        return ssm ? "net.ipv6.mld_max_msf (sources per group) or net.core.optmem_max "
                     "reached; raise them"
                   : "net.core.optmem_max (socket option memory) reached; raise it";
    case ENOMEM:
        return "socket option memory exhausted; raise net.core.optmem_max";
    case EMFILE:
        return "open file limit reached; raise it with ulimit -n (RLIMIT_NOFILE)";
    case ENFILE:
        return "system file table full; raise fs.file-max";
    case ENODEV:
        return "no such interface (check the interface index or address)";
    case EADDRNOTAVAIL:
        return joining ? "no local interface has that address, or no route for the group"
                       : "not a member of this group on this socket";
    case EADDRINUSE:
        return joining ? "this socket has already joined this group and source"
                       : "the port is held by a socket without SO_REUSEADDR (a program "
                         "that set only SO_REUSEPORT, or neither)";
    case EACCES:
        return "ports below 1024 need CAP_NET_BIND_SERVICE "
               "(or net.ipv4.ip_unprivileged_port_start)";
    case EINVAL:
        return joining && family == MCRX_IP_V6
                   ? "link- and interface-scope groups need an interface index"
                   : NULL;
    default:
        return NULL;
    }
}

static mcrx_error os_fail(mcrx__err *err, mcrx_error code, int os, const char *what, int family,
                          int ssm, int joining) {
    const char *knob = knob_for(os, family, ssm, joining);
    char text[128];
    mcrx__os_error_text(os, text, sizeof text);
    if (knob != NULL)
        return mcrx__fail(err, code, os, "%s: %s (errno %d): %s", what, text, os, knob);
    return mcrx__fail(err, code, os, "%s: %s (errno %d)", what, text, os);
}

/* ---- socket setup --------------------------------------------------------- */

static mcrx_error set_int(int fd, int level, int opt, int v, const char *name, mcrx__err *err) {
    if (setsockopt(fd, level, opt, &v, sizeof v) != 0)
        return os_fail(err, MCRX_ERROR_SOCKET_OPTION_FAILED, errno, name, 0, 0, 0);
    return 0;
}

/* Options every receive socket needs (non-blocking, only its own groups)
 * and the per-datagram reports cfg asks for. */
static mcrx_error prepare(int fd, int family, uint32_t rx, int set_nonblock, mcrx__err *err) {
    int v4 = family == MCRX_IP_V4;
    int rc;
    /* Our own sockets are opened non-blocking (SOCK_NONBLOCK): two system
     * calls fewer per subscription added. */
    if (set_nonblock) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
            return os_fail(err, MCRX_ERROR_SOCKET_OPTION_FAILED, errno, "O_NONBLOCK", 0, 0, 0);
    }
    rc = v4 ? set_int(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0, "IP_MULTICAST_ALL", err)
            : set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0, "IPV6_MULTICAST_ALL", err);
    if (rc == 0 && (rx & MCRX_RX_PKTINFO))
        rc = v4 ? set_int(fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO", err)
                : set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO", err);
    if (rc == 0 && (rx & MCRX_RX_TTL))
        rc = v4 ? set_int(fd, IPPROTO_IP, IP_RECVTTL, 1, "IP_RECVTTL", err)
                : set_int(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT", err);
    if (rc == 0 && (rx & MCRX_RX_TIMESTAMP))
        rc = set_int(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS", err);
    if (rc == 0 && (rx & MCRX_RX_DROPS))
        rc = set_int(fd, SOL_SOCKET, SO_RXQ_OVFL, 1, "SO_RXQ_OVFL", err);
    return rc;
}

mcrx_error mcrx__plat_rcvbuf(mcrx_sock sock, size_t *bytes, mcrx__err *err) {
    int v = 0;
    socklen_t len = sizeof v;
    if (getsockopt((int)sock, SOL_SOCKET, SO_RCVBUF, &v, &len) != 0)
        return os_fail(err, MCRX_ERROR_SOCKET_OPTION_FAILED, errno, "SO_RCVBUF", 0, 0, 0);
    *bytes = (size_t)v;
    return 0;
}

/* Asks for a receive buffer; above net.core.rmem_max, SO_RCVBUFFORCE gets it
 * where the process may (CAP_NET_ADMIN), else the kernel's clamp stands and
 * mcrx_subscription_rcvbuf shows it. */
static mcrx_error set_rcvbuf(int fd, uint32_t bytes, mcrx__err *err) {
    int v = bytes > INT32_MAX / 2 ? INT32_MAX / 2 : (int)bytes, got = 0;
    socklen_t len = sizeof got;
    if (bytes == 0)
        return 0;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) != 0)
        return os_fail(err, MCRX_ERROR_SOCKET_OPTION_FAILED, errno, "SO_RCVBUF", 0, 0, 0);
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) == 0 && got / 2 < v)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v);
    return 0;
}

/*
 * Binds fd to the subscription's interface, so the kernel itself keeps other
 * links' copies of the group away (for IPv4 its membership check does too;
 * the binding makes that hold whatever else shares the port). Where the
 * process may not bind (EPERM: Linux before 5.7 needs CAP_NET_RAW), the
 * socket stays unbound and the user-space ingress check, fed by pktinfo,
 * does the filtering.
 */
static mcrx_error bind_device(int fd, mcrx__endpoint *info, mcrx__err *err) {
    int v = (int)info->ifindex;
    if (setsockopt(fd, SOL_SOCKET, SO_BINDTOIFINDEX, &v, sizeof v) == 0)
        return 0;
    if (errno == EPERM || errno == EACCES) {
        info->isolated = 0;
        return 0;
    }
    return os_fail(err, MCRX_ERROR_SOCKET_OPTION_FAILED, errno, "SO_BINDTOIFINDEX", 0, 0, 0);
}

/* Link- and interface-scope IPv6 groups can only be bound with a scope. */
static int v6_group_needs_scope(const mcrx_ip *g) {
    int scope = g->bytes[1] & 0x0f;
    return scope == 1 || scope == 2;
}

static mcrx_error udp_open(const mcrx_subscription_config *cfg, mcrx__endpoint *info,
                           mcrx__err *err) {
    int family = cfg->group.family;
    uint32_t rx = cfg->rx_options;
    sockaddr_u addr;
    socklen_t alen;
    int fd, rc;

    /* An interface set: one socket bound to no device, a membership per
     * interface, and the ingress check on pktinfo. */
    info->isolated = !mcrx__config_has_ifset(cfg);
    rc = info->isolated ? mcrx__config_interface_index(cfg, &info->ifindex, err) : 0;
    if (rc != 0)
        return rc;
    info->ifaddr = cfg->interface;
    fd = socket(af_of(family), SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP);
    if (fd < 0)
        return os_fail(err, MCRX_ERROR_SOCKET_CREATE_FAILED, errno, "socket", family, 0, 0);
    if (family == MCRX_IP_V6)
        rc = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY", err);
    /* SO_REUSEADDR alone: every socket bound to a multicast group:port gets
     * each datagram it has a membership for. SO_REUSEPORT would make the
     * kernel pick one socket of the group per datagram instead, handing one
     * subscription's datagrams to another (and dropping them there). */
    if (rc == 0)
        rc = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR", err);
    if (rc != 0)
        goto fail;

    /* Bound to the group, the kernel delivers only that group's datagrams to
     * this socket and finds it without walking every socket on the port. */
    memset(&addr, 0, sizeof addr);
    if (family == MCRX_IP_V4) {
        alen = (socklen_t)mcrx_ip_to_sockaddr(&cfg->group, cfg->dst_port, &addr, sizeof addr);
        if (info->ifindex != 0)
            rc = bind_device(fd, info, err);
    } else {
        mcrx_ip g = cfg->group;
        g.scope_id = 0;
        if (v6_group_needs_scope(&g) && !info->isolated) {
            memset(g.bytes, 0, 16); /* a set spans links: wildcard, filtered in user space */
        } else if (v6_group_needs_scope(&g)) {
            if (info->ifindex != 0) {
                g.scope_id = info->ifindex; /* also binds the socket to that device */
            } else {
                memset(g.bytes, 0, 16); /* no scope known: wildcard, filtered in user space */
                info->isolated = 0;
            }
        } else if (info->ifindex != 0) {
            /* Linux's IPv6 membership check ignores the interface: the
             * device binding keeps other links' copies away. */
            rc = bind_device(fd, info, err);
        }
        alen = (socklen_t)mcrx_ip_to_sockaddr(&g, cfg->dst_port, &addr, sizeof addr);
    }
    if (rc != 0)
        goto fail;
    if (bind(fd, &addr.sa, alen) != 0) {
        rc = os_fail(err, MCRX_ERROR_SOCKET_BIND_FAILED, errno, "bind", family, 0, 0);
        goto fail;
    }
    if (!info->isolated)
        rx |= MCRX_RX_PKTINFO;
    info->cmsgs = rx != 0;
    rc = prepare(fd, family, rx, 0, err);
    if (rc == 0)
        rc = set_rcvbuf(fd, cfg->rcvbuf_bytes, err);
    if (rc != 0)
        goto fail;
    info->sock = fd;
    info->owned = 1;
    /* Bound to a given port, the socket's address is the one just bound:
     * no getsockname (one system call fewer per subscription added). */
    if (cfg->dst_port != 0 &&
        mcrx_ip_from_sockaddr(&addr.sa, &info->local_ip, &info->local_port) == MCRX_ERROR_NONE)
        return 0;
    rc = mcrx__plat_local_addr(fd, &info->local_ip, &info->local_port, err);
    if (rc == 0)
        return 0;
fail:
    close(fd);
    return rc;
}

static mcrx_error udp_adopt(const mcrx_subscription_config *cfg, mcrx_sock sock,
                            mcrx__endpoint *info, mcrx__err *err) {
    int fd = (int)sock;
    int type = 0;
    socklen_t tlen = sizeof type;
    mcrx_ip ip;
    uint16_t port;
    int rc;

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0)
        return os_fail(err, MCRX_ERROR_INVALID_ARGUMENT, errno, "not a socket", 0, 0, 0);
    if (type != SOCK_DGRAM)
        return mcrx__fail(err, MCRX_ERROR_INVALID_ARGUMENT, 0,
                             "the socket is not a datagram (UDP) socket");
    rc = mcrx__plat_local_addr(sock, &ip, &port, err);
    if (rc != 0)
        return rc;
    rc = mcrx__config_check_bound(cfg, &ip, port, err);
    if (rc != 0)
        return rc;
    rc = mcrx__config_has_ifset(cfg) ? 0 : mcrx__config_interface_index(cfg, &info->ifindex, err);
    if (rc != 0)
        return rc;
    info->ifaddr = cfg->interface;
    /* We do not rebind a caller's socket: unless it is bound to the group
     * and there is no interface to enforce, the user-space check needs
     * pktinfo. */
    info->isolated = mcrx_ip_equal(&ip, &cfg->group) && info->ifindex == 0 &&
                     !mcrx__config_has_ifset(cfg);
    /* A caller's socket may already have reports turned on: always parse. */
    info->cmsgs = 1;
    info->sock = sock;
    info->local_ip = ip;
    info->local_port = port;
    rc = prepare(fd, ip.family, cfg->rx_options | (info->isolated ? 0 : MCRX_RX_PKTINFO), 1, err);
    return rc != 0 ? err->code : set_rcvbuf(fd, cfg->rcvbuf_bytes, err);
}

mcrx_error mcrx__plat_local_addr(mcrx_sock sock, mcrx_ip *ip, uint16_t *port, mcrx__err *err) {
    sockaddr_u addr;
    socklen_t alen = sizeof addr;
    memset(&addr, 0, sizeof addr);
    if (getsockname((int)sock, &addr.sa, &alen) != 0)
        return os_fail(err, MCRX_ERROR_SOCKET_LOCAL_ADDR_FAILED, errno, "getsockname", 0, 0, 0);
    if (mcrx_ip_from_sockaddr(&addr.sa, ip, port) != MCRX_ERROR_NONE)
        return mcrx__fail(err, MCRX_ERROR_NON_IP_SOCKET_ADDRESS, 0, "address family %d",
                             addr.sa.sa_family);
    return 0;
}

static void udp_close(mcrx__endpoint *ep, int keep_sock) {
    if (!keep_sock && ep->sock >= 0)
        close((int)ep->sock);
    ep->sock = MCRX_SOCK_INVALID;
}

/* ---- memberships ------------------------------------------------------------ */

static const char *const v4_names[] = {"IP_ADD_MEMBERSHIP", "IP_DROP_MEMBERSHIP",
                                       "IP_ADD_SOURCE_MEMBERSHIP", "IP_DROP_SOURCE_MEMBERSHIP",
                                       "IP_BLOCK_SOURCE", "IP_UNBLOCK_SOURCE"};
static const char *const v6_names[] = {"IPV6_JOIN_GROUP", "IPV6_LEAVE_GROUP",
                                       "MCAST_JOIN_SOURCE_GROUP", "MCAST_LEAVE_SOURCE_GROUP",
                                       "MCAST_BLOCK_SOURCE", "MCAST_UNBLOCK_SOURCE"};

/*
 * One membership call on ep's interface. IPv4 names the interface by its
 * address (as configured, so an address no interface has fails here, naming
 * IP_ADD_MEMBERSHIP); IPv6 by index, through the RFC 3678 calls for sources.
 */
static mcrx_error member_call(void *arg, const mcrx_ip *group, const mcrx_ip *source,
                              mcrx__member_op op, mcrx__err *err) {
    static const int v4_opts[] = {IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP,
                                  IP_ADD_SOURCE_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP,
                                  IP_BLOCK_SOURCE, IP_UNBLOCK_SOURCE};
    static const int v6_opts[] = {IPV6_ADD_MEMBERSHIP, IPV6_DROP_MEMBERSHIP,
                                  MCAST_JOIN_SOURCE_GROUP, MCAST_LEAVE_SOURCE_GROUP,
                                  MCAST_BLOCK_SOURCE, MCAST_UNBLOCK_SOURCE};
    static const int by_index_opts[] = {MCAST_JOIN_GROUP, MCAST_LEAVE_GROUP,
                                        MCAST_JOIN_SOURCE_GROUP, MCAST_LEAVE_SOURCE_GROUP,
                                        MCAST_BLOCK_SOURCE, MCAST_UNBLOCK_SOURCE};
    static const char *const by_index_names[] = {
        "MCAST_JOIN_GROUP",        "MCAST_LEAVE_GROUP",  "MCAST_JOIN_SOURCE_GROUP",
        "MCAST_LEAVE_SOURCE_GROUP", "MCAST_BLOCK_SOURCE", "MCAST_UNBLOCK_SOURCE"};
    mcrx__endpoint *ep = arg;
    int fd = (int)ep->sock, family = group->family, rc;
    int group_op = op == MCRX__OP_ADD_GROUP || op == MCRX__OP_DROP_GROUP;
    int joining = op == MCRX__OP_ADD_GROUP || op == MCRX__OP_ADD_SOURCE || op == MCRX__OP_BLOCK;
    int ssm = op == MCRX__OP_ADD_SOURCE || op == MCRX__OP_DROP_SOURCE;
    int listed = !group_op; /* a source of a list: igmp_max_msf / mld_max_msf apply */
    /* An interface set's memberships name the interface by index for both
     * families (the protocol-independent RFC 3678 calls): an IPv4
     * interface may have no address, or several. */
    int by_index = family == MCRX_IP_V4 && ep->ifaddr.family == MCRX_IP_NONE && ep->ifindex != 0;
    const char *what = by_index ? by_index_names[op] : family == MCRX_IP_V4 ? v4_names[op] : v6_names[op];
    mcrx_error kind = joining ? MCRX_ERROR_MULTICAST_JOIN_FAILED : MCRX_ERROR_MULTICAST_LEAVE_FAILED;

    if (by_index && group_op) {
        struct group_req r;
        mcrx_ip g = *group;
        memset(&r, 0, sizeof r);
        r.gr_interface = ep->ifindex;
        mcrx_ip_to_sockaddr(&g, 0, &r.gr_group, sizeof r.gr_group);
        rc = setsockopt(fd, IPPROTO_IP, by_index_opts[op], &r, sizeof r);
    } else if (by_index) {
        struct group_source_req r;
        mcrx_ip g = *group, s = *source;
        memset(&r, 0, sizeof r);
        r.gsr_interface = ep->ifindex;
        mcrx_ip_to_sockaddr(&g, 0, &r.gsr_group, sizeof r.gsr_group);
        mcrx_ip_to_sockaddr(&s, 0, &r.gsr_source, sizeof r.gsr_source);
        rc = setsockopt(fd, IPPROTO_IP, by_index_opts[op], &r, sizeof r);
    } else if (family == MCRX_IP_V4 && group_op) {
        struct ip_mreq m;
        memset(&m, 0, sizeof m);
        memcpy(&m.imr_multiaddr, group->bytes, 4);
        if (ep->ifaddr.family == MCRX_IP_V4)
            memcpy(&m.imr_interface, ep->ifaddr.bytes, 4);
        rc = setsockopt(fd, IPPROTO_IP, v4_opts[op], &m, sizeof m);
    } else if (family == MCRX_IP_V4) {
        struct ip_mreq_source m; /* field names, not order: it differs between OSes */
        memset(&m, 0, sizeof m);
        memcpy(&m.imr_multiaddr, group->bytes, 4);
        memcpy(&m.imr_sourceaddr, source->bytes, 4);
        if (ep->ifaddr.family == MCRX_IP_V4)
            memcpy(&m.imr_interface, ep->ifaddr.bytes, 4);
        rc = setsockopt(fd, IPPROTO_IP, v4_opts[op], &m, sizeof m);
    } else if (group_op) {
        struct ipv6_mreq m;
        memset(&m, 0, sizeof m);
        memcpy(&m.ipv6mr_multiaddr, group->bytes, 16);
        m.ipv6mr_interface = ep->ifindex;
        rc = setsockopt(fd, IPPROTO_IPV6, v6_opts[op], &m, sizeof m);
    } else {
        struct group_source_req r;
        mcrx_ip g = *group, s = *source;
        memset(&r, 0, sizeof r);
        g.scope_id = 0;
        r.gsr_interface = ep->ifindex;
        mcrx_ip_to_sockaddr(&g, 0, &r.gsr_group, sizeof r.gsr_group);
        mcrx_ip_to_sockaddr(&s, 0, &r.gsr_source, sizeof r.gsr_source);
        rc = setsockopt(fd, IPPROTO_IPV6, v6_opts[op], &r, sizeof r);
    }
    if (rc == 0)
        return 0;
    /* A kernel built without source filtering refuses the option itself. */
    if ((errno == ENOPROTOOPT || errno == EOPNOTSUPP) && !group_op)
        kind = MCRX_ERROR_SOURCE_SPECIFIC_MULTICAST_UNSUPPORTED;
    /* ENOBUFS on a source: igmp_max_msf / mld_max_msf reached. The early
     * check (mcrx__plat_max_sources) misses it where the sysctl cannot be
     * read, as mld_max_msf outside the initial network namespace. */
    if (errno == ENOBUFS && !group_op && op != MCRX__OP_UNBLOCK && op != MCRX__OP_DROP_SOURCE)
        kind = MCRX_ERROR_MEMBERSHIP_LIMIT_EXCEEDED;
    if (errno == EINVAL && !group_op) {
        /* RFC 3678's mode rules, which the kernel enforces with EINVAL: say
         * which one. mcrx__filter_apply never breaks them; a caller's socket
         * with memberships of its own can. */
        char text[128];
        int os = errno;
        mcrx__os_error_text(os, text, sizeof text);
        return mcrx__fail(err, kind, os, "%s: %s (errno %d): %s", what, text, os,
                          ssm ? "a source join needs an INCLUDE-mode membership, none, or a "
                                "plain any-source one; this socket holds the group in EXCLUDE "
                                "mode with blocked sources: unblock them or leave the group"
                              : "a block or unblock needs an EXCLUDE-mode membership (a join "
                                "of the whole group) on this socket; it has none, or an "
                                "INCLUDE-mode (source-specific) one");
    }
    return os_fail(err, kind, errno, what, family, listed, joining);
}

/*
 * Linux's IPv6 membership check ignores the interface: a socket that joined
 * without one would also get the group from every other link where anyone
 * joined it. The kernel records the interface it chose for the join; find it
 * (MCAST_MSFILTER answers only for that interface) and bind the socket to it,
 * as if the caller had named it. IPv4 needs none of this: its membership
 * check is per interface.
 */
/* 1 if fd holds a membership of group on interface index. */
static int joined_on(int fd, const mcrx_ip *group, uint32_t index) {
    union {
        struct group_filter gf;
        char room[GROUP_FILTER_SIZE(1)];
    } q;
    socklen_t len = sizeof q;
    mcrx_ip g = *group;
    memset(&q, 0, sizeof q);
    g.scope_id = 0;
    q.gf.gf_interface = index;
    q.gf.gf_numsrc = 1;
    mcrx_ip_to_sockaddr(&g, 0, &q.gf.gf_group, sizeof q.gf.gf_group);
    return getsockopt(fd, IPPROTO_IPV6, MCAST_MSFILTER, &q, &len) == 0;
}

static _Thread_local uint32_t last_pinned;

static mcrx_error pin_interface(mcrx__endpoint *ep, const mcrx_ip *group, mcrx__err *err) {
    struct if_nameindex *list, *it;
    int fd = (int)ep->sock;
    /* Joins without an interface nearly always land on the same one: try
     * the one this thread found last before listing them all. */
    if (last_pinned != 0 && joined_on(fd, group, last_pinned)) {
        ep->ifindex = last_pinned;
    } else {
        list = if_nameindex();
        if (list == NULL)
            return os_fail(err, MCRX_ERROR_INTERFACE_DISCOVERY_FAILED, errno, "if_nameindex", 0,
                           0, 0);
        for (it = list; it->if_index != 0 && ep->ifindex == 0; it++)
            if (joined_on(fd, group, it->if_index))
                ep->ifindex = last_pinned = it->if_index;
        if_freenameindex(list);
    }
    if (ep->ifindex == 0)
        return 0; /* not found (an old kernel): the group stays unpinned */
    if (bind_device(fd, ep, err) != 0 ||
        (!ep->isolated &&
         set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO", err) != 0)) {
        ep->ifindex = 0;
        return err->code;
    }
    /* Not allowed to bind (isolated dropped to 0): the user-space ingress
     * check works from pktinfo, now on. */
    if (!ep->isolated)
        ep->cmsgs = 1;
    ep->pinned = 1;
    return 0;
}

/* Undoes pin_interface: a later join may be routed to another interface. */
static mcrx_error unpin_interface(mcrx__endpoint *ep, mcrx__err *err) {
    int v = 0;
    if (!ep->pinned)
        return 0;
    if (setsockopt((int)ep->sock, SOL_SOCKET, SO_BINDTOIFINDEX, &v, sizeof v) != 0 &&
        errno != EPERM)
        return os_fail(err, MCRX_ERROR_SOCKET_OPTION_FAILED, errno, "SO_BINDTOIFINDEX", 0, 0, 0);
    ep->ifindex = 0;
    ep->pinned = 0;
    return 0;
}

/*
 * A change of mode between two memberships, in one full-state call
 * (RFC 3678's MCAST_MSFILTER). The kernel then reports it as RFC 3376 and
 * 3810 ask (CHANGE_TO_INCLUDE / CHANGE_TO_EXCLUDE with the new list), and
 * the group is never left in between. mcrx__filter_apply's portable way
 * leaves and joins again: Linux merges the two reports and, for EXCLUDE ->
 * INCLUDE, sends only ALLOW, so a router keeps forwarding every source; and
 * datagrams arriving in the gap are lost. Returns 0, or -1 when the kernel
 * refused (the caller then takes the portable way).
 */
static int set_msfilter(mcrx__endpoint *ep, const mcrx__filter *to) {
    size_t i, size = GROUP_FILTER_SIZE(to->nsources > 0 ? to->nsources : 1);
    struct group_filter *gf = calloc(1, size);
    mcrx_ip g = to->group;
    int rc;
    if (gf == NULL)
        return -1;
    g.scope_id = 0;
    gf->gf_interface = ep->ifindex;
    gf->gf_fmode = to->mode == MCRX__INCLUDE ? MCAST_INCLUDE : MCAST_EXCLUDE;
    gf->gf_numsrc = (uint32_t)to->nsources;
    mcrx_ip_to_sockaddr(&g, 0, &gf->gf_group, sizeof gf->gf_group);
    for (i = 0; i < to->nsources; i++)
        mcrx_ip_to_sockaddr(&to->sources[i], 0, &gf->gf_slist[i], sizeof gf->gf_slist[i]);
    rc = setsockopt((int)ep->sock, to->group.family == MCRX_IP_V6 ? IPPROTO_IPV6 : IPPROTO_IP,
                    MCAST_MSFILTER, gf, (socklen_t)size);
    free(gf);
    return rc == 0 ? 0 : -1;
}

/* from -> to on ep's interface: a change of mode in one call where the
 * kernel takes it, else the portable difference. */
static mcrx_error apply_filter(mcrx__endpoint *ep, const mcrx__filter *from,
                               const mcrx__filter *to, mcrx__err *err) {
    if (from->mode != to->mode && !mcrx__filter_is_none(from) && !mcrx__filter_is_none(to) &&
        set_msfilter(ep, to) == 0)
        return 0;
    return mcrx__filter_apply(from, to, member_call, ep, err);
}

static mcrx_error udp_apply(mcrx__endpoint *ep, uint32_t ifindex, const mcrx__filter *from,
                            const mcrx__filter *to, mcrx__err *err) {
    int joining = mcrx__filter_is_none(from) && !mcrx__filter_is_none(to);
    int leaving = !mcrx__filter_is_none(from) && mcrx__filter_is_none(to);
    mcrx_error rc;
    if (ifindex != 0) {
        /* One interface of a set: the socket is bound to no device and
         * stays so; the receive-side check keeps the others' copies out. */
        mcrx__endpoint one = *ep;
        one.ifindex = ifindex;
        memset(&one.ifaddr, 0, sizeof one.ifaddr);
        return apply_filter(&one, from, to, err);
    }
    rc = apply_filter(ep, from, to, err);
    if (rc != 0)
        return rc;
    if (to->group.family != MCRX_IP_V6)
        return 0;
    if (joining && ep->ifindex == 0) {
        /* Joined where the kernel chose: pin the socket to that interface
         * so other links' copies stay out. */
        rc = pin_interface(ep, &to->group, err);
        if (rc != 0) {
            mcrx__err ignored;
            mcrx__filter_apply(to, from, member_call, ep, &ignored);
        }
    } else if (leaving) {
        rc = unpin_interface(ep, err);
    }
    return rc;
}

/* Lent to the raw packet backend (linux_member.h). */
mcrx_error mcrx__linux_member_apply(mcrx__endpoint *ep, const mcrx__filter *from,
                                    const mcrx__filter *to, mcrx__err *err) {
    return apply_filter(ep, from, to, err);
}

/* ---- receive ------------------------------------------------------------------ */

#define CTRL_SPACE 256

typedef union {
    struct cmsghdr align;
    char buf[CTRL_SPACE];
} ctrl_buf;

/* The next item, or NULL where this one's length reaches the end of the
 * buffer (stepping past it would be pointer arithmetic out of bounds). */
static struct cmsghdr *next_cmsg(struct msghdr *mh, struct cmsghdr *c, const unsigned char *end) {
    if (c->cmsg_len >= (size_t)(end - (const unsigned char *)c))
        return NULL;
    return CMSG_NXTHDR(mh, c);
}

/* Reads the reports the kernel put beside a datagram. The chain is walked
 * with the system's macros; each item's data length is clamped to what is
 * left of the buffer, so a malformed length never reads past it. */
void mcrx__plat_parse_cmsgs(const void *control, size_t controllen, mcrx__rxinfo *info) {
    struct msghdr mh;
    struct cmsghdr *c;
    const unsigned char *end;
    info->valid = 0;
    if (control == NULL)
        return;
    end = (const unsigned char *)control + controllen;
    memset(&mh, 0, sizeof mh);
    mh.msg_control = (void *)(uintptr_t)control;
    mh.msg_controllen = controllen;
    for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = next_cmsg(&mh, c, end)) {
        const unsigned char *data = CMSG_DATA(c);
        size_t hdr = (size_t)(data - (const unsigned char *)c), dlen;
        size_t left = (size_t)(end - (const unsigned char *)c);
        size_t clen = c->cmsg_len < left ? c->cmsg_len : left;
        if (clen < hdr)
            break; /* a length shorter than its own header ends the chain */
        dlen = clen - hdr;
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
            dlen >= sizeof(struct in_pktinfo)) {
            struct in_pktinfo pi;
            memcpy(&pi, data, sizeof pi);
            memset(&info->dst, 0, sizeof info->dst);
            info->dst.family = MCRX_IP_V4;
            memcpy(info->dst.bytes, &pi.ipi_addr, 4);
            info->ifindex = (uint32_t)pi.ipi_ifindex;
            info->valid |= MCRX_META_DESTINATION | (pi.ipi_ifindex > 0 ? MCRX_META_INGRESS_IF : 0);
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
                   dlen >= sizeof(struct in6_pktinfo)) {
            struct in6_pktinfo pi;
            memcpy(&pi, data, sizeof pi);
            memset(&info->dst, 0, sizeof info->dst);
            info->dst.family = MCRX_IP_V6;
            memcpy(info->dst.bytes, &pi.ipi6_addr, 16);
            info->ifindex = pi.ipi6_ifindex;
            info->valid |= MCRX_META_DESTINATION | (pi.ipi6_ifindex > 0 ? MCRX_META_INGRESS_IF : 0);
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
                   dlen >= sizeof(struct timespec)) {
            struct timespec ts;
            memcpy(&ts, data, sizeof ts);
            /* Out of int64 nanoseconds' range (only a forged buffer): no time. */
            if (ts.tv_sec >= -(INT64_MAX / 1000000000) + 1 && ts.tv_sec <= INT64_MAX / 1000000000 - 1 &&
                ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000) {
                info->ts_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
                info->valid |= MCRX_META_TIMESTAMP;
            }
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
                   dlen >= sizeof(uint32_t)) {
            uint32_t d;
            memcpy(&d, data, sizeof d);
            info->drops = d;
            info->valid |= MCRX_META_DROPS;
        } else if (((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
                    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) &&
                   dlen >= sizeof(int)) {
            int t;
            memcpy(&t, data, sizeof t);
            info->ttl = (uint8_t)t;
            info->valid |= MCRX_META_TTL;
        }
    }
}

static void finish(mcrx_datagram *dg, mcrx__rxinfo *info, struct msghdr *mh, size_t wire,
                   const sockaddr_u *src) {
    dg->wire_len = wire;
    dg->len = wire < dg->cap ? wire : dg->cap;
    dg->flags = (mh->msg_flags & MSG_TRUNC) || wire > dg->cap ? MCRX_DATAGRAM_TRUNCATED : 0;
    if (mcrx_ip_from_sockaddr(&src->sa, &dg->source, &dg->source_port) != MCRX_ERROR_NONE) {
        memset(&dg->source, 0, sizeof dg->source);
        dg->source_port = 0;
    }
    /* A cut chain is not trusted. */
    mcrx__plat_parse_cmsgs(mh->msg_control,
                           (mh->msg_flags & MSG_CTRUNC) ? 0 : (size_t)mh->msg_controllen, info);
}

/* "Nothing queued" is 0; anything else names the error, and says so where
 * the socket was closed (or replaced) behind the library's back. */
static mcrx_error recv_fail(mcrx__err *err, int os) {
    char text[128];
    if (os == EAGAIN || os == EWOULDBLOCK)
        return 0;
    mcrx__os_error_text(os, text, sizeof text);
    return mcrx__fail(err, MCRX_ERROR_RECEIVE_FAILED, os, "%s (errno %d)%s", text, os,
                      os == EBADF || os == ENOTSOCK
                          ? ": its socket was closed outside the library"
                          : "");
}

static mcrx_error udp_recv(mcrx__endpoint *ep, mcrx_datagram *dgs, mcrx__rxinfo *info, size_t n,
                           size_t *got, mcrx__err *err) {
    int cmsgs = ep->cmsgs;
    int sock = (int)ep->sock;
    struct mmsghdr mm[MCRX__RX_CHUNK];
    struct iovec iov[MCRX__RX_CHUNK];
    sockaddr_u src[MCRX__RX_CHUNK];
    ctrl_buf ctrl[MCRX__RX_CHUNK];
    size_t i;
    int r;

    *got = 0;
    if (n > MCRX__RX_CHUNK)
        n = MCRX__RX_CHUNK;
    if (n == 1 && !cmsgs) {
        /* No reports to read: recvfrom skips recvmsg's header copying. */
        socklen_t slen = sizeof src[0];
        ssize_t len;
        do
            len = recvfrom(sock, dgs[0].buf, dgs[0].cap, MSG_DONTWAIT | MSG_TRUNC, &src[0].sa,
                           &slen);
        while (len < 0 && errno == EINTR);
        if (len < 0)
            return recv_fail(err, errno);
        memset(&mm[0].msg_hdr, 0, sizeof mm[0].msg_hdr); /* no flags, no cmsgs */
        finish(&dgs[0], &info[0], &mm[0].msg_hdr, (size_t)len, &src[0]);
        *got = 1;
        return 0;
    }
    for (i = 0; i < n; i++) {
        iov[i].iov_base = dgs[i].buf;
        iov[i].iov_len = dgs[i].cap;
        memset(&mm[i].msg_hdr, 0, sizeof mm[i].msg_hdr);
        mm[i].msg_hdr.msg_name = &src[i];
        mm[i].msg_hdr.msg_namelen = sizeof src[i];
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
        if (cmsgs) {
            mm[i].msg_hdr.msg_control = ctrl[i].buf;
            mm[i].msg_hdr.msg_controllen = sizeof ctrl[i].buf;
        }
    }
    if (n == 1) {
        /* One datagram: plain recvmsg is cheaper than recvmmsg's setup. */
        ssize_t len;
        do
            len = recvmsg(sock, &mm[0].msg_hdr, MSG_DONTWAIT | MSG_TRUNC);
        while (len < 0 && errno == EINTR);
        if (len < 0)
            return recv_fail(err, errno);
        finish(&dgs[0], &info[0], &mm[0].msg_hdr, (size_t)len, &src[0]);
        *got = 1;
        return 0;
    }
    do
        r = recvmmsg(sock, mm, (unsigned)n, MSG_DONTWAIT | MSG_TRUNC, NULL);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return recv_fail(err, errno);
    for (i = 0; i < (size_t)r; i++)
        finish(&dgs[i], &info[i], &mm[i].msg_hdr, mm[i].msg_len, &src[i]);
    *got = (size_t)r;
    return 0;
}

static mcrx_sock udp_wait_handle(const mcrx__endpoint *ep) {
    return ep->sock;
}

const mcrx__backend mcrx__udp_backend = {
    "udp",
    MCRX__CAP_BATCH | MCRX__CAP_CALLER_SOCKET | MCRX__CAP_RXINFO | MCRX__CAP_IP_SOCKET,
    udp_open,
    udp_adopt,
    udp_apply,
    udp_recv,
    NULL, /* no views: the caller's buffers are filled directly */
    udp_wait_handle,
    udp_close,
};
