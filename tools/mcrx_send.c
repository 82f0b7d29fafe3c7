/*
 * mcrx_send: send a message to a multicast group, once or every interval;
 * or, with --seq / --size / --rate / --burst / --duration, a load generator
 * whose datagrams carry a sequence number and send time (docs/tools.md).
 *
 *   mcrx_send <group> <dst_port> [message] [interval_ms] [interface]
 *             [--interface I | --source S] [--count N] [--duration S] [--ttl N]
 *             [--seq] [--size BYTES] [--rate R] [--burst N] [--pause MS] [--help]
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
#include "stream_stats.h"
#include "tool_common.h"

static const char *name = "mcrx_send";

static void usage(FILE *f) {
    fprintf(f,
            "usage: %s <group> <dst_port> <message> [interval_ms] [interface] [options]\n"
            "       %s <group> <dst_port> --seq [--rate R] [--size N] [--count N] [options]\n"
            "\n"
            "Sends <message> to <group>:<dst_port>; once, or every interval_ms (> 0)\n"
            "until interrupted. With --seq it is a load generator: each datagram starts\n"
            "with a sequence number and its send time, and an end marker carrying the\n"
            "number sent follows the last one (mcrx_recv --stats reads them).\n"
            "\n"
            "  interface           local address to send from (also the outgoing\n"
            "                      interface); for IPv6 also fe80::1%%eth0 or an index\n"
            "  --interface <if>    the same as the interface positional\n"
            "  --source <ip>       the same: the SSM source address to bind and send from\n"
            "  --count <n>         send n datagrams, then exit\n"
            "  --duration <s>      send for s seconds (fractions allowed), then exit\n"
            "  --ttl <n>           TTL / hop limit (default 1)\n"
            "  --seq               sequence number and send time in each datagram, and\n"
            "                      the end marker (3 times, each after 10 ms)\n"
            "  --size <bytes>      payload size (--seq: at least 32, default 64); the\n"
            "                      message, if any, follows the header, padded with zeros\n"
            "  --rate <r>          datagrams per second (1000, 1000pps), or payload bits\n"
            "                      per second with a unit: 64000bps, 500k, 10M, 1G\n"
            "                      (k/M/G are bits per second, powers of 10)\n"
            "  --burst <n>         send n datagrams back to back per burst (default 1)\n"
            "  --pause <ms>        pause after each burst (instead of --rate)\n"
            "  --quiet             no line per datagram\n"
            "  --help              this text\n"
            "\n"
            "Without --count or --duration a load run (--seq, --rate, --burst) goes on\n"
            "until SIGINT or SIGTERM, then sends the end marker. Exit status: 0 done,\n"
            "1 bad arguments or a socket error.\n",
            name, name);
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

/* "1000", "1000pps" (datagrams/s) or "64000bps", "500k", "10M", "1G" with an
 * optional "bit"/"bps" after the unit (payload bits/s). 0 on success. */
static int parse_rate(const char *t, double *value, int *bits) {
    char *end;
    double v, mul = 1;
    if (t == NULL || *t < '0' || *t > '9')
        return -1;
    v = strtod(t, &end);
    *bits = 0;
    if (!strcmp(end, "") || !strcmp(end, "pps")) {
        *bits = 0;
    } else {
        *bits = 1;
        if (*end == 'k' || *end == 'K')
            mul = 1e3, end++;
        else if (*end == 'M')
            mul = 1e6, end++;
        else if (*end == 'G')
            mul = 1e9, end++;
        if (strcmp(end, "") && strcmp(end, "bps") && strcmp(end, "bit") && strcmp(end, "bit/s") &&
            strcmp(end, "b"))
            return -1;
        if (mul == 1 && *end == '\0')
            return -1;
    }
    v *= mul;
    if (!(v > 0) || v > 1e12)
        return -1;
    *value = v;
    return 0;
}

static double mono(void) {
    return mcrx_tool_mono();
}

int main(int argc, char **argv) {
    const char *pos[6];
    const char *iface_text = NULL;
    int npos = 0, i, one = 1, seq = 0, quiet = 0, load, rate_bits = 0;
    unsigned long port, interval = 0, count = 0, ttl = 1, size = 0, burst = 1, pause_ms = 0;
    int have_pause = 0;
    mcrx_sock fd;
    double duration = 0, rate = 0, pps = 0;
    mcrx_ip group, iface;
    int64_t index = MCRX_NO_INTERFACE_INDEX;
    struct sockaddr_storage dst, src;
    size_t dlen, msglen = 0, plen;
    char dtext[MCRX_IP_STRLEN + 16];
    unsigned long sent = 0;
    unsigned long long bytes = 0;
    unsigned char *payload;
    double t_start, t_end;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--seq")) {
            seq = 1;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!strncmp(a, "--", 2)) {
            const char *v;
            unsigned long *slot = NULL, lo = 1, hi = LONG_MAX;
            if (strcmp(a, "--count") && strcmp(a, "--ttl") && strcmp(a, "--size") &&
                strcmp(a, "--burst") && strcmp(a, "--pause") && strcmp(a, "--rate") &&
                strcmp(a, "--duration") && strcmp(a, "--interface") && strcmp(a, "--source"))
                return fail_usage("unexpected argument '%s'", a);
            if (i + 1 >= argc)
                return fail_usage("missing value after %s", a);
            v = argv[++i];
            if (!strcmp(a, "--interface") || !strcmp(a, "--source")) {
                iface_text = v;
                continue;
            }
            if (!strcmp(a, "--rate")) {
                if (parse_rate(v, &rate, &rate_bits) != 0)
                    return fail_usage("invalid --rate '%s' (1000, 1000pps, 64000bps, 500k, 10M)", v);
                continue;
            }
            if (!strcmp(a, "--duration")) {
                if (mcrx_tool_parse_seconds(v, &duration) != 0)
                    return fail_usage("invalid --duration '%s' (seconds, > 0)", v);
                continue;
            }
            if (!strcmp(a, "--count"))
                slot = &count;
            else if (!strcmp(a, "--ttl"))
                slot = &ttl, lo = 0, hi = 255;
            else if (!strcmp(a, "--size"))
                slot = &size, lo = 0, hi = 65507;
            else if (!strcmp(a, "--burst"))
                slot = &burst, hi = 1000000;
            else
                slot = &pause_ms, lo = 0, hi = 86400000UL, have_pause = 1;
            if (mcrx_tool_parse_ulong(v, lo, hi, slot) != 0)
                return fail_usage("invalid value '%s'", v);
            continue;
        }
        if (npos == 5)
            return fail_usage("%s", "invalid arguments");
        pos[npos++] = a;
    }
    load = seq || rate > 0 || burst > 1 || have_pause || duration > 0 || size > 0;
    if (npos < (seq ? 2 : 3))
        return fail_usage("%s", seq ? "missing <group> <dst_port>" : "missing <group> <dst_port> <message>");
    if (mcrx_ip_parse(pos[0], &group) != MCRX_ERROR_NONE)
        return fail_usage("invalid group address '%s'", pos[0]);
    if (!mcrx_ip_is_multicast(&group))
        return fail_usage("group address %s is not multicast", pos[0]);
    if (mcrx_tool_parse_ulong(pos[1], 1, 65535, &port) != 0)
        return fail_usage("invalid dst_port '%s' (1 to 65535)", pos[1]);
    if (npos > 3 && mcrx_tool_parse_ulong(pos[3], 0, 86400000UL, &interval) != 0)
        return fail_usage("invalid interval_ms '%s'", pos[3]);
    if (npos > 4 && iface_text == NULL)
        iface_text = pos[4];
    if (npos > 2)
        msglen = strlen(pos[2]);
    if (have_pause && rate > 0)
        return fail_usage("%s", "--pause and --rate both set the time between bursts: give one");
    if (interval > 0 && (rate > 0 || have_pause))
        return fail_usage("%s", "interval_ms and --rate/--pause both set the pace: give one");
    if (seq && size == 0)
        size = msglen + MCRX_TOOL_SEQ_HEADER_LEN > 64 ? msglen + MCRX_TOOL_SEQ_HEADER_LEN : 64;
    if (seq && size < MCRX_TOOL_SEQ_HEADER_LEN)
        return fail_usage("%s", "--size must be at least 32 with --seq (the header)");
    if (size == 0)
        size = msglen;
    if (size > 65507 || (group.family == MCRX_IP_V6 && size > 65527))
        return fail_usage("%s", "--size larger than a UDP datagram can carry");
    memset(&iface, 0, sizeof iface);
    if (iface_text != NULL) {
        if (mcrx_parse_interface(iface_text, group.family, &iface, &index) != MCRX_ERROR_NONE)
            return fail_usage("%s", mcrx_last_error());
        if (iface.family != MCRX_IP_NONE && iface.family != group.family)
            return fail_usage("interface %s is not of the group's address family", iface_text);
        if (group.family == MCRX_IP_V6 && iface.family == MCRX_IP_V6 &&
            index == MCRX_NO_INTERFACE_INDEX) {
            unsigned idx = mcrx_tool_v6_index_of(&iface);
            if (idx == 0)
                return fail_usage("no local interface has address %s", iface_text);
            index = idx;
        }
    }
    if (interval > 0)
        pps = 1000.0 / (double)interval;
    else if (rate > 0)
        pps = rate_bits ? rate / (8.0 * (double)(size ? size : 1)) : rate;
    if (count == 0 && duration <= 0)
        count = (interval == 0 && !load) ? 1 : 0; /* 0: until interrupted */
    if (!load && interval == 0 && count == 0)
        count = 1;

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
            fprintf(stderr, "%s: bind to %s: %s\n", name, iface_text, mcrx_tool_net_error());
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
                fprintf(stderr, "%s: IP_MULTICAST_IF %s: %s\n", name, iface_text,
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
    plen = size;
    payload = calloc(1, plen > MCRX_TOOL_SEQ_HEADER_LEN ? plen : MCRX_TOOL_SEQ_HEADER_LEN);
    if (payload == NULL) {
        fprintf(stderr, "%s: out of memory\n", name);
        return 1;
    }
    if (msglen > 0) {
        size_t off = seq ? MCRX_TOOL_SEQ_HEADER_LEN : 0;
        if (off < plen)
            memcpy(payload + off, pos[2], msglen < plen - off ? msglen : plen - off);
    }

    mcrx_tool_on_stop(on_signal, 0);

    printf("mcrx-send ready\n  group: %s\n  dst_port: %lu\n  interface: %s\n  interval_ms: %lu\n"
           "  ttl: %lu\n",
           pos[0], port, iface_text ? iface_text : "default", interval, ttl);
    if (load)
        printf("  seq: %s\n  size: %zu\n  rate: %s%.1f datagrams/s\n  burst: %lu\n", seq ? "on" : "off",
               plen, pps > 0 ? "" : "unpaced ", pps, burst);
    putchar('\n');
    fflush(stdout);
    if (load)
        quiet = 1;
    t_start = mono();
    t_end = duration > 0 ? t_start + duration : 0;
    while (!stop && (count == 0 || sent < count) && (t_end == 0 || mono() < t_end)) {
        unsigned long k;
        double next;
        for (k = 0; k < burst && !stop && (count == 0 || sent < count); k++) {
            ssize_t n;
            if (seq)
                mcrx_tool_seq_write(payload, plen, sent, mcrx_tool_realtime_ns(), 0, 0);
            n = sendto(fd, (const void *)payload, plen, 0, (struct sockaddr *)&dst, (socklen_t)dlen);
            if (n < 0) {
                if (mcrx_tool_net_busy())
                    continue; /* the queue is full: retry this datagram */
                fprintf(stderr, "%s: sendto %s: %s\n", name, dtext, mcrx_tool_net_error());
                return 1;
            }
            if (!quiet) {
                printf("sent %zd bytes to %s\n", n, dtext);
                fflush(stdout);
            }
            sent++;
            bytes += (unsigned long long)n;
        }
        if (count != 0 && sent >= count)
            break;
        if (pps > 0)
            next = t_start + (double)sent / pps;
        else if (have_pause)
            next = mono() + (double)pause_ms / 1000.0;
        else
            continue;
        if (t_end != 0 && next > t_end)
            next = t_end;
        mcrx_tool_sleep_until(next);
    }
    if (seq) {
        /* The end marker, three times: a receiver needs one. */
        int r;
        mcrx_tool_seq_write(payload, MCRX_TOOL_SEQ_HEADER_LEN, sent, mcrx_tool_realtime_ns(), 1, sent);
        for (r = 0; r < 3; r++) {
            /* 10 ms before each: a receiver's full buffer drains first */
            mcrx_tool_pause(0.010);
            if (sendto(fd, (const void *)payload, MCRX_TOOL_SEQ_HEADER_LEN, 0, (struct sockaddr *)&dst,
                       (socklen_t)dlen) < 0) {
                fprintf(stderr, "%s: sendto %s (end marker): %s\n", name, dtext,
                        mcrx_tool_net_error());
                return 1;
            }
        }
    }
    if (load) {
        double secs = mono() - t_start;
        printf("sent %lu datagrams, %llu bytes in %.3f s (%.1f datagrams/s, %.1f kbit/s)%s\n", sent,
               bytes, secs, secs > 0 ? (double)sent / secs : 0.0,
               secs > 0 ? (double)bytes * 8 / secs / 1000 : 0.0, seq ? "; end marker sent" : "");
        fflush(stdout);
    }
    free(payload);
    mcrx_tool_sock_close(fd);
    return 0;
}
