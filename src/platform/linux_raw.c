/*
 * Linux's raw receive backend (mcrx__raw_backend) and the capture pieces of
 * raw.h: whole IP datagrams from a packet socket (AF_PACKET, SOCK_DGRAM, so
 * no link-layer header), memberships on a separate IP socket.
 *
 * Exact-once, measured on this kernel (docs/raw.md):
 * - On lo, a locally sent datagram is captured twice: as PACKET_OUTGOING
 *   and again as received. The kernel filter drops the outgoing copy on lo.
 * - On any other interface, a datagram this host sends is captured once,
 *   as PACKET_OUTGOING (the looped-back copy, PACKET_LOOPBACK, never
 *   reaches packet sockets): kept, as an IP socket would receive it.
 * - Bound to every interface, one datagram crossing a bridge is captured
 *   once per interface it crosses: a capture is therefore started on the
 *   one interface its membership is on (named, or where the kernel joined).
 * - A socket opened with ETH_P_ALL queues unfiltered traffic before its
 *   filter is attached: the socket is opened with protocol 0 (it captures
 *   nothing), the filter attached, and only then bound with ETH_P_ALL
 *   (which is what sees this host's own sends).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../internal.h"
#include "linux_member.h"
#include "raw.h"

#ifndef SKF_AD_PKTTYPE
#define SKF_AD_PKTTYPE 4
#endif
#ifndef SKF_AD_IFINDEX
#define SKF_AD_IFINDEX 8
#endif
#ifndef TP_STATUS_CSUM_VALID
#define TP_STATUS_CSUM_VALID (1 << 7)
#endif

#define LOOPBACK_IFINDEX 1 /* lo is index 1 in every network namespace */

struct mcrx__rawcap {
    int fd;
    int family;
    uint64_t drops;
};

static mcrx_error os_fail(mcrx__err *err, mcrx_error code, int os, const char *what,
                          const char *hint) {
    char text[128];
    mcrx__os_error_text(os, text, sizeof text);
    if (hint != NULL)
        return mcrx__fail(err, code, os, "%s: %s (errno %d): %s", what, text, os, hint);
    return mcrx__fail(err, code, os, "%s: %s (errno %d)", what, text, os);
}

static uint32_t word(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* ---- the kernel filter --------------------------------------------------------- */

#define MAX_INSNS 40

typedef struct {
    struct sock_filter insn[MAX_INSNS];
    int n;
} prog;

static void emit(prog *p, uint16_t code, uint32_t k) {
    struct sock_filter f = {code, 0, 0, k};
    p->insn[p->n++] = f;
}

/* A test that falls through when equal and jumps to the drop (fixed up at
 * the end: jf is set to a marker). */
static void must_equal(prog *p, uint32_t k) {
    struct sock_filter f = {BPF_JMP | BPF_JEQ | BPF_K, 0, 0xff, k};
    p->insn[p->n++] = f;
}

static void load_word(prog *p, uint32_t off) {
    emit(p, BPF_LD | BPF_W | BPF_ABS, off);
}

/*
 * The filter, on the network header (SOCK_DGRAM): the family's EtherType;
 * not an outgoing copy on lo; IP version; destination = group (each 32-bit
 * word), or any multicast destination without a group; source = source
 * (SSM). Accepts the whole datagram.
 */
static void build_filter(prog *p, int family, const mcrx_ip *group, const mcrx_ip *source) {
    int v4 = family == MCRX_IP_V4, i, words = v4 ? 1 : 4;
    uint32_t dst_off = v4 ? 16 : 24, src_off = v4 ? 12 : 8;
    p->n = 0;
    emit(p, BPF_LD | BPF_H | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL));
    must_equal(p, v4 ? ETH_P_IP : ETH_P_IPV6);
    /* pkttype == OUTGOING && ifindex == lo -> drop */
    emit(p, BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE));
    {
        struct sock_filter f = {BPF_JMP | BPF_JEQ | BPF_K, 0, 2, PACKET_OUTGOING};
        p->insn[p->n++] = f;
    }
    emit(p, BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_IFINDEX));
    {
        struct sock_filter f = {BPF_JMP | BPF_JEQ | BPF_K, 0xff, 0, LOOPBACK_IFINDEX};
        p->insn[p->n++] = f;
    }
    emit(p, BPF_LD | BPF_B | BPF_ABS, 0);
    emit(p, BPF_ALU | BPF_AND | BPF_K, 0xf0);
    must_equal(p, v4 ? 0x40 : 0x60);
    if (group == NULL) {
        emit(p, BPF_LD | BPF_B | BPF_ABS, dst_off);
        if (v4) {
            emit(p, BPF_ALU | BPF_AND | BPF_K, 0xf0);
            must_equal(p, 0xe0);
        } else {
            must_equal(p, 0xff);
        }
    } else {
        for (i = 0; i < words; i++) {
            load_word(p, dst_off + 4 * (uint32_t)i);
            must_equal(p, word(group->bytes + 4 * i));
        }
    }
    if (source != NULL && source->family == family) {
        for (i = 0; i < words; i++) {
            load_word(p, src_off + 4 * (uint32_t)i);
            must_equal(p, word(source->bytes + 4 * i));
        }
    }
    emit(p, BPF_RET | BPF_K, 0x40000); /* keep all of it */
    emit(p, BPF_RET | BPF_K, 0);       /* the drop */
    for (i = 0; i < p->n; i++) {
        if (p->insn[i].jf == 0xff)
            p->insn[i].jf = (uint8_t)(p->n - 1 - i - 1);
        if (p->insn[i].jt == 0xff)
            p->insn[i].jt = (uint8_t)(p->n - 1 - i - 1);
    }
}

/* ---- captures ------------------------------------------------------------------ */

static const char cap_net_raw_hint[] =
    "raw capture needs CAP_NET_RAW: run as root, grant it (setcap cap_net_raw+ep PROGRAM), "
    "or run in a user and network namespace of your own (unshare --user --map-root-user --net)";

static mcrx_error set_opt(int fd, int level, int opt, int v, const char *name, mcrx__err *err) {
    if (setsockopt(fd, level, opt, &v, sizeof v) != 0)
        return os_fail(err, MCRX_ERROR_SOCKET_OPTION_FAILED, errno, name, NULL);
    return 0;
}

mcrx_error mcrx__rawcap_open(int family, const mcrx_ip *group, const mcrx_ip *source,
                             uint32_t rx, uint32_t rcvbuf, mcrx__rawcap **out, mcrx__err *err) {
    struct sock_fprog fp;
    prog p;
    mcrx__rawcap *c;
    int fd;
    *out = NULL;
    /* Protocol 0: nothing is captured until bind names one, so nothing
     * unfiltered is queued before the filter is in place. */
    fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return os_fail(err, MCRX_ERROR_RAW_SOCKET_CREATE_FAILED, errno, "socket(AF_PACKET)",
                       errno == EPERM || errno == EACCES ? cap_net_raw_hint : NULL);
    build_filter(&p, family, group, source);
    fp.len = (unsigned short)p.n;
    fp.filter = p.insn;
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp) != 0) {
        os_fail(err, MCRX_ERROR_SOCKET_OPTION_FAILED, errno, "SO_ATTACH_FILTER", NULL);
        close(fd);
        return err->code;
    }
    if (set_opt(fd, SOL_PACKET, PACKET_AUXDATA, 1, "PACKET_AUXDATA", err) != 0 ||
        ((rx & MCRX_RX_TIMESTAMP) &&
         set_opt(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS", err) != 0) ||
        ((rx & MCRX_RX_DROPS) && set_opt(fd, SOL_SOCKET, SO_RXQ_OVFL, 1, "SO_RXQ_OVFL", err) != 0)) {
        close(fd);
        return err->code;
    }
    if (rcvbuf > 0) {
        int v = rcvbuf > INT32_MAX / 2 ? INT32_MAX / 2 : (int)rcvbuf;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) != 0 &&
            set_opt(fd, SOL_SOCKET, SO_RCVBUF, v, "SO_RCVBUF", err) != 0) {
            close(fd);
            return err->code;
        }
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "raw capture");
    }
    c->fd = fd;
    c->family = family;
    *out = c;
    return 0;
}

static mcrx_error bind_cap(mcrx__rawcap *c, uint32_t ifindex, uint16_t proto, mcrx__err *err) {
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(proto);
    sll.sll_ifindex = (int)ifindex;
    if (bind(c->fd, (struct sockaddr *)&sll, sizeof sll) != 0) {
        char what[48];
        snprintf(what, sizeof what, "bind(AF_PACKET, ifindex %u)", ifindex);
        return os_fail(err, MCRX_ERROR_RAW_SOCKET_BIND_FAILED, errno, what,
                       errno == ENODEV ? "no such interface" : NULL);
    }
    return 0;
}

mcrx_error mcrx__rawcap_start(mcrx__rawcap *c, uint32_t ifindex, mcrx__err *err) {
    /* ETH_P_ALL: the only binding that also sees this host's own sends. */
    return bind_cap(c, ifindex, ETH_P_ALL, err);
}

mcrx_error mcrx__rawcap_stop(mcrx__rawcap *c, mcrx__err *err) {
    return bind_cap(c, 0, 0, err);
}

mcrx_sock mcrx__rawcap_handle(const mcrx__rawcap *c) {
    return c->fd;
}

uint64_t mcrx__rawcap_drops(mcrx__rawcap *c) {
    struct tpacket_stats st;
    socklen_t len = sizeof st;
    memset(&st, 0, sizeof st);
    /* Reading resets the kernel's counts: keep the running sum. */
    if (getsockopt(c->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
        c->drops += st.tp_drops;
    return c->drops;
}

void mcrx__rawcap_close(mcrx__rawcap *c) {
    if (c == NULL)
        return;
    close(c->fd);
    free(c);
}

/* ---- receive -------------------------------------------------------------------- */

#define CTRL_SPACE 192

typedef union {
    struct cmsghdr align;
    char buf[CTRL_SPACE];
} ctrl_buf;

static void parse_aux(struct msghdr *mh, uint32_t *flags) {
    struct cmsghdr *c;
    if (mh->msg_flags & MSG_CTRUNC)
        return;
    for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
        struct tpacket_auxdata aux;
        if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA ||
            c->cmsg_len < CMSG_LEN(sizeof aux))
            continue;
        memcpy(&aux, CMSG_DATA(c), sizeof aux);
        if (aux.tp_status & TP_STATUS_CSUMNOTREADY)
            *flags |= MCRX__RAW_CSUM_NOT_READY;
        if (aux.tp_status & TP_STATUS_CSUM_VALID)
            *flags |= MCRX__RAW_CSUM_VALID;
    }
}

/* Fills one slot from what recvmsg returned: wire bytes were on the wire
 * (MSG_TRUNC), the first min(wire, cap) are in buf. */
static void finish(mcrx_datagram *dg, mcrx__rxinfo *info, struct msghdr *mh, size_t wire,
                   const struct sockaddr_ll *from) {
    const uint8_t *p = dg->buf;
    size_t have = wire < dg->cap ? wire : dg->cap, ip_len = 0;
    uint32_t flags = 0;
    int ok = 0;

    mcrx__plat_parse_cmsgs(mh->msg_control,
                           (mh->msg_flags & MSG_CTRUNC) ? 0 : (size_t)mh->msg_controllen, info);
    info->valid &= MCRX_META_TIMESTAMP | MCRX_META_DROPS;
    parse_aux(mh, &flags);
    memset(&dg->source, 0, sizeof dg->source);
    dg->source_port = 0;
    if (have >= 20 && (p[0] >> 4) == 4) {
        size_t ihl = (size_t)(p[0] & 0x0f) * 4, tot = (size_t)p[2] << 8 | p[3];
        if (ihl >= 20 && tot >= ihl && tot <= wire && have >= ihl) {
            ok = 1;
            ip_len = tot;
            dg->source.family = info->dst.family = MCRX_IP_V4;
            memcpy(dg->source.bytes, p + 12, 4);
            memcpy(info->dst.bytes, p + 16, 4);
            info->ttl = p[8];
            flags |= MCRX__RAW_PROTO_VALID | (uint32_t)p[9] << MCRX__RAW_PROTO_SHIFT;
        }
    } else if (have >= 40 && (p[0] >> 4) == 6) {
        size_t tot = 40 + ((size_t)p[4] << 8 | p[5]);
        /* Payload length 0 with a hop-by-hop header is a jumbogram: not supported. */
        if (tot <= wire && !(tot == 40 && p[6] == 0)) {
            ok = 1;
            ip_len = tot;
            dg->source.family = info->dst.family = MCRX_IP_V6;
            memcpy(dg->source.bytes, p + 8, 16);
            memcpy(info->dst.bytes, p + 24, 16);
            info->ttl = p[7];
            flags |= MCRX__RAW_PROTO_VALID | (uint32_t)p[6] << MCRX__RAW_PROTO_SHIFT;
        }
    }
    /* Defence behind the kernel filter: never lo's outgoing copy. */
    if (from->sll_pkttype == PACKET_OUTGOING && from->sll_ifindex == LOOPBACK_IFINDEX)
        ok = 0;
    if (!ok) {
        /* Not a well-formed IP datagram: no destination, so it is discarded. */
        dg->wire_len = wire;
        dg->len = have;
        dg->flags = wire > dg->cap ? MCRX_DATAGRAM_TRUNCATED : 0;
        return;
    }
    dg->wire_len = ip_len;
    dg->len = ip_len < dg->cap ? ip_len : dg->cap;
    dg->flags = flags | (ip_len > dg->cap ? MCRX_DATAGRAM_TRUNCATED : 0);
    info->ifindex = (uint32_t)from->sll_ifindex;
    info->valid |= MCRX_META_DESTINATION | MCRX_META_TTL |
                   (from->sll_ifindex > 0 ? MCRX_META_INGRESS_IF : 0);
}

static mcrx_error recv_fail(mcrx__err *err, int os) {
    char text[128];
    if (os == EAGAIN || os == EWOULDBLOCK)
        return 0;
    mcrx__os_error_text(os, text, sizeof text);
    return mcrx__fail(err, MCRX_ERROR_RECEIVE_FAILED, os, "%s (errno %d)", text, os);
}

mcrx_error mcrx__rawcap_recv(mcrx__rawcap *c, mcrx_datagram *dgs, mcrx__rxinfo *info, size_t n,
                             size_t *got, mcrx__err *err) {
    struct mmsghdr mm[MCRX__RX_CHUNK];
    struct iovec iov[MCRX__RX_CHUNK];
    struct sockaddr_ll from[MCRX__RX_CHUNK];
    ctrl_buf ctrl[MCRX__RX_CHUNK];
    size_t i;
    int r;

    *got = 0;
    if (n > MCRX__RX_CHUNK)
        n = MCRX__RX_CHUNK;
    for (i = 0; i < n; i++) {
        iov[i].iov_base = dgs[i].buf;
        iov[i].iov_len = dgs[i].cap;
        memset(&mm[i].msg_hdr, 0, sizeof mm[i].msg_hdr);
        memset(&from[i], 0, sizeof from[i]);
        mm[i].msg_hdr.msg_name = &from[i];
        mm[i].msg_hdr.msg_namelen = sizeof from[i];
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
        mm[i].msg_hdr.msg_control = ctrl[i].buf;
        mm[i].msg_hdr.msg_controllen = sizeof ctrl[i].buf;
    }
    if (n == 1) {
        ssize_t len;
        do
            len = recvmsg(c->fd, &mm[0].msg_hdr, MSG_DONTWAIT | MSG_TRUNC);
        while (len < 0 && errno == EINTR);
        if (len < 0)
            return recv_fail(err, errno);
        finish(&dgs[0], &info[0], &mm[0].msg_hdr, (size_t)len, &from[0]);
        *got = 1;
        return 0;
    }
    do
        r = recvmmsg(c->fd, mm, (unsigned)n, MSG_DONTWAIT | MSG_TRUNC, NULL);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return recv_fail(err, errno);
    for (i = 0; i < (size_t)r; i++)
        finish(&dgs[i], &info[i], &mm[i].msg_hdr, mm[i].msg_len, &from[i]);
    *got = (size_t)r;
    return 0;
}

/* ---- membership sockets -------------------------------------------------------------- */

mcrx_error mcrx__rawmember_open(int family, mcrx_sock *out, mcrx__err *err) {
    int fd = socket(family == MCRX_IP_V6 ? AF_INET6 : AF_INET,
                    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    *out = MCRX_SOCK_INVALID;
    if (fd < 0)
        return os_fail(err, MCRX_ERROR_SOCKET_CREATE_FAILED, errno, "socket (membership)",
                       errno == EMFILE ? "open file limit reached; raise it with ulimit -n"
                                       : NULL);
    /* Unbound, it never receives; IP_MULTICAST_ALL off all the same. */
    if (family == MCRX_IP_V4)
        (void)setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &(int){0}, sizeof(int));
    *out = fd;
    return 0;
}

mcrx_error mcrx__rawmember_apply(mcrx_sock s, uint32_t ifindex, const mcrx_ip *ifaddr,
                                 const mcrx__filter *from, const mcrx__filter *to,
                                 mcrx__err *err) {
    mcrx__endpoint ep;
    memset(&ep, 0, sizeof ep);
    ep.be = &mcrx__raw_backend;
    ep.sock = s;
    ep.ifindex = ifindex;
    if (ifaddr != NULL)
        ep.ifaddr = *ifaddr;
    return mcrx__linux_member_apply(&ep, from, to, err);
}

uint32_t mcrx__rawmember_where(mcrx_sock s, const mcrx_ip *group) {
    struct if_nameindex *list, *it;
    uint32_t found = 0;
    int level = group->family == MCRX_IP_V6 ? IPPROTO_IPV6 : IPPROTO_IP;
    list = if_nameindex();
    if (list == NULL)
        return 0;
    for (it = list; it->if_index != 0 && found == 0; it++) {
        union {
            struct group_filter gf;
            char room[GROUP_FILTER_SIZE(1)];
        } q;
        socklen_t len = sizeof q;
        mcrx_ip g = *group;
        memset(&q, 0, sizeof q);
        g.scope_id = 0;
        q.gf.gf_interface = it->if_index;
        q.gf.gf_numsrc = 1;
        mcrx_ip_to_sockaddr(&g, 0, &q.gf.gf_group, sizeof q.gf.gf_group);
        if (getsockopt((int)s, level, MCAST_MSFILTER, &q, &len) == 0)
            found = it->if_index;
    }
    if_freenameindex(list);
    return found;
}

void mcrx__rawmember_close(mcrx_sock s) {
    if (s != MCRX_SOCK_INVALID)
        close((int)s);
}

/* The interface the kernel routes group to, and its source address there. */
static mcrx_error route_of(const mcrx_ip *group, uint32_t *ifindex, mcrx_ip *ifaddr,
                           mcrx__err *err) {
    struct sockaddr_storage ss;
    socklen_t slen;
    mcrx_subscription_config probe;
    mcrx_ip g = *group;
    int af = group->family == MCRX_IP_V6 ? AF_INET6 : AF_INET;
    int fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    char text[MCRX_IP_STRLEN];
    if (fd < 0)
        return os_fail(err, MCRX_ERROR_SOCKET_CREATE_FAILED, errno, "socket (route probe)", NULL);
    g.scope_id = 0;
    slen = (socklen_t)mcrx_ip_to_sockaddr(&g, 9, &ss, sizeof ss);
    mcrx_ip_format(group, text, sizeof text);
    if (connect(fd, (struct sockaddr *)&ss, slen) != 0) {
        int e = errno;
        close(fd);
        return mcrx__fail(err, MCRX_ERROR_INTERFACE_DISCOVERY_FAILED, e,
                          "no route to %s (errno %d): name an interface", text, e);
    }
    slen = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &slen) != 0 ||
        mcrx_ip_from_sockaddr((struct sockaddr *)&ss, ifaddr, NULL) != 0) {
        int e = errno;
        close(fd);
        return os_fail(err, MCRX_ERROR_INTERFACE_DISCOVERY_FAILED, e, "getsockname", NULL);
    }
    close(fd);
    mcrx_subscription_config_init(&probe);
    probe.group = *group;
    probe.interface = *ifaddr;
    if (mcrx__config_interface_index(&probe, ifindex, err) != 0)
        return err->code;
    if (*ifindex == 0)
        return mcrx__fail(err, MCRX_ERROR_INTERFACE_DISCOVERY_FAILED, 0,
                          "no interface has the address the route to %s uses: name an interface",
                          text);
    return 0;
}

mcrx_error mcrx__raw_resolve(const mcrx_subscription_config *cfg, int route, uint32_t *ifindex,
                             mcrx_ip *ifaddr, mcrx__err *err) {
    mcrx_error rc = mcrx__config_interface_index(cfg, ifindex, err);
    memset(ifaddr, 0, sizeof *ifaddr);
    if (rc != 0)
        return rc;
    if (cfg->interface.family == cfg->group.family)
        *ifaddr = cfg->interface;
    if (*ifindex != 0 || !route || cfg->interface.family != MCRX_IP_NONE)
        return 0;
    return route_of(&cfg->group, ifindex, ifaddr, err);
}

/* ---- the per-subscription backend ---------------------------------------------------- */

typedef struct raw_ep {
    mcrx__rawcap *cap;
    mcrx_sock msock;    /* carries the membership */
    uint32_t named;     /* the interface the config names (0: none) */
    int started;
} raw_ep;

static mcrx_error raw_open(const mcrx_subscription_config *cfg, mcrx__endpoint *ep,
                           mcrx__err *err) {
    raw_ep *st = calloc(1, sizeof *st);
    const mcrx_ip *src = cfg->source.family != MCRX_IP_NONE ? &cfg->source : NULL;
    mcrx_error rc;
    if (st == NULL)
        return mcrx__fail(err, MCRX_ERROR_OUT_OF_MEMORY, 0, "raw endpoint");
    st->msock = MCRX_SOCK_INVALID;
    rc = mcrx__raw_resolve(cfg, 0, &st->named, &ep->ifaddr, err);
    if (rc == 0)
        rc = mcrx__rawcap_open(cfg->group.family, &cfg->group, src, cfg->rx_options,
                               cfg->rcvbuf_bytes, &st->cap, err);
    if (rc == 0)
        rc = mcrx__rawmember_open(cfg->group.family, &st->msock, err);
    if (rc != 0) {
        mcrx__rawcap_close(st->cap);
        free(st);
        return rc;
    }
    ep->state = st;
    ep->sock = mcrx__rawcap_handle(st->cap);
    ep->ifindex = st->named;
    ep->local_ip = cfg->group;
    ep->local_port = 0;
    ep->isolated = 0; /* every datagram carries its destination: classify checks it */
    ep->cmsgs = 1;
    ep->owned = 1;
    return 0;
}

static mcrx_error raw_apply(mcrx__endpoint *ep, uint32_t ifindex, const mcrx__filter *from,
                            const mcrx__filter *to, mcrx__err *err) {
    raw_ep *st = ep->state;
    int joining = mcrx__filter_is_none(from) && !mcrx__filter_is_none(to);
    int leaving = !mcrx__filter_is_none(from) && mcrx__filter_is_none(to);
    mcrx_error rc;
    if (ifindex != 0) /* raw configs have no interface sets */
        return mcrx__fail(err, MCRX_ERROR_NOT_SUPPORTED, 0,
                          "the raw receive path has no interface sets");
    rc = mcrx__rawmember_apply(st->msock, st->named, &ep->ifaddr, from, to, err);
    if (rc != 0)
        return rc;
    if (joining) {
        /* Capture where the membership is: the named interface, or the one
         * the kernel chose for the join. */
        uint32_t where = st->named != 0 ? st->named : mcrx__rawmember_where(st->msock, &to->group);
        rc = mcrx__rawcap_start(st->cap, where, err);
        if (rc != 0) {
            mcrx__err ignored;
            mcrx__rawmember_apply(st->msock, st->named, &ep->ifaddr, to, from, &ignored);
            return rc;
        }
        ep->ifindex = where;
        st->started = 1;
    } else if (leaving && st->started) {
        rc = mcrx__rawcap_stop(st->cap, err);
        if (rc != 0)
            return rc;
        ep->ifindex = st->named;
        st->started = 0;
    }
    return 0;
}

static mcrx_error raw_recv(mcrx__endpoint *ep, mcrx_datagram *dgs, mcrx__rxinfo *info, size_t n,
                           size_t *got, mcrx__err *err) {
    raw_ep *st = ep->state;
    return mcrx__rawcap_recv(st->cap, dgs, info, n, got, err);
}

static mcrx_sock raw_wait_handle(const mcrx__endpoint *ep) {
    return ep->sock;
}

static void raw_close(mcrx__endpoint *ep, int keep_sock) {
    raw_ep *st = ep->state;
    (void)keep_sock; /* no caller sockets: the capture is always the library's */
    if (st != NULL) {
        mcrx__rawcap_close(st->cap);
        mcrx__rawmember_close(st->msock);
        free(st);
    }
    ep->state = NULL;
    ep->sock = MCRX_SOCK_INVALID;
}

const mcrx__backend mcrx__raw_backend = {
    "raw",
    MCRX__CAP_BATCH | MCRX__CAP_RXINFO,
    raw_open,
    NULL, /* no caller sockets */
    raw_apply,
    raw_recv,
    NULL,
    raw_wait_handle,
    raw_close,
};

uint64_t mcrx__raw_endpoint_drops(mcrx__endpoint *ep) {
    raw_ep *st = ep->state;
    return st != NULL && ep->be == &mcrx__raw_backend ? mcrx__rawcap_drops(st->cap) : 0;
}
