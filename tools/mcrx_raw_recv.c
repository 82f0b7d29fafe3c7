/*
 * mcrx_raw_recv: join one group and print each whole IP datagram that
 * arrives (include/mcrx/raw.h). Needs CAP_NET_RAW.
 *
 *   mcrx_raw_recv <group> [source] [interface]
 *                 [--source S] [--interface I] [--count N] [--timeout S] [--json]
 *
 * Exit status: 0 after a signal or --count datagrams, 1 on bad arguments or
 * a library error, 2 after --timeout seconds without a datagram.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mcrx/raw.h>

#include "tool_common.h"

static const char *name = "mcrx_raw_recv";

static void usage(FILE *f) {
    fprintf(f,
            "usage: %s <group> [source] [interface]\n"
            "       %s <group> [--source <ip>] [--interface <if>]\n"
            "\n"
            "Joins <group> (SSM when a source is given) and prints each whole IP datagram\n"
            "that arrives: any protocol, fragments as they are. Needs CAP_NET_RAW.\n"
            "\n"
            "  --source <ip>       SSM source address (232/8, ff3x::/32 groups)\n"
            "  --interface <if>    local interface: an address, or for IPv6 groups\n"
            "                      fe80::1%%7, fe80::1%%eth0 or a bare index like 7\n"
            "  --count <n>         exit 0 after n datagrams\n"
            "  --timeout <s>       exit 2 after s seconds without a datagram\n"
            "  --json              one JSON object per datagram on stdout (banner on stderr)\n"
            "  --help              this text\n"
            "\n"
            "Stops cleanly (leave, close, exit 0) on SIGINT or SIGTERM.\n"
            "Exit status: 0 done, 1 bad arguments or an error, 2 --timeout without data.\n",
            name, name);
}

static int arg_error(const char *fmt, const char *arg) {
    usage(stderr);
    fprintf(stderr, "%s: ", name);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

typedef struct options {
    const char *group, *source, *interface;
    long count;
    double timeout;
    int json;
} options;

/* The receivers' rules, without a port: flags override positionals; the
 * first leftover positional is the source, the second the interface. */
static int parse(int argc, char **argv, options *o) {
    const char *pos[8], *flag_source = NULL, *flag_iface = NULL;
    int npos = 0, i;
    memset(o, 0, sizeof *o);
    o->count = -1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--source") || !strcmp(a, "--interface") || !strcmp(a, "--count") ||
                   !strcmp(a, "--timeout")) {
            if (i + 1 >= argc)
                return arg_error("missing value after %s", a);
            if (!strcmp(a, "--source")) {
                flag_source = argv[++i];
            } else if (!strcmp(a, "--interface")) {
                flag_iface = argv[++i];
            } else if (!strcmp(a, "--count")) {
                unsigned long n;
                if (mcrx_tool_parse_ulong(argv[++i], 1, 1000000000UL, &n) != 0)
                    return arg_error("invalid --count '%s'", argv[i]);
                o->count = (long)n;
            } else if (mcrx_tool_parse_seconds(argv[++i], &o->timeout) != 0) {
                return arg_error("invalid --timeout '%s'", argv[i]);
            }
        } else if (!strncmp(a, "--", 2)) {
            return arg_error("unexpected argument '%s'", a);
        } else if (npos < 8) {
            pos[npos++] = a;
        } else {
            return arg_error("%s", "invalid arguments");
        }
    }
    if (npos < 1)
        return arg_error("%s", "missing <group>");
    if (npos > 3)
        return arg_error("%s", "invalid arguments");
    o->group = pos[0];
    o->source = flag_source != NULL ? flag_source : npos > 1 ? pos[1] : NULL;
    o->interface = flag_iface != NULL ? flag_iface : npos > 2 ? pos[2] : NULL;
    return 0;
}

static void describe_interface(const mcrx_raw_config *cfg, char *buf, size_t len) {
    char ip[MCRX_IP_STRLEN];
    int has_index = cfg->interface_index != MCRX_NO_INTERFACE_INDEX;
    if (cfg->interface.family != MCRX_IP_NONE) {
        mcrx_ip plain = cfg->interface;
        plain.scope_id = 0;
        mcrx_ip_format(&plain, ip, sizeof ip);
        if (has_index)
            snprintf(buf, len, "%s%%%lld", ip, (long long)cfg->interface_index);
        else
            snprintf(buf, len, "%s", ip);
    } else if (has_index) {
        snprintf(buf, len, "%lld", (long long)cfg->interface_index);
    } else {
        snprintf(buf, len, "default");
    }
}

static void print_packet(const mcrx_raw_packet *p, int json) {
    const unsigned char *b = p->buf;
    char src[MCRX_IP_STRLEN], grp[MCRX_IP_STRLEN];
    size_t i, n = p->len < 64 ? p->len : 64;
    mcrx_ip_format(&p->source, src, sizeof src);
    mcrx_ip_format(&p->group, grp, sizeof grp);
    if (json) {
        printf("{\"sub\":%llu,\"len\":%zu,\"wire_len\":%zu,\"truncated\":%s,\"source\":\"%s\","
               "\"group\":\"%s\",\"protocol\":%u,\"ttl\":%u,\"ingress_if\":%u,"
               "\"csum_not_ready\":%s",
               (unsigned long long)p->subscription_id, p->len, p->wire_len,
               (p->flags & MCRX_DATAGRAM_TRUNCATED) ? "true" : "false", src, grp,
               p->ip_protocol, p->ttl, p->ingress_interface_index,
               (p->flags & MCRX_RAW_CSUM_NOT_READY) ? "true" : "false");
        if (p->valid & MCRX_META_TIMESTAMP)
            printf(",\"rx_ns\":%lld", (long long)p->rx_timestamp_ns);
        printf(",\"first_bytes\":\"");
        for (i = 0; i < n; i++)
            printf("%02x", b[i]);
        printf("\"}\n");
    } else {
        printf("received %zu raw bytes source=Some(%s) group=Some(%s) protocol=Some(%u) "
               "ingress_if=Some(%u)\n",
               p->len, src, grp, p->ip_protocol, p->ingress_interface_index);
        printf("  first bytes: [");
        for (i = 0; i < n; i++)
            printf("%s%02x", i ? ", " : "", b[i]);
        printf("]\n");
    }
    fflush(stdout);
}

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
    stop_signal = sig;
}

int main(int argc, char **argv) {
    static unsigned char buf[MCRX_RAW_MAX_DATAGRAM];
    options o;
    mcrx_raw_config cfg;
    mcrx_raw_context *ctx;
    mcrx_raw_packet pkt;
    uint64_t id;
    long received = 0;
    double last;
    int rc = 0;
    struct sigaction sa;
    sigset_t block, empty;
    FILE *info;
    char iface[96], src[MCRX_IP_STRLEN];

    if (parse(argc, argv, &o) != 0)
        return 1;
    info = o.json ? stderr : stdout;
    mcrx_raw_config_init(&cfg);
    if (mcrx_raw_config_parse(&cfg, o.group, o.source, o.interface) != MCRX_ERROR_NONE)
        return arg_error("%s", mcrx_last_error());
    if (!mcrx_ip_is_multicast(&cfg.group))
        return arg_error("group address %s is not multicast", o.group);
    ctx = mcrx_raw_context_new();
    if (ctx == NULL) {
        fprintf(stderr, "%s: %s\n", name, mcrx_last_error());
        return 1;
    }
    if (mcrx_raw_context_add(ctx, &cfg, &id) != 0) {
        fprintf(stderr, "%s: failed to add subscription: %s\n", name,
                mcrx_raw_context_last_error(ctx));
        mcrx_raw_context_free(ctx);
        return 1;
    }
    if (mcrx_raw_context_join_subscription(ctx, id) != 0) {
        fprintf(stderr, "%s: failed to join subscription: %s\n", name,
                mcrx_raw_context_last_error(ctx));
        mcrx_raw_context_free(ctx);
        return 1;
    }

    /* Signals are blocked except while waiting in ppoll, so none is lost
     * between a check and the wait. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    sigemptyset(&empty);

    describe_interface(&cfg, iface, sizeof iface);
    if (cfg.source.family != MCRX_IP_NONE)
        mcrx_ip_format(&cfg.source, src, sizeof src);
    else
        snprintf(src, sizeof src, "any");
    fprintf(info,
            "mcrx-raw-recv ready\n  group: %s\n  source: %s\n  interface: %s\n  sub_id: %llu\n\n"
            "waiting for raw multicast IP datagrams ...\n",
            o.group, src, iface, (unsigned long long)id);
    fflush(info);

    last = mcrx_tool_mono();
    while (!stop_signal && (o.count < 0 || received < o.count)) {
        size_t got = 0;
        struct pollfd pfd;
        struct timespec ts, *tsp = NULL;
        mcrx_raw_packet_init(&pkt, buf, sizeof buf);
        if (mcrx_raw_context_recv(ctx, &pkt, &got) != 0) {
            fprintf(stderr, "%s: receive failed: %s\n", name, mcrx_raw_context_last_error(ctx));
            rc = 1;
            break;
        }
        if (got == 1) {
            print_packet(&pkt, o.json);
            received++;
            last = mcrx_tool_mono();
            continue;
        }
        if (o.timeout > 0) {
            double left = o.timeout - (mcrx_tool_mono() - last);
            if (left <= 0) {
                rc = 2;
                break;
            }
            ts.tv_sec = (time_t)left;
            ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
            tsp = &ts;
        }
        pfd.fd = (int)mcrx_raw_context_fd(ctx);
        pfd.events = POLLIN;
        ppoll(&pfd, 1, tsp, &empty);
    }
    if (stop_signal && !o.json)
        printf("shutting down\n");
    mcrx_raw_context_leave_subscription(ctx, id);
    mcrx_raw_context_free(ctx);
    return rc;
}
