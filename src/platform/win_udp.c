/*
 * Windows' UDP receive backend (mcrx__udp_backend): Winsock 2 sockets,
 * memberships applied from filter states with Windows' own structures,
 * WSARecvMsg with IP_PKTINFO / IPV6_PKTINFO for the destination and the
 * ingress interface, and the OS's error texts (WSA codes).
 *
 * Windows will not bind a socket to a multicast group, and has no
 * IP_MULTICAST_ALL or device binding: every socket is bound to the wildcard
 * and keeps the destination report on, so the core's isolation check
 * (classify) sees every datagram's group and interface.
 */
#include "win_common.h"

#include <mswsock.h>
#include <stdio.h>
#include <string.h>

/* ---- errors ---------------------------------------------------------------- */

/* The names of the Winsock codes a receiver meets, for a system without a
 * text for them (wine 8 has none for several). */
static const char *wsa_name(int os) {
    switch (os) {
#define WSA_NAME_(c) \
    case c:         \
        return #c;
        WSA_NAME_(WSAEINTR) WSA_NAME_(WSAEBADF) WSA_NAME_(WSAEACCES) WSA_NAME_(WSAEFAULT)
        WSA_NAME_(WSAEINVAL) WSA_NAME_(WSAEMFILE) WSA_NAME_(WSAEWOULDBLOCK)
        WSA_NAME_(WSAENOTSOCK) WSA_NAME_(WSAEMSGSIZE) WSA_NAME_(WSAEPROTOTYPE)
        WSA_NAME_(WSAENOPROTOOPT) WSA_NAME_(WSAEPROTONOSUPPORT) WSA_NAME_(WSAEOPNOTSUPP)
        WSA_NAME_(WSAEAFNOSUPPORT) WSA_NAME_(WSAEADDRINUSE) WSA_NAME_(WSAEADDRNOTAVAIL)
        WSA_NAME_(WSAENETDOWN) WSA_NAME_(WSAENETUNREACH) WSA_NAME_(WSAECONNRESET)
        WSA_NAME_(WSAENOBUFS) WSA_NAME_(WSAEHOSTUNREACH) WSA_NAME_(WSANOTINITIALISED)
#undef WSA_NAME_
    default:
        return NULL;
    }
}

const char *mcrx__os_error_text(int os, char *buf, size_t len) {
    DWORD n;
    if (len == 0)
        return buf;
    n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                       (DWORD)os, MAKELANGID(LANG_ENGLISH, SUBLANG_DEFAULT), buf, (DWORD)len,
                       NULL);
    /* System texts end in ".\r\n": a message of ours goes on after them. */
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == '.'))
        buf[--n] = '\0';
    if (n == 0) {
        const char *name = wsa_name(os);
        if (name != NULL)
            snprintf(buf, len, "%s", name);
        else
            snprintf(buf, len, "Windows error %d", os);
    }
    return buf;
}

static const char *knob_for(int os, int joining) {
    switch (os) {
    case WSAENOBUFS:
        return joining ? "no buffer space for another membership on this socket" : NULL;
    case WSAEMFILE:
        return "the process has no socket handle left";
    case WSAEADDRNOTAVAIL:
        return joining ? "no local interface has that address, or no route for the group"
                       : "not a member of this group on this socket";
    case WSAEADDRINUSE:
        return "the port is held by a socket that did not set SO_REUSEADDR (or set "
               "SO_EXCLUSIVEADDRUSE)";
    case WSAEACCES:
        return "the port is held with SO_EXCLUSIVEADDRUSE by another program";
    case WSAENOPROTOOPT:
        return "this Windows (or wine) does not have the option";
    default:
        return NULL;
    }
}

mcrx_error mcrx__win_fail(mcrx__err *err, mcrx_error code, int os, const char *what, int joining) {
    const char *knob = knob_for(os, joining);
    char text[160];
    mcrx__os_error_text(os, text, sizeof text);
    if (knob != NULL)
        return mcrx__fail(err, code, os, "%s: %s (WSA error %d): %s", what, text, os, knob);
    return mcrx__fail(err, code, os, "%s: %s (WSA error %d)", what, text, os);
}

static mcrx_error set_int(SOCKET s, int level, int opt, int v, const char *name, mcrx__err *err) {
    DWORD d = (DWORD)v;
    if (setsockopt(s, level, opt, (const char *)&d, sizeof d) != 0)
        return mcrx__win_fail(err, MCRX_ERROR_SOCKET_OPTION_FAILED, WSAGetLastError(), name, 0);
    return 0;
}

/* ---- the endpoint's state: the WSARecvMsg entry point ---------------------------- */

typedef struct win_state {
    LPFN_WSARECVMSG recvmsg;
} win_state;

static mcrx_error find_recvmsg(SOCKET s, win_state **out, mcrx__err *err) {
    GUID id = WSAID_WSARECVMSG;
    DWORD bytes = 0;
    win_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "receive state");
    if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &st->recvmsg,
                 sizeof st->recvmsg, &bytes, NULL, NULL) != 0) {
        int os = WSAGetLastError();
        free(st);
        return mcrx__win_fail(err, MCRX_ERROR_SOCKET_OPTION_FAILED, os,
                              "SIO_GET_EXTENSION_FUNCTION_POINTER (WSARecvMsg)", 0);
    }
    *out = st;
    return 0;
}

/* ---- socket setup -------------------------------------------------------------------- */

/* Non-blocking, the destination report always, and cfg's other reports. */
static mcrx_error prepare(SOCKET s, int family, uint32_t rx, mcrx__err *err) {
    u_long on = 1;
    int v4 = family == MCRX_IP_V4;
    mcrx_error rc;
    if (ioctlsocket(s, FIONBIO, &on) != 0)
        return mcrx__win_fail(err, MCRX_ERROR_SOCKET_OPTION_FAILED, WSAGetLastError(), "FIONBIO",
                              0);
    rc = v4 ? set_int(s, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO", err)
            : set_int(s, IPPROTO_IPV6, IPV6_PKTINFO, 1, "IPV6_PKTINFO", err);
    if (rc == 0 && (rx & MCRX_RX_TTL))
        rc = v4 ? set_int(s, IPPROTO_IP, IP_RECVTTL, 1, "IP_RECVTTL", err)
                : set_int(s, IPPROTO_IPV6, IPV6_HOPLIMIT, 1, "IPV6_HOPLIMIT", err);
    if (rc == 0 && (rx & (MCRX_RX_TIMESTAMP | MCRX_RX_DROPS)))
        rc = mcrx__fail(err, MCRX_ERROR_NOT_SUPPORTED, 0,
                        "Windows reports neither a kernel receive time nor a drop count per "
                        "datagram (MCRX_RX_TIMESTAMP, MCRX_RX_DROPS)");
    return rc;
}

mcrx_error mcrx__plat_rcvbuf(mcrx_sock sock, size_t *bytes, mcrx__err *err) {
    int v = 0, len = sizeof v;
    if (getsockopt((SOCKET)sock, SOL_SOCKET, SO_RCVBUF, (char *)&v, &len) != 0)
        return mcrx__win_fail(err, MCRX_ERROR_SOCKET_OPTION_FAILED, WSAGetLastError(),
                              "SO_RCVBUF", 0);
    *bytes = (size_t)v;
    return 0;
}

static mcrx_error set_rcvbuf(SOCKET s, uint32_t bytes, mcrx__err *err) {
    int v = bytes > INT32_MAX / 2 ? INT32_MAX / 2 : (int)bytes;
    if (bytes == 0)
        return 0;
    if (setsockopt(s, SOL_SOCKET, SO_RCVBUF, (const char *)&v, sizeof v) != 0)
        return mcrx__win_fail(err, MCRX_ERROR_SOCKET_OPTION_FAILED, WSAGetLastError(),
                              "SO_RCVBUF", 0);
    return 0;
}

mcrx_error mcrx__plat_local_addr(mcrx_sock sock, mcrx_ip *ip, uint16_t *port, mcrx__err *err) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getsockname((SOCKET)sock, (struct sockaddr *)&ss, &len) != 0)
        return mcrx__win_fail(err, MCRX_ERROR_SOCKET_LOCAL_ADDR_FAILED, WSAGetLastError(),
                              "getsockname", 0);
    if (mcrx_ip_from_sockaddr((struct sockaddr *)&ss, ip, port) != MCRX_ERROR_NONE)
        return mcrx__fail(err, MCRX_ERROR_NON_IP_SOCKET_ADDRESS, 0, "address family %d",
                          ss.ss_family);
    return 0;
}

static mcrx_error udp_open(const mcrx_subscription_config *cfg, mcrx__endpoint *ep,
                           mcrx__err *err) {
    int family = cfg->group.family;
    struct sockaddr_storage addr;
    mcrx_ip any;
    size_t alen;
    SOCKET s;
    mcrx_error rc;

    if (mcrx__win_startup(err) != 0)
        return err->code;
    /* An interface set: a membership per interface, by index, at join. */
    rc = mcrx__config_has_ifset(cfg) ? 0 : mcrx__config_interface_index(cfg, &ep->ifindex, err);
    if (rc != 0)
        return rc;
    ep->ifaddr = cfg->interface;
    s = WSASocketW(family == MCRX_IP_V6 ? AF_INET6 : AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0,
                   WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET)
        return mcrx__win_fail(err, MCRX_ERROR_SOCKET_CREATE_FAILED, WSAGetLastError(), "socket",
                              0);
    rc = family == MCRX_IP_V6 ? set_int(s, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY", err) : 0;
    /* SO_REUSEADDR: every socket on the port gets each datagram of the
     * groups it joined, as on Linux. */
    if (rc == 0)
        rc = set_int(s, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR", err);
    if (rc != 0)
        goto fail;
    memset(&any, 0, sizeof any);
    any.family = family;
    alen = mcrx_ip_to_sockaddr(&any, cfg->dst_port, &addr, sizeof addr);
    if (bind(s, (struct sockaddr *)&addr, (int)alen) != 0) {
        rc = mcrx__win_fail(err, MCRX_ERROR_SOCKET_BIND_FAILED, WSAGetLastError(), "bind", 0);
        goto fail;
    }
    ep->isolated = 0; /* bound to the wildcard: classify checks every datagram */
    ep->cmsgs = 1;
    rc = prepare(s, family, cfg->rx_options, err);
    if (rc == 0)
        rc = set_rcvbuf(s, cfg->rcvbuf_bytes, err);
    if (rc == 0)
        rc = find_recvmsg(s, (win_state **)&ep->state, err);
    if (rc != 0)
        goto fail;
    ep->sock = (mcrx_sock)s;
    ep->owned = 1;
    rc = mcrx__plat_local_addr(ep->sock, &ep->local_ip, &ep->local_port, err);
    if (rc == 0)
        return 0;
    free(ep->state);
    ep->state = NULL;
fail:
    closesocket(s);
    return rc;
}

static mcrx_error udp_adopt(const mcrx_subscription_config *cfg, mcrx_sock sock,
                            mcrx__endpoint *ep, mcrx__err *err) {
    SOCKET s = (SOCKET)sock;
    int type = 0, tlen = sizeof type;
    mcrx_ip ip;
    uint16_t port;
    mcrx_error rc;

    if (mcrx__win_startup(err) != 0)
        return err->code;
    if (getsockopt(s, SOL_SOCKET, SO_TYPE, (char *)&type, &tlen) != 0)
        return mcrx__win_fail(err, MCRX_ERROR_INVALID_ARGUMENT, WSAGetLastError(),
                              "not a socket", 0);
    if (type != SOCK_DGRAM)
        return mcrx__fail(err, MCRX_ERROR_INVALID_ARGUMENT, 0,
                          "the socket is not a datagram (UDP) socket");
    rc = mcrx__plat_local_addr(sock, &ip, &port, err);
    if (rc != 0)
        return rc;
    rc = mcrx__config_check_bound(cfg, &ip, port, err);
    if (rc != 0)
        return rc;
    rc = mcrx__config_interface_index(cfg, &ep->ifindex, err);
    if (rc != 0)
        return rc;
    ep->ifaddr = cfg->interface;
    ep->isolated = 0;
    ep->cmsgs = 1;
    ep->sock = sock;
    ep->local_ip = ip;
    ep->local_port = port;
    rc = prepare(s, ip.family, cfg->rx_options, err);
    if (rc == 0)
        rc = set_rcvbuf(s, cfg->rcvbuf_bytes, err);
    if (rc == 0)
        rc = find_recvmsg(s, (win_state **)&ep->state, err);
    return rc;
}

static void udp_close(mcrx__endpoint *ep, int keep_sock) {
    if (!keep_sock && ep->sock != MCRX_SOCK_INVALID)
        closesocket((SOCKET)ep->sock);
    free(ep->state);
    ep->state = NULL;
    ep->sock = MCRX_SOCK_INVALID;
}

/* ---- memberships -------------------------------------------------------------------- */

static const char *const v4_names[] = {"IP_ADD_MEMBERSHIP", "IP_DROP_MEMBERSHIP",
                                       "IP_ADD_SOURCE_MEMBERSHIP", "IP_DROP_SOURCE_MEMBERSHIP",
                                       "IP_BLOCK_SOURCE", "IP_UNBLOCK_SOURCE"};
static const char *const v6_names[] = {"IPV6_ADD_MEMBERSHIP", "IPV6_DROP_MEMBERSHIP",
                                       "MCAST_JOIN_SOURCE_GROUP", "MCAST_LEAVE_SOURCE_GROUP",
                                       "MCAST_BLOCK_SOURCE", "MCAST_UNBLOCK_SOURCE"};

/* The request structures are Windows' own (ws2ipdef.h): ip_mreq_source
 * orders its fields multiaddr, sourceaddr, interface, unlike Linux; the
 * fields are set by name. IPv4 names the interface by address, IPv6 by
 * index, through the RFC 3678 calls for sources. */
mcrx_error mcrx__win_member_call(void *arg, const mcrx_ip *group, const mcrx_ip *source,
                                 mcrx__member_op op, mcrx__err *err) {
    static const int v4_opts[] = {IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP,
                                  IP_ADD_SOURCE_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP,
                                  IP_BLOCK_SOURCE, IP_UNBLOCK_SOURCE};
    static const int v6_opts[] = {IPV6_ADD_MEMBERSHIP, IPV6_DROP_MEMBERSHIP,
                                  MCAST_JOIN_SOURCE_GROUP, MCAST_LEAVE_SOURCE_GROUP,
                                  MCAST_BLOCK_SOURCE, MCAST_UNBLOCK_SOURCE};
    mcrx__endpoint *ep = arg;
    SOCKET s = (SOCKET)ep->sock;
    int family = group->family, rc, os;
    int joining = op == MCRX__OP_ADD_GROUP || op == MCRX__OP_ADD_SOURCE || op == MCRX__OP_BLOCK;
    int group_op = op == MCRX__OP_ADD_GROUP || op == MCRX__OP_DROP_GROUP;
    mcrx_error kind = joining ? MCRX_ERROR_MULTICAST_JOIN_FAILED : MCRX_ERROR_MULTICAST_LEAVE_FAILED;

    if (family == MCRX_IP_V4 && group_op) {
        struct ip_mreq m;
        memset(&m, 0, sizeof m);
        memcpy(&m.imr_multiaddr, group->bytes, 4);
        if (ep->ifaddr.family == MCRX_IP_V4)
            memcpy(&m.imr_interface, ep->ifaddr.bytes, 4);
        rc = setsockopt(s, IPPROTO_IP, v4_opts[op], (const char *)&m, sizeof m);
    } else if (family == MCRX_IP_V4) {
        struct ip_mreq_source m;
        memset(&m, 0, sizeof m);
        memcpy(&m.imr_multiaddr, group->bytes, 4);
        memcpy(&m.imr_sourceaddr, source->bytes, 4);
        if (ep->ifaddr.family == MCRX_IP_V4)
            memcpy(&m.imr_interface, ep->ifaddr.bytes, 4);
        rc = setsockopt(s, IPPROTO_IP, v4_opts[op], (const char *)&m, sizeof m);
    } else if (group_op) {
        struct ipv6_mreq m;
        memset(&m, 0, sizeof m);
        memcpy(&m.ipv6mr_multiaddr, group->bytes, 16);
        m.ipv6mr_interface = ep->ifindex;
        rc = setsockopt(s, IPPROTO_IPV6, v6_opts[op], (const char *)&m, sizeof m);
    } else {
        GROUP_SOURCE_REQ r;
        mcrx_ip g = *group, src = *source;
        memset(&r, 0, sizeof r);
        g.scope_id = 0;
        r.gsr_interface = ep->ifindex;
        mcrx_ip_to_sockaddr(&g, 0, &r.gsr_group, sizeof r.gsr_group);
        mcrx_ip_to_sockaddr(&src, 0, &r.gsr_source, sizeof r.gsr_source);
        rc = setsockopt(s, IPPROTO_IPV6, v6_opts[op], (const char *)&r, sizeof r);
    }
    if (rc == 0)
        return 0;
    os = WSAGetLastError();
    /* A stack without source filtering refuses the option itself. */
    if (os == WSAENOPROTOOPT && !group_op)
        kind = MCRX_ERROR_SOURCE_SPECIFIC_MULTICAST_UNSUPPORTED;
    return mcrx__win_fail(err, kind, os, family == MCRX_IP_V4 ? v4_names[op] : v6_names[op],
                          joining);
}

static mcrx_error udp_apply(mcrx__endpoint *ep, uint32_t ifindex, const mcrx__filter *from,
                            const mcrx__filter *to, mcrx__err *err) {
    /* Windows' memberships are per socket and interface: nothing to pin. */
    if (ifindex != 0) {
        /* One interface of a set, by index: IPv4's imr_interface takes an
         * index in the form 0.0.0.x (network byte order), IPv6 takes it as
         * is. */
        mcrx__endpoint one = *ep;
        one.ifindex = ifindex;
        memset(&one.ifaddr, 0, sizeof one.ifaddr);
        if (to->group.family == MCRX_IP_V4) {
            one.ifaddr.family = MCRX_IP_V4;
            one.ifaddr.bytes[0] = (uint8_t)(ifindex >> 24);
            one.ifaddr.bytes[1] = (uint8_t)(ifindex >> 16);
            one.ifaddr.bytes[2] = (uint8_t)(ifindex >> 8);
            one.ifaddr.bytes[3] = (uint8_t)ifindex;
        }
        return mcrx__filter_apply(from, to, mcrx__win_member_call, &one, err);
    }
    return mcrx__filter_apply(from, to, mcrx__win_member_call, ep, err);
}

/* ---- receive ------------------------------------------------------------------------- */

#define CTRL_SPACE 256

typedef union {
    WSACMSGHDR align;
    char buf[CTRL_SPACE];
} ctrl_buf;

/* Reads the reports beside a datagram. Each item is checked against the
 * end of the buffer before it is read; a malformed chain stops the walk. */
void mcrx__plat_parse_cmsgs(const void *control, size_t controllen, mcrx__rxinfo *info) {
    const unsigned char *p = control, *end;
    info->valid = 0;
    if (control == NULL)
        return;
    end = p + controllen;
    while ((size_t)(end - p) >= sizeof(WSACMSGHDR)) {
        WSACMSGHDR c;
        const unsigned char *data = p + WSA_CMSGDATA_ALIGN(sizeof(WSACMSGHDR));
        size_t dlen, step;
        memcpy(&c, p, sizeof c);
        if (c.cmsg_len < (size_t)(data - p) || c.cmsg_len > (size_t)(end - p))
            break;
        dlen = c.cmsg_len - (size_t)(data - p);
        if (c.cmsg_level == IPPROTO_IP && c.cmsg_type == IP_PKTINFO &&
            dlen >= sizeof(IN_PKTINFO)) {
            IN_PKTINFO pi;
            memcpy(&pi, data, sizeof pi);
            memset(&info->dst, 0, sizeof info->dst);
            info->dst.family = MCRX_IP_V4;
            memcpy(info->dst.bytes, &pi.ipi_addr, 4);
            info->ifindex = (uint32_t)pi.ipi_ifindex;
            info->valid |= MCRX_META_DESTINATION | (pi.ipi_ifindex > 0 ? MCRX_META_INGRESS_IF : 0);
        } else if (c.cmsg_level == IPPROTO_IPV6 && c.cmsg_type == IPV6_PKTINFO &&
                   dlen >= sizeof(IN6_PKTINFO)) {
            IN6_PKTINFO pi;
            memcpy(&pi, data, sizeof pi);
            memset(&info->dst, 0, sizeof info->dst);
            info->dst.family = MCRX_IP_V6;
            memcpy(info->dst.bytes, &pi.ipi6_addr, 16);
            info->ifindex = (uint32_t)pi.ipi6_ifindex;
            info->valid |= MCRX_META_DESTINATION | (pi.ipi6_ifindex > 0 ? MCRX_META_INGRESS_IF : 0);
        } else if (((c.cmsg_level == IPPROTO_IP && c.cmsg_type == IP_TTL) ||
                    (c.cmsg_level == IPPROTO_IPV6 && c.cmsg_type == IPV6_HOPLIMIT)) &&
                   dlen >= sizeof(int)) {
            int t;
            memcpy(&t, data, sizeof t);
            info->ttl = (uint8_t)t;
            info->valid |= MCRX_META_TTL;
        }
        step = WSA_CMSGHDR_ALIGN(c.cmsg_len);
        if (step == 0 || step > (size_t)(end - p))
            break;
        p += step;
    }
}

static mcrx_error udp_recv(mcrx__endpoint *ep, mcrx_datagram *dgs, mcrx__rxinfo *info, size_t n,
                           size_t *got, mcrx__err *err) {
    win_state *st = ep->state;
    size_t i;
    *got = 0;
    /* Winsock has no recvmmsg: one call per datagram. */
    for (i = 0; i < n; i++) {
        struct sockaddr_storage src;
        ctrl_buf ctrl;
        WSABUF buf;
        WSAMSG m;
        DWORD len = 0;
        int trunc = 0;
        /* Cleared first: nothing says a failed call (WSAEMSGSIZE) fills the
         * address and control data, and stale bytes must not pass for a
         * report. */
        memset(&m, 0, sizeof m);
        memset(&src, 0, sizeof src);
        memset(ctrl.buf, 0, sizeof ctrl.buf);
        buf.buf = (char *)dgs[i].buf;
        buf.len = (ULONG)(dgs[i].cap > ULONG_MAX ? ULONG_MAX : dgs[i].cap);
        m.name = (struct sockaddr *)&src;
        m.namelen = sizeof src;
        m.lpBuffers = &buf;
        m.dwBufferCount = 1;
        m.Control.buf = ctrl.buf;
        m.Control.len = sizeof ctrl.buf;
        if (st->recvmsg((SOCKET)ep->sock, &m, &len, NULL, NULL) != 0) {
            int os = WSAGetLastError();
            if (os == WSAEWOULDBLOCK)
                break;
            if (os != WSAEMSGSIZE) {
                char text[160];
                if (i > 0)
                    break; /* deliver these; the error shows on the next call */
                mcrx__os_error_text(os, text, sizeof text);
                return mcrx__fail(err, MCRX_ERROR_RECEIVE_FAILED, os, "%s (WSA error %d)%s",
                                  text, os,
                                  os == WSAENOTSOCK ? ": its socket was closed outside the library"
                                                    : "");
            }
            /* Larger than the slot: Windows fills it and drops the rest, so
             * the real size is unknown; cap + 1 says "larger". */
            trunc = 1;
            len = buf.len;
        }
        /* A stack may instead succeed with MSG_TRUNC: the same answer. */
        if (m.dwFlags & MSG_TRUNC)
            trunc = 1;
        dgs[i].len = len;
        dgs[i].wire_len = trunc ? (size_t)len + 1 : len;
        dgs[i].flags = trunc ? MCRX_DATAGRAM_TRUNCATED : 0;
        if (mcrx_ip_from_sockaddr((struct sockaddr *)&src, &dgs[i].source,
                                  &dgs[i].source_port) != MCRX_ERROR_NONE) {
            memset(&dgs[i].source, 0, sizeof dgs[i].source);
            dgs[i].source_port = 0;
        }
        mcrx__plat_parse_cmsgs(ctrl.buf, (m.dwFlags & MSG_CTRUNC) ? 0 : m.Control.len, &info[i]);
        (*got)++;
    }
    return 0;
}

static mcrx_sock udp_wait_handle(const mcrx__endpoint *ep) {
    return ep->sock;
}

const mcrx__backend mcrx__udp_backend = {
    "udp",
    MCRX__CAP_CALLER_SOCKET | MCRX__CAP_RXINFO | MCRX__CAP_IP_SOCKET,
    udp_open,
    udp_adopt,
    udp_apply,
    udp_recv,
    NULL,
    udp_wait_handle,
    udp_close,
};

/* No io_uring on Windows: contexts asking for it fall back to this UDP
 * backend (platform.h). */
mcrx_error mcrx__plat_uring_backend(unsigned nbufs, size_t room, const mcrx__backend **out,
                                    mcrx__err *err) {
    (void)nbufs;
    (void)room;
    *out = NULL;
    return mcrx__fail(err, MCRX_ERROR_NOT_SUPPORTED, 0, "io_uring: a Linux interface");
}

void mcrx__plat_uring_backend_free(const mcrx__backend *be) {
    (void)be;
}
