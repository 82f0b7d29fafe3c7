/*
 * mcrx_recv and mcrx_recv_meta: join one subscription and print what arrives.
 * One program behind two entry points (mcrx_recv.c, mcrx_recv_meta.c).
 *
 *   <prog> <group> <dst_port> [source] [interface]
 *          [--source S]... | [--exclude S]... [--interface I] [--count N]
 *          [--timeout S] [--json]
 *          [--stats[=SECONDS]] [--rcvbuf BYTES] [--pcap FILE]
 *
 * Exit status: 0 after a signal, --count datagrams or (--stats) the end
 * marker, 1 on bad arguments or a library or file error, 2 after --timeout
 * seconds without a datagram (with --stats: when none arrived at all).
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
#include "recv_stats.h"
#include "tool_common.h"

static void usage(FILE *f, const mcrx_tool_options *o) {
    fprintf(f,
            "usage: %s <group> <dst_port> [source] [interface]\n"
            "       %s <group> <dst_port> [--source <ip>] [--interface <if>]\n"
            "\n"
            "Joins <group> on <dst_port> (SSM when a source is given) and prints each\n"
            "datagram as it arrives%s.\n"
            "\n"
            "  --source <ip>       SSM source address (232/8, ff3x::/32 groups); repeat it\n"
            "                      for a source filter INCLUDE{ip, ...} (any group)\n"
            "  --exclude <ip>      every source but ip (repeatable): EXCLUDE{ip, ...},\n"
            "                      any-source groups only\n"
            "  --interface <if>    local interface: an address, or for IPv6 groups\n"
            "                      fe80::1%%7, fe80::1%%eth0 or a bare index like 7.\n"
            "                      Repeat it for a set (names, indexes, addresses; a\n"
            "                      membership on each, rejoined when a link returns), or\n"
            "                      give 'all': every interface up and multicast-capable\n"
            "  --count <n>         exit 0 after n datagrams\n"
            "  --timeout <s>       exit 2 after s seconds without a datagram\n"
            "  --json              one JSON object per datagram on stdout (banner on stderr)\n"
            "%s"
            "  --help              this text\n"
            "\n"
            "Stops cleanly (leave, close, exit 0) on SIGINT or SIGTERM.\n"
            "Exit status: 0 done, 1 bad arguments or an error, 2 --timeout without data.\n",
            o->name, o->name, o->meta ? ", with its receive metadata" : "",
            !o->allow_extras ? "" :
            "  --stats[=SECONDS]   statistics per (source, group) stream instead of one line\n"
            "                      per datagram: received, rate, loss from sequence gaps,\n"
            "                      duplicates, reordering, RFC 3550 jitter, one-way delay,\n"
            "                      kernel drops; a line every SECONDS (default 1, 0 = none)\n"
            "                      and a summary at the sender's end marker, --count,\n"
            "                      --timeout or a signal. Reads mcrx_send --seq and iperf 2\n"
            "                      datagrams. With --json: JSON lines (docs/tools.md)\n"
            "  --rcvbuf <bytes>    socket receive buffer to ask for (says when clamped)\n"
            "  --pcap <file>       write what arrives as a pcap file (tshark, Wireshark)\n");
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
    const char *flag_iface = NULL;
    int npos = 0, i, nsource = 0;
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
        if (o->allow_extras && (!strcmp(a, "--stats") || !strncmp(a, "--stats=", 8))) {
            o->stats = 1;
            o->stats_every = 1;
            if (a[7] == '=') {
                char *end;
                o->stats_every = strtod(a + 8, &end);
                if (a[8] == '\0' || *end != '\0' || !(o->stats_every >= 0) || o->stats_every > 1e6)
                    return arg_error(o, "invalid --stats interval '%s' (seconds, 0 = summary only)",
                                     a + 8);
            }
            continue;
        }
        if (o->allow_extras && (!strcmp(a, "--rcvbuf") || !strcmp(a, "--pcap"))) {
            if (i + 1 >= argc)
                return arg_error(o, "missing value after %s", a);
            if (a[2] == 'p') {
                o->pcap = argv[++i];
                continue;
            }
            if (mcrx_tool_parse_ulong(argv[i + 1], 1, 0x7fffffffUL, &o->rcvbuf) != 0)
                return arg_error(o, "invalid --rcvbuf '%s' (bytes, 1 to 2147483647)", argv[i + 1]);
            i++;
            continue;
        }
        if (!strcmp(a, "--source") || !strcmp(a, "--exclude")) {
            int ex = a[2] == 'e';
            if (i + 1 >= argc)
                return arg_error(o, "missing value after %s", a);
            if (o->nlist > 0 && ex != o->exclude)
                return arg_error(o, "%s", "--source and --exclude together (a filter is "
                                          "INCLUDE or EXCLUDE)");
            if (o->nlist == MCRX_TOOL_MAX_SOURCES)
                return arg_error(o, "more than %s sources", "64");
            o->exclude = ex;
            o->list[o->nlist++] = argv[++i];
            nsource += !ex;
            continue;
        }
        if (!strncmp(a, "--", 2)) {
            const char **slot = NULL;
            const char *v;
            if (!strcmp(a, "--interface"))
                slot = &flag_iface;
            else if (strcmp(a, "--count") && strcmp(a, "--timeout"))
                return arg_error(o, "unexpected argument '%s'", a);
            if (slot == &flag_iface && i + 1 < argc) {
                /* Repeatable: every value goes to the set as well. */
                if (!strcmp(argv[i + 1], "all")) {
                    o->if_all = 1;
                } else if (o->nifaces == sizeof o->ifaces / sizeof o->ifaces[0]) {
                    return arg_error(o, "more than 64 --interface values ('%s')", argv[i + 1]);
                } else {
                    o->ifaces[o->nifaces++] = argv[i + 1];
                }
            }
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
    if (nsource == 1) { /* one --source: plain SSM, as before */
        o->source = o->list[0];
        o->nlist = 0;
    } else if (o->nlist > 0) {
        o->source = NULL;
    }
    if (flag_iface != NULL)
        o->interface = flag_iface;
    if (o->if_all || o->nifaces > 1) {
        if (npos > 3)
            return arg_error(o, "a positional interface ('%s') and an interface set exclude each "
                                "other", pos[3]);
        o->interface = NULL; /* a set: cfg.interfaces */
    }
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
    if (o->nlist > 0) {
        int i;
        fprintf(f, "  source: %s{", o->exclude ? "exclude" : "include");
        for (i = 0; i < o->nlist; i++)
            fprintf(f, "%s%s", i ? ", " : "", o->list[i]);
        fprintf(f, "}\n");
    } else {
        fprintf(f, "  source: %s\n", o->source ? o->source : "any");
    }
    fprintf(f, "  interface: %s\n", iface);
    fprintf(f, "  sub_id: %llu\n", (unsigned long long)id);
    if (o->stats)
        fprintf(f, "  stats: %s\n", o->stats_every > 0 ? "intervals and summary" : "summary");
    if (o->pcap != NULL)
        fprintf(f, "  pcap: %s\n", o->pcap);
    fputc('\n', f);
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
    if (o->nlist > 0) {
        /* add copies the list; static so cfg stays whole for the caller */
        static mcrx_ip list[MCRX_TOOL_MAX_SOURCES];
        int i;
        for (i = 0; i < o->nlist; i++)
            if (mcrx_ip_parse(o->list[i], &list[i]) != MCRX_ERROR_NONE) {
                arg_error(o, "invalid source IP address '%s'", o->list[i]);
                return NULL;
            }
        cfg->sources_mode = o->exclude ? MCRX_SOURCES_EXCLUDE : MCRX_SOURCES_INCLUDE;
        cfg->sources = list;
        cfg->nsources = (uint32_t)o->nlist;
    }
    /* Every report the output shows: timestamps, TTL and the drop count are
     * in the JSON rows of both receivers. */
    cfg->rx_options |= MCRX_RX_TIMESTAMP | MCRX_RX_TTL | MCRX_RX_DROPS;
    cfg->rcvbuf_bytes = (uint32_t)o->rcvbuf;
    if (o->if_all || o->nifaces > 1) {
        cfg->interfaces = o->ifaces;
        cfg->ninterfaces = o->nifaces;
        cfg->interface_flags = o->if_all ? MCRX_IFSET_ALL : 0;
    }
    if (o->meta || o->stats)
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

/* The OS's answer to --rcvbuf (compat_*.c says what it means). */
static void report_rcvbuf(FILE *f, const mcrx_tool_options *o, mcrx_context *ctx, uint64_t id) {
    size_t have = 0;
    mcrx_subscription *sub = mcrx_context_get_subscription(ctx, id);
    if (sub == NULL || mcrx_subscription_rcvbuf(sub, &have) != MCRX_STATUS_OK) {
        fprintf(stderr, "%s: could not read the receive buffer size back\n", o->name);
        return;
    }
    mcrx_tool_rcvbuf_report(f, o->name, o->rcvbuf, have);
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
    double last, join_mono;
    int64_t join_ns;
    int rc = 0, ended = 0;
    mcrx_tool_metrics metrics;
    mcrx_tool_stats stats;
    mcrx_tool_pcap pcap;
    FILE *info;

    mcrx_tool_recv_options_init(&o, meta, name);
    o.allow_extras = 1;
    if (mcrx_tool_recv_parse(argc, argv, &o) != 0)
        return 1;
    info = o.json ? stderr : stdout;
    memset(&pcap, 0, sizeof pcap);
    if (o.pcap != NULL && mcrx_tool_pcap_open(&pcap, o.pcap) != 0) {
        fprintf(stderr, "%s: cannot write --pcap %s: %s\n", name, o.pcap, strerror(errno));
        return 1;
    }
    join_ns = mcrx_tool_realtime_ns();
    join_mono = mcrx_tool_mono();
    ctx = mcrx_tool_recv_open(&o, &cfg, &id);
    if (ctx == NULL) {
        mcrx_tool_pcap_close(&pcap);
        return 1;
    }
    if (mcrx_tool_metrics_init(&metrics, &o, &cfg, info) != 0) {
        mcrx_context_free(ctx);
        mcrx_tool_pcap_close(&pcap);
        return 1;
    }
    mcrx_tool_metrics_tick(&metrics, ctx, 1); /* the baseline sample */
    mcrx_tool_stats_init(&stats, stdout, o.json, o.stats ? o.stats_every : 0, join_ns, join_mono);

    /* Stop requests are held back except while waiting, so none is lost
     * between a check and the wait. */
    mcrx_tool_on_stop(on_signal, 1);

    mcrx_tool_recv_banner(info, &o, &cfg, id);
    if (o.rcvbuf)
        report_rcvbuf(info, &o, ctx, id);
    mcrx_datagram_init(&dg, buf, sizeof buf);
    dg.meta = &md;
    last = mcrx_tool_mono();
    while (!stop_signal && !ended && (o.count < 0 || received < o.count)) {
        size_t got = 0;
        if (mcrx_context_recv(ctx, &dg, &got) != MCRX_STATUS_OK) {
            fprintf(stderr, "%s: receive failed: %s\n", name, mcrx_context_last_error(ctx));
            rc = 1;
            break;
        }
        mcrx_tool_metrics_tick(&metrics, ctx, 0);
        if (o.if_all || o.nifaces > 1)
            mcrx_tool_print_interface_events(stderr, ctx, name);
        if (o.stats)
            mcrx_tool_stats_tick(&stats, mcrx_tool_mono());
        if (got == 1) {
            if (o.pcap != NULL && mcrx_tool_pcap_write(&pcap, &dg) != 0) {
                fprintf(stderr, "%s: writing --pcap %s: %s\n", name, o.pcap, strerror(errno));
                rc = 1;
                break;
            }
            if (o.stats) {
                uint64_t before = stats.data_datagrams;
                ended = mcrx_tool_stats_add(&stats, &dg);
                received += (long)(stats.data_datagrams - before);
            } else {
                mcrx_tool_print(stdout, &dg, &o);
                received++;
            }
            last = mcrx_tool_mono();
            continue;
        }
        {
            char why[512];
            double now = mcrx_tool_mono();
            double wait = mcrx_tool_metrics_left(&metrics);
            if (o.stats) {
                double sl = mcrx_tool_stats_left(&stats, now);
                if (sl >= 0 && (wait < 0 || sl < wait))
                    wait = sl;
            }
            if (o.timeout > 0) {
                double left = o.timeout - (now - last);
                if (left <= 0) {
                    if (!o.stats || received == 0) {
                        fprintf(stderr, "%s: no datagram for %g s, giving up\n", name, o.timeout);
                        rc = 2;
                    }
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
    if (o.stats) {
        mcrx_tool_stats_finish(&stats);
        mcrx_tool_stats_free(&stats);
    }
    if (mcrx_context_leave_subscription(ctx, id) != MCRX_STATUS_OK && rc == 0) {
        fprintf(stderr, "%s: failed to leave subscription: %s\n", name,
                mcrx_context_last_error(ctx));
        rc = 1;
    }
    mcrx_tool_metrics_close(&metrics);
    mcrx_context_free(ctx);
    if (o.pcap != NULL) {
        if (mcrx_tool_pcap_close(&pcap) != 0 && rc == 0) {
            fprintf(stderr, "%s: writing --pcap %s: %s\n", name, o.pcap, strerror(errno));
            rc = 1;
        }
        if (!o.json)
            fprintf(stderr, "%s: wrote %llu datagrams to %s\n", name, pcap.written, o.pcap);
    }
    if (stop_signal && !o.json)
        fprintf(stderr, "%s: shutting down after %ld datagrams\n", name, received);
    return rc;
}
