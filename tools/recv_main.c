/*
 * mcrx_recv and mcrx_recv_meta: join one subscription and print what arrives.
 * One program behind two entry points (mcrx_recv.c, mcrx_recv_meta.c).
 *
 *   <prog> <group> <dst_port> [source] [interface]
 *          [--source S] [--interface I] [--count N] [--timeout S] [--json]
 *
 * Exit status: 0 after a signal or --count datagrams, 1 on bad arguments or
 * a library error, 2 after --timeout seconds without a datagram.
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

static void usage(FILE *f, const mcrx_tool_options *o) {
    fprintf(f,
            "usage: %s <group> <dst_port> [source] [interface]\n"
            "       %s <group> <dst_port> [--source <ip>] [--interface <if>]\n"
            "\n"
            "Joins <group> on <dst_port> (SSM when a source is given) and prints each\n"
            "datagram as it arrives%s.\n"
            "\n"
            "  --source <ip>       SSM source address (232/8, ff3x::/32 groups)\n"
            "  --interface <if>    local interface: an address, or for IPv6 groups\n"
            "                      fe80::1%%7, fe80::1%%eth0 or a bare index like 7\n"
            "  --count <n>         exit 0 after n datagrams\n"
            "  --timeout <s>       exit 2 after s seconds without a datagram\n"
            "  --json              one JSON object per datagram on stdout (banner on stderr)\n"
            "  --help              this text\n"
            "\n"
            "Stops cleanly (leave, close, exit 0) on SIGINT or SIGTERM.\n",
            o->name, o->name, o->meta ? ", with its receive metadata" : "");
}

static int arg_error(const mcrx_tool_options *o, const char *fmt, const char *arg) {
    usage(stderr, o);
    fprintf(stderr, "%s: ", o->name);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

/* The Rust tools' argument rules: flags override positionals; the first
 * leftover positional is the source, the second the interface. */
int mcrx_tool_recv_parse(int argc, char **argv, mcrx_tool_options *o) {
    const char *pos[8];
    const char *flag_source = NULL, *flag_iface = NULL;
    int npos = 0, i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, o);
            exit(0);
        }
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (!strncmp(a, "--", 2)) {
            const char **slot = NULL;
            const char *v;
            if (!strcmp(a, "--source"))
                slot = &flag_source;
            else if (!strcmp(a, "--interface"))
                slot = &flag_iface;
            else if (strcmp(a, "--count") && strcmp(a, "--timeout"))
                return arg_error(o, "unexpected argument '%s'", a);
            if (i + 1 >= argc)
                return arg_error(o, "missing value after %s", a);
            v = argv[++i];
            if (slot != NULL) {
                *slot = v;
            } else if (!strcmp(a, "--count")) {
                unsigned long n;
                if (mcrx_tool_parse_ulong(v, 1, LONG_MAX, &n) != 0)
                    return arg_error(o, "invalid --count '%s' (a positive whole number)", v);
                o->count = (long)n;
            } else if (mcrx_tool_parse_seconds(v, &o->timeout) != 0) {
                return arg_error(o, "invalid --timeout '%s' (seconds, > 0)", v);
            }
            continue;
        }
        if (npos == 4)
            return arg_error(o, "%s", "invalid arguments");
        pos[npos++] = a;
    }
    if (npos < 2)
        return arg_error(o, "%s", "missing <group> and <dst_port>");
    o->group = pos[0];
    if (mcrx_tool_parse_ulong(pos[1], 0, 65535, &o->port) != 0)
        return arg_error(o, "invalid dst_port '%s'", pos[1]);
    if (o->port == 0)
        return arg_error(o, "%s", "dst_port must not be 0");
    o->source = npos > 2 ? pos[2] : NULL;
    o->interface = npos > 3 ? pos[3] : NULL;
    if (flag_source != NULL)
        o->source = flag_source;
    if (flag_iface != NULL)
        o->interface = flag_iface;
    return 0;
}

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
    stop_signal = sig;
}

void mcrx_tool_recv_banner(FILE *f, const mcrx_tool_options *o, const mcrx_subscription_config *cfg, uint64_t id) {
    char iface[96];
    mcrx_tool_describe_interface(cfg, iface, sizeof iface);
    fprintf(f, "%s ready\n", o->ready_name);
    fprintf(f, "  group: %s\n", o->group);
    fprintf(f, "  dst_port: %lu\n", o->port);
    fprintf(f, "  source: %s\n", o->source ? o->source : "any");
    fprintf(f, "  interface: %s\n", iface);
    fprintf(f, "  sub_id: %llu\n\n", (unsigned long long)id);
    fprintf(f, "%s\n", o->waiting);
    fflush(f);
}

/* Parses nothing: builds the config from o, adds and joins. On failure
 * prints the error and returns NULL. */
mcrx_context *mcrx_tool_recv_open(const mcrx_tool_options *o, mcrx_subscription_config *cfg,
                                  uint64_t *id) {
    mcrx_context *ctx;
    int st;
    mcrx_error e = mcrx_subscription_config_parse(cfg, o->group, (uint16_t)o->port, o->source,
                                                  o->interface);
    if (e == MCRX_ERROR_INVALID_ADDRESS && strstr(mcrx_last_error(), "group") != NULL) {
        arg_error(o, "invalid group address '%s'", o->group);
        return NULL;
    }
    if (e != MCRX_ERROR_NONE) {
        arg_error(o, "%s", mcrx_last_error());
        return NULL;
    }
    if (!mcrx_ip_is_multicast(&cfg->group)) {
        arg_error(o, "group address %s is not multicast", o->group);
        return NULL;
    }
    /* Every report the output shows: timestamps, TTL and the drop count are
     * in the JSON rows of both receivers. */
    cfg->rx_options |= MCRX_RX_TIMESTAMP | MCRX_RX_TTL | MCRX_RX_DROPS;
    if (o->meta)
        cfg->rx_options |= MCRX_RX_PKTINFO;
    ctx = mcrx_context_new();
    if (ctx == NULL) {
        fprintf(stderr, "%s: %s\n", o->name, mcrx_last_error());
        return NULL;
    }
    st = mcrx_context_add(ctx, cfg, id);
    if (st != MCRX_STATUS_OK && mcrx_context_last_error_code(ctx) == MCRX_ERROR_NOT_SUPPORTED) {
        /* A platform without them (Windows) leaves the receive time and the
         * drop count out; their JSON fields are null. */
        cfg->rx_options &= ~(uint32_t)(MCRX_RX_TIMESTAMP | MCRX_RX_DROPS);
        st = mcrx_context_add(ctx, cfg, id);
    }
    if (st != MCRX_STATUS_OK) {
        fprintf(stderr, "%s: failed to add subscription: %s\n", o->name,
                mcrx_context_last_error(ctx));
        mcrx_context_free(ctx);
        return NULL;
    }
    if (mcrx_context_join_subscription(ctx, *id) != MCRX_STATUS_OK) {
        fprintf(stderr, "%s: failed to join subscription: %s\n", o->name,
                mcrx_context_last_error(ctx));
        mcrx_context_free(ctx);
        return NULL;
    }
    return ctx;
}

void mcrx_tool_recv_options_init(mcrx_tool_options *o, int meta, const char *name) {
    memset(o, 0, sizeof *o);
    o->count = -1;
    o->meta = meta;
    o->name = name;
    o->ready_name = meta ? "mcrx-recv-meta" : "mcrx-recv";
    o->waiting = meta ? "waiting for packets with rich metadata ..." : "waiting for packets ...";
}

int mcrx_tool_recv_main(int argc, char **argv, int meta, const char *name) {
    mcrx_tool_options o;
    mcrx_context *ctx;
    mcrx_subscription_config cfg;
    uint64_t id = 0;
    static unsigned char buf[MCRX_MAX_DATAGRAM];
    mcrx_datagram dg;
    mcrx_metadata md;
    long received = 0;
    double last;
    int rc = 0;
    mcrx_tool_metrics metrics;

    mcrx_tool_recv_options_init(&o, meta, name);
    if (mcrx_tool_recv_parse(argc, argv, &o) != 0)
        return 1;
    ctx = mcrx_tool_recv_open(&o, &cfg, &id);
    if (ctx == NULL)
        return 1;
    if (mcrx_tool_metrics_init(&metrics, &o, &cfg, o.json ? stderr : stdout) != 0) {
        mcrx_context_free(ctx);
        return 1;
    }
    mcrx_tool_metrics_tick(&metrics, ctx, 1); /* the baseline sample */

    /* Stop requests are held back except while waiting, so none is lost
     * between a check and the wait. */
    mcrx_tool_on_stop(on_signal, 1);

    mcrx_tool_recv_banner(o.json ? stderr : stdout, &o, &cfg, id);
    mcrx_datagram_init(&dg, buf, sizeof buf);
    dg.meta = &md;
    last = mcrx_tool_mono();
    while (!stop_signal && (o.count < 0 || received < o.count)) {
        size_t got = 0;
        if (mcrx_context_recv(ctx, &dg, &got) != MCRX_STATUS_OK) {
            fprintf(stderr, "%s: receive failed: %s\n", name, mcrx_context_last_error(ctx));
            rc = 1;
            break;
        }
        mcrx_tool_metrics_tick(&metrics, ctx, 0);
        if (got == 1) {
            mcrx_tool_print(stdout, &dg, &o);
            received++;
            last = mcrx_tool_mono();
            continue;
        }
        {
            char why[512];
            double wait = mcrx_tool_metrics_left(&metrics);
            if (o.timeout > 0) {
                double left = o.timeout - (mcrx_tool_mono() - last);
                if (left <= 0) {
                    fprintf(stderr, "%s: no datagram for %g s, giving up\n", name, o.timeout);
                    rc = 2;
                    break;
                }
                if (wait < 0 || left < wait)
                    wait = left;
            }
            if (mcrx_tool_wait(ctx, wait, why, sizeof why) != 0) {
                fprintf(stderr, "%s: receive failed: %s\n", name, why);
                rc = 1;
                break;
            }
        }
    }
    if (mcrx_context_leave_subscription(ctx, id) != MCRX_STATUS_OK && rc == 0) {
        fprintf(stderr, "%s: failed to leave subscription: %s\n", name,
                mcrx_context_last_error(ctx));
        rc = 1;
    }
    mcrx_tool_metrics_close(&metrics);
    mcrx_context_free(ctx);
    if (stop_signal && !o.json)
        fprintf(stderr, "%s: shutting down after %ld datagrams\n", name, received);
    return rc;
}
