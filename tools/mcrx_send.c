/*
 * mcrx_send: send a message to a multicast group, once or every interval.
 *
 *   mcrx_send <group> <dst_port> <message> [interval_ms] [interface]
 *             [--count N] [--ttl N] [--help]
 *
 * interface: an address (IPv4: bound source and IP_MULTICAST_IF; IPv6: bound
 * source and outgoing interface, because SSM receivers filter on the exact
 * source), or for IPv6 a scoped address (fe80::1%eth0) or a bare index.
 * TTL / hop limit 1 unless --ttl says otherwise; loopback on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mcrx/mcrx.h>

#include "compat.h"
#include "tool_common.h"

static const char *name = "mcrx_send";

static void usage(FILE *f) {
    fprintf(f,
            "usage: %s <group> <dst_port> <message> [interval_ms] [interface]\n"
            "\n"
            "Sends <message> to <group>:<dst_port>; once, or every interval_ms (> 0)\n"
            "until interrupted.\n"
            "\n"
            "  interface           local address to send from (also the outgoing\n"
            "                      interface); for IPv6 also fe80::1%%eth0 or an index\n"
            "  --count <n>         send n datagrams, then exit\n"
            "  --ttl <n>           TTL / hop limit (default 1)\n"
            "  --help              this text\n",
            name);
}

static int fail_usage(const char *fmt, const char *arg) {
    usage(stderr);
    fprintf(stderr, "%s: ", name);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv) {
    const char *pos[6];
    int npos = 0, i, one = 1;
    mcrx_sock fd;
    unsigned long port, interval = 0, count = 0, ttl = 1;
    mcrx_ip group, iface;
    int64_t index = MCRX_NO_INTERFACE_INDEX;
    struct sockaddr_storage dst, src;
    size_t dlen;
    char dtext[MCRX_IP_STRLEN + 16];
    unsigned long sent = 0;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--count") || !strcmp(argv[i], "--ttl")) {
            unsigned long *slot = argv[i][2] == 'c' ? &count : &ttl;
            if (i + 1 >= argc)
                return fail_usage("missing value after %s", argv[i]);
            if (mcrx_tool_parse_ulong(argv[i + 1], slot == &ttl ? 0 : 1, slot == &ttl ? 255 : LONG_MAX,
                                      slot) != 0)
                return fail_usage("invalid value '%s'", argv[i + 1]);
            i++;
            continue;
        }
        if (!strncmp(argv[i], "--", 2))
            return fail_usage("unexpected argument '%s'", argv[i]);
        if (npos == 5)
            return fail_usage("%s", "invalid arguments");
        pos[npos++] = argv[i];
    }
    if (npos < 3)
        return fail_usage("%s", "missing <group> <dst_port> <message>");
    if (mcrx_ip_parse(pos[0], &group) != MCRX_ERROR_NONE)
        return fail_usage("invalid group address '%s'", pos[0]);
    if (!mcrx_ip_is_multicast(&group))
        return fail_usage("group address %s is not multicast", pos[0]);
    if (mcrx_tool_parse_ulong(pos[1], 1, 65535, &port) != 0)
        return fail_usage("invalid dst_port '%s' (1 to 65535)", pos[1]);
    if (npos > 3 && mcrx_tool_parse_ulong(pos[3], 0, 86400000UL, &interval) != 0)
        return fail_usage("invalid interval_ms '%s'", pos[3]);
    memset(&iface, 0, sizeof iface);
    if (npos > 4) {
        if (mcrx_parse_interface(pos[4], group.family, &iface, &index) != MCRX_ERROR_NONE)
            return fail_usage("%s", mcrx_last_error());
        if (iface.family != MCRX_IP_NONE && iface.family != group.family)
            return fail_usage("interface %s is not of the group's address family", pos[4]);
        if (group.family == MCRX_IP_V6 && iface.family == MCRX_IP_V6 &&
            index == MCRX_NO_INTERFACE_INDEX) {
            unsigned idx = mcrx_tool_v6_index_of(&iface);
            if (idx == 0)
                return fail_usage("no local interface has address %s", pos[4]);
            index = idx;
        }
    }
    if (count == 0)
        count = interval == 0 ? 1 : 0; /* 0: until interrupted */

    if (mcrx_tool_net_init(name) != 0)
        return 1;
    fd = (mcrx_sock)socket(group.family == MCRX_IP_V6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    if (fd == MCRX_SOCK_INVALID) {
        fprintf(stderr, "%s: socket: %s\n", name, mcrx_tool_net_error());
        return 1;
    }
    memset(&src, 0, sizeof src);
    if (iface.family != MCRX_IP_NONE) {
        mcrx_ip bind_ip = iface;
        size_t slen;
        if (group.family == MCRX_IP_V6)
            bind_ip.scope_id = (uint32_t)index; /* needed for link-local sources */
        slen = mcrx_ip_to_sockaddr(&bind_ip, 0, &src, sizeof src);
        if (bind(fd, (struct sockaddr *)&src, (socklen_t)slen) != 0) {
            fprintf(stderr, "%s: bind to %s: %s\n", name, pos[4], mcrx_tool_net_error());
            return 1;
        }
    }
    if (group.family == MCRX_IP_V4) {
        int t = (int)ttl;
        int loop = 1;
        if (iface.family == MCRX_IP_V4) {
            struct in_addr a;
            memcpy(&a, iface.bytes, 4);
            if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, (const void *)&a, sizeof a) != 0) {
                fprintf(stderr, "%s: IP_MULTICAST_IF %s: %s\n", name, pos[4],
                        mcrx_tool_net_error());
                return 1;
            }
        }
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, (const void *)&t, sizeof t);
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, (const void *)&loop, sizeof loop);
    } else {
        int hops = (int)ttl;
        if (index != MCRX_NO_INTERFACE_INDEX) {
            unsigned idx = (unsigned)index;
            if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, (const void *)&idx, sizeof idx) !=
                0) {
                fprintf(stderr, "%s: IPV6_MULTICAST_IF %u: %s\n", name, idx,
                        mcrx_tool_net_error());
                return 1;
            }
            group.scope_id = idx; /* link- and interface-scope groups need it */
        }
        setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, (const void *)&hops, sizeof hops);
        setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, (const void *)&one, sizeof one);
    }
    dlen = mcrx_ip_to_sockaddr(&group, (uint16_t)port, &dst, sizeof dst);
    {
        mcrx_ip shown = group;
        char g[MCRX_IP_STRLEN];
        shown.scope_id = 0;
        mcrx_ip_format(&shown, g, sizeof g);
        snprintf(dtext, sizeof dtext, group.family == MCRX_IP_V6 ? "[%s]:%lu" : "%s:%lu", g,
                 port);
    }

    mcrx_tool_on_stop(on_signal, 0);

    printf("mcrx-send ready\n  group: %s\n  dst_port: %lu\n  interface: %s\n  interval_ms: %lu\n"
           "  ttl: %lu\n\n",
           pos[0], port, npos > 4 ? pos[4] : "default", interval, ttl);
    fflush(stdout);
    while (!stop && (count == 0 || sent < count)) {
        ssize_t n = sendto(fd, pos[2], strlen(pos[2]), 0, (struct sockaddr *)&dst, (socklen_t)dlen);
        if (n < 0) {
            fprintf(stderr, "%s: sendto %s: %s\n", name, dtext, mcrx_tool_net_error());
            return 1;
        }
        printf("sent %zd bytes to %s\n", n, dtext);
        fflush(stdout);
        sent++;
        if (interval > 0 && (count == 0 || sent < count))
            mcrx_tool_sleep((double)interval / 1000.0);
    }
    mcrx_tool_sock_close(fd);
    return 0;
}
