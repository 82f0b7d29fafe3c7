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
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mcrx/mcrx.h>

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

/* Index of the interface that holds an IPv6 address, 0 if none. */
static unsigned v6_index_of(const mcrx_ip *ip) {
    struct ifaddrs *list, *it;
    unsigned idx = 0;
    if (getifaddrs(&list) != 0)
        return 0;
    for (it = list; it != NULL && idx == 0; it = it->ifa_next) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)it->ifa_addr;
        if (in6 != NULL && in6->sin6_family == AF_INET6 &&
            memcmp(&in6->sin6_addr, ip->bytes, 16) == 0)
            idx = if_nametoindex(it->ifa_name);
    }
    freeifaddrs(list);
    return idx;
}

int main(int argc, char **argv) {
    const char *pos[6];
    int npos = 0, i, fd, one = 1;
    unsigned long port, interval = 0, count = 0, ttl = 1;
    mcrx_ip group, iface;
    int64_t index = MCRX_NO_INTERFACE_INDEX;
    struct sockaddr_storage dst, src;
    size_t dlen;
    char dtext[MCRX_IP_STRLEN + 16];
    unsigned long sent = 0;
    struct sigaction sa;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--count") || !strcmp(argv[i], "--ttl")) {
            unsigned long *slot = argv[i][2] == 'c' ? &count : &ttl;
            if (i + 1 >= argc)
                return fail_usage("missing value after %s", argv[i]);
            if (mcrx_tool_parse_ulong(argv[i + 1], slot == &ttl ? 0 : 1, slot == &ttl ? 255 : 1UL << 62,
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
            unsigned idx = v6_index_of(&iface);
            if (idx == 0)
                return fail_usage("no local interface has address %s", pos[4]);
            index = idx;
        }
    }
    if (count == 0)
        count = interval == 0 ? 1 : 0; /* 0: until interrupted */

    fd = socket(group.family == MCRX_IP_V6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        fprintf(stderr, "%s: socket: %s\n", name, strerror(errno));
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
            fprintf(stderr, "%s: bind to %s: %s\n", name, pos[4], strerror(errno));
            return 1;
        }
    }
    if (group.family == MCRX_IP_V4) {
        int t = (int)ttl;
        unsigned char loop = 1;
        if (iface.family == MCRX_IP_V4) {
            struct in_addr a;
            memcpy(&a, iface.bytes, 4);
            if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &a, sizeof a) != 0) {
                fprintf(stderr, "%s: IP_MULTICAST_IF %s: %s\n", name, pos[4], strerror(errno));
                return 1;
            }
        }
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &t, sizeof t);
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop);
    } else {
        int hops = (int)ttl;
        if (index != MCRX_NO_INTERFACE_INDEX) {
            unsigned idx = (unsigned)index;
            if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx) != 0) {
                fprintf(stderr, "%s: IPV6_MULTICAST_IF %u: %s\n", name, idx, strerror(errno));
                return 1;
            }
            group.scope_id = idx; /* link- and interface-scope groups need it */
        }
        setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
        setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &one, sizeof one);
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

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("mcrx-send ready\n  group: %s\n  dst_port: %lu\n  interface: %s\n  interval_ms: %lu\n"
           "  ttl: %lu\n\n",
           pos[0], port, npos > 4 ? pos[4] : "default", interval, ttl);
    fflush(stdout);
    while (!stop && (count == 0 || sent < count)) {
        ssize_t n = sendto(fd, pos[2], strlen(pos[2]), 0, (struct sockaddr *)&dst, (socklen_t)dlen);
        if (n < 0) {
            fprintf(stderr, "%s: sendto %s: %s\n", name, dtext, strerror(errno));
            return 1;
        }
        printf("sent %zd bytes to %s\n", n, dtext);
        fflush(stdout);
        sent++;
        if (interval > 0 && (count == 0 || sent < count)) {
            struct timespec ts = {(time_t)(interval / 1000), (long)(interval % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    close(fd);
    return 0;
}
